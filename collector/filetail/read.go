package filetail

import (
	"bytes"
	"errors"
	"io"
)

// Batch limits. A batch ends at a line boundary as soon as it holds
// maxBatchLines lines or maxBatchBytes bytes of line data; a line that would
// take it past maxBatchBytes starts the next batch instead (a single line
// longer than that, possible when max_line_bytes is set higher, is a batch
// of its own).
const (
	maxBatchLines = 1000
	maxBatchBytes = 1 << 20
	readChunk     = 64 << 10
)

// tailLine is an unterminated line at the end of a file. It is remembered so
// that the next read resumes scanning where this one stopped rather than at
// the line's start: a long line that grows slowly is then read once, not once
// per poll.
type tailLine struct {
	start int64  // offset of the line's first byte
	end   int64  // offset scanned up to; [start, end) holds no newline
	data  []byte // the first max_line_bytes bytes of the line, at most
	last  byte   // the byte at end-1
}

// readResult is what one readBatch call found.
type readResult struct {
	lines []Line
	end   int64     // offset just after the last line consumed (delivered or skipped as empty)
	eof   bool      // the read reached the end of the file
	tail  *tailLine // the unterminated line at the end of the file, if any (only when eof)
}

// readBatch reads at most one batch of lines from r, starting at from, which
// is a line start. hint, when it describes the line starting at from, saves
// scanning that line again. A last line without a newline is delivered only
// when final is true (the file was rotated away and is fully written);
// otherwise it is returned as the tail. buf is scratch space; the returned
// lines never point into it.
func readBatch(r io.ReaderAt, from int64, hint *tailLine, maxLine int, final bool, buf []byte) (readResult, error) {
	type span struct {
		off     int64
		s, e    int
		tooLong bool
	}
	var (
		res       = readResult{end: from}
		arena     []byte // line data of the whole batch
		spans     []span
		lineStart = from
		dataStart = 0    // where the current line's data starts in arena
		n         int64  // bytes of the current line scanned so far, newline excluded
		last      byte   // last byte of the current line scanned so far
		pos       = from // next byte to read
		dataBytes = 0    // len of the data of the lines in spans
	)
	if hint != nil && hint.start == from && hint.end >= from {
		arena = append(arena, hint.data...)
		n, last, pos = hint.end-hint.start, hint.last, hint.end
	}
	build := func() readResult {
		if len(spans) > 0 {
			res.lines = make([]Line, len(spans))
			for i, s := range spans {
				res.lines[i] = Line{Data: arena[s.s:s.e:s.e], Offset: s.off, TooLong: s.tooLong}
			}
		}
		return res
	}
	// complete ends the current line at end (just past its newline, or at
	// the end of the file for a final unterminated line). It reports whether
	// the batch is full.
	complete := func(end int64) (full bool) {
		eff := n
		if eff > 0 && last == '\r' {
			eff-- // CRLF: the CR is part of the line ending
		}
		if eff > 0 {
			size := int(min(eff, int64(len(arena)-dataStart)))
			if len(spans) > 0 && dataBytes+size > maxBatchBytes {
				arena = arena[:dataStart]
				return true // this line starts the next batch
			}
			arena = arena[:dataStart+size]
			spans = append(spans, span{off: lineStart, s: dataStart, e: dataStart + size, tooLong: eff > int64(maxLine)})
			dataBytes += size
		} else {
			arena = arena[:dataStart] // empty line: skipped, but consumed
		}
		res.end = end
		lineStart, dataStart, n, last = end, len(arena), 0, 0
		return len(spans) >= maxBatchLines || dataBytes >= maxBatchBytes
	}
	for {
		got, err := r.ReadAt(buf, pos)
		if err != nil && !errors.Is(err, io.EOF) {
			return readResult{}, err
		}
		chunk := buf[:got]
		for len(chunk) > 0 {
			i := bytes.IndexByte(chunk, '\n')
			seg := chunk
			if i >= 0 {
				seg = chunk[:i]
			}
			if room := maxLine - (len(arena) - dataStart); room > 0 {
				arena = append(arena, seg[:min(room, len(seg))]...)
			}
			if len(seg) > 0 {
				last = seg[len(seg)-1]
			}
			n += int64(len(seg))
			pos += int64(len(seg))
			if i < 0 {
				break
			}
			pos++ // the newline
			chunk = chunk[i+1:]
			if complete(pos) {
				return build(), nil
			}
		}
		if err == nil {
			continue // a full chunk: there may be more
		}
		res.eof = true
		if n > 0 {
			if final {
				if complete(pos) && res.end != pos {
					res.eof = false // the line did not fit: it is the next batch
				}
			} else {
				res.tail = &tailLine{start: lineStart, end: pos, data: bytes.Clone(arena[dataStart:]), last: last}
				arena = arena[:dataStart]
			}
		}
		return build(), nil
	}
}

// lastLineEnd returns the offset just after the last newline in the first
// size bytes of r, looking back at most one maximal line: where start_at
// "end" starts. A file that is a single unterminated line starts at 0; one
// whose last line is longer than maxLine starts at size (the rest of that
// line then arrives as a line of its own).
func lastLineEnd(r io.ReaderAt, size int64, maxLine int) (int64, error) {
	if size == 0 {
		return 0, nil
	}
	back := min(size, int64(maxLine)+2) // a maximal line and its CRLF
	buf := make([]byte, back)
	got, err := r.ReadAt(buf, size-back)
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, err
	}
	if i := bytes.LastIndexByte(buf[:got], '\n'); i >= 0 {
		return size - back + int64(i) + 1, nil
	}
	if back == size {
		return 0, nil
	}
	return size, nil
}
