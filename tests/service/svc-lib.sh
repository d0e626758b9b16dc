# Helpers of the service tests: run `bbingest run` the way systemd runs the
# unit (its ExecStart= line, credentials from its LoadCredential= lines, a
# notification socket, a watchdog), and wait for what it says.
# Source after tests/lib.sh.

unit="$BB_SOURCE_ROOT/systemd/bbingest.service"
svc_dir="$BB_SOURCE_ROOT/tests/service"

# A TCP port nobody listens on now.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# The credentials directory systemd would make from the unit's
# LoadCredential=NAME:PATH lines: the client secret and a sealing key.
make_credentials() {
  local dir=$1 name
  mkdir -p "$dir"
  chmod 700 "$dir"
  while IFS= read -r name; do
    case $name in
      *secret*) printf 'test-client-secret\n' >"$dir/$name" ;;
      *key*) openssl rand -hex 32 >"$dir/$name" ;;
      *) fail "unexpected credential $name in the unit" ;;
    esac
    chmod 600 "$dir/$name"
  done < <(sed -n 's/^LoadCredential=\([^:]*\):.*/\1/p' "$unit")
}

cred_secret() { sed -n 's/^LoadCredential=\([^:]*secret[^:]*\):.*/\1/p' "$unit"; }
cred_key() { sed -n 's/^LoadCredential=\([^:]*key[^:]*\):.*/\1/p' "$unit"; }

# write_config FILE PORT BASE_URL [CA_FILE] [EXTRA_YAML]
write_config() {
  local file=$1 port=$2 base=$3 ca=${4:-} extra=${5:-}
  {
    echo "api:"
    echo "  base_url: $base"
    echo "  client_id: test-client"
    echo "  client_secret_credential: $(cred_secret)"
    echo "  redirect_uri: http://127.0.0.1:$port/callback"
    [ -z "$ca" ] || echo "  ca_file: $ca"
    echo "vault:"
    echo "  key_credential: $(cred_key)"
    echo "listener:"
    echo "  port: $port"
    echo "  public_url: http://127.0.0.1:$port"
    printf '%s' "$extra"
  } >"$file"
}

# The unit's command line with the binary under test and the test's config.
unit_command() {
  local config=$1 line
  line=$(sed -n 's/^ExecStart=//p' "$unit")
  [ -n "$line" ] || fail "no ExecStart= in $unit"
  line=${line//\/usr\/sbin\/bbingest/$BBINGEST}
  line=${line//\/etc\/bbingest\/bbingest.yaml/$config}
  echo "$line"
}

# start_daemon CONFIG [ENV=VALUE...]: runs the unit's ExecStart in the
# background with a notification socket ($tmp/notify.log receives the
# messages), the credentials directory ($tmp/creds) and JOURNAL_STREAM set as
# systemd sets them; its stderr goes to $tmp/daemon.log.  Sets $daemon_pid.
start_daemon() {
  local config=$1; shift
  local cmd
  cmd=$(unit_command "$config")
  : >"$tmp/notify.log"
  if [ -z "${notify_pid:-}" ]; then
    python3 "$svc_dir/notify-listen.py" "$tmp/notify.sock" "$tmp/notify.log" &
    notify_pid=$!
    stop_notify() { kill "$notify_pid" 2>/dev/null || true; }
    cleanup_fns+=(stop_notify)
    for _ in $(seq 50); do [ -S "$tmp/notify.sock" ] && break; sleep 0.1; done
  fi
  # shellcheck disable=SC2086
  env NOTIFY_SOCKET="$tmp/notify.sock" CREDENTIALS_DIRECTORY="$tmp/creds" \
      JOURNAL_STREAM=8:424242 "$@" $cmd 2>"$tmp/daemon.log" &
  daemon_pid=$!
  kill_daemon() { kill -9 "$daemon_pid" 2>/dev/null || true; }
  cleanup_fns+=(kill_daemon)
}

# wait_for FILE REGEX SECONDS WHAT: until a line of FILE matches.
wait_for() {
  local file=$1 re=$2 secs=$3 what=$4 i
  for ((i = 0; i < secs * 10; i++)); do
    if grep -Eq -- "$re" "$file" 2>/dev/null; then pass "$what"; return 0; fi
    if [ -n "${daemon_pid:-}" ] && ! kill -0 "$daemon_pid" 2>/dev/null; then
      sleep 0.2
      grep -Eq -- "$re" "$file" 2>/dev/null && { pass "$what"; return 0; }
      echo "--- daemon log:" >&2; cat "$tmp/daemon.log" >&2
      fail "$what: the daemon exited"
    fi
    sleep 0.1
  done
  echo "--- $file:" >&2; cat "$file" >&2
  echo "--- daemon log:" >&2; cat "$tmp/daemon.log" >&2
  fail "$what: nothing matching /$re/ within $secs s"
}

# wait_exit SECONDS: waits for the daemon and sets $exit_code.
wait_exit() {
  local secs=$1 i
  for ((i = 0; i < secs * 10; i++)); do
    kill -0 "$daemon_pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$daemon_pid" 2>/dev/null; then
    cat "$tmp/daemon.log" >&2
    fail "the daemon did not exit within $secs s"
  fi
  exit_code=0
  wait "$daemon_pid" || exit_code=$?
}

# http_get URL: sets $http_status and $http_body
http_get() {
  http_body=$(curl -s -m 10 -o - -w '\n%{http_code}' "$1") || true
  http_status=${http_body##*$'\n'}
  http_body=${http_body%$'\n'*}
  http_body=${http_body%$'\n'}
}
