#!/usr/bin/env bash
# Security checks that the e2e tests do not already make (test_enrol.sh covers
# unknown, reused and expired invitations and replayed, forged, missing and
# expired states; test_sync_foreign.sh a next link to another host; the
# schema test the analyst grants on empty tables):
#   - no token, code, verifier, invitation or client secret in clear anywhere
#     in the database: a pg_dump of it and every file of the cluster (heap,
#     TOAST, indexes, WAL), with a canary proving the scan sees clear text;
#   - a callback with a state we did not issue binds nothing and the code is
#     never exchanged; a replayed successful callback exchanges nothing;
#   - a wrong sealing key: the daemon refuses to start, saying why;
#   - a certificate from an unknown CA: no token or FHIR call reaches the
#     server, enrolment fails cleanly, health says why;
#   - a login analyst reads the synced claims and nothing in bb;
#   - hostile command-line, configuration and HTTP inputs are refused cleanly
#     (sysexits code, a short message, no crash, the daemon keeps serving);
#   - no log of any of it holds a secret or a string of claim content.
. "$BB_SOURCE_ROOT/tests/lib.sh"
. "$BB_SOURCE_ROOT/tests/e2e/lib-e2e.sh"
. "$BB_SOURCE_ROOT/tests/e2e/sync_lib.sh"
. "$BB_SOURCE_ROOT/tests/campaign/lib-campaign.sh"

N=6
campaign_pg
setup_e2e security
sync_config "$CFG" "$LPORT" "concurrency: 4" "request_rate: 10000" "request_burst: 1000" "interval: 1h"
start_daemon
enrol_range 1 "$N"
wait_synced 120 "$N" "$N participants enrolled and synced"
record_tokens; record_verifiers
echo "# every token rotates once (old and new ones are both looked for)"
sql "UPDATE bb.token SET next_refresh_at = now()" >/dev/null
wait_for 30 "SELECT count(*) FROM bb.token WHERE generation = 2" "$N" "every grant refreshed"
record_tokens
sync_all_now
wait_synced 60 "$N" "synced again with the new tokens"
invite P0099                     # a pending invitation and authorization in the tables too
get "$LINK"; qparam "$LOCATION" state >>"$secrets"
record_verifiers

echo "# nothing secret in clear in the database"
sort -u "$secrets" | grep -v '^$' | awk 'length($0) >= 12' >"$tmp/secrets.u"
nsec=$(wc -l <"$tmp/secrets.u")
PGUSER=postgres sql "CREATE TABLE public.canary (t text); INSERT INTO canary VALUES ('canary-$$-clear-text-marker'); CHECKPOINT" >/dev/null
PGUSER=postgres pg_dump -d "$PGDATABASE" >"$tmp/dump.sql"
grep -q "canary-$$-clear-text-marker" "$tmp/dump.sql" || fail "the dump scan cannot see clear text"
if grep -F -f "$tmp/secrets.u" "$tmp/dump.sql" >/dev/null; then fail "a secret is in clear in pg_dump's output"; fi
pass "pg_dump of the database ($(wc -c <"$tmp/dump.sql") bytes) holds none of $nsec secrets"
grep -r -l -a -q "canary-$$-clear-text-marker" "$PG_DIR/data" || fail "the file scan cannot see clear text"
if grep -r -l -a -F -f "$tmp/secrets.u" "$PG_DIR/data" >"$tmp/hits"; then
  fail "a secret is in clear in $(head -1 "$tmp/hits")"
fi
pass "the cluster's $(find "$PG_DIR/data" -type f | wc -l) files ($(du -sb "$PG_DIR/data" | cut -f1) bytes: heap, TOAST, indexes, WAL) hold none of them"

echo "# a callback with a state we did not issue binds nothing"
user=BBUser00030
verifier=$(openssl rand -hex 32)
challenge=$(printf %s "$verifier" | openssl dgst -sha256 -binary | base64 | tr '+/' '-_' | tr -d '=')
fstate=forged-$(openssl rand -hex 16)
get "$SB/v2/o/authorize/?client_id=$CLIENT_ID&response_type=code&redirect_uri=$L/callback&state=$fstate&code_challenge=$challenge&code_challenge_method=S256&scope=patient/ExplanationOfBenefit.rs&login_hint=$user"
expect_eq "$STATUS" 302 "Blue Button hands a code to whoever started the flow"
qparam "$LOCATION" code >>"$secrets"
before=$(sql "SELECT (SELECT count(*) FROM bb.token) || '/' || (SELECT count(*) FROM bb.participant WHERE state = 'active')")
get "$LOCATION"
expect_eq "$STATUS" 400 "our callback refuses a state it never issued"
expect_eq "$(sb_admin GET "/_admin/state?user=$user" | jq .pairs_issued)" 0 "the code was never exchanged"
expect_eq "$(sql "SELECT (SELECT count(*) FROM bb.token) || '/' || (SELECT count(*) FROM bb.participant WHERE state = 'active')")" \
  "$before" "no grant bound, no participant changed"
