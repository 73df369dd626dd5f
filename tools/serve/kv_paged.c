// SPDX-License-Identifier: GPL-2.0
/*
 * The paged KV stores of the three baselines (serving-bench.md):
 *  - recompute: vLLM V1's preemption: blocks freed, the context prefilled
 *    again when the request runs again;
 *  - vllm_swap: vLLM's legacy swap: 16-token blocks from a free list, a
 *    swap moves every block with one copy per block per layer per K/V,
 *    inside the step (the engine waits), and the host blocks are freed
 *    after a swap-in;
 *  - fastswitch: FastSwitch's design on the same blocks: contiguous block
 *    groups (a swap moves each run of contiguous blocks as one copy per
 *    layer per K/V), swap threads beside the steps, and the host copy kept
 *    after a swap-in so that the next swap-out moves only what was
 *    written since.
 * The "device" pools are one malloc'ed buffer per layer and K/V,
 * [nblocks][16][kv_heads][head_dim] f16 as vLLM 0.3's caches; host pools
 * the same.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "serve.h"

#define BLK_BYTES	(UNIT_TOKENS * M_KVDIM * 2)	/* one layer, K or V */
#define TOK_BYTES	(M_KVDIM * 2)
#define FS_THREADS	2

enum { MODE_RECOMPUTE, MODE_VLLM, MODE_FS };

struct balloc {
	uint8_t *used;
	uint32_t *stack;	/* free list (vLLM mode) */
	uint64_t n, nfree, top;
	int contig;
};

struct pconv {
	uint32_t *dblk, *hblk;
	uint64_t nd, nh, capd, caph;
	uint64_t host_valid;	/* tokens the host copy holds (fastswitch) */
	uint64_t tokens;	/* tokens the swap moves */
	int state;
	uint64_t job_bytes;
};

struct job {
	struct conv *c;
	int in;
	struct job *next;
};

struct kv {
	struct kv_counters cnt;
	int mode;
	uint8_t *dev[M_LAYERS][2], *host[M_LAYERS][2];
	struct balloc da, ha;
	struct pconv *pc;
	uint32_t nconv;
	/* fastswitch's swap threads */
	pthread_t thr[FS_THREADS];
	int nthr, stop, inflight;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct job *queue, *qtail, *done;
	double busy_t0;
};

static int ba_init(struct balloc *a, uint64_t n, int contig)
{
	a->used = calloc(n, 1);
	a->stack = malloc(n * sizeof(uint32_t));
	if (!a->used || !a->stack)
		return -ENOMEM;
	a->n = a->nfree = a->top = n;
	a->contig = contig;
	for (uint64_t i = 0; i < n; i++)
		a->stack[i] = (uint32_t)(n - 1 - i);
	return 0;
}

static void ba_free_all(struct balloc *a)
{
	free(a->used);
	free(a->stack);
}

/* Block after `prev` if free (fastswitch: extend the group), else the
 * first block of a free run of 8 (room for the group to grow), else
 * any. vLLM mode: the free list's top. */
static int64_t ba_get(struct balloc *a, int64_t prev)
{
	if (!a->nfree)
		return -1;
	if (!a->contig) {
		while (a->top) {
			uint32_t b = a->stack[--a->top];

			if (!a->used[b]) {
				a->used[b] = 1;
				a->nfree--;
				return b;
			}
		}
		return -1;
	}
	if (prev >= 0 && (uint64_t)prev + 1 < a->n && !a->used[prev + 1]) {
		a->used[prev + 1] = 1;
		a->nfree--;
		return prev + 1;
	}
	for (int want = 8; want >= 1; want /= 2) {
		uint64_t run = 0;

		for (uint64_t i = 0; i < a->n; i++) {
			run = a->used[i] ? 0 : run + 1;
			if (run == (uint64_t)want) {
				uint64_t b = i + 1 - run;

				a->used[b] = 1;
				a->nfree--;
				return (int64_t)b;
			}
		}
	}
	return -1;
}

