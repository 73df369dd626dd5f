// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The cuda backend: a sequence's spaces live in GPU memory through the
 * CUDA Driver API's virtual memory management, loaded at run time from
 * libcuda.so.1 (no link-time dependency; -EOPNOTSUPP when it is absent or
 * sees no usable device).
 *
 *  - A space is a device address range (cuMemAddressReserve), mapped a
 *    chunk at a time: one physical allocation of 1 to 8 pages (a page is
 *    the allocation granularity), sized to 1/32 of the space so that a
 *    large space needs few calls and a small one wastes little. Chunks come
 *    from a pool of the context's, one list per chunk size, that a background
 *    thread keeps filled, so that a grow never calls cuMemCreate while the
 *    pool keeps up. The pool and the threads belong to the context. Mapping a range is one cuMemMap per chunk, then one
 *    cuMemSetAccess over the whole range.
 *  - Each space has a host copy: a kvmem space of the same size, mapped
 *    into the process and registered with CUDA (cuMemHostRegister) a range
 *    at a time, each range once, as swaps first need it. Its kvmem handle
 *    also carries the sequence's scheduling metadata. Without the module
 *    (ctx->no_module), the host copy is anonymous memory of the process,
 *    bound to the GPU's NUMA node, registered the same way: pinned by
 *    CUDA, with no kvmem accounting and nothing that outlives the process.
 *  - A swap runs on the backend's copy thread, which runs on the GPU's
 *    NUMA node (so that kvmem backs the host copy from the nearest pool)
 *    and copies on its own stream. Out: the pages whose host copy is stale
 *    go device -> host in one copy, then the device pages are unmapped and
 *    their allocations return to the pool. In: the pages are mapped again
 *    and copied host -> device in one copy. KV is append-only: a page
 *    every token of which was written before a swap-out keeps a valid host
 *    copy, and the next swap-out copies only the pages after it.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <linux/kvmem.h>

#include "cuda_abi.h"
#include "internal.h"
#include "topology.h"

/* Pages per physical allocation at most, and spaces per allocation. */
#define CUDA_CHUNK_MAX	8
#define CUDA_CHUNKS_PER_SPACE	32
/* Bytes of each size the pool keeps ready: refilled below LOW, to 2 LOW. */
#define CUDA_POOL_LOW_BYTES	(32ULL << 20)
/* Free allocations of one size kept at most; more are released. */
#define CUDA_POOL_MAX	256

/* The Driver API entry points, by the names cuda.h's macros resolve to. */
struct cuda_api {
	void *lib;
	acu_result (*init)(unsigned int);
	acu_result (*device_get_count)(int *);
	acu_result (*device_get)(acu_device *, int);
	acu_result (*device_get_attribute)(int *, int, acu_device);
	acu_result (*device_get_pci_bus_id)(char *, int, acu_device);
	acu_result (*primary_ctx_retain)(acu_context *, acu_device);
	acu_result (*primary_ctx_release)(acu_device);
	acu_result (*ctx_set_current)(acu_context);
	acu_result (*granularity)(size_t *, const struct acu_mem_prop *, int);
	acu_result (*address_reserve)(acu_deviceptr *, size_t, size_t,
				      acu_deviceptr, unsigned long long);
	acu_result (*address_free)(acu_deviceptr, size_t);
	acu_result (*mem_create)(acu_handle *, size_t,
				 const struct acu_mem_prop *,
				 unsigned long long);
	acu_result (*mem_release)(acu_handle);
	acu_result (*mem_map)(acu_deviceptr, size_t, size_t, acu_handle,
			      unsigned long long);
	acu_result (*mem_unmap)(acu_deviceptr, size_t);
	acu_result (*set_access)(acu_deviceptr, size_t,
				 const struct acu_access_desc *, size_t);
	acu_result (*stream_create)(acu_stream *, unsigned int);
	acu_result (*stream_destroy)(acu_stream);
	acu_result (*stream_synchronize)(acu_stream);
	acu_result (*memcpy_htod_async)(acu_deviceptr, const void *, size_t,
					acu_stream);
	acu_result (*memcpy_dtoh_async)(void *, acu_deviceptr, size_t,
					acu_stream);
	acu_result (*host_register)(void *, size_t, unsigned int);
	acu_result (*host_unregister)(void *);
};

#define CUDA_SYM(field, name)	{ offsetof(struct cuda_api, field), name }

