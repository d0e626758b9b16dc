#!/usr/bin/env bash
# The whole of bbingest on one machine, as a new user first meets it.
#
#   tests/demo/run-demo.sh [--participants N] [--keep] [--build-dir DIR]
#
# On a fresh Debian 12 machine (root, or a user with sudo): installs the
# Debian packages that are missing and builds (tests/setup.sh), then starts
#
#   - a throwaway PostgreSQL 15 cluster in a temporary directory (Unix socket
#     only), with the roles an installation has: the daemon's login role
#     `bbingest` (granted bbingest_owner) and an analyst `analyst` (granted
#     bbingest_analyst);
#   - the Blue Button sandbox emulator (tests/sandbox) over HTTPS, with a test
#     certificate authority generated on the spot, so TLS verification stays on;
#   - the daemon, `bbingest run`;
#
# enrols N participants (default 36) through the real consent flow
# (`bbingest invite ID` -> the invitation link -> Blue Button's authorize page
# with login_hint -> /callback), waits until every participant's claims are
# synced, and prints what an analyst would look at first: claims and paid
# amounts by claim type and year, queried as the analyst role.  Then it prints
# the commands to look around.  Without --keep, everything is stopped and
# removed when the script ends (after Enter, when run from a terminal).
# --build-dir DIR uses the binaries of an existing build and skips set-up (the
# test suite runs the demo that way).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
N=36
KEEP=0
BUILD_DIR=
SYNC_TIMEOUT=${DEMO_SYNC_TIMEOUT:-600}
while [ $# -gt 0 ]; do
  case $1 in
    --participants) N=${2:?--participants needs a number}; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --build-dir) BUILD_DIR=${2:?--build-dir needs a directory}; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "run-demo.sh: unknown argument \"$1\" (try --help)" >&2; exit 64 ;;
  esac
done
case $N in ''|*[!0-9]*) echo "run-demo.sh: --participants takes a number from 1 to 9999" >&2; exit 64 ;; esac
if [ "$N" -lt 1 ] || [ "$N" -gt 9999 ]; then
  echo "run-demo.sh: --participants takes a number from 1 to 9999" >&2; exit 64
fi

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
die() { echo "run-demo.sh: $*" >&2; exit 1; }

if [ -z "$BUILD_DIR" ]; then
  say "installing what is missing and building (tests/setup.sh)"
  "$here/tests/setup.sh"
  "$here/tests/setup.sh" build -Dwerror=true -Dbuildtype=debugoptimized
  BUILD_DIR=$here/build
fi
BBINGEST=$BUILD_DIR/daemon/bbingest
BBSANDBOX=$BUILD_DIR/tests/sandbox/bbsandbox
[ -x "$BBINGEST" ] || die "the build has no $BBINGEST"
[ -x "$BBSANDBOX" ] || die "the build has no $BBSANDBOX"
PGBIN=/usr/lib/postgresql/15/bin
[ -x "$PGBIN/initdb" ] || die "PostgreSQL 15 is not installed in $PGBIN (package postgresql-15)"

work=$(mktemp -d /tmp/bbingest-demo.XXXXXX)
chmod 711 "$work"
pids=()
pg_started=0
as_pg=()                       # how to run the PostgreSQL server programs
if [ "$(id -u)" -eq 0 ]; then
  as_pg=(runuser -u postgres --)   # initdb refuses root
fi

