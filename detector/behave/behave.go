package behave

import (
	"fmt"
	"time"

	"github.com/vigil-audit/vigil/detector"
	"github.com/vigil-audit/vigil/internal/event"
)

// Rule ids of the behaviours, in the order New returns them.
const (
	RuleActorBaseline      = detector.BehaviourPrefix + "actor_baseline"
	RuleFirstSeen          = detector.BehaviourPrefix + "first_seen"
	RuleImpossibleTravel   = detector.BehaviourPrefix + "impossible_travel"
	RuleCareRelationship   = detector.BehaviourPrefix + "care_relationship"
	RuleBreakGlassBurst    = detector.BehaviourPrefix + "break_glass_burst"
	RuleOffHours           = detector.BehaviourPrefix + "off_hours"
	RuleDeviceSignals      = detector.BehaviourPrefix + "device_signals"
	RuleDeviceManyAccounts = detector.BehaviourPrefix + "device_many_accounts"
	RuleFaceVerifyFailures = detector.BehaviourPrefix + "face_verify_failures"
	RuleSIMSwap            = detector.BehaviourPrefix + "sim_swap"
	RuleDormantAccount     = detector.BehaviourPrefix + "dormant_account"
)

// Stats describe a behaviour's state, for metrics: how many entries it
// tracks and how many it has dropped since it was built. Evicted counts
// entries dropped because a max_* limit was reached (a sign the limit is
// too low: the evicted actor's history is lost); Expired counts entries
// dropped after forget_after without events.
type Stats struct {
	Tracked int
	Evicted uint64
	Expired uint64
}

// StatsReporter is implemented by every behaviour of this package.
type StatsReporter interface {
	Stats() Stats
}

// New validates cfg and returns the enabled behaviours, fresh, in a fixed
// order (that of the rule ids above). Zero fields of cfg take their
// defaults; a behaviour is built only when its section is enabled. Call it
// once per partition: the behaviours keep per-partition state.
func New(cfg Config) ([]detector.Behaviour, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := cfg.withDefaults()
	var out []detector.Behaviour
	if c.ActorBaseline.Enabled {
		out = append(out, newBaseline(c.ActorBaseline))
	}
	if c.FirstSeen.Enabled {
		out = append(out, newFirstSeen(c.FirstSeen))
	}
	if c.ImpossibleTravel.Enabled {
		out = append(out, newTravel(c.ImpossibleTravel))
	}
	if c.CareRelationship.Enabled {
		out = append(out, newCare(c.CareRelationship))
	}
	if c.BreakGlassBurst.Enabled {
		out = append(out, newBreakGlass(c.BreakGlassBurst))
	}
	if c.OffHours.Enabled {
		b, err := newOffHours(c.OffHours)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	if c.DeviceSignals.Enabled {
		out = append(out, newDeviceSignals(c.DeviceSignals))
	}
	if c.DeviceManyAccounts.Enabled {
		out = append(out, newManyAccounts(c.DeviceManyAccounts))
	}
	if c.FaceVerifyFailures.Enabled {
		out = append(out, newFaceFailures(c.FaceVerifyFailures))
	}
	if c.SIMSwap.Enabled {
		out = append(out, newSIMSwap(c.SIMSwap))
	}
	if c.DormantAccount.Enabled {
		out = append(out, newDormant(c.DormantAccount))
	}
	return out, nil
}

// ms returns t as Unix milliseconds, the time unit of all state.
func ms(t event.Timestamp) int64 { return t.UnixMilli() }

// tm converts Unix milliseconds back to a UTC time.
func tm(v int64) time.Time { return time.UnixMilli(v).UTC() }

const (
	msMinute = int64(time.Minute / time.Millisecond)
	msHour   = int64(time.Hour / time.Millisecond)
	msDay    = 24 * msHour
)

// floorDiv divides rounding towards minus infinity (times before 1970
// must bucket like the rest).
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// actorFinding returns a Finding about the actor of e, covering e alone.
func actorFinding(rule, title string, sev event.Severity, e *event.AccessEvent) detector.Finding {
	at := e.OccurredAt.UTC()
	f := detector.Finding{
		RuleID: rule, RuleTitle: title, Severity: sev,
		GroupKey: groupKey(e.Org, e.Actor.ID), Org: e.Org, ActorID: e.Actor.ID,
		Start: at, End: at, Count: 1, Categories: e.Categories,
	}
	if e.EventID != "" {
		f.Evidence = []string{e.EventID}
	}
	if e.Subject.ID != "" {
		f.Subjects = []string{e.Subject.ID}
	}
	return f
}

// deviceFinding returns a Finding about the device of e, covering e
// alone. The account is the finding's subject.
func deviceFinding(rule, title string, sev event.Severity, e *event.DeviceEvent) detector.Finding {
	at := e.OccurredAt.UTC()
	f := detector.Finding{
		RuleID: rule, RuleTitle: title, Severity: sev,
		GroupKey: groupKey(e.Org, e.DeviceID), Org: e.Org, DeviceID: e.DeviceID,
		Start: at, End: at, Count: 1, Categories: kindCategories(e.Kind),
	}
	if e.EventID != "" {
		f.Evidence = []string{e.EventID}
	}
	if e.AccountID != "" {
		f.Subjects = []string{e.AccountID}
	}
	return f
}

// groupKey returns "org/id" with "/" and "\\" escaped by "\\", the key
// the Partition gives standalone rules and correlations grouped by actor
// or device, so that a behaviour's alerts group with theirs.
func groupKey(org, id string) string {
	b := make([]byte, 0, len(org)+len(id)+1)
	b = appendEscaped(b, org)
	b = append(b, '/')
	return string(appendEscaped(b, id))
}

func appendEscaped(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '/' || c == '\\' {
			dst = append(dst, '\\')
		}
		dst = append(dst, s[i])
	}
	return dst
}

