// SPDX-License-Identifier: GPL-2.0
/*
 * cuemu: virtual memory management, the cuMem* calls that reserve device
 * address space, create physical allocations, map and unmap them and set
 * their access, and cuMemGetInfo.
 *
 * As documented, these calls need cuInit but no current context (their
 * error lists have no CUDA_ERROR_INVALID_CONTEXT): the device comes from
 * the allocation's properties. cuMemGetInfo does need one.
 *
 * The mappings are host mappings (see emu_internal.h): a reservation is
 * PROT_NONE anonymous memory, a mapping shares the allocation's pages and
 * stays PROT_NONE until cuMemSetAccess, an unmap puts PROT_NONE anonymous
 * memory back. An allocation is freed once released and unmapped
 * everywhere, as cuMemRelease documents.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "emu_internal.h"

#define EMU_RESERVE_PROT	PROT_NONE
#define EMU_RESERVE_FLAGS	(MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE)

/* ---- lookups ------------------------------------------------------------- */

static int ranges_overlap(uintptr_t a, size_t an, uintptr_t b, size_t bn)
{
	return a < b + bn && b < a + an;
}

static struct emu_resv *resv_containing(uintptr_t p, size_t n)
{
	struct emu_resv *r;

	for (r = emu.resvs; r; r = r->next)
		if (r->base <= p && p + n <= r->base + r->size)
			return r;
	return NULL;
}

int emu_overlaps_device_va(uintptr_t p, size_t n)
{
	const struct emu_resv *r;

	for (r = emu.resvs; r; r = r->next)
		if (ranges_overlap(p, n, r->base, r->size))
			return 1;
	return 0;
}

static struct emu_map *map_containing(uintptr_t p)
{
	struct emu_map *m;

	for (m = emu.maps; m; m = m->next)
		if (m->va <= p && p < m->va + m->size)
			return m;
	return NULL;
}

static int any_map_in(uintptr_t p, size_t n)
{
	const struct emu_map *m;

	for (m = emu.maps; m; m = m->next)
		if (ranges_overlap(p, n, m->va, m->size))
			return 1;
	return 0;
}

/*
 * Whether [p, p + n) is exactly a run of whole mappings with no hole, which
 * cuMemUnmap ("the entire contiguous address range that was mapped") and
 * cuMemSetAccess ("a fully mapped address range containing all
 * allocations") require. On failure *why says why.
 */
static int whole_mappings(uintptr_t p, size_t n, const char **why)
{
	uintptr_t c = p;
	struct emu_map *m;

	if (n == 0 || p + n < p) {
		*why = "empty or wrapping range";
		return 0;
	}
	while (c < p + n) {
		m = map_containing(c);
		if (!m) {
			*why = "part of the range is not mapped";
			return 0;
		}
		if (m->va != c || m->va + m->size > p + n) {
			*why = "the range covers part of a mapping";
			return 0;
		}
		c += m->size;
	}
	return 1;
}

static struct emu_alloc *alloc_lookup(CUmemGenericAllocationHandle h)
{
	struct emu_alloc *a;

	for (a = emu.allocs; a; a = a->next)
		if (a->handle == h && !a->released)
			return a;
	return NULL;
}

int emu_dev_range_ok(uintptr_t p, size_t n, int dev, int write,
		     const char **why)
{
	unsigned long long need = write ? CU_MEM_ACCESS_FLAGS_PROT_READWRITE :
					  CU_MEM_ACCESS_FLAGS_PROT_READ;
	const struct emu_map *m;
	uintptr_t c = p;

	if (p + n < p) {
		*why = "the range wraps";
		return 0;
	}
	while (c < p + n) {
		m = map_containing(c);
		if (!m) {
			*why = "not mapped (cuMemMap)";
			return 0;
		}
		if ((m->access[dev] & need) != need) {
			*why = write ?
			       "device has no write access (cuMemSetAccess)" :
			       "device has no read access (cuMemSetAccess)";
			return 0;
		}
		c = m->va + m->size;
	}
	return 1;
}

