// SPDX-License-Identifier: GPL-2.0
/*
 * kvmem-vmtest: libaccel's host backend on the real module (accel.h).
 *
 * What an engine relies on, checked against what the module shows in
 * sysfs: growth maps exactly the pages the tokens need (frames charged
 * per space), tensors are contiguous with the documented strides,
 * step-ahead keeps the step path from blocking under concurrency, finished
 * sequences are reused and given back, swaps keep the data and copy only
 * what changed, every error path, and a close with everything in flight
 * gives everything back. Each test ends with the module as it found it.
 */
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "accel.h"
#include "vmtest.h"

/* A swap of a few pages takes milliseconds; this is for a slow host. */
#define SWAP_WAIT_MS	20000
#define MAX_LAYERS	8	/* of the geometries below */
#define EXAMPLE_BIN	"/bin/accel-example"

/* ------------------------------------------------------------ geometry */

/* Bytes of one token of one layer's K or V. */
static uint64_t geo_row(const struct accel_geometry *g)
{
	return (uint64_t)g->kv_heads * g->head_dim * accel_dtype_size(g->dtype);
}

/* The token stride accel.h documents for the layout. */
static uint64_t geo_stride(const struct accel_geometry *g)
{
	return g->layout == ACCEL_LAYOUT_PER_SEQ ?
	       2ULL * g->layers * geo_row(g) : geo_row(g);
}

static uint32_t geo_spaces(const struct accel_geometry *g)
{
	return g->layout == ACCEL_LAYOUT_PER_SEQ ? 1 : 2 * g->layers;
}

/* Pages each space needs for tokens [0, n). */
static uint64_t geo_pages(const struct accel_geometry *g, uint64_t ps,
			  uint64_t n)
{
	return (n * geo_stride(g) + ps - 1) / ps;
}

/* Tokens that `pages` pages of each space hold entirely. */
static uint64_t geo_tokens(const struct accel_geometry *g, uint64_t ps,
			   uint64_t pages)
{
	uint64_t n = pages * ps / geo_stride(g);

	return n < g->max_tokens ? n : g->max_tokens;
}

static const char *layout_name(const struct accel_geometry *g)
{
	return g->layout == ACCEL_LAYOUT_PER_SEQ ? "per-seq" : "per-layer";
}

/*
 * Per layer, 256 bytes a token: 256 tokens fill a 64 KiB page exactly;
 * 8 pages a space, 4 spaces.
 */
static const struct accel_geometry geo_layer = {
	.layers = 2, .kv_heads = 2, .head_dim = 64, .dtype = ACCEL_DTYPE_F16,
	.max_tokens = 2048, .layout = ACCEL_LAYOUT_PER_LAYER,
};
/* Per sequence, 1024 bytes a token: 64 tokens a page; 8 pages. */
static const struct accel_geometry geo_seq = {
	.layers = 2, .kv_heads = 2, .head_dim = 64, .dtype = ACCEL_DTYPE_F16,
	.max_tokens = 512, .layout = ACCEL_LAYOUT_PER_SEQ,
};
/*
 * Per sequence, 3 layers x (K, V) x 160 bytes = 960 bytes a token: page
 * boundaries fall inside tokens, and max_tokens ends inside a page.
 */
static const struct accel_geometry geo_seq_odd = {
	.layers = 3, .kv_heads = 1, .head_dim = 40, .dtype = ACCEL_DTYPE_F32,
	.max_tokens = 300, .layout = ACCEL_LAYOUT_PER_SEQ,
};
/* Per layer, 3 heads x 96 bytes = 288 bytes a token: not a divisor of a
 * page either. */
static const struct accel_geometry geo_layer_odd = {
	.layers = 1, .kv_heads = 3, .head_dim = 24, .dtype = ACCEL_DTYPE_F32,
	.max_tokens = 1000, .layout = ACCEL_LAYOUT_PER_LAYER,
};

/* ---------------------------------------------------------------- data */

/* Every tensor of a sequence, t[2 * layer + kv]. */
static bool tensors(struct accel_seq *s, const struct accel_geometry *g,
		    struct accel_tensor t[2 * MAX_LAYERS])
{
	for (uint32_t l = 0; l < g->layers && l < MAX_LAYERS; l++)
		for (uint32_t kv = 0; kv < 2; kv++)
			if (accel_seq_tensor(s, l, kv, &t[2 * l + kv]))
				return CHECK(0, "accel_seq_tensor(%u, %u)", l,
					     kv);
	return true;
}

static uint64_t tensor_seed(uint64_t seed, uint32_t l, uint32_t kv)
{
	return seed * 64 + 2 * l + kv;
}

/* Bytes of one head of one token. */
static uint64_t head_bytes(const struct accel_geometry *g)
{
	return (uint64_t)g->head_dim * accel_dtype_size(g->dtype);
}

/* First pattern word of head h of token i. */
static uint64_t head_word(const struct accel_geometry *g, uint64_t i,
			  uint32_t h)
{
	return (i * g->kv_heads + h) * head_bytes(g) / 8;
}

/*
 * Writes the pattern of seed into tokens [from, to) of every tensor, head
 * by head, through the tensor views (base + token * token_stride + head *
 * head_stride), as an attention kernel addresses them.
 */
static void kv_fill(struct accel_seq *s, const struct accel_geometry *g,
		    uint64_t from, uint64_t to, uint64_t seed)
{
	struct accel_tensor t[2 * MAX_LAYERS];

	if (!tensors(s, g, t))
		return;
	for (uint32_t l = 0; l < g->layers; l++) {
		for (uint32_t kv = 0; kv < 2; kv++) {
			const struct accel_tensor *x = &t[2 * l + kv];

			for (uint64_t i = from; i < to; i++)
				for (uint32_t h = 0; h < g->kv_heads; h++)
					pat_fill((uint8_t *)(uintptr_t)x->base +
						 i * x->token_stride +
						 h * x->head_stride,
						 head_bytes(g),
						 tensor_seed(seed, l, kv),
						 head_word(g, i, h));
		}
	}
}

/*
 * Where head h of token i of layer l's K or V must be by the layout
 * accel.h documents, computed from the start of its space: PER_LAYER, the
 * tensor is a space of its own, [token][head][dim]; PER_SEQ, one space
 * [token][layer][K, V][head][dim] that starts with layer 0's K.
 */
static const uint8_t *doc_addr(const struct accel_geometry *g,
			       const struct accel_tensor *t, uint32_t l,
			       uint32_t kv, uint64_t i, uint32_t h)
{
	uint64_t space = g->layout == ACCEL_LAYOUT_PER_SEQ ? t[0].base :
			 t[2 * l + kv].base;
	uint64_t off = i * geo_stride(g) + h * head_bytes(g);

	if (g->layout == ACCEL_LAYOUT_PER_SEQ)
		off += (2 * (uint64_t)l + kv) * geo_row(g);
	return (const uint8_t *)(uintptr_t)(space + off);
}

/*
 * Heads of tokens [from, to) (over every tensor) that do not hold the
 * pattern of seed, read at their documented place (raw) or through the
 * tensor views.
 */
static uint64_t kv_bad(struct accel_seq *s, const struct accel_geometry *g,
		       uint64_t from, uint64_t to, uint64_t seed, bool raw)
{
	struct accel_tensor t[2 * MAX_LAYERS];
	uint64_t bad = 0;

	if (!tensors(s, g, t))
		return UINT64_MAX;
	for (uint32_t l = 0; l < g->layers; l++) {
		for (uint32_t kv = 0; kv < 2; kv++) {
			const struct accel_tensor *x = &t[2 * l + kv];

			for (uint64_t i = from; i < to; i++) {
				for (uint32_t h = 0; h < g->kv_heads; h++) {
					const uint8_t *p = raw ?
						doc_addr(g, t, l, kv, i, h) :
						(const uint8_t *)(uintptr_t)
						x->base + i * x->token_stride +
						h * x->head_stride;

					uint64_t ts = tensor_seed(seed, l, kv);

					bad += pat_check(p, head_bytes(g), ts,
							 head_word(g, i, h)) !=
					       UINT64_MAX;
				}
			}
		}
	}
	return bad;
}

/* ------------------------------------------------------------- fixture */

/*
 * An open context and its pools: P of the preferred tier, Q of the swap
 * tier (-1 if none), with their frames_used when it was opened.
 */
struct afx {
	struct accel_ctx *ctx;
	struct accel_info info;
	int P, Q;
	uint64_t ps;
	uint64_t p0, q0;
};

static uint64_t used(int pool)
{
	return pool < 0 ? 0 : pool_u64(pool, "frames_used");
}

/* Options of the host backend with these step-ahead settings. */
static void opts_host(struct accel_open_opts *o, uint32_t step_ahead,
		      uint32_t tokens_per_step)
{
	accel_open_opts_init(o);
	o->backend = ACCEL_BACKEND_HOST;
	o->step_ahead = step_ahead;
	o->tokens_per_step = tokens_per_step;
}

