// SPDX-License-Identifier: GPL-2.0
/*
 * kvmemd's policy core; see policy.h for the interface and
 * Documentation/policy.md for every rule and why it is there.
 */
#include "policy.h"

#include <errno.h>
#include <math.h>
#include <search.h>
#include <stdlib.h>
#include <string.h>

#define container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))

/* Which heap a sequence's hnode / tnode is in. */
enum { IN_NONE, IN_WAITQ, IN_VICTIMS, IN_IDLE, IN_PROTECT, IN_EXPECT };

void pol_config_default(struct pol_config *c)
{
	memset(c, 0, sizeof(*c));
	c->price_in = 1.0;
	c->price_out = 2.0;
	c->price_mem = 0.0;
	c->tokens_per_s = 1000.0;
	c->hysteresis = 64.0;
	c->min_resident_ns = 50 * 1000 * 1000ULL;
	c->prefetch_margin_ns = 5 * 1000 * 1000ULL;
	c->bw_default = 10e9;
	c->bw_alpha = 0.25;
	c->max_inflight = 16;
	c->watermark = 0.01;
	c->run_state = true;
}

/* ---- orders ------------------------------------------------------------ */

#define T_OF(n, m) container_of(n, struct pol_tenant, m)
#define S_OF(n, m) container_of(n, struct pol_seq, m)

static bool wait_t_less(const struct heap_node *a, const struct heap_node *b)
{
	return T_OF(a, in_wait)->counter < T_OF(b, in_wait)->counter;
}

static bool victim_t_less(const struct heap_node *a, const struct heap_node *b)
{
	return T_OF(a, in_victim)->counter > T_OF(b, in_victim)->counter;
}

static bool backlog_t_less(const struct heap_node *a, const struct heap_node *b)
{
	return T_OF(a, in_backlog)->counter < T_OF(b, in_backlog)->counter;
}

static uint64_t dirty(const struct pol_seq *s)
{
	return s->bytes > s->clean ? s->bytes - s->clean : 0;
}

/* Waiting: higher priority first, then first come. */
static bool waitq_less(const struct heap_node *a, const struct heap_node *b)
{
	const struct pol_seq *x = S_OF(a, hnode), *y = S_OF(b, hnode);

	if (x->prio != y->prio)
		return x->prio > y->prio;
	return x->order < y->order;
}

/* Victims: lower priority first, then the cheapest to write back. */
static bool victims_less(const struct heap_node *a, const struct heap_node *b)
{
	const struct pol_seq *x = S_OF(a, hnode), *y = S_OF(b, hnode);

	if (x->prio != y->prio)
		return x->prio < y->prio;
	if (dirty(x) != dirty(y))
		return dirty(x) < dirty(y);
	return x->resident_since < y->resident_since;
}

/* Idle resident sequences: cheapest to write back first. */
static bool idle_less(const struct heap_node *a, const struct heap_node *b)
{
	const struct pol_seq *x = S_OF(a, hnode), *y = S_OF(b, hnode);

	if (dirty(x) != dirty(y))
		return dirty(x) < dirty(y);
	return x->prio < y->prio;
}

static bool timer_less(const struct heap_node *a, const struct heap_node *b)
{
	return S_OF(a, tnode)->tkey < S_OF(b, tnode)->tkey;
}

static int seq_cmp(const void *a, const void *b)
{
	uint64_t x = ((const struct pol_seq *)a)->id;
	uint64_t y = ((const struct pol_seq *)b)->id;

	return x < y ? -1 : x > y;
}

/* ---- set-up -------------------------------------------------------------- */

static bool bad_double(double v, double lo, double hi)
{
	return !isfinite(v) || v < lo || v > hi;
}

