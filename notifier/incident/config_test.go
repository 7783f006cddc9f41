package incident

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestDefaultConfig(t *testing.T) {
	c := DefaultConfig()
	if c.Grouping.Window != 24*time.Hour || len(c.Grouping.By) != 3 || c.AwarenessMargin != time.Hour || len(c.Roles) != 4 {
		t.Errorf("default %+v", c)
	}
}

func TestDecodeConfigErrors(t *testing.T) {
	tests := map[string]string{
		"unknown key":      "roles: {dpo: {to: [closed]}}\nbogus: 1\n",
		"unknown role":     "roles: {boss: {to: [closed]}}\n",
		"unknown state":    "roles: {dpo: {to: [done]}}\n",
		"unknown from":     "roles: {dpo: {from: [x], to: [closed]}}\n",
		"no roles":         "grouping: {window: 1h}\n",
		"bad window":       "grouping: {window: soon}\nroles: {dpo: {to: [closed]}}\n",
		"zero window":      "grouping: {window: 0s}\nroles: {dpo: {to: [closed]}}\n",
		"bad dimension":    "grouping: {by: [actor, ward]}\nroles: {dpo: {to: [closed]}}\n",
		"repeat dimension": "grouping: {by: [actor, actor]}\nroles: {dpo: {to: [closed]}}\n",
		"bad glob":         "grouping: {families: {'[': x}}\nroles: {dpo: {to: [closed]}}\n",
		"empty family":     "grouping: {families: {'a*': ''}}\nroles: {dpo: {to: [closed]}}\n",
		"empty regimes":    "roles: {dpo: {to: [closed]}}\njurisdictions: {hosp: []}\n",
		"bad state":        "roles: {dpo: {to: [closed]}}\nus_states: {hosp: California}\n",
		"lower-case state": "roles: {dpo: {to: [closed]}}\nus_states: {hosp: ca}\n",
		"empty":            "",
		"syntax":           "roles: [\n",
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := DecodeConfig("x.yaml", strings.NewReader(in))
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "x.yaml") {
				t.Errorf("err = %v", err)
			}
		})
	}
	_, err := DecodeConfig("x.yaml", strings.NewReader("roles: {dpo: {to: [closed]}}\nbogus: 1\n"))
	if !strings.Contains(err.Error(), "line 2") || !strings.Contains(err.Error(), "bogus") {
		t.Errorf("unknown key error lacks line and key: %v", err)
	}
	_, err = DecodeConfig("x.yaml", strings.NewReader("grouping:\n  window: 1h\nroles:\n  dpo:\n    to:\n      - closed\n      - done\n"))
	if !strings.Contains(err.Error(), "x.yaml:7: roles.dpo.to[1]") {
		t.Errorf("error lacks key: %v", err)
	}
}

func FuzzDecodeConfig(f *testing.F) {
	f.Add(string(defaultConfig))
	f.Add("roles: {dpo: {to: [closed]}}\njurisdictions: {hosp-sh: [pipl]}\n")
	f.Add("roles: {dpo: {to: [closed]}}\njurisdictions: {clinic-ca: [hipaa]}\nus_states: {clinic-ca: CA}\n")
	f.Add("grouping: {window: 1h, by: [device], families: {'v-*': v}, max_open: 3}\nroles: {system: {from: [detected], to: [triage]}}\n")
	f.Fuzz(func(t *testing.T, in string) {
		c, err := DecodeConfig("f.yaml", strings.NewReader(in))
		if err != nil {
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("error not wrapping ErrConfig: %v", err)
			}
			return
		}
		if c.Grouping.Window <= 0 || c.Grouping.MaxOpen <= 0 || len(c.Roles) == 0 {
			t.Fatalf("accepted invalid config %+v", c)
		}
		for r, p := range c.Roles {
			if !r.Valid() {
				t.Fatalf("role %q", r)
			}
			for _, s := range append(p.From, p.To...) {
				if !s.Valid() {
					t.Fatalf("state %q", s)
				}
			}
		}
		g := NewGrouper(c.Grouping)
		_ = g.Family("vigil-access-001")
	})
}
