#!/usr/bin/env bash
# A token refresh interrupted mid-call gets no answer, so it proves nothing:
# the participant goes refresh_in_doubt and the refresh is retried; a retry
# that is itself interrupted (the daemon killed again) proves nothing either,
# so the participant stays in doubt instead of losing a refresh token that may
# well be unspent.  Here Blue Button never sees the calls (the API host is a
# black hole that accepts connections and never answers): after three
# interrupted calls the refresh token is still good, and the next daemon that
# reaches Blue Button refreshes it: no grant lost.  (Regression: the second
# interruption used to mark the participant needs_reconsent.)
. "$BB_SOURCE_ROOT/tests/lib.sh"
. "$BB_SOURCE_ROOT/tests/e2e/lib-e2e.sh"

setup_e2e refrint
BENES=20
python3 - "$tmp/hole.port" <<'EOP' &
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0)); s.listen(64)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
held = []
s.settimeout(1.0)
end = time.time() + 300
while time.time() < end:
    try:
        c, _ = s.accept(); held.append(c)   # accept, never answer
    except socket.timeout:
        pass
EOP
hole=$!
stop_hole() { kill "$hole" 2>/dev/null || true; wait "$hole" 2>/dev/null || true; }
cleanup_fns=(stop_hole "${cleanup_fns[@]}")
for i in $(seq 1 100); do [ -s "$tmp/hole.port" ] && break; sleep 0.05; done
HOLE_CFG=$tmp/hole.yaml
sed "s|^  base_url: .*|  base_url: https://127.0.0.1:$(cat "$tmp/hole.port")|" "$CFG" >"$HOLE_CFG"

start_daemon
enrol P0001 BBUser00001
expect_eq "$STATUS" 200 "P0001 enrolled"
enrol P0002 BBUser00002
expect_eq "$STATUS" 200 "P0002 enrolled"
record_tokens
gen0=$(sql "SELECT generation FROM bb.token WHERE participant_id = 'P0001'")
stop_daemon "$DAEMON_PID"
sql "UPDATE bb.participant SET next_sync_at = NULL" >/dev/null   # refreshes only

for round in 1 2 3; do
  start_daemon "$HOLE_CFG"
  sql "UPDATE bb.token SET next_refresh_at = now() WHERE participant_id = 'P0001'" >/dev/null
  wait_for 20 "SELECT refresh_started_at IS NOT NULL FROM bb.participant WHERE participant_id = 'P0001'" t \
    "round $round: the refresh of P0001 is marked in flight (the call hangs)"
  kill -KILL "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null || true
  pass "round $round: the daemon is killed mid-call"
done
start_daemon "$HOLE_CFG"
wait_for 20 "SELECT count(*) FROM bb.audit WHERE participant_id = 'P0001' AND event = 'state_changed'
             AND detail->>'reason' = 'refresh interrupted mid-call'" 3 \
  "each interruption was recorded at the next start"
expect_eq "$(sql "SELECT state FROM bb.participant WHERE participant_id = 'P0001'")" refresh_in_doubt \
  "after three interrupted calls P0001 is still only in doubt"
expect_eq "$(sql "SELECT count(*) FROM bb.token WHERE participant_id = 'P0001'")" 1 "its tokens are kept"
stop_daemon "$DAEMON_PID"

start_daemon
sql "UPDATE bb.token SET next_refresh_at = now() WHERE participant_id = 'P0001'" >/dev/null
wait_for 20 "SELECT state || ' ' || (generation - $gen0) FROM bb.participant JOIN bb.token USING (participant_id)
             WHERE participant_id = 'P0001'" "active 1" \
  "the daemon that reaches Blue Button refreshes it: active again, one generation on"
expect_eq "$(sb_admin GET /_admin/state?user=BBUser00001 | jq .pairs_issued)" 2 \
  "Blue Button issued exactly two pairs (enrolment, the one refresh): the hole never rotated anything"
expect_eq "$(sql "SELECT state FROM bb.participant WHERE participant_id = 'P0002'")" active "P0002 was never touched"
stop_daemon "$DAEMON_PID"
record_tokens
scan_logs "$tmp/daemon.log" "$tmp/cmd.log"
done_testing
