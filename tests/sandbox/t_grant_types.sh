#!/usr/bin/env bash
# Data access types: thirteen-month (expiration date, the sandbox expire hook,
# then refresh 401 and FHIR 401), one-time (no refresh), short --expires-in.
source "$(dirname "$0")/lib.sh"

start_sandbox --grant-type thirteen-month --expires-in 2
login BBUser00070
exp=$(jq -r .access_grant_expiration "$TMP/body")
[[ "$exp" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$ ]] || fail "expiration $exp"
y_now=$(date -u +%Y); y_exp=${exp:0:4}
[ "$y_exp" -ge $((y_now + 1)) ] || fail "13 months ahead: $exp"
ok "thirteen-month grant expires 13 months ahead ($exp)"
check "expires_in follows --expires-in" 2 "$(jq .expires_in "$TMP/body")"
sleep 3
fhir "Coverage/"
check "access token past expires_in: 401" 401 "$STATUS"
refresh "$REFRESH"
check "refresh still works after access expiry" 200 "$STATUS"
R=$(jq -r .refresh_token "$TMP/body") A=$(jq -r .access_token "$TMP/body")
http POST "$BASE/v2/o/expire_authenticated_user/-20140000000071/" -u "$CLIENT_ID:$CLIENT_SECRET"
check "expire hook: 200" 200 "$STATUS"
fhir "Coverage/" "$A"
check "FHIR after grant expiry: 401" 401 "$STATUS"
check "timed-out detail" '{"detail":"User access has timed out. To refresh Medicare data, end user must re-authenticate and consent to share their data."}' "$(body)"
refresh "$R"
check "refresh after grant expiry: 401" 401 "$STATUS"
check "timed-out body" '{"status_code": 401, "error": "invalid_grant", "error_description": "User access has timed out. To refresh Medicare data, end user must re-authenticate and consent to share their data."}' "$(body)"
http POST "$BASE/v2/o/expire_authenticated_user/-20140000000099/" -u "$CLIENT_ID:$CLIENT_SECRET"
check "expire hook without a grant: 404" 404 "$STATUS"
check "404 text" "Data Access Grant was Not Found." "$(body)"
login BBUser00070
fhir "Coverage/"
check "re-authorization resets the clock" 200 "$STATUS"
stop_sandbox

start_sandbox --grant-type one-time
login BBUser00071
exp=$(jq -r .access_grant_expiration "$TMP/body")
[[ "$exp" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$ ]] || fail "one-time expiration $exp"
ok "one-time grant: expiration is now + expires_in ($exp)"
refresh "$REFRESH"
check "one-time refresh: 403" 403 "$STATUS"
check "one-time body" '{"status_code": 403, "error": "invalid_client", "error_description": "Your application is not allowed to refresh tokens. To refresh Medicare data, end user must re-authenticate and consent to share their data. If your application needs to refresh tokens, contact us at BlueButtonAPI@cms.hhs.gov."}' "$(body)"
stop_sandbox

start_sandbox
login BBUser00072
http POST "$BASE/v2/o/expire_authenticated_user/-20140000000073/" -u "$CLIENT_ID:$CLIENT_SECRET"
refresh "$REFRESH"
check "research grants never expire (hook has no effect)" 200 "$STATUS"
done_tests