enrol P0007 BBUser00007
expect_eq "$STATUS" 200 "P0007 enrolled"
issued=$(sb_admin GET "/_admin/state?user=BBUser00007" | jq .pairs_issued)
get "$CALLBACK"
expect_eq "$STATUS" 400 "the same successful callback replayed: refused"
expect_eq "$(sb_admin GET "/_admin/state?user=BBUser00007" | jq .pairs_issued)" "$issued" "and nothing exchanged again"
echo "P0007 BBUser00007" >>"$tmp/map"
N=$((N + 1))

echo "# an analyst (login role in bbingest_analyst) reads claims, never bb"
PGUSER=postgres sql "CREATE ROLE analyst LOGIN IN ROLE bbingest_analyst" >/dev/null
n=$(psql -X -A -t -q -U analyst -c "SELECT count(*) FROM claims.eob")
[ "$n" -gt 0 ] || fail "the analyst sees no claims"
pass "the analyst reads the $n synced claims"
for t in $(sql "SELECT schemaname || '.' || tablename FROM pg_tables WHERE schemaname = 'bb' ORDER BY 1"); do
  rc=0; msg=$(psql -X -q -U analyst -v ON_ERROR_STOP=1 -c "SELECT * FROM $t LIMIT 1" 2>&1) || rc=$?
  [ "$rc" -ne 0 ] && grep -q "permission denied" <<<"$msg" || fail "the analyst could read $t"
done
pass "every bb table refuses the analyst ($(sql "SELECT count(*) FROM pg_tables WHERE schemaname = 'bb'") tables)"
rc=0; psql -X -q -U analyst -v ON_ERROR_STOP=1 -c "SELECT pg_read_binary_file('global/pg_control')" >/dev/null 2>&1 || rc=$?
[ "$rc" -ne 0 ] && pass "nor can it read the server's files" || fail "the analyst read a server file"

echo "# hostile command-line input"
inputs=0
big=$(head -c 131000 /dev/zero | tr '\0' x)     # about the largest single argument Linux passes
hostile() { # WHAT EXPECTED_CODES command...: refused with one of the codes, a short message, no crash
  local what=$1 codes=$2 rc=0; shift 2
  timeout 20 "$@" >"$tmp/h.out" 2>"$tmp/h.err" </dev/null || rc=$?
  inputs=$((inputs + 1))
  cat "$tmp/h.err" >>"$tmp/cmd.log"
  [[ " $codes " == *" $rc "* ]] || { grep -A20 Sanitizer "$tmp/h.err" >&2 || head -c 600 "$tmp/h.err" >&2
    fail "$what: exit $rc, expected one of $codes"; }
  [ "$(wc -c <"$tmp/h.err")" -lt "${MAXERR:-4096}" ] || fail "$what: a message of $(wc -c <"$tmp/h.err") bytes (the input echoed?)"
  [ "$(awk '{ if (length($0) > m) m = length($0) } END { print m + 0 }' "$tmp/h.err")" -lt 1024 ] ||
    fail "$what: a message line longer than 1 KB"
  [ -s "$tmp/h.err" ] || fail "$what: refused without a word"
  ! grep -q "Sanitizer\|runtime error" "$tmp/h.err" || fail "$what: a sanitizer report"
  pass "$what: exit $rc, $(head -1 "$tmp/h.err" | cut -c1-100)"
}
for cmd in invite enroll-url status sync-now withdraw; do
  hostile "$cmd with a 131000-byte participant id" "64 65" "$BBINGEST" -c "$CFG" "$cmd" "$big"