static bool afx_open(struct afx *x, const struct accel_open_opts *o)
{
	int ret;

	memset(x, 0, sizeof(*x));
	x->P = x->Q = -1;
	ret = accel_open(o, &x->ctx);
	if (!CHECK_ERR(-ret, 0, "accel_open (step_ahead %u, tenant %u, "
		       "wait_ms %u)", o->step_ahead, o->tenant, o->wait_ms))
		return false;
	if (!CHECK_ERR(-accel_info(x->ctx, &x->info), 0, "accel_info"))
		return false;
	x->ps = x->info.page_size;
	for (uint32_t i = 0; i < x->info.npools; i++) {
		struct accel_pool p;

		if (!CHECK_ERR(-accel_pool_query(x->ctx, i, &p), 0,
			       "accel_pool_query(%u)", i))
			return false;
		if (p.tier == x->info.tier && x->P < 0)
			x->P = (int)i;
		if (p.tier == x->info.swap_tier && x->Q < 0)
			x->Q = (int)i;
	}
	x->p0 = used(x->P);
	x->q0 = used(x->Q);
	return CHECK(x->P >= 0, "a pool of the preferred tier %u: pool%d",
		     x->info.tier, x->P);
}

static void afx_close(struct afx *x)
{
	accel_close(x->ctx);
	x->ctx = NULL;
}

/* Frames of pool P (Q) beyond those used when the context was opened. */
static uint64_t usedP(const struct afx *x)
{
	return used(x->P) - x->p0;
}

static uint64_t usedQ(const struct afx *x)
{
	return used(x->Q) - x->q0;
}

static struct accel_stats stats(struct afx *x)
{
	struct accel_stats st;

	memset(&st, 0xff, sizeof(st));
	CHECK_ERR(-accel_stats(x->ctx, &st), 0, "accel_stats");
	return st;
}

static struct accel_seq *seq_new(struct afx *x, const struct accel_geometry *g,
				 uint64_t hint, void *user_data)
{
	struct accel_seq_opts so = { .hint_tokens = hint,
				     .user_data = user_data };
	struct accel_seq *s = NULL;
	int ret = accel_seq_create(x->ctx, g, &so, &s);

	CHECK_ERR(-ret, 0, "accel_seq_create (%s, hint %llu)",
		  layout_name(g), U(hint));
	return ret ? NULL : s;
}

/* Whether the context's event descriptor is readable now. */
static bool fd_readable(struct accel_ctx *ctx, int ms)
{
	struct pollfd pfd = { .fd = accel_fd(ctx), .events = POLLIN };

	return poll(&pfd, 1, ms) == 1 && (pfd.revents & POLLIN);
}

/* ---------------------------------------------------------------- smoke */

void test_accel_smoke(void)
{
	struct accel_open_opts o;
	struct accel_completion c[4];
	struct accel_seq *s = NULL;
	struct accel_stats st;
	struct kv_snap s0;
	struct afx x;
	int ret, n;

	snap_take(&s0);
	/* AUTO must pick the host backend: there is no CUDA in the VM. */
	opts_host(&o, 4, 16);
	o.backend = ACCEL_BACKEND_AUTO;
	if (!afx_open(&x, &o))
		goto out;
	CHECK_EQ(x.info.backend, ACCEL_BACKEND_HOST, "AUTO picks the host "
		 "backend");
	CHECK_EQ(x.info.abi_version, KVMEM_ABI_VERSION, "abi_version");
	s = seq_new(&x, &geo_layer, 0, NULL);
	if (!s)
		goto out;
	for (uint64_t t = 16; t <= 1024; t += 16) {
		ret = accel_seq_grow(s, t);
		if (!CHECK(ret >= 0, "grow to %llu: %d", U(t), ret))
			goto out;
		kv_fill(s, &geo_layer, t - 16, t, 77);
	}
	CHECK_EQ(kv_bad(s, &geo_layer, 0, 1024, 77, false), 0,
		 "tokens intact");
	CHECK_ERR(-accel_seq_swap_out(s), 0, "swap out");
	CHECK_ERR(-accel_seq_wait(s, SWAP_WAIT_MS), 0, "swap out done");
	CHECK_EQ(accel_seq_state(s), ACCEL_SEQ_SWAPPED, "state swapped");
	CHECK_ERR(-accel_seq_swap_in(s), 0, "swap in");
	CHECK_ERR(-accel_seq_wait(s, SWAP_WAIT_MS), 0, "swap in done");
	CHECK_EQ(accel_seq_state(s), ACCEL_SEQ_RESIDENT, "state resident");
	n = accel_poll_completions(x.ctx, c, 4);
	CHECK_EQ(n, 2, "two completions");
	CHECK_EQ(kv_bad(s, &geo_layer, 0, 1024, 77, false), 0,
		 "tokens intact after the round trip");
	CHECK_ERR(-accel_seq_swap_out(s), 0, "swap out again");
	CHECK_ERR(-accel_seq_wait(s, SWAP_WAIT_MS), 0, "swap out done");
	n = accel_poll_completions(x.ctx, c, 4);
	CHECK_EQ(n, 1, "one completion");
	CHECK_EQ(n == 1 ? c[0].bytes_copied : ~0ULL, 0,
		 "second swap-out copies nothing");
	st = stats(&x);
	INFO("grow calls %llu blocked %llu ahead pages %llu sync pages %llu",
	     U(st.grow_calls), U(st.grow_blocked), U(st.pages_mapped_ahead),
	     U(st.pages_mapped_sync));
out:
	accel_seq_destroy(s);
	accel_close(x.ctx);
	snap_back(&s0, 5000, "after accel_close");
}

/* ----------------------------------------------------------------- grow */

/* Tensors of a new sequence: strides, places, no overlap. */
static void grow_check_tensors(struct afx *x, struct accel_seq *s,
			       const struct accel_geometry *g)
{
	struct accel_tensor t[2 * MAX_LAYERS], bad;
	uint64_t space = (g->max_tokens * geo_stride(g) + x->ps - 1) /
			 x->ps * x->ps;

	if (!tensors(s, g, t))
		return;
	for (uint32_t i = 0; i < 2 * g->layers; i++) {
		CHECK_EQ(t[i].token_stride, geo_stride(g), "tensor %u: "
			 "token_stride is the layout's token size", i);
		CHECK_EQ(t[i].head_stride, head_bytes(g), "tensor %u: "
			 "head_stride = head_dim * dtype size", i);
		CHECK(t[i].dtype == g->dtype && !t[i].on_device &&
		      t[i].max_tokens == g->max_tokens, "tensor %u: dtype %u, "
		      "host memory, max_tokens %llu", i, t[i].dtype,
		      U(t[i].max_tokens));
		if (g->layout == ACCEL_LAYOUT_PER_SEQ) {
			CHECK_EQ(t[i].base - t[0].base, i * geo_row(g),
				 "per-seq tensor %u starts %u rows after "
				 "layer 0's K", i, i);
			continue;
		}
		/* mmap() aligns to CPU pages, not to kvmem's. */
		CHECK_EQ(t[i].base % CPU_PAGE, 0, "per-layer tensor %u starts "
			 "its own space, at a page-aligned address", i);
		for (uint32_t j = 0; j < i; j++)
			CHECK(t[i].base >= t[j].base + space ||
			      t[j].base >= t[i].base + space,
			      "per-layer tensors %u and %u do not overlap", j,
			      i);
	}
	CHECK_ERR(-accel_seq_tensor(s, g->layers, ACCEL_K, &bad), EINVAL,
		  "accel_seq_tensor of layer %u (= layers)", g->layers);
	CHECK_ERR(-accel_seq_tensor(s, 0, 2, &bad), EINVAL,
		  "accel_seq_tensor of kv 2");
}

/*
 * Grows one sequence of g through token counts just below, at and above
 * the first two page boundaries, then to max_tokens; each step maps
 * exactly the pages the tokens need, charged one frame a page and space.
 */
