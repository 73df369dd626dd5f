// SPDX-License-Identifier: GPL-2.0
/*
 * test_cuemu: streams, copies and events: ordering, asynchrony, the
 * legacy default stream, and the copy rules.
 *
 * Cases that need asynchrony to show set CUEMU_COPY_DELAY_US to tens of
 * milliseconds and look right after the enqueue, which is microseconds
 * later, so a loaded machine does not make them flaky.
 */
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "test_cuemu.h"

#define N (64 * 1024)

/* A mapped, accessible granule at *va and registered host buffers. */
static void rig(CUdeviceptr *va, void **in, void **out)
{
	size_t g = granularity();

	*va = reserve(g);
	map_rw(*va, g, create(g));
	*in = host_alloc(N);
	*out = host_alloc(N);
	CHECK_OK(cu.cuMemHostRegister(*in, N, 0));
	CHECK_OK(cu.cuMemHostRegister(*out, N, 0));
}

/* Copies on one stream land in the order they were queued. */
static void stream_order(void)
{
	CUdeviceptr va;
	void *in, *out, *b;
	CUstream st;
	int i;

	setup();
	rig(&va, &in, &out);
	b = host_alloc(N);
	CHECK_OK(cu.cuMemHostRegister(b, N, 0));
	fill(in, N, 1);
	fill(b, N, 2);
	CHECK_OK(cu.cuStreamCreate(&st, 0));
	for (i = 0; i < 9; i++)
		CHECK_OK(cu.cuMemcpyHtoDAsync(va, i % 2 ? in : b, N, st));
	/* The read-back is queued after the writes, no host sync between. */
	CHECK_OK(cu.cuMemcpyDtoHAsync(out, va, N, st));
	CHECK_OK(cu.cuStreamSynchronize(st));
	CHECK_EQ(checksum(out, N), checksum(b, N));
	EMU_ONLY(CHECK_EQ(checksum((void *)va, N), checksum(b, N)));
	CHECK_EMU_EQ(cuemu_snapshot().copies_executed, 10);
}

/* Reading before synchronizing sees the old data. */
static void stale_without_sync(void)
{
	CUdeviceptr va;
	void *in, *out;
	uint64_t zero;
	CUstream st;

	env("CUEMU_COPY_DELAY_US", "100000");
	setup();
	rig(&va, &in, &out);
	zero = checksum(out, N);	/* fresh mmap: zeros, as is va */
	fill(in, N, 3);
	CHECK_OK(cu.cuStreamCreate(&st, CU_STREAM_NON_BLOCKING));
	CHECK_OK(cu.cuMemcpyHtoDAsync(va, in, N, st));
	CHECK_EQ(checksum((void *)va, N), zero);
	CHECK_EQ(cu.cuStreamQuery(st), CUDA_ERROR_NOT_READY);
	CHECK_OK(cu.cuStreamSynchronize(st));
	CHECK_OK(cu.cuStreamQuery(st));
	CHECK_EQ(checksum((void *)va, N), checksum(in, N));
	CHECK_OK(cu.cuMemcpyDtoHAsync(out, va, N, st));
	CHECK_EQ(checksum(out, N), zero);
	CHECK_OK(cu.cuStreamSynchronize(st));
	CHECK_EQ(checksum(out, N), checksum(in, N));
}

/*
 * Pinned memory is read when the copy runs; pageable memory is staged at
 * the call (HtoD) or waited for (DtoH), as the driver documents.
 */
