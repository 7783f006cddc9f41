package sink

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/vigil-audit/vigil/internal/bus"
	"github.com/vigil-audit/vigil/internal/event"
	"github.com/vigil-audit/vigil/internal/store"
)

// ReasonUndecodable is the reason code of the dead letter the sink stores
// for a record it could not decode (sink.on_invalid: dead_letter). Its
// receiver is ReceiverSink.
const ReasonUndecodable = "undecodable"

// ReceiverSink is the receiver of the dead letters the sink itself makes.
const ReceiverSink = "sink"

// maxDeadLetterRaw bounds the record value kept in a dead letter, like the
// collector's default (8 KiB).
const maxDeadLetterRaw = 8 << 10

// maxProblems bounds the problems kept in a dead letter or an error.
const maxProblems = 20

// kind is what a topic carries, which decides its decoder and its slice of
// store.Batch.
type kind int

const (
	kindUnknown kind = iota
	kindAccess
	kindDevice
	kindDeadLetter
	kindAlert
	kindIncident
	kindNotice
)

// kindName is the kind as written in a dead letter's kind field.
var kindName = [...]string{
	kindUnknown:    "unknown",
	kindAccess:     "access",
	kindDevice:     "device",
	kindDeadLetter: "deadletter",
	kindAlert:      "alert",
	kindIncident:   "incident",
	kindNotice:     "notice",
}

var topicKinds = []struct {
	topic string
	kind  kind
}{
	{bus.TopicAccess, kindAccess},
	{bus.TopicDevice, kindDevice},
	{bus.TopicDeadLetter, kindDeadLetter},
	{bus.TopicAlerts, kindAlert},
	{bus.TopicIncidents, kindIncident},
	{bus.TopicNotices, kindNotice},
}

// kindOf returns what topic carries: a Vigil topic name, or one after a
// prefix ending in a dot ("test.vigil.access.v1"), else kindUnknown.
func kindOf(topic string) kind {
	for _, tk := range topicKinds {
		if topic == tk.topic || strings.HasSuffix(topic, "."+tk.topic) {
			return tk.kind
		}
	}
	return kindUnknown
}

// validator decodes access and device events for the sink. Records on the
// bus passed the collector's checks; the sink checks them again at the bus
// level (event_id, source, received_at required) because it is the last
// gate before the system of record and event_id is the dedup key. The
// future-skew check is off: an event the collector accepted must not be
// refused later because of a clock difference between hosts (the 1970–2099
// range, which the store's DateTime needs, still applies).
var validator = event.Validator{MaxFutureSkew: -1}

// InvalidRecordError is a record the sink could not decode. With
// sink.on_invalid: stop, Run returns it (nothing of the batch is
// committed: fix the producer or move the group's offset past the record
// with kafka-consumer-groups, then restart).
type InvalidRecordError struct {
	Topic     string
	Partition int
	Offset    int64
	Problems  []string
}

func (e *InvalidRecordError) Error() string {
	return fmt.Sprintf("undecodable record %s[%d]@%d: %s", e.Topic, e.Partition, e.Offset, strings.Join(e.Problems, "; "))
}

// add decodes m, a record of a topic of kind k, into b. A record that
// cannot be decoded is returned as an *InvalidRecordError and b is left as
// it was.
func add(b *store.Batch, k kind, m *kafka.Message) *InvalidRecordError {
	var probs []string
	switch k {
	case kindAccess:
		e, ps := validator.DecodeAccess(m.Value)
		if len(ps) == 0 {
			ps = validator.ValidateAccess(e)
		}
		if len(ps) == 0 {
			b.Access = append(b.Access, e)
			return nil
		}
		probs = ps.Strings()
	case kindDevice:
		e, ps := validator.DecodeDevice(m.Value)
		if len(ps) == 0 {
			ps = validator.ValidateDevice(e)
		}
		if len(ps) == 0 {
			b.Device = append(b.Device, e)
			return nil
		}
		probs = ps.Strings()
	case kindDeadLetter:
		var d event.DeadLetter
		if probs = decodeJSON(m.Value, &d, "dead_letter_id", func() bool { return d.DeadLetterID != "" }); probs == nil {
			b.DeadLetters = append(b.DeadLetters, d)
			return nil
		}
	case kindAlert:
		var a event.Alert
		if probs = decodeJSON(m.Value, &a, "alert_id", func() bool { return a.AlertID != "" }); probs == nil {
			b.Alerts = append(b.Alerts, store.Versioned[event.Alert]{Version: uint64(m.Offset), Value: a})
			return nil
		}
	case kindIncident:
		var in event.Incident
		if probs = decodeJSON(m.Value, &in, "incident_id", func() bool { return in.IncidentID != "" }); probs == nil {
			b.Incidents = append(b.Incidents, store.Versioned[event.Incident]{Version: uint64(m.Offset), Value: in})
			return nil
		}
	case kindNotice:
		var n event.Notice
		if probs = decodeJSON(m.Value, &n, "notice_id", func() bool { return n.NoticeID != "" }); probs == nil {
			b.Notices = append(b.Notices, store.Versioned[event.Notice]{Version: uint64(m.Offset), Value: n})
			return nil
		}
	default:
		probs = []string{"topic: not a topic the sink stores"}
	}
	if len(probs) > maxProblems {
		probs = append(probs[:maxProblems:maxProblems], strconv.Itoa(len(probs)-maxProblems)+" more problems not shown")
	}
	return &InvalidRecordError{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset, Problems: probs}
}

// decodeJSON decodes exactly one JSON object from data into v, strictly:
// unknown fields and trailing data are problems (within v1 readers are
// upgraded before writers add a field; see the event package's Versioning),
// and so is a missing id, the record's dedup key.
func decodeJSON(data []byte, v any, idField string, hasID func() bool) []string {
	if len(data) == 0 {
		return []string{"empty record"}
	}
	if len(data) > event.MaxEventSize*16 { // alerts carry evidence, incidents history: generous
		return []string{fmt.Sprintf("record of %d bytes is too large", len(data))}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return []string{err.Error()}
	}
	if rest := bytes.TrimSpace(data[dec.InputOffset():]); len(rest) > 0 {
		return []string{"trailing data after the JSON object"}
	}
	if !hasID() {
		return []string{idField + ": required"}
	}
	return nil
}

// deadLetter is the dead letter that stands for an undecodable record. Its
// id is derived from the record's place (topic, partition, offset), so a
// redelivered record gives the same id and the store keeps one row.
func deadLetter(k kind, m *kafka.Message, bad *InvalidRecordError, now time.Time) event.DeadLetter {
	at := m.Time
	if at.IsZero() || at.Year() < 1970 || at.Year() > 2099 {
		at = now
	}
	raw := m.Value
	truncated := len(raw) > maxDeadLetterRaw
	if truncated {
		raw = raw[:maxDeadLetterRaw]
	}
	return event.DeadLetter{
		DeadLetterID: "sink:" + m.Topic + ":" + strconv.Itoa(m.Partition) + ":" + strconv.FormatInt(m.Offset, 10),
		ReceivedAt:   event.NewTimestamp(at),
		Receiver:     ReceiverSink,
		Kind:         kindName[k],
		Reason:       ReasonUndecodable,
		Problems:     bad.Problems,
		Location:     m.Topic + "[" + strconv.Itoa(m.Partition) + "]@" + strconv.FormatInt(m.Offset, 10),
		Raw:          strings.ToValidUTF8(string(raw), "\uFFFD"),
		RawBytes:     len(m.Value),
		Truncated:    truncated,
	}
}
