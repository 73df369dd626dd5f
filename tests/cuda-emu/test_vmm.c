// SPDX-License-Identifier: GPL-2.0
/*
 * test_cuemu: virtual memory management, the happy path and one negative
 * case per rule.
 */
#include <string.h>

#include "test_cuemu.h"

/* Everything libaccel does, in order, with data checked both ways. */
static void happy_path(void)
{
	CUmemGenericAllocationHandle h[2];
	struct cuemu_counts c;
	CUdeviceptr va;
	unsigned char *dev;
	size_t g, n, fr, tot;
	void *in, *out;
	CUstream st;
	int i;

	setup();
	g = granularity();
	n = 2 * g;
	va = reserve(4 * g);
	for (i = 0; i < 2; i++) {
		h[i] = create(g);
		CHECK_OK(cu.cuMemMap(va + i * g, g, 0, h[i], 0));
	}
	/* One cuMemSetAccess over two adjacent mappings. */
	set_access(va, n, 0, CU_MEM_ACCESS_FLAGS_PROT_READWRITE);
	CHECK_OK(cu.cuMemGetInfo(&fr, &tot));
	CHECK_EQ(tot - fr, n);
	/* Written and read through the pointer. */
	dev = (unsigned char *)va;
	memset(dev, 0x5a, n);
	CHECK_EQ(dev[n - 1], 0x5a);
	/* Async copies between registered host memory and the device. */
	in = host_alloc(n);
	out = host_alloc(n);
	CHECK_OK(cu.cuMemHostRegister(in, n, 0));
	CHECK_OK(cu.cuMemHostRegister(out, n, CU_MEMHOSTREGISTER_PORTABLE));
	fill(in, n, 1);
	CHECK_OK(cu.cuStreamCreate(&st, CU_STREAM_NON_BLOCKING));
	CHECK_OK(cu.cuMemcpyHtoDAsync(va, in, n, st));
	CHECK_OK(cu.cuMemcpyDtoHAsync(out, va, n, st));
	CHECK_OK(cu.cuStreamSynchronize(st));
	CHECK_EQ(checksum(out, n), checksum(in, n));
	CHECK_EQ(checksum(dev, n), checksum(in, n));
	/* Device to device, then the synchronous copies. */
	CHECK_OK(cu.cuMemcpyDtoDAsync(va + g, va, g / 2, st));
	CHECK_OK(cu.cuStreamSynchronize(st));
	CHECK(!memcmp(dev + g, in, g / 2));
	fill(in, n, 2);
	CHECK_OK(cu.cuMemcpyHtoD(va, in, n));
	memset(out, 0, n);
	CHECK_OK(cu.cuMemcpyDtoH(out, va, n));
	CHECK_EQ(checksum(out, n), checksum(in, n));
	CHECK_OK(cu.cuCtxSynchronize());
	/* Teardown in libaccel's order: unmap, release, free. */
	CHECK_OK(cu.cuStreamDestroy(st));
	CHECK_OK(cu.cuMemUnmap(va, n));
	for (i = 0; i < 2; i++)
		CHECK_OK(cu.cuMemRelease(h[i]));
	CHECK_OK(cu.cuMemAddressFree(va, 4 * g));
	CHECK_OK(cu.cuMemHostUnregister(in));
	CHECK_OK(cu.cuMemHostUnregister(out));
	c = cuemu_snapshot();
	CHECK_EQ(c.misuse, 0);
	CHECK_EQ(c.pageable_async_copies, 0);
	CHECK_EQ(c.released_while_mapped, 0);
	CHECK_EQ(c.mem_create, 2);
	CHECK_EQ(c.mem_map, 2);
	CHECK_EQ(c.mem_set_access, 1);
	CHECK_EQ(c.memcpy_async, 3);
	CHECK_EQ(c.memcpy_htod_async, 1);
	CHECK_EQ(c.memcpy_dtoh_async, 1);
	CHECK_EQ(c.memcpy_dtod_async, 1);
	CHECK_EQ(c.memcpy_htod, 1);
	CHECK_EQ(c.memcpy_dtoh, 1);
	CHECK_EQ(c.copies_executed, 5);
	CHECK_EQ(c.bytes_copied, 4 * n + g / 2);
	CHECK_EQ(c.live_reservations + c.live_handles + c.live_mappings +
		 c.live_streams + c.live_host_registrations +
		 c.device_bytes_used, 0);
	CHECK_OK(cu.cuDevicePrimaryCtxRelease(0));
	host_free(in, n);
	host_free(out, n);
}

