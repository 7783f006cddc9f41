//go:build integration

package sink

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/vigil-audit/vigil/internal/bus"
	"github.com/vigil-audit/vigil/internal/store"
	"github.com/vigil-audit/vigil/internal/testenv"
)

// BenchmarkSinkVsClickHouseClient measures the sink (Kafka → ClickHouse)
// against clickhouse-client inserting the same rows natively into the same
// server, in one run (DESIGN.md, "Performance targets": the sink reaches at
// least 70% of clickhouse-client). bench/sink.sh runs it; BENCHMARKS.md has
// the figures.
//
// Each iteration uses N realistic access events (e2eGen: about 750 bytes of
// JSON each, 5,000 actors, 200,000 subjects, two monthly partitions), the
// same every time, produced to a fresh 12-partition topic first (not
// timed). Then, each into its own fresh database with Vigil's schema (the
// two materialized views included):
//
//   - writer: store.ClickHouseWriter.Write alone, on batches of
//     sink.batch_size events decoded beforehand (only Write is timed): the
//     sink's insert path without Kafka and JSON. Its table is then exported
//     with clickhouse-client (SELECT … FORMAT JSONEachRow and FORMAT Native,
//     not timed): the reference's input is exactly the rows the sink writes,
//     in table-column shape.
//   - client_json: `clickhouse-client --query "INSERT INTO db.access_events
//     (columns…) FORMAT JSONEachRow" < rows.json`, timed as a whole process
//     (it parses the JSON, like the sink, and sends Native blocks).
//   - client_native: the same with FORMAT Native (no parsing at all: the
//     strictest reference).
//   - sink: a sink built as `vigil sink` builds it (sink.New, the ClickHouse
//     writer, a fresh consumer group, defaults unless
//     VIGIL_BENCH_SINK_BATCH sets sink.batch_size), timed from New until
//     vigil_sink_rows_written_total{table=access} reaches N (rows the store
//     acknowledged); group join included.
//   - nop: the same sink with a writer that stores nothing: Kafka fetch,
//     decode and batching alone.
//   - decode: event.Validator DecodeAccess + ValidateAccess over the N
//     values on one goroutine.
//
// Which of client and sink goes first alternates between iterations (use
// -count 3 or more). The results are checked: every database holds N
// distinct events with the same checksum over ids.
//
// Metrics: sink_rows/s, client_json_rows/s, client_native_rows/s,
// ratio_vs_json and ratio_vs_native (sink over client), sink_steady_rows/s
// (after the first batch: without the group join), writer_rows/s,
// nop_sink_rows/s, decode_rows/s, cpu_cores (the sink process's CPU time
// over its wall time), client_cpu_cores, and server_cpu_s_per_Mrow for each
// side (clickhouse-server's CPU time per million rows, from /proc, when its
// pid file is found) — on 2 shared cores the server, the broker and the
// sink compete.
//
// Run it with -benchtime 1x: each iteration inserts N rows whatever b.N is.
// Environment: VIGIL_BENCH_ROWS (N, default 1000000), VIGIL_BENCH_SINK_BATCH
// (sink.batch_size, default the sink's), VIGIL_BENCH_CLICKHOUSE_CLIENT (the
// clickhouse-client binary, default from PATH).
func BenchmarkSinkVsClickHouseClient(b *testing.B) {
	kafkaAddr := testenv.Kafka(b)
	chAddr := testenv.ClickHouse(b)
	client := os.Getenv("VIGIL_BENCH_CLICKHOUSE_CLIENT")
	if client == "" {
		var err error
		if client, err = exec.LookPath("clickhouse-client"); err != nil {
			b.Skipf("clickhouse-client not found (set VIGIL_BENCH_CLICKHOUSE_CLIENT): %v", err)
		}
	}
	n := e2eEnvInt(b, "VIGIL_BENCH_ROWS", 1_000_000)
	batchSize := Defaults().BatchSize
	if os.Getenv("VIGIL_BENCH_SINK_BATCH") != "" {
		batchSize = e2eEnvInt(b, "VIGIL_BENCH_SINK_BATCH", batchSize)
	}
	busCfg := bus.Config{Brokers: []string{kafkaAddr}}
	conn := e2eConn(b, chAddr)
	e2eCheckHash(b, conn)
	g := e2eGen{prefix: "b5e2b5e2-0000-4000-8000-", seed: 42, base: time.Date(2026, 11, 30, 21, 0, 0, 0, time.UTC)}

	topic := e2eTopic(b, busCfg)
	start := time.Now()
	want := e2eProduce(b, busCfg, topic, g, 0, n)
	b.Logf("N=%d events (%.0f bytes of JSON each) produced to %s in %v", n, float64(want.bytes)/float64(n), topic, time.Since(start).Round(time.Millisecond))

	host, port, ok := strings.Cut(chAddr, ":")
	if !ok {
		b.Fatalf("VIGIL_TEST_CLICKHOUSE=%q is not host:port", chAddr)
	}
	ch := benchCH{bin: client, host: host, port: port, conn: conn, pid: benchServerPid()}
	dir := b.TempDir()

	var res benchSinkResult
	for i := 0; i < b.N; i++ {
		run := benchSinkRuns.Add(1)
		res.writer = benchWriter(b, ch, g, n, batchSize)
		cols := ch.columns(b, res.writer.db)
		jsonFile, nativeFile := filepath.Join(dir, "rows.json"), filepath.Join(dir, "rows.native")
		ch.export(b, res.writer.db, cols, "JSONEachRow", jsonFile)
		ch.export(b, res.writer.db, cols, "Native", nativeFile)
		clients := func() {
			res.json = ch.insert(b, cols, "JSONEachRow", jsonFile)
			res.native = ch.insert(b, cols, "Native", nativeFile)
		}
		sink := func() {
			pprof.Do(context.Background(), pprof.Labels("phase", "sink"), func(context.Context) {
				res.sink = benchSink(b, ch, busCfg, topic, n, batchSize, false)
			})
		}
		if run%2 == 1 {
			clients()
			sink()
		} else {
			sink()
			clients()
		}
		pprof.Do(context.Background(), pprof.Labels("phase", "nop"), func(context.Context) {
			res.nop = benchSink(b, ch, busCfg, topic, n, batchSize, true)
		})
		res.decode = benchDecode(b, g, n)
		for _, r := range []benchSide{res.writer, res.json, res.native, res.sink} {
			ch.check(b, r.db, want)
		}
	}

	rate := func(s benchSide) float64 { return float64(n) / s.wall.Seconds() }
	b.ReportMetric(0, "ns/op") // the iteration's wall time mixes every side and the set-up
	b.ReportMetric(rate(res.sink), "sink_rows/s")
	b.ReportMetric(rate(res.json), "client_json_rows/s")
	b.ReportMetric(rate(res.native), "client_native_rows/s")
	b.ReportMetric(rate(res.sink)/rate(res.json), "ratio_vs_json")
	b.ReportMetric(rate(res.sink)/rate(res.native), "ratio_vs_native")
	b.ReportMetric(float64(n-res.sink.firstRows)/(res.sink.wall-res.sink.first).Seconds(), "sink_steady_rows/s")
	b.ReportMetric(rate(res.writer), "writer_rows/s")
	b.ReportMetric(rate(res.nop), "nop_sink_rows/s")
	b.ReportMetric(float64(n)/res.decode.Seconds(), "decode_rows/s")
	b.ReportMetric(res.sink.cpu.Seconds()/res.sink.wall.Seconds(), "cpu_cores")
	b.ReportMetric(res.json.cpu.Seconds()/res.json.wall.Seconds(), "client_cpu_cores")
	if ch.pid > 0 {
		perM := func(s benchSide) float64 { return s.server.Seconds() / (float64(n) / 1e6) }
		b.ReportMetric(perM(res.sink), "sink_server_cpu_s/Mrow")
		b.ReportMetric(perM(res.json), "json_server_cpu_s/Mrow")
		b.ReportMetric(perM(res.native), "native_server_cpu_s/Mrow")
		b.ReportMetric(perM(res.writer), "writer_server_cpu_s/Mrow")
	}
	b.Logf("N=%d, batch %d: sink %v (first batch after %v, %d writes, %d failed attempts), client JSONEachRow %v, client Native %v, writer alone %v, nop sink %v, decode %v",
		n, batchSize, res.sink.wall.Round(time.Millisecond), res.sink.first.Round(time.Millisecond), res.sink.writes, res.sink.failed,
		res.json.wall.Round(time.Millisecond), res.native.wall.Round(time.Millisecond), res.writer.wall.Round(time.Millisecond),
		res.nop.wall.Round(time.Millisecond), res.decode.Round(time.Millisecond))
	b.Logf("sink: write attempts took %v in all (%.0f%% of its wall time); clickhouse-server CPU: sink %v, JSONEachRow %v, Native %v, writer %v",
		res.sink.writeTime.Round(time.Millisecond), 100*res.sink.writeTime.Seconds()/res.sink.wall.Seconds(),
		res.sink.server.Round(time.Millisecond), res.json.server.Round(time.Millisecond), res.native.server.Round(time.Millisecond), res.writer.server.Round(time.Millisecond))
}

