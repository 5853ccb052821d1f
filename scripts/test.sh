#!/usr/bin/env bash
# scripts/test.sh: setup, build, then every test: Swift (kernel, runtime) and Lua
# (curio-lua test). The last line is the Lua runner's "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh || exit 1
bin=$(scripts/build.sh debug) || exit 1
status=0
swift build --build-tests >/dev/null 2>&1 || { swift build --build-tests; exit 1; }
# Every failing assertion ("error:"), then the totals. (Tests that make tasks fail
# on purpose print "task N failed ..." lines: left out, they would bury the rest.)
out=$(swift test --skip-build 2>&1); rc=$?
[ $rc = 0 ] || { status=1; echo "swift test: exit status $rc" >&2; }
echo "$out" | grep -v "could not be recorded" | grep -E "error:|✘" | head -40
# (a crash leaves no "error:" line: show how the run ended)
[ $status = 0 ] || echo "$out" | grep -v "could not be recorded" | tail -15 >&2
echo "$out" | grep -E "Executed .* tests" | tail -1
echo "$out" | grep -E "Test run with" | tail -1
if [ -x benchmarks/run.sh ]; then
  BENCH_SMOKE=1 benchmarks/run.sh >/dev/null 2>&1 || { echo "benchmark smoke run failed" >&2; status=1; }
fi
if command -v luacheck >/dev/null; then # lint (.luacheckrc); Debian's lua-check
  luacheck -q --no-color . >&2 || { echo "luacheck found problems" >&2; status=1; }
fi
examples/swift-host/test.sh || { echo "examples/swift-host failed" >&2; status=1; }
# The fault suite, small sizes (scripts/faults.sh runs it in full).
scripts/faults.sh --smoke "$bin" >&2 || status=1
# The libFuzzer targets of Tests/fuzz/, 10 s each on their corpus.
scripts/fuzz.sh 10 >&2 || status=1
# ASan+LSan and TSan builds and runs (docs/reliability.md); SANITIZE=0 skips them.
[ "${SANITIZE:-1}" = 1 ] && { scripts/sanitize.sh >&2 || status=1; }
# The Lua suite last: its "N passed, N failed" closes the output.
"$bin" test Tests/lua || status=1
exit $status