/* n contiguous blocks (fastswitch's swap-in: one group), or -1. */
static int64_t ba_get_run(struct balloc *a, uint64_t n)
{
	uint64_t run = 0;

	if (!a->contig || !n || a->nfree < n)
		return -1;
	for (uint64_t i = 0; i < a->n; i++) {
		run = a->used[i] ? 0 : run + 1;
		if (run == n) {
			uint64_t b = i + 1 - n;

			memset(a->used + b, 1, n);
			a->nfree -= n;
			return (int64_t)b;
		}
	}
	return -1;
}

static void ba_put(struct balloc *a, uint32_t b)
{
	a->used[b] = 0;
	a->nfree++;
	if (!a->contig)
		a->stack[a->top++] = b;
}

static int tab_push(uint32_t **t, uint64_t *n, uint64_t *cap, uint32_t b)
{
	if (*n == *cap) {
		uint64_t c = *cap ? 2 * *cap : 16;
		uint32_t *x = realloc(*t, c * sizeof(uint32_t));

		if (!x)
			return -ENOMEM;
		*t = x;
		*cap = c;
	}
	(*t)[(*n)++] = b;
	return 0;
}

/*
 * A block table grown to nb blocks of allocator a, contiguous with what
 * it has where it can (fastswitch: an empty table takes one run). Returns
 * 0, or short (-ENOMEM for the device pool, -ENOSPC for the host's).
 */
static int tab_grow(struct kv *kv, struct balloc *a, uint32_t **t,
		    uint64_t *n, uint64_t *cap, uint64_t nb, int short_err)
{
	if (*n == 0 && nb > 1 && kv->mode == MODE_FS) {
		int64_t b = ba_get_run(a, nb);

		if (b >= 0) {
			for (uint64_t i = 0; i < nb; i++)
				if (tab_push(t, n, cap, (uint32_t)(b + (int64_t)i)))
					return -ENOMEM;
			return 0;
		}
	}
	if (a->nfree < nb - (nb < *n ? nb : *n))
		return short_err;
	while (*n < nb) {
		int64_t b = ba_get(a, *n ? (int64_t)(*t)[*n - 1] : -1);

		if (b < 0)
			return short_err;
		if (tab_push(t, n, cap, (uint32_t)b))
			return -ENOMEM;
	}
	return 0;
}

static int dev_grow(struct kv *kv, struct pconv *p, uint64_t nb)
{
	return tab_grow(kv, &kv->da, &p->dblk, &p->nd, &p->capd, nb, -ENOMEM);
}

/* -ENOSPC: the host swap space is too small. */
static int host_grow(struct kv *kv, struct pconv *p, uint64_t nb)
{
	return tab_grow(kv, &kv->ha, &p->hblk, &p->nh, &p->caph, nb, -ENOSPC);
}

static void dev_free(struct kv *kv, struct pconv *p)
{
	for (uint64_t i = 0; i < p->nd; i++)
		ba_put(&kv->da, p->dblk[i]);
	p->nd = 0;
}

static void host_free(struct kv *kv, struct pconv *p)
{
	for (uint64_t i = 0; i < p->nh; i++)
		ba_put(&kv->ha, p->hblk[i]);
	p->nh = 0;
	p->host_valid = 0;
}

/*
 * Copies blocks [from, to) between device and host. vLLM: one memcpy per
 * block per layer per K/V. fastswitch: one per run of blocks contiguous
 * on both sides. Returns the bytes and adds the copy calls to *copies.
 */
static uint64_t copy_blocks(struct kv *kv, struct pconv *p, uint64_t from,
			    uint64_t to, int in, uint64_t *copies)
{
	uint64_t bytes = 0;

	for (uint64_t i = from; i < to;) {
		uint64_t n = 1;

		if (kv->mode == MODE_FS)
			while (i + n < to && p->dblk[i + n] == p->dblk[i] + n &&
			       p->hblk[i + n] == p->hblk[i] + n)
				n++;
		for (int l = 0; l < M_LAYERS; l++)
			for (int kvi = 0; kvi < 2; kvi++) {
				uint8_t *d = kv->dev[l][kvi] +
					     (uint64_t)p->dblk[i] * BLK_BYTES;
				uint8_t *h = kv->host[l][kvi] +
					     (uint64_t)p->hblk[i] * BLK_BYTES;

				if (in)
					memcpy(d, h, n * BLK_BYTES);
				else
					memcpy(h, d, n * BLK_BYTES);
				(*copies)++;
				bytes += n * BLK_BYTES;
			}
		i += n;
	}
	return bytes;
}

