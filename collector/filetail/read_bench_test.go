package filetail

import (
	"bytes"
	"strings"
	"testing"
)

// BenchmarkReadBatch measures cutting 500-byte NDJSON lines into batches,
// the tailer's hot path (the file is in memory here, as in the page cache).
func BenchmarkReadBatch(b *testing.B) {
	line := `{"event_id":"` + strings.Repeat("x", 480) + `"}` + "\n"
	content := []byte(strings.Repeat(line, 4000))
	r := bytes.NewReader(content)
	buf := make([]byte, readChunk)
	b.SetBytes(int64(len(content)))
	b.ReportAllocs()
	for b.Loop() {
		for off := int64(0); off < int64(len(content)); {
			res, err := readBatch(r, off, nil, 1<<20, false, buf)
			if err != nil {
				b.Fatal(err)
			}
			off = res.end
		}
	}
	b.ReportMetric(float64(b.N*4000)/b.Elapsed().Seconds(), "lines/s")
}
