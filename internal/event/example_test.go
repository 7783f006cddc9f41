package event_test

import (
	"fmt"
	"time"

	"github.com/vigil-audit/vigil/internal/event"
)

func ExampleDecodeAccess() {
	e, problems := event.DecodeAccess([]byte(`{
		"occurred_at": "2026-11-20T17:30:00.123456+08:00",
		"org": "hosp-1",
		"actor": {"id": "staff-42", "type": "doctor"},
		"action": "read",
		"subject": {"id": "pt-9", "type": "patient"},
		"categories": ["health"],
		"outcome": "success"
	}`))
	if len(problems) > 0 {
		fmt.Println(problems)
		return
	}
	fmt.Println(e.OccurredAt, e.Actor.ID, e.Action, e.Categories, e.Relationship)
	// Output: 2026-11-20T09:30:00.123Z staff-42 read [health] unknown
}

func ExampleDecodeAccess_problems() {
	_, problems := event.DecodeAccess([]byte(`{
		"occurred_at": "yesterday",
		"org": "hosp-1",
		"actor": {"id": "staff-42", "type": "doctor", "badge": "B-7"},
		"action": "exfil",
		"subject": {"type": "patient"},
		"categories": ["health", "dna"],
		"record_count": "12",
		"outcome": "success"
	}`))
	for _, p := range problems {
		fmt.Println(p)
	}
	// Output:
	// action: "exfil" is not one of read|search|export|print|download|update|delete|share|login|break_glass
	// actor.badge: unknown field
	// categories[1]: "dna" is not one of id_number|biometric|health|prescription|location|contact|device_id|chat|financial|account|minor_data
	// occurred_at: not RFC 3339
	// record_count: wrong type: want integer, got string
	// subject.id: required
}

func ExampleDecodeDevice() {
	e, problems := event.DecodeDevice([]byte(`{"occurred_at":"2026-11-20T09:30:00Z","org":"app-1",
		"account_id":"acct-1","device_id":"dev-1","kind":"login",
		"signals":{"emulator":true,"hook_framework":true},"outcome":"denied"}`))
	fmt.Println(problems.Err(), e.Kind, e.Signals.Emulator, e.Signals.Rooted)
	// Output: <nil> login true false
}

func ExampleValidator() {
	v := event.Validator{
		Now:           func() time.Time { return time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC) },
		MaxFutureSkew: 5 * time.Minute,
	}
	_, problems := v.DecodeDevice([]byte(`{"occurred_at":"2026-11-28T10:00:00Z","org":"app-1",
		"account_id":"acct-1","device_id":"dev-1","kind":"payment","outcome":"success"}`))
	fmt.Println(problems)
	// Output: occurred_at: more than 5m0s in the future
}

func ExampleValidateAccess() {
	// An event built in code, as the simulator does, must be complete:
	// the fields the collector sets are required on the bus.
	e := event.AccessEvent{
		OccurredAt:   event.NewTimestamp(time.Date(2026, 11, 28, 9, 30, 0, 0, time.UTC)),
		Org:          "hosp-1",
		Actor:        event.Actor{ID: "staff-42", Type: event.ActorDoctor},
		Action:       event.ActionRead,
		Subject:      event.Subject{ID: "pt-9", Type: event.SubjectPatient},
		Categories:   []event.Category{event.CategoryHealth},
		Relationship: event.RelationshipTrue,
		Outcome:      event.OutcomeSuccess,
	}
	v := event.Validator{MaxFutureSkew: -1}
	fmt.Println(v.ValidateAccess(e))
	// Output: event_id: required; received_at: required; source: required
}

func ExampleAlertID() {
	w := time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)
	fmt.Println(event.AlertID("bulk-export", "hosp-1/staff-42", w))
	// The same instant in another zone is the same window.
	fmt.Println(event.AlertID("bulk-export", "hosp-1/staff-42", w.In(time.FixedZone("CST", 8*3600))))
	// Output:
	// c26a6fdaeee61830e7d77d6dae2d0a48
	// c26a6fdaeee61830e7d77d6dae2d0a48
}

func ExampleNoticeID() {
	fmt.Println(event.NoticeID("inc-1", "tok-abc", "pipl.art57.individual"))
	// Output: a3c4931ef29359296d0fa0ee7552c1ea
}

func ExampleTimestamp() {
	ts, err := event.ParseTimestamp("2026-11-28T17:30:00.123999+08:00")
	fmt.Println(ts, err)
	_, err = event.ParseTimestamp("2026-11-28 09:30")
	fmt.Println(err)
	// Output:
	// 2026-11-28T09:30:00.123Z <nil>
	// event: timestamp "2026-11-28 09:30": not RFC 3339
}

func ExampleSchema() {
	schema := event.Schema(event.SchemaAccess)
	fmt.Println(len(schema) > 0, string(schema[:1]))
	// Output: true {
}
