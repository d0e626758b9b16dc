# Helpers of the sync e2e tests (sourced after tests/lib.sh and lib-e2e.sh).

# sync_config FILE LISTEN_PORT [extra sync keys...]: the e2e configuration with
# fast retries and the sync keys given ("concurrency: 8" ...)
sync_config() {
  local file=$1 lport=$2; shift 2
  write_config "$file" "$lport"
  python3 - "$file" "$@" <<'EOP'
import sys
path, extra = sys.argv[1], sys.argv[2:]
out, in_sync = [], False
for l in open(path).read().split("\n"):
    if l and not l.startswith(" "):
        in_sync = l == "sync:"
        out.append(l)
        if in_sync:
            out += ["  " + e for e in extra]
        continue
    if in_sync and l.strip().split(":", 1)[0] in {e.split(":", 1)[0] for e in extra}:
        continue
    out.append(l)
open(path, "w").write("\n".join(out))
EOP
}

# enrol_range FIRST LAST [nodemo-every]: P%04d <- BBUser%05d; appends to $tmp/map
enrol_range() {
  local first=$1 last=$2 nd=${3:-0} i id user extra
  for i in $(seq "$first" "$last"); do
    id=$(printf 'P%04d' "$i"); user=$(printf 'BBUser%05d' "$i"); extra=
    if [ "$nd" -gt 0 ] && [ $((i % nd)) -eq 0 ]; then extra=bb_action=no_demographics; fi
    enrol "$id" "$user" "$extra"
    [ "$STATUS" == 200 ] || fail "callback of $id answered $STATUS: $(cat "$tmp/page")"
    echo "$id $user${extra:+ nodemo}" >>"$tmp/map"
  done
}

# wait_synced SECONDS N WHAT [ID_LIKE]: N active participants (those whose id is
# LIKE ID_LIKE, default all), each synced, nothing leased, no walk in progress
wait_synced() {
  wait_for "$1" "SELECT count(*) FROM bb.participant p WHERE state = 'active'
    AND participant_id LIKE '${4:-%}' AND last_sync_at IS NOT NULL AND lease_owner IS NULL AND next_sync_at > now()
    AND NOT EXISTS (SELECT 1 FROM bb.sync_cursor c WHERE c.participant_id = p.participant_id
                    AND c.next_url IS NOT NULL)" "$2" "$3"
}

# check_truth WHAT: every participant in $tmp/map equals the sandbox's truth
check_truth() {
  local out
  if out=$(python3 "$E2E_DIR/sync_truth.py" "$SB" "$ADMIN" "$CACERT" "$tmp/map" 2>&1); then
    pass "$1: $(echo "$out" | tail -1)"
  else
    echo "$out" >&2
    fail "$1: rows differ from the sandbox's ground truth"
  fi
}

# FHIR requests the sandbox served since the last counters/reset (all users)
fhir_requests() { sb_admin GET /_admin/counters | jq -r '[.users[]] | add // 0'; }

# faults NAME=VALUE...
set_faults() {
  local args=() a
  for a in "$@"; do args+=(--data-urlencode "$a"); done
  sb_admin POST /_admin/faults "${args[@]}" >/dev/null
}

# make every active participant due now (as sync-now --all does)
sync_all_now() { "$BBINGEST" -c "$CFG" sync-now --all >/dev/null 2>>"$tmp/cmd.log"; }