done
hostile "invite with control bytes" "65" "$BBINGEST" -c "$CFG" invite $'P\x01\x02\x1b[31m'
hostile "invite with invalid UTF-8" "65" "$BBINGEST" -c "$CFG" invite $'P\xff\xfe\xc0\xaf'
hostile "invite with SQL in the id" "65" "$BBINGEST" -c "$CFG" invite "P1'; DROP TABLE bb.token; --"
hostile "invite with a path in the id" "65" "$BBINGEST" -c "$CFG" invite "../../etc/passwd"
hostile "invite with an id of 129 characters" "65" "$BBINGEST" -c "$CFG" invite "$(head -c 129 /dev/zero | tr '\0' a)"
hostile "a 131000-byte option" "64" "$BBINGEST" -c "$CFG" status "--$big"
hostile "a 131000-byte config path" "66 78" "$BBINGEST" -c "/tmp/$big" check-config
hostile "a 131000-byte BBINGEST_CONFIG" "66 78" env BBINGEST_CONFIG="/x$big" "$BBINGEST" check-config
hostile "load of 2 MB that is not JSON" "65" sh -c "head -c 2000000 /dev/urandom | '$BBINGEST' -c '$CFG' load -"
expect_eq "$(sql "SELECT count(*) FROM bb.participant WHERE participant_id !~ '^P[0-9]{4}\$'")" 0 \
  "none of it created a participant"
expect_eq "$(sql "SELECT count(*) FROM bb.token")" "$N" "the tokens are all there"

