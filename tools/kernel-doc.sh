#!/usr/bin/env bash
# Checks the kernel-doc comments of the module: every non-static function
# documented, every parameter described. Fails on any warning.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
ks=$("$top/tools/kernel-src.sh")
cd "$top"
out=$("$ks/scripts/kernel-doc" -none -Werror kmod/*.c kmod/*.h uapi/linux/kvmem.h 2>&1)
[ -z "$out" ] || { echo "$out"; exit 1; }
# Non-static functions without a kernel-doc comment right above them.
missing=$(awk '
	/^\/\*\*/ { doc = 1 }
	/^[a-z].*\(/ && !/^(static|typedef)/ && !/;$/ && !/^(MODULE|module_)/ {
		if (!doc) print FILENAME ": " $0
	}
	/^}/ { doc = 0 }
' kmod/*.c)
[ -z "$missing" ] || { echo "no kernel-doc:"; echo "$missing"; exit 1; }
