package spool

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		runCrashChild(dir) // never returns
	}
	// Every test closes what it opens: no committer goroutine may survive.
	goleak.VerifyTestMain(m)
}

// testConfig is a small spool in a fresh directory: segments of 4 KiB,
// records of at most 1 KiB.
func testConfig(t testing.TB) Config {
	return Config{
		Dir:            filepath.Join(t.TempDir(), "spool"),
		MaxBytes:       1 << 20,
		SegmentBytes:   4 << 10,
		MaxRecordBytes: 1 << 10,
	}
}

func openSpool(t testing.TB, cfg Config, opts ...Option) *Spool {
	t.Helper()
	s, err := Open(cfg, opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// readN reads exactly n records, max at a time.
func readN(t testing.TB, s *Spool, n, max int) []Entry {
	t.Helper()
	ctx := ctxT(t)
	var out []Entry
	for len(out) < n {
		ents, err := s.Next(ctx, min(max, n-len(out)))
		if err != nil {
			t.Fatalf("Next after %d of %d records: %v", len(out), n, err)
		}
		out = append(out, ents...)
	}
	return out
}

// expectNothing checks that Next finds no record within a short while.
func expectNothing(t testing.TB, s *Spool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	ents, err := s.Next(ctx, 10)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next on an empty spool: %d records, error %v; want a deadline error", len(ents), err)
	}
}

// payload is the deterministic content of record i: its number, then
// filler of a length that varies with i.
func payload(i, maxLen int) []byte {
	head := fmt.Sprintf("rec-%d:", i)
	n := len(head) + (i*7919)%(maxLen-len(head)+1)
	b := make([]byte, n)
	copy(b, head)
	for j := len(head); j < n; j++ {
		b[j] = byte('a' + (i+j)%26)
	}
	return b
}

func segmentFiles(t testing.TB, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*"+segmentExt))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func diskSize(t testing.TB, files []string) int64 {
	t.Helper()
	var n int64
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		n += fi.Size()
	}
	return n
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		cfg  Config
		want []string // substrings, one per expected problem
	}{
		{Config{Dir: "/x"}, nil},
		{Config{Dir: "/x", Sync: SyncNone, MaxBytes: 8 << 10, SegmentBytes: 4 << 10, MaxRecordBytes: 100}, nil},
		{Config{}, []string{"spool.dir: required"}},
		{Config{Dir: "/x", MaxBytes: -1}, []string{"spool.max_bytes: -1 is negative (0 means the default, 1073741824)"}},
		{Config{Dir: "/x", SegmentBytes: -5}, []string{"spool.segment_bytes: -5 is negative"}},
		{Config{Dir: "/x", SegmentBytes: 10}, []string{"spool.segment_bytes: 10 is less than 1024"}},
		{Config{Dir: "/x", MaxRecordBytes: -1}, []string{"spool.max_record_bytes: -1 is negative"}},
		{Config{Dir: "/x", MaxRecordBytes: 2 << 30}, []string{"spool.max_record_bytes: 2147483648 is more than"}},
		{Config{Dir: "/x", Sync: "sometimes"}, []string{`spool.sync: "sometimes" is not one of always|none`}},
		{Config{Dir: "/x", SegmentBytes: 4096, MaxRecordBytes: 4096}, []string{"spool.max_record_bytes: 4096 plus the 18-byte header is more than spool.segment_bytes (4096)"}},
		{Config{Dir: "/x", MaxBytes: 100 << 20}, []string{"spool.max_bytes: 104857600 is less than twice spool.segment_bytes (67108864)"}},
		{Config{MaxBytes: -1, Sync: "x"}, []string{"spool.dir", "spool.max_bytes", "spool.sync"}},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		if len(tt.want) == 0 {
			if err != nil {
				t.Errorf("%+v: %v", tt.cfg, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%+v: no error, want %q", tt.cfg, tt.want)
			continue
		}
		lines := strings.Split(err.Error(), "\n")
		if len(lines) != len(tt.want) {
			t.Errorf("%+v: %d problems %q, want %d", tt.cfg, len(lines), lines, len(tt.want))
			continue
		}
		for i, w := range tt.want {
			if !strings.Contains(lines[i], w) {
				t.Errorf("%+v: problem %q, want it to contain %q", tt.cfg, lines[i], w)
			}
		}
		if s, err := Open(tt.cfg); err == nil || s != nil {
			t.Errorf("%+v: Open accepted it", tt.cfg)
		}
	}
}

// TestRoundTrip appends records in groups, reads them back in various
// batch sizes across segment rolls, acknowledges them, and checks that
// order, content, positions, stats and segment files are right throughout.
func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name     string
		records  int
		maxLen   int
		group    int // records per Append
		readMax  int
		ackEvery int // Ack after this many records read
		sync     string
	}{
		{"single records", 300, 200, 1, 7, 50, SyncAlways},
		{"groups", 1000, 300, 13, 100, 333, SyncNone},
		{"big records", 40, 1024, 3, 1, 1, SyncAlways},
		{"empty records", 50, 0, 5, 50, 50, SyncNone},
		{"one big read", 500, 100, 50, 10000, 500, SyncNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t)
			cfg.Sync = tt.sync
			s := openSpool(t, cfg)
			ctx := ctxT(t)
			var want [][]byte
			var wantBytes int64
			for i := 0; i < tt.records; i += tt.group {
				var g [][]byte
				for j := i; j < min(i+tt.group, tt.records); j++ {
					p := []byte{}
					if tt.maxLen > 0 {
						p = payload(j, tt.maxLen)
					}
					g = append(g, p)
					wantBytes += HeaderSize + int64(len(p))
				}
				if err := s.Append(ctx, g...); err != nil {
					t.Fatalf("Append %d: %v", i, err)
				}
				want = append(want, g...)
			}
			st := s.Stats()
			if st.Records != int64(tt.records) || st.Bytes != wantBytes || st.DiskBytes != wantBytes {
				t.Fatalf("Stats after appending: %+v, want %d records, %d bytes", st, tt.records, wantBytes)
			}
			if tt.maxLen > 200 && st.Segments < 2 {
				t.Fatalf("Stats after appending: %+v, want several segments", st)
			}

			var got []Entry
			for len(got) < tt.records {
				ents, err := s.Next(ctx, tt.readMax)
				if err != nil {
					t.Fatal(err)
				}
				if len(ents) == 0 || len(ents) > tt.readMax {
					t.Fatalf("Next(%d) returned %d records", tt.readMax, len(ents))
				}
				got = append(got, ents...)
				if len(got)%tt.ackEvery == 0 || len(got) == tt.records {
					if err := s.Ack(got[len(got)-1].Pos); err != nil {
						t.Fatal(err)
					}
				}
			}
			var prev Position
			for i, e := range got {
				if !bytes.Equal(e.Data, want[i]) {
					t.Fatalf("record %d: %q, want %q", i, e.Data, want[i])
				}
				if e.Pos.Seq != uint64(i+1) {
					t.Fatalf("record %d: seq %d, want %d", i, e.Pos.Seq, i+1)
				}
				if i > 0 && (e.Pos.Segment == prev.Segment && e.Pos.Offset != prev.End || e.Pos.Segment < prev.Segment) {
					t.Fatalf("record %d at %+v after %+v", i, e.Pos, prev)
				}
				prev = e.Pos
			}
			expectNothing(t, s)
			st = s.Stats()
			if st.Records != 0 || st.Bytes != 0 || st.Segments > 1 {
				t.Fatalf("Stats after acknowledging everything: %+v", st)
			}
			if n := len(segmentFiles(t, cfg.Dir)); n != st.Segments {
				t.Fatalf("%d segment files, Stats says %d", n, st.Segments)
			}
		})
	}
}