static void host_memory_kinds(void)
{
	CUdeviceptr va;
	void *in, *out, *pg;
	uint64_t t0;
	CUstream st;

	env("CUEMU_COPY_DELAY_US", "100000");
	setup();
	rig(&va, &in, &out);
	pg = host_alloc(N);
	CHECK_OK(cu.cuStreamCreate(&st, 0));
	fill(in, N, 1);
	CHECK_OK(cu.cuMemcpyHtoDAsync(va, in, N, st));
	fill(in, N, 2);		/* before the DMA: it reads this */
	CHECK_OK(cu.cuStreamSynchronize(st));
	CHECK_EQ(checksum((void *)va, N), checksum(in, N));
	fill(pg, N, 1);
	CHECK_OK(cu.cuMemcpyHtoDAsync(va, pg, N, st));
	fill(pg, N, 2);		/* staged already: not copied */
	CHECK_OK(cu.cuStreamSynchronize(st));
	fill(pg, N, 1);
	CHECK_EQ(checksum((void *)va, N), checksum(pg, N));
	/* Pageable DtoH: done when the call returns. */
	memset(pg, 0, N);
	t0 = now_us();
	CHECK_OK(cu.cuMemcpyDtoHAsync(pg, va, N, st));
	CHECK(now_us() - t0 >= 100000);
	CHECK_EQ(checksum(pg, N), checksum((void *)va, N));
	CHECK_EMU_EQ(cuemu_snapshot().pageable_async_copies, 2);
	CHECK_EMU_EQ(cuemu_misuses(), 0);
}

/* Async copies of unregistered host memory are counted. */
static void pageable_async_counted(void)
{
	CUdeviceptr va;
	void *in, *out, *pg;
	CUcontext c0;
	CUstream st;

	env("CUEMU_DEVICES", "2");
	c0 = setup();
	rig(&va, &in, &out);
	pg = host_alloc(2 * N);
	CHECK_OK(cu.cuStreamCreate(&st, 0));
	CHECK_OK(cu.cuMemcpyHtoDAsync(va, pg, N, st));
	CHECK_OK(cu.cuMemcpyDtoHAsync(pg, va, N, st));
	CHECK_EMU_EQ(cuemu_snapshot().pageable_async_copies, 2);
	/* Registered, in part, straddling its end, synchronous, DtoD. */
	CHECK_OK(cu.cuMemcpyHtoDAsync(va, in, N, st));
	CHECK_OK(cu.cuMemcpyHtoDAsync(va, (char *)in + 100, 1000, st));
	CHECK_OK(cu.cuMemHostRegister(pg, N, 0));
	CHECK_OK(cu.cuMemcpyHtoDAsync(va, (char *)pg + N / 2, N, st));
	CHECK_EMU_EQ(cuemu_snapshot().pageable_async_copies, 3);
	CHECK_OK(cu.cuMemcpyHtoD(va, (char *)pg + N, N));
	CHECK_OK(cu.cuMemcpyDtoDAsync(va + N, va, N, st));
	CHECK_EMU_EQ(cuemu_snapshot().pageable_async_copies, 3);
	CHECK_OK(cu.cuStreamSynchronize(st));
	CHECK_OK(cu.cuMemHostUnregister(pg));
	CHECK_OK(cu.cuMemcpyHtoDAsync(va, pg, N, st));
	CHECK_EMU_EQ(cuemu_snapshot().pageable_async_copies, 4);
	CHECK_OK(cu.cuStreamSynchronize(st));
	/* Pinned for the registering context only, unless PORTABLE. */
	CHECK_OK(cu.cuMemHostRegister(pg, N, 0));
	CHECK_OK(cu.cuMemHostRegister((char *)pg + N, N,
				      CU_MEMHOSTREGISTER_PORTABLE));
	setup_dev(1);
	set_access(va, granularity(), 1, CU_MEM_ACCESS_FLAGS_PROT_READWRITE);
	CHECK_OK(cu.cuMemcpyHtoDAsync(va, pg, N, NULL));
	CHECK_EMU_EQ(cuemu_snapshot().pageable_async_copies, 5);
	CHECK_OK(cu.cuMemcpyHtoDAsync(va, (char *)pg + N, N, NULL));
	CHECK_EMU_EQ(cuemu_snapshot().pageable_async_copies, 5);
	CHECK_OK(cu.cuCtxSynchronize());
	CHECK_OK(cu.cuCtxSetCurrent(c0));
	CHECK_OK(cu.cuStreamDestroy(st));
}