echo "# hostile configuration files"
cfgcase() { # NAME CONTENT-GENERATOR
  local name=$1; shift
  "$@" >"$tmp/$name.yaml"
  # one line per problem, at most CONFIG_MAX_PROBLEMS of them
  MAXERR=65536 hostile "config: $name ($(wc -c <"$tmp/$name.yaml") bytes)" "78" "$BBINGEST" -c "$tmp/$name.yaml" check-config
}
deep() { python3 -c 'print("api:\n  scopes: " + "[" * 100000 + "]" * 100000)'; }
deepmap() { python3 -c 'print("".join("  " * i + "k%d:\n" % i for i in range(200)))'; }
bomb() { python3 -c '
print("a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]")
for i in range(1, 12):
    p = chr(ord("a") + i - 1); c = chr(ord("a") + i)
    print(f"{c}: &{c} [" + ",".join(["*" + p] * 9) + "]")
print("api:\n  scopes: *l")'; }
huge() { head -c 3000000 /dev/zero | tr '\0' '#'; }
longstr() { python3 -c 'import re, sys; print(re.sub(r"(?m)^  client_id: .*$", "  client_id: " + "c" * 200000, open(sys.argv[1]).read()))' "$CFG"; }
withnul() { sed 's/^  client_id: \(.*\)/  client_id: \1/' "$CFG" | head -3; printf '  client_id: ab\0cd\n'; sed -n '4,$p' "$CFG" | grep -v client_id; }
badutf() { cat "$CFG"; printf 'log:\n  level: \xff\xfe\n'; }
manykeys() { sed 's/^sync:$/sync:\n  many_keys_follow: 1/' "$CFG" |
  python3 -c 'import sys; print(sys.stdin.read().replace("  many_keys_follow: 1\n", "".join("  k%d: 1\n" % i for i in range(50000))))'; }
binary() { head -c 100000 /dev/urandom; }
cfgcase deep deep
cfgcase deepmap deepmap
cfgcase bomb bomb
cfgcase huge huge
cfgcase longstr longstr
cfgcase nul withnul
cfgcase badutf badutf
cfgcase manykeys manykeys
cfgcase binary binary

echo "# hostile HTTP requests to the listener"
hget() { # WHAT URL: a 4xx answer or a closed connection, never a crash
  local code
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$2" || true)
  inputs=$((inputs + 1))
  [[ "$code" =~ ^(4[0-9][0-9]|000)$ ]] || fail "$1: answered $code"
  alive "$DAEMON_PID" "$1: $code, the daemon serves on"
}
hraw() { # WHAT PATH-BYTES: a raw request with a huge request line
  local code
  code=$(python3 - "$LPORT" "$2" <<'EOP'
import socket, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
s = socket.create_connection(("127.0.0.1", port), timeout=10)
try:
    s.sendall(b"GET /enroll?invite=" + b"A" * n + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
except OSError:
    pass   # the listener may close before reading it all
try:
    line = s.recv(64).split(b"\r\n")[0].split()
    print(line[1].decode() if len(line) > 1 else "000")
except OSError:
    print("000")
EOP
)
  inputs=$((inputs + 1))
  [[ "$code" =~ ^(4[0-9][0-9]|000)$ ]] || fail "$1: answered $code"
  alive "$DAEMON_PID" "$1: $code, the daemon serves on"
}
hraw "a 1 MB invitation" 1000000
hraw "a 60 KB invitation" 60000
hget "NUL and invalid UTF-8 in state and code" "$L/callback?state=%00%ff%fe%00abc&code=%00"
hget "ten thousand parameters" "$L/callback?$(python3 -c 'print("&".join("a%d=b" % i for i in range(10000)))')"
hget "the same parameter twice" "$L/callback?state=aaaaaaaaaaaaaaaaaaaa&state=bbbbbbbbbbbbbbbbbbbbbbbb&code=x"
hget "an error answer with a huge description" "$L/callback?error=access_denied&error_description=$(head -c 30000 /dev/zero | tr '\0' d)&state=zzzzzzzzzzzzzzzzzzzz"
wait_health 10 '^200 ok' "/healthz is still ok"
echo "# $inputs hostile inputs tried"

echo "# a wrong sealing key: the daemon refuses to start, saying why"
stop_daemon "$DAEMON_PID"
gens=$(sql "SELECT string_agg(participant_id || generation, ',' ORDER BY 1) FROM bb.token")
umask 077; openssl rand -hex 32 >"$tmp/wrong.key"; umask 022
cat "$tmp/wrong.key" >>"$secrets"
sed "s|^  key_file: .*|  key_file: $tmp/wrong.key|" "$CFG" >"$tmp/wrong.yaml"
rc=0; timeout 30 "$BBINGEST" -c "$tmp/wrong.yaml" run 2>"$tmp/wrongkey.log" || rc=$?
[ "$rc" -ne 0 ] && [ "$rc" -lt 128 ] || fail "with a wrong key the daemon exited $rc"
expect_match "$(cat "$tmp/wrongkey.log")" "token-sealing key \\(id [0-9a-f]{16}\\) does not open the tokens stored" \
  "it says the key does not open the stored tokens (exit $rc)"
expect_match "$(cat "$tmp/wrongkey.log")" "HINT: start with the key" "with a hint"
expect_eq "$(sql "SELECT string_agg(participant_id || generation, ',' ORDER BY 1) FROM bb.token")" "$gens" \
  "no token was touched"
expect_eq "$(sql "SELECT count(*) FROM bb.participant WHERE state = 'active'")" "$N" "nobody's state changed"

echo "# a server certificate from an unknown CA"
"$BB_SOURCE_ROOT/tests/sandbox/make-test-ca.sh" "$tmp/ca2" >/dev/null
stop_sandbox
start_sandbox "$SB_PORT" --tls-cert "$tmp/ca2/server.crt" --tls-key "$tmp/ca2/server.key"
CACERT=$tmp/ca2/ca.crt          # our admin calls trust it; the daemon's ca_file does not
start_daemon
wait_health 45 '^503 api: .*(certificate|SSL|TLS)' "/healthz says the API's certificate is refused"
sync_all_now
wait_for 30 "SELECT count(*) > 0 FROM bb.error WHERE kind IN ('network', 'token') AND at > now() - interval '1 minute'" t \
  "the sync attempts fail"
grep -Eq "certificate|SSL" "$tmp/daemon.log" || fail "the log does not say the certificate was refused"
pass "the log names the certificate problem"
invite P0040
get "$LINK"
expect_eq "$STATUS" 302 "an enrolment starts (the browser goes to Blue Button)"
out=$(curl -sS --cacert "$CACERT" -o /dev/null -w '%{http_code} %{redirect_url}' "$LOCATION&login_hint=BBUser00040")
cb=${out#* }
c=$(qparam "$cb" code); [ -z "$c" ] || printf '%s\n' "$c" >>"$secrets"
get "$cb"
expect_match "$STATUS" '^5[0-9][0-9]$' "the callback fails: the code exchange refuses the certificate ($STATUS)"
expect_eq "$(sb_admin GET /_admin/counters | jq '[.paths["/v2/o/token/"] // 0, .fhir_requests] | add')" 0 \
  "no token request and no FHIR request reached the impostor (the bearer token never left)"
expect_eq "$(sql "SELECT state FROM bb.participant WHERE participant_id = 'P0040'")" invited "P0040 is not enrolled"
stop_daemon "$DAEMON_PID"

echo "# logs"
record_tokens
logs=()
for f in "$tmp"/*.log "$tmp/sb.err" "$PG_DIR/log"; do [ -f "$f" ] && logs+=("$f"); done
scan_logs "${logs[@]}"
no_claim_content "${logs[@]}"
done_testing
