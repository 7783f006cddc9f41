package sigma

import (
	"strings"
	"testing"
	"time"

	"github.com/vigil-audit/vigil/internal/event"
)

// feeders are detection rules the correlation tests reference.
const feeders = `title: Access feeder
id: feed-access
name: access_feed
level: low
logsource: {product: vigil, service: access}
detection:
  sel:
    action: read
  condition: sel
---
title: Device feeder
id: feed-device
name: device_feed
level: low
logsource: {product: vigil, service: device}
detection:
  sel:
    kind: login
  condition: sel
`

func loadCorrelation(t *testing.T, doc string) (*Set, *Correlation) {
	t.Helper()
	set, err := Load([]Source{{Name: "c.yml", Data: []byte(feeders + "---\n" + doc)}}, Options{})
	if err != nil {
		t.Fatalf("correlation does not load: %v\n%s", err, doc)
	}
	if len(set.Correlations) != 1 {
		t.Fatalf("%d correlations loaded", len(set.Correlations))
	}
	return set, set.Correlations[0]
}

func TestCorrelationForms(t *testing.T) {
	t.Run("field inside condition", func(t *testing.T) {
		_, c := loadCorrelation(t, `title: c
id: c
level: high
correlation:
  type: value_count
  rules: [access_feed]
  group-by: [actor.id]
  timespan: 1h
  condition: {gte: 10, field: subject.id}
`)
		if c.Type != ValueCount || c.Field != "subject.id" || c.Inputs[0].Field != "subject.id" || c.Timespan != time.Hour {
			t.Errorf("got %+v", c)
		}
		if c.Condition.String() != "gte 10" {
			t.Errorf("Condition = %s", c.Condition)
		}
	})
	t.Run("field at correlation level, rules as a string, group-by as a string", func(t *testing.T) {
		_, c := loadCorrelation(t, `title: c
id: c
level: high
correlation:
  type: value_sum
  rules: feed-access
  group-by: actor.id
  timespan: 1d
  field: record_count
  condition:
    gt: 100
    lte: 200.5
`)
		if c.Type != ValueSum || c.Field != "record_count" || len(c.Inputs) != 1 || c.Inputs[0].Ref != "feed-access" {
			t.Errorf("got %+v", c)
		}
		if c.Condition.String() != "gt 100 and lte 200.5" || !c.Condition.Holds(150) || c.Condition.Holds(100) || c.Condition.Holds(201) {
			t.Errorf("Condition = %s", c.Condition)
		}
		if strings.Join(c.GroupBy, ",") != "actor.id" {
			t.Errorf("GroupBy = %v", c.GroupBy)
		}
	})
	t.Run("no group-by, generate at top level", func(t *testing.T) {
		set, c := loadCorrelation(t, `title: c
id: c
level: high
generate: true
correlation:
  type: event_count
  rules: [access_feed]
  timespan: 5m
  condition: {gte: 100}
`)
		if !c.Generate || len(c.GroupBy) != 0 || len(c.Inputs[0].GroupBy) != 0 {
			t.Errorf("got %+v", c)
		}
		if !set.Rule("access_feed").Standalone {
			t.Error("generate: true did not make the referenced rule Standalone")
		}
		if !set.Rule("device_feed").Standalone {
			t.Error("an unreferenced rule is not Standalone")
		}
	})
	t.Run("temporal defaults to all rules", func(t *testing.T) {
		set, c := loadCorrelation(t, `title: c
id: c
level: critical
correlation:
  type: temporal_ordered
  rules: [device_feed, access_feed]
  group-by: [who]
  aliases:
    who:
      device_feed: account_id
      feed-access: subject.id
  timespan: 30m
`)
		if c.Condition.String() != "gte 2" {
			t.Errorf("Condition = %s", c.Condition)
		}
		if c.Inputs[0].Rule != set.Rule("device_feed") || c.Inputs[1].Index != 1 {
			t.Error("inputs out of order")
		}
		if c.Inputs[0].GroupBy[0] != "account_id" || c.Inputs[1].GroupBy[0] != "subject.id" {
			t.Errorf("aliases resolved to %v and %v", c.Inputs[0].GroupBy, c.Inputs[1].GroupBy)
		}
		if len(c.Aliases) != 1 || c.Aliases[0].Name != "who" || c.Aliases[0].Fields["feed-access"] != "subject.id" {
			t.Errorf("Aliases = %+v", c.Aliases)
		}
		if set.Rule("access_feed").Standalone || set.Rule("device_feed").Standalone {
			t.Error("rules read by a correlation without generate are Standalone")
		}
	})
	t.Run("temporal with a condition", func(t *testing.T) {
		_, c := loadCorrelation(t, `title: c
id: c
level: low
correlation:
  type: temporal
  rules: [device_feed, access_feed]
  group-by: [org]
  timespan: 30m
  condition: {gte: 1}
`)
		if c.Type != Temporal || c.Condition.String() != "gte 1" {
			t.Errorf("got %+v", c)
		}
	})
}

