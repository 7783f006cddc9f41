package regime

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/vigil-audit/vigil/internal/event"
	"github.com/vigil-audit/vigil/notifier/regimes"
)

// FS holds Vigil's default regime files (notifier/regimes/*.yaml).
var FS = regimes.FS

// MaxFileBytes bounds the size of one regime file.
const MaxFileBytes = 1 << 20

// Default loads the embedded default regime files.
func Default() (*Set, error) { return Load(FS) }

// Set is a validated set of regimes, ready to plan. It is immutable and
// safe for concurrent use.
type Set struct {
	regimes []*regimeDef // sorted by id
	grading *grading     // nil when no file grades incidents
}

type regimeDef struct {
	id, title, file string
	rules           []*rule
	notes           []Note
}

// Note is a documented fact of a regime that is not an obligation (for
// example the minimum log retention).
type Note struct {
	Name  string
	Value string
	Basis string
	Text  string
}

type grading struct {
	regime, file, basis string
	grades              []gradeDef // highest threshold first
	otherwise           gradeDef
}

type gradeDef struct {
	grade, label string
	gte          int64
}

type rule struct {
	id          string
	kind        Kind
	recipient   event.RecipientKind
	recipients  Recipients
	authority   string
	authorityBy map[Operator]string
	follows     string
	when        cond
	deadline    deadlineDef
	approval    string
	fields      []string
	lateFields  []string
	channels    []event.Channel
	waiver      string
	substitute  *substitute
	basis       string
	unverified  string
	line        int
}

type deadlineDef struct {
	from  Anchor
	after Span
	byOp  map[Operator]Span
	open  string
}

type substitute struct {
	id    string
	line  int
	cases []*subCase
}

type subCase struct {
	when       cond
	kind       Kind
	recipient  event.RecipientKind
	recipients Recipients
	channels   []event.Channel
	keepFor    Span
	notes      []string
}

// LoadDir loads every *.yaml file in dir (not its subfolders). Problems
// name the files by their path under dir.
func LoadDir(dir string) (*Set, error) {
	return load(os.DirFS(dir), func(name string) string { return filepath.Join(dir, name) })
}

// Load loads every *.yaml file at the root of fsys, sorted by name, and
// validates them together. It returns an *Error listing every problem
// (file:line, key, reason) or a Set.
func Load(fsys fs.FS) (*Set, error) {
	return load(fsys, func(name string) string { return name })
}

func load(fsys fs.FS, display func(string) string) (*Set, error) {
	names, err := fs.Glob(fsys, "*.yaml")
	if err != nil {
		return nil, fmt.Errorf("list regime files: %w", err)
	}
	slices.Sort(names)
	if len(names) == 0 {
		return nil, &Error{Problems: []Problem{{File: display("."), Reason: "no *.yaml regime files"}}}
	}
	var probs []Problem
	var defs []*regimeDef
	var grad []*grading
	for _, name := range names {
		data, err := readLimited(fsys, name)
		if err != nil {
			probs = append(probs, Problem{File: display(name), Reason: err.Error()})
			continue
		}
		d := &decoder{file: display(name)}
		def, g := d.decodeFile(data)
		probs = append(probs, d.probs...)
		if def != nil {
			def.file = display(name)
			defs = append(defs, def)
		}
		if g != nil {
			g.file = display(name)
			grad = append(grad, g)
		}
	}
	s := &Set{regimes: defs}
	probs = append(probs, s.crossCheck(grad)...)
	if len(probs) > 0 {
		return nil, &Error{Problems: probs}
	}
	slices.SortFunc(s.regimes, func(a, b *regimeDef) int { return strings.Compare(a.id, b.id) })
	return s, nil
}

func readLimited(fsys fs.FS, name string) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, fmt.Errorf("open: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	if len(data) > MaxFileBytes {
		return nil, fmt.Errorf("larger than %d bytes", MaxFileBytes)
	}
	return data, nil
}

