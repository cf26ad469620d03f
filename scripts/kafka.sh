#!/usr/bin/env bash
# Local single-node Apache Kafka (KRaft, combined broker+controller) for tests
# and development. No Docker: jars come from Maven Central via scripts/kafka/pom.xml.
#
#   scripts/kafka.sh start    fetch jars if needed, format storage once, start, wait until ready
#   scripts/kafka.sh stop     SIGTERM (bounded wait), then SIGKILL; no-op if not running
#   scripts/kafka.sh status   exit 0 + "pid/port" if running, exit 1 otherwise
#   scripts/kafka.sh clean    stop, then delete the data dir
#   scripts/kafka.sh fetch    only resolve the jars into the cache
#
# Environment:
#   KAFKA_PORT             client (PLAINTEXT) port, default 9092
#   KAFKA_CONTROLLER_PORT  KRaft controller port, default KAFKA_PORT+1 (9093)
#   KAFKA_VERSION          org.apache.kafka:kafka_2.13 version, default 4.4.0 (3.x also works: static
#                          controller.quorum.voters + format without --standalone)
#   KAFKA_HEAP             default "-Xmx512m -Xms256m"
#   KAFKA_JVM_OPTS         extra JVM flags (default: G1 settings of kafka-run-class.sh)
#   KAFKA_START_TIMEOUT    seconds to wait for readiness, default 60
#   KAFKA_STOP_TIMEOUT     seconds to wait after SIGTERM before SIGKILL, default 30
#   KAFKA_READY_CHECK      auto (default: kafkajs probe if node+kafkajs are available) | log (log line + TCP only)
#
# Files (repo root):
#   .cache/kafka/<version>/libs/      jars (+ .complete marker written after a successful fetch;
#                                     Maven uses ~/.m2, override with MAVEN_OPTS=-Dmaven.repo.local=...)
#   .cache/kafka-data/<port>/         server.properties, broker.pid, broker.log, broker.out, logs/ (log.dirs)
set -euo pipefail

# Kafka 4.4.0 verified end to end with kafkajs 2.2.4 by scripts/kafka-smoke.mjs.
DEFAULT_KAFKA_VERSION=4.4.0

SCRIPT_DIR="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
REPO_ROOT="$(cd -- "$SCRIPT_DIR/.." && pwd -P)"

KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-$((KAFKA_PORT + 1))}"
KAFKA_VERSION="${KAFKA_VERSION:-$DEFAULT_KAFKA_VERSION}"
KAFKA_HEAP="${KAFKA_HEAP:--Xmx512m -Xms256m}"
KAFKA_JVM_OPTS="${KAFKA_JVM_OPTS:--XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent}"
KAFKA_START_TIMEOUT="${KAFKA_START_TIMEOUT:-60}"
KAFKA_STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-30}"
KAFKA_READY_CHECK="${KAFKA_READY_CHECK:-auto}"

LIBS_DIR="$REPO_ROOT/.cache/kafka/$KAFKA_VERSION/libs"
LIBS_MARKER="$LIBS_DIR/.complete"
DATA_DIR="$REPO_ROOT/.cache/kafka-data/$KAFKA_PORT"
LOG_DIRS="$DATA_DIR/logs"
PROPS="$DATA_DIR/server.properties"
PID_FILE="$DATA_DIR/broker.pid"
VERSION_FILE="$DATA_DIR/version"
BROKER_LOG="$DATA_DIR/broker.log"
BROKER_OUT="$DATA_DIR/broker.out"
LOG4J_CONF="$SCRIPT_DIR/kafka/log4j2.properties"
POM="$SCRIPT_DIR/kafka/pom.xml"

