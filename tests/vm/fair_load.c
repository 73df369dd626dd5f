// SPDX-License-Identifier: GPL-2.0
/*
 * The engines of the three-tenant workload (see fair_load.h). One context
 * per tenant: each engine process opens a context per tenant it serves.
 */
#include <errno.h>
#include <time.h>
#include <unistd.h>

#include "accel.h"
#include "fair_load.h"

const uint32_t fair_weight[FAIR_NT] = { 1, 2, 4 };

/*
 * Per sequence, 128 bytes a token for each of sh->kv_heads (one: 512
 * tokens a 64 KiB page, 16 pages), 8192 tokens at most: a full sequence
 * ends its turn and a new one starts (a new conversation).
 */
static struct accel_geometry fair_geo = {
	.layers = 1, .kv_heads = 1, .head_dim = 32, .dtype = ACCEL_DTYPE_F16,
	.max_tokens = 512 * 16, .layout = ACCEL_LAYOUT_PER_SEQ,
};

struct fair_eng {
	struct accel_ctx *ctx;
	struct accel_seq *seq;
	uint8_t *base;
	uint64_t stride;
	uint32_t t;		/* index 0..2 */
	bool ran;		/* ran at the last look */
	bool swapped;		/* FAIR_LOCAL: swapped out by the engine */
	uint64_t arrived;	/* FAIR_LOCAL: when its turn started */
};

double fair_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void fair_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static uint64_t fair_word(uint32_t t, uint64_t token, uint64_t i)
{
	return ((uint64_t)t << 56) ^ (token * 0x9e3779b97f4a7c15ULL) ^ i;
}

static void fair_write(struct fair_eng *e, uint64_t from, uint64_t to)
{
	for (uint64_t k = from; k < to; k++) {
		uint64_t *w = (uint64_t *)(e->base + k * e->stride);

		for (uint64_t i = 0; i < e->stride / 8; i++)
			w[i] = fair_word(e->t, k, i);
	}
}

/* Checks the first n tokens; counts them and the bytes found wrong. */
static void fair_check(struct fair_shared *sh, struct fair_eng *e, uint64_t n)
{
	uint64_t bad = 0;

	for (uint64_t k = 0; k < n; k++) {
		const uint64_t *w = (const uint64_t *)(e->base + k * e->stride);

		for (uint64_t i = 0; i < e->stride / 8; i++)
			if (w[i] != fair_word(e->t, k, i))
				bad += 8;
	}
	sh->checked[e->t] += n * e->stride;
	sh->bad[e->t] += bad;
}

static void fair_err(struct fair_shared *sh, uint32_t t, int err)
{
	__atomic_add_fetch(&sh->errs[t], 1, __ATOMIC_RELAXED);
	sh->lasterr[t] = err;
}

/* A new sequence for x (the old one, if any, destroyed). */
static int fair_seq(struct fair_eng *x, uint64_t *arrivals)
{
	struct accel_tensor ten;
	int r;

	accel_seq_destroy(x->seq);
	x->seq = NULL;
	x->swapped = false;
	x->arrived = ++*arrivals;
	r = accel_seq_create(x->ctx, &fair_geo, NULL, &x->seq);
	if (!r)
		r = accel_seq_tensor(x->seq, 0, ACCEL_K, &ten);
	if (r)
		return r;
	x->base = (uint8_t *)(uintptr_t)ten.base;
	x->stride = ten.token_stride;
	return 0;
}

/* FAIR_LOCAL: a synchronous swap of x, out or in; its status. */
static int fair_swap(struct fair_eng *x, bool out)
{
	int r = out ? accel_seq_swap_out(x->seq) : accel_seq_swap_in(x->seq);

	if (!r)
		r = accel_seq_wait(x->seq, -1);
	return r;
}

/* FAIR_LOCAL: out of room: swap out the newest resident sequence. */
static void fair_preempt(struct fair_shared *sh, struct fair_eng *e,
			 uint32_t n)
{
	struct fair_eng *v = NULL;
	int r;

	for (uint32_t i = 0; i < n; i++)
		if (!e[i].swapped && (!v || e[i].arrived > v->arrived))
			v = &e[i];
	if (!v || !accel_seq_tokens(v->seq))
		return;		/* nothing of ours to give back */
	r = fair_swap(v, true);
	if (r == 0) {
		v->swapped = true;
		sh->preempts[v->t]++;
	} else if (r != -ENOMEM && r != -EBUSY) {
		fair_err(sh, v->t, r);
	}
}

/* FAIR_LOCAL: bring back the oldest swapped sequence if there is room. */
static void fair_resume(struct fair_shared *sh, struct fair_eng *e,
			uint32_t n)
{
	struct fair_eng *x = NULL;
	int r;

	for (uint32_t i = 0; i < n; i++)
		if (e[i].swapped && (!x || e[i].arrived < x->arrived))
			x = &e[i];
	if (!x)
		return;
	r = fair_swap(x, false);
	if (r == 0) {
		x->swapped = false;
		sh->resumes[x->t]++;
		fair_check(sh, x, accel_seq_tokens(x->seq));
	} else if (r != -ENOMEM && r != -EBUSY && r != -ETIMEDOUT) {
		fair_err(sh, x->t, r);
	}
}

