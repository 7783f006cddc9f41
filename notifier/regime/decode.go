package regime

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// Problem is one thing wrong with a regime file.
type Problem struct {
	// File is the file's path as given to the loader.
	File string
	// Line is the 1-based line of the offending key or value; 0 when the
	// problem is about the file as a whole.
	Line int
	// Key is the key path, e.g. "obligations[2].deadline.after".
	Key string
	// Reason says what is wrong.
	Reason string
}

func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		b.WriteString(":")
		b.WriteString(strconv.Itoa(p.Line))
	}
	b.WriteString(": ")
	if p.Key != "" {
		b.WriteString(p.Key)
		b.WriteString(": ")
	}
	b.WriteString(p.Reason)
	return b.String()
}

// Error lists every problem found in a set of regime files. Load returns
// it with all problems at once, never a partial Set.
type Error struct {
	Problems []Problem
}

func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	if len(lines) == 1 {
		return "invalid regime file: " + lines[0]
	}
	return "invalid regime files:\n  " + strings.Join(lines, "\n  ")
}

// decoder walks one parsed YAML file and collects problems.
type decoder struct {
	file  string
	probs []Problem
}

func (d *decoder) addf(line int, key, format string, args ...any) {
	d.probs = append(d.probs, Problem{File: d.file, Line: line, Key: key, Reason: fmt.Sprintf(format, args...)})
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

// mapping is a YAML mapping whose keys were checked against a closed list.
type mapping struct {
	node *yaml.Node
	path string
	vals map[string]*yaml.Node
	keys []string // in file order
}

// mapOf checks that n is a mapping with unique keys, all in allowed, and
// returns it. It returns nil (after reporting) when n is not a mapping.
func (d *decoder) mapOf(n *yaml.Node, path string, allowed ...string) *mapping {
	if n.Kind != yaml.MappingNode {
		d.addf(n.Line, path, "must be a mapping (key: value lines), got %s", describe(n))
		return nil
	}
	m := &mapping{node: n, path: path, vals: map[string]*yaml.Node{}}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.Tag == "!!null" {
			d.addf(k.Line, path, "keys must be plain words, got %s", describe(k))
			continue
		}
		name := k.Value
		if _, dup := m.vals[name]; dup {
			d.addf(k.Line, join(path, name), "duplicate key")
			continue
		}
		if !slices.Contains(allowed, name) {
			d.addf(k.Line, join(path, name), "unknown key; allowed here: %s", strings.Join(allowed, ", "))
			continue
		}
		m.vals[name] = v
		m.keys = append(m.keys, name)
	}
	return m
}

// get returns the value of key, or nil; required keys are reported when
// missing.
func (d *decoder) get(m *mapping, key string, required bool) *yaml.Node {
	v := m.vals[key]
	if v == nil && required {
		d.addf(m.node.Line, join(m.path, key), "required key is missing")
	}
	return v
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "nothing (null)"
		}
		return fmt.Sprintf("%q", n.Value)
	case yaml.AliasNode:
		return "an alias"
	}
	return "an unexpected YAML node"
}

// str reads a non-empty text scalar.
func (d *decoder) str(n *yaml.Node, path string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		d.addf(n.Line, path, "must be text, got %s", describe(n))
		return "", false
	}
	if strings.TrimSpace(n.Value) == "" {
		d.addf(n.Line, path, "must not be empty")
		return "", false
	}
	return n.Value, true
}

// word reads a text scalar that must be one of allowed.
func (d *decoder) word(n *yaml.Node, path string, allowed []string) (string, bool) {
	s, ok := d.str(n, path)
	if !ok {
		return "", false
	}
	if !slices.Contains(allowed, s) {
		d.addf(n.Line, path, "%q is not one of %s", s, strings.Join(allowed, ", "))
		return "", false
	}
	return s, true
}

// count reads a whole number ≥ 0 (underscores allowed: 1_000_000).
func (d *decoder) count(n *yaml.Node, path string) (int64, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
		d.addf(n.Line, path, "must be a whole number, got %s", describe(n))
		return 0, false
	}
	v, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 10, 64)
	if err != nil {
		d.addf(n.Line, path, "must be a whole number written in decimal, got %q", n.Value)
		return 0, false
	}
	if v < 0 {
		d.addf(n.Line, path, "must not be negative, got %d", v)
		return 0, false
	}
	return v, true
}

// boolean reads true or false.
func (d *decoder) boolean(n *yaml.Node, path string) (bool, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		d.addf(n.Line, path, "must be true or false, got %s", describe(n))
		return false, false
	}
	v, err := strconv.ParseBool(strings.ToLower(n.Value))
	if err != nil {
		d.addf(n.Line, path, "must be true or false, got %q", n.Value)
		return false, false
	}
	return v, true
}

// list reads a sequence; each item is passed to item with its path.
func (d *decoder) list(n *yaml.Node, path string, item func(*yaml.Node, string)) bool {
	if n.Kind != yaml.SequenceNode {
		d.addf(n.Line, path, "must be a list, got %s", describe(n))
		return false
	}
	for i, it := range n.Content {
		item(it, index(path, i))
	}
	return true
}

// words reads a list of unique words from allowed.
func (d *decoder) words(n *yaml.Node, path string, allowed []string) ([]string, bool) {
	var out []string
	ok := d.list(n, path, func(it *yaml.Node, p string) {
		w, good := d.word(it, p, allowed)
		if !good {
			return
		}
		if slices.Contains(out, w) {
			d.addf(it.Line, p, "%q is listed twice", w)
			return
		}
		out = append(out, w)
	})
	return out, ok
}

// span reads a duration like 4h, 30d, 90m.
func (d *decoder) span(n *yaml.Node, path string) (Span, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		d.addf(n.Line, path, "must be a duration like 4h, 30d or 90m, got %s", describe(n))
		return Span{}, false
	}
	s, err := parseSpan(n.Value)
	if err != nil {
		d.addf(n.Line, path, "%v", err)
		return Span{}, false
	}
	return s, true
}

// checkPlain reports anchors, aliases and merge keys anywhere under n:
// regime files are read by people, so every value is written where it
// applies.
func (d *decoder) checkPlain(n *yaml.Node) bool {
	ok := true
	var walk func(*yaml.Node, int)
	walk = func(n *yaml.Node, depth int) {
		if depth > 64 {
			d.addf(n.Line, "", "nested too deeply")
			ok = false
			return
		}
		if n.Kind == yaml.AliasNode || n.Anchor != "" {
			d.addf(n.Line, "", "YAML anchors and aliases (&, *) are not allowed in regime files; write the value out")
			ok = false
			return
		}
		for _, c := range n.Content {
			walk(c, depth+1)
		}
	}
	walk(n, 0)
	return ok
}

func strs[T ~string](vs []T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}
