#!/usr/bin/env bash
# Collector → Kafka benchmark against kcat (DESIGN.md, "Performance targets").
#
#   bench/collector.sh            run it (3 runs) and print the medians
#
# Starts Kafka and the clients if needed (scripts/services.sh up kafka
# clients; idempotent), then runs BenchmarkCollectorVsKcat
# (collector/bench_integration_test.go) COUNT times, one iteration each, and
# prints the median of each figure, with the targets. Each run sends N events
# through kcat and through the collector, each into a fresh 12-partition topic
# (deleted afterwards). A run takes about 15 s on 2 cores; the whole script
# well under 5 minutes (go test -timeout bounds it).
#
# Environment (all optional):
#   COUNT=3                     runs (the median is over them)
#   VIGIL_BENCH_EVENTS=200000   N, events per run and side
#   VIGIL_BENCH_CLIENTS=4       concurrent HTTP clients
#   VIGIL_BENCH_BATCH=1000      events per POST
#   VIGIL_BENCH_PROFILE=DIR     also write a CPU profile (DIR/cpu.out, DIR/collector.test)
#                               and print its top functions for the collector's side
#   VIGIL_BENCH_OUT=FILE        keep the raw go test output (default: a temp file)
#
# Do not run it while the integration tests run: some of them restart the
# shared broker, and the machine's load changes the figures (the script
# prints the load average before and after).
set -euo pipefail
# The approved toolchain (docs/SECURITY.md); fetched by the go command.
export GOTOOLCHAIN=go1.27.3

ROOT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT_DIR"

COUNT=${COUNT:-3}
PROFILE_DIR=${VIGIL_BENCH_PROFILE:-}
OUT=${VIGIL_BENCH_OUT:-}
if [[ -z $OUT ]]; then
	OUT=$(mktemp -t vigil-bench-collector.XXXXXX)
	trap 'rm -f "$OUT"' EXIT
fi

say() { printf '==> %s\n' "$*"; }

say "services: kafka, clients"
scripts/services.sh up kafka clients >/dev/null
eval "$(scripts/services.sh env)"
export VIGIL_TEST_KAFKA VIGIL_TEST_KCAT

nproc=$(nproc)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
say "machine: $nproc CPUs, $(go version | cut -d' ' -f3), load average before: $load_before"

args=(-tags integration -run '^$' -bench '^BenchmarkCollectorVsKcat$' -benchtime 1x
	-count "$COUNT" -timeout 10m)
if [[ -n $PROFILE_DIR ]]; then
	mkdir -p "$PROFILE_DIR"
	args+=(-cpuprofile "$PROFILE_DIR/cpu.out" -o "$PROFILE_DIR/collector.test")
fi
say "go test ${args[*]} ./collector/"
if ! go test "${args[@]}" ./collector/ >"$OUT" 2>&1; then
	cat "$OUT"
	echo "==> ERROR: the benchmark failed" >&2
	exit 1
fi
grep -E '^(Benchmark|    bench_)' "$OUT" || true
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# Every "value unit" pair of every result line, as "unit value".
pairs=$(awk '/^BenchmarkCollectorVsKcat/ { for (i = 3; i < NF; i += 2) print $(i+1), $i }' "$OUT")
runs=$(grep -c '^BenchmarkCollectorVsKcat' "$OUT" || true)
if [[ $runs -eq 0 ]]; then
	cat "$OUT"
	echo "==> ERROR: no benchmark result (skipped? VIGIL_TEST_KAFKA and VIGIL_TEST_KCAT must be set)" >&2
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
printf 'Collector vs kcat, median of %d runs (N=%s events of ~500 bytes, %s clients x %s events per POST)\n' \
	"$runs" "${VIGIL_BENCH_EVENTS:-200000}" "${VIGIL_BENCH_CLIENTS:-4}" "${VIGIL_BENCH_BATCH:-1000}"
printf 'load average before: %s, after: %s (%s CPUs)\n\n' "$load_before" "$load_after" "$nproc"
printf '%-22s %14s   %s\n' "figure" "median" "runs"
for u in events/s kcat_events/s ratio_vs_kcat MB/s kcat_MB/s ingest_events/s ingest_only_events/s \
	drain_only_events/s cpu_cores kcat_cpu_cores events/cpu_s kcat_events/cpu_s raw_B/event msg_B/event; do
	printf '%-22s %14s   %s\n' "$u" "$(median "$u")" "$(values "$u")"
done

eps=$(median events/s)
ratio=$(median ratio_vs_kcat)
verdict() { awk -v v="$1" -v t="$2" 'BEGIN { print (v + 0 >= t + 0) ? "met" : "NOT met" }'; }
echo
printf 'target: collector ≥ 50%% of kcat        ratio %s → %s\n' "$ratio" "$(verdict "$ratio" 0.5)"
printf 'target: ≥ 100000 events/s on 2 cores    %s events/s → %s\n' "$eps" "$(verdict "$eps" 100000)"

if [[ -n $PROFILE_DIR ]]; then
	echo
	say "CPU profile of the collector's side (pprof label phase=vigil): top functions by cumulative time"
	go tool pprof -tagfocus phase=vigil -top -cum -nodecount 40 \
		"$PROFILE_DIR/collector.test" "$PROFILE_DIR/cpu.out" 2>/dev/null | sed -n '1,50p'
fi
