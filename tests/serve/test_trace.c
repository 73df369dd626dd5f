// SPDX-License-Identifier: GPL-2.0
/*
 * The serving benchmark's trace generator (tools/serve/trace.c): the same
 * seed gives the same trace, another seed another one; the distributions
 * have the means and shapes serving-bench.md states; priorities change
 * only at updates, Markov ones by one level, Random ones uniformly.
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "../../tools/serve/trace.h"
#include "../unit/unit.h"

#define NCONV 20000

static struct trace gen(uint64_t seed, uint32_t pattern)
{
	struct trace_params p;
	struct trace t;

	trace_params_default(&p);
	p.seed = seed;
	p.conversations = NCONV;
	p.prio_pattern = pattern;
	CHECK_EQ(trace_generate(&p, 2000.0, &t), 0);
	return t;
}

static int same(const struct trace *a, const struct trace *b)
{
	if (a->nupdates != b->nupdates ||
	    memcmp(a->update_s, b->update_s, a->nupdates * sizeof(double)))
		return 0;
	for (uint32_t c = 0; c < a->p.conversations; c++)
		if (memcmp(&a->conv[c], &b->conv[c], sizeof(a->conv[c])))
			return 0;
	return 1;
}

static void deterministic(void)
{
	struct trace a = gen(7, TRACE_PRIO_MARKOV), b = gen(7, TRACE_PRIO_MARKOV);
	struct trace c = gen(8, TRACE_PRIO_MARKOV);
	uint32_t ca[2] = { 0 }, cb[2] = { 0 };

	CHECK(same(&a, &b));
	CHECK(!same(&a, &c));
	for (uint32_t e = 0; e < 50; e++) {
		CHECK_EQ(trace_priority(&a, 3, e, ca), trace_priority(&b, 3, e, NULL));
		CHECK_EQ(trace_priority(&a, 3, e, NULL), trace_priority(&b, 3, e, cb));
	}
	trace_free(&a);
	trace_free(&b);
	trace_free(&c);
}

/* A conversation's draws do not depend on how many others there are. */
static void prefix_stable(void)
{
	struct trace_params p;
	struct trace a, b;

	trace_params_default(&p);
	p.conversations = 10;
	CHECK_EQ(trace_generate(&p, 10, &a), 0);
	p.conversations = 100;
	CHECK_EQ(trace_generate(&p, 10, &b), 0);
	for (int c = 0; c < 10; c++)
		CHECK(!memcmp(&a.conv[c], &b.conv[c], sizeof(a.conv[c])));
	trace_free(&a);
	trace_free(&b);
}

/* Mean of the lognormal clipped to [1, max] (numerically). */
static double clipped_mean(double mean, double sigma, double max)
{
	double mu = log(mean) - sigma * sigma / 2, s = 0, n = 0;

	for (double z = -8; z <= 8; z += 0.001) {
		double w = exp(-z * z / 2), x = exp(mu + sigma * z);

		x = x < 1 ? 1 : x > max ? max : x;
		s += w * x;
		n += w;
	}
	return s / n;
}

