#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# DKMS builds kvmem.ko from what `make install-dkms` installs, for kernel
# KVER, in a scratch tree (--sourcetree/--dkmstree; nothing of the
# system's DKMS state is used or changed: dkms's signing key goes to a
# private /var/lib/dkms of a mount namespace); then the test VM boots KVER
# with that module and runs one quick test. Writes build/dkms-KVER/.
# Usage: tools/check-dkms.sh KVER VM_PARAMS
set -euo pipefail
kver=$1 params=$2
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
out=$top/build/dkms-$kver
rm -rf "$out" && mkdir -p "$out/src" "$out/tree" "$out/keys"
ver=$(make --no-print-directory -s -p -n 2>/dev/null |
	sed -n 's/^KVMEM_VERSION := //p' | head -n1)
make --no-print-directory install-dkms DESTDIR="$out/src" \
	DKMSSRCDIR="/kvmem-$ver" >/dev/null
unshare --mount sh -c "mount -t tmpfs none /var/lib/dkms &&
	dkms build -m kvmem -v '$ver' -k '$kver' --dkmstree '$out/tree' \
		--sourcetree '$out/src'" >"$out/dkms.log" 2>&1 ||
	{ cat "$out/dkms.log"; exit 1; }
ko=$(find "$out/tree/kvmem/$ver/$kver" -name 'kvmem.ko*' | head -n1)
[ -n "$ko" ] || { echo "dkms built no kvmem.ko"; cat "$out/dkms.log"; exit 1; }
case "$ko" in
*.xz) xz -dc "$ko" >"$out/kvmem.ko" ;;
*.zst) zstd -qdc "$ko" >"$out/kvmem.ko" ;;
*) cp "$ko" "$out/kvmem.ko" ;;
esac
echo "dkms: built $ko"
make --no-print-directory build/vm/kvmem-vmtest >/dev/null
tests/vm/run.sh --kernel "/boot/vmlinuz-$kver" --module "$out/kvmem.ko" \
	--params "$params" --mode test --out "$out/vm" --label "dkms-$kver" \
	--only 'ioctl_get_info' build/vm/kvmem-vmtest
