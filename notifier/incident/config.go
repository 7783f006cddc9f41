package incident

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/vigil-audit/vigil/internal/event"
)

//go:embed incident.yaml
var defaultConfig []byte

// Role is an operator's role in incident handling.
type Role string

// Roles.
const (
	RoleAnalyst Role = "analyst"
	RoleDPO     Role = "dpo"
	RoleAdmin   Role = "admin"
	RoleSystem  Role = "system"
)

var roles = []Role{RoleAnalyst, RoleDPO, RoleAdmin, RoleSystem}

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return slices.Contains(roles, r) }

// Permission is what one role may do: move an incident to any of To, from
// any state (From empty) or only from the states in From.
type Permission struct {
	From []event.IncidentState `yaml:"from"`
	To   []event.IncidentState `yaml:"to"`
}

// Allows reports whether p permits from → to.
func (p Permission) Allows(from, to event.IncidentState) bool {
	if len(p.From) > 0 && !slices.Contains(p.From, from) {
		return false
	}
	return slices.Contains(p.To, to)
}

// GroupingConfig says how alerts are grouped into incidents.
type GroupingConfig struct {
	// Window is how far apart (gap between activity) two alerts of the
	// same group key may be and still share an incident.
	Window time.Duration
	// By lists the dimensions of the group key: actor, device, rule_family.
	By []string
	// Families maps rule-id globs (path.Match syntax) to family names,
	// tried in sorted pattern order; unmatched ids use DefaultFamily.
	Families map[string]string
	// MaxOpen bounds the groups kept in memory; the least recently active
	// is evicted beyond it.
	MaxOpen int
}

// Config is the package's configuration: grouping, role permissions and
// the awareness sanity margin.
type Config struct {
	Grouping GroupingConfig
	// Roles is the permission table.
	Roles map[Role]Permission
	// AwarenessMargin is how far before the first alert's first_seen an
	// explicit awareness time may lie.
	AwarenessMargin time.Duration
	// ScopeMargin widens the scope window on both sides.
	ScopeMargin time.Duration
	// Jurisdictions maps org → regime ids.
	Jurisdictions map[string][]string
	// USStates maps org → the two-letter US state its patients live in,
	// for HIPAA's per-state media notice (more than 500 residents of a
	// State): the store's rows do not carry a subject's residence.
	USStates map[string]string
}

type fileConfig struct {
	Grouping struct {
		Window   string            `yaml:"window"`
		By       []string          `yaml:"by"`
		Families map[string]string `yaml:"families"`
		MaxOpen  int               `yaml:"max_open"`
	} `yaml:"grouping"`
	Roles           map[string]Permission `yaml:"roles"`
	AwarenessMargin string                `yaml:"awareness_margin"`
	ScopeMargin     string                `yaml:"scope_margin"`
	Jurisdictions   map[string][]string   `yaml:"jurisdictions"`
	USStates        map[string]string     `yaml:"us_states"`
}

// DefaultConfig returns the embedded default configuration (incident.yaml).
func DefaultConfig() Config {
	c, err := DecodeConfig("incident.yaml", bytes.NewReader(defaultConfig))
	if err != nil {
		panic(fmt.Sprintf("embedded incident.yaml: %v", err)) // a build defect, covered by tests
	}
	return c
}

// ErrConfig is wrapped by every configuration error.
var ErrConfig = errors.New("invalid incident config")

