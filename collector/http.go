package collector

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vigil-audit/vigil/internal/auth"
	"github.com/vigil-audit/vigil/internal/config"
	"github.com/vigil-audit/vigil/internal/event"
)

// HTTPConfig limits what one HTTP ingest request may carry.
type HTTPConfig struct {
	// MaxBodyBytes bounds a request body, after gzip decompression. Zero
	// means 16 MiB.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// MaxEventBytes bounds one event (one NDJSON line or array element).
	// Zero means 64 KiB (event.MaxEventSize), which is also the most it may
	// be.
	MaxEventBytes int `yaml:"max_event_bytes"`
	// MaxEvents bounds the events in one request. Zero means 10000.
	MaxEvents int `yaml:"max_events"`
	// RetryAfter is what a sender is told to wait when the spool is full.
	// Zero means 5s.
	RetryAfter time.Duration `yaml:"retry_after"`
}

// HTTP defaults.
const (
	DefaultMaxBodyBytes = 16 << 20
	DefaultMaxEvents    = 10000
	DefaultRetryAfter   = 5 * time.Second
)

func (c HTTPConfig) withDefaults() HTTPConfig {
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.MaxEventBytes == 0 {
		c.MaxEventBytes = event.MaxEventSize
	}
	if c.MaxEvents == 0 {
		c.MaxEvents = DefaultMaxEvents
	}
	if c.RetryAfter == 0 {
		c.RetryAfter = DefaultRetryAfter
	}
	return c
}

// Validate implements config.Validator.
func (c HTTPConfig) Validate() []config.Problem {
	var ps []config.Problem
	if c.MaxBodyBytes < 0 {
		ps = append(ps, config.Problem{Key: "max_body_bytes", Reason: "must be ≥ 0"})
	}
	if c.MaxEventBytes < 0 || c.MaxEventBytes > event.MaxEventSize {
		ps = append(ps, config.Problem{Key: "max_event_bytes", Reason: fmt.Sprintf("must be between 0 and %d", event.MaxEventSize)})
	}
	if c.MaxEvents < 0 {
		ps = append(ps, config.Problem{Key: "max_events", Reason: "must be ≥ 0"})
	}
	if c.RetryAfter < 0 {
		ps = append(ps, config.Problem{Key: "retry_after", Reason: "must be ≥ 0"})
	}
	return ps
}

// SourceConfig is one sending system and the hash of its bearer token.
type SourceConfig struct {
	// Name identifies the system in every event it sends (the event's
	// source field); the body cannot override it. Required.
	Name string `yaml:"name"`
	// TokenSHA256 is the hex SHA-256 of the system's bearer token: the
	// token itself is never stored. `vigil collect hash-token` (or
	// `printf %s TOKEN | sha256sum`) computes it. Required.
	TokenSHA256 string `yaml:"token_sha256"`
	// Kinds the source may send: access, device. Empty means both.
	Kinds []string `yaml:"kinds"`
}

// Sources authenticates senders by bearer token.
type Sources struct {
	tokens *auth.Tokens[SourceConfig]
}

// NewSources checks the configured sources and indexes them by token hash.
func NewSources(cfgs []SourceConfig) (*Sources, error) {
	var ps []config.Problem
	s := &Sources{tokens: auth.NewTokens[SourceConfig]()}
	names := map[string]bool{}
	for i, c := range cfgs {
		key := fmt.Sprintf("sources[%d]", i)
		if reason := checkSourceName(c.Name); reason != "" {
			ps = append(ps, config.Problem{Key: key + ".name", Reason: reason})
		} else if names[c.Name] {
			ps = append(ps, config.Problem{Key: key + ".name", Reason: fmt.Sprintf("%q is already used by another source", c.Name)})
		}
		names[c.Name] = true
		if err := s.tokens.Add(c.TokenSHA256, c); err != nil {
			reason := err.Error()
			if errors.Is(err, auth.ErrDuplicate) {
				reason = "the same token is configured for another source"
			}
			ps = append(ps, config.Problem{Key: key + ".token_sha256", Reason: reason})
		}
		for j, kind := range c.Kinds {
			if !Kind(kind).Valid() {
				ps = append(ps, config.Problem{Key: fmt.Sprintf("%s.kinds[%d]", key, j), Reason: fmt.Sprintf("%q is not one of access|device", kind)})
			}
		}
	}
	if len(ps) > 0 {
		return nil, &config.Error{Problems: ps}
	}
	return s, nil
}

