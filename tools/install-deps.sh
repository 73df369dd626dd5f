#!/usr/bin/env bash
# Installs, with apt-get, whatever `make check` and `make bench` need and
# this machine lacks: both test kernels (Debian 12's 6.1 and 6.12, image and
# headers), QEMU, busybox-static for the guest, checkpatch's source package,
# file (to tell static from dynamic test programs), the libdrm and libnuma
# headers libaccel's GPU topology code uses, kvmemd's libraries (sd-event
# and sd_notify, the ini parser, json-c, libmicrohttpd, found with
# pkg-config), and the compilers. Does nothing
# when everything is there. Needs root.
set -euo pipefail

pkgs=(
	gcc make libc6-dev perl python3 cpio gzip xz-utils kmod
	linux-image-amd64 linux-headers-amd64
	linux-image-6.12-amd64 linux-headers-6.12-amd64
	linux-source-6.1
	qemu-system-x86 busybox-static file
	libdrm-dev libnuma-dev
	pkg-config libsystemd-dev libinih-dev libjson-c-dev libmicrohttpd-dev
)

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing packages: ${missing[*]}; run as root" >&2
	exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
