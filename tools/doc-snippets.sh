#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Takes what the documentation tells users to type out of its pages, so
# that the test VM runs exactly that (tests/vm/vmtest_docs.c):
# - Documentation/libaccel.md's minimal program, built with that page's
#   recipe: make install-libaccel PREFIX=..., PKG_CONFIG_PATH, pkg-config;
#   -> build/vm/libaccel-minimal, and build/doc/prefix/lib/libaccel.so.1
#   for the guest's LD_LIBRARY_PATH;
# - admin-guide.md's per-client memory one-liner
#   -> build/vm/admin-guide-fdinfo.sh.
# Fails if a snippet is not found. Usage: tools/doc-snippets.sh
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
doc=build/doc prefix=$top/build/doc/prefix
mkdir -p "$doc" build/vm

# block FILE AFTER FIRST: the fenced block of FILE that comes after the
# first line matching AFTER (a regex) and whose first line matches FIRST.
block() {
	awk -v after="$2" -v first="$3" '
		!seen && $0 ~ after { seen = 1; next }
		seen && !in_b && /^```/ { in_b = 1; n = 0; next }
		in_b && /^```/ { if (ok) exit; in_b = 0; next }
		in_b { if (n++ == 0) ok = ($0 ~ first); if (ok) print }
	' "$1"
}

block Documentation/libaccel.md '^A minimal program' '^#include' \
	>"$doc/minimal.c"
[ -s "$doc/minimal.c" ] || { echo "no minimal program in libaccel.md"; exit 1; }
make --no-print-directory install-libaccel PREFIX="$prefix" >"$doc/install.log"
PKG_CONFIG_PATH=$prefix/lib/pkgconfig
export PKG_CONFIG_PATH
# shellcheck disable=SC2046 # the recipe's word splitting
cc -o build/vm/libaccel-minimal "$doc/minimal.c" \
	$(pkg-config --cflags --libs libaccel)

block Documentation/admin-guide.md '^processes holding it' \
	"^grep -H '\\^kvmem-' /proc/" >"$doc/fdinfo.sh"
[ -s "$doc/fdinfo.sh" ] || { echo "no fdinfo one-liner in admin-guide.md"; exit 1; }
install -m 0755 "$doc/fdinfo.sh" build/vm/admin-guide-fdinfo.sh
echo "doc-snippets: build/vm/libaccel-minimal build/vm/admin-guide-fdinfo.sh $prefix/lib/libaccel.so.1"
