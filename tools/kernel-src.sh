#!/usr/bin/env bash
# Prints the path of a directory holding scripts/checkpatch.pl and
# scripts/kernel-doc, unpacked once from Debian's linux-source-6.1.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
dir="$top/build/kernel-scripts"
if [ ! -x "$dir/scripts/checkpatch.pl" ]; then
	tarball=$(ls /usr/src/linux-source-6.1*.tar.xz | tail -n 1)
	root=$(basename "$tarball" .tar.xz)
	rm -rf "$dir" && mkdir -p "$dir"
	tar -xJf "$tarball" -C "$dir" --strip-components=1 \
		"$root/scripts/checkpatch.pl" "$root/scripts/spelling.txt" \
		"$root/scripts/const_structs.checkpatch" "$root/scripts/kernel-doc"
fi
echo "$dir"
