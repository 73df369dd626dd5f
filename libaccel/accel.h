/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libaccel: contiguous KV-cache tensors for LLM serving engines, backed on
 * demand by kvmem (/dev/kvmem).
 *
 * An engine opens a context, describes its model's KV geometry, and creates
 * one sequence per request. A sequence's K and V of each layer are plain
 * contiguous tensors (base address + strides) for its whole maximum length,
 * in host memory (host backend) or GPU memory (cuda backend); only the part
 * the sequence has grown to is backed by memory. Growing maps what a step
 * needs; a background thread can keep a few steps mapped ahead so that the
 * step path almost never blocks. Finished sequences are kept for the next
 * one (deferred reclamation, unless ACCEL_OPEN_NO_KEEP) and given back
 * under pressure. A sequence can be swapped out to a slower tier (cuda: to
 * its host copy) and back, asynchronously.
 *
 * Every call that can fail returns 0 (or a count) on success and a negative
 * errno on failure; nothing sets errno. Thread safety is stated per call:
 *  - "ctx-safe": may be called from any thread at any time, concurrently
 *    with any other call on the same context;
 *  - "seq-serial": calls on one sequence must not overlap each other (one
 *    engine thread drives a sequence); calls on different sequences may.
 * Documentation/libaccel.md describes every call and its errors.
 */
#ifndef ACCEL_H
#define ACCEL_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ACCEL_VERSION_MAJOR	1
#define ACCEL_VERSION_MINOR	0

struct accel_ctx;
struct accel_seq;

/* ------------------------------------------------------------ context */

/* Backends. AUTO picks cuda if the cuda backend initialises (libcuda.so.1
 * loads, device cuda_device exists and supports virtual memory management),
 * else host. The environment variable ACCEL_BACKEND (host, cuda, auto)
 * overrides AUTO; an explicit backend in accel_open_opts overrides both. */
enum accel_backend {
	ACCEL_BACKEND_AUTO = 0,
	ACCEL_BACKEND_HOST = 1,
	ACCEL_BACKEND_CUDA = 2,
};

/* Tiers, as in <linux/kvmem.h>. */
enum accel_tier {
	ACCEL_TIER_HBM = 0,
	ACCEL_TIER_DRAM = 1,
	ACCEL_TIER_CXL = 2,
	ACCEL_TIER_DEFAULT = 0xff,	/* tier: dram; swap_tier: see below */
};

/**
 * struct accel_open_opts - how to open a context; NULL means all defaults
 * @size: sizeof(struct accel_open_opts), for growth; 0 is taken as the
 *	size of this version
 * @backend: enum accel_backend
 * @device: device node; NULL: $ACCEL_DEVICE, else /dev/kvmem
 * @cuda_device: cuda backend: device ordinal (no such device: -EINVAL
 *	with ACCEL_BACKEND_CUDA; AUTO then falls back to host)
 * @tier: preferred tier of the sequences' frames (cuda backend: of their
 *	host copies); ACCEL_TIER_DEFAULT: dram. Some pool must have it
 * @swap_tier: tier sequences are swapped out to (ACCEL_TIER_DEFAULT: the
 *	slowest tier slower than @tier that has a pool, none if none; an
 *	explicit tier must have a pool and differ from @tier). The cuda
 *	backend checks it but swaps to the host copies in @tier
 * @tenant: kvmem tenant the sequences are charged to (cuda backend: their
 *	host copies, and their device pages when the GPU is a kvmem device
 *	pool)
 * @priority: default scheduling priority of new sequences
 * @wait_ms: 0: a grow that finds no free frame fails with -ENOMEM; else it
 *	waits up to this long for one (kvmem's WAIT policy), at most 60000.
 *	Cuda backend: applies to the host copies and to device pages'
 *	grants from a kvmem device pool (without one, a full device fails
 *	at once)
 * @step_ahead: steps kept mapped ahead of every sequence by a background
 *	thread; 0: no background mapping
 * @tokens_per_step: tokens one step adds to a sequence (1 for decoding);
 *	0 is taken as 1
 * @cache_max_bytes: bytes of finished sequences kept for reuse; 0: no
 *	limit but the pools' (they are given back when a grow or a create
 *	runs short)
 * @flags: ACCEL_OPEN_* bits; any other bit is -EINVAL
 */
