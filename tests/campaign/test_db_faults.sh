#!/usr/bin/env bash
# Database faults mid-sync, on a private PostgreSQL cluster this test may stop:
# the server stopped (fast, then immediate: a crash with recovery) and started
# again, every connection slot taken by other sessions, and statements that
# hit statement_timeout.  Each time the daemon keeps running, /healthz says
# degraded (503 with the reason) while the database is away, the work resumes
# by itself, and the claims tables end equal to the sandbox's ground truth
# (nothing lost, nothing duplicated).
. "$BB_SOURCE_ROOT/tests/lib.sh"
. "$BB_SOURCE_ROOT/tests/e2e/lib-e2e.sh"
. "$BB_SOURCE_ROOT/tests/e2e/sync_lib.sh"
. "$BB_SOURCE_ROOT/tests/campaign/lib-campaign.sh"

N=${CAMPAIGN_PARTICIPANTS:-24}
MAXCONN=30
campaign_pg "max_connections=$MAXCONN" "superuser_reserved_connections=3"
setup_e2e dbfaults
sync_config "$CFG" "$LPORT" "concurrency: 4" "request_rate: 10000" "request_burst: 1000" \
  "interval: 1h" "page_size: 5"
set_faults latency-ms=150
start_daemon
PID=$DAEMON_PID
faults=0

outage() { # MODE: stop the server mid-sync, check degraded, start it again
  local mode=$1 before
  before=$(pages_stored)
  echo "# the server stopped ($mode) mid-sync after $before pages"
  pg_private_stop "$mode"
  faults=$((faults + 1))
  wait_health 20 '^503 database: ' "/healthz says the database is away"
  sleep 3
  alive "$PID" "the daemon keeps running while the server is down"
  get "$LINK"
  expect_match "$STATUS" '^(4|5)[0-9][0-9]$' "an enrolment link is answered with an error page, not a crash"
  pg_private_start
  wait_health 90 '^200 ok' "/healthz is ok again once the server is back"
}

echo "# enrol $N participants; their first syncs start at once"
enrol_range 1 "$N"
wait_pages 15 120
outage fast
wait_pages $(( $(pages_stored) + 15 )) 120
outage immediate
wait_synced 300 "$N" "all $N participants synced to idle after the two outages"
set_faults latency-ms=0
check_truth "after the server was stopped twice mid-sync"
expect_eq "$(grep -c 'lost the database connection' "$tmp/daemon.log")" 2 \
  "the loss of the loop's connection is logged once per outage"
expect_eq "$(grep -c 'database connection re-established' "$tmp/daemon.log")" 2 \
  "and its recovery once"
n=$(wc -l <"$tmp/daemon.log")
[ "$n" -lt 2000 ] || fail "the daemon wrote $n log lines: a flood"
pass "the log stays readable ($n lines in all)"

echo "# every connection slot taken by other sessions"
for u in 1 2 3 4 5 6; do sb_admin POST /_admin/claims --data-urlencode "user=$(printf 'BBUser%05d' "$u")" \
  --data-urlencode count=12 >/dev/null; done
set_faults latency-ms=150
PGUSER=postgres sql "ALTER ROLE bbd NOLOGIN" >/dev/null
PGUSER=postgres sql "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = 'bbd'" >/dev/null
# pg_terminate_backend only signals: wait until the daemon's sessions are gone
for i in $(seq 1 100); do
  [ "$(PGUSER=postgres sql "SELECT count(*) FROM pg_stat_activity WHERE usename = 'bbd'")" = 0 ] && break
  sleep 0.1
done
fillers=()
add_filler() {
  psql -X -q -U filler -d postgres -c "SELECT pg_sleep(600)" >/dev/null 2>&1 &
  fillers+=($!)
}
# A first estimate of the free slots, then top up: every connection (our own
# monitoring queries, the daemon's refused reconnects) holds a slot while it
# lives, so a count taken once can be off.  Filled means a non-superuser probe
# is refused three times in a row.
used=$(PGUSER=postgres sql "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'")
for i in $(seq 1 $((MAXCONN - 3 - used))); do add_filler; done
refused=0
for i in $(seq 1 200); do
  sleep 0.3
  if probe=$(psql -X -q -U filler -d postgres -Atc "SELECT 1" 2>&1); then
    refused=0
    add_filler
  elif grep -Eq 'too many clients|connection slots are reserved' <<<"$probe"; then
    refused=$((refused + 1))
    [ "$refused" -ge 3 ] && break
  else
    fail "a filler probe failed for another reason: $probe"
  fi
done
[ "$refused" -ge 3 ] || fail "could not take every connection slot (${#fillers[@]} fillers)"
echo "# ${#fillers[@]} sessions hold every connection slot a non-superuser may use"
PGUSER=postgres sql "ALTER ROLE bbd LOGIN" >/dev/null
faults=$((faults + 1))
expect_rc 69 "a command cannot connect either (exit 69)" -- "$BBINGEST" -c "$CFG" sync-now --all
expect_match "$errout" 'too many clients|connection slots are reserved' "it says why"
wait_health 20 '^503 database: .*(too many clients|connection slots are reserved)' "/healthz says the connection slots are full"
sleep 3
alive "$PID" "the daemon keeps running without a connection slot"
PGUSER=postgres sql "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = 'filler'" >/dev/null
for p in "${fillers[@]}"; do kill "$p" 2>/dev/null || true; done
for p in "${fillers[@]}"; do wait "$p" 2>/dev/null || true; done
pass "the other sessions ended"
wait_health 90 '^200 ok' "/healthz is ok again"
sync_all_now
wait_synced 300 "$N" "all $N synced again after the connection limit"

echo "# statements hit statement_timeout (a long lock on the claims tables)"
for u in 7 8 9 10; do sb_admin POST /_admin/claims --data-urlencode "user=$(printf 'BBUser%05d' "$u")" \
  --data-urlencode count=12 >/dev/null; done
PGUSER=postgres sql "ALTER ROLE bbd SET statement_timeout = '1s'" >/dev/null
PGUSER=postgres sql "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = 'bbd'" >/dev/null
wait_health 60 '^200 ok' "the daemon reconnected with the statement timeout in force"
errs_before=$(sql "SELECT count(*) FROM bb.error WHERE kind = 'database'")
PGUSER=postgres psql -X -q -c "BEGIN; LOCK TABLE claims.eob IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(8); COMMIT" \
  >/dev/null 2>&1 &
locker=$!
sleep 0.5
sync_all_now
faults=$((faults + 1))
wait "$locker"
n=$(sql "SELECT count(*) FROM bb.error WHERE kind = 'database' AND message LIKE '%statement timeout%'")
[ "$n" -gt 0 ] || fail "no page met the statement timeout (errors: $(sql "SELECT count(*) FROM bb.error WHERE kind = 'database'") database, $errs_before before)"
pass "pages met the statement timeout and were not stored ($n)"
alive "$PID" "the daemon keeps running"
wait_synced 300 "$N" "all $N synced after the lock was gone"
PGUSER=postgres sql "ALTER ROLE bbd RESET statement_timeout" >/dev/null
set_faults latency-ms=0
check_truth "after the connection limit and the statement timeouts"
expect_eq "$(sql "SELECT count(*) FROM bb.participant WHERE state <> 'active'")" 0 "nobody lost a grant"
echo "# $faults database faults injected"

stop_daemon "$PID"
pass "the daemon stops cleanly (exit 0)"
record_tokens
scan_logs "$tmp/daemon.log" "$tmp/cmd.log" "$tmp/pg/log"
done_testing
