package runner

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-audit/vigil/detector"
)

// Label values of the metrics: fixed sets, never ids.
const (
	resultOK    = "ok"
	resultError = "error"

	// Sources of a partition's state on assignment
	// (vigil_detector_restores_total{source}).
	sourceSnapshot = "snapshot" // read from the state topic
	sourceMemory   = "memory"   // kept from the previous generation
	sourceEmpty    = "empty"    // no snapshot: a new group or partition
	sourceFailed   = "failed"   // a snapshot that could not be read or restored: started empty

	evictGroup  = "group"
	evictWindow = "window"
	evictAlert  = "alert"
	evictDisp   = "disposition"
)

// metrics are the runner's metrics (listed in the package doc).
type metrics struct {
	events, replayed, invalid, duplicates *prometheus.CounterVec

	late, lateDropped, findings, suppressed  prometheus.Counter
	opened, updated, expired, produced       prometheus.Counter
	evictions                                *prometheus.CounterVec
	evGroup, evWindow, evAlert, evDisp       prometheus.Counter
	dispRead, dispInvalid, dispApplied       prometheus.Counter
	behaviourEvictions, behaviourExpired     *prometheus.CounterVec
	produceErrors, generations               prometheus.Counter
	commits, snapshots, restores             *prometheus.CounterVec
	snapshotSize, snapshotDuration, restoreD prometheus.Histogram
	latency                                  prometheus.Histogram
	gauges                                   *gaugeCollector
}

