#!/usr/bin/env bash
# benchmarks/run.sh: builds release and prints one table, every curio-lua figure
# next to its reference measured in the same run (the C servers and load
# generator of benchmarks/: echo_c.c, http_c.c, loadgen.c; plain Lua 5.4 coroutines). Figures are reported, never
# asserted. BENCH_SMOKE=1: a few seconds in all (CI runs it so it never rots).
# ROUNDS (3), SECS (5) tune the network runs.
set -uo pipefail
cd "$(dirname "$0")/.."
SMOKE=${BENCH_SMOKE:-0}
if [ "$SMOKE" = 1 ]; then ROUNDS=1; SECS=1; SCALE=0.02; else ROUNDS=${ROUNDS:-3}; SECS=${SECS:-5}; SCALE=1; fi
CURIO=$(scripts/build.sh release) || exit 1
BIN=$(benchmarks/build.sh) || exit 1
export BIN
if [ "$SMOKE" != 1 ] && ! command -v wrk >/dev/null; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo
  $sudo apt-get install -y -qq wrk >/dev/null 2>&1 || true
fi
OUT=$(mktemp -d /tmp/curio-bench.XXXXXX)
trap 'rm -rf "$OUT"' EXIT

# --- micro-benchmarks: curio-lua against plain Lua coroutines
for name in $("$CURIO" benchmarks/micro.lua list); do
  "$CURIO" benchmarks/micro.lua "$name" "$SCALE" >>"$OUT/micro" || echo "$name failed" >&2
  lua5.4 benchmarks/lua_baseline.lua "$name" "$SCALE" >>"$OUT/baseline"
done

# --- echo: alternate the C server and the two curio-lua servers, several rounds
port=19100
echo_round() { # label conns size server...
  local label=$1 conns=$2 size=$3; shift 3
  port=$((port + 1))
  CONNS=$conns SIZE=$size SECS=$SECS benchmarks/run_echo.sh "$label" "$port" -- "$@" >>"$OUT/echo" 2>>"$OUT/errors"
}
for conf in "100 64" "1000 4096"; do
  set -- $conf
  [ "$SMOKE" = 1 ] && [ "$1" = 1000 ] && continue
  for r in $(seq "$ROUNDS"); do
    echo_round "c/$1x$2" "$1" "$2" "$BIN/echo_c" {port}
    echo_round "echo.lua/$1x$2" "$1" "$2" "$CURIO" examples/echo.lua {port}
    echo_round "echo_server.lua/$1x$2" "$1" "$2" "$CURIO" examples/echo_server.lua {port}
  done
done

# --- HTTP keep-alive under wrk (Debian's wrk), against a C server: one curio-lua
# process pinned to CPU 0 as the C server (wrk on CPU 1), then `--processes N` (one
# worker per CPU) unpinned, wrk too: on a 2-core machine the client shares the
# cores, so CPU per request is the figure to compare (benchmarks/http.sh).
if command -v wrk >/dev/null; then
  nproc=$(getconf _NPROCESSORS_ONLN)
  for r in $(seq "$ROUNDS"); do
    port=$((port + 3))
    benchmarks/http.sh c "$port" "$SECS" 1 taskset -c 0 "$BIN/http_c" {port} >>"$OUT/http"
    benchmarks/http.sh http_hello.lua "$((port + 1))" "$SECS" 1 taskset -c 0 "$CURIO" examples/http_hello.lua {port} >>"$OUT/http"
    benchmarks/http.sh "http_hello.lua_x$nproc" "$((port + 2))" "$SECS" all "$CURIO" --processes "$nproc" examples/http_hello.lua {port} >>"$OUT/http"
  done
else
  echo "wrk not installed (apt-get install wrk): HTTP figures skipped" >&2
fi

# --- workers: thread/process pools and the transfer codec (own table)
benchmarks/workers.sh "$CURIO" "$SCALE" >"$OUT/workers" 2>>"$OUT/errors" || echo "workers benchmark failed" >>"$OUT/errors"

python3 - "$OUT" <<'PY'
import os, statistics, sys
out = sys.argv[1]
def lines(name):
    p = os.path.join(out, name)
    return open(p).read().split("\n") if os.path.exists(p) else []
def kv(line):
    return dict(x.split("=", 1) for x in line.split()[1:] if "=" in x)

rows = [("figure", "curio-lua", "reference", "ratio", "target")]
micro = {l.split()[0]: (float(l.split()[1]), l.split()[2]) for l in lines("micro") if l.strip()}
base = {l.split()[0]: float(l.split()[1]) for l in lines("baseline") if l.strip()}
targets = {"hop": "<= 300 ns", "spawn_join": ">= 1,000,000/s", "spawn_join_each": ">= 1,000,000/s",
           "spawn_join_batch": ">= 1,000,000/s", "sleeping_100k": "<= 1300 B",
           "sleeping_1m": "<= 1300 B", "queue_pingpong": ">= 2,000,000/s",
           "event_handoff": ">= 2,000,000/s", "lock_handoff": ">= 1,000,000/s",
           "sleepers_10k": "<= 110 ms", "sleepers_10k_relative": "", "timeouts": "", "pending_timeouts": ""}
