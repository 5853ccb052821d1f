#!/usr/bin/env bash
# benchmarks/instr.sh BINARY [BENCH...]: user-space instructions per operation under
# callgrind (deterministic, unlike wall time on a shared machine). Each micro
# benchmark runs at two scales and the difference is divided by the difference in
# operations, so start-up and teardown cancel out. Prints "NAME instructions".
# Default benchmarks: hop (per sleep(0)), spawn_join_each (per spawn+join), echo and
# echo4k (per 64 B / 4 KiB message of examples/echo.lua, benchmarks/echo_client.py);
# also http (per keep-alive request to examples/http_hello.lua). The network ones use
# CONNS connections (10) and A_ROUNDS vs B_ROUNDS rounds (100 vs 1,100); at 1000
# connections: CONNS=1000 A_ROUNDS=5 B_ROUNDS=45 benchmarks/instr.sh BIN echo4k.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$1; shift
names=("$@"); [ ${#names[@]} -eq 0 ] && names=(hop spawn_join_each echo echo4k)
tmp=$(mktemp -d /tmp/curio-instr.XXXXXX); trap 'rm -rf "$tmp"' EXIT
# valgrind cannot read the Swift binary's DWARF: measure a stripped copy.
strip -o "$tmp/curio-lua" "$bin" && bin=$tmp/curio-lua
# Lua seeds its string hashes from the clock and addresses, so table lookups cost a
# little more or less per run (up to ~20 instructions per hop): take the median of
# RUNS (3) runs at each scale.
RUNS=${RUNS:-3}
CONNS=${CONNS:-10} A_ROUNDS=${A_ROUNDS:-100} B_ROUNDS=${B_ROUNDS:-1100}
count1() { # name scale -> total instructions
  valgrind --tool=callgrind --callgrind-out-file="$tmp/out" "$bin" "$root/benchmarks/micro.lua" "$1" "$2" >/dev/null 2>"$tmp/err" || { cat "$tmp/err" >&2; return 1; }
  awk '/^summary:/ {print $2}' "$tmp/out"
}
median() { sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
count() { for _ in $(seq "$RUNS"); do count1 "$@" || return 1; done | median; }
ops() { # name scale -> operations the benchmark performs at that scale
  case $1 in hop) base=1000000;; spawn_join_each) base=100000;; *) base=100000;; esac
  awk -v b="$base" -v s="$2" 'BEGIN { x = int(b * s); if (x < 10) x = 10; print x }'
}
# (A run whose server stopped answering, which happened on a loaded machine, is retried once.)
echo_count() { for _ in $(seq "$RUNS"); do echo_count1 "$@" 2>/dev/null || echo_count1 "$@" || return 1; done | median; }
echo_count1() { # size rounds -> total instructions of examples/echo.lua serving them
  local server=$root/examples/echo.lua want=0
  # http_hello.lua does not print the port the kernel picked: give it a free one.
  [ "$1" = http ] && server=$root/examples/http_hello.lua &&
    want=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  valgrind --tool=callgrind --callgrind-out-file="$tmp/out" "$bin" "$server" "$want" >"$tmp/log" 2>"$tmp/err" &
  local pid=$! port=""
  for _ in $(seq 600); do # port 0: the kernel picks one, echo.lua prints it
    port=$(awk -F: '/listening/ {print $NF; exit}' "$tmp/log")
    [ "$want" != 0 ] && [ -n "$port" ] && port=$want
    [ -n "$port" ] && break; kill -0 "$pid" 2>/dev/null || break; sleep 0.05
  done
  [ -n "$port" ] || { cat "$tmp/err" >&2; kill "$pid" 2>/dev/null; return 1; }
  python3 "$root/benchmarks/echo_client.py" "$port" "$2" "$1" "$CONNS" || { kill "$pid"; cat "$tmp/log" "$tmp/err" >&2; return 1; }
  kill -INT "$pid"; wait "$pid"
  awk '/^summary:/ {print $2}' "$tmp/out"
}
for n in "${names[@]}"; do
  case $n in echo|echo4k|http) # per message or request (CONNS connections; A_ROUNDS vs B_ROUNDS)
    size=64; [ "$n" = echo4k ] && size=4096; [ "$n" = http ] && size=http
    a=$(echo_count "$size" "$A_ROUNDS") && b=$(echo_count "$size" "$B_ROUNDS") || continue
    echo "$n $(( (b - a) / ((B_ROUNDS - A_ROUNDS) * CONNS) ))"; continue;;
  esac
  a=$(count "$n" 0.02) && b=$(count "$n" 0.04) || continue
  oa=$(ops "$n" 0.02); ob=$(ops "$n" 0.04)
  echo "$n $(( (b - a) / (ob - oa) ))"
done
