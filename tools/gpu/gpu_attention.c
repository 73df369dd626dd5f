// SPDX-License-Identifier: GPL-2.0
/*
 * gpu-attention: decode attention over libaccel's tensors against the
 * same kernel over cuMemAlloc'ed memory (what cudaMalloc gives), for
 * tools/gpu-check.sh. Issue 13's goal: within 5 %.
 *
 * Loads the CUDA kernels' fatbin (kernels/attention.cu, built by nvcc)
 * with cuModuleLoad and its entry point kvmem_attn_decode_f16 with
 * cuModuleGetFunction, whose arguments are (Documentation/kernels.md):
 *   const float *q [nseqs][q_heads][head_dim], float *out (same shape),
 *   const unsigned long long *k_base, *v_base, *tokens (one per sequence:
 *   the CUdeviceptr of token 0, head 0 of its K and V, its length),
 *   unsigned long long token_stride, head_stride,
 *   unsigned int q_heads, kv_heads, head_dim;
 * grid (q_heads, nseqs), block 128 threads. Both of libaccel's layouts:
 * per sequence (K and V of a token side by side) and per layer (K and V
 * in spaces of their own). The cuMemAlloc side mirrors the accel side
 * byte for byte: one buffer per sequence (per sequence and K/V with the
 * per-layer layout) with the same strides and the same f16 values
 * (cuMemcpyHtoD), so that only the memory differs; the two kernels'
 * outputs must be bitwise equal. Timed with events, both sides
 * in every round (their order alternating), a round being a number of
 * launches; the figure is the median over rounds of the per-round ratio.
 *
 * libcuda is loaded with dlopen, as libaccel loads it. Prints one JSON
 * object on stdout; exits 0 measured, 1 a step failed, 2 no CUDA device,
 * 3 the driver cannot load modules (tests/cuda-emu has no cuModuleLoad)
 * or the fatbin cannot be loaded: nothing measured.
 * Usage: gpu-attention FATBIN [--quick]
 * Output: {"per_seq": {...}, "per_layer": {...}}, each with the shape,
 * rounds, launches_per_round, accel_ms and cumemalloc_ms (the median time
 * of one launch), ratio_median/min/max (accel over cuMemAlloc; goal:
 * ratio_median <= goal_ratio_max, 1.05) and outputs_equal.
 */
#include <dlfcn.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accel.h"

#define ENTRY		"kvmem_attn_decode_f16"
#define THREADS		128	/* ATTN_CU_THREADS of attention.cu */
#define Q_HEADS		32
#define KV_HEADS	8
#define HEAD_DIM	128
#define F16_BYTES	2

typedef int res_t;			/* CUresult */
typedef unsigned long long dptr_t;	/* CUdeviceptr */

static struct {
	res_t (*init)(unsigned int);
	res_t (*device_get)(int *, int);
	res_t (*ctx_retain)(void **, int);
	res_t (*ctx_release)(int);
	res_t (*ctx_set)(void *);
	res_t (*ctx_sync)(void);
	res_t (*alloc)(dptr_t *, size_t);
	res_t (*free)(dptr_t);
	res_t (*htod)(dptr_t, const void *, size_t);
	res_t (*dtoh)(void *, dptr_t, size_t);
	res_t (*event_create)(void **, unsigned int);
	res_t (*event_record)(void *, void *);
	res_t (*event_sync)(void *);
	res_t (*event_elapsed)(float *, void *, void *);
	res_t (*event_destroy)(void *);
	res_t (*module_load)(void **, const char *);
	res_t (*module_unload)(void *);
	res_t (*module_function)(void **, void *, const char *);
	res_t (*launch)(void *, unsigned int, unsigned int, unsigned int,
			unsigned int, unsigned int, unsigned int, unsigned int,
			void *, void **, void **);
} cu;

