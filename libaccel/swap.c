// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Swapping a sequence out and in, asynchronously, and the completions
 * that report it.
 *
 * A swap moves every space of the sequence (the pages that hold its
 * tokens). The backend reports the end of each space's move with
 * accel_swap_part_done(); when the last one ends, the sequence changes
 * state and one completion is queued for accel_poll_completions(), with
 * the context's eventfd (accel_fd()) readable while any is queued.
 *
 * The host backend moves a space with one KVMEM_IOC_MIGRATE (KEEP_COPY on
 * the way in, see accel_migrate_pump()), whose end
 * arrives as an event on the kvmem file, read by the event thread. At
 * most ACCEL_MIG_WINDOW migrations are in the kernel at once, the rest
 * wait in a queue: the kernel keeps 256 events per file, so a window
 * below that means no completion can ever be lost to an overflow.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/kvmem.h>

#include "internal.h"

#define ACCEL_MIG_WINDOW	128

/*
 * Makes room in the queue for one more completion beyond those queued and
 * reserved; false if there is no memory. Called with ctx->lock held.
 */
static bool accel_cq_room(struct accel_ctx *ctx)
{
	struct accel_cq *q = &ctx->cq;
	unsigned int cap, i;
	struct accel_completion *n;

	if (q->count + ctx->swaps_inflight + 1 <= q->cap)
		return true;
	cap = q->cap ? 2 * q->cap : 16;
	n = malloc(cap * sizeof(*n));
	if (!n)
		return false;
	for (i = 0; i < q->count; i++)
		n[i] = q->c[(q->head + i) % q->cap];
	free(q->c);
	q->c = n;
	q->head = 0;
	q->cap = cap;
	return true;
}

/*
 * Makes room in the queue for the completion of one more swap, so that
 * queuing it can never fail. 0 or -ENOMEM.
 */
static int accel_cq_reserve(struct accel_ctx *ctx)
{
	int ret = 0;

	pthread_mutex_lock(&ctx->lock);
	if (accel_cq_room(ctx))
		ctx->swaps_inflight++;
	else
		ret = -ENOMEM;
	pthread_mutex_unlock(&ctx->lock);
	return ret;
}

/* Queues a completion. Called with ctx->lock held. */
static void accel_cq_push(struct accel_ctx *ctx, const struct accel_completion *c)
{
	struct accel_cq *q = &ctx->cq;
	uint64_t one = 1;

	/* accel_cq_reserve() made room when the swap started. */
	ctx->swaps_inflight--;
	q->c[(q->head + q->count++) % q->cap] = *c;
	if (q->count == 1 && write(ctx->cq_fd, &one, sizeof(one)) < 0) {
		/* Cannot fail: the counter is 0 or 1, far below its limit. */
	}
}

/*
 * Queues a completion that no swap reserved room for (a run-state change);
 * false (nothing queued) if there is no memory. Called with ctx->lock held.
 */
bool accel_cq_push_grow(struct accel_ctx *ctx,
			const struct accel_completion *c)
{
	if (!accel_cq_room(ctx))
		return false;
	/* accel_cq_push() takes back one reserved slot. */
	ctx->swaps_inflight++;
	accel_cq_push(ctx, c);
	return true;
}

/* Drops the queued completions of a sequence. Called with ctx->lock. */
void accel_cq_forget(struct accel_ctx *ctx, struct accel_seq *seq)
{
	struct accel_cq *q = &ctx->cq;
	unsigned int i, n = 0;
	uint64_t v;

	for (i = 0; i < q->count; i++) {
		struct accel_completion c = q->c[(q->head + i) % q->cap];

		if (c.seq != seq)
			q->c[(q->head + n++) % q->cap] = c;
	}
	q->count = n;
	if (!n && read(ctx->cq_fd, &v, sizeof(v)) < 0) {
		/* EAGAIN: it was not readable. */
	}
}

ACCEL_EXPORT
int accel_poll_completions(struct accel_ctx *ctx, struct accel_completion *c,
			   unsigned int max)
{
	struct accel_cq *q;
	unsigned int n = 0;
	uint64_t v;

	if (!ctx || (!c && max))
		return -EINVAL;
	q = &ctx->cq;
	pthread_mutex_lock(&ctx->lock);
	while (n < max && q->count) {
		c[n++] = q->c[q->head];
		q->head = (q->head + 1) % q->cap;
		q->count--;
	}
	if (!q->count && read(ctx->cq_fd, &v, sizeof(v)) < 0) {
		/* EAGAIN: it was not readable. */
	}
	pthread_mutex_unlock(&ctx->lock);
	return (int)n;
}