int pol_init(struct pol *p, const struct pol_config *cfg)
{
	if (bad_double(cfg->price_in, 0, 1e9) ||
	    bad_double(cfg->price_out, 0, 1e9) ||
	    bad_double(cfg->price_mem, 0, 1e9) ||
	    bad_double(cfg->tokens_per_s, 0, 1e12) ||
	    bad_double(cfg->hysteresis, 0, 1e15) ||
	    bad_double(cfg->bw_default, 1, 1e15) ||
	    bad_double(cfg->bw_alpha, 0, 1) || cfg->bw_alpha == 0 ||
	    bad_double(cfg->watermark, 0, 0.5) ||
	    cfg->max_inflight == 0)
		return -EINVAL;
	memset(p, 0, sizeof(*p));
	p->cfg = *cfg;
	heap_init(&p->waiting_t, wait_t_less, &p->st.ops);
	heap_init(&p->victim_t, victim_t_less, &p->st.ops);
	heap_init(&p->backlog_t, backlog_t_less, &p->st.ops);
	heap_init(&p->idle, idle_less, &p->st.ops);
	heap_init(&p->protect, timer_less, &p->st.ops);
	heap_init(&p->expect, timer_less, &p->st.ops);
	for (int i = 0; i < 2; i++)
		p->bw[i].bps = cfg->bw_default;
	return 0;
}

static void seq_free(void *x)
{
	free(x);
}

void pol_destroy(struct pol *p)
{
	tdestroy(p->seq_tree, seq_free);
	for (size_t i = 0; i < p->ntenants; i++) {
		heap_free(&p->tenants[i]->waitq);
		heap_free(&p->tenants[i]->victims);
		free(p->tenants[i]);
	}
	free(p->tenants);
	heap_free(&p->waiting_t);
	heap_free(&p->victim_t);
	heap_free(&p->backlog_t);
	heap_free(&p->idle);
	heap_free(&p->protect);
	heap_free(&p->expect);
	free(p->out);
	memset(p, 0, sizeof(*p));
}

/* The headroom's floor: the configured watermark of the fast tier. */
static uint64_t headroom_min(const struct pol *p)
{
	return (uint64_t)(p->cfg.watermark * (double)p->capacity);
}

void pol_pool(struct pol *p, uint64_t capacity, uint64_t deficit)
{
	p->capacity = capacity;
	p->reclaim = deficit;
	if (p->headroom < headroom_min(p))
		p->headroom = headroom_min(p);
	if (p->headroom > capacity / 4)
		p->headroom = capacity / 4;
}

/*
 * A swap-in the module refused (the fast tier was fuller than accounted:
 * residents grew since their last report) doubles the headroom kept at
 * admission, up to a quarter of the tier; each one that succeeds gives
 * back a sixteenth, down to the watermark.
 */
static void headroom_learn(struct pol *p, bool ok, uint64_t bytes)
{
	uint64_t lo = headroom_min(p), hi = p->capacity / 4;

	if (!ok)
		p->headroom = p->headroom ? 2 * p->headroom : bytes / 16;
	else
		p->headroom -= p->headroom / 16;
	if (p->headroom < lo)
		p->headroom = lo;
	if (p->headroom > hi)
		p->headroom = hi;
}

/* ---- tenants ------------------------------------------------------------- */

struct pol_tenant *pol_tenant_get(const struct pol *p, uint32_t id)
{
	/* Tenants are few (the module numbers them densely): a scan of the
	 * table is cheaper than a tree at that size and never per sequence. */
	for (size_t i = 0; i < p->ntenants; i++)
		if (p->tenants[i]->id == id)
			return p->tenants[i];
	return NULL;
}

