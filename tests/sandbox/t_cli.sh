#!/usr/bin/env bash
# Command line: --help documents every option, bad options exit 64 with a
# message, truth prints JSON, unknown users exit 65, port 0 is announced.
source "$(dirname "$0")/lib.sh"

"$BBSANDBOX" --help >"$TMP/help"
for opt in --listen --seed --beneficiaries --profile --tls-cert --tls-key --client-id --client-secret \
           --redirect-uri --grant-type --expires-in --code-ttl --admin-token --latency-ms --429-every \
           --retry-after --5xx-every --5xx-status --truncate-every --malformed-every --reset-every \
           --trickle-ms --rotate-then-502-every --add-claim-every --revoke-grant-every --expire-grant-every \
           --rate-limit login_hint bb_action; do
  grep -q -- "$opt" "$TMP/help" || fail "--help does not mention $opt"
done
ok "--help documents every option, login_hint and bb_action"

st=0; "$BBSANDBOX" --5xx-status 404 2>"$TMP/err" || st=$?
check "bad fault value exits 64" 64 "$st"
grep -q 'expected an integer from 500 to 503' "$TMP/err" || fail "message: $(cat "$TMP/err")"
ok "bad fault value says what is allowed"
st=0; "$BBSANDBOX" --grant-type forever 2>"$TMP/err" || st=$?
check "bad grant type exits 64" 64 "$st"
st=0; "$BBSANDBOX" --no-such-option 2>"$TMP/err" || st=$?
check "unknown option exits 64" 64 "$st"
st=0; "$BBSANDBOX" --listen nowhere 2>"$TMP/err" || st=$?
check "bad --listen exits 64" 64 "$st"

"$BBSANDBOX" truth BBUser00003 --seed 5 --beneficiaries 10 >"$TMP/truth"
check "truth names the user" BBUser00003 "$(jq -r .username "$TMP/truth")"
check "truth names the patient" -20140000000004 "$(jq -r .patient "$TMP/truth")"
check "truth counts add up by type" "$(jq '.eob.count' "$TMP/truth")" "$(jq '[.eob.by_type[]] | add' "$TMP/truth")"
check "active + cancelled = count" "$(jq '.eob.count' "$TMP/truth")" "$(jq '.eob.active + .eob.cancelled' "$TMP/truth")"
st=0; "$BBSANDBOX" truth BBUser00010 --beneficiaries 10 2>"$TMP/err" || st=$?
check "truth for a user outside the world exits 65" 65 "$st"
grep -q 'BBUser00009' "$TMP/err" || fail "hint missing: $(cat "$TMP/err")"
ok "truth error gives the range of names"

# claims per beneficiary: median about 32, tail up to 80 (normal profile)
for i in $(seq 0 199); do
  "$BBSANDBOX" truth "$(printf 'BBUser%05d' "$i")" --seed 11 --beneficiaries 200 | jq .eob.count
done | sort -n >"$TMP/counts"
median=$(sed -n '100p' "$TMP/counts"); max=$(tail -1 "$TMP/counts"); min=$(head -1 "$TMP/counts")
[ "$median" -ge 25 ] && [ "$median" -le 40 ] || fail "median claims $median not about 32"
[ "$max" -le 80 ] && [ "$max" -ge 60 ] || fail "max claims $max: expected a tail up to 80"
[ "$min" -ge 5 ] || fail "min claims $min"
ok "claims per beneficiary: min $min, median $median, max $max"
heavy=$("$BBSANDBOX" truth BBUser00001 --profile heavy --beneficiaries 5 | jq .eob.count)
[ "$heavy" -ge 2000 ] || fail "heavy profile gave $heavy claims"
ok "heavy profile gives thousands of claims ($heavy)"

start_sandbox
ok "port 0 is announced as $PORT"
http GET "$BASE/healthz"
check "server answers" 200 "$STATUS"
stop_sandbox
ok "SIGTERM stops it with status 0"
done_tests
