# Expected row counts and amount lists of one FHIR document, computed from
# the JSON alone (independently of bbingest's flattener).  Output: one line
# "name value" per figure; amounts come out as lists (sum them exactly).
def resources: if .resourceType == "Bundle" then [.entry[]?.resource | select(. != null)] else [.] end;
def eobs: resources | map(select(.resourceType == "ExplanationOfBenefit"));
def exts: [.. | objects | ((.extension // empty), (.modifierExtension // empty)) | .[]];
def num: select(. != null) | tostring;
eobs as $e
| resources as $r
| [
  "eob \($e | length)",
  "eob_item \([$e[] | .item[]?] | length)",
  "eob_item_adjudication \([$e[] | .item[]? | .adjudication[]?] | length)",
  "eob_item_detail \([$e[] | .item[]? | .detail[]?] | length)",
  "adjudication_amounts \([$e[] | .item[]? | .adjudication[]? | .amount.value | select(. != null)] | length)",
  "eob_diagnosis \([$e[] | .diagnosis[]?] | length)",
  "eob_procedure \([$e[] | .procedure[]?] | length)",
  "eob_care_team \([$e[] | .careTeam[]?] | length)",
  "eob_supporting_info \([$e[] | .supportingInfo[]?] | length)",
  "eob_total \([$e[] | (.total[]?), (.benefitBalance[]? | .financial[]?), (.adjudication[]?)] | length)",
  "eob_extension \([$e[] | exts[]] | length)",
  "patient \([$r[] | select(.resourceType == "Patient")] | length)",
  "coverage \([$r[] | select(.resourceType == "Coverage")] | length)",
  "list_adjudication_amount \([$e[] | .item[]? | .adjudication[]? | .amount.value | num] | join(" "))",
  "list_payment_amount \([$e[] | .payment.amount.value | num] | join(" "))",
  "list_total_amount \([$e[] | (.total[]? | .amount.value), (.benefitBalance[]? | .financial[]? | (.usedMoney.value // .allowedMoney.value)), (.adjudication[]? | .amount.value) | num] | join(" "))",
  "list_item_quantity \([$e[] | .item[]? | .quantity.value | num] | join(" "))",
  "list_detail_quantity \([$e[] | .item[]? | .detail[]? | .quantity.value | num] | join(" "))",
  "list_detail_net \([$e[] | .item[]? | .detail[]? | .net.value | num] | join(" "))"
  ]
| .[]
