#!/usr/bin/env bash
# bbingest load against a real PostgreSQL: every fixture loads and its row
# counts and numeric sums equal jq's; loading twice gives identical tables;
# a changed EOB replaces its children; --participant is stored; a bad input
# stores nothing (counts unchanged) and exits 65.
. "$BB_SOURCE_ROOT/tests/lib.sh"
. "$BB_SOURCE_ROOT/tests/flatten/bad_inputs.sh"
here="$BB_SOURCE_ROOT/tests/flatten"
new_db load
tables=(eob eob_item eob_item_adjudication eob_item_detail eob_diagnosis eob_procedure eob_care_team
  eob_supporting_info eob_total eob_extension patient coverage)

counts() {
  local q="" t
  for t in "${tables[@]}"; do q+="${q:+ || ' ' || }(SELECT count(*) FROM claims.$t)"; done
  sql "SELECT $q"
}
# every table's rows, ordered, fetched_at left out (it is the load time)
dump_md5() {
  local t
  for t in "${tables[@]}"; do
    sql "SELECT md5(coalesce(string_agg(r, E'\n' ORDER BY r), '')) FROM (
           SELECT (to_jsonb(x) - 'fetched_at')::text AS r FROM claims.$t x) s"
  done | md5sum
}
exact_sum() {
  awk 'BEGIN { print "scale=20"; print "s=0" } NF { print "s=s+(" $0 ")" } END { print "s/1" }' | bc
}
wipe() { sql "TRUNCATE claims.eob, claims.patient, claims.coverage CASCADE" >/dev/null; }

expect_rc 0 "load applies the migrations of a fresh database" -- "$BBINGEST" load "$BB_FIXTURES/bfd-v2/eobReadPde.json"
expect_eq "$(sql "SELECT count(*) FROM claims.eob")" "1" "one EOB loaded"
wipe

