/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cuemu internals: the emulated driver's state and the helpers its entry
 * points share.
 *
 * One mutex (emu.lock) guards all of it, and one condition variable
 * (emu.cond) is broadcast on every change a waiter may care about (an
 * operation done, a stream destroyed): the real driver is thread-safe, and
 * the emulation only has to be correct, not fast.
 *
 * Device memory is host memory. An address reservation is a PROT_NONE
 * anonymous mapping; a physical allocation (cuMemCreate) is a shared
 * anonymous mapping that is never accessed itself; cuMemMap makes a second
 * mapping of the same pages inside the reservation with mremap(old_size 0),
 * still PROT_NONE; cuMemSetAccess mprotect()s it. So a touch before
 * cuMemSetAccess faults, as it would on a GPU, and no file descriptor is
 * spent per allocation (libaccel may create thousands).
 */
#ifndef CUEMU_INTERNAL_H
#define CUEMU_INTERNAL_H

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <cuda.h>

#include "cuemu.h"

#define EMU_MAX_DEVICES	16
#define EMU_PAGE	4096UL

/* ---- counters ------------------------------------------------------------ */

enum emu_counter {
#define EMU_ENUM_(name) EMU_C_##name,
	CUEMU_COUNTERS(EMU_ENUM_)
#undef EMU_ENUM_
	EMU_C_COUNT
};

extern _Atomic uint64_t emu_counters[EMU_C_COUNT];

static inline void emu_count(enum emu_counter c)
{
	atomic_fetch_add(&emu_counters[c], 1);
}

static inline void emu_add(enum emu_counter c, uint64_t n)
{
	atomic_fetch_add(&emu_counters[c], n);
}

static inline void emu_sub(enum emu_counter c, uint64_t n)
{
	atomic_fetch_sub(&emu_counters[c], n);
}

/* ---- objects ------------------------------------------------------------- */

/* Something a stream operation signals and others wait for. */
struct emu_marker {
	int done;
	int refs;
};

enum emu_op_kind {
	EMU_OP_COPY,		/* a memcpy, after the configured delay */
	EMU_OP_SIGNAL,		/* sets marker->done */
	EMU_OP_WAIT,		/* waits for marker->done */
};

enum emu_copy_dir { EMU_HTOD, EMU_DTOH, EMU_DTOD };

struct emu_op {
	enum emu_op_kind kind;
	struct emu_op *next;
	struct emu_marker *marker;	/* SIGNAL, WAIT */
	/* COPY */
	const char *call;	/* the entry point that queued it */
	enum emu_copy_dir dir;
	void *dst;
	const void *src;
	size_t n;
	void *staging;		/* pageable HtoD source, copied at enqueue */
	int poisoned;		/* its device memory was unmapped under it */
};

/* A primary context: one per device, active while retained. */
struct CUctx_st {
	int dev;
	int refs;		/* cuDevicePrimaryCtxRetain count */
	struct CUstream_st *legacy;	/* the NULL stream, made on first use */
};

struct CUstream_st {
	struct CUctx_st *ctx;
	unsigned int flags;
	int legacy;		/* the context's NULL stream */
	int destroyed;		/* freed by its worker once drained */
	struct emu_op *head, *tail;
	struct CUstream_st *next;	/* emu.streams */
	pthread_t worker;
};

struct CUevent_st {
	struct CUctx_st *ctx;
	unsigned int flags;
	struct emu_marker *last;	/* the latest record, NULL if none */
	struct CUevent_st *next;	/* emu.events */
};

struct emu_device {
	unsigned int pci_domain, pci_bus, pci_dev, pci_fn;
	size_t mem_used;
	struct CUctx_st ctx;
};

/* cuMemAddressReserve */
struct emu_resv {
	uintptr_t base;
	size_t size;
	struct emu_resv *next;
};

/* cuMemCreate: the pages live in a shared anonymous mapping at `backing`. */
struct emu_alloc {
	CUmemGenericAllocationHandle handle;
	void *backing;
	size_t size;
	int dev;
	int released;
	int nmaps;
	struct emu_alloc *next;
};

/* cuMemMap */
struct emu_map {
	uintptr_t va;
	size_t size;
	struct emu_alloc *alloc;
	/* Per device, the CU_MEM_ACCESS_FLAGS_* of cuMemSetAccess. */
	unsigned long long access[EMU_MAX_DEVICES];
	struct emu_map *next;
};

/* cuMemHostRegister */
struct emu_hostreg {
	uintptr_t base;
	size_t size;
	unsigned int flags;
	struct CUctx_st *ctx;
	struct emu_hostreg *next;
};

struct emu_config {
	int ndev;
	size_t granularity;
	size_t mem_bytes;
	unsigned int copy_delay_us;
	int sm_count;
};

struct emu_state {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	atomic_int initialized;
	struct emu_config cfg;
	struct emu_device dev[EMU_MAX_DEVICES];
	struct emu_resv *resvs;
	struct emu_alloc *allocs;
	struct emu_map *maps;
	struct emu_hostreg *hostregs;
	struct CUstream_st *streams;
	struct CUevent_st *events;
	CUmemGenericAllocationHandle next_handle;
	CUresult sticky;	/* see emu_sticky() */
};

extern struct emu_state emu;
extern _Thread_local struct CUctx_st *emu_current;

