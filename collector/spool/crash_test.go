package spool

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// The crash test runs appenders and a consumer in a child process (this
// test binary, re-executed) so that it can be killed with SIGKILL: no
// Close, no deferred anything. These variables tell the child what to do.
const (
	crashChildEnv   = "VIGIL_SPOOL_TEST_CRASH_DIR"
	crashRoundEnv   = "VIGIL_SPOOL_TEST_CRASH_ROUND"
	crashWriters    = 4
	crashSegment    = 32 << 10
	crashMaxRecord  = 1 << 10
	crashMaxBytes   = 256 << 20
	crashChildLimit = 30 * time.Second
)

func crashConfig(dir string) Config {
	return Config{Dir: dir, SegmentBytes: crashSegment, MaxBytes: crashMaxBytes, MaxRecordBytes: crashMaxRecord, Sync: SyncAlways}
}

// crashKey names a record of the crash test: child round, writer, index.
type crashKey struct{ round, writer, i int }

func (k crashKey) String() string { return fmt.Sprintf("%d %d %d", k.round, k.writer, k.i) }

func (k crashKey) less(o crashKey) bool { return k.round < o.round || k.round == o.round && k.i < o.i }

// crashRecord is the record for k: its key, then filler that depends on
// it, so that any damage or mix-up shows.
func crashRecord(k crashKey) []byte {
	b := []byte(k.String() + "|")
	n := (k.round*31 + k.writer*17 + k.i*13) % 600
	for j := range n {
		b = append(b, byte('A'+(k.i+j*k.writer+k.round)%58))
	}
	return b
}

func parseCrashRecord(b []byte) (crashKey, bool) {
	head, _, ok := bytes.Cut(b, []byte("|"))
	if !ok {
		return crashKey{}, false
	}
	var k crashKey
	if _, err := fmt.Sscanf(string(head), "%d %d %d", &k.round, &k.writer, &k.i); err != nil {
		return crashKey{}, false
	}
	return k, bytes.Equal(b, crashRecord(k))
}

// runCrashChild is the child: writers append groups of 1-3 records and
// print "A <key>" for each once Append returned nil; a consumer reads,
// prints "S <key>" for each record it is about to acknowledge, calls Ack,
// and prints "C <key>" for each once Ack returned. It runs until it is
// killed (at most crashChildLimit).
func runCrashChild(dir string) {
	round, _ := strconv.Atoi(os.Getenv(crashRoundEnv))
	s, err := Open(crashConfig(dir))
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	var outMu sync.Mutex
	say := func(lines []string) {
		outMu.Lock()
		defer outMu.Unlock()
		os.Stdout.WriteString(strings.Join(lines, ""))
	}
	say([]string{"READY\n"})
	ctx := context.Background()
	for w := range crashWriters {
		go func() {
			for i := 0; ; {
				var recs [][]byte
				var lines []string
				for range 1 + rand.IntN(3) {
					k := crashKey{round, w, i}
					recs = append(recs, crashRecord(k))
					lines = append(lines, "A "+k.String()+"\n")
					i++
				}
				if err := s.Append(ctx, recs...); err != nil {
					say([]string{fmt.Sprintf("ERROR append: %v\n", err)})
					os.Exit(1)
				}
				say(lines)
			}
		}()
	}
	go func() {
		for {
			ents, err := s.Next(ctx, 1+rand.IntN(40))
			if err != nil {
				say([]string{fmt.Sprintf("ERROR next: %v\n", err)})
				os.Exit(1)
			}
			time.Sleep(time.Duration(rand.IntN(3)) * time.Millisecond) // "sending to Kafka"
			keys := make([]string, len(ents))
			for i, e := range ents {
				k, _ := parseCrashRecord(e.Data)
				keys[i] = k.String()
			}
			say(prefixed("S ", keys)) // about to Ack: they may be gone after a kill
			if err := s.Ack(ents[len(ents)-1].Pos); err != nil {
				say([]string{fmt.Sprintf("ERROR ack: %v\n", err)})
				os.Exit(1)
			}
			say(prefixed("C ", keys)) // Ack returned: they must be gone
		}
	}()
	time.Sleep(crashChildLimit)
	os.Exit(2)
}

func prefixed(prefix string, keys []string) []string {
	lines := make([]string, len(keys))
	for i, k := range keys {
		lines[i] = prefix + k + "\n"
	}
	return lines
}

