#!/usr/bin/env bash
# Real-service harness for Vigil's integration tests (DESIGN.md, "Real
# components and how they start"; internal/testenv reads what `env` prints).
#
#   scripts/services.sh up [SERVICE...]     install what is missing, start, wait until ready
#   scripts/services.sh down [SERVICE...]   stop what `up` started (SIGTERM, then SIGKILL)
#   scripts/services.sh status [SERVICE...] up/down, address, version; non-zero if any is down
#   scripts/services.sh env                 `export VAR=value` lines for the tests
#
# SERVICE is one of: kafka clickhouse prometheus mailpit clients
# ("clients" = kcat, rsyslog, chromium + chromium-driver: installed, never started).
# With no SERVICE every one is handled.
#
# State lives under ${VIGIL_SERVICES_DIR:-/var/tmp/vigil-services}:
#   logs/        every log (services, apt, mvn, go install)
#   run/         pid files
#   kafka/       libs-<version>/ (jar cache), server.properties, log4j2.properties, data/
#   clickhouse/  config.xml, users.xml, data/
#   prometheus/  prometheus.yml, data/
#   mailpit/     mailpit.db
#   kcat/        bin/kcat: Debian's kcat run with a librdkafka that does SCRAM with Kafka 4
#
# Everything listens on 127.0.0.1 only. Idempotent: a running, ready service is
# left alone and caches are reused. Meant for root on Debian 12: apt-get
# installs what is missing, and no system service is started or relied on.
set -Eeuo pipefail

ROOT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIR=${VIGIL_SERVICES_DIR:-/var/tmp/vigil-services}
LOGS=$DIR/logs
RUN=$DIR/run

KAFKA_VERSION=${VIGIL_KAFKA_VERSION:-4.1.1}
MAILPIT_VERSION=${VIGIL_MAILPIT_VERSION:-v1.33.1}
# Debian 12's kcat links librdkafka 2.0.2, whose SCRAM client-final message
# Kafka 4.x rejects as "invalid credentials" (librdkafka bug fixed in 2.6.1).
# The harness runs Debian's kcat with the librdkafka bundled in this wheel.
LIBRDKAFKA_WHEEL=${VIGIL_LIBRDKAFKA_WHEEL:-confluent-kafka==2.16.1}
TIMEOUT=${VIGIL_SERVICES_TIMEOUT:-120} # seconds each service gets to become ready

HOST=127.0.0.1
KAFKA_PORT=19092
KAFKA_SASL_PORT=19093
KAFKA_CONTROLLER_PORT=19094
KAFKA_USER=vigil
KAFKA_PASS=vigil-secret
KAFKA_MECH=SCRAM-SHA-512
CH_TCP_PORT=9000
CH_HTTP_PORT=8123
PROM_PORT=9090
SMTP_PORT=1025
MAILPIT_HTTP_PORT=8025

ALL_SERVICES=(kafka clickhouse prometheus mailpit clients)
DAEMONS=(kafka clickhouse prometheus mailpit)

export DEBIAN_FRONTEND=noninteractive

# An unexpected failure (set -e) names its line instead of exiting silently.
trap 'rc=$?; printf "==> ERROR: %s failed (exit %s) at line %s: %s\n" "${BASH_SOURCE[0]}" "$rc" "$LINENO" "$BASH_COMMAND" >&2' ERR

say() { printf '==> %s\n' "$*"; }
warn() { printf '==> WARNING: %s\n' "$*" >&2; }
die() {
	printf '==> ERROR: %s\n' "$*" >&2
	exit 1
}

usage() {
	sed -n '5,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
	exit 2
}

# ---------------------------------------------------------------- helpers

# port_open PORT: something accepts TCP connections on 127.0.0.1:PORT.
port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

pidfile() { echo "$RUN/$1.pid"; }

# cmdline_pattern SERVICE: what /proc/PID/cmdline of our process contains, so a
# recycled pid is never mistaken for (or killed as) the service.
cmdline_pattern() {
	case $1 in
	kafka) echo "kafka.Kafka" ;;
	clickhouse) echo "clickhouse-server" ;;
	prometheus) echo "prometheus" ;;
	mailpit) echo "mailpit" ;;
	esac
}

# service_pid SERVICE: prints the pid and succeeds when our process is alive.
service_pid() {
	local f pid
	f=$(pidfile "$1")
	[[ -s $f ]] || return 1
	pid=$(<"$f")
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	[[ -r /proc/$pid/cmdline ]] || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$(cmdline_pattern "$1")" || return 1
	echo "$pid"
}

