#!/usr/bin/env bash
# Starts or stops the throwaway PostgreSQL and Redis servers the test suite uses, on loopback only.
#   scripts/services.sh start DIR   -> writes DIR/env (OPSBOOK_TEST_PG_URL, OPSBOOK_TEST_REDIS_URL)
#   scripts/services.sh stop DIR
# initdb and pg_ctl refuse to run as root, so they run as the `postgres` system user when we are root.
set -euo pipefail
action=${1:?start or stop}
dir=$(realpath -m "${2:?state folder}")
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
[ -n "$PG_BIN" ] || PG_BIN=$(dirname "$(command -v initdb)")

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

case "$action" in
start)
  mkdir -p "$dir"
  pgdata="$dir/pg"
  pg_port=$(free_port)
  redis_port=$(free_port)
  rm -rf "$pgdata"; mkdir -p "$pgdata"
  [ "$(id -u)" = 0 ] && chown -R postgres "$dir"
  as_pg "$PG_BIN/initdb" -D "$pgdata" --auth=trust -U postgres -E UTF8 >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log"; exit 1; }
  as_pg "$PG_BIN/pg_ctl" -D "$pgdata" -l "$dir/pg.log" -w -t 60 \
    -o "-p $pg_port -k $pgdata -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300 -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all" start >/dev/null \
    || { cat "$dir/pg.log"; exit 1; }
  redis-server --port "$redis_port" --bind 127.0.0.1 --daemonize yes --pidfile "$dir/redis.pid" \
    --dir "$dir" --logfile "$dir/redis.log" --save "" --appendonly no --requirepass opsbook-test
  for _ in $(seq 50); do [ -s "$dir/redis.pid" ] && break; sleep 0.1; done
  cat >"$dir/env" <<ENV
export OPSBOOK_TEST_PG_URL=postgresql+psycopg://postgres@127.0.0.1:$pg_port/postgres
export OPSBOOK_TEST_REDIS_URL=redis://:opsbook-test@127.0.0.1:$redis_port/0
ENV
  echo "PostgreSQL on 127.0.0.1:$pg_port, Redis on 127.0.0.1:$redis_port (state in $dir)"
  ;;
stop)
  if [ -f "$dir/pg/postmaster.pid" ]; then as_pg "$PG_BIN/pg_ctl" -D "$dir/pg" -m immediate stop >/dev/null || true; fi
  if [ -f "$dir/redis.pid" ]; then kill "$(cat "$dir/redis.pid")" 2>/dev/null || true; fi
  rm -rf "$dir"
  ;;
*) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