func newMetrics(reg prometheus.Registerer, r *Runner) *metrics {
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	}
	perTopic := func(name, help string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, []string{"topic"})
	}
	m := &metrics{
		events:     perTopic("vigil_detector_events_total", "Events fed to the detector live (not replayed), by topic."),
		replayed:   perTopic("vigil_detector_replayed_events_total", "Events fed again with output muted to rebuild a partition's state after a restore (between its snapshot and its committed offset), by topic."),
		invalid:    perTopic("vigil_detector_invalid_events_total", "Records that could not be decoded as events of their topic; skipped (the sink keeps them as dead letters), by topic."),
		duplicates: perTopic("vigil_detector_duplicate_events_total", "Records at or before the last offset a partition was fed (redelivered); ignored, by topic."),

		late:        counter("vigil_detector_late_events_total", "Events older than their partition's watermark on arrival (still applied where state allows)."),
		lateDropped: counter("vigil_detector_late_dropped_events_total", "Late events too old for a correlation window (counted per correlation)."),
		findings:    counter("vigil_detector_findings_total", "Findings of rules, correlations and behaviours."),
		suppressed:  counter("vigil_detector_suppressed_findings_total", "Findings an exception kept from alerting (each is logged)."),
		opened:      counter("vigil_detector_alerts_opened_total", "Findings that opened an alert."),
		updated:     counter("vigil_detector_alerts_updated_total", "Findings that folded into an open alert."),
		expired:     counter("vigil_detector_alerts_expired_total", "Alerts forgotten after their suppression window (no later finding can fold into them)."),
		produced:    counter("vigil_detector_alerts_produced_total", "Alert records the alerts topic acknowledged (acks=all). A record re-emitted after a crash counts again."),
		evictions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_detector_evictions_total",
			Help: "State dropped because a limit was reached, by kind: group (detect.options.max_groups), window (max_window_events), alert (max_alerts), disposition (detect.max_dispositions).",
		}, []string{"kind"}),
		dispRead:    counter("vigil_detector_dispositions_read_total", "Review decisions read from the alerts topic: alert records with a status other than open not produced by a detector."),
		dispInvalid: counter("vigil_detector_invalid_dispositions_total", "Alert records the disposition reader skipped: undecodable, or a status other than open without a reason or an author."),
		dispApplied: counter("vigil_detector_dispositions_applied_total", "Review decisions that changed an alert in a partition's state (the alert is produced again with them)."),
		behaviourEvictions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_detector_behaviour_evictions_total",
			Help: "Entries (actors, devices, accounts, peer groups) a behaviour dropped because its max_* limit was reached, by behaviour: their history is lost; raise the limit.",
		}, []string{"behaviour"}),
		behaviourExpired: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_detector_behaviour_expired_total",
			Help: "Entries a behaviour dropped after its forget_after without events, by behaviour.",
		}, []string{"behaviour"}),
		produceErrors: counter("vigil_detector_produce_errors_total", "Failed attempts to produce alert records; each is retried, and nothing after them is committed until it succeeds."),
		generations:   counter("vigil_detector_generations_total", "Consumer group generations this instance joined (one per rebalance)."),
		commits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_detector_commits_total",
			Help: "Offset commits of a partition, by result (ok, error).",
		}, []string{"result"}),
		snapshots: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_detector_snapshots_total",
			Help: "Snapshots written to the state topic, by result (ok, error).",
		}, []string{"result"}),
		restores: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_detector_restores_total",
			Help: "Partitions assigned, by where their state came from: snapshot (state topic), memory (kept from the previous generation), empty (none: a new group), failed (a snapshot that could not be read or restored; started empty).",
		}, []string{"source"}),
		snapshotSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "vigil_detector_snapshot_size_bytes",
			Help:    "Size of the snapshots written.",
			Buckets: prometheus.ExponentialBuckets(1024, 4, 12), // 1 KiB … 4 GiB
		}),
		snapshotDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "vigil_detector_snapshot_duration_seconds",
			Help:    "Time to write one snapshot to the state topic (acks=all); the partition goes on meanwhile except on revocation.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}),
		restoreD: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "vigil_detector_restore_duration_seconds",
			Help:    "Time from a partition's assignment to the end of its muted replay (reading and restoring the snapshot, replaying to the committed offset).",
			Buckets: []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300},
		}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "vigil_detector_alert_latency_seconds",
			Help:    "From the Kafka timestamp of the newest event of a batch to the acknowledgement of the alert records it produced.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}),
		gauges: newGaugeCollector(r),
	}
	m.evGroup = m.evictions.WithLabelValues(evictGroup)
	m.evWindow = m.evictions.WithLabelValues(evictWindow)
	m.evAlert = m.evictions.WithLabelValues(evictAlert)
	m.evDisp = m.evictions.WithLabelValues(evictDisp)
	for _, res := range []string{resultOK, resultError} {
		m.commits.WithLabelValues(res)
		m.snapshots.WithLabelValues(res)
	}
	for _, s := range []string{sourceSnapshot, sourceMemory, sourceEmpty, sourceFailed} {
		m.restores.WithLabelValues(s)
	}
	if reg != nil {
		reg.MustRegister(m.events, m.replayed, m.invalid, m.duplicates, m.late, m.lateDropped, m.findings,
			m.suppressed, m.opened, m.updated, m.expired, m.produced, m.evictions, m.produceErrors,
			m.dispRead, m.dispInvalid, m.dispApplied, m.behaviourEvictions, m.behaviourExpired,
			m.generations, m.commits, m.snapshots, m.restores, m.snapshotSize, m.snapshotDuration,
			m.restoreD, m.latency, m.gauges)
	}
	return m
}

// addStats adds the growth of a partition's counters from prev to cur.
func (m *metrics) addStats(prev, cur detector.Stats) {
	add := func(c prometheus.Counter, a, b uint64) {
		if b > a {
			c.Add(float64(b - a))
		}
	}
	add(m.late, prev.Late, cur.Late)
	add(m.lateDropped, prev.LateDropped, cur.LateDropped)
	add(m.findings, prev.Findings, cur.Findings)
	add(m.suppressed, prev.Suppressed, cur.Suppressed)
	add(m.opened, prev.AlertsOpened, cur.AlertsOpened)
	add(m.updated, prev.AlertsUpdated, cur.AlertsUpdated)
	add(m.expired, prev.AlertsExpired, cur.AlertsExpired)
	add(m.evGroup, prev.GroupEvictions, cur.GroupEvictions)
	add(m.evWindow, prev.WindowEvictions, cur.WindowEvictions)
	add(m.evAlert, prev.AlertEvictions, cur.AlertEvictions)
}

