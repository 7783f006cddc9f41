//go:build simeval

package behave

// An evaluation of the behaviours against the traffic simulator's
// labelled incidents, outside the normal test run (it takes minutes):
//
//	SIMEVAL_DAYS=10 SIMEVAL_RATE=5 go test -tags simeval -run TestSimulatorEvaluation -v -timeout 60m ./detector/behave/
//
// Events are partitioned as Kafka would (access by org/actor, device by
// device id) over SIMEVAL_PARTITIONS partitions, each with its own
// behaviours; findings are folded into alerts per rule and group within a
// one-hour suppression window, as the emitter does by default. An alert
// is a true positive when its evidence names an event of a labelled
// incident, or its actor (device) is the incident's and its time overlaps
// the incident's within an hour. SIMEVAL_SEED, SIMEVAL_INCIDENTS and
// SIMEVAL_WARMUP_DAYS (recall counts incidents after it) vary the run;
// SIMEVAL_DUMP_ACTOR=<id> prints that actor's events, labels and alerts.

import (
	"context"
	"fmt"
	"hash/fnv"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-audit/vigil/detector"
	"github.com/vigil-audit/vigil/detector/simulate"
	"github.com/vigil-audit/vigil/internal/event"
)

func envNum(name string, def float64) float64 {
	if v, err := strconv.ParseFloat(os.Getenv(name), 64); err == nil {
		return v
	}
	return def
}

type evalPart struct {
	bs []detector.Behaviour
	wm time.Time
}

type evalSink struct {
	acc, dev []evalPart
	found    []detector.Finding
	labels   []simulate.Label
	n        int
}

func (s *evalSink) emit(f detector.Finding) {
	f.Subjects = slices.Clone(f.Subjects)
	f.Categories = slices.Clone(f.Categories)
	f.Evidence = slices.Clone(f.Evidence)
	s.found = append(s.found, f)
}

func part(key string, n int) int {
	h := fnv.New32a()
	h.Write([]byte(key))
	return int(h.Sum32() % uint32(n))
}

var dumpActor = os.Getenv("SIMEVAL_DUMP_ACTOR")

func (s *evalSink) Access(_ context.Context, e *event.AccessEvent) error {
	s.n++
	if dumpActor != "" && e.Actor.ID == dumpActor {
		fmt.Printf("%s %s %s %s rel=%s out=%s n=%d %v %s %s\n", e.OccurredAt, e.EventID, e.Action, e.Subject.ID, e.Relationship, e.Outcome, e.RecordCount, e.Categories, e.Purpose, e.Client.DeviceID)
	}
	p := &s.acc[part(e.Org+"/"+e.Actor.ID, len(s.acc))]
	for _, b := range p.bs {
		b.Access(e, s.emit)
	}
	if e.OccurredAt.After(p.wm) {
		p.wm = e.OccurredAt.Time
		for _, b := range p.bs {
			b.Advance(p.wm)
		}
	}
	return nil
}

func (s *evalSink) Device(_ context.Context, e *event.DeviceEvent) error {
	s.n++
	p := &s.dev[part(e.DeviceID, len(s.dev))]
	for _, b := range p.bs {
		b.Device(e, s.emit)
	}
	if e.OccurredAt.After(p.wm) {
		p.wm = e.OccurredAt.Time
		for _, b := range p.bs {
			b.Advance(p.wm)
		}
	}
	return nil
}

func (s *evalSink) Label(_ context.Context, l *simulate.Label) error {
	c := *l
	c.EventIDs = slices.Clone(l.EventIDs)
	s.labels = append(s.labels, c)
	return nil
}

func (s *evalSink) Flush(context.Context) error { return nil }

type alert struct {
	rule, key, org, actor, device string
	start, end                    time.Time
	findings                      int
	evidence                      []string
	expl                          string
	label                         *simulate.Label
}

