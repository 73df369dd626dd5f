// SPDX-License-Identifier: GPL-2.0
/*
 * The policy core under scripted traces (tests/daemon/sim.h): fairness,
 * banking, hysteresis, prefetch, victim choice, priorities, pressure,
 * restart, bad input and the cost of a decision at 10,000 sequences.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>

#include "../unit/unit.h"
#include "sim.h"

#define MIB (1ULL << 20)
#define MS 1000000ULL

static struct sim w;	/* large: not on the stack */

static void cfg_base(struct pol_config *c)
{
	pol_config_default(c);
	c->hysteresis = 16;
	c->min_resident_ns = 2 * MS;
	c->tokens_per_s = 1000;
	c->watermark = 0;	/* exact fits; headroom_learned tests it */
}

/* Three tenants 1:2:4, each with more work than the fast tier holds. */
static void weighted_shares_converge(void)
{
	struct pol_config c;
	double s0[3], x[3];

	cfg_base(&c);
	sim_init(&w, &c, 6 * MIB);
	for (uint32_t t = 0; t < 3; t++) {
		CHECK_EQ(pol_tenant_set(&w.p, t + 1, 1 << t, 0), 0);
		for (int i = 0; i < 8; i++)
			sim_add(&w, t * 100 + i, t + 1, MIB, POL_SLOW);
	}
	for (int i = 0; i < 5000; i++)
		sim_step(&w, MS);
	for (uint32_t t = 0; t < 3; t++)
		s0[t] = pol_tenant_get(&w.p, t + 1)->service;
	for (int i = 0; i < 20000; i++)
		sim_step(&w, MS);
	for (uint32_t t = 0; t < 3; t++) {
		struct pol_tenant *te = pol_tenant_get(&w.p, t + 1);

		x[t] = (te->service - s0[t]) / te->weight;
		CHECK(te->service > s0[t]);	/* nobody starves */
	}
	fprintf(stderr, "  weighted service %.0f %.0f %.0f, jain %.4f\n",
		x[0], x[1], x[2], jain(x, 3));
	CHECK(jain(x, 3) >= 0.99);
	CHECK(fabs(x[2] / x[0] - 1) < 0.05);
	pol_destroy(&w.p);
}

/* A tenant idle for a long time comes back at the others' counter. */
static void idle_tenant_cannot_bank(void)
{
	struct pol_config c;
	struct pol_tenant *a, *b;
	double a0, b0;

	cfg_base(&c);
	sim_init(&w, &c, MIB);
	pol_tenant_set(&w.p, 1, 1, 0);
	pol_tenant_set(&w.p, 2, 1, 0);
	sim_add(&w, 1, 1, MIB, POL_SLOW);
	sim_add(&w, 2, 2, MIB, POL_SLOW);
	CHECK_EQ(pol_seq_demand(&w.p, 1, POL_DEMAND_IDLE), 0);
	for (int i = 0; i < 5000; i++)
		sim_step(&w, MS);
	a = pol_tenant_get(&w.p, 1);
	b = pol_tenant_get(&w.p, 2);
	CHECK(a->service == 0);
	CHECK(b->counter > 9000);
	pol_seq_demand(&w.p, 1, POL_DEMAND_WAITING);
	CHECK(a->counter == b->counter);	/* lifted, not 0 */
	a0 = a->service;
	b0 = b->service;
	for (int i = 0; i < 2000; i++)
		sim_step(&w, MS);
	fprintf(stderr, "  after return: a %.0f b %.0f\n", a->service - a0,
		b->service - b0);
	/* Shared from the return on, not a 5 s monopoly for a. */
	CHECK(a->service - a0 < 0.6 * (a->service - a0 + b->service - b0));
	CHECK(b->service - b0 > 0.4 * (a->service - a0 + b->service - b0));
	pol_destroy(&w.p);
}

