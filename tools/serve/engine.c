// SPDX-License-Identifier: GPL-2.0
/*
 * kvmem-serve's engine and scheduler (serve.h): one loop for every
 * policy, so that the policies differ only in what a switch costs.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "serve.h"

struct attn_pool *serve_pool;

/* Every store's struct kv begins with its counters. */
struct kv_counters *kv_counters(struct kv *kv)
{
	return (struct kv_counters *)kv;
}

double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void sleep_until(double t)
{
	struct timespec ts;

	ts.tv_sec = (time_t)t;
	ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
	       EINTR)
		;
}

/* ------------------------------------------------------------ the model */

static float m_emb[M_VOCAB][M_DMODEL];
static float m_ek[M_LAYERS][M_VOCAB][M_KVDIM];
static float m_ev[M_LAYERS][M_VOCAB][M_KVDIM];
static float m_pos[64][M_KVDIM];
static float m_wq[M_LAYERS][M_QDIM][M_DMODEL];
static float m_wo[M_LAYERS][M_DMODEL][M_QDIM];
static int m_ready;

static float wrand(uint64_t stream, uint64_t i, float scale)
{
	return (float)((trace_rand01(0x5eed, stream, i) * 2 - 1) * scale);
}

static void model_init(void)
{
	if (m_ready)
		return;
	for (int v = 0; v < M_VOCAB; v++)
		for (int d = 0; d < M_DMODEL; d++)
			m_emb[v][d] = wrand(1, (uint64_t)v * M_DMODEL + d, 1);
	for (int l = 0; l < M_LAYERS; l++) {
		for (int v = 0; v < M_VOCAB; v++)
			for (int d = 0; d < M_KVDIM; d++) {
				uint64_t i = ((uint64_t)l * M_VOCAB + v) * M_KVDIM + d;

				m_ek[l][v][d] = wrand(2, i, 1);
				m_ev[l][v][d] = wrand(3, i, 1);
			}
		for (int o = 0; o < M_QDIM; o++)
			for (int d = 0; d < M_DMODEL; d++)
				m_wq[l][o][d] = wrand(4, ((uint64_t)l * M_QDIM + o) *
						      M_DMODEL + d, 0.25f);
		for (int o = 0; o < M_DMODEL; o++)
			for (int d = 0; d < M_QDIM; d++)
				m_wo[l][o][d] = wrand(5, ((uint64_t)l * M_DMODEL + o) *
						      M_QDIM + d, 0.125f);
	}
	for (int p = 0; p < 64; p++)
		for (int d = 0; d < M_KVDIM; d++)
			m_pos[p][d] = wrand(6, (uint64_t)p * M_KVDIM + d, 0.5f);
	m_ready = 1;
}

/* K and V of token id at position pos, layer l: a function of both only,
 * so that recomputing them gives the same bits. */
static void model_kv(uint32_t l, uint32_t id, uint64_t pos, float *k, float *v)
{
	for (int d = 0; d < M_KVDIM; d++) {
		k[d] = m_ek[l][id][d] + m_pos[pos % 64][d];
		v[d] = m_ev[l][id][d];
	}
}

static uint64_t hash_bytes(const void *p, size_t n, uint64_t h)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	return h;
}

/* ------------------------------------------------------------ metrics */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double pct(double *v, uint64_t n, double p)
{
	double r;
	uint64_t i;

	if (!n)
		return 0;
	r = p / 100 * (double)(n - 1);
	i = (uint64_t)r;
	if (i + 1 >= n)
		return v[n - 1];
	return v[i] + (v[i + 1] - v[i]) * (r - (double)i);
}

struct samples {
	double *v;
	uint64_t n, cap;
};

