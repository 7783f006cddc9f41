package directory

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/vigil-audit/vigil/internal/event"
)

// ErrNotFound reports that a token has no contact: the recipient is unreachable.
var ErrNotFound = errors.New("directory: contact not found")

// Contact is what is known about a recipient at send time.
type Contact struct {
	Name          string          `json:"name" yaml:"name"`
	Language      string          `json:"language" yaml:"language"`
	Email         string          `json:"email,omitempty" yaml:"email"`
	Phone         string          `json:"phone,omitempty" yaml:"phone"`
	PushID        string          `json:"push_id,omitempty" yaml:"push_id"`
	Postal        []string        `json:"postal,omitempty" yaml:"postal"`
	GuardianToken string          `json:"guardian_token,omitempty" yaml:"guardian_token"`
	Preferred     []event.Channel `json:"preferred,omitempty" yaml:"preferred"`
}

// Directory resolves recipient tokens.
type Directory interface {
	Lookup(ctx context.Context, token string) (Contact, error)
}

// RetryableError marks a lookup failure that may succeed later.
type RetryableError struct{ Err error }

func (e *RetryableError) Error() string { return e.Err.Error() }
func (e *RetryableError) Unwrap() error { return e.Err }

// Retryable reports whether err is worth retrying.
func Retryable(err error) bool {
	var r *RetryableError
	return errors.As(err, &r)
}

// FileDirectory is a Directory loaded from a YAML (.yaml/.yml) or JSON file mapping
// token to Contact.
type FileDirectory struct {
	path     string
	mu       sync.RWMutex
	contacts map[string]Contact
	mod      time.Time
	size     int64
}

// LoadFile reads path strictly.
func LoadFile(path string) (*FileDirectory, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("directory: %w", err)
	}
	m, err := parseFile(path)
	if err != nil {
		return nil, err
	}
	return &FileDirectory{path: path, contacts: m, mod: st.ModTime(), size: st.Size()}, nil
}

// Reload re-reads the file if its modification time or size changed. On error the
// previously loaded contacts stay in use.
func (d *FileDirectory) Reload() (changed bool, err error) {
	st, err := os.Stat(d.path)
	if err != nil {
		return false, fmt.Errorf("directory: %w", err)
	}
	d.mu.RLock()
	same := st.ModTime().Equal(d.mod) && st.Size() == d.size
	d.mu.RUnlock()
	if same {
		return false, nil
	}
	m, err := parseFile(d.path)
	if err != nil {
		return false, err
	}
	d.mu.Lock()
	d.contacts, d.mod, d.size = m, st.ModTime(), st.Size()
	d.mu.Unlock()
	return true, nil
}

func parseFile(path string) (map[string]Contact, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("directory: read %s: %w", path, err)
	}
	m := map[string]Contact{}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".json":
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&m); err != nil {
			return nil, fmt.Errorf("directory: %s:%d: %w", path, jsonLine(b, dec.InputOffset(), err), err)
		}
	default:
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(&m); err != nil && !errors.Is(err, io.EOF) {
			// yaml errors already carry "line N".
			return nil, fmt.Errorf("directory: %s: %w", path, err)
		}
	}
	for tok, c := range m {
		for _, ch := range c.Preferred {
			if !ch.Valid() {
				return nil, fmt.Errorf("directory: %s: token %s: preferred: unknown channel %q", path, tok, ch)
			}
		}
	}
	return m, nil
}

func jsonLine(b []byte, off int64, err error) int {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
	}
	if off > int64(len(b)) {
		off = int64(len(b))
	}
	return 1 + bytes.Count(b[:off], []byte("\n"))
}

// Lookup implements Directory.
func (d *FileDirectory) Lookup(ctx context.Context, token string) (Contact, error) {
	if err := ctx.Err(); err != nil {
		return Contact{}, err
	}
	d.mu.RLock()
	c, ok := d.contacts[token]
	d.mu.RUnlock()
	if !ok {
		return Contact{}, fmt.Errorf("lookup %s: %w", token, ErrNotFound)
	}
	return c, nil
}

// HTTPDirectory looks contacts up at GET {Base}/contacts/{token}.
type HTTPDirectory struct {
	Base     string
	Token    string // bearer token (notifier.Settings reads it from the environment or a file)
	Client   *http.Client
	Timeout  time.Duration // per request; default 10s
	MaxBytes int64         // response limit; default 64 KiB
}

// Lookup implements Directory.
func (d *HTTPDirectory) Lookup(ctx context.Context, token string) (Contact, error) {
	timeout := d.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	limit := d.MaxBytes
	if limit <= 0 {
		limit = 64 << 10
	}
	client := d.Client
	if client == nil {
		client = http.DefaultClient
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	u := strings.TrimRight(d.Base, "/") + "/contacts/" + url.PathEscape(token)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return Contact{}, fmt.Errorf("directory: lookup %s: %w", token, err)
	}
	req.Header.Set("Accept", "application/json")
	if d.Token != "" {
		req.Header.Set("Authorization", "Bearer "+d.Token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return Contact{}, &RetryableError{fmt.Errorf("directory: lookup %s: %w", token, err)}
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return Contact{}, fmt.Errorf("directory: lookup %s: %w", token, ErrNotFound)
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		return Contact{}, &RetryableError{fmt.Errorf("directory: lookup %s: status %d", token, resp.StatusCode)}
	case resp.StatusCode != http.StatusOK:
		return Contact{}, fmt.Errorf("directory: lookup %s: status %d", token, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return Contact{}, &RetryableError{fmt.Errorf("directory: lookup %s: read: %w", token, err)}
	}
	if int64(len(body)) > limit {
		return Contact{}, fmt.Errorf("directory: lookup %s: response exceeds %d bytes", token, limit)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var c Contact
	if err := dec.Decode(&c); err != nil {
		return Contact{}, fmt.Errorf("directory: lookup %s: decode: %w", token, err)
	}
	return c, nil
}
