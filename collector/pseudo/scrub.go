package pseudo

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ScrubRaw returns a copy of line, an input that was rejected, fit for a
// dead letter: identifiers replaced by tokens as far as they can be found,
// then cut to at most max bytes (on a UTF-8 boundary) followed by the
// marker "…[truncated N bytes]", N being the bytes cut. max ≤ 0 means no
// limit. line is not modified. The result can be longer than line even
// when nothing is cut: a token is 34 bytes, a mobile number 11.
//
// When line is valid JSON, the values at identifier paths are tokenised by
// the same rules as Access and Device (allow_raw, tokenise_actor and
// ip_prefix included; coordinates are rounded), with keys compared
// case-insensitively and whatever the value's type: a number or a whole
// object at subject.id becomes tokens, and a string where the subject
// object belongs is taken for its id. An object under a key that means
// nothing is read as an event too (a wrapped or batched event), and any
// key, at any depth, whose last dotted segment is an identifier attr is
// treated like one in attrs. The output is valid JSON unless it was
// truncated; a number that held an identifier becomes a string.
//
// When line is not valid JSON (cut short, a trailing comma, JSON inside a
// syslog message, key=value text), a lenient scan does the same for what
// looks like `"key": value`, `key=value` and `key: value`, following
// braces as far as they go.
//
// Then every string and number (for JSON) or the whole text (otherwise)
// is searched for what looks like an identifier, which is replaced by its
// token: mainland ID numbers (18 digits, or 17 and an X), mobile numbers
// (11 digits 1[3-9]…, also with +86/0086/86 or in 3-4-4 groups), 15-digit
// runs — IMEIs, and IMSIs and old 15-digit ID numbers with them — in the
// device namespace, MAC addresses (aa:bb:cc:dd:ee:ff or with dashes;
// device namespace) and e-mail addresses. Digit patterns match whole runs
// of ASCII digits only. Anything with the shape of a token is kept as it
// is, so scrubbing output again changes nothing.
//
// Pattern scrubbing is best-effort defence in depth, not a guarantee: it
// cannot recognise identifiers without a shape outside a known key (an
// account number "42" in free text), nor ones written with full-width
// digits, spaces in odd places or, in non-JSON text, JSON escapes; and it
// also replaces numbers that merely look like identifiers (an 18-digit
// order number).
func (p *Pseudonymiser) ScrubRaw(line []byte, max int) []byte {
	var out []byte
	if json.Valid(line) {
		s := jsonScrubber{p: p, in: line, out: make([]byte, 0, len(line)+len(line)/4+16)}
		s.value(vctx{k: cRoot})
		out = s.out
	} else {
		out = p.scrubLenient(line)
		out = p.scrubPatterns(make([]byte, 0, len(out)+len(out)/4+16), out)
	}
	return truncate(out, max)
}

// ScrubText replaces what looks like an identifier in s by its token, as
// ScrubRaw does for text: for free text that must leave the collector,
// such as a problem quoting a sender's value. It is best-effort (see
// ScrubRaw).
func (p *Pseudonymiser) ScrubText(s string) string {
	out := p.scrubPatterns(nil, []byte(s))
	if string(out) == s {
		return s
	}
	return string(out)
}

// truncateMarker starts the marker ScrubRaw appends to a cut line.
const truncateMarker = "…[truncated "

// truncate cuts b to at most max bytes, backing up to a UTF-8 rune start,
// and appends the marker. b is owned by the caller and is reused.
func truncate(b []byte, max int) []byte {
	if max <= 0 || len(b) <= max {
		return b
	}
	cut := max
	for k := 0; k < utf8.UTFMax-1 && cut > 0 && !utf8.RuneStart(b[cut]); k++ {
		cut--
	}
	n := len(b) - cut
	b = append(b[:cut], truncateMarker...)
	b = strconv.AppendInt(b, int64(n), 10)
	return append(b, " bytes]"...)
}

