package behave

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/vigil-audit/vigil/internal/event"
)

// fastConfig learns within hours and keeps tiny state, so that a short
// stream exercises every behaviour, every learning period and every
// eviction.
func fastConfig() Config {
	c := Defaults()
	b := &c.ActorBaseline
	b.MinActiveHours, b.MinActiveDays, b.MinPeerHours, b.MaxActors, b.MaxPeerGroups = 4, 1, 8, 30, 4
	b.MinEvents, b.MinSubjects = 15, 10
	f := &c.FirstSeen
	f.LearningPeriod, f.MinActiveDays, f.MaxValues, f.MaxActors = 2*time.Hour, 1, 4, 5
	c.ImpossibleTravel.MaxActors, c.ImpossibleTravel.MaxAccounts = 20, 10
	c.CareRelationship.MaxActors = 5
	g := &c.BreakGlassBurst
	g.BurstActions, g.BurstWindow, g.DistinctSubjects, g.SubjectsWindow, g.MaxActors = 2, time.Hour, 3, 6*time.Hour, 5
	o := &c.OffHours
	o.MinHistoryEvents, o.MinActiveDays, o.HistoryEvents, o.UsualShare, o.MaxActors = 30, 1, 200, 0.05, 30
	o.MinEvents = 2
	o.TimeZones = map[string]string{"org1": "Asia/Shanghai"}
	c.DeviceManyAccounts.MaxAccounts, c.DeviceManyAccounts.MaxDevices = 2, 10
	ff := &c.FaceVerifyFailures
	ff.Failures, ff.Window, ff.MaxDevices, ff.MaxAccounts = 2, 30*time.Minute, 10, 10
	c.SIMSwap.MaxAccounts = 10
	z := &c.DormantAccount
	z.Idle, z.MinActiveDays, z.MinRecords, z.Window, z.MaxActors = 6*time.Hour, 1, 3, 2*time.Hour, 36
	return c
}

var (
	roleOf = []event.Actor{
		{Type: event.ActorStaff, Role: "nurse"},
		{Type: event.ActorDoctor, Role: "physician"},
		{Type: event.ActorStaff, Role: "billing"},
		{Type: event.ActorAdmin, Role: "it_admin"},
	}
	catSets = [][]event.Category{
		{event.CategoryHealth}, {event.CategoryHealth, event.CategoryPrescription}, {event.CategoryContact},
		{event.CategoryFinancial}, {event.CategoryAccount}, {event.CategoryBiometric, event.CategoryIDNumber},
	}
	kinds      = []event.DeviceKind{event.KindLogin, event.KindLogin, event.KindLogin, event.KindPayment, event.KindFaceVerify, event.KindRealnameAuth, event.KindSIMChange, event.KindPasswordReset, event.KindLogout}
	homes      = [][2]float64{{31.2304, 121.4737}, {52.52, 13.405}}
	homeGeo    = []event.Geo{geo("CN", "Shanghai", 31.2304, 121.4737), geo("DE", "Berlin", 52.52, 13.405)}
	farGeo     = geo("RU", "Moscow", 55.7558, 37.6173)
	countryGeo = event.Geo{Country: "BR"}
)

