package config

import (
	"bytes"
	"encoding"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"
)

// EnvPrefix starts every environment variable the loader reads.
const EnvPrefix = "VIGIL_"

// MaxFileBytes bounds the size of a configuration file; a larger file is
// rejected before it is parsed.
const MaxFileBytes = 4 << 20

// Source says where configuration values come from. Later layers override
// earlier ones: defaults (already in the destination) < File < Env < Flags.
type Source struct {
	// File is the path of a YAML file. Empty means no file.
	File string
	// Env is the process environment as "KEY=value" strings (os.Environ()).
	// Nil means no environment.
	Env []string
	// Flags maps a key path ("http.listen") to the raw value given on the
	// command line. Each entry is labelled with the flag name in Origins.
	Flags map[string]string
	// FlagNames maps a key path to the flag that set it, for error messages.
	// Optional.
	FlagNames map[string]string
	// Reserved lists VIGIL_ environment variables the caller reads itself
	// (for example a secret with no YAML key); Load neither sets nor warns
	// about them.
	Reserved []string
}

// Problem is one thing wrong with the configuration.
type Problem struct {
	// Key is the YAML key path, e.g. "bus.sasl.mechanism" or "bus.brokers[1]".
	Key string
	// Origin says where the value came from: "vigil.yml:12", "env VIGIL_HTTP_LISTEN",
	// "flag --listen". Empty for cross-field checks.
	Origin string
	// Reason says what is wrong, e.g. "unknown key" or "required".
	Reason string
}

func (p Problem) String() string {
	var b strings.Builder
	if p.Origin != "" {
		b.WriteString(p.Origin)
		b.WriteString(": ")
	}
	if p.Key != "" {
		b.WriteString(p.Key)
		b.WriteString(": ")
	}
	b.WriteString(p.Reason)
	return b.String()
}

// Error lists every problem found while loading or validating a
// configuration. Callers print it and exit; it is never partial.
type Error struct {
	Problems []Problem
}

func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	if len(lines) == 1 {
		return "invalid configuration: " + lines[0]
	}
	return "invalid configuration:\n  " + strings.Join(lines, "\n  ")
}

// Validator is implemented by configuration structs that check their own
// values. Keys in the returned problems are relative to the struct; Validate
// prefixes them with the struct's path.
type Validator interface {
	Validate() []Problem
}

// Load fills dst, a pointer to a struct whose fields carry `yaml` tags and
// already hold the defaults, from src. It returns warnings (for example an
// environment variable that looks like Vigil's but names no key) and an *Error
// listing every problem. Values are decoded strictly: unknown keys, wrong
// types and malformed durations are problems, each with its key path.
func Load(dst any, src Source) (warnings []string, err error) {
	rv := reflect.ValueOf(dst)
	if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
		return nil, fmt.Errorf("config.Load: destination must be a pointer to a struct, got %T", dst)
	}
	var probs []Problem
	if src.File != "" {
		probs = append(probs, loadFile(rv.Elem(), src.File)...)
	}
	w, p := loadEnv(rv.Elem(), src.Env, src.Reserved)
	warnings = append(warnings, w...)
	probs = append(probs, p...)
	keys := make([]string, 0, len(src.Flags))
	for k := range src.Flags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		origin := "flag"
		if n := src.FlagNames[k]; n != "" {
			origin = "flag --" + n
		}
		if err := Set(dst, k, src.Flags[k]); err != nil {
			probs = append(probs, Problem{Key: k, Origin: origin, Reason: err.Error()})
		}
	}
	if len(probs) > 0 {
		return warnings, &Error{Problems: probs}
	}
	return warnings, nil
}

// Validate walks v (a struct or pointer to one) and calls Validate on every
// struct that implements Validator, prefixing the keys of the problems with
// the struct's path. It returns an *Error or nil.
func Validate(v any) error {
	var probs []Problem
	validateValue(reflect.ValueOf(v), "", &probs)
	if len(probs) > 0 {
		return &Error{Problems: probs}
	}
	return nil
}

// timeType is time.Time: a struct, but a scalar in YAML (RFC 3339).
var timeType = reflect.TypeFor[time.Time]()

