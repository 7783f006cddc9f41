package storetest

import (
	"context"
	"time"

	"github.com/vigil-audit/vigil/internal/store"
)

// queryCase is one question the suite asks a backend loaded with the
// fixture, with the reference model's answer.
type queryCase struct {
	method string
	name   string
	// query is what the golden file shows of the question.
	query any
	// want computes the expected result from the reference model.
	want func(m *model) any
	// ask puts the question to a backend; streaming methods are collected
	// into a slice.
	ask func(ctx context.Context, r store.Reader) (any, error)
}

// now is the fixture's "current time" for deadlines.
var now = at("12:00:00.000")

// wide holds every record of the fixture.
var wide = store.TimeRange{From: ts("2026-02-01T00:00:00Z"), To: ts("2026-04-01T00:00:00Z")}

// empty holds none.
var empty = store.TimeRange{From: ts("2025-01-01T00:00:00Z"), To: ts("2025-02-01T00:00:00Z")}

// plus8 is China Standard Time: queries may come in any zone.
var plus8 = time.FixedZone("CST", 8*3600)

func subjectQueries() []struct {
	name string
	q    store.SubjectQuery
} {
	return []struct {
		name string
		q    store.SubjectQuery
	}{
		{"patient in window", store.SubjectQuery{SubjectID: "subj-p1", TimeRange: window}},
		{"patient across months", store.SubjectQuery{SubjectID: "subj-p1", TimeRange: wide}},
		{"minor in window", store.SubjectQuery{SubjectID: "subj-p2", TimeRange: window}},
		{"last millisecond of window", store.SubjectQuery{SubjectID: "subj-d4", TimeRange: window}},
		{"one millisecond with a tie", store.SubjectQuery{SubjectID: "subj-p1",
			TimeRange: store.TimeRange{From: at("10:00:00.000"), To: at("10:00:00.001")}}},
		// 18:00:00.0005+08:00 is 10:00:00.0005Z: bounds are read at
		// millisecond precision, so this is [10:00:00.000, 11:00:00.000).
		{"sub-millisecond bounds in +08:00", store.SubjectQuery{SubjectID: "subj-p1", TimeRange: store.TimeRange{
			From: time.Date(2026, 3, 2, 18, 0, 0, 500_000, plus8), To: time.Date(2026, 3, 2, 19, 0, 0, 999_999, plus8)}}},
		{"unknown subject", store.SubjectQuery{SubjectID: "subj-nobody", TimeRange: wide}},
		{"nothing in range", store.SubjectQuery{SubjectID: "subj-p1", TimeRange: empty}},
	}
}

func actorQueries() []struct {
	name string
	q    store.ActorQuery
} {
	return []struct {
		name string
		q    store.ActorQuery
	}{
		{"doctor in window", store.ActorQuery{Org: "org-a", ActorID: "doc-1", TimeRange: window}},
		{"same actor id in another org", store.ActorQuery{Org: "org-b", ActorID: "doc-1", TimeRange: window}},
		{"doctor across months", store.ActorQuery{Org: "org-a", ActorID: "doc-1", TimeRange: wide}},
		{"doctor mid-hour bounds", store.ActorQuery{Org: "org-a", ActorID: "doc-1",
			TimeRange: store.TimeRange{From: at("10:15:30.124"), To: at("11:00:00.001")}}},
		{"admin with a login", store.ActorQuery{Org: "org-a", ActorID: "admin-9", TimeRange: window}},
		{"nurse with a repeated category", store.ActorQuery{Org: "org-a", ActorID: "nurse-2", TimeRange: window}},
		{"service exporting", store.ActorQuery{Org: "org-b", ActorID: "svc-export", TimeRange: window}},
		{"unknown actor", store.ActorQuery{Org: "org-a", ActorID: "nobody", TimeRange: wide}},
		{"unknown org", store.ActorQuery{Org: "org-c", ActorID: "doc-1", TimeRange: wide}},
	}
}

func topActorsQueries() []struct {
	name string
	q    store.TopActorsQuery
} {
	return []struct {
		name string
		q    store.TopActorsQuery
	}{
		{"by subjects in window", store.TopActorsQuery{TimeRange: window, By: store.BySubjects, Limit: store.MaxTopActors}},
		{"by sensitive in window", store.TopActorsQuery{TimeRange: window, By: store.BySensitive, Limit: store.MaxTopActors}},
		{"by subjects in one org", store.TopActorsQuery{TimeRange: window, Org: "org-b", By: store.BySubjects, Limit: 10}},
		{"by sensitive limited", store.TopActorsQuery{TimeRange: window, By: store.BySensitive, Limit: 2}},
		{"by subjects across months limit 1", store.TopActorsQuery{TimeRange: wide, By: store.BySubjects, Limit: 1}},
		{"by subjects unknown org", store.TopActorsQuery{TimeRange: wide, Org: "org-c", By: store.BySubjects, Limit: 10}},
		{"nothing in range", store.TopActorsQuery{TimeRange: empty, By: store.BySensitive, Limit: 10}},
	}
}