# spawn SERVICE LOGFILE CMD...: starts CMD detached in its own session (so it
# outlives the caller's process group) and records its pid. The inner sh
# writes its own pid and execs, so the pid file is right even if setsid forks.
spawn() {
	local svc=$1 log=$2 f i
	shift 2
	f=$(pidfile "$svc")
	rm -f "$f"
	printf '\n===== %s starting %s =====\n' "$(date -Is)" "$svc" >>"$log"
	# shellcheck disable=SC2016 # expanded by the inner sh
	# 9>&-: the service must not inherit the harness lock (flock fd 9).
	setsid sh -c 'echo $$ >"$0"; exec "$@"' "$f" "$@" >>"$log" 2>&1 </dev/null 9>&- &
	for i in $(seq 1 50); do
		[[ -s $f ]] && return 0
		sleep 0.1
	done
	die "$svc: did not record its pid in $f (see $log)"
}

# tail_logs FILE...: last lines of each existing, non-empty file, on stderr.
tail_logs() {
	local f
	for f in "$@"; do
		[[ -s $f ]] || continue
		printf -- '----- tail of %s -----\n' "$f" >&2
		tail -n "${TAIL_LINES:-25}" "$f" >&2
	done
}

service_logs() {
	case $1 in
	kafka) echo "$LOGS/kafka.out $LOGS/kafka-server.log" ;;
	clickhouse) echo "$LOGS/clickhouse.out $LOGS/clickhouse-server.err.log" ;;
	prometheus) echo "$LOGS/prometheus.log" ;;
	mailpit) echo "$LOGS/mailpit.log" ;;
	esac
}

# ------------------------------------------------------------ readiness checks

# kcat_bin: the kcat that works against Kafka 4 (the wrapper), else Debian's.
kcat_bin() {
	if [[ -x $DIR/kcat/bin/kcat ]]; then echo "$DIR/kcat/bin/kcat"; else command -v kcat || true; fi
}

kcat_version() {
	local kc
	kc=$(kcat_bin)
	if [[ -z $kc ]]; then
		echo "?"
		return
	fi
	"$kc" -V 2>/dev/null | sed -n 's/^Version \([^ ]*\) .*librdkafka \([^ ]*\) .*/\1 (librdkafka \2)/p'
}

kafka_ready() {
	local kc
	kc=$(kcat_bin)
	[[ -n $kc ]] || return 1
	timeout 10 "$kc" -b "$HOST:$KAFKA_PORT" -m 5 -L >/dev/null 2>&1 || return 1
	timeout 10 "$kc" -b "$HOST:$KAFKA_SASL_PORT" -m 5 \
		-X security.protocol=SASL_PLAINTEXT -X sasl.mechanisms="$KAFKA_MECH" \
		-X sasl.username="$KAFKA_USER" -X sasl.password="$KAFKA_PASS" -L >/dev/null 2>&1
}

clickhouse_ready() {
	command -v clickhouse-client >/dev/null || return 1
	timeout 10 clickhouse-client --host "$HOST" --port "$CH_TCP_PORT" -q 'SELECT version()' >/dev/null 2>&1
}

prometheus_ready() {
	curl -fsS -m 5 "http://$HOST:$PROM_PORT/-/ready" >/dev/null 2>&1
}

mailpit_ready() {
	curl -fsS -m 5 "http://$HOST:$MAILPIT_HTTP_PORT/api/v1/info" >/dev/null 2>&1
}

service_ready() { "${1}_ready"; }

service_addr() {
	case $1 in
	kafka) echo "$HOST:$KAFKA_PORT, SCRAM $HOST:$KAFKA_SASL_PORT" ;;
	clickhouse) echo "$HOST:$CH_TCP_PORT, http://$HOST:$CH_HTTP_PORT" ;;
	prometheus) echo "http://$HOST:$PROM_PORT" ;;
	mailpit) echo "smtp $HOST:$SMTP_PORT, http://$HOST:$MAILPIT_HTTP_PORT" ;;
	esac
}

service_ports() {
	case $1 in
	kafka) echo "$KAFKA_PORT $KAFKA_SASL_PORT $KAFKA_CONTROLLER_PORT" ;;
	clickhouse) echo "$CH_TCP_PORT $CH_HTTP_PORT" ;;
	prometheus) echo "$PROM_PORT" ;;
	mailpit) echo "$SMTP_PORT $MAILPIT_HTTP_PORT" ;;
	esac
}

