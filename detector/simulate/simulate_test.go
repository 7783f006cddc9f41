package simulate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-audit/vigil/collector/pseudo"
	"github.com/vigil-audit/vigil/internal/event"
)

// Every event passes the collector's validation, ids are unique and each
// stream is in time order.
func TestEventsValid(t *testing.T) {
	ds := fixture(t)
	if len(ds.invalid) > 0 {
		t.Fatalf("%d+ events the collector would reject, e.g.:\n%s", len(ds.invalid), strings.Join(ds.invalid, "\n"))
	}
	if len(ds.acc) < 60_000 || len(ds.dev) < 10_000 {
		t.Fatalf("a day at 1 event/s gave %d access and %d device events", len(ds.acc), len(ds.dev))
	}
	seen := map[string]bool{}
	check := func(stream string, i int, id string, at, prev event.Timestamp) {
		if seen[id] {
			t.Fatalf("%s event %d: event_id %s repeats", stream, i, id)
		}
		seen[id] = true
		if at.Before(prev.Time) {
			t.Fatalf("%s event %d (%s) at %s is before the one before it (%s)", stream, i, id, at, prev)
		}
		// Dormant accounts' history is backdated weeks before the run.
		if at.Before(ds.cfg.Start) && !at.Before(ds.cfg.Start.Add(-dormantMinGap+24*time.Hour)) ||
			!at.Before(ds.cfg.Start.Add(ds.cfg.Duration)) {
			t.Fatalf("%s event %s at %s is outside the run", stream, id, at)
		}
	}
	var prev event.Timestamp
	for i := range ds.acc {
		check("access", i, ds.acc[i].EventID, ds.acc[i].OccurredAt, prev)
		prev = ds.acc[i].OccurredAt
	}
	prev = event.Timestamp{}
	for i := range ds.dev {
		check("device", i, ds.dev[i].EventID, ds.dev[i].OccurredAt, prev)
		prev = ds.dev[i].OccurredAt
	}
	if got := ds.stats.Access + ds.stats.Device; got != int64(len(seen)) {
		t.Errorf("Stats counted %d events, the output holds %d", got, len(seen))
	}
}

// The same seed and configuration give the same bytes; anything else
// gives other bytes.
func TestDeterminism(t *testing.T) {
	base := Config{Seed: 3, Rate: 0.3, Duration: 4 * time.Hour, Orgs: 2, Key: testKey, IncidentsPerHour: 2, IDPrefix: "t-"}
	with := func(f func(*Config)) Config { c := base; f(&c); return c }
	tests := []struct {
		name string
		a, b Config
		same bool
	}{
		{"same seed and config", base, base, true},
		{"another seed", base, with(func(c *Config) { c.Seed = 4 }), false},
		{"another rate", base, with(func(c *Config) { c.Rate = 0.6 }), false},
		{"another start", base, with(func(c *Config) { c.Start = DefaultStart.Add(time.Hour) }), false},
		{"other kinds", base, with(func(c *Config) { c.Kinds = []Kind{KindBulkExport} }), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, a1, d1, l1 := generate(t, tt.a)
			_, a2, d2, l2 := generate(t, tt.b)
			same := bytes.Equal(a1, a2) && bytes.Equal(d1, d2) && bytes.Equal(l1, l2)
			if same != tt.same {
				t.Fatalf("identical output: %t, want %t (access %d/%d bytes, device %d/%d, labels %d/%d)",
					same, tt.same, len(a1), len(a2), len(d1), len(d2), len(l1), len(l2))
			}
			if !tt.same && bytes.Equal(a1, a2) {
				t.Fatal("access streams are identical")
			}
			if len(l1) == 0 {
				t.Fatal("no labels: the comparison is vacuous")
			}
		})
	}
	// Default id prefixes name the configuration, so runs never share ids.
	s1, _ := New(Config{Seed: 1, Rate: 0.1})
	s2, _ := New(Config{Seed: 2, Rate: 0.1})
	if bytes.Equal(s1.prefix, s2.prefix) {
		t.Errorf("seeds 1 and 2 have the same id prefix %q", s1.prefix)
	}
}