// TestConcurrentAppenders: many goroutines append at once while a consumer
// reads and acknowledges; every record arrives exactly once, and each
// goroutine's records arrive in the order it appended them.
func TestConcurrentAppenders(t *testing.T) {
	tests := []struct {
		name               string
		sync               string
		writers, perWriter int
	}{
		{"nosync 8x10k", SyncNone, 8, 10000},
		{"fsync 8x200", SyncAlways, 8, 200},
		{"fsync 64x100", SyncAlways, 64, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t)
			cfg.Sync = tt.sync
			cfg.SegmentBytes = 64 << 10
			cfg.MaxBytes = 64 << 20
			s := openSpool(t, cfg)
			ctx := ctxT(t)
			total := tt.writers * tt.perWriter

			var wg sync.WaitGroup
			errs := make(chan error, tt.writers)
			for w := range tt.writers {
				wg.Go(func() {
					for i := range tt.perWriter {
						if err := s.Append(ctx, fmt.Appendf(nil, "%d/%d", w, i)); err != nil {
							errs <- fmt.Errorf("writer %d record %d: %w", w, i, err)
							return
						}
					}
				})
			}

			next := make([]int, tt.writers)
			for read := 0; read < total; {
				ents, err := s.Next(ctx, 500)
				if err != nil {
					t.Fatalf("Next after %d records: %v", read, err)
				}
				for _, e := range ents {
					var w, i int
					if _, err := fmt.Sscanf(string(e.Data), "%d/%d", &w, &i); err != nil {
						t.Fatalf("record %q: %v", e.Data, err)
					}
					if i != next[w] {
						t.Fatalf("writer %d: record %d, want %d", w, i, next[w])
					}
					next[w]++
				}
				read += len(ents)
				if err := s.Ack(ents[len(ents)-1].Pos); err != nil {
					t.Fatal(err)
				}
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			expectNothing(t, s)
			if st := s.Stats(); st.Records != 0 || st.Bytes != 0 {
				t.Fatalf("Stats after everything was acknowledged: %+v", st)
			}
		})
	}
}