static uint64_t switches_with(double hysteresis)
{
	struct pol_config c;
	uint64_t n;

	cfg_base(&c);
	c.hysteresis = hysteresis;
	c.min_resident_ns = 0;
	c.tokens_per_s = 0;	/* no price: hysteresis alone */
	sim_init(&w, &c, MIB);
	sim_add(&w, 1, 1, MIB, POL_SLOW);
	sim_add(&w, 2, 2, MIB, POL_SLOW);
	for (int i = 0; i < 10000; i++)
		sim_step(&w, MS);
	n = w.p.st.swap_ins;
	pol_destroy(&w.p);
	return n;
}

/* Two equal tenants, room for one: switches are bounded by the margin. */
static void hysteresis_prevents_ping_pong(void)
{
	uint64_t none = switches_with(0), some = switches_with(200);

	fprintf(stderr, "  swap-ins: hysteresis 0: %llu, 200: %llu\n",
		(unsigned long long)none, (unsigned long long)some);
	/* 2 per token, 10,000 tokens: a switch per 200 of gap at most. */
	CHECK(some <= 10000 * 2 / 200 + 4);
	CHECK(some >= 10);		/* but it still shares */
	CHECK(none > 10 * some);	/* and without it, ping-pong */
}

/* A predicted resume is brought in before it is needed, not long before. */
static void prefetch_completes_before_need(void)
{
	struct pol_config c;
	uint64_t need = 500 * MS, issued = 0, arrived = 0;
	struct pol_seq *s;

	cfg_base(&c);
	c.bw_default = 10e9;
	sim_init(&w, &c, 2048 * MIB);
	sim_add(&w, 1, 1, 1024 * MIB, POL_SLOW);	/* ~107 ms to move */
	pol_seq_demand(&w.p, 1, POL_DEMAND_IDLE);
	CHECK_EQ(pol_seq_expect(&w.p, 1, need), 0);
	s = pol_seq_get(&w.p, 1);
	while (w.now < need) {
		sim_step(&w, MS);
		if (!issued && s->at == POL_TO_FAST)
			issued = w.now;
		if (!arrived && s->at == POL_AT_FAST)
			arrived = w.now;
	}
	fprintf(stderr, "  issued %llu ms, arrived %llu ms, needed %llu ms\n",
		(unsigned long long)(issued / MS),
		(unsigned long long)(arrived / MS),
		(unsigned long long)(need / MS));
	CHECK(arrived && arrived <= need);
	CHECK(issued >= need - 150 * MS);	/* not wasted room for long */
	CHECK_EQ(s->run, POL_RUN_RUNNABLE);
	/* Arrived before its need: the sequence waited for nothing. */
	CHECK_EQ(w.p.st.resumes, 1);
	CHECK_EQ(w.p.st.resume_bytes, 1024 * MIB);
	CHECK_EQ(w.p.st.resume_wait_ns, 0);
	pol_destroy(&w.p);

	/* Without the prediction it stays out until asked for... */
	sim_init(&w, &c, 2048 * MIB);
	sim_add(&w, 1, 1, 1024 * MIB, POL_SLOW);
	pol_seq_demand(&w.p, 1, POL_DEMAND_IDLE);
	while (w.now < need)
		sim_step(&w, MS);
	CHECK_EQ(pol_seq_get(&w.p, 1)->at, POL_AT_SLOW);
	/* ...and then waits for its whole transfer (1 ms steps). */
	pol_seq_demand(&w.p, 1, POL_DEMAND_WAITING);
	while (pol_seq_get(&w.p, 1)->at != POL_AT_FAST && w.now < 2 * need)
		sim_step(&w, MS);
	fprintf(stderr, "  unpredicted: waited %.1f ms for %.1f ms of "
		"transfer\n", (double)w.p.st.resume_wait_ns / MS,
		1024.0 * MIB / c.bw_default * 1e3);
	CHECK_EQ(w.p.st.resumes, 1);
	CHECK(fabs((double)w.p.st.resume_wait_ns -
		   1024.0 * MIB / c.bw_default * 1e9) <= 2.0 * MS);
	pol_destroy(&w.p);

	/* A failed first attempt (the module found no room) counts too. */
	sim_init(&w, &c, 2048 * MIB);
	sim_add(&w, 1, 1, 1024 * MIB, POL_SLOW);
	pol_seq_demand(&w.p, 1, POL_DEMAND_WAITING);
	sim_step(&w, MS);
	CHECK_EQ(w.nsw, 1);
	CHECK_EQ(pol_switch_done(&w.p, 1, w.sw[0].cookie, false, 0, 0), 0);
	w.nsw = 0;
	w.now += 50 * MS;
	while (pol_seq_get(&w.p, 1)->at != POL_AT_FAST && w.now < need)
		sim_step(&w, MS);
	CHECK_EQ(w.p.st.resumes, 1);
	CHECK(w.p.st.resume_wait_ns >= 50 * MS +
	      (uint64_t)(1024.0 * MIB / c.bw_default * 1e9));
	pol_destroy(&w.p);
}

