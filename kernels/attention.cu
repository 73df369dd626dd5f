// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * CUDA decode attention (tensor and paged) and the batched block copy: the
 * GPU counterparts of kernels/attention.c, for the engine's cuda path
 * (Documentation/kernels.md).
 *
 * NOT RUN HERE: the build machine has nvcc but no GPU. `make
 * build/kernels/kvmem_kernels.fatbin` compiles this file for sm_90 plus
 * compute_90 PTX (so newer GPUs JIT it), and make check checks that it
 * builds and exports the entry points below; nothing in make check
 * executes it. Run it where a GPU is lent.
 *
 * Loading (Driver API, no runtime library needed):
 *   CUmodule m; CUfunction f;
 *   cuModuleLoad(&m, "build/kernels/kvmem_kernels.fatbin");
 *   cuModuleGetFunction(&f, m, "kvmem_attn_decode_f16");
 *   void *args[] = { &q, &out, &k_base, &v_base, &tokens, &token_stride,
 *                    &head_stride, &q_heads, &kv_heads, &head_dim };
 *   cuLaunchKernel(f, q_heads, nseqs, 1, ATTN_CU_THREADS, 1, 1, 0,
 *                  stream, args, NULL);
 * Names are extern "C", so unmangled. Entry points:
 *   kvmem_attn_decode_f32 / _f16: grid (q_heads, nseqs), block
 *     ATTN_CU_THREADS (128) threads. Arguments: const float *q
 *     [nseqs][q_heads][head_dim]; float *out, the same shape;
 *     const unsigned long long *k_base, *v_base, *tokens: one per
 *     sequence (the CUdeviceptr of token 0, head 0 of each sequence's
 *     tensor, as accel_seq_tensor() gives with the cuda backend; its
 *     length); unsigned long long token_stride, head_stride (bytes, the
 *     same for every sequence of a layer and geometry); unsigned int
 *     q_heads, kv_heads, head_dim (head_dim <= 256).
 *   kvmem_attn_decode_paged_f32 / _f16: grid and block as above. Arguments:
 *     q, out; const char *k_pool, *v_pool (block 0); const unsigned int
 *     *block_tables [nseqs][max_blocks]; unsigned int max_blocks;
 *     const unsigned long long *tokens; unsigned long long block_stride,
 *     token_stride, head_stride; q_heads, kv_heads, head_dim.
 *   kvmem_copy_blocks: grid (nops), block 256 threads. Arguments:
 *     char *dst, const char *src; const unsigned long long *ops
 *     [nops][2] (destination block, source block); unsigned long long
 *     block_stride, block_bytes.
 *
 * Math: that of attention.c (online softmax in float, scores scaled by
 * 1/sqrt(head_dim)); each block owns one (sequence, query head), each
 * warp a strided share of the tokens with its own running max and sum,
 * merged at the end. It is plain and correct, not FlashDecoding-fast.
 */
#include <cuda_fp16.h>
#include <stdint.h>

#define ATTN_CU_THREADS 128
#define ATTN_CU_WARPS (ATTN_CU_THREADS / 32)
#define ATTN_CU_MAX_DIM 256
#define ATTN_CU_BLOCK_TOKENS 16

template <typename T> __device__ __forceinline__ float ld(const T *p);
template <> __device__ __forceinline__ float ld<float>(const float *p)
{
	return *p;
}
template <> __device__ __forceinline__ float ld<__half>(const __half *p)
{
	return __half2float(*p);
}

/* Where token t of this sequence's K (kv 0) or V (kv 1) head g starts. */
struct tensor_loc {
	const char *k, *v;
	unsigned long long token_stride;
	__device__ const char *at(const char *b, unsigned long long t) const
	{
		return b + t * token_stride;
	}
};

struct paged_loc {
	const char *k, *v;	/* pool base + g * head_stride */
	const unsigned int *table;
	unsigned long long block_stride, token_stride;
	__device__ const char *at(const char *b, unsigned long long t) const
	{
		return b + table[t / ATTN_CU_BLOCK_TOKENS] * block_stride +
		       (t % ATTN_CU_BLOCK_TOKENS) * token_stride;
	}
};

template <typename T, typename Loc>
__device__ void decode_one(const Loc &loc, unsigned long long tokens,
			   const float *q, float *out, unsigned int d)
{
	__shared__ float sq[ATTN_CU_MAX_DIM];
	__shared__ float wm[ATTN_CU_WARPS], wl[ATTN_CU_WARPS];
	__shared__ float wacc[ATTN_CU_WARPS][ATTN_CU_MAX_DIM];
	unsigned int lane = threadIdx.x % 32, warp = threadIdx.x / 32, i;
	float scale = rsqrtf((float)d), m = -INFINITY, l = 0;
	float acc[ATTN_CU_MAX_DIM / 32];

	for (i = threadIdx.x; i < d; i += blockDim.x)
		sq[i] = q[i];
	for (i = 0; i < ATTN_CU_MAX_DIM / 32; i++)
		acc[i] = 0;
	__syncthreads();
	/* Warp w takes tokens w, w + WARPS, ...; lane owns dims lane + 32k. */
	for (unsigned long long t = warp; t < tokens; t += ATTN_CU_WARPS) {
		const T *k = (const T *)loc.at(loc.k, t);
		const T *v = (const T *)loc.at(loc.v, t);
		float s = 0, mn, corr, p;

		for (i = lane; i < d; i += 32)
			s += sq[i] * ld<T>(k + i);
		for (int o = 16; o; o >>= 1)
			s += __shfl_xor_sync(0xffffffffu, s, o);
		s *= scale;
		mn = fmaxf(m, s);
		corr = __expf(m - mn);
		p = __expf(s - mn);
		l = l * corr + p;
		for (i = lane; i < d; i += 32)
			acc[i / 32] = acc[i / 32] * corr + p * ld<T>(v + i);
		m = mn;
	}
	if (!lane) {
		wm[warp] = m;
		wl[warp] = l;
	}
	for (i = lane; i < d; i += 32)
		wacc[warp][i] = acc[i / 32];
	__syncthreads();
	if (warp)
		return;
	float gm = -INFINITY, gl = 0;

	for (int w = 0; w < ATTN_CU_WARPS; w++)
		gm = fmaxf(gm, wm[w]);
	for (int w = 0; w < ATTN_CU_WARPS; w++)
		gl += wl[w] * (wm[w] == -INFINITY ? 0 : __expf(wm[w] - gm));
	for (i = lane; i < d; i += 32) {
		float o = 0;

		for (int w = 0; w < ATTN_CU_WARPS; w++)
			if (wm[w] != -INFINITY)
				o += wacc[w][i] * __expf(wm[w] - gm);
		out[i] = o / gl;
	}
}

