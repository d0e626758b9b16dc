#!/usr/bin/env bash
# API faults that tests/e2e/test_sync_faults.sh and test_refresh.sh leave out:
#   - trickling bodies (512-byte pieces with pauses): slow pages are stored
#     whole; pages slower than api.timeout fail as network errors, store
#     nothing, and are fetched again once the API is quick again;
#   - a grant that expires mid-walk (thirteen-month apps) and a grant revoked
#     mid-walk (Medicare.gov): exactly the participants concerned become
#     needs_reconsent, with whole pages only and their walk's cursor kept;
#     nobody else is touched; after they consent again their walk completes
#     and every participant equals the sandbox's ground truth.
. "$BB_SOURCE_ROOT/tests/lib.sh"
. "$BB_SOURCE_ROOT/tests/e2e/lib-e2e.sh"
. "$BB_SOURCE_ROOT/tests/e2e/sync_lib.sh"

N=${CAMPAIGN_PARTICIPANTS:-12}
setup_e2e apifaults
stop_sandbox
start_sandbox 0 --grant-type thirteen-month
write_config "$CFG" "$LPORT"
sed -i "s|^  base_url: .*|  base_url: $SB|" "$CFG"
sync_config "$CFG" "$LPORT" "concurrency: 4" "request_rate: 10000" "request_burst: 1000" \
  "interval: 1h" "page_size: 10"
sed -i 's/^  timeout: .*//; s/^  token_timeout: 30s/  token_timeout: 30s\n  timeout: 3s/' "$CFG"
faults=0

echo "# trickling bodies: 512-byte pieces 2 ms apart"
set_faults trickle-ms=2
faults=$((faults + 1))
start_daemon
enrol_range 1 "$N"
wait_synced 240 "$N" "all $N participants synced through trickling bodies"
check_truth "after trickling bodies"
expect_eq "$(sql "SELECT count(*) FROM bb.error")" 0 "slow but steady pages are no error"

echo "# trickling slower than api.timeout (3 s): the pages fail whole, then succeed"
sb_admin POST /_admin/claims --data-urlencode user=BBUser00001 --data-urlencode count=40 >/dev/null
sb_admin POST /_admin/claims --data-urlencode user=BBUser00002 --data-urlencode count=40 >/dev/null
set_faults trickle-ms=400
faults=$((faults + 1))
before=$(sql "SELECT count(*) FROM claims.eob")
sync_all_now
wait_for 60 "SELECT count(*) > 0 FROM bb.error WHERE kind = 'network'" t "a trickled page ran into api.timeout"
expect_match "$(sql "SELECT message FROM bb.error WHERE kind = 'network' LIMIT 1")" "[Tt]imeout|timed out" \
  "recorded as a timeout"
expect_eq "$(sql "SELECT count(*) FROM claims.eob")" "$before" "nothing of the slow pages was stored"
set_faults trickle-ms=0
wait_synced 120 "$N" "all $N synced once the API is quick again"
check_truth "after the timeouts"

# grant_fault FAULT=N USER...: 30 new claims for each user, then a sync of
# everyone with the fault on until every walk has ended; the fault goes off
grant_fault() {
  local fault=$1 u t0
  shift
  for u in "$@"; do sb_admin POST /_admin/claims --data-urlencode "user=$(printf 'BBUser%05d' "$u")" \
    --data-urlencode count=30 >/dev/null; done
  set_faults "$fault"
  faults=$((faults + 1))
  t0=$(sql "SELECT now()")
  sync_all_now
  wait_for 120 "SELECT count(*) FROM bb.participant WHERE state = 'active'
    AND (last_sync_at IS NULL OR last_sync_at < '$t0' OR lease_owner IS NOT NULL)" 0 \
    "every walk ended (synced, or cut by the dead grant)"
  set_faults "${fault%%=*}=0"
}

# grant_state FIELD VALUE: the participants whose sandbox grant state has FIELD = VALUE
grant_state() {
  local id u
  while read -r id u; do
    if [ "$(sb_admin GET "/_admin/state?user=$u" | jq ".$1")" == "$2" ]; then echo "$id"; fi
  done <"$tmp/map" | sort
}

echo "# grants expire mid-walk (every 23rd FHIR request expires its beneficiary's grant)"
sql "DELETE FROM bb.error" >/dev/null
grant_fault expire-grant-every=23 3 4 5 6 7 8
expired=$(grant_state grant_expired true)
lost=$(sql "SELECT participant_id FROM bb.participant WHERE state = 'needs_reconsent' ORDER BY 1")
[ -n "$expired" ] || fail "no grant expired; the fault did not fire"
expect_eq "$lost" "$expired" "exactly the participants whose grant expired need re-consent ($(echo $expired))"
expect_eq "$(sql "SELECT count(*) FROM bb.token t JOIN bb.participant p USING (participant_id)
  WHERE p.state = 'needs_reconsent'")" 0 "their dead tokens are deleted"
