#!/bin/sh
# Run one example and check what it printed (and, where it keeps state,
# what it left behind).
# usage: check-example.sh minimal|custom-oracle|custom-store BINARY
set -eu
name=$1 bin=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL ($name): $*"; echo "--- output:"; cat "$tmp/out"; exit 1; }
# has LINE: the output holds exactly that line.
has() { grep -qxF -- "$1" "$tmp/out" || fail "missing line: $1"; }

case $name in
minimal)
	"$bin" >"$tmp/out"
	cat >"$tmp/want" <<'W'
allocated 10.22.0.1 fd00:22::1 to default/web-0
allocated 10.22.0.2 fd00:22::2 to default/web-1
released default/web-0
v4: used 1, free 253
W
	diff -u "$tmp/want" "$tmp/out" || fail "unexpected output"
	;;
custom-oracle)
	mkdir -m 0700 "$tmp/store"
	"$bin" "$tmp/store" >"$tmp/out"
	# Exactly the zombies (pod-1, pod-4) were reclaimed; nothing else acted on.
	has "reclaimed 10.44.0.2 default/pod-1"
	has "reclaimed 10.44.0.5 default/pod-4"
	[ "$(grep -c '^reclaimed ' "$tmp/out")" -eq 2 ] || fail "reclaimed more than the zombies"
	grep -Eq '^(marked-suspect|in-grace|conflict) ' "$tmp/out" && fail "unexpected GC action"
	has "judged 6, reclaimed 2, kept 4"
	has "v4: used 4, quarantined 0, free 250"
	# The file store kept the result: a second run finds pod-0, 2, 3, 5 at
	# their addresses (idempotent allocate), pod-1 and 4 get fresh ones,
	# and the same two are reclaimed again.
	"$bin" "$tmp/store" >"$tmp/out"
	has "allocated 10.44.0.1 default/pod-0"
	has "allocated 10.44.0.6 default/pod-5"
	[ "$(grep -c '^reclaimed .* default/pod-[14]$' "$tmp/out")" -eq 2 ] || fail "second pass"
	has "judged 6, reclaimed 2, kept 4"
	;;
custom-store)
	"$bin" "$tmp/journal" >"$tmp/out"
	has "default/web-0 (sandbox-c): 10.33.0.1 generation 3"
	# One line per committed op; the idempotent repeat wrote nothing.
	cat >"$tmp/want" <<'W'
rev 1 set net put v4 10.33.0.1 state=bound owner=default/web-0 ifname=eth0 attachment=sandbox-a expires=0
rev 2 set net put v4 10.33.0.2 state=bound owner=default/web-1 ifname=eth0 attachment=sandbox-b expires=0
rev 3 set net put v4 10.33.0.1 state=bound owner=default/web-0 ifname=eth0 attachment=sandbox-c expires=0
rev 4 set net put v4 10.33.0.2 state=quarantined owner=default/web-1 ifname=eth0 attachment=sandbox-b expires=0
W
	diff -u "$tmp/want" "$tmp/journal" || fail "unexpected journal"
	[ "$(stat -c %a "$tmp/journal")" = 600 ] || fail "journal is not 0600"
	;;
*)
	echo "unknown example $name"; exit 2 ;;
esac
echo "ok: $name"
