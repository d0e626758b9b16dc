#!/usr/bin/env bash
# Admin endpoint: needs the token; adds claims like a weekly load (later
# lastUpdated, found with _lastUpdated=gt<previous Bundle.meta.lastUpdated>);
# revokes or expires grants; counts requests per path, user and token;
# changes faults at run time.
source "$(dirname "$0")/lib.sh"
start_sandbox
login BBUser00150

http GET "$BASE/_admin/counters"
check "no admin token: 401" 401 "$STATUS"
http GET "$BASE/_admin/counters" -H "X-Admin-Token: wrong"
check "wrong admin token: 401" 401 "$STATUS"

walk "_count=50"
total=$(head -1 "$TMP/walk.ndjson" | jq .total)
mark=$(head -1 "$TMP/walk.ndjson" | jq -r .meta.lastUpdated)
admin POST /_admin/claims --data "user=BBUser00150&count=3" >"$TMP/added"
check "admin adds claims" $((total + 3)) "$(jq .total "$TMP/added")"
fhir "ExplanationOfBenefit/?_count=50"
check "search sees the new total" $((total + 3)) "$(jq .total "$TMP/body")"
newmark=$(jq -r .meta.lastUpdated "$TMP/body")
[[ "$newmark" > "$mark" ]] || fail "Bundle.meta.lastUpdated did not advance ($mark -> $newmark)"
ok "Bundle.meta.lastUpdated advanced"
fhir "ExplanationOfBenefit/?_count=50&_lastUpdated=gt${mark/+/%2B}"
check "incremental query returns exactly the new claims" 3 "$(jq .total "$TMP/body")"
fhir "ExplanationOfBenefit/?_count=50&_lastUpdated=gt${newmark/+/%2B}"
check "nothing after the new watermark" 0 "$(jq .total "$TMP/body")"
admin GET "/_admin/truth?user=BBUser00150" >"$TMP/truth"
check "admin truth includes added claims" $((total + 3)) "$(jq .eob.count "$TMP/truth")"

admin POST /_admin/counters/reset >/dev/null
before=$(admin GET "/_admin/counters?token=$ACCESS" | jq .token_requests)
fhir "ExplanationOfBenefit/?_count=5"
fhir "Coverage/"
fhir "Coverage/"
admin GET /_admin/counters >"$TMP/c"
check "per-path counter" 2 "$(jq '.paths["/v2/fhir/Coverage/"]' "$TMP/c")"
check "per-user counter" 3 "$(jq '.users.BBUser00150' "$TMP/c")"
check "FHIR request counter" 3 "$(jq '.fhir_requests' "$TMP/c")"
check "per-token counter" $((before + 3)) "$(admin GET "/_admin/counters?token=$ACCESS" | jq .token_requests)"

admin POST /_admin/grant --data "user=BBUser00150&action=revoke" >/dev/null
fhir "Coverage/"
check "admin revoke: 401" 401 "$STATUS"
refresh "$REFRESH"
check "admin revoke: refresh 403 invalid_grant" 403 "$STATUS"
admin POST /_admin/grant --data "user=BBUser00150&action=revoke" -o /dev/null -w '%{http_code}' >"$TMP/st"
check "revoking a missing grant: 404" 404 "$(cat "$TMP/st")"

admin POST /_admin/faults --data "5xx-every=1&5xx-status=503" >"$TMP/f"
check "faults read back" 503 "$(jq '."5xx-status"' "$TMP/f")"
login BBUser00151
fhir "Coverage/"
check "fault set at run time applies" 503 "$STATUS"
admin POST /_admin/faults --data "5xx-every=0" >/dev/null
fhir "Coverage/"
check "fault switched off" 200 "$STATUS"
admin POST /_admin/faults --data "nonsense=1" -o "$TMP/f" -w '%{http_code}' >"$TMP/st"
check "unknown fault: 400" 400 "$(cat "$TMP/st")"
done_tests
