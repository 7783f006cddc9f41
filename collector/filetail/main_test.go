package filetail

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// waitTimeout bounds every wait in these tests.
const waitTimeout = 10 * time.Second

const testPoll = 10 * time.Millisecond

// testConfig follows paths with a short poll interval and rotate_wait.
func testConfig(dir string, paths ...string) Config {
	return Config{
		Paths:         paths,
		Kind:          KindAccess,
		PositionsFile: filepath.Join(dir, "state", "positions.json"),
		PollInterval:  testPoll,
		RotateWait:    50 * time.Millisecond,
	}
}

// sink is a Handler that records every batch it accepts. fail, when set,
// decides whether an attempt fails.
type sink struct {
	mu       sync.Mutex
	batches  []Batch
	attempts []Batch
	fail     func(attempt int, b Batch) error
}

func (s *sink) HandleLines(_ context.Context, b Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.attempts = append(s.attempts, b)
	if s.fail != nil {
		if err := s.fail(len(s.attempts), b); err != nil {
			return err
		}
	}
	s.batches = append(s.batches, b)
	return nil
}

// lines returns every accepted line, TooLong ones prefixed with "TOOLONG:".
func (s *sink) lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, b := range s.batches {
		for _, l := range b.Lines {
			if l.TooLong {
				out = append(out, "TOOLONG:"+string(l.Data))
			} else {
				out = append(out, string(l.Data))
			}
		}
	}
	return out
}

func (s *sink) allBatches() []Batch {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.batches)
}

// waitLines waits until exactly want has been delivered (failing at once
// if more, or different lines, arrive).
func (s *sink) waitLines(t *testing.T, want ...string) {
	t.Helper()
	waitFor(t, fmt.Sprintf("lines %q", want), func() bool {
		got := s.lines()
		if len(got) > len(want) || !slices.Equal(got, want[:len(got)]) {
			t.Fatalf("delivered %q, want %q", got, want)
		}
		return len(got) == len(want)
	})
}

// waitFor polls cond until it holds, failing the test after waitTimeout.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// running is a Tailer running in a goroutine.
type running struct {
	*Tailer
	cancel context.CancelFunc
	errc   chan error
}

// start builds a Tailer and runs it until the test ends or stop is called.
func start(t *testing.T, cfg Config, h Handler, opts ...Option) *running {
	t.Helper()
	tl, err := New(cfg, h, opts...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{Tailer: tl, cancel: cancel, errc: make(chan error, 1)}
	go func() { r.errc <- tl.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop cancels Run and checks it returned nil; it is idempotent.
func (r *running) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case err, ok := <-r.errc:
		if ok {
			close(r.errc)
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		}
	case <-time.After(waitTimeout):
		t.Fatal("Run did not return after cancel")
	}
}

// appendFile appends s to path, creating it if needed.
func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// positionFor returns the saved position of the file now at path.
func positionFor(t *testing.T, ps []Position, path string) (Position, bool) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	id, _, err := statIdentity(fi)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if p.id() == id {
			return p, true
		}
	}
	return Position{}, false
}

// stepClock is a Clock moved by the test. Each After call is reported on
// waits, so a test knows when the poll loop has gone idle.
type stepClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []stepWaiter
	waits   chan time.Duration
}

type stepWaiter struct {
	at time.Time
	ch chan time.Time
}

func newStepClock() *stepClock {
	return &stepClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), waits: make(chan time.Duration, 1000)}
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *stepClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	ch := make(chan time.Time, 1)
	c.waiters = append(c.waiters, stepWaiter{at: c.now.Add(d), ch: ch})
	c.mu.Unlock()
	c.waits <- d
	return ch
}

func (c *stepClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if w.at.After(c.now) {
			kept = append(kept, w)
		} else {
			w.ch <- c.now
		}
	}
	c.waiters = kept
}

// idle waits until the tailer asks to wait (its poll is over) and returns
// for how long.
func (c *stepClock) idle(t *testing.T) time.Duration {
	t.Helper()
	select {
	case d := <-c.waits:
		return d
	case <-time.After(waitTimeout):
		t.Fatal("tailer never went idle")
		return 0
	}
}

// step moves the clock by d and waits for the poll this starts to end.
func (c *stepClock) step(t *testing.T, d time.Duration) {
	t.Helper()
	c.advance(d)
	c.idle(t)
}

// errFlaky is what failing test handlers return.
var errFlaky = errors.New("spool unavailable")

func joinLines(lines ...string) string { return strings.Join(lines, "\n") + "\n" }
