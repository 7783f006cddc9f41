package sigma

import (
	"time"

	"github.com/vigil-audit/vigil/internal/event"
)

// Status is a rule's maturity, as Sigma defines it.
type Status string

// Statuses.
const (
	StatusStable       Status = "stable"
	StatusTest         Status = "test"
	StatusExperimental Status = "experimental"
	StatusDeprecated   Status = "deprecated"  // replaced or covered by another rule; not evaluated by Set.Match
	StatusUnsupported  Status = "unsupported" // cannot be used as it is; not evaluated by Set.Match
)

var statuses = []Status{StatusStable, StatusTest, StatusExperimental, StatusDeprecated, StatusUnsupported}

// Active reports whether rules of this status are evaluated: every status
// except deprecated and unsupported. An absent status is active.
func (s Status) Active() bool { return s != StatusDeprecated && s != StatusUnsupported }

// levels maps Sigma levels to Vigil severities.
var levels = map[string]event.Severity{
	"informational": event.SeverityInfo,
	"low":           event.SeverityLow,
	"medium":        event.SeverityMedium,
	"high":          event.SeverityHigh,
	"critical":      event.SeverityCritical,
}

var levelNames = []string{"informational", "low", "medium", "high", "critical"}

// Meta is what detection and correlation rules share: identity and the
// descriptive Sigma attributes.
type Meta struct {
	// ID is the rule's stable id: a UUID or 1-128 bytes of
	// [A-Za-z0-9._:-]. Alerts carry it as rule_id.
	ID string
	// Name is Sigma's optional human-readable unique name, which
	// correlations may reference instead of the id.
	Name string
	// Title is a short description, shown as the alert's rule_title.
	Title       string
	Description string
	Status      Status
	// Level is the Sigma level as written (informational, low, medium,
	// high, critical); empty when the rule has none.
	Level string
	// Severity is Level as an alert severity (informational is
	// event.SeverityInfo); empty when Level is.
	Severity       event.Severity
	Author         string
	References     []string
	Date           string
	Modified       string
	Tags           []string
	FalsePositives []string
	// File and Line locate the rule's YAML document.
	File string
	Line int
}

// Rule is a compiled detection rule: a condition over named selections of
// one event stream. A Rule is immutable and safe for concurrent use.
type Rule struct {
	Meta
	// Service is the logsource service: which events the rule reads.
	Service Service
	// Condition is the condition as written; several conditions (a YAML
	// list) are joined with " or ".
	Condition string
	// Fields are Sigma's "fields": event fields worth showing with an
	// alert, as field paths of the taxonomy.
	Fields []string
	// Standalone reports whether a match is an alert of its own: true
	// unless every correlation referencing the rule has generate: false
	// (Sigma's default), in which case the rule only feeds them.
	Standalone bool
	// Correlations are the correlations that reference the rule, in load
	// order: a match is an input to each of them.
	Correlations []*Correlation
	// Tests are the rule's test cases (the Vigil "tests" extension).
	Tests []TestCase

	sels     []selection
	selNames []string
	cond     *condNode
	zones    *zones
}

// Match reports whether ev matches the rule. It is false for an event of
// the other service. It does not allocate.
func (r *Rule) Match(ev Event) bool {
	if ev.Service() != r.Service {
		return false
	}
	return r.cond.eval(r.sels, ev, r.zones)
}

// explain returns each selection's result on ev, for test failures.
func (r *Rule) explain(ev Event) []bool {
	out := make([]bool, len(r.sels))
	for i := range r.sels {
		out[i] = r.sels[i].match(ev, r.zones)
	}
	return out
}

// Options configure how rules are compiled and evaluated.
type Options struct {
	// TimeZones gives an org's time zone, in which the time modifiers
	// (hour, day, week, …) read that org's events. Sigma leaves the zone
	// to the implementation; Vigil reads local time of the tenant, so that
	// "hour|gte: 22" means 22:00 at the hospital. Orgs not listed use
	// DefaultTimeZone. Load copies the map.
	TimeZones map[string]*time.Location
	// DefaultTimeZone is the zone of orgs not in TimeZones; nil means UTC.
	DefaultTimeZone *time.Location
}

// zones resolves an org to its time zone.
type zones struct {
	def   *time.Location
	byOrg map[string]*time.Location
}

func newZones(o Options) *zones {
	z := &zones{def: o.DefaultTimeZone}
	if z.def == nil {
		z.def = time.UTC
	}
	if len(o.TimeZones) > 0 {
		z.byOrg = make(map[string]*time.Location, len(o.TimeZones))
		for k, v := range o.TimeZones {
			z.byOrg[k] = v
		}
	}
	return z
}

func (z *zones) of(org string) *time.Location {
	if z.byOrg != nil {
		if l, ok := z.byOrg[org]; ok {
			return l
		}
	}
	return z.def
}

// Set is a loaded, validated rule set: detection rules and correlations
// with their references resolved. It is immutable and safe for concurrent
// use.
type Set struct {
	// Rules are the detection rules in load order (files in lexical
	// order, documents in file order).
	Rules []*Rule
	// Correlations are the correlation rules in load order.
	Correlations []*Correlation

	access, device []*Rule // active rules per service
	byRef          map[string]any
}

// Match appends to dst every active rule that ev matches, in load order,
// and returns the extended slice. With enough capacity in dst it does not
// allocate. A caller raises an alert for each matched rule that is
// Standalone and feeds the match to each of the rule's Correlations.
func (s *Set) Match(ev Event, dst []*Rule) []*Rule {
	var rules []*Rule
	switch {
	case ev.Access != nil:
		rules = s.access
	case ev.Device != nil:
		rules = s.device
	}
	for _, r := range rules {
		if r.cond.eval(r.sels, ev, r.zones) {
			dst = append(dst, r)
		}
	}
	return dst
}

// Rule returns the detection rule with the given id or name, or nil.
func (s *Set) Rule(ref string) *Rule {
	r, _ := s.byRef[ref].(*Rule)
	return r
}

// Correlation returns the correlation rule with the given id or name, or
// nil.
func (s *Set) Correlation(ref string) *Correlation {
	c, _ := s.byRef[ref].(*Correlation)
	return c
}
