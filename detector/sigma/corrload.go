package sigma

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"
)

// corrDraft is a parsed correlation waiting for its references to be
// resolved against every loaded rule.
type corrDraft struct {
	c        *Correlation
	ctx      *docCtx
	root     *yaml.Node
	refs     []ref
	groupBy  []ref
	field    ref // the value field, from condition.field or correlation.field
	aliases  []aliasDraft
	hasCond  bool
	condNode *yaml.Node
	corrNode *yaml.Node
	reported map[string]bool // unknown fields reported, by key, path and service
}

// ref is a name as written with its node.
type ref struct {
	s    string
	node *yaml.Node
}

type aliasDraft struct {
	name   ref
	fields []aliasField
}

type aliasField struct {
	rule, field ref
}

var correlationSectionKeys = []string{"type", "rules", "aliases", "group-by", "timespan", "condition", "field", "generate"}

var timespanPattern = regexp.MustCompile(`^([0-9]+)([a-zA-Z]+)$`)

// parseTimespan reads a Sigma timespan: a positive integer and a unit, s,
// m, h, d or w.
func parseTimespan(s string) (time.Duration, error) {
	m := timespanPattern.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("%q is not a timespan: write a number and a unit, e.g. 30s, 10m, 1h, 1d", s)
	}
	var unit time.Duration
	switch m[2] {
	case "s":
		unit = time.Second
	case "m":
		unit = time.Minute
	case "h":
		unit = time.Hour
	case "d":
		unit = 24 * time.Hour
	case "w":
		unit = 7 * 24 * time.Hour
	case "M", "y":
		return 0, fmt.Errorf("%q: months and years are not supported; the longest timespan is %s", s, formatSpan(MaxTimespan))
	default:
		return 0, fmt.Errorf("%q: unknown unit %q: use s, m, h, d or w", s, m[2])
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil || n > int64(MaxTimespan/unit) {
		return 0, fmt.Errorf("%q is longer than the longest timespan, %s: windows are held in memory", s, formatSpan(MaxTimespan))
	}
	if n == 0 {
		return 0, fmt.Errorf("%q must be greater than zero", s)
	}
	return time.Duration(n) * unit, nil
}

func formatSpan(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	}
	return d.String()
}

// refList reads a string or a list of strings.
func (c *docCtx) refList(n *yaml.Node, key string) []ref {
	if n.Kind == yaml.ScalarNode && !isNull(n) {
		return []ref{{n.Value, n}}
	}
	if n.Kind != yaml.SequenceNode {
		c.add(n, key, "want a string or a list of strings, got %s", kindName(n))
		return nil
	}
	out := make([]ref, 0, len(n.Content))
	for i, e := range n.Content {
		if s, ok := c.text(e, index(key, i)); ok {
			out = append(out, ref{s, e})
		}
	}
	return out
}