/* ---- allocations --------------------------------------------------------- */

static void alloc_free(struct emu_alloc *a)
{
	struct emu_alloc **pp;

	for (pp = &emu.allocs; *pp; pp = &(*pp)->next)
		if (*pp == a) {
			*pp = a->next;
			break;
		}
	munmap(a->backing, a->size);
	emu.dev[a->dev].mem_used -= a->size;
	emu_sub(EMU_C_device_bytes_used, a->size);
	free(a);
}

/* The allocation properties both cuMemCreate and the granularity query take. */
static CUresult prop_check(const char *call, const CUmemAllocationProp *prop)
{
	const CUmemLocation *loc = &prop->location;

	if (prop->type == CU_MEM_ALLOCATION_TYPE_MANAGED)
		return emu_unsupported(call, CUDA_ERROR_NOT_SUPPORTED,
				       "managed allocations are not emulated");
	if (prop->type != CU_MEM_ALLOCATION_TYPE_PINNED &&
	    emu_rule_on("prop.type"))
		return emu_misuse(call, "prop.type", CUDA_ERROR_INVALID_VALUE,
				  "type %d is not CU_MEM_ALLOCATION_TYPE_PINNED",
				  (int)prop->type);
	if (loc->type == CU_MEM_LOCATION_TYPE_HOST ||
	    loc->type == CU_MEM_LOCATION_TYPE_HOST_NUMA)
		return emu_unsupported(call, CUDA_ERROR_NOT_SUPPORTED,
				       "host allocations are not emulated");
	if (loc->type != CU_MEM_LOCATION_TYPE_DEVICE &&
	    emu_rule_on("prop.location"))
		return emu_misuse(call, "prop.location",
				  CUDA_ERROR_INVALID_VALUE,
				  "location type %d is not CU_MEM_LOCATION_TYPE_DEVICE",
				  (int)loc->type);
	if (!emu_dev_valid(loc->id) && emu_rule_on("dev.ordinal"))
		return emu_misuse(call, "dev.ordinal",
				  CUDA_ERROR_INVALID_DEVICE,
				  "location id %d is not a device", loc->id);
	if (prop->win32HandleMetaData && emu_rule_on("prop.win32"))
		return emu_misuse(call, "prop.win32", CUDA_ERROR_INVALID_VALUE,
				  "win32HandleMetaData must be zero off Windows");
	if (prop->requestedHandleTypes != CU_MEM_HANDLE_TYPE_NONE &&
	    prop->requestedHandleTypes !=
	    CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR)
		return emu_unsupported(call, CUDA_ERROR_NOT_SUPPORTED,
				       "requestedHandleTypes %#x",
				       (unsigned int)prop->requestedHandleTypes);
	if (prop->allocFlags.compressionType || prop->allocFlags.usage)
		return emu_unsupported(call, CUDA_ERROR_NOT_SUPPORTED,
				       "compressible or tile-pool allocations");
	return CUDA_SUCCESS;
}

CUresult cuMemGetAllocationGranularity(size_t *granularity,
				       const CUmemAllocationProp *prop,
				       CUmemAllocationGranularity_flags option)
{
	CUresult rc;

	emu_count(EMU_C_mem_get_allocation_granularity);
	rc = emu_check_init(__func__);
	if (!rc)
		rc = RULE("arg.null", !granularity || !prop,
			  CUDA_ERROR_INVALID_VALUE, "NULL argument");
	if (!rc)
		rc = RULE("granularity.option",
			  option != CU_MEM_ALLOC_GRANULARITY_MINIMUM &&
			  option != CU_MEM_ALLOC_GRANULARITY_RECOMMENDED,
			  CUDA_ERROR_INVALID_VALUE, "option %d", (int)option);
	if (!rc)
		rc = prop_check(__func__, prop);
	if (rc)
		return rc;
	/* Minimum and recommended are the same, as on current GPUs. */
	*granularity = emu.cfg.granularity;
	return CUDA_SUCCESS;
}

