package event

import "time"

// Limits enforced by the decoders and validators and published in the JSON
// Schemas under schema/. Every limit is here, in one place; a change to one
// of them is a change of the contract (see "Versioning" in the package doc).
//
// Lengths are in bytes of UTF-8 in Go. JSON Schema's maxLength counts code
// points instead, so the schemas carry the same number and are looser for
// non-ASCII text; the Go validator is the authority.
const (
	// MaxEventSize is the largest encoded event, in bytes, that the decoders
	// accept. Larger input is rejected before it is parsed.
	MaxEventSize = 64 << 10

	// MaxEventIDLen is the longest event_id. An event id is 1 to
	// MaxEventIDLen bytes of [A-Za-z0-9._:-].
	MaxEventIDLen = 128

	// MaxIDLen is the longest identifier or token: org, source, actor.id,
	// subject.id, session_id, request_id, account_id, device_id,
	// client.device_id, network.wifi_bssid. Identifiers must not contain
	// control characters (U+0000–U+001F, U+007F).
	MaxIDLen = 256

	// MaxStringLen is the longest short label: actor.role,
	// actor.department, geo.region, geo.city, device.model, device.os,
	// device.os_version, device.app_version, network.carrier. Labels must
	// not contain control characters.
	MaxStringLen = 256

	// MaxTextLen is the longest free text: purpose, client.user_agent and
	// attrs values. Text may contain any valid UTF-8.
	MaxTextLen = 1024

	// MaxAttrs is the largest number of entries in attrs.
	MaxAttrs = 64

	// MaxAttrKeyLen is the longest attrs key. A key is 1 to MaxAttrKeyLen
	// bytes of [A-Za-z0-9._:-].
	MaxAttrKeyLen = 64

	// MaxRecordCount is the largest record_count. It is below 2^53 so that
	// every value survives JavaScript and float64 readers.
	MaxRecordCount = 1_000_000_000_000

	// MaxAccuracyM is the largest location.accuracy_m, in metres (half the
	// Earth's circumference).
	MaxAccuracyM = 20_000_000

	// MaxEvidence is the largest number of event ids an Alert carries as
	// evidence; the rest are counted in Alert.Count only.
	MaxEvidence = 32

	// MaxProblems is the largest number of problems reported for one event.
	// When there are more, the first MaxProblems found are kept and one
	// more problem at the root says how many were left out.
	MaxProblems = 64

	// MaxDepth is the deepest nesting of arrays and objects accepted
	// anywhere in an event, including inside unknown fields.
	MaxDepth = 32

	// DefaultMaxFutureSkew is how far ahead of the validator's clock a
	// timestamp may be when Validator.MaxFutureSkew is zero.
	DefaultMaxFutureSkew = 24 * time.Hour
)

// minTime and maxTime bound every timestamp in an event: ClickHouse's
// DateTime (the system of record) holds 1970-01-01 to 2106-02-07, and a
// timestamp outside 1970–2099 is a sender's bug, not an event.
var (
	minTime = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
)