int pol_tenant_set(struct pol *p, uint32_t id, double weight, uint64_t quota)
{
	struct pol_tenant *t = pol_tenant_get(p, id);

	if (bad_double(weight, 1e-6, 1e6))
		return -EINVAL;
	if (!t) {
		if (p->ntenants == p->cap_tenants) {
			size_t cap = p->cap_tenants ? 2 * p->cap_tenants : 8;
			struct pol_tenant **v = realloc(p->tenants,
							cap * sizeof(*v));

			if (!v)
				return -ENOMEM;
			p->tenants = v;
			p->cap_tenants = cap;
		}
		t = calloc(1, sizeof(*t));
		if (!t)
			return -ENOMEM;
		t->id = id;
		t->in_wait.idx = t->in_victim.idx = t->in_backlog.idx = HEAP_NONE;
		heap_init(&t->waitq, waitq_less, &p->st.ops);
		heap_init(&t->victims, victims_less, &p->st.ops);
		t->last_mem_ns = p->now;
		t->slot = p->ntenants;
		p->tenants[p->ntenants++] = t;
	}
	t->weight = weight;
	t->quota = quota;
	return 0;
}

/* A tenant's counter changed: it moves in every heap it is in. */
static void tenant_rekey(struct pol *p, struct pol_tenant *t)
{
	heap_update(&p->waiting_t, &t->in_wait);
	heap_update(&p->victim_t, &t->in_victim);
	heap_update(&p->backlog_t, &t->in_backlog);
}

static void charge(struct pol *p, struct pol_tenant *t, double cost)
{
	t->service += cost;
	t->counter += cost / t->weight;
	tenant_rekey(p, t);
}

/* Tenant-set membership follows its sequence heaps. */
static void tenant_sets(struct pol *p, struct pol_tenant *t)
{
	t->nwait = t->waitq.n;
	t->nvictim = t->victims.n;
	if (t->nwait && !heap_in(&t->in_wait))
		heap_push(&p->waiting_t, &t->in_wait);
	else if (!t->nwait && heap_in(&t->in_wait))
		heap_remove(&p->waiting_t, &t->in_wait);
	if (t->nvictim && !heap_in(&t->in_victim))
		heap_push(&p->victim_t, &t->in_victim);
	else if (!t->nvictim && heap_in(&t->in_victim))
		heap_remove(&p->victim_t, &t->in_victim);
}

/*
 * VTC's rule: a tenant that comes back from idle starts at the lowest
 * counter of those with work, so credit cannot be banked while idle.
 */
static void backlog_change(struct pol *p, struct pol_tenant *t, int delta)
{
	if (delta > 0 && t->nbacklog++ == 0) {
		struct heap_node *m = heap_top(&p->backlog_t);

		if (m && T_OF(m, in_backlog)->counter > t->counter) {
			t->counter = T_OF(m, in_backlog)->counter;
			tenant_rekey(p, t);
		}
		heap_push(&p->backlog_t, &t->in_backlog);
	} else if (delta < 0 && t->nbacklog && --t->nbacklog == 0) {
		heap_remove(&p->backlog_t, &t->in_backlog);
	}
}

/* ---- sequences: where each one is kept ----------------------------------- */

static bool backlogged(const struct pol_seq *s)
{
	return s->demand != POL_DEMAND_IDLE;
}

/* Can the policy move it at all? A device space needs the run state. */
static bool movable(const struct pol *p, const struct pol_seq *s)
{
	return !s->owner_moves || p->cfg.run_state;
}

static void unplace(struct pol *p, struct pol_seq *s)
{
	struct pol_tenant *t = s->t;

	switch (s->hwhich) {
	case IN_WAITQ:
		heap_remove(&t->waitq, &s->hnode);
		break;
	case IN_VICTIMS:
		heap_remove(&t->victims, &s->hnode);
		break;
	case IN_IDLE:
		heap_remove(&p->idle, &s->hnode);
		break;
	}
	switch (s->twhich) {
	case IN_PROTECT:
		heap_remove(&p->protect, &s->tnode);
		break;
	case IN_EXPECT:
		heap_remove(&p->expect, &s->tnode);
		break;
	}
	s->hwhich = s->twhich = IN_NONE;
}

static void push_timer(struct pol *p, struct pol_seq *s, int which,
		       uint64_t key)
{
	s->tkey = key;
	if (heap_push(which == IN_PROTECT ? &p->protect : &p->expect,
		      &s->tnode) == 0)
		s->twhich = which;
}

