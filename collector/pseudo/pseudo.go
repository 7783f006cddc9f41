package pseudo

import (
	"fmt"
	"log/slog"
	"math"
	"net/netip"
	"strings"

	"github.com/vigil-audit/vigil/internal/event"
)

// MinKeyLen is the shortest HMAC key accepted, in bytes.
const MinKeyLen = 32

// Pseudonymiser replaces identifiers in events with tokens, coarsens
// locations and, if configured, truncates IP addresses. It is safe for
// concurrent use. Printing or logging it shows the key's ID only.
type Pseudonymiser struct {
	tok   *tokenizer
	keyID string

	// attrs maps lower-case identifier attr names to their namespace,
	// without those in allow_raw.
	attrs map[string]Namespace

	rawSubject, rawClientDevice, rawAccount, rawDevice, rawBSSID bool

	tokeniseActor bool
	ipPrefix      bool

	decimals int
	scale    float64 // 10^decimals
	minAccM  float64 // accuracy_m after coarsening is at least this
}

// New returns a Pseudonymiser with key, which must be at least MinKeyLen
// bytes, and cfg, which must pass Validate. New copies the key.
func New(key []byte, cfg Config) (*Pseudonymiser, error) {
	if len(key) < MinKeyLen {
		return nil, fmt.Errorf("pseudonymisation key is %d bytes; need at least %d", len(key), MinKeyLen)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	attrs, _ := cfg.attrTable()
	p := &Pseudonymiser{
		tok:           newTokenizer(key),
		keyID:         KeyID(key),
		attrs:         attrs,
		tokeniseActor: cfg.TokeniseActor,
		ipPrefix:      cfg.IPPrefix,
		decimals:      cfg.GeoDecimals,
		scale:         math.Pow10(cfg.GeoDecimals),
		minAccM:       coarseningErrorM[cfg.GeoDecimals],
	}
	for _, f := range cfg.AllowRaw {
		switch f {
		case FieldSubjectID:
			p.rawSubject = true
		case FieldClientDeviceID:
			p.rawClientDevice = true
		case FieldAccountID:
			p.rawAccount = true
		case FieldDeviceID:
			p.rawDevice = true
		case FieldWiFiBSSID:
			p.rawBSSID = true
		default:
			delete(p.attrs, strings.ToLower(strings.TrimPrefix(f, "attrs.")))
		}
	}
	return p, nil
}

// coarseningErrorM is, by decimal places kept, the largest distance in
// metres between a point and its rounded coordinates: half the diagonal of
// a grid cell at the equator, 0.5·√2·10^-d·111 320 m, rounded up.
var coarseningErrorM = [MaxGeoDecimals + 1]float64{78716, 7872, 788, 79, 7.9, 0.79, 0.08}

// KeyID returns the ID of the Pseudonymiser's key (see KeyID).
func (p *Pseudonymiser) KeyID() string { return p.keyID }

// String shows the key's ID, never the key.
func (p *Pseudonymiser) String() string { return "pseudo.Pseudonymiser{key_id=" + p.keyID + "}" }

// GoString keeps %#v free of key material too.
func (p *Pseudonymiser) GoString() string { return p.String() }

// LogValue implements slog.LogValuer: the key's ID, never the key.
func (p *Pseudonymiser) LogValue() slog.Value {
	return slog.GroupValue(slog.String("key_id", p.keyID))
}

// Token returns the token of value in namespace ns: the prefix of ns and
// the first 20 bytes of HMAC-SHA256(key, namespace name || 0x00 || value)
// in lowercase unpadded base32. The value is normalised first (MAC
// addresses, mobile numbers, ID numbers and e-mail addresses; see the
// package doc). An empty value gives "", and a value that already has the
// shape of a token of ns is returned unchanged, so Token never hashes
// twice. Token panics if ns is not one of Namespaces.
func (p *Pseudonymiser) Token(ns Namespace, value string) string {
	if !ns.valid() {
		panic("pseudo: Token with invalid namespace " + fmt.Sprint(uint8(ns)))
	}
	return p.tok.token(ns, value)
}

// Access pseudonymises an access event in place: subject.id (person),
// client.device_id (device), actor.id (person, only with tokenise_actor),
// identifier attrs, client.geo coordinates and, with ip_prefix, client.ip.
// Fields in allow_raw and empty fields are left as they are. Applying it
// twice gives the same event as applying it once.
func (p *Pseudonymiser) Access(e *event.AccessEvent) {
	if p.tokeniseActor {
		e.Actor.ID = p.tok.token(Person, e.Actor.ID)
	}
	if !p.rawSubject {
		e.Subject.ID = p.tok.token(Person, e.Subject.ID)
	}
	c := &e.Client
	if !p.rawClientDevice {
		c.DeviceID = p.tok.token(Device, c.DeviceID)
	}
	if p.ipPrefix {
		c.IP = truncateIP(c.IP)
	}
	if c.Geo.Lat != nil {
		*c.Geo.Lat = p.round(*c.Geo.Lat)
	}
	if c.Geo.Lon != nil {
		*c.Geo.Lon = p.round(*c.Geo.Lon)
	}
	p.attrMap(e.Attrs)
}

// Device pseudonymises a device event in place: account_id (person),
// device_id (device), network.wifi_bssid (network), identifier attrs,
// location (coordinates rounded, accuracy_m raised to at least the
// rounding error) and, with ip_prefix, network.ip. Fields in allow_raw and
// empty fields are left as they are. Applying it twice gives the same event
// as applying it once.
func (p *Pseudonymiser) Device(e *event.DeviceEvent) {
	if !p.rawAccount {
		e.AccountID = p.tok.token(Person, e.AccountID)
	}
	if !p.rawDevice {
		e.DeviceID = p.tok.token(Device, e.DeviceID)
	}
	n := &e.Network
	if !p.rawBSSID {
		n.WiFiBSSID = p.tok.token(Network, n.WiFiBSSID)
	}
	if p.ipPrefix {
		n.IP = truncateIP(n.IP)
	}
	if l := e.Location; l != nil {
		l.Lat = p.round(l.Lat)
		l.Lon = p.round(l.Lon)
		if l.AccuracyM < p.minAccM {
			l.AccuracyM = p.minAccM
		}
	}
	p.attrMap(e.Attrs)
}

// attrMap tokenises the values of identifier attrs.
func (p *Pseudonymiser) attrMap(m map[string]string) {
	for k, v := range m {
		if ns, ok := p.attrNamespace(k); ok && v != "" {
			if t := p.tok.token(ns, v); t != v {
				m[k] = t
			}
		}
	}
}

// attrNamespace returns the namespace of an attrs key whose last
// dot-separated segment, in any case, is an identifier attr.
func (p *Pseudonymiser) attrNamespace(key string) (Namespace, bool) {
	seg := key
	if i := strings.LastIndexByte(key, '.'); i >= 0 {
		seg = key[i+1:]
	}
	if len(seg) == 0 || len(seg) > 64 {
		return 0, false
	}
	var buf [64]byte
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	ns, ok := p.attrs[string(buf[:len(seg)])]
	return ns, ok
}

// round rounds a coordinate to the configured decimal places. It never
// returns negative zero, so a coordinate rounded to 0 prints as 0.
func (p *Pseudonymiser) round(x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return x
	}
	r := math.Round(x*p.scale) / p.scale
	if r == 0 {
		return 0
	}
	return r
}

// truncateIP returns the /24 (IPv4, including IPv4-mapped IPv6) or /48
// (IPv6) network address of s. A value that is not an IP address is
// returned unchanged (events are validated before they are
// pseudonymised).
func truncateIP(s string) string {
	if s == "" {
		return s
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return s
	}
	a = a.WithZone("").Unmap()
	bits := 48
	if a.Is4() {
		bits = 24
	}
	pfx, err := a.Prefix(bits)
	if err != nil {
		return s
	}
	if out := pfx.Addr().String(); out != s {
		return out
	}
	return s
}
