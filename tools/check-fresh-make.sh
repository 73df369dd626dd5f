#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# A plain `make` in a fresh copy of the tracked tree (as after git clone)
# builds what `make help` says it builds, and writes nothing outside build/.
# Usage: tools/check-fresh-make.sh
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$top"
git ls-files -z | cpio --quiet -0pdm "$tmp"
cd "$tmp"
touch "$tmp/.start"
sleep 1
make -j"$(nproc)" 2>&1 | tee make.log
! grep -n "Nothing to be done" make.log
for f in build/module/kvmem.ko build/libaccel/libaccel.so.1 \
	build/libaccel/libaccel.a build/libaccel/libaccel.pc \
	build/vm/kvmem-vmtest build/vm/accel-example build/accel-example; do
	[ -e "$f" ] || { echo "fresh make: $f not built"; exit 1; }
done
stray=$(find . -path ./build -prune -o -newer .start -type f \
	! -name make.log -print)
[ -z "$stray" ] || { echo "fresh make wrote outside build/: $stray"; exit 1; }
echo "fresh make: ok"
