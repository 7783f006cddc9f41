package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Timestamp is an instant with millisecond precision in UTC, the only time
// format of the contract.
//
// Its JSON and text form is RFC 3339 in UTC with exactly three fraction
// digits: 2026-11-28T09:30:00.123Z. Decoding accepts any RFC 3339
// date-time (any offset, any number of fraction digits, 't' and 'z' in
// lower case) and normalises it to UTC truncated to the millisecond. A leap
// second (23:59:60 UTC) is recorded as 23:59:59.999.
type Timestamp struct{ time.Time }

// NewTimestamp returns t in UTC truncated to the millisecond.
func NewTimestamp(t time.Time) Timestamp {
	return Timestamp{t.UTC().Truncate(time.Millisecond)}
}

// timestampLayout formats a normalised Timestamp.
const timestampLayout = "2006-01-02T15:04:05.000Z"

// errNotRFC3339 is the reason given for every malformed timestamp.
var errNotRFC3339 = errors.New("not RFC 3339")

// String returns the RFC 3339 form, 2026-11-28T09:30:00.123Z.
func (t Timestamp) String() string {
	return string(t.appendText(make([]byte, 0, len(timestampLayout))))
}

// appendText appends the normalised form of t to b.
func (t Timestamp) appendText(b []byte) []byte {
	return t.UTC().Truncate(time.Millisecond).AppendFormat(b, timestampLayout)
}

// AppendText implements encoding.TextAppender: it appends the RFC 3339
// form of t to b. It fails for a year outside 0000–9999.
func (t Timestamp) AppendText(b []byte) ([]byte, error) {
	if err := t.checkYear(); err != nil {
		return b, err
	}
	return t.appendText(b), nil
}

// MarshalText implements encoding.TextMarshaler.
func (t Timestamp) MarshalText() ([]byte, error) {
	return t.AppendText(make([]byte, 0, len(timestampLayout)))
}

// MarshalJSON implements json.Marshaler. It must be defined: the embedded
// time.Time's MarshalJSON (RFC 3339 with up to nine fraction digits) would
// otherwise be promoted and used.
func (t Timestamp) MarshalJSON() ([]byte, error) {
	if err := t.checkYear(); err != nil {
		return nil, err
	}
	b := make([]byte, 0, len(timestampLayout)+2)
	b = append(b, '"')
	b = t.appendText(b)
	return append(b, '"'), nil
}

func (t Timestamp) checkYear() error {
	if y := t.UTC().Year(); y < 0 || y > 9999 {
		return fmt.Errorf("event: timestamp %v: year outside 0000-9999 has no RFC 3339 form", t.Time)
	}
	return nil
}

// UnmarshalText implements encoding.TextUnmarshaler. The error says
// "not RFC 3339".
func (t *Timestamp) UnmarshalText(b []byte) error {
	v, ok := parseRFC3339(b)
	if !ok {
		return fmt.Errorf("event: timestamp %q: %w", truncateForMessage(b), errNotRFC3339)
	}
	*t = Timestamp{v}
	return nil
}

// UnmarshalJSON implements json.Unmarshaler: the value must be a JSON
// string holding RFC 3339; JSON null leaves t unchanged, as encoding/json
// does for other types.
func (t *Timestamp) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return fmt.Errorf("event: timestamp %s: %w: want a JSON string", truncateForMessage(b), errNotRFC3339)
	}
	if bytes.IndexByte(b, '\\') < 0 {
		return t.UnmarshalText(b[1 : len(b)-1])
	}
	var s string // escaped, as in "2026-11-28T09:30:00\u005a"
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("event: timestamp %s: %w", truncateForMessage(b), errNotRFC3339)
	}
	return t.UnmarshalText([]byte(s))
}

// ParseTimestamp parses an RFC 3339 date-time and normalises it like
// Timestamp.UnmarshalText.
func ParseTimestamp(s string) (Timestamp, error) {
	var t Timestamp
	err := t.UnmarshalText([]byte(s))
	return t, err
}

// parseRFC3339 parses an RFC 3339 date-time (section 5.6) and returns it in
// UTC truncated to the millisecond. It does not allocate.
//
//	date-time = full-date ("T" / "t") full-time
//	full-date = 4DIGIT "-" 2DIGIT "-" 2DIGIT
//	full-time = 2DIGIT ":" 2DIGIT ":" 2DIGIT ["." 1*DIGIT] ("Z" / "z" / ("+" / "-") 2DIGIT ":" 2DIGIT)
func parseRFC3339(b []byte) (time.Time, bool) {
	if len(b) < len("2006-01-02T15:04:05Z") {
		return time.Time{}, false
	}
	year, ok1 := digits(b[0:4])
	month, ok2 := digits(b[5:7])
	day, ok3 := digits(b[8:10])
	hour, ok4 := digits(b[11:13])
	minute, ok5 := digits(b[14:16])
	sec, ok6 := digits(b[17:19])
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || !ok6 ||
		b[4] != '-' || b[7] != '-' || (b[10] != 'T' && b[10] != 't') || b[13] != ':' || b[16] != ':' {
		return time.Time{}, false
	}
	if month < 1 || month > 12 || day < 1 || day > daysIn(month, year) ||
		hour > 23 || minute > 59 || sec > 60 {
		return time.Time{}, false
	}
	rest := b[19:]
	nanos := 0
	if rest[0] == '.' {
		n := 1
		for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
			if n <= 9 {
				nanos = nanos*10 + int(rest[n]-'0')
			}
			n++
		}
		if n == 1 {
			return time.Time{}, false
		}
		for i := n; i <= 9; i++ {
			nanos *= 10
		}
		rest = rest[n:]
	}
	offset := 0
	switch {
	case len(rest) == 1 && (rest[0] == 'Z' || rest[0] == 'z'):
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		oh, okh := digits(rest[1:3])
		om, okm := digits(rest[4:6])
		if !okh || !okm || oh > 23 || om > 59 {
			return time.Time{}, false
		}
		offset = (oh*60 + om) * 60
		if rest[0] == '-' {
			offset = -offset
		}
	default:
		return time.Time{}, false
	}
	leap := sec == 60
	if leap {
		sec = 59
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nanos, time.UTC).
		Add(-time.Duration(offset) * time.Second)
	if leap {
		// RFC 3339 allows a leap second only at the end of a UTC day.
		if t.Hour() != 23 || t.Minute() != 59 {
			return time.Time{}, false
		}
		return t.Truncate(time.Second).Add(time.Second - time.Millisecond), true
	}
	return t.Truncate(time.Millisecond), true
}

// digits parses a fixed-width run of ASCII digits.
func digits(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// truncateForMessage bounds outside input quoted in an error message.
func truncateForMessage(b []byte) []byte {
	const limit = 64
	if len(b) > limit {
		return b[:limit]
	}
	return b
}
