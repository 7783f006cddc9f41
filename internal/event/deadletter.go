package event

// DeadLetter is a copy of rejected input with the reason, as carried on
// vigil.deadletter.v1. Nothing a sender submits is dropped silently: an
// input the collector refuses gets a specific error to the sender and a
// DeadLetter here. Raw holds the input with identifiers pseudonymised where
// it could be parsed (and identifier-like patterns scrubbed elsewhere),
// truncated when huge.
type DeadLetter struct {
	// DeadLetterID identifies this record (random); redelivery may repeat it.
	DeadLetterID string `json:"dead_letter_id"`
	// ReceivedAt is when the collector received the input.
	ReceivedAt Timestamp `json:"received_at"`
	// Source is the sending system, from its credentials ("" when unknown).
	Source string `json:"source"`
	// Receiver is http, syslog or file.
	Receiver string `json:"receiver"`
	// Kind is access or device: what the input was meant to be.
	Kind string `json:"kind"`
	// Reason is a short fixed code: invalid_event, too_large, not_json,
	// syslog_parse, too_many_events.
	Reason string `json:"reason"`
	// Problems are the specific errors, "path: reason", as told to the sender.
	Problems []string `json:"problems"`
	// Location points into the input: "line 3", "/var/log/x.ndjson:1024", a
	// syslog peer.
	Location string `json:"location,omitempty"`
	// EventID is the event_id of the input, when it could be read.
	EventID string `json:"event_id,omitempty"`
	// Raw is the input, scrubbed of identifiers and truncated (see Truncated).
	Raw string `json:"raw"`
	// RawBytes is the size of the input before truncation.
	RawBytes int `json:"raw_bytes"`
	// Truncated tells that Raw holds only the start of the input.
	Truncated bool `json:"truncated,omitempty"`
}

// Dead-letter reasons.
const (
	ReasonInvalidEvent = "invalid_event"
	ReasonTooLarge     = "too_large"
	ReasonTooMany      = "too_many_events"
	ReasonNotJSON      = "not_json"
	ReasonSyslogParse  = "syslog_parse"
	ReasonBadEncoding  = "bad_encoding"
)
