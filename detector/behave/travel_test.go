package behave

import (
	"strings"
	"testing"
	"time"

	"github.com/vigil-audit/vigil/internal/event"
)

func TestImpossibleTravel(t *testing.T) {
	shanghai := geo("CN", "Shanghai", 31.2304, 121.4737)
	hangzhou := geo("CN", "Hangzhou", 30.2741, 120.1551)
	urumqi := geo("CN", "Urumqi", 43.8256, 87.6168)
	moscow := geo("RU", "Moscow", 55.7558, 37.6173)
	toronto := geo("CA", "Toronto", 43.6532, -79.3832)
	noLL := func(country string) event.Geo { return event.Geo{Country: country} }
	type hop struct {
		after time.Duration // since the previous event
		g     event.Geo
	}
	cases := []struct {
		name string
		hops []hop
		want []string // in the explanation of the one finding; nil: none
	}{
		{"Shanghai to Moscow in 12 minutes", []hop{{0, shanghai}, {12 * time.Minute, moscow}},
			[]string{"in Shanghai, CN and 12 minutes later in Moscow, RU", "km/h, faster than 900 km/h"}},
		{"Shanghai to Urumqi in 30 minutes (same country)", []hop{{0, shanghai}, {30 * time.Minute, urumqi}},
			[]string{"Urumqi, CN"}},
		{"Shanghai to Hangzhou in 5 minutes: too close to tell", []hop{{0, shanghai}, {5 * time.Minute, hangzhou}}, nil},
		{"conference trip after a day off", []hop{{0, shanghai}, {26 * time.Hour, toronto}, {8 * time.Hour, toronto}}, nil},
		{"Shanghai to Moscow in 9 hours: a flight", []hop{{0, shanghai}, {9 * time.Hour, moscow}}, nil},
		{"no coordinates, country change within the hour", []hop{{0, noLL("CN")}, {20 * time.Minute, noLL("RU")}},
			[]string{"in CN and 20 minutes later in RU, another country"}},
		{"no coordinates, country change after two hours", []hop{{0, noLL("CN")}, {2 * time.Hour, noLL("RU")}}, nil},
		{"no coordinates, same country", []hop{{0, noLL("CN")}, {1 * time.Minute, noLL("CN")}}, nil},
		{"no location at all", []hop{{0, event.Geo{}}, {time.Minute, moscow}}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var evs []any
			var when time.Duration
			for i, h := range c.hops {
				when += h.after
				e := acc("N1", when)
				e.Client.Geo = h.g
				e.EventID = "e" + string(rune('0'+i))
				evs = append(evs, e)
			}
			fs := run(t, mustNew(t, Defaults(), RuleImpossibleTravel), evs)
			if c.want == nil {
				if len(fs) > 0 {
					t.Fatalf("fired: %s", fs[0].Explanation)
				}
				return
			}
			if len(fs) != 1 {
				t.Fatalf("%d findings, want 1", len(fs))
			}
			f := fs[0]
			if f.Count != 2 || len(f.Evidence) != 2 || f.Evidence[0] != "e0" || f.Evidence[1] != "e1" {
				t.Errorf("Count %d Evidence %v: want the two events, earliest first", f.Count, f.Evidence)
			}
			for _, w := range c.want {
				if !strings.Contains(f.Explanation, w) {
					t.Errorf("explanation %q lacks %q", f.Explanation, w)
				}
			}
		})
	}
}

func TestImpossibleTravelCompromisedSession(t *testing.T) {
	// The actor keeps working at home while an attacker reads from
	// Moscow: every switch between the two is a jump, and every attacker
	// event ends up in the evidence.
	var evs []any
	for i := range 10 {
		e := acc("N1", day(0, 10, i*3))
		if i%2 == 1 {
			e.Client.Geo = geo("RU", "Moscow", 55.7558, 37.6173)
			e.Client.DeviceID = "PC-attacker"
		}
		evs = append(evs, e)
	}
	fs := run(t, mustNew(t, Defaults(), RuleImpossibleTravel), evs)
	if len(fs) != 9 {
		t.Fatalf("%d findings, want 9", len(fs))
	}
	if ev := evidenceOf(fs); len(ev) != 10 {
		t.Errorf("evidence %v: want all 10 events", ev)
	}
}

