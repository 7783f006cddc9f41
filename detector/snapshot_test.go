package detector

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/vigil-audit/vigil/detector/sigma"
	"github.com/vigil-audit/vigil/internal/event"
)

// randomSeq returns n random inputs over a few actors and devices: times
// mostly increasing with some late events, all correlation types, standalone
// rules, and dispositions now and then.
func randomSeq(rng *rand.Rand, n int) []in {
	actors := []string{"a", "b", "c", "d"}
	var seq []in
	now := time.Duration(0)
	var glass []in
	for len(seq) < n {
		now += time.Duration(rng.IntN(90)) * time.Second
		at := now
		if rng.IntN(8) == 0 {
			at -= time.Duration(rng.IntN(240)) * time.Second // late
		}
		actor := actors[rng.IntN(len(actors))]
		var x in
		switch r := rng.IntN(20); {
		case r < 4:
			x = acc(at, actor, login, denied)
		case r < 6:
			x = acc(at, actor, login)
		case r < 11:
			x = acc(at, actor, read, subject(fmt.Sprintf("p%d", rng.IntN(6))), func(e *event.AccessEvent) {
				if rng.IntN(4) == 0 {
					e.Subject.Minor = true
				}
			})
		case r < 14:
			x = acc(at, actor, export, records(int64(1+rng.IntN(80))))
		case r < 16:
			x = acc(at, actor, breakGlass, role([]string{"nurse", "auditor"}[rng.IntN(2)]))
			glass = append(glass, x)
		case r < 18:
			x = dev(at, "acct-"+actor, fmt.Sprintf("dev-%d", rng.IntN(3)), event.KindPayment, func(e *event.DeviceEvent) {
				e.Signals.Rooted = rng.IntN(2) == 0
			})
		case r < 19 && len(glass) > 0:
			g := glass[rng.IntN(len(glass))].a
			x = in{dispose: &dispose{rule: "t-break-glass", key: "hosp-1/" + g.Actor.ID,
				start: g.OccurredAt.Sub(t0), status: event.AlertClosedFalsePositive, reason: "test"}}
		default:
			x = acc(at, actor, event.ActionSearch)
		}
		seq = append(seq, x)
	}
	return ids(seq)
}

func propertySet(t testing.TB) *sigma.Set {
	return loadRules(t, "counts.yml", "standalone.yml", "mixed.yml")
}

func propertyOptions() Options {
	return Options{
		Lateness:        2 * time.Minute,
		Suppression:     map[string]time.Duration{"t-break-glass": 20 * time.Minute},
		MaxGroups:       3,
		MaxWindowEvents: 8,
		MaxAlerts:       12,
		Exceptions: []Exception{{Rule: "t-*", Roles: []string{"auditor"}, Reason: "audit",
			Author: "ciso", Expires: t0.Add(3 * time.Hour)}},
	}
}

// output is everything a Partition emitted, as JSON lines.
type output struct{ bytes.Buffer }

func (o *output) drain(t testing.TB, p *Partition) {
	for _, a := range p.Drain(nil) {
		o.Write(mustJSON(t, a))
	}
	for _, s := range p.DrainSuppressed(nil) {
		o.Write(mustJSON(t, s))
	}
}

// feedRange feeds seq[from:to] (offsets are positions) and drains where
// drainAt says.
func feedRange(t testing.TB, p *Partition, seq []in, from, to int, drainAt []bool, o *output) {
	for i := from; i < to; i++ {
		feedOne(t, p, int64(i), seq[i])
		if drainAt[i] {
			o.drain(t, p)
		}
	}
}

func TestSnapshotRestoreProperty(t *testing.T) {
	set := propertySet(t)
	for seed := range uint64(60) {
		rng := rand.New(rand.NewPCG(seed, 7))
		n := 50 + rng.IntN(250)
		seq := randomSeq(rng, n)
		drainAt := make([]bool, n)
		for i := range drainAt {
			drainAt[i] = rng.IntN(3) == 0
		}
		drainAt[n-1] = true
		cut := rng.IntN(n + 1)

		whole := newPartition(t, set, propertyOptions(), newBurst())
		var want output
		feedRange(t, whole, seq, 0, n, drainAt, &want)

		first := newPartition(t, set, propertyOptions(), newBurst())
		var got output
		feedRange(t, first, seq, 0, cut, drainAt, &got)
		snap, err := first.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		second := newPartition(t, set, propertyOptions(), newBurst())
		if err := second.Restore(snap); err != nil {
			t.Fatalf("seed %d: restore: %v", seed, err)
		}
		wantOff := int64(-1)
		for i := range cut {
			if seq[i].dispose == nil {
				wantOff = int64(i)
			}
		}
		if second.Offset() != wantOff {
			t.Errorf("seed %d: offset %d after restore, want %d", seed, second.Offset(), wantOff)
		}
		feedRange(t, second, seq, cut, n, drainAt, &got)

		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Fatalf("seed %d, cut %d of %d: output after restore differs:\n--- uninterrupted\n%s\n--- restored\n%s",
				seed, cut, n, want.String(), got.String())
		}
		a, err := whole.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		b, err := second.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Fatalf("seed %d: final snapshots differ", seed)
		}
		if seed == 0 {
			t.Logf("snapshot of %d events: %d bytes; %+v", n, len(a), whole.Stats())
		}
	}
}

