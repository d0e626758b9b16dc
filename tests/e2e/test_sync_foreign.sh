#!/usr/bin/env bash
# A `next` link to any host other than the configured API host is refused and
# recorded, and the bearer token never goes there: the sandbox writes its
# links for https://localhost:PORT while bbingest is configured for
# https://127.0.0.1:PORT (the same server, so any request that followed a
# link would show in its counters).
. "$BB_SOURCE_ROOT/tests/lib.sh"
. "$BB_SOURCE_ROOT/tests/e2e/lib-e2e.sh"
. "$BB_SOURCE_ROOT/tests/e2e/sync_lib.sh"

N=${E2E_PARTICIPANTS:-20}
setup_e2e syncforeign
stop_sandbox
start_sandbox "$SB_PORT" --public-url "https://localhost:$SB_PORT"
sync_config "$CFG" "$LPORT" "concurrency: 4" "request_rate: 10000" "request_burst: 1000" \
  "interval: 1h" "page_size: 10" "retry_base: 300s" "retry_max: 600s"
start_daemon
enrol_range 1 "$N"

# participants with more than 10 claims have a second page
multi=0; single=()
while read -r id user; do
  n=$(sb_admin GET "/_admin/truth?user=$user" | jq -r .eob.count)
  if [ "$n" -gt 10 ]; then multi=$((multi + 1)); else single+=("$id $user"); fi
done <"$tmp/map"
[ "$multi" -gt 0 ] && [ "${#single[@]}" -gt 0 ] || fail "the data set needs both kinds of participant"
wait_for 60 "SELECT count(DISTINCT participant_id) FROM bb.error WHERE kind = 'foreign_next_link'" "$multi" \
  "the $multi participants with a second page met a foreign next link"
expect_match "$(sql "SELECT message FROM bb.error WHERE kind = 'foreign_next_link' LIMIT 1")" \
  "links its next page to https://localhost:$SB_PORT, not the configured API host https://127.0.0.1:$SB_PORT; refused" \
  "the error names both hosts"
expect_match "$(grep -c 'refused (the bearer token is only sent to the API host)' "$tmp/daemon.log")" "^[1-9]" \
  "the refusal is logged"
counters=$(sb_admin GET /_admin/counters)
bad=0
while read -r id user; do
  n=$(sb_admin GET "/_admin/truth?user=$user" | jq -r .eob.count)
  [ "$n" -gt 10 ] || continue
  served=$(echo "$counters" | jq -r --arg u "$user" '.users[$u] // 0')
  refused=$(sql "SELECT count(*) FROM bb.error WHERE participant_id = '$id' AND kind = 'foreign_next_link'")
  [ "$served" == "$refused" ] || { echo "$id: $served requests served, $refused refusals" >&2; bad=$((bad + 1)); }
  [ "$(sql "SELECT count(*) FROM claims.eob WHERE participant_id = '$id'")" == 0 ] || bad=$((bad + 1))
done <"$tmp/map"
expect_eq "$bad" 0 "each of them got exactly one request per attempt (the first page, not stored) and none to the foreign link"
expect_eq "$(sql "SELECT count(*) FROM bb.participant WHERE failures >= 1
                  AND backoff_until > now() + interval '60 seconds'")" "$multi" \
  "they back off (sync.retry_base 300 s)"
printf '%s\n' "${single[@]}" >"$tmp/map"
wait_synced 60 "${#single[@]}" "the ${#single[@]} single-page participants synced"
check_truth "single-page participants"
record_tokens
scan_logs "$tmp/daemon.log" "$tmp/cmd.log"
done_testing
