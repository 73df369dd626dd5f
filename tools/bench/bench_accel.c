// SPDX-License-Identifier: GPL-2.0
/*
 * libaccel benchmarks of kvmem-bench: the host backend on the real module,
 * linked in statically.
 *
 * The model: the attention of a 7B-class model with grouped KV heads
 * (Mistral-7B, Llama-3-8B: 8 KV heads of 128 dims, fp16, so 2 KiB per
 * token per layer for K and as much for V), one space per layer and K/V
 * (ACCEL_LAYOUT_PER_LAYER), 2048 tokens per sequence, 8 sequences. Such a
 * model has 32 layers; the guest's pools hold fewer, so the bench keeps as
 * many layers as fit in three quarters of the free frames of the
 * preferred tier (and of the swap tier). Tokens per page, and so how often
 * a step crosses into a new page, are the real model's; a blocking grow
 * maps fewer spaces than with 32 layers, so it is cheaper than it would be.
 *
 *  accel_grow_p50, accel_grow_p99: latency of accel_seq_grow() on the step
 *	path of a decode loop (tokens_per_step 1: each sequence grows by one
 *	token per step and its new token is written into every layer's K and
 *	V; the sequences start at prompts of different lengths so that they
 *	do not cross page boundaries on the same step), with step-ahead
 *	(STEP_AHEAD steps) against without, each on fresh contexts,
 *	DECODE_ROUNDS rounds of each, alternating. Limit: a grow that has
 *	nothing to do (to the length the sequence already has: lock,
 *	compare, unlock), timed right after each step's grow. There is no
 *	model compute between steps: the background thread has only the
 *	other sequences' steps (STEP_AHEAD * NSEQ of them) to map a page in,
 *	the least time an engine gives it. An "accel decode:" line gives the
 *	blocked grows' mean wait and the mean time of a step, to compare.
 *  accel_grow_blocked: the percentage of those grows that waited for
 *	memory (accel_stats: grow_blocked / grow_calls over the decode loop),
 *	with step-ahead against without. Limit: no step waits.
 *  accel_swap_out: bytes per second of accel_seq_swap_out() of the 8
 *	sequences until accel_seq_wait() returns for all of them (every page
 *	written since the last swap, so every page is copied), against one
 *	copy (8-byte words, as bench_migrate.c) of the same bytes between
 *	buffers bound to the same two nodes. Limit: that copy on both CPUs
 *	at once (kvmem copies a batch with up to one thread per CPU, and
 *	spaces migrate in parallel), or on one if that measures faster.
 *  accel_swap_in: the same for accel_seq_swap_in() of the 8 sequences,
 *	against the copy the other way. A swap-out frees the preferred tier's
 *	frames, so the swap-in copies every page back (and keeps the swap
 *	tier's frames as clean copies for the next swap-out). Limit: the copy
 *	on both CPUs. An "accel swap:" line gives the preferred tier's free
 *	frames before a swap-out and while swapped out.
 *  accel_swap_incr_time: a swap-out after APPEND_TOKENS tokens were
 *	appended to every sequence since its last swap-out (and swap-in),
 *	against a swap-out of the same sequences with every page written.
 *	Limit: copying only the appended tokens' bytes, at the rate of
 *	accel_swap_out's limit.
 *  accel_swap_incr_bytes: the bytes those two swap-outs copied (from the
 *	completions). Limit: the appended tokens' bytes; the swap copies
 *	whole pages.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "accel.h"
#include "bench.h"

#define NSEQ		8
#define MAX_TOKENS	2048
#define MODEL_LAYERS	32
#define STEP_AHEAD	8
#define DECODE_ROUNDS	3	/* per mode, alternating */
#define SWAP_ROUNDS	5
#define SWAP_TOKENS	1500	/* length of the swapped sequences at first */
#define APPEND_TOKENS	64	/* tokens appended between two swap-outs */

