// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * CPU decode attention, its paged variant and a batched block copy
 * (attention.h, Documentation/kernels.md).
 *
 * The several rules that build this file use -O1 or -O2; at those levels
 * GCC 12 vectorizes only loops whose trip count is a known multiple of the
 * vector width, and head_dim is known at run time only: so this file asks
 * for -O3 itself.
 */
#pragma GCC optimize("O3")

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attention.h"

/* ------------------------------------------------------------ the pool */

typedef void (*attn_item_fn)(void *arg, uint64_t item);

struct attn_pool {
	pthread_mutex_t call;	/* one call at a time */
	pthread_mutex_t lock;
	pthread_cond_t start, done;
	pthread_t *threads;
	unsigned int nthreads;	/* workers + the caller */
	unsigned int running;	/* workers still on the current job */
	uint64_t gen;		/* job number */
	int stop;
	attn_item_fn fn;
	void *arg;
	uint64_t nitems;
	atomic_uint_fast64_t next;
};

static void pool_drain(struct attn_pool *p)
{
	uint64_t i;

	while ((i = atomic_fetch_add(&p->next, 1)) < p->nitems)
		p->fn(p->arg, i);
}

static void *pool_worker(void *arg)
{
	struct attn_pool *p = arg;
	uint64_t seen = 0;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (p->gen == seen && !p->stop)
			pthread_cond_wait(&p->start, &p->lock);
		if (p->stop)
			break;
		seen = p->gen;
		pthread_mutex_unlock(&p->lock);
		pool_drain(p);
		pthread_mutex_lock(&p->lock);
		if (!--p->running)
			pthread_cond_signal(&p->done);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

static void pool_stop(struct attn_pool *p, unsigned int started)
{
	unsigned int i;

	pthread_mutex_lock(&p->lock);
	p->stop = 1;
	pthread_cond_broadcast(&p->start);
	pthread_mutex_unlock(&p->lock);
	for (i = 0; i < started; i++)
		pthread_join(p->threads[i], NULL);
}

int attn_pool_create(unsigned int nthreads, struct attn_pool **pool)
{
	struct attn_pool *p;
	unsigned int i;
	int ret;

	if (!pool || nthreads > 256)
		return -EINVAL;
	if (!nthreads) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		nthreads = n < 1 ? 1 : n > 256 ? 256 : (unsigned int)n;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->threads = calloc(nthreads, sizeof(*p->threads));
	if (!p->threads) {
		free(p);
		return -ENOMEM;
	}
	pthread_mutex_init(&p->call, NULL);
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->start, NULL);
	pthread_cond_init(&p->done, NULL);
	p->nthreads = nthreads;
	for (i = 0; i + 1 < nthreads; i++) {
		ret = pthread_create(&p->threads[i], NULL, pool_worker, p);
		if (ret) {
			pool_stop(p, i);
			free(p->threads);
			free(p);
			return -ret;
		}
	}
	*pool = p;
	return 0;
}

void attn_pool_destroy(struct attn_pool *p)
{
	if (!p)
		return;
	pool_stop(p, p->nthreads - 1);
	pthread_mutex_destroy(&p->call);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->start);
	pthread_cond_destroy(&p->done);
	free(p->threads);
	free(p);
}

unsigned int attn_pool_threads(const struct attn_pool *p)
{
	return p ? p->nthreads : 1;
}

/* Runs fn(arg, i) for i < n on the pool's threads and the caller's. */
static void pool_run(struct attn_pool *p, attn_item_fn fn, void *arg,
		     uint64_t n)
{
	uint64_t i;

	if (!p || p->nthreads == 1 || n < 2) {
		for (i = 0; i < n; i++)
			fn(arg, i);
		return;
	}
	pthread_mutex_lock(&p->call);
	pthread_mutex_lock(&p->lock);
	p->fn = fn;
	p->arg = arg;
	p->nitems = n;
	atomic_store(&p->next, 0);
	p->running = p->nthreads - 1;
	p->gen++;
	pthread_cond_broadcast(&p->start);
	pthread_mutex_unlock(&p->lock);
	pool_drain(p);
	pthread_mutex_lock(&p->lock);
	while (p->running)
		pthread_cond_wait(&p->done, &p->lock);
	pthread_mutex_unlock(&p->lock);
	pthread_mutex_unlock(&p->call);
}

