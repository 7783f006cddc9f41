package filetail

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestRestartResumes proves a new Tailer with the same positions file
// resumes exactly after the last acknowledged line: it neither skips nor
// repeats, and a partial line left at a stop is delivered whole later.
func TestRestartResumes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "access.log")
	cfg := testConfig(dir, path)
	appendFile(t, path, joinLines("l1", "l2"))
	var s1 sink
	r := start(t, cfg, &s1)
	s1.waitLines(t, "l1", "l2")
	appendFile(t, path, "l3\nhal")
	s1.waitLines(t, "l1", "l2", "l3")
	r.stop(t)

	ps, _, err := loadPositions(cfg.PositionsFile)
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := positionFor(t, ps, path); !ok || p.Offset != int64(len("l1\nl2\nl3\n")) {
		t.Fatalf("persisted %+v, want offset %d", ps, len("l1\nl2\nl3\n"))
	}
	appendFile(t, path, "f\nl4\n")
	var s2 sink
	start(t, cfg, &s2)
	s2.waitLines(t, "half", "l4")
}

// TestRotatedWhileStopped proves a file renamed by a rotation while the
// tailer was stopped is found again in its directory, by identity, and
// finished from its saved offset before being forgotten.
func TestRotatedWhileStopped(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "access.log")
	cfg := testConfig(dir, path)
	appendFile(t, path, joinLines("l1", "l2"))
	var s1 sink
	r := start(t, cfg, &s1)
	s1.waitLines(t, "l1", "l2")
	r.stop(t)

	appendFile(t, path, joinLines("l3")+"tail")
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	appendFile(t, path, joinLines("n1"))

	var s2 sink
	r2 := start(t, cfg, &s2)
	s2.waitLines(t, "l3", "n1", "tail")
	waitFor(t, "the rotated file forgotten", func() bool {
		ps := r2.Positions()
		return len(ps) == 1 && ps[0].Path == path
	})
	if got := testutil.ToFloat64(r2.m.rotations); got != 1 {
		t.Errorf("rotations_total = %v, want 1", got)
	}
}

// TestSavedPositionChecks proves a saved position is used only for the file
// it was saved for: same device and inode but another fingerprint (a
// reused inode, or a file rewritten while the tailer was stopped) or a file
// now shorter than the offset is read from its start.
func TestSavedPositionChecks(t *testing.T) {
	t.Parallel()
	content := joinLines("first", "second", "third")
	sum := func(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }
	tests := []struct {
		name    string
		fp      string
		fpBytes int
		offset  int64
		want    []string
	}{
		{"same file resumes", sum(content), len(content), 6, []string{"second", "third"}},
		{"same prefix resumes", sum("first\n"), 6, 6, []string{"second", "third"}},
		{"reused inode", sum("other\n"), 6, 6, []string{"first", "second", "third"}},
		{"shorter than the offset", sum(content), len(content), 1000, []string{"first", "second", "third"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := filepath.Join(dir, "access.log")
			appendFile(t, path, content)
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			id, _, err := statIdentity(fi)
			if err != nil {
				t.Fatal(err)
			}
			cfg := testConfig(dir, path)
			if err := os.MkdirAll(filepath.Dir(cfg.PositionsFile), 0o700); err != nil {
				t.Fatal(err)
			}
			saved := []Position{{Path: path, Dev: id.Dev, Inode: id.Ino, Fingerprint: tc.fp, FingerprintBytes: tc.fpBytes, Offset: tc.offset}}
			if err := savePositions(cfg.PositionsFile, saved); err != nil {
				t.Fatal(err)
			}
			var s sink
			r := start(t, cfg, &s)
			s.waitLines(t, tc.want...)
			waitFor(t, "offset at the end", func() bool {
				p, ok := positionFor(t, r.Positions(), path)
				return ok && p.Offset == int64(len(content)) && p.FingerprintBytes == len(content)
			})
		})
	}
}

