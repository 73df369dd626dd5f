// SPDX-License-Identifier: GPL-2.0
/*
 * cuemu: streams.
 *
 * A stream is a FIFO of operations run by its own worker thread, so work on
 * one stream completes in order and asynchronously to the host, and a copy
 * only lands after the configured delay: a caller that reads without
 * synchronizing sees stale data, as on a GPU.
 *
 * Ordering between streams uses markers: a SIGNAL operation sets a marker
 * when its stream reaches it, a WAIT operation blocks its stream until the
 * marker is set. Events, cuStreamWaitEvent, the synchronize calls and the
 * legacy default stream are all built from these two.
 *
 * The legacy default stream (NULL or CU_STREAM_LEGACY) follows the
 * documented "Stream synchronization behavior": an action queued on it
 * first waits for all work already queued on the context's blocking
 * streams, and an action queued on a blocking stream first waits for all
 * work already queued on the legacy stream. Non-blocking streams
 * (CU_STREAM_NON_BLOCKING) take part in neither. Synchronizing or querying
 * the legacy stream concerns its own queue only.
 */
#include <signal.h>
#include <stdlib.h>

#include "emu_internal.h"

struct emu_marker *emu_marker_new(void)
{
	struct emu_marker *m = emu_xcalloc(1, sizeof(*m));

	m->refs = 1;
	return m;
}

static struct emu_marker *marker_get(struct emu_marker *m)
{
	m->refs++;
	return m;
}

void emu_marker_put(struct emu_marker *m)
{
	if (m && --m->refs == 0)
		free(m);
}

void emu_marker_wait(struct emu_marker *m)
{
	while (!m->done)
		emu_wait();
}

static void op_free(struct emu_op *op)
{
	emu_marker_put(op->marker);
	free(op->staging);
	free(op);
}

static void append(struct CUstream_st *s, struct emu_op *op)
{
	op->next = NULL;
	if (s->tail)
		s->tail->next = op;
	else
		s->head = op;
	s->tail = op;
	emu_wake();
}

static struct emu_op *marker_op(enum emu_op_kind kind, struct emu_marker *m)
{
	struct emu_op *op = emu_xcalloc(1, sizeof(*op));

	op->kind = kind;
	op->marker = marker_get(m);
	return op;
}

struct emu_marker *emu_stream_mark(struct CUstream_st *s)
{
	struct emu_marker *m = emu_marker_new();

	if (s->head)
		append(s, marker_op(EMU_OP_SIGNAL, m));
	else
		m->done = 1;
	return m;
}

/* `waiter` runs nothing more until the work queued on `on` so far is done. */
static void wait_for(struct CUstream_st *waiter, struct CUstream_st *on)
{
	struct emu_marker *m = emu_stream_mark(on);

	if (!m->done)
		append(waiter, marker_op(EMU_OP_WAIT, m));
	emu_marker_put(m);
}

static int blocking(const struct CUstream_st *s)
{
	return !s->legacy && !(s->flags & CU_STREAM_NON_BLOCKING);
}

CUresult emu_enqueue(struct CUstream_st *s, struct emu_op *op)
{
	struct CUstream_st *o;

	if (s->legacy) {
		for (o = emu.streams; o; o = o->next)
			if (o->ctx == s->ctx && blocking(o))
				wait_for(s, o);
	} else if (blocking(s) && s->ctx->legacy) {
		wait_for(s, s->ctx->legacy);
	}
	/*
	 * A signal on an idle stream is done now, and a wait for a done
	 * marker is nothing: an event recorded on an idle stream is complete
	 * when cuEventRecord returns.
	 */
	if ((op->kind == EMU_OP_SIGNAL && !s->head) ||
	    (op->kind == EMU_OP_WAIT && op->marker->done)) {
		if (op->kind == EMU_OP_SIGNAL)
			op->marker->done = 1;
		op_free(op);
		emu_wake();
		return CUDA_SUCCESS;
	}
	append(s, op);
	return CUDA_SUCCESS;
}

static void unlink_stream(struct CUstream_st *s)
{
	struct CUstream_st **pp;

	for (pp = &emu.streams; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			return;
		}
}

