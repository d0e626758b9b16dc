#!/usr/bin/env bash
# Withdrawal end to end: `bbingest withdraw ID [--purge]` revokes the grant at
# the sandbox (refreshing first when the access token has expired), deletes
# the tokens, stops syncing, optionally purges the claims rows, writes audit
# rows, and is safe to repeat; a dead grant is tolerated; a sandbox that
# cannot be reached leaves the participant withdrawn with the revocation
# pending (exit 75) until a repeat succeeds.
. "$BB_SOURCE_ROOT/tests/lib.sh"
. "$BB_SOURCE_ROOT/tests/e2e/lib-e2e.sh"

setup_e2e withdraw
start_daemon
for i in 1 2 3 4 5 6; do
  enrol "W$i" "$(printf 'BBUser%05d' "$((40 + i))")"
  [ "$STATUS" == 200 ] || fail "enrolment of W$i answered $STATUS"
done
wait_for 10 "SELECT count(*) FROM bb.participant WHERE state = 'active'" 6 "6 participants enrolled"
record_tokens; cp "$tmp/tokens.now" "$tmp/before"
tok() { awk -v id="$1" -v f="$2" '$1 == id {print $f}' "$tmp/before"; }
withdraw() { expect_rc "$1" "$2" -- "$BBINGEST" -c "$CFG" withdraw "${@:3}"; echo "$errout" >>"$tmp/cmd.log"; }

# the daemon syncs W1 and W2 like everyone: wait for their claims to land
wait_for 60 "SELECT count(DISTINCT participant_id) FROM bb.sync_cursor
             WHERE participant_id IN ('W1', 'W2') AND resource = 'ExplanationOfBenefit'
               AND completed_at IS NOT NULL" 2 "W1's and W2's claims are synced"
