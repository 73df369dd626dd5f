// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * accel-example: what a serving engine does with libaccel, end to end,
 * and proof that the memory under it holds: a few sequences (both
 * layouts, F32 and F16) decode token by token, each step growing the
 * sequence and writing that token's K and V of every layer; then the
 * reference attention (kernels/attention_ref.c) runs over the sequences'
 * tensors in place and must match a naive attention over a private copy
 * of the same K and V kept in malloc'ed memory. Two sequences are swapped
 * out to the slow tier and back, and attention must give the very same
 * result again; then every sequence decodes a few tokens more and the two
 * make another round trip, whose swap-out copies only the pages of the
 * new tokens. Prints a short report; exits 0 only if everything matched.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accel.h"
#include "attention_ref.h"

#define LAYERS		2
#define KV_HEADS	2
#define Q_HEADS		8	/* GQA: 4 query heads per KV head */
#define HEAD_DIM	64
#define MAX_TOKENS	1024
#define NSEQ		4
/* Reference vs naive: both sum in double, so they agree far closer. */
#define TOLERANCE	1e-5
#define SWAP_WAIT_MS	20000
#define MORE_TOKENS	16	/* decoded between the two round trips */

/* One request: its shape, where it decodes to, and what was written. */
struct ex_seq {
	const char *name;
	uint32_t layout, dtype;
	uint64_t tokens;	/* to decode up to */
	struct accel_geometry g;
	struct accel_seq *s;
	float *copy;		/* [layer][K, V][token][head][dim] */
	float *out;		/* [layer][q head][dim]: attention */
};

static struct ex_seq seqs[NSEQ] = {
#define SEQ(n, l, d, t) { .name = n, .layout = l, .dtype = d, .tokens = t }
	SEQ("per-layer f32", ACCEL_LAYOUT_PER_LAYER, ACCEL_DTYPE_F32, 700),
	SEQ("per-seq   f32", ACCEL_LAYOUT_PER_SEQ, ACCEL_DTYPE_F32, 450),
	SEQ("per-layer f16", ACCEL_LAYOUT_PER_LAYER, ACCEL_DTYPE_F16, 600),
	SEQ("per-seq   f16", ACCEL_LAYOUT_PER_SEQ, ACCEL_DTYPE_F16, 333),
#undef SEQ
};

static const size_t out_floats = (size_t)LAYERS * Q_HEADS * HEAD_DIM;

static void usage(FILE *f)
{
	fprintf(f,
		"usage: accel-example [--device PATH] [--help]\n"
		"\n"
		"Decodes %d sequences (per-layer and per-seq layouts, f32 and "
		"f16;\n"
		"%d layers, %d KV heads, %d query heads, head_dim %d) token by "
		"token\n"
		"with libaccel, writing each token's K and V into the "
		"sequences'\n"
		"tensors; checks a reference attention over those tensors "
		"against a\n"
		"naive attention over a private copy (within %g), swaps two "
		"sequences\n"
		"out and back in and checks attention gives the same result; "
		"decodes\n"
		"%d tokens more and does it again (that swap-out copies only "
		"the\n"
		"pages of the new tokens); prints a report.\n"
		"\n"
		"  --device PATH  kvmem device (default: $ACCEL_DEVICE, else "
		"/dev/kvmem)\n"
		"  --help         this text\n"
		"\n"
		"Exit status: 0 if everything matched, 1 if anything failed, "
		"2 on a\n"
		"usage error. Needs the kvmem module loaded.\n",
		NSEQ, LAYERS, KV_HEADS, Q_HEADS, HEAD_DIM, TOLERANCE,
		MORE_TOKENS);
}

/* ---------------------------------------------------------------- data */

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

/*
 * The value of one element of K or V: k / 256 for an integer k in
 * [-256, 256], exact in f16 too, so both dtypes hold exactly the value
 * the private copy holds.
 */
static float kv_value(unsigned int seq, uint32_t layer, uint32_t kv,
		      uint64_t tok, uint32_t head, uint32_t i)
{
	uint64_t key = ((((uint64_t)seq * LAYERS + layer) * 2 + kv) *
			MAX_TOKENS + tok) * KV_HEADS * HEAD_DIM +
		       (uint64_t)head * HEAD_DIM + i;

	return (float)((int)(mix(key) % 513) - 256) / 256.0f;
}

