package pseudo

import (
	"errors"
	"fmt"
	"github.com/vigil-audit/vigil/internal/config"
	"slices"
	"strings"
)

// Section is the YAML key of the pseudonymiser's configuration section;
// Validate names keys under it ("pseudonymise.allow_raw[1]").
const Section = "pseudonymise"

// Geographic precision limits (see Config.GeoDecimals).
const (
	DefaultGeoDecimals = 2
	MaxGeoDecimals     = 6
)

// Identifier fields of the event schemas, as allow_raw names them. Values in
// these fields are replaced by tokens unless allow_raw lists them.
const (
	FieldSubjectID      = "subject.id"         // access: person namespace
	FieldClientDeviceID = "client.device_id"   // access: device namespace
	FieldAccountID      = "account_id"         // device: person namespace
	FieldDeviceID       = "device_id"          // device: device namespace
	FieldWiFiBSSID      = "network.wifi_bssid" // device: network namespace
)

var identifierFields = []string{FieldSubjectID, FieldClientDeviceID, FieldAccountID, FieldDeviceID, FieldWiFiBSSID}

// Config is the pseudonymiser's configuration: the `pseudonymise:` section
// of Vigil's configuration. Its defaults are in Defaults, the one place
// they are set; a loader fills a Defaults() value from the file, the
// environment and flags.
type Config struct {
	// KeyFile is a file holding the HMAC key, hex or base64, at least 32
	// bytes decoded, readable by its owner only (mode 0600 or 0400). Empty
	// means the key must come from the environment (VIGIL_PSEUDONYMISE_KEY
	// or VIGIL_PSEUDONYMISE_KEY_FILE); see LoadKey.
	KeyFile string `yaml:"key_file"`

	// AllowRaw lists identifier fields an operator explicitly allows to
	// pass raw: subject.id, client.device_id, account_id, device_id,
	// network.wifi_bssid, or attrs.NAME for an identifier attr (see
	// IdentifierAttrs). Anything else is an error, so that a typo cannot
	// silently keep an identifier raw — or silently do nothing. Empty means
	// every identifier field is tokenised.
	AllowRaw []string `yaml:"allow_raw"`

	// IdentifierAttrs adds attrs keys whose values are identifiers, each
	// "name" or "name=namespace" (person, device or network; a bare name
	// takes the namespace of the built-in entry of that name, else person).
	// Names match case-insensitively against the last dot-separated segment
	// of an attrs key. The built-in list (DefaultIdentifierAttrs) always
	// applies; an entry with a built-in name changes its namespace; to keep
	// a built-in key raw, list attrs.NAME in AllowRaw. Empty means the
	// built-in list alone.
	IdentifierAttrs []string `yaml:"identifier_attrs"`

	// TokeniseActor tokenises actor.id (person namespace) too. False, the
	// default, keeps it raw: it is a staff or service identifier, and
	// investigations need to know who did what.
	TokeniseActor bool `yaml:"tokenise_actor"`

	// IPPrefix truncates client.ip and network.ip to their network: /24 for
	// IPv4 (203.0.113.77 → 203.0.113.0) and /48 for IPv6. False, the
	// default, keeps addresses whole, which network-based detection needs.
	IPPrefix bool `yaml:"ip_prefix"`

	// GeoDecimals is how many decimal places of latitude and longitude are
	// kept, 0 to 6 (see the package doc for the precision of each).
	// Defaults sets 2 (about 1.1 km). Zero is a real setting, not "the
	// default": whole degrees, about 111 km, the coarsest — so a Config
	// built without Defaults errs on the side of privacy.
	GeoDecimals int `yaml:"geo_decimals"`
}

// Defaults returns the default configuration: every identifier tokenised,
// actor.id and IP addresses raw, coordinates to 2 decimal places.
func Defaults() Config {
	return Config{GeoDecimals: DefaultGeoDecimals}
}

// defaultAttrs is the built-in list of identifier attrs keys, by
// namespace. Keep DefaultIdentifierAttrs' doc and the package doc in step.
var defaultAttrs = []attrEntry{
	// People: contact details, national and travel documents, accounts.
	{"phone", Person}, {"mobile", Person}, {"mobile_phone", Person}, {"phone_number", Person},
	{"mobile_number", Person}, {"tel", Person}, {"telephone", Person}, {"msisdn", Person},
	{"email", Person}, {"e_mail", Person}, {"email_address", Person},
	{"id_number", Person}, {"id_no", Person}, {"id_card", Person}, {"idcard", Person},
	{"id_card_no", Person}, {"national_id", Person}, {"citizen_id", Person}, {"ssn", Person},
	{"passport", Person}, {"passport_no", Person}, {"passport_number", Person},
	{"real_name", Person}, {"full_name", Person}, {"patient_name", Person},
	{"subject_id", Person}, {"patient_id", Person}, {"user_id", Person}, {"uid", Person},
	{"account_id", Person}, {"member_id", Person}, {"mrn", Person},
	{"openid", Person}, {"unionid", Person}, {"bank_card", Person}, {"bank_card_no", Person},
	{"card_no", Person},
	// Devices: hardware, SIM and advertising identifiers, MAC addresses.
	{"device_id", Device}, {"imei", Device}, {"imei1", Device}, {"imei2", Device},
	{"meid", Device}, {"imsi", Device}, {"iccid", Device}, {"android_id", Device},
	{"idfa", Device}, {"idfv", Device}, {"oaid", Device}, {"gaid", Device}, {"udid", Device},
	{"serial_no", Device}, {"serial_number", Device}, {"device_sn", Device},
	{"mac", Device}, {"mac_address", Device}, {"wifi_mac", Device}, {"bt_mac", Device},
	{"bluetooth_mac", Device},
	// Networks: Wi-Fi access points.
	{"bssid", Network}, {"wifi_bssid", Network}, {"ssid", Network}, {"wifi_ssid", Network},
}

