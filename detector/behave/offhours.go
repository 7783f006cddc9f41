package behave

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/vigil-audit/vigil/detector"
	"github.com/vigil-audit/vigil/internal/event"
)

// offHours is the off_hours behaviour.
type offHours struct {
	cfg        OffHoursConfig
	def        *time.Location
	zones      map[string]*time.Location
	start, end int // business minutes of the day [start, end)
	days       uint8
	cats       uint32
	window     int64
	actors     *table[key, ohActor]
	lastSweep  int64
	forget     int64
}

// ohActor is an actor's hour-of-day histogram (local time of its org)
// and its recent off-hours sensitive accesses.
type ohActor struct {
	hist    [24]uint16
	total   uint32
	days    uint32
	lastDay int64
	recent  []bgEvent // the last min_events off-hours sensitive accesses
}

func newOffHours(c OffHoursConfig) (*offHours, error) {
	b := &offHours{cfg: c, cats: categorySet(c.Categories), window: c.Window.Milliseconds(),
		forget: c.ForgetAfter.Milliseconds(), lastSweep: noHour, zones: map[string]*time.Location{}}
	var err error
	if b.def, err = time.LoadLocation(c.DefaultTimeZone); err != nil {
		return nil, fmt.Errorf("%soff_hours.default_time_zone: %w", KeyPrefix, err)
	}
	for org, z := range c.TimeZones {
		loc, err := time.LoadLocation(z)
		if err != nil {
			return nil, fmt.Errorf("%soff_hours.time_zones.%s: %w", KeyPrefix, org, err)
		}
		b.zones[org] = loc
	}
	if b.start, b.end, err = parseBusinessHours(c.BusinessHours); err != nil {
		return nil, fmt.Errorf("%soff_hours.business_hours: %w", KeyPrefix, err)
	}
	for _, d := range c.BusinessDays {
		b.days |= 1 << slices.Index(weekdayNames[:], d)
	}
	b.actors = newTable[key](c.MaxActors, func(a *ohActor) {
		*a = ohActor{recent: a.recent[:0], lastDay: noHour}
	})
	return b, nil
}

func (b *offHours) Name() string             { return RuleOffHours }
func (b *offHours) Title() string            { return "Sensitive data accessed off hours" }
func (b *offHours) Severity() event.Severity { return b.cfg.Severity }
func (b *offHours) Stats() Stats {
	return Stats{Tracked: b.actors.len(), Evicted: b.actors.evictions, Expired: b.actors.expired}
}
func (b *offHours) Device(*event.DeviceEvent, func(detector.Finding)) {}

func (b *offHours) zone(org string) *time.Location {
	if z, ok := b.zones[org]; ok {
		return z
	}
	return b.def
}

// business reports whether local time lt is within business hours.
func (b *offHours) business(lt time.Time) bool {
	if b.days&(1<<lt.Weekday()) == 0 {
		return false
	}
	m := lt.Hour()*60 + lt.Minute()
	if b.start < b.end {
		return m >= b.start && m < b.end
	}
	return m >= b.start || m < b.end
}

// usual reports whether local hour h is one of the actor's usual hours:
// whether the hour, half of each neighbour and a quarter of the hours
// two away hold usual_share of the actor's events. The neighbours make
// an hour or so of overtime at either end of a shift usual.
func (b *offHours) usual(a *ohActor, h int) bool {
	c := func(d int) float64 { return float64(a.hist[(h+d+24)%24]) }
	w := c(0) + (c(-1)+c(1))/2 + (c(-2)+c(2))/4
	return w >= b.cfg.UsualShare*float64(a.total)
}

