# Shared helpers for shell tests.  Source it: . "$BB_SOURCE_ROOT/tests/lib.sh"
# Every check prints what it checks; the first failure exits non-zero.
set -euo pipefail

BBINGEST=${BBINGEST:?run under meson test}
checks=0

pass() { checks=$((checks + 1)); echo "ok $checks - $*"; }
fail() { echo "not ok - $*" >&2; exit 1; }

# expect_eq ACTUAL EXPECTED WHAT
expect_eq() {
  if [ "$1" == "$2" ]; then pass "$3"; else fail "$3: expected [$2], got [$1]"; fi
}

# expect_match TEXT REGEX WHAT
expect_match() {
  if grep -Eq -- "$2" <<<"$1"; then pass "$3"; else fail "$3: [$1] does not match /$2/"; fi
}

# expect_rc EXPECTED WHAT -- command...   (stdout/stderr kept in $out / $errout)
expect_rc() {
  local want=$1 what=$2; shift 3
  local rc=0
  out=$("$@" 2>"$tmp/stderr") || rc=$?
  errout=$(cat "$tmp/stderr")
  if [ "$rc" -ne "$want" ]; then
    echo "stdout: $out" >&2; echo "stderr: $errout" >&2
    fail "$what: exit $rc, expected $want"
  fi
  pass "$what (exit $rc)"
}

tmp=$(mktemp -d)
cleanup_fns=()
cleanup() {
  local f
  for f in "${cleanup_fns[@]}"; do $f || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

# A database of its own for this test (tests run in parallel); needs PG*.
new_db() {
  [ -n "${PGHOST:-}${PGPORT:-}" ] || fail "no PostgreSQL: run the db suite through tests/run-all.sh (pg_virtualenv)"
  local name="bbtest_$1_$$"
  psql -q -X -d postgres -c "DROP DATABASE IF EXISTS $name" >/dev/null 2>&1
  psql -q -X -d postgres -c "CREATE DATABASE $name" >/dev/null
  export PGDATABASE=$name
  drop_test_db() { psql -q -X -d postgres -c "DROP DATABASE IF EXISTS $PGDATABASE WITH (FORCE)" >/dev/null 2>&1; }
  cleanup_fns+=(drop_test_db)
}

sql() { psql -X -A -t -q -v ON_ERROR_STOP=1 -c "$1"; }

done_testing() { echo "1..$checks"; [ "$checks" -gt 0 ] || fail "no checks ran"; }
