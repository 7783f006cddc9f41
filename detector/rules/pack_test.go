package rules

import (
	"bytes"
	"io/fs"
	"os"
	"regexp"
	"slices"
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

// kindTagPrefix starts the tag that maps a rule to the simulator incident
// kind it targets: vigil.kind.<kind>.
const kindTagPrefix = "vigil.kind."

// behaviourCoverage lists the simulator kinds that built-in behaviours
// (detector/behave) cover besides the rules tagged for them. A kind no rule
// targets must be listed here, with the behaviours that catch it.
// TestSimulator with VIGIL_RULES_SIM_BEHAVIOURS=1 checks the list (over
// eight days or more: the baselines learn for a week).
var behaviourCoverage = map[simulate.Kind][]string{
	simulate.KindCompromisedAccount:   {behave.RuleImpossibleTravel},
	simulate.KindOffHoursBrowsing:     {behave.RuleOffHours},
	simulate.KindNoRelationshipAccess: {behave.RuleCareRelationship},
	simulate.KindVIPSnooping:          {behave.RuleCareRelationship},
	simulate.KindDeviceFarm:           {behave.RuleDeviceManyAccounts},
	simulate.KindEmulatorRealname:     {behave.RuleDeviceSignals},
	simulate.KindBulkExport:           {behave.RuleActorBaseline},
	simulate.KindDepartingExfil:       {behave.RuleActorBaseline},
	simulate.KindDeniedBurst:          {behave.RuleActorBaseline},
	simulate.KindDormantAccount:       {behave.RuleDormantAccount},
}

func mustLoad(t testing.TB) *sigma.Set {
	t.Helper()
	set, err := sigma.LoadFS(FS, sigma.Options{})
	if err != nil {
		t.Fatalf("the shipped pack does not load: %v", err)
	}
	return set
}

func TestPackLoads(t *testing.T) {
	set := mustLoad(t)
	if len(set.Rules) == 0 || len(set.Correlations) == 0 {
		t.Fatalf("pack has %d rules and %d correlations", len(set.Rules), len(set.Correlations))
	}
	// The embedded pack is the directory as it is on disk: `vigil detect`
	// may read either.
	onDisk, err := sigma.LoadDir(".", sigma.Options{})
	if err != nil {
		t.Fatalf("LoadDir(detector/rules): %v", err)
	}
	if len(onDisk.Rules) != len(set.Rules) || len(onDisk.Correlations) != len(set.Correlations) {
		t.Errorf("embedded pack has %d rules and %d correlations, the directory %d and %d: is a file missing from the go:embed patterns?",
			len(set.Rules), len(set.Correlations), len(onDisk.Rules), len(onDisk.Correlations))
	}
	var files []string
	_ = fs.WalkDir(FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return err
	})
	if len(files) < 4 {
		t.Errorf("embedded files: %v", files)
	}
}

func TestPackTestCasesPass(t *testing.T) {
	set := mustLoad(t)
	results := set.RunTests()
	var report bytes.Buffer
	failed, err := sigma.WriteTestReport(&report, results)
	if err != nil {
		t.Fatal(err)
	}
	if failed != 0 {
		t.Errorf("%d rules fail their test cases:\n%s", failed, report.String())
	}
	if testing.Verbose() {
		t.Logf("\n%s", report.String())
	}
	for _, r := range results {
		var match, nomatch int
		for _, c := range r.Cases {
			if c.Match {
				match++
			} else {
				nomatch++
			}
		}
		if match == 0 || nomatch == 0 {
			t.Errorf("rule %s (%s:%d) has %d match and %d nomatch cases; every rule needs both", r.Rule.ID, r.Rule.File, r.Rule.Line, match, nomatch)
		}
	}
}

var (
	alertID  = regexp.MustCompile(`^vigil-(access|device)-[0-9]{3}$`)
	corrID   = regexp.MustCompile(`^vigil-(access|device)-c[0-9]{2}$`)
	feederID = regexp.MustCompile(`^vigil-(access|device)-f[0-9]{2}$`)
)

