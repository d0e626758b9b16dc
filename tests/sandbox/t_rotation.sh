#!/usr/bin/env bash
# Refresh rotates strictly: new access and refresh tokens, the old refresh
# token is dead at once (reuse: 400 invalid_grant), the old access token too
# (401 with a Bearer challenge); the newest pair keeps working.
source "$(dirname "$0")/lib.sh"
start_sandbox

login BBUser00030
A1=$ACCESS R1=$REFRESH
fhir "ExplanationOfBenefit/?_count=1" "$A1"
check "first access token works" 200 "$STATUS"
refresh "$R1"
check "refresh: 200" 200 "$STATUS"
A2=$(jq -r .access_token "$TMP/body") R2=$(jq -r .refresh_token "$TMP/body")
[ "$A2" != "$A1" ] && [ "$R2" != "$R1" ] || fail "tokens did not change"
ok "both tokens are new"
check "refresh response carries patient" -20140000000031 "$(jq -r .patient "$TMP/body")"
check "refresh response carries access_grant_expiration" '""' "$(jq -c .access_grant_expiration "$TMP/body")"
check "refresh keeps the scope" "$SCOPE" "$(jq -r .scope "$TMP/body")"
refresh "$R1"
check "reused refresh token: 400" 400 "$STATUS"
check "reused refresh body" '{"error": "invalid_grant"}' "$(body)"
fhir "ExplanationOfBenefit/?_count=1" "$A1"
check "old access token: 401" 401 "$STATUS"
check "401 body" '{"detail":"Authentication credentials were not provided."}' "$(body)"
check "401 challenge" 'Bearer realm="api"' "$(header WWW-Authenticate)"
fhir "ExplanationOfBenefit/?_count=1" "$A2"
check "new access token works" 200 "$STATUS"
refresh "$R2"
check "new refresh token works (no replay-family revocation)" 200 "$STATUS"
R3=$(jq -r .refresh_token "$TMP/body")
http POST "$BASE/v2/o/token/" -u "$CLIENT_ID:$CLIENT_SECRET" --data-urlencode grant_type=refresh_token \
  --data-urlencode "refresh_token=$R3" --data-urlencode "scope=patient/ExplanationOfBenefit.rs"
check "refresh with a narrower scope" "patient/ExplanationOfBenefit.rs" "$(jq -r .scope "$TMP/body")"
R4=$(jq -r .refresh_token "$TMP/body")
http POST "$BASE/v2/o/token/" -u "$CLIENT_ID:$CLIENT_SECRET" --data-urlencode grant_type=refresh_token \
  --data-urlencode "refresh_token=$R4" --data-urlencode "scope=patient/Patient.rs"
check "refresh asking for more scope: 400" '{"error": "invalid_scope"}' "$(body)"
http POST "$BASE/v2/o/token/" -u "$CLIENT_ID:$CLIENT_SECRET" --data-urlencode grant_type=refresh_token
check "missing refresh_token" '{"status_code": 400, "error": "invalid_request", "error_description": "Missing refresh token parameter"}' "$(body)"
refresh "no-such-token"
check "unknown refresh token" '{"status_code": 400, "error": "invalid_request", "error_description": "Refresh token not found."}' "$(body)"
done_tests
