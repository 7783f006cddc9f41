package incident

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/vigil-audit/vigil/internal/event"
	"github.com/vigil-audit/vigil/internal/store"
	"github.com/vigil-audit/vigil/internal/store/sqlite"
)

var jur = map[string][]string{"hosp-sh": {"pipl"}, "clinic-de": {"pipl", "gdpr"}}

func access(id, org, actor, subject string, at time.Time, minor bool, out event.Outcome, rc int64, cats ...event.Category) event.AccessEvent {
	e := event.AccessEvent{EventID: id, OccurredAt: event.NewTimestamp(at), ReceivedAt: event.NewTimestamp(at.Add(time.Second)),
		Source: "emr", Org: org, Actor: event.Actor{ID: actor, Type: event.ActorStaff}, Action: event.ActionRead,
		Subject: event.Subject{ID: subject, Type: event.SubjectPatient, Minor: minor}, Categories: cats,
		RecordCount: rc, Relationship: event.RelationshipFalse, Outcome: out}
	if subject == "" {
		e.Action, e.Subject, e.Categories = event.ActionLogin, event.Subject{}, nil
	}
	return e
}

func scopeStore(t *testing.T) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "vigil.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	ok, den := event.OutcomeSuccess, event.OutcomeDenied
	evs := []event.AccessEvent{
		access("e00", "hosp-sh", "staff-1", "", t0, false, ok, 0),
		access("e01", "hosp-sh", "staff-1", "subj-a", t0.Add(time.Minute), false, ok, 0, event.CategoryHealth, event.CategoryContact),
		access("e02", "hosp-sh", "staff-1", "subj-b", t0.Add(2*time.Minute), true, ok, 5, event.CategoryHealth),
		access("e03", "hosp-sh", "staff-1", "subj-a", t0.Add(3*time.Minute), false, ok, 2, event.CategoryPrescription),
		access("e04", "hosp-sh", "staff-1", "subj-c", t0.Add(4*time.Minute), false, den, 1, event.CategoryFinancial),
		access("e05", "hosp-sh", "staff-1", "subj-d", t0.Add(5*time.Minute), false, event.OutcomeError, 1, event.CategoryChat),
		access("e06", "hosp-sh", "staff-1", "subj-e", t0.Add(time.Hour), false, ok, 1, event.CategoryContact),     // last_seen itself
		access("e07", "hosp-sh", "staff-1", "subj-f", t0.Add(3*time.Hour), false, ok, 1, event.CategoryHealth),    // outside
		access("e08", "hosp-sh", "staff-1", "subj-g", t0.Add(-time.Minute), false, ok, 1, event.CategoryHealth),   // before
		access("e09", "hosp-sh", "staff-2", "subj-h", t0.Add(time.Minute), false, ok, 1, event.CategoryHealth),    // other actor
		access("e10", "clinic-de", "staff-1", "subj-i", t0.Add(time.Minute), true, ok, 1, event.CategoryLocation), // same id, other org
		access("e11", "clinic-de", "doc-9", "subj-a", t0.Add(10*time.Minute), false, ok, 1, event.CategoryBiometric),
	}
	// Device tok-dev: two accounts used on it, and a staff member reading
	// from it; other devices and orgs stay out.
	fromDev := func(e event.AccessEvent) event.AccessEvent { e.Client.DeviceID = "tok-dev"; return e }
	evs = append(evs,
		fromDev(access("e12", "hosp-sh", "staff-3", "subj-j", t0.Add(15*time.Minute), false, ok, 3, event.CategoryHealth)),
		fromDev(access("e13", "hosp-sh", "staff-3", "subj-k", t0.Add(16*time.Minute), false, den, 1, event.CategoryHealth)))
	dev := func(id, org, device, account string, at time.Time, kind event.DeviceKind) event.DeviceEvent {
		return event.DeviceEvent{EventID: id, OccurredAt: event.NewTimestamp(at), ReceivedAt: event.NewTimestamp(at.Add(time.Second)),
			Source: "risk-sdk", Org: org, AccountID: account, DeviceID: device, Kind: kind}
	}
	devs := []event.DeviceEvent{
		dev("d1", "hosp-sh", "tok-dev", "acct-1", t0.Add(10*time.Minute), event.KindRealnameAuth),
		dev("d2", "hosp-sh", "tok-dev", "acct-2", t0.Add(20*time.Minute), event.KindFaceVerify),
		dev("d3", "hosp-sh", "tok-dev", "acct-1", t0.Add(30*time.Minute), event.KindLogin),
		dev("d4", "hosp-sh", "tok-other", "acct-3", t0.Add(10*time.Minute), event.KindFaceVerify),
		dev("d5", "clinic-de", "tok-dev", "acct-4", t0.Add(10*time.Minute), event.KindFaceVerify),
		dev("d6", "hosp-sh", "tok-dev", "acct-5", t0.Add(3*time.Hour), event.KindFaceVerify), // outside
	}
	if err := s.Write(t.Context(), &store.Batch{Access: evs, Device: devs}); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestComputeScope(t *testing.T) {
	s := scopeStore(t)
	tests := []struct {
		name    string
		w       Window
		want    Scope
		wantErr error
	}{
		{name: "one actor", w: Window{Actors: []ActorRef{{"hosp-sh", "staff-1"}}, From: t0, To: t0.Add(time.Hour), Jurisdictions: jur},
			want: Scope{Subjects: []string{"subj-a", "subj-b", "subj-e"}, MinorSubjects: []string{"subj-b"},
				ByCategory: map[event.Category]int64{"health": 2, "contact": 2, "prescription": 1},
				Categories: []event.Category{"contact", "health", "prescription"}, Sensitive: []event.Category{"health", "prescription"},
				Events: 4, Records: 9, PeopleByOrg: map[string]int64{"hosp-sh": 3}, Orgs: []string{"hosp-sh"}, Jurisdictions: []string{"pipl"},
				Denied: []Denied{{EventID: "e04", OccurredAt: t0.Add(4 * time.Minute), Org: "hosp-sh", ActorID: "staff-1",
					SubjectID: "subj-c", Categories: []event.Category{"financial"}}}}},
		{name: "margin widens", w: Window{Actors: []ActorRef{{"hosp-sh", "staff-1"}}, From: t0, To: t0.Add(time.Hour),
			Margin: 2 * time.Hour, Jurisdictions: jur},
			want: Scope{Subjects: []string{"subj-a", "subj-b", "subj-e", "subj-f", "subj-g"}, MinorSubjects: []string{"subj-b"},
				ByCategory: map[event.Category]int64{"health": 4, "contact": 2, "prescription": 1},
				Categories: []event.Category{"contact", "health", "prescription"}, Sensitive: []event.Category{"health", "prescription"},
				Events: 6, Records: 11, PeopleByOrg: map[string]int64{"hosp-sh": 5}, Orgs: []string{"hosp-sh"}, Jurisdictions: []string{"pipl"},
				Denied: []Denied{{EventID: "e04", OccurredAt: t0.Add(4 * time.Minute), Org: "hosp-sh", ActorID: "staff-1",
					SubjectID: "subj-c", Categories: []event.Category{"financial"}}}}},
		{name: "two orgs", w: Window{Actors: []ActorRef{{"clinic-de", "staff-1"}, {"clinic-de", "doc-9"}}, From: t0, To: t0.Add(time.Hour), Jurisdictions: jur},
			want: Scope{Subjects: []string{"subj-a", "subj-i"}, MinorSubjects: []string{"subj-i"},
				ByCategory: map[event.Category]int64{"location": 1, "biometric": 1},
				Categories: []event.Category{"biometric", "location"}, Sensitive: []event.Category{"biometric", "location"},
				Events: 2, Records: 2, PeopleByOrg: map[string]int64{"clinic-de": 2}, Orgs: []string{"clinic-de"}, Jurisdictions: []string{"gdpr", "pipl"}}},
		{name: "actors across orgs", w: Window{Actors: []ActorRef{{"hosp-sh", "staff-2"}, {"clinic-de", "staff-1"}}, From: t0, To: t0.Add(time.Hour), Jurisdictions: jur},
			want: Scope{Subjects: []string{"subj-h", "subj-i"}, MinorSubjects: []string{"subj-i"},
				ByCategory: map[event.Category]int64{"location": 1, "health": 1},
				Categories: []event.Category{"health", "location"}, Sensitive: []event.Category{"health", "location"},
				Events: 2, Records: 2, PeopleByOrg: map[string]int64{"clinic-de": 1, "hosp-sh": 1}, Orgs: []string{"clinic-de", "hosp-sh"}, Jurisdictions: []string{"gdpr", "pipl"}}},
		{name: "device only", w: Window{DeviceID: "tok-dev", Org: "hosp-sh", From: t0, To: t0.Add(time.Hour), Jurisdictions: jur},
			want: Scope{Subjects: []string{"acct-1", "acct-2", "subj-j"},
				ByCategory: map[event.Category]int64{"id_number": 1, "biometric": 1, "health": 1},
				Categories: []event.Category{"biometric", "health", "id_number"}, Sensitive: []event.Category{"biometric", "health", "id_number"},
				Events: 4, Records: 6, PeopleByOrg: map[string]int64{"hosp-sh": 3}, Orgs: []string{"hosp-sh"}, Jurisdictions: []string{"pipl"},
				Denied: []Denied{{EventID: "e13", OccurredAt: t0.Add(16 * time.Minute), Org: "hosp-sh", ActorID: "staff-3",
					SubjectID: "subj-k", Categories: []event.Category{"health"}}}}},
		{name: "device without org", w: Window{DeviceID: "tok-dev", From: t0, To: t0.Add(time.Hour), Jurisdictions: jur}, wantErr: ErrEmptyWindow},
		{name: "empty", w: Window{From: t0, To: t0.Add(time.Hour)}, wantErr: ErrEmptyWindow},
		{name: "org without jurisdiction", w: Window{Actors: []ActorRef{{"hosp-sh", "staff-1"}}, From: t0, To: t0.Add(time.Hour)}, wantErr: ErrNoJurisdiction},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ComputeScope(t.Context(), s, tt.w)
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			got.From, got.To = time.Time{}, time.Time{}
			if g, w := fmt.Sprintf("%+v", got), fmt.Sprintf("%+v", tt.want); g != w {
				t.Errorf("scope\n got %s\nwant %s", g, w)
			}
		})
	}
}

