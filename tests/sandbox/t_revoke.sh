#!/usr/bin/env bash
# /v2/o/revoke/ ends the grant (refresh: 403 invalid_grant); RFC 7009
# /v2/o/revoke_token/ on an access token (its refresh: 400 invalid_grant) and
# on a refresh token; unknown tokens: 200.
source "$(dirname "$0")/lib.sh"
start_sandbox

login BBUser00050
http POST "$BASE/v2/o/revoke/" -u "$CLIENT_ID:$CLIENT_SECRET" --data-urlencode "token=$ACCESS"
check "revoke: 200" 200 "$STATUS"
fhir "ExplanationOfBenefit/" 
check "access token after revoke: 401" 401 "$STATUS"
refresh "$REFRESH"
check "refresh after revoke: 403" 403 "$STATUS"
check "grant gone body" '{"status_code": 403, "error": "invalid_grant", "error_description": "User access cannot be found. To refresh Medicare data, end user must re-authenticate and consent to share their data."}' "$(body)"
admin GET "/_admin/state?user=BBUser00050" >"$TMP/state"
check "no grant left" false "$(jq .grant "$TMP/state")"

login BBUser00051
http POST "$BASE/v2/o/revoke_token/" -u "$CLIENT_ID:$CLIENT_SECRET" --data-urlencode "token=$ACCESS" \
  --data-urlencode token_type_hint=access_token
check "revoke_token (access): 200" 200 "$STATUS"
fhir "Patient/"
check "revoked access token: 401" 401 "$STATUS"
refresh "$REFRESH"
check "refresh of a revoked access token's pair" '{"error": "invalid_grant"}' "$(body)"

login BBUser00052
http POST "$BASE/v2/o/revoke_token/" -u "$CLIENT_ID:$CLIENT_SECRET" --data-urlencode "token=$REFRESH"
check "revoke_token (refresh): 200" 200 "$STATUS"
fhir "Patient/"
check "its access token is gone too: 401" 401 "$STATUS"
refresh "$REFRESH"
check "revoked refresh token" '{"error": "invalid_grant"}' "$(body)"

http POST "$BASE/v2/o/revoke_token/" -u "$CLIENT_ID:$CLIENT_SECRET" --data-urlencode "token=unknowntoken"
check "unknown token: 200" 200 "$STATUS"
http POST "$BASE/v2/o/revoke_token/" -u "$CLIENT_ID:bad" --data-urlencode "token=unknowntoken"
check "bad client: 401" 401 "$STATUS"
done_tests
