#!/usr/bin/env bash
# Starts a throw-away PostgreSQL cluster for the store tests and prints its URL.
# Usage: eval "$(bash scripts/pg-test-server.sh start)"; ...; bash scripts/pg-test-server.sh stop
# initdb refuses to run as root, so the cluster runs as the postgres user.
set -euo pipefail
PG=${CAREFILL_PG_DIR:-/tmp/carefill-pgtest}
PORT=${CAREFILL_PG_PORT:-54329}
BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
as_pg() { if [ "$(id -u)" = 0 ]; then su postgres -c "$*"; else bash -c "$*"; fi; }
case "${1:-start}" in
  start)
    if [ -z "$BIN" ]; then
      if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
      $SUDO apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >&2
      BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
    fi
    if [ -f "$PG/data/postmaster.pid" ]; then as_pg "$BIN/pg_ctl -D $PG/data -m fast stop" >&2 || true; fi
    rm -rf "$PG"; mkdir -p "$PG"
    if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$PG"; fi
    as_pg "$BIN/initdb -D $PG/data -U postgres --auth=trust -E UTF8" >/dev/null
    as_pg "$BIN/pg_ctl -D $PG/data -l $PG/log -o '-c listen_addresses=127.0.0.1 -p $PORT -k $PG' -w start" >&2
    echo "export CAREFILL_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:$PORT/postgres"
    ;;
  stop)
    [ -n "$BIN" ] && [ -d "$PG/data" ] && as_pg "$BIN/pg_ctl -D $PG/data -m fast stop" >&2 || true
    ;;
esac