/* The module calls go last: the emulation has all the others. */
static const struct { const char *name; size_t off; bool module; } syms[] = {
#define S(f, n, m) { n, offsetof(__typeof__(cu), f), m }
	S(init, "cuInit", false), S(device_get, "cuDeviceGet", false),
	S(ctx_retain, "cuDevicePrimaryCtxRetain", false),
	S(ctx_release, "cuDevicePrimaryCtxRelease_v2", false),
	S(ctx_set, "cuCtxSetCurrent", false),
	S(ctx_sync, "cuCtxSynchronize", false),
	S(htod, "cuMemcpyHtoD_v2", false), S(dtoh, "cuMemcpyDtoH_v2", false),
	S(event_create, "cuEventCreate", false),
	S(event_record, "cuEventRecord", false),
	S(event_sync, "cuEventSynchronize", false),
	S(event_destroy, "cuEventDestroy_v2", false),
	S(alloc, "cuMemAlloc_v2", true), S(free, "cuMemFree_v2", true),
	S(event_elapsed, "cuEventElapsedTime", true),
	S(module_load, "cuModuleLoad", true),
	S(module_unload, "cuModuleUnload", true),
	S(module_function, "cuModuleGetFunction", true),
	S(launch, "cuLaunchKernel", true),
#undef S
};

static int failures;

static bool ok(res_t rc, const char *what)
{
	if (rc) {
		fprintf(stderr, "gpu-attention: %s failed (%d)\n", what, rc);
		failures++;
	}
	return !rc;
}

/* 0 loaded; 2 no libcuda.so.1 or a basic call; 3 no module calls. */
static int load(void)
{
	void *lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
	size_t i;

	if (!lib) {
		fprintf(stderr, "gpu-attention: no libcuda.so.1\n");
		return 2;
	}
	for (i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
		void *f = dlsym(lib, syms[i].name);

		if (!f) {
			fprintf(stderr, "gpu-attention: no %s in libcuda.so.1"
				"%s\n", syms[i].name, syms[i].module ?
				" (the CUDA emulation runs no kernels)" : "");
			return syms[i].module ? 3 : 2;
		}
		memcpy((char *)&cu + syms[i].off, &f, sizeof(f));
	}
	return 0;
}

/* f16 bits of +-[0.25, 1): finite, no denormals, seeded. */
static void fill_f16(uint16_t *p, size_t n, uint64_t seed)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15ULL + 1;

	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (uint16_t)(((x >> 20) & 1) << 15 |
				  (13 + ((x >> 21) & 1)) << 10 | (x & 0x3ff));
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Both sides' per-sequence K and V addresses, and what the kernel takes. */
struct side {
	dptr_t k_base, v_base;	/* device arrays of nseqs addresses */
	dptr_t out;
	void *args[10];
};

/* Device memory of @n bytes holding @host; 0 on failure. */
static dptr_t dev_copy(const void *host, size_t n)
{
	dptr_t d = 0;

	if (!ok(cu.alloc(&d, n), "cuMemAlloc"))
		return 0;
	if (host && !ok(cu.htod(d, host, n), "cuMemcpyHtoD")) {
		cu.free(d);
		return 0;
	}
	return d;
}

/* Milliseconds of @launches launches of @f with @s's arguments. */
static double time_side(void *f, struct side *s, unsigned int nseqs,
			unsigned int launches, void *ev[2])
{
	float ms = -1;

	ok(cu.event_record(ev[0], NULL), "cuEventRecord");
	for (unsigned int i = 0; i < launches; i++)
		ok(cu.launch(f, Q_HEADS, nseqs, 1, THREADS, 1, 1, 0, NULL,
			     s->args, NULL), "cuLaunchKernel");
	ok(cu.event_record(ev[1], NULL), "cuEventRecord");
	ok(cu.event_sync(ev[1]), "cuEventSynchronize");
	ok(cu.event_elapsed(&ms, ev[0], ev[1]), "cuEventElapsedTime");
	return ms;
}

static bool quick;

/*
 * One layout: sets up both sides, checks the outputs, times the rounds
 * and prints the object. False if a step failed.
 */
