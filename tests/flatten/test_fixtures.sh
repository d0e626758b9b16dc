#!/usr/bin/env bash
# Every fixture file in $BB_FIXTURES through `bbingest flatten`: the number
# of rows of every table and the exact sums (and multisets) of the amounts
# equal what jq computes from the JSON itself (tests/flatten/expect.jq);
# sums are done in bc, never in floating point.
. "$BB_SOURCE_ROOT/tests/lib.sh"
here="$BB_SOURCE_ROOT/tests/flatten"
[ -d "$BB_FIXTURES" ] || fail "fixtures not found at $BB_FIXTURES"

# exact sum of the numbers on stdin (one per line), printed with 20 decimals
exact_sum() {
  awk 'BEGIN { print "scale=20"; print "s=0" }
       /[eE]/ { print "exponent notation in " $0 > "/dev/stderr"; exit 1 }
       NF { print "s=s+(" $0 ")" }
       END { print "s/1" }' | bc
}
# a list of numbers as jq prints them, sorted: a canonical multiset
canon() { jq -s -c 'sort'; }


declare -A key=( [eob]=eob_id [eob_item]=eob_id [eob_item_adjudication]=eob_id
  [eob_diagnosis]=eob_id [eob_procedure]=eob_id [eob_care_team]=eob_id
  [eob_supporting_info]=eob_id [eob_total]=eob_id [eob_extension]=eob_id
  [patient]=patient_id [coverage]=coverage_id [eob_item_detail]=eob_id )

files=0 detail_files=0
while IFS= read -r f; do
  name=${f#"$BB_FIXTURES"/}
  out="$tmp/out"; rm -rf "$out"
  "$BBINGEST" flatten --out "$out" "$f" 2>"$tmp/err" || fail "$name: flatten failed: $(cat "$tmp/err")"
  declare -A want=()
  while read -r k v; do want[$k]=$v; done < <(jq -r -f "$here/expect.jq" "$f")
  declare -A got=()
  args=()
  for t in "${!key[@]}"; do args+=("$t=$t.${key[$t]}"); done
  args+=(adjudication_amounts=eob_item_adjudication.amount list_adjudication_amount=eob_item_adjudication.amount
    list_payment_amount=eob.payment_amount list_total_amount=eob_total.amount list_item_quantity=eob_item.quantity
    list_detail_quantity=eob_item_detail.quantity list_detail_net=eob_item_detail.net)
  while read -r k v; do got[$k]=$v; done < <(python3 "$here/csvcol.py" "$out" "${args[@]}")
  for t in "${!key[@]}" adjudication_amounts; do
    n=$(wc -w <<<"${got[$t]}")
    [ "$n" = "${want[$t]}" ] || fail "$name: $t has $n rows, jq counts ${want[$t]}"
  done
  for l in list_adjudication_amount list_payment_amount list_total_amount list_item_quantity \
           list_detail_quantity list_detail_net; do
    ours=$(tr ' ' '\n' <<<"${got[$l]}" | sed '/^$/d')
    theirs=$(tr ' ' '\n' <<<"${want[$l]}" | sed '/^$/d')
    s1=$(printf '%s\n' "$ours" | exact_sum); s2=$(printf '%s\n' "$theirs" | exact_sum)
    [ "$s1" = "$s2" ] || fail "$name: exact sum of $l is $s1, jq says $s2"
    [ "$(printf '%s\n' "$ours" | canon)" = "$(printf '%s\n' "$theirs" | canon)" ] ||
      fail "$name: the values of $l differ from jq's"
  done
  files=$((files + 1))
  [ "${want[eob_item_detail]}" -eq 0 ] || detail_files=$((detail_files + 1))
  pass "$name: row counts of ${#key[@]} tables and exact sums of 6 amount columns match jq (${want[eob]} EOB, ${want[eob_item_adjudication]} adjudications, ${want[eob_item_detail]} details)"
done < <(find "$BB_FIXTURES" -name '*.json' | sort)
[ "$files" -ge 75 ] || fail "only $files fixture files found"
# the v3 files carry item[].detail[]: make sure they were among those checked
[ "$detail_files" -ge 9 ] || fail "only $detail_files fixture files have item details; expected the 9 ab2d v3 files and more"
pass "all $files fixture files checked ($detail_files with item details)"
done_testing
