package behave

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-audit/vigil/internal/event"
)

func TestDeviceSignals(t *testing.T) {
	rooted := Defaults()
	rooted.DeviceSignals.Signals = []string{"rooted"}
	cases := []struct {
		name string
		cfg  Config
		kind event.DeviceKind
		sig  event.Signals
		want string // "" means no finding
	}{
		{"emulator at real-name check", Defaults(), event.KindRealnameAuth, event.Signals{Emulator: true, ProxyOrVPN: true},
			"did realname_auth (success) with emulator detected"},
		{"hook framework at face check", Defaults(), event.KindFaceVerify, event.Signals{HookFramework: true, Rooted: true},
			"with hook_framework detected"},
		{"both at payment", Defaults(), event.KindPayment, event.Signals{Emulator: true, HookFramework: true},
			"with emulator and hook_framework detected"},
		{"hook framework at password reset", Defaults(), event.KindPasswordReset, event.Signals{HookFramework: true}, "password_reset"},
		{"rooted phone at real-name check", Defaults(), event.KindRealnameAuth, event.Signals{Rooted: true}, ""},
		{"emulator at login", Defaults(), event.KindLogin, event.Signals{Emulator: true}, ""},
		{"clean real-name check", Defaults(), event.KindRealnameAuth, event.Signals{}, ""},
		{"rooted when configured", rooted, event.KindRealnameAuth, event.Signals{Rooted: true}, "with rooted detected"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := dev("D1", "A1", c.kind, 0)
			e.Signals = c.sig
			fs := run(t, mustNew(t, c.cfg, RuleDeviceSignals), []any{e})
			if c.want == "" {
				if len(fs) > 0 {
					t.Fatalf("fired: %s", fs[0].Explanation)
				}
				return
			}
			if len(fs) != 1 {
				t.Fatalf("%d findings", len(fs))
			}
			f := fs[0]
			if f.GroupKey != "org1/D1" || f.DeviceID != "D1" || f.Subjects[0] != "A1" || len(f.Categories) == 0 {
				t.Errorf("%+v", f)
			}
			if !strings.Contains(f.Explanation, c.want) {
				t.Errorf("explanation %q lacks %q", f.Explanation, c.want)
			}
		})
	}
}

func TestDeviceManyAccounts(t *testing.T) {
	accounts := func(n int, every time.Duration) []any {
		var out []any
		for i := range n {
			acct := fmt.Sprintf("A%d", i)
			out = append(out, dev("D1", acct, event.KindRegister, time.Duration(i)*every),
				dev("D1", acct, event.KindLogin, time.Duration(i)*every+time.Minute))
		}
		return out
	}
	cases := []struct {
		name   string
		events []any
		want   int // distinct accounts in the first finding; 0: none
	}{
		{"a family of five", accounts(5, time.Hour), 0},
		{"twelve accounts in two hours", accounts(12, 10*time.Minute), 6},
		{"six accounts over six days", accounts(6, 25*time.Hour), 0},
		{"one account, many logins", func() []any {
			var out []any
			for i := range 50 {
				out = append(out, dev("D1", "A1", event.KindLogin, time.Duration(i)*time.Minute))
			}
			return out
		}(), 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fs := run(t, mustNew(t, Defaults(), RuleDeviceManyAccounts), c.events)
			if c.want == 0 {
				if len(fs) > 0 {
					t.Fatalf("fired: %s", fs[0].Explanation)
				}
				return
			}
			if len(fs) == 0 {
				t.Fatal("no finding")
			}
			f := fs[0]
			if len(f.Subjects) != c.want || f.Count != int64(c.want) || len(f.Evidence) != c.want {
				t.Errorf("subjects %v count %d evidence %v, want %d", f.Subjects, f.Count, f.Evidence, c.want)
			}
			if !strings.Contains(f.Explanation, fmt.Sprintf("used by %d distinct accounts", c.want)) {
				t.Errorf("explanation %q", f.Explanation)
			}
			for _, g := range fs[1:] {
				if g.Count != 1 {
					t.Errorf("later finding covers %d events, want 1", g.Count)
				}
			}
			// Every event from the sixth account's first on is in the
			// evidence.
			ev := evidenceOf(fs)
			for _, e := range c.events[2*(c.want-1):] {
				if id := e.(*event.DeviceEvent).EventID; !slices.Contains(ev, id) {
					t.Errorf("event %s not in evidence %v", id, ev)
				}
			}
		})
	}
}