static void grow_geo(struct afx *x, const struct accel_geometry *g)
{
	uint64_t tb = geo_stride(g), ns = geo_spaces(g);
	uint64_t b1 = x->ps / tb, b2 = 2 * x->ps / tb, prev = 0, pages = 0;
	uint64_t steps[] = { 1, b1 - 1, b1, b1 + 1, b2 - 1, b2, b2 + 1,
			     g->max_tokens - 1, g->max_tokens };
	uint64_t spaces0 = kv_sys_spaces();
	struct accel_seq *s;
	int64_t bytes;

	INFO("%s: %llu bytes a token, page boundaries after tokens %llu and "
	     "%llu, %llu spaces", layout_name(g), U(tb), U(b1), U(b2), U(ns));
	bytes = accel_seq_bytes(x->ctx, g);
	CHECK_EQ(bytes, ns * geo_pages(g, x->ps, g->max_tokens) * x->ps,
		 "accel_seq_bytes: spaces x max_tokens rounded up to pages");
	s = seq_new(x, g, 0, NULL);
	if (!s)
		return;
	CHECK_EQ(kv_sys_spaces() - spaces0, ns, "sysfs spaces: one kvmem "
		 "space per tensor (per-layer) or one (per-seq)");
	CHECK_EQ(usedP(x), 0, "a new sequence holds no frame");
	grow_check_tensors(x, s, g);
	for (size_t k = 0; k < NELEM(steps); k++) {
		uint64_t n = steps[k], want = geo_pages(g, x->ps, n);
		int ret = accel_seq_grow(s, n);

		CHECK_EQ(ret, want > pages ? 1 : 0, "grow %llu -> %llu tokens "
			 "(%llu -> %llu pages) returns 1 iff it mapped",
			 U(prev), U(n), U(pages), U(want));
		if (ret < 0)
			break;
		CHECK_EQ(accel_seq_tokens(s), n, "accel_seq_tokens");
		CHECK_EQ(accel_seq_mapped_tokens(s), geo_tokens(g, x->ps, want),
			 "accel_seq_mapped_tokens: what %llu pages hold",
			 U(want));
		CHECK_EQ(usedP(x), want * ns, "pool%d frames_used: %llu pages "
			 "x %llu spaces", x->P, U(want), U(ns));
		kv_fill(s, g, prev, n, 5);
		CHECK_EQ(kv_bad(s, g, 0, n, 5, true), 0, "tokens [0, %llu) "
			 "written through the tensors read back at their "
			 "documented place", U(n));
		prev = n;
		pages = want;
		if (k == 4) {
			CHECK_EQ(accel_seq_grow(s, n - 1), 0, "grow to fewer "
				 "tokens is a no-op");
			CHECK_EQ(accel_seq_grow(s, 0), 0, "grow to 0 tokens "
				 "is a no-op");
			CHECK_EQ(accel_seq_tokens(s), n, "tokens unchanged");
			CHECK_EQ(usedP(x), want * ns, "frames unchanged");
		}
	}
	CHECK_ERR(-accel_seq_grow(s, g->max_tokens + 1), EINVAL,
		  "grow beyond max_tokens");
	CHECK_EQ(accel_seq_tokens(s), prev, "tokens unchanged");
	CHECK_EQ(usedQ(x), 0, "pool%d (swap tier) untouched", x->Q);
	CHECK_EQ(kv_bad(s, g, 0, prev, 5, false), 0, "every token intact");
	accel_seq_destroy(s);
	CHECK_EQ(accel_trim(x->ctx), (int64_t)(pages * ns * x->ps),
		 "accel_trim gives back the finished sequence's bytes");
	CHECK_EQ(usedP(x), 0, "pool%d frames back", x->P);
	CHECK_EQ(kv_sys_spaces(), spaces0, "sysfs spaces back");
}

void test_accel_grow(void)
{
	const struct accel_geometry *geos[] = {
		&geo_layer, &geo_seq, &geo_seq_odd, &geo_layer_odd,
	};
	struct accel_open_opts o;
	struct kv_snap s0;
	struct afx x;

	snap_take(&s0);
	opts_host(&o, 0, 1);
	if (afx_open(&x, &o))
		for (size_t i = 0; i < NELEM(geos); i++)
			grow_geo(&x, geos[i]);
	afx_close(&x);
	snap_back(&s0, 5000, "after accel_close");
}

/* ----------------------------------------------------------- step-ahead */

/*
 * Engine threads, each driving SA_SEQS sequences of sa_geo step by step
 * (SA_TPS tokens a step, 2 steps a page), writing every new token and
 * "computing" for SA_COMPUTE_US after each step: the time step-ahead has
 * to map the next pages in the background.
 */
#define SA_THREADS	4
#define SA_SEQS		2
#define SA_STEPS	32
#define SA_TPS		256
#define SA_COMPUTE_US	2000

/* 128 bytes a token, 512 tokens a page; 16 pages at SA_STEPS. */
static const struct accel_geometry sa_geo = {
	.layers = 1, .kv_heads = 1, .head_dim = 32, .dtype = ACCEL_DTYPE_F16,
	.max_tokens = SA_STEPS * SA_TPS, .layout = ACCEL_LAYOUT_PER_SEQ,
};

struct sa_worker {
	pthread_t th;
	struct accel_ctx *ctx;
	unsigned int id;
	struct accel_seq *s[SA_SEQS];
	int err;		/* first failed call's result */
	char what[64];		/* and which */
	uint64_t bad;		/* heads found corrupt */
};

static void sa_fail(struct sa_worker *w, int err, const char *what,
		    uint64_t step)
{
	if (w->err)
		return;
	w->err = err ? err : -EIO;
	snprintf(w->what, sizeof(w->what), "%s at step %llu", what, U(step));
}

static void *sa_main(void *arg)
{
	struct sa_worker *w = arg;
	struct timespec compute = { 0, SA_COMPUTE_US * 1000L };

	for (unsigned int j = 0; j < SA_SEQS; j++) {
		int ret = accel_seq_create(w->ctx, &sa_geo, NULL, &w->s[j]);

		if (ret) {
			sa_fail(w, ret, "accel_seq_create", 0);
			return NULL;
		}
	}
	for (uint64_t step = 1; step <= SA_STEPS && !w->err; step++) {
		for (unsigned int j = 0; j < SA_SEQS; j++) {
			uint64_t seed = 1000 + w->id * SA_SEQS + j;
			int ret = accel_seq_grow(w->s[j], step * SA_TPS);

			if (ret < 0) {
				sa_fail(w, ret, "accel_seq_grow", step);
				break;
			}
			kv_fill(w->s[j], &sa_geo, (step - 1) * SA_TPS,
				step * SA_TPS, seed);
			/* The step's attention reads the new tokens back. */
			w->bad += kv_bad(w->s[j], &sa_geo, (step - 1) * SA_TPS,
					 step * SA_TPS, seed, false);
			nanosleep(&compute, NULL);
		}
	}
	for (unsigned int j = 0; j < SA_SEQS && !w->err; j++)
		w->bad += kv_bad(w->s[j], &sa_geo, 0, SA_STEPS * SA_TPS,
				 1000 + w->id * SA_SEQS + j, true);
	return NULL;
}

/* One run of the engine threads; their stats into *st. */
static bool sa_run(uint32_t step_ahead, struct accel_stats *st)
{
	struct sa_worker w[SA_THREADS];
	struct accel_open_opts o;
	uint64_t pages;
	bool ok = true;
	struct afx x;

	memset(w, 0, sizeof(w));
	/* Step-ahead 8 steps: up to 4 pages mapped beyond the tokens. */
	opts_host(&o, step_ahead, SA_TPS);
	if (!afx_open(&x, &o)) {
		afx_close(&x);
		return false;
	}
	pages = geo_pages(&sa_geo, x.ps, sa_geo.max_tokens);
	for (unsigned int i = 0; i < SA_THREADS; i++) {
		w[i].ctx = x.ctx;
		w[i].id = i;
		if (pthread_create(&w[i].th, NULL, sa_main, &w[i])) {
			ok = CHECK(0, "pthread_create");
			w[i].ctx = NULL;
		}
	}
	for (unsigned int i = 0; i < SA_THREADS; i++) {
		if (!w[i].ctx)
			continue;
		pthread_join(w[i].th, NULL);
		ok &= CHECK_ERR(-w[i].err, 0, "thread %u: every call works%s%s",
				i, w[i].err ? ": " : "", w[i].what);
		ok &= CHECK_EQ(w[i].bad, 0, "thread %u (step_ahead %u): every "
			       "token of its %d sequences intact", i,
			       step_ahead, SA_SEQS);
	}
	*st = stats(&x);
	INFO("step_ahead %u: %llu grows, %llu blocked (%.1f%%, %.3f ms), "
	     "pages mapped: %llu by grows, %llu ahead", step_ahead,
	     U(st->grow_calls), U(st->grow_blocked),
	     st->grow_calls ? 100.0 * st->grow_blocked / st->grow_calls : 0,
	     st->grow_blocked_ns / 1e6, U(st->pages_mapped_sync),
	     U(st->pages_mapped_ahead));
	CHECK_EQ(st->grow_calls, SA_THREADS * SA_SEQS * SA_STEPS,
		 "step_ahead %u: every step's grow counted", step_ahead);
	CHECK_EQ(st->pages_mapped_sync + st->pages_mapped_ahead,
		 SA_THREADS * SA_SEQS * pages, "step_ahead %u: pages mapped by "
		 "grows + ahead = the sequences' pages, none twice",
		 step_ahead);
	CHECK_EQ(usedP(&x), SA_THREADS * SA_SEQS * pages, "step_ahead %u: "
		 "pool%d frames_used = the sequences' pages", step_ahead, x.P);
	for (unsigned int i = 0; i < SA_THREADS; i++)
		for (unsigned int j = 0; j < SA_SEQS; j++)
			accel_seq_destroy(w[i].s[j]);
	afx_close(&x);
	return ok;
}

