#!/usr/bin/env bash
# /healthz and /metrics on the listener: 200 "ok" when the database and the
# API answer; 503 naming the API when it fails (and 200 again when it is
# back); 503 naming the database when its connection is killed, then
# recovery; /metrics in the Prometheus text format with participants by
# state, rows per table, the request latency histogram, errors by kind and
# in-flight transfers; the listener binds to loopback by default; repeated
# failures are logged once per interval, not once per check.
. "$BB_SOURCE_ROOT/tests/lib.sh"
. "$BB_SOURCE_ROOT/tests/service/svc-lib.sh"
new_db health

# an HTTPS stand-in for the API's /v2/fhir/metadata, with its own certificate
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
  -addext subjectAltName=IP:127.0.0.1 -keyout "$tmp/api.key" -out "$tmp/api.crt" 2>/dev/null
mkdir "$tmp/ctl"
python3 "$svc_dir/api-stub.py" "$tmp/api.crt" "$tmp/api.key" "$tmp/api.port" "$tmp/ctl" &
stub=$!
stop_stub() { kill "$stub" 2>/dev/null || true; }
cleanup_fns+=(stop_stub)
for _ in $(seq 50); do [ -s "$tmp/api.port" ] && break; sleep 0.1; done
api="https://127.0.0.1:$(cat "$tmp/api.port")"

make_credentials "$tmp/creds"
port=$(free_port)
write_config "$tmp/bbingest.yaml" "$port" "$api" "$tmp/api.crt"
start_daemon "$tmp/bbingest.yaml"
wait_for "$tmp/notify.log" '^READY=1$' 30 "the daemon is ready"
base="http://127.0.0.1:$port"

ok=0
for _ in $(seq 50); do
  http_get "$base/healthz"
  [ "$http_status" = 200 ] && { ok=1; break; }
  sleep 0.2
done
expect_eq "$ok:$http_body" "1:ok" "/healthz: 200 ok when the database and the API answer"

# the API fails: a reload makes the daemon probe again at once
touch "$tmp/ctl/down"
kill -HUP "$daemon_pid"
for _ in $(seq 50); do
  http_get "$base/healthz"
  [ "$http_status" = 503 ] && break
  sleep 0.2
done
expect_eq "$http_status" "503" "/healthz: 503 when the API fails"
expect_match "$http_body" "^api: Blue Button API https://127\.0\.0\.1:[0-9]+ answered HTTP 503 to GET /v2/fhir/metadata$" \
  "the reason names the API and what it answered"
rm "$tmp/ctl/down"
kill -HUP "$daemon_pid"
for _ in $(seq 50); do
  http_get "$base/healthz"
  [ "$http_status" = 200 ] && break
  sleep 0.2
done
expect_eq "$http_status" "200" "/healthz: 200 again when the API is back"

# the database connection dies under the daemon
sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'bbingest'" >/dev/null
http_get "$base/healthz"
expect_eq "$http_status" "503" "/healthz: 503 when the database connection is gone"
expect_match "$http_body" "^database: " "the reason names the database"
if printf '%s' "$http_body" | grep -qi password; then fail "the reason shows connection details"; fi
http_get "$base/healthz"
expect_eq "$http_status:$http_body" "200:ok" "the next check reconnects: 200"
wait_for "$tmp/daemon.log" 'the database answers again' 5 "the recovery is logged once"

# metrics
sql "INSERT INTO bb.participant (participant_id, state) VALUES ('P1', 'active'), ('P2', 'needs_reconsent')"
sleep 6   # one status round (5 s) reads the counts
http_get "$base/metrics"
expect_eq "$http_status" "200" "/metrics: 200"
ctype=$(curl -s -o /dev/null -w '%{content_type}' "$base/metrics")
expect_eq "$ctype" "text/plain; version=0.0.4; charset=utf-8" "/metrics: the Prometheus content type"
m=$http_body
expect_match "$m" '^# TYPE bbingest_participants gauge$' "TYPE lines"
expect_match "$m" '^bbingest_participants\{state="active"\} 1$' "participants by state: active"
expect_match "$m" '^bbingest_participants\{state="needs_reconsent"\} 1$' "participants by state: needs_reconsent"
expect_match "$m" '^bbingest_pages_total\{outcome="stored"\} [0-9]+$' "pages"
expect_match "$m" '^bbingest_table_rows\{table="eob"\} [0-9]+$' "rows per table"
expect_match "$m" '^bbingest_refreshes_total\{outcome="ok"\} [0-9]+$' "refreshes by outcome"
expect_match "$m" '^bbingest_errors_total\{kind="http_5xx"\} [1-9][0-9]*$' "errors by kind (the API's 503 was counted)"
expect_match "$m" '^bbingest_request_duration_seconds_count\{endpoint="metadata"\} [3-9][0-9]*$' \
  "request latency histogram (the probes)"
expect_match "$m" '^bbingest_request_duration_seconds_bucket\{endpoint="metadata",le="\+Inf"\} [0-9]+$' "histogram buckets"
expect_match "$m" '^bbingest_inflight_transfers [0-9]+$' "in-flight transfers"
expect_match "$m" '^bbingest_pages_waiting [0-9]+$' "pages waiting for a writer"
expect_match "$m" '^bbingest_up\{component="database"\} 1$' "database up"
expect_match "$m" '^bbingest_up\{component="api"\} 1$' "api up"
bad=$(printf '%s\n' "$m" | grep -Evc '^(# (HELP|TYPE) bbingest_[a-z_]+ .+|bbingest_[a-z_]+(\{[a-z_]+="[^"]*"(,le="[^"]+")?\})? -?[0-9.e+]+)$' || true)
expect_eq "$bad" "0" "every line is valid exposition format"

# routes: unknown path and wrong method
http_get "$base/nope"
expect_eq "$http_status" "404" "an unknown path is 404"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$base/healthz")" "405" "POST /healthz is 405"

# loopback only by default: no listening socket on another address
if ss -Htln "sport = :$port" | awk '{print $4}' | grep -qv '^127\.0\.0\.1:'; then
  fail "the listener binds beyond loopback: $(ss -Htln "sport = :$port")"
fi
expect_eq "$(ss -Htln "sport = :$port" | awk '{print $4}')" "127.0.0.1:$port" "the listener binds to 127.0.0.1 by default"

# repeated identical failures are rate-limited: the API down for many probes
touch "$tmp/ctl/down"
for _ in 1 2 3 4 5; do kill -HUP "$daemon_pid"; sleep 0.5; done
n=$(grep -c 'answered HTTP 503 to GET' "$tmp/daemon.log" || true)
# the first failure earlier, and the first of this burst at most once more
expect_eq "$(( n >= 1 && n <= 2 ))" "1" "five failed probes in a row are logged at most once more (logged $n in all)"
http_get "$base/metrics"
fails=$(printf '%s\n' "$http_body" | sed -n 's/^bbingest_errors_total{kind="http_5xx"} //p')
expect_eq "$(( fails >= 5 ))" "1" "while the failures were all counted ($fails HTTP 5xx)"

kill -TERM "$daemon_pid"
wait_exit 40
expect_eq "$exit_code" "0" "exit 0 on SIGTERM"
done_testing
