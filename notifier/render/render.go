package render

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"
	"text/template"
	"text/template/parse"
	"unicode/utf8"

	"github.com/vigil-audit/vigil/notifier/templates"
)

// Blocks every template file must define; no other blocks are allowed.
var requiredBlocks = []string{"subject", "text", "sms"}

// Rendered is one notice rendered for one recipient in one language.
// HTML is empty: this round ships plain-text templates only.
type Rendered struct {
	Subject string // one line, valid UTF-8, not encoded (the SMTP channel does RFC 2047)
	Text    string // the full notice
	SMS     string // a short pointer to the full notice
	HTML    string
}

// MissingFieldError says that a field a notice needs is missing or empty.
// No part of the notice is rendered when it is returned.
type MissingFieldError struct {
	Field, Regime, Kind, Lang string
}

func (e *MissingFieldError) Error() string {
	return fmt.Sprintf("render %s/%s in %s: required field %q is missing or empty", e.Regime, e.Kind, e.Lang, e.Field)
}

// UnknownLanguageError says that a template exists for the regime and kind
// but not in the requested language. Available lists the languages that do.
type UnknownLanguageError struct {
	Regime, Kind, Lang string
	Available          []string
}

func (e *UnknownLanguageError) Error() string {
	return fmt.Sprintf("render %s/%s: no template in language %q (available: %s)", e.Regime, e.Kind, e.Lang, strings.Join(e.Available, ", "))
}

// ErrNoTemplate is returned (wrapped) when no template exists for a regime
// and obligation kind in any language: the notice cannot be sent this way.
var ErrNoTemplate = errors.New("no template for this regime and obligation kind")

// Set is a checked set of notice templates. It is safe for concurrent use.
type Set struct {
	byKey map[key]*entry
}

type key struct{ regime, kind, lang string }

type entry struct {
	file   string
	tmpl   *template.Template
	fields []string // every field the template uses, sorted
}

// Default loads the templates embedded from notifier/templates.
func Default() (*Set, error) { return Load(templates.FS) }

var (
	nameRE = regexp.MustCompile(`^([a-z_]+)\.([A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*)\.tmpl$`)
	dirRE  = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
)

// Load reads every *.tmpl file of fsys, laid out as
// <regime>/<obligation-kind>.<lang>.tmpl, and checks it strictly: it must
// parse, define the blocks subject, text and sms (and no others), use only
// fields of the shared vocabulary (Fields) written as {{.field}}, and be for
// a known obligation kind. Files not ending in .tmpl are ignored. Errors
// name the file, and the line where the template text is at fault.
func Load(fsys fs.FS) (*Set, error) {
	s := &Set{byKey: map[key]*entry{}}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(p, ".tmpl") {
			return nil
		}
		dir, base := path.Split(p)
		dir = strings.TrimSuffix(dir, "/")
		m := nameRE.FindStringSubmatch(base)
		if strings.Contains(dir, "/") || !dirRE.MatchString(dir) || m == nil {
			return fmt.Errorf("template %s: path must be <regime>/<obligation-kind>.<lang>.tmpl", p)
		}
		if !slices.Contains(Kinds, m[1]) {
			return fmt.Errorf("template %s: unknown obligation kind %q (known: %s)", p, m[1], strings.Join(Kinds, ", "))
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return fmt.Errorf("template %s: %w", p, err)
		}
		e, err := parseFile(p, b)
		if err != nil {
			return err
		}
		k := key{dir, m[1], m[2]}
		for o := range s.byKey {
			if o.regime == k.regime && o.kind == k.kind && strings.EqualFold(o.lang, k.lang) {
				return fmt.Errorf("template %s: same language as %s", p, s.byKey[o].file)
			}
		}
		s.byKey[k] = e
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load notice templates: %w", err)
	}
	if len(s.byKey) == 0 {
		return nil, errors.New("load notice templates: no *.tmpl files found")
	}
	return s, nil
}

