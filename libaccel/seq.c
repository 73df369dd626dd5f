// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Sequences: creation (new, or reusing a kept one), growth, tensors,
 * metadata, and the end of a sequence (kept for reuse or freed).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <linux/kvmem.h>

#include "internal.h"

/* Frees every space and the sequence itself; it is on no list. */
void accel_seq_free(struct accel_seq *seq)
{
	uint32_t i;

	for (i = 0; i < seq->nspaces; i++)
		if (seq->spaces[i].bytes)
			seq->ctx->be->space_destroy(seq->ctx, &seq->spaces[i]);
	free(seq->spaces);
	pthread_cond_destroy(&seq->cond);
	pthread_mutex_destroy(&seq->lock);
	free(seq);
}

static struct accel_seq *accel_seq_alloc(struct accel_ctx *ctx,
					 const struct accel_geometry *g,
					 const struct accel_plan *lay,
					 uint32_t tenant)
{
	struct accel_seq *seq = calloc(1, sizeof(*seq));
	pthread_condattr_t ca;

	if (!seq)
		return NULL;
	seq->spaces = calloc(lay->nspaces, sizeof(*seq->spaces));
	if (!seq->spaces) {
		free(seq);
		return NULL;
	}
	seq->ctx = ctx;
	seq->g = *g;
	seq->lay = *lay;
	seq->nspaces = lay->nspaces;
	seq->tenant = tenant;
	pthread_mutex_init(&seq->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&seq->cond, &ca);
	pthread_condattr_destroy(&ca);
	return seq;
}

/* Creates every space of a new sequence. */
static int accel_seq_make_spaces(struct accel_seq *seq)
{
	uint32_t i;
	int ret;

	for (i = 0; i < seq->nspaces; i++) {
		seq->spaces[i].tenant = seq->tenant;
		ret = seq->ctx->be->space_create(seq->ctx, &seq->spaces[i],
						 seq->lay.space_bytes);
		if (ret) {
			seq->spaces[i].bytes = 0;
			return ret;
		}
	}
	return 0;
}

/*
 * Takes the best-fitting kept sequence of geometry g and tenant for want
 * pages: another tenant's would keep its frames charged to that tenant.
 */
static struct accel_seq *accel_take_kept(struct accel_ctx *ctx,
					 const struct accel_geometry *g,
					 uint32_t tenant, uint64_t want)
{
	struct accel_seq *s, **pp, *cand[64];
	uint64_t mapped[64];
	size_t n = 0, pick;

	pthread_mutex_lock(&ctx->lock);
	for (s = ctx->kept; s && n < 64; s = s->next) {
		if (!memcmp(&s->g, g, sizeof(*g)) && s->tenant == tenant) {
			cand[n] = s;
			mapped[n++] = s->mapped_pages;
		}
	}
	pick = accel_best_fit(mapped, n, want);
	s = NULL;
	if (pick < n) {
		s = cand[pick];
		for (pp = &ctx->kept; *pp != s; pp = &(*pp)->next)
			;
		*pp = s->next;
		ctx->stats.kept_seqs--;
		ctx->stats.kept_bytes -= s->mapped_pages * s->lay.page_size *
					 s->nspaces;
		ctx->stats.seqs_reused++;
	}
	pthread_mutex_unlock(&ctx->lock);
	return s;
}

/* SPACE_SET of every space that has a kvmem handle. */
int accel_seq_set_spaces(struct accel_seq *seq,
			 const struct kvmem_space_set *tmpl)
{
	uint32_t i;
	int ret;

	for (i = 0; i < 2 * seq->nspaces; i++) {
		struct kvmem_space_set set = *tmpl;
		const struct accel_space *sp = &seq->spaces[i / 2];

		/*
		 * The space of its frames (host) or host copy (cuda), and the
		 * cuda backend's device grants: the daemon schedules those.
		 */
		set.handle = i % 2 ? sp->dev_handle : sp->handle;
		if (!set.handle)
			continue;
		ret = accel_ioctl(seq->ctx->fd, KVMEM_IOC_SPACE_SET, &set);
		if (ret)
			return ret;
	}
	return 0;
}

static int accel_seq_set(struct accel_seq *seq, uint32_t flags,
			 int32_t priority, uint64_t tokens)
{
	struct kvmem_space_set set = {
		.flags = flags, .priority = priority, .tokens = tokens,
	};

	return accel_seq_set_spaces(seq, &set);
}

