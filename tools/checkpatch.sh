#!/usr/bin/env bash
# Runs the kernel's checkpatch.pl over the module and the uapi header;
# fails on any error or warning.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
ks=$("$top/tools/kernel-src.sh")
cd "$top"
"$ks/scripts/checkpatch.pl" --no-tree --show-types --terse \
	--ignore FILE_PATH_CHANGES,SPDX_LICENSE_TAG \
	-f $(ls kmod/*.c kmod/*.h | grep -v compat.h) uapi/linux/kvmem.h Kbuild
# compat.h exists to compare kernel versions, which checkpatch frowns upon.
"$ks/scripts/checkpatch.pl" --no-tree --show-types --terse \
	--ignore FILE_PATH_CHANGES,SPDX_LICENSE_TAG,LINUX_VERSION_CODE,CONSTANT_COMPARISON \
	-f kmod/compat.h