struct accel_open_opts {
	uint32_t size;
	uint32_t backend;
	const char *device;
	int32_t cuda_device;
	uint32_t tier;
	uint32_t swap_tier;
	uint32_t tenant;
	int32_t priority;
	uint32_t wait_ms;
	uint32_t step_ahead;
	uint32_t tokens_per_step;
	uint64_t cache_max_bytes;
	uint64_t flags;
};

/* Finished sequences are freed at once, never kept for reuse. */
#define ACCEL_OPEN_NO_KEEP	(1ULL << 0)
/*
 * Fail with -ENOENT when the kvmem module is not loaded, rather than open
 * the cuda backend without it (see accel_open()).
 */
#define ACCEL_OPEN_REQUIRE_MODULE	(1ULL << 1)

/* Default options (backend AUTO, tiers DEFAULT, everything else 0). */
void accel_open_opts_init(struct accel_open_opts *opts);

/*
 * Opens the device and starts the context's background threads. Errors:
 * -ENOENT: no kvmem device (module not loaded; a device node left behind
 * by an unloaded module counts as none); -EACCES: no permission;
 * -EPROTO: the device is not kvmem or speaks another ABI version (check
 * the device path and $ACCEL_DEVICE); -ENODEV: no pool has the preferred
 * tier or the explicit swap tier; -EOPNOTSUPP: the backend
 * asked for is not available (no libcuda.so.1, no CUDA device, no virtual
 * memory management); -EINVAL: bad options (among them a cuda_device that
 * does not exist, and an $ACCEL_BACKEND other than host, cuda or auto); -EIO: a CUDA call failed; -ENOMEM. With the host
 * backend, a module without migration or events opens, but its context
 * cannot swap (accel_info() reports no swap tier).
 *
 * Without the module (no /dev/kvmem), the cuda backend (asked for, or
 * AUTO) still opens, unless opts->flags has ACCEL_OPEN_REQUIRE_MODULE:
 * device memory through CUDA's virtual memory management as with the
 * module, host copies for swaps in pinned anonymous memory of the
 * process's own, bound to the GPU's NUMA node. accel_info() then reports
 * abi_version 0 (ACCEL_INFO_NO_MODULE()); what is lost: no tenant accounting or quotas, no
 * fair scheduling between processes, no crash safety of host copies
 * across processes (they die with the process), no pools
 * (accel_pool_query() fails with -EINVAL). Such a context takes tenant 0
 * and the tiers DEFAULT or DRAM only (else -EINVAL). The host backend
 * needs the module: asked for (or AUTO with no usable CUDA) without it,
 * accel_open() fails with -ENOENT and says so on stderr. ctx-safe.
 */
int accel_open(const struct accel_open_opts *opts, struct accel_ctx **ctx);

/*
 * Waits for swaps in flight, destroys every sequence (kept ones too),
 * stops the threads and closes the device. The context must not be used
 * by any other thread during or after the call. NULL is a no-op.
 */
void accel_close(struct accel_ctx *ctx);

/**
 * struct accel_info - what accel_info() reports
 * @backend: enum accel_backend in use (never AUTO)
 * @abi_version: kvmem ABI version; 0 when the module is not loaded (the
 *	cuda backend runs on CUDA alone; see accel_open() for what that
 *	loses), and then @features and @npools are 0 too
 * @features: KVMEM_FEATURE_* bits of the module
 * @page_size: bytes per page of the sequences' memory (kvmem's page size;
 *	the cuda backend's allocation granularity)
 * @npools: kvmem pools
 * @tier: preferred tier in use
 * @swap_tier: swap tier in use (ACCEL_TIER_DEFAULT: none; swaps fail);
 *	cuda backend: @tier, where the host copies live
 * @numa_node: host backend: NUMA node of the first pool of @tier, where
 *	the sequences' frames come from; cuda backend: the GPU's node (PCI
 *	sysfs), where the copy thread runs, so that the host copies come from
 *	the pool of @tier nearest to it; -1 if unknown
 */