ACCEL_EXPORT
int accel_seq_create(struct accel_ctx *ctx, const struct accel_geometry *g,
		     const struct accel_seq_opts *opts, struct accel_seq **out)
{
	struct accel_seq_opts def = { 0 };
	struct accel_plan lay;
	struct accel_seq *seq;
	uint32_t tenant;
	int ret;

	if (!ctx || !out)
		return -EINVAL;
	*out = NULL;
	if (!opts)
		opts = &def;
	if (opts->flags & ~(ACCEL_SEQ_PRIORITY | ACCEL_SEQ_TENANT))
		return -EINVAL;
	tenant = ctx->tenant;
	if (opts->flags & ACCEL_SEQ_TENANT) {
		/* Read only with the flag: older callers' opts end before. */
		if (opts->reserved || opts->tenant >= ctx->ntenants)
			return -EINVAL;
		tenant = opts->tenant;
	}
	ret = accel_layout_make(g, ctx->page_size, &lay);
	if (ret)
		return ret;
	if (opts->hint_tokens > g->max_tokens)
		return -EINVAL;

	seq = accel_take_kept(ctx, g, tenant,
			      accel_layout_pages(&lay, opts->hint_tokens));
	if (seq) {
		uint32_t i;

		seq->tokens = 0;
		seq->written = 0;
		seq->written_known = false;
		for (i = 0; ctx->be->space_reuse && i < seq->nspaces; i++)
			ctx->be->space_reuse(ctx, &seq->spaces[i]);
	} else {
		seq = accel_seq_alloc(ctx, g, &lay, tenant);
		if (!seq)
			return -ENOMEM;
		ret = accel_seq_make_spaces(seq);
		if ((ret == -ENOMEM || ret == -ENOSPC || ret == -EMFILE) &&
		    accel_trim_some(ctx, 0) > 0) {
			/* Kept sequences hold memory, mappings and space ids. */
			accel_seq_free(seq);
			seq = accel_seq_alloc(ctx, g, &lay, tenant);
			ret = seq ? accel_seq_make_spaces(seq) : -ENOMEM;
		}
		if (ret) {
			if (seq)
				accel_seq_free(seq);
			return ret;
		}
		pthread_mutex_lock(&ctx->lock);
		ctx->stats.seqs_created++;
		pthread_mutex_unlock(&ctx->lock);
	}
	seq->user_data = opts->user_data;
	seq->priority = opts->flags & ACCEL_SEQ_PRIORITY ? opts->priority :
			ctx->priority;
	seq->state = ACCEL_SEQ_RESIDENT;
	seq->last_status = 0;
	ret = accel_seq_set(seq, KVMEM_SET_PRIORITY | KVMEM_SET_TOKENS,
			    seq->priority, 0);
	if (!ret && opts->hint_tokens)
		ret = accel_seq_grow(seq, opts->hint_tokens);
	if (ret < 0) {
		accel_seq_free(seq);
		return ret;
	}
	pthread_mutex_lock(&ctx->lock);
	seq->next = ctx->live;
	ctx->live = seq;
	pthread_mutex_unlock(&ctx->lock);
	*out = seq;
	return 0;
}

/*
 * Gives back pages [@from, ...) of the first @n spaces: what a mapping
 * that failed at space @n had added to them. They hold no token (the
 * sequence's tokens lie below @from), and left mapped they would hold
 * frames, charged to the tenant's quota, that the sequence cannot use
 * (seq->mapped_pages says every space has only @from).
 */
static void accel_seq_unmap_from(struct accel_seq *seq, uint64_t from,
				 uint32_t n)
{
	struct accel_ctx *ctx = seq->ctx;
	uint32_t i;

	for (i = 0; i < n; i++) {
		struct accel_space *sp = &seq->spaces[i];

		if (sp->mapped > from &&
		    !ctx->be->unmap(ctx, sp, from, sp->mapped - from))
			sp->mapped = from;
	}
}

/* Frames that mapping pages [0, @pages) of every space takes. */
static uint64_t accel_seq_need(const struct accel_seq *seq, uint64_t pages)
{
	uint64_t need = 0;
	uint32_t i;

	for (i = 0; i < seq->nspaces; i++)
		if (seq->spaces[i].mapped < pages)
			need += pages - seq->spaces[i].mapped;
	return need;
}