static int push(struct samples *s, double x)
{
	if (s->n == s->cap) {
		uint64_t cap = s->cap ? 2 * s->cap : 1024;
		double *v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = x;
	return 0;
}

double measure_memcpy_bw(uint64_t bytes, double seconds)
{
	char *a = malloc(bytes), *b = malloc(bytes);
	double t0, t, best = 0;

	if (!a || !b) {
		free(a);
		free(b);
		return 0;
	}
	memset(a, 1, bytes);
	memset(b, 2, bytes);
	t0 = now_s();
	do {
		t = now_s();
		memcpy(b, a, bytes);
		t = now_s() - t;
		if (t > 0 && bytes / t > best)
			best = bytes / t;
		a[0]++;
	} while (now_s() - t0 < seconds);
	free(a);
	free(b);
	return best;
}

/* ------------------------------------------------------------ scheduler */

struct sched {
	const struct trace *t;
	const struct kv_ops *ops;
	const struct engine_params *ep;
	struct kv *kv;
	struct conv *cv;
	uint32_t n;
	double vtc[TRACE_MAX_TENANTS];
	uint32_t active[TRACE_MAX_TENANTS];
	struct conv **order;
	uint64_t step;
	double t0;
};

static double conv_key(const struct sched *s, const struct conv *c)
{
	return s->vtc[c->tenant] - s->ep->prio_tokens * c->prio;
}

static const struct sched *sort_sched;

static int cmp_conv(const void *a, const void *b)
{
	const struct conv *x = *(struct conv *const *)a;
	const struct conv *y = *(struct conv *const *)b;
	double kx = conv_key(sort_sched, x), ky = conv_key(sort_sched, y);

	if (kx != ky)
		return kx < ky ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

uint64_t serve_host_units, serve_max_tokens;

/* VTC: an idle tenant that becomes backlogged is lifted to the minimum
 * of the backlogged ones (no banking of idle credit). */
static void tenant_wake(struct sched *s, uint32_t tn)
{
	double mn = INFINITY;

	if (s->active[tn]++)
		return;
	for (uint32_t i = 0; i < s->t->p.tenants; i++)
		if (i != tn && s->active[i] && s->vtc[i] < mn)
			mn = s->vtc[i];
	if (mn != INFINITY && s->vtc[tn] < mn)
		s->vtc[tn] = mn;
}

static void turn_start(struct sched *s, struct conv *c)
{
	const struct trace_turn *tu = &c->tc->turn[c->turn];

	for (uint32_t i = 0; i < tu->prompt; i++)
		c->hist[c->hlen + i] = (uint32_t)(trace_rand64(s->t->p.seed,
			TRACE_S_TOKEN, (uint64_t)c->id << 32 | (c->hlen + i)) %
			M_VOCAB);
	c->hlen += tu->prompt;
	c->prompt_new = tu->prompt;
	c->produced = 0;
	c->active = true;
	c->turn_arrival = c->next_at;
	tenant_wake(s, c->tenant);
}

int engine_run(const struct trace *t, const struct kv_ops *ops,
	       const struct engine_params *ep, struct run_result *r)
{
	struct sched S = { .t = t, .ops = ops, .ep = ep, .n = t->p.conversations };
	struct sched *s = &S;
	struct samples ttft = { 0 }, tbt = { 0 };
	struct conv **sel = NULL, **fw = NULL;
	float *q = NULL, *out = NULL, *x = NULL;
	uint64_t *kvhw = NULL, recomputed = 0, switches = 0;
	double idle_stall = 0, overrun = 0, first_arrival, last_end = 0;
	double wsvc_cum[TRACE_MAX_TENANTS] = { 0 };
	uint32_t nt = t->p.tenants, ndone = 0;
	double win_start = 0, win_svc[TRACE_MAX_TENANTS] = { 0 };
	double fair_svc[TRACE_MAX_TENANTS] = { 0 };
	uint64_t fair_steps = 0, corrupt_at = ep->corrupt_step;
	int ret;

	memset(r, 0, sizeof(*r));
	model_init();
	r->win_s = 1.0;
	r->ntenants = nt;
	r->nwin = (uint32_t)(ep->max_run_s / r->win_s) + 2;
	r->service = calloc((size_t)r->nwin * nt, sizeof(double));
	s->cv = calloc(s->n, sizeof(*s->cv));
	s->order = calloc(s->n, sizeof(*s->order));
	sel = calloc(s->n, sizeof(*sel));
	fw = calloc(s->n, sizeof(*fw));
	kvhw = calloc(s->n, sizeof(*kvhw));
	q = calloc((size_t)s->n * M_QDIM, sizeof(float));
	out = calloc((size_t)s->n * M_QDIM, sizeof(float));
	x = calloc((size_t)s->n * M_DMODEL, sizeof(float));
	if (!r->service || !s->cv || !s->order || !sel || !fw || !kvhw || !q ||
	    !out || !x) {
		ret = -ENOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < s->n; i++) {
		struct conv *c = &s->cv[i];

		c->tc = &t->conv[i];
		c->id = i;
		c->tenant = c->tc->tenant;
		c->next_at = c->tc->arrival_s;
		c->hist = malloc((c->tc->total_tokens + 1) * sizeof(uint32_t));
		if (!c->hist) {
			ret = -ENOMEM;
			goto out;
		}
	}
	first_arrival = s->n ? s->cv[0].next_at : 0;
	ret = ops->open(&s->kv, ep->budget_units, s->n);
	if (ret)
		goto out;
	s->t0 = now_s();
	while (ndone < s->n) {
		double now = now_s() - s->t0, step_t0, model_s, end;
		uint32_t nact = 0, nsel = 0, nfw = 0, epoch;
		uint64_t used = 0, held = 0, need_extra = 0, ptok = 0, ws = 0;
		uint32_t pbudget = ep->chunk;
		bool backlogged[TRACE_MAX_TENANTS] = { false }, all_bl;

		if (now > ep->max_run_s)
			break;
		ops->poll(s->kv);
		epoch = trace_epoch_at(t, now);
		for (uint32_t i = 0; i < s->n; i++) {
			struct conv *c = &s->cv[i];

			if (!c->active && !c->done && c->next_at <= now)
				turn_start(s, c);
			if (c->active) {
				c->prio = trace_priority(t, c->id, epoch,
							 c->prio_cache);
				s->order[nact++] = c;
				backlogged[c->tenant] = true;
			}
			held += ops->units(s->kv, c);
			if (c->hlen && !c->done)
				ws += s->ops->units_for(s->kv, c->hlen);
		}
		if (ws > r->ws_peak_units)
			r->ws_peak_units = ws;
		if (!nact) {
			/* Nothing to do until the next arrival. */
			double next = INFINITY;

			for (uint32_t i = 0; i < s->n; i++)
				if (!s->cv[i].done && s->cv[i].next_at < next)
					next = s->cv[i].next_at;
			if (next == INFINITY)
				break;
			sleep_until(s->t0 + (next < now + 0.005 ? next : now + 0.005));
			continue;
		}
		sort_sched = s;
		qsort(s->order, nact, sizeof(*s->order), cmp_conv);

		/* Who runs: in order, while the batch, the prefill budget and
		 * the memory budget allow. */
		for (uint32_t i = 0; i < nact && nsel < ep->max_batch; i++) {
			struct conv *c = s->order[i];
			bool prefill = c->kv_n + 1 < c->hlen;
			uint64_t need = s->ops->units_for(s->kv, c->hlen);

			if (prefill && !pbudget)
				continue;
			if (used + need > ep->budget_units)
				continue;
			if (prefill) {
				uint64_t left = c->hlen - 1 - c->kv_n;

				pbudget -= left < pbudget ? (uint32_t)left : pbudget;
			}
			used += need;
			sel[nsel++] = c;
			c->last_used = s->step;
		}
		for (uint32_t i = 0; i < nsel; i++) {
			uint64_t have = ops->units(s->kv, sel[i]);
			uint64_t need = s->ops->units_for(s->kv, sel[i]->hlen);

			if (need > have)
				need_extra += need - have;
		}
		/* Make room: idle conversations first (least recently
		 * used), then the backlogged ones that do not run, from the
		 * end of the order. */
		while (held + need_extra > ep->budget_units) {
			struct conv *v = NULL;
			int st;

			for (uint32_t i = 0; i < s->n; i++) {
				struct conv *c = &s->cv[i];

				if (c->active || ops->state(s->kv, c) != KV_RESIDENT)
					continue;
				if (!v || c->last_used < v->last_used)
					v = c;
			}
			for (uint32_t i = nact; !v && i-- > 0;) {
				struct conv *c = s->order[i];

				if (c->last_used == s->step ||
				    ops->state(s->kv, c) != KV_RESIDENT)
					continue;
				v = c;
			}
			if (!v)
				break;	/* what is in flight will free enough */
			st = ops->units(s->kv, v) > 0;
			(void)st;
			held -= ops->units(s->kv, v);
			if (ops->swaps) {
				ret = ops->swap_out(s->kv, v);
				if (ret)
					goto out;
				held += ops->units(s->kv, v);
			} else {
				ops->drop(s->kv, v);
				v->kv_n = 0;
			}
			switches++;
		}
		/* Bring in what runs and is not resident. */
		for (uint32_t i = 0; i < nsel; i++) {
			struct conv *c = sel[i];
			int st = ops->state(s->kv, c);
			uint64_t have = ops->units(s->kv, c);
			uint64_t need = s->ops->units_for(s->kv, c->hlen);

			if (st == KV_SWAPPED) {
				if (held + s->ops->units_for(s->kv, c->kv_n) > ep->budget_units)
					continue;
				ret = ops->swap_in(s->kv, c);
				if (ret == -ENOMEM || ret == -EBUSY)
					continue;	/* frames still on their way out */
				if (ret)
					goto out;
				held += ops->units(s->kv, c);
				continue;
			}
			if ((st == KV_RESIDENT || st == KV_NONE) && need > have &&
			    held + need - have <= ep->budget_units) {
				ret = ops->grow(s->kv, c, c->hlen);
				if (ret && ret != -ENOMEM)
					goto out;
				if (!ret)
					held += need - have;
			}
		}
		/* The step: prefill chunks, then one forward per sequence
		 * whose context is all in the store. */
		step_t0 = now_s();
		pbudget = ep->chunk;
		for (uint32_t i = 0; i < nsel; i++) {
			struct conv *c = sel[i];
			float k[M_KVDIM], v[M_KVDIM];

			if (ops->state(s->kv, c) != KV_RESIDENT ||
			    ops->units(s->kv, c) < s->ops->units_for(s->kv, c->hlen))
				continue;
			while (c->kv_n + 1 < c->hlen && pbudget) {
				uint64_t p = c->kv_n;

				for (uint32_t l = 0; l < M_LAYERS; l++) {
					model_kv(l, c->hist[p], p, k, v);
					ops->write(s->kv, c, l, p, k, v);
				}
				if (p < kvhw[c->id])
					recomputed++;
				else
					kvhw[c->id] = p + 1;
				c->kv_n++;
				pbudget--;
				ptok++;
			}
			if (c->kv_n + 1 == c->hlen)
				fw[nfw++] = c;
		}
		if (corrupt_at && s->step >= corrupt_at && nfw) {
			/* The negative test of the checksums: a lost K. */
			float zk[M_KVDIM] = { 0 }, zv[M_KVDIM];

			model_kv(0, fw[0]->hist[0], 0, zv, zv);
			ops->write(s->kv, fw[0], 0, 0, zk, zv);
			corrupt_at = 0;
		}
		for (uint32_t b = 0; b < nfw; b++)
			memcpy(&x[b * M_DMODEL], m_emb[fw[b]->hist[fw[b]->hlen - 1]],
			       sizeof(m_emb[0]));
		for (uint32_t l = 0; l < M_LAYERS && nfw; l++) {
			for (uint32_t b = 0; b < nfw; b++) {
				struct conv *c = fw[b];
				uint64_t p = c->hlen - 1;
				float k[M_KVDIM], v[M_KVDIM];

				for (int o = 0; o < M_QDIM; o++) {
					float a = 0;

					for (int d = 0; d < M_DMODEL; d++)
						a += m_wq[l][o][d] * x[b * M_DMODEL + d];
					q[b * M_QDIM + o] = a;
				}
				model_kv(l, c->hist[p], p, k, v);
				ops->write(s->kv, c, l, p, k, v);
			}
			ret = ops->attend(s->kv, l, fw, nfw, q, out);
			if (ret)
				goto out;
			for (uint32_t b = 0; b < nfw; b++)
				for (int o = 0; o < M_DMODEL; o++) {
					float a = 0;

					for (int d = 0; d < M_QDIM; d++)
						a += m_wo[l][o][d] * out[b * M_QDIM + d];
					x[b * M_DMODEL + o] += a;
				}
		}
		model_s = (ep->step_base_ms * 1e-3 +
			   ep->step_tok_us * 1e-6 * (double)(ptok + nfw));
		if (!nfw && !ptok) {
			/* Backlogged, nothing could run: waiting on a switch. */
			double w0 = now_s();

			sleep_until(w0 + 0.0002);
			idle_stall += now_s() - w0;
			s->step++;
			continue;
		}
		if (now_s() - step_t0 > model_s)
			overrun++;
		all_bl = true;
		for (uint32_t i = 0; i < nt; i++)
			all_bl &= backlogged[i];
		sleep_until(step_t0 + model_s);
		end = now_s() - s->t0;
		for (uint32_t b = 0; b < nfw; b++) {
			struct conv *c = fw[b];
			uint64_t h = hash_bytes(&x[b * M_DMODEL],
						M_DMODEL * sizeof(float),
						0xcbf29ce484222325ULL);
			uint32_t id = (uint32_t)(h % M_VOCAB);
			double cost = 2.0 + (c->produced == 0 ? (double)c->prompt_new : 0);

			c->kv_n = c->hlen;
			c->checksum = hash_bytes(&h, sizeof(h), c->checksum ^ c->hlen);
			s->vtc[c->tenant] += cost / t->p.weight[c->tenant];
			wsvc_cum[c->tenant] += cost / t->p.weight[c->tenant];
			win_svc[c->tenant] += cost / t->p.weight[c->tenant];
			if (all_bl)
				fair_svc[c->tenant] += cost / t->p.weight[c->tenant];
			if (c->produced == 0)
				ret = push(&ttft, (end - c->turn_arrival) * 1e3);
			else
				ret = push(&tbt, (end - c->last_tok) * 1e3);
			if (ret)
				goto out;
			c->last_tok = end;
			c->produced++;
			r->tokens_out++;
			if (c->produced < c->tc->turn[c->turn].output) {
				c->hist[c->hlen++] = id;
				continue;
			}
			/* The turn's last token: kept for the next prompt. */
			c->hist[c->hlen++] = id;
			c->active = false;
			s->active[c->tenant]--;
			r->requests++;
			c->turn++;
			if (c->turn == c->tc->nturns) {
				c->done = true;
				ndone++;
				ops->drop(s->kv, c);
				r->output_checksum += c->checksum;
				last_end = end;
			} else {
				c->next_at = end + c->tc->turn[c->turn].think_s;
			}
		}
		/* VTC's measure: the spread of the weighted service counted
		 * while every tenant is backlogged; the windows are for the
		 * plot of shares over time. */
		if (all_bl) {
			double mx = -INFINITY, mn = INFINITY;

			fair_steps++;
			for (uint32_t i = 0; i < nt; i++) {
				mx = fmax(mx, fair_svc[i]);
				mn = fmin(mn, fair_svc[i]);
			}
			if (mx - mn > r->max_service_diff)
				r->max_service_diff = mx - mn;
		}
		if (end - win_start >= r->win_s) {
			uint32_t w = (uint32_t)(win_start / r->win_s);

			for (uint32_t i = 0; i < nt && w < r->nwin; i++)
				r->service[(size_t)w * nt + i] = win_svc[i];
			memset(win_svc, 0, sizeof(win_svc));
			win_start = end;
		}
		s->step++;
	}
	r->wall_s = now_s() - s->t0;
	r->incomplete = s->n - ndone;
	r->steps = s->step;
	r->cpu_over_model = s->step ? overrun / (double)s->step : 0;
	r->throughput_tok_s = last_end > first_arrival ?
		r->tokens_out / (last_end - first_arrival) : 0;
	{
		double a = 0, b = 0;

		for (uint32_t i = 0; i < nt; i++) {
			a += fair_svc[i];
			b += fair_svc[i] * fair_svc[i];
		}
		r->jain = b > 0 ? a * a / (nt * b) : 0;
		r->fair_steps = fair_steps;
	}
	qsort(ttft.v, ttft.n, sizeof(double), cmp_double);
	qsort(tbt.v, tbt.n, sizeof(double), cmp_double);
	r->p50_ttft_ms = pct(ttft.v, ttft.n, 50);
	r->p99_ttft_ms = pct(ttft.v, ttft.n, 99);
	r->p99_tbt_ms = pct(tbt.v, tbt.n, 99);
	r->p999_tbt_ms = pct(tbt.v, tbt.n, 99.9);
	r->ttft = ttft.v;
	r->nttft = ttft.n;
	r->tbt = tbt.v;
	r->ntbt = tbt.n;
	ttft.v = tbt.v = NULL;
	{
		struct kv_counters *k = kv_counters(s->kv);

		r->bytes_moved = k->bytes_out + k->bytes_in;
		r->bytes_reused = k->bytes_reused;
		r->copy_bw = k->copy_busy_s > 0 ?
			(double)r->bytes_moved / k->copy_busy_s : 0;
		r->switches = switches;
		r->swaps_out = k->swaps_out;
		r->swaps_in = k->swaps_in;
		r->copy_busy_s = k->copy_busy_s;
		r->stall_s = k->sync_copy_s + idle_stall +
			     (double)recomputed * ep->step_tok_us * 1e-6;
		r->sync_copy_s = k->sync_copy_s;
		r->grows = k->grows;
		r->copies = k->copies;
		r->grows_blocked = k->grows_blocked;
		r->idle_stall_s = idle_stall;
	}
	r->recomputed_tokens = recomputed;
	ret = 0;
out:
	if (s->kv)
		ops->close(s->kv);
	for (uint32_t i = 0; s->cv && i < s->n; i++)
		free(s->cv[i].hist);
	free(s->cv);
	free(s->order);
	free(sel);
	free(fw);
	free(kvhw);
	free(q);
	free(out);
	free(x);
	free(ttft.v);
	free(tbt.v);
	return ret;
}

void run_result_free(struct run_result *r)
{
	free(r->ttft);
	free(r->tbt);
	free(r->service);
	memset(r, 0, sizeof(*r));
}
