// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libaccel: run states from a scheduling daemon (kvmemd, the kvmem
 * manager). The module sends each of the context's spaces the run state
 * the daemon set (KVMEM_EVENT_RUN on the context's own file); the event
 * thread keeps, per sequence, how many of its spaces may not run, so that
 * accel_seq_may_run() is one atomic load on the engine's step path, and
 * queues a completion when a sequence becomes preempted or runnable. With
 * no daemon no RUN event ever comes: every sequence may run, as before.
 * Host spaces the daemon migrates itself. A device space (the cuda
 * backend's grants from a kvmem device pool) only its owner can copy: on a
 * PREEMPT libaccel swaps the sequence out with the backend's copy engine
 * as soon as the engine reports it waiting or idle (its promise that no
 * step of it is in flight), and on a PREFETCH or RUNNABLE swaps it back
 * in; the backend reports each swap's BEGIN, COMMIT or ABORT to the module
 * (KVMEM_IOC_SWAP), so that the module's view of where each page lives
 * stays true and the daemon hears when the switch ended. The sequence
 * stays stopped until its data is back.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include <linux/kvmem.h>

#include "internal.h"

ACCEL_EXPORT
bool accel_seq_may_run(const struct accel_seq *seq)
{
	return !seq || !atomic_load_explicit(&seq->not_runnable,
					     memory_order_acquire);
}

/*
 * The space of seq with kvmem handle h (its own, or for the cuda backend
 * that of its device grants: *dev set), or NULL.
 */
static struct accel_space *accel_seq_space_of(struct accel_seq *seq,
					      uint32_t h, bool *dev)
{
	uint32_t i;

	for (i = 0; i < seq->nspaces; i++) {
		*dev = seq->spaces[i].dev_handle == h;
		if (seq->spaces[i].handle == h || *dev)
			return &seq->spaces[i];
	}
	return NULL;
}

/* The live or kept sequence that owns handle h; ctx->lock held. */
static struct accel_seq *accel_seq_by_handle(struct accel_ctx *ctx, uint32_t h,
					     struct accel_space **sp, bool *dev,
					     bool *live)
{
	struct accel_seq *lists[2] = { ctx->live, ctx->kept }, *seq;

	for (int k = 0; k < 2; k++) {
		for (seq = lists[k]; seq; seq = seq->next) {
			*sp = accel_seq_space_of(seq, h, dev);
			if (*sp) {
				*live = !k;
				return seq;
			}
		}
	}
	return NULL;
}

/* One more (or one less) reason for seq not to run; ctx->lock held. */
static void accel_run_stop(struct accel_seq *seq, bool live, bool stop)
{
	uint32_t n = atomic_load(&seq->not_runnable);

	atomic_store_explicit(&seq->not_runnable, stop ? n + 1 : n - 1,
			      memory_order_release);
	/* 0 -> 1: preempted; 1 -> 0: runnable again. */
	if (live && (stop ? !n : n == 1)) {
		struct accel_completion c = {
			.seq = seq, .user_data = seq->user_data,
			.op = stop ? ACCEL_OP_PREEMPTED : ACCEL_OP_RUNNABLE,
		};

		accel_cq_push_grow(seq->ctx, &c);
	}
}

void accel_run_swapped(struct accel_seq *seq, bool out, bool ok)
{
	/* Data back (a swap-in), or never gone (a failed swap-out). */
	if (seq->held && out != ok) {
		seq->held = false;
		accel_run_stop(seq, true, false);
	}
}

/*
 * A directive to bring a device sequence back (PREFETCH, or RUNNABLE) found
 * it swapped out by an earlier one: start the swap-in, from the event
 * thread. The engine may hold seq->lock (a call in progress): try it, and
 * look the sequence up again after each miss, for it may be destroyed.
 */
static void accel_run_swap_in(struct accel_ctx *ctx, uint32_t h)
{
	for (int tries = 0; tries < 1000; tries++) {
		struct accel_space *sp;
		struct accel_seq *seq;
		bool dev, live, busy;

		pthread_mutex_lock(&ctx->lock);
		seq = accel_seq_by_handle(ctx, h, &sp, &dev, &live);
		if (!seq || !live || !seq->held) {
			pthread_mutex_unlock(&ctx->lock);
			return;
		}
		busy = pthread_mutex_trylock(&seq->lock) != 0;
		pthread_mutex_unlock(&ctx->lock);
		if (!busy) {
			/*
			 * seq->lock keeps it: a destroy waits for the swap
			 * this starts (accel_seq_destroy()). Not SWAPPED yet
			 * (its swap-out still runs): the next RUN event, or
			 * the daemon's retry, comes back here.
			 */
			if (seq->state == ACCEL_SEQ_SWAPPED && !seq->swap_pending)
				accel_swap_locked(seq, ACCEL_OP_SWAP_IN, true);
			else
				pthread_mutex_unlock(&seq->lock);
			return;
		}
		usleep(1000);
	}
}

/*
 * Applies one RUN event to the sequence (live or kept) that owns the space.
 * A live sequence that changes between may-run and may-not gets a
 * completion (ACCEL_OP_PREEMPTED or ACCEL_OP_RUNNABLE) if the queue has
 * room; the flag is what counts, the completion is the wake-up. A device
 * space (cuda backend) is the owner's to move: a PREEMPT is carried out
 * once the engine reports it waiting or idle (accel_run_demand()), a
 * PREFETCH or RUNNABLE of one it moved out brings it back.
 */
void accel_run_event(struct accel_ctx *ctx, const struct kvmem_event *ev)
{
	struct accel_space *sp;
	struct accel_seq *seq;
	bool live, dev, stop, back = false;

	if (!ev->handle)
		return;
	pthread_mutex_lock(&ctx->lock);
	seq = accel_seq_by_handle(ctx, ev->handle, &sp, &dev, &live);
	if (!seq) {
		pthread_mutex_unlock(&ctx->lock);
		return;
	}
	stop = ev->id != KVMEM_RUN_RUNNABLE;
	sp->run_cookie = ev->cookie;
	if (stop != sp->run_stopped) {
		sp->run_stopped = stop;
		accel_run_stop(seq, live, stop);
	}
	if (dev && live) {
		seq->ack_wanted = ev->id == KVMEM_RUN_PREEMPT;
		back = !seq->ack_wanted && seq->held;
	}
	pthread_mutex_unlock(&ctx->lock);
	if (back)
		accel_run_swap_in(ctx, ev->handle);
}

/*
 * The engine reported a preempted device sequence waiting or idle: none of
 * its work is in flight, so its swap-out (the daemon's) may start. It
 * holds the sequence stopped until a swap-in brings the data back.
 */
void accel_run_demand(struct accel_seq *seq, uint32_t demand)
{
	struct accel_ctx *ctx = seq->ctx;
	bool go;
	int ret;

	if (demand != ACCEL_DEMAND_WAITING && demand != ACCEL_DEMAND_IDLE)
		return;
	pthread_mutex_lock(&ctx->lock);
	go = seq->ack_wanted;
	seq->ack_wanted = false;
	if (go && !seq->held) {
		seq->held = true;
		accel_run_stop(seq, true, true);
	} else {
		go = false;
	}
	pthread_mutex_unlock(&ctx->lock);
	if (!go)
		return;
	pthread_mutex_lock(&seq->lock);
	if (seq->state == ACCEL_SEQ_RESIDENT && !seq->swap_pending) {
		ret = accel_swap_locked(seq, ACCEL_OP_SWAP_OUT, true);
	} else {
		pthread_mutex_unlock(&seq->lock);
		ret = -EBUSY;
	}
	if (ret) {
		/* Not started: nothing moves, nothing holds it. */
		pthread_mutex_lock(&ctx->lock);
		accel_run_swapped(seq, true, false);
		pthread_mutex_unlock(&ctx->lock);
	}
}

ACCEL_EXPORT
int accel_seq_set_demand(struct accel_seq *seq, uint32_t demand)
{
	struct kvmem_space_set set = {
		.flags = KVMEM_SET_DEMAND, .demand = demand,
	};
	int ret;

	if (!seq || demand >= KVMEM_NR_DEMANDS)
		return -EINVAL;
	if (seq->ctx->fd < 0 ||
	    !(seq->ctx->features & KVMEM_FEATURE_RUN_STATE))
		return -EOPNOTSUPP;
	ret = accel_seq_set_spaces(seq, &set);
	if (!ret)
		accel_run_demand(seq, demand);
	return ret;
}
