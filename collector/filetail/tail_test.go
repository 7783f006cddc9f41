package filetail

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestFollow proves how lines are cut out of an appended file: appends are
// followed, a partial line waits for its newline, CRLF is tolerated, empty
// lines are skipped and a too long line is delivered once, flagged, and
// reading goes on at the next line.
func TestFollow(t *testing.T) {
	t.Parallel()
	type step struct {
		write string
		want  []string // every line delivered so far
	}
	tests := []struct {
		name    string
		maxLine int
		steps   []step
	}{
		{name: "appends", steps: []step{
			{"a\nb\n", []string{"a", "b"}},
			{"c\n", []string{"a", "b", "c"}},
			{"d\ne\nf\n", []string{"a", "b", "c", "d", "e", "f"}},
		}},
		{name: "partial line waits for its newline", steps: []step{
			{"a\npar", []string{"a"}},
			{"ti", []string{"a"}},
			{"al\nb", []string{"a", "partial"}},
			{"\n", []string{"a", "partial", "b"}},
		}},
		{name: "CRLF", steps: []step{
			{"a\r\nb\r\n", []string{"a", "b"}},
			{"c\r", []string{"a", "b"}},
			{"\nd\r\r\n", []string{"a", "b", "c", "d\r"}},
		}},
		{name: "empty lines skipped", steps: []step{
			{"\n\na\n\r\n\n", []string{"a"}},
			{"\n", []string{"a"}},
			{"b\n\n", []string{"a", "b"}},
		}},
		{name: "too long", maxLine: 8, steps: []step{
			{"short\n0123456789abcdef\nnext\n", []string{"short", "TOOLONG:01234567", "next"}},
			{"exactly8\n12345678\r\n123456789\r\n", []string{"short", "TOOLONG:01234567", "next", "exactly8", "12345678", "TOOLONG:12345678"}},
		}},
		{name: "too long line arriving in pieces", maxLine: 8, steps: []step{
			{"0123", nil},
			{"456789", nil},
			{"abcdef", nil},
			{"\nok\n", []string{"TOOLONG:01234567", "ok"}},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := filepath.Join(dir, "access.ndjson")
			appendFile(t, path, "")
			cfg := testConfig(dir, filepath.Join(dir, "*.ndjson"))
			cfg.MaxLineBytes = tc.maxLine
			var s sink
			start(t, cfg, &s)
			for _, st := range tc.steps {
				appendFile(t, path, st.write)
				s.waitLines(t, st.want...)
				time.Sleep(5 * testPoll) // nothing more may arrive
				if got := s.lines(); !slices.Equal(got, st.want) {
					t.Fatalf("after writing %q: delivered %q, want %q", st.write, got, st.want)
				}
			}
			// Every Offset is where the line starts in the file.
			content, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			for _, b := range s.allBatches() {
				if b.Path != path {
					t.Errorf("batch path %q, want %q", b.Path, path)
				}
				for _, l := range b.Lines {
					if l.Offset > 0 && content[l.Offset-1] != '\n' {
						t.Errorf("line %q: offset %d is not a line start", l.Data, l.Offset)
					}
					if !bytes.HasPrefix(content[l.Offset:], l.Data) {
						t.Errorf("line %q: file at offset %d holds %q", l.Data, l.Offset, content[l.Offset:])
					}
				}
			}
		})
	}
}

// TestBatchBounds proves batches hold at most 1000 lines and 1 MiB.
func TestBatchBounds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		lines     int
		lineBytes int
	}{
		{"many short lines", 2500, 10},
		{"long lines", 40, 100 << 10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := filepath.Join(dir, "a.ndjson")
			var want []string
			var b strings.Builder
			for i := range tc.lines {
				l := strings.Repeat(string(rune('a'+i%26)), tc.lineBytes)
				want = append(want, l)
				b.WriteString(l + "\n")
			}
			appendFile(t, path, b.String())
			var s sink
			start(t, testConfig(dir, path), &s)
			waitFor(t, "all lines", func() bool { return len(s.lines()) == tc.lines })
			if !slices.Equal(s.lines(), want) {
				t.Fatal("lines differ from what was written")
			}
			for _, b := range s.allBatches() {
				size := 0
				for _, l := range b.Lines {
					size += len(l.Data)
				}
				if len(b.Lines) > maxBatchLines || size > maxBatchBytes {
					t.Errorf("batch of %d lines, %d bytes: over the bounds", len(b.Lines), size)
				}
			}
			if n := len(s.allBatches()); n < 3 {
				t.Errorf("%d batches, want at least 3", n)
			}
		})
	}
}

