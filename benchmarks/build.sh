#!/usr/bin/env bash
# benchmarks/build.sh: compiles the C load generator and reference servers of
# benchmarks/ into $BIN (default .build/bench) when their source is
# newer, and prints that folder.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
BIN=${BIN:-$here/../.build/bench}
mkdir -p "$BIN"
for prog in loadgen echo_c http_c; do
  if [ ! -x "$BIN/$prog" ] || [ "$here/$prog.c" -nt "$BIN/$prog" ]; then
    cc -O2 -Wall -o "$BIN/$prog.tmp.$$" "$here/$prog.c" && mv "$BIN/$prog.tmp.$$" "$BIN/$prog"
  fi
done
echo "$BIN"
