/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A CPU reference of the attention of one decoding step: one query token
 * of a sequence against the keys and values the sequence holds, read in
 * place through libaccel's tensors (struct accel_tensor: base +
 * token * token_stride + head * head_stride). Multi-head attention with
 * grouped-query attention (GQA): q_heads is a multiple of kv_heads, and
 * query head h reads KV head h / (q_heads / kv_heads).
 *
 * It is there to check faster kernels, and the memory under them, against
 * something obviously right: plain C11, sums in double, no speed.
 */
#ifndef ATTENTION_REF_H
#define ATTENTION_REF_H

#include <stdint.h>

#include "accel.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * struct attn_shape - the heads of one attention layer
 * @q_heads: query heads, a multiple of @kv_heads
 * @kv_heads: KV heads the tensors hold
 * @head_dim: elements per head, of queries, keys and values
 */
struct attn_shape {
	uint32_t q_heads;
	uint32_t kv_heads;
	uint32_t head_dim;
};

/*
 * For every query head h, with g = h / (q_heads / kv_heads):
 *
 *   out[h] = sum over t < tokens of softmax_t(q[h] . K[t][g] / sqrt(d)) V[t][g]
 *
 * q and out hold q_heads * head_dim floats, [head][dim]. k and v are host
 * tensors of the same dtype (F32, F16 or BF16) with room for `tokens`.
 * The softmax subtracts the largest score first, so no score overflows.
 * Returns 0; -EINVAL for a bad shape or argument, tokens 0 or beyond a
 * tensor's max_tokens, head_stride too small for head_dim, device
 * tensors, or K and V of different dtypes; -EOPNOTSUPP for FP8; -ENOMEM.
 */
int attention_ref(const struct attn_shape *shape,
		  const struct accel_tensor *k, const struct accel_tensor *v,
		  uint64_t tokens, const float *q, float *out);

/* IEEE 754 binary16 to float, exactly. */
float attn_f16_to_f32(uint16_t h);
/* Float to binary16, rounding to nearest even (overflow gives infinity). */
uint16_t attn_f32_to_f16(float f);
/* bfloat16 to float, exactly. */
float attn_bf16_to_f32(uint16_t h);

#ifdef __cplusplus
}
#endif

#endif /* ATTENTION_REF_H */
