package storetest

import (
	"time"

	"github.com/vigil-audit/vigil/internal/event"
	"github.com/vigil-audit/vigil/internal/store"
)

// The fixture's day: most records fall on 2026-03-02 between 10:00 and
// 12:00 UTC, the window most queries ask about (window below). A few sit
// just outside it, on its boundaries, on the previous day and in the
// previous month (ClickHouse partitions by month).
const day = "2026-03-02T"

// window is [10:00, 12:00) on the fixture's day.
var window = store.TimeRange{From: at("10:00:00.000"), To: at("12:00:00.000")}

// at returns the instant hh:mm:ss.mmm UTC of the fixture's day.
func at(clock string) time.Time { return ts(day + clock + "Z") }

// ts parses an RFC 3339 instant of the fixture; it panics on a typo, which
// the package's own tests would hit first.
func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic("storetest: bad fixture time " + s)
	}
	return t.UTC()
}

func stamp(t time.Time) event.Timestamp { return event.NewTimestamp(t) }

// Actors. Actor ids are unique within an org only: doc-1 exists in both.
var (
	docA   = event.Actor{ID: "doc-1", Type: event.ActorDoctor, Role: "attending", Department: "cardiology"}
	nurseA = event.Actor{ID: "nurse-2", Type: event.ActorStaff, Role: "nurse", Department: "cardiology"}
	adminA = event.Actor{ID: "admin-9", Type: event.ActorAdmin, Role: "it", Department: "it-ops"}
	pharmA = event.Actor{ID: "pharm-5", Type: event.ActorStaff, Role: "pharmacist", Department: "pharmacy"}
	docB   = event.Actor{ID: "doc-1", Type: event.ActorDoctor, Role: "resident", Department: "emergency"}
	svcB   = event.Actor{ID: "svc-export", Type: event.ActorService}
)

// Subjects (tokens, as the collector stores them).
var (
	patient1 = event.Subject{ID: "subj-p1", Type: event.SubjectPatient}
	minor2   = event.Subject{ID: "subj-p2", Type: event.SubjectPatient, Minor: true}
	user3    = event.Subject{ID: "subj-u3", Type: event.SubjectUser, VIP: true}
	doctor4  = event.Subject{ID: "subj-d4", Type: event.SubjectDoctor, Employee: true}
	noone    = event.Subject{} // logins touch no subject
)

type (
	cats = []event.Category
)

// accessRow is the part of an access event that queries read; the rest is
// filled by access() so that backends store complete events.
type accessRow struct {
	id       string
	occurred time.Time
	received time.Time
	source   string
	org      string
	actor    event.Actor
	action   event.Action
	subject  event.Subject
	cats     cats
	records  int64
	purpose  string
	rel      event.Relationship
	outcome  event.Outcome
}

const (
	ms  = time.Millisecond
	sec = time.Second
)

var (
	health       = event.CategoryHealth
	contact      = event.CategoryContact
	minorData    = event.CategoryMinorData
	idNumber     = event.CategoryIDNumber
	biometric    = event.CategoryBiometric
	prescription = event.CategoryPrescription
	deviceID     = event.CategoryDeviceID
	chat         = event.CategoryChat
	account      = event.CategoryAccount
	location     = event.CategoryLocation
	financial    = event.CategoryFinancial
)

