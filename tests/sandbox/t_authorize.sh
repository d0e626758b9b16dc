#!/usr/bin/env bash
# /v2/o/authorize/: required parameters and their real 400 bodies, the login
# form, login_hint approval, deny and withheld demographics.
source "$(dirname "$0")/lib.sh"
start_sandbox
new_pkce
A="$BASE/v2/o/authorize/?client_id=$CLIENT_ID&response_type=code&redirect_uri=http%3A%2F%2F127.0.0.1%3A7777%2Fcallback"
S=state-0123456789abcdef

http GET "$A"
check "no PKCE, no state: 400" 400 "$STATUS"
check "missing parameters body" '{"status_code": 400, "message": "Missing Required Parameter(s): code_challenge, code_challenge_method, state"}' "$(body)"
http GET "$A&code_challenge=$CHALLENGE&code_challenge_method=S256"
check "missing state body" '{"status_code": 400, "message": "Missing Required Parameter(s): state"}' "$(body)"
http GET "$A&code_challenge=$CHALLENGE&code_challenge_method=S256&state=short-state-15c"
check "state under 16 characters: 400" 400 "$STATUS"
check "short state body" '{"status_code": 400, "message": "State parameter should have a minimum of 16 characters"}' "$(body)"
http GET "$A&code_challenge=$CHALLENGE&code_challenge_method=plain&state=$S"
check "plain method: 400" 400 "$STATUS"
check "method body" '{"error": "invalid_request", "error_description": "code_challenge_method must be S256"}' "$(body)"
http GET "$A&code_challenge=$CHALLENGE&code_challenge_method=S256&state=$S&client_secret=x"
check "client_secret in the query: 400" 400 "$STATUS"
check "client_secret body" "Illegal query parameter [client_secret] detected" "$(body)"
http GET "$BASE/v2/o/authorize/?client_id=nosuchapp&response_type=code&code_challenge=$CHALLENGE&code_challenge_method=S256&state=$S"
check "unknown client: 401" 401 "$STATUS"
http GET "$BASE/v2/o/authorize/?client_id=$CLIENT_ID&response_type=code&redirect_uri=https%3A%2F%2Fevil.example%2Fcb&code_challenge=$CHALLENGE&code_challenge_method=S256&state=$S"
check "unregistered redirect_uri: 400" 400 "$STATUS"
check "redirect body" '{"error": "invalid_request", "error_description": "Mismatching redirect URI."}' "$(body)"
http GET "$A&code_challenge=$CHALLENGE&code_challenge_method=S256&state=$S&scope=openid%20patient/Nope.read"
check "unknown scope redirects" 302 "$STATUS"
check "invalid_scope error" "http://127.0.0.1:7777/callback?error=invalid_scope&state=$S" "$(header Location)"
http GET "${A/response_type=code/response_type=token}&code_challenge=$CHALLENGE&code_challenge_method=S256&state=$S"
check "response_type token redirects with an error" "http://127.0.0.1:7777/callback?error=unsupported_response_type&state=$S" "$(header Location)"
http POST "$BASE/v2/o/authorize/" --data "client_id=$CLIENT_ID"
check "POST without state: 401" 401 "$STATUS"
check "POST state body" '{"status_code": 401, "message": "State required in POST body."}' "$(body)"

# the login form
http GET "$A&code_challenge=$CHALLENGE&code_challenge_method=S256&state=$S"
check "login form: 200" 200 "$STATUS"
action=$(grep -o 'action="[^"]*"' "$TMP/body" | sed 's/action="//; s/"$//')
[[ "$action" == /v2/o/authorize/*/ ]] || fail "form action $action"
ok "form posts to /v2/o/authorize/<uuid>/"
http POST "$BASE$action" --data "username=BBUser00002&password=wrong&allow=True"
check "wrong password: 400 and the form again" 400 "$STATUS"
grep -q 'not correct' "$TMP/body" || fail "no error shown"
http POST "$BASE$action" --data "username=BBUser00002&password=PW00002%21&share_demographic_scopes=True&allow=True"
check "login form approves: 302" 302 "$STATUS"
loc=$(header Location)
[[ "$loc" == "http://127.0.0.1:7777/callback?code="*"&state=$S" ]] || fail "redirect $loc"
ok "redirect carries code and state"
http POST "$BASE$action" --data "username=BBUser00002&password=PW00002%21&allow=True"
check "the pending request is used once" 404 "$STATUS"

# login_hint
http GET "$A&code_challenge=$CHALLENGE&code_challenge_method=S256&state=$S&login_hint=BBUser00005"
check "login_hint approves at once" 302 "$STATUS"
[[ "$(header Location)" == "http://127.0.0.1:7777/callback?code="*"&state=$S" ]] || fail "$(header Location)"
ok "login_hint redirect has code and state"
http GET "$A&code_challenge=$CHALLENGE&code_challenge_method=S256&state=$S&login_hint=BBUser00005&bb_action=deny"
check "bb_action=deny" "http://127.0.0.1:7777/callback?error=access_denied&state=$S" "$(header Location)"
http GET "$A&code_challenge=$CHALLENGE&code_challenge_method=S256&state=$S&login_hint=NoSuchUser"
check "unknown login_hint: 400" 400 "$STATUS"

REDIRECT=http://127.0.0.1:7777/callback
login BBUser00006 "bb_action=no_demographics"
check "withheld demographics: scopes" "openid launch/patient patient/Coverage.rs patient/ExplanationOfBenefit.rs" "$SCOPE"
login BBUser00006 "scope=openid%20patient/ExplanationOfBenefit.read"
check "requested scopes are granted" "openid patient/ExplanationOfBenefit.read" "$SCOPE"
http GET "$A&code_challenge=$CHALLENGE&code_challenge_method=S256&state=$S&login_hint=BBUser00006&scope=profile%20patient/Patient.read&bb_action=no_demographics"
check "no scope left after withholding: access_denied" "http://127.0.0.1:7777/callback?error=access_denied&state=$S" "$(header Location)"
done_tests