void test_accel_step_ahead(void)
{
	struct accel_stats sync, ahead;
	uint64_t crossings = (uint64_t)SA_THREADS * SA_SEQS * SA_STEPS / 2;
	struct kv_snap s0;

	snap_take(&s0);
	if (!sa_run(0, &sync) || !sa_run(8, &ahead))
		goto out;
	/* Without step-ahead every grow onto a new page maps it itself. */
	CHECK_EQ(sync.grow_blocked, crossings, "step_ahead 0: every "
		 "page-crossing grow blocks (half of them)");
	CHECK_EQ(sync.pages_mapped_ahead, 0, "step_ahead 0: nothing mapped "
		 "ahead");
	CHECK(ahead.pages_mapped_ahead > 0, "step_ahead 8: the thread mapped "
	      "pages ahead: %llu", U(ahead.pages_mapped_ahead));
	/*
	 * With it only the first grow of each sequence must block: a quarter
	 * leaves room for a slow, shared host, and is still half what the
	 * run without step-ahead cannot go below.
	 */
	CHECK(ahead.grow_blocked * 4 <= ahead.grow_calls,
	      "step_ahead 8: at most a quarter of the grows block: %llu of "
	      "%llu (without step-ahead: %llu)", U(ahead.grow_blocked),
	      U(ahead.grow_calls), U(sync.grow_blocked));
out:
	snap_back(&s0, 5000, "after accel_close");
}

/* ---------------------------------------------------------------- reuse */

/*
 * Sequences of g grown to pages[i] pages, all live at once (so that none
 * reuses another), then destroyed in order: kept, the last one newest.
 * Nothing of g may be kept before.
 */
static void kept_set(struct afx *x, const struct accel_geometry *g,
		     const uint64_t *pages, size_t n)
{
	struct accel_seq *s[8] = { NULL };

	for (size_t i = 0; i < n && i < NELEM(s); i++) {
		s[i] = seq_new(x, g, 0, NULL);
		if (s[i])
			CHECK_EQ(accel_seq_grow(s[i], geo_tokens(g, x->ps,
								 pages[i])),
				 1, "grow a new sequence to %llu pages",
				 U(pages[i]));
	}
	for (size_t i = 0; i < n && i < NELEM(s); i++)
		accel_seq_destroy(s[i]);
}

static void kept_of(struct afx *x, const struct accel_geometry *g,
		    uint64_t pages)
{
	kept_set(x, g, &pages, 1);
}

/* Reuse of one kept sequence: same spaces, frames and mapping. */
static void reuse_one(struct afx *x)
{
	const struct accel_geometry *g = &geo_layer;
	uint64_t ns = geo_spaces(g), spaces, t2 = geo_tokens(g, x->ps, 2);
	struct accel_stats st0, st;
	struct accel_seq *s;

	kept_of(x, g, 2);
	st0 = stats(x);
	CHECK_EQ(st0.kept_seqs, 1, "a destroyed sequence is kept");
	CHECK_EQ(st0.kept_bytes, 2 * ns * x->ps, "kept_bytes: its mapped "
		 "bytes");
	CHECK_EQ(usedP(x), 2 * ns, "the kept sequence keeps its frames");
	spaces = kv_sys_spaces();
	s = seq_new(x, g, 0, NULL);
	if (!s)
		return;
	st = stats(x);
	CHECK_EQ(st.seqs_reused, st0.seqs_reused + 1, "the same geometry "
		 "reuses it: seqs_reused");
	CHECK_EQ(st.seqs_created, st0.seqs_created, "seqs_created unchanged");
	CHECK_EQ(st.kept_seqs, 0, "nothing kept any more");
	CHECK_EQ(kv_sys_spaces(), spaces, "no new kvmem space (sysfs spaces)");
	CHECK_EQ(accel_seq_tokens(s), 0, "the reused sequence has 0 tokens");
	CHECK_EQ(accel_seq_mapped_tokens(s), t2, "and the 2 mapped pages");
	CHECK_EQ(accel_seq_grow(s, t2), 0, "a grow into them does not block");
	CHECK_EQ(usedP(x), 2 * ns, "no new frame");
	accel_seq_destroy(s);
}

/* Best fit among kept sequences of 1, 3 and 5 pages, by hint_tokens. */
static void reuse_best_fit(struct afx *x)
{
	const struct accel_geometry *g = &geo_layer;
	static const struct {
		uint64_t hint_pages, picked_pages, after_pages;
		const char *why;
	} c[] = {
		{ 2, 3, 3, "the smallest that holds 2 pages" },
		{ 1, 1, 1, "the 1-page one for 1 page" },
		{ 6, 5, 6, "none holds 6 pages: the largest, grown" },
	};
	static const uint64_t kept[] = { 5, 1, 3 };
	struct accel_seq *s;

	for (size_t i = 0; i < NELEM(c); i++) {
		uint64_t hint = geo_tokens(g, x->ps, c[i].hint_pages);

		accel_trim(x->ctx);
		kept_set(x, g, kept, NELEM(kept));
		/*
		 * Which one was picked shows in what the others keep: the
		 * kept bytes are the pages of the two left.
		 */
		s = seq_new(x, g, hint, NULL);
		if (!s)
			return;
		CHECK_EQ(accel_seq_tokens(s), hint, "hint_tokens %llu: the "
			 "sequence is grown to the hint", U(hint));
		CHECK_EQ(accel_seq_mapped_tokens(s),
			 geo_tokens(g, x->ps, c[i].after_pages),
			 "hint %llu pages: picked %s", U(c[i].hint_pages),
			 c[i].why);
		CHECK_EQ(stats(x).kept_bytes, (9 - c[i].picked_pages) *
			 geo_spaces(g) * x->ps, "hint %llu pages: the other "
			 "two stay kept", U(c[i].hint_pages));
		accel_seq_destroy(s);
	}
	accel_trim(x->ctx);
}

/* Another geometry does not reuse; accel_trim gives everything back. */
static void reuse_other_geometry(struct afx *x)
{
	struct accel_stats st0, st;
	struct accel_seq *s;
	uint64_t spaces;
	int64_t freed;

	kept_of(x, &geo_layer, 2);
	st0 = stats(x);
	spaces = kv_sys_spaces();
	s = seq_new(x, &geo_seq, 0, NULL);
	if (!s)
		return;
	st = stats(x);
	CHECK_EQ(st.seqs_reused, st0.seqs_reused, "another geometry is not "
		 "reused");
	CHECK_EQ(st.seqs_created, st0.seqs_created + 1, "it is created");
	CHECK_EQ(kv_sys_spaces(), spaces + geo_spaces(&geo_seq),
		 "with its own space");
	CHECK_EQ(st.kept_seqs, 1, "the kept one stays kept");
	accel_seq_destroy(s);	/* holds no page: not kept */
	CHECK_EQ(stats(x).kept_seqs, 1, "a sequence that never mapped a page "
		 "is not kept");
	freed = accel_trim(x->ctx);
	CHECK_EQ(freed, 2 * geo_spaces(&geo_layer) * x->ps, "accel_trim "
		 "returns the kept bytes");
	st = stats(x);
	CHECK(st.kept_seqs == 0 && st.kept_bytes == 0, "nothing kept after "
	      "accel_trim (%llu, %llu bytes)", U(st.kept_seqs),
	      U(st.kept_bytes));
	CHECK_EQ(usedP(x), 0, "pool%d frames_free back to its baseline", x->P);
	CHECK_EQ(kv_sys_spaces(), spaces - geo_spaces(&geo_layer),
		 "the kept sequence's spaces are destroyed");
}

/* cache_max_bytes bounds what is kept, oldest given back first. */
static void reuse_cache_max(void)
{
	const struct accel_geometry *g = &geo_layer;
	static const uint64_t two_by_two[] = { 2, 2 };
	uint64_t ns = geo_spaces(g), page = ns * pool_u64(0, "page_size");
	struct accel_open_opts o;
	struct accel_stats st;
	struct afx x;

	opts_host(&o, 0, 1);
	/* Room for 3 pages of each space: one 2-page sequence, not two. */
	o.cache_max_bytes = 3 * page;
	if (!afx_open(&x, &o))
		goto out;
	kept_set(&x, g, two_by_two, 2);
	st = stats(&x);
	CHECK(st.kept_seqs == 1 && st.kept_bytes == 2 * page, "cache_max_bytes "
	      "3 pages: of two 2-page sequences one is kept (%llu, %llu bytes)",
	      U(st.kept_seqs), U(st.kept_bytes));
	CHECK_EQ(st.trimmed_bytes, 2 * page, "the older one was given back");
	CHECK_EQ(usedP(&x), 2 * ns, "pool%d holds only the kept one's frames",
		 x.P);
	kept_of(&x, g, 4);	/* reuses the kept one */
	st = stats(&x);
	CHECK(st.kept_seqs == 0 && st.kept_bytes == 0, "a 4-page sequence "
	      "does not fit at all: nothing kept (%llu, %llu bytes)",
	      U(st.kept_seqs), U(st.kept_bytes));
	CHECK_EQ(usedP(&x), 0, "pool%d frames all back", x.P);
out:
	afx_close(&x);
}

