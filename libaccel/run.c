// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libaccel: run states from a scheduling daemon (kvmemd, the kvmem
 * manager). The module sends each of the context's spaces the run state
 * the daemon set (KVMEM_EVENT_RUN on the context's own file); the event
 * thread keeps, per sequence, how many of its spaces may not run, so that
 * accel_seq_may_run() is one atomic load on the engine's step path, and
 * queues a completion when a sequence becomes preempted or runnable. With
 * no daemon no RUN event ever comes: every sequence may run, as before.
 * Host spaces the daemon migrates itself; a device space's owner copies it and
 * reports through KVMEM_IOC_SWAP, which libaccel's cuda backend does not
 * run yet: it only flips the flag for both.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>

#include <linux/kvmem.h>

#include "internal.h"

ACCEL_EXPORT
bool accel_seq_may_run(const struct accel_seq *seq)
{
	return !seq || !atomic_load_explicit(&seq->not_runnable,
					     memory_order_acquire);
}

/* The space of seq with kvmem handle h, or NULL. */
static struct accel_space *accel_seq_space_of(struct accel_seq *seq,
					      uint32_t h)
{
	uint32_t i;

	for (i = 0; i < seq->nspaces; i++)
		if (seq->spaces[i].handle == h)
			return &seq->spaces[i];
	return NULL;
}

/*
 * Applies one RUN event to the sequence (live or kept) that owns the space.
 * A live sequence that changes between may-run and may-not gets a
 * completion (ACCEL_OP_PREEMPTED or ACCEL_OP_RUNNABLE) if the queue has
 * room; the flag is what counts, the completion is the wake-up.
 */
void accel_run_event(struct accel_ctx *ctx, const struct kvmem_event *ev)
{
	struct accel_seq *lists[2], *seq = NULL;
	struct accel_space *sp = NULL;
	bool live = false, stop, was;
	int k;

	if (!ev->handle)
		return;
	pthread_mutex_lock(&ctx->lock);
	lists[0] = ctx->live;
	lists[1] = ctx->kept;
	for (k = 0; k < 2 && !sp; k++) {
		for (seq = lists[k]; seq; seq = seq->next) {
			sp = accel_seq_space_of(seq, ev->handle);
			if (sp) {
				live = !k;
				break;
			}
		}
	}
	if (!sp) {
		pthread_mutex_unlock(&ctx->lock);
		return;
	}
	stop = ev->id != KVMEM_RUN_RUNNABLE;
	was = sp->run_stopped;
	if (stop != was) {
		uint32_t n = atomic_load(&seq->not_runnable);

		sp->run_stopped = stop;
		atomic_store_explicit(&seq->not_runnable, stop ? n + 1 : n - 1,
				      memory_order_release);
		/* 0 -> 1: preempted; 1 -> 0: runnable again. */
		if (live && (stop ? !n : n == 1)) {
			struct accel_completion c = {
				.seq = seq, .user_data = seq->user_data,
				.op = stop ? ACCEL_OP_PREEMPTED :
					     ACCEL_OP_RUNNABLE,
			};

			accel_cq_push_grow(ctx, &c);
		}
	}
	pthread_mutex_unlock(&ctx->lock);
}

ACCEL_EXPORT
int accel_seq_set_demand(struct accel_seq *seq, uint32_t demand)
{
	struct kvmem_space_set set = {
		.flags = KVMEM_SET_DEMAND, .demand = demand,
	};

	if (!seq || demand >= KVMEM_NR_DEMANDS)
		return -EINVAL;
	if (seq->ctx->fd < 0 ||
	    !(seq->ctx->features & KVMEM_FEATURE_RUN_STATE))
		return -EOPNOTSUPP;
	return accel_seq_set_spaces(seq, &set);
}
