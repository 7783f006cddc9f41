package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/vigil-audit/vigil/internal/event"
)

// Reader answers the questions dashboards, the console, exports and
// regulators ask of the store. Both backends implement it (ClickHouse, the
// system of record, and the embedded SQLite store of `vigil up`), and one
// contract suite (internal/store/storetest) holds them to the same results
// for the same inputs, so every rule below is part of the contract:
//
//   - Time ranges are half-open, [From, To), at millisecond precision, on
//     the time named by each query. From must be before To.
//   - Every record counts once, however many times it was written (Kafka
//     redelivery): events by event_id, dead letters by dead_letter_id, and
//     alerts, incidents and notices by id in their latest version (the
//     highest Version written).
//   - Times in results are UTC with millisecond precision; absent times are
//     the zero time.Time. Lists (categories) are sorted and unique.
//   - Results come in the order each method states, ties broken as stated,
//     so two backends return identical slices.
//
// Streaming methods call fn once per row, in order, without holding the
// result in memory; an error from fn stops the query and is returned as is.
type Reader interface {
	// SubjectHistory streams every access to one subject's data with
	// occurred_at in q's range, oldest first (ties by event_id): the basis
	// of "who looked at my records" answers.
	SubjectHistory(ctx context.Context, q SubjectQuery, fn func(*SubjectAccess) error) error
	// CountSubjectHistory is how many rows SubjectHistory would stream
	// (for progress bars).
	CountSubjectHistory(ctx context.Context, q SubjectQuery) (int64, error)

	// ActorHistory streams every event of one actor (org + actor id) with
	// occurred_at in q's range, oldest first (ties by event_id), logins
	// included.
	ActorHistory(ctx context.Context, q ActorQuery, fn func(*ActorAccess) error) error
	// CountActorHistory is how many rows ActorHistory would stream.
	CountActorHistory(ctx context.Context, q ActorQuery) (int64, error)
	// ActorActivity is what one actor touched per hour and data category:
	// one row per (hour of occurred_at, category) that has events, ordered
	// by hour then category. An event with several categories counts in
	// each; events without categories (logins) are not in it.
	ActorActivity(ctx context.Context, q ActorQuery) ([]ActorHour, error)

	// TopActors ranks actors over a window by q.By, at most q.Limit rows.
	TopActors(ctx context.Context, q TopActorsQuery) ([]TopActor, error)

	// AlertCounts counts alerts by bucket of window_start, rule and
	// severity, ordered by bucket, rule_id, severity.
	AlertCounts(ctx context.Context, q AlertCountsQuery) ([]AlertCount, error)

	// Incidents lists incidents with their state and nearest deadline,
	// newest detected_at first (ties by incident_id).
	Incidents(ctx context.Context, q IncidentQuery) ([]IncidentSummary, error)

	// NoticeProgress is notice delivery progress per incident and channel,
	// ordered by incident_id then channel.
	NoticeProgress(ctx context.Context, q NoticeQuery) ([]NoticeProgress, error)

	// IngestRate counts events per minute of received_at, source and kind
	// ("access", "device"), ordered by minute, source, kind.
	IngestRate(ctx context.Context, r TimeRange) ([]IngestMinute, error)
	// DeadLetterCounts counts dead letters with received_at in r by reason
	// and source, ordered by count descending, then reason, then source.
	DeadLetterCounts(ctx context.Context, r TimeRange) ([]DeadLetterCount, error)

	// ScanEvents and AlertIDs replay the store for backfills.
	EventScanner
}

// Store is a backend: it writes the sink's batches and answers queries.
type Store interface {
	Writer
	Reader
}

// ErrBadQuery is wrapped by the error of a query whose parameters are
// invalid (an empty id, From not before To, an unknown ranking); Check
// methods return it, and backends return it before touching the database.
var ErrBadQuery = errors.New("invalid query")

