#!/usr/bin/env bash
# Crash at any moment: SIGKILL the daemon at random moments while participants
# enrol, tokens are refreshed (on a schedule and on demand) and claims sync,
# restart it at once, and compare the final database with an uninterrupted run
# over the same sandbox seed.
#
#   tests/campaign/crash_campaign.sh [--kills N] [--participants P] [--seed S]
#                                    [--build-dir DIR] [--report FILE]
#
# Defaults: 8 kills, 10 participants (the CI form, suite campaign); the full
# campaign is e.g. --kills 60 --participants 40 (RELIABILITY.md).  Run by hand
# it needs only a build (default ./build); it starts its own PostgreSQL
# cluster, sandbox and daemons, and removes them at the end.
#
# Checks, in order:
#   - every kill is followed by a restart that works (no manual repair);
#   - grants lost (participants in needs_reconsent) are counted, and each
#     must be explained by a kill that landed between Blue Button's token
#     answer and our commit: the sandbox counts the token pairs it issued per
#     beneficiary, bb.audit holds one 'enrolled' or 'refreshed' row per pair
#     committed (same transaction), so issued - committed is exactly the
#     number of such kills; a lost grant without one fails the campaign;
#   - after the lost participants consented again, the claims tables equal
#     the uninterrupted run's: per-table row counts and exact sums of every
#     numeric column, and the md5 of an ordered dump of every claims table
#     (fetched_at, the only time-of-storage column, left out); the cursors
#     (bb.sync_cursor: no walk left open, same watermarks) equal too;
#   - the claims equal the sandbox's ground truth (sync_truth.py);
#   - no token, secret or claim payload in any log.
set -euo pipefail

KILLS=8
PARTS=10
SEED=
BUILD_DIR=
REPORT=
while [ $# -gt 0 ]; do
  case $1 in
    --kills) KILLS=$2; shift 2;;
    --participants) PARTS=$2; shift 2;;
    --seed) SEED=$2; shift 2;;
    --build-dir) BUILD_DIR=$2; shift 2;;
    --report) REPORT=$2; shift 2;;
    -h|--help) sed -n '2,30p' "$0"; exit 0;;
    *) echo "crash_campaign.sh: unknown argument \"$1\"; see --help" >&2; exit 64;;
  esac
done
[[ "$KILLS" =~ ^[0-9]+$ ]] && [ "$KILLS" -le 10000 ] || { echo "--kills: 0 to 10000" >&2; exit 64; }
[[ "$PARTS" =~ ^[0-9]+$ ]] && [ "$PARTS" -ge 1 ] && [ "$PARTS" -le 2000 ] ||
  { echo "--participants: 1 to 2000" >&2; exit 64; }
SEED=${SEED:-$((RANDOM * 32768 + RANDOM))}

if [ -z "${BBINGEST:-}" ]; then
  src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  b=$(cd "${BUILD_DIR:-$src/build}" && pwd)
  export BB_SOURCE_ROOT=$src BB_BUILD_ROOT=$b BBINGEST=$b/daemon/bbingest
  export BBSANDBOX=$b/tests/sandbox/bbsandbox BBTEST_UNSEAL=$b/tests/e2e/bbtest-unseal
  export BBTEST_TOKENS=$b/tests/e2e/bbtest-tokens
  for f in "$BBINGEST" "$BBSANDBOX" "$BBTEST_UNSEAL"; do
    [ -x "$f" ] || { echo "crash_campaign.sh: $f is missing; build first (ninja -C $b)" >&2; exit 66; }
  done
fi

. "$BB_SOURCE_ROOT/tests/lib.sh"
. "$BB_SOURCE_ROOT/tests/e2e/lib-e2e.sh"
. "$BB_SOURCE_ROOT/tests/e2e/sync_lib.sh"
. "$BB_SOURCE_ROOT/tests/campaign/lib-campaign.sh"