static void push_h(struct heap *h, struct pol_seq *s, int which)
{
	if (heap_push(h, &s->hnode) == 0)
		s->hwhich = which;
}

/* Puts @s in the one set its state calls for, then fixes its tenant's. */
static void place(struct pol *p, struct pol_seq *s)
{
	struct pol_tenant *t = s->t;

	unplace(p, s);
	if (!movable(p, s))
		goto out;
	if (s->at == POL_AT_SLOW) {
		if (backlogged(s)) {
			push_h(&t->waitq, s, IN_WAITQ);
		} else if (s->expect_at) {
			uint64_t lead = (uint64_t)(pol_switch_seconds(p,
					POL_FAST, s->bytes) * 1e9) +
					p->cfg.prefetch_margin_ns;

			push_timer(p, s, IN_EXPECT,
				   s->expect_at > lead ? s->expect_at - lead : 0);
		}
	} else if (s->at == POL_AT_FAST) {
		if (!backlogged(s))
			push_h(&p->idle, s, IN_IDLE);
		else if (p->now < s->resident_since + p->cfg.min_resident_ns)
			push_timer(p, s, IN_PROTECT,
				   s->resident_since + p->cfg.min_resident_ns);
		else
			push_h(&t->victims, s, IN_VICTIMS);
	}
out:
	tenant_sets(p, t);
}

static void fast_add(struct pol *p, struct pol_seq *s, int64_t delta)
{
	p->used += delta;
	s->t->fast_bytes += delta;
}

/* ---- decisions ----------------------------------------------------------- */

static void emit(struct pol *p, const struct pol_seq *s, uint32_t kind,
		 uint32_t run, uint32_t tier, uint64_t bytes)
{
	if (p->nout == p->cap_out) {
		size_t cap = p->cap_out ? 2 * p->cap_out : 32;
		struct pol_decision *v = realloc(p->out, cap * sizeof(*v));

		if (!v)
			return;	/* the switch is then redone on restore */
		p->out = v;
		p->cap_out = cap;
	}
	p->out[p->nout++] = (struct pol_decision){
		.kind = kind, .run = run, .tier = tier, .tenant = s->t->id,
		.seq = s->id, .bytes = bytes, .cookie = s->cookie,
	};
	p->st.decisions++;
}

static void set_run(struct pol *p, struct pol_seq *s, uint32_t run,
		    uint32_t tier, uint64_t bytes)
{
	s->run = run;
	if (p->cfg.run_state)
		emit(p, s, POL_SET_RUN, run, tier, bytes);
}

/* Starts a switch: adopts @cookie (a restart's) or takes a new one. */
static void start_switch(struct pol *p, struct pol_seq *s, int to,
			 uint64_t cookie)
{
	unplace(p, s);
	s->at = to;
	if (cookie) {
		s->cookie = cookie;
		if (cookie > p->next_cookie)
			p->next_cookie = cookie;
	} else {
		s->cookie = ++p->next_cookie;
	}
	s->issued_ns = p->now;
	s->switch_bytes = s->bytes;
	p->inflight++;
	s->switches++;
}

/* @adopt: a restart's switch in flight; only a host space's move again. */
static void swap_in(struct pol *p, struct pol_seq *s, uint64_t adopt)
{
	start_switch(p, s, POL_TO_FAST, adopt);
	if (!s->resume_ns)
		s->resume_ns = p->now;
	fast_add(p, s, (int64_t)s->bytes);
	p->st.swap_ins++;
	if (adopt)
		s->run = POL_RUN_PREFETCH;
	else
		set_run(p, s, POL_RUN_PREFETCH, POL_FAST, s->bytes);
	if (!s->owner_moves)
		emit(p, s, POL_MIGRATE, 0, POL_FAST, s->bytes);
	tenant_sets(p, s->t);
}

