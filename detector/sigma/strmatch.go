package sigma

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// wildAny stands for a '?' wildcard inside a compiled pattern segment. The
// byte 0xFF never occurs in UTF-8, so it cannot collide with rule text
// (which YAML guarantees is UTF-8).
const wildAny = 0xff

// patKind is the shape of a compiled string pattern; the shapes without
// wildcards inside have fast paths.
type patKind uint8

const (
	patExact    patKind = iota // the whole value
	patPrefix                  // value*
	patSuffix                  // *value
	patContains                // *value*
	patGlob                    // anything else with * or ?
	patAny                     // * alone: any value, including empty
	patRegexp                  // |re
)

// strPattern matches strings against one Sigma value. It is immutable after
// compilation and safe for concurrent use.
type strPattern struct {
	kind  patKind
	cased bool
	// lit is the literal of the fast-path kinds.
	lit string
	// segs are the literal runs between '*' of a patGlob, '?' stored as
	// wildAny; lead and trail say whether the pattern starts or ends with
	// '*'.
	segs        []string
	lead, trail bool
	re          *regexp.Regexp
}

// compileWildcard compiles a Sigma plain value: '*' matches any run of
// characters, '?' exactly one; "\*", "\?" and "\\" are the literal
// characters, and any other backslash is literal. lead and trail add '*'
// at either end (contains, startswith, endswith).
func compileWildcard(v string, lead, trail, cased bool) *strPattern {
	var segs []string
	var cur strings.Builder
	hasQ := false
	first, lastStar := true, false
	flush := func() {
		if cur.Len() > 0 {
			segs = append(segs, cur.String())
			cur.Reset()
		}
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		star := false
		switch {
		case c == '\\' && i+1 < len(v) && (v[i+1] == '*' || v[i+1] == '?' || v[i+1] == '\\'):
			cur.WriteByte(v[i+1])
			i++
		case c == '*':
			if first {
				lead = true
			}
			flush()
			star = true
		case c == '?':
			cur.WriteByte(wildAny)
			hasQ = true
		default:
			cur.WriteByte(c)
		}
		first, lastStar = false, star
	}
	trail = trail || lastStar
	flush()
	p := &strPattern{cased: cased, lead: lead, trail: trail, segs: segs}
	switch {
	case len(segs) == 0 && (lead || trail):
		p.kind = patAny
	case len(segs) == 0:
		p.kind = patExact // the empty value
	case len(segs) == 1 && !hasQ:
		p.lit = segs[0]
		switch {
		case lead && trail:
			p.kind = patContains
		case lead:
			p.kind = patSuffix
		case trail:
			p.kind = patPrefix
		default:
			p.kind = patExact
		}
	default:
		p.kind = patGlob
	}
	return p
}

// match reports whether s matches the pattern.
func (p *strPattern) match(s string) bool {
	switch p.kind {
	case patExact:
		if p.cased {
			return s == p.lit
		}
		return strings.EqualFold(s, p.lit)
	case patPrefix:
		_, ok := matchAt(s, p.lit, !p.cased, false)
		return ok
	case patSuffix:
		_, ok := suffixStart(s, p.lit, !p.cased, false)
		return ok
	case patContains:
		_, _, ok := find(s, p.lit, !p.cased, false)
		return ok
	case patAny:
		return true
	case patRegexp:
		return p.re.MatchString(s)
	}
	return p.globMatch(s)
}

func (p *strPattern) globMatch(s string) bool {
	fold := !p.cased
	segs := p.segs
	if !p.lead {
		n, ok := matchAt(s, segs[0], fold, true)
		if !ok {
			return false
		}
		s = s[n:]
		segs = segs[1:]
		if len(segs) == 0 {
			return p.trail || s == ""
		}
	}
	if !p.trail {
		j, ok := suffixStart(s, segs[len(segs)-1], fold, true)
		if !ok {
			return false
		}
		s = s[:j]
		segs = segs[:len(segs)-1]
	}
	for _, seg := range segs {
		_, end, ok := find(s, seg, fold, true)
		if !ok {
			return false
		}
		s = s[end:]
	}
	return true
}

// lower maps ASCII upper-case letters to lower case and every other byte
// to itself.
var lower = func() (t [256]byte) {
	for i := range t {
		t[i] = byte(i)
		if 'A' <= i && i <= 'Z' {
			t[i] = byte(i + 'a' - 'A')
		}
	}
	return t
}()

// foldEq reports whether runes a and b are equal under simple Unicode case
// folding, as strings.EqualFold compares them.
func foldEq(a, b rune) bool {
	if a == b {
		return true
	}
	if a < utf8.RuneSelf && b < utf8.RuneSelf {
		return lower[a] == lower[b]
	}
	if a > b {
		a, b = b, a
	}
	for r := unicode.SimpleFold(a); r != a; r = unicode.SimpleFold(r) {
		if r == b {
			return true
		}
	}
	return false
}

func decode(s string) (rune, int) {
	if c := s[0]; c < utf8.RuneSelf {
		return rune(c), 1
	}
	return utf8.DecodeRuneInString(s)
}

func decodeLast(s string) (rune, int) {
	if c := s[len(s)-1]; c < utf8.RuneSelf {
		return rune(c), 1
	}
	return utf8.DecodeLastRuneInString(s)
}

