#!/usr/bin/env bash
# benchmarks/embed.sh [scale]: the Swift embedding API (docs/embedding.md), each
# figure next to its reference measured in the same run. Called by run.sh; needs
# the release build (scripts/build.sh release builds embed-bench too).
set -uo pipefail
cd "$(dirname "$0")/.."
scale=${1:-1}
bin="$(swift build -c release --show-bin-path 2>/dev/null)/embed-bench"
[ -x "$bin" ] || { scripts/build.sh release >/dev/null || exit 1; }
"$bin" "$scale" | python3 -c '
import sys
rows = [("embedding figure", "curio-lua", "reference", "ratio", "target")]
for line in sys.stdin:
    name, v, unit, ref = line.split()
    v, ref = float(v), float(ref)
    if name == "ref_growth_bytes":
        rows.append(("state memory growth over 1M references (B)", f"{v:,.0f}", f"{ref:,.0f} (state before)", "", "flat"))
    elif name == "sync_call_ns":
        rows.append(("Lua->Swift sync call (ns)", f"{v:.1f}", f"{ref:.1f} (lua_CFunction)", f"{v / ref:.2f}", "<= 1.5"))
    else:
        label = {"async_roundtrip_seq": "Lua->Swift async round trip, 1 task (/s)",
                 "async_roundtrip_100": "Lua->Swift async round trip, 100 tasks (/s)",
                 "swift_call_seq": "Swift->Lua call, 1 caller (/s)",
                 "swift_call_100": "Swift->Lua call, 100 callers (/s)"}[name]
        rows.append((label, f"{v:,.0f}", f"{ref:,.0f} (thread hop)", f"{v / ref:.2f}", ">= 100,000/s"))
w = [max(len(r[i]) for r in rows) for i in range(5)]
for i, r in enumerate(rows):
    print(" | ".join(x.ljust(w[j]) for j, x in enumerate(r)))
    if i == 0: print("-+-".join("-" * x for x in w))
'
