package store

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseKeep(t *testing.T) {
	good := map[string]Keep{
		"180d": {Days: 180}, "200d": {Days: 200}, "6mo": {Months: 6}, "12mo": {Months: 12},
		"1y": {Months: 12}, "7y": {Months: 84}, " 365d ": {Days: 365},
	}
	for in, want := range good {
		got, err := ParseKeep(in)
		if err != nil || got != want {
			t.Errorf("ParseKeep(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	tooShort := []string{"179d", "0d", "5mo", "0mo", "1d"}
	for _, in := range tooShort {
		_, err := ParseKeep(in)
		if !errors.Is(err, ErrKeepTooShort) || !strings.Contains(err.Error(), "six months") {
			t.Errorf("ParseKeep(%q) error = %v, want ErrKeepTooShort citing six months", in, err)
		}
	}
	for _, in := range []string{"", "6m", "180", "-180d", "1.5y", "180 d", "6months", "P6M"} {
		if _, err := ParseKeep(in); err == nil || errors.Is(err, ErrKeepTooShort) {
			t.Errorf("ParseKeep(%q) error = %v, want a syntax error", in, err)
		}
	}
}

// months returns one partition of table "t" per YYYYMM id.
func months(ids ...string) []Partition {
	var ps []Partition
	for _, id := range ids {
		ps = append(ps, Partition{Table: "t", ID: id})
	}
	return ps
}

func ids(ps []Partition) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.ID)
	}
	return out
}

func TestPlanRetention(t *testing.T) {
	all := months("202507", "202508", "202512", "202601", "202602", "202603", "202604", "202605", "202606", "202610", "202611")
	at := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	cases := []struct {
		name string
		now  string
		keep Keep
		want []string
	}{
		{"6mo mid-month", "2026-11-05T12:00:00Z", Keep{Months: 6},
			[]string{"202507", "202508", "202512", "202601", "202602", "202603", "202604"}},
		// At the first instant of November, April ended exactly six months ago.
		{"6mo at a month boundary", "2026-11-01T00:00:00Z", Keep{Months: 6},
			[]string{"202507", "202508", "202512", "202601", "202602", "202603", "202604"}},
		// One second earlier April still has data younger than six months.
		{"6mo one second before the boundary", "2026-10-31T23:59:59Z", Keep{Months: 6},
			[]string{"202507", "202508", "202512", "202601", "202602", "202603"}},
		// Aug 31 minus six months is Feb 28 (clamped), not Mar 3: February is kept.
		{"6mo from the 31st clamps", "2026-08-31T10:00:00Z", Keep{Months: 6},
			[]string{"202507", "202508", "202512", "202601"}},
		// 180 days before Aug 30 is Mar 3, which alone would drop February
		// (ended Mar 1); six calendar months back is Feb 28, so February stays.
		{"180d never beats six calendar months", "2026-08-30T00:00:00Z", Keep{Days: 180},
			[]string{"202507", "202508", "202512", "202601"}},
		{"6mo same day", "2026-08-30T00:00:00Z", Keep{Months: 6},
			[]string{"202507", "202508", "202512", "202601"}},
		// 200 days before Aug 30 is Feb 11: January only.
		{"200d", "2026-08-30T00:00:00Z", Keep{Days: 200},
			[]string{"202507", "202508", "202512", "202601"}},
		{"240d", "2026-08-30T00:00:00Z", Keep{Days: 240},
			[]string{"202507", "202508", "202512"}},
		{"12mo", "2026-08-30T00:00:00Z", Keep{Months: 12}, []string{"202507"}},
		{"24mo keeps all", "2026-08-30T00:00:00Z", Keep{Months: 24}, nil},
		// A time zone offset does not change the month: the cutoff is UTC.
		{"offset now", "2026-11-01T07:00:00+08:00", Keep{Months: 6},
			[]string{"202507", "202508", "202512", "202601", "202602", "202603"}},
	}
	for _, c := range cases {
		got, err := PlanRetention(at(c.now), c.keep, all)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if !reflect.DeepEqual(ids(got), c.want) {
			t.Errorf("%s: PlanRetention(%s, %s) drops %q, want %q", c.name, c.now, c.keep, ids(got), c.want)
		}
		for _, p := range got {
			if p.Month.IsZero() || p.Month.Format("200601") != p.ID {
				t.Errorf("%s: partition %s has Month %s", c.name, p.ID, p.Month)
			}
		}
	}
}

func TestPlanRetentionRefuses(t *testing.T) {
	now := time.Date(2026, 11, 5, 0, 0, 0, 0, time.UTC)
	for _, k := range []Keep{{Days: 179}, {Months: 5}, {}, {Days: -1}, {Months: 6, Days: 180}} {
		if _, err := PlanRetention(now, k, months("200001")); err == nil {
			t.Errorf("PlanRetention(keep %+v) accepted", k)
		} else if (k == Keep{Days: 179}) && (!errors.Is(err, ErrKeepTooShort) || !strings.Contains(err.Error(), "179d")) {
			t.Errorf("PlanRetention(179d) error = %v, want ErrKeepTooShort naming 179d", err)
		}
	}
	if _, err := PlanRetention(now, Keep{Months: 6}, []Partition{{Table: "x", ID: "all"}}); err == nil || !strings.Contains(err.Error(), `x partition "all"`) {
		t.Errorf("non-month partition: error = %v", err)
	}
}

func TestAddMonths(t *testing.T) {
	cases := map[string]string{
		"2026-08-31": "2026-02-28", "2028-08-31": "2028-02-29", "2026-03-31": "2025-09-30",
		"2026-07-15": "2026-01-15", "2026-01-31": "2025-07-31",
	}
	for in, want := range cases {
		d, _ := time.Parse(time.DateOnly, in)
		if got := addMonths(d, -6).Format(time.DateOnly); got != want {
			t.Errorf("addMonths(%s, -6) = %s, want %s", in, got, want)
		}
	}
}

// TestDropPartitionsRefusesRecent checks the floor DropPartitions applies
// on its own, before it talks to the server (conn is nil here).
func TestDropPartitionsRefusesRecent(t *testing.T) {
	now := time.Date(2026, 11, 5, 0, 0, 0, 0, time.UTC)
	for _, ps := range [][]Partition{
		months("202605"),           // ends Jun 1, after the floor May 5
		months("202001", "202610"), // one bad partition refuses the whole list
	} {
		err := dropPartitions(context.Background(), nil, "vigil", ps, now)
		if !errors.Is(err, ErrKeepTooShort) {
			t.Errorf("dropPartitions(%q) error = %v, want ErrKeepTooShort", ids(ps), err)
		}
	}
	for _, p := range []Partition{{Table: "t", ID: "all"}, {Table: "t; DROP", ID: "202001"}} {
		if err := dropPartitions(context.Background(), nil, "vigil", []Partition{p}, now); err == nil {
			t.Errorf("dropPartitions(%+v) accepted", p)
		}
	}
	if err := dropPartitions(context.Background(), nil, "bad-db", months("202001"), now); err == nil {
		t.Error("dropPartitions accepted database bad-db")
	}
	if err := dropPartitions(context.Background(), nil, "vigil", nil, now); err != nil {
		t.Errorf("dropping nothing: %v", err)
	}
}
