#!/usr/bin/env bash
# Detector benchmark against its floor (DESIGN.md, "Performance targets":
# ≥ 200k events/s per core with the full pack).
#
#   bench/detector.sh        run it (COUNT runs) and print the ratio
#
# Runs BenchmarkDecodeVsPack (detector/rules/pipeline_bench_test.go) in one
# go test invocation pinned to one core (GOMAXPROCS=1, -cpu 1): over the
# same simulated hour of encoded events (as produced to Kafka), "decode" is
# the event decoder alone (the floor) and "pack" is decoding plus one
# detector.Partition with the shipped rules, correlations and every
# built-in behaviour. Prints each run's events/s and the median ratio
# pack/floor. Also runs BenchmarkActorMemory (heap per 100k active actors,
# limits raised, at their defaults, 200k actors, rules only) unless MEMORY=0.
#
# Environment (all optional):
#   COUNT=3            runs
#   BENCHTIME=300000x  iterations per run and side
#   MEMORY=1           also measure memory per 100k actors
#   PROFILE=FILE       write a CPU profile of the run to FILE
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${COUNT:-3}
BENCHTIME=${BENCHTIME:-300000x}
MEMORY=${MEMORY:-1}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
echo "load: $(uptime)"
prof=()
if [[ -n "${PROFILE:-}" ]]; then prof=(-cpuprofile "$PROFILE"); fi
GOMAXPROCS=1 go test -run '^$' -bench '^BenchmarkDecodeVsPack$' -benchtime "$BENCHTIME" \
	-count "$COUNT" -cpu 1 "${prof[@]}" ./detector/rules/ | tee "$out"
awk '
/^BenchmarkDecodeVsPack\/decode/ { for (i = 1; i < NF; i++) if ($(i+1) == "events/s") d[nd++] = $i }
/^BenchmarkDecodeVsPack\/pack/   { for (i = 1; i < NF; i++) if ($(i+1) == "events/s") p[np++] = $i }
END {
	if (nd == 0 || nd != np) { print "no paired figures"; exit 1 }
	for (i = 0; i < nd; i++) { r[i] = p[i] / d[i]; printf "run %d: floor %.0f events/s, pack %.0f events/s, pack/floor %.3f\n", i + 1, d[i], p[i], r[i] }
	for (i = 0; i < nd; i++) for (j = i + 1; j < nd; j++) if (r[j] < r[i]) { x = r[i]; r[i] = r[j]; r[j] = x }
	printf "median pack/floor: %.3f (target: pack >= 200000 events/s per core)\n", r[int((nd - 1) / 2)]
}' "$out"
if [[ "$MEMORY" != 0 ]]; then
	go test -run '^$' -bench '^BenchmarkActorMemory$' -benchtime 1x -count 1 ./detector/rules/
fi