// TestPackMetadata holds every rule to the pack's conventions: ids by kind
// of rule, the service in the id, status stable or test, and the
// descriptive keys an analyst reads with an alert.
func TestPackMetadata(t *testing.T) {
	set := mustLoad(t)
	alerting := 0
	checkMeta := func(m sigma.Meta, feeder bool) {
		t.Helper()
		if m.Status != sigma.StatusStable && m.Status != sigma.StatusTest {
			t.Errorf("%s: status %q, want stable or test", m.ID, m.Status)
		}
		if m.Title == "" || m.Description == "" {
			t.Errorf("%s: needs a title and a description", m.ID)
		}
		if feeder {
			if m.Level != "" {
				t.Errorf("%s: a feeder raises no alert and takes no level", m.ID)
			}
			return
		}
		alerting++
		if m.Level == "" {
			t.Errorf("%s: no level", m.ID)
		}
		if len(m.FalsePositives) == 0 {
			t.Errorf("%s: no falsepositives", m.ID)
		}
		if m.Author == "" || m.Date == "" {
			t.Errorf("%s: needs author and date", m.ID)
		}
		hasAttack := slices.ContainsFunc(m.Tags, func(s string) bool { return strings.HasPrefix(s, "attack.") })
		if !hasAttack {
			t.Errorf("%s: no attack.* tag (tags %v)", m.ID, m.Tags)
		}
	}
	for _, r := range set.Rules {
		svc := string(r.Service)
		switch {
		case alertID.MatchString(r.ID):
			if !r.Standalone {
				t.Errorf("%s: an alerting id, but the rule only feeds correlations", r.ID)
			}
			if len(r.Fields) == 0 {
				t.Errorf("%s: no fields to show with the alert", r.ID)
			}
			checkMeta(r.Meta, false)
		case feederID.MatchString(r.ID):
			if r.Standalone || len(r.Correlations) == 0 {
				t.Errorf("%s: a feeder id, but the rule raises alerts of its own or feeds no correlation", r.ID)
			}
			checkMeta(r.Meta, true)
		default:
			t.Errorf("%s: id is neither vigil-<service>-NNN (alerting) nor vigil-<service>-fNN (feeder)", r.ID)
		}
		if !strings.HasPrefix(r.ID, "vigil-"+svc+"-") {
			t.Errorf("%s: the id does not name the rule's service %s", r.ID, svc)
		}
	}
	for _, c := range set.Correlations {
		if !corrID.MatchString(c.ID) {
			t.Errorf("%s: a correlation id is vigil-<service>-cNN", c.ID)
		}
		if svc := string(c.Inputs[0].Rule.Service); !strings.HasPrefix(c.ID, "vigil-"+svc+"-") {
			t.Errorf("%s: the id does not name the service %s of its rules", c.ID, svc)
		}
		if c.Generate {
			t.Errorf("%s: generate: true makes its feeders alert on every event", c.ID)
		}
		checkMeta(c.Meta, false)
	}
	if alerting < 20 {
		t.Errorf("the pack raises alerts from %d rules; it should have at least 20", alerting)
	}
}

// TestKindCoverage: every incident kind of the simulator is targeted by a
// rule's vigil.kind tag, and every such tag names a real kind.
func TestKindCoverage(t *testing.T) {
	targets := kindTargets(t)
	for _, k := range simulate.Kinds() {
		if len(targets[k]) == 0 && len(behaviourCoverage[k]) == 0 {
			t.Errorf("kind %s: no rule is tagged %s%s and no behaviour is listed as covering it", k, kindTagPrefix, k)
		}
	}
	for k, ids := range targets {
		if !k.Valid() {
			t.Errorf("rules %v are tagged %s%s, which is not a simulator kind", ids, kindTagPrefix, k)
		}
	}
	for k := range behaviourCoverage {
		if !k.Valid() {
			t.Errorf("behaviourCoverage names %q, which is not a simulator kind", k)
		}
	}
}

