package pseudo

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"hash"
	"sync"
)

// Namespace separates kinds of identifier, so that equal strings of
// different kinds get unrelated tokens and equal strings of one kind get
// the same token. It is the first input to the HMAC.
type Namespace uint8

// Namespaces. The name is what goes into the HMAC; the prefix starts the
// token.
const (
	// Person: people and their accounts (subject.id, account_id, actor.id
	// when tokenised, phone numbers, e-mail addresses, ID numbers). HMAC
	// name "person", token prefix "p_".
	Person Namespace = iota + 1
	// Device: devices and their hardware identifiers (device_id,
	// client.device_id, IMEI, IMSI, Android ID, IDFA, OAID, MAC). HMAC name
	// "device", token prefix "d_".
	Device
	// Network: Wi-Fi access points (network.wifi_bssid, BSSID and SSID
	// attrs). HMAC name "network", token prefix "n_".
	Network
)

var nsNames = [...]string{Person: "person", Device: "device", Network: "network"}

var nsPrefix = [...]byte{Person: 'p', Device: 'd', Network: 'n'}

// Namespaces lists every Namespace.
func Namespaces() []Namespace { return []Namespace{Person, Device, Network} }

// String returns the namespace's name: person, device or network.
func (ns Namespace) String() string {
	if !ns.valid() {
		return "invalid"
	}
	return nsNames[ns]
}

// Prefix returns the token prefix of the namespace, with its underscore:
// "p_", "d_" or "n_".
func (ns Namespace) Prefix() string {
	if !ns.valid() {
		return ""
	}
	return string(nsPrefix[ns]) + "_"
}

func (ns Namespace) valid() bool { return ns >= Person && ns <= Network }

// parseNamespace returns the namespace named s.
func parseNamespace(s string) (Namespace, bool) {
	for _, ns := range Namespaces() {
		if nsNames[ns] == s {
			return ns, true
		}
	}
	return 0, false
}

const (
	// tokenBytes is how many bytes of the HMAC a token keeps (160 bits).
	tokenBytes = 20
	// TokenLen is the length of every token: a letter, an underscore and
	// 32 characters of lowercase base32.
	TokenLen = 2 + (tokenBytes*8+4)/5
)

// b32 is RFC 4648 base32 in lower case without padding. 20 bytes encode
// to exactly 32 characters, so no padding would ever be needed.
var b32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// IsToken reports whether s has the shape of a token — a namespace
// prefix, an underscore and 32 characters of lowercase base32 — and in
// which namespace. The shape is all that can be checked: whether s was made
// with a given key cannot be told without the value it stands for.
func IsToken(s string) (Namespace, bool) {
	if len(s) != TokenLen || s[1] != '_' {
		return 0, false
	}
	var ns Namespace
	switch s[0] {
	case 'p':
		ns = Person
	case 'd':
		ns = Device
	case 'n':
		ns = Network
	default:
		return 0, false
	}
	for i := 2; i < len(s); i++ {
		if !isB32(s[i]) {
			return 0, false
		}
	}
	return ns, true
}

func isB32(c byte) bool { return 'a' <= c && c <= 'z' || '2' <= c && c <= '7' }

// tokenizer computes tokens with one key. It is safe for concurrent use:
// HMAC states are pooled, and a pooled state is reset to the keyed state
// (a copy, not a re-keying) before use.
type tokenizer struct {
	pool sync.Pool
}

// macState is one pooled HMAC with its scratch space, kept together so
// that computing a token allocates nothing but the token string.
type macState struct {
	h   hash.Hash
	buf []byte
	sum [sha256.Size]byte
}

func newTokenizer(key []byte) *tokenizer {
	k := append([]byte(nil), key...)
	t := &tokenizer{}
	t.pool.New = func() any {
		return &macState{h: hmac.New(sha256.New, k), buf: make([]byte, 0, 128)}
	}
	return t
}

// token returns the token of value in ns. An empty value stays empty, a
// value that is already a token of ns is returned unchanged, and the value
// is normalised first (see normalise).
func (t *tokenizer) token(ns Namespace, value string) string {
	if value == "" {
		return ""
	}
	if got, ok := IsToken(value); ok && got == ns {
		return value
	}
	value = normalise(value)
	st := t.pool.Get().(*macState)
	st.h.Reset()
	st.buf = append(st.buf[:0], nsNames[ns]...)
	st.buf = append(st.buf, 0)
	st.buf = append(st.buf, value...)
	st.h.Write(st.buf)
	sum := st.h.Sum(st.sum[:0])
	var out [TokenLen]byte
	out[0] = nsPrefix[ns]
	out[1] = '_'
	b32.Encode(out[2:], sum[:tokenBytes])
	if cap(st.buf) > 1024 {
		st.buf = make([]byte, 0, 128) // do not keep a huge value's buffer in the pool
	}
	t.pool.Put(st)
	return string(out[:])
}

