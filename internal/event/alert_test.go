package event_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/vigil-audit/vigil/internal/event"
)

func TestAlertStatusProblems(t *testing.T) {
	for _, tc := range []struct {
		name       string
		status     event.AlertStatus
		reason, by string
		want       []string
	}{
		{name: "open", status: event.AlertOpen},
		{name: "open with a reason", status: event.AlertOpen, reason: "reopened", by: "analyst-1"},
		{name: "closed", status: event.AlertClosedFalsePositive, reason: "scheduled audit export", by: "analyst-1"},
		{name: "escalated", status: event.AlertEscalated, reason: "incident INC-1", by: "notifier"},
		{name: "no reason", status: event.AlertClosedAuthorized, by: "analyst-1",
			want: []string{"status_reason: required when status is closed_authorized"}},
		{name: "blank author", status: event.AlertClosedDuplicate, reason: "dup", by: "  ",
			want: []string{"status_by: required when status is closed_duplicate"}},
		{name: "neither", status: event.AlertClosedFalsePositive, want: []string{
			"status_reason: required when status is closed_false_positive",
			"status_by: required when status is closed_false_positive"}},
		{name: "unknown", status: "closed", reason: "x", by: "y",
			want: []string{`status: "closed" is not one of open|escalated|closed_false_positive|closed_authorized|closed_duplicate`}},
		{name: "empty", status: "", want: []string{`status: "" is not one of open|escalated|closed_false_positive|closed_authorized|closed_duplicate`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := event.Alert{AlertID: "a1", Status: tc.status, StatusReason: tc.reason, StatusBy: tc.by}
			got := a.StatusProblems().Strings()
			if len(got) == 0 {
				got = nil
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("StatusProblems = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestAlertStatusJSON: the reason and author are on the wire only when
// set, under status_reason and status_by, and survive a round trip.
func TestAlertStatusJSON(t *testing.T) {
	open := event.Alert{AlertID: "a1", Status: event.AlertOpen}
	b, err := json.Marshal(open)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "status_reason") || strings.Contains(string(b), "status_by") {
		t.Errorf("open alert encodes empty status fields: %s", b)
	}
	closed := event.Alert{AlertID: "a1", Status: event.AlertClosedFalsePositive, StatusReason: "drill", StatusBy: "analyst-1"}
	b, err = json.Marshal(closed)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"status":"closed_false_positive"`, `"status_reason":"drill"`, `"status_by":"analyst-1"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("encoding %s lacks %s", b, want)
		}
	}
	var back event.Alert
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.StatusReason != "drill" || back.StatusBy != "analyst-1" || back.Status != event.AlertClosedFalsePositive {
		t.Errorf("round trip: %+v", back)
	}
}
