#!/usr/bin/env bash
# Subject-history latency on 10 million access events: Vigil's ClickHouseStore
# against clickhouse-client running the same SQL (DESIGN.md, "Performance
# targets": ratios against a reference in one run).
#
#   bench/store_query.sh            load, measure, print the table, drop the database
#
# Starts ClickHouse if needed (scripts/services.sh up clickhouse; idempotent),
# then:
#
#  1. creates a fresh database vigil_bench_query_<unix time> with
#     `vigil store migrate` (the embedded migrations, as production applies
#     them);
#  2. loads ROWS access events server-side with one
#     `INSERT INTO db.access_events (columns…) SELECT … FROM numbers(ROWS)`:
#     30 days in time order (a sink's stream) with a daily cycle peaking at
#     noon China time, 200,000 subjects with a skewed number of accesses (a
#     few patients are looked at often, most seldom), 5,000 actors in 8 orgs
#     (skewed too), 5% logins without a subject, 1-2 data categories per
#     event; the materialized views fill access_by_subject and
#     access_by_actor;
#  3. waits until the views hold every row and the background merges are
#     done (bounded), and prints the parts left;
#  4. picks SUBJECTS subjects at random among those stored (seeded: the same
#     subjects for the same data) and asks for each one's whole 30-day
#     history ROUNDS times, one query at a time:
#       - Vigil: BenchmarkSubjectHistory10M
#         (internal/store/chreader_bench_integration_test.go) through
#         store.ClickHouseStore.SubjectHistory, every row streamed into a
#         SubjectAccess;
#       - reference: clickhouse-client --time running
#         internal/store/queries/subject_history.sql with the same values
#         bound (scripts/chdb_check.py's binder), FORMAT Null, all queries
#         on one connection; its times have a resolution of 1 ms;
#     each side first runs one unmeasured warm-up round;
#  5. prints p50 and p95 (nearest rank over SUBJECTS × ROUNDS queries) of
#     both and the ratio Vigil / clickhouse-client (1.0 = as fast as the
#     native client).
#
# Environment (all optional):
#   ROWS=10000000        access events to load
#   SUBJECTS=20          subjects asked about
#   ROUNDS=5             measured rounds over them
#   SEED=1               which subjects are picked
#   VIGIL_BENCH_KEEP=1   keep the database afterwards (its name is printed)
#
# Takes a few minutes on 2 cores (most of it the load and the merges), and
# needs about 2 GB of disk. Do not run it while the integration tests run:
# some of them stop ClickHouse, and the machine's load changes the figures
# (the script prints the load average before and after the measurements).
set -euo pipefail
# The approved toolchain (docs/SECURITY.md); fetched by the go command.
export GOTOOLCHAIN=go1.27.3

ROOT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT_DIR"

ROWS=${ROWS:-10000000}
SUBJECTS=${SUBJECTS:-20}
ROUNDS=${ROUNDS:-5}
SEED=${SEED:-1}
N_SUBJECTS=200000
N_ACTORS=5000
DAYS=30
# 2026-10-15T00:00:00Z minus 8 hours: days run midnight to midnight China time.
FROM=$((1792022400 - 8 * 3600))
TO=$((FROM + DAYS * 86400))
DB=vigil_bench_query_$(date +%s)

say() { printf '==> %s\n' "$*"; }
die() {
	printf '==> ERROR: %s\n' "$*" >&2
	exit 1
}

