#!/bin/bash
# run.sh - boot one Debian kernel under QEMU (TCG) with kvmem and run the
# in-VM tests, the benchmark or the demo; write per-test results for the host.
#
# Usage:
#   run.sh --kernel VMLINUZ --module KO --mode test|bench|demo --out DIR
#          [--params STR] [--timeout SEC] [--label LABEL] [--only RE]
#          [--hostfs] FILE...
#
# --only RE runs only the tests whose names match the extended regular
# expression RE as a whole (and final_baseline), for work on a few tests;
# `make check` always runs them all. In bench mode, RE is a |-separated
# list of kvmem-bench groups (first_touch|populate|migrate|accel|attn|fair)
# and serve (kvmem-serve, the serving benchmark).
# --hostfs shares the host's /usr and /etc (read-only) and this repository
# (read-only) with the guest over virtio-9p and mounts them as a merged-usr
# root at /host in the guest (the repository at /host/repo, writable tmpfs
# at /host/tmp and /host/run, /proc, /sys and /dev bound in), so that a test
# can `chroot /host` and run the host's own programs (python3, tmux). It adds
# the pseudo-test "hostfs", which passes when that root works.
# FILE... are static binaries copied into the guest's /bin (kvmem-vmtest for
# --mode test, and accel-example, which its test accel_example runs;
# kvmem-bench for --mode bench; accel-example for --mode demo, whose
# output is printed here). The guest has 2 CPUs, 1.5 GiB
# and two NUMA nodes (node 1: 512 MiB, no CPUs), and boots with options that
# turn kernel warnings, oopses, lockups and hung tasks into a panic and make
# the slab/page allocators check for corruption, since Debian kernels have no
# KASAN/kmemleak/lockdep.
#
# Outputs in DIR: initramfs.cpio.gz, serial.log (guest console, \r\n),
# results.txt ("PASS <label>/<name>" or "FAIL <label>/<name>", one per
# expected test) and, in bench mode, bench.jsonl (one JSON object a line).
# Expected tests: "load" plus every name of "kvmem-vmtest --list" (run on the
# host) in test mode; "load" and "bench" in bench mode; "load" and "demo" in
# demo mode. An expected test without a result line (crash, panic, timeout)
# is a FAIL.
# Exit status: 0 if all expected tests passed, 1 otherwise, 2 on usage error.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)

usage() {
	sed -n '5,8p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

kernel='' module='' mode='' out='' params='' label='' only='' hostfs=''
groups=''
timeout_s=900
while [ "$#" -gt 0 ]; do
	case "$1" in
	--kernel) kernel=${2:?}; shift 2 ;;
	--module) module=${2:?}; shift 2 ;;
	--mode) mode=${2:?}; shift 2 ;;
	--out) out=${2:?}; shift 2 ;;
	--params) params=${2?}; shift 2 ;;
	--timeout) timeout_s=${2:?}; shift 2 ;;
	--label) label=${2:?}; shift 2 ;;
	--only) only="(${2:?})|final_baseline" groups=$2; shift 2 ;;
	--hostfs) hostfs=1; shift ;;
	-h | --help) usage ;;
	--) shift; break ;;
	-*) echo "run.sh: unknown option $1" >&2; usage ;;
	*) break ;;
	esac
done
files=("$@")

if [ -z "$kernel" ] || [ -z "$module" ] || [ -z "$mode" ] || [ -z "$out" ]; then
	usage
fi
case "$mode" in test | bench | demo) ;; *) usage ;; esac
case "$timeout_s" in '' | *[!0-9]*) echo "run.sh: bad --timeout" >&2; exit 2 ;; esac
for f in "$kernel" "$module" "${files[@]}"; do
	[ -f "$f" ] || { echo "run.sh: missing file: $f" >&2; exit 2; }
done

