#!/usr/bin/env bash
# Client authentication on the token endpoint: HTTP Basic or client_id +
# client_secret in the body; two different apps in one request; bad secrets.
source "$(dirname "$0")/lib.sh"
start_sandbox

get_code BBUser00020
http POST "$BASE/v2/o/token/" --data-urlencode grant_type=authorization_code --data-urlencode "code=$CODE" \
  --data-urlencode "redirect_uri=$REDIRECT" --data-urlencode "code_verifier=$VERIFIER" \
  --data-urlencode "client_id=$CLIENT_ID" --data-urlencode "client_secret=$CLIENT_SECRET"
check "secret in the body: 200" 200 "$STATUS"
R=$(jq -r .refresh_token "$TMP/body")
http POST "$BASE/v2/o/token/" -u "$CLIENT_ID:$CLIENT_SECRET" --data-urlencode grant_type=refresh_token \
  --data-urlencode "refresh_token=$R" --data-urlencode "client_id=$CLIENT_ID"
check "Basic plus the same client_id in the body (the SDK's refresh): 200" 200 "$STATUS"
R=$(jq -r .refresh_token "$TMP/body")
http POST "$BASE/v2/o/token/" -u "$CLIENT_ID:$CLIENT_SECRET" --data-urlencode grant_type=refresh_token \
  --data-urlencode "refresh_token=$R" --data-urlencode "client_id=someotherapp0000000000000000000000000000"
check "different apps in header and body: 400" 400 "$STATUS"
check "different apps body" '{"status_code": 400, "error": "invalid_request", "error_description": "different app in headers than in request data"}' "$(body)"
http POST "$BASE/v2/o/token/" -u "$CLIENT_ID:wrong-secret" --data-urlencode grant_type=refresh_token \
  --data-urlencode "refresh_token=$R"
check "wrong secret: 401" 401 "$STATUS"
check "wrong secret body" '{"error": "invalid_client"}' "$(body)"
http POST "$BASE/v2/o/token/" --data-urlencode grant_type=refresh_token --data-urlencode "refresh_token=$R"
check "no client credentials: 401" 401 "$STATUS"
http POST "$BASE/v2/o/token/" -u "nosuchapp:x" --data-urlencode grant_type=refresh_token --data-urlencode "refresh_token=$R"
check "unknown app" '{"status_code": 401, "error": "invalid_client", "error_description": "Application does not exist"}' "$(body)"
refresh "$R"
check "failed attempts did not use up the refresh token" 200 "$STATUS"
done_tests