/*
 * A pool that runs out: a grow gives back the kept sequences (of another
 * geometry, so that they cannot be reused) and succeeds; with nothing
 * left to give back it fails and changes nothing.
 */
static void reuse_pressure(int P, uint32_t wait_ms)
{
	const struct accel_geometry *g = &geo_layer, *k = &geo_seq;
	struct accel_open_opts o;
	struct accel_seq *s = NULL;
	struct kv_reserves r;
	struct accel_stats st;
	uint64_t ns = geo_spaces(g);
	double t0;
	struct afx x;
	int ret;

	memset(&r, 0, sizeof(r));
	INFO("pool%d shrunk to 16 frames, wait_ms %u", P, wait_ms);
	if (!reserve_set(&r, P, 16))
		goto undo;
	opts_host(&o, 0, 1);
	o.wait_ms = wait_ms;
	if (!afx_open(&x, &o))
		goto out;
	kept_of(&x, k, 8);
	s = seq_new(&x, g, geo_tokens(g, x.ps, 2), NULL);
	if (!s)
		goto out;
	CHECK_EQ(pool_free(P), 0, "pool%d full: 8 frames kept, 8 live", P);
	t0 = now_ms();
	ret = accel_seq_grow(s, geo_tokens(g, x.ps, 3));
	if (!CHECK_EQ(ret, 1, "a grow that needs 4 more frames maps them"))
		goto out;	/* a write to a page not mapped would wait */
	st = stats(&x);
	CHECK(st.kept_seqs == 0 && st.trimmed_bytes == 8 * x.ps,
	      "by giving back the kept sequence (kept %llu, trimmed %llu "
	      "bytes)", U(st.kept_seqs), U(st.trimmed_bytes));
	CHECK(now_ms() - t0 < 250 + wait_ms / 2, "without waiting out "
	      "wait_ms: %.0f ms", now_ms() - t0);
	CHECK_EQ(usedP(&x), 3 * ns, "pool%d: the live sequence's frames", P);
	kv_fill(s, g, 0, geo_tokens(g, x.ps, 3), 9);
	ret = accel_seq_grow(s, geo_tokens(g, x.ps, 5));
	CHECK_ERR(-ret, wait_ms ? ETIMEDOUT : ENOMEM, "a grow beyond the pool "
		  "with nothing kept fails");
	CHECK_EQ(accel_seq_tokens(s), geo_tokens(g, x.ps, 3), "the sequence "
		 "keeps its tokens");
	CHECK_EQ(accel_seq_mapped_tokens(s), geo_tokens(g, x.ps, 3),
		 "and its mapping");
	CHECK_EQ(usedP(&x), 3 * ns, "pool%d: no frame left charged by the "
		 "failed grow", P);
	CHECK_EQ(kv_bad(s, g, 0, geo_tokens(g, x.ps, 3), 9, false), 0,
		 "and its data");
out:
	accel_seq_destroy(s);
	afx_close(&x);
undo:
	reserve_undo(&r);
}

void test_accel_reuse(void)
{
	struct accel_open_opts o;
	struct kv_snap s0;
	struct afx x;
	int P;

	snap_take(&s0);
	opts_host(&o, 0, 1);
	if (!afx_open(&x, &o)) {
		afx_close(&x);
		goto out;
	}
	P = x.P;
	reuse_one(&x);
	reuse_best_fit(&x);
	reuse_other_geometry(&x);
	afx_close(&x);
	reuse_cache_max();
	reuse_pressure(P, 0);
	reuse_pressure(P, 1000);
out:
	snap_back(&s0, 5000, "after accel_close");
}

/* ----------------------------------------------------------------- swap */

/* Takes exactly one completion and checks it. */
static void swap_completion(struct afx *x, struct accel_seq *s, void *ud,
			    uint32_t op, uint64_t copied, uint64_t reused)
{
	const char *name = op == ACCEL_OP_SWAP_OUT ? "swap-out" : "swap-in";
	struct accel_completion c[2];
	int n;

	CHECK(fd_readable(x->ctx, SWAP_WAIT_MS), "%s: accel_fd becomes "
	      "readable", name);
	memset(c, 0, sizeof(c));
	n = accel_poll_completions(x->ctx, c, 2);
	if (!CHECK_EQ(n, 1, "%s: one completion", name))
		return;
	CHECK(c[0].seq == s && c[0].user_data == ud && c[0].op == op &&
	      c[0].status == 0, "%s completion: seq, user_data, op %u, status "
	      "%d", name, c[0].op, c[0].status);
	CHECK_EQ(c[0].bytes_copied, copied, "%s: bytes_copied", name);
	CHECK_EQ(c[0].bytes_reused, reused, "%s: bytes_reused", name);
	CHECK(!fd_readable(x->ctx, 0), "%s: accel_fd not readable once the "
	      "completion is taken", name);
}

/*
 * A round trip of T tokens, k more tokens written, and another: data
 * intact, frames where they should be (a swap-out gives the preferred
 * tier's frames back; a swap-in keeps the swap tier's as clean copies),
 * and only the pages holding the new tokens copied the second time out.
 */
static void swap_geo(struct afx *x, const struct accel_geometry *g)
{
	uint64_t tb = geo_stride(g), ns = geo_spaces(g), ps = x->ps;
	/* 2.34 pages of tokens, then 0.78 page more, onto a 4th page. */
	uint64_t T = 600 * 256 / tb, T2 = 800 * 256 / tb;
	uint64_t p1 = geo_pages(g, ps, T), p2 = geo_pages(g, ps, T2);
	uint64_t touched = p2 - T * tb / ps, spaces0 = kv_sys_spaces();
	struct accel_stats st0 = stats(x), st;
	struct accel_seq *s;
	int ud;

	INFO("%s: %llu tokens (%llu pages), then %llu (%llu pages, %llu "
	     "written)", layout_name(g), U(T), U(p1), U(T2), U(p2),
	     U(touched));
	s = seq_new(x, g, 0, &ud);
	if (!s)
		return;
	CHECK_EQ(accel_seq_grow(s, T), 1, "grow to %llu tokens", U(T));
	kv_fill(s, g, 0, T, 21);
	CHECK(!fd_readable(x->ctx, 0), "accel_fd not readable before any "
	      "swap");

	CHECK_ERR(-accel_seq_swap_in(s), EBUSY, "swap_in of a resident "
		  "sequence");
	CHECK_ERR(-accel_seq_swap_out(s), 0, "swap_out");
	CHECK_ERR(-accel_seq_swap_out(s), EBUSY, "swap_out while swapping "
		  "out or swapped");
	CHECK_ERR(-accel_seq_grow(s, T + 1), EBUSY, "grow while swapping out "
		  "or swapped");
	swap_completion(x, s, &ud, ACCEL_OP_SWAP_OUT, p1 * ns * ps, 0);
	CHECK_EQ(accel_seq_state(s), ACCEL_SEQ_SWAPPED, "state SWAPPED");
	CHECK_EQ(usedQ(x), p1 * ns, "pool%d (swap tier) holds the %llu pages",
		 x->Q, U(p1 * ns));
	CHECK_EQ(usedP(x), 0, "pool%d (preferred tier) got its frames back",
		 x->P);
	CHECK_ERR(-accel_seq_grow(s, T + 1), EBUSY, "grow while swapped");
	CHECK_ERR(-accel_seq_swap_out(s), EBUSY, "swap_out of a swapped "
		  "sequence");
	CHECK_EQ(accel_seq_tokens(s), T, "tokens unchanged");

	CHECK_ERR(-accel_seq_swap_in(s), 0, "swap_in");
	CHECK_ERR(-accel_seq_wait(s, SWAP_WAIT_MS), 0, "accel_seq_wait: the "
		  "swap-in ended well");
	swap_completion(x, s, &ud, ACCEL_OP_SWAP_IN, p1 * ns * ps, 0);
	CHECK_EQ(accel_seq_state(s), ACCEL_SEQ_RESIDENT, "state RESIDENT");
	CHECK_EQ(usedP(x), p1 * ns, "pool%d holds the pages again", x->P);
	CHECK_EQ(usedQ(x), p1 * ns, "pool%d keeps them as clean copies",
		 x->Q);
	CHECK_ERR(-accel_seq_swap_in(s), EBUSY, "swap_in of a resident "
		  "sequence");
	CHECK_EQ(kv_bad(s, g, 0, T, 21, false), 0, "every token intact after "
		 "the round trip");

	CHECK_EQ(accel_seq_grow(s, T2), 1, "grow to %llu tokens", U(T2));
	kv_fill(s, g, T, T2, 21);
	CHECK_ERR(-accel_seq_swap_out(s), 0, "swap_out again");
	swap_completion(x, s, &ud, ACCEL_OP_SWAP_OUT, touched * ns * ps,
			(p2 - touched) * ns * ps);
	CHECK(usedQ(x) == p2 * ns && usedP(x) == 0, "pool%d holds the %llu "
	      "pages (%llu), pool%d none (%llu)", x->Q, U(p2 * ns),
	      U(usedQ(x)), x->P, U(usedP(x)));
	CHECK_ERR(-accel_seq_swap_in(s), 0, "swap_in again");
	CHECK_ERR(-accel_seq_wait(s, SWAP_WAIT_MS), 0, "swap-in done");
	swap_completion(x, s, &ud, ACCEL_OP_SWAP_IN, p2 * ns * ps, 0);
	CHECK_EQ(kv_bad(s, g, 0, T2, 21, true), 0, "every token intact after "
		 "the second round trip");
	st = stats(x);
	CHECK(st.swaps_out - st0.swaps_out == 2 &&
	      st.swaps_in - st0.swaps_in == 2, "stats: 2 more swaps out, 2 "
	      "in (%llu, %llu)", U(st.swaps_out - st0.swaps_out),
	      U(st.swaps_in - st0.swaps_in));
	CHECK_EQ(st.swap_bytes_copied - st0.swap_bytes_copied,
		 (p1 + p1 + touched + p2) * ns * ps, "stats: swap_bytes_copied "
		 "grew by what the completions said");
	CHECK_EQ(st.swap_bytes_reused - st0.swap_bytes_reused,
		 (p2 - touched) * ns * ps, "stats: swap_bytes_reused likewise");
	accel_seq_destroy(s);
	accel_trim(x->ctx);
	CHECK(usedP(x) == 0 && usedQ(x) == 0, "frames and copies back after "
	      "accel_trim (pool%d %llu, pool%d %llu)", x->P, U(usedP(x)), x->Q,
	      U(usedQ(x)));
	CHECK_EQ(kv_sys_spaces(), spaces0, "spaces back");
}

