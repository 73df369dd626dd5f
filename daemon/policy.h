/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kvmemd's policy core: who holds the fast tier. Plain C, no I/O, no clock:
 * the caller feeds events (with the time, in ns) and drains decisions. The
 * daemon, the unit tests and the benchmark drive the same code. Every rule
 * and its reason: Documentation/policy.md.
 *
 * Cost: each event and each decision is O(log n) in the number of sequences
 * (indexed heaps, a tree for lookups); pol_tick() is O(T log T) in the
 * number of tenants, which is small and independent of the sequences.
 *
 * Not thread-safe: one thread owns a struct pol and makes every call.
 * Functions return 0 or -errno (-EINVAL bad argument, -ENOENT unknown id,
 * -EEXIST duplicate id, -ENOMEM).
 */
#ifndef KVMEMD_POLICY_H
#define KVMEMD_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "heap.h"

/* Tiers as the policy sees them: the one that runs, and the one behind. */
#define POL_FAST 0
#define POL_SLOW 1

/* Demand, as the owner reports it (mirrors KVMEM_DEMAND_*). */
#define POL_DEMAND_NONE		0
#define POL_DEMAND_WAITING	1
#define POL_DEMAND_RUNNING	2
#define POL_DEMAND_IDLE		3

/* Run states the policy sets (mirrors KVMEM_RUN_*). */
#define POL_RUN_RUNNABLE	0
#define POL_RUN_PREEMPT		1
#define POL_RUN_PREFETCH	2

/* Where a sequence's KV is. */
#define POL_AT_FAST	0
#define POL_AT_SLOW	1
#define POL_TO_FAST	2	/* a swap-in was decided, not yet done */
#define POL_TO_SLOW	3	/* a swap-out was decided, not yet done */

struct pol_config {
	double price_in;	/* per input (prompt) token; VTC: 1 */
	double price_out;	/* per output token; VTC: 2 */
	double price_mem;	/* per fast-tier GiB x second held; 0: off */
	double tokens_per_s;	/* what a second of switch stall is worth */
	double hysteresis;	/* counter gap a preemption must exceed */
	uint64_t min_resident_ns; /* a swapped-in sequence is kept this long */
	uint64_t prefetch_margin_ns; /* start a predicted swap-in this early */
	double bw_default;	/* bytes/s assumed before any measurement */
	double bw_alpha;	/* EWMA weight of a new bandwidth sample */
	unsigned max_inflight;	/* switches in flight at once */
	double watermark;	/* fast tier kept free for growth, at least */
	bool run_state;		/* module has KVMEM_FEATURE_RUN_STATE */
};

void pol_config_default(struct pol_config *c);

#define POL_SET_RUN	1	/* set @seq's run state to @run, toward @tier */
#define POL_MIGRATE	2	/* move @seq's KV to @tier (host spaces) */

struct pol_decision {
	uint32_t kind;		/* POL_SET_RUN or POL_MIGRATE */
	uint32_t run;		/* POL_RUN_* (POL_SET_RUN) */
	uint32_t tier;		/* POL_FAST or POL_SLOW */
	uint32_t tenant;
	uint64_t seq;
	uint64_t bytes;		/* bytes the switch moves (net of clean) */
	uint64_t cookie;	/* echoed in pol_switch_done() */
};

struct pol_tenant {
	uint32_t id;
	double weight;
	double counter;		/* virtual service, weighted (VTC) */
	double service;		/* raw service: priced tokens, unweighted */
	uint64_t quota;		/* fast-tier bytes at most; 0: none */
	uint64_t fast_bytes;	/* held or being brought in */
	uint64_t last_mem_ns;
	unsigned nbacklog;	/* sequences with work (not idle) */
	unsigned nwait;		/* waiting in the slow tier */
	unsigned nvictim;	/* evictable, running in the fast tier */
	uint64_t preemptions;
	struct heap waitq;	/* its waiting sequences, best first */
	struct heap victims;	/* its evictable sequences, cheapest first */
	struct heap_node in_wait, in_victim, in_backlog;
	size_t slot;		/* in pol.tenants[] */
};

struct pol_seq {
	uint64_t id;
	struct pol_tenant *t;
	int prio;		/* higher runs first, is preempted last */
	int demand;		/* POL_DEMAND_* */
	int at;			/* POL_AT_* / POL_TO_* */
	int run;		/* last run state set */
	bool owner_moves;	/* device space: the owner copies, not us */
	uint64_t bytes;		/* KV bytes */
	uint64_t clean;		/* of them, valid in the slow tier too */
	uint64_t order;		/* arrival order, ties in the wait queue */
	uint64_t resident_since;
	uint64_t expect_at;	/* predicted next need; 0: none */
	uint64_t cookie;	/* of the switch in flight */
	uint64_t switch_bytes;
	struct heap_node hnode;	/* waitq, victims or idle */
	struct heap_node tnode;	/* protect or expect timer */
	int hwhich, twhich;
	uint64_t tkey;
	uint64_t switches;
	uint64_t issued_ns;	/* when the switch in flight was decided */
	uint64_t need_ns;	/* when its demand last became WAITING */
	uint64_t resume_ns;	/* first swap-in attempt not yet done */
	uint64_t user[3];	/* the caller's (kvmemd: npages, tokens) */
};

