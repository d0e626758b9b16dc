#!/usr/bin/env bash
# FHIR search parameters: _count default 10 / max 50 / >50 400, count alias,
# startIndex at or past total 400, unknown parameters dropped, token in the
# query 400, dead tokens 401 with a Bearer challenge, X-RateLimit headers,
# metadata without a token.
source "$(dirname "$0")/lib.sh"
start_sandbox
login BBUser00080
total=$("$BBSANDBOX" truth BBUser00080 --seed 7 --beneficiaries 200 | jq .eob.count)

fhir "ExplanationOfBenefit/"
check "search: 200" 200 "$STATUS"
check "Bundle.total is the claim count" "$total" "$(jq .total "$TMP/body")"
check "default page size 10" 10 "$(jq '.entry | length' "$TMP/body")"
check "type searchset" searchset "$(jq -r .type "$TMP/body")"
check "content type follows Accept" application/fhir+json "$(header Content-Type)"
for h in X-RateLimit-Limit X-RateLimit-Remaining X-RateLimit-Reset; do
  [ -n "$(header $h)" ] || fail "no $h header"
done
ok "X-RateLimit-Limit/Remaining/Reset present"
fhir "ExplanationOfBenefit/?_count=50"
check "_count=50" "$(( total < 50 ? total : 50 ))" "$(jq '.entry | length' "$TMP/body")"
fhir "ExplanationOfBenefit/?_count=51"
check "_count=51: 400" 400 "$STATUS"
check "_count=51 body" '{"detail":"value must be at most 50"}' "$(body)"
fhir "ExplanationOfBenefit/?_count=ten"
check "_count not a number" '{"detail":"expected int"}' "$(body)"
fhir "ExplanationOfBenefit/?count=3"
check "count is an alias of _count" 3 "$(jq '.entry | length' "$TMP/body")"
fhir "ExplanationOfBenefit/?_count=0"
check "_count=0: 400 from the backend" 400 "$STATUS"
fhir "ExplanationOfBenefit/?startIndex=$total"
check "startIndex = total: 400" 400 "$STATUS"
check "startIndex body" "{\"detail\":\"An error occurred contacting the upstream server:Value for startIndex ($total) must be less than than result size ($total)\"}" "$(body)"
fhir "ExplanationOfBenefit/?startIndex=$((total + 5))"
check "startIndex past total: 400" 400 "$STATUS"
fhir "ExplanationOfBenefit/?startIndex=$((total - 1))"
check "last entry alone" 1 "$(jq '.entry | length' "$TMP/body")"

fhir "ExplanationOfBenefit/?_count=4&foo=bar&excludeSAMHSA=true&_elements=id"
jq -S 'del(.link)' "$TMP/body" >"$TMP/a"
grep -q 'foo\|excludeSAMHSA\|_elements' <(jq -r '.link[].url' "$TMP/body") && fail "unknown parameters repeated in links"
fhir "ExplanationOfBenefit/?_count=4"
jq -S 'del(.link)' "$TMP/body" >"$TMP/b"
cmp -s "$TMP/a" "$TMP/b" || fail "unknown parameters changed the result"
ok "unknown parameters are dropped"
fhir "ExplanationOfBenefit/?patient=-20140000000001&_count=3"
check "another patient in the query is overridden by the token's" "Patient/$PATIENT" "$(jq -r '.entry[0].resource.patient.reference' "$TMP/body")"

http GET "$BASE/v2/fhir/ExplanationOfBenefit/?access_token=$ACCESS"
check "token in the query: 400" 400 "$STATUS"
fhir "ExplanationOfBenefit/" "not-a-token"
check "unknown token: 401" 401 "$STATUS"
check "Bearer challenge" 'Bearer realm="api"' "$(header WWW-Authenticate)"
http GET "$BASE/v2/fhir/ExplanationOfBenefit/"
check "no token: 401" '{"detail":"Authentication credentials were not provided."}' "$(body)"
http POST "$BASE/v2/fhir/ExplanationOfBenefit/" -H "Authorization: Bearer $ACCESS"
check "POST search: 405" 405 "$STATUS"

http GET "$BASE/v2/fhir/metadata"
check "metadata without a token: 200" 200 "$STATUS"
check "CapabilityStatement" CapabilityStatement "$(jq -r .resourceType "$TMP/body")"
check "FHIR R4" 4.0.1 "$(jq -r .fhirVersion "$TMP/body")"
check "EOB search params" '["_count","_lastUpdated","startIndex","patient","service-date","type"]' \
  "$(jq -c '[.rest[0].resource[] | select(.type == "ExplanationOfBenefit") | .searchParam[].name]' "$TMP/body")"
http GET "$BASE/v2/fhir/.well-known/smart-configuration"
check "SMART config: S256 only" '["S256"]' "$(jq -c .code_challenge_methods_supported "$TMP/body")"
http GET "$BASE/.well-known/openid-configuration-v2"
check "discovery token endpoint" "$BASE/v2/o/token/" "$(jq -r .token_endpoint "$TMP/body")"
done_tests
