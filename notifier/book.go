package notifier

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/vigil-audit/vigil/internal/event"
)

// Log keeps keyed state records durably: bus.JSONLog on a topic in
// production and in `vigil up`, bus.MemLog in tests.
type Log[T any] interface {
	Append(ctx context.Context, vs ...T) error
	Replay(ctx context.Context, fn func(T) error) error
}

// ErrUnknownIncident: no incident has that id.
var ErrUnknownIncident = errors.New("unknown incident")

// Book holds the current state of every incident and records each change
// in its Log before it becomes visible.
type Book struct {
	log Log[event.Incident]

	mu sync.Mutex // serialises updates: each is read, change, record, apply
	m  map[string]*event.Incident
}

// OpenBook replays log into a new Book.
func OpenBook(ctx context.Context, log Log[event.Incident]) (*Book, error) {
	b := &Book{log: log, m: map[string]*event.Incident{}}
	err := log.Replay(ctx, func(inc event.Incident) error {
		b.m[inc.IncidentID] = &inc
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("replaying incidents: %w", err)
	}
	return b, nil
}

// Get returns a copy of an incident.
func (b *Book) Get(id string) (event.Incident, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	inc, ok := b.m[id]
	if !ok {
		return event.Incident{}, false
	}
	return cloneIncident(inc), true
}

// Find returns the incident whose id is id or starts with id (at least 8
// characters, and only one match), so operators can type short ids.
func (b *Book) Find(id string) (event.Incident, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if inc, ok := b.m[id]; ok {
		return cloneIncident(inc), nil
	}
	if len(id) >= 8 {
		var found []*event.Incident
		for k, inc := range b.m {
			if strings.HasPrefix(k, id) {
				found = append(found, inc)
			}
		}
		if len(found) == 1 {
			return cloneIncident(found[0]), nil
		}
		if len(found) > 1 {
			return event.Incident{}, fmt.Errorf("%w: %q matches %d incidents; give more of the id", ErrUnknownIncident, id, len(found))
		}
	}
	return event.Incident{}, fmt.Errorf("%w: %q", ErrUnknownIncident, id)
}

// List returns copies of every incident, newest detected first (ties by
// id).
func (b *Book) List() []event.Incident {
	b.mu.Lock()
	out := make([]event.Incident, 0, len(b.m))
	for _, inc := range b.m {
		out = append(out, cloneIncident(inc))
	}
	b.mu.Unlock()
	slices.SortFunc(out, func(x, y event.Incident) int {
		if c := y.DetectedAt.Compare(x.DetectedAt.Time); c != 0 {
			return c
		}
		return strings.Compare(x.IncidentID, y.IncidentID)
	})
	return out
}

// Update applies fn to a copy of incident id (or to a new incident with
// that id when create is true and there is none), records the result and
// makes it current. fn returning an error changes nothing; so does fn
// returning errNoChange.
func (b *Book) Update(ctx context.Context, id string, create bool, fn func(*event.Incident) error) (event.Incident, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	cur, ok := b.m[id]
	var next event.Incident
	switch {
	case ok:
		next = cloneIncident(cur)
	case create:
		next = event.Incident{IncidentID: id}
	default:
		return event.Incident{}, fmt.Errorf("%w: %q", ErrUnknownIncident, id)
	}
	if err := fn(&next); err != nil {
		if errors.Is(err, errNoChange) && ok {
			return cloneIncident(cur), nil
		}
		return event.Incident{}, err
	}
	if err := b.log.Append(ctx, next); err != nil {
		return event.Incident{}, fmt.Errorf("recording incident %s: %w", id, err)
	}
	b.m[id] = &next
	return cloneIncident(&next), nil
}

// errNoChange tells Update that fn decided nothing changes.
var errNoChange = errors.New("no change")

// cloneIncident deep-copies an incident through its JSON form, the form it
// is recorded in, so no slice or map is shared with the book.
func cloneIncident(inc *event.Incident) event.Incident {
	b, err := json.Marshal(inc)
	if err != nil {
		panic(fmt.Sprintf("notifier: an incident does not encode: %v", err)) // every field is plain data
	}
	var out event.Incident
	if err := json.Unmarshal(b, &out); err != nil {
		panic(fmt.Sprintf("notifier: an incident does not decode: %v", err))
	}
	return out
}