/* A swap-in the module refuses: the switch in flight for @id fails. */
static void fail_switch(uint64_t id)
{
	for (size_t i = 0; i < w.nsw; i++) {
		if (w.sw[i].seq != id)
			continue;
		CHECK_EQ(pol_switch_done(&w.p, id, w.sw[i].cookie, false, 0, 0),
			 0);
		w.sw[i] = w.sw[--w.nsw];
		return;
	}
	CHECK(0);	/* no switch in flight for it */
}

/* Refused swap-ins raise the headroom kept at admission; successes lower it. */
static void headroom_learned(void)
{
	struct pol_config c;

	cfg_base(&c);
	c.watermark = 0.01;
	sim_init(&w, &c, 100 * MIB);
	CHECK_EQ(w.p.headroom, MIB);
	sim_add(&w, 1, 1, 50 * MIB, POL_SLOW);
	pol_seq_demand(&w.p, 1, POL_DEMAND_WAITING);
	sim_step(&w, MS);
	fail_switch(1);
	CHECK_EQ(w.p.headroom, 2 * MIB);
	sim_step(&w, MS);			/* tried again at once */
	fail_switch(1);
	CHECK_EQ(w.p.headroom, 4 * MIB);
	while (pol_seq_get(&w.p, 1)->at != POL_AT_FAST && w.now < 100 * MS)
		sim_step(&w, MS);
	CHECK_EQ(w.p.headroom, 4 * MIB - 4 * MIB / 16);
	/* 48 MiB would fit in the 50 left, not beside the headroom. */
	sim_add(&w, 2, 1, 48 * MIB, POL_SLOW);
	pol_seq_demand(&w.p, 2, POL_DEMAND_WAITING);
	for (int i = 0; i < 20; i++)
		sim_step(&w, MS);
	CHECK_EQ(pol_seq_get(&w.p, 2)->at, POL_AT_SLOW);
	pol_destroy(&w.p);

	/* However often refused, at most a quarter of the tier. */
	sim_init(&w, &c, 100 * MIB);
	sim_add(&w, 3, 1, 10 * MIB, POL_SLOW);
	pol_seq_demand(&w.p, 3, POL_DEMAND_WAITING);
	for (int i = 0; i < 10; i++) {
		sim_step(&w, MS);
		fail_switch(3);
	}
	CHECK_EQ(w.p.headroom, 25 * MIB);
	pol_destroy(&w.p);
}

/*
 * Tenant 1 holds the fast tier with a clean (10) and a dirty (11) sequence
 * and has served far more than tenant 2, whose sequence 20 waits.
 */
static void two_residents(struct pol_config *c, bool idle_dirty)
{
	sim_init(&w, c, 2 * MIB);
	sim_add(&w, 10, 1, MIB, POL_FAST);	/* dirty: no slow copy */
	sim_add(&w, 11, 1, MIB, POL_SLOW);
	sim_step(&w, MS);
	while (w.nsw)
		sim_step(&w, MS);
	CHECK_EQ(pol_seq_get(&w.p, 11)->at, POL_AT_FAST);
	CHECK_EQ(pol_seq_get(&w.p, 11)->clean, MIB);
	w.nids = 0;			/* the test serves by hand now */
	w.now += 10 * MS;		/* past min_resident */
	if (idle_dirty)
		pol_seq_demand(&w.p, 10, POL_DEMAND_IDLE);
	/* Waits from now on: its counter starts at tenant 1's. */
	pol_seq_add(&w.p, 20, 2, MIB, POL_SLOW, false);
	pol_seq_tokens(&w.p, 10, 0, 5000, MIB);
}