static const struct {
	size_t off;
	const char *name;
} cuda_syms[] = {
	CUDA_SYM(init, "cuInit"),
	CUDA_SYM(device_get_count, "cuDeviceGetCount"),
	CUDA_SYM(device_get, "cuDeviceGet"),
	CUDA_SYM(device_get_attribute, "cuDeviceGetAttribute"),
	CUDA_SYM(device_get_pci_bus_id, "cuDeviceGetPCIBusId"),
	CUDA_SYM(primary_ctx_retain, "cuDevicePrimaryCtxRetain"),
	CUDA_SYM(primary_ctx_release, "cuDevicePrimaryCtxRelease_v2"),
	CUDA_SYM(ctx_set_current, "cuCtxSetCurrent"),
	CUDA_SYM(granularity, "cuMemGetAllocationGranularity"),
	CUDA_SYM(address_reserve, "cuMemAddressReserve"),
	CUDA_SYM(address_free, "cuMemAddressFree"),
	CUDA_SYM(mem_create, "cuMemCreate"),
	CUDA_SYM(mem_release, "cuMemRelease"),
	CUDA_SYM(mem_map, "cuMemMap"),
	CUDA_SYM(mem_unmap, "cuMemUnmap"),
	CUDA_SYM(set_access, "cuMemSetAccess"),
	CUDA_SYM(stream_create, "cuStreamCreate"),
	CUDA_SYM(stream_destroy, "cuStreamDestroy_v2"),
	CUDA_SYM(stream_synchronize, "cuStreamSynchronize"),
	CUDA_SYM(memcpy_htod_async, "cuMemcpyHtoDAsync_v2"),
	CUDA_SYM(memcpy_dtoh_async, "cuMemcpyDtoHAsync_v2"),
	CUDA_SYM(host_register, "cuMemHostRegister_v2"),
	CUDA_SYM(host_unregister, "cuMemHostUnregister"),
};

/* A swap waiting for the copy thread. */
struct cuda_job {
	struct cuda_job *next;
	struct accel_seq *seq;
	uint32_t op;
	uint64_t pages;
};

/* Free (unmapped) allocations of one size. */
struct cuda_list {
	acu_handle *free;
	unsigned int n;
	unsigned int low;		/* 0: size not in use yet */
};

struct cuda_be {
	struct cuda_api api;
	acu_device dev;
	acu_context cu_ctx;
	acu_stream stream;		/* the copy thread's */
	struct acu_mem_prop prop;
	size_t gran;
	int node;			/* NUMA node near the GPU, or -1 */
	int dev_pool;			/* kvmem device pool of the GPU, or -1 */
	uint32_t dev_tier;		/* its tier */
	uint64_t host_pages_per_page;	/* kvmem pages per device page */

	pthread_mutex_t lock;		/* pool and jobs */
	pthread_cond_t cond;		/* refill wanted, job queued, stop */
	struct cuda_list pool[CUDA_CHUNK_MAX + 1];	/* by chunk pages */
	bool stop;
	struct cuda_job *jobs, **jobs_tail;
	pthread_t refill_thread, copy_thread;
	bool refill_on, copy_on;
};

/* Per space: the allocation mapped at each chunk, and the host copy. */
struct cuda_space {
	unsigned int chunk;		/* pages per allocation */
	uint32_t grant;			/* kvmem device space, 0 if none */
	uint64_t reserved;		/* bytes reserved: whole chunks */
	acu_handle *h;			/* per chunk, 0 if not mapped */
	uint64_t valid;			/* pages [0, valid) of the copy are valid */
	uint64_t populated;		/* host pages [0, populated) have frames */
	uint64_t registered;		/* [0, registered) registered with CUDA */
	uint64_t *reg;			/* first page of each registered range */
	unsigned int nreg;
};

static int cuda_errno(acu_result r)
{
	switch (r) {
	case ACU_SUCCESS:
		return 0;
	case ACU_ERROR_OUT_OF_MEMORY:
		return -ENOMEM;
	case ACU_ERROR_INVALID_VALUE:
		return -EINVAL;
	case ACU_ERROR_NOT_INITIALIZED:
	case ACU_ERROR_NO_DEVICE:
	case ACU_ERROR_INVALID_DEVICE:
	case ACU_ERROR_NOT_SUPPORTED:
		return -EOPNOTSUPP;
	default:
		return -EIO;
	}
}

static struct cuda_be *cuda_of(struct accel_ctx *ctx)
{
	return ctx->be_priv;
}

/* Makes the device's primary context current in this thread, once. */
static int cuda_enter(struct cuda_be *cb)
{
	static __thread acu_context current;

	if (current == cb->cu_ctx)
		return 0;
	if (cb->api.ctx_set_current(cb->cu_ctx))
		return -EIO;
	current = cb->cu_ctx;
	return 0;
}

static int cuda_load(struct cuda_api *api)
{
	size_t i;

#ifdef ACCEL_NO_DLOPEN
	/* A fully static program: no libcuda.so.1 to load. */
	return -EOPNOTSUPP;
#endif
	api->lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
	if (!api->lib)
		return -EOPNOTSUPP;
	for (i = 0; i < sizeof(cuda_syms) / sizeof(cuda_syms[0]); i++) {
		void *f = dlsym(api->lib, cuda_syms[i].name);

		if (!f) {
			dlclose(api->lib);
			api->lib = NULL;
			return -EOPNOTSUPP;
		}
		memcpy((char *)api + cuda_syms[i].off, &f, sizeof(f));
	}
	return 0;
}

/* ------------------------------------------------------------ the pool */

/* Whether a list is below its low mark. Called with cb->lock held. */
static bool cuda_list_low(const struct cuda_list *l)
{
	return l->low && l->n < l->low;
}

