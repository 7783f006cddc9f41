package storetest

import (
	"cmp"
	"slices"
	"time"

	"github.com/vigil-audit/vigil/internal/event"
	"github.com/vigil-audit/vigil/internal/store"
)

// model is the reference the suite computes expected results with: the
// fixture's records deduplicated in the plainest way (first copy of an
// immutable record, highest version of a changing one), and one loop per
// query that follows the Reader contract word for word. It shares nothing
// with any backend.
type model struct {
	access    []event.AccessEvent
	device    []event.DeviceEvent
	dead      []event.DeadLetter
	alerts    []event.Alert
	incidents []event.Incident
	notices   []event.Notice
}

// newModel reduces the batches to what a store must show.
func newModel(batches []*store.Batch) *model {
	m := &model{}
	seen := map[string]bool{}
	once := func(kind, id string) bool {
		if seen[kind+"\x00"+id] {
			return false
		}
		seen[kind+"\x00"+id] = true
		return true
	}
	alerts := map[string]store.Versioned[event.Alert]{}
	incidents := map[string]store.Versioned[event.Incident]{}
	notices := map[string]store.Versioned[event.Notice]{}
	for _, b := range batches {
		for _, e := range b.Access {
			if once("access", e.EventID) {
				m.access = append(m.access, e)
			}
		}
		for _, e := range b.Device {
			if once("device", e.EventID) {
				m.device = append(m.device, e)
			}
		}
		for _, d := range b.DeadLetters {
			if once("dead", d.DeadLetterID) {
				m.dead = append(m.dead, d)
			}
		}
		for _, a := range b.Alerts {
			if old, ok := alerts[a.Value.AlertID]; !ok || a.Version > old.Version {
				alerts[a.Value.AlertID] = a
			}
		}
		for _, i := range b.Incidents {
			if old, ok := incidents[i.Value.IncidentID]; !ok || i.Version > old.Version {
				incidents[i.Value.IncidentID] = i
			}
		}
		for _, n := range b.Notices {
			if old, ok := notices[n.Value.NoticeID]; !ok || n.Version > old.Version {
				notices[n.Value.NoticeID] = n
			}
		}
	}
	for _, a := range alerts {
		m.alerts = append(m.alerts, a.Value)
	}
	for _, i := range incidents {
		m.incidents = append(m.incidents, i.Value)
	}
	for _, n := range notices {
		m.notices = append(m.notices, n.Value)
	}
	return m
}

// msTime is t in UTC truncated to the millisecond: how the contract reads
// every time it is given (query bounds, Now) and returns every time.
func msTime(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

// within reports whether t is in the half-open range r, at millisecond
// precision.
func within(t event.Timestamp, r store.TimeRange) bool {
	return !t.Before(msTime(r.From)) && t.Before(msTime(r.To))
}

// resultTime is a stored time as a result carries it: UTC milliseconds,
// the zero time.Time when absent.
func resultTime(t event.Timestamp) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return msTime(t.Time)
}

// categoryList is a result's category list: sorted, unique, never nil.
func categoryList(cs []event.Category) []string {
	out := []string{}
	for _, c := range cs {
		if !slices.Contains(out, string(c)) {
			out = append(out, string(c))
		}
	}
	slices.Sort(out)
	return out
}

func sensitive(cs []event.Category) bool {
	for _, c := range cs {
		if slices.Contains(event.SensitiveCategories(), c) {
			return true
		}
	}
	return false
}

// floorTo is the start of the span of length d (from the Unix epoch) that
// holds t.
func floorTo(t time.Time, d time.Duration) time.Time {
	ms, span := t.UnixMilli(), d.Milliseconds()
	start := ms - ((ms%span)+span)%span
	return time.UnixMilli(start).UTC()
}

// byTimeThenID orders rows oldest first, ties by event id.
func byTimeThenID(at1 time.Time, id1 string, at2 time.Time, id2 string) int {
	return cmp.Or(at1.Compare(at2), cmp.Compare(id1, id2))
}