static uint64_t first_victim(void)
{
	struct pol_decision d[16];
	size_t n;

	pol_decide(&w.p, w.now + MS);
	n = pol_take(&w.p, d, 16);
	for (size_t i = 0; i < n; i++)
		if (d[i].kind == POL_SET_RUN && d[i].run == POL_RUN_PREEMPT)
			return d[i].seq;
	return 0;
}

static void cost_model_prefers_clean_victims(void)
{
	struct pol_config c;

	cfg_base(&c);
	two_residents(&c, false);
	CHECK_EQ(first_victim(), 11);		/* clean: nothing to write */
	pol_destroy(&w.p);

	/* An idle sequence goes first even if dirty: it is not serving. */
	two_residents(&c, true);
	CHECK_EQ(first_victim(), 10);
	pol_destroy(&w.p);
}

/* A switch must pay for itself: gap > hysteresis + moved bytes' time. */
static void switch_price_gates_preemption(void)
{
	struct pol_config c;

	cfg_base(&c);
	c.bw_default = 1e9;
	c.tokens_per_s = 1000;	/* 1 GiB each way ~ 2147 tokens */
	sim_init(&w, &c, 1024 * MIB);
	sim_add(&w, 1, 1, 1024 * MIB, POL_FAST);
	w.nids = 0;
	sim_add(&w, 2, 2, 1024 * MIB, POL_SLOW);
	pol_seq_tokens(&w.p, 1, 0, 750, 1024 * MIB);	/* gap 1500 */
	CHECK_EQ(pol_tenant_get(&w.p, 2)->counter, 0);
	w.now += 100 * MS;
	CHECK_EQ(first_victim(), 0);
	CHECK(w.p.st.rejected_gain > 0);
	pol_seq_tokens(&w.p, 1, 0, 750, 1024 * MIB);	/* gap 3000 */
	CHECK_EQ(first_victim(), 1);
	pol_destroy(&w.p);
}

/* Bandwidth is learned from completed switches, per direction. */
static void bandwidth_learned(void)
{
	struct pol_config c;

	cfg_base(&c);
	c.bw_default = 1e9;
	sim_init(&w, &c, 64 * MIB);
	w.bw = 4e9;
	sim_add(&w, 1, 1, 32 * MIB, POL_SLOW);
	for (int i = 0; i < 20; i++)
		sim_step(&w, MS);
	CHECK(fabs(w.p.bw[0].bps - 4e9) < 0.01e9);
	CHECK_EQ(w.p.bw[1].samples, 0);		/* nothing moved out */
	CHECK_EQ(w.p.bw[1].bps, 1e9);
	pol_destroy(&w.p);
}

static void priority_changes_take_effect(void)
{
	struct pol_config c;
	struct pol_decision d[8];
	size_t n;

	cfg_base(&c);
	sim_init(&w, &c, MIB);
	w.nids = 0;
	pol_seq_add(&w.p, 1, 1, MIB, POL_SLOW, false);
	pol_seq_add(&w.p, 2, 1, MIB, POL_SLOW, false);
	CHECK_EQ(pol_seq_prio(&w.p, 2, 5), 0);	/* later, but first */
	pol_decide(&w.p, MS);
	CHECK(w.p.nout >= 1 && w.p.out[0].seq == 2 &&
	      w.p.out[0].tier == POL_FAST);
	sim_apply(&w);
	sim_step(&w, 10 * MS);

	/* A higher-priority waiter of the same tenant preempts... */
	CHECK_EQ(pol_seq_prio(&w.p, 1, 9), 0);
	pol_decide(&w.p, w.now + MS);
	n = pol_take(&w.p, d, 8);
	CHECK(n >= 1 && d[0].seq == 2 && d[0].run == POL_RUN_PREEMPT);
	pol_destroy(&w.p);

	/* ...an equal one does not. */
	sim_init(&w, &c, MIB);
	w.nids = 0;
	pol_seq_add(&w.p, 1, 1, MIB, POL_FAST, false);
	pol_seq_add(&w.p, 2, 1, MIB, POL_SLOW, false);
	pol_seq_prio(&w.p, 2, 3);
	pol_seq_prio(&w.p, 1, 3);
	pol_decide(&w.p, 100 * MS);
	CHECK_EQ(pol_take(&w.p, d, 8), 0);
	pol_destroy(&w.p);
}

