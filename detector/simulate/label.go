package simulate

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"github.com/vigil-audit/vigil/internal/event"
)

// Label records one injected incident: what it is, who did it, and which
// events it consists of. Labels are written as JSON lines (labels.jsonl).
//
// Ids appear raw and, when the Simulator has the collector's
// pseudonymisation key, as the tokens the collector will turn them into,
// so a label can be matched to alerts and events on the bus. Actor ids
// pass the collector raw by default (ActorID is then what the bus
// carries); ActorToken is what it carries with pseudonymise.tokenise_actor.
// Subject, account and device ids are always tokenised on the bus.
type Label struct {
	// ID is the incident's id, unique in the run.
	ID string `json:"id"`
	// Kind is the incident kind.
	Kind Kind `json:"kind"`
	// Stream is the event stream the incident is in: access or device.
	Stream string `json:"stream"`
	// Org is the tenant.
	Org string `json:"org"`
	// Description says in one sentence what happened, without subject,
	// account or device ids.
	Description string `json:"description"`
	// Start and End are the occurred_at of the incident's first and last
	// events.
	Start event.Timestamp `json:"start"`
	End   event.Timestamp `json:"end"`
	// ActorID is the actor of an access incident, raw.
	ActorID string `json:"actor_id,omitempty"`
	// ActorToken is the person token of ActorID (with the key).
	ActorToken string `json:"actor_token,omitempty"`
	// DeviceID is the device of a device incident, raw.
	DeviceID string `json:"device_id,omitempty"`
	// DeviceToken is its device token (with the key).
	DeviceToken string `json:"device_token,omitempty"`
	// AccountIDs are the accounts of a device incident, raw.
	AccountIDs []string `json:"account_ids,omitempty"`
	// AccountTokens are their person tokens, in the same order (with the
	// key).
	AccountTokens []string `json:"account_tokens,omitempty"`
	// SubjectIDs are the people whose data an access incident touched,
	// raw, in order of first access.
	SubjectIDs []string `json:"subject_ids,omitempty"`
	// SubjectTokens are their person tokens, in the same order (with the
	// key).
	SubjectTokens []string `json:"subject_tokens,omitempty"`
	// EventIDs are the event_id of every event of the incident, in time
	// order. Events of the actor's (or device's) ordinary traffic at the
	// same time are not listed.
	EventIDs []string `json:"event_ids"`
	// Partial is true when the run ended before every event of the
	// incident was emitted; EventIDs lists those that were.
	Partial bool `json:"partial,omitempty"`
}

// GroupValue returns what an alert about the incident is grouped by: the
// actor id for access incidents, the device id for device incidents. With
// tokens true it returns the token (ActorToken, DeviceToken) instead.
func (l *Label) GroupValue(tokens bool) string {
	switch {
	case l.Stream == StreamDevice && tokens:
		return l.DeviceToken
	case l.Stream == StreamDevice:
		return l.DeviceID
	case tokens:
		return l.ActorToken
	}
	return l.ActorID
}

// ReadLabels reads a labels file: one JSON Label per line; blank lines are
// skipped. Unknown fields are an error.
func ReadLabels(r io.Reader) ([]Label, error) {
	var out []Label
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 64<<20)
	line := 0
	for sc.Scan() {
		line++
		b := sc.Bytes()
		if len(b) == 0 {
			continue
		}
		var l Label
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&l); err != nil {
			return nil, fmt.Errorf("labels line %d: %w", line, err)
		}
		if !l.Kind.Valid() {
			return nil, fmt.Errorf("labels line %d: unknown kind %q", line, l.Kind)
		}
		out = append(out, l)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read labels: %w", err)
	}
	return out, nil
}

// IndexByEvent maps every event id of the labels to its label, so that an
// alert's evidence can be matched to the incident it found.
func IndexByEvent(labels []Label) map[string]*Label {
	m := make(map[string]*Label)
	for i := range labels {
		for _, id := range labels[i].EventIDs {
			m[id] = &labels[i]
		}
	}
	return m
}
