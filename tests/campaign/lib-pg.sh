# A private PostgreSQL 15 cluster in a directory of our own, which a test may
# stop, restart and reconfigure at will (the shared pg_virtualenv cluster of
# tests/run-all.sh must not be stopped under the other tests).  Source it
# from bash; it needs no other helper.
#
#   pg_private_init DIR [postgres -c options...]   initdb + start; exports PGHOST/PGPORT/PGUSER
#   pg_private_stop [MODE]                          pg_ctl stop (fast by default)
#   pg_private_start [postgres -c options...]       start again (same port and socket)
#   pg_private_kill                                 SIGKILL the postmaster (a crash)
#   pg_private_cleanup                              stop if running (for EXIT traps)

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PG_DIR=
PG_OPTS=()
pg_as=()
[ "$(id -u)" -ne 0 ] || pg_as=(runuser -u postgres --)   # initdb and postgres refuse root

pg_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

pg_private_start() {
  local extra=() o
  for o in "${PG_OPTS[@]}" "$@"; do extra+=(-c "$o"); done
  if ! "${pg_as[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w -t 60 \
      -o "-c listen_addresses='' -c unix_socket_directories='$PG_DIR' -p $PGPORT ${extra[*]}" \
      start >/dev/null; then
    tail -20 "$PG_DIR/log" >&2
    echo "the private PostgreSQL server did not start" >&2
    return 1
  fi
}

pg_private_init() {
  PG_DIR=$1; shift
  PG_OPTS=("$@")
  [ -x "$PG_BIN/initdb" ] || { echo "PostgreSQL 15 is not installed in $PG_BIN" >&2; return 1; }
  mkdir -p "$PG_DIR"
  chmod 711 "$(dirname "$PG_DIR")" "$PG_DIR"
  [ ${#pg_as[@]} -eq 0 ] || chown postgres: "$PG_DIR"
  "${pg_as[@]}" "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 \
    >"$PG_DIR/initdb.log" 2>&1 || { cat "$PG_DIR/initdb.log" >&2; return 1; }
  PGPORT=$(pg_free_port)
  export PGHOST=$PG_DIR PGPORT PGUSER=postgres
  unset PGDATABASE PGPASSWORD PGSERVICE
  pg_private_start
}

pg_private_stop() {
  local mode=${1:-fast}
  "${pg_as[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m "$mode" -w -t 60 stop >/dev/null
}

pg_private_kill() {
  local pid
  pid=$(head -1 "$PG_DIR/data/postmaster.pid")
  kill -KILL "$pid"
  while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
  # the backends notice the postmaster is gone and exit; wait for them
  sleep 0.5
}

pg_private_running() {
  [ -n "$PG_DIR" ] && "${pg_as[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" status >/dev/null 2>&1
}

pg_private_cleanup() {
  if pg_private_running; then
    "${pg_as[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
}