static void swap_out(struct pol *p, struct pol_seq *s, uint64_t adopt)
{
	if (backlogged(s) && !adopt) {
		p->st.preemptions++;
		s->t->preemptions++;
	}
	start_switch(p, s, POL_TO_SLOW, adopt);
	p->outgoing += s->bytes;
	p->st.swap_outs++;
	if (adopt)
		s->run = POL_RUN_PREEMPT;
	else
		set_run(p, s, POL_RUN_PREEMPT, POL_SLOW, dirty(s));
	if (!s->owner_moves)
		emit(p, s, POL_MIGRATE, 0, POL_SLOW, dirty(s));
	tenant_sets(p, s->t);
}

double pol_switch_seconds(const struct pol *p, int tier, uint64_t bytes)
{
	return (double)bytes / p->bw[tier == POL_FAST ? 0 : 1].bps;
}

/* Timers due at @now: protection ends, predicted needs become waits. */
static void run_timers(struct pol *p)
{
	struct heap_node *n;

	while ((n = heap_top(&p->protect)) && S_OF(n, tnode)->tkey <= p->now)
		place(p, S_OF(n, tnode));	/* now a victim candidate */
	while ((n = heap_top(&p->expect)) && S_OF(n, tnode)->tkey <= p->now) {
		struct pol_seq *s = S_OF(n, tnode);

		unplace(p, s);
		p->st.prefetches++;
		/* Queued as waiting, priced and ordered like any other. */
		backlog_change(p, s->t, +1);
		s->demand = POL_DEMAND_WAITING;
		place(p, s);
	}
}

static struct pol_seq *top_seq(struct heap *h)
{
	struct heap_node *n = heap_top(h);

	return n ? S_OF(n, hnode) : NULL;
}

/* Pool pressure: free the cheapest first, idle before running. */
static void reclaim(struct pol *p)
{
	while (p->reclaim && p->inflight < p->cfg.max_inflight) {
		struct pol_seq *v = top_seq(&p->idle);
		struct heap_node *vt;

		if (!v && (vt = heap_top(&p->victim_t)))
			v = top_seq(&T_OF(vt, in_victim)->victims);
		if (!v)
			return;
		p->reclaim -= v->bytes < p->reclaim ? v->bytes : p->reclaim;
		p->st.reclaims++;
		swap_out(p, v, 0);
	}
}

/*
 * Is evicting @v for @s worth it? Another tenant's victim: only when the
 * counter gap beats the switch's price plus the hysteresis margin. The
 * same tenant's: only for a strictly higher priority.
 */
static bool worth(struct pol *p, struct pol_tenant *wt, struct pol_seq *s,
		  struct pol_tenant *vt, struct pol_seq *v)
{
	double price;

	if (vt == wt)
		return s->prio > v->prio;
	price = (pol_switch_seconds(p, POL_SLOW, dirty(v)) +
		 pol_switch_seconds(p, POL_FAST, s->bytes)) * p->cfg.tokens_per_s;
	return vt->counter - wt->counter > p->cfg.hysteresis + price;
}

static void admit(struct pol *p)
{
	struct pol_tenant *skipped[64];
	size_t nskipped = 0;

	while (p->inflight < p->cfg.max_inflight) {
		struct heap_node *n = heap_top(&p->waiting_t);
		struct pol_tenant *wt, *vt = NULL;
		struct pol_seq *s, *v;
		uint64_t free_b;

		if (!n)
			break;
		wt = T_OF(n, in_wait);
		s = top_seq(&wt->waitq);
		if (wt->quota && wt->fast_bytes + s->bytes > wt->quota) {
			/* Over its quota: the next tenant in line may go. */
			if (nskipped == sizeof(skipped) / sizeof(skipped[0]))
				break;
			heap_remove(&p->waiting_t, &wt->in_wait);
			skipped[nskipped++] = wt;
			continue;
		}
		free_b = p->capacity > p->used + p->headroom ?
			 p->capacity - p->used - p->headroom : 0;
		if (free_b >= s->bytes) {
			swap_in(p, s, 0);
			continue;
		}
		if (free_b + p->outgoing >= s->bytes)
			break;	/* room is on its way */
		v = top_seq(&p->idle);
		if (!v) {
			n = heap_top(&p->victim_t);
			if (!n)
				break;
			vt = T_OF(n, in_victim);
			/* The waiter's own tenant may be the top victim
			 * tenant only when nobody else holds a victim. */
			v = top_seq(&vt->victims);
			if (!worth(p, wt, s, vt, v)) {
				p->st.rejected_gain++;
				break;
			}
		}
		swap_out(p, v, 0);
	}
	while (nskipped)
		tenant_sets(p, skipped[--nskipped]);
}