// TestReadme keeps README.md's tables in step with the pack: every rule
// that raises alerts has a row whose level and kinds are the rule's.
func TestReadme(t *testing.T) {
	data, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	// The rule tables: from "## Rules" to the feeders.
	text := string(data)
	start, end := strings.Index(text, "\n## Rules\n"), strings.Index(text, "\n### Feeders\n")
	if start < 0 || end < start {
		t.Fatal(`README.md: no "## Rules" section followed by "### Feeders"`)
	}
	type row struct{ level, kinds string }
	rows := map[string]row{}
	for _, line := range strings.Split(text[start:end], "\n") {
		if !strings.HasPrefix(line, "| `vigil-") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "| "), " | ")
		if len(cells) != 4 {
			t.Errorf("README.md: malformed row %q", line)
			continue
		}
		rows[strings.Trim(cells[0], "`")] = row{cells[1], cells[len(cells)-1]}
	}
	set := mustLoad(t)
	check := func(m sigma.Meta) {
		t.Helper()
		r, ok := rows[m.ID]
		if !ok {
			t.Errorf("README.md has no row for %s", m.ID)
			return
		}
		if r.level != m.Level {
			t.Errorf("README.md: %s has level %s, the rule %s", m.ID, r.level, m.Level)
		}
		var kinds []string
		for _, tag := range m.Tags {
			if k, ok := strings.CutPrefix(tag, kindTagPrefix); ok {
				kinds = append(kinds, k)
			}
		}
		want := "—"
		if len(kinds) > 0 {
			want = strings.Join(kinds, ", ")
		}
		if r.kinds != want {
			t.Errorf("README.md: %s targets %q, the rule's tags say %q", m.ID, r.kinds, want)
		}
	}
	n := 0
	for _, r := range set.Rules {
		if r.Standalone {
			check(r.Meta)
			n++
		}
	}
	for _, c := range set.Correlations {
		check(c.Meta)
		n++
	}
	if len(rows) != n {
		t.Errorf("README.md has %d rule rows, the pack %d alerting rules", len(rows), n)
	}
}

// ---- Correlations ------------------------------------------------------------
//
// Sigma test cases cover detection rules only; these cases feed event
// sequences to a detector partition and check that each correlation fires
// at its threshold and not one step below it.

var t0 = time.Date(2026, 11, 4, 9, 0, 0, 0, time.UTC)

func at(minutes float64) event.Timestamp {
	return event.Timestamp{Time: t0.Add(time.Duration(minutes * float64(time.Minute)))}
}

// access returns a successful read of patient pt-<n> by nurse SHA-N00001
// at t0 + minutes, changed by mod.
func access(minutes float64, n int, mod func(*event.AccessEvent)) *event.AccessEvent {
	e := &event.AccessEvent{
		EventID:      "ev-" + strconv.FormatFloat(minutes, 'f', -1, 64) + "-" + strconv.Itoa(n),
		OccurredAt:   at(minutes),
		ReceivedAt:   at(minutes),
		Source:       "test",
		Org:          "hosp-shanghai",
		Actor:        event.Actor{ID: "SHA-N00001", Type: event.ActorStaff, Role: "nurse", Department: "oncology"},
		Action:       event.ActionRead,
		Subject:      event.Subject{ID: "pt-" + strconv.Itoa(n), Type: event.SubjectPatient},
		Categories:   []event.Category{event.CategoryHealth},
		Relationship: event.RelationshipUnknown,
		Outcome:      event.OutcomeSuccess,
		Client:       event.Client{IP: "10.0.18.4", Geo: event.Geo{Country: "CN", City: "Shanghai"}},
		Attrs:        map[string]string{"shift": "day", "employment_status": "active"},
	}
	if mod != nil {
		mod(e)
	}
	return e
}

