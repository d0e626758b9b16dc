#!/usr/bin/env bash
# The systemd files: `systemd-analyze verify` is clean on the unit (with the
# binary under test in ExecStart=), `systemd-analyze security --offline=true`
# scores 2.0 or lower, the unit is what the service needs (Type=notify,
# watchdog, restart, credentials named as the configuration expects, a
# dedicated user from the sysusers snippet, the state directory from the
# tmpfiles snippet), and both snippets parse.
. "$BB_SOURCE_ROOT/tests/lib.sh"
sd="$BB_SOURCE_ROOT/systemd"
unit="$sd/bbingest.service"
command -v systemd-analyze >/dev/null || fail "systemd-analyze is missing: run tests/setup.sh (package systemd)"

# verify: the unit as installed, its ExecStart pointing at the binary built here
mkdir "$tmp/units"
sed "s#^ExecStart=/usr/sbin/bbingest #ExecStart=$BBINGEST #" "$unit" >"$tmp/units/bbingest.service"
grep -q "^ExecStart=$BBINGEST run -c /etc/bbingest/bbingest.yaml$" "$tmp/units/bbingest.service" ||
  fail "ExecStart= is not '/usr/sbin/bbingest run -c /etc/bbingest/bbingest.yaml'"
out=$(systemd-analyze verify --man=no "$tmp/units/bbingest.service" 2>&1) || fail "systemd-analyze verify: $out"
expect_eq "$out" "" "systemd-analyze verify: clean"

# security
out=$(systemd-analyze security --offline=true --no-pager "$unit" 2>&1) || fail "systemd-analyze security failed: $out"
score=$(printf '%s\n' "$out" | sed -n 's/.*Overall exposure level for bbingest.service: \([0-9.]*\).*/\1/p')
[ -n "$score" ] || fail "no exposure level in: $out"
echo "# exposure level: $score"
expect_eq "$(awk -v s="$score" 'BEGIN { print (s <= 2.0) }')" "1" "systemd-analyze security: exposure $score <= 2.0"
systemd-analyze security --offline=true --threshold=20 --no-pager "$unit" >/dev/null 2>&1 ||
  fail "systemd-analyze security --threshold=20 refuses the unit"
pass "systemd-analyze security --threshold=20 accepts the unit"

# what the service needs
key() { sed -n "s/^$1=//p" "$unit"; }
expect_eq "$(key Type)" "notify" "Type=notify"
expect_eq "$(key NotifyAccess)" "main" "NotifyAccess=main"
expect_match "$(key WatchdogSec)" '^[0-9]+$' "WatchdogSec= is set"
expect_eq "$(key Restart)" "on-failure" "Restart=on-failure"
expect_eq "$(key ExecReload)" '/bin/kill -HUP $MAINPID' "reload is SIGHUP"
expect_eq "$(key User)" "bbingest" "runs as the bbingest user"
creds=$(key LoadCredential | cut -d: -f1 | paste -sd ' ')
expect_eq "$creds" "client_secret vault_key" "LoadCredential= for the client secret and the sealing key"
stop=$(key TimeoutStopSec)
expect_eq "$(( stop > 30 ))" "1" "TimeoutStopSec= ($stop s) leaves room for the 30 s drain"
expect_match "$(grep -E '^#define DAEMON_DRAIN_TIMEOUT_S ' "$BB_SOURCE_ROOT/daemon/daemon.h")" ' 30$' \
  "the drain bound in daemon.h is the 30 s the unit allows for"

# the sample configuration names the same credentials and files (also in
# its commented alternatives), so either style works with this unit
sample="$BB_SOURCE_ROOT/config/bbingest.yaml"
cred_paths=$(key LoadCredential | cut -d: -f2- | paste -sd ' ')
if [ -f "$sample" ]; then
  for c in $(sed -nE 's/^\s*#?\s*(client_secret|key)_credential:\s*([^ #]+).*/\2/p' "$sample"); do
    expect_match "$creds" "(^| )$c( |$)" "credential \"$c\" of the sample config is loaded by the unit"
  done
  for f in $(sed -nE 's/^\s*#?\s*(client_secret|key)_file:\s*([^ #]+).*/\2/p' "$sample"); do
    expect_match "$cred_paths" "(^| )$f( |$)" "file $f of the sample config is the unit's credential source"
  done
fi

# sysusers and tmpfiles
expect_match "$(grep -v '^#' "$sd/bbingest.sysusers")" '^u bbingest - ' "sysusers: a bbingest system user"
expect_match "$(grep -v '^#' "$sd/bbingest.tmpfiles")" '^d /var/lib/bbingest 0750 bbingest bbingest -$' \
  "tmpfiles: the state directory"
expect_eq "$(key StateDirectory)" "bbingest" "StateDirectory= matches"
mkdir -p "$tmp/root/etc"
out=$(systemd-sysusers --root="$tmp/root" "$sd/bbingest.sysusers" 2>&1) || fail "systemd-sysusers: $out"
expect_match "$(cat "$tmp/root/etc/passwd")" '^bbingest:x:[0-9]+:[0-9]+:Blue Button claims ingestion:/var/lib/bbingest:/usr/sbin/nologin$' \
  "systemd-sysusers creates the user from the snippet"
uid=$(awk -F: '$1 == "bbingest" {print $3}' "$tmp/root/etc/passwd")
out=$(systemd-tmpfiles --root="$tmp/root" --create "$sd/bbingest.tmpfiles" 2>&1) || fail "systemd-tmpfiles: $out"
expect_eq "$(stat -c '%a %u' "$tmp/root/var/lib/bbingest")" "750 $uid" \
  "systemd-tmpfiles creates the state directory, owned by bbingest"

done_testing
