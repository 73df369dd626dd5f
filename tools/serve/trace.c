// SPDX-License-Identifier: GPL-2.0
/*
 * The serving benchmark's trace generator (trace.h). Figures and their
 * sources are in Documentation/serving-bench.md.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "trace.h"

void trace_params_default(struct trace_params *p)
{
	memset(p, 0, sizeof(*p));
	p->seed = 1;
	p->conversations = 1000;	/* FastSwitch */
	p->rate = 1.0;			/* FastSwitch: 1 request/s */
	p->mean_turns = 5.5;		/* FastSwitch: mean 5.5 turns */
	p->max_turns = 32;
	/* ShareGPT means (vLLM, Kwon et al. SOSP'23): input 161, output
	 * 338 tokens; the shapes are this benchmark's assumption. */
	p->prompt_mean = 161;
	p->prompt_sigma = 1.0;
	p->output_mean = 338;
	p->output_sigma = 0.9;
	p->len_scale = 1.0;
	p->prompt_max = 2048;
	p->output_max = 2048;
	p->think_mean_s = 10.0;		/* assumption: not in FastSwitch */
	p->tenants = 3;
	for (int i = 0; i < 3; i++) {
		p->weight[i] = (double)(1 << i);	/* 1:2:4 */
		p->share[i] = 1.0;
	}
	p->prio_pattern = TRACE_PRIO_RANDOM;
	p->prio_levels = 4;
	p->prio_freq = 0.04;		/* FastSwitch: 0.04 (8B), 0.02 (32B) */
	p->step_s = 0.025;
}

/* splitmix64's finaliser over a mix of the key. */
static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

uint64_t trace_rand64(uint64_t seed, uint64_t stream, uint64_t index)
{
	uint64_t z = mix64(seed + 0x9e3779b97f4a7c15ULL);

	z = mix64(z ^ (stream * 0xd1b54a32d192ed03ULL));
	return mix64(z ^ (index * 0x9e3779b97f4a7c15ULL + 0x632be59bd9b4e019ULL));
}

double trace_rand01(uint64_t seed, uint64_t stream, uint64_t index)
{
	return ((double)(trace_rand64(seed, stream, index) >> 11) + 0.5) *
	       0x1.0p-53;
}