// TimeRange is the half-open interval [From, To).
type TimeRange struct {
	From time.Time
	To   time.Time
}

// Check reports a range that is empty or reversed, or has a zero end.
func (r TimeRange) Check() error {
	switch {
	case r.From.IsZero() || r.To.IsZero():
		return fmt.Errorf("%w: a time range needs both --from and --to", ErrBadQuery)
	case !r.From.Before(r.To):
		return fmt.Errorf("%w: time range from %s is not before to %s", ErrBadQuery,
			r.From.UTC().Format(time.RFC3339Nano), r.To.UTC().Format(time.RFC3339Nano))
	}
	return nil
}

// SubjectQuery selects one subject's accesses. SubjectID is the subject's
// token (what the collector stored), never a raw identifier.
type SubjectQuery struct {
	SubjectID string
	TimeRange
}

// Check validates q.
func (q SubjectQuery) Check() error {
	if q.SubjectID == "" {
		return fmt.Errorf("%w: subject id is empty", ErrBadQuery)
	}
	return q.TimeRange.Check()
}

// SubjectAccess is one row of a subject access history.
type SubjectAccess struct {
	EventID         string    `json:"event_id"`
	OccurredAt      time.Time `json:"occurred_at"`
	Org             string    `json:"org"`
	Source          string    `json:"source"`
	ActorID         string    `json:"actor_id"`
	ActorType       string    `json:"actor_type"`
	ActorRole       string    `json:"actor_role"`
	ActorDepartment string    `json:"actor_department"`
	Action          string    `json:"action"`
	SubjectType     string    `json:"subject_type"`
	Categories      []string  `json:"categories"`
	RecordCount     int64     `json:"record_count"`
	Purpose         string    `json:"purpose"`
	Relationship    string    `json:"relationship"`
	Outcome         string    `json:"outcome"`
}

// ActorQuery selects one actor's events. Actor ids are unique within an
// org only, so both are needed.
type ActorQuery struct {
	Org     string
	ActorID string
	TimeRange
}

// Check validates q.
func (q ActorQuery) Check() error {
	if q.Org == "" || q.ActorID == "" {
		return fmt.Errorf("%w: an actor query needs both org and actor id", ErrBadQuery)
	}
	return q.TimeRange.Check()
}

// ActorAccess is one event of an actor's history.
type ActorAccess struct {
	EventID         string    `json:"event_id"`
	OccurredAt      time.Time `json:"occurred_at"`
	ActorType       string    `json:"actor_type"`
	ActorRole       string    `json:"actor_role"`
	ActorDepartment string    `json:"actor_department"`
	Action          string    `json:"action"`
	SubjectID       string    `json:"subject_id"`
	SubjectType     string    `json:"subject_type"`
	SubjectMinor    bool      `json:"subject_minor"`
	Categories      []string  `json:"categories"`
	RecordCount     int64     `json:"record_count"`
	Relationship    string    `json:"relationship"`
	Outcome         string    `json:"outcome"`
}

// ActorHour is what an actor touched of one category in one hour.
type ActorHour struct {
	// Hour is the start of the UTC hour.
	Hour     time.Time `json:"hour"`
	Category string    `json:"category"`
	// Events is how many events touched the category.
	Events int64 `json:"events"`
	// Subjects is how many distinct non-empty subjects they touched.
	Subjects int64 `json:"subjects"`
	// Records is the sum of their record_count.
	Records int64 `json:"records"`
	// Denied is how many of them had outcome "denied".
	Denied int64 `json:"denied"`
}

// Ranking is what TopActors ranks by.
type Ranking string

// Rankings.
const (
	// BySubjects ranks by distinct subjects touched.
	BySubjects Ranking = "subjects"
	// BySensitive ranks by events that touched at least one sensitive
	// category (event.Category.Sensitive).
	BySensitive Ranking = "sensitive"
)