/* What an async copy's device and host memory must be. */
static void copy_rules(void)
{
	CUdeviceptr va, bare, ro;
	void *in, *out, *rohost;
	size_t g;
	CUstream st;

	setup();
	g = granularity();
	rig(&va, &in, &out);
	CHECK_OK(cu.cuStreamCreate(&st, 0));
	bare = reserve(2 * g);
	CHECK_MISUSE(cu.cuMemcpyHtoDAsync(bare, in, N, st),
		     CUDA_ERROR_INVALID_VALUE);
	CHECK_OK(cu.cuMemMap(bare, g, 0, create(g), 0));
	CHECK_MISUSE(cu.cuMemcpyHtoDAsync(bare, in, N, st),
		     CUDA_ERROR_INVALID_VALUE);
	CHECK_MISUSE(cu.cuMemcpyDtoHAsync(out, bare, N, st),
		     CUDA_ERROR_INVALID_VALUE);
	/* Off the end of a mapping. */
	CHECK_MISUSE(cu.cuMemcpyHtoDAsync(va + g - N / 2, in, N, st),
		     CUDA_ERROR_INVALID_VALUE);
	CHECK_MISUSE(cu.cuMemcpyDtoDAsync(va, va + g - 16, 32, st),
		     CUDA_ERROR_INVALID_VALUE);
	/* Read-only device memory: a source, not a destination. */
	ro = reserve(g);
	CHECK_OK(cu.cuMemMap(ro, g, 0, create(g), 0));
	set_access(ro, g, 0, CU_MEM_ACCESS_FLAGS_PROT_READ);
	CHECK_OK(cu.cuMemcpyDtoHAsync(out, ro, N, st));
	CHECK_MISUSE(cu.cuMemcpyHtoDAsync(ro, in, N, st),
		     CUDA_ERROR_INVALID_VALUE);
	CHECK_MISUSE(cu.cuMemcpyDtoDAsync(ro, va, N, st),
		     CUDA_ERROR_INVALID_VALUE);
	/* Host pointers: NULL, device memory, unmapped memory. */
	CHECK_MISUSE(cu.cuMemcpyHtoDAsync(va, NULL, N, st),
		     CUDA_ERROR_INVALID_VALUE);
	CHECK_MISUSE(cu.cuMemcpyDtoHAsync((void *)ro, va, N, st),
		     CUDA_ERROR_INVALID_VALUE);
	CHECK_OK(cu.cuStreamSynchronize(st));	/* the DtoH into out ran */
	CHECK_OK(cu.cuMemHostUnregister(out));
	host_free(out, N);
	CHECK_MISUSE(cu.cuMemcpyDtoHAsync(out, va, N, st),
		     CUDA_ERROR_INVALID_VALUE);
	/* Host memory registered read-only cannot be written by a copy. */
	rohost = host_alloc(N);
	CHECK_OK(cu.cuMemHostRegister(rohost, N, CU_MEMHOSTREGISTER_READ_ONLY));
	CHECK_OK(cu.cuMemcpyHtoDAsync(va, rohost, N, st));
	CHECK_MISUSE(cu.cuMemcpyDtoHAsync(rohost, va, N, st),
		     CUDA_ERROR_INVALID_VALUE);
	/* Zero bytes: nothing to check, nothing done. */
	CHECK_OK(cu.cuMemcpyHtoDAsync(bare, NULL, 0, st));
	CHECK_OK(cu.cuStreamSynchronize(st));
	CHECK_EMU_EQ(cuemu_snapshot().copies_executed, 2);
}

