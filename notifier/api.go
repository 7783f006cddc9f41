package notifier

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/vigil-audit/vigil/internal/auth"
	"github.com/vigil-audit/vigil/internal/event"
	"github.com/vigil-audit/vigil/notifier/render"
)

// ErrConflict: the command does not fit the incident's current state
// (an illegal transition, for one).
var ErrConflict = errors.New("conflict")

// maxBody is the largest request body the API reads.
const maxBody = 64 << 10

// API serves the notifier's commands and views over HTTP, for `vigil
// incident` and the console:
//
//	GET  /api/v1/incidents                                   list (newest first)
//	GET  /api/v1/incidents/{id}                              one, with its notices per obligation
//	POST /api/v1/incidents/{id}/transition                   {"to","reason","aware_at"}
//	POST /api/v1/incidents/{id}/fields                       {"fields":{"facts":"…"}}
//	POST /api/v1/incidents/{id}/rescope                      {}
//	POST /api/v1/incidents/{id}/obligations/{oid}/approve    {}
//	POST /api/v1/incidents/{id}/obligations/{oid}/waive      {"reason"}
//	POST /api/v1/incidents/{id}/obligations/{oid}/submit     {"version","reference"}
//
// Every request needs "Authorization: Bearer <token>" of a configured
// operator. Errors are JSON {"error": "...", "code": "..."} with 400
// (bad_request), 401, 403 (forbidden), 404 (not_found), 409 (conflict),
// 413 or 500.
type API struct {
	svc       *Service
	disp      *Dispatcher
	operators *auth.Tokens[Operator]
	log       *slog.Logger
}

// NewAPI returns the API of svc; operators maps token hashes to operators.
func NewAPI(svc *Service, disp *Dispatcher, operators *auth.Tokens[Operator], log *slog.Logger) *API {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &API{svc: svc, disp: disp, operators: operators, log: log}
}

// Handler returns the routes.
func (a *API) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/incidents", a.authed(a.list))
	mux.HandleFunc("GET /api/v1/incidents/{id}", a.authed(a.show))
	mux.HandleFunc("POST /api/v1/incidents/{id}/transition", a.authed(a.transition))
	mux.HandleFunc("POST /api/v1/incidents/{id}/fields", a.authed(a.fields))
	mux.HandleFunc("POST /api/v1/incidents/{id}/rescope", a.authed(a.rescope))
	mux.HandleFunc("POST /api/v1/incidents/{id}/obligations/{oid}/approve", a.authed(a.approve))
	mux.HandleFunc("POST /api/v1/incidents/{id}/obligations/{oid}/waive", a.authed(a.waive))
	mux.HandleFunc("POST /api/v1/incidents/{id}/obligations/{oid}/submit", a.authed(a.submit))
	return mux
}

type handler func(w http.ResponseWriter, r *http.Request, op Operator) (any, error)

func (a *API) authed(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		token, problem := auth.Bearer(r)
		op, ok := a.operators.Lookup(token)
		if problem == "" && !ok {
			problem = "unknown token"
		}
		if problem != "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="vigil"`)
			writeJSON(w, http.StatusUnauthorized, apiError{Error: problem, Code: "unauthorized"})
			return
		}
		v, err := h(w, r, op)
		if err != nil {
			code, status := classify(err)
			if status >= 500 {
				a.log.Error("notifier API command failed", "path", r.URL.Path, "operator", op.Name, "error", err)
			}
			writeJSON(w, status, apiError{Error: err.Error(), Code: code})
			return
		}
		if r.Method == http.MethodPost {
			a.log.Info("notifier command", "path", r.URL.Path, "operator", op.Name)
		}
		writeJSON(w, http.StatusOK, v)
	}
}

type apiError struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

