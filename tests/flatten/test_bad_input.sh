#!/usr/bin/env bash
# test_bad_input.sh CASE: one hostile input (tests/flatten/bad_inputs.sh)
# after a good one in the same `bbingest flatten` run: exit 65, an error
# naming the input and the byte offset, and the CSVs hold exactly what the
# good input alone gives (nothing of the bad input is stored).
. "$BB_SOURCE_ROOT/tests/lib.sh"
. "$BB_SOURCE_ROOT/tests/flatten/bad_inputs.sh"
case=${1:?usage: test_bad_input.sh CASE}
good="$BB_FIXTURES/sample-client/eobData.json"
bad="$tmp/$case.json"
make_bad "$case" "$bad"

expect_rc 0 "good input alone" -- "$BBINGEST" flatten --out "$tmp/ref" "$good"
expect_rc 65 "$case: good then bad input exits 65" -- "$BBINGEST" flatten --out "$tmp/out" "$good" "$bad"
expect_match "$errout" "error: $bad: byte [0-9]+: " "$case: error names the input and the byte offset"
expect_match "$errout" "$(bad_expect "$case")" "$case: error says what is wrong"
expect_match "$errout" "$bad: input rejected; nothing of it was stored" "$case: says nothing was stored"
[ "$(printf '%s' "$errout" | wc -l)" -lt 10 ] && pass "$case: a short report" || fail "$case: long error output"
# the error must not echo the payload (a display text of the bad file)
if printf '%s' "$errout" | grep -q "SALMONELLA\|aaaaaaaaaa"; then fail "$case: error echoes the payload"; fi
pass "$case: error does not echo the payload"
for f in "$tmp"/ref/*.csv; do
  t=$(basename "$f")
  cmp -s "$f" "$tmp/out/$t" || fail "$case: $t differs from the good input's alone"
done
pass "$case: every CSV equals the good input's alone"
ls -A "$tmp/out" | grep -q '\.tmp$' && fail "$case: temporary files left behind"
pass "$case: no temporary files left"

# bad input alone: header rows only; also through stdin
expect_rc 65 "$case: alone, through stdin" -- sh -c "\"$BBINGEST\" flatten --out \"$tmp/alone\" - <\"$bad\""
expect_match "$errout" "error: stdin: byte [0-9]+: " "$case: stdin is named"
for f in "$tmp"/alone/*.csv; do
  [ "$(wc -l <"$f")" -eq 1 ] || fail "$case: $(basename "$f") has rows"
done
pass "$case: alone it leaves header rows only"
done_testing
