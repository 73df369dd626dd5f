#!/usr/bin/env bash
# tools/gpu-check.sh: libaccel's cuda backend on a real GPU, without the
# kvmem module (Documentation/libaccel.md, "Running without the module").
#
# Builds libaccel (shared and static), accel-backend-test, test_cuemu,
# gpu-measure (tools/gpu/gpu_measure.c), gpu-attention
# (tools/gpu/gpu_attention.c) and, with nvcc (the machine's, or
# /usr/local/cuda's), every kernels/*.cu (attention.cu as the fatbin
# gpu-attention loads). Then, if a GPU and its driver are there, against
# the real libcuda.so.1: the backend scenarios without the module through
# device copies, test_cuemu --real-driver (any rule of the emulation the
# driver does not follow: DIVERGE lines), gpu-measure's swap, grow and
# step-ahead figures and gpu-attention's accel-vs-cuMemAlloc attention
# ratio; writes results.json, gpu-check.log and each step's output under
# $OUT (build/gpu/ by hand). Where there is no GPU it says so and exits 0
# after building.
#
# Usage: tools/gpu-check.sh [--emulation]
#   --emulation  run the measurements against tests/cuda-emu's strict
#                libcuda.so.1 (LD_LIBRARY_PATH=build/cuda-emu), quick sizes:
#                proves the measuring code paths on a machine with no GPU
# Exit: 0 built (and, with a GPU or --emulation, checked and measured); 1 a
# build, a backend scenario, a measurement or (with --emulation) a rule
# check failed. Rules a real driver does not follow are reported in
# results.json ("driver_rules"."diverged"), not counted as a failure.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
emulation=0
case "${1:-}" in
--emulation) emulation=1 ;;
"") ;;
-h|--help) sed -n '2,25p' "$0"; exit 0 ;;
*) echo "gpu-check: unknown option $1 (see --help)" >&2; exit 1 ;;
esac
out=${OUT:-build/gpu}
mkdir -p "$out" build/gpu
log="$out/gpu-check.log"
: >"$log"
say() { echo "gpu-check: $*" | tee -a "$log"; }
mk() { make --no-print-directory "$@" >>"$log" 2>&1; }
start=$(date +%s)

say "building libaccel, the backend test, test_cuemu, gpu-measure," \
	"gpu-attention"
if ! mk libaccel build/gpu/accel-backend-test build/gpu/gpu-measure \
	build/gpu/gpu-attention build/cuda-emu/libcuda.so.1 \
	build/cuda-emu/test_cuemu; then
	say "FAIL: build (see $log)"
	tail -n 30 "$log"
	exit 1
fi

