package notifier

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vigil-audit/vigil/internal/event"
	"github.com/vigil-audit/vigil/notifier/channel"
	"github.com/vigil-audit/vigil/notifier/delivery"
	"github.com/vigil-audit/vigil/notifier/directory"
	"github.com/vigil-audit/vigil/notifier/render"
)

// Contact is how to reach a recipient, resolved from a token at send time
// and never stored.
type Contact = directory.Contact

// ErrNoContact: the recipient has no address any allowed channel can use
// (or a minor's contact names no guardian). The notice fails for good and
// counts as unreachable (substitute-notice rules), as does a token the
// directory does not know (directory.ErrNotFound).
var ErrNoContact = errors.New("no contact for the recipient")

// Directory resolves tokens to contacts (notifier/directory).
type Directory = directory.Directory

// Rendered is a notice rendered for one recipient.
type Rendered = render.Rendered

// Renderer renders notices from templates (*render.Set). It fails with a
// *render.MissingFieldError naming the first missing required field.
type Renderer interface {
	Render(regime, kind, lang string, fields map[string]string, required []string) (Rendered, error)
}

// Message is what a channel sends; Sender sends messages of one channel
// (notifier/channel), with the notice id as idempotency key.
type (
	Message = channel.Message
	Sender  = channel.Sender
)

// Dispatcher sends the approved notices of every incident.
type Dispatcher struct {
	svc         *Service
	dir         Directory
	render      Renderer
	senders     map[event.Channel]Sender
	isPermanent func(error) bool
	orgName     func(org string) string
	defaultLang map[string]string // regime → language

	mu      sync.Mutex
	retryAt map[string]time.Time // notice id → not before
}

// DispatcherConfig wires a Dispatcher.
type DispatcherConfig struct {
	Directory Directory
	Renderer  Renderer
	Senders   map[event.Channel]Sender
	// IsPermanent classifies send errors; nil: only ErrNoContact and
	// missing-field errors are permanent.
	IsPermanent func(error) bool
	// OrgName names the notifying organisation of an org id; nil uses the
	// id.
	OrgName func(org string) string
	// DefaultLanguage per regime, for contacts without one (pipl: zh-CN,
	// others: en when not set).
	DefaultLanguage map[string]string
}

// NewDispatcher returns a Dispatcher for svc.
func NewDispatcher(svc *Service, cfg DispatcherConfig) (*Dispatcher, error) {
	if cfg.Directory == nil || cfg.Renderer == nil || len(cfg.Senders) == 0 {
		return nil, errors.New("notifier: a dispatcher needs a directory, a renderer and at least one sender")
	}
	d := &Dispatcher{svc: svc, dir: cfg.Directory, render: cfg.Renderer, senders: cfg.Senders,
		isPermanent: cfg.IsPermanent, orgName: cfg.OrgName, defaultLang: cfg.DefaultLanguage, retryAt: map[string]time.Time{}}
	if d.orgName == nil {
		d.orgName = func(org string) string { return org }
	}
	if d.defaultLang == nil {
		d.defaultLang = map[string]string{"pipl": "zh-CN"}
	}
	return d, nil
}

func (d *Dispatcher) permanent(err error) bool {
	return IsPermanent(err) || d.isPermanent != nil && d.isPermanent(err)
}

// IsPermanent reports whether a notice's delivery failed for good: no
// contact, a missing template field (the approval preview catches those,
// but a recipient's own fields can still be missing), a channel's
// permanent refusal, or every channel refusing. The ledger fails such a
// notice instead of retrying it.
func IsPermanent(err error) bool {
	var mf *render.MissingFieldError
	var pe *permanentError
	return errors.Is(err, ErrNoContact) || errors.Is(err, directory.ErrNotFound) || errors.As(err, &mf) ||
		errors.As(err, &pe) || channel.IsPermanent(err)
}