static void granularity_query(void)
{
	CUmemAllocationProp p;
	size_t g = 0;

	CHECK_OK(cu.cuInit(0));
	p = dev_prop(0);
	CHECK_OK(cu.cuMemGetAllocationGranularity(&g, &p,
			CU_MEM_ALLOC_GRANULARITY_RECOMMENDED));
	CHECK_EMU_EQ(g, 2 * MiB);	/* the emulation's default */
	CHECK_MISUSE(cu.cuMemGetAllocationGranularity(&g, &p,
			(CUmemAllocationGranularity_flags)2),
		     CUDA_ERROR_INVALID_VALUE);
	CHECK_MISUSE(cu.cuMemGetAllocationGranularity(NULL, &p,
			CU_MEM_ALLOC_GRANULARITY_MINIMUM),
		     CUDA_ERROR_INVALID_VALUE);
	p.type = CU_MEM_ALLOCATION_TYPE_INVALID;
	CHECK_MISUSE(cu.cuMemGetAllocationGranularity(&g, &p,
			CU_MEM_ALLOC_GRANULARITY_MINIMUM),
		     CUDA_ERROR_INVALID_VALUE);
}

static void reserve_rules(void)
{
	CUdeviceptr va, va2, hint;
	size_t g;

	CHECK_OK(cu.cuInit(0));
	g = granularity();
	CHECK_MISUSE(cu.cuMemAddressReserve(&va, 1000, 0, 0, 0),
		     CUDA_ERROR_INVALID_VALUE);
	CHECK_MISUSE(cu.cuMemAddressReserve(&va, 0, 0, 0, 0),
		     CUDA_ERROR_INVALID_VALUE);
	CHECK_MISUSE(cu.cuMemAddressReserve(&va, g, 3 * g, 0, 0),
		     CUDA_ERROR_INVALID_VALUE);
	CHECK_MISUSE(cu.cuMemAddressReserve(&va, g, 0, 0, 1),
		     CUDA_ERROR_INVALID_VALUE);
	CHECK_MISUSE(cu.cuMemAddressReserve(&va, g, 0, 12345, 0),
		     CUDA_ERROR_INVALID_VALUE);
	CHECK_MISUSE(cu.cuMemAddressReserve(NULL, g, 0, 0, 0),
		     CUDA_ERROR_INVALID_VALUE);
	/* The alignment asked for is honoured; page multiples are fine. */
	CHECK_OK(cu.cuMemAddressReserve(&va, 8 * 4096, 16 * g, 0, 0));
	CHECK_EQ(va % (16 * g), 0);
	CHECK_OK(cu.cuMemAddressFree(va, 8 * 4096));
	/* A free hint is taken. */
	va = reserve(4 * g);
	hint = va + 2 * g;
	CHECK_OK(cu.cuMemAddressFree(va, 4 * g));
	CHECK_OK(cu.cuMemAddressReserve(&va2, g, 0, hint, 0));
	CHECK_EQ(va2, hint);
	CHECK_OK(cu.cuMemAddressFree(va2, g));
}

static void create_rules(void)
{
	CUmemGenericAllocationHandle h;
	CUmemAllocationProp p;
	size_t g;

	CHECK_OK(cu.cuInit(0));
	g = granularity();
	p = dev_prop(0);
	CHECK_MISUSE(cu.cuMemCreate(&h, g / 2, &p, 0),
		     CUDA_ERROR_INVALID_VALUE);
	CHECK_MISUSE(cu.cuMemCreate(&h, g + 4096, &p, 0),
		     CUDA_ERROR_INVALID_VALUE);
	CHECK_MISUSE(cu.cuMemCreate(&h, 0, &p, 0), CUDA_ERROR_INVALID_VALUE);
	CHECK_MISUSE(cu.cuMemCreate(&h, g, &p, 1), CUDA_ERROR_INVALID_VALUE);
	CHECK_MISUSE(cu.cuMemCreate(&h, g, NULL, 0), CUDA_ERROR_INVALID_VALUE);
	p.location.type = CU_MEM_LOCATION_TYPE_HOST_NUMA_CURRENT;
	CHECK_MISUSE(cu.cuMemCreate(&h, g, &p, 0), CUDA_ERROR_INVALID_VALUE);
	p = dev_prop(0);
	p.win32HandleMetaData = &p;
	CHECK_MISUSE(cu.cuMemCreate(&h, g, &p, 0), CUDA_ERROR_INVALID_VALUE);
	/* Not emulated: reported, not counted as misuse. */
	p = dev_prop(0);
	p.location.type = CU_MEM_LOCATION_TYPE_HOST;
	CHECK_EMU_EQ(cu.cuMemCreate(&h, g, &p, 0), CUDA_ERROR_NOT_SUPPORTED);
	CHECK_EMU_EQ(cuemu_snapshot().unsupported, 1);
	CHECK_EMU_EQ(cuemu_snapshot().live_handles, 0);
	CHECK_EMU_EQ(cuemu_snapshot().device_bytes_used, 0);
}