func parseFile(name string, b []byte) (*entry, error) {
	if !utf8.Valid(b) {
		return nil, fmt.Errorf("template %s: not valid UTF-8", name)
	}
	t, err := template.New(name).Option("missingkey=error").Parse(string(b))
	if err != nil {
		// text/template errors already carry "template: name:line:".
		return nil, err
	}
	for _, blk := range requiredBlocks {
		if bt := t.Lookup(blk); bt == nil || bt.Tree == nil || bt.Tree.Root == nil {
			return nil, fmt.Errorf("template %s: block %q is not defined ({{define %q}}…{{end}})", name, blk, blk)
		}
	}
	used := map[string]bool{}
	for _, tt := range t.Templates() {
		if tt.Tree == nil {
			continue
		}
		if tt.Name() != name && !slices.Contains(requiredBlocks, tt.Name()) {
			return nil, fmt.Errorf("template %s: block %q is not allowed (allowed: %s)", name, tt.Name(), strings.Join(requiredBlocks, ", "))
		}
		if tt.Name() == name && strings.TrimSpace(tt.Tree.Root.String()) != "" {
			loc, _ := tt.Tree.ErrorContext(tt.Tree.Root)
			return nil, fmt.Errorf("%s: text outside the blocks; put everything inside {{define}}…{{end}}", loc)
		}
		if err := walk(tt.Tree, tt.Tree.Root, used); err != nil {
			return nil, err
		}
	}
	e := &entry{file: name, tmpl: t}
	for f := range used {
		e.fields = append(e.fields, f)
	}
	sort.Strings(e.fields)
	return e, nil
}

// walk collects the fields a template uses and rejects what the checks
// cannot follow: unknown fields, nested fields, a bare "." and the builtins
// that read data around those checks.
func walk(tr *parse.Tree, n parse.Node, used map[string]bool) error {
	bad := func(n parse.Node, format string, a ...any) error {
		loc, _ := tr.ErrorContext(n)
		return fmt.Errorf("%s: %s", loc, fmt.Sprintf(format, a...))
	}
	field := func(n parse.Node, idents []string) error {
		if len(idents) != 1 {
			return bad(n, "field %q: fields are plain strings, write {{.name}}", strings.Join(idents, "."))
		}
		if !slices.Contains(Fields, idents[0]) {
			return bad(n, "unknown field %q (not in the notice vocabulary; see README.md)", idents[0])
		}
		used[idents[0]] = true
		return nil
	}
	switch n := n.(type) {
	case nil:
		return nil
	case *parse.ListNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Nodes {
			if err := walk(tr, c, used); err != nil {
				return err
			}
		}
	case *parse.ActionNode:
		return walk(tr, n.Pipe, used)
	case *parse.PipeNode:
		if n == nil {
			return nil
		}
		if len(n.Decl) > 0 {
			return bad(n, "variables are not supported; write {{.name}}")
		}
		for _, c := range n.Cmds {
			if err := walk(tr, c, used); err != nil {
				return err
			}
		}
	case *parse.CommandNode:
		for _, a := range n.Args {
			if err := walk(tr, a, used); err != nil {
				return err
			}
		}
	case *parse.FieldNode:
		return field(n, n.Ident)
	case *parse.VariableNode:
		if len(n.Ident) == 2 && n.Ident[0] == "$" {
			return field(n, n.Ident[1:])
		}
		return bad(n, "variable %q: write {{.name}}", n.String())
	case *parse.ChainNode:
		return bad(n, "%q: write {{.name}}", n.String())
	case *parse.DotNode:
		return bad(n, "a bare \".\" is not allowed; write {{.name}}")
	case *parse.IdentifierNode:
		switch n.Ident {
		case "index", "call", "slice", "js", "html", "urlquery", "print", "printf", "println", "len":
			return bad(n, "function %q is not allowed in notice templates", n.Ident)
		}
	case *parse.IfNode:
		return walkBranch(tr, &n.BranchNode, used)
	case *parse.WithNode:
		return bad(n, "{{with}} is not allowed; use {{if .name}}")
	case *parse.RangeNode:
		return bad(n, "{{range}} is not allowed; lists arrive as one rendered string")
	case *parse.TemplateNode:
		return bad(n, "{{template}} is not allowed; each block stands alone")
	}
	return nil
}