// TestFull: Append fails with ErrFull at max_bytes and stores nothing;
// WaitForSpace blocks until acknowledgements free a segment.
func TestFull(t *testing.T) {
	cfg := testConfig(t)
	cfg.SegmentBytes = 1 << 10
	cfg.MaxBytes = 4 << 10
	cfg.MaxRecordBytes = 100
	s := openSpool(t, cfg)
	ctx := ctxT(t)
	rec := bytes.Repeat([]byte("x"), 100) // 118 bytes with the header; 8 per segment

	n := 0
	for ; ; n++ {
		err := s.Append(ctx, rec)
		if errors.Is(err, ErrFull) {
			if !strings.Contains(err.Error(), "spool.max_bytes (4096)") {
				t.Errorf("ErrFull says %q", err)
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if n != 34 { // 34*118 = 4012 bytes: 4 segments of 8 records and 2 more
		t.Fatalf("%d records fit, want 34", n)
	}
	before := s.Stats()
	if err := s.Append(ctx, rec, rec); !errors.Is(err, ErrFull) {
		t.Fatalf("group append on a full spool: %v", err)
	}
	if st := s.Stats(); st != before {
		t.Fatalf("a failed append changed the stats: %+v, was %+v", st, before)
	}

	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := s.WaitForSpace(short, rec); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitForSpace on a full spool: %v", err)
	}

	waited := make(chan error, 1)
	go func() { waited <- s.WaitForSpace(ctx, rec) }()
	ents := readN(t, s, 7, 100)
	if err := s.Ack(ents[6].Pos); err != nil { // not a whole segment: nothing freed
		t.Fatal(err)
	}
	select {
	case err := <-waited:
		t.Fatalf("WaitForSpace returned %v before space was freed", err)
	case <-time.After(20 * time.Millisecond):
	}
	ents = readN(t, s, 1, 100)
	if err := s.Ack(ents[0].Pos); err != nil { // completes the first segment
		t.Fatal(err)
	}
	select {
	case err := <-waited:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("WaitForSpace did not return after a segment was freed")
	}
	for range 8 {
		if err := s.Append(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Append(ctx, rec); !errors.Is(err, ErrFull) {
		t.Fatalf("append past the limit again: %v", err)
	}
	// Everything still arrives, in order.
	ents = readN(t, s, 34, 100)
	if ents[0].Pos.Seq != 9 || ents[33].Pos.Seq != 42 {
		t.Fatalf("read seq %d..%d, want 9..42", ents[0].Pos.Seq, ents[33].Pos.Seq)
	}
}

func TestRecordTooLarge(t *testing.T) {
	cfg := testConfig(t)
	s := openSpool(t, cfg)
	ctx := ctxT(t)
	max := make([]byte, cfg.MaxRecordBytes)
	tests := []struct {
		name string
		recs [][]byte
		want string
	}{
		{"one byte over", [][]byte{make([]byte, cfg.MaxRecordBytes+1)}, "record 1 of 1 is 1025 bytes, more than spool.max_record_bytes (1024)"},
		{"in a group", [][]byte{[]byte("ok"), make([]byte, 5000)}, "record 2 of 2 is 5000 bytes"},
		{"group larger than a segment", [][]byte{max, max, max, max}, "4 records take 4168 bytes with headers, more than spool.segment_bytes (4096)"},
	}
	for _, tt := range tests {
		err := s.Append(ctx, tt.recs...)
		if !errors.Is(err, ErrRecordTooLarge) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want ErrRecordTooLarge saying %q", tt.name, err, tt.want)
		}
		if err := s.WaitForSpace(ctx, tt.recs...); !errors.Is(err, ErrRecordTooLarge) {
			t.Errorf("%s: WaitForSpace: %v", tt.name, err)
		}
	}
	if st := s.Stats(); st.Records != 0 || st.DiskBytes != 0 {
		t.Fatalf("rejected appends stored something: %+v", st)
	}
	if err := s.Append(ctx, max, max, max); err != nil {
		t.Fatalf("records of exactly max_record_bytes: %v", err)
	}
	if err := s.Append(ctx); err != nil {
		t.Fatalf("empty append: %v", err)
	}
	if got := readN(t, s, 3, 10); len(got[2].Data) != cfg.MaxRecordBytes {
		t.Fatalf("read back %d bytes", len(got[2].Data))
	}
}

// TestLargeRecords: records larger than the read chunk come back whole,
// and one Next returns at most about 4 MiB (but always one record).
func TestLargeRecords(t *testing.T) {
	cfg := testConfig(t)
	cfg.MaxRecordBytes = 3 << 20
	cfg.SegmentBytes = 8 << 20
	cfg.MaxBytes = 64 << 20
	cfg.Sync = SyncNone
	s := openSpool(t, cfg)
	ctx := ctxT(t)
	sizes := []int{readChunk - HeaderSize, readChunk - HeaderSize + 1, readChunk, readChunk + 100, 3 << 20, 3 << 20, 3 << 20, 10}
	for i, n := range sizes {
		if err := s.Append(ctx, bytes.Repeat([]byte{byte(i)}, n)); err != nil {
			t.Fatal(err)
		}
	}
	var got []Entry
	for len(got) < len(sizes) {
		ents, err := s.Next(ctx, 100)
		if err != nil {
			t.Fatal(err)
		}
		var n int
		for _, e := range ents {
			n += len(e.Data)
		}
		if len(ents) > 1 && n-len(ents[len(ents)-1].Data) >= nextBytes {
			t.Errorf("Next returned %d records, %d bytes", len(ents), n)
		}
		got = append(got, ents...)
	}
	for i, e := range got {
		if !bytes.Equal(e.Data, bytes.Repeat([]byte{byte(i)}, sizes[i])) {
			t.Fatalf("record %d: %d bytes, want %d", i, len(e.Data), sizes[i])
		}
	}
}

// TestReopen: after a clean Close, reading resumes at the first record not
// acknowledged, and sequence numbers continue.
func TestReopen(t *testing.T) {
	cfg := testConfig(t)
	ctx := ctxT(t)
	s := openSpool(t, cfg)
	for i := range 100 {
		if err := s.Append(ctx, payload(i, 100)); err != nil {
			t.Fatal(err)
		}
	}
	ents := readN(t, s, 60, 60)
	if err := s.Ack(ents[39].Pos); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openSpool(t, cfg)
	rec := s.Recovery()
	if rec.AckedSeq != 40 || rec.Records != 60 || rec.NextSeq != 101 || rec.TornRecords != 0 || len(rec.Corrupt) != 0 {
		t.Fatalf("Recovery: %+v", rec)
	}
	if st := s.Stats(); st.Records != 60 {
		t.Fatalf("Stats: %+v", st)
	}
	ents = readN(t, s, 60, 1000)
	for i, e := range ents {
		if e.Pos.Seq != uint64(41+i) || !bytes.Equal(e.Data, payload(40+i, 100)) {
			t.Fatalf("record %d after reopening: seq %d %q", i, e.Pos.Seq, e.Data)
		}
	}
	if err := s.Ack(ents[59].Pos); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Everything acknowledged: nothing to read, sequence numbers go on.
	s = openSpool(t, cfg)
	if rec := s.Recovery(); rec.Records != 0 || rec.AckedSeq != 100 || rec.NextSeq != 101 {
		t.Fatalf("Recovery: %+v", rec)
	}
	expectNothing(t, s)
	if err := s.Append(ctx, []byte("after")); err != nil {
		t.Fatal(err)
	}
	if e := readN(t, s, 1, 1)[0]; e.Pos.Seq != 101 || string(e.Data) != "after" {
		t.Fatalf("record after reopening: %+v %q", e.Pos, e.Data)
	}
}

// TestAckedSegmentsDeleted: acknowledging frees whole segments, the one
// being appended to included once it is fully acknowledged.
func TestAckedSegmentsDeleted(t *testing.T) {
	cfg := testConfig(t)
	s := openSpool(t, cfg)
	ctx := ctxT(t)
	rec := make([]byte, 1000) // 1018 bytes: 4 records per 4 KiB segment
	for range 20 {
		if err := s.Append(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(segmentFiles(t, cfg.Dir)); n != 5 {
		t.Fatalf("%d segment files, want 5", n)
	}
	ents := readN(t, s, 20, 100)
	steps := []struct {
		ack      int // index of the record acknowledged
		segments int
	}{
		{2, 5}, {3, 4}, {10, 3}, {15, 1}, {19, 0},
	}
	for _, st := range steps {
		if err := s.Ack(ents[st.ack].Pos); err != nil {
			t.Fatal(err)
		}
		files := segmentFiles(t, cfg.Dir)
		stats := s.Stats()
		if len(files) != st.segments || stats.Segments != st.segments || stats.DiskBytes != diskSize(t, files) {
			t.Fatalf("after acking record %d: %d files %v, stats %+v; want %d", st.ack, len(files), files, stats, st.segments)
		}
		if want := int64(19-st.ack) * 1018; stats.Bytes != want || stats.Records != int64(19-st.ack) {
			t.Fatalf("after acking record %d: stats %+v, want %d bytes", st.ack, stats, want)
		}
	}
	// A new segment starts with the next append.
	if err := s.Append(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if e := readN(t, s, 1, 1)[0]; e.Pos.Seq != 21 || e.Pos.Segment != 21 || e.Pos.Offset != 0 {
		t.Fatalf("record after everything was acknowledged at %+v", e.Pos)
	}
}

// TestRewind: records read but not acknowledged come again after Rewind,
// in order; acknowledging positions read before the Rewind is allowed.
func TestRewind(t *testing.T) {
	cfg := testConfig(t)
	s := openSpool(t, cfg)
	ctx := ctxT(t)
	for i := range 50 {
		if err := s.Append(ctx, payload(i, 300)); err != nil {
			t.Fatal(err)
		}
	}
	first := readN(t, s, 30, 7)
	if err := s.Ack(first[9].Pos); err != nil {
		t.Fatal(err)
	}
	if err := s.Rewind(); err != nil {
		t.Fatal(err)
	}
	again := readN(t, s, 40, 9)
	for i, e := range again {
		if e.Pos.Seq != uint64(11+i) || !bytes.Equal(e.Data, payload(10+i, 300)) {
			t.Fatalf("record %d after Rewind: seq %d", i, e.Pos.Seq)
		}
		if i < 20 && e.Pos != first[10+i].Pos {
			t.Fatalf("record %d after Rewind at %+v, was at %+v", i, e.Pos, first[10+i].Pos)
		}
	}
	expectNothing(t, s)

	// Delivered before the Rewind, acknowledged after: the read cursor
	// skips past what the ack covers.
	if err := s.Rewind(); err != nil {
		t.Fatal(err)
	}
	if err := s.Ack(first[24].Pos); err != nil {
		t.Fatal(err)
	}
	if e := readN(t, s, 1, 1)[0]; e.Pos.Seq != 26 {
		t.Fatalf("after acking seq 25 the reader is at seq %d", e.Pos.Seq)
	}
}

func TestAckErrors(t *testing.T) {
	cfg := testConfig(t)
	s := openSpool(t, cfg)
	ctx := ctxT(t)
	for i := range 10 {
		if err := s.Append(ctx, payload(i, 50)); err != nil {
			t.Fatal(err)
		}
	}
	ents := readN(t, s, 5, 5)
	tests := []struct {
		name string
		pos  Position
		want string
	}{
		{"not read yet", Position{Seq: 6, Segment: 1, Offset: ents[4].Pos.End, End: ents[4].Pos.End + 30}, "Next has returned records up to seq 5 only"},
		{"no such segment", Position{Seq: 3, Segment: 77, Offset: 0, End: 40}, "no such segment"},
		{"made up", Position{Seq: 3, Segment: 1, Offset: 0, End: 1 << 20}, "not a position Next returned"},
	}
	for _, tt := range tests {
		if err := s.Ack(tt.pos); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Ack(%v) = %v, want %q", tt.name, tt.pos, err, tt.want)
		}
	}
	if err := s.Ack(ents[3].Pos); err != nil {
		t.Fatal(err)
	}
	if err := s.Ack(ents[1].Pos); err != nil {
		t.Fatalf("acknowledging an earlier position again: %v", err)
	}
	if st := s.Stats(); st.Records != 6 {
		t.Fatalf("Stats: %+v", st)
	}
}

// TestLifecycle: Close is safe twice and on a failed Open; it wakes blocked
// calls with ErrClosed; everything fails with ErrClosed afterwards.
func TestLifecycle(t *testing.T) {
	s, err := Open(Config{})
	if err == nil {
		t.Fatal("Open without a dir succeeded")
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close after a failed Open: %v", err)
	}

	cfg := testConfig(t)
	cfg.SegmentBytes = 1 << 10
	cfg.MaxBytes = 2 << 10
	cfg.MaxRecordBytes = 500
	s, err = Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	big := make([]byte, 500) // 518 bytes with the header: 3 fit in 2 KiB
	for range 3 {
		if err := s.Append(ctx, big); err != nil {
			t.Fatal(err)
		}
	}
	ents := readN(t, s, 3, 10)
	blocked := make(chan error, 2)
	go func() {
		_, err := s.Next(ctx, 1)
		blocked <- err
	}()
	go func() { blocked <- s.WaitForSpace(ctx, big) }()
	time.Sleep(20 * time.Millisecond)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := <-blocked; !errors.Is(err, ErrClosed) {
			t.Errorf("blocked call woken by Close: %v", err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := s.Append(ctx, []byte("x")); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Close: %v", err)
	}
	if _, err := s.Next(ctx, 1); !errors.Is(err, ErrClosed) {
		t.Errorf("Next after Close: %v", err)
	}
	if err := s.Ack(ents[0].Pos); !errors.Is(err, ErrClosed) {
		t.Errorf("Ack after Close: %v", err)
	}
	if err := s.Rewind(); !errors.Is(err, ErrClosed) {
		t.Errorf("Rewind after Close: %v", err)
	}

	// Open, Close with nothing in between.
	s = openSpool(t, testConfig(t))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestAppendContext: a done context stops an Append before it is written.
func TestAppendContext(t *testing.T) {
	s := openSpool(t, testConfig(t))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Append(ctx, []byte("x")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Append with a canceled context: %v", err)
	}
	if st := s.Stats(); st.Records != 0 {
		t.Fatalf("Stats: %+v", st)
	}
	if _, err := s.Next(ctx, 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("Next with a canceled context on an empty spool: %v", err)
	}
}

// TestAppendAbandon: an Append whose context ends while it waits in the
// queue is taken off it and never written; one whose records are being
// written waits for the outcome, so its answer is definite.
func TestAppendAbandon(t *testing.T) {
	s := openSpool(t, testConfig(t))
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting until %s", what)
			}
		}
	}
	s.wmu.Lock() // the committer takes a batch, then blocks before writing it
	ctxA, cancelA := context.WithCancel(context.Background())
	ctxB, cancelB := context.WithCancel(context.Background())
	resA, resB := make(chan error, 1), make(chan error, 1)
	go func() { resA <- s.Append(ctxA, []byte("a")) }()
	waitFor("the committer took A", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.pending > 0 && len(s.queue) == 0
	})
	go func() { resB <- s.Append(ctxB, []byte("b")) }()
	waitFor("B is queued", func() bool { return s.queued() == 1 })
	cancelB()
	cancelA()
	if err := <-resB; !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "abandoned before it was written") {
		t.Fatalf("queued Append after its context ended: %v", err)
	}
	select {
	case err := <-resA:
		t.Fatalf("Append being written returned %v before the write ended", err)
	case <-time.After(20 * time.Millisecond):
	}
	s.wmu.Unlock()
	if err := <-resA; err != nil {
		t.Fatalf("Append being written when its context ended: %v", err)
	}
	if e := readN(t, s, 1, 10); string(e[0].Data) != "a" {
		t.Fatalf("read %q", e[0].Data)
	}
	expectNothing(t, s)
	s.mu.Lock()
	pending := s.pending
	s.mu.Unlock()
	if st := s.Stats(); st.Records != 1 || pending != 0 {
		t.Fatalf("Stats %+v, %d bytes still reserved", st, pending)
	}
}

// TestWriteFailure: a write that fails in a way that leaves the file's
// state unknown fails its Append and every later one until the spool is
// reopened; what was stored before is still read, and survives reopening.
func TestWriteFailure(t *testing.T) {
	cfg := testConfig(t)
	s := openSpool(t, cfg)
	ctx := ctxT(t)
	if err := s.Append(ctx, []byte("before")); err != nil {
		t.Fatal(err)
	}
	s.wmu.Lock()
	s.wf.Close() // the next write and the truncate after it fail
	s.wmu.Unlock()
	if err := s.Append(ctx, []byte("lost")); err == nil || !strings.Contains(err.Error(), "spool: writing 22 bytes to "+filepath.Join(cfg.Dir, segmentName(1))+" at offset 24") {
		t.Fatalf("Append on a broken file: %v", err)
	}
	if err := s.Append(ctx, []byte("refused")); err == nil || !strings.Contains(err.Error(), "an earlier write failed") {
		t.Fatalf("Append after a failed write: %v", err)
	}
	if err := s.WaitForSpace(ctx); err == nil {
		t.Fatal("WaitForSpace after a failed write succeeded")
	}
	if e := readN(t, s, 1, 10); string(e[0].Data) != "before" {
		t.Fatalf("read %q", e[0].Data)
	}
	expectNothing(t, s)
	_ = s.Close() // closing the broken file again fails

	s = openSpool(t, cfg)
	if rec := s.Recovery(); rec.Records != 1 || rec.TornRecords != 0 || len(rec.Corrupt) != 0 {
		t.Fatalf("Recovery: %+v", rec)
	}
	if err := s.Append(ctx, []byte("after")); err != nil {
		t.Fatal(err)
	}
	if e := readN(t, s, 2, 10); string(e[0].Data) != "before" || string(e[1].Data) != "after" || e[1].Pos.Seq != 2 {
		t.Fatalf("read %q %q (seq %d)", e[0].Data, e[1].Data, e[1].Pos.Seq)
	}
}

// TestLock: a second Open of the same directory fails while the first is
// open, and succeeds after Close.
func TestLock(t *testing.T) {
	cfg := testConfig(t)
	s := openSpool(t, cfg)
	s2, err := Open(cfg)
	if !errors.Is(err, ErrLocked) || s2 != nil {
		t.Fatalf("second Open: %v", err)
	}
	if !strings.Contains(err.Error(), filepath.Join(cfg.Dir, lockName)) || !strings.Contains(err.Error(), fmt.Sprint(os.Getpid())) {
		t.Errorf("lock error does not name the file and the holder: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 = openSpool(t, cfg)
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	cfg := testConfig(t)
	s := openSpool(t, cfg, WithRegisterer(reg))
	ctx := ctxT(t)
	for i := range 10 {
		if err := s.Append(ctx, payload(i, 100)); err != nil {
			t.Fatal(err)
		}
	}
	_ = s.Append(ctx, make([]byte, cfg.MaxRecordBytes+1))
	ents := readN(t, s, 4, 4)
	if err := s.Ack(ents[3].Pos); err != nil {
		t.Fatal(err)
	}
	st := s.Stats()

	names := []string{
		"vigil_collector_spool_bytes", "vigil_collector_spool_events", "vigil_collector_spool_disk_bytes",
		"vigil_collector_spool_appends_total", "vigil_collector_spool_appended_records_total",
		"vigil_collector_spool_acked_records_total", "vigil_collector_spool_fsync_duration_seconds",
		"vigil_collector_spool_torn_records_total", "vigil_collector_spool_corrupt_regions_total",
	}
	problems, err := testutil.GatherAndLint(reg, names...)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("metric %s: %s", p.Metric, p.Text)
	}
	if n, err := testutil.GatherAndCount(reg, names...); err != nil || n != 12 {
		t.Errorf("%d series (%v), want 12", n, err)
	}
	want := fmt.Sprintf(`
# HELP vigil_collector_spool_events Records (events) in the spool not yet acknowledged by the producer.
# TYPE vigil_collector_spool_events gauge
vigil_collector_spool_events 6
# HELP vigil_collector_spool_bytes Bytes (record headers included) of records in the spool not yet acknowledged by the producer.
# TYPE vigil_collector_spool_bytes gauge
vigil_collector_spool_bytes %d
# HELP vigil_collector_spool_appends_total Append calls by result: ok (durable), full (ErrFull), too_large (ErrRecordTooLarge), error (anything else).
# TYPE vigil_collector_spool_appends_total counter
vigil_collector_spool_appends_total{result="error"} 0
vigil_collector_spool_appends_total{result="full"} 0
vigil_collector_spool_appends_total{result="ok"} 10
vigil_collector_spool_appends_total{result="too_large"} 1
`, st.Bytes)
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"vigil_collector_spool_events", "vigil_collector_spool_bytes", "vigil_collector_spool_appends_total"); err != nil {
		t.Error(err)
	}
	if c := testutil.CollectAndCount(reg, "vigil_collector_spool_fsync_duration_seconds"); c != 1 {
		t.Errorf("fsync histogram: %d series", c)
	}

	// Reopening with the same registry takes over the series.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openSpool(t, cfg, WithRegisterer(reg))
	if err := s.Append(ctx, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if v := testutil.ToFloat64(s.m.appendsOK); v != 11 {
		t.Errorf("appends after reopening: %v, want 11", v)
	}
}
