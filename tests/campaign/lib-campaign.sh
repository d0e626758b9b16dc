# Helpers of the campaign tests (sourced after tests/lib.sh, lib-e2e.sh and
# sync_lib.sh).

. "$BB_SOURCE_ROOT/tests/campaign/lib-pg.sh"

# campaign_pg [postgres options...]: a private cluster in $tmp/pg (stopped at
# exit), the roles of sql/001_core.sql, and a non-superuser login role `bbd`
# (member of bbingest_owner, may create databases) that the daemon, the
# commands and sql() use from now on; `PGUSER=postgres sql ...` for admin work.
campaign_pg() {
  pg_private_init "$tmp/pg" "$@" || fail "could not start a private PostgreSQL cluster"
  cleanup_fns+=(pg_private_cleanup)
  psql -X -q -v ON_ERROR_STOP=1 -d postgres <<'SQL' >/dev/null || fail "could not create the roles"
CREATE ROLE bbingest_owner NOLOGIN;
CREATE ROLE bbingest_analyst NOLOGIN;
CREATE ROLE bbd LOGIN CREATEDB;
GRANT bbingest_owner TO bbd;
CREATE ROLE filler LOGIN;
SQL
  export PGUSER=bbd
}

# healthz -> "STATUS first-line-of-body"
healthz() {
  local code
  code=$(curl -s -o "$tmp/healthz" -w '%{http_code}' --max-time 10 "$L/healthz" || true)
  printf '%s %s\n' "$code" "$(head -1 "$tmp/healthz" 2>/dev/null)"
}

# wait_health SECONDS REGEX WHAT: /healthz answers a line matching REGEX
wait_health() {
  local secs=$1 re=$2 what=$3 i h=
  for i in $(seq 1 $((secs * 5))); do
    h=$(healthz)
    if grep -Eq -- "$re" <<<"$h"; then pass "$what ($h)"; return 0; fi
    sleep 0.2
  done
  fail "$what: /healthz answers [$h] after ${secs}s"
}

# alive PID WHAT
alive() {
  kill -0 "$1" 2>/dev/null || fail "$2: the daemon (pid $1) is gone: $(tail -5 "$tmp/daemon.log")"
  pass "$2"
}

# pages stored so far
pages_stored() { sql "SELECT coalesce(sum(pages), 0) FROM bb.sync_cursor"; }

# wait_pages N SECONDS: at least N pages stored
wait_pages() {
  local n=$1 secs=$2 i
  for i in $(seq 1 $((secs * 10))); do
    [ "$(pages_stored)" -ge "$n" ] && return 0
    sleep 0.1
  done
  fail "fewer than $n pages were stored in ${secs}s"
}

# exact_dump FILE: every claims table in primary-key order, volatile columns
# (fetch time) left out, for byte comparison of two databases
exact_dump() {
  local out=$1 t cols
  : >"$out"
  for t in $(sql "SELECT tablename FROM pg_tables WHERE schemaname = 'claims' ORDER BY 1"); do
    cols=$(sql "SELECT string_agg(quote_ident(column_name), ', ' ORDER BY ordinal_position)
      FROM information_schema.columns WHERE table_schema = 'claims' AND table_name = '$t'
      AND column_name NOT IN ('fetched_at', 'loaded_at', 'created_at', 'updated_at')")
    echo "== $t" >>"$out"
    psql -X -A -t -q -v ON_ERROR_STOP=1 -c "COPY (SELECT $cols FROM claims.$t ORDER BY $cols) TO STDOUT" >>"$out"
  done
}

# no_claim_content LOG...: none of the strings that only occur in the stored
# claims (diagnosis displays, claim ids) appears in any of the logs
no_claim_content() {
  local f nstr
  psql -X -A -t -q -c "SELECT DISTINCT display FROM claims.eob_diagnosis WHERE length(display) >= 12
    UNION SELECT DISTINCT claim_id FROM claims.eob WHERE length(claim_id) >= 8 LIMIT 400" >"$tmp/claim.strings"
  nstr=$(grep -c . "$tmp/claim.strings" || true)
  [ "$nstr" -gt 0 ] || fail "no claim strings to look for"
  for f in "$@"; do
    if grep -F -f "$tmp/claim.strings" "$f" >/dev/null; then
      fail "claim content appears in $f: $(grep -F -o -f "$tmp/claim.strings" "$f" | head -1)"
    fi
  done
  pass "none of $nstr claim strings appears in $# logs"
}
