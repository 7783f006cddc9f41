package syslog_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/vigil-audit/vigil/collector/syslog"
)

// FuzzParse checks that Parse never panics, that an error is a
// *ParseError pointing into the input, and that a parsed message respects
// the limits of its RFC. It also runs ToJSON on every message.
func FuzzParse(f *testing.F) {
	for _, c := range goodCases {
		f.Add([]byte(c.in))
	}
	for _, c := range badCases {
		f.Add([]byte(c.in))
	}
	for _, c := range mapCases {
		f.Add([]byte(c.in))
	}
	p := syslog.Parser{Now: func() time.Time { return clock }, Location: time.UTC}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := p.Parse(b)
		if err != nil {
			var pe *syslog.ParseError
			if !errors.As(err, &pe) || pe.Offset < 0 || pe.Offset > len(b) || pe.Reason == "" {
				t.Fatalf("error %#v", err)
			}
			return
		}
		checkMessage(t, b, m)
		for _, kind := range []string{"", syslog.KindAccess, syslog.KindDevice} {
			k, body, err := syslog.ToJSON(m, syslog.MappingOptions{Kind: kind})
			if err != nil {
				continue
			}
			if k != syslog.KindAccess && k != syslog.KindDevice {
				t.Fatalf("kind %q", k)
			}
			// A JSON body is passed on as it is, for the event decoder to
			// judge; what the mapping builds must be valid JSON.
			if !within(body, m.Msg) && !json.Valid(body) {
				t.Fatalf("ToJSON gave invalid JSON %q", body)
			}
		}
	})
}

func checkMessage(t *testing.T, in []byte, m syslog.Message) {
	t.Helper()
	if m.Facility < 0 || m.Facility > 23 || m.Severity < 0 || m.Severity > 7 {
		t.Fatalf("facility %d, severity %d", m.Facility, m.Severity)
	}
	if !m.Timestamp.IsZero() && m.Timestamp.Location() != time.UTC {
		t.Fatalf("timestamp %v not in UTC", m.Timestamp)
	}
	if len(m.Msg) > 0 && !within(m.Msg, in) {
		t.Fatal("Msg does not point into the input")
	}
	limits := []struct {
		name, v string
		max     int
	}{{"hostname", m.Hostname, 255}, {"app-name", m.AppName, 48}, {"procid", m.ProcID, 128}, {"msgid", m.MsgID, 32}}
	for _, l := range limits {
		if len(l.v) > l.max || !printable(l.v) {
			t.Fatalf("%s %q breaks the limits", l.name, l.v)
		}
	}
	switch m.Format {
	case syslog.RFC5424:
		for _, l := range limits {
			if l.v == "-" {
				t.Fatalf("%s is NILVALUE, want empty", l.name)
			}
		}
		if m.Timestamp.Nanosecond()%1000 != 0 {
			t.Fatalf("timestamp %v has more than 6 fraction digits", m.Timestamp)
		}
		ids := map[string]bool{}
		for _, e := range m.StructuredData {
			if !sdName(e.ID) || ids[e.ID] {
				t.Fatalf("SD-ID %q", e.ID)
			}
			ids[e.ID] = true
			for _, p := range e.Params {
				if !sdName(p.Name) || !utf8.ValidString(p.Value) {
					t.Fatalf("param %q=%q", p.Name, p.Value)
				}
			}
		}
		if bytes.HasPrefix(m.Msg, []byte(bom)) && !utf8.Valid(m.Msg) {
			t.Fatal("MSG after a BOM is not UTF-8")
		}
	case syslog.RFC3164:
		if m.MsgID != "" || m.StructuredData != nil {
			t.Fatalf("RFC 3164 message with MSGID %q or structured data", m.MsgID)
		}
	default:
		t.Fatalf("format %v", m.Format)
	}
}

// within reports whether inner is a non-empty part of outer's memory.
func within(inner, outer []byte) bool {
	if len(inner) == 0 || len(outer) == 0 {
		return false
	}
	i := uintptr(unsafe.Pointer(unsafe.SliceData(inner)))
	o := uintptr(unsafe.Pointer(unsafe.SliceData(outer)))
	return i >= o && i+uintptr(len(inner)) <= o+uintptr(len(outer))
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 33 || s[i] > 126 {
			return false
		}
	}
	return true
}

func sdName(s string) bool {
	if len(s) == 0 || len(s) > 32 || !printable(s) {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '=', ']', '"':
			return false
		}
	}
	return true
}

// FuzzFraming checks that FrameReader never panics, always ends, never
// returns a frame over the limit, and splits a stream the same way
// however the reads of the stream are cut.
func FuzzFraming(f *testing.F) {
	for _, c := range framingCases {
		f.Add([]byte(c.in), uint16(c.max), uint8(0))
	}
	f.Add([]byte(oc(m1)+"<13>lf\n"+oc("x")), uint16(4), uint8(2))
	f.Fuzz(func(t *testing.T, in []byte, max uint16, chunk uint8) {
		limit := int(max%700) + 1
		whole := frames(t, syslog.NewFrameReader(bytes.NewReader(in), limit), len(in), limit)
		cut := frames(t, syslog.NewFrameReader(&chunkReader{b: in, n: int(chunk%16) + 1}, limit), len(in), limit)
		if whole != cut {
			t.Fatalf("whole reads:\n%s\nreads of %d bytes:\n%s", whole, chunk%16+1, cut)
		}
	})
}

// frames reads fr to its end and describes what it returned.
func frames(t *testing.T, fr *syslog.FrameReader, n, limit int) string {
	var out bytes.Buffer
	for range n + 3 {
		frame, err := fr.Next()
		if len(frame) > limit {
			t.Fatalf("frame of %d bytes over the limit of %d", len(frame), limit)
		}
		fmt.Fprintf(&out, "%q %v\n", frame, err)
		if errors.Is(err, syslog.ErrTooLarge) && len(frame) != limit {
			t.Fatalf("oversized frame cut to %d bytes, want %d", len(frame), limit)
		}
		if err != nil && !errors.Is(err, syslog.ErrTooLarge) && !errors.Is(err, syslog.ErrTruncated) {
			if err != io.EOF && !errors.Is(err, syslog.ErrMalformedFrame) {
				t.Fatalf("unexpected error %v", err)
			}
			return out.String()
		}
	}
	t.Fatalf("no end after %d calls on %d bytes", n+3, n)
	return ""
}

// chunkReader returns at most n bytes per read.
type chunkReader struct {
	b []byte
	n int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), r.n)], r.b)
	r.b = r.b[n:]
	return n, nil
}
