package behave

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vigil-audit/vigil/internal/event"
)

// shanghai is org1's zone in these tests: local = UTC + 8h.
func shanghaiCfg() Config {
	c := Defaults()
	c.OffHours.TimeZones = map[string]string{"org1": "Asia/Shanghai"}
	return c
}

// shift is an actor's work on days [0, days): 5 health reads an hour in
// each local hour of hours (local = UTC+8).
func shift(actor string, days int, hours []int) []any {
	var out []any
	for d := range days {
		for _, h := range hours {
			for i := range 5 {
				// Local day d, hour h is UTC day d, hour h-8.
				out = append(out, acc(actor, time.Duration(d)*24*time.Hour+time.Duration(h-8)*time.Hour+time.Duration(i*11)*time.Minute))
			}
		}
	}
	return out
}

func hoursFrom(from, n int) []int {
	var hs []int
	for i := range n {
		hs = append(hs, (from+i)%24)
	}
	return hs
}

// nightReads are n sensitive reads every 10 minutes from local day d at
// hh:mm.
func nightReads(actor string, d, hh, mm, n int, cat event.Category) []any {
	var out []any
	for i := range n {
		e := acc(actor, time.Duration(d)*24*time.Hour+time.Duration(hh-8)*time.Hour+time.Duration(mm+10*i)*time.Minute)
		e.Categories = []event.Category{cat}
		e.EventID = fmt.Sprintf("night-%d", i)
		e.Client.DeviceID = "PC-home"
		out = append(out, e)
	}
	return out
}

func TestOffHours(t *testing.T) {
	day := hoursFrom(8, 10)    // 08:00-18:00
	night := hoursFrom(20, 11) // 20:00-07:00
	onCall := hoursFrom(0, 24)
	cases := []struct {
		name   string
		cfg    Config
		events []any
		want   string // "" means no finding
	}{
		{"day-shift reads at 23:00", shanghaiCfg(),
			concat(shift("N1", 6, day), nightReads("N1", 6, 23, 0, 4, event.CategoryHealth)),
			"3 times within 20 minutes up to Sun 23:20 local time, outside business hours (07:00-19:00) and outside its usual hours (06:00-20:00)"},
		{"day-shift reads at 21:00", shanghaiCfg(),
			concat(shift("N1", 6, day), nightReads("N1", 6, 21, 0, 4, event.CategoryHealth)), "Sun 21:20"},
		{"overtime until 19:40", shanghaiCfg(),
			concat(shift("N1", 6, day), nightReads("N1", 6, 19, 0, 4, event.CategoryHealth)), ""},
		{"night shift at 23:00", shanghaiCfg(),
			concat(shift("N1", 6, night), nightReads("N1", 6, 23, 0, 4, event.CategoryHealth)), ""},
		{"on call at 03:00", shanghaiCfg(),
			concat(shift("N1", 6, onCall), nightReads("N1", 6, 3, 0, 4, event.CategoryHealth)), ""},
		{"learning: a new actor", shanghaiCfg(),
			concat(shift("N1", 2, day), nightReads("N1", 2, 23, 0, 4, event.CategoryHealth)), ""},
		{"two reads only", shanghaiCfg(),
			concat(shift("N1", 6, day), nightReads("N1", 6, 23, 0, 2, event.CategoryHealth)), ""},
		{"three reads over three hours", shanghaiCfg(),
			concat(shift("N1", 6, day), nightReads("N1", 6, 23, 0, 1, event.CategoryHealth),
				nightReads("N1", 7, 0, 30, 1, event.CategoryHealth), nightReads("N1", 7, 2, 10, 1, event.CategoryHealth)), ""},
		{"contact data is not sensitive", shanghaiCfg(),
			concat(shift("N1", 6, day), nightReads("N1", 6, 23, 0, 4, event.CategoryContact)), ""},
		{"minors' data", shanghaiCfg(),
			concat(shift("N1", 6, day), nightReads("N1", 6, 23, 0, 4, event.CategoryMinorData)), "sensitive data"},
		{"wrong zone: 23:00 Shanghai is 15:00 UTC, business hours", Defaults(),
			concat(shift("N1", 6, day), nightReads("N1", 6, 23, 0, 4, event.CategoryHealth)), ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fs := run(t, mustNew(t, c.cfg, RuleOffHours), c.events)
			if c.want == "" {
				if len(fs) > 0 {
					t.Fatalf("fired: %s", fs[0].Explanation)
				}
				return
			}
			if len(fs) == 0 {
				t.Fatal("no finding")
			}
			f := fs[0]
			if f.Count != 3 || strings.Join(f.Evidence, ",") != "night-0,night-1,night-2" {
				t.Errorf("Count %d evidence %v", f.Count, f.Evidence)
			}
			if !strings.Contains(f.Explanation, c.want) {
				t.Errorf("explanation %q lacks %q", f.Explanation, c.want)
			}
			if strings.Contains(c.name, "minors") && f.Severity != event.SeverityHigh {
				t.Errorf("severity %s", f.Severity)
			}
			if len(fs) != 2 || fs[1].Count != 1 {
				t.Errorf("%d findings: want the first three reads, then the fourth", len(fs))
			}
		})
	}
}

func TestBusinessHours(t *testing.T) {
	cfg := Defaults().OffHours
	cfg.BusinessHours = "22:00-06:00"
	cfg.BusinessDays = []string{"mon", "tue", "wed", "thu", "fri"}
	b, err := newOffHours(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		t    time.Time
		want bool
	}{
		{time.Date(2026, 11, 2, 23, 0, 0, 0, time.UTC), true},  // Monday night
		{time.Date(2026, 11, 3, 5, 59, 0, 0, time.UTC), true},  // Tuesday early
		{time.Date(2026, 11, 3, 6, 0, 0, 0, time.UTC), false},  // end is exclusive
		{time.Date(2026, 11, 3, 12, 0, 0, 0, time.UTC), false}, // midday
		{time.Date(2026, 11, 7, 23, 0, 0, 0, time.UTC), false}, // Saturday
	} {
		if got := b.business(c.t); got != c.want {
			t.Errorf("%v: business %v, want %v", c.t, got, c.want)
		}
	}
}
