// SPDX-License-Identifier: GPL-2.0
/* kvmemd's log: stderr, one line per message, with sd-daemon(3) priority
 * prefixes that journald reads (a terminal shows them as <N>). */
#include <stdarg.h>
#include <stdio.h>
#include <systemd/sd-daemon.h>

#include "kvmemd.h"

/* @lvl 0: error, 1: notice, 2: debug (only with --verbose). */
void kd_logf(int verbose, int lvl, const char *fmt, ...)
{
	static const char *const pfx[] = { SD_ERR, SD_NOTICE, SD_DEBUG };
	va_list ap;

	if (lvl >= 2 && !verbose)
		return;
	fprintf(stderr, "%skvmemd: ", pfx[lvl > 2 ? 2 : lvl]);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
