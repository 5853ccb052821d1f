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
# Release: static Swift runtime (a copied binary runs alone), and no dynamic
# exclusivity checks (the kernel is single-threaded; debug builds keep them).
[ "$config" = release ] && flags+=(--static-swift-stdlib -Xswiftc -enforce-exclusivity=unchecked)
swift build "${flags[@]}" ${SCRATCH:+--scratch-path "$SCRATCH"} >&2
echo "$(swift build "${flags[@]}" ${SCRATCH:+--scratch-path "$SCRATCH"} --show-bin-path)/curio-lua"