/* Takes a free allocation of @chunk pages; creates one if there is none. */
static int cuda_pool_get(struct accel_ctx *ctx, unsigned int chunk, bool step,
			 acu_handle *h)
{
	struct cuda_be *cb = cuda_of(ctx);
	struct cuda_list *l = &cb->pool[chunk];

	pthread_mutex_lock(&cb->lock);
	if (l->n) {
		*h = l->free[--l->n];
		if (cuda_list_low(l))
			pthread_cond_broadcast(&cb->cond);
		pthread_mutex_unlock(&cb->lock);
		return 0;
	}
	pthread_cond_broadcast(&cb->cond);
	pthread_mutex_unlock(&cb->lock);
	if (step) {
		pthread_mutex_lock(&ctx->lock);
		ctx->stats.step_device_allocs++;
		pthread_mutex_unlock(&ctx->lock);
	}
	return cuda_errno(cb->api.mem_create(h, chunk * cb->gran, &cb->prop, 0));
}

/* Gives an unmapped allocation back to the pool, or to CUDA. */
static void cuda_pool_put(struct cuda_be *cb, unsigned int chunk, acu_handle h)
{
	struct cuda_list *l = &cb->pool[chunk];

	pthread_mutex_lock(&cb->lock);
	if (l->n < CUDA_POOL_MAX) {
		l->free[l->n++] = h;
		h = 0;
	}
	pthread_mutex_unlock(&cb->lock);
	if (h)
		cb->api.mem_release(h);
	/* Device memory may have come free: a refill that ran short retries. */
	pthread_cond_broadcast(&cb->cond);
}

/*
 * Fills the list of @chunk up to its high mark (twice the low one).
 * Called with cb->lock held, which it drops while creating. Returns false
 * if the device is full.
 */
static bool cuda_pool_fill(struct cuda_be *cb, unsigned int chunk)
{
	struct cuda_list *l = &cb->pool[chunk];
	acu_handle h;
	acu_result r;

	while (!cb->stop && l->n < 2 * l->low) {
		pthread_mutex_unlock(&cb->lock);
		r = cb->api.mem_create(&h, chunk * cb->gran, &cb->prop, 0);
		pthread_mutex_lock(&cb->lock);
		if (r)
			return false;
		if (l->n >= CUDA_POOL_MAX) {
			/* Puts filled the list meanwhile. */
			pthread_mutex_unlock(&cb->lock);
			cb->api.mem_release(h);
			pthread_mutex_lock(&cb->lock);
			break;
		}
		l->free[l->n++] = h;
	}
	return true;
}

/*
 * Starts keeping allocations of @chunk pages ready, and makes the first
 * ones now, off any step path (a sequence is being created).
 */
static void cuda_pool_use(struct cuda_be *cb, unsigned int chunk)
{
	struct cuda_list *l = &cb->pool[chunk];

	pthread_mutex_lock(&cb->lock);
	if (!l->low) {
		l->low = CUDA_POOL_LOW_BYTES / (chunk * cb->gran);
		if (l->low < 2)
			l->low = 2;
		if (2 * l->low > CUDA_POOL_MAX)
			l->low = CUDA_POOL_MAX / 2;
		cuda_pool_fill(cb, chunk);
	}
	pthread_mutex_unlock(&cb->lock);
}

/* Keeps every list in use between its low and high marks. */
static void *cuda_refill_main(void *arg)
{
	struct cuda_be *cb = arg;
	unsigned int c;
	bool full = false;

	cuda_enter(cb);
	pthread_mutex_lock(&cb->lock);
	while (!cb->stop) {
		bool low = false;

		for (c = 1; c <= CUDA_CHUNK_MAX; c++)
			low |= cuda_list_low(&cb->pool[c]);
		if (!low || full) {
			/* Wait for a take, a put (room again) or a stop. */
			pthread_cond_wait(&cb->cond, &cb->lock);
			full = false;
			continue;
		}
		for (c = 1; c <= CUDA_CHUNK_MAX && !full; c++)
			if (cuda_list_low(&cb->pool[c]))
				full = !cuda_pool_fill(cb, c);
	}
	pthread_mutex_unlock(&cb->lock);
	return NULL;
}

/* -------------------------------------------------------------- spaces */

/*
 * Frames of the GPU's kvmem device pool for pages [first, first + count)
 * of a space: POPULATE (grant) before they are mapped, RELEASE after they
 * are unmapped. Nothing to do when no device pool accounts the GPU.
 */
static int cuda_grant(struct accel_ctx *ctx, struct cuda_space *cs,
		      uint64_t first, uint64_t count, bool give)
{
	return cs->grant ? accel_kv_range(ctx, cs->grant, first, count, give) :
			   0;
}

/* A kvmem space of the GPU's device pool, for the grants of a space. */
static int cuda_grant_space(struct accel_ctx *ctx, struct cuda_space *cs,
			    uint32_t tenant)
{
	struct cuda_be *cb = cuda_of(ctx);
	struct kvmem_space_create c = {
		.size = cs->reserved,
		.tier = cb->dev_tier,
		.policy = ctx->wait_ms ? KVMEM_POLICY_WAIT : KVMEM_POLICY_FAIL,
		.timeout_ms = ctx->wait_ms,
		.flags = KVMEM_SPACE_DEVICE,
		.tenant = tenant,
		.priority = ctx->priority,
		.pool = (uint32_t)cb->dev_pool,
	};
	int ret;

	if (cb->dev_pool < 0)
		return 0;
	ret = accel_ioctl(ctx->fd, KVMEM_IOC_SPACE_CREATE, &c);
	if (!ret)
		cs->grant = c.handle;
	return ret;
}