/* accel_fd is readable exactly while completions are queued. */
static void swap_fd(struct afx *x)
{
	const struct accel_geometry *g = &geo_seq;
	struct accel_seq *s[2] = { NULL, NULL };
	struct accel_completion c;

	for (int i = 0; i < 2; i++) {
		s[i] = seq_new(x, g, 100, NULL);
		if (!s[i])
			goto out;
		CHECK_ERR(-accel_seq_swap_out(s[i]), 0, "swap_out %d", i);
	}
	for (int i = 0; i < 2; i++)
		CHECK_ERR(-accel_seq_wait(s[i], SWAP_WAIT_MS), 0, "swap-out "
			  "%d done", i);
	CHECK(fd_readable(x->ctx, 0), "two completions queued: readable");
	CHECK_EQ(accel_poll_completions(x->ctx, &c, 0), 0, "taking none "
		 "takes none");
	CHECK(fd_readable(x->ctx, 0), "still readable");
	CHECK_EQ(accel_poll_completions(x->ctx, &c, 1), 1, "take one");
	CHECK(fd_readable(x->ctx, 0), "one left: still readable");
	CHECK_EQ(accel_poll_completions(x->ctx, &c, 1), 1, "take the other");
	CHECK(!fd_readable(x->ctx, 0), "none left: not readable");
	CHECK_EQ(accel_poll_completions(x->ctx, &c, 1), 0, "nothing more");
out:
	for (int i = 0; i < 2; i++)
		accel_seq_destroy(s[i]);
	accel_trim(x->ctx);
}

/* Pages mapped ahead hold no token: a swap-out gives them back. */
static void swap_ahead(void)
{
	const struct accel_geometry *g = &geo_layer;
	struct accel_open_opts o;
	struct accel_seq *s = NULL;
	uint64_t ns = geo_spaces(g), T = 300;
	double end = now_ms() + 5000;
	struct afx x;

	/* 4 steps of 128 tokens: 2 pages beyond the tokens' 2. */
	opts_host(&o, 4, 128);
	if (!afx_open(&x, &o))
		goto out;
	s = seq_new(&x, g, 0, NULL);
	if (!s)
		goto out;
	accel_seq_grow(s, T);
	kv_fill(s, g, 0, T, 3);
	while (accel_seq_mapped_tokens(s) < T + 512 && now_ms() < end)
		sleep_ms(5);
	CHECK_EQ(usedP(&x), 4 * ns, "step-ahead mapped 2 pages beyond the 2 "
		 "that hold %llu tokens", U(T));
	CHECK_ERR(-accel_seq_swap_out(s), 0, "swap_out");
	CHECK_ERR(-accel_seq_wait(s, SWAP_WAIT_MS), 0, "swap-out done");
	CHECK_EQ(usedQ(&x), 2 * ns, "only the pages holding tokens moved");
	CHECK_EQ(usedP(&x), 0, "the pages mapped ahead were given back too");
	CHECK_ERR(-accel_seq_swap_in(s), 0, "swap_in");
	CHECK_ERR(-accel_seq_wait(s, SWAP_WAIT_MS), 0, "swap-in done");
	CHECK_EQ(kv_bad(s, g, 0, T, 3, false), 0, "tokens intact");
out:
	accel_seq_destroy(s);
	afx_close(&x);
}

/*
 * What a swap-out is for: with pool P full, swapping one sequence out
 * lets another grow. And a swap-in that finds the pool short of frames
 * gives back kept sequences first, as a grow does.
 */
static void swap_makes_room(int P)
{
	const struct accel_geometry *g = &geo_layer;
	struct accel_seq *a = NULL, *b = NULL;
	struct accel_open_opts o;
	struct kv_reserves r;
	uint64_t T = 300;
	struct afx x;

	memset(&r, 0, sizeof(r));
	memset(&x, 0, sizeof(x));
	if (!reserve_set(&r, P, 8))
		goto undo;
	opts_host(&o, 0, 1);
	if (!afx_open(&x, &o))
		goto out;
	a = seq_new(&x, g, T, NULL);
	b = seq_new(&x, &geo_seq, 0, NULL);
	if (!a || !b)
		goto out;
	kv_fill(a, g, 0, T, 31);
	CHECK_EQ(pool_free(P), 0, "pool%d full: a sequence of 2 x 4 pages",
		 P);
	CHECK_ERR(-accel_seq_grow(b, 1), ENOMEM, "another sequence cannot "
		  "grow");
	CHECK_ERR(-accel_seq_swap_out(a), 0, "swap the first one out");
	CHECK_ERR(-accel_seq_wait(a, SWAP_WAIT_MS), 0, "swap-out done");
	CHECK_EQ(pool_free(P), 8, "pool%d got its 8 frames back", P);
	CHECK_EQ(accel_seq_grow(b, 1), 1, "now the other one grows");
	accel_seq_destroy(b);
	b = NULL;
	CHECK_EQ(stats(&x).kept_seqs, 1, "and, finished, is kept");
	CHECK_ERR(-accel_seq_swap_in(a), 0, "swap the first one in: 8 frames "
		  "needed, 7 free");
	CHECK_ERR(-accel_seq_wait(a, SWAP_WAIT_MS), 0, "the swap-in succeeds: "
		  "the kept sequence was given back");
	CHECK_EQ(stats(&x).kept_seqs, 0, "nothing kept any more");
	CHECK_EQ(accel_seq_state(a), ACCEL_SEQ_RESIDENT, "resident");
	if (accel_seq_state(a) == ACCEL_SEQ_RESIDENT)
		CHECK_EQ(kv_bad(a, g, 0, T, 31, false), 0, "data intact");
out:
	accel_seq_destroy(a);
	accel_seq_destroy(b);
	afx_close(&x);
undo:
	reserve_undo(&r);
}

/*
 * A swap tier too small: the swap-out's completion says -ENOMEM, the
 * sequence stays resident with its data wherever its pages ended up, and
 * grows; once there is room, a swap-out and -in work.
 */
static void swap_fails(int Q)
{
	const struct accel_geometry *g = &geo_layer;
	struct accel_completion c;
	struct accel_open_opts o;
	struct accel_seq *s = NULL;
	struct kv_reserves r;
	uint64_t T = 300;
	struct afx x;

	memset(&r, 0, sizeof(r));
	memset(&x, 0, sizeof(x));
	if (!reserve_set(&r, Q, 6))
		goto undo;
	opts_host(&o, 0, 1);
	if (!afx_open(&x, &o))
		goto out;
	s = seq_new(&x, g, T, NULL);
	if (!s)
		goto out;
	kv_fill(s, g, 0, T, 51);
	CHECK_ERR(-accel_seq_swap_out(s), 0, "swap_out of 8 pages to a tier "
		  "of 6 frames starts");
	CHECK_ERR(-accel_seq_wait(s, SWAP_WAIT_MS), ENOMEM, "and fails");
	CHECK(fd_readable(x.ctx, 0) && accel_poll_completions(x.ctx, &c, 1) == 1
	      && c.op == ACCEL_OP_SWAP_OUT && c.status == -ENOMEM,
	      "its completion says -ENOMEM");
	CHECK_EQ(accel_seq_state(s), ACCEL_SEQ_RESIDENT, "the sequence stays "
		 "resident");
	CHECK_EQ(stats(&x).swaps_out, 0, "no swap-out counted");
	CHECK_EQ(kv_bad(s, g, 0, T, 51, false), 0, "its data intact");
	CHECK_EQ(accel_seq_grow(s, T + 300), 1, "it grows");
	kv_fill(s, g, T, T + 300, 51);
	reserve_undo(&r);
	CHECK_ERR(-accel_seq_swap_out(s), 0, "with room, swap_out");
	CHECK_ERR(-accel_seq_wait(s, SWAP_WAIT_MS), 0, "succeeds");
	CHECK_ERR(-accel_seq_swap_in(s), 0, "swap_in");
	CHECK_ERR(-accel_seq_wait(s, SWAP_WAIT_MS), 0, "succeeds");
	CHECK_EQ(kv_bad(s, g, 0, T + 300, 51, true), 0, "data intact");
out:
	accel_seq_destroy(s);
	afx_close(&x);
undo:
	reserve_undo(&r);
}

