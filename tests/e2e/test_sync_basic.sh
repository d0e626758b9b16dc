#!/usr/bin/env bash
# Sync end to end: N participants enrolled through /enroll sync to idle and
# every one's rows equal the sandbox's ground truth (counts and exact amount
# sums per table); demographics withheld -> no Patient request, no row;
# claims added later arrive on the next sync and nothing else is refetched;
# status and sync-now; no token in any log.
. "$BB_SOURCE_ROOT/tests/lib.sh"
. "$BB_SOURCE_ROOT/tests/e2e/lib-e2e.sh"
. "$BB_SOURCE_ROOT/tests/e2e/sync_lib.sh"

N=${E2E_PARTICIPANTS:-200}
setup_e2e syncbasic
sync_config "$CFG" "$LPORT" "concurrency: 16" "request_rate: 10000" "request_burst: 1000" "interval: 1h"
start_daemon

echo "# enrol $N participants (every 10th withholds demographics) while the daemon syncs"
enrol_range 1 "$N" 10
wait_synced 240 "$N" "all $N participants synced to idle"
check_truth "first full sync"
expect_eq "$(sql "SELECT count(*) FROM bb.participant WHERE demographics = false")" "$((N / 10))" \
  "withheld demographics recorded"
expect_eq "$(sql "SELECT count(*) FROM bb.sync_cursor WHERE resource = 'Patient'")" "$((N - N / 10))" \
  "Patient is walked only where granted"
expect_eq "$(sql "SELECT count(*) FROM bb.sync_cursor WHERE watermark IS NULL OR next_url IS NOT NULL")" 0 \
  "every walk completed with a watermark"
expect_eq "$(sql "SELECT count(*) FROM bb.error")" 0 "no errors recorded"
echo "# /metrics counts the rows stored, per table (each page was stored once)"
metrics=$(curl -s --max-time 10 "http://127.0.0.1:$LPORT/metrics")
for t in $(sql "SELECT tablename FROM pg_tables WHERE schemaname = 'claims' ORDER BY 1"); do
  got=$(printf '%s\n' "$metrics" | sed -n "s/^bbingest_rows_loaded_total{table=\"$t\"} //p")
  expect_eq "${got:-0}" "$(sql "SELECT count(*) FROM claims.$t")" "bbingest_rows_loaded_total for claims.$t"
done
pages=$(sql "SELECT sum(pages) FROM bb.sync_cursor")
claims=$(sql "SELECT count(*) FROM claims.eob")
expected_pages=$(sql "SELECT sum(greatest(1, ceil(n / 50.0)))::int FROM (
  SELECT p.participant_id, count(e.eob_id) n FROM bb.participant p
  LEFT JOIN claims.eob e USING (participant_id) GROUP BY 1) x")
expected_pages=$((expected_pages + N + N - N / 10))
expect_eq "$pages" "$expected_pages" "pages stored = EOB pages of 50 + one Coverage and one Patient page each"
reqs=$(fhir_requests)
expect_eq "$reqs" "$pages" "the sandbox served exactly one request per stored page ($reqs)"

echo "# status"
expect_rc 0 "status" -- "$BBINGEST" -c "$CFG" status
expect_match "$out" "active +$N +0 +0 +0" "summary: $N active, none due, none backing off or syncing"
expect_rc 0 "status P0001" -- "$BBINGEST" -c "$CFG" status P0001
expect_match "$out" "claims.eob +[1-9]" "rows per table for P0001"
expect_match "$out" "ExplanationOfBenefit +complete" "P0001's EOB walk is complete"

echo "# claims added at the sandbox arrive on the next sync; nothing else is refetched"
sb_admin POST /_admin/counters/reset >/dev/null
t0=$(sql "SELECT now()")
for u in 3 7 150; do
  sb_admin POST /_admin/claims --data "user=$(printf 'BBUser%05d' $u)&count=60" >/dev/null
done
sb_admin POST /_admin/claims --data "user=BBUser00011&count=2" >/dev/null
sync_all_now
sleep 1.5
wait_synced 120 "$N" "all $N participants synced again"
check_truth "after claims were added"
reqs=$(fhir_requests)
# each participant: one EOB page (two for the three with 60 new claims), one Coverage, one Patient
big=$(( (N >= 150) + (N >= 7) + (N >= 3) ))
expect_eq "$reqs" "$(( N + big + N + N - N / 10 ))" "incremental sync: one request per resource, two for 60 new claims"
added=$(( 60 * big + 2 * (N >= 11) ))
expect_eq "$(sql "SELECT count(*) FROM claims.eob WHERE fetched_at >= '$t0'")" "$added" \
  "only the $added new claims were stored again"

echo "# no token in the logs"
record_tokens
scan_logs "$tmp/daemon.log" "$tmp/cmd.log"
done_testing