/* The copies of one swap; the host blocks are in place. */
static uint64_t do_swap(struct kv *kv, struct pconv *p, int in,
			uint64_t *copies, uint64_t *reused)
{
	uint64_t nb = (p->tokens + UNIT_TOKENS - 1) / UNIT_TOKENS, from = 0;

	if (!in && kv->mode == MODE_FS) {
		/* Only what was written since the host copy was made. */
		from = p->host_valid / UNIT_TOKENS;
		*reused = from * BLK_BYTES * 2 * M_LAYERS;
	}
	return copy_blocks(kv, p, from, nb, in, copies);
}

static void *fs_worker(void *arg)
{
	struct kv *kv = arg;

	pthread_mutex_lock(&kv->lock);
	for (;;) {
		struct job *j;
		uint64_t copies = 0, reused = 0, bytes;

		while (!kv->queue && !kv->stop)
			pthread_cond_wait(&kv->cond, &kv->lock);
		if (!kv->queue)
			break;
		j = kv->queue;
		kv->queue = j->next;
		if (!kv->queue)
			kv->qtail = NULL;
		pthread_mutex_unlock(&kv->lock);
		bytes = do_swap(kv, j->c->kvp, j->in, &copies, &reused);
		pthread_mutex_lock(&kv->lock);
		((struct pconv *)j->c->kvp)->job_bytes = bytes;
		kv->cnt.copies += copies;
		kv->cnt.bytes_reused += reused;
		if (j->in)
			kv->cnt.bytes_in += bytes;
		else
			kv->cnt.bytes_out += bytes;
		if (--kv->inflight == 0)
			kv->cnt.copy_busy_s += now_s() - kv->busy_t0;
		j->next = kv->done;
		kv->done = j;
	}
	pthread_mutex_unlock(&kv->lock);
	return NULL;
}

static int p_open(struct kv **out, uint64_t units, uint32_t nconv, int mode)
{
	struct kv *kv = calloc(1, sizeof(*kv));
	uint64_t hu = serve_host_units ? serve_host_units : units * 16;
	int ret;

	if (!kv)
		return -ENOMEM;
	kv->mode = mode;
	kv->nconv = nconv;
	pthread_mutex_init(&kv->lock, NULL);
	pthread_cond_init(&kv->cond, NULL);
	kv->pc = calloc(nconv, sizeof(*kv->pc));
	ret = kv->pc ? ba_init(&kv->da, units, mode == MODE_FS) : -ENOMEM;
	if (!ret && mode != MODE_RECOMPUTE)
		ret = ba_init(&kv->ha, hu, mode == MODE_FS);
	for (int l = 0; !ret && l < M_LAYERS; l++)
		for (int k = 0; k < 2; k++) {
			/* calloc: pages touched as they are first used, as
			 * a GPU allocator's would be already there; the
			 * first-touch cost is the same for all three. */
			kv->dev[l][k] = calloc(units, BLK_BYTES);
			if (mode != MODE_RECOMPUTE)
				kv->host[l][k] = calloc(hu, BLK_BYTES);
			if (!kv->dev[l][k] ||
			    (mode != MODE_RECOMPUTE && !kv->host[l][k]))
				ret = -ENOMEM;
		}
	for (int i = 0; !ret && mode == MODE_FS && i < FS_THREADS; i++) {
		ret = -pthread_create(&kv->thr[i], NULL, fs_worker, kv);
		if (!ret)
			kv->nthr++;
	}
	*out = kv;
	return ret;
}

