#!/usr/bin/env bash
# Backup and restore of the consents, with the commands of systemd/ADMIN.md
# section 5: a data-only dump of schema bb, restored into a new database
# migrated by `bbingest migrate`, gives back every participant with the same
# sealed tokens, which open with the key and are alive at Blue Button (the
# sandbox); a daemon started on the restored database serves them.  And the
# caveat ADMIN.md states, shown for real: a token refreshed after the dump
# is dead in the restored copy.
. "$BB_SOURCE_ROOT/tests/lib.sh"
. "$BB_SOURCE_ROOT/tests/e2e/lib-e2e.sh"

N=6
BENES=20
setup_e2e backup
start_daemon
for i in $(seq 1 "$N"); do
  enrol "$(printf 'B%03d' "$i")" "$(printf 'BBUser%05d' "$i")"
  [ "$STATUS" == 200 ] || fail "enrolment $i answered $STATUS"
done
wait_for 10 "SELECT count(*) FROM bb.participant WHERE state = 'active'" "$N" "$N participants enrolled"
invite B900   # an invitation not used yet is part of the backup too
stop_daemon "$DAEMON_PID"
pass "daemon stopped before the dump (ADMIN.md: stop every instance)"
orig_db=$PGDATABASE

# ADMIN.md 5: the dump
pg_dump --data-only --schema=bb --exclude-table-data=bb.schema_version \
        --exclude-table-data=bb.app_state --format=custom --file="$tmp/bb.dump" "dbname=$orig_db" ||
  fail "pg_dump failed"
pass "pg_dump --data-only --schema=bb (without the version and app-state rows migrate makes)"
record_tokens
cp "$tmp/tokens.now" "$tmp/tokens.at-dump"
snapshot() { # DB -> the bb rows that matter, in a stable text form
  psql -X -A -t -q -d "$1" -v ON_ERROR_STOP=1 -c "
    SELECT 'p', participant_id, state, patient_id, array_to_string(scopes, ' '), demographics,
           enrolled_at FROM bb.participant ORDER BY 2;" -c "
    SELECT 't', participant_id, key_id, encode(access_sealed, 'hex'), encode(refresh_sealed, 'hex'),
           access_expires_at, generation, next_refresh_at FROM bb.token ORDER BY 2;" -c "
    SELECT 'i', token_hash, participant_id, expires_at, used_at FROM bb.invitation ORDER BY 2;" -c "
    SELECT 'a', audit_id, participant_id, event, detail FROM bb.audit ORDER BY 2;"
}
snapshot "$orig_db" >"$tmp/orig.snap"

# ADMIN.md 5: the restore, into a new database migrated by bbingest
restored="bbtest_restored_$$"
psql -q -X -d postgres -c "CREATE DATABASE $restored"
drop_restored() { psql -q -X -d postgres -c "DROP DATABASE IF EXISTS $restored WITH (FORCE)" >/dev/null 2>&1; }
cleanup_fns+=(drop_restored)
"$BBINGEST" migrate -d "dbname=$restored" >/dev/null || fail "bbingest migrate of the new database failed"
pass "bbingest migrate -d dbname=NEW"
out=$(pg_restore --data-only --schema=bb --single-transaction --dbname="$restored" "$tmp/bb.dump" 2>&1) ||
  fail "pg_restore failed: $out"
pass "pg_restore --data-only --schema=bb --single-transaction"
snapshot "$restored" >"$tmp/restored.snap"
expect_eq "$(md5sum <"$tmp/restored.snap")" "$(md5sum <"$tmp/orig.snap")" \
  "participants, sealed tokens (byte for byte), invitations and the audit log are restored"
expect_eq "$(grep -c '^t|' "$tmp/restored.snap")" "$N" "$N token rows"

# the restored tokens open with the key and are alive
export PGDATABASE=$restored
record_tokens
expect_eq "$(wc -l <"$tmp/tokens.now")" "$N" "every restored token opens with the key"
alive=0
while read -r id acc ref gen; do
  [ "$(introspect "$acc")" == true ] && alive=$((alive + 1))
done <"$tmp/tokens.now"
expect_eq "$alive" "$N" "every restored access token is live at the sandbox"

# a daemon on the restored database: refreshes with the restored refresh tokens
sed -i "s|^  conninfo: .*|  conninfo: \"dbname=$restored\"|" "$CFG"
start_daemon
sql "UPDATE bb.token SET next_refresh_at = now() - interval '1 second' WHERE participant_id = 'B001'" >/dev/null
wait_for 20 "SELECT generation FROM bb.token WHERE participant_id = 'B001'" 2 \
  "the daemon on the restored database refreshes a restored grant"
expect_eq "$(sql "SELECT state FROM bb.participant WHERE participant_id = 'B001'")" "active" "still active"
http=$(curl -s -o /dev/null -w '%{http_code}' "$L/healthz")
expect_eq "$http" "200" "the restored service is healthy"
stop_daemon "$DAEMON_PID"

# the caveat: B001's refresh token rotated after the dump; in a second restore
# of the same dump it is dead (a refresh with it is refused)
old_ref=$(awk '$1 == "B001" {print $3}' "$tmp/tokens.at-dump")
expect_eq "$(refresh_status "$old_ref")" "400" \
  "a refresh token from the dump that rotated since is dead at Blue Button (ADMIN.md: back up continuously)"
other_ref=$(awk '$1 == "B002" {print $3}' "$tmp/tokens.at-dump")
expect_eq "$(introspect "$(awk '$1 == "B002" {print $2}' "$tmp/tokens.at-dump")")" "true" \
  "while a grant that did not rotate is still good from the dump"
[ -n "$other_ref" ] || fail "no refresh token of B002"

scan_logs "$tmp/daemon.log" "$tmp/cmd.log"
done_testing
