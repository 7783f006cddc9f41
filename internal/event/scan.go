package event

import (
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// This file is a strict single-pass JSON scanner (RFC 8259) that the
// decoders drive field by field. It exists, instead of encoding/json, to
// report every problem with its path in one pass, to reject duplicate keys,
// invalid UTF-8 and unpaired surrogates (which encoding/json replaces with
// U+FFFD), and to decode without reflection.
//
// A syntax error ends decoding: the scanner records one problem and panics
// with stopDecoding, which recoverStop recovers. Problems found before it are
// dropped, since what follows a syntax error cannot be read reliably.

// stopDecoding is the panic value that unwinds the decoder after a fatal
// problem.
type stopDecoding struct{}

// field is the index of a field in a fieldSet, one per field of an event
// type (the aXxx and dXxx constants in decode.go).
type field uint8

// fieldSet records which fields were present in the input and which had a
// problem while decoding, so that validation neither reports a field that
// was present as "required" nor piles a second problem onto a field whose
// value could not be read.
type fieldSet struct{ present, bad uint64 }

func (s *fieldSet) has(f field) bool   { return s.present&(1<<f) != 0 }
func (s *fieldSet) isBad(f field) bool { return s.bad&(1<<f) != 0 }
func (s *fieldSet) setBad(f field)     { s.bad |= 1 << f }

// decoder is the state of one decode.
type decoder struct {
	data   []byte
	pos    int
	depth  int
	path   []byte   // path of the value being decoded
	key    []byte   // key of the current member, unescaped; valid until the next key
	keyBuf []byte   // backing store of key when it had escapes
	probs  Problems // at most MaxProblems
	more   int      // problems beyond MaxProblems
	fatal  bool     // a syntax error stopped decoding
	fs     fieldSet
}

// Flags of a scanned string.
const (
	strEscaped  = 1 << iota // contains a backslash escape
	strNonASCII             // contains a byte ≥ 0x80
)

// add records a problem at the current path.
func (d *decoder) add(reason string) {
	if len(d.probs) >= MaxProblems {
		d.more++
		return
	}
	d.addAt(string(d.path), reason)
}

func (d *decoder) addAt(path, reason string) {
	if len(d.probs) >= MaxProblems {
		d.more++
		return
	}
	d.probs = append(d.probs, Problem{Path: path, Reason: reason})
}

// stop records a fatal problem at the current path, drops the others and
// unwinds the decoder.
func (d *decoder) stop(reason string) {
	d.probs = append(d.probs[:0], Problem{Path: string(d.path), Reason: reason})
	d.more = 0
	d.fatal = true
	panic(stopDecoding{})
}

// syntax stops decoding with a syntax error at byte offset at.
func (d *decoder) syntax(at int, what string) {
	d.stop("invalid JSON at byte " + strconv.Itoa(at) + ": " + what)
}

// unexpected stops decoding at d.pos, naming what was found and what was
// wanted.
func (d *decoder) unexpected(want string) {
	if d.pos >= len(d.data) {
		d.syntax(d.pos, "unexpected end of input, want "+want)
	}
	d.syntax(d.pos, "unexpected "+describeByte(d.data[d.pos])+", want "+want)
}

func describeByte(c byte) string {
	if c >= 0x20 && c < 0x7f {
		return strconv.QuoteRune(rune(c))
	}
	return "byte 0x" + strconv.FormatUint(uint64(c), 16)
}

// Path maintenance. Each push returns the length to restore with pop.

func (d *decoder) pushField(name string) int {
	n := len(d.path)
	if n > 0 {
		d.path = append(d.path, '.')
	}
	d.path = append(d.path, name...)
	return n
}

func (d *decoder) pushIndex(i int) int {
	n := len(d.path)
	d.path = append(d.path, '[')
	d.path = strconv.AppendInt(d.path, int64(i), 10)
	d.path = append(d.path, ']')
	return n
}

// pushKey pushes a key that is not a known field name: as a field when it
// is plain, otherwise quoted in brackets and cut to a readable length.
func (d *decoder) pushKey(key []byte) int {
	n := len(d.path)
	d.path = appendKeyPath(d.path, key)
	return n
}

func (d *decoder) pop(n int) { d.path = d.path[:n] }

// appendKeyPath appends the path element of an object key to path.
func appendKeyPath[S []byte | string](path []byte, key S) []byte {
	if plainKey(key) {
		if len(path) > 0 {
			path = append(path, '.')
		}
		return append(path, key...)
	}
	const limit = 64
	cut := len(key) > limit
	if cut {
		key = key[:limit]
	}
	path = append(path, '[')
	path = strconv.AppendQuote(path, string(key))
	if cut {
		path = append(path[:len(path)-1], "…\""...)
	}
	return append(path, ']')
}

// plainKey reports whether key is 1 to MaxAttrKeyLen bytes of
// [A-Za-z0-9._:-], the form of attrs keys and of every field name.
func plainKey[S []byte | string](key S) bool {
	if len(key) == 0 || len(key) > MaxAttrKeyLen {
		return false
	}
	for i := 0; i < len(key); i++ {
		if !isIDByte(key[i]) {
			return false
		}
	}
	return true
}

// isIDByte reports whether c is in [A-Za-z0-9._:-].
func isIDByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '.' || c == '_' || c == ':' || c == '-'
}

