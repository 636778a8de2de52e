#!/usr/bin/env bash
# Installs cfutures under a temporary prefix and builds the README quick start against it
# with pkg-config only (no paths into the source tree), then runs it.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
make -C "$root" --no-print-directory install PREFIX="$prefix" >/dev/null
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
test "$(readlink "$prefix/lib/libcfutures.so.0")" = "libcfutures.so.$(pkg-config --modversion cfutures)"
cc -std=c99 -Wall -Wextra -Werror "$root/tests/install/quickstart.c" $(pkg-config --cflags --libs cfutures) \
   -Wl,-rpath,"$prefix/lib" -o "$prefix/quickstart"
readelf -d "$prefix/quickstart" | grep -q 'NEEDED.*libcfutures.so.0'
"$prefix/quickstart"
echo "install: 1 passed, 0 failed"