// TestRenameRotation proves rotation by rename: the renamed file is read to
// its end (what the writer appends to its old descriptor too), before the
// new file, which is read from its beginning; the renamed file's
// unterminated last line is delivered once it is rotated and idle for
// rotate_wait; then it is forgotten. Nothing is lost or repeated.
func TestRenameRotation(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "access.log")
	cfg := testConfig(dir, path)
	cfg.RotateWait = time.Second
	reg := prometheus.NewPedanticRegistry()
	clk := newStepClock()
	old, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	if _, err := old.WriteString(joinLines("old-1", "old-2", "old-3")); err != nil {
		t.Fatal(err)
	}

	var s sink
	r := start(t, cfg, &s, WithClock(clk), WithRegisterer(reg))
	clk.idle(t)
	s.waitLines(t, "old-1", "old-2", "old-3")

	// Rotate: rename, the writer appends to its old descriptor (a line and
	// an unterminated one), then reopens the path.
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if _, err := old.WriteString("old-4\nold-tail"); err != nil {
		t.Fatal(err)
	}
	appendFile(t, path, joinLines("new-1", "new-2")+"new-partial")
	clk.step(t, testPoll)
	s.waitLines(t, "old-1", "old-2", "old-3", "old-4", "new-1", "new-2")
	if got := testutil.ToFloat64(r.m.rotations); got != 1 {
		t.Errorf("rotations_total = %v, want 1", got)
	}
	if got := testutil.ToFloat64(r.m.watched); got != 2 {
		t.Errorf("watched_files = %v, want 2", got)
	}

	// Within rotate_wait the old file is kept open, tail undelivered.
	clk.step(t, cfg.RotateWait/2)
	if got := len(s.lines()); got != 6 {
		t.Fatalf("%d lines delivered before rotate_wait passed, want 6", got)
	}
	// Once idle for rotate_wait, the tail is delivered and the file
	// forgotten; the live file's partial line still waits.
	clk.step(t, cfg.RotateWait)
	s.waitLines(t, "old-1", "old-2", "old-3", "old-4", "new-1", "new-2", "old-tail")
	ps := r.Positions()
	if len(ps) != 1 || ps[0].Path != path {
		t.Fatalf("positions %+v, want only %s", ps, path)
	}
	if want := fileSize(t, path) - int64(len("new-partial")); ps[0].Offset != want {
		t.Errorf("offset %d, want %d", ps[0].Offset, want)
	}
	if got := testutil.ToFloat64(r.m.watched); got != 1 {
		t.Errorf("watched_files = %v, want 1", got)
	}
	clk.step(t, 10*cfg.RotateWait)
	appendFile(t, path, "\nnew-3\n")
	clk.step(t, testPoll)
	s.waitLines(t, "old-1", "old-2", "old-3", "old-4", "new-1", "new-2", "old-tail", "new-partial", "new-3")
}

