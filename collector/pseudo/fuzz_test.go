package pseudo_test

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/vigil-audit/vigil/collector/pseudo"
)

func FuzzScrubRaw(f *testing.F) {
	seeds := []string{
		`{"subject":{"id":"pt-8812734"},"client":{"device_id":"dev-1","geo":{"lat":30.27,"lon":120.1}},"attrs":{"phone":"13800138000"}}`,
		`{"subject":{"id":"pt-1",},"account_id":"acct-9",}`,
		`<34>1 2026-11-28T09:30:00Z host app - - - user 13800138000 mac AA-BB-CC-DD-EE-FF imei 860000000000001 a@b.cn 11010119900307451X`,
		`subject_id=mrn-42 account_id="acct-7" phone: +86 138 0013 8000`,
		`[{"subject":"x"},{"location":{"lat":"1e400"}},13800138000,-0.0]`,
		`{"a":"\u0031\ud800\"","b":[[[[{"imei":{"x":[1,2,{"y":null}]}}]]]]}`,
		"\xff\xfe\"unterminated \\",
		"ééé 😀 p_raotihymaxbqr3ngbfytlvqcdlurqhz6",
		"",
	}
	for i, s := range seeds {
		f.Add([]byte(s), i*7)
	}
	p, err := pseudo.New(testKey, pseudo.Config{GeoDecimals: 2, TokeniseActor: true, IPPrefix: true})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, line []byte, max int) {
		max %= 4096
		orig := string(line)
		out := p.ScrubRaw(line, max)
		if string(line) != orig {
			t.Fatal("input modified")
		}
		if max > 0 {
			body, marker, cut := strings.Cut(string(out), "…[truncated ")
			if cut {
				if len(body) > max {
					t.Fatalf("body of %d bytes over max %d", len(body), max)
				}
				if _, err := strconv.Atoi(strings.TrimSuffix(marker, " bytes]")); err != nil || !strings.HasSuffix(marker, " bytes]") {
					t.Fatalf("bad marker %q", marker)
				}
			} else if len(out) > max {
				t.Fatalf("output of %d bytes over max %d without a marker", len(out), max)
			}
		}
		if utf8.Valid(line) && !utf8.Valid(out) {
			t.Fatalf("valid UTF-8 in, invalid out: %q", out)
		}
		if max <= 0 && json.Valid(line) && !json.Valid(out) {
			t.Fatalf("JSON in, not JSON out: %q", out)
		}
		if max <= 0 {
			// Without truncation, scrubbing is idempotent.
			if again := p.ScrubRaw(out, 0); string(again) != string(out) {
				t.Fatalf("not idempotent:\n%q\n%q", out, again)
			}
		}
	})
}