// checkSourceName returns why name cannot be an event's source, or "".
// It keeps every event the collector stamps with it valid on the bus.
func checkSourceName(name string) string {
	switch {
	case name == "":
		return "required"
	case len(name) > event.MaxStringLen || !utf8.ValidString(name) || strings.ContainsFunc(name, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		return fmt.Sprintf("must be at most %d bytes of UTF-8 without spaces or control characters", event.MaxStringLen)
	}
	return ""
}

// HashToken returns the hex SHA-256 of a token, as SourceConfig wants it.
func HashToken(token string) string { return auth.Hash(token) }

func (c SourceConfig) allows(k Kind) bool {
	return len(c.Kinds) == 0 || slices.Contains(c.Kinds, string(k))
}

// HTTPHandler serves POST /v1/access and POST /v1/device.
type HTTPHandler struct {
	in      *Ingester
	sources *Sources
	cfg     HTTPConfig
	log     *slog.Logger
	metrics *metrics
	isFull  func(error) bool
}

// NewHTTPHandler returns the ingest handler. isFull tells a spool that is
// full (answered 503 with Retry-After) from other failures (500).
func NewHTTPHandler(in *Ingester, sources *Sources, cfg HTTPConfig, isFull func(error) bool, log *slog.Logger, m *metrics) *HTTPHandler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if m == nil {
		m = newMetrics(nil)
	}
	return &HTTPHandler{in: in, sources: sources, cfg: cfg.withDefaults(), log: log, metrics: m, isFull: isFull}
}

// Register adds the ingest routes to mux.
func (h *HTTPHandler) Register(mux *http.ServeMux) {
	mux.Handle("/v1/access", h)
	mux.Handle("/v1/device", h)
}

// lineResult is one line of the response.
type lineResult struct {
	Line    int      `json:"line"`
	Status  string   `json:"status"` // accepted | rejected
	EventID string   `json:"event_id,omitempty"`
	Reason  string   `json:"reason,omitempty"`
	Errors  []string `json:"errors,omitempty"`
}

type ingestResponse struct {
	Accepted int          `json:"accepted"`
	Rejected int          `json:"rejected"`
	Results  []lineResult `json:"results"`
}

type errorResponse struct {
	Error string `json:"error"`
}

