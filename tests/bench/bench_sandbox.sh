#!/usr/bin/env bash
# How fast bbsandbox serves ExplanationOfBenefit pages on loopback with the
# heavy profile (50 EOBs per page), so we know it is never the bottleneck of
# the sync benchmarks.  Prints pages/s and MB/s, plain and gzip, next to the
# parse-only floor of a client on the same bytes (yajl's json_verify on one
# core): a ratio above 1 means the emulator outruns a client that only
# parses.
#
#   tests/bench/bench_sandbox.sh [BUILD_DIR] [PAGES_PER_USER] [PARALLEL]
set -euo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$here/build}
pages=${2:-40}
par=${3:-4}
sb=$build/tests/sandbox/bbsandbox
[ -x "$sb" ] || { echo "bench_sandbox: no $sb; build first (meson setup build && ninja -C build)" >&2; exit 66; }
command -v json_verify >/dev/null || { echo "bench_sandbox: json_verify missing (apt-get install yajl-tools)" >&2; exit 69; }
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT

"$sb" --listen 127.0.0.1:0 --profile heavy --beneficiaries 100 --seed 3 >"$tmp/out" 2>"$tmp/err" &
pid=$!
for _ in $(seq 1 100); do grep -q '^listening' "$tmp/out" 2>/dev/null && break; sleep 0.05; done
port=$(sed -n 's/^listening on 127.0.0.1:\([0-9]*\)$/\1/p' "$tmp/out")
base=http://127.0.0.1:$port
cid=bbsandbox00000000000000000000000000000000

# one token per user; each user gets its own curl --parallel run over its pages
for u in 0 1 2 3; do
  v=$(openssl rand -base64 60 | tr '+/' '-_' | tr -d '=\n' | cut -c1-64)
  c=$(printf '%s' "$v" | openssl dgst -sha256 -binary | openssl base64 -A | tr '+/' '-_' | tr -d '=')
  loc=$(curl -s -o /dev/null -w '%{redirect_url}' "$base/v2/o/authorize/?client_id=$cid&response_type=code&state=benchstate0123456789&code_challenge=$c&code_challenge_method=S256&login_hint=BBUser0000$u")
  code=$(sed -n 's/.*[?&]code=\([^&]*\).*/\1/p' <<<"$loc")
  tok=$(curl -s -u "$cid:bbsandbox-secret" -d grant_type=authorization_code -d "code=$code" \
    -d "code_verifier=$v" "$base/v2/o/token/" | jq -r .access_token)
  total=$(curl -s -H "Authorization: Bearer $tok" "$base/v2/fhir/ExplanationOfBenefit/?_count=1" | jq .total)
  n=$(( total / 50 < pages ? total / 50 : pages ))
  {
    echo "header = \"Authorization: Bearer $tok\""
    for i in $(seq 0 $((n - 1))); do
      echo "url = \"$base/v2/fhir/ExplanationOfBenefit/?_count=50&startIndex=$((i * 50))\""
      echo "output = \"/dev/null\""
    done
  } >"$tmp/cfg$u"
  echo "$n" >"$tmp/n$u"
done
curl -s -H "Authorization: Bearer $tok" "$base/v2/fhir/ExplanationOfBenefit/?_count=50" -o "$tmp/page.json"
page_bytes=$(stat -c %s "$tmp/page.json")
total_pages=$(cat "$tmp"/n* | paste -sd+ | bc)

run() { # extra curl args
  local t0 t1
  t0=$(date +%s.%N)
  for u in 0 1 2 3; do
    curl -s --no-progress-meter --parallel --parallel-max "$par" -K "$tmp/cfg$u" "$@" \
      -w '%{size_download}\n' >"$tmp/sizes$u" 2>/dev/null &
  done
  wait $(jobs -p | grep -v "^$pid$") 2>/dev/null || true
  t1=$(date +%s.%N)
  bytes=$(cat "$tmp"/sizes* | paste -sd+ | bc)
  secs=$(echo "$t1 - $t0" | bc -l)
}

run
plain_pps=$(echo "$total_pages / $secs" | bc -l)
plain_mbs=$(echo "$bytes / $secs / 1000000" | bc -l)
run -H "Accept-Encoding: gzip"
gz_pps=$(echo "$total_pages / $secs" | bc -l)
gz_mbs=$(echo "$bytes / $secs / 1000000" | bc -l)

# the floor of a client: parsing the same page with json_verify, one core
reps=100
for _ in $(seq 1 $reps); do cat "$tmp/page.json"; done >"$tmp/pages.json"
t0=$(date +%s.%N)
json_verify -s -q <"$tmp/pages.json" || { echo "bench_sandbox: json_verify rejected the pages" >&2; exit 70; }
t1=$(date +%s.%N)
verify_pps=$(echo "$reps / ($t1 - $t0)" | bc -l)

printf 'bbsandbox heavy profile, %d pages of 50 EOBs (%.0f KB each), %d users x %d parallel, loopback HTTP\n' \
  "$total_pages" "$(echo "$page_bytes / 1000" | bc -l)" 4 "$par"
printf '  plain: %8.1f pages/s  %7.1f MB/s\n' "$plain_pps" "$plain_mbs"
printf '  gzip:  %8.1f pages/s  %7.1f MB/s (compressed)\n' "$gz_pps" "$gz_mbs"
printf '  json_verify parse-only floor, 1 core: %8.1f pages/s\n' "$verify_pps"
printf '  ratio sandbox plain / parse floor: %.2f   gzip / parse floor: %.2f\n' \
  "$(echo "$plain_pps / $verify_pps" | bc -l)" "$(echo "$gz_pps / $verify_pps" | bc -l)"
