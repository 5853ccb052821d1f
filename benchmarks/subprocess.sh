#!/usr/bin/env bash
# benchmarks/subprocess.sh [curio-lua binary]: curio.subprocess against the C
# reference (benchmarks/subprocess_c.c) in alternated rounds; prints medians and
# ratios. Called by benchmarks/run.sh; BENCH_SMOKE=1 makes it a second or two.
# The machine's speed drifts a lot from second to second (other processes share its
# two cores), so runs alternate C / curio-lua and the ratio printed is the median
# of the per-round ratios. ROUNDS (7) tunes the rounds.
set -uo pipefail
cd "$(dirname "$0")/.."
CURIO=${1:-$(scripts/build.sh release)} || exit 1
if [ "${BENCH_SMOKE:-0}" = 1 ]; then ROUNDS=1; N=40; REPS=1; else ROUNDS=${ROUNDS:-7}; N=300; REPS=5; fi
BIN=$(mktemp -d /tmp/curio-subprocess-bench.XXXXXX)
trap 'rm -rf "$BIN"' EXIT
cc -O2 -Wall -o "$BIN/subprocess_c" benchmarks/subprocess_c.c || exit 1
for _ in $(seq "$ROUNDS"); do
  for args in "seq $N" "inflight $N 50" "cat 10 $REPS"; do
    "$BIN/subprocess_c" $args | sed 's/^/c /' >>"$BIN/out" || exit 1
    "$CURIO" benchmarks/subprocess.lua $args | sed 's/^/lua /' >>"$BIN/out" || exit 1
  done
  # The same transfer with Lua's generational collector (each read makes a 64 KiB
  # string: with the default incremental collector that drives frequent cycles).
  "$CURIO" benchmarks/subprocess.lua cat 10 "$REPS" generational | sed 's/^/lua /' >>"$BIN/out" || exit 1
done
python3 - "$BIN/out" <<'PY'
import statistics, sys
pairs, last_c = {}, {}
for line in open(sys.argv[1]):
    who, name, v, unit = line.split()
    if who == "c":
        last_c[name] = float(v)
    else:
        pairs.setdefault(name, []).append((last_c[name.replace("_generational", "")], float(v), unit))
rows = [("subprocess figure", "curio-lua", "C reference", "ratio", "target")]
labels = {"spawn_seq": "spawn+wait /bin/true, sequential", "spawn_inflight": "spawn+wait /bin/true, 50 in flight",
          "cat": "10 MiB through cat", "cat_generational": "  the same, generational GC"}
targets = {"spawn_seq": ">= 0.9", "spawn_inflight": ">= 0.9", "cat": ">= 0.95", "cat_generational": ""}
for name in ("spawn_seq", "spawn_inflight", "cat", "cat_generational"):
    ps = pairs.get(name)
    if not ps: continue
    cm, lm = statistics.median(p[0] for p in ps), statistics.median(p[1] for p in ps)
    ratio = statistics.median(p[1] / p[0] for p in ps)
    rows.append((f"{labels[name]} ({ps[0][2]})", f"{lm:,.0f}", f"{cm:,.0f}", f"{ratio:.2f}", targets[name]))
w = [max(len(r[i]) for r in rows) for i in range(5)]
for i, r in enumerate(rows):
    print(" | ".join(x.ljust(w[j]) for j, x in enumerate(r)))
    if i == 0: print("-+-".join("-" * x for x in w))
PY
