package sigma

import (
	"fmt"
	"math"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// Modifiers of Sigma that Vigil knows but does not implement: they are
// reported as unsupported rather than unknown.
var unsupportedModifiers = map[string]string{
	"windash":      "it is for Windows command lines",
	"base64":       "Vigil's fields are not base64-encoded",
	"base64offset": "Vigil's fields are not base64-encoded",
	"utf16le":      "Vigil's fields are UTF-8",
	"utf16be":      "Vigil's fields are UTF-8",
	"utf16":        "Vigil's fields are UTF-8",
	"wide":         "Vigil's fields are UTF-8",
	"expand":       "Vigil has no placeholder pipeline",
}

var timeParts = map[string]timePart{
	"minute": partMinute, "hour": partHour, "day": partDay, "week": partWeek,
	"month": partMonth, "year": partYear, "weekday": partWeekday,
}

var cmpOps = map[string]cmpOp{"gt": cmpGt, "gte": cmpGte, "lt": cmpLt, "lte": cmpLte}

var strOps = map[string]strOp{"contains": strContains, "startswith": strStartswith, "endswith": strEndswith}

// knownModifiers lists every modifier Vigil implements, for suggestions.
var knownModifiers = []string{"contains", "startswith", "endswith", "all", "re", "i", "m", "s", "cidr",
	"exists", "neq", "gt", "gte", "lt", "lte", "fieldref", "cased",
	"minute", "hour", "day", "week", "month", "year", "weekday"}

// mods are the parsed modifiers of one item.
type mods struct {
	names    []string // as written, in order
	str      string   // contains, startswith or endswith
	all      bool
	re       bool
	reFlags  string // of i, m, s
	cidr     bool
	exists   bool
	neq      bool
	fieldref bool
	cased    bool
	cmp      string // gt, gte, lt, lte
	part     string // a time modifier
}

func (c *docCtx) parseMods(k *yaml.Node, key string, list []string) (mods, bool) {
	var m mods
	ok := true
	seen := map[string]bool{}
	for i, name := range list {
		if seen[name] {
			c.add(k, key, "modifier %q given twice", name)
			ok = false
			continue
		}
		seen[name] = true
		m.names = append(m.names, name)
		switch {
		case strOps[name] != 0:
			if m.str != "" {
				c.add(k, key, "%q and %q exclude each other", m.str, name)
				ok = false
			}
			m.str = name
		case cmpOps[name] != 0:
			if m.cmp != "" {
				c.add(k, key, "%q and %q exclude each other: for a range write two selections or two fields entries in a list", m.cmp, name)
				ok = false
			}
			m.cmp = name
		case timeParts[name] != 0:
			if m.part != "" {
				c.add(k, key, "%q and %q exclude each other", m.part, name)
				ok = false
			}
			m.part = name
		case name == "i" || name == "m" || name == "s":
			if !m.re || !slices.Contains([]string{"re", "i", "m", "s"}, list[i-1]) {
				c.add(k, key, "%q is a sub-modifier of re: write re|%s", name, name)
				ok = false
			}
			m.reFlags += name
		case name == "all":
			m.all = true
		case name == "re":
			m.re = true
		case name == "cidr":
			m.cidr = true
		case name == "exists":
			m.exists = true
		case name == "neq":
			m.neq = true
		case name == "fieldref":
			m.fieldref = true
		case name == "cased":
			m.cased = true
		case name == "":
			c.add(k, key, "empty modifier (two \"|\" in a row or a trailing \"|\")")
			ok = false
		default:
			if why, known := unsupportedModifiers[name]; known {
				c.add(k, key, "modifier %q is not supported by Vigil: %s", name, why)
			} else if s := closest(name, knownModifiers); s != "" {
				c.add(k, key, "unknown modifier %q (did you mean %q?)", name, s)
			} else {
				c.add(k, key, "unknown modifier %q", name)
			}
			ok = false
		}
	}
	return m, ok
}

// unknownFieldReason explains why path is not a field of service s.
func unknownFieldReason(s Service, path string) string {
	if key, ok := strings.CutPrefix(path, AttrsPrefix); ok {
		return fmt.Sprintf("attrs key %q is not 1-%d bytes of [A-Za-z0-9._:-]", key, 64)
	}
	msg := fmt.Sprintf("unknown field %q for logsource service %s", path, s)
	if sug := closest(path, fieldPaths(s)); sug != "" {
		return msg + fmt.Sprintf(" (did you mean %q?)", sug)
	}
	other := ServiceDevice
	if s == ServiceDevice {
		other = ServiceAccess
	}
	if lookupField(other, path) != nil {
		return msg + fmt.Sprintf(" (it is a field of service %s)", other)
	}
	return msg + " (see docs/RULES.md for the taxonomy)"
}

// allowedMods lists the modifiers that apply to a field type (exists
// applies to all and is handled first).
func allowedMods(t FieldType) []string {
	switch t {
	case TypeTime:
		return []string{"minute", "hour", "day", "week", "month", "year", "weekday", "gt", "gte", "lt", "lte", "neq", "all"}
	case TypeNumber:
		return []string{"gt", "gte", "lt", "lte", "neq", "all", "fieldref"}
	case TypeBool:
		return []string{"neq", "fieldref"}
	case TypeEnumList:
		return []string{"contains", "startswith", "endswith", "re", "i", "m", "s", "cased", "neq", "all"}
	case TypeIP:
		return []string{"contains", "startswith", "endswith", "re", "i", "m", "s", "cased", "neq", "all", "fieldref", "cidr"}
	}
	return []string{"contains", "startswith", "endswith", "re", "i", "m", "s", "cased", "neq", "all", "fieldref"}
}

// item compiles one "field|modifiers: values" entry.
func (c *docCtx) item(svc Service, k, v *yaml.Node, key string) (item, bool) {
	parts := strings.Split(k.Value, "|")
	if parts[0] == "" {
		c.add(k, key, "keyword searches (values without a field) are not supported: name the field")
		return item{}, false
	}
	f := lookupField(svc, parts[0])
	if f == nil {
		c.add(k, key, "%s", unknownFieldReason(svc, parts[0]))
		return item{}, false
	}
	m, ok := c.parseMods(k, key, parts[1:])
	if !ok {
		return item{}, false
	}
	// The values: one scalar or a list of scalars.
	var vals []*yaml.Node
	switch v.Kind {
	case yaml.SequenceNode:
		if len(v.Content) == 0 {
			c.add(v, key, "no values: an empty list matches nothing")
			return item{}, false
		}
		vals = v.Content
	case yaml.ScalarNode:
		vals = []*yaml.Node{v}
	default:
		c.add(v, key, "want a value or a list of values, got %s", kindName(v))
		return item{}, false
	}
	nulls := 0
	for i, e := range vals {
		if e.Kind != yaml.ScalarNode {
			c.add(e, index(key, i), "want a value, got %s", kindName(e))
			return item{}, false
		}
		if isNull(e) {
			nulls++
		}
	}
	// neq|all is "none of the values": the negation of any value matching.
	it := item{f: f, all: m.all && !m.neq, neg: m.neq}

	if f.Type == TypeBool && (nulls > 0 || m.exists) {
		c.add(k, key, "%s is a boolean and always present (false when not reported): null and exists would match always or never", f.Path)
		return item{}, false
	}
	if m.exists {
		if len(m.names) > 1 {
			c.add(k, key, "exists takes no other modifiers")
			return item{}, false
		}
		b, ok := c.boolValue(vals, key)
		if !ok {
			return item{}, false
		}
		it.kind, it.want = kindExists, b
		return it, true
	}
	if nulls > 0 {
		if len(m.names) > 0 {
			c.add(v, key, "null (the field is absent) takes no modifiers: use exists: false")
			return item{}, false
		}
		if len(vals) == 1 {
			it.kind = kindNull
			return it, true
		}
		it.orNull = true
		vals = slices.DeleteFunc(slices.Clone(vals), isNull)
	}

	// Modifiers that do not apply to the field's type, then combinations.
	allowed := allowedMods(f.Type)
	for _, name := range m.names {
		if !slices.Contains(allowed, name) {
			c.add(k, key, "modifier %q does not apply to %s, a %s field", name, f.Path, f.Type)
			return item{}, false
		}
	}
	switch {
	case m.all && len(vals) < 2:
		c.add(k, key, "all needs at least two values (Sigma forbids it on one)")
		return item{}, false
	case m.neq && len(vals) > 1 && !m.all:
		c.add(k, key, "neq with several values would OR them and match nearly everything: write neq|all for \"none of them\"")
		return item{}, false
	case m.re && (m.str != "" || m.cased):
		c.add(k, key, "re takes no contains, startswith, endswith or cased: write them into the expression (re is case-sensitive; re|i is not)")
		return item{}, false
	case m.cidr && (m.str != "" || m.re || m.cased || m.fieldref):
		c.add(k, key, "cidr takes no string modifiers")
		return item{}, false
	case m.fieldref && m.re:
		c.add(k, key, "fieldref compares with another field's value: re does not apply")
		return item{}, false
	case m.cmp != "" && m.neq:
		c.add(k, key, "%s and neq exclude each other", m.cmp)
		return item{}, false
	case f.Type == TypeTime && m.part == "":
		c.add(k, key, "%s is a time: read a part of it with a time modifier (minute, hour, day, week, month, year, weekday), or use exists", f.Path)
		return item{}, false
	}

	it, ok = c.itemValues(svc, it, m, vals, key)
	if ok && it.all {
		if why := allNeverMatches(&it); why != "" {
			c.add(k, key, "all: %s, so the entry never matches", why)
			return item{}, false
		}
	}
	return it, ok
}

// allNeverMatches explains why requiring every value of an |all entry on
// a single-valued field can never hold, or returns "".
func allNeverMatches(it *item) string {
	switch it.kind {
	case kindString:
		for i, p := range it.pats {
			if p.kind != patExact {
				return ""
			}
			if i > 0 && !equalStr(p.lit, it.pats[0].lit, !p.cased) {
				return fmt.Sprintf("%s cannot equal both %q and %q", it.f.Path, it.pats[0].lit, p.lit)
			}
		}
	case kindNumber, kindTime:
		if it.op != cmpEq {
			return ""
		}
		for _, v := range it.nums[1:] {
			if v != it.nums[0] {
				return fmt.Sprintf("%s cannot equal both %v and %v", it.f.Path, it.nums[0], v)
			}
		}
	case kindCIDR:
		for i, p := range it.prefixes {
			for _, q := range it.prefixes[:i] {
				if !p.Overlaps(q) {
					return fmt.Sprintf("%s cannot be in both %s and %s", it.f.Path, q, p)
				}
			}
		}
	}
	return ""
}

// itemValues reads the values of an item whose modifiers are checked.
func (c *docCtx) itemValues(svc Service, it item, m mods, vals []*yaml.Node, key string) (item, bool) {
	switch {
	case m.fieldref:
		return c.fieldRef(svc, it, m, vals, key)
	case it.f.Type == TypeTime:
		return c.timeItem(it, m, vals, key)
	case it.f.Type == TypeNumber:
		return c.numberItem(it, m, vals, key)
	case it.f.Type == TypeBool:
		it.kind = kindBool
		for _, e := range vals {
			b, ok := c.boolValue([]*yaml.Node{e}, key)
			if !ok {
				return item{}, false
			}
			it.bools = append(it.bools, b)
		}
		return it, true
	case m.cidr:
		return c.cidrItem(it, vals, key)
	}
	return c.stringItem(it, m, vals, key)
}

func (c *docCtx) boolValue(vals []*yaml.Node, key string) (bool, bool) {
	if len(vals) != 1 {
		c.add(vals[1], key, "want one value, true or false")
		return false, false
	}
	e := vals[0]
	if e.Tag == "!!bool" || e.Tag == "!!str" {
		switch strings.ToLower(e.Value) {
		case "true":
			return true, true
		case "false":
			return false, true
		}
	}
	c.add(e, key, "want true or false, got %s", kindName(e))
	return false, false
}

// number reads a numeric value: a YAML int or float, or a string holding
// one.
func (c *docCtx) number(e *yaml.Node, key string) (float64, bool) {
	if e.Tag == "!!int" {
		if i, err := strconv.ParseInt(e.Value, 0, 64); err == nil {
			return float64(i), true
		}
	}
	if e.Tag == "!!int" || e.Tag == "!!float" || e.Tag == "!!str" {
		x, err := strconv.ParseFloat(strings.ReplaceAll(e.Value, "_", ""), 64)
		if err == nil && finite(x) {
			return x, true
		}
	}
	c.add(e, key, "want a number, got %s", kindName(e))
	return 0, false
}

func (c *docCtx) numberItem(it item, m mods, vals []*yaml.Node, key string) (item, bool) {
	it.kind = kindNumber
	it.op = cmpOps[m.cmp]
	lo, hi := it.f.lo, it.f.hi
	for _, e := range vals {
		x, ok := c.number(e, key)
		if !ok {
			return item{}, false
		}
		// A comparison that no present value satisfies never matches.
		var possible bool
		switch it.op {
		case cmpEq:
			possible = lo <= x && x <= hi
		case cmpGt:
			possible = x < hi
		case cmpGte:
			possible = x <= hi
		case cmpLt:
			possible = x > lo
		case cmpLte:
			possible = x >= lo
		}
		if !possible && !m.neq {
			op := m.cmp
			if op == "" {
				op = "equal to"
			}
			c.add(e, key, "no value of %s is %s %s (present values are %s to %s; use exists or null for an absent one)",
				it.f.Path, op, e.Value, formatBound(lo), formatBound(hi))
			return item{}, false
		}
		it.nums = append(it.nums, x)
	}
	return it, true
}

func formatBound(x float64) string {
	if x == minAccuracyM {
		return "above 0"
	}
	return strconv.FormatFloat(x, 'f', -1, 64)
}

func (c *docCtx) timeItem(it item, m mods, vals []*yaml.Node, key string) (item, bool) {
	it.kind = kindTime
	it.part = timeParts[m.part]
	it.op = cmpOps[m.cmp]
	lo, hi := it.part.bounds()
	for _, e := range vals {
		x, ok := c.number(e, key)
		if !ok {
			return item{}, false
		}
		if x != math.Trunc(x) || x < float64(lo) || x > float64(hi) {
			c.add(e, key, "%s is an integer from %d to %d, got %s", m.part, lo, hi, e.Value)
			return item{}, false
		}
		if (it.op == cmpGt && x == float64(hi)) || (it.op == cmpLt && x == float64(lo)) {
			c.add(e, key, "%s|%s: %s can never match (%s is %d to %d)", m.part, m.cmp, e.Value, m.part, lo, hi)
			return item{}, false
		}
		it.nums = append(it.nums, x)
	}
	return it, true
}

func (c *docCtx) cidrItem(it item, vals []*yaml.Node, key string) (item, bool) {
	it.kind = kindCIDR
	for _, e := range vals {
		s, ok := c.text(e, key)
		if !ok {
			return item{}, false
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil || a.Zone() != "" {
				c.add(e, key, "bad CIDR %q: want an address/prefix-length such as 10.0.0.0/8 or fd00::/8", s)
				return item{}, false
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if a := p.Addr(); a.Is4In6() {
			// Event addresses are compared unmapped, so the prefix is too.
			if p.Bits() < 96 {
				c.add(e, key, "bad CIDR %q: an IPv4-mapped prefix needs at least 96 bits", s)
				return item{}, false
			}
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		p = p.Masked()
		it.prefixes = append(it.prefixes, p)
	}
	return it, true
}

func (c *docCtx) stringItem(it item, m mods, vals []*yaml.Node, key string) (item, bool) {
	it.kind = kindString
	if it.f.Type == TypeEnumList {
		it.kind = kindList
	}
	for _, e := range vals {
		s, ok := c.text(e, key)
		if !ok {
			return item{}, false
		}
		var p *strPattern
		if m.re {
			flags := ""
			if m.reFlags != "" {
				flags = "(?" + m.reFlags + ")"
			}
			re, err := regexp.Compile(flags + s)
			if err != nil {
				c.add(e, key, "bad regular expression %q: %s (Go RE2 syntax: no lookaround or backreferences)", s, strings.TrimPrefix(err.Error(), "error parsing regexp: "))
				return item{}, false
			}
			p = &strPattern{kind: patRegexp, re: re, cased: true}
		} else {
			p = compileWildcard(s, m.str == "contains" || m.str == "endswith", m.str == "contains" || m.str == "startswith", m.cased)
		}
		if it.f.Values != nil && !enumHas(it.f.Values, p) {
			c.add(e, key, "%q matches no value of %s (%s)", s, it.f.Path, strings.Join(it.f.Values, "|"))
			return item{}, false
		}
		it.pats = append(it.pats, p)
	}
	return it, true
}

func (c *docCtx) fieldRef(svc Service, it item, m mods, vals []*yaml.Node, key string) (item, bool) {
	it.kind = kindFieldRef
	it.op = cmpOps[m.cmp]
	it.refOp = strOps[m.str]
	it.fold = !m.cased
	for _, e := range vals {
		s, ok := c.text(e, key)
		if !ok {
			return item{}, false
		}
		r := lookupField(svc, s)
		switch {
		case r == nil:
			c.add(e, key, "fieldref: %s", unknownFieldReason(svc, s))
			return item{}, false
		case r.Path == it.f.Path:
			c.add(e, key, "fieldref compares %s with itself", s)
			return item{}, false
		case it.f.Type == TypeNumber && r.Type != TypeNumber,
			it.f.Type == TypeBool && r.Type != TypeBool,
			it.f.Type.stringLike() && (!r.Type.stringLike() || r.Type == TypeEnumList):
			c.add(e, key, "fieldref: %s is a %s field and %s a %s field: they do not compare", it.f.Path, it.f.Type, r.Path, r.Type)
			return item{}, false
		}
		it.refs = append(it.refs, r)
	}
	return it, true
}
