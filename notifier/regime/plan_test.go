package regime

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-audit/vigil/internal/event"
)

// aware is the awareness time of every test incident.
var aware = time.Date(2026, time.March, 10, 9, 0, 0, 0, time.UTC)

func defaultSet(t *testing.T) *Set {
	t.Helper()
	s, err := Default()
	if err != nil {
		t.Fatalf("Default: %v", err)
	}
	return s
}

func profile(op Operator, jur ...string) Profile {
	return Profile{Operator: op, Jurisdictions: jur, DPO: "dpo@example.org"}
}

// planMap plans and indexes the obligations by id, failing on duplicates.
func planMap(t *testing.T, s *Set, f Facts, p Profile, c Clocks) map[string]Obligation {
	t.Helper()
	obs, err := s.Plan(f, p, c)
	if err != nil {
		t.Fatalf("Plan: %v", err)
	}
	m := map[string]Obligation{}
	for _, o := range obs {
		if _, dup := m[o.ID]; dup {
			t.Fatalf("obligation %s planned twice", o.ID)
		}
		m[o.ID] = o
	}
	return m
}

func ids(m map[string]Obligation) []string { return sortedKeys(m) }

func TestDefaultRegimes(t *testing.T) {
	s := defaultSet(t)
	if got, want := s.Regimes(), []string{"gdpr", "hipaa", "pipl"}; !slices.Equal(got, want) {
		t.Fatalf("Regimes() = %v, want %v", got, want)
	}
	var retention *Note
	for _, n := range s.Notes("pipl") {
		if n.Name == "log_retention_min" {
			retention = &n
		}
	}
	if retention == nil || retention.Value != "6 months" {
		t.Fatalf("pipl log_retention_min = %+v, want value \"6 months\"", retention)
	}
	if s.Notes("nope") != nil {
		t.Fatal("Notes of an unknown regime should be nil")
	}
}

func TestGrade(t *testing.T) {
	s := defaultSet(t)
	for _, tc := range []struct {
		people int64
		grade  string
		label  string
	}{
		{0, "一般", "general"},
		{999_999, "一般", "general"},
		{1_000_000, "较大", "relatively major"},
		{9_999_999, "较大", "relatively major"},
		{10_000_000, "重大", "major"},
		{99_999_999, "重大", "major"},
		{100_000_000, "特别重大", "especially major"},
		{1_000_000_000, "特别重大", "especially major"},
	} {
		if got := s.Grade(tc.people); got != tc.grade {
			t.Errorf("Grade(%d) = %q, want %q", tc.people, got, tc.grade)
		}
		if got := s.GradeLabel(tc.grade); got != tc.label {
			t.Errorf("GradeLabel(%q) = %q, want %q", tc.grade, got, tc.label)
		}
	}
}

func TestCACInitialByGrade(t *testing.T) {
	s := defaultSet(t)
	for _, tc := range []struct {
		people int64
		report bool
		grade  string
	}{
		{999_999, false, "一般"},
		{1_000_000, true, "较大"},
		{9_999_999, true, "较大"},
		{10_000_000, true, "重大"},
		{99_999_999, true, "重大"},
		{100_000_000, true, "特别重大"},
	} {
		m := planMap(t, s, Facts{People: tc.people}, profile(OperatorOrdinary, "pipl"), Clocks{Aware: aware})
		o, ok := m["cac.initial"]
		if ok != tc.report {
			t.Errorf("people %d: cac.initial due = %v, want %v (plan %v)", tc.people, ok, tc.report, ids(m))
			continue
		}
		// 一般 keeps every PIPL art. 57 duty.
		for _, id := range []string{"pipl.regulator", "pipl.individual"} {
			if _, ok := m[id]; !ok {
				t.Errorf("people %d: %s missing (plan %v)", tc.people, id, ids(m))
			}
		}
		if m["pipl.individual"].Grade != tc.grade {
			t.Errorf("people %d: grade on pipl.individual = %q, want %q", tc.people, m["pipl.individual"].Grade, tc.grade)
		}
		if !tc.report {
			for _, id := range []string{"cac.supplement", "cac.summary"} {
				if _, ok := m[id]; ok {
					t.Errorf("people %d: %s planned without an initial report", tc.people, id)
				}
			}
			continue
		}
		if o.Grade != tc.grade {
			t.Errorf("people %d: cac.initial grade %q, want %q", tc.people, o.Grade, tc.grade)
		}
		if want := "grade " + tc.grade; !strings.Contains(o.Why, want) {
			t.Errorf("people %d: why %q lacks %q", tc.people, o.Why, want)
		}
	}
}

