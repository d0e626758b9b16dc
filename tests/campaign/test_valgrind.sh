#!/usr/bin/env bash
# valgrind memcheck over an end-to-end smoke run (suite valgrind, plain build
# only: the ASan build cannot run under valgrind): the daemon enrols a few
# participants through the sandbox, syncs them (EOB, Coverage, Patient pages
# through the stream, flattener and loader), refreshes their tokens, serves
# /healthz and /metrics, and drains on SIGTERM; the commands invite, status,
# sync-now, load, flatten and withdraw run too.  Every run must report no
# memory error (invalid reads or writes, uninitialised values, bad frees) and
# no definitely or indirectly lost block.
. "$BB_SOURCE_ROOT/tests/lib.sh"
. "$BB_SOURCE_ROOT/tests/e2e/lib-e2e.sh"
. "$BB_SOURCE_ROOT/tests/e2e/sync_lib.sh"

command -v valgrind >/dev/null || fail "valgrind is not installed (tests/setup.sh installs it)"
N=3
VG=(valgrind --tool=memcheck --error-exitcode=99 --leak-check=full
    --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect
    --track-origins=yes --num-callers=30 --child-silent-after-fork=yes)
runs=0

setup_e2e valgrind
sync_config "$CFG" "$LPORT" "concurrency: 2" "request_rate: 10000" "request_burst: 1000" "interval: 1h"

# vg NAME command...: one command under memcheck, its log checked
vg() {
  local name=$1 rc=0; shift
  "${VG[@]}" --log-file="$tmp/vg.$name.log" "$BBINGEST" "$@" >"$tmp/vg.$name.out" 2>>"$tmp/cmd.log" || rc=$?
  runs=$((runs + 1))
  vg_check "$name" "$rc"
}
vg_check() { # NAME EXIT
  local log=$tmp/vg.$1.log
  [ "$2" -ne 99 ] || { grep -A30 -m1 '== Invalid\|== Conditional\|== Use of\|definitely lost in\|indirectly lost in' "$log" >&2; fail "$1: valgrind found errors (log above)"; }
  grep -q "ERROR SUMMARY: 0 errors" "$log" || { tail -30 "$log" >&2; fail "$1: no clean error summary"; }
  pass "$1: memcheck clean (exit $2; $(grep -o 'total heap usage: [0-9,]* allocs' "$log" | tail -1))"
}

echo "# the daemon under memcheck"
"${VG[@]}" --log-file="$tmp/vg.daemon.log" "$BBINGEST" -c "$CFG" run 2>>"$tmp/daemon.log" &
DAEMON_PID=$!
DAEMON_PIDS+=("$DAEMON_PID")
for i in $(seq 1 600); do
  curl -s -o /dev/null "$L/healthz" && break
  kill -0 "$DAEMON_PID" 2>/dev/null || fail "the daemon exited at start: $(tail -5 "$tmp/daemon.log")"
  sleep 0.1
done
curl -s -o /dev/null "$L/healthz" || fail "the daemon under valgrind did not open its listener in 60 s"
pass "the daemon runs under valgrind"
for i in $(seq 1 "$N"); do
  id=$(printf 'P%04d' "$i"); user=$(printf 'BBUser%05d' "$i")
  extra=; [ "$i" -ne 2 ] || extra=bb_action=no_demographics
  enrol "$id" "$user" "$extra"
  expect_eq "$STATUS" 200 "$id enrolled"
  echo "$id $user${extra:+ nodemo}" >>"$tmp/map"
done
wait_synced 300 "$N" "$N participants synced under valgrind"
check_truth "under valgrind"
sql "UPDATE bb.token SET next_refresh_at = now()" >/dev/null
wait_for 120 "SELECT count(*) FROM bb.token WHERE generation = 2" "$N" "every token refreshed under valgrind"
curl -s -o /dev/null "$L/metrics" && curl -s -o /dev/null "$L/healthz" && curl -s -o /dev/null "$L/enroll?invite=bogus"
pass "healthz, metrics and a refused enrolment served"

echo "# commands under memcheck"
vg status -c "$CFG" status
vg status-one -c "$CFG" status P0001
vg sync-now -c "$CFG" sync-now --all
vg invite -c "$CFG" invite P0090
vg check-config -c "$CFG" check-config
fix=$BB_FIXTURES/sample-client/eobData.json
[ -f "$fix" ] || fail "fixture $fix is missing"
vg load -c "$CFG" load --participant P0090 "$fix"
vg flatten -c "$CFG" flatten --out "$tmp/flat" "$fix"
wait_synced 120 "$N" "synced again"
record_tokens
kill -TERM "$DAEMON_PID"
rc=0; wait "$DAEMON_PID" || rc=$?
runs=$((runs + 1))
vg_check daemon "$rc"
expect_eq "$rc" 0 "the daemon drained and exited 0"
vg withdraw -c "$CFG" withdraw --purge P0003
echo "# $runs runs under memcheck"
scan_logs "$tmp/daemon.log" "$tmp/cmd.log"
done_testing