// TestCrashSIGKILL kills a child process that appends and consumes, at a
// random moment, several times over the same directory. After each kill:
// every record whose Append returned nil and that the consumer had not
// started to acknowledge is there, intact, once, in each writer's order; no
// record whose Ack returned comes back; nothing else (no garbage, no
// damage) is there.
func TestCrashSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("re-executes the test binary")
	}
	dir := filepath.Join(t.TempDir(), "spool")
	const rounds = 6
	appended := map[crashKey]bool{} // Append returned nil
	acking := map[crashKey]bool{}   // Ack called
	consumed := map[crashKey]bool{} // Ack returned
	var torn int
	for round := range rounds {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir, crashRoundEnv+"="+strconv.Itoa(round))
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 1024)
		go func() {
			defer close(lines)
			r := bufio.NewReader(out)
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					return // a line cut by the kill has no newline: dropped
				}
				lines <- strings.TrimSuffix(line, "\n")
			}
		}()
		if first := <-lines; first != "READY" {
			cancel()
			cmd.Wait()
			t.Fatalf("round %d: child said %q", round, first)
		}
		killAt := time.After(time.Duration(150+rand.IntN(350)) * time.Millisecond)
		var nA, nC int
	collect:
		for {
			select {
			case line, ok := <-lines:
				if !ok {
					t.Fatalf("round %d: child exited early: %v", round, cmd.Wait())
				}
				nA, nC = recordLine(t, line, appended, acking, consumed, nA, nC)
			case <-killAt:
				if err := cmd.Process.Kill(); err != nil { // SIGKILL
					t.Fatal(err)
				}
				break collect
			}
		}
		for line := range lines {
			nA, nC = recordLine(t, line, appended, acking, consumed, nA, nC)
		}
		cmd.Wait()
		cancel()

		s, err := Open(crashConfig(dir))
		if err != nil {
			t.Fatalf("round %d: Open after SIGKILL: %v", round, err)
		}
		rec := s.Recovery()
		torn += rec.TornRecords
		if len(rec.Corrupt) > 0 || rec.MissingRecords > 0 || rec.AckFileProblem != "" {
			t.Errorf("round %d: recovery found damage: %+v", round, rec)
		}
		ents := readN(t, s, int(s.Stats().Records), 1000)
		expectNothing(t, s)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}

		present := map[crashKey]bool{}
		last := map[int]crashKey{}
		for _, e := range ents {
			k, ok := parseCrashRecord(e.Data)
			if !ok {
				t.Fatalf("round %d: seq %d is not a record the child wrote: %q", round, e.Pos.Seq, e.Data)
			}
			if present[k] {
				t.Fatalf("round %d: record %v delivered twice", round, k)
			}
			if consumed[k] {
				t.Fatalf("round %d: record %v is back after its Ack returned", round, k)
			}
			if p, ok := last[k.writer]; ok && !p.less(k) {
				t.Fatalf("round %d: writer %d's record %v after %v", round, k.writer, k, p)
			}
			present[k], last[k.writer] = true, k
		}
		var lost []crashKey
		for k := range appended {
			if !acking[k] && !present[k] {
				lost = append(lost, k)
			}
		}
		if len(lost) > 0 {
			t.Fatalf("round %d: %d acknowledged records lost, such as %v", round, len(lost), lost[0])
		}
		t.Logf("round %d: %d appended, %d acknowledged by the consumer before the kill; %d records in the spool after it, %d torn",
			round, nA, nC, len(ents), rec.TornRecords)
		if nA == 0 {
			t.Errorf("round %d: the child appended nothing before it was killed", round)
		}
	}
	t.Logf("%d torn records over %d kills", torn, rounds)
}

func recordLine(t *testing.T, line string, appended, acking, consumed map[crashKey]bool, nA, nC int) (int, int) {
	t.Helper()
	kind, rest, _ := strings.Cut(line, " ")
	var k crashKey
	if kind == "A" || kind == "S" || kind == "C" {
		if _, err := fmt.Sscanf(rest, "%d %d %d", &k.round, &k.writer, &k.i); err != nil {
			t.Fatalf("child line %q: %v", line, err)
		}
	}
	switch kind {
	case "A":
		appended[k] = true
		nA++
	case "S":
		acking[k] = true
	case "C":
		consumed[k] = true
		nC++
	default:
		t.Fatalf("child said %q", line)
	}
	return nA, nC
}

