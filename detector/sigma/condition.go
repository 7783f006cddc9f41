package sigma

import (
	"fmt"
	"strconv"
	"strings"
)

// The condition grammar (Sigma's, in lower case):
//
//	condition  = or EOF
//	or         = and { "or" and }
//	and        = not { "and" not }
//	not        = "not" not | primary
//	primary    = "(" or ")" | quantifier | name
//	quantifier = ( "1" | "all" ) "of" ( pattern | "them" )
//	name       = [A-Za-z_][A-Za-z0-9_-]*
//	pattern    = a name in which "*" matches any run of characters
//
// "not" binds tighter than "and", which binds tighter than "or". "them"
// stands for every selection whose name does not start with "_".

// MaxConditionLen is the longest condition text accepted, in bytes.
const MaxConditionLen = 4096

// maxConditionDepth bounds the nesting of parentheses and "not", so that
// parsing and evaluation recurse a bounded number of times.
const maxConditionDepth = 64

type condOp uint8

const (
	opSel   condOp = iota + 1 // a selection by name
	opAnd                     // every kid
	opOr                      // any kid
	opNot                     // not the one kid
	opOneOf                   // "1 of pattern": any selection matching name
	opAllOf                   // "all of pattern": every selection matching name
)

// condNode is a node of a parsed condition.
type condNode struct {
	op condOp
	// name is the selection name of opSel and the pattern ("them"
	// included) of opOneOf and opAllOf.
	name string
	// pos is the byte offset of the node's first token in the condition.
	pos  int
	kids []*condNode
	// sels are the indexes of the selections the node reads, set by
	// resolve: one for opSel, every match of the pattern for the
	// quantifiers.
	sels []int
}

// condError is a syntax error in a condition at byte offset Pos.
type condError struct {
	Pos int
	Msg string
}

func (e *condError) Error() string { return fmt.Sprintf("offset %d: %s", e.Pos, e.Msg) }

type condToken struct {
	text string
	pos  int
}

// parseCondition parses a condition. Errors are *condError.
func parseCondition(src string) (*condNode, error) {
	if len(src) > MaxConditionLen {
		return nil, &condError{Pos: MaxConditionLen, Msg: fmt.Sprintf("condition is longer than %d bytes", MaxConditionLen)}
	}
	toks, err := tokenize(src)
	if err != nil {
		return nil, err
	}
	p := &condParser{toks: toks, end: len(src)}
	if len(toks) == 0 {
		return nil, &condError{Pos: 0, Msg: "empty condition"}
	}
	n, err := p.or(0)
	if err != nil {
		return nil, err
	}
	if p.i < len(p.toks) {
		t := p.toks[p.i]
		if t.text == ")" {
			return nil, &condError{Pos: t.pos, Msg: `")" without a matching "("`}
		}
		if l := strings.ToLower(t.text); l != t.text && (l == "and" || l == "or") {
			return nil, &condError{Pos: t.pos, Msg: fmt.Sprintf("keywords are lower case: write %q, not %q", l, t.text)}
		}
		return nil, &condError{Pos: t.pos, Msg: fmt.Sprintf("expected \"and\", \"or\" or the end, got %s", quoteTok(t.text))}
	}
	return n, nil
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '*'
}

func tokenize(src string) ([]condToken, error) {
	var toks []condToken
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(' || c == ')':
			toks = append(toks, condToken{text: src[i : i+1], pos: i})
			i++
		case c == '|':
			return nil, &condError{Pos: i, Msg: `aggregations ("| count() …") are Sigma 1 syntax and not supported: write a correlation rule`}
		case isWordByte(c):
			j := i
			for j < len(src) && isWordByte(src[j]) {
				j++
			}
			toks = append(toks, condToken{text: src[i:j], pos: i})
			i = j
		default:
			return nil, &condError{Pos: i, Msg: fmt.Sprintf("unexpected character %q", rune(src[i]))}
		}
	}
	return toks, nil
}

var keywords = []string{"and", "or", "not", "of", "them", "all"}

func isKeyword(s string) bool {
	for _, k := range keywords {
		if s == k {
			return true
		}
	}
	return false
}

func quoteTok(s string) string {
	if s == "" {
		return "the end"
	}
	return strconv.Quote(s)
}