static void pool_pressure_reclaims(void)
{
	struct pol_config c;
	struct pol_decision d[16];
	size_t n;

	cfg_base(&c);
	sim_init(&w, &c, 4 * MIB);
	w.nids = 0;
	pol_seq_add(&w.p, 1, 1, MIB, POL_FAST, false);
	pol_seq_add(&w.p, 2, 1, MIB, POL_FAST, false);
	pol_seq_demand(&w.p, 2, POL_DEMAND_IDLE);
	pol_pool(&w.p, 4 * MIB, MIB);		/* 1 MiB below the mark */
	pol_decide(&w.p, 100 * MS);
	n = pol_take(&w.p, d, 16);
	CHECK(n == 2 && d[0].seq == 2 && d[1].kind == POL_MIGRATE &&
	      d[1].tier == POL_SLOW);
	CHECK_EQ(w.p.st.reclaims, 1);
	CHECK_EQ(w.p.reclaim, 0);
	pol_destroy(&w.p);
}

/* Without the module's run states: moves only, device spaces left alone. */
static void no_run_state_migrates_only(void)
{
	struct pol_config c;
	struct pol_decision d[16];
	size_t n;

	cfg_base(&c);
	c.run_state = false;
	sim_init(&w, &c, 2 * MIB);
	pol_seq_add(&w.p, 1, 1, MIB, POL_SLOW, false);
	pol_seq_add(&w.p, 2, 1, MIB, POL_SLOW, true);	/* device space */
	pol_decide(&w.p, MS);
	n = pol_take(&w.p, d, 16);
	CHECK_EQ(n, 1);
	CHECK(d[0].kind == POL_MIGRATE && d[0].seq == 1);
	pol_destroy(&w.p);
}

/*
 * A restarted daemon finishes the switches the module shows in flight,
 * under their old cookies, with no new directive to the engine.
 */
static void restore_finishes_switches(void)
{
	struct pol_config c;
	struct pol_decision d[16];
	size_t n;

	cfg_base(&c);
	sim_init(&w, &c, 4 * MIB);
	pol_seq_add(&w.p, 1, 1, MIB, POL_FAST, false);
	pol_seq_add(&w.p, 2, 1, MIB, POL_SLOW, false);
	pol_seq_add(&w.p, 3, 1, MIB, POL_FAST, false);
	pol_seq_add(&w.p, 4, 1, MIB, POL_FAST, true);	/* device space */
	CHECK_EQ(pol_seq_restore(&w.p, 1, POL_RUN_PREEMPT,
				 POL_DEMAND_RUNNING, 77), 0);
	CHECK_EQ(pol_seq_restore(&w.p, 3, POL_RUN_PREFETCH,
				 POL_DEMAND_WAITING, 5), 0);
	CHECK_EQ(pol_seq_restore(&w.p, 4, POL_RUN_PREEMPT,
				 POL_DEMAND_RUNNING, 80), 0);
	n = pol_take(&w.p, d, 16);
	CHECK_EQ(n, 2);
	CHECK(d[0].seq == 1 && d[0].kind == POL_MIGRATE && d[0].cookie == 77);
	CHECK(d[1].seq == 3 && d[1].run == POL_RUN_RUNNABLE);
	CHECK_EQ(pol_seq_get(&w.p, 4)->at, POL_TO_SLOW);	/* owner's */
	CHECK_EQ(w.p.st.preemptions, 0);	/* counted by the last daemon */
	/* A stale completion changes nothing. */
	CHECK_EQ(pol_switch_done(&w.p, 1, 76, true, 1, 1), 0);
	CHECK_EQ(pol_seq_get(&w.p, 1)->at, POL_TO_SLOW);
	CHECK_EQ(pol_switch_done(&w.p, 1, 77, true, MIB, MS), 0);
	CHECK_EQ(pol_seq_get(&w.p, 1)->at, POL_AT_SLOW);
	CHECK_EQ(pol_switch_done(&w.p, 4, 80, true, MIB, MS), 0);
	CHECK_EQ(w.p.used, MIB);
	/* New cookies never reuse an adopted one. */
	CHECK_EQ(pol_seq_move(&w.p, 2, POL_FAST), 0);
	CHECK(pol_seq_get(&w.p, 2)->cookie > 80);
	CHECK_EQ(pol_seq_del(&w.p, 1), 0);
	CHECK_EQ(pol_seq_del(&w.p, 2), 0);
	CHECK_EQ(pol_seq_del(&w.p, 3), 0);
	CHECK_EQ(w.p.used, 0);
	CHECK_EQ(w.p.inflight, 0);
	pol_destroy(&w.p);
}

