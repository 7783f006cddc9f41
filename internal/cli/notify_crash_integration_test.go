//go:build integration

package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-audit/vigil/internal/event"
	"github.com/vigil-audit/vigil/internal/testenv"
	"github.com/vigil-audit/vigil/notifier/channel"
)

// TestNotifyCrashExactlyOnce sends one obligation's notice to 2,000 people
// by email through the real Mailpit while `vigil notify` (a separate
// process, on the real Kafka and ClickHouse) is killed with SIGKILL at
// random points of the send and restarted each time. Afterwards every
// recipient has exactly one notice: every mail Mailpit holds for a
// recipient carries the Message-ID derived from that recipient's notice
// id, nobody lacks one, and nobody got one not meant for them. SMTP has
// no idempotent submission, so a kill between the server's "250" and the
// ledger's "sent" record makes the restarted notifier submit that notice
// again, with the same Message-ID: the test allows at most one such
// re-submission per kill and reports how many there were.
func TestNotifyCrashExactlyOnce(t *testing.T) {
	const n, kills = 2000, 5
	smtpAddr, mailpit := testenv.SMTP(t), testenv.MailpitAPI(t)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	bin := testenv.BuildVigil(t)

	run0 := fmt.Sprintf("%d", time.Now().UnixNano())
	domain := "c" + run0 + ".example.org"
	subjects := make([]string, n)
	var contacts strings.Builder
	for i := range subjects {
		subjects[i] = fmt.Sprintf("p%d_%s", i, run0)
		fmt.Fprintf(&contacts, "%s: {name: Patient %d, language: en, email: r%d@%s}\n", subjects[i], i, i, domain)
	}
	f := newNotifyFixture(t, ctx, subjects)
	dir := t.TempDir()
	contactsFile := filepath.Join(dir, "contacts.yaml")
	writeFile(t, contactsFile, contacts.String())
	cfg := f.config(t, dir, contactsFile, smtpAddr, "")

	var cur *exec.Cmd
	var exited chan struct{} // closed when cur has exited
	starts := 0
	start := func() string {
		t.Helper()
		starts++
		logPath := filepath.Join(dir, fmt.Sprintf("notify-%d.log", starts))
		logf, err := os.Create(logPath)
		if err != nil {
			t.Fatal(err)
		}
		defer logf.Close()
		cmd := exec.Command(bin, "notify", "--config", cfg)
		cmd.Env = append(os.Environ(), f.env...)
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cur, exited = cmd, make(chan struct{})
		go func(done chan struct{}) { _ = cmd.Wait(); close(done) }(exited)
		for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			b, _ := os.ReadFile(logPath)
			if m := notifyAddr.FindSubmatch(b); m != nil {
				return "http://" + string(m[1])
			}
			select {
			case <-exited:
				t.Fatalf("vigil notify (start %d) exited:\n%s", starts, b)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("vigil notify (start %d) did not serve within 90 s:\n%s", starts, b)
			}
		}
	}
	kill := func() {
		t.Helper()
		if err := cur.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-exited
	}
	t.Cleanup(func() {
		if cur != nil {
			_ = cur.Process.Signal(syscall.SIGKILL)
			<-exited
		}
	})

	api := start()
	f.sendAlert(t, ctx)
	id := f.awaitIncident(t, api)
	if shown := f.confirmAndApprove(t, api, id); !strings.Contains(shown, fmt.Sprintf("scope: %d people", n)) {
		t.Fatalf("after confirm:\n%s", shown)
	}

	// Kill when Mailpit has seen a random number of this run's mails.
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	at := make([]int, kills)
	for i := range at {
		at[i] = 20 + rng.IntN(n-100)
	}
	slices.Sort(at)
	t.Logf("seed %d: SIGKILL after %v mails", seed, at)
	query := "to:" + domain
	killedAt := make([]int, 0, kills)
	for _, k := range at {
		for c := mailpitCount(t, mailpit, query); c < k; c = mailpitCount(t, mailpit, query) {
			if ctx.Err() != nil {
				t.Fatalf("%d of %d mails before the deadline; waiting for %d", c, n, k)
			}
			time.Sleep(10 * time.Millisecond)
		}
		kill()
		c := mailpitCount(t, mailpit, query)
		killedAt = append(killedAt, c)
		api = start()
	}
	t.Logf("killed at %v mails, %d starts", killedAt, starts)
	if killedAt[0] >= n {
		t.Fatalf("the send finished before the first kill: nothing was tested")
	}

	// The last notifier finishes the send and closes the obligation.
	for deadline := time.Now().Add(4 * time.Minute); ; time.Sleep(500 * time.Millisecond) {
		var inc event.Incident
		if err := json.Unmarshal([]byte(f.incident(t, api, "show", id, "--json")), &inc); err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(inc.Obligations, func(o event.Obligation) bool { return o.ID == "pipl.individual" })
		if i >= 0 && inc.Obligations[i].Status == event.ObligationDone {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pipl.individual not done within 4 minutes of the last restart; %d mails", mailpitCount(t, mailpit, query))
		}
	}
	time.Sleep(2 * time.Second) // a late duplicate would show by now

	byAddr := map[string][]string{}
	msgs := mailpitSearch(t, mailpit, query)
	for _, m := range msgs {
		for _, to := range m.To {
			byAddr[to.Address] = append(byAddr[to.Address], m.MessageID)
		}
	}
	missing, wrong := 0, 0
	for i, subj := range subjects {
		want := channel.MessageID(event.NoticeID(id, subj, "pipl.individual"), "h1.example")
		got := byAddr[fmt.Sprintf("r%d@%s", i, domain)]
		if len(got) == 0 {
			missing++
			continue
		}
		for _, mid := range got {
			if "<"+mid+">" != want {
				wrong++
				t.Errorf("recipient %d got Message-ID %s, want %s", i, mid, want)
			}
		}
		delete(byAddr, fmt.Sprintf("r%d@%s", i, domain))
	}
	if missing > 0 || wrong > 0 || len(byAddr) > 0 {
		t.Fatalf("%d recipients without a notice, %d notices with a foreign Message-ID, %d unexpected addresses", missing, wrong, len(byAddr))
	}
	resent := len(msgs) - n
	t.Logf("%d recipients, %d mails: %d re-submitted with the same Message-ID after %d kills", n, len(msgs), resent, kills)
	if resent > kills {
		t.Fatalf("%d re-submissions after %d kills: more than one in flight per kill", resent, kills)
	}
}
