package incident

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/vigil-audit/vigil/internal/event"
	"github.com/vigil-audit/vigil/internal/store"
)

// ActorRef names one actor: actor ids are unique within an org only.
type ActorRef struct {
	Org string
	ID  string
}

// Window is what a scope is computed over: the incident's actors (or its
// device) and the span of its activity, widened by Margin on both sides.
type Window struct {
	Actors   []ActorRef
	DeviceID string
	// Org is the incident's org: a device-only window is scoped within it.
	Org      string
	From, To time.Time
	Margin   time.Duration
	// Jurisdictions maps org → regime ids (Config.Jurisdictions).
	Jurisdictions map[string][]string
}

// WindowOf returns the scope window of inc under cfg.
func WindowOf(inc *event.Incident, cfg Config) Window {
	w := Window{DeviceID: inc.DeviceID, Org: inc.Org, From: inc.WindowStart.Time, To: inc.WindowEnd.Time,
		Margin: cfg.ScopeMargin, Jurisdictions: cfg.Jurisdictions}
	if inc.ActorID != "" {
		w.Actors = []ActorRef{{Org: inc.Org, ID: inc.ActorID}}
	}
	return w
}

// Errors of ComputeScope.
var (
	ErrEmptyWindow    = errors.New("scope window has no actor and no device")
	ErrNoJurisdiction = errors.New("org has no jurisdiction configured")
)

// Denied is one access that was refused: not part of the scope, listed
// for the record.
type Denied struct {
	EventID    string           `json:"event_id"`
	OccurredAt time.Time        `json:"occurred_at"`
	Org        string           `json:"org"`
	ActorID    string           `json:"actor_id"`
	SubjectID  string           `json:"subject_id"`
	Categories []event.Category `json:"categories,omitempty"`
}

// Scope is what an incident affected: only successful accesses to a
// subject's data count.
type Scope struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// Subjects are the affected subjects' tokens, sorted.
	Subjects []string `json:"subjects"`
	// MinorSubjects are the tokens of those flagged as minors, sorted.
	MinorSubjects []string `json:"minor_subjects,omitempty"`
	// ByCategory is the distinct subjects per data category.
	ByCategory map[event.Category]int64 `json:"by_category,omitempty"`
	// Categories and Sensitive are the categories involved, sorted.
	Categories []event.Category `json:"categories,omitempty"`
	Sensitive  []event.Category `json:"sensitive,omitempty"`
	// Events is the successful accesses counted; Records the sum of their
	// record_count, an unreported (0) count counting as 1.
	Events  int64 `json:"events"`
	Records int64 `json:"records"`
	// PeopleByOrg is the distinct subjects per org (a subject of two orgs
	// counts in each).
	PeopleByOrg map[string]int64 `json:"people_by_org,omitempty"`
	// Orgs and Jurisdictions are sorted and unique.
	Orgs          []string `json:"orgs"`
	Jurisdictions []string `json:"jurisdictions,omitempty"`
	// Denied are refused accesses in the window, oldest first.
	Denied []Denied `json:"denied,omitempty"`
}

// People is the number of affected subjects.
func (s *Scope) People() int64 { return int64(len(s.Subjects)) }

// Minors is the number of affected minors.
func (s *Scope) Minors() int64 { return int64(len(s.MinorSubjects)) }

// Event returns the scope as the incident record carries it.
func (s *Scope) Event() event.Scope {
	return event.Scope{People: s.People(), Minors: s.Minors(), Categories: slices.Clone(s.Categories),
		Jurisdictions: slices.Clone(s.Jurisdictions)}
}

