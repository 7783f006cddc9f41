package behave

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/vigil-audit/vigil/detector"
	"github.com/vigil-audit/vigil/internal/event"
)

// ---- device_signals ----------------------------------------------------------

// deviceSignals is the device_signals behaviour. It keeps no state.
type deviceSignals struct {
	cfg   DeviceSignalsConfig
	kinds []event.DeviceKind
	mask  uint16
}

func newDeviceSignals(c DeviceSignalsConfig) *deviceSignals {
	b := &deviceSignals{cfg: c, kinds: c.Kinds}
	for _, s := range c.Signals {
		b.mask |= 1 << slices.Index(signalNames, s)
	}
	return b
}

// signalBits returns the signals set in s, one bit per signalNames entry.
func signalBits(s *event.Signals) uint16 {
	var m uint16
	for i, v := range [...]bool{s.Emulator, s.Rooted, s.HookFramework, s.Debugger, s.AppTampered,
		s.ProxyOrVPN, s.MultiOpen, s.LocationSpoofed, s.RemoteControl} {
		if v {
			m |= 1 << i
		}
	}
	return m
}

func (b *deviceSignals) Name() string                                      { return RuleDeviceSignals }
func (b *deviceSignals) Title() string                                     { return "Identity or payment step from a tampered device" }
func (b *deviceSignals) Severity() event.Severity                          { return b.cfg.Severity }
func (b *deviceSignals) Stats() Stats                                      { return Stats{} }
func (b *deviceSignals) Access(*event.AccessEvent, func(detector.Finding)) {}
func (b *deviceSignals) Advance(time.Time)                                 {}

func (b *deviceSignals) Device(e *event.DeviceEvent, emit func(detector.Finding)) {
	hit := signalBits(&e.Signals) & b.mask
	if hit == 0 || e.DeviceID == "" || !slices.Contains(b.kinds, e.Kind) {
		return
	}
	var names []string
	for i, n := range signalNames {
		if hit&(1<<i) != 0 {
			names = append(names, n)
		}
	}
	f := deviceFinding(RuleDeviceSignals, b.Title(), b.cfg.Severity, e)
	f.Explanation = fmt.Sprintf("This device did %s (%s) with %s detected, which genuine users' phones do not show.",
		e.Kind, e.Outcome, strings.Join(names, " and "))
	emit(f)
}

func (b *deviceSignals) MarshalState() ([]byte, error) { return newWbuf(b.Name()).b, nil }

func (b *deviceSignals) UnmarshalState(data []byte) error {
	if data == nil {
		return nil
	}
	if err := newRbuf(data, b.Name()).done(); err != nil {
		return fmt.Errorf("%s: %w", b.Name(), err)
	}
	return nil
}

// ---- device_many_accounts ----------------------------------------------------

// manyAccounts is the device_many_accounts behaviour.
type manyAccounts struct {
	cfg       ManyAccountsConfig
	window    int64
	devices   *table[key, devAccounts]
	lastSweep int64
}

// devAccounts are the accounts a device was used by, least recently
// used first, at most max_accounts + 1.
type devAccounts struct {
	accounts []devAccount
	scratch  []devAccount // for ordering a finding's evidence
}

type devAccount struct {
	h       uint64 // hash of the account id
	at      int64  // occurred_at of its first event in the list
	last    int64  // occurred_at of its latest event
	account string // the account token
	id      string // event id of its first event in the list
	covered bool   // a finding covered that event
}

func newManyAccounts(c ManyAccountsConfig) *manyAccounts {
	return &manyAccounts{
		cfg: c, window: c.Window.Milliseconds(), lastSweep: noHour,
		devices: newTable[key](c.MaxDevices, func(d *devAccounts) {
			*d = devAccounts{accounts: d.accounts[:0], scratch: d.scratch[:0]}
		}),
	}
}