type attrEntry struct {
	name string
	ns   Namespace
}

// DefaultIdentifierAttrs returns the built-in identifier attrs keys, each
// as "name=namespace", in the syntax of Config.IdentifierAttrs:
//
//   - person: phone, mobile, mobile_phone, phone_number, mobile_number,
//     tel, telephone, msisdn, email, e_mail, email_address, id_number,
//     id_no, id_card, idcard, id_card_no, national_id, citizen_id, ssn,
//     passport, passport_no, passport_number, real_name, full_name,
//     patient_name, subject_id, patient_id, user_id, uid, account_id,
//     member_id, mrn, openid, unionid, bank_card, bank_card_no, card_no;
//   - device: device_id, imei, imei1, imei2, meid, imsi, iccid, android_id,
//     idfa, idfv, oaid, gaid, udid, serial_no, serial_number, device_sn,
//     mac, mac_address, wifi_mac, bt_mac, bluetooth_mac;
//   - network: bssid, wifi_bssid, ssid, wifi_ssid.
func DefaultIdentifierAttrs() []string {
	out := make([]string, len(defaultAttrs))
	for i, a := range defaultAttrs {
		out[i] = a.name + "=" + a.ns.String()
	}
	return out
}

// Validate checks the configuration and returns every problem, joined, each
// naming its key: "pseudonymise.allow_raw[1]: …". It does not read the key
// file; LoadKey does.
func (c Config) Validate() error {
	var errs []error
	add := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s.%s: %s", Section, key, fmt.Sprintf(format, args...)))
	}

	attrs, attrProblems := c.attrTable()
	for _, p := range attrProblems {
		add(p.key, "%s", p.reason)
	}

	seen := map[string]int{}
	for i, f := range c.AllowRaw {
		key := fmt.Sprintf("allow_raw[%d]", i)
		if j, dup := seen[f]; dup {
			add(key, "%q repeats allow_raw[%d]", f, j)
			continue
		}
		seen[f] = i
		if reason := checkAllowRaw(f, attrs, c.TokeniseActor); reason != "" {
			add(key, "%s", reason)
		}
	}

	if c.GeoDecimals < 0 || c.GeoDecimals > MaxGeoDecimals {
		add("geo_decimals", "%d is not between 0 and %d (0: whole degrees, ≈111 km; 2: ≈1.1 km; 6: ≈11 cm)", c.GeoDecimals, MaxGeoDecimals)
	}
	if c.KeyFile != "" && strings.TrimSpace(c.KeyFile) == "" {
		add("key_file", "is blank")
	}
	return errors.Join(errs...)
}

func checkAllowRaw(f string, attrs map[string]Namespace, tokeniseActor bool) string {
	if slices.Contains(identifierFields, f) {
		return ""
	}
	if name, ok := strings.CutPrefix(f, "attrs."); ok {
		if _, known := attrs[strings.ToLower(name)]; known {
			return ""
		}
		return fmt.Sprintf("%q is not an identifier attr (built-in or in identifier_attrs); attrs that are not identifiers pass raw already", name)
	}
	if f == "actor.id" {
		if tokeniseActor {
			return `"actor.id" contradicts tokenise_actor: true; set tokenise_actor: false to keep actor.id raw`
		}
		return `"actor.id" is raw already unless tokenise_actor is true; remove it`
	}
	reason := fmt.Sprintf("%q is not an identifier field (one of %s, or attrs.NAME for an identifier attr)", f, strings.Join(identifierFields, ", "))
	if s := closest(f, identifierFields); s != "" {
		reason += "; did you mean " + s + "?"
	}
	return reason
}

type problem struct{ key, reason string }

// attrTable returns the effective identifier attrs: built-in and
// configured names, lower case, to their namespaces. Names in AllowRaw are
// still in the table (the Pseudonymiser removes them).
func (c Config) attrTable() (map[string]Namespace, []problem) {
	table := make(map[string]Namespace, len(defaultAttrs)+len(c.IdentifierAttrs))
	for _, a := range defaultAttrs {
		table[a.name] = a.ns
	}
	var probs []problem
	seen := map[string]int{}
	for i, entry := range c.IdentifierAttrs {
		key := fmt.Sprintf("identifier_attrs[%d]", i)
		name, nsName, hasNS := strings.Cut(entry, "=")
		lname := strings.ToLower(name)
		if !validAttrName(name) {
			probs = append(probs, problem{key, fmt.Sprintf("%q: want NAME or NAME=NAMESPACE, NAME 1-64 bytes of [A-Za-z0-9_:-] (the last segment of an attrs key, without dots)", entry)})
			continue
		}
		if j, dup := seen[lname]; dup {
			probs = append(probs, problem{key, fmt.Sprintf("%q repeats identifier_attrs[%d]", name, j)})
			continue
		}
		seen[lname] = i
		ns, builtin := table[lname]
		if !builtin {
			ns = Person
		}
		if hasNS {
			var ok bool
			if ns, ok = parseNamespace(nsName); !ok {
				probs = append(probs, problem{key, fmt.Sprintf("namespace %q is not one of person|device|network", nsName)})
				continue
			}
		}
		table[lname] = ns
	}
	return table, probs
}

func validAttrName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(isAlnum(c) || c == '_' || c == ':' || c == '-') {
			return false
		}
	}
	return true
}

// closest returns the entry of list nearest to s by edit distance, if it is
// near enough to be a typo.
func closest(s string, list []string) string { return config.Closest(s, list, 3) }
