#!/usr/bin/env bash
# Status faults: 429 with Retry-After every Nth request, per-token rate
# limit, 500/502/503 every Nth request with the real bodies.
source "$(dirname "$0")/lib.sh"

start_sandbox --429-every 3 --retry-after 7
login BBUser00160
codes=""
for i in 1 2 3 4 5 6; do fhir "Coverage/"; codes="$codes$STATUS "; [ "$STATUS" == 429 ] && cp "$TMP/headers" "$TMP/h429" && cp "$TMP/body" "$TMP/b429"; done
check "every 3rd request is 429" "200 200 429 200 200 429 " "$codes"
check "Retry-After" 7 "$(grep -i '^Retry-After:' "$TMP/h429" | sed 's/.*: *//' | tr -d '\r')"
check "429 body" '{"detail":"Request was throttled. Expected available in 7 seconds."}' "$(cat "$TMP/b429")"
stop_sandbox

# limit 1/s: two of up to ten back-to-back requests land in one second even
# on a loaded machine (sanitizer builds, parallel tests)
start_sandbox --rate-limit 1
login BBUser00161
A1=$ACCESS
codes=""
for i in 1 2 3 4 5 6 7 8 9 10; do
  fhir "Coverage/" "$A1"; codes="$codes$STATUS "
  [ "$STATUS" == 429 ] && break
done
[[ "$codes" == *429* ]] || fail "ten back-to-back requests at limit 1/s were not throttled: $codes"
ok "per-token rate limit throttles ($codes)"
check "X-RateLimit-Limit" 1 "$(header X-RateLimit-Limit)"
login BBUser00162
fhir "Coverage/"
check "another token is not throttled" 200 "$STATUS"
stop_sandbox

for st in 500 502 503; do
  start_sandbox --5xx-every 2 --5xx-status $st
  login BBUser00163
  fhir "Coverage/"; first=$STATUS
  fhir "Coverage/"; second=$STATUS
  check "--5xx-status $st on every 2nd request" "200 $st" "$first $second"
  case $st in
    500) check "500 body" '{"error": "Server Error (500)"}' "$(body)" ;;
    502) check "502 body" '{"detail":"A failure occurred contacting the upstream server"}' "$(body)" ;;
    503) grep -q '503 Service Temporarily Unavailable' "$TMP/body" || fail "503 body"; ok "503 body" ;;
  esac
  stop_sandbox
done
done_tests