func (b *manyAccounts) Name() string             { return RuleDeviceManyAccounts }
func (b *manyAccounts) Title() string            { return "One device used by many accounts" }
func (b *manyAccounts) Severity() event.Severity { return b.cfg.Severity }
func (b *manyAccounts) Stats() Stats {
	return Stats{Tracked: b.devices.len(), Evicted: b.devices.evictions, Expired: b.devices.expired}
}
func (b *manyAccounts) Access(*event.AccessEvent, func(detector.Finding)) {}

func (b *manyAccounts) Device(e *event.DeviceEvent, emit func(detector.Finding)) {
	if e.DeviceID == "" || e.AccountID == "" {
		return
	}
	t := ms(e.OccurredAt)
	d, _ := b.devices.get(key{e.Org, e.DeviceID}, t)
	h := hashString(e.AccountID)
	i := slices.IndexFunc(d.accounts, func(a devAccount) bool { return a.h == h })
	isNew := i < 0
	switch {
	case !isNew:
		a := d.accounts[i]
		a.last = max(a.last, t)
		copy(d.accounts[i:], d.accounts[i+1:])
		d.accounts[len(d.accounts)-1] = a
	default:
		if len(d.accounts) > b.cfg.MaxAccounts {
			// Forget the least recently used; keep max_accounts + 1.
			copy(d.accounts, d.accounts[1:])
			d.accounts = d.accounts[:len(d.accounts)-1]
		}
		d.accounts = append(d.accounts, devAccount{h: h, at: t, last: t,
			account: strings.Clone(e.AccountID), id: strings.Clone(e.EventID)})
	}
	n, first := 0, t
	for _, a := range d.accounts {
		if t-a.last <= b.window {
			n++
			first = min(first, max(a.at, t-b.window))
		}
	}
	if n <= b.cfg.MaxAccounts {
		return
	}
	// The finding adds the first events of the accounts in the window
	// that no finding covered yet, and this event.
	f := deviceFinding(RuleDeviceManyAccounts, b.Title(), b.cfg.Severity, e)
	f.Count, f.Evidence, f.Subjects = 0, nil, nil
	d.scratch = d.scratch[:0]
	for k := range d.accounts {
		a := &d.accounts[k]
		if t-a.last > b.window {
			continue
		}
		f.Subjects = append(f.Subjects, a.account)
		if !a.covered {
			a.covered = true
			d.scratch = append(d.scratch, *a)
		}
	}
	if !isNew {
		d.scratch = append(d.scratch, devAccount{at: t, id: e.EventID})
	}
	slices.SortStableFunc(d.scratch, func(x, y devAccount) int { return cmpI64(x.at, y.at) })
	for _, a := range d.scratch {
		if f.Count == 0 {
			f.Start = tm(a.at)
		}
		f.Count++
		if a.id != "" {
			f.Evidence = append(f.Evidence, a.id)
		}
	}
	clear(d.scratch) // drop the strings
	f.Explanation = fmt.Sprintf("This device was used by %d distinct accounts within %s; a phone usually serves one person or a family (at most %d).",
		n, ago(time.Duration(t-first)*time.Millisecond), b.cfg.MaxAccounts)
	emit(f)
}

func (b *manyAccounts) Advance(w time.Time) {
	h := floorDiv(w.UnixMilli(), msHour)
	if h <= b.lastSweep {
		return
	}
	b.lastSweep = h
	b.devices.expire(w.UnixMilli() - b.window)
}

func (b *manyAccounts) MarshalState() ([]byte, error) {
	return marshalTable(b.Name(), b.lastSweep, b.devices, func(w *wbuf, d *devAccounts) {
		w.u(uint64(len(d.accounts)))
		for _, a := range d.accounts {
			w.i(a.at)
			w.i(a.last)
			w.s(a.account)
			w.s(a.id)
			w.bool(a.covered)
		}
	}), nil
}

func (b *manyAccounts) UnmarshalState(data []byte) error {
	return unmarshalTable(data, b.Name(), &b.lastSweep, b.devices, func(r *rbuf, d *devAccounts) {
		m := r.n(maxBurst + 1)
		for range m {
			a := devAccount{at: r.i(), last: r.i(), account: r.s(), id: r.s(), covered: r.bool()}
			a.h = hashString(a.account)
			d.accounts = append(d.accounts, a)
		}
	})
}

