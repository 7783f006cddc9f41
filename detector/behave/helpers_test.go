package behave

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vigil-audit/vigil/detector"
	"github.com/vigil-audit/vigil/internal/event"
)

// t0 is a Monday, 00:00 UTC.
var t0 = time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)

func at(d time.Duration) event.Timestamp { return event.NewTimestamp(t0.Add(d)) }

func day(n int, h, m int) time.Duration {
	return time.Duration(n)*24*time.Hour + time.Duration(h)*time.Hour + time.Duration(m)*time.Minute
}

// acc returns an ordinary access: a nurse reading a patient's health
// record with a care relationship, from a workstation in Shanghai.
func acc(actor string, when time.Duration) *event.AccessEvent {
	lat, lon := 31.2304, 121.4737
	return &event.AccessEvent{
		OccurredAt: at(when), Org: "org1",
		Actor:  event.Actor{ID: actor, Type: event.ActorStaff, Role: "nurse", Department: "cardiology"},
		Action: event.ActionRead, Subject: event.Subject{ID: "P1", Type: event.SubjectPatient},
		Categories:   []event.Category{event.CategoryHealth},
		Relationship: event.RelationshipTrue, Outcome: event.OutcomeSuccess,
		Client: event.Client{IP: "10.0.16.5", DeviceID: "WS-1",
			Geo: event.Geo{Country: "CN", City: "Shanghai", Lat: &lat, Lon: &lon}},
	}
}

// dev returns an ordinary device event: a login of account A1 on D1.
func dev(device, account string, kind event.DeviceKind, when time.Duration) *event.DeviceEvent {
	return &event.DeviceEvent{OccurredAt: at(when), Org: "org1", AccountID: account, DeviceID: device,
		Kind: kind, Outcome: event.OutcomeSuccess}
}

func geo(country, city string, lat, lon float64) event.Geo {
	return event.Geo{Country: country, City: city, Lat: &lat, Lon: &lon}
}

// feeder gives events to behaviours the way a Partition does: in order,
// each followed by Advance to the largest occurred_at seen, and numbers
// events that have no id.
type feeder struct {
	n     int
	wm    time.Time
	found []detector.Finding
}

func (f *feeder) emit(x detector.Finding) {
	// emit must copy what it keeps: the behaviour may reuse the slices.
	x.Subjects = append([]string(nil), x.Subjects...)
	x.Categories = append([]event.Category(nil), x.Categories...)
	x.Evidence = append([]string(nil), x.Evidence...)
	f.found = append(f.found, x)
}

func (f *feeder) feed(bs []detector.Behaviour, e any) {
	f.n++
	var t time.Time
	switch e := e.(type) {
	case *event.AccessEvent:
		if e.EventID == "" {
			e.EventID = fmt.Sprintf("a%d", f.n)
		}
		for _, b := range bs {
			b.Access(e, f.emit)
		}
		t = e.OccurredAt.Time
	case *event.DeviceEvent:
		if e.EventID == "" {
			e.EventID = fmt.Sprintf("d%d", f.n)
		}
		for _, b := range bs {
			b.Device(e, f.emit)
		}
		t = e.OccurredAt.Time
	default:
		panic(fmt.Sprintf("feed %T", e))
	}
	if t.After(f.wm) {
		f.wm = t
		for _, b := range bs {
			b.Advance(f.wm)
		}
	}
}

// run feeds events to a fresh b and returns the findings.
func run(t testing.TB, b detector.Behaviour, events []any) []detector.Finding {
	t.Helper()
	var f feeder
	for _, e := range events {
		f.feed([]detector.Behaviour{b}, e)
	}
	for _, x := range f.found {
		checkFinding(t, b, x)
	}
	return f.found
}

// checkFinding checks the Behaviour contract on a finding.
func checkFinding(t testing.TB, b detector.Behaviour, f detector.Finding) {
	t.Helper()
	switch {
	case f.RuleID != b.Name():
		t.Errorf("RuleID %q, want %q", f.RuleID, b.Name())
	case f.GroupKey == "" || f.Org == "" || !strings.HasPrefix(f.GroupKey, f.Org+"/"):
		t.Errorf("GroupKey %q, Org %q", f.GroupKey, f.Org)
	case f.Start.IsZero() || f.End.Before(f.Start):
		t.Errorf("Start %v End %v", f.Start, f.End)
	case !f.Severity.Valid():
		t.Errorf("Severity %q", f.Severity)
	case f.Count < 1:
		t.Errorf("Count %d", f.Count)
	case f.Explanation == "" || !strings.HasSuffix(f.Explanation, "."):
		t.Errorf("Explanation %q", f.Explanation)
	case f.RuleTitle == "":
		t.Errorf("no title")
	case (f.ActorID == "") == (f.DeviceID == ""):
		t.Errorf("ActorID %q DeviceID %q: want exactly one", f.ActorID, f.DeviceID)
	case len(f.Evidence) == 0:
		t.Errorf("no evidence")
	}
	for i := 1; i < len(f.Evidence); i++ {
		if f.Evidence[i] == f.Evidence[i-1] {
			t.Errorf("evidence repeats %q", f.Evidence[i])
		}
	}
}

// mustNew builds the behaviour named rule from cfg (every other one
// disabled).
func mustNew(t testing.TB, cfg Config, rule string) detector.Behaviour {
	t.Helper()
	bs, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bs {
		if b.Name() == rule {
			return b
		}
	}
	t.Fatalf("%s not built", rule)
	return nil
}

// evidenceOf returns the event ids of the findings, in order, without
// repeats.
func evidenceOf(fs []detector.Finding) []string {
	var out []string
	seen := map[string]bool{}
	for _, f := range fs {
		for _, id := range f.Evidence {
			if !seen[id] {
				seen[id] = true
				out = append(out, id)
			}
		}
	}
	return out
}
