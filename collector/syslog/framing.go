package syslog

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// DefaultMaxMessageBytes is the message size limit when none is configured.
const DefaultMaxMessageBytes = 64 << 10

// Errors of FrameReader.Next, each wrapped in one that says more. They say
// what the caller should do.
var (
	// ErrTooLarge: a message was larger than the limit. Next returned its
	// first bytes (up to the limit) and skips the rest; reading can go on.
	ErrTooLarge = errors.New("message too large")

	// ErrTruncated: the stream ended (or failed) inside a message. Next
	// returned the bytes it had; the next call returns the stream's error.
	ErrTruncated = errors.New("truncated message")

	// ErrMalformedFrame: an octet count was malformed, so where the next
	// message starts is unknown. Close the connection.
	ErrMalformedFrame = errors.New("malformed octet count")
)

// headerRoom is buffer space beyond the message limit: an octet count of up
// to 9 digits and its space, or a CR LF trailer.
const headerRoom = 16

// FrameReader splits a TCP stream into syslog messages, detecting the
// framing of each message on its own (RFC 6587 section 3.4): a message
// that starts with a digit is octet-counted ("LEN SP MSG", LEN without a
// leading zero); any other is non-transparently framed, ending at LF or
// NUL, with a CR before the LF removed. Empty frames (a lone LF, CR or NUL
// between messages) are skipped. One LF (or CR LF) at the end of an
// octet-counted message is removed, as rsyslog does.
//
// Its buffer grows with the messages it sees, up to the limit plus a few
// bytes: memory per connection is bounded by the limit.
type FrameReader struct {
	rd   io.Reader
	max  int
	buf  []byte
	r, w int
	off  int64 // stream offset of buf[r]
	err  error // sticky: the stream's error, or a malformed frame

	skip     int64 // bytes of an oversized octet-counted message left to skip
	skipLine bool  // skip to the end of an oversized line
}

// NewFrameReader returns a FrameReader reading r with a limit of
// maxMessageBytes per message; zero or less means DefaultMaxMessageBytes.
func NewFrameReader(r io.Reader, maxMessageBytes int) *FrameReader {
	if maxMessageBytes <= 0 {
		maxMessageBytes = DefaultMaxMessageBytes
	}
	return &FrameReader{rd: r, max: maxMessageBytes, buf: make([]byte, min(4096, maxMessageBytes+headerRoom))}
}

// Next returns the next message without its framing. The slice is valid
// until the next call.
//
// Errors: io.EOF at the clean end of the stream. An error wrapping
// ErrTooLarge comes with the message's first bytes, up to the limit: call
// Next again for the following message. ErrTruncated comes with the bytes
// of the message the stream ended in, or nil. ErrMalformedFrame and errors
// of the underlying reader come without a message and are returned again
// by every later call. A message that the end of the stream cuts short of
// its LF is returned without error: the sender may simply have closed the
// connection after it.
func (f *FrameReader) Next() ([]byte, error) {
	if f.skip > 0 {
		if err := f.skipRest(); err != nil {
			return nil, err
		}
	}
	if f.skipLine {
		if err := f.skipToLineEnd(); err != nil {
			return nil, err
		}
	}
	for {
		for f.r < f.w && (f.buf[f.r] == '\n' || f.buf[f.r] == '\r' || f.buf[f.r] == 0) {
			f.r++
			f.off++
		}
		if f.r < f.w {
			break
		}
		if !f.fill() {
			return nil, f.err
		}
	}
	if isDigit(f.buf[f.r]) {
		return f.octetCounted()
	}
	return f.line()
}

// fill reads more bytes into the buffer, compacting or growing it as
// needed. It reports false, with f.err set, when the stream gave no more
// bytes. Callers call it only with fewer than len(buf) bytes buffered.
func (f *FrameReader) fill() bool {
	if f.err != nil {
		return false
	}
	if f.r == f.w {
		f.r, f.w = 0, 0
	}
	if f.w == len(f.buf) {
		if f.r > 0 {
			f.w = copy(f.buf, f.buf[f.r:f.w])
			f.r = 0
		} else {
			nb := make([]byte, min(2*len(f.buf), f.max+headerRoom))
			f.w = copy(nb, f.buf[:f.w])
			f.buf = nb
		}
	}
	for range 100 {
		n, err := f.rd.Read(f.buf[f.w:])
		f.w += n
		if err != nil {
			f.err = err
			return n > 0
		}
		if n > 0 {
			return true
		}
	}
	f.err = io.ErrNoProgress
	return false
}

// consume advances past n buffered bytes.
func (f *FrameReader) consume(n int) {
	f.r += n
	f.off += int64(n)
}

