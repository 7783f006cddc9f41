package regime

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Plan returns every obligation due for an incident with facts f, for an
// organisation with profile p, with deadlines computed from clocks.
//
// Regimes are planned in order of their ids, obligations in the order of
// their file, each substitute notice right after the obligation it stands
// in for; the same input always gives the same output. Only regimes listed
// in p.Jurisdictions are planned. A follow-up (`follows`) is due only when
// the obligation it follows is. Of a substitute rule's cases the first
// whose condition holds applies.
func (s *Set) Plan(f Facts, p Profile, clocks Clocks) ([]Obligation, error) {
	if err := s.checkInput(f, p, clocks); err != nil {
		return nil, fmt.Errorf("plan obligations: %w", err)
	}
	in := evalInput{f: f, p: p, grade: s.Grade(f.People)}
	var out []Obligation
	for _, def := range s.regimes {
		if !slices.Contains(p.Jurisdictions, def.id) {
			continue
		}
		due := map[string]bool{}
		for _, r := range def.rules {
			if r.follows != "" && !due[r.follows] {
				continue
			}
			ok, why, states := r.when.eval(in)
			if !ok {
				continue
			}
			due[r.id] = true
			if r.follows != "" {
				why = append([]string{"follows " + r.follows}, why...)
			}
			o := s.obligation(def, r, in, clocks, why, states)
			out = append(out, o)
			if r.substitute == nil {
				continue
			}
			for _, c := range r.substitute.cases {
				if ok, cwhy, _ := c.when.eval(in); ok {
					out = append(out, substituteOf(o, r.substitute.id, c, cwhy, f))
					break
				}
			}
		}
	}
	return out, nil
}

func (s *Set) checkInput(f Facts, p Profile, clocks Clocks) error {
	var errs []error
	if err := f.Validate(); err != nil {
		errs = append(errs, err)
	}
	if !p.Operator.Valid() {
		errs = append(errs, fmt.Errorf("profile: operator %q is not one of %s", p.Operator, strings.Join(strs(operators), ", ")))
	}
	if strings.TrimSpace(p.DPO) == "" {
		errs = append(errs, errors.New("profile: DPO contact is required"))
	}
	if len(p.Jurisdictions) == 0 {
		errs = append(errs, errors.New("profile: no jurisdictions enabled"))
	}
	known := s.Regimes()
	for i, j := range p.Jurisdictions {
		if !slices.Contains(known, j) {
			errs = append(errs, fmt.Errorf("profile: jurisdiction %q has no regime file (loaded: %s)", j, strings.Join(known, ", ")))
		}
		if slices.Contains(p.Jurisdictions[:i], j) {
			errs = append(errs, fmt.Errorf("profile: jurisdiction %q is listed twice", j))
		}
	}
	if clocks.Aware.IsZero() {
		errs = append(errs, errors.New("clocks: the awareness time is required"))
	}
	if !clocks.HandlingEnded.IsZero() && clocks.HandlingEnded.Before(clocks.Aware) {
		errs = append(errs, fmt.Errorf("clocks: handling ended (%s) before awareness (%s)",
			clocks.HandlingEnded.Format("2006-01-02T15:04:05Z07:00"), clocks.Aware.Format("2006-01-02T15:04:05Z07:00")))
	}
	return errors.Join(errs...)
}

func (s *Set) obligation(def *regimeDef, r *rule, in evalInput, clocks Clocks, why []string, states []string) Obligation {
	o := Obligation{
		ID:         r.id,
		Regime:     def.id,
		Kind:       r.kind,
		Recipient:  r.recipient,
		Recipients: recipientCount(r.recipients, in.f, states),
		States:     states,
		Authority:  r.authority,
		Fields:     slices.Clone(r.fields),
		LateFields: slices.Clone(r.lateFields),
		Channels:   slices.Clone(r.channels),
		Approval:   r.approval,
		Basis:      r.basis,
		Why:        whyText(why),
		Follows:    r.follows,
		Unverified: r.unverified,
		Waivable:   r.waiver != "",
		WaiverRule: r.waiver,
	}
	if r.authorityBy != nil {
		o.Authority = r.authorityBy[in.p.Operator]
	}
	if s.grading != nil && s.grading.regime == def.id {
		o.Grade = in.grade
	}
	o.Anchor = r.deadline.from
	span := r.deadline.after
	if r.deadline.byOp != nil {
		span = r.deadline.byOp[in.p.Operator]
	}
	switch {
	case r.deadline.open != "":
		o.DueRule = "no fixed time: " + r.deadline.open
	default:
		o.DueRule = span.String() + " after " + string(r.deadline.from)
		if r.deadline.byOp != nil {
			o.DueRule += " (operator " + string(in.p.Operator) + ")"
		}
		if at := clocks.at(r.deadline.from); at.IsZero() {
			o.WaitingFor = r.deadline.from
		} else {
			o.Due = span.AddTo(at)
		}
	}
	return o
}

func substituteOf(parent Obligation, id string, c *subCase, why []string, f Facts) Obligation {
	fields := slices.Clone(parent.Fields)
	if c.recipient == "public" {
		fields = slices.DeleteFunc(fields, func(s string) bool { return s == "recipient_name" || s == "child_name" })
	}
	return Obligation{
		ID:          id,
		Regime:      parent.Regime,
		Kind:        c.kind,
		Recipient:   c.recipient,
		Recipients:  recipientCount(c.recipients, f, nil),
		Anchor:      parent.Anchor,
		Due:         parent.Due,
		DueRule:     parent.DueRule,
		WaitingFor:  parent.WaitingFor,
		Fields:      fields,
		Channels:    slices.Clone(c.channels),
		Approval:    parent.Approval,
		Grade:       parent.Grade,
		Basis:       parent.Basis,
		Why:         whyText(append([]string{"substitute for " + parent.ID}, why...)),
		Substitutes: parent.ID,
		KeepFor:     c.keepFor,
		Notes:       slices.Clone(c.notes),
		Unverified:  parent.Unverified,
	}
}

func recipientCount(r Recipients, f Facts, states []string) int64 {
	switch r {
	case EachPerson:
		return f.People
	case EachEUResident:
		return f.EUResidents
	case EachMinor:
		return f.Minors
	case EachUnreachable:
		return f.Unreachable
	case EachState:
		return int64(len(states))
	default:
		return 1
	}
}

func whyText(why []string) string {
	if len(why) == 0 {
		return "applies to every incident (no threshold)"
	}
	return strings.Join(why, "; ")
}