void test_accel_swap(void)
{
	struct accel_open_opts o;
	struct kv_snap s0;
	struct afx x;

	snap_take(&s0);
	opts_host(&o, 0, 1);
	if (afx_open(&x, &o) &&
	    CHECK(x.Q >= 0 && x.Q != x.P, "a swap tier with a pool: tier %u, "
		  "pool%d", x.info.swap_tier, x.Q)) {
		swap_geo(&x, &geo_layer);
		swap_geo(&x, &geo_seq);
		swap_fd(&x);
	}
	afx_close(&x);
	swap_ahead();
	if (x.P >= 0 && x.Q >= 0) {
		swap_makes_room(x.P);
		swap_fails(x.Q);
	}
	snap_back(&s0, 5000, "after accel_close");
}

/* --------------------------------------------------------------- errors */

/* accel_open with o must fail with err and leave nothing open. */
static void open_fails(const struct accel_open_opts *o, int err,
		       const char *what)
{
	struct accel_ctx *ctx = (struct accel_ctx *)&ctx;
	uint64_t clients = kv_sys_clients();

	CHECK_ERR(-accel_open(o, &ctx), err, "accel_open: %s", what);
	CHECK(ctx == NULL, "%s: *ctx is NULL", what);
	accel_close(ctx == (struct accel_ctx *)&ctx ? NULL : ctx);
	CHECK_EQ(kv_sys_clients(), clients, "%s: no file left open", what);
}

static void errors_open(void)
{
	struct accel_open_opts o;
	int nt = kv_sys_ntenants();

	opts_host(&o, 0, 1);
	o.device = "/dev/null";
	open_fails(&o, EPROTO, "a device that is not kvmem");
	opts_host(&o, 0, 1);
	o.tenant = (uint32_t)nt;
	open_fails(&o, EINVAL, "tenant = ntenants");
	opts_host(&o, 0, 1);
	o.tier = ACCEL_TIER_HBM;
	open_fails(&o, ENODEV, "a preferred tier with no pool (hbm)");
	opts_host(&o, 0, 1);
	o.swap_tier = ACCEL_TIER_HBM;
	open_fails(&o, ENODEV, "a swap tier with no pool (hbm)");
	opts_host(&o, 0, 1);
	o.tier = ACCEL_TIER_DRAM;
	o.swap_tier = ACCEL_TIER_DRAM;
	open_fails(&o, EINVAL, "swap tier = preferred tier");
	opts_host(&o, 0, 1);
	o.backend = ACCEL_BACKEND_CUDA;
	open_fails(&o, EOPNOTSUPP, "the cuda backend");
	opts_host(&o, 0, 1);
	o.wait_ms = KVMEM_WAIT_MAX_MS + 1;
	open_fails(&o, EINVAL, "wait_ms beyond 60000");
}

/* Each bad field alone: -EINVAL from accel_seq_create and _bytes. */
static void errors_geometry(struct afx *x)
{
	struct {
		const char *what;
		struct accel_geometry g;
		int err;
	} c[12];
	struct accel_seq_opts so = { 0 };
	struct accel_seq *s;
	uint64_t spaces = kv_sys_spaces();
	size_t n = 0;

#define BAD(w, field, v, e) do { \
		c[n].what = w; \
		c[n].g = geo_layer; \
		c[n].g.field = v; \
		c[n++].err = e; \
	} while (0)
	BAD("layers 0", layers, 0, EINVAL);
	BAD("kv_heads 0", kv_heads, 0, EINVAL);
	BAD("head_dim 0", head_dim, 0, EINVAL);
	BAD("dtype 0", dtype, 0, EINVAL);
	BAD("dtype 5", dtype, 5, EINVAL);
	BAD("max_tokens 0", max_tokens, 0, EINVAL);
	BAD("layout 2", layout, 2, EINVAL);
	BAD("reserved 1", reserved, 1, EINVAL);
	BAD("max_tokens 2^62", max_tokens, 1ULL << 62, EOVERFLOW);
#undef BAD
	for (size_t i = 0; i < n; i++) {
		s = (struct accel_seq *)&s;
		CHECK_ERR(-(int)accel_seq_bytes(x->ctx, &c[i].g), c[i].err,
			  "accel_seq_bytes, %s", c[i].what);
		CHECK_ERR(-accel_seq_create(x->ctx, &c[i].g, NULL, &s),
			  c[i].err, "accel_seq_create, %s", c[i].what);
		CHECK(s == NULL, "%s: *seq is NULL", c[i].what);
	}
	CHECK_ERR(-accel_seq_create(x->ctx, NULL, NULL, &s), EINVAL,
		  "accel_seq_create without a geometry");
	so.flags = 1U << 7;
	CHECK_ERR(-accel_seq_create(x->ctx, &geo_layer, &so, &s), EINVAL,
		  "accel_seq_create, unknown flag");
	so.flags = 0;
	so.hint_tokens = geo_layer.max_tokens + 1;
	CHECK_ERR(-accel_seq_create(x->ctx, &geo_layer, &so, &s), EINVAL,
		  "accel_seq_create, hint_tokens > max_tokens");
	CHECK_EQ(kv_sys_spaces(), spaces, "no space made by the failed calls");
	CHECK_EQ(stats(x).seqs_created, 0, "seqs_created 0");
}

/*
 * Tenant 1 with a dram quota of 6 frames: a per-layer sequence of 4 spaces
 * maps 1 page (4 frames); 2 pages (8) is over quota: -ENOMEM, and the
 * sequence keeps its tokens, data and frames, no more.
 */
static void errors_quota(void)
{
	const struct accel_geometry *g = &geo_layer;
	struct accel_open_opts o;
	struct accel_seq *s = NULL;
	uint64_t t1, ns = geo_spaces(g);
	struct afx x;

	if (!CHECK_ERR(tenant_write(1, "quota_dram", "6"), 0, "tenants/1/"
		       "quota_dram = 6"))
		return;
	opts_host(&o, 0, 1);
	o.tenant = 1;
	if (!afx_open(&x, &o))
		goto out;
	s = seq_new(&x, g, 0, NULL);
	if (!s)
		goto out;
	t1 = geo_tokens(g, x.ps, 1);
	CHECK_EQ(accel_seq_grow(s, t1), 1, "grow to 1 page (4 frames)");
	kv_fill(s, g, 0, t1, 8);
	CHECK_EQ(tenant_u64(1, "frames_dram"), ns, "tenant 1 is charged");
	CHECK_ERR(-accel_seq_grow(s, t1 + 1), ENOMEM, "grow beyond the quota");
	CHECK_EQ(accel_seq_tokens(s), t1, "the sequence keeps its tokens");
	CHECK_EQ(accel_seq_mapped_tokens(s), t1, "and its mapping");
	CHECK_EQ(kv_bad(s, g, 0, t1, 8, false), 0, "and its data");
	CHECK_EQ(tenant_u64(1, "frames_dram"), ns, "tenant 1: no frame left "
		 "charged by the failed grow");
	CHECK_EQ(usedP(&x), ns, "pool%d likewise", x.P);
	CHECK_ERR(tenant_write(1, "quota_dram", "max"), 0, "quota_dram max");
	CHECK_EQ(accel_seq_grow(s, t1 + 1), 1, "then the grow works");
	CHECK_EQ(kv_bad(s, g, 0, t1, 8, false), 0, "data intact");
out:
	accel_seq_destroy(s);
	afx_close(&x);
	tenant_write(1, "quota_dram", "max");
	CHECK_EQ(tenant_u64(1, "frames_dram"), 0, "tenant 1 holds nothing "
		 "after accel_close");
}

