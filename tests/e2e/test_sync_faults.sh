#!/usr/bin/env bash
# Sync under faults: 429 storms, runs of 5xx, connection resets, truncated and
# malformed bodies, and claims landing mid-walk (Bundle.total changes) all
# end with every participant's rows equal to the sandbox's ground truth;
# failures back off per participant and are recorded without payloads.
. "$BB_SOURCE_ROOT/tests/lib.sh"
. "$BB_SOURCE_ROOT/tests/e2e/lib-e2e.sh"
. "$BB_SOURCE_ROOT/tests/e2e/sync_lib.sh"

N=${E2E_PARTICIPANTS:-60}
setup_e2e syncfaults
sync_config "$CFG" "$LPORT" "concurrency: 8" "request_rate: 10000" "request_burst: 1000" \
  "interval: 1h" "page_size: 20"

echo "# a mix of every fault while $N participants enrol and sync"
set_faults 429-every=7 retry-after=1 5xx-every=5 reset-every=11 truncate-every=13 \
  malformed-every=17 add-claim-every=19
start_daemon
enrol_range 1 "$N"
wait_synced 300 "$N" "all $N participants synced to idle despite the faults"
set_faults 429-every=0 5xx-every=0 reset-every=0 truncate-every=0 malformed-every=0 add-claim-every=0
check_truth "after the mixed faults"
for k in http_5xx network malformed_page; do
  n=$(sql "SELECT count(*) FROM bb.error WHERE kind = '$k'")
  [ "$n" -gt 0 ] || fail "no $k error was recorded"
  pass "$k errors recorded ($n)"
done
expect_eq "$(sql "SELECT count(*) FROM bb.error WHERE kind NOT IN ('http_5xx', 'network', 'malformed_page')")" 0 \
  "no other kind of error"
expect_eq "$(grep -c 'rate limited (429)' "$tmp/daemon.log" | tr -d ' ' | sed 's/^0$/none/;s/^[0-9]*$/some/')" some \
  "429 answers were waited out"
expect_eq "$(sql "SELECT count(*) FROM bb.error WHERE message ~ '(Bearer|\"resourceType\"|\\{)'")" 0 \
  "error messages carry no token and no payload"
expect_eq "$(grep -c 'total changed from' "$tmp/daemon.log" | sed 's/^0$/none/;s/^[0-9]*$/some/')" some \
  "walks whose total changed were started again"
expect_eq "$(sql "SELECT count(*) FROM bb.participant WHERE failures <> 0 OR backoff_until > now()")" 0 \
  "failures cleared after the successful syncs"

echo "# a run of 5xx on every request: everyone backs off, then recovers"
sb_admin POST /_admin/counters/reset >/dev/null
set_faults 5xx-every=1 5xx-status=503
sync_all_now
wait_for 30 "SELECT count(*) >= $N FROM bb.error WHERE kind = 'http_5xx' AND message LIKE '%HTTP 503%'" t \
  "every participant met a 503"
wait_for 30 "SELECT count(*) > 0 FROM bb.participant WHERE failures >= 2" t "failures counted per participant"
expect_eq "$(sql "SELECT count(*) FROM bb.participant WHERE backoff_until > now() + interval '5 seconds'")" 0 \
  "backoff stays within sync.retry_max"
set_faults 5xx-every=0
wait_synced 120 "$N" "all $N synced again after the 5xx run"
check_truth "after the 5xx run"

echo "# a 429 storm: every request refused for a while, Retry-After honoured"
set_faults 429-every=1 retry-after=2
sync_all_now
sleep 3
n429=$(grep -c 'rate limited (429); waiting 2 s' "$tmp/daemon.log" || true)
[ "$n429" -ge "$N" ] || fail "expected at least $N waits of 2 s, saw $n429"
pass "429s waited Retry-After (2 s) per participant ($n429)"
expect_eq "$(sql "SELECT count(*) FROM bb.participant WHERE failures > 0")" 0 "a 429 is not a failure"
set_faults 429-every=0
wait_synced 120 "$N" "all $N synced again after the 429 storm"
check_truth "after the 429 storm"

echo "# claims land mid-walk on every 3rd EOB search"
set_faults add-claim-every=3
sync_all_now
sleep 1.5
wait_synced 120 "$N" "all $N synced with claims landing mid-walk"
set_faults add-claim-every=0
check_truth "after claims landed mid-walk"

record_tokens
scan_logs "$tmp/daemon.log" "$tmp/cmd.log"
done_testing