# Versions as reported by the running service.
kafka_version() {
	# AppInfoParser logs "Kafka version: X" at every broker start.
	local v=""
	if [[ -f $LOGS/kafka-server.log ]]; then
		v=$(grep -o 'Kafka version: [^ ,]*' "$LOGS/kafka-server.log" | tail -n 1 | awk '{print $3}') || true
	fi
	if [[ -z $v ]] && [[ -f $DIR/kafka/version ]]; then v="$(<"$DIR/kafka/version") (jars)"; fi
	echo "${v:-?}"
}
clickhouse_version() {
	timeout 10 clickhouse-client --host "$HOST" --port "$CH_TCP_PORT" -q 'SELECT version()' 2>/dev/null || echo "?"
}
prometheus_version() {
	local v
	v=$(curl -fsS -m 5 "http://$HOST:$PROM_PORT/api/v1/status/buildinfo" 2>/dev/null |
		grep -o '"version":"[^"]*"' | head -n 1 | cut -d'"' -f4) || true
	echo "${v:-?}"
}
mailpit_version() {
	local v
	v=$(curl -fsS -m 5 "http://$HOST:$MAILPIT_HTTP_PORT/api/v1/info" 2>/dev/null |
		grep -o '"Version":"[^"]*"' | head -n 1 | cut -d'"' -f4) || true
	echo "${v:-?}"
}

# ------------------------------------------------------------------ install

pkg_installed() {
	[[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" == "install ok installed" ]]
}

# service_pkgs SERVICE: Debian packages a service needs (daemon, readiness client).
service_pkgs() {
	case $1 in
	kafka)
		command -v java >/dev/null || echo openjdk-17-jre-headless
		command -v mvn >/dev/null || echo maven
		echo kcat
		if need_pip; then echo python3-pip; fi
		;;
	clickhouse) echo clickhouse-server clickhouse-client ;;
	prometheus) echo prometheus ;;
	mailpit) ;;
	clients)
		echo kcat rsyslog chromium chromium-driver fonts-liberation
		if need_pip; then echo python3-pip; fi
		;;
	esac
}

# need_pip: pip is needed (to fetch the kcat librdkafka) and missing.
need_pip() {
	[[ -f $DIR/kcat/.complete-$LIBRDKAFKA_WHEEL ]] && return 1
	! python3 -m pip --version >/dev/null 2>&1
}

apt_lists_present() {
	compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null
}

