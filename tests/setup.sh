#!/usr/bin/env bash
# Shared set-up of the two quick-start commands: install the Debian 12
# packages that are missing, then configure and build.  Safe to run again.
#
#   tests/setup.sh [BUILD_DIR [meson options...]]
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

packages=(
  build-essential meson ninja-build pkg-config
  libcurl4-openssl-dev libssl-dev libpq-dev libyajl-dev libyaml-dev
  libmicrohttpd-dev zlib1g-dev
  postgresql-15 postgresql-client-15 postgresql-common
  yajl-tools jq bc curl openssl ca-certificates
  clang libclang-rt-14-dev
  python3 systemd iproute2 man-db groff-base valgrind
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  echo "setup: installing missing Debian packages: ${missing[*]}"
  sudo_cmd=()
  if [ "$(id -u)" -ne 0 ]; then
    sudo_cmd=(sudo)
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

build_in() {
  local dir=$1; shift
  if [ ! -f "$here/$dir/build.ninja" ]; then
    meson setup "$here/$dir" "$here" "$@" >/dev/null
  else
    meson configure "$here/$dir" "$@" >/dev/null
  fi
  if ! ninja -C "$here/$dir" >"$here/$dir/build-output.log" 2>&1; then
    cat "$here/$dir/build-output.log" >&2
    echo "setup: build in $dir failed" >&2
    exit 1
  fi
}

if [ $# -ge 1 ]; then
  dir=$1; shift
  build_in "$dir" "$@"
fi
