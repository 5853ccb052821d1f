#!/usr/bin/env bash
# benchmarks/tls_bench.sh CURIO: TLS echo figures, benchmarks/tls_echo.lua (curio.ssl
# under tcp_server) against benchmarks/tls_echo_c.c (epoll + non-blocking OpenSSL),
# alternated in rounds, load from benchmarks/tls_loadgen.c. Server on CPU 0, load
# on CPU 1. Prints a table of ratios; run by benchmarks/run.sh.
#   100 x 64 B and 1000 x 4 KiB ping-pong: msgs/s, server CPU per message;
#   handshake mode (100 connections, each connect + full handshake + 1-byte echo +
#   close): server CPU per handshake (the rate is bound by the client's CPU).
# BENCH_SMOKE=1: one short round of 100 x 64 B and handshakes. ROUNDS, SECS as run.sh;
# CONFS="100 handshake" (comma-separated "conns size|handshake") runs only those.
set -uo pipefail
cd "$(dirname "$0")/.."
CURIO=${1:?usage: tls_bench.sh CURIO_BINARY}
SMOKE=${BENCH_SMOKE:-0}
if [ "$SMOKE" = 1 ]; then ROUNDS=1; SECS=0.5; else ROUNDS=${ROUNDS:-3}; SECS=${SECS:-5}; fi
BIN=${BENCH_BIN:-/tmp/curio-bench-bin}
mkdir -p "$BIN"
for prog in tls_echo_c tls_loadgen; do
  if [ ! -x "$BIN/$prog" ] || [ "benchmarks/$prog.c" -nt "$BIN/$prog" ]; then
    cc -O2 -Wall -o "$BIN/$prog" "benchmarks/$prog.c" -lssl -lcrypto || exit 1
  fi
done
F=Tests/lua/fixtures/ssl
OUT=$(mktemp -d /tmp/curio-tls-bench.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
port=$((19600 + RANDOM % 300))

one() { # label conns size|handshake server-cmd...
  local label=$1 conns=$2 size=$3; shift 3
  port=$((port + 1))
  taskset -c 0 "$@" "$port" "$F/server.pem" "$F/server.key" >/dev/null 2>>"$OUT/server_log" &
  local pid=$! ok=0
  for _ in $(seq 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && { ok=1; break; }
    sleep 0.05
  done
  if [ $ok = 1 ]; then
    local out
    out=$(SERVER_PID=$pid taskset -c 1 "$BIN/tls_loadgen" 127.0.0.1 "$port" "$conns" "$size" "$SECS")
    echo "$label $out" >>"$OUT/runs"
  else
    echo "$label: server did not listen" >>"$OUT/errors"
  fi
  kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
}

IFS=, read -ra CONFS <<<"${CONFS:-100 64,1000 4096,100 handshake}" # CONFS picks some
for r in $(seq "$ROUNDS"); do
  for conf in "${CONFS[@]}"; do
    set -- $conf
    [ "$SMOKE" = 1 ] && [ "$1" = 1000 ] && continue
    one "c/$1x$2" "$1" "$2" "$BIN/tls_echo_c"
    one "curio/$1x$2" "$1" "$2" "$CURIO" benchmarks/tls_echo.lua
  done
done

python3 - "$OUT" <<'PY'
import os, statistics, sys
out = sys.argv[1]
def lines(name):
    p = os.path.join(out, name)
    return [l for l in open(p).read().split("\n") if l.strip()] if os.path.exists(p) else []
runs = {}
for l in lines("runs"):
    d = dict(x.split("=", 1) for x in l.split()[1:] if "=" in x)
    runs.setdefault(l.split()[0], []).append({k: float(v.rstrip("%")) for k, v in d.items()})
def med(label, key):
    v = [d[key] for d in runs.get(label, []) if key in d]
    return statistics.median(v) if v else 0.0
rows = [("TLS figure", "curio-lua", "C reference", "ratio", "target")]
for conf, target in (("100x64", ">= 0.9"), ("1000x4096", ">= 0.85")):
    c, l = med(f"c/{conf}", "msgs_per_s"), med(f"curio/{conf}", "msgs_per_s")
    if not c: continue
    rows.append((f"tls echo {conf} (msgs/s)", f"{l:,.0f}", f"{c:,.0f}", f"{l / c:.2f}", target))
    cc, lc = med(f"c/{conf}", "srv_cpu"), med(f"curio/{conf}", "srv_cpu")
    cpm, lpm = (cc * 1e4 / c if c else 0), (lc * 1e4 / l if l else 0)
    rows.append(("  server CPU per msg (us)", f"{lpm:.2f}", f"{cpm:.2f}", f"{lpm / cpm:.2f}" if cpm else "",
                 "<= 1.1" if conf == "100x64" else ""))
    rows.append(("  p99 latency (us)", f"{med(f'curio/{conf}', 'p99_us'):,.0f}", f"{med(f'c/{conf}', 'p99_us'):,.0f}", "", ""))
c, l = med("c/100xhandshake", "srv_us_per_hs"), med("curio/100xhandshake", "srv_us_per_hs")
if c:
    rows.append(("tls server CPU per handshake (us)", f"{l:,.0f}", f"{c:,.0f}", f"{l / c:.2f}", "<= 1.1"))
    rows.append(("  handshakes/s (client-bound)", f"{med('curio/100xhandshake', 'handshakes_per_s'):,.0f}",
                 f"{med('c/100xhandshake', 'handshakes_per_s'):,.0f}", "", ""))
    def rss(label):
        d = runs.get(label, [{}])[-1]
        return f"{d.get('srv_rss0_kb', 0):,.0f} -> {d.get('srv_rss1_kb', 0):,.0f}"
    rows.append(("  server RSS during the run (KB)", rss("curio/100xhandshake"), rss("c/100xhandshake"), "", "flat"))
errs = sum(d.get("errors", 0) for v in runs.values() for d in v)
w = [max(len(r[i]) for r in rows) for i in range(5)]
for i, r in enumerate(rows):
    print(" | ".join(x.ljust(w[j]) for j, x in enumerate(r)))
    if i == 0: print("-+-".join("-" * x for x in w))
if errs: print(f"\nloadgen errors: {errs:.0f}")
for e in lines("errors"): print(e)
PY