func TestCACDeadlineByOperator(t *testing.T) {
	s := defaultSet(t)
	for _, tc := range []struct {
		op        Operator
		after     time.Duration
		authority string
	}{
		{OperatorOrdinary, 4 * time.Hour, "provincial cyberspace administration"},
		{OperatorCII, 1 * time.Hour, "public security"},
		{OperatorStateOrgan, 2 * time.Hour, "cyberspace work body"},
	} {
		m := planMap(t, s, Facts{People: 2_000_000}, profile(tc.op, "pipl"), Clocks{Aware: aware})
		o, ok := m["cac.initial"]
		if !ok {
			t.Fatalf("%s: no cac.initial in %v", tc.op, ids(m))
		}
		if want := aware.Add(tc.after); !o.Due.Equal(want) {
			t.Errorf("%s: due %v, want %v", tc.op, o.Due, want)
		}
		if !strings.Contains(o.Authority, tc.authority) {
			t.Errorf("%s: authority %q lacks %q", tc.op, o.Authority, tc.authority)
		}
		if o.Kind != KindRegulatorReport || o.Recipient != event.RecipientRegulator || o.Approval != ApprovalDPO {
			t.Errorf("%s: kind/recipient/approval = %s/%s/%s", tc.op, o.Kind, o.Recipient, o.Approval)
		}
		if o.Unverified == "" {
			t.Errorf("%s: cac.initial should carry its unverified note", tc.op)
		}
		if len(o.Channels) != 0 {
			t.Errorf("%s: regulator report has channels %v", tc.op, o.Channels)
		}
	}
}

func TestCACFollowUps(t *testing.T) {
	s := defaultSet(t)
	ended := aware.Add(5 * 24 * time.Hour)
	for _, tc := range []struct {
		name       string
		facts      Facts
		clocks     Clocks
		supplement bool
		summaryDue time.Time
		waiting    Anchor
	}{
		{"handling goes on", Facts{People: 1_000_000}, Clocks{Aware: aware}, false, time.Time{}, AnchorHandlingEnded},
		{"handling ended", Facts{People: 1_000_000}, Clocks{Aware: aware, HandlingEnded: ended}, false, ended.AddDate(0, 0, 30), ""},
		{"details pending", Facts{People: 1_000_000, DetailsPending: true}, Clocks{Aware: aware}, true, time.Time{}, AnchorHandlingEnded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := planMap(t, s, tc.facts, profile(OperatorOrdinary, "pipl"), tc.clocks)
			sum, ok := m["cac.summary"]
			if !ok {
				t.Fatalf("no cac.summary in %v", ids(m))
			}
			if sum.Kind != KindSummaryReport || sum.Anchor != AnchorHandlingEnded || sum.Follows != "cac.initial" {
				t.Errorf("summary kind/anchor/follows = %s/%s/%s", sum.Kind, sum.Anchor, sum.Follows)
			}
			if !sum.Due.Equal(tc.summaryDue) || sum.WaitingFor != tc.waiting {
				t.Errorf("summary due %v waiting %q, want %v %q", sum.Due, sum.WaitingFor, tc.summaryDue, tc.waiting)
			}
			if sum.DueRule != "30d after handling_ended" {
				t.Errorf("summary rule %q", sum.DueRule)
			}
			sup, ok := m["cac.supplement"]
			if ok != tc.supplement {
				t.Fatalf("cac.supplement due = %v, want %v", ok, tc.supplement)
			}
			if ok && (!sup.Due.IsZero() || !strings.HasPrefix(sup.DueRule, "no fixed time")) {
				t.Errorf("supplement due %v rule %q, want no fixed time", sup.Due, sup.DueRule)
			}
		})
	}
}