func TestScopeEventAndChange(t *testing.T) {
	s := scopeStore(t)
	inc := &event.Incident{Org: "hosp-sh", ActorID: "staff-1", WindowStart: event.NewTimestamp(t0), WindowEnd: event.NewTimestamp(t0.Add(time.Hour))}
	cfg := DefaultConfig()
	cfg.Jurisdictions = jur
	before, err := ComputeScope(t.Context(), s, WindowOf(inc, cfg))
	if err != nil {
		t.Fatal(err)
	}
	ev := before.Event()
	if ev.People != 3 || ev.Minors != 1 || !slices.Equal(ev.Jurisdictions, []string{"pipl"}) || len(ev.Categories) != 3 {
		t.Errorf("event scope %+v", ev)
	}
	if c := ScopeChanged(before, before); c.Changed() {
		t.Errorf("unchanged scope reported as changed: %+v", c)
	}
	inc.WindowStart = event.NewTimestamp(t0.Add(-time.Hour))
	inc.WindowEnd = event.NewTimestamp(t0.Add(4 * time.Hour))
	after, err := ComputeScope(t.Context(), s, WindowOf(inc, cfg))
	if err != nil {
		t.Fatal(err)
	}
	c := ScopeChanged(before, after)
	if !c.Changed() || c.PeopleBefore != 3 || c.PeopleAfter != 5 || c.MinorsAfter != 1 || len(c.AddedCategories) != 0 {
		t.Errorf("change %+v", c)
	}
	smaller := after
	smaller.Categories = []event.Category{"health"}
	smaller.Jurisdictions = []string{"pipl", "gdpr"}
	c = ScopeChanged(after, smaller)
	if !slices.Equal(c.RemovedCategories, []event.Category{"contact", "prescription"}) || !slices.Equal(c.AddedJurisdictions, []string{"gdpr"}) {
		t.Errorf("change %+v", c)
	}
	dev := &event.Incident{Org: "hosp-sh", DeviceID: "tok-dev", WindowStart: event.NewTimestamp(t0), WindowEnd: event.NewTimestamp(t0.Add(time.Hour))}
	if sc, err := ComputeScope(t.Context(), s, WindowOf(dev, cfg)); err != nil || sc.People() != 3 {
		t.Errorf("device incident: %d people, %v", sc.People(), err)
	}
}