/* The query of a sequence's next step, [head][dim], per layer. */
static void query(unsigned int seq, uint32_t layer, float *q)
{
	for (uint32_t i = 0; i < Q_HEADS * HEAD_DIM; i++)
		q[i] = (float)((int)(mix(0x9e3779b97f4a7c15ULL ^
					 ((uint64_t)seq << 40 |
					  (uint64_t)layer << 32 | i)) %
				     201) - 100) / 100.0f;
}

static float *copy_at(struct ex_seq *x, uint32_t l, uint32_t kv,
		      uint64_t tok, uint32_t head)
{
	return x->copy + ((((size_t)l * 2 + kv) * MAX_TOKENS + tok) *
			  KV_HEADS + head) * HEAD_DIM;
}

/* Writes token tok's K and V of every layer, into the tensor and copy. */
static int write_token(unsigned int n, struct ex_seq *x, uint64_t tok)
{
	for (uint32_t l = 0; l < LAYERS; l++) {
		for (uint32_t kv = 0; kv < 2; kv++) {
			struct accel_tensor t;
			int ret = accel_seq_tensor(x->s, l, kv, &t);

			if (ret)
				return ret;
			for (uint32_t h = 0; h < KV_HEADS; h++) {
				uint8_t *p = (uint8_t *)(uintptr_t)t.base +
					     tok * t.token_stride +
					     h * t.head_stride;
				float *c = copy_at(x, l, kv, tok, h);

				for (uint32_t i = 0; i < HEAD_DIM; i++) {
					float f = kv_value(n, l, kv, tok, h, i);
					uint16_t hf = attn_f32_to_f16(f);

					c[i] = f;
					if (t.dtype == ACCEL_DTYPE_F32)
						memcpy(p + 4 * i, &f, 4);
					else
						memcpy(p + 2 * i, &hf, 2);
				}
			}
		}
	}
	return 0;
}

/* ----------------------------------------------------------- attention */

/*
 * The textbook formula over the private copy, written independently of
 * attention_ref: no strides, no max subtraction (|scores| <= 8 here).
 */
static void naive_attention(struct ex_seq *x, uint32_t l, const float *q,
			    float *out)
{
	double *w = malloc(x->tokens * sizeof(*w));

	if (!w) {
		memset(out, 0xff, Q_HEADS * HEAD_DIM * sizeof(*out)); /* NaN */
		return;
	}
	for (uint32_t h = 0; h < Q_HEADS; h++) {
		uint32_t g = h / (Q_HEADS / KV_HEADS);
		double sum = 0;

		for (uint64_t t = 0; t < x->tokens; t++) {
			const float *k = copy_at(x, l, 0, t, g);
			double dot = 0;

			for (uint32_t i = 0; i < HEAD_DIM; i++)
				dot += (double)q[h * HEAD_DIM + i] * k[i];
			w[t] = exp(dot / sqrt(HEAD_DIM));
			sum += w[t];
		}
		for (uint32_t i = 0; i < HEAD_DIM; i++) {
			double acc = 0;

			for (uint64_t t = 0; t < x->tokens; t++)
				acc += w[t] * copy_at(x, l, 1, t, g)[i];
			out[h * HEAD_DIM + i] = (float)(acc / sum);
		}
	}
	free(w);
}

/*
 * Attention of sequence n's next step over every layer, into out; with
 * check, against the naive one too. Returns the largest difference, or
 * -1 if the reference failed.
 */
static double run_attention(unsigned int n, struct ex_seq *x, float *out,
			    bool check)
{
	const struct attn_shape shape = { Q_HEADS, KV_HEADS, HEAD_DIM };
	float q[Q_HEADS * HEAD_DIM], ref[Q_HEADS * HEAD_DIM];
	double worst = 0;

	for (uint32_t l = 0; l < LAYERS; l++) {
		struct accel_tensor k, v;
		float *o = out + (size_t)l * Q_HEADS * HEAD_DIM;
		int ret;

		query(n, l, q);
		if (accel_seq_tensor(x->s, l, ACCEL_K, &k) ||
		    accel_seq_tensor(x->s, l, ACCEL_V, &v))
			return -1;
		ret = attention_ref(&shape, &k, &v, x->tokens, q, o);
		if (ret) {
			fprintf(stderr, "accel-example: attention_ref: %s\n",
				strerror(-ret));
			return -1;
		}
		if (!check)
			continue;
		naive_attention(x, l, q, ref);
		for (size_t i = 0; i < Q_HEADS * HEAD_DIM; i++) {
			double d = fabs((double)o[i] - ref[i]);

			if (!(d <= worst))	/* NaN too */
				worst = isnan(d) ? INFINITY : d;
		}
	}
	return worst;
}