// device returns a successful login of account acct-<n> on device dev-1 at
// t0 + minutes, changed by mod.
func device(minutes float64, n int, mod func(*event.DeviceEvent)) *event.DeviceEvent {
	e := &event.DeviceEvent{
		EventID:    "dv-" + strconv.FormatFloat(minutes, 'f', -1, 64) + "-" + strconv.Itoa(n),
		OccurredAt: at(minutes),
		ReceivedAt: at(minutes),
		Source:     "test",
		Org:        "hosp-shanghai",
		AccountID:  "acct-" + strconv.Itoa(n),
		DeviceID:   "dev-1",
		Kind:       event.KindLogin,
		Outcome:    event.OutcomeSuccess,
	}
	if mod != nil {
		mod(e)
	}
	return e
}

// series builds n events spaced step minutes apart; each gets index i.
func series[E any](n int, step float64, mk func(minutes float64, i int) E) []E {
	out := make([]E, n)
	for i := range out {
		out[i] = mk(float64(i)*step, i)
	}
	return out
}

func anyOf[E any](es []E) []any {
	out := make([]any, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

func exportBy(records int64) func(*event.AccessEvent) {
	return func(e *event.AccessEvent) { e.Action, e.RecordCount = event.ActionExport, records }
}

func onNotice(e *event.AccessEvent) {
	e.Attrs = map[string]string{"employment_status": "notice_period"}
}

func TestCorrelations(t *testing.T) {
	set := mustLoad(t)
	cases := []struct {
		name   string
		corr   string
		events []any
		fire   bool
	}{
		{"15 exports in 42 min", "vigil-access-c01", anyOf(series(15, 3, func(m float64, i int) *event.AccessEvent { return access(m, i, exportBy(2)) })), true},
		{"14 exports", "vigil-access-c01", anyOf(series(14, 3, func(m float64, i int) *event.AccessEvent { return access(m, i, exportBy(2)) })), false},
		{"15 exports over 2h", "vigil-access-c01", anyOf(series(15, 9, func(m float64, i int) *event.AccessEvent { return access(m, i, exportBy(2)) })), false},
		{"15 prints", "vigil-access-c01", anyOf(series(15, 1, func(m float64, i int) *event.AccessEvent {
			return access(m, i, func(e *event.AccessEvent) { e.Action = event.ActionPrint })
		})), false},

		{"4 × 750 records in 9h", "vigil-access-c02", anyOf(series(4, 180, func(m float64, i int) *event.AccessEvent { return access(m, i, exportBy(750)) })), true},
		{"4 × 749 records", "vigil-access-c02", anyOf(series(4, 180, func(m float64, i int) *event.AccessEvent { return access(m, i, exportBy(749)) })), false},
		{"4 × 750 records over 27h", "vigil-access-c02", anyOf(series(4, 540, func(m float64, i int) *event.AccessEvent { return access(m, i, exportBy(750)) })), false},

		{"40 patients, no care, in 39 min", "vigil-access-c03", anyOf(series(40, 1, func(m float64, i int) *event.AccessEvent { return access(m, i, nil) })), true},
		{"39 patients", "vigil-access-c03", anyOf(series(39, 1, func(m float64, i int) *event.AccessEvent { return access(m, i, nil) })), false},
		{"80 reads of 20 patients", "vigil-access-c03", anyOf(series(80, 0.5, func(m float64, i int) *event.AccessEvent { return access(m, i%20, nil) })), false},
		{"40 patients on a ward round", "vigil-access-c03", anyOf(series(40, 1, func(m float64, i int) *event.AccessEvent {
			return access(m, i, func(e *event.AccessEvent) { e.Relationship = event.RelationshipTrue })
		})), false},
		{"40 patients over 2h", "vigil-access-c03", anyOf(series(40, 3, func(m float64, i int) *event.AccessEvent { return access(m, i, nil) })), false},

		{"on notice: 100 patients in 99 min", "vigil-access-c04", anyOf(series(100, 1, func(m float64, i int) *event.AccessEvent { return access(m, i, onNotice) })), true},
		{"on notice: 99 patients", "vigil-access-c04", anyOf(series(99, 1, func(m float64, i int) *event.AccessEvent { return access(m, i, onNotice) })), false},
		{"active: 100 patients", "vigil-access-c04", anyOf(series(100, 1, func(m float64, i int) *event.AccessEvent { return access(m, i, nil) })), false},

		{"on notice: 20 prints", "vigil-access-c05", anyOf(series(20, 5, func(m float64, i int) *event.AccessEvent {
			return access(m, i, func(e *event.AccessEvent) { onNotice(e); e.Action = event.ActionPrint })
		})), true},
		{"on notice: 19 prints", "vigil-access-c05", anyOf(series(19, 5, func(m float64, i int) *event.AccessEvent {
			return access(m, i, func(e *event.AccessEvent) { onNotice(e); e.Action = event.ActionPrint })
		})), false},

		{"8 denied in 7 min", "vigil-access-c06", anyOf(series(8, 1, func(m float64, i int) *event.AccessEvent {
			return access(m, i, func(e *event.AccessEvent) { e.Outcome, e.Relationship = event.OutcomeDenied, event.RelationshipFalse })
		})), true},
		{"7 denied", "vigil-access-c06", anyOf(series(7, 1, func(m float64, i int) *event.AccessEvent {
			return access(m, i, func(e *event.AccessEvent) { e.Outcome = event.OutcomeDenied })
		})), false},
		{"8 denied over 21 min", "vigil-access-c06", anyOf(series(8, 3, func(m float64, i int) *event.AccessEvent {
			return access(m, i, func(e *event.AccessEvent) { e.Outcome = event.OutcomeDenied })
		})), false},

		{"5 failed logins", "vigil-access-c07", anyOf(series(5, 1, func(m float64, i int) *event.AccessEvent {
			return access(m, i, func(e *event.AccessEvent) {
				e.Action, e.Outcome, e.Subject, e.Categories = event.ActionLogin, event.OutcomeDenied, event.Subject{}, nil
			})
		})), true},
		{"4 failed logins", "vigil-access-c07", anyOf(series(4, 1, func(m float64, i int) *event.AccessEvent {
			return access(m, i, func(e *event.AccessEvent) {
				e.Action, e.Outcome, e.Subject, e.Categories = event.ActionLogin, event.OutcomeDenied, event.Subject{}, nil
			})
		})), false},

		{"Shanghai then Moscow 30 min later", "vigil-access-c08", []any{
			access(0, 1, nil),
			access(30, 2, func(e *event.AccessEvent) { e.Client.Geo = event.Geo{Country: "RU", City: "Moscow"} }),
		}, true},
		{"Shanghai all day", "vigil-access-c08", anyOf(series(20, 30, func(m float64, i int) *event.AccessEvent { return access(m, i, nil) })), false},
		{"Shanghai, a conference in Vienna three hours later", "vigil-access-c08", []any{
			access(0, 1, nil),
			access(180, 2, func(e *event.AccessEvent) { e.Client.Geo = event.Geo{Country: "AT", City: "Vienna"} }),
		}, false},

		{"6 accounts on one device", "vigil-device-c01", anyOf(series(6, 20, func(m float64, i int) *event.DeviceEvent { return device(m, i, nil) })), true},
		{"5 accounts on one device", "vigil-device-c01", anyOf(series(5, 20, func(m float64, i int) *event.DeviceEvent { return device(m, i, nil) })), false},
		{"a family phone: 3 accounts, many logins", "vigil-device-c01", anyOf(series(30, 20, func(m float64, i int) *event.DeviceEvent { return device(m, i%3, nil) })), false},

		{"3 registrations on one device", "vigil-device-c02", anyOf(series(3, 10, func(m float64, i int) *event.DeviceEvent {
			return device(m, i, func(e *event.DeviceEvent) { e.Kind = event.KindRegister })
		})), true},
		{"2 registrations", "vigil-device-c02", anyOf(series(2, 10, func(m float64, i int) *event.DeviceEvent {
			return device(m, i, func(e *event.DeviceEvent) { e.Kind = event.KindRegister })
		})), false},

		{"4 failed face checks in 6 min", "vigil-device-c03", anyOf(series(4, 2, func(m float64, i int) *event.DeviceEvent {
			return device(m, 1, func(e *event.DeviceEvent) { e.Kind, e.Outcome = event.KindFaceVerify, event.OutcomeFailure })
		})), true},
		{"3 failed face checks", "vigil-device-c03", anyOf(series(3, 2, func(m float64, i int) *event.DeviceEvent {
			return device(m, 1, func(e *event.DeviceEvent) { e.Kind, e.Outcome = event.KindFaceVerify, event.OutcomeFailure })
		})), false},

		{"SIM change, password reset, card bound", "vigil-device-c04", []any{
			device(0, 1, func(e *event.DeviceEvent) { e.Kind = event.KindSIMChange }),
			device(40, 1, func(e *event.DeviceEvent) { e.Kind, e.DeviceID = event.KindPasswordReset, "dev-2" }),
			device(50, 1, func(e *event.DeviceEvent) { e.Kind, e.DeviceID = event.KindBindCard, "dev-2" }),
		}, true},
		{"SIM change, password reset, nothing else", "vigil-device-c04", []any{
			device(0, 1, func(e *event.DeviceEvent) { e.Kind = event.KindSIMChange }),
			device(40, 1, func(e *event.DeviceEvent) { e.Kind = event.KindPasswordReset }),
			device(50, 1, nil),
		}, false},
		{"payment, password reset, SIM change", "vigil-device-c04", []any{
			device(0, 1, func(e *event.DeviceEvent) { e.Kind = event.KindPayment }),
			device(20, 1, func(e *event.DeviceEvent) { e.Kind = event.KindPasswordReset }),
			device(40, 1, func(e *event.DeviceEvent) { e.Kind = event.KindSIMChange }),
		}, false},
		{"SIM change, password reset and payment 3h later", "vigil-device-c04", []any{
			device(0, 1, func(e *event.DeviceEvent) { e.Kind = event.KindSIMChange }),
			device(60, 1, func(e *event.DeviceEvent) { e.Kind = event.KindPasswordReset }),
			device(180, 1, func(e *event.DeviceEvent) { e.Kind = event.KindPayment }),
		}, false},

		{"failed logins of 4 accounts on one device", "vigil-device-c05", anyOf(series(4, 5, func(m float64, i int) *event.DeviceEvent {
			return device(m, i, func(e *event.DeviceEvent) { e.Outcome = event.OutcomeFailure })
		})), true},
		{"a family phone: 9 failed logins of 3 accounts", "vigil-device-c05", anyOf(series(9, 5, func(m float64, i int) *event.DeviceEvent {
			return device(m, i%3, func(e *event.DeviceEvent) { e.Outcome = event.OutcomeFailure })
		})), false},
	}
	tested := map[string]bool{}
	for _, tc := range cases {
		t.Run(tc.corr+"/"+tc.name, func(t *testing.T) {
			if set.Correlation(tc.corr) == nil {
				t.Fatalf("no correlation %s in the pack", tc.corr)
			}
			tested[tc.corr] = true
			p, err := detector.New(set, detector.Options{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			for i, e := range tc.events {
				switch e := e.(type) {
				case *event.AccessEvent:
					if probs := (event.Validator{MaxFutureSkew: -1}).ValidateAccess(*e); len(probs) > 0 {
						t.Fatalf("event %d is invalid: %v", i, probs)
					}
					p.Access(int64(i+1), e)
				case *event.DeviceEvent:
					if probs := (event.Validator{MaxFutureSkew: -1}).ValidateDevice(*e); len(probs) > 0 {
						t.Fatalf("event %d is invalid: %v", i, probs)
					}
					p.Device(int64(i+1), e)
				}
			}
			var fired bool
			for _, a := range p.Drain(nil) {
				if a.RuleID == tc.corr {
					fired = true
				}
			}
			if fired != tc.fire {
				t.Errorf("%s fired = %v, want %v", tc.corr, fired, tc.fire)
			}
		})
	}
	for _, c := range set.Correlations {
		if !tested[c.ID] {
			t.Errorf("correlation %s has no case in TestCorrelations", c.ID)
		}
	}
}
