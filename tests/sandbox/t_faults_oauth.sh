#!/usr/bin/env bash
# Token and grant faults: the rotation hazard (refresh rotates, then 502:
# the old refresh token is already dead), grants revoked or expired mid-run,
# claims landing mid-walk (total changes).
source "$(dirname "$0")/lib.sh"

start_sandbox --rotate-then-502-every 2
login BBUser00180
refresh "$REFRESH"
check "1st refresh fine" 200 "$STATUS"
R2=$(jq -r .refresh_token "$TMP/body") A2=$(jq -r .access_token "$TMP/body")
refresh "$R2"
check "2nd refresh: 502" 502 "$STATUS"
check "502 body" '{"status_code": 502, "message": "Failed to retrieve data from data source."}' "$(body)"
refresh "$R2"
check "retrying with the same refresh token: invalid_grant (it was rotated)" '{"error": "invalid_grant"}' "$(body)"
fhir "Coverage/" "$A2"
check "the access token of the rotated pair is dead too" 401 "$STATUS"
admin GET "/_admin/state?user=BBUser00180" >"$TMP/state"
check "a live pair exists that the client never saw" 1 "$(jq .live_refresh_tokens "$TMP/state")"
stop_sandbox

start_sandbox --revoke-grant-every 3
login BBUser00181
fhir "Coverage/"; a=$STATUS; fhir "Coverage/"; b=$STATUS; fhir "Coverage/"; c=$STATUS
check "grant revoked on the 3rd request" "200 200 401" "$a $b $c"
refresh "$REFRESH"
check "then refresh: 403 invalid_grant" 403 "$STATUS"
stop_sandbox

start_sandbox --expire-grant-every 2 --grant-type thirteen-month
login BBUser00182
fhir "Coverage/"; a=$STATUS; fhir "Coverage/"; b=$STATUS
check "grant expired on the 2nd request" "200 401" "$a $b"
refresh "$REFRESH"
check "then refresh: 401" 401 "$STATUS"
stop_sandbox

start_sandbox --add-claim-every 2
login BBUser00183
fhir "ExplanationOfBenefit/?_count=5"; t1=$(jq .total "$TMP/body")
fhir "ExplanationOfBenefit/?_count=5&startIndex=5"; t2=$(jq .total "$TMP/body")
check "a claim landed mid-walk: total grew by one" $((t1 + 1)) "$t2"
fhir "Coverage/"
fhir "ExplanationOfBenefit/?_count=5"; t3=$(jq .total "$TMP/body")
check "other resources do not count for this fault" "$t2" "$t3"
done_tests
