#!/usr/bin/env bash
# migrate: applies everything once, is a no-op the second time, is safe when
# run concurrently, and gives analysts claims but not bb.
. "$BB_SOURCE_ROOT/tests/lib.sh"
new_db migrate

expect_rc 0 "first migrate" -- "$BBINGEST" migrate
expect_match "$out" "^applied [0-9]+ migrations?; schema is at version [0-9]+$" "first migrate reports what it applied"
# pg_dump 15.14+ writes a random \restrict key: leave it out
schema_dump() { pg_dump --schema-only --no-owner "$PGDATABASE" | grep -v '^\\\(un\)\?restrict' | md5sum; }
latest=$(sql "SELECT max(version) FROM bb.schema_version")
dump1=$(schema_dump)
rows1=$(sql "SELECT count(*) FROM bb.schema_version")

expect_rc 0 "second migrate" -- "$BBINGEST" migrate
expect_eq "$out" "schema is up to date at version $latest" "second migrate is a no-op"
expect_eq "$(schema_dump)" "$dump1" "schema unchanged by the second migrate"
expect_eq "$(sql "SELECT count(*) FROM bb.schema_version")" "$rows1" "no version recorded twice"

# -d overrides the environment
expect_rc 0 "migrate with -d" -- env PGDATABASE=postgres_does_not_exist "$BBINGEST" migrate -d "dbname=$PGDATABASE"
expect_eq "$out" "schema is up to date at version $latest" "-d names the database"

# an unreachable database is a clear error, not a crash
expect_rc 69 "unreachable database" -- "$BBINGEST" migrate -d "host=127.0.0.1 port=1 connect_timeout=2"
expect_match "$errout" "could not connect to the database" "error says what failed"
expect_match "$errout" "HINT: " "error gives a hint"

# concurrent migrates on a fresh database: both succeed, each version once
conc="bbtest_conc_$$"
psql -q -X -d postgres -c "CREATE DATABASE $conc"
drop_conc() { psql -q -X -d postgres -c "DROP DATABASE IF EXISTS $conc WITH (FORCE)" >/dev/null 2>&1; }
cleanup_fns+=(drop_conc)
pids=()
for i in 1 2 3 4; do
  "$BBINGEST" migrate -d "dbname=$conc" >"$tmp/conc$i.out" 2>&1 & pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || fail "a concurrent migrate failed: $(cat "$tmp"/conc*.out)"; done
pass "four concurrent migrates all exit 0"
expect_eq "$(psql -X -A -t -d "$conc" -c "SELECT count(*) = count(DISTINCT version) AND max(version) = $latest FROM bb.schema_version")" "t" "each version applied exactly once"
expect_eq "$(grep -c '^applied' "$tmp"/conc*.out | awk -F: '{s+=$2} END {print s}')" "1" "exactly one run applied the migrations"

done_testing
