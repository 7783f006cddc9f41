package spool

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

const benchRecord = 500

func benchSpool(b *testing.B, sync string) *Spool {
	b.Helper()
	cfg := Config{Dir: filepath.Join(b.TempDir(), "spool"), MaxBytes: 1 << 40, Sync: sync}
	s, err := Open(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// reportRecords reports records/s and MB/s of payload, and, with sync
// "always", the fsyncs behind them: throughput is about records per fsync
// divided by the fsync time, which depends on the disk and its load.
func reportRecords(b *testing.B, s *Spool, records int) {
	secs := b.Elapsed().Seconds()
	b.ReportMetric(float64(records)/secs, "records/s")
	b.ReportMetric(float64(records)*benchRecord/1e6/secs, "MB/s")
	var m dto.Metric
	if err := s.m.fsync.(prometheus.Metric).Write(&m); err != nil {
		b.Fatal(err)
	}
	if n := m.GetHistogram().GetSampleCount(); n > 0 {
		b.ReportMetric(m.GetHistogram().GetSampleSum()/float64(n)*1e6, "µs/fsync")
		b.ReportMetric(float64(records)/float64(n), "records/fsync")
	}
}

// BenchmarkAppend500B appends 500-byte records, one per Append (as many
// small HTTP requests would) or in groups, from many goroutines at once
// (parallel: 64 per CPU, group commit shares the fsyncs) or from one.
func BenchmarkAppend500B(b *testing.B) {
	for _, bc := range []struct {
		name     string
		sync     string
		parallel bool
		group    int
	}{
		{"sync=always/parallel", SyncAlways, true, 1},
		{"sync=always/parallel/group=10", SyncAlways, true, 10},
		{"sync=always/serial", SyncAlways, false, 1},
		{"sync=none/parallel", SyncNone, true, 1},
		{"sync=none/serial", SyncNone, false, 1},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := benchSpool(b, bc.sync)
			ctx := context.Background()
			recs := make([][]byte, bc.group)
			for i := range recs {
				recs[i] = make([]byte, benchRecord)
			}
			b.ReportAllocs()
			b.ResetTimer()
			if bc.parallel {
				b.SetParallelism(64)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if err := s.Append(ctx, recs...); err != nil {
							b.Error(err)
							return
						}
					}
				})
			} else {
				for b.Loop() {
					if err := s.Append(ctx, recs...); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.StopTimer()
			reportRecords(b, s, b.N*bc.group)
		})
	}
}

// BenchmarkPipeline500B is the spool's part of collector → Kafka: parallel
// appenders (sync always, one record per Append) and one consumer that reads
// batches of up to 1000 records and acknowledges each batch.
func BenchmarkPipeline500B(b *testing.B) {
	s := benchSpool(b, SyncAlways)
	ctx := context.Background()
	rec := make([]byte, benchRecord)
	consumed := make(chan error, 1)
	b.ReportAllocs()
	b.ResetTimer()
	go func() {
		for n := 0; n < b.N; {
			ents, err := s.Next(ctx, 1000)
			if err == nil {
				err = s.Ack(ents[len(ents)-1].Pos)
			}
			if err != nil {
				consumed <- err
				return
			}
			n += len(ents)
		}
		consumed <- nil
	}()
	b.SetParallelism(64)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := s.Append(ctx, rec); err != nil {
				b.Error(err)
				return
			}
		}
	})
	if err := <-consumed; err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	reportRecords(b, s, b.N)
}