/* Whether x may take a step now; FAIR_FOLLOW reports demand. */
static bool fair_may_step(struct fair_shared *sh, struct fair_eng *x,
			  enum fair_mode mode)
{
	if (mode == FAIR_LOCAL)
		return !x->swapped;
	if (mode == FAIR_IGNORE)
		return true;
	if (!accel_seq_may_run(x->seq)) {
		if (x->ran)
			sh->preempts[x->t]++;
		x->ran = false;
		accel_seq_set_demand(x->seq, ACCEL_DEMAND_WAITING);
		return false;
	}
	if (!x->ran) {
		sh->resumes[x->t]++;
		fair_check(sh, x, accel_seq_tokens(x->seq));
		x->ran = true;
	}
	accel_seq_set_demand(x->seq, ACCEL_DEMAND_RUNNING);
	return true;
}

static void fair_served(struct fair_shared *sh, uint32_t t)
{
	int w = (int)((fair_now_ms() - sh->t0) / sh->win_ms);

	sh->tokens[t] += FAIR_STEP;
	if (w >= 0 && w <= (int)sh->nwin && w <= FAIR_NWIN_MAX)
		sh->win[t][w] += FAIR_STEP;
}

/* One step of x; false when it could not grow. */
static bool fair_step(struct fair_shared *sh, struct fair_eng *x,
		      enum fair_mode mode, uint64_t *arrivals)
{
	uint64_t have = accel_seq_tokens(x->seq), to = have + FAIR_STEP;
	int r;

	if (to > fair_geo.max_tokens) {
		/* Full: check it, end the turn, start anew. */
		fair_check(sh, x, have);
		if (fair_seq(x, arrivals))
			fair_err(sh, x->t, -EIO);
		sh->turns[x->t]++;
		return true;
	}
	r = accel_seq_grow(x->seq, to);
	if (r < 0) {
		if (r != -ETIMEDOUT && r != -ENOMEM && r != -EBUSY)
			fair_err(sh, x->t, r);
		if (mode == FAIR_FOLLOW)
			accel_seq_set_demand(x->seq, ACCEL_DEMAND_WAITING);
		return false;
	}
	fair_write(x, have, to);
	r = accel_seq_set_progress(x->seq, to);
	if (r)
		fair_err(sh, x->t, r);
	fair_served(sh, x->t);
	return true;
}

void fair_engine(struct fair_shared *sh, uint32_t first, uint32_t n,
		 enum fair_mode mode)
{
	struct fair_eng e[FAIR_NT];
	uint64_t arrivals = 0;

	if (n > FAIR_NT || first + n > FAIR_NT)
		_exit(2);
	if (sh->kv_heads)
		fair_geo.kv_heads = sh->kv_heads;
	for (uint32_t i = 0; i < n; i++) {
		struct accel_open_opts o;

		accel_open_opts_init(&o);
		o.backend = ACCEL_BACKEND_HOST;
		o.tenant = FAIR_T0 + first + i;
		/* An engine that preempts by itself must know at once. */
		o.wait_ms = mode == FAIR_LOCAL ? 0 : 200;
		o.flags = ACCEL_OPEN_NO_KEEP;
		e[i].t = first + i;
		e[i].ran = true;
		e[i].seq = NULL;
		if (accel_open(&o, &e[i].ctx) || fair_seq(&e[i], &arrivals))
			_exit(2);
	}
	__atomic_add_fetch(&sh->ready, 1, __ATOMIC_SEQ_CST);
	while (!sh->stop) {
		if (mode == FAIR_LOCAL)
			fair_resume(sh, e, n);
		for (uint32_t i = 0; i < n; i++) {
			struct fair_eng *x = &e[i];

			if (fair_may_step(sh, x, mode) &&
			    !fair_step(sh, x, mode, &arrivals) &&
			    mode == FAIR_LOCAL)
				fair_preempt(sh, e, n);
		}
		fair_sleep_ms(2);
	}
	/*
	 * A last check of everything: the resident first, whose memory then
	 * lets the swapped come back (other engines free theirs too).
	 */
	for (int pass = 0; pass < 2; pass++) {
		for (uint32_t i = 0; i < n; i++) {
			struct fair_eng *x = &e[i];
			double until = fair_now_ms() + 10000;
			int r = 0;

			if (x->swapped != (pass == 1))
				continue;
			while (x->swapped) {
				r = fair_swap(x, false);
				if (!r)
					x->swapped = false;
				else if (fair_now_ms() < until)
					fair_sleep_ms(20);
				else
					break;
			}
			if (r)
				fair_err(sh, x->t, r);
			else
				fair_check(sh, x, accel_seq_tokens(x->seq));
			accel_seq_destroy(x->seq);
			accel_close(x->ctx);
		}
	}
	_exit(0);
}

pid_t fair_kvmemd(const char *bin, const char *sock, const char *conf)
{
	pid_t pid = fork();

	if (pid == 0) {
		execl(bin, "kvmemd", "-s", sock, "-m", "off", "-i", "10",
		      "--weight", "21=1", "--weight", "22=2", "--weight",
		      "23=4", "-c", conf, (char *)NULL);
		_exit(127);
	}
	return pid;
}

double fair_jain(const uint64_t *tokens)
{
	double s = 0, s2 = 0;

	for (int i = 0; i < FAIR_NT; i++) {
		double x = (double)tokens[i] / fair_weight[i];

		s += x;
		s2 += x * x;
	}
	return s2 > 0 ? s * s / (FAIR_NT * s2) : 0;
}