// matchAt reports whether s starts with seg and how many bytes of s it
// covers. With fold, runes compare under case folding; with wild, the byte
// wildAny in seg matches any one rune.
func matchAt(s, seg string, fold, wild bool) (int, bool) {
	i := 0
	for j := 0; j < len(seg); {
		if i >= len(s) {
			return 0, false
		}
		if wild && seg[j] == wildAny {
			_, n := decode(s[i:])
			i += n
			j++
			continue
		}
		pc, sc := seg[j], s[i]
		if pc < utf8.RuneSelf && sc < utf8.RuneSelf {
			if pc != sc && (!fold || lower[pc] != lower[sc]) {
				return 0, false
			}
			i++
			j++
			continue
		}
		pr, pn := decode(seg[j:])
		sr, sn := decode(s[i:])
		if pr != sr && (!fold || !foldEq(pr, sr)) {
			return 0, false
		}
		i += sn
		j += pn
	}
	return i, true
}

// suffixStart reports whether s ends with seg and where in s the match
// starts.
func suffixStart(s, seg string, fold, wild bool) (int, bool) {
	i := len(s)
	for j := len(seg); j > 0; {
		if i == 0 {
			return 0, false
		}
		if wild && seg[j-1] == wildAny {
			_, n := decodeLast(s[:i])
			i -= n
			j--
			continue
		}
		pc, sc := seg[j-1], s[i-1]
		if pc < utf8.RuneSelf && sc < utf8.RuneSelf {
			if pc != sc && (!fold || lower[pc] != lower[sc]) {
				return 0, false
			}
			i--
			j--
			continue
		}
		pr, pn := decodeLast(seg[:j])
		sr, sn := decodeLast(s[:i])
		if pr != sr && (!fold || !foldEq(pr, sr)) {
			return 0, false
		}
		i -= sn
		j -= pn
	}
	return i, true
}

// find finds the leftmost match of seg in s and returns its bounds.
func find(s, seg string, fold, wild bool) (start, end int, ok bool) {
	if seg == "" {
		return 0, 0, true
	}
	if !fold && !wild {
		k := strings.Index(s, seg)
		if k < 0 {
			return 0, 0, false
		}
		return k, k + len(seg), true
	}
	first := seg[0]
	if first < utf8.RuneSelf {
		if l := lower[first]; l != 'k' && l != 's' {
			return findASCII(s, seg, fold, wild)
		}
	}
	// An ASCII first byte of s that differs from an ASCII first byte of
	// seg under folding cannot start a match; every other position is
	// tried.
	skip := first < utf8.RuneSelf && !(wild && first == wildAny)
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if !skip || c == first || (fold && lower[c] == lower[first]) {
				if n, ok := matchAt(s[i:], seg, fold, wild); ok {
					return i, i + n, true
				}
			}
			i++
			continue
		}
		if n, ok := matchAt(s[i:], seg, fold, wild); ok {
			return i, i + n, true
		}
		_, n := utf8.DecodeRuneInString(s[i:])
		i += n
	}
	return 0, 0, false
}

// findASCII is find for a segment whose first byte is ASCII and, folded,
// neither 'k' nor 's'. Only those two ASCII letters have non-ASCII case
// variants (U+212A KELVIN SIGN, U+017F LATIN SMALL LETTER LONG S), so a
// match can start only at the first byte in either case; strings.IndexByte
// finds those candidates quickly.
func findASCII(s, seg string, fold, wild bool) (start, end int, ok bool) {
	a, b := seg[0], seg[0]
	if fold {
		a = lower[a]
		b = a
		if 'a' <= a && a <= 'z' {
			b = a - 'a' + 'A'
		}
	}
	na, nb := -2, -2 // next position of a and b at or after i; -1 for none
	for i := 0; i < len(s); {
		if na != -1 && na < i {
			if k := strings.IndexByte(s[i:], a); k >= 0 {
				na = i + k
			} else {
				na = -1
			}
		}
		if a == b {
			nb = na
		} else if nb != -1 && nb < i {
			if k := strings.IndexByte(s[i:], b); k >= 0 {
				nb = i + k
			} else {
				nb = -1
			}
		}
		switch {
		case na < 0 && nb < 0:
			return 0, 0, false
		case na < 0:
			i = nb
		case nb < 0:
			i = na
		default:
			i = min(na, nb)
		}
		if n, ok := matchAt(s[i:], seg, fold, wild); ok {
			return i, i + n, true
		}
		i++
	}
	return 0, 0, false
}

// Literal comparisons of two event values (fieldref), without wildcards.

func equalStr(a, b string, fold bool) bool {
	if fold {
		return strings.EqualFold(a, b)
	}
	return a == b
}

func hasPrefixStr(s, prefix string, fold bool) bool {
	_, ok := matchAt(s, prefix, fold, false)
	return ok
}

func hasSuffixStr(s, suffix string, fold bool) bool {
	_, ok := suffixStart(s, suffix, fold, false)
	return ok
}

func containsStr(s, sub string, fold bool) bool {
	_, _, ok := find(s, sub, fold, false)
	return ok
}
