package syslog

import (
	"bytes"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Format is the syslog message format a message was parsed as.
type Format uint8

// Formats. FormatUnknown is the zero value: the message could not be
// parsed far enough to tell.
const (
	FormatUnknown Format = iota
	RFC5424
	RFC3164
)

// String returns "rfc5424", "rfc3164" or "unknown"; these are also the
// values of the format label of vigil_collector_syslog_messages_total
// (which uses "invalid" for a message that did not parse).
func (f Format) String() string {
	switch f {
	case RFC5424:
		return "rfc5424"
	case RFC3164:
		return "rfc3164"
	}
	return "unknown"
}

// Message is one parsed syslog message.
//
// The string fields are empty when the sender sent NILVALUE ("-") or, for
// RFC 3164, when the part is absent. Msg points into the input given to
// Parse: it is not a copy.
type Message struct {
	Format Format
	// Facility is PRI / 8 (0 to 23) and Severity is PRI % 8 (0 to 7).
	Facility, Severity int
	// Timestamp is when the sender says the message was made, in UTC. It is
	// zero when the sender sent NILVALUE (RFC 5424) or no timestamp it
	// could read (RFC 3164).
	Timestamp time.Time
	// Hostname, AppName, ProcID and MsgID are the header fields. RFC 3164
	// has no MSGID; its TAG is AppName and the [pid] after it ProcID.
	Hostname, AppName, ProcID, MsgID string
	// StructuredData holds the SD-ELEMENTs in the order sent (RFC 5424
	// only), with escapes in parameter values removed.
	StructuredData []SDElement
	// Msg is the free-form message: for RFC 5424 without the UTF-8 BOM
	// that may start it. Nil when absent.
	Msg []byte
}

// Element returns the first SD-ELEMENT with the given SD-ID.
func (m *Message) Element(id string) (SDElement, bool) {
	for _, e := range m.StructuredData {
		if e.ID == id {
			return e, true
		}
	}
	return SDElement{}, false
}

// SDElement is one RFC 5424 structured data element: [ID name="value" …].
type SDElement struct {
	ID     string
	Params []SDParam
}

// SDParam is one parameter of an SDElement. Value has its escapes (\" \\
// \]) removed. A name may repeat within an element.
type SDParam struct {
	Name, Value string
}

// Field length limits of RFC 5424 (section 6).
const (
	maxHostname = 255
	maxAppName  = 48
	maxProcID   = 128
	maxMsgID    = 32
	maxSDName   = 32
	maxPRI      = 191
)

// utf8BOM starts an RFC 5424 MSG that is UTF-8.
var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// ParseError says what is wrong with a message and where.
//
// Its text is "syslog: [FORMAT: ]FIELD at byte OFFSET: REASON", e.g.
//
//	syslog: rfc5424: structured data: param "x" at byte 57: missing closing quote
//
// The text never quotes the content of a field (which may hold personal
// data), only SD-IDs and param names, so it is safe to log.
type ParseError struct {
	// Format is the format the message was being parsed as; FormatUnknown
	// for problems found before the format is known (PRI, empty input).
	Format Format
	// Field names the part of the message at fault: "PRI", "version",
	// "timestamp", "hostname", "app-name", "procid", "msgid",
	// "structured data…", "msg".
	Field string
	// Offset is the 0-based byte offset in the input where the problem is.
	Offset int
	// Reason says what is wrong.
	Reason string
}

func (e *ParseError) Error() string {
	var b strings.Builder
	b.WriteString("syslog: ")
	if e.Format != FormatUnknown {
		b.WriteString(e.Format.String())
		b.WriteString(": ")
	}
	b.WriteString(e.Field)
	b.WriteString(" at byte ")
	b.WriteString(strconv.Itoa(e.Offset))
	b.WriteString(": ")
	b.WriteString(e.Reason)
	return b.String()
}

// Parser parses syslog messages. The zero value is ready to use: it
// resolves RFC 3164 timestamps against time.Now in time.Local.
type Parser struct {
	// Now returns the current time. RFC 3164 timestamps carry no year; they
	// get the latest year (the next, the current or the last) that does not
	// put them more than 7 days after Now. Nil means time.Now.
	Now func() time.Time
	// Location is the time zone of RFC 3164 timestamps that carry no
	// offset. Nil means time.Local, as rsyslog does.
	Location *time.Location
}

// Parse parses one syslog message with the zero Parser.
func Parse(b []byte) (Message, error) { return Parser{}.Parse(b) }

// Parse parses one syslog message, without framing (no octet count, no
// trailing newline), detecting its format: after the PRI, one to three
// digits and a space are an RFC 5424 VERSION; anything else is RFC 3164.
//
// RFC 5424 messages are validated strictly (section 6): PRI 0..191,
// VERSION 1, printable US-ASCII header fields within their lengths
// (HOSTNAME 255, APP-NAME 48, PROCID 128, MSGID 32), TIMESTAMP as RFC 3339
// with at most 6 fraction digits and no leap second, SD-NAMEs of 1 to 32
// printable characters other than '=', ' ', ']' and '"', SD-IDs either
// without '@' or name@<enterprise number>, no SD-ID twice, parameter
// values in UTF-8, and UTF-8 after a BOM in MSG. One leniency: an
// unescaped ']' inside a quoted parameter value is accepted, since it is
// unambiguous there.
//
// RFC 3164 messages are read the way relays do (section 4.3): a PRI is
// required; a timestamp "Mmm dd hh:mm:ss" (day space- or zero-padded,
// optional fraction) or RFC 3339 (rsyslog's RSYSLOG_ForwardFormat) is
// read if present, otherwise the whole rest is MSG; the hostname may be
// missing (a first word that is a TAG, like "su:" or "sshd[42]:", is taken
// as the TAG); TAG[pid] becomes AppName and ProcID.
func (p Parser) Parse(b []byte) (Message, error) {
	var m Message
	if len(b) == 0 {
		return m, &ParseError{Field: "message", Offset: 0, Reason: "empty"}
	}
	pri, pos, err := parsePRI(b)
	if err != nil {
		return m, err
	}
	m.Facility, m.Severity = pri/8, pri%8
	n := 0
	for pos+n < len(b) && n < 4 && isDigit(b[pos+n]) {
		n++
	}
	if n >= 1 && n <= 3 && pos+n < len(b) && b[pos+n] == ' ' {
		m.Format = RFC5424
		err = parse5424(b, pos, n, &m)
	} else {
		m.Format = RFC3164
		err = p.parse3164(b, pos, &m)
	}
	if err != nil {
		return Message{}, err
	}
	return m, nil
}

// parsePRI reads "<PRIVAL>" and returns PRIVAL and the offset after '>'.
func parsePRI(b []byte) (int, int, error) {
	if b[0] != '<' {
		return 0, 0, &ParseError{Field: "PRI", Offset: 0, Reason: "want '<', got " + quoteByte(b[0])}
	}
	i := 1
	for i < len(b) && i <= 4 && isDigit(b[i]) {
		i++
	}
	switch {
	case i == 1:
		return 0, 0, &ParseError{Field: "PRI", Offset: 1, Reason: "want 1 to 3 digits" + got(b, 1)}
	case i > 4:
		return 0, 0, &ParseError{Field: "PRI", Offset: 1, Reason: "more than 3 digits"}
	case i > 2 && b[1] == '0':
		return 0, 0, &ParseError{Field: "PRI", Offset: 1, Reason: "leading zero"}
	}
	pri, _ := strconv.Atoi(string(b[1:i]))
	if pri > maxPRI {
		return 0, 0, &ParseError{Field: "PRI", Offset: 1, Reason: strconv.Itoa(pri) + " is more than 191"}
	}
	if i == len(b) || b[i] != '>' {
		return 0, 0, &ParseError{Field: "PRI", Offset: i, Reason: "want '>'" + got(b, i)}
	}
	return pri, i + 1, nil
}

// parse5424 parses the rest of an RFC 5424 message; pos is the offset of
// the VERSION, n its length.
func parse5424(b []byte, pos, n int, m *Message) error {
	fail := func(field string, off int, reason string) error {
		return &ParseError{Format: RFC5424, Field: field, Offset: off, Reason: reason}
	}
	if b[pos] == '0' && n > 1 {
		return fail("version", pos, "leading zero")
	}
	if v := string(b[pos : pos+n]); v != "1" {
		return fail("version", pos, v+" is not supported, want 1")
	}
	pos += n + 1

	// TIMESTAMP
	end := tokenEnd(b, pos)
	switch {
	case end == pos:
		return fail("timestamp", pos, missing(b, pos))
	case end-pos == 1 && b[pos] == '-':
	default:
		t, err := parseRFC3339(b[pos:end], pos, 6, true)
		if err != nil {
			err.Format = RFC5424
			return err
		}
		m.Timestamp = t
	}
	pos = end

	// HOSTNAME APP-NAME PROCID MSGID: each SP then a token, read into one
	// string to allocate once.
	fields := [4]struct {
		name string
		max  int
	}{{"hostname", maxHostname}, {"app-name", maxAppName}, {"procid", maxProcID}, {"msgid", maxMsgID}}
	var bounds [4][2]int
	hdrStart := pos + 1
	for i, f := range fields {
		if pos == len(b) { // tokens end at ' ' or the end
			return fail(f.name, pos, "message ends early")
		}
		pos++
		end := tokenEnd(b, pos)
		if end == pos {
			return fail(f.name, pos, missing(b, pos))
		}
		if end-pos > f.max {
			return fail(f.name, pos, strconv.Itoa(end-pos)+" bytes, more than "+strconv.Itoa(f.max))
		}
		if j := notPrintASCII(b[pos:end]); j >= 0 {
			return fail(f.name, pos+j, "byte "+hexByte(b[pos+j])+" is not printable US-ASCII")
		}
		bounds[i] = [2]int{pos - hdrStart, end - hdrStart}
		pos = end
	}
	hdr := string(b[hdrStart:pos])
	dst := [4]*string{&m.Hostname, &m.AppName, &m.ProcID, &m.MsgID}
	for i, bd := range bounds {
		if v := hdr[bd[0]:bd[1]]; v != "-" {
			*dst[i] = v
		}
	}

	// STRUCTURED-DATA
	if pos == len(b) {
		return fail("structured data", pos, "message ends early")
	}
	pos++
	switch {
	case pos == len(b):
		return fail("structured data", pos, "message ends early, want '[' or '-'")
	case b[pos] == '-':
		pos++
	case b[pos] == '[':
		sd, next, err := parseSD(b, pos)
		if err != nil {
			return err
		}
		m.StructuredData, pos = sd, next
	default:
		return fail("structured data", pos, "want '[' or '-'"+got(b, pos))
	}

	// MSG
	if pos == len(b) {
		return nil
	}
	if b[pos] != ' ' {
		return fail("msg", pos, "want ' ' after the structured data"+got(b, pos))
	}
	pos++
	msg := b[pos:]
	if bytes.HasPrefix(msg, utf8BOM) {
		msg = msg[len(utf8BOM):]
		if !utf8.Valid(msg) {
			return fail("msg", pos+len(utf8BOM), "not valid UTF-8 after the BOM")
		}
	}
	if len(msg) > 0 {
		m.Msg = msg
	}
	return nil
}

// parseSD parses one or more SD-ELEMENTs starting at b[pos] == '[' and
// returns them and the offset after the last ']'. Names and values without
// escapes end up as substrings of one string, so that structured data
// costs a few allocations however many params it has.
func parseSD(b []byte, pos int) ([]SDElement, int, error) {
	fail := func(field string, off int, reason string) error {
		return &ParseError{Format: RFC5424, Field: "structured data: " + field, Offset: off, Reason: reason}
	}
	type span struct{ i, j int }
	type param struct {
		name, value span
		unescaped   string // the value, when it had escapes
		escaped     bool
	}
	type elem struct {
		id     span
		params int // number of params
	}
	var elemBuf [4]elem
	var paramBuf [16]param
	elems, params := elemBuf[:0], paramBuf[:0]
	start := pos
	for pos < len(b) && b[pos] == '[' {
		elemStart := pos
		pos++
		end, err := sdName(b, pos, "SD-ID")
		if err != nil {
			return nil, 0, err
		}
		id := b[pos:end]
		if reason := checkSDID(id); reason != "" {
			return nil, 0, fail("SD-ID "+strconv.Quote(string(id)), pos, reason)
		}
		for _, e := range elems {
			if string(b[e.id.i:e.id.j]) == string(id) {
				return nil, 0, fail("element "+strconv.Quote(string(id)), elemStart, "duplicate SD-ID")
			}
		}
		e := elem{id: span{pos, end}}
		pos = end
		for {
			if pos == len(b) {
				return nil, 0, fail("element "+strconv.Quote(string(id)), elemStart, "message ends before ']'")
			}
			if b[pos] == ']' {
				pos++
				break
			}
			pos++ // ' ': sdName and the value check below stop only there or at ']'
			nameEnd, err := sdName(b, pos, "param")
			if err != nil {
				return nil, 0, err
			}
			name := b[pos:nameEnd]
			pfail := func(off int, reason string) error {
				return fail("param "+strconv.Quote(string(name)), off, reason)
			}
			if nameEnd == len(b) || b[nameEnd] != '=' {
				return nil, 0, pfail(nameEnd, "want '=' after the name"+got(b, nameEnd))
			}
			q := nameEnd + 1
			if q == len(b) || b[q] != '"' {
				return nil, 0, pfail(q, "want '\"' after '='"+got(b, q))
			}
			i, escaped := q+1, false
			for i < len(b) && b[i] != '"' {
				if b[i] == '\\' && i+1 < len(b) {
					escaped = true
					i++
				}
				i++
			}
			if i >= len(b) {
				return nil, 0, pfail(q, "missing closing quote")
			}
			if !utf8.Valid(b[q+1 : i]) {
				return nil, 0, pfail(q+1, "value is not valid UTF-8")
			}
			p := param{name: span{pos, nameEnd}, value: span{q + 1, i}, escaped: escaped}
			if escaped {
				p.unescaped = unescapeSD(b[q+1 : i])
			}
			params = append(params, p)
			e.params++
			pos = i + 1
			if pos < len(b) && b[pos] != ' ' && b[pos] != ']' {
				return nil, 0, pfail(pos, "want ' ' or ']' after the value"+got(b, pos))
			}
		}
		elems = append(elems, e)
	}

	s := string(b[start:pos])
	sub := func(sp span) string { return s[sp.i-start : sp.j-start] }
	out := make([]SDElement, len(elems))
	var all []SDParam
	if len(params) > 0 {
		all = make([]SDParam, len(params))
	}
	k := 0
	for n, e := range elems {
		out[n].ID = sub(e.id)
		if e.params == 0 {
			continue
		}
		ps := all[k : k+e.params : k+e.params]
		for j := range ps {
			p := params[k+j]
			ps[j].Name = sub(p.name)
			if p.escaped {
				ps[j].Value = p.unescaped
			} else {
				ps[j].Value = sub(p.value)
			}
		}
		out[n].Params = ps
		k += e.params
	}
	return out, pos, nil
}

// sdName reads an SD-NAME at b[pos:] for the field named what ("SD-ID" or
// "param") and returns the offset after it: at ' ', ']', '=' (for a
// param) or the end of b.
func sdName(b []byte, pos int, what string) (int, error) {
	i := pos
	for ; i < len(b); i++ {
		c := b[i]
		if c == ' ' || c == ']' || (c == '=' && what == "param") {
			break
		}
		if c == '=' || c == '"' || c < 33 || c > 126 {
			return 0, &ParseError{Format: RFC5424, Field: "structured data: " + what, Offset: i,
				Reason: "byte " + quoteByte(c) + " is not allowed in a name (printable US-ASCII except '=', ' ', ']', '\"')"}
		}
	}
	if i == pos {
		return 0, &ParseError{Format: RFC5424, Field: "structured data: " + what, Offset: pos, Reason: "empty name" + got(b, pos)}
	}
	if i-pos > maxSDName {
		return 0, &ParseError{Format: RFC5424, Field: "structured data: " + what, Offset: pos,
			Reason: "name of " + strconv.Itoa(i-pos) + " bytes, more than 32"}
	}
	return i, nil
}

// checkSDID applies RFC 5424 section 6.3.2 to an SD-ID that is already a
// valid SD-NAME: an '@' must separate a non-empty name from a private
// enterprise number (digits). It returns what is wrong, or "".
func checkSDID(id []byte) string {
	at := bytes.IndexByte(id, '@')
	if at < 0 {
		return ""
	}
	pen := id[at+1:]
	if at == 0 || len(pen) == 0 || bytes.IndexByte(pen, '@') >= 0 || pen[0] == '0' && len(pen) > 1 {
		return "want name@<private enterprise number>"
	}
	for _, c := range pen {
		if !isDigit(c) {
			return "want name@<private enterprise number>"
		}
	}
	return ""
}

// unescapeSD removes the backslash from \" \\ and \]; a backslash before
// anything else is kept (RFC 5424 section 6.3.3).
func unescapeSD(raw []byte) string {
	out := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); i++ {
		if raw[i] == '\\' && i+1 < len(raw) {
			switch raw[i+1] {
			case '"', '\\', ']':
				i++
			}
		}
		out = append(out, raw[i])
	}
	return string(out)
}

