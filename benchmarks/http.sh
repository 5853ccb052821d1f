#!/usr/bin/env bash
# benchmarks/http.sh LABEL PORT SECS WRK_CPUS SERVER...: starts SERVER (its
# arguments may say {port}), loads it with `wrk -t1 -c100` (keep-alive) for SECS
# seconds on the CPUs WRK_CPUS ("all": unpinned), and prints
#   LABEL REQUESTS_PER_S CPU_US_PER_REQUEST
# where the CPU is the user+system time of the server process and its children
# (the workers of `curio-lua --processes`) over the run.
set -uo pipefail
label=$1 port=$2 secs=$3 cpus=$4; shift 4
cmd=("${@//\{port\}/$port}")
"${cmd[@]}" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done
sleep 0.2 # every worker of a supervisor is listening too
ticks() { # utime+stime of $pid and its children, in clock ticks
  local total=0 p f
  for p in "$pid" $(cat /proc/"$pid"/task/*/children 2>/dev/null); do
    f=($(sed 's/^.*) //' /proc/"$p"/stat 2>/dev/null)) || continue
    [ ${#f[@]} -gt 12 ] && total=$((total + f[11] + f[12]))
  done
  echo "$total"
}
pin=(); [ "$cpus" != all ] && pin=(taskset -c "$cpus")
t0=$(ticks)
rps=$("${pin[@]}" wrk -t1 -c100 -d"${secs}s" "http://127.0.0.1:$port/" 2>/dev/null | awk '/Requests\/sec/ {print $2}')
t1=$(ticks)
kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
hz=$(getconf CLK_TCK)
awk -v l="$label" -v r="${rps:-0}" -v t=$((t1 - t0)) -v s="$secs" -v hz="$hz" \
  'BEGIN { printf "%s %.0f %.2f\n", l, r, (r > 0 ? t / hz / (r * s) * 1e6 : 0) }'
