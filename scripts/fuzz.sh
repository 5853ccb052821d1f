#!/usr/bin/env bash
# scripts/fuzz.sh [SECONDS=10 | -runs=N]: builds the libFuzzer targets of Tests/fuzz/
# (*_fuzz.c, clang -fsanitize=fuzzer,address,undefined; the clang of the Swift
# toolchain ships libFuzzer; and the Swift API-argument target, below) into
# .build-fuzz and runs each on a copy of its corpus
# (Tests/fuzz/corpus/NAME, in the repo) for SECONDS, or for N inputs with -runs=N.
# A crash, sanitizer report or failed check fails the run; the input is kept in
# .build-fuzz/NAME-crashes/. A target's own libFuzzer flags follow "fuzz flags:" in
# its source (e.g. -detect_leaks=0 for a Lua state kept between inputs).
set -uo pipefail
cd "$(dirname "$0")/.."
limit=${1:-10}
case $limit in -runs=*) opt=$limit ;; *) opt=-max_total_time=$limit ;; esac
CC=$(command -v clang || echo /opt/swift/usr/bin/clang)
out=.build-fuzz
mkdir -p "$out"
status=0
for src in Tests/fuzz/*_fuzz.c; do
  name=$(basename "$src" .c); name=${name%_fuzz}
  "$CC" -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -DCURIO_LUA_DIR="\"$PWD/lua\"" -I/usr/include/lua5.4 -ISources/CLuaShim/include "$src" -llua5.4 -o "$out/$name" 2>"$out/$name.log" \
    || { grep -v "Cannot export" "$out/$name.log" >&2; echo "fuzz: $name did not build" >&2; status=1; continue; }
  rm -rf "$out/$name-corpus"; cp -r "Tests/fuzz/corpus/$name" "$out/$name-corpus"
  mkdir -p "$out/$name-crashes"
  flags=$(sed -n 's/.*fuzz flags: *//p' "$src" | head -1)
  # shellcheck disable=SC2086
  if "$out/$name" "$opt" $flags -artifact_prefix="$out/$name-crashes/" "$out/$name-corpus" >"$out/$name.run" 2>&1; then
    echo "fuzz $name: $(grep -E '^Done [0-9]+ runs' "$out/$name.run")"
  else
    tail -30 "$out/$name.run" >&2; echo "fuzz: $name FAILED" >&2; status=1
  fi
done
# The API-argument target (Tests/fuzz/api, Swift: a SwiftPM build with libFuzzer and
# ASan in its own scratch path). Its calls create files and sockets: it runs in a
# scratch directory, with stdin from /dev/null, and, where `unshare -n` works, in a
# network namespace of its own (only loopback), so random hosts and ports reach
# nothing outside. A hang (-timeout) is a finding too.
name=api
if [ -n "$(find lua -newer Sources/CLuaShim/embedded.c -print -quit)" ]; then touch Sources/CLuaShim/embedded.c; fi
if swift build --product curio-api-fuzz --scratch-path .build-fuzz-swift -Xswiftc -sanitize=fuzzer,address \
     -Xswiftc -DCURIO_FUZZ -Xcc -fsanitize=fuzzer-no-link,address >"$out/$name.log" 2>&1; then
  bin=$PWD/.build-fuzz-swift/debug/curio-api-fuzz
  rm -rf "$out/$name-corpus" "$out/$name-cwd"; cp -r "Tests/fuzz/corpus/$name" "$out/$name-corpus"
  mkdir -p "$out/$name-crashes" "$out/$name-cwd"
  args=("$opt" -timeout=20 -detect_leaks=0 -artifact_prefix="$PWD/$out/$name-crashes/" "$PWD/$out/$name-corpus")
  net=(); unshare -n true 2>/dev/null && net=(unshare -n sh -c 'ip link set lo up 2>/dev/null; exec "$0" "$@"')
  if (cd "$out/$name-cwd" && ASAN_OPTIONS=detect_leaks=0 SWIFT_BACKTRACE=enable=no \
        "${net[@]}" "$bin" "${args[@]}" </dev/null >"../$name.run" 2>&1); then
    echo "fuzz $name: $(grep -a -E '^Done [0-9]+ runs' "$out/$name.run")"
  else
    grep -a -v -E '^#[0-9]+' "$out/$name.run" | tail -30 >&2; echo "fuzz: $name FAILED" >&2; status=1
  fi
else
  grep -v "Cannot export" "$out/$name.log" | tail -20 >&2; echo "fuzz: $name did not build" >&2; status=1
fi
exit $status