func TestSimulatorEvaluation(t *testing.T) {
	days := envNum("SIMEVAL_DAYS", 10)
	rate := envNum("SIMEVAL_RATE", 5)
	parts := int(envNum("SIMEVAL_PARTITIONS", 4))
	warm := time.Duration(envNum("SIMEVAL_WARMUP_DAYS", 7) * float64(24*time.Hour))
	sim, err := simulate.New(simulate.Config{Seed: uint64(envNum("SIMEVAL_SEED", 1)), Rate: rate,
		Duration: time.Duration(days * float64(24*time.Hour)), IncidentsPerHour: envNum("SIMEVAL_INCIDENTS", 1)})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Defaults()
	cfg.OffHours.TimeZones = map[string]string{}
	for _, o := range sim.Orgs() {
		cfg.OffHours.TimeZones[o.ID] = o.TimeZone
	}
	sink := &evalSink{}
	for range parts {
		a, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		d, _ := New(cfg)
		sink.acc = append(sink.acc, evalPart{bs: a})
		sink.dev = append(sink.dev, evalPart{bs: d})
	}
	began := time.Now()
	if err := sim.Run(context.Background(), sink); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d events, %d labels, %d findings in %s", sink.n, len(sink.labels), len(sink.found), time.Since(began).Round(time.Second))

	// Fold findings into alerts.
	open := map[string]*alert{}
	var alerts []*alert
	for _, f := range sink.found {
		k := f.RuleID + "\x00" + f.GroupKey
		a := open[k]
		if a == nil || f.Start.Sub(a.start) >= time.Hour {
			a = &alert{rule: f.RuleID, key: f.GroupKey, org: f.Org, actor: f.ActorID, device: f.DeviceID,
				start: f.Start, end: f.End, expl: f.Explanation}
			open[k] = a
			alerts = append(alerts, a)
		}
		a.findings++
		a.end = maxTime(a.end, f.End)
		a.evidence = append(a.evidence, f.Evidence...)
	}
	// Match alerts to labels.
	byEvent := simulate.IndexByEvent(sink.labels)
	for _, a := range alerts {
		for _, id := range a.evidence {
			if l := byEvent[id]; l != nil {
				a.label = l
				break
			}
		}
		if a.label != nil {
			continue
		}
		for i := range sink.labels {
			l := &sink.labels[i]
			if l.Org != a.org || !(l.Stream == simulate.StreamAccess && l.ActorID == a.actor && a.actor != "" ||
				l.Stream == simulate.StreamDevice && l.DeviceID == a.device && a.device != "") {
				continue
			}
			if !a.end.Before(l.Start.Add(-time.Hour)) && !a.start.After(l.End.Add(time.Hour)) {
				a.label = l
				break
			}
		}
	}
	if dumpActor != "" {
		for _, l := range sink.labels {
			if l.ActorID == dumpActor {
				fmt.Printf("LABEL %s %s %s–%s %d events partial=%v\n", l.ID, l.Kind, l.Start, l.End, len(l.EventIDs), l.Partial)
			}
		}
		for _, a := range alerts {
			if a.actor == dumpActor {
				fmt.Printf("ALERT %s %s–%s matched=%v %v\n", a.rule, a.start, a.end, a.label != nil, a.evidence[:min(3, len(a.evidence))])
			}
		}
	}
	start := sim.Start()
	after := start.Add(warm)

	// Per behaviour: alerts, true positives by kind, false positives.
	var rules []string
	for _, b := range sink.acc[0].bs {
		rules = append(rules, b.Name())
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "\nalerts per behaviour (all / after warm-up of %s):\n", warm)
	for _, r := range rules {
		var all, tp, allW, tpW int
		kinds := map[simulate.Kind]int{}
		var fps []string
		for _, a := range alerts {
			if a.rule != r {
				continue
			}
			all++
			w := !a.start.Before(after)
			if w {
				allW++
			}
			if a.label != nil {
				tp++
				kinds[a.label.Kind]++
				if w {
					tpW++
				}
			} else if len(fps) < 4 {
				fps = append(fps, fmt.Sprintf("      FP %s %s: %s", a.start.Format("01-02 15:04"), a.key, a.expl))
			}
		}
		fmt.Fprintf(&sb, "  %-40s alerts %5d TP %5d FP %5d prec %.3f | after warm-up: alerts %5d prec %.3f  kinds %v\n",
			r, all, tp, all-tp, ratio(tp, all), allW, ratio(tpW, allW), kinds)
		for _, s := range fps {
			sb.WriteString(s + "\n")
		}
	}
	// Per kind: recall (labels with at least one matching alert), by
	// behaviour.
	fmt.Fprintf(&sb, "\nrecall per incident kind (incidents starting after warm-up):\n")
	kinds := simulate.Kinds()
	for _, k := range kinds {
		n, hit := 0, 0
		by := map[string]int{}
		for i := range sink.labels {
			l := &sink.labels[i]
			if l.Kind != k || l.Start.Before(after) {
				continue
			}
			n++
			found := false
			seen := map[string]bool{}
			for _, a := range alerts {
				if a.label == l && !seen[a.rule] {
					seen[a.rule] = true
					by[strings.TrimPrefix(a.rule, detector.BehaviourPrefix)]++
					found = true
				}
			}
			if found {
				hit++
			}
		}
		keys := make([]string, 0, len(by))
		for r := range by {
			keys = append(keys, r)
		}
		sort.Strings(keys)
		var parts []string
		for _, r := range keys {
			parts = append(parts, fmt.Sprintf("%s:%d", r, by[r]))
		}
		fmt.Fprintf(&sb, "  %-34s %4d incidents, detected %4d (%.3f)  %s\n", k, n, hit, ratio(hit, n), strings.Join(parts, " "))
	}
	for _, p := range sink.acc {
		for _, b := range p.bs {
			if st := b.(StatsReporter).Stats(); st.Evicted > 0 {
				fmt.Fprintf(&sb, "  evictions: %s %+v\n", b.Name(), st)
			}
		}
	}
	t.Log(sb.String())
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
