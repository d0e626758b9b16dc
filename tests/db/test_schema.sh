#!/usr/bin/env bash
# The schema contract of design.md section 3: every table exists, every table
# and column is commented, analysts read claims and are refused on bb, and
# the audit log is append-only.
. "$BB_SOURCE_ROOT/tests/lib.sh"
new_db schema
"$BBINGEST" migrate >/dev/null

tables=(
  bb.participant bb.token bb.invitation bb.pending_authorization bb.sync_cursor
  bb.error bb.audit bb.app_state bb.schema_version
)
if [ -f "$BB_SOURCE_ROOT/sql/002_claims.sql" ]; then
  tables+=(
    claims.eob claims.eob_item claims.eob_item_adjudication claims.eob_diagnosis
    claims.eob_procedure claims.eob_care_team claims.eob_supporting_info claims.eob_total
    claims.eob_extension claims.patient claims.coverage claims.eob_item_detail
  )
fi
for t in "${tables[@]}"; do
  expect_eq "$(sql "SELECT to_regclass('$t') IS NOT NULL")" "t" "table $t exists"
done

missing=$(sql "
  SELECT string_agg(n.nspname || '.' || c.relname, ', ')
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname IN ('claims', 'bb') AND c.relkind IN ('r', 'v', 'p')
    AND obj_description(c.oid, 'pg_class') IS NULL")
expect_eq "$missing" "" "every table and view has a COMMENT"
missing=$(sql "
  SELECT string_agg(n.nspname || '.' || c.relname || '.' || a.attname, ', ')
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
  WHERE n.nspname IN ('claims', 'bb') AND c.relkind IN ('r', 'p')
    AND col_description(c.oid, a.attnum) IS NULL
    AND NOT (n.nspname = 'bb' AND c.relname = 'schema_version')")
expect_eq "$missing" "" "every column has a COMMENT"

# analyst: refused on every bb table, allowed on claims
for t in bb.participant bb.token bb.audit bb.pending_authorization; do
  rc=0; msg=$(psql -X -q -v ON_ERROR_STOP=1 -c "SET ROLE bbingest_analyst; SELECT 1 FROM $t LIMIT 1" 2>&1) || rc=$?
  [ "$rc" -ne 0 ] || fail "analyst could read $t"
  expect_match "$msg" "permission denied for schema bb" "analyst refused on $t"
done
expect_eq "$(sql "SELECT has_schema_privilege('bbingest_analyst', 'claims', 'USAGE')")" "t" "analyst may use schema claims"
expect_eq "$(sql "SELECT count(*) FROM information_schema.role_table_grants
                  WHERE grantee = 'bbingest_analyst' AND table_schema = 'bb'")" "0" "no grant on bb to the analyst"
if [ -f "$BB_SOURCE_ROOT/sql/002_claims.sql" ]; then
  expect_eq "$(psql -X -A -t -q -c "SET ROLE bbingest_analyst" -c "SELECT count(*) FROM claims.eob")" "0" "analyst reads claims.eob"
  rc=0; psql -X -q -v ON_ERROR_STOP=1 -c "SET ROLE bbingest_analyst; DELETE FROM claims.eob" >/dev/null 2>&1 || rc=$?
  [ "$rc" -ne 0 ] && pass "analyst cannot write claims" || fail "analyst could delete from claims.eob"
fi

# owner role can work on bb
expect_eq "$(psql -X -A -t -q -c "SET ROLE bbingest_owner" -c "SELECT count(*) FROM bb.participant")" "0" "owner role reads bb"

# the audit log is append-only
sql "INSERT INTO bb.audit (participant_id, event) VALUES ('p1', 'invited')"
rc=0; msg=$(psql -X -q -v ON_ERROR_STOP=1 -c "UPDATE bb.audit SET event = 'withdrawn'" 2>&1) || rc=$?
expect_match "$msg" "append-only" "audit rows cannot be updated"
rc=0; msg=$(psql -X -q -v ON_ERROR_STOP=1 -c "DELETE FROM bb.audit" 2>&1) || rc=$?
expect_match "$msg" "append-only" "audit rows cannot be deleted"
rc=0; msg=$(psql -X -q -v ON_ERROR_STOP=1 -c "TRUNCATE bb.audit" 2>&1) || rc=$?
expect_match "$msg" "append-only" "audit log cannot be truncated"

# participant ids are constrained
rc=0; psql -X -q -v ON_ERROR_STOP=1 -c "INSERT INTO bb.participant (participant_id) VALUES ('bad id; drop')" >/dev/null 2>&1 || rc=$?
[ "$rc" -ne 0 ] && pass "participant id with spaces refused" || fail "bad participant id accepted"

done_testing