func TestPIPLIndividual(t *testing.T) {
	s := defaultSet(t)
	m := planMap(t, s, Facts{People: 10, Categories: []event.Category{event.CategoryHealth}}, profile(OperatorOrdinary, "pipl"), Clocks{Aware: aware})
	o := m["pipl.individual"]
	if !o.Due.Equal(aware.Add(24 * time.Hour)) {
		t.Errorf("pipl.individual due %v, want aware+24h", o.Due)
	}
	if o.Recipients != 10 || o.Recipient != event.RecipientIndividual || o.Approval != ApprovalDPO {
		t.Errorf("pipl.individual recipients %d %s approval %s", o.Recipients, o.Recipient, o.Approval)
	}
	// PIPL art. 57 items plus the privacy policy's promise.
	for _, f := range []string{"pi_types", "cause", "impact", "measures_taken", "self_protection", "contact", "facts", "remedies"} {
		if !slices.Contains(o.Fields, f) {
			t.Errorf("pipl.individual lacks field %s", f)
		}
	}
	if got, want := o.Channels, []event.Channel{"email", "sms", "push", "letter", "phone"}; !slices.Equal(got, want) {
		t.Errorf("channels %v, want %v", got, want)
	}
	if _, ok := m["pipl.public"]; ok {
		t.Error("public announcement planned with nobody unreachable")
	}
	if !o.Waivable {
		t.Fatal("pipl.individual must be waivable")
	}
	if err := o.Waive("", "dpo-1", aware); err == nil {
		t.Error("waiver without a reason accepted")
	}
	if err := o.Waive("stolen laptop was encrypted and wiped remotely", "", aware); err == nil {
		t.Error("waiver without who accepted")
	}
	if err := o.Waive("stolen laptop was encrypted and wiped remotely", "dpo-1", aware.Add(time.Hour)); err != nil {
		t.Fatalf("Waive: %v", err)
	}
	if o.Waiver == nil || o.Waiver.By != "dpo-1" {
		t.Errorf("waiver not recorded: %+v", o.Waiver)
	}
	reg := m["pipl.regulator"]
	if err := reg.Waive("no", "dpo-1", aware); !errors.Is(err, ErrNotWaivable) {
		t.Errorf("waiving pipl.regulator: %v, want ErrNotWaivable", err)
	}

	m = planMap(t, s, Facts{People: 10, Unreachable: 2}, profile(OperatorOrdinary, "pipl"), Clocks{Aware: aware})
	pub, ok := m["pipl.public"]
	if !ok || pub.Kind != KindPublicAnnouncement || pub.Substitutes != "pipl.individual" || slices.Contains(pub.Fields, "recipient_name") {
		t.Errorf("pipl.public = %+v (ok %v)", pub, ok)
	}
}

func TestMinorsGuardian(t *testing.T) {
	s := defaultSet(t)
	for _, tc := range []struct {
		minors   int64
		guardian bool
	}{{0, false}, {1, true}, {37, true}} {
		m := planMap(t, s, Facts{People: 100, Minors: tc.minors}, profile(OperatorOrdinary, "pipl"), Clocks{Aware: aware})
		g, ok := m["pipl.guardian"]
		if ok != tc.guardian {
			t.Errorf("minors %d: guardian due %v, want %v", tc.minors, ok, tc.guardian)
			continue
		}
		// The child is told too: the individual notice covers every person.
		if m["pipl.individual"].Recipients != 100 {
			t.Errorf("minors %d: individual recipients %d, want 100", tc.minors, m["pipl.individual"].Recipients)
		}
		if !ok {
			continue
		}
		if g.Recipients != tc.minors || g.Kind != KindGuardianNotice || g.Recipient != event.RecipientGuardian {
			t.Errorf("minors %d: guardian %d %s %s", tc.minors, g.Recipients, g.Kind, g.Recipient)
		}
		if !slices.Contains(g.Fields, "child_name") || !g.Due.Equal(aware.Add(24*time.Hour)) {
			t.Errorf("minors %d: guardian fields %v due %v", tc.minors, g.Fields, g.Due)
		}
	}
}

