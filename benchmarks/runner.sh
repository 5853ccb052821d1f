#!/usr/bin/env bash
# benchmarks/runner.sh CURIO_BIN: the test runner's figures, each next to its
# reference measured in the same run:
#  - N trivial tests (a generated spec file): curio-lua test vs busted on lua5.4
#    (each of our tests gets a fresh kernel; busted's share one interpreter);
#  - the project's timeout tests on the real clock vs the virtual clock.
# BENCH_SMOKE=1: a small N. Figures are printed, never asserted.
set -uo pipefail
cd "$(dirname "$0")/.."
bin=$1
n=2000; [ "${BENCH_SMOKE:-0}" = 1 ] && n=100
tmp=$(mktemp -d /tmp/curio-runner.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
{
  echo 'describe("many", function()'
  for i in $(seq "$n"); do echo "  it(\"t$i\", function() assert.equal($i, $i) end)"; done
  echo 'end)'
} >"$tmp/many_spec.lua"
secs() { # wall seconds of a command
  python3 -c 'import subprocess, sys, time
t = time.monotonic(); subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(time.monotonic() - t)' "$@"
}
ours=$(secs "$bin" test "$tmp/many_spec.lua")
if command -v busted >/dev/null && command -v lua5.4 >/dev/null; then
  theirs=$(cd "$tmp" && secs busted --lua=lua5.4 many_spec.lua)
else
  theirs=""
fi
real=$(secs "$bin" test Tests/lua/timeout_test.lua)
virt=$(secs "$bin" test --virtual-clock Tests/lua/timeout_test.lua)
python3 - "$n" "$ours" "${theirs:-0}" "$real" "$virt" <<'PY'
import sys
n, ours, theirs, real, virt = int(sys.argv[1]), *map(float, sys.argv[2:])
rows = [("runner figure", "curio-lua", "reference", "ratio")]
rate = n / ours if ours else 0
ref = n / theirs if theirs else 0
rows.append((f"trivial tests/s ({n})", f"{rate:,.0f}", f"{ref:,.0f} (busted, lua5.4)" if ref else "busted not installed",
             f"{rate / ref:.2f}" if ref else ""))
rows.append(("timeout_test.lua wall (s)", f"{virt:.2f} (virtual clock)", f"{real:.2f} (real clock)",
             f"{virt / real:.2f}" if real else ""))
w = [max(len(r[i]) for r in rows) for i in range(4)]
for i, r in enumerate(rows):
    print(" | ".join(x.ljust(w[j]) for j, x in enumerate(r)))
    if i == 0: print("-+-".join("-" * x for x in w))
PY
