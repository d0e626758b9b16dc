#!/usr/bin/env bash
# Two daemon instances on one database share the work through leases:
# every participant is walked by exactly one of them, no page is fetched
# twice (the sandbox's counters equal the pages stored), and the rows equal
# the sandbox's ground truth.  Then one instance is killed (SIGKILL) mid-walk:
# the other takes its participants over when their leases expire and resumes
# each walk at its stored cursor, so only the pages that were in flight are
# fetched again.
. "$BB_SOURCE_ROOT/tests/lib.sh"
. "$BB_SOURCE_ROOT/tests/e2e/lib-e2e.sh"
. "$BB_SOURCE_ROOT/tests/e2e/sync_lib.sh"

N=${E2E_PARTICIPANTS:-100}
setup_e2e syncmulti
common=("request_rate: 10000" "request_burst: 1000" "interval: 1h" "page_size: 10" "lease: 30s"
        "lease_batch: 4")
sync_config "$CFG" "$LPORT" "concurrency: 6" "${common[@]}"
LPORT_B=$(free_port)
CFG_B=$tmp/bbingest-b.yaml
sync_config "$CFG_B" "$LPORT_B" "concurrency: 6" "${common[@]}"

start_daemon "$CFG" "$tmp/daemon.log"
PID_A=$DAEMON_PID
enrol_range 1 "$N"
wait_synced 240 "$N" "instance A alone synced $N participants"
check_truth "first sync"

echo "# both instances walk everything again from scratch"
start_daemon "$CFG_B" "$tmp/daemon-b.log"
PID_B=$DAEMON_PID
sb_admin POST /_admin/counters/reset >/dev/null
: >"$tmp/mark"
la=$(wc -l <"$tmp/daemon.log"); lb=$(wc -l <"$tmp/daemon-b.log")
sql "BEGIN; TRUNCATE claims.eob, claims.patient, claims.coverage CASCADE; DELETE FROM bb.sync_cursor;
     UPDATE bb.participant SET next_sync_at = now(); COMMIT" >/dev/null
sleep 1.5
wait_synced 240 "$N" "both instances together synced $N participants"
check_truth "shared sync"
pages=$(sql "SELECT sum(pages) FROM bb.sync_cursor")
reqs=$(fhir_requests)
expect_eq "$reqs" "$pages" "no page fetched twice: $reqs requests served for $pages pages stored"
first_pages=$pages
tail -n +"$((la + 1))" "$tmp/daemon.log" | sed -n 's/.*participant \(P[0-9]*\): sync complete.*/\1/p' | sort >"$tmp/done.a"
tail -n +"$((lb + 1))" "$tmp/daemon-b.log" | sed -n 's/.*participant \(P[0-9]*\): sync complete.*/\1/p' | sort >"$tmp/done.b"
na=$(wc -l <"$tmp/done.a"); nb=$(wc -l <"$tmp/done.b")
[ "$na" -gt 0 ] && [ "$nb" -gt 0 ] || fail "both instances should have worked: A $na, B $nb"
pass "both instances worked: A synced $na participants, B $nb"
expect_eq "$(comm -12 "$tmp/done.a" "$tmp/done.b" | wc -l)" 0 "no participant was walked by both"
expect_eq "$((na + nb))" "$N" "together they walked every participant once"

echo "# instance A is killed mid-walk; B takes over at the stored cursors"
sb_admin POST /_admin/counters/reset >/dev/null
set_faults latency-ms=150
stop_daemon "$PID_B"
sql "BEGIN; TRUNCATE claims.eob, claims.patient, claims.coverage CASCADE; DELETE FROM bb.sync_cursor;
     UPDATE bb.participant SET next_sync_at = now(); COMMIT" >/dev/null
wait_for 30 "SELECT count(*) > 0 FROM bb.sync_cursor WHERE next_url IS NOT NULL" t "A is in the middle of walks"
sleep 1
kill -KILL "$PID_A"
wait "$PID_A" 2>/dev/null || true
held=$(sql "SELECT count(*) FROM bb.participant WHERE lease_owner IS NOT NULL")
[ "$held" -gt 0 ] || fail "A held no lease when killed"
pass "A was killed holding $held leases"
set_faults latency-ms=0
start_daemon "$CFG_B" "$tmp/daemon-b.log"
wait_synced 240 "$N" "B finished every walk"
check_truth "after the takeover"
pages=$(sql "SELECT sum(pages) FROM bb.sync_cursor")
expect_eq "$pages" "$first_pages" "each page stored once ($pages pages, as in the shared sync)"
reqs=$(fhir_requests)
extra=$((reqs - pages))
# pages in memory at the kill: at most sync.concurrency (6) + 2 per writer (4)
[ "$extra" -ge 0 ] && [ "$extra" -le 14 ] || fail "expected at most 14 pages (A's pages in flight or waiting for a writer) fetched twice, got $extra ($reqs requests, $pages pages)"
pass "resumed at the stored cursors: $reqs requests for $pages pages ($extra in memory at the kill fetched again)"
expect_match "$(grep -c 'sync complete' "$tmp/daemon-b.log")" "^[1-9]" "B completed A's walks"
record_tokens
scan_logs "$tmp/daemon.log" "$tmp/daemon-b.log" "$tmp/cmd.log"
done_testing