/* An event is not ready until its stream reaches it. */
static void event_not_ready_then_ready(void)
{
	CUdeviceptr va;
	void *in, *out;
	CUstream st, idle;
	CUevent ev;

	env("CUEMU_COPY_DELAY_US", "100000");
	setup();
	rig(&va, &in, &out);
	fill(in, N, 4);
	CHECK_OK(cu.cuStreamCreate(&st, 0));
	CHECK_OK(cu.cuStreamCreate(&idle, 0));
	CHECK_OK(cu.cuEventCreate(&ev, CU_EVENT_DISABLE_TIMING));
	CHECK_OK(cu.cuEventQuery(ev));	/* never recorded: empty work */
	CHECK_OK(cu.cuMemcpyHtoDAsync(va, in, N, st));
	CHECK_OK(cu.cuEventRecord(ev, st));
	CHECK_EQ(cu.cuEventQuery(ev), CUDA_ERROR_NOT_READY);
	CHECK_OK(cu.cuEventSynchronize(ev));
	CHECK_OK(cu.cuEventQuery(ev));
	CHECK_EQ(checksum((void *)va, N), checksum(in, N));
	/* Recording again replaces what the event captured. */
	CHECK_OK(cu.cuMemcpyHtoDAsync(va, in, N, st));
	CHECK_OK(cu.cuEventRecord(ev, st));
	CHECK_EQ(cu.cuEventQuery(ev), CUDA_ERROR_NOT_READY);
	CHECK_OK(cu.cuEventRecord(ev, idle));
	CHECK_OK(cu.cuEventQuery(ev));
	CHECK_OK(cu.cuEventDestroy(ev));
	CHECK_EMU_EQ(cuemu_misuses(), 0);
}

/* cuStreamWaitEvent orders one stream after another's captured work. */
static void stream_wait_event(void)
{
	CUdeviceptr va;
	void *in, *out;
	CUstream a, b;
	CUevent ea, eb;
	int i;

	env("CUEMU_COPY_DELAY_US", "50000");
	setup();
	rig(&va, &in, &out);
	fill(in, N, 5);
	CHECK_OK(cu.cuStreamCreate(&a, CU_STREAM_NON_BLOCKING));
	CHECK_OK(cu.cuStreamCreate(&b, CU_STREAM_NON_BLOCKING));
	CHECK_OK(cu.cuEventCreate(&ea, 0));
	CHECK_OK(cu.cuEventCreate(&eb, 0));
	for (i = 0; i < 4; i++)		/* 200 ms of work on a */
		CHECK_OK(cu.cuMemcpyHtoDAsync(va, in, N, a));
	CHECK_OK(cu.cuEventRecord(ea, a));
	CHECK_OK(cu.cuStreamWaitEvent(b, ea, 0));
	CHECK_OK(cu.cuEventRecord(eb, b));	/* b has no work of its own */
	usleep(20000);
	CHECK_EQ(cu.cuEventQuery(eb), CUDA_ERROR_NOT_READY);
	CHECK_OK(cu.cuMemcpyDtoHAsync(out, va, N, b));
	CHECK_OK(cu.cuStreamSynchronize(b));
	CHECK_OK(cu.cuStreamQuery(a));
	CHECK_EQ(checksum(out, N), checksum(in, N));
	CHECK_MISUSE(cu.cuStreamWaitEvent(b, ea, 1), CUDA_ERROR_INVALID_VALUE);
}

/*
 * The legacy default stream waits for the blocking streams and they for
 * it; non-blocking streams take no part.
 */