// ---- face_verify_failures ----------------------------------------------------

// faceFailures is the face_verify_failures behaviour.
type faceFailures struct {
	cfg       FaceFailuresConfig
	window    int64
	devices   *table[key, bgActor]
	accounts  *table[key, bgActor]
	lastSweep int64
}

func newFaceFailures(c FaceFailuresConfig) *faceFailures {
	reset := func(a *bgActor) { *a = bgActor{recent: a.recent[:0]} }
	return &faceFailures{
		cfg: c, window: c.Window.Milliseconds(), lastSweep: noHour,
		devices:  newTable[key](c.MaxDevices, reset),
		accounts: newTable[key](c.MaxAccounts, reset),
	}
}

func (b *faceFailures) Name() string             { return RuleFaceVerifyFailures }
func (b *faceFailures) Title() string            { return "Burst of failed face verifications" }
func (b *faceFailures) Severity() event.Severity { return b.cfg.Severity }
func (b *faceFailures) Stats() Stats {
	return Stats{Tracked: b.devices.len() + b.accounts.len(), Evicted: b.devices.evictions + b.accounts.evictions,
		Expired: b.devices.expired + b.accounts.expired}
}
func (b *faceFailures) Access(*event.AccessEvent, func(detector.Finding)) {}

func (b *faceFailures) Device(e *event.DeviceEvent, emit func(detector.Finding)) {
	if e.Kind != event.KindFaceVerify || e.DeviceID == "" || !slices.Contains(b.cfg.Outcomes, e.Outcome) {
		return
	}
	t := ms(e.OccurredAt)
	ev := bgEvent{at: t, subject: strings.Clone(e.AccountID), id: strings.Clone(e.EventID)}
	d, _ := b.devices.get(key{e.Org, e.DeviceID}, t)
	d.recent = pushBounded(d.recent, ev, b.cfg.Failures)
	byDevice := len(d.recent) == b.cfg.Failures && spanOK(d.recent, b.window)
	var acc *bgActor
	byAccount := false
	if e.AccountID != "" {
		acc, _ = b.accounts.get(key{e.Org, e.AccountID}, t)
		acc.recent = pushBounded(acc.recent, ev, b.cfg.Failures)
		byAccount = len(acc.recent) == b.cfg.Failures && spanOK(acc.recent, b.window)
	}
	if !byDevice && !byAccount {
		return
	}
	src, what := d, "on this device"
	if !byDevice {
		src, what = acc, "of this account"
	}
	f := deviceFinding(RuleFaceVerifyFailures, b.Title(), b.cfg.Severity, e)
	other := d
	if src == d {
		other = acc
	}
	if other != nil {
		cover(&f, src.recent, other.recent)
	} else {
		cover(&f, src.recent)
	}
	f.Explanation = fmt.Sprintf("%d face verifications failed %s within %s; a genuine user seldom fails more than a couple of times.",
		len(src.recent), what, ago(time.Duration(t-src.recent[0].at)*time.Millisecond))
	emit(f)
}

func (b *faceFailures) Advance(w time.Time) {
	h := floorDiv(w.UnixMilli(), msHour)
	if h <= b.lastSweep {
		return
	}
	b.lastSweep = h
	b.devices.expire(w.UnixMilli() - b.window)
	b.accounts.expire(w.UnixMilli() - b.window)
}

func writeBursts(w *wbuf, t *table[key, bgActor]) {
	w.u(uint64(t.len()))
	t.each(func(k key, touched int64, a *bgActor) {
		w.key(k)
		w.i(touched)
		writeBG(w, a.recent)
	})
}

func readBursts(r *rbuf, t *table[key, bgActor]) {
	n := r.n(len(r.b))
	for range n {
		k := r.key()
		touched := r.i()
		if r.err != nil {
			return
		}
		a, _ := t.get(k, touched)
		a.recent = readBG(r, a.recent)
	}
}

