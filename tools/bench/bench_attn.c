// SPDX-License-Identifier: GPL-2.0
/*
 * Decode attention over KV in place (kernels/attention.c): does reading K
 * and V through libaccel's tensors cost anything against the same kernel
 * over one plain malloc'ed buffer, and against the paged variant? (kvcached
 * found its contiguous virtual layout made attention 56 % slower on a GPU:
 * measured here, not assumed.)
 *
 * The model: one layer of a Llama-3-8B-like attention, 32 query heads over
 * 8 KV heads of 128 dims, F16, ACCEL_LAYOUT_PER_LAYER; NSEQ sequences of
 * lengths around TOKENS (different, odd). The same values sit in all three
 * copies: the libaccel tensors (kvmem-bench, in the VM: the host backend on
 * /dev/kvmem; attn-bench on the host: page-aligned anonymous mmap laid out
 * by libaccel's layout code, since the host has no module), one malloc'ed
 * buffer with the same strides, and a pool of 16-token blocks read through
 * shuffled block tables. One round is REPS calls of attn_decode() over all
 * sequences on a pool of one thread per CPU (host; $ATTN_BENCH_THREADS
 * sets it) or of one thread (the guest). Rounds are interleaved in
 * pairs, ABBA (so that drift cancels), and the figure is the median of the
 * paired ratios, with their spread (pairs.c).
 *
 *  attn_accel_vs_malloc: time of a round over libaccel tensors against the
 *	malloc'ed buffer (goal: within 5 %, ratio 0.95-1.05).
 *  attn_accel_vs_paged: the same against the paged variant.
 * Limit of both: reading every KV byte once (a memcpy of as many bytes
 * from the malloc'ed copy, measured in the same run, times REPS).
 * The outputs of the three must be bit-identical (the same kernel, the
 * same values, the same order of operations): checked, or the bench dies.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "accel.h"
#include "attention.h"
#include "bench.h"

#define NSEQ	8
#define QH	32
#define KVH	8
#define DIM	128

#ifdef ATTN_BENCH_HOST
#define TOKENS	1500
#define REPS	8
#define PAIRS	16
#include "../../libaccel/layout.h"
#else
/* The guest runs under TCG: smaller, and on one thread, since a round
 * on two vCPUs waits for the slower one, whichever the host delays. */
#define TOKENS	256
#define REPS	1
#define PAIRS	10
#define ATTN_BENCH_DEFAULT_THREADS 1
#endif
#ifndef ATTN_BENCH_DEFAULT_THREADS
#define ATTN_BENCH_DEFAULT_THREADS 0	/* one per CPU */
#endif

static double clock_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void fail(const char *what, int err)
{
	fprintf(stderr, "attn-bench: %s: %s\n", what, strerror(err));
	exit(1);
}

static uint64_t lens[NSEQ];

/* Token t, head g of sequence s's K (kv 0) or V (kv 1) in tensor t. */
static void *at(const struct accel_tensor *t, uint64_t tok)
{
	return (char *)(uintptr_t)t->base + tok * t->token_stride;
}

static void fill(struct accel_tensor *kv, uint64_t *rng)
{
	for (int s = 0; s < 2 * NSEQ; s++)
		for (uint64_t t = 0; t < lens[s / 2]; t++) {
			uint16_t *p = at(&kv[s], t);

			for (int i = 0; i < KVH * DIM; i++) {
				*rng = *rng * 6364136223846793005ULL + 1442695040888963407ULL;
				p[i] = attn_f32_to_f16((float)((*rng >> 40) * 0x1p-23) - 1.0f);
			}
		}
}

static double round_us(struct attn_pool *pool, const struct attn_shape *sh,
		       const struct attn_seq *seqs,
		       const struct attn_paged_cache *pc,
		       const struct attn_paged_seq *ps)
{
	double t0 = clock_us();
	int r, ret;

	for (r = 0; r < REPS; r++) {
		ret = seqs ? attn_decode(pool, sh, seqs, NSEQ) :
			     attn_decode_paged(pool, sh, pc, ps, NSEQ);
		if (ret)
			fail("attn_decode", -ret);
	}
	return clock_us() - t0;
}

/*
 * Runs the bench over lib[2 * NSEQ] (K, V of each sequence; filled here):
 * the libaccel side, whatever made it.
 */
