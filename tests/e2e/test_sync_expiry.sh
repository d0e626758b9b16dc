#!/usr/bin/env bash
# An access token that the API refuses mid-walk (401) is refreshed through
# the token service and the page retried once, with nothing lost: the
# sandbox's access tokens live 5 s, the database is told they live an hour,
# so every participant's next sync meets a 401 on its first request.
. "$BB_SOURCE_ROOT/tests/lib.sh"
. "$BB_SOURCE_ROOT/tests/e2e/lib-e2e.sh"
. "$BB_SOURCE_ROOT/tests/e2e/sync_lib.sh"

N=${E2E_PARTICIPANTS:-20}
setup_e2e syncexpiry
stop_sandbox
start_sandbox "$SB_PORT" --expires-in 5
sync_config "$CFG" "$LPORT" "concurrency: 4" "request_rate: 10000" "request_burst: 1000" \
  "interval: 1h" "page_size: 10"
sed -i 's/^  ahead: 5m$/  ahead: 2s/' "$CFG"
grep -q '^  ahead: 2s$' "$CFG" || fail "could not set refresh.ahead"
start_daemon
enrol_range 1 "$N"
wait_synced 120 "$N" "all $N participants synced"
check_truth "first sync"

echo "# the stored access tokens die at the sandbox while bbingest believes them good"
sleep 6
sql "UPDATE bb.token SET access_expires_at = now() + interval '1 hour'" >/dev/null
sb_admin POST /_admin/counters/reset >/dev/null
for u in 2 5 9; do sb_admin POST /_admin/claims --data "user=$(printf 'BBUser%05d' $u)&count=25" >/dev/null; done
sync_all_now
sleep 1.5
wait_synced 120 "$N" "all $N participants synced again"
check_truth "after the 401s"
expect_eq "$(grep -c 'access token refused (401); retrying' "$tmp/daemon.log")" "$N" \
  "one 401 per participant, each page retried with a fresh token"
expect_eq "$(sql "SELECT count(*) FROM bb.token WHERE refresh_reason = 'invalidated'")" "$N" \
  "every token was refreshed because of the 401"
expect_eq "$(sql "SELECT count(*) FROM bb.participant WHERE state <> 'active'")" 0 "nobody lost the grant"
expect_eq "$(sql "SELECT count(*) FROM bb.error")" 0 "no errors recorded"
# the sandbox counts a user's requests once the token is accepted: the 401s are not in it
expect_eq "$(fhir_requests)" "$(( N * 3 + 3 * 2 ))" \
  "pages served: one per resource and participant, three for 25 new claims (nothing refetched)"
record_tokens
scan_logs "$tmp/daemon.log" "$tmp/cmd.log"
done_testing