static void legacy_stream(void)
{
	CUdeviceptr va;
	void *in, *out;
	CUstream s, nb;
	CUevent ev;
	int i;

	env("CUEMU_COPY_DELAY_US", "50000");
	setup();
	rig(&va, &in, &out);
	fill(in, N, 6);
	CHECK_OK(cu.cuStreamCreate(&s, CU_STREAM_DEFAULT));
	CHECK_OK(cu.cuStreamCreate(&nb, CU_STREAM_NON_BLOCKING));
	for (i = 0; i < 4; i++)
		CHECK_OK(cu.cuMemcpyHtoDAsync(va, in, N, s));
	/* A synchronous copy runs on the legacy stream, after s's work. */
	CHECK_OK(cu.cuMemcpyDtoH(out, va, N));
	CHECK_OK(cu.cuStreamQuery(s));
	CHECK_EQ(checksum(out, N), checksum(in, N));
	/* Not after the non-blocking stream's. */
	for (i = 0; i < 6; i++)
		CHECK_OK(cu.cuMemcpyHtoDAsync(va + N, in, N, nb));
	CHECK_OK(cu.cuMemcpyDtoH(out, va, N));
	CHECK_EQ(cu.cuStreamQuery(nb), CUDA_ERROR_NOT_READY);
	/* A blocking stream's new work waits for the legacy stream's. */
	CHECK_OK(cu.cuEventCreate(&ev, 0));
	CHECK_OK(cu.cuMemcpyHtoDAsync(va, in, N, NULL));
	CHECK_OK(cu.cuEventRecord(ev, s));
	usleep(10000);
	CHECK_EQ(cu.cuEventQuery(ev), CUDA_ERROR_NOT_READY);
	CHECK_OK(cu.cuEventSynchronize(ev));
	CHECK_OK(cu.cuStreamQuery(CU_STREAM_LEGACY));
	CHECK_OK(cu.cuCtxSynchronize());
	CHECK_OK(cu.cuStreamQuery(nb));
}

/* Unmapping under queued copies: they fail, the context is poisoned. */
static void unmap_with_pending_copy(void)
{
	CUmemGenericAllocationHandle h;
	CUcontext ctx;
	CUdeviceptr va;
	void *in;
	size_t g;
	CUstream st;

	env("CUEMU_COPY_DELAY_US", "100000");
	setup();
	g = granularity();
	va = reserve(g);
	h = create(g);
	map_rw(va, g, h);
	in = host_alloc(N);
	CHECK_OK(cu.cuMemHostRegister(in, N, 0));
	CHECK_OK(cu.cuStreamCreate(&st, 0));
	CHECK_OK(cu.cuMemcpyHtoDAsync(va, in, N, st));
	CHECK_MISUSE(cu.cuMemUnmap(va, g), CUDA_SUCCESS);
	CHECK_EQ(cu.cuStreamSynchronize(st), CUDA_ERROR_ILLEGAL_ADDRESS);
	CHECK_EQ(cu.cuCtxSynchronize(), CUDA_ERROR_ILLEGAL_ADDRESS);
	CHECK_EMU_EQ(cuemu_snapshot().copies_executed, 0);
	/* Sticky: even valid work fails now. */
	map_rw(va, g, h);
	CHECK_EQ(cu.cuMemcpyHtoDAsync(va, in, N, st),
		 CUDA_ERROR_ILLEGAL_ADDRESS);
	/* Until the process ends, even across a context reset. */
	CHECK_OK(cu.cuDevicePrimaryCtxRelease(0));
	CHECK_OK(cu.cuDevicePrimaryCtxRetain(&ctx, 0));
	CHECK_OK(cu.cuStreamCreate(&st, 0));
	CHECK_EQ(cu.cuStreamSynchronize(st), CUDA_ERROR_ILLEGAL_ADDRESS);
	CHECK_EMU_EQ(cuemu_misuses(), 1);
}

/* Access taken away under a queued copy: it faults when it runs. */
static void access_lost_under_copy(void)
{
	CUdeviceptr va;
	void *in, *out;
	CUstream st;

	env("CUEMU_COPY_DELAY_US", "100000");
	setup();
	rig(&va, &in, &out);
	CHECK_OK(cu.cuStreamCreate(&st, 0));
	CHECK_OK(cu.cuMemcpyHtoDAsync(va, in, N, st));
	set_access(va, granularity(), 0, CU_MEM_ACCESS_FLAGS_PROT_READ);
	CHECK_EMU_EQ(cuemu_misuses(), 0);
	CHECK_EQ(cu.cuStreamSynchronize(st), CUDA_ERROR_ILLEGAL_ADDRESS);
	CHECK_EMU_EQ(cuemu_misuses(), 1);
	CHECK_EMU_EQ(cuemu_snapshot().copies_executed, 0);
}

