package event_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/vigil-audit/vigil/internal/event"
)

// FuzzDecodeAccess checks, on any input, that DecodeAccess does not panic,
// that it accepts nothing the standard library rejects or reads
// differently, and that an accepted event re-encodes to an event that
// decodes and validates clean and equal.
func FuzzDecodeAccess(f *testing.F) {
	for _, data := range goodFiles(f, "access") {
		f.Add(data)
	}
	for _, tc := range accessBadCases(f) {
		f.Add([]byte(tc.in))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		e, ps := testValidator.DecodeAccess(data)
		if len(ps) > event.MaxProblems+1 {
			t.Fatalf("%d problems, more than MaxProblems+1", len(ps))
		}
		for _, p := range ps {
			if p.Reason == "" {
				t.Fatalf("problem without a reason at %q", p.Path)
			}
		}
		if len(ps) > 0 {
			return
		}
		if !json.Valid(data) {
			t.Fatalf("accepted input that is not JSON: %q", data)
		}
		var std event.AccessEvent
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&std); err == nil {
			// encoding/json fails on integers written as 1e3 or 7.0,
			// which JSON Schema and DecodeAccess accept; otherwise both
			// must read the same event.
			if std.Relationship == "" {
				std.Relationship = event.RelationshipUnknown
			}
			if !reflect.DeepEqual(normaliseEmpty(std, e), e) {
				t.Fatalf("json.Unmarshal reads a different event:\n%+v\n%+v", std, e)
			}
		}
		out, err := json.Marshal(e)
		if err != nil {
			t.Fatalf("Marshal of an accepted event: %v", err)
		}
		e2, ps := testValidator.DecodeAccess(out)
		if len(ps) != 0 {
			t.Fatalf("re-encoded event %s: %v", out, ps)
		}
		if !reflect.DeepEqual(normaliseEmpty(e2, e), e) {
			t.Fatalf("re-encoding changed the event:\n%+v\n%+v", e, e2)
		}
		// Completed as the collector would, it is valid on the bus.
		e2.EventID, e2.Source, e2.ReceivedAt = "evt-1", "fuzz", event.NewTimestamp(testNow)
		if ps := testValidator.ValidateAccess(e2); len(ps) != 0 {
			t.Fatalf("ValidateAccess of an accepted event: %v", ps)
		}
	})
}

// FuzzDecodeDevice is FuzzDecodeAccess for device events.
func FuzzDecodeDevice(f *testing.F) {
	for _, data := range goodFiles(f, "device") {
		f.Add(data)
	}
	for _, tc := range deviceBadCases(f) {
		f.Add([]byte(tc.in))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		e, ps := testValidator.DecodeDevice(data)
		if len(ps) > event.MaxProblems+1 {
			t.Fatalf("%d problems, more than MaxProblems+1", len(ps))
		}
		if len(ps) > 0 {
			return
		}
		if !json.Valid(data) {
			t.Fatalf("accepted input that is not JSON: %q", data)
		}
		var std event.DeviceEvent
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&std); err != nil {
			t.Fatalf("json.Unmarshal rejects an accepted event: %v", err)
		}
		if std.Attrs == nil && e.Attrs != nil && len(e.Attrs) == 0 {
			std.Attrs = e.Attrs
		}
		if !reflect.DeepEqual(std, e) {
			t.Fatalf("json.Unmarshal reads a different event:\n%+v\n%+v", std, e)
		}
		out, err := json.Marshal(e)
		if err != nil {
			t.Fatalf("Marshal of an accepted event: %v", err)
		}
		e2, ps := testValidator.DecodeDevice(out)
		if len(ps) != 0 {
			t.Fatalf("re-encoded event %s: %v", out, ps)
		}
		if e2.Attrs == nil && e.Attrs != nil && len(e.Attrs) == 0 {
			e2.Attrs = e.Attrs
		}
		if !reflect.DeepEqual(e2, e) {
			t.Fatalf("re-encoding changed the event:\n%+v\n%+v", e, e2)
		}
		e2.EventID, e2.Source, e2.ReceivedAt = "evt-1", "fuzz", event.NewTimestamp(testNow)
		if ps := testValidator.ValidateDevice(e2); len(ps) != 0 {
			t.Fatalf("ValidateDevice of an accepted event: %v", ps)
		}
	})
}

// goOnlyReason reports whether a problem is one JSON Schema cannot express
// (see the only* reasons of the bad cases), so that a fuzzed input whose
// problems are all of this kind is left out of the agreement check.
func goOnlyReason(p event.Problem) bool {
	for _, s := range []string{
		"duplicate key", "invalid UTF-8", "unpaired UTF-16 surrogate", // onlyDuplicateKeys, onlyUTF8
		"in the future", "must not be before 1970", "must be before 2100", // onlyClock
		"longer than",                                  // onlyBytes: the schema counts characters
		"more than the limit of", "nested deeper than", // onlySize
	} {
		if strings.Contains(p.Reason, s) {
			return true
		}
	}
	return false
}

// FuzzSchemaAgreement checks on any input that the published access schema
// and the validator agree, except where the validator's only objections
// are ones JSON Schema cannot express.
func FuzzSchemaAgreement(f *testing.F) {
	for _, data := range goodFiles(f, "access") {
		f.Add(data)
	}
	for _, tc := range accessBadCases(f) {
		f.Add([]byte(tc.in))
	}
	s := compileSchema(f, event.SchemaAccess)
	f.Fuzz(func(t *testing.T, data []byte) {
		_, ps := testValidator.DecodeAccess(data)
		goOnly := len(ps) > 0
		for _, p := range ps {
			goOnly = goOnly && goOnlyReason(p)
		}
		// With a duplicate key the validator also judges the values the
		// schema never sees (its JSON parser keeps the last one): a
		// problem of an earlier copy is part of the duplicate's.
		for _, p := range ps {
			goOnly = goOnly || strings.Contains(p.Reason, "duplicate key")
		}
		if goOnly || !utf8.Valid(data) {
			return
		}
		err := schemaVerdict(s, string(data))
		switch {
		case len(ps) == 0 && err != nil:
			t.Fatalf("schema rejects what the validator accepts: %v", err)
		case len(ps) > 0 && err == nil:
			t.Fatalf("schema accepts what the validator rejects: %v", ps)
		}
	})
}
