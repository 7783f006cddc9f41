package backfill

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/vigil-audit/vigil/detector"
	"github.com/vigil-audit/vigil/internal/event"
	"github.com/vigil-audit/vigil/internal/store"
	"github.com/vigil-audit/vigil/internal/store/sqlite"
)

// rootedBehaviour raises one finding per rooted device event: it shows
// that behaviours run and that device signals come back from the store.
type rootedBehaviour struct{}

func (rootedBehaviour) Name() string                                      { return detector.BehaviourPrefix + "test_rooted" }
func (rootedBehaviour) Access(*event.AccessEvent, func(detector.Finding)) {}
func (rootedBehaviour) Device(e *event.DeviceEvent, emit func(detector.Finding)) {
	if e.Signals.Rooted {
		emit(detector.Finding{RuleID: detector.BehaviourPrefix + "test_rooted", RuleTitle: "rooted",
			Severity: event.SeverityHigh, GroupKey: e.Org + "/" + e.DeviceID, Org: e.Org, DeviceID: e.DeviceID,
			Start: e.OccurredAt.Time, End: e.OccurredAt.Time, Count: 1, Evidence: []string{e.EventID},
			Explanation: "a rooted device"})
	}
}
func (rootedBehaviour) Advance(time.Time)             {}
func (rootedBehaviour) MarshalState() ([]byte, error) { return nil, nil }
func (rootedBehaviour) UnmarshalState([]byte) error   { return nil }

// storeFixture is the events of produceFixture, written to a SQLite store
// as the sink writes them (the break-glass events twice: a redelivery),
// with a rooted device at t0+4m and the alerts already raised.
func storeFixture(t *testing.T) *sqlite.Store {
	t.Helper()
	ctx := t.Context()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "vigil.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	var b store.Batch
	for i := range 10 {
		at := t0.Add(time.Duration(i) * time.Minute)
		b.Access = append(b.Access, access(fmt.Sprintf("bg-%d", i), at, fmt.Sprintf("staff-%02d", i), "pt-1", event.ActionBreakGlass))
		if i >= 3 && i < 8 {
			b.Access = append(b.Access, access(fmt.Sprintf("rd-%d", i), at.Add(time.Second), "staff-x", fmt.Sprintf("pt-%d", i), event.ActionRead))
		}
	}
	ts := event.NewTimestamp(t0.Add(4 * time.Minute))
	b.Device = []event.DeviceEvent{{EventID: "dv-1", OccurredAt: ts, ReceivedAt: ts, Source: "sdk", Org: "hosp-1",
		AccountID: "acct-1", DeviceID: "dev-1", Kind: event.KindLogin, Signals: event.Signals{Rooted: true},
		Outcome: event.OutcomeSuccess}}
	for _, i := range []int{3, 5} {
		b.Alerts = append(b.Alerts, store.Versioned[event.Alert]{Version: uint64(10 + i), Value: event.Alert{
			AlertID: bgID(i), RuleID: "t-break-glass", GroupKey: fmt.Sprintf("hosp-1/staff-%02d", i),
			WindowStart: event.NewTimestamp(t0.Add(time.Duration(i) * time.Minute)), Org: "hosp-1", Status: "open"}})
	}
	// Raised before the range: not an alert of this backfill.
	b.Alerts = append(b.Alerts, store.Versioned[event.Alert]{Version: 1, Value: event.Alert{
		AlertID: bgID(1), RuleID: "t-break-glass", GroupKey: "hosp-1/staff-01",
		WindowStart: event.NewTimestamp(t0.Add(time.Minute)), Org: "hosp-1", Status: "open"}})
	redelivery := store.Batch{Access: b.Access[:4]}
	for _, batch := range []*store.Batch{&b, &redelivery} {
		if err := s.Write(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func runStore(t *testing.T, cfg StoreConfig) ([]Result, Summary) {
	t.Helper()
	var res []Result
	sum, err := RunStore(t.Context(), cfg, func(r Result) { res = append(res, r) })
	if err != nil {
		t.Fatal(err)
	}
	return res, sum
}

func TestRunStore(t *testing.T) {
	s := storeFixture(t)
	from, to := t0.Add(3*time.Minute), t0.Add(7*time.Minute)
	corr := event.AlertID("t-many-patients", "hosp-1/staff-x", t0.Add(3*time.Minute+time.Second))
	rooted := event.AlertID(detector.BehaviourPrefix+"test_rooted", "hosp-1/dev-1", t0.Add(4*time.Minute))

	tests := []struct {
		name         string
		behaviours   func() ([]detector.Behaviour, error)
		org          string
		wantNew      []string
		wantExisting []string
		wantEvents   map[string]int64
	}{
		{"rules only", nil, "", sorted(bgID(4), bgID(6), corr), sorted(bgID(3), bgID(5)),
			map[string]int64{"access": 15, "device": 1}},
		{"with behaviours", func() ([]detector.Behaviour, error) { return []detector.Behaviour{rootedBehaviour{}}, nil }, "",
			sorted(bgID(4), bgID(6), corr, rooted), sorted(bgID(3), bgID(5)), map[string]int64{"access": 15, "device": 1}},
		{"another org", nil, "hosp-2", nil, nil, map[string]int64{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var progress []int64
			res, sum := runStore(t, StoreConfig{Store: s, Set: loadSet(t), Behaviours: tt.behaviours, From: from, To: to,
				Org: tt.org, Progress: func(n int64) { progress = append(progress, n) }})
			if got := ids(res, New); !slices.Equal(got, tt.wantNew) {
				t.Errorf("new = %v, want %v", got, tt.wantNew)
			}
			if got := ids(res, Existing); !slices.Equal(got, tt.wantExisting) {
				t.Errorf("existing = %v, want %v", got, tt.wantExisting)
			}
			if fmt.Sprint(sum.Events) != fmt.Sprint(tt.wantEvents) {
				t.Errorf("events = %v, want %v", sum.Events, tt.wantEvents)
			}
			// Alerts of the store with a window start in [from, to).
			if sum.ExistingIDs != 2 || sum.New != len(tt.wantNew) || sum.Existing != len(tt.wantExisting) {
				t.Errorf("summary = %+v", sum)
			}
			var total int64
			for _, n := range tt.wantEvents {
				total += n
			}
			if len(progress) != 1 || progress[0] != total {
				t.Errorf("progress = %v, want [%d]", progress, total)
			}
		})
	}
}

func TestRunStoreErrors(t *testing.T) {
	s := storeFixture(t)
	boom := fmt.Errorf("no behaviours today")
	for _, tt := range []struct {
		name string
		cfg  StoreConfig
	}{
		{"no store", StoreConfig{Set: loadSet(t), From: t0, To: t0.Add(time.Hour)}},
		{"no rules", StoreConfig{Store: s, From: t0, To: t0.Add(time.Hour)}},
		{"reversed range", StoreConfig{Store: s, Set: loadSet(t), From: t0.Add(time.Hour), To: t0}},
		{"behaviours fail", StoreConfig{Store: s, Set: loadSet(t), From: t0, To: t0.Add(time.Hour),
			Behaviours: func() ([]detector.Behaviour, error) { return nil, boom }}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			if _, err := RunStore(context.Background(), tt.cfg, func(Result) { calls++ }); err == nil || calls != 0 {
				t.Errorf("err = %v, %d results; want an error and none", err, calls)
			}
		})
	}
}
