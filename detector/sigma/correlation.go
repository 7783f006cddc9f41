package sigma

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// CorrelationType is what a correlation rule counts.
type CorrelationType string

// Correlation types: the four of the Sigma correlation specification and
// pySigma's value_sum.
const (
	// EventCount counts the events matching the referenced rules per group
	// and window.
	EventCount CorrelationType = "event_count"
	// ValueCount counts the distinct values of Field per group and window.
	ValueCount CorrelationType = "value_count"
	// ValueSum sums the numeric Field per group and window (pySigma).
	ValueSum CorrelationType = "value_sum"
	// Temporal counts how many of the referenced rules matched, in any
	// order, per group and window.
	Temporal CorrelationType = "temporal"
	// TemporalOrdered is Temporal with the rules matching in the order of
	// Inputs.
	TemporalOrdered CorrelationType = "temporal_ordered"
)

var correlationTypes = []CorrelationType{EventCount, ValueCount, ValueSum, Temporal, TemporalOrdered}

// MaxTimespan is the longest correlation timespan: windows are held in
// memory, and memory must stay bounded.
const MaxTimespan = 31 * 24 * time.Hour

// Correlation is a compiled correlation rule: a threshold over the events
// of detection rules, per group and sliding window. The windowed runtime
// is built on these types: for each match of Inputs[i].Rule it computes
// Inputs[i].AppendGroupKey and, for the value types, AppendValue or
// Number, and tests the window's aggregate with Condition.Holds. A
// Correlation is immutable and safe for concurrent use.
type Correlation struct {
	Meta
	Type CorrelationType
	// Inputs are the referenced rules, in the order of correlation.rules
	// (the order that TemporalOrdered requires).
	Inputs []*CorrelationInput
	// GroupBy are the group-by names as written: field paths or alias
	// names. The group of an event is always its org plus these fields
	// (see AppendGroupKey); none groups by org alone.
	GroupBy []string
	// Timespan is the window length.
	Timespan time.Duration
	// Condition is the threshold on the window's aggregate: the event
	// count, the distinct value count, the sum, or the number of distinct
	// rules that matched (temporal types). For temporal types without a
	// condition it is "gte len(Inputs)": all rules.
	Condition Threshold
	// Field is the field or alias whose values are counted (ValueCount)
	// or summed (ValueSum), as written; empty for the other types.
	Field string
	// Generate is Sigma's generate: when true, the referenced rules also
	// raise alerts of their own.
	Generate bool
	// Aliases are the field name aliases, sorted by name.
	Aliases []Alias
}

// Alias is a correlation's field name alias: one name for fields that
// differ between the referenced rules.
type Alias struct {
	Name string
	// Fields maps a rule reference (id or name, as written) to the field
	// path the alias stands for in that rule's events.
	Fields map[string]string
}

// CorrelationInput is one rule referenced by a correlation, with the
// group-by and value fields resolved for that rule's events.
type CorrelationInput struct {
	// Ref is the reference as written: an id or a name.
	Ref string
	// Rule is the referenced detection rule.
	Rule *Rule
	// Index is the position in the correlation's rules.
	Index int
	// GroupBy are the field paths of the correlation's group-by for this
	// rule's events, aliases resolved.
	GroupBy []string
	// Field is the field path counted or summed for this rule's events,
	// alias resolved; empty for the count and temporal types.
	Field string

	groupBy []*field
	value   *field
}

// AppendGroupKey appends the group key of ev to dst: the org followed by
// the value of each group-by field, separated by "/", with "/" and "\" in
// values escaped by "\". An absent value is empty. Two events are in one
// group exactly when their keys are equal. It does not allocate when dst
// has room.
func (in *CorrelationInput) AppendGroupKey(dst []byte, ev Event) []byte {
	dst = appendEscaped(dst, ev.Org())
	for _, f := range in.groupBy {
		dst = append(dst, '/')
		dst = appendFieldText(dst, f, ev, true)
	}
	return dst
}