// TestRestartChaos stops and restarts the tailer at random points while a
// writer appends (sometimes a line in two writes) and rotates by rename,
// and while the handler fails at random. Every written line must be
// delivered exactly once, and the lines of each file in order.
func TestRestartChaos(t *testing.T) {
	t.Parallel()
	seed := time.Now().UnixNano()
	if s := os.Getenv("FILETAIL_CHAOS_SEED"); s != "" {
		seed, _ = strconv.ParseInt(s, 10, 64)
	}
	t.Logf("seed %d (set FILETAIL_CHAOS_SEED to repeat)", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 0))

	dir := t.TempDir()
	path := filepath.Join(dir, "access.log")
	cfg := testConfig(dir, path+"*")
	cfg.RotateWait = 20 * time.Millisecond

	const total = 4000
	// generation[i] is the file (0 for the first, +1 per rotation) line i
	// went to.
	generation := make([]int, total)
	writerDone := make(chan struct{})
	writerRNG := rand.New(rand.NewPCG(uint64(seed), 1))
	var writerErr error
	go func() {
		defer close(writerDone)
		writerErr = writeChaos(path, total, writerRNG, generation)
	}()

	var (
		mu        sync.Mutex
		delivered []string
	)
	handlerRNG := rand.New(rand.NewPCG(uint64(seed), 2))
	var hmu sync.Mutex
	h := HandlerFunc(func(_ context.Context, b Batch) error {
		hmu.Lock()
		fail := handlerRNG.IntN(5) == 0
		hmu.Unlock()
		if fail {
			return errFlaky
		}
		mu.Lock()
		for _, l := range b.Lines {
			delivered = append(delivered, string(l.Data))
		}
		mu.Unlock()
		return nil
	})
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(delivered)
	}

	restarts := 0
	runFor := func(d time.Duration) {
		tl, err := New(cfg, h)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() { errc <- tl.Run(ctx) }()
		time.Sleep(d)
		cancel()
		select {
		case err := <-errc:
			if err != nil {
				t.Fatalf("restart %d: Run: %v", restarts, err)
			}
		case <-time.After(waitTimeout):
			t.Fatalf("restart %d: Run did not return", restarts)
		}
		restarts++
	}
	for done := false; !done; {
		select {
		case <-writerDone:
			done = true
		default:
		}
		runFor(time.Duration(rng.IntN(25)) * time.Millisecond)
	}
	if writerErr != nil {
		t.Fatal(writerErr)
	}
	for range 5 {
		runFor(time.Duration(rng.IntN(10)) * time.Millisecond)
	}
	deadline := time.Now().Add(waitTimeout)
	for count() < total && time.Now().Before(deadline) {
		runFor(50 * time.Millisecond)
	}
	t.Logf("%d restarts", restarts)

	mu.Lock()
	got := slices.Clone(delivered)
	mu.Unlock()
	seen := make([]int, total)
	last := make(map[int]int) // generation → last line index delivered
	for _, l := range got {
		i, err := strconv.Atoi(strings.Fields(l)[0])
		if err != nil || i < 0 || i >= total {
			t.Fatalf("delivered a line that was not written: %q", l)
		}
		seen[i]++
		g := generation[i]
		if prev, ok := last[g]; ok && prev > i {
			t.Errorf("file %d: line %d delivered after line %d", g, i, prev)
		}
		last[g] = i
	}
	for i, n := range seen {
		if n != 1 {
			t.Errorf("line %d delivered %d times", i, n)
		}
	}
	if len(got) != total {
		t.Errorf("delivered %d lines, want %d", len(got), total)
	}
	if !t.Failed() && !slices.IsSortedFunc(got, func(a, b string) int { return strings.Compare(a[:6], b[:6]) }) {
		t.Logf("lines of different files interleaved (order across files is best effort)")
	}
}

// writeChaos appends total numbered lines to path, rotating it by rename now
// and then, and sometimes writing a line in two pieces.
func writeChaos(path string, total int, rng *rand.Rand, generation []int) error {
	gen := 0
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	nextRotation := 200 + rng.IntN(600)
	for i := range total {
		if i == nextRotation {
			if err := f.Close(); err != nil {
				return err
			}
			gen++
			if err := os.Rename(path, fmt.Sprintf("%s.%d", path, gen)); err != nil {
				return err
			}
			if f, err = os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600); err != nil {
				return err
			}
			nextRotation = i + 200 + rng.IntN(600)
		}
		generation[i] = gen
		line := fmt.Sprintf("%06d %s", i, strings.Repeat("x", rng.IntN(200)))
		if rng.IntN(10) == 0 {
			line += "\r"
		}
		line += "\n"
		if rng.IntN(20) == 0 {
			line += "\n" // an empty line, skipped
		}
		if rng.IntN(10) == 0 { // in two pieces, apart in time
			cut := rng.IntN(len(line))
			if _, err := f.WriteString(line[:cut]); err != nil {
				return err
			}
			time.Sleep(time.Duration(rng.IntN(3)) * time.Millisecond)
			line = line[cut:]
		}
		if _, err := f.WriteString(line); err != nil {
			return err
		}
		if i%20 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	return f.Close()
}