/* The control socket's move: past the rules, but not past the facts. */
static void manual_move(void)
{
	struct pol_config c;

	cfg_base(&c);
	sim_init(&w, &c, 4 * MIB);
	pol_seq_add(&w.p, 1, 1, MIB, POL_FAST, false);
	CHECK_EQ(pol_seq_move(&w.p, 1, POL_FAST), -EALREADY);
	CHECK_EQ(pol_seq_move(&w.p, 1, 5), -EINVAL);
	CHECK_EQ(pol_seq_move(&w.p, 9, POL_SLOW), -ENOENT);
	CHECK_EQ(pol_seq_move(&w.p, 1, POL_SLOW), 0);
	CHECK_EQ(pol_seq_move(&w.p, 1, POL_FAST), -EBUSY);
	CHECK_EQ(pol_seq_get(&w.p, 1)->at, POL_TO_SLOW);
	pol_destroy(&w.p);
	c.run_state = false;
	sim_init(&w, &c, 4 * MIB);
	pol_seq_add(&w.p, 1, 1, MIB, POL_FAST, true);
	CHECK_EQ(pol_seq_move(&w.p, 1, POL_SLOW), -EOPNOTSUPP);
	pol_destroy(&w.p);
}

static void bad_input(void)
{
	struct pol_config c;

	pol_config_default(&c);
	c.bw_alpha = 0;
	CHECK_EQ(pol_init(&w.p, &c), -EINVAL);
	pol_config_default(&c);
	c.price_out = NAN;
	CHECK_EQ(pol_init(&w.p, &c), -EINVAL);
	pol_config_default(&c);
	c.max_inflight = 0;
	CHECK_EQ(pol_init(&w.p, &c), -EINVAL);
	pol_config_default(&c);
	CHECK_EQ(pol_init(&w.p, &c), 0);
	CHECK_EQ(pol_tenant_set(&w.p, 1, 0, 0), -EINVAL);
	CHECK_EQ(pol_tenant_set(&w.p, 1, INFINITY, 0), -EINVAL);
	CHECK_EQ(pol_seq_add(&w.p, 1, 1, MIB, 7, false), -EINVAL);
	CHECK_EQ(pol_seq_add(&w.p, 1, 1, MIB, POL_SLOW, false), 0);
	CHECK_EQ(pol_seq_add(&w.p, 1, 1, MIB, POL_SLOW, false), -EEXIST);
	CHECK_EQ(pol_seq_demand(&w.p, 1, 4), -EINVAL);
	CHECK_EQ(pol_seq_demand(&w.p, 1, -1), -EINVAL);
	CHECK_EQ(pol_seq_demand(&w.p, 9, 0), -ENOENT);
	CHECK_EQ(pol_seq_prio(&w.p, 9, 0), -ENOENT);
	CHECK_EQ(pol_seq_tokens(&w.p, 9, 0, 0, 0), -ENOENT);
	CHECK_EQ(pol_seq_tokens(&w.p, 1, 1ULL << 41, 0, 0), -EINVAL);
	CHECK_EQ(pol_seq_expect(&w.p, 9, 1), -ENOENT);
	CHECK_EQ(pol_seq_restore(&w.p, 1, 3, 0, 0), -EINVAL);
	CHECK_EQ(pol_seq_restore(&w.p, 9, 0, 0, 0), -ENOENT);
	CHECK_EQ(pol_switch_done(&w.p, 9, 1, true, 1, 1), -ENOENT);
	CHECK_EQ(pol_seq_del(&w.p, 9), -ENOENT);
	pol_destroy(&w.p);
}

