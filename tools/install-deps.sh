#!/usr/bin/env bash
# Installs, with apt-get, whatever `make check` and `make bench` need and
# this machine lacks: both test kernels (Debian 12's 6.1 and 6.12, image and
# headers), QEMU, busybox-static for the guest, checkpatch's source package,
# file (to tell static from dynamic test programs), the libdrm and libnuma
# headers libaccel's GPU topology code uses, kvmemd's libraries (sd-event
# and sd_notify, the ini parser, json-c, libmicrohttpd, found with
# pkg-config), ncurses (kvmemctl top), the compilers, man-db (the man
# pages' check), dkms and Debian's packaging tools (make check-packages), and cuda.h (below). Does
# nothing
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
	# kvmemctl top (ncurses), and tmux to test it in the VM (--hostfs)
	libncurses-dev tmux
	man-db dkms
	python3-dev python3-numpy python3-pytest python3-torch
	debhelper dh-dkms dh-python dpkg-dev fakeroot lintian
	# make bench's serving plots (latency CDFs, service shares): gnuplot,
	# Debian's long-kept plotting tool, without X (pngcairo terminal).
	gnuplot-nox
)

# cuda.h (the emulation's tests, libaccel's CUDA ABI check) is not in
# Debian's main archive: NVIDIA's toolkit, or Debian's nvidia-cuda-dev from
# non-free when apt knows it; else stop and say how to get it.
cuda_h=${CUDA_INC:+$CUDA_INC/cuda.h}
if [ -z "$cuda_h" ]; then
	for h in /usr/local/cuda/include/cuda.h /usr/include/cuda.h; do
		[ -f "$h" ] && cuda_h=$h && break
	done
fi
if [ -z "$cuda_h" ] || [ ! -f "$cuda_h" ]; then
	if apt-cache policy nvidia-cuda-dev 2>/dev/null |
		grep -q 'Candidate: [0-9]'; then
		pkgs+=(nvidia-cuda-dev)
	else
		echo "install-deps: no cuda.h (needed by the CUDA emulation's" \
			"tests): enable Debian's non-free component and rerun" \
			"(installs nvidia-cuda-dev), install NVIDIA's CUDA" \
			"toolkit in /usr/local/cuda, or set CUDA_INC=DIR" >&2
		exit 1
	fi
fi

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