// Injecting incidents changes nothing of the background: with and without
// incidents, the events outside labels are the same events.
func TestIncidentsLeaveBackgroundAlone(t *testing.T) {
	cfg := Config{Seed: 5, Rate: 0.5, Duration: 4 * time.Hour, Orgs: 2, IncidentsPerHour: 3}
	sa, a1, d1, l1 := generate(t, cfg)
	cfg.NoIncidents = true
	sb, a2, d2, l2 := generate(t, cfg)
	with, without := decode(sa, a1, d1, l1), decode(sb, a2, d2, l2)
	if len(with.lbl) == 0 || len(without.lbl) != 0 {
		t.Fatalf("labels with incidents %d, without %d", len(with.lbl), len(without.lbl))
	}
	strip := func(ds *dataset) []string {
		var out []string
		for _, e := range ds.background() {
			if e.OccurredAt.Before(ds.cfg.Start) {
				continue // the history of the incidents' dormant accounts
			}
			c := *e
			c.EventID = ""
			out = append(out, string(c.AppendJSON(nil)))
		}
		for i := range ds.dev {
			if ds.inIncident[ds.dev[i].EventID] == nil {
				c := ds.dev[i]
				c.EventID = ""
				out = append(out, string(c.AppendJSON(nil)))
			}
		}
		return out
	}
	x, y := strip(with), strip(without)
	if !slices.Equal(x, y) {
		t.Fatalf("background differs: %d events with incidents, %d without", len(x), len(y))
	}
}

// Each label lists events that exist and show the pattern of its kind.
func TestLabelsMatchEvents(t *testing.T) {
	ds := fixture(t)
	tok, err := pseudo.New(testKey, pseudo.Defaults())
	if err != nil {
		t.Fatal(err)
	}
	byKind := map[Kind]int{}
	for i := range ds.lbl {
		l := &ds.lbl[i]
		byKind[l.Kind]++
		t.Run(string(l.Kind)+"/"+l.ID, func(t *testing.T) {
			if l.Partial || len(l.EventIDs) == 0 || l.Description == "" {
				t.Fatalf("partial %t, %d events, description %q", l.Partial, len(l.EventIDs), l.Description)
			}
			if l.Stream != l.Kind.Stream() {
				t.Fatalf("stream %q, want %q", l.Stream, l.Kind.Stream())
			}
			if l.Stream == StreamDevice {
				checkDeviceLabel(t, ds, l, tok)
			} else {
				checkAccessLabel(t, ds, l, tok)
			}
		})
	}
	for _, k := range Kinds() {
		if byKind[k] < 18 {
			t.Errorf("%s: %d labels in a day at one an hour", k, byKind[k])
		}
	}
}

