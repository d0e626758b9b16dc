#!/usr/bin/env bash
# Same seed -> same bytes; other seed -> other data; `bbsandbox truth`
# equals what a full walk returns (counts and exact sums, computed with jq
# in integer cents), for several beneficiaries.
source "$(dirname "$0")/lib.sh"

start_sandbox --public-url https://sandbox.example
login BBUser00140
fhir "ExplanationOfBenefit/?_count=30&startIndex=3"
sha1=$(sha256sum <"$TMP/body" | cut -c1-64)
fhir "Coverage/"; cov1=$(sha256sum <"$TMP/body" | cut -c1-64)
stop_sandbox
start_sandbox --public-url https://sandbox.example
login BBUser00140
fhir "ExplanationOfBenefit/?_count=30&startIndex=3"
check "same seed, same page bytes" "$sha1" "$(sha256sum <"$TMP/body" | cut -c1-64)"
fhir "Coverage/"
check "same seed, same Coverage bytes" "$cov1" "$(sha256sum <"$TMP/body" | cut -c1-64)"
check "links use --public-url" "https://sandbox.example/v2/fhir/Coverage?" "$(jq -r '.link[0].url' "$TMP/body" | cut -d? -f1)?"
stop_sandbox
SEED=8 start_sandbox --public-url https://sandbox.example
login BBUser00140
fhir "ExplanationOfBenefit/?_count=30&startIndex=3"
[ "$sha1" != "$(sha256sum <"$TMP/body" | cut -c1-64)" ] || fail "another seed gave the same page"
ok "another seed, other data"
stop_sandbox

start_sandbox
for u in BBUser00000 BBUser00141 BBUser00199; do
  login "$u"
  walk "_count=50"
  "$BBSANDBOX" truth "$u" --seed 7 --beneficiaries 200 >"$TMP/truth"
  admin GET "/_admin/truth?user=$u" | jq -S . >"$TMP/truth-admin"
  check "$u: admin truth equals the CLI's" "$(jq -S . "$TMP/truth")" "$(cat "$TMP/truth-admin")"
  jq -s '
    def cents: . * 100 | round;
    def eobs: [.[].entry[]?.resource];
    eobs as $e |
    {
      eob: ($e | length),
      by_type: ($e | map(.type.coding[] | select(.system == "https://bluebutton.cms.gov/resources/codesystem/eob-type") | .code | ascii_downcase) | group_by(.) | map({(.[0]): length}) | add),
      cancelled: ($e | map(select(.status == "cancelled")) | length),
      items: ($e | map(.item | length) | add),
      adjudications: ($e | map(.item[].adjudication | length) | add),
      adjudication_amounts: ($e | [.[].item[].adjudication[] | select(.amount)] | length),
      adjudication_cents: ($e | [.[].item[].adjudication[].amount.value // empty | cents] | add),
      totals: ($e | [.[].total[]] | length),
      total_cents: ($e | [.[].total[].amount.value | cents] | add),
      payments: ($e | [.[].payment.amount // empty] | length),
      payment_cents: ($e | [.[].payment.amount.value // empty | cents] | add),
      bb_money: ($e | [.[].benefitBalance[]?.financial[].usedMoney // empty] | length),
      bb_cents: ($e | [.[].benefitBalance[]?.financial[].usedMoney.value // empty | cents] | add),
      diagnoses: ($e | [.[].diagnosis[]?] | length),
      procedures: ($e | [.[].procedure[]?] | length),
      care_team: ($e | [.[].careTeam[]] | length),
      supporting_info: ($e | [.[].supportingInfo[]] | length)
    }' "$TMP/walk.ndjson" >"$TMP/walked"
  jq '
    def cents: tonumber * 100 | round;
    {
      eob: .eob.count,
      by_type: (.eob.by_type | with_entries(select(.value > 0))),
      cancelled: .eob.cancelled,
      items: .eob_item.count,
      adjudications: .eob_item_adjudication.count,
      adjudication_amounts: .eob_item_adjudication.amount_count,
      adjudication_cents: (.eob_item_adjudication.amount_sum | cents),
      totals: .eob_total.total_count,
      total_cents: (.eob_total.total_sum | cents),
      payments: .eob.payment_count,
      payment_cents: (.eob.payment_sum | cents),
      bb_money: .eob_total.benefit_balance_money_count,
      bb_cents: (.eob_total.benefit_balance_money_sum | cents),
      diagnoses: .eob_diagnosis.count,
      procedures: .eob_procedure.count,
      care_team: .eob_care_team.count,
      supporting_info: .eob_supporting_info.count
    }' "$TMP/truth" >"$TMP/expected"
  check "$u: walk matches truth" "$(jq -S -c . "$TMP/expected")" "$(jq -S -c . "$TMP/walked")"
done
# amounts are exact decimal text: never more than two decimals, some with trailing zeros
: >"$TMP/raw"
for start in 0 50; do fhir "ExplanationOfBenefit/?_count=50&startIndex=$start"; cat "$TMP/body" >>"$TMP/raw"; done
grep -o '"value":[0-9.-]*,"currency"' "$TMP/raw" | sed 's/"value":\([^,]*\),.*/\1/' >"$TMP/amounts"
grep -qvE '^-?[0-9]+(\.[0-9]{1,2})?$' "$TMP/amounts" && fail "an amount is not a plain decimal: $(grep -vE '^-?[0-9]+(\.[0-9]{1,2})?$' "$TMP/amounts" | head -1)"
grep -qE '\.[0-9]0$' "$TMP/amounts" || fail "no amount with a trailing zero"
ok "amounts are exact decimals, some with trailing zeros ($(wc -l <"$TMP/amounts") checked)"
done_tests