func (m *model) subjectHistory(q store.SubjectQuery) []store.SubjectAccess {
	out := []store.SubjectAccess{}
	for _, e := range m.access {
		if e.Subject.ID != q.SubjectID || !within(e.OccurredAt, q.TimeRange) {
			continue
		}
		out = append(out, store.SubjectAccess{
			EventID:         e.EventID,
			OccurredAt:      resultTime(e.OccurredAt),
			Org:             e.Org,
			Source:          e.Source,
			ActorID:         e.Actor.ID,
			ActorType:       string(e.Actor.Type),
			ActorRole:       e.Actor.Role,
			ActorDepartment: e.Actor.Department,
			Action:          string(e.Action),
			SubjectType:     string(e.Subject.Type),
			Categories:      categoryList(e.Categories),
			RecordCount:     e.RecordCount,
			Purpose:         e.Purpose,
			Relationship:    string(e.Relationship),
			Outcome:         string(e.Outcome),
		})
	}
	slices.SortFunc(out, func(a, b store.SubjectAccess) int {
		return byTimeThenID(a.OccurredAt, a.EventID, b.OccurredAt, b.EventID)
	})
	return out
}

func (m *model) actorEvents(q store.ActorQuery) []event.AccessEvent {
	var out []event.AccessEvent
	for _, e := range m.access {
		if e.Org == q.Org && e.Actor.ID == q.ActorID && within(e.OccurredAt, q.TimeRange) {
			out = append(out, e)
		}
	}
	return out
}

func (m *model) actorHistory(q store.ActorQuery) []store.ActorAccess {
	out := []store.ActorAccess{}
	for _, e := range m.actorEvents(q) {
		out = append(out, store.ActorAccess{
			EventID:         e.EventID,
			OccurredAt:      resultTime(e.OccurredAt),
			ActorType:       string(e.Actor.Type),
			ActorRole:       e.Actor.Role,
			ActorDepartment: e.Actor.Department,
			Action:          string(e.Action),
			SubjectID:       e.Subject.ID,
			SubjectType:     string(e.Subject.Type),
			SubjectMinor:    e.Subject.Minor,
			Categories:      categoryList(e.Categories),
			RecordCount:     e.RecordCount,
			Relationship:    string(e.Relationship),
			Outcome:         string(e.Outcome),
		})
	}
	slices.SortFunc(out, func(a, b store.ActorAccess) int {
		return byTimeThenID(a.OccurredAt, a.EventID, b.OccurredAt, b.EventID)
	})
	return out
}

func (m *model) actorActivity(q store.ActorQuery) []store.ActorHour {
	type key struct {
		hour     time.Time
		category string
	}
	rows := map[key]*store.ActorHour{}
	subjects := map[key]map[string]bool{}
	for _, e := range m.actorEvents(q) {
		for _, c := range categoryList(e.Categories) {
			k := key{floorTo(e.OccurredAt.Time, time.Hour), c}
			r := rows[k]
			if r == nil {
				r = &store.ActorHour{Hour: k.hour, Category: c}
				rows[k] = r
				subjects[k] = map[string]bool{}
			}
			r.Events++
			r.Records += e.RecordCount
			if e.Outcome == event.OutcomeDenied {
				r.Denied++
			}
			if e.Subject.ID != "" {
				subjects[k][e.Subject.ID] = true
			}
		}
	}
	out := []store.ActorHour{}
	for k, r := range rows {
		r.Subjects = int64(len(subjects[k]))
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b store.ActorHour) int {
		return cmp.Or(a.Hour.Compare(b.Hour), cmp.Compare(a.Category, b.Category))
	})
	return out
}

func (m *model) topActors(q store.TopActorsQuery) []store.TopActor {
	type key struct{ org, actor string }
	rows := map[key]*store.TopActor{}
	subjects := map[key]map[string]bool{}
	sensitiveSubjects := map[key]map[string]bool{}
	for _, e := range m.access {
		if (q.Org != "" && e.Org != q.Org) || !within(e.OccurredAt, q.TimeRange) {
			continue
		}
		k := key{e.Org, e.Actor.ID}
		r := rows[k]
		if r == nil {
			r = &store.TopActor{Org: e.Org, ActorID: e.Actor.ID}
			rows[k] = r
			subjects[k] = map[string]bool{}
			sensitiveSubjects[k] = map[string]bool{}
		}
		r.Events++
		r.Records += e.RecordCount
		if e.Subject.ID != "" {
			subjects[k][e.Subject.ID] = true
		}
		if sensitive(e.Categories) {
			r.SensitiveEvents++
			if e.Subject.ID != "" {
				sensitiveSubjects[k][e.Subject.ID] = true
			}
		}
	}
	out := []store.TopActor{}
	for k, r := range rows {
		r.Subjects = int64(len(subjects[k]))
		r.SensitiveSubjects = int64(len(sensitiveSubjects[k]))
		out = append(out, *r)
	}
	figure := func(r store.TopActor) int64 {
		if q.By == store.BySensitive {
			return r.SensitiveEvents
		}
		return r.Subjects
	}
	slices.SortFunc(out, func(a, b store.TopActor) int {
		return cmp.Or(
			-cmp.Compare(figure(a), figure(b)),
			-cmp.Compare(a.Events, b.Events),
			cmp.Compare(a.Org, b.Org),
			cmp.Compare(a.ActorID, b.ActorID))
	})
	if len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out
}

