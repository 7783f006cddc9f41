package syslog_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vigil-audit/vigil/collector/syslog"
)

const bom = "\xEF\xBB\xBF"

// clock is the time the parser tests run at, for RFC 3164 years.
var clock = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

func utc(y int, mo time.Month, d, h, mi, s, ns int) time.Time {
	return time.Date(y, mo, d, h, mi, s, ns, time.UTC)
}

type parseCase struct {
	name string
	in   string
	now  time.Time      // zero: clock
	loc  *time.Location // nil: UTC
	want syslog.Message
}

func (c parseCase) parser() syslog.Parser {
	now := c.now
	if now.IsZero() {
		now = clock
	}
	loc := c.loc
	if loc == nil {
		loc = time.UTC
	}
	return syslog.Parser{Now: func() time.Time { return now }, Location: loc}
}

func sd(id string, kv ...string) syslog.SDElement {
	e := syslog.SDElement{ID: id}
	for i := 0; i < len(kv); i += 2 {
		e.Params = append(e.Params, syslog.SDParam{Name: kv[i], Value: kv[i+1]})
	}
	return e
}

var (
	max255 = strings.Repeat("h", 255)
	max48  = strings.Repeat("a", 48)
	max128 = strings.Repeat("p", 128)
	max32  = strings.Repeat("m", 32)
)