static void p_close(struct kv *kv)
{
	pthread_mutex_lock(&kv->lock);
	kv->stop = 1;
	pthread_cond_broadcast(&kv->cond);
	pthread_mutex_unlock(&kv->lock);
	for (int i = 0; i < kv->nthr; i++)
		pthread_join(kv->thr[i], NULL);
	while (kv->queue) {
		struct job *j = kv->queue;

		kv->queue = j->next;
		free(j);
	}
	while (kv->done) {
		struct job *j = kv->done;

		kv->done = j->next;
		free(j);
	}
	for (uint32_t i = 0; kv->pc && i < kv->nconv; i++) {
		free(kv->pc[i].dblk);
		free(kv->pc[i].hblk);
	}
	for (int l = 0; l < M_LAYERS; l++)
		for (int k = 0; k < 2; k++) {
			free(kv->dev[l][k]);
			free(kv->host[l][k]);
		}
	ba_free_all(&kv->da);
	ba_free_all(&kv->ha);
	free(kv->pc);
	free(kv);
}

static struct pconv *pc_of(struct kv *kv, struct conv *c)
{
	c->kvp = &kv->pc[c->id];
	return c->kvp;
}

static int p_grow(struct kv *kv, struct conv *c, uint64_t tokens)
{
	struct pconv *p = pc_of(kv, c);
	int ret;

	if (p->state != KV_NONE && p->state != KV_RESIDENT)
		return -EBUSY;
	ret = dev_grow(kv, p, (tokens + UNIT_TOKENS - 1) / UNIT_TOKENS);
	if (!ret)
		p->state = KV_RESIDENT;
	return ret;
}

static void p_write(struct kv *kv, struct conv *c, uint32_t l, uint64_t pos,
		    const float *k, const float *v)
{
	struct pconv *p = pc_of(kv, c);
	uint64_t off = (uint64_t)p->dblk[pos / UNIT_TOKENS] * BLK_BYTES +
		       pos % UNIT_TOKENS * TOK_BYTES;
	uint16_t *kd = (uint16_t *)(kv->dev[l][0] + off);
	uint16_t *vd = (uint16_t *)(kv->dev[l][1] + off);

	for (int d = 0; d < M_KVDIM; d++) {
		kd[d] = attn_f32_to_f16(k[d]);
		vd[d] = attn_f32_to_f16(v[d]);
	}
}

static int p_attend(struct kv *kv, uint32_t l, struct conv **cs, uint32_t n,
		    const float *q, float *out)
{
	struct attn_shape sh = { M_QHEADS, M_KVHEADS, M_HDIM };
	struct attn_paged_cache pcache = {
		.k_base = (uint64_t)(uintptr_t)kv->dev[l][0],
		.v_base = (uint64_t)(uintptr_t)kv->dev[l][1],
		.block_stride = BLK_BYTES, .token_stride = TOK_BYTES,
		.head_stride = M_HDIM * 2, .nblocks = kv->da.n,
		.dtype = ACCEL_DTYPE_F16,
	};
	struct attn_paged_seq ps[256];
	int ret = 0;

	for (uint32_t i = 0; i < n && !ret; i += 256) {
		uint32_t m = n - i < 256 ? n - i : 256;

		for (uint32_t j = 0; j < m; j++) {
			struct conv *c = cs[i + j];

			ps[j].blocks = pc_of(kv, c)->dblk;
			ps[j].tokens = c->hlen;
			ps[j].q = q + (size_t)(i + j) * M_QDIM;
			ps[j].out = out + (size_t)(i + j) * M_QDIM;
		}
		ret = attn_decode_paged(serve_pool, &sh, &pcache, ps, m);
	}
	return ret;
}

static void p_drop(struct kv *kv, struct conv *c)
{
	struct pconv *p = pc_of(kv, c);

	dev_free(kv, p);
	if (kv->mode != MODE_RECOMPUTE)
		host_free(kv, p);
	p->state = KV_NONE;
}