// stream returns a deterministic mixed stream of about n events over
// days days: staff on day and night shifts, app devices, and now and then
// every pattern the behaviours look for; about one event in a hundred
// arrives late (out of order).
func stream(seed uint64, n int, days int) []any {
	r := rand.New(rand.NewPCG(seed, 42))
	span := time.Duration(days) * 24 * time.Hour
	var evs []any
	type timed struct {
		at time.Duration
		e  any
	}
	var all []timed
	id := 0
	nextID := func(p string) string { id++; return fmt.Sprintf("%s%d", p, id) }
	actor := func(i int) event.Actor {
		a := roleOf[i%len(roleOf)]
		a.ID = fmt.Sprintf("S%02d", i)
		a.Department = []string{"cardiology", "oncology", "it"}[i%3]
		return a
	}
	org := func(i int) int { return i % 2 }
	onShift := func(i int, at time.Duration) bool {
		h := int((at+time.Duration(8*(1-org(i)))*time.Hour)/time.Hour) % 24 // local hour
		if i%7 == 0 {
			return h >= 20 || h < 7 // night shift
		}
		return h >= 8 && h < 18
	}
	for range n {
		at := time.Duration(r.Int64N(int64(span)))
		if r.IntN(5) == 0 { // device event
			d := r.IntN(30)
			e := &event.DeviceEvent{EventID: nextID("d"), OccurredAt: event.NewTimestamp(t0.Add(at)),
				Org: []string{"org1", "org2"}[d%2], DeviceID: fmt.Sprintf("D%02d", d),
				AccountID: fmt.Sprintf("U%02d", d+r.IntN(2)*30), Kind: kinds[r.IntN(len(kinds))], Outcome: event.OutcomeSuccess}
			if r.IntN(3) == 0 {
				e.AccountID = fmt.Sprintf("U%02d", r.IntN(60))
			}
			if e.Kind == event.KindFaceVerify && r.IntN(3) == 0 {
				e.Outcome = event.OutcomeFailure
			}
			if r.IntN(40) == 0 {
				e.Signals.Emulator = true
			}
			if r.IntN(20) == 0 {
				e.Signals.Rooted = true
			}
			if r.IntN(2) == 0 {
				h := homes[d%2]
				e.Location = &event.Location{Lat: h[0] + r.Float64()*0.2, Lon: h[1] + r.Float64()*0.2, AccuracyM: 50}
				if r.IntN(60) == 0 {
					e.Location.Lat, e.Location.Lon = 55.75, 37.62
				}
			}
			all = append(all, timed{at, e})
			continue
		}
		i := r.IntN(40)
		if !onShift(i, at) && r.IntN(30) != 0 {
			continue
		}
		mk := func(at time.Duration) *event.AccessEvent {
			e := &event.AccessEvent{EventID: nextID("a"), OccurredAt: event.NewTimestamp(t0.Add(at)),
				Org: []string{"org1", "org2"}[org(i)], Actor: actor(i), Action: event.ActionRead,
				Subject:      event.Subject{ID: fmt.Sprintf("P%03d", r.IntN(300)), Type: event.SubjectPatient, Minor: r.IntN(50) == 0},
				Categories:   catSets[r.IntN(len(catSets))],
				Relationship: event.RelationshipTrue, Outcome: event.OutcomeSuccess,
				Client: event.Client{IP: fmt.Sprintf("10.0.%d.%d", i%5, 2+r.IntN(3)), DeviceID: fmt.Sprintf("WS-%d", i%5),
					Geo: homeGeo[org(i)]},
			}
			switch u := r.IntN(100); {
			case u < 15:
				e.Action, e.Relationship = event.ActionSearch, event.RelationshipUnknown
			case u < 18:
				e.Action, e.Relationship = event.ActionExport, event.RelationshipUnknown
			case u < 20:
				e.Relationship = event.RelationshipFalse
			case u < 21:
				e.Action, e.Relationship = event.ActionBreakGlass, event.RelationshipFalse
			case u < 26:
				e.Action, e.Subject, e.Categories = event.ActionLogin, event.Subject{}, nil
			}
			switch u := r.IntN(400); {
			case u < 2:
				e.Client.Geo = farGeo
			case u < 3:
				e.Client.Geo = countryGeo
			case u < 5:
				e.Client.DeviceID = fmt.Sprintf("PC-%d", r.IntN(1000))
				e.Client.IP = fmt.Sprintf("203.0.113.%d", r.IntN(256))
			case u < 6:
				e.Client.IP = "2001:db8::1"
			}
			return e
		}
		e := mk(at)
		all = append(all, timed{at, e})
		if e.Action == event.ActionBreakGlass && r.IntN(3) == 0 { // a second emergency soon after
			bt := at + 5*time.Minute
			e2 := mk(bt)
			e2.Action, e2.Relationship = event.ActionBreakGlass, event.RelationshipFalse
			all = append(all, timed{bt, e2})
		}
		if r.IntN(1500) == 0 { // a bulk export
			for k := range 40 {
				bt := at + time.Duration(k)*30*time.Second
				e := mk(bt)
				e.Action, e.Relationship, e.Subject.ID = event.ActionExport, event.RelationshipUnknown, fmt.Sprintf("X%d-%d", id, k)
				e.Client.Geo = homeGeo[org(i)]
				all = append(all, timed{bt, e})
			}
		}
	}
	slices.SortStableFunc(all, func(a, b timed) int { return int((a.at - b.at) / time.Millisecond) })
	// Late arrivals: move one event in a hundred a few places later.
	for k := range all {
		if r.IntN(100) == 0 && k+5 < len(all) {
			j := k + 1 + r.IntN(4)
			all[k], all[j] = all[j], all[k]
		}
	}
	for _, x := range all {
		evs = append(evs, x.e)
	}
	return evs
}
