#!/usr/bin/env bash
# `meson install --destdir` places exactly what an admin needs: the binary,
# the unit (its paths rewritten to the prefix), the sysusers and tmpfiles
# snippets, the sample configuration (copied to bbingest.yaml only when there
# is none: a second install keeps an edited file), the SQL migrations, the
# two manual pages and ADMIN.md.  The manual pages render without warnings
# and document every command and every configuration key.
. "$BB_SOURCE_ROOT/tests/lib.sh"
build=${BB_BUILD_ROOT:?}
root="$tmp/root"

opt() { meson introspect "$build" --buildoptions | python3 -c "import json,sys; print([o['value'] for o in json.load(sys.stdin) if o['name'] == sys.argv[1]][0])" "$1"; }
prefix=$(opt prefix)
abs() { case $1 in /*) echo "$1" ;; *) echo "$prefix/$1" ;; esac; }
sbindir=$(abs "$(opt sbindir)")
confdir=$(abs "$(opt sysconfdir)")/bbingest
datadir=$(abs "$(opt datadir)")
mandir=$(abs "$(opt mandir)")
echo "# prefix $prefix, sbindir $sbindir, configuration $confdir"

out=$(meson install -C "$build" --destdir "$root" --no-rebuild 2>&1) || { echo "$out" >&2; fail "meson install failed"; }
pass "meson install --destdir succeeds"

want=(
  "$sbindir/bbingest"
  "$prefix/lib/systemd/system/bbingest.service"
  "$prefix/lib/sysusers.d/bbingest.conf"
  "$prefix/lib/tmpfiles.d/bbingest.conf"
  "$confdir/bbingest.yaml.sample"
  "$confdir/bbingest.yaml"
  "$mandir/man8/bbingest.8"
  "$mandir/man5/bbingest.yaml.5"
  "$datadir/doc/bbingest/ADMIN.md"
)
for f in "$BB_SOURCE_ROOT"/sql/[0-9][0-9][0-9]_*.sql; do
  want+=("$datadir/bbingest/sql/$(basename "$f")")
done
for f in "${want[@]}"; do
  [ -f "$root$f" ] || fail "not installed: $f (installed: $(cd "$root" && find . -type f | sort | paste -sd ' '))"
done
pass "every expected file is installed (${#want[@]})"
extra=$(cd "$root" && find . -type f | sed 's/^\.//' | sort | comm -23 - <(printf '%s\n' "${want[@]}" | sort))
expect_eq "$extra" "" "nothing else is installed"
expect_eq "$(stat -c %a "$root$sbindir/bbingest")" "755" "the binary is executable"
expect_eq "$("$root$sbindir/bbingest" --version)" "bbingest $(meson introspect "$build" --projectinfo | python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])')" \
  "the installed binary runs"

unit="$root$prefix/lib/systemd/system/bbingest.service"
expect_eq "$(sed -n 's/^ExecStart=//p' "$unit")" "$sbindir/bbingest run -c $confdir/bbingest.yaml" \
  "the installed unit runs the installed binary with the installed configuration"
if [ "$prefix" != /usr ]; then
  left=$(grep -Ec '(^|[ =:])(/usr/sbin/bbingest|/etc/bbingest)' "$unit" || true)
  expect_eq "$left" "0" "no /usr or /etc path is left in the unit of prefix $prefix"
fi
expect_match "$(cat "$root$prefix/lib/tmpfiles.d/bbingest.conf")" "^d $confdir 0755 root root -$" \
  "tmpfiles makes the configuration directory of this prefix"
cmp -s "$root$confdir/bbingest.yaml" "$BB_SOURCE_ROOT/config/bbingest.yaml" || fail "bbingest.yaml is not the sample"
pass "bbingest.yaml is the sample on a first install"
for f in "$BB_SOURCE_ROOT"/sql/[0-9][0-9][0-9]_*.sql; do
  cmp -s "$f" "$root$datadir/bbingest/sql/$(basename "$f")" || fail "$(basename "$f") differs"
done
pass "the SQL migrations are installed as they are"

# a second install keeps an edited configuration
echo "# edited by the admin" >>"$root$confdir/bbingest.yaml"
out=$(meson install -C "$build" --destdir "$root" --no-rebuild 2>&1) || { echo "$out" >&2; fail "second meson install failed"; }
expect_eq "$(tail -1 "$root$confdir/bbingest.yaml")" "# edited by the admin" "a second install keeps the admin's bbingest.yaml"
cmp -s "$root$confdir/bbingest.yaml.sample" "$BB_SOURCE_ROOT/config/bbingest.yaml" || fail "the sample was not refreshed"
pass "and refreshes bbingest.yaml.sample"

# the manual pages
for m in "$root$mandir/man8/bbingest.8" "$root$mandir/man5/bbingest.yaml.5"; do
  warn=$(LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z "$m" 2>&1 >/dev/null) ||
    fail "man cannot render $m: $warn"
  expect_eq "$warn" "" "$(basename "$m") renders without warnings"
done
page8=$(MANWIDTH=200 man -l "$root$mandir/man8/bbingest.8" 2>/dev/null)
for c in $("$BBINGEST" --help | sed -n '/^commands:/,/^$/p' | awk 'NF && !/^commands:/ {print $1}'); do
  grep -q "^ *bbingest $c\b\|^       $c\b" <<<"$page8" || fail "bbingest(8) does not document the command $c"
done
pass "bbingest(8) documents every command of bbingest --help"
page5=$(cat "$root$mandir/man5/bbingest.yaml.5" | sed 's/\\-/-/g')
keys=$("$BBINGEST" check-config --reference | sed -n 's/^| `\([a-z_.]*\)` .*/\1/p')
[ -n "$keys" ] || fail "check-config --reference lists no keys"
for k in $keys; do
  grep -qx "\.B ${k//./\\.}" <<<"$page5" || fail "bbingest.yaml(5) does not document the key $k"
done
pass "bbingest.yaml(5) documents every key of check-config --reference ($(echo "$keys" | wc -l) keys)"

done_testing