/*
 * Maps pages [0, @pages) of every space, all or nothing. Called with
 * seq->lock held and no mapping in progress; drops the lock while the
 * backend maps, with seq->mapping set so that no one else maps meanwhile.
 * When memory runs short, gives back the kept sequences and tries once
 * more.
 */
int accel_seq_map_locked(struct accel_seq *seq, uint64_t pages, bool ahead)
{
	struct accel_ctx *ctx = seq->ctx;
	uint64_t from = seq->mapped_pages;
	bool trimmed = false;
	uint32_t i;
	int ret = 0;

	seq->mapping = true;
	pthread_mutex_unlock(&seq->lock);
	/*
	 * With wait_ms a POPULATE that finds no free frame waits for one
	 * instead of failing: give kept sequences back before it, not after
	 * the wait ran out.
	 */
	if (ctx->wait_ms && ctx->be->id == ACCEL_BACKEND_HOST)
		trimmed = accel_trim_if_short(ctx, accel_seq_need(seq, pages));
	for (i = 0; i < seq->nspaces; i++) {
		struct accel_space *sp = &seq->spaces[i];

		if (sp->mapped >= pages)
			continue;
		ret = ctx->be->map(ctx, sp, sp->mapped, pages - sp->mapped,
				   !ahead);
		/*
		 * -ETIMEDOUT (wait_ms) too: a tenant's quota, which the pool
		 * count above cannot see, may be what kept sequences hold.
		 */
		if ((ret == -ENOMEM || ret == -ETIMEDOUT) && !trimmed) {
			trimmed = true;
			if (accel_trim_some(ctx, 0) > 0)
				ret = ctx->be->map(ctx, sp, sp->mapped,
						   pages - sp->mapped, !ahead);
		}
		if (ret)
			break;
		sp->mapped = pages;
	}
	if (ret)
		accel_seq_unmap_from(seq, from, i);
	pthread_mutex_lock(&seq->lock);
	seq->mapping = false;
	if (!ret) {
		seq->mapped_pages = pages;
		pthread_mutex_lock(&ctx->lock);
		if (ahead)
			ctx->stats.pages_mapped_ahead += (pages - from) *
							 seq->nspaces;
		else
			ctx->stats.pages_mapped_sync += (pages - from) *
							seq->nspaces;
		pthread_mutex_unlock(&ctx->lock);
	}
	pthread_cond_broadcast(&seq->cond);
	return ret;
}

ACCEL_EXPORT
int accel_seq_grow(struct accel_seq *seq, uint64_t tokens)
{
	struct accel_ctx *ctx;
	uint64_t pages, t0 = 0, ahead;
	bool blocked = false;
	int ret = 0;

	if (!seq)
		return -EINVAL;
	ctx = seq->ctx;
	if (tokens > seq->g.max_tokens)
		return -EINVAL;
	pthread_mutex_lock(&seq->lock);
	if (seq->state != ACCEL_SEQ_RESIDENT) {
		ret = -EBUSY;
		goto out;
	}
	if (tokens <= seq->tokens)
		goto out;
	pages = accel_layout_pages(&seq->lay, tokens);
	if (seq->mapped_pages < pages) {
		/* The step path waits for memory: that is what "blocked" is. */
		blocked = true;
		t0 = accel_now_ns();
		while (seq->mapping && seq->mapped_pages < pages)
			pthread_cond_wait(&seq->cond, &seq->lock);
		if (seq->mapped_pages < pages)
			ret = accel_seq_map_locked(seq, pages, false);
		if (ret)
			goto out;
	}
	seq->tokens = tokens;
	if (ctx->step_ahead) {
		ahead = tokens + (uint64_t)ctx->step_ahead * ctx->tokens_per_step;
		if (ahead > seq->g.max_tokens)
			ahead = seq->g.max_tokens;
		seq->ahead_pages = accel_layout_pages(&seq->lay, ahead);
		if (seq->ahead_pages > seq->mapped_pages)
			accel_ahead_kick(seq);
	}
	pthread_mutex_lock(&ctx->lock);
	ctx->stats.grow_calls++;
	if (blocked) {
		ctx->stats.grow_blocked++;
		ctx->stats.grow_blocked_ns += accel_now_ns() - t0;
	}
	pthread_mutex_unlock(&ctx->lock);
out:
	pthread_mutex_unlock(&seq->lock);
	return ret ? ret : blocked;
}