static void *stream_worker(void *arg)
{
	struct CUstream_st *s = arg;
	struct emu_op *op;

	emu_lock();
	for (;;) {
		op = s->head;
		if (!op) {
			if (s->destroyed)
				break;
			emu_wait();
			continue;
		}
		switch (op->kind) {
		case EMU_OP_WAIT:
			emu_marker_wait(op->marker);
			break;
		case EMU_OP_SIGNAL:
			op->marker->done = 1;
			break;
		case EMU_OP_COPY:
			emu_run_copy(s, op);
			break;
		}
		s->head = op->next;
		if (!s->head)
			s->tail = NULL;
		op_free(op);
		emu_wake();
	}
	/* Destroyed and drained: nothing refers to the stream any more. */
	unlink_stream(s);
	emu_wake();
	emu_unlock();
	free(s);
	return NULL;
}

/* A stream with its worker; with emu.lock held. NULL if no thread. */
static struct CUstream_st *stream_new(struct CUctx_st *ctx, unsigned int flags,
				      int legacy)
{
	struct CUstream_st *s = emu_xcalloc(1, sizeof(*s));
	sigset_t all, old;
	pthread_attr_t attr;
	int err;

	s->ctx = ctx;
	s->flags = flags;
	s->legacy = legacy;
	/* The workers take no signal meant for the application's threads. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	err = pthread_create(&s->worker, &attr, stream_worker, s);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		free(s);
		return NULL;
	}
	s->next = emu.streams;
	emu.streams = s;
	return s;
}

int emu_stream_valid(struct CUstream_st *s)
{
	struct CUstream_st *o;

	for (o = emu.streams; o; o = o->next)
		if (o == s)
			return !o->destroyed && !o->legacy;
	return 0;
}

CUresult emu_resolve_stream(const char *call, CUstream h, struct CUctx_st *ctx,
			    struct CUstream_st **out)
{
	if (h == CU_STREAM_PER_THREAD)
		return emu_unsupported(call, CUDA_ERROR_NOT_SUPPORTED,
				       "the per-thread default stream is not emulated");
	if (!h || h == CU_STREAM_LEGACY) {
		if (!ctx->legacy)
			ctx->legacy = stream_new(ctx, 0, 1);
		if (!ctx->legacy)
			return CUDA_ERROR_OUT_OF_MEMORY;
		*out = ctx->legacy;
		return CUDA_SUCCESS;
	}
	if (!emu_stream_valid(h) && emu_rule_on("stream.handle"))
		return emu_misuse(call, "stream.handle",
				  CUDA_ERROR_INVALID_HANDLE,
				  "%p is not a live stream", (void *)h);
	*out = h;
	return CUDA_SUCCESS;
}

int emu_poison_copies(uintptr_t p, size_t n)
{
	struct CUstream_st *s;
	struct emu_op *op;
	int hits = 0;

	for (s = emu.streams; s; s = s->next)
		for (op = s->head; op; op = op->next) {
			uintptr_t d[2];
			int i, nd = 0;

			if (op->kind != EMU_OP_COPY || op->poisoned)
				continue;
			if (op->dir != EMU_DTOH)
				d[nd++] = (uintptr_t)op->dst;
			if (op->dir != EMU_HTOD)
				d[nd++] = (uintptr_t)op->src;
			for (i = 0; i < nd; i++)
				if (d[i] < p + n && p < d[i] + op->n) {
					op->poisoned = 1;
					hits++;
					break;
				}
		}
	return hits;
}

void emu_streams_ctx_reset(struct CUctx_st *ctx)
{
	struct CUstream_st *s;
	int left;

	for (s = emu.streams; s; s = s->next)
		if (s->ctx == ctx && !s->destroyed) {
			if (!s->legacy)
				emu_sub(EMU_C_live_streams, 1);
			s->destroyed = 1;
		}
	ctx->legacy = NULL;
	emu_wake();
	do {
		left = 0;
		for (s = emu.streams; s; s = s->next)
			left += s->ctx == ctx;
		if (left)
			emu_wait();
	} while (left);
}

/* The checks of every stream call: cuInit, a current context. */
static CUresult stream_call(const char *call, struct CUctx_st **ctx)
{
	CUresult rc = emu_check_init(call);

	if (rc)
		return rc;
	emu_lock();
	rc = emu_need_ctx(call, ctx);
	if (rc)
		emu_unlock();
	return rc;
}

CUresult cuStreamCreate(CUstream *phStream, unsigned int Flags)
{
	struct CUstream_st *s;
	struct CUctx_st *ctx;
	CUresult rc;

	emu_count(EMU_C_stream_create);
	rc = stream_call(__func__, &ctx);
	if (rc)
		return rc;
	rc = RULE("arg.null", !phStream, CUDA_ERROR_INVALID_VALUE,
		  "phStream is NULL");
	if (!rc)
		rc = RULE("stream.flags", Flags & ~CU_STREAM_NON_BLOCKING,
			  CUDA_ERROR_INVALID_VALUE, "Flags %#x", Flags);
	if (!rc) {
		s = stream_new(ctx, Flags, 0);
		if (s) {
			emu_add(EMU_C_live_streams, 1);
			*phStream = s;
		} else {
			rc = CUDA_ERROR_OUT_OF_MEMORY;
		}
	}
	emu_unlock();
	return rc;
}

CUresult cuStreamDestroy(CUstream hStream)
{
	struct CUctx_st *ctx;
	CUresult rc;

	emu_count(EMU_C_stream_destroy);
	rc = stream_call(__func__, &ctx);
	if (rc)
		return rc;
	rc = RULE("stream.handle", !emu_stream_valid(hStream),
		  CUDA_ERROR_INVALID_HANDLE,
		  "%p is not a live stream (the NULL stream cannot be destroyed)",
		  (void *)hStream);
	if (!rc && emu_stream_valid(hStream)) {
		/* Returns at once; the worker frees it when drained. */
		hStream->destroyed = 1;
		emu_sub(EMU_C_live_streams, 1);
		emu_wake();
	}
	emu_unlock();
	return rc;
}

CUresult cuStreamSynchronize(CUstream hStream)
{
	struct emu_marker *m;
	struct CUstream_st *s;
	struct CUctx_st *ctx;
	CUresult rc;

	emu_count(EMU_C_stream_synchronize);
	rc = stream_call(__func__, &ctx);
	if (rc)
		return rc;
	rc = emu_resolve_stream(__func__, hStream, ctx, &s);
	if (!rc) {
		m = emu_stream_mark(s);
		emu_marker_wait(m);
		emu_marker_put(m);
		rc = emu_sticky();
	}
	emu_unlock();
	return rc;
}

CUresult cuStreamQuery(CUstream hStream)
{
	struct CUstream_st *s;
	struct CUctx_st *ctx;
	CUresult rc;

	emu_count(EMU_C_stream_query);
	rc = stream_call(__func__, &ctx);
	if (rc)
		return rc;
	rc = emu_resolve_stream(__func__, hStream, ctx, &s);
	if (!rc)
		rc = emu_sticky();
	if (!rc && s->head)
		rc = CUDA_ERROR_NOT_READY;
	emu_unlock();
	return rc;
}

CUresult cuStreamWaitEvent(CUstream hStream, CUevent hEvent, unsigned int Flags)
{
	struct emu_marker *m = NULL;
	struct CUstream_st *s;
	struct CUctx_st *ctx;
	CUresult rc;

	emu_count(EMU_C_stream_wait_event);
	rc = stream_call(__func__, &ctx);
	if (rc)
		return rc;
	rc = emu_resolve_stream(__func__, hStream, ctx, &s);
	if (!rc)
		rc = emu_event_marker(__func__, hEvent, &m);
	if (!rc)
		rc = RULE("wait.flags", Flags != 0, CUDA_ERROR_INVALID_VALUE,
			  "Flags %#x (CU_EVENT_WAIT_EXTERNAL is for stream capture)",
			  Flags);
	if (!rc) {
		/*
		 * A never recorded event is empty work: the wait is a no-op,
		 * but still an action on the stream for the legacy rules.
		 */
		if (m) {
			marker_get(m);
		} else {
			m = emu_marker_new();
			m->done = 1;
		}
		emu_enqueue(s, marker_op(EMU_OP_WAIT, m));
		emu_marker_put(m);
	}
	emu_unlock();
	return rc;
}