void accel_swap_part_done(struct accel_seq *seq, int status, uint64_t copied,
			  uint64_t reused)
{
	struct accel_ctx *ctx = seq->ctx;
	struct accel_completion c = { 0 };
	bool out;

	pthread_mutex_lock(&seq->lock);
	seq->swap_copied += copied;
	seq->swap_reused += reused;
	if (status && !seq->swap_status)
		seq->swap_status = status;
	if (--seq->swap_pending) {
		pthread_mutex_unlock(&seq->lock);
		return;
	}
	out = seq->swap_op == ACCEL_OP_SWAP_OUT;
	/*
	 * A failed swap leaves the data where the kernel left it, all of it
	 * reachable: a failed swap-out leaves the sequence usable, a failed
	 * swap-in leaves it swapped, to be swapped in again.
	 */
	if (out)
		seq->state = seq->swap_status ? ACCEL_SEQ_RESIDENT :
						ACCEL_SEQ_SWAPPED;
	else
		seq->state = seq->swap_status ? ACCEL_SEQ_SWAPPED :
						ACCEL_SEQ_RESIDENT;
	seq->last_status = seq->swap_status;
	c.seq = seq;
	c.user_data = seq->user_data;
	c.op = seq->swap_op;
	c.status = seq->swap_status;
	c.bytes_copied = seq->swap_copied;
	c.bytes_reused = seq->swap_reused;
	pthread_mutex_lock(&ctx->lock);
	if (!c.status) {
		if (out)
			ctx->stats.swaps_out++;
		else
			ctx->stats.swaps_in++;
	}
	ctx->stats.swap_bytes_copied += c.bytes_copied;
	ctx->stats.swap_bytes_reused += c.bytes_reused;
	if (seq->directed)
		ctx->swaps_inflight--;	/* the engine asked for nothing */
	else
		accel_cq_push(ctx, &c);
	accel_run_swapped(seq, out, !c.status);
	pthread_mutex_unlock(&ctx->lock);
	seq->directed = false;
	pthread_cond_broadcast(&seq->cond);
	pthread_mutex_unlock(&seq->lock);
}

/*
 * Submits queued migrations while the window has room. Those the kernel
 * refuses at once end here, after ctx->lock is dropped (lock order).
 */
static void accel_migrate_pump(struct accel_ctx *ctx)
{
	struct accel_mig *failed = NULL, *m;

	pthread_mutex_lock(&ctx->lock);
	while (ctx->mig_head && ctx->mig_inflight < ACCEL_MIG_WINDOW) {
		struct kvmem_migrate req;
		int ret;

		m = ctx->mig_head;
		ctx->mig_head = m->next;
		if (!ctx->mig_head)
			ctx->mig_tail = NULL;
		memset(&req, 0, sizeof(req));
		req.handle = m->seq->spaces[m->space].handle;
		/*
		 * A swap-in keeps the swap tier's frames as clean copies, so
		 * that the next swap-out copies only the pages written since.
		 * A swap-out keeps nothing: it is there to give the preferred
		 * tier's frames back (kvmem never reclaims clean copies, and
		 * they count against the tenant's quota).
		 */
		if (m->tier == ctx->tier)
			req.flags = KVMEM_MIGRATE_KEEP_COPY;
		req.first = 0;
		req.count = m->pages;
		req.tier = m->tier;
		req.cookie = (uint64_t)(uintptr_t)m->seq;
		ret = accel_ioctl(ctx->fd, KVMEM_IOC_MIGRATE, &req);
		if (ret) {
			m->pages = (uint64_t)(int64_t)ret;
			m->next = failed;
			failed = m;
			continue;
		}
		ctx->mig_inflight++;
		free(m);
	}
	pthread_mutex_unlock(&ctx->lock);
	while (failed) {
		m = failed;
		failed = m->next;
		accel_swap_part_done(m->seq, (int)(int64_t)m->pages, 0, 0);
		free(m);
	}
}

