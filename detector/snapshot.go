package detector

import (
	"bytes"
	"encoding/gob"
	"errors"
	"fmt"
	"slices"

	"github.com/vigil-audit/vigil/internal/event"
)

// snapshotMagic starts every snapshot; the byte after it is the format
// version.
const (
	snapshotMagic   = "VIGILDET"
	snapshotVersion = 1
)

// ErrSnapshotVersion is returned by Restore for a snapshot written by a
// newer (or unknown) format: the runner should start from an empty state
// and replay from the committed offset instead.
var ErrSnapshotVersion = errors.New("detector: unsupported snapshot version")

// The snapshot's wire types (encoding/gob). Lists are in the order that
// rebuilds the same state: groups and alerts least recently updated
// first.
type snapshot struct {
	Offset     int64
	Seq        uint64
	MaxSeen    int64
	WM         int64
	Corrs      []snapCorr
	Alerts     []snapAlert // live alerts
	Detached   []snapAlert // forgotten alerts with undrained records
	Pending    []snapRef   // undrained records, in order
	Suppressed []Suppressed
	Disp       []snapDisp
	Behaviours []snapBehaviour
}

type snapCorr struct {
	ID          string
	Fingerprint string
	NextSeq     uint64
	Groups      []snapGroup
}

type snapGroup struct {
	Key, Org, Actor, Device string
	Seq                     uint64
	Entries                 []snapEntry
	Lo                      int // index of the current window's first entry in Entries
	MaxT                    int64
	Sum                     float64
	LateUnrep               bool
	Open                    bool
	WinStart, ClosedEnd     int64
}

type snapEntry struct {
	T                        int64
	Seq                      uint64
	Num                      float64
	ID, Subj, Val            string
	In                       uint64
	Cats                     uint16
	HasNum, HasVal, Reported bool
}

type snapAlert struct {
	ID, RuleID, RuleTitle string
	RuleSeverity          event.Severity
	Key                   string
	Org, Actor, Device    string
	Severity              event.Severity
	Status                event.AlertStatus
	Reason, By            string
	WinStart, First, Last int64
	Count                 int64
	Subjects              []string
	SubjOver              int64
	Cats                  uint16
	Evidence              []snapEvid
	Explanation           string
}

type snapEvid struct {
	T   int64
	Seq uint64
	ID  string
}

type snapRef struct {
	Detached bool
	Index    int
}

type snapDisp struct {
	ID         string
	Status     event.AlertStatus
	Reason, By string
}

type snapBehaviour struct {
	Name  string
	State []byte
}

// fingerprint identifies what a correlation's state means: a snapshot's
// windows are restored only into the same definition.
func fingerprint(cs *corrState) string {
	c := cs.c
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s|%d|%q|%q|%s", c.Type, c.Timespan, c.GroupBy, c.Field, c.Condition)
	for _, in := range c.Inputs {
		fmt.Fprintf(&b, "|%s:%q:%q", in.Rule.ID, in.GroupBy, in.Field)
	}
	return b.String()
}

// Snapshot returns the Partition's whole state, with the offset of the
// last event fed, including undrained output. The format is versioned
// (a magic string, a version byte and a gob stream).
func (p *Partition) Snapshot() ([]byte, error) {
	s := snapshot{Offset: p.offset, Seq: p.seq, MaxSeen: p.maxSeen, WM: p.wm}
	for _, cs := range p.corrs {
		sc := snapCorr{ID: cs.c.ID, Fingerprint: fingerprint(cs), NextSeq: cs.nextSeq}
		for _, g := range cs.groupsInOrder() {
			sg := snapGroup{Key: g.key, Org: g.org, Actor: g.actor, Device: g.device, Seq: g.seq,
				Lo: g.lo - g.h, MaxT: g.maxT, Sum: g.sum, LateUnrep: g.lateUnrep, Open: g.open,
				WinStart: g.winStart, ClosedEnd: g.closedEnd}
			sg.Entries = make([]snapEntry, 0, len(g.q)-g.h)
			for _, e := range g.q[g.h:] {
				sg.Entries = append(sg.Entries, snapEntry{T: e.t, Seq: e.seq, Num: e.num, ID: e.id,
					Subj: e.subj, Val: e.val, In: e.in, Cats: e.cats, HasNum: e.hasNum,
					HasVal: e.hasVal, Reported: e.reported})
			}
			sc.Groups = append(sc.Groups, sg)
		}
		s.Corrs = append(s.Corrs, sc)
	}
	liveIdx := map[*alert]int{}
	for a := p.alerts.tail; a != nil; a = a.prev {
		liveIdx[a] = len(s.Alerts)
		s.Alerts = append(s.Alerts, snapAlertOf(a))
	}
	for _, a := range p.alerts.pending {
		if i, ok := liveIdx[a]; ok {
			s.Pending = append(s.Pending, snapRef{Index: i})
			continue
		}
		s.Pending = append(s.Pending, snapRef{Detached: true, Index: len(s.Detached)})
		s.Detached = append(s.Detached, snapAlertOf(a))
	}
	s.Suppressed = slices.Clone(p.alerts.supp)
	seen := map[string]bool{}
	for _, id := range p.alerts.dispQ {
		if d, ok := p.alerts.disp[id]; ok && !seen[id] {
			seen[id] = true
			s.Disp = append(s.Disp, snapDisp{ID: id, Status: d.status, Reason: d.reason, By: d.by})
		}
	}
	for _, b := range p.behaviours {
		st, err := b.MarshalState()
		if err != nil {
			return nil, fmt.Errorf("detector: snapshot of behaviour %s: %w", b.Name(), err)
		}
		s.Behaviours = append(s.Behaviours, snapBehaviour{Name: b.Name(), State: st})
	}
	var buf bytes.Buffer
	buf.WriteString(snapshotMagic)
	buf.WriteByte(snapshotVersion)
	if err := gob.NewEncoder(&buf).Encode(&s); err != nil {
		return nil, fmt.Errorf("detector: snapshot: %w", err)
	}
	return buf.Bytes(), nil
}

