package incident

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/vigil-audit/vigil/internal/event"
)

// Grouping dimensions.
const (
	DimActor      = "actor"
	DimDevice     = "device"
	DimRuleFamily = "rule_family"
)

// Group is the grouper's view of one incident: the alerts it holds and the
// span of their activity.
type Group struct {
	IncidentID string `json:"incident_id"`
	Org        string `json:"org"`
	Key        string `json:"key"`
	ActorID    string `json:"actor_id,omitempty"`
	DeviceID   string `json:"device_id,omitempty"`
	Family     string `json:"family"`
	// FirstSeen and LastSeen span the first_seen … last_seen of its alerts.
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	// DetectedAt is the window start of the alert that opened it.
	DetectedAt time.Time      `json:"detected_at"`
	Severity   event.Severity `json:"severity"`
	// Alerts maps alert id → its latest severity and status.
	Alerts map[string]AlertState `json:"alerts"`
}

// AlertState is what the group keeps of one alert.
type AlertState struct {
	Severity event.Severity    `json:"severity"`
	Status   event.AlertStatus `json:"status"`
}

// AlertIDs returns the group's alert ids, sorted.
func (g *Group) AlertIDs() []string { return slices.Sorted(maps.Keys(g.Alerts)) }

// AllClosed reports whether every alert of g is closed (false positive,
// authorized or duplicate).
func (g *Group) AllClosed() bool {
	for _, a := range g.Alerts {
		if !closed(a.Status) {
			return false
		}
	}
	return len(g.Alerts) > 0
}

// Decision says what one alert did.
type Decision struct {
	// Outcome is one of Opened, Joined, Updated, Ignored.
	Outcome Outcome
	// Group is a copy of the incident's group after the alert (nil when
	// Ignored).
	Group *Group
	// AllClosed is set when every alert of the incident is now closed: the
	// service may dismiss the incident as the system ("all alerts closed")
	// if it is still detected; the grouper itself only flags it.
	AllClosed bool
}

// Outcome of one alert in the grouper.
type Outcome string

// Outcomes.
const (
	Opened  Outcome = "opened"  // the alert opened a new incident
	Joined  Outcome = "joined"  // the alert joined an open incident
	Updated Outcome = "updated" // a known alert's record changed
	Ignored Outcome = "ignored" // a closed alert that belongs to no incident
)

// Stats counts the grouper's work.
type Stats struct {
	Open    int   `json:"open"`
	Evicted int64 `json:"evicted"`
}

// Grouper assigns alerts to incidents. It is not safe for concurrent use.
type Grouper struct {
	cfg      GroupingConfig
	patterns []string
	byKey    map[string]*Group // group key → current group
	byAlert  map[string]*Group // alert id → its group
	evicted  int64
}

// NewGrouper returns an empty Grouper.
func NewGrouper(cfg GroupingConfig) *Grouper {
	return &Grouper{cfg: cfg, patterns: slices.Sorted(maps.Keys(cfg.Families)),
		byKey: map[string]*Group{}, byAlert: map[string]*Group{}}
}

// Family returns the rule family of ruleID: the family of the first glob
// (in sorted order) that matches it, or the id without its last dashed or
// dotted segment ("vigil-access-020" → "vigil-access"), or the id itself
// when it has a single segment.
func (g *Grouper) Family(ruleID string) string {
	for _, p := range g.patterns {
		if ok, _ := path.Match(p, ruleID); ok {
			return g.cfg.Families[p]
		}
	}
	if i := strings.LastIndexAny(ruleID, "-."); i > 0 {
		return ruleID[:i]
	}
	return ruleID
}

func closed(s event.AlertStatus) bool {
	return s == event.AlertClosedFalsePositive || s == event.AlertClosedAuthorized || s == event.AlertClosedDuplicate
}

// key returns the group key of a and its family.
func (g *Grouper) key(a *event.Alert) (string, string) {
	fam := g.Family(a.RuleID)
	parts := []string{"org=" + a.Org}
	for _, d := range g.cfg.By {
		switch d {
		case DimActor:
			parts = append(parts, "actor="+a.ActorID)
		case DimDevice:
			parts = append(parts, "device="+a.DeviceID)
		case DimRuleFamily:
			parts = append(parts, "family="+fam)
		}
	}
	return strings.Join(parts, "\x1f"), fam
}