// benchSinkRuns counts iterations across -count runs, to alternate which
// side goes first.
var benchSinkRuns atomic.Int64

type benchSinkResult struct {
	writer, json, native, sink, nop benchSide
	decode                          time.Duration
}

// benchSide is one side's measurement.
type benchSide struct {
	db        string        // the database it filled
	wall      time.Duration // until every row was acknowledged
	cpu       time.Duration // CPU time of the inserting process meanwhile
	server    time.Duration // CPU time of clickhouse-server meanwhile (0 if unknown)
	first     time.Duration // sink: until the first batch was acknowledged
	firstRows int           // sink: rows of the first batch
	writes    int           // sink: successful write attempts
	failed    int           // sink: failed write attempts (retried)
	writeTime time.Duration // sink: time spent in write attempts
}

// benchCH reaches the ClickHouse server: clickhouse-client and a pool.
type benchCH struct {
	bin, host, port string
	conn            driver.Conn
	pid             int
}

// db returns a fresh database with Vigil's schema, dropped at the end.
func (c benchCH) db(b *testing.B, side string) string {
	b.Helper()
	db := fmt.Sprintf("vigil_bench_%s_%d", side, time.Now().UnixNano())
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := store.Migrate(ctx, c.conn, db); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := c.conn.Exec(ctx, "DROP DATABASE IF EXISTS "+db); err != nil {
			b.Logf("drop database %s: %v", db, err)
		}
	})
	return db
}

