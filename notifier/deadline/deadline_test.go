package deadline

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

var t0 = time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)

// A CAC report (4 h from awareness), a PIPL individual notice (24 h) and a
// GDPR authority notification (72 h), all aware at t0.
func obligations() []Obligation {
	return []Obligation{
		{ID: "inc1/cac.initial", Regime: "cac", Kind: "regulator_report", Status: StatusOpen, Start: t0, Due: t0.Add(4 * time.Hour)},
		{ID: "inc1/pipl.individual", Regime: "pipl", Kind: "individual_notice", Status: StatusOpen, Start: t0, Due: t0.Add(24 * time.Hour)},
		{ID: "inc2/pipl.individual", Regime: "pipl", Kind: "individual_notice", Status: StatusOpen, Start: t0.Add(-20 * time.Hour), Due: t0.Add(4 * time.Hour)},
		{ID: "inc1/gdpr.authority", Regime: "gdpr", Kind: "regulator_report", Status: StatusDone, Start: t0, Due: t0.Add(72 * time.Hour)},
		{ID: "inc3/gdpr.authority", Regime: "gdpr", Kind: "regulator_report", Status: StatusWaived, Start: t0, Due: t0.Add(72 * time.Hour)},
	}
}

func TestCollector(t *testing.T) {
	now := t0.Add(2 * time.Hour)
	c := NewCollector(func() []Obligation { return obligations() }, func() time.Time { return now })
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	want := `
# HELP vigil_notifier_obligation_deadline_seconds Seconds left until the nearest deadline among open obligations of a regime and kind; negative when passed.
# TYPE vigil_notifier_obligation_deadline_seconds gauge
vigil_notifier_obligation_deadline_seconds{kind="individual_notice",regime="pipl"} 7200
vigil_notifier_obligation_deadline_seconds{kind="regulator_report",regime="cac"} 7200
# HELP vigil_notifier_obligation_elapsed_ratio Largest share of its legal time used among open obligations of a regime and kind (1 = deadline reached).
# TYPE vigil_notifier_obligation_elapsed_ratio gauge
vigil_notifier_obligation_elapsed_ratio{kind="individual_notice",regime="pipl"} 0.9166666666666666
vigil_notifier_obligation_elapsed_ratio{kind="regulator_report",regime="cac"} 0.5
# HELP vigil_notifier_obligations Obligations (notices and reports owed) by regime, kind and status (open, done, waived).
# TYPE vigil_notifier_obligations gauge
vigil_notifier_obligations{kind="individual_notice",regime="pipl",status="open"} 2
vigil_notifier_obligations{kind="regulator_report",regime="cac",status="open"} 1
vigil_notifier_obligations{kind="regulator_report",regime="gdpr",status="done"} 1
vigil_notifier_obligations{kind="regulator_report",regime="gdpr",status="waived"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("metric %s: %s", p.Metric, p.Text)
	}

	// Past the deadline the time left is negative and the ratio above 1.
	now = t0.Add(5 * time.Hour)
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP vigil_notifier_obligation_deadline_seconds Seconds left until the nearest deadline among open obligations of a regime and kind; negative when passed.
# TYPE vigil_notifier_obligation_deadline_seconds gauge
vigil_notifier_obligation_deadline_seconds{kind="individual_notice",regime="pipl"} -3600
vigil_notifier_obligation_deadline_seconds{kind="regulator_report",regime="cac"} -3600
`), "vigil_notifier_obligation_deadline_seconds"); err != nil {
		t.Fatal(err)
	}
}

func TestElapsed(t *testing.T) {
	o := Obligation{Start: t0, Due: t0.Add(4 * time.Hour)}
	for _, tc := range []struct {
		at   time.Duration
		want float64
	}{{-time.Hour, -0.25}, {0, 0}, {2 * time.Hour, 0.5}, {4 * time.Hour, 1}, {5 * time.Hour, 1.25}} {
		if got := o.Elapsed(t0.Add(tc.at)); got != tc.want {
			t.Errorf("Elapsed at %v = %v, want %v", tc.at, got, tc.want)
		}
	}
	// A deadline at the start ("immediately") is fully elapsed from then.
	z := Obligation{Start: t0, Due: t0}
	if z.Elapsed(t0.Add(-time.Second)) != 0 || z.Elapsed(t0) != 1 {
		t.Error("a zero-length obligation must be 0 before its start and 1 from it")
	}
}

func TestEscalatorReportsEachThresholdOnce(t *testing.T) {
	e := NewEscalator()
	cac := Obligation{ID: "inc1/cac.initial", Regime: "cac", Kind: "regulator_report", Status: StatusOpen, Start: t0, Due: t0.Add(4 * time.Hour)}
	for _, step := range []struct {
		at   time.Duration
		want []float64
	}{
		{time.Hour + 59*time.Minute, nil}, // 49.6 %
		{2 * time.Hour, []float64{0.5}},   // exactly half
		{3 * time.Hour, nil},              // reported already
		{3*time.Hour + 36*time.Minute, []float64{0.9}},
		{3*time.Hour + 50*time.Minute, nil},
		{4 * time.Hour, []float64{1}},
		{6 * time.Hour, nil},
	} {
		got := e.Check([]Obligation{cac}, t0.Add(step.at))
		var th []float64
		for _, g := range got {
			th = append(th, g.Threshold)
		}
		if len(th) != len(step.want) || (len(th) == 1 && th[0] != step.want[0]) {
			t.Fatalf("at +%v: escalations %v, want %v", step.at, th, step.want)
		}
	}
	// Jumping past two thresholds reports only the highest; a met
	// obligation is forgotten.
	e = NewEscalator()
	got := e.Check([]Obligation{cac}, t0.Add(3*time.Hour+40*time.Minute))
	if len(got) != 1 || got[0].Threshold != 0.9 {
		t.Fatalf("jump to 92%%: %+v", got)
	}
	if !strings.Contains(got[0].String(), "cac regulator_report obligation inc1/cac.initial has used 92% of its time; 20m0s left") {
		t.Fatalf("message %q", got[0].String())
	}
	done := cac
	done.Status = StatusDone
	if got := e.Check([]Obligation{done}, t0.Add(5*time.Hour)); len(got) != 0 {
		t.Fatalf("a met obligation escalated: %+v", got)
	}
	if len(e.done) != 0 {
		t.Fatal("a met obligation is still tracked")
	}
	over := e.Check([]Obligation{cac}, t0.Add(5*time.Hour))
	if len(over) != 1 || !strings.HasPrefix(over[0].String(), "OVERDUE: cac regulator_report obligation inc1/cac.initial passed its deadline 1h0m0s ago") {
		t.Fatalf("overdue: %+v", over)
	}
}
