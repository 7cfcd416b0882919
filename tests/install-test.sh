#!/bin/sh
# Install into a scratch DESTDIR, then build and run an out-of-tree program
# with nothing but `pkg-config --cflags --libs ipam`.
# usage: install-test.sh BUILD_DIR CONSUMER.c
set -eu
build=$1 src=$2
cc=${CC:-cc}
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
meson install -C "$build" --no-rebuild --destdir "$dest" --quiet >/dev/null
pcdir=$(dirname "$(find "$dest" -name ipam.pc | head -n1)")
[ -f "$pcdir/ipam.pc" ] || { echo "FAIL: ipam.pc was not installed"; exit 1; }
export PKG_CONFIG_PATH="$pcdir" PKG_CONFIG_SYSROOT_DIR="$dest"
flags=$(pkg-config --cflags --libs ipam)
echo "pkg-config --cflags --libs ipam: $flags"
# The sanitizer build's library needs the sanitizer runtime in the consumer.
$cc -std=c11 -Wall -Wextra -Werror $EXTRA_CFLAGS "$src" -o "$dest/consumer" $flags
libdir=$(pkg-config --libs-only-L ipam | sed 's/^ *-L//; s/ *$//')
LD_LIBRARY_PATH="$libdir" "$dest/consumer"
