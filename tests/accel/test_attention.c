// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Unit tests of the CPU reference attention (kernels/attention_ref.c):
 * the half-float conversions, and attention on cases whose answer is
 * known without computing it, through strided tensors of each dtype.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "../../kernels/attention_ref.h"
#include "../unit/unit.h"

static uint32_t bits_of(float f)
{
	uint32_t b;

	memcpy(&b, &f, sizeof(b));
	return b;
}

/* Every half that is not a NaN converts to float and back unchanged. */
static void f16_round_trip(void)
{
	for (uint32_t h = 0; h < 0x10000; h++) {
		if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff))
			continue;
		CHECK_EQ(attn_f32_to_f16(attn_f16_to_f32((uint16_t)h)), h);
	}
}

static void f16_known_values(void)
{
	CHECK(attn_f16_to_f32(0x3c00) == 1.0f);
	CHECK(attn_f16_to_f32(0xc000) == -2.0f);
	CHECK(attn_f16_to_f32(0x0001) == ldexpf(1, -24));	/* subnormal */
	CHECK(attn_f16_to_f32(0x7bff) == 65504.0f);
	CHECK(isinf(attn_f16_to_f32(0x7c00)));
	CHECK(isnan(attn_f16_to_f32(0x7e00)));
	/* Ties go to the even neighbour. */
	CHECK_EQ(attn_f32_to_f16(1.0f + ldexpf(1, -11)), 0x3c00);
	CHECK_EQ(attn_f32_to_f16(1.0f + 3 * ldexpf(1, -11)), 0x3c02);
	CHECK_EQ(attn_f32_to_f16(65520.0f), 0x7c00);	/* rounds to inf */
	CHECK_EQ(attn_f32_to_f16(ldexpf(1, -25)), 0);	/* tie to even 0 */
	CHECK_EQ(attn_f32_to_f16(ldexpf(3, -26)), 1);
	CHECK_EQ(attn_f32_to_f16(-0.0f), 0x8000);
	CHECK(attn_f32_to_f16(NAN) >= 0x7c01 && attn_f32_to_f16(NAN) < 0x8000);
	CHECK_EQ(bits_of(attn_bf16_to_f32(0x3f80)), bits_of(1.0f));
}

#define T 5
#define KVH 2
#define D 4
#define QH 4	/* two query heads per KV head */

/*
 * K and V [token][kv head][dim] in one buffer, with a padded token stride
 * (as in a per-seq layout) and, for 2-byte dtypes, a padded head stride,
 * in dtype dt.
 */
struct kvbuf {
	uint8_t mem[2][T][KVH + 1][D * 4];
	struct accel_tensor k, v;
};

static void kv_set(struct kvbuf *b, uint32_t dt, int kv, int t, int h, int i,
		   float f)
{
	uint8_t *p = b->mem[kv][t][h];
	uint16_t x;

	if (dt == ACCEL_DTYPE_F32) {
		memcpy(p + 4 * i, &f, 4);
		return;
	}
	x = dt == ACCEL_DTYPE_F16 ? attn_f32_to_f16(f) :
				    (uint16_t)(bits_of(f) >> 16);
	memcpy(p + 2 * i, &x, 2);
}

static void kv_init(struct kvbuf *b, uint32_t dt)
{
	memset(b, 0, sizeof(*b));
	for (int kv = 0; kv < 2; kv++) {
		struct accel_tensor *t = kv ? &b->v : &b->k;

		t->base = (uint64_t)(uintptr_t)b->mem[kv];
		t->token_stride = sizeof(b->mem[kv][0]);
		t->head_stride = sizeof(b->mem[kv][0][0]);
		t->dtype = dt;
		t->max_tokens = T;
	}
}

