#!/usr/bin/env bash
# The unit's command line run the way systemd runs it (Type=notify): a
# notification socket, the credentials directory of LoadCredential=, a
# watchdog, journald's stream.  Checks the notification messages in order
# (READY=1 after the database and listener are up; STATUS= with live counts;
# WATCHDOG=1; RELOADING=1 + MONOTONIC_USEC ... READY=1 around SIGHUP, also a
# failing one; STOPPING=1), the journald priority prefixes, and that a
# daemon whose database is unreachable never says READY=1.
. "$BB_SOURCE_ROOT/tests/lib.sh"
. "$BB_SOURCE_ROOT/tests/service/svc-lib.sh"
new_db notify

make_credentials "$tmp/creds"
port=$(free_port)
# the API is not reachable here; that does not keep the daemon from starting
write_config "$tmp/bbingest.yaml" "$port" "https://127.0.0.1:1"

echo "# the unit's ExecStart: $(unit_command "$tmp/bbingest.yaml")"
start_daemon "$tmp/bbingest.yaml" WATCHDOG_USEC=1000000 WATCHDOG_PID=
wait_for "$tmp/notify.log" '^READY=1$' 30 "READY=1 arrives"
expect_eq "$(sql "SELECT count(*) > 0 FROM bb.schema_version")" "t" "migrations were applied before READY=1"
http_get "http://127.0.0.1:$port/metrics"
expect_eq "$http_status" "200" "the listener answers once READY=1 was sent"
wait_for "$tmp/notify.log" '^STATUS=participants: none yet; 0 pages stored; 0 requests in flight' 15 \
  "STATUS= with the counts of an empty database"

sql "INSERT INTO bb.participant (participant_id, state) VALUES ('P1', 'active'), ('P2', 'active'), ('P3', 'invited')"
sql "INSERT INTO bb.sync_cursor (participant_id, resource, pages) VALUES ('P1', 'ExplanationOfBenefit', 7)"
wait_for "$tmp/notify.log" '^STATUS=participants: 2 active, 1 invited; 7 pages stored' 15 \
  "STATUS= follows the database (participants by state, pages)"
wait_for "$tmp/notify.log" '^WATCHDOG=1$' 5 "WATCHDOG=1 is sent"
n1=$(grep -c '^WATCHDOG=1$' "$tmp/notify.log")
sleep 2.2
n2=$(grep -c '^WATCHDOG=1$' "$tmp/notify.log")
# WATCHDOG_USEC=1 s: at half of it, about 4 in 2.2 s; at least 3
expect_eq "$(( n2 - n1 >= 3 ))" "1" "WATCHDOG=1 at half of WATCHDOG_USEC (got $((n2 - n1)) in 2.2 s)"

# a good reload
sed -i 's/^  port: .*/&\n  # reloaded/' "$tmp/bbingest.yaml"
before=$(awk '{print $1 * 1000000}' /proc/uptime)
kill -HUP "$daemon_pid"
wait_for "$tmp/daemon.log" 'configuration reloaded' 10 "SIGHUP reloads"
wait_for "$tmp/notify.log" '^RELOADING=1 \| MONOTONIC_USEC=[0-9]+$' 5 "RELOADING=1 with MONOTONIC_USEC"
mono=$(sed -n 's/^RELOADING=1 | MONOTONIC_USEC=\([0-9]*\)$/\1/p' "$tmp/notify.log" | head -1)
after=$(awk '{print $1 * 1000000}' /proc/uptime)
# CLOCK_MONOTONIC and /proc/uptime differ by the time suspended at most; allow 5 s
expect_eq "$(awk -v m="$mono" -v b="$before" -v a="$after" 'BEGIN { print (m > b - 5e6 && m < a + 5e6) }')" "1" \
  "MONOTONIC_USEC is CLOCK_MONOTONIC now"