stop_all() {
  local p
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
  if [ "$pg_started" = 1 ]; then
    "${as_pg[@]}" "$PGBIN/pg_ctl" -D "$work/pg/data" -m fast -w stop >/dev/null 2>&1 || true
    pg_started=0
  fi
}
on_exit() {
  local rc=$?
  if [ "$KEEP" = 1 ] && [ $rc -eq 0 ]; then return; fi
  stop_all
  if [ $rc -ne 0 ]; then
    echo "run-demo.sh: failed; the logs are kept in $work (daemon.log, sandbox.log, pg/log)" >&2
  else
    rm -rf "$work"
  fi
}
trap on_exit EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# ---------------------------------------------------------------- PostgreSQL
say "a throwaway PostgreSQL 15 cluster in $work/pg"
mkdir -p "$work/pg"
[ ${#as_pg[@]} -eq 0 ] || chown postgres: "$work/pg"
PGPORT=$(free_port)
"${as_pg[@]}" "$PGBIN/initdb" -D "$work/pg/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 \
  >"$work/pg/initdb.log" 2>&1 || { cat "$work/pg/initdb.log" >&2; die "initdb failed"; }
"${as_pg[@]}" "$PGBIN/pg_ctl" -D "$work/pg/data" -l "$work/pg/log" -w \
  -o "-c listen_addresses='' -c unix_socket_directories='$work/pg' -p $PGPORT" start >/dev/null ||
  { cat "$work/pg/log" >&2; die "the PostgreSQL server did not start"; }
pg_started=1
export PGHOST=$work/pg PGPORT
unset PGDATABASE PGUSER PGPASSWORD PGSERVICE
psql_super() { psql -X -q -v ON_ERROR_STOP=1 -U postgres "$@"; }
psql_super -d postgres <<'SQL'
CREATE ROLE bbingest LOGIN;                -- the daemon
CREATE ROLE bbingest_owner NOLOGIN;
CREATE ROLE bbingest_analyst NOLOGIN;
GRANT bbingest_owner TO bbingest;
CREATE DATABASE bbingest OWNER bbingest;
CREATE ROLE analyst LOGIN;                 -- an analyst
GRANT bbingest_analyst TO analyst;
SQL
echo "roles bbingest (the daemon) and analyst; database bbingest; socket $work/pg, port $PGPORT"

# ---------------------------------------------------------------- the sandbox
say "the Blue Button sandbox emulator over HTTPS, with a test CA"
"$here/tests/sandbox/make-test-ca.sh" "$work/ca"
CLIENT_ID=demo$(openssl rand -hex 18)
umask 077
openssl rand -hex 24 >"$work/client_secret"
openssl rand -hex 32 >"$work/vault.key"
umask 022
"$BBSANDBOX" --listen 127.0.0.1:0 --seed 2026 --beneficiaries "$((N + 10))" \
  --tls-cert "$work/ca/server.crt" --tls-key "$work/ca/server.key" \
  --client-id "$CLIENT_ID" --client-secret "$(cat "$work/client_secret")" \
  >"$work/sandbox.out" 2>"$work/sandbox.log" &
pids+=($!)
for _ in $(seq 1 200); do
  grep -q '^listening on ' "$work/sandbox.out" 2>/dev/null && break
  kill -0 "${pids[-1]}" 2>/dev/null || { cat "$work/sandbox.log" >&2; die "bbsandbox exited at start"; }
  sleep 0.05
done
SB=https://$(sed -n 's/^listening on //p' "$work/sandbox.out")
[ "$SB" != https:// ] || die "bbsandbox did not say where it listens"
echo "sandbox at $SB (synthetic beneficiaries BBUser00000..; CA $work/ca/ca.crt)"

# ---------------------------------------------------------------- the daemon
say "the daemon"
LPORT=$(free_port)
L=http://127.0.0.1:$LPORT
CFG=$work/bbingest.yaml
cat >"$CFG" <<EOF
# the demo's configuration (see config/bbingest.yaml for every key)
api:
  base_url: $SB
  client_id: $CLIENT_ID
  client_secret_file: $work/client_secret
  redirect_uri: $L/callback
  ca_file: $work/ca/ca.crt
database:
  conninfo: "host=$work/pg port=$PGPORT dbname=bbingest user=bbingest"
vault:
  key_file: $work/vault.key
listener:
  address: 127.0.0.1
  port: $LPORT
  public_url: $L
sync:
  concurrency: 8
  request_rate: 200
  request_burst: 50
log:
  level: info
  format: plain
EOF
"$BBINGEST" -c "$CFG" check-config
"$BBINGEST" -c "$CFG" migrate
"$BBINGEST" -c "$CFG" run 2>"$work/daemon.log" &
pids+=($!)
DAEMON_PID=${pids[-1]}
for _ in $(seq 1 300); do
  curl -s -o /dev/null "$L/healthz" && break
  kill -0 "$DAEMON_PID" 2>/dev/null || { cat "$work/daemon.log" >&2; die "bbingest run exited at start"; }
  sleep 0.05
done
for _ in $(seq 1 100); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' "$L/healthz")" = 200 ] && break
  sleep 0.1
done
echo "bbingest run: listening on $L; /healthz says: $(curl -s "$L/healthz")"

# ---------------------------------------------------------------- enrolment
say "enrolling $N participants through the consent flow"
echo "each: bbingest invite ID -> the link -> Blue Button's authorize page (login_hint) -> $L/callback"
for i in $(seq 1 "$N"); do
  id=$(printf 'P%04d' "$i")
  user=$(printf 'BBUser%05d' "$i")
  link=$("$BBINGEST" -c "$CFG" invite "$id" 2>>"$work/commands.log") ||
    { cat "$work/commands.log" >&2; die "bbingest invite $id failed"; }
  # the invitation answers with a redirect to Blue Button; the sandbox logs
  # in the beneficiary named by login_hint and approves at once
  authorize=$(curl -sS -o /dev/null -w '%{redirect_url}' "$link")
  case $authorize in "$SB/v2/o/authorize/"*) ;; *) die "the link of $id did not lead to Blue Button: [$authorize]" ;; esac
  page=$(curl -sS -L --cacert "$work/ca/ca.crt" "$authorize&login_hint=$user")
  case $page in *"enrolled"*) ;; *) die "enrolment of $id did not end on the success page: $page" ;; esac
  if [ "$i" -eq 1 ]; then
    echo "first link: ${link%%invite=*}invite=<single-use token>"
  fi
  printf '.'