// TestCopyTruncate proves rotation by copy-truncate: when the file shrinks
// below the position, or is rewritten past it between two polls, it is read
// again from 0 and the truncation is counted.
func TestCopyTruncate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		after string // written after the truncation, before the next poll
	}{
		{"shrinks", joinLines("after-1")},
		{"rewritten past the old position", joinLines("after-1-is-a-much-longer-line-than-before", "after-2")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := filepath.Join(dir, "access.log")
			appendFile(t, path, joinLines("l1", "l2", "l3"))
			clk := newStepClock()
			var s sink
			r := start(t, testConfig(dir, path), &s, WithClock(clk))
			clk.idle(t)
			s.waitLines(t, "l1", "l2", "l3")

			// logrotate copytruncate: copy, then truncate in place.
			content, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path+".1", content, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(path, 0); err != nil {
				t.Fatal(err)
			}
			appendFile(t, path, tc.after)
			clk.step(t, testPoll)
			want := append([]string{"l1", "l2", "l3"}, strings.Fields(tc.after)...)
			s.waitLines(t, want...)
			if got := testutil.ToFloat64(r.m.truncations); got != 1 {
				t.Errorf("truncations_total = %v, want 1", got)
			}
			if p, ok := positionFor(t, r.Positions(), path); !ok || p.Offset != fileSize(t, path) {
				t.Errorf("position %+v, want offset %d", p, fileSize(t, path))
			}
		})
	}
}

// TestNewAndDeletedFiles proves files appearing under the glob are picked
// up from their beginning, excluded ones ignored, and deleted ones finished
// (read to their end through the open descriptor) and forgotten.
func TestNewAndDeletedFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a := filepath.Join(dir, "a.ndjson")
	appendFile(t, a, joinLines("a-1"))
	cfg := testConfig(dir, filepath.Join(dir, "*.ndjson"), filepath.Join(dir, "*.gz"))
	cfg.Exclude = []string{"*.gz", filepath.Join(dir, "skip-*")}
	clk := newStepClock()
	var s sink
	r := start(t, cfg, &s, WithClock(clk))
	clk.idle(t)
	s.waitLines(t, "a-1")

	b := filepath.Join(dir, "b.ndjson")
	appendFile(t, b, joinLines("b-1", "b-2"))
	appendFile(t, filepath.Join(dir, "skip-me.ndjson"), joinLines("skipped"))
	appendFile(t, filepath.Join(dir, "old.ndjson.gz"), joinLines("compressed"))
	clk.step(t, testPoll)
	s.waitLines(t, "a-1", "b-1", "b-2")

	// Append, then delete before the tailer looks: the open descriptor
	// still reads what was written.
	appendFile(t, a, joinLines("a-2"))
	if err := os.Remove(a); err != nil {
		t.Fatal(err)
	}
	clk.step(t, testPoll)
	s.waitLines(t, "a-1", "b-1", "b-2", "a-2")
	if n := len(r.Positions()); n != 2 {
		t.Errorf("%d positions while the deleted file is finished, want 2", n)
	}
	clk.step(t, cfg.RotateWait)
	if ps := r.Positions(); len(ps) != 1 || ps[0].Path != b {
		t.Errorf("positions %+v, want only %s", ps, b)
	}
	if got := testutil.ToFloat64(r.m.watched); got != 1 {
		t.Errorf("watched_files = %v, want 1", got)
	}
}

// TestHandlerRetry proves a failing handler gets the same batch again,
// after a growing backoff, and that nothing is skipped or acknowledged
// meanwhile.
func TestHandlerRetry(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "access.log")
	appendFile(t, path, joinLines("l1", "l2"))
	clk := newStepClock()
	s := sink{fail: func(attempt int, _ Batch) error {
		if attempt <= 3 {
			return errFlaky
		}
		return nil
	}}
	r := start(t, testConfig(dir, path), &s, WithClock(clk))
	// The first poll delivers, fails, and waits testPoll, then 2×, 4×.
	for _, want := range []time.Duration{testPoll, 2 * testPoll, 4 * testPoll} {
		if d := clk.idle(t); d != want {
			t.Fatalf("backoff %v, want %v", d, want)
		}
		if ps := r.Positions(); len(ps) != 0 && ps[0].Offset != 0 {
			t.Fatalf("position advanced to %d while the handler fails", ps[0].Offset)
		}
		clk.advance(want)
	}
	clk.idle(t) // the poll interval after success
	s.waitLines(t, "l1", "l2")
	s.mu.Lock()
	attempts := slices.Clone(s.attempts)
	s.mu.Unlock()
	if len(attempts) != 4 {
		t.Fatalf("%d attempts, want 4", len(attempts))
	}
	for _, a := range attempts[1:] {
		if a.Path != attempts[0].Path || len(a.Lines) != 2 || a.Lines[0].Offset != 0 || string(a.Lines[1].Data) != "l2" {
			t.Errorf("retried batch %+v differs from the first %+v", a, attempts[0])
		}
	}
	if got := testutil.ToFloat64(r.m.handlerFailures); got != 3 {
		t.Errorf("handler_failures_total = %v, want 3", got)
	}
	if p, _ := positionFor(t, r.Positions(), path); p.Offset != fileSize(t, path) {
		t.Errorf("offset %d after success, want %d", p.Offset, fileSize(t, path))
	}
}

