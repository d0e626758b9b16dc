#!/usr/bin/env bash
# A beneficiary who withholds demographics: no Patient/profile scopes, Patient
# and userinfo answer 403, EOB and Coverage work, the token still names the patient.
source "$(dirname "$0")/lib.sh"
start_sandbox
login BBUser00110 "bb_action=no_demographics"
check "token names the patient" -20140000000111 "$PATIENT"
fhir "Patient/"
check "Patient search: 403" 403 "$STATUS"
check "403 body" '{"detail":"You do not have permission to perform this action."}' "$(body)"
fhir "Patient/$PATIENT"
check "Patient read: 403" 403 "$STATUS"
http GET "$BASE/v2/connect/userinfo" -H "Authorization: Bearer $ACCESS"
check "userinfo: 403" 403 "$STATUS"
fhir "ExplanationOfBenefit/?_count=2"
check "EOB still works" 200 "$STATUS"
fhir "Coverage/"
check "Coverage still works" 200 "$STATUS"
check "Coverage names the patient" "Patient/$PATIENT" "$(jq -r '.entry[0].resource.beneficiary.reference' "$TMP/body")"
login BBUser00111
fhir "Patient/"
check "with demographics: Patient works" 200 "$STATUS"
check "one Patient" 1 "$(jq .total "$TMP/body")"
check "Patient id" -20140000000112 "$(jq -r '.entry[0].resource.id' "$TMP/body")"
http GET "$BASE/v2/connect/userinfo" -H "Authorization: Bearer $ACCESS"
check "userinfo with profile scope" -20140000000112 "$(jq -r .patient "$TMP/body")"
done_tests