// parse3164 parses the rest of an RFC 3164 message after the PRI.
func (p Parser) parse3164(b []byte, pos int, m *Message) error {
	t, end, err := p.timestamp3164(b, pos)
	if err != nil {
		return err
	}
	if end == pos { // no timestamp: everything is MSG (RFC 3164 section 4.3.2)
		m.Msg = nonEmpty(b[pos:])
		return nil
	}
	m.Timestamp = t
	pos = end
	if pos == len(b) {
		return nil
	}
	if b[pos] != ' ' {
		return &ParseError{Format: RFC3164, Field: "timestamp", Offset: pos, Reason: "want ' ' after it" + got(b, pos)}
	}
	pos++

	// HOSTNAME, unless the first word is a TAG or cannot be a host name.
	word := b[pos:tokenEnd(b, pos)]
	if _, _, tagEnd, ok := parseTag(b, pos); !(ok && tagEnd == pos+len(word)) &&
		len(word) > 0 && len(word) <= maxHostname && notPrintASCII(word) < 0 {
		m.Hostname = string(word)
		pos += len(word)
		if pos < len(b) {
			pos++ // ' '
		}
	}

	// TAG
	if app, pid, tagEnd, ok := parseTag(b, pos); ok {
		m.AppName, m.ProcID = app, pid
		pos = tagEnd
		if pos < len(b) && b[pos] == ' ' {
			pos++
		}
	}
	m.Msg = nonEmpty(b[pos:])
	return nil
}