func TestBackoffBounded(t *testing.T) {
	t.Parallel()
	tl := &Tailer{cfg: Config{PollInterval: 250 * time.Millisecond}}
	for attempt, want := range map[int]time.Duration{
		1: 250 * time.Millisecond, 2: 500 * time.Millisecond, 3: time.Second,
		5: 4 * time.Second, 6: maxBackoff, 1000: maxBackoff,
	} {
		if got := tl.backoff(attempt); got != want {
			t.Errorf("backoff(%d) = %v, want %v", attempt, got, want)
		}
	}
	tl.cfg.PollInterval = time.Minute
	if got := tl.backoff(9); got != time.Minute {
		t.Errorf("backoff with a 1m poll interval = %v, want 1m", got)
	}
}

// TestFailingHandlerNeverSkips proves that a tailer stopped while its
// handler fails has acknowledged nothing, so the next one delivers all.
func TestFailingHandlerNeverSkips(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "access.log")
	appendFile(t, path, joinLines("l1", "l2"))
	cfg := testConfig(dir, path)
	failing := sink{fail: func(int, Batch) error { return errFlaky }}
	r := start(t, cfg, &failing)
	waitFor(t, "three attempts", func() bool {
		failing.mu.Lock()
		defer failing.mu.Unlock()
		return len(failing.attempts) >= 3
	})
	r.stop(t)
	if p, ok := positionFor(t, r.Positions(), path); ok && p.Offset != 0 {
		t.Fatalf("offset %d after a handler that always failed", p.Offset)
	}
	var s sink
	start(t, cfg, &s)
	s.waitLines(t, "l1", "l2")
}

// TestStartAtEnd proves start_at end skips what files hold at a first
// start (up to their last complete line) but not files appearing later, and
// not anything on a later start.
func TestStartAtEnd(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a := filepath.Join(dir, "a.log")
	appendFile(t, a, joinLines("old-1", "old-2")+"half")
	cfg := testConfig(dir, filepath.Join(dir, "*.log"))
	cfg.StartAt = StartEnd
	var s sink
	r := start(t, cfg, &s)
	waitFor(t, "a position", func() bool { return len(r.Positions()) == 1 })
	appendFile(t, a, "-line\n")
	s.waitLines(t, "half-line")
	appendFile(t, filepath.Join(dir, "b.log"), joinLines("b-1"))
	s.waitLines(t, "half-line", "b-1")
	r.stop(t)

	appendFile(t, filepath.Join(dir, "c.log"), joinLines("c-1")) // while stopped
	var s2 sink
	start(t, cfg, &s2)
	s2.waitLines(t, "c-1")
}

