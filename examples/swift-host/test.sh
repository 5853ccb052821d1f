#!/usr/bin/env bash
# Builds the example host as a user would (its own package, curio-lua by path) and
# checks what it prints: the good plugins answer, the bad ones are stopped.
set -uo pipefail
cd "$(dirname "$0")/../.."
build() { swift build --package-path examples/swift-host --scratch-path .build/swift-host "$@"; }
# SwiftPM may miss a file added to the path dependency since the last build: then
# build once more from scratch.
build >/dev/null 2>&1 || { rm -rf .build/swift-host; build >/dev/null 2>&1; } || { build; exit 1; }
out=$(timeout 60 .build/swift-host/debug/SwiftHost examples/swift-host/plugins 2>/dev/null) || { echo "$out"; exit 1; }
for want in "hello: ok: hello, Oslo!" "weather: ok: Paris: 21C, light breeze #" "looper: stopped: instruction budget exceeded" \
            "hog: stopped: memory limit" "broken: error: examples/swift-host/plugins/broken.lua:3: attempt to index a nil value" \
            "notice: weather reported for Oslo" "all plugins shut down"; do
  grep -qF "$want" <<<"$out" || { echo "swift-host: missing '$want' in:"; echo "$out"; exit 1; }
done