static void cuda_grant_space_free(struct accel_ctx *ctx, struct cuda_space *cs)
{
	struct kvmem_space_destroy d = { .handle = cs->grant };

	if (cs->grant)
		accel_ioctl(ctx->fd, KVMEM_IOC_SPACE_DESTROY, &d);
	cs->grant = 0;
}

/*
 * A space's host copy: a kvmem space, or without the module anonymous
 * memory (handle 0), bound to the GPU's node; CUDA pins it when a swap
 * first registers it. Not inherited by a forked child (accel.h).
 */
static int cuda_host_new(struct accel_ctx *ctx, uint64_t bytes,
			 uint32_t tenant, uint32_t *handle, void **host)
{
	void *p;

	if (!ctx->no_module)
		return accel_kv_space_new(ctx, bytes, tenant, handle, host);
	p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -ENOMEM;
	madvise(p, bytes, MADV_DONTFORK);
	/* Best effort, as the copy thread's placement: no libnuma, no bind. */
	accel_bind_to_node(p, bytes, cuda_of(ctx)->node);
	*handle = 0;
	*host = p;
	return 0;
}

static void cuda_host_free(struct accel_ctx *ctx, uint32_t handle, void *host,
			   uint64_t bytes)
{
	if (ctx->no_module)
		munmap(host, bytes);
	else
		accel_kv_space_free(ctx, handle, host, bytes);
}

static int cuda_space_create(struct accel_ctx *ctx, struct accel_space *sp,
			     uint64_t bytes)
{
	struct cuda_be *cb = cuda_of(ctx);
	uint64_t pages = bytes / cb->gran, chunks;
	struct cuda_space *cs;
	acu_deviceptr base;
	int ret;

	cs = calloc(1, sizeof(*cs));
	if (!cs)
		return -ENOMEM;
	cs->chunk = pages / CUDA_CHUNKS_PER_SPACE;
	if (cs->chunk < 1)
		cs->chunk = 1;
	if (cs->chunk > CUDA_CHUNK_MAX)
		cs->chunk = CUDA_CHUNK_MAX;
	/* Whole chunks of address space: the last may reach past @bytes. */
	chunks = (pages + cs->chunk - 1) / cs->chunk;
	cs->reserved = chunks * cs->chunk * cb->gran;
	cs->h = calloc(chunks, sizeof(*cs->h));
	cs->reg = calloc(pages, sizeof(*cs->reg));
	if (!cs->h || !cs->reg) {
		ret = -ENOMEM;
		goto fail;
	}
	ret = cuda_enter(cb);
	if (!ret)
		ret = cuda_errno(cb->api.address_reserve(&base, cs->reserved,
							 cb->gran, 0, 0));
	if (ret)
		goto fail;
	/* The host copy; its handle also carries the scheduling metadata. */
	ret = cuda_host_new(ctx, bytes, sp->tenant, &sp->handle, &sp->host);
	if (!ret) {
		ret = cuda_grant_space(ctx, cs, sp->tenant);
		if (ret)
			cuda_host_free(ctx, sp->handle, sp->host, bytes);
	}
	if (ret) {
		cb->api.address_free(base, cs->reserved);
		goto fail;
	}
	cuda_pool_use(cb, cs->chunk);
	sp->dev_handle = cs->grant;
	sp->base = base;
	sp->bytes = bytes;
	sp->mapped = 0;
	sp->priv = cs;
	return 0;
fail:
	free(cs->h);
	free(cs->reg);
	free(cs);
	return ret;
}

/*
 * Unmaps the chunks that lie wholly at or after page @first (a chunk that
 * also holds pages before it stays mapped: CUDA unmaps whole mappings
 * only); their allocations go back to the pool. @count must reach the end
 * of what is mapped.
 */
static int cuda_unmap(struct accel_ctx *ctx, struct accel_space *sp,
		      uint64_t first, uint64_t count)
{
	struct cuda_be *cb = cuda_of(ctx);
	struct cuda_space *cs = sp->priv;
	uint64_t c, chunks = cs->reserved / (cs->chunk * cb->gran);
	size_t len = cs->chunk * cb->gran;
	int ret;

	(void)count;
	ret = cuda_enter(cb);
	for (c = (first + cs->chunk - 1) / cs->chunk; c < chunks && !ret; c++) {
		if (!cs->h[c])
			continue;
		ret = cuda_errno(cb->api.mem_unmap(sp->base + c * len, len));
		if (!ret) {
			cuda_pool_put(cb, cs->chunk, cs->h[c]);
			cs->h[c] = 0;
			cuda_grant(ctx, cs, c * cs->chunk, cs->chunk, false);
		}
	}
	return ret;
}