refs = {"sleepers_10k": 100.0, "sleepers_10k_relative": 100.0}  # the ideal
for name, (v, unit) in sorted(micro.items()):
    ref = base.get(name, refs.get(name))
    ratio = f"{v / ref:.2f}" if ref else ""
    rows.append((f"{name} ({unit})", f"{v:,.0f}", f"{ref:,.0f} (plain Lua)" if name in base else (f"{ref:,.0f} (ideal)" if ref else ""), ratio, targets.get(name, "")))

echo = {}
for l in lines("echo"):
    if "msgs_per_s=" not in l: continue
    d = kv(l)
    echo.setdefault(l.split()[0], []).append(d)
def med(ds, key):
    vals = [float(d[key].rstrip("%")) for d in ds if key in d]
    return statistics.median(vals) if vals else 0.0
for conf in ("100x64", "1000x4096"):
    c = echo.get(f"c/{conf}")
    if not c: continue
    cm, cp99, ccpu = med(c, "msgs_per_s"), med(c, "p99_us"), med(c, "srv_cpu")
    rows.append((f"echo C {conf} (msgs/s, p99 us)", f"{cm:,.0f}", f"p99 {cp99:,.0f}", "1.00", ""))
    for srv in ("echo.lua", "echo_server.lua"):
        s = echo.get(f"{srv}/{conf}")
        if not s: continue
        m, p99, cpu = med(s, "msgs_per_s"), med(s, "p99_us"), med(s, "srv_cpu")
        rows.append((f"echo {srv} {conf} (msgs/s)", f"{m:,.0f}", f"{cm:,.0f} (C)", f"{m / cm:.2f}" if cm else "", ">= 0.95"))
        cpu_per = cpu / m if m else 0; ccpu_per = ccpu / cm if cm else 0
        rows.append((f"  server CPU per msg (us)", f"{cpu_per * 1e4:.2f}", f"{ccpu_per * 1e4:.2f} (C)", f"{cpu_per / ccpu_per:.2f}" if ccpu_per else "", "<= 1.05"))
        rows.append((f"  p99 latency (us)", f"{p99:,.0f}", f"{cp99:,.0f} (C)", "", ""))
http = {}
for l in lines("http"):
    f = l.split()
    if len(f) == 3:
        http.setdefault(f[0], []).append((float(f[1]), float(f[2])))
if http.get("c"):
    c = statistics.median(r for r, _ in http["c"]); ccpu = statistics.median(u for _, u in http["c"])
    for k in sorted(x for x in http if x.startswith("http_hello.lua")):
        h = statistics.median(r for r, _ in http[k]); cpu = statistics.median(u for _, u in http[k])
        workers = k.split("_x")[1] + " workers" if "_x" in k else "1 process"
        rows.append((f"http_hello.lua under wrk, {workers} (req/s)", f"{h:,.0f}", f"{c:,.0f} (C)", f"{h / c:.2f}" if c else "", ""))
        rows.append(("  server CPU per request (us)", f"{cpu:.2f}", f"{ccpu:.2f} (C)", f"{cpu / ccpu:.2f}" if ccpu else "", ""))
w = [max(len(r[i]) for r in rows) for i in range(5)]
for i, r in enumerate(rows):
    print(" | ".join(x.ljust(w[j]) for j, x in enumerate(r)))
    if i == 0: print("-+-".join("-" * x for x in w))
wk = lines("workers")
if any(l.strip() for l in wk):
    print("\n" + "\n".join(l for l in wk if l.strip()))
errs = lines("errors")
if any(e.strip() for e in errs):
    print("\nerrors:\n" + "\n".join(e for e in errs if e.strip()))
PY

# --- the test runner: curio-lua test against busted, real clock against virtual
echo
benchmarks/runner.sh "$CURIO"
echo; benchmarks/subprocess.sh "$CURIO" || echo "subprocess benchmark failed" >&2

# --- TLS (curio.ssl against a C epoll + OpenSSL server): its own table
ROUNDS=$ROUNDS SECS=$SECS benchmarks/tls_bench.sh "$CURIO"
echo; benchmarks/embed.sh "$SCALE" || echo "embed benchmark failed" >&2

# --- the release build next to one with -enforce-exclusivity=unchecked
if [ "$SMOKE" = 1 ]; then
  echo "(smoke run: plain vs -enforce-exclusivity=unchecked build skipped: it needs a second full release build)"
else
  echo; benchmarks/builds.sh "$CURIO"
fi