/* Allocations count against the device's memory. */
static void out_of_device_memory(void)
{
	CUmemGenericAllocationHandle h, h2;
	CUmemAllocationProp p = dev_prop(0);
	size_t fr, tot;

	env("CUEMU_MEM_MIB", "8");
	setup();
	h = create(8 * MiB);
	CHECK_OK(cu.cuMemGetInfo(&fr, &tot));
	CHECK_EQ(fr, 0);
	CHECK_EQ(tot, 8 * MiB);
	/* Running out is an answer, not a misuse. */
	CHECK_EQ(cu.cuMemCreate(&h2, 2 * MiB, &p, 0), CUDA_ERROR_OUT_OF_MEMORY);
	CHECK_EMU_EQ(cuemu_misuses(), 0);
	CHECK_OK(cu.cuMemRelease(h));
	h = create(2 * MiB);
	CHECK_OK(cu.cuMemGetInfo(&fr, &tot));
	CHECK_EQ(fr, 6 * MiB);
	CHECK_OK(cu.cuMemCreate(&h2, 6 * MiB, &p, 0));
	CHECK_EMU_EQ(cuemu_snapshot().device_bytes_used, 8 * MiB);
}

/* A reservation and an allocation of `n` granules, for the map rules. */
static void two(size_t n, CUdeviceptr *va, CUmemGenericAllocationHandle *h)
{
	CHECK_OK(cu.cuInit(0));
	*va = reserve(4 * granularity());
	*h = create(n * granularity());
}

static void map_offset_nonzero(void)
{
	CUmemGenericAllocationHandle h;
	CUdeviceptr va;
	size_t g;

	two(2, &va, &h);
	g = granularity();
	CHECK_MISUSE(cu.cuMemMap(va, g, g, h, 0), CUDA_ERROR_INVALID_VALUE);
	CHECK_EMU_EQ(cuemu_snapshot().live_mappings, 0);
	CHECK_OK(cu.cuMemMap(va, g, 0, h, 0));
}

static void map_flags_nonzero(void)
{
	CUmemGenericAllocationHandle h;
	CUdeviceptr va;

	two(1, &va, &h);
	CHECK_MISUSE(cu.cuMemMap(va, granularity(), 0, h, 1),
		     CUDA_ERROR_INVALID_VALUE);
	CHECK_EMU_EQ(cuemu_snapshot().live_mappings, 0);
}

static void map_unaligned(void)
{
	CUmemGenericAllocationHandle h;
	CUdeviceptr va;
	size_t g;

	two(2, &va, &h);
	g = granularity();
	CHECK_MISUSE(cu.cuMemMap(va + 4096, g, 0, h, 0),
		     CUDA_ERROR_INVALID_VALUE);
	CHECK_MISUSE(cu.cuMemMap(va, g + 4096, 0, h, 0),
		     CUDA_ERROR_INVALID_VALUE);
	CHECK_MISUSE(cu.cuMemMap(va, 0, 0, h, 0), CUDA_ERROR_INVALID_VALUE);
	CHECK_EMU_EQ(cuemu_snapshot().live_mappings, 0);
}

static void map_outside_reservation(void)
{
	CUmemGenericAllocationHandle h;
	CUdeviceptr va, gone;
	size_t g;

	two(2, &va, &h);
	g = granularity();
	/* Runs off the end of the reservation. */
	CHECK_MISUSE(cu.cuMemMap(va + 3 * g, 2 * g, 0, h, 0),
		     CUDA_ERROR_INVALID_VALUE);
	/* Address space that is no longer reserved. */
	gone = reserve(2 * g);
	CHECK_OK(cu.cuMemAddressFree(gone, 2 * g));
	CHECK_MISUSE(cu.cuMemMap(gone, g, 0, h, 0), CUDA_ERROR_INVALID_VALUE);
	CHECK_EMU_EQ(cuemu_snapshot().live_mappings, 0);
}