// ComputeScope streams every actor's history over the window and returns
// the subjects touched by successful accesses, by category, with minors,
// sensitive categories, records, orgs and the orgs' jurisdictions.
//
// A device-only window (a device-risk incident: no actor) is scoped by
// what the device touched within the incident's org, from the store's
// event scan: the subjects of successful accesses made from the
// device (client.device_id), and the accounts used on it — their holders'
// own data was exposed through the device: an account counts as a person,
// with identity and face checks adding the id_number and biometric
// categories and payments and card binding the financial one.
func ComputeScope(ctx context.Context, r store.Reader, w Window) (Scope, error) {
	if len(w.Actors) == 0 && (w.DeviceID == "" || w.Org == "") {
		return Scope{}, ErrEmptyWindow
	}
	from := w.From.Add(-w.Margin).UTC().Truncate(time.Millisecond)
	// The window is half-open in the store; last_seen itself is included.
	to := w.To.Add(w.Margin).UTC().Truncate(time.Millisecond).Add(time.Millisecond)
	sc := Scope{From: from, To: to, ByCategory: map[event.Category]int64{}}
	subjects, minors := map[string]bool{}, map[string]bool{}
	perCat := map[event.Category]map[string]bool{}
	orgs := map[string]bool{}
	perOrg := map[string]map[string]bool{}
	touch := func(org, subject string, minor bool, cats []event.Category, records int64) {
		if perOrg[org] == nil {
			perOrg[org] = map[string]bool{}
		}
		perOrg[org][subject] = true
		sc.Events++
		sc.Records += max(records, 1)
		subjects[subject] = true
		if minor {
			minors[subject] = true
		}
		for _, c := range cats {
			if perCat[c] == nil {
				perCat[c] = map[string]bool{}
			}
			perCat[c][subject] = true
		}
	}
	for _, a := range w.Actors {
		orgs[a.Org] = true
		q := store.ActorQuery{Org: a.Org, ActorID: a.ID, TimeRange: store.TimeRange{From: from, To: to}}
		err := r.ActorHistory(ctx, q, func(row *store.ActorAccess) error {
			if row.SubjectID == "" {
				return nil // logins touch nobody's data
			}
			cats := make([]event.Category, len(row.Categories))
			for i, c := range row.Categories {
				cats[i] = event.Category(c)
			}
			switch event.Outcome(row.Outcome) {
			case event.OutcomeSuccess:
			case event.OutcomeDenied:
				sc.Denied = append(sc.Denied, Denied{EventID: row.EventID, OccurredAt: row.OccurredAt,
					Org: a.Org, ActorID: a.ID, SubjectID: row.SubjectID, Categories: cats})
				return nil
			default:
				return nil // errors: the system failed, nothing was disclosed
			}
			touch(a.Org, row.SubjectID, row.SubjectMinor, cats, row.RecordCount)
			return nil
		})
		if err != nil {
			return Scope{}, fmt.Errorf("scope: history of an actor of org %s: %w", a.Org, err)
		}
	}
	if len(w.Actors) == 0 {
		orgs[w.Org] = true
		err := r.ScanEvents(ctx, store.ScanQuery{TimeRange: store.TimeRange{From: from, To: to}, Org: w.Org}, func(e *store.StoredEvent) error {
			switch {
			case e.Device != nil && e.Device.DeviceID == w.DeviceID && e.Device.AccountID != "":
				touch(w.Org, e.Device.AccountID, false, deviceCategories(e.Device.Kind), 1)
			case e.Access != nil && e.Access.Client.DeviceID == w.DeviceID && e.Access.Subject.ID != "":
				a := e.Access
				switch a.Outcome {
				case event.OutcomeSuccess:
					touch(w.Org, a.Subject.ID, a.Subject.Minor, a.Categories, a.RecordCount)
				case event.OutcomeDenied:
					sc.Denied = append(sc.Denied, Denied{EventID: a.EventID, OccurredAt: a.OccurredAt.Time, Org: a.Org,
						ActorID: a.Actor.ID, SubjectID: a.Subject.ID, Categories: slices.Clone(a.Categories)})
				}
			}
			return nil
		})
		if err != nil {
			return Scope{}, fmt.Errorf("scope: events of a device of org %s: %w", w.Org, err)
		}
	}
	sc.Subjects = slices.Sorted(maps.Keys(subjects))
	if len(perOrg) > 0 {
		sc.PeopleByOrg = make(map[string]int64, len(perOrg))
		for o, m := range perOrg {
			sc.PeopleByOrg[o] = int64(len(m))
		}
	}
	sc.MinorSubjects = slices.Sorted(maps.Keys(minors))
	for c, s := range perCat {
		sc.ByCategory[c] = int64(len(s))
	}
	sc.Categories = slices.Sorted(maps.Keys(perCat))
	for _, c := range sc.Categories {
		if c.Sensitive() {
			sc.Sensitive = append(sc.Sensitive, c)
		}
	}
	sc.Orgs = slices.Sorted(maps.Keys(orgs))
	regs := map[string]bool{}
	for _, o := range sc.Orgs {
		rs, ok := w.Jurisdictions[o]
		if !ok {
			return Scope{}, fmt.Errorf("scope: org %s: %w", o, ErrNoJurisdiction)
		}
		for _, r := range rs {
			regs[r] = true
		}
	}
	sc.Jurisdictions = slices.Sorted(maps.Keys(regs))
	slices.SortStableFunc(sc.Denied, func(a, b Denied) int { return a.OccurredAt.Compare(b.OccurredAt) })
	return sc, nil
}

// Change is what differs between two scopes of one incident.
type Change struct {
	PeopleBefore, PeopleAfter int64
	MinorsBefore, MinorsAfter int64
	AddedCategories           []event.Category
	RemovedCategories         []event.Category
	AddedJurisdictions        []string
	RemovedJurisdictions      []string
}

// Changed reports whether anything the notice plan depends on changed.
func (c Change) Changed() bool {
	return c.PeopleBefore != c.PeopleAfter || c.MinorsBefore != c.MinorsAfter ||
		len(c.AddedCategories)+len(c.RemovedCategories)+len(c.AddedJurisdictions)+len(c.RemovedJurisdictions) > 0
}

// ScopeChanged compares a recomputed scope with the previous one.
func ScopeChanged(old, cur Scope) Change {
	return Change{PeopleBefore: old.People(), PeopleAfter: cur.People(),
		MinorsBefore: old.Minors(), MinorsAfter: cur.Minors(),
		AddedCategories: diff(cur.Categories, old.Categories), RemovedCategories: diff(old.Categories, cur.Categories),
		AddedJurisdictions: diff(cur.Jurisdictions, old.Jurisdictions), RemovedJurisdictions: diff(old.Jurisdictions, cur.Jurisdictions)}
}

// diff returns the elements of a not in b, in a's order.
func diff[T comparable](a, b []T) []T {
	var out []T
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// deviceCategories is what an account's use of a device exposed of its
// holder's data.
func deviceCategories(k event.DeviceKind) []event.Category {
	switch k {
	case event.KindRealnameAuth:
		return []event.Category{event.CategoryIDNumber}
	case event.KindFaceVerify:
		return []event.Category{event.CategoryBiometric}
	case event.KindPayment, event.KindBindCard:
		return []event.Category{event.CategoryFinancial}
	case event.KindPasswordReset, event.KindChangePhone, event.KindSIMChange:
		return []event.Category{event.CategoryAccount}
	}
	return nil
}