// ctx is what a JSON value means by where it is.
type ctx uint8

const (
	cOther    ctx = iota // anything else: patterns only
	cRoot                // an event object
	cSubject             // subject
	cActor               // actor
	cClient              // client
	cGeo                 // client.geo
	cNetwork             // network
	cLocation            // location
	cAttrs               // attrs
	cIdent               // an identifier: every scalar in it is tokenised in ns
	cCoord               // a latitude or longitude
	cIP                  // an IP address
	cRaw                 // an identifier field in allow_raw: left as it is
)

type vctx struct {
	k  ctx
	ns Namespace
}

var (
	vOther = vctx{k: cOther}
	vRaw   = vctx{k: cRaw}
)

func ident(ns Namespace) vctx { return vctx{k: cIdent, ns: ns} }

// identUnless is ident(ns), or vRaw when the field is allowed raw.
func identUnless(raw bool, ns Namespace) vctx {
	if raw {
		return vRaw
	}
	return ident(ns)
}

// child returns the context of the value under key in an object of context
// parent. Keys match case-insensitively.
func (p *Pseudonymiser) child(parent vctx, key string) vctx {
	switch parent.k {
	case cIdent, cRaw:
		return parent
	case cRoot, cOther:
		// An object where none is expected may be an event wrapped in an
		// envelope ({"data": {...}}, {"events": [...]}): read it as one.
		switch {
		case strings.EqualFold(key, "subject"):
			return vctx{k: cSubject}
		case strings.EqualFold(key, "actor"):
			return vctx{k: cActor}
		case strings.EqualFold(key, "client"):
			return vctx{k: cClient}
		case strings.EqualFold(key, "network"):
			return vctx{k: cNetwork}
		case strings.EqualFold(key, "location"):
			return vctx{k: cLocation}
		case strings.EqualFold(key, "attrs"):
			return vctx{k: cAttrs}
		case strings.EqualFold(key, "account_id"):
			return identUnless(p.rawAccount, Person)
		case strings.EqualFold(key, "device_id"):
			return identUnless(p.rawDevice, Device)
		}
	case cSubject:
		if strings.EqualFold(key, "id") {
			return identUnless(p.rawSubject, Person)
		}
	case cActor:
		if strings.EqualFold(key, "id") {
			if p.tokeniseActor {
				return ident(Person)
			}
			return vRaw
		}
	case cClient:
		switch {
		case strings.EqualFold(key, "device_id"):
			return identUnless(p.rawClientDevice, Device)
		case strings.EqualFold(key, "ip"):
			return vctx{k: cIP}
		case strings.EqualFold(key, "geo"):
			return vctx{k: cGeo}
		}
	case cNetwork:
		switch {
		case strings.EqualFold(key, "wifi_bssid"):
			return identUnless(p.rawBSSID, Network)
		case strings.EqualFold(key, "ip"):
			return vctx{k: cIP}
		}
	case cGeo, cLocation:
		if strings.EqualFold(key, "lat") || strings.EqualFold(key, "lon") {
			return vctx{k: cCoord}
		}
	}
	// Not a field of the schema here: an identifier attr name anywhere, and
	// flattened field names, still mark identifiers.
	if ns, ok := p.attrNamespace(key); ok {
		return ident(ns)
	}
	switch {
	case strings.EqualFold(key, "subject.id"):
		return identUnless(p.rawSubject, Person)
	case p.tokeniseActor && (strings.EqualFold(key, "actor.id") || strings.EqualFold(key, "actor_id")):
		return ident(Person)
	}
	return vOther
}

// scalarNS reports whether a scalar in context vc is tokenised, and in
// which namespace. Besides identifiers, a scalar where the subject or
// actor object belongs is taken for its id.
func (p *Pseudonymiser) scalarNS(vc vctx) (Namespace, bool) {
	switch vc.k {
	case cIdent:
		return vc.ns, true
	case cSubject:
		return Person, !p.rawSubject
	case cActor:
		return Person, p.tokeniseActor
	}
	return 0, false
}

