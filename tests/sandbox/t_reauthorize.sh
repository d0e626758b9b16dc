#!/usr/bin/env bash
# A new authorization by the same beneficiary deletes the earlier tokens:
# the old refresh token is then "not found", the old access token is 401.
source "$(dirname "$0")/lib.sh"
start_sandbox

login BBUser00040
A1=$ACCESS R1=$REFRESH
login BBUser00041
OTHER=$ACCESS
login BBUser00040
refresh "$R1"
check "earlier refresh token after re-authorization: 400" 400 "$STATUS"
check "earlier refresh body" '{"status_code": 400, "error": "invalid_request", "error_description": "Refresh token not found."}' "$(body)"
fhir "Coverage/" "$A1"
check "earlier access token: 401" 401 "$STATUS"
fhir "Coverage/" "$ACCESS"
check "the new access token works" 200 "$STATUS"
fhir "Coverage/" "$OTHER"
check "another beneficiary's token is untouched" 200 "$STATUS"
refresh "$REFRESH"
check "the new refresh token works" 200 "$STATUS"
done_tests