func TestGDPR(t *testing.T) {
	s := defaultSet(t)
	for _, tc := range []struct {
		name  string
		facts Facts
		want  []string
	}{
		{"no EU residents", Facts{People: 50, HighRisk: true}, nil},
		{"EU, not high risk", Facts{People: 50, EUResidents: 5}, []string{"gdpr.authority", "gdpr.record"}},
		{"EU, high risk", Facts{People: 50, EUResidents: 5, HighRisk: true}, []string{"gdpr.authority", "gdpr.individual", "gdpr.record"}},
		{"EU, high risk, encrypted", Facts{People: 50, EUResidents: 5, HighRisk: true, Encrypted: true}, []string{"gdpr.authority", "gdpr.record"}},
		{"EU, details pending", Facts{People: 50, EUResidents: 5, DetailsPending: true}, []string{"gdpr.authority", "gdpr.record", "gdpr.supplement"}},
		{"EU, high risk, unreachable", Facts{People: 50, EUResidents: 5, HighRisk: true, Unreachable: 1}, []string{"gdpr.authority", "gdpr.individual", "gdpr.public", "gdpr.record"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := planMap(t, s, tc.facts, profile(OperatorOrdinary, "gdpr"), Clocks{Aware: aware})
			if got := ids(m); !slices.Equal(got, tc.want) {
				t.Fatalf("plan %v, want %v", got, tc.want)
			}
			if a, ok := m["gdpr.authority"]; ok {
				if !a.Due.Equal(aware.Add(72 * time.Hour)) {
					t.Errorf("authority due %v, want aware+72h", a.Due)
				}
				if !slices.Equal(a.LateFields, []string{"late_reasons"}) || !slices.Contains(a.Fields, "dpo_contact") {
					t.Errorf("authority fields %v late %v", a.Fields, a.LateFields)
				}
			}
			if i, ok := m["gdpr.individual"]; ok && i.Recipients != 5 {
				t.Errorf("individual recipients %d, want the 5 EU residents", i.Recipients)
			}
		})
	}
}

func hipaaProfile() Profile {
	p := profile(OperatorOrdinary, "hipaa")
	p.CoveredEntity = true
	return p
}

