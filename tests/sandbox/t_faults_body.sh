#!/usr/bin/env bash
# Body and connection faults: truncated bodies (connection dropped), bodies
# that are complete but not JSON, connection resets, trickled bodies, latency.
source "$(dirname "$0")/lib.sh"

start_sandbox --truncate-every 2
login BBUser00170
fhir "ExplanationOfBenefit/?_count=20"
check "1st request whole" 200 "$STATUS"
jq -e . "$TMP/body" >/dev/null || fail "1st body not JSON"
fhir "ExplanationOfBenefit/?_count=20"
check "2nd request truncated: curl reports a partial transfer (18)" curl-error-18 "$STATUS"
stop_sandbox

start_sandbox --malformed-every 1
login BBUser00171
fhir "ExplanationOfBenefit/?_count=20"
check "malformed body still answers 200" 200 "$STATUS"
check "Content-Length matches the body" "$(stat -c %s "$TMP/body")" "$(header Content-Length)"
jq -e . "$TMP/body" >/dev/null 2>&1 && fail "malformed body parsed as JSON"
ok "malformed body is not JSON"
stop_sandbox

start_sandbox --reset-every 2
login BBUser00172
fhir "Coverage/"
check "1st request fine" 200 "$STATUS"
fhir "Coverage/"
[[ "$STATUS" == curl-error-56 || "$STATUS" == curl-error-52 || "$STATUS" == curl-error-35 ]] || fail "reset gave $STATUS"
ok "2nd request: connection reset ($STATUS)"
fhir "Coverage/"
check "next connection works" 200 "$STATUS"
stop_sandbox

start_sandbox --trickle-ms 20
login BBUser00173
t=$(curl -sS --cacert "$CACERT" -H "Authorization: Bearer $ACCESS" -o "$TMP/body" -w '%{time_total}' \
  "$BASE/v2/fhir/ExplanationOfBenefit/?_count=2")
size=$(stat -c %s "$TMP/body")
jq -e . "$TMP/body" >/dev/null || fail "trickled body is not whole"
pieces=$(( (size + 511) / 512 ))
awk -v t="$t" -v p="$pieces" 'BEGIN { exit !(t * 1000 >= p * 20 * 0.9) }' || fail "$size bytes in ${t}s: not trickled"
ok "trickled body is whole ($size bytes in $pieces pieces took ${t}s)"
stop_sandbox

start_sandbox --latency-ms 300
login BBUser00174
t=$(curl -sS --cacert "$CACERT" -H "Authorization: Bearer $ACCESS" -o /dev/null -w '%{time_total}' "$BASE/v2/fhir/Coverage/")
awk -v t="$t" 'BEGIN { exit !(t >= 0.3) }' || fail "latency not applied: ${t}s"
ok "latency applied (${t}s >= 0.3s)"
done_tests
