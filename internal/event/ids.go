package event

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"time"
)

// NewEventID returns a fresh random event id for an event that arrived
// without one: a UUID version 4 (RFC 9562) in its canonical lower-case
// form, 36 characters, 122 random bits from crypto/rand. It matches the
// event_id rules.
func NewEventID() string {
	var u [16]byte
	_, _ = rand.Read(u[:])  // crypto/rand.Read never returns an error (Go 1.24+)
	u[6] = u[6]&0x0f | 0x40 // version 4
	u[8] = u[8]&0x3f | 0x80 // variant 10
	var s [36]byte
	hex.Encode(s[0:8], u[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], u[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], u[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], u[8:10])
	s[23] = '-'
	hex.Encode(s[24:], u[10:])
	return string(s[:])
}

// AlertID returns the deterministic id of the alert that rule ruleID raises
// for group groupKey in the window starting at windowStart, so that a
// detector that restarts and re-evaluates the same window emits the same id
// and the sink and notifier drop the duplicate.
//
// The id is the first 32 hex digits (128 bits) of SHA-256 over
// "vigil.alert.v1" and the parts, each part preceded by its length as an
// 8-byte big-endian integer; windowStart enters as its RFC 3339 form in
// UTC with milliseconds (Timestamp), so that two instants in the same
// millisecond give the same id. Length prefixes keep ("a","bc") and
// ("ab","c") apart.
func AlertID(ruleID, groupKey string, windowStart time.Time) string {
	var ts [len(timestampLayout)]byte
	return hashID("vigil.alert.v1", ruleID, groupKey, string(NewTimestamp(windowStart).appendText(ts[:0])))
}

// NoticeID returns the deterministic id of the notice that fulfils
// obligation for the recipient token recipientToken in incident
// incidentID. The notifier records a notice under this id before it sends,
// so a crash and redelivery never send one recipient two notices for the
// same obligation, and never skip one.
//
// The id is built like AlertID with the domain "vigil.notice.v1".
func NoticeID(incidentID, recipientToken, obligation string) string {
	return hashID("vigil.notice.v1", incidentID, recipientToken, obligation)
}

// hashID is hex(SHA-256(len(domain) domain len(p1) p1 …))[:32].
func hashID(domain string, parts ...string) string {
	h := sha256.New()
	var n [8]byte
	for _, p := range append([]string{domain}, parts...) {
		binary.BigEndian.PutUint64(n[:], uint64(len(p)))
		h.Write(n[:])
		h.Write([]byte(p))
	}
	var sum [sha256.Size]byte
	var out [32]byte
	hex.Encode(out[:], h.Sum(sum[:0])[:16])
	return string(out[:])
}