// IncidentID is the deterministic id of the incident opened by an alert:
// "inc-" and the first 16 bytes of SHA-256 over org, group key and the
// opening alert's window start (RFC 3339, ms), NUL-separated. The same
// alerts in the same order therefore give the same incidents.
func IncidentID(org, key string, windowStart time.Time) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s", org, key, windowStart.UTC().Format("2006-01-02T15:04:05.000Z07:00"))
	return "inc-" + hex.EncodeToString(h.Sum(nil)[:16])
}

// Add takes one alert record (possibly a repeat of a known alert id with
// new counts or status) and says which incident it opened, joined or
// updated. A new alert joins the current group of its key when its
// activity lies within the window of the group's activity (gap ≤ Window);
// otherwise it opens a new incident. A closed alert never opens one.
func (g *Grouper) Add(a *event.Alert) Decision {
	first, last := a.FirstSeen.Time, a.LastSeen.Time
	if first.IsZero() {
		first = a.WindowStart.Time
	}
	if last.IsZero() || last.Before(first) {
		last = first
	}
	if grp, ok := g.byAlert[a.AlertID]; ok {
		grp.Alerts[a.AlertID] = AlertState{Severity: a.Severity, Status: a.Status}
		grp.extend(first, last)
		grp.Severity = maxSeverity(grp.Alerts)
		return Decision{Outcome: Updated, Group: grp.clone(), AllClosed: grp.AllClosed()}
	}
	if closed(a.Status) {
		return Decision{Outcome: Ignored}
	}
	key, fam := g.key(a)
	if grp, ok := g.byKey[key]; ok && first.Before(grp.LastSeen.Add(g.cfg.Window+1)) && last.After(grp.FirstSeen.Add(-g.cfg.Window-1)) {
		grp.Alerts[a.AlertID] = AlertState{Severity: a.Severity, Status: a.Status}
		g.byAlert[a.AlertID] = grp
		grp.extend(first, last)
		grp.Severity = maxSeverity(grp.Alerts)
		return Decision{Outcome: Joined, Group: grp.clone()}
	}
	if old, ok := g.byKey[key]; ok {
		g.drop(old) // its window is over: later alerts of the key open anew
	}
	grp := &Group{IncidentID: IncidentID(a.Org, key, a.WindowStart.Time), Org: a.Org, Key: key,
		Family: fam, FirstSeen: first, LastSeen: last, DetectedAt: a.WindowStart.UTC(), Severity: a.Severity,
		Alerts: map[string]AlertState{a.AlertID: {Severity: a.Severity, Status: a.Status}}}
	grp.ActorID, grp.DeviceID = g.who(a.ActorID, a.DeviceID)
	g.byKey[key] = grp
	g.byAlert[a.AlertID] = grp
	g.evict()
	return Decision{Outcome: Opened, Group: grp.clone()}
}

// Seed adds the group of an incident recorded before a restart — its key
// from the incident's org, actor, device and opening rule (ruleID) — so
// that later alerts of that key join it as they would have without the
// restart. The incident's alerts are taken as open with its severity. A
// group already held for the key is kept if its activity is more recent;
// a group that already holds the incident is left alone.
func (g *Grouper) Seed(inc *event.Incident, ruleID string) {
	if inc.IncidentID == "" || len(inc.AlertIDs) == 0 {
		return
	}
	for _, id := range inc.AlertIDs {
		if _, ok := g.byAlert[id]; ok {
			return
		}
	}
	a := event.Alert{Org: inc.Org, ActorID: inc.ActorID, DeviceID: inc.DeviceID, RuleID: ruleID}
	key, fam := g.key(&a)
	first, last := inc.WindowStart.Time, inc.WindowEnd.Time
	if first.IsZero() {
		first = inc.DetectedAt.Time
	}
	if last.Before(first) {
		last = first
	}
	if cur, ok := g.byKey[key]; ok {
		if !cur.LastSeen.Before(last) {
			return
		}
		g.drop(cur)
	}
	grp := &Group{IncidentID: inc.IncidentID, Org: inc.Org, Key: key, Family: fam, FirstSeen: first, LastSeen: last,
		DetectedAt: inc.DetectedAt.UTC(), Severity: inc.Severity, Alerts: map[string]AlertState{}}
	grp.ActorID, grp.DeviceID = g.who(inc.ActorID, inc.DeviceID)
	for _, id := range inc.AlertIDs {
		grp.Alerts[id] = AlertState{Severity: inc.Severity, Status: event.AlertOpen}
		g.byAlert[id] = grp
	}
	g.byKey[key] = grp
	g.evict()
}

