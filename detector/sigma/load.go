package sigma

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	yaml "go.yaml.in/yaml/v3"
)

// MaxFileBytes bounds the size of one rule file; a larger file is rejected
// before it is parsed.
const MaxFileBytes = 1 << 20

// MaxProblems is the largest number of problems one load reports; one more
// problem says how many were left out.
const MaxProblems = 500

// Problem is one thing wrong with a rule set.
type Problem struct {
	// File is the rule file, as named by the Source or the directory walk.
	File string
	// Line and Column locate the problem in File, from 1; 0 when unknown.
	Line, Column int
	// Rule names the rule: its id, else its title, else "document N".
	// Empty for problems with a whole file.
	Rule string
	// Key is the YAML key path of the offending value, e.g.
	// "detection.selection.actor.role|contains". Empty when the rule as a
	// whole is meant.
	Key string
	// Reason says what is wrong.
	Reason string
}

// String returns "file:line:column: rule: key: reason", leaving out the
// parts that are empty.
func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		b.WriteString(":" + strconv.Itoa(p.Line))
		if p.Column > 0 {
			b.WriteString(":" + strconv.Itoa(p.Column))
		}
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	if p.Rule != "" {
		b.WriteString("rule " + p.Rule + ": ")
	}
	if p.Key != "" {
		b.WriteString(p.Key + ": ")
	}
	b.WriteString(p.Reason)
	return b.String()
}

// LoadError lists every problem found while loading a rule set, sorted by
// file and position. A load with problems returns no Set: a bad rule never
// silently matches nothing.
type LoadError struct {
	Problems []Problem
}

func (e *LoadError) Error() string {
	var b strings.Builder
	if len(e.Problems) == 1 {
		b.WriteString("sigma: 1 problem in rule set:")
	} else {
		fmt.Fprintf(&b, "sigma: %d problems in rule set:", len(e.Problems))
	}
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

// Source is one rule file: a name for messages and its YAML text, which
// may hold several documents separated by "---".
type Source struct {
	Name string
	Data []byte
}

// LoadDir loads every *.yml and *.yaml file under dir (recursively, in
// lexical order, skipping directories whose names start with "."). File
// names in problems start with dir.
func LoadDir(dir string, opts Options) (*Set, error) {
	return loadFS(os.DirFS(dir), dir, opts)
}

// LoadFS loads every *.yml and *.yaml file of fsys, as LoadDir does; use
// it for an embedded rule pack.
func LoadFS(fsys fs.FS, opts Options) (*Set, error) {
	return loadFS(fsys, "", opts)
}

func loadFS(fsys fs.FS, prefix string, opts Options) (*Set, error) {
	var srcs []Source
	var probs []Problem
	name := func(p string) string {
		if prefix == "" {
			return p
		}
		return filepath.Join(prefix, filepath.FromSlash(p))
	}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			probs = append(probs, Problem{File: name(p), Reason: "cannot read: " + unwrapPath(err).Error()})
			return nil
		}
		if d.IsDir() {
			if p != "." && strings.HasPrefix(d.Name(), ".") {
				return fs.SkipDir
			}
			return nil
		}
		if ext := path.Ext(p); ext != ".yml" && ext != ".yaml" {
			return nil
		}
		data, err := readLimited(fsys, p)
		if err != nil {
			probs = append(probs, Problem{File: name(p), Reason: err.Error()})
			return nil
		}
		srcs = append(srcs, Source{Name: name(p), Data: data})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sigma: reading rules from %s: %w", name("."), err)
	}
	if len(srcs) == 0 && len(probs) == 0 {
		probs = append(probs, Problem{File: name("."), Reason: "no rule files (*.yml, *.yaml)"})
	}
	set, err := Load(srcs, opts)
	if len(probs) > 0 {
		var le *LoadError
		if errors.As(err, &le) {
			probs = append(probs, le.Problems...)
		} else if err != nil {
			return nil, err
		}
		sortProblems(probs)
		return nil, &LoadError{Problems: capProblems(probs)}
	}
	return set, err
}

