// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The fast kernels (kernels/attention.c) against the float64 reference
 * (kernels/attention_ref.c) on random inputs: F32 and F16 KV, both libaccel
 * layouts (tensors placed by libaccel's own layout code), odd lengths,
 * lengths that cross the layout's pages, the largest head counts, the
 * paged variant, the batched copy, both builds of the inner loops, and
 * every validation check.
 *
 * Tolerance: the reference sums in double; the kernels in float, over at
 * most n = tokens + head_dim terms per output (a dot of head_dim products,
 * then a sum of tokens weighted values, the softmax rescales between). The
 * worst-case error of a float sum of n terms is n * 2^-24 times the sum of
 * their magnitudes, and with |v| <= 1 and weights summing to 1 that is
 * about n * 2^-24; expf adds a few ulp per weight. So an element may be off
 * by 4 * n * FLT_EPSILON (twice that bound, for the rounding of the
 * scores through expf); K and V are the same f16 values for both sides, so
 * f16 needs no more. The check is not vacuous: attention over one token
 * fewer is beyond it (sensitivity case).
 */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../kernels/attention.h"
#include "../../libaccel/layout.h"
#include "../unit/unit.h"

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static float frand(void)	/* uniform in [-1, 1) */
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (float)((rng >> 40) * 0x1p-23) - 1.0f;
}

/* One sequence's KV of one layer, laid out by libaccel's layout code. */
struct kv {
	struct accel_plan plan;
	uint8_t *space[2];	/* PER_LAYER: layer's K, V; PER_SEQ: [0] */
	struct accel_tensor k, v;
};

static int kv_make(struct kv *kv, uint32_t layout, uint32_t dtype,
		   uint32_t kvh, uint32_t d, uint64_t tokens)
{
	struct accel_geometry g = {
		.layers = 3, .kv_heads = kvh, .head_dim = d, .dtype = dtype,
		.max_tokens = tokens, .layout = layout,
	};
	uint32_t layer = 1, sp[2], i, n;
	uint64_t off[2], e, es = accel_dtype_size(dtype);
	uint8_t *mem[6] = { 0 };

	memset(kv, 0, sizeof(*kv));
	if (accel_layout_make(&g, 4096, &kv->plan))
		return -1;
	n = kv->plan.nspaces;
	for (i = 0; i < n; i++) {
		mem[i] = malloc(kv->plan.space_bytes);
		if (!mem[i])
			return -1;
		for (e = 0; e < kv->plan.space_bytes / es; e++) {
			float f = frand();

			if (dtype == ACCEL_DTYPE_F32) {
				memcpy(mem[i] + e * 4, &f, 4);
			} else {
				uint16_t h = attn_f32_to_f16(f);

				memcpy(mem[i] + e * 2, &h, 2);
			}
		}
	}
	for (i = 0; i < 2; i++) {
		struct accel_tensor *t = i ? &kv->v : &kv->k;

		accel_layout_tensor(&kv->plan, layer, i, &sp[i], &off[i]);
		t->base = (uint64_t)(uintptr_t)(mem[sp[i]] + off[i]);
		t->token_stride = kv->plan.token_bytes;
		t->head_stride = d * es;
		t->dtype = dtype;
		t->max_tokens = tokens;
	}
	/* Keep only the spaces layer 1 uses. */
	for (i = 0; i < n; i++)
		if (i != sp[0] && i != sp[1])
			free(mem[i]);
	kv->space[0] = mem[sp[0]];
	kv->space[1] = sp[1] != sp[0] ? mem[sp[1]] : NULL;
	return 0;
}

static void kv_free(struct kv *kv)
{
	free(kv->space[0]);
	free(kv->space[1]);
}

static float *frandv(size_t n)
{
	float *p = malloc(n * sizeof(*p));

	for (size_t i = 0; p && i < n; i++)
		p[i] = frand();
	return p;
}