static void check(int ret, const char *what)
{
	if (ret < 0) {
		errno = -ret;
		die(what);
	}
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* The @p-th quantile (0 <= p < 1) of @n values; sorts them. */
static double quantile(uint64_t *v, size_t n, double p)
{
	size_t i = (size_t)(p * (double)n);

	qsort(v, n, sizeof(*v), cmp_u64);
	return (double)v[i < n ? i : n - 1];
}

static struct accel_ctx *open_host(uint32_t step_ahead)
{
	struct accel_open_opts o;
	struct accel_ctx *ctx;

	accel_open_opts_init(&o);
	o.backend = ACCEL_BACKEND_HOST;
	o.step_ahead = step_ahead;
	o.tokens_per_step = 1;
	check(accel_open(&o, &ctx), "accel_open");
	return ctx;
}

/* Writes tokens [from, to) of every layer's K and V of @s. */
static void write_tokens(struct accel_seq *s, const struct accel_geometry *g,
			 uint64_t from, uint64_t to, int val)
{
	struct accel_tensor t;
	uint32_t l, kv;

	for (l = 0; l < g->layers; l++) {
		for (kv = 0; kv < 2; kv++) {
			check(accel_seq_tensor(s, l, kv, &t), "accel_seq_tensor");
			memset((char *)(uintptr_t)t.base + from * t.token_stride,
			       val, (to - from) * t.token_stride);
		}
	}
}

/* Bytes of the preferred tier's and the swap tier's free frames. */
static void free_bytes(struct accel_ctx *ctx, const struct accel_info *info,
		       uint64_t *pref, uint64_t *swap, int *swap_node)
{
	struct accel_pool p;
	uint32_t i;

	*pref = *swap = 0;
	*swap_node = -1;
	for (i = 0; i < info->npools; i++) {
		check(accel_pool_query(ctx, i, &p), "accel_pool_query");
		if (p.tier == info->tier)
			*pref += p.frames_free * p.page_size;
		if (p.tier == info->swap_tier) {
			*swap += p.frames_free * p.page_size;
			if (*swap_node < 0)
				*swap_node = p.node;
		}
	}
}

/* Free frames of the preferred tier's pools. */
static uint64_t pref_free_frames(struct accel_ctx *ctx,
				 const struct accel_info *info)
{
	struct accel_pool p;
	uint64_t n = 0;
	uint32_t i;

	for (i = 0; i < info->npools; i++) {
		check(accel_pool_query(ctx, i, &p), "accel_pool_query");
		if (p.tier == info->tier)
			n += p.frames_free;
	}
	return n;
}

/* ---------------------------------------------------------- decode loop */

struct decode {
	uint64_t *lat;		/* ns of each step's grow */
	uint64_t *noop;		/* ns of a grow with nothing to do */
	size_t n;
	uint64_t calls, blocked, blocked_ns;
	uint64_t loop_ns;	/* wall time of the decode loops */
};

/*
 * One decode round on a fresh context: every sequence is prefilled to a
 * prompt (untimed), then grows one token per step to MAX_TOKENS.
 */
static void decode_round(const struct accel_geometry *g, uint32_t step_ahead,
			 uint64_t tokens_per_page, struct decode *d)
{
	struct accel_ctx *ctx = open_host(step_ahead);
	struct accel_seq *seq[NSEQ];
	struct accel_stats s0, s1;
	bool more = true;
	uint64_t start;
	int i;

	for (i = 0; i < NSEQ; i++) {
		uint64_t prompt = 1 + i * tokens_per_page / NSEQ;

		check(accel_seq_create(ctx, g, NULL, &seq[i]),
		      "accel_seq_create");
		check(accel_seq_grow(seq[i], prompt), "prefill");
		write_tokens(seq[i], g, 0, prompt, i);
	}
	check(accel_stats(ctx, &s0), "accel_stats");
	start = now_ns();
	while (more) {
		more = false;
		for (i = 0; i < NSEQ; i++) {
			uint64_t t = accel_seq_tokens(seq[i]), t0, t1, t2, t3;
			int r;

			if (t >= g->max_tokens)
				continue;
			more = true;
			t0 = now_ns();
			r = accel_seq_grow(seq[i], t + 1);
			t1 = now_ns();
			check(r, "accel_seq_grow");
			t2 = now_ns();
			r = accel_seq_grow(seq[i], t + 1);
			t3 = now_ns();
			check(r, "accel_seq_grow (no-op)");
			d->lat[d->n] = t1 - t0;
			d->noop[d->n++] = t3 - t2;
			write_tokens(seq[i], g, t, t + 1, (int)t);
		}
	}
	d->loop_ns += now_ns() - start;
	check(accel_stats(ctx, &s1), "accel_stats");
	/* The no-op grows grow nothing, so they are not counted. */
	d->calls += s1.grow_calls - s0.grow_calls;
	d->blocked += s1.grow_blocked - s0.grow_blocked;
	d->blocked_ns += s1.grow_blocked_ns - s0.grow_blocked_ns;
	for (i = 0; i < NSEQ; i++)
		accel_seq_destroy(seq[i]);
	accel_close(ctx);
}

static void bench_decode(const struct accel_geometry *g,
			 uint64_t tokens_per_page, unsigned long size_mib)
{
	size_t cap = (size_t)DECODE_ROUNDS * NSEQ * MAX_TOKENS;
	struct decode off = { 0 }, on = { 0 };
	uint64_t *noop = malloc(2 * cap * sizeof(*noop));
	double p50[3], p99[3], pct_off, pct_on;
	char name[64];
	int r;

	off.lat = malloc(cap * sizeof(uint64_t));
	off.noop = noop;
	on.lat = malloc(cap * sizeof(uint64_t));
	on.noop = noop + cap;
	if (!noop || !off.lat || !on.lat)
		die("malloc");
	for (r = 0; r < DECODE_ROUNDS; r++) {
		decode_round(g, 0, tokens_per_page, &off);
		decode_round(g, STEP_AHEAD, tokens_per_page, &on);
	}
	if (off.calls != off.n || on.calls != on.n)
		fprintf(stderr, "accel: %llu/%llu grow calls counted, %zu/%zu made\n",
			(unsigned long long)off.calls,
			(unsigned long long)on.calls, off.n, on.n);
	if (!off.calls || !on.calls || !off.blocked)
		die("decode loop: nothing measured");
	pct_off = 100.0 * off.blocked / off.calls;
	pct_on = 100.0 * on.blocked / on.calls;
	p50[0] = quantile(on.lat, on.n, 0.5);
	p99[0] = quantile(on.lat, on.n, 0.99);
	p50[1] = quantile(off.lat, off.n, 0.5);
	p99[1] = quantile(off.lat, off.n, 0.99);
	memmove(noop + off.n, on.noop, on.n * sizeof(*noop));
	p50[2] = quantile(noop, off.n + on.n, 0.5);
	p99[2] = quantile(noop, off.n + on.n, 0.99);

	printf("accel decode: %d sequences x %d tokens, %u layers x 2 spaces, "
	       "%llu tokens per page, %zu steps per mode in all\n", NSEQ,
	       MAX_TOKENS, g->layers, (unsigned long long)tokens_per_page,
	       on.n);
	/* A sequence's next step comes NSEQ steps later: its lead time. */
	printf("accel decode: step_ahead=0: blocked %llu of %llu, %.0f us "
	       "each, %.1f us per step; step_ahead=%d: blocked %llu of %llu, "
	       "%.0f us each, %.1f us per step\n",
	       (unsigned long long)off.blocked, (unsigned long long)off.calls,
	       off.blocked_ns / 1e3 / off.blocked, off.loop_ns / 1e3 / off.n,
	       STEP_AHEAD, (unsigned long long)on.blocked,
	       (unsigned long long)on.calls,
	       on.blocked ? on.blocked_ns / 1e3 / on.blocked : 0.0,
	       on.loop_ns / 1e3 / on.n);
	snprintf(name, sizeof(name), "step_ahead=0 (figure: step_ahead=%d)",
		 STEP_AHEAD);
	report_sized("accel_grow_p50", "ns", p50[0], name, p50[1], p50[2],
		     "grow with nothing to do (lock compare unlock)", "lower",
		     size_mib, DECODE_ROUNDS);
	report_sized("accel_grow_p99", "ns", p99[0], name, p99[1], p99[2],
		     "grow with nothing to do (lock compare unlock)", "lower",
		     size_mib, DECODE_ROUNDS);
	report_sized("accel_grow_blocked", "%", pct_on, name, pct_off, 0,
		     "no step waits for memory", "lower", size_mib,
		     DECODE_ROUNDS);
	free(noop);
	free(off.lat);
	free(on.lat);
}

/* ----------------------------------------------------------------- swap */

struct copy_arg {
	void *dst;
	const void *src;
	size_t len;
};

static void *copy_main(void *p)
{
	struct copy_arg *a = p;

	copy_bytes(a->dst, a->src, a->len);
	return NULL;
}

/* Microseconds to copy @len bytes with copy_bytes() on @threads CPUs. */
static double copy_us(void *dst, const void *src, size_t len, int threads)
{
	struct copy_arg a = {
		(char *)dst + len / 2, (const char *)src + len / 2, len / 2
	};
	pthread_t t;
	double t0 = now_us();

	if (threads == 1) {
		copy_bytes(dst, src, len);
		return now_us() - t0;
	}
	if (pthread_create(&t, NULL, copy_main, &a))
		die("pthread_create");
	copy_bytes(dst, src, len / 2);
	pthread_join(t, NULL);
	return now_us() - t0;
}

struct swap_res {
	uint64_t copied, reused;
};

/* Swaps every sequence out (or in) and waits for all; microseconds. */
static double swap_all(struct accel_ctx *ctx, struct accel_seq **seq, bool out,
		       struct swap_res *res)
{
	struct accel_completion c[NSEQ];
	double t0 = now_us(), t;
	int i, n, got = 0;

	for (i = 0; i < NSEQ; i++)
		check(out ? accel_seq_swap_out(seq[i]) : accel_seq_swap_in(seq[i]),
		      out ? "accel_seq_swap_out" : "accel_seq_swap_in");
	for (i = 0; i < NSEQ; i++)
		check(accel_seq_wait(seq[i], -1), "accel_seq_wait");
	t = now_us() - t0;
	res->copied = res->reused = 0;
	while (got < NSEQ) {
		n = accel_poll_completions(ctx, c, NSEQ);
		check(n, "accel_poll_completions");
		if (!n)
			die("a completion is missing");
		for (i = 0; i < n; i++) {
			check(c[i].status, "swap completion");
			res->copied += c[i].bytes_copied;
			res->reused += c[i].bytes_reused;
		}
		got += n;
	}
	return t;
}

/* Per round: rates in MiB/s, times in us, sizes in KiB. */
struct swap_rounds {
	double out[SWAP_ROUNDS], in[SWAP_ROUNDS];	/* swaps, MiB/s */
	double cp_out[SWAP_ROUNDS], cp_in[SWAP_ROUNDS];	/* memcpy, 1 CPU */
	double lim_out[SWAP_ROUNDS], lim_in[SWAP_ROUNDS];	/* 2 CPUs */
	double full_us[SWAP_ROUNDS], inc_us[SWAP_ROUNDS];
	double full_kib[SWAP_ROUNDS], inc_kib[SWAP_ROUNDS];
	double mib;			/* the last round's swapped MiB */
	uint64_t in_copied;		/* bytes all the swap-ins copied */
};

static double fmax_(double a, double b)
{
	return a > b ? a : b;
}

static void swap_report(struct swap_rounds *m, uint64_t appended)
{
	unsigned long size = (unsigned long)(m->mib + 0.5);
	struct pair_stats po, pi;
	double lim_out, lim_in;
	char lname[160];

	/* The copies' medians without sorting the rounds (median() sorts in
	 * place, which would break the pairs). */
	pair_stats(m->out, m->cp_out, SWAP_ROUNDS, &po);
	pair_stats(m->in, m->cp_in, SWAP_ROUNDS, &pi);
	lim_out = fmax_(median(m->lim_out, SWAP_ROUNDS), po.base);
	lim_in = fmax_(median(m->lim_in, SWAP_ROUNDS), pi.base);

	report_paired("accel_swap_out", "MiB/s", m->out, m->cp_out,
		      SWAP_ROUNDS, "memcpy node0->node1", lim_out,
		      "memcpy node0->node1 on 2 CPUs", "higher", size);
	snprintf(lname, sizeof(lname),
		 "memcpy node1->node0 on 2 CPUs: bound of a swap-in that "
		 "copies; these copied %llu KiB",
		 (unsigned long long)(m->in_copied / 1024));
	report_paired("accel_swap_in", "MiB/s", m->in, m->cp_in, SWAP_ROUNDS,
		      "memcpy node1->node0", lim_in, lname, "higher", size);
	report_paired("accel_swap_incr_time", "us", m->inc_us, m->full_us,
		      SWAP_ROUNDS, "swap-out with every page written",
		      (double)appended / MIB * 1e6 / lim_out,
		      "memcpy of the appended tokens on 2 CPUs", "lower", size);
	snprintf(lname, sizeof(lname), "bytes of the %d appended tokens",
		 APPEND_TOKENS);
	report_sized("accel_swap_incr_bytes", "KiB",
		     median(m->inc_kib, SWAP_ROUNDS),
		     "swap-out with every page written",
		     median(m->full_kib, SWAP_ROUNDS), appended / 1024.0, lname,
		     "lower", size, SWAP_ROUNDS);
}

/*
 * Each round appends APPEND_TOKENS tokens to every sequence and swaps them
 * out (incremental) and in, then writes every token and swaps them out
 * (full) and in, then copies as many bytes between buffers on the same
 * nodes.
 */
static void bench_swap(const struct accel_geometry *g, int pref_node,
		       int swap_node)
{
	struct accel_ctx *ctx = open_host(0);
	uint64_t row = (uint64_t)g->kv_heads * g->head_dim *
		       accel_dtype_size(g->dtype);
	uint64_t appended = (uint64_t)APPEND_TOKENS * row * 2 * g->layers *
			    NSEQ, tokens = SWAP_TOKENS, free0, free1;
	size_t max = (size_t)accel_seq_bytes(ctx, g) * NSEQ;
	char *a = node_buf(max, pref_node), *b = node_buf(max, swap_node);
	struct swap_rounds m = { 0 };
	struct accel_seq *seq[NSEQ];
	struct accel_info info;
	struct swap_res res;
	int i, r;

	check(accel_info(ctx, &info), "accel_info");
	for (i = 0; i < NSEQ; i++) {
		check(accel_seq_create(ctx, g, NULL, &seq[i]),
		      "accel_seq_create");
		check(accel_seq_grow(seq[i], tokens), "accel_seq_grow");
		write_tokens(seq[i], g, 0, tokens, i + 1);
	}
	/* The first swap-out makes the swap tier's copies. */
	free0 = pref_free_frames(ctx, &info);
	swap_all(ctx, seq, true, &res);
	free1 = pref_free_frames(ctx, &info);
	printf("accel swap: %d sequences, %d tokens and more; free frames of "
	       "the preferred tier before the swap-out %llu, while swapped "
	       "out %llu\n", NSEQ, SWAP_TOKENS, (unsigned long long)free0,
	       (unsigned long long)free1);
	swap_all(ctx, seq, false, &res);

	for (r = 0; r < SWAP_ROUNDS; r++) {
		size_t len;

		for (i = 0; i < NSEQ; i++) {
			check(accel_seq_grow(seq[i], tokens + APPEND_TOKENS),
			      "accel_seq_grow");
			write_tokens(seq[i], g, tokens, tokens + APPEND_TOKENS,
				     r + 2);
		}
		tokens += APPEND_TOKENS;
		m.inc_us[r] = swap_all(ctx, seq, true, &res);
		m.inc_kib[r] = res.copied / 1024.0;
		swap_all(ctx, seq, false, &res);

		for (i = 0; i < NSEQ; i++)
			write_tokens(seq[i], g, 0, tokens, r + 3);
		m.full_us[r] = swap_all(ctx, seq, true, &res);
		m.full_kib[r] = res.copied / 1024.0;
		len = res.copied + res.reused;
		if (res.reused)
			fprintf(stderr, "accel: a full swap-out reused %llu bytes\n",
				(unsigned long long)res.reused);
		m.in[r] = swap_all(ctx, seq, false, &res);
		m.in_copied += res.copied;
		if (res.copied + res.reused != len)
			die("swap-in moved other bytes than swap-out");

		m.mib = (double)len / MIB;
		m.out[r] = m.mib * 1e6 / m.full_us[r];
		m.in[r] = m.mib * 1e6 / m.in[r];
		m.cp_out[r] = m.mib * 1e6 / copy_us(b, a, len, 1);
		m.cp_in[r] = m.mib * 1e6 / copy_us(a, b, len, 1);
		m.lim_out[r] = m.mib * 1e6 / copy_us(b, a, len, 2);
		m.lim_in[r] = m.mib * 1e6 / copy_us(a, b, len, 2);
	}
	swap_report(&m, appended);

	for (i = 0; i < NSEQ; i++)
		accel_seq_destroy(seq[i]);
	accel_close(ctx);
	munmap(a, max);
	munmap(b, max);
}

void bench_accel(void)
{
	struct accel_geometry g = {
		.layers = 1, .kv_heads = 8, .head_dim = 128,
		.dtype = ACCEL_DTYPE_F16, .max_tokens = MAX_TOKENS,
		.layout = ACCEL_LAYOUT_PER_LAYER,
	};
	struct accel_ctx *ctx = open_host(0);
	uint64_t pref, swap, per_layer, layers, row;
	struct accel_info info;
	int swap_node;

	check(accel_info(ctx, &info), "accel_info");
	if (info.swap_tier == ACCEL_TIER_DEFAULT)
		die("accel: no swap tier");
	free_bytes(ctx, &info, &pref, &swap, &swap_node);
	per_layer = (uint64_t)accel_seq_bytes(ctx, &g) * NSEQ;
	layers = (pref < swap ? pref : swap) / 4 * 3 / per_layer;
	if (layers > MODEL_LAYERS)
		layers = MODEL_LAYERS;
	if (!layers) {
		errno = ENOMEM;
		die("accel: the pools are too small for one layer");
	}
	g.layers = (uint32_t)layers;
	row = (uint64_t)g.kv_heads * g.head_dim * accel_dtype_size(g.dtype);
	printf("accel: host backend, page %llu bytes, %llu MiB free in the "
	       "preferred tier (node %d), %llu MiB in the swap tier (node %d): "
	       "%u of %d layers\n", (unsigned long long)info.page_size,
	       (unsigned long long)(pref / MIB), info.numa_node,
	       (unsigned long long)(swap / MIB), swap_node, g.layers,
	       MODEL_LAYERS);
	accel_close(ctx);

	bench_decode(&g, info.page_size / row,
		     (unsigned long)(per_layer * layers / MIB));
	bench_swap(&g, info.numa_node, swap_node);
}