// tornSetup writes 40 single records and then a group of three, closes the
// spool, and returns its config, the last segment's path, and the offset of
// each record of the group in it.
func tornSetup(t *testing.T) (Config, string, []int64) {
	cfg := testConfig(t)
	cfg.Sync = SyncNone // recovery is under test, not durability
	s := openSpool(t, cfg)
	ctx := ctxT(t)
	for i := range 40 {
		if err := s.Append(ctx, payload(i, 200)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Append(ctx, payload(40, 200), payload(41, 200), payload(42, 200)); err != nil {
		t.Fatal(err)
	}
	ents := readN(t, s, 43, 100)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	files := segmentFiles(t, cfg.Dir)
	if len(files) < 2 {
		t.Fatalf("want several segments, have %v", files)
	}
	last := files[len(files)-1]
	var offs []int64
	for _, e := range ents[40:] {
		if filepath.Join(cfg.Dir, segmentName(e.Pos.Segment)) != last {
			t.Fatalf("the group is not in the last segment")
		}
		offs = append(offs, e.Pos.Offset)
	}
	return cfg, last, offs
}

// TestTornTail damages the tail of the last segment the ways a crash can
// (and a few more) and checks that Open cuts exactly the damage off,
// reports it, and that the spool works afterwards.
func TestTornTail(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	garbage := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		return b
	}
	tests := []struct {
		name      string
		damage    func(data []byte, group []int64) []byte
		torn      int // records reported torn
		remaining int // records delivered after
	}{
		{"cut mid-payload", func(d []byte, _ []int64) []byte { return d[:len(d)-5] }, 3, 40},
		{"cut mid-header", func(d []byte, g []int64) []byte { return d[:g[2]+7] }, 3, 40},
		{"cut between records of a group", func(d []byte, g []int64) []byte { return d[:g[2]] }, 2, 40},
		{"cut after the group's first record", func(d []byte, g []int64) []byte { return d[:g[1]] }, 1, 40},
		{"garbage appended", func(d []byte, _ []int64) []byte { return append(d, garbage(100)...) }, 1, 43},
		{"zeros appended", func(d []byte, _ []int64) []byte { return append(d, make([]byte, 4096)...) }, 1, 43},
		{"cut, then garbage", func(d []byte, _ []int64) []byte { return append(d[:len(d)-5], garbage(50)...) }, 3, 40},
		{"bit flipped in the last record", func(d []byte, _ []int64) []byte { d[len(d)-3] ^= 0x10; return d }, 3, 40},
		{"stale copy of an earlier record", func(d []byte, _ []int64) []byte { return append(d, d[:firstRecordLen(d)]...) }, 1, 43},
		{"lone magic byte", func(d []byte, _ []int64) []byte { return append(d, recordMagic) }, 1, 43},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, last, group := tornSetup(t)
			data, err := os.ReadFile(last)
			if err != nil {
				t.Fatal(err)
			}
			damaged := tt.damage(bytes.Clone(data), group)
			if err := os.WriteFile(last, damaged, 0o600); err != nil {
				t.Fatal(err)
			}
			goodSize := int64(len(data))
			if tt.remaining == 40 {
				goodSize = group[0]
			}

			reg := prometheus.NewRegistry()
			s := openSpool(t, cfg, WithRegisterer(reg))
			rec := s.Recovery()
			if rec.TornRecords != tt.torn || rec.TornBytes != int64(len(damaged))-goodSize || len(rec.Corrupt) != 0 {
				t.Fatalf("Recovery: %+v; want %d torn records, %d bytes", rec, tt.torn, int64(len(damaged))-goodSize)
			}
			if v := testutil.ToFloat64(s.m.torn); v != float64(tt.torn) {
				t.Errorf("vigil_collector_spool_torn_records_total = %v", v)
			}
			if fi, err := os.Stat(last); err != nil || fi.Size() != goodSize {
				t.Fatalf("last segment not cut to %d bytes: %v %v", goodSize, fi.Size(), err)
			}
			ents := readN(t, s, tt.remaining, 100)
			for i, e := range ents {
				if !bytes.Equal(e.Data, payload(i, 200)) || e.Pos.Seq != uint64(i+1) {
					t.Fatalf("record %d: seq %d %q", i, e.Pos.Seq, e.Data)
				}
			}
			expectNothing(t, s)

			// The spool works: append, read, reopen cleanly.
			if err := s.Append(ctxT(t), []byte("after")); err != nil {
				t.Fatal(err)
			}
			if e := readN(t, s, 1, 1)[0]; string(e.Data) != "after" || e.Pos.Seq != uint64(tt.remaining+1) {
				t.Fatalf("record after recovery: %+v %q", e.Pos, e.Data)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = openSpool(t, cfg)
			if rec := s.Recovery(); rec.TornRecords != 0 || rec.Records != int64(tt.remaining+1) {
				t.Fatalf("Recovery after a clean close: %+v", rec)
			}
		})
	}
}

// firstRecordLen is the length of the first record in a segment.
func firstRecordLen(d []byte) int {
	r, _ := decodeRecord(d)
	return r.size
}