var (
	regimeIDRe     = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	obligationIDRe = regexp.MustCompile(`^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$`)
)

// parse turns data into the root mapping node, reporting YAML syntax
// errors, empty files and extra documents. The YAML parser is guarded: a
// panic inside it becomes a problem.
func (d *decoder) parse(data []byte) (root *yaml.Node) {
	defer func() {
		if r := recover(); r != nil {
			d.addf(0, "", "cannot parse YAML: %v", r)
			root = nil
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			d.addf(0, "", "empty file")
		} else {
			d.addf(yamlLine(err), "", "cannot parse YAML: %s", yamlReason(err))
		}
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		line := extra.Line
		if err != nil {
			line = yamlLine(err)
		}
		d.addf(line, "", "only one YAML document per file (remove the second ---)")
		return nil
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		d.addf(0, "", "empty file")
		return nil
	}
	if !d.checkPlain(doc.Content[0]) {
		return nil
	}
	return doc.Content[0]
}

var yamlLineRe = regexp.MustCompile(`line (\d+)`)

func yamlLine(err error) int {
	m := yamlLineRe.FindStringSubmatch(err.Error())
	if m == nil {
		return 0
	}
	var n int
	fmt.Sscanf(m[1], "%d", &n)
	return n
}

var yamlPrefixRe = regexp.MustCompile(`^(yaml: )?(line \d+: )?`)

func yamlReason(err error) string {
	return yamlPrefixRe.ReplaceAllString(err.Error(), "")
}

func (d *decoder) decodeFile(data []byte) (*regimeDef, *grading) {
	root := d.parse(data)
	if root == nil {
		return nil, nil
	}
	m := d.mapOf(root, "", "regime", "title", "grading", "obligations", "documented_facts")
	if m == nil {
		return nil, nil
	}
	def := &regimeDef{}
	if v := d.get(m, "regime", true); v != nil {
		if id, ok := d.str(v, "regime"); ok {
			if !regimeIDRe.MatchString(id) {
				d.addf(v.Line, "regime", "%q is not a regime id (lower-case letters, digits, _)", id)
			}
			def.id = id
		}
	}
	if v := d.get(m, "title", true); v != nil {
		def.title, _ = d.str(v, "title")
	}
	var g *grading
	if v := d.get(m, "grading", false); v != nil {
		g = d.decodeGrading(v, "grading")
		if g != nil {
			g.regime = def.id
		}
	}
	if v := d.get(m, "obligations", true); v != nil {
		d.list(v, "obligations", func(it *yaml.Node, p string) {
			if r := d.decodeRule(it, p); r != nil {
				def.rules = append(def.rules, r)
			}
		})
		if v.Kind == yaml.SequenceNode && len(v.Content) == 0 {
			d.addf(v.Line, "obligations", "must list at least one obligation")
		}
	}
	if v := d.get(m, "documented_facts", false); v != nil {
		d.list(v, "documented_facts", func(it *yaml.Node, p string) {
			nm := d.mapOf(it, p, "name", "value", "basis", "text")
			if nm == nil {
				return
			}
			var n Note
			for _, f := range []struct {
				key string
				dst *string
			}{{"name", &n.Name}, {"value", &n.Value}, {"basis", &n.Basis}, {"text", &n.Text}} {
				if fv := d.get(nm, f.key, true); fv != nil {
					*f.dst, _ = d.str(fv, join(p, f.key))
				}
			}
			def.notes = append(def.notes, n)
		})
	}
	return def, g
}