func checkAccessLabel(t *testing.T, ds *dataset, l *Label, tok *pseudo.Pseudonymiser) {
	t.Helper()
	var evs []*event.AccessEvent
	var subjects []string
	for _, id := range l.EventIDs {
		e := ds.accByID[id]
		if e == nil {
			t.Fatalf("event %s is not in the access stream", id)
		}
		if e.Org != l.Org || e.Actor.ID != l.ActorID {
			t.Fatalf("event %s is by %s/%s, label says %s/%s", id, e.Org, e.Actor.ID, l.Org, l.ActorID)
		}
		if len(evs) > 0 && e.OccurredAt.Before(evs[len(evs)-1].OccurredAt.Time) {
			t.Fatalf("event_ids are not in time order at %s", id)
		}
		if s := e.Subject.ID; s != "" && e.Subject.Type != event.SubjectDoctor && !slices.Contains(subjects, s) {
			subjects = append(subjects, s)
		}
		evs = append(evs, e)
	}
	if !l.Start.Equal(evs[0].OccurredAt.Time) || !l.End.Equal(evs[len(evs)-1].OccurredAt.Time) {
		t.Fatalf("start %s end %s, events from %s to %s", l.Start, l.End, evs[0].OccurredAt, evs[len(evs)-1].OccurredAt)
	}
	if !slices.Equal(subjects, l.SubjectIDs) {
		t.Fatalf("subject_ids %v, events touch %v", l.SubjectIDs, subjects)
	}
	if l.GroupValue(false) != l.ActorID || l.GroupValue(true) != l.ActorToken {
		t.Fatalf("GroupValue: %q, %q", l.GroupValue(false), l.GroupValue(true))
	}
	if l.ActorToken != tok.Token(pseudo.Person, l.ActorID) {
		t.Fatalf("actor_token %s is not the token of %s", l.ActorToken, l.ActorID)
	}
	for i, s := range l.SubjectIDs {
		if l.SubjectTokens[i] != tok.Token(pseudo.Person, s) {
			t.Fatalf("subject_tokens[%d] is not the token of %s", i, s)
		}
	}
	span := evs[len(evs)-1].OccurredAt.Sub(evs[0].OccurredAt.Time)
	fail := func(format string, args ...any) { t.Helper(); t.Fatalf(l.Description+": "+format, args...) }
	switch l.Kind {
	case KindVIPSnooping:
		snoop := false
		for _, e := range evs {
			if !e.Subject.VIP || e.Relationship == event.RelationshipTrue {
				fail("event %s: vip %t relationship %s", e.EventID, e.Subject.VIP, e.Relationship)
			}
			snoop = snoop || e.Action == event.ActionRead && e.Relationship == event.RelationshipFalse && e.Outcome == event.OutcomeSuccess
		}
		if !snoop {
			fail("no successful read of a VIP with relationship false")
		}
	case KindBulkExport:
		big := true
		for _, e := range evs {
			if e.Action != event.ActionExport && e.Action != event.ActionDownload {
				fail("event %s is a %s", e.EventID, e.Action)
			}
			big = big && e.RecordCount >= 1000
		}
		if !big && (len(l.SubjectIDs) < 60 || span > time.Hour) {
			fail("neither ≥1000 records per export nor ≥60 subjects within an hour (%d subjects in %s)", len(l.SubjectIDs), span)
		}
	case KindOffHoursBrowsing:
		reads := 0
		for _, e := range evs {
			h := ds.localHour(e.Org, e.OccurredAt)
			if e.Attrs["shift"] != "day" || h >= 6 && h < 22 || e.Relationship == event.RelationshipFalse {
				fail("event %s: shift %s at %02d h local, relationship %s", e.EventID, e.Attrs["shift"], h, e.Relationship)
			}
			if e.Action == event.ActionRead && sensitiveCare(e.Categories) {
				reads++
			}
		}
		if reads < 4 {
			fail("%d sensitive reads", reads)
		}
	case KindNoRelationshipAccess:
		for _, e := range evs {
			if e.Action != event.ActionRead || e.Relationship != event.RelationshipFalse || e.Outcome != event.OutcomeSuccess ||
				!sensitiveCare(e.Categories) || breakGlass(e) || e.Subject.VIP {
				fail("event %s: %s %v relationship %s outcome %s vip %t", e.EventID, e.Action, e.Categories, e.Relationship, e.Outcome, e.Subject.VIP)
			}
		}
	case KindDeniedBurst:
		for _, e := range evs {
			if e.Outcome != event.OutcomeDenied {
				fail("event %s: outcome %s", e.EventID, e.Outcome)
			}
		}
		if len(evs) < 12 || span > 10*time.Minute {
			fail("%d denied within %s", len(evs), span)
		}
	case KindCompromisedAccount:
		fastest := 0.0
		for i := 1; i < len(evs); i++ {
			a, b := evs[i-1].Client.Geo, evs[i].Client.Geo
			if a.City == b.City {
				continue
			}
			km := distanceKm(place{lat: *a.Lat, lon: *a.Lon}, place{lat: *b.Lat, lon: *b.Lon})
			fastest = max(fastest, km/evs[i].OccurredAt.Sub(evs[i-1].OccurredAt.Time).Hours())
		}
		if fastest < 1000 {
			fail("fastest move %.0f km/h", fastest)
		}
		away := evs[len(evs)-1].Client.DeviceID
		for _, e := range ds.background() {
			if e.Org == l.Org && e.Actor.ID == l.ActorID && e.Client.DeviceID == away {
				fail("the attacker's device %s is one the actor uses (%s)", away, e.EventID)
			}
		}
	case KindDepartingExfil:
		exports := 0
		for _, e := range evs {
			if e.Attrs["employment_status"] != "notice_period" {
				fail("event %s: employment_status %q", e.EventID, e.Attrs["employment_status"])
			}
			if e.Action == event.ActionExport {
				exports++
				if e.RecordCount > 20 {
					fail("an export of %d records: that is bulk_export's pattern", e.RecordCount)
				}
			}
		}
		if len(l.SubjectIDs) < 150 || span > 2*time.Hour || exports > 8 {
			fail("%d subjects in %s, %d exports", len(l.SubjectIDs), span, exports)
		}
	case KindDormantAccount:
		sensitive := 0
		for _, e := range evs {
			if e.Actor.ID != l.ActorID {
				fail("event %s by another actor", e.EventID)
			}
			for _, c := range e.Categories {
				if c.Sensitive() {
					sensitive++
					break
				}
			}
		}
		if sensitive < 25 || span > 2*time.Hour {
			fail("%d sensitive reads in %s", sensitive, span)
		}
		// The account was silent for at least dormantMinGap before.
		for i := range ds.acc {
			e := &ds.acc[i]
			if e.Actor.ID == l.ActorID && e.OccurredAt.Before(l.Start.Time) && l.Start.Sub(e.OccurredAt.Time) < dormantMinGap {
				fail("the account was active %s before waking", l.Start.Sub(e.OccurredAt.Time))
			}
		}
	default:
		fail("not an access kind")
	}
}

