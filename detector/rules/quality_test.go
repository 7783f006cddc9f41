package rules

// TestDetectionQuality measures the full detector (the shipped pack plus
// every built-in behaviour) against the simulator's labels, per incident
// kind and per seed. docs/DETECTION.md describes the method and the
// figures. The default run is short (every kind is checked, but the
// learning behaviours barely act); VIGIL_QUALITY_LONG=1 runs eight
// simulated days per seed and scores only incidents after the week of
// learning:
//
//	go test -run TestDetectionQuality -v ./detector/rules/
//	VIGIL_QUALITY_LONG=1 go test -run TestDetectionQuality -v -timeout 60m ./detector/rules/
//
// VIGIL_QUALITY_DAYS, VIGIL_QUALITY_RATE, VIGIL_QUALITY_WARMUP_DAYS and
// VIGIL_QUALITY_INCIDENTS override the run's shape.

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-audit/vigil/detector/simulate"
)

// The bar, per kind and seed.
const (
	minRecall    = 0.95
	minPrecision = 0.90
)

var qualitySeeds = []uint64{1, 2, 3}

// kindQuality is one row of the table.
type kindQuality struct {
	Kind simulate.Kind
	// Incidents are the complete incidents of the kind that started after
	// the warm-up; Detected are those at least one alert (of any rule or
	// behaviour) is about.
	Incidents, Detected int
	// Alerts are the alerts attributed to the kind (about at least one
	// incident of it) plus False: alerts of a rule tagged
	// vigil.kind.<kind> or of a behaviour mapped to the kind
	// (behaviourCoverage) that are about no incident at all.
	Alerts, False int
}

func (q kindQuality) Recall() float64 {
	if q.Incidents == 0 {
		return 1
	}
	return float64(q.Detected) / float64(q.Incidents)
}

// Precision is attributed / (attributed + false); 1 with no alerts.
func (q kindQuality) Precision() float64 {
	if q.Alerts == 0 {
		return 1
	}
	return float64(q.Alerts-q.False) / float64(q.Alerts)
}

// scoreKinds computes the table of a run. Alerts are attributed to
// incidents as runSimulation does: an evidence event id of the incident,
// or the incident's actor/device as the alert's group with times
// overlapping within an hour. Only alerts and incidents that begin at or
// after from count.
func scoreKinds(res simResult, targets map[simulate.Kind][]string, from time.Time) []kindQuality {
	var out []kindQuality
	for _, k := range simulate.Kinds() {
		q := kindQuality{Kind: k}
		mapped := slices.Concat(targets[k], behaviourCoverage[k])
		for _, l := range res.Labels {
			if l.Kind != k || l.Partial || l.Start.Before(from) {
				continue
			}
			q.Incidents++
			if len(res.Caught[l.ID]) > 0 {
				q.Detected++
			}
		}
		for _, a := range res.Alerts {
			if a.FirstSeen.Before(from) {
				continue
			}
			hit := false
			for _, l := range a.Labels {
				if l.Kind == k {
					hit = true
				}
			}
			switch {
			case hit:
				q.Alerts++
			case len(a.Labels) == 0 && slices.Contains(mapped, a.RuleID):
				q.Alerts++
				q.False++
			}
		}
		out = append(out, q)
	}
	return out
}

func qualityTable(rows []kindQuality) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-34s %9s %8s %7s %6s %5s %9s\n", "kind", "incidents", "detected", "recall", "alerts", "false", "precision")
	for _, q := range rows {
		fmt.Fprintf(&b, "%-34s %9d %8d %7.3f %6d %5d %9.3f\n", q.Kind, q.Incidents, q.Detected, q.Recall(), q.Alerts, q.False, q.Precision())
	}
	return b.String()
}

func TestDetectionQuality(t *testing.T) {
	if testing.Short() {
		t.Skip("replays simulated days")
	}
	long := os.Getenv("VIGIL_QUALITY_LONG") != ""
	days, rate, warm, inc := 1.0, 1.0, 0.0, 2.0
	if long {
		days, rate, warm, inc = 8, 2, 7, 1
	}
	days = envFloat("VIGIL_QUALITY_DAYS", days)
	rate = envFloat("VIGIL_QUALITY_RATE", rate)
	warm = envFloat("VIGIL_QUALITY_WARMUP_DAYS", warm)
	inc = envFloat("VIGIL_QUALITY_INCIDENTS", inc)
	targets := kindTargets(t)
	for _, seed := range qualitySeeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			began := time.Now()
			res := runSimulation(t, loadPack, simConfig{
				Seed: seed, Rate: rate, Duration: time.Duration(days * float64(24*time.Hour)),
				Incidents: inc, Partitions: 4, Behaviours: true,
			})
			from := simulate.DefaultStart.Add(time.Duration(warm * float64(24*time.Hour)))
			rows := scoreKinds(res, targets, from)
			t.Logf("seed %d: %g days at rate %g, %g incidents/h/kind, scored from %s, %d events, %d alerts, in %s:\n%s",
				seed, days, rate, inc, from.Format(time.RFC3339), res.Events, len(res.Alerts),
				time.Since(began).Round(time.Millisecond), qualityTable(rows))
			// Context for the doc's known gaps: alerts about no incident
			// (of any rule, mapped to a kind or not) and incidents only a
			// behaviour caught.
			fp, behOnly := map[string]int{}, map[simulate.Kind]int{}
			for _, a := range res.Alerts {
				if len(a.Labels) == 0 && !a.FirstSeen.Before(from) {
					fp[a.RuleID]++
				}
			}
			for _, l := range res.Labels {
				if l.Partial || l.Start.Before(from) || len(res.Caught[l.ID]) == 0 {
					continue
				}
				if !slices.ContainsFunc(res.Caught[l.ID], func(id string) bool { return slices.Contains(targets[l.Kind], id) }) {
					behOnly[l.Kind]++
				}
			}
			t.Logf("seed %d: alerts about no incident, by rule: %v; incidents no rule tagged for the kind caught: %v", seed, fp, behOnly)
			for _, q := range rows {
				if q.Incidents == 0 {
					t.Errorf("%s: no incident scored", q.Kind)
					continue
				}
				if q.Recall() < minRecall {
					t.Errorf("%s: recall %.3f < %.2f (%d of %d)", q.Kind, q.Recall(), minRecall, q.Detected, q.Incidents)
				}
				if q.Precision() < minPrecision {
					t.Errorf("%s: precision %.3f < %.2f (%d of %d alerts false)", q.Kind, q.Precision(), minPrecision, q.False, q.Alerts)
				}
			}
			if t.Failed() {
				for _, a := range res.Alerts {
					if len(a.Labels) == 0 && !a.FirstSeen.Before(from) {
						t.Logf("unattributed: %s %s at %s: %s", a.RuleID, a.GroupKey, a.FirstSeen.Format(time.RFC3339), a.Explanation)
					}
				}
			}
		})
	}
}