CUresult cuMemCreate(CUmemGenericAllocationHandle *handle, size_t size,
		     const CUmemAllocationProp *prop, unsigned long long flags)
{
	struct emu_device *d;
	struct emu_alloc *a;
	void *backing;
	CUresult rc;

	emu_count(EMU_C_mem_create);
	rc = emu_check_init(__func__);
	if (!rc)
		rc = RULE("arg.null", !handle || !prop,
			  CUDA_ERROR_INVALID_VALUE, "NULL argument");
	if (!rc)
		rc = RULE("create.flags", flags != 0, CUDA_ERROR_INVALID_VALUE,
			  "flags %#llx must be 0", flags);
	if (!rc)
		rc = prop_check(__func__, prop);
	if (!rc)
		rc = RULE("create.size", !size || size % emu.cfg.granularity,
			  CUDA_ERROR_INVALID_VALUE,
			  "size %zu is not a multiple of the granularity %zu",
			  size, emu.cfg.granularity);
	if (rc)
		return rc;
	emu_lock();
	d = &emu.dev[prop->location.id];
	/* Not a misuse: running out is an answer the caller must handle. */
	if (size > emu.cfg.mem_bytes - d->mem_used) {
		emu_unlock();
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	backing = mmap(NULL, size, PROT_NONE,
		       MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (backing == MAP_FAILED) {
		emu_unlock();
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	a = emu_xcalloc(1, sizeof(*a));
	/* Never reused, so that a stale handle is always caught. */
	a->handle = ++emu.next_handle;
	a->backing = backing;
	a->size = size;
	a->dev = prop->location.id;
	a->next = emu.allocs;
	emu.allocs = a;
	d->mem_used += size;
	emu_add(EMU_C_live_handles, 1);
	emu_add(EMU_C_device_bytes_used, size);
	*handle = a->handle;
	emu_unlock();
	return CUDA_SUCCESS;
}

CUresult cuMemRelease(CUmemGenericAllocationHandle handle)
{
	struct emu_alloc *a;
	CUresult rc;

	emu_count(EMU_C_mem_release);
	rc = emu_check_init(__func__);
	if (rc)
		return rc;
	emu_lock();
	a = alloc_lookup(handle);
	/* Undefined behaviour for the driver; a misuse here. */
	rc = RULE("release.handle", !a, CUDA_ERROR_INVALID_VALUE,
		  "%#llx is not a live allocation handle", handle);
	if (a) {
		a->released = 1;
		emu_sub(EMU_C_live_handles, 1);
		if (a->nmaps)
			emu_count(EMU_C_released_while_mapped);
		else
			alloc_free(a);
	}
	emu_unlock();
	return rc;
}

/* ---- address space ------------------------------------------------------- */

CUresult cuMemAddressReserve(CUdeviceptr *ptr, size_t size, size_t alignment,
			     CUdeviceptr addr, unsigned long long flags)
{
	uintptr_t raw, base;
	struct emu_resv *r;
	size_t align;
	void *p;
	CUresult rc;

	emu_count(EMU_C_address_reserve);
	rc = emu_check_init(__func__);
	if (!rc)
		rc = RULE("arg.null", !ptr, CUDA_ERROR_INVALID_VALUE,
			  "ptr is NULL");
	if (!rc)
		rc = RULE("reserve.flags", flags != 0, CUDA_ERROR_INVALID_VALUE,
			  "flags %#llx must be 0", flags);
	if (!rc)
		rc = RULE("reserve.size", !size || size % EMU_PAGE,
			  CUDA_ERROR_INVALID_VALUE,
			  "size %zu is not a multiple of the host page size",
			  size);
	if (!rc)
		rc = RULE("reserve.alignment", alignment & (alignment - 1),
			  CUDA_ERROR_INVALID_VALUE,
			  "alignment %zu is not a power of two", alignment);
	if (!rc)
		rc = RULE("reserve.addr", addr % EMU_PAGE,
			  CUDA_ERROR_INVALID_VALUE,
			  "addr %#llx is not a multiple of the host page size",
			  addr);
	if (rc)
		return rc;
	/* At least granule-aligned: mappings must be. */
	align = alignment > emu.cfg.granularity ? alignment :
						  emu.cfg.granularity;
	emu_lock();
	base = 0;
	/* The hint is honoured when free and aligned, else ignored. */
	if (addr && addr % align == 0) {
		p = mmap((void *)addr, size, EMU_RESERVE_PROT,
			 EMU_RESERVE_FLAGS | MAP_FIXED_NOREPLACE, -1, 0);
		if (p == (void *)addr)
			base = addr;
		else if (p != MAP_FAILED)
			munmap(p, size);
	}
	if (!base) {
		if (size + align < size) {
			emu_unlock();
			return CUDA_ERROR_OUT_OF_MEMORY;
		}
		p = mmap(NULL, size + align, EMU_RESERVE_PROT,
			 EMU_RESERVE_FLAGS, -1, 0);
		if (p == MAP_FAILED) {
			emu_unlock();
			return CUDA_ERROR_OUT_OF_MEMORY;
		}
		raw = (uintptr_t)p;
		base = (raw + align - 1) & ~(uintptr_t)(align - 1);
		if (base > raw)
			munmap(p, base - raw);
		if (raw + size + align > base + size)
			munmap((void *)(base + size), raw + align - base);
	}
	r = emu_xcalloc(1, sizeof(*r));
	r->base = base;
	r->size = size;
	r->next = emu.resvs;
	emu.resvs = r;
	emu_add(EMU_C_live_reservations, 1);
	*ptr = base;
	emu_unlock();
	return CUDA_SUCCESS;
}

CUresult cuMemAddressFree(CUdeviceptr ptr, size_t size)
{
	struct emu_resv **pp, *r = NULL;
	CUresult rc;

	emu_count(EMU_C_address_free);
	rc = emu_check_init(__func__);
	if (rc)
		return rc;
	emu_lock();
	for (pp = &emu.resvs; *pp; pp = &(*pp)->next)
		if ((*pp)->base == ptr) {
			r = *pp;
			break;
		}
	rc = RULE("free.unknown", !r, CUDA_ERROR_INVALID_VALUE,
		  "%#llx is not the start of a reservation", ptr);
	if (!rc && r)
		rc = RULE("free.size", size != r->size,
			  CUDA_ERROR_INVALID_VALUE,
			  "size %zu, reserved %zu", size, r->size);
	/* libaccel unmaps first; freeing mapped VA would leak the mappings. */
	if (!rc && r)
		rc = RULE("free.mapped", any_map_in(r->base, r->size),
			  CUDA_ERROR_INVALID_VALUE,
			  "the reservation still has mappings (cuMemUnmap first)");
	if (!rc && r && !any_map_in(r->base, r->size)) {
		*pp = r->next;
		munmap((void *)r->base, r->size);
		free(r);
		emu_sub(EMU_C_live_reservations, 1);
	}
	emu_unlock();
	return rc;
}

/* ---- mappings ------------------------------------------------------------ */

CUresult cuMemMap(CUdeviceptr ptr, size_t size, size_t offset,
		  CUmemGenericAllocationHandle handle, unsigned long long flags)
{
	size_t gran = emu.cfg.granularity;
	struct emu_alloc *a;
	struct emu_map *m;
	void *p;
	CUresult rc;

	emu_count(EMU_C_mem_map);
	rc = emu_check_init(__func__);
	if (!rc)
		rc = RULE("map.flags", flags != 0, CUDA_ERROR_INVALID_VALUE,
			  "flags %#llx must be 0", flags);
	if (!rc)
		rc = RULE("map.offset", offset != 0, CUDA_ERROR_INVALID_VALUE,
			  "offset %zu: it must currently be zero", offset);
	if (!rc)
		rc = RULE("map.align", !size || ptr % gran || size % gran,
			  CUDA_ERROR_INVALID_VALUE,
			  "ptr %#llx or size %zu is not a multiple of the granularity %zu",
			  ptr, size, gran);
	if (rc)
		return rc;
	emu_lock();
	a = alloc_lookup(handle);
	rc = RULE("map.handle", !a, CUDA_ERROR_INVALID_VALUE,
		  "%#llx is not a live allocation handle", handle);
	if (!rc && a)
		rc = RULE("map.size", size > a->size, CUDA_ERROR_INVALID_VALUE,
			  "size %zu exceeds the allocation's %zu", size,
			  a->size);
	if (!rc)
		rc = RULE("map.reservation", !resv_containing(ptr, size),
			  CUDA_ERROR_INVALID_VALUE,
			  "[%#llx, +%zu) is not inside one reservation", ptr,
			  size);
	if (!rc)
		rc = RULE("map.overlap", any_map_in(ptr, size),
			  CUDA_ERROR_INVALID_VALUE,
			  "[%#llx, +%zu) is already (partly) mapped", ptr, size);
	/* Even with a rule off (CUEMU_BREAK_RULE), never map over memory. */
	if (rc || !a || size > a->size || !resv_containing(ptr, size) ||
	    any_map_in(ptr, size)) {
		emu_unlock();
		return rc ? rc : CUDA_ERROR_INVALID_VALUE;
	}
	/* A second mapping of the allocation's pages, still PROT_NONE. */
	p = mremap(a->backing, 0, size, MREMAP_MAYMOVE | MREMAP_FIXED,
		   (void *)ptr);
	if (p == MAP_FAILED) {
		perror("cuemu: cuMemMap: mremap");
		emu_unlock();
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	m = emu_xcalloc(1, sizeof(*m));
	m->va = ptr;
	m->size = size;
	m->alloc = a;
	m->next = emu.maps;
	emu.maps = m;
	a->nmaps++;
	emu_add(EMU_C_live_mappings, 1);
	emu_unlock();
	return CUDA_SUCCESS;
}

CUresult cuMemUnmap(CUdeviceptr ptr, size_t size)
{
	struct emu_map **pp, *m;
	struct emu_alloc *a;
	const char *why;
	int pending;
	CUresult rc;

	emu_count(EMU_C_mem_unmap);
	rc = emu_check_init(__func__);
	if (rc)
		return rc;
	emu_lock();
	if (!whole_mappings(ptr, size, &why) && emu_rule_on("unmap.range")) {
		rc = emu_misuse(__func__, "unmap.range",
				CUDA_ERROR_INVALID_VALUE, "[%#llx, +%zu): %s",
				ptr, size, why);
		emu_unlock();
		return rc;
	}
	/*
	 * The driver does not wait for copies queued on the range: they
	 * would fault. Say so now; they fail when they run.
	 */
	pending = emu_poison_copies(ptr, size);
	if (pending && emu_rule_on("unmap.pending"))
		emu_misuse(__func__, "unmap.pending", CUDA_SUCCESS,
			   "%d queued copies use [%#llx, +%zu) (synchronize first)",
			   pending, ptr, size);
	pp = &emu.maps;
	while ((m = *pp)) {
		if (!ranges_overlap(ptr, size, m->va, m->size)) {
			pp = &m->next;
			continue;
		}
		/* The mapping goes away whole, even if the range was wrong. */
		if (mmap((void *)m->va, m->size, EMU_RESERVE_PROT,
			 EMU_RESERVE_FLAGS | MAP_FIXED, -1, 0) == MAP_FAILED)
			perror("cuemu: cuMemUnmap: mmap");
		*pp = m->next;
		a = m->alloc;
		free(m);
		emu_sub(EMU_C_live_mappings, 1);
		if (--a->nmaps == 0 && a->released)
			alloc_free(a);
	}
	emu_unlock();
	return CUDA_SUCCESS;
}

CUresult cuMemSetAccess(CUdeviceptr ptr, size_t size,
			const CUmemAccessDesc *desc, size_t count)
{
	struct emu_map *m;
	const char *why;
	size_t i;
	CUresult rc;

	emu_count(EMU_C_mem_set_access);
	rc = emu_check_init(__func__);
	if (!rc)
		rc = RULE("access.desc", !desc || !count,
			  CUDA_ERROR_INVALID_VALUE, "desc %p, count %zu",
			  (const void *)desc, count);
	for (i = 0; !rc && i < count; i++) {
		const CUmemAccessDesc *d = &desc[i];

		rc = RULE("access.location",
			  d->location.type != CU_MEM_LOCATION_TYPE_DEVICE,
			  CUDA_ERROR_INVALID_VALUE,
			  "desc[%zu]: location type %d is not a device "
			  "(device memory gives no host access)", i,
			  (int)d->location.type);
		if (!rc)
			rc = RULE("dev.ordinal", !emu_dev_valid(d->location.id),
				  CUDA_ERROR_INVALID_DEVICE,
				  "desc[%zu]: device %d does not exist", i,
				  d->location.id);
		if (!rc)
			rc = RULE("access.flags",
				  d->flags != CU_MEM_ACCESS_FLAGS_PROT_NONE &&
				  d->flags != CU_MEM_ACCESS_FLAGS_PROT_READ &&
				  d->flags != CU_MEM_ACCESS_FLAGS_PROT_READWRITE,
				  CUDA_ERROR_INVALID_VALUE,
				  "desc[%zu]: flags %d", i, (int)d->flags);
	}
	if (rc)
		return rc;
	emu_lock();
	if (!whole_mappings(ptr, size, &why) && emu_rule_on("access.range")) {
		rc = emu_misuse(__func__, "access.range",
				CUDA_ERROR_INVALID_VALUE, "[%#llx, +%zu): %s",
				ptr, size, why);
		emu_unlock();
		return rc;
	}
	for (m = emu.maps; m; m = m->next) {
		unsigned long long prot = 0;
		int dev;

		if (!ranges_overlap(ptr, size, m->va, m->size))
			continue;
		for (i = 0; i < count; i++)
			if (emu_dev_valid(desc[i].location.id))
				m->access[desc[i].location.id] = desc[i].flags;
		/* The host sees what the most privileged device may do. */
		for (dev = 0; dev < emu.cfg.ndev; dev++)
			prot |= m->access[dev];
		if (mprotect((void *)m->va, m->size,
			     prot == CU_MEM_ACCESS_FLAGS_PROT_READWRITE ?
			     PROT_READ | PROT_WRITE :
			     prot ? PROT_READ : PROT_NONE))
			perror("cuemu: cuMemSetAccess: mprotect");
	}
	emu_unlock();
	return CUDA_SUCCESS;
}

CUresult cuMemGetInfo(size_t *free, size_t *total)
{
	struct CUctx_st *ctx;
	CUresult rc;

	emu_count(EMU_C_mem_get_info);
	rc = emu_check_init(__func__);
	if (rc)
		return rc;
	emu_lock();
	rc = emu_need_ctx(__func__, &ctx);
	if (!rc)
		rc = RULE("arg.null", !free || !total, CUDA_ERROR_INVALID_VALUE,
			  "NULL argument");
	if (!rc) {
		*total = emu.cfg.mem_bytes;
		*free = emu.cfg.mem_bytes - emu.dev[ctx->dev].mem_used;
	}
	emu_unlock();
	return rc;
}