func checkDeviceLabel(t *testing.T, ds *dataset, l *Label, tok *pseudo.Pseudonymiser) {
	t.Helper()
	var evs []*event.DeviceEvent
	var accounts []string
	for _, id := range l.EventIDs {
		e := ds.devByID[id]
		if e == nil {
			t.Fatalf("event %s is not in the device stream", id)
		}
		if e.Org != l.Org || e.DeviceID != l.DeviceID {
			t.Fatalf("event %s is on %s/%s, label says %s/%s", id, e.Org, e.DeviceID, l.Org, l.DeviceID)
		}
		if !slices.Contains(accounts, e.AccountID) {
			accounts = append(accounts, e.AccountID)
		}
		evs = append(evs, e)
	}
	if !l.Start.Equal(evs[0].OccurredAt.Time) || !l.End.Equal(evs[len(evs)-1].OccurredAt.Time) {
		t.Fatalf("start %s end %s, events from %s to %s", l.Start, l.End, evs[0].OccurredAt, evs[len(evs)-1].OccurredAt)
	}
	if a, b := slices.Sorted(slices.Values(accounts)), slices.Sorted(slices.Values(l.AccountIDs)); !slices.Equal(a, b) {
		t.Fatalf("account_ids %v, events have %v", l.AccountIDs, accounts)
	}
	if l.GroupValue(false) != l.DeviceID || l.GroupValue(true) != l.DeviceToken {
		t.Fatalf("GroupValue: %q, %q", l.GroupValue(false), l.GroupValue(true))
	}
	if l.DeviceToken != tok.Token(pseudo.Device, l.DeviceID) {
		t.Fatalf("device_token %s is not the token of %s", l.DeviceToken, l.DeviceID)
	}
	for i, a := range l.AccountIDs {
		if l.AccountTokens[i] != tok.Token(pseudo.Person, a) {
			t.Fatalf("account_tokens[%d] is not the token of %s", i, a)
		}
	}
	span := evs[len(evs)-1].OccurredAt.Sub(evs[0].OccurredAt.Time)
	switch l.Kind {
	case KindDeviceFarm:
		for _, e := range evs {
			if e.Kind == event.KindRealnameAuth || e.Kind == event.KindFaceVerify || e.Signals.Emulator || e.Signals.HookFramework {
				t.Fatalf("event %s: %s with emulator %t hook %t: emulator_realname's pattern", e.EventID, e.Kind, e.Signals.Emulator, e.Signals.HookFramework)
			}
		}
		if len(accounts) < 8 || span > 4*time.Hour {
			t.Fatalf("%d accounts within %s", len(accounts), span)
		}
	case KindEmulatorRealname:
		found := false
		for _, e := range evs {
			found = found || (e.Kind == event.KindRealnameAuth || e.Kind == event.KindFaceVerify) && (e.Signals.Emulator || e.Signals.HookFramework)
		}
		if !found || len(accounts) != 1 {
			t.Fatalf("emulator or hook during a real-name or face check: %t; %d accounts", found, len(accounts))
		}
	default:
		t.Fatalf("%s is not a device kind", l.Kind)
	}
}