func TestImpossibleTravelLateEvent(t *testing.T) {
	home := acc("N1", day(0, 10, 30))
	home.EventID = "home"
	away := acc("N1", day(0, 10, 20)) // occurred earlier, arrives later
	away.Client.Geo = geo("RU", "Moscow", 55.7558, 37.6173)
	away.EventID = "away"
	fs := run(t, mustNew(t, Defaults(), RuleImpossibleTravel), []any{home, away})
	if len(fs) != 1 {
		t.Fatalf("%d findings, want 1", len(fs))
	}
	f := fs[0]
	if f.Evidence[0] != "away" || !f.Start.Equal(away.OccurredAt.Time) || !f.End.Equal(home.OccurredAt.Time) {
		t.Errorf("evidence %v, %v–%v: want earliest first", f.Evidence, f.Start, f.End)
	}
	if !strings.Contains(f.Explanation, "in Moscow, RU and 10 minutes later in Shanghai, CN") {
		t.Errorf("explanation %q", f.Explanation)
	}
}

func TestImpossibleTravelDevice(t *testing.T) {
	loc := func(lat, lon, acc float64) *event.Location {
		return &event.Location{Lat: lat, Lon: lon, AccuracyM: acc}
	}
	cases := []struct {
		name string
		a, b *event.Location
		gap  time.Duration
		dev2 string
		want string
	}{
		{"other device 2400 km away", loc(30.57, 104.07, 50), loc(45.80, 126.54, 50), 15 * time.Minute, "D2", "on another device"},
		{"same device", loc(30.57, 104.07, 50), loc(45.80, 126.54, 50), 15 * time.Minute, "D1", "on this device"},
		{"coarse GPS jitter", loc(30.57, 104.07, 50), loc(30.70, 104.20, 50), time.Minute, "D2", ""},
		{"inaccurate fix", loc(30.57, 104.07, 50), loc(45.80, 126.54, 2_200_000), 15 * time.Minute, "D2", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e1 := dev("D1", "A1", event.KindLogin, 0)
			e1.Location = c.a
			e2 := dev(c.dev2, "A1", event.KindLogin, c.gap)
			e2.Location = c.b
			noLoc := dev("D1", "A1", event.KindLogin, c.gap/2)
			fs := run(t, mustNew(t, Defaults(), RuleImpossibleTravel), []any{e1, noLoc, e2})
			if c.want == "" {
				if len(fs) > 0 {
					t.Fatalf("fired: %s", fs[0].Explanation)
				}
				return
			}
			if len(fs) != 1 {
				t.Fatalf("%d findings", len(fs))
			}
			f := fs[0]
			if f.GroupKey != "org1/"+c.dev2 || f.DeviceID != c.dev2 || f.Subjects[0] != "A1" {
				t.Errorf("group %q device %q subjects %v", f.GroupKey, f.DeviceID, f.Subjects)
			}
			if !strings.Contains(f.Explanation, c.want) {
				t.Errorf("explanation %q lacks %q", f.Explanation, c.want)
			}
		})
	}
}

func TestHaversine(t *testing.T) {
	// Shanghai–Moscow is about 6,800 km.
	if d := haversineKm(31.2304, 121.4737, 55.7558, 37.6173); d < 6700 || d > 6900 {
		t.Errorf("Shanghai–Moscow %v km", d)
	}
	if d := haversineKm(10, 20, 10, 20); d != 0 {
		t.Errorf("same point %v", d)
	}
	if d := haversineKm(0, 0, 0, 180); d < 20000 || d > 20050 {
		t.Errorf("antipodes %v", d)
	}
}
