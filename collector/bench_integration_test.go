//go:build integration

package collector_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/vigil-audit/vigil/collector"
	"github.com/vigil-audit/vigil/collector/pseudo"
	"github.com/vigil-audit/vigil/collector/spool"
	"github.com/vigil-audit/vigil/internal/bus"
	"github.com/vigil-audit/vigil/internal/event"
	"github.com/vigil-audit/vigil/internal/testenv"
)

// BenchmarkCollectorVsKcat measures the collector → Kafka path against kcat
// producing the same messages to the same broker, in one run (DESIGN.md,
// "Performance targets": at least 50% of kcat, at least 100k events/s on 2
// cores for 500-byte events). bench/collector.sh runs it; BENCHMARKS.md has
// the figures.
//
// Each iteration sends the same N access events (about 500 bytes of NDJSON
// each, generated once, deterministic, valid, spread over many actors so the
// keys spread over the partitions) two ways, each into a fresh 12-partition
// topic (vigil.access.v1's partition count), acks=all, lz4 (bus defaults),
// murmur2 partitioner:
//
//   - kcat: the pseudonymised JSON values and keys the collector produces
//     for those events, from a file (kcat -P -K TAB -l FILE), timed as a
//     whole process;
//   - vigil: a collector built as `vigil collect` builds it (collector.New:
//     real pseudonymiser, spool with sync=always in a temp dir on the same
//     disk as the broker, bus writers to the real broker with the access
//     topic redirected to the bench topic) behind a real HTTP server, fed by
//     C concurrent clients POSTing NDJSON batches of B events, timed from
//     the first request until vigil_collector_produced_total shows all N
//     acknowledged by Kafka.
//
// The load generator runs in this process and shares its CPUs with the
// collector, as kcat's file reading shares kcat's.
//
// Run it with -benchtime 1x: every iteration sends N events whatever b.N
// is. Which side goes first alternates between iterations (use -count 3 or
// more). Environment: VIGIL_BENCH_EVENTS (N, default 200000),
// VIGIL_BENCH_CLIENTS (C, 4), VIGIL_BENCH_BATCH (B, 1000), and, for
// diagnosis only, VIGIL_BENCH_SPOOL_SYNC=none (the spool does not fsync:
// not what the collector runs with, so not a figure against the target) and
// VIGIL_BENCH_BATCH_TIMEOUT=1ms (bus.writer.batch_timeout; default 10ms).
//
// Metrics: events/s and MB/s (Kafka value bytes) for vigil, kcat_events/s
// and kcat_MB/s for kcat, ratio_vs_kcat = vigil/kcat, ingest_events/s (rate
// at which the HTTP requests were accepted, that is durable in the spool),
// raw_B/event and msg_B/event (average posted event and Kafka value size),
// cpu_cores and kcat_cpu_cores (CPU time over wall time: the collector's
// includes the in-process load generator), events/cpu_s and
// kcat_events/cpu_s (events per CPU second: less sensitive than events/s to
// other processes on a loaded machine).
//
// The collector's side runs under the pprof label phase=vigil, so a
// -cpuprofile of the run can be narrowed to it:
//
//	go tool pprof -tagfocus phase=vigil collector.test cpu.out
func BenchmarkCollectorVsKcat(b *testing.B) {
	broker := testenv.Kafka(b)
	kcatBin := testenv.Kcat(b)
	n := benchEnvInt(b, "VIGIL_BENCH_EVENTS", 200_000)
	clients := benchEnvInt(b, "VIGIL_BENCH_CLIENTS", 4)
	batch := benchEnvInt(b, "VIGIL_BENCH_BATCH", 1000)

	busCfg := bus.Config{Brokers: []string{broker}}
	if v := os.Getenv("VIGIL_BENCH_BATCH_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			b.Fatalf("VIGIL_BENCH_BATCH_TIMEOUT=%q: %v", v, err)
		}
		busCfg.Writer.BatchTimeout = d
	}
	key := pseudo.Key(bytes.Repeat([]byte{0x5a}, 32))
	d := benchLoadData(b, key, n, batch)
	kcatFile := filepath.Join(b.TempDir(), "messages.tsv")
	benchWriteKcatFile(b, kcatFile, d.msgs)

	var vigil, split, kcat benchResult
	for i := 0; i < b.N; i++ {
		run := benchRuns.Add(1)
		measureKcat := func() {
			kcat = benchKcat(b, kcatBin, busCfg, kcatFile, n)
		}
		measureVigil := func() {
			pprof.Do(context.Background(), pprof.Labels("phase", "vigil"), func(context.Context) {
				vigil = benchVigil(b, busCfg, key, d.bodies, n, clients, false)
			})
		}
		if run%2 == 1 {
			measureKcat()
			measureVigil()
		} else {
			measureVigil()
			measureKcat()
		}
		pprof.Do(context.Background(), pprof.Labels("phase", "split"), func(context.Context) {
			split = benchVigil(b, busCfg, key, d.bodies, n, clients, true)
		})
	}
	rawBytes, valBytes := d.rawBytes, d.valBytes

	mb := float64(valBytes) / 1e6
	b.ReportMetric(0, "ns/op") // the iteration's wall time mixes both sides and the set-up
	b.ReportMetric(float64(n)/vigil.total.Seconds(), "events/s")
	b.ReportMetric(mb/vigil.total.Seconds(), "MB/s")
	b.ReportMetric(float64(n)/vigil.ingest.Seconds(), "ingest_events/s")
	b.ReportMetric(float64(n)/split.ingest.Seconds(), "ingest_only_events/s")
	b.ReportMetric(float64(n)/(split.total-split.ingest).Seconds(), "drain_only_events/s")
	b.ReportMetric(float64(n)/kcat.total.Seconds(), "kcat_events/s")
	b.ReportMetric(mb/kcat.total.Seconds(), "kcat_MB/s")
	b.ReportMetric(kcat.total.Seconds()/vigil.total.Seconds(), "ratio_vs_kcat")
	b.ReportMetric(vigil.cpu.Seconds()/vigil.total.Seconds(), "cpu_cores")
	b.ReportMetric(kcat.cpu.Seconds()/kcat.total.Seconds(), "kcat_cpu_cores")
	b.ReportMetric(float64(n)/vigil.cpu.Seconds(), "events/cpu_s")
	b.ReportMetric(float64(n)/kcat.cpu.Seconds(), "kcat_events/cpu_s")
	b.ReportMetric(float64(rawBytes)/float64(n), "raw_B/event")
	b.ReportMetric(float64(valBytes)/float64(n), "msg_B/event")
	b.Logf("N=%d C=%d B=%d: vigil %v (accepted over HTTP after %v), kcat %v; partitions written: vigil %d, kcat %d",
		n, clients, batch, vigil.total.Round(time.Millisecond), vigil.ingest.Round(time.Millisecond),
		kcat.total.Round(time.Millisecond), vigil.partitions, kcat.partitions)
	b.Logf("vigil: %s", vigil.diag)
	b.Logf("split: HTTP ingest alone %v (%.2f cores), then spool → Kafka alone %v; %s",
		split.ingest.Round(time.Millisecond), split.ingestCPU.Seconds()/split.ingest.Seconds(),
		(split.total - split.ingest).Round(time.Millisecond), split.diag)
}