struct accel_info {
	uint32_t backend;
	uint32_t abi_version;
	uint64_t features;
	uint64_t page_size;
	uint32_t npools;
	uint32_t tier;
	uint32_t swap_tier;
	int32_t numa_node;
};

/*
 * Whether a context runs without the kvmem module (abi_version 0). The
 * struct keeps its libaccel 1.0 size: programs built against 1.0 still
 * get exactly what they asked for.
 */
#define ACCEL_INFO_NO_MODULE(info)	((info)->abi_version == 0)

/* ctx-safe. */
int accel_info(struct accel_ctx *ctx, struct accel_info *info);

/**
 * struct accel_pool - one kvmem pool, as accel_pool_query() reports it
 * @index: pool index
 * @node: NUMA node
 * @tier: enum accel_tier
 * @page_size: bytes per frame
 * @frames_total: frames the pool owns
 * @frames_free: frames free now
 */
struct accel_pool {
	uint32_t index;
	int32_t node;
	uint32_t tier;
	uint64_t page_size;
	uint64_t frames_total;
	uint64_t frames_free;
};

/* -EINVAL for an index >= npools (or a pool since removed). ctx-safe. */
int accel_pool_query(struct accel_ctx *ctx, uint32_t index,
		     struct accel_pool *pool);

/* Name of a backend ("auto", "host", "cuda"), or "?" */
const char *accel_backend_name(uint32_t backend);

/* ----------------------------------------------------------- geometry */

enum accel_dtype {
	ACCEL_DTYPE_F16 = 1,
	ACCEL_DTYPE_BF16 = 2,
	ACCEL_DTYPE_F32 = 3,
	ACCEL_DTYPE_FP8 = 4,
};

enum accel_layout {
	/*
	 * One space per layer and per K/V, as vAttention does: tensor
	 * [max_tokens][kv_heads][head_dim] each. A swap moves 2 * layers
	 * ranges.
	 */
	ACCEL_LAYOUT_PER_LAYER = 0,
	/*
	 * One space per sequence, token-major:
	 * [max_tokens][layers][2 (K, V)][kv_heads][head_dim]. The tokens a
	 * sequence has are one contiguous prefix, so a swap is one
	 * contiguous transfer.
	 */
	ACCEL_LAYOUT_PER_SEQ = 1,
};

/**
 * struct accel_geometry - a model's KV cache shape
 * @layers: transformer layers, >= 1
 * @kv_heads: KV heads per layer, >= 1
 * @head_dim: elements per head, >= 1
 * @dtype: enum accel_dtype
 * @max_tokens: most tokens one sequence may hold, >= 1
 * @layout: enum accel_layout
 */
struct accel_geometry {
	uint32_t layers;
	uint32_t kv_heads;
	uint32_t head_dim;
	uint32_t dtype;
	uint64_t max_tokens;
	uint32_t layout;
	uint32_t reserved;
};

/* Bytes of one element of dtype, 0 for an unknown one. */
size_t accel_dtype_size(uint32_t dtype);

/*
 * Bytes of virtual memory one sequence of this geometry takes on this
 * context (all its tensors, rounded up to pages), or -EINVAL for a bad
 * geometry, -EOVERFLOW if it is too large. ctx-safe.
 */
int64_t accel_seq_bytes(struct accel_ctx *ctx, const struct accel_geometry *g);

/* ---------------------------------------------------------- sequences */

/**
 * struct accel_seq_opts - per-sequence options; NULL means defaults
 * @hint_tokens: expected initial length (prompt); picks the best-fitting
 *	kept sequence to reuse and is grown to at once; 0: none
 * @priority: scheduling priority (reported to kvmem); ignored unless
 *	ACCEL_SEQ_PRIORITY is set in @flags (else the context's default)
 * @flags: ACCEL_SEQ_* bits
 * @user_data: returned in this sequence's completions
 * @tenant: with ACCEL_SEQ_TENANT in @flags, the kvmem tenant charged for
 *	this sequence's frames (host backend: its KV; cuda backend: its host
 *	copies and device pages) instead of the context's @tenant, so that one
 *	context serves many tenants; it must be one the module lets this
 *	process charge (its default_tenant, or granted to its uid or group in
 *	sysfs tenants/<id>/uid, gid; any for a manager-capable opener).
 *	Read only with the flag: code built before it existed is unaffected
 * @reserved: zero (with ACCEL_SEQ_TENANT)
 */
