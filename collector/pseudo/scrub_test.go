package pseudo_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/vigil-audit/vigil/collector/pseudo"
)

// assertNoRaw fails if any raw identifier is in out, compared without case
// and, when out is JSON, also in its decoded strings.
func assertNoRaw(t *testing.T, out []byte, raws []string) {
	t.Helper()
	texts := []string{strings.ToLower(string(out))}
	var v any
	if json.Unmarshal(out, &v) == nil {
		texts = append(texts, strings.ToLower(fmt.Sprint(v)))
	}
	for _, raw := range raws {
		for _, text := range texts {
			if strings.Contains(text, strings.ToLower(raw)) {
				t.Errorf("raw %q remains in %s", raw, out)
				break
			}
		}
	}
}

func TestScrubRawJSON(t *testing.T) {
	p := newP(t, pseudo.Defaults())
	tests := []struct {
		name  string
		in    string
		raws  []string // must be gone
		keeps []string // must remain
	}{
		{
			name: "access event with a bad action",
			in: `{"occurred_at":"2026-11-28T09:30:00Z","org":"hosp-1","actor":{"id":"staff-004217","type":"doctor"},` +
				`"action":"exfil","subject":{"id":"pt-8812734","type":"patient"},` +
				`"client":{"ip":"10.12.7.31","device_id":"dev-a81f22","geo":{"lat":30.274085,"lon":120.15507}},` +
				`"attrs":{"phone":"+86 138 0013 8000","note":"call 13912345678 or mail bob@example.org","ward":"7B"}}`,
			raws: []string{"pt-8812734", "dev-a81f22", "138 0013 8000", "13912345678", "bob@example.org", "30.274085", "120.15507"},
			keeps: []string{`"actor":{"id":"staff-004217"`, `"ip":"10.12.7.31"`, `"ward":"7B"`, `"lat":30.27,"lon":120.16`,
				`"subject":{"id":"` + vectors[0].want + `"`, `"device_id":"d_nnyw7z3q5sac625zwpj4fzknyvu7uk2t"`,
				`"phone":"p_raotihymaxbqr3ngbfytlvqcdlurqhz6"`},
		},
		{
			name: "device event with wrong types",
			in: `{"account_id":12345678,"device_id":{"imei":"860000000000001","serial":["SN-77"]},` +
				`"network":{"wifi_bssid":"AA:BB:CC:DD:EE:FF","ip":"198.51.100.4"},"location":{"lat":"30.274085","lon":120.15507,"accuracy_m":5}}`,
			raws:  []string{"12345678", "860000000000001", "SN-77", "AA:BB:CC:DD:EE:FF", "30.274085", "120.15507"},
			keeps: []string{`"wifi_bssid":"n_4bflvs7u7jmgv554kqbyij3filikvqlr"`, `"ip":"198.51.100.4"`, `"lat":"30.27"`, `"accuracy_m":5`},
		},
		{
			name: "unknown and misplaced keys",
			in: `{"Subject":{"ID":"mrn-77"},"subject_id":"mrn-88","subject.id":"mrn-99","user":{"ID_Card":"110101199003074518"},` +
				`"contact":{"e-mail":"x","Email":"Alice@Example.com"},"extra":{"risk.imei":"35-209900-176148-1"}}`,
			raws: []string{"mrn-77", "mrn-88", "mrn-99", "110101199003074518", "alice@example.com", "35-209900-176148-1"},
		},
		{
			name:  "escaped strings",
			in:    `{"note":"\u0031\u0033\u0038\u0030\u0030\u0031\u0033\u0038\u0030\u0030\u0030 \"quoted\"","subject":{"id":"pt\u002d8812734"},"s\u0075bject_id":"mrn-5"}`,
			raws:  []string{"13800138000", "pt-8812734", "mrn-5"},
			keeps: []string{`\"quoted\"`},
		},
		{
			name: "subject as a string",
			in:   `{"subject":"pt-8812734","actor":"staff-1"}`,
			raws: []string{"pt-8812734"}, keeps: []string{`"actor":"staff-1"`},
		},
		{
			name: "array of events",
			in:   `[{"subject":{"id":"a-1"}},{"subject":{"id":"a-2"},"account_id":"acct-3"}]`,
			raws: []string{"a-1", "a-2", "acct-3"},
		},
		{
			name:  "numbers that hold identifiers",
			in:    `{"note":13800138000,"x":[110101199003074518,-860000000000001],"n":1234.5,"t":true,"z":null}`,
			raws:  []string{"13800138000", "110101199003074518", "860000000000001"},
			keeps: []string{`"n":1234.5`, `"t":true`, `"z":null`},
		},
		{
			name: "identifier in a key",
			in:   `{"attrs":{"13800138000":"x"}}`,
			raws: []string{"13800138000"},
		},
		{
			name:  "white space kept",
			in:    "{ \"subject\" : { \"id\" : \"pt-8812734\" } ,\n \"x\" : [ 1 , 2 ] }",
			raws:  []string{"pt-8812734"},
			keeps: []string{"{ \"subject\" : { \"id\" : \"p_", "\" } ,\n \"x\" : [ 1 , 2 ] }"},
		},
		{
			name: "top-level string",
			in:   `"13800138000"`,
			raws: []string{"13800138000"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := []byte(tt.in)
			out := p.ScrubRaw(in, 0)
			if string(in) != tt.in {
				t.Fatal("ScrubRaw modified its input")
			}
			if !json.Valid(out) {
				t.Errorf("output is not JSON: %s", out)
			}
			assertNoRaw(t, out, tt.raws)
			for _, k := range tt.keeps {
				if !bytes.Contains(out, []byte(k)) {
					t.Errorf("output lacks %s:\n%s", k, out)
				}
			}
			if again := p.ScrubRaw(out, 0); !bytes.Equal(again, out) {
				t.Errorf("scrubbing twice differs:\n%s\n%s", out, again)
			}
		})
	}
}

