package syslog_test

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/vigil-audit/vigil/collector/syslog"
)

// oc frames s with an octet count.
func oc(s string) string { return fmt.Sprintf("%d %s", len(s), s) }

// readAll calls Next until the stream's end or a fatal error and
// describes each result: the frame quoted, then the error if any.
func readAll(t *testing.T, fr *syslog.FrameReader) []string {
	t.Helper()
	var out []string
	for range 10000 {
		frame, err := fr.Next()
		switch {
		case err == nil:
			out = append(out, fmt.Sprintf("%q", frame))
		case errors.Is(err, syslog.ErrTooLarge) || errors.Is(err, syslog.ErrTruncated):
			out = append(out, fmt.Sprintf("%q %v", frame, err))
		default:
			if frame != nil {
				t.Errorf("Next returned %q with a fatal error %v", frame, err)
			}
			if err == io.EOF {
				return append(out, "EOF")
			}
			return append(out, err.Error())
		}
	}
	t.Fatal("Next never returned a final error")
	return nil
}

const m1 = "<13>1 - - - - - - one"

var framingCases = []struct {
	name string
	in   string
	max  int
	want []string
}{
	{name: "empty stream", in: "", want: []string{"EOF"}},
	{name: "only empty frames", in: "\n\r\n\x00\n", want: []string{"EOF"}},
	{name: "octet counting", in: oc(m1) + oc("<13>x") + oc("a"),
		want: []string{`"<13>1 - - - - - - one"`, `"<13>x"`, `"a"`, "EOF"}},
	{name: "LF framing, CR LF and NUL trailers, empty frames",
		in:   "<13>a\n<13>b\r\n\n<13>c\x00<13>d\n",
		want: []string{`"<13>a"`, `"<13>b"`, `"<13>c"`, `"<13>d"`, "EOF"}},
	{name: "mixed framing on one stream",
		in:   oc(m1) + "<13>lf one\n" + oc("<13>two\nlines") + "<13>lf two\r\n" + oc("<13>x"),
		want: []string{`"<13>1 - - - - - - one"`, `"<13>lf one"`, `"<13>two\nlines"`, `"<13>lf two"`, `"<13>x"`, "EOF"}},
	{name: "octet-counted message with a trailing LF, rsyslog style",
		in:   oc("<13>a\n") + oc("<13>b\r\n") + oc("\n"),
		want: []string{`"<13>a"`, `"<13>b"`, `""`, "EOF"}},
	{name: "LF after an octet-counted message is an empty frame",
		in:   oc("<13>a") + "\n" + oc("<13>b") + "\n",
		want: []string{`"<13>a"`, `"<13>b"`, "EOF"}},
	{name: "last line without LF", in: "<13>a\n<13>b",
		want: []string{`"<13>a"`, `"<13>b"`, "EOF"}},
	{name: "line at the limit, with CR LF", max: 8, in: "<13>abcd\r\n<13>abcd\n",
		want: []string{`"<13>abcd"`, `"<13>abcd"`, "EOF"}},
	{name: "octet-counted message at the limit", max: 8, in: oc("<13>abcd") + oc("<13>"),
		want: []string{`"<13>abcd"`, `"<13>"`, "EOF"}},
	{name: "oversized octet-counted message is skipped, the stream goes on", max: 8,
		in: oc("<13>abcdefghij") + oc("<13>ok"),
		want: []string{`"<13>abcd" syslog: framing: message too large: octet count 14 at stream byte 0 is more than the limit of 8 bytes; skipping the rest`,
			`"<13>ok"`, "EOF"}},
	{name: "oversized octet-counted message far beyond the buffer", max: 8,
		in: oc(strings.Repeat("z", 100000)) + "<13>ok\n",
		want: []string{`"zzzzzzzz" syslog: framing: message too large: octet count 100000 at stream byte 0 is more than the limit of 8 bytes; skipping the rest`,
			`"<13>ok"`, "EOF"}},
	{name: "oversized line is skipped to its end", max: 8,
		in: "<13>" + strings.Repeat("y", 5000) + "\n<13>ok\n",
		want: []string{`"<13>yyyy" syslog: framing: message too large: line at stream byte 0 is longer than the limit of 8 bytes`,
			`"<13>ok"`, "EOF"}},
	{name: "line one byte over the limit", max: 8, in: "<13>abcde\n<13>ok\n",
		want: []string{`"<13>abcd" syslog: framing: message too large: line at stream byte 0 is longer than the limit of 8 bytes`,
			`"<13>ok"`, "EOF"}},
	{name: "oversized line ending the stream", max: 8, in: "<13>" + strings.Repeat("y", 50),
		want: []string{`"<13>yyyy" syslog: framing: message too large: line at stream byte 0 is longer than the limit of 8 bytes`, "EOF"}},
	{name: "malformed octet count: no space", in: oc("<13>a") + "12x",
		want: []string{`"<13>a"`, "syslog: framing: malformed octet count at stream byte 7: want ' ' after the length, got 'x'"}},
	{name: "malformed octet count: leading zero", in: "05 <13>a",
		want: []string{"syslog: framing: malformed octet count at stream byte 0: length with a leading zero"}},
	{name: "malformed octet count: zero", in: "0 ",
		want: []string{"syslog: framing: malformed octet count at stream byte 0: length with a leading zero"}},
	{name: "malformed octet count: 10 digits", in: "1234567890 x",
		want: []string{"syslog: framing: malformed octet count at stream byte 0: more than 9 digits"}},
	{name: "malformed octet count: 10 digits filling the buffer", max: 2, in: "1 a1 b\n\n1234567890 x",
		want: []string{`"a"`, `"b"`, "syslog: framing: malformed octet count at stream byte 8: more than 9 digits"}},
	{name: "malformed octet count: an LF-framed line that starts with a digit", in: "2026-11-28 hello\n",
		want: []string{"syslog: framing: malformed octet count at stream byte 0: want ' ' after the length, got '-'"}},
	{name: "stream ends in an octet count", in: oc("<13>a") + "12",
		want: []string{`"<13>a"`, `"12" syslog: framing: truncated message: the stream ended in an octet count (message at stream byte 7)`, "EOF"}},
	{name: "stream ends in an octet-counted message", in: "20 <13>abc",
		want: []string{`"<13>abc" syslog: framing: truncated message: the stream ended after 7 of 20 bytes (message at stream byte 0)`, "EOF"}},
	{name: "stream ends in a skipped message", max: 8, in: oc("<13>abcdefghij")[:14],
		want: []string{`"<13>abcd" syslog: framing: message too large: octet count 14 at stream byte 0 is more than the limit of 8 bytes; skipping the rest`,
			`"" syslog: framing: truncated message: the stream ended with 3 bytes of an oversized message left to skip (message at stream byte 14)`, "EOF"}},
}