struct accel_seq_opts {
	uint64_t hint_tokens;
	int32_t priority;
	uint32_t flags;
	void *user_data;
	uint32_t tenant;
	uint32_t reserved;
};

#define ACCEL_SEQ_PRIORITY	(1U << 0)
#define ACCEL_SEQ_TENANT	(1U << 1)

/*
 * Creates a sequence of geometry g with 0 tokens, reusing a kept sequence
 * of the same geometry and tenant when there is one (best fit to
 * hint_tokens), else creating its spaces. Errors: -EINVAL (bad geometry or
 * options; a tenant >= the module's ntenants, or not 0 without the module),
 * -EACCES (a tenant this process may not charge),
 * -ENOMEM (no memory, even after giving back every kept sequence),
 * -ENOSPC (kvmem has no free space id, even after giving back every kept
 * sequence), -EOVERFLOW (too large), -EIO (a CUDA call failed). ctx-safe.
 */
int accel_seq_create(struct accel_ctx *ctx, const struct accel_geometry *g,
		     const struct accel_seq_opts *opts,
		     struct accel_seq **seq);

/*
 * Ends a sequence. A swap in flight is waited for first, and the
 * sequence's completions not taken yet are dropped. A resident sequence's
 * memory is kept for reuse by a later sequence of the same geometry (up to
 * cache_max_bytes), and given back when memory runs short or on
 * accel_trim(); with ACCEL_OPEN_NO_KEEP, or if the sequence is not
 * resident, it is freed at once. NULL is a no-op. seq-serial; the sequence
 * must not be used afterwards.
 */
void accel_seq_destroy(struct accel_seq *seq);

/*
 * Makes tokens [0, tokens) of every tensor of the sequence usable: maps
 * the pages that are not mapped yet. Growing to fewer tokens than the
 * sequence has is a no-op (sequences do not shrink). When step-ahead is on,
 * schedules the next steps' pages in the background. Returns 1 if the pages
 * were not all mapped when it was called (it mapped them itself, or waited
 * for the step-ahead thread to: it blocked), 0 if they were mapped already.
 * Errors: -EINVAL (tokens > max_tokens), -ENOMEM (no frame, even after
 * giving back kept sequences; the sequence keeps what it had), -ETIMEDOUT
 * (wait_ms passed, even after giving back kept sequences), -EBUSY (the
 * sequence is swapped out or swapping), -EIO (a CUDA call failed).
 * seq-serial.
 */
int accel_seq_grow(struct accel_seq *seq, uint64_t tokens);

/* Tokens the sequence has been grown to. seq-serial. */
uint64_t accel_seq_tokens(const struct accel_seq *seq);

/* Tokens that are mapped now (>= accel_seq_tokens(), with step-ahead
 * usually more). ctx-safe. */
uint64_t accel_seq_mapped_tokens(struct accel_seq *seq);

enum accel_kv {
	ACCEL_K = 0,
	ACCEL_V = 1,
};

/**
 * struct accel_tensor - where one layer's K or V lives
 * @base: address of token 0, head 0, element 0: a host pointer for the
 *	host backend, a CUdeviceptr for the cuda backend
 * @token_stride: bytes from one token to the next
 * @head_stride: bytes from one head to the next (head_dim * dtype size)
 * @dtype: enum accel_dtype
 * @on_device: 1 if @base is device memory
 * @max_tokens: tokens the tensor has room for
 */
struct accel_tensor {
	uint64_t base;
	uint64_t token_stride;
	uint64_t head_stride;
	uint32_t dtype;
	uint32_t on_device;
	uint64_t max_tokens;
};

/* -EINVAL for a layer >= layers or a bad kv. The tensor never moves for
 * the life of the sequence. ctx-safe. */
int accel_seq_tensor(struct accel_seq *seq, uint32_t layer, uint32_t kv,
		     struct accel_tensor *t);

