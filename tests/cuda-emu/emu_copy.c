// SPDX-License-Identifier: GPL-2.0
/*
 * cuemu: the copies, cuMemcpy{HtoD,DtoH,DtoD}Async_v2 and the synchronous
 * cuMemcpy{HtoD,DtoH}_v2.
 *
 * At enqueue a copy is checked: its device memory must be mapped and
 * accessible to the stream's device (cuMemSetAccess), its host memory must
 * exist and not be device memory. Then it is queued on its stream and runs
 * on the stream's worker after CUEMU_COPY_DELAY_US.
 *
 * Host memory follows the documented "API synchronization behavior":
 * - pinned (inside a cuMemHostRegister range usable from the context):
 *   the async copy is fully asynchronous and the DMA reads or writes the
 *   host buffer when it runs;
 * - pageable: an async HtoD is staged (the buffer is copied at the call,
 *   so the caller may reuse it at once), an async DtoH returns only once
 *   the copy is done. Both are counted in pageable_async_copies: they are
 *   legal but defeat the overlap libaccel is built for.
 * The synchronous copies run on the legacy stream and return when done.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "emu_internal.h"

struct copy_req {
	const char *call;
	enum emu_copy_dir dir;
	void *dst;
	const void *src;
	size_t n;
	int async;
};

/* The device side(s) of a copy: addresses and whether each is written. */
static int device_sides(const struct copy_req *r, uintptr_t d[2], int w[2])
{
	int nd = 0;

	if (r->dir != EMU_DTOH) {
		d[nd] = (uintptr_t)r->dst;
		w[nd++] = 1;
	}
	if (r->dir != EMU_HTOD) {
		d[nd] = (uintptr_t)r->src;
		w[nd++] = 0;
	}
	return nd;
}

static CUresult check_device(const struct copy_req *r, int dev)
{
	const char *why;
	uintptr_t d[2];
	int w[2], i, nd;

	nd = device_sides(r, d, w);
	for (i = 0; i < nd; i++)
		if (!emu_dev_range_ok(d[i], r->n, dev, w[i], &why) &&
		    emu_rule_on("copy.device_range"))
			return emu_misuse(r->call, "copy.device_range",
					  CUDA_ERROR_INVALID_VALUE,
					  "device %s [%#lx, +%zu): %s",
					  w[i] ? "destination" : "source",
					  (unsigned long)d[i], r->n, why);
	return CUDA_SUCCESS;
}

/* The host side, and whether it is pinned (NULL: pageable). */
static CUresult check_host(const struct copy_req *r, struct CUctx_st *ctx,
			   const struct emu_hostreg **pinned)
{
	uintptr_t h = r->dir == EMU_HTOD ? (uintptr_t)r->src :
					   (uintptr_t)r->dst;
	CUresult rc;

	*pinned = NULL;
	if (r->dir == EMU_DTOD)
		return CUDA_SUCCESS;
	rc = RULE("copy.host_range", !h || !emu_host_mapped(h, r->n),
		  CUDA_ERROR_INVALID_VALUE,
		  "host buffer [%#lx, +%zu) is not mapped memory",
		  (unsigned long)h, r->n);
	if (rc)
		return rc;
	/* Device memory passed as host memory: a mix-up of pointers. */
	rc = RULE("copy.host_is_device", emu_overlaps_device_va(h, r->n),
		  CUDA_ERROR_INVALID_VALUE,
		  "host buffer [%#lx, +%zu) is device address space",
		  (unsigned long)h, r->n);
	if (rc)
		return rc;
	*pinned = emu_host_pinned(ctx, h, r->n);
	return RULE("copy.host_read_only",
		    r->dir == EMU_DTOH && *pinned &&
		    ((*pinned)->flags & CU_MEMHOSTREGISTER_READ_ONLY),
		    CUDA_ERROR_INVALID_VALUE,
		    "destination was registered CU_MEMHOSTREGISTER_READ_ONLY");
}