// benchData is the data set of one size, built once per process (the -count
// runs share it).
type benchData struct {
	n, batch           int
	bodies             [][]byte
	msgs               []benchMsg
	rawBytes, valBytes int64
}

var (
	benchDataMu  sync.Mutex
	benchDataSet *benchData
)

func benchLoadData(b *testing.B, key pseudo.Key, n, batch int) *benchData {
	b.Helper()
	benchDataMu.Lock()
	defer benchDataMu.Unlock()
	if d := benchDataSet; d != nil && d.n == n && d.batch == batch {
		return d
	}
	lines := benchAccessEvents(n)
	msgs := benchReference(b, key, lines)
	d := &benchData{n: n, batch: batch, bodies: benchBodies(lines, batch), msgs: msgs}
	for _, l := range lines {
		d.rawBytes += int64(len(l))
	}
	for _, m := range msgs {
		d.valBytes += int64(len(m.value))
	}
	benchDataSet = d
	return d
}

// benchRuns counts iterations across -count runs, to alternate which side
// goes first.
var benchRuns atomic.Int64

const (
	benchPartitions = 12 // vigil.access.v1's default (bus.Topics)
	benchSource     = "bench-emr"
	benchToken      = "bench-token-0123456789"
)

type benchResult struct {
	total      time.Duration // until Kafka acknowledged all N
	ingest     time.Duration // vigil only: until every HTTP request was answered
	partitions int           // partitions that received records
	cpu        time.Duration // CPU time (user+system) of the process while measured
	ingestCPU  time.Duration // vigil only: the same until every HTTP request was answered
	diag       string        // vigil only: spool and producer figures
}

