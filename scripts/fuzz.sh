#!/usr/bin/env bash
# scripts/fuzz.sh [SECONDS=10 | -runs=N]: builds the libFuzzer targets of Tests/fuzz/
# (*_fuzz.c, clang -fsanitize=fuzzer,address,undefined; the clang of the Swift
# toolchain ships libFuzzer) into .build-fuzz and runs each on a copy of its corpus
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
exit $status
