// SPDX-License-Identifier: GPL-2.0
/*
 * cuemu: host memory registration, cuMemHostRegister_v2 and
 * cuMemHostUnregister.
 *
 * A registration only records the range: the emulation pins nothing. It
 * matters to the copies, which treat host memory inside a registration
 * usable from their context (the registering one, or any with
 * CU_MEMHOSTREGISTER_PORTABLE) as pinned and anything else as pageable.
 * Overlap is judged on bytes; the real driver pins whole pages and may be
 * stricter.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "emu_internal.h"

#define EMU_HOSTREG_FLAGS						\
	(CU_MEMHOSTREGISTER_PORTABLE | CU_MEMHOSTREGISTER_DEVICEMAP |	\
	 CU_MEMHOSTREGISTER_IOMEMORY | CU_MEMHOSTREGISTER_READ_ONLY)

int emu_host_mapped(uintptr_t p, size_t n)
{
	uintptr_t lo = p & ~(EMU_PAGE - 1);
	uintptr_t hi = (p + n + EMU_PAGE - 1) & ~(EMU_PAGE - 1);

	if (n == 0 || p + n < p)
		return n == 0;
	/* msync() checks the range is mapped and does nothing else. */
	return msync((void *)lo, hi - lo, MS_ASYNC) == 0 || errno != ENOMEM;
}

const struct emu_hostreg *emu_host_pinned(struct CUctx_st *ctx,
					  uintptr_t p, size_t n)
{
	const struct emu_hostreg *r;

	for (r = emu.hostregs; r; r = r->next)
		if (r->base <= p && p + n <= r->base + r->size &&
		    (r->ctx == ctx || (r->flags & CU_MEMHOSTREGISTER_PORTABLE)))
			return r;
	return NULL;
}

static int overlaps_registration(uintptr_t p, size_t n)
{
	const struct emu_hostreg *r;

	for (r = emu.hostregs; r; r = r->next)
		if (p < r->base + r->size && r->base < p + n)
			return 1;
	return 0;
}

void emu_host_ctx_reset(struct CUctx_st *ctx)
{
	struct emu_hostreg **pp = &emu.hostregs, *r;

	while ((r = *pp)) {
		if (r->ctx == ctx) {
			*pp = r->next;
			free(r);
			emu_sub(EMU_C_live_host_registrations, 1);
		} else {
			pp = &r->next;
		}
	}
}

CUresult cuMemHostRegister(void *p, size_t bytesize, unsigned int Flags)
{
	uintptr_t a = (uintptr_t)p;
	struct emu_hostreg *r;
	struct CUctx_st *ctx;
	CUresult rc;

	emu_count(EMU_C_host_register);
	rc = emu_check_init(__func__);
	if (rc)
		return rc;
	emu_lock();
	rc = emu_need_ctx(__func__, &ctx);
	if (!rc)
		rc = RULE("hostreg.args", !p || !bytesize || a + bytesize < a,
			  CUDA_ERROR_INVALID_VALUE, "p %p, bytesize %zu", p,
			  bytesize);
	if (!rc)
		rc = RULE("hostreg.flags", Flags & ~EMU_HOSTREG_FLAGS,
			  CUDA_ERROR_INVALID_VALUE, "unknown Flags %#x", Flags);
	if (!rc)
		rc = RULE("hostreg.device_va",
			  emu_overlaps_device_va(a, bytesize),
			  CUDA_ERROR_INVALID_VALUE,
			  "[%p, +%zu) is device address space", p, bytesize);
	if (!rc)
		rc = RULE("hostreg.unmapped", !emu_host_mapped(a, bytesize),
			  CUDA_ERROR_INVALID_VALUE,
			  "[%p, +%zu) is not mapped memory", p, bytesize);
	if (!rc)
		rc = RULE("hostreg.overlap", overlaps_registration(a, bytesize),
			  CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED,
			  "[%p, +%zu) overlaps a registered range", p,
			  bytesize);
	if (!rc) {
		r = emu_xcalloc(1, sizeof(*r));
		r->base = a;
		r->size = bytesize;
		r->flags = Flags;
		r->ctx = ctx;
		r->next = emu.hostregs;
		emu.hostregs = r;
		emu_add(EMU_C_live_host_registrations, 1);
	}
	emu_unlock();
	return rc;
}

CUresult cuMemHostUnregister(void *p)
{
	struct emu_hostreg **pp, *r = NULL;
	struct CUctx_st *ctx;
	CUresult rc;

	emu_count(EMU_C_host_unregister);
	rc = emu_check_init(__func__);
	if (rc)
		return rc;
	emu_lock();
	rc = emu_need_ctx(__func__, &ctx);
	if (rc) {
		emu_unlock();
		return rc;
	}
	/* The base address must be the one given to cuMemHostRegister. */
	for (pp = &emu.hostregs; *pp; pp = &(*pp)->next)
		if ((*pp)->base == (uintptr_t)p) {
			r = *pp;
			break;
		}
	rc = RULE("hostreg.unknown", !r, CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED,
		  "%p is not the base of a registered range", p);
	if (r) {
		*pp = r->next;
		free(r);
		emu_sub(EMU_C_live_host_registrations, 1);
	}
	emu_unlock();
	return rc;
}
