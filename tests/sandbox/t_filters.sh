#!/usr/bin/env bash
# Filters: _lastUpdated (gt/ge/lt/le, repeatable), type (comma list, system
# form, any case), service-date (on the claim's through date); bad values 400.
source "$(dirname "$0")/lib.sh"
start_sandbox
login BBUser00100
walk "_count=50"
jq -c '.entry[].resource | {id, lu: .meta.lastUpdated, t: (.type.coding[] | select(.system == "https://bluebutton.cms.gov/resources/codesystem/eob-type") | .code), end: .billablePeriod.end}' \
  "$TMP/walk.ndjson" >"$TMP/all"
n_all=$(wc -l <"$TMP/all")
count() { fhir "ExplanationOfBenefit/?_count=1&$1"; [ "$STATUS" == 200 ] || fail "$1 answered $STATUS: $(body)"; jq .total "$TMP/body"; }

mid=$(jq -r .lu "$TMP/all" | sort | sed -n "$((n_all / 2))p")
mid_z=${mid%+00:00}Z
want=$(jq -r --arg m "$mid" 'select(.lu > $m) | .id' "$TMP/all" | wc -l)
check "_lastUpdated=gt (instant with Z)" "$want" "$(count "_lastUpdated=gt$mid_z")"
want=$(jq -r --arg m "$mid" 'select(.lu >= $m) | .id' "$TMP/all" | wc -l)
check "_lastUpdated=ge with an encoded +00:00 offset" "$want" "$(count "_lastUpdated=ge${mid/+/%2B}")"
want=$(jq -r 'select(.lu < "2023-01-01") | .id' "$TMP/all" | wc -l)
check "_lastUpdated=lt (date)" "$want" "$(count "_lastUpdated=lt2023-01-01")"
want=$(jq -r 'select(.lu >= "2021-01-01" and .lu < "2024-01-01") | .id' "$TMP/all" | wc -l)
check "_lastUpdated twice (range)" "$want" "$(count "_lastUpdated=ge2021-01-01&_lastUpdated=lt2024-01-01")"
fhir "ExplanationOfBenefit/?_lastUpdated=2021-01-01"
check "_lastUpdated without an operator" '{"detail":"the _lastUpdated operator is not valid"}' "$(body)"
fhir "ExplanationOfBenefit/?_lastUpdated=gtyesterday"
check "_lastUpdated with a bad date: 400" 400 "$STATUS"

for t in PDE CARRIER OUTPATIENT; do
  want=$(jq -r --arg t "$t" 'select(.t == $t) | .id' "$TMP/all" | wc -l)
  check "type=${t,,}" "$want" "$(count "type=${t,,}")"
done
want=$(jq -r 'select(.t == "PDE" or .t == "DME") | .id' "$TMP/all" | wc -l)
check "type=pde,dme" "$want" "$(count "type=pde,dme")"
check "type in the system|code form, upper case" "$want" \
  "$(count "type=https://bluebutton.cms.gov/resources/codesystem/eob-type%7CPDE,DME")"
fhir "ExplanationOfBenefit/?type=pharmacy"
check "bad type" '{"detail":"the type parameter value is not valid"}' "$(body)"

want=$(jq -r 'select(.end >= "2020-01-01") | .id' "$TMP/all" | wc -l)
check "service-date=ge (through date)" "$want" "$(count "service-date=ge2020-01-01")"
want=$(jq -r 'select(.end > "2018-06-30" and .end <= "2022-12-31") | .id' "$TMP/all" | wc -l)
check "service-date range" "$want" "$(count "service-date=gt2018-06-30&service-date=le2022-12-31")"
fhir "ExplanationOfBenefit/?service-date=eq2020-01-01"
check "service-date bad operator" '{"detail":"the service-date operator is not valid"}' "$(body)"
fhir "ExplanationOfBenefit/?_count=5&type=pde&_lastUpdated=gt2020-02-01"
for rel in first next last self; do
  u=$(jq -r ".link[] | select(.relation == \"$rel\") | .url" "$TMP/body")
  [ -z "$u" ] && continue
  [[ "$u" == *"type=pde"* && "$u" == *"_lastUpdated=gt2020-02-01"* ]] || fail "$rel link lost the filters: $u"
done
ok "links repeat the filters"
done_tests
