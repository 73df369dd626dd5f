/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A scripted world for the policy: a clock, a fast tier with a copy
 * engine of known bandwidth, and engines that serve one output token per
 * step from every resident, runnable sequence. The policy's decisions are
 * carried out as the daemon would (a switch ends after bytes/bandwidth).
 * Shared by the policy tests and the benchmark.
 */
#ifndef KVMEMD_SIM_H
#define KVMEMD_SIM_H

#include <stdlib.h>
#include <string.h>

#include "policy.h"	/* -Idaemon */

#define SIM_MAXSEQ 1024
#define SIM_MAXSW 4096

struct sim_switch {
	uint64_t seq, cookie, bytes, start, done;
};

struct sim {
	struct pol p;
	uint64_t now;
	double bw;			/* the copy engine's bytes/s */
	uint64_t ids[SIM_MAXSEQ];	/* sequences the engines serve */
	size_t nids;
	struct sim_switch sw[SIM_MAXSW];
	size_t nsw;
	uint64_t switched_in[SIM_MAXSEQ];	/* last swap-in issue time */
};

static inline void sim_init(struct sim *w, const struct pol_config *c,
			    uint64_t capacity)
{
	memset(w, 0, sizeof(*w));
	if (pol_init(&w->p, c))
		abort();
	pol_pool(&w->p, capacity, 0);
	w->bw = c->bw_default;
}

static inline void sim_add(struct sim *w, uint64_t id, uint32_t tenant,
			   uint64_t bytes, int tier)
{
	if (w->nids == SIM_MAXSEQ || pol_seq_add(&w->p, id, tenant, bytes,
						 tier, false))
		abort();
	w->ids[w->nids++] = id;
}

/* Carries out queued decisions: a move starts now, ends after its bytes. */
static inline void sim_apply(struct sim *w)
{
	struct pol_decision d[64];
	size_t n;

	while ((n = pol_take(&w->p, d, 64)) > 0) {
		for (size_t i = 0; i < n; i++) {
			uint64_t ns;

			if (d[i].kind != POL_MIGRATE)
				continue;
			if (w->nsw == SIM_MAXSW)
				abort();
			ns = (uint64_t)((double)d[i].bytes * 1e9 / w->bw) + 1;
			w->sw[w->nsw++] = (struct sim_switch){
				.seq = d[i].seq, .cookie = d[i].cookie,
				.bytes = d[i].bytes, .start = w->now,
				.done = w->now + ns,
			};
		}
	}
}

/* One step of @dt ns: switches due end, engines serve, the policy acts. */
static inline void sim_step(struct sim *w, uint64_t dt)
{
	w->now += dt;
	for (size_t i = 0; i < w->nsw;) {
		struct sim_switch *s = &w->sw[i];

		if (s->done <= w->now) {
			pol_switch_done(&w->p, s->seq, s->cookie, true,
					s->bytes, s->done - s->start);
			*s = w->sw[--w->nsw];
		} else {
			i++;
		}
	}
	for (size_t i = 0; i < w->nids; i++) {
		struct pol_seq *s = pol_seq_get(&w->p, w->ids[i]);

		if (s && s->at == POL_AT_FAST && s->run == POL_RUN_RUNNABLE &&
		    s->demand != POL_DEMAND_IDLE)
			pol_seq_tokens(&w->p, s->id, 0, 1, s->bytes);
	}
	pol_tick(&w->p, w->now);
	pol_decide(&w->p, w->now);
	sim_apply(w);
}

/* Jain's fairness index of x[0..n-1]: 1 when all equal, 1/n at worst. */
static inline double jain(const double *x, size_t n)
{
	double s = 0, s2 = 0;

	for (size_t i = 0; i < n; i++) {
		s += x[i];
		s2 += x[i] * x[i];
	}
	return s2 > 0 ? s * s / ((double)n * s2) : 0;
}

#endif /* KVMEMD_SIM_H */
