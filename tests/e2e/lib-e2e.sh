# Shared set-up of the e2e tests (sourced after tests/lib.sh): a database of
# the test's own, a test CA, bbsandbox over HTTPS, a sealing key, a client
# secret, a configuration pointing at the sandbox, and the daemon.
#
# Every secret the tests see (invitation tokens, states, codes, tokens,
# verifiers, the client secret, the key) is appended to $tmp/secrets, and
# scan_logs checks that none of them appears in any log the tests kept.

: "${BBSANDBOX:?run under meson test}"
: "${BBTEST_UNSEAL:?run under meson test}"
E2E_DIR="$BB_SOURCE_ROOT/tests/e2e"
CLIENT_ID=e2eclient0000000000000000000000000000001
CLIENT_SECRET=e2e-secret-$(openssl rand -hex 12)
ADMIN=e2e-admin-token
SB_PID=
DAEMON_PIDS=()
secrets=$tmp/secrets
: >"$secrets"
printf '%s\n' "$CLIENT_SECRET" >>"$secrets"

"$BB_SOURCE_ROOT/tests/sandbox/make-test-ca.sh" "$tmp/ca" >/dev/null
CACERT=$tmp/ca/ca.crt

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# start_sandbox [PORT] [extra options]
start_sandbox() {
  local port=${1:-0}; shift || true
  "$BBSANDBOX" --listen "127.0.0.1:$port" --seed 11 --beneficiaries "${BENES:-220}" \
    --tls-cert "$tmp/ca/server.crt" --tls-key "$tmp/ca/server.key" \
    --client-id "$CLIENT_ID" --client-secret "$CLIENT_SECRET" \
    --redirect-uri http://127.0.0.1/callback --admin-token "$ADMIN" "$@" \
    >"$tmp/sb.out" 2>>"$tmp/sb.err" &
  SB_PID=$!
  local i
  for i in $(seq 1 200); do
    grep -q '^listening on ' "$tmp/sb.out" 2>/dev/null && break
    kill -0 "$SB_PID" 2>/dev/null || fail "bbsandbox exited at start: $(tail -5 "$tmp/sb.err")"
    sleep 0.05
  done
  SB_PORT=$(sed -n 's/^listening on 127.0.0.1:\([0-9]*\)$/\1/p' "$tmp/sb.out")
  [ -n "$SB_PORT" ] || fail "bbsandbox did not print its port"
  SB=https://127.0.0.1:$SB_PORT
}

stop_sandbox() {
  if [ -n "$SB_PID" ]; then
    kill -TERM "$SB_PID" 2>/dev/null || true
    wait "$SB_PID" 2>/dev/null || true
    SB_PID=
  fi
}

sb_admin() { # METHOD PATH [curl args]
  local method=$1 path=$2; shift 2
  curl -sS --cacert "$CACERT" -X "$method" -H "X-Admin-Token: $ADMIN" "$@" "$SB$path"
}

# introspect TOKEN -> true/false
introspect() {
  curl -sS --cacert "$CACERT" -u "$CLIENT_ID:$CLIENT_SECRET" --data-urlencode "token=$1" \
    "$SB/v2/o/introspect/" | jq -r .active
}

# refresh_status TOKEN -> HTTP status of a refresh with it (spends it if alive)
refresh_status() {
  curl -sS --cacert "$CACERT" -u "$CLIENT_ID:$CLIENT_SECRET" -o /dev/null -w '%{http_code}' \
    --data-urlencode grant_type=refresh_token --data-urlencode "refresh_token=$1" "$SB/v2/o/token/"
}

# write_config FILE LISTEN_PORT
write_config() {
  local file=$1 lport=$2
  cat >"$file" <<EOC
api:
  base_url: $SB
  client_id: $CLIENT_ID
  client_secret_file: $tmp/client_secret
  redirect_uri: http://127.0.0.1:$lport/callback
  scopes: [launch/patient, patient/Patient.rs, patient/Coverage.rs, patient/ExplanationOfBenefit.rs]
  ca_file: $CACERT
  token_timeout: 30s
database:
  conninfo: ""
vault:
  key_file: $tmp/vault.key
listener:
  address: 127.0.0.1
  port: $lport
  public_url: http://127.0.0.1:$lport
sync:
  retry_base: 1s
  retry_max: 4s
refresh:
  interval: 1h
  jitter: 0s
  ahead: 5m
log:
  level: info
  format: plain
EOC
}

setup_e2e() {
  new_db "$1"
  umask 077
  openssl rand -hex 32 >"$tmp/vault.key"
  cat "$tmp/vault.key" >>"$secrets"
  printf '%s\n' "$CLIENT_SECRET" >"$tmp/client_secret"
  umask 022
  start_sandbox
  LPORT=$(free_port)
  CFG=$tmp/bbingest.yaml
  write_config "$CFG" "$LPORT"
  L=http://127.0.0.1:$LPORT
  "$BBINGEST" -c "$CFG" migrate >/dev/null 2>>"$tmp/cmd.log" || fail "migrate failed: $(tail -3 "$tmp/cmd.log")"
}

# start_daemon [CONFIG] [LOGFILE]: bbingest run in the background, wait for its listener
start_daemon() {
  local cfg=${1:-$CFG} log=${2:-$tmp/daemon.log} port i
  port=$(sed -n 's/^  port: //p' "$cfg")
  "$BBINGEST" -c "$cfg" run 2>>"$log" &
  DAEMON_PIDS+=($!)
  DAEMON_PID=$!
  for i in $(seq 1 200); do
    curl -s -o /dev/null "http://127.0.0.1:$port/healthz" && return 0
    kill -0 "$DAEMON_PID" 2>/dev/null || fail "bbingest run exited at start: $(tail -5 "$log")"
    sleep 0.05
  done
  fail "bbingest run did not open its listener"
}