type benchMsg struct{ key, value []byte }

func benchEnvInt(b *testing.B, name string, def int) int {
	b.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	v, err := strconv.Atoi(s)
	if err != nil || v <= 0 {
		b.Fatalf("%s=%q: want a positive integer", name, s)
	}
	return v
}

// benchAccessEvents returns n valid access events as NDJSON lines of about
// 500 bytes each (padded to at least 500), the same every time: 5000
// actors over 8 orgs, 200000 subjects, varied actions, categories and
// clients.
func benchAccessEvents(n int) [][]byte {
	r := rand.New(rand.NewPCG(1, 2))
	actorTypes := []event.ActorType{event.ActorStaff, event.ActorDoctor, event.ActorService, event.ActorAdmin}
	actions := []event.Action{event.ActionRead, event.ActionRead, event.ActionRead, event.ActionSearch, event.ActionUpdate, event.ActionExport, event.ActionPrint, event.ActionDownload}
	cats := event.Categories()
	roles := []string{"nurse", "physician", "billing", "pharmacist", "registrar", "support"}
	depts := []string{"cardiology", "pediatrics", "emergency", "oncology", "pharmacy", "billing"}
	purposes := []string{"treatment", "billing", "prescription", "discharge", "audit"}
	cities := []struct{ lat, lon float64 }{{30.2741, 120.1551}, {31.2304, 121.4737}, {22.5431, 114.0579}}
	base := time.Date(2026, 10, 1, 8, 0, 0, 0, time.UTC)
	out := make([][]byte, n)
	for i := range out {
		c := cities[r.IntN(len(cities))]
		lat := float64(int(c.lat*1e4)+r.IntN(100)) / 1e4 // four decimals, printed as such
		lon := float64(int(c.lon*1e4)+r.IntN(100)) / 1e4
		actor := r.IntN(5000)
		e := event.AccessEvent{
			EventID:    fmt.Sprintf("b-%08d", i),
			OccurredAt: event.NewTimestamp(base.Add(time.Duration(i) * 7 * time.Millisecond)),
			Org:        fmt.Sprintf("hosp-%d", actor%8),
			Actor: event.Actor{
				ID:         fmt.Sprintf("staff-%05d", actor),
				Type:       actorTypes[actor%len(actorTypes)],
				Role:       roles[actor%len(roles)],
				Department: depts[actor%len(depts)],
			},
			Action:       actions[r.IntN(len(actions))],
			Subject:      event.Subject{ID: fmt.Sprintf("pt-%07d", r.IntN(200_000)), Type: event.SubjectPatient, Minor: r.IntN(10) == 0},
			Categories:   []event.Category{cats[r.IntN(len(cats))]},
			Purpose:      purposes[r.IntN(len(purposes))],
			Relationship: event.RelationshipTrue,
			Outcome:      event.OutcomeSuccess,
			Client: event.Client{
				IP:        fmt.Sprintf("10.%d.%d.%d", r.IntN(256), r.IntN(256), 1+r.IntN(254)),
				UserAgent: "EMRClient/4.2 (Windows 10)",
				DeviceID:  fmt.Sprintf("ws-%05d", actor%3000),
				Geo:       event.Geo{Country: "CN", Lat: &lat, Lon: &lon},
			},
			Attrs: map[string]string{"ward": fmt.Sprintf("%dB", 1+r.IntN(12))},
		}
		if e.Action == event.ActionSearch || e.Action == event.ActionExport {
			e.RecordCount = int64(2 + r.IntN(50))
		}
		line, err := json.Marshal(&e)
		if err != nil {
			panic(err)
		}
		// Pad the purpose (ASCII, so one byte per byte) to reach 500 bytes.
		if pad := 500 - len(line); pad > 0 {
			e.Purpose += strings.Repeat(".", pad)
			if line, err = json.Marshal(&e); err != nil {
				panic(err)
			}
		}
		out[i] = line
	}
	return out
}

