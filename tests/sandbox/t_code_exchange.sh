#!/usr/bin/env bash
# /v2/o/token/ authorization_code: PKCE S256 success, mismatch, verifier
# length 43..128, single use, 60 s lifetime (shortened with --code-ttl),
# redirect_uri must match, response fields.
source "$(dirname "$0")/lib.sh"
start_sandbox --code-ttl 2

get_code BBUser00010
v43=$(printf 'a%.0s' $(seq 1 42)); v129=$(printf 'b%.0s' $(seq 1 129))
exchange "$CODE" "$v43"
check "42-character verifier: 400" 400 "$STATUS"
check "short verifier body" '{"error": "invalid_request", "error_description": "code_verifier min length is 43"}' "$(body)"
exchange "$CODE" "$v129"
check "129-character verifier body" '{"error": "invalid_request", "error_description": "code_verifier max length is 128"}' "$(body)"
exchange "$CODE" "${VERIFIER%?}x"
check "wrong verifier: 400" 400 "$STATUS"
check "mismatch body" '{"error": "invalid_request", "error_description": "code_challenge does not match"}' "$(body)"
http POST "$BASE/v2/o/token/" -u "$CLIENT_ID:$CLIENT_SECRET" --data-urlencode grant_type=authorization_code \
  --data-urlencode "code=$CODE" --data-urlencode "redirect_uri=$REDIRECT"
check "no verifier: 400" 400 "$STATUS"
http POST "$BASE/v2/o/token/" -u "$CLIENT_ID:$CLIENT_SECRET" --data-urlencode grant_type=authorization_code \
  --data-urlencode "code=$CODE" --data-urlencode "redirect_uri=http://127.0.0.1:7777/other" \
  --data-urlencode "code_verifier=$VERIFIER"
check "other redirect_uri: 400" 400 "$STATUS"
check "redirect mismatch body" '{"error": "invalid_request", "error_description": "Mismatching redirect URI."}' "$(body)"

exchange "$CODE" "$VERIFIER"
check "right verifier (after failed tries): 200" 200 "$STATUS"
for f in access_token token_type expires_in scope refresh_token patient access_grant_expiration; do
  jq -e "has(\"$f\")" "$TMP/body" >/dev/null || fail "token response lacks $f"
done
ok "response has access_token token_type expires_in scope refresh_token patient access_grant_expiration"
check "token_type" Bearer "$(jq -r .token_type "$TMP/body")"
check "expires_in" 3600 "$(jq -r .expires_in "$TMP/body")"
check "patient of BBUser00010" -20140000000011 "$(jq -r .patient "$TMP/body")"
check "research grant: empty access_grant_expiration" '""' "$(jq -c .access_grant_expiration "$TMP/body")"
[[ "$(jq -r .access_token "$TMP/body")" =~ ^[A-Za-z0-9]{30}$ ]] || fail "token shape"
ok "tokens are opaque random strings"
check "Cache-Control no-store" no-store "$(header Cache-Control)"

exchange "$CODE" "$VERIFIER"
check "second use of the code: 400" 400 "$STATUS"
check "second use body" '{"error": "invalid_grant"}' "$(body)"

get_code BBUser00010
sleep 3
exchange "$CODE" "$VERIFIER"
check "code older than its lifetime: invalid_grant" '{"error": "invalid_grant"}' "$(body)"

http POST "$BASE/v2/o/token/" -u "$CLIENT_ID:$CLIENT_SECRET" --data-urlencode grant_type=password
check "other grant types: 400" '{"error": "unsupported_grant_type"}' "$(body)"
http POST "$BASE/v2/o/token/" -u "$CLIENT_ID:$CLIENT_SECRET" --data-urlencode grant_type=authorization_code
check "missing code" '{"error": "invalid_request", "error_description": "Missing code parameter."}' "$(body)"
done_tests
