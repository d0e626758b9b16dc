#!/usr/bin/env bash
# Reads by id: EOB, Patient and Coverage of the token's patient; other ids 404.
source "$(dirname "$0")/lib.sh"
start_sandbox
login BBUser00120
fhir "ExplanationOfBenefit/?_count=3"
id=$(jq -r '.entry[2].resource.id' "$TMP/body")
jq -c '.entry[2].resource' "$TMP/body" >"$TMP/from-search"
fhir "ExplanationOfBenefit/$id"
check "EOB read: 200" 200 "$STATUS"
check "EOB read equals the search entry" "$(cat "$TMP/from-search")" "$(jq -c . "$TMP/body")"
fhir "ExplanationOfBenefit/carrier--100000001200000"
check "someone else's claim: 404" '{"detail":"Not found."}' "$(body)"
fhir "Patient/$PATIENT"
check "Patient read" "$PATIENT" "$(jq -r .id "$TMP/body")"
fhir "Patient/-20140000000001"
check "another Patient: 404" 404 "$STATUS"
fhir "Coverage/part-a-$PATIENT"
check "Coverage read" "part-a-$PATIENT" "$(jq -r .id "$TMP/body")"
fhir "Coverage/part-a--20140000000001"
check "another Coverage: 404" 404 "$STATUS"
done_tests
