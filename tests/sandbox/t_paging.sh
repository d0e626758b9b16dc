#!/usr/bin/env bash
# Paging: following next links returns exactly Bundle.total entries, each
# once, ordered by claim id; first/previous/next/last/self links repeat the
# query with startIndex; Bundle.meta.lastUpdated is the newest of load time
# and entries.
source "$(dirname "$0")/lib.sh"
start_sandbox
login BBUser00090
total=$("$BBSANDBOX" truth BBUser00090 --seed 7 --beneficiaries 200 | jq .eob.count)

walk "_count=7&type=carrier,pde,dme,hha,hospice,inpatient,outpatient,snf"
check "pages walked" $(( (total + 6) / 7 )) "$WALK_PAGES"
jq -r '.entry[].resource.id' "$TMP/walk.ndjson" >"$TMP/ids"
check "entries seen = total" "$total" "$(wc -l <"$TMP/ids")"
check "no entry twice" "$total" "$(sort -u "$TMP/ids" | wc -l)"
jq -r '.entry[].resource.identifier[0].value' "$TMP/walk.ndjson" >"$TMP/claimids"
LC_ALL=C sort -c "$TMP/claimids" || fail "not ordered by claim id"
ok "ordered by claim id (string order)"
check "every page says the same total" 1 "$(jq .total "$TMP/walk.ndjson" | sort -u | wc -l)"

fhir "ExplanationOfBenefit/?_count=7&startIndex=7&type=carrier,pde,dme,hha,hospice,inpatient,outpatient,snf"
rels=$(jq -r '[.link[].relation] | join(",")' "$TMP/body")
check "link relations on a middle page" "first,previous,next,last,self" "$rels"
url() { jq -r ".link[] | select(.relation == \"$1\") | .url" "$TMP/body"; }
q() { sed 's/^[^?]*?//' | tr '&' '\n' | sort | tr '\n' '&'; }
check "first" "$(echo "_count=7&_format=application%2Fjson%2Bfhir&patient=$PATIENT&startIndex=0&type=carrier%2Cpde%2Cdme%2Chha%2Chospice%2Cinpatient%2Coutpatient%2Csnf" | q)" "$(url first | q)"
[[ "$(url first)" == "$BASE/v2/fhir/ExplanationOfBenefit?"* ]] || fail "link host/path $(url first)"
ok "links point at this server's /v2/fhir/ExplanationOfBenefit"
check "previous startIndex" "startIndex=0" "$(url previous | grep -o 'startIndex=[0-9]*')"
check "next startIndex" "startIndex=14" "$(url next | grep -o 'startIndex=[0-9]*')"
check "last startIndex" "startIndex=$(( (total - 1) / 7 * 7 ))" "$(url last | grep -o 'startIndex=[0-9]*')"
check "self startIndex" "startIndex=7" "$(url self | grep -o 'startIndex=[0-9]*')"
fhir "ExplanationOfBenefit/?_count=7"
check "first page has no previous" "first,next,last,self" "$(jq -r '[.link[].relation] | join(",")' "$TMP/body")"
fhir "ExplanationOfBenefit/?_count=7&startIndex=$(( (total - 1) / 7 * 7 ))"
check "last page has no next" "first,previous,last,self" "$(jq -r '[.link[].relation] | join(",")' "$TMP/body")"

walk "_count=50"
newest=$(jq -r '.entry[].resource.meta.lastUpdated' "$TMP/walk.ndjson" | sort | tail -1)
meta=$(head -1 "$TMP/walk.ndjson" | jq -r .meta.lastUpdated)
expect=$(printf '%s\n%s\n' "$newest" "2025-06-30T04:00:00.000+00:00" | sort | tail -1)
check "Bundle.meta.lastUpdated = max(load time, newest entry)" "$expect" "$meta"

fhir "ExplanationOfBenefit/?_lastUpdated=gt2030-01-01"
check "empty result: 200" 200 "$STATUS"
check "empty result: total 0" 0 "$(jq .total "$TMP/body")"
check "empty result: no entry" false "$(jq 'has("entry")' "$TMP/body")"
fhir "Coverage/?_count=2"
check "Coverage pages too" 2 "$(jq '.entry | length' "$TMP/body")"
check "Coverage next link" 1 "$(jq '[.link[] | select(.relation == "next")] | length' "$TMP/body")"
done_tests