// correlation parses a correlation rule document.
func (l *loader) correlation(c *docCtx, root *yaml.Node, entries []kv, get map[string]*yaml.Node) {
	cd := &corrDraft{c: &Correlation{}, ctx: c, root: root}
	cr := cd.c
	for _, e := range entries {
		switch {
		case e.k.Value == "tests":
			c.add(e.k, "tests", "test cases of correlation rules are not supported yet: test the rules it references")
		case !slices.Contains(correlationKeys, e.k.Value) && !customKey(e.k.Value):
			c.unknownKey(e.k, "", correlationKeys)
		}
	}
	c.meta(&cr.Meta, root, get)
	if n := get["id"]; n != nil {
		l.define(c, cr.ID, "id", n, nil, cd)
	}
	if n := get["name"]; n != nil {
		l.define(c, cr.Name, "name", n, nil, cd)
	}
	l.corrs = append(l.corrs, cd)

	corr := get["correlation"]
	cd.corrNode = corr
	sec, ok := c.mapping(corr, "correlation")
	if !ok {
		return
	}
	s := map[string]*yaml.Node{}
	for _, e := range sec {
		s[e.k.Value] = e.v
		if !slices.Contains(correlationSectionKeys, e.k.Value) {
			c.unknownKey(e.k, "correlation", correlationSectionKeys)
		}
	}
	if n := s["type"]; n == nil {
		c.add(corr, "correlation.type", "required: one of %s", joinTypes())
	} else if t, ok := c.text(n, "correlation.type"); ok {
		switch {
		case slices.Contains(correlationTypes, CorrelationType(t)):
			cr.Type = CorrelationType(t)
		case t == "value_avg" || t == "value_percentile" || t == "value_median":
			c.add(n, "correlation.type", "%q is not supported by Vigil: use one of %s", t, joinTypes())
		default:
			c.add(n, "correlation.type", "%q is not one of %s", t, joinTypes())
		}
	}
	if n := s["rules"]; n == nil {
		c.add(corr, "correlation.rules", "required: the ids or names of the rules to correlate")
	} else {
		cd.refs = c.refList(n, "correlation.rules")
		if len(cd.refs) == 0 && (n.Kind == yaml.SequenceNode) {
			c.add(n, "correlation.rules", "no rules")
		}
	}
	if n := s["group-by"]; n != nil {
		cd.groupBy = c.refList(n, "correlation.group-by")
		for _, g := range cd.groupBy {
			cr.GroupBy = append(cr.GroupBy, g.s)
		}
	}
	if n := s["timespan"]; n == nil {
		c.add(corr, "correlation.timespan", "required, e.g. 10m, 1h, 1d")
	} else if t, ok := c.text(n, "correlation.timespan"); ok {
		d, err := parseTimespan(t)
		if err != nil {
			c.add(n, "correlation.timespan", "%s", err.Error())
		}
		cr.Timespan = d
	}
	if n := s["aliases"]; n != nil {
		cd.aliasesOf(n)
	}
	if n := s["field"]; n != nil {
		if t, ok := c.text(n, "correlation.field"); ok {
			cd.field = ref{t, n}
		}
	}
	if n := s["condition"]; n != nil {
		cd.condition(n)
	}
	gen, topGen := s["generate"], get["generate"]
	if gen != nil && topGen != nil {
		c.add(topGen, "generate", "given both here and as correlation.generate: keep one")
	}
	if gen == nil {
		gen = topGen
	}
	if gen != nil {
		b, ok := c.boolValue([]*yaml.Node{gen}, "correlation.generate")
		if ok {
			cr.Generate = b
		}
	}
}

func joinTypes() string {
	s := make([]string, len(correlationTypes))
	for i, t := range correlationTypes {
		s[i] = string(t)
	}
	return strings.Join(s, ", ")
}

func (cd *corrDraft) aliasesOf(n *yaml.Node) {
	c := cd.ctx
	entries, ok := c.mapping(n, "correlation.aliases")
	if !ok {
		return
	}
	for _, e := range entries {
		key := join("correlation.aliases", e.k.Value)
		a := aliasDraft{name: ref{e.k.Value, e.k}}
		fields, ok := c.mapping(e.v, key)
		if !ok {
			continue
		}
		if len(fields) == 0 {
			c.add(e.v, key, "an alias maps each referenced rule to a field: it is empty")
		}
		for _, f := range fields {
			if s, ok := c.text(f.v, join(key, f.k.Value)); ok {
				a.fields = append(a.fields, aliasField{rule: ref{f.k.Value, f.k}, field: ref{s, f.v}})
			}
		}
		cd.aliases = append(cd.aliases, a)
	}
}

// condition reads the threshold of a correlation: a mapping of gt, gte,
// lt, lte, eq, neq and, for the value types, field.
func (cd *corrDraft) condition(n *yaml.Node) {
	c := cd.ctx
	cd.condNode = n
	if n.Kind == yaml.ScalarNode && !isNull(n) {
		c.add(n, "correlation.condition", "extended (boolean) correlation conditions are not supported: write a mapping such as {gte: 5}")
		return
	}
	entries, ok := c.mapping(n, "correlation.condition")
	if !ok {
		return
	}
	cd.hasCond = true
	for _, e := range entries {
		key := join("correlation.condition", e.k.Value)
		if e.k.Value == "field" {
			if t, ok := c.text(e.v, key); ok {
				if cd.field.node != nil && cd.field.s != t {
					c.add(e.v, key, "field is %q here and %q in correlation.field: keep one", t, cd.field.s)
				}
				cd.field = ref{t, e.v}
			}
			continue
		}
		op := ThresholdOp(e.k.Value)
		if !slices.Contains(thresholdOps, op) {
			c.unknownKey(e.k, "correlation.condition", []string{"gt", "gte", "lt", "lte", "eq", "neq", "field"})
			continue
		}
		x, ok := c.number(e.v, key)
		if !ok {
			continue
		}
		if x < 0 {
			c.add(e.v, key, "a count or sum threshold is not negative, got %s", e.v.Value)
			continue
		}
		cd.c.Condition.Bounds = append(cd.c.Condition.Bounds, Bound{Op: op, Value: x})
	}
	if len(cd.c.Condition.Bounds) == 0 && !c.bad {
		c.add(n, "correlation.condition", "no comparison: write one of gt, gte, lt, lte, eq, neq with a number")
	}
}