echo "# crash campaign: $KILLS kills, $PARTS participants, sandbox seed $SEED"
campaign_pg "max_connections=100"
BENES=$((PARTS + 20))
EXPIRES=40            # access tokens live 40 s: on-demand refreshes during syncs
TOKEN_DELAY_MS=300    # token answers travel slowly: a real window to land in
umask 077
openssl rand -hex 32 >"$tmp/vault.key"
cat "$tmp/vault.key" >>"$secrets"
printf '%s\n' "$CLIENT_SECRET" >"$tmp/client_secret"
umask 022
start=$(date +%s)

# setup_run NAME: a database, a sandbox on the seed, a configuration
setup_run() {
  local name=$1
  new_db "$name"
  start_sandbox 0 --seed "$SEED" --expires-in "$EXPIRES" --latency-ms 40 \
    --token-reply-delay-ms "$TOKEN_DELAY_MS"
  LPORT=$(free_port)
  CFG=$tmp/$name.yaml
  L=http://127.0.0.1:$LPORT
  sync_config "$CFG" "$LPORT" "concurrency: 4" "request_rate: 10000" "request_burst: 1000" \
    "interval: 1h" "page_size: 5" "lease: 30s"
  sed -i 's/^  ahead: .*/  ahead: 10s/' "$CFG"
  "$BBINGEST" -c "$CFG" migrate >/dev/null 2>>"$tmp/cmd.log" || fail "migrate failed: $(tail -3 "$tmp/cmd.log")"
}

# enrol_try ID USER: one attempt through /enroll, the sandbox and /callback;
# 0 when the participant is active (now or already)
enrol_try() {
  local id=$1 user=$2 c st
  st=$(sql "SELECT state FROM bb.participant WHERE participant_id = '$id'" 2>/dev/null || true)
  [ "$st" != active ] || return 0
  LINK=$("$BBINGEST" -c "$CFG" invite "$id" 2>>"$tmp/cmd.log") || return 1
  printf '%s\n' "${LINK##*invite=}" >>"$secrets"
  get "$LINK"
  [ "$STATUS" == 302 ] || return 1
  qparam "$LOCATION" state >>"$secrets"
  get "$LOCATION&login_hint=$user"
  [ "$STATUS" == 302 ] || return 1
  c=$(qparam "$LOCATION" code); [ -z "$c" ] || printf '%s\n' "$c" >>"$secrets"
  get "$LOCATION"
  [ "$STATUS" == 200 ]
}

user_of() { printf 'BBUser%05d' "$((10#${1#P}))"; }

# driver SECONDS_PER_ENROLMENT: enrol P0001.. one after another (retrying
# through kills), and meanwhile every second make every participant due for
# a sync (a third of them from the first page) and half of the tokens due
# for a scheduled refresh; stops when
# $tmp/driver.stop exists
driver() {
  local gap=$1 i=1 id next_work=0 now
  while [ ! -e "$tmp/driver.stop" ]; do
    if [ "$i" -le "$PARTS" ]; then
      id=$(printf 'P%04d' "$i")
      echo "enrolling $id" >"$tmp/driver.phase"
      if enrol_try "$id" "$(user_of "$id")" 2>/dev/null; then
        echo "$id $(user_of "$id")" >>"$tmp/map"
        i=$((i + 1))
        echo "working" >"$tmp/driver.phase"
        sleep "$gap"
      else
        sleep 0.2
      fi
    else
      echo "working" >"$tmp/driver.phase"
      sleep 0.5
    fi
    now=$(date +%s)
    if [ "$now" -ge "$next_work" ]; then
      "$BBINGEST" -c "$CFG" sync-now --all >/dev/null 2>>"$tmp/cmd.log" || true
      sql "UPDATE bb.token SET next_refresh_at = now() WHERE random() < 0.5" >/dev/null 2>&1 || true
      # a third of the walks start over from the first page (a full resync):
      # more pages in flight; the end state is the same
      sql "UPDATE bb.sync_cursor SET watermark = NULL WHERE next_url IS NULL AND random() < 0.33" \
        >/dev/null 2>&1 || true
      next_work=$((now + 1))
    fi
  done
  echo "$((i - 1))" >"$tmp/driver.enrolled"
}