func validateValue(v reflect.Value, path string, probs *[]Problem) {
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return
	}
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, ok := yamlName(f)
		if !ok {
			continue
		}
		fv := v.Field(i)
		if isInline(f) {
			validateValue(fv, path, probs)
			continue
		}
		switch {
		case fv.Kind() == reflect.Struct || (fv.Kind() == reflect.Pointer && fv.Type().Elem().Kind() == reflect.Struct):
			validateValue(fv, join(path, name), probs)
		case fv.Kind() == reflect.Slice && fv.Type().Elem().Kind() == reflect.Struct:
			for j := 0; j < fv.Len(); j++ {
				validateValue(fv.Index(j), fmt.Sprintf("%s[%d]", join(path, name), j), probs)
			}
		}
	}
	if v.CanAddr() {
		if val, ok := v.Addr().Interface().(Validator); ok {
			for _, p := range val.Validate() {
				p.Key = join(path, p.Key)
				*probs = append(*probs, p)
			}
			return
		}
	}
	if val, ok := v.Interface().(Validator); ok {
		for _, p := range val.Validate() {
			p.Key = join(path, p.Key)
			*probs = append(*probs, p)
		}
	}
}

func join(path, key string) string {
	switch {
	case path == "":
		return key
	case key == "":
		return path
	case strings.HasPrefix(key, "["):
		return path + key
	}
	return path + "." + key
}

// yamlName returns the YAML key of a struct field, and false for fields the
// loader ignores (unexported or tagged "-").
func yamlName(f reflect.StructField) (string, bool) {
	if !f.IsExported() {
		return "", false
	}
	tag := f.Tag.Get("yaml")
	name, _, _ := strings.Cut(tag, ",")
	if name == "-" {
		return "", false
	}
	if name == "" {
		name = strings.ToLower(f.Name)
	}
	return name, true
}

func loadFile(dst reflect.Value, path string) []Problem {
	f, err := os.Open(path)
	if err != nil {
		return []Problem{{Origin: path, Reason: fmt.Sprintf("cannot read config file: %v", unwrapPath(err))}}
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return []Problem{{Origin: path, Reason: fmt.Sprintf("cannot read config file: %v", err)}}
	}
	if len(data) > MaxFileBytes {
		return []Problem{{Origin: path, Reason: fmt.Sprintf("file is larger than %d bytes", MaxFileBytes)}}
	}
	return loadYAML(dst, path, data)
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func loadYAML(dst reflect.Value, name string, data []byte) []Problem {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // only comments
		}
		return []Problem{{Origin: name, Reason: "not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return []Problem{{Origin: fmt.Sprintf("%s:%d", name, extra.Line), Reason: "more than one YAML document; put the whole configuration in one"}}
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return nil
	}
	var probs []Problem
	decodeNode(dst, root, "", name, &probs)
	return probs
}

func origin(file string, n *yaml.Node) string {
	return fmt.Sprintf("%s:%d", file, n.Line)
}

var (
	durationType        = reflect.TypeFor[time.Duration]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// decodeNode decodes n into v, reporting problems with key paths.
func decodeNode(v reflect.Value, n *yaml.Node, path, file string, probs *[]Problem) {
	if n.Kind == yaml.AliasNode {
		// Aliases are refused: walking them expands the document, and a
		// few nested aliases expand to billions of nodes.
		*probs = append(*probs, Problem{Key: path, Origin: origin(file, n), Reason: "YAML aliases (*" + n.Value + ") are not supported: write the value out"})
		return
	}
	// A null leaves the default in place.
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return
	}
	if reflect.PointerTo(v.Type()).Implements(textUnmarshalerType) && (v.Kind() != reflect.Struct || v.Type() == timeType) {
		if n.Kind != yaml.ScalarNode {
			*probs = append(*probs, Problem{Key: path, Origin: origin(file, n), Reason: "wrong type: want a scalar, got " + kindName(n)})
			return
		}
		if err := setScalar(v, n.Value); err != nil {
			*probs = append(*probs, Problem{Key: path, Origin: origin(file, n), Reason: err.Error()})
		}
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			*probs = append(*probs, Problem{Key: path, Origin: origin(file, n), Reason: "wrong type: want a mapping, got " + kindName(n)})
			return
		}
		fields := structFields(v.Type())
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			key := k.Value
			kp := join(path, key)
			if seen[key] {
				*probs = append(*probs, Problem{Key: kp, Origin: origin(file, k), Reason: "duplicate key"})
				continue
			}
			seen[key] = true
			idx, ok := fields[key]
			if !ok {
				*probs = append(*probs, Problem{Key: kp, Origin: origin(file, k), Reason: "unknown key" + suggest(key, fields)})
				continue
			}
			decodeNode(v.FieldByIndex(idx), val, kp, file, probs)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			*probs = append(*probs, Problem{Key: path, Origin: origin(file, n), Reason: "wrong type: want a list, got " + kindName(n)})
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			decodeNode(s.Index(i), item, fmt.Sprintf("%s[%d]", path, i), file, probs)
		}
		v.Set(s)
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			*probs = append(*probs, Problem{Key: path, Origin: origin(file, n), Reason: "wrong type: want a mapping, got " + kindName(n)})
			return
		}
		m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			kp := join(path, k.Value)
			kv := reflect.New(v.Type().Key()).Elem()
			if err := setScalar(kv, k.Value); err != nil {
				*probs = append(*probs, Problem{Key: kp, Origin: origin(file, k), Reason: "bad key: " + err.Error()})
				continue
			}
			if m.MapIndex(kv).IsValid() {
				*probs = append(*probs, Problem{Key: kp, Origin: origin(file, k), Reason: "duplicate key"})
				continue
			}
			ev := reflect.New(v.Type().Elem()).Elem()
			decodeNode(ev, val, kp, file, probs)
			m.SetMapIndex(kv, ev)
		}
		v.Set(m)
	default:
		if n.Kind != yaml.ScalarNode {
			*probs = append(*probs, Problem{Key: path, Origin: origin(file, n), Reason: fmt.Sprintf("wrong type: want %s, got %s", typeName(v.Type()), kindName(n))})
			return
		}
		if err := setScalar(v, n.Value); err != nil {
			*probs = append(*probs, Problem{Key: path, Origin: origin(file, n), Reason: err.Error()})
		}
	}
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	}
	return "an unsupported YAML node"
}