/* Largest |a - b| over n, and whether it is within the tolerance. */
static int close_enough(const float *a, const float *b, size_t n,
			uint64_t tokens, uint32_t d, double *worst)
{
	double tol = 4.0 * (double)(tokens + d) * FLT_EPSILON, w = 0;

	for (size_t i = 0; i < n; i++) {
		double e = fabs((double)a[i] - (double)b[i]);

		if (!(e <= w))
			w = isnan(e) ? INFINITY : e;
	}
	*worst = w;
	return w <= tol;
}

static struct attn_pool *pool2;

struct shape_case {
	uint32_t qh, kvh, d;
	uint64_t tokens[3];	/* a batch of three sequences */
};

/*
 * Odd lengths, one token, lengths around the layout's 4 KiB pages (for
 * kvh 8 d 128 f16 a PER_LAYER token is 2 KiB: 2 tokens a page; 3, 5, 1025
 * cross them), and the largest head counts.
 */
static const struct shape_case shapes[] = {
	{ 4, 2, 64, { 1, 7, 33 } },
	{ 128, 8, 128, { 333, 3, 1025 } },
	{ 128, 16, 64, { 17, 1000, 2 } },
	{ 128, 16, 256, { 77, 16, 15 } },
	{ 32, 8, 256, { 130, 1, 47 } },
	{ 8, 8, 128, { 129, 1, 63 } },
	{ 12, 4, 96, { 5, 31, 257 } },	/* head_dim not a multiple of 8 */
	{ 2, 1, 13, { 9, 1, 40 } },	/* nor of 4 */
};

static void run_decode(uint32_t dtype, uint32_t layout, struct attn_pool *pool)
{
	for (size_t c = 0; c < sizeof(shapes) / sizeof(shapes[0]); c++) {
		const struct shape_case *sc = &shapes[c];
		struct attn_shape sh = { sc->qh, sc->kvh, sc->d };
		size_t n = (size_t)sc->qh * sc->d;
		struct attn_seq seqs[3];
		struct kv kv[3];
		float *ref[3];
		double worst;
		int i;

		for (i = 0; i < 3; i++) {
			CHECK(!kv_make(&kv[i], layout, dtype, sc->kvh, sc->d,
				       sc->tokens[i]));
			seqs[i].k = kv[i].k;
			seqs[i].v = kv[i].v;
			seqs[i].tokens = sc->tokens[i];
			seqs[i].q = frandv(n);
			seqs[i].out = calloc(n, sizeof(float));
			ref[i] = calloc(n, sizeof(float));
			CHECK_EQ(attention_ref(&sh, &kv[i].k, &kv[i].v,
					       sc->tokens[i], seqs[i].q,
					       ref[i]), 0);
		}
		CHECK_EQ(attn_decode(pool, &sh, seqs, 3), 0);
		for (i = 0; i < 3; i++) {
			if (!close_enough(seqs[i].out, ref[i], n,
					  sc->tokens[i], sc->d, &worst)) {
				fprintf(stderr, "  shape %u/%u/%u tokens %llu: "
					"max error %g\n", sc->qh, sc->kvh,
					sc->d,
					(unsigned long long)sc->tokens[i],
					worst);
				unit_case_failed = 1;
			}
			kv_free(&kv[i]);
			free((void *)seqs[i].q);
			free(seqs[i].out);
			free(ref[i]);
		}
	}
}

static void decode_f32_per_layer(void)
{
	run_decode(ACCEL_DTYPE_F32, ACCEL_LAYOUT_PER_LAYER, pool2);
}

static void decode_f32_per_seq(void)
{
	run_decode(ACCEL_DTYPE_F32, ACCEL_LAYOUT_PER_SEQ, pool2);
}

static void decode_f16_per_layer(void)
{
	run_decode(ACCEL_DTYPE_F16, ACCEL_LAYOUT_PER_LAYER, pool2);
}