// The background holds no accidental incident, and holds the benign
// look-alikes a detector must tell apart from incidents.
func TestBackground(t *testing.T) {
	ds := fixture(t)
	bg := ds.background()
	human := func(e *event.AccessEvent) bool { return e.Actor.Type != event.ActorService }
	count := func(f func(e *event.AccessEvent) bool) int {
		n := 0
		for _, e := range bg {
			if f(e) {
				n++
			}
		}
		return n
	}
	var bgDev []*event.DeviceEvent
	for i := range ds.dev {
		if ds.inIncident[ds.dev[i].EventID] == nil {
			bgDev = append(bgDev, &ds.dev[i])
		}
	}
	countDev := func(f func(e *event.DeviceEvent) bool) int {
		n := 0
		for _, e := range bgDev {
			if f(e) {
				n++
			}
		}
		return n
	}
	accountsPerDevice := func() (most, shared int) {
		m := map[string]map[string]bool{}
		for _, e := range bgDev {
			if m[e.DeviceID] == nil {
				m[e.DeviceID] = map[string]bool{}
			}
			m[e.DeviceID][e.AccountID] = true
		}
		for _, a := range m {
			most = max(most, len(a))
			if len(a) > 1 {
				shared++
			}
		}
		return
	}
	// cityChanges returns how many times an actor's city changed within
	// 24 hours.
	cityChanges := func() (fast int) {
		last := map[string]*event.AccessEvent{}
		for _, e := range bg {
			k := actorKey(e)
			if p := last[k]; p != nil && p.Client.Geo.City != e.Client.Geo.City {
				if e.OccurredAt.Sub(p.OccurredAt.Time) < 24*time.Hour {
					fast++
				}
			}
			last[k] = e
		}
		return
	}
	night := func(e *event.AccessEvent) bool { h := ds.localHour(e.Org, e.OccurredAt); return h >= 22 || h < 6 }
	byActor := func(e *event.AccessEvent) string {
		if !human(e) {
			return ""
		}
		return actorKey(e)
	}
	onNotice := func(e *event.AccessEvent) string {
		if e.Attrs["employment_status"] != "notice_period" {
			return ""
		}
		return actorKey(e)
	}
	subject := func(e *event.AccessEvent) string { return e.Subject.ID }
	only := func(f func(*event.AccessEvent) bool) []*event.AccessEvent {
		var out []*event.AccessEvent
		for _, e := range bg {
			if f(e) {
				out = append(out, e)
			}
		}
		return out
	}
	withSubject := only(func(e *event.AccessEvent) bool { return e.Subject.ID != "" && e.Subject.Type != event.SubjectDoctor })

	tests := []struct {
		name     string
		measure  func() (int, string)
		min, max int
	}{
		// Nothing that looks like an incident.
		{"relationship false on health/prescription/biometric, success, no break-glass", func() (int, string) {
			return count(func(e *event.AccessEvent) bool {
				return e.Relationship == event.RelationshipFalse && e.Outcome == event.OutcomeSuccess && sensitiveCare(e.Categories) && !breakGlass(e)
			}), ""
		}, 0, 0},
		{"a minor's data read with relationship false, success", func() (int, string) {
			return count(func(e *event.AccessEvent) bool {
				return e.Subject.Minor && e.Relationship == event.RelationshipFalse && e.Outcome == event.OutcomeSuccess && !breakGlass(e)
			}), ""
		}, 0, 0},
		{"a person reading a VIP without relationship true", func() (int, string) {
			return count(func(e *event.AccessEvent) bool {
				return human(e) && e.Subject.VIP && e.Relationship != event.RelationshipTrue
			}), ""
		}, 0, 0},
		{"a person exporting or downloading ≥1000 records", func() (int, string) {
			return count(func(e *event.AccessEvent) bool {
				return human(e) && (e.Action == event.ActionExport || e.Action == event.ActionDownload) && e.RecordCount >= 1000
			}), ""
		}, 0, 0},
		{"a day-shift person active 22:00-06:00 local", func() (int, string) {
			return count(func(e *event.AccessEvent) bool { return e.Attrs["shift"] == "day" && night(e) }), ""
		}, 0, 0},
		{"denied accesses of one person within 10 minutes", func() (int, string) {
			return maxInWindow(only(func(e *event.AccessEvent) bool { return e.Outcome == event.OutcomeDenied }), 10*time.Minute, byActor, subject, false)
		}, 1, 3},
		{"exports and downloads of one person within an hour", func() (int, string) {
			return maxInWindow(only(func(e *event.AccessEvent) bool {
				return e.Action == event.ActionExport || e.Action == event.ActionDownload
			}), time.Hour, byActor, subject, false)
		}, 1, 10},
		{"distinct subjects of one person within an hour", func() (int, string) {
			return maxInWindow(withSubject, time.Hour, byActor, subject, true)
		}, 20, 60},
		{"distinct subjects of one person within two hours", func() (int, string) {
			return maxInWindow(withSubject, 2*time.Hour, byActor, subject, true)
		}, 20, 100},
		{"distinct subjects of a person on notice within two hours", func() (int, string) {
			return maxInWindow(withSubject, 2*time.Hour, onNotice, subject, true)
		}, 5, 100},
		{"an actor's city changing within 24 hours", func() (int, string) { return cityChanges(), "" }, 0, 0},
		{"accounts on one device", func() (int, string) { n, _ := accountsPerDevice(); return n, "" }, 1, 3},
		{"emulator or hook framework signals", func() (int, string) {
			return countDev(func(e *event.DeviceEvent) bool { return e.Signals.Emulator || e.Signals.HookFramework }), ""
		}, 0, 0},

		// Benign look-alikes.
		{"look-alike: legitimate break-glass", func() (int, string) {
			return count(func(e *event.AccessEvent) bool { return e.Action == event.ActionBreakGlass }), ""
		}, 1, math.MaxInt},
		{"look-alike: night and on-call staff reading health data at night", func() (int, string) {
			return count(func(e *event.AccessEvent) bool {
				return (e.Attrs["shift"] == "night" || e.Attrs["shift"] == "on_call") && night(e) && sensitiveCare(e.Categories)
			}), ""
		}, 100, math.MaxInt},
		{"look-alike: ward rounds, ≥25 own patients within an hour", func() (int, string) {
			n, w := maxInWindow(only(func(e *event.AccessEvent) bool { return e.Purpose == "ward round" }), time.Hour, byActor, subject, true)
			return n, w
		}, 25, 45},
		{"look-alike: scheduled service exports of ≥1000 records", func() (int, string) {
			return count(func(e *event.AccessEvent) bool {
				return !human(e) && e.Action == event.ActionExport && e.RecordCount >= 1000
			}), ""
		}, 1, math.MaxInt},
		{"look-alike: staff working abroad (after a day off)", func() (int, string) {
			home := map[string]string{}
			for _, o := range ds.orgs {
				home[o.ID] = o.Country
			}
			return count(func(e *event.AccessEvent) bool { return human(e) && e.Client.Geo.Country != home[e.Org] }), ""
		}, 1, math.MaxInt},
		{"look-alike: relationship false on contact data only", func() (int, string) {
			return count(func(e *event.AccessEvent) bool {
				return e.Relationship == event.RelationshipFalse && e.Outcome == event.OutcomeSuccess && !sensitiveCare(e.Categories) && !breakGlass(e)
			}), ""
		}, 1, math.MaxInt},
		{"look-alike: devices shared by a family", func() (int, string) { _, n := accountsPerDevice(); return n, "" }, 1, math.MaxInt},
		{"look-alike: rooted phones in real-name and face checks", func() (int, string) {
			return countDev(func(e *event.DeviceEvent) bool {
				return e.Signals.Rooted && (e.Kind == event.KindRealnameAuth || e.Kind == event.KindFaceVerify)
			}), ""
		}, 1, math.MaxInt},
		{"look-alike: ordinary traffic of people on notice", func() (int, string) {
			return count(func(e *event.AccessEvent) bool { return e.Attrs["employment_status"] == "notice_period" }), ""
		}, 100, math.MaxInt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, where := tt.measure()
			t.Logf("%d %s", got, where)
			if got < tt.min || got > tt.max {
				t.Errorf("%d (%s), want %d to %d", got, where, tt.min, tt.max)
			}
		})
	}
}