static CUresult copy(const struct copy_req *r, CUstream h)
{
	const struct emu_hostreg *pinned;
	struct emu_marker *m;
	struct CUstream_st *s;
	struct CUctx_st *ctx;
	struct emu_op *op;
	CUresult rc;
	int wait;

	rc = emu_check_init(r->call);
	if (rc)
		return rc;
	emu_lock();
	rc = emu_need_ctx(r->call, &ctx);
	if (!rc)
		rc = r->async ? emu_resolve_stream(r->call, h, ctx, &s) :
				emu_resolve_stream(r->call, NULL, ctx, &s);
	if (!rc)
		rc = emu_sticky();
	if (!rc && r->n == 0) {	/* nothing to check or to do */
		emu_unlock();
		return CUDA_SUCCESS;
	}
	if (!rc)
		rc = check_device(r, s->ctx->dev);
	if (!rc)
		rc = check_host(r, ctx, &pinned);
	if (rc) {
		emu_unlock();
		return rc;
	}
	op = emu_xcalloc(1, sizeof(*op));
	op->kind = EMU_OP_COPY;
	op->call = r->call;
	op->dir = r->dir;
	op->dst = r->dst;
	op->src = r->src;
	op->n = r->n;
	wait = !r->async;
	if (r->async) {
		emu_count(EMU_C_memcpy_async);
		if (r->dir != EMU_DTOD && !pinned) {
			emu_count(EMU_C_pageable_async_copies);
			if (r->dir == EMU_HTOD) {
				op->staging = emu_xcalloc(1, r->n);
				memcpy(op->staging, r->src, r->n);
				op->src = op->staging;
			} else {
				wait = 1;
			}
		}
	}
	emu_enqueue(s, op);
	if (wait) {
		m = emu_stream_mark(s);
		emu_marker_wait(m);
		emu_marker_put(m);
		rc = emu_sticky();
	}
	emu_unlock();
	return rc;
}

void emu_run_copy(struct CUstream_st *s, struct emu_op *op)
{
	struct copy_req r = {
		.call = op->call, .dir = op->dir, .dst = op->dst,
		.src = op->src, .n = op->n,
	};
	const char *why = NULL;
	uintptr_t d[2];
	int w[2], i, nd;

	if (emu.cfg.copy_delay_us) {
		emu_unlock();
		usleep(emu.cfg.copy_delay_us);
		emu_lock();
	}
	/* Unmapped under the copy: reported by cuMemUnmap already. */
	if (op->poisoned) {
		emu.sticky = CUDA_ERROR_ILLEGAL_ADDRESS;
		return;
	}
	nd = device_sides(&r, d, w);
	for (i = 0; i < nd && !why; i++)
		emu_dev_range_ok(d[i], op->n, s->ctx->dev, w[i], &why);
	if (why && emu_rule_on("copy.lost_access")) {
		/* Access taken away after the enqueue: a GPU would fault. */
		emu_misuse(op->call, "copy.lost_access",
			   CUDA_ERROR_ILLEGAL_ADDRESS,
			   "when the queued copy ran, its device memory: %s",
			   why);
		emu.sticky = CUDA_ERROR_ILLEGAL_ADDRESS;
		return;
	}
	memmove(op->dst, op->src, op->n);
	emu_add(EMU_C_bytes_copied, op->n);
	emu_count(EMU_C_copies_executed);
}

CUresult cuMemcpyHtoDAsync(CUdeviceptr dstDevice, const void *srcHost,
			   size_t ByteCount, CUstream hStream)
{
	struct copy_req r = {
		.call = __func__, .dir = EMU_HTOD, .dst = (void *)dstDevice,
		.src = srcHost, .n = ByteCount, .async = 1,
	};

	emu_count(EMU_C_memcpy_htod_async);
	return copy(&r, hStream);
}

CUresult cuMemcpyDtoHAsync(void *dstHost, CUdeviceptr srcDevice,
			   size_t ByteCount, CUstream hStream)
{
	struct copy_req r = {
		.call = __func__, .dir = EMU_DTOH, .dst = dstHost,
		.src = (const void *)srcDevice, .n = ByteCount, .async = 1,
	};

	emu_count(EMU_C_memcpy_dtoh_async);
	return copy(&r, hStream);
}

CUresult cuMemcpyDtoDAsync(CUdeviceptr dstDevice, CUdeviceptr srcDevice,
			   size_t ByteCount, CUstream hStream)
{
	struct copy_req r = {
		.call = __func__, .dir = EMU_DTOD, .dst = (void *)dstDevice,
		.src = (const void *)srcDevice, .n = ByteCount, .async = 1,
	};

	emu_count(EMU_C_memcpy_dtod_async);
	return copy(&r, hStream);
}

CUresult cuMemcpyHtoD(CUdeviceptr dstDevice, const void *srcHost,
		      size_t ByteCount)
{
	struct copy_req r = {
		.call = __func__, .dir = EMU_HTOD, .dst = (void *)dstDevice,
		.src = srcHost, .n = ByteCount,
	};

	emu_count(EMU_C_memcpy_htod);
	return copy(&r, NULL);
}

CUresult cuMemcpyDtoH(void *dstHost, CUdeviceptr srcDevice, size_t ByteCount)
{
	struct copy_req r = {
		.call = __func__, .dir = EMU_DTOH, .dst = dstHost,
		.src = (const void *)srcDevice, .n = ByteCount,
	};

	emu_count(EMU_C_memcpy_dtoh);
	return copy(&r, NULL);
}