// Lexing.

func (d *decoder) skipWS() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// peek returns the byte at d.pos, or 0 at the end of input.
func (d *decoder) peek() byte {
	if d.pos < len(d.data) {
		return d.data[d.pos]
	}
	return 0
}

// kind names the JSON type of the value at d.pos, for "wrong type"
// problems. A byte that starts no value is named by skipValue's syntax
// error instead.
func (d *decoder) kind() string {
	switch d.peek() {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

// wrongType skips the value at d.pos and reports that it is not of type want.
func (d *decoder) wrongType(want string) {
	got := d.kind()
	d.skipValue()
	d.add("wrong type: want " + want + ", got " + got)
}

// enter starts an object or array, enforcing MaxDepth.
func (d *decoder) enter() {
	d.depth++
	if d.depth > MaxDepth {
		d.stop("nested deeper than " + strconv.Itoa(MaxDepth) + " levels")
	}
	d.pos++
}

// nextMember advances to the next member of the object being read (d.pos
// after '{' or after the previous value). It returns false at the closing
// '}', which it consumes. Otherwise d.key holds the member's key and d.pos is
// at its value.
func (d *decoder) nextMember(first *bool) bool {
	d.skipWS()
	c := d.peek()
	if c == '}' {
		d.pos++
		d.depth--
		return false
	}
	if !*first {
		if c != ',' {
			d.unexpected("',' or '}'")
		}
		d.pos++
		d.skipWS()
	}
	*first = false
	if d.peek() != '"' {
		d.unexpected("a string key")
	}
	raw, flags := d.scanString()
	if flags&strEscaped != 0 {
		d.keyBuf, _ = unescape(d.keyBuf[:0], raw)
		d.key = d.keyBuf
	} else {
		d.key = raw
	}
	d.skipWS()
	if d.peek() != ':' {
		d.unexpected("':'")
	}
	d.pos++
	d.skipWS()
	return true
}

// nextElem advances to the next element of the array being read and
// returns false at the closing ']', which it consumes.
func (d *decoder) nextElem(first *bool) bool {
	d.skipWS()
	if d.peek() == ']' {
		d.pos++
		d.depth--
		return false
	}
	if !*first {
		if d.peek() != ',' {
			d.unexpected("',' or ']'")
		}
		d.pos++
		d.skipWS()
	}
	*first = false
	return true
}

// skipValue checks the syntax of the value at d.pos and moves past it.
func (d *decoder) skipValue() {
	switch c := d.peek(); c {
	case '{':
		d.enter()
		for first := true; d.nextMember(&first); {
			d.skipValue()
		}
	case '[':
		d.enter()
		for first := true; d.nextElem(&first); {
			d.skipValue()
		}
	case '"':
		d.scanString()
	case 't':
		d.literal("true")
	case 'f':
		d.literal("false")
	case 'n':
		d.literal("null")
	default:
		if c == '-' || isDigit(c) {
			d.scanNumber()
			return
		}
		d.unexpected("a JSON value")
	}
}

func (d *decoder) literal(lit string) {
	if len(d.data)-d.pos < len(lit) || string(d.data[d.pos:d.pos+len(lit)]) != lit {
		d.syntax(d.pos, "invalid literal, want "+lit)
	}
	d.pos += len(lit)
}

// scanString moves past the string at d.pos (which is '"') and returns its
// raw content between the quotes, escapes not yet decoded.
func (d *decoder) scanString() (raw []byte, flags int) {
	start := d.pos + 1
	data := d.data
	for i := start; i < len(data); {
		c := data[i]
		if plainStringByte[c] {
			i++
			continue
		}
		switch {
		case c == '"':
			d.pos = i + 1
			return data[start:i], flags
		case c == '\\':
			flags |= strEscaped
			if i+1 >= len(data) {
				d.syntax(len(data), "unterminated string")
			}
			switch data[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(data) || !isHex(data[i+2]) || !isHex(data[i+3]) || !isHex(data[i+4]) || !isHex(data[i+5]) {
					d.syntax(i, `invalid \u escape, want 4 hex digits`)
				}
				i += 6
			default:
				d.syntax(i, "invalid escape \\"+string(rune(data[i+1])))
			}
		case c < 0x20:
			d.syntax(i, "control character 0x"+strconv.FormatUint(uint64(c), 16)+" in string, want it escaped")
		case c >= 0x80:
			flags |= strNonASCII
			i++
		default:
			i++
		}
	}
	d.syntax(len(data), "unterminated string")
	return nil, 0
}

// plainStringByte marks the bytes that need no attention inside a JSON
// string: not '"', not '\\', not a control character, ASCII.
var plainStringByte = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// unescape appends the decoded content of a raw string with escapes to
// dst. ok is false when a \u escape is an unpaired UTF-16 surrogate.
// The escapes are known to be well formed.
func unescape(dst, raw []byte) (_ []byte, ok bool) {
	ok = true
	for i := 0; i < len(raw); {
		c := raw[i]
		if c != '\\' {
			dst = append(dst, c)
			i++
			continue
		}
		switch raw[i+1] {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r := rune(hex4(raw[i+2:]))
			i += 6
			if utf16.IsSurrogate(r) {
				if i+6 <= len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
					if r2 := utf16.DecodeRune(r, rune(hex4(raw[i+2:]))); r2 != utf8.RuneError {
						dst = utf8.AppendRune(dst, r2)
						i += 6
						continue
					}
				}
				ok = false
				r = utf8.RuneError
			}
			dst = utf8.AppendRune(dst, r)
			continue
		default: // '"', '\\', '/'
			dst = append(dst, raw[i+1])
		}
		i += 2
	}
	return dst, ok
}

func hex4(b []byte) uint32 {
	var n uint32
	for _, c := range b[:4] {
		switch {
		case c <= '9':
			c -= '0'
		case c <= 'F':
			c -= 'A' - 10
		default:
			c -= 'a' - 10
		}
		n = n<<4 | uint32(c)
	}
	return n
}

// scanNumber moves past the number at d.pos and returns its text.
//
//	number = [ "-" ] int [ frac ] [ exp ]
func (d *decoder) scanNumber() []byte {
	data, i := d.data, d.pos
	start := i
	if i < len(data) && data[i] == '-' {
		i++
	}
	switch {
	case i < len(data) && data[i] == '0':
		i++
	case i < len(data) && '1' <= data[i] && data[i] <= '9':
		for i < len(data) && isDigit(data[i]) {
			i++
		}
	default:
		d.pos = i
		d.unexpected("a digit")
	}
	if i < len(data) && data[i] == '.' {
		i++
		if i >= len(data) || !isDigit(data[i]) {
			d.pos = i
			d.unexpected("a digit after '.'")
		}
		for i < len(data) && isDigit(data[i]) {
			i++
		}
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		if i >= len(data) || !isDigit(data[i]) {
			d.pos = i
			d.unexpected("a digit in the exponent")
		}
		for i < len(data) && isDigit(data[i]) {
			i++
		}
	}
	d.pos = i
	return data[start:i]
}

// Typed readers. Each reads the value at d.pos into *dst, or reports a
// problem at the current path, skips the value and returns false.

// str reads a JSON string.
func (d *decoder) str(dst *string) bool {
	if d.peek() != '"' {
		d.wrongType("string")
		return false
	}
	raw, flags := d.scanString()
	if flags == 0 {
		*dst = string(raw)
		return true
	}
	b, ok := raw, true
	if flags&strEscaped != 0 {
		b, ok = unescape(make([]byte, 0, len(raw)), raw)
		if !ok {
			d.add(`invalid \u escape: unpaired UTF-16 surrogate`)
			return false
		}
	}
	if !utf8.Valid(b) {
		d.add("invalid UTF-8")
		return false
	}
	*dst = string(b)
	return true
}

// enumStr reads a JSON string and returns the matching constant of list
// without allocating, or a new string for a value not in list (which
// validation reports).
func enumStr[T ~string](d *decoder, dst *T, list []T) bool {
	if d.peek() == '"' {
		start := d.pos
		raw, flags := d.scanString()
		if flags == 0 {
			for _, v := range list {
				if string(v) == string(raw) {
					*dst = v
					return true
				}
			}
		}
		d.pos = start
	}
	var s string
	if !d.str(&s) {
		return false
	}
	*dst = T(s)
	return true
}

// boolean reads true or false.
func (d *decoder) boolean(dst *bool) bool {
	switch d.peek() {
	case 't':
		d.literal("true")
		*dst = true
		return true
	case 'f':
		d.literal("false")
		*dst = false
		return true
	}
	d.wrongType("boolean")
	return false
}

// timestamp reads an RFC 3339 string.
func (d *decoder) timestamp(dst *Timestamp) bool {
	if d.peek() != '"' {
		d.wrongType("string")
		return false
	}
	raw, flags := d.scanString()
	if flags&strEscaped != 0 {
		raw, _ = unescape(make([]byte, 0, len(raw)), raw)
	}
	t, ok := parseRFC3339(raw)
	if !ok {
		d.add(errNotRFC3339.Error())
		return false
	}
	*dst = Timestamp{t}
	return true
}

// integer reads a JSON number whose value is an integer; like JSON Schema,
// it accepts 1.0 and 1e3. A value beyond ±MaxRecordCount, which may not fit
// in int64, is reported here against lo or hi; validation checks the
// others against the same bounds.
func (d *decoder) integer(dst *int64, lo, hi int64) bool {
	c := d.peek()
	if c != '-' && !isDigit(c) {
		d.wrongType("integer")
		return false
	}
	text := d.scanNumber()
	v, status := parseInteger(text)
	switch status {
	case intFraction:
		d.add("wrong type: want integer, got number " + string(truncateForMessage(text)))
		return false
	case intTooSmall:
		d.add("must be ≥ " + strconv.FormatInt(lo, 10))
		return false
	case intTooLarge:
		d.add("must be ≤ " + strconv.FormatInt(hi, 10))
		return false
	}
	*dst = v
	return true
}

// float reads a JSON number. A number beyond float64's range reads as ±Inf
// and fails the range check of validation.
func (d *decoder) float(dst *float64) bool {
	c := d.peek()
	if c != '-' && !isDigit(c) {
		d.wrongType("number")
		return false
	}
	text := d.scanNumber()
	v, _ := strconv.ParseFloat(string(text), 64) // the syntax is checked; ErrRange gives ±Inf or 0
	*dst = v
	return true
}

// Results of parseInteger.
const (
	intOK = iota
	intFraction
	intTooSmall // below -MaxRecordCount
	intTooLarge // above MaxRecordCount
)

// parseInteger returns the value of a well-formed JSON number if it is an
// integer within ±MaxRecordCount, exactly, without floating point: the
// number is digits × 10^exp once the decimal point and exponent are
// folded in.
func parseInteger(text []byte) (int64, int) {
	neg := text[0] == '-'
	if neg {
		text = text[1:]
	}
	// Split into integer digits, fraction digits and exponent.
	i := 0
	for i < len(text) && isDigit(text[i]) {
		i++
	}
	intPart := text[:i]
	var frac []byte
	if i < len(text) && text[i] == '.' {
		j := i + 1
		for j < len(text) && isDigit(text[j]) {
			j++
		}
		frac = text[i+1 : j]
		i = j
	}
	exp := 0
	if i < len(text) { // 'e' or 'E'
		i++
		expNeg := false
		if text[i] == '+' || text[i] == '-' {
			expNeg = text[i] == '-'
			i++
		}
		for ; i < len(text); i++ {
			if exp < 1e6 {
				exp = exp*10 + int(text[i]-'0')
			}
		}
		if expNeg {
			exp = -exp
		}
	}
	// value = intPart.frac × 10^exp = digits × 10^(exp - len(frac)).
	// Strip leading zeros of the digits and trailing zeros (raising the
	// exponent).
	exp -= len(frac)
	lead := 0
	for lead < len(intPart) && intPart[lead] == '0' {
		lead++
	}
	intPart = intPart[lead:]
	if len(intPart) == 0 {
		for len(frac) > 0 && frac[0] == '0' {
			frac = frac[1:]
		}
	}
	ndig := len(intPart) + len(frac)
	digitAt := func(k int) byte {
		if k < len(intPart) {
			return intPart[k]
		}
		return frac[k-len(intPart)]
	}
	for ndig > 0 && digitAt(ndig-1) == '0' {
		ndig--
		exp++
	}
	if ndig == 0 {
		return 0, intOK
	}
	if exp < 0 {
		return 0, intFraction
	}
	status := intTooLarge
	if neg {
		status = intTooSmall
	}
	if ndig+exp > 13 { // MaxRecordCount has 13 digits
		return 0, status
	}
	var v int64
	for k := 0; k < ndig; k++ {
		v = v*10 + int64(digitAt(k)-'0')
	}
	for ; exp > 0; exp-- {
		v *= 10
	}
	if v > MaxRecordCount {
		return 0, status
	}
	if neg {
		v = -v
	}
	return v, intOK
}
