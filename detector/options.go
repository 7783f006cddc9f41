package detector

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"
)

// Defaults of Options, applied where a field is zero.
const (
	// DefaultLateness is how far behind the newest event time an event may
	// be and still count as on time.
	DefaultLateness = time.Minute
	// DefaultSuppression is how long after an alert's window start later
	// findings of the same rule and group fold into it.
	DefaultSuppression = time.Hour
	// DefaultMaxGroups bounds the groups one correlation tracks.
	DefaultMaxGroups = 100_000
	// DefaultMaxWindowEvents bounds the events one group's window holds.
	DefaultMaxWindowEvents = 4096
	// DefaultMaxAlerts bounds the alerts a Partition keeps.
	DefaultMaxAlerts = 100_000
	// DefaultMaxAlertSubjects bounds the subjects an alert counts exactly.
	DefaultMaxAlertSubjects = 1024
	// DefaultMaxPendingDispositions bounds the dispositions kept for
	// alerts not (yet) in state.
	DefaultMaxPendingDispositions = 4096
)

// Options configure a Partition. The zero value is valid: every zero field
// takes its default. Org time zones are not here: they are compiled into
// the rule set (sigma.Options). A Partition has no clock; every time below
// is event time.
type Options struct {
	// Lateness is how far an event's occurred_at may lie behind the newest
	// occurred_at seen and still be on time: the watermark is the newest
	// occurred_at minus Lateness. Zero means DefaultLateness; a negative
	// value means no lateness at all (the watermark is the newest time).
	Lateness time.Duration `yaml:"lateness"`
	// DefaultSuppression is the suppression window of rules not listed in
	// Suppression: findings of one rule and group whose start lies within
	// this long of an alert's window start fold into that alert. Zero means
	// DefaultSuppression.
	DefaultSuppression time.Duration `yaml:"default_suppression"`
	// Suppression sets the suppression window per rule id (detection rule,
	// correlation or behaviour). Absent rules use DefaultSuppression.
	Suppression map[string]time.Duration `yaml:"suppression"`
	// MaxGroups bounds the groups (group keys) one correlation keeps; when
	// a new group would exceed it, the least recently updated group is
	// dropped and counted in Stats.GroupEvictions. Zero means
	// DefaultMaxGroups.
	MaxGroups int `yaml:"max_groups"`
	// MaxWindowEvents bounds the events one group of one correlation
	// keeps; past it the oldest is dropped and counted in
	// Stats.WindowEvictions. Count thresholds (event_count, value_count,
	// temporal) must be reachable within it. Zero means
	// DefaultMaxWindowEvents.
	MaxWindowEvents int `yaml:"max_window_events"`
	// MaxAlerts bounds the alerts kept in state; past it the least
	// recently updated alert is forgotten and counted in
	// Stats.AlertEvictions. Zero means DefaultMaxAlerts.
	MaxAlerts int `yaml:"max_alerts"`
	// MaxAlertSubjects bounds the distinct subjects an alert counts
	// exactly; past it every subject not in the kept set counts as new.
	// Zero means DefaultMaxAlertSubjects.
	MaxAlertSubjects int `yaml:"max_alert_subjects"`
	// MaxPendingDispositions bounds the dispositions of alerts not in
	// state that are kept until the alert appears. Zero means
	// DefaultMaxPendingDispositions.
	MaxPendingDispositions int `yaml:"max_pending_dispositions"`
	// Exceptions are findings that must not become alerts.
	Exceptions []Exception `yaml:"exceptions"`
}

// Exception keeps matching findings from becoming alerts: known, accepted
// activity (an auditor who reads many records, a test account). A finding
// matches when its rule id matches Rule and every criterion that is set
// holds; the lists are alternatives (any value). Suppressed findings are
// counted in Stats.Suppressed and reported by DrainSuppressed so that the
// runner logs them. Every exception expires: findings whose end (in event
// time) is at or after Expires are not suppressed, so an expired exception
// is ignored.
type Exception struct {
	// Rule is the rule id, or a pattern of ids in path.Match syntax
	// ("vigil-corr-*"). Required.
	Rule string `yaml:"rule"`
	// Orgs are tenants; empty means any.
	Orgs []string `yaml:"orgs,omitempty"`
	// Actors are actor ids (access) or account tokens (device) as the
	// finding's actor; empty means any.
	Actors []string `yaml:"actors,omitempty"`
	// Devices are device tokens as the finding's device; empty means any.
	Devices []string `yaml:"devices,omitempty"`
	// Roles are actor.role values of the event that triggered the
	// finding; empty means any. A finding without a triggering event
	// (a window closed by the watermark) never matches a role or field.
	Roles []string `yaml:"roles,omitempty"`
	// Fields maps a field path of the triggering event (see
	// ExceptionFields) to accepted values, compared exactly; every listed
	// field must hold one of its values.
	Fields map[string][]string `yaml:"fields,omitempty"`
	// Reason says why the activity is accepted. Required.
	Reason string `yaml:"reason"`
	// Author is who accepted it. Required.
	Author string `yaml:"author"`
	// Expires is when the exception stops applying, compared with the
	// findings' event time. Required: an exception without an end is a
	// permanent hole in monitoring.
	Expires time.Time `yaml:"expires"`
}