static void stream_handles(void)
{
	CUdeviceptr va;
	void *in, *out;
	CUstream st;
	uint64_t t0;

	env("CUEMU_COPY_DELAY_US", "100000");
	setup();
	rig(&va, &in, &out);
	CHECK_MISUSE(cu.cuStreamCreate(&st, 4), CUDA_ERROR_INVALID_VALUE);
	CHECK_MISUSE(cu.cuStreamCreate(NULL, 0), CUDA_ERROR_INVALID_VALUE);
	CHECK_MISUSE(cu.cuStreamDestroy(NULL), CUDA_ERROR_INVALID_HANDLE);
	CHECK_MISUSE(cu.cuStreamDestroy(CU_STREAM_LEGACY),
		     CUDA_ERROR_INVALID_HANDLE);
	CHECK_EMU_EQ(cu.cuStreamQuery(CU_STREAM_PER_THREAD),
		     CUDA_ERROR_NOT_SUPPORTED);	/* not emulated */
	CHECK_EMU_EQ(cuemu_snapshot().unsupported, 1);
	/* Destroyed with work queued: returns at once, the work completes. */
	fill(in, N, 7);
	CHECK_OK(cu.cuStreamCreate(&st, 0));
	CHECK_OK(cu.cuMemcpyHtoDAsync(va, in, N, st));
	t0 = now_us();
	CHECK_OK(cu.cuStreamDestroy(st));
	CHECK(now_us() - t0 < 50000);
	CHECK_EMU_EQ(cuemu_snapshot().live_streams, 0);
	CHECK_OK(cu.cuCtxSynchronize());
	EMU_ONLY(CHECK_EQ(checksum((void *)va, N), checksum(in, N)));
	/* The handle is dead. */
	CHECK_MISUSE(cu.cuMemcpyHtoDAsync(va, in, N, st),
		     CUDA_ERROR_INVALID_HANDLE);
	CHECK_MISUSE(cu.cuStreamQuery(st), CUDA_ERROR_INVALID_HANDLE);
	CHECK_MISUSE(cu.cuStreamDestroy(st), CUDA_ERROR_INVALID_HANDLE);
}

static void event_rules(void)
{
	CUstream s1;
	CUevent ev;

	env("CUEMU_DEVICES", "2");
	setup();
	CHECK_MISUSE(cu.cuEventCreate(&ev, 0x10), CUDA_ERROR_INVALID_VALUE);
	CHECK_MISUSE(cu.cuEventCreate(&ev, CU_EVENT_INTERPROCESS),
		     CUDA_ERROR_INVALID_VALUE);
	CHECK_MISUSE(cu.cuEventCreate(NULL, 0), CUDA_ERROR_INVALID_VALUE);
	CHECK_OK(cu.cuEventCreate(&ev, CU_EVENT_INTERPROCESS |
				  CU_EVENT_DISABLE_TIMING));
	/* Event and stream must be of one context. */
	setup_dev(1);
	CHECK_OK(cu.cuStreamCreate(&s1, 0));
	CHECK_MISUSE(cu.cuEventRecord(ev, s1), CUDA_ERROR_INVALID_HANDLE);
	CHECK_MISUSE(cu.cuEventRecord(ev, NULL), CUDA_ERROR_INVALID_HANDLE);
	/* But a stream may wait for another device's event. */
	CHECK_OK(cu.cuStreamWaitEvent(s1, ev, 0));
	CHECK_OK(cu.cuEventDestroy(ev));
	CHECK_MISUSE(cu.cuEventQuery(ev), CUDA_ERROR_INVALID_HANDLE);
	CHECK_MISUSE(cu.cuEventSynchronize(ev), CUDA_ERROR_INVALID_HANDLE);
	CHECK_MISUSE(cu.cuEventDestroy(ev), CUDA_ERROR_INVALID_HANDLE);
	CHECK_MISUSE(cu.cuStreamWaitEvent(s1, ev, 0),
		     CUDA_ERROR_INVALID_HANDLE);
	CHECK_EMU_EQ(cuemu_snapshot().live_events, 0);
}

