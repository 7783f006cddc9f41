package notifier

import (
	"context"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-audit/vigil/internal/bus"
	"github.com/vigil-audit/vigil/internal/event"
	"github.com/vigil-audit/vigil/internal/store"
	"github.com/vigil-audit/vigil/internal/store/sqlite"
	"github.com/vigil-audit/vigil/notifier/channel"
	"github.com/vigil-audit/vigil/notifier/delivery"
	"github.com/vigil-audit/vigil/notifier/directory"
	"github.com/vigil-audit/vigil/notifier/incident"
	"github.com/vigil-audit/vigil/notifier/regime"
	"github.com/vigil-audit/vigil/notifier/render"
)

// TestWiredIncidentToOutbox runs the service with the real parts: scope
// from a SQLite store, obligations from the shipped regime files, the
// lifecycle's permission table, the shipped templates, a file directory,
// and the outbox channel. An actor read three patients' health data (one
// a minor); the incident is confirmed, filled in, approved; the notices
// land in the outbox, in Chinese, one per recipient, the minor's to the
// guardian too.
func TestWiredIncidentToOutbox(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "store.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var evs []event.AccessEvent
	for i, subj := range []string{"p_a", "p_b", "p_kid"} {
		evs = append(evs, event.AccessEvent{EventID: "e" + subj, OccurredAt: event.NewTimestamp(t0.Add(time.Duration(i) * time.Minute)),
			ReceivedAt: event.NewTimestamp(t0), Source: "emr", Org: "hosp-1",
			Actor: event.Actor{ID: "staff-7", Type: event.ActorStaff, Role: "nurse"}, Action: event.ActionRead,
			Subject:    event.Subject{ID: subj, Type: event.SubjectPatient, Minor: subj == "p_kid"},
			Categories: []event.Category{event.CategoryHealth}, RecordCount: 1, Relationship: event.RelationshipFalse, Outcome: event.OutcomeSuccess})
	}
	if err := st.Write(ctx, &store.Batch{Access: evs}); err != nil {
		t.Fatal(err)
	}

	icfg := incident.DefaultConfig()
	icfg.Jurisdictions = map[string][]string{"hosp-1": {"pipl"}}
	inc := NewIncidents(icfg, st)
	regimes, err := regime.Default()
	if err != nil {
		t.Fatal(err)
	}
	templates, err := render.Default()
	if err != nil {
		t.Fatal(err)
	}
	contacts := filepath.Join(dir, "contacts.yaml")
	if err := os.WriteFile(contacts, []byte(`
p_a: {name: 王芳, language: zh-CN, email: wang@example.org}
p_b: {name: Li Lei, language: en, email: li@example.org}
p_kid: {name: 小明, language: zh-CN, guardian_token: g_kid}
g_kid: {name: 张丽, language: zh-CN, email: zhang@example.org}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	dirx, err := directory.LoadFile(contacts)
	if err != nil {
		t.Fatal(err)
	}
	now := t0.Add(2 * time.Hour)
	clock := func() time.Time { return now }
	book, _ := OpenBook(ctx, &bus.MemLog[event.Incident]{})
	ledger, _ := delivery.Open(ctx, &delivery.MemoryJournal{}, delivery.Options{Now: clock, IsPermanent: IsPermanent})
	svc, err := New(Config{Book: book, Ledger: ledger, Scoper: inc, Transition: inc.Transition, Group: inc.Group, Now: clock,
		Planner: RegimePlanner{Set: regimes, Profile: regime.Profile{Operator: regime.OperatorOrdinary, Jurisdictions: []string{"pipl"}, DPO: "dpo@hosp-1.example"}}})
	if err != nil {
		t.Fatal(err)
	}
	outbox := &channel.Outbox{Dir: filepath.Join(dir, "outbox"), From: mail.Address{Name: "Hospital DPO", Address: "dpo@hosp-1.example"}, Domain: "hosp-1.example", Now: clock}
	if err := os.MkdirAll(outbox.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	senders := map[event.Channel]Sender{}
	for _, c := range event.Channels() {
		senders[c] = outbox
	}
	disp, err := NewDispatcher(svc, DispatcherConfig{Directory: dirx, Renderer: templates, Senders: senders,
		OrgName: func(string) string { return "示例医院" }})
	if err != nil {
		t.Fatal(err)
	}

	a := event.Alert{AlertID: "al-1", RuleID: "vigil-access-020", Severity: event.SeverityHigh, GroupKey: "hosp-1/staff-7",
		Org: "hosp-1", ActorID: "staff-7", Status: event.AlertOpen, WindowStart: event.NewTimestamp(t0),
		FirstSeen: event.NewTimestamp(t0), LastSeen: event.NewTimestamp(t0.Add(2 * time.Minute))}
	got, joined, err := svc.OnAlert(ctx, a)
	if err != nil || !joined {
		t.Fatalf("OnAlert: %v (joined %v)", err, joined)
	}
	id := got.IncidentID
	ana := Operator{Name: "analyst-li", Roles: []string{"analyst"}}
	if _, err := svc.Transition(ctx, id, event.IncidentClosed, "done", time.Time{}, ana); err == nil || !strings.Contains(err.Error(), "conflict") {
		t.Fatalf("closing a detected incident: %v", err)
	}
	got, err = svc.Transition(ctx, id, event.IncidentConfirmed, "nurse read three records outside her ward", t0.Add(time.Hour), ana)
	if err != nil {
		t.Fatal(err)
	}
	if got.Scope.People != 3 || got.Scope.Minors != 1 || len(got.Obligations) == 0 {
		t.Fatalf("scope %+v, %d obligations", got.Scope, len(got.Obligations))
	}
	if _, err := disp.Approve(ctx, id, "pipl.individual", Operator{Name: "dpo-wang", Roles: []string{"dpo"}}); err == nil ||
		!strings.Contains(err.Error(), "is missing or empty") {
		t.Fatalf("approval without content: %v", err)
	}
	if _, err := svc.SetFields(ctx, id, map[string]string{
		"facts": "一名护士查阅了与其无诊疗关系的三名患者的病历。", "cause": "账号权限配置不当", "impact": "病历信息可能被不当知悉",
		"measures_taken": "已停用该账号并复核权限", "self_protection": "请留意可疑来电", "remedies": "如有损失可联系我们",
		"contact": "dpo@hosp-1.example / 400-000-0000",
	}, ana); err != nil {
		t.Fatal(err)
	}
	dpo := Operator{Name: "dpo-wang", Roles: []string{"dpo"}}
	for _, oid := range []string{"pipl.individual", "pipl.guardian"} {
		if _, err := disp.Approve(ctx, id, oid, dpo); err != nil {
			t.Fatalf("approve %s: %v", oid, err)
		}
	}
	st2, err := disp.Dispatch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(outbox.Dir, "*.eml"))
	// p_a, p_b by email; the guardian of p_kid (guardian notice); p_kid's
	// own notice has no address of the child's and fails as unreachable.
	if st2.Sent != 3 || st2.Failed != 1 || len(files) != 3 {
		t.Fatalf("dispatch %+v, %d outbox files", st2, len(files))
	}
	var zh, en, guardian int
	for _, f := range files {
		b, _ := os.ReadFile(f)
		s := string(b)
		switch {
		case strings.Contains(s, "zhang@example.org"):
			guardian++
		case strings.Contains(s, "Content-Language: en"):
			en++
		case strings.Contains(s, "Content-Language: zh-CN"):
			zh++
		}
		if !strings.Contains(s, "Message-Id: <") && !strings.Contains(s, "Message-ID: <") {
			t.Errorf("%s has no Message-ID", f)
		}
	}
	if zh != 1 || en != 1 || guardian != 1 {
		t.Fatalf("outbox: %d zh, %d en, %d guardian notices", zh, en, guardian)
	}
	// A second pass sends nothing more.
	if st3, _ := disp.Dispatch(ctx); st3.Sent != 0 {
		t.Fatalf("second dispatch sent %d", st3.Sent)
	}
	// Closing needs every obligation met.
	if _, err := svc.Transition(ctx, id, event.IncidentContained, "account disabled", time.Time{}, dpo); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Transition(ctx, id, event.IncidentClosed, "done", time.Time{}, dpo); err == nil {
		t.Fatal("closed with obligations open")
	}
}
