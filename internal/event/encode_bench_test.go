package event_test

import (
	"encoding/json"
	"testing"
)

// BenchmarkAppendJSONAccess is BenchmarkMarshalAccess with the hand-written
// encoder, reusing its buffer as a producer would.
func BenchmarkAppendJSONAccess(b *testing.B) {
	e, ps := testValidator.DecodeAccess([]byte(benchAccess))
	if len(ps) != 0 {
		b.Fatal(ps)
	}
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = e.AppendJSON(buf[:0])
	}
	b.SetBytes(int64(len(buf)))
}

// benchSink keeps the encoded event alive, so that its buffer is allocated.
var benchSink []byte

// BenchmarkAppendJSONAccessNewBuffer allocates a fresh buffer per event,
// as when each encoded event is handed off to the producer.
func BenchmarkAppendJSONAccessNewBuffer(b *testing.B) {
	e, ps := testValidator.DecodeAccess([]byte(benchAccess))
	if len(ps) != 0 {
		b.Fatal(ps)
	}
	b.ReportAllocs()
	for b.Loop() {
		benchSink = e.AppendJSON(make([]byte, 0, 512))
	}
}

func BenchmarkMarshalDevice(b *testing.B) {
	e, ps := testValidator.DecodeDevice([]byte(benchDevice))
	if len(ps) != 0 {
		b.Fatal(ps)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(e); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendJSONDevice(b *testing.B) {
	e, ps := testValidator.DecodeDevice([]byte(benchDevice))
	if len(ps) != 0 {
		b.Fatal(ps)
	}
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = e.AppendJSON(buf[:0])
	}
	b.SetBytes(int64(len(buf)))
}
