#!/usr/bin/env bash
# benchmarks/run_echo.sh NAME PORT -- SERVER_CMD...
# One echo run: starts SERVER_CMD ("{port}" replaced by PORT) on CPU 0, waits
# until PORT accepts, loads it with loadgen on CPU 1, stops the server, prints
#   NAME msgs_per_s=N p50_us=N p99_us=N errors=N srv_cpu=P% cli_cpu=P%
# Env: CONNS (100), SIZE (64), SECS (5), PIPELINE (1), CHECK=1 (run echo_check.py
# first: byte-exact echoes from 1 B to 1 MiB), BIN (folder holding
# loadgen; default: builds it with benchmarks/build.sh). Exit 1 if the server
# never listened, died, or loadgen failed.
set -u
here=$(cd "$(dirname "$0")" && pwd)
[ $# -ge 4 ] && [ "$3" = "--" ] || { echo "usage: $0 NAME PORT -- SERVER_CMD..." >&2; exit 2; }
name=$1 port=$2; shift 3
BIN=${BIN:-$("$here/build.sh")} || exit 1
cmd=()
for a in "$@"; do cmd+=("${a//\{port\}/$port}"); done
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; }
listening && { echo "$name: port $port is already in use" >&2; exit 1; }
log=$(mktemp /tmp/run_echo.XXXXXX)
taskset -c 0 "${cmd[@]}" >"$log" 2>&1 &
spid=$!
stop() {
  kill "$spid" 2>/dev/null
  for _ in $(seq 20); do kill -0 "$spid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$spid" 2>/dev/null; wait "$spid" 2>/dev/null; rm -f "$log"
}
trap stop EXIT
for _ in $(seq 200); do listening && break; kill -0 "$spid" 2>/dev/null || break; sleep 0.05; done
listening || { echo "$name: server never listened on $port:" >&2; tail -5 "$log" >&2; exit 1; }
if [ "${CHECK:-0}" = 1 ]; then
  timeout 120 python3 "$here/echo_check.py" "$port" >/dev/null || { echo "$name: echo check failed" >&2; exit 1; }
fi
secs=${SECS:-5}
out=$(SERVER_PID=$spid timeout $((${secs%.*} + 40)) taskset -c 1 "$BIN/loadgen" 127.0.0.1 "$port" \
      "${CONNS:-100}" "${SIZE:-64}" "$secs" "${PIPELINE:-1}") || { echo "$name: loadgen failed" >&2; exit 1; }
kill -0 "$spid" 2>/dev/null || { echo "$name: server died during the run:" >&2; tail -5 "$log" >&2; exit 1; }
echo "$name $out"