// gaugeCollector computes the gauges from the partitions assigned at
// scrape time, so they never drift.
type gaugeCollector struct {
	r                                      *Runner
	partitions, lag                        *prometheus.Desc
	replaying, age, groups, alerts, retryg *prometheus.Desc
	disps, tracked                         *prometheus.Desc
}

func newGaugeCollector(r *Runner) *gaugeCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	return &gaugeCollector{
		r:          r,
		partitions: d("vigil_detector_partitions", "Partitions assigned to this instance, by topic.", "topic"),
		lag:        d("vigil_detector_lag_records", "Records on the assigned partitions not committed yet, by topic, as of the last record fetched (high watermark minus committed offset).", "topic"),
		replaying:  d("vigil_detector_replaying_partitions", "Assigned partitions still replaying (output muted) up to their committed offset."),
		age:        d("vigil_detector_snapshot_age_seconds", "Age of the oldest latest snapshot among the assigned partitions (since assignment for one not snapshotted yet); 0 with none assigned. A crash replays about this much."),
		groups:     d("vigil_detector_groups", "Correlation groups held by the assigned partitions."),
		alerts:     d("vigil_detector_alerts", "Alerts held in state by the assigned partitions."),
		retryg:     d("vigil_detector_retrying", "1 while producing alert records fails and is being retried (nothing is committed meanwhile), else 0."),
		tracked:    d("vigil_detector_behaviour_tracked", "Entries (actors, devices, accounts, peer groups) the behaviours of the assigned partitions track, by behaviour.", "behaviour"),
		disps:      d("vigil_detector_dispositions", "Review decisions kept from the alerts topic to apply to the partitions' alerts (at most detect.max_dispositions)."),
	}
}

func (g *gaugeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{g.partitions, g.lag, g.replaying, g.age, g.groups, g.alerts, g.retryg, g.disps, g.tracked} {
		ch <- d
	}
}

func (g *gaugeCollector) Collect(ch chan<- prometheus.Metric) {
	r := g.r
	now := time.Now()
	parts := map[string]float64{r.cfg.AccessTopic: 0, r.cfg.DeviceTopic: 0}
	lag := map[string]float64{r.cfg.AccessTopic: 0, r.cfg.DeviceTopic: 0}
	var replaying, groups, alerts, age, retrying float64
	tracked := make([]float64, len(r.bstats.names))
	r.mu.Lock()
	for _, w := range r.active {
		for i := range w.gTracked {
			tracked[i] += float64(w.gTracked[i].Load())
		}
		parts[w.key.topic]++
		lag[w.key.topic] += float64(w.gLag.Load())
		if w.gReplaying.Load() {
			replaying++
		}
		groups += float64(w.gGroups.Load())
		alerts += float64(w.gAlerts.Load())
		if at := w.gSnapAt.Load(); at > 0 {
			age = max(age, now.Sub(time.UnixMilli(at)).Seconds())
		}
		if w.gRetrying.Load() {
			retrying = 1
		}
	}
	r.mu.Unlock()
	for t, n := range parts {
		ch <- prometheus.MustNewConstMetric(g.partitions, prometheus.GaugeValue, n, t)
		ch <- prometheus.MustNewConstMetric(g.lag, prometheus.GaugeValue, lag[t], t)
	}
	ch <- prometheus.MustNewConstMetric(g.replaying, prometheus.GaugeValue, replaying)
	ch <- prometheus.MustNewConstMetric(g.age, prometheus.GaugeValue, age)
	ch <- prometheus.MustNewConstMetric(g.groups, prometheus.GaugeValue, groups)
	ch <- prometheus.MustNewConstMetric(g.alerts, prometheus.GaugeValue, alerts)
	ch <- prometheus.MustNewConstMetric(g.retryg, prometheus.GaugeValue, retrying)
	ch <- prometheus.MustNewConstMetric(g.disps, prometheus.GaugeValue, float64(r.disps.len()))
	for i, name := range r.bstats.names {
		ch <- prometheus.MustNewConstMetric(g.tracked, prometheus.GaugeValue, tracked[i], name)
	}
}