# a failing reload: an unknown key and a value out of range
cp "$tmp/bbingest.yaml" "$tmp/good.yaml"
printf 'sync:\n  concurrency: 0\n  colour: blue\n' >>"$tmp/bbingest.yaml"
kill -HUP "$daemon_pid"
wait_for "$tmp/daemon.log" 'configuration reload failed' 10 "a broken configuration is refused"
expect_match "$(cat "$tmp/daemon.log")" "bbingest.yaml:[0-9]+:[0-9]+: .*concurrency" "the refusal names file:line:column"
expect_match "$(cat "$tmp/daemon.log")" "keeping the running configuration" "the running configuration is kept"
kill -0 "$daemon_pid" || fail "the daemon died on a bad reload"
pass "the daemon is still running"
http_get "http://127.0.0.1:$port/metrics"
expect_match "$http_body" 'bbingest_config_reloads_total\{outcome="failed"\} 1' "the failed reload is counted"
expect_match "$http_body" 'bbingest_config_reloads_total\{outcome="ok"\} 1' "the good reload is counted"

kill -TERM "$daemon_pid"
wait_exit 40
expect_eq "$exit_code" "0" "SIGTERM: exit 0"

# the order of the state messages (STATUS= and WATCHDOG=1 come in between)
order=$(grep -Ev '^(STATUS=|WATCHDOG=1$)' "$tmp/notify.log" | sed 's/MONOTONIC_USEC=[0-9]*/MONOTONIC_USEC=N/' | paste -sd ' ')
expect_eq "$order" "READY=1 RELOADING=1 | MONOTONIC_USEC=N READY=1 RELOADING=1 | MONOTONIC_USEC=N READY=1 STOPPING=1" \
  "notification messages in order"
first_status=$(grep -n '^STATUS=' "$tmp/notify.log" | head -1 | cut -d: -f1)
first_ready=$(grep -n '^READY=1$' "$tmp/notify.log" | head -1 | cut -d: -f1)
expect_eq "$(( first_ready < first_status ))" "1" "the first STATUS= follows READY=1"
expect_eq "$(sed -n '/^STOPPING=1$/,$p' "$tmp/notify.log" | grep -Evc '^(STOPPING=1|STATUS=stopping.*)$' || true)" "0" \
  "after STOPPING=1 only a \"stopping\" STATUS= follows"

# journald: every line carries a syslog priority prefix, one event per line
bad=$(grep -Evc '^<[0-7]>[^<]' "$tmp/daemon.log" || true)
expect_eq "$bad" "0" "every log line starts with a syslog priority prefix under journald"
expect_match "$(cat "$tmp/daemon.log")" '^<5>bbingest 0\.[0-9.]+ running as ' "start-up is logged at notice (<5>)"
expect_match "$(cat "$tmp/daemon.log")" '^<3>.*configuration reload failed' "the failed reload is logged at error (<3>)"
if grep -q 'test-client-secret' "$tmp/daemon.log" "$tmp/notify.log"; then fail "the client secret was logged"; fi
if grep -qF "$(cat "$tmp/creds/$(cred_key)")" "$tmp/daemon.log" "$tmp/notify.log"; then fail "the key was logged"; fi
pass "neither the client secret nor the key appears in the log or the notifications"

# no READY=1 when the database is unreachable
cp "$tmp/good.yaml" "$tmp/nodb.yaml"
printf 'database:\n  conninfo: "host=127.0.0.1 port=1 connect_timeout=2"\n' >>"$tmp/nodb.yaml"
start_daemon "$tmp/nodb.yaml"
wait_exit 20
expect_eq "$exit_code" "69" "an unreachable database: exit 69 (EX_UNAVAILABLE)"
expect_eq "$(grep -c '^READY=1' "$tmp/notify.log" || true)" "0" "and no READY=1"
expect_match "$(cat "$tmp/daemon.log")" "could not connect to the database" "the log says why"

# no READY=1 when the listener's port is taken
python3 -c 'import socket,time,sys; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1",int(sys.argv[1]))); s.listen(); time.sleep(30)' "$port" &
blocker=$!
stop_blocker() { kill "$blocker" 2>/dev/null || true; }
cleanup_fns+=(stop_blocker)
sleep 0.5
start_daemon "$tmp/good.yaml"
wait_exit 20
expect_eq "$exit_code" "69" "the listener's port in use: exit 69"
expect_eq "$(grep -c '^READY=1' "$tmp/notify.log" || true)" "0" "and no READY=1"
expect_match "$(cat "$tmp/daemon.log")" "$port" "the log names the port"
stop_blocker

done_testing
