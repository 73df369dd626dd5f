/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fast CPU decode attention over KV read in place (Documentation/kernels.md).
 *
 * One query token per sequence, grouped-query heads (attn_shape, as in
 * attention_ref.h), F32 or F16 K and V, online softmax (one pass over the
 * tokens, float accumulators). Two ways to find token t of a sequence:
 *  - attn_decode(): a libaccel tensor (struct accel_tensor; both layouts,
 *    since each gives base + token_stride + head_stride);
 *  - attn_decode_paged(): a block table into a pool of 16-token blocks, as
 *    vLLM-style paged engines keep KV.
 * Work is spread over (sequence, KV head) items on a small pthread pool
 * (attn_pool); every query head of a KV head's group is done by one item, so
 * K and V are read once per group. Inner loops are plain C that GCC
 * vectorizes; an x86-64-v3 (AVX2+FMA) build of them is picked at run time
 * when the CPU has it, the baseline build otherwise.
 *
 * Thread safety: a pool may be used by one call at a time (calls on one
 * pool are serialized by a mutex inside); the kernels keep no other state.
 */
#ifndef ATTENTION_H
#define ATTENTION_H

#include <stdint.h>

#include "attention_ref.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Tokens per block of the paged variant. */
#define ATTN_BLOCK_TOKENS 16

struct attn_pool;

/*
 * A pool of nthreads - 1 worker threads (the caller is the last worker);
 * nthreads 0: one per online CPU. Returns 0, -EINVAL (nthreads > 256),
 * -ENOMEM or a pthread error as -errno.
 */
int attn_pool_create(unsigned int nthreads, struct attn_pool **pool);
/* Stops and frees the workers. NULL is a no-op. */
void attn_pool_destroy(struct attn_pool *pool);
/* Threads the pool runs on (1 for a NULL pool). */
unsigned int attn_pool_threads(const struct attn_pool *pool);

/**
 * struct attn_seq - one sequence of a decode step
 * @k: its K tensor of the layer (host memory)
 * @v: its V tensor of the layer, same dtype as @k
 * @tokens: tokens to attend to, 1..max_tokens of both
 * @q: q_heads * head_dim floats, [head][dim]
 * @out: q_heads * head_dim floats, written
 */
struct attn_seq {
	struct accel_tensor k;
	struct accel_tensor v;
	uint64_t tokens;
	const float *q;
	float *out;
};

/*
 * out = softmax(q K^T / sqrt(head_dim)) V for every sequence and query head
 * (the math of attention_ref()). pool NULL: on the calling thread. Returns
 * 0; -EINVAL for a bad shape, a sequence with no tokens or more than a
 * tensor holds, device tensors, K and V of different dtypes, a head_stride
 * below head_dim elements, or head_dim > ATTN_MAX_HEAD_DIM; -EOPNOTSUPP for
 * BF16 and FP8 KV. Nothing is written unless every sequence is valid.
 */
int attn_decode(struct attn_pool *pool, const struct attn_shape *shape,
		const struct attn_seq *seqs, uint32_t nseqs);

/* Largest head_dim the kernels take (their accumulators are on the stack). */
#define ATTN_MAX_HEAD_DIM 256

/**
 * struct attn_paged_cache - a pool of KV blocks of one layer
 * @k_base: address of block 0 of K (host memory)
 * @v_base: address of block 0 of V
 * @block_stride: bytes from one block to the next (of K and of V)
 * @token_stride: bytes from one token of a block to the next
 * @head_stride: bytes from one KV head to the next
 * @nblocks: blocks in the pool; table entries must be below it
 * @dtype: ACCEL_DTYPE_F32 or ACCEL_DTYPE_F16
 *
 * Token j of block b, head g: base + b * block_stride + j * token_stride +
 * g * head_stride; a block holds ATTN_BLOCK_TOKENS tokens.
 */
struct attn_paged_cache {
	uint64_t k_base;
	uint64_t v_base;
	uint64_t block_stride;
	uint64_t token_stride;
	uint64_t head_stride;
	uint64_t nblocks;
	uint32_t dtype;
	uint32_t reserved;
};

/**
 * struct attn_paged_seq - one sequence of a paged decode step
 * @blocks: ceil(tokens / ATTN_BLOCK_TOKENS) block numbers; token t is in
 *	blocks[t / 16] at row t % 16
 * @tokens: tokens to attend to, >= 1
 * @q: q_heads * head_dim floats
 * @out: q_heads * head_dim floats, written
 */
struct attn_paged_seq {
	const uint32_t *blocks;
	uint64_t tokens;
	const float *q;
	float *out;
};

/* attn_decode() through block tables. -EINVAL also for a block number
 * >= nblocks or a token_stride * 16 above block_stride. */
int attn_decode_paged(struct attn_pool *pool, const struct attn_shape *shape,
		      const struct attn_paged_cache *cache,
		      const struct attn_paged_seq *seqs, uint32_t nseqs);

/**
 * struct attn_copy_op - one block to move
 * @dst: destination block number
 * @src: source block number
 */
struct attn_copy_op {
	uint64_t dst;
	uint64_t src;
};

/*
 * Moves n blocks of block_bytes each, dst_base + op.dst * block_stride <-
 * src_base + op.src * block_stride, in one call spread over the pool (the
 * batched copy of swap-out/in and of block-table compaction). Source and
 * destination blocks must not overlap (other than src == dst in the same
 * pool, a no-op). Returns 0; -EINVAL for a NULL base, block_bytes 0 or
 * above block_stride, or ops NULL with n > 0.
 */
int attn_copy_blocks(struct attn_pool *pool, void *dst_base,
		     const void *src_base, uint64_t block_stride,
		     uint64_t block_bytes, const struct attn_copy_op *ops,
		     uint64_t n);

/* "x86-64-v3" or "baseline": the build of the inner loops in use. */
const char *attn_isa(void);

#ifdef __cplusplus
}
#endif

#endif /* ATTENTION_H */
