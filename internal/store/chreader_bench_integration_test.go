//go:build integration

package store

import (
	"context"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-audit/vigil/internal/testenv"
)

// BenchmarkSubjectHistory10M measures SubjectHistory, streamed to the end,
// on a database that bench/store_query.sh fills with 10 million access
// events. It runs only when the script sets:
//
//	VIGIL_BENCH_DB        the database (migrated and loaded)
//	VIGIL_BENCH_SUBJECTS  comma-separated subject tokens to ask about
//	VIGIL_BENCH_FROM      the range asked, Unix seconds, from (inclusive)
//	VIGIL_BENCH_TO        and to (exclusive)
//
// and VIGIL_TEST_CLICKHOUSE. One iteration asks about every subject once,
// one after the other, after one unmeasured warm-up pass; use -benchtime
// Nx for N rounds. Reported: p50_ms and p95_ms over every query of every
// round (nearest rank), and rows/query.
func BenchmarkSubjectHistory10M(b *testing.B) {
	db := os.Getenv("VIGIL_BENCH_DB")
	if db == "" {
		b.Skip("VIGIL_BENCH_DB is not set: bench/store_query.sh loads the data and runs this benchmark")
	}
	addr := testenv.ClickHouse(b)
	subjects := strings.Split(testenv.Lookup(b, "VIGIL_BENCH_SUBJECTS"), ",")
	unix := func(name string) time.Time {
		v, err := strconv.ParseInt(testenv.Lookup(b, name), 10, 64)
		if err != nil {
			b.Fatalf("%s: %v", name, err)
		}
		return time.Unix(v, 0).UTC()
	}
	r := TimeRange{From: unix("VIGIL_BENCH_FROM"), To: unix("VIGIL_BENCH_TO")}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	conn, err := Open(ctx, ClickHouseConfig{Addr: []string{addr}, DialTimeout: 10 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	s := NewClickHouseStore(conn, db)

	ask := func(subject string) (int, time.Duration) {
		began := time.Now()
		rows := 0
		err := s.SubjectHistory(ctx, SubjectQuery{SubjectID: subject, TimeRange: r}, func(*SubjectAccess) error {
			rows++
			return nil
		})
		took := time.Since(began)
		if err != nil {
			b.Fatal(err)
		}
		return rows, took
	}
	for _, subject := range subjects { // warm-up: connections, caches
		ask(subject)
	}
	var (
		took []time.Duration
		rows int
	)
	for b.Loop() {
		for _, subject := range subjects {
			n, d := ask(subject)
			rows += n
			took = append(took, d)
		}
	}
	b.ReportMetric(percentileMs(took, 0.50), "p50_ms")
	b.ReportMetric(percentileMs(took, 0.95), "p95_ms")
	b.ReportMetric(float64(rows)/float64(len(took)), "rows/query")
	if path := os.Getenv("VIGIL_BENCH_LATENCIES"); path != "" {
		var out strings.Builder
		for _, d := range took {
			fmt.Fprintf(&out, "%.3f\n", float64(d)/float64(time.Millisecond))
		}
		if err := os.WriteFile(path, []byte(out.String()), 0o644); err != nil {
			b.Fatal(err)
		}
	}
}

// percentileMs is the nearest-rank percentile p (0..1) of ds in
// milliseconds.
func percentileMs(ds []time.Duration, p float64) float64 {
	if len(ds) == 0 {
		return math.NaN()
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := max(int(math.Ceil(p*float64(len(s))))-1, 0)
	return float64(s[i]) / float64(time.Millisecond)
}