func (b *faceFailures) MarshalState() ([]byte, error) {
	w := newWbuf(b.Name())
	w.i(b.lastSweep)
	writeBursts(w, b.devices)
	writeBursts(w, b.accounts)
	return w.b, nil
}

func (b *faceFailures) UnmarshalState(data []byte) error {
	b.devices.clear()
	b.accounts.clear()
	b.lastSweep = noHour
	if data == nil {
		return nil
	}
	r := newRbuf(data, b.Name())
	b.lastSweep = r.i()
	readBursts(r, b.devices)
	readBursts(r, b.accounts)
	if err := r.done(); err != nil {
		b.devices.clear()
		b.accounts.clear()
		b.lastSweep = noHour
		return fmt.Errorf("%s: %w", b.Name(), err)
	}
	return nil
}

// ---- sim_swap ----------------------------------------------------------------

// simSwap is the sim_swap behaviour.
type simSwap struct {
	cfg       SIMSwapConfig
	window    int64
	forget    int64
	accounts  *table[key, simChange]
	devices   *table[key, devPairs]
	lastSweep int64
	started   int64 // occurred_at of the first event seen, or noHour
}

// devPairs are the accounts a device was used by and since when, least
// recently used forgotten first.
type devPairs struct{ accounts []pairSeen }

type pairSeen struct {
	h           uint64 // hash of the account id
	first, last int64
}

// maxPairs is how many accounts per device sim_swap remembers.
const maxPairs = 16

// firstSeen returns since when the account (hash h) uses the device,
// recording it at t.
func (d *devPairs) firstSeen(h uint64, t int64) int64 {
	oldest := -1
	for i := range d.accounts {
		p := &d.accounts[i]
		if p.h == h {
			p.first, p.last = min(p.first, t), max(p.last, t)
			return p.first
		}
		if oldest < 0 || p.last < d.accounts[oldest].last {
			oldest = i
		}
	}
	if len(d.accounts) < maxPairs {
		d.accounts = append(d.accounts, pairSeen{h, t, t})
	} else {
		d.accounts[oldest] = pairSeen{h, t, t}
	}
	return t
}

// simChange is an account's last sim_change.
type simChange struct {
	at       int64
	id       string
	deviceID string
	covered  bool // a finding covered the sim_change event
}

func newSIMSwap(c SIMSwapConfig) *simSwap {
	return &simSwap{cfg: c, window: c.Window.Milliseconds(), forget: c.ForgetAfter.Milliseconds(), lastSweep: noHour, started: noHour,
		accounts: newTable[key](c.MaxAccounts, func(s *simChange) { *s = simChange{} }),
		devices:  newTable[key](c.MaxDevices, func(d *devPairs) { d.accounts = d.accounts[:0] })}
}

func (b *simSwap) Name() string             { return RuleSIMSwap }
func (b *simSwap) Title() string            { return "SIM change followed by an account takeover step" }
func (b *simSwap) Severity() event.Severity { return b.cfg.Severity }
func (b *simSwap) Stats() Stats {
	return Stats{Tracked: b.accounts.len() + b.devices.len(), Evicted: b.accounts.evictions + b.devices.evictions,
		Expired: b.accounts.expired + b.devices.expired}
}
func (b *simSwap) Access(*event.AccessEvent, func(detector.Finding)) {}