// parseTag reads "TAG:", "TAG[PID]:" or "TAG[PID]" at b[pos:] and returns
// the offset after it. TAG is 1 to 48 printable characters other than
// ':' and '['; PID 1 to 128 printable characters other than ']'.
func parseTag(b []byte, pos int) (app, pid string, end int, ok bool) {
	i := pos
	for i < len(b) && i-pos <= maxAppName && b[i] > ' ' && b[i] < 127 && b[i] != ':' && b[i] != '[' {
		i++
	}
	if i == pos || i-pos > maxAppName || i == len(b) {
		return "", "", 0, false
	}
	switch b[i] {
	case ':':
		return string(b[pos:i]), "", i + 1, true
	case '[':
		j := i + 1
		for j < len(b) && j-i-1 <= maxProcID && b[j] > ' ' && b[j] < 127 && b[j] != ']' {
			j++
		}
		if j == i+1 || j-i-1 > maxProcID || j == len(b) || b[j] != ']' {
			return "", "", 0, false
		}
		end = j + 1
		if end < len(b) && b[end] == ':' {
			end++
		}
		return string(b[pos:i]), string(b[i+1 : j]), end, true
	}
	return "", "", 0, false
}

var months = [12]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

// timestamp3164 reads an RFC 3164 timestamp at b[pos:]. It returns end ==
// pos when there is none. Once the start looks like a timestamp (a month
// name and a space, or four digits and '-'), a malformed rest is an
// error.
func (p Parser) timestamp3164(b []byte, pos int) (time.Time, int, error) {
	rest := b[pos:]
	if len(rest) >= 5 && isDigit(rest[0]) && isDigit(rest[1]) && isDigit(rest[2]) && isDigit(rest[3]) && rest[4] == '-' {
		end := tokenEnd(b, pos)
		t, err := parseRFC3339(b[pos:end], pos, 9, false)
		if err != nil {
			err.Format = RFC3164
			return time.Time{}, 0, err
		}
		return t, end, nil
	}
	if len(rest) < 4 || rest[3] != ' ' {
		return time.Time{}, pos, nil
	}
	month := 0
	for i, name := range months {
		if string(rest[:3]) == name {
			month = i + 1
		}
	}
	if month == 0 {
		return time.Time{}, pos, nil
	}
	fail := func(off int, reason string) (time.Time, int, error) {
		return time.Time{}, 0, &ParseError{Format: RFC3164, Field: "timestamp", Offset: off, Reason: reason}
	}
	i := pos + 4
	if i < len(b) && b[i] == ' ' { // "Feb  5"
		i++
	}
	d := i
	for i < len(b) && isDigit(b[i]) && i-d < 3 {
		i++
	}
	switch {
	case i == d:
		return fail(d, "want a day of 1 or 2 digits after the month"+got(b, d))
	case i-d > 2:
		return fail(d, "day of more than 2 digits")
	}
	day, dayEnd := int(b[d]-'0'), i
	if i-d == 2 {
		day = num2(b[d:])
	}
	if i == len(b) || b[i] != ' ' {
		return fail(i, "want ' ' after the day"+got(b, i))
	}
	i++
	if len(b)-i < 8 || !isDigit(b[i]) || !isDigit(b[i+1]) || b[i+2] != ':' || !isDigit(b[i+3]) || !isDigit(b[i+4]) ||
		b[i+5] != ':' || !isDigit(b[i+6]) || !isDigit(b[i+7]) {
		return fail(i, "want hh:mm:ss after the day")
	}
	hour, minute, sec := num2(b[i:]), num2(b[i+3:]), num2(b[i+6:])
	switch {
	case day < 1 || day > daysIn(month, 2000): // 2000: Feb 29 may be valid, see below
		return fail(d, "day "+string(b[d:dayEnd])+" out of range for "+months[month-1])
	case hour > 23:
		return fail(i, "hour "+string(b[i:i+2])+" out of range 00-23")
	case minute > 59:
		return fail(i+3, "minute "+string(b[i+3:i+5])+" out of range 00-59")
	case sec > 59:
		return fail(i+6, "second "+string(b[i+6:i+8])+" out of range 00-59")
	}
	i += 8
	nanos := 0
	if i < len(b) && b[i] == '.' {
		f := i + 1
		for i++; i < len(b) && isDigit(b[i]); i++ {
		}
		if i == f || i-f > 9 {
			return fail(f, "want 1 to 9 fraction digits after '.'")
		}
		nanos = fraction(b[f:i])
	}
	if i < len(b) && b[i] != ' ' {
		return fail(i, "unexpected "+quoteByte(b[i])+" after the time")
	}
	loc := p.Location
	if loc == nil {
		loc = time.Local
	}
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	ref := now().In(loc)
	for y := ref.Year() + 1; y >= ref.Year()-1; y-- {
		if day > daysIn(month, y) {
			continue
		}
		if t := time.Date(y, time.Month(month), day, hour, minute, sec, nanos, loc); t.Sub(ref) <= yearGuessSlack {
			return t.UTC(), i, nil
		}
	}
	return fail(d, "Feb 29 without a leap year to put it in")
}