# ensure_packages SERVICE...: one apt-get install for everything missing. A
# policy-rc.d that denies every start keeps the packages' postinst scripts from
# starting system services (clickhouse-server, prometheus, rsyslog).
ensure_packages() {
	local -a want=() missing=()
	local s p
	command -v curl >/dev/null || want+=(curl ca-certificates)
	for s in "$@"; do
		# shellcheck disable=SC2207
		want+=($(service_pkgs "$s"))
	done
	for p in "${want[@]}"; do
		pkg_installed "$p" || missing+=("$p")
	done
	((${#missing[@]})) || return 0
	mapfile -t missing < <(printf '%s\n' "${missing[@]}" | awk '!seen[$0]++')

	local policy=/usr/sbin/policy-rc.d created_policy=0
	if [[ ! -e $policy ]]; then
		printf '#!/bin/sh\n# scripts/services.sh: no service starts during apt-get install\nexit 101\n' >"$policy"
		chmod 755 "$policy"
		created_policy=1
	fi
	local rsyslog_before=0
	if pkg_installed rsyslog; then rsyslog_before=1; fi

	say "installing ${missing[*]}…"
	local t0=$SECONDS rc=0
	if ! apt_lists_present; then
		say "apt-get update"
		apt-get update -qq >"$LOGS/apt-update.log" 2>&1 || rc=$?
	fi
	if ((rc == 0)); then
		apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$LOGS/apt-install.log" 2>&1 || rc=$?
		if ((rc != 0)); then
			# Stale package lists are the usual cause: refresh once and retry.
			say "apt-get install failed; apt-get update and retry"
			rc=0
			{ apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >>"$LOGS/apt-install.log" 2>&1 || rc=$?
		fi
	fi
	if ((created_policy)); then rm -f "$policy"; fi
	if ((rc != 0)); then
		tail_logs "$LOGS/apt-update.log" "$LOGS/apt-install.log"
		die "apt-get install ${missing[*]} failed (log: $LOGS/apt-install.log)"
	fi
	say "installed ${missing[*]} in $((SECONDS - t0))s"

	# The rsyslog package must not leave a system rsyslogd behind (tests run
	# their own with their own config). Only stop one this install started.
	if ((!rsyslog_before)) && pkg_installed rsyslog && [[ -s /run/rsyslogd.pid ]]; then
		local rp
		rp=$(</run/rsyslogd.pid)
		if [[ $rp =~ ^[0-9]+$ ]] && [[ "$(cat "/proc/$rp/comm" 2>/dev/null || true)" == rsyslogd ]]; then
			warn "the rsyslog package started a system rsyslogd (pid $rp): stopping it"
			kill "$rp" 2>/dev/null || true
		fi
	fi
}

mailpit_bin() { echo "$(go env GOPATH)/bin/mailpit"; }

ensure_mailpit() {
	command -v go >/dev/null || die "mailpit: go is not on PATH (needed for go install github.com/axllent/mailpit@$MAILPIT_VERSION)"
	local bin info
	bin=$(mailpit_bin)
	# The version is stamped with -ldflags so /api/v1/info reports it (a plain
	# go install reports "dev").
	local ldflags="-s -w -X github.com/axllent/mailpit/config.Version=$MAILPIT_VERSION"
	if [[ -x $bin ]]; then
		info=$(go version -m "$bin" 2>/dev/null || true)
		if grep -Eq "^[[:space:]]+mod[[:space:]]+github.com/axllent/mailpit[[:space:]]+$MAILPIT_VERSION([[:space:]]|$)" <<<"$info" &&
			grep -Fq "config.Version=$MAILPIT_VERSION" <<<"$info"; then
			return 0
		fi
	fi
	say "installing mailpit $MAILPIT_VERSION (go install)…"
	local t0=$SECONDS
	# Outside the repo so the repo's go.mod is never touched.
	if ! (cd / && GOFLAGS=-buildvcs=false go install -ldflags="$ldflags" "github.com/axllent/mailpit@$MAILPIT_VERSION") >"$LOGS/mailpit-install.log" 2>&1; then
		tail_logs "$LOGS/mailpit-install.log"
		die "go install github.com/axllent/mailpit@$MAILPIT_VERSION failed"
	fi
	say "installed mailpit $MAILPIT_VERSION in $((SECONDS - t0))s"
}

# ensure_chdb: chDB (ClickHouse in-process, from PyPI) for scripts/chdb_check.py,
# which runs every schema statement of internal/store against current
# ClickHouse. About 45 s the first time; a failure only warns (the check is
# then skipped by scripts/integration.sh).
CHDB_VERSION=${CHDB_VERSION:-4.4.0}
ensure_chdb() {
	command -v python3 >/dev/null || { warn "chdb: python3 is missing; scripts/chdb_check.py will be skipped"; return 0; }
	if python3 -c 'import chdb' 2>/dev/null; then return 0; fi
	local t0=$SECONDS
	if python3 -m pip install --quiet --disable-pip-version-check "chdb==$CHDB_VERSION" >>"$LOGS/chdb-pip.log" 2>&1; then
		say "installed chdb $CHDB_VERSION in $((SECONDS - t0))s"
	else
		warn "chdb: pip install chdb==$CHDB_VERSION failed (log: $LOGS/chdb-pip.log); scripts/chdb_check.py will be skipped"
	fi
}

# ensure_kcat: $DIR/kcat/bin/kcat runs Debian's /usr/bin/kcat with the
# librdkafka shipped in the confluent-kafka wheel from PyPI (a manylinux build
# with OpenSSL, SASL and zstd linked in; the same C ABI, librdkafka.so.1).
ensure_kcat() {
	local k=$DIR/kcat
	if [[ -f $k/.complete-$LIBRDKAFKA_WHEEL ]] && [[ -x $k/bin/kcat ]]; then return 0; fi
	[[ -x /usr/bin/kcat ]] || die "kcat is not installed"
	local arch
	case $(uname -m) in
	x86_64) arch=x86_64 ;;
	aarch64) arch=aarch64 ;;
	*) die "kcat: no librdkafka wheel for $(uname -m)" ;;
	esac
	say "fetching librdkafka for kcat ($LIBRDKAFKA_WHEEL from PyPI)…"
	local t0=$SECONDS tmp
	tmp=$(mktemp -d)
	if ! python3 -m pip download -q --no-deps --only-binary=:all: --implementation cp \
		--python-version 3.11 --abi cp311 --platform "manylinux_2_28_$arch" \
		-d "$tmp" "$LIBRDKAFKA_WHEEL" >"$LOGS/kcat-librdkafka.log" 2>&1; then
		tail_logs "$LOGS/kcat-librdkafka.log"
		rm -rf "$tmp"
		die "pip download $LIBRDKAFKA_WHEEL failed"
	fi
	rm -rf "${k:?}/lib" "${k:?}/bin"
	mkdir -p "$k/lib" "$k/bin"
	python3 - "$tmp"/*.whl "$k/lib" <<'PY'
import os, sys, zipfile
whl, dest = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(whl) as z:
    libs = [n for n in z.namelist() if os.path.basename(n).startswith("librdkafka") and ".so" in n]
    if len(libs) != 1:
        sys.exit("expected one librdkafka in %s, found %s" % (whl, libs))
    with z.open(libs[0]) as src, open(os.path.join(dest, "librdkafka.so.1"), "wb") as out:
        out.write(src.read())
PY
	rm -rf "$tmp"
	cat >"$k/bin/kcat" <<EOF
#!/bin/sh
# Generated by scripts/services.sh: Debian's kcat with the librdkafka from
# $LIBRDKAFKA_WHEEL, because Debian 12's librdkafka 2.0.2 fails SCRAM
# against Kafka 4.x (invalid credentials; fixed in librdkafka 2.6.1).
LD_LIBRARY_PATH="$k/lib\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}" exec /usr/bin/kcat "\$@"
EOF
	chmod 755 "$k/bin/kcat"
	"$k/bin/kcat" -V >/dev/null 2>&1 || die "kcat with the wheel's librdkafka does not run: $("$k/bin/kcat" -V 2>&1 | head -n 3)"
	rm -f "$k"/.complete-*
	touch "$k/.complete-$LIBRDKAFKA_WHEEL"
	say "kcat $(kcat_version) ready in $((SECONDS - t0))s"
}

kafka_libs() { echo "$DIR/kafka/libs-$KAFKA_VERSION"; }

ensure_kafka_libs() {
	local libs
	libs=$(kafka_libs)
	[[ -f $libs/.complete ]] && return 0
	command -v mvn >/dev/null || die "kafka: mvn is not installed"
	say "fetching Apache Kafka $KAFKA_VERSION jars (mvn dependency:copy-dependencies)…"
	local t0=$SECONDS tmp=$libs.tmp
	rm -rf "$tmp"
	if ! mvn -B -q -f "$ROOT_DIR/scripts/kafka/pom.xml" dependency:copy-dependencies \
		-Dkafka.version="$KAFKA_VERSION" -DoutputDirectory="$tmp" >"$LOGS/kafka-mvn.log" 2>&1; then
		tail_logs "$LOGS/kafka-mvn.log"
		die "mvn could not fetch kafka_2.13:$KAFKA_VERSION (log: $LOGS/kafka-mvn.log)"
	fi
	[[ -f $tmp/kafka_2.13-$KAFKA_VERSION.jar ]] || die "kafka_2.13-$KAFKA_VERSION.jar missing after mvn (see $LOGS/kafka-mvn.log)"
	rm -rf "$libs"
	mv "$tmp" "$libs"
	touch "$libs/.complete"
	say "fetched $(find "$libs" -name '*.jar' | wc -l) jars in $((SECONDS - t0))s"
}

# -------------------------------------------------------------------- kafka

java_bin() {
	if [[ -n ${JAVA_HOME:-} ]] && [[ -x $JAVA_HOME/bin/java ]]; then echo "$JAVA_HOME/bin/java"; else command -v java; fi
}

kafka_write_config() {
	local k=$DIR/kafka
	mkdir -p "$k/data"
	cat >"$k/server.properties" <<EOF
# Generated by scripts/services.sh: single-node KRaft (broker + controller), 127.0.0.1 only.
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=$HOST:$KAFKA_CONTROLLER_PORT
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://$HOST:$KAFKA_PORT,SASL_PLAINTEXT://$HOST:$KAFKA_SASL_PORT,CONTROLLER://$HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$KAFKA_PORT,SASL_PLAINTEXT://$HOST:$KAFKA_SASL_PORT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT
inter.broker.listener.name=PLAINTEXT

# SCRAM on the SASL_PLAINTEXT listener; the credentials are written into the
# metadata log by StorageTool format --add-scram.
sasl.enabled.mechanisms=SCRAM-SHA-512,SCRAM-SHA-256
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;

log.dirs=$k/data
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
delete.topic.enable=true
num.network.threads=2
num.io.threads=4
log.retention.hours=24
EOF
	cat >"$k/log4j2.properties" <<EOF
# Generated by scripts/services.sh: the broker logs into the harness log folder.
status = warn
appender.file.type = RollingFile
appender.file.name = file
appender.file.fileName = $LOGS/kafka-server.log
appender.file.filePattern = $LOGS/kafka-server.log.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 50MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 3
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
EOF
}

kafka_java_opts() {
	echo "-Xms256m -Xmx512m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true -Dlog4j2.configurationFile=$DIR/kafka/log4j2.properties"
}

kafka_start() {
	local k=$DIR/kafka libs java
	libs=$(kafka_libs)
	java=$(java_bin) || die "kafka: java is not installed"
	kafka_write_config
	echo "$KAFKA_VERSION" >"$k/version"
	if [[ ! -f $k/data/meta.properties ]]; then
		if [[ ! -s $k/cluster-id ]]; then
			"$java" -cp "$libs/*" kafka.tools.StorageTool random-uuid >"$k/cluster-id" 2>>"$LOGS/kafka-format.log" ||
				die "kafka: StorageTool random-uuid failed (log: $LOGS/kafka-format.log)"
		fi
		say "formatting kafka storage (cluster $(<"$k/cluster-id"), SCRAM user $KAFKA_USER)"
		# --standalone: a single-node dynamic controller quorum (KIP-853), which
		# is why server.properties names controller.quorum.bootstrap.servers and
		# not controller.quorum.voters. --add-scram may be repeated.
		# shellcheck disable=SC2046
		if ! "$java" $(kafka_java_opts) -cp "$libs/*" kafka.tools.StorageTool format --standalone \
			-t "$(<"$k/cluster-id")" -c "$k/server.properties" \
			--add-scram "SCRAM-SHA-512=[name=$KAFKA_USER,password=$KAFKA_PASS]" \
			--add-scram "SCRAM-SHA-256=[name=$KAFKA_USER,password=$KAFKA_PASS]" \
			>>"$LOGS/kafka-format.log" 2>&1; then
			tail_logs "$LOGS/kafka-format.log"
			die "kafka: StorageTool format failed (log: $LOGS/kafka-format.log)"
		fi
	fi
	# shellcheck disable=SC2046
	spawn kafka "$LOGS/kafka.out" "$java" $(kafka_java_opts) -cp "$libs/*" kafka.Kafka "$k/server.properties"
}

# --------------------------------------------------------------- clickhouse

clickhouse_write_config() {
	local c=$DIR/clickhouse
	mkdir -p "$c/data/tmp" "$c/data/user_files" "$c/data/format_schemas"
	cat >"$c/config.xml" <<EOF
<?xml version="1.0"?>
<!-- Generated by scripts/services.sh: a test ClickHouse on 127.0.0.1, nothing in system paths. -->
<yandex>
    <logger>
        <level>information</level>
        <log>$LOGS/clickhouse-server.log</log>
        <errorlog>$LOGS/clickhouse-server.err.log</errorlog>
        <size>100M</size>
        <count>3</count>
    </logger>
    <listen_host>$HOST</listen_host>
    <tcp_port>$CH_TCP_PORT</tcp_port>
    <http_port>$CH_HTTP_PORT</http_port>
    <!-- no interserver_http_port: no replication, nothing else listens -->
    <max_connections>1024</max_connections>
    <keep_alive_timeout>3</keep_alive_timeout>
    <max_concurrent_queries>100</max_concurrent_queries>
    <uncompressed_cache_size>268435456</uncompressed_cache_size>
    <mark_cache_size>268435456</mark_cache_size>
    <path>$c/data/</path>
    <tmp_path>$c/data/tmp/</tmp_path>
    <user_files_path>$c/data/user_files/</user_files_path>
    <format_schema_path>$c/data/format_schemas/</format_schema_path>
    <users_config>$c/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <umask>022</umask>
    <mlock_executable>false</mlock_executable>
    <builtin_dictionaries_reload_interval>3600</builtin_dictionaries_reload_interval>
    <max_session_timeout>3600</max_session_timeout>
    <default_session_timeout>60</default_session_timeout>
    <query_log>
        <database>system</database>
        <table>query_log</table>
        <partition_by>toYYYYMM(event_date)</partition_by>
        <flush_interval_milliseconds>7500</flush_interval_milliseconds>
    </query_log>
    <!-- tests create and drop tables and partitions freely -->
    <max_table_size_to_drop>0</max_table_size_to_drop>
    <max_partition_size_to_drop>0</max_partition_size_to_drop>
</yandex>
EOF
	cat >"$c/users.xml" <<EOF
<?xml version="1.0"?>
<!-- Generated by scripts/services.sh: user "default", no password, loopback only. -->
<yandex>
    <profiles>
        <default>
            <max_memory_usage>4000000000</max_memory_usage>
            <use_uncompressed_cache>0</use_uncompressed_cache>
            <load_balancing>random</load_balancing>
        </default>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks>
                <ip>127.0.0.1</ip>
                <ip>::1</ip>
            </networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas>
        <default>
            <interval>
                <duration>3600</duration>
                <queries>0</queries>
                <errors>0</errors>
                <result_rows>0</result_rows>
                <read_rows>0</read_rows>
                <execution_time>0</execution_time>
            </interval>
        </default>
    </quotas>
</yandex>
EOF
}

clickhouse_start() {
	clickhouse_write_config
	# Debian's package ships /usr/sbin/clickhouse-server (no `clickhouse`
	# multi-tool). 18.16 runs as root without complaint; it stays in the
	# foreground (no --daemon) so the recorded pid is the server's.
	spawn clickhouse "$LOGS/clickhouse.out" clickhouse-server --config-file="$DIR/clickhouse/config.xml"
}

# --------------------------------------------------------------- prometheus

prometheus_start() {
	local p=$DIR/prometheus
	mkdir -p "$p/data"
	cat >"$p/prometheus.yml" <<EOF
# Generated by scripts/services.sh
global:
  scrape_interval: 5s
  evaluation_interval: 5s
scrape_configs:
  - job_name: prometheus
    static_configs:
      - targets: ["$HOST:$PROM_PORT"]
EOF
	spawn prometheus "$LOGS/prometheus.log" prometheus \
		--config.file="$p/prometheus.yml" \
		--storage.tsdb.path="$p/data" \
		--storage.tsdb.retention.time=2d \
		--web.listen-address="$HOST:$PROM_PORT" \
		--web.enable-lifecycle
}

# ------------------------------------------------------------------ mailpit

mailpit_start() {
	mkdir -p "$DIR/mailpit"
	spawn mailpit "$LOGS/mailpit.log" "$(mailpit_bin)" \
		--smtp "$HOST:$SMTP_PORT" \
		--listen "$HOST:$MAILPIT_HTTP_PORT" \
		--database "$DIR/mailpit/mailpit.db" \
		--max 100000 \
		--smtp-auth-accept-any --smtp-auth-allow-insecure
}

# ---------------------------------------------------------------- commands

valid_service() {
	local s
	for s in "${ALL_SERVICES[@]}"; do [[ $s == "$1" ]] && return 0; done
	return 1
}

is_daemon() {
	local s
	for s in "${DAEMONS[@]}"; do [[ $s == "$1" ]] && return 0; done
	return 1
}

# select_services ARGS...: sets SELECTED to the services named (validated), or all.
SELECTED=()
select_services() {
	local s
	if (($# == 0)); then
		SELECTED=("${ALL_SERVICES[@]}")
		return
	fi
	for s in "$@"; do
		valid_service "$s" || die "unknown service '$s' (one of: ${ALL_SERVICES[*]})"
	done
	SELECTED=("$@")
}

lock() {
	mkdir -p "$DIR" "$LOGS" "$RUN"
	exec 9>"$DIR/.lock"
	flock -w 1800 9 || die "another scripts/services.sh holds $DIR/.lock"
}

clients_summary() {
	echo "kcat $(kcat_version), rsyslogd $(/usr/sbin/rsyslogd -v 2>/dev/null | awk 'NR==1{print $2}' | tr -d ,), $(chromium --version 2>/dev/null | awk '{print $1, $2}')"
}

cmd_up() {
	local -a svcs=() to_start=() waiting=()
	select_services "$@"
	svcs=("${SELECTED[@]}")
	lock
	local t_all=$SECONDS s port
	ensure_packages "${svcs[@]}"

	# 1. Prepare (downloads, builds) before starting anything, so the ready
	#    times below measure the services themselves.
	for s in "${svcs[@]}"; do
		case $s in
		kafka | clients) ensure_kcat ;;
		esac
		if [[ $s == clients ]]; then ensure_chdb; fi
		is_daemon "$s" || continue
		if service_pid "$s" >/dev/null; then
			waiting+=("$s")
			continue
		fi
		for port in $(service_ports "$s"); do
			if port_open "$port"; then
				die "$s: $HOST:$port is taken by a process scripts/services.sh did not start (see: ss -ltnp 'sport = :$port'); stop it or free the port"
			fi
		done
		case $s in
		kafka) ensure_kafka_libs ;;
		mailpit) ensure_mailpit ;;
		esac
		to_start+=("$s")
	done

	# 2. Start the ones not running; they come up in parallel.
	declare -A t_start=()
	for s in "${waiting[@]}"; do t_start[$s]=$SECONDS; done
	for s in "${to_start[@]}"; do
		say "starting $s…"
		t_start[$s]=$SECONDS
		"${s}_start"
		waiting+=("$s")
	done

	# 3. Wait until each is ready, polling all of them together.
	local failed=0 pid
	local -a pending=("${waiting[@]}") next=()
	while ((${#pending[@]})); do
		next=()
		for s in "${pending[@]}"; do
			if service_ready "$s"; then
				say "$s ready on $(service_addr "$s") ($("${s}_version")) in $((SECONDS - t_start[$s]))s"
			elif ! pid=$(service_pid "$s"); then
				printf '==> ERROR: %s exited before it was ready (logs: %s)\n' "$s" "$LOGS" >&2
				# shellcheck disable=SC2046
				tail_logs $(service_logs "$s")
				failed=1
			elif ((SECONDS - t_start[$s] >= TIMEOUT)); then
				printf '==> ERROR: %s (pid %s) not ready on %s after %ss (logs: %s)\n' "$s" "$pid" "$(service_addr "$s")" "$TIMEOUT" "$LOGS" >&2
				# shellcheck disable=SC2046
				tail_logs $(service_logs "$s")
				failed=1
			else
				next+=("$s")
			fi
		done
		pending=("${next[@]}")
		if ((${#pending[@]})); then sleep 0.5; fi
	done
	for s in "${svcs[@]}"; do
		if [[ $s == clients ]]; then say "clients: $(clients_summary)"; fi
	done
	if ((failed)); then die "some services did not start; logs in $LOGS"; fi
	say "up in $((SECONDS - t_all))s (logs: $LOGS)"
}

stop_one() {
	local s=$1 pid i
	if ! pid=$(service_pid "$s"); then
		rm -f "$(pidfile "$s")"
		return 0
	fi
	say "stopping $s (pid $pid)…"
	kill -TERM "$pid" 2>/dev/null || true
	for i in $(seq 1 60); do
		[[ -d /proc/$pid ]] || break
		sleep 0.5
	done
	if [[ -d /proc/$pid ]]; then
		warn "$s (pid $pid) still running after 30s: SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
		sleep 0.5
	fi
	rm -f "$(pidfile "$s")"
}

cmd_down() {
	local -a svcs=()
	select_services "$@"
	svcs=("${SELECTED[@]}")
	lock
	local i
	for ((i = ${#svcs[@]} - 1; i >= 0; i--)); do
		if is_daemon "${svcs[i]}"; then stop_one "${svcs[i]}"; fi
	done
	say "down"
}

cmd_status() {
	local -a svcs=()
	select_services "$@"
	svcs=("${SELECTED[@]}")
	local s down=0 pid state ver
	for s in "${svcs[@]}"; do
		if [[ $s == clients ]]; then
			printf '%-12s %-5s %-38s %s\n' kcat "$([[ -n $(kcat_bin) ]] && echo ok || echo MISSING)" "$(kcat_bin)" "$(kcat_version)"
			printf '%-12s %-5s %-38s %s\n' rsyslogd "$([[ -x /usr/sbin/rsyslogd ]] && echo ok || echo MISSING)" /usr/sbin/rsyslogd "$(/usr/sbin/rsyslogd -v 2>/dev/null | awk 'NR==1{print $2}' | tr -d ,)"
			printf '%-12s %-5s %-38s %s\n' chromium "$(command -v chromium >/dev/null && echo ok || echo MISSING)" "$(command -v chromium || true)" "$(chromium --version 2>/dev/null | awk '{print $2}')"
			printf '%-12s %-5s %-38s %s\n' chromedriver "$(command -v chromedriver >/dev/null && echo ok || echo MISSING)" "$(command -v chromedriver || true)" "$(chromedriver --version 2>/dev/null | awk '{print $2}')"
			printf '%-12s %-5s %-38s %s\n' promtool "$(command -v promtool >/dev/null && echo ok || echo MISSING)" "$(command -v promtool || true)" "$(promtool --version 2>&1 | awk 'NR==1{print $3}')"
			continue
		fi
		pid=$(service_pid "$s" || true)
		if service_ready "$s"; then
			state=up
			ver=$("${s}_version")
		else
			state=down
			ver=-
			down=1
		fi
		printf '%-12s %-5s %-38s %s%s\n' "$s" "$state" "$(service_addr "$s")" "$ver" "${pid:+ (pid $pid)}"
	done
	echo "logs: $LOGS"
	return "$down"
}

cmd_env() {
	cat <<EOF
export VIGIL_TEST_KAFKA=$HOST:$KAFKA_PORT
export VIGIL_TEST_KAFKA_SASL=$HOST:$KAFKA_SASL_PORT
export VIGIL_TEST_KAFKA_SASL_USER=$KAFKA_USER
export VIGIL_TEST_KAFKA_SASL_PASS=$KAFKA_PASS
export VIGIL_TEST_KAFKA_SASL_MECH=$KAFKA_MECH
export VIGIL_TEST_CLICKHOUSE=$HOST:$CH_TCP_PORT
export VIGIL_TEST_PROMETHEUS=http://$HOST:$PROM_PORT
export VIGIL_TEST_SMTP=$HOST:$SMTP_PORT
export VIGIL_TEST_MAILPIT_API=http://$HOST:$MAILPIT_HTTP_PORT
EOF
	local mp
	mp=$(mailpit_bin 2>/dev/null || true)
	if [[ -n $mp && -x $mp ]]; then
		echo "export VIGIL_TEST_MAILPIT_BIN=$mp"
	fi
	local kc
	kc=$(kcat_bin)
	if [[ -n $kc ]]; then
		echo "export VIGIL_TEST_KCAT=$kc"
	else
		echo "# VIGIL_TEST_KCAT: kcat is not installed (scripts/services.sh up clients)"
	fi
	local var bin path
	for var in PROMTOOL:promtool RSYSLOGD:/usr/sbin/rsyslogd CHROMIUM:chromium; do
		bin=${var#*:}
		var=VIGIL_TEST_${var%%:*}
		if path=$(command -v "$bin"); then
			echo "export $var=$path"
		else
			echo "# $var: $bin is not installed (scripts/services.sh up)"
		fi
	done
}

main() {
	(($# >= 1)) || usage
	local cmd=$1
	shift
	case $cmd in
	up)
		[[ $(id -u) -eq 0 ]] || die "run as root (apt-get installs what is missing)"
		cmd_up "$@"
		;;
	down) cmd_down "$@" ;;
	status) cmd_status "$@" || exit $? ;;
	env) cmd_env ;;
	*) usage ;;
	esac
}

main "$@"
