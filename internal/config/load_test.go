package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

type testSASL struct {
	Mechanism string `yaml:"mechanism"`
	Username  string `yaml:"username"`
	Password  string `yaml:"password"`
}

type testBus struct {
	Brokers    []string       `yaml:"brokers"`
	Partitions map[string]int `yaml:"partitions"`
	SASL       testSASL       `yaml:"sasl"`
	Compress   bool           `yaml:"compress"`
}

func (b testBus) Validate() []Problem {
	if len(b.Brokers) == 0 {
		return []Problem{{Key: "brokers", Reason: "required"}}
	}
	return nil
}

type testHTTP struct {
	Listen      string        `yaml:"listen"`
	ReadTimeout time.Duration `yaml:"read_timeout"`
}

func (h testHTTP) Validate() []Problem {
	if h.Listen == "" {
		return []Problem{{Key: "listen", Reason: "required"}}
	}
	return nil
}

type testConfig struct {
	Name    string   `yaml:"name"`
	HTTP    testHTTP `yaml:"http"`
	Bus     testBus  `yaml:"bus"`
	Ratio   float64  `yaml:"ratio"`
	Workers int      `yaml:"workers"`
	hidden  int      //lint:ignore U1000 unexported fields must be ignored by the loader
}

func (c *testConfig) Validate() []Problem {
	if c.Workers < 0 {
		return []Problem{{Key: "workers", Reason: "must be ≥ 0"}}
	}
	return nil
}

func defaults() testConfig {
	return testConfig{
		Name:  "vigil",
		HTTP:  testHTTP{Listen: "127.0.0.1:8080", ReadTimeout: 5 * time.Second},
		Bus:   testBus{Brokers: []string{"127.0.0.1:9092"}},
		Ratio: 1,
	}
}

func loadAndValidate(t *testing.T, src Source) (testConfig, []string, error) {
	t.Helper()
	c := defaults()
	warn, err := Load(&c, src)
	if err == nil {
		err = Validate(&c)
	}
	return c, warn, err
}

func TestLoadGood(t *testing.T) {
	c, _, err := loadAndValidate(t, Source{File: "testdata/full.good.yml"})
	if err != nil {
		t.Fatal(err)
	}
	want := testConfig{
		Name: "edge-1",
		HTTP: testHTTP{Listen: "127.0.0.1:9999", ReadTimeout: 2 * time.Second},
		Bus: testBus{
			Brokers:    []string{"127.0.0.1:19092", "127.0.0.1:29092"},
			Partitions: map[string]int{"vigil.access.v1": 12},
			SASL:       testSASL{Mechanism: "SCRAM-SHA-512", Username: "vigil"},
			Compress:   true,
		},
		Ratio:   0.5,
		Workers: 16,
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got  %+v\nwant %+v", c, want)
	}

	c, _, err = loadAndValidate(t, Source{File: "testdata/empty.good.yml"})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, defaults()) {
		t.Errorf("empty file changed defaults: %+v", c)
	}
}

func TestLoadBad(t *testing.T) {
	tests := []struct {
		file string
		want []string
	}{
		{"unknown_key.bad.yml", []string{`testdata/unknown_key.bad.yml:3: http.lisen: unknown key (did you mean "listen"?)`}},
		{"unknown_top.bad.yml", []string{`testdata/unknown_top.bad.yml:1: colector: unknown key (known keys: bus, http, name, ratio, workers)`}},
		{"wrong_type_int.bad.yml", []string{`testdata/wrong_type_int.bad.yml:1: workers: wrong type: want an integer, got "many"`}},
		{"wrong_type_list.bad.yml", []string{`testdata/wrong_type_list.bad.yml:2: bus.brokers: wrong type: want a list, got "127.0.0.1:19092"`}},
		{"wrong_type_mapping.bad.yml", []string{`testdata/wrong_type_mapping.bad.yml:1: http: wrong type: want a mapping, got "127.0.0.1:8080"`}},
		{"wrong_type_scalar.bad.yml", []string{`testdata/wrong_type_scalar.bad.yml:2: name: wrong type: want a string, got a mapping`}},
		{"bad_duration.bad.yml", []string{`testdata/bad_duration.bad.yml:2: http.read_timeout: wrong type: want a duration such as 500ms, 30s or 2h, got "10 seconds"`}},
		{"bad_bool.bad.yml", []string{`testdata/bad_bool.bad.yml:2: bus.compress: wrong type: want true or false, got "sometimes"`}},
		{"bad_map_value.bad.yml", []string{`testdata/bad_map_value.bad.yml:3: bus.partitions.vigil.access.v1: wrong type: want an integer, got "twelve"`}},
		{"duplicate_key.bad.yml", []string{`testdata/duplicate_key.bad.yml:2: name: duplicate key`}},
		{"not_yaml.bad.yml", []string{`testdata/not_yaml.bad.yml: not valid YAML: line 1: did not find expected ',' or ']'`}},
		{"two_docs.bad.yml", []string{`testdata/two_docs.bad.yml:2: more than one YAML document; put the whole configuration in one`}},
		{"many.bad.yml", []string{
			`testdata/many.bad.yml:2: ratio: wrong type: want a number, got "high"`,
			`testdata/many.bad.yml:5: http.extra: unknown key (known keys: listen, read_timeout)`,
		}},
		{"missing.yml", []string{`testdata/missing.yml: cannot read config file: no such file or directory`}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			_, _, err := loadAndValidate(t, Source{File: filepath.Join("testdata", tt.file)})
			assertProblems(t, err, tt.want)
		})
	}
}

