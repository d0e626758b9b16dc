#!/usr/bin/env bash
# Run a command with a private throwaway PostgreSQL 15 cluster (PG* exported),
# like pg_virtualenv but in a temporary directory of its own, so it never
# collides with another cluster on the machine:
#
#   tests/campaign/private-pg.sh meson test -C build --suite campaign
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib-pg.sh"
work=$(mktemp -d /tmp/bbingest-pg.XXXXXX)
trap 'pg_private_cleanup; rm -rf "$work"' EXIT
pg_private_init "$work/pg" "max_connections=200"
export PGDATABASE=postgres
"$@"
