#!/bin/sh
# The shared library exports exactly the symbols of lib/libipam.map, all of
# them ipam_*, and every one is declared in a public header.
# usage: check-exports.sh LIBIPAM.so MAPFILE INCLUDE_DIR
set -eu
lib=$1 map=$2 inc=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Defined dynamic symbols, without the version node (an absolute 'A' entry).
nm -D --defined-only "$lib" | awk '$2 != "A" { print $3 }' | sed 's/@.*//' | sort -u > "$tmp/exported"
sed -n 's/^[[:space:]]*\(ipam_[A-Za-z0-9_]*\);$/\1/p' "$map" | sort -u > "$tmp/listed"
status=0
if grep -v '^ipam_' "$tmp/exported" > "$tmp/foreign"; then
	echo "FAIL: symbols outside the ipam_ namespace are exported:"; cat "$tmp/foreign"; status=1
fi
if ! cmp -s "$tmp/exported" "$tmp/listed"; then
	echo "FAIL: exports differ from $map:"; diff "$tmp/listed" "$tmp/exported" || true; status=1
fi
for s in $(cat "$tmp/exported"); do
	if ! grep -rqE "\\b$s\\b" "$inc"; then
		echo "FAIL: $s is exported but not declared in a public header"; status=1
	fi
done
n=$(wc -l < "$tmp/exported")
[ $status -eq 0 ] && echo "ok: $n symbols exported, all ipam_*, all listed and declared"
exit $status