func TestValidateRequired(t *testing.T) {
	_, _, err := loadAndValidate(t, Source{File: "testdata/required.bad.yml"})
	assertProblems(t, err, []string{"http.listen: required", "bus.brokers: required"})

	c := defaults()
	c.Workers = -1
	assertProblems(t, Validate(&c), []string{"workers: must be ≥ 0"})
}

func assertProblems(t *testing.T, err error, want []string) {
	t.Helper()
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("want *config.Error, got %v", err)
	}
	got := make([]string, len(ce.Problems))
	for i, p := range ce.Problems {
		got[i] = p.String()
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("problems:\n got  %q\n want %q", got, want)
	}
}

func TestLayersOverride(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "vigil.yml")
	if err := os.WriteFile(file, []byte("name: from-file\nhttp:\n  listen: 127.0.0.1:1111\nworkers: 3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(dir, "pw")
	if err := os.WriteFile(secret, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{
		"VIGIL_HTTP_LISTEN=127.0.0.1:2222",
		"VIGIL_WORKERS=4",
		"VIGIL_BUS_BROKERS=a:1, b:2",
		"VIGIL_BUS_PARTITIONS=vigil.access.v1=6,vigil.device.v1=3",
		"VIGIL_BUS_SASL_PASSWORD_FILE=" + secret,
		"VIGIL_TEST_KAFKA=ignored",
		"VIGIL_CONFIG=" + file,
		"VIGIL_HTTP_LISTNE=typo",
		"PATH=/bin",
	}
	c := defaults()
	warn, err := Load(&c, Source{
		File:      file,
		Env:       env,
		Flags:     map[string]string{"http.listen": "127.0.0.1:3333"},
		FlagNames: map[string]string{"http.listen": "listen"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "from-file" || c.HTTP.Listen != "127.0.0.1:3333" || c.Workers != 4 {
		t.Errorf("layering wrong: %+v", c)
	}
	if !reflect.DeepEqual(c.Bus.Brokers, []string{"a:1", "b:2"}) {
		t.Errorf("brokers from env: %q", c.Bus.Brokers)
	}
	if !reflect.DeepEqual(c.Bus.Partitions, map[string]int{"vigil.access.v1": 6, "vigil.device.v1": 3}) {
		t.Errorf("partitions from env: %v", c.Bus.Partitions)
	}
	if c.Bus.SASL.Password != "s3cret" {
		t.Errorf("password from _FILE: %q", c.Bus.SASL.Password)
	}
	if want := []string{"environment variable VIGIL_HTTP_LISTNE names no configuration key; ignored"}; !reflect.DeepEqual(warn, want) {
		t.Errorf("warnings %q, want %q", warn, want)
	}
}

func TestEnvAndFlagErrors(t *testing.T) {
	c := defaults()
	_, err := Load(&c, Source{
		Env: []string{
			"VIGIL_WORKERS=lots",
			"VIGIL_BUS_SASL_PASSWORD=x",
			"VIGIL_BUS_SASL_PASSWORD_FILE=/nonexistent/pw",
			"VIGIL_HTTP_READ_TIMEOUT=5",
		},
		Flags:     map[string]string{"http.nope": "1", "bus.compress": "maybe", "http": "x"},
		FlagNames: map[string]string{"bus.compress": "compress"},
	})
	assertProblems(t, err, []string{
		"env VIGIL_BUS_SASL_PASSWORD_FILE: bus.sasl.password: both VIGIL_BUS_SASL_PASSWORD and VIGIL_BUS_SASL_PASSWORD_FILE are set; set one",
		`env VIGIL_HTTP_READ_TIMEOUT: http.read_timeout: wrong type: want a duration such as 500ms, 30s or 2h, got "5"`,
		`env VIGIL_WORKERS: workers: wrong type: want an integer, got "lots"`,
		`flag --compress: bus.compress: wrong type: want true or false, got "maybe"`,
		"flag: http: is a section, not a value",
		"flag: http.nope: unknown key",
	})
}

func TestLeaves(t *testing.T) {
	var keys []string
	for _, l := range Leaves(testConfig{}) {
		keys = append(keys, l.Key+"="+l.Env)
	}
	want := "name=VIGIL_NAME http.listen=VIGIL_HTTP_LISTEN http.read_timeout=VIGIL_HTTP_READ_TIMEOUT " +
		"bus.brokers=VIGIL_BUS_BROKERS bus.partitions=VIGIL_BUS_PARTITIONS bus.sasl.mechanism=VIGIL_BUS_SASL_MECHANISM " +
		"bus.sasl.username=VIGIL_BUS_SASL_USERNAME bus.sasl.password=VIGIL_BUS_SASL_PASSWORD bus.compress=VIGIL_BUS_COMPRESS " +
		"ratio=VIGIL_RATIO workers=VIGIL_WORKERS"
	if got := strings.Join(keys, " "); got != want {
		t.Errorf("leaves:\n got  %s\n want %s", got, want)
	}
}

func TestOversizedFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "big.yml")
	if err := os.WriteFile(file, make([]byte, MaxFileBytes+1), 0o600); err != nil {
		t.Fatal(err)
	}
	c := defaults()
	_, err := Load(&c, Source{File: file})
	assertProblems(t, err, []string{file + ": file is larger than 4194304 bytes"})
}

func FuzzLoadYAML(f *testing.F) {
	for _, name := range []string{"full.good.yml", "many.bad.yml", "bad_map_value.bad.yml", "two_docs.bad.yml"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c := defaults()
		probs := loadYAML(reflect.ValueOf(&c).Elem(), "fuzz.yml", data)
		for _, p := range probs {
			if p.Reason == "" {
				t.Fatalf("problem without a reason: %+v", p)
			}
		}
	})
}

type inner struct {
	Paths []string `yaml:"paths"`
	Kind  string   `yaml:"kind"`
}

func (i inner) Validate() []Problem {
	if i.Kind == "" {
		return []Problem{{Key: "kind", Reason: "required"}}
	}
	return nil
}

type fileEntry struct {
	Source string `yaml:"source"`
	Tail   inner  `yaml:",inline"`
}

type withList struct {
	Files []fileEntry `yaml:"files"`
}

func TestAliasesRefused(t *testing.T) {
	file := filepath.Join(t.TempDir(), "bomb.yml")
	bomb := "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nname: *c\n"
	if err := os.WriteFile(file, []byte(bomb), 0o600); err != nil {
		t.Fatal(err)
	}
	c := defaults()
	_, err := Load(&c, Source{File: file})
	if err == nil || !strings.Contains(err.Error(), "name: YAML aliases (*c) are not supported") {
		t.Errorf("alias bomb: %v", err)
	}
}

func TestInlineAndListValidation(t *testing.T) {
	file := filepath.Join(t.TempDir(), "f.yml")
	if err := os.WriteFile(file, []byte("files:\n  - source: ehr\n    paths: [/a/*.log]\n    kind: access\n  - source: x\n    pahts: [b]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var c withList
	_, err := Load(&c, Source{File: file})
	assertProblems(t, err, []string{file + `:6: files[1].pahts: unknown key (did you mean "paths"?)`})
	if len(c.Files) != 2 || c.Files[0].Source != "ehr" || c.Files[0].Tail.Kind != "access" || c.Files[0].Tail.Paths[0] != "/a/*.log" {
		t.Errorf("decoded %+v", c)
	}
	assertProblems(t, Validate(&c), []string{"files[1].kind: required"})
	if got := Leaves(withList{}); len(got) != 1 || got[0].Key != "files" {
		t.Errorf("leaves %+v", got)
	}
}
