package detector

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/vigil-audit/vigil/detector/sigma"
	"github.com/vigil-audit/vigil/internal/event"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// t0 is the start of every test sequence.
var t0 = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

// in is one input of a test sequence: an event or a disposition.
type in struct {
	a *event.AccessEvent
	d *event.DeviceEvent
	// dispose, when set, disposes of the alert of rule/group/start.
	dispose *dispose
}

type dispose struct {
	rule, key string
	start     time.Duration
	status    event.AlertStatus
	reason    string
}

func acc(at time.Duration, actor string, action event.Action, mods ...func(*event.AccessEvent)) in {
	e := &event.AccessEvent{
		OccurredAt: event.NewTimestamp(t0.Add(at)), Source: "ehr", Org: "hosp-1",
		Actor: event.Actor{ID: actor, Type: event.ActorStaff, Role: "nurse"}, Action: action,
		Subject:      event.Subject{ID: "pt-1", Type: event.SubjectPatient},
		Categories:   []event.Category{event.CategoryHealth},
		Relationship: event.RelationshipTrue, Outcome: event.OutcomeSuccess,
	}
	if action == event.ActionLogin {
		e.Subject, e.Categories = event.Subject{}, nil
	}
	for _, m := range mods {
		m(e)
	}
	return in{a: e}
}

func dev(at time.Duration, account, device string, kind event.DeviceKind, mods ...func(*event.DeviceEvent)) in {
	e := &event.DeviceEvent{OccurredAt: event.NewTimestamp(t0.Add(at)), Source: "sdk", Org: "app-1",
		AccountID: account, DeviceID: device, Kind: kind, Outcome: event.OutcomeSuccess}
	for _, m := range mods {
		m(e)
	}
	return in{d: e}
}

func denied(e *event.AccessEvent) { e.Outcome = event.OutcomeDenied }

func subject(id string) func(*event.AccessEvent) {
	return func(e *event.AccessEvent) { e.Subject = event.Subject{ID: id, Type: event.SubjectPatient} }
}

func records(n int64) func(*event.AccessEvent) {
	return func(e *event.AccessEvent) { e.RecordCount = n }
}

func org(o string) func(*event.AccessEvent) { return func(e *event.AccessEvent) { e.Org = o } }

func role(r string) func(*event.AccessEvent) { return func(e *event.AccessEvent) { e.Actor.Role = r } }

func cats(cs ...event.Category) func(*event.AccessEvent) {
	return func(e *event.AccessEvent) { e.Categories = cs }
}

func minor(e *event.AccessEvent) { e.Subject.Minor = true }

// loadRules loads rule files of testdata.
func loadRules(t testing.TB, files ...string) *sigma.Set {
	t.Helper()
	var srcs []sigma.Source
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join("testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		srcs = append(srcs, sigma.Source{Name: f, Data: b})
	}
	set, err := sigma.Load(srcs, sigma.Options{})
	if err != nil {
		t.Fatalf("load %v: %v", files, err)
	}
	return set
}

func newPartition(t testing.TB, set *sigma.Set, opts Options, bs ...Behaviour) *Partition {
	t.Helper()
	p, err := New(set, opts, bs)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// ids gives every event of seq an id by position, once.
func ids(seq []in) []in {
	for i, x := range seq {
		id := "e" + strconv.Itoa(i)
		switch {
		case x.a != nil && x.a.EventID == "":
			x.a.EventID = id
		case x.d != nil && x.d.EventID == "":
			x.d.EventID = id
		}
	}
	return seq
}

// feedOne feeds input i of seq at offset off.
func feedOne(t testing.TB, p *Partition, off int64, x in) {
	t.Helper()
	switch {
	case x.a != nil:
		p.Access(off, x.a)
	case x.d != nil:
		p.Device(off, x.d)
	case x.dispose != nil:
		d := x.dispose
		id := event.AlertID(d.rule, d.key, t0.Add(d.start))
		if _, err := p.Dispose(id, d.status, d.reason, "analyst-1"); err != nil {
			t.Fatal(err)
		}
	}
}

// run feeds seq from offset 0 and drains after every input.
func run(t testing.TB, p *Partition, seq []in) []event.Alert {
	t.Helper()
	var out []event.Alert
	for i, x := range ids(seq) {
		feedOne(t, p, int64(i), x)
		out = p.Drain(out)
	}
	return out
}

// latest keeps the last record of every alert id, in order of first
// appearance.
func latest(recs []event.Alert) []event.Alert {
	idx := map[string]int{}
	var out []event.Alert
	for _, r := range recs {
		if i, ok := idx[r.AlertID]; ok {
			out[i] = r
			continue
		}
		idx[r.AlertID] = len(out)
		out = append(out, r)
	}
	return out
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// golden compares v as indented JSON with testdata/golden/name.json.
func golden(t *testing.T, name string, v any) {
	t.Helper()
	got := mustJSON(t, v)
	path := filepath.Join("testdata", "golden", name+".json")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it):\n%s", path, got)
	}
}