static void distributions(void)
{
	struct trace t = gen(11, TRACE_PRIO_RANDOM);
	double turns = 0, pr = 0, out = 0, gap = 0, gap2 = 0, think = 0;
	double nth = 0, share[TRACE_MAX_TENANTS] = { 0 }, prev = 0, med[2];
	uint64_t nt = 0, below[2] = { 0 };

	for (uint32_t c = 0; c < NCONV; c++) {
		const struct trace_conv *cv = &t.conv[c];
		double g = cv->arrival_s - prev;

		prev = cv->arrival_s;
		gap += g;
		gap2 += g * g;
		turns += cv->nturns;
		share[cv->tenant]++;
		CHECK(cv->nturns >= 1 && cv->nturns <= t.p.max_turns);
		for (uint32_t k = 0; k < cv->nturns; k++) {
			pr += cv->turn[k].prompt;
			out += cv->turn[k].output;
			nt++;
			CHECK(cv->turn[k].prompt >= 1 &&
			      cv->turn[k].prompt <= t.p.prompt_max);
			below[0] += cv->turn[k].prompt <= 161 * exp(-0.5);
			below[1] += cv->turn[k].output <= 338 * exp(-0.9 * 0.9 / 2);
			if (k) {
				think += cv->turn[k].think_s;
				nth++;
			} else {
				CHECK(cv->turn[k].think_s == 0);
			}
		}
	}
	turns /= NCONV;
	/* 1 + geometric, capped at 32: the cap takes 0.3 % off the mean. */
	fprintf(stderr, "  turns %.3f prompt %.1f output %.1f gap %.3f think %.2f\n",
		turns, pr / nt, out / nt, gap / NCONV, think / nth);
	CHECK(fabs(turns - 5.5) < 0.12);
	CHECK(fabs(pr / nt - clipped_mean(161, 1.0, 2048)) < 0.04 * 161);
	CHECK(fabs(out / nt - clipped_mean(338, 0.9, 2048)) < 0.04 * 338);
	/* Lognormal medians: exp(mu) = mean * exp(-sigma^2 / 2). */
	med[0] = (double)below[0] / nt;
	med[1] = (double)below[1] / nt;
	CHECK(fabs(med[0] - 0.5) < 0.02 && fabs(med[1] - 0.5) < 0.02);
	/* Poisson: exponential gaps, mean 1/rate, coefficient of variation 1. */
	gap /= NCONV;
	CHECK(fabs(gap - 1.0) < 0.03);
	CHECK(fabs(sqrt(gap2 / NCONV - gap * gap) / gap - 1.0) < 0.05);
	CHECK(fabs(think / nth - 10.0) < 0.3);
	for (int i = 0; i < 3; i++)
		CHECK(fabs(share[i] / NCONV - 1.0 / 3) < 0.015);
	/* Updates: a fraction prio_freq of the 80,000 nominal steps. */
	CHECK(fabs((double)t.nupdates / 80000 - 0.04) < 0.004);
	for (uint32_t i = 1; i < t.nupdates; i++)
		CHECK(t.update_s[i] > t.update_s[i - 1]);
	CHECK_EQ(trace_epoch_at(&t, 0), 0);
	CHECK_EQ(trace_epoch_at(&t, t.update_s[0]), 1);
	CHECK_EQ(trace_epoch_at(&t, 1e9), t.nupdates);
	trace_free(&t);
}

static void priorities(void)
{
	struct trace r = gen(5, TRACE_PRIO_RANDOM), m = gen(5, TRACE_PRIO_MARKOV);
	uint64_t hist[4] = { 0 }, moved = 0, n = 0;

	for (uint32_t c = 0; c < 500; c++) {
		uint32_t cache[2] = { 0 }, prev = trace_priority(&m, c, 0, cache);

		for (uint32_t e = 0; e < 400; e++) {
			uint32_t p = trace_priority(&r, c, e, NULL);
			uint32_t q = trace_priority(&m, c, e + 1, cache);

			CHECK(p < 4);
			hist[p]++;
			CHECK(q < 4 && (q == prev || q + 1 == prev || q == prev + 1));
			moved += q != prev;
			n++;
			prev = q;
		}
		/* The memo gives what a fresh walk gives. */
		CHECK_EQ(prev, trace_priority(&m, c, 400, NULL));
	}
	for (int i = 0; i < 4; i++)
		CHECK(fabs((double)hist[i] / n - 0.25) < 0.01);
	/* Markov: moves half the time (a reflection at an end still moves). */
	CHECK(fabs((double)moved / n - 0.5) < 0.01);
	trace_free(&r);
	trace_free(&m);
}

static void bad_params(void)
{
	struct trace_params p;
	struct trace t;

	trace_params_default(&p);
	p.mean_turns = 0.5;
	CHECK_EQ(trace_generate(&p, 1, &t), -EINVAL);
	trace_params_default(&p);
	p.tenants = TRACE_MAX_TENANTS + 1;
	CHECK_EQ(trace_generate(&p, 1, &t), -EINVAL);
	trace_params_default(&p);
	p.prio_freq = 1.5;
	CHECK_EQ(trace_generate(&p, 1, &t), -EINVAL);
	trace_params_default(&p);
	p.weight[1] = 0;
	CHECK_EQ(trace_generate(&p, 1, &t), -EINVAL);
	trace_params_default(&p);
	p.max_turns = TRACE_MAX_TURNS + 1;
	CHECK_EQ(trace_generate(&p, 1, &t), -EINVAL);
}

static const struct unit_case cases[] = {
	UNIT_CASE(deterministic),
	UNIT_CASE(prefix_stable),
	UNIT_CASE(distributions),
	UNIT_CASE(priorities),
	UNIT_CASE(bad_params),
};

UNIT_MAIN("serve_trace", cases)
