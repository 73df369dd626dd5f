/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libaccel internals: the context, sequences, and the interface between
 * the backend-independent code and a backend (host, cuda).
 *
 * Locking: ctx->lock protects the context's lists (live and kept
 * sequences, the completion queue, the migration queue, statistics);
 * seq->lock protects one sequence's mapping and swap state. Order:
 * seq->lock, then ctx->lock; never the other way round.
 */
#ifndef ACCEL_INTERNAL_H
#define ACCEL_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "accel.h"
#include "layout.h"

#define ACCEL_EXPORT	__attribute__((visibility("default")))

struct accel_ctx;
struct accel_seq;

/**
 * struct accel_space - one contiguous virtual range of a sequence
 * @base: address: host pointer or device address
 * @bytes: size, a multiple of the page size
 * @mapped: pages mapped, always a prefix [0, mapped)
 * @handle: kvmem handle of the space whose frames hold the data (host
 *	backend) or the swap copy (cuda backend); 0: none
 * @host: the kvmem space's mapping in this process, or NULL
 * @priv: backend's own state
 */
struct accel_space {
	uint64_t base;
	uint64_t bytes;
	uint64_t mapped;
	uint32_t handle;
	/* cuda backend: the device pool space of its grants; 0: none */
	uint32_t dev_handle;
	uint32_t tenant;	/* charged for its frames (the sequence's) */
	bool run_stopped;	/* its last RUN event said PREEMPT/PREFETCH */
	uint64_t run_cookie;	/* its last RUN event's (ctx->lock) */
	void *host;
	void *priv;
};

/**
 * struct accel_be - what a backend provides
 * @id: enum accel_backend
 * @init: set up; sets ctx->page_size. -EOPNOTSUPP if unavailable
 * @fini: tear down; every space is destroyed by then
 * @space_create: reserve @bytes of address space in @sp, nothing mapped;
 *	the kvmem spaces it makes are charged to tenant @sp->tenant
 * @space_destroy: unmap and free everything of @sp
 * @map: map pages [@first, @first + @count) of @sp; @step: for a grow,
 *	on the engine's step path (not the step-ahead thread)
 * @unmap: give back the frames of pages [@first, @first + @count)
 * @space_reuse: a kept space is given to a new sequence (may be NULL)
 * @swap: start moving pages [0, @pages) of every space of @seq out (or in,
 *	@op); completes through accel_swap_part_done(), once per space, from
 *	any thread; returns 0 or a negative errno if nothing was started
 */
struct accel_be {
	uint32_t id;
	int (*init)(struct accel_ctx *ctx);
	void (*fini)(struct accel_ctx *ctx);
	int (*space_create)(struct accel_ctx *ctx, struct accel_space *sp,
			    uint64_t bytes);
	void (*space_destroy)(struct accel_ctx *ctx, struct accel_space *sp);
	int (*map)(struct accel_ctx *ctx, struct accel_space *sp,
		   uint64_t first, uint64_t count, bool step);
	int (*unmap)(struct accel_ctx *ctx, struct accel_space *sp,
		     uint64_t first, uint64_t count);
	void (*space_reuse)(struct accel_ctx *ctx, struct accel_space *sp);
	int (*swap)(struct accel_ctx *ctx, struct accel_seq *seq, uint32_t op,
		    uint64_t pages);
};

extern const struct accel_be accel_host_backend;
extern const struct accel_be accel_cuda_backend;

/**
 * struct accel_mig - a KVMEM_IOC_MIGRATE waiting for room in the window
 * @next: next in ctx->mig_queue
 * @seq: sequence it belongs to
 * @space: index of the space in @seq
 * @pages: pages from 0 to move
 * @tier: target tier
 */
struct accel_mig {
	struct accel_mig *next;
	struct accel_seq *seq;
	uint32_t space;
	uint64_t pages;
	uint32_t tier;
};

/* Completions waiting to be taken. */
struct accel_cq {
	struct accel_completion *c;
	unsigned int head, count, cap;
};

struct accel_ctx {
	const struct accel_be *be;
	int fd;				/* /dev/kvmem */
	int cq_fd;			/* eventfd: completions waiting */
	int stop_fd;			/* eventfd: threads must stop */
	uint32_t abi_version;
	uint64_t features;
	uint32_t npools;
	uint64_t kv_page_size;		/* kvmem's page size */
	uint64_t page_size;		/* the backend's page size */
	uint32_t tier, swap_tier, tenant, wait_ms;
	uint32_t ntenants;		/* the module's; 1 without it */
	int32_t priority;
	int32_t numa_node;
	int32_t cuda_device;
	uint32_t step_ahead, tokens_per_step;
	uint64_t cache_max_bytes;
	bool no_keep;			/* ACCEL_OPEN_NO_KEEP */
	bool no_module;			/* no /dev/kvmem: fd is -1 */
	pid_t pid;			/* the process that opened it */
	void *be_priv;

	pthread_mutex_t lock;
	struct accel_seq *live;		/* live sequences */
	struct accel_seq *kept;		/* finished, kept for reuse */
	struct accel_cq cq;
	struct accel_mig *mig_head, *mig_tail;
	unsigned int mig_inflight;	/* MIGRATEs submitted, not ended */
	unsigned int swaps_inflight;	/* swaps whose completion has room */
	struct accel_stats stats;

