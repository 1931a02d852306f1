#!/usr/bin/env bash
# Installs what softcollect needs on a fresh Debian machine, and nothing twice:
# Debian packages (Java 17, Maven, PostgreSQL) when missing, the Python virtualenv
# with every lib and service editable, and the Kafka broker jars.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

apt_missing=()
command -v java >/dev/null || apt_missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || apt_missing+=(maven)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || apt_missing+=(postgresql)
python3 -c 'import venv, ensurepip' 2>/dev/null || apt_missing+=(python3-venv)
if [ ${#apt_missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "bootstrap: missing ${apt_missing[*]}; run: sudo apt-get install -y ${apt_missing[*]}" >&2; exit 1
  fi
  echo "bootstrap: installing ${apt_missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${apt_missing[@]}" >/dev/null
  deploy/postgres/postgres.sh install  # stops the cluster the package started on its own
fi

python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || { echo "bootstrap: Python 3.11 or newer is needed (found $(python3 --version))" >&2; exit 1; }
stamp=.venv/.softcollect-installed
want=$(cat requirements-dev.txt constraints.txt libs/*/pyproject.toml services/*/pyproject.toml | sha256sum | cut -c1-64)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check --upgrade pip
  .venv/bin/pip install -q --disable-pip-version-check -c constraints.txt -r requirements-dev.txt
  echo "$want" > "$stamp"
fi

deploy/kafka/kafka.sh fetch