// accessRows are the fixture's access events. Ids do not follow time, so
// that ordering by event_id and ordering by insertion differ; evt-b and
// evt-a share a millisecond, as do evt-g and evt-f.
var accessRows = []accessRow{
	// Just before the window: excluded by From, but received inside it.
	{"evt-k", at("09:59:59.999"), at("10:00:00.100"), "ehr", "org-a", docA, event.ActionRead, patient1, cats{health}, 1, "treatment", event.RelationshipTrue, event.OutcomeSuccess},
	// Exactly at From, two events in the same millisecond.
	{"evt-b", at("10:00:00.000"), at("10:00:00.250"), "ehr", "org-a", docA, event.ActionRead, patient1, cats{health, contact}, 1, "treatment", event.RelationshipTrue, event.OutcomeSuccess},
	{"evt-a", at("10:00:00.000"), at("10:00:00.251"), "ehr", "org-a", nurseA, event.ActionRead, patient1, cats{contact}, 1, "scheduling", event.RelationshipTrue, event.OutcomeSuccess},
	{"evt-q", at("10:05:00.000"), at("10:05:01.000"), "ehr", "org-a", nurseA, event.ActionRead, minor2, cats{minorData}, 1, "", event.RelationshipUnknown, event.OutcomeSuccess},
	// One millisecond apart.
	{"evt-d", at("10:15:30.123"), at("10:15:30.500"), "ehr", "org-a", docA, event.ActionExport, minor2, cats{minorData, health, idNumber}, 50, "referral", event.RelationshipFalse, event.OutcomeSuccess},
	{"evt-c", at("10:15:30.124"), at("10:15:30.501"), "ehr", "org-a", docA, event.ActionSearch, patient1, cats{health}, 12, "treatment", event.RelationshipTrue, event.OutcomeDenied},
	{"evt-o", at("10:20:00.000"), at("10:20:00.000"), "admin-console", "org-a", adminA, event.ActionLogin, noone, nil, 0, "", event.RelationshipUnknown, event.OutcomeSuccess},
	{"evt-p", at("10:20:00.000"), at("10:20:00.999"), "admin-console", "org-a", adminA, event.ActionUpdate, user3, cats{account}, 1, "support ticket", event.RelationshipUnknown, event.OutcomeError},
	{"evt-r", at("10:40:00.007"), at("10:40:02.000"), "ehr", "org-b", docB, event.ActionBreakGlass, minor2, cats{location, health}, 3, "emergency", event.RelationshipFalse, event.OutcomeSuccess},
	// A pharmacist ties org-b's actors on subjects and events (org breaks
	// the tie) and admin-9 on sensitive events (actor id breaks it).
	{"evt-t", at("10:30:00.000"), at("10:30:00.020"), "pharmacy", "org-a", pharmA, event.ActionRead, patient1, cats{prescription}, 1, "dispensing", event.RelationshipTrue, event.OutcomeSuccess},
	{"evt-u", at("10:31:00.000"), at("10:31:00.020"), "pharmacy", "org-a", pharmA, event.ActionRead, user3, cats{contact}, 1, "dispensing", event.RelationshipTrue, event.OutcomeSuccess},
	// Last millisecond of hour 10 and first of hour 11.
	{"evt-e", at("10:59:59.999"), at("11:00:00.000"), "ehr", "org-a", docA, event.ActionRead, user3, cats{biometric}, 1, "identity check", event.RelationshipTrue, event.OutcomeSuccess},
	{"evt-g", at("11:00:00.000"), at("11:00:00.010"), "ehr", "org-a", docA, event.ActionRead, patient1, cats{prescription, health}, 2, "treatment", event.RelationshipTrue, event.OutcomeSuccess},
	{"evt-f", at("11:00:00.000"), at("11:00:00.010"), "ehr", "org-a", docA, event.ActionLogin, noone, nil, 0, "", event.RelationshipUnknown, event.OutcomeSuccess},
	{"evt-s", at("11:10:00.000"), at("11:10:00.300"), "billing", "org-a", nurseA, event.ActionPrint, patient1, cats{financial}, 1, "invoice", event.RelationshipTrue, event.OutcomeSuccess},
	// The same actor id and the same subject in another org.
	{"evt-h", at("11:30:00.500"), at("11:30:00.900"), "ehr", "org-b", docB, event.ActionRead, patient1, cats{health}, 1, "consult", event.RelationshipTrue, event.OutcomeSuccess},
	// Only non-sensitive categories.
	{"evt-i", at("11:45:00.000"), at("11:45:00.000"), "exporter", "org-b", svcB, event.ActionExport, minor2, cats{contact, deviceID}, 1000, "sync", event.RelationshipUnknown, event.OutcomeSuccess},
	{"evt-j", at("11:45:00.001"), at("11:45:00.001"), "exporter", "org-b", svcB, event.ActionExport, user3, cats{contact}, 1000, "sync", event.RelationshipUnknown, event.OutcomeSuccess},
	// A repeated category (validated events never have one; the store
	// still lists and counts it once) and the last millisecond of the window.
	{"evt-l", at("11:59:59.999"), at("12:00:00.000"), "ehr", "org-a", nurseA, event.ActionRead, doctor4, cats{chat, contact, chat}, 1, "", event.RelationshipFalse, event.OutcomeDenied},
	// Exactly at To: excluded.
	{"evt-m", at("12:00:00.000"), at("12:00:00.200"), "ehr", "org-a", docA, event.ActionRead, patient1, cats{health}, 1, "treatment", event.RelationshipTrue, event.OutcomeSuccess},
	// The previous month.
	{"evt-n", ts("2026-02-28T23:59:59.999Z"), ts("2026-03-01T00:00:00.004Z"), "ehr", "org-a", docA, event.ActionRead, patient1, cats{health}, 1, "treatment", event.RelationshipTrue, event.OutcomeSuccess},
}