// TopActorsQuery ranks actors over a window of occurred_at. Org, when not
// empty, restricts to one tenant. Limit is 1 to 1000.
type TopActorsQuery struct {
	TimeRange
	Org   string
	By    Ranking
	Limit int
}

// MaxTopActors bounds TopActorsQuery.Limit.
const MaxTopActors = 1000

// Check validates q.
func (q TopActorsQuery) Check() error {
	if q.By != BySubjects && q.By != BySensitive {
		return fmt.Errorf("%w: unknown ranking %q (want %q or %q)", ErrBadQuery, q.By, BySubjects, BySensitive)
	}
	if q.Limit < 1 || q.Limit > MaxTopActors {
		return fmt.Errorf("%w: limit %d is outside 1..%d", ErrBadQuery, q.Limit, MaxTopActors)
	}
	return q.TimeRange.Check()
}

// TopActor is one actor's totals over the window. Rows are ordered by the
// ranking's figure descending (Subjects or SensitiveEvents), then Events
// descending, then org, then actor_id.
type TopActor struct {
	Org     string `json:"org"`
	ActorID string `json:"actor_id"`
	// Events counts all events of the actor in the window, logins included.
	Events int64 `json:"events"`
	// Subjects is how many distinct non-empty subjects they touched.
	Subjects int64 `json:"subjects"`
	// SensitiveEvents counts events touching a sensitive category.
	SensitiveEvents int64 `json:"sensitive_events"`
	// SensitiveSubjects is how many distinct subjects those events touched.
	SensitiveSubjects int64 `json:"sensitive_subjects"`
	// Records is the sum of record_count.
	Records int64 `json:"records"`
}

// AlertCountsQuery buckets alerts by window_start. Bucket is a whole number
// of minutes from one minute to one day that divides a day (1m, 5m, 1h,
// 1d…); buckets start at multiples of it from the Unix epoch.
type AlertCountsQuery struct {
	TimeRange
	Bucket time.Duration
}

// Check validates q.
func (q AlertCountsQuery) Check() error {
	if q.Bucket < time.Minute || q.Bucket > 24*time.Hour || q.Bucket%time.Minute != 0 ||
		(24*time.Hour)%q.Bucket != 0 {
		return fmt.Errorf("%w: bucket %s is not a whole number of minutes dividing a day", ErrBadQuery, q.Bucket)
	}
	return q.TimeRange.Check()
}

// AlertCount is how many distinct alerts one rule raised at one severity in
// one bucket, in their latest version.
type AlertCount struct {
	Bucket   time.Time `json:"bucket"`
	RuleID   string    `json:"rule_id"`
	Severity string    `json:"severity"`
	Alerts   int64     `json:"alerts"`
	// Open is how many of them have status "open".
	Open int64 `json:"open"`
	// Events is the sum of their counts.
	Events int64 `json:"events"`
}

// IncidentQuery selects incidents. States, when not empty, keeps only
// incidents whose latest state is one of them. Limit is 1 to 10000.
type IncidentQuery struct {
	States []string
	Limit  int
	// Now is the time deadlines are measured against (Overdue).
	Now time.Time
}

// MaxIncidents bounds IncidentQuery.Limit.
const MaxIncidents = 10000

// Check validates q.
func (q IncidentQuery) Check() error {
	if q.Limit < 1 || q.Limit > MaxIncidents {
		return fmt.Errorf("%w: limit %d is outside 1..%d", ErrBadQuery, q.Limit, MaxIncidents)
	}
	if q.Now.IsZero() {
		return fmt.Errorf("%w: incident query needs the current time", ErrBadQuery)
	}
	return nil
}