size_t pol_decide(struct pol *p, uint64_t now)
{
	if (now > p->now)
		p->now = now;
	run_timers(p);
	if (!p->paused) {
		reclaim(p);
		admit(p);
	}
	return p->nout;
}

size_t pol_take(struct pol *p, struct pol_decision *d, size_t n)
{
	if (n > p->nout)
		n = p->nout;
	if (!n)
		return 0;
	memcpy(d, p->out, n * sizeof(*d));
	memmove(p->out, p->out + n, (p->nout - n) * sizeof(*d));
	p->nout -= n;
	return n;
}

void pol_tick(struct pol *p, uint64_t now)
{
	if (now > p->now)
		p->now = now;
	for (size_t i = 0; i < p->ntenants; i++) {
		struct pol_tenant *t = p->tenants[i];
		uint64_t dt = p->now - t->last_mem_ns;

		t->last_mem_ns = p->now;
		if (p->cfg.price_mem > 0 && t->fast_bytes && dt)
			charge(p, t, p->cfg.price_mem * (double)t->fast_bytes /
			       (1u << 30) * (double)dt / 1e9);
	}
}

/* ---- sequence events ----------------------------------------------------- */

struct pol_seq *pol_seq_get(const struct pol *p, uint64_t id)
{
	struct pol_seq key = { .id = id };
	void *const *r = tfind(&key, &p->seq_tree, seq_cmp);

	return r ? *r : NULL;
}

int pol_seq_add(struct pol *p, uint64_t id, uint32_t tenant, uint64_t bytes,
		int tier, bool owner_moves)
{
	struct pol_tenant *t = pol_tenant_get(p, tenant);
	struct pol_seq *s;
	void *r;

	if (tier != POL_FAST && tier != POL_SLOW)
		return -EINVAL;
	if (!t) {
		int err = pol_tenant_set(p, tenant, 1.0, 0);

		if (err)
			return err;
		t = pol_tenant_get(p, tenant);
	}
	if (pol_seq_get(p, id))
		return -EEXIST;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->id = id;
	s->t = t;
	s->bytes = bytes;
	s->owner_moves = owner_moves;
	s->at = tier == POL_FAST ? POL_AT_FAST : POL_AT_SLOW;
	s->clean = tier == POL_FAST ? 0 : bytes;
	s->order = ++p->next_order;
	s->resident_since = p->now;
	s->hnode.idx = s->tnode.idx = HEAP_NONE;
	r = tsearch(s, &p->seq_tree, seq_cmp);
	if (!r) {
		free(s);
		return -ENOMEM;
	}
	p->nseqs++;
	if (s->at == POL_AT_FAST)
		fast_add(p, s, (int64_t)bytes);
	backlog_change(p, t, +1);
	place(p, s);
	return 0;
}

