# Shared helpers of the sandbox tests (sourced).  Each test starts its own
# bbsandbox over HTTPS with a test CA made by make-test-ca.sh and drives it
# with curl's command line and openssl, as an independent client would.
set -euo pipefail

: "${BBSANDBOX:?BBSANDBOX must name the bbsandbox binary (meson test sets it)}"
SB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/bbsandbox-test.XXXXXX")
SB_PID=
CLIENT_ID=testclient00000000000000000000000000000a
CLIENT_SECRET=test-secret-0123456789
REDIRECT=http://127.0.0.1:7777/callback
ADMIN=admin-token-for-tests
CHECKS=0

cleanup() {
  local rc=$?
  stop_sandbox
  if [ $rc -ne 0 ] && [ -f "$TMP/sb.err" ]; then
    echo "--- bbsandbox stderr:"; tail -n 20 "$TMP/sb.err"
  fi
  rm -rf "$TMP"
  exit $rc
}
trap cleanup EXIT

"$SB_DIR/make-test-ca.sh" "$TMP/ca" >/dev/null
CACERT=$TMP/ca/ca.crt

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { CHECKS=$((CHECKS + 1)); echo "ok $CHECKS - $*"; }
# check DESCRIPTION EXPECTED ACTUAL
check() {
  if [ "$2" == "$3" ]; then ok "$1"; else fail "$1: expected [$2], got [$3]"; fi
}
done_tests() { echo "all $CHECKS checks passed"; }

# start_sandbox [extra bbsandbox options]
start_sandbox() {
  rm -f "$TMP/sb.out" "$TMP/sb.err"
  "$BBSANDBOX" --listen 127.0.0.1:0 --seed "${SEED:-7}" --beneficiaries "${BENES:-200}" \
    --tls-cert "$TMP/ca/server.crt" --tls-key "$TMP/ca/server.key" \
    --client-id "$CLIENT_ID" --client-secret "$CLIENT_SECRET" \
    --redirect-uri http://127.0.0.1/callback --admin-token "$ADMIN" "$@" \
    >"$TMP/sb.out" 2>"$TMP/sb.err" &
  SB_PID=$!
  local i
  for i in $(seq 1 100); do
    if grep -q '^listening on ' "$TMP/sb.out" 2>/dev/null; then break; fi
    kill -0 "$SB_PID" 2>/dev/null || fail "bbsandbox exited at start: $(cat "$TMP/sb.err")"
    sleep 0.05
  done
  PORT=$(sed -n 's/^listening on 127.0.0.1:\([0-9]*\)$/\1/p' "$TMP/sb.out")
  [ -n "$PORT" ] || fail "bbsandbox did not print its port"
  BASE=https://127.0.0.1:$PORT
}

stop_sandbox() {
  if [ -n "$SB_PID" ]; then
    kill -TERM "$SB_PID" 2>/dev/null || true
    local st=0
    wait "$SB_PID" 2>/dev/null || st=$?
    SB_PID=
    # under ASan a leak or error makes the exit status non-zero
    if [ "$st" -ne 0 ]; then echo "bbsandbox exited with status $st" >&2; cat "$TMP/sb.err" >&2; return 1; fi
  fi
  return 0
}

# http METHOD URL [curl args...]: sets STATUS, body in $TMP/body, headers in $TMP/headers
http() {
  local method=$1 url=$2; shift 2
  STATUS=$(curl -sS --cacert "$CACERT" -X "$method" -o "$TMP/body" -D "$TMP/headers" \
    -w '%{http_code}' "$@" "$url") || STATUS=curl-error-$?
}
body() { cat "$TMP/body"; }
header() { grep -i "^$1:" "$TMP/headers" | head -1 | sed 's/^[^:]*: *//' | tr -d '\r'; }

admin() { # METHOD PATH [curl args]
  local method=$1 path=$2; shift 2
  curl -sS --cacert "$CACERT" -X "$method" -H "X-Admin-Token: $ADMIN" "$@" "$BASE$path"
}