func TestFrameReader(t *testing.T) {
	readers := map[string]func(io.Reader) io.Reader{
		"whole":    func(r io.Reader) io.Reader { return r },
		"one byte": iotest.OneByteReader,
		"half":     iotest.HalfReader,
		"data+EOF": iotest.DataErrReader,
	}
	for _, c := range framingCases {
		for rname, wrap := range readers {
			t.Run(c.name+"/"+rname, func(t *testing.T) {
				got := readAll(t, syslog.NewFrameReader(wrap(strings.NewReader(c.in)), c.max))
				if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
					t.Errorf("frames\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(c.want, "\n     "))
				}
			})
		}
	}
}

// TestFrameReaderDefaultLimit checks that zero means 64 KiB.
func TestFrameReaderDefaultLimit(t *testing.T) {
	ok := "<13>" + strings.Repeat("a", syslog.DefaultMaxMessageBytes-4)
	in := oc(ok) + ok + "\n" + oc(ok+"a")
	fr := syslog.NewFrameReader(strings.NewReader(in), 0)
	for i := range 2 {
		if f, err := fr.Next(); err != nil || len(f) != syslog.DefaultMaxMessageBytes {
			t.Fatalf("frame %d: %d bytes, %v", i, len(f), err)
		}
	}
	if f, err := fr.Next(); !errors.Is(err, syslog.ErrTooLarge) || len(f) != syslog.DefaultMaxMessageBytes {
		t.Fatalf("oversized frame: %d bytes, %v", len(f), err)
	}
	if _, err := fr.Next(); err != io.EOF {
		t.Fatalf("end: %v", err)
	}
}

// TestFrameReaderErrors checks that a read error ends the stream after the
// complete messages, and that a malformed frame stays the answer.
func TestFrameReaderErrors(t *testing.T) {
	boom := errors.New("connection reset")
	fr := syslog.NewFrameReader(iotest.TimeoutReader(strings.NewReader("<13>a\n<13>b\n<13>partial")), 0)
	// TimeoutReader fails the second read: the first read brings all bytes.
	got := readAll(t, fr)
	want := []string{`"<13>a"`, `"<13>b"`, `"<13>partial" syslog: framing: truncated message: the stream failed after 11 bytes of a line (message at stream byte 12): timeout`, "timeout"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	fr = syslog.NewFrameReader(io.MultiReader(strings.NewReader("<13>a\n"), iotest.ErrReader(boom)), 0)
	if f, err := fr.Next(); err != nil || string(f) != "<13>a" {
		t.Fatalf("Next = %q, %v", f, err)
	}
	for range 2 {
		if _, err := fr.Next(); err != boom {
			t.Fatalf("Next error = %v, want %v every time", err, boom)
		}
	}

	fr = syslog.NewFrameReader(strings.NewReader("5x"), 0)
	for range 2 {
		if _, err := fr.Next(); !errors.Is(err, syslog.ErrMalformedFrame) {
			t.Fatalf("Next error = %v, want ErrMalformedFrame every time", err)
		}
	}

	fr = syslog.NewFrameReader(zeroReader{}, 0)
	if _, err := fr.Next(); err != io.ErrNoProgress {
		t.Fatalf("Next on a reader that returns nothing: %v, want io.ErrNoProgress", err)
	}
}

type zeroReader struct{}

func (zeroReader) Read([]byte) (int, error) { return 0, nil }
