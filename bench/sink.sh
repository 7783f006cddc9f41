#!/usr/bin/env bash
# Sink (Kafka → ClickHouse) benchmark against clickhouse-client (DESIGN.md,
# "Performance targets": the sink reaches ≥ 70% of clickhouse-client
# inserting the same rows natively).
#
#   bench/sink.sh            run it (3 runs) and print the medians
#
# Starts Kafka and ClickHouse if needed (scripts/services.sh up kafka
# clickhouse; idempotent), then runs BenchmarkSinkVsClickHouseClient
# (internal/store/sink/bench_integration_test.go) COUNT times, one iteration
# each, and prints the median of each figure, with the target. Each run
# produces N access events to a fresh 12-partition topic (not timed), then
# inserts the same N rows, each time into a fresh database with Vigil's
# schema: with ClickHouseWriter.Write alone on pre-decoded batches; with
# clickhouse-client (FORMAT JSONEachRow and FORMAT Native, from files
# exported from the writer's table: the very rows the sink writes); and with
# the sink draining the topic. It checks every database holds the N events
# once. A run takes about 2 minutes on 2 cores; the whole script under 10
# minutes (go test -timeout bounds it).
#
# Environment (all optional):
#   COUNT=3                          runs (the median is over them)
#   VIGIL_BENCH_ROWS=1000000         N, rows per run and side
#   VIGIL_BENCH_SINK_BATCH=50000     sink.batch_size (default: the sink's default)
#   VIGIL_BENCH_CLICKHOUSE_CLIENT    the clickhouse-client binary (default: from PATH)
#   VIGIL_BENCH_PROFILE=DIR          also write a CPU profile (DIR/cpu.out, DIR/sink.test)
#                                    and print its top functions for the sink's side
#   VIGIL_BENCH_OUT=FILE             keep the raw go test output (default: a temp file)
#
# Do not run it while the integration tests run: some of them stop the
# shared ClickHouse or broker, and the machine's load changes the figures
# (the script prints the load average before and after).
set -euo pipefail
# The approved toolchain (docs/SECURITY.md); fetched by the go command.
export GOTOOLCHAIN=go1.27.3

ROOT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT_DIR"

COUNT=${COUNT:-3}
PROFILE_DIR=${VIGIL_BENCH_PROFILE:-}
OUT=${VIGIL_BENCH_OUT:-}
if [[ -z $OUT ]]; then
	OUT=$(mktemp -t vigil-bench-sink.XXXXXX)
	trap 'rm -f "$OUT"' EXIT
fi

say() { printf '==> %s\n' "$*"; }

say "services: kafka, clickhouse"
scripts/services.sh up kafka clickhouse >/dev/null
eval "$(scripts/services.sh env)"
export VIGIL_TEST_KAFKA VIGIL_TEST_CLICKHOUSE

nproc=$(nproc)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
say "machine: $nproc CPUs, $(go version | cut -d' ' -f3), $(clickhouse-client --version 2>/dev/null | head -1), load average before: $load_before"

args=(-tags integration -run '^$' -bench '^BenchmarkSinkVsClickHouseClient$' -benchtime 1x
	-count "$COUNT" -timeout 30m)
if [[ -n $PROFILE_DIR ]]; then
	mkdir -p "$PROFILE_DIR"
	args+=(-cpuprofile "$PROFILE_DIR/cpu.out" -o "$PROFILE_DIR/sink.test")
fi
say "go test ${args[*]} ./internal/store/sink/"
if ! go test "${args[@]}" ./internal/store/sink/ >"$OUT" 2>&1; then
	cat "$OUT"
	echo "==> ERROR: the benchmark failed" >&2
	exit 1
fi
grep -E '^(Benchmark|    bench_)' "$OUT" || true
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# Every "value unit" pair of every result line, as "unit value".
pairs=$(awk '/^BenchmarkSinkVsClickHouseClient/ { for (i = 3; i < NF; i += 2) print $(i+1), $i }' "$OUT")
runs=$(grep -c '^BenchmarkSinkVsClickHouseClient' "$OUT" || true)
if [[ $runs -eq 0 ]]; then
	cat "$OUT"
	echo "==> ERROR: no benchmark result (skipped? VIGIL_TEST_KAFKA and VIGIL_TEST_CLICKHOUSE must be set, clickhouse-client installed)" >&2
	exit 1
fi

# median UNIT: the median of that unit's values over the runs.
median() {
	awk -v u="$1" '$1 == u { print $2 }' <<<"$pairs" | sort -g |
		awk '{ v[NR] = $1 } END { if (NR == 0) print "n/a"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
values() {
	awk -v u="$1" '$1 == u { printf "%s%s", sep, $2; sep = " " }' <<<"$pairs"
}

echo
printf 'Sink vs clickhouse-client, median of %d runs (N=%s access events of ~750 bytes of JSON, sink.batch_size %s)\n' \
	"$runs" "${VIGIL_BENCH_ROWS:-1000000}" "${VIGIL_BENCH_SINK_BATCH:-default}"
printf 'load average before: %s, after: %s (%s CPUs)\n\n' "$load_before" "$load_after" "$nproc"
printf '%-26s %14s   %s\n' "figure" "median" "runs"
for u in sink_rows/s client_native_rows/s client_json_rows/s ratio_vs_native ratio_vs_json sink_steady_rows/s \
	writer_rows/s nop_sink_rows/s decode_rows/s cpu_cores client_cpu_cores \
	sink_server_cpu_s/Mrow native_server_cpu_s/Mrow json_server_cpu_s/Mrow writer_server_cpu_s/Mrow; do
	printf '%-26s %14s   %s\n' "$u" "$(median "$u")" "$(values "$u")"
done

native=$(median ratio_vs_native)
json=$(median ratio_vs_json)
verdict() { awk -v v="$1" -v t="$2" 'BEGIN { print (v + 0 >= t + 0) ? "met" : "NOT met" }'; }
echo
printf 'target: sink ≥ 70%% of clickhouse-client, FORMAT Native       ratio %s → %s\n' "$native" "$(verdict "$native" 0.7)"
printf 'target: sink ≥ 70%% of clickhouse-client, FORMAT JSONEachRow  ratio %s → %s\n' "$json" "$(verdict "$json" 0.7)"

if [[ -n $PROFILE_DIR ]]; then
	echo
	say "CPU profile of the sink's side (pprof label phase=sink): top functions by cumulative time"
	go tool pprof -tagfocus phase=sink -top -cum -nodecount 40 \
		"$PROFILE_DIR/sink.test" "$PROFILE_DIR/cpu.out" 2>/dev/null | sed -n '1,50p'
fi