func snapAlertOf(a *alert) snapAlert {
	sa := snapAlert{ID: a.id, RuleID: a.rule.id, RuleTitle: a.rule.title, RuleSeverity: a.rule.severity,
		Key: a.slot.key, Org: a.org, Actor: a.actor, Device: a.device, Severity: a.sev,
		Status: a.status, Reason: a.reason, By: a.by, WinStart: a.winStart, First: a.first,
		Last: a.last, Count: a.count, SubjOver: a.subjOver, Cats: a.cats,
		Explanation: a.expl.String()}
	for s := range a.subjects {
		sa.Subjects = append(sa.Subjects, s)
	}
	slices.Sort(sa.Subjects)
	for _, e := range a.ev {
		sa.Evidence = append(sa.Evidence, snapEvid{T: e.t, Seq: e.seq, ID: e.id})
	}
	return sa
}

// Restore replaces the Partition's state with a snapshot's. Correlations
// whose definition changed since the snapshot (or that are new) start
// empty; those no longer in the rule set are dropped. Alerts of rules no
// longer in the set are kept until they expire. Behaviours not in the
// snapshot are reset (UnmarshalState(nil)). Output undrained at snapshot
// time is drained again after Restore. On error the Partition is left
// empty, as New returns it.
func (p *Partition) Restore(b []byte) error {
	p.reset()
	err := p.restore(b)
	if err != nil {
		p.reset()
		for _, bh := range p.behaviours {
			_ = bh.UnmarshalState(nil)
		}
	}
	return err
}

func (p *Partition) restore(b []byte) error {
	if len(b) < len(snapshotMagic)+1 || string(b[:len(snapshotMagic)]) != snapshotMagic {
		return errors.New("detector: restore: not a detector snapshot")
	}
	if v := b[len(snapshotMagic)]; v != snapshotVersion {
		return fmt.Errorf("%w %d (this build reads %d)", ErrSnapshotVersion, v, snapshotVersion)
	}
	var s snapshot
	if err := gob.NewDecoder(bytes.NewReader(b[len(snapshotMagic)+1:])).Decode(&s); err != nil {
		return fmt.Errorf("detector: restore: %w", err)
	}
	p.offset, p.seq, p.maxSeen, p.wm = s.Offset, s.Seq, s.MaxSeen, s.WM
	byID := map[string]*snapCorr{}
	for i := range s.Corrs {
		byID[s.Corrs[i].ID] = &s.Corrs[i]
	}
	for _, cs := range p.corrs {
		sc := byID[cs.c.ID]
		if sc == nil || sc.Fingerprint != fingerprint(cs) {
			continue
		}
		if err := cs.restore(sc); err != nil {
			return err
		}
	}
	live := make([]*alert, len(s.Alerts))
	for i := range s.Alerts {
		a := p.alertOf(&s.Alerts[i])
		a.live = true
		if p.alerts.byID[a.id] != nil {
			return fmt.Errorf("detector: restore: alert %s twice", a.id)
		}
		sl := a.rule.alerts[a.slot.key]
		if sl == nil {
			sl = a.slot
			a.rule.alerts[sl.key] = sl
		}
		a.slot = sl
		p.insert(a)
		live[i] = a
	}
	for _, r := range s.Pending {
		var a *alert
		switch {
		case r.Detached && r.Index >= 0 && r.Index < len(s.Detached):
			a = p.alertOf(&s.Detached[r.Index])
		case !r.Detached && r.Index >= 0 && r.Index < len(live):
			a = live[r.Index]
		default:
			return errors.New("detector: restore: bad pending reference")
		}
		a.pending = true
		p.alerts.pending = append(p.alerts.pending, a)
	}
	for _, sp := range s.Suppressed {
		idx, ok := p.ruleByID[sp.RuleID]
		if !ok {
			idx = p.addRule(sp.RuleID, sp.RuleID, "", "", 0).index
		}
		p.alerts.suppIdx[suppKey{exc: sp.Exception, rule: idx, key: sp.GroupKey}] = len(p.alerts.supp)
		p.alerts.supp = append(p.alerts.supp, sp)
	}
	for _, d := range s.Disp {
		p.alerts.disp[d.ID] = disposition{status: d.Status, reason: d.Reason, by: d.By}
		p.alerts.dispQ = append(p.alerts.dispQ, d.ID)
	}
	states := map[string][]byte{}
	for _, sb := range s.Behaviours {
		states[sb.Name] = sb.State
	}
	for _, bh := range p.behaviours {
		if err := bh.UnmarshalState(states[bh.Name()]); err != nil {
			return fmt.Errorf("detector: restore behaviour %s: %w", bh.Name(), err)
		}
	}
	return nil
}

