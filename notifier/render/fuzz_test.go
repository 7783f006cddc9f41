package render

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzRender feeds arbitrary values into every template: rendering never
// panics, a blank value is a MissingFieldError, invalid UTF-8 is refused,
// and otherwise the text carries every value verbatim on one-line subjects.
func FuzzRender(f *testing.F) {
	s := defaultSet(f)
	f.Add("张三", "{{.facts}}")
	f.Add("", "x")
	f.Add(" \n", "<script>alert(1)</script>")
	f.Add("a\r\nBcc: x@example.org", "%s %v %!")
	f.Add("\xff\xfe", "ok")
	f.Fuzz(func(t *testing.T, a, b string) {
		for _, k := range keys(s) {
			fields := map[string]string{}
			used := s.Fields(k.regime, k.kind, k.lang)
			for i, name := range used {
				if i%2 == 0 {
					fields[name] = a
				} else {
					fields[name] = b
				}
			}
			r, err := s.Render(k.regime, k.kind, k.lang, fields, nil)
			blank := strings.TrimSpace(a) == "" || (len(used) > 1 && strings.TrimSpace(b) == "")
			var mfe *MissingFieldError
			switch {
			case blank:
				if !errors.As(err, &mfe) {
					t.Fatalf("%v with a blank value: err = %v, want *MissingFieldError", k, err)
				}
			case !utf8.ValidString(a) || !utf8.ValidString(b):
				if err == nil || !strings.Contains(err.Error(), "UTF-8") {
					t.Fatalf("%v with invalid UTF-8: err = %v", k, err)
				}
			case err != nil:
				t.Fatalf("%v: %v", k, err)
			default:
				for _, name := range used {
					if !strings.Contains(r.Text, fields[name]) {
						t.Fatalf("%v: text lacks the value of %s verbatim", k, name)
					}
				}
				if strings.ContainsAny(r.Subject, "\r\n") || !utf8.ValidString(r.Subject) {
					t.Fatalf("%v: subject %q is not one valid line", k, r.Subject)
				}
			}
		}
	})
}