/*
 * Report progress and scheduling metadata to kvmem (and through it to
 * kvmemd): tokens written so far, priority. Errors: -EINVAL, or the
 * module's. seq-serial.
 */
int accel_seq_set_progress(struct accel_seq *seq, uint64_t tokens_written);
int accel_seq_set_priority(struct accel_seq *seq, int32_t priority);

/* ------------------------------------------------- scheduling daemon */

/*
 * Whether the scheduling daemon (kvmemd, the kvmem manager) lets the
 * sequence run now: false from the moment the event thread learns that
 * any of its spaces was set to PREEMPT or PREFETCH until all are RUNNABLE
 * again. No system call: one atomic load, for the step path. With no
 * daemon (none running, or it died before deciding) always true. NULL:
 * true. Each change of a live sequence also queues a completion
 * (ACCEL_OP_PREEMPTED, ACCEL_OP_RUNNABLE; status 0) through
 * accel_poll_completions() and accel_fd(), unless memory ran out (the flag
 * is what counts). The daemon moves host sequences itself; the engine
 * only stops stepping them. A cuda sequence whose device memory a kvmem
 * device pool grants libaccel moves for the daemon: the swap-out starts
 * once the engine reports the preempted sequence WAITING or IDLE
 * (accel_seq_set_demand(): its word that no step of it is in flight), a
 * PREFETCH or RUNNABLE brings it back, and the flag stays false until the
 * data is back; those swaps queue no ACCEL_OP_SWAP_* completion.
 * Thread-safe (any thread, any time).
 */
bool accel_seq_may_run(const struct accel_seq *seq);

/* accel_seq_set_demand() values: the kvmem KVMEM_DEMAND_* values. */
#define ACCEL_DEMAND_NONE	0	/* not reported */
#define ACCEL_DEMAND_WAITING	1	/* has work queued, waits to run */
#define ACCEL_DEMAND_RUNNING	2	/* being stepped now */
#define ACCEL_DEMAND_IDLE	3	/* between turns of a conversation */

/*
 * Tells the daemon what the sequence's work is (ACCEL_DEMAND_*): waiting
 * to run, running, or idle between turns (the cheapest to preempt). kvmem
 * passes on only changes, so calling it at every step costs one ioctl per
 * space and nothing at the daemon. Works with no daemon too (the module
 * keeps it for one that comes). WAITING or IDLE for a sequence the daemon
 * preempted also promises that none of its work is in flight: a cuda
 * sequence's swap-out for the daemon starts then (accel_seq_may_run()).
 * Errors: -EINVAL (bad demand),
 * -EOPNOTSUPP (no /dev/kvmem, or a module without
 * KVMEM_FEATURE_RUN_STATE), or the module's. seq-serial.
 */
int accel_seq_set_demand(struct accel_seq *seq, uint32_t demand);

/* ---------------------------------------------------------------- swap */

enum accel_seq_state {
	ACCEL_SEQ_RESIDENT = 0,
	ACCEL_SEQ_SWAPPING_OUT = 1,
	ACCEL_SEQ_SWAPPED = 2,
	ACCEL_SEQ_SWAPPING_IN = 3,
};

/*
 * Starts moving the sequence's tokens to the swap tier (out) or back to
 * the preferred tier (in), and returns at once. A swap-out frees the
 * memory the tokens had (host: the preferred tier's frames, pages mapped
 * ahead too; cuda: the device memory); a swap-in takes it again, giving
 * back kept sequences first if it is short. Host backend: a swap-in keeps
 * the swap tier's frames as clean copies, so the next swap-out copies only
 * the pages written since. Cuda backend: a page all of whose tokens were
 * grown before the last swap-out keeps a valid host copy, so the next
 * swap-out copies only the pages after those; KV is append-only: once a
 * sequence was swapped out, the engine must not rewrite the tokens it had
 * then. Completion is
 * reported through accel_poll_completions() and accel_fd();
 * accel_seq_wait() waits for it. A sequence must not be accessed between
 * a swap-out's start and the end of the swap-in that follows. Errors:
 * -EBUSY (a swap is in flight, or the state does not allow it: out needs
 * RESIDENT, in needs SWAPPED), -EOPNOTSUPP (no swap tier), -ENOMEM.
 * seq-serial.
 */