static void map_too_large(void)
{
	CUmemGenericAllocationHandle h;
	CUdeviceptr va;
	size_t g;

	two(1, &va, &h);
	g = granularity();
	CHECK_MISUSE(cu.cuMemMap(va, 2 * g, 0, h, 0), CUDA_ERROR_INVALID_VALUE);
	CHECK_EMU_EQ(cuemu_snapshot().live_mappings, 0);
}

static void double_map(void)
{
	CUmemGenericAllocationHandle h, h2;
	CUdeviceptr va;
	size_t g;

	two(2, &va, &h);
	g = granularity();
	h2 = create(2 * g);
	CHECK_OK(cu.cuMemMap(va + g, g, 0, h, 0));
	CHECK_MISUSE(cu.cuMemMap(va + g, g, 0, h2, 0),
		     CUDA_ERROR_INVALID_VALUE);
	/* Overlapping only in part is just as wrong. */
	CHECK_MISUSE(cu.cuMemMap(va, 2 * g, 0, h2, 0),
		     CUDA_ERROR_INVALID_VALUE);
	CHECK_EMU_EQ(cuemu_snapshot().live_mappings, 1);
}

static void map_stale_handle(void)
{
	CUmemGenericAllocationHandle h;
	CUdeviceptr va;

	two(1, &va, &h);
	CHECK_OK(cu.cuMemRelease(h));
	CHECK_MISUSE(cu.cuMemMap(va, granularity(), 0, h, 0),
		     CUDA_ERROR_INVALID_VALUE);
	CHECK_MISUSE(cu.cuMemMap(va, granularity(), 0, h + 1000, 0),
		     CUDA_ERROR_INVALID_VALUE);
	CHECK_MISUSE(cu.cuMemRelease(h), CUDA_ERROR_INVALID_VALUE);
}

/* Mapped memory is inaccessible until cuMemSetAccess, and after unmap. */
static void access_before_set_access(void)
{
	CUmemGenericAllocationHandle h;
	CUdeviceptr va;
	size_t g;

	two(1, &va, &h);
	g = granularity();
	CHECK_EQ(touch_faults((void *)va, 0), 1);	/* reserved only */
	CHECK_OK(cu.cuMemMap(va, g, 0, h, 0));
	CHECK_EQ(touch_faults((void *)va, 0), 1);
	CHECK_EQ(touch_faults((void *)(va + g - 1), 1), 1);
	set_access(va, g, 0, CU_MEM_ACCESS_FLAGS_PROT_READ);
	CHECK_EQ(touch_faults((void *)va, 0), 0);
	CHECK_EQ(touch_faults((void *)va, 1), 1);
	set_access(va, g, 0, CU_MEM_ACCESS_FLAGS_PROT_READWRITE);
	CHECK_EQ(touch_faults((void *)va, 1), 0);
	*(volatile char *)va = 42;
	CHECK_OK(cu.cuMemUnmap(va, g));
	CHECK_EQ(touch_faults((void *)va, 0), 1);
	/* A new mapping starts with no access, and keeps the pages. */
	CHECK_OK(cu.cuMemMap(va, g, 0, h, 0));
	CHECK_EQ(touch_faults((void *)va, 0), 1);
	set_access(va, g, 0, CU_MEM_ACCESS_FLAGS_PROT_READWRITE);
	CHECK_EQ(*(volatile char *)va, 42);
}

