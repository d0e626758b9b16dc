#!/usr/bin/env bash
# bbingest check-config on good and bad files: every message checked
# literally with its FILE:LINE:COLUMN, and the exit codes (0, 78).
set -euo pipefail

: "${BBINGEST:?}" "${BB_SOURCE_ROOT:?}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
unset BBINGEST_CONFIG CREDENTIALS_DIRECTORY

checks=0
fail() { echo "FAIL: $*" >&2; exit 1; }

# a file with everything the daemon needs; cases append to or edit it
printf 'the-secret\n' > secret
head -c 32 /dev/zero | tr '\0' k > vault.key
cat > base.yaml <<'EOF'
api:
  client_id: app-1
  client_secret_file: secret
  redirect_uri: https://bb.example.org/callback
vault:
  key_file: vault.key
listener:
  public_url: https://bb.example.org
EOF

# expect_ok FILE [args...]
expect_ok() {
	local f=$1; shift
	local rc=0
	"$BBINGEST" check-config -c "$f" "$@" > out 2> err || rc=$?
	echo "check: $f is valid"
	[ "$rc" -eq 0 ] || { cat err >&2; fail "$f: exit $rc, expected 0"; }
	grep -qxF "configuration file $f is valid" out || fail "$f: no 'is valid' line"
	[ ! -s err ] || { cat err >&2; fail "$f: unexpected stderr"; }
	checks=$((checks + 1))
}

# expect_msg FILE EXACT-LINE...: exit 78 and each line present on stderr
expect_msg() {
	local f=$1; shift
	local rc=0
	"$BBINGEST" check-config -c "$f" > out 2> err || rc=$?
	[ "$rc" -eq 78 ] || { cat err >&2; fail "$f: exit $rc, expected 78"; }
	for line in "$@"; do
		echo "check: $line"
		grep -qxF -- "$line" err || { echo "--- stderr:" >&2; cat err >&2; fail "missing: $line"; }
		checks=$((checks + 1))
	done
}

expect_ok base.yaml

# unknown key, with the nearest valid name
{ cat base.yaml; printf 'sync:\n  concurency: 8\n'; } > unknown.yaml
expect_msg unknown.yaml 'unknown.yaml:10:3: unknown key "sync.concurency" (did you mean "concurrency"?)'
printf 'synk:\n  concurrency: 8\napi:\n  client_idd: x\n  zzzzzzzz: 1\n' > unknown2.yaml
expect_msg unknown2.yaml \
	'unknown2.yaml:1:1: unknown key "synk" (did you mean "sync"?)' \
	'unknown2.yaml:4:3: unknown key "api.client_idd" (did you mean "client_id"?)' \
	'unknown2.yaml:5:3: unknown key "api.zzzzzzzz"' \
	'HINT: the keys of "api" are: base_url, version, client_id, client_secret_file, client_secret_credential, redirect_uri, scopes, ca_file, timeout, token_timeout'

# wrong types
{ cat base.yaml; cat <<'EOF'
sync:
  concurrency: abc
  interval: 3 days
  request_rate: fast
  claim_types: carrier
log:
  level: loud
limits: 12
EOF
} > types.yaml
expect_msg types.yaml \
	'types.yaml:10:16: "sync.concurrency" must be an integer, not "abc"' \
	'types.yaml:11:13: "sync.interval" must be a duration such as 30s, 10m, 24h or 14d, not "3 days"' \
	'types.yaml:12:17: "sync.request_rate" must be a number, not "fast"' \
	'types.yaml:13:16: "sync.claim_types" must be a list of strings, not "carrier"' \
	'types.yaml:15:10: "log.level" must be one of: debug, info, notice, warning, error, not "loud"' \
	'types.yaml:16:9: "limits" must be a mapping, not "12"'

# out of range
{ cat base.yaml; printf 'sync:\n  page_size: 51\n  concurrency: 0\nenrolment:\n  state_expiry: 15m\n'; } > range.yaml
expect_msg range.yaml \
	'range.yaml:10:14: "sync.page_size" is 51, outside the allowed range 1..50' \
	'range.yaml:11:16: "sync.concurrency" is 0, outside the allowed range 1..1024' \
	'range.yaml:13:17: "enrolment.state_expiry" is 15m, outside the allowed range 1m..10m'