	pthread_t event_thread;
	bool event_thread_on;

	/* Step-ahead: sequences whose mapping is behind their target. */
	pthread_t ahead_thread;
	bool ahead_thread_on;
	pthread_cond_t ahead_cond;	/* with lock: work, stop, or idle */
	struct accel_seq *ahead_head;
	struct accel_seq *ahead_busy;	/* the sequence the thread works on */
	bool stopping;
};

struct accel_seq {
	struct accel_ctx *ctx;
	struct accel_geometry g;
	struct accel_plan lay;
	struct accel_space *spaces;
	uint32_t nspaces;
	void *user_data;
	int32_t priority;
	uint32_t tenant;		/* of all its spaces */

	pthread_mutex_t lock;
	pthread_cond_t cond;		/* mapping or swap state changed */
	uint64_t tokens;		/* grown to */
	uint64_t written;		/* reported by accel_seq_set_progress() */
	bool written_known;		/* ... if it was */
	uint64_t mapped_pages;		/* every space has this prefix mapped */
	uint64_t ahead_pages;		/* step-ahead target, in pages */
	bool mapping;			/* someone maps, seq->lock dropped */
	bool ahead_queued;		/* in ctx->ahead_head list */
	int state;			/* enum accel_seq_state */
	uint32_t swap_op;
	unsigned int swap_pending;	/* spaces whose swap has not ended */
	int swap_status;		/* first error of the swap in flight */
	int last_status;		/* of the last swap that ended */
	uint64_t swap_copied, swap_reused;
	/*
	 * Spaces whose run state is not RUNNABLE, plus one while @held
	 * (ctx->lock to write).
	 */
	_Atomic uint32_t not_runnable;
	/*
	 * Device directives (run.c): a PREEMPT of a device space waits for
	 * the engine's word that nothing of it is in flight (@ack_wanted);
	 * the swap it then starts is the daemon's (@directed: no swap
	 * completion), and holds the sequence stopped (@held) until a
	 * swap-in brings its data back. ctx->lock.
	 */
	bool ack_wanted, held;
	bool directed;			/* seq->lock: the swap in flight */

	struct accel_seq *next;		/* ctx->live or ctx->kept */
	struct accel_seq *ahead_next;	/* ctx->ahead_head */
};

/* xioctl.c */
int accel_retry(int (*call)(void *arg), void *arg);
int accel_ioctl(int fd, unsigned long req, void *arg);
int accel_ioctl_until(int fd, unsigned long req, void *arg,
		      uint64_t deadline_ns);

/* seq.c */
struct kvmem_space_set;
/* SPACE_SET of *tmpl (its handle ignored) on each space of seq; -errno. */
int accel_seq_set_spaces(struct accel_seq *seq,
			 const struct kvmem_space_set *tmpl);
int accel_seq_map_locked(struct accel_seq *seq, uint64_t pages, bool ahead);
void accel_seq_free(struct accel_seq *seq);

/* ahead.c */
int accel_ahead_start(struct accel_ctx *ctx);
void accel_ahead_stop(struct accel_ctx *ctx);
void accel_ahead_kick(struct accel_seq *seq);
void accel_ahead_forget(struct accel_seq *seq);

/* host.c: a kvmem space mapped into the process (both backends) */
int accel_kv_space_new(struct accel_ctx *ctx, uint64_t bytes, uint32_t tenant,
		       uint32_t *handle, void **host);
void accel_kv_space_free(struct accel_ctx *ctx, uint32_t handle, void *host,
			 uint64_t bytes);
int accel_kv_range(struct accel_ctx *ctx, uint32_t handle, uint64_t first,
		   uint64_t count, bool populate);

/* swap.c */
void accel_cq_forget(struct accel_ctx *ctx, struct accel_seq *seq);
bool accel_cq_push_grow(struct accel_ctx *ctx,
			const struct accel_completion *c);

/* run.c */
struct kvmem_event;
void accel_run_event(struct accel_ctx *ctx, const struct kvmem_event *ev);
int accel_events_start(struct accel_ctx *ctx);
void accel_events_stop(struct accel_ctx *ctx);
void accel_swap_part_done(struct accel_seq *seq, int status, uint64_t copied,
			  uint64_t reused);
/* swap.c: starts a swap; @seq->lock held, and released on return. */
int accel_swap_locked(struct accel_seq *seq, uint32_t op, bool directed);
/* run.c: the engine reported demand; a device PREEMPT may go ahead. */
void accel_run_demand(struct accel_seq *seq, uint32_t demand);
/* run.c: a swap of seq ended (@ok); with ctx->lock held. */
void accel_run_swapped(struct accel_seq *seq, bool out, bool ok);
int accel_migrate_queue(struct accel_ctx *ctx, struct accel_seq *seq,
			uint64_t pages, uint32_t tier);

/* ctx.c */
struct kvmem_info;
int accel_check_info(const struct kvmem_info *info);
int64_t accel_trim_some(struct accel_ctx *ctx, uint64_t keep);
bool accel_trim_if_short(struct accel_ctx *ctx, uint64_t frames);

/* Monotonic time in ns. */
uint64_t accel_now_ns(void);

#endif /* ACCEL_INTERNAL_H */