/*
 * Heap comparisons per unit of work (an event, a decision, a switch and its
 * completion), at @n sequences in 8 tenants, half of them resident. No
 * margin and no price: nearly every round preempts, at every n alike.
 */
static double ops_per_decision(unsigned n)
{
	struct pol_config c;
	struct pol *p = &w.p;
	struct pol_decision d[64];
	uint64_t ops0, sw0, rnd = 88172645463325252ULL;
	const int rounds = 4000;

	cfg_base(&c);
	c.min_resident_ns = 0;
	c.hysteresis = 0;
	c.tokens_per_s = 0;
	pol_init(p, &c);
	pol_pool(p, (uint64_t)n / 2 * MIB, 0);
	for (unsigned t = 1; t <= 8; t++)
		pol_tenant_set(p, t, 1, 0);
	for (unsigned i = 0; i < n; i++)
		pol_seq_add(p, i, 1 + i % 8, MIB,
			    i < n / 2 ? POL_FAST : POL_SLOW, false);
	ops0 = p->st.ops;
	sw0 = p->st.swap_ins + p->st.swap_outs;
	for (int r = 0; r < rounds; r++) {
		struct pol_seq *s;
		size_t k;

		do {	/* a resident one serves */
			rnd ^= rnd << 13;
			rnd ^= rnd >> 7;
			rnd ^= rnd << 17;
			s = pol_seq_get(p, rnd % n);
		} while (s->at != POL_AT_FAST);
		pol_seq_tokens(p, s->id, 0, 8, MIB);
		pol_seq_prio(p, (rnd >> 20) % n, (int)(rnd >> 40) % 4);
		pol_decide(p, (uint64_t)r * MS);
		while ((k = pol_take(p, d, 64)) > 0)
			for (size_t i = 0; i < k; i++)
				if (d[i].kind == POL_MIGRATE)
					pol_switch_done(p, d[i].seq, d[i].cookie,
							true, MIB, MS);
	}
	sw0 = p->st.swap_ins + p->st.swap_outs - sw0;
	ops0 = p->st.ops - ops0;
	CHECK(sw0 > rounds);	/* the work really switched */
	pol_destroy(p);
	return (double)ops0 / (double)(rounds + sw0);
}

static void decision_cost_logarithmic(void)
{
	double small = ops_per_decision(100), mid = ops_per_decision(1000);
	double big = ops_per_decision(10000);

	fprintf(stderr, "  comparisons per unit of work: 100: %.1f, 1000: %.1f, "
		"10000: %.1f\n", small, mid, big);
	/* log2 n grows 6.6 -> 10 -> 13.3; a scan would grow 10x a step. */
	CHECK(mid < 2.5 * small);
	CHECK(big < 2.5 * mid);
	CHECK(big < 8 * log2(10000));
}

static const struct unit_case cases[] = {
	UNIT_CASE(weighted_shares_converge),
	UNIT_CASE(idle_tenant_cannot_bank),
	UNIT_CASE(hysteresis_prevents_ping_pong),
	UNIT_CASE(prefetch_completes_before_need),
	UNIT_CASE(headroom_learned),
	UNIT_CASE(cost_model_prefers_clean_victims),
	UNIT_CASE(switch_price_gates_preemption),
	UNIT_CASE(bandwidth_learned),
	UNIT_CASE(priority_changes_take_effect),
	UNIT_CASE(pool_pressure_reclaims),
	UNIT_CASE(no_run_state_migrates_only),
	UNIT_CASE(restore_finishes_switches),
	UNIT_CASE(manual_move),
	UNIT_CASE(bad_input),
	UNIT_CASE(decision_cost_logarithmic),
};

UNIT_MAIN("daemon_policy", cases)