# missing required keys: at the parent mapping, or the file's first line
grep -v 'client_id\|public_url' base.yaml | grep -v '^listener:' > missing.yaml
expect_msg missing.yaml \
	'missing.yaml:1:1: missing required key "api.client_id"' \
	'missing.yaml:1:1: missing required key "listener.public_url"'
printf 'log:\n  level: info\napi:\n  client_id: x\n' > missing2.yaml
expect_msg missing2.yaml \
	'missing2.yaml:3:1: missing required key "api.client_secret_file" or "api.client_secret_credential"' \
	'missing2.yaml:1:1: missing required key "vault.key_file" or "vault.key_credential"'

# unreadable and empty secret files
sed "s|client_secret_file: secret|client_secret_file: $tmp/nope|" base.yaml > nosecret.yaml
expect_msg nosecret.yaml \
	"nosecret.yaml:3:3: cannot read \"api.client_secret_file\" file \"$tmp/nope\": No such file or directory"
: > empty_secret
sed "s|client_secret_file: secret|client_secret_file: empty_secret|" base.yaml > emptysecret.yaml
expect_msg emptysecret.yaml \
	'emptysecret.yaml:3:3: "api.client_secret_file" file "empty_secret" is empty'

# duplicate keys
{ cat base.yaml; printf '  port: 8000\n  port: 8001\n'; } > dup.yaml
expect_msg dup.yaml 'dup.yaml:10:3: duplicate key "listener.port" (first defined at line 9)'

# tab indentation (found before libyaml sees the file)
printf 'api:\n\tclient_id: x\nsync:\n  \tconcurrency: 2\n' > tab.yaml
expect_msg tab.yaml \
	'tab.yaml:2:1: tab character in indentation; YAML allows only spaces' \
	'tab.yaml:4:3: tab character in indentation; YAML allows only spaces'

# YAML syntax error: reported at libyaml's problem mark, nothing after it
{ cat base.yaml; printf 'sync:\n  concurrency: 8\n   page_size: 3\n  x: [1\n'; } > syntax.yaml
expect_msg syntax.yaml 'syntax.yaml:11:13: YAML syntax error: mapping values are not allowed in this context'
[ "$(grep -c '^syntax.yaml:' err)" -eq 1 ] || fail "syntax.yaml: more than one message"

# an inline client secret is refused, with a hint, and not echoed
sed 's|  client_secret_file: secret|  client_secret: hunter2|' base.yaml > inline.yaml
expect_msg inline.yaml \
	'inline.yaml:3:3: "api.client_secret" must not be written in the configuration file' \
	'HINT: put the secret in a file only bbingest can read and set "api.client_secret_file", or pass it as a systemd credential and set "api.client_secret_credential"'
if grep -q hunter2 err; then fail "inline secret echoed"; fi

# a file over 1 MiB
{ cat base.yaml; head -c 1100000 /dev/zero | tr '\0' '#'; echo; } > big.yaml
expect_msg big.yaml 'big.yaml: configuration file is larger than the limit of 1048576 bytes (1 MiB)'

# a file that cannot be opened
expect_msg absent.yaml 'absent.yaml: cannot open configuration file: No such file or directory'

# both secret sources; a credential without $CREDENTIALS_DIRECTORY
sed 's|^vault:|  client_secret_credential: cs\nvault:|' base.yaml > both.yaml
expect_msg both.yaml \
	'both.yaml:5:3: "api.client_secret_file" and "api.client_secret_credential" are both set; set only one'
sed 's|client_secret_file: secret|client_secret_credential: cs|' base.yaml > cred.yaml
expect_msg cred.yaml 'cred.yaml:3:3: "api.client_secret_credential" is set but $CREDENTIALS_DIRECTORY is not'

