#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Every man page in man/ renders with man-db without a warning (groff's
# and man's), and every alias page (.so) points to a page that exists.
# Usage: tools/check-man.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bad=0 n=0
for m in man/*.[1-8]; do
	n=$((n + 1))
	if head -n1 "$m" | grep -q '^\.so '; then
		t=man/$(head -n1 "$m" | sed 's|^\.so man[1-8]/||')
		[ -f "$t" ] || { echo "$m: .so to missing $t"; bad=1; }
		continue
	fi
	w=$(MANWIDTH=80 LC_ALL=C.UTF-8 man --warnings -l "$m" 2>&1 >/dev/null) || {
		echo "$m: man failed"; bad=1; }
	[ -z "$w" ] || { echo "$m: $w"; bad=1; }
done
[ "$n" -gt 0 ] || { echo "no man pages in man/"; exit 1; }
[ "$bad" -eq 0 ] && echo "man: $n pages ok"
exit "$bad"