done
echo
active=$(psql_super -d bbingest -Atc "SELECT count(*) FROM bb.participant WHERE state = 'active'")
echo "$active of $N participants active"
[ "$active" = "$N" ] || die "not every participant is active: $(tail -5 "$work/daemon.log")"

# ---------------------------------------------------------------- the sync
say "syncing their claims"
start=$(date +%s)
while :; do
  pending=$(psql_super -d bbingest -Atc "
    SELECT count(*) FROM bb.participant p
    WHERE p.state = 'active'
      AND (p.last_sync_at IS NULL
           OR EXISTS (SELECT 1 FROM bb.sync_cursor c
                      WHERE c.participant_id = p.participant_id AND c.next_url IS NOT NULL))")
  stats=$(psql_super -d bbingest -Atc "
    SELECT (SELECT coalesce(sum(pages), 0) FROM bb.sync_cursor) || ' pages, ' ||
           (SELECT count(*) FROM claims.eob) || ' claims, ' ||
           (SELECT count(*) FROM claims.eob_item) || ' line items'")
  line="$((N - pending))/$N participants synced; $stats"
  if [ -t 1 ]; then
    printf '\r%-78s' "$line"
  elif [ "$pending" = 0 ] || [ $(( ($(date +%s) - start) % 10 )) -eq 0 ]; then
    echo "$line"
  fi
  [ "$pending" = 0 ] && break
  kill -0 "$DAEMON_PID" 2>/dev/null || { cat "$work/daemon.log" >&2; die "the daemon exited"; }
  if [ $(( $(date +%s) - start )) -gt "$SYNC_TIMEOUT" ]; then
    [ -t 1 ] && echo
    tail -20 "$work/daemon.log" >&2
    die "the sync did not finish within $SYNC_TIMEOUT s"
  fi
  sleep 1
done
[ -t 1 ] && echo
echo "synced in $(( $(date +%s) - start )) s"
claims=$(psql_super -d bbingest -Atc "SELECT count(*) FROM claims.eob")
[ "$claims" -gt 0 ] || die "the sync finished but stored no claims: $(tail -5 "$work/daemon.log")"
errors=$(psql_super -d bbingest -Atc "SELECT count(*) FROM bb.error")
echo "errors recorded: $errors"
if [ "$errors" -gt 0 ]; then
  psql_super -d bbingest -c "SELECT kind, count(*), max(message) AS example FROM bb.error GROUP BY kind"
fi

# ---------------------------------------------------------------- the analyst
say "what an analyst sees first (psql as the role analyst)"
psql -X -U analyst -d bbingest -P footer=off -v ON_ERROR_STOP=1 <<'SQL'
\echo 'Claims and paid amounts by claim type and year of service'
\echo '(claim payment: the claim header; paid on lines: the line items'' benefit amounts, which Part D drug events carry)'
WITH lines AS (
  SELECT claim_type, extract(year FROM billable_start)::integer AS year, sum(paid) AS line_paid
  FROM claims.v_line_item GROUP BY 1, 2)
SELECT v.claim_type                                        AS "claim type",
       v.year,
       v.claims,
       v.participants,
       v.line_items                                        AS "line items",
       to_char(v.payment_amount, 'FM999,999,990.00')       AS "claim payment",
       to_char(l.line_paid, 'FM999,999,990.00')            AS "paid on lines"
FROM claims.v_claims_by_type_year v
LEFT JOIN lines l USING (claim_type, year)
ORDER BY 1, 2;
\echo
\echo 'Totals by claim type'
SELECT e.claim_type AS "claim type", count(*) AS claims,
       count(DISTINCT e.participant_id) AS participants,
       to_char(sum(e.payment_amount), 'FM999,999,990.00') AS "claim payment",
       to_char((SELECT sum(paid) FROM claims.v_line_item li WHERE li.claim_type = e.claim_type),
               'FM999,999,990.00') AS "paid on lines"
FROM claims.eob e GROUP BY e.claim_type ORDER BY 1;
SQL
denied=$(psql -X -U analyst -d bbingest -Atc "SELECT count(*) FROM bb.token" 2>&1 || true)
case $denied in
  *"permission denied"*) echo "and the analyst cannot read the tokens: $(head -1 <<<"$denied")" ;;
  *) die "the analyst role can read bb.token: $denied" ;;