func readLimited(fsys fs.FS, p string) ([]byte, error) {
	f, err := fsys.Open(p)
	if err != nil {
		return nil, fmt.Errorf("cannot read: %w", unwrapPath(err))
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read: %w", unwrapPath(err))
	}
	if len(data) > MaxFileBytes {
		return nil, fmt.Errorf("file is larger than %d bytes", MaxFileBytes)
	}
	return data, nil
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Load compiles the rules of srcs into a Set. It validates every rule and
// reports every problem, not just the first, as a *LoadError; any problem
// means no Set. An invalid Options (a nil time zone) is a plain error.
func Load(srcs []Source, opts Options) (*Set, error) {
	for org, loc := range opts.TimeZones {
		if loc == nil {
			return nil, fmt.Errorf("sigma: Options.TimeZones[%q] is nil", org)
		}
	}
	l := &loader{zones: newZones(opts)}
	for _, src := range srcs {
		l.file(src)
	}
	set := l.finish()
	if len(l.probs) > 0 {
		sortProblems(l.probs)
		return nil, &LoadError{Problems: capProblems(l.probs)}
	}
	return set, nil
}

func sortProblems(ps []Problem) {
	sort.SliceStable(ps, func(i, j int) bool {
		a, b := ps[i], ps[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Column != b.Column {
			return a.Column < b.Column
		}
		return a.Reason < b.Reason
	})
}

func capProblems(ps []Problem) []Problem {
	if len(ps) <= MaxProblems {
		return ps
	}
	more := len(ps) - MaxProblems
	ps = ps[:MaxProblems:MaxProblems]
	return append(ps, Problem{Reason: fmt.Sprintf("%d more problems not shown", more)})
}

// loader holds the state of one Load.
type loader struct {
	zones *zones
	probs []Problem
	rules []*Rule
	corrs []*corrDraft
	// defs are the ids and names defined, in load order, for duplicate
	// checks and references; defIndex finds them by id or name.
	defs     []definition
	defIndex map[string]int
}

type definition struct {
	ref  string // id or name
	what string // "id" or "name"
	rule *Rule
	corr *corrDraft
	file string
	node *yaml.Node
}

func (l *loader) add(p Problem) { l.probs = append(l.probs, p) }

var yamlLineErr = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// file parses the documents of one source.
func (l *loader) file(src Source) {
	if len(src.Data) > MaxFileBytes {
		l.add(Problem{File: src.Name, Reason: fmt.Sprintf("file is larger than %d bytes", MaxFileBytes)})
		return
	}
	dec := yaml.NewDecoder(bytes.NewReader(src.Data))
	for i := 0; ; i++ {
		var doc yaml.Node
		err := decodeSafely(dec, &doc)
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			p := Problem{File: src.Name, Reason: "not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}
			if m := yamlLineErr.FindStringSubmatch(err.Error()); m != nil {
				p.Line, _ = strconv.Atoi(m[1])
				p.Reason = "not valid YAML: " + m[2]
			}
			l.add(p)
			return
		}
		l.document(src.Name, &doc, i)
	}
}

// decodeSafely decodes the next document, turning a panic of the YAML
// parser on hostile input into an error.
func decodeSafely(dec *yaml.Decoder, n *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("YAML parser failed: %v", r)
		}
	}()
	return dec.Decode(n)
}

// docCtx reports problems of one YAML document.
type docCtx struct {
	l     *loader
	file  string
	label string
	bad   bool // a problem was reported
}

func (c *docCtx) add(n *yaml.Node, key, format string, args ...any) {
	p := Problem{File: c.file, Rule: c.label, Key: key, Reason: fmt.Sprintf(format, args...)}
	if n != nil {
		p.Line, p.Column = n.Line, n.Column
	}
	c.bad = true
	c.l.add(p)
}

func (c *docCtx) addAt(line, col int, key, format string, args ...any) {
	c.bad = true
	c.l.add(Problem{File: c.file, Line: line, Column: col, Rule: c.label, Key: key, Reason: fmt.Sprintf(format, args...)})
}

func join(p, k string) string {
	if p == "" {
		return k
	}
	return p + "." + k
}