static bool measure(void *f, uint32_t layout, const char *name)
{
	const unsigned int nseqs = quick ? 2 : 16, rounds = quick ? 3 : 15;
	const unsigned int launches = quick ? 2 : 20;
	const uint64_t tokens = quick ? 64 : 4096;
	const struct accel_geometry geo = {
		.layers = 1, .kv_heads = KV_HEADS, .head_dim = HEAD_DIM,
		.dtype = ACCEL_DTYPE_F16, .max_tokens = tokens,
		.layout = layout,
	};
	const int before = failures;
	struct accel_seq *seqs[16] = { 0 };
	struct accel_ctx *ctx = NULL;
	struct accel_open_opts o;
	struct accel_tensor t[2];
	struct side side[2];	/* 0: accel tensors, 1: cuMemAlloc */
	dptr_t mirror[16][2] = { { 0 } }, q = 0, tok = 0;
	uint64_t kaddr[2][16], vaddr[2][16], ntok[16];
	uint64_t token_stride = 0, head_stride = 0, span = 0;
	double ratio[15], ms[2][15], med[2];
	unsigned int qh = Q_HEADS, kvh = KV_HEADS, hd = HEAD_DIM;
	size_t out_n = (size_t)nseqs * Q_HEADS * HEAD_DIM;
	float *qhost = NULL, *outs[2] = { NULL, NULL };
	uint16_t *kv = NULL;
	void *ev[2] = { NULL, NULL };
	bool equal = false, together = false, printed = false;

	memset(side, 0, sizeof(side));
	accel_open_opts_init(&o);
	o.backend = ACCEL_BACKEND_CUDA;
	if (!ok(accel_open(&o, &ctx), "accel_open(cuda)"))
		goto out;
	for (unsigned int s = 0; s < nseqs; s++) {
		if (!ok(accel_seq_create(ctx, &geo, NULL, &seqs[s]),
			"accel_seq_create") ||
		    !ok(accel_seq_grow(seqs[s], tokens) < 0,
			"accel_seq_grow") ||
		    !ok(accel_seq_tensor(seqs[s], 0, ACCEL_K, &t[0]) ||
			accel_seq_tensor(seqs[s], 0, ACCEL_V, &t[1]),
			"accel_seq_tensor"))
			goto out;
		token_stride = t[0].token_stride;
		head_stride = t[0].head_stride;
		kaddr[0][s] = t[0].base;
		vaddr[0][s] = t[1].base;
		ntok[s] = tokens;
		/* Per sequence: V of a token right after its K. */
		together = t[1].base > t[0].base &&
			   t[1].base - t[0].base < token_stride;
	}
	/* The bytes the tokens cover from a base: K's and V's if together. */
	span = tokens * token_stride;
	kv = malloc(span);
	qhost = malloc(out_n * sizeof(float));
	outs[0] = calloc(out_n, sizeof(float));
	outs[1] = calloc(out_n, sizeof(float));
	if (!kv || !qhost || !outs[0] || !outs[1]) {
		ok(-1, "malloc");
		goto out;
	}
	for (unsigned int s = 0; s < nseqs; s++)
		for (int i = 0; i < (together ? 1 : 2); i++) {
			dptr_t base = i ? vaddr[0][s] : kaddr[0][s];

			fill_f16(kv, span / F16_BYTES, s * 2 + i + 1);
			if (!ok(cu.htod(base, kv, span),
				"cuMemcpyHtoD (accel tensor)"))
				goto out;
			mirror[s][i] = dev_copy(kv, span);
			if (!mirror[s][i])
				goto out;
			if (i)
				vaddr[1][s] = mirror[s][1];
			else
				kaddr[1][s] = mirror[s][0];
		}
	if (together)
		for (unsigned int s = 0; s < nseqs; s++)
			vaddr[1][s] = kaddr[1][s] + (vaddr[0][s] - kaddr[0][s]);
	for (size_t i = 0; i < out_n; i++)
		qhost[i] = (float)((i * 7919 % 2001) / 1000.0 - 1.0);
	q = dev_copy(qhost, out_n * sizeof(float));
	tok = dev_copy(ntok, nseqs * sizeof(uint64_t));
	if (!q || !tok)
		goto out;
	for (int i = 0; i < 2; i++) {
		struct side *sd = &side[i];

		sd->k_base = dev_copy(kaddr[i], nseqs * sizeof(uint64_t));
		sd->v_base = dev_copy(vaddr[i], nseqs * sizeof(uint64_t));
		sd->out = dev_copy(NULL, out_n * sizeof(float));
		if (!sd->k_base || !sd->v_base || !sd->out)
			goto out;
		sd->args[0] = &q;
		sd->args[1] = &sd->out;
		sd->args[2] = &sd->k_base;
		sd->args[3] = &sd->v_base;
		sd->args[4] = &tok;
		sd->args[5] = &token_stride;
		sd->args[6] = &head_stride;
		sd->args[7] = &qh;
		sd->args[8] = &kvh;
		sd->args[9] = &hd;
	}
	if (!ok(cu.event_create(&ev[0], 0), "cuEventCreate") ||
	    !ok(cu.event_create(&ev[1], 0), "cuEventCreate"))
		goto out;

	/* Warm-up, and the outputs, which must be the same. */
	for (int i = 0; i < 2; i++)
		time_side(f, &side[i], nseqs, 1, ev);
	if (!ok(cu.ctx_sync(), "the kernel") ||
	    !ok(cu.dtoh(outs[0], side[0].out, out_n * sizeof(float)),
		"cuMemcpyDtoH") ||
	    !ok(cu.dtoh(outs[1], side[1].out, out_n * sizeof(float)),
		"cuMemcpyDtoH"))
		goto out;
	equal = !memcmp(outs[0], outs[1], out_n * sizeof(float));
	for (size_t i = 0; i < out_n; i++)
		equal &= isfinite(outs[0][i]) != 0;
	if (!equal)
		ok(-1, "outputs over accel tensors and cuMemAlloc equal, "
		   "finite");
	for (unsigned int r = 0; r < rounds; r++) {
		int first = r & 1;

		ms[first][r] = time_side(f, &side[first], nseqs, launches, ev);
		ms[!first][r] = time_side(f, &side[!first], nseqs, launches,
					  ev);
		ratio[r] = ms[0][r] / ms[1][r];
	}
	qsort(ratio, rounds, sizeof(double), cmp_double);
	for (int i = 0; i < 2; i++) {
		qsort(ms[i], rounds, sizeof(double), cmp_double);
		med[i] = ms[i][rounds / 2] / launches;
	}
	printf("  \"%s\": {\"kernel\": \"%s\", \"seqs\": %u, \"tokens\": "
	       "%llu, \"q_heads\": %u, \"kv_heads\": %u, \"head_dim\": %u,\n"
	       "    \"rounds\": %u, \"launches_per_round\": %u, "
	       "\"accel_ms\": %.4f, \"cumemalloc_ms\": %.4f,\n"
	       "    \"ratio_median\": %.4f, \"ratio_min\": %.4f, "
	       "\"ratio_max\": %.4f, \"goal_ratio_max\": 1.05, "
	       "\"outputs_equal\": %s}", name, ENTRY, nseqs,
	       (unsigned long long)tokens, qh, kvh, hd, rounds, launches,
	       med[0], med[1], ratio[rounds / 2], ratio[0],
	       ratio[rounds - 1], equal ? "true" : "false");
	printed = true;
out:
	if (!printed)	/* the step that failed is on stderr */
		printf("  \"%s\": null", name);
	for (int i = 0; i < 2; i++) {
		if (ev[i])
			cu.event_destroy(ev[i]);
		if (side[i].k_base)
			cu.free(side[i].k_base);
		if (side[i].v_base)
			cu.free(side[i].v_base);
		if (side[i].out)
			cu.free(side[i].out);
		free(outs[i]);
	}
	for (unsigned int s = 0; s < nseqs; s++) {
		for (int i = 0; i < 2; i++)
			if (mirror[s][i])
				cu.free(mirror[s][i]);
		accel_seq_destroy(seqs[s]);
	}
	if (q)
		cu.free(q);
	if (tok)
		cu.free(tok);
	accel_close(ctx);
	free(kv);
	free(qhost);
	return failures == before;
}