esac

say "bbingest status"
"$BBINGEST" -c "$CFG" status >"$work/status.txt"
head -20 "$work/status.txt"
[ "$(wc -l <"$work/status.txt")" -le 20 ] || echo "... ($(wc -l <"$work/status.txt") lines in all)"

# ---------------------------------------------------------------- look around
say "look around"
cat <<EOF
  export PGHOST=$work/pg PGPORT=$PGPORT
  psql -U analyst bbingest                      # the analyst's view: \\dv claims.*, \\d+ claims.eob
  psql -U bbingest bbingest                     # the daemon's role: bb.participant, bb.audit, ...
  $BBINGEST -c $CFG status
  $BBINGEST -c $CFG status P0001
  $BBINGEST -c $CFG sync-now --all
  curl -s $L/healthz
  curl -s $L/metrics
  less $work/daemon.log
EOF

if [ "$KEEP" = 1 ]; then
  cat <<EOF

Everything keeps running (--keep).  To stop it and remove the files:
  kill ${pids[*]}; ${as_pg[*]} $PGBIN/pg_ctl -D $work/pg/data -m fast stop; rm -rf $work
EOF
  trap - EXIT
  exit 0
fi
if [ -t 0 ] && [ -t 1 ]; then
  echo
  read -r -p "Press Enter to stop the demo and remove $work ... " _ || true
fi
say "stopping (SIGTERM: the daemon drains and exits 0)"
kill -TERM "$DAEMON_PID"
rc=0
wait "$DAEMON_PID" || rc=$?
echo "bbingest run exited with $rc"
[ "$rc" = 0 ] || die "the daemon did not exit cleanly"
