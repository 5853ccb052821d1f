#!/usr/bin/env bash
# benchmarks/misses.sh CURIO_BIN: per echo message, user-space instructions and
# data-cache misses of examples/echo.lua and of the C server benchmarks/echo_c.c,
# under callgrind's cache simulation (deterministic, unlike wall time here). The
# simulated caches are this VM's per-core ones: 64 KiB L1d and a 1 MiB last level
# (its L2; the 32 MiB L3 is shared with other tenants). Each server answers
# benchmarks/echo_client.py for A_ROUNDS (5) and B_ROUNDS (25) rounds of CONNS
# (1000) connections × SIZE (4096) bytes; the difference is divided by the extra
# messages, so start-up cancels out. Prints one line per server:
#   NAME Ir=N D1_read_misses=N D1_write_misses=N LL_read_misses=N LL_write_misses=N
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d /tmp/curio-misses.XXXXXX); trap 'rm -rf "$tmp"' EXIT
# valgrind cannot read the Swift binary's DWARF: measure a stripped copy.
strip -o "$tmp/curio-lua" "$1" || exit 1
BIN=$("$root/benchmarks/build.sh") || exit 1
CONNS=${CONNS:-1000} SIZE=${SIZE:-4096} A_ROUNDS=${A_ROUNDS:-5} B_ROUNDS=${B_ROUNDS:-25}
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
run() { # rounds signal server... -> the callgrind totals of the server serving them
  local rounds=$1 sig=$2 port; shift 2
  port=$(free_port)
  valgrind --tool=callgrind --cache-sim=yes --D1=65536,8,64 --I1=65536,8,64 --LL=1048576,16,64 \
    --callgrind-out-file="$tmp/out" "${@/\{port\}/$port}" >/dev/null 2>"$tmp/err" &
  local pid=$!
  python3 "$root/benchmarks/echo_client.py" "$port" "$rounds" "$SIZE" "$CONNS" || { kill "$pid"; cat "$tmp/err" >&2; return 1; }
  kill -"$sig" "$pid"; wait "$pid"
  awk '/^(summary|totals):/ {$1 = ""; line = $0} END {print line}' "$tmp/out"
}
for name in echo.lua echo_c; do
  # (a background job of a script ignores SIGINT: echo_c is stopped with SIGTERM,
  # which valgrind also survives to write its counts)
  if [ $name = echo_c ]; then cmd=(TERM "$BIN/echo_c" {port}); else cmd=(INT "$tmp/curio-lua" "$root/examples/echo.lua" {port}); fi
  a=$(run "$A_ROUNDS" "${cmd[@]}") && b=$(run "$B_ROUNDS" "${cmd[@]}") || exit 1
  python3 - "$name" "$a" "$b" $(( (B_ROUNDS - A_ROUNDS) * CONNS )) <<'PY'
import sys
name, a, b, n = sys.argv[1], sys.argv[2].split(), sys.argv[3].split(), int(sys.argv[4])
# events: Ir Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw
d = [(int(y) - int(x)) / n for x, y in zip(a, b)]
print(f"{name} Ir={d[0]:.0f} D1_read_misses={d[4]:.1f} D1_write_misses={d[5]:.1f} "
      f"LL_read_misses={d[7]:.1f} LL_write_misses={d[8]:.1f}")
PY
done