int pol_seq_del(struct pol *p, uint64_t id)
{
	struct pol_seq *s = pol_seq_get(p, id);

	if (!s)
		return -ENOENT;
	unplace(p, s);
	if (s->at == POL_AT_FAST || s->at == POL_TO_FAST)
		fast_add(p, s, -(int64_t)s->bytes);
	if (s->at == POL_TO_SLOW) {
		fast_add(p, s, -(int64_t)s->bytes);
		p->outgoing -= s->switch_bytes;
	}
	if (s->at == POL_TO_FAST || s->at == POL_TO_SLOW)
		p->inflight--;
	if (backlogged(s))
		backlog_change(p, s->t, -1);
	tenant_sets(p, s->t);
	tdelete(s, &p->seq_tree, seq_cmp);
	p->nseqs--;
	free(s);
	return 0;
}

int pol_seq_demand(struct pol *p, uint64_t id, int demand)
{
	struct pol_seq *s = pol_seq_get(p, id);

	if (!s)
		return -ENOENT;
	if (demand < POL_DEMAND_NONE || demand > POL_DEMAND_IDLE)
		return -EINVAL;
	if (backlogged(s) != (demand != POL_DEMAND_IDLE))
		backlog_change(p, s->t, demand == POL_DEMAND_IDLE ? -1 : +1);
	if (demand == POL_DEMAND_WAITING && s->demand != demand)
		s->need_ns = p->now;
	if (demand == POL_DEMAND_IDLE)
		s->resume_ns = 0;	/* nobody waits for a failed attempt */
	s->demand = demand;
	if (demand != POL_DEMAND_IDLE)
		s->expect_at = 0;
	place(p, s);
	return 0;
}

int pol_seq_prio(struct pol *p, uint64_t id, int prio)
{
	struct pol_seq *s = pol_seq_get(p, id);

	if (!s)
		return -ENOENT;
	s->prio = prio;
	if (s->hwhich == IN_WAITQ)
		heap_update(&s->t->waitq, &s->hnode);
	else if (s->hwhich == IN_VICTIMS)
		heap_update(&s->t->victims, &s->hnode);
	else if (s->hwhich == IN_IDLE)
		heap_update(&p->idle, &s->hnode);
	return 0;
}

int pol_seq_tokens(struct pol *p, uint64_t id, uint64_t in, uint64_t out,
		   uint64_t bytes)
{
	struct pol_seq *s = pol_seq_get(p, id);

	if (!s)
		return -ENOENT;
	if (in > (1ULL << 40) || out > (1ULL << 40))
		return -EINVAL;
	charge(p, s->t, (double)in * p->cfg.price_in +
			(double)out * p->cfg.price_out);
	/* Only a resident sequence grows; a moving one keeps its size until
	 * the switch ends, so the accounts of the move stay true. */
	if (bytes != s->bytes && (s->at == POL_AT_FAST || s->at == POL_AT_SLOW)) {
		if (s->at == POL_AT_FAST)
			fast_add(p, s, (int64_t)bytes - (int64_t)s->bytes);
		s->bytes = bytes;
		if (s->clean > bytes)
			s->clean = bytes;
		if (s->at == POL_AT_SLOW)
			s->clean = bytes;
		if (s->hwhich == IN_VICTIMS)
			heap_update(&s->t->victims, &s->hnode);
		else if (s->hwhich == IN_IDLE)
			heap_update(&p->idle, &s->hnode);
	}
	return 0;
}

int pol_seq_expect(struct pol *p, uint64_t id, uint64_t when)
{
	struct pol_seq *s = pol_seq_get(p, id);

	if (!s)
		return -ENOENT;
	s->expect_at = when;
	if (s->at == POL_AT_SLOW)
		place(p, s);
	return 0;
}

int pol_seq_restore(struct pol *p, uint64_t id, int run, int demand,
		    uint64_t cookie)
{
	struct pol_seq *s = pol_seq_get(p, id);
	int err;

	if (!s)
		return -ENOENT;
	if (run < POL_RUN_RUNNABLE || run > POL_RUN_PREFETCH)
		return -EINVAL;
	err = pol_seq_demand(p, id, demand);
	if (err)
		return err;
	s->run = run;
	/* A switch the last daemon started is finished, not undone: the
	 * engine already saw its run state. */
	if (run == POL_RUN_PREEMPT && s->at == POL_AT_FAST)
		swap_out(p, s, cookie ? cookie : ++p->next_cookie);
	else if (run == POL_RUN_PREFETCH && s->at == POL_AT_SLOW)
		swap_in(p, s, cookie ? cookie : ++p->next_cookie);
	else if (run == POL_RUN_PREFETCH && s->at == POL_AT_FAST)
		set_run(p, s, POL_RUN_RUNNABLE, POL_FAST, 0);
	else if (cookie > p->next_cookie)
		p->next_cookie = cookie;
	return 0;
}

