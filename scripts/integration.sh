#!/usr/bin/env bash
# Runs the integration tests against the real services.
#
#   scripts/integration.sh [--down] [go test args...]
#
# Starts every service with scripts/services.sh up, exports what
# `scripts/services.sh env` prints, then runs
#   go test -tags integration -count=1 -timeout 30m [args]
# where args default to ./... ; any argument is passed to go test, e.g.
#   scripts/integration.sh -run ClickHouse ./internal/store/...
# Packages named without a -run still run all their tests, unit tests included.
# With no packages and no -run, a serial step follows: the tests that stop a
# shared service (Kafka, ClickHouse) or are heavy run alone, one package after
# the other, with VIGIL_TEST_SERVICES set: TestCollectorKafkaRestart and
# TestCollectorSIGKILL (./collector/), then TestSinkE2EMillion,
# TestSinkE2ESIGKILL and TestSinkE2EClickHouseDown (./internal/store/sink/).
#
# Services are left running afterwards (the next run starts in seconds); pass
# --down, or set VIGIL_SERVICES_KEEP=0, to stop them when the tests end. On a
# failure the service status and the tails of the service logs are printed and
# the logs are kept in the harness log folder.
set -euo pipefail
# The approved toolchain (docs/SECURITY.md); fetched by the go command.
export GOTOOLCHAIN=go1.27.3

ROOT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SERVICES=$ROOT_DIR/scripts/services.sh
DIR=${VIGIL_SERVICES_DIR:-/var/tmp/vigil-services}
LOGS=$DIR/logs

keep=${VIGIL_SERVICES_KEEP:-1}
args=()
for a in "$@"; do
	case $a in
	--down) keep=0 ;;
	*) args+=("$a") ;;
	esac
done

# A package pattern among the args? If none, test ./...
has_pkg=0
prev=""
for a in "${args[@]}"; do
	# Values of go test flags that take one (-run X, -timeout X, ...) are not packages.
	case $prev in
	-run | -skip | -bench | -timeout | -count | -parallel | -cpu | -benchtime | -coverprofile | -coverpkg | -covermode | -cpuprofile | -memprofile | -blockprofile | -mutexprofile | -trace | -outputdir | -o | -p | -tags | -shuffle | -fuzz | -fuzztime | -list | -exec)
		prev=""
		continue
		;;
	esac
	prev=$a
	case $a in
	-*) ;;
	*) has_pkg=1 ;;
	esac
done
# The caller restricted the run (packages or -run)? Then the serial step
# below is skipped: only what was asked for runs.
restricted=$has_pkg
for a in "${args[@]}"; do
	case $a in
	-run | -run=* | --run | --run=* | -test.run | -test.run=*) restricted=1 ;;
	esac
done
if ((!has_pkg)); then args+=(./...); fi

stop_services() {
	if [[ $keep == 0 ]]; then
		"$SERVICES" down || true
	fi
}

if ! "$SERVICES" up; then
	echo "==> services did not start; logs in $LOGS" >&2
	"$SERVICES" status || true
	stop_services
	exit 1
fi

eval "$("$SERVICES" env)"

cd "$ROOT_DIR"
echo "==> go test -tags integration -count=1 -timeout 30m ${args[*]}"
rc=0
go test -tags integration -count=1 -timeout 30m "${args[@]}" || rc=$?

# Serial step: tests that stop a shared service (or are heavy) run alone,
# after everything else, one package at a time (-run names tests, the package
# after it says where they are), with VIGIL_TEST_SERVICES set; without it they
# skip, so the main run above never disturbs other packages' tests.
if ((!restricted)); then
	serial_steps=(
		"TestCollectorKafkaRestart|TestCollectorSIGKILL ./collector/"
		"^(TestSinkE2EMillion|TestSinkE2ESIGKILL|TestSinkE2EClickHouseDown)$ ./internal/store/sink/"
	)
	for step in "${serial_steps[@]}"; do
		serial=(-run "${step% *}" "${step##* }")
		echo "==> VIGIL_TEST_SERVICES=$SERVICES go test -tags integration -count=1 -timeout 20m ${serial[*]}"
		src=0
		VIGIL_TEST_SERVICES=$SERVICES go test -tags integration -count=1 -timeout 20m "${serial[@]}" || src=$?
		if ((rc == 0)); then rc=$src; fi
		# The restart tests bring Kafka and ClickHouse back themselves; make sure of it.
		"$SERVICES" up kafka clickhouse >/dev/null || true
	done
fi

# Every schema statement of internal/store on current ClickHouse too (chDB,
# installed by `scripts/services.sh up clients`); skipped when chdb is missing.
if ((!restricted)); then
	if python3 -c 'import chdb' 2>/dev/null; then
		echo "==> python3 scripts/chdb_check.py"
		crc=0
		python3 "$ROOT_DIR/scripts/chdb_check.py" || crc=$?
		if ((rc == 0)); then rc=$crc; fi
	else
		echo "==> chdb is not importable: skipping scripts/chdb_check.py (python3 -m pip install chdb)" >&2
	fi
fi

echo "==> services after the tests:"
status_rc=0
"$SERVICES" status || status_rc=$?

if ((rc != 0)); then
	echo "==> integration tests FAILED (go test exit $rc); service logs are kept in $LOGS" >&2
	for f in "$LOGS"/kafka-server.log "$LOGS"/clickhouse-server.err.log "$LOGS"/prometheus.log "$LOGS"/mailpit.log; do
		[[ -s $f ]] || continue
		printf -- '----- tail of %s -----\n' "$f" >&2
		tail -n 20 "$f" >&2
	done
elif ((status_rc != 0)); then
	echo "==> tests passed but a service went down during the run; logs in $LOGS" >&2
fi

stop_services
exit "$rc"