func index(p string, i int) string { return p + "[" + strconv.Itoa(i) + "]" }

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "null"
		}
		v := n.Value
		if len(v) > 40 {
			v = v[:40] + "…"
		}
		return strconv.Quote(v)
	case yaml.AliasNode:
		return "an alias"
	}
	return "an unsupported YAML node"
}

// aliases reports every alias under n. Aliases are refused: walking them
// expands the document, and a few nested aliases expand to billions of
// nodes.
func (c *docCtx) aliases(n *yaml.Node) bool {
	found := false
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.AliasNode {
			c.add(n, "", "YAML aliases (*%s) are not supported: write the value out", n.Value)
			found = true
			return
		}
		for _, k := range n.Content {
			walk(k)
		}
	}
	walk(n)
	return found
}

type kv struct{ k, v *yaml.Node }

// mapping returns the entries of a mapping, reporting non-scalar and
// duplicate keys.
func (c *docCtx) mapping(n *yaml.Node, key string) ([]kv, bool) {
	if n.Kind != yaml.MappingNode {
		c.add(n, key, "want a mapping, got %s", kindName(n))
		return nil, false
	}
	out := make([]kv, 0, len(n.Content)/2)
	seen := make(map[string]bool, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			c.add(k, key, "keys must be plain strings, got %s", kindName(k))
			continue
		}
		if seen[k.Value] {
			c.add(k, join(key, k.Value), "duplicate key")
			continue
		}
		seen[k.Value] = true
		out = append(out, kv{k, v})
	}
	return out, true
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

// text returns the text of a scalar that is not null.
func (c *docCtx) text(n *yaml.Node, key string) (string, bool) {
	if n.Kind != yaml.ScalarNode || isNull(n) || n.Tag == "!!binary" {
		c.add(n, key, "want a string, got %s", kindName(n))
		return "", false
	}
	return n.Value, true
}

// textList returns a list of strings; with single, one string is a list of
// one.
func (c *docCtx) textList(n *yaml.Node, key string, single bool) ([]string, bool) {
	if single && n.Kind == yaml.ScalarNode && !isNull(n) {
		return []string{n.Value}, true
	}
	if n.Kind != yaml.SequenceNode {
		c.add(n, key, "want a list of strings, got %s", kindName(n))
		return nil, false
	}
	out := make([]string, 0, len(n.Content))
	ok := true
	for i, e := range n.Content {
		s, good := c.text(e, index(key, i))
		ok = ok && good
		out = append(out, s)
	}
	return out, ok
}

// unknownKey reports a key that is not in known, suggesting the closest.
// Keys starting with "x-" are custom keys and are ignored.
func (c *docCtx) unknownKey(k *yaml.Node, path string, known []string) {
	msg := "unknown key"
	if s := closest(k.Value, known); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	} else {
		sorted := slices.Clone(known)
		slices.Sort(sorted)
		msg += " (known keys: " + strings.Join(sorted, ", ") + ")"
	}
	c.add(k, join(path, k.Value), "%s", msg)
}

func customKey(k string) bool { return strings.HasPrefix(k, "x-") }

// document dispatches one YAML document to the rule or correlation parser.
func (l *loader) document(file string, doc *yaml.Node, i int) {
	c := &docCtx{l: l, file: file, label: fmt.Sprintf("document %d", i+1)}
	if len(doc.Content) == 0 {
		return
	}
	root := doc.Content[0]
	if isNull(root) {
		return // an empty document, as after a trailing "---"
	}
	c.label = docLabel(root, c.label)
	if c.aliases(root) {
		return
	}
	entries, ok := c.mapping(root, "")
	if !ok {
		return
	}
	get := map[string]*yaml.Node{}
	for _, e := range entries {
		get[e.k.Value] = e.v
	}
	switch {
	case get["action"] != nil:
		c.add(root, "action", "Sigma 1 rule collections (action: global, reset, repeat) are not supported: write each rule out")
	case get["filter"] != nil && get["detection"] == nil:
		c.add(root, "filter", "Sigma meta filters are not supported: add the filter to the rule's condition")
	case get["detection"] != nil && get["correlation"] != nil:
		c.add(root, "", "a document is a detection rule or a correlation rule, not both: put each in its own document (---)")
	case get["correlation"] != nil:
		l.correlation(c, root, entries, get)
	case get["detection"] != nil:
		l.rule(c, root, entries, get)
	default:
		c.add(root, "", "neither a detection rule (no detection key) nor a correlation rule (no correlation key)")
	}
}

