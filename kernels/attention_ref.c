// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * CPU reference attention over libaccel tensors (attention_ref.h).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "attention_ref.h"

float attn_f16_to_f32(uint16_t h)
{
	uint32_t sign = (uint32_t)(h >> 15) << 31;
	uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
	float f;

	if (!exp) {
		/* Zero or subnormal: man * 2^-24, exact in a float. */
		f = ldexpf((float)man, -24);
		return sign ? -f : f;
	}
	if (exp == 0x1f)	/* infinity, NaN (payload kept) */
		bits = sign | 0x7f800000 | (man << 13);
	else			/* rebias 15 -> 127 */
		bits = sign | ((exp + 112) << 23) | (man << 13);
	memcpy(&f, &bits, sizeof(f));
	return f;
}

/* Shifts m right by s (1..31) rounding to nearest, ties to even. */
static uint32_t shift_rne(uint32_t m, unsigned int s)
{
	uint32_t q = m >> s, rem = m & ((1U << s) - 1), half = 1U << (s - 1);

	return q + (rem > half || (rem == half && (q & 1)));
}

uint16_t attn_f32_to_f16(float f)
{
	uint32_t x, man;
	uint16_t sign;
	int exp;

	memcpy(&x, &f, sizeof(x));
	sign = (uint16_t)((x >> 16) & 0x8000);
	exp = (int)((x >> 23) & 0xff);
	man = x & 0x7fffff;
	if (exp == 0xff)	/* infinity, NaN (kept a NaN) */
		return sign | 0x7c00 | (man ? 0x200 : 0);
	exp -= 127 - 15;
	if (exp >= 31)
		return sign | 0x7c00;
	if (exp <= 0) {
		/* Subnormal half: units of 2^-24; below half of one: zero. */
		if (exp < -10)
			return sign;
		return sign | (uint16_t)shift_rne(man | 0x800000,
						  (unsigned int)(14 - exp));
	}
	/* A carry out of the mantissa rightly bumps the exponent. */
	return sign | (uint16_t)shift_rne(((uint32_t)exp << 23) | man, 13);
}

float attn_bf16_to_f32(uint16_t h)
{
	uint32_t bits = (uint32_t)h << 16;
	float f;

	memcpy(&f, &bits, sizeof(f));
	return f;
}

static size_t attn_dtype_size(uint32_t dtype)
{
	switch (dtype) {
	case ACCEL_DTYPE_F32:
		return 4;
	case ACCEL_DTYPE_F16:
	case ACCEL_DTYPE_BF16:
		return 2;
	default:
		return 0;
	}
}

/* Element i of head `head` of token `tok`. */
static double attn_elem(const struct accel_tensor *t, uint64_t tok,
			uint32_t head, uint32_t i)
{
	const uint8_t *p = (const uint8_t *)(uintptr_t)t->base +
			   tok * t->token_stride + head * t->head_stride;
	uint16_t h;
	float f;

	if (t->dtype == ACCEL_DTYPE_F32) {
		memcpy(&f, p + 4 * (size_t)i, sizeof(f));
		return f;
	}
	memcpy(&h, p + 2 * (size_t)i, sizeof(h));
	return t->dtype == ACCEL_DTYPE_F16 ? attn_f16_to_f32(h) :
					     attn_bf16_to_f32(h);
}

static int attn_check(const struct attn_shape *s,
		      const struct accel_tensor *k,
		      const struct accel_tensor *v, uint64_t tokens,
		      const float *q, const float *out)
{
	const struct accel_tensor *t[2] = { k, v };
	int i;

	if (!s || !k || !v || !q || !out || !s->q_heads || !s->kv_heads ||
	    !s->head_dim || s->q_heads % s->kv_heads || !tokens)
		return -EINVAL;
	if (k->dtype != v->dtype)
		return -EINVAL;
	if (!attn_dtype_size(k->dtype))
		return k->dtype == ACCEL_DTYPE_FP8 ? -EOPNOTSUPP : -EINVAL;
	for (i = 0; i < 2; i++)
		if (t[i]->on_device || !t[i]->base ||
		    tokens > t[i]->max_tokens ||
		    t[i]->head_stride < s->head_dim *
					attn_dtype_size(t[i]->dtype))
			return -EINVAL;
	return 0;
}

/* One query head against KV head g; score is scratch for `tokens`. */
static void attn_head(const struct attn_shape *s,
		      const struct accel_tensor *k,
		      const struct accel_tensor *v, uint64_t tokens,
		      uint32_t g, const float *q, float *out, double *score,
		      double *acc)
{
	double scale = 1.0 / sqrt((double)s->head_dim), max = -INFINITY;
	double sum = 0;
	uint64_t t;
	uint32_t i;

	for (t = 0; t < tokens; t++) {
		double dot = 0;

		for (i = 0; i < s->head_dim; i++)
			dot += (double)q[i] * attn_elem(k, t, g, i);
		score[t] = dot * scale;
		if (score[t] > max)
			max = score[t];
	}
	for (t = 0; t < tokens; t++) {
		score[t] = exp(score[t] - max);
		sum += score[t];
	}
	for (i = 0; i < s->head_dim; i++)
		acc[i] = 0;
	for (t = 0; t < tokens; t++)
		for (i = 0; i < s->head_dim; i++)
			acc[i] += score[t] * attn_elem(v, t, g, i);
	for (i = 0; i < s->head_dim; i++)
		out[i] = (float)(acc[i] / sum);
}

int attention_ref(const struct attn_shape *s, const struct accel_tensor *k,
		  const struct accel_tensor *v, uint64_t tokens,
		  const float *q, float *out)
{
	double *score, *acc;
	uint32_t h, group;
	int ret;

	ret = attn_check(s, k, v, tokens, q, out);
	if (ret)
		return ret;
	if (tokens > SIZE_MAX / sizeof(*score))
		return -ENOMEM;
	score = malloc(tokens * sizeof(*score));
	acc = malloc(s->head_dim * sizeof(*acc));
	if (!score || !acc) {
		free(score);
		free(acc);
		return -ENOMEM;
	}
	group = s->q_heads / s->kv_heads;
	for (h = 0; h < s->q_heads; h++)
		attn_head(s, k, v, tokens, h / group,
			  q + (size_t)h * s->head_dim,
			  out + (size_t)h * s->head_dim, score, acc);
	free(score);
	free(acc);
	return 0;
}
