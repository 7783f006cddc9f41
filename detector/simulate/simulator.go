package simulate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/vigil-audit/vigil/collector/pseudo"
	"github.com/vigil-audit/vigil/internal/event"
)

// Simulator generates one run of traffic. Build it with New and call Run
// once.
type Simulator struct {
	cfg    Config
	w      *world
	g      *gen
	prefix []byte
	size   sizing

	started atomic.Bool
	stats   counters
}

type counters struct {
	access, device, labels, partial, skipped atomic.Int64
	simTime                                  atomic.Int64 // Unix ms of the last event emitted
}

// Stats are a run's counts so far. Stats is safe to call while Run runs.
type Stats struct {
	// Access and Device count the events handed to the sink.
	Access, Device int64
	// Labels counts the complete incidents labelled; Partial those cut
	// short by the end of the context.
	Labels, Partial int64
	// Skipped counts incidents that could not be placed (no suitable
	// actor, or they would not have ended before the run).
	Skipped int64
	// SimTime is the occurred_at of the last event handed to the sink.
	SimTime time.Time
}

// Stats returns the counts so far.
func (s *Simulator) Stats() Stats {
	st := Stats{
		Access: s.stats.access.Load(), Device: s.stats.device.Load(),
		Labels: s.stats.labels.Load(), Partial: s.stats.partial.Load(), Skipped: s.stats.skipped.Load(),
	}
	if ms := s.stats.simTime.Load(); ms != 0 {
		st.SimTime = time.UnixMilli(ms).UTC()
	}
	return st
}

// New builds the population of cfg and returns a Simulator ready to Run.
func New(cfg Config) (*Simulator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("simulate: %w", err)
	}
	cfg = cfg.withDefaults(time.Now())
	w, err := newWorld(cfg.Seed, cfg)
	if err != nil {
		return nil, fmt.Errorf("simulate: %w", err)
	}
	s := &Simulator{cfg: cfg, w: w, size: planSize(cfg.Rate, cfg.Orgs)}
	prefix := cfg.IDPrefix
	if prefix == "" {
		prefix = "sim-" + runDigest(cfg) + "-"
	}
	s.prefix = []byte(prefix)
	s.g = newGen(w, cfg)
	s.g.prefix = prefix
	s.g.busyIv = map[uint64][2]int64{}
	if cfg.Key != nil {
		p, err := pseudo.New(cfg.Key, pseudo.Defaults())
		if err != nil {
			return nil, fmt.Errorf("simulate: %w", err)
		}
		s.g.tok = p
	}
	return s, nil
}

// runDigest names a configuration: 8 hex digits of SHA-256 over what
// shapes the output.
func runDigest(c Config) string {
	h := sha256.New()
	fmt.Fprintf(h, "seed=%d start=%d dur=%d rt=%t rate=%v orgs=%d iph=%v noinc=%t kinds=%v first=%d",
		c.Seed, c.Start.UnixMilli(), c.Duration, c.RealTime, c.Rate, c.Orgs, c.IncidentsPerHour, c.NoIncidents, c.Kinds, c.FirstIncidentsAfter)
	return hex.EncodeToString(h.Sum(nil)[:4])
}

// Org describes a tenant of the population.
type Org struct {
	// ID is the org id events carry.
	ID string
	// TimeZone is the IANA name of its time zone.
	TimeZone string
	// Location is its time zone, for sigma.Options.TimeZones.
	Location *time.Location
	// Country is its ISO 3166-1 alpha-2 country code, City its city.
	Country, City string
}

// Orgs lists the tenants of the population, in order.
func (s *Simulator) Orgs() []Org {
	out := make([]Org, len(s.w.orgs))
	for i, o := range s.w.orgs {
		out[i] = Org{ID: o.id, TimeZone: o.spec.tz, Location: o.loc, Country: o.spec.home.country, City: o.spec.home.city}
	}
	return out
}

// TimeZones maps every org id to its time zone, as the detector's rule
// engine wants it (sigma.Options.TimeZones).
func (s *Simulator) TimeZones() map[string]*time.Location {
	m := make(map[string]*time.Location, len(s.w.orgs))
	for _, o := range s.w.orgs {
		m[o.id] = o.loc
	}
	return m
}

// Start is when the run's clock starts (with defaults applied).
func (s *Simulator) Start() time.Time { return s.cfg.Start }

// End is when the run ends; zero when it runs until the context ends.
func (s *Simulator) End() time.Time {
	if s.cfg.Duration == 0 {
		return time.Time{}
	}
	return s.cfg.Start.Add(s.cfg.Duration)
}

