// SPDX-License-Identifier: GPL-2.0
/*
 * cuemu core: the global state, the counters and their test API, and how a
 * misuse is reported.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu_internal.h"

struct emu_state emu = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.cond = PTHREAD_COND_INITIALIZER,
};

_Thread_local struct CUctx_st *emu_current;

_Atomic uint64_t emu_counters[EMU_C_COUNT];

void cuemu_counts(struct cuemu_counts *out)
{
#define EMU_READ_(name) out->name = atomic_load(&emu_counters[EMU_C_##name]);
	CUEMU_COUNTERS(EMU_READ_)
#undef EMU_READ_
}

void cuemu_reset_counts(void)
{
#define EMU_ZERO_(name) atomic_store(&emu_counters[EMU_C_##name], 0);
	CUEMU_CALL_COUNTERS(EMU_ZERO_)
	CUEMU_EVENT_COUNTERS(EMU_ZERO_)
#undef EMU_ZERO_
}

void *emu_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);

	if (!p) {
		fprintf(stderr, "cuemu: out of host memory\n");
		abort();
	}
	return p;
}

/* Read at each report, so that it works before cuInit too. */
static int emu_strict(void)
{
	const char *s = getenv("CUEMU_STRICT");

	return s && strcmp(s, "1") == 0;
}

CUresult emu_misuse(const char *call, const char *id, CUresult code,
		    const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	emu_count(EMU_C_misuse);
	/* One write, so that lines from several threads do not interleave. */
	fprintf(stderr, "cuemu: misuse: %s: %s [%s]\n", call, why, id);
	if (emu_strict())
		abort();
	return code;
}

CUresult emu_unsupported(const char *call, CUresult code, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	emu_count(EMU_C_unsupported);
	fprintf(stderr, "cuemu: unsupported: %s: %s\n", call, why);
	return code;
}

int emu_rule_on(const char *id)
{
	const char *off = getenv("CUEMU_BREAK_RULE");

	return !off || strcmp(off, id) != 0;
}

CUresult emu_check_init(const char *call)
{
	if (atomic_load(&emu.initialized) || !emu_rule_on("init.required"))
		return CUDA_SUCCESS;
	return emu_misuse(call, "init.required", CUDA_ERROR_NOT_INITIALIZED,
			  "cuInit has not succeeded");
}

CUresult emu_need_ctx(const char *call, struct CUctx_st **ctx)
{
	struct CUctx_st *c = emu_current;

	if (!c && emu_rule_on("ctx.required"))
		return emu_misuse(call, "ctx.required",
				  CUDA_ERROR_INVALID_CONTEXT,
				  "no current context on this thread");
	if (!c)	/* rule broken on purpose: act as if device 0's were current */
		c = &emu.dev[0].ctx;
	if (c->refs == 0 && emu_rule_on("ctx.released"))
		return emu_misuse(call, "ctx.released",
				  CUDA_ERROR_CONTEXT_IS_DESTROYED,
				  "the current context (device %d) was released",
				  c->dev);
	*ctx = c;
	return CUDA_SUCCESS;
}

CUresult emu_sticky(void)
{
	return emu.sticky;
}

int emu_dev_valid(CUdevice dev)
{
	return dev >= 0 && dev < emu.cfg.ndev;
}
