#!/usr/bin/env bash
# Benchmark of the sync engine (printed, not asserted):
#   1. N participants (default 2,000) against bbsandbox with 100 ms injected
#      latency and sync.concurrency 64: wall time against the ideal
#      requests x latency / concurrency (target within 1.3x), and the
#      daemon's peak RSS while syncing;
#   1b. the same with small pages (one claim type): the engine against the
#      ideal when the database is not the bound;
#   2. the same sync with no latency on loopback: pages/s and rows/s, against
#      the loader's own figure (`bbingest load` of the same pages saved to
#      files: no network, no token service, no scheduling);
#   3. peak RSS of the daemon with 100,000 participants enrolled (the N real
#      ones syncing again, the rest not due); target under 64 MiB.
#
#   tests/bench/bench_sync.sh [BUILD_DIR]     (default: build)
# Runs itself inside pg_virtualenv when no PostgreSQL is given (PGHOST unset).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${1:-build}
case "$build" in /*) ;; *) build=$root/$build;; esac
export BB_SOURCE_ROOT=$root
export BBINGEST=$build/daemon/bbingest BBSANDBOX=$build/tests/sandbox/bbsandbox \
       BBTEST_UNSEAL=$build/tests/e2e/bbtest-unseal
for f in "$BBINGEST" "$BBSANDBOX" "$BBTEST_UNSEAL"; do
  [ -x "$f" ] || { echo "bench_sync: $f is missing; build first (meson setup build && ninja -C build)" >&2; exit 1; }
done
if [ -z "${PGHOST:-}" ]; then
  exec pg_virtualenv -t -v 15 -- "$0" "$@"
fi

. "$root/tests/lib.sh"
. "$root/tests/e2e/lib-e2e.sh"
. "$root/tests/e2e/sync_lib.sh"

calc() { python3 -c "print($1)"; }

N=${BENCH_PARTICIPANTS:-2000}
ENROLLED=${BENCH_ENROLLED:-100000}
LATENCY_MS=${BENCH_LATENCY_MS:-100}
CONC=${BENCH_CONCURRENCY:-64}
PHASES=" ${BENCH_PHASES:-1 1b 2 3} "     # a subset, e.g. BENCH_PHASES=1b, for quick looks
phase() { [[ $PHASES == *" $1 "* ]]; }
export BENES=$((N + 1))

setup_e2e benchsync
sync_config "$CFG" "$LPORT" "concurrency: $CONC" "request_rate: 10000" "request_burst: 10000" \
  "interval: 24h" "lease_batch: $CONC"
sed -i 's/level: info/level: notice/' "$CFG"

echo "# enrolling $N participants through the sandbox (enroll-url -> authorize -> /callback)"
start_daemon
python3 "$root/tests/bench/sync_enrol.py" "$BBINGEST" "$CFG" "$CACERT" 1 "$N" 8
wait_synced 1800 "$N" "first sync of $N participants" >/dev/null
stop_daemon "$DAEMON_PID"

reset_sync() {
  sql "BEGIN; TRUNCATE claims.eob, claims.patient, claims.coverage CASCADE; DELETE FROM bb.sync_cursor;
       UPDATE bb.participant SET next_sync_at = now(), last_sync_at = NULL
       WHERE participant_id LIKE 'P%'; COMMIT" >/dev/null 2>&1
}
claim_rows() {
  sql "SELECT (SELECT count(*) FROM claims.eob) + (SELECT count(*) FROM claims.eob_item)
    + (SELECT count(*) FROM claims.eob_item_adjudication) + (SELECT count(*) FROM claims.eob_item_detail)
    + (SELECT count(*) FROM claims.eob_diagnosis)
    + (SELECT count(*) FROM claims.eob_procedure) + (SELECT count(*) FROM claims.eob_care_team)
    + (SELECT count(*) FROM claims.eob_supporting_info) + (SELECT count(*) FROM claims.eob_total)
    + (SELECT count(*) FROM claims.eob_extension) + (SELECT count(*) FROM claims.patient)
    + (SELECT count(*) FROM claims.coverage)"
}

# run_sync LATENCY_MS: one full sync of the N participants from scratch by a
# fresh daemon; sets WALL (s), REQS, PAGES, ROWS, RSS_KB (peak)
run_sync() {
  set_faults "latency-ms=$1"
  reset_sync
  sb_admin POST /_admin/counters/reset >/dev/null
  local t0 t1 hwm
  CPU_S0=$(awk -v t="$(getconf CLK_TCK)" '{print ($14 + $15) / t}' "/proc/$SB_PID/stat")
  t0=$(date +%s.%N)
  start_daemon "$CFG" "$tmp/daemon.log"
  wait_synced 3600 "$N" "sync" "P%" >/dev/null
  t1=$(date +%s.%N)
  RSS_KB=$(awk '/^VmHWM:/ {print $2}' "/proc/$DAEMON_PID/status")
  # CPU seconds (user + system) of the daemon and of the sandbox during the run
  CPU_D=$(awk -v t="$(getconf CLK_TCK)" '{print ($14 + $15) / t}' "/proc/$DAEMON_PID/stat")
  CPU_S1=$(awk -v t="$(getconf CLK_TCK)" '{print ($14 + $15) / t}' "/proc/$SB_PID/stat")
  CPU_S=$(calc "$CPU_S1 - $CPU_S0")
  stop_daemon "$DAEMON_PID"
  WALL=$(calc "$t1 - $t0")
  DB_S=$(sed -n 's/.*sync: .*(\([0-9.]*\) s in the database).*/\1/p' "$tmp/daemon.log" | tail -1)
  LOOP_S=$(sed -n 's/.*its loop was busy (not waiting) for \([0-9.]*\) s.*/\1/p' "$tmp/daemon.log" | tail -1)
  REQS=$(fhir_requests)
  PAGES=$(sql "SELECT sum(pages) FROM bb.sync_cursor")
  ROWS=$(claim_rows)
  set_faults latency-ms=0
}