static void decode_f16_per_seq(void)
{
	run_decode(ACCEL_DTYPE_F16, ACCEL_LAYOUT_PER_SEQ, pool2);
}

/* No pool, and the baseline build of the inner loops. */
static void decode_no_pool_baseline(void)
{
	setenv("ATTN_BASELINE", "1", 1);
	CHECK(!strcmp(attn_isa(), "baseline"));
	run_decode(ACCEL_DTYPE_F16, ACCEL_LAYOUT_PER_SEQ, NULL);
	run_decode(ACCEL_DTYPE_F32, ACCEL_LAYOUT_PER_LAYER, NULL);
	unsetenv("ATTN_BASELINE");
}

/* The tolerance tells a right answer from a nearly right one. */
static void sensitivity(void)
{
	struct attn_shape sh = { 8, 2, 64 };
	struct attn_seq s;
	struct kv kv;
	float *ref = calloc(8 * 64, sizeof(float));
	double worst;

	CHECK(!kv_make(&kv, ACCEL_LAYOUT_PER_LAYER, ACCEL_DTYPE_F32, 2, 64,
		       300));
	s = (struct attn_seq){ kv.k, kv.v, 299, frandv(8 * 64),
			       calloc(8 * 64, sizeof(float)) };
	CHECK_EQ(attention_ref(&sh, &kv.k, &kv.v, 300, s.q, ref), 0);
	CHECK_EQ(attn_decode(pool2, &sh, &s, 1), 0);
	CHECK(!close_enough(s.out, ref, 8 * 64, 300, 64, &worst));
	s.tokens = 300;
	CHECK_EQ(attn_decode(pool2, &sh, &s, 1), 0);
	CHECK(close_enough(s.out, ref, 8 * 64, 300, 64, &worst));
	kv_free(&kv);
	free((void *)s.q);
	free(s.out);
	free(ref);
}

/*
 * The paged variant: each sequence's tokens copied into 16-token blocks
 * of a pool in a shuffled order, read through its block table, against
 * the reference over the contiguous tensors.
 */
