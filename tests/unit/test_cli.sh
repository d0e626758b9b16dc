#!/usr/bin/env bash
# The command line: help, version, unknown commands and options, exit codes.
. "$BB_SOURCE_ROOT/tests/lib.sh"

expect_rc 0 "--help" -- "$BBINGEST" --help
for c in run migrate check-config invite enroll-url status sync-now withdraw load flatten; do
  expect_match "$out" "^  $c " "--help lists $c"
done
expect_rc 0 "--version" -- "$BBINGEST" --version
expect_match "$out" "^bbingest [0-9]+\.[0-9]+\.[0-9]+$" "version line"
expect_rc 64 "no command" -- "$BBINGEST"
expect_rc 64 "unknown command" -- "$BBINGEST" frobnicate
expect_match "$errout" 'unknown command "frobnicate"' "unknown command named"
expect_rc 64 "unknown global option" -- "$BBINGEST" --bogus migrate
expect_rc 64 "unknown command option" -- "$BBINGEST" migrate --bogus
expect_match "$errout" 'unknown option "--bogus" for "migrate"' "unknown option named"
expect_rc 64 "option missing its argument" -- "$BBINGEST" migrate -d
expect_rc 0 "command help" -- "$BBINGEST" migrate --help
expect_match "$out" "^usage: bbingest migrate" "command usage"
long=$(head -c 100000 /dev/zero | tr '\0' 'A')
expect_rc 64 "hostile-size command name" -- "$BBINGEST" "$long"
done_testing
