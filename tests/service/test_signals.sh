#!/usr/bin/env bash
# Signals under load, against the sandbox (HTTPS) and a real PostgreSQL, with
# pages in flight (the sandbox answers slowly):
#   - SIGHUP in the middle of the sync reloads without disturbing it;
#   - SIGTERM: no new work, the pages in flight are finished, exit 0 within
#     the drain bound; the database holds whole pages only;
#   - a second SIGTERM: exit at once (well before the slow answers arrive),
#     still whole pages only;
#   - restarted, the daemon completes the sync and every participant's rows
#     equal the sandbox's ground truth: nothing lost, nothing twice.
. "$BB_SOURCE_ROOT/tests/lib.sh"
. "$BB_SOURCE_ROOT/tests/e2e/lib-e2e.sh"
. "$BB_SOURCE_ROOT/tests/e2e/sync_lib.sh"

N=12
BENES=30
PAGE=5
setup_e2e signals
sync_config "$CFG" "$LPORT" "concurrency: 6" "request_rate: 10000" "request_burst: 1000" \
  "interval: 1h" "page_size: $PAGE"
set_faults latency-ms=400

# whole pages only: in every completed or running walk of EOBs, the rows
# stored are exactly the pages counted in the cursor (full pages of PAGE,
# the last one short), and every claim has its line items
check_whole_pages() {
  local bad
  bad=$(sql "
    SELECT string_agg(c.participant_id || ': ' || coalesce(n.eobs, 0) || ' EOBs for ' || c.pages || ' pages', '; ')
    FROM bb.sync_cursor c
    LEFT JOIN (SELECT participant_id, count(*) eobs FROM claims.eob GROUP BY 1) n USING (participant_id)
    WHERE c.resource = 'ExplanationOfBenefit'
      AND NOT (coalesce(n.eobs, 0) BETWEEN greatest(c.pages - 1, 0) * $PAGE + (c.pages > 0)::int
                                       AND c.pages * $PAGE)")
  expect_eq "$bad" "" "$1: the EOB rows of every participant are whole pages"
  expect_eq "$(sql "SELECT count(*) FROM claims.eob e WHERE NOT EXISTS
                    (SELECT 1 FROM claims.eob_item i WHERE i.eob_id = e.eob_id)")" "0" \
    "$1: every stored claim has its line items"
}

inflight() { curl -s "$L/metrics" | sed -n 's/^bbingest_inflight_transfers //p'; }
wait_inflight() { # WHAT
  local i n
  for i in $(seq 1 200); do
    n=$(inflight); [ "${n:-0}" -gt 0 ] && { pass "$1 ($n requests in flight)"; return 0; }
    sleep 0.05
  done
  fail "$1: nothing in flight"
}

echo "# enrol $N participants; the sync starts at once, slowly"
start_daemon
enrol_range 1 "$N"
wait_inflight "the sync is under way"

echo "# SIGHUP during the sync"
sed -i "s/^  concurrency: 6$/  concurrency: 4/" "$CFG"
kill -HUP "$DAEMON_PID"
for _ in $(seq 1 50); do grep -q 'configuration reloaded' "$tmp/daemon.log" && break; sleep 0.1; done
expect_match "$(cat "$tmp/daemon.log")" "configuration reloaded" "SIGHUP reloads while pages are in flight"
wait_inflight "the sync goes on after the reload"

echo "# SIGTERM: drain"
pages_before=$(sql "SELECT coalesce(sum(pages), 0) FROM bb.sync_cursor")
t0=$(date +%s.%N)
kill -TERM "$DAEMON_PID"
st=0; wait "$DAEMON_PID" || st=$?
t1=$(date +%s.%N)
expect_eq "$st" "0" "SIGTERM: exit 0"
secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
expect_eq "$(awk -v s="$secs" 'BEGIN { print (s < 30) }')" "1" "the drain ended within its 30 s bound ($secs s)"
expect_match "$(cat "$tmp/daemon.log")" "stop signal: finishing the [1-9][0-9]* requests in flight" \
  "the log says the drain started with requests in flight"
expect_match "$(cat "$tmp/daemon.log")" "drained: nothing in flight" "and that it ended with nothing in flight"
pages_after=$(sql "SELECT coalesce(sum(pages), 0) FROM bb.sync_cursor")
echo "# pages: $pages_before before SIGTERM, $pages_after after"
check_whole_pages "after SIGTERM"
expect_eq "$(sql "SELECT count(*) FROM bb.participant WHERE lease_owner IS NOT NULL AND lease_until > now()")" "0" \
  "no lease is left held"

echo "# a second SIGTERM: at once"
set_faults latency-ms=4000
start_daemon "$CFG" "$tmp/daemon2.log"
wait_inflight "the second daemon has requests in flight"
t0=$(date +%s.%N)
kill -TERM "$DAEMON_PID"
sleep 0.2
kill -TERM "$DAEMON_PID"
st=0; wait "$DAEMON_PID" || st=$?
t1=$(date +%s.%N)
secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
expect_eq "$st" "0" "second SIGTERM: exit 0"
expect_eq "$(awk -v s="$secs" 'BEGIN { print (s < 3.5) }')" "1" \
  "it exits at once, before the 4 s answers arrive ($secs s)"
expect_match "$(cat "$tmp/daemon2.log")" "second stop signal: abandoning [0-9]+ requests in flight" \
  "the log says what was abandoned"
check_whole_pages "after the second SIGTERM"

echo "# restarted, the sync completes and equals the ground truth"
set_faults latency-ms=0
start_daemon "$CFG" "$tmp/daemon3.log"
sync_all_now
wait_synced 180 "$N" "all $N participants synced to idle after the restarts"
check_truth "after SIGHUP, SIGTERM and a second SIGTERM mid-sync"
stop_daemon "$DAEMON_PID"
scan_logs "$tmp/daemon.log" "$tmp/daemon2.log" "$tmp/daemon3.log" "$tmp/cmd.log"
done_testing
