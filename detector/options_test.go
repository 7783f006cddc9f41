package detector

import (
	"bytes"
	"os"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

func TestOptionsYAML(t *testing.T) {
	b, err := os.ReadFile("testdata/config/options.good.yml")
	if err != nil {
		t.Fatal(err)
	}
	var o Options
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&o); err != nil {
		t.Fatal(err)
	}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	if o.Lateness != 2*time.Minute || o.Suppression["vigil-corr-login-bruteforce"] != 10*time.Minute ||
		len(o.Exceptions) != 1 || !o.Exceptions[0].Expires.Equal(time.Date(2027, 6, 30, 0, 0, 0, 0, time.UTC)) ||
		o.Exceptions[0].Fields["actor.department"][0] != "internal-audit" {
		t.Errorf("decoded %+v", o)
	}
	d := (Options{}).withDefaults()
	if d.Lateness != DefaultLateness || d.DefaultSuppression != DefaultSuppression || d.MaxGroups != DefaultMaxGroups {
		t.Errorf("defaults %+v", d)
	}
	if (Options{Lateness: -1}).withDefaults().Lateness != 0 {
		t.Error("negative lateness is not none")
	}
}