func TestHIPAA(t *testing.T) {
	s := defaultSet(t)
	yearEnd60 := time.Date(2027, time.January, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, 60)
	for _, tc := range []struct {
		name    string
		facts   Facts
		covered bool
		want    []string
		states  []string
	}{
		{"not a covered entity", Facts{People: 800, PHI: true}, false, nil, nil},
		{"no PHI", Facts{People: 800}, true, nil, nil},
		{"secured PHI", Facts{People: 800, PHI: true, Encrypted: true}, true, nil, nil},
		{"499 people", Facts{People: 499, PHI: true}, true, []string{"hipaa.annual_log", "hipaa.individual"}, nil},
		{"500 people", Facts{People: 500, PHI: true}, true, []string{"hipaa.hhs", "hipaa.individual"}, nil},
		{"500 in one state", Facts{People: 600, PHI: true, PeopleByState: map[string]int64{"CA": 500, "NY": 100}}, true,
			[]string{"hipaa.hhs", "hipaa.individual"}, nil},
		{"501 in one state", Facts{People: 601, PHI: true, PeopleByState: map[string]int64{"CA": 501, "NY": 100}}, true,
			[]string{"hipaa.hhs", "hipaa.individual", "hipaa.media"}, []string{"CA"}},
		{"two states over", Facts{People: 1400, PHI: true, PeopleByState: map[string]int64{"TX": 700, "CA": 501, "NY": 199}}, true,
			[]string{"hipaa.hhs", "hipaa.individual", "hipaa.media"}, []string{"CA", "TX"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := hipaaProfile()
			p.CoveredEntity = tc.covered
			m := planMap(t, s, tc.facts, p, Clocks{Aware: aware})
			if got := ids(m); !slices.Equal(got, tc.want) {
				t.Fatalf("plan %v, want %v", got, tc.want)
			}
			if o, ok := m["hipaa.individual"]; ok && !o.Due.Equal(aware.AddDate(0, 0, 60)) {
				t.Errorf("individual due %v, want 60 calendar days after discovery", o.Due)
			}
			if o, ok := m["hipaa.hhs"]; ok && !o.Due.Equal(aware.AddDate(0, 0, 60)) {
				t.Errorf("hhs due %v, want with the individual notices", o.Due)
			}
			if o, ok := m["hipaa.annual_log"]; ok && (!o.Due.Equal(yearEnd60) || o.Anchor != AnchorYearEnd) {
				t.Errorf("annual log due %v (%s), want %v", o.Due, o.Anchor, yearEnd60)
			}
			if o, ok := m["hipaa.media"]; ok {
				if !slices.Equal(o.States, tc.states) || o.Recipients != int64(len(tc.states)) {
					t.Errorf("media states %v (%d), want %v", o.States, o.Recipients, tc.states)
				}
				if !o.Due.Equal(aware.AddDate(0, 0, 60)) {
					t.Errorf("media due %v", o.Due)
				}
			}
		})
	}
}

func TestHIPAASubstitute(t *testing.T) {
	s := defaultSet(t)
	for _, tc := range []struct {
		unreachable int64
		kind        Kind
		channels    []event.Channel
		recipients  int64
		keepFor     string
	}{
		{0, "", nil, 0, ""},
		{1, KindIndividualNotice, []event.Channel{"letter", "phone"}, 1, ""},
		{9, KindIndividualNotice, []event.Channel{"letter", "phone"}, 9, ""},
		{10, KindPublicAnnouncement, []event.Channel{"public_announcement"}, 1, "90d"},
		{250, KindPublicAnnouncement, []event.Channel{"public_announcement"}, 1, "90d"},
	} {
		m := planMap(t, s, Facts{People: 300, PHI: true, Unreachable: tc.unreachable}, hipaaProfile(), Clocks{Aware: aware})
		o, ok := m["hipaa.substitute"]
		if ok != (tc.kind != "") {
			t.Errorf("unreachable %d: substitute due %v", tc.unreachable, ok)
			continue
		}
		if !ok {
			continue
		}
		if o.Kind != tc.kind || !slices.Equal(o.Channels, tc.channels) || o.Recipients != tc.recipients || o.KeepFor.String() != tc.keepFor {
			t.Errorf("unreachable %d: substitute %s %v ×%d keep %q", tc.unreachable, o.Kind, o.Channels, o.Recipients, o.KeepFor)
		}
		if o.Substitutes != "hipaa.individual" || !o.Due.Equal(m["hipaa.individual"].Due) {
			t.Errorf("unreachable %d: substitutes %q due %v", tc.unreachable, o.Substitutes, o.Due)
		}
		if tc.kind == KindPublicAnnouncement && !slices.ContainsFunc(o.Notes, func(n string) bool { return strings.Contains(n, "toll-free") }) {
			t.Errorf("unreachable %d: notes %v lack the toll-free number", tc.unreachable, o.Notes)
		}
	}
}

