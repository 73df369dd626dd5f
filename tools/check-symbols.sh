#!/usr/bin/env bash
# Checks that libaccel's public functions are the same set in four places:
#   accel.h   functions declared in libaccel/accel.h
#   map       names listed in libaccel/libaccel.map (global, per version)
#   so        functions exported by build/libaccel/libaccel.so.1
#             (nm -D --defined-only), each at the version the map gives it
#   doc       "### accel_xxx()" headings of Documentation/libaccel.md
# Prints every difference and exits 1 if there is any. Build the library
# first (make libaccel). Usage: tools/check-symbols.sh [libaccel.so.1]
set -uo pipefail
export LC_ALL=C

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
hdr=libaccel/accel.h
map=libaccel/libaccel.map
so=${1:-build/libaccel/libaccel.so.1}
doc=Documentation/libaccel.md
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for f in "$hdr" "$map" "$doc"; do
	[ -f "$f" ] || { echo "missing: $f"; exit 1; }
done
[ -f "$so" ] || { echo "missing: $so (make libaccel)"; exit 1; }

# accel.h: identifiers followed by "(" once comments are gone; the header
# declares functions and nothing else of that shape.
gcc -fpreprocessed -dD -E -P "$hdr" |
	grep -oE '\baccel_[A-Za-z0-9_]+[[:space:]]*\(' |
	sed 's/[[:space:](]//g' | sort >"$tmp/accel.h.all"

# The map: "name version" for every name in a global: section.
gcc -fpreprocessed -E -P -x c "$map" | awk '
	/^[[:space:]]*[A-Za-z0-9_.]+[[:space:]]*\{/ { node = $1; sect = ""; next }
	/^[[:space:]]*\}/ { node = ""; next }
	/global:/ { sect = "global"; sub(/.*global:/, "") }
	/local:/ { sect = "local"; sub(/.*local:/, "") }
	node != "" && sect == "global" {
		n = split($0, w, /[;[:space:]]+/)
		for (i = 1; i <= n; i++)
			if (w[i] != "")
				print w[i], node
	}' | sort >"$tmp/map.ver"

# The library: "name version" for every defined dynamic symbol but the
# version nodes themselves (type A).
nm -D --defined-only "$so" | awk '$2 != "A" {
	name = $3; ver = "(none)"
	if (index(name, "@")) {
		ver = name; sub(/^[^@]*@@?/, "", ver); sub(/@.*/, "", name)
	}
	print name, ver
}' | sort >"$tmp/so.ver"

grep -oE '^### accel_[A-Za-z0-9_]+\(\)[[:space:]]*$' "$doc" |
	sed 's/^### //; s/().*//' | sort >"$tmp/doc.all"

fail=0
cut -d' ' -f1 "$tmp/map.ver" >"$tmp/map.all"
cut -d' ' -f1 "$tmp/so.ver" >"$tmp/so.all"
for s in accel.h map so doc; do
	dups=$(uniq -d "$tmp/$s.all")
	if [ -n "$dups" ]; then
		echo "$s: listed more than once:" $dups
		fail=1
	fi
	sort -u "$tmp/$s.all" >"$tmp/$s"
done

# Every name of any place, and the places that lack it.
sort -u "$tmp/accel.h" "$tmp/map" "$tmp/so" "$tmp/doc" >"$tmp/union"
while read -r name; do
	missing=""
	for s in accel.h map so doc; do
		grep -qxF "$name" "$tmp/$s" || missing="$missing $s"
	done
	if [ -n "$missing" ]; then
		echo "$name: missing from$missing"
		fail=1
	fi
done <"$tmp/union"

# Where both the map and the library have a name, the versions must agree.
join "$tmp/map.ver" "$tmp/so.ver" | awk '$2 != $3 {
	print $1 ": version " $3 " in the library, " $2 " in the map"
	bad = 1
} END { exit bad }' || fail=1

n=$(wc -l <"$tmp/union")
if [ "$fail" -ne 0 ]; then
	echo "libaccel symbols differ (accel.h: $hdr, map: $map, so: $so, doc: $doc)"
	exit 1
fi
echo "libaccel: $n functions, the same in accel.h, map, so and doc"
