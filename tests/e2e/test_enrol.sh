#!/usr/bin/env bash
# Enrolment end to end: 200 participants invited and enrolled through
# /enroll -> bbsandbox (HTTPS, test CA) -> /callback; sealed tokens that work
# at the sandbox and appear neither in the raw table bytes nor in any log;
# every refused path (unknown, used, expired invitations; denied, expired,
# replayed, forged states) with its friendly page; demographics withheld;
# a second enrolment replacing the first grant; invite and enroll-url commands.
. "$BB_SOURCE_ROOT/tests/lib.sh"
. "$BB_SOURCE_ROOT/tests/e2e/lib-e2e.sh"

N=${E2E_PARTICIPANTS:-200}
setup_e2e enrol
start_daemon

echo "# invite and enrol $N participants"
for i in $(seq 1 "$N"); do
  id=$(printf 'P%04d' "$i"); user=$(printf 'BBUser%05d' "$i")
  enrol "$id" "$user"
  [ "$STATUS" == 200 ] || fail "callback of $id answered $STATUS: $(cat "$tmp/page")"
done
pass "$N enrolments answered the success page"
expect_match "$(cat "$tmp/page")" "you are enrolled" "the success page says so"
# the first sync is queued at enrolment (next_sync_at <= now) and the sync
# engine may already have done it (last_sync_at set, next one scheduled)
wait_for 10 "SELECT count(*) FROM bb.participant WHERE state = 'active' AND next_sync_at IS NOT NULL
             AND (next_sync_at <= now() OR last_sync_at IS NOT NULL)
             AND patient_id IS NOT NULL AND demographics" "$N" \
  "$N participants are active, demographics granted, first sync queued or done"
expect_eq "$(sql "SELECT count(*) FROM bb.token WHERE octet_length(access_sealed) > 40
                  AND octet_length(refresh_sealed) > 40 AND generation = 1")" "$N" "$N sealed token pairs"
expect_eq "$(sql "SELECT patient_id FROM bb.participant WHERE participant_id = 'P0001'")" \
  "-20140000000002" "patient id recorded from the token answer (BBUser00001)"
expect_eq "$(sql "SELECT array_to_string(scopes, ' ') FROM bb.participant WHERE participant_id = 'P0001'")" \
  "launch/patient patient/Patient.rs patient/Coverage.rs patient/ExplanationOfBenefit.rs" "granted scopes recorded"
expect_eq "$(sql "SELECT count(*) FROM bb.audit WHERE event = 'enrolled'")" "$N" "one audit row per enrolment"
expect_eq "$(sql "SELECT count(*) FROM bb.invitation WHERE used_at IS NULL")" 0 "every invitation is used"
expect_eq "$(sql "SELECT count(*) FROM bb.invitation WHERE token_hash !~ '^[0-9a-f]{64}\$'")" 0 \
  "invitations are stored as SHA-256 hex only"

record_tokens
record_verifiers
expect_eq "$(wc -l <"$tmp/tokens.now")" "$N" "the sealed tokens open with the key and the participant id"
active=0
while read -r id acc ref gen; do
  [ "$(introspect "$acc")" == true ] && active=$((active + 1))
done <"$tmp/tokens.now"
expect_eq "$active" "$N" "every stored access token is live at the sandbox"
scan_table_bytes bb.token
pg_dump -a -n bb >"$tmp/bb.dump" 2>/dev/null || fail "pg_dump failed"
scan_logs "$tmp/bb.dump"

echo "# refused invitations"
get "$L/enroll?invite=$(openssl rand -hex 20)"
expect_eq "$STATUS" 404 "unknown invitation: 404"
expect_match "$(cat "$tmp/page")" "not valid" "unknown invitation page"
invite P0900
link=$LINK
get "$link"; expect_eq "$STATUS" 302 "a fresh invitation redirects to Blue Button"
expect_match "$LOCATION" "^$SB/v2/o/authorize/\\?client_id=$CLIENT_ID&redirect_uri=" "to the authorize endpoint"
expect_match "$LOCATION" "&response_type=code&state=[A-Za-z0-9_-]{43}&code_challenge=[A-Za-z0-9_-]{43}&code_challenge_method=S256&scope=launch%2Fpatient%20" \
  "with a 256-bit state, an S256 challenge and the scopes"
qparam "$LOCATION" state >>"$secrets"
get "$link"; expect_eq "$STATUS" 410 "reused invitation: 410"
expect_match "$(cat "$tmp/page")" "already used" "reused invitation page"
invite P0901
sql "UPDATE bb.invitation SET expires_at = now() - interval '1 minute' WHERE participant_id = 'P0901'" >/dev/null
get "$LINK"; expect_eq "$STATUS" 410 "expired invitation: 410"
expect_match "$(cat "$tmp/page")" "expired" "expired invitation page"
get "$L/enroll"; expect_eq "$STATUS" 400 "no invitation: 400"
expect_match "$(grep -c -i '<script' "$tmp/page" || true)" "^0$" "pages are plain HTML"