int main(int argc, char **argv)
{
	void *ctxp, *mod = NULL, *f = NULL;
	int dev, rc;

	quick = argc == 3 && !strcmp(argv[2], "--quick");
	if (argc < 2 || argc > 3 || (argc == 3 && !quick)) {
		fprintf(stderr, "usage: gpu-attention FATBIN [--quick]\n");
		return 1;
	}
	rc = load();
	if (rc)
		return rc;
	if (cu.init(0) || cu.device_get(&dev, 0) ||
	    cu.ctx_retain(&ctxp, dev) || cu.ctx_set(ctxp)) {
		fprintf(stderr, "gpu-attention: no CUDA device\n");
		return 2;
	}
	rc = cu.module_load(&mod, argv[1]);
	if (rc || cu.module_function(&f, mod, ENTRY)) {
		fprintf(stderr, "gpu-attention: %s: %s (%d): build it with "
			"nvcc -fatbin from kernels/attention.cu for this GPU\n",
			argv[1], rc ? "cuModuleLoad failed" : "no " ENTRY, rc);
		cu.ctx_release(dev);
		return 3;
	}
	printf("{\n");
	measure(f, ACCEL_LAYOUT_PER_SEQ, "per_seq");
	printf(",\n");
	measure(f, ACCEL_LAYOUT_PER_LAYER, "per_layer");
	printf("\n}\n");
	cu.module_unload(mod);
	cu.ctx_release(dev);
	return failures ? 1 : 0;
}