// TestCorruption damages records away from the tail: Open keeps the
// segment as found in a .corrupt file, reports the region (file and
// offset), and delivers every other record.
func TestCorruption(t *testing.T) {
	tests := []struct {
		name    string
		segment func(files []string) string
		record  int // index of the record damaged within that segment
	}{
		{"first segment", func(f []string) string { return f[0] }, 5},
		{"middle of the last segment", func(f []string) string { return f[len(f)-1] }, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t)
			s := openSpool(t, cfg)
			ctx := ctxT(t)
			const n = 60
			for i := range n {
				if err := s.Append(ctx, payload(i, 200)); err != nil {
					t.Fatal(err)
				}
			}
			all := readN(t, s, n, 100)
			if err := s.Ack(all[1].Pos); err != nil { // two records acknowledged
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			path := tt.segment(segmentFiles(t, cfg.Dir))
			var victim Entry
			var k int
			for _, e := range all {
				if filepath.Join(cfg.Dir, segmentName(e.Pos.Segment)) == path {
					if k == tt.record {
						victim = e
					}
					k++
				}
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			orig := bytes.Clone(data)
			data[victim.Pos.Offset+HeaderSize+2] ^= 0xff
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}

			s = openSpool(t, cfg)
			rec := s.Recovery()
			if len(rec.Corrupt) != 1 || rec.TornRecords != 0 || rec.MissingRecords != 1 || rec.Records != n-3 {
				t.Fatalf("Recovery: %+v", rec)
			}
			c := rec.Corrupt[0]
			wantReason := fmt.Sprintf("checksum mismatch at offset %d", victim.Pos.Offset)
			if c.File != path || c.Offset != victim.Pos.Offset || c.Bytes != victim.Pos.End-victim.Pos.Offset || c.Records != 1 || c.Reason != wantReason {
				t.Errorf("Corruption %+v; want %s at %d (%s)", c, path, victim.Pos.Offset, wantReason)
			}
			if q, err := os.ReadFile(c.Quarantine); err != nil || !bytes.Equal(q, data) {
				t.Errorf("quarantine file %s does not hold the damaged segment (%v)", c.Quarantine, err)
			}
			if fi, err := os.Stat(path); err != nil || fi.Size() != int64(len(orig))-c.Bytes {
				t.Errorf("segment not rewritten without the damage: %v", err)
			}
			ents := readN(t, s, n-3, 100)
			j := 0
			for i := 2; i < n; i++ {
				if uint64(i+1) == victim.Pos.Seq {
					continue
				}
				if e := ents[j]; e.Pos.Seq != uint64(i+1) || !bytes.Equal(e.Data, payload(i, 200)) {
					t.Fatalf("record %d: seq %d %q", j, e.Pos.Seq, e.Data)
				}
				j++
			}
			expectNothing(t, s)
			// Acknowledging across the hole counts it right.
			if err := s.Ack(ents[len(ents)-1].Pos); err != nil {
				t.Fatal(err)
			}
			if st := s.Stats(); st.Records != 0 || st.Bytes != 0 {
				t.Fatalf("Stats after acknowledging everything: %+v", st)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = openSpool(t, cfg)
			if rec := s.Recovery(); len(rec.Corrupt) != 0 || rec.Records != 0 {
				t.Fatalf("second recovery: %+v", rec)
			}
		})
	}
}

// TestAckFileDamaged: an unreadable ack file makes the spool deliver every
// record it holds again (at least once), and says so; leftover temporary
// files are removed.
func TestAckFileDamaged(t *testing.T) {
	cfg := testConfig(t)
	s := openSpool(t, cfg)
	ctx := ctxT(t)
	for i := range 30 {
		if err := s.Append(ctx, payload(i, 300)); err != nil {
			t.Fatal(err)
		}
	}
	ents := readN(t, s, 30, 100)
	if err := s.Ack(ents[4].Pos); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	ack := filepath.Join(cfg.Dir, ackName)
	b, err := os.ReadFile(ack)
	if err != nil {
		t.Fatal(err)
	}
	if a, err := decodeAck(b); err != nil || a.seq != 5 || a.segment != ents[4].Pos.Segment || a.offset != ents[4].Pos.End {
		t.Fatalf("ack file: %+v %v", a, err)
	}
	b[10] ^= 1
	for name, data := range map[string][]byte{ackName: b, ackName + tmpExt: []byte("x"), segmentName(1) + tmpExt: []byte("y")} {
		if err := os.WriteFile(filepath.Join(cfg.Dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s = openSpool(t, cfg)
	rec := s.Recovery()
	if !strings.Contains(rec.AckFileProblem, "checksum mismatch") || rec.Records != 30 || rec.AckedSeq != 0 {
		t.Fatalf("Recovery: %+v", rec)
	}
	if got := readN(t, s, 30, 100); got[0].Pos.Seq != 1 {
		t.Fatalf("first record after a damaged ack file: seq %d", got[0].Pos.Seq)
	}
	if m, _ := filepath.Glob(filepath.Join(cfg.Dir, "*"+tmpExt)); len(m) != 0 {
		t.Fatalf("leftover temporary files: %v", m)
	}
}
