#!/usr/bin/env bash
# scripts/faults.sh [--smoke] [BINARY]: the fault suite (Tests/faults/). Each script
# starts what it needs on loopback and prints one PASS/FAIL line; this prints them
# as the table of docs/reliability.md. Full sizes by default (10,000 connections,
# ~90,000 cancelled tasks per round); --smoke uses small ones (scripts/test.sh).
set -uo pipefail
cd "$(dirname "$0")/.."
full=1
[ "${1:-}" = --smoke ] && { full=0; shift; }
CURIO=${1:-$(scripts/build.sh debug)} || exit 1
export CURIO FAULTS_FULL=$full
status=0
echo "| fault | result | what was checked |"
echo "|---|---|---|"
for f in Tests/faults/*.py Tests/faults/*.lua; do
  case $f in */harness.py|*/common.lua|*/echo_server.lua) continue ;; esac
  if [ "${f##*.}" = py ]; then cmd=(python3 "$f"); else cmd=("$CURIO" "$f"); fi
  line=$(timeout 600 "${cmd[@]}" 2>/tmp/faults-$$.err | grep -E "^(PASS|FAIL) " | tail -1)
  rc=${PIPESTATUS[0]}
  [ -n "$line" ] || line="FAIL $(basename "$f"): no result (exit $rc) $(tail -3 /tmp/faults-$$.err | tr '\n' ' ')"
  [ "$rc" -eq 0 ] && [ "${line%% *}" = PASS ] || status=1
  name=${line#* }; name=${name%%:*}
  echo "| $name | ${line%% *} | ${line#*: } |"
done
rm -f /tmp/faults-$$.err
exit $status