/**
 * accel_migrate_queue() - queue the move of every space of a sequence
 * @ctx: the context
 * @seq: the sequence
 * @pages: pages [0, @pages) of each space to move
 * @tier: target tier
 *
 * All or nothing: either every space's move is queued, each to end in one
 * accel_swap_part_done(), or none is.
 *
 * Return: 0, or -ENOMEM.
 */
int accel_migrate_queue(struct accel_ctx *ctx, struct accel_seq *seq,
			uint64_t pages, uint32_t tier)
{
	struct accel_mig *head = NULL, **tail = &head, *m;
	uint32_t i;

	for (i = 0; i < seq->nspaces; i++) {
		m = calloc(1, sizeof(*m));
		if (!m) {
			while (head) {
				m = head;
				head = m->next;
				free(m);
			}
			return -ENOMEM;
		}
		m->seq = seq;
		m->space = i;
		m->pages = pages;
		m->tier = tier;
		*tail = m;
		tail = &m->next;
	}
	pthread_mutex_lock(&ctx->lock);
	if (ctx->mig_tail)
		ctx->mig_tail->next = head;
	else
		ctx->mig_head = head;
	for (m = head; m->next; m = m->next)
		;
	ctx->mig_tail = m;
	pthread_mutex_unlock(&ctx->lock);
	accel_migrate_pump(ctx);
	return 0;
}

/* Handles the events read from the kvmem file. */
static void accel_events_handle(struct accel_ctx *ctx,
				const struct kvmem_event *ev, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (ev[i].type == KVMEM_EVENT_RUN)
			accel_run_event(ctx, &ev[i]);
		if (ev[i].type != KVMEM_EVENT_MIGRATE)
			continue;	/* only the manager gets the others */
		pthread_mutex_lock(&ctx->lock);
		ctx->mig_inflight--;
		pthread_mutex_unlock(&ctx->lock);
		accel_swap_part_done((struct accel_seq *)(uintptr_t)ev[i].cookie,
				     ev[i].status, ev[i].bytes_copied,
				     ev[i].bytes_reused);
	}
	accel_migrate_pump(ctx);
}

static void *accel_events_main(void *arg)
{
	struct accel_ctx *ctx = arg;
	struct kvmem_event ev[16];

	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = ctx->fd, .events = POLLIN },
			{ .fd = ctx->stop_fd, .events = POLLIN },
		};
		ssize_t got;

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;	/* cannot be: both fds are the context's */
		}
		if (pfd[1].revents)
			break;
		if (!(pfd[0].revents & POLLIN))
			continue;
		got = read(ctx->fd, ev, sizeof(ev));
		if (got > 0)
			accel_events_handle(ctx, ev, (unsigned int)got /
					    sizeof(ev[0]));
	}
	return NULL;
}

int accel_events_start(struct accel_ctx *ctx)
{
	int ret;

	ret = pthread_create(&ctx->event_thread, NULL, accel_events_main, ctx);
	if (ret)
		return -ret;
	ctx->event_thread_on = true;
	return 0;
}

void accel_events_stop(struct accel_ctx *ctx)
{
	uint64_t one = 1;

	if (!ctx->event_thread_on)
		return;
	if (write(ctx->stop_fd, &one, sizeof(one)) < 0) {
		/* Cannot fail: the counter was 0. */
	}
	pthread_join(ctx->event_thread, NULL);
	ctx->event_thread_on = false;
}

/*
 * Starts a swap of a resident (out) or swapped (in) sequence; @directed:
 * the daemon's (run.c), whose end queues no completion. Called with
 * seq->lock held; returns with it released.
 */
