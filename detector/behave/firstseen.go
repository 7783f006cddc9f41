package behave

import (
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/vigil-audit/vigil/detector"
	"github.com/vigil-audit/vigil/internal/event"
)

// firstSeen is the first_seen behaviour.
type firstSeen struct {
	cfg                FirstSeenConfig
	types              []event.ActorType
	roles              []string
	device, net, place bool
	category           bool
	actors             *table[key, fsActor]
	lastSweep          int64
	forget, learn      int64 // ms
	novel              []string
	newCats            []event.Category
}

// fsActor is what one privileged actor has been seen with.
type fsActor struct {
	first   int64 // occurred_at of its first event
	last    int64 // occurred_at of its latest event
	days    uint32
	lastDay int64
	cats    uint32 // category bits seen
	devices []seenVal
	nets    []seenVal
	places  []seenVal // countries (tag 'c') and cities (tag 'p')
}

// maxValues bounds first_seen.max_values.
const maxValues = 4096

// seenVal is a remembered value: its hash and when it was last seen.
type seenVal struct {
	h    uint64
	last int64
}

func newFirstSeen(c FirstSeenConfig) *firstSeen {
	f := &firstSeen{
		cfg: c, types: c.ActorTypes, roles: c.Roles,
		device:   slices.Contains(c.Attributes, "device"),
		net:      slices.Contains(c.Attributes, "network"),
		place:    slices.Contains(c.Attributes, "place"),
		category: slices.Contains(c.Attributes, "category"),
		forget:   c.ForgetAfter.Milliseconds(), learn: c.LearningPeriod.Milliseconds(),
		lastSweep: noHour,
	}
	f.actors = newTable[key](c.MaxActors, func(a *fsActor) {
		*a = fsActor{devices: a.devices[:0], nets: a.nets[:0], places: a.places[:0], lastDay: noHour}
	})
	return f
}

func (f *firstSeen) Name() string             { return RuleFirstSeen }
func (f *firstSeen) Title() string            { return "Privileged actor seen with something new" }
func (f *firstSeen) Severity() event.Severity { return f.cfg.Severity }
func (f *firstSeen) Stats() Stats {
	return Stats{Tracked: f.actors.len(), Evicted: f.actors.evictions, Expired: f.actors.expired}
}
func (f *firstSeen) Device(*event.DeviceEvent, func(detector.Finding)) {}

func (f *firstSeen) privileged(a *event.Actor) bool {
	return slices.Contains(f.types, a.Type) || len(f.roles) > 0 && slices.Contains(f.roles, a.Role)
}

func (f *firstSeen) Access(e *event.AccessEvent, emit func(detector.Finding)) {
	if e.Actor.ID == "" || !f.privileged(&e.Actor) {
		return
	}
	t := ms(e.OccurredAt)
	a, created := f.actors.get(key{e.Org, e.Actor.ID}, t)
	if !created && t-a.last >= f.forget {
		// Not seen for forget_after: learn it again from scratch, as if
		// expiry had already dropped it.
		f.actors.reset(a)
		created = true
	}
	if created {
		a.first, a.last = t, t
	}
	a.first = min(a.first, t)
	a.last = max(a.last, t)
	if d := floorDiv(t, msDay); d > a.lastDay {
		a.lastDay = d
		a.days = satAdd(a.days)
	}
	learned := t-a.first >= f.learn && a.days >= uint32(f.cfg.MinActiveDays)
	f.novel = f.novel[:0]
	f.newCats = f.newCats[:0]
	limit := f.cfg.MaxValues
	if f.device && e.Client.DeviceID != "" {
		if !remember(&a.devices, hashString(e.Client.DeviceID), t, f.forget, limit) {
			f.novel = append(f.novel, "device")
		}
	}
	if f.net && e.Client.IP != "" {
		if h, ok := f.network(e.Client.IP); ok && !remember(&a.nets, h, t, f.forget, limit) {
			f.novel = append(f.novel, "network")
		}
	}
	if f.place && e.Client.Geo.Country != "" {
		g := &e.Client.Geo
		newCountry := !remember(&a.places, strHash(seedA, g.Country), t, f.forget, 2*limit)
		newCity := !remember(&a.places, strHash(strHash(strHash(seedB, g.Country), g.Region), g.City), t, f.forget, 2*limit)
		switch {
		case newCountry:
			f.novel = append(f.novel, "country")
		case newCity && g.City != "":
			f.novel = append(f.novel, "city")
		}
	}
	if f.category && e.Outcome == event.OutcomeSuccess {
		set := categorySet(e.Categories)
		if n := set &^ a.cats; n != 0 {
			for _, c := range e.Categories {
				if n&categoryBit(c) != 0 {
					f.newCats = append(f.newCats, c)
				}
			}
			f.novel = append(f.novel, "category")
		}
		a.cats |= set
	}
	if !learned || len(f.novel) == 0 {
		return
	}
	fd := actorFinding(RuleFirstSeen, f.Title(), f.cfg.Severity, e)
	fd.Explanation = f.explain(a, e, t)
	emit(fd)
}