func access(r accessRow) event.AccessEvent {
	lat, lon := 31.23, 121.47
	e := event.AccessEvent{
		EventID:      r.id,
		OccurredAt:   stamp(r.occurred),
		ReceivedAt:   stamp(r.received),
		Source:       r.source,
		Org:          r.org,
		Actor:        r.actor,
		Action:       r.action,
		Subject:      r.subject,
		Categories:   r.cats,
		RecordCount:  r.records,
		Purpose:      r.purpose,
		Relationship: r.rel,
		Outcome:      r.outcome,
		Client: event.Client{
			IP:        "10.0.0.7",
			UserAgent: "Mozilla/5.0",
			DeviceID:  "tok-dev-" + r.id,
			Geo:       event.Geo{Country: "CN", Region: "Shanghai", City: "Shanghai", Lat: &lat, Lon: &lon},
		},
		SessionID: "sess-" + r.actor.ID,
		RequestID: "req-" + r.id,
		Attrs:     map[string]string{"ward": "7", "terminal": "t-" + r.id},
	}
	if r.source == "exporter" {
		e.Client = event.Client{} // a service has no client details
		e.Attrs = nil
	}
	return e
}

// deviceEvents are the fixture's device events: only IngestRate reads
// them. d-4 occurred before the window but was received at its start.
func deviceEvents() []event.DeviceEvent {
	d := func(id string, occurred, received time.Time, source string, kind event.DeviceKind) event.DeviceEvent {
		return event.DeviceEvent{
			EventID:    id,
			OccurredAt: stamp(occurred),
			ReceivedAt: stamp(received),
			Source:     source,
			Org:        "org-a",
			AccountID:  "tok-acct-1",
			DeviceID:   "tok-dev-1",
			Kind:       kind,
			Device:     event.Device{Model: "SM-G9910", OS: "android", OSVersion: "14", AppVersion: "5.2.0"},
			Signals:    event.Signals{Rooted: true, ProxyOrVPN: true},
			Network:    event.Network{IP: "203.0.113.9", Carrier: "46001", WiFiBSSID: "tok-bssid-1"},
			Location:   &event.Location{Lat: 31.2, Lon: 121.5, AccuracyM: 1000},
			Outcome:    event.OutcomeSuccess,
			Attrs:      map[string]string{"sdk": "3.1"},
		}
	}
	evs := []event.DeviceEvent{
		d("dev-evt-1", at("10:00:00.000"), at("10:00:00.900"), "risk-sdk", event.KindLogin),
		d("dev-evt-2", at("10:00:59.999"), at("10:01:00.000"), "risk-sdk", event.KindFaceVerify),
		d("dev-evt-3", at("11:59:59.000"), at("12:00:00.000"), "risk-sdk", event.KindPayment),
		d("dev-evt-4", at("09:59:59.999"), at("10:00:00.000"), "risk-sdk", event.KindLogin),
		d("dev-evt-5", at("10:15:30.000"), at("10:15:30.600"), "ehr", event.KindSIMChange),
	}
	evs[1].Location = nil
	evs[1].Outcome = event.OutcomeFailure
	return evs
}

