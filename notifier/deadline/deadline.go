// Package deadline watches the legal clocks of open obligations: it
// exports them as Prometheus metrics for dashboards and alert rules, and
// tells when an obligation crosses 50 %, 90 % and 100 % of its time so that
// the notifier can escalate to the security team's channel.
//
// # Metrics
//
// Computed at each scrape from the notifier's current obligations (no
// incident ids in labels):
//
//	vigil_notifier_obligations{regime,kind,status}
//	    how many obligations are in each status (open, done, waived)
//	vigil_notifier_obligation_deadline_seconds{regime,kind}
//	    time left until the nearest deadline among open obligations of that
//	    regime and kind; negative when it has passed; absent when none is
//	    open
//	vigil_notifier_obligation_elapsed_ratio{regime,kind}
//	    the largest share of its time used among open obligations of that
//	    regime and kind (0.5 = half the legal time is gone, > 1 overdue)
//
// The alert rules in dashboards/alerts escalate on the last two, so that
// escalation does not depend on the notifier process itself.
package deadline

import (
	"cmp"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Status of an obligation for the clocks.
const (
	StatusOpen   = "open"   // owed, not yet met
	StatusDone   = "done"   // met (sent, submitted)
	StatusWaived = "waived" // decided not needed, with reason and who
)

// Obligation is what the clocks need of one obligation.
type Obligation struct {
	// ID identifies the obligation of one incident (for escalation
	// bookkeeping only; never a label).
	ID     string
	Regime string
	Kind   string
	Status string
	// Start is when its clock started (awareness, end of handling …) and
	// Due its deadline.
	Start, Due time.Time
}

// Elapsed is the share of its time an obligation has used at now: 0 at
// Start, 1 at Due. An obligation whose Due is not after Start is fully
// elapsed from Start on.
func (o Obligation) Elapsed(now time.Time) float64 {
	total := o.Due.Sub(o.Start)
	if total <= 0 {
		if now.Before(o.Start) {
			return 0
		}
		return 1
	}
	return float64(now.Sub(o.Start)) / float64(total)
}

// Source returns the current obligations. It is called at each scrape and
// each Check, and must be safe to call from any goroutine.
type Source func() []Obligation

var (
	obligationsDesc = prometheus.NewDesc("vigil_notifier_obligations",
		"Obligations (notices and reports owed) by regime, kind and status (open, done, waived).",
		[]string{"regime", "kind", "status"}, nil)
	deadlineDesc = prometheus.NewDesc("vigil_notifier_obligation_deadline_seconds",
		"Seconds left until the nearest deadline among open obligations of a regime and kind; negative when passed.",
		[]string{"regime", "kind"}, nil)
	elapsedDesc = prometheus.NewDesc("vigil_notifier_obligation_elapsed_ratio",
		"Largest share of its legal time used among open obligations of a regime and kind (1 = deadline reached).",
		[]string{"regime", "kind"}, nil)
)

// Collector exports the metrics of the package doc.
type Collector struct {
	src Source
	now func() time.Time
}

// NewCollector returns a Collector of src's obligations; now nil means
// time.Now.
func NewCollector(src Source, now func() time.Time) *Collector {
	return &Collector{src: src, now: now}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- obligationsDesc
	ch <- deadlineDesc
	ch <- elapsedDesc
}

type rk struct{ regime, kind string }

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	now := time.Now()
	if c.now != nil {
		now = c.now()
	}
	counts := map[[3]string]int{}
	nearest := map[rk]time.Time{}
	elapsed := map[rk]float64{}
	for _, o := range c.src() {
		counts[[3]string{o.Regime, o.Kind, o.Status}]++
		if o.Status != StatusOpen {
			continue
		}
		k := rk{o.Regime, o.Kind}
		if d, ok := nearest[k]; !ok || o.Due.Before(d) {
			nearest[k] = o.Due
		}
		if e := o.Elapsed(now); e > elapsed[k] || !hasKey(elapsed, k) {
			elapsed[k] = e
		}
	}
	for k, n := range counts {
		ch <- prometheus.MustNewConstMetric(obligationsDesc, prometheus.GaugeValue, float64(n), k[0], k[1], k[2])
	}
	for k, d := range nearest {
		ch <- prometheus.MustNewConstMetric(deadlineDesc, prometheus.GaugeValue, d.Sub(now).Seconds(), k.regime, k.kind)
		ch <- prometheus.MustNewConstMetric(elapsedDesc, prometheus.GaugeValue, elapsed[k], k.regime, k.kind)
	}
}

func hasKey[K comparable, V any](m map[K]V, k K) bool { _, ok := m[k]; return ok }

// Thresholds are the shares of an obligation's time at which it escalates.
var Thresholds = []float64{0.5, 0.9, 1}

// Escalation says that an open obligation crossed a threshold.
type Escalation struct {
	Obligation Obligation
	Threshold  float64 // one of Thresholds
	Elapsed    float64 // share used at the check
	Left       time.Duration
}

// String is the one-line message for the security team's channel.
func (e Escalation) String() string {
	if e.Threshold >= 1 {
		return fmt.Sprintf("OVERDUE: %s %s obligation %s passed its deadline %s ago (due %s)",
			e.Obligation.Regime, e.Obligation.Kind, e.Obligation.ID, (-e.Left).Round(time.Minute), e.Obligation.Due.UTC().Format(time.RFC3339))
	}
	return fmt.Sprintf("%s %s obligation %s has used %.0f%% of its time; %s left (due %s)",
		e.Obligation.Regime, e.Obligation.Kind, e.Obligation.ID, 100*e.Elapsed, e.Left.Round(time.Minute), e.Obligation.Due.UTC().Format(time.RFC3339))
}

// Escalator reports each threshold crossing of each open obligation once
// per process: after a restart, obligations already past a threshold are
// reported again (an internal reminder may repeat; it is never skipped).
type Escalator struct {
	mu   sync.Mutex
	done map[string]int // obligation id → how many thresholds reported
}

// NewEscalator returns an Escalator that has reported nothing.
func NewEscalator() *Escalator { return &Escalator{done: map[string]int{}} }

// Check returns the crossings not reported yet, most urgent first. An
// obligation that jumped past several thresholds at once reports only the
// highest. Obligations no longer open are forgotten.
func (e *Escalator) Check(obs []Obligation, now time.Time) []Escalation {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []Escalation
	open := map[string]bool{}
	for _, o := range obs {
		if o.Status != StatusOpen {
			continue
		}
		open[o.ID] = true
		el := o.Elapsed(now)
		crossed := 0
		for _, t := range Thresholds {
			if el >= t {
				crossed++
			}
		}
		if crossed > e.done[o.ID] {
			e.done[o.ID] = crossed
			out = append(out, Escalation{Obligation: o, Threshold: Thresholds[crossed-1], Elapsed: el, Left: o.Due.Sub(now)})
		}
	}
	for id := range e.done {
		if !open[id] {
			delete(e.done, id)
		}
	}
	slices.SortFunc(out, func(a, b Escalation) int {
		return cmp.Or(cmp.Compare(b.Threshold, a.Threshold), a.Obligation.Due.Compare(b.Obligation.Due),
			cmp.Compare(a.Obligation.ID, b.Obligation.ID))
	})
	return out
}