var goodCases = []parseCase{
	// RFC 5424 section 6.5, examples 1 to 4.
	{name: "rfc5424 6.5 example 1: no structured data, BOM",
		in: "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - " + bom + "'su root' failed for lonvick on /dev/pts/8",
		want: syslog.Message{Format: syslog.RFC5424, Facility: 4, Severity: 2, Timestamp: utc(2003, 10, 11, 22, 14, 15, 3e6),
			Hostname: "mymachine.example.com", AppName: "su", MsgID: "ID47", Msg: []byte("'su root' failed for lonvick on /dev/pts/8")}},
	{name: "rfc5424 6.5 example 2: offset and microseconds, no BOM",
		in: "<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts.",
		want: syslog.Message{Format: syslog.RFC5424, Facility: 20, Severity: 5, Timestamp: utc(2003, 8, 24, 12, 14, 15, 3000),
			Hostname: "192.0.2.1", AppName: "myproc", ProcID: "8710", Msg: []byte("%% It's time to make the do-nuts.")}},
	{name: "rfc5424 6.5 example 3: structured data and message",
		in: `<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"] ` + bom + "An application event log entry...",
		want: syslog.Message{Format: syslog.RFC5424, Facility: 20, Severity: 5, Timestamp: utc(2003, 10, 11, 22, 14, 15, 3e6),
			Hostname: "mymachine.example.com", AppName: "evntslog", MsgID: "ID47",
			StructuredData: []syslog.SDElement{sd("exampleSDID@32473", "iut", "3", "eventSource", "Application", "eventID", "1011")},
			Msg:            []byte("An application event log entry...")}},
	{name: "rfc5424 6.5 example 4: two elements, no message",
		in: `<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"]`,
		want: syslog.Message{Format: syslog.RFC5424, Facility: 20, Severity: 5, Timestamp: utc(2003, 10, 11, 22, 14, 15, 3e6),
			Hostname: "mymachine.example.com", AppName: "evntslog", MsgID: "ID47",
			StructuredData: []syslog.SDElement{
				sd("exampleSDID@32473", "iut", "3", "eventSource", "Application", "eventID", "1011"),
				sd("examplePriority@32473", "class", "high")}}},
	// RFC 5424 section 6.3.5, example 3: a space between elements makes
	// the second one the start of MSG.
	{name: "rfc5424 6.3.5 example 3: space between elements",
		in: `<165>1 - - - - - [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"] [examplePriority@32473 class="high"]`,
		want: syslog.Message{Format: syslog.RFC5424, Facility: 20, Severity: 5,
			StructuredData: []syslog.SDElement{sd("exampleSDID@32473", "iut", "3", "eventSource", "Application", "eventID", "1011")},
			Msg:            []byte(`[examplePriority@32473 class="high"]`)}},
	// RFC 5424 section 7: registered SD-IDs; origin repeats a param name.
	{name: "rfc5424 7.1.4 timeQuality",
		in: `<14>1 - - - - - [timeQuality tzKnown="1" isSynced="1" syncAccuracy="60000000"]`,
		want: syslog.Message{Format: syslog.RFC5424, Facility: 1, Severity: 6,
			StructuredData: []syslog.SDElement{sd("timeQuality", "tzKnown", "1", "isSynced", "1", "syncAccuracy", "60000000")}}},
	{name: "rfc5424 7.2.5 origin with a repeated param",
		in: `<14>1 - - - - - [origin ip="192.0.2.1" ip="192.0.2.129"]`,
		want: syslog.Message{Format: syslog.RFC5424, Facility: 1, Severity: 6,
			StructuredData: []syslog.SDElement{sd("origin", "ip", "192.0.2.1", "ip", "192.0.2.129")}}},
	{name: "rfc5424 all NILVALUE",
		in:   "<0>1 - - - - - -",
		want: syslog.Message{Format: syslog.RFC5424}},
	{name: "rfc5424 PRI 191, trailing space and empty MSG",
		in:   "<191>1 - - - - - - ",
		want: syslog.Message{Format: syslog.RFC5424, Facility: 23, Severity: 7}},
	{name: "rfc5424 BOM alone",
		in:   "<14>1 - - - - - - " + bom,
		want: syslog.Message{Format: syslog.RFC5424, Facility: 1, Severity: 6}},
	{name: "rfc5424 MSG without BOM may be any octets",
		in:   "<14>1 - - - - - - \xff\xfe",
		want: syslog.Message{Format: syslog.RFC5424, Facility: 1, Severity: 6, Msg: []byte("\xff\xfe")}},
	{name: "rfc5424 fields at their length limits",
		in: "<14>1 2026-11-28T12:00:00Z " + max255 + " " + max48 + " " + max128 + " " + max32 + " - x",
		want: syslog.Message{Format: syslog.RFC5424, Facility: 1, Severity: 6, Timestamp: utc(2026, 11, 28, 12, 0, 0, 0),
			Hostname: max255, AppName: max48, ProcID: max128, MsgID: max32, Msg: []byte("x")}},
	{name: "rfc5424 escapes in values",
		in: `<14>1 - - - - - [x@32473 a="q\"uo\\te\]d" b="back\slash" c="a]b" d="" e="患者" f="\\"]`,
		want: syslog.Message{Format: syslog.RFC5424, Facility: 1, Severity: 6,
			StructuredData: []syslog.SDElement{sd("x@32473", "a", `q"uo\te]d`, "b", `back\slash`, "c", "a]b", "d", "", "e", "患者", "f", `\`)}}},
	{name: "rfc5424 SD names at 32 bytes, element without params",
		in: "<14>1 - - - - - [" + max32 + " " + max32 + `="v"][e@1]`,
		want: syslog.Message{Format: syslog.RFC5424, Facility: 1, Severity: 6,
			StructuredData: []syslog.SDElement{sd(max32, max32, "v"), sd("e@1")}}},
	{name: "rfc5424 positive offset, one fraction digit",
		in:   "<14>1 2026-11-28T20:00:00.5+08:00 - - - - -",
		want: syslog.Message{Format: syslog.RFC5424, Facility: 1, Severity: 6, Timestamp: utc(2026, 11, 28, 12, 0, 0, 5e8)}},
	{name: "rfc5424 offset -00:00, Feb 29 of a leap year",
		in:   "<14>1 2024-02-29T23:59:59.999999-00:00 - - - - -",
		want: syslog.Message{Format: syslog.RFC5424, Facility: 1, Severity: 6, Timestamp: utc(2024, 2, 29, 23, 59, 59, 999999000)}},
	{name: "rfc5424 JSON body",
		in: `<14>1 2026-11-28T12:00:00.000Z ehr-01 ehr 77 access - {"org":"h1"}`,
		want: syslog.Message{Format: syslog.RFC5424, Facility: 1, Severity: 6, Timestamp: utc(2026, 11, 28, 12, 0, 0, 0),
			Hostname: "ehr-01", AppName: "ehr", ProcID: "77", MsgID: "access", Msg: []byte(`{"org":"h1"}`)}},

	// RFC 3164 section 5.4 (example 2 and 4 as a relay forwards them; the
	// originals are in the bad cases and below).
	{name: "rfc3164 5.4 example 1",
		in: "<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8",
		want: syslog.Message{Format: syslog.RFC3164, Facility: 4, Severity: 2, Timestamp: utc(2026, 10, 11, 22, 14, 15, 0),
			Hostname: "mymachine", AppName: "su", Msg: []byte("'su root' failed for lonvick on /dev/pts/8")}},
	{name: "rfc3164 5.4 example 2 as relayed",
		in: "<13>Feb  5 17:32:18 10.0.0.99 Use the BFG!",
		want: syslog.Message{Format: syslog.RFC3164, Facility: 1, Severity: 5, Timestamp: utc(2026, 2, 5, 17, 32, 18, 0),
			Hostname: "10.0.0.99", Msg: []byte("Use the BFG!")}},
	{name: "rfc3164 5.4 example 3: CST is taken as the hostname",
		in: "<165>Aug 24 05:34:00 CST 1987 mymachine myproc[10]: %% It's time to make the do-nuts.  %%  Ingredients: Mix=OK, Jelly=OK # Devices: Mixer=OK, Jelly_Injector=OK, Frier=OK # Transport: Conveyer1=OK, Conveyer2=OK # %%",
		want: syslog.Message{Format: syslog.RFC3164, Facility: 20, Severity: 5, Timestamp: utc(2026, 8, 24, 5, 34, 0, 0),
			Hostname: "CST", Msg: []byte("1987 mymachine myproc[10]: %% It's time to make the do-nuts.  %%  Ingredients: Mix=OK, Jelly=OK # Devices: Mixer=OK, Jelly_Injector=OK, Frier=OK # Transport: Conveyer1=OK, Conveyer2=OK # %%")}},
	{name: "rfc3164 5.4 example 4 as sent: no valid timestamp, all MSG",
		in: "<0>1990 Oct 22 10:52:01 TZ-6 scapegoat.dmz.example.org 10.1.2.3 sched[0]: That's All Folks!",
		want: syslog.Message{Format: syslog.RFC3164,
			Msg: []byte("1990 Oct 22 10:52:01 TZ-6 scapegoat.dmz.example.org 10.1.2.3 sched[0]: That's All Folks!")}},
	{name: "rfc3164 5.4 example 4 as relayed",
		in: "<0>Oct 22 10:52:12 scapegoat 1990 Oct 22 10:52:01 TZ-6 scapegoat.dmz.example.org 10.1.2.3 sched[0]: That's All Folks!",
		want: syslog.Message{Format: syslog.RFC3164, Timestamp: utc(2026, 10, 22, 10, 52, 12, 0), Hostname: "scapegoat",
			Msg: []byte("1990 Oct 22 10:52:01 TZ-6 scapegoat.dmz.example.org 10.1.2.3 sched[0]: That's All Folks!")}},

	// Real-world RFC 3164 variants.
	{name: "rfc3164 missing hostname, TAG[pid]",
		in: "<38>Nov 28 11:59:00 sshd[4242]: Accepted publickey for deploy",
		want: syslog.Message{Format: syslog.RFC3164, Facility: 4, Severity: 6, Timestamp: utc(2026, 11, 28, 11, 59, 0, 0),
			AppName: "sshd", ProcID: "4242", Msg: []byte("Accepted publickey for deploy")}},
	{name: "rfc3164 missing hostname, TAG:",
		in: "<78>Nov 28 11:59:00 CRON: (root) CMD (run-parts)",
		want: syslog.Message{Format: syslog.RFC3164, Facility: 9, Severity: 6, Timestamp: utc(2026, 11, 28, 11, 59, 0, 0),
			AppName: "CRON", Msg: []byte("(root) CMD (run-parts)")}},
	{name: "rfc3164 rsyslog RSYSLOG_ForwardFormat: RFC 3339 timestamp",
		in: `<13>2026-11-28T19:59:00.123456+08:00 web01 vigil: {"org":"h1"}`,
		want: syslog.Message{Format: syslog.RFC3164, Facility: 1, Severity: 5, Timestamp: utc(2026, 11, 28, 11, 59, 0, 123456000),
			Hostname: "web01", AppName: "vigil", Msg: []byte(`{"org":"h1"}`)}},
	{name: "rfc3164 RFC 3339 timestamp with nanoseconds and lower-case z",
		in: "<13>2026-11-28t11:59:00.123456789z web01 app: x",
		want: syslog.Message{Format: syslog.RFC3164, Facility: 1, Severity: 5, Timestamp: utc(2026, 11, 28, 11, 59, 0, 123456789),
			Hostname: "web01", AppName: "app", Msg: []byte("x")}},
	{name: "rfc3164 zero-padded day, fraction, colon-less TAG[pid]",
		in: "<13>Nov 05 10:00:00.250 host myproc[10] started",
		want: syslog.Message{Format: syslog.RFC3164, Facility: 1, Severity: 5, Timestamp: utc(2026, 11, 5, 10, 0, 0, 25e7),
			Hostname: "host", AppName: "myproc", ProcID: "10", Msg: []byte("started")}},
	{name: "rfc3164 unpadded day, TAG glued to the message",
		in: "<13>Nov 5 10:00:00 host app:text",
		want: syslog.Message{Format: syslog.RFC3164, Facility: 1, Severity: 5, Timestamp: utc(2026, 11, 5, 10, 0, 0, 0),
			Hostname: "host", AppName: "app", Msg: []byte("text")}},
	{name: "rfc3164 IPv6 hostname is not a TAG",
		in: "<13>Nov 28 10:00:00 2001:db8::1 app: x",
		want: syslog.Message{Format: syslog.RFC3164, Facility: 1, Severity: 5, Timestamp: utc(2026, 11, 28, 10, 0, 0, 0),
			Hostname: "2001:db8::1", AppName: "app", Msg: []byte("x")}},
	{name: "rfc3164 time zone of the collector",
		in:  "<13>Nov 28 19:59:00 host app: x",
		loc: time.FixedZone("CST", 8*3600),
		want: syslog.Message{Format: syslog.RFC3164, Facility: 1, Severity: 5, Timestamp: utc(2026, 11, 28, 11, 59, 0, 0),
			Hostname: "host", AppName: "app", Msg: []byte("x")}},
	{name: "rfc3164 a later day of the year is last year's",
		in: "<13>Dec 25 10:00:00 host app: x",
		want: syslog.Message{Format: syslog.RFC3164, Facility: 1, Severity: 5, Timestamp: utc(2025, 12, 25, 10, 0, 0, 0),
			Hostname: "host", AppName: "app", Msg: []byte("x")}},
	{name: "rfc3164 a few days ahead is this year's",
		in: "<13>Dec  3 10:00:00 host app: x",
		want: syslog.Message{Format: syslog.RFC3164, Facility: 1, Severity: 5, Timestamp: utc(2026, 12, 3, 10, 0, 0, 0),
			Hostname: "host", AppName: "app", Msg: []byte("x")}},
	{name: "rfc3164 New Year: a sender slightly ahead",
		in:  "<13>Jan  1 00:00:30 host app: x",
		now: utc(2026, 12, 31, 23, 59, 50, 0),
		want: syslog.Message{Format: syslog.RFC3164, Facility: 1, Severity: 5, Timestamp: utc(2027, 1, 1, 0, 0, 30, 0),
			Hostname: "host", AppName: "app", Msg: []byte("x")}},
	{name: "rfc3164 New Year: a sender slightly behind",
		in:  "<13>Dec 31 23:59:50 host app: x",
		now: utc(2027, 1, 1, 0, 0, 30, 0),
		want: syslog.Message{Format: syslog.RFC3164, Facility: 1, Severity: 5, Timestamp: utc(2026, 12, 31, 23, 59, 50, 0),
			Hostname: "host", AppName: "app", Msg: []byte("x")}},
	{name: "rfc3164 Feb 29 in a leap year",
		in:  "<13>Feb 29 10:00:00 host app: x",
		now: utc(2028, 3, 1, 0, 0, 0, 0),
		want: syslog.Message{Format: syslog.RFC3164, Facility: 1, Severity: 5, Timestamp: utc(2028, 2, 29, 10, 0, 0, 0),
			Hostname: "host", AppName: "app", Msg: []byte("x")}},
	{name: "rfc3164 timestamp only",
		in:   "<13>Nov 28 10:00:00",
		want: syslog.Message{Format: syslog.RFC3164, Facility: 1, Severity: 5, Timestamp: utc(2026, 11, 28, 10, 0, 0, 0)}},
	{name: "rfc3164 hostname only",
		in:   "<13>Nov 28 10:00:00 host",
		want: syslog.Message{Format: syslog.RFC3164, Facility: 1, Severity: 5, Timestamp: utc(2026, 11, 28, 10, 0, 0, 0), Hostname: "host"}},
	{name: "rfc3164 no timestamp",
		in:   "<13>hello: world",
		want: syslog.Message{Format: syslog.RFC3164, Facility: 1, Severity: 5, Msg: []byte("hello: world")}},
	{name: "rfc3164 nothing after PRI",
		in:   "<13>",
		want: syslog.Message{Format: syslog.RFC3164, Facility: 1, Severity: 5}},
	{name: "rfc3164 a first word that is not ASCII is not a hostname",
		in:   "<13>Nov 28 10:00:00 患者 record opened",
		want: syslog.Message{Format: syslog.RFC3164, Facility: 1, Severity: 5, Timestamp: utc(2026, 11, 28, 10, 0, 0, 0), Msg: []byte("患者 record opened")}},
	{name: "rfc3164 a TAG longer than 48 bytes is MSG",
		in: "<13>Nov 28 10:00:00 host " + strings.Repeat("t", 49) + ": x",
		want: syslog.Message{Format: syslog.RFC3164, Facility: 1, Severity: 5, Timestamp: utc(2026, 11, 28, 10, 0, 0, 0),
			Hostname: "host", Msg: []byte(strings.Repeat("t", 49) + ": x")}},
	{name: "rfc3164 four digits then a space are not an RFC 5424 version",
		in:   "<13>2026 is not a version",
		want: syslog.Message{Format: syslog.RFC3164, Facility: 1, Severity: 5, Msg: []byte("2026 is not a version")}},
}

func TestParseGood(t *testing.T) {
	for _, c := range goodCases {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.parser().Parse([]byte(c.in))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !got.Timestamp.Equal(c.want.Timestamp) || got.Timestamp.Location() != time.UTC && !got.Timestamp.IsZero() {
				t.Errorf("Timestamp = %v, want %v in UTC", got.Timestamp, c.want.Timestamp)
			}
			got.Timestamp, c.want.Timestamp = time.Time{}, time.Time{}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("Parse(%q)\n got %+v\nwant %+v", c.in, got, c.want)
			}
		})
	}
}

type badCase struct {
	name string
	in   string
	want string
}

var badCases = []badCase{
	// Before the format is known.
	{"empty", "", "syslog: message at byte 0: empty"},
	{"rfc3164 5.4 example 2 as sent: no PRI", "Use the BFG!", "syslog: PRI at byte 0: want '<', got 'U'"},
	{"PRI without digits", "<>1 - - - - - -", "syslog: PRI at byte 1: want 1 to 3 digits, got '>'"},
	{"PRI negative", "<-1>1 - - - - - -", "syslog: PRI at byte 1: want 1 to 3 digits, got '-'"},
	{"PRI of 4 digits", "<0013>1 - - - - - -", "syslog: PRI at byte 1: more than 3 digits"},
	{"PRI leading zero", "<013>1 - - - - - -", "syslog: PRI at byte 1: leading zero"},
	{"PRI 192", "<192>1 - - - - - -", "syslog: PRI at byte 1: 192 is more than 191"},
	{"PRI unterminated", "<34", "syslog: PRI at byte 3: want '>', got the end of the message"},
	{"PRI bad end", "<34x1", "syslog: PRI at byte 3: want '>', got 'x'"},
	{"PRI control byte", "\x00<34>", "syslog: PRI at byte 0: want '<', got 0x00"},

	// RFC 5424 header.
	{"version 2", "<34>2 - - - - - -", "syslog: rfc5424: version at byte 4: 2 is not supported, want 1"},
	{"version 10", "<34>10 - - - - - -", "syslog: rfc5424: version at byte 4: 10 is not supported, want 1"},
	{"version leading zero", "<34>01 - - - - - -", "syslog: rfc5424: version at byte 4: leading zero"},
	{"version 0", "<34>0 - - - - - -", "syslog: rfc5424: version at byte 4: 0 is not supported, want 1"},
	{"ends after version", "<34>1 ", "syslog: rfc5424: timestamp at byte 6: message ends early"},
	{"empty timestamp", "<34>1  - - - - -", "syslog: rfc5424: timestamp at byte 6: empty (NILVALUE is '-')"},
	{"ends after timestamp", "<34>1 -", "syslog: rfc5424: hostname at byte 7: message ends early"},
	{"ends after hostname", "<34>1 - host", "syslog: rfc5424: app-name at byte 12: message ends early"},
	{"ends after app-name", "<34>1 - host app", "syslog: rfc5424: procid at byte 16: message ends early"},
	{"ends after procid", "<34>1 - host app 1", "syslog: rfc5424: msgid at byte 18: message ends early"},
	{"ends after msgid", "<34>1 - host app 1 ID", "syslog: rfc5424: structured data at byte 21: message ends early"},
	{"ends before structured data", "<34>1 - host app 1 ID ", "syslog: rfc5424: structured data at byte 22: message ends early, want '[' or '-'"},
	{"empty hostname", "<34>1 -  app 1 ID -", "syslog: rfc5424: hostname at byte 8: empty (NILVALUE is '-')"},
	{"hostname of 256 bytes", "<34>1 - " + max255 + "h app - - -", "syslog: rfc5424: hostname at byte 8: 256 bytes, more than 255"},
	{"app-name of 49 bytes", "<34>1 - h " + max48 + "a - - -", "syslog: rfc5424: app-name at byte 10: 49 bytes, more than 48"},
	{"procid of 129 bytes", "<34>1 - h a " + max128 + "p - -", "syslog: rfc5424: procid at byte 12: 129 bytes, more than 128"},
	{"msgid of 33 bytes", "<34>1 - h a p " + max32 + "m -", "syslog: rfc5424: msgid at byte 14: 33 bytes, more than 32"},
	{"hostname not ASCII", "<34>1 - hôte a p m -", "syslog: rfc5424: hostname at byte 9: byte 0xc3 is not printable US-ASCII"},
	{"app-name with DEL", "<34>1 - h a\x7f p m -", "syslog: rfc5424: app-name at byte 11: byte 0x7f is not printable US-ASCII"},
	{"msgid with a tab", "<34>1 - h a p m\tx -", "syslog: rfc5424: msgid at byte 15: byte 0x09 is not printable US-ASCII"},

	// RFC 5424 timestamps.
	{"timestamp: short year", "<34>1 03-10-11T22:14:15Z - - - - -", "syslog: rfc5424: timestamp at byte 6: want a 4-digit year"},
	{"timestamp: date only", "<34>1 2003-10-11 - - - - -", "syslog: rfc5424: timestamp at byte 16: want 'T' between date and time, got the end of the timestamp"},
	{"timestamp: lower-case t", "<34>1 2003-10-11t22:14:15Z - - - - -", "syslog: rfc5424: timestamp at byte 16: want 'T' between date and time, got 't'"},
	{"timestamp: slash", "<34>1 2003/10/11T22:14:15Z - - - - -", "syslog: rfc5424: timestamp at byte 10: want '-' after the year, got '/'"},
	{"timestamp: month 13", "<34>1 2003-13-11T22:14:15Z - - - - -", "syslog: rfc5424: timestamp at byte 11: month 13 out of range 01-12"},
	{"timestamp: month 00", "<34>1 2003-00-11T22:14:15Z - - - - -", "syslog: rfc5424: timestamp at byte 11: month 00 out of range 01-12"},
	{"timestamp: Feb 29 of 2003", "<34>1 2003-02-29T22:14:15Z - - - - -", "syslog: rfc5424: timestamp at byte 14: day 29 out of range for 2003-02"},
	{"timestamp: Apr 31", "<34>1 2003-04-31T22:14:15Z - - - - -", "syslog: rfc5424: timestamp at byte 14: day 31 out of range for 2003-04"},
	{"timestamp: one-digit day", "<34>1 2003-10-1T22:14:15Z - - - - -", "syslog: rfc5424: timestamp at byte 14: want a 2-digit day"},
	{"timestamp: hour 24", "<34>1 2003-10-11T24:00:00Z - - - - -", "syslog: rfc5424: timestamp at byte 17: hour 24 out of range 00-23"},
	{"timestamp: minute 60", "<34>1 2003-10-11T22:60:00Z - - - - -", "syslog: rfc5424: timestamp at byte 20: minute 60 out of range 00-59"},
	{"timestamp: leap second", "<34>1 2016-12-31T23:59:60Z - - - - -", "syslog: rfc5424: timestamp at byte 23: leap second 60 is not allowed"},
	{"timestamp: second 61", "<34>1 2016-12-31T23:59:61Z - - - - -", "syslog: rfc5424: timestamp at byte 23: second 61 out of range 00-59"},
	{"timestamp: no seconds", "<34>1 2003-10-11T22:14Z - - - - -", "syslog: rfc5424: timestamp at byte 22: want ':' after the minute, got 'Z'"},
	{"timestamp: 7 fraction digits", "<34>1 2003-10-11T22:14:15.0000003Z - - - - -", "syslog: rfc5424: timestamp at byte 26: more than 6 fraction digits"},
	{"timestamp: empty fraction", "<34>1 2003-10-11T22:14:15.Z - - - - -", "syslog: rfc5424: timestamp at byte 26: want digits after '.'"},
	{"timestamp: no offset", "<34>1 2003-10-11T22:14:15 - - - - -", "syslog: rfc5424: timestamp at byte 25: want 'Z' or an offset like +08:00 after the time"},
	{"timestamp: lower-case z", "<34>1 2003-10-11T22:14:15z - - - - -", "syslog: rfc5424: timestamp at byte 25: want 'Z' or an offset like +08:00 after the time, got 'z'"},
	{"timestamp: offset without colon", "<34>1 2003-10-11T22:14:15+0800 - - - - -", "syslog: rfc5424: timestamp at byte 25: want an offset like +08:00"},
	{"timestamp: offset hour 24", "<34>1 2003-10-11T22:14:15+24:00 - - - - -", "syslog: rfc5424: timestamp at byte 25: offset +24:00 out of range"},
	{"timestamp: text after the offset", "<34>1 2003-10-11T22:14:15Zulu - - - - -", "syslog: rfc5424: timestamp at byte 26: unexpected 'u' after the offset"},

	// RFC 5424 structured data.
	{"SD neither [ nor -", "<34>1 - - - - - x", "syslog: rfc5424: structured data at byte 16: want '[' or '-', got 'x'"},
	{"SD NILVALUE glued to MSG", "<34>1 - - - - - -x", "syslog: rfc5424: msg at byte 17: want ' ' after the structured data, got 'x'"},
	{"SD glued to MSG", `<34>1 - - - - - [a@1]x`, "syslog: rfc5424: msg at byte 21: want ' ' after the structured data, got 'x'"},
	{"rfc5424 6.3.5 example 4: space after [", `<34>1 - - - - - [ exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"]`,
		"syslog: rfc5424: structured data: SD-ID at byte 17: empty name, got ' '"},
	{"SD empty element", "<34>1 - - - - - []", "syslog: rfc5424: structured data: SD-ID at byte 17: empty name, got ']'"},
	{"SD unterminated element", `<34>1 - - - - - [exampleSDID@32473 iut="3"`, `syslog: rfc5424: structured data: element "exampleSDID@32473" at byte 16: message ends before ']'`},
	{"SD ID ends the message", `<34>1 - - - - - [a@1`, `syslog: rfc5424: structured data: element "a@1" at byte 16: message ends before ']'`},
	{"SD-ID with =", `<34>1 - - - - - [a=b]`, `syslog: rfc5424: structured data: SD-ID at byte 18: byte '=' is not allowed in a name (printable US-ASCII except '=', ' ', ']', '"')`},
	{"SD-ID with a quote", `<34>1 - - - - - [a"b]`, `syslog: rfc5424: structured data: SD-ID at byte 18: byte '"' is not allowed in a name (printable US-ASCII except '=', ' ', ']', '"')`},
	{"SD-ID of 33 bytes", "<34>1 - - - - - [" + max32 + "m]", "syslog: rfc5424: structured data: SD-ID at byte 17: name of 33 bytes, more than 32"},
	{"SD-ID with @ and no number", `<34>1 - - - - - [x@ a="b"]`, `syslog: rfc5424: structured data: SD-ID "x@" at byte 17: want name@<private enterprise number>`},
	{"SD-ID with @ and no name", `<34>1 - - - - - [@32473]`, `syslog: rfc5424: structured data: SD-ID "@32473" at byte 17: want name@<private enterprise number>`},
	{"SD-ID with two @", `<34>1 - - - - - [x@1@2]`, `syslog: rfc5424: structured data: SD-ID "x@1@2" at byte 17: want name@<private enterprise number>`},
	{"SD-ID with a name as number", `<34>1 - - - - - [x@acme]`, `syslog: rfc5424: structured data: SD-ID "x@acme" at byte 17: want name@<private enterprise number>`},
	{"SD-ID with a leading zero number", `<34>1 - - - - - [x@032473]`, `syslog: rfc5424: structured data: SD-ID "x@032473" at byte 17: want name@<private enterprise number>`},
	{"SD-ID twice", `<34>1 - - - - - [x@1 a="1"][x@1 a="2"]`, `syslog: rfc5424: structured data: element "x@1" at byte 27: duplicate SD-ID`},
	{"SD param missing closing quote", `<34>1 - - - - - [x@1 a="1" b="2]`, `syslog: rfc5424: structured data: param "b" at byte 29: missing closing quote`},
	{"SD param with an escaped closing quote", `<34>1 - - - - - [x@1 a="1\"]`, `syslog: rfc5424: structured data: param "a" at byte 23: missing closing quote`},
	{"SD param without quotes", `<34>1 - - - - - [x@1 a=1]`, `syslog: rfc5424: structured data: param "a" at byte 23: want '"' after '=', got '1'`},
	{"SD param without value", `<34>1 - - - - - [x@1 a]`, `syslog: rfc5424: structured data: param "a" at byte 22: want '=' after the name, got ']'`},
	{"SD param without =", `<34>1 - - - - - [x@1 a "1"]`, `syslog: rfc5424: structured data: param "a" at byte 22: want '=' after the name, got ' '`},
	{"SD params without a space", `<34>1 - - - - - [x@1 a="1"b="2"]`, `syslog: rfc5424: structured data: param "a" at byte 26: want ' ' or ']' after the value, got 'b'`},
	{"SD two spaces before a param", `<34>1 - - - - - [x@1  a="1"]`, `syslog: rfc5424: structured data: param at byte 21: empty name, got ' '`},
	{"SD space before ]", `<34>1 - - - - - [x@1 a="1" ]`, `syslog: rfc5424: structured data: param at byte 27: empty name, got ']'`},
	{"SD param name of 33 bytes", `<34>1 - - - - - [x@1 ` + max32 + `m="1"]`, "syslog: rfc5424: structured data: param at byte 21: name of 33 bytes, more than 32"},
	{"SD param name not ASCII", `<34>1 - - - - - [x@1 nämé="1"]`, `syslog: rfc5424: structured data: param at byte 22: byte 0xc3 is not allowed in a name (printable US-ASCII except '=', ' ', ']', '"')`},
	{"SD param value not UTF-8", "<34>1 - - - - - [x@1 a=\"\xff\"]", `syslog: rfc5424: structured data: param "a" at byte 24: value is not valid UTF-8`},
	{"MSG invalid UTF-8 after BOM", "<34>1 - - - - - - " + bom + "ok\xff", "syslog: rfc5424: msg at byte 21: not valid UTF-8 after the BOM"},

	// RFC 3164: once it looks like a timestamp, it must be one.
	{"rfc3164 Nov 31", "<13>Nov 31 10:00:00 host app: x", "syslog: rfc3164: timestamp at byte 8: day 31 out of range for Nov"},
	{"rfc3164 day 0", "<13>Nov  0 10:00:00 host app: x", "syslog: rfc3164: timestamp at byte 9: day 0 out of range for Nov"},
	{"rfc3164 day of 3 digits", "<13>Nov 123 10:00:00 host app: x", "syslog: rfc3164: timestamp at byte 8: day of more than 2 digits"},
	{"rfc3164 no day", "<13>Nov x 10:00:00 host app: x", "syslog: rfc3164: timestamp at byte 8: want a day of 1 or 2 digits after the month, got 'x'"},
	{"rfc3164 day glued to time", "<13>Nov 28T10:00:00 host", "syslog: rfc3164: timestamp at byte 10: want ' ' after the day, got 'T'"},
	{"rfc3164 no seconds", "<13>Nov 28 10:00 host app: x", "syslog: rfc3164: timestamp at byte 11: want hh:mm:ss after the day"},
	{"rfc3164 hour 25", "<13>Nov 28 25:00:00 host app: x", "syslog: rfc3164: timestamp at byte 11: hour 25 out of range 00-23"},
	{"rfc3164 minute 61", "<13>Nov 28 10:61:00 host app: x", "syslog: rfc3164: timestamp at byte 14: minute 61 out of range 00-59"},
	{"rfc3164 second 60", "<13>Nov 28 10:00:60 host app: x", "syslog: rfc3164: timestamp at byte 17: second 60 out of range 00-59"},
	{"rfc3164 empty fraction", "<13>Nov 28 10:00:00. host", "syslog: rfc3164: timestamp at byte 20: want 1 to 9 fraction digits after '.'"},
	{"rfc3164 text after the time", "<13>Nov 28 10:00:00host", "syslog: rfc3164: timestamp at byte 19: unexpected 'h' after the time"},
	{"rfc3164 Feb 29 without a leap year", "<13>Feb 29 10:00:00 host", "syslog: rfc3164: timestamp at byte 8: Feb 29 without a leap year to put it in"},
	{"rfc3164 RFC 3339 date only", "<13>2026-11-28 host app: x", "syslog: rfc3164: timestamp at byte 14: want 'T' between date and time, got the end of the timestamp"},
	{"rfc3164 RFC 3339 without offset", "<13>2026-11-28T10:00:00 host", "syslog: rfc3164: timestamp at byte 23: want 'Z' or an offset like +08:00 after the time"},
	{"rfc3164 RFC 3339 with 10 fraction digits", "<13>2026-11-28T10:00:00.0123456789Z host", "syslog: rfc3164: timestamp at byte 24: more than 9 fraction digits"},
	{"rfc3164 RFC 3339 month 13", "<13>2026-13-28T10:00:00Z host", "syslog: rfc3164: timestamp at byte 9: month 13 out of range 01-12"},
}

func TestParseBad(t *testing.T) {
	p := syslog.Parser{Now: func() time.Time { return clock }, Location: time.UTC}
	for _, c := range badCases {
		t.Run(c.name, func(t *testing.T) {
			m, err := p.Parse([]byte(c.in))
			if err == nil {
				t.Fatalf("Parse(%q) = %+v, want error %q", c.in, m, c.want)
			}
			if err.Error() != c.want {
				t.Errorf("Parse(%q) error\n got %s\nwant %s", c.in, err, c.want)
			}
			var pe *syslog.ParseError
			if !errors.As(err, &pe) {
				t.Errorf("error is %T, want *syslog.ParseError", err)
			}
			if !reflect.DeepEqual(m, syslog.Message{}) {
				t.Errorf("Parse returned %+v with the error, want the zero Message", m)
			}
		})
	}
}

// TestParseDefaultParser checks the package-level Parse: the zero Parser
// puts a year on RFC 3164 timestamps from the real clock.
func TestParseDefaultParser(t *testing.T) {
	m, err := syslog.Parse([]byte("<13>Jan  2 03:04:05 host app: x"))
	if err != nil {
		t.Fatal(err)
	}
	if y := m.Timestamp.Year(); y < time.Now().Year()-1 || y > time.Now().Year()+1 {
		t.Errorf("year %d is not next to the current one", y)
	}
	if _, err := syslog.Parse([]byte("<13>1 - - - - - -")); err != nil {
		t.Error(err)
	}
}

// TestParseMsgAliasesInput documents that Msg is not a copy.
func TestParseMsgAliasesInput(t *testing.T) {
	in := []byte("<13>1 - - - - - - hello")
	m, err := syslog.Parse(in)
	if err != nil {
		t.Fatal(err)
	}
	in[len(in)-1] = '!'
	if string(m.Msg) != "hell!" {
		t.Errorf("Msg = %q, want it to see the change to the input", m.Msg)
	}
}

func TestMessageElement(t *testing.T) {
	m, err := syslog.Parse([]byte(`<13>1 - - - - - [a@1 x="1"][b@1 y="2"]`))
	if err != nil {
		t.Fatal(err)
	}
	if e, ok := m.Element("b@1"); !ok || e.Params[0].Value != "2" {
		t.Errorf("Element(b@1) = %+v, %v", e, ok)
	}
	if _, ok := m.Element("c@1"); ok {
		t.Error("Element(c@1) found")
	}
}

func TestFormatString(t *testing.T) {
	for f, want := range map[syslog.Format]string{syslog.RFC5424: "rfc5424", syslog.RFC3164: "rfc3164", syslog.FormatUnknown: "unknown"} {
		if f.String() != want {
			t.Errorf("%d.String() = %q, want %q", f, f.String(), want)
		}
	}
}