// ExpectedEvents estimates how many events the run emits (zero for an
// unbounded run): the rate times the duration, plus the incidents.
func (s *Simulator) ExpectedEvents() int64 {
	if s.cfg.Duration == 0 {
		return 0
	}
	n := s.cfg.Rate * s.cfg.Duration.Seconds()
	if !s.cfg.NoIncidents {
		n += s.cfg.IncidentsPerHour * s.cfg.Duration.Hours() * float64(len(s.cfg.Kinds)) * 45
	}
	return int64(n)
}

// Describe writes a summary of the population and the run.
func (s *Simulator) Describe(w io.Writer) {
	var staff, doctors, patients, vips, minors, users, devices, departing int
	var zones []string
	for _, o := range s.w.orgs {
		staff += o.nHumans
		doctors += len(o.byRole[roleDoctor])
		patients += len(o.patients)
		vips += len(o.vips)
		users += len(o.users)
		devices += len(o.devices)
		departing += len(o.departing)
		for i := range o.patients {
			if o.patients[i].minor() {
				minors++
			}
		}
		zones = append(zones, o.id+" ("+o.spec.tz+")")
	}
	fmt.Fprintf(w, "orgs:       %s\n", strings.Join(zones, ", "))
	fmt.Fprintf(w, "population: %d staff (%d doctors, %d on notice) and %d service accounts; %d patients (%d minors, %d VIPs); %d app users on %d devices\n",
		staff, doctors, departing, len(s.w.orgs)*nServices, patients, minors, vips, users, devices)
	mode := "simulated clock"
	if s.cfg.RealTime {
		mode = "real time"
	}
	span := "until interrupted"
	if s.cfg.Duration > 0 {
		span = s.cfg.Start.Format(time.RFC3339) + " + " + s.cfg.Duration.String()
	}
	fmt.Fprintf(w, "traffic:    %s, %s, about %s events/s (%.0f%% device events)\n", mode, span,
		strconv.FormatFloat(s.cfg.Rate, 'f', -1, 64), (1-accessShare)*100)
	if s.cfg.NoIncidents {
		fmt.Fprintf(w, "incidents:  none\n")
	} else {
		ks := make([]string, len(s.cfg.Kinds))
		for i, k := range s.cfg.Kinds {
			ks[i] = string(k)
		}
		fmt.Fprintf(w, "incidents:  %s per hour of each of %s\n", strconv.FormatFloat(s.cfg.IncidentsPerHour, 'f', -1, 64), strings.Join(ks, ", "))
	}
}

// Sink receives what a run generates, in time order: access and device
// events interleaved by occurred_at, and each incident's label right after
// the incident's last event. An event is only valid during the call: a
// sink that keeps it must copy it (see CopyAccess, CopyDevice), and must
// not modify it, since events share maps, slices and pointers.
//
// Run calls Flush before it waits in real-time mode (at most once a
// second) and at the end of the run. Closing a sink is its owner's job.
type Sink interface {
	Access(ctx context.Context, e *event.AccessEvent) error
	Device(ctx context.Context, e *event.DeviceEvent) error
	Label(ctx context.Context, l *Label) error
	Flush(ctx context.Context) error
}

// finalFlushTimeout bounds the flush after the context ended.
const finalFlushTimeout = 15 * time.Second

// sliceLen is the background generation step.
const sliceLen = time.Minute

// demoSpeed scales the durations of the incidents of the demo burst
// (Config.FirstIncidentsAfter): two hours become four minutes.
const demoSpeed = 1.0 / 30

// windowLen is the incident scheduling window.
const windowLen = time.Hour

// Run generates the traffic into sink. In simulated mode it returns when
// the run's duration is done; in real-time mode without a duration, when
// ctx ends. It returns the first error of the sink, or ctx.Err() when ctx
// ended first — after flushing the sink and labelling the incidents cut
// short as partial. Run may be called once.
func (s *Simulator) Run(ctx context.Context, sink Sink) error {
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("simulate: Run called twice; build a new Simulator")
	}
	r := runner{s: s, g: s.g, sink: sink, lastFlush: time.Now()}
	err := r.run(ctx)
	if err == nil || ctx.Err() != nil {
		fctx := ctx
		if ctx.Err() != nil {
			var cancel context.CancelFunc
			fctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), finalFlushTimeout)
			defer cancel()
			if perr := r.partialLabels(fctx); perr != nil {
				return perr
			}
		}
		if ferr := sink.Flush(fctx); ferr != nil {
			return fmt.Errorf("simulate: flush: %w", ferr)
		}
	}
	return err
}

