#!/usr/bin/env bash
# A real single-node Apache Kafka 4.x broker (KRaft, combined broker+controller) on loopback,
# run from the jars Maven Central serves — no tarball, no Docker.
#
#   deploy/kafka/kafka.sh fetch          # mvn: kafka_2.13 + log4j binding into $KAFKA_JARS
#   deploy/kafka/kafka.sh start          # format storage (once) and start; returns when it answers
#   deploy/kafka/kafka.sh stop | status
#
# Env: KAFKA_HOME (data + logs, default .softcollect/kafka), KAFKA_PORT (9092),
#      KAFKA_CONTROLLER_PORT (KAFKA_PORT+1), KAFKA_PARTITIONS (6), KAFKA_HEAP (512m).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
KAFKA_JARS=${KAFKA_JARS:-$root/.softcollect/kafka-jars}
KAFKA_HOME=${KAFKA_HOME:-$root/.softcollect/kafka}
KAFKA_PORT=${KAFKA_PORT:-9092}
KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-$((KAFKA_PORT + 1))}
KAFKA_PARTITIONS=${KAFKA_PARTITIONS:-6}
KAFKA_HEAP=${KAFKA_HEAP:-512m}
pidfile=$KAFKA_HOME/broker.pid

need_java() {
  command -v java >/dev/null || { echo "kafka.sh: java not found (install openjdk-17-jre-headless)" >&2; exit 1; }
}

fetch() {
  if [ -f "$KAFKA_JARS/.complete" ] && [ "$(cat "$KAFKA_JARS/.complete")" = "$(sha256sum "$here/pom.xml" | cut -c1-64)" ]; then
    return 0
  fi
  command -v mvn >/dev/null || { echo "kafka.sh: mvn not found (install maven)" >&2; exit 1; }
  rm -rf "$KAFKA_JARS"; mkdir -p "$KAFKA_JARS"
  mvn -q -B -f "$here/pom.xml" dependency:copy-dependencies \
      -DoutputDirectory="$KAFKA_JARS" -DincludeScope=runtime
  sha256sum "$here/pom.xml" | cut -c1-64 > "$KAFKA_JARS/.complete"
}

running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

run_java() {
  java -Xmx"$KAFKA_HEAP" -Xms"$KAFKA_HEAP" -XX:+UseG1GC -Djava.awt.headless=true \
       -Dlog4j2.configurationFile="$here/log4j2.properties" -Dkafka.logs.dir="$KAFKA_HOME/logs" \
       -cp "$KAFKA_JARS/*" "$@"
}

write_config() {
  mkdir -p "$KAFKA_HOME/data" "$KAFKA_HOME/logs"
  cat > "$KAFKA_HOME/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$KAFKA_HOME/data
num.partitions=$KAFKA_PARTITIONS
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=6
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
log.retention.hours=168
PROPS
}

start() {
  need_java; fetch
  if running; then echo "kafka: already running (pid $(cat "$pidfile"), 127.0.0.1:$KAFKA_PORT)"; return 0; fi
  write_config
  if [ ! -f "$KAFKA_HOME/data/meta.properties" ]; then
    run_java kafka.tools.StorageTool format -t "$(run_java kafka.tools.StorageTool random-uuid)" \
      -c "$KAFKA_HOME/server.properties" --ignore-formatted > "$KAFKA_HOME/logs/format.log" 2>&1 \
      || { cat "$KAFKA_HOME/logs/format.log" >&2; exit 1; }
  fi
  nohup java -Xmx"$KAFKA_HEAP" -Xms"$KAFKA_HEAP" -XX:+UseG1GC -Djava.awt.headless=true \
       -Dlog4j2.configurationFile="$here/log4j2.properties" -Dkafka.logs.dir="$KAFKA_HOME/logs" \
       -cp "$KAFKA_JARS/*" kafka.Kafka "$KAFKA_HOME/server.properties" \
       > "$KAFKA_HOME/logs/stdout.log" 2>&1 < /dev/null &
  echo $! > "$pidfile"
  # Ready means a client gets metadata back, not a log line.
  for _ in $(seq 1 120); do
    if ! running; then
      echo "kafka: broker exited during start-up; last lines of its log:" >&2
      tail -n 30 "$KAFKA_HOME/logs/server.log" "$KAFKA_HOME/logs/stdout.log" >&2 2>/dev/null || true
      exit 1
    fi
    if probe; then echo "kafka: up on 127.0.0.1:$KAFKA_PORT (pid $(cat "$pidfile"))"; return 0; fi
    sleep 0.5
  done
  echo "kafka: no answer on 127.0.0.1:$KAFKA_PORT after 60 s" >&2; tail -n 30 "$KAFKA_HOME/logs/server.log" >&2; exit 1
}

probe() {
  "${PYTHON:-$root/.venv/bin/python}" - "127.0.0.1:$KAFKA_PORT" <<'PY' >/dev/null 2>&1
import asyncio, sys
from aiokafka.admin import AIOKafkaAdminClient
async def main():
    admin = AIOKafkaAdminClient(bootstrap_servers=sys.argv[1], request_timeout_ms=2000)
    await admin.start()
    try:
        await admin.describe_cluster()
    finally:
        await admin.close()
asyncio.run(asyncio.wait_for(main(), 5))
PY
}

stop() {
  if ! running; then rm -f "$pidfile"; echo "kafka: not running"; return 0; fi
  pid=$(cat "$pidfile"); kill "$pid"
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || { rm -f "$pidfile"; echo "kafka: stopped"; return 0; }; sleep 0.5; done
  kill -9 "$pid" 2>/dev/null || true; rm -f "$pidfile"; echo "kafka: killed after 30 s"
}

status() { if running; then echo "kafka: running (pid $(cat "$pidfile"), 127.0.0.1:$KAFKA_PORT)"; else echo "kafka: stopped"; return 3; fi; }

case "${1:-}" in
  fetch) fetch ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 fetch|start|stop|status" >&2; exit 2 ;;
esac
