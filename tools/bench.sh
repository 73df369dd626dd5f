#!/usr/bin/env bash
# The body of `make bench`: boots each test kernel in bench mode, runs
# kvmem-bench (and accel-calls-bench, on the CUDA emulation) in the guest,
# and kvmem-serve (the serving benchmark, Documentation/serving-bench.md),
# runs policy-bench (kvmemd's decision cost) on the host, and gathers the
# figures into
# build/bench/results.json, keyed by kernel ("host" for policy-bench). Usage: tools/bench.sh PARAMS K...
set -euo pipefail

params=$1
shift
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
mkdir -p build/bench
json=build/bench/results.json
{
	echo "{"
	echo "  \"note\": \"measured under QEMU TCG: absolute figures mean little, ratios are the figure\","
	first=1
	for k in "$@"; do
		out="build/bench/vm-$k"
		tests/vm/run.sh --kernel "/boot/vmlinuz-$k" \
			--module "build/kmod-$k/kvmem.ko" --params "$params" \
			--mode bench --out "$out" build/vm/kvmem-bench \
			build/vm/accel-calls-bench build/cuda-emu/libcuda.so.1 \
			build/kvmemd build/vm/kvmem-serve >&2
		grep -a -E '^[a-z0-9_]+ +kvmem |^accel[ :]|^kvmem-serve|^  round |^fair round|^BENCH-JSON \{"bench":"(jain|switch)' \
			"$out/serial.log" | tr -d '\r' >&2
		[ "$first" -eq 1 ] || echo ","
		first=0
		printf '  "%s": [\n' "$k"
		sed 's/^/    /; $!s/$/,/' "$out/bench.jsonl"
		printf '  ]'
	done
	# The policy's decision cost needs no VM: measured on the host.
	rm -f build/bench/host.jsonl
	build/policy-bench -o build/bench/host.jsonl >&2
	[ "$first" -eq 1 ] || echo ","
	printf '  "host": [\n'
	sed 's/^/    /; $!s/$/,/' build/bench/host.jsonl
	printf '  ]'
	echo
	echo "}"
} >"$json.tmp"
mv "$json.tmp" "$json"
python3 -m json.tool "$json" >/dev/null
# The serving benchmark's figures: results.json's serving object, plots
# and build/bench/serving-report.md (tools/bench/serving.py).
python3 tools/bench/serving.py "$json" build/bench
echo "bench: figures in $json"