# issued_committed: "ISSUED COMMITTED" token pairs, summed over the map
issued_committed() {
  local urls=() i issued committed
  for i in $(seq 1 "$PARTS"); do urls+=("$SB/_admin/state?user=$(printf 'BBUser%05d' "$i")"); done
  issued=$(curl -sS --cacert "$CACERT" -H "X-Admin-Token: $ADMIN" "${urls[@]}" | jq -s 'map(.pairs_issued) | add // 0')
  committed=$(sql "SELECT count(*) FROM bb.audit WHERE event IN ('enrolled', 'refreshed')")
  echo "$issued $committed"
}

# gaps: one "ID ISSUED-COMMITTED" line per participant P0001..
gaps() {
  local urls=() i
  for i in $(seq 1 "$PARTS"); do urls+=("$SB/_admin/state?user=$(printf 'BBUser%05d' "$i")"); done
  paste -d' ' \
    <(sql "SELECT 'P' || lpad(i::text, 4, '0'), count(a.audit_id) FROM generate_series(1, $PARTS) i
           LEFT JOIN bb.audit a ON a.participant_id = 'P' || lpad(i::text, 4, '0')
           AND a.event IN ('enrolled', 'refreshed') GROUP BY i ORDER BY i" | tr '|' ' ') \
    <(curl -sS --cacert "$CACERT" -H "X-Admin-Token: $ADMIN" "${urls[@]}" | jq -r .pairs_issued) |
    awk '{ print $1, $3 - $2 }'
}

# per participant: "ID ISSUED COMMITTED"
issued_committed_each() {
  local id u n c
  while read -r id u; do
    n=$(sb_admin GET "/_admin/state?user=$u" | jq .pairs_issued)
    c=$(sql "SELECT count(*) FROM bb.audit WHERE participant_id = '$id' AND event IN ('enrolled', 'refreshed')")
    echo "$id $n $c"
  done < <(sort -u "$tmp/map")
}

# settle: no refresh mark, no refresh in doubt, every active participant synced
settle() {
  local what=$1 n
  wait_for 180 "SELECT count(*) FROM bb.participant WHERE refresh_started_at IS NOT NULL
    OR state = 'refresh_in_doubt'" 0 "$what: no refresh in flight or in doubt"
  sync_all_now
  n=$(sql "SELECT count(*) FROM bb.participant WHERE state = 'active'")
  wait_synced 300 "$n" "$what: all $n active participants synced to idle"
  # no refresh in flight and none due (the driver made tokens due, and the
  # token service looks for due ones every 5 s): otherwise one can start,
  # and be in flight, while issued and committed pairs are counted
  wait_for 180 "SELECT count(*) FROM bb.participant p LEFT JOIN bb.token t USING (participant_id)
    WHERE p.refresh_started_at IS NOT NULL OR p.state = 'refresh_in_doubt'
       OR (p.state = 'active' AND t.next_refresh_at <= now())" 0 \
    "$what: no refresh in flight or due after the syncs"
}

# claims_figures FILE: rows and exact sums of every numeric column per table
claims_figures() {
  local out=$1 t q
  : >"$out"
  for t in $(sql "SELECT tablename FROM pg_tables WHERE schemaname = 'claims' ORDER BY 1"); do
    q=$(sql "SELECT 'count(*)' || coalesce(string_agg(', coalesce(sum(' || quote_ident(column_name) || '), 0)', ''
             ORDER BY ordinal_position), '')
      FROM information_schema.columns WHERE table_schema = 'claims' AND table_name = '$t'
      AND data_type IN ('numeric', 'integer', 'bigint', 'smallint')")
    echo "$t $(sql "SELECT concat_ws(' ', $q) FROM claims.$t")" >>"$out"
  done
}