func (d *decoder) decodeGrading(n *yaml.Node, path string) *grading {
	m := d.mapOf(n, path, "basis", "grades", "otherwise")
	if m == nil {
		return nil
	}
	g := &grading{}
	if v := d.get(m, "basis", true); v != nil {
		g.basis, _ = d.str(v, join(path, "basis"))
	}
	gradeOf := func(n *yaml.Node, p string, withThreshold bool) (gradeDef, bool) {
		keys := []string{"grade", "label"}
		if withThreshold {
			keys = append(keys, "people_gte")
		}
		gm := d.mapOf(n, p, keys...)
		if gm == nil {
			return gradeDef{}, false
		}
		var gd gradeDef
		ok := true
		if v := d.get(gm, "grade", true); v != nil {
			gd.grade, ok = d.str(v, join(p, "grade"))
		} else {
			ok = false
		}
		if v := d.get(gm, "label", true); v != nil {
			gd.label, _ = d.str(v, join(p, "label"))
		}
		if withThreshold {
			if v := d.get(gm, "people_gte", true); v != nil {
				var good bool
				gd.gte, good = d.count(v, join(p, "people_gte"))
				ok = ok && good
			} else {
				ok = false
			}
		}
		return gd, ok
	}
	if v := d.get(m, "grades", true); v != nil {
		gp := join(path, "grades")
		d.list(v, gp, func(it *yaml.Node, p string) {
			gd, ok := gradeOf(it, p, true)
			if !ok {
				return
			}
			if len(g.grades) > 0 && gd.gte >= g.grades[len(g.grades)-1].gte {
				d.addf(it.Line, join(p, "people_gte"), "grades must be listed from the highest threshold down; %d is not below %d", gd.gte, g.grades[len(g.grades)-1].gte)
			}
			for _, o := range g.grades {
				if o.grade == gd.grade {
					d.addf(it.Line, join(p, "grade"), "grade %q is listed twice", gd.grade)
				}
			}
			g.grades = append(g.grades, gd)
		})
		if v.Kind == yaml.SequenceNode && len(v.Content) == 0 {
			d.addf(v.Line, gp, "must list at least one grade")
		}
	}
	if v := d.get(m, "otherwise", true); v != nil {
		if gd, ok := gradeOf(v, join(path, "otherwise"), false); ok {
			g.otherwise = gd
			for _, o := range g.grades {
				if o.grade == gd.grade {
					d.addf(v.Line, join(path, "otherwise.grade"), "grade %q is also a threshold grade", gd.grade)
				}
			}
		}
	}
	return g
}

var ruleKeys = []string{"id", "kind", "recipient", "recipients", "authority", "follows", "when",
	"deadline", "approval", "fields", "late_fields", "channels", "waiver", "substitute", "basis",
	"unverified"}