// IncidentSummary is one incident as the incident list shows it.
type IncidentSummary struct {
	IncidentID  string    `json:"incident_id"`
	State       string    `json:"state"`
	Severity    string    `json:"severity"`
	Org         string    `json:"org"`
	ActorID     string    `json:"actor_id"`
	DetectedAt  time.Time `json:"detected_at"`
	AwareAt     time.Time `json:"aware_at"`
	Alerts      int64     `json:"alerts"`
	ScopePeople int64     `json:"scope_people"`
	ScopeMinors int64     `json:"scope_minors"`
	// Transitions is the length of the state history.
	Transitions int64 `json:"transitions"`
	// OpenNotices counts the incident's notices not yet sent or skipped
	// (planned, approved, sending, failed).
	OpenNotices int64 `json:"open_notices"`
	// NextDeadline is the earliest due_at of the open notices; zero when
	// none is open.
	NextDeadline time.Time `json:"next_deadline"`
	// Overdue counts open notices whose due_at is before Now.
	Overdue int64 `json:"overdue"`
}

// NoticeQuery selects notices: one incident's, or all when IncidentID is
// empty.
type NoticeQuery struct {
	IncidentID string
	// Now is the time deadlines are measured against (Overdue).
	Now time.Time
}

// Check validates q.
func (q NoticeQuery) Check() error {
	if q.Now.IsZero() {
		return fmt.Errorf("%w: notice query needs the current time", ErrBadQuery)
	}
	return nil
}

// NoticeProgress counts one incident's notices on one channel by state.
type NoticeProgress struct {
	IncidentID string `json:"incident_id"`
	Channel    string `json:"channel"`
	Total      int64  `json:"total"`
	Planned    int64  `json:"planned"`
	Approved   int64  `json:"approved"`
	Sending    int64  `json:"sending"`
	Sent       int64  `json:"sent"`
	Failed     int64  `json:"failed"`
	Skipped    int64  `json:"skipped"`
	// Overdue counts notices not sent or skipped whose due_at is before
	// Now.
	Overdue int64 `json:"overdue"`
	// Attempts is the sum of delivery attempts.
	Attempts int64 `json:"attempts"`
}

// IngestMinute is how many events of one kind one source delivered in one
// minute of received_at.
type IngestMinute struct {
	Minute time.Time `json:"minute"`
	Source string    `json:"source"`
	Kind   string    `json:"kind"`
	Events int64     `json:"events"`
}

// DeadLetterCount is how many dead letters one source produced for one
// reason.
type DeadLetterCount struct {
	Reason string `json:"reason"`
	Source string `json:"source"`
	Count  int64  `json:"count"`
	// Bytes is the sum of raw_bytes (the size of the rejected inputs).
	Bytes int64 `json:"bytes"`
}

// EventScanner replays stored events for `vigil rules backfill`: the
// detector reads them as it reads the event topics. Both backends
// implement it, under the same contract rules as Reader (half-open ranges
// at millisecond precision, each event_id once however many copies were
// written).
type EventScanner interface {
	// ScanEvents streams every access and device event with occurred_at
	// in q's range (of q.Org only when it is not empty) in event-time
	// order: occurred_at, then event_id, then access before device.
	// Every field the event contract carries is restored, at the
	// millisecond precision the store keeps.
	ScanEvents(ctx context.Context, q ScanQuery, fn func(*StoredEvent) error) error
	// AlertIDs streams the distinct ids of the stored alerts whose
	// window_start is in r, in id order.
	AlertIDs(ctx context.Context, r TimeRange, fn func(id string) error) error
}

// ScanQuery selects the events ScanEvents streams.
type ScanQuery struct {
	TimeRange
	// Org, when not empty, restricts to one tenant.
	Org string
}

// Check validates q.
func (q ScanQuery) Check() error { return q.TimeRange.Check() }

// StoredEvent is one event of ScanEvents: exactly one of Access and Device
// is set. fn must not keep the pointers after it returns.
type StoredEvent struct {
	Access *event.AccessEvent `json:"access,omitempty"`
	Device *event.DeviceEvent `json:"device,omitempty"`
}

// Kind is "access" or "device".
func (e *StoredEvent) Kind() string {
	if e.Access != nil {
		return "access"
	}
	return "device"
}
