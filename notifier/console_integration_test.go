//go:build integration

package notifier

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/vigil-audit/vigil/internal/auth"
	"github.com/vigil-audit/vigil/internal/event"
	"github.com/vigil-audit/vigil/internal/testenv"
	"github.com/vigil-audit/vigil/notifier/console"
)

// TestConsoleInChromium drives the console in a real Chromium: sign in
// with an operator token, open an incident from the list, confirm it with
// a reason, record its content, approve a notice obligation — and checks
// each command reached the service with the operator's name, and that
// hostile text from the record is shown as text, not run as HTML.
func TestConsoleInChromium(t *testing.T) {
	chromium := testenv.Chromium(t)
	r := newRig(t, nil)
	ctx := context.Background()
	if _, _, err := r.svc.OnAlert(ctx, alert("al1", "act1", t0)); err != nil {
		t.Fatal(err)
	}
	// Hostile content: must appear as text.
	if _, err := r.svc.SetFields(ctx, "inc-act1", map[string]string{"impact": `<img src=x onerror="document.title='pwned'">`}, analyst); err != nil {
		t.Fatal(err)
	}
	ops, err := Operators([]OperatorConfig{{Name: "dpo-wang", Roles: []string{RoleDPO, RoleAnalyst}, TokenSHA256: auth.Hash("console-token")}})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/", NewAPI(r.svc, r.disp, ops, nil).Handler())
	mux.Handle("/console/", console.Handler("/console/"))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	actx, cancel := chromedp.NewExecAllocator(ctx, append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.Headless, chromedp.DisableGPU)...)
	defer cancel()
	bctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	bctx, cancel = context.WithTimeout(bctx, 60*time.Second)
	defer cancel()

	err = chromedp.Do(bctx,
		chromedp.Navigate(srv.URL+"/console/"),
		chromedp.WaitVisible(chromedp.CSS("#login-form")),
		chromedp.SendKeys(chromedp.CSS("#token"), "console-token"),
		chromedp.Click(chromedp.CSS(`#login-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#incidents tr[data-id="inc-act1"]`)),
		chromedp.Click(chromedp.CSS(`#incidents tr[data-id="inc-act1"] button.open`)),
		chromedp.WaitVisible(chromedp.CSS("#detail")),
		chromedp.SendKeys(chromedp.CSS("#reason"), "bulk reading confirmed with the ward manager"),
		chromedp.Click(chromedp.CSS(`#transition-buttons button[data-to="confirmed"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#obligations tr[data-obligation="pipl.individual"]`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	state := run(t, bctx, chromedp.Text(chromedp.CSS("#d-state")))
	impact := run(t, bctx, chromedp.Value(chromedp.CSS(`#fields textarea[name="impact"]`)))
	if state != "confirmed" {
		t.Fatalf("state shown %q after Confirm", state)
	}
	if !strings.Contains(impact, "<img src=x") {
		t.Fatalf("hostile field shown as %q, want the literal text", impact)
	}
	err = chromedp.Do(bctx,
		chromedp.SetValue(chromedp.CSS(`#fields textarea[name="facts"]`), "A staff account read 3 records."),
		chromedp.SetValue(chromedp.CSS(`#fields textarea[name="cause"]`), "phished password"),
		chromedp.Click(chromedp.CSS(`#fields-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#banner.ok`)),
		chromedp.Click(chromedp.CSS(`#obligations tr[data-obligation="pipl.individual"] button`)),
		chromedp.Poll[chromedp.Void](`document.querySelector('#obligations tr[data-obligation="pipl.individual"] td:nth-child(4)').textContent.startsWith("approved")`),
	)
	if err != nil {
		t.Fatal(err)
	}
	banner := run(t, bctx, chromedp.Text(chromedp.CSS("#banner")))
	title := run(t, bctx, chromedp.Title())
	if title == "pwned" {
		t.Fatal("text from the incident record ran as HTML")
	}
	if !strings.Contains(banner, "pipl.individual: approve recorded") {
		t.Fatalf("banner %q", banner)
	}
	inc, _ := r.svc.Book().Find("inc-act1")
	if inc.State != event.IncidentConfirmed || inc.Transitions[len(inc.Transitions)-1].By != "dpo-wang" ||
		inc.Transitions[len(inc.Transitions)-1].Reason != "bulk reading confirmed with the ward manager" {
		t.Fatalf("transition recorded: %+v", inc.Transitions)
	}
	o := findObligation(&inc, "pipl.individual")
	if o.Status != event.ObligationApproved || o.ApprovedBy != "dpo-wang" {
		t.Fatalf("obligation after Approve: %+v", o)
	}
	if inc.Fields["facts"] != "A staff account read 3 records." {
		t.Fatalf("fields %+v", inc.Fields)
	}

	// A refused command shows the API's reason: waive without a reason.
	err = chromedp.Do(bctx,
		chromedp.Evaluate[chromedp.Void](`document.getElementById("reason").value = ""`),
		chromedp.Click(chromedp.CSS(`#obligations tr[data-obligation="cac.initial"] button:nth-of-type(2)`)),
		chromedp.Poll[chromedp.Void](`document.querySelector('#banner').textContent.includes("needs a reason")`),
	)
	if err != nil {
		t.Fatal(err)
	}
}

func run[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