// benchAppender keeps what an Ingester appends.
type benchAppender struct{ recs [][]byte }

func (a *benchAppender) Append(_ context.Context, recs ...[]byte) error {
	for _, r := range recs {
		a.recs = append(a.recs, bytes.Clone(r))
	}
	return nil
}

// benchReference runs the lines through the collector's own Ingester (same
// key, same pseudonymiser configuration, same source) and returns the Kafka
// keys and values it produces: what kcat is given. Only received_at differs
// from what the timed collector produces (same length).
func benchReference(b *testing.B, key pseudo.Key, lines [][]byte) []benchMsg {
	b.Helper()
	ps, err := pseudo.New(key, pseudo.Defaults())
	if err != nil {
		b.Fatal(err)
	}
	app := &benchAppender{}
	in := collector.NewIngester(app, ps, nil, collector.IngesterOptions{})
	inputs := make([]collector.Input, len(lines))
	for i, l := range lines {
		inputs[i] = collector.Input{Data: l, Location: "line " + strconv.Itoa(i+1)}
	}
	res, err := in.Ingest(context.Background(), collector.Origin{Source: benchSource, Receiver: collector.ReceiverHTTP}, collector.KindAccess, inputs)
	if err != nil {
		b.Fatal(err)
	}
	for i, r := range res {
		if !r.Accepted {
			b.Fatalf("generated event %d is invalid: %s %v\n%s", i, r.Reason, r.Problems, lines[i])
		}
	}
	msgs := make([]benchMsg, len(app.recs))
	for i, rec := range app.recs {
		// The spool envelope (collector/envelope.go): version 1, topic
		// code (1: access), uvarint key length, key, value.
		if len(rec) < 3 || rec[0] != 1 || rec[1] != 1 {
			b.Fatalf("record %d: unexpected envelope % x", i, rec[:min(len(rec), 8)])
		}
		kl, w := binary.Uvarint(rec[2:])
		start := 2 + w
		msgs[i] = benchMsg{key: rec[start : start+int(kl)], value: rec[start+int(kl):]}
		if bytes.ContainsAny(msgs[i].key, "\t\n") || bytes.ContainsAny(msgs[i].value, "\t\n") {
			b.Fatalf("record %d holds a tab or newline: kcat's delimiters", i)
		}
	}
	return msgs
}

func benchBodies(lines [][]byte, batch int) [][]byte {
	var bodies [][]byte
	for i := 0; i < len(lines); i += batch {
		var buf bytes.Buffer
		for _, l := range lines[i:min(i+batch, len(lines))] {
			buf.Write(l)
			buf.WriteByte('\n')
		}
		bodies = append(bodies, buf.Bytes())
	}
	return bodies
}

func benchWriteKcatFile(b *testing.B, path string, msgs []benchMsg) {
	b.Helper()
	size := 0
	for _, m := range msgs {
		size += len(m.key) + len(m.value) + 2
	}
	buf := bytes.NewBuffer(make([]byte, 0, size))
	for _, m := range msgs {
		buf.Write(m.key)
		buf.WriteByte('\t')
		buf.Write(m.value)
		buf.WriteByte('\n')
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		b.Fatal(err)
	}
}