if phase 1; then
echo "# 1. $N participants, ${LATENCY_MS} ms latency, concurrency $CONC"
run_sync "$LATENCY_MS"
ideal=$(calc "$REQS * $LATENCY_MS / 1000 / $CONC")
printf 'sync with latency: %d requests, %d pages, %d rows in %.2f s; ideal %.2f s (requests x %d ms / %d); ratio %.2fx (target <= 1.3x)\n' \
  "$REQS" "$PAGES" "$ROWS" "$WALL" "$ideal" "$LATENCY_MS" "$CONC" "$(calc "$WALL / $ideal")"
printf 'daemon peak RSS while syncing %d participants: %.1f MiB\n' "$N" "$(calc "$RSS_KB / 1024")"
printf 'CPU: daemon %.1f s, sandbox %.1f s (2 cores shared with PostgreSQL); the writers spent %.1f s storing pages; the loop was busy %.1f s\n' "$CPU_D" "$CPU_S" "${DB_S:-0}" "${LOOP_S:-0}"
lat_wall=$WALL
fi

if phase 1b; then
echo "# 1b. the same with small pages (claim_types: [hospice]): the database is not the bound"
cp "$CFG" "$tmp/heavy.yaml"
sync_config "$CFG" "$LPORT" "concurrency: $CONC" "request_rate: 10000" "request_burst: 10000" \
  "interval: 24h" "lease_batch: $CONC" "claim_types: [hospice]"
sed -i 's/level: info/level: notice/' "$CFG"
run_sync "$LATENCY_MS"
small_ideal=$(calc "$REQS * $LATENCY_MS / 1000 / $CONC")
printf 'small pages with latency: %d requests, %d rows in %.2f s; ideal %.2f s; ratio %.2fx (target <= 1.3x)\n' \
  "$REQS" "$ROWS" "$WALL" "$small_ideal" "$(calc "$WALL / $small_ideal")"
printf 'CPU: daemon %.1f s, sandbox %.1f s; the writers spent %.1f s storing pages; the loop was busy %.1f s\n' "$CPU_D" "$CPU_S" "${DB_S:-0}" "${LOOP_S:-0}"
cp "$tmp/heavy.yaml" "$CFG"
fi

if phase 2; then
echo "# 2. no latency, loopback"
run_sync 0
printf 'sync without latency: %d pages, %d rows in %.2f s: %.0f pages/s, %.0f rows/s\n' \
  "$PAGES" "$ROWS" "$WALL" "$(calc "$PAGES / $WALL")" "$(calc "$ROWS / $WALL")"
printf 'CPU: daemon %.1f s, sandbox %.1f s; the writers spent %.1f s storing pages; the loop was busy %.1f s\n' "$CPU_D" "$CPU_S" "${DB_S:-0}" "${LOOP_S:-0}"
if [ -n "${lat_wall:-}" ]; then
floor=$(calc "max($ideal, $WALL)")
printf 'with latency against max(network ideal, the same sync without latency) = %.2f s: %.2fx\n' \
  "$floor" "$(calc "$lat_wall / $floor")"
fi
sync_pps=$(calc "$PAGES / $WALL"); sync_rps=$(calc "$ROWS / $WALL")
record_tokens
read -r fpages fbytes < <(python3 "$root/tests/bench/sync_fetch.py" "$SB" "$CACERT" "$tmp/tokens.now" "$tmp/pages" 8)
reset_sync
t0=$(date +%s.%N)
find "$tmp/pages" -name '*.json' -print0 | xargs -0 "$BBINGEST" -c "$CFG" load >/dev/null 2>"$tmp/load.log"
t1=$(date +%s.%N)
lwall=$(calc "$t1 - $t0")
lrows=$(claim_rows)
printf 'loader alone (bbingest load of the same %d pages, %.1f MB): %d rows in %.2f s: %.0f pages/s, %.0f rows/s\n' \
  "$fpages" "$(calc "$fbytes / 1000000")" "$lrows" "$lwall" "$(calc "$fpages / $lwall")" \
  "$(calc "$lrows / $lwall")"
printf 'sync / loader: %.2f (pages/s), %.2f (rows/s)\n' \
  "$(calc "$sync_pps / ($fpages / $lwall)")" "$(calc "$sync_rps / ($lrows / $lwall)")"

fi

if phase 3; then
echo "# 3. $ENROLLED participants enrolled ($N of them due)"
extra=$((ENROLLED - N))
sql "INSERT INTO bb.participant (participant_id, state, patient_id, demographics, enrolled_at, next_sync_at, last_sync_at)
     SELECT 'X' || lpad(i::text, 7, '0'), 'active', '-1999' || i, true, now(), now() + interval '1 day', now()
     FROM generate_series(1, $extra) i;
     INSERT INTO bb.token (participant_id, key_id, access_sealed, refresh_sealed, access_expires_at,
                           next_refresh_at, obtained_at)
     SELECT participant_id, 'bench', '\\x00', '\\x00', now() + interval '1 hour', now() + interval '30 days',
            now() - interval '1 year'
     FROM bb.participant WHERE participant_id LIKE 'X%'" >/dev/null
expect_eq "$(sql "SELECT count(*) FROM bb.participant WHERE state = 'active'")" "$ENROLLED" "$ENROLLED enrolled" >/dev/null
run_sync 0
printf 'daemon peak RSS with %d participants enrolled, %d syncing: %.1f MiB (target < 64 MiB)\n' \
  "$ENROLLED" "$N" "$(calc "$RSS_KB / 1024")"
fi