// network returns the hash of the network of ip, or false if ip does not
// parse.
func (f *firstSeen) network(ip string) (uint64, bool) {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return 0, false
	}
	addr = addr.Unmap()
	bits := f.cfg.IPv6Prefix
	if addr.Is4() {
		bits = f.cfg.IPv4Prefix
	}
	p, err := addr.WithZone("").Prefix(bits)
	if err != nil {
		return 0, false
	}
	b := p.Addr().As16()
	hi, lo := uint64(0), uint64(0)
	for i := range 8 {
		hi, lo = hi<<8|uint64(b[i]), lo<<8|uint64(b[8+i])
	}
	return mix(mix(seedA^hi) ^ lo ^ uint64(bits)), true
}

// remember records h as seen at t in vals and reports whether it had
// been seen (within forget ms). A full list forgets its least recently
// seen value.
func remember(vals *[]seenVal, h uint64, t, forget int64, limit int) bool {
	s := *vals
	oldest := -1
	for i := range s {
		if s[i].h == h {
			seen := t-s[i].last < forget
			s[i].last = maxI64(s[i].last, t)
			return seen
		}
		if oldest < 0 || s[i].last < s[oldest].last {
			oldest = i
		}
	}
	if len(s) < limit {
		*vals = append(s, seenVal{h, t})
	} else {
		s[oldest] = seenVal{h, t}
	}
	return false
}

func maxI64(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

func (f *firstSeen) explain(a *fsActor, e *event.AccessEvent, t int64) string {
	parts := make([]string, 0, len(f.novel))
	for _, n := range f.novel {
		switch n {
		case "device":
			parts = append(parts, "a new device")
		case "network":
			parts = append(parts, "a new network")
		case "country":
			parts = append(parts, "a new country ("+e.Client.Geo.Country+")")
		case "city":
			parts = append(parts, fmt.Sprintf("a new city (%s, %s)", e.Client.Geo.City, e.Client.Geo.Country))
		case "category":
			parts = append(parts, "new data ("+strings.ReplaceAll(joinStrings(f.newCats), "|", ", ")+")")
		}
	}
	what := parts[0]
	if len(parts) > 1 {
		what = strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
	}
	days := (t - a.first) / msDay
	return fmt.Sprintf("This privileged actor (%s, %s) used %s, never seen in its %s of history.",
		e.Actor.Type, orNone(e.Actor.Role), what, plural(days, "day", "days"))
}

func (f *firstSeen) Advance(w time.Time) {
	h := floorDiv(w.UnixMilli(), msHour)
	if h <= f.lastSweep {
		return
	}
	f.lastSweep = h
	f.actors.expire(w.UnixMilli() - f.forget)
}

func writeVals(w *wbuf, vs []seenVal) {
	w.u(uint64(len(vs)))
	for _, v := range vs {
		w.h(v.h)
		w.i(v.last)
	}
}

func readVals(r *rbuf, dst []seenVal, limit int) []seenVal {
	n := r.n(limit)
	for range n {
		dst = append(dst, seenVal{r.h(), r.i()})
	}
	return dst
}

func (f *firstSeen) MarshalState() ([]byte, error) {
	w := newWbuf(f.Name())
	w.i(f.lastSweep)
	w.u(uint64(f.actors.len()))
	f.actors.each(func(k key, touched int64, a *fsActor) {
		w.key(k)
		w.i(touched)
		w.i(a.first)
		w.i(a.last)
		w.u(uint64(a.days))
		w.i(a.lastDay)
		w.u(uint64(a.cats))
		writeVals(w, a.devices)
		writeVals(w, a.nets)
		writeVals(w, a.places)
	})
	return w.b, nil
}

func (f *firstSeen) UnmarshalState(data []byte) error {
	f.actors.clear()
	f.lastSweep = noHour
	if data == nil {
		return nil
	}
	r := newRbuf(data, f.Name())
	f.lastSweep = r.i()
	n := r.n(len(r.b))
	for range n {
		k := r.key()
		touched := r.i()
		if r.err != nil {
			break
		}
		a, _ := f.actors.get(k, touched)
		a.first = r.i()
		a.last = r.i()
		a.days = uint32(r.n(math.MaxUint32))
		a.lastDay = r.i()
		a.cats = uint32(r.n(math.MaxUint32))
		a.devices = readVals(r, a.devices[:0], 2*maxValues)
		a.nets = readVals(r, a.nets[:0], 2*maxValues)
		a.places = readVals(r, a.places[:0], 2*maxValues)
	}
	if err := r.done(); err != nil {
		f.actors.clear()
		f.lastSweep = noHour
		return fmt.Errorf("%s: %w", f.Name(), err)
	}
	return nil
}