func (d *decoder) decodeRule(n *yaml.Node, path string) *rule {
	m := d.mapOf(n, path, ruleKeys...)
	if m == nil {
		return nil
	}
	r := &rule{line: n.Line}
	if v := d.get(m, "id", true); v != nil {
		if id, ok := d.str(v, join(path, "id")); ok {
			if !obligationIDRe.MatchString(id) {
				d.addf(v.Line, join(path, "id"), "%q is not an obligation id like pipl.individual (<regime>.<name>, lower-case)", id)
			}
			r.id = id
		}
	}
	r.kind, r.recipient, r.recipients = d.kindRecipient(m, path)
	if v := d.get(m, "authority", false); v != nil {
		r.authority, r.authorityBy = d.decodeAuthority(v, join(path, "authority"))
		if r.recipient != "" && r.recipient != event.RecipientRegulator {
			d.addf(v.Line, join(path, "authority"), "only obligations to a regulator name an authority")
		}
	}
	if v := d.get(m, "follows", false); v != nil {
		r.follows, _ = d.str(v, join(path, "follows"))
	}
	if v := d.get(m, "when", true); v != nil {
		r.when = d.decodeCond(v, join(path, "when"))
	}
	if v := d.get(m, "deadline", true); v != nil {
		r.deadline = d.decodeDeadline(v, join(path, "deadline"))
	}
	if v := d.get(m, "approval", true); v != nil {
		r.approval, _ = d.word(v, join(path, "approval"), approvals)
		if r.approval == ApprovalNone && r.kind.needsApproval() {
			d.addf(v.Line, join(path, "approval"), "kind %s must be approved before it is sent: name a role (%s)", r.kind, ApprovalDPO)
		}
	}
	if v := d.get(m, "fields", true); v != nil {
		fp := join(path, "fields")
		r.fields, _ = d.words(v, fp, fieldNames)
		if v.Kind == yaml.SequenceNode && len(v.Content) == 0 {
			d.addf(v.Line, fp, "must list at least one content field")
		}
		if slices.Contains(r.fields, "child_name") && r.kind != "" && r.kind != KindGuardianNotice {
			d.addf(v.Line, fp, "child_name belongs only in a guardian_notice")
		}
	}
	if v := d.get(m, "late_fields", false); v != nil {
		r.lateFields, _ = d.words(v, join(path, "late_fields"), fieldNames)
	}
	if v := d.get(m, "channels", true); v != nil {
		r.channels = d.decodeChannels(v, join(path, "channels"), r.kind)
	}
	if v := d.get(m, "waiver", false); v != nil {
		wm := d.mapOf(v, join(path, "waiver"), "allowed_when")
		if wm != nil {
			if wv := d.get(wm, "allowed_when", true); wv != nil {
				r.waiver, _ = d.str(wv, join(path, "waiver.allowed_when"))
			}
		}
	}
	if v := d.get(m, "substitute", false); v != nil {
		r.substitute = d.decodeSubstitute(v, join(path, "substitute"))
	}
	if v := d.get(m, "basis", true); v != nil {
		r.basis, _ = d.str(v, join(path, "basis"))
	}
	if v := d.get(m, "unverified", false); v != nil {
		r.unverified, _ = d.str(v, join(path, "unverified"))
	}
	if r.recipients == EachState && !r.when.has("people_in_any_state_gt") {
		d.addf(n.Line, join(path, "recipients"), "each_state needs a people_in_any_state_gt condition in when")
	}
	return r
}

// kindRecipient reads kind, recipient and recipients of an obligation or a
// substitute case and checks they fit together.
func (d *decoder) kindRecipient(m *mapping, path string) (Kind, event.RecipientKind, Recipients) {
	var k Kind
	var rk event.RecipientKind
	var rs Recipients
	if v := d.get(m, "kind", true); v != nil {
		s, _ := d.word(v, join(path, "kind"), strs(kinds))
		k = Kind(s)
	}
	if v := d.get(m, "recipient", true); v != nil {
		s, ok := d.word(v, join(path, "recipient"), strs(event.RecipientKinds()))
		rk = event.RecipientKind(s)
		if ok && k != "" && kindRecipient[k] != rk {
			d.addf(v.Line, join(path, "recipient"), "kind %s goes to recipient %s, not %s", k, kindRecipient[k], rk)
		}
	}
	if v := d.get(m, "recipients", true); v != nil {
		s, _ := d.word(v, join(path, "recipients"), strs(recipientsValues))
		rs = Recipients(s)
	}
	return k, rk, rs
}

func (d *decoder) decodeAuthority(n *yaml.Node, path string) (string, map[Operator]string) {
	if n.Kind == yaml.ScalarNode {
		s, _ := d.str(n, path)
		return s, nil
	}
	m := d.mapOf(n, path, strs(operators)...)
	if m == nil {
		return "", nil
	}
	by := map[Operator]string{}
	for _, op := range operators {
		if v := d.get(m, string(op), true); v != nil {
			if s, ok := d.str(v, join(path, string(op))); ok {
				by[op] = s
			}
		}
	}
	return "", by
}