static int p_swap(struct kv *kv, struct conv *c, int in)
{
	struct pconv *p = pc_of(kv, c);
	uint64_t nb, copies = 0, reused = 0, bytes;
	double t0;
	int ret;

	if (p->state != (in ? KV_SWAPPED : KV_RESIDENT))
		return -EBUSY;
	p->tokens = c->kv_n;
	nb = (p->tokens + UNIT_TOKENS - 1) / UNIT_TOKENS;
	ret = in ? dev_grow(kv, p, nb) : host_grow(kv, p, nb);
	if (ret)
		return ret;
	if (!in && p->nd > nb) {
		/* Blocks grown for a step that did not run hold nothing. */
		while (p->nd > nb)
			ba_put(&kv->da, p->dblk[--p->nd]);
	}
	if (in)
		kv->cnt.swaps_in++;
	else
		kv->cnt.swaps_out++;
	if (kv->mode == MODE_FS) {
		struct job *j = malloc(sizeof(*j));

		if (!j)
			return -ENOMEM;
		j->c = c;
		j->in = in;
		j->next = NULL;
		p->state = in ? KV_SWAPPING_IN : KV_SWAPPING_OUT;
		pthread_mutex_lock(&kv->lock);
		if (kv->inflight++ == 0)
			kv->busy_t0 = now_s();
		if (kv->qtail)
			kv->qtail->next = j;
		else
			kv->queue = j;
		kv->qtail = j;
		pthread_cond_signal(&kv->cond);
		pthread_mutex_unlock(&kv->lock);
		return 0;
	}
	/* vLLM: inside the step, on the engine's thread. */
	t0 = now_s();
	bytes = do_swap(kv, p, in, &copies, &reused);
	t0 = now_s() - t0;
	kv->cnt.copies += copies;
	kv->cnt.copy_busy_s += t0;
	kv->cnt.sync_copy_s += t0;
	if (in) {
		kv->cnt.bytes_in += bytes;
		host_free(kv, p);	/* vLLM frees the CPU blocks */
		p->state = KV_RESIDENT;
	} else {
		kv->cnt.bytes_out += bytes;
		dev_free(kv, p);
		p->state = KV_SWAPPED;
	}
	return 0;
}

static int p_swap_out(struct kv *kv, struct conv *c)
{
	return p_swap(kv, c, 0);
}

static int p_swap_in(struct kv *kv, struct conv *c)
{
	return p_swap(kv, c, 1);
}

static int p_poll(struct kv *kv)
{
	struct job *d;
	int n = 0;

	if (kv->mode != MODE_FS)
		return 0;
	pthread_mutex_lock(&kv->lock);
	d = kv->done;
	kv->done = NULL;
	pthread_mutex_unlock(&kv->lock);
	while (d) {
		struct job *j = d;
		struct pconv *p = j->c->kvp;

		d = j->next;
		if (j->in) {
			p->state = KV_RESIDENT;
		} else {
			p->host_valid = p->tokens;
			dev_free(kv, p);
			p->state = KV_SWAPPED;
		}
		free(j);
		n++;
	}
	return n;
}

static int p_state(struct kv *kv, struct conv *c)
{
	return pc_of(kv, c)->state;
}

static uint64_t p_units(struct kv *kv, struct conv *c)
{
	return pc_of(kv, c)->nd;
}

static uint64_t p_units_for(struct kv *kv, uint64_t tokens)
{
	(void)kv;
	return (tokens + UNIT_TOKENS - 1) / UNIT_TOKENS;
}

static int open_recompute(struct kv **kv, uint64_t u, uint32_t n)
{
	return p_open(kv, u, n, MODE_RECOMPUTE);
}

static int open_vllm(struct kv **kv, uint64_t u, uint32_t n)
{
	return p_open(kv, u, n, MODE_VLLM);
}

static int open_fs(struct kv **kv, uint64_t u, uint32_t n)
{
	return p_open(kv, u, n, MODE_FS);
}

#define PAGED_OPS(nm, sw, as, op)					\
	{								\
		.name = nm, .swaps = sw, .async = as, .open = op,	\
		.close = p_close, .grow = p_grow, .write = p_write,	\
		.attend = p_attend, .drop = p_drop,			\
		.swap_out = p_swap_out, .swap_in = p_swap_in,		\
		.poll = p_poll, .state = p_state, .units = p_units,	\
		.units_for = p_units_for,				\
	}

const struct kv_ops kv_recompute_ops = PAGED_OPS("recompute", false, false,
						 open_recompute);
const struct kv_ops kv_vllm_ops = PAGED_OPS("vllm_swap", true, false, open_vllm);
const struct kv_ops kv_fastswitch_ops = PAGED_OPS("fastswitch", true, true,
						  open_fs);