// alertCountsQuery is an AlertCountsQuery as the golden files show it
// (Bucket as text, not nanoseconds).
type alertCountsQuery struct {
	From   time.Time `json:"from"`
	To     time.Time `json:"to"`
	Bucket string    `json:"bucket"`
}

func alertQueries() []struct {
	name string
	q    store.AlertCountsQuery
} {
	return []struct {
		name string
		q    store.AlertCountsQuery
	}{
		{"hourly in window", store.AlertCountsQuery{TimeRange: window, Bucket: time.Hour}},
		{"five minutes in window", store.AlertCountsQuery{TimeRange: window, Bucket: 5 * time.Minute}},
		{"daily over two days", store.AlertCountsQuery{TimeRange: store.TimeRange{From: ts("2026-03-01T00:00:00Z"), To: ts("2026-03-03T00:00:00Z")}, Bucket: 24 * time.Hour}},
		{"minutes up to a boundary", store.AlertCountsQuery{TimeRange: store.TimeRange{From: at("10:00:00.000"), To: at("10:05:00.000")}, Bucket: time.Minute}},
		{"nothing in range", store.AlertCountsQuery{TimeRange: empty, Bucket: time.Hour}},
	}
}

func incidentQueries() []struct {
	name string
	q    store.IncidentQuery
} {
	return []struct {
		name string
		q    store.IncidentQuery
	}{
		{"all", store.IncidentQuery{Limit: 100, Now: now}},
		{"limited", store.IncidentQuery{Limit: 2, Now: now}},
		{"confirmed or notifying", store.IncidentQuery{States: []string{"confirmed", "notifying"}, Limit: 100, Now: now}},
		{"closed", store.IncidentQuery{States: []string{"closed"}, Limit: 100, Now: now}},
		{"states an older version had", store.IncidentQuery{States: []string{"triage", "detected"}, Limit: 100, Now: now}},
		{"unknown state", store.IncidentQuery{States: []string{"nope"}, Limit: 100, Now: now}},
		// Now is read at millisecond precision: 12:00:00.000999 is 12:00,
		// when one notice is exactly due (not overdue).
		{"sub-millisecond now", store.IncidentQuery{Limit: 100, Now: now.Add(999 * time.Microsecond)}},
		{"two days later in +08:00", store.IncidentQuery{Limit: 100, Now: now.Add(48 * time.Hour).In(plus8)}},
	}
}

func noticeQueries() []struct {
	name string
	q    store.NoticeQuery
} {
	return []struct {
		name string
		q    store.NoticeQuery
	}{
		{"all", store.NoticeQuery{Now: now}},
		{"one incident", store.NoticeQuery{IncidentID: "inc-1", Now: now}},
		{"incident without a record", store.NoticeQuery{IncidentID: "inc-9", Now: now}},
		{"unknown incident", store.NoticeQuery{IncidentID: "inc-nope", Now: now}},
		{"all two days later", store.NoticeQuery{Now: now.Add(48 * time.Hour)}},
	}
}

func rangeQueries(ingest bool) []struct {
	name string
	r    store.TimeRange
} {
	rs := []struct {
		name string
		r    store.TimeRange
	}{
		{"window", window},
		{"across months", wide},
		{"nothing in range", empty},
	}
	if ingest {
		rs = append(rs, struct {
			name string
			r    store.TimeRange
		}{"first minute in +08:00", store.TimeRange{From: at("10:00:00.000").In(plus8), To: at("10:01:00.000").In(plus8)}})
	}
	return rs
}

func scanQueries() []struct {
	name string
	q    store.ScanQuery
} {
	return []struct {
		name string
		q    store.ScanQuery
	}{
		{"window", store.ScanQuery{TimeRange: window}},
		{"across months", store.ScanQuery{TimeRange: wide}},
		{"one org", store.ScanQuery{TimeRange: window, Org: "org-b"}},
		{"unknown org", store.ScanQuery{TimeRange: wide, Org: "org-c"}},
		// The first and the last millisecond of a range, in +08:00.
		{"one millisecond at the start", store.ScanQuery{TimeRange: store.TimeRange{
			From: at("10:00:00.000").In(plus8), To: at("10:00:00.001").In(plus8)}}},
		{"up to a boundary", store.ScanQuery{TimeRange: store.TimeRange{From: at("09:59:59.999"), To: at("10:01:00.000")}}},
		{"nothing in range", store.ScanQuery{TimeRange: empty}},
	}
}

// collect runs a streaming method and returns its rows.
func collect[R any](stream func(fn func(*R) error) error) (any, error) {
	rows := []R{}
	err := stream(func(r *R) error {
		rows = append(rows, *r)
		return nil
	})
	return rows, err
}