func typeName(t reflect.Type) string {
	if t == durationType {
		return "a duration"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a non-negative integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "a mapping"
	}
	return t.String()
}

func structFields(t reflect.Type) map[string][]int {
	m := make(map[string][]int, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, ok := yamlName(f)
		if !ok {
			continue
		}
		if isInline(f) {
			for k, idx := range structFields(f.Type) {
				m[k] = append([]int{i}, idx...)
			}
			continue
		}
		m[name] = []int{i}
	}
	return m
}

// isInline reports a struct field tagged `yaml:",inline"`: its keys are
// the keys of the struct that holds it.
func isInline(f reflect.StructField) bool {
	_, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	return f.Type.Kind() == reflect.Struct && slices.Contains(strings.Split(opts, ","), "inline")
}

// suggest names a known key that is one edit away from a mistyped one.
func suggest(key string, fields map[string][]int) string {
	best, bestD := "", 3
	for k := range fields {
		if d := editDistance(key, k); d < bestD || (d == bestD && k < best) {
			best, bestD = k, d
		}
	}
	if best == "" {
		known := make([]string, 0, len(fields))
		for k := range fields {
			known = append(known, k)
		}
		sort.Strings(known)
		return " (known keys: " + strings.Join(known, ", ") + ")"
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// Closest returns the candidate nearest to s by edit distance when it is
// at most maxDist edits away (a likely typo), else "". Ties go to the
// earlier candidate.
func Closest(s string, candidates []string, maxDist int) string {
	best, bestD := "", maxDist+1
	for _, c := range candidates {
		if d := editDistance(s, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

func editDistance(a, b string) int {
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

// setScalar parses s into v according to v's type.
func setScalar(v reflect.Value, s string) error {
	if v.CanAddr() {
		if tu, ok := v.Addr().Interface().(encoding.TextUnmarshaler); ok {
			if err := tu.UnmarshalText([]byte(s)); err != nil {
				return err
			}
			return nil
		}
	}
	if v.Type() == durationType {
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("wrong type: want a duration such as 500ms, 30s or 2h, got %q", s)
		}
		v.SetInt(int64(d))
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("wrong type: want true or false, got %q", s)
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		i, err := strconv.ParseInt(strings.ReplaceAll(s, "_", ""), 0, v.Type().Bits())
		if err != nil {
			return fmt.Errorf("wrong type: want an integer, got %q", s)
		}
		v.SetInt(i)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		u, err := strconv.ParseUint(strings.ReplaceAll(s, "_", ""), 0, v.Type().Bits())
		if err != nil {
			return fmt.Errorf("wrong type: want a non-negative integer, got %q", s)
		}
		v.SetUint(u)
	case reflect.Float32, reflect.Float64:
		f, err := strconv.ParseFloat(s, v.Type().Bits())
		if err != nil {
			return fmt.Errorf("wrong type: want a number, got %q", s)
		}
		v.SetFloat(f)
	case reflect.Slice:
		// Comma-separated list, as given in an environment variable or flag.
		var parts []string
		if strings.TrimSpace(s) != "" {
			parts = strings.Split(s, ",")
		}
		sl := reflect.MakeSlice(v.Type(), len(parts), len(parts))
		for i, p := range parts {
			if err := setScalar(sl.Index(i), strings.TrimSpace(p)); err != nil {
				return fmt.Errorf("item %d: %w", i, err)
			}
		}
		v.Set(sl)
	case reflect.Map:
		// Comma-separated key=value pairs.
		m := reflect.MakeMap(v.Type())
		if strings.TrimSpace(s) != "" {
			for _, p := range strings.Split(s, ",") {
				k, val, ok := strings.Cut(p, "=")
				if !ok {
					return fmt.Errorf("wrong type: want key=value pairs separated by commas, got %q", p)
				}
				kv := reflect.New(v.Type().Key()).Elem()
				if err := setScalar(kv, strings.TrimSpace(k)); err != nil {
					return fmt.Errorf("key %q: %w", k, err)
				}
				ev := reflect.New(v.Type().Elem()).Elem()
				if err := setScalar(ev, strings.TrimSpace(val)); err != nil {
					return fmt.Errorf("value of %q: %w", k, err)
				}
				m.SetMapIndex(kv, ev)
			}
		}
		v.Set(m)
	default:
		return fmt.Errorf("wrong type: %s cannot be set from text", typeName(v.Type()))
	}
	return nil
}

// Set assigns the raw value s to the field at key path (for example
// "bus.sasl.mechanism") of dst, a pointer to a struct. Lists are given
// comma-separated and maps as k=v pairs.
func Set(dst any, path, s string) error {
	v := reflect.ValueOf(dst)
	if v.Kind() != reflect.Pointer {
		return fmt.Errorf("config.Set: destination must be a pointer, got %T", dst)
	}
	v = v.Elem()
	for _, part := range strings.Split(path, ".") {
		if v.Kind() != reflect.Struct {
			return errors.New("unknown key")
		}
		idx, ok := structFields(v.Type())[part]
		if !ok {
			return errors.New("unknown key")
		}
		v = v.FieldByIndex(idx)
	}
	if v.Kind() == reflect.Struct && !reflect.PointerTo(v.Type()).Implements(textUnmarshalerType) {
		return errors.New("is a section, not a value")
	}
	return setScalar(v, s)
}

// Leaf is one settable value of a configuration struct.
type Leaf struct {
	Key string // "bus.sasl.mechanism"
	Env string // "VIGIL_BUS_SASL_MECHANISM"
	Doc string // the field's `doc` tag, if any
}

// Leaves lists every settable value of the struct type of v, in field order.
func Leaves(v any) []Leaf {
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var out []Leaf
	leaves(t, "", &out)
	return out
}

func leaves(t reflect.Type, path string, out *[]Leaf) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, ok := yamlName(f)
		if !ok {
			continue
		}
		kp := join(path, name)
		if isInline(f) {
			leaves(f.Type, path, out)
			continue
		}
		if f.Type.Kind() == reflect.Struct && !reflect.PointerTo(f.Type).Implements(textUnmarshalerType) {
			leaves(f.Type, kp, out)
			continue
		}
		*out = append(*out, Leaf{Key: kp, Env: EnvName(kp), Doc: f.Tag.Get("doc")})
	}
}

// EnvName is the environment variable for a key path:
// "bus.sasl.mechanism" → "VIGIL_BUS_SASL_MECHANISM".
func EnvName(key string) string {
	return EnvPrefix + strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(key))
}

// envIgnored lists VIGIL_ variables that are not configuration keys.
var envIgnored = []string{"VIGIL_CONFIG", "VIGIL_TEST_", "VIGIL_SERVICES_"}

func loadEnv(dst reflect.Value, env, reserved []string) (warnings []string, probs []Problem) {
	if len(env) == 0 {
		return nil, nil
	}
	known := map[string]string{}
	for _, l := range Leaves(dst.Addr().Interface()) {
		known[l.Env] = l.Key
		known[l.Env+"_FILE"] = l.Key
	}
	vals := map[string]string{}
	for _, kv := range env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(k, EnvPrefix) {
			continue
		}
		vals[k] = v
	}
	names := make([]string, 0, len(vals))
	for k := range vals {
		names = append(names, k)
	}
	sort.Strings(names)
	ptr := dst.Addr().Interface()
	for _, name := range names {
		key, ok := known[name]
		if !ok {
			if !ignoredEnv(name) && !slices.Contains(reserved, name) {
				warnings = append(warnings, fmt.Sprintf("environment variable %s names no configuration key; ignored", name))
			}
			continue
		}
		val := vals[name]
		if strings.HasSuffix(name, "_FILE") && !strings.HasSuffix(EnvName(key), "_FILE") {
			if _, direct := vals[strings.TrimSuffix(name, "_FILE")]; direct {
				probs = append(probs, Problem{Key: key, Origin: "env " + name, Reason: "both " + strings.TrimSuffix(name, "_FILE") + " and " + name + " are set; set one"})
				continue
			}
			b, err := readSecretFile(val)
			if err != nil {
				probs = append(probs, Problem{Key: key, Origin: "env " + name, Reason: err.Error()})
				continue
			}
			val = b
		}
		if err := Set(ptr, key, val); err != nil {
			probs = append(probs, Problem{Key: key, Origin: "env " + name, Reason: err.Error()})
		}
	}
	return warnings, probs
}

func ignoredEnv(name string) bool {
	for _, p := range envIgnored {
		if name == p || (strings.HasSuffix(p, "_") && strings.HasPrefix(name, p)) {
			return true
		}
	}
	return false
}

// readSecretFile reads a value (a password, a token) from a file, dropping one
// trailing newline. It refuses files over 64 KiB.
func readSecretFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("cannot read %s: %v", path, unwrapPath(err))
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 64<<10+1))
	if err != nil {
		return "", fmt.Errorf("cannot read %s: %v", path, err)
	}
	if len(b) > 64<<10 {
		return "", fmt.Errorf("%s is larger than 64 KiB", path)
	}
	return strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r"), nil
}