func (m *model) alertCounts(q store.AlertCountsQuery) []store.AlertCount {
	type key struct {
		bucket         time.Time
		rule, severity string
	}
	rows := map[key]*store.AlertCount{}
	for _, a := range m.alerts {
		if !within(a.WindowStart, q.TimeRange) {
			continue
		}
		k := key{floorTo(a.WindowStart.Time, q.Bucket), a.RuleID, string(a.Severity)}
		r := rows[k]
		if r == nil {
			r = &store.AlertCount{Bucket: k.bucket, RuleID: k.rule, Severity: k.severity}
			rows[k] = r
		}
		r.Alerts++
		r.Events += a.Count
		if a.Status == event.AlertOpen {
			r.Open++
		}
	}
	out := []store.AlertCount{}
	for _, r := range rows {
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b store.AlertCount) int {
		return cmp.Or(a.Bucket.Compare(b.Bucket), cmp.Compare(a.RuleID, b.RuleID), cmp.Compare(a.Severity, b.Severity))
	})
	return out
}

// openNotice reports whether a notice still has to be delivered.
func openNotice(n event.Notice) bool {
	return n.State != event.NoticeSent && n.State != event.NoticeSkipped
}

func (m *model) incidentList(q store.IncidentQuery) []store.IncidentSummary {
	now := msTime(q.Now)
	out := []store.IncidentSummary{}
	for _, i := range m.incidents {
		if len(q.States) > 0 && !slices.Contains(q.States, string(i.State)) {
			continue
		}
		s := store.IncidentSummary{
			IncidentID:  i.IncidentID,
			State:       string(i.State),
			Severity:    string(i.Severity),
			Org:         i.Org,
			ActorID:     i.ActorID,
			DetectedAt:  resultTime(i.DetectedAt),
			AwareAt:     resultTime(i.AwareAt),
			Alerts:      int64(len(i.AlertIDs)),
			ScopePeople: i.Scope.People,
			ScopeMinors: i.Scope.Minors,
			Transitions: int64(len(i.Transitions)),
		}
		for _, n := range m.notices {
			if n.IncidentID != i.IncidentID || !openNotice(n) {
				continue
			}
			s.OpenNotices++
			due := resultTime(n.DueAt)
			if s.NextDeadline.IsZero() || due.Before(s.NextDeadline) {
				s.NextDeadline = due
			}
			if due.Before(now) {
				s.Overdue++
			}
		}
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b store.IncidentSummary) int {
		return cmp.Or(-a.DetectedAt.Compare(b.DetectedAt), cmp.Compare(a.IncidentID, b.IncidentID))
	})
	if len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out
}

func (m *model) noticeProgress(q store.NoticeQuery) []store.NoticeProgress {
	now := msTime(q.Now)
	type key struct{ incident, channel string }
	rows := map[key]*store.NoticeProgress{}
	for _, n := range m.notices {
		if q.IncidentID != "" && n.IncidentID != q.IncidentID {
			continue
		}
		k := key{n.IncidentID, string(n.Channel)}
		r := rows[k]
		if r == nil {
			r = &store.NoticeProgress{IncidentID: k.incident, Channel: k.channel}
			rows[k] = r
		}
		r.Total++
		r.Attempts += int64(n.Attempts)
		switch n.State {
		case event.NoticePlanned:
			r.Planned++
		case event.NoticeApproved:
			r.Approved++
		case event.NoticeSending:
			r.Sending++
		case event.NoticeSent:
			r.Sent++
		case event.NoticeFailed:
			r.Failed++
		case event.NoticeSkipped:
			r.Skipped++
		}
		if openNotice(n) && resultTime(n.DueAt).Before(now) {
			r.Overdue++
		}
	}
	out := []store.NoticeProgress{}
	for _, r := range rows {
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b store.NoticeProgress) int {
		return cmp.Or(cmp.Compare(a.IncidentID, b.IncidentID), cmp.Compare(a.Channel, b.Channel))
	})
	return out
}