// cases returns every question of the suite, grouped by method in Reader
// order.
func cases() []queryCase {
	var cs []queryCase
	add := func(method, name string, query any, want func(*model) any, ask func(context.Context, store.Reader) (any, error)) {
		cs = append(cs, queryCase{method: method, name: name, query: query, want: want, ask: ask})
	}
	for _, c := range subjectQueries() {
		q := c.q
		add("SubjectHistory", c.name, q,
			func(m *model) any { return m.subjectHistory(q) },
			func(ctx context.Context, r store.Reader) (any, error) {
				return collect(func(fn func(*store.SubjectAccess) error) error { return r.SubjectHistory(ctx, q, fn) })
			})
	}
	for _, c := range subjectQueries() {
		q := c.q
		add("CountSubjectHistory", c.name, q,
			func(m *model) any { return int64(len(m.subjectHistory(q))) },
			func(ctx context.Context, r store.Reader) (any, error) { return r.CountSubjectHistory(ctx, q) })
	}
	for _, c := range actorQueries() {
		q := c.q
		add("ActorHistory", c.name, q,
			func(m *model) any { return m.actorHistory(q) },
			func(ctx context.Context, r store.Reader) (any, error) {
				return collect(func(fn func(*store.ActorAccess) error) error { return r.ActorHistory(ctx, q, fn) })
			})
	}
	for _, c := range actorQueries() {
		q := c.q
		add("CountActorHistory", c.name, q,
			func(m *model) any { return int64(len(m.actorHistory(q))) },
			func(ctx context.Context, r store.Reader) (any, error) { return r.CountActorHistory(ctx, q) })
	}
	for _, c := range actorQueries() {
		q := c.q
		add("ActorActivity", c.name, q,
			func(m *model) any { return m.actorActivity(q) },
			func(ctx context.Context, r store.Reader) (any, error) { return r.ActorActivity(ctx, q) })
	}
	for _, c := range topActorsQueries() {
		q := c.q
		add("TopActors", c.name, q,
			func(m *model) any { return m.topActors(q) },
			func(ctx context.Context, r store.Reader) (any, error) { return r.TopActors(ctx, q) })
	}
	for _, c := range alertQueries() {
		q := c.q
		add("AlertCounts", c.name, alertCountsQuery{From: q.From, To: q.To, Bucket: q.Bucket.String()},
			func(m *model) any { return m.alertCounts(q) },
			func(ctx context.Context, r store.Reader) (any, error) { return r.AlertCounts(ctx, q) })
	}
	for _, c := range incidentQueries() {
		q := c.q
		add("Incidents", c.name, q,
			func(m *model) any { return m.incidentList(q) },
			func(ctx context.Context, r store.Reader) (any, error) { return r.Incidents(ctx, q) })
	}
	for _, c := range noticeQueries() {
		q := c.q
		add("NoticeProgress", c.name, q,
			func(m *model) any { return m.noticeProgress(q) },
			func(ctx context.Context, r store.Reader) (any, error) { return r.NoticeProgress(ctx, q) })
	}
	for _, c := range rangeQueries(true) {
		q := c.r
		add("IngestRate", c.name, q,
			func(m *model) any { return m.ingestRate(q) },
			func(ctx context.Context, r store.Reader) (any, error) { return r.IngestRate(ctx, q) })
	}
	for _, c := range rangeQueries(false) {
		q := c.r
		add("DeadLetterCounts", c.name, q,
			func(m *model) any { return m.deadLetterCounts(q) },
			func(ctx context.Context, r store.Reader) (any, error) { return r.DeadLetterCounts(ctx, q) })
	}
	for _, c := range scanQueries() {
		q := c.q
		add("ScanEvents", c.name, q,
			func(m *model) any { return m.scanEvents(q) },
			func(ctx context.Context, r store.Reader) (any, error) {
				return collect(func(fn func(*store.StoredEvent) error) error { return r.ScanEvents(ctx, q, fn) })
			})
	}
	for _, c := range append(rangeQueries(false), struct {
		name string
		r    store.TimeRange
	}{"minutes up to a boundary", store.TimeRange{From: at("10:00:00.000"), To: at("10:05:00.000")}}) {
		q := c.r
		add("AlertIDs", c.name, q,
			func(m *model) any { return m.alertIDs(q) },
			func(ctx context.Context, r store.Reader) (any, error) {
				ids := []string{}
				err := r.AlertIDs(ctx, q, func(id string) error { ids = append(ids, id); return nil })
				return ids, err
			})
	}
	return cs
}

// methods lists the Reader's methods in the order of the interface; each
// has a golden file.
var methods = []string{"SubjectHistory", "CountSubjectHistory", "ActorHistory", "CountActorHistory",
	"ActorActivity", "TopActors", "AlertCounts", "Incidents", "NoticeProgress", "IngestRate", "DeadLetterCounts",
	"ScanEvents", "AlertIDs"}