// normalise returns the canonical form of identifiers that are commonly
// written in more than one way, so that every way gives one token:
//
//   - a MAC address (six hex pairs separated by ':' or '-', either case)
//     becomes lower case with colons: aa:bb:cc:dd:ee:ff;
//   - a mainland mobile number (11 digits 1[3-9]…, optionally with a +86,
//     0086 or 86 prefix and 3-4-4 groups separated by spaces or dashes)
//     becomes its 11 digits: 13800138000;
//   - an 18-character ID number ending in a lowercase x gets an upper-case
//     X;
//   - an e-mail address (local@domain.tld) becomes ASCII lower case.
//
// Everything else is returned unchanged. normalise allocates only when it
// changes the value.
func normalise(v string) string {
	switch {
	case len(v) == 17 && isMAC(v, 0):
		return canonicalMAC(v)
	case len(v) == 18 && v[17] == 'x' && allDigits(v[:17]):
		return v[:17] + "X"
	}
	if len(v) >= 11 && len(v) <= 19 {
		if d, ok := mobileDigits(v); ok {
			return d
		}
	}
	if i := indexByte(v, '@'); i > 0 && isEmail(v) {
		return asciiLower(v)
	}
	return v
}

// isMAC reports whether s[i:i+17] is six hex pairs separated by one
// separator, ':' or '-', used throughout.
func isMAC[S ~string | ~[]byte](s S, i int) bool {
	if len(s)-i < 17 {
		return false
	}
	sep := s[i+2]
	if sep != ':' && sep != '-' {
		return false
	}
	for k := 0; k < 6; k++ {
		j := i + 3*k
		if !isHex(s[j]) || !isHex(s[j+1]) {
			return false
		}
		if k < 5 && s[j+2] != sep {
			return false
		}
	}
	return true
}

func canonicalMAC[S ~string | ~[]byte](s S) string {
	var b [17]byte
	for i := 0; i < 17; i++ {
		c := s[i]
		switch {
		case i%3 == 2:
			c = ':'
		case 'A' <= c && c <= 'F':
			c += 'a' - 'A'
		}
		b[i] = c
	}
	return string(b[:])
}

// mobileDigits reports whether v is a mainland mobile number in one of the
// accepted forms, and returns its 11 digits.
func mobileDigits(v string) (string, bool) {
	s := v
	switch {
	case len(s) > 3 && s[:3] == "+86":
		s = s[3:]
	case len(s) > 4 && s[:4] == "0086":
		s = s[4:]
	case len(s) == 13 && s[:2] == "86":
		s = s[2:]
	}
	if len(s) != len(v) && len(s) > 0 && (s[0] == ' ' || s[0] == '-') {
		s = s[1:]
	}
	if len(s) == 11 && isMobile(s) {
		return s, s != v
	}
	if len(s) == 13 && (s[3] == ' ' || s[3] == '-') && s[8] == s[3] {
		d := s[:3] + s[4:8] + s[9:]
		if allDigits(d) && isMobile(d) {
			return d, true
		}
	}
	return "", false
}

// isMobile reports whether s, 11 digits, is a mainland mobile number:
// 1[3-9] and nine more digits.
func isMobile[S ~string | ~[]byte](s S) bool {
	return len(s) == 11 && s[0] == '1' && s[1] >= '3' && s[1] <= '9' && allDigits(s)
}

// isEmail reports whether all of s is an e-mail address as the scrubber
// finds them: a local part of [A-Za-z0-9._%+-], '@', and a domain of at
// least two dot-separated labels of [A-Za-z0-9-].
func isEmail(s string) bool {
	at := indexByte(s, '@')
	if at <= 0 {
		return false
	}
	for i := 0; i < at; i++ {
		if !isLocalChar(s[i]) {
			return false
		}
	}
	return domainLen(s, at+1) == len(s)-at-1
}

// domainLen returns the length of the e-mail domain starting at s[i]:
// labels of [A-Za-z0-9-] separated by single dots, at least two labels,
// the last of at least two letters. It returns 0 when there is none.
func domainLen[S ~string | ~[]byte](s S, i int) int {
	end, lastDot, labelStart := i, -1, i
	for j := i; j < len(s); j++ {
		c := s[j]
		switch {
		case isAlnum(c) || c == '-':
			end = j + 1
			continue
		case c == '.' && j > labelStart && j+1 < len(s) && (isAlnum(s[j+1]) || s[j+1] == '-'):
			lastDot = j
			labelStart = j + 1
			continue
		}
		break
	}
	if lastDot < 0 || end-lastDot-1 < 2 {
		return 0
	}
	for j := lastDot + 1; j < end; j++ {
		if !isLetter(s[j]) {
			return 0
		}
	}
	return end - i
}

func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

func indexByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

func allDigits[S ~string | ~[]byte](s S) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool  { return '0' <= c && c <= '9' }
func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isAlnum(c byte) bool  { return isDigit(c) || isLetter(c) }
func isHex(c byte) bool    { return isDigit(c) || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

// isLocalChar reports whether c may appear in the local part of an e-mail
// address as the scrubber recognises it.
func isLocalChar(c byte) bool {
	return isAlnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-'
}