// deadLetters are the fixture's dead letters. dl-6 (at To) and dl-7 (before
// From) fall outside the window.
func deadLetters() []event.DeadLetter {
	d := func(id string, received time.Time, source, reason string, rawBytes int) event.DeadLetter {
		return event.DeadLetter{
			DeadLetterID: id,
			ReceivedAt:   stamp(received),
			Source:       source,
			Receiver:     "http",
			Kind:         "access",
			Reason:       reason,
			Problems:     []string{"/actor/id: missing"},
			Location:     "line 1",
			Raw:          `{"org":"org-a"}`,
			RawBytes:     rawBytes,
		}
	}
	dls := []event.DeadLetter{
		d("dl-1", at("10:00:00.000"), "ehr", event.ReasonInvalidEvent, 120),
		d("dl-2", at("10:30:00.000"), "ehr", event.ReasonInvalidEvent, 80),
		d("dl-3", at("10:31:00.000"), "ehr", event.ReasonNotJSON, 5000),
		d("dl-4", at("11:00:00.000"), "", event.ReasonTooLarge, 2_000_000),
		d("dl-5", at("11:59:59.999"), "admin-console", event.ReasonInvalidEvent, 64),
		d("dl-6", at("12:00:00.000"), "ehr", event.ReasonInvalidEvent, 10),
		d("dl-7", at("09:59:59.999"), "syslog-relay", event.ReasonSyslogParse, 300),
		d("dl-8", at("11:20:00.000"), "billing", event.ReasonNotJSON, 7),
	}
	dls[2].Truncated = true
	dls[2].Problems = []string{"invalid character 'x' looking for beginning of value"}
	dls[3].Receiver = "syslog"
	dls[3].Location = "192.0.2.1:514"
	dls[6].Receiver = "syslog"
	dls[4].EventID = "evt-bad-5"
	return dls
}

// alert returns one version of an alert; the id is the detector's
// deterministic one.
func alert(rule, group string, windowStart time.Time, sev event.Severity, status event.AlertStatus, count int64) event.Alert {
	return event.Alert{
		AlertID:          event.AlertID(rule, group, windowStart),
		RuleID:           rule,
		RuleTitle:        "title of " + rule,
		Severity:         sev,
		GroupKey:         group,
		WindowStart:      stamp(windowStart),
		WindowEnd:        stamp(windowStart.Add(5 * time.Minute)),
		FirstSeen:        stamp(windowStart.Add(10 * sec)),
		LastSeen:         stamp(windowStart.Add(20 * sec)),
		Count:            count,
		DistinctSubjects: 1,
		Categories:       cats{health},
		Evidence:         []string{"evt-d"},
		Explanation:      "actor tok touched data",
		ActorID:          "doc-1",
		Org:              "org-a",
		Status:           status,
	}
}