int accel_swap_locked(struct accel_seq *seq, uint32_t op, bool directed)
{
	struct accel_ctx *ctx = seq->ctx;
	uint64_t used;
	uint32_t i;
	int ret = 0;

	if (ctx->swap_tier == ACCEL_TIER_DEFAULT) {
		pthread_mutex_unlock(&seq->lock);
		return -EOPNOTSUPP;
	}
	if (seq->swap_pending ||
	    seq->state != (op == ACCEL_OP_SWAP_OUT ? ACCEL_SEQ_RESIDENT :
						      ACCEL_SEQ_SWAPPED)) {
		pthread_mutex_unlock(&seq->lock);
		return -EBUSY;
	}
	/* Stop step-ahead, and wait for a mapping in progress. */
	seq->ahead_pages = 0;
	while (seq->mapping)
		pthread_cond_wait(&seq->cond, &seq->lock);
	used = accel_layout_pages(&seq->lay, seq->tokens);
	/*
	 * Pages mapped ahead hold no token yet: give them back rather than
	 * move them. A space may have more mapped than the sequence counts
	 * (a grow that failed half way), so look at each one.
	 */
	for (i = 0; op == ACCEL_OP_SWAP_OUT && i < seq->nspaces; i++) {
		struct accel_space *sp = &seq->spaces[i];

		if (sp->mapped <= used)
			continue;
		ret = ctx->be->unmap(ctx, sp, used, sp->mapped - used);
		if (ret) {
			/* Spaces before this one were cut: so is the sequence. */
			seq->mapped_pages = used;
			pthread_mutex_unlock(&seq->lock);
			return ret;
		}
		sp->mapped = used;
	}
	if (op == ACCEL_OP_SWAP_OUT && seq->mapped_pages > used)
		seq->mapped_pages = used;
	ret = accel_cq_reserve(ctx);
	if (ret) {
		pthread_mutex_unlock(&seq->lock);
		return ret;
	}
	seq->state = op == ACCEL_OP_SWAP_OUT ? ACCEL_SEQ_SWAPPING_OUT :
					       ACCEL_SEQ_SWAPPING_IN;
	seq->swap_op = op;
	seq->directed = directed;
	seq->swap_pending = seq->nspaces;
	seq->swap_status = 0;
	seq->swap_copied = 0;
	seq->swap_reused = 0;
	pthread_mutex_unlock(&seq->lock);

	/*
	 * A swap-in takes frames of the preferred tier, where kept
	 * sequences may hold them: give those back first, as a grow would,
	 * rather than let the migration fail with -ENOMEM.
	 */
	if (op == ACCEL_OP_SWAP_IN)
		accel_trim_if_short(ctx, used * seq->nspaces);
	ret = ctx->be->swap(ctx, seq, op, used);
	if (ret) {
		pthread_mutex_lock(&ctx->lock);
		ctx->swaps_inflight--;
		pthread_mutex_unlock(&ctx->lock);
		pthread_mutex_lock(&seq->lock);
		seq->swap_pending = 0;
		seq->directed = false;
		seq->state = op == ACCEL_OP_SWAP_OUT ? ACCEL_SEQ_RESIDENT :
						       ACCEL_SEQ_SWAPPED;
		pthread_cond_broadcast(&seq->cond);
		pthread_mutex_unlock(&seq->lock);
	}
	return ret;
}

static int accel_swap(struct accel_seq *seq, uint32_t op)
{
	if (!seq)
		return -EINVAL;
	pthread_mutex_lock(&seq->lock);
	return accel_swap_locked(seq, op, false);
}

ACCEL_EXPORT
int accel_seq_swap_out(struct accel_seq *seq)
{
	return accel_swap(seq, ACCEL_OP_SWAP_OUT);
}

ACCEL_EXPORT
int accel_seq_swap_in(struct accel_seq *seq)
{
	return accel_swap(seq, ACCEL_OP_SWAP_IN);
}

ACCEL_EXPORT
int accel_seq_state(struct accel_seq *seq)
{
	int state;

	if (!seq)
		return -EINVAL;
	pthread_mutex_lock(&seq->lock);
	state = seq->state;
	pthread_mutex_unlock(&seq->lock);
	return state;
}

ACCEL_EXPORT
int accel_seq_wait(struct accel_seq *seq, int timeout_ms)
{
	struct timespec until;
	int ret = 0;

	if (!seq)
		return -EINVAL;
	clock_gettime(CLOCK_MONOTONIC, &until);
	if (timeout_ms > 0) {
		until.tv_sec += timeout_ms / 1000;
		until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
	}
	pthread_mutex_lock(&seq->lock);
	while (seq->swap_pending && !ret) {
		if (timeout_ms < 0)
			pthread_cond_wait(&seq->cond, &seq->lock);
		else if (pthread_cond_timedwait(&seq->cond, &seq->lock,
						&until))
			ret = seq->swap_pending ? -ETIMEDOUT : 0;
	}
	if (!ret)
		ret = seq->last_status;
	pthread_mutex_unlock(&seq->lock);
	return ret;
}