/* ------------------------------------------------------ the inner loops */

/*
 * These are always inlined into attn_item_base() and attn_item_v3(), so
 * that each gets its own build of them: baseline x86-64 (SSE2) and
 * x86-64-v3 (AVX2, FMA). Each loop over head_dim must vectorize (make
 * build/kernels/vec-report.txt checks it).
 */
#define ATTN_INLINE static inline __attribute__((always_inline))

/* Query heads one pass keeps accumulators for (8 * 256 floats: 8 KiB). */
#define QCHUNK 8

union attn_fu {
	float f;
	uint32_t u;
};

/*
 * binary16 to float without branches (so that the loop vectorizes): the
 * exponent and mantissa shifted into a float's place, times 2^112, give
 * normal and subnormal halves exactly; infinities and NaNs get the
 * all-ones exponent back.
 */
ATTN_INLINE float h2f(uint32_t h)
{
	uint32_t em = h & 0x7fff, sign = (h & 0x8000) << 16, special;
	union attn_fu a, r;

	a.u = em << 13;
	a.f *= 0x1p112f;
	special = 0u - (uint32_t)(em >= 0x7c00);
	r.u = (special & ((em << 13) | 0x70000000u)) | (~special & a.u) | sign;
	return r.f;
}

ATTN_INLINE void row_f16(const uint16_t *restrict h, float *restrict f,
			 uint32_t d)
{
	for (uint32_t i = 0; i < d; i++) /* VEC */
		f[i] = h2f(h[i]);
}

ATTN_INLINE float dot(const float *restrict a, const float *restrict b,
		      uint32_t d)
{
	/* Eight partial sums: a float reduction the vectorizer may reorder
	 * without -ffast-math (the order is fixed, and the same in every
	 * build). */
	float p[8] = { 0 }, s = 0;
	uint32_t i, l;

	for (i = 0; i + 8 <= d; i += 8) /* VEC */
		for (l = 0; l < 8; l++)
			p[l] += a[i + l] * b[i + l];
	for (; i < d; i++)
		s += a[i] * b[i];
	for (l = 0; l < 8; l++)
		s += p[l];
	return s;
}

ATTN_INLINE void axpy(float *restrict y, float a, const float *restrict x,
		      uint32_t d)
{
	for (uint32_t i = 0; i < d; i++) /* VEC */
		y[i] += a * x[i];
}

ATTN_INLINE void scale(float *restrict y, float a, uint32_t d)
{
	for (uint32_t i = 0; i < d; i++) /* VEC */
		y[i] *= a;
}

/* A row of a K or V tensor as floats: in place (F32) or converted. */
ATTN_INLINE const float *row(const uint8_t *p, int f16, float *buf,
			     uint32_t d)
{
	if (!f16)
		return (const float *)(const void *)p;
	row_f16((const uint16_t *)(const void *)p, buf, d);
	return buf;
}

/* Tokens of one run: a tensor is one run, a paged sequence one per block. */
struct attn_run {
	const uint8_t *k, *v;	/* token 0 of the run, at the KV head */
	uint64_t token_stride;
	uint32_t ntok;		/* at most ATTN_BLOCK_TOKENS */
};

/* Online-softmax state of up to QCHUNK query heads. */
struct attn_state {
	uint32_t nq, d;
	int f16;
	float scale;
	const float *q;		/* nq rows of d */
	float m[QCHUNK], l[QCHUNK];
	float acc[QCHUNK][ATTN_MAX_HEAD_DIM];
	float buf[ATTN_MAX_HEAD_DIM];
};

ATTN_INLINE void state_init(struct attn_state *s)
{
	for (uint32_t j = 0; j < s->nq; j++) {
		s->m[j] = -INFINITY;
		s->l[j] = 0;
		memset(s->acc[j], 0, s->d * sizeof(float));
	}
}