// Nights are quieter than days in every org's own time zone.
func TestDailyRhythm(t *testing.T) {
	ds := fixture(t)
	for _, org := range slices.Sorted(func(yield func(string) bool) {
		for o := range ds.zones {
			if !yield(o) {
				return
			}
		}
	}) {
		t.Run(org, func(t *testing.T) {
			var hours [24]int
			var devHours [24]int
			for _, e := range ds.background() {
				if e.Org == org {
					hours[ds.localHour(org, e.OccurredAt)]++
				}
			}
			for i := range ds.dev {
				if ds.dev[i].Org == org {
					devHours[ds.localHour(org, ds.dev[i].OccurredAt)]++
				}
			}
			sum := func(h [24]int, from, to int) float64 {
				s := 0
				for i := from; i < to; i++ {
					s += h[i]
				}
				return float64(s) / float64(to-from)
			}
			night, day := sum(hours, 1, 5), sum(hours, 9, 16)
			t.Logf("access per hour: night %.0f, day %.0f; by hour %v", night, day, hours)
			if night <= 0 || night > day/3 {
				t.Errorf("access per hour 01-05 local %.0f, 09-16 local %.0f: want the night under a third of the day", night, day)
			}
			if dn, dd := sum(devHours, 1, 5), sum(devHours, 9, 16); dn > dd/2 {
				t.Errorf("device events per hour 01-05 local %.0f, 09-16 local %.0f: want the night under half the day", dn, dd)
			}
		})
	}
}

// Incidents come as often as configured.
func TestIncidentFrequency(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		want    map[Kind][2]int // kind → [min, max] labels
		perKind int             // with skipped: labels+skipped of all kinds = perKind·len(kinds)
	}{
		{"one an hour", Config{IncidentsPerHour: 1, Duration: 12 * time.Hour}, nil, 12},
		{"three an hour", Config{IncidentsPerHour: 3, Duration: 4 * time.Hour}, nil, 12},
		{"half an hour, two kinds", Config{IncidentsPerHour: 0.5, Duration: 24 * time.Hour, Kinds: []Kind{KindBulkExport, KindDeviceFarm}},
			map[Kind][2]int{KindBulkExport: {7, 17}, KindDeviceFarm: {7, 17}}, 0},
		{"none", Config{NoIncidents: true, Duration: 6 * time.Hour}, map[Kind][2]int{}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.Seed, cfg.Rate = 11, 0.3
			s, a, d, l := generate(t, cfg)
			ds := decode(s, a, d, l)
			got := map[Kind]int{}
			for _, l := range ds.lbl {
				got[l.Kind]++
			}
			t.Logf("labels %v, skipped %d", got, ds.stats.Skipped)
			if tt.perKind > 0 {
				if total := len(ds.lbl) + int(ds.stats.Skipped); total != tt.perKind*len(kinds) {
					t.Errorf("%d labels and %d skipped, want %d in all", len(ds.lbl), ds.stats.Skipped, tt.perKind*len(kinds))
				}
				for _, k := range kinds {
					if got[k] < tt.perKind-2 || got[k] > tt.perKind {
						t.Errorf("%s: %d labels, want %d (or 2 fewer, when no one suitable was at work)", k, got[k], tt.perKind)
					}
				}
				return
			}
			for _, k := range kinds {
				w, ok := tt.want[k]
				if !ok {
					w = [2]int{0, 0}
				}
				if got[k] < w[0] || got[k] > w[1] {
					t.Errorf("%s: %d labels, want %d to %d", k, got[k], w[0], w[1])
				}
			}
		})
	}
}