echo "# refused states"
enrol P0902 BBUser00202 bb_action=deny
expect_eq "$STATUS" 200 "denied consent: a friendly page"
expect_match "$(cat "$tmp/page")" "chose not to share" "denied page"
expect_eq "$(sql "SELECT state FROM bb.participant WHERE participant_id = 'P0902'")" invited "denied: not enrolled"
expect_eq "$(sql "SELECT detail->>'reason' FROM bb.audit WHERE participant_id = 'P0902' AND event = 'enrol_failed'")" \
  denied "denied: audit row"
enrol P0903 BBUser00203
expect_eq "$STATUS" 200 "P0903 enrolled"
replay=$CALLBACK
get "$replay"
expect_eq "$STATUS" 400 "replayed state: 400"
expect_match "$(cat "$tmp/page")" "already used" "replayed state page"
get "$L/callback?code=abc&state=$(openssl rand -hex 22)"
expect_eq "$STATUS" 400 "forged state: 400"
expect_match "$(cat "$tmp/page")" "not valid" "forged state page"
get "$L/callback?code=abc"
expect_eq "$STATUS" 400 "no state: 400"
invite P0904
get "$LINK"
sql "UPDATE bb.pending_authorization SET expires_at = now() - interval '1 second' WHERE participant_id = 'P0904'" >/dev/null
get "$LOCATION&login_hint=BBUser00204"
get "$LOCATION"
expect_eq "$STATUS" 400 "expired state: 400"
expect_match "$(cat "$tmp/page")" "took too long" "expired state page"
expect_eq "$(sql "SELECT state FROM bb.participant WHERE participant_id = 'P0904'")" invited "expired state: not enrolled"

echo "# demographics withheld"
enrol P0905 BBUser00205 bb_action=no_demographics
expect_eq "$STATUS" 200 "enrolled without demographics"
expect_eq "$(sql "SELECT demographics, 'patient/Patient.rs' = ANY(scopes) FROM bb.participant WHERE participant_id = 'P0905'")" \
  "f|f" "demographics=false, no Patient scope recorded"

echo "# enrolling again replaces the grant cleanly"
"$BBTEST_UNSEAL" "$tmp/vault.key" tokens P0003 >"$tmp/old3"
sql "UPDATE bb.token SET generation = 7 WHERE participant_id = 'P0003'" >/dev/null
enrol P0003 BBUser00003
expect_eq "$STATUS" 200 "second enrolment of P0003"
"$BBTEST_UNSEAL" "$tmp/vault.key" tokens P0003 >"$tmp/new3"
awk '{print $2; print $3}' "$tmp/new3" >>"$secrets"
read -r _ oacc oref _ <"$tmp/old3"; read -r _ nacc nref ngen <"$tmp/new3"
[ "$oacc" != "$nacc" ] && [ "$oref" != "$nref" ] || fail "P0003 kept its old tokens"
expect_eq "$ngen" 1 "new grant: generation 1"
expect_eq "$(introspect "$nacc")" true "new access token live"
expect_eq "$(introspect "$oacc")" false "old access token dead at the sandbox"
expect_eq "$(sql "SELECT count(*) FROM bb.token WHERE participant_id = 'P0003'")" 1 "one token row"
expect_eq "$(sql "SELECT count(*) FROM bb.audit WHERE participant_id = 'P0003' AND event = 'enrolled'")" 2 "two enrolment audit rows"

echo "# commands"
expect_rc 65 "invite with a bad id" -- "$BBINGEST" -c "$CFG" invite "bad id!"
expect_match "$errout" "CHECK constraint on bb.participant" "the message names the CHECK rule"
expect_rc 0 "enroll-url prints the authorize URL" -- "$BBINGEST" -c "$CFG" enroll-url P0906
expect_match "$out" "^$SB/v2/o/authorize/\\?client_id=" "an authorize URL"
qparam "$out" state >>"$secrets"
get "$out&login_hint=BBUser00206"
get "$LOCATION"
expect_eq "$STATUS" 200 "enrolment through enroll-url"
expect_eq "$(sql "SELECT state FROM bb.participant WHERE participant_id = 'P0906'")" active "P0906 active"

record_tokens
record_verifiers
stop_daemon "$DAEMON_PID"
scan_logs "$tmp/daemon.log" "$tmp/cmd.log"
expect_match "$(grep -c 'enrolled' "$tmp/daemon.log")" "^[1-9]" "the daemon logs enrolments"
done_testing