/*
 * Folds a run of tokens into the state: the scores of the run, one
 * rescale of the accumulators per head to the run's new maximum, then
 * the weighted values.
 */
ATTN_INLINE void state_run(struct attn_state *s, const struct attn_run *r)
{
	float sc[QCHUNK][ATTN_BLOCK_TOKENS];
	uint32_t j, t, d = s->d;

	for (t = 0; t < r->ntok; t++) {
		const float *k = row(r->k + t * r->token_stride, s->f16,
				     s->buf, d);

		for (j = 0; j < s->nq; j++)
			sc[j][t] = dot(s->q + (size_t)j * d, k, d) * s->scale;
	}
	for (j = 0; j < s->nq; j++) {
		float mx = s->m[j], sum = 0, corr;

		for (t = 0; t < r->ntok; t++)
			mx = sc[j][t] > mx ? sc[j][t] : mx;
		corr = expf(s->m[j] - mx);	/* 0 on the first run */
		for (t = 0; t < r->ntok; t++) {
			sc[j][t] = expf(sc[j][t] - mx);
			sum += sc[j][t];
		}
		if (corr != 1.0f)
			scale(s->acc[j], corr, d);
		s->l[j] = s->l[j] * corr + sum;
		s->m[j] = mx;
	}
	for (t = 0; t < r->ntok; t++) {
		const float *v = row(r->v + t * r->token_stride, s->f16,
				     s->buf, d);

		for (j = 0; j < s->nq; j++)
			axpy(s->acc[j], sc[j][t], v, d);
	}
}

ATTN_INLINE void state_out(const struct attn_state *s, float *out)
{
	for (uint32_t j = 0; j < s->nq; j++) {
		float inv = 1.0f / s->l[j];
		float *o = out + (size_t)j * s->d;

		for (uint32_t i = 0; i < s->d; i++) /* VEC */
			o[i] = s->acc[j][i] * inv;
	}
}

/* ------------------------------------------------------- the work items */

/* What one call does: shared by its items, read-only. */
struct attn_job {
	const struct attn_shape *shape;
	const struct attn_seq *seqs;		/* tensor variant */
	const struct attn_paged_cache *cache;	/* paged variant */
	const struct attn_paged_seq *pseqs;
	uint32_t qchunks;	/* passes per KV head */
	int f16;
	size_t esize;
};

/*
 * Item i: sequence i / (kv_heads * qchunks), KV head g, and the query heads
 * [first, first + nq) of g's group.
 */