int accel_seq_swap_out(struct accel_seq *seq);
int accel_seq_swap_in(struct accel_seq *seq);

/* enum accel_seq_state of the sequence now. ctx-safe. */
int accel_seq_state(struct accel_seq *seq);

/*
 * Waits until no swap of the sequence is in flight, up to timeout_ms (-1:
 * no limit). Returns the last swap's status (0, or its negative errno), or
 * -ETIMEDOUT. Does not consume the completion. seq-serial.
 */
int accel_seq_wait(struct accel_seq *seq, int timeout_ms);

enum accel_op {
	ACCEL_OP_SWAP_OUT = 1,
	ACCEL_OP_SWAP_IN = 2,
	ACCEL_OP_PREEMPTED = 3,	/* the scheduler stopped it: may_run false */
	ACCEL_OP_RUNNABLE = 4,	/* it may run again: may_run true */
};

/**
 * struct accel_completion - the end of an asynchronous operation
 * @seq: the sequence
 * @user_data: the sequence's user_data
 * @op: enum accel_op
 * @status: 0, or a negative errno (the sequence then stays where it was:
 *	nothing is lost)
 * @bytes_copied: bytes the operation copied
 * @bytes_reused: bytes it did not copy because a valid copy was in place
 */
struct accel_completion {
	struct accel_seq *seq;
	void *user_data;
	uint32_t op;
	int32_t status;
	uint64_t bytes_copied;
	uint64_t bytes_reused;
};

/*
 * A file descriptor that is readable (poll/epoll) while completions are
 * waiting to be taken; for an engine's event loop. Owned by the context:
 * do not read from or close it. ctx-safe.
 */
int accel_fd(struct accel_ctx *ctx);

/*
 * Takes up to max completions without blocking; returns how many. ctx-safe
 * (each completion goes to one caller).
 */
int accel_poll_completions(struct accel_ctx *ctx, struct accel_completion *c,
			   unsigned int max);

/* -------------------------------------------------- memory and statistics */

/*
 * Gives back the memory of every kept (finished) sequence. Returns the
 * bytes given back. ctx-safe.
 */
int64_t accel_trim(struct accel_ctx *ctx);

/**
 * struct accel_stats - counters since accel_open()
 * @grow_calls: accel_seq_grow() calls that grew a sequence
 * @grow_blocked: of those, how many blocked (returned 1)
 * @grow_blocked_ns: time spent in those
 * @pages_mapped_sync: pages mapped by grow calls
 * @pages_mapped_ahead: pages mapped by the step-ahead thread
 * @seqs_created: sequences created with new spaces
 * @seqs_reused: sequences created from a kept one
 * @kept_seqs: finished sequences kept now
 * @kept_bytes: their mapped bytes (cuda backend: of device memory)
 * @trimmed_bytes: mapped bytes given back from kept sequences
 * @swaps_out: swap-outs completed successfully
 * @swaps_in: swap-ins completed successfully
 * @swap_bytes_copied: bytes the swaps copied
 * @swap_bytes_reused: bytes the swaps did not copy thanks to a valid copy
 * @step_device_allocs: cuda backend: physical allocations (cuMemCreate) a
 *	grow had to make itself because the pool of allocations created
 *	ahead was empty; 0 while the pool keeps up (host backend: always 0)
 */
struct accel_stats {
	uint64_t grow_calls;
	uint64_t grow_blocked;
	uint64_t grow_blocked_ns;
	uint64_t pages_mapped_sync;
	uint64_t pages_mapped_ahead;
	uint64_t seqs_created;
	uint64_t seqs_reused;
	uint64_t kept_seqs;
	uint64_t kept_bytes;
	uint64_t trimmed_bytes;
	uint64_t swaps_out;
	uint64_t swaps_in;
	uint64_t swap_bytes_copied;
	uint64_t swap_bytes_reused;
	uint64_t step_device_allocs;
};

/* ctx-safe. */
int accel_stats(struct accel_ctx *ctx, struct accel_stats *stats);

#ifdef __cplusplus
}
#endif

#endif /* ACCEL_H */