static void attn_bench_run(struct accel_tensor *lib)
{
	struct attn_shape sh = { QH, KVH, DIM };
	struct attn_seq a[NSEQ], b[NSEQ];
	struct attn_paged_seq ps[NSEQ];
	struct attn_paged_cache pc;
	struct accel_tensor mal[2 * NSEQ];
	uint64_t tok_b = KVH * DIM * 2, rng = 42, total = 0, nb = 0, i;
	uint64_t blk_b = tok_b * ATTN_BLOCK_TOKENS;
	double ta[PAIRS], tb[PAIRS], tc[PAIRS], tm[PAIRS], cpy = 0;
	uint32_t *perm, *tables;
	struct attn_pool *pool;
	char *buf, *kp, *vp, *dst;
	float *q, *out;
	int s, r, ret;

	for (s = 0; s < NSEQ; s++) {
		total += 2 * lens[s] * tok_b;
		nb += (lens[s] + 15) / 16;
	}
	fill(lib, &rng);
	/* The malloc'ed copy: all K and V one after the other, same strides. */
	/*
	 * Aligned as an engine's allocator aligns (and as libaccel's pages
	 * are): plain malloc() returns 16 bytes past a boundary for large
	 * blocks, and then each 256-byte head row spans five cache lines
	 * instead of four and half the 32-byte loads split a line, which
	 * measured 25-30 % slower here: a baseline that loses for that
	 * reason would flatter libaccel.
	 */
	buf = aligned_alloc(4096, (total + 4095) & ~4095ULL);
	dst = aligned_alloc(4096, (total + 4095) & ~4095ULL);
	kp = aligned_alloc(4096, nb * blk_b);
	vp = aligned_alloc(4096, nb * blk_b);
	perm = malloc(nb * sizeof(*perm));
	tables = malloc(nb * sizeof(*tables));
	q = malloc(sizeof(float) * NSEQ * QH * DIM * 3);
	if (!buf || !dst || !kp || !vp || !perm || !tables || !q)
		fail("malloc", ENOMEM);
	out = q + NSEQ * QH * DIM;
	for (i = 0; i < NSEQ * QH * DIM; i++)
		q[i] = (float)((i * 2654435761u) % 2001) / 1000.0f - 1.0f;
	for (i = 0; i < nb; i++)
		perm[i] = (uint32_t)i;
	for (i = nb - 1; i > 0; i--) {
		uint64_t j = (rng = rng * 6364136223846793005ULL + 1) % (i + 1);
		uint32_t x = perm[i];

		perm[i] = perm[j];
		perm[j] = x;
	}
	{
		char *p = buf;
		uint64_t bt = 0;

		for (s = 0; s < 2 * NSEQ; s++) {
			mal[s] = lib[s];
			mal[s].base = (uintptr_t)p;
			mal[s].token_stride = tok_b;
			for (uint64_t t = 0; t < lens[s / 2]; t++)
				memcpy(at(&mal[s], t), at(&lib[s], t), tok_b);
			p += lens[s / 2] * tok_b;
		}
		for (s = 0; s < NSEQ; s++) {
			uint64_t nbl = (lens[s] + 15) / 16;

			for (uint64_t t = 0; t < lens[s]; t++) {
				uint64_t off = perm[bt + t / 16] * blk_b + t % 16 * tok_b;

				memcpy(kp + off, at(&lib[2 * s], t), tok_b);
				memcpy(vp + off, at(&lib[2 * s + 1], t), tok_b);
			}
			memcpy(tables + bt, perm + bt, nbl * sizeof(*tables));
			ps[s] = (struct attn_paged_seq){ tables + bt, lens[s],
				q + s * QH * DIM, NULL };
			bt += nbl;
		}
	}
	pc = (struct attn_paged_cache){ .k_base = (uintptr_t)kp,
		.v_base = (uintptr_t)vp, .block_stride = blk_b,
		.token_stride = tok_b, .head_stride = DIM * 2, .nblocks = nb,
		.dtype = ACCEL_DTYPE_F16 };
	for (s = 0; s < NSEQ; s++) {
		a[s] = (struct attn_seq){ lib[2 * s], lib[2 * s + 1], lens[s],
			q + s * QH * DIM, out + s * QH * DIM };
		b[s] = a[s];
		b[s].k = mal[2 * s];
		b[s].v = mal[2 * s + 1];
		b[s].out = out + NSEQ * QH * DIM + s * QH * DIM;
		ps[s].out = b[s].out;
	}
	ret = attn_pool_create(getenv("ATTN_BENCH_THREADS") ?
			       (unsigned int)atoi(getenv("ATTN_BENCH_THREADS")) :
			       ATTN_BENCH_DEFAULT_THREADS, &pool);
	if (ret)
		fail("attn_pool_create", -ret);
	/* Warm up, and the three give the same bits. */
	round_us(pool, &sh, a, NULL, NULL);
	round_us(pool, &sh, b, NULL, NULL);
	if (memcmp(a[0].out, b[0].out, sizeof(float) * NSEQ * QH * DIM))
		fail("libaccel and malloc outputs differ", EIO);
	round_us(pool, &sh, NULL, &pc, ps);
	if (memcmp(a[0].out, b[0].out, sizeof(float) * NSEQ * QH * DIM))
		fail("libaccel and paged outputs differ", EIO);
	for (r = 0; r < PAIRS; r++) {
		double t0;

		if (r % 2) {
			tb[r] = round_us(pool, &sh, b, NULL, NULL);
			ta[r] = round_us(pool, &sh, a, NULL, NULL);
		} else {
			ta[r] = round_us(pool, &sh, a, NULL, NULL);
			tb[r] = round_us(pool, &sh, b, NULL, NULL);
		}
		tc[r] = round_us(pool, &sh, NULL, &pc, ps);
		/* The paired libaccel round for the paged ratio: after it. */
		tm[r] = round_us(pool, &sh, a, NULL, NULL);
		t0 = clock_us();
		for (int k = 0; k < REPS; k++)
			memcpy(dst, buf, total);
		__asm__ volatile("" ::: "memory");
		cpy += clock_us() - t0;
	}
	printf("attn: %d sequences of %llu-%llu tokens, %u/%u heads of %u, "
	       "f16, %u threads, %s loops\n", NSEQ,
	       (unsigned long long)lens[0], (unsigned long long)lens[NSEQ - 1],
	       QH, KVH, DIM, attn_pool_threads(pool), attn_isa());
	report_paired("attn_accel_vs_malloc", "us", ta, tb, PAIRS,
		      "malloc'ed buffer", cpy / PAIRS,
		      "memcpy of the KV bytes", "lower", total / MIB);
	report_paired("attn_accel_vs_paged", "us", tm, tc, PAIRS,
		      "paged variant (16-token blocks)", cpy / PAIRS,
		      "memcpy of the KV bytes", "lower", total / MIB);
	attn_pool_destroy(pool);
	free(buf);
	free(dst);
	free(kp);
	free(vp);
	free(perm);
	free(tables);
	free(q);
}