func (b *offHours) Access(e *event.AccessEvent, emit func(detector.Finding)) {
	if e.Actor.ID == "" {
		return
	}
	t := ms(e.OccurredAt)
	lt := e.OccurredAt.In(b.zone(e.Org))
	hour := lt.Hour()
	a, _ := b.actors.get(key{e.Org, e.Actor.ID}, t)
	learned := a.total >= uint32(b.cfg.MinHistoryEvents) && a.days >= uint32(b.cfg.MinActiveDays)
	if learned && e.Action != event.ActionLogin && hasCategory(e.Categories, b.cats) &&
		!b.business(lt) && !b.usual(a, hour) {
		b.offHour(a, e, t, lt, emit)
	}
	// Learn the hour.
	if a.hist[hour] < math.MaxUint16 {
		a.hist[hour]++
		a.total++
	}
	if a.total >= uint32(b.cfg.HistoryEvents) {
		a.total = 0
		for i, c := range a.hist {
			a.hist[i] = c / 2
			a.total += uint32(a.hist[i])
		}
	}
	_, off := lt.Zone()
	if d := floorDiv(t+int64(off)*1000, msDay); d > a.lastDay {
		a.lastDay = d
		a.days = satAdd(a.days)
	}
}

// offHour records an off-hours sensitive access and fires when
// min_events of them fall within the window.
func (b *offHours) offHour(a *ohActor, e *event.AccessEvent, t int64, lt time.Time, emit func(detector.Finding)) {
	a.recent = pushBounded(a.recent, bgEvent{at: t, subject: strings.Clone(e.Subject.ID), id: strings.Clone(e.EventID)}, b.cfg.MinEvents)
	if len(a.recent) < b.cfg.MinEvents || !spanOK(a.recent, b.window) {
		return
	}
	sev := b.cfg.Severity
	if e.Subject.Minor || slices.Contains(e.Categories, event.CategoryMinorData) {
		sev = maxSeverity(sev, event.SeverityHigh)
	}
	f := actorFinding(RuleOffHours, b.Title(), sev, e)
	cover(&f, a.recent)
	f.Explanation = fmt.Sprintf("This actor accessed sensitive data %s within %s up to %s local time, outside business hours (%s) and outside its usual hours (%s).",
		plural(int64(len(a.recent)), "time", "times"), ago(time.Duration(t-a.recent[0].at)*time.Millisecond),
		lt.Format("Mon 15:04"), b.cfg.BusinessHours, b.usualHours(a))
	emit(f)
}

// usualHours describes the actor's usual hours as ranges: "07:00-19:00".
func (b *offHours) usualHours(a *ohActor) string {
	var parts []string
	for h := 0; h < 24; {
		if !b.usual(a, h) {
			h++
			continue
		}
		s := h
		for h < 24 && b.usual(a, h) {
			h++
		}
		parts = append(parts, fmt.Sprintf("%02d:00-%02d:00", s, h))
	}
	if len(parts) == 0 {
		return "none"
	}
	// Join a range ending at midnight with one starting at it.
	if len(parts) > 1 && strings.HasSuffix(parts[len(parts)-1], "-24:00") && strings.HasPrefix(parts[0], "00:00-") {
		last := parts[len(parts)-1]
		parts[0] = last[:6] + parts[0][6:]
		parts = parts[:len(parts)-1]
	}
	return strings.Join(parts, ", ")
}

func maxSeverity(a, b event.Severity) event.Severity {
	if b.Rank() > a.Rank() {
		return b
	}
	return a
}

func (b *offHours) Advance(w time.Time) {
	h := floorDiv(w.UnixMilli(), msHour)
	if h <= b.lastSweep {
		return
	}
	b.lastSweep = h
	b.actors.expire(w.UnixMilli() - b.forget)
}

func (b *offHours) MarshalState() ([]byte, error) {
	return marshalTable(b.Name(), b.lastSweep, b.actors, func(w *wbuf, a *ohActor) {
		for _, c := range a.hist {
			w.u(uint64(c))
		}
		w.u(uint64(a.days))
		w.i(a.lastDay)
		writeBG(w, a.recent)
	}), nil
}

func (b *offHours) UnmarshalState(data []byte) error {
	return unmarshalTable(data, b.Name(), &b.lastSweep, b.actors, func(r *rbuf, a *ohActor) {
		for i := range a.hist {
			a.hist[i] = uint16(r.n(math.MaxUint16))
			a.total += uint32(a.hist[i])
		}
		a.days = uint32(r.n(math.MaxUint32))
		a.lastDay = r.i()
		a.recent = readBG(r, a.recent)
	})
}
