#!/usr/bin/env bash
# The body of `make check`: builds and runs every test, writes one line
# "PASS <name>" or "FAIL <name>" per test into build/results/*.txt, and
# ends with "N passed, N failed" over all of them. Exits non-zero on any
# failure. Usage: tools/check.sh K61 K612 VM_PARAMS
set -uo pipefail

k61=$1 k612=$2 vm_params=$3
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
res=build/results
rm -rf "$res" && mkdir -p "$res"
mk() { make --no-print-directory "$@"; }

# record FILE NAME CMD...: one test whose outcome is the command's status.
record() {
	local file=$1 name=$2 log
	shift 2
	log="$res/$(echo "$name" | tr '/' '_').log"
	if "$@" >"$log" 2>&1; then
		echo "PASS $name" >>"$res/$file"
	else
		echo "FAIL $name" >>"$res/$file"
		echo "== $name failed; its log ($log):"
		tail -n 40 "$log"
	fi
}

echo "== unit tests (plain, and under ASan+UBSan)"
for t in $(ls tests/unit/test_*.c | sed 's|.*/test_||; s|\.c$||') \
	$(ls tests/accel/test_*.c | sed 's|.*/test_|accel_|; s|\.c$||') \
	$(ls tests/daemon/test_*.c | sed 's|.*/test_|daemon_|; s|\.c$||') \
	$(ls tests/serve/test_*.c | sed 's|.*/test_|serve_|; s|\.c$||'); do
	for flavour in unit unit-san; do
		if mk "build/$flavour/$t" >"$res/build-$flavour-$t.log" 2>&1; then
			out="$res/$flavour-$t.out"
			"build/$flavour/$t" >"$out" 2>&1
			status=$?
			sed -E "s#^(PASS|FAIL) #\1 $flavour/#" "$out" >>"$res/unit.txt"
			grep -v '^PASS' "$out" || true
			# A crash, or a failure that printed no FAIL line.
			[ "$status" -eq 0 ] || grep -q '^FAIL' "$out" ||
				echo "FAIL $flavour/$t (exit $status)" >>"$res/unit.txt"
		else
			echo "FAIL build/$flavour/$t" >>"$res/unit.txt"
			cat "$res/build-$flavour-$t.log"
		fi
	done
done

echo "== kvmemd on the host (--no-device, under ASan+UBSan)"
# The real daemon: bad configuration, the control socket abused, the
# metrics endpoint, a clean stop. One line per test.
if mk build/kvmemd-san >"$res/build-kvmemd-san.log" 2>&1; then
	out="$res/kvmemd-host.out"
	python3 tests/daemon/kvmemd_host.py build/kvmemd-san >"$out" 2>&1
	status=$?
	grep -E '^(PASS|FAIL) ' "$out" >>"$res/unit.txt"
	grep -v '^PASS' "$out" || true
	[ "$status" -eq 0 ] || grep -q '^FAIL' "$out" ||
		echo "FAIL kvmemd_host (exit $status)" >>"$res/unit.txt"
else
	echo "FAIL build/kvmemd-san" >>"$res/unit.txt"
	cat "$res/build-kvmemd-san.log"
fi

echo "== the Python binding on the host (plain, and under ASan+UBSan)"
# tests/python/test_host.py: what needs no module (arguments, accel_open's
# errors, the cuda backend without the module on the emulation), one line
# per pytest case; the module's tests run in the VM (python_pytest).
tools/check-python.sh >>"$res/unit.txt" 2>"$res/python-host.log" ||
	{ grep -q '^FAIL' "$res/unit.txt" ||
		echo "FAIL python/host (see $res/python-host.log)" >>"$res/unit.txt"
	  tail -n 40 "$res/python-host.log"; }

echo "== kvmemctl on the host (no module; a fake sysfs and kvmemd; ASan+UBSan)"
# Usage errors exit 2, a missing module, device or daemon exits 1 with a
# message naming it; tables and --json against a fake sysfs tree.
if mk build/kvmemctl-san >"$res/build-kvmemctl.log" 2>&1; then
	out="$res/kvmemctl-host.out"
	python3 tests/kvmemctl/kvmemctl_host.py build/kvmemctl-san >"$out" 2>&1
	status=$?
	grep -E '^(PASS|FAIL) ' "$out" >>"$res/unit.txt"
	grep -v '^PASS' "$out" || true
	[ "$status" -eq 0 ] || grep -q '^FAIL' "$out" ||
		echo "FAIL kvmemctl_host (exit $status)" >>"$res/unit.txt"