# CUDA kernels, if any: one object each, with the nvcc found; and the
# attention kernels (kernels/attention.cu) as the fatbin gpu-attention
# loads: the Makefile's rule where it has one, else sm_90 code and
# compute_90 PTX (which newer GPUs compile at load time) built here.
nvcc=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
kernels=$(ls kernels/*.cu 2>/dev/null || true)
fatbin=
if [ -z "$kernels" ]; then
	say "kernels: no kernels/*.cu, none to build"
elif [ ! -x "$nvcc" ]; then
	say "kernels: no nvcc (PATH or /usr/local/cuda/bin), not built"
else
	for k in $kernels; do
		# attention.cu is built as the fatbin below.
		[ "$k" = kernels/attention.cu ] && continue
		o="build/gpu/$(basename "$k" .cu).o"
		if "$nvcc" -O2 -Ikernels -c "$k" -o "$o" >>"$log" 2>&1; then
			say "kernels: built $o"
		else
			say "FAIL: nvcc $k (see $log)"
			exit 1
		fi
	done
	if [ -f kernels/attention.cu ]; then
		if grep -q '^KERNELS_FATBIN' Makefile; then
			fatbin=build/kernels/kvmem_kernels.fatbin
			mk "$fatbin" NVCC="$nvcc" || fatbin=
		else
			fatbin=build/gpu/kvmem_kernels.fatbin
			"$nvcc" -O3 -fatbin \
				-gencode arch=compute_90,code=sm_90 \
				-gencode arch=compute_90,code=compute_90 \
				-o "$fatbin" kernels/attention.cu >>"$log" 2>&1 ||
				fatbin=
		fi
		if [ -z "$fatbin" ]; then
			say "FAIL: the attention fatbin (see $log)"
			exit 1
		fi
		say "kernels: built $fatbin"
	fi
fi

if [ "$emulation" -eq 1 ]; then
	export LD_LIBRARY_PATH="$top/build/cuda-emu" CUEMU_STRICT=1
	say "against the CUDA emulation (build/cuda-emu, strict)"
	args=--quick
else
	# A GPU: the driver's libcuda.so.1 and a device it sees.
	if ! ldconfig -p 2>/dev/null | grep -q 'libcuda\.so\.1 ' ||
		! { command -v nvidia-smi >/dev/null &&
		    nvidia-smi -L >>"$log" 2>&1; }; then
		say "no GPU here (no libcuda.so.1 or nvidia-smi sees no device):" \
			"built everything, measured nothing"
		echo '{"gpu": false, "measured": false}' >"$out/results.json"
		exit 0
	fi
	nvidia-smi --query-gpu=name,driver_version --format=csv >>"$log" 2>&1
	say "against the driver's libcuda.so.1"
	args=
fi

status=0
say "backend scenarios without the module, through device copies" \
	"(accel-backend-test cuda-nomodule --device-copies)"
# On a GPU machine there is no module: the scenarios that need none, with
# the tensors written and read by cuMemcpyHtoD/DtoH (the CPU cannot touch
# device memory); with --emulation, with CPU stores first, then so.
# Not the ASan build (make check runs that on the emulation): ASan's
# shadow memory collides with the driver's address space reservations.
mark=$(wc -l <"$log")
if [ "$emulation" -eq 1 ]; then
	build/gpu/accel-backend-test cuda-nomodule >>"$log" 2>&1 || status=1
fi
build/gpu/accel-backend-test cuda-nomodule --device-copies >>"$log" 2>&1 ||
	status=1
tail -n +"$((mark + 1))" "$log" | grep -E '^(PASS|FAIL) ' |
	sed 's/^/  /' | tee "$out/backend.txt"

say "the emulation's rules against the driver (test_cuemu --real-driver)"
# Its cases that apply to a real driver; each check the driver does not
# pass is a DIVERGE line: a rule of the emulation to fix (or a driver bug).
# Against the emulation itself there must be none.
build/cuda-emu/test_cuemu --real-driver >"$out/driver-rules.txt" \
	2>>"$log"
rules_status=$?
cat "$out/driver-rules.txt" >>"$log"
grep -E '^(FAIL|DIVERGE) ' "$out/driver-rules.txt" | sed 's/^/  /'
say "  $(grep -c '^PASS ' "$out/driver-rules.txt") passed," \
	"$(grep -c '^FAIL ' "$out/driver-rules.txt") failed," \
	"$(grep -c '^SKIP ' "$out/driver-rules.txt") skipped" \
	"(not for a real driver: test_cuemu --real-driver --list)"
if [ "$rules_status" -ne 0 ] && [ "$emulation" -eq 1 ]; then
	status=1
fi

say "measuring"
if build/gpu/gpu-measure $args >"$out/measure.json" 2>>"$log"; then
	measured=1
else
	say "FAIL: gpu-measure (see $log)"
	status=1
	measured=0
fi

say "attention over accel tensors vs cuMemAlloc (gpu-attention)"
# Exit 3: the driver runs no kernels (the emulation) or cannot load the
# fatbin; on a real GPU that is a failure, with --emulation the expected
# answer (it proves the program loads and stops cleanly).
attention=null
if [ -z "$fatbin" ]; then
	note="no kernels/attention.cu (or no nvcc): not measured"
	say "  $note"
else
	build/gpu/gpu-attention "$fatbin" $args >"$out/attention.json" \
		2>>"$log"
	rc=$?
	if [ "$rc" -eq 0 ]; then
		attention=$(cat "$out/attention.json")
		note="measured"
	elif [ "$rc" -eq 3 ] && [ "$emulation" -eq 1 ]; then
		note="the emulation runs no kernels: not measured"
	else
		note="gpu-attention failed (exit $rc, see the log)"
		status=1
	fi
	say "  $note"
	tee -a "$log" <"$out/attention.json"
fi

# results.json: gpu-measure's object, with the checks added to it.
jstr() { sed 's/\\/\\\\/g; s/"/\\"/g'; }
jnames() {	# "PASS|FAIL prefix/name" lines of $2 with status $1: a list
	grep -E "^ *$1 " "$2" | sed -E 's/^ *[A-Z]+ [^/]+\/([^ ]+).*/\1/' |
		jstr | sed 's/.*/"&"/' | paste -sd, -
}
diverged() {
	sed -nE 's/^DIVERGE [^/]+\/([^ ]+) ([^ ]+): (.*)$/\1\t\2\t\3/p' \
		"$out/driver-rules.txt" | jstr |
		awk -F'\t' '{ printf "%s{\"case\": \"%s\", \"where\": \"%s\", \"detail\": \"%s\"}", (NR > 1 ? ", " : ""), $1, $2, $3 }'
}
checks=$(printf '  "backend": {"passed": %d, "failed": [%s]},\n' \
	"$(grep -c '^ *PASS ' "$out/backend.txt")" \
	"$(jnames FAIL "$out/backend.txt")"
	printf '  "driver_rules": {"passed": %d, "failed": [%s], "skipped": %d,\n' \
	"$(grep -c '^PASS ' "$out/driver-rules.txt")" \
	"$(jnames FAIL "$out/driver-rules.txt")" \
	"$(grep -c '^SKIP ' "$out/driver-rules.txt")"
	printf '    "diverged": [%s]},\n' "$(diverged)"
	printf '  "attention_note": "%s",\n  "attention": %s' \
		"$(echo "$note" | jstr)" "$attention")
if [ "$measured" -eq 1 ]; then
	# gpu-measure's object ends with a line "}": the checks go before it.
	sed '$d' "$out/measure.json" | sed '$s/$/,/'
	echo "$checks"
	echo "}"
else
	printf '{"measured": false,\n%s\n}\n' "$checks"
fi >"$out/results.json"
tee -a "$log" <"$out/results.json"
say "done in $(( $(date +%s) - start )) s, results in $out/results.json"
exit $status
