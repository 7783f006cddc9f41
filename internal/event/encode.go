package event

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"
)

// Hand-written JSON encoders for the records the collector produces.
//
// Each AppendJSON writes exactly the bytes json.Marshal writes for the same
// value — field order, omitempty and omitzero, HTML-safe string escaping,
// U+FFFD for invalid UTF-8, float formatting, sorted attrs keys — without
// reflection and, given a buffer with room, without allocating. The tests
// (encode_test.go) hold them to json.Marshal on fixed and fuzzed events; a
// field added to one of these types must be added here too, and the tests
// fail until it is.
//
// json.Marshal fails on two kinds of value that AppendJSON, which cannot
// fail, writes anyway: a float that is NaN or infinite (written as null) and
// a Timestamp whose year is outside 0000–9999 (written with the year as
// time.Format gives it). Neither passes ValidateAccess or ValidateDevice,
// so neither reaches the bus.

// AppendJSON appends the JSON encoding of e to b and returns the extended
// buffer. The bytes are those of json.Marshal(e) for every e that
// json.Marshal encodes without error (see above for the others).
func (e *AccessEvent) AppendJSON(b []byte) []byte {
	b = append(b, '{')
	if e.EventID != "" {
		b = append(b, `"event_id":`...)
		b = appendString(b, e.EventID)
		b = append(b, ',')
	}
	b = append(b, `"occurred_at":`...)
	b = e.OccurredAt.appendJSON(b)
	if !e.ReceivedAt.IsZero() {
		b = append(b, `,"received_at":`...)
		b = e.ReceivedAt.appendJSON(b)
	}
	if e.Source != "" {
		b = append(b, `,"source":`...)
		b = appendString(b, e.Source)
	}
	b = append(b, `,"org":`...)
	b = appendString(b, e.Org)
	b = append(b, `,"actor":`...)
	b = e.Actor.appendJSON(b)
	b = append(b, `,"action":`...)
	b = appendString(b, string(e.Action))
	if e.Subject != (Subject{}) {
		b = append(b, `,"subject":`...)
		b = e.Subject.appendJSON(b)
	}
	if len(e.Categories) > 0 {
		b = append(b, `,"categories":[`...)
		for i, c := range e.Categories {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, string(c))
		}
		b = append(b, ']')
	}
	if e.RecordCount != 0 {
		b = append(b, `,"record_count":`...)
		b = strconv.AppendInt(b, e.RecordCount, 10)
	}
	if e.Purpose != "" {
		b = append(b, `,"purpose":`...)
		b = appendString(b, e.Purpose)
	}
	b = append(b, `,"relationship":`...)
	b = appendString(b, string(e.Relationship))
	b = append(b, `,"outcome":`...)
	b = appendString(b, string(e.Outcome))
	if e.Client != (Client{}) {
		b = append(b, `,"client":`...)
		b = e.Client.appendJSON(b)
	}
	if e.SessionID != "" {
		b = append(b, `,"session_id":`...)
		b = appendString(b, e.SessionID)
	}
	if e.RequestID != "" {
		b = append(b, `,"request_id":`...)
		b = appendString(b, e.RequestID)
	}
	if len(e.Attrs) > 0 {
		b = append(b, `,"attrs":`...)
		b = appendAttrs(b, e.Attrs)
	}
	return append(b, '}')
}

func (a *Actor) appendJSON(b []byte) []byte {
	b = append(b, `{"id":`...)
	b = appendString(b, a.ID)
	b = append(b, `,"type":`...)
	b = appendString(b, string(a.Type))
	if a.Role != "" {
		b = append(b, `,"role":`...)
		b = appendString(b, a.Role)
	}
	if a.Department != "" {
		b = append(b, `,"department":`...)
		b = appendString(b, a.Department)
	}
	return append(b, '}')
}

func (s *Subject) appendJSON(b []byte) []byte {
	b = append(b, `{"id":`...)
	b = appendString(b, s.ID)
	b = append(b, `,"type":`...)
	b = appendString(b, string(s.Type))
	if s.Minor {
		b = append(b, `,"minor":true`...)
	}
	if s.VIP {
		b = append(b, `,"vip":true`...)
	}
	if s.Employee {
		b = append(b, `,"employee":true`...)
	}
	return append(b, '}')
}

func (c *Client) appendJSON(b []byte) []byte {
	b = append(b, '{')
	start := len(b)
	b = appendStringField(b, start, "ip", c.IP)
	b = appendStringField(b, start, "user_agent", c.UserAgent)
	b = appendStringField(b, start, "device_id", c.DeviceID)
	if c.Geo != (Geo{}) {
		b = appendKey(b, start, "geo")
		b = c.Geo.appendJSON(b)
	}
	return append(b, '}')
}

