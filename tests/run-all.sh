#!/usr/bin/env bash
# The whole test suite, on a fresh Debian 12 machine: installs what is
# missing, builds twice (warnings as errors; ASan+UBSan), and runs every
# suite of each build against a throwaway PostgreSQL 15 (pg_virtualenv).
#
#   tests/run-all.sh            all suites, both builds
#   tests/run-all.sh SUITE...   only these meson suites (unit, db, e2e, sandbox,
#                               campaign, valgrind, fuzz)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"

"$here/tests/setup.sh"
"$here/tests/setup.sh" build -Dwerror=true -Dbuildtype=debugoptimized
"$here/tests/setup.sh" build-asan -Dwerror=true -Dbuildtype=debug \
  -Db_sanitize=address,undefined -Db_lundef=false

# libFuzzer targets (clang): seed replays and short fuzzing runs, suite fuzz
CC=clang "$here/tests/setup.sh" build-fuzz -Dwerror=true -Dfuzz=true -Dbuildtype=debug \
  -Db_sanitize=address,undefined -Db_lundef=false

suite_args=()
for s in "$@"; do suite_args+=(--suite "$s"); done

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS=suppressions=$here/tests/lsan.supp:print_suppressions=0

status=0
ran=(build build-asan)
# count only this run's results: drop the logs of earlier runs
rm -f build/meson-logs/testlog.json build-asan/meson-logs/testlog.json build-fuzz/meson-logs/testlog.json
for b in build build-asan; do
  echo "=== tests in $b"
  # valgrind memcheck runs on the plain build only (it cannot run ASan binaries)
  skip=(--no-suite fuzz)
  [ "$b" == build ] || skip+=(--no-suite valgrind)
  # pg_virtualenv starts a throwaway cluster, exports PG*, and drops it after
  if ! pg_virtualenv -t -v 15 -- meson test -C "$b" --print-errorlogs --num-processes 2 \
       "${skip[@]}" "${suite_args[@]}"; then
    status=1
  fi
done
if [ $# -eq 0 ] || [[ " $* " == *" fuzz "* ]]; then
  echo "=== fuzz targets in build-fuzz"
  ran+=(build-fuzz)
  if ! meson test -C build-fuzz --print-errorlogs --num-processes 2 --suite fuzz; then
    status=1
  fi
fi

passed=0; failed=0
for b in "${ran[@]}"; do
  log="$b/meson-logs/testlog.json"
  [ -f "$log" ] || continue
  p=$(jq -s '[.[] | select(.result == "OK" or .result == "EXPECTEDFAIL")] | length' "$log")
  f=$(jq -s '[.[] | select(.result != "OK" and .result != "EXPECTEDFAIL" and .result != "SKIP")] | length' "$log")
  s=$(jq -s '[.[] | select(.result == "SKIP")] | length' "$log")
  echo "$b: $p passed, $f failed, $s skipped"
  passed=$((passed + p)); failed=$((failed + f))
  if [ "$s" -gt 0 ]; then failed=$((failed + s)); fi
done
if [ "$failed" -gt 0 ]; then status=1; fi
echo "$passed passed, $failed failed"
exit $status