say "services: clickhouse"
scripts/services.sh up clickhouse >/dev/null
eval "$(scripts/services.sh env)"
export VIGIL_TEST_CLICKHOUSE
CH_HOST=${VIGIL_TEST_CLICKHOUSE%:*}
CH_PORT=${VIGIL_TEST_CLICKHOUSE##*:}
ch() { clickhouse-client --host "$CH_HOST" --port "$CH_PORT" "$@"; }

TMP=$(mktemp -d -t vigil-bench-store.XXXXXX)
cleanup() {
	if [[ ${VIGIL_BENCH_KEEP:-} != 1 ]]; then
		ch -q "DROP DATABASE IF EXISTS $DB" || true
	else
		say "kept database $DB"
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT

say "machine: $(nproc) CPUs, $(go version | cut -d' ' -f3), ClickHouse $(ch -q 'SELECT version()')"

say "database $DB: vigil store migrate"
go build -o "$TMP/vigil" ./cmd/vigil
VIGIL_CLICKHOUSE_ADDR=$VIGIL_TEST_CLICKHOUSE VIGIL_CLICKHOUSE_DATABASE=$DB "$TMP/vigil" store migrate >/dev/null

# The load: one INSERT … SELECT from numbers(), run by the server. Each
# event's values derive from hashes of its number, so the data is the same
# on every run. u is the position in the event's day; at_sec maps it through
# u + 0.6/(2π)·sin(2πu), so events are four times denser at midday than at
# midnight (China time). subj and actor are skewed by powers of uniform
# draws.
PER_DAY=$(((ROWS + DAYS - 1) / DAYS))
cat >"$TMP/load.sql" <<SQL
INSERT INTO $DB.access_events (event_id, occurred_at, occurred_ms, received_at, received_ms, source, org,
    actor_id, actor_type, actor_role, actor_department, action, subject_id, subject_type, subject_minor,
    subject_vip, subject_employee, categories, record_count, purpose, relationship, outcome, client_ip,
    client_user_agent, client_device_id, client_geo_country, client_geo_region, client_geo_city,
    client_geo_lat, client_geo_lon, session_id, request_id, attr_keys, attr_values)
SELECT
    concat(lower(hex(cityHash64(number, 'id-a'))), lower(hex(cityHash64(number, 'id-b')))),
    toDateTime(at_sec),
    toUInt16(h1 % 1000),
    toDateTime(at_sec + h2 % 3),
    toUInt16(h2 % 1000),
    ['ehr', 'ehr', 'his', 'lis', 'pacs', 'admin-console'][actor % 6 + 1],
    concat('org-', toString(actor % 8)),
    concat('staff-', toString(actor)),
    ['doctor', 'doctor', 'doctor', 'doctor', 'staff', 'staff', 'staff', 'staff', 'admin', 'service'][actor % 10 + 1],
    ['attending', 'resident', 'nurse', 'billing', 'it'][actor % 5 + 1],
    ['cardiology', 'emergency', 'oncology', 'pediatrics', 'radiology', 'it-ops'][actor % 6 + 1],
    act,
    if(act = 'login', '', concat('tok-', lower(hex(cityHash64('subject', subj))))),
    if(act = 'login', '', ['patient', 'patient', 'patient', 'patient', 'patient', 'patient', 'patient', 'patient', 'user', 'doctor'][subj % 10 + 1]),
    toUInt8(act != 'login' AND subj % 10 = 0),
    toUInt8(act != 'login' AND subj % 997 = 0),
    toUInt8(act != 'login' AND subj % 10 = 9),
    if(act = 'login', CAST([] AS Array(String)), if(h3 % 3 = 0, [cat1, cat2], [cat1])),
    toUInt64(if(act IN ('export', 'download', 'print'), 1 + h4 % 500, 1)),
    ['treatment', 'treatment', 'treatment', 'billing', 'scheduling', 'research', 'support'][h4 % 7 + 1],
    ['true', 'true', 'true', 'false', 'unknown'][h5 % 5 + 1],
    multiIf(h5 % 100 < 95, 'success', h5 % 100 < 99, 'denied', 'error'),
    IPv4NumToString(toUInt32(167772160 + actor)),
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64)',
    concat('tok-dev-', lower(hex(cityHash64('device', actor)))),
    'CN', 'Shanghai', 'Shanghai', 31.23, 121.47,
    concat('sess-', toString(actor), '-', toString(day)),
    concat('req-', toString(number)),
    ['ward'],
    [toString(h3 % 40)]
FROM
(
    SELECT
        number,
        intDiv(number, $PER_DAY) AS day,
        (number % $PER_DAY) / $PER_DAY AS u,
        toUInt32($FROM + day * 86400 + floor(86400 * (u + 0.6 / (2 * pi()) * sin(2 * pi() * u)))) AS at_sec,
        cityHash64(number, 1) AS h1,
        cityHash64(number, 2) AS h2,
        cityHash64(number, 3) AS h3,
        cityHash64(number, 4) AS h4,
        cityHash64(number, 5) AS h5,
        toUInt32($N_SUBJECTS * pow((cityHash64(number, 6) % 1000000) / 1000000, 2)) AS subj,
        toUInt32($N_ACTORS * pow((cityHash64(number, 7) % 1000000) / 1000000, 1.5)) AS actor,
        multiIf(h1 % 20 = 0, 'login',
            ['read', 'read', 'read', 'read', 'read', 'read', 'search', 'search', 'search', 'update',
             'update', 'print', 'export', 'download', 'share', 'delete', 'break_glass', 'read', 'read'][h1 % 19 + 1]) AS act,
        ['id_number', 'biometric', 'health', 'health', 'health', 'prescription', 'prescription', 'location',
         'contact', 'contact', 'device_id', 'chat', 'financial', 'account', 'minor_data'][h3 % 15 + 1] AS cat1,
        ['health', 'prescription', 'contact', 'financial', 'id_number', 'chat'][intDiv(h3, 15) % 6 + 1] AS cat2
    FROM numbers($ROWS)
)
SQL
say "loading $ROWS access events (INSERT … SELECT FROM numbers, server-side)"
began=$(date +%s.%N)
ch --max_memory_usage=8000000000 --multiquery <"$TMP/load.sql"
load_s=$(awk -v a="$began" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')

count() { ch -q "SELECT count() FROM $DB.$1 ${2:-}"; }
want_subject=$(count access_events "WHERE subject_id != ''")
say "loaded in ${load_s} s; waiting for the views (access_by_subject: $want_subject rows, access_by_actor: $ROWS)"
deadline=$((SECONDS + 300))
until [[ $(count access_by_subject) == "$want_subject" && $(count access_by_actor) == "$ROWS" ]]; do
	((SECONDS < deadline)) || die "the materialized views did not fill in 300 s"
	sleep 1
done
say "waiting for background merges (at most 600 s)"
deadline=$((SECONDS + 600))
while [[ $(ch -q "SELECT count() FROM system.merges WHERE database = '$DB'") != 0 ]]; do
	((SECONDS < deadline)) || {
		say "merges still running after 600 s; measuring anyway"
		break
	}
	sleep 2
done
parts=$(ch -q "SELECT concat(table, ' ', toString(count()), ' parts') FROM system.parts WHERE database = '$DB' AND active
	AND table IN ('access_events', 'access_by_subject') GROUP BY table ORDER BY table" | paste -sd, -)
stored=$(ch -q "SELECT uniqExact(subject_id) FROM $DB.access_by_subject")
say "stored: $ROWS events, $stored subjects; $parts"

subjects=$(ch -q "SELECT subject_id FROM (SELECT DISTINCT subject_id FROM $DB.access_by_subject)
	ORDER BY cityHash64(subject_id, $SEED) LIMIT $SUBJECTS" | paste -sd, -)

# The reference: the store's own query file with the same values bound.
python3 - "$DB" "$subjects" "$FROM" "$TO" "$ROUNDS" >"$TMP/reference.sql" <<'PY'
import os, sys
sys.path.insert(0, "scripts")
import chdb_check
db, subjects, frm, to, rounds = sys.argv[1], sys.argv[2].split(","), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
with open(os.path.join("internal", "store", "queries", "subject_history.sql"), encoding="utf-8") as f:
    (stmt,) = chdb_check.split_statements(f.read())
stmt = stmt.replace(chdb_check.PLACEHOLDER, db)
for _ in range(rounds + 1):  # the first round warms up
    for s in subjects:
        params = ["'%s'" % s, str(frm), str(to - 1), str(frm * 1000), str(to * 1000)]
        print(" ".join(chdb_check.bind(stmt, params).split()) + " FORMAT Null;")
PY

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
say "clickhouse-client: $SUBJECTS subjects × $ROUNDS rounds (after a warm-up round)"
ch --time --multiquery <"$TMP/reference.sql" 2>"$TMP/reference.times" >/dev/null
# seconds → ms, skipping the warm-up round
ref_ms=$(tail -n +$((SUBJECTS + 1)) "$TMP/reference.times" | awk '{ printf "%.3f\n", $1 * 1000 }')
[[ $(wc -l <<<"$ref_ms") == $((SUBJECTS * ROUNDS)) ]] || die "clickhouse-client printed $(wc -l <"$TMP/reference.times") times, want $((SUBJECTS * (ROUNDS + 1)))"
ref_rows=$(ch -q "SELECT count() / $SUBJECTS FROM $DB.access_by_subject WHERE has(splitByChar(',', '$subjects'), subject_id)")

say "Vigil: go test -tags integration -run '^\$' -bench '^BenchmarkSubjectHistory10M\$' -benchtime ${ROUNDS}x ./internal/store/"
VIGIL_BENCH_DB=$DB VIGIL_BENCH_SUBJECTS=$subjects VIGIL_BENCH_FROM=$FROM VIGIL_BENCH_TO=$TO \
	VIGIL_BENCH_LATENCIES=$TMP/vigil.ms \
	go test -tags integration -run '^$' -bench '^BenchmarkSubjectHistory10M$' -benchtime "${ROUNDS}x" -count 1 \
	-timeout 30m ./internal/store/ >"$TMP/go.out" 2>&1 || {
	cat "$TMP/go.out"
	die "the benchmark failed"
}
grep -E '^BenchmarkSubjectHistory10M' "$TMP/go.out" || {
	cat "$TMP/go.out"
	die "no benchmark result (skipped?)"
}
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
vigil_rows=$(awk '/^BenchmarkSubjectHistory10M/ { for (i = 3; i < NF; i++) if ($(i+1) == "rows/query") print $i }' "$TMP/go.out")

# pct P < values: nearest-rank percentile (the benchmark's definition).
pct() { sort -g | awk -v p="$1" '{ v[NR] = $1 } END { i = int(p * NR); if (i < p * NR) i++; if (i < 1) i = 1; printf "%.3f", v[i] }'; }
v50=$(pct 0.50 <"$TMP/vigil.ms")
v95=$(pct 0.95 <"$TMP/vigil.ms")
r50=$(pct 0.50 <<<"$ref_ms")
r95=$(pct 0.95 <<<"$ref_ms")
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a (reference 0 ms)" }'; }

echo
printf 'Subject history over %d days, %s access events, %s subjects stored; %d random subjects x %d rounds\n' \
	"$DAYS" "$ROWS" "$stored" "$SUBJECTS" "$ROUNDS"
printf 'load: %s s (%s events/s); %s\n' "$load_s" "$(awk -v n="$ROWS" -v s="$load_s" 'BEGIN { printf "%.0f", n / s }')" "$parts"
printf 'rows per query: Vigil %s, clickhouse-client %s\n' "$vigil_rows" "$ref_rows"
printf 'load average before: %s, after: %s (%s CPUs)\n\n' "$load_before" "$load_after" "$(nproc)"
printf '%-10s %14s %22s %8s\n' "latency" "Vigil (ms)" "clickhouse-client (ms)" "ratio"
printf '%-10s %14s %22s %8s\n' "p50" "$v50" "$r50" "$(ratio "$v50" "$r50")"
printf '%-10s %14s %22s %8s\n' "p95" "$v95" "$r95" "$(ratio "$v95" "$r95")"
