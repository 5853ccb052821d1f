#!/usr/bin/env bash
# benchmarks/workers.sh CURIO_BIN [SCALE]: run_in_thread / run_in_process and the
# transfer codec, next to a C pthread pool with eventfd wake-up, Python's pickle
# and lua-cjson, all measured in this run. Prints one table; asserts nothing.
# The codec and pickle runs alternate ROUNDS times (3; 1 at small SCALE) and the
# medians are reported, so that a busy machine skews both alike.
set -uo pipefail
cd "$(dirname "$0")/.."
CURIO=$1
SCALE=${2:-1}
OUT=$(mktemp -d /tmp/curio-workers.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
cc -O2 -Wall -pthread -o "$OUT/workers_c" benchmarks/workers_c.c || exit 1
nseq=$(python3 -c "print(max(1, int(100000 * $SCALE)))")
nrounds=$(python3 -c "print(max(1, int(1000 * $SCALE)))")
"$OUT/workers_c" "$nseq" "$nrounds" >"$OUT/c" || exit 1
"$CURIO" benchmarks/workers.lua "$SCALE" pool >"$OUT/lua" || exit 1
rounds=$(python3 -c "print(3 if $SCALE >= 0.5 else 1)")
for _ in $(seq "$rounds"); do
  "$CURIO" benchmarks/workers.lua "$SCALE" codec >>"$OUT/lua" || exit 1
  python3 benchmarks/workers_pickle.py "$SCALE" >>"$OUT/py" || exit 1
done
python3 - "$OUT" <<'PY'
import os, statistics, sys
out = sys.argv[1]
runs = {}
for f in ("c", "lua", "py"):
    for l in open(os.path.join(out, f)):
        if l.strip():
            k, x = l.split()
            runs.setdefault((f, k), []).append(float(x))
v = {k: statistics.median(x) for k, x in runs.items()}
rows = [("workers figure", "curio-lua", "reference", "ratio", "target")]
for k, label, target in (("seq", "run_in_thread round trips, 1 task (/s)", ">= 0.6"),
                         ("par100", "run_in_thread, 100 tasks at once (/s)", ">= 0.3")):
    a, c = v[("lua", k)], v[("c", k)]
    rows.append((label, f"{a:,.0f}", f"{c:,.0f} (C pool)", f"{a / c:.2f}", target))
for p in ("thread", "process"):
    rows.append((f"CPU sum 1..1e6 x64 speed-up via {p} pool", f"{v[('lua', 'cpu_speedup_' + p)]:.2f}",
                 f"{os.cpu_count()} CPUs, vs in sequence in the main state", "", ">= 1.8 on 2 cores"))
rows.append(("  CPU time of those jobs via the thread pool", f"{v[('lua', 'cpu_cost_thread')]:.2f}",
             "in sequence: 1.00", "", ""))
for k, label in (("records", "1,000-record table"), ("mib", "1 MiB string"), ("nested10", "10-deep nested table")):
    a, p = v[("lua", "codec_" + k)], v[("py", "pickle_" + k)]
    rows.append((f"codec round trips, {label} (/s)", f"{a:,.0f}", f"{p:,.0f} (pickle)", f"{a / p:.2f}", ">= 1.0"))
    if ("lua", "cjson_" + k) in v:
        j = v[("lua", "cjson_" + k)]
        rows.append((f"  lua-cjson, {label} (/s)", f"{j:,.0f}", f"{p:,.0f} (pickle)", f"{j / p:.2f}", ""))
w = [max(len(r[i]) for r in rows) for i in range(5)]
for i, r in enumerate(rows):
    print(" | ".join(x.ljust(w[j]) for j, x in enumerate(r)))
    if i == 0: print("-+-".join("-" * x for x in w))
PY
