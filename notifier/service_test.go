package notifier

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-audit/vigil/internal/bus"
	"github.com/vigil-audit/vigil/internal/event"
	"github.com/vigil-audit/vigil/notifier/channel"
	"github.com/vigil-audit/vigil/notifier/delivery"
	"github.com/vigil-audit/vigil/notifier/render"
)

var t0 = time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)

// The fakes below stand for the packages the service is wired to in
// production (scope from the store, plans from regime files, templates,
// the contact directory, channels); each is tested on its own, and the
// wiring with the real ones in wire_test.go.

type fakeScoper struct{ scope Scope }

func (f *fakeScoper) Scope(context.Context, *event.Incident) (Scope, error) { return f.scope, nil }

type fakePlanner struct{}

func (fakePlanner) Plan(inc *event.Incident, scope Scope, unreachable map[string]int64) ([]event.Obligation, error) {
	aware := inc.AwareAt
	out := []event.Obligation{
		{ID: "pipl.individual", Regime: "pipl", Kind: "individual_notice", Recipient: event.RecipientIndividual,
			StartsAt: aware, DueAt: event.NewTimestamp(aware.Add(24 * time.Hour)), ApprovalRole: RoleDPO,
			Fields: []string{"facts", "cause"}, Channels: []event.Channel{event.ChannelEmail, event.ChannelSMS, event.ChannelLetter}},
		{ID: "cac.initial", Regime: "cac", Kind: "regulator_report", Recipient: event.RecipientRegulator,
			StartsAt: aware, DueAt: event.NewTimestamp(aware.Add(4 * time.Hour)), ApprovalRole: RoleDPO},
	}
	if scope.Minors > 0 {
		out = append(out, event.Obligation{ID: "pipl.guardian", Regime: "pipl", Kind: "guardian_notice", Recipient: event.RecipientGuardian,
			StartsAt: aware, DueAt: event.NewTimestamp(aware.Add(24 * time.Hour)), ApprovalRole: RoleDPO,
			Fields: []string{"facts"}, Channels: []event.Channel{event.ChannelEmail, event.ChannelLetter}})
	}
	if unreachable["pipl"] >= 1 {
		out = append(out, event.Obligation{ID: "pipl.announcement", Regime: "pipl", Kind: "public_announcement", Recipient: event.RecipientPublic,
			StartsAt: aware, DueAt: event.NewTimestamp(aware.Add(48 * time.Hour)), ApprovalRole: RoleDPO, Fields: []string{"facts"}})
	}
	return out, nil
}

func fakeTransition(inc *event.Incident, to event.IncidentState, reason string, awareAt time.Time, op Operator, now time.Time) error {
	if !inc.State.CanTransitionTo(to) {
		return fmt.Errorf("%w: illegal transition %s → %s", ErrConflict, inc.State, to)
	}
	if to == event.IncidentConfirmed {
		inc.AwareAt = event.NewTimestamp(now)
		if !awareAt.IsZero() {
			inc.AwareAt = event.NewTimestamp(awareAt)
		}
	}
	inc.Transitions = append(inc.Transitions, event.Transition{From: inc.State, To: to, At: event.NewTimestamp(now), By: op.Name, Reason: reason})
	inc.State = to
	return nil
}

type fakeRenderer struct{}

func (fakeRenderer) Render(regime, kind, lang string, fields map[string]string, required []string) (Rendered, error) {
	for _, f := range required {
		if fields[f] == "" {
			return Rendered{}, &render.MissingFieldError{Field: f, Regime: regime, Kind: kind, Lang: lang}
		}
	}
	return Rendered{Subject: regime + " " + kind + " " + lang, Text: "Dear " + fields["recipient_name"] + ": " + fields["facts"]}, nil
}

type fakeDirectory map[string]Contact

func (d fakeDirectory) Lookup(_ context.Context, tok string) (Contact, error) {
	c, ok := d[tok]
	if !ok {
		return Contact{}, fmt.Errorf("%s: %w", tok, ErrNoContact)
	}
	return c, nil
}

// fakeSender keeps one message per notice id (like a provider honouring
// the idempotency key) and counts submissions.
type fakeSender struct {
	mu    sync.Mutex
	byID  map[string]Message
	sends int
	fail  func(Message) error
}

func (f *fakeSender) Send(_ context.Context, m Message) (channel.Receipt, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		if err := f.fail(m); err != nil {
			return channel.Receipt{}, err
		}
	}
	f.sends++
	if f.byID == nil {
		f.byID = map[string]Message{}
	}
	f.byID[m.NoticeID] = m
	return channel.Receipt{MessageID: "<" + m.NoticeID + "@test>", Channel: m.Channel}, nil
}