// ReadSecretFile reads a secret from a file as the loader does for *_FILE
// environment variables.
func ReadSecretFile(path string) (string, error) { return readSecretFile(path) }

// Get returns the value at key path of v (a struct or pointer to one) as text:
// lists comma-separated, maps as sorted k=v pairs. It reports false for an
// unknown path.
func Get(v any, path string) (string, bool) {
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer {
		rv = rv.Elem()
	}
	for _, part := range strings.Split(path, ".") {
		if rv.Kind() != reflect.Struct {
			return "", false
		}
		idx, ok := structFields(rv.Type())[part]
		if !ok {
			return "", false
		}
		rv = rv.FieldByIndex(idx)
	}
	return format(rv), true
}

func format(v reflect.Value) string {
	if v.CanInterface() {
		if s, ok := v.Interface().(fmt.Stringer); ok && v.Kind() != reflect.Struct {
			return s.String()
		}
	}
	switch v.Kind() {
	case reflect.Slice:
		parts := make([]string, v.Len())
		for i := range parts {
			parts[i] = format(v.Index(i))
		}
		return strings.Join(parts, ",")
	case reflect.Map:
		parts := make([]string, 0, v.Len())
		for _, k := range v.MapKeys() {
			parts = append(parts, format(k)+"="+format(v.MapIndex(k)))
		}
		sort.Strings(parts)
		return strings.Join(parts, ",")
	}
	return fmt.Sprint(v.Interface())
}

// FromError turns the error of a Validate() error method (one problem per
// line, as errors.Join makes) into problems. Each line that starts with
// prefix has it removed, so that Validate can prefix the key path where the
// section really sits; other lines are kept whole as reasons.
func FromError(err error, prefix string) []Problem {
	if err == nil {
		return nil
	}
	var ps []Problem
	for _, line := range strings.Split(err.Error(), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if rest, ok := strings.CutPrefix(line, prefix); ok && prefix != "" {
			if key, reason, ok := strings.Cut(rest, ": "); ok {
				ps = append(ps, Problem{Key: key, Reason: reason})
				continue
			}
		}
		ps = append(ps, Problem{Reason: line})
	}
	return ps
}