ATTN_INLINE void attn_item_body(const struct attn_job *job, uint64_t item)
{
	const struct attn_shape *sh = job->shape;
	uint32_t group = sh->q_heads / sh->kv_heads, c, g, first;
	uint64_t per_seq = (uint64_t)sh->kv_heads * job->qchunks, seq, t;
	struct attn_state s;
	struct attn_run r;
	const float *q;
	float *out;

	seq = item / per_seq;
	g = (uint32_t)(item % per_seq / job->qchunks);
	c = (uint32_t)(item % job->qchunks);
	first = g * group + c * QCHUNK;
	s.nq = group - c * QCHUNK < QCHUNK ? group - c * QCHUNK : QCHUNK;
	s.d = sh->head_dim;
	s.f16 = job->f16;
	s.scale = 1.0f / sqrtf((float)sh->head_dim);
	state_init(&s);
	if (job->seqs) {
		const struct attn_seq *a = &job->seqs[seq];
		const uint8_t *k = (const uint8_t *)(uintptr_t)a->k.base +
				   g * a->k.head_stride;
		const uint8_t *v = (const uint8_t *)(uintptr_t)a->v.base +
				   g * a->v.head_stride;

		q = a->q;
		out = a->out;
		s.q = q + (size_t)first * s.d;
		/* K and V share token_stride in both libaccel layouts; two
		 * tensors with different strides are walked as runs of K's
		 * and V's own strides below. */
		for (t = 0; t < a->tokens; t += ATTN_BLOCK_TOKENS) {
			uint64_t n = a->tokens - t;

			r.ntok = n < ATTN_BLOCK_TOKENS ? (uint32_t)n :
							 ATTN_BLOCK_TOKENS;
			if (a->k.token_stride == a->v.token_stride) {
				r.k = k + t * a->k.token_stride;
				r.v = v + t * a->v.token_stride;
				r.token_stride = a->k.token_stride;
				state_run(&s, &r);
			} else {
				/* One token per run: each its own stride. */
				uint32_t n2 = r.ntok;

				for (uint32_t u = 0; u < n2; u++) {
					r.k = k + (t + u) * a->k.token_stride;
					r.v = v + (t + u) * a->v.token_stride;
					r.token_stride = 0;
					r.ntok = 1;
					state_run(&s, &r);
				}
			}
		}
	} else {
		const struct attn_paged_cache *pc = job->cache;
		const struct attn_paged_seq *a = &job->pseqs[seq];

		q = a->q;
		out = a->out;
		s.q = q + (size_t)first * s.d;
		r.token_stride = pc->token_stride;
		for (t = 0; t < a->tokens; t += ATTN_BLOCK_TOKENS) {
			uint64_t n = a->tokens - t, off;

			off = a->blocks[t / ATTN_BLOCK_TOKENS] *
				      pc->block_stride + g * pc->head_stride;
			r.k = (const uint8_t *)(uintptr_t)pc->k_base + off;
			r.v = (const uint8_t *)(uintptr_t)pc->v_base + off;
			r.ntok = n < ATTN_BLOCK_TOKENS ? (uint32_t)n :
							 ATTN_BLOCK_TOKENS;
			state_run(&s, &r);
		}
	}
	state_out(&s, out + (size_t)first * s.d);
}

static void attn_item_base(void *arg, uint64_t item)
{
	attn_item_body(arg, item);
}

#if defined(__x86_64__) && defined(__GNUC__)
#define ATTN_HAVE_V3 1
__attribute__((target("arch=x86-64-v3")))
static void attn_item_v3(void *arg, uint64_t item)
{
	attn_item_body(arg, item);
}
#endif

static attn_item_fn attn_pick(void)
{
#ifdef ATTN_HAVE_V3
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
	    !getenv("ATTN_BASELINE"))
		return attn_item_v3;
#endif
	return attn_item_base;
}

const char *attn_isa(void)
{
	return attn_pick() == attn_item_base ? "baseline" : "x86-64-v3";
}

/* ----------------------------------------------------------- the calls */

static int shape_ok(const struct attn_shape *s)
{
	return s && s->q_heads && s->kv_heads && s->head_dim &&
	       !(s->q_heads % s->kv_heads) &&
	       s->head_dim <= ATTN_MAX_HEAD_DIM;
}

static int dtype_check(uint32_t dtype, size_t *esize)
{
	if (dtype == ACCEL_DTYPE_F32 || dtype == ACCEL_DTYPE_F16) {
		*esize = dtype == ACCEL_DTYPE_F32 ? 4 : 2;
		return 0;
	}
	return dtype == ACCEL_DTYPE_BF16 || dtype == ACCEL_DTYPE_FP8 ?
		       -EOPNOTSUPP : -EINVAL;
}

static int tensor_ok(const struct accel_tensor *t, uint64_t tokens,
		     uint32_t dtype, size_t row)
{
	return !t->on_device && t->base && t->dtype == dtype &&
	       tokens <= t->max_tokens && t->head_stride >= row;
}

static void job_init(struct attn_job *job, const struct attn_shape *shape,
		     uint32_t dtype, size_t esize)
{
	memset(job, 0, sizeof(*job));
	job->shape = shape;
	job->f16 = dtype == ACCEL_DTYPE_F16;
	job->esize = esize;
	job->qchunks = (shape->q_heads / shape->kv_heads + QCHUNK - 1) / QCHUNK;
}

