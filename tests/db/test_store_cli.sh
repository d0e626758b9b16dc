#!/usr/bin/env bash
# The database preamble of the commands (store_for_command/store_for_config):
# which exit code and message on which failure, which commands migrate, which
# refuse an old schema, and that a command's own configuration checks come
# before it connects.
. "$BB_SOURCE_ROOT/tests/lib.sh"
new_db store_cli
nowhere="host=127.0.0.1 port=1 connect_timeout=2"

# no connection: exit 69; migrate and load add a hint, status and sync-now do not
for c in "migrate" "load -" "status" "sync-now --all"; do
  # shellcheck disable=SC2086
  expect_rc 69 "$c: unreachable database" -- "$BBINGEST" $c -d "$nowhere" </dev/null
  expect_match "$errout" "could not connect to the database" "$c: says what failed"
  case $c in
    migrate|load*) expect_match "$errout" "^HINT: pass -d CONNINFO" "$c: gives the hint" ;;
    *) if grep -q "^HINT:" <<<"$errout"; then fail "$c: no hint expected: [$errout]"; fi
       pass "$c: no hint" ;;
  esac
done

# a configuration error comes first: exit 78 without connecting
expect_rc 78 "status -c missing file" -- "$BBINGEST" -c "$tmp/none.yaml" status -d "$nowhere"
expect_match "$errout" "cannot open configuration file" "the configuration error is reported"
if grep -q "could not connect" <<<"$errout"; then fail "status connected despite the bad config"; fi
pass "status did not try to connect"

# status and sync-now do not migrate a fresh database
expect_rc 70 "status on a fresh database" -- "$BBINGEST" status
expect_rc 70 "sync-now on a fresh database" -- "$BBINGEST" sync-now --all
expect_eq "$(sql "SELECT to_regclass('bb.schema_version') IS NULL")" "t" "no migration applied by status or sync-now"

# invite on a database never migrated: told to migrate, not a raw SQL error
printf 'listener:\n  public_url: https://bb.example.org\n' >"$tmp/ok.yaml"
expect_rc 69 "invite on a database never migrated" -- "$BBINGEST" -c "$tmp/ok.yaml" invite p1
expect_match "$errout" "schema is at version 0 but this bbingest needs version [0-9]+; HINT: run \"bbingest migrate\" first" \
  "invite says to migrate"

# invite: its own check (listener.public_url) comes before the connection
printf 'database:\n  conninfo: "%s"\n' "$nowhere" >"$tmp/no-url.yaml"
expect_rc 78 "invite without public_url" -- "$BBINGEST" -c "$tmp/no-url.yaml" invite p1
expect_match "$errout" "listener.public_url is not set" "invite names the missing key"

# invite refuses a schema older than the binary's, with the fix
expect_rc 0 "migrate" -- "$BBINGEST" migrate
latest=$(sql "SELECT max(version) FROM bb.schema_version")
sql "CREATE TABLE public.saved_version AS SELECT * FROM bb.schema_version WHERE version = $latest"
sql "DELETE FROM bb.schema_version WHERE version = $latest"
printf 'listener:\n  public_url: https://bb.example.org\n' >"$tmp/ok.yaml"
expect_rc 69 "invite on an old schema" -- "$BBINGEST" -c "$tmp/ok.yaml" invite p1
expect_match "$errout" "schema is at version $(sql "SELECT max(version) FROM bb.schema_version") but this bbingest needs version $latest; HINT: run \"bbingest migrate\" first" "invite says to migrate"
expect_eq "$(sql "SELECT count(*) FROM bb.participant")" "0" "invite stored nothing"

# a migration that fails (its objects exist, its version row does not): exit 70
for c in "migrate" "load -"; do
  # shellcheck disable=SC2086
  expect_rc 70 "$c: a migration fails" -- "$BBINGEST" $c </dev/null
  expect_match "$errout" "error: migration [0-9]+_[a-z_]+\.sql failed: " "$c: names the failed migration"
done
sql "INSERT INTO bb.schema_version SELECT * FROM public.saved_version"

expect_rc 0 "load" -- "$BBINGEST" load "$BB_FIXTURES/bfd-v2/eobReadPde.json"
expect_eq "$(sql "SELECT count(*) FROM claims.eob")" "1" "load stored the EOB"
expect_rc 0 "migrate again" -- "$BBINGEST" migrate
expect_eq "$out" "schema is up to date at version $latest" "migrate reports an up-to-date schema"
expect_rc 0 "invite on the current schema" -- "$BBINGEST" -c "$tmp/ok.yaml" invite p1
expect_match "$out" "^https://bb.example.org/enroll\?invite=" "invite prints the link"
expect_rc 0 "status" -- "$BBINGEST" status p1
expect_match "$out" "state +invited" "status shows the invited participant"

done_testing