static void run_paged(uint32_t dtype)
{
	for (size_t c = 0; c < sizeof(shapes) / sizeof(shapes[0]); c++) {
		const struct shape_case *sc = &shapes[c];
		struct attn_shape sh = { sc->qh, sc->kvh, sc->d };
		size_t n = (size_t)sc->qh * sc->d, es = dtype == ACCEL_DTYPE_F32 ? 4 : 2;
		uint64_t tok_b = (uint64_t)sc->kvh * sc->d * es;
		uint64_t blk_b = tok_b * ATTN_BLOCK_TOKENS, nb = 0, b, t;
		struct attn_paged_seq ps[3];
		struct attn_paged_cache pc;
		uint32_t *perm, *tables[3];
		uint8_t *kp, *vp;
		struct kv kv[3];
		float *ref[3];
		double worst;
		int i;

		for (i = 0; i < 3; i++)
			nb += (sc->tokens[i] + 15) / 16;
		nb += 3;	/* blocks no table names */
		kp = calloc(nb, blk_b);
		vp = calloc(nb, blk_b);
		perm = malloc(nb * sizeof(*perm));
		for (b = 0; b < nb; b++)
			perm[b] = (uint32_t)b;
		for (b = nb - 1; b > 0; b--) {
			uint64_t j = (rng = rng * 6364136223846793005ULL + 1) %
				     (b + 1);
			uint32_t x = perm[b];

			perm[b] = perm[j];
			perm[j] = x;
		}
		nb = 0;
		for (i = 0; i < 3; i++) {
			uint64_t nbl = (sc->tokens[i] + 15) / 16;

			CHECK(!kv_make(&kv[i], ACCEL_LAYOUT_PER_SEQ, dtype,
				       sc->kvh, sc->d, sc->tokens[i]));
			tables[i] = malloc(nbl * sizeof(uint32_t));
			for (b = 0; b < nbl; b++)
				tables[i][b] = perm[nb++];
			for (t = 0; t < sc->tokens[i]; t++) {
				uint64_t off = tables[i][t / 16] * blk_b +
					       t % 16 * tok_b;

				memcpy(kp + off, (uint8_t *)(uintptr_t)kv[i].k.base +
				       t * kv[i].k.token_stride, tok_b);
				memcpy(vp + off, (uint8_t *)(uintptr_t)kv[i].v.base +
				       t * kv[i].v.token_stride, tok_b);
			}
			ps[i] = (struct attn_paged_seq){ tables[i], sc->tokens[i],
							 frandv(n),
							 calloc(n, sizeof(float)) };
			ref[i] = calloc(n, sizeof(float));
			CHECK_EQ(attention_ref(&sh, &kv[i].k, &kv[i].v,
					       sc->tokens[i], ps[i].q, ref[i]), 0);
		}
		pc = (struct attn_paged_cache){
			.k_base = (uintptr_t)kp, .v_base = (uintptr_t)vp,
			.block_stride = blk_b, .token_stride = tok_b,
			.head_stride = sc->d * es, .nblocks = nb + 3,
			.dtype = dtype,
		};
		CHECK_EQ(attn_decode_paged(pool2, &sh, &pc, ps, 3), 0);
		for (i = 0; i < 3; i++) {
			if (!close_enough(ps[i].out, ref[i], n, sc->tokens[i],
					  sc->d, &worst)) {
				fprintf(stderr, "  paged %u/%u/%u tokens %llu: "
					"max error %g\n", sc->qh, sc->kvh, sc->d,
					(unsigned long long)sc->tokens[i], worst);
				unit_case_failed = 1;
			}
			kv_free(&kv[i]);
			free(tables[i]);
			free((void *)ps[i].q);
			free(ps[i].out);
			free(ref[i]);
		}
		free(perm);
		free(kp);
		free(vp);
	}
}

static void paged_f32(void)
{
	run_paged(ACCEL_DTYPE_F32);
}

static void paged_f16(void)
{
	run_paged(ACCEL_DTYPE_F16);
}

/* Scattered blocks, many at once, exactly where they were sent; the
 * blocks not named, and the gaps between blocks, untouched. */
static void copy_blocks(void)
{
	enum { NB = 517, STRIDE = 4096 + 64, BYTES = 4096, NOPS = 301 };
	uint8_t *src = malloc((size_t)NB * STRIDE), *dst = malloc((size_t)NB * STRIDE);
	uint8_t *want = malloc((size_t)NB * STRIDE);
	struct attn_copy_op ops[NOPS];
	uint32_t i;

	for (i = 0; i < NB * STRIDE; i++) {
		src[i] = (uint8_t)(i * 7 + 3);
		dst[i] = want[i] = (uint8_t)(i * 13 + 1);
	}
	for (i = 0; i < NOPS; i++) {
		/* Distinct destinations: a permutation of the first NOPS. */
		ops[i].dst = (uint64_t)(i * 211) % NOPS;
		ops[i].src = (uint64_t)(i * 389 + 5) % NB;
		memcpy(want + ops[i].dst * STRIDE, src + ops[i].src * STRIDE,
		       BYTES);
	}
	CHECK_EQ(attn_copy_blocks(pool2, dst, src, STRIDE, BYTES, ops, NOPS), 0);
	CHECK(!memcmp(dst, want, (size_t)NB * STRIDE));
	CHECK_EQ(attn_copy_blocks(pool2, dst, src, STRIDE, BYTES, ops, 0), 0);
	CHECK_EQ(attn_copy_blocks(NULL, dst, src, STRIDE, BYTES, ops, 1), 0);
	free(src);
	free(dst);
	free(want);
}