func (g *Geo) appendJSON(b []byte) []byte {
	b = append(b, '{')
	start := len(b)
	b = appendStringField(b, start, "country", g.Country)
	b = appendStringField(b, start, "region", g.Region)
	b = appendStringField(b, start, "city", g.City)
	if g.Lat != nil {
		b = appendKey(b, start, "lat")
		b = appendFloat(b, *g.Lat)
	}
	if g.Lon != nil {
		b = appendKey(b, start, "lon")
		b = appendFloat(b, *g.Lon)
	}
	return append(b, '}')
}

// AppendJSON appends the JSON encoding of e to b and returns the extended
// buffer. The bytes are those of json.Marshal(e) for every e that
// json.Marshal encodes without error (see AccessEvent.AppendJSON).
func (e *DeviceEvent) AppendJSON(b []byte) []byte {
	b = append(b, '{')
	if e.EventID != "" {
		b = append(b, `"event_id":`...)
		b = appendString(b, e.EventID)
		b = append(b, ',')
	}
	b = append(b, `"occurred_at":`...)
	b = e.OccurredAt.appendJSON(b)
	if !e.ReceivedAt.IsZero() {
		b = append(b, `,"received_at":`...)
		b = e.ReceivedAt.appendJSON(b)
	}
	if e.Source != "" {
		b = append(b, `,"source":`...)
		b = appendString(b, e.Source)
	}
	b = append(b, `,"org":`...)
	b = appendString(b, e.Org)
	b = append(b, `,"account_id":`...)
	b = appendString(b, e.AccountID)
	b = append(b, `,"device_id":`...)
	b = appendString(b, e.DeviceID)
	b = append(b, `,"kind":`...)
	b = appendString(b, string(e.Kind))
	if e.Device != (Device{}) {
		b = append(b, `,"device":`...)
		b = e.Device.appendJSON(b)
	}
	if e.Signals != (Signals{}) {
		b = append(b, `,"signals":`...)
		b = e.Signals.appendJSON(b)
	}
	if e.Network != (Network{}) {
		b = append(b, `,"network":`...)
		b = e.Network.appendJSON(b)
	}
	if l := e.Location; l != nil {
		b = append(b, `,"location":{"lat":`...)
		b = appendFloat(b, l.Lat)
		b = append(b, `,"lon":`...)
		b = appendFloat(b, l.Lon)
		if l.AccuracyM != 0 { // -0 too, as omitempty
			b = append(b, `,"accuracy_m":`...)
			b = appendFloat(b, l.AccuracyM)
		}
		b = append(b, '}')
	}
	b = append(b, `,"outcome":`...)
	b = appendString(b, string(e.Outcome))
	if len(e.Attrs) > 0 {
		b = append(b, `,"attrs":`...)
		b = appendAttrs(b, e.Attrs)
	}
	return append(b, '}')
}

func (d *Device) appendJSON(b []byte) []byte {
	b = append(b, '{')
	start := len(b)
	b = appendStringField(b, start, "model", d.Model)
	b = appendStringField(b, start, "os", d.OS)
	b = appendStringField(b, start, "os_version", d.OSVersion)
	b = appendStringField(b, start, "app_version", d.AppVersion)
	return append(b, '}')
}

func (s *Signals) appendJSON(b []byte) []byte {
	b = append(b, '{')
	start := len(b)
	b = appendTrueField(b, start, "emulator", s.Emulator)
	b = appendTrueField(b, start, "rooted", s.Rooted)
	b = appendTrueField(b, start, "hook_framework", s.HookFramework)
	b = appendTrueField(b, start, "debugger", s.Debugger)
	b = appendTrueField(b, start, "app_tampered", s.AppTampered)
	b = appendTrueField(b, start, "proxy_or_vpn", s.ProxyOrVPN)
	b = appendTrueField(b, start, "multi_open", s.MultiOpen)
	b = appendTrueField(b, start, "location_spoofed", s.LocationSpoofed)
	b = appendTrueField(b, start, "remote_control", s.RemoteControl)
	return append(b, '}')
}

func (n *Network) appendJSON(b []byte) []byte {
	b = append(b, '{')
	start := len(b)
	b = appendStringField(b, start, "ip", n.IP)
	b = appendStringField(b, start, "carrier", n.Carrier)
	b = appendStringField(b, start, "wifi_bssid", n.WiFiBSSID)
	return append(b, '}')
}

