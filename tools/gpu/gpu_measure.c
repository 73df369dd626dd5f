// SPDX-License-Identifier: GPL-2.0
/*
 * gpu-measure: the figures tools/gpu-check.sh reports, for libaccel's cuda
 * backend without the kvmem module, against whatever libcuda.so.1 the
 * loader finds (the machine's driver, or tests/cuda-emu's emulation):
 *
 *  - swap-out and swap-in bandwidth of one sequence and of many, against
 *    one copy of a pinned host buffer of the same size each way (the
 *    link's practical limit; what cudaMemcpyAsync does, through the
 *    Driver API: cuMemcpy{DtoH,HtoD}Async from cuMemHostRegister'ed
 *    memory);
 *  - Driver API calls and wall time per 1,000 tokens grown, against a
 *    vAttention-style mapping (per layer and K/V, per page: cuMemCreate,
 *    cuMemMap, cuMemSetAccess); calls counted only by the emulation
 *    (cuemu_counts), null against a real driver;
 *  - the fraction of grows that blocked with step-ahead under a
 *    decode-like step time.
 *
 * libcuda is loaded with dlopen, as libaccel loads it. Prints one JSON
 * object on stdout; exits 1 if a measurement could not be made, 2 if
 * there is no CUDA device. Usage: gpu-measure [--quick]
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "accel.h"
#include "cuda_abi.h"
#include "../../tests/cuda-emu/cuemu.h"

struct cu {
	acu_result (*init)(unsigned int);
	acu_result (*driver_version)(int *);
	acu_result (*device_get)(acu_device *, int);
	acu_result (*device_name)(char *, int, acu_device);
	acu_result (*ctx_retain)(acu_context *, acu_device);
	acu_result (*ctx_release)(acu_device);
	acu_result (*ctx_set)(acu_context);
	acu_result (*gran)(size_t *, const struct acu_mem_prop *, int);
	acu_result (*reserve)(acu_deviceptr *, size_t, size_t, acu_deviceptr,
			      unsigned long long);
	acu_result (*addr_free)(acu_deviceptr, size_t);
	acu_result (*create)(acu_handle *, size_t, const struct acu_mem_prop *,
			     unsigned long long);
	acu_result (*release)(acu_handle);
	acu_result (*map)(acu_deviceptr, size_t, size_t, acu_handle,
			  unsigned long long);
	acu_result (*unmap)(acu_deviceptr, size_t);
	acu_result (*set_access)(acu_deviceptr, size_t,
				 const struct acu_access_desc *, size_t);
	acu_result (*stream_create)(acu_stream *, unsigned int);
	acu_result (*stream_destroy)(acu_stream);
	acu_result (*stream_sync)(acu_stream);
	acu_result (*dtoh)(void *, acu_deviceptr, size_t, acu_stream);
	acu_result (*htod)(acu_deviceptr, const void *, size_t, acu_stream);
	acu_result (*host_register)(void *, size_t, unsigned int);
	acu_result (*host_unregister)(void *);
};

static const struct { const char *name; size_t off; } syms[] = {
#define S(f, n) { n, offsetof(struct cu, f) }
	S(init, "cuInit"), S(driver_version, "cuDriverGetVersion"),
	S(device_get, "cuDeviceGet"), S(device_name, "cuDeviceGetName"),
	S(ctx_retain, "cuDevicePrimaryCtxRetain"),
	S(ctx_release, "cuDevicePrimaryCtxRelease_v2"),
	S(ctx_set, "cuCtxSetCurrent"),
	S(gran, "cuMemGetAllocationGranularity"),
	S(reserve, "cuMemAddressReserve"), S(addr_free, "cuMemAddressFree"),
	S(create, "cuMemCreate"), S(release, "cuMemRelease"),
	S(map, "cuMemMap"), S(unmap, "cuMemUnmap"),
	S(set_access, "cuMemSetAccess"),
	S(stream_create, "cuStreamCreate"),
	S(stream_destroy, "cuStreamDestroy_v2"),
	S(stream_sync, "cuStreamSynchronize"),
	S(dtoh, "cuMemcpyDtoHAsync_v2"), S(htod, "cuMemcpyHtoDAsync_v2"),
	S(host_register, "cuMemHostRegister_v2"),
	S(host_unregister, "cuMemHostUnregister"),
#undef S
};

static struct cu cu;
static cuemu_counts_fn emu_counts;	/* only in the emulation */
static acu_device dev;
static struct acu_mem_prop prop;
static size_t gran;
static bool quick;
static int failures;