else
	echo "FAIL build/kvmemctl-san" >>"$res/unit.txt"
	cat "$res/build-kvmemctl.log"
fi

echo "== cuda emulation (plain, and under ASan+UBSan)"
# test_cuemu prints one PASS/FAIL line per case; its stderr is mostly the
# emulation's "cuemu: ..." lines (the negative cases provoke misuse), which
# the log keeps and the report of a failure leaves out.
for flavour in cuda-emu cuda-emu-san; do
	out="$res/$flavour.out" log="$res/$flavour.log"
	if mk "build/$flavour/test_cuemu" >"$res/build-$flavour.log" 2>&1; then
		LD_LIBRARY_PATH="build/$flavour" "build/$flavour/test_cuemu" \
			>"$out" 2>"$log"
		status=$?
		sed -E "s#^(PASS|FAIL) #\1 $flavour/#" "$out" >>"$res/cuemu.txt"
		if [ "$status" -ne 0 ]; then
			grep -q '^FAIL' "$out" ||
				echo "FAIL $flavour/test_cuemu (exit $status)" \
					>>"$res/cuemu.txt"
			echo "== $flavour failed; its log ($log):"
			grep -v '^cuemu: ' "$log" | tail -n 40
		fi
	else
		echo "FAIL build/$flavour/test_cuemu" >>"$res/cuemu.txt"
		cat "$res/build-$flavour.log"
	fi
done

# test_cuemu --real-driver (what tools/gpu-check.sh runs against a GPU's
# driver), here against the emulation: every case that applies passes; and
# an emulation with a rule broken (as a driver that does not follow it)
# is reported as a DIVERGE line naming the case.
record cuemu.txt cuda-emu-san/real-driver-mode env \
	LD_LIBRARY_PATH=build/cuda-emu-san build/cuda-emu-san/test_cuemu \
	--real-driver
real_driver_diverges() {
	! CUEMU_BREAK_RULE=map.flags LD_LIBRARY_PATH=build/cuda-emu \
		build/cuda-emu/test_cuemu --real-driver map_flags_nonzero \
		>"$res/real-driver-diverge.out" &&
	grep -q '^DIVERGE cuemu-real/map_flags_nonzero .*expected' \
		"$res/real-driver-diverge.out"
}
record cuemu.txt cuda-emu/real-driver-diverge real_driver_diverges

echo "== style (kernel; libaccel's exported symbols)"
record style.txt style/checkpatch tools/checkpatch.sh
record style.txt style/kernel-doc tools/kernel-doc.sh
record style.txt style/licenses tools/check-licenses.sh
record style.txt style/man-pages tools/check-man.sh
# accel.h, libaccel.map, libaccel.so.1 and Documentation/libaccel.md name
# the same functions.
record style.txt style/libaccel-symbols \
	sh -c "make --no-print-directory libaccel && tools/check-symbols.sh"

echo "== module builds (W=1, warnings are errors)"
for k in $k61 $k612; do
	ko="build/kmod-$k/kvmem.ko"
	record build.txt "build/kmod-$k-W1" \
		sh -c "make --no-print-directory $ko && ! grep -n 'warning:' build/kmod-$k/build.log"
done
# A plain make in a fresh copy of the tree builds, all under build/.
record build.txt build/fresh-make tools/check-fresh-make.sh
record build.txt build/vmtest mk build/vm/kvmem-vmtest
record build.txt build/accel-example mk build/vm/accel-example build/accel-example

record build.txt build/accel-backend-test mk build/vm/accel-backend-test
# The serving benchmark: the guest's (the serve_policies VM test runs it)
# and the host's.
record build.txt build/kvmem-serve mk build/vm/kvmem-serve build/kvmem-serve
# Its three paged policies on the host, under ASan+UBSan (kvmem's runs in
# the VM test serve_policies): same outputs, every conversation finished.
record build.txt serve/host-paged-san sh -c "make --no-print-directory \
	build/kvmem-serve-san && build/kvmem-serve-san --quiet --rounds 1 \
	--policies recompute,vllm_swap,fastswitch --conversations 12 --rate 12 \
	--think 0.3 --len-scale 0.06 --max-turns 4 --too-small 2 >/dev/null"
# The negative test: one K byte lost in fastswitch's KV changes its outputs.
record build.txt serve/host-corrupt-detected sh -c "! build/kvmem-serve-san \
	--quiet --rounds 1 --policies recompute,fastswitch --conversations 12 \
	--rate 12 --think 0.3 --len-scale 0.06 --max-turns 4 --too-small 2 \
	--corrupt fastswitch >/dev/null"
