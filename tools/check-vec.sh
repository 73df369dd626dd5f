#!/bin/sh
# Checks that GCC vectorizes every loop of kernels/attention.c marked
# /* VEC */, in both builds of the inner loops: baseline x86-64 (16-byte
# SSE vectors) and x86-64-v3 (32-byte AVX2 vectors).
# Usage: tools/check-vec.sh REPORT  (REPORT: gcc -fopt-info-vec-optimized)
set -eu
report=$1 src=kernels/attention.c fail=0
lines=$(grep -n '/\* VEC \*/' "$src" | cut -d: -f1)
[ -n "$lines" ] || { echo "no /* VEC */ loops in $src"; exit 1; }
for l in $lines; do
	for width in 16 32; do
		if ! grep -q "^$src:$l:[0-9]*: optimized: loop vectorized using $width byte vectors" "$report"; then
			echo "FAIL: $src:$l not vectorized with $width-byte vectors:"
			sed -n "${l}p" "$src"
			fail=1
		fi
	done
done
[ "$fail" = 0 ] && echo "all $(echo "$lines" | wc -w) marked loops vectorized (16 and 32 bytes)"
exit "$fail"
