#!/bin/sh
# Run a libFuzzer binary over a copy of its corpus: first replay every input,
# then a short, bounded, seeded mutation session. The copy keeps the source
# tree untouched (libFuzzer writes new inputs into its first corpus folder).
# usage: run-libfuzzer.sh FUZZER CORPUS_DIR RUNS
set -eu
fuzzer=$1 corpus=$2 runs=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$corpus/." "$work/"
"$fuzzer" -runs=0 "$work"
"$fuzzer" -runs="$runs" -seed=1 -max_len=512 -artifact_prefix="$work/" "$work"