// yearGuessSlack is how far ahead of the clock a year-less RFC 3164
// timestamp may be put: a sender whose clock is a little fast around New
// Year still gets the right year, and a timestamp of a later day in the
// year is taken as last year's.
const yearGuessSlack = 7 * 24 * time.Hour

// parseRFC3339 parses an RFC 3339 date-time that spans all of ts, which
// starts at offset off of the message, with at most maxFrac fraction
// digits. strict (RFC 5424) requires upper-case 'T' and 'Z'. The result is
// in UTC. Leap seconds are refused (RFC 5424 section 6.2.3).
func parseRFC3339(ts []byte, off, maxFrac int, strict bool) (time.Time, *ParseError) {
	fail := func(i int, reason string) (time.Time, *ParseError) {
		return time.Time{}, &ParseError{Field: "timestamp", Offset: off + i, Reason: reason}
	}
	digitsAt := func(i, n int) bool {
		if i+n > len(ts) {
			return false
		}
		for _, c := range ts[i : i+n] {
			if !isDigit(c) {
				return false
			}
		}
		return true
	}
	got := func(i int) string {
		if i >= len(ts) {
			return ", got the end of the timestamp"
		}
		return ", got " + quoteByte(ts[i])
	}
	sep := func(i int, c byte, what string) (time.Time, *ParseError) {
		return fail(i, "want '"+string(c)+"' "+what+got(i))
	}
	switch {
	case !digitsAt(0, 4):
		return fail(0, "want a 4-digit year")
	case len(ts) <= 4 || ts[4] != '-':
		return sep(4, '-', "after the year")
	case !digitsAt(5, 2):
		return fail(5, "want a 2-digit month")
	case len(ts) <= 7 || ts[7] != '-':
		return sep(7, '-', "after the month")
	case !digitsAt(8, 2):
		return fail(8, "want a 2-digit day")
	case len(ts) <= 10 || ts[10] != 'T' && (strict || ts[10] != 't'):
		return sep(10, 'T', "between date and time")
	case !digitsAt(11, 2):
		return fail(11, "want a 2-digit hour")
	case len(ts) <= 13 || ts[13] != ':':
		return sep(13, ':', "after the hour")
	case !digitsAt(14, 2):
		return fail(14, "want a 2-digit minute")
	case len(ts) <= 16 || ts[16] != ':':
		return sep(16, ':', "after the minute")
	case !digitsAt(17, 2):
		return fail(17, "want a 2-digit second")
	}
	year, month, day := num2(ts)*100+num2(ts[2:]), num2(ts[5:]), num2(ts[8:])
	hour, minute, sec := num2(ts[11:]), num2(ts[14:]), num2(ts[17:])
	switch {
	case month < 1 || month > 12:
		return fail(5, "month "+string(ts[5:7])+" out of range 01-12")
	case day < 1 || day > daysIn(month, year):
		return fail(8, "day "+string(ts[8:10])+" out of range for "+string(ts[:7]))
	case hour > 23:
		return fail(11, "hour "+string(ts[11:13])+" out of range 00-23")
	case minute > 59:
		return fail(14, "minute "+string(ts[14:16])+" out of range 00-59")
	case sec == 60:
		return fail(17, "leap second 60 is not allowed")
	case sec > 59:
		return fail(17, "second "+string(ts[17:19])+" out of range 00-59")
	}
	i := 19
	nanos := 0
	if i < len(ts) && ts[i] == '.' {
		f := i + 1
		for i++; i < len(ts) && isDigit(ts[i]); i++ {
		}
		switch {
		case i == f:
			return fail(f, "want digits after '.'")
		case i-f > maxFrac:
			return fail(f, "more than "+strconv.Itoa(maxFrac)+" fraction digits")
		}
		nanos = fraction(ts[f:i])
	}
	offset := 0
	switch {
	case i == len(ts):
		return fail(i, "want 'Z' or an offset like +08:00 after the time")
	case ts[i] == 'Z' || !strict && ts[i] == 'z':
		i++
	case ts[i] == '+' || ts[i] == '-':
		if !digitsAt(i+1, 2) || len(ts) <= i+3 || ts[i+3] != ':' || !digitsAt(i+4, 2) {
			return fail(i, "want an offset like +08:00")
		}
		oh, om := num2(ts[i+1:]), num2(ts[i+4:])
		if oh > 23 || om > 59 {
			return fail(i, "offset "+string(ts[i:i+6])+" out of range")
		}
		offset = (oh*60 + om) * 60
		if ts[i] == '-' {
			offset = -offset
		}
		i += 6
	default:
		return fail(i, "want 'Z' or an offset like +08:00 after the time"+got(i))
	}
	if i != len(ts) {
		return fail(i, "unexpected "+quoteByte(ts[i])+" after the offset")
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nanos, time.UTC)
	return t.Add(-time.Duration(offset) * time.Second), nil
}