expect_eq "$(sql "SELECT count(*) FROM bb.participant WHERE state NOT IN ('active', 'needs_reconsent')")" 0 \
  "everyone else is active"

echo "# grants revoked mid-walk (every 29th FHIR request deletes the grant)"
grant_fault revoke-grant-every=29 9 10 11 12
revoked=$(grant_state grant false)
lost2=$(sql "SELECT participant_id FROM bb.participant WHERE state = 'needs_reconsent' ORDER BY 1")
[ -n "$revoked" ] || fail "no grant was revoked; the fault did not fire"
expect_eq "$lost2" "$(printf '%s\n' $expired $revoked | sort -u)" \
  "exactly the participants whose grant was revoked (or expired before) need re-consent"
errs=$(sql "SELECT string_agg(DISTINCT kind || ': ' || left(message, 120), ' | ') FROM bb.error")
echo "# errors: $errs"
expect_eq "$(sql "SELECT count(*) FROM bb.error WHERE kind NOT IN ('no_grant', 'refresh_refused', 'http_401')")" 0 \
  "only grant errors were recorded"

echo "# whole pages only: nobody holds more than the sandbox has"
python3 "$E2E_DIR/sync_truth.py" "$SB" "$ADMIN" "$CACERT" "$tmp/map" >"$tmp/partial" 2>&1 || true
over=$(python3 - "$tmp/partial" <<'EOP'
import re, sys
over = 0
for l in open(sys.argv[1]):
    m = re.search(r"\.count: sandbox (\d+), database (\d+)$", l.strip())
    if m and int(m.group(2)) > int(m.group(1)):
        over += 1
        print(l.strip(), file=sys.stderr)
print(over)
EOP
)
expect_eq "$over" 0 "no participant holds more rows than the sandbox has (the cut walks stored whole pages)"
expect_eq "$(sql "SELECT count(*) FROM (SELECT eob_id FROM claims.eob GROUP BY 1 HAVING count(*) > 1) d")" 0 \
  "no claim stored twice"

echo "# the participants concerned consent again; their walks complete"
for id in $lost2; do
  u=$(awk -v id="$id" '$1 == id { print $2 }' "$tmp/map")
  enrol "$id" "$u"
  expect_eq "$STATUS" 200 "$id enrolled again"
done
sync_all_now
wait_synced 180 "$N" "all $N synced"
check_truth "after grant expiry and revocation mid-walk"
echo "# a grant revoked after the EOB walk completed (on Coverage), then claims land, then re-consent"
fhir() { sb_admin GET /_admin/counters | jq .fhir_requests; }
sb_admin POST /_admin/claims --data-urlencode user=BBUser00001 --data-urlencode count=30 >/dev/null
# P0001 alone is due: its sync asks 3 EOB pages (30 new claims, 10 a page), then Coverage;
# the sandbox's fault counter counts every authenticated FHIR request since its start
set_faults revoke-grant-every=$(( $(fhir) + 4 ))
faults=$((faults + 1))
"$BBINGEST" -c "$CFG" sync-now P0001 >/dev/null 2>>"$tmp/cmd.log"
wait_for 30 "SELECT state FROM bb.participant WHERE participant_id = 'P0001'" needs_reconsent \
  "P0001's grant died on its Coverage page"
set_faults revoke-grant-every=0
expect_eq "$(sql "SELECT next_url IS NULL AND completed_at > (SELECT last_sync_at FROM bb.participant
  WHERE participant_id = 'P0001') FROM bb.sync_cursor WHERE participant_id = 'P0001'
  AND resource = 'ExplanationOfBenefit'")" t "its EOB walk had completed in that sync"
sb_admin POST /_admin/claims --data-urlencode user=BBUser00001 --data-urlencode count=7 >/dev/null
enrol P0001 BBUser00001
expect_eq "$STATUS" 200 "P0001 consents again"
wait_synced 60 "$N" "all $N synced"
check_truth "the claims that landed while P0001 had no grant are fetched by its first sync after re-consent"

echo "# $faults API fault kinds injected"
stop_daemon "$DAEMON_PID"
record_tokens
scan_logs "$tmp/daemon.log" "$tmp/cmd.log"
done_testing