struct pol_bw {
	double bps;		/* EWMA, bytes per second */
	uint64_t samples;
	uint64_t bytes, ns;	/* totals, for metrics */
};

struct pol_stats {
	uint64_t ops;		/* heap comparisons, all heaps */
	uint64_t decisions;
	uint64_t preemptions, swap_ins, swap_outs, reclaims, prefetches;
	uint64_t rejected_gain;	/* preemptions not worth their price */
	uint64_t failed;	/* switches reported failed */
	/*
	 * Swap-ins completed, their bytes, and the time their sequences
	 * waited for them: from the later of the decision (the first attempt,
	 * if the module failed some) and the need (the demand turning
	 * WAITING, or a predicted need's time) to RUNNABLE; a prefetch that
	 * arrives before its need waited 0.
	 */
	uint64_t resumes, resume_bytes, resume_wait_ns;
};

struct pol {
	struct pol_config cfg;
	void *seq_tree;		/* tsearch tree of struct pol_seq */
	struct pol_tenant **tenants;
	size_t ntenants, cap_tenants;
	uint64_t nseqs;
	uint64_t capacity, used;	/* fast tier, bytes: policy's account */
	uint64_t outgoing;		/* bytes being swapped out */
	uint64_t reclaim;		/* bytes to free for pool pressure */
	uint64_t headroom;		/* kept free at admission: learned */
	unsigned inflight;
	uint64_t next_cookie, next_order;
	uint64_t now;
	bool paused;
	struct heap waiting_t;		/* tenants with waiting seqs: min counter */
	struct heap victim_t;		/* tenants with evictable seqs: max */
	struct heap backlog_t;		/* backlogged tenants: min counter */
	struct heap idle;		/* idle resident seqs, cheapest first */
	struct heap protect;		/* just swapped in, by expiry */
	struct heap expect;		/* predicted needs, by prefetch time */
	struct pol_bw bw[2];		/* [tier moved to] */
	struct pol_decision *out;
	size_t nout, cap_out;
	struct pol_stats st;
};

int pol_init(struct pol *p, const struct pol_config *cfg);
void pol_destroy(struct pol *p);

/* The fast tier's size in bytes, and how far below its low watermark it is
 * (@deficit bytes to free now; 0 when the pool is fine). */
void pol_pool(struct pol *p, uint64_t capacity, uint64_t deficit);

int pol_tenant_set(struct pol *p, uint32_t id, double weight, uint64_t quota);
struct pol_tenant *pol_tenant_get(const struct pol *p, uint32_t id);

/* A space appeared (or was found at start-up). @tier where it is now. */
int pol_seq_add(struct pol *p, uint64_t id, uint32_t tenant, uint64_t bytes,
		int tier, bool owner_moves);
int pol_seq_del(struct pol *p, uint64_t id);
struct pol_seq *pol_seq_get(const struct pol *p, uint64_t id);
int pol_seq_demand(struct pol *p, uint64_t id, int demand);
int pol_seq_prio(struct pol *p, uint64_t id, int prio);
/* Tokens served (charged to the tenant) and the KV size now; KV added
 * since the last swap-in is dirty (its slow copy does not have it). */
int pol_seq_tokens(struct pol *p, uint64_t id, uint64_t in, uint64_t out,
		   uint64_t bytes);
/* The owner expects to need @id again at @when (ns); 0 cancels. */
int pol_seq_expect(struct pol *p, uint64_t id, uint64_t when);
/*
 * Restores the state the module reports at a daemon restart: @run and
 * @cookie as the last daemon set them, @demand as the owner reported it.
 * A switch found half done is adopted under its old @cookie (only the
 * MIGRATE of a host space is issued again; the owner of a device space
 * reports its swap itself), so an engine sees no new directive.
 */
int pol_seq_restore(struct pol *p, uint64_t id, int run, int demand,
		    uint64_t cookie);
/* Moves @id to @tier now, by hand (control socket), past fairness and
 * price; -EBUSY while it is moving, -EALREADY if it is there. */
int pol_seq_move(struct pol *p, uint64_t id, int tier);

/* A switch ended: @ok, @bytes moved in @ns. A stale cookie is ignored. */
int pol_switch_done(struct pol *p, uint64_t id, uint64_t cookie, bool ok,
		    uint64_t bytes, uint64_t ns);

/* Charges fast-tier memory over time (if priced); O(T log T). */
void pol_tick(struct pol *p, uint64_t now);
/* Makes decisions for time @now; returns how many are queued. */
size_t pol_decide(struct pol *p, uint64_t now);
/* Moves up to @n queued decisions to @d; returns how many. */
size_t pol_take(struct pol *p, struct pol_decision *d, size_t n);

/* Seconds a switch of @bytes to @tier takes at the measured bandwidth. */
double pol_switch_seconds(const struct pol *p, int tier, uint64_t bytes);

#endif /* KVMEMD_POLICY_H */
