#!/usr/bin/env bash
# A real PostgreSQL server (Debian's postgresql package) in a private data directory on loopback.
#
#   deploy/postgres/postgres.sh install   # apt-get install postgresql when no server binaries exist
#   deploy/postgres/postgres.sh start     # initdb (once), start, create the role and databases
#   deploy/postgres/postgres.sh stop | status | url [DB]
#
# Env: PG_HOME (default .softcollect/postgres), PG_PORT (55432), PG_DATABASES ("softcollect").
# Auth is trust on 127.0.0.1 only: a developer and test server, never a production set-up.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
PG_HOME=${PG_HOME:-$root/.softcollect/postgres}
PG_PORT=${PG_PORT:-55432}
PG_DATABASES=${PG_DATABASES:-softcollect}
PG_USER=softcollect

# As root the server runs as 'postgres', which must reach its directory: when the checkout is
# private to root, the data lives in /tmp instead.
resolve_home() {
  [ "$(id -u)" = 0 ] || { mkdir -p "$PG_HOME"; return 0; }
  id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
  mkdir -p "$PG_HOME"; chown postgres "$PG_HOME"
  if ! runuser -u postgres -- test -w "$PG_HOME"; then
    PG_HOME=/tmp/softcollect-postgres-$PG_PORT; mkdir -p "$PG_HOME"; chown postgres "$PG_HOME"
  fi
}
resolve_home

bindir() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$d" ] && [ -x "$d/initdb" ] && echo "$d"
}

install() {
  [ -n "$(bindir)" ] && return 0
  [ "$(id -u)" = 0 ] || { echo "postgres.sh: PostgreSQL is not installed; run: sudo apt-get install -y postgresql" >&2; exit 1; }
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq postgresql >/dev/null
  # The package starts a cluster of its own on 5432; ours runs in its own directory, so stop that one.
  command -v pg_ctlcluster >/dev/null && pg_lsclusters -h 2>/dev/null | while read -r ver name _; do
    pg_ctlcluster "$ver" "$name" stop 2>/dev/null || true; done
  [ -n "$(bindir)" ] || { echo "postgres.sh: install failed" >&2; exit 1; }
}

# PostgreSQL refuses to run as root: as root, run it as the 'postgres' system user.
as_owner() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

running() { [ -n "$(bindir)" ] && as_owner "$(bindir)/pg_ctl" -D "$PG_HOME/data" status >/dev/null 2>&1; }

start() {
  install
  local bin; bin=$(bindir)
  if running; then echo "postgres: already running on 127.0.0.1:$PG_PORT"; else
    if [ ! -f "$PG_HOME/data/PG_VERSION" ]; then
      as_owner "$bin/initdb" -D "$PG_HOME/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$PG_HOME/initdb.log" 2>&1 \
        || { cat "$PG_HOME/initdb.log" >&2; exit 1; }
    fi
    as_owner "$bin/pg_ctl" -D "$PG_HOME/data" -l "$PG_HOME/server.log" -w -t 60 \
      -o "-p $PG_PORT -k $PG_HOME -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null \
      || { tail -n 30 "$PG_HOME/server.log" >&2; exit 1; }
    echo "postgres: up on 127.0.0.1:$PG_PORT"
  fi
  psql_admin -tAc "SELECT 1 FROM pg_roles WHERE rolname='$PG_USER'" | grep -q 1 \
    || psql_admin -qc "CREATE ROLE $PG_USER LOGIN CREATEDB"
  for db in $PG_DATABASES; do
    psql_admin -tAc "SELECT 1 FROM pg_database WHERE datname='$db'" | grep -q 1 \
      || psql_admin -qc "CREATE DATABASE $db OWNER $PG_USER"
  done
}

psql_admin() { as_owner "$(bindir)/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres "$@"; }

stop() {
  if running; then as_owner "$(bindir)/pg_ctl" -D "$PG_HOME/data" -m fast -w stop >/dev/null; echo "postgres: stopped"
  else echo "postgres: not running"; fi
}

status() { if running; then echo "postgres: running on 127.0.0.1:$PG_PORT"; else echo "postgres: stopped"; return 3; fi; }

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  url) echo "postgresql+asyncpg://$PG_USER@127.0.0.1:$PG_PORT/${2:-softcollect}" ;;
  *) echo "usage: $0 install|start|stop|status|url [DB]" >&2; exit 2 ;;
esac