// kindCategories are the data categories a device step exposes.
func kindCategories(k event.DeviceKind) []event.Category {
	switch k {
	case event.KindRealnameAuth:
		return catsIDBiometric
	case event.KindFaceVerify:
		return catsBiometric
	case event.KindPayment, event.KindBindCard:
		return catsFinancial
	case event.KindPasswordReset, event.KindSIMChange, event.KindChangePhone, event.KindLogin, event.KindRegister:
		return catsAccount
	}
	return nil
}

var (
	catsIDBiometric = []event.Category{event.CategoryIDNumber, event.CategoryBiometric}
	catsBiometric   = []event.Category{event.CategoryBiometric}
	catsFinancial   = []event.Category{event.CategoryFinancial}
	catsAccount     = []event.Category{event.CategoryAccount}
)

// hasCategory reports whether e touches one of the categories in set (a
// bit set over categoryBit).
func hasCategory(cats []event.Category, set uint32) bool {
	for _, c := range cats {
		if set&categoryBit(c) != 0 {
			return true
		}
	}
	return false
}

// categoryBit is the bit of c in a category set; 0 for an unknown one.
func categoryBit(c event.Category) uint32 {
	switch c {
	case event.CategoryIDNumber:
		return 1 << 0
	case event.CategoryBiometric:
		return 1 << 1
	case event.CategoryHealth:
		return 1 << 2
	case event.CategoryPrescription:
		return 1 << 3
	case event.CategoryLocation:
		return 1 << 4
	case event.CategoryContact:
		return 1 << 5
	case event.CategoryDeviceID:
		return 1 << 6
	case event.CategoryChat:
		return 1 << 7
	case event.CategoryFinancial:
		return 1 << 8
	case event.CategoryAccount:
		return 1 << 9
	case event.CategoryMinorData:
		return 1 << 10
	}
	return 0
}

func categorySet(cs []event.Category) uint32 {
	var s uint32
	for _, c := range cs {
		s |= categoryBit(c)
	}
	return s
}

func cmpI64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// plural returns "1 thing" or "n things".
func plural(n int64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// ago says a duration in plain words: "40 seconds", "12 minutes", "3.5
// hours".
func ago(d time.Duration) string {
	switch {
	case d < time.Minute:
		return plural(int64(d/time.Second), "second", "seconds")
	case d < 2*time.Hour:
		return plural(int64(d/time.Minute), "minute", "minutes")
	}
	return fmt.Sprintf("%.1f hours", d.Hours())
}
