package render

import "github.com/vigil-audit/vigil/notifier/regime"

// Fields is the content-field vocabulary shared by regime files and
// templates (notifier contract), as the regime package defines it: a
// template using any other name does not load.
var Fields = regime.FieldNames()

// Kinds are the obligation kinds a template may be written for: every
// kind a regime file may plan.
var Kinds = func() []string {
	var out []string
	for _, k := range regime.Kinds() {
		out = append(out, string(k))
	}
	return out
}()

// gsmBasic is the GSM 03.38 default alphabet; gsmExt the characters that
// take an escape and so count twice.
const (
	gsmBasic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
		"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
	gsmExt = "^{}\\[~]|€\f"
)

// SMSLength returns the length of s in SMS units and the limit of one
// message for its encoding: GSM 7-bit characters (escaped ones count twice)
// up to 160 when every character is in the GSM alphabet, otherwise UTF-16
// code units up to 70 (UCS-2, e.g. any Chinese text).
func SMSLength(s string) (n, limit int) {
	gsm := true
	for _, r := range s {
		switch {
		case containsRune(gsmBasic, r):
			n++
		case containsRune(gsmExt, r):
			n += 2
		default:
			gsm = false
		}
	}
	if gsm {
		return n, 160
	}
	n = 0
	for _, r := range s {
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
	}
	return n, 70
}

func containsRune(set string, r rune) bool {
	for _, c := range set {
		if c == r {
			return true
		}
	}
	return false
}
