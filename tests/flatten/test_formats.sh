#!/usr/bin/env bash
# The same claims in every layout the stream accepts give the same CSV: a
# searchset Bundle, NDJSON of its entries, single resources, gzip (also
# concatenated members), stdin, keys in reverse order (resourceType and id
# last), pretty or minified, CRLF line ends.  Also: the Bundle's paging
# information is not data, OperationOutcome warnings in a Bundle are not
# errors, other resource types are skipped, Patient/Coverage go to their tables.
. "$BB_SOURCE_ROOT/tests/lib.sh"
fx=$BB_FIXTURES
bundle="$fx/sample-client/eobData.json"

flat() {   # flat OUTDIR INPUT... : flatten, exit 0 expected
  local out=$1; shift
  "$BBINGEST" flatten --out "$out" "$@" 2>"$tmp/err" || fail "flatten $* failed: $(cat "$tmp/err")"
}
same() {   # same DIR1 DIR2 WHAT
  local f
  for f in "$1"/*.csv; do
    cmp -s "$f" "$2/$(basename "$f")" || fail "$3: $(basename "$f") differs"
  done
  pass "$3"
}

flat "$tmp/ref" "$bundle"
expect_eq "$(($(wc -l <"$tmp/ref/eob.csv") - 1))" "10" "the Bundle gives its 10 EOBs"

# jq rewrites numbers (0.0 -> 0): layouts made with jq compare with jq's copy
jq -c . "$bundle" >"$tmp/jq.json"
flat "$tmp/jqref" "$tmp/jq.json"
jq -c '.entry[].resource' "$bundle" >"$tmp/entries.ndjson"
flat "$tmp/ndjson" "$tmp/entries.ndjson"
same "$tmp/jqref" "$tmp/ndjson" "NDJSON of the entries = the Bundle (jq copy)"

sed 's/$/\r/' "$tmp/entries.ndjson" >"$tmp/crlf.ndjson"
flat "$tmp/crlf" "$tmp/crlf.ndjson"
same "$tmp/jqref" "$tmp/crlf" "CRLF line ends = the Bundle"

jq '.entry[].resource' "$bundle" >"$tmp/pretty.json"
flat "$tmp/pretty" "$tmp/pretty.json"
same "$tmp/jqref" "$tmp/pretty" "pretty-printed concatenated resources = the Bundle"

# every object's keys reversed: resourceType and id come last everywhere
jq -c 'walk(if type == "object" then to_entries | reverse | from_entries else . end)' "$bundle" >"$tmp/reversed.json"
expect_match "$(head -c 60 "$tmp/reversed.json")" '^\{"entry":\[\{"resource":\{"benefitBalance"' "reversed: resourceType and id come after the content"
flat "$tmp/rev" "$tmp/reversed.json"
same "$tmp/jqref" "$tmp/rev" "keys in reverse order (resourceType and id last) = the Bundle"

gzip -c "$bundle" >"$tmp/b.json.gz"
flat "$tmp/gz" "$tmp/b.json.gz"
same "$tmp/ref" "$tmp/gz" "gzip file = the Bundle"
{ head -n 4 "$tmp/entries.ndjson" | gzip -c; tail -n +5 "$tmp/entries.ndjson" | gzip -c; } >"$tmp/multi.gz"
flat "$tmp/gzm" "$tmp/multi.gz"
same "$tmp/jqref" "$tmp/gzm" "two concatenated gzip members = the Bundle"
head -c 20000 "$tmp/b.json.gz" >"$tmp/cut.gz"
expect_rc 65 "a truncated gzip file is rejected" -- "$BBINGEST" flatten --out "$tmp/cut" "$tmp/cut.gz"
expect_match "$errout" "cut.gz: byte [0-9]+: " "truncated gzip: input and byte named"

expect_rc 0 "stdin" -- sh -c "\"$BBINGEST\" flatten --out \"$tmp/stdin\" - <\"$bundle\""
same "$tmp/ref" "$tmp/stdin" "stdin = the Bundle"

# paging links, total and meta are not rows; a warning OperationOutcome entry is not an error;
# a Claim entry is skipped
jq '.entry += [{"resource": {"resourceType": "OperationOutcome", "issue": [{"severity": "warning", "code": "informational", "diagnostics": "partial results"}]}},
               {"resource": {"resourceType": "Claim", "id": "c1", "item": {"not": "an array"}}}]' "$bundle" >"$tmp/extra.json"
expect_rc 0 "warning OperationOutcome and a Claim entry" -- "$BBINGEST" flatten --out "$tmp/extra" "$tmp/extra.json"
expect_match "$errout" "OperationOutcome with a warning: warning informational: partial results" "the warning is logged"
same "$tmp/jqref" "$tmp/extra" "extra entries add no rows"

# Patient and Coverage
flat "$tmp/pc" "$fx/bfd-v2/patientRead.json" "$fx/bfd-v2/coverageSearchByPatientId.json"
expect_eq "$(python3 "$BB_SOURCE_ROOT/tests/flatten/csvcol.py" "$tmp/pc/patient.csv" birth_date)" "1981-03-17" "Patient birth date"
expect_eq "$(python3 "$BB_SOURCE_ROOT/tests/flatten/csvcol.py" "$tmp/pc/coverage.csv" part | tr '\n' ' ')" "A B C D " "Coverage parts A-D"

# contained #provider-org resolves to the organisation's NPI; IGNORED_FIELD dates become NULL
flat "$tmp/inp" "$fx/bfd-v2/eobReadInpatient.json"
expect_eq "$(python3 "$BB_SOURCE_ROOT/tests/flatten/csvcol.py" "$tmp/inp/eob.csv" provider_npi)" "0000000000" "#provider-org gives the contained Organization's NPI"
expect_eq "$(python3 "$BB_SOURCE_ROOT/tests/flatten/csvcol.py" "$tmp/inp/eob.csv" provider_name)" "Fake ORG Name" "and its name"
expect_eq "$(python3 "$BB_SOURCE_ROOT/tests/flatten/csvcol.py" "$tmp/inp/eob.csv" last_updated | wc -l)" "0" "IGNORED_FIELD lastUpdated is NULL"
expect_match "$(cat "$tmp/err")" "meta.lastUpdated is not a valid timestamp; stored as NULL" "with a warning"
expect_match "$(cat "$tmp/err")" "1 dates or timestamps did not parse" "and a count"

# participant id on every row that has the column
flat "$tmp/part" --participant P-7 "$bundle"
expect_eq "$(python3 "$BB_SOURCE_ROOT/tests/flatten/csvcol.py" "$tmp/part/eob.csv" participant_id | sort -u)" "P-7" "--participant fills participant_id"

# usage errors
expect_rc 64 "no --out" -- "$BBINGEST" flatten "$bundle"
expect_rc 66 "a missing input" -- "$BBINGEST" flatten --out "$tmp/missing" "$tmp/does-not-exist.json"
expect_match "$errout" "cannot open input" "missing input is named"
done_testing
