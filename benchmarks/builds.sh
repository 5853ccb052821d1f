#!/usr/bin/env bash
# benchmarks/builds.sh BINARY: compares the release build of scripts/build.sh (no
# special flags: what a Swift package depending on curio-lua gets, bar the static
# runtime) with one built with -enforce-exclusivity=unchecked (in .build-unchecked/).
# Prints user-space instructions per operation (benchmarks/instr.sh, callgrind) and
# wall-time micro-benchmarks of both, side by side. It costs a second full release
# build, so benchmarks/run.sh skips it in smoke mode.
set -uo pipefail
cd "$(dirname "$0")/.."
plain=$1
flagged=$(SCRATCH=.build-unchecked EXTRA_SWIFTC_FLAGS=-enforce-exclusivity=unchecked scripts/build.sh release) || exit 1
printf '%-28s | %12s | %12s | %s\n' "per operation" "plain" "unchecked" "plain/unchecked"
row() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%-28s | %12s | %12s | %.3f\n", n, a, b, (b > 0 ? a / b : 0) }'; }
if command -v valgrind >/dev/null; then
  declare -A p f
  while read -r n v; do p[$n]=$v; done < <(benchmarks/instr.sh "$plain" hop spawn_join_each echo echo4k http)
  while read -r n v; do f[$n]=$v; done < <(benchmarks/instr.sh "$flagged" hop spawn_join_each echo echo4k http)
  for n in hop spawn_join_each echo echo4k http; do row "$n (instructions)" "${p[$n]:-?}" "${f[$n]:-?}"; done
else
  echo "valgrind not installed: instruction counts skipped" >&2
fi
for n in hop spawn_join_each; do # alternated, the median of three
  a=(); b=()
  for _ in 1 2 3; do
    a+=("$("$plain" benchmarks/micro.lua "$n" | awk '{print $2}')")
    b+=("$("$flagged" benchmarks/micro.lua "$n" | awk '{print $2}')")
  done
  unit=$("$plain" benchmarks/micro.lua "$n" 0.01 | awk '{print $3}')
  row "$n ($unit)" "$(printf '%s\n' "${a[@]}" | sort -g | sed -n 2p)" "$(printf '%s\n' "${b[@]}" | sort -g | sed -n 2p)"
done
