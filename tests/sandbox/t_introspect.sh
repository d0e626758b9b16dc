#!/usr/bin/env bash
# /v2/o/introspect/: active tokens with scope, exp, client_id, username;
# rotated or unknown tokens inactive; client authentication required.
source "$(dirname "$0")/lib.sh"
start_sandbox

login BBUser00060
http POST "$BASE/v2/o/introspect/" -u "$CLIENT_ID:$CLIENT_SECRET" --data-urlencode "token=$ACCESS"
check "introspect: 200" 200 "$STATUS"
check "active" true "$(jq .active "$TMP/body")"
check "scope" "$SCOPE" "$(jq -r .scope "$TMP/body")"
check "client_id" "$CLIENT_ID" "$(jq -r .client_id "$TMP/body")"
check "username" BBUser00060 "$(jq -r .username "$TMP/body")"
now=$(date +%s); exp=$(jq .exp "$TMP/body")
[ "$exp" -gt "$now" ] && [ "$exp" -le $((now + 3601)) ] || fail "exp $exp not about now+3600 ($now)"
ok "exp is about an hour ahead"
http GET "$BASE/v2/o/introspect/?token=$ACCESS" -u "$CLIENT_ID:$CLIENT_SECRET"
check "GET works too" true "$(jq .active "$TMP/body")"
refresh "$REFRESH"
http POST "$BASE/v2/o/introspect/" -u "$CLIENT_ID:$CLIENT_SECRET" --data-urlencode "token=$ACCESS"
check "rotated access token is inactive" '{"active": false}' "$(body)"
http POST "$BASE/v2/o/introspect/" -u "$CLIENT_ID:$CLIENT_SECRET" --data-urlencode "token=nope"
check "unknown token is inactive" '{"active": false}' "$(body)"
http POST "$BASE/v2/o/introspect/" --data-urlencode "token=$ACCESS"
check "no client auth: 401" 401 "$STATUS"
done_tests
