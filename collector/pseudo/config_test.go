package pseudo_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/vigil-audit/vigil/collector/pseudo"
	"github.com/vigil-audit/vigil/internal/config"
)

// appConfig stands for the binary's configuration, with the section as
// the binary is expected to embed it.
type appConfig struct {
	Pseudonymise pseudo.Config `yaml:"pseudonymise"`
}

// load reads a file and the environment as the binary does: defaults
// first, then config.Load, then Validate.
func load(t *testing.T, file string, env []string) (pseudo.Config, error) {
	t.Helper()
	c := appConfig{Pseudonymise: pseudo.Defaults()}
	src := config.Source{Env: env, Reserved: []string{pseudo.EnvKey}}
	if file != "" {
		src.File = "testdata/" + file
	}
	warnings, err := config.Load(&c, src)
	if len(warnings) > 0 {
		t.Errorf("warnings: %v", warnings)
	}
	if err != nil {
		return c.Pseudonymise, err
	}
	return c.Pseudonymise, c.Pseudonymise.Validate()
}

func TestConfigGood(t *testing.T) {
	tests := []struct {
		file string
		env  []string
		want pseudo.Config
	}{
		{"full.good.yml", nil, pseudo.Config{
			KeyFile:         "/etc/vigil/pseudonymise.key",
			AllowRaw:        []string{"client.device_id", "attrs.imei"},
			IdentifierAttrs: []string{"member_no", "router=network"},
			TokeniseActor:   true, IPPrefix: true, GeoDecimals: 3,
		}},
		{"empty.good.yml", nil, pseudo.Config{GeoDecimals: 2}},
		{"", nil, pseudo.Config{GeoDecimals: 2}},
		{"zero_decimals.good.yml", nil, pseudo.Config{GeoDecimals: 0}},
		{"", []string{
			"VIGIL_PSEUDONYMISE_GEO_DECIMALS=0",
			"VIGIL_PSEUDONYMISE_ALLOW_RAW=subject.id,device_id",
			"VIGIL_PSEUDONYMISE_KEY_FILE=/run/secrets/key",
			"VIGIL_PSEUDONYMISE_KEY=00", // reserved: read by LoadKey only
		}, pseudo.Config{GeoDecimals: 0, AllowRaw: []string{"subject.id", "device_id"}, KeyFile: "/run/secrets/key"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := load(t, tt.file, tt.env)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestConfigBad(t *testing.T) {
	tests := []struct {
		file string
		want []string
	}{
		{"allow_raw_typo.bad.yml", []string{
			`pseudonymise.allow_raw[1]: "client.devce_id" is not an identifier field (one of subject.id, client.device_id, account_id, device_id, network.wifi_bssid, or attrs.NAME for an identifier attr); did you mean client.device_id?`,
			`pseudonymise.allow_raw[2]: "ward" is not an identifier attr`,
			`pseudonymise.allow_raw[3]: "subject.id" repeats allow_raw[0]`,
		}},
		{"actor.bad.yml", []string{`pseudonymise.allow_raw[0]: "actor.id" contradicts tokenise_actor: true`}},
		{"geo_decimals.bad.yml", []string{`pseudonymise.geo_decimals: 7 is not between 0 and 6`}},
		{"identifier_attrs.bad.yml", []string{
			`pseudonymise.identifier_attrs[0]: "phone.number": want NAME or NAME=NAMESPACE`,
			`pseudonymise.identifier_attrs[1]: namespace "place" is not one of person|device|network`,
			`pseudonymise.identifier_attrs[3]: "MEMBER_NO" repeats identifier_attrs[2]`,
		}},
		{"unknown_key.bad.yml", []string{`pseudonymise.tokenize_actor: unknown key (did you mean "tokenise_actor"?)`}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			_, err := load(t, tt.file, nil)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if n := strings.Count(err.Error(), "pseudonymise."); n != len(tt.want) {
				t.Errorf("%d problems, want %d:\n%v", n, len(tt.want), err)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  pseudo.Config
		want string // "" for valid
	}{
		{"zero", pseudo.Config{}, ""},
		{"defaults", pseudo.Defaults(), ""},
		{"every field allowed", pseudo.Config{AllowRaw: []string{"subject.id", "client.device_id", "account_id", "device_id", "network.wifi_bssid"}}, ""},
		{"built-in attr", pseudo.Config{AllowRaw: []string{"attrs.IMEI"}}, ""},
		{"configured attr", pseudo.Config{IdentifierAttrs: []string{"member_no"}, AllowRaw: []string{"attrs.member_no"}}, ""},
		{"actor.id raw already", pseudo.Config{AllowRaw: []string{"actor.id"}}, `pseudonymise.allow_raw[0]: "actor.id" is raw already unless tokenise_actor is true`},
		{"not an identifier", pseudo.Config{AllowRaw: []string{"client.ip"}}, `pseudonymise.allow_raw[0]: "client.ip" is not an identifier field`},
		{"typo", pseudo.Config{AllowRaw: []string{"acount_id"}}, `did you mean account_id?`},
		{"far from anything", pseudo.Config{AllowRaw: []string{"location"}}, `"location" is not an identifier field (one of subject.id, client.device_id, account_id, device_id, network.wifi_bssid, or attrs.NAME for an identifier attr)`},
		{"negative decimals", pseudo.Config{GeoDecimals: -1}, `pseudonymise.geo_decimals: -1 is not between 0 and 6`},
		{"empty attr name", pseudo.Config{IdentifierAttrs: []string{"=device"}}, `pseudonymise.identifier_attrs[0]: "=device": want NAME`},
		{"long attr name", pseudo.Config{IdentifierAttrs: []string{strings.Repeat("a", 65)}}, `pseudonymise.identifier_attrs[0]`},
		{"blank key file", pseudo.Config{KeyFile: " "}, `pseudonymise.key_file: is blank`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
	if len(strings.Split(pseudo.Config{GeoDecimals: 9, AllowRaw: []string{"x", "y"}}.Validate().Error(), "\n")) != 3 {
		t.Error("Validate does not report every problem")
	}
}

func TestDefaultIdentifierAttrs(t *testing.T) {
	got := pseudo.DefaultIdentifierAttrs()
	for _, want := range []string{"phone=person", "mobile=person", "id_number=person", "id_card=person",
		"passport=person", "email=person", "imei=device", "imsi=device", "android_id=device", "idfa=device",
		"oaid=device", "mac=device", "wifi_mac=device", "bssid=network"} {
		found := false
		for _, g := range got {
			found = found || g == want
		}
		if !found {
			t.Errorf("DefaultIdentifierAttrs lacks %s", want)
		}
	}
	// Every built-in name is accepted as configured, bare and with its
	// namespace, and as allow_raw.
	var names, allow []string
	for _, g := range got {
		n, _, _ := strings.Cut(g, "=")
		names = append(names, n)
		allow = append(allow, "attrs."+n)
	}
	if err := (pseudo.Config{IdentifierAttrs: got, AllowRaw: allow}).Validate(); err != nil {
		t.Error(err)
	}
	if err := (pseudo.Config{IdentifierAttrs: names}).Validate(); err != nil {
		t.Error(err)
	}
}
