#!/usr/bin/env bash
# sync.error_retention: the daemon deletes errors (bb.error) older than the
# retention, at start and then once an hour, and keeps the recent ones; with
# 0 it keeps them all.  A reload changes it without a restart.
. "$BB_SOURCE_ROOT/tests/lib.sh"
. "$BB_SOURCE_ROOT/tests/e2e/lib-e2e.sh"
. "$BB_SOURCE_ROOT/tests/e2e/sync_lib.sh"

setup_e2e retention
# errors_at AGE COUNT TAG: COUNT errors dated AGE ago, messages "TAG n"
errors_at() {
  sql "INSERT INTO bb.error (at, kind, message)
       SELECT now() - interval '$1', 'http_5xx', '$3 ' || i FROM generate_series(1, $2) i" >/dev/null
}
tagged() { sql "SELECT count(*) FROM bb.error WHERE message LIKE '$1 %'"; }

errors_at '3 days' 25 old
errors_at '2 hours' 4 recent
sync_config "$CFG" "$LPORT" "error_retention: 1d"
start_daemon
wait_for 30 "SELECT count(*) FROM bb.error WHERE message LIKE 'old %'" 0 "errors older than the retention (1d) are deleted at start"
expect_eq "$(tagged recent)" "4" "errors within the retention are kept"
wait_for 10 "SELECT count(*) > 0 FROM bb.error" t "the table is not emptied" >/dev/null
expect_match "$(cat "$tmp/daemon.log")" "deleted 25 error records older than sync.error_retention \\(1 days\\)" \
  "the deletion is logged with its count"
stop_daemon "$DAEMON_PID"

# retention 0: nothing is deleted (the daemon is given the time the first
# deletion took above, several times over)
errors_at '400 days' 3 ancient
sync_config "$CFG" "$LPORT" "error_retention: 0"
start_daemon
sleep 3
expect_eq "$(tagged ancient)" "3" "with error_retention 0 old errors are kept"
expect_eq "$(tagged recent)" "4" "and so are the recent ones"
# the key is reloadable: a reload takes it with no restart warning (the next
# hourly round uses it; a restart starts a round at once)
sync_config "$CFG" "$LPORT" "error_retention: 1d"
kill -HUP "$DAEMON_PID"
wait_for 10 "SELECT count(*) > 0 FROM bb.error" t "the daemon runs on after the reload" >/dev/null
for i in $(seq 1 50); do grep -q "configuration reloaded" "$tmp/daemon.log" && break; sleep 0.1; done
expect_match "$(cat "$tmp/daemon.log")" "configuration reloaded" "a reload accepts the new retention"
expect_eq "$(grep -c 'error_retention.*next restart' "$tmp/daemon.log")" "0" "without asking for a restart"
stop_daemon "$DAEMON_PID"
start_daemon
wait_for 30 "SELECT count(*) FROM bb.error WHERE message LIKE 'ancient %'" 0 "after a restart with 1d the old errors go"
expect_eq "$(tagged recent)" "4" "the recent ones stay"
stop_daemon "$DAEMON_PID"
done_testing