// In real time, every event is handed over when its occurred_at comes, the
// sink is flushed while waiting, and the demo burst shows every kind of
// incident within minutes.
func TestRealTimeDemo(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := DemoConfig(9)
		cfg.Duration = 10 * time.Minute
		cfg.Key = testKey
		s, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		var rec recorder
		if err := s.Run(context.Background(), &rec); err != nil {
			t.Fatal(err)
		}
		if !s.Start().Equal(start.UTC()) {
			t.Errorf("the run started at %s, the clock said %s", s.Start(), start)
		}
		ats := make([]time.Time, 0, len(rec.times))
		i, j := 0, 0
		// Recorded times are in arrival order across both streams; so are
		// occurred_at, merged.
		for i < len(rec.acc) || j < len(rec.dev) {
			if j == len(rec.dev) || i < len(rec.acc) && !rec.dev[j].OccurredAt.Before(rec.acc[i].OccurredAt.Time) {
				ats = append(ats, rec.acc[i].OccurredAt.Time)
				i++
			} else {
				ats = append(ats, rec.dev[j].OccurredAt.Time)
				j++
			}
		}
		if len(ats) < 500 {
			t.Fatalf("%d events in 10 minutes at 5/s", len(ats))
		}
		for k, at := range ats {
			if at.Before(start) {
				continue // dormant accounts' backdated history, handed over at once
			}
			if lag := rec.times[k].Sub(at); lag < 0 || lag >= time.Millisecond {
				t.Fatalf("event %d occurred at %s was handed over at %s", k, at, rec.times[k])
			}
		}
		if rec.flush < 60 {
			t.Errorf("%d flushes in 10 minutes; want about one a second while waiting", rec.flush)
		}
		got := map[Kind]bool{}
		for _, l := range rec.labels {
			if l.Partial {
				t.Errorf("%s %s is partial", l.Kind, l.ID)
			}
			if l.Start.Before(start.Add(cfg.FirstIncidentsAfter)) {
				continue
			}
			if l.Start.Before(start.Add(time.Minute)) {
				got[l.Kind] = true
				if l.End.After(start.Add(8 * time.Minute)) {
					t.Errorf("%s of the demo burst ends at %s, %s after the start", l.Kind, l.End, l.End.Sub(start))
				}
			}
		}
		for _, k := range kinds {
			if !got[k] {
				t.Errorf("no %s in the first minute (labels: %d)", k, len(rec.labels))
			}
		}
	})
}

// cancelSink cancels the run once it sees an event at or after at.
type cancelSink struct {
	recorder
	at     time.Time
	cancel context.CancelFunc
}

func (c *cancelSink) Access(ctx context.Context, e *event.AccessEvent) error {
	if !e.OccurredAt.Before(c.at) {
		c.cancel()
	}
	return c.recorder.Access(ctx, e)
}

// Ending the context stops the run, flushes the sink and labels the
// incidents under way as partial.
func TestCancel(t *testing.T) {
	cfg := Config{Seed: 2, Rate: 1, Duration: time.Hour, Key: testKey, FirstIncidentsAfter: time.Minute, IncidentsPerHour: 0.1}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sink := &cancelSink{at: s.Start().Add(cfg.FirstIncidentsAfter + 90*time.Second), cancel: cancel}
	err = s.Run(ctx, sink)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v, want context.Canceled", err)
	}
	if sink.flush == 0 {
		t.Error("the sink was not flushed")
	}
	ids := map[string]bool{}
	for _, e := range sink.acc {
		ids[e.EventID] = true
	}
	for _, e := range sink.dev {
		ids[e.EventID] = true
	}
	after := 0
	for _, e := range sink.acc {
		if e.OccurredAt.After(sink.at) {
			after++
		}
	}
	if after > 64 {
		t.Errorf("%d access events after the cancel; want the run to stop within 64 events", after)
	}
	partial := 0
	for _, l := range sink.labels {
		if l.Partial {
			partial++
		}
		for _, id := range l.EventIDs {
			if !ids[id] {
				t.Fatalf("label %s lists %s, which was not emitted", l.ID, id)
			}
		}
	}
	if partial == 0 || s.Stats().Partial != int64(partial) {
		t.Errorf("%d partial labels, Stats says %d", partial, s.Stats().Partial)
	}
	if err := s.Run(context.Background(), Discard); err == nil {
		t.Error("a second Run succeeded")
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want []string // substrings of the error; none: valid
	}{
		{"zero", Config{}, nil},
		{"demo", DemoConfig(1), nil},
		{"everything wrong", Config{Rate: -1, Orgs: 99, Duration: -time.Hour, IncidentsPerHour: math.NaN(),
			Kinds: []Kind{"snooping", KindBulkExport, KindBulkExport}, Key: []byte("short"), IDPrefix: "a b"},
			[]string{"rate:", "orgs: 99", "duration: -1h0m0s is negative", "incidents_per_hour", `kinds[0]: "snooping" is not one of`,
				`kinds[2]: "bulk_export" repeats`, "key: 5 bytes", `id_prefix: "a b"`}},
		{"start in real time", Config{RealTime: true, Start: DefaultStart}, []string{"start: must be empty in real-time mode"}},
		{"too short", Config{Duration: time.Millisecond}, []string{"shorter than a second"}},
		{"rate too high", Config{Rate: MaxRate + 1}, []string{"rate: 501 events/s is not between 0 and 500"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate accepted it")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if _, err := New(tt.cfg); err == nil {
				t.Error("New accepted it")
			}
		})
	}
}