# stop_daemon PID: SIGTERM, expect exit 0
stop_daemon() {
  local pid=$1 st=0
  kill -TERM "$pid" 2>/dev/null || return 0
  wait "$pid" || st=$?
  [ "$st" -eq 0 ] || fail "bbingest run exited with $st after SIGTERM"
}

stop_all() {
  local p
  for p in "${DAEMON_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${DAEMON_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  DAEMON_PIDS=()
  stop_sandbox
}
cleanup_fns+=(stop_all)

# invite ID -> sets LINK, records the token
invite() {
  LINK=$("$BBINGEST" -c "$CFG" invite "$1" 2>>"$tmp/cmd.log") || fail "invite $1 failed: $(tail -3 "$tmp/cmd.log")"
  printf '%s\n' "${LINK##*invite=}" >>"$secrets"
}

# get URL [curl args]: STATUS, LOCATION, body in $tmp/page
get() {
  local url=$1; shift
  local out
  out=$(curl -sS --cacert "$CACERT" -o "$tmp/page" -w '%{http_code} %{redirect_url}' "$@" "$url") \
    || out="curl-error"
  STATUS=${out%% *}
  LOCATION=${out#* }
  [ "$LOCATION" != "$out" ] || LOCATION=
}

qparam() { # URL NAME
  printf '%s' "$1" | sed -n "s/.*[?&]$2=\([^&]*\).*/\1/p"
}

# enrol ID USER [extra authorize query]: /enroll -> sandbox -> /callback; sets STATUS of the
# callback page, CALLBACK (its URL)
enrol() {
  local id=$1 user=$2 extra=${3:-}
  invite "$id"
  get "$LINK"
  [ "$STATUS" == 302 ] || fail "enroll for $id answered $STATUS: $(cat "$tmp/page")"
  qparam "$LOCATION" state >>"$secrets"
  get "$LOCATION&login_hint=$user${extra:+&$extra}"
  [ "$STATUS" == 302 ] || fail "sandbox authorize for $id answered $STATUS: $(cat "$tmp/page")"
  CALLBACK=$LOCATION
  case "$CALLBACK" in "$L/callback?"*) ;; *) fail "sandbox redirected $id elsewhere: $CALLBACK";; esac
  c=$(qparam "$CALLBACK" code); [ -z "$c" ] || printf '%s\n' "$c" >>"$secrets"
  get "$CALLBACK"
}

# record_tokens: every clear token now held goes to the secrets list (and $tmp/tokens.now)
record_tokens() {
  "$BBTEST_UNSEAL" "$tmp/vault.key" tokens >"$tmp/tokens.now" || fail "bbtest-unseal failed"
  awk '{print $2; print $3}' "$tmp/tokens.now" >>"$secrets"
}

record_verifiers() {
  "$BBTEST_UNSEAL" "$tmp/vault.key" verifiers >>"$secrets" || fail "bbtest-unseal failed"
}

# wait_for SECONDS SQL EXPECTED WHAT
wait_for() {
  local secs=$1 q=$2 want=$3 what=$4 i got=
  for i in $(seq 1 $((secs * 10))); do
    got=$(sql "$q")
    [ "$got" == "$want" ] && { pass "$what"; return 0; }
    sleep 0.1
  done
  fail "$what: waited ${secs}s, [$q] gives [$got], expected [$want]"
}

# scan_logs FILE...: no recorded secret appears in any of them
scan_logs() {
  local f n
  sort -u "$secrets" | grep -v '^$' | awk 'length($0) >= 12' >"$tmp/secrets.u"
  n=$(wc -l <"$tmp/secrets.u")
  [ "$n" -gt 0 ] || fail "no secrets recorded"
  for f in "$@"; do
    [ -f "$f" ] || continue
    if grep -F -f "$tmp/secrets.u" "$f" >/dev/null; then
      fail "a secret value appears in $f (line $(grep -n -F -f "$tmp/secrets.u" "$f" | head -1 | cut -d: -f1))"
    fi
  done
  pass "none of $n secret values appears in $(echo "$@" | wc -w) logs"
}

# scan_table_bytes TABLE: the table's raw file holds no clear token
scan_table_bytes() {
  sql "CHECKPOINT" >/dev/null
  sql "SELECT encode(pg_read_binary_file(pg_relation_filepath('$1')), 'hex')" >"$tmp/raw.hex"
  python3 - "$tmp/raw.hex" "$tmp/tokens.now" <<'EOP' || fail "a clear token is in the raw bytes of $1"
import sys
raw = bytes.fromhex(open(sys.argv[1]).read().strip())
toks = set()
for line in open(sys.argv[2]):
    f = line.split()
    if len(f) >= 3:
        toks.update([f[1], f[2]])
if len(raw) < 8192 or not toks:
    sys.exit("nothing to scan")
bad = [t for t in toks if t.encode() in raw]
sys.exit(1 if bad else 0)
EOP
  pass "the raw bytes of $1 ($(( $(wc -c <"$tmp/raw.hex") / 2 )) bytes) hold none of $(wc -l <"$tmp/tokens.now") participants' clear tokens"
}
