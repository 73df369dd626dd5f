// SPDX-License-Identifier: GPL-2.0
/*
 * cuemu: primary contexts and the calling thread's current context.
 *
 * Each device has one primary context, a static object whose handle never
 * changes. It is active while retained; the last cuDevicePrimaryCtxRelease
 * resets it as documented: its streams are drained and destroyed, its
 * events destroyed and its host registrations dropped. Handles to them are
 * then invalid (CUDA_ERROR_INVALID_HANDLE). The current context is per
 * thread, as cuCtxSetCurrent documents.
 */
#include <stdlib.h>

#include "emu_internal.h"

static struct CUctx_st *ctx_lookup(CUcontext c)
{
	int i;

	for (i = 0; i < emu.cfg.ndev; i++)
		if (c == &emu.dev[i].ctx)
			return c;
	return NULL;
}

CUresult cuDevicePrimaryCtxRetain(CUcontext *pctx, CUdevice dev)
{
	CUresult rc;

	emu_count(EMU_C_primary_ctx_retain);
	rc = emu_check_init(__func__);
	if (!rc)
		rc = RULE("arg.null", !pctx, CUDA_ERROR_INVALID_VALUE,
			  "pctx is NULL");
	if (!rc)
		rc = RULE("dev.ordinal", !emu_dev_valid(dev),
			  CUDA_ERROR_INVALID_DEVICE, "device %d does not exist",
			  dev);
	if (rc)
		return rc;
	emu_lock();
	emu.dev[dev].ctx.refs++;
	*pctx = &emu.dev[dev].ctx;
	emu_unlock();
	return CUDA_SUCCESS;
}

CUresult cuDevicePrimaryCtxRelease(CUdevice dev)
{
	struct CUctx_st *ctx;
	CUresult rc;

	emu_count(EMU_C_primary_ctx_release);
	rc = emu_check_init(__func__);
	if (!rc)
		rc = RULE("dev.ordinal", !emu_dev_valid(dev),
			  CUDA_ERROR_INVALID_DEVICE, "device %d does not exist",
			  dev);
	if (rc)
		return rc;
	emu_lock();
	ctx = &emu.dev[dev].ctx;
	rc = RULE("ctx.release_unretained", ctx->refs == 0,
		  CUDA_ERROR_INVALID_CONTEXT,
		  "device %d's primary context is not retained", dev);
	if (rc || ctx->refs == 0) {
		emu_unlock();
		return rc;
	}
	if (--ctx->refs == 0) {
		emu_streams_ctx_reset(ctx);
		emu_events_ctx_reset(ctx);
		emu_host_ctx_reset(ctx);
	}
	emu_unlock();
	return CUDA_SUCCESS;
}

CUresult cuCtxSetCurrent(CUcontext ctx)
{
	CUresult rc;

	emu_count(EMU_C_ctx_set_current);
	rc = emu_check_init(__func__);
	if (!rc && ctx)
		rc = RULE("ctx.handle", !ctx_lookup(ctx),
			  CUDA_ERROR_INVALID_CONTEXT,
			  "%p is not a context handle", (void *)ctx);
	if (rc)
		return rc;
	emu_current = ctx;
	return CUDA_SUCCESS;
}

CUresult cuCtxGetCurrent(CUcontext *pctx)
{
	CUresult rc;

	emu_count(EMU_C_ctx_get_current);
	rc = emu_check_init(__func__);
	if (!rc)
		rc = RULE("arg.null", !pctx, CUDA_ERROR_INVALID_VALUE,
			  "pctx is NULL");
	if (rc)
		return rc;
	*pctx = emu_current;
	return CUDA_SUCCESS;
}

CUresult cuCtxSynchronize(void)
{
	struct emu_marker **marks;
	struct CUstream_st *s;
	struct CUctx_st *ctx;
	size_t n = 0, i;
	CUresult rc;

	emu_count(EMU_C_ctx_synchronize);
	rc = emu_check_init(__func__);
	if (rc)
		return rc;
	emu_lock();
	rc = emu_need_ctx(__func__, &ctx);
	if (rc) {
		emu_unlock();
		return rc;
	}
	/* Destroyed streams too: their queued work is the context's. */
	for (s = emu.streams; s; s = s->next)
		n += s->ctx == ctx;
	marks = emu_xcalloc(n + 1, sizeof(*marks));
	n = 0;
	for (s = emu.streams; s; s = s->next)
		if (s->ctx == ctx)
			marks[n++] = emu_stream_mark(s);
	for (i = 0; i < n; i++) {
		emu_marker_wait(marks[i]);
		emu_marker_put(marks[i]);
	}
	rc = emu_sticky();
	emu_unlock();
	free(marks);
	return rc;
}