log() { printf 'kafka.sh: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

for v in KAFKA_PORT KAFKA_CONTROLLER_PORT KAFKA_START_TIMEOUT KAFKA_STOP_TIMEOUT; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || die "$v must be a number (got '${!v}')"
done
[[ "$KAFKA_VERSION" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "KAFKA_VERSION must look like X.Y.Z (got '$KAFKA_VERSION')"
(( KAFKA_PORT > 0 && KAFKA_PORT < 65536 && KAFKA_CONTROLLER_PORT > 0 && KAFKA_CONTROLLER_PORT < 65536 )) || die "ports must be in 1..65535"
[[ "$KAFKA_PORT" != "$KAFKA_CONTROLLER_PORT" ]] || die "KAFKA_PORT and KAFKA_CONTROLLER_PORT must differ"
KAFKA_MAJOR="${KAFKA_VERSION%%.*}"

# ---------------------------------------------------------------- helpers

now_ms() { date +%s%3N; }

# Pid of the broker owning this data dir, or empty. Guards against stale pid
# files and pid reuse by checking the process command line.
broker_pid() {
  [[ -f "$PID_FILE" ]] || return 0
  local pid
  pid="$(<"$PID_FILE")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 0
  [[ -r "/proc/$pid/cmdline" ]] || return 0
  if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "kafka.Kafka $PROPS"; then
    echo "$pid"
  fi
}

# Broker log written since byte offset $LOG_OFFSET (set just before launch), so
# lines from earlier runs (the log is appended to) are ignored.
LOG_OFFSET=0
new_log() {
  [[ -f "$BROKER_LOG" ]] || return 0
  local size
  size="$(stat -c %s "$BROKER_LOG")"
  if (( size < LOG_OFFSET )); then cat "$BROKER_LOG"; else tail -c +"$((LOG_OFFSET + 1))" "$BROKER_LOG"; fi
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

rss_mb() { awk '/^VmRSS:/ {printf "%d", $2/1024}' "/proc/$1/status" 2>/dev/null || echo '?'; }

# ---------------------------------------------------------------- jars

fetch_jars() {
  [[ -f "$LIBS_MARKER" ]] && return 0
  command -v mvn >/dev/null || die "mvn not found (needed once to fetch Kafka $KAFKA_VERSION jars)"
  command -v java >/dev/null || die "java not found (Kafka needs Java 17+)"
  mkdir -p "$REPO_ROOT/.cache/kafka"
  # Serialise concurrent fetches of the same version (e.g. brokers on two ports).
  exec 8>"$REPO_ROOT/.cache/kafka/$KAFKA_VERSION.lock"
  flock 8
  if [[ ! -f "$LIBS_MARKER" ]]; then
    local t0 tmp
    t0="$(now_ms)"
    tmp="$REPO_ROOT/.cache/kafka/$KAFKA_VERSION/libs.tmp.$$"
    rm -rf "$tmp" "$LIBS_DIR"
    mkdir -p "$tmp"
    log "fetching org.apache.kafka:kafka_2.13:$KAFKA_VERSION and runtime dependencies (Maven) ..."
    local mvnlog="$REPO_ROOT/.cache/kafka/$KAFKA_VERSION/mvn.log"
    if ! mvn -B -q -Dstyle.color=never -f "$POM" \
        -Dkafka.version="$KAFKA_VERSION" \
        dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp" >"$mvnlog" 2>&1; then
      tail -n 30 "$mvnlog" >&2 || true
      rm -rf "$tmp"
      die "maven failed to resolve Kafka $KAFKA_VERSION (full output: ${mvnlog#"$REPO_ROOT"/})"
    fi
    [[ -f "$tmp/kafka_2.13-$KAFKA_VERSION.jar" ]] || { rm -rf "$tmp"; die "kafka_2.13-$KAFKA_VERSION.jar missing after fetch"; }
    mv "$tmp" "$LIBS_DIR"
    (cd "$LIBS_DIR" && ls -1 *.jar) >"$LIBS_MARKER"
    log "fetched $(grep -c . "$LIBS_MARKER") jars ($(du -sh "$LIBS_DIR" | cut -f1)) in $(( ($(now_ms) - t0) / 1000 )) s -> ${LIBS_DIR#"$REPO_ROOT"/}"
  fi
  flock -u 8
  exec 8>&-
}

# ---------------------------------------------------------------- config

write_props() {
  local quorum
  if (( KAFKA_MAJOR >= 4 )); then
    quorum="controller.quorum.bootstrap.servers=127.0.0.1:$KAFKA_CONTROLLER_PORT"
  else
    quorum="controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT"
  fi
  cat >"$PROPS" <<EOF
# Generated by scripts/kafka.sh for Kafka $KAFKA_VERSION; rewritten on every start.
process.roles=broker,controller
node.id=1
$quorum
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$LOG_DIRS

# single node: every internal topic with RF 1 and as few partitions as possible
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
default.replication.factor=1
min.insync.replicas=1

# topics
num.partitions=1
auto.create.topics.enable=true
delete.topic.enable=true
log.retention.hours=24
log.segment.bytes=67108864

# fast test start: no initial rebalance delay, no leader rebalancing,
# small thread pools
group.initial.rebalance.delay.ms=0
auto.leader.rebalance.enable=false
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
EOF
}

format_storage() {
  if [[ -f "$LOG_DIRS/meta.properties" ]]; then
    if [[ -f "$VERSION_FILE" && "$(<"$VERSION_FILE")" != "$KAFKA_VERSION" ]]; then
      die "data dir ${DATA_DIR#"$REPO_ROOT"/} was formatted by Kafka $(<"$VERSION_FILE"), not $KAFKA_VERSION; run 'scripts/kafka.sh clean' (or use another KAFKA_PORT)"
    fi
    return 0
  fi
  local cp="$LIBS_DIR/*" id
  id="$(java -cp "$cp" kafka.tools.StorageTool random-uuid 2>>"$BROKER_OUT")" || die "StorageTool random-uuid failed (see $BROKER_OUT)"
  local args=(format -t "$id" -c "$PROPS")
  (( KAFKA_MAJOR >= 4 )) && args+=(--standalone)
  if ! java -Dlog4j2.configurationFile="$LOG4J_CONF" -Dkafka.logs.dir="$DATA_DIR" \
      -cp "$cp" kafka.tools.StorageTool "${args[@]}" >>"$BROKER_OUT" 2>&1; then
    tail -n 20 "$BROKER_OUT" >&2 || true
    die "StorageTool format failed"
  fi
  echo "$KAFKA_VERSION" >"$VERSION_FILE"
}

# ---------------------------------------------------------------- readiness

node_probe_available() {
  [[ "$KAFKA_READY_CHECK" == auto ]] || return 1
  command -v node >/dev/null || return 1
  (cd "$SCRIPT_DIR/kafka" && node -e "import('kafkajs').then(()=>process.exit(0),()=>process.exit(1))") 2>/dev/null
}

# 0 = ready, 1 = timed out, 2 = process died
wait_ready() {
  local pid="$1" deadline=$(( $(date +%s) + KAFKA_START_TIMEOUT )) use_node=0 stage=log
  node_probe_available && use_node=1
  while (( $(date +%s) < deadline )); do
    kill -0 "$pid" 2>/dev/null || return 2
    case "$stage" in
      log)
        if new_log | grep -q 'Kafka Server started' && port_open "$KAFKA_PORT"; then
          (( use_node )) || return 0
          stage=node
          continue
        fi ;;
      node)
        local left=$(( deadline - $(date +%s) ))
        (( left < 1 )) && left=1
        (( left > 10 )) && left=10
        if node "$SCRIPT_DIR/kafka/ready.mjs" "$KAFKA_PORT" "$(( left * 1000 ))" >/dev/null 2>>"$BROKER_OUT"; then
          return 0
        fi ;;
    esac
    sleep 0.2
  done
  return 1
}

# ---------------------------------------------------------------- commands

kill_and_wait() {
  local pid="$1" timeout="$2" i
  kill -TERM "$pid" 2>/dev/null || return 0
  for (( i = 0; i < timeout * 10; i++ )); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  log "pid $pid still alive after ${timeout}s, sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  for (( i = 0; i < 50; i++ )); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  die "pid $pid did not exit after SIGKILL"
}

cmd_start() {
  mkdir -p "$DATA_DIR"
  exec 9>"$DATA_DIR/.lock"
  flock -w "$KAFKA_START_TIMEOUT" 9 || die "another kafka.sh is holding ${DATA_DIR#"$REPO_ROOT"/}/.lock"

  local pid
  pid="$(broker_pid)"
  if [[ -n "$pid" ]]; then
    echo "kafka already running: pid=$pid port=$KAFKA_PORT version=$(cat "$VERSION_FILE" 2>/dev/null || echo '?') (no-op)"
    return 0
  fi
  rm -f "$PID_FILE"
  for p in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"; do
    port_open "$p" && die "port $p on 127.0.0.1 is already in use by another process"
  done

  local t0
  t0="$(now_ms)"
  fetch_jars
  command -v java >/dev/null || die "java not found (Kafka needs Java 17+)"
  write_props
  : >"$BROKER_OUT"
  format_storage

  LOG_OFFSET="$(stat -c %s "$BROKER_LOG" 2>/dev/null || echo 0)"
  # Word-splitting of KAFKA_HEAP / KAFKA_JVM_OPTS is intended.
  # shellcheck disable=SC2086
  (
    cd "$DATA_DIR"
    exec 9>&-   # do not let the broker inherit (and hold) the start lock
    exec setsid nohup java $KAFKA_HEAP $KAFKA_JVM_OPTS \
      -server -Djava.awt.headless=true \
      -Dlog4j2.configurationFile="$LOG4J_CONF" -Dkafka.logs.dir="$DATA_DIR" \
      -cp "$LIBS_DIR/*" kafka.Kafka "$PROPS" </dev/null >>"$BROKER_OUT" 2>&1
  ) &
  pid=$!
  echo "$pid" >"$PID_FILE"

  local rc=0
  wait_ready "$pid" || rc=$?
  if (( rc != 0 )); then
    if (( rc == 2 )); then log "broker (pid $pid) exited during startup"; else log "broker not ready after ${KAFKA_START_TIMEOUT}s"; fi
    log "--- ERROR/FATAL lines of this run in ${BROKER_LOG#"$REPO_ROOT"/}"
    new_log | grep -E '^\[[^]]*\] (ERROR|FATAL) ' | tail -n 10 >&2 || true
    log "--- tail of ${BROKER_LOG#"$REPO_ROOT"/}"
    new_log | tail -n 25 >&2 || true
    log "--- tail of ${BROKER_OUT#"$REPO_ROOT"/}"
    tail -n 20 "$BROKER_OUT" >&2 2>/dev/null || true
    kill_and_wait "$pid" 10 || true
    rm -f "$PID_FILE"
    exit 1
  fi
  echo "kafka $KAFKA_VERSION started: pid=$pid port=$KAFKA_PORT controller=$KAFKA_CONTROLLER_PORT in $(( $(now_ms) - t0 )) ms, rss=$(rss_mb "$pid")MB, log=${BROKER_LOG#"$REPO_ROOT"/}"
}

cmd_stop() {
  local pid
  pid="$(broker_pid)"
  if [[ -z "$pid" ]]; then
    rm -f "$PID_FILE"
    echo "kafka not running (port $KAFKA_PORT)"
    return 0
  fi
  local t0
  t0="$(now_ms)"
  kill_and_wait "$pid" "$KAFKA_STOP_TIMEOUT"
  rm -f "$PID_FILE"
  echo "kafka stopped: pid=$pid port=$KAFKA_PORT in $(( $(now_ms) - t0 )) ms"
}

cmd_status() {
  local pid
  pid="$(broker_pid)"
  if [[ -n "$pid" ]]; then
    echo "kafka running: pid=$pid port=$KAFKA_PORT controller=$KAFKA_CONTROLLER_PORT version=$(cat "$VERSION_FILE" 2>/dev/null || echo '?') rss=$(rss_mb "$pid")MB"
    return 0
  fi
  echo "kafka not running (port $KAFKA_PORT)"
  return 1
}

cmd_clean() {
  cmd_stop
  rm -rf "$DATA_DIR"
  echo "kafka data removed: ${DATA_DIR#"$REPO_ROOT"/}"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  clean) cmd_clean ;;
  fetch) fetch_jars; echo "kafka $KAFKA_VERSION jars: ${LIBS_DIR#"$REPO_ROOT"/} ($(grep -c . "$LIBS_MARKER") jars)" ;;
  *) echo "usage: $0 start|stop|status|clean|fetch   (env: KAFKA_PORT KAFKA_CONTROLLER_PORT KAFKA_VERSION KAFKA_HEAP)" >&2; exit 2 ;;
esac
