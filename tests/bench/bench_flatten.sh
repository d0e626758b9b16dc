#!/usr/bin/env bash
# Benchmark of the hot path (design.md section 7), measured side by side in
# one run on the same bytes.  Not part of the test suite:
#
#   tests/bench/bench_flatten.sh [BUILD_DIR [MB]]   (default: build-release, 300)
#
# Without BUILD_DIR it configures and builds build-release (buildtype=release,
# LTO), as a benchmark should; the test builds (debugoptimized, sanitizers)
# are slower.
# Builds an NDJSON input of at least MB megabytes from every EOB in the real
# fixtures ($BB_FIXTURES or ../shared/fixtures/bluebutton) with fresh ids, then
# prints:
#   flatten   MB/s and EOB/s of `bbingest flatten` against `json_verify -s`
#             (yajl's parse-only floor) and `jq -c .`
#   load      `bbingest load` against COPY of the CSVs flatten wrote (the
#             bulk-load floor) and against loading the raw JSON into a jsonb
#             column and flattening it with SQL
#   memory    peak RSS of flatten and load for 10 MB and for 1 GB of input
# Targets (issue 3): flatten >= 0.25x json_verify and >= 10x jq; load within
# 1.5x of COPY and >= 3x faster than jsonb; peak RSS < 16 MiB, flat (+-10 %).
# Needs pg_virtualenv (postgresql-15), json_verify (yajl-tools), jq, GNU time.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
if [ -z "${1:-}" ] && [ -z "${BENCH_IN_PG:-}" ]; then
  [ -f "$here/build-release/build.ninja" ] ||
    meson setup "$here/build-release" "$here" -Dbuildtype=release -Db_lto=true >/dev/null
  ninja -C "$here/build-release" daemon/bbingest >/dev/null
fi
build=$(cd "${1:-$here/build-release}" && pwd)
mb=${2:-300}
bb="$build/daemon/bbingest"
fixtures=${BB_FIXTURES:-$here/../shared/fixtures/bluebutton}
[ -x "$bb" ] || { echo "no $bb: build first" >&2; exit 1; }
for p in json_verify jq /usr/bin/time pg_virtualenv; do
  command -v "$p" >/dev/null || { echo "missing $p" >&2; exit 1; }
done
if [ -z "${BENCH_IN_PG:-}" ]; then
  # rerun inside a throwaway PostgreSQL 15 (own directory: -t)
  exec env BENCH_IN_PG=1 pg_virtualenv -t -v 15 -o fsync=off -o shared_buffers=256MB \
    -o max_wal_size=4GB -- "$0" "$build" "$mb"
fi
work=$(mktemp -d /tmp/bench_flatten.XXXXXX)
# CSVs go to memory when /dev/shm exists (the others write to /dev/null)
csvdir=$(mktemp -d /dev/shm/bench_flatten_csv.XXXXXX 2>/dev/null || mktemp -d "$work/csv.XXXXXX")
trap 'rm -rf "$work" "$csvdir"' EXIT
cd "$work"