// resolveCorrelations binds the references of every correlation to the
// loaded rules and checks what needs them.
func (l *loader) resolveCorrelations() {
	byRef := map[string]definition{}
	var refs []string
	for _, d := range l.defs {
		byRef[d.ref] = d
		refs = append(refs, d.ref)
	}
	for _, cd := range l.corrs {
		cd.resolve(byRef, refs)
	}
}

func (cd *corrDraft) resolve(byRef map[string]definition, refs []string) {
	c, cr := cd.ctx, cd.c
	if cd.corrNode == nil || cd.corrNode.Kind != yaml.MappingNode {
		return
	}
	seen := map[*Rule]bool{}
	for i, r := range cd.refs {
		key := index("correlation.rules", i)
		d, ok := byRef[r.s]
		switch {
		case !ok:
			msg := fmt.Sprintf("unknown rule %q", r.s)
			if s := closest(r.s, refs); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			c.add(r.node, key, "%s", msg)
			continue
		case d.corr != nil:
			c.add(r.node, key, "%q is a correlation rule: chained correlations are not supported yet", r.s)
			continue
		case seen[d.rule]:
			c.add(r.node, key, "rule %q is referenced twice", r.s)
			continue
		case !d.rule.Status.Active():
			c.add(r.node, key, "rule %q has status %s and is not evaluated, so this correlation could never match", r.s, d.rule.Status)
		}
		seen[d.rule] = true
		cr.Inputs = append(cr.Inputs, &CorrelationInput{Ref: r.s, Rule: d.rule, Index: len(cr.Inputs)})
	}

	// Aliases: each maps every referenced rule, and only those.
	aliases := map[string]aliasDraft{}
	for _, a := range cd.aliases {
		key := join("correlation.aliases", a.name.s)
		if lookupField(ServiceAccess, a.name.s) != nil || lookupField(ServiceDevice, a.name.s) != nil {
			c.add(a.name.node, key, "alias %q is also a field name: choose another name", a.name.s)
		}
		out := Alias{Name: a.name.s, Fields: map[string]string{}}
		for _, f := range a.fields {
			if !slices.ContainsFunc(cd.refs, func(r ref) bool { return r.s == f.rule.s }) && cd.inputFor(f.rule.s) == nil {
				c.add(f.rule.node, join(key, f.rule.s), "alias maps rule %q, which correlation.rules does not reference", f.rule.s)
			}
			out.Fields[f.rule.s] = f.field.s
		}
		for _, in := range cr.Inputs {
			if _, ok := aliasFieldFor(a, in); !ok {
				c.add(a.name.node, key, "alias %q has no field for rule %q", a.name.s, in.Ref)
			}
		}
		aliases[a.name.s] = a
		cr.Aliases = append(cr.Aliases, out)
	}
	sort.Slice(cr.Aliases, func(i, j int) bool { return cr.Aliases[i].Name < cr.Aliases[j].Name })

	// group-by and the value field, per input.
	for i, g := range cd.groupBy {
		key := index("correlation.group-by", i)
		for _, in := range cr.Inputs {
			f := cd.fieldFor(g, in, aliases, key)
			if f == nil {
				continue
			}
			if f.Type == TypeEnumList || f.Type == TypeTime {
				c.add(g.node, key, "cannot group by %s, a %s field", f.Path, f.Type)
				continue
			}
			in.groupBy = append(in.groupBy, f)
			in.GroupBy = append(in.GroupBy, f.Path)
		}
	}
	switch cr.Type {
	case ValueCount, ValueSum:
		if cd.field.node == nil {
			c.add(cd.condNodeOr(), "correlation.condition.field", "required for %s: the field whose values are %s", cr.Type,
				map[CorrelationType]string{ValueCount: "counted", ValueSum: "summed"}[cr.Type])
			break
		}
		cr.Field = cd.field.s
		for _, in := range cr.Inputs {
			f := cd.fieldFor(cd.field, in, aliases, "correlation.condition.field")
			switch {
			case f == nil:
			case cr.Type == ValueSum && f.Type != TypeNumber:
				c.add(cd.field.node, "correlation.condition.field", "value_sum sums a number field; %s is a %s field", f.Path, f.Type)
			case f.Type == TypeEnumList || f.Type == TypeTime:
				c.add(cd.field.node, "correlation.condition.field", "value_count cannot count %s, a %s field", f.Path, f.Type)
			default:
				in.value = f
				in.Field = f.Path
			}
		}
	case "":
	default:
		if cd.field.node != nil {
			c.add(cd.field.node, "correlation.condition.field", "field applies to value_count and value_sum only, not %s", cr.Type)
		}
	}

	// The threshold.
	switch {
	case cr.Type == "":
	case !cd.hasCond && (cr.Type == Temporal || cr.Type == TemporalOrdered):
		cr.Condition = Threshold{Bounds: []Bound{{Op: OpGte, Value: float64(len(cd.refs))}}}
	case !cd.hasCond:
		if cd.condNode == nil {
			c.add(cd.corrNode, "correlation.condition", "required for %s, e.g. {gte: 10}", cr.Type)
		}
	case len(cr.Condition.Bounds) > 0:
		cd.checkThreshold()
	}
}