// recipients lists the notices an approved notice obligation needs.
func recipients(inc *event.Incident, o *event.Obligation, scope Scope) []string {
	switch o.Kind {
	case "individual_notice":
		out := make([]string, 0, len(scope.Subjects))
		for _, s := range scope.Subjects {
			out = append(out, s.Token)
		}
		return out
	case "guardian_notice":
		var out []string
		for _, s := range scope.Subjects {
			if s.Minor {
				out = append(out, s.Token)
			}
		}
		return out
	default: // media_notice, public_announcement: one text for everyone
		return []string{string(o.Recipient) + ":" + o.Regime + ":" + inc.Org}
	}
}

// Approve approves an obligation: the operator must hold its approval
// role, the incident must be confirmed, and every notice must render (a
// preview in each language the regime uses, so a missing field is named
// now rather than at send time). The approval is recorded in the incident
// first, then the notices are planned and approved in the ledger; Reconcile
// finishes the second step after a crash between the two.
func (d *Dispatcher) Approve(ctx context.Context, id, oid string, op Operator) (event.Incident, error) {
	s := d.svc
	cur, err := s.book.Find(id)
	if err != nil {
		return cur, err
	}
	if cur.AwareAt.IsZero() || cur.State == event.IncidentDismissed || cur.State == event.IncidentClosed {
		return cur, fmt.Errorf("%w: %s is %s", ErrNotConfirmed, cur.IncidentID, cur.State)
	}
	i, err := obligation(&cur, oid)
	if err != nil {
		return cur, err
	}
	o := cur.Obligations[i]
	if err := s.mayDecide(&o, op); err != nil {
		return cur, err
	}
	if IsNoticeKind(o.Kind) {
		for _, lang := range d.languages(o.Regime) {
			if _, err := d.render.Render(o.Regime, o.Kind, lang, d.fields(&cur, &o, Contact{Name: "—"}, Contact{Name: "—"}), o.Fields); err != nil {
				return cur, fmt.Errorf("approve %s of %s: the notice does not render in %s: %w", o.ID, cur.IncidentID, lang, err)
			}
		}
	}
	inc, err := s.book.Update(ctx, cur.IncidentID, false, func(inc *event.Incident) error {
		o := &inc.Obligations[i]
		if err := s.mayDecide(o, op); err != nil {
			return err
		}
		o.Status, o.ApprovedBy, o.ApprovedAt = event.ObligationApproved, op.Name, event.NewTimestamp(s.now())
		return nil
	})
	if err != nil {
		return inc, err
	}
	if IsNoticeKind(o.Kind) {
		if err := d.planNotices(ctx, &inc, &inc.Obligations[i]); err != nil {
			return inc, err
		}
	}
	s.log.Info("obligation approved", "incident", inc.IncidentID, "obligation", o.ID, "by", op.Name)
	return inc, nil
}

func (d *Dispatcher) languages(regime string) []string {
	if l := d.defaultLang[regime]; l != "" && l != "en" {
		return []string{l, "en"}
	}
	return []string{"en"}
}

// planNotices plans and approves the notices of an approved obligation
// (idempotent: notice ids are deterministic).
func (d *Dispatcher) planNotices(ctx context.Context, inc *event.Incident, o *event.Obligation) error {
	scope, err := d.svc.scoper.Scope(ctx, inc)
	if err != nil {
		return fmt.Errorf("planning the notices of %s/%s: scope: %w", inc.IncidentID, o.ID, err)
	}
	ch := event.ChannelPublicAnnouncement
	if len(o.Channels) > 0 {
		ch = o.Channels[0]
	}
	kind := o.Recipient
	var ids []string
	for _, tok := range recipients(inc, o, scope) {
		n, err := d.svc.ledger.Plan(ctx, event.Notice{IncidentID: inc.IncidentID, Obligation: o.ID, Regime: o.Regime,
			RecipientToken: tok, RecipientKind: kind, Channel: ch, DueAt: o.DueAt})
		if err != nil {
			return fmt.Errorf("planning the notices of %s/%s: %w", inc.IncidentID, o.ID, err)
		}
		ids = append(ids, n.NoticeID)
	}
	if err := d.svc.ledger.Approve(ctx, ids...); err != nil {
		return fmt.Errorf("approving the notices of %s/%s: %w", inc.IncidentID, o.ID, err)
	}
	return nil
}

