package behave

import (
	"fmt"
	"math"
	"time"

	"github.com/vigil-audit/vigil/detector"
	"github.com/vigil-audit/vigil/internal/event"
)

// travel is the impossible_travel behaviour.
type travel struct {
	cfg       TravelConfig
	actors    *table[key, position] // access stream: org/actor
	accounts  *table[key, position] // device stream: org/account
	lastSweep int64
	forget    int64
	country   int64 // CountryChangeWithin in ms
}

// position is where an actor or account was last seen. The byte slices
// keep their capacity from event to event, so updating them does not
// allocate.
type position struct {
	at       int64
	lat, lon float64
	accKm    float64
	hasLL    bool
	country  []byte
	city     []byte
	eventID  []byte
	deviceID []byte // device stream: the device of the last event
	covered  bool   // the last event is in a finding already
}

func newTravel(c TravelConfig) *travel {
	reset := func(p *position) {
		*p = position{country: p.country[:0], city: p.city[:0], eventID: p.eventID[:0], deviceID: p.deviceID[:0]}
	}
	return &travel{
		cfg:       c,
		actors:    newTable[key](c.MaxActors, reset),
		accounts:  newTable[key](c.MaxAccounts, reset),
		lastSweep: noHour,
		forget:    c.ForgetAfter.Milliseconds(),
		country:   c.CountryChangeWithin.Milliseconds(),
	}
}

func (b *travel) Name() string             { return RuleImpossibleTravel }
func (b *travel) Title() string            { return "Impossible travel" }
func (b *travel) Severity() event.Severity { return b.cfg.Severity }
func (b *travel) Stats() Stats {
	return Stats{Tracked: b.actors.len() + b.accounts.len(),
		Evicted: b.actors.evictions + b.accounts.evictions, Expired: b.actors.expired + b.accounts.expired}
}

// jump is a move between two positions that was too fast.
type jump struct {
	km, kmh  float64
	dt       time.Duration
	byCountr bool // decided by a country change without coordinates
}

// check compares the new position (t, lat, lon, accKm, country) with p.
func (b *travel) check(p *position, t int64, hasLL bool, lat, lon, accKm float64, country string) (jump, bool) {
	dt := t - p.at
	if dt < 0 {
		dt = -dt
	}
	if dt > b.forget {
		return jump{}, false
	}
	if hasLL && p.hasLL {
		if lat == p.lat && lon == p.lon {
			return jump{}, false // the usual case: same place
		}
		km := haversineKm(p.lat, p.lon, lat, lon) - p.accKm - accKm
		if km < b.cfg.MinDistanceKm {
			return jump{}, false
		}
		hours := float64(max(dt, 1000)) / float64(msHour)
		kmh := km / hours
		if kmh <= b.cfg.MaxSpeedKmh {
			return jump{}, false
		}
		return jump{km: km, kmh: kmh, dt: time.Duration(dt) * time.Millisecond}, true
	}
	if country != "" && len(p.country) > 0 && string(p.country) != country && dt <= b.country {
		return jump{dt: time.Duration(dt) * time.Millisecond, byCountr: true}, true
	}
	return jump{}, false
}

// update moves p to the new position if it is not older than p.
func update(p *position, created bool, t int64, hasLL bool, lat, lon, accKm float64, country, city, id, device string, covered bool) {
	if !created && t < p.at {
		return
	}
	p.covered = covered
	p.at, p.hasLL, p.lat, p.lon, p.accKm = t, hasLL, lat, lon, accKm
	p.country = append(p.country[:0], country...)
	p.city = append(p.city[:0], city...)
	p.eventID = append(p.eventID[:0], id...)
	p.deviceID = append(p.deviceID[:0], device...)
}

func (b *travel) Access(e *event.AccessEvent, emit func(detector.Finding)) {
	g := &e.Client.Geo
	hasLL := g.Lat != nil && g.Lon != nil
	if e.Actor.ID == "" || !hasLL && g.Country == "" {
		return
	}
	var lat, lon float64
	if hasLL {
		lat, lon = *g.Lat, *g.Lon
	}
	t := ms(e.OccurredAt)
	p, created := b.actors.get(key{e.Org, e.Actor.ID}, t)
	fired := false
	if !created {
		if j, ok := b.check(p, t, hasLL, lat, lon, 0, g.Country); ok {
			f := actorFinding(RuleImpossibleTravel, b.Title(), b.cfg.Severity, e)
			b.pair(&f, p, t, e.EventID)
			f.Explanation = b.explain("This actor", j, placeName(string(p.city), string(p.country)), placeName(g.City, g.Country), t < p.at)
			emit(f)
			fired = true
		}
	}
	update(p, created, t, hasLL, lat, lon, 0, g.Country, g.City, e.EventID, "", fired)
}

