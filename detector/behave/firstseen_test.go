package behave

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vigil-audit/vigil/internal/event"
)

// adminDays is an IT admin's ordinary work on days [from, to): ten
// account reads a day from its workstation in Shanghai.
func adminDays(actor string, from, to int) []any {
	var out []any
	for d := from; d < to; d++ {
		for i := range 10 {
			e := acc(actor, day(d, 9, i*30))
			e.Actor = event.Actor{ID: actor, Type: event.ActorAdmin, Role: "it_admin", Department: "it"}
			e.Categories = []event.Category{event.CategoryAccount}
			e.Client.IP = fmt.Sprintf("10.0.28.%d", 2+i%3)
			out = append(out, e)
		}
	}
	return out
}

func TestFirstSeen(t *testing.T) {
	roles := Defaults()
	roles.FirstSeen.Roles = []string{"records_admin"}
	onlyDevice := Defaults()
	onlyDevice.FirstSeen.Attributes = []string{"device"}
	type change func(e *event.AccessEvent)
	newDevice := func(e *event.AccessEvent) { e.Client.DeviceID = "PC-NEW" }
	newNet := func(e *event.AccessEvent) { e.Client.IP = "203.0.113.7" }
	sameNet := func(e *event.AccessEvent) { e.Client.IP = "10.0.28.200" }
	newCountry := func(e *event.AccessEvent) { e.Client.Geo = geo("RU", "Moscow", 55.75, 37.62) }
	newCity := func(e *event.AccessEvent) { e.Client.Geo = geo("CN", "Hangzhou", 30.27, 120.15) }
	newCategory := func(e *event.AccessEvent) { e.Categories = []event.Category{event.CategoryHealth} }
	asNurse := func(e *event.AccessEvent) { e.Actor.Type, e.Actor.Role = event.ActorStaff, "nurse" }
	asRecords := func(e *event.AccessEvent) { e.Actor.Type, e.Actor.Role = event.ActorStaff, "records_admin" }
	same := func(*event.AccessEvent) {}
	cases := []struct {
		name    string
		cfg     Config
		days    int    // of history before the probe
		who     change // applied to every event
		changes []change
		want    []string // in the explanation; nil: no finding
	}{
		{"new device", Defaults(), 8, same, []change{newDevice}, []string{"a new device"}},
		{"new network", Defaults(), 8, same, []change{newNet}, []string{"a new network"}},
		{"same /24", Defaults(), 8, same, []change{sameNet}, nil},
		{"new country", Defaults(), 8, same, []change{newCountry}, []string{"a new country (RU)"}},
		{"new city", Defaults(), 8, same, []change{newCity}, []string{"a new city (Hangzhou, CN)"}},
		{"new data category", Defaults(), 8, same, []change{newCategory}, []string{"new data (health)"}},
		{"new data category, refused", Defaults(), 8, same, []change{newCategory, func(e *event.AccessEvent) { e.Outcome = event.OutcomeDenied }}, nil},
		{"all at once", Defaults(), 8, same, []change{newDevice, newNet, newCountry},
			[]string{"a new device, a new network and a new country (RU)", "8 days"}},
		{"nothing new", Defaults(), 8, same, nil, nil},
		{"learning period", Defaults(), 5, same, []change{newDevice, newNet, newCountry}, nil},
		{"not privileged", Defaults(), 8, asNurse, []change{newDevice}, nil},
		{"configured role", roles, 8, asRecords, []change{newDevice}, []string{"(staff, records_admin)", "a new device"}},
		{"attribute not watched", onlyDevice, 8, same, []change{newNet, newCountry}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			evs := adminDays("A1", 0, c.days)
			for _, e := range evs {
				c.who(e.(*event.AccessEvent))
			}
			probe := adminDays("A1", c.days, c.days+1)[0].(*event.AccessEvent)
			probe.EventID = "probe"
			c.who(probe)
			for _, ch := range c.changes {
				ch(probe)
			}
			again := *probe
			again.EventID = "again"
			again.OccurredAt = at(day(c.days, 10, 0))
			fs := run(t, mustNew(t, c.cfg, RuleFirstSeen), append(evs, probe, &again))
			if c.want == nil {
				if len(fs) > 0 {
					t.Fatalf("fired: %s", fs[0].Explanation)
				}
				return
			}
			if len(fs) != 1 {
				t.Fatalf("%d findings, want 1 (the second time is not new)", len(fs))
			}
			if fs[0].Evidence[0] != "probe" {
				t.Errorf("evidence %v", fs[0].Evidence)
			}
			for _, w := range c.want {
				if !strings.Contains(fs[0].Explanation, w) {
					t.Errorf("explanation %q lacks %q", fs[0].Explanation, w)
				}
			}
		})
	}
}

func TestFirstSeenForgets(t *testing.T) {
	cfg := Defaults()
	cfg.FirstSeen.MaxValues = 2
	b := mustNew(t, cfg, RuleFirstSeen)
	evs := adminDays("A1", 0, 8)
	// Two more devices push the workstation out of a two-value memory.
	for i, d := range []string{"PC-2", "PC-3", "WS-1"} {
		e := adminDays("A1", 8, 9)[i].(*event.AccessEvent)
		e.Client.DeviceID = d
		evs = append(evs, e)
	}
	fs := run(t, b, evs)
	if len(fs) != 3 {
		t.Fatalf("%d findings, want 3 (PC-2, PC-3, then WS-1 again)", len(fs))
	}
	// Values not seen for forget_after are new again.
	b2 := mustNew(t, Defaults(), RuleFirstSeen)
	evs = adminDays("A1", 0, 8)
	late := adminDays("A1", 100, 101)[0].(*event.AccessEvent)
	late.OccurredAt = at(100*24*time.Hour + 9*time.Hour)
	if fs := run(t, b2, append(evs, late)); len(fs) != 0 {
		t.Fatalf("actor forgotten after 90 days must learn again, got %s", fs[0].Explanation)
	}
}