// benchTopic creates a fresh topic with benchPartitions partitions, waits
// until every partition has a leader, and deletes it when the benchmark
// ends.
func benchTopic(b *testing.B, cfg bus.Config, side string) string {
	b.Helper()
	name := fmt.Sprintf("vigil-bench.%s.%d", side, time.Now().UnixNano())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := bus.EnsureTopics(ctx, cfg, bus.TopicSpec{Name: name, Partitions: benchPartitions}); err != nil {
		b.Fatal(err)
	}
	client := &kafka.Client{Addr: kafka.TCP(cfg.Brokers...)}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := client.DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: []string{name}}); err != nil {
			b.Logf("delete topic %s: %v", name, err)
		}
	})
	for {
		md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{name}})
		if err == nil && len(md.Topics) == 1 && md.Topics[0].Error == nil && len(md.Topics[0].Partitions) == benchPartitions {
			ready := true
			for _, p := range md.Topics[0].Partitions {
				ready = ready && p.Error == nil && p.Leader.ID >= 0 && p.Leader.Host != ""
			}
			if ready {
				return name
			}
		}
		select {
		case <-ctx.Done():
			b.Fatalf("topic %s has no leader for every partition: %v", name, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// benchCount returns the records in topic and how many partitions hold
// any. It retries for a while: the shared broker is sometimes restarted by
// other tests.
func benchCount(b *testing.B, cfg bus.Config, topic string) (int64, int) {
	b.Helper()
	reqs := make([]kafka.OffsetRequest, benchPartitions)
	for p := range reqs {
		reqs[p] = kafka.LastOffsetOf(p)
	}
	client := &kafka.Client{Addr: kafka.TCP(cfg.Brokers...)}
	deadline := time.Now().Add(30 * time.Second)
	for {
		total, used, err := func() (int64, int, error) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			resp, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}})
			if err != nil {
				return 0, 0, err
			}
			var total int64
			used := 0
			for _, po := range resp.Topics[topic] {
				if po.Error != nil {
					return 0, 0, fmt.Errorf("partition %d: %w", po.Partition, po.Error)
				}
				total += po.LastOffset
				if po.LastOffset > 0 {
					used++
				}
			}
			return total, used, nil
		}()
		if err == nil {
			return total, used
		}
		if time.Now().After(deadline) {
			b.Fatalf("list offsets of %s: %v", topic, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func benchKcat(b *testing.B, kcatBin string, cfg bus.Config, file string, n int) benchResult {
	b.Helper()
	topic := benchTopic(b, cfg, "kcat")
	cmd := exec.Command(kcatBin, "-P", "-b", strings.Join(cfg.Brokers, ","), "-t", topic,
		"-K", "\t", "-l",
		"-z", "lz4", // bus.writer.compression's default
		"-X", "acks=all",
		"-X", "partitioner=murmur2_random", // kafka-go's Murmur2Balancer (bus.NewWriter)
		file)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	if err != nil {
		b.Fatalf("kcat: %v\n%s", err, stderr.String())
	}
	cpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	got, parts := benchCount(b, cfg, topic)
	if got != int64(n) {
		b.Fatalf("kcat wrote %d records to %s, want %d\n%s", got, topic, n, stderr.String())
	}
	return benchResult{total: d, partitions: parts, cpu: cpu}
}

// benchVigil measures the collector. With split, the producer starts only
// once every request was answered, so that ingest (HTTP, validation,
// pseudonymisation, spool) and the producer (spool to Kafka) are timed
// each alone; total is then the sum of both.
func benchVigil(b *testing.B, cfg bus.Config, key pseudo.Key, bodies [][]byte, n, clients int, split bool) benchResult {
	b.Helper()
	topic := benchTopic(b, cfg, "vigil")
	reg := prometheus.NewRegistry()
	col, err := collector.New(collector.Options{
		Sources: []collector.SourceConfig{{Name: benchSource, TokenSHA256: collector.HashToken(benchToken)}},
		Spool:   spool.Config{Dir: filepath.Join(b.TempDir(), "spool"), Sync: benchSync()},
		Key:     key,
		// The rest as `vigil collect` has it by default.
		Pseudonymise: pseudo.Defaults(),
		NewWriter: func(t string) (collector.MessageWriter, error) {
			if t == bus.TopicAccess {
				t = topic
			}
			return bus.NewWriter(cfg, t)
		},
		Registerer: reg,
	})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(col.Mount(http.NewServeMux()))
	defer srv.Close()
	if !split {
		if err := col.Start(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := col.Shutdown(ctx); err != nil {
			b.Errorf("collector shutdown: %v", err)
		}
	}()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients, DisableCompression: true}}
	defer hc.CloseIdleConnections()

	work := make(chan []byte, len(bodies))
	for _, body := range bodies {
		work <- body
	}
	close(work)
	var (
		wg      sync.WaitGroup
		errMu   sync.Mutex
		postErr error
	)
	cpu0 := benchCPU(b)
	start := time.Now()
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for body := range work {
				if err := benchPost(hc, srv.URL+"/v1/access", body); err != nil {
					errMu.Lock()
					postErr = err
					errMu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	ingest := time.Since(start)
	ingestCPU := benchCPU(b) - cpu0
	if postErr != nil {
		b.Fatal(postErr)
	}
	if split {
		if err := col.Start(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		produced := benchProduced(b, reg)
		if produced >= float64(n) {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("after 2 minutes Kafka acknowledged %v of %d records", produced, n)
		}
		time.Sleep(2 * time.Millisecond)
	}
	total := time.Since(start)
	cpu := benchCPU(b) - cpu0
	got, parts := benchCount(b, cfg, topic)
	if got < int64(n) {
		b.Fatalf("the collector wrote %d records to %s, want %d", got, topic, n)
	}
	fc, fs := benchHistogram(b, reg, "vigil_collector_spool_fsync_duration_seconds")
	pc, ps := benchHistogram(b, reg, "vigil_collector_produce_duration_seconds")
	diag := fmt.Sprintf("%d spool fsyncs (mean %.1fms, %.0f records each; %.1fs in all), %d Kafka batches (mean %.1fms, %.0f records each; %.1fs in all)",
		fc, 1e3*fs/float64(max(fc, 1)), float64(n)/float64(max(fc, 1)), fs,
		pc, 1e3*ps/float64(max(pc, 1)), float64(n)/float64(max(pc, 1)), ps)
	return benchResult{total: total, ingest: ingest, partitions: parts, cpu: cpu, ingestCPU: ingestCPU, diag: diag}
}

// benchSync is the spool's sync policy: always, unless
// VIGIL_BENCH_SPOOL_SYNC says otherwise.
func benchSync() string {
	if s := os.Getenv("VIGIL_BENCH_SPOOL_SYNC"); s != "" {
		return s
	}
	return spool.SyncAlways
}

// benchCPU returns the CPU time (user+system) this process has used.
func benchCPU(b *testing.B) time.Duration {
	b.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchHistogram returns the count and sum of a histogram without labels.
func benchHistogram(b *testing.B, g prometheus.Gatherer, name string) (uint64, float64) {
	b.Helper()
	mfs, err := g.Gather()
	if err != nil {
		b.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			h := mf.GetMetric()[0].GetHistogram()
			return h.GetSampleCount(), h.GetSampleSum()
		}
	}
	return 0, 0
}

// benchPost sends one NDJSON batch. 200 means every event was accepted
// (http.go answers 207 or 422 otherwise).
func benchPost(hc *http.Client, url string, body []byte) error {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+benchToken)
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
		return fmt.Errorf("POST /v1/access: %s: %s", resp.Status, msg)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}

// benchProduced reads vigil_collector_produced_total{topic="vigil.access.v1"}.
func benchProduced(b *testing.B, g prometheus.Gatherer) float64 {
	b.Helper()
	mfs, err := g.Gather()
	if err != nil {
		b.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "vigil_collector_produced_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "topic" && l.GetValue() == bus.TopicAccess {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}
