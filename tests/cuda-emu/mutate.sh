#!/usr/bin/env bash
# Mutation test of tests/cuda-emu: turns each rule of the emulation off in
# turn (CUEMU_BREAK_RULE=<id>) and runs test_cuemu, which must then fail.
# A rule whose removal no test notices is listed as a survivor. Not part of
# `make check` (one full run per rule); run it after changing rules or
# tests. Usage: tests/cuda-emu/mutate.sh [build/cuda-emu]
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
dir=${1:-build/cuda-emu}
make --no-print-directory "$dir/test_cuemu" >/dev/null || exit 1
ids=$(grep -ohE '(RULE|emu_rule_on)\("[a-z0-9_.]+"' tests/cuda-emu/emu_*.c |
	sed 's/.*("//; s/"$//' | sort -u)
survivors=0
for id in $ids; do
	if CUEMU_BREAK_RULE=$id LD_LIBRARY_PATH=$dir "$dir/test_cuemu" \
		>/dev/null 2>&1; then
		echo "SURVIVED $id"
		survivors=$((survivors + 1))
	else
		echo "killed   $id"
	fi
done
echo "$(echo "$ids" | wc -w) rules, $survivors survived"
[ "$survivors" -eq 0 ]