type condParser struct {
	toks []condToken
	i    int
	end  int
}

func (p *condParser) peek() string {
	if p.i < len(p.toks) {
		return p.toks[p.i].text
	}
	return ""
}

func (p *condParser) pos() int {
	if p.i < len(p.toks) {
		return p.toks[p.i].pos
	}
	return p.end
}

func (p *condParser) or(depth int) (*condNode, error) {
	first, err := p.and(depth)
	if err != nil {
		return nil, err
	}
	if p.peek() != "or" {
		return first, nil
	}
	n := &condNode{op: opOr, pos: first.pos, kids: []*condNode{first}}
	for p.peek() == "or" {
		p.i++
		k, err := p.and(depth)
		if err != nil {
			return nil, err
		}
		n.kids = append(n.kids, k)
	}
	return n, nil
}

func (p *condParser) and(depth int) (*condNode, error) {
	first, err := p.not(depth)
	if err != nil {
		return nil, err
	}
	if p.peek() != "and" {
		return first, nil
	}
	n := &condNode{op: opAnd, pos: first.pos, kids: []*condNode{first}}
	for p.peek() == "and" {
		p.i++
		k, err := p.not(depth)
		if err != nil {
			return nil, err
		}
		n.kids = append(n.kids, k)
	}
	return n, nil
}

func (p *condParser) not(depth int) (*condNode, error) {
	if depth >= maxConditionDepth {
		return nil, &condError{Pos: p.pos(), Msg: fmt.Sprintf("condition nests deeper than %d levels", maxConditionDepth)}
	}
	if t := p.peek(); t != "not" && strings.ToLower(t) == "not" {
		return nil, &condError{Pos: p.pos(), Msg: fmt.Sprintf("keywords are lower case: write \"not\", not %q", t)}
	}
	if p.peek() == "not" {
		pos := p.pos()
		p.i++
		k, err := p.not(depth + 1)
		if err != nil {
			return nil, err
		}
		return &condNode{op: opNot, pos: pos, kids: []*condNode{k}}, nil
	}
	return p.primary(depth)
}

func (p *condParser) primary(depth int) (*condNode, error) {
	pos := p.pos()
	t := p.peek()
	switch {
	case t == "":
		return nil, &condError{Pos: pos, Msg: "expected a selection name, \"(\", \"not\", \"1 of\" or \"all of\", got the end"}
	case t == "(":
		p.i++
		n, err := p.or(depth + 1)
		if err != nil {
			return nil, err
		}
		if p.peek() != ")" {
			return nil, &condError{Pos: p.pos(), Msg: fmt.Sprintf("expected \")\" to close the \"(\" at offset %d, got %s", pos, quoteTok(p.peek()))}
		}
		p.i++
		return n, nil
	case t == "1" || t == "all":
		p.i++
		if p.peek() != "of" {
			return nil, &condError{Pos: p.pos(), Msg: fmt.Sprintf("expected \"of\" after %q, got %s", t, quoteTok(p.peek()))}
		}
		p.i++
		target := p.peek()
		tpos := p.pos()
		if target != "them" {
			if err := checkName(target, tpos, true); err != nil {
				return nil, err
			}
		}
		p.i++
		op := opOneOf
		if t == "all" {
			op = opAllOf
		}
		return &condNode{op: op, name: target, pos: pos}, nil
	case t == ")":
		return nil, &condError{Pos: pos, Msg: "expected a selection name, \"(\", \"not\", \"1 of\" or \"all of\", got \")\""}
	}
	if err := checkName(t, pos, false); err != nil {
		return nil, err
	}
	p.i++
	return &condNode{op: opSel, name: t, pos: pos}, nil
}