// alertVersions lists every alert version in write order, split in the
// three batches the fixture writes (see Batches).
func alertVersions() [3][]store.Versioned[event.Alert] {
	v := func(version uint64, a event.Alert) store.Versioned[event.Alert] {
		return store.Versioned[event.Alert]{Version: version, Value: a}
	}
	minorAccess := func(sev event.Severity, status event.AlertStatus, count int64) event.Alert {
		return alert("minor-access", "org-a/doc-1", at("10:05:00.000"), sev, status, count)
	}
	bulkExport := func(sev event.Severity, status event.AlertStatus) event.Alert {
		a := alert("bulk-export", "org-b/svc-export", at("11:45:00.000"), sev, status, 2)
		a.ActorID, a.Org = "svc-export", "org-b"
		return a
	}
	return [3][]store.Versioned[event.Alert]{
		{
			v(10, minorAccess(event.SeverityHigh, event.AlertOpen, 1)),
			v(11, alert("minor-access", "org-b/doc-1", at("10:07:30.000"), event.SeverityHigh, event.AlertOpen, 1)),
			v(12, bulkExport(event.SeverityCritical, event.AlertOpen)),
			v(9, alert("bulk-export", "org-a/doc-1", ts("2026-03-01T23:55:00.000Z"), event.SeverityHigh, event.AlertOpen, 7)),
		},
		{
			// The newest state of minor-access org-a/doc-1.
			v(20, minorAccess(event.SeverityHigh, event.AlertEscalated, 3)),
			// bulk-export is downgraded and closed.
			v(30, bulkExport(event.SeverityMedium, event.AlertClosedAuthorized)),
			// Exactly at To, and exactly at From.
			v(13, alert("after-hours", "org-a/nurse-2", at("12:00:00.000"), event.SeverityLow, event.AlertOpen, 5)),
			v(14, alert("after-hours", "org-a/doc-1", at("10:00:00.000"), event.SeverityLow, event.AlertOpen, 4)),
			v(15, alert("after-hours", "org-a/admin-9", at("10:04:59.999"), event.SeverityLow, event.AlertOpen, 6)),
		},
		{
			// An older state written after the newer one (v20): ignored.
			v(16, minorAccess(event.SeverityMedium, event.AlertOpen, 2)),
			// The newest state again (redelivery).
			v(30, bulkExport(event.SeverityMedium, event.AlertClosedAuthorized)),
		},
	}
}

// transition builds one state change of an incident.
func transition(from, to event.IncidentState, when time.Time) event.Transition {
	by := "tok-operator-1"
	if from == "" {
		by = "system"
	}
	return event.Transition{From: from, To: to, At: stamp(when), By: by, Reason: "fixture"}
}

// incident returns the state of an incident after its transitions.
func incident(id string, detected, aware time.Time, sev event.Severity, org, actor string, people, minors int64, ts ...event.Transition) event.Incident {
	inc := event.Incident{
		IncidentID:  id,
		State:       ts[len(ts)-1].To,
		DetectedAt:  stamp(detected),
		AlertIDs:    []string{event.AlertID("minor-access", org+"/"+actor, detected.Truncate(time.Hour))},
		ActorID:     actor,
		Org:         org,
		Severity:    sev,
		Transitions: ts,
		Scope: event.Scope{
			People:        people,
			Minors:        minors,
			Categories:    cats{health, minorData},
			Jurisdictions: []string{"pipl"},
		},
	}
	if !aware.IsZero() {
		inc.AwareAt = stamp(aware)
	}
	return inc
}