# ---------------------------------------------------------------- input
# every EOB of the fixtures, one compact line each, id moved first
for f in $(find "$fixtures" -name '*.json' | sort); do
  jq -c 'if .resourceType == "Bundle" then .entry[]?.resource else . end
         | select(.resourceType == "ExplanationOfBenefit")
         | {id: ("@@" + (.id // "noid"))} + del(.id)' "$f"
done >base.ndjson
base_bytes=$(stat -c %s base.ndjson)
# replicate with fresh ids: b<copy>-<original id>
make_input() {   # make_input MB FILE
  local reps=$(( ($1 * 1000000 + base_bytes - 1) / base_bytes ))
  awk -v reps="$reps" '{ l[NR] = $0 } END { for (r = 1; r <= reps; r++) for (i = 1; i <= NR; i++) {
      s = l[i]; sub(/^\{"id":"@@/, "{\"id\":\"b" r "." i "-", s); print s } }' base.ndjson >"$2"
}
make_input "$mb" big.ndjson
make_input 10 small.ndjson
bytes=$(stat -c %s big.ndjson)
eobs=$(wc -l <big.ndjson)
MB=$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1e6 }')
echo "input: $MB MB, $eobs EOBs ($(wc -l <base.ndjson) distinct fixture EOBs with fresh ids), NDJSON"
cat big.ndjson >/dev/null   # warm the page cache

# wall seconds, CPU seconds (user + system) and peak RSS (KiB) of a command
measure() {   # measure NAME command...   -> T_<NAME> wall, C_<NAME> cpu, R_<NAME> KiB
  local name=$1 t u s r; shift
  /usr/bin/time -f '%e %U %S %M' -o "$work/time.$name" "$@" >/dev/null 2>"$work/err.$name" ||
    { cat "$work/err.$name" >&2; echo "$name failed" >&2; exit 1; }
  read -r t u s r <"$work/time.$name"
  printf -v "T_$name" '%s' "$t"; printf -v "R_$name" '%s' "$r"
  printf -v "C_$name" '%s' "$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.2f", u + s }')"
}
best_of() {   # best_of N NAME command...: the run with the least CPU time
  local n=$1 name=$2 bc="" bt="" br=""; shift 2
  for _ in $(seq "$n"); do
    measure "$name" "$@"
    local c="C_$name" t="T_$name" r="R_$name"
    if [ -z "$bc" ] || awk -v a="${!c}" -v b="$bc" 'BEGIN { exit !(a < b) }'; then
      bc=${!c}; bt=${!t}; br=${!r}
    fi
  done
  printf -v "C_$name" '%s' "$bc"; printf -v "T_$name" '%s' "$bt"; printf -v "R_$name" '%s' "$br"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
rate() { awk -v n="$1" -v t="$2" 'BEGIN { printf "%.1f", n / t }'; }

# ---------------------------------------------------------------- flatten
echo
echo "== flatten (one core: CPU seconds, user + system; same bytes; best of 3)"
echo "   (the machine is shared: CPU time is the robust figure, wall time is shown too)"
best_of 3 verify sh -c "exec json_verify -s -q <big.ndjson"
best_of 3 flatten "$bb" flatten --out "$csvdir" big.ndjson
best_of 2 jq jq -c . big.ndjson
line() { printf '%-28s %7s s cpu %7s s wall %8s MB/s %9s EOB/s\n' "$1" "$2" "$3" "$(rate "$MB" "$2")" "$(rate "$eobs" "$2")"; }
line "json_verify -s (parse only)" "$C_verify" "$T_verify"
line "bbingest flatten" "$C_flatten" "$T_flatten"
line "jq -c ." "$C_jq" "$T_jq"
echo "flatten speed vs json_verify: $(ratio "$C_verify" "$C_flatten")x (target >= 0.25x)"
echo "flatten speed vs jq:          $(ratio "$C_jq" "$C_flatten")x (target >= 10x)"
rows=$(cat "$csvdir"/*.csv | wc -l)
echo "rows written: $((rows - 11)) in 11 CSV files, $(du -sm "$csvdir" | cut -f1) MB"

# ---------------------------------------------------------------- load
echo
echo "== load into PostgreSQL 15 (fresh tables each time; COPY and load best of 2, alternating)"
export PGDATABASE=bench
createdb bench
"$bb" migrate >/dev/null
reset_tables() { psql -X -q -c "TRUNCATE claims.eob, claims.patient, claims.coverage CASCADE" 2>/dev/null; psql -X -q -c "CHECKPOINT"; }

{
  echo "BEGIN;"
  for t in eob eob_item eob_item_adjudication eob_item_detail eob_diagnosis eob_procedure eob_care_team \
           eob_supporting_info eob_total eob_extension patient coverage; do
    echo "\\copy claims.$t ($(head -1 "$csvdir/$t.csv")) FROM '$csvdir/$t.csv' WITH (FORMAT csv, HEADER true)"
  done
  echo "COMMIT;"
} >copy.sql
# COPY and load alternate, twice; the best of each counts (the machine is shared)
bl="" bc="" cl=""
for round in 1 2; do
  reset_tables
  measure copy psql -X -q -v ON_ERROR_STOP=1 -f copy.sql
  if [ -z "$bc" ] || awk -v a="$T_copy" -v b="$bc" 'BEGIN { exit !(a < b) }'; then bc=$T_copy; fi
  reset_tables
  measure load "$bb" load big.ndjson
  n_loaded=$(psql -X -A -t -c "SELECT count(*) FROM claims.eob")
  [ "$n_loaded" -eq "$eobs" ] || { echo "load stored $n_loaded EOBs, expected $eobs" >&2; exit 1; }
  if [ -z "$bl" ] || awk -v a="$T_load" -v b="$bl" 'BEGIN { exit !(a < b) }'; then bl=$T_load; cl=$C_load; fi
done
T_copy=$bc T_load=$bl C_load=$cl

reset_tables
psql -X -q -c "DROP TABLE IF EXISTS raw_eob; CREATE UNLOGGED TABLE raw_eob (doc jsonb)"
cat >jsonb.sql <<SQL
BEGIN;
-- one JSON document per line, read verbatim (no CSV quoting, no escapes)
\\copy raw_eob (doc) FROM '$work/big.ndjson' WITH (FORMAT csv, QUOTE e'\\x01', DELIMITER e'\\x02')
INSERT INTO claims.eob (eob_id, patient_id, claim_type, claim_id, status, billable_start, billable_end,
    payment_amount, api_version)
  SELECT doc->>'id', regexp_replace(doc#>>'{patient,reference}', '^.*Patient/', ''),
         lower((SELECT c->>'code' FROM jsonb_array_elements(doc#>'{type,coding}') c
                WHERE c->>'system' LIKE '%eob-type' OR c->>'system' LIKE '%EOB-TYPE' LIMIT 1)),
         (SELECT i->>'value' FROM jsonb_array_elements(doc->'identifier') i LIMIT 1),
         doc->>'status',
         CASE WHEN doc#>>'{billablePeriod,start}' ~ '^\d{4}-\d\d-\d\d$' THEN (doc#>>'{billablePeriod,start}')::date END,
         CASE WHEN doc#>>'{billablePeriod,end}' ~ '^\d{4}-\d\d-\d\d$' THEN (doc#>>'{billablePeriod,end}')::date END,
         (doc#>>'{payment,amount,value}')::numeric, 'v2'
  FROM raw_eob;
INSERT INTO claims.eob_item (eob_id, sequence, product_system, product_code, revenue_code, quantity,
    serviced_start, serviced_end)
  SELECT r.doc->>'id', (it->>'sequence')::int, it#>>'{productOrService,coding,0,system}',
         it#>>'{productOrService,coding,0,code}', it#>>'{revenue,coding,0,code}',
         (it#>>'{quantity,value}')::numeric,
         coalesce(it#>>'{servicedPeriod,start}', it->>'servicedDate')::date,
         coalesce(it#>>'{servicedPeriod,end}', it->>'servicedDate')::date
  FROM raw_eob r, jsonb_array_elements(r.doc->'item') it;
INSERT INTO claims.eob_item_adjudication (eob_id, item_sequence, ordinal, category, variable, amount, reason_code)
  SELECT r.doc->>'id', (it->>'sequence')::int, a.n,
         (SELECT c->>'code' FROM jsonb_array_elements(a.adj#>'{category,coding}') c
          WHERE c->>'system' NOT LIKE '%/codesystem/adjudication' AND c->>'system' NOT LIKE '%/CodeSystem/Adjudication' LIMIT 1),
         (SELECT replace(c->>'code', 'https://bluebutton.cms.gov/resources/variables/', '')
          FROM jsonb_array_elements(a.adj#>'{category,coding}') c
          WHERE c->>'system' LIKE '%/codesystem/adjudication' OR c->>'system' LIKE '%/CodeSystem/Adjudication' LIMIT 1),
         (a.adj#>>'{amount,value}')::numeric, a.adj#>>'{reason,coding,0,code}'
  FROM raw_eob r, jsonb_array_elements(r.doc->'item') it,
       jsonb_array_elements(it->'adjudication') WITH ORDINALITY a(adj, n);
INSERT INTO claims.eob_item_detail (eob_id, item_sequence, ordinal, sequence, product_system, product_code,
    quantity, quantity_unit, quantity_system, quantity_code, unit_price, net)
  SELECT r.doc->>'id', (it->>'sequence')::int, d.n, (d.det->>'sequence')::int,
         d.det#>>'{productOrService,coding,0,system}', d.det#>>'{productOrService,coding,0,code}',
         (d.det#>>'{quantity,value}')::numeric, d.det#>>'{quantity,unit}', d.det#>>'{quantity,system}',
         d.det#>>'{quantity,code}', (d.det#>>'{unitPrice,value}')::numeric, (d.det#>>'{net,value}')::numeric
  FROM raw_eob r, jsonb_array_elements(r.doc->'item') it,
       jsonb_array_elements(coalesce(it->'detail', '[]')) WITH ORDINALITY d(det, n);
INSERT INTO claims.eob_diagnosis (eob_id, sequence, system, code, display, type)
  SELECT r.doc->>'id', (d->>'sequence')::int, d#>>'{diagnosisCodeableConcept,coding,0,system}',
         d#>>'{diagnosisCodeableConcept,coding,0,code}', d#>>'{diagnosisCodeableConcept,coding,0,display}',
         d#>>'{type,0,coding,0,code}'
  FROM raw_eob r, jsonb_array_elements(r.doc->'diagnosis') d;
INSERT INTO claims.eob_procedure (eob_id, sequence, system, code, display)
  SELECT r.doc->>'id', (p->>'sequence')::int, p#>>'{procedureCodeableConcept,coding,0,system}',
         p#>>'{procedureCodeableConcept,coding,0,code}', p#>>'{procedureCodeableConcept,coding,0,display}'
  FROM raw_eob r, jsonb_array_elements(r.doc->'procedure') p;
INSERT INTO claims.eob_care_team (eob_id, sequence, provider_id, role, qualification)
  SELECT r.doc->>'id', (c->>'sequence')::int, c#>>'{provider,identifier,value}',
         c#>>'{role,coding,0,code}', c#>>'{qualification,coding,0,code}'
  FROM raw_eob r, jsonb_array_elements(r.doc->'careTeam') c;
INSERT INTO claims.eob_supporting_info (eob_id, ordinal, sequence, category, code, value_number)
  SELECT r.doc->>'id', s.n, (s.si->>'sequence')::int, s.si#>>'{category,coding,0,code}',
         s.si#>>'{code,coding,0,code}', (s.si#>>'{valueQuantity,value}')::numeric
  FROM raw_eob r, jsonb_array_elements(r.doc->'supportingInfo') WITH ORDINALITY s(si, n);
INSERT INTO claims.eob_total (eob_id, kind, ordinal, category, amount)
  SELECT r.doc->>'id', 'total', t.n, t.x#>>'{category,coding,0,code}', (t.x#>>'{amount,value}')::numeric
  FROM raw_eob r, jsonb_array_elements(r.doc->'total') WITH ORDINALITY t(x, n);
INSERT INTO claims.eob_extension (eob_id, ordinal, element, url, value_code, value_text)
  SELECT r.doc->>'id', e.n, 'ExplanationOfBenefit', e.x->>'url', e.x#>>'{valueCoding,code}',
         coalesce(e.x->>'valueString', e.x#>>'{valueIdentifier,value}')
  FROM raw_eob r, jsonb_path_query(r.doc, 'strict \$.**.extension[*]') WITH ORDINALITY e(x, n);
COMMIT;
SQL
measure jsonb psql -X -q -v ON_ERROR_STOP=1 -f jsonb.sql
printf '%-34s %8s s wall\n' "COPY of flatten's CSVs (floor)" "$T_copy"
printf '%-34s %8s s wall (%s s cpu in bbingest)\n' "bbingest load" "$T_load" "$C_load"
printf '%-34s %8s s wall\n' "raw JSON -> jsonb -> SQL flatten" "$T_jsonb"
echo "load time vs COPY floor:  $(ratio "$T_load" "$T_copy")x (target <= 1.5x)"
echo "jsonb route vs load:      $(ratio "$T_jsonb" "$T_load")x slower (target >= 3x)"

# ---------------------------------------------------------------- memory
echo
echo "== peak RSS"
make_input 1000 huge.ndjson
measure f10 "$bb" flatten --out "$work/csv10" small.ndjson
rm -rf "$work/csv10"
measure f1g "$bb" flatten --out "$work/csv1g" huge.ndjson
rm -rf "$work/csv1g"
reset_tables
measure l10 "$bb" load small.ndjson
reset_tables
measure l1g "$bb" load huge.ndjson
kib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }
printf '%-10s %14s %14s %8s\n' "" "10 MB" "1 GB" "1GB/10MB"
printf '%-10s %14s %14s %8s\n' flatten "$(kib "$R_f10")" "$(kib "$R_f1g")" "$(ratio "$R_f1g" "$R_f10")"
printf '%-10s %14s %14s %8s\n' load "$(kib "$R_l10")" "$(kib "$R_l1g")" "$(ratio "$R_l1g" "$R_l10")"
echo "(targets: < 16 MiB, 1 GB within 10 % of 10 MB; 1 GB took ${T_f1g} s to flatten, ${T_l1g} s to load)"