// ExceptionFields lists the field paths an Exception's Fields may name;
// "attrs.<key>" reads an attrs entry. Fields of the other event stream do
// not match.
func ExceptionFields() []string {
	var out []string
	for k := range accessFields {
		out = append(out, k)
	}
	for k := range deviceFields {
		if _, ok := accessFields[k]; !ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return append(out, "attrs.<key>")
}

// Validate checks o and names the YAML key of every problem.
func (o *Options) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if o.DefaultSuppression < 0 {
		bad("default_suppression", "must not be negative, got %v", o.DefaultSuppression)
	}
	for _, id := range sortedKeys(o.Suppression) {
		if d := o.Suppression[id]; d <= 0 {
			bad("suppression."+id, "must be positive, got %v", d)
		}
	}
	for key, v := range map[string]int{"max_groups": o.MaxGroups, "max_window_events": o.MaxWindowEvents,
		"max_alerts": o.MaxAlerts, "max_alert_subjects": o.MaxAlertSubjects,
		"max_pending_dispositions": o.MaxPendingDispositions} {
		if v < 0 {
			bad(key, "must not be negative, got %d", v)
		}
	}
	for i, e := range o.Exceptions {
		key := fmt.Sprintf("exceptions[%d]", i)
		if e.Rule == "" {
			bad(key+".rule", "required")
		} else if _, err := path.Match(e.Rule, ""); err != nil {
			bad(key+".rule", "bad pattern %q: %v", e.Rule, err)
		}
		if strings.TrimSpace(e.Reason) == "" {
			bad(key+".reason", "required: say why the activity is accepted")
		}
		if strings.TrimSpace(e.Author) == "" {
			bad(key+".author", "required")
		}
		if e.Expires.IsZero() {
			bad(key+".expires", "required: every exception must end")
		}
		for _, f := range sortedKeys(e.Fields) {
			if !knownExceptionField(f) {
				bad(key+".fields."+f, "unknown field (known: %s)", strings.Join(ExceptionFields(), ", "))
			}
			if len(e.Fields[f]) == 0 {
				bad(key+".fields."+f, "empty list matches nothing")
			}
		}
	}
	// Validation reads the map in sorted order above, except for the
	// limits map: sort for a stable message.
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errors.Join(errs...)
}

// ExpiredExceptions returns the exceptions that expire at or before now,
// so that the runner can warn about them at start and after a reload:
// they no longer suppress anything.
func (o *Options) ExpiredExceptions(now time.Time) []Exception {
	var out []Exception
	for _, e := range o.Exceptions {
		if !e.Expires.IsZero() && !now.Before(e.Expires) {
			out = append(out, e)
		}
	}
	return out
}

// withDefaults returns o with every zero field set to its default.
func (o Options) withDefaults() Options {
	if o.Lateness == 0 {
		o.Lateness = DefaultLateness
	} else if o.Lateness < 0 {
		o.Lateness = 0
	}
	if o.DefaultSuppression == 0 {
		o.DefaultSuppression = DefaultSuppression
	}
	if o.MaxGroups == 0 {
		o.MaxGroups = DefaultMaxGroups
	}
	if o.MaxWindowEvents == 0 {
		o.MaxWindowEvents = DefaultMaxWindowEvents
	}
	if o.MaxAlerts == 0 {
		o.MaxAlerts = DefaultMaxAlerts
	}
	if o.MaxAlertSubjects == 0 {
		o.MaxAlertSubjects = DefaultMaxAlertSubjects
	}
	if o.MaxPendingDispositions == 0 {
		o.MaxPendingDispositions = DefaultMaxPendingDispositions
	}
	return o
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