type runner struct {
	s         *Simulator
	g         *gen
	sink      Sink
	idBuf     []byte
	seq       uint64
	lastFlush time.Time
	open      []*episode // incidents with events emitted but not all
}

func (r *runner) run(ctx context.Context) error {
	cfg := &r.s.cfg
	start := cfg.Start
	end := int64(math.MaxInt64)
	var endT time.Time
	if cfg.Duration > 0 {
		endT = start.Add(cfg.Duration)
		end = endT.UnixMilli()
	}
	r.idBuf = append(make([]byte, 0, len(r.s.prefix)+16), r.s.prefix...)
	r.g.planDormant(start, endT, r.dormantIncidents())
	if cfg.FirstIncidentsAfter > 0 && !cfg.NoIncidents {
		r.g.speed = demoSpeed
		for i, k := range cfg.Kinds {
			t := start.Add(cfg.FirstIncidentsAfter + time.Duration(i)*3*time.Second)
			r.place(k, t, end)
		}
		r.g.speed = 1
	}
	var plan []planned
	if !endT.IsZero() && !cfg.NoIncidents {
		plan = r.planIncidents(start, endT)
	}
	for w := start; endT.IsZero() || w.Before(endT); w = w.Add(windowLen) {
		wEnd := w.Add(windowLen)
		if !endT.IsZero() && wEnd.After(endT) {
			wEnd = endT
		}
		r.g.scheduleScenarios(w, wEnd, end)
		switch {
		case cfg.NoIncidents:
		case endT.IsZero():
			r.scheduleIncidents(w, wEnd, end)
		default:
			for len(plan) > 0 && plan[0].at.Before(wEnd) {
				r.place(plan[0].kind, plan[0].at, end)
				plan = plan[1:]
			}
		}
		for sl := w; sl.Before(wEnd); sl = sl.Add(sliceLen) {
			if err := ctx.Err(); err != nil {
				return err
			}
			slEnd := sl.Add(sliceLen)
			if slEnd.After(wEnd) {
				slEnd = wEnd
			}
			if err := r.slice(ctx, sl, slEnd); err != nil {
				return err
			}
		}
	}
	return nil
}

// dormantIncidents is how many dormant_account incidents the run will
// place at most: the demo burst's and those planned for the duration (for
// a run without a duration, its first dormantUnbounded hours).
func (r *runner) dormantIncidents() int {
	cfg := &r.s.cfg
	if cfg.NoIncidents || !slices.Contains(cfg.Kinds, KindDormantAccount) {
		return 0
	}
	n := 0
	if cfg.FirstIncidentsAfter > 0 {
		n++
	}
	hours := float64(dormantUnbounded)
	if cfg.Duration > 0 {
		hours = cfg.Duration.Hours()
	}
	return n + int(math.Ceil(cfg.IncidentsPerHour*hours))
}

// planned is an incident to place.
type planned struct {
	at   time.Time
	kind Kind
}

// planIncidents spreads the incidents of a bounded run: for each kind,
// IncidentsPerHour times the duration (the fraction is drawn), in equal
// slots of [start, end - the kind's longest duration), so that every one
// can end before the run does.
func (r *runner) planIncidents(start, end time.Time) []planned {
	cfg := &r.s.cfg
	rr := r.g.inc
	want := cfg.IncidentsPerHour * end.Sub(start).Hours()
	var plan []planned
	for _, k := range cfg.Kinds {
		n := int(want)
		if rr.float() < want-float64(n) {
			n++
		}
		last := end.Add(-maxDuration[k])
		if !last.After(start) {
			last = end
		}
		slot := last.Sub(start) / time.Duration(max(n, 1))
		for i := range n {
			plan = append(plan, planned{start.Add(slot*time.Duration(i) + time.Duration(rr.float()*float64(slot))), k})
		}
	}
	slices.SortStableFunc(plan, func(a, b planned) int { return a.at.Compare(b.at) })
	return plan
}

// scheduleIncidents places the incidents of [from, to) of an unbounded
// run: for each kind,
// IncidentsPerHour per hour on average (the fraction is drawn), spread
// over equal slots of the window.
func (r *runner) scheduleIncidents(from, to time.Time, end int64) {
	cfg := &r.s.cfg
	rr := r.g.inc
	span := to.Sub(from)
	want := cfg.IncidentsPerHour * span.Hours()
	for _, k := range cfg.Kinds {
		n := int(want)
		if rr.float() < want-float64(n) {
			n++
		}
		for i := range n {
			slot := span / time.Duration(n)
			t := from.Add(slot*time.Duration(i) + time.Duration(rr.float()*float64(slot)))
			r.place(k, t, end)
		}
	}
}