static void set_access_rules(void)
{
	CUmemGenericAllocationHandle h;
	CUmemAccessDesc d;
	CUdeviceptr va;
	size_t g;

	two(2, &va, &h);
	g = granularity();
	CHECK_OK(cu.cuMemMap(va, 2 * g, 0, h, 0));
	memset(&d, 0, sizeof(d));
	d.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
	d.flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
	/* Part of a mapping; running past it into unmapped space. */
	CHECK_MISUSE(cu.cuMemSetAccess(va, g, &d, 1), CUDA_ERROR_INVALID_VALUE);
	CHECK_MISUSE(cu.cuMemSetAccess(va, 3 * g, &d, 1),
		     CUDA_ERROR_INVALID_VALUE);
	CHECK_MISUSE(cu.cuMemSetAccess(va + 2 * g, g, &d, 1),
		     CUDA_ERROR_INVALID_VALUE);
	CHECK_MISUSE(cu.cuMemSetAccess(va, 2 * g, NULL, 1),
		     CUDA_ERROR_INVALID_VALUE);
	CHECK_MISUSE(cu.cuMemSetAccess(va, 2 * g, &d, 0),
		     CUDA_ERROR_INVALID_VALUE);
	d.flags = (CUmemAccess_flags)2;
	CHECK_MISUSE(cu.cuMemSetAccess(va, 2 * g, &d, 1),
		     CUDA_ERROR_INVALID_VALUE);
	d.flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
	d.location.type = CU_MEM_LOCATION_TYPE_HOST;
	CHECK_MISUSE(cu.cuMemSetAccess(va, 2 * g, &d, 1),
		     CUDA_ERROR_INVALID_VALUE);
	/* None of these opened anything. */
	EMU_ONLY(CHECK_EQ(touch_faults((void *)va, 0), 1));
	d.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
	CHECK_OK(cu.cuMemSetAccess(va, 2 * g, &d, 1));
	EMU_ONLY(CHECK_EQ(touch_faults((void *)(va + g), 1), 0));
}

static void partial_unmap(void)
{
	CUmemGenericAllocationHandle h;
	CUdeviceptr va;
	size_t g;

	two(2, &va, &h);
	g = granularity();
	map_rw(va, 2 * g, h);
	EMU_ONLY(*(volatile char *)(va + g) = 7);
	CHECK_MISUSE(cu.cuMemUnmap(va, g), CUDA_ERROR_INVALID_VALUE);
	CHECK_MISUSE(cu.cuMemUnmap(va + g, g), CUDA_ERROR_INVALID_VALUE);
	CHECK_MISUSE(cu.cuMemUnmap(va, 3 * g), CUDA_ERROR_INVALID_VALUE);
	CHECK_MISUSE(cu.cuMemUnmap(va + 2 * g, g), CUDA_ERROR_INVALID_VALUE);
	/* Still mapped, contents intact. */
	CHECK_EMU_EQ(cuemu_snapshot().live_mappings, 1);
	EMU_ONLY(CHECK_EQ(*(volatile char *)(va + g), 7));
	CHECK_OK(cu.cuMemUnmap(va, 2 * g));
	CHECK_EMU_EQ(cuemu_snapshot().live_mappings, 0);
}

/* One cuMemUnmap may cover several whole adjacent mappings. */
static void unmap_several(void)
{
	CUmemGenericAllocationHandle h[3];
	CUdeviceptr va;
	size_t g;
	int i;

	CHECK_OK(cu.cuInit(0));
	g = granularity();
	va = reserve(4 * g);
	for (i = 0; i < 3; i++) {
		h[i] = create(g);
		CHECK_OK(cu.cuMemMap(va + i * g, g, 0, h[i], 0));
	}
	CHECK_OK(cu.cuMemUnmap(va, 3 * g));
	CHECK_EMU_EQ(cuemu_snapshot().live_mappings, 0);
}

static void address_free_rules(void)
{
	CUmemGenericAllocationHandle h;
	CUdeviceptr va;
	size_t g;

	two(1, &va, &h);
	g = granularity();
	CHECK_OK(cu.cuMemMap(va + g, g, 0, h, 0));
	CHECK_MISUSE(cu.cuMemAddressFree(va, 4 * g), CUDA_ERROR_INVALID_VALUE);
	CHECK_MISUSE(cu.cuMemAddressFree(va, 2 * g), CUDA_ERROR_INVALID_VALUE);
	CHECK_MISUSE(cu.cuMemAddressFree(va + g, 3 * g),
		     CUDA_ERROR_INVALID_VALUE);
	CHECK_EMU_EQ(cuemu_snapshot().live_reservations, 1);
	CHECK_OK(cu.cuMemUnmap(va + g, g));
	/* Nothing mapped now; the size must still be the reserved one. */
	CHECK_MISUSE(cu.cuMemAddressFree(va, 2 * g), CUDA_ERROR_INVALID_VALUE);
	CHECK_OK(cu.cuMemAddressFree(va, 4 * g));
	CHECK_EMU_EQ(cuemu_snapshot().live_reservations, 0);
}