/* wait_ms 300 with pool P exhausted: -ETIMEDOUT after about 300 ms. */
static void errors_timeout(int P)
{
	const struct accel_geometry *g = &geo_layer;
	struct accel_open_opts o;
	struct accel_seq *s = NULL;
	struct kv_reserves r;
	double t0, ms;
	struct afx x;

	memset(&r, 0, sizeof(r));
	if (!reserve_set(&r, P, 8))
		goto undo;
	opts_host(&o, 0, 1);
	o.wait_ms = 300;
	if (!afx_open(&x, &o))
		goto out;
	s = seq_new(&x, g, geo_tokens(g, x.ps, 2), NULL);
	if (!s)
		goto out;
	CHECK_EQ(pool_free(P), 0, "pool%d exhausted", P);
	t0 = now_ms();
	CHECK_ERR(-accel_seq_grow(s, geo_tokens(g, x.ps, 3)), ETIMEDOUT,
		  "grow with the pool exhausted, wait_ms 300");
	ms = now_ms() - t0;
	CHECK(ms >= 290 && ms < 3000, "after about wait_ms: %.0f ms", ms);
	CHECK_EQ(accel_seq_tokens(s), geo_tokens(g, x.ps, 2), "tokens "
		 "unchanged");
	CHECK_EQ(usedP(&x), 8, "frames unchanged");
out:
	accel_seq_destroy(s);
	afx_close(&x);
undo:
	reserve_undo(&r);
}

/*
 * With one tier only (pool Q retiered to dram) there is no swap tier:
 * swaps fail -EOPNOTSUPP and change nothing.
 */
static void errors_no_swap_tier(int P, int Q)
{
	struct accel_open_opts o;
	struct accel_seq *s = NULL;
	char was[16] = "";
	uint64_t both;
	struct afx x;

	memset(&x, 0, sizeof(x));
	if (Q < 0 || pool_tier_str(Q, was, sizeof(was)) ||
	    !CHECK_ERR(pool_set_tier(Q, "dram"), 0, "pool%d tier dram", Q))
		return;
	opts_host(&o, 0, 1);
	if (!afx_open(&x, &o))
		goto out;
	CHECK_EQ(x.info.swap_tier, ACCEL_TIER_DEFAULT, "no swap tier");
	both = used(P) + used(Q);
	s = seq_new(&x, &geo_seq, 10, NULL);
	if (!s)
		goto out;
	CHECK_ERR(-accel_seq_swap_out(s), EOPNOTSUPP, "swap_out with no swap "
		  "tier");
	CHECK_EQ(accel_seq_state(s), ACCEL_SEQ_RESIDENT, "still resident");
	CHECK_EQ(used(P) + used(Q) - both, 1, "its page stays mapped");
out:
	accel_seq_destroy(s);
	afx_close(&x);
	CHECK_ERR(pool_set_tier(Q, was), 0, "pool%d tier back to %s", Q, was);
}

/* NULL arguments: -EINVAL or a no-op, never a crash. */
static void errors_null(struct afx *x)
{
	struct accel_completion c;
	struct accel_stats st;
	struct accel_pool pool;

	CHECK_ERR(-accel_seq_grow(NULL, 1), EINVAL, "accel_seq_grow(NULL)");
	CHECK_ERR(-accel_seq_swap_out(NULL), EINVAL, "swap_out(NULL)");
	CHECK_ERR(-accel_seq_swap_in(NULL), EINVAL, "swap_in(NULL)");
	CHECK_ERR(-accel_seq_wait(NULL, 0), EINVAL, "accel_seq_wait(NULL)");
	CHECK_ERR(-accel_seq_state(NULL), EINVAL, "accel_seq_state(NULL)");
	CHECK_ERR(-accel_stats(x->ctx, NULL), EINVAL, "accel_stats(ctx, NULL)");
	CHECK_ERR(-accel_stats(NULL, &st), EINVAL, "accel_stats(NULL, st)");
	CHECK_ERR(-accel_poll_completions(x->ctx, NULL, 1), EINVAL,
		  "accel_poll_completions(ctx, NULL, 1)");
	CHECK_ERR(-accel_poll_completions(NULL, &c, 1), EINVAL,
		  "accel_poll_completions(NULL)");
	CHECK_ERR(-(int)accel_trim(NULL), EINVAL, "accel_trim(NULL)");
	CHECK_ERR(-accel_fd(NULL), EINVAL, "accel_fd(NULL)");
	CHECK_ERR(-accel_pool_query(x->ctx, x->info.npools, &pool), EINVAL,
		  "accel_pool_query(npools)");
	accel_seq_destroy(NULL);
	accel_close(NULL);
}

void test_accel_errors(void)
{
	struct accel_open_opts o;
	struct kv_snap s0;
	struct afx x;
	int P = -1, Q = -1;

	snap_take(&s0);
	errors_open();
	opts_host(&o, 0, 1);
	if (afx_open(&x, &o)) {
		P = x.P;
		Q = x.Q;
		errors_geometry(&x);
		errors_null(&x);
	}
	afx_close(&x);
	errors_quota();
	if (P >= 0) {
		errors_timeout(P);
		errors_no_swap_tier(P, Q);
	}
	snap_back(&s0, 5000, "after accel_close");
}

/*
 * With the module unloaded, accel_open fails -ENOENT: whether /dev/kvmem
 * is gone (devtmpfs) or a stale node of it is left behind (a static
 * /dev, a node made by hand).
 */
void test_accel_no_module(void)
{
	const char *stale = "/tmp/kvmem-stale";
	struct accel_open_opts o;
	struct kv_snap s0;
	unsigned int ma, mi;
	char dev[32];

	if (!mod_idle(&s0))
		return;
	if (!CHECK_ERR(sysfs_read(KV_SYSFS "/dev", dev, sizeof(dev)), 0,
		       "read %s/dev", KV_SYSFS) ||
	    !CHECK(sscanf(dev, "%u:%u", &ma, &mi) == 2, "device number "
		   "'%s'", dev) ||
	    !unload_ok("for accel_open without a module"))
		goto out;
	opts_host(&o, 0, 1);
	open_fails(&o, ENOENT, "no module, no " KV_DEV);
	unlink(stale);
	if (CHECK(!mknod(stale, S_IFCHR | 0600, makedev(ma, mi)),
		  "mknod %s %u:%u", stale, ma, mi)) {
		o.device = stale;
		open_fails(&o, ENOENT, "no module, a stale device node");
		unlink(stale);
	}
out:
	mod_back(&s0);
}

/* ---------------------------------------------------------------- close */

/*
 * accel_close with sequences live (mapping ahead), kept, swapped, swapped
 * back in (copies in the swap tier), and swapping out: every space, frame
 * and copy is given back, and nothing is left waiting.
 */
void test_accel_close(void)
{
	const struct accel_geometry *g = &geo_layer;
	struct accel_open_opts o;
	struct accel_seq *s[5] = { NULL };
	struct kv_snap s0;
	double t0;
	struct afx x;

	snap_take(&s0);
	opts_host(&o, 4, 64);
	if (!afx_open(&x, &o))
		goto out;
	for (int i = 0; i < 5; i++) {
		s[i] = seq_new(&x, g, 300 + 100 * i, NULL);
		if (!s[i])
			goto out;
		kv_fill(s[i], g, 0, 300 + 100 * i, 40 + i);
	}
	accel_seq_destroy(s[0]);	/* kept */
	s[0] = NULL;
	CHECK_ERR(-accel_seq_swap_out(s[1]), 0, "swap out sequence 1");
	CHECK_ERR(-accel_seq_swap_out(s[2]), 0, "swap out sequence 2");
	CHECK_ERR(-accel_seq_wait(s[1], SWAP_WAIT_MS), 0, "1 swapped out");
	CHECK_ERR(-accel_seq_wait(s[2], SWAP_WAIT_MS), 0, "2 swapped out");
	CHECK_ERR(-accel_seq_swap_in(s[2]), 0, "swap 2 back in");
	CHECK_ERR(-accel_seq_wait(s[2], SWAP_WAIT_MS), 0, "2 swapped in");
	CHECK_EQ(kv_bad(s[2], g, 0, 500, 42, false), 0, "2 intact");
	CHECK_ERR(-accel_seq_swap_out(s[3]), 0, "swap out sequence 3, "
		  "not waited for");
	CHECK(stats(&x).kept_seqs == 1 && usedP(&x) > 0 && usedQ(&x) > 0,
	      "before close: a kept sequence, frames in pool%d and pool%d",
	      x.P, x.Q);
out:
	t0 = now_ms();
	afx_close(&x);
	CHECK(now_ms() - t0 < 10000, "accel_close returned in %.0f ms",
	      now_ms() - t0);
	snap_back(&s0, 5000, "after accel_close");
}

/* -------------------------------------------------------------- example */

/*
 * tools/accel-example (run.sh must be given it, as tools/check.sh does)
 * exits 0: its attention matched, before and after a swap. Its report
 * goes to the console with the test's output.
 */
void test_accel_example(void)
{
	struct kv_snap s0;
	pid_t pid;

	snap_take(&s0);
	if (!CHECK(access(EXAMPLE_BIN, X_OK) == 0, "%s is in the guest "
		   "(give it to run.sh)", EXAMPLE_BIN))
		return;
	pid = xfork();
	if (pid == 0) {
		execl(EXAMPLE_BIN, "accel-example", (char *)NULL);
		_exit(127);
	}
	if (CHECK(pid > 0, "fork"))
		child_done(pid, 100000, "accel-example");
	snap_back(&s0, 5000, "after accel-example");
}