static void cuda_space_destroy(struct accel_ctx *ctx, struct accel_space *sp)
{
	struct cuda_be *cb = cuda_of(ctx);
	struct cuda_space *cs = sp->priv;
	unsigned int i;

	cuda_unmap(ctx, sp, 0, sp->bytes / cb->gran);
	for (i = 0; i < cs->nreg; i++)
		cb->api.host_unregister((char *)sp->host + cs->reg[i] * cb->gran);
	cb->api.address_free(sp->base, cs->reserved);
	cuda_grant_space_free(ctx, cs);
	sp->dev_handle = 0;
	cuda_host_free(ctx, sp->handle, sp->host, sp->bytes);
	free(cs->h);
	free(cs->reg);
	free(cs);
	sp->bytes = 0;
}

/*
 * Maps device pages [first, first + count): one cuMemMap per chunk not
 * mapped yet, then one cuMemSetAccess over them all, the most one call
 * may cover. Mapped chunks always form a prefix of the space.
 */
static int cuda_map(struct accel_ctx *ctx, struct accel_space *sp,
		    uint64_t first, uint64_t count, bool step)
{
	struct cuda_be *cb = cuda_of(ctx);
	struct cuda_space *cs = sp->priv;
	struct acu_access_desc access = {
		.location = { ACU_MEM_LOCATION_TYPE_DEVICE, cb->dev },
		.flags = ACU_MEM_ACCESS_FLAGS_PROT_READWRITE,
	};
	size_t len = cs->chunk * cb->gran;
	uint64_t c, from, end;
	int ret;

	if (!count)
		return 0;
	from = first / cs->chunk;
	end = (first + count + cs->chunk - 1) / cs->chunk;
	while (from < end && cs->h[from])
		from++;		/* mapped already, with an earlier page */
	if (from == end)
		return 0;
	ret = cuda_enter(cb);
	for (c = from; c < end && !ret; c++) {
		acu_handle h;

		/* The module grants the frames first: quotas, accounting. */
		ret = cuda_grant(ctx, cs, c * cs->chunk, cs->chunk, true);
		if (ret)
			break;
		ret = cuda_pool_get(ctx, cs->chunk, step, &h);
		if (!ret) {
			ret = cuda_errno(cb->api.mem_map(sp->base + c * len,
							 len, 0, h, 0));
			if (ret)
				cuda_pool_put(cb, cs->chunk, h);
		}
		if (ret)
			cuda_grant(ctx, cs, c * cs->chunk, cs->chunk, false);
		else
			cs->h[c] = h;
	}
	if (!ret)
		ret = cuda_errno(cb->api.set_access(sp->base + from * len,
						    (end - from) * len,
						    &access, 1));
	if (ret)
		cuda_unmap(ctx, sp, from * cs->chunk, 0);	/* all or nothing */
	return ret;
}

/* ---------------------------------------------------------------- swap */

/* Backs host pages for device pages [0, pages) and registers them once. */
static int cuda_host_ready(struct accel_ctx *ctx, struct accel_space *sp,
			   uint64_t pages)
{
	struct cuda_be *cb = cuda_of(ctx);
	struct cuda_space *cs = sp->priv;
	void *start;
	int ret;

	/* Without the module, registering faults the pages in and pins them. */
	if (pages > cs->populated && !ctx->no_module) {
		ret = accel_kv_range(ctx, sp->handle,
				     cs->populated * cb->host_pages_per_page,
				     (pages - cs->populated) *
				     cb->host_pages_per_page, true);
		if (ret)
			return ret;
		cs->populated = pages;
	}
	if (pages <= cs->registered)
		return 0;
	start = (char *)sp->host + cs->registered * cb->gran;
	ret = cuda_errno(cb->api.host_register(start, (pages - cs->registered) *
					       cb->gran, 0));
	if (ret)
		return ret;
	cs->reg[cs->nreg++] = cs->registered;
	cs->registered = pages;
	return 0;
}

/* End (page) of the registered range that holds page p. */
static uint64_t cuda_reg_end(const struct cuda_space *cs, uint64_t p)
{
	unsigned int i;

	for (i = 0; i + 1 < cs->nreg; i++)
		if (p < cs->reg[i + 1])
			return cs->reg[i + 1];
	return cs->registered;
}

/*
 * Copies device pages [first, end) to the host copy (out) or back, one
 * copy per registered range: a copy that spans two registrations would
 * count as one from pageable memory, which CUDA stages and serialises.
 */
static int cuda_copy(struct cuda_be *cb, struct accel_space *sp,
		     uint64_t first, uint64_t end, bool out)
{
	struct cuda_space *cs = sp->priv;
	int ret = 0;

	while (first < end && !ret) {
		uint64_t stop = cuda_reg_end(cs, first);
		char *host = (char *)sp->host + first * cb->gran;
		acu_deviceptr dev = sp->base + first * cb->gran;
		size_t len;

		if (stop > end)
			stop = end;
		len = (stop - first) * cb->gran;
		ret = cuda_errno(out ?
			cb->api.memcpy_dtoh_async(host, dev, len, cb->stream) :
			cb->api.memcpy_htod_async(dev, host, len, cb->stream));
		first = stop;
	}
	if (!ret)
		ret = cuda_errno(cb->api.stream_synchronize(cb->stream));
	return ret;
}