# Short label from the kernel version: vmlinuz-6.12.117+deb12-amd64 -> vm-6.12.
if [ -z "$label" ]; then
	ver=$(basename "$kernel" | sed -n 's/^vmlinuz-\([0-9]\{1,\}\.[0-9]\{1,\}\).*/\1/p')
	if [ -z "$ver" ] && command -v file >/dev/null 2>&1; then
		ver=$(file -bL "$kernel" | sed -n 's/.*version \([0-9]\{1,\}\.[0-9]\{1,\}\).*/\1/p')
	fi
	label=vm-${ver:-unknown}
fi

# The expected test list.
expected=(load)
[ -n "$hostfs" ] && expected+=(hostfs)
if [ "$mode" = test ]; then
	vmtest=
	for f in "${files[@]}"; do
		[ "$(basename "$f")" = kvmem-vmtest ] && vmtest=$f
	done
	if [ -z "$vmtest" ]; then
		echo "run.sh: --mode test needs a FILE named kvmem-vmtest" >&2
		exit 2
	fi
	if ! list=$("$vmtest" --list); then
		echo "run.sh: '$vmtest --list' failed on the host" >&2
		exit 2
	fi
	if [ -n "$only" ]; then
		list=$(echo "$list" | grep -Ex "$only" || true)
	fi
	for t in $list; do expected+=("$t"); done
else
	# --only serve (bench mode) runs the serving benchmark alone.
	[ "$mode" = bench ] && [ "$groups" = serve ] || expected+=("$mode")
	if [ "$mode" = demo ]; then
		found=
		for f in "${files[@]}"; do
			[ "$(basename "$f")" = accel-example ] && found=1
		done
		if [ -z "$found" ]; then
			echo "run.sh: --mode demo needs a FILE named accel-example" >&2
			exit 2
		fi
	fi
	for f in "${files[@]}"; do
		[ "$mode" = bench ] && [ "$(basename "$f")" = accel-calls-bench ] &&
			expected+=(bench-calls)
		[ "$mode" = bench ] && [ "$(basename "$f")" = kvmem-serve ] &&
			{ [ -z "$groups" ] || echo "|$groups|" | grep -q '|serve|'; } &&
			expected+=(bench-serve)
	done

fi

mkdir -p "$out"
out=$(cd "$out" && pwd)
initrd=$out/initramfs.cpio.gz
serial=$out/serial.log
results=$out/results.txt
rm -f "$serial" "$results" "$out/bench.jsonl"

# The 9p modules of this kernel, in load order ("builtin" lines and repeats
# dropped); none for a kernel without /lib/modules (everything built in).
hostfs_mods=
if [ -n "$hostfs" ]; then
	kver=$(basename "$kernel" | sed -n 's/^vmlinuz-//p')
	if [ -n "$kver" ] && [ -d "/lib/modules/$kver" ]; then
		hostfs_mods=$(modprobe -a --show-depends -S "$kver" virtio_pci 9pnet_virtio 9p |
			awk '$1 == "insmod" && !seen[$2]++ { print $2 }')
	fi
fi

[ "$mode" = bench ] && only=$groups
KVMEM_HOSTFS=$hostfs KVMEM_HOSTFS_MODULES=$hostfs_mods KVMEM_ONLY=$only "$here/mkinitramfs.sh" "$initrd" "$module" "$params" "$mode" "${files[@]}"

# panic_print=0x20 replays the whole kernel log on the console at a panic:
# with loglevel=3 the WARNING text and trace that led to a panic_on_warn
# panic would otherwise never reach serial.log.
append="console=ttyS0 panic=-1 oops=panic panic_on_warn=1 softlockup_panic=1"
append+=" hung_task_panic=1 panic_print=0x20 quiet loglevel=3"
# The allocator checks cost time on every allocation and free; benchmarks
# would measure them rather than kvmem, so they run in test mode only.
if [ "$mode" = test ]; then
	append+=" slub_debug=FZPU page_poison=1 init_on_free=1"
fi