func TestCorrelationInputValues(t *testing.T) {
	_, c := loadCorrelation(t, `title: c
id: c
level: high
correlation:
  type: value_count
  rules: [access_feed, device_feed]
  group-by: [who, where]
  aliases:
    who:
      access_feed: actor.id
      device_feed: account_id
    where:
      access_feed: client.geo.lat
      device_feed: signals.rooted
    thing:
      access_feed: subject.id
      device_feed: device_id
  timespan: 1h
  condition: {gte: 3, field: thing}
`)
	a := baseAccess()
	a.Org = "hosp/1"
	a.Actor.ID = `staff\42`
	acc, dev := c.Inputs[0], c.Inputs[1]
	if got := string(acc.AppendGroupKey(nil, Access(a))); got != `hosp\/1/staff\\42/31.23` {
		t.Errorf("access group key = %q", got)
	}
	a.Client.Geo.Lat = nil
	if got := string(acc.AppendGroupKey(nil, Access(a))); got != `hosp\/1/staff\\42/` {
		t.Errorf("access group key without lat = %q", got)
	}
	d := baseDevice()
	if got := string(dev.AppendGroupKey([]byte("x:"), Device(d))); got != "x:app-1/acct-1/true" {
		t.Errorf("device group key = %q", got)
	}
	if v, ok := acc.AppendValue(nil, Access(a)); !ok || string(v) != "pt-9" {
		t.Errorf("AppendValue = %q, %v", v, ok)
	}
	a.Subject.ID = ""
	if _, ok := acc.AppendValue(nil, Access(a)); ok {
		t.Error("AppendValue of an absent value reports one")
	}
	if v, ok := dev.AppendValue(nil, Device(d)); !ok || string(v) != "dev-1" {
		t.Errorf("AppendValue = %q, %v", v, ok)
	}
	if _, ok := dev.Number(Device(d)); ok {
		t.Error("Number of a value_count input reports a number")
	}

	buf := make([]byte, 0, 128)
	allocs := testing.AllocsPerRun(100, func() {
		buf = acc.AppendGroupKey(buf[:0], Access(a))
		buf, _ = acc.AppendValue(buf[:0], Access(a))
	})
	if allocs != 0 {
		t.Errorf("AppendGroupKey and AppendValue allocate %v times", allocs)
	}
}

func TestCorrelationNumber(t *testing.T) {
	_, c := loadCorrelation(t, `title: c
id: c
level: high
correlation:
  type: value_sum
  rules: [access_feed]
  group-by: [actor.id]
  timespan: 1d
  condition: {gt: 10000, field: record_count}
`)
	a := baseAccess()
	if x, ok := c.Inputs[0].Number(Access(a)); !ok || x != 120 {
		t.Errorf("Number = %v, %v", x, ok)
	}
	a.RecordCount = 0
	if _, ok := c.Inputs[0].Number(Access(a)); ok {
		t.Error("Number of an unreported record_count reports one")
	}
	if _, ok := c.Inputs[0].AppendValue(nil, Access(a)); ok {
		t.Error("AppendValue of an absent number reports one")
	}
	a.RecordCount = 7
	if v, ok := c.Inputs[0].AppendValue(nil, Access(a)); !ok || string(v) != "7" {
		t.Errorf("AppendValue = %q", v)
	}
}

func TestThreshold(t *testing.T) {
	cases := []struct {
		bounds []Bound
		x      float64
		holds  bool
		sat    bool
	}{
		{[]Bound{{OpGte, 5}}, 5, true, true},
		{[]Bound{{OpGt, 5}}, 5, false, true},
		{[]Bound{{OpLt, 5}}, 4, true, true},
		{[]Bound{{OpLte, 5}}, 6, false, true},
		{[]Bound{{OpEq, 5}}, 5, true, true},
		{[]Bound{{OpNeq, 5}}, 5, false, true},
		{[]Bound{{OpGt, 10}, {OpLte, 20}}, 20, true, true},
		{[]Bound{{OpGt, 10}, {OpLt, 10}}, 10, false, false},
		{[]Bound{{OpGte, 10}, {OpLte, 10}}, 10, true, true},
		{[]Bound{{OpGt, 10}, {OpLte, 10}}, 10, false, false},
		{[]Bound{{OpEq, 3}, {OpNeq, 3}}, 3, false, false},
		{[]Bound{{OpEq, 3}, {OpGt, 3}}, 3, false, false},
		{[]Bound{{OpEq, 3}, {OpEq, 4}}, 3, false, false},
		{nil, 3, false, true},
	}
	for _, tc := range cases {
		th := Threshold{Bounds: tc.bounds}
		if got := th.Holds(tc.x); got != tc.holds {
			t.Errorf("%s Holds(%v) = %v", th, tc.x, got)
		}
		if got := th.satisfiable(); got != tc.sat {
			t.Errorf("%s satisfiable = %v", th, got)
		}
	}
}

func TestEventService(t *testing.T) {
	if (Event{}).Service() != "" || (Event{}).Org() != "" {
		t.Error("the empty Event has a service or org")
	}
	if Access(&event.AccessEvent{Org: "o"}).Org() != "o" || Device(&event.DeviceEvent{Org: "d"}).Service() != ServiceDevice {
		t.Error("Access or Device wraps wrongly")
	}
}