// fraction converts fraction digits (at most 9) to nanoseconds.
func fraction(d []byte) int {
	n := 0
	for i := 0; i < 9; i++ {
		n *= 10
		if i < len(d) {
			n += int(d[i] - '0')
		}
	}
	return n
}

func num2(b []byte) int { return int(b[0]-'0')*10 + int(b[1]-'0') }

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

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

// tokenEnd returns the offset of the first ' ' at or after pos, or len(b).
func tokenEnd(b []byte, pos int) int {
	if i := bytes.IndexByte(b[pos:], ' '); i >= 0 {
		return pos + i
	}
	return len(b)
}

// notPrintASCII returns the index of the first byte of b outside
// PRINTUSASCII (33 to 126), or -1.
func notPrintASCII(b []byte) int {
	for i, c := range b {
		if c < 33 || c > 126 {
			return i
		}
	}
	return -1
}

func nonEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// missing explains an empty field at b[pos].
func missing(b []byte, pos int) string {
	if pos == len(b) {
		return "message ends early"
	}
	return "empty (NILVALUE is '-')"
}

// got describes what stands at b[i] for "want X, got Y" reasons.
func got(b []byte, i int) string {
	if i >= len(b) {
		return ", got the end of the message"
	}
	return ", got " + quoteByte(b[i])
}

// quoteByte shows one byte of input: quoted when printable, in hex
// otherwise.
func quoteByte(c byte) string {
	if c >= 32 && c < 127 {
		return "'" + string(rune(c)) + "'"
	}
	return hexByte(c)
}

func hexByte(c byte) string {
	const hex = "0123456789abcdef"
	return "0x" + string([]byte{hex[c>>4], hex[c&15]})
}
