#!/bin/sh
# meson install script: put the sample configuration in place as
# bbingest.yaml unless one exists (an admin's edits are never overwritten).
#   install-config.sh CONFDIR
set -eu
dir="${DESTDIR:-}$1"
if [ ! -e "$dir/bbingest.yaml" ]; then
  cp "$dir/bbingest.yaml.sample" "$dir/bbingest.yaml"
  chmod 0644 "$dir/bbingest.yaml"
  echo "Installing $dir/bbingest.yaml (from bbingest.yaml.sample)"
else
  echo "Keeping $dir/bbingest.yaml (the new sample is bbingest.yaml.sample)"
fi
