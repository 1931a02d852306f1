#!/usr/bin/env bash
# The whole test suite against a real Kafka broker and a real PostgreSQL server, both
# started here on ports of their own (so a running `softcollect stack` is left alone)
# and stopped afterwards, whatever the outcome. Extra arguments go to pytest.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
deploy/bootstrap.sh

export KAFKA_HOME="$root/.softcollect/test/kafka" KAFKA_PORT=${TEST_KAFKA_PORT:-19092}
export PG_HOME="$root/.softcollect/test/postgres" PG_PORT=${TEST_PG_PORT:-55433} PG_DATABASES="softcollect_test"
# A fresh broker and database every run: no state leaks from one run into the next.
deploy/kafka/kafka.sh stop >/dev/null 2>&1 || true
deploy/postgres/postgres.sh stop >/dev/null 2>&1 || true
rm -rf "$root/.softcollect/test" /tmp/softcollect-postgres-"$PG_PORT"
cleanup() { deploy/kafka/kafka.sh stop || true; deploy/postgres/postgres.sh stop || true; }
trap cleanup EXIT

deploy/kafka/kafka.sh start
deploy/postgres/postgres.sh start

export KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:$KAFKA_PORT"
export SOFTCOLLECT_TEST_DATABASE_URL="$(deploy/postgres/postgres.sh url softcollect_test)"
export SOFTCOLLECT_REQUIRE_INFRA=1   # a missing broker or database fails the run, never skips
.venv/bin/python -m pytest "$@"