func (m *model) ingestRate(r store.TimeRange) []store.IngestMinute {
	type key struct {
		minute       time.Time
		source, kind string
	}
	counts := map[key]int64{}
	for _, e := range m.access {
		if within(e.ReceivedAt, r) {
			counts[key{floorTo(e.ReceivedAt.Time, time.Minute), e.Source, "access"}]++
		}
	}
	for _, e := range m.device {
		if within(e.ReceivedAt, r) {
			counts[key{floorTo(e.ReceivedAt.Time, time.Minute), e.Source, "device"}]++
		}
	}
	out := []store.IngestMinute{}
	for k, n := range counts {
		out = append(out, store.IngestMinute{Minute: k.minute, Source: k.source, Kind: k.kind, Events: n})
	}
	slices.SortFunc(out, func(a, b store.IngestMinute) int {
		return cmp.Or(a.Minute.Compare(b.Minute), cmp.Compare(a.Source, b.Source), cmp.Compare(a.Kind, b.Kind))
	})
	return out
}

func (m *model) deadLetterCounts(r store.TimeRange) []store.DeadLetterCount {
	type key struct{ reason, source string }
	rows := map[key]*store.DeadLetterCount{}
	for _, d := range m.dead {
		if !within(d.ReceivedAt, r) {
			continue
		}
		k := key{d.Reason, d.Source}
		c := rows[k]
		if c == nil {
			c = &store.DeadLetterCount{Reason: d.Reason, Source: d.Source}
			rows[k] = c
		}
		c.Count++
		c.Bytes += int64(d.RawBytes)
	}
	out := []store.DeadLetterCount{}
	for _, c := range rows {
		out = append(out, *c)
	}
	slices.SortFunc(out, func(a, b store.DeadLetterCount) int {
		return cmp.Or(-cmp.Compare(a.Count, b.Count), cmp.Compare(a.Reason, b.Reason), cmp.Compare(a.Source, b.Source))
	})
	return out
}

// scanEvents is ScanEvents: every access and device event with
// occurred_at in q's range (of q.Org when set), as the store restores
// them (times UTC at millisecond precision, categories sorted and unique,
// empty lists and maps absent), ordered by occurred_at, event_id, access
// before device.
func (m *model) scanEvents(q store.ScanQuery) []store.StoredEvent {
	type row struct {
		at   time.Time
		id   string
		kind int
		ev   store.StoredEvent
	}
	var rows []row
	for _, e := range m.access {
		if !within(e.OccurredAt, q.TimeRange) || (q.Org != "" && e.Org != q.Org) {
			continue
		}
		e.OccurredAt = event.Timestamp{Time: msTime(e.OccurredAt.Time)}
		e.ReceivedAt = event.Timestamp{Time: resultTime(e.ReceivedAt)}
		var cats []event.Category
		for _, c := range categoryList(e.Categories) {
			cats = append(cats, event.Category(c))
		}
		e.Categories = cats
		if len(e.Attrs) == 0 {
			e.Attrs = nil
		}
		rows = append(rows, row{e.OccurredAt.Time, e.EventID, 0, store.StoredEvent{Access: &e}})
	}
	for _, e := range m.device {
		if !within(e.OccurredAt, q.TimeRange) || (q.Org != "" && e.Org != q.Org) {
			continue
		}
		e.OccurredAt = event.Timestamp{Time: msTime(e.OccurredAt.Time)}
		e.ReceivedAt = event.Timestamp{Time: resultTime(e.ReceivedAt)}
		if len(e.Attrs) == 0 {
			e.Attrs = nil
		}
		rows = append(rows, row{e.OccurredAt.Time, e.EventID, 1, store.StoredEvent{Device: &e}})
	}
	slices.SortFunc(rows, func(a, b row) int {
		return cmp.Or(byTimeThenID(a.at, a.id, b.at, b.id), cmp.Compare(a.kind, b.kind))
	})
	out := make([]store.StoredEvent, len(rows))
	for i, r := range rows {
		out[i] = r.ev
	}
	return out
}

// alertIDs is AlertIDs: the ids of the alerts whose window_start is in r,
// sorted.
func (m *model) alertIDs(r store.TimeRange) []string {
	ids := []string{}
	for _, a := range m.alerts {
		if within(a.WindowStart, r) {
			ids = append(ids, a.AlertID)
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}