// jsonScrubber rewrites valid JSON, copying it byte for byte except for
// the values it replaces.
type jsonScrubber struct {
	p   *Pseudonymiser
	in  []byte
	pos int
	out []byte
}

func (s *jsonScrubber) ws() {
	for s.pos < len(s.in) {
		switch s.in[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.out = append(s.out, s.in[s.pos])
			s.pos++
		default:
			return
		}
	}
}

func (s *jsonScrubber) value(vc vctx) {
	s.ws()
	if s.pos >= len(s.in) {
		return
	}
	switch c := s.in[s.pos]; {
	case c == '{':
		s.object(vc)
	case c == '[':
		s.array(vc)
	case c == '"':
		start := s.pos
		s.pos = stringEnd(s.in, s.pos)
		s.scalarString(vc, s.in[start:s.pos])
	default:
		start := s.pos
		for s.pos < len(s.in) && !isJSONDelim(s.in[s.pos]) {
			s.pos++
		}
		s.scalarLiteral(vc, s.in[start:s.pos])
	}
	s.ws()
}

func isJSONDelim(c byte) bool {
	switch c {
	case ',', '}', ']', ':', ' ', '\t', '\n', '\r':
		return true
	}
	return false
}

func (s *jsonScrubber) object(vc vctx) {
	s.out = append(s.out, '{')
	s.pos++
	for {
		s.ws()
		if s.pos >= len(s.in) {
			return
		}
		if s.in[s.pos] == '}' {
			s.out = append(s.out, '}')
			s.pos++
			return
		}
		if s.in[s.pos] == ',' {
			s.out = append(s.out, ',')
			s.pos++
			continue
		}
		start := s.pos
		s.pos = stringEnd(s.in, s.pos)
		lit := s.in[start:s.pos]
		key := decodeString(lit)
		s.out = s.p.scrubStringLiteral(s.out, lit)
		s.ws()
		if s.pos < len(s.in) && s.in[s.pos] == ':' {
			s.out = append(s.out, ':')
			s.pos++
		}
		s.value(s.p.child(vc, key))
	}
}

func (s *jsonScrubber) array(vc vctx) {
	s.out = append(s.out, '[')
	s.pos++
	for {
		s.ws()
		if s.pos >= len(s.in) {
			return
		}
		switch s.in[s.pos] {
		case ']':
			s.out = append(s.out, ']')
			s.pos++
			return
		case ',':
			s.out = append(s.out, ',')
			s.pos++
			continue
		}
		s.value(vc) // elements mean what the array means
	}
}

// scalarString writes a JSON string literal found in context vc.
func (s *jsonScrubber) scalarString(vc vctx, lit []byte) {
	p := s.p
	if ns, ok := p.scalarNS(vc); ok {
		if v := decodeString(lit); v != "" {
			s.out = appendQuoted(s.out, p.tok.token(ns, v))
			return
		}
	}
	if vc.k == cRaw {
		s.out = append(s.out, lit...)
		return
	}
	if t, ok := p.rewriteScalar(vc, decodeString(lit)); ok {
		s.out = appendQuoted(s.out, t)
		return
	}
	s.out = p.scrubStringLiteral(s.out, lit)
}

// rewriteScalar returns the value of a scalar that is neither an identifier
// nor raw as the event pseudonymisers would leave it: a coordinate rounded,
// an IP address truncated with ip_prefix. It reports false when there is
// nothing to change.
func (p *Pseudonymiser) rewriteScalar(vc vctx, v string) (string, bool) {
	switch vc.k {
	case cIP:
		if p.ipPrefix {
			if t := truncateIP(v); t != v {
				return t, true
			}
		}
	case cCoord:
		if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
			if t := strconv.FormatFloat(p.round(f), 'f', -1, 64); t != v {
				return t, true
			}
		}
	}
	return "", false
}