func (cd *corrDraft) condNodeOr() *yaml.Node {
	if cd.condNode != nil {
		return cd.condNode
	}
	return cd.corrNode
}

// checkThreshold reports a threshold no aggregate can satisfy.
func (cd *corrDraft) checkThreshold() {
	cr := cd.c
	integral := cr.Type != ValueSum
	for _, b := range cr.Condition.Bounds {
		if integral && b.Value != math.Trunc(b.Value) {
			cd.ctx.add(cd.condNode, "correlation.condition", "%s counts, so %s %v is not a whole number", cr.Type, b.Op, b.Value)
			return
		}
	}
	// Candidates around every bound are enough to find a satisfying value
	// when one exists (bounds are whole numbers for the count types).
	lo, hi := 1.0, math.Inf(1)
	if cr.Type == Temporal || cr.Type == TemporalOrdered {
		hi = float64(len(cd.refs))
	}
	if cr.Type == ValueSum {
		lo = math.Inf(-1)
	}
	ok := false
	cands := []float64{1}
	for _, b := range cr.Condition.Bounds {
		cands = append(cands, b.Value-1, b.Value-0.5, b.Value, b.Value+0.5, b.Value+1)
	}
	if !math.IsInf(hi, 1) {
		cands = append(cands, hi)
	}
	for _, x := range cands {
		if x >= lo && x <= hi && (!integral || x == math.Trunc(x)) && cr.Condition.Holds(x) {
			ok = true
			break
		}
	}
	if !ok || !cr.Condition.satisfiable() {
		what := "no count of events"
		switch cr.Type {
		case ValueCount:
			what = "no count of distinct values"
		case ValueSum:
			what = "no sum"
		case Temporal, TemporalOrdered:
			what = fmt.Sprintf("no number of rules from 1 to %d", len(cd.refs))
		}
		cd.ctx.add(cd.condNode, "correlation.condition", "%s satisfies %s: the correlation could never match", what, cr.Condition)
	}
}

func (cd *corrDraft) inputFor(s string) *CorrelationInput {
	for _, in := range cd.c.Inputs {
		if in.Ref == s || in.Rule.ID == s || (in.Rule.Name != "" && in.Rule.Name == s) {
			return in
		}
	}
	return nil
}

// aliasFieldFor returns the field an alias gives for an input's rule,
// which the alias may name by id or by name.
func aliasFieldFor(a aliasDraft, in *CorrelationInput) (ref, bool) {
	for _, f := range a.fields {
		if f.rule.s == in.Ref || f.rule.s == in.Rule.ID || (in.Rule.Name != "" && f.rule.s == in.Rule.Name) {
			return f.field, true
		}
	}
	return ref{}, false
}

// fieldFor resolves a group-by or value name for one input: an alias of
// the correlation or a field of the input rule's service.
func (cd *corrDraft) fieldFor(name ref, in *CorrelationInput, aliases map[string]aliasDraft, key string) *field {
	c := cd.ctx
	path := name.s
	node := name.node
	if a, ok := aliases[name.s]; ok {
		fr, ok := aliasFieldFor(a, in)
		if !ok {
			return nil // reported with the alias
		}
		path, node = fr.s, fr.node
	}
	if in.Rule.Service == "" {
		return nil
	}
	f := lookupField(in.Rule.Service, path)
	if f == nil {
		// One problem per name and service, not one per rule.
		seen := key + "\x00" + path + "\x00" + string(in.Rule.Service)
		if cd.reported == nil {
			cd.reported = map[string]bool{}
		}
		if !cd.reported[seen] {
			cd.reported[seen] = true
			c.add(node, key, "%s, which rule %q reads", unknownFieldReason(in.Rule.Service, path), in.Ref)
		}
	}
	return f
}