# The documentation's minimal program and admin one-liner, for doc_* tests.
record build.txt build/doc-snippets tools/doc-snippets.sh
record build.txt build/cuda-emu mk build/cuda-emu/libcuda.so.1
record build.txt build/kvmemd mk build/kvmemd build/policy-bench
record build.txt build/kvmemctl mk build/kvmemctl
# kernels/: the CUDA kernels build (not run: no GPU) with their entry
# points; attention.c's marked loops vectorize; the attention bench builds.
record build.txt build/kernels-cuda mk build/kernels/kvmem_kernels.fatbin
record build.txt build/kernels-vectorized mk build/kernels/vec-report.txt
record build.txt build/attn-bench mk build/attn-bench
record build.txt build/gpu-attention mk build/gpu/gpu-attention

echo "== libaccel without the module (cuda backend on the strict emulation)"
# No VM: a device path that does not exist is what a machine without kvmem
# shows libaccel. Both the test and the emulation under ASan+UBSan.
out="$res/backend-cuda-nomodule.out"
if mk build/vm/accel-backend-test build/cuda-emu-san/libcuda.so.1 \
		>"$res/build-backend-nomodule.log" 2>&1; then
	# Then the same scenarios through device copies, as on a real GPU.
	{ CUEMU_STRICT=1 LD_LIBRARY_PATH=build/cuda-emu-san \
		build/vm/accel-backend-test cuda-nomodule &&
	  CUEMU_STRICT=1 LD_LIBRARY_PATH=build/cuda-emu-san \
		build/vm/accel-backend-test cuda-nomodule --device-copies
	} >"$out" 2>&1
	status=$?
	grep -E '^(PASS|FAIL) ' "$out" >>"$res/nomodule.txt"
	[ "$status" -eq 0 ] || { grep -q '^FAIL' "$out" ||
		echo "FAIL backend-cuda-nomodule (exit $status)" >>"$res/nomodule.txt"
		tail -n 40 "$out"; }
else
	echo "FAIL build/backend-cuda-nomodule" >>"$res/nomodule.txt"
	cat "$res/build-backend-nomodule.log"
fi

# tools/gpu-check.sh: builds all it can and, here, says there is no GPU;
# with --emulation, runs its measurements on the emulation (a few s).
record nomodule.txt gpu-check/no-gpu env OUT=build/gpu/no-gpu tools/gpu-check.sh
record nomodule.txt gpu-check/emulation env OUT=build/gpu/emulation \
	tools/gpu-check.sh --emulation

echo "== in-VM suites"
# The suite runs libaccel's backend scenarios too (accel_backend_*): the
# dynamically linked accel-backend-test and the CUDA emulation go into the
# guest with the libraries they need. --hostfs lets tests chroot into the
# host's /usr to run its python3 and tmux (tests/vm/run.sh).
for k in $k61 $k612; do
	out="build/vm-$k"
	# accel-example goes in too: the test accel_example runs it; and
	# kvmemd (dynamically linked: its libraries follow), for kvmemd_*.
	if [ -f "build/kmod-$k/kvmem.ko" ] && [ -x build/vm/kvmem-vmtest ] &&
		[ -x build/vm/accel-example ] && [ -x build/kvmemd ] &&
		[ -x build/kvmemctl ]; then
		tests/vm/run.sh --kernel "/boot/vmlinuz-$k" \
			--module "build/kmod-$k/kvmem.ko" --params "$vm_params" \
			--mode test --hostfs --out "$out" build/vm/kvmem-vmtest \
			build/vm/accel-example build/kvmemd build/kvmemctl \
			$(ls build/vm/accel-backend-test build/cuda-emu/libcuda.so.1 \
				build/vm/kvmem-serve \
				build/vm/libaccel-minimal build/vm/admin-guide-fdinfo.sh \
				build/doc/prefix/lib/libaccel.so.1 2>/dev/null)
		cat "$out/results.txt" >>"$res/vm.txt"
	else
		echo "FAIL vm-$k/not-built" >>"$res/vm.txt"
	fi
done

echo "== summary"
grep -h '^FAIL' "$res"/*.txt | sed 's/^/  /'
pass=$(cat "$res"/*.txt | grep -c '^PASS')
fail=$(cat "$res"/*.txt | grep -c '^FAIL')
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