func (r *runner) place(k Kind, t time.Time, end int64) {
	if !r.g.incident(k, t, end) {
		r.s.stats.skipped.Add(1)
		r.s.cfg.Logger.Info("incident not placed", "kind", string(k), "at", t.Format(time.RFC3339))
	}
}

// slice generates and emits the events of [from, to).
func (r *runner) slice(ctx context.Context, from, to time.Time) error {
	g := r.g
	g.background(from, to)
	toMs := to.UnixMilli()
	bi := 0
	for {
		var it *item
		top := g.heap.peek()
		switch {
		case top != nil && top.at < toMs && (bi == len(g.bgIt) || !less(&g.bgIt[bi], top)):
			x := g.heap.pop()
			it = &x
		case bi < len(g.bgIt):
			it = &g.bgIt[bi]
			bi++
		default:
			return nil
		}
		if err := r.emit(ctx, it); err != nil {
			return err
		}
		if r.seq&63 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
	}
}

// emit assigns the event its id, waits for its time in real-time mode, and
// hands it to the sink.
func (r *runner) emit(ctx context.Context, it *item) error {
	if r.s.cfg.RealTime {
		if err := r.wait(ctx, it.at); err != nil {
			return err
		}
	}
	r.seq++
	r.idBuf = strconv.AppendUint(r.idBuf[:len(r.s.prefix)], r.seq, 36)
	id := string(r.idBuf)
	var err error
	switch {
	case it.dev && it.ep != nil:
		e := &it.ep.dev[it.idx]
		e.EventID = id
		err = r.sink.Device(ctx, e)
		r.s.stats.device.Add(1)
	case it.dev:
		e := &r.g.dev[it.idx]
		e.EventID = id
		err = r.sink.Device(ctx, e)
		r.s.stats.device.Add(1)
	case it.ep != nil:
		e := &it.ep.acc[it.idx]
		e.EventID = id
		err = r.sink.Access(ctx, e)
		r.s.stats.access.Add(1)
	default:
		e := &r.g.acc[it.idx]
		e.EventID = id
		err = r.sink.Access(ctx, e)
		r.s.stats.access.Add(1)
	}
	r.s.stats.simTime.Store(it.at)
	if err != nil {
		return fmt.Errorf("simulate: sink: %w", err)
	}
	if ep := it.ep; ep != nil {
		ep.left--
		ep.lastAt = it.at
		if ep.label != nil {
			ep.label.EventIDs = append(ep.label.EventIDs, id)
			if ep.left == 0 {
				r.closeEpisode(ep)
				r.s.stats.labels.Add(1)
				if err := r.sink.Label(ctx, ep.label); err != nil {
					return fmt.Errorf("simulate: sink: %w", err)
				}
			} else if len(ep.label.EventIDs) == 1 {
				r.open = append(r.open, ep)
			}
		}
		if ep.left == 0 {
			ep.acc, ep.dev = nil, nil
		}
	}
	return nil
}

func (r *runner) closeEpisode(ep *episode) {
	for i, e := range r.open {
		if e == ep {
			r.open = append(r.open[:i], r.open[i+1:]...)
			return
		}
	}
}

// partialLabels labels the incidents the end of the context cut short.
func (r *runner) partialLabels(ctx context.Context) error {
	for _, ep := range r.open {
		ep.label.Partial = true
		ep.label.End = ts(ep.lastAt)
		r.s.stats.partial.Add(1)
		if err := r.sink.Label(ctx, ep.label); err != nil {
			return fmt.Errorf("simulate: sink: %w", err)
		}
	}
	r.open = nil
	return nil
}

// wait sleeps until at (Unix ms), flushing the sink first when it has not
// been flushed for a second.
func (r *runner) wait(ctx context.Context, at int64) error {
	d := time.Until(time.UnixMilli(at))
	if d <= 0 {
		return nil
	}
	if time.Since(r.lastFlush) >= time.Second {
		if err := r.sink.Flush(ctx); err != nil {
			return fmt.Errorf("simulate: flush: %w", err)
		}
		r.lastFlush = time.Now()
		if d = time.Until(time.UnixMilli(at)); d <= 0 {
			return nil
		}
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