func (h *HTTPHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var kind Kind
	switch r.URL.Path {
	case "/v1/access":
		kind = KindAccess
	case "/v1/device":
		kind = KindDevice
	default:
		h.fail(w, http.StatusNotFound, "no such endpoint: use POST /v1/access or POST /v1/device")
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.fail(w, http.StatusMethodNotAllowed, fmt.Sprintf("%s %s: use POST", r.Method, r.URL.Path))
		return
	}
	src, status, msg := h.auth(r, kind)
	if status != 0 {
		if status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer realm="vigil"`)
		}
		h.log.Warn("ingest request refused", "status", status, "reason", msg, "peer", r.RemoteAddr)
		h.fail(w, status, msg)
		return
	}
	if status, msg := checkHeaders(r); status != 0 {
		h.fail(w, status, msg)
		return
	}
	origin := Origin{Source: src.Name, Receiver: ReceiverHTTP}
	body, status, msg := h.readBody(w, r)
	if status != 0 {
		h.reject(w, r.Context(), origin, kind, body, "request body", event.ReasonTooLarge, status, msg)
		return
	}
	inputs, status, msg, reason := h.split(body)
	if status != 0 {
		h.reject(w, r.Context(), origin, kind, body, "request body", reason, status, msg)
		return
	}
	if len(inputs) == 0 {
		h.fail(w, http.StatusBadRequest, "the body holds no event: send one JSON object per line (NDJSON) or a JSON array of objects")
		return
	}
	results, err := h.in.Ingest(r.Context(), origin, kind, inputs)
	if err != nil {
		h.spoolError(w, err)
		return
	}
	resp := ingestResponse{Results: make([]lineResult, len(results))}
	for i, res := range results {
		lr := lineResult{Line: i + 1, EventID: res.EventID}
		if res.Accepted {
			lr.Status = "accepted"
			resp.Accepted++
		} else {
			lr.Status, lr.Reason, lr.Errors = "rejected", res.Reason, res.Problems
			resp.Rejected++
		}
		resp.Results[i] = lr
	}
	code := http.StatusOK
	switch {
	case resp.Accepted == 0:
		code = http.StatusUnprocessableEntity
	case resp.Rejected > 0:
		code = http.StatusMultiStatus
	}
	h.write(w, code, resp)
}

func (h *HTTPHandler) auth(r *http.Request, kind Kind) (SourceConfig, int, string) {
	token, problem := auth.Bearer(r)
	if problem != "" {
		return SourceConfig{}, http.StatusUnauthorized, problem
	}
	src, ok := h.sources.tokens.Lookup(token)
	if !ok {
		return SourceConfig{}, http.StatusUnauthorized, "unknown bearer token"
	}
	if !src.allows(kind) {
		return SourceConfig{}, http.StatusForbidden, fmt.Sprintf("source %q may not send %s events (sources[].kinds)", src.Name, kind)
	}
	return src, 0, ""
}

// application/x-www-form-urlencoded is what curl --data sends by default;
// the body is read as NDJSON or a JSON array all the same.
var acceptedTypes = []string{"", "application/json", "application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines", "text/plain", "application/x-www-form-urlencoded"}

func checkHeaders(r *http.Request) (int, string) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || !slices.Contains(acceptedTypes, mt) {
			return http.StatusUnsupportedMediaType, fmt.Sprintf("Content-Type %q is not accepted: use application/x-ndjson or application/json", ct)
		}
	}
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity", "gzip":
	default:
		return http.StatusUnsupportedMediaType, fmt.Sprintf("Content-Encoding %q is not accepted: use gzip or none", enc)
	}
	return 0, ""
}

// readBody reads the whole body, decompressing gzip, within MaxBodyBytes
// (counted after decompression, so a small bomb cannot expand past it).
// On failure it returns what was read, for the dead letter.
func (h *HTTPHandler) readBody(w http.ResponseWriter, r *http.Request) ([]byte, int, string) {
	limit := h.cfg.MaxBodyBytes
	tooBig := func(n int64) string {
		return fmt.Sprintf("request body exceeds http.max_body_bytes (%d bytes)%s; nothing in this request was accepted: split it", limit, n2s(n))
	}
	if r.ContentLength > limit {
		return nil, http.StatusRequestEntityTooLarge, tooBig(r.ContentLength)
	}
	var rd io.Reader = http.MaxBytesReader(w, r.Body, limit+1)
	if strings.EqualFold(strings.TrimSpace(r.Header.Get("Content-Encoding")), "gzip") {
		zr, err := gzip.NewReader(rd)
		if err != nil {
			return nil, http.StatusBadRequest, "Content-Encoding is gzip but the body is not: " + err.Error()
		}
		defer zr.Close()
		rd = zr
	}
	body, err := io.ReadAll(io.LimitReader(rd, limit+1))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return body, http.StatusRequestEntityTooLarge, tooBig(-1)
	case err != nil:
		return body, http.StatusBadRequest, "cannot read the request body: " + err.Error()
	case int64(len(body)) > limit:
		return body[:limit], http.StatusRequestEntityTooLarge, tooBig(-1)
	}
	return body, 0, ""
}

func n2s(n int64) string {
	if n < 0 {
		return ""
	}
	return ": it is " + strconv.FormatInt(n, 10) + " bytes"
}

// split cuts the body into events: a JSON array of objects, or NDJSON.
func (h *HTTPHandler) split(body []byte) (inputs []Input, status int, msg, reason string) {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) > 0 && trimmed[0] == '[' {
		return h.splitArray(trimmed)
	}
	line := 0
	for len(body) > 0 {
		var l []byte
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			l, body = body[:i], body[i+1:]
		} else {
			l, body = body, nil
		}
		line++
		l = bytes.TrimSuffix(l, []byte{'\r'})
		if len(bytes.TrimSpace(l)) == 0 {
			continue
		}
		if len(l) > h.cfg.MaxEventBytes {
			return nil, http.StatusRequestEntityTooLarge, fmt.Sprintf("line %d is %d bytes, over http.max_event_bytes (%d bytes); nothing in this request was accepted", line, len(l), h.cfg.MaxEventBytes), event.ReasonTooLarge
		}
		if len(inputs) == h.cfg.MaxEvents {
			return nil, http.StatusRequestEntityTooLarge, fmt.Sprintf("more than http.max_events (%d) events in one request; nothing in this request was accepted: split it", h.cfg.MaxEvents), event.ReasonTooMany
		}
		inputs = append(inputs, Input{Data: l, Location: "line " + strconv.Itoa(line)})
	}
	return inputs, 0, "", ""
}

func (h *HTTPHandler) splitArray(body []byte) ([]Input, int, string, string) {
	dec := json.NewDecoder(bytes.NewReader(body))
	if _, err := dec.Token(); err != nil {
		return nil, http.StatusBadRequest, "the body is not a JSON array: " + err.Error(), event.ReasonNotJSON
	}
	var inputs []Input
	for i := 1; dec.More(); i++ {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, http.StatusBadRequest, fmt.Sprintf("the body is not a JSON array: element %d: %v; nothing in this request was accepted", i, err), event.ReasonNotJSON
		}
		if len(raw) > h.cfg.MaxEventBytes {
			return nil, http.StatusRequestEntityTooLarge, fmt.Sprintf("element %d is %d bytes, over http.max_event_bytes (%d bytes); nothing in this request was accepted", i, len(raw), h.cfg.MaxEventBytes), event.ReasonTooLarge
		}
		if len(inputs) == h.cfg.MaxEvents {
			return nil, http.StatusRequestEntityTooLarge, fmt.Sprintf("more than http.max_events (%d) events in one request; nothing in this request was accepted: split it", h.cfg.MaxEvents), event.ReasonTooMany
		}
		inputs = append(inputs, Input{Data: raw, Location: "element " + strconv.Itoa(i)})
	}
	if _, err := dec.Token(); err != nil {
		return nil, http.StatusBadRequest, "the body is not a JSON array: " + err.Error(), event.ReasonNotJSON
	}
	if rest, _ := io.ReadAll(dec.Buffered()); len(bytes.TrimSpace(rest)) > 0 {
		return nil, http.StatusBadRequest, "the body is not a JSON array: data after the closing ]", event.ReasonNotJSON
	}
	return inputs, 0, "", ""
}

// reject refuses a whole request, keeping a dead letter of what was read.
func (h *HTTPHandler) reject(w http.ResponseWriter, ctx context.Context, o Origin, kind Kind, body []byte, loc, reason string, status int, msg string) {
	_, err := h.in.Ingest(ctx, o, kind, []Input{{Data: body, Location: loc, Reject: &Rejection{Reason: reason, Problems: []string{msg}}}})
	if err != nil {
		h.log.Error("dead letter of a refused request not kept", "source", o.Source, "reason", reason, "err", err)
	}
	h.fail(w, status, msg)
}

func (h *HTTPHandler) spoolError(w http.ResponseWriter, err error) {
	if h.isFull != nil && h.isFull(err) {
		secs := int((h.cfg.RetryAfter + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		h.fail(w, http.StatusServiceUnavailable, fmt.Sprintf("the collector's spool is full (Kafka is slow or down); nothing in this request was accepted: retry after %ds", secs))
		return
	}
	h.log.Error("ingest failed", "err", err)
	h.fail(w, http.StatusInternalServerError, "the collector could not store the events; nothing in this request was accepted: retry later")
}

func (h *HTTPHandler) fail(w http.ResponseWriter, code int, msg string) {
	h.write(w, code, errorResponse{Error: msg})
}

func (h *HTTPHandler) write(w http.ResponseWriter, code int, v any) {
	h.metrics.httpReqs.WithLabelValues(strconv.Itoa(code)).Inc()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