// DecodeConfig decodes a configuration strictly: unknown keys, unknown
// roles, states or grouping dimensions and bad durations are errors naming
// file:line and the key path ("roles.dpo.to[1]"); all wrap ErrConfig.
func DecodeConfig(name string, r io.Reader) (Config, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return Config{}, fmt.Errorf("%w: reading %s: %v", ErrConfig, name, err)
	}
	var fc fileConfig
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&fc); err != nil {
		if errors.Is(err, io.EOF) {
			return Config{}, fmt.Errorf("%w: %s: empty document", ErrConfig, name)
		}
		return Config{}, fmt.Errorf("%w: %s: %v", ErrConfig, name, err)
	}
	var root yaml.Node
	_ = yaml.Unmarshal(data, &root) // decoded above: only for line numbers
	bad := func(key, format string, a ...any) error {
		return fmt.Errorf("%w: %s:%d: %s: %s", ErrConfig, name, lineOf(&root, key), key, fmt.Sprintf(format, a...))
	}
	var c Config
	dur := func(key, s string, def time.Duration) (time.Duration, error) {
		if s == "" {
			return def, nil
		}
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			return 0, bad(key, "%q is not a non-negative duration", s)
		}
		return d, nil
	}
	if c.Grouping.Window, err = dur("grouping.window", fc.Grouping.Window, 24*time.Hour); err != nil {
		return Config{}, err
	}
	if c.Grouping.Window == 0 {
		return Config{}, bad("grouping.window", "must be positive")
	}
	if c.AwarenessMargin, err = dur("awareness_margin", fc.AwarenessMargin, time.Hour); err != nil {
		return Config{}, err
	}
	if c.ScopeMargin, err = dur("scope_margin", fc.ScopeMargin, 0); err != nil {
		return Config{}, err
	}
	c.Grouping.By = fc.Grouping.By
	if len(c.Grouping.By) == 0 {
		c.Grouping.By = []string{DimActor, DimDevice, DimRuleFamily}
	}
	for i, d := range c.Grouping.By {
		if !slices.Contains([]string{DimActor, DimDevice, DimRuleFamily}, d) {
			return Config{}, bad(fmt.Sprintf("grouping.by[%d]", i), "%q is not one of actor|device|rule_family", d)
		}
		if slices.Index(c.Grouping.By, d) != i {
			return Config{}, bad(fmt.Sprintf("grouping.by[%d]", i), "%q repeated", d)
		}
	}
	for pat, fam := range fc.Grouping.Families {
		if _, err := path.Match(pat, ""); err != nil {
			return Config{}, bad("grouping.families."+pat, "bad glob: %v", err)
		}
		if strings.TrimSpace(fam) == "" {
			return Config{}, bad("grouping.families."+pat, "empty family name")
		}
	}
	c.Grouping.Families = fc.Grouping.Families
	c.Grouping.MaxOpen = fc.Grouping.MaxOpen
	if c.Grouping.MaxOpen < 0 {
		return Config{}, bad("grouping.max_open", "must not be negative")
	}
	if c.Grouping.MaxOpen == 0 {
		c.Grouping.MaxOpen = 10000
	}
	if len(fc.Roles) == 0 {
		return Config{}, bad("roles", "required")
	}
	c.Roles = make(map[Role]Permission, len(fc.Roles))
	for rn, p := range fc.Roles {
		if !Role(rn).Valid() {
			return Config{}, bad("roles."+rn, "unknown role (analyst|dpo|admin|system)")
		}
		for i, s := range p.From {
			if !s.Valid() {
				return Config{}, bad(fmt.Sprintf("roles.%s.from[%d]", rn, i), "unknown state %q", s)
			}
		}
		for i, s := range p.To {
			if !s.Valid() {
				return Config{}, bad(fmt.Sprintf("roles.%s.to[%d]", rn, i), "unknown state %q", s)
			}
		}
		c.Roles[Role(rn)] = p
	}
	for org, regs := range fc.Jurisdictions {
		if org == "" || len(regs) == 0 {
			return Config{}, bad("jurisdictions."+org, "an org needs at least one regime")
		}
		for i, r := range regs {
			if strings.TrimSpace(r) == "" {
				return Config{}, bad(fmt.Sprintf("jurisdictions.%s[%d]", org, i), "empty regime id")
			}
		}
	}
	c.Jurisdictions = fc.Jurisdictions
	for org, st := range fc.USStates {
		if len(st) != 2 || strings.ToUpper(st) != st || strings.Trim(st, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
			return Config{}, bad("us_states."+org, "want a two-letter state code (CA, NY, …), got %q", st)
		}
	}
	c.USStates = fc.USStates
	return c, nil
}

// NeedsRoles returns the roles whose permission allows from → to, sorted.
func (c Config) NeedsRoles(from, to event.IncidentState) []Role {
	var out []Role
	for _, r := range roles {
		if p, ok := c.Roles[r]; ok && p.Allows(from, to) {
			out = append(out, r)
		}
	}
	return out
}

// lineOf returns the line of the node at a dotted key path ("roles.dpo.to[1]")
// in a YAML document, or of its nearest existing ancestor; 0 if unknown.
func lineOf(doc *yaml.Node, key string) int {
	n := doc
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := n.Line
	for _, part := range strings.Split(key, ".") {
		idx := -1
		if i := strings.IndexByte(part, '['); i >= 0 && strings.HasSuffix(part, "]") {
			fmt.Sscanf(part[i+1:len(part)-1], "%d", &idx)
			part = part[:i]
		}
		next := (*yaml.Node)(nil)
		if n.Kind == yaml.MappingNode {
			for j := 0; j+1 < len(n.Content); j += 2 {
				if n.Content[j].Value == part {
					next = n.Content[j+1]
					break
				}
			}
		}
		if next == nil {
			return line
		}
		n, line = next, next.Line
		if idx >= 0 && n.Kind == yaml.SequenceNode && idx < len(n.Content) {
			n, line = n.Content[idx], n.Content[idx].Line
		}
	}
	return line
}
