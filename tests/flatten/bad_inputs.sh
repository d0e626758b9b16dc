# Hostile inputs for the flatten and load tests: make_bad CASE FILE writes
# one (from the real fixtures where possible); bad_cases lists them.
bad_cases=(truncated malformed invalid_utf8 nul_byte deep_nesting huge_string
  array_for_object number_too_large sequence_overflow empty_file whitespace_only
  top_level_array operation_outcome)

make_bad() {
  local case=$1 out=$2 fx=$BB_FIXTURES
  case $case in
  truncated)          # a download cut in the middle
    head -c 1000000 "$fx/sample-client/eobData.json" >"$out" ;;
  malformed)          # a missing colon
    sed '0,/"id" : "carrier/s//"id" "carrier/' "$fx/bfd-v2/eobReadCarrier.json" >"$out" ;;
  invalid_utf8)       # a 0xff byte inside a string value
    sed '0,/"display" : "OTHER/s//"display" : "\xffOTHER/' "$fx/bfd-v2/eobReadCarrier.json" >"$out" ;;
  nul_byte)           # a raw NUL byte inside a string value
    sed '0,/"display" : "OTHER/s//"display" : "\x00OTHER/' "$fx/bfd-v2/eobReadCarrier.json" >"$out" ;;
  deep_nesting)       # 100,000 nested arrays inside an EOB
    { printf '{"resourceType":"ExplanationOfBenefit","id":"deep","note":'
      head -c 100000 /dev/zero | tr '\0' '['; head -c 100000 /dev/zero | tr '\0' ']'
      printf '}\n'; } >"$out" ;;
  huge_string)        # a 100 MB string value
    { printf '{"resourceType":"Patient","id":"big","gender":"'
      head -c 100000000 /dev/zero | tr '\0' 'a'; printf '"}\n'; } >"$out" ;;
  array_for_object)   # an item that is an object where FHIR has an array
    jq '.entry[1].resource.item = .entry[1].resource.item[0]' "$fx/sample-client/eobData.json" >"$out" ;;
  number_too_large)   # an amount of 1e400
    sed '0,/"value" : 37.5,/s//"value" : 1e400,/' "$fx/bfd-v2/eobReadCarrier.json" >"$out" ;;
  sequence_overflow)  # a 40-digit item sequence
    sed '0,/"sequence" : 6,/s//"sequence" : 1234567890123456789012345678901234567890,/' \
      "$fx/bfd-v2/eobReadCarrier.json" >"$out" ;;
  empty_file)
    : >"$out" ;;
  whitespace_only)
    printf ' \n\t\r\n' >"$out" ;;
  top_level_array)
    jq -c '[.entry[].resource]' "$fx/sample-client/eobData.json" >"$out" ;;
  operation_outcome)  # the server's error instead of data
    printf '{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"processing","diagnostics":"Value for startIndex (60) must be less than than result size (52)"}]}\n' >"$out" ;;
  *) echo "unknown case $case" >&2; return 1 ;;
  esac
}

# what the error must say, per case
bad_expect() {
  case $1 in
  truncated) echo "premature EOF" ;;
  malformed) echo "invalid JSON: parse error" ;;
  invalid_utf8) echo "UTF8" ;;
  nul_byte) echo "invalid JSON" ;;
  deep_nesting) echo "nesting is deeper than the limit of 64 levels" ;;
  huge_string) echo "longer than the 1048576-byte limit" ;;
  array_for_object) echo "ExplanationOfBenefit.item: expected an array, found an object" ;;
  number_too_large) echo "amount.value: number is out of range" ;;
  sequence_overflow) echo "item\[0\].sequence: expected an integer" ;;
  empty_file|whitespace_only) echo "empty input" ;;
  top_level_array) echo "expected a JSON object .* at the top level, found an array" ;;
  operation_outcome) echo "OperationOutcome instead of data: error processing: Value for startIndex" ;;
  esac
}