static void set_lens(void)
{
	for (int s = 0; s < NSEQ; s++)
		lens[s] = TOKENS - 61 * (NSEQ - 1) / 2 + 61 * s + (s & 1);
}

#ifdef ATTN_BENCH_HOST
/* attn-bench: the host, without the module: the tensors libaccel's layout
 * code places in page-aligned anonymous memory. */
int main(void)
{
	struct accel_geometry g = { .layers = 1, .kv_heads = KVH,
		.head_dim = DIM, .dtype = ACCEL_DTYPE_F16,
		.layout = ACCEL_LAYOUT_PER_LAYER };
	struct accel_tensor lib[2 * NSEQ];
	struct accel_plan plan;
	int s, kv;

	set_lens();
	for (s = 0; s < NSEQ; s++) {
		g.max_tokens = lens[s];
		if (accel_layout_make(&g, 4096, &plan))
			fail("accel_layout_make", EINVAL);
		for (kv = 0; kv < 2; kv++) {
			void *p = mmap(NULL, plan.space_bytes,
				       PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

			if (p == MAP_FAILED)
				fail("mmap", errno);
			lib[2 * s + kv] = (struct accel_tensor){
				(uintptr_t)p, plan.token_bytes, DIM * 2,
				ACCEL_DTYPE_F16, 0, lens[s] };
		}
	}
	attn_bench_run(lib);
	return 0;
}
#else
/* kvmem-bench, in the VM: the host backend's tensors on /dev/kvmem. */
void bench_attn(void)
{
	struct accel_geometry g = { .layers = 1, .kv_heads = KVH,
		.head_dim = DIM, .dtype = ACCEL_DTYPE_F16,
		.layout = ACCEL_LAYOUT_PER_LAYER };
	struct accel_tensor lib[2 * NSEQ];
	struct accel_seq *seq[NSEQ];
	struct accel_open_opts o;
	struct accel_ctx *ctx;
	int s, ret;

	set_lens();
	accel_open_opts_init(&o);
	o.backend = ACCEL_BACKEND_HOST;
	ret = accel_open(&o, &ctx);
	if (ret)
		fail("accel_open", -ret);
	for (s = 0; s < NSEQ; s++) {
		g.max_tokens = lens[s];
		ret = accel_seq_create(ctx, &g, NULL, &seq[s]);
		if (!ret)
			ret = accel_seq_grow(seq[s], lens[s]);
		if (ret < 0)
			fail("accel_seq_create/grow", -ret);
		if (accel_seq_tensor(seq[s], 0, ACCEL_K, &lib[2 * s]) ||
		    accel_seq_tensor(seq[s], 0, ACCEL_V, &lib[2 * s + 1]))
			fail("accel_seq_tensor", EINVAL);
	}
	attn_bench_run(lib);
	for (s = 0; s < NSEQ; s++)
		accel_seq_destroy(seq[s]);
	accel_close(ctx);
}
#endif
