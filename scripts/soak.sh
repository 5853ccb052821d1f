#!/usr/bin/env bash
# scripts/soak.sh [MINUTES=10] [BINARY]: runs examples/echo_server.lua under
# benchmarks' loadgen (100 connections, 64-byte messages) and examples/http_hello.lua
# under wrk (50 connections) for MINUTES, both at once, in slices of 30 s; after each
# slice prints each server's RSS (KiB), fd count and the slice's throughput. Fails if
# a server dies, a load run reports errors, or fds grow. Results: benchmarks/README.md.
set -uo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-10}
CURIO=${2:-$(scripts/build.sh release)} || exit 1
BIN=$(benchmarks/build.sh) || exit 1
command -v wrk >/dev/null || { echo "soak: wrk is needed (apt-get install wrk)" >&2; exit 1; }
eport=$((20000 + RANDOM % 5000)); hport=$((eport + 1))
"$CURIO" examples/echo_server.lua "$eport" >/dev/null 2>&1 & epid=$!
"$CURIO" examples/http_hello.lua "$hport" >/dev/null 2>&1 & hpid=$!
trap 'kill $epid $hpid 2>/dev/null; wait 2>/dev/null' EXIT
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$hport") 2>/dev/null && (exec 3<>"/dev/tcp/127.0.0.1/$eport") 2>/dev/null && break; sleep 0.05; done
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
fds() { ls "/proc/$1/fd" | wc -l; }
slices=$((minutes * 2)); status=0
efd0=$(fds $epid); hfd0=$(fds $hpid)
echo "slice  echo_rss  echo_fds  echo_msgs/s  http_rss  http_fds  http_req/s"
printf "%5s  %8s  %8s  %11s  %8s  %8s  %10s\n" 0 "$(rss $epid)" "$efd0" - "$(rss $hpid)" "$hfd0" -
for i in $(seq "$slices"); do
  wrk -t1 -c50 -d30s "http://127.0.0.1:$hport/" >/tmp/soak-wrk.$$ 2>&1 &
  wpid=$!
  out=$("$BIN/loadgen" 127.0.0.1 "$eport" 100 64 30 1) || { echo "soak: loadgen failed" >&2; status=1; }
  wait $wpid
  rps=$(awk '/Requests\/sec/ {print $2}' /tmp/soak-wrk.$$)
  grep -q "Socket errors\|Non-2xx" /tmp/soak-wrk.$$ && { echo "soak: wrk reported errors" >&2; status=1; }
  msgs=$(echo "$out" | tr ' ' '\n' | awk -F= '/^msgs_per_s=/ {print $2}')
  errs=$(echo "$out" | tr ' ' '\n' | awk -F= '/^errors=/ {print $2}')
  [ "${errs:-0}" = 0 ] || { echo "soak: loadgen errors=$errs" >&2; status=1; }
  for p in $epid $hpid; do kill -0 $p 2>/dev/null || { echo "soak: a server died" >&2; exit 1; }; done
  sleep 1
  printf "%5s  %8s  %8s  %11s  %8s  %8s  %10s\n" "$i" "$(rss $epid)" "$(fds $epid)" "${msgs:-?}" "$(rss $hpid)" "$(fds $hpid)" "${rps:-?}"
done
rm -f /tmp/soak-wrk.$$
[ "$(fds $epid)" -le "$efd0" ] && [ "$(fds $hpid)" -le "$hfd0" ] || { echo "soak: fds grew" >&2; status=1; }
exit $status