ACCEL_EXPORT
uint64_t accel_seq_tokens(const struct accel_seq *seq)
{
	return seq ? seq->tokens : 0;
}

ACCEL_EXPORT
uint64_t accel_seq_mapped_tokens(struct accel_seq *seq)
{
	uint64_t pages;

	if (!seq)
		return 0;
	pthread_mutex_lock(&seq->lock);
	pages = seq->mapped_pages;
	pthread_mutex_unlock(&seq->lock);
	return accel_layout_tokens(&seq->lay, pages);
}

ACCEL_EXPORT
int accel_seq_tensor(struct accel_seq *seq, uint32_t layer, uint32_t kv,
		     struct accel_tensor *t)
{
	uint64_t offset;
	uint32_t space;

	if (!seq || !t || layer >= seq->g.layers ||
	    (kv != ACCEL_K && kv != ACCEL_V))
		return -EINVAL;
	accel_layout_tensor(&seq->lay, layer, kv, &space, &offset);
	t->base = seq->spaces[space].base + offset;
	t->token_stride = seq->lay.token_bytes;
	t->head_stride = (uint64_t)seq->g.head_dim *
			 accel_dtype_size(seq->g.dtype);
	t->dtype = seq->g.dtype;
	t->on_device = seq->ctx->be->id == ACCEL_BACKEND_CUDA;
	t->max_tokens = seq->g.max_tokens;
	return 0;
}

ACCEL_EXPORT
int accel_seq_set_progress(struct accel_seq *seq, uint64_t tokens_written)
{
	int ret;

	if (!seq || tokens_written > seq->g.max_tokens)
		return -EINVAL;
	ret = accel_seq_set(seq, KVMEM_SET_TOKENS, 0, tokens_written);
	if (!ret) {
		pthread_mutex_lock(&seq->lock);
		seq->written = tokens_written;
		seq->written_known = true;
		pthread_mutex_unlock(&seq->lock);
	}
	return ret;
}

ACCEL_EXPORT
int accel_seq_set_priority(struct accel_seq *seq, int32_t priority)
{
	int ret;

	if (!seq)
		return -EINVAL;
	ret = accel_seq_set(seq, KVMEM_SET_PRIORITY, priority, 0);
	if (!ret)
		seq->priority = priority;
	return ret;
}

/* Whether a finished sequence is worth keeping, and there is room. */
static bool accel_keep(struct accel_seq *seq)
{
	struct accel_ctx *ctx = seq->ctx;

	return seq->state == ACCEL_SEQ_RESIDENT && seq->mapped_pages &&
	       !ctx->stopping && !ctx->no_keep;
}

ACCEL_EXPORT
void accel_seq_destroy(struct accel_seq *seq)
{
	struct accel_ctx *ctx;
	struct accel_seq **pp;
	bool keep;

	if (!seq)
		return;
	ctx = seq->ctx;
	accel_seq_wait(seq, -1);
	accel_ahead_forget(seq);

	/*
	 * A kept sequence is the context's the moment it is on the kept
	 * list (a trim or a create may take it at once): reset what kvmem
	 * knows of it before.
	 */
	if (accel_keep(seq))
		accel_seq_set(seq, KVMEM_SET_TOKENS, 0, 0);
	pthread_mutex_lock(&ctx->lock);
	for (pp = &ctx->live; *pp && *pp != seq; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = seq->next;
	pthread_mutex_unlock(&ctx->lock);
	/*
	 * The event thread may have started a swap-in the daemon asked for
	 * before the sequence left the list (run.c): it ends first.
	 */
	accel_seq_wait(seq, -1);
	pthread_mutex_lock(&ctx->lock);
	/* Its completions not taken yet would name a sequence that is gone. */
	accel_cq_forget(ctx, seq);
	keep = accel_keep(seq);
	if (keep) {
		seq->next = ctx->kept;
		ctx->kept = seq;
		ctx->stats.kept_seqs++;
		ctx->stats.kept_bytes += seq->mapped_pages * seq->lay.page_size *
					 seq->nspaces;
	}
	pthread_mutex_unlock(&ctx->lock);
	if (!keep) {
		accel_seq_free(seq);
		return;
	}
	if (ctx->cache_max_bytes)
		accel_trim_some(ctx, ctx->cache_max_bytes);
}
