package sqlite_test

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/vigil-audit/vigil/internal/event"
	"github.com/vigil-audit/vigil/internal/store"
	"github.com/vigil-audit/vigil/internal/store/sqlite"
)

// BenchmarkWriteAccess measures how many access events per second Write
// stores, in batches as the sink hands them over, each batch one
// transaction made durable (synchronous FULL) before Write returns. Events
// are complete (client, geo, three categories, attrs) and spread over
// 500 subjects so the subject index grows as in use; event ids are
// random UUIDs, as the collector assigns them. Reported as events/s.
func BenchmarkWriteAccess(b *testing.B) {
	for _, size := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			s, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "vigil.db"), sqlite.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			// Batches are built before the clock starts: Write is measured.
			const prebuilt = 20
			batches := make([]*store.Batch, prebuilt)
			n := 0
			for i := range batches {
				batches[i] = &store.Batch{}
				for range size {
					e := accessEvent(event.NewEventID(), fmt.Sprintf("subj-%03d", n%500), n)
					batches[i].Access = append(batches[i].Access, e)
					n++
				}
			}
			written := 0
			for b.Loop() {
				if written == prebuilt {
					// Rebuild ids outside the clock so events stay new.
					b.StopTimer()
					for _, batch := range batches {
						for j := range batch.Access {
							batch.Access[j].EventID = event.NewEventID()
						}
					}
					written = 0
					b.StartTimer()
				}
				if err := s.Write(b.Context(), batches[written]); err != nil {
					b.Fatal(err)
				}
				written++
			}
			b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