/* Keys all equal: uniform weights, out = mean of V over the tokens. */
static void equal_keys_average(void)
{
	static const uint32_t dts[] = {
		ACCEL_DTYPE_F32, ACCEL_DTYPE_F16, ACCEL_DTYPE_BF16,
	};
	struct attn_shape s = { QH, KVH, D };
	float q[QH * D], out[QH * D];
	struct kvbuf b;

	for (size_t n = 0; n < 3; n++) {
		kv_init(&b, dts[n]);
		for (int t = 0; t < T; t++)
			for (int h = 0; h < KVH; h++)
				for (int i = 0; i < D; i++) {
					kv_set(&b, dts[n], 0, t, h, i, 0.5f);
					kv_set(&b, dts[n], 1, t, h, i,
					       (float)(t + 10 * h + i));
				}
		for (int i = 0; i < QH * D; i++)
			q[i] = (float)i / 8;
		CHECK_EQ(attention_ref(&s, &b.k, &b.v, T, q, out), 0);
		for (int h = 0; h < QH; h++)
			for (int i = 0; i < D; i++)
				/* mean over t of t + 10 g + i, g = h / 2 */
				CHECK(fabsf(out[h * D + i] -
					    (2.0f + 10 * (h / 2) + i)) < 1e-5f);
	}
}

/* One key far ahead of the others takes all the weight. */
static void dominant_key_selects(void)
{
	struct attn_shape s = { QH, KVH, D };
	float q[QH * D], out[QH * D];
	struct kvbuf b;

	kv_init(&b, ACCEL_DTYPE_F32);
	for (int t = 0; t < T; t++)
		for (int h = 0; h < KVH; h++)
			for (int i = 0; i < D; i++) {
				kv_set(&b, ACCEL_DTYPE_F32, 0, t, h, i,
				       t == 3 ? 100.0f : 0.0f);
				kv_set(&b, ACCEL_DTYPE_F32, 1, t, h, i,
				       (float)(t * 100 + h));
			}
	for (int i = 0; i < QH * D; i++)
		q[i] = 1.0f;
	CHECK_EQ(attention_ref(&s, &b.k, &b.v, T, q, out), 0);
	for (int h = 0; h < QH; h++)
		CHECK(fabsf(out[h * D] - (300.0f + h / 2)) < 1e-3f);
	/* Only the first 3 tokens: token 3 is not seen, weights equal. */
	CHECK_EQ(attention_ref(&s, &b.k, &b.v, 3, q, out), 0);
	CHECK(fabsf(out[0] - 100.0f) < 1e-4f);
}

static void bad_arguments(void)
{
	struct attn_shape s = { QH, KVH, D }, bad;
	float q[QH * D] = { 0 }, out[QH * D];
	struct kvbuf b;

	kv_init(&b, ACCEL_DTYPE_F32);
	CHECK_EQ(attention_ref(&s, &b.k, &b.v, 0, q, out), -EINVAL);
	CHECK_EQ(attention_ref(&s, &b.k, &b.v, T + 1, q, out), -EINVAL);
	bad = s;
	bad.q_heads = 3;
	CHECK_EQ(attention_ref(&bad, &b.k, &b.v, T, q, out), -EINVAL);
	bad = s;
	bad.head_dim = D + 1;
	CHECK_EQ(attention_ref(&bad, &b.k, &b.v, T, q, out), -EINVAL);
	CHECK_EQ(attention_ref(NULL, &b.k, &b.v, T, q, out), -EINVAL);
	b.v.dtype = ACCEL_DTYPE_F16;
	CHECK_EQ(attention_ref(&s, &b.k, &b.v, T, q, out), -EINVAL);
	b.k.dtype = b.v.dtype = ACCEL_DTYPE_FP8;
	CHECK_EQ(attention_ref(&s, &b.k, &b.v, T, q, out), -EOPNOTSUPP);
	kv_init(&b, ACCEL_DTYPE_F32);
	b.k.on_device = 1;
	CHECK_EQ(attention_ref(&s, &b.k, &b.v, T, q, out), -EINVAL);
}

static const struct unit_case cases[] = {
	UNIT_CASE(f16_round_trip),
	UNIT_CASE(f16_known_values),
	UNIT_CASE(equal_keys_average),
	UNIT_CASE(dominant_key_selects),
	UNIT_CASE(bad_arguments),
};

UNIT_MAIN("accel_attention", cases)
