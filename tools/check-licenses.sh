#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Every SPDX-License-Identifier of the tracked tree names a license whose
# text is in LICENSES/ (a Valid-License-Identifier of a LICENSES/preferred
# file, plus a LICENSES/exceptions file for each WITH), and COPYING
# lists each identifier used. Usage: tools/check-licenses.sh
set -euo pipefail
cd "$(dirname "$0")/.."
valid=$(grep -h '^Valid-License-Identifier:' LICENSES/preferred/* | awk '{print $2}')
bad=0
while IFS= read -r tag; do
	lic=${tag%% WITH *}
	if ! grep -qxF "$lic" <<<"$valid"; then
		echo "SPDX tag '$tag': no LICENSES/preferred text for $lic"; bad=1
	fi
	if [ "$lic" != "$tag" ] && [ ! -f "LICENSES/exceptions/${tag##* WITH }" ]; then
		echo "SPDX tag '$tag': no LICENSES/exceptions/${tag##* WITH }"; bad=1
	fi
	grep -qF "$tag" COPYING || { echo "SPDX tag '$tag' not in COPYING"; bad=1; }
done < <(git ls-files -z -- ':!LICENSES' ':!COPYING' ':!tools/check-licenses.sh' |
	xargs -0 grep -ho 'SPDX-License-Identifier: [A-Za-z0-9.+ -]*[A-Za-z0-9.+-]' |
	sed 's/^SPDX-License-Identifier: //' | sort -u)
[ "$bad" -eq 0 ] && echo "licenses: ok"
exit "$bad"