// AppendJSON appends the JSON encoding of d to b and returns the extended
// buffer. The bytes are those of json.Marshal(d) for every d that
// json.Marshal encodes without error (see AccessEvent.AppendJSON).
func (d *DeadLetter) AppendJSON(b []byte) []byte {
	b = append(b, `{"dead_letter_id":`...)
	b = appendString(b, d.DeadLetterID)
	b = append(b, `,"received_at":`...)
	b = d.ReceivedAt.appendJSON(b)
	b = append(b, `,"source":`...)
	b = appendString(b, d.Source)
	b = append(b, `,"receiver":`...)
	b = appendString(b, d.Receiver)
	b = append(b, `,"kind":`...)
	b = appendString(b, d.Kind)
	b = append(b, `,"reason":`...)
	b = appendString(b, d.Reason)
	b = append(b, `,"problems":`...)
	if d.Problems == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, p := range d.Problems {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, p)
		}
		b = append(b, ']')
	}
	if d.Location != "" {
		b = append(b, `,"location":`...)
		b = appendString(b, d.Location)
	}
	if d.EventID != "" {
		b = append(b, `,"event_id":`...)
		b = appendString(b, d.EventID)
	}
	b = append(b, `,"raw":`...)
	b = appendString(b, d.Raw)
	b = append(b, `,"raw_bytes":`...)
	b = strconv.AppendInt(b, int64(d.RawBytes), 10)
	if d.Truncated {
		b = append(b, `,"truncated":true`...)
	}
	return append(b, '}')
}

// appendJSON appends t as MarshalJSON does, without its year check.
func (t Timestamp) appendJSON(b []byte) []byte {
	b = append(b, '"')
	b = t.appendText(b)
	return append(b, '"')
}

// appendKey appends `"key":`, preceded by a comma unless the object that
// started at start is still empty.
func appendKey(b []byte, start int, key string) []byte {
	if len(b) > start {
		b = append(b, ',')
	}
	b = append(b, '"')
	b = append(b, key...)
	return append(b, '"', ':')
}

// appendStringField appends an omitempty string member (see appendKey).
func appendStringField(b []byte, start int, key, v string) []byte {
	if v == "" {
		return b
	}
	return appendString(appendKey(b, start, key), v)
}

// appendTrueField appends an omitempty bool member (see appendKey).
func appendTrueField(b []byte, start int, key string, v bool) []byte {
	if !v {
		return b
	}
	return append(appendKey(b, start, key), "true"...)
}

// appendAttrs appends m as encoding/json does: keys sorted bytewise.
func appendAttrs(b []byte, m map[string]string) []byte {
	var buf [MaxAttrs]string // on the stack: no allocation up to MaxAttrs keys
	keys := buf[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		b = appendString(b, m[k])
	}
	return append(b, '}')
}

// appendFloat appends f as encoding/json encodes a float64: like ES6
// number-to-string, with 'e' notation below 1e-6 and from 1e21 on and no
// leading zero in the exponent. NaN and ±Inf, which json.Marshal refuses,
// are written as null.
func appendFloat(b []byte, f float64) []byte {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return append(b, "null"...)
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// jsonSafe[c] tells that ASCII byte c goes into a JSON string unescaped by
// encoding/json with HTML escaping on (its htmlSafeSet): every printable
// byte but ", \, <, > and &.
var jsonSafe = func() (set [utf8.RuneSelf]bool) {
	for c := ' '; c < utf8.RuneSelf; c++ {
		set[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return set
}()

const lowerHex = "0123456789abcdef"

// appendString appends s as a JSON string exactly as encoding/json does
// (with its default HTML escaping): ", \ and the short control escapes
// \b \f \n \r \t; other control bytes and <, >, & as \u00xx; U+2028 and
// U+2029 as \u2028 and \u2029; each byte of invalid UTF-8 as encoding/json does (see invalidUTF8).
func appendString(b []byte, s string) []byte { return AppendJSONString(b, s) }

// invalidUTF8 is what encoding/json writes for a byte of invalid UTF-8:
// the escape \ufffd up to Go 1.26, the character U+FFFD itself from Go
// 1.27 on. Both decode to the same string; taking it from the running
// encoding/json keeps AppendJSON byte-identical to json.Marshal on every
// toolchain.
var invalidUTF8 = func() []byte {
	b, err := json.Marshal("\xff")
	if err != nil || len(b) < 2 {
		return []byte(`\ufffd`)
	}
	return b[1 : len(b)-1]
}()

// AppendJSONString appends s as a JSON string exactly as encoding/json
// writes it (see appendString). Other packages that build event JSON by
// hand use it so that their strings match what Vigil puts on the bus.
func AppendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if jsonSafe[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', lowerHex[c>>4], lowerHex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, invalidUTF8...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', lowerHex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
