package collector

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/vigil-audit/vigil/internal/bus"
)

// A spool record is an envelope: which topic, which key, which value.
//
//	byte     version (1)
//	byte     topic code (1 access, 2 device, 3 dead letter)
//	uvarint  key length
//	bytes    key
//	bytes    value (the rest)
const envelopeVersion = 1

const (
	topicAccess     = bus.TopicAccess
	topicDevice     = bus.TopicDevice
	topicDeadLetter = bus.TopicDeadLetter
)

var topicCodes = map[string]byte{topicAccess: 1, topicDevice: 2, topicDeadLetter: 3}
var codeTopics = [...]string{1: topicAccess, 2: topicDevice, 3: topicDeadLetter}

func encodeEnvelope(topic string, key, value []byte) []byte {
	b := appendEnvelopeHeader(make([]byte, 0, 2+binary.MaxVarintLen32+len(key)+len(value)), topic, key)
	return append(b, value...)
}

// appendEnvelopeHeader appends everything but the value, which follows.
func appendEnvelopeHeader(b []byte, topic string, key []byte) []byte {
	code, ok := topicCodes[topic]
	if !ok {
		panic("collector: no envelope code for topic " + topic)
	}
	b = append(b, envelopeVersion, code)
	b = binary.AppendUvarint(b, uint64(len(key)))
	return append(b, key...)
}

var errEnvelope = errors.New("malformed spool record")

// decodeEnvelope returns the topic, key and value of a spool record. The key
// and value alias rec.
func decodeEnvelope(rec []byte) (topic string, key, value []byte, err error) {
	if len(rec) < 3 {
		return "", nil, nil, fmt.Errorf("%w: %d bytes", errEnvelope, len(rec))
	}
	if rec[0] != envelopeVersion {
		return "", nil, nil, fmt.Errorf("%w: version %d", errEnvelope, rec[0])
	}
	if int(rec[1]) >= len(codeTopics) || codeTopics[rec[1]] == "" {
		return "", nil, nil, fmt.Errorf("%w: topic code %d", errEnvelope, rec[1])
	}
	n, w := binary.Uvarint(rec[2:])
	if w <= 0 || n > uint64(len(rec)-2-w) {
		return "", nil, nil, fmt.Errorf("%w: key length", errEnvelope)
	}
	start := 2 + w
	return codeTopics[rec[1]], rec[start : start+int(n)], rec[start+int(n):], nil
}