# shellcheck disable=SC2054 # the commas are qemu's, not array separators
qemu=(
	qemu-system-x86_64 -accel tcg -cpu max -smp 2 -m 1536M
	-object memory-backend-ram,id=m0,size=1024M
	-object memory-backend-ram,id=m1,size=512M
	-numa node,nodeid=0,cpus=0-1,memdev=m0
	-numa node,nodeid=1,memdev=m1
	-kernel "$kernel" -initrd "$initrd" -append "$append"
	-nographic -no-reboot -net none -monitor none
	-serial "file:$serial"
)
if [ -n "$hostfs" ]; then
	repo=$(cd "$here/../.." && pwd)
	for share in usr:/usr etc:/etc repo:"$repo"; do
		qemu+=(-virtfs "local,path=${share#*:},mount_tag=${share%%:*},security_model=none,readonly=on,multidevs=remap")
	done
fi

# A kernel that panics while booting, before /init printed anything, never
# ran kvmem: under TCG that is QEMU's emulation of the kernel patching its
# own text (an int3 oops in early init, seen on a loaded host). Boot once
# more then; a panic after /init started is kvmem's and is never retried.
start=$(date +%s)
for attempt in 1 2; do
	qrc=0
	timeout -k 10 "$timeout_s" "${qemu[@]}" </dev/null >"$out/qemu.log" 2>&1 || qrc=$?
	if [ "$attempt" -eq 2 ] || grep -aq 'KVMEM-' "$serial" ||
	   ! grep -aq 'Kernel panic' "$serial"; then
		break
	fi
	echo "run.sh: $label: the kernel panicked while booting, before /init ran; booting again" >&2
	mv "$serial" "$out/serial.boot-panic.log"
done
elapsed=$(($(date +%s) - start))
if [ "$qrc" -eq 124 ] || [ "$qrc" -eq 137 ]; then
	echo "run.sh: $label: VM killed after the ${timeout_s}s timeout" >&2
elif [ "$qrc" -ne 0 ]; then
	echo "run.sh: $label: qemu exited with $qrc:" >&2
	tail -n 20 "$out/qemu.log" >&2
fi
touch "$serial"

# Console text without the \r of \r\n.
clean=$out/serial.txt
tr -d '\r' <"$serial" >"$clean"

if grep -q 'Kernel panic' "$clean"; then
	echo "run.sh: $label: kernel panic; last 60 lines of $serial:" >&2
	tail -n 60 "$clean" >&2
	# With panic_print=0x20 the whole log is replayed; the first report is
	# often more than 60 lines before the end.
	echo "run.sh: $label: first trouble lines:" >&2
	grep -E 'WARNING:|BUG|Oops|general protection|blocked for more than|Kernel panic' "$clean" | head -n 10 >&2 || true
fi
if ! grep -q 'KVMEM-DONE' "$clean"; then
	echo "run.sh: $label: the guest did not reach KVMEM-DONE" >&2
fi

# "STATUS NAME" for every result line; kernel text may precede the marker.
awk '{ i = index($0, "KVMEM-RESULT "); if (i == 0) next
       split(substr($0, i + 13), f, " "); print f[1], f[2] }' "$clean" >"$out/results.raw"

# A test passes iff it has a PASS line and no FAIL line.
pass=0 fail=0
: >"$results"
for t in "${expected[@]}"; do
	if grep -qFx "FAIL $t" "$out/results.raw" || ! grep -qFx "PASS $t" "$out/results.raw"; then
		echo "FAIL $label/$t" >>"$results"
		fail=$((fail + 1))
	else
		echo "PASS $label/$t" >>"$results"
		pass=$((pass + 1))
	fi
done

if [ "$mode" = bench ]; then
	sed -n 's/^BENCH-JSON //p' "$clean" >"$out/bench.jsonl"
fi
# The demo is for people: show what the example printed.
if [ "$mode" = demo ]; then
	sed -n '/^KVMEM-DEMO-BEGIN/,/^KVMEM-DEMO-END/{/^KVMEM-/!p}' "$clean"
fi

echo "run.sh: $label: VM ran ${elapsed}s" >&2
echo "vm $label: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
