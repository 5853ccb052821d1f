#!/usr/bin/env bash
# scripts/build.sh [debug|release]: builds curio-lua and prints the binary's path.
# SwiftPM does not track files pulled in with #embed, so rebuild the embedded Lua
# sources whenever a file under lua/ is newer than them.
set -euo pipefail
cd "$(dirname "$0")/.."
config=${1:-release}
if [ -n "$(find lua -newer Sources/CLuaShim/embedded.c -print -quit)" ]; then
  touch Sources/CLuaShim/embedded.c
fi
if [ -n "$(find types -newer Sources/CStubs/stubs.c -print -quit)" ]; then
  touch Sources/CStubs/stubs.c
fi
flags=(-c "$config")
# Release: static Swift runtime (a copied binary runs alone). No other flags: the
# hot paths skip dynamic exclusivity checks by design (@exclusivity(unchecked) on
# the properties concerned), so -enforce-exclusivity=unchecked no longer pays:
# callgrind gives the same instructions per hop, spawn+join and echo message with
# and without it (benchmarks/README.md, "Fast without our build flags").
# EXTRA_SWIFTC_FLAGS adds flags (benchmarks/builds.sh compares builds with it).
[ "$config" = release ] && flags+=(--static-swift-stdlib)
for f in ${EXTRA_SWIFTC_FLAGS:-}; do flags+=(-Xswiftc "$f"); done
swift build "${flags[@]}" ${SCRATCH:+--scratch-path "$SCRATCH"} >&2
echo "$(swift build "${flags[@]}" ${SCRATCH:+--scratch-path "$SCRATCH"} --show-bin-path)/curio-lua"
