package simulate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-audit/vigil/internal/event"
)

// HTTPConfig configures an HTTPSink.
type HTTPConfig struct {
	// URL is the collector's base URL (http://127.0.0.1:8080); events go
	// to URL/v1/access and URL/v1/device. Required.
	URL string
	// Token is the bearer token of the sending source. Required.
	Token string
	// BatchSize is the number of events per request. Zero means 500; at
	// most the collector's ingest.max_events (a 413 halves the batch).
	BatchSize int
	// Client sends the requests. Nil means a client with a 60 s timeout.
	Client *http.Client
	// MaxAttempts bounds the attempts at one batch after network errors
	// and 500, 502 and 504 answers (waiting 0.5 s, then twice as long each
	// time). Zero means 6, about 15 s of trying. A 503 or 429 (the
	// collector's spool is full) is retried after its Retry-After for as
	// long as the context lasts: the collector asked to be called back, and
	// nothing may be lost.
	MaxAttempts int
	// MaxRetryWait caps the wait before a retry. Zero means 60 s.
	MaxRetryWait time.Duration
	// Logger receives a warning for each retry and each rejected event.
	// Nil means discard.
	Logger *slog.Logger
	// Sleep waits between attempts. Nil means a timer that ends early when
	// ctx ends. Tests make it instant.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Rejection is an event the collector refused, with its reasons.
type Rejection struct {
	Stream  string   // access or device
	EventID string   // the event's id
	Reason  string   // the collector's reason code (invalid_event, …)
	Errors  []string // each problem with its field path
}

// HTTPStats counts what an HTTPSink did.
type HTTPStats struct {
	Requests int64 // requests sent, retries included
	Retries  int64 // requests that were retries
	Accepted int64 // events the collector accepted
	Rejected int64 // events it refused (see Rejected)
	Unsent   int64 // events not delivered: a batch failed for good, and the rest were not tried
}

// HTTPSink posts events to a collector's HTTP ingest API as NDJSON in
// batches. It retries what the collector did not take (network errors,
// 5xx; 503 and 429 after Retry-After), splits a batch the collector finds
// too large (413), and records the events the collector rejected, which
// are not retried: a rejected event would be rejected again. Labels are
// not sent (the collector takes events only): tee the sink with a
// WriterSink for them.
//
// An event is in at most one request that the collector accepted: a batch
// is sent again only after an answer that says nothing was accepted, or
// after a network error, where the collector may have accepted it (the
// event ids make such a repeat harmless downstream).
type HTTPSink struct {
	cfg      HTTPConfig
	client   *http.Client
	sleep    func(context.Context, time.Duration) error
	log      *slog.Logger
	urls     [2]string
	batches  [2]batch
	rejected []Rejection
	stats    HTTPStats
	failed   error // a batch that could not be delivered: later ones are not tried
}

// batch is the NDJSON body being built for one endpoint.
type batch struct {
	body []byte
	ends []int    // end offset of each line in body
	ids  []string // event id of each line
}

func (b *batch) reset() { b.body, b.ends, b.ids = b.body[:0], b.ends[:0], b.ids[:0] }

const (
	httpAccess = 0
	httpDevice = 1
)

var streamOf = [2]string{StreamAccess, StreamDevice}

// NewHTTPSink checks cfg and returns a sink posting to the collector.
func NewHTTPSink(cfg HTTPConfig) (*HTTPSink, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("collector URL %q: want http(s)://host:port", cfg.URL)
	}
	if strings.TrimSpace(cfg.Token) == "" {
		return nil, errors.New("collector token is empty: give the bearer token of a source (vigil up saves one in DATA/ingest-token)")
	}
	if cfg.BatchSize < 0 || cfg.MaxAttempts < 0 || cfg.MaxRetryWait < 0 {
		return nil, errors.New("collector sink: batch size, attempts and retry wait must not be negative")
	}
	if cfg.BatchSize == 0 {
		cfg.BatchSize = 500
	}
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = 6
	}
	if cfg.MaxRetryWait == 0 {
		cfg.MaxRetryWait = time.Minute
	}
	s := &HTTPSink{cfg: cfg, client: cfg.Client, sleep: cfg.Sleep, log: cfg.Logger}
	if s.client == nil {
		s.client = &http.Client{Timeout: time.Minute}
	}
	if s.sleep == nil {
		s.sleep = sleepCtx
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	base := strings.TrimRight(u.String(), "/")
	s.urls = [2]string{base + "/v1/access", base + "/v1/device"}
	return s, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Access adds e to the access batch and sends the batch when it is full.
func (s *HTTPSink) Access(ctx context.Context, e *event.AccessEvent) error {
	b := &s.batches[httpAccess]
	b.body = append(e.AppendJSON(b.body), '\n')
	return s.added(ctx, httpAccess, e.EventID)
}

// Device adds e to the device batch and sends the batch when it is full.
func (s *HTTPSink) Device(ctx context.Context, e *event.DeviceEvent) error {
	b := &s.batches[httpDevice]
	b.body = append(e.AppendJSON(b.body), '\n')
	return s.added(ctx, httpDevice, e.EventID)
}

func (s *HTTPSink) added(ctx context.Context, k int, id string) error {
	b := &s.batches[k]
	b.ends = append(b.ends, len(b.body))
	b.ids = append(b.ids, id)
	if len(b.ids) >= s.cfg.BatchSize {
		return s.send(ctx, k)
	}
	return nil
}

// Label does nothing: labels are not collector input.
func (s *HTTPSink) Label(context.Context, *Label) error { return nil }

// Flush sends both batches.
func (s *HTTPSink) Flush(ctx context.Context) error {
	return errors.Join(s.send(ctx, httpAccess), s.send(ctx, httpDevice))
}

// Close flushes and returns an error naming the rejected events, if the
// collector rejected any.
func (s *HTTPSink) Close(ctx context.Context) error {
	if err := s.Flush(ctx); err != nil {
		return err
	}
	return s.Err()
}

// Err returns an error describing the rejected events so far, or nil.
func (s *HTTPSink) Err() error {
	if len(s.rejected) == 0 {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "the collector rejected %d events:", len(s.rejected))
	for i, r := range s.rejected {
		if i == 10 {
			fmt.Fprintf(&b, "\n  … and %d more", len(s.rejected)-10)
			break
		}
		fmt.Fprintf(&b, "\n  %s %s: %s: %s", r.Stream, r.EventID, r.Reason, strings.Join(r.Errors, "; "))
	}
	return errors.New(b.String())
}

// Rejected returns the events the collector rejected so far.
func (s *HTTPSink) Rejected() []Rejection { return append([]Rejection(nil), s.rejected...) }

// Stats returns the counts so far.
func (s *HTTPSink) Stats() HTTPStats { return s.stats }

// send posts batch k, all of it, and empties it.
func (s *HTTPSink) send(ctx context.Context, k int) error {
	b := &s.batches[k]
	if len(b.ids) == 0 {
		return nil
	}
	defer b.reset()
	if s.failed != nil {
		s.stats.Unsent += int64(len(b.ids))
		return fmt.Errorf("%d %s events not sent after the earlier failure", len(b.ids), streamOf[k])
	}
	err := s.post(ctx, k, b.body, b.ends, b.ids, 0)
	if err != nil {
		s.failed = err
		s.stats.Unsent += int64(len(b.ids))
	}
	return err
}

// ingestResponse is the collector's answer to an ingest request.
type ingestResponse struct {
	Accepted int `json:"accepted"`
	Rejected int `json:"rejected"`
	Results  []struct {
		Line    int      `json:"line"`
		Status  string   `json:"status"`
		EventID string   `json:"event_id"`
		Reason  string   `json:"reason"`
		Errors  []string `json:"errors"`
	} `json:"results"`
	Error string `json:"error"`
}

// post sends body (lines ending at ends, offset base) until the collector
// has taken it.
func (s *HTTPSink) post(ctx context.Context, k int, body []byte, ends []int, ids []string, base int) error {
	failures := 0
	for {
		code, resp, retryAfter, err := s.do(ctx, k, body[:ends[len(ends)-1]-base])
		s.stats.Requests++
		var wait time.Duration
		switch {
		case err != nil && ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			failures++
			if failures >= s.cfg.MaxAttempts {
				return fmt.Errorf("post %d %s events to %s: %w (gave up after %d attempts)", len(ids), streamOf[k], s.urls[k], err, failures)
			}
			wait = backoff(failures)
			s.log.Warn("collector unreachable; retrying", "url", s.urls[k], "err", err, "in", wait)
		case code == http.StatusOK || code == http.StatusMultiStatus || code == http.StatusUnprocessableEntity:
			return s.results(k, code, resp, ids)
		case code == http.StatusServiceUnavailable || code == http.StatusTooManyRequests:
			wait = retryAfter
			if wait <= 0 {
				wait = 5 * time.Second
			}
			s.log.Warn("collector busy; retrying", "url", s.urls[k], "status", code, "reason", resp.Error, "in", wait)
		case code == http.StatusRequestEntityTooLarge && len(ids) > 1:
			half := len(ids) / 2
			s.log.Warn("batch too large for the collector; splitting", "events", len(ids), "reason", resp.Error)
			if err := s.post(ctx, k, body, ends[:half], ids[:half], base); err != nil {
				return err
			}
			return s.post(ctx, k, body[ends[half-1]-base:], ends[half:], ids[half:], ends[half-1])
		case code >= 500:
			failures++
			if failures >= s.cfg.MaxAttempts {
				return fmt.Errorf("post %d %s events to %s: %d %s (gave up after %d attempts)", len(ids), streamOf[k], s.urls[k], code, resp.Error, failures)
			}
			wait = backoff(failures)
			s.log.Warn("collector failed; retrying", "url", s.urls[k], "status", code, "reason", resp.Error, "in", wait)
		default:
			msg := resp.Error
			if msg == "" {
				msg = http.StatusText(code)
			}
			return fmt.Errorf("the collector refused %d %s events (POST %s: %d): %s", len(ids), streamOf[k], s.urls[k], code, msg)
		}
		s.stats.Retries++
		if err := s.sleep(ctx, min(wait, s.cfg.MaxRetryWait)); err != nil {
			return err
		}
	}
}

// backoff is 0.5 s doubling per failure up to 30 s.
func backoff(failures int) time.Duration {
	return min(30*time.Second, 500*time.Millisecond<<min(failures-1, 10))
}

// do sends one request and reads the answer.
func (s *HTTPSink) do(ctx context.Context, k int, body []byte) (int, ingestResponse, time.Duration, error) {
	var resp ingestResponse
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.urls[k], bytes.NewReader(body))
	if err != nil {
		return 0, resp, 0, err
	}
	req.Header.Set("Authorization", "Bearer "+s.cfg.Token)
	req.Header.Set("Content-Type", "application/x-ndjson")
	res, err := s.client.Do(req)
	if err != nil {
		return 0, resp, 0, err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if err != nil {
		return 0, resp, 0, fmt.Errorf("read the collector's answer: %w", err)
	}
	_ = json.Unmarshal(data, &resp) // checked where the answer matters
	return res.StatusCode, resp, parseRetryAfter(res.Header.Get("Retry-After"), time.Now()), nil
}

// parseRetryAfter reads seconds or an HTTP date; 0 when absent or bad.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(0, t.Sub(now))
	}
	return 0
}

// results records what the collector said of each line.
func (s *HTTPSink) results(k, code int, resp ingestResponse, ids []string) error {
	if code == http.StatusOK && len(resp.Results) == 0 {
		s.stats.Accepted += int64(len(ids)) // 200 means every event was accepted
		return nil
	}
	if len(resp.Results) != len(ids) {
		return fmt.Errorf("the collector answered %d for %d %s events with %d results; cannot tell which were accepted", code, len(ids), streamOf[k], len(resp.Results))
	}
	for i, r := range resp.Results {
		switch r.Status {
		case "accepted":
			s.stats.Accepted++
		default:
			id := r.EventID
			if id == "" {
				id = ids[i]
			}
			rej := Rejection{Stream: streamOf[k], EventID: id, Reason: r.Reason, Errors: r.Errors}
			s.rejected = append(s.rejected, rej)
			s.stats.Rejected++
			s.log.Warn("the collector rejected an event", "stream", rej.Stream, "event_id", id, "reason", r.Reason, "errors", strings.Join(r.Errors, "; "))
		}
	}
	return nil
}