# URLs, addresses, lists
sed 's|  client_id: app-1|  client_id: app-1\n  base_url: http://bluebutton.example.org\n  scopes: [patient/Patient.rs, "a b"]|' base.yaml > url.yaml
expect_msg url.yaml \
	'url.yaml:3:13: "api.base_url" must be an https URL such as https://api.bluebutton.cms.gov (http only for 127.0.0.1 or localhost), not "http://bluebutton.example.org"' \
	'url.yaml:4:32: "api.scopes[2]" must be a single word without spaces, not "a b"'
sed 's|  client_id: app-1|  client_id: app-1\n  base_url: http://127.0.0.1:8443/|' base.yaml > local.yaml
expect_ok local.yaml

# every problem of a file is reported, not only the first
{ cat base.yaml; printf 'sync:\n  concurrency: x\n  page_size: 0\n  bogus: 1\nrefresh:\n  jitter: 2d\n  interval: 1d\n'; } > many.yaml
expect_msg many.yaml \
	'many.yaml:10:16: "sync.concurrency" must be an integer, not "x"' \
	'many.yaml:11:14: "sync.page_size" is 0, outside the allowed range 1..50' \
	'many.yaml:12:3: unknown key "sync.bogus"' \
	'many.yaml:15:3: "refresh.jitter" (2d) must not be greater than "refresh.interval" (1d)'
[ "$(grep -c '^many.yaml:' err)" -eq 4 ] || fail "many.yaml: expected 4 messages"

# -c before the command, and $BBINGEST_CONFIG
"$BBINGEST" -c base.yaml check-config > out || fail "global -c"
BBINGEST_CONFIG=$tmp/base.yaml "$BBINGEST" check-config > out || fail "BBINGEST_CONFIG"
grep -qxF "configuration file $tmp/base.yaml is valid" out || fail "BBINGEST_CONFIG path"
echo "check: -c before the command and \$BBINGEST_CONFIG"
checks=$((checks + 1))

# the documented sample validates, with its secret and key as credentials
mkdir creds
printf 'sample-secret\n' > creds/client_secret
head -c 32 /dev/zero | tr '\0' v > creds/vault_key
sed -e 's|^  client_secret_file: .*|  client_secret_credential: client_secret|' \
    -e 's|^  key_file: .*|  key_credential: vault_key|' \
    "$BB_SOURCE_ROOT/config/bbingest.yaml" > sample.yaml
CREDENTIALS_DIRECTORY=$tmp/creds expect_ok sample.yaml
# ... and with the file paths it names, moved into the temp dir
sed -e "s|/etc/bbingest/|$tmp/|" "$BB_SOURCE_ROOT/config/bbingest.yaml" > sample2.yaml
cp creds/client_secret client_secret; cp creds/vault_key vault.key
expect_ok sample2.yaml

# every key of the program is in the sample (set or commented), and no other
"$BBINGEST" check-config --reference | sed -n 's/^| `\([a-z_]*\.[a-z_]*\)`.*/\1/p' | sort > keys.ref
awk '/^[a-z_]+:/ { s = $1; sub(":", "", s) }
     /^  #? ?[a-z_]+:/ { k = $0; sub(/^  #? ?/, "", k); sub(/:.*/, "", k); print s "." k }' \
	"$BB_SOURCE_ROOT/config/bbingest.yaml" | sort -u > keys.sample
diff keys.ref keys.sample || fail "config/bbingest.yaml and the program disagree on the keys"
echo "check: the sample has all $(wc -l < keys.ref) keys"
checks=$((checks + 1))

# config/REFERENCE.md holds the table the program prints
sed -n '/^<!-- BEGIN GENERATED/,/^<!-- END GENERATED/p' "$BB_SOURCE_ROOT/config/REFERENCE.md" \
	| sed '1d;$d' > table.md
"$BBINGEST" check-config --reference > table.ref
diff table.ref table.md || fail "config/REFERENCE.md is stale: regenerate its table with bbingest check-config --reference"
echo "check: config/REFERENCE.md matches the program"
checks=$((checks + 1))

echo "config_check: $checks passed, 0 failed"