template <typename T>
__device__ void decode_tensor(const float *q, float *out,
			      const unsigned long long *k_base,
			      const unsigned long long *v_base,
			      const unsigned long long *tokens,
			      unsigned long long token_stride,
			      unsigned long long head_stride,
			      unsigned int q_heads, unsigned int kv_heads,
			      unsigned int d)
{
	unsigned int h = blockIdx.x, s = blockIdx.y;
	unsigned int g = h / (q_heads / kv_heads);
	size_t row = ((size_t)s * q_heads + h) * d;
	tensor_loc loc;

	loc.k = (const char *)k_base[s] + g * head_stride;
	loc.v = (const char *)v_base[s] + g * head_stride;
	loc.token_stride = token_stride;
	decode_one<T>(loc, tokens[s], q + row, out + row, d);
}

template <typename T>
__device__ void decode_paged(const float *q, float *out, const char *k_pool,
			     const char *v_pool,
			     const unsigned int *block_tables,
			     unsigned int max_blocks,
			     const unsigned long long *tokens,
			     unsigned long long block_stride,
			     unsigned long long token_stride,
			     unsigned long long head_stride,
			     unsigned int q_heads, unsigned int kv_heads,
			     unsigned int d)
{
	unsigned int h = blockIdx.x, s = blockIdx.y;
	unsigned int g = h / (q_heads / kv_heads);
	size_t row = ((size_t)s * q_heads + h) * d;
	paged_loc loc;

	loc.k = k_pool + g * head_stride;
	loc.v = v_pool + g * head_stride;
	loc.table = block_tables + (size_t)s * max_blocks;
	loc.block_stride = block_stride;
	loc.token_stride = token_stride;
	decode_one<T>(loc, tokens[s], q + row, out + row, d);
}

#define TENSOR_ARGS const float *q, float *out, \
	const unsigned long long *k_base, const unsigned long long *v_base, \
	const unsigned long long *tokens, unsigned long long token_stride, \
	unsigned long long head_stride, unsigned int q_heads, \
	unsigned int kv_heads, unsigned int head_dim
#define TENSOR_PASS q, out, k_base, v_base, tokens, token_stride, \
	head_stride, q_heads, kv_heads, head_dim
#define PAGED_ARGS const float *q, float *out, const char *k_pool, \
	const char *v_pool, const unsigned int *block_tables, \
	unsigned int max_blocks, const unsigned long long *tokens, \
	unsigned long long block_stride, unsigned long long token_stride, \
	unsigned long long head_stride, unsigned int q_heads, \
	unsigned int kv_heads, unsigned int head_dim
#define PAGED_PASS q, out, k_pool, v_pool, block_tables, max_blocks, \
	tokens, block_stride, token_stride, head_stride, q_heads, kv_heads, \
	head_dim

/* The entry points: extern "C" (unmangled), so not templates themselves. */
#define TENSOR_ENTRY(name, T)						\
	extern "C" __global__ void __launch_bounds__(ATTN_CU_THREADS)	\
	name(TENSOR_ARGS) { decode_tensor<T>(TENSOR_PASS); }
#define PAGED_ENTRY(name, T)						\
	extern "C" __global__ void __launch_bounds__(ATTN_CU_THREADS)	\
	name(PAGED_ARGS) { decode_paged<T>(PAGED_PASS); }

TENSOR_ENTRY(kvmem_attn_decode_f32, float)
TENSOR_ENTRY(kvmem_attn_decode_f16, __half)
PAGED_ENTRY(kvmem_attn_decode_paged_f32, float)
PAGED_ENTRY(kvmem_attn_decode_paged_f16, __half)

/* One CUDA block per copied block: 16-byte moves where both ends and the
 * size allow, bytes otherwise. */
extern "C" __global__ void kvmem_copy_blocks(char *dst, const char *src,
					     const unsigned long long *ops,
					     unsigned long long block_stride,
					     unsigned long long block_bytes)
{
	char *d = dst + ops[2 * blockIdx.x] * block_stride;
	const char *s = src + ops[2 * blockIdx.x + 1] * block_stride;
	unsigned long long i;

	if (!(((uintptr_t)d | (uintptr_t)s | block_bytes) & 15)) {
		for (i = threadIdx.x; i < block_bytes / 16; i += blockDim.x)
			((uint4 *)d)[i] = ((const uint4 *)s)[i];
	} else {
		for (i = threadIdx.x; i < block_bytes; i += blockDim.x)
			d[i] = s[i];
	}
}
