#!/usr/bin/env bash
# scripts/setup.sh: installs the Debian packages curio-lua needs that are missing.
# The Swift 6 toolchain itself comes from swift.org (Debian does not package it).
set -euo pipefail
if ! command -v swift >/dev/null; then
  echo "setup: the Swift 6 toolchain is not on PATH (see https://www.swift.org/install/linux/)" >&2
  exit 1
fi
need=()
have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"; }
# libedit-dev (the REPL's line editing), lua5.4 (benchmark baseline), luassert+say (the test runner's assertions), busted
# (checked against our runner), lua-check (lint), wrk (benchmarks/run.sh)
for p in pkg-config liblua5.4-dev libssl-dev libedit-dev lua-cjson python3 curl lua5.4 lua-luassert lua-say \
    lua-busted lua-check wrk; do
  have "$p" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo=sudo
  echo "setup: installing ${need[*]}" >&2
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >&2
fi