func classify(err error) (string, int) {
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return "too_large", http.StatusRequestEntityTooLarge
	case errors.Is(err, ErrBadCommand):
		return "bad_request", http.StatusBadRequest
	case errors.Is(err, ErrForbidden):
		return "forbidden", http.StatusForbidden
	case errors.Is(err, ErrUnknownIncident), errors.Is(err, ErrUnknownObligation):
		return "not_found", http.StatusNotFound
	case errors.Is(err, ErrConflict), errors.Is(err, ErrNotConfirmed), errors.Is(err, ErrObligationClosed):
		return "conflict", http.StatusConflict
	}
	var mf *render.MissingFieldError
	if errors.As(err, &mf) {
		return "missing_field", http.StatusConflict
	}
	return "internal", http.StatusInternalServerError
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// decode reads a JSON body strictly: unknown fields, trailing data, wrong
// types and bodies over maxBody are errors naming what was wrong.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: request body: %v", ErrBadCommand, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: request body: trailing data after the JSON object", ErrBadCommand)
	}
	return nil
}

// IncidentView is an incident with the progress of its notices.
type IncidentView struct {
	event.Incident
	// Notices counts the incident's notices per obligation and state.
	Notices map[string]map[event.NoticeState]int `json:"notices"`
}

func (a *API) view(inc event.Incident) IncidentView {
	v := IncidentView{Incident: inc, Notices: map[string]map[event.NoticeState]int{}}
	for _, n := range a.svc.ledger.Notices(inc.IncidentID) {
		m := v.Notices[n.Obligation]
		if m == nil {
			m = map[event.NoticeState]int{}
			v.Notices[n.Obligation] = m
		}
		m[n.State]++
	}
	return v
}

// IncidentSummary is one line of the incident list.
type IncidentSummary struct {
	IncidentID   string              `json:"incident_id"`
	State        event.IncidentState `json:"state"`
	Severity     event.Severity      `json:"severity"`
	Org          string              `json:"org"`
	DetectedAt   event.Timestamp     `json:"detected_at"`
	AwareAt      event.Timestamp     `json:"aware_at,omitzero"`
	Alerts       int                 `json:"alerts"`
	People       int64               `json:"people"`
	Open         int                 `json:"open_obligations"`
	NextDeadline event.Timestamp     `json:"next_deadline,omitzero"`
}

func (a *API) list(_ http.ResponseWriter, r *http.Request, _ Operator) (any, error) {
	out := []IncidentSummary{}
	for _, inc := range a.svc.book.List() {
		s := IncidentSummary{IncidentID: inc.IncidentID, State: inc.State, Severity: inc.Severity, Org: inc.Org,
			DetectedAt: inc.DetectedAt, AwareAt: inc.AwareAt, Alerts: len(inc.AlertIDs), People: inc.Scope.People}
		for _, o := range inc.Obligations {
			if o.Status.Pending() {
				s.Open++
				if s.NextDeadline.IsZero() || o.DueAt.Before(s.NextDeadline.Time) {
					s.NextDeadline = o.DueAt
				}
			}
		}
		if r.URL.Query().Get("open") == "true" && (inc.State == event.IncidentClosed || inc.State == event.IncidentDismissed) {
			continue
		}
		out = append(out, s)
	}
	return out, nil
}

