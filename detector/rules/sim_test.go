package rules

// Replays the traffic simulator through the pack, partitioned as Kafka
// would partition it (access by org/actor, device by device id), and
// scores the alerts against the simulator's labels. TestSimulator runs a
// short, fixed configuration on every test run; longer evaluations take
// environment variables:
//
//	VIGIL_RULES_SIM_DAYS=7 VIGIL_RULES_SIM_RATE=5 VIGIL_RULES_SIM_SEED=3 \
//	  go test -run TestSimulator -v -timeout 30m ./detector/rules/
//
// VIGIL_RULES_SIM_BEHAVIOURS=1 adds the built-in behaviours, so the kinds
// the behaviours cover count as caught too (they need days of learning).

import (
	"context"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-audit/vigil/detector"
	"github.com/vigil-audit/vigil/detector/behave"
	"github.com/vigil-audit/vigil/detector/sigma"
	"github.com/vigil-audit/vigil/detector/simulate"
	"github.com/vigil-audit/vigil/internal/event"
)

// A dormant account is seen only against weeks of its own history, which
// no Sigma rule has: the dormant_account behaviour alone covers the kind.
// simConfig is one evaluation run.
type simConfig struct {
	Seed       uint64
	Rate       float64
	Duration   time.Duration
	Incidents  float64 // per hour and kind; 0 with NoIncidents for background only
	NoIncident bool
	Kinds      []simulate.Kind // nil: every kind
	Partitions int
	Behaviours bool
}

// simResult is what a run found.
type simResult struct {
	Events int
	Labels []simulate.Label
	Alerts []scoredAlert
	// Caught maps a label id to the rule ids whose alerts matched it.
	Caught map[string][]string
}

type scoredAlert struct {
	event.Alert
	// Labels are the incidents the alert is about; none: a false
	// positive.
	Labels []*simulate.Label
}

// simSink feeds the simulator's events to detector partitions.
type simSink struct {
	acc, dev []*detector.Partition
	offAcc   []int64
	offDev   []int64
	alerts   map[string]event.Alert
	order    []string
	labels   []simulate.Label
	n        int
	buf      []event.Alert
}

func partOf(key string, n int) int {
	h := fnv.New32a()
	_, _ = io.WriteString(h, key)
	return int(h.Sum32() % uint32(n))
}

func (s *simSink) drain(p *detector.Partition) {
	s.buf = p.Drain(s.buf[:0])
	for _, a := range s.buf {
		if _, ok := s.alerts[a.AlertID]; !ok {
			s.order = append(s.order, a.AlertID)
		}
		a.Evidence = slices.Clone(a.Evidence)
		a.Categories = slices.Clone(a.Categories)
		s.alerts[a.AlertID] = a
	}
}

func (s *simSink) Access(_ context.Context, e *event.AccessEvent) error {
	s.n++
	i := partOf(e.Org+"/"+e.Actor.ID, len(s.acc))
	c := simulate.CopyAccess(e)
	s.offAcc[i]++
	s.acc[i].Access(s.offAcc[i], &c)
	s.drain(s.acc[i])
	return nil
}

func (s *simSink) Device(_ context.Context, e *event.DeviceEvent) error {
	s.n++
	i := partOf(e.DeviceID, len(s.dev))
	c := simulate.CopyDevice(e)
	s.offDev[i]++
	s.dev[i].Device(s.offDev[i], &c)
	s.drain(s.dev[i])
	return nil
}

func (s *simSink) Label(_ context.Context, l *simulate.Label) error {
	c := *l
	c.EventIDs = slices.Clone(l.EventIDs)
	c.SubjectIDs = slices.Clone(l.SubjectIDs)
	c.AccountIDs = slices.Clone(l.AccountIDs)
	s.labels = append(s.labels, c)
	return nil
}

func (s *simSink) Flush(context.Context) error { return nil }

// runSimulation generates the configured traffic, runs it through set (and
// the behaviours when asked) and scores every alert.
func runSimulation(t testing.TB, set func(sigma.Options) (*sigma.Set, error), cfg simConfig) simResult {
	t.Helper()
	sim, err := simulate.New(simulate.Config{Seed: cfg.Seed, Rate: cfg.Rate, Duration: cfg.Duration,
		IncidentsPerHour: cfg.Incidents, NoIncidents: cfg.NoIncident, Kinds: cfg.Kinds})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := set(sigma.Options{TimeZones: sim.TimeZones()})
	if err != nil {
		t.Fatal(err)
	}
	bcfg := behave.Defaults()
	bcfg.OffHours.TimeZones = map[string]string{}
	for _, o := range sim.Orgs() {
		bcfg.OffHours.TimeZones[o.ID] = o.TimeZone
	}
	newPart := func() *detector.Partition {
		var bs []detector.Behaviour
		if cfg.Behaviours {
			if bs, err = behave.New(bcfg); err != nil {
				t.Fatal(err)
			}
		}
		p, err := detector.New(rs, detector.Options{}, bs)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	sink := &simSink{alerts: map[string]event.Alert{}}
	for range cfg.Partitions {
		sink.acc = append(sink.acc, newPart())
		sink.dev = append(sink.dev, newPart())
	}
	sink.offAcc = make([]int64, cfg.Partitions)
	sink.offDev = make([]int64, cfg.Partitions)
	if err := sim.Run(context.Background(), sink); err != nil {
		t.Fatal(err)
	}

	res := simResult{Events: sink.n, Labels: sink.labels, Caught: map[string][]string{}}
	byEvent := simulate.IndexByEvent(sink.labels)
	for _, id := range sink.order {
		a := scoredAlert{Alert: sink.alerts[id]}
		for _, ev := range a.Evidence {
			if l := byEvent[ev]; l != nil && !slices.Contains(a.Labels, l) {
				a.Labels = append(a.Labels, l)
			}
		}
		for _, l := range nearLabels(sink.labels, a.Alert) {
			if !slices.Contains(a.Labels, l) {
				a.Labels = append(a.Labels, l)
			}
		}
		for _, l := range a.Labels {
			if !slices.Contains(res.Caught[l.ID], a.RuleID) {
				res.Caught[l.ID] = append(res.Caught[l.ID], a.RuleID)
			}
		}
		res.Alerts = append(res.Alerts, a)
	}
	return res
}

// nearLabels returns the labels of the alert's actor or device whose time
// overlaps the alert's within an hour: an alert folds the findings of one
// group, so it may be about several incidents of one person, and its
// evidence (the earliest events only) may be ordinary events around them.
func nearLabels(labels []simulate.Label, a event.Alert) []*simulate.Label {
	_, who, ok := strings.Cut(a.GroupKey, "/")
	if !ok {
		return nil
	}
	var out []*simulate.Label
	for i := range labels {
		l := &labels[i]
		if l.Org != a.Org || l.GroupValue(false) != who {
			continue
		}
		if !a.LastSeen.Before(l.Start.Add(-time.Hour)) && !a.FirstSeen.After(l.End.Add(time.Hour)) {
			out = append(out, l)
		}
	}
	return out
}

// report writes per-rule and per-kind tables of a run.
func (r simResult) report(w io.Writer) {
	type ruleStat struct{ tp, fp int }
	rules := map[string]*ruleStat{}
	for _, a := range r.Alerts {
		st := rules[a.RuleID]
		if st == nil {
			st = &ruleStat{}
			rules[a.RuleID] = st
		}
		if len(a.Labels) > 0 {
			st.tp++
		} else {
			st.fp++
		}
	}
	fmt.Fprintf(w, "%d events, %d labels, %d alerts\n", r.Events, len(r.Labels), len(r.Alerts))
	ids := make([]string, 0, len(rules))
	for id := range rules {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	fmt.Fprintf(w, "%-40s %6s %6s\n", "rule", "alerts", "false")
	for _, id := range ids {
		fmt.Fprintf(w, "%-40s %6d %6d\n", id, rules[id].tp+rules[id].fp, rules[id].fp)
	}
	fmt.Fprintf(w, "%-34s %6s %6s  %s\n", "kind", "labels", "caught", "rules that caught it (labels)")
	for _, k := range simulate.Kinds() {
		total, caught := 0, 0
		by := map[string]int{}
		for _, l := range r.Labels {
			if l.Kind != k {
				continue
			}
			total++
			if len(r.Caught[l.ID]) > 0 {
				caught++
			}
			for _, id := range r.Caught[l.ID] {
				by[id]++
			}
		}
		var parts []string
		for id, n := range by {
			parts = append(parts, id+" "+strconv.Itoa(n))
		}
		sort.Strings(parts)
		fmt.Fprintf(w, "%-34s %6d %6d  %s\n", k, total, caught, strings.Join(parts, ", "))
	}
}

func envFloat(name string, def float64) float64 {
	if v, err := strconv.ParseFloat(os.Getenv(name), 64); err == nil {
		return v
	}
	return def
}

func loadPack(opts sigma.Options) (*sigma.Set, error) { return sigma.LoadFS(FS, opts) }

// TestSimulator: the pack is quiet on the simulator's background and
// catches every incident kind. The default run is a day at rate 1 with
// two incidents of every kind per hour (about 430 incidents).
func TestSimulator(t *testing.T) {
	if testing.Short() {
		t.Skip("replays a simulated day")
	}
	cfg := simConfig{
		Seed:       uint64(envFloat("VIGIL_RULES_SIM_SEED", 7)),
		Rate:       envFloat("VIGIL_RULES_SIM_RATE", 1),
		Duration:   time.Duration(envFloat("VIGIL_RULES_SIM_DAYS", 1) * float64(24*time.Hour)),
		Incidents:  envFloat("VIGIL_RULES_SIM_INCIDENTS", 2),
		Partitions: 4,
		Behaviours: os.Getenv("VIGIL_RULES_SIM_BEHAVIOURS") != "",
	}
	began := time.Now()
	res := runSimulation(t, loadPack, cfg)
	var out strings.Builder
	res.report(&out)
	t.Logf("simulated %s at rate %g (seed %d) in %s:\n%s", cfg.Duration, cfg.Rate, cfg.Seed,
		time.Since(began).Round(time.Millisecond), out.String())

	// No false positives: every alert of the pack is about an incident.
	for _, a := range res.Alerts {
		if len(a.Labels) == 0 && strings.HasPrefix(a.RuleID, "vigil-") {
			t.Errorf("false positive: %s %s at %s (%d events, evidence %v): %s", a.RuleID, a.GroupKey,
				a.FirstSeen.Format(time.RFC3339), a.Count, a.Evidence, a.Explanation)
		}
	}
	// With the behaviours, each behaviour listed as covering a kind
	// catches some incident of it (after learning: a week or more).
	if cfg.Behaviours && cfg.Duration >= 8*24*time.Hour {
		for k, bs := range behaviourCoverage {
			for _, b := range bs {
				n := 0
				for _, l := range res.Labels {
					if l.Kind == k && slices.Contains(res.Caught[l.ID], b) {
						n++
					}
				}
				if n == 0 {
					t.Errorf("behaviourCoverage says %s covers %s, but it caught no incident of it", b, k)
				}
			}
		}
	}
	// Every incident is caught, by a rule targeting its kind. A kind no
	// rule can target (dormant_account: a Sigma rule sees one event, not
	// weeks of silence) must be caught by its behaviours, when they run.
	targets := kindTargets(t)
	for _, l := range res.Labels {
		if l.Partial {
			continue
		}
		want := targets[l.Kind]
		if len(want) == 0 {
			if !cfg.Behaviours {
				continue
			}
			want = behaviourCoverage[l.Kind]
		}
		ok := false
		for _, id := range res.Caught[l.ID] {
			if slices.Contains(want, id) {
				ok = true
			}
		}
		if !ok {
			t.Errorf("incident %s (%s) not caught by a rule of its kind (caught by %v): %s", l.ID, l.Kind, res.Caught[l.ID], l.Description)
		}
	}
}

// kindTargets maps each simulator kind to the ids of the rules tagged
// vigil.kind.<kind>.
func kindTargets(t testing.TB) map[simulate.Kind][]string {
	t.Helper()
	set, err := loadPack(sigma.Options{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[simulate.Kind][]string{}
	add := func(id string, tags []string) {
		for _, tag := range tags {
			if k, ok := strings.CutPrefix(tag, kindTagPrefix); ok {
				out[simulate.Kind(k)] = append(out[simulate.Kind(k)], id)
			}
		}
	}
	for _, r := range set.Rules {
		add(r.ID, r.Tags)
	}
	for _, c := range set.Correlations {
		add(c.ID, c.Tags)
	}
	return out
}

// marginSink computes, for every count and value correlation of the pack,
// the largest aggregate any group reaches in any window: how close the
// background comes to each threshold.
type marginSink struct {
	set *sigma.Set
	win map[*sigma.Correlation]map[string][]marginEvent
	max map[*sigma.Correlation]float64
	arg map[*sigma.Correlation]string
	buf []*sigma.Rule
}

type marginEvent struct {
	t   int64
	v   string
	num float64
}

func (s *marginSink) feed(ev sigma.Event, t int64) {
	s.buf = s.set.Match(ev, s.buf[:0])
	for _, r := range s.buf {
		for _, c := range r.Correlations {
			if c.Type == sigma.Temporal || c.Type == sigma.TemporalOrdered {
				continue
			}
			var in *sigma.CorrelationInput
			for _, x := range c.Inputs {
				if x.Rule == r {
					in = x
				}
			}
			key := string(in.AppendGroupKey(nil, ev))
			v, _ := in.AppendValue(nil, ev)
			n, _ := in.Number(ev)
			g := s.win[c]
			if g == nil {
				g = map[string][]marginEvent{}
				s.win[c] = g
			}
			w := append(g[key], marginEvent{t, string(v), n})
			i := 0
			for i < len(w) && w[i].t <= t-c.Timespan.Milliseconds() {
				i++
			}
			w = w[i:]
			g[key] = w
			var agg float64
			switch c.Type {
			case sigma.EventCount:
				agg = float64(len(w))
			case sigma.ValueSum:
				for _, e := range w {
					agg += e.num
				}
			case sigma.ValueCount:
				seen := map[string]bool{}
				for _, e := range w {
					if e.v != "" {
						seen[e.v] = true
					}
				}
				agg = float64(len(seen))
			}
			if agg > s.max[c] {
				s.max[c], s.arg[c] = agg, key
			}
		}
	}
}

func (s *marginSink) Access(_ context.Context, e *event.AccessEvent) error {
	s.feed(sigma.Access(e), e.OccurredAt.UnixMilli())
	return nil
}

func (s *marginSink) Device(_ context.Context, e *event.DeviceEvent) error {
	s.feed(sigma.Device(e), e.OccurredAt.UnixMilli())
	return nil
}

func (s *marginSink) Label(context.Context, *simulate.Label) error { return nil }
func (s *marginSink) Flush(context.Context) error                  { return nil }

// TestBackgroundMargins: on background traffic alone, no count or value
// correlation comes near its threshold. It prints the largest aggregate of
// each (README.md's tuning table comes from a 28-day run at rate 2:
// VIGIL_RULES_SIM_DAYS=28 VIGIL_RULES_SIM_RATE=2 VIGIL_RULES_SIM_SEED=5).
func TestBackgroundMargins(t *testing.T) {
	if testing.Short() {
		t.Skip("replays simulated days")
	}
	days, rate := envFloat("VIGIL_RULES_SIM_DAYS", 2), envFloat("VIGIL_RULES_SIM_RATE", 1)
	sim, err := simulate.New(simulate.Config{Seed: uint64(envFloat("VIGIL_RULES_SIM_SEED", 11)), Rate: rate,
		Duration: time.Duration(days * float64(24*time.Hour)), NoIncidents: true})
	if err != nil {
		t.Fatal(err)
	}
	set, err := loadPack(sigma.Options{TimeZones: sim.TimeZones()})
	if err != nil {
		t.Fatal(err)
	}
	s := &marginSink{set: set, win: map[*sigma.Correlation]map[string][]marginEvent{},
		max: map[*sigma.Correlation]float64{}, arg: map[*sigma.Correlation]string{}}
	if err := sim.Run(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, c := range set.Correlations {
		if c.Type == sigma.Temporal || c.Type == sigma.TemporalOrdered {
			continue
		}
		fmt.Fprintf(&b, "%-18s %-12s %-5s background max %-6g threshold %-8s %s\n", c.ID, c.Type, formatSpan(c.Timespan), s.max[c], c.Condition, s.arg[c])
		// A margin: the background stays below 80% of the threshold.
		if c.Condition.Holds(s.max[c] * 1.25) {
			t.Errorf("%s: background reaches %g (%s), too close to its threshold %s", c.ID, s.max[c], s.arg[c], c.Condition)
		}
	}
	t.Logf("%g days at rate %g, background only:\n%s", days, rate, b.String())
}

func formatSpan(d time.Duration) string {
	switch {
	case d%(24*time.Hour) == 0:
		return strconv.Itoa(int(d/(24*time.Hour))) + "d"
	case d%time.Hour == 0:
		return strconv.Itoa(int(d/time.Hour)) + "h"
	}
	return strconv.Itoa(int(d/time.Minute)) + "m"
}