func TestFaceVerifyFailures(t *testing.T) {
	fail := func(device, account string, when time.Duration) *event.DeviceEvent {
		e := dev(device, account, event.KindFaceVerify, when)
		e.Outcome = event.OutcomeFailure
		return e
	}
	series := func(n int, every time.Duration, f func(i int) (string, string)) []any {
		var out []any
		for i := range n {
			d, a := f(i)
			out = append(out, fail(d, a, time.Duration(i)*every))
		}
		return out
	}
	one := func(int) (string, string) { return "D1", "A1" }
	cases := []struct {
		name   string
		events []any
		want   string
	}{
		{"five failures in eight minutes", series(5, 2*time.Minute, one), "5 face verifications failed on this device within 8 minutes"},
		{"four failures", series(4, 2*time.Minute, one), ""},
		{"five failures over an hour", series(5, 15*time.Minute, one), ""},
		{"five accounts on one device", series(5, time.Minute, func(i int) (string, string) { return "D1", fmt.Sprintf("A%d", i) }),
			"on this device"},
		{"one account on five devices", series(5, time.Minute, func(i int) (string, string) { return fmt.Sprintf("D%d", i), "A1" }),
			"of this account"},
		{"successes do not count", func() []any {
			evs := series(4, time.Minute, one)
			return append(evs, dev("D1", "A1", event.KindFaceVerify, 5*time.Minute))
		}(), ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fs := run(t, mustNew(t, Defaults(), RuleFaceVerifyFailures), c.events)
			if c.want == "" {
				if len(fs) > 0 {
					t.Fatalf("fired: %s", fs[0].Explanation)
				}
				return
			}
			if len(fs) != 1 || fs[0].Count != 5 || len(fs[0].Evidence) != 5 {
				t.Fatalf("findings %+v", fs)
			}
			if !strings.Contains(fs[0].Explanation, c.want) {
				t.Errorf("explanation %q lacks %q", fs[0].Explanation, c.want)
			}
		})
	}
}

func TestSIMSwap(t *testing.T) {
	anyDevice := Defaults()
	anyDevice.SIMSwap.AnyDevice = true
	owner := func(reset event.DeviceKind) []any {
		return []any{dev("D1", "A1", event.KindLogin, -30*24*time.Hour), dev("D1", "A1", event.KindLogin, -24*time.Hour),
			dev("D1", "A1", event.KindSIMChange, 0), dev("D1", "A1", reset, 30*time.Minute)}
	}
	cases := []struct {
		name   string
		cfg    Config
		events []any
		want   string
	}{
		{"during the learning period", Defaults(), []any{
			dev("D1", "A1", event.KindSIMChange, 0), dev("D1", "A1", event.KindPasswordReset, 30*time.Minute)}, ""},
		{"the owner's phone", Defaults(), owner(event.KindPasswordReset), ""},
		{"the owner's phone, any device", anyDevice, owner(event.KindPasswordReset), "30 minutes later the account did password_reset;"},
		{"reset 30 minutes after the SIM change", Defaults(), []any{
			dev("D1", "A1", event.KindSIMChange, 0), dev("D1", "A1", event.KindPasswordReset, 30*time.Minute)},
			"changed on this device and 30 minutes later the account did password_reset from a device it had not used before"},
		{"reset from another device", Defaults(), []any{
			dev("D1", "A1", event.KindSIMChange, 0), dev("D2", "A1", event.KindPasswordReset, 10*time.Minute)},
			"on another device"},
		{"reset three hours later", Defaults(), []any{
			dev("D1", "A1", event.KindSIMChange, 0), dev("D1", "A1", event.KindPasswordReset, 3*time.Hour)}, ""},
		{"another account", Defaults(), []any{
			dev("D1", "A1", event.KindSIMChange, 0), dev("D1", "A2", event.KindPasswordReset, 10*time.Minute)}, ""},
		{"reset without SIM change", Defaults(), []any{dev("D1", "A1", event.KindPasswordReset, 0)}, ""},
		{"reset before the SIM change", Defaults(), []any{
			dev("D1", "A1", event.KindPasswordReset, 0), dev("D1", "A1", event.KindSIMChange, 10*time.Minute)}, ""},
		{"login after SIM change", Defaults(), []any{
			dev("D1", "A1", event.KindSIMChange, 0), dev("D1", "A1", event.KindLogin, 10*time.Minute)}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			evs := c.events
			if !strings.Contains(c.name, "learning") {
				// Another device a day before: the learning period is over.
				evs = append([]any{dev("D9", "A9", event.KindLogin, -48*time.Hour)}, evs...)
			}
			fs := run(t, mustNew(t, c.cfg, RuleSIMSwap), evs)
			if c.want == "" {
				if len(fs) > 0 {
					t.Fatalf("fired: %s", fs[0].Explanation)
				}
				return
			}
			if len(fs) != 1 || fs[0].Count != 2 || len(fs[0].Evidence) != 2 {
				t.Fatalf("findings %+v", fs)
			}
			if !strings.Contains(fs[0].Explanation, c.want) {
				t.Errorf("explanation %q lacks %q", fs[0].Explanation, c.want)
			}
		})
	}
}