static inline void emu_lock(void)
{
	pthread_mutex_lock(&emu.lock);
}

static inline void emu_unlock(void)
{
	pthread_mutex_unlock(&emu.lock);
}

static inline void emu_wait(void)
{
	pthread_cond_wait(&emu.cond, &emu.lock);
}

static inline void emu_wake(void)
{
	pthread_cond_broadcast(&emu.cond);
}

/* calloc() that aborts: the emulation's own small objects never fail. */
void *emu_xcalloc(size_t n, size_t size);

/* ---- rules --------------------------------------------------------------- */

/*
 * Report a misuse: count it, print "cuemu: misuse: <call>: <why> [id]" and,
 * with CUEMU_STRICT=1, abort(). Returns `code`.
 */
CUresult emu_misuse(const char *call, const char *id, CUresult code,
		    const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Report something the emulation does not model; returns `code`. */
CUresult emu_unsupported(const char *call, CUresult code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Non-zero unless CUEMU_BREAK_RULE names rule `id` (mutation testing). */
int emu_rule_on(const char *id);

/*
 * RULE(id, bad, code, fmt, ...): when `bad` holds, the call broke rule `id`
 * (listed in README.md with its source); report it and evaluate to `code`,
 * else to CUDA_SUCCESS. The call name is the C function's, which is the
 * exported symbol (cuMemcpyHtoDAsync_v2, ...).
 */
#define RULE(id, bad, code, ...)					\
	(((bad) && emu_rule_on(id)) ?					\
	 emu_misuse(__func__, id, code, __VA_ARGS__) : CUDA_SUCCESS)

/* Every call but cuInit, cuDriverGetVersion and cuGetError* needs cuInit. */
CUresult emu_check_init(const char *call);
/*
 * The calling thread's current context, which must be active; with
 * emu.lock held. Fails with INVALID_CONTEXT or CONTEXT_IS_DESTROYED.
 */
CUresult emu_need_ctx(const char *call, struct CUctx_st **ctx);
/*
 * The sticky error: once an async copy has faulted, "any further CUDA work
 * will return the same error" (CUDA_ERROR_ILLEGAL_ADDRESS) until the
 * process ends. Returned by the calls that queue or wait for work.
 */
CUresult emu_sticky(void);
/* A device ordinal that exists. */
int emu_dev_valid(CUdevice dev);

/* ---- memory (emu_vmm.c) -------------------------------------------------- */

/*
 * Whether [p, p + n) is entirely mapped and `dev` may access it (write too
 * if `write`); on failure *why says what is wrong.
 */
int emu_dev_range_ok(uintptr_t p, size_t n, int dev, int write,
		     const char **why);
/* Whether [p, p + n) overlaps any address reservation. */
int emu_overlaps_device_va(uintptr_t p, size_t n);

/* ---- host memory (emu_host.c) -------------------------------------------- */

/* Whether [p, p + n) lies inside one registration usable from `ctx`. */
const struct emu_hostreg *emu_host_pinned(struct CUctx_st *ctx,
					  uintptr_t p, size_t n);
/* Whether [p, p + n) is mapped in this process. */
int emu_host_mapped(uintptr_t p, size_t n);
/* Drop the context's registrations (context reset). */
void emu_host_ctx_reset(struct CUctx_st *ctx);

/* ---- streams (emu_stream.c) ---------------------------------------------- */

/*
 * Resolve a stream argument: NULL and CU_STREAM_LEGACY are the current
 * context's legacy stream (made on first use). With emu.lock held.
 */
CUresult emu_resolve_stream(const char *call, CUstream h, struct CUctx_st *ctx,
			    struct CUstream_st **out);
/* Whether `s` is a live stream handle. */
int emu_stream_valid(struct CUstream_st *s);
/*
 * Queue `op` on `s`, after the implicit waits of the legacy default stream
 * semantics. With emu.lock held.
 */
CUresult emu_enqueue(struct CUstream_st *s, struct emu_op *op);
/*
 * A marker signalled when all work queued on `s` so far is done; the caller
 * holds one reference. With emu.lock held.
 */
struct emu_marker *emu_stream_mark(struct CUstream_st *s);
struct emu_marker *emu_marker_new(void);
void emu_marker_put(struct emu_marker *m);
/* Wait for the marker, with emu.lock held (it is dropped while waiting). */
void emu_marker_wait(struct emu_marker *m);
/* Mark every queued copy that touches [p, p + n) poisoned; returns how many. */
int emu_poison_copies(uintptr_t p, size_t n);
/* Destroy the context's streams and wait until they drained (reset). */
void emu_streams_ctx_reset(struct CUctx_st *ctx);
/*
 * Run a queued copy on its stream's worker: wait the configured delay
 * (emu.lock dropped meanwhile), check the device memory is still there,
 * copy. With emu.lock held. In emu_copy.c.
 */
void emu_run_copy(struct CUstream_st *s, struct emu_op *op);

/* ---- events (emu_event.c) ------------------------------------------------ */

/*
 * The event's latest record (NULL if never recorded) once `ev` is checked
 * to be a live event. With emu.lock held.
 */
CUresult emu_event_marker(const char *call, CUevent ev,
			  struct emu_marker **out);
/* Destroy the context's events (context reset). */
void emu_events_ctx_reset(struct CUctx_st *ctx);

#endif /* CUEMU_INTERNAL_H */