int pol_seq_move(struct pol *p, uint64_t id, int tier)
{
	struct pol_seq *s = pol_seq_get(p, id);

	if (!s)
		return -ENOENT;
	if (tier != POL_FAST && tier != POL_SLOW)
		return -EINVAL;
	if (!movable(p, s))
		return -EOPNOTSUPP;
	if (s->at == POL_TO_FAST || s->at == POL_TO_SLOW)
		return -EBUSY;
	if ((tier == POL_FAST) == (s->at == POL_AT_FAST))
		return -EALREADY;
	if (tier == POL_FAST)
		swap_in(p, s, 0);
	else
		swap_out(p, s, 0);
	return 0;
}

static void bw_sample(struct pol *p, int tier, uint64_t bytes, uint64_t ns)
{
	struct pol_bw *b = &p->bw[tier == POL_FAST ? 0 : 1];
	double x;

	if (!bytes || !ns)
		return;
	x = (double)bytes * 1e9 / (double)ns;
	b->bps = b->samples ? p->cfg.bw_alpha * x +
			      (1 - p->cfg.bw_alpha) * b->bps : x;
	b->samples++;
	b->bytes += bytes;
	b->ns += ns;
}

/* A swap-in arrived: how long its sequence waited for it (see pol_stats). */
static void resume_done(struct pol *p, struct pol_seq *s, uint64_t bytes)
{
	uint64_t from = s->resume_ns ? s->resume_ns : s->issued_ns;

	if (s->need_ns > from)
		from = s->need_ns;
	if (s->expect_at > from)
		from = s->expect_at;
	p->st.resumes++;
	p->st.resume_bytes += bytes;
	p->st.resume_wait_ns += p->now > from ? p->now - from : 0;
	s->resume_ns = 0;
}

int pol_switch_done(struct pol *p, uint64_t id, uint64_t cookie, bool ok,
		    uint64_t bytes, uint64_t ns)
{
	struct pol_seq *s = pol_seq_get(p, id);

	if (!s)
		return -ENOENT;
	if (s->cookie != cookie ||
	    (s->at != POL_TO_FAST && s->at != POL_TO_SLOW))
		return 0;	/* stale: a switch since superseded */
	p->inflight--;
	if (!ok)
		p->st.failed++;
	if (s->at == POL_TO_FAST) {
		headroom_learn(p, ok, s->switch_bytes);
		if (ok) {
			resume_done(p, s, bytes);
			bw_sample(p, POL_FAST, bytes, ns);
			s->at = POL_AT_FAST;
			s->clean = s->bytes;	/* the slow copy stays valid */
			s->resident_since = p->now;
			s->expect_at = 0;
			set_run(p, s, POL_RUN_RUNNABLE, POL_FAST, 0);
		} else {
			s->at = POL_AT_SLOW;
			fast_add(p, s, -(int64_t)s->switch_bytes);
		}
	} else {
		p->outgoing -= s->switch_bytes;
		if (ok) {
			bw_sample(p, POL_SLOW, bytes, ns);
			s->at = POL_AT_SLOW;
			s->clean = s->bytes;
			fast_add(p, s, -(int64_t)s->switch_bytes);
		} else {
			s->at = POL_AT_FAST;
			set_run(p, s, POL_RUN_RUNNABLE, POL_FAST, 0);
		}
	}
	place(p, s);
	return 0;
}