/* Released while mapped: legal, alive until unmapped, and counted. */
static void release_while_mapped(void)
{
	CUmemGenericAllocationHandle h;
	CUdeviceptr va;
	size_t g;

	two(1, &va, &h);
	g = granularity();
	map_rw(va, g, h);
	*(volatile char *)va = 9;
	CHECK_OK(cu.cuMemRelease(h));
	CHECK_EMU_EQ(cuemu_snapshot().released_while_mapped, 1);
	CHECK_EMU_EQ(cuemu_snapshot().live_handles, 0);
	CHECK_EMU_EQ(cuemu_snapshot().device_bytes_used, g);
	CHECK_EQ(*(volatile char *)va, 9);
	*(volatile char *)va = 10;
	CHECK_OK(cu.cuMemUnmap(va, g));
	CHECK_EMU_EQ(cuemu_snapshot().device_bytes_used, 0);
	CHECK_MISUSE(cu.cuMemRelease(h), CUDA_ERROR_INVALID_VALUE);
}

/* One allocation mapped twice shares its pages; a part may be mapped. */
static void shared_pages(void)
{
	CUmemGenericAllocationHandle h;
	CUdeviceptr a, b;
	size_t g;

	CHECK_OK(cu.cuInit(0));
	g = granularity();
	a = reserve(2 * g);
	b = reserve(g);
	h = create(2 * g);
	map_rw(a, 2 * g, h);
	map_rw(b, g, h);
	*(volatile int *)a = 1234;
	CHECK_EQ(*(volatile int *)b, 1234);
	CHECK_OK(cu.cuMemRelease(h));
	CHECK_OK(cu.cuMemUnmap(a, 2 * g));
	CHECK_EQ(*(volatile int *)b, 1234);
	CHECK_EMU_EQ(cuemu_snapshot().device_bytes_used, 2 * g);
	CHECK_OK(cu.cuMemUnmap(b, g));
	CHECK_EMU_EQ(cuemu_snapshot().device_bytes_used, 0);
}

/* Copies need access for the stream's device, granted per device. */
static void peer_access(void)
{
	CUmemGenericAllocationHandle h;
	CUcontext c1;
	CUdeviceptr va;
	char buf[256];
	size_t g;

	env("CUEMU_DEVICES", "2");
	setup();
	g = granularity();
	va = reserve(g);
	h = create_on(0, g);
	map_rw(va, g, h);
	CHECK_OK(cu.cuMemcpyHtoD(va, buf, sizeof(buf)));
	c1 = setup_dev(1);
	CHECK(c1 != NULL);
	CHECK_MISUSE(cu.cuMemcpyHtoD(va, buf, sizeof(buf)),
		     CUDA_ERROR_INVALID_VALUE);
	set_access(va, g, 1, CU_MEM_ACCESS_FLAGS_PROT_READ);
	CHECK_OK(cu.cuMemcpyDtoH(buf, va, sizeof(buf)));
	CHECK_MISUSE(cu.cuMemcpyHtoD(va, buf, sizeof(buf)),
		     CUDA_ERROR_INVALID_VALUE);
	set_access(va, g, 1, CU_MEM_ACCESS_FLAGS_PROT_READWRITE);
	CHECK_OK(cu.cuMemcpyHtoD(va, buf, sizeof(buf)));
}

const struct cuemu_case cases_vmm[] = {
	CUEMU_CASE(happy_path),
	CUEMU_CASE(granularity_query),
	CUEMU_CASE(reserve_rules),
	CUEMU_CASE(create_rules),
	CUEMU_CASE(out_of_device_memory),
	CUEMU_CASE(map_offset_nonzero),
	CUEMU_CASE(map_flags_nonzero),
	CUEMU_CASE(map_unaligned),
	CUEMU_CASE(map_outside_reservation),
	CUEMU_CASE(map_too_large),
	CUEMU_CASE(double_map),
	CUEMU_CASE(map_stale_handle),
	CUEMU_CASE(access_before_set_access),
	CUEMU_CASE(set_access_rules),
	CUEMU_CASE(partial_unmap),
	CUEMU_CASE(unmap_several),
	CUEMU_CASE(address_free_rules),
	CUEMU_CASE(release_while_mapped),
	CUEMU_CASE(shared_pages),
	CUEMU_CASE(peer_access),
};
const size_t ncases_vmm = sizeof(cases_vmm) / sizeof(cases_vmm[0]);