// checkName checks a selection name (or, with pattern, a pattern of names)
// in a condition.
func checkName(t string, pos int, pattern bool) error {
	switch {
	case t == "":
		return &condError{Pos: pos, Msg: "expected a selection name or pattern, got the end"}
	case t == "(" || t == ")":
		return &condError{Pos: pos, Msg: fmt.Sprintf("expected a selection name or pattern, got %q", t)}
	case isKeyword(t):
		return &condError{Pos: pos, Msg: fmt.Sprintf("expected a selection name, got the keyword %q", t)}
	case isKeyword(strings.ToLower(t)):
		return &condError{Pos: pos, Msg: fmt.Sprintf("keywords are lower case: write %q, not %q", strings.ToLower(t), t)}
	case !pattern && strings.Contains(t, "*"):
		return &condError{Pos: pos, Msg: fmt.Sprintf("wildcard in %q: patterns need \"1 of\" or \"all of\"", t)}
	}
	c := t[0]
	if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || (pattern && c == '*')) {
		return &condError{Pos: pos, Msg: fmt.Sprintf("%q is not a selection name: names start with a letter or \"_\"", t)}
	}
	return nil
}

// validSelectionName reports whether a detection key can be named in a
// condition.
func validSelectionName(s string) bool {
	if s == "" || isKeyword(s) || s == "1" {
		return false
	}
	c := s[0]
	if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_') {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isWordByte(s[i]) || s[i] == '*' {
			return false
		}
	}
	return true
}

// resolve binds the names of the condition to the indexes of names. It
// returns one error per unknown name or pattern without a match, each with
// its position, and marks every selection read in used.
func (n *condNode) resolve(names []string, used []bool) []*condError {
	var errs []*condError
	switch n.op {
	case opSel:
		for i, s := range names {
			if s == n.name {
				n.sels = []int{i}
				used[i] = true
				return nil
			}
		}
		msg := fmt.Sprintf("unknown selection %q", n.name)
		if s := closest(n.name, names); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		}
		return []*condError{{Pos: n.pos, Msg: msg}}
	case opOneOf, opAllOf:
		n.sels = nil
		var pat *strPattern
		if n.name != "them" {
			pat = compileWildcard(n.name, false, false, true)
		}
		for i, s := range names {
			if (pat == nil && !strings.HasPrefix(s, "_")) || (pat != nil && pat.match(s)) {
				n.sels = append(n.sels, i)
				used[i] = true
			}
		}
		if len(n.sels) == 0 {
			what := fmt.Sprintf("pattern %q matches no selection", n.name)
			if n.name == "them" {
				what = `"them" matches no selection (names starting with "_" are left out)`
			}
			return []*condError{{Pos: n.pos, Msg: what}}
		}
		return nil
	}
	for _, k := range n.kids {
		errs = append(errs, k.resolve(names, used)...)
	}
	return errs
}

// String returns the condition with every operator in parentheses, so that
// parsing it again gives the same tree.
func (n *condNode) String() string {
	var b strings.Builder
	n.write(&b)
	return b.String()
}

func (n *condNode) write(b *strings.Builder) {
	switch n.op {
	case opSel:
		b.WriteString(n.name)
	case opOneOf:
		b.WriteString("1 of ")
		b.WriteString(n.name)
	case opAllOf:
		b.WriteString("all of ")
		b.WriteString(n.name)
	case opNot:
		b.WriteString("not ")
		n.kids[0].write(b)
	case opAnd, opOr:
		sep := " and "
		if n.op == opOr {
			sep = " or "
		}
		b.WriteByte('(')
		for i, k := range n.kids {
			if i > 0 {
				b.WriteString(sep)
			}
			k.write(b)
		}
		b.WriteByte(')')
	}
}

// eval evaluates the condition on ev with the rule's selections.
func (n *condNode) eval(sels []selection, ev Event, z *zones) bool {
	switch n.op {
	case opSel:
		return sels[n.sels[0]].match(ev, z)
	case opAnd:
		for _, k := range n.kids {
			if !k.eval(sels, ev, z) {
				return false
			}
		}
		return true
	case opOr:
		for _, k := range n.kids {
			if k.eval(sels, ev, z) {
				return true
			}
		}
		return false
	case opNot:
		return !n.kids[0].eval(sels, ev, z)
	case opOneOf:
		for _, i := range n.sels {
			if sels[i].match(ev, z) {
				return true
			}
		}
		return false
	case opAllOf:
		for _, i := range n.sels {
			if !sels[i].match(ev, z) {
				return false
			}
		}
		return true
	}
	return false
}

// closest returns the candidate within two edits of s, or "".
func closest(s string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		if d := editDistance(s, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		if a == b {
			return 0
		}
		return 64
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