// octetCounted reads "LEN SP MSG" at f.buf[f.r], a digit.
func (f *FrameReader) octetCounted() ([]byte, error) {
	start := f.off
	var n, digits int
	for {
		digits = 0
		for f.r+digits < f.w && isDigit(f.buf[f.r+digits]) && digits < 10 {
			digits++
		}
		if f.r+digits < f.w || digits == 10 {
			break
		}
		if !f.fill() {
			frame := f.buf[f.r:f.w]
			f.consume(len(frame))
			return frame[:min(len(frame), f.max)], f.truncated(start, "in an octet count")
		}
	}
	malformed := func(reason string) error {
		f.err = fmt.Errorf("syslog: framing: %w at stream byte %d: %s", ErrMalformedFrame, start, reason)
		return f.err
	}
	switch {
	case digits == 10:
		return nil, malformed("more than 9 digits")
	case f.buf[f.r+digits] != ' ':
		return nil, malformed("want ' ' after the length, got " + quoteByte(f.buf[f.r+digits]))
	case f.buf[f.r] == '0':
		return nil, malformed("length with a leading zero")
	}
	n, _ = strconv.Atoi(string(f.buf[f.r : f.r+digits]))
	f.consume(digits + 1)

	want := min(n, f.max)
	for f.w-f.r < want {
		if !f.fill() {
			frame := f.buf[f.r:f.w]
			f.consume(len(frame))
			return frame, f.truncated(start, "after "+strconv.Itoa(len(frame))+" of "+strconv.Itoa(n)+" bytes")
		}
	}
	frame := f.buf[f.r : f.r+want]
	f.consume(want)
	if n > f.max {
		f.skip = int64(n - f.max)
		return frame, fmt.Errorf("syslog: framing: %w: octet count %d at stream byte %d is more than the limit of %d bytes; skipping the rest",
			ErrTooLarge, n, start, f.max)
	}
	if len(frame) > 0 && frame[len(frame)-1] == '\n' {
		frame = frame[:len(frame)-1]
		if len(frame) > 0 && frame[len(frame)-1] == '\r' {
			frame = frame[:len(frame)-1]
		}
	}
	return frame, nil
}

// line reads a message that ends at LF or NUL.
func (f *FrameReader) line() ([]byte, error) {
	start := f.off
	scanned := 0 // bytes after f.r known to hold no terminator
	for {
		if i := indexTerminator(f.buf[f.r+scanned : f.w]); i >= 0 {
			end := f.r + scanned + i
			frame := f.buf[f.r:end]
			f.consume(len(frame) + 1)
			if len(frame) > 0 && frame[len(frame)-1] == '\r' {
				frame = frame[:len(frame)-1]
			}
			if len(frame) > f.max {
				return frame[:f.max], f.lineTooLarge(start)
			}
			return frame, nil
		}
		scanned = f.w - f.r
		if scanned >= f.max+2 {
			frame := f.buf[f.r : f.r+f.max]
			f.consume(scanned)
			f.skipLine = true
			return frame, f.lineTooLarge(start)
		}
		if !f.fill() {
			frame := f.buf[f.r:f.w]
			f.consume(len(frame))
			switch {
			case len(frame) > f.max:
				return frame[:f.max], f.lineTooLarge(start)
			case f.err == io.EOF:
				return frame, nil
			}
			return frame, f.truncated(start, "after "+strconv.Itoa(len(frame))+" bytes of a line")
		}
	}
}

func (f *FrameReader) lineTooLarge(start int64) error {
	return fmt.Errorf("syslog: framing: %w: line at stream byte %d is longer than the limit of %d bytes", ErrTooLarge, start, f.max)
}

// truncated reports a message that the end of the stream (or its error)
// cut short.
func (f *FrameReader) truncated(start int64, where string) error {
	if f.err == io.EOF {
		return fmt.Errorf("syslog: framing: %w: the stream ended %s (message at stream byte %d)", ErrTruncated, where, start)
	}
	return fmt.Errorf("syslog: framing: %w: the stream failed %s (message at stream byte %d): %w", ErrTruncated, where, start, f.err)
}

// skipRest discards what is left of an oversized octet-counted message.
func (f *FrameReader) skipRest() error {
	for f.skip > 0 {
		if f.r == f.w && !f.fill() {
			left := f.skip
			f.skip = 0
			return f.truncated(f.off, "with "+strconv.FormatInt(left, 10)+" bytes of an oversized message left to skip")
		}
		n := int(min(int64(f.w-f.r), f.skip))
		f.consume(n)
		f.skip -= int64(n)
	}
	return nil
}

// skipToLineEnd discards what is left of an oversized line.
func (f *FrameReader) skipToLineEnd() error {
	for {
		if i := indexTerminator(f.buf[f.r:f.w]); i >= 0 {
			f.consume(i + 1)
			f.skipLine = false
			return nil
		}
		f.consume(f.w - f.r)
		if !f.fill() {
			f.skipLine = false
			return f.err
		}
	}
}

// indexTerminator returns the index of the first LF or NUL in b, or -1.
func indexTerminator(b []byte) int {
	for i, c := range b {
		if c == '\n' || c == 0 {
			return i
		}
	}
	return -1
}

// trimTrailer removes one trailing LF, CR LF or NUL from a datagram.
func trimTrailer(b []byte) []byte {
	switch {
	case bytes.HasSuffix(b, []byte("\r\n")):
		return b[:len(b)-2]
	case bytes.HasSuffix(b, []byte{'\n'}), bytes.HasSuffix(b, []byte{0}):
		return b[:len(b)-1]
	}
	return b
}