/* Swap-out, step 1 for one space: bring its host copy up to date. */
static int cuda_out_copy(struct accel_ctx *ctx, struct accel_space *sp,
			 uint64_t pages, uint64_t *copied, uint64_t *reused)
{
	struct cuda_be *cb = cuda_of(ctx);
	struct cuda_space *cs = sp->priv;
	uint64_t valid = cs->valid < pages ? cs->valid : pages;
	int ret;

	ret = cuda_host_ready(ctx, sp, pages);
	if (!ret)
		ret = cuda_copy(cb, sp, valid, pages, true);
	if (ret)
		return ret;
	*copied = (pages - valid) * cb->gran;
	*reused = valid * cb->gran;
	return 0;
}

/* Swap-out, step 2 for one space: the device memory goes back. */
static void cuda_out_free(struct accel_ctx *ctx, struct accel_seq *seq,
			  struct accel_space *sp, uint64_t pages)
{
	struct cuda_be *cb = cuda_of(ctx);
	struct cuda_space *cs = sp->priv;
	uint64_t tokens = seq->tokens, full;

	/* Tokens grown but, by the engine's own report, not yet written. */
	if (seq->written_known && seq->written < tokens)
		tokens = seq->written;
	full = tokens * seq->lay.token_bytes / cb->gran;
	/* Pages every token of which is written keep a valid copy. */
	cs->valid = full < pages ? full : pages;
	if (!cuda_unmap(ctx, sp, 0, pages))
		sp->mapped = 0;
}

/* Swap-in of one space: map it again and copy the host copy back. */
static int cuda_in_space(struct accel_ctx *ctx, struct accel_space *sp,
			 uint64_t pages, uint64_t *copied)
{
	struct cuda_be *cb = cuda_of(ctx);
	int ret;

	ret = cuda_map(ctx, sp, 0, pages, false);
	if (ret)
		return ret;
	ret = cuda_copy(cb, sp, 0, pages, false);
	if (ret) {
		cuda_unmap(ctx, sp, 0, pages);
		return ret;
	}
	sp->mapped = pages;
	*copied = pages * cb->gran;
	return 0;
}

/*
 * Reports a swap of a space's device pages to the module (KVMEM_IOC_SWAP),
 * when a kvmem device pool grants them: BEGIN before the copy (a swap-in's
 * BEGIN takes the device frames), COMMIT when every space is copied (a
 * swap-out's COMMIT gives them back), ABORT if anything failed. The range
 * is the granted chunks that the host copy covers; cuda_map()'s and
 * cuda_unmap()'s grants find the rest done. BEGIN carries the cookie of the
 * space's last run directive, so that the daemon sees its switch end.
 */
static int cuda_swap_report(struct accel_ctx *ctx, struct accel_space *sp,
			    uint32_t op, bool out, uint64_t pages,
			    uint64_t bytes)
{
	struct cuda_be *cb = cuda_of(ctx);
	struct cuda_space *cs = sp->priv;
	struct kvmem_swap s = { .handle = cs->grant, .op = op };
	uint64_t n = (pages + cs->chunk - 1) / cs->chunk * cs->chunk;

	if (!cs->grant)
		return 0;
	if (op == KVMEM_SWAP_BEGIN) {
		s.flags = out ? KVMEM_SWAP_OUT : 0;
		s.host = sp->handle;
		s.count = n < sp->bytes / cb->gran ? n : sp->bytes / cb->gran;
		pthread_mutex_lock(&ctx->lock);
		s.cookie = sp->run_cookie;
		pthread_mutex_unlock(&ctx->lock);
	} else if (op == KVMEM_SWAP_COMMIT) {
		s.bytes = bytes;
	}
	return accel_ioctl(ctx->fd, KVMEM_IOC_SWAP, &s);
}

/* One space's part of a swap: begun with the module, then copied. */
static int cuda_job_space(struct accel_ctx *ctx, struct cuda_job *job,
			  struct accel_space *sp, bool *trimmed,
			  uint64_t *copied, uint64_t *reused)
{
	bool out = job->op == ACCEL_OP_SWAP_OUT;
	int ret;

	for (;;) {
		ret = cuda_swap_report(ctx, sp, KVMEM_SWAP_BEGIN, out,
				       job->pages, 0);
		if (!ret)
			ret = out ? cuda_out_copy(ctx, sp, job->pages, copied,
						  reused) :
				    cuda_in_space(ctx, sp, job->pages, copied);
		if (!ret)
			return 0;
		cuda_swap_report(ctx, sp, KVMEM_SWAP_ABORT, out, 0, 0);
		/* Device memory short: kept sequences hold some. */
		if (out || ret != -ENOMEM || *trimmed)
			return ret;
		*trimmed = true;
		if (accel_trim_some(ctx, 0) <= 0)
			return ret;
	}
}

/*
 * Runs a swap of every space of a sequence, all or nothing, so that a
 * failure leaves the sequence whole where it was: a swap-out first
 * copies every space and frees device memory only once all copies
 * succeeded; a swap-in that fails unmaps what it mapped (the host copies
 * stay authoritative). The module hears the same (cuda_swap_report()).
 */