struct worker {
	CUcontext ctx;
	CUdeviceptr va;
	int id;
};

static void *worker(void *arg)
{
	struct worker *w = arg;
	CUmemGenericAllocationHandle h;
	size_t g = granularity();
	void *in, *out;
	CUstream st;
	int i;

	CHECK_OK(cu.cuCtxSetCurrent(w->ctx));
	h = create(g);
	map_rw(w->va, g, h);
	in = host_alloc(N);
	out = host_alloc(N);
	CHECK_OK(cu.cuMemHostRegister(in, N, 0));
	CHECK_OK(cu.cuMemHostRegister(out, N, 0));
	CHECK_OK(cu.cuStreamCreate(&st, CU_STREAM_NON_BLOCKING));
	for (i = 0; i < 20; i++) {
		fill(in, N, (uint32_t)(w->id * 100 + i));
		CHECK_OK(cu.cuMemcpyHtoDAsync(w->va + (size_t)i * N % g, in, N,
					      st));
		CHECK_OK(cu.cuMemcpyDtoHAsync(out, w->va + (size_t)i * N % g,
					      N, st));
		CHECK_OK(cu.cuStreamSynchronize(st));
		CHECK_EQ(checksum(out, N), checksum(in, N));
	}
	CHECK_OK(cu.cuStreamDestroy(st));
	CHECK_OK(cu.cuMemUnmap(w->va, g));
	CHECK_OK(cu.cuMemRelease(h));
	CHECK_OK(cu.cuMemHostUnregister(in));
	CHECK_OK(cu.cuMemHostUnregister(out));
	return NULL;
}

/* Several threads at once, each with its stream and granule. */
static void threads(void)
{
	struct worker w[4];
	pthread_t t[4];
	CUcontext ctx;
	CUdeviceptr va;
	struct cuemu_counts c;
	size_t g;
	int i;

	ctx = setup();
	g = granularity();
	va = reserve(4 * g);
	for (i = 0; i < 4; i++) {
		w[i].ctx = ctx;
		w[i].va = va + i * g;
		w[i].id = i;
		CHECK(pthread_create(&t[i], NULL, worker, &w[i]) == 0);
	}
	for (i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	c = cuemu_snapshot();
	CHECK_EMU_EQ(c.misuse, 0);
	CHECK_EMU_EQ(c.mem_create, 4);
	CHECK_EMU_EQ(c.copies_executed, 4 * 40);
	CHECK_EMU_EQ(c.live_mappings + c.live_handles + c.live_streams, 0);
	CHECK_OK(cu.cuMemAddressFree(va, 4 * g));
}

const struct cuemu_case cases_stream[] = {
	CUEMU_CASE(stream_order),
	CUEMU_CASE(stale_without_sync),
	CUEMU_CASE(host_memory_kinds),
	CUEMU_CASE(pageable_async_counted),
	CUEMU_CASE(copy_rules),
	CUEMU_CASE(event_not_ready_then_ready),
	CUEMU_CASE(stream_wait_event),
	CUEMU_CASE(legacy_stream),
	CUEMU_CASE(unmap_with_pending_copy),
	CUEMU_CASE(access_lost_under_copy),
	CUEMU_CASE(stream_handles),
	CUEMU_CASE(event_rules),
	CUEMU_CASE(threads),
};
const size_t ncases_stream = sizeof(cases_stream) / sizeof(cases_stream[0]);
