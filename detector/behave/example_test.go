package behave_test

import (
	"fmt"
	"time"

	"github.com/vigil-audit/vigil/detector"
	"github.com/vigil-audit/vigil/detector/behave"
	"github.com/vigil-audit/vigil/internal/event"
)

// A nurse reads a patient's health record without a care relationship
// and outside break-glass; the care_relationship behaviour fires.
func Example() {
	cfg := behave.Defaults()
	bs, err := behave.New(cfg)
	if err != nil {
		panic(err)
	}
	e := &event.AccessEvent{
		EventID:      "ev-1",
		OccurredAt:   event.NewTimestamp(time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)),
		Org:          "hosp-shanghai",
		Actor:        event.Actor{ID: "SHA-N00042", Type: event.ActorStaff, Role: "nurse", Department: "oncology"},
		Action:       event.ActionRead,
		Subject:      event.Subject{ID: "tok-3f9a", Type: event.SubjectPatient},
		Categories:   []event.Category{event.CategoryHealth},
		Relationship: event.RelationshipFalse,
		Outcome:      event.OutcomeSuccess,
	}
	for _, b := range bs {
		b.Access(e, func(f detector.Finding) {
			fmt.Println(f.RuleID, f.Severity, f.GroupKey, f.Evidence)
			fmt.Println(f.Explanation)
		})
	}
	// Output:
	// vigil.behaviour.care_relationship high hosp-shanghai/SHA-N00042 [ev-1]
	// This actor read the health data of a patient with whom it has no care relationship, outside any break-glass.
}