/* Every -EINVAL / -EOPNOTSUPP check of attention.h, and nothing written. */
static void validation(void)
{
	struct attn_shape sh = { 4, 2, 8 }, bad;
	float q[32], out[32], out0[32];
	struct attn_seq s, b;
	struct kv kv;
	struct attn_pool *p;
	uint32_t table[2] = { 0, 1 };
	struct attn_paged_cache pc, pb;
	struct attn_paged_seq ps = { table, 20, q, out }, pbs;
	struct attn_copy_op op = { 0, 1 };
	uint8_t blocks[2 * 16 * 2 * 8 * 4];

	for (int i = 0; i < 32; i++)
		q[i] = out[i] = out0[i] = 0.5f;
	CHECK(!kv_make(&kv, ACCEL_LAYOUT_PER_LAYER, ACCEL_DTYPE_F32, 2, 8, 20));
	s = (struct attn_seq){ kv.k, kv.v, 20, q, out };
	CHECK_EQ(attn_decode(NULL, NULL, &s, 1), -EINVAL);
	bad = sh; bad.q_heads = 0;
	CHECK_EQ(attn_decode(NULL, &bad, &s, 1), -EINVAL);
	bad = sh; bad.kv_heads = 0;
	CHECK_EQ(attn_decode(NULL, &bad, &s, 1), -EINVAL);
	bad = sh; bad.head_dim = 0;
	CHECK_EQ(attn_decode(NULL, &bad, &s, 1), -EINVAL);
	bad = sh; bad.q_heads = 3;
	CHECK_EQ(attn_decode(NULL, &bad, &s, 1), -EINVAL);
	bad = sh; bad.head_dim = ATTN_MAX_HEAD_DIM + 1;
	CHECK_EQ(attn_decode(NULL, &bad, &s, 1), -EINVAL);
	CHECK_EQ(attn_decode(NULL, &sh, NULL, 1), -EINVAL);
	CHECK_EQ(attn_decode(NULL, &sh, NULL, 0), 0);
	b = s; b.tokens = 0;
	CHECK_EQ(attn_decode(NULL, &sh, &b, 1), -EINVAL);
	b = s; b.tokens = 21;
	CHECK_EQ(attn_decode(NULL, &sh, &b, 1), -EINVAL);
	b = s; b.q = NULL;
	CHECK_EQ(attn_decode(NULL, &sh, &b, 1), -EINVAL);
	b = s; b.out = NULL;
	CHECK_EQ(attn_decode(NULL, &sh, &b, 1), -EINVAL);
	b = s; b.k.on_device = 1;
	CHECK_EQ(attn_decode(NULL, &sh, &b, 1), -EINVAL);
	b = s; b.v.base = 0;
	CHECK_EQ(attn_decode(NULL, &sh, &b, 1), -EINVAL);
	b = s; b.v.dtype = ACCEL_DTYPE_F16;
	CHECK_EQ(attn_decode(NULL, &sh, &b, 1), -EINVAL);
	b = s; b.k.head_stride = 8 * 4 - 1;
	CHECK_EQ(attn_decode(NULL, &sh, &b, 1), -EINVAL);
	b = s; b.k.dtype = b.v.dtype = ACCEL_DTYPE_BF16;
	CHECK_EQ(attn_decode(NULL, &sh, &b, 1), -EOPNOTSUPP);
	b = s; b.k.dtype = b.v.dtype = ACCEL_DTYPE_FP8;
	CHECK_EQ(attn_decode(NULL, &sh, &b, 1), -EOPNOTSUPP);
	b = s; b.k.dtype = b.v.dtype = 99;
	CHECK_EQ(attn_decode(NULL, &sh, &b, 1), -EINVAL);
	CHECK(!memcmp(out, out0, sizeof(out)));
	CHECK_EQ(attn_decode(NULL, &sh, &s, 1), 0);

	pc = (struct attn_paged_cache){
		.k_base = (uintptr_t)blocks, .v_base = (uintptr_t)blocks,
		.block_stride = 16 * 2 * 8 * 4, .token_stride = 2 * 8 * 4,
		.head_stride = 8 * 4, .nblocks = 2, .dtype = ACCEL_DTYPE_F32,
	};
	memset(blocks, 0, sizeof(blocks));
	CHECK_EQ(attn_decode_paged(NULL, &sh, &pc, &ps, 1), 0);
	CHECK_EQ(attn_decode_paged(NULL, &sh, NULL, &ps, 1), -EINVAL);
	CHECK_EQ(attn_decode_paged(NULL, NULL, &pc, &ps, 1), -EINVAL);
	CHECK_EQ(attn_decode_paged(NULL, &sh, &pc, NULL, 1), -EINVAL);
	pb = pc; pb.k_base = 0;
	CHECK_EQ(attn_decode_paged(NULL, &sh, &pb, &ps, 1), -EINVAL);
	pb = pc; pb.nblocks = 1;	/* table[1] beyond it */
	CHECK_EQ(attn_decode_paged(NULL, &sh, &pb, &ps, 1), -EINVAL);
	pb = pc; pb.token_stride = pc.block_stride / 16 + 1;
	CHECK_EQ(attn_decode_paged(NULL, &sh, &pb, &ps, 1), -EINVAL);
	pb = pc; pb.head_stride = 31;
	CHECK_EQ(attn_decode_paged(NULL, &sh, &pb, &ps, 1), -EINVAL);
	pb = pc; pb.dtype = ACCEL_DTYPE_BF16;
	CHECK_EQ(attn_decode_paged(NULL, &sh, &pb, &ps, 1), -EOPNOTSUPP);
	pbs = ps; pbs.tokens = 0;
	CHECK_EQ(attn_decode_paged(NULL, &sh, &pc, &pbs, 1), -EINVAL);
	pbs = ps; pbs.blocks = NULL;
	CHECK_EQ(attn_decode_paged(NULL, &sh, &pc, &pbs, 1), -EINVAL);

	CHECK_EQ(attn_copy_blocks(NULL, NULL, blocks, 64, 64, &op, 1), -EINVAL);
	CHECK_EQ(attn_copy_blocks(NULL, blocks, NULL, 64, 64, &op, 1), -EINVAL);
	CHECK_EQ(attn_copy_blocks(NULL, blocks, blocks, 64, 0, &op, 1), -EINVAL);
	CHECK_EQ(attn_copy_blocks(NULL, blocks, blocks, 64, 65, &op, 1), -EINVAL);
	CHECK_EQ(attn_copy_blocks(NULL, blocks, blocks, 64, 64, NULL, 1), -EINVAL);

	CHECK_EQ(attn_pool_create(257, &p), -EINVAL);
	CHECK_EQ(attn_pool_create(2, NULL), -EINVAL);
	CHECK_EQ(attn_pool_threads(NULL), 1);
	attn_pool_destroy(NULL);
	kv_free(&kv);
}

static const struct unit_case cases[] = {
	UNIT_CASE(decode_f32_per_layer),
	UNIT_CASE(decode_f32_per_seq),
	UNIT_CASE(decode_f16_per_layer),
	UNIT_CASE(decode_f16_per_seq),
	UNIT_CASE(decode_no_pool_baseline),
	UNIT_CASE(sensitivity),
	UNIT_CASE(paged_f32),
	UNIT_CASE(paged_f16),
	UNIT_CASE(copy_blocks),
	UNIT_CASE(validation),
};

int main(void)
{
	int ret;

	/* Three threads on two cores: items finish out of order. */
	if (attn_pool_create(3, &pool2))
		return EXIT_FAILURE;
	ret = unit_run("accel_attn_decode", cases,
		       sizeof(cases) / sizeof(cases[0]));
	attn_pool_destroy(pool2);
	return ret;
}
