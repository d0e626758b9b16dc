#!/usr/bin/env bash
# gzip when the client sends Accept-Encoding: gzip (and only then); the
# decompressed body equals the plain one.
source "$(dirname "$0")/lib.sh"
start_sandbox
login BBUser00130
fhir "ExplanationOfBenefit/?_count=20"
cp "$TMP/body" "$TMP/plain"
check "no gzip unless asked" "" "$(header Content-Encoding)"
http GET "$BASE/v2/fhir/ExplanationOfBenefit/?_count=20" -H "Authorization: Bearer $ACCESS" \
  -H "Accept: application/fhir+json" -H "Accept-Encoding: gzip"
check "gzip when asked" gzip "$(header Content-Encoding)"
check "Vary" Accept-Encoding "$(header Vary)"
gzip -t "$TMP/body" || fail "not a valid gzip stream"
gunzip -c "$TMP/body" >"$TMP/unzipped"
cmp -s "$TMP/plain" "$TMP/unzipped" || fail "gunzipped body differs"
ok "gunzipped body equals the plain body"
[ "$(stat -c %s "$TMP/body")" -lt "$(( $(stat -c %s "$TMP/plain") / 4 ))" ] || fail "gzip does not shrink it much"
ok "gzip shrinks the page to less than a quarter"
http GET "$BASE/v2/fhir/ExplanationOfBenefit/?_count=20" -H "Authorization: Bearer $ACCESS" --compressed
check "curl --compressed reads the same JSON" "$(jq -c . "$TMP/plain")" "$(jq -c . "$TMP/body")"
done_tests