// scalarLiteral writes a JSON number, true, false or null found in
// context vc. A number that is an identifier, or holds what looks like
// one, becomes a string token.
func (s *jsonScrubber) scalarLiteral(vc vctx, lit []byte) {
	p := s.p
	isNum := len(lit) > 0 && (lit[0] == '-' || isDigit(lit[0]))
	if !isNum {
		s.out = append(s.out, lit...)
		return
	}
	if ns, ok := p.scalarNS(vc); ok {
		s.out = appendQuoted(s.out, p.tok.token(ns, string(lit)))
		return
	}
	if vc.k == cRaw {
		s.out = append(s.out, lit...)
		return
	}
	if vc.k == cCoord {
		if t, ok := p.rewriteScalar(vc, string(lit)); ok {
			s.out = append(s.out, t...)
			return
		}
	}
	mark := len(s.out)
	s.out = p.scrubPatterns(s.out, lit)
	if !bytes.Equal(s.out[mark:], lit) {
		// The number held an identifier: it is a string now.
		tok := string(s.out[mark:])
		s.out = appendQuoted(s.out[:mark], tok)
	}
}

// stringEnd returns the index after the string literal starting with the
// quote at in[i], or len(in) when it is not closed.
func stringEnd(in []byte, i int) int {
	for j := i + 1; j < len(in); j++ {
		switch in[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(in)
}

// decodeString returns the text of a string literal (with its quotes).
// A literal that does not decode (in lenient scanning) gives its bytes
// between the quotes.
func decodeString(lit []byte) string {
	if len(lit) >= 2 && lit[len(lit)-1] == '"' && bytes.IndexByte(lit, '\\') < 0 {
		return string(lit[1 : len(lit)-1])
	}
	var v string
	if err := json.Unmarshal(lit, &v); err == nil {
		return v
	}
	inner := lit[1:]
	if len(inner) > 0 && inner[len(inner)-1] == '"' {
		inner = inner[:len(inner)-1]
	}
	return string(inner)
}

// scrubStringLiteral appends a string literal with identifiers in its
// text replaced by tokens. A literal without escapes is scrubbed as it is;
// one with escapes is decoded, scrubbed and, if anything changed,
// re-encoded.
func (p *Pseudonymiser) scrubStringLiteral(dst, lit []byte) []byte {
	if len(lit) < 2 || lit[len(lit)-1] != '"' {
		return p.scrubPatterns(dst, lit) // unterminated (lenient input)
	}
	if bytes.IndexByte(lit, '\\') < 0 {
		dst = append(dst, '"')
		dst = p.scrubPatterns(dst, lit[1:len(lit)-1])
		return append(dst, '"')
	}
	v := decodeString(lit)
	scrubbed := p.scrubPatterns(nil, []byte(v))
	if string(scrubbed) == v {
		return append(dst, lit...)
	}
	return appendQuoted(dst, string(scrubbed))
}

// appendQuoted appends s as a JSON string. Invalid UTF-8 becomes U+FFFD.
func appendQuoted(dst []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c < 0x20:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, `\ufffd`...)
		} else {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}

// lenient scanning of text that is not valid JSON: truncated or broken
// JSON, JSON inside a syslog message, key=value logs.

type frame struct {
	vc    vctx
	array bool
}

// scrubLenient tokenises the values of what looks like identifier keys in
// text that is not valid JSON. Patterns are left to the caller.
func (p *Pseudonymiser) scrubLenient(in []byte) []byte {
	out := make([]byte, 0, len(in)+len(in)/4+16)
	var stack []frame
	var pending vctx
	hasPending := false

	// valueCtx is the context of a value about to start.
	valueCtx := func() vctx {
		switch {
		case hasPending:
			return pending
		case len(stack) > 0 && stack[len(stack)-1].array:
			return stack[len(stack)-1].vc
		}
		return vOther
	}
	parent := func() vctx {
		if len(stack) == 0 {
			return vctx{k: cRoot}
		}
		return stack[len(stack)-1].vc
	}

	for i := 0; i < len(in); {
		c := in[i]
		switch {
		case c == '"':
			end := stringEnd(in, i)
			lit := in[i:end]
			if j := skipSpace(in, end); j < len(in) && (in[j] == ':' || in[j] == '=') {
				pending, hasPending = p.child(parent(), decodeString(lit)), true
				out = append(out, lit...)
			} else {
				vc := valueCtx()
				hasPending = false
				if ns, ok := p.scalarNS(vc); ok && len(lit) > 2 {
					out = appendQuoted(out, p.tok.token(ns, decodeString(lit)))
				} else if t, ok := p.rewriteScalar(vc, decodeString(lit)); ok {
					out = appendQuoted(out, t)
				} else {
					out = append(out, lit...)
				}
			}
			i = end
		case c == '{' || c == '[':
			vc := valueCtx()
			if c == '{' && !hasPending && len(stack) == 0 {
				vc = vctx{k: cRoot}
			}
			hasPending = false
			stack = append(stack, frame{vc: vc, array: c == '['})
			out = append(out, c)
			i++
		case c == '}' || c == ']':
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
			hasPending = false
			out = append(out, c)
			i++
		case c == ',' || c == ';' || c == '&' || c == '\n':
			hasPending = false
			out = append(out, c)
			i++
		case c == ' ' || c == '\t' || c == '\r' || c == ':' || c == '=':
			out = append(out, c)
			i++
		case hasPending:
			// A bare value: up to white space or a separator.
			j := i
			for j < len(in) && !isBareValueEnd(in[j]) {
				j++
			}
			if ns, ok := p.scalarNS(pending); ok {
				out = append(out, p.tok.token(ns, string(in[i:j]))...)
			} else if t, ok := p.rewriteScalar(pending, string(in[i:j])); ok {
				out = append(out, t...)
			} else {
				out = append(out, in[i:j]...)
			}
			hasPending = false
			i = j
		default:
			// A bare word: a key if ':' or '=' follows.
			j := i
			for j < len(in) && !isBareWordEnd(in[j]) {
				j++
			}
			if k := skipSpace(in, j); k < len(in) && (in[k] == ':' || in[k] == '=') {
				pending, hasPending = p.child(parent(), string(in[i:j])), true
			}
			out = append(out, in[i:j]...)
			if j == i { // cannot happen: c is not a word end; stay safe
				out = append(out, c)
				j++
			}
			i = j
		}
	}
	return out
}

func skipSpace(in []byte, i int) int {
	for i < len(in) && (in[i] == ' ' || in[i] == '\t') {
		i++
	}
	return i
}

func isBareValueEnd(c byte) bool {
	switch c {
	case ' ', '\t', '\r', '\n', ',', ';', '&', '}', ']', '"', '\'':
		return true
	}
	return false
}

func isBareWordEnd(c byte) bool {
	switch c {
	case ' ', '\t', '\r', '\n', ',', ';', '&', '{', '}', '[', ']', '"', ':', '=':
		return true
	}
	return false
}

// scrubPatterns appends src to dst with every substring that looks like an
// identifier replaced by its token (see ScrubRaw). Tokens already in src
// are kept, and a token put in can itself complete a pattern (an e-mail
// whose domain ends where a token begins), so passes repeat until nothing
// changes: scrubbing twice is scrubbing once. Text without identifiers
// takes one pass; each pass can only turn more of the text into tokens, so
// a few passes always reach the fixed point.
func (p *Pseudonymiser) scrubPatterns(dst, src []byte) []byte {
	out := p.scrubPatternsOnce(nil, src)
	for range 8 {
		if bytes.Equal(out, src) {
			break
		}
		src, out = out, p.scrubPatternsOnce(nil, out)
	}
	return append(dst, out...)
}

func (p *Pseudonymiser) scrubPatternsOnce(dst, src []byte) []byte {
	hasAt := bytes.IndexByte(src, '@') >= 0
	afterToken := -1 // a token ends here: the next byte starts a run
	for i := 0; i < len(src); {
		c := src[i]
		var prev byte
		if i > 0 && i != afterToken {
			prev = src[i-1]
		}

		// An e-mail address, tried where a local part could start.
		if hasAt && isLocalChar(c) && !isLocalChar(prev) {
			j := i
			for j < len(src) && isLocalChar(src[j]) {
				j++
			}
			if j < len(src) && src[j] == '@' {
				if dl := domainLen(src, j+1); dl > 0 {
					end := j + 1 + dl
					dst = append(dst, p.tok.token(Person, string(src[i:end]))...)
					i = end
					continue
				}
			}
		}

		// A token, wherever it is: keep it whole and never look inside.
		if (c == 'p' || c == 'd' || c == 'n') && i+TokenLen <= len(src) && src[i+1] == '_' && isTokenBody(src[i+2:i+TokenLen]) {
			dst = append(dst, src[i:i+TokenLen]...)
			i += TokenLen
			afterToken = i
			continue
		}

		// A MAC address, not touching letters, digits or '_' (so that the
		// first letter of a token after it cannot complete one).
		if isHex(c) && !isAlnum(prev) && isMAC(src, i) && (i+17 == len(src) || !isWordChar(src[i+17])) {
			dst = append(dst, p.tok.token(Device, canonicalMAC(src[i:i+17]))...)
			i += 17
			continue
		}

		if isDigit(c) && !isDigit(prev) {
			j := i
			for j < len(src) && isDigit(src[j]) {
				j++
			}
			var end int
			dst, end = p.digitRun(dst, src, i, j)
			i = end
			continue
		}

		dst = append(dst, c)
		i++
	}
	return dst
}

func isTokenBody(b []byte) bool {
	for _, c := range b {
		if !isB32(c) {
			return false
		}
	}
	return true
}

func isWordChar(c byte) bool { return isAlnum(c) || c == '_' }

// digitRun handles the run of digits src[i:j]: it appends its token if it
// looks like an identifier, else the digits, and returns where scanning
// continues.
func (p *Pseudonymiser) digitRun(dst, src []byte, i, j int) ([]byte, int) {
	run := src[i:j]
	switch n := len(run); {
	case n == 11 && isMobile(run):
		return append(dst, p.tok.token(Person, string(run))...), j
	case n == 13 && run[0] == '8' && run[1] == '6' && isMobile(run[2:]):
		return append(dst, p.tok.token(Person, string(run[2:]))...), j
	case n == 15 && string(run[:4]) == "0086" && isMobile(run[4:]):
		return append(dst, p.tok.token(Person, string(run[4:]))...), j
	case n == 15:
		return append(dst, p.tok.token(Device, string(run))...), j
	case n == 17 && j < len(src) && (src[j] == 'X' || src[j] == 'x') && (j+1 == len(src) || !isAlnum(src[j+1])):
		return append(dst, p.tok.token(Person, string(run)+"X")...), j + 1
	case n == 18:
		return append(dst, p.tok.token(Person, string(run))...), j
	case n == 3 && run[0] == '1' && run[1] >= '3' && run[1] <= '9' && j+10 <= len(src):
		// 138-0013-8000 or 138 0013 8000
		sep := src[j]
		if (sep == '-' || sep == ' ') && src[j+5] == sep && allDigits(src[j+1:j+5]) && allDigits(src[j+6:j+10]) &&
			(j+10 == len(src) || !isDigit(src[j+10])) {
			d := string(run) + string(src[j+1:j+5]) + string(src[j+6:j+10])
			return append(dst, p.tok.token(Person, d)...), j + 10
		}
	}
	return append(dst, run...), j
}
