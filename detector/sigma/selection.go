package sigma

import (
	"math"
	"net/netip"
	"time"
)

// selection is a named search identifier of a rule's detection: the OR of
// its alternatives, each the AND of its items. A map is one alternative; a
// list of maps is one alternative per map.
type selection struct {
	name string
	alts [][]item
}

func (s *selection) match(ev Event, z *zones) bool {
	for _, alt := range s.alts {
		ok := true
		for i := range alt {
			if !alt[i].match(ev, z) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// itemKind is how an item compares the field with its values.
type itemKind uint8

const (
	kindString   itemKind = iota + 1 // string, enum, ip: patterns
	kindList                         // enum list: patterns against the elements
	kindNumber                       // number: comparisons
	kindBool                         // bool: equality
	kindTime                         // time: a part of the local time, compared
	kindCIDR                         // ip: network prefixes
	kindExists                       // presence of the field
	kindNull                         // field: null, the field is absent
	kindFieldRef                     // comparison with another field of the event
)

// cmpOp compares a number with a value.
type cmpOp uint8

const (
	cmpEq cmpOp = iota
	cmpGt
	cmpGte
	cmpLt
	cmpLte
)

func (op cmpOp) apply(x, v float64) bool {
	switch op {
	case cmpGt:
		return x > v
	case cmpGte:
		return x >= v
	case cmpLt:
		return x < v
	case cmpLte:
		return x <= v
	}
	return x == v
}

// strOp is the string modifier of a fieldref item.
type strOp uint8

const (
	strEq strOp = iota
	strContains
	strStartswith
	strEndswith
)

// timePart is the part of a local time that a time modifier reads.
type timePart uint8

const (
	partMinute  timePart = iota + 1 // 0-59
	partHour                        // 0-23
	partDay                         // day of the month, 1-31
	partWeek                        // ISO 8601 week of the year, 1-53
	partMonth                       // 1-12
	partYear                        // e.g. 2026
	partWeekday                     // ISO 8601 day of the week, 1 (Monday) to 7 (Sunday)
)

func (p timePart) of(t time.Time) int {
	switch p {
	case partMinute:
		return t.Minute()
	case partHour:
		return t.Hour()
	case partDay:
		return t.Day()
	case partWeek:
		_, w := t.ISOWeek()
		return w
	case partMonth:
		return int(t.Month())
	case partYear:
		return t.Year()
	case partWeekday:
		if wd := t.Weekday(); wd != time.Sunday {
			return int(wd)
		}
		return 7
	}
	return -1
}

// bounds returns the values a part can take.
func (p timePart) bounds() (lo, hi int) {
	switch p {
	case partMinute:
		return 0, 59
	case partHour:
		return 0, 23
	case partDay:
		return 1, 31
	case partWeek:
		return 1, 53
	case partMonth:
		return 1, 12
	case partYear:
		return 1970, 2099
	case partWeekday:
		return 1, 7
	}
	return 0, 0
}

// item is one "field|modifiers: values" entry of a selection, compiled.
type item struct {
	f    *field
	kind itemKind
	// all requires every value to match instead of any (|all).
	all bool
	// neg negates the result (|neq).
	neg bool
	// orNull: a null among the values, so an absent field matches too.
	orNull bool
	// want is the value of |exists.
	want bool

	pats     []*strPattern  // kindString, kindList
	nums     []float64      // kindNumber, kindTime
	op       cmpOp          // kindNumber, kindTime, kindFieldRef on numbers
	bools    []bool         // kindBool
	part     timePart       // kindTime
	prefixes []netip.Prefix // kindCIDR
	refs     []*field       // kindFieldRef
	refOp    strOp          // kindFieldRef on strings
	fold     bool           // kindFieldRef on strings: compare case-insensitively
}

func (it *item) match(ev Event, z *zones) bool {
	return it.raw(ev, z) != it.neg
}

func (it *item) raw(ev Event, z *zones) bool {
	switch it.kind {
	case kindString:
		if it.orNull && !it.f.present(ev) {
			return true
		}
		s := it.f.str(ev)
		if it.all {
			for _, p := range it.pats {
				if !p.match(s) {
					return false
				}
			}
			return true
		}
		for _, p := range it.pats {
			if p.match(s) {
				return true
			}
		}
		return false
	case kindList:
		l := it.f.list(ev)
		if it.orNull && len(l) == 0 {
			return true
		}
		if it.all {
			for _, p := range it.pats {
				found := false
				for _, e := range l {
					if p.match(string(e)) {
						found = true
						break
					}
				}
				if !found {
					return false
				}
			}
			return true
		}
		for _, p := range it.pats {
			for _, e := range l {
				if p.match(string(e)) {
					return true
				}
			}
		}
		return false
	case kindNumber:
		if !it.f.present(ev) {
			return it.orNull
		}
		return it.compare(it.f.num(ev))
	case kindTime:
		t := it.f.when(ev)
		if t.IsZero() {
			return false
		}
		return it.compare(float64(it.part.of(t.In(z.of(ev.Org())))))
	case kindBool:
		b := it.f.boolean(ev)
		for _, v := range it.bools {
			if b == v {
				return true
			}
		}
		return false
	case kindCIDR:
		s := it.f.str(ev)
		if s == "" {
			return false
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return false
		}
		a = a.Unmap()
		if it.all {
			for _, p := range it.prefixes {
				if !p.Contains(a) {
					return false
				}
			}
			return true
		}
		for _, p := range it.prefixes {
			if p.Contains(a) {
				return true
			}
		}
		return false
	case kindExists:
		return it.f.present(ev) == it.want
	case kindNull:
		return !it.f.present(ev)
	case kindFieldRef:
		if it.all {
			for _, r := range it.refs {
				if !it.refMatch(ev, r) {
					return false
				}
			}
			return true
		}
		for _, r := range it.refs {
			if it.refMatch(ev, r) {
				return true
			}
		}
		return false
	}
	return false
}

func (it *item) compare(x float64) bool {
	if it.all {
		for _, v := range it.nums {
			if !it.op.apply(x, v) {
				return false
			}
		}
		return true
	}
	for _, v := range it.nums {
		if it.op.apply(x, v) {
			return true
		}
	}
	return false
}

func (it *item) refMatch(ev Event, r *field) bool {
	switch it.f.Type {
	case TypeNumber:
		if !it.f.present(ev) || !r.present(ev) {
			return false
		}
		return it.op.apply(it.f.num(ev), r.num(ev))
	case TypeBool:
		return it.f.boolean(ev) == r.boolean(ev)
	}
	a, b := it.f.str(ev), r.str(ev)
	if a == "" || b == "" {
		return false
	}
	switch it.refOp {
	case strContains:
		return containsStr(a, b, it.fold)
	case strStartswith:
		return hasPrefixStr(a, b, it.fold)
	case strEndswith:
		return hasSuffixStr(a, b, it.fold)
	}
	return equalStr(a, b, it.fold)
}

// finite reports whether x is a usable number in a rule.
func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