func TestParseKinds(t *testing.T) {
	tests := []struct {
		in   string
		want []Kind
		err  string
	}{
		{"", kinds, ""},
		{"all", kinds, ""},
		{"bulk_export, device_farm,bulk_export", []Kind{KindBulkExport, KindDeviceFarm}, ""},
		{"bulk_export,snooping", nil, `unknown incident kind "snooping"`},
	}
	for _, tt := range tests {
		got, err := ParseKinds(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseKinds(%q): %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("ParseKinds(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

// Example: a short run of every kind of incident to memory.
func Example() {
	s, err := New(Config{Seed: 1, Rate: 0.5, Duration: 6 * time.Hour, IncidentsPerHour: 1})
	if err != nil {
		panic(err)
	}
	var access, device, labels bytes.Buffer
	if err := s.Run(context.Background(), NewWriterSink(&access, &device, &labels)); err != nil {
		panic(err)
	}
	ls, _ := ReadLabels(&labels)
	kinds := map[Kind]bool{}
	for _, l := range ls {
		kinds[l.Kind] = true
	}
	fmt.Println(len(s.Orgs()), "orgs,", len(kinds), "kinds of incident")
	// Output: 4 orgs, 10 kinds of incident
}

// A traveller is abroad only between days off: their city never changes
// within a day of their last event at home.
func TestTravelDaysOff(t *testing.T) {
	s, err := New(Config{Seed: 12, Rate: 20})
	if err != nil {
		t.Fatal(err)
	}
	w := s.w
	day0 := s.w.orgs[0].localDay(DefaultStart)
	abroad := 0
	for _, o := range w.orgs {
		for ai := range int32(o.nHumans) {
			if !o.actors[ai].canTravel {
				continue
			}
			for d := day0; d < day0+70; d++ {
				if w.status(o, ai, d) != dayAbroad {
					continue
				}
				abroad++
				if w.status(o, ai, d-1) != dayOff || w.status(o, ai, d+1) != dayOff {
					t.Fatalf("%s abroad on day %d: the day before is %d, the day after %d (want off)", o.actors[ai].id, d, w.status(o, ai, d-1), w.status(o, ai, d+1))
				}
			}
		}
	}
	if abroad == 0 {
		t.Fatal("nobody travelled in ten weeks")
	}
}

// The benign look-alike of dormant_account: accounts back from long leave
// read a few patients' contact details, nothing sensitive, in the day.
func TestDormantReturns(t *testing.T) {
	ds := fixture(t)
	labelled := map[string]bool{}
	for _, l := range ds.lbl {
		if l.Kind == KindDormantAccount {
			labelled[l.ActorID] = true
		}
	}
	returns := map[string]int{}
	for _, e := range ds.background() {
		id := e.Actor.ID
		if len(id) < 6 || id[len(id)-5] != '9' || e.OccurredAt.Before(ds.cfg.Start) || labelled[id] {
			continue
		}
		returns[id]++
		for _, c := range e.Categories {
			if c.Sensitive() {
				t.Errorf("return of %s: event %s reads %s", id, e.EventID, c)
			}
		}
		if h := ds.localHour(e.Org, e.OccurredAt); h < 9 || h >= 16 {
			t.Errorf("return of %s at %02d:00 local", id, h)
		}
	}
	if len(returns) < 5 {
		t.Errorf("%d returns from leave in a day, want about 12", len(returns))
	}
	for id, n := range returns {
		if n > 9 {
			t.Errorf("return of %s: %d events, want a login and 3–8 reads", id, n)
		}
	}
}
