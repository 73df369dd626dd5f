// SPDX-License-Identifier: GPL-2.0
/*
 * accel-calls-bench: CUDA Driver API calls per 1,000 tokens of growth,
 * counted exactly by tests/cuda-emu's libcuda.so.1, for libaccel's cuda
 * backend against a vAttention-style mapping of the same geometry: one
 * space per layer and K/V, each new page created, mapped and made
 * accessible on its own (cuMemCreate + cuMemMap + cuMemSetAccess).
 *
 * Counted calls: cuMemCreate, cuMemMap and cuMemSetAccess, wherever they
 * are made (libaccel creates ahead, on its refill thread; the count is the
 * same either way). Run in the VM with the module (libaccel's host copies
 * are kvmem spaces) and the emulation on the library path. Prints the
 * figures as kvmem-bench does: a line, and a BENCH-JSON line.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accel.h"
#include "cuda_abi.h"
#include "../../../tests/cuda-emu/cuemu.h"

#define TOKENS		4096

static const struct accel_geometry geo = {
	.layers = 32, .kv_heads = 8, .head_dim = 128,
	.dtype = ACCEL_DTYPE_F16, .max_tokens = TOKENS,
};

static cuemu_counts_fn counts;
static void *cu;

static void die(const char *what)
{
	fprintf(stderr, "accel-calls-bench: %s\n", what);
	exit(1);
}

static uint64_t calls(void)
{
	struct cuemu_counts c;

	counts(&c);
	return c.mem_create + c.mem_map + c.mem_set_access;
}

/* libaccel's cuda backend, one token per step, with step-ahead. */
static double accel_calls(uint32_t layout)
{
	struct accel_geometry g = geo;
	struct accel_open_opts o;
	struct accel_ctx *ctx;
	struct accel_seq *s;
	uint64_t c0, c1, t;

	g.layout = layout;
	accel_open_opts_init(&o);
	o.backend = ACCEL_BACKEND_CUDA;
	o.step_ahead = 8;
	o.tokens_per_step = 1;
	if (accel_open(&o, &ctx))
		die("accel_open (cuda backend on the emulation)");
	c0 = calls();
	if (accel_seq_create(ctx, &g, NULL, &s))
		die("accel_seq_create");
	for (t = 1; t <= TOKENS; t++)
		if (accel_seq_grow(s, t) < 0)
			die("accel_seq_grow");
	c1 = calls();
	accel_seq_destroy(s);
	accel_close(ctx);
	return (double)(c1 - c0) * 1000.0 / TOKENS;
}

#define SYM(var, name)							\
	do {								\
		*(void **)&var = dlsym(cu, name);			\
		if (!var)						\
			die("no " name " in libcuda.so.1");		\
	} while (0)

