package event_test

import (
	"regexp"
	"testing"
	"time"

	"github.com/vigil-audit/vigil/internal/event"
)

func TestNewEventID(t *testing.T) {
	uuid4 := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := map[string]bool{}
	for range 1000 {
		id := event.NewEventID()
		if !uuid4.MatchString(id) {
			t.Fatalf("NewEventID() = %q, not a UUIDv4", id)
		}
		if seen[id] {
			t.Fatalf("NewEventID() repeated %q", id)
		}
		seen[id] = true
		if _, ps := testValidator.DecodeAccess([]byte(set(t, baseAccess, "event_id", id))); len(ps) != 0 {
			t.Fatalf("event_id %q rejected: %v", id, ps)
		}
	}
}

func TestAlertID(t *testing.T) {
	w := time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)
	id := event.AlertID("bulk-export", "hosp-1/staff-42", w)
	// The id is part of the contract: a change breaks deduplication of
	// alerts already stored. Do not update this value; version instead.
	// The value was checked with Python's hashlib over the construction
	// documented on AlertID.
	if want := "c26a6fdaeee61830e7d77d6dae2d0a48"; id != want {
		t.Errorf("AlertID = %s, want %s", id, want)
	}
	same := []time.Time{
		w.In(time.FixedZone("", 8*3600)),
		w.Add(999 * time.Microsecond),
	}
	for _, w2 := range same {
		if got := event.AlertID("bulk-export", "hosp-1/staff-42", w2); got != id {
			t.Errorf("AlertID at %v = %s, want %s (same millisecond)", w2, got, id)
		}
	}
	differ := [][3]any{
		{"bulk-export", "hosp-1/staff-42", w.Add(time.Millisecond)},
		{"bulk-export", "hosp-1/staff-43", w},
		{"bulk-expor", "thosp-1/staff-42", w},
		{"bulk-export-", "hosp-1/staff-42", w},
	}
	for _, d := range differ {
		if got := event.AlertID(d[0].(string), d[1].(string), d[2].(time.Time)); got == id {
			t.Errorf("AlertID%v = %s, same as the original", d, got)
		}
	}
}

func TestNoticeID(t *testing.T) {
	id := event.NoticeID("inc-1", "tok-abc", "pipl.art57.individual")
	if want := "a3c4931ef29359296d0fa0ee7552c1ea"; id != want {
		t.Errorf("NoticeID = %s, want %s", id, want)
	}
	if len(id) != 32 {
		t.Errorf("len = %d", len(id))
	}
	for _, parts := range [][3]string{
		{"inc-1", "tok-ab", "cpipl.art57.individual"},
		{"inc-1tok-abc", "", "pipl.art57.individual"},
		{"inc-1", "tok-abc", "pipl.art57.guardian"},
	} {
		if got := event.NoticeID(parts[0], parts[1], parts[2]); got == id {
			t.Errorf("NoticeID%q = %s, same as the original", parts, got)
		}
	}
	if event.AlertID("a", "b", time.Time{}) == event.NoticeID("a", "b", "0001-01-01T00:00:00.000Z") {
		t.Error("alert and notice ids share a domain")
	}
}