static const struct accel_geometry geo = {
	.layers = 32, .kv_heads = 8, .head_dim = 128,
	.dtype = ACCEL_DTYPE_F16, .max_tokens = 32768,
	.layout = ACCEL_LAYOUT_PER_SEQ,
};

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static void fail(const char *what, long v)
{
	fprintf(stderr, "gpu-measure: %s failed (%ld)\n", what, v);
	failures++;
}

static int load(void)
{
	void *lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
	size_t i;

	if (!lib)
		return -1;
	for (i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
		void *f = dlsym(lib, syms[i].name);

		if (!f) {
			fprintf(stderr, "gpu-measure: no %s in libcuda.so.1\n",
				syms[i].name);
			return -1;
		}
		memcpy((char *)&cu + syms[i].off, &f, sizeof(f));
	}
	emu_counts = (cuemu_counts_fn)dlsym(lib, "cuemu_counts");
	return 0;
}

static uint64_t vmm_calls(void)
{
	struct cuemu_counts c;

	if (!emu_counts)
		return 0;
	emu_counts(&c);
	return c.mem_create + c.mem_map + c.mem_set_access;
}

static struct accel_ctx *open_ctx(uint32_t step_ahead)
{
	struct accel_open_opts o;
	struct accel_ctx *ctx = NULL;
	int ret;

	accel_open_opts_init(&o);
	o.backend = ACCEL_BACKEND_CUDA;
	o.step_ahead = step_ahead;
	o.flags = ACCEL_OPEN_NO_KEEP;
	ret = accel_open(&o, &ctx);
	if (ret)
		fail("accel_open(cuda)", ret);
	return ctx;
}

/* Swaps @n sequences of @tokens out and back in: GB/s each way. */
static void swap_bw(unsigned int n, uint64_t tokens, double *out_gbs,
		    double *in_gbs, uint64_t *bytes)
{
	struct accel_ctx *ctx = open_ctx(0);
	struct accel_seq *s[64] = { 0 };
	struct accel_stats st0, st1;
	double t0, t1, t2;
	unsigned int i;
	int ret = 0;

	*out_gbs = *in_gbs = 0;
	*bytes = 0;
	if (!ctx)
		return;
	for (i = 0; i < n && !ret; i++) {
		ret = accel_seq_create(ctx, &geo, NULL, &s[i]);
		if (!ret)
			ret = accel_seq_grow(s[i], tokens) < 0 ? -EIO : 0;
	}
	if (ret) {
		fail("create and grow", ret);
		goto out;
	}
	accel_stats(ctx, &st0);
	t0 = now_s();
	for (i = 0; i < n && !ret; i++)
		ret = accel_seq_swap_out(s[i]);
	for (i = 0; i < n && !ret; i++)
		ret = accel_seq_wait(s[i], 60000);
	t1 = now_s();
	for (i = 0; i < n && !ret; i++)
		ret = accel_seq_swap_in(s[i]);
	for (i = 0; i < n && !ret; i++)
		ret = accel_seq_wait(s[i], 60000);
	t2 = now_s();
	accel_stats(ctx, &st1);
	if (ret) {
		fail("swap round trip", ret);
		goto out;
	}
	/* Both ways copy the same bytes: half the total each. */
	*bytes = (st1.swap_bytes_copied - st0.swap_bytes_copied) / 2;
	*out_gbs = *bytes / (t1 - t0) / 1e9;
	*in_gbs = *bytes / (t2 - t1) / 1e9;
out:
	for (i = 0; i < n; i++)
		accel_seq_destroy(s[i]);
	accel_close(ctx);
}