// columns returns the columns of access_events in table order: what the
// writer names in its INSERT.
func (c benchCH) columns(b *testing.B, db string) []string {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rows, err := c.conn.Query(ctx, "DESCRIBE TABLE "+db+".access_events")
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	var cols []string
	for rows.Next() {
		// name, type, default_type, default_expression, and more in
		// later versions.
		vals := make([]string, len(rows.Columns()))
		dst := make([]any, len(vals))
		for i := range vals {
			dst[i] = &vals[i]
		}
		if err := rows.Scan(dst...); err != nil {
			b.Fatal(err)
		}
		cols = append(cols, vals[0])
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	return cols
}

// client runs clickhouse-client with args, stdin from in and stdout to out
// (either may be ""), and returns its wall and CPU time.
func (c benchCH) client(b *testing.B, in, out string, args ...string) (wall, cpu time.Duration) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.bin, append([]string{"--host", c.host, "--port", c.port}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if in != "" {
		f, err := os.Open(in)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		cmd.Stdin = f
	}
	if out != "" {
		f, err := os.Create(out)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		cmd.Stdout = f
	}
	start := time.Now()
	if err := cmd.Run(); err != nil {
		b.Fatalf("clickhouse-client %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	wall = time.Since(start)
	return wall, cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
}

// export writes db.access_events to file in format.
func (c benchCH) export(b *testing.B, db string, cols []string, format, file string) {
	b.Helper()
	c.client(b, "", file, "--query", "SELECT "+strings.Join(cols, ", ")+" FROM "+db+".access_events FORMAT "+format)
}

// insert times clickhouse-client inserting file (in format) into a fresh
// database.
func (c benchCH) insert(b *testing.B, cols []string, format, file string) benchSide {
	b.Helper()
	s := benchSide{db: c.db(b, "client")}
	srv := c.serverCPU()
	s.wall, s.cpu = c.client(b, file, "", "--query", "INSERT INTO "+s.db+".access_events ("+strings.Join(cols, ", ")+") FORMAT "+format)
	s.server = c.serverCPU() - srv
	return s
}

// check fails b unless db holds want's events once each.
func (c benchCH) check(b *testing.B, db string, want e2eSum) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	v, err := e2eQuery(ctx, c.conn, "SELECT uniqExact(event_id), sum(cityHash64(event_id)), sum(record_count) FROM (SELECT event_id, record_count FROM "+db+".access_events FINAL)")
	if err != nil {
		b.Fatal(err)
	}
	if v[0] != uint64(want.n) || v[1] != want.idSum || v[2] != want.recordCount {
		b.Errorf("%s: %d distinct events (id checksum %d, record_count %d), want %d (%d, %d)", db, v[0], v[1], v[2], want.n, want.idSum, want.recordCount)
	}
}

// serverCPU returns clickhouse-server's CPU time so far, or 0 if unknown.
func (c benchCH) serverCPU() time.Duration {
	if c.pid <= 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", c.pid))
	if err != nil {
		return 0
	}
	// The fields after the command (which is in parentheses): utime and
	// stime are fields 14 and 15 of the line, in clock ticks (100 a second
	// on Linux).
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// benchServerPid returns the pid of the clickhouse-server scripts/services.sh
// started, or 0.
func benchServerPid() int {
	dir := os.Getenv("VIGIL_SERVICES_DIR")
	if dir == "" {
		dir = "/var/tmp/vigil-services"
	}
	b, err := os.ReadFile(filepath.Join(dir, "run", "clickhouse.pid"))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0
	}
	return pid
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

// benchWriter times ClickHouseWriter.Write alone on the N events, decoded
// beforehand one batch at a time (generating a batch is not timed).
func benchWriter(b *testing.B, c benchCH, g e2eGen, n, batchSize int) benchSide {
	b.Helper()
	s := benchSide{db: c.db(b, "writer")}
	w := store.NewClickHouseWriter(c.conn, s.db)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	for lo := 0; lo < n; lo += batchSize {
		batch := &store.Batch{}
		for i := lo; i < min(lo+batchSize, n); i++ {
			batch.Access = append(batch.Access, g.event(i))
		}
		srv, cpu := c.serverCPU(), benchCPU(b)
		start := time.Now()
		if err := w.Write(ctx, batch); err != nil {
			b.Fatal(err)
		}
		s.wall += time.Since(start)
		s.cpu += benchCPU(b) - cpu
		s.server += c.serverCPU() - srv
	}
	return s
}

// benchDecode times the sink's decoder on the N values.
func benchDecode(b *testing.B, g e2eGen, n int) time.Duration {
	b.Helper()
	const chunk = 50_000
	var took time.Duration
	for lo := 0; lo < n; lo += chunk {
		var sum e2eSum
		msgs, err := e2eMessages(g, lo, min(lo+chunk, n), &sum)
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		for i := range msgs {
			e, ps := validator.DecodeAccess(msgs[i].Value)
			if len(ps) == 0 {
				ps = validator.ValidateAccess(e)
			}
			if len(ps) > 0 {
				b.Fatalf("event %d: %v", lo+i, ps)
			}
		}
		took += time.Since(start)
	}
	return took
}

// benchSink times a sink draining the topic into a fresh database (or, with
// nop, into a writer that stores nothing).
func benchSink(b *testing.B, c benchCH, busCfg bus.Config, topic string, n, batchSize int, nop bool) benchSide {
	b.Helper()
	var w store.Writer = nopWriter{}
	s := benchSide{}
	if !nop {
		s.db = c.db(b, "sink")
		w = store.NewClickHouseWriter(c.conn, s.db)
	}
	cfg := Config{Group: fmt.Sprintf("bench-sink-%d", time.Now().UnixNano()), Topics: []string{topic}, BatchSize: batchSize}
	srv, cpu := c.serverCPU(), benchCPU(b)
	start := time.Now()
	sk, err := New(cfg, busCfg, w)
	if err != nil {
		b.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- sk.Run(context.Background()) }()
	rows := sk.m.rows[tableAccess]
	deadline := time.Now().Add(10 * time.Minute)
	for {
		got := testutil.ToFloat64(rows)
		if s.first == 0 && got > 0 {
			s.first, s.firstRows = time.Since(start), int(got)
		}
		if got >= float64(n) {
			break
		}
		select {
		case err := <-errc:
			b.Fatalf("sink stopped after %v rows: %v", got, err)
		default:
		}
		if time.Now().After(deadline) {
			b.Fatalf("sink wrote %v of %d rows in 10 minutes", got, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	s.wall = time.Since(start)
	s.cpu = benchCPU(b) - cpu
	s.server = c.serverCPU() - srv
	s.writes = int(testutil.ToFloat64(sk.m.batchesOK))
	s.failed = int(testutil.ToFloat64(sk.m.batchesErr))
	s.writeTime = benchHistogramSum(b, sk)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := sk.Shutdown(ctx); err != nil {
		b.Fatal(err)
	}
	if err := <-errc; err != nil {
		b.Fatalf("Run: %v", err)
	}
	return s
}

// benchHistogramSum returns the total time of the sink's write attempts.
func benchHistogramSum(b *testing.B, sk *Sink) time.Duration {
	b.Helper()
	var pb dto.Metric
	if err := sk.m.writeDuration.(prometheus.Metric).Write(&pb); err != nil {
		b.Fatal(err)
	}
	return time.Duration(pb.GetHistogram().GetSampleSum() * float64(time.Second))
}