func (b *travel) Device(e *event.DeviceEvent, emit func(detector.Finding)) {
	if e.Location == nil || e.AccountID == "" {
		return
	}
	l := e.Location
	accKm := l.AccuracyM / 1000
	t := ms(e.OccurredAt)
	p, created := b.accounts.get(key{e.Org, e.AccountID}, t)
	fired := false
	if !created {
		if j, ok := b.check(p, t, true, l.Lat, l.Lon, accKm, ""); ok {
			f := deviceFinding(RuleImpossibleTravel, b.Title(), b.cfg.Severity, e)
			b.pair(&f, p, t, e.EventID)
			where := "on this device"
			if string(p.deviceID) != e.DeviceID {
				where = "on another device"
			}
			f.Explanation = fmt.Sprintf("This account was reported %s %.0f km away %s earlier: %.0f km/h, faster than %.0f km/h.",
				where, j.km, ago(j.dt), j.kmh, b.cfg.MaxSpeedKmh)
			if t < p.at {
				f.Explanation = fmt.Sprintf("This account was reported %s %.0f km away %s later: %.0f km/h, faster than %.0f km/h.",
					where, j.km, ago(j.dt), j.kmh, b.cfg.MaxSpeedKmh)
			}
			emit(f)
			fired = true
		}
	}
	update(p, created, t, true, l.Lat, l.Lon, accKm, "", "", e.EventID, e.DeviceID, fired)
}

// pair makes f cover the previous position's event and the current one.
// Count is what the finding adds: the previous event only if no finding
// covered it yet (which it now does).
func (b *travel) pair(f *detector.Finding, p *position, t int64, id string) {
	first, last := p.at, t
	ids := []string{string(p.eventID), id}
	if t < p.at {
		first, last = t, p.at
		ids[0], ids[1] = ids[1], ids[0]
	}
	f.Start, f.End, f.Count = tm(first), tm(last), 2
	if p.covered {
		f.Count = 1
	}
	p.covered = true
	f.Evidence = ids[:0]
	for _, s := range ids {
		if s != "" {
			f.Evidence = append(f.Evidence, s)
		}
	}
}

func placeName(city, country string) string {
	switch {
	case city != "" && country != "":
		return city + ", " + country
	case country != "":
		return country
	case city != "":
		return city
	}
	return "an unnamed place"
}

func (b *travel) explain(who string, j jump, from, to string, late bool) string {
	if late {
		from, to = to, from
	}
	if j.byCountr {
		return fmt.Sprintf("%s was in %s and %s later in %s, another country, without coordinates to tell the distance.",
			who, from, ago(j.dt), to)
	}
	return fmt.Sprintf("%s was in %s and %s later in %s, %.0f km away: %.0f km/h, faster than %.0f km/h.",
		who, from, ago(j.dt), to, j.km, j.kmh, b.cfg.MaxSpeedKmh)
}

func (b *travel) Advance(w time.Time) {
	h := floorDiv(w.UnixMilli(), msHour)
	if h <= b.lastSweep {
		return
	}
	b.lastSweep = h
	cut := w.UnixMilli() - b.forget
	b.actors.expire(cut)
	b.accounts.expire(cut)
}

func writePositions(w *wbuf, t *table[key, position]) {
	w.u(uint64(t.len()))
	t.each(func(k key, touched int64, p *position) {
		w.key(k)
		w.i(touched)
		w.i(p.at)
		w.bool(p.hasLL)
		w.f(p.lat)
		w.f(p.lon)
		w.f(p.accKm)
		w.s(string(p.country))
		w.s(string(p.city))
		w.s(string(p.eventID))
		w.s(string(p.deviceID))
		w.bool(p.covered)
	})
}

func readPositions(r *rbuf, t *table[key, position]) {
	n := r.n(len(r.b))
	for range n {
		k := r.key()
		touched := r.i()
		if r.err != nil {
			return
		}
		p, _ := t.get(k, touched)
		p.at = r.i()
		p.hasLL = r.bool()
		p.lat, p.lon, p.accKm = r.f(), r.f(), r.f()
		if math.IsNaN(p.lat) || math.IsNaN(p.lon) || math.IsNaN(p.accKm) {
			r.fail("bad position")
		}
		p.country = append(p.country[:0], r.s()...)
		p.city = append(p.city[:0], r.s()...)
		p.eventID = append(p.eventID[:0], r.s()...)
		p.deviceID = append(p.deviceID[:0], r.s()...)
		p.covered = r.bool()
	}
}

func (b *travel) MarshalState() ([]byte, error) {
	w := newWbuf(b.Name())
	w.i(b.lastSweep)
	writePositions(w, b.actors)
	writePositions(w, b.accounts)
	return w.b, nil
}

func (b *travel) UnmarshalState(data []byte) error {
	b.actors.clear()
	b.accounts.clear()
	b.lastSweep = noHour
	if data == nil {
		return nil
	}
	r := newRbuf(data, b.Name())
	b.lastSweep = r.i()
	readPositions(r, b.actors)
	readPositions(r, b.accounts)
	if err := r.done(); err != nil {
		b.actors.clear()
		b.accounts.clear()
		b.lastSweep = noHour
		return fmt.Errorf("%s: %w", b.Name(), err)
	}
	return nil
}