static void cuda_run_job(struct accel_ctx *ctx, struct cuda_job *job)
{
	struct accel_seq *seq = job->seq;
	/* Read now: the sequence may be freed once its last part is done. */
	uint32_t i, n = 0, parts = seq->nspaces;
	uint64_t copied = 0, reused = 0, *each;
	bool trimmed = false, out = job->op == ACCEL_OP_SWAP_OUT;
	int ret = 0;

	each = calloc(parts ? parts : 1, sizeof(*each));
	for (i = 0; i < seq->nspaces && job->pages && !ret; i++) {
		uint64_t c = 0, r = 0;

		ret = cuda_job_space(ctx, job, &seq->spaces[i], &trimmed, &c,
				     &r);
		if (ret)
			break;	/* that space undid itself */
		n++;
		copied += c;
		reused += r;
		if (each)
			each[i] = c;
	}
	if (ret) {
		while (n--) {
			struct accel_space *sp = &seq->spaces[n];

			cuda_swap_report(ctx, sp, KVMEM_SWAP_ABORT, out, 0, 0);
			if (!out && !cuda_unmap(ctx, sp, 0, job->pages))
				sp->mapped = 0;
		}
	} else if (job->pages) {
		for (i = 0; i < seq->nspaces; i++)
			cuda_swap_report(ctx, &seq->spaces[i],
					 KVMEM_SWAP_COMMIT, out, 0,
					 each ? each[i] : 0);
		for (i = 0; out && i < seq->nspaces; i++)
			cuda_out_free(ctx, seq, &seq->spaces[i], job->pages);
	}
	free(each);
	/* One report with the totals; the others end the count. */
	for (i = parts; i > 1; i--)
		accel_swap_part_done(seq, ret, 0, 0);
	accel_swap_part_done(seq, ret, copied, reused);
}

static void *cuda_copy_main(void *arg)
{
	struct accel_ctx *ctx = arg;
	struct cuda_be *cb = cuda_of(ctx);
	struct cuda_job *job;

	/* Host copies come from the pool (or, without the module, the
	 * memory) nearest the GPU: fault them here. */
	if (cb->node >= 0)
		accel_run_on_node(cb->node);
	cuda_enter(cb);
	pthread_mutex_lock(&cb->lock);
	for (;;) {
		while (!cb->stop && !cb->jobs)
			pthread_cond_wait(&cb->cond, &cb->lock);
		job = cb->jobs;
		if (!job)
			break;	/* stopping, and every job done */
		cb->jobs = job->next;
		if (!cb->jobs)
			cb->jobs_tail = &cb->jobs;
		pthread_mutex_unlock(&cb->lock);
		cuda_run_job(ctx, job);
		free(job);
		pthread_mutex_lock(&cb->lock);
	}
	pthread_mutex_unlock(&cb->lock);
	return NULL;
}

static int cuda_swap(struct accel_ctx *ctx, struct accel_seq *seq,
		     uint32_t op, uint64_t pages)
{
	struct cuda_be *cb = cuda_of(ctx);
	struct cuda_job *job = calloc(1, sizeof(*job));

	if (!job)
		return -ENOMEM;
	job->seq = seq;
	job->op = op;
	job->pages = pages;
	pthread_mutex_lock(&cb->lock);
	*cb->jobs_tail = job;
	cb->jobs_tail = &job->next;
	pthread_cond_broadcast(&cb->cond);
	pthread_mutex_unlock(&cb->lock);
	return 0;
}

/* -------------------------------------------------------- init, fini */

static void cuda_fini(struct accel_ctx *ctx)
{
	struct cuda_be *cb = cuda_of(ctx);
	unsigned int c;

	if (!cb)
		return;
	pthread_mutex_lock(&cb->lock);
	cb->stop = true;
	pthread_cond_broadcast(&cb->cond);
	pthread_mutex_unlock(&cb->lock);
	if (cb->refill_on)
		pthread_join(cb->refill_thread, NULL);
	if (cb->copy_on)
		pthread_join(cb->copy_thread, NULL);
	if (cb->cu_ctx) {
		cuda_enter(cb);
		for (c = 1; c <= CUDA_CHUNK_MAX; c++)
			while (cb->pool[c].n)
				cb->api.mem_release(cb->pool[c].free[--cb->pool[c].n]);
		if (cb->stream)
			cb->api.stream_destroy(cb->stream);
		cb->api.primary_ctx_release(cb->dev);
	}
	/* libcuda stays loaded: a driver must not be unloaded under its
	 * own threads, and the real one never is. */
	for (c = 1; c <= CUDA_CHUNK_MAX; c++)
		free(cb->pool[c].free);
	pthread_cond_destroy(&cb->cond);
	pthread_mutex_destroy(&cb->lock);
	free(cb);
	ctx->be_priv = NULL;
}

/*
 * The kvmem device pool that accounts this GPU, if the admin or kvmemd
 * registered one: device id = PCI domain << 16 | bus << 8 | devfn, frames
 * of the allocation granularity (Documentation/admin-guide.md).
 */
