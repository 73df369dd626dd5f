#!/bin/bash
# mkinitramfs.sh - build the tiny initramfs that the kvmem test VM boots.
#
# Usage: mkinitramfs.sh OUT.cpio.gz MODULE.ko PARAMS_STRING MODE FILE...
#
# The image holds busybox-static (with every applet symlinked), our /init
# (tests/vm/init), the module as /kvmem.ko, its parameters in /kvmem.params,
# the mode (test|bench|demo) in /kvmem.mode, and each FILE in /bin: test
# programs such as kvmem-vmtest, kvmem-bench and accel-example, statically
# linked or not (the shared libraries a dynamically linked one needs are
# copied too); a FILE named *.so or *.so.N goes to /usr/lib/kvmem instead.
# If KVMEM_ONLY is
# set in the environment, it goes to /kvmem.only: a regular expression that
# the names of the tests to run must match (run.sh --only). If KVMEM_HOSTFS
# is set (run.sh --hostfs), /kvmem.hostfs lists the kernel modules that the
# host share needs, in load order (KVMEM_HOSTFS_MODULES: host paths, .ko or
# .ko.xz, copied uncompressed to /lib/hostfs-modules), possibly none.
# Why not the distribution's initramfs tools: we want no udev, no root disk and
# nothing but our own init, built in well under a second, byte-for-byte
# reproducible for the same inputs (fixed mtimes, sorted entries, owner 0:0,
# gzip -n).
set -euo pipefail

usage() {
	echo "usage: $0 OUT.cpio.gz MODULE.ko PARAMS_STRING MODE FILE..." >&2
	exit 2
}

[ "$#" -ge 4 ] || usage
out=$1
module=$2
params=$3
mode=$4
shift 4

case "$mode" in
test | bench | demo) ;;
*)
	echo "$0: MODE must be 'test', 'bench' or 'demo', not '$mode'" >&2
	exit 2
	;;
esac

here=$(cd "$(dirname "$0")" && pwd)
init_script=$here/init
busybox=${BUSYBOX:-/bin/busybox}

for f in "$module" "$init_script" "$busybox" "$@"; do
	if [ ! -f "$f" ]; then
		echo "$0: missing file: $f" >&2
		exit 1
	fi
done
if ! "$busybox" --list-full >/dev/null 2>&1; then
	echo "$0: $busybox is not a busybox binary with --list-full" >&2
	exit 1
fi
# A dynamically linked busybox would not run in the guest (no libc there).
if command -v file >/dev/null 2>&1 && ! file -L "$busybox" | grep -q 'statically linked\|static-pie'; then
	echo "$0: $busybox is not statically linked (install busybox-static)" >&2
	exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kvmem-initramfs.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
root=$tmp/root

mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,root,etc}
chmod 1777 "$root/tmp"

install -m 0755 "$busybox" "$root/bin/busybox"
# --list-full prints paths such as "usr/bin/awk"; point each at /bin/busybox.
"$busybox" --list-full | while IFS= read -r applet; do
	case "$applet" in
	'' | bin/busybox) continue ;;
	*/*) [ -d "$root/${applet%/*}" ] || mkdir -p "$root/${applet%/*}" ;;
	esac
	ln -sf /bin/busybox "$root/$applet"
done

install -m 0755 "$init_script" "$root/init"
install -m 0644 "$module" "$root/kvmem.ko"
printf '%s\n' "$params" >"$root/kvmem.params"
printf '%s\n' "$mode" >"$root/kvmem.mode"
if [ -n "${KVMEM_ONLY:-}" ]; then
	printf '%s\n' "$KVMEM_ONLY" >"$root/kvmem.only"
fi
if [ -n "${KVMEM_HOSTFS:-}" ]; then
	mkdir -p "$root/lib/hostfs-modules"
	: >"$root/kvmem.hostfs"
	for m in ${KVMEM_HOSTFS_MODULES:-}; do
		name=$(basename "$m")
		name=${name%.xz}
		case "$m" in
		*.xz) xz -dc "$m" >"$root/lib/hostfs-modules/$name" ;;
		*) cp "$m" "$root/lib/hostfs-modules/$name" ;;
		esac
		echo "/lib/hostfs-modules/$name" >>"$root/kvmem.hostfs"
	done
fi
# Copies the shared libraries an ELF file needs (and their interpreter) to
# the same paths in the image, so that dynamically linked test programs run
# in a guest that has no libc of its own.
copy_libs() {
	local lib
	ldd "$1" 2>/dev/null | grep -o '/[^ ]*' | while IFS= read -r lib; do
		[ -e "$root$lib" ] && continue
		mkdir -p "$root$(dirname "$lib")"
		cp -L "$lib" "$root$lib"
	done
}

# Statically linked programs go to /bin; shared libraries given as FILE
# (such as the CUDA emulation's libcuda.so.1) to /usr/lib/kvmem, which /init
# puts on LD_LIBRARY_PATH.
for f in "$@"; do
	case "$(basename "$f")" in
	*.so | *.so.*)
		mkdir -p "$root/usr/lib/kvmem"
		install -m 0755 "$f" "$root/usr/lib/kvmem/$(basename "$f")"
		;;
	*)
		install -m 0755 "$f" "$root/bin/$(basename "$f")"
		;;
	esac
	if file -L "$f" | grep -q 'dynamically linked'; then
		copy_libs "$f"
	fi
done

# The kernel's built-in initramfs normally provides /dev/console already; add
# it (and /dev/null) anyway so that /init always has a console before devtmpfs
# is mounted over /dev.
mknod -m 0600 "$root/dev/console" c 5 1
mknod -m 0666 "$root/dev/null" c 1 3

# Reproducible archive: fixed timestamps, sorted names, numeric owner 0:0.
find "$root" -exec touch -h -d @0 {} +
mkdir -p "$(dirname "$out")"
(
	cd "$root"
	find . -mindepth 1 -printf '%P\n' | LC_ALL=C sort |
		cpio --quiet -o -H newc -R 0:0 --reproducible
) | gzip -n -6 >"$out.tmp"
mv -f "$out.tmp" "$out"
