#!/usr/bin/env bash
# scripts/penlight_specs.sh [PENLIGHT_SRC]: runs Penlight's own spec suite under
# `curio-lua test` and under `busted` on lua5.4, and prints both counts of passing
# tests. PENLIGHT_SRC is a Penlight source tree (with spec/ and .busted); without
# one, it tries `apt-get source lua-penlight` (needs deb-src lines in APT's
# sources). Debian's binary lua-penlight package does not ship the specs.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
src=${1:-${PENLIGHT_SRC:-}}
if [ -z "$src" ]; then
  tmp=$(mktemp -d /tmp/penlight.XXXXXX)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && apt-get source -qq lua-penlight >/dev/null 2>&1) || {
    echo "penlight_specs: no Penlight source: pass a checkout (git clone https://github.com/lunarmodules/Penlight)" \
         "or enable deb-src for apt-get source lua-penlight" >&2
    exit 2
  }
  src=$(find "$tmp" -maxdepth 1 -mindepth 1 -type d | head -1)
fi
[ -d "$src/spec" ] || { echo "penlight_specs: $src has no spec/ folder" >&2; exit 2; }
bin=$("$root/scripts/build.sh" debug) || exit 1
count() { grep -cE '^ok [0-9]+ - ' | tr -d ' '; }
skips() { grep -cE '^ok [0-9]+ - # SKIP' | tr -d ' '; }
cd "$src"
ours=$(timeout 600 "$bin" test -o TAP -m './lua/?.lua;./lua/?/init.lua' spec 2>/dev/null)
theirs=$(timeout 600 busted --lua=lua5.4 -o TAP -m './lua/?.lua;./lua/?/init.lua' spec 2>/dev/null)
o=$(( $(count <<<"$ours") - $(skips <<<"$ours") ))
b=$(( $(count <<<"$theirs") - $(skips <<<"$theirs") ))
echo "penlight specs: curio-lua test $o passed, busted (lua5.4) $b passed"
[ "$o" -ge "$b" ]
