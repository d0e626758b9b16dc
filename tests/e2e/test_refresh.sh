#!/usr/bin/env bash
# Token refresh end to end under Blue Button's strict rotation: a scheduled
# refresh rotates every token (the old ones are dead at the sandbox); two
# daemons on one database never spend a refresh token twice; the
# rotate-then-502 hazard marks refresh_in_doubt, then needs_reconsent, for
# that participant only; a revoked grant (invalid_grant) marks only its
# participant; a daemon killed mid-call leaves a mark that the next start
# records as in doubt; invalid_client disables the app loudly.  No token,
# code or secret in any log.
. "$BB_SOURCE_ROOT/tests/lib.sh"
. "$BB_SOURCE_ROOT/tests/e2e/lib-e2e.sh"

N=${E2E_REFRESH_PARTICIPANTS:-50}
setup_e2e refresh
start_daemon
first_daemon=$DAEMON_PID

for i in $(seq 1 "$N"); do
  enrol "$(printf 'P%04d' "$i")" "$(printf 'BBUser%05d' "$i")"
  [ "$STATUS" == 200 ] || fail "enrolment $i answered $STATUS"
done
wait_for 10 "SELECT count(*) FROM bb.participant WHERE state = 'active'" "$N" "$N participants enrolled"
only_unhealthy() { sql "SELECT coalesce(string_agg(participant_id || ':' || state, ',' ORDER BY participant_id), '')
                        FROM bb.participant WHERE state <> 'active'"; }

echo "# a scheduled refresh rotates every token"
record_tokens; cp "$tmp/tokens.now" "$tmp/gen1"
sql "UPDATE bb.token SET next_refresh_at = now()" >/dev/null
wait_for 60 "SELECT count(*) FROM bb.token WHERE generation = 2" "$N" "every grant refreshed once (generation 2)"
record_tokens; cp "$tmp/tokens.now" "$tmp/gen2"
expect_eq "$(join "$tmp/gen1" "$tmp/gen2" | awk '$2 != $5 && $3 != $6' | wc -l)" "$N" "every access and refresh token changed"
dead=0; live=0
while read -r id acc ref gen; do [ "$(introspect "$acc")" == false ] && dead=$((dead + 1)); done <"$tmp/gen1"
while read -r id acc ref gen; do [ "$(introspect "$acc")" == true ] && live=$((live + 1)); done <"$tmp/gen2"
expect_eq "$dead" "$N" "every old access token is dead at the sandbox"
expect_eq "$live" "$N" "every new access token is live"
reused=0
while read -r id acc ref gen; do [ "$(refresh_status "$ref")" == 400 ] && reused=$((reused + 1)); done < <(head -10 "$tmp/gen1")
expect_eq "$reused" 10 "old refresh tokens are spent (400 at the sandbox)"
expect_eq "$(sql "SELECT count(*) FROM bb.audit WHERE event = 'refreshed' AND detail->>'reason' = 'scheduled'
                  AND detail->>'generation' = '2'")" "$N" "one audit row per refresh"
expect_eq "$(sql "SELECT count(*) FROM bb.token WHERE next_refresh_at > now() + interval '55 minutes'
                  AND refresh_reason = 'scheduled'")" "$N" "the next refresh is scheduled refresh.interval ahead"
expect_eq "$(sql "SELECT count(*) FROM bb.participant WHERE refresh_started_at IS NOT NULL")" 0 "no refresh left marked in flight"
expect_eq "$(only_unhealthy)" "" "everyone is still active"

echo "# two daemons on one database never spend a refresh token twice"
LPORT2=$(free_port)
write_config "$tmp/second.yaml" "$LPORT2"
n1_before=$(grep -c 'refreshed the tokens of participant' "$tmp/daemon.log" || true)
sb_admin POST /_admin/counters/reset >/dev/null
# slow token answers, so that both daemons are busy on the same due rows
sb_admin POST /_admin/faults -d latency-ms=500 >/dev/null
sql "UPDATE bb.token SET next_refresh_at = now()" >/dev/null
start_daemon "$tmp/second.yaml" "$tmp/daemon2.log"
second_daemon=$DAEMON_PID
wait_for 60 "SELECT count(*) FROM bb.token WHERE generation = 3" "$N" "every grant refreshed once more (generation 3)"
sb_admin POST /_admin/faults -d latency-ms=0 >/dev/null
sleep 1
expect_eq "$(sb_admin GET /_admin/counters | jq '.paths["/v2/o/token/"] // 0')" "$N" \
  "the sandbox saw exactly $N refresh calls: no token spent twice"
expect_eq "$(only_unhealthy)" "" "no participant lost its grant"
n1=$(( $(grep -c 'refreshed the tokens of participant' "$tmp/daemon.log" || true) - n1_before ))
n2=$(grep -c 'refreshed the tokens of participant' "$tmp/daemon2.log" || true)
expect_eq "$((n1 + n2))" "$N" "the two daemons' refreshes add up to $N"
if [ "$n1" -gt 0 ] && [ "$n2" -gt 0 ]; then pass "both daemons refreshed ($n1 + $n2)"; else fail "one daemon did all ($n1 + $n2)"; fi
expect_eq "$(sql "SELECT count(*) FROM bb.audit WHERE event = 'refreshed' AND detail->>'generation' = '3'")" "$N" \
  "one audit row per participant for generation 3"
stop_daemon "$second_daemon"
record_tokens

echo "# rotate-then-502: in doubt, retried once, then needs_reconsent (P0005 only)"
sb_admin POST /_admin/faults -d rotate-then-502-every=1 >/dev/null
sql "UPDATE bb.token SET next_refresh_at = now() WHERE participant_id = 'P0005'" >/dev/null
wait_for 15 "SELECT count(*) FROM bb.audit WHERE participant_id = 'P0005' AND event = 'state_changed'
             AND detail->>'to' = 'refresh_in_doubt'" 1 "P0005 marked refresh_in_doubt after the 502"
sb_admin POST /_admin/faults -d rotate-then-502-every=0 >/dev/null
wait_for 20 "SELECT state FROM bb.participant WHERE participant_id = 'P0005'" needs_reconsent \
  "the retry finds the token spent: P0005 needs_reconsent"
expect_eq "$(only_unhealthy)" "P0005:needs_reconsent" "nobody else is affected"
expect_eq "$(sql "SELECT count(*) FROM bb.token WHERE participant_id = 'P0005'")" 0 "P0005's dead tokens are deleted"
expect_eq "$(sql "SELECT string_agg(detail->>'outcome', ',' ORDER BY audit_id) FROM bb.audit
                  WHERE participant_id = 'P0005' AND event = 'refresh_failed'")" "in_doubt,grant_dead" \
  "audit: in doubt, then grant dead"
expect_match "$(cat "$tmp/daemon.log")" "P0005: a token refresh got no clear answer \\(HTTP 502\\)" "the log says what happened"

echo "# a grant revoked at Medicare.gov: invalid_grant marks P0007 only"
sb_admin POST /_admin/grant -d user=BBUser00007 -d action=revoke >/dev/null
sql "UPDATE bb.token SET next_refresh_at = now() WHERE participant_id IN ('P0007', 'P0008')" >/dev/null
wait_for 15 "SELECT state FROM bb.participant WHERE participant_id = 'P0007'" needs_reconsent "P0007 needs_reconsent"
wait_for 15 "SELECT generation FROM bb.token WHERE participant_id = 'P0008'" 4 "P0008 refreshed normally meanwhile"
expect_eq "$(only_unhealthy)" "P0005:needs_reconsent,P0007:needs_reconsent" "nobody else is affected"
expect_match "$(sql "SELECT detail->>'answer' FROM bb.audit WHERE participant_id = 'P0007' AND event = 'refresh_failed'")" \
  "HTTP 403 invalid_grant" "audit names the answer"

echo "# a daemon killed during the token call: the mark makes the next start record it in doubt"
sb_admin POST /_admin/faults -d latency-ms=4000 >/dev/null
sql "UPDATE bb.token SET next_refresh_at = now() WHERE participant_id = 'P0009'" >/dev/null
wait_for 15 "SELECT refresh_started_at IS NOT NULL FROM bb.participant WHERE participant_id = 'P0009'" t \
  "the refresh of P0009 is marked in flight before the call"
kill -KILL "$first_daemon"; wait "$first_daemon" 2>/dev/null || true
sb_admin POST /_admin/faults -d latency-ms=0 >/dev/null
expect_eq "$(sql "SELECT refresh_started_at IS NOT NULL FROM bb.participant WHERE participant_id = 'P0009'")" t \
  "the mark survives the crash"
start_daemon
wait_for 15 "SELECT count(*) FROM bb.audit WHERE participant_id = 'P0009' AND event = 'state_changed'
             AND detail->>'to' = 'refresh_in_doubt' AND detail->>'reason' = 'refresh interrupted mid-call'" 1 \
  "the next start records the interrupted refresh as in doubt"
wait_for 20 "SELECT state IN ('active', 'needs_reconsent') FROM bb.participant WHERE participant_id = 'P0009'" t \
  "the one retry settles it"
expect_eq "$(sql "SELECT count(*) FROM bb.participant WHERE participant_id NOT IN ('P0005', 'P0007', 'P0009')
                  AND state <> 'active'")" 0 "nobody else is affected"
record_tokens

echo "# invalid_client: the app is disabled, loudly, and all refreshes stop"
stop_sandbox
start_sandbox "$SB_PORT" --grant-type one-time
sql "UPDATE bb.token SET next_refresh_at = now() WHERE participant_id = 'P0010'" >/dev/null
wait_for 15 "SELECT disabled_at IS NOT NULL FROM bb.app_state" t "bb.app_state.disabled_at is set"
expect_eq "$(sql "SELECT state FROM bb.participant WHERE participant_id = 'P0010'")" active \
  "the participant keeps its grant (it is the app that is refused)"
expect_match "$(cat "$tmp/daemon.log")" "critical: Blue Button refused this application \\(HTTP 403 invalid_client\\)" \
  "a critical log line says so"
expect_eq "$(sql "SELECT count(*) FROM bb.audit WHERE event = 'app_disabled'")" 1 "an app_disabled audit row"
before=$(sql "SELECT count(*) FROM bb.audit WHERE event IN ('refreshed', 'refresh_failed')")
sql "UPDATE bb.token SET next_refresh_at = now()" >/dev/null
sleep 7
expect_eq "$(sql "SELECT count(*) FROM bb.audit WHERE event IN ('refreshed', 'refresh_failed')")" "$before" \
  "no refresh is attempted while the app is disabled"
invite P0999
get "$LINK"
expect_eq "$STATUS" 503 "enrolment is paused (503)"
stop_daemon "$DAEMON_PID"

scan_logs "$tmp/daemon.log" "$tmp/daemon2.log" "$tmp/cmd.log"
done_testing