func TestPlanAllRegimesDeterministic(t *testing.T) {
	s := defaultSet(t)
	f := Facts{People: 1_200_000, Minors: 40, EUResidents: 12, HighRisk: true, PHI: true, Unreachable: 12,
		PeopleByState: map[string]int64{"CA": 900}, Categories: []event.Category{event.CategoryHealth}}
	p := Profile{Operator: OperatorOrdinary, CoveredEntity: true, Jurisdictions: []string{"pipl", "hipaa", "gdpr"}, DPO: "dpo@example.org"}
	first, err := s.Plan(f, p, Clocks{Aware: aware})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range first {
		got = append(got, o.ID)
	}
	want := []string{"gdpr.authority", "gdpr.record", "gdpr.individual", "gdpr.public",
		"hipaa.individual", "hipaa.substitute", "hipaa.media", "hipaa.hhs",
		"pipl.regulator", "pipl.individual", "pipl.public", "pipl.guardian", "cac.initial", "cac.summary"}
	if !slices.Equal(got, want) {
		t.Fatalf("order %v\nwant  %v", got, want)
	}
	for range 5 {
		again, err := s.Plan(f, p, Clocks{Aware: aware})
		if err != nil || !reflect.DeepEqual(first, again) {
			t.Fatalf("second plan differs (err %v)", err)
		}
	}
	checkGolden(t, "plan_all.golden", renderPlan(first))
}

func TestPlanInputErrors(t *testing.T) {
	s := defaultSet(t)
	good := Facts{People: 10}
	for _, tc := range []struct {
		name   string
		facts  Facts
		prof   Profile
		clocks Clocks
		want   string
	}{
		{"no aware", good, profile(OperatorOrdinary, "pipl"), Clocks{}, "awareness time is required"},
		{"handling before aware", good, profile(OperatorOrdinary, "pipl"), Clocks{Aware: aware, HandlingEnded: aware.Add(-time.Hour)}, "handling ended"},
		{"operator", good, profile("private", "pipl"), Clocks{Aware: aware}, `operator "private"`},
		{"jurisdiction", good, profile(OperatorOrdinary, "ccpa"), Clocks{Aware: aware}, `jurisdiction "ccpa" has no regime file`},
		{"no jurisdictions", good, profile(OperatorOrdinary), Clocks{Aware: aware}, "no jurisdictions"},
		{"twice", good, profile(OperatorOrdinary, "pipl", "pipl"), Clocks{Aware: aware}, "listed twice"},
		{"no dpo", good, Profile{Operator: OperatorOrdinary, Jurisdictions: []string{"pipl"}}, Clocks{Aware: aware}, "DPO contact is required"},
		{"minors > people", Facts{People: 1, Minors: 2}, profile(OperatorOrdinary, "pipl"), Clocks{Aware: aware}, "minors (2) exceeds people (1)"},
		{"negative", Facts{People: -1}, profile(OperatorOrdinary, "pipl"), Clocks{Aware: aware}, "people is negative"},
		{"states", Facts{People: 5, PeopleByState: map[string]int64{"CA": 6}}, profile(OperatorOrdinary, "pipl"), Clocks{Aware: aware}, "add up to 6"},
		{"category", Facts{People: 5, Categories: []event.Category{"shoe_size"}}, profile(OperatorOrdinary, "pipl"), Clocks{Aware: aware}, `unknown category "shoe_size"`},
	} {
		_, err := s.Plan(tc.facts, tc.prof, tc.clocks)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want it to contain %q", tc.name, err, tc.want)
		}
	}
}

func TestYearEndInLocation(t *testing.T) {
	s := defaultSet(t)
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skipf("no tz data: %v", err)
	}
	a := time.Date(2026, time.December, 31, 23, 0, 0, 0, ny)
	m := planMap(t, s, Facts{People: 3, PHI: true}, hipaaProfile(), Clocks{Aware: a})
	want := time.Date(2027, time.January, 1, 0, 0, 0, 0, ny).AddDate(0, 0, 60)
	if got := m["hipaa.annual_log"].Due; !got.Equal(want) {
		t.Fatalf("annual log due %v, want %v", got, want)
	}
}
