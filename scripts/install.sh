#!/usr/bin/env bash
# scripts/install.sh [PREFIX]: builds release and installs curio-lua into PREFIX
# (default /usr/local): PREFIX/bin/curio-lua, the man page
# PREFIX/share/man/man1/curio-lua.1, and the LuaLS stubs in
# PREFIX/share/curio-lua/types. DESTDIR is honoured (for packaging); BIN names an
# already built binary to install instead of building one.
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=${1:-/usr/local}
dest=${DESTDIR:-}
bin=${BIN:-$(scripts/build.sh release)}
install -d "$dest$prefix/bin" "$dest$prefix/share/man/man1" "$dest$prefix/share/curio-lua"
install -m 755 "$bin" "$dest$prefix/bin/curio-lua"
install -m 644 man/curio-lua.1 "$dest$prefix/share/man/man1/curio-lua.1"
rm -rf "$dest$prefix/share/curio-lua/types"
"$bin" --types "$dest$prefix/share/curio-lua/types" >/dev/null
echo "installed: $prefix/bin/curio-lua, $prefix/share/man/man1/curio-lua.1, $prefix/share/curio-lua/types" >&2
