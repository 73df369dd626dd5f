#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# dpkg-buildpackage -us -uc -b in a copy of the tree builds kvmem-dkms,
# libaccel1, libaccel-dev, kvmemd and python3-kvmem; lintian reports
# nothing (errors, warnings or info); each package unpacks (dpkg -x) into a scratch root with the files
# it must hold, and a program links against the unpacked libaccel-dev with
# its pkg-config file and runs accel_backend_name(); the packaged kvmemctl
# runs and the packaged binding imports. Writes build/deb/.
# Usage: tools/check-deb.sh
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
out=$top/build/deb
ver=$(dpkg-parsechangelog -l debian/changelog -S Version)
ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
rm -rf "$out" && mkdir -p "$out/root"
git ls-files -co --exclude-standard -z | cpio --quiet -0pdm "$out/kvmem-$ver"
(cd "$out/kvmem-$ver" && dpkg-buildpackage -us -uc -b) >"$out/build.log" 2>&1 ||
	{ tail -n 40 "$out/build.log"; exit 1; }
l=$(lintian --info "$out/kvmem_${ver}_amd64.changes" 2>&1 |
	grep -v 'running with root privileges' || true)
[ -z "$l" ] || { echo "lintian:"; echo "$l"; exit 1; }
for p in kvmem-dkms_"${ver}"_all libaccel1_"${ver}"_amd64 \
	libaccel-dev_"${ver}"_amd64 kvmemd_"${ver}"_amd64 \
	python3-kvmem_"${ver}"_amd64; do
	dpkg -x "$out/$p.deb" "$out/root"
done
r=$out/root
for f in "usr/src/kvmem-$ver/dkms.conf" "usr/src/kvmem-$ver/Kbuild" \
	"usr/src/kvmem-$ver/kmod/main.c" "usr/src/kvmem-$ver/uapi/linux/kvmem.h" \
	usr/lib/udev/rules.d/60-kvmem.rules etc/modprobe.d/kvmem.conf \
	etc/modules-load.d/kvmem.conf usr/share/man/man4/kvmem.4.gz \
	"usr/lib/$ma/libaccel.so.1" "usr/lib/$ma/libaccel.so" "usr/lib/$ma/libaccel.a" \
	"usr/lib/$ma/pkgconfig/libaccel.pc" usr/include/accel.h \
	usr/include/linux/kvmem.h usr/share/man/man3/libaccel.3.gz \
	usr/share/man/man3/accel_open.3.gz usr/sbin/kvmemd usr/sbin/kvmemctl \
	lib/systemd/system/kvmemd.service etc/kvmem/kvmemd.conf \
	usr/share/man/man8/kvmemd.8.gz usr/share/man/man8/kvmemctl.8.gz; do
	[ -e "$r/$f" ] || { echo "packages: no /$f"; exit 1; }
done
PYTHONPATH=$r/usr/lib/python3/dist-packages /usr/bin/python3 -c \
	'import kvmem; assert kvmem.Geometry(1, 1, 8, "f16", 16, "per_seq")' ||
	{ echo "python3-kvmem: the packaged binding does not import"; exit 1; }
"$r/usr/sbin/kvmemctl" --help >/dev/null ||
	{ echo "kvmemd: the packaged kvmemctl does not run"; exit 1; }
dpkg-deb -I "$out/kvmemd_${ver}_amd64.deb" postinst | grep -q 'kvmemd.service' ||
	{ echo "kvmemd: postinst does not set up kvmemd.service"; exit 1; }
dpkg-deb -I "$out/kvmem-dkms_${ver}_all.deb" postinst | grep -q 'addgroup --system kvmem' ||
	{ echo "kvmem-dkms: postinst does not create group kvmem"; exit 1; }
cat >"$out/t.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <accel.h>
int main(void) { return strcmp(accel_backend_name(ACCEL_BACKEND_HOST), "host") != 0; }
C
# The packaged .pc says /usr: point the compiler at the scratch root.
cc -o "$out/t" "$out/t.c" -I"$r/usr/include" -L"$r/usr/lib/$ma" -laccel
LD_LIBRARY_PATH=$r/usr/lib/$ma "$out/t"
PKG_CONFIG_SYSROOT_DIR=$r PKG_CONFIG_LIBDIR=$r/usr/lib/$ma/pkgconfig \
	pkg-config --cflags --libs libaccel | grep -q -- "-L$r/usr/lib/$ma"
echo "packages: ok ($(cd "$out" && ls ./*.deb | tr '\n' ' '))"