cursors() { # the cursor state that must be exact
  sql "SELECT participant_id, resource, next_url IS NULL, coalesce(walk_total::text, '-'),
         coalesce(to_char(watermark AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'), '-'),
         completed_at IS NOT NULL
       FROM bb.sync_cursor ORDER BY 1, 2"
}

drv=
stop_driver() { [ -z "$drv" ] || { touch "$tmp/driver.stop"; kill "$drv" 2>/dev/null; wait "$drv" 2>/dev/null; }; }
cleanup_fns=(stop_driver "${cleanup_fns[@]}")

# ------------------------------------------------------------------ reference
echo "# the uninterrupted run"
setup_run ref
: >"$tmp/map"
start_daemon "$CFG" "$tmp/ref.daemon.log"
rm -f "$tmp/driver.stop"
driver 0 &
drv=$!
wait_for 300 "SELECT count(*) FROM bb.participant WHERE state = 'active'" "$PARTS" \
  "reference: $PARTS participants enrolled"
sleep 4   # a few scheduled and on-demand refreshes
touch "$tmp/driver.stop"
wait "$drv"
drv=
settle "reference"
read -r ref_issued ref_committed < <(issued_committed)
expect_eq "$ref_issued" "$ref_committed" "reference: every token pair Blue Button issued was committed ($ref_issued)"
expect_eq "$(sql "SELECT count(*) FROM bb.participant WHERE state <> 'active'")" 0 "reference: nobody lost a grant"
stop_daemon "$DAEMON_PID"
check_truth "reference equals the sandbox's truth"
claims_figures "$tmp/ref.figures"
exact_dump "$tmp/ref.dump"
cursors >"$tmp/ref.cursors"
REF_DB=$PGDATABASE
ref_refreshes=$(sql "SELECT count(*) FROM bb.audit WHERE event = 'refreshed'")
record_tokens
stop_sandbox
mv "$tmp/map" "$tmp/ref.map"

# ------------------------------------------------------------------ crash run
echo "# the run with $KILLS kills"
setup_run crash
: >"$tmp/map"
start_daemon "$CFG" "$tmp/crash.daemon.log"
rm -f "$tmp/driver.stop"
gap=$(awk -v k="$KILLS" -v p="$PARTS" 'BEGIN { g = k * 1.4 / p; if (g > 3) g = 3; printf "%.2f", g }')
driver "$gap" &
drv=$!
k_enrol=0; k_refresh=0; k_sync=0; k_idle=0; k_window=0; k_window_kills=0
gaps >"$tmp/gaps.before"
: >"$tmp/kills"
: >"$tmp/caught.refresh"
: >"$tmp/caught.enrol"
for k in $(seq 1 "$KILLS"); do
  sleep "$(awk -v r="$RANDOM" 'BEGIN { printf "%.3f", 0.2 + (r % 2300) / 1000 }')"
  pid=$DAEMON_PID
  phase=$(cat "$tmp/driver.phase" 2>/dev/null || echo -)
  kill -KILL "$pid"
  wait "$pid" 2>/dev/null || true
  # let the sandbox finish what it was doing for the dead daemon
  sleep "$(awk -v d="$TOKEN_DELAY_MS" 'BEGIN { printf "%.3f", (d + 400) / 1000 }')"
  marks=$(sql "SELECT count(*) FROM bb.participant WHERE refresh_started_at IS NOT NULL AND refresh_owner LIKE '%:$pid:%'")
  leases=$(sql "SELECT count(*) FROM bb.participant WHERE lease_owner LIKE '%:$pid:%' AND lease_until > now()")
  # pairs Blue Button issued that this kill kept from being committed, and
  # for whom: a participant whose refresh was marked in flight lost a
  # refresh; anyone else lost the code exchange of an enrolment
  gaps >"$tmp/gaps.after"
  sql "SELECT participant_id FROM bb.participant WHERE refresh_started_at IS NOT NULL
       AND refresh_owner LIKE '%:$pid:%'" >"$tmp/marked"
  win=0
  while read -r id d; do
    win=$((win + d))
    if grep -qx "$id" "$tmp/marked"; then echo "$id" >>"$tmp/caught.refresh"; else echo "$id" >>"$tmp/caught.enrol"; fi
  done < <(join "$tmp/gaps.before" "$tmp/gaps.after" | awk '$3 > $2 { print $1, $3 - $2 }')
  mv "$tmp/gaps.after" "$tmp/gaps.before"
  what=
  case $phase in enrolling*) k_enrol=$((k_enrol + 1)); what+=" enrolment";; esac
  [ "$marks" -eq 0 ] || { k_refresh=$((k_refresh + 1)); what+=" refresh($marks)"; }
  [ "$leases" -eq 0 ] || { k_sync=$((k_sync + 1)); what+=" sync($leases)"; }
  [ -n "$what" ] || { k_idle=$((k_idle + 1)); what=" idle"; }
  [ "$win" -eq 0 ] || { k_window=$((k_window + win)); k_window_kills=$((k_window_kills + 1)); what+=" TOKEN-WINDOW($win)"; }
  echo "kill $k:$what" >>"$tmp/kills"
  record_tokens
  echo "# kill $k:$what"
  start_daemon "$CFG" "$tmp/crash.daemon.log"
done
pass "$KILLS kills, each followed by a restart that came up by itself"
touch "$tmp/driver.stop"
wait "$drv"
drv=
enrolled=$(cat "$tmp/driver.enrolled")
if [ "$enrolled" -lt "$PARTS" ]; then
  echo "# enrolling the $((PARTS - enrolled)) participants the kills left for after them"
  for i in $(seq $((enrolled + 1)) "$PARTS"); do
    id=$(printf 'P%04d' "$i")
    for t in 1 2 3 4 5; do enrol_try "$id" "$(user_of "$id")" && break; sleep 1; done
    [ "$(sql "SELECT state FROM bb.participant WHERE participant_id = '$id'")" == active ] ||
      fail "$id could not enrol after the kills: $(tail -3 "$tmp/crash.daemon.log")"
    echo "$id $(user_of "$id")" >>"$tmp/map"
  done
fi
settle "after the kills"

echo "# grants lost, and why"
read -r issued committed < <(issued_committed)
expect_eq "$((issued - committed))" "$k_window" \
  "token pairs issued but never committed ($k_window) = those the kills caught in flight ($k_window_kills kills)"
issued_committed_each >"$tmp/each"
lost=$(sql "SELECT string_agg(participant_id, ' ' ORDER BY participant_id) FROM bb.participant
  WHERE state = 'needs_reconsent'")
nlost=0; unexplained=0
w_refresh=$(wc -l <"$tmp/caught.refresh"); w_enrol=$(wc -l <"$tmp/caught.enrol")
for id in $lost; do
  nlost=$((nlost + 1))
  read -r _ n c < <(grep "^$id " "$tmp/each")
  if grep -qx "$id" "$tmp/caught.refresh"; then
    echo "# $id lost its grant: a kill caught its refresh in the token window ($n pairs issued, $c committed)"
  else
    echo "# $id lost its grant WITHOUT a kill in the token window of a refresh ($n issued, $c committed)"
    unexplained=$((unexplained + 1))
  fi
done
expect_eq "$unexplained" 0 "every lost grant ($nlost) is explained by a kill between Blue Button's answer to a refresh and our commit"
expect_eq "$(sort -u "$tmp/caught.refresh" | tr '\n' ' ')" "$(for id in $lost; do echo "$id"; done | sort -u | tr '\n' ' ')" \
  "and every refresh caught that way cost exactly that grant"
pass "grants lost: $nlost; token pairs caught in flight: $k_window ($w_refresh refreshes, $w_enrol code exchanges), by $k_window_kills kills"
expect_eq "$(sql "SELECT count(*) FROM bb.participant WHERE state NOT IN ('active', 'needs_reconsent')")" 0 \
  "every participant is active or needs re-consent"

if [ "$nlost" -gt 0 ]; then
  echo "# the $nlost participants consent again (as the coordinator would ask them to)"
  for id in $lost; do
    for t in 1 2 3; do enrol_try "$id" "$(user_of "$id")" && break; sleep 1; done
  done
  settle "after the re-consents"
fi
stop_daemon "$DAEMON_PID"
pass "the daemon stops cleanly after the campaign (exit 0)"

echo "# the crash run against the uninterrupted run"
expect_eq "$(sql "SELECT count(*) FROM bb.participant WHERE state = 'active'")" "$PARTS" "all $PARTS participants active"
check_truth "crash run equals the sandbox's truth"
claims_figures "$tmp/crash.figures"
if ! diff "$tmp/ref.figures" "$tmp/crash.figures" >"$tmp/figures.diff"; then
  cat "$tmp/figures.diff" >&2
  fail "per-table counts or sums differ"
fi
rows=$(awk '{ s += $2 } END { print s }' "$tmp/crash.figures")
sums=$(awk '{ s += NF - 2 } END { print s }' "$tmp/crash.figures")
ntables=$(wc -l <"$tmp/crash.figures")
pass "per-table row counts and $sums exact column sums of $ntables claims tables equal ($rows rows)"
exact_dump "$tmp/crash.dump"
m1=$(md5sum <"$tmp/ref.dump" | cut -d' ' -f1); m2=$(md5sum <"$tmp/crash.dump" | cut -d' ' -f1)
if [ "$m1" != "$m2" ]; then
  diff "$tmp/ref.dump" "$tmp/crash.dump" | head -20 >&2
  fail "the ordered dumps of the claims tables differ"
fi
pass "the ordered dumps of the claims tables are identical (md5 $m1, $(wc -l <"$tmp/crash.dump") lines)"
expect_eq "$(sql "SELECT count(*) FROM (SELECT eob_id FROM claims.eob GROUP BY eob_id HAVING count(*) > 1) d")" 0 \
  "no duplicated claim"
cursors >"$tmp/crash.cursors"
if ! diff "$tmp/ref.cursors" "$tmp/crash.cursors" >"$tmp/cursors.diff"; then
  head -20 "$tmp/cursors.diff" >&2
  fail "the cursors differ"
fi
ncur=$(wc -l <"$tmp/crash.cursors")
pass "the $ncur cursors are exact (no walk left open, same watermarks)"
refreshes=$(sql "SELECT count(*) FROM bb.audit WHERE event = 'refreshed'")
pages=$(sql "SELECT sum(pages) FROM bb.sync_cursor")

record_tokens
for f in "$tmp"/*.log "$tmp/pg/log"; do [ -f "$f" ] && logs+=("$f"); done
scan_logs "${logs[@]}"
no_claim_content "${logs[@]}"

secs=$(( $(date +%s) - start ))
cat <<EOR | tee "${REPORT:-$tmp/report}"
crash campaign: seed $SEED, $PARTS participants, $secs s
kills: $KILLS (during enrolment $k_enrol, refresh $k_refresh, sync $k_sync, with nothing in flight $k_idle; a kill may count in several)
kills in a token window (Blue Button issued a pair, our commit had not happened): $k_window_kills, catching $k_window pairs
pairs caught: $w_refresh by refreshes (each cost that grant), $w_enrol by code exchanges (the enrolment was repeated, nothing lost)
grants lost: $nlost (explained by a kill in the token window: $((nlost - unexplained)), unexplained: $unexplained)
refreshes committed: $refreshes (reference run: $ref_refreshes); pages stored: $pages
compared with the uninterrupted run: $ntables tables, $rows rows, $sums exact sums, dump md5 $m1, $ncur cursors
missing rows: 0, duplicated rows: 0, half-written pages: 0
EOR
done_testing