static void cuda_find_device_pool(struct accel_ctx *ctx, struct cuda_be *cb,
				  const char *bus_id)
{
	unsigned int dom, bus, dev, fn;
	struct kvmem_info info = { 0 };
	uint32_t id, i;

	if (!(ctx->features & KVMEM_FEATURE_DEVICE_POOLS) ||
	    sscanf(bus_id, "%x:%x:%x.%x", &dom, &bus, &dev, &fn) != 4 ||
	    accel_ioctl(ctx->fd, KVMEM_IOC_GET_INFO, &info))
		return;
	id = dom << 16 | (bus & 0xff) << 8 | (dev & 0x1f) << 3 | (fn & 7);
	for (i = 0; i < info.npools; i++) {
		struct kvmem_pool_info pi = { .index = i };

		if (accel_ioctl(ctx->fd, KVMEM_IOC_POOL_QUERY, &pi))
			continue;
		if (pi.kind == KVMEM_POOL_KIND_DEVICE && pi.device == id &&
		    pi.page_size == cb->gran) {
			cb->dev_pool = (int)i;
			cb->dev_tier = pi.tier;
			return;
		}
	}
}

/* Device, context, granularity, stream, topology. */
static int cuda_open_device(struct accel_ctx *ctx, struct cuda_be *cb)
{
	struct cuda_api *api = &cb->api;
	char bus_id[32];
	int n = 0, vmm = 0;
	bool via_drm;

	if (api->init(0) || api->device_get_count(&n) || n <= 0)
		return -EOPNOTSUPP;
	if (ctx->cuda_device < 0 || ctx->cuda_device >= n)
		return -EINVAL;
	if (api->device_get(&cb->dev, ctx->cuda_device) ||
	    api->device_get_attribute(&vmm, ACU_DEVICE_ATTRIBUTE_VMM_SUPPORTED,
				      cb->dev) || !vmm)
		return -EOPNOTSUPP;
	if (api->primary_ctx_retain(&cb->cu_ctx, cb->dev)) {
		cb->cu_ctx = NULL;
		return -EOPNOTSUPP;
	}
	if (cuda_enter(cb))
		return -EIO;
	cb->prop.type = ACU_MEM_ALLOCATION_TYPE_PINNED;
	cb->prop.requested_handle_types = ACU_MEM_HANDLE_TYPE_NONE;
	cb->prop.location.type = ACU_MEM_LOCATION_TYPE_DEVICE;
	cb->prop.location.id = cb->dev;
	if (api->granularity(&cb->gran, &cb->prop,
			     ACU_MEM_ALLOC_GRANULARITY_RECOMMENDED) ||
	    !cb->gran || (cb->gran & (cb->gran - 1)) ||
	    cb->gran % ctx->kv_page_size)
		return -EOPNOTSUPP;
	if (api->stream_create(&cb->stream, ACU_STREAM_NON_BLOCKING))
		return -EIO;
	cb->node = -1;
	cb->dev_pool = -1;
	if (!api->device_get_pci_bus_id(bus_id, sizeof(bus_id), cb->dev)) {
		cb->node = accel_gpu_numa_node(bus_id, &via_drm);
		cuda_find_device_pool(ctx, cb, bus_id);
	}
	return 0;
}

static int cuda_init(struct accel_ctx *ctx)
{
	struct cuda_be *cb = calloc(1, sizeof(*cb));
	unsigned int c;
	int ret;

	if (!cb)
		return -ENOMEM;
	pthread_mutex_init(&cb->lock, NULL);
	pthread_cond_init(&cb->cond, NULL);
	cb->jobs_tail = &cb->jobs;
	ctx->be_priv = cb;
	for (c = 1; c <= CUDA_CHUNK_MAX; c++) {
		cb->pool[c].free = calloc(CUDA_POOL_MAX, sizeof(acu_handle));
		if (!cb->pool[c].free) {
			ret = -ENOMEM;
			goto fail;
		}
	}
	ret = cuda_load(&cb->api);
	if (!ret)
		ret = cuda_open_device(ctx, cb);
	if (ret)
		goto fail;
	cb->host_pages_per_page = cb->gran / ctx->kv_page_size;
	ret = -pthread_create(&cb->refill_thread, NULL, cuda_refill_main, cb);
	if (ret)
		goto fail;
	cb->refill_on = true;
	ret = -pthread_create(&cb->copy_thread, NULL, cuda_copy_main, ctx);
	if (ret)
		goto fail;
	cb->copy_on = true;
	/*
	 * Only now, so that a failure above leaves the context as the host
	 * backend it falls back to expects it. Host copies live in the
	 * preferred host tier: no kernel migration.
	 */
	ctx->page_size = cb->gran;
	ctx->swap_tier = ctx->tier;
	ctx->numa_node = cb->node;
	return 0;
fail:
	/* libcuda stays loaded once cuInit ran (see cuda_fini()). */
	cuda_fini(ctx);
	return ret;
}

/*
 * A kept space gets a new sequence: its host copy is the old sequence's,
 * valid for none of the new one's pages.
 */
static void cuda_space_reuse(struct accel_ctx *ctx, struct accel_space *sp)
{
	struct cuda_space *cs = sp->priv;

	(void)ctx;
	cs->valid = 0;
}

const struct accel_be accel_cuda_backend = {
	.id = ACCEL_BACKEND_CUDA,
	.space_reuse = cuda_space_reuse,
	.init = cuda_init,
	.fini = cuda_fini,
	.space_create = cuda_space_create,
	.space_destroy = cuda_space_destroy,
	.map = cuda_map,
	.unmap = cuda_unmap,
	.swap = cuda_swap,
};