func (d *decoder) decodeDeadline(n *yaml.Node, path string) deadlineDef {
	var dl deadlineDef
	m := d.mapOf(n, path, "from", "after", "after_by_operator", "open")
	if m == nil {
		return dl
	}
	if v := d.get(m, "from", true); v != nil {
		s, _ := d.word(v, join(path, "from"), strs(anchors))
		dl.from = Anchor(s)
	}
	set := 0
	for _, k := range []string{"after", "after_by_operator", "open"} {
		if m.vals[k] != nil {
			set++
		}
	}
	if set != 1 {
		d.addf(n.Line, path, "give exactly one of after, after_by_operator or open (found %d)", set)
	}
	if v := m.vals["after"]; v != nil {
		dl.after, _ = d.span(v, join(path, "after"))
	}
	if v := m.vals["after_by_operator"]; v != nil {
		bp := join(path, "after_by_operator")
		if om := d.mapOf(v, bp, strs(operators)...); om != nil {
			dl.byOp = map[Operator]Span{}
			for _, op := range operators {
				if ov := d.get(om, string(op), true); ov != nil {
					if sp, ok := d.span(ov, join(bp, string(op))); ok {
						dl.byOp[op] = sp
					}
				}
			}
		}
	}
	if v := m.vals["open"]; v != nil {
		dl.open, _ = d.str(v, join(path, "open"))
	}
	return dl
}

func (d *decoder) decodeChannels(n *yaml.Node, path string, k Kind) []event.Channel {
	ws, ok := d.words(n, path, strs(event.Channels()))
	if !ok {
		return nil
	}
	if k != "" {
		if k.delivered() && len(ws) == 0 {
			d.addf(n.Line, path, "kind %s is delivered: list at least one channel", k)
		}
		if !k.delivered() && len(ws) > 0 {
			d.addf(n.Line, path, "kind %s is exported and submitted by hand: write channels: []", k)
		}
	}
	out := make([]event.Channel, len(ws))
	for i, w := range ws {
		out[i] = event.Channel(w)
	}
	return out
}

func (d *decoder) decodeSubstitute(n *yaml.Node, path string) *substitute {
	m := d.mapOf(n, path, "id", "cases")
	if m == nil {
		return nil
	}
	s := &substitute{line: n.Line}
	if v := d.get(m, "id", true); v != nil {
		if id, ok := d.str(v, join(path, "id")); ok {
			if !obligationIDRe.MatchString(id) {
				d.addf(v.Line, join(path, "id"), "%q is not an obligation id like hipaa.substitute", id)
			}
			s.id = id
		}
	}
	if v := d.get(m, "cases", true); v != nil {
		cp := join(path, "cases")
		d.list(v, cp, func(it *yaml.Node, p string) {
			cm := d.mapOf(it, p, "when", "kind", "recipient", "recipients", "channels", "keep_for", "notes")
			if cm == nil {
				return
			}
			c := &subCase{}
			if wv := d.get(cm, "when", true); wv != nil {
				c.when = d.decodeCond(wv, join(p, "when"))
			}
			c.kind, c.recipient, c.recipients = d.kindRecipient(cm, p)
			if c.kind != "" && !c.kind.delivered() {
				d.addf(it.Line, join(p, "kind"), "a substitute must be a notice to people or the public, not kind %s", c.kind)
			}
			if c.recipients == EachState {
				d.addf(it.Line, join(p, "recipients"), "each_state is not allowed in a substitute case")
			}
			if cv := d.get(cm, "channels", true); cv != nil {
				c.channels = d.decodeChannels(cv, join(p, "channels"), c.kind)
			}
			if kv := d.get(cm, "keep_for", false); kv != nil {
				c.keepFor, _ = d.span(kv, join(p, "keep_for"))
			}
			if nv := d.get(cm, "notes", false); nv != nil {
				d.list(nv, join(p, "notes"), func(ni *yaml.Node, np string) {
					if s, ok := d.str(ni, np); ok {
						c.notes = append(c.notes, s)
					}
				})
			}
			s.cases = append(s.cases, c)
		})
		if v.Kind == yaml.SequenceNode && len(v.Content) == 0 {
			d.addf(v.Line, cp, "must list at least one case")
		}
	}
	return s
}