// who returns the actor and device a group names: those of the grouping
// dimensions, or both when the dimensions name neither.
func (g *Grouper) who(actor, device string) (string, string) {
	var a, d string
	if slices.Contains(g.cfg.By, DimActor) {
		a = actor
	}
	if slices.Contains(g.cfg.By, DimDevice) {
		d = device
	}
	if a == "" && d == "" {
		return actor, device
	}
	return a, d
}

// Stats returns the open group count and evictions so far.
func (g *Grouper) Stats() Stats { return Stats{Open: len(g.byKey), Evicted: g.evicted} }

// evict drops the least recently active groups beyond MaxOpen (ties by
// incident id), counting each.
func (g *Grouper) evict() {
	for g.cfg.MaxOpen > 0 && len(g.byKey) > g.cfg.MaxOpen {
		var victim *Group
		for _, grp := range g.byKey {
			if victim == nil || grp.LastSeen.Before(victim.LastSeen) ||
				(grp.LastSeen.Equal(victim.LastSeen) && grp.IncidentID < victim.IncidentID) {
				victim = grp
			}
		}
		g.drop(victim)
		g.evicted++
	}
}

func (g *Grouper) drop(grp *Group) {
	delete(g.byKey, grp.Key)
	for id := range grp.Alerts {
		delete(g.byAlert, id)
	}
}

func (grp *Group) extend(first, last time.Time) {
	if first.Before(grp.FirstSeen) {
		grp.FirstSeen = first
	}
	if last.After(grp.LastSeen) {
		grp.LastSeen = last
	}
}

func (grp *Group) clone() *Group {
	c := *grp
	c.Alerts = maps.Clone(grp.Alerts)
	return &c
}

func maxSeverity(as map[string]AlertState) event.Severity {
	var best event.Severity
	for _, a := range as {
		if a.Severity.Rank() > best.Rank() {
			best = a.Severity
		}
	}
	return best
}

// Incident returns a new incident in state detected built from grp.
func (grp *Group) Incident() event.Incident {
	return event.Incident{IncidentID: grp.IncidentID, State: event.IncidentDetected,
		DetectedAt: event.NewTimestamp(grp.DetectedAt), AlertIDs: grp.AlertIDs(), ActorID: grp.ActorID,
		DeviceID: grp.DeviceID, Org: grp.Org, Severity: grp.Severity,
		WindowStart: event.NewTimestamp(grp.FirstSeen), WindowEnd: event.NewTimestamp(grp.LastSeen)}
}

type snapshot struct {
	Version int      `json:"version"`
	Evicted int64    `json:"evicted"`
	Groups  []*Group `json:"groups"`
}

// Snapshot encodes the grouper's state deterministically (JSON, groups
// sorted by key, alert maps with sorted keys) so a restarted grouper joins
// alerts to the same incidents.
func (g *Grouper) Snapshot() ([]byte, error) {
	s := snapshot{Version: 1, Evicted: g.evicted}
	for _, k := range slices.Sorted(maps.Keys(g.byKey)) {
		s.Groups = append(s.Groups, g.byKey[k])
	}
	b, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("encoding grouper snapshot: %w", err)
	}
	return b, nil
}

// Restore replaces the grouper's state with a snapshot's.
func (g *Grouper) Restore(b []byte) error {
	var s snapshot
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("decoding grouper snapshot: %w", err)
	}
	if s.Version != 1 {
		return fmt.Errorf("decoding grouper snapshot: unknown version %d", s.Version)
	}
	byKey, byAlert := map[string]*Group{}, map[string]*Group{}
	for i, grp := range s.Groups {
		if grp == nil || grp.Key == "" || grp.IncidentID == "" || byKey[grp.Key] != nil {
			return fmt.Errorf("decoding grouper snapshot: group %d is empty or repeated", i)
		}
		if grp.Alerts == nil {
			grp.Alerts = map[string]AlertState{}
		}
		byKey[grp.Key] = grp
		for id := range grp.Alerts {
			byAlert[id] = grp
		}
	}
	g.byKey, g.byAlert, g.evicted = byKey, byAlert, s.Evicted
	return nil
}