func (a *API) show(_ http.ResponseWriter, r *http.Request, _ Operator) (any, error) {
	inc, err := a.svc.book.Find(r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	return a.view(inc), nil
}

func (a *API) transition(w http.ResponseWriter, r *http.Request, op Operator) (any, error) {
	var req struct {
		To      event.IncidentState `json:"to"`
		Reason  string              `json:"reason"`
		AwareAt event.Timestamp     `json:"aware_at"`
	}
	if err := decode(w, r, &req); err != nil {
		return nil, err
	}
	if !req.To.Valid() {
		return nil, fmt.Errorf("%w: to: %q is not one of %v", ErrBadCommand, req.To, event.IncidentStates())
	}
	inc, err := a.svc.Transition(r.Context(), r.PathValue("id"), req.To, req.Reason, req.AwareAt.Time, op)
	if err != nil {
		return nil, err
	}
	return a.view(inc), nil
}

func (a *API) fields(w http.ResponseWriter, r *http.Request, op Operator) (any, error) {
	var req struct {
		Fields map[string]string `json:"fields"`
	}
	if err := decode(w, r, &req); err != nil {
		return nil, err
	}
	inc, err := a.svc.SetFields(r.Context(), r.PathValue("id"), req.Fields, op)
	if err != nil {
		return nil, err
	}
	return a.view(inc), nil
}

func (a *API) rescope(w http.ResponseWriter, r *http.Request, op Operator) (any, error) {
	if err := decode(w, r, &struct{}{}); err != nil {
		return nil, err
	}
	inc, err := a.svc.Rescope(r.Context(), r.PathValue("id"), op)
	if err != nil {
		return nil, err
	}
	return a.view(inc), nil
}

func (a *API) approve(w http.ResponseWriter, r *http.Request, op Operator) (any, error) {
	if err := decode(w, r, &struct{}{}); err != nil {
		return nil, err
	}
	// Planning thousands of notices must not be cut short by a client
	// that hangs up: the approval is already recorded by then.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 5*time.Minute)
	defer cancel()
	inc, err := a.disp.Approve(ctx, r.PathValue("id"), r.PathValue("oid"), op)
	if err != nil {
		return nil, err
	}
	return a.view(inc), nil
}

func (a *API) waive(w http.ResponseWriter, r *http.Request, op Operator) (any, error) {
	var req struct {
		Reason string `json:"reason"`
	}
	if err := decode(w, r, &req); err != nil {
		return nil, err
	}
	inc, err := a.svc.Waive(r.Context(), r.PathValue("id"), r.PathValue("oid"), req.Reason, op)
	if err != nil {
		return nil, err
	}
	return a.view(inc), nil
}

func (a *API) submit(w http.ResponseWriter, r *http.Request, op Operator) (any, error) {
	var req struct {
		Version   string `json:"version"`
		Reference string `json:"reference"`
	}
	if err := decode(w, r, &req); err != nil {
		return nil, err
	}
	inc, err := a.svc.Submit(r.Context(), r.PathValue("id"), r.PathValue("oid"), req.Version, req.Reference, op)
	if err != nil {
		return nil, err
	}
	return a.view(inc), nil
}

// Operators builds the operator token set from config entries.
func Operators(entries []OperatorConfig) (*auth.Tokens[Operator], error) {
	t := auth.NewTokens[Operator]()
	var errs []error
	for i, e := range entries {
		if e.Name == "" {
			errs = append(errs, fmt.Errorf("operators[%d].name: required", i))
		}
		if len(e.Roles) == 0 {
			errs = append(errs, fmt.Errorf("operators[%d].roles: required (analyst, dpo, admin)", i))
		}
		for j, r := range e.Roles {
			if !slices.Contains([]string{RoleAnalyst, RoleDPO, RoleAdmin}, r) {
				errs = append(errs, fmt.Errorf("operators[%d].roles[%d]: %q is not one of analyst, dpo, admin", i, j, r))
			}
		}
		if err := t.Add(e.TokenSHA256, Operator{Name: e.Name, Roles: e.Roles}); err != nil {
			errs = append(errs, fmt.Errorf("operators[%d].token_sha256: %w", i, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return t, nil
}

// OperatorConfig is one operator of the notifier's API and console.
type OperatorConfig struct {
	// Name identifies the operator in every transition, approval and
	// submission they make (use a staff id or a role mailbox, not a
	// personal name, if records must stay pseudonymous).
	Name string `yaml:"name"`
	// Roles: analyst (triage, confirm, contain), dpo (approve, waive,
	// submit, close), admin.
	Roles []string `yaml:"roles"`
	// TokenSHA256 is the hex SHA-256 of the operator's bearer token.
	TokenSHA256 string `yaml:"token_sha256"`
}