// incidentVersions lists every incident version in the fixture's three
// batches.
func incidentVersions() [3][]store.Versioned[event.Incident] {
	v := func(version uint64, i event.Incident) store.Versioned[event.Incident] {
		return store.Versioned[event.Incident]{Version: version, Value: i}
	}
	var none time.Time
	det1 := at("10:06:00.000")
	t1 := []event.Transition{
		transition("", event.IncidentDetected, det1),
		transition(event.IncidentDetected, event.IncidentTriage, at("10:20:00.000")),
		transition(event.IncidentTriage, event.IncidentConfirmed, at("10:30:00.000")),
	}
	inc1 := func(n int, aware time.Time) event.Incident {
		return incident("inc-1", det1, aware, event.SeverityHigh, "org-a", "doc-1", 2, 1, t1[:n]...)
	}
	det2 := at("11:46:00.000")
	t2 := []event.Transition{
		transition("", event.IncidentDetected, det2),
		transition(event.IncidentDetected, event.IncidentDismissed, at("11:50:00.000")),
	}
	inc2 := func(n int) event.Incident {
		return incident("inc-2", det2, none, event.SeverityMedium, "org-b", "svc-export", 2, 1, t2[:n]...)
	}
	// inc-3 was detected in the same millisecond as inc-1.
	inc3 := incident("inc-3", det1, at("10:10:00.000"), event.SeverityCritical, "org-b", "doc-1", 1500, 12,
		transition("", event.IncidentDetected, det1),
		transition(event.IncidentDetected, event.IncidentConfirmed, at("10:10:00.000")),
		transition(event.IncidentConfirmed, event.IncidentContained, at("10:45:00.000")),
		transition(event.IncidentContained, event.IncidentNotifying, at("11:00:00.000")),
	)
	inc3.AlertIDs = append(inc3.AlertIDs, event.AlertID("minor-access", "org-b/doc-1", at("10:07:30.000")))
	det4 := ts("2026-02-20T08:00:00.000Z")
	inc4 := incident("inc-4", det4, ts("2026-02-20T09:00:00.000Z"), event.SeverityLow, "org-a", "nurse-2", 1, 0,
		transition("", event.IncidentDetected, det4),
		transition(event.IncidentDetected, event.IncidentConfirmed, ts("2026-02-20T09:00:00.000Z")),
		transition(event.IncidentConfirmed, event.IncidentContained, ts("2026-02-20T10:00:00.000Z")),
		transition(event.IncidentContained, event.IncidentNotifying, ts("2026-02-21T10:00:00.000Z")),
		transition(event.IncidentNotifying, event.IncidentReported, ts("2026-02-22T10:00:00.000Z")),
		transition(event.IncidentReported, event.IncidentClosed, ts("2026-02-25T10:00:00.000Z")),
	)
	inc4.ActorID = "" // an incident not tied to one actor
	return [3][]store.Versioned[event.Incident]{
		{v(100, inc1(1, none)), v(101, inc2(1)), v(102, inc3)},
		{v(110, inc1(2, none)), v(120, inc1(3, at("10:30:00.000"))), v(130, inc2(2)), v(90, inc4)},
		{v(105, inc1(2, none)), v(102, inc3)}, // older inc-1 after the newer; inc-3 redelivered
	}
}

// notice returns one state of a notice.
func notice(incidentID, recipient, obligation string, kind event.RecipientKind, ch event.Channel, due time.Time,
	state event.NoticeState, attempts int) event.Notice {
	n := event.Notice{
		NoticeID:       event.NoticeID(incidentID, recipient, obligation),
		IncidentID:     incidentID,
		Obligation:     obligation,
		Regime:         "pipl",
		RecipientToken: recipient,
		RecipientKind:  kind,
		Channel:        ch,
		Language:       "zh-CN",
		DueAt:          stamp(due),
		State:          state,
		Attempts:       attempts,
	}
	switch state {
	case event.NoticeSent:
		n.SentAt = stamp(due.Add(-time.Hour))
		n.MessageID = "msg-" + recipient
	case event.NoticeFailed:
		n.LastError = "smtp 550"
	}
	return n
}

