// SPDX-License-Identifier: GPL-2.0
/*
 * cuemu: events.
 *
 * cuEventRecord captures the stream's work at the time of the call: it
 * queues a SIGNAL of a fresh marker on the stream (with the legacy stream's
 * implicit waits, so that recording on the NULL stream captures the
 * blocking streams too) and makes that marker the event's. Query and
 * synchronize look at the latest marker only, so recording again replaces
 * what the event captured, and a wait already queued by cuStreamWaitEvent
 * keeps the marker it was given, as documented.
 */
#include <stdlib.h>

#include "emu_internal.h"

#define EMU_EVENT_FLAGS							\
	(CU_EVENT_BLOCKING_SYNC | CU_EVENT_DISABLE_TIMING |		\
	 CU_EVENT_INTERPROCESS)

static int event_valid(struct CUevent_st *ev)
{
	struct CUevent_st *e;

	for (e = emu.events; e; e = e->next)
		if (e == ev)
			return 1;
	return 0;
}

CUresult emu_event_marker(const char *call, CUevent ev,
			  struct emu_marker **out)
{
	if (!event_valid(ev) && emu_rule_on("event.handle"))
		return emu_misuse(call, "event.handle",
				  CUDA_ERROR_INVALID_HANDLE,
				  "%p is not a live event", (void *)ev);
	*out = event_valid(ev) ? ev->last : NULL;
	return CUDA_SUCCESS;
}

static void event_free(struct CUevent_st *ev)
{
	struct CUevent_st **pp;

	for (pp = &emu.events; *pp; pp = &(*pp)->next)
		if (*pp == ev) {
			*pp = ev->next;
			break;
		}
	/* Queued SIGNALs and WAITs hold their own references. */
	emu_marker_put(ev->last);
	free(ev);
	emu_sub(EMU_C_live_events, 1);
}

void emu_events_ctx_reset(struct CUctx_st *ctx)
{
	struct CUevent_st *ev, *next;

	for (ev = emu.events; ev; ev = next) {
		next = ev->next;
		if (ev->ctx == ctx)
			event_free(ev);
	}
}

/* cuInit, and a current context unless the call does without one. */
static CUresult event_call(const char *call, int need_ctx,
			   struct CUctx_st **ctx)
{
	CUresult rc = emu_check_init(call);

	if (rc)
		return rc;
	emu_lock();
	rc = need_ctx ? emu_need_ctx(call, ctx) : CUDA_SUCCESS;
	if (rc)
		emu_unlock();
	return rc;
}

CUresult cuEventCreate(CUevent *phEvent, unsigned int Flags)
{
	struct CUevent_st *ev;
	struct CUctx_st *ctx;
	CUresult rc;

	emu_count(EMU_C_event_create);
	rc = event_call(__func__, 1, &ctx);
	if (rc)
		return rc;
	rc = RULE("arg.null", !phEvent, CUDA_ERROR_INVALID_VALUE,
		  "phEvent is NULL");
	if (!rc)
		rc = RULE("event.flags", Flags & ~EMU_EVENT_FLAGS,
			  CUDA_ERROR_INVALID_VALUE, "unknown Flags %#x", Flags);
	if (!rc)
		rc = RULE("event.flags",
			  (Flags & CU_EVENT_INTERPROCESS) &&
			  !(Flags & CU_EVENT_DISABLE_TIMING),
			  CUDA_ERROR_INVALID_VALUE,
			  "CU_EVENT_INTERPROCESS needs CU_EVENT_DISABLE_TIMING");
	if (!rc) {
		ev = emu_xcalloc(1, sizeof(*ev));
		ev->ctx = ctx;
		ev->flags = Flags;
		ev->next = emu.events;
		emu.events = ev;
		emu_add(EMU_C_live_events, 1);
		*phEvent = ev;
	}
	emu_unlock();
	return rc;
}

CUresult cuEventRecord(CUevent hEvent, CUstream hStream)
{
	struct emu_marker *m;
	struct CUstream_st *s;
	struct CUctx_st *ctx;
	struct emu_op *op;
	CUresult rc;

	emu_count(EMU_C_event_record);
	rc = event_call(__func__, 1, &ctx);
	if (rc)
		return rc;
	rc = emu_event_marker(__func__, hEvent, &m);
	if (!rc)
		rc = emu_resolve_stream(__func__, hStream, ctx, &s);
	if (!rc && event_valid(hEvent))
		rc = RULE("event.context", hEvent->ctx != s->ctx,
			  CUDA_ERROR_INVALID_HANDLE,
			  "the event is device %d's, the stream device %d's",
			  hEvent->ctx->dev, s->ctx->dev);
	if (!rc && event_valid(hEvent)) {
		m = emu_marker_new();
		op = emu_xcalloc(1, sizeof(*op));
		op->kind = EMU_OP_SIGNAL;
		op->marker = m;
		m->refs++;
		emu_enqueue(s, op);
		emu_marker_put(hEvent->last);
		hEvent->last = m;
	}
	emu_unlock();
	return rc;
}

CUresult cuEventQuery(CUevent hEvent)
{
	struct emu_marker *m;
	CUresult rc;

	emu_count(EMU_C_event_query);
	/* Documented without CUDA_ERROR_INVALID_CONTEXT: no context needed. */
	rc = event_call(__func__, 0, NULL);
	if (rc)
		return rc;
	rc = emu_event_marker(__func__, hEvent, &m);
	if (!rc && event_valid(hEvent))
		rc = emu_sticky();
	if (!rc && m && !m->done)
		rc = CUDA_ERROR_NOT_READY;
	emu_unlock();
	return rc;
}

CUresult cuEventSynchronize(CUevent hEvent)
{
	struct emu_marker *m;
	struct CUctx_st *ctx;
	CUresult rc;

	emu_count(EMU_C_event_synchronize);
	rc = event_call(__func__, 1, &ctx);
	if (rc)
		return rc;
	rc = emu_event_marker(__func__, hEvent, &m);
	if (!rc && m) {
		/* Ours: the event may be recorded again or destroyed meanwhile. */
		m->refs++;
		emu_marker_wait(m);
		emu_marker_put(m);
	}
	if (!rc && event_valid(hEvent))
		rc = emu_sticky();
	emu_unlock();
	return rc;
}

CUresult cuEventDestroy(CUevent hEvent)
{
	struct emu_marker *m;
	struct CUctx_st *ctx;
	CUresult rc;

	emu_count(EMU_C_event_destroy);
	rc = event_call(__func__, 1, &ctx);
	if (rc)
		return rc;
	rc = emu_event_marker(__func__, hEvent, &m);
	/* Returns at once even if the record is pending, as documented. */
	if (!rc && event_valid(hEvent))
		event_free(hEvent);
	emu_unlock();
	return rc;
}