func TestDeterministicAcrossDrains(t *testing.T) {
	set := propertySet(t)
	for seed := range uint64(30) {
		rng := rand.New(rand.NewPCG(seed, 11))
		n := 300
		seq := randomSeq(rng, n)
		every := make([]bool, n)
		some := make([]bool, n)
		for i := range n {
			every[i] = true
			some[i] = rng.IntN(10) == 0
		}
		some[n-1] = true
		runWith := func(drainAt []bool) ([]event.Alert, []byte) {
			p := newPartition(t, set, propertyOptions(), newBurst())
			var recs []event.Alert
			for i := range n {
				feedOne(t, p, int64(i), seq[i])
				if drainAt[i] {
					recs = p.Drain(recs)
				}
			}
			snap, err := p.Snapshot()
			if err != nil {
				t.Fatal(err)
			}
			return recs, snap
		}
		fine, snapA := runWith(every)
		coarse, snapB := runWith(some)
		if !bytes.Equal(mustJSON(t, latest(fine)), mustJSON(t, latest(coarse))) {
			t.Fatalf("seed %d: final alert states depend on Drain boundaries", seed)
		}
		if !bytes.Equal(snapA, snapB) {
			t.Fatalf("seed %d: state depends on Drain boundaries", seed)
		}
		// Every coalesced record is a state the fine-grained run emitted,
		// in the same order per alert.
		pos := map[string]int{}
		for _, r := range coarse {
			j := pos[r.AlertID]
			want := mustJSON(t, r)
			for j < len(fine) && !(fine[j].AlertID == r.AlertID && bytes.Equal(mustJSON(t, fine[j]), want)) {
				j++
			}
			if j == len(fine) {
				t.Fatalf("seed %d: coalesced record %s is no state of the fine-grained run", seed, want)
			}
			pos[r.AlertID] = j + 1
		}
	}
}

// TestMutedReplay plays what the runner does after a crash: restore the
// last snapshot, replay up to the committed offset muted, then run live.
func TestMutedReplay(t *testing.T) {
	set := propertySet(t)
	for seed := range uint64(30) {
		rng := rand.New(rand.NewPCG(seed, 13))
		n := 200
		seq := randomSeq(rng, n)
		every := make([]bool, n)
		for i := range every {
			every[i] = true
		}
		snapAt := rng.IntN(n / 2)
		committed := snapAt + rng.IntN(n/2)

		whole := newPartition(t, set, propertyOptions(), newBurst())
		var before, want output
		feedRange(t, whole, seq, 0, committed, every, &before)
		feedRange(t, whole, seq, committed, n, every, &want)

		crashed := newPartition(t, set, propertyOptions(), newBurst())
		var discard output
		feedRange(t, crashed, seq, 0, snapAt, every, &discard)
		snap, err := crashed.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		p := newPartition(t, set, propertyOptions(), newBurst())
		if err := p.Restore(snap); err != nil {
			t.Fatal(err)
		}
		p.SetMuted(true)
		var muted, got output
		feedRange(t, p, seq, snapAt, committed, every, &muted)
		if muted.Len() != 0 {
			t.Fatalf("seed %d: muted replay emitted %s", seed, muted.String())
		}
		p.SetMuted(false)
		feedRange(t, p, seq, committed, n, every, &got)
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Fatalf("seed %d: live output after muted replay differs:\n--- want\n%s\n--- got\n%s", seed, want.String(), got.String())
		}
	}
}

func TestRestoreErrors(t *testing.T) {
	set := propertySet(t)
	p := newPartition(t, set, propertyOptions(), newBurst())
	run(t, p, randomSeq(rand.New(rand.NewPCG(1, 1)), 100))
	snap, err := p.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	q := newPartition(t, set, propertyOptions(), newBurst())
	if err := q.Restore([]byte("nonsense")); err == nil {
		t.Error("Restore accepted garbage")
	}
	bad := bytes.Clone(snap)
	bad[len(snapshotMagic)] = 99
	if err := q.Restore(bad); !errors.Is(err, ErrSnapshotVersion) {
		t.Errorf("Restore(version 99) = %v, want ErrSnapshotVersion", err)
	}
	if err := q.Restore(snap[:len(snap)/2]); err == nil {
		t.Error("Restore accepted a truncated snapshot")
	}
	if q.Offset() != -1 || q.Stats().Alerts != 0 {
		t.Error("a failed Restore left state behind")
	}
	// A rule set without the correlations of the snapshot: their state is
	// dropped, the rest restored.
	small := newPartition(t, loadRules(t, "counts.yml", "standalone.yml"), Options{}, newBurst())
	if err := small.Restore(snap); err != nil {
		t.Fatal(err)
	}
	if small.Offset() != 99 || small.Stats().Alerts == 0 {
		t.Errorf("offset %d, stats %+v", small.Offset(), small.Stats())
	}
}
