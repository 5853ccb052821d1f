#!/usr/bin/env bash
# scripts/sanitize.sh [address|thread|all]: the sanitizer runs of CI.
#   address: builds with AddressSanitizer (+ LeakSanitizer) into .build-asan and runs
#            the Swift tests and the whole Lua suite; any report fails the run.
#            (Under ASan the Lua allocator hands every block to malloc: alloc.c.)
#   thread:  builds with ThreadSanitizer into .build-tsan and runs the tests that
#            use threads (thread pool, inbox, runtimes on several threads, signals,
#            the embedding API's suites: a kernel thread, Swift tasks and the async
#            functions' executor) and the Lua suites that use threads (files, name
#            resolution, workers).
# Each build has its own scratch path, so the debug build of scripts/test.sh is untouched.
set -uo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}
status=0
# SwiftPM does not track #embed'ed files (see scripts/build.sh).
if [ -n "$(find lua -newer Sources/CLuaShim/embedded.c -print -quit)" ]; then
  touch Sources/CLuaShim/embedded.c
fi
build() { # sanitizer scratch
  mkdir -p "$2"
  swift build --sanitize="$1" --scratch-path "$2" --build-tests >"$2/sanitize-build.log" 2>&1 \
    || { tail -30 "$2/sanitize-build.log" >&2; echo "sanitize: $1 build failed" >&2; return 1; }
}
swift_tests() { # label scratch sanitizer [filter]
  local out
  out=$(swift test --skip-build --sanitize="$3" --scratch-path "$2" ${4:+--filter "$4"} 2>&1)
  local rc=$?
  # Known flake (1 CI run in 4 on 2026-12-07, never reproduced in 20 reruns): the
  # ASan run of CurioLuaTests exited non-zero with every test passed and no
  # sanitizer report. That case alone is shown and run once more; any failing
  # test or sanitizer report fails at once.
  if [ $rc -ne 0 ] && ! echo "$out" | grep -q "Sanitizer" \
     && ! echo "$out" | grep -E -q "Test Case .* failed|✘|with [1-9][0-9]* failures?"; then
    echo "$out" | grep -v "could not be recorded" | tail -15 | sed "s/^/$1 swift (exit $rc, all passed; rerun): /" >&2
    out=$(swift test --skip-build --sanitize="$3" --scratch-path "$2" ${4:+--filter "$4"} 2>&1)
    rc=$?
  fi
  echo "$out" | grep -E "Executed .* tests" | tail -1 | sed "s/^/$1 swift: /"
  echo "$out" | grep -E "Test run with" | tail -1 | sed "s/^/$1 swift: /" # Swift Testing
  if [ $rc -ne 0 ] || echo "$out" | grep -q "Sanitizer"; then
    # (Some tests print expected "task N failed ..." lines: leave them out.)
    echo "$out" | grep -v "could not be recorded" | grep -E -A30 "Sanitizer|error:|Test Case .* failed|✘|signal" | head -80 >&2
    echo "$out" | grep -v "could not be recorded" | tail -15 >&2
    echo "sanitize: $1 Swift tests failed (swift test exit status $rc)" >&2
    return 1
  fi
}
lua_tests() { # label binary files...
  local label=$1 bin=$2; shift 2
  local out
  out=$("$bin" test "$@" 2>&1)
  local rc=$?
  echo "$out" | tail -1 | sed "s/^/$label lua: /"
  if [ $rc -ne 0 ] || echo "$out" | grep -q "Sanitizer"; then
    echo "$out" | grep -E -B5 -A30 "Sanitizer|FAIL" | head -80 >&2
    echo "sanitize: $label Lua tests failed" >&2
    return 1
  fi
}

if [ "$what" = address ] || [ "$what" = all ]; then
  # Leak checks on; children (the CLI tests run curio-lua) inherit the options.
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1
  export LSAN_OPTIONS=suppressions=$PWD/scripts/lsan.supp:print_suppressions=0
  export CURIO_SANITIZER=address # memory_test.lua skips its RSS checks
  if build address .build-asan; then
    swift_tests asan .build-asan address CurioLuaTests || status=1
    # The kernel tests' scripted bodies capture their kernel (a cycle the tests
    # make, not the kernel): memory errors are checked there, leaks are not. The
    # kernel's own leaks show in the runtime tests and the Lua suite above/below.
    ASAN_OPTIONS=detect_leaks=0 swift_tests asan-kernel .build-asan address CurioKernelTests || status=1
    lua_tests asan .build-asan/debug/curio-lua Tests/lua || status=1
  else
    status=1
  fi
  unset ASAN_OPTIONS LSAN_OPTIONS CURIO_SANITIZER
fi

if [ "$what" = thread ] || [ "$what" = all ]; then
  export TSAN_OPTIONS=halt_on_error=1 CURIO_SANITIZER=thread
  if build thread .build-tsan; then
    swift_tests tsan .build-tsan thread \
      'testWorkOnAnotherThread|testThreadPool|ThreadPoolTests|testInbox|InboxWakeupTests|testSeveralRuntimes|SignalRuntimeTests|SignalKernelTests' || status=1
    # The embedding suites (Swift Testing: EmbeddingTests.swift, EmbeddingRoundTripTests.swift).
    swift_tests tsan-embedding .build-tsan thread \
      'CurioLuaTests\.(EmbeddingBasics|SwiftFunctions|CallsFromSwift|Lifecycle|Confinement|References|ManyReferences|Coding|Diagnostics|Documentation|Stubborn|UniversalObjects|RoundTrips)/' || status=1
    lua_tests tsan .build-tsan/debug/curio-lua Tests/lua/file_test.lua Tests/lua/network_test.lua \
      Tests/lua/signal_test.lua Tests/lua/subprocess_test.lua Tests/lua/workers_test.lua || status=1
  else
    status=1
  fi
  unset TSAN_OPTIONS CURIO_SANITIZER
fi
exit $status
