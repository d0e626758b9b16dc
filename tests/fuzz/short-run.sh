#!/usr/bin/env bash
# A short fuzzing run for CI: TARGET SEED_DIR SECONDS [extra libFuzzer args]
# Mutates from the seeds into a scratch corpus (the seeds stay as they are)
# and fails on any crash, leak or sanitizer report.
set -euo pipefail
target=$(realpath "$1") seeds=$(realpath "$2") seconds=$3; shift 3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/corpus"
cd "$work"
"$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
  "$@" "$work/corpus" "$seeds" 2>"$work/log" || { tail -40 "$work/log"; exit 1; }
runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/log" | grep -o '[0-9]*$')
echo "fuzzed $(basename "$target") for ${seconds}s: ${runs:-0} executions, no crash"
[ "${runs:-0}" -gt 0 ]