# new_pkce: sets VERIFIER (64 chars) and CHALLENGE = BASE64URL(SHA256(verifier))
new_pkce() {
  VERIFIER=$(openssl rand -base64 60 | tr '+/' '-_' | tr -d '=\n' | cut -c1-64)
  CHALLENGE=$(printf '%s' "$VERIFIER" | openssl dgst -sha256 -binary | openssl base64 -A | tr '+/' '-_' | tr -d '=')
}

# authorize_url [extra query]: URL with every required parameter
authorize_url() {
  STATE=${STATE:-state-$(openssl rand -hex 12)}
  echo "$BASE/v2/o/authorize/?client_id=$CLIENT_ID&response_type=code&redirect_uri=$(printf %s "$REDIRECT" | jq -sRr @uri)&state=$STATE&code_challenge=$CHALLENGE&code_challenge_method=S256${1:+&$1}"
}

# get_code USER [extra query]: new PKCE pair, approve at once; sets CODE
get_code() {
  new_pkce
  http GET "$(authorize_url "login_hint=$1${2:+&$2}")"
  [ "$STATUS" == 302 ] || fail "authorize for $1 answered $STATUS: $(body)"
  CODE=$(header Location | sed -n 's/.*[?&]code=\([^&]*\).*/\1/p')
  [ -n "$CODE" ] || fail "no code in $(header Location)"
}

# exchange CODE VERIFIER [curl args]: the authorization_code grant with Basic auth
exchange() {
  local code=$1 verifier=$2; shift 2
  http POST "$BASE/v2/o/token/" -u "$CLIENT_ID:$CLIENT_SECRET" \
    --data-urlencode grant_type=authorization_code --data-urlencode "code=$code" \
    --data-urlencode "redirect_uri=$REDIRECT" --data-urlencode "code_verifier=$verifier" "$@"
}

# login USER [extra query]: code + exchange; sets ACCESS REFRESH PATIENT SCOPE
login() {
  get_code "$@"
  exchange "$CODE" "$VERIFIER"
  [ "$STATUS" == 200 ] || fail "code exchange for $1 answered $STATUS: $(body)"
  ACCESS=$(jq -r .access_token "$TMP/body")
  REFRESH=$(jq -r .refresh_token "$TMP/body")
  PATIENT=$(jq -r .patient "$TMP/body")
  SCOPE=$(jq -r .scope "$TMP/body")
}

# refresh TOKEN: POST a refresh with Basic auth (STATUS, body)
refresh() {
  http POST "$BASE/v2/o/token/" -u "$CLIENT_ID:$CLIENT_SECRET" \
    --data-urlencode grant_type=refresh_token --data-urlencode "refresh_token=$1"
}

# fhir PATH_AND_QUERY [token]: GET with a bearer token
fhir() {
  http GET "$BASE/v2/fhir/$1" -H "Authorization: Bearer ${2:-$ACCESS}" -H "Accept: application/fhir+json"
}

# walk QUERY [token]: follow next links from ExplanationOfBenefit?QUERY; every
# page is appended (one JSON document per line) to $TMP/walk.ndjson
walk() {
  local url="$BASE/v2/fhir/ExplanationOfBenefit/?$1" pages=0
  : >"$TMP/walk.ndjson"
  while [ -n "$url" ]; do
    http GET "$url" -H "Authorization: Bearer ${2:-$ACCESS}"
    [ "$STATUS" == 200 ] || fail "page $url answered $STATUS: $(body)"
    jq -c . "$TMP/body" >>"$TMP/walk.ndjson"
    url=$(jq -r '(.link[] | select(.relation == "next") | .url) // empty' "$TMP/body")
    pages=$((pages + 1))
    [ $pages -lt 10000 ] || fail "walk does not end"
  done
  WALK_PAGES=$pages
}