/* vAttention-style: per layer and K/V, per page, create + map + access. */
static double vattention_calls(void)
{
	acu_result (*init)(unsigned int);
	acu_result (*dev_get)(acu_device *, int);
	acu_result (*retain)(acu_context *, acu_device);
	acu_result (*release_ctx)(acu_device);
	acu_result (*set_current)(acu_context);
	acu_result (*gran_of)(size_t *, const struct acu_mem_prop *, int);
	acu_result (*reserve)(acu_deviceptr *, size_t, size_t, acu_deviceptr,
			      unsigned long long);
	acu_result (*addr_free)(acu_deviceptr, size_t);
	acu_result (*create)(acu_handle *, size_t, const struct acu_mem_prop *,
			     unsigned long long);
	acu_result (*map)(acu_deviceptr, size_t, size_t, acu_handle,
			  unsigned long long);
	acu_result (*unmap)(acu_deviceptr, size_t);
	acu_result (*release)(acu_handle);
	acu_result (*access)(acu_deviceptr, size_t,
			     const struct acu_access_desc *, size_t);
	struct acu_mem_prop prop = {
		.type = ACU_MEM_ALLOCATION_TYPE_PINNED,
		.location = { ACU_MEM_LOCATION_TYPE_DEVICE, 0 },
	};
	struct acu_access_desc ad = {
		.location = { ACU_MEM_LOCATION_TYPE_DEVICE, 0 },
		.flags = ACU_MEM_ACCESS_FLAGS_PROT_READWRITE,
	};
	uint64_t tensor = (uint64_t)geo.kv_heads * geo.head_dim * 2;
	unsigned int n = 2 * geo.layers, i;
	acu_deviceptr *base;
	acu_handle *h;
	uint64_t c0, c1, t, mapped = 0, pages, bytes;
	acu_context cctx;
	acu_device dev;
	size_t gran;

	SYM(init, "cuInit");
	SYM(dev_get, "cuDeviceGet");
	SYM(retain, "cuDevicePrimaryCtxRetain");
	SYM(release_ctx, "cuDevicePrimaryCtxRelease_v2");
	SYM(set_current, "cuCtxSetCurrent");
	SYM(gran_of, "cuMemGetAllocationGranularity");
	SYM(reserve, "cuMemAddressReserve");
	SYM(addr_free, "cuMemAddressFree");
	SYM(create, "cuMemCreate");
	SYM(map, "cuMemMap");
	SYM(unmap, "cuMemUnmap");
	SYM(release, "cuMemRelease");
	SYM(access, "cuMemSetAccess");
	if (init(0) || dev_get(&dev, 0) || retain(&cctx, dev) ||
	    set_current(cctx) ||
	    gran_of(&gran, &prop, ACU_MEM_ALLOC_GRANULARITY_RECOMMENDED))
		die("CUDA setup for the baseline");
	bytes = (TOKENS * tensor + gran - 1) / gran * gran;
	pages = bytes / gran;
	base = calloc(n, sizeof(*base));
	h = calloc((size_t)n * pages, sizeof(*h));
	if (!base || !h)
		die("out of memory");
	for (i = 0; i < n; i++)
		if (reserve(&base[i], bytes, gran, 0, 0))
			die("cuMemAddressReserve");
	c0 = calls();
	for (t = 1; t <= TOKENS; t++) {
		uint64_t need = (t * tensor + gran - 1) / gran;

		for (; mapped < need; mapped++) {
			for (i = 0; i < n; i++) {
				acu_handle *hp = &h[i * pages + mapped];
				acu_deviceptr at = base[i] + mapped * gran;

				if (create(hp, gran, &prop, 0) ||
				    map(at, gran, 0, *hp, 0) ||
				    access(at, gran, &ad, 1))
					die("baseline mapping");
			}
		}
	}
	c1 = calls();
	for (i = 0; i < n; i++) {
		for (t = 0; t < mapped; t++) {
			unmap(base[i] + t * gran, gran);
			release(h[i * pages + t]);
		}
		addr_free(base[i], bytes);
	}
	release_ctx(dev);
	free(base);
	free(h);
	return (double)(c1 - c0) * 1000.0 / TOKENS;
}

static void report(const char *name, double v, double base, double limit,
		   const char *limit_name)
{
	printf("%-18s kvmem %10.1f calls/1k tokens | vattention %10.1f "
	       "calls/1k tokens | ratio %.2f (lower is better) | limit %.1f "
	       "(%s)\n", name, v, base, v / base, limit, limit_name);
	printf("BENCH-JSON {\"bench\":\"%s\",\"unit\":\"calls/1k tokens\","
	       "\"kvmem\":%.3f,\"baseline\":%.3f,\"baseline_name\":"
	       "\"vAttention-style per-page per-layer create+map+access\","
	       "\"ratio\":%.4f,\"better\":\"lower\",\"limit\":%.3f,"
	       "\"limit_name\":\"%s\",\"size_mib\":0,\"rounds\":1}\n", name, v,
	       base, v / base, limit, limit_name);
}

int main(void)
{
	double base, seq, layer, limit;

	cu = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
	if (!cu)
		die("libcuda.so.1 (the emulation) not found");
	counts = (cuemu_counts_fn)dlsym(cu, "cuemu_counts");
	if (!counts)
		die("libcuda.so.1 is not the emulation (no cuemu_counts)");
	base = vattention_calls();
	seq = accel_calls(ACCEL_LAYOUT_PER_SEQ);
	layer = accel_calls(ACCEL_LAYOUT_PER_LAYER);
	/*
	 * Limit: what no mapping can beat, one cuMemCreate, one cuMemMap and
	 * one cuMemSetAccess for all of a sequence's tokens at once (which
	 * would hold its whole maximum size from the start).
	 */
	limit = 3.0 * 1000 / TOKENS;
	report("accel_calls_seq", seq, base, limit,
	       "create, map and access once for the whole sequence");
	report("accel_calls_layer", layer, base, limit,
	       "create, map and access once for the whole sequence");
	return 0;
}