// TestLongUnterminatedLine proves a line growing over many polls without
// its newline is delivered once, flagged, when the newline comes.
func TestLongUnterminatedLine(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "a.log")
	clk := newStepClock()
	cfg := testConfig(dir, path)
	cfg.MaxLineBytes = 16
	appendFile(t, path, "")
	var s sink
	r := start(t, cfg, &s, WithClock(clk))
	clk.idle(t)
	for range 5 {
		appendFile(t, path, strings.Repeat("x", 1000))
		clk.step(t, testPoll)
	}
	appendFile(t, path, "\nnext\n")
	clk.step(t, testPoll)
	s.waitLines(t, "TOOLONG:"+strings.Repeat("x", 16), "next")
	if got := testutil.ToFloat64(r.m.bytes); got != 5006 {
		t.Errorf("bytes_total = %v, want 5006", got)
	}
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r interface {
		ReadAt([]byte, int64) (int, error)
	}
	n int
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n += n
	return n, err
}

// TestReadBatchResumesTail proves the unterminated tail is not scanned
// again from its start at every read: reading a line that grows in 100
// pieces costs about its length, not 50 times it.
func TestReadBatchResumesTail(t *testing.T) {
	t.Parallel()
	var content []byte
	var tail *tailLine
	var read int
	buf := make([]byte, readChunk)
	for i := range 100 {
		content = append(content, bytes.Repeat([]byte{byte('a' + i%26)}, 1000)...)
		cr := &countingReader{r: bytes.NewReader(content)}
		res, err := readBatch(cr, 0, tail, 1<<20, false, buf)
		if err != nil {
			t.Fatal(err)
		}
		read += cr.n
		if len(res.lines) != 0 || res.end != 0 || !res.eof || res.tail == nil {
			t.Fatalf("read %d: %+v", i, res)
		}
		tail = res.tail
	}
	if read > 2*len(content) {
		t.Errorf("read %d bytes for a %d byte line", read, len(content))
	}
	content = append(content, "\r\n"...)
	res, err := readBatch(bytes.NewReader(content), 0, tail, 1<<20, false, buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.lines) != 1 || !bytes.Equal(res.lines[0].Data, content[:len(content)-2]) || res.end != int64(len(content)) {
		t.Fatalf("final read: %d lines, end %d", len(res.lines), res.end)
	}
}

func TestLastLineEnd(t *testing.T) {
	t.Parallel()
	tests := []struct {
		content string
		maxLine int
		want    int64
	}{
		{"", 8, 0},
		{"a\nb\n", 8, 4},
		{"a\nb\nhalf", 8, 4},
		{"half", 8, 0},
		{"a\n0123456789abcdef", 8, 18},
	}
	for _, tc := range tests {
		got, err := lastLineEnd(strings.NewReader(tc.content), int64(len(tc.content)), tc.maxLine)
		if err != nil || got != tc.want {
			t.Errorf("lastLineEnd(%q) = %d, %v; want %d", tc.content, got, err, tc.want)
		}
	}
}

func TestMetricsLint(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "a.log")
	appendFile(t, path, joinLines("l1", "l2")+"partial")
	reg := prometheus.NewPedanticRegistry()
	var s sink
	r := start(t, testConfig(dir, path), &s, WithRegisterer(reg))
	s.waitLines(t, "l1", "l2")
	waitFor(t, "lag of the partial line", func() bool { return testutil.ToFloat64(r.m.lag) == float64(len("partial")) })
	names := []string{
		"vigil_collector_file_lines_total", "vigil_collector_file_bytes_total",
		"vigil_collector_file_truncations_total", "vigil_collector_file_rotations_total",
		"vigil_collector_file_handler_failures_total",
		"vigil_collector_file_watched_files", "vigil_collector_file_lag_bytes",
	}
	problems, err := testutil.GatherAndLint(reg, names...)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("metric %s: %s", p.Metric, p.Text)
	}
	if n, err := testutil.GatherAndCount(reg, names...); err != nil || n != len(names) {
		t.Errorf("gathered %d metrics (%v), want %d", n, err, len(names))
	}
	for _, c := range []struct {
		name string
		got  float64
		want float64
	}{
		{"lines", testutil.ToFloat64(r.m.lines), 2},
		{"bytes", testutil.ToFloat64(r.m.bytes), 6},
		{"watched", testutil.ToFloat64(r.m.watched), 1},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}

	// A second tailer on the same registerer shares the metrics.
	dir2 := t.TempDir()
	var s2 sink
	r2 := start(t, testConfig(dir2, path), &s2, WithRegisterer(reg))
	s2.waitLines(t, "l1", "l2")
	waitFor(t, "shared metrics", func() bool { return testutil.ToFloat64(r.m.watched) == 2 })
	if r2.m.lines != r.m.lines || testutil.ToFloat64(r.m.lines) != 4 {
		t.Errorf("second tailer does not share lines_total")
	}
	r2.stop(t)
	r.stop(t)
	if got := testutil.ToFloat64(r.m.watched); got != 0 {
		t.Errorf("watched_files = %v after both stopped, want 0", got)
	}
	if got := testutil.ToFloat64(r.m.lag); got != 0 {
		t.Errorf("lag_bytes = %v after both stopped, want 0", got)
	}
}