/* One pinned buffer of @bytes copied out and in, once each: GB/s. */
static void pinned_bw(uint64_t bytes, double *out_gbs, double *in_gbs)
{
	struct acu_access_desc a = {
		.location = { ACU_MEM_LOCATION_TYPE_DEVICE, dev },
		.flags = ACU_MEM_ACCESS_FLAGS_PROT_READWRITE,
	};
	size_t len = (bytes + gran - 1) / gran * gran;
	acu_deviceptr d = 0;
	acu_handle h = 0;
	acu_stream st = NULL;
	double t0, t1, t2;
	void *host;

	*out_gbs = *in_gbs = 0;
	host = mmap(NULL, len, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (host == MAP_FAILED) {
		fail("mmap", errno);
		return;
	}
	memset(host, 1, len);
	if (cu.reserve(&d, len, gran, 0, 0) || cu.create(&h, len, &prop, 0) ||
	    cu.map(d, len, 0, h, 0) || cu.set_access(d, len, &a, 1) ||
	    cu.host_register(host, len, 0) || cu.stream_create(&st, 1)) {
		fail("pinned buffer set-up", 0);
		goto out;
	}
	t0 = now_s();
	if (cu.dtoh(host, d, len, st) || cu.stream_sync(st))
		fail("cuMemcpyDtoHAsync", 0);
	t1 = now_s();
	if (cu.htod(d, host, len, st) || cu.stream_sync(st))
		fail("cuMemcpyHtoDAsync", 0);
	t2 = now_s();
	*out_gbs = len / (t1 - t0) / 1e9;
	*in_gbs = len / (t2 - t1) / 1e9;
out:
	if (st)
		cu.stream_destroy(st);
	cu.host_unregister(host);
	if (h) {
		cu.unmap(d, len);
		cu.release(h);
	}
	if (d)
		cu.addr_free(d, len);
	munmap(host, len);
}

/* libaccel: one token a step; calls (emulation) and seconds per 1k. */
static void accel_grow(uint64_t tokens, double *calls, double *secs)
{
	struct accel_ctx *ctx = open_ctx(8);
	struct accel_seq *s = NULL;
	uint64_t c0, t;
	double t0;

	*calls = *secs = 0;
	if (!ctx || accel_seq_create(ctx, &geo, NULL, &s)) {
		fail("accel grow set-up", 0);
		accel_close(ctx);
		return;
	}
	c0 = vmm_calls();
	t0 = now_s();
	for (t = 1; t <= tokens; t++)
		if (accel_seq_grow(s, t) < 0) {
			fail("accel_seq_grow", (long)t);
			break;
		}
	*secs = (now_s() - t0) * 1000 / tokens;
	accel_seq_destroy(s);
	accel_close(ctx);	/* the refill thread's calls count too */
	*calls = (double)(vmm_calls() - c0) * 1000 / tokens;
}

/*
 * vAttention-style: per layer and K/V a reserved range; each page needed
 * is created, mapped and made accessible on its own.
 */
static void vattention_grow(uint64_t tokens, double *calls, double *secs)
{
	struct acu_access_desc a = {
		.location = { ACU_MEM_LOCATION_TYPE_DEVICE, dev },
		.flags = ACU_MEM_ACCESS_FLAGS_PROT_READWRITE,
	};
	const unsigned int nr = geo.layers * 2;
	uint64_t per_tok = (uint64_t)geo.kv_heads * geo.head_dim * 2;
	uint64_t span = (tokens * per_tok + gran - 1) / gran * gran;
	uint64_t pages = span / gran, mapped = 0, t, p, n = 0;
	acu_deviceptr base[64] = { 0 };
	acu_handle *h = calloc(nr * pages, sizeof(*h));
	unsigned int r;
	double t0;

	*calls = *secs = 0;
	for (r = 0; r < nr && h; r++)
		if (cu.reserve(&base[r], span, gran, 0, 0)) {
			fail("cuMemAddressReserve", r);
			goto out;
		}
	t0 = now_s();
	for (t = 1; t <= tokens && h; t++) {
		uint64_t need = (t * per_tok + gran - 1) / gran;

		for (; mapped < need; mapped++)
			for (r = 0; r < nr; r++) {
				acu_handle *x = &h[r * pages + mapped];
				acu_deviceptr at = base[r] + mapped * gran;

				n += 3;
				if (cu.create(x, gran, &prop, 0) ||
				    cu.map(at, gran, 0, *x, 0) ||
				    cu.set_access(at, gran, &a, 1)) {
					fail("vattention map", (long)t);
					goto out;
				}
			}
	}
	*secs = (now_s() - t0) * 1000 / tokens;
	*calls = (double)n * 1000 / tokens;
out:
	for (r = 0; r < nr && h; r++) {
		for (p = 0; p < pages; p++)
			if (h[r * pages + p]) {
				cu.unmap(base[r] + p * gran, gran);
				cu.release(h[r * pages + p]);
			}
		if (base[r])
			cu.addr_free(base[r], span);
	}
	free(h);
}

/* Grows one token a step, sleeping @step_us between: blocked fraction. */
static double ahead_blocked(uint64_t steps, long step_us)
{
	struct accel_ctx *ctx = open_ctx(8);
	struct accel_seq *s = NULL;
	struct timespec nap = { 0, step_us * 1000 };
	struct accel_stats st;
	uint64_t t;

	if (!ctx || accel_seq_create(ctx, &geo, NULL, &s)) {
		fail("step-ahead set-up", 0);
		accel_close(ctx);
		return -1;
	}
	for (t = 1; t <= steps; t++) {
		if (accel_seq_grow(s, t) < 0) {
			fail("accel_seq_grow", (long)t);
			break;
		}
		nanosleep(&nap, NULL);
	}
	accel_stats(ctx, &st);
	accel_seq_destroy(s);
	accel_close(ctx);
	return st.grow_calls ? (double)st.grow_blocked / st.grow_calls : -1;
}

int main(int argc, char **argv)
{
	uint64_t tok = 16384, one_b, many_b;
	double o1, i1, om, im, po, pi, ac, as, vc, vs, blocked;
	int ver = 0;
	acu_context c;
	char name[128] = "?";

	quick = argc > 1 && !strcmp(argv[1], "--quick");
	if (quick)
		tok = 512;
	if (load() || cu.init(0) || cu.device_get(&dev, 0) ||
	    cu.ctx_retain(&c, dev) || cu.ctx_set(c)) {
		fprintf(stderr, "gpu-measure: no CUDA device\n");
		return 2;
	}
	cu.driver_version(&ver);
	cu.device_name(name, sizeof(name), dev);
	prop.type = ACU_MEM_ALLOCATION_TYPE_PINNED;
	prop.location.type = ACU_MEM_LOCATION_TYPE_DEVICE;
	prop.location.id = dev;
	if (cu.gran(&gran, &prop, ACU_MEM_ALLOC_GRANULARITY_RECOMMENDED) ||
	    !gran) {
		fprintf(stderr, "gpu-measure: no allocation granularity\n");
		return 1;
	}
	swap_bw(1, tok, &o1, &i1, &one_b);
	swap_bw(16, tok / 16, &om, &im, &many_b);
	pinned_bw(one_b ? one_b : gran, &po, &pi);
	accel_grow(tok, &ac, &as);
	vattention_grow(tok, &vc, &vs);
	blocked = ahead_blocked(quick ? 200 : 2000, quick ? 200 : 20000);
	printf("{\n  \"device\": \"%s\", \"driver_version\": %d,\n"
	       "  \"emulation\": %s, \"granularity\": %zu, \"tokens\": %llu,\n"
	       "  \"swap\": {\"one_bytes\": %llu, \"one_out_gbs\": %.3f, "
	       "\"one_in_gbs\": %.3f,\n    \"many_seqs\": 16, \"many_bytes\": "
	       "%llu, \"many_out_gbs\": %.3f, \"many_in_gbs\": %.3f,\n"
	       "    \"pinned_out_gbs\": %.3f, \"pinned_in_gbs\": %.3f, "
	       "\"goal_fraction\": 0.9},\n",
	       name, ver, emu_counts ? "true" : "false", gran,
	       (unsigned long long)tok, (unsigned long long)one_b, o1, i1,
	       (unsigned long long)many_b, om, im, po, pi);
	if (emu_counts)
		printf("  \"grow\": {\"accel_calls_per_1k\": %.1f, "
		       "\"vattention_calls_per_1k\": %.1f,\n", ac, vc);
	else
		printf("  \"grow\": {\"accel_calls_per_1k\": null, "
		       "\"vattention_calls_per_1k\": %.1f,\n", vc);
	printf("    \"accel_s_per_1k\": %.6f, \"vattention_s_per_1k\": %.6f},\n"
	       "  \"step_ahead\": {\"step_us\": %ld, \"blocked_fraction\": "
	       "%.4f}\n}\n", as, vs, quick ? 200L : 20000L, blocked);
	cu.ctx_release(dev);
	return failures ? 1 : 0;
}