func (b *simSwap) Device(e *event.DeviceEvent, emit func(detector.Finding)) {
	if e.AccountID == "" || e.DeviceID == "" {
		return
	}
	t := ms(e.OccurredAt)
	if b.started == noHour {
		b.started = t
	}
	b.started = min(b.started, t)
	k := key{e.Org, e.AccountID}
	var since int64 // since when this account uses this device
	if !b.cfg.AnyDevice {
		d, _ := b.devices.get(key{e.Org, e.DeviceID}, t)
		since = d.firstSeen(hashString(e.AccountID), t)
	}
	if e.Kind == event.KindSIMChange {
		s, _ := b.accounts.get(k, t)
		if t >= s.at {
			*s = simChange{at: t, id: strings.Clone(e.EventID), deviceID: strings.Clone(e.DeviceID)}
		}
		return
	}
	if !slices.Contains(b.cfg.FollowedBy, e.Kind) {
		return
	}
	s := b.accounts.peek(k)
	if s == nil || s.at > t || t-s.at > b.window || t-b.started < b.cfg.LearningPeriod.Milliseconds() {
		return
	}
	// A device the account used well before the SIM change is the
	// owner's phone; a takeover comes from a new one.
	if !b.cfg.AnyDevice && since < s.at-b.window {
		return
	}
	f := deviceFinding(RuleSIMSwap, b.Title(), b.cfg.Severity, e)
	f.Start, f.Count = tm(s.at), 2
	if s.covered {
		f.Count = 1
	}
	s.covered = true
	f.Evidence = nil
	for _, id := range [...]string{s.id, e.EventID} {
		if id != "" {
			f.Evidence = append(f.Evidence, id)
		}
	}
	where := "on this device"
	if s.deviceID != e.DeviceID {
		where = "on another device"
	}
	newDev := ""
	if !b.cfg.AnyDevice {
		newDev = " from a device it had not used before"
	}
	f.Explanation = fmt.Sprintf("The SIM card of this account's phone changed %s and %s later the account did %s%s; SIM-swap fraud follows this pattern.",
		where, ago(time.Duration(t-s.at)*time.Millisecond), e.Kind, newDev)
	emit(f)
}

func (b *simSwap) Advance(w time.Time) {
	h := floorDiv(w.UnixMilli(), msHour)
	if h <= b.lastSweep {
		return
	}
	b.lastSweep = h
	b.accounts.expire(w.UnixMilli() - b.window)
	b.devices.expire(w.UnixMilli() - b.forget)
}

func (b *simSwap) MarshalState() ([]byte, error) {
	w := newWbuf(b.Name())
	w.i(b.lastSweep)
	w.i(b.started)
	w.u(uint64(b.devices.len()))
	b.devices.each(func(k key, touched int64, d *devPairs) {
		w.key(k)
		w.i(touched)
		w.u(uint64(len(d.accounts)))
		for _, p := range d.accounts {
			w.h(p.h)
			w.i(p.first)
			w.i(p.last)
		}
	})
	w.u(uint64(b.accounts.len()))
	b.accounts.each(func(k key, touched int64, s *simChange) {
		w.key(k)
		w.i(touched)
		w.i(s.at)
		w.s(s.id)
		w.s(s.deviceID)
		w.bool(s.covered)
	})
	return w.b, nil
}

func (b *simSwap) UnmarshalState(data []byte) error {
	b.accounts.clear()
	b.devices.clear()
	b.lastSweep, b.started = noHour, noHour
	if data == nil {
		return nil
	}
	r := newRbuf(data, b.Name())
	b.lastSweep = r.i()
	b.started = r.i()
	n := r.n(len(r.b))
	for range n {
		k := r.key()
		touched := r.i()
		if r.err != nil {
			break
		}
		d, _ := b.devices.get(k, touched)
		m := r.n(maxPairs)
		for range m {
			d.accounts = append(d.accounts, pairSeen{r.h(), r.i(), r.i()})
		}
	}
	n = r.n(len(r.b))
	for range n {
		k := r.key()
		touched := r.i()
		if r.err != nil {
			break
		}
		s, _ := b.accounts.get(k, touched)
		s.at, s.id, s.deviceID, s.covered = r.i(), r.s(), r.s(), r.bool()
	}
	if err := r.done(); err != nil {
		b.accounts.clear()
		b.devices.clear()
		b.lastSweep, b.started = noHour, noHour
		return fmt.Errorf("%s: %w", b.Name(), err)
	}
	return nil
}