type rig struct {
	incidents *bus.MemLog[event.Incident]
	notices   *delivery.MemoryJournal
	svc       *Service
	disp      *Dispatcher
	email     *fakeSender
	letter    *fakeSender
	announce  *fakeSender

	mu  sync.Mutex
	now time.Time
}

func (r *rig) setNow(t time.Time) {
	r.mu.Lock()
	r.now = t
	r.mu.Unlock()
}

var (
	dpo     = Operator{Name: "dpo-wang", Roles: []string{RoleDPO}}
	analyst = Operator{Name: "analyst-li", Roles: []string{RoleAnalyst}}
)

func newRig(t *testing.T, r *rig) *rig {
	t.Helper()
	ctx := context.Background()
	if r == nil {
		r = &rig{incidents: &bus.MemLog[event.Incident]{}, notices: &delivery.MemoryJournal{},
			email: &fakeSender{}, letter: &fakeSender{}, announce: &fakeSender{}, now: t0}
	}
	clock := func() time.Time {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.now
	}
	book, err := OpenBook(ctx, r.incidents)
	if err != nil {
		t.Fatal(err)
	}
	ledger, err := delivery.Open(ctx, r.notices, delivery.Options{Now: clock, IsPermanent: IsPermanent})
	if err != nil {
		t.Fatal(err)
	}
	scope := Scope{Scope: event.Scope{People: 3, Minors: 1, Categories: []event.Category{"health"}},
		Subjects: []Subject{{Token: "tok_a"}, {Token: "tok_b"}, {Token: "tok_kid", Minor: true}}}
	r.svc, err = New(Config{Book: book, Ledger: ledger, Scoper: &fakeScoper{scope}, Planner: fakePlanner{},
		Transition: fakeTransition, Now: clock,
		Group: func(a event.Alert) (string, bool) { return "inc-" + a.ActorID, a.Status == event.AlertOpen }})
	if err != nil {
		t.Fatal(err)
	}
	dir := fakeDirectory{
		"tok_a":   {Name: "A", Language: "en", Email: "a@example.org"},
		"tok_b":   {Name: "B", Postal: []string{"1 Road"}}, // no email: falls back to a letter
		"tok_kid": {Name: "Kid", GuardianToken: "tok_mum"},
		"tok_mum": {Name: "Mum", Email: "mum@example.org"},
	}
	r.disp, err = NewDispatcher(r.svc, DispatcherConfig{Directory: dir, Renderer: fakeRenderer{},
		Senders: map[event.Channel]Sender{event.ChannelEmail: r.email, event.ChannelLetter: r.letter, event.ChannelPublicAnnouncement: r.announce}})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func alert(id, actor string, first time.Time) event.Alert {
	return event.Alert{AlertID: id, RuleID: "vigil-bulk-read", Severity: event.SeverityHigh, GroupKey: "org1/" + actor,
		Org: "org1", ActorID: actor, Status: event.AlertOpen,
		FirstSeen: event.NewTimestamp(first), LastSeen: event.NewTimestamp(first.Add(10 * time.Minute))}
}

func TestIncidentFromAlertToNotices(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, nil)
	svc := r.svc

	// Two alerts of one actor make one incident; a repeated record changes
	// nothing; a closed alert opens nothing.
	for _, a := range []event.Alert{alert("al1", "act1", t0.Add(-time.Hour)), alert("al2", "act1", t0.Add(-2*time.Hour)), alert("al1", "act1", t0.Add(-time.Hour))} {
		if _, _, err := svc.OnAlert(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	closed := alert("al3", "act2", t0)
	closed.Status = event.AlertClosedFalsePositive
	if _, joined, _ := svc.OnAlert(ctx, closed); joined {
		t.Fatal("a closed alert opened an incident")
	}
	if n := len(r.incidents.Records()); n != 2 {
		t.Fatalf("%d incident records for two alerts and a repeat, want 2", n)
	}
	inc, err := svc.Book().Find("inc-act1")
	if err != nil {
		t.Fatal(err)
	}
	if inc.State != event.IncidentDetected || len(inc.AlertIDs) != 2 || !inc.WindowStart.Equal(t0.Add(-2*time.Hour)) {
		t.Fatalf("incident after two alerts: %+v", inc)
	}

	// Nothing is owed before confirmation.
	if _, err := r.disp.Approve(ctx, "inc-act1", "pipl.individual", dpo); !errors.Is(err, ErrNotConfirmed) {
		t.Fatalf("approve before confirmation: %v", err)
	}
	aware := t0.Add(30 * time.Minute)
	r.setNow(t0.Add(time.Hour))
	inc, err = svc.Transition(ctx, "inc-act1", event.IncidentConfirmed, "bulk reading confirmed", aware, analyst)
	if err != nil {
		t.Fatal(err)
	}
	if !inc.AwareAt.Equal(aware) || inc.Scope.People != 3 || len(inc.Obligations) != 3 {
		t.Fatalf("confirmed incident: aware %v, scope %+v, %d obligations", inc.AwareAt, inc.Scope, len(inc.Obligations))
	}
	if inc.Obligations[0].ID != "cac.initial" || !inc.Obligations[0].DueAt.Equal(aware.Add(4*time.Hour)) {
		t.Fatalf("obligations not ordered by deadline: %+v", inc.Obligations[0])
	}

	// Approval needs the DPO role and renderable notices.
	if _, err := r.disp.Approve(ctx, "inc-act1", "pipl.individual", analyst); !errors.Is(err, ErrForbidden) {
		t.Fatalf("analyst approving: %v", err)
	}
	if _, err := r.disp.Approve(ctx, "inc-act1", "pipl.individual", dpo); err == nil || !strings.Contains(err.Error(), `required field "facts"`) {
		t.Fatalf("approve without content: %v, want the missing field named", err)
	}
	if _, err := svc.SetFields(ctx, "inc-act1", map[string]string{"facts": "A staff account read 3 records.", "cause": "stolen password"}, analyst); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.SetFields(ctx, "inc-act1", map[string]string{"Bad Name": "x"}, analyst); !errors.Is(err, ErrBadCommand) {
		t.Fatalf("bad field name: %v", err)
	}
	for _, oid := range []string{"pipl.individual", "pipl.guardian"} {
		if _, err := r.disp.Approve(ctx, "inc-act1", oid, dpo); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.disp.Approve(ctx, "inc-act1", "pipl.individual", dpo); !errors.Is(err, ErrObligationClosed) && err != nil {
		t.Fatalf("second approval: %v", err)
	}

	st, err := r.disp.Dispatch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// A by email, B by letter (no email), the guardian by email; the
	// child has no address of its own and counts as unreachable.
	if st.Sent != 3 || st.Failed != 1 || st.Done != 2 {
		t.Fatalf("dispatch: %+v, want 3 sent, 1 failed and 2 obligations done", st)
	}
	if len(r.email.byID) != 2 || len(r.letter.byID) != 1 {
		t.Fatalf("email %d, letter %d messages; want 2 (A and the guardian) and 1 (B has no email)", len(r.email.byID), len(r.letter.byID))
	}
	for _, m := range r.email.byID {
		if m.To.Name == "Kid" {
			t.Fatal("the minor's notice went to the minor, not the guardian")
		}
	}
	// A second pass sends nothing.
	if st, _ := r.disp.Dispatch(ctx); st.Sent != 0 {
		t.Fatalf("second dispatch sent %d", st.Sent)
	}

	// The regulator report is met by a submission.
	if _, err := svc.Submit(ctx, "inc-act1", "pipl.individual", "initial", "REF-1", dpo); !errors.Is(err, ErrBadCommand) {
		t.Fatalf("submitting a notice obligation: %v", err)
	}
	inc, err = svc.Submit(ctx, "inc-act1", "cac.initial", "initial", "CAC-2026-0042", dpo)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range inc.Obligations {
		if o.Status != event.ObligationDone {
			t.Errorf("obligation %s is %s at the end", o.ID, o.Status)
		}
	}
	if len(inc.Submissions) != 1 || inc.Submissions[0].Reference != "CAC-2026-0042" || inc.Submissions[0].By != "dpo-wang" {
		t.Fatalf("submissions %+v", inc.Submissions)
	}
	// The clocks: all done.
	for _, o := range svc.DeadlineObligations() {
		if o.Status != "done" {
			t.Errorf("deadline view of %s: %s", o.ID, o.Status)
		}
	}
}

// TestRestartMidDispatch: a restart between approval and the end of
// sending neither repeats nor skips a notice.
func TestRestartMidDispatch(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, nil)
	_, _, _ = r.svc.OnAlert(ctx, alert("al1", "act1", t0))
	if _, err := r.svc.Transition(ctx, "inc-act1", event.IncidentConfirmed, "confirmed", time.Time{}, analyst); err != nil {
		t.Fatal(err)
	}
	if _, err := r.svc.SetFields(ctx, "inc-act1", map[string]string{"facts": "f", "cause": "c"}, dpo); err != nil {
		t.Fatal(err)
	}
	if _, err := r.disp.Approve(ctx, "inc-act1", "pipl.individual", dpo); err != nil {
		t.Fatal(err)
	}
	// The first email goes out, then the process dies before recording it.
	r.notices.Fail = func(kept int, n event.Notice) error {
		if n.State == event.NoticeSent {
			return errors.New("killed")
		}
		return nil
	}
	if _, err := r.disp.Dispatch(ctx); err == nil {
		t.Fatal("dispatch with a dying journal succeeded")
	}
	r.notices.Fail = nil
	r2 := newRig(t, r)
	if err := r2.disp.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := r2.disp.Dispatch(ctx); err != nil {
		t.Fatal(err)
	}
	if len(r.email.byID) != 1 || len(r.letter.byID) != 1 {
		t.Fatalf("after restart: %d emails, %d letters; want one each", len(r.email.byID), len(r.letter.byID))
	}
	if r2.svc.Ledger().Stats().Resent != 1 {
		t.Fatalf("Resent = %d, want 1 (the email in flight at the crash)", r2.svc.Ledger().Stats().Resent)
	}
	inc, _ := r2.svc.Book().Find("inc-act1")
	for _, o := range inc.Obligations {
		if o.ID == "pipl.individual" && o.Status != event.ObligationDone {
			t.Fatalf("pipl.individual is %s after the restart", o.Status)
		}
	}
}

// TestUnreachableLeadsToSubstituteNotice: a notice no channel can deliver
// fails for good, and the next rescope plans the substitute notice.
func TestUnreachableLeadsToSubstituteNotice(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, nil)
	r.letter.fail = func(Message) error { return &permanentError{errors.New("address unknown")} }
	_, _, _ = r.svc.OnAlert(ctx, alert("al1", "act1", t0))
	_, _ = r.svc.Transition(ctx, "inc-act1", event.IncidentConfirmed, "confirmed", time.Time{}, analyst)
	_, _ = r.svc.SetFields(ctx, "inc-act1", map[string]string{"facts": "f", "cause": "c"}, dpo)
	if _, err := r.disp.Approve(ctx, "inc-act1", "pipl.individual", dpo); err != nil {
		t.Fatal(err)
	}
	st, err := r.disp.Dispatch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// A by email; B's letter refused; the child has no address of its own
	// (its guardian's notice is another obligation).
	if st.Failed != 2 || st.Sent != 1 {
		t.Fatalf("dispatch %+v, want 1 sent and 2 failed", st)
	}
	inc, err := r.svc.Rescope(ctx, "inc-act1", dpo)
	if err != nil {
		t.Fatal(err)
	}
	if findObligation(&inc, "pipl.announcement") == nil {
		t.Fatalf("no substitute notice planned after an unreachable recipient: %+v", inc.Obligations)
	}
	if _, err := r.disp.Approve(ctx, "inc-act1", "pipl.announcement", dpo); err != nil {
		t.Fatal(err)
	}
	if _, err := r.disp.Dispatch(ctx); err != nil {
		t.Fatal(err)
	}
	if len(r.announce.byID) != 1 {
		t.Fatalf("%d public announcements, want 1", len(r.announce.byID))
	}
}

func TestWaiveNeedsReasonAndRole(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, nil)
	_, _, _ = r.svc.OnAlert(ctx, alert("al1", "act1", t0))
	_, _ = r.svc.Transition(ctx, "inc-act1", event.IncidentConfirmed, "confirmed", time.Time{}, analyst)
	for _, tc := range []struct {
		reason string
		op     Operator
		want   error
	}{
		{"", dpo, ErrBadCommand},
		{"encrypted at rest; keys not exposed", analyst, ErrForbidden},
		{"encrypted at rest; keys not exposed", dpo, nil},
		{"again", dpo, ErrObligationClosed},
	} {
		_, err := r.svc.Waive(ctx, "inc-act1", "pipl.individual", tc.reason, tc.op)
		if !errors.Is(err, tc.want) {
			t.Errorf("waive(%q, %s) = %v, want %v", tc.reason, tc.op.Name, err, tc.want)
		}
	}
	inc, _ := r.svc.Book().Find("inc-act1")
	o := findObligation(&inc, "pipl.individual")
	if o.Status != event.ObligationWaived || o.WaivedBy != "dpo-wang" {
		t.Fatalf("waived obligation %+v", o)
	}
	if _, err := r.svc.Book().Find("nope-nope-nope"); !errors.Is(err, ErrUnknownIncident) {
		t.Fatalf("unknown incident: %v", err)
	}
}