func walkBranch(tr *parse.Tree, b *parse.BranchNode, used map[string]bool) error {
	for _, n := range []parse.Node{b.Pipe, b.List, b.ElseList} {
		if l, ok := n.(*parse.ListNode); ok && l == nil {
			continue
		}
		if err := walk(tr, n, used); err != nil {
			return err
		}
	}
	return nil
}

// Languages returns the languages a template exists in for regime and kind,
// sorted; nil when there is none. Choosing a fallback when a recipient has
// no language (e.g. zh-CN for PIPL) is the caller's rule.
func (s *Set) Languages(regime, kind string) []string {
	var out []string
	for k := range s.byKey {
		if k.regime == regime && k.kind == kind {
			out = append(out, k.lang)
		}
	}
	sort.Strings(out)
	return out
}

// Fields returns the fields the template for regime, kind and lang uses,
// sorted (all of them are required), or nil when there is no such template.
func (s *Set) Fields(regime, kind, lang string) []string {
	e, _ := s.lookup(regime, kind, lang)
	if e == nil {
		return nil
	}
	return slices.Clone(e.fields)
}

func (s *Set) lookup(regime, kind, lang string) (*entry, error) {
	for k, e := range s.byKey {
		if k.regime == regime && k.kind == kind && strings.EqualFold(k.lang, lang) {
			return e, nil
		}
	}
	avail := s.Languages(regime, kind)
	if len(avail) == 0 {
		return nil, fmt.Errorf("render %s/%s: %w", regime, kind, ErrNoTemplate)
	}
	return nil, &UnknownLanguageError{Regime: regime, Kind: kind, Lang: lang, Available: avail}
}

// Render renders the notice for regime, obligation kind and language with
// fields. Every name in required (the regime's required fields) and every
// field the template uses must be present and not blank, otherwise it
// returns a *MissingFieldError naming the first one (required first, in
// order, then the template's fields in alphabetical order) and nothing else.
// Fields the template does not use are ignored. Values are inserted as plain
// text, verbatim in Text; in Subject and SMS runs of white space (including
// line breaks) become one space. A value that is not valid UTF-8 is an error.
func (s *Set) Render(regime, kind, lang string, fields map[string]string, required []string) (Rendered, error) {
	e, err := s.lookup(regime, kind, lang)
	if err != nil {
		return Rendered{}, err
	}
	for _, list := range [][]string{required, e.fields} {
		for _, f := range list {
			v, ok := fields[f]
			if !ok || strings.TrimSpace(v) == "" {
				return Rendered{}, &MissingFieldError{Field: f, Regime: regime, Kind: kind, Lang: lang}
			}
		}
	}
	for _, f := range e.fields {
		if !utf8.ValidString(fields[f]) {
			return Rendered{}, fmt.Errorf("render %s/%s in %s: field %q is not valid UTF-8", regime, kind, lang, f)
		}
	}
	data := make(map[string]string, len(e.fields))
	for _, f := range e.fields {
		data[f] = fields[f]
	}
	var out [3]string
	for i, blk := range requiredBlocks {
		var b strings.Builder
		if err := e.tmpl.ExecuteTemplate(&b, blk, data); err != nil {
			return Rendered{}, fmt.Errorf("render %s/%s in %s, block %s: %w", regime, kind, lang, blk, err)
		}
		out[i] = b.String()
	}
	return Rendered{
		Subject: oneLine(out[0]),
		Text:    out[1],
		SMS:     oneLine(out[2]),
	}, nil
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