// noticeVersions lists every notice version in the fixture's three
// batches. The fixture's "now" is 12:00:00.000 (see now): n3 is due exactly
// then (not overdue), n4 one millisecond before (overdue).
func noticeVersions() [3][]store.Versioned[event.Notice] {
	v := func(version uint64, n event.Notice) store.Versioned[event.Notice] {
		return store.Versioned[event.Notice]{Version: version, Value: n}
	}
	const ind = "pipl.art57.individual"
	n1 := func(state event.NoticeState, attempts int) event.Notice {
		return notice("inc-1", "tok-p1", ind, event.RecipientIndividual, event.ChannelEmail, ts("2026-03-03T10:30:00.000Z"), state, attempts)
	}
	n2 := func(state event.NoticeState, attempts int) event.Notice {
		return notice("inc-1", "tok-g2", "pipl.art57.guardian", event.RecipientGuardian, event.ChannelSMS, at("11:00:00.000"), state, attempts)
	}
	n3 := notice("inc-1", "tok-cac", "pipl.art57.regulator", event.RecipientRegulator, event.ChannelEmail, at("12:00:00.000"), event.NoticeApproved, 0)
	n4 := notice("inc-1", "tok-u3", ind, event.RecipientIndividual, event.ChannelEmail, at("11:59:59.999"), event.NoticePlanned, 0)
	n5 := notice("inc-3", "public", "pipl.art57.public", event.RecipientPublic, event.ChannelPublicAnnouncement, ts("2026-03-05T00:00:00.000Z"), event.NoticeSkipped, 0)
	n6 := notice("inc-3", "tok-p2", ind, event.RecipientIndividual, event.ChannelPush, ts("2026-03-04T00:00:00.000Z"), event.NoticeSending, 2)
	n7 := notice("inc-9", "tok-x", ind, event.RecipientIndividual, event.ChannelLetter, ts("2026-03-10T00:00:00.000Z"), event.NoticePlanned, 0)
	// n8 moves from e-mail to SMS between versions: the latest channel counts.
	n8 := func(ch event.Channel, state event.NoticeState, attempts int) event.Notice {
		return notice("inc-1", "tok-d4", ind, event.RecipientIndividual, ch, ts("2026-03-02T13:00:00.000Z"), state, attempts)
	}
	n9 := notice("inc-3", "tok-p1", ind, event.RecipientIndividual, event.ChannelPush, ts("2026-03-01T00:00:00.000Z"), event.NoticeSent, 1)
	return [3][]store.Versioned[event.Notice]{
		{v(200, n1(event.NoticePlanned, 0)), v(201, n2(event.NoticePlanned, 0)), v(202, n3), v(208, n8(event.ChannelEmail, event.NoticePlanned, 0))},
		{v(210, n1(event.NoticeSending, 1)), v(211, n2(event.NoticeFailed, 3)), v(220, n1(event.NoticeSent, 1)),
			v(203, n4), v(204, n5), v(206, n6), v(207, n7), v(212, n8(event.ChannelSMS, event.NoticeSending, 1)), v(209, n9)},
		{v(205, n1(event.NoticeApproved, 0)), v(211, n2(event.NoticeFailed, 3))}, // older n1 after the newer; n2 redelivered
	}
}

// Batches returns the fixture as the sink would write it, in write order:
// every event and dead letter is written twice, in separate batches (and
// one event twice within a batch); alerts, incidents and notices are
// written in several versions, some older version after a newer one, and
// some version twice. The slice and its batches are new on each call.
func Batches() []*store.Batch {
	var acc []event.AccessEvent
	for _, r := range accessRows {
		acc = append(acc, access(r))
	}
	dev, dls := deviceEvents(), deadLetters()
	alerts, incidents, notices := alertVersions(), incidentVersions(), noticeVersions()
	half := len(acc) / 2
	return []*store.Batch{
		{
			Access:      append(acc[:half:half], acc[0]), // acc[0] twice in one batch
			Device:      dev[:2],
			DeadLetters: dls[:4],
			Alerts:      alerts[0],
			Incidents:   incidents[0],
			Notices:     notices[0],
		},
		{},
		{
			Access:      acc[half:],
			Device:      dev[2:],
			DeadLetters: dls[4:],
			Alerts:      alerts[1],
			Incidents:   incidents[1],
			Notices:     notices[1],
		},
		{
			Access:      acc, // redelivery of everything
			Device:      dev,
			DeadLetters: dls,
			Alerts:      alerts[2],
			Incidents:   incidents[2],
			Notices:     notices[2],
		},
	}
}