// alertOf rebuilds an alert (not yet in state) from its snapshot.
func (p *Partition) alertOf(sa *snapAlert) *alert {
	idx, ok := p.ruleByID[sa.RuleID]
	if !ok {
		idx = p.addRule(sa.RuleID, sa.RuleTitle, sa.RuleSeverity, "", 0).index
	}
	a := &alert{id: sa.ID, rule: p.rules[idx], slot: &slot{key: sa.Key}, org: sa.Org, actor: sa.Actor,
		device: sa.Device, sev: sa.Severity, status: sa.Status, reason: sa.Reason, by: sa.By,
		winStart: sa.WinStart, first: sa.First, last: sa.Last, count: sa.Count,
		subjOver: sa.SubjOver, cats: sa.Cats, expl: explanation{text: sa.Explanation}}
	if len(sa.Subjects) > 0 {
		a.subjects = make(map[string]struct{}, len(sa.Subjects))
		for _, s := range sa.Subjects {
			a.subjects[s] = struct{}{}
		}
	}
	for _, e := range sa.Evidence {
		a.ev = append(a.ev, evid{t: e.T, seq: e.Seq, id: e.ID})
	}
	return a
}

func (cs *corrState) restore(sc *snapCorr) error {
	cs.nextSeq = sc.NextSeq
	for i := range sc.Groups {
		sg := &sc.Groups[i]
		if sg.Lo < 0 || sg.Lo > len(sg.Entries) {
			return fmt.Errorf("detector: restore correlation %s: bad window", cs.c.ID)
		}
		g := &group{key: sg.Key, org: sg.Org, actor: sg.Actor, device: sg.Device, seq: sg.Seq,
			alive: true, lo: sg.Lo, maxT: sg.MaxT, lateUnrep: sg.LateUnrep, open: sg.Open,
			winStart: sg.WinStart, closedEnd: sg.ClosedEnd, q: make([]entry, 0, max(4, len(sg.Entries)))}
		cs.initAgg(g)
		for _, e := range sg.Entries {
			en := entry{t: e.T, seq: e.Seq, num: e.Num, id: e.ID, subj: e.Subj, val: e.Val, in: e.In,
				cats: e.Cats, hasNum: e.HasNum, hasVal: e.HasVal, reported: e.Reported}
			if en.hasVal {
				vc, ok := g.vals[en.val]
				if !ok {
					vc.s = en.val
				}
				vc.all++
				g.vals[vc.s] = vc
				en.val = vc.s
			}
			g.q = append(g.q, en)
		}
		if cs.mode == modeSliding {
			for j := g.lo; j < len(g.q); j++ {
				cs.aggAdd(g, &g.q[j])
			}
			g.sum = sg.Sum // exactly as it was, rounding included
		} else if g.open {
			cs.push(deadline{at: g.winStart + cs.span, seq: g.seq, g: g})
		}
		if cs.groups[g.key] != nil {
			return fmt.Errorf("detector: restore correlation %s: group twice", cs.c.ID)
		}
		cs.groups[g.key] = g
		cs.pushFront(g)
		cs.n++
	}
	return nil
}