func TestScrubRawConfig(t *testing.T) {
	in := []byte(`{"actor":{"id":"staff-1"},"subject":{"id":"pt-1"},"client":{"device_id":"dev-1","ip":"203.0.113.77"},` +
		`"attrs":{"imei":"imei-1","phone":"ph-1"}}`)
	p := newP(t, defaults(func(c *pseudo.Config) {
		c.TokeniseActor, c.IPPrefix = true, true
		c.AllowRaw = []string{"client.device_id", "attrs.imei"}
	}))
	out := string(p.ScrubRaw(in, 0))
	for _, want := range []string{
		`"actor":{"id":"` + p.Token(pseudo.Person, "staff-1") + `"}`,
		`"subject":{"id":"` + p.Token(pseudo.Person, "pt-1") + `"}`,
		`"device_id":"dev-1"`, `"ip":"203.0.113.0"`, `"imei":"imei-1"`,
		`"phone":"` + p.Token(pseudo.Person, "ph-1") + `"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %s:\n%s", want, out)
		}
	}
}

func TestScrubRawNotJSON(t *testing.T) {
	p := newP(t, pseudo.Defaults())
	tests := []struct {
		name  string
		in    string
		raws  []string
		keeps []string
	}{
		{
			name: "truncated JSON",
			in:   `{"subject":{"id":"pt-8812734","type":"patient"},"client":{"device_id":"dev-a81f22"},"attrs":{"imei":"86000000000000`,
			raws: []string{"pt-8812734", "dev-a81f22", "86000000000000"},
		},
		{
			name: "trailing commas",
			in:   `{"subject":{"id":"pt-1",},"account_id":"acct-9",}`,
			raws: []string{"pt-1", "acct-9"},
		},
		{
			name:  "JSON in a syslog message",
			in:    `<13>Nov 28 09:30:00 host app: {"subject":{"id":"pt-8812734"},"actor":{"id":"staff-9"},"bad":}`,
			raws:  []string{"pt-8812734"},
			keeps: []string{"<13>Nov 28 09:30:00 host app: ", `"actor":{"id":"staff-9"}`},
		},
		{
			name: "syslog free text",
			in: `<34>1 2026-11-28T09:30:00Z host app - - - user 13800138000 login failed on AA-BB-CC-DD-EE-FF ` +
				`imei 860000000000001, mail Bob.Smith@Example.ORG, id 11010119900307451X`,
			raws:  []string{"13800138000", "AA-BB-CC-DD-EE-FF", "860000000000001", "bob.smith@example.org", "11010119900307451X"},
			keeps: []string{"<34>1 2026-11-28T09:30:00Z host app - - - user p_raotihymaxbqr3ngbfytlvqcdlurqhz6 login failed on d_jpjp7dqu3dg3njcdvdnrlhrowvclzglq"},
		},
		{
			name:  "key=value",
			in:    `subject_id=mrn-42 account_id="acct-7" Phone: 13800138000 android_id=9774d56d682e549c; ok=1 MAC:aa:bb:cc:dd:ee:ff`,
			raws:  []string{"mrn-42", "acct-7", "13800138000", "9774d56d682e549c", "aa:bb:cc:dd:ee:ff"},
			keeps: []string{"ok=1", "MAC:d_jpjp7dqu3dg3njcdvdnrlhrowvclzglq"},
		},
		{
			name: "invalid UTF-8",
			in:   "\xff\xfe phone=13800138000 \xc3",
			raws: []string{"13800138000"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := p.ScrubRaw([]byte(tt.in), 0)
			assertNoRaw(t, out, tt.raws)
			for _, k := range tt.keeps {
				if !bytes.Contains(out, []byte(k)) {
					t.Errorf("output lacks %s:\n%s", k, out)
				}
			}
			if utf8.ValidString(tt.in) && !utf8.Valid(out) {
				t.Errorf("output is not UTF-8: %q", out)
			}
			if again := p.ScrubRaw(out, 0); !bytes.Equal(again, out) {
				t.Errorf("scrubbing twice differs:\n%s\n%s", out, again)
			}
		})
	}
}

// TestScrubPatterns covers each pattern in free text, with the token it
// must become, and near misses that must stay.
func TestScrubPatterns(t *testing.T) {
	p := newP(t, pseudo.Defaults())
	person := func(v string) string { return p.Token(pseudo.Person, v) }
	device := func(v string) string { return p.Token(pseudo.Device, v) }
	tests := []struct{ in, want string }{
		// Mainland ID numbers.
		{"id 110101199003074518 end", "id " + person("110101199003074518") + " end"},
		{"id 11010119900307451X.", "id " + person("11010119900307451X") + "."},
		{"id:11010119900307451x", "id:" + person("11010119900307451X")},
		{"身份证110101199003074518号", "身份证" + person("110101199003074518") + "号"},
		// Mobile numbers.
		{"tel 13800138000", "tel " + person("13800138000")},
		{"tel13800138000x", "tel" + person("13800138000") + "x"},
		{"+8613800138000", "+" + person("13800138000")},
		{"008613800138000", person("13800138000")},
		{"+86 138-0013-8000!", "+86 " + person("13800138000") + "!"},
		{"138 0013 8000", person("13800138000")},
		{"手机:19912345678。", "手机:" + person("19912345678") + "。"},
		// IMEI (and anything else of 15 digits).
		{"imei 860000000000001", "imei " + device("860000000000001")},
		// MAC addresses.
		{"mac aa:bb:cc:dd:ee:ff", "mac d_jpjp7dqu3dg3njcdvdnrlhrowvclzglq"},
		{"(AA-BB-CC-DD-EE-FF)", "(d_jpjp7dqu3dg3njcdvdnrlhrowvclzglq)"},
		{"00:1A:2b:3C:4d:5E", device("00:1a:2b:3c:4d:5e")},
		// E-mail addresses.
		{"mail alice@example.com", "mail p_3lpp5j65vlz6rzhw4i5zu4hr6eafqiex"},
		{"<Alice@Example.COM>,", "<p_3lpp5j65vlz6rzhw4i5zu4hr6eafqiex>,"},
		{"zhang.san+vigil@mail.example.com.cn.", person("zhang.san+vigil@mail.example.com.cn") + "."},
		{"13800138000@163.com", person("13800138000@163.com")},
		// Near misses stay.
		{"order 1234567890123456", "order 1234567890123456"},
		{"12800138000", "12800138000"},
		{"1380013800 138001380001", "1380013800 138001380001"},
		{"ts 1732786200123", "ts 1732786200123"},
		{"138-0013 8000", "138-0013 8000"},
		{"aa:bb:cc:dd:ee", "aa:bb:cc:dd:ee"},
		{"aa:bb:cc:dd:ee:ff0", "aa:bb:cc:dd:ee:ff0"},
		{"user@localhost a@b.c", "user@localhost a@b.c"},
		{"11010119900307451XY", "11010119900307451XY"},
		{"v2.3.1 10.0.0.1 2026-11-28", "v2.3.1 10.0.0.1 2026-11-28"},
		// Tokens stay, even with digits 2-7 in a long run.
		{"p_raotihymaxbqr3ngbfytlvqcdlurqhz6", "p_raotihymaxbqr3ngbfytlvqcdlurqhz6"},
		{"d_22222222222222222222222222222222", "d_22222222222222222222222222222222"},
		{"x d_222222222222222222 y", "x d_" + person("222222222222222222") + " y"}, // not a token: too short
	}
	for _, tt := range tests {
		if got := string(p.ScrubRaw([]byte(tt.in), 0)); got != tt.want {
			t.Errorf("ScrubRaw(%q)\n got %q\nwant %q", tt.in, got, tt.want)
		}
		if got := p.ScrubText(tt.in); got != tt.want {
			t.Errorf("ScrubText(%q)\n got %q\nwant %q", tt.in, got, tt.want)
		}
	}
}

func TestScrubRawTruncate(t *testing.T) {
	p := newP(t, pseudo.Defaults())
	tests := []struct {
		name string
		in   string
		max  int
		want string
	}{
		{"fits", "abc", 3, "abc"},
		{"no limit", "abcdef", 0, "abcdef"},
		{"negative is no limit", "abcdef", -1, "abcdef"},
		{"ascii", "abcdef", 4, "abcd…[truncated 2 bytes]"},
		{"rune boundary", "ééé", 3, "é…[truncated 4 bytes]"},
		{"four-byte rune", "a😀b", 4, "a…[truncated 5 bytes]"},
		{"scrubbed first", "tel 13800138000", 11, "tel p_raoti…[truncated 27 bytes]"},
		{"JSON number becomes a string", "13800138000", 11, `"p_raotihym…[truncated 25 bytes]`},
	}
	for _, tt := range tests {
		if got := string(p.ScrubRaw([]byte(tt.in), tt.max)); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestScrubRawHuge(t *testing.T) {
	p := newP(t, pseudo.Defaults())
	const max = 4096
	var b strings.Builder
	for b.Len() < 16<<10 {
		b.WriteString("数据 phone 13800138000 mac aa:bb:cc:dd:ee:ff ")
	}
	in := b.String()
	for shift := 0; shift < 47; shift++ { // identifiers at every offset around the cut (the text repeats every 47 bytes)
		line := strings.Repeat("x", shift) + in
		out := p.ScrubRaw([]byte(line), max)
		assertNoRaw(t, out, []string{"13800138", "aa:bb:cc:dd"})
		if !utf8.Valid(out) {
			t.Fatalf("shift %d: output is not UTF-8", shift)
		}
		body, marker, ok := strings.Cut(string(out), "…[truncated ")
		if !ok || len(body) > max || len(body) < max-3 {
			t.Fatalf("shift %d: body of %d bytes, marker %v", shift, len(body), ok)
		}
		n, err := strconv.Atoi(strings.TrimSuffix(marker, " bytes]"))
		if err != nil || n <= 0 || len(body)+n != len(p.ScrubRaw([]byte(line), 0)) {
			t.Fatalf("shift %d: marker %q does not count the cut bytes", shift, marker)
		}
	}
	// A huge JSON line is scrubbed by path before it is cut.
	js := `{"subject":{"id":"mrn-123"},"purpose":"` + strings.Repeat("é", 100000) + `","account_id":"acct-9"}`
	out := p.ScrubRaw([]byte(js), 200)
	assertNoRaw(t, out, []string{"mrn-123"})
	if len(out) > 200+len("…[truncated 1000000 bytes]") || !utf8.Valid(out) {
		t.Errorf("bad truncation: %d bytes", len(out))
	}
}

func TestScrubRawOutputIsACopy(t *testing.T) {
	p := newP(t, pseudo.Defaults())
	in := []byte(`{"ok":true}`)
	out := p.ScrubRaw(in, 0)
	out[0] = 'X'
	if in[0] != '{' {
		t.Error("output aliases input")
	}
}
