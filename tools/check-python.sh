#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The Python binding's host tests (tests/python/test_host.py) with Debian's
# /usr/bin/python3, against build/python (plain) and build/python-san
# (ASan+UBSan, the sanitizers' runtimes preloaded into the interpreter),
# on the CUDA emulation. Prints "PASS python[-san]/<case>" or "FAIL ..."
# lines; pytest's own output goes to stderr. Exits non-zero on a failure.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
py=${PY3:-/usr/bin/python3}
make --no-print-directory python python-san build/cuda-emu/libcuda.so.1 >&2 || {
	echo "FAIL build/python"; exit 1; }
rc=0
for flavour in python python-san; do
	pre=
	if [ "$flavour" = python-san ]; then
		pre="$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)"
	fi
	out=$(cd tests/python && env ${pre:+LD_PRELOAD=$pre} \
		ASAN_OPTIONS=detect_leaks=0 KVMEM_PY_PATH="$top/build/$flavour" \
		LD_LIBRARY_PATH="$top/build/cuda-emu" CUEMU_STRICT=1 \
		KVMEM_PY_CUDA=1 PYTHONDONTWRITEBYTECODE=1 \
		"$py" -m pytest -p no:cacheprovider -v test_host.py 2>&1)
	status=$?
	echo "$out" >&2
	echo "$out" | sed -nE "s#^test_host\.py::([^ ]+) PASSED.*#PASS $flavour/\1#p; s#^test_host\.py::([^ ]+) (FAILED|ERROR).*#FAIL $flavour/\1#p"
	if [ "$status" -ne 0 ]; then
		echo "$out" | grep -qE ' (FAILED|ERROR)' ||
			echo "FAIL $flavour/pytest (exit $status)"
		rc=1
	fi
done
exit $rc