// docLabel names a rule document in problems: its id, else its quoted
// title, else def.
func docLabel(root *yaml.Node, def string) string {
	if root.Kind != yaml.MappingNode {
		return def
	}
	var title string
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if v.Kind != yaml.ScalarNode || v.Value == "" {
			continue
		}
		switch k.Value {
		case "id":
			return v.Value
		case "title":
			title = strconv.Quote(v.Value)
		}
	}
	if title != "" {
		return title
	}
	return def
}

// Keys of rule documents.
var (
	ruleKeys = []string{"title", "id", "name", "related", "taxonomy", "status", "description", "license",
		"author", "references", "date", "modified", "logsource", "detection", "fields", "falsepositives",
		"level", "tags", "scope", "tests"}
	correlationKeys = []string{"title", "id", "name", "related", "taxonomy", "status", "description", "license",
		"author", "references", "date", "modified", "correlation", "falsepositives", "level", "tags", "generate"}
	relatedTypes = []string{"derived", "obsolete", "merged", "renamed", "similar"}
)

var (
	idPattern   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`)
	datePattern = regexp.MustCompile(`^[0-9]{4}[-/][0-9]{2}[-/][0-9]{2}$`)
	tagPattern  = regexp.MustCompile(`^[a-z0-9_-]+(\.[a-z0-9_-]+)*$`)
)

// meta reads the attributes every rule has.
func (c *docCtx) meta(m *Meta, root *yaml.Node, get map[string]*yaml.Node) {
	m.File, m.Line = c.file, root.Line
	if n := get["title"]; n == nil {
		c.add(root, "title", "required")
	} else if s, ok := c.text(n, "title"); ok {
		if strings.TrimSpace(s) == "" {
			c.add(n, "title", "must not be empty")
		} else if utf8.RuneCountInString(s) > 256 {
			c.add(n, "title", "longer than 256 characters")
		}
		m.Title = s
	}
	if n := get["id"]; n == nil {
		c.add(root, "id", "required: every Vigil rule has a stable id (a UUID or 1-128 bytes of [A-Za-z0-9._:-]), which alerts carry")
	} else if s, ok := c.text(n, "id"); ok {
		if !idPattern.MatchString(s) {
			c.add(n, "id", "%q is not a UUID or 1-128 bytes of [A-Za-z0-9._:-] starting with a letter or digit", s)
		}
		m.ID = s
	}
	if n := get["name"]; n != nil {
		if s, ok := c.text(n, "name"); ok {
			if !idPattern.MatchString(s) {
				c.add(n, "name", "%q is not 1-128 bytes of [A-Za-z0-9._:-] starting with a letter or digit", s)
			}
			m.Name = s
		}
	}
	if n := get["status"]; n != nil {
		if s, ok := c.text(n, "status"); ok {
			if !slices.Contains(statuses, Status(s)) {
				c.add(n, "status", "%q is not one of %s", s, joinStatuses())
			}
			m.Status = Status(s)
		}
	}
	if n := get["description"]; n != nil {
		if s, ok := c.text(n, "description"); ok {
			if utf8.RuneCountInString(s) > 65535 {
				c.add(n, "description", "longer than 65535 characters")
			}
			m.Description = s
		}
	}
	if n := get["author"]; n != nil {
		m.Author, _ = c.text(n, "author")
	}
	for _, k := range []string{"license", "taxonomy"} {
		if n := get[k]; n != nil {
			c.text(n, k)
		}
	}
	if n := get["references"]; n != nil {
		m.References, _ = c.textList(n, "references", false)
	}
	if n := get["scope"]; n != nil {
		c.textList(n, "scope", false)
	}
	for _, k := range []string{"date", "modified"} {
		n := get[k]
		if n == nil {
			continue
		}
		s, ok := c.text(n, k)
		if !ok {
			continue
		}
		if !datePattern.MatchString(s) {
			c.add(n, k, "%q is not a date as YYYY-MM-DD", s)
		}
		if k == "date" {
			m.Date = s
		} else {
			m.Modified = s
		}
	}
	if n := get["tags"]; n != nil {
		tags, _ := c.textList(n, "tags", false)
		for i, t := range tags {
			if t != "" && !tagPattern.MatchString(t) {
				c.add(n.Content[i], index("tags", i), "%q is not a Sigma tag: lower-case namespace.name of [a-z0-9_-]", t)
			}
		}
		m.Tags = tags
	}
	if n := get["falsepositives"]; n != nil {
		m.FalsePositives, _ = c.textList(n, "falsepositives", true)
	}
	if n := get["level"]; n != nil {
		if s, ok := c.text(n, "level"); ok {
			sev, known := levels[s]
			if !known {
				c.add(n, "level", "%q is not one of %s", s, strings.Join(levelNames, ", "))
			}
			m.Level, m.Severity = s, sev
		}
	}
	if n := get["related"]; n != nil {
		c.related(n)
	}
}

func joinStatuses() string {
	s := make([]string, len(statuses))
	for i, v := range statuses {
		s[i] = string(v)
	}
	return strings.Join(s, ", ")
}

func (c *docCtx) related(n *yaml.Node) {
	if n.Kind != yaml.SequenceNode {
		c.add(n, "related", "want a list of {id, type}, got %s", kindName(n))
		return
	}
	for i, e := range n.Content {
		key := index("related", i)
		entries, ok := c.mapping(e, key)
		if !ok {
			continue
		}
		has := map[string]bool{}
		for _, kv := range entries {
			has[kv.k.Value] = true
			switch kv.k.Value {
			case "id":
				c.text(kv.v, join(key, "id"))
			case "type":
				if s, ok := c.text(kv.v, join(key, "type")); ok && !slices.Contains(relatedTypes, s) {
					c.add(kv.v, join(key, "type"), "%q is not one of %s", s, strings.Join(relatedTypes, ", "))
				}
			default:
				c.unknownKey(kv.k, key, []string{"id", "type"})
			}
		}
		for _, k := range []string{"id", "type"} {
			if !has[k] {
				c.add(e, join(key, k), "required")
			}
		}
	}
}

// define records an id or name for duplicate checks and references.
func (l *loader) define(c *docCtx, ref, what string, node *yaml.Node, r *Rule, cd *corrDraft) {
	if ref == "" {
		return
	}
	if i, ok := l.defIndex[ref]; ok {
		d := l.defs[i]
		c.add(node, what, "%s %q is already used by the %s of the rule at %s:%d", what, ref, d.what, d.file, d.node.Line)
		return
	}
	if l.defIndex == nil {
		l.defIndex = map[string]int{}
	}
	l.defIndex[ref] = len(l.defs)
	l.defs = append(l.defs, definition{ref: ref, what: what, rule: r, corr: cd, file: c.file, node: node})
}

// rule parses a detection rule.
func (l *loader) rule(c *docCtx, root *yaml.Node, entries []kv, get map[string]*yaml.Node) {
	r := &Rule{zones: l.zones}
	for _, e := range entries {
		if !slices.Contains(ruleKeys, e.k.Value) && !customKey(e.k.Value) {
			c.unknownKey(e.k, "", ruleKeys)
		}
	}
	c.meta(&r.Meta, root, get)
	r.Service = c.logsource(root, get["logsource"])
	c.detection(r, get["detection"])
	if n := get["fields"]; n != nil {
		fields, _ := c.textList(n, "fields", false)
		for i, f := range fields {
			if f != "" && r.Service != "" && lookupField(r.Service, f) == nil {
				c.add(n.Content[i], index("fields", i), "%s", unknownFieldReason(r.Service, f))
			}
		}
		r.Fields = fields
	}
	if n := get["tests"]; n != nil && r.Service != "" {
		r.Tests = c.tests(n, r.Service)
	}
	if n := get["id"]; n != nil {
		l.define(c, r.ID, "id", n, r, nil)
	}
	if n := get["name"]; n != nil {
		l.define(c, r.Name, "name", n, r, nil)
	}
	l.rules = append(l.rules, r)
}

// logsource reads the logsource of a detection rule and returns its
// service, or "" when it is missing or wrong.
func (c *docCtx) logsource(root, n *yaml.Node) Service {
	if n == nil {
		c.add(root, "logsource", "required: {product: vigil, service: access|device}")
		return ""
	}
	entries, ok := c.mapping(n, "logsource")
	if !ok {
		return ""
	}
	var svc Service
	product, bad := false, false
	for _, e := range entries {
		key := join("logsource", e.k.Value)
		switch e.k.Value {
		case "product":
			if s, ok := c.text(e.v, key); ok {
				product = true
				if s != Product {
					c.add(e.v, key, "%q is not a Vigil product: write %q", s, Product)
				}
			}
		case "service":
			if s, ok := c.text(e.v, key); ok {
				switch Service(s) {
				case ServiceAccess, ServiceDevice:
					svc = Service(s)
				default:
					c.add(e.v, key, "%q is not a Vigil service: write access (vigil.access.v1) or device (vigil.device.v1)", s)
					bad = true
				}
			} else {
				bad = true
			}
		case "category":
			c.add(e.k, key, "Vigil rules name a service (access or device), not a category")
		case "definition":
			c.text(e.v, key)
		default:
			c.unknownKey(e.k, "logsource", []string{"product", "service", "category", "definition"})
		}
	}
	if !product {
		c.add(n, "logsource.product", "required: write %q", Product)
	}
	if svc == "" && !bad {
		c.add(n, "logsource.service", "required: access or device")
	}
	if bad {
		return ""
	}
	return svc
}

// detection compiles the selections and condition of a rule.
func (c *docCtx) detection(r *Rule, n *yaml.Node) {
	entries, ok := c.mapping(n, "detection")
	if !ok {
		return
	}
	var condSrc *yaml.Node
	var keyNodes []*yaml.Node
	for _, e := range entries {
		name := e.k.Value
		key := join("detection", name)
		switch name {
		case "condition":
			condSrc = e.v
			continue
		case "timeframe":
			c.add(e.k, key, "timeframe is Sigma 1 syntax and not supported: write a correlation rule with a timespan")
			continue
		}
		if !validSelectionName(name) {
			c.add(e.k, key, "%q cannot be named in a condition: a selection name is a letter or \"_\" then letters, digits, \"_\" or \"-\", and not a keyword", name)
			continue
		}
		sel := c.selection(r.Service, name, e.v, key)
		r.sels = append(r.sels, sel)
		r.selNames = append(r.selNames, name)
		keyNodes = append(keyNodes, e.k)
	}
	if len(r.sels) == 0 && !c.bad {
		c.add(n, "detection", "no selections")
	}
	if condSrc == nil {
		c.add(n, "detection.condition", "required")
		return
	}
	var texts []string
	var nodes []*yaml.Node
	switch {
	case condSrc.Kind == yaml.SequenceNode && len(condSrc.Content) > 0:
		for i, e := range condSrc.Content {
			if s, ok := c.text(e, index("detection.condition", i)); ok {
				texts = append(texts, s)
				nodes = append(nodes, e)
			}
		}
	default:
		if s, ok := c.text(condSrc, "detection.condition"); ok {
			texts = append(texts, s)
			nodes = append(nodes, condSrc)
		}
	}
	if len(texts) == 0 {
		return
	}
	var roots []*condNode
	used := make([]bool, len(r.selNames))
	for i, s := range texts {
		cn, err := parseCondition(s)
		if err != nil {
			var ce *condError
			errors.As(err, &ce)
			line, col := condPos(nodes[i], s, ce.Pos)
			c.addAt(line, col, "detection.condition", "%s", ce.Msg)
			continue
		}
		errs := cn.resolve(r.selNames, used)
		for _, e := range errs {
			line, col := condPos(nodes[i], s, e.Pos)
			c.addAt(line, col, "detection.condition", "%s", e.Msg)
		}
		if len(errs) == 0 {
			roots = append(roots, cn)
		}
	}
	if len(roots) != len(texts) {
		return // unused selections would only repeat the problem
	}
	r.cond = roots[0]
	r.Condition = texts[0]
	if len(roots) > 1 {
		r.cond = &condNode{op: opOr, kids: roots}
		parts := make([]string, len(texts))
		for i, t := range texts {
			parts[i] = "(" + t + ")"
		}
		r.Condition = strings.Join(parts, " or ")
	}
	for i, u := range used {
		if !u {
			c.add(keyNodes[i], join("detection", r.selNames[i]), "selection %q is not used in the condition", r.selNames[i])
		}
	}
}

// condPos returns the line and column of byte offset off of a condition
// written in node n. Columns are exact for one-line conditions without
// escapes; in block scalars only the line is known.
func condPos(n *yaml.Node, src string, off int) (line, col int) {
	off = min(max(off, 0), len(src))
	switch n.Style {
	case yaml.DoubleQuotedStyle, yaml.SingleQuotedStyle:
		return n.Line, n.Column + 1 + off
	case yaml.LiteralStyle, yaml.FoldedStyle:
		return n.Line + 1 + strings.Count(src[:off], "\n"), 0
	}
	if strings.Contains(src[:off], "\n") {
		return n.Line, 0
	}
	return n.Line, n.Column + off
}

// selection compiles one named selection.
func (c *docCtx) selection(svc Service, name string, n *yaml.Node, key string) selection {
	s := selection{name: name}
	switch {
	case n.Kind == yaml.MappingNode:
		s.alts = append(s.alts, c.items(svc, n, key))
	case n.Kind == yaml.SequenceNode && len(n.Content) > 0:
		for i, e := range n.Content {
			if e.Kind != yaml.MappingNode {
				c.add(e, index(key, i), "keyword searches (values without a field) are not supported: write field: value")
				continue
			}
			s.alts = append(s.alts, c.items(svc, e, index(key, i)))
		}
	default:
		c.add(n, key, "want a mapping of fields to values, or a list of such mappings, got %s", kindName(n))
	}
	return s
}

func (c *docCtx) items(svc Service, n *yaml.Node, key string) []item {
	entries, _ := c.mapping(n, key)
	if len(entries) == 0 && len(n.Content) == 0 {
		c.add(n, key, "empty selection")
	}
	out := make([]item, 0, len(entries))
	for _, e := range entries {
		if svc == "" {
			continue // no taxonomy to check the fields against; the logsource problem is reported
		}
		if it, ok := c.item(svc, e.k, e.v, join(key, e.k.Value)); ok {
			out = append(out, it)
		}
	}
	return out
}

// finish resolves correlations, decides which rules stand alone, checks
// what depends on that and builds the Set.
func (l *loader) finish() *Set {
	l.resolveCorrelations()
	set := &Set{byRef: map[string]any{}}
	for _, cd := range l.corrs {
		cr := cd.c
		for _, in := range cr.Inputs {
			in.Rule.Correlations = append(in.Rule.Correlations, cr)
		}
		if cr.Level == "" && cr.Title != "" {
			cd.ctx.add(cd.root, "level", "required: the severity of the correlation's alerts (informational, low, medium, high, critical)")
		}
		set.Correlations = append(set.Correlations, cr)
	}
	for _, r := range l.rules {
		r.Standalone = len(r.Correlations) == 0
		for _, cr := range r.Correlations {
			r.Standalone = r.Standalone || cr.Generate
		}
		if r.Standalone && r.Level == "" && r.Title != "" {
			l.add(Problem{File: r.File, Line: r.Line, Column: 1, Rule: ruleLabel(r.ID, r.Title), Key: "level",
				Reason: "required for a rule that raises alerts of its own (informational, low, medium, high, critical); a rule only correlations read may leave it out"})
		}
		set.Rules = append(set.Rules, r)
		if r.Status.Active() && r.cond != nil {
			switch r.Service {
			case ServiceAccess:
				set.access = append(set.access, r)
			case ServiceDevice:
				set.device = append(set.device, r)
			}
		}
	}
	for _, d := range l.defs {
		if d.rule != nil {
			set.byRef[d.ref] = d.rule
		} else {
			set.byRef[d.ref] = d.corr.c
		}
	}
	return set
}

func ruleLabel(id, title string) string {
	if id != "" {
		return id
	}
	return strconv.Quote(title)
}