w1_eobs=$(sql "SELECT count(*) FROM claims.eob WHERE participant_id = 'W1'")
w2_eobs=$(sql "SELECT count(*) FROM claims.eob WHERE participant_id = 'W2'")
[ "$w1_eobs" -gt 0 ] && [ "$w2_eobs" -gt 0 ] || fail "no claims synced for W1/W2 ($w1_eobs, $w2_eobs)"
pass "W1 has $w1_eobs claims, W2 has $w2_eobs"
# a purge reports the header rows it deletes: claims, patient and coverage
w2_rows=$(sql "SELECT (SELECT count(*) FROM claims.eob WHERE participant_id = 'W2')
                    + (SELECT count(*) FROM claims.patient WHERE participant_id = 'W2')
                    + (SELECT count(*) FROM claims.coverage WHERE participant_id = 'W2')")

echo "# withdraw without --purge"
withdraw 0 "withdraw W1" W1
expect_match "$out" "participant W1 is withdrawn \\(revoked" "it says the grant was revoked"
expect_eq "$(sql "SELECT state, withdrawn_at IS NOT NULL, next_sync_at IS NULL FROM bb.participant WHERE participant_id = 'W1'")" \
  "withdrawn|t|t" "W1 withdrawn, not scheduled"
expect_eq "$(sql "SELECT count(*) FROM bb.token WHERE participant_id = 'W1'")" 0 "W1's tokens are deleted"
expect_eq "$(introspect "$(tok W1 2)")" false "W1's access token is dead at the sandbox"
expect_eq "$(refresh_status "$(tok W1 3)")" 403 "W1's grant is gone at the sandbox (refresh: 403)"
expect_eq "$(sql "SELECT count(*) FROM claims.eob WHERE participant_id = 'W1'")" "$w1_eobs" "without --purge the claims stay"
expect_eq "$(sql "SELECT string_agg(event, ',' ORDER BY audit_id) FROM bb.audit WHERE participant_id = 'W1' AND event <> 'invited'")" \
  "enrolled,state_changed,state_changed,revoked,withdrawn" "audit: state change, revoked, withdrawn"
withdraw 0 "withdraw W1 again" W1
expect_match "$out" "participant W1 is withdrawn$" "the repeat is harmless"
expect_eq "$(sql "SELECT count(*) FROM bb.audit WHERE participant_id = 'W1' AND event = 'withdrawn'")" 1 \
  "the repeat adds no second withdrawal row"
expect_eq "$(introspect "$(tok W3 2)")" true "W3 is untouched"

echo "# withdraw --purge, twice"
withdraw 0 "withdraw --purge W2" --purge W2
expect_match "$out" "purged $w2_rows claims rows of participant W2" "it reports the purge"
expect_eq "$(sql "SELECT (SELECT count(*) FROM claims.eob WHERE participant_id = 'W2')
                      + (SELECT count(*) FROM claims.eob_item i JOIN claims.eob e USING (eob_id) WHERE e.participant_id = 'W2')
                      + (SELECT count(*) FROM bb.sync_cursor WHERE participant_id = 'W2')
                      + (SELECT count(*) FROM bb.token WHERE participant_id = 'W2')
                      + (SELECT count(*) FROM bb.invitation WHERE participant_id = 'W2')
                      + (SELECT count(*) FROM bb.pending_authorization WHERE participant_id = 'W2')")" 0 \
  "no claims rows (children cascade), cursors, tokens, invitations or authorizations of W2 remain"
expect_eq "$(sql "SELECT patient_id IS NULL AND scopes IS NULL FROM bb.participant WHERE participant_id = 'W2'")" t \
  "the participant row keeps no patient id"
expect_eq "$(sql "SELECT count(*) FROM claims.eob WHERE participant_id = 'W1'")" "$w1_eobs" "W1's claims are not touched"
withdraw 0 "withdraw --purge W2 again" --purge W2
expect_match "$out" "purged 0 claims rows" "the repeat purges nothing more"
expect_eq "$(sql "SELECT count(*) FROM bb.audit WHERE participant_id = 'W2' AND event = 'purged'")" 2 "each purge is audited"
withdraw 0 "withdraw --purge W1 (withdrawn before)" --purge W1
expect_eq "$(sql "SELECT count(*) FROM claims.eob WHERE participant_id = 'W1'")" 0 "W1's claims are purged later on demand"

echo "# an expired access token is refreshed first"
sql "UPDATE bb.token SET access_expires_at = now() - interval '1 minute' WHERE participant_id = 'W3'" >/dev/null
withdraw 0 "withdraw W3 (expired access token)" W3
expect_eq "$(sql "SELECT string_agg(event || ':' || coalesce(detail->>'reason', ''), ',' ORDER BY audit_id) FROM bb.audit
                  WHERE participant_id = 'W3' AND event IN ('refreshed', 'revoked')")" "refreshed:on_demand,revoked:" \
  "refreshed on demand, then revoked"
expect_eq "$(refresh_status "$(tok W3 3)")" 403 "W3's grant is gone at the sandbox"

echo "# a grant already dead at Blue Button"
sb_admin POST /_admin/grant -d user=BBUser00044 -d action=revoke >/dev/null
sql "UPDATE bb.token SET access_expires_at = now() - interval '1 minute' WHERE participant_id = 'W4'" >/dev/null
withdraw 0 "withdraw W4 (grant revoked at Medicare.gov)" W4
expect_match "$out" "already dead" "it says the grant was already dead"
expect_eq "$(sql "SELECT state FROM bb.participant WHERE participant_id = 'W4'")" withdrawn "W4 withdrawn"
expect_eq "$(sql "SELECT count(*) FROM bb.token WHERE participant_id = 'W4'")" 0 "W4's tokens are deleted"

echo "# the token service as the sync engine uses it (W6)"
"$BBTEST_TOKENS" "$CFG" W6 >"$tmp/tokens.out" 2>>"$tmp/cmd.log" || fail "bbtest-tokens failed: $(tail -3 "$tmp/cmd.log")"
expect_eq "$(sed -n 1p "$tmp/tokens.out")" "sync-call 0" "tokens_get_access never calls back from inside the call"
expect_match "$(sed -n 2p "$tmp/tokens.out")" "^store ok 1 [1-9]" "a fresh access token is answered from the store"
expect_eq "$(sed -n 3p "$tmp/tokens.out")" "coalesced ok ok 1 1 same=1" "two requests for an expired token share one refresh"
expect_eq "$(sed -n 4p "$tmp/tokens.out")" "invalidated ok" "after a 401 the next request refreshes first"
expect_eq "$(sed -n 5p "$tmp/tokens.out")" "persisting no grant" "a 401 right after that refresh: the grant is dead"
expect_eq "$(sql "SELECT string_agg(detail->>'reason' || ':' || (detail->>'generation'), ',' ORDER BY audit_id)
                  FROM bb.audit WHERE participant_id = 'W6' AND event = 'refreshed'")" "on_demand:2,invalidated:3" \
  "exactly two refreshes: on demand, then after the 401"
expect_eq "$(sql "SELECT state FROM bb.participant WHERE participant_id = 'W6'")" needs_reconsent "W6 needs_reconsent"

echo "# Blue Button unreachable: withdrawn at once, revocation pending until a repeat"
stop_sandbox
withdraw 75 "withdraw W5 with the sandbox down" W5
expect_match "$errout" "could not be revoked at Blue Button" "the message says what is left to do"
expect_match "$errout" "HINT: run \"bbingest withdraw W5\" again" "with a hint"
expect_eq "$(sql "SELECT state FROM bb.participant WHERE participant_id = 'W5'")" withdrawn "W5 withdrawn (no more syncs)"
expect_eq "$(sql "SELECT count(*) FROM bb.token WHERE participant_id = 'W5'")" 1 "W5's tokens are kept for the repeat"
start_sandbox "$SB_PORT"
# the restarted sandbox has forgotten every grant: the repeat finds it dead and finishes
withdraw 0 "withdraw W5 again once Blue Button answers" W5
expect_eq "$(sql "SELECT count(*) FROM bb.token WHERE participant_id = 'W5'")" 0 "W5's tokens are deleted now"

echo "# bad input"
withdraw 65 "withdraw an unknown participant" NOPE
expect_match "$errout" "participant NOPE does not exist" "named in the message"
withdraw 65 "withdraw a malformed id" "../x"
withdraw 64 "withdraw without an id"

record_tokens
stop_daemon "$DAEMON_PID"
scan_logs "$tmp/daemon.log" "$tmp/cmd.log"
done_testing