int attn_decode(struct attn_pool *pool, const struct attn_shape *shape,
		const struct attn_seq *seqs, uint32_t nseqs)
{
	struct attn_job job;
	size_t esize = 0, rowb;
	uint32_t i;
	int ret;

	if (!shape_ok(shape) || (!seqs && nseqs))
		return -EINVAL;
	if (!nseqs)
		return 0;
	ret = dtype_check(seqs[0].k.dtype, &esize);
	if (ret)
		return ret;
	rowb = shape->head_dim * esize;
	for (i = 0; i < nseqs; i++) {
		const struct attn_seq *a = &seqs[i];

		if (!a->tokens || !a->q || !a->out ||
		    !tensor_ok(&a->k, a->tokens, seqs[0].k.dtype, rowb) ||
		    !tensor_ok(&a->v, a->tokens, seqs[0].k.dtype, rowb))
			return -EINVAL;
	}
	job_init(&job, shape, seqs[0].k.dtype, esize);
	job.seqs = seqs;
	pool_run(pool, attn_pick(), &job,
		 (uint64_t)nseqs * shape->kv_heads * job.qchunks);
	return 0;
}

int attn_decode_paged(struct attn_pool *pool, const struct attn_shape *shape,
		      const struct attn_paged_cache *c,
		      const struct attn_paged_seq *seqs, uint32_t nseqs)
{
	struct attn_job job;
	size_t esize = 0;
	uint64_t b;
	uint32_t i;
	int ret;

	if (!shape_ok(shape) || !c || (!seqs && nseqs))
		return -EINVAL;
	ret = dtype_check(c->dtype, &esize);
	if (ret)
		return ret;
	if (!c->k_base || !c->v_base || !c->nblocks ||
	    c->head_stride < shape->head_dim * esize ||
	    c->token_stride > c->block_stride / ATTN_BLOCK_TOKENS)
		return -EINVAL;
	for (i = 0; i < nseqs; i++) {
		const struct attn_paged_seq *a = &seqs[i];

		if (!a->tokens || !a->q || !a->out || !a->blocks)
			return -EINVAL;
		for (b = 0; b < (a->tokens + ATTN_BLOCK_TOKENS - 1) /
					ATTN_BLOCK_TOKENS; b++)
			if (a->blocks[b] >= c->nblocks)
				return -EINVAL;
	}
	if (!nseqs)
		return 0;
	job_init(&job, shape, c->dtype, esize);
	job.cache = c;
	job.pseqs = seqs;
	pool_run(pool, attn_pick(), &job,
		 (uint64_t)nseqs * shape->kv_heads * job.qchunks);
	return 0;
}

/* --------------------------------------------------------- block copy */

/* Blocks one item of the copy moves: few enough to spread, enough to
 * amortize taking an item. */
#define COPY_PER_ITEM 8

struct copy_job {
	uint8_t *dst;
	const uint8_t *src;
	uint64_t stride, bytes, n;
	const struct attn_copy_op *ops;
};

static void copy_item(void *arg, uint64_t item)
{
	const struct copy_job *j = arg;
	uint64_t i, end = (item + 1) * COPY_PER_ITEM;

	for (i = item * COPY_PER_ITEM; i < end && i < j->n; i++) {
		const struct attn_copy_op *op = &j->ops[i];

		if (j->dst + op->dst * j->stride != j->src + op->src * j->stride)
			memcpy(j->dst + op->dst * j->stride,
			       j->src + op->src * j->stride, j->bytes);
	}
}

int attn_copy_blocks(struct attn_pool *pool, void *dst_base,
		     const void *src_base, uint64_t block_stride,
		     uint64_t block_bytes, const struct attn_copy_op *ops,
		     uint64_t n)
{
	struct copy_job j = {
		.dst = dst_base, .src = src_base, .stride = block_stride,
		.bytes = block_bytes, .n = n, .ops = ops,
	};

	if (!dst_base || !src_base || !block_bytes ||
	    block_bytes > block_stride || (!ops && n))
		return -EINVAL;
	pool_run(pool, copy_item, &j, (n + COPY_PER_ITEM - 1) / COPY_PER_ITEM);
	return 0;
}