func TestLifecycle(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "a.log")
	cfg := testConfig(dir, path)

	t.Run("close without run, twice", func(t *testing.T) {
		tl, err := New(cfg, &sink{})
		if err != nil {
			t.Fatal(err)
		}
		if err := tl.Close(); err != nil {
			t.Fatal(err)
		}
		if err := tl.Close(); err != nil {
			t.Fatal(err)
		}
		if err := tl.Run(context.Background()); err != nil {
			t.Fatalf("Run after Close: %v", err)
		}
	})
	t.Run("run, one line, close", func(t *testing.T) {
		appendFile(t, path, joinLines("l1"))
		var s sink
		tl, err := New(cfg, &s)
		if err != nil {
			t.Fatal(err)
		}
		errc := make(chan error, 1)
		go func() { errc <- tl.Run(context.Background()) }()
		s.waitLines(t, "l1")
		if err := tl.Close(); err != nil {
			t.Fatal(err)
		}
		if err := <-errc; err != nil {
			t.Fatalf("Run: %v", err)
		}
		if err := tl.Close(); err != nil {
			t.Fatal(err)
		}
		if err := tl.Run(context.Background()); err == nil {
			t.Fatal("second Run: no error")
		}
		ps, _, err := loadPositions(cfg.PositionsFile)
		if err != nil || len(ps) != 1 || ps[0].Offset != 3 {
			t.Fatalf("persisted positions %+v, %v; want offset 3", ps, err)
		}
	})
	t.Run("positions file in use", func(t *testing.T) {
		var s sink
		start(t, cfg, &s)
		appendFile(t, path, joinLines("l2"))
		s.waitLines(t, "l2") // the first tailer holds the lock
		tl, err := New(cfg, &sink{})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		err = tl.Run(ctx)
		if err == nil || !strings.Contains(err.Error(), "in use") || !strings.Contains(err.Error(), cfg.PositionsFile) {
			t.Fatalf("second tailer on one positions file: %v", err)
		}
	})
	t.Run("bad arguments", func(t *testing.T) {
		if _, err := New(cfg, nil); err == nil {
			t.Error("nil handler accepted")
		}
		if _, err := New(Config{}, &sink{}); err == nil {
			t.Error("empty config accepted")
		}
	})
}

// TestOwnFilesIgnored proves the positions file, its temporary files and
// its lock are not followed even when the globs match them.
func TestOwnFilesIgnored(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := testConfig(dir, filepath.Join(dir, "*"))
	cfg.PositionsFile = filepath.Join(dir, "positions.json")
	appendFile(t, filepath.Join(dir, "a.log"), joinLines("l1"))
	var s sink
	r := start(t, cfg, &s)
	s.waitLines(t, "l1")
	appendFile(t, filepath.Join(dir, "a.log"), joinLines("l2"))
	s.waitLines(t, "l1", "l2")
	time.Sleep(5 * testPoll)
	if ps := r.Positions(); len(ps) != 1 {
		t.Errorf("positions %+v, want only a.log", ps)
	}
	if got := s.lines(); len(got) != 2 {
		t.Errorf("delivered %q", got)
	}
}