/* Standard normal (Box-Muller) from two draws of the stream. */
static double rnorm(uint64_t seed, uint64_t stream, uint64_t index)
{
	double u1 = trace_rand01(seed, stream, 2 * index);
	double u2 = trace_rand01(seed, stream, 2 * index + 1);

	return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

static uint32_t lognormal_len(const struct trace_params *p, double mean,
			      double sigma, uint32_t max, uint64_t stream,
			      uint64_t index)
{
	double mu = log(mean) - sigma * sigma / 2;
	double x = exp(mu + sigma * rnorm(p->seed, stream, index)) *
		   p->len_scale;

	if (x < 1)
		x = 1;
	if (x > max)
		x = max;
	return (uint32_t)llround(x);
}

static int params_ok(const struct trace_params *p)
{
	double sh = 0;

	if (!p->conversations || !(p->rate > 0) || !(p->mean_turns >= 1) ||
	    !p->max_turns || p->max_turns > TRACE_MAX_TURNS ||
	    !(p->prompt_mean >= 1) || !(p->output_mean >= 1) ||
	    !(p->prompt_sigma >= 0) || !(p->output_sigma >= 0) ||
	    !(p->len_scale > 0) || !p->prompt_max || !p->output_max ||
	    !(p->think_mean_s >= 0) || !p->tenants ||
	    p->tenants > TRACE_MAX_TENANTS || !p->prio_levels ||
	    !(p->prio_freq >= 0 && p->prio_freq <= 1) || !(p->step_s > 0) ||
	    p->prio_pattern > TRACE_PRIO_MARKOV)
		return 0;
	for (uint32_t i = 0; i < p->tenants; i++) {
		if (!(p->weight[i] > 0) || !(p->share[i] >= 0))
			return 0;
		sh += p->share[i];
	}
	return sh > 0;
}

int trace_generate(const struct trace_params *p, double horizon_s,
		   struct trace *t)
{
	double at = 0, sh = 0, q;
	uint64_t nsteps, cap = 64;

	memset(t, 0, sizeof(*t));
	if (!params_ok(p) || !(horizon_s >= 0))
		return -EINVAL;
	t->p = *p;
	t->conv = calloc(p->conversations, sizeof(*t->conv));
	if (!t->conv)
		return -ENOMEM;
	for (uint32_t i = 0; i < p->tenants; i++)
		sh += p->share[i];
	/* Turns: 1 + geometric with mean mean_turns - 1 (success q). */
	q = 1.0 / p->mean_turns;
	for (uint32_t c = 0; c < p->conversations; c++) {
		struct trace_conv *cv = &t->conv[c];
		double u = trace_rand01(p->seed, TRACE_S_TENANT, c) * sh, acc = 0;
		uint32_t n;

		cv->id = c;
		at += -log(trace_rand01(p->seed, TRACE_S_ARRIVAL, c)) / p->rate;
		cv->arrival_s = at;
		cv->tenant = p->tenants - 1;
		for (uint32_t i = 0; i < p->tenants; i++) {
			acc += p->share[i];
			if (u < acc) {
				cv->tenant = i;
				break;
			}
		}
		if (q >= 1)
			n = 1;
		else
			n = 1 + (uint32_t)floor(log(trace_rand01(p->seed,
					TRACE_S_TURNS, c)) / log(1 - q));
		if (n > p->max_turns)
			n = p->max_turns;
		cv->nturns = n;
		for (uint32_t k = 0; k < n; k++) {
			uint64_t idx = (uint64_t)c * TRACE_MAX_TURNS + k;
			struct trace_turn *tu = &cv->turn[k];

			tu->prompt = lognormal_len(p, p->prompt_mean,
						   p->prompt_sigma, p->prompt_max,
						   TRACE_S_PROMPT, idx);
			tu->output = lognormal_len(p, p->output_mean,
						   p->output_sigma, p->output_max,
						   TRACE_S_OUTPUT, idx);
			tu->think_s = k == 0 ? 0 : -log(trace_rand01(p->seed,
					TRACE_S_THINK, idx)) * p->think_mean_s;
			cv->total_tokens += tu->prompt + tu->output;
		}
	}
	/* Priority updates: each nominal step, with probability prio_freq. */
	nsteps = (uint64_t)ceil(horizon_s / p->step_s);
	t->update_s = malloc(cap * sizeof(double));
	if (!t->update_s) {
		trace_free(t);
		return -ENOMEM;
	}
	for (uint64_t s = 1; s <= nsteps; s++) {
		if (trace_rand01(p->seed, TRACE_S_UPDATE, s) >= p->prio_freq)
			continue;
		if (t->nupdates == cap) {
			double *n = realloc(t->update_s, 2 * cap * sizeof(double));

			if (!n) {
				trace_free(t);
				return -ENOMEM;
			}
			t->update_s = n;
			cap *= 2;
		}
		t->update_s[t->nupdates++] = (double)s * p->step_s;
	}
	t->horizon_s = horizon_s;
	return 0;
}

void trace_free(struct trace *t)
{
	free(t->conv);
	free(t->update_s);
	memset(t, 0, sizeof(*t));
}

static uint32_t prio_draw(const struct trace *t, uint32_t conv, uint32_t e)
{
	return (uint32_t)(trace_rand64(t->p.seed, TRACE_S_PRIO,
				       (uint64_t)conv << 32 | e) %
			  t->p.prio_levels);
}

uint32_t trace_priority(const struct trace *t, uint32_t conv, uint32_t epoch,
			uint32_t cache[2])
{
	uint32_t e = 0, lv, L = t->p.prio_levels;

	if (t->p.prio_pattern == TRACE_PRIO_RANDOM || L == 1)
		return prio_draw(t, conv, epoch);
	/* Markov: start at a uniform level; each update stays with
	 * probability 1/2, else moves one level up or down (reflecting). */
	lv = prio_draw(t, conv, 0);
	if (cache && cache[0] && cache[0] <= epoch) {
		e = cache[0];
		lv = cache[1];
	}
	for (; e < epoch; e++) {
		double u = trace_rand01(t->p.seed, TRACE_S_PRIO + 100,
					(uint64_t)conv << 32 | (e + 1));

		if (u < 0.25)
			lv = lv == 0 ? 1 : lv - 1;
		else if (u < 0.5)
			lv = lv == L - 1 ? L - 2 : lv + 1;
	}
	if (cache) {
		cache[0] = epoch;
		cache[1] = lv;
	}
	return lv;
}

uint32_t trace_epoch_at(const struct trace *t, double s)
{
	uint32_t lo = 0, hi = t->nupdates;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (t->update_s[mid] <= s)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}