/* ------------------------------------------------------------- engine */

static int make_seqs(struct accel_ctx *ctx)
{
	for (unsigned int n = 0; n < NSEQ; n++) {
		struct ex_seq *x = &seqs[n];
		struct accel_seq_opts so = { .user_data = x };
		int ret;

		x->g = (struct accel_geometry){
			.layers = LAYERS, .kv_heads = KV_HEADS,
			.head_dim = HEAD_DIM, .dtype = x->dtype,
			.max_tokens = MAX_TOKENS, .layout = x->layout,
		};
		x->copy = calloc((size_t)LAYERS * 2 * MAX_TOKENS * KV_HEADS *
				 HEAD_DIM, sizeof(float));
		x->out = calloc(out_floats, sizeof(float));
		if (!x->copy || !x->out)
			return -ENOMEM;
		ret = accel_seq_create(ctx, &x->g, &so, &x->s);
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * Decoding: one token a step for every sequence not at its length yet.
 * Each step grows the sequence by that token (with step-ahead on, the
 * pages are almost always mapped already) and writes its K and V.
 */
static int decode(void)
{
	uint64_t longest = 0;

	for (unsigned int n = 0; n < NSEQ; n++)
		if (seqs[n].tokens > longest)
			longest = seqs[n].tokens;
	for (uint64_t t = 0; t < longest; t++) {
		for (unsigned int n = 0; n < NSEQ; n++) {
			struct ex_seq *x = &seqs[n];
			int ret;

			if (t < accel_seq_tokens(x->s) || t >= x->tokens)
				continue;
			ret = accel_seq_grow(x->s, t + 1);
			if (ret < 0) {
				fprintf(stderr, "accel-example: grow %s to "
					"%llu tokens: %s\n", x->name,
					(unsigned long long)t + 1,
					strerror(-ret));
				return ret;
			}
			ret = write_token(n, x, t);
			if (ret)
				return ret;
			/* What the scheduler (kvmemd) sees of progress. */
			if ((t + 1) % 64 == 0 || t + 1 == x->tokens)
				accel_seq_set_progress(x->s, t + 1);
		}
	}
	return 0;
}

/*
 * Waits for `want` completions the way an event loop does: poll() on
 * accel_fd(), then take them. Adds up their bytes; returns how many
 * ended well.
 */
static int wait_completions(struct accel_ctx *ctx, int want, uint32_t op,
			    uint64_t *copied, uint64_t *reused)
{
	int got = 0, good = 0;

	while (got < want) {
		struct pollfd pfd = { .fd = accel_fd(ctx), .events = POLLIN };
		struct accel_completion c[NSEQ];
		int n;

		if (poll(&pfd, 1, SWAP_WAIT_MS) != 1) {
			fprintf(stderr, "accel-example: no completion within "
				"%d ms\n", SWAP_WAIT_MS);
			break;
		}
		n = accel_poll_completions(ctx, c, NSEQ);
		for (int i = 0; i < n; i++) {
			struct ex_seq *x = c[i].user_data;

			if (c[i].op == op && !c[i].status)
				good++;
			else
				fprintf(stderr, "accel-example: %s of %s: "
					"%s\n", c[i].op == ACCEL_OP_SWAP_OUT ?
					"swap-out" : "swap-in", x->name,
					strerror(-c[i].status));
			*copied += c[i].bytes_copied;
			*reused += c[i].bytes_reused;
		}
		got += n > 0 ? n : 0;
	}
	return good;
}

/* Bytes a round trip's swaps copied and did not copy (clean copies). */
struct trip {
	uint64_t out_copied, out_reused, in_copied, in_reused;
};

/* Swaps sequences 0 and 1 (one of each layout) out and back in. */
static bool swap_round_trip(struct accel_ctx *ctx, struct trip *tr)
{
	bool ok = true;

	memset(tr, 0, sizeof(*tr));
	for (unsigned int n = 0; n < 2; n++)
		ok &= accel_seq_swap_out(seqs[n].s) == 0;
	ok &= wait_completions(ctx, 2, ACCEL_OP_SWAP_OUT, &tr->out_copied,
			       &tr->out_reused) == 2;
	for (unsigned int n = 0; n < 2; n++)
		ok &= accel_seq_state(seqs[n].s) == ACCEL_SEQ_SWAPPED;
	for (unsigned int n = 0; n < 2; n++)
		ok &= accel_seq_swap_in(seqs[n].s) == 0;
	ok &= wait_completions(ctx, 2, ACCEL_OP_SWAP_IN, &tr->in_copied,
			       &tr->in_reused) == 2;
	for (unsigned int n = 0; n < 2; n++)
		ok &= accel_seq_state(seqs[n].s) == ACCEL_SEQ_RESIDENT;
	return ok;
}

/* ------------------------------------------------------------- report */

static const char *tier_name(uint32_t tier)
{
	switch (tier) {
	case ACCEL_TIER_HBM:
		return "hbm";
	case ACCEL_TIER_DRAM:
		return "dram";
	case ACCEL_TIER_CXL:
		return "cxl";
	default:
		return "none";
	}
}

static double kib(uint64_t bytes)
{
	return bytes / 1024.0;
}

/* Bytes of memory backing a sequence: mapped pages of each space. */
static uint64_t mapped_bytes(struct ex_seq *x, uint64_t ps)
{
	struct accel_tensor t;
	uint64_t spaces = x->layout == ACCEL_LAYOUT_PER_SEQ ? 1 : 2 * LAYERS;
	uint64_t tok = accel_seq_mapped_tokens(x->s);

	if (accel_seq_tensor(x->s, 0, ACCEL_K, &t))
		return 0;
	return (tok * t.token_stride + ps - 1) / ps * ps * spaces;
}

static void report_seqs(uint64_t ps)
{
	uint64_t total = 0;

	printf("sequences (%d layers, %d KV heads, %d query heads, head_dim "
	       "%d):\n", LAYERS, KV_HEADS, Q_HEADS, HEAD_DIM);
	for (unsigned int n = 0; n < NSEQ; n++) {
		struct ex_seq *x = &seqs[n];

		total += mapped_bytes(x, ps);
		printf("  %u  %s  %4llu tokens, %4llu mapped, %5.0f KiB "
		       "backed\n", n, x->name,
		       (unsigned long long)accel_seq_tokens(x->s),
		       (unsigned long long)accel_seq_mapped_tokens(x->s),
		       kib(mapped_bytes(x, ps)));
	}
	printf("  memory backed in all: %.0f KiB\n", kib(total));
}

static void report_stats(struct accel_ctx *ctx)
{
	struct accel_stats st;

	if (accel_stats(ctx, &st))
		return;
	printf("grows: %llu, blocked %llu (%.1f%%, %.2f ms in all); pages "
	       "mapped by grows %llu, ahead %llu\n",
	       (unsigned long long)st.grow_calls,
	       (unsigned long long)st.grow_blocked,
	       st.grow_calls ? 100.0 * st.grow_blocked / st.grow_calls : 0.0,
	       st.grow_blocked_ns / 1e6,
	       (unsigned long long)st.pages_mapped_sync,
	       (unsigned long long)st.pages_mapped_ahead);
	printf("swaps: %llu out, %llu in; %.0f KiB copied, %.0f KiB not "
	       "copied thanks to clean copies\n",
	       (unsigned long long)st.swaps_out,
	       (unsigned long long)st.swaps_in, kib(st.swap_bytes_copied),
	       kib(st.swap_bytes_reused));
}

/* ---------------------------------------------------------------- main */

static bool check_attention(const char *what)
{
	double worst = 0;
	bool ok = true;

	for (unsigned int n = 0; n < NSEQ; n++) {
		double d = run_attention(n, &seqs[n], seqs[n].out, true);

		if (d < 0 || d > TOLERANCE) {
			printf("  sequence %u: attention differs from the "
			       "naive one by %g\n", n, d);
			ok = false;
		}
		if (d > worst)
			worst = d;
	}
	printf("attention %s: %d sequences x %d layers, reference vs naive "
	       "max |diff| %.3g (limit %g): %s\n", what, NSEQ, LAYERS, worst,
	       TOLERANCE, ok ? "ok" : "MISMATCH");
	return ok;
}

/* Attention again over every sequence: bit for bit what it was. */
static bool check_same(void)
{
	float *again = malloc(out_floats * sizeof(*again));
	bool ok = again != NULL;

	for (unsigned int n = 0; ok && n < NSEQ; n++)
		ok = run_attention(n, &seqs[n], again, false) == 0 &&
		     !memcmp(again, seqs[n].out, out_floats * sizeof(*again));
	free(again);
	printf("attention after the swap round trip equals the result "
	       "before: %s\n", ok ? "ok" : "MISMATCH");
	return ok;
}

/*
 * Swaps sequences 0 and 1 out and in, and checks that attention over
 * every sequence is what it was before.
 */
static bool trip_and_check(struct accel_ctx *ctx, const char *what,
			   const char *swap_tier)
{
	struct trip tr;

	if (!swap_round_trip(ctx, &tr)) {
		printf("swap round trip %s: FAILED\n", what);
		return false;
	}
	printf("swap round trip %s of sequences 0 and 1 (to %s and back):\n"
	       "  out: %.0f KiB copied, %.0f KiB reused; in: %.0f KiB copied, "
	       "%.0f KiB reused\n", what, swap_tier, kib(tr.out_copied),
	       kib(tr.out_reused), kib(tr.in_copied), kib(tr.in_reused));
	return check_same();
}

static int run(const char *device)
{
	struct accel_open_opts o;
	struct accel_ctx *ctx = NULL;
	struct accel_info info;
	bool ok;
	int ret;

	accel_open_opts_init(&o);
	o.device = device;
	o.step_ahead = 16;	/* 16 decoding steps mapped ahead */
	o.tokens_per_step = 1;
	ret = accel_open(&o, &ctx);
	if (ret) {
		fprintf(stderr, "accel-example: accel_open: %s%s\n",
			strerror(-ret), ret == -ENOENT ?
			" (is the kvmem module loaded?)" : "");
		return 1;
	}
	accel_info(ctx, &info);
	printf("accel-example: libaccel %d.%d, %s backend, kvmem ABI %u, "
	       "page %llu KiB, tier %s, swap tier %s\n", ACCEL_VERSION_MAJOR,
	       ACCEL_VERSION_MINOR, accel_backend_name(info.backend),
	       info.abi_version, (unsigned long long)info.page_size / 1024,
	       tier_name(info.tier), tier_name(info.swap_tier));
	ret = make_seqs(ctx);
	if (!ret)
		ret = decode();
	if (ret)
		goto fail;
	report_seqs(info.page_size);
	ok = check_attention("after decoding");
	ok &= trip_and_check(ctx, "1", tier_name(info.swap_tier));
	for (unsigned int n = 0; n < NSEQ; n++)
		seqs[n].tokens += MORE_TOKENS;
	ret = decode();
	if (ret)
		goto fail;
	printf("every sequence decoded %d tokens more\n", MORE_TOKENS);
	ok &= check_attention("after them");
	ok &= trip_and_check(ctx, "2", tier_name(info.swap_tier));
	report_stats(ctx);
	for (unsigned int n = 0; n < NSEQ; n++)
		accel_seq_destroy(seqs[n].s);
	accel_close(ctx);
	printf("accel-example: %s\n", ok ? "PASS" : "FAIL");
	return ok ? 0 : 1;
fail:
	fprintf(stderr, "accel-example: %s\n", strerror(-ret));
	accel_close(ctx);
	return 1;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "device", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *device = NULL;
	int c, ret;

	while ((c = getopt_long(argc, argv, "d:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			device = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	ret = run(device);
	for (unsigned int n = 0; n < NSEQ; n++) {
		free(seqs[n].copy);
		free(seqs[n].out);
	}
	return ret;
}