// crossCheck validates what spans obligations and files: unique ids,
// follow-ups, grade names, one grading.
func (s *Set) crossCheck(grads []*grading) []Problem {
	var probs []Problem
	add := func(file string, line int, key, format string, args ...any) {
		probs = append(probs, Problem{File: file, Line: line, Key: key, Reason: fmt.Sprintf(format, args...)})
	}
	regimeFile := map[string]string{}
	for _, def := range s.regimes {
		if def.id == "" {
			continue
		}
		if other, dup := regimeFile[def.id]; dup {
			add(def.file, 0, "regime", "regime %q is also defined in %s", def.id, other)
		}
		regimeFile[def.id] = def.file
	}
	switch {
	case len(grads) == 1:
		s.grading = grads[0]
	case len(grads) > 1:
		for _, g := range grads[1:] {
			add(g.file, 0, "grading", "only one regime file may define grading (also in %s)", grads[0].file)
		}
	}
	idFile := map[string]string{}
	claim := func(file string, line int, key, id string) {
		if id == "" {
			return
		}
		if other, dup := idFile[id]; dup {
			add(file, line, key, "obligation id %q is already used in %s", id, other)
			return
		}
		idFile[id] = file
	}
	for _, def := range s.regimes {
		var earlier []string
		for i, r := range def.rules {
			p := index("obligations", i)
			claim(def.file, r.line, join(p, "id"), r.id)
			if r.substitute != nil {
				claim(def.file, r.substitute.line, join(p, "substitute.id"), r.substitute.id)
			}
			if r.follows != "" && !slices.Contains(earlier, r.follows) {
				add(def.file, r.line, join(p, "follows"), "%q is not an obligation listed earlier in this file", r.follows)
			}
			earlier = append(earlier, r.id)
			conds := []cond{r.when}
			if r.substitute != nil {
				for _, c := range r.substitute.cases {
					conds = append(conds, c.when)
				}
			}
			for _, c := range conds {
				for _, t := range c.terms {
					if t.key != "grade_in" {
						continue
					}
					if s.grading == nil {
						add(def.file, t.line, join(p, "when.grade_in"), "no regime file defines grading")
						continue
					}
					for _, w := range t.words {
						if !s.grading.has(w) {
							add(def.file, t.line, join(p, "when.grade_in"), "%q is not a grade; grades: %s", w, strings.Join(s.grading.names(), ", "))
						}
					}
				}
			}
		}
	}
	return probs
}

func (g *grading) has(name string) bool { return slices.Contains(g.names(), name) }

func (g *grading) names() []string {
	var out []string
	for _, gd := range g.grades {
		out = append(out, gd.grade)
	}
	return append(out, g.otherwise.grade)
}

// Regimes lists the ids of the loaded regimes, sorted.
func (s *Set) Regimes() []string {
	out := make([]string, len(s.regimes))
	for i, r := range s.regimes {
		out[i] = r.id
	}
	return out
}

// Notes returns the documented facts of a regime (nil for an unknown id).
func (s *Set) Notes(regime string) []Note {
	for _, r := range s.regimes {
		if r.id == regime {
			return slices.Clone(r.notes)
		}
	}
	return nil
}

// Grade returns the CAC grade of an incident affecting people: the first
// grade whose people_gte threshold people reaches, else the `otherwise`
// grade; "" when no loaded file defines grading.
func (s *Set) Grade(people int64) string {
	if s.grading == nil {
		return ""
	}
	for _, g := range s.grading.grades {
		if people >= g.gte {
			return g.grade
		}
	}
	return s.grading.otherwise.grade
}

// GradeLabel returns the English label of a grade name, or "".
func (s *Set) GradeLabel(grade string) string {
	if s.grading == nil {
		return ""
	}
	for _, g := range append(slices.Clone(s.grading.grades), s.grading.otherwise) {
		if g.grade == grade {
			return g.label
		}
	}
	return ""
}
