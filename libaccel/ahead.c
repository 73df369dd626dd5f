// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Step-ahead mapping (vAttention's "overlapping allocation with compute"):
 * after each grow, a background thread maps the pages the next
 * step_ahead steps will need, so that the engine's next grow finds them
 * mapped and returns without a system call.
 *
 * Sequences whose mapping is behind their target wait in a FIFO on the
 * context (each at most once). The thread takes one at a time and marks it
 * busy (ctx->ahead_busy) so that accel_seq_destroy() can wait for it to
 * let go before freeing the sequence.
 */
#include <errno.h>

#include "internal.h"

/* Pages one step adds to each space, at least one. */
static uint64_t accel_ahead_chunk(const struct accel_seq *seq)
{
	uint64_t n = accel_layout_pages(&seq->lay, seq->ctx->tokens_per_step);

	return n ? n : 1;
}

static void *accel_ahead_main(void *arg)
{
	struct accel_ctx *ctx = arg;
	struct accel_seq *seq;

	pthread_mutex_lock(&ctx->lock);
	for (;;) {
		while (!ctx->stopping && !ctx->ahead_head)
			pthread_cond_wait(&ctx->ahead_cond, &ctx->lock);
		if (ctx->stopping)
			break;
		seq = ctx->ahead_head;
		ctx->ahead_head = seq->ahead_next;
		seq->ahead_queued = false;
		ctx->ahead_busy = seq;
		pthread_mutex_unlock(&ctx->lock);

		pthread_mutex_lock(&seq->lock);
		/*
		 * A step's worth at a time, nearest first, so that a grow
		 * waiting for the next step's pages waits for one chunk, not
		 * for the whole lead. A grow that maps itself wins: the
		 * thread never waits for the engine. A failure here (no
		 * frame) is left for the grow to meet and report.
		 */
		while (!seq->mapping && seq->state == ACCEL_SEQ_RESIDENT &&
		       seq->mapped_pages < seq->ahead_pages && !ctx->stopping) {
			uint64_t end = seq->mapped_pages + accel_ahead_chunk(seq);

			if (end > seq->ahead_pages)
				end = seq->ahead_pages;
			if (accel_seq_map_locked(seq, end, true))
				break;
		}
		pthread_mutex_unlock(&seq->lock);

		pthread_mutex_lock(&ctx->lock);
		ctx->ahead_busy = NULL;
		pthread_cond_broadcast(&ctx->ahead_cond);
	}
	pthread_mutex_unlock(&ctx->lock);
	return NULL;
}

int accel_ahead_start(struct accel_ctx *ctx)
{
	int ret = pthread_create(&ctx->ahead_thread, NULL, accel_ahead_main,
				 ctx);

	if (ret)
		return -ret;
	ctx->ahead_thread_on = true;
	return 0;
}

void accel_ahead_stop(struct accel_ctx *ctx)
{
	if (!ctx->ahead_thread_on)
		return;
	pthread_mutex_lock(&ctx->lock);
	ctx->stopping = true;
	pthread_cond_broadcast(&ctx->ahead_cond);
	pthread_mutex_unlock(&ctx->lock);
	pthread_join(ctx->ahead_thread, NULL);
	ctx->ahead_thread_on = false;
}

/* Queues a sequence for the thread. Called with seq->lock held. */
void accel_ahead_kick(struct accel_seq *seq)
{
	struct accel_ctx *ctx = seq->ctx;
	struct accel_seq **pp;

	if (!ctx->ahead_thread_on)
		return;
	pthread_mutex_lock(&ctx->lock);
	if (!seq->ahead_queued && !ctx->stopping) {
		for (pp = &ctx->ahead_head; *pp; pp = &(*pp)->ahead_next)
			;
		seq->ahead_next = NULL;
		*pp = seq;
		seq->ahead_queued = true;
		pthread_cond_broadcast(&ctx->ahead_cond);
	}
	pthread_mutex_unlock(&ctx->lock);
}

/* Takes a sequence off the queue and waits until the thread lets go. */
void accel_ahead_forget(struct accel_seq *seq)
{
	struct accel_ctx *ctx = seq->ctx;
	struct accel_seq **pp;

	pthread_mutex_lock(&ctx->lock);
	if (seq->ahead_queued) {
		for (pp = &ctx->ahead_head; *pp != seq; pp = &(*pp)->ahead_next)
			;
		*pp = seq->ahead_next;
		seq->ahead_queued = false;
	}
	while (ctx->ahead_busy == seq)
		pthread_cond_wait(&ctx->ahead_cond, &ctx->lock);
	pthread_mutex_unlock(&ctx->lock);
	pthread_mutex_lock(&seq->lock);
	seq->ahead_pages = 0;
	pthread_mutex_unlock(&seq->lock);
}