// AppendValue appends the text of the value_count field of ev to dst and
// reports whether the event has a value (absent values are not counted).
// For other types it returns dst and false.
func (in *CorrelationInput) AppendValue(dst []byte, ev Event) ([]byte, bool) {
	if in.value == nil || !in.value.present(ev) {
		return dst, false
	}
	return appendFieldText(dst, in.value, ev, false), true
}

// Number returns the value_sum field of ev and whether the event has one
// (an absent value adds nothing). For other types it returns 0 and false.
func (in *CorrelationInput) Number(ev Event) (float64, bool) {
	if in.value == nil || in.value.Type != TypeNumber || !in.value.present(ev) {
		return 0, false
	}
	return in.value.num(ev), true
}

func appendFieldText(dst []byte, f *field, ev Event, escape bool) []byte {
	switch f.Type {
	case TypeBool:
		return strconv.AppendBool(dst, f.boolean(ev))
	case TypeNumber:
		if !f.present(ev) {
			return dst
		}
		return strconv.AppendFloat(dst, f.num(ev), 'f', -1, 64)
	}
	if escape {
		return appendEscaped(dst, f.str(ev))
	}
	return append(dst, f.str(ev)...)
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

// ThresholdOp compares an aggregate with a bound.
type ThresholdOp string

// Threshold operators.
const (
	OpGt  ThresholdOp = "gt"
	OpGte ThresholdOp = "gte"
	OpLt  ThresholdOp = "lt"
	OpLte ThresholdOp = "lte"
	OpEq  ThresholdOp = "eq"
	OpNeq ThresholdOp = "neq" // pySigma
)

var thresholdOps = []ThresholdOp{OpGt, OpGte, OpLt, OpLte, OpEq, OpNeq}

// Bound is one comparison of a threshold.
type Bound struct {
	Op    ThresholdOp
	Value float64
}

// Holds reports whether x satisfies the bound.
func (b Bound) Holds(x float64) bool {
	switch b.Op {
	case OpGt:
		return x > b.Value
	case OpGte:
		return x >= b.Value
	case OpLt:
		return x < b.Value
	case OpLte:
		return x <= b.Value
	case OpEq:
		return x == b.Value
	case OpNeq:
		return x != b.Value
	}
	return false
}

// Threshold is a correlation condition: every bound must hold (Sigma's
// "gt: 100, lte: 200" is a range).
type Threshold struct {
	Bounds []Bound
}

// Holds reports whether x satisfies every bound.
func (t Threshold) Holds(x float64) bool {
	for _, b := range t.Bounds {
		if !b.Holds(x) {
			return false
		}
	}
	return len(t.Bounds) > 0
}

// String returns the threshold as "gte 5" or "gt 100 and lte 200".
func (t Threshold) String() string {
	parts := make([]string, len(t.Bounds))
	for i, b := range t.Bounds {
		parts[i] = string(b.Op) + " " + strconv.FormatFloat(b.Value, 'f', -1, 64)
	}
	return strings.Join(parts, " and ")
}

// satisfiable reports whether some number satisfies every bound.
func (t Threshold) satisfiable() bool {
	lo, hi := math.Inf(-1), math.Inf(1)
	loOpen, hiOpen := false, false
	lower := func(v float64, open bool) {
		if v > lo {
			lo, loOpen = v, open
		} else if v == lo && open {
			loOpen = true
		}
	}
	upper := func(v float64, open bool) {
		if v < hi {
			hi, hiOpen = v, open
		} else if v == hi && open {
			hiOpen = true
		}
	}
	var neq []float64
	for _, b := range t.Bounds {
		switch b.Op {
		case OpGt, OpGte:
			lower(b.Value, b.Op == OpGt)
		case OpLt, OpLte:
			upper(b.Value, b.Op == OpLt)
		case OpEq:
			lower(b.Value, false)
			upper(b.Value, false)
		case OpNeq:
			neq = append(neq, b.Value)
		}
	}
	if lo > hi || (lo == hi && (loOpen || hiOpen)) {
		return false
	}
	return lo != hi || !slices.Contains(neq, lo)
}