# each fixture alone: counts and exact sums per table equal jq's
n=0
while IFS= read -r f; do
  name=${f#"$BB_FIXTURES"/}
  wipe
  "$BBINGEST" load "$f" 2>"$tmp/err" || fail "$name: load failed: $(cat "$tmp/err")"
  declare -A want=()
  while read -r k v; do want[$k]=$v; done < <(jq -r -f "$here/expect.jq" "$f")
  # ids repeat within some files (a Bundle of one EOB twice): count distinct ids
  for t in eob patient coverage; do
    want[$t]=$(jq -r --arg t "$t" '(if .resourceType == "Bundle" then [.entry[]?.resource] else [.] end)
      | map(select(.resourceType == ({eob: "ExplanationOfBenefit", patient: "Patient", coverage: "Coverage"}[$t])))
      | map(.id) | unique | length' "$f")
  done
  for t in "${tables[@]}"; do
    got=$(sql "SELECT count(*) FROM claims.$t")
    [ "$got" = "${want[$t]}" ] || fail "$name: claims.$t has $got rows, jq counts ${want[$t]}"
  done
  for pair in "eob_item_adjudication amount list_adjudication_amount" "eob payment_amount list_payment_amount" \
              "eob_total amount list_total_amount" "eob_item quantity list_item_quantity" \
              "eob_item_detail quantity list_detail_quantity" "eob_item_detail net list_detail_net"; do
    set -- $pair
    s1=$(sql "SELECT coalesce(sum($2), 0) FROM claims.$1" | exact_sum)
    s2=$(tr ' ' '\n' <<<"${want[$3]}" | exact_sum)
    [ "$s1" = "$s2" ] || fail "$name: numeric sum of claims.$1.$2 is $s1, jq says $s2"
  done
  n=$((n + 1))
done < <(find "$BB_FIXTURES" -name '*.json' | sort)
pass "$n fixture files: row counts of ${#tables[@]} tables and numeric sums of 6 amount columns equal jq's"

# everything at once, twice: identical tables
wipe
mapfile -t all < <(find "$BB_FIXTURES" -name '*.json' | sort)
expect_rc 0 "load every fixture in one run" -- "$BBINGEST" load "${all[@]}"
c1=$(counts); d1=$(dump_md5)
expect_rc 0 "load every fixture again" -- "$BBINGEST" load "${all[@]}"
expect_eq "$(counts)" "$c1" "row counts unchanged by the second load"
expect_eq "$(dump_md5)" "$d1" "tables identical after loading the same input twice"
expect_match "$(sql "SELECT count(DISTINCT claim_type) FROM claims.eob WHERE claim_type IS NOT NULL")" "^8$" "all 8 claim types present"
expect_eq "$(sql "SELECT count(*) FROM claims.eob WHERE claim_type IS NULL AND claim_type_code IS NOT NULL")" "0" "every claim with a claim type code has a claim type"
expect_eq "$(sql "SELECT count(*) FROM claims.eob WHERE api_version = 'v3' AND claim_type IN ('carrier', 'dme', 'hha', 'hospice', 'inpatient', 'outpatient', 'pde', 'snf')")" \
  "$(sql "SELECT count(*) FROM claims.eob WHERE api_version = 'v3' AND claim_type IS NOT NULL")" "v3 claims map to the eight v2 claim types"

# a changed EOB replaces its children
f="$BB_FIXTURES/bfd-v2/eobReadCarrierWithMultipleLines.json"
wipe
expect_rc 0 "load a carrier claim with 7 lines" -- "$BBINGEST" load "$f"
expect_eq "$(sql "SELECT count(*) FROM claims.eob_item")" "7" "7 lines"
jq '.item = .item[0:3] | .item[0].adjudication[1].amount.value = 1234.56 | .diagnosis = .diagnosis[0:1]' "$f" >"$tmp/changed.json"
want_sum=$(jq -r '[.item[].adjudication[].amount.value | select(. != null)] | map(tostring) | .[]' "$tmp/changed.json" | exact_sum)
expect_rc 0 "load the changed claim" -- "$BBINGEST" load "$tmp/changed.json"
expect_eq "$(sql "SELECT count(*) FROM claims.eob")" "1" "still one claim"
expect_eq "$(sql "SELECT count(*) FROM claims.eob_item")" "3" "lines replaced: 3 left"
expect_eq "$(sql "SELECT count(*) FROM claims.eob_item_adjudication WHERE item_sequence NOT IN (SELECT sequence FROM claims.eob_item)")" "0" "no adjudication of a removed line is left"
expect_eq "$(sql "SELECT count(*) FROM claims.eob_diagnosis")" "1" "diagnoses replaced"
expect_eq "$(sql "SELECT sum(amount) FROM claims.eob_item_adjudication" | exact_sum)" "$want_sum" "amounts are the changed claim's, exactly"
expect_eq "$(sql "SELECT count(*) FROM claims.eob_item_adjudication WHERE amount = 1234.56")" "1" "the changed amount is stored"

# a changed v3 EOB replaces its item details (item[].detail[])
f3="$BB_FIXTURES/ab2d/EOB-for-Carrier-R4v3.json"
wipe
expect_rc 0 "load a v3 carrier claim with item details" -- "$BBINGEST" load "$f3"
want=$(jq '[.item[].detail[]?] | length' "$f3")
expect_eq "$(sql "SELECT count(*) FROM claims.eob_item_detail")" "$want" "its $want details are stored"
expect_eq "$(sql "SELECT string_agg(format('%s/%s/%s/%s/%s/%s/%s/%s', item_sequence, ordinal, sequence, product_system, product_code, quantity, quantity_unit, quantity_code), ' ' ORDER BY item_sequence, ordinal) FROM claims.eob_item_detail")" \
  "$(jq -r '[.item[] | .sequence as $s | .detail[]? | "\($s)/1/\(.sequence)/\(.productOrService.coding[0].system)/\(.productOrService.coding[0].code)/\(.quantity.value)/\(.quantity.unit)/\(.quantity.code)"] | join(" ")' "$f3")" \
  "every detail's line, sequence, NDC coding and quantity with its unit as in the JSON"
# line 3 loses its detail, line 5's quantity changes, line 8 gets a second detail with price and adjudication
jq '(.item[] | select(.sequence == 3)) |= del(.detail)
  | (.item[] | select(.sequence == 5) | .detail[0].quantity.value) = 12.345
  | (.item[] | select(.sequence == 8) | .detail) += [{"sequence": 2, "productOrService": {"coding": [{"system": "http://hl7.org/fhir/sid/ndc", "code": "00000000001"}]},
      "quantity": {"value": 0.1}, "unitPrice": {"value": 10.01, "currency": "USD"}, "net": {"value": 1.001, "currency": "USD"},
      "adjudication": [{"category": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/adjudication", "code": "eligible"}]}, "amount": {"value": 0.99}}]}]' \
  "$f3" >"$tmp/changed3.json"
adj_before=$(sql "SELECT count(*) FROM claims.eob_item_adjudication")
expect_rc 0 "load the changed v3 claim" -- "$BBINGEST" load "$tmp/changed3.json"
expect_eq "$(sql "SELECT count(*) FROM claims.eob_item_detail")" "$want" "details replaced: one removed, one added"
expect_eq "$(sql "SELECT count(*) FROM claims.eob_item_detail WHERE item_sequence = 3")" "0" "the removed detail is gone"
expect_eq "$(sql "SELECT quantity FROM claims.eob_item_detail WHERE item_sequence = 5")" "12.345" "the changed quantity is stored exactly"
expect_eq "$(sql "SELECT sum(quantity) FROM claims.eob_item_detail" | exact_sum)" \
  "$(jq -r '.item[].detail[]?.quantity.value | tostring' "$tmp/changed3.json" | exact_sum)" "detail quantities sum exactly to the changed claim's"
expect_eq "$(sql "SELECT format('%s %s %s %s', ordinal, unit_price, net, adjudications->0->>'amount') FROM claims.eob_item_detail WHERE item_sequence = 8 AND sequence = 2")" \
  "2 10.01 1.001 0.99" "the new detail's unit price, net and adjudication amount, exact"
expect_eq "$(sql "SELECT count(*) FROM claims.eob_item_adjudication")" "$adj_before" "a detail's adjudication is not a line adjudication"
# the analysts' view of details: one row per detail, with its line's code and its own amounts
expect_eq "$(sql "SELECT count(*) FROM claims.v_item_detail")" "$want" "v_item_detail shows every detail once"
expect_eq "$(sql "SELECT string_agg(format('%s/%s/%s', item_sequence, line_product_code, product_code), ' ' ORDER BY item_sequence, ordinal) FROM claims.v_item_detail")" \
  "$(jq -r '[.item[] | .productOrService.coding[0].code as $c | .sequence as $s | .detail[]? | "\($s)/\($c)/\(.productOrService.coding[0].code)"] | join(" ")' "$tmp/changed3.json")" \
  "v_item_detail pairs each detail with its line's code"
expect_eq "$(sql "SELECT format('%s %s %s', allowed, coalesce(paid::text, 'none'), net) FROM claims.v_item_detail WHERE item_sequence = 8 AND detail_sequence = 2")" \
  "0.99 none 1.001" "v_item_detail: the detail's eligible amount as allowed, exact; no paid amount"
expect_eq "$(sql "SELECT count(*) FROM claims.v_item_detail WHERE allowed IS NOT NULL OR paid IS NOT NULL")" "1" "only the detail with an adjudication has amounts"
expect_rc 0 "load the original v3 claim over the changed one" -- "$BBINGEST" load "$f3"
expect_eq "$(sql "SELECT count(*) FROM claims.eob_item_detail")" "$want" "as many details as the original"
expect_eq "$(sql "SELECT count(*) FROM claims.eob_item_detail WHERE item_sequence = 3")" "1" "the detail is back"
expect_eq "$(sql "SELECT count(*) FROM claims.eob_item_detail WHERE unit_price IS NOT NULL OR net IS NOT NULL OR adjudications IS NOT NULL")" "0" "the added detail is gone"
sql "DELETE FROM claims.eob" >/dev/null
expect_eq "$(sql "SELECT count(*) FROM claims.eob_item_detail")" "0" "deleting the claim deletes its details"

# the same EOB twice in one input: the later one wins
jq -c '., (.item = .item[0:2])' "$f" >"$tmp/twice.ndjson"
expect_rc 0 "NDJSON with the same EOB twice" -- "$BBINGEST" load "$tmp/twice.ndjson"
expect_eq "$(sql "SELECT count(*) FROM claims.eob_item")" "2" "the later version replaced the earlier"

# participant, stdin, gzip
wipe
expect_rc 0 "load from gzip on stdin with --participant" -- sh -c "gzip -c \"$BB_FIXTURES/sample-client/eobData.json\" | \"$BBINGEST\" load --participant P-001 -"
expect_eq "$(sql "SELECT count(*) FROM claims.eob WHERE participant_id = 'P-001'")" "10" "participant id on every claim"
expect_eq "$(sql "SELECT count(*) FROM claims.v_line_item WHERE participant_id = 'P-001'")" "99" "v_line_item shows the 99 lines"
expect_eq "$(sql "SELECT sum(claims) FROM claims.v_claims_by_type_year")" "10" "v_claims_by_type_year counts the claims"
want=$(jq -r '[.entry[].resource.item[].adjudication[] | select(.category.coding[0].code == "eligible") | .amount.value | tostring] | .[]' "$BB_FIXTURES/sample-client/eobData.json" | exact_sum)
expect_eq "$(sql "SELECT sum(allowed) FROM claims.v_line_item" | exact_sum)" "$want" "v_line_item.allowed sums the eligible amounts exactly"

# bad inputs store nothing
good="$BB_FIXTURES/sample-client/eobData.json"
wipe
"$BBINGEST" load "$good" 2>/dev/null
before=$(counts); dbefore=$(dump_md5)
for c in "${bad_cases[@]}"; do
  make_bad "$c" "$tmp/bad.json"
  expect_rc 65 "$c: load exits 65" -- "$BBINGEST" load "$BB_FIXTURES/bfd-v2/eobReadPde.json" "$tmp/bad.json"
  expect_match "$errout" "$tmp/bad.json: byte [0-9]+: " "$c: error names input and byte"
  expect_eq "$(sql "SELECT count(*) FROM claims.eob WHERE eob_id = 'pde-89'")" "1" "$c: the good input before it is stored"
  sql "DELETE FROM claims.eob WHERE eob_id = 'pde-89'" >/dev/null
  expect_eq "$(counts)" "$before" "$c: table counts unchanged"
done
expect_eq "$(dump_md5)" "$dbefore" "tables unchanged by all the bad inputs"

# no database: a clear error, exit 69
expect_rc 69 "unreachable database" -- "$BBINGEST" load -d "host=127.0.0.1 port=1 connect_timeout=2" "$good"
done_testing