// Reconcile plans the notices of approved obligations whose planning a
// crash interrupted. Run it once on start.
func (d *Dispatcher) Reconcile(ctx context.Context) error {
	for _, inc := range d.svc.book.List() {
		for i := range inc.Obligations {
			o := &inc.Obligations[i]
			if o.Status == event.ObligationApproved && IsNoticeKind(o.Kind) {
				if err := d.planNotices(ctx, &inc, o); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// fields are the values a notice is rendered with: the incident's fields,
// then what the notifier knows (organisation, dates, recipient).
func (d *Dispatcher) fields(inc *event.Incident, o *event.Obligation, to, child Contact) map[string]string {
	f := make(map[string]string, len(inc.Fields)+6)
	for k, v := range inc.Fields {
		f[k] = v
	}
	set := func(k, v string) {
		if f[k] == "" && v != "" {
			f[k] = v
		}
	}
	set("org_name", d.orgName(inc.Org))
	if len(inc.Scope.Categories) > 0 {
		cats := make([]string, len(inc.Scope.Categories))
		for i, c := range inc.Scope.Categories {
			cats[i] = string(c)
		}
		set("pi_types", strings.Join(cats, ", "))
	}
	set("recipient_name", to.Name)
	if o.Kind == "guardian_notice" {
		set("child_name", child.Name)
	}
	if !inc.AwareAt.IsZero() {
		set("discovered_at", inc.AwareAt.UTC().Format("2006-01-02 15:04 UTC"))
		set("discovery_date", inc.AwareAt.UTC().Format("2006-01-02"))
	}
	if !inc.WindowStart.IsZero() {
		span := inc.WindowStart.UTC().Format("2006-01-02 15:04")
		if inc.WindowEnd.After(inc.WindowStart.Time) {
			span += " – " + inc.WindowEnd.UTC().Format("2006-01-02 15:04")
		}
		set("occurred_at", span+" UTC")
		set("breach_date", inc.WindowStart.UTC().Format("2006-01-02"))
	}
	return f
}

// DispatchStats says what one Dispatch pass did.
type DispatchStats struct {
	Sent, Retrying, Failed, Done int
}

// Dispatch makes one pass: it delivers every approved (or interrupted)
// notice whose retry time has come, and marks obligations whose notices
// are all sent or skipped as done. Errors of single notices are recorded
// in the ledger, not returned; the error is for the book or ledger failing.
func (d *Dispatcher) Dispatch(ctx context.Context) (DispatchStats, error) {
	var st DispatchStats
	now := d.svc.now()
	for _, inc := range d.svc.book.List() {
		pending := false
		for _, o := range inc.Obligations {
			pending = pending || (o.Status == event.ObligationApproved && IsNoticeKind(o.Kind))
		}
		if !pending {
			continue
		}
		notices := d.svc.ledger.Notices(inc.IncidentID)
		for _, n := range notices {
			if n.State != event.NoticeApproved && n.State != event.NoticeSending {
				continue
			}
			if ctx.Err() != nil {
				return st, ctx.Err()
			}
			d.mu.Lock()
			wait := d.retryAt[n.NoticeID].After(now)
			d.mu.Unlock()
			if wait {
				st.Retrying++
				continue
			}
			o := findObligation(&inc, n.Obligation)
			if o == nil {
				continue
			}
			got, err := d.svc.ledger.Deliver(ctx, n.NoticeID, func(ctx context.Context, n event.Notice) (delivery.Receipt, error) {
				return d.send(ctx, &inc, o, n)
			})
			switch {
			case err == nil:
				st.Sent++
			case got.State == event.NoticeFailed:
				st.Failed++
				d.svc.log.Warn("notice failed", "notice_id", n.NoticeID, "incident", inc.IncidentID, "obligation", n.Obligation, "error", got.LastError)
			case got.State == event.NoticeApproved:
				st.Retrying++
				d.mu.Lock()
				d.retryAt[n.NoticeID] = now.Add(delivery.Backoff(got.Attempts))
				d.mu.Unlock()
			default:
				return st, err // the ledger could not record
			}
		}
		done, err := d.closeObligations(ctx, inc.IncidentID)
		if err != nil {
			return st, err
		}
		st.Done += done
	}
	return st, nil
}

func findObligation(inc *event.Incident, oid string) *event.Obligation {
	for i := range inc.Obligations {
		if inc.Obligations[i].ID == oid {
			return &inc.Obligations[i]
		}
	}
	return nil
}

// closeObligations marks approved notice obligations done when each of
// their notices is sent, skipped or failed for good (failures count as
// unreachable and feed the substitute-notice rules on the next Rescope).
func (d *Dispatcher) closeObligations(ctx context.Context, incidentID string) (int, error) {
	byOb := map[string][]event.Notice{}
	for _, n := range d.svc.ledger.Notices(incidentID) {
		byOb[n.Obligation] = append(byOb[n.Obligation], n)
	}
	done := 0
	_, err := d.svc.book.Update(ctx, incidentID, false, func(inc *event.Incident) error {
		for i := range inc.Obligations {
			o := &inc.Obligations[i]
			ns := byOb[o.ID]
			if o.Status != event.ObligationApproved || !IsNoticeKind(o.Kind) || len(ns) == 0 {
				continue
			}
			if slices.ContainsFunc(ns, func(n event.Notice) bool {
				return n.State != event.NoticeSent && n.State != event.NoticeSkipped && n.State != event.NoticeFailed
			}) {
				continue
			}
			o.Status, o.DoneAt = event.ObligationDone, event.NewTimestamp(d.svc.now())
			done++
		}
		if done == 0 {
			return errNoChange
		}
		return nil
	})
	return done, err
}

// send resolves the recipient, renders the notice in their language and
// tries the obligation's channels in order, skipping those the contact has
// no address for and moving on after a permanent failure.
func (d *Dispatcher) send(ctx context.Context, inc *event.Incident, o *event.Obligation, n event.Notice) (delivery.Receipt, error) {
	var to, child Contact
	public := !strings.HasPrefix(string(n.RecipientKind), "individual") && n.RecipientKind != event.RecipientGuardian
	if !public {
		c, err := d.dir.Lookup(ctx, n.RecipientToken)
		if err != nil {
			return delivery.Receipt{}, err
		}
		to = c
		if n.RecipientKind == event.RecipientGuardian {
			child = c
			if c.GuardianToken == "" {
				return delivery.Receipt{}, fmt.Errorf("%w: the minor's contact names no guardian", ErrNoContact)
			}
			if to, err = d.dir.Lookup(ctx, c.GuardianToken); err != nil {
				return delivery.Receipt{}, fmt.Errorf("guardian: %w", err)
			}
		}
	}
	lang := to.Language
	if lang == "" {
		lang = d.languages(o.Regime)[0]
	}
	r, err := d.render.Render(o.Regime, o.Kind, lang, d.fields(inc, o, to, child), o.Fields)
	if err != nil {
		return delivery.Receipt{}, err
	}
	channels := o.Channels
	if public {
		channels = []event.Channel{event.ChannelPublicAnnouncement}
	}
	var errs []error
	for _, ch := range channels {
		snd, ok := d.senders[ch]
		if !ok || !public && !channel.HasAddress(to, ch) {
			continue
		}
		rc, err := snd.Send(ctx, Message{NoticeID: n.NoticeID, Channel: ch, Language: lang, To: to,
			Subject: r.Subject, Text: r.Text, SMS: r.SMS, HTML: r.HTML})
		if err == nil {
			return delivery.Receipt{MessageID: rc.MessageID, Channel: ch}, nil
		}
		if !d.permanent(err) {
			return delivery.Receipt{}, fmt.Errorf("%s: %w", ch, err)
		}
		errs = append(errs, fmt.Errorf("%s: %w", ch, err))
	}
	if len(errs) == 0 {
		return delivery.Receipt{}, fmt.Errorf("%w: no address for any of the channels %v", ErrNoContact, channels)
	}
	return delivery.Receipt{}, &permanentError{errors.Join(errs...)}
}

// permanentError marks a failure of every channel as final.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return "every channel failed: " + e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }
