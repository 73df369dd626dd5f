// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * kvmem._accel: the CPython binding of libaccel (libaccel/accel.h).
 *
 * Types: Context (accel_ctx), Sequence (accel_seq) and Tensor (one layer's
 * K or V of a sequence, tokens [0, n) as they were when it was made),
 * which exports its memory through the buffer protocol (host backend),
 * __array_interface__ and DLPack (both backends; device memory is never
 * dereferenced here).
 *
 * Lifetimes (Documentation/python.md, "Views and lifetimes"): a Tensor
 * holds its Sequence, a Sequence its Context. Sequence.destroy() and
 * Context.close() end the objects for Python at once (every later call
 * raises ValueError), but the libaccel call that frees memory runs only
 * when nothing can reach it any more: no Tensor of the sequence is alive
 * (numpy arrays and torch tensors made from one keep it alive) and no call
 * on it is running in another thread. So no view ever outlives its memory.
 * In a forked child every object raises ChildProcessError, and the parent's
 * host memory, which the child does not inherit (MADV_DONTFORK), reads as
 * zeros through views made before the fork.
 *
 * Threads: calls on one Sequence are serialized by a lock of its own
 * (libaccel's seq-serial rule holds whatever Python threads do); the
 * calls that can block (create, grow, swaps, wait, destroy, trim, close)
 * release the GIL.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <pythread.h>

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "accel.h"

/* ------------------------------------------------------------- DLPack */

/* The DLPack ABI (dlpack.h, v0.8), as every consumer reads it. */
typedef struct {
	int32_t device_type;	/* kDLCPU 1, kDLCUDA 2 */
	int32_t device_id;
} DLDevice;
typedef struct {
	uint8_t code;		/* kDLInt 0, kDLUInt 1, kDLFloat 2, kDLBfloat 4 */
	uint8_t bits;
	uint16_t lanes;
} DLDataType;
typedef struct {
	void *data;
	DLDevice device;
	int32_t ndim;
	DLDataType dtype;
	int64_t *shape;
	int64_t *strides;
	uint64_t byte_offset;
} DLTensor;
typedef struct DLManagedTensor {
	DLTensor dl_tensor;
	void *manager_ctx;
	void (*deleter)(struct DLManagedTensor *self);
} DLManagedTensor;
#define DL_CPU	1
#define DL_CUDA	2

/* -------------------------------------------------------------- types */

typedef struct SeqObject SeqObject;

typedef struct CtxObject {
	PyObject_HEAD
	struct accel_ctx *ctx;	/* NULL once really closed */
	struct accel_info info;
	int cuda_device;
	int closed;		/* ended for Python */
	int forked;		/* opened by another process (fork) */
	pid_t pid;
	Py_ssize_t holds;	/* live sequences + calls in flight */
	SeqObject *seqs;	/* live sequences (not freed in libaccel) */
	uint64_t next_id;
	struct CtxObject *gnext, *gprev;	/* every context, for fork */
	PyObject *weakrefs;
} CtxObject;

struct SeqObject {
	PyObject_HEAD
	CtxObject *ctx;
	struct accel_seq *seq;	/* NULL once freed in libaccel */
	struct accel_geometry geo;
	PyObject *user_data;
	PyThread_type_lock lock;
	uint64_t id;
	int ended;		/* destroyed for Python */
	int linked;
	Py_ssize_t holds;	/* Tensors + calls in flight */
	SeqObject *next, *prev;
	PyObject *weakrefs;
};

typedef struct {
	PyObject_HEAD
	SeqObject *seq;
	struct accel_tensor t;
	uint32_t layer, kv;
	uint64_t tokens;
	Py_ssize_t shape[3], strides[3];
	int64_t dl_shape[3], dl_strides[3];
} TensorObject;

static PyTypeObject CtxType, SeqType, TensorType;
static PyTypeObject InfoType, PoolType, StatsType, ComplType, TinfoType;
static CtxObject *all_ctx;

/* ------------------------------------------------------------- errors */

/* The cause and the fix of errno e in call `call`, for the message. */
static const char *err_hint(const char *call, int e)
{
	int open = !strcmp(call, "accel_open");
	int swap = !strncmp(call, "accel_seq_swap", 14);

	switch (e) {
	case ENOENT:
		return open ? "/dev/kvmem missing: is kvmem.ko loaded? "
			"modprobe kvmem (or check device= and $ACCEL_DEVICE)" :
			"no such object";
	case EACCES:
		if (!strcmp(call, "accel_seq_create"))
			return "this process may not charge that tenant: "
				"grant it (echo UID > /sys/class/misc/kvmem/"
				"tenants/N/uid, or gid) or use the default "
				"tenant";
		/* fall through */
	case EPERM:
		return "no permission on the kvmem device: run as root or "
			"as a member of the device's group (udev rule "
			"60-kvmem.rules)";
	case EPROTO:
		return "the device is not kvmem or speaks another ABI "
			"version: check device= and $ACCEL_DEVICE, and that "
			"libaccel and kvmem.ko come from the same release";
	case ENODEV:
		return "no kvmem pool has the preferred tier or the explicit "
			"swap tier: pick tier=/swap_tier= among kvmem's pools "
			"(Context.pools(), /sys/class/misc/kvmem/pools)";
	case EOPNOTSUPP:
		if (open)
			return "the backend asked for is not available (no "
				"libcuda.so.1, no CUDA device, or no virtual "
				"memory management): use backend='host'";
		if (swap)
			return "the context has no swap tier (info().swap_tier "
				"is DEFAULT): load kvmem with a slower pool "
				"(tiers=N:cxl) or give swap_tier=";
		return "not supported here (no /dev/kvmem, or a module "
			"without this feature)";
	case ENOMEM:
		return "out of memory: the tier's pool (or the tenant's "
			"quota) is used up even after giving back kept "
			"sequences: grow the pool (reserve_mib, sysfs "
			"reserve), raise the quota, destroy sequences, or open "
			"with wait_ms= to wait for frames";
	case ETIMEDOUT:
		return !strcmp(call, "accel_seq_wait") ?
			"the swap is still in flight: wait longer" :
			"wait_ms passed with no free frame: the pool stayed "
			"full";
	case EBUSY:
		return swap ? "a swap is in flight or the state does not "
			"allow it (out needs RESIDENT, in needs SWAPPED): "
			"wait() first" :
			"the sequence is swapped out or swapping: wait() and "
			"swap_in() before growing it";
	case ENOSPC:
	case EMFILE:
		return "kvmem has no free space id (max_spaces): destroy "
			"sequences or trim()";
	case EOVERFLOW:
		return "the geometry is too large for one sequence";
	case EIO:
		return "a CUDA call failed (see stderr)";
	case EINVAL:
		return "libaccel rejected an argument (Documentation/"
			"libaccel.md lists each call's rules)";
	default:
		return "see Documentation/libaccel.md";
	}
}

/* Raises the OSError subclass of -neg (errno set), naming cause and fix. */
static PyObject *raise_neg(int neg, const char *call)
{
	int e = neg < 0 ? -neg : neg;
	PyObject *exc;

	exc = PyObject_CallFunction(PyExc_OSError, "is", e, "");
	if (exc) {
		PyObject *msg = PyUnicode_FromFormat("%s: %s: %s", call,
						     strerror(e),
						     err_hint(call, e));

		if (msg) {
			PyObject_SetAttrString(exc, "strerror", msg);
			Py_DECREF(msg);
		}
		PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
		Py_DECREF(exc);
	}
	return NULL;
}

/* An integer argument in [0, max]: TypeError / ValueError otherwise. */
static int get_u64(PyObject *o, const char *name, uint64_t max, uint64_t *out)
{
	PyObject *idx;
	unsigned long long v;

	if (PyBool_Check(o) || !PyIndex_Check(o)) {
		PyErr_Format(PyExc_TypeError, "%s must be an int, not %.100s",
			     name, Py_TYPE(o)->tp_name);
		return -1;
	}
	idx = PyNumber_Index(o);
	if (!idx)
		return -1;
	if (_PyLong_Sign(idx) < 0) {
		Py_DECREF(idx);
		PyErr_Format(PyExc_ValueError, "%s must be >= 0", name);
		return -1;
	}
	v = PyLong_AsUnsignedLongLong(idx);
	Py_DECREF(idx);
	if (PyErr_Occurred() || v > max) {
		PyErr_Clear();
		PyErr_Format(PyExc_ValueError, "%s must be at most %llu", name,
			     (unsigned long long)max);
		return -1;
	}
	*out = v;
	return 0;
}

static int get_i32(PyObject *o, const char *name, int32_t *out)
{
	long v;

	if (PyBool_Check(o) || !PyLong_Check(o)) {
		PyErr_Format(PyExc_TypeError, "%s must be an int, not %.100s",
			     name, Py_TYPE(o)->tp_name);
		return -1;
	}
	v = PyLong_AsLong(o);
	if ((v == -1 && PyErr_Occurred()) || v < INT32_MIN || v > INT32_MAX) {
		PyErr_Clear();
		PyErr_Format(PyExc_ValueError, "%s must fit in 32 bits "
			     "(signed)", name);
		return -1;
	}
	*out = (int32_t)v;
	return 0;
}

static int check_forked(CtxObject *c)
{
	if (c->forked || getpid() != c->pid) {
		c->forked = 1;
		PyErr_SetString(PyExc_ChildProcessError,
				"this kvmem context was opened by the parent "
				"process: contexts are not inherited across "
				"fork (libaccel.md, rule 7); open a new "
				"Context in the child");
		return -1;
	}
	return 0;
}

/* ------------------------------------------------- lifetime machinery */

static void ctx_release(CtxObject *c);

/* Frees a context in libaccel: nothing references it any more. */
static void ctx_really_close(CtxObject *c)
{
	struct accel_ctx *ctx = c->ctx;

	if (!ctx)
		return;
	c->ctx = NULL;
	Py_BEGIN_ALLOW_THREADS
	accel_close(ctx);	/* in a forked child: frees its copy only */
	Py_END_ALLOW_THREADS
}

static void ctx_release(CtxObject *c)
{
	if (--c->holds == 0 && c->closed)
		ctx_really_close(c);
}

/* Frees a sequence in libaccel: no Tensor, no call on it any more. */
static void seq_really_destroy(SeqObject *s)
{
	struct accel_seq *seq = s->seq;
	CtxObject *c = s->ctx;

	if (s->linked) {
		if (s->prev)
			s->prev->next = s->next;
		else
			c->seqs = s->next;
		if (s->next)
			s->next->prev = s->prev;
		s->linked = 0;
	}
	if (!seq)
		return;
	s->seq = NULL;
	s->ended = 1;
	/* A forked child leaves the parent's sequences alone: its
	 * accel_close() frees its copies. */
	if (!c->forked && getpid() == c->pid && c->ctx) {
		Py_BEGIN_ALLOW_THREADS
		accel_seq_destroy(seq);
		Py_END_ALLOW_THREADS
	}
	ctx_release(c);
}

static void seq_end(SeqObject *s)
{
	s->ended = 1;
	if (s->holds == 0)
		seq_really_destroy(s);
}

/* Start of a call on s: raises if it cannot be made; else holds s. */
static int seq_enter(SeqObject *s)
{
	if (s->ended || !s->seq) {
		PyErr_SetString(PyExc_ValueError, "the sequence was destroyed "
				"(or its context closed)");
		return -1;
	}
	if (check_forked(s->ctx))
		return -1;
	s->holds++;
	return 0;
}

static void seq_leave(SeqObject *s)
{
	if (--s->holds == 0 && s->ended)
		seq_really_destroy(s);
}

/* The sequence's lock, taken without the GIL if it is contended. */
static void seq_lock(SeqObject *s)
{
	if (!PyThread_acquire_lock(s->lock, NOWAIT_LOCK)) {
		Py_BEGIN_ALLOW_THREADS
		PyThread_acquire_lock(s->lock, WAIT_LOCK);
		Py_END_ALLOW_THREADS
	}
}

static int ctx_enter(CtxObject *c)
{
	if (c->closed || !c->ctx) {
		PyErr_SetString(PyExc_ValueError, "the context is closed");
		return -1;
	}
	if (check_forked(c))
		return -1;
	c->holds++;
	return 0;
}

/* ------------------------------------------------------- small structs */

static PyStructSequence_Field info_fields[] = {
	{ "backend", "enum accel_backend in use (never AUTO)" },
	{ "abi_version", "kvmem ABI version; 0: no module (cuda backend)" },
	{ "features", "KVMEM_FEATURE_* bits of the module" },
	{ "page_size", "bytes per page of the sequences' memory" },
	{ "npools", "kvmem pools" },
	{ "tier", "preferred tier in use" },
	{ "swap_tier", "swap tier in use (TIER_DEFAULT: none)" },
	{ "numa_node", "NUMA node of the memory (host) or the GPU; -1" },
	{ NULL, NULL }
};
static PyStructSequence_Desc info_desc = {
	"kvmem.Info", "What accel_info() reports.", info_fields, 8
};

static PyStructSequence_Field pool_fields[] = {
	{ "index", NULL }, { "node", NULL }, { "tier", NULL },
	{ "page_size", NULL }, { "frames_total", NULL }, { "frames_free", NULL },
	{ NULL, NULL }
};
static PyStructSequence_Desc pool_desc = {
	"kvmem.Pool", "One kvmem pool (accel_pool_query()).", pool_fields, 6
};

#define NSTATS 15
static PyStructSequence_Field stats_fields[] = {
	{ "grow_calls", NULL }, { "grow_blocked", NULL },
	{ "grow_blocked_ns", NULL }, { "pages_mapped_sync", NULL },
	{ "pages_mapped_ahead", NULL }, { "seqs_created", NULL },
	{ "seqs_reused", NULL }, { "kept_seqs", NULL }, { "kept_bytes", NULL },
	{ "trimmed_bytes", NULL }, { "swaps_out", NULL }, { "swaps_in", NULL },
	{ "swap_bytes_copied", NULL }, { "swap_bytes_reused", NULL },
	{ "step_device_allocs", NULL }, { NULL, NULL }
};
static PyStructSequence_Desc stats_desc = {
	"kvmem.Stats", "Counters since the context was opened "
	"(accel_stats(); Documentation/libaccel.md).", stats_fields, NSTATS
};

static PyStructSequence_Field compl_fields[] = {
	{ "seq", "the Sequence, or None if it is gone" },
	{ "user_data", "the sequence's user_data" },
	{ "op", "OP_SWAP_OUT, OP_SWAP_IN, OP_PREEMPTED or OP_RUNNABLE" },
	{ "status", "0, or a negative errno (the sequence stayed put)" },
	{ "bytes_copied", NULL }, { "bytes_reused", NULL }, { NULL, NULL }
};
static PyStructSequence_Desc compl_desc = {
	"kvmem.Completion", "The end of an asynchronous operation.",
	compl_fields, 6
};

static PyStructSequence_Field tinfo_fields[] = {
	{ "base", "address of token 0 (host pointer or CUdeviceptr)" },
	{ "token_stride", "bytes" }, { "head_stride", "bytes" },
	{ "dtype", NULL }, { "on_device", NULL }, { "max_tokens", NULL },
	{ NULL, NULL }
};
static PyStructSequence_Desc tinfo_desc = {
	"kvmem.TensorInfo", "struct accel_tensor.", tinfo_fields, 6
};

/* A struct sequence of n unsigned 64-bit values. */
static PyObject *sseq_u64(PyTypeObject *t, const uint64_t *v, int n)
{
	PyObject *r = PyStructSequence_New(t);

	if (!r)
		return NULL;
	for (int i = 0; i < n; i++) {
		PyObject *x = PyLong_FromUnsignedLongLong(v[i]);

		if (!x) {
			Py_DECREF(r);
			return NULL;
		}
		PyStructSequence_SET_ITEM(r, i, x);
	}
	return r;
}

/* --------------------------------------------------------------- Context */

static int ctx_init(CtxObject *self, PyObject *args, PyObject *kw)
{
	static char *kwl[] = { "backend", "device", "cuda_device", "tier",
		"swap_tier", "tenant", "priority", "wait_ms", "step_ahead",
		"tokens_per_step", "cache_max_bytes", "flags", NULL };
	PyObject *o[12] = { 0 };
	const char *names[12] = { "backend", "device", "cuda_device", "tier",
		"swap_tier", "tenant", "priority", "wait_ms", "step_ahead",
		"tokens_per_step", "cache_max_bytes", "flags" };
	struct accel_open_opts opts;
	uint64_t v;
	int32_t i32;
	int ret;

	if (self->ctx || self->closed) {
		PyErr_SetString(PyExc_RuntimeError, "Context already opened");
		return -1;
	}
	if (!PyArg_ParseTupleAndKeywords(args, kw, "|$OOOOOOOOOOOO", kwl,
			&o[0], &o[1], &o[2], &o[3], &o[4], &o[5], &o[6], &o[7],
			&o[8], &o[9], &o[10], &o[11]))
		return -1;
	accel_open_opts_init(&opts);
	if (o[0] && (get_u64(o[0], "backend", ACCEL_BACKEND_CUDA, &v) < 0))
		return -1;
	if (o[0])
		opts.backend = (uint32_t)v;
	if (o[1] && o[1] != Py_None) {
		if (!PyUnicode_Check(o[1])) {
			PyErr_SetString(PyExc_TypeError, "device must be a str "
					"(a path) or None");
			return -1;
		}
		opts.device = PyUnicode_AsUTF8(o[1]);
		if (!opts.device)
			return -1;
	}
	if (o[2]) {
		if (get_i32(o[2], "cuda_device", &i32) < 0)
			return -1;
		if (i32 < 0) {
			PyErr_SetString(PyExc_ValueError, "cuda_device must "
					"be >= 0");
			return -1;
		}
		opts.cuda_device = i32;
	}
	for (int k = 3; k <= 4; k++) {
		if (!o[k])
			continue;
		if (get_u64(o[k], names[k], ACCEL_TIER_DEFAULT, &v) < 0)
			return -1;
		if (v > ACCEL_TIER_CXL && v != ACCEL_TIER_DEFAULT) {
			PyErr_Format(PyExc_ValueError, "%s must be TIER_HBM, "
				     "TIER_DRAM, TIER_CXL or TIER_DEFAULT",
				     names[k]);
			return -1;
		}
		if (k == 3)
			opts.tier = (uint32_t)v;
		else
			opts.swap_tier = (uint32_t)v;
	}
	if (o[5] && get_u64(o[5], "tenant", UINT32_MAX, &v) < 0)
		return -1;
	if (o[5])
		opts.tenant = (uint32_t)v;
	if (o[6] && get_i32(o[6], "priority", &opts.priority) < 0)
		return -1;
	if (o[7] && get_u64(o[7], "wait_ms", 60000, &v) < 0)
		return -1;
	if (o[7])
		opts.wait_ms = (uint32_t)v;
	for (int k = 8; k <= 9; k++) {
		if (!o[k])
			continue;
		if (get_u64(o[k], names[k], UINT32_MAX, &v) < 0)
			return -1;
		if (k == 8)
			opts.step_ahead = (uint32_t)v;
		else
			opts.tokens_per_step = (uint32_t)v;
	}
	if (o[10] && get_u64(o[10], "cache_max_bytes", UINT64_MAX, &v) < 0)
		return -1;
	if (o[10])
		opts.cache_max_bytes = v;
	if (o[11]) {
		if (get_u64(o[11], "flags", UINT64_MAX, &v) < 0)
			return -1;
		if (v & ~(ACCEL_OPEN_NO_KEEP | ACCEL_OPEN_REQUIRE_MODULE)) {
			PyErr_SetString(PyExc_ValueError, "flags: only "
					"OPEN_NO_KEEP and OPEN_REQUIRE_MODULE");
			return -1;
		}
		opts.flags = v;
	}
	self->cuda_device = opts.cuda_device;
	Py_BEGIN_ALLOW_THREADS
	ret = accel_open(&opts, &self->ctx);
	Py_END_ALLOW_THREADS
	if (ret) {
		self->ctx = NULL;
		raise_neg(ret, "accel_open");
		return -1;
	}
	ret = accel_info(self->ctx, &self->info);
	if (ret) {
		accel_close(self->ctx);
		self->ctx = NULL;
		raise_neg(ret, "accel_info");
		return -1;
	}
	self->pid = getpid();
	self->holds = 0;
	self->gnext = all_ctx;
	if (all_ctx)
		all_ctx->gprev = self;
	all_ctx = self;
	return 0;
}

static void ctx_unlink_global(CtxObject *self)
{
	if (self->gprev)
		self->gprev->gnext = self->gnext;
	else if (all_ctx == self)
		all_ctx = self->gnext;
	if (self->gnext)
		self->gnext->gprev = self->gprev;
	self->gnext = self->gprev = NULL;
}

static PyObject *ctx_close(CtxObject *self, PyObject *unused)
{
	SeqObject *s, *next;

	(void)unused;
	if (self->closed)
		Py_RETURN_NONE;
	self->closed = 1;
	self->holds++;	/* nothing frees self->ctx while we walk */
	for (s = self->seqs; s; s = next) {
		next = s->next;
		Py_INCREF(s);
		seq_end(s);
		Py_DECREF(s);
	}
	ctx_release(self);
	Py_RETURN_NONE;
}

static void ctx_dealloc(CtxObject *self)
{
	if (self->weakrefs)
		PyObject_ClearWeakRefs((PyObject *)self);
	/* No sequence refers to it: they hold their context. */
	self->closed = 1;
	ctx_really_close(self);
	ctx_unlink_global(self);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *ctx_info(CtxObject *self, PyObject *unused)
{
	struct accel_info i;
	PyObject *r;
	int ret;

	(void)unused;
	if (ctx_enter(self))
		return NULL;
	ret = accel_info(self->ctx, &i);
	ctx_release(self);
	if (ret)
		return raise_neg(ret, "accel_info");
	r = PyStructSequence_New(&InfoType);
	if (!r)
		return NULL;
	PyStructSequence_SET_ITEM(r, 0, PyLong_FromUnsignedLong(i.backend));
	PyStructSequence_SET_ITEM(r, 1, PyLong_FromUnsignedLong(i.abi_version));
	PyStructSequence_SET_ITEM(r, 2, PyLong_FromUnsignedLongLong(i.features));
	PyStructSequence_SET_ITEM(r, 3, PyLong_FromUnsignedLongLong(i.page_size));
	PyStructSequence_SET_ITEM(r, 4, PyLong_FromUnsignedLong(i.npools));
	PyStructSequence_SET_ITEM(r, 5, PyLong_FromUnsignedLong(i.tier));
	PyStructSequence_SET_ITEM(r, 6, PyLong_FromUnsignedLong(i.swap_tier));
	PyStructSequence_SET_ITEM(r, 7, PyLong_FromLong(i.numa_node));
	if (PyErr_Occurred()) {
		Py_DECREF(r);
		return NULL;
	}
	return r;
}

static PyObject *ctx_pool(CtxObject *self, PyObject *arg)
{
	struct accel_pool p;
	uint64_t idx, v[6];
	int ret;

	if (get_u64(arg, "index", UINT32_MAX, &idx) || ctx_enter(self))
		return NULL;
	ret = accel_pool_query(self->ctx, (uint32_t)idx, &p);
	ctx_release(self);
	if (ret == -EINVAL) {
		PyErr_Format(PyExc_IndexError, "no pool %llu (info().npools "
			     "pools)", (unsigned long long)idx);
		return NULL;
	}
	if (ret)
		return raise_neg(ret, "accel_pool_query");
	v[0] = p.index;
	v[1] = (uint64_t)(int64_t)p.node;
	v[2] = p.tier;
	v[3] = p.page_size;
	v[4] = p.frames_total;
	v[5] = p.frames_free;
	ret = p.node;
	{
		PyObject *r = sseq_u64(&PoolType, v, 6);

		if (r) {
			PyObject *n = PyLong_FromLong(ret);

			if (!n) {
				Py_DECREF(r);
				return NULL;
			}
			Py_DECREF(PyStructSequence_GET_ITEM(r, 1));
			PyStructSequence_SET_ITEM(r, 1, n);
		}
		return r;
	}
}

static PyObject *ctx_stats(CtxObject *self, PyObject *unused)
{
	struct accel_stats st;
	uint64_t v[NSTATS];
	int ret;

	(void)unused;
	if (ctx_enter(self))
		return NULL;
	ret = accel_stats(self->ctx, &st);
	ctx_release(self);
	if (ret)
		return raise_neg(ret, "accel_stats");
	_Static_assert(sizeof(st) == sizeof(v), "accel_stats fields");
	memcpy(v, &st, sizeof(v));
	return sseq_u64(&StatsType, v, NSTATS);
}

static PyObject *ctx_fileno(CtxObject *self, PyObject *unused)
{
	int fd;

	(void)unused;
	if (ctx_enter(self))
		return NULL;
	fd = accel_fd(self->ctx);
	ctx_release(self);
	if (fd < 0)
		return raise_neg(fd, "accel_fd");
	return PyLong_FromLong(fd);
}

static PyObject *ctx_trim(CtxObject *self, PyObject *unused)
{
	int64_t r;

	(void)unused;
	if (ctx_enter(self))
		return NULL;
	Py_BEGIN_ALLOW_THREADS
	r = accel_trim(self->ctx);
	Py_END_ALLOW_THREADS
	ctx_release(self);
	if (r < 0)
		return raise_neg((int)r, "accel_trim");
	return PyLong_FromLongLong(r);
}

/* Geometry from keyword-style fields of a Python object. */
static int geo_from(PyObject *o, struct accel_geometry *g)
{
	static const char *f[] = { "layers", "kv_heads", "head_dim", "dtype",
		"max_tokens", "layout" };
	uint64_t v[6];

	memset(g, 0, sizeof(*g));
	for (int i = 0; i < 6; i++) {
		PyObject *x = PyObject_GetAttrString(o, f[i]);
		uint64_t max = i == 4 ? UINT64_MAX : UINT32_MAX;

		if (!x) {
			PyErr_Format(PyExc_TypeError, "geometry needs the "
				     "attribute %s (use kvmem.Geometry)", f[i]);
			return -1;
		}
		if (get_u64(x, f[i], max, &v[i])) {
			Py_DECREF(x);
			return -1;
		}
		Py_DECREF(x);
	}
	for (int i = 0; i < 5; i++) {
		if (i != 3 && v[i] == 0) {
			PyErr_Format(PyExc_ValueError, "geometry: %s must be "
				     ">= 1", f[i]);
			return -1;
		}
	}
	if (!accel_dtype_size((uint32_t)v[3])) {
		PyErr_SetString(PyExc_ValueError, "geometry: dtype must be "
				"DTYPE_F16, DTYPE_BF16, DTYPE_F32 or DTYPE_FP8");
		return -1;
	}
	if (v[5] > ACCEL_LAYOUT_PER_SEQ) {
		PyErr_SetString(PyExc_ValueError, "geometry: layout must be "
				"LAYOUT_PER_LAYER or LAYOUT_PER_SEQ");
		return -1;
	}
	g->layers = (uint32_t)v[0];
	g->kv_heads = (uint32_t)v[1];
	g->head_dim = (uint32_t)v[2];
	g->dtype = (uint32_t)v[3];
	g->max_tokens = v[4];
	g->layout = (uint32_t)v[5];
	return 0;
}

static PyObject *ctx_seq_bytes(CtxObject *self, PyObject *geo)
{
	struct accel_geometry g;
	int64_t r;

	if (geo_from(geo, &g) || ctx_enter(self))
		return NULL;
	r = accel_seq_bytes(self->ctx, &g);
	ctx_release(self);
	if (r < 0)
		return raise_neg((int)r, "accel_seq_bytes");
	return PyLong_FromLongLong(r);
}

static PyObject *ctx_create(CtxObject *self, PyObject *args, PyObject *kw)
{
	static char *kwl[] = { "geometry", "hint_tokens", "priority",
		"user_data", "tenant", NULL };
	PyObject *geo, *hint = NULL, *prio = Py_None, *ud = Py_None;
	PyObject *tenant = Py_None;
	struct accel_seq_opts so = { 0 };
	struct accel_geometry g;
	SeqObject *s;
	uint64_t v;
	int ret;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "O|$OOOO", kwl, &geo, &hint,
					 &prio, &ud, &tenant))
		return NULL;
	if (geo_from(geo, &g))
		return NULL;
	if (hint && get_u64(hint, "hint_tokens", g.max_tokens, &v))
		return NULL;
	so.hint_tokens = hint ? v : 0;
	if (prio != Py_None) {
		if (get_i32(prio, "priority", &so.priority))
			return NULL;
		so.flags |= ACCEL_SEQ_PRIORITY;
	}
	if (tenant != Py_None) {
		if (get_u64(tenant, "tenant", UINT32_MAX, &v))
			return NULL;
		so.tenant = (uint32_t)v;
		so.flags |= ACCEL_SEQ_TENANT;
	}
	if (ctx_enter(self))
		return NULL;
	s = PyObject_GC_New(SeqObject, &SeqType);
	if (!s) {
		ctx_release(self);
		return NULL;
	}
	s->ctx = self;
	Py_INCREF(self);
	s->seq = NULL;
	s->geo = g;
	s->user_data = ud;
	Py_INCREF(ud);
	s->lock = PyThread_allocate_lock();
	s->id = ++self->next_id;
	s->ended = 1;	/* until made */
	s->linked = 0;
	s->holds = 0;
	s->next = s->prev = NULL;
	s->weakrefs = NULL;
	PyObject_GC_Track(s);
	if (!s->lock) {
		Py_DECREF(s);
		ctx_release(self);
		return PyErr_NoMemory();
	}
	so.user_data = (void *)(uintptr_t)s->id;
	Py_BEGIN_ALLOW_THREADS
	ret = accel_seq_create(self->ctx, &g, &so, &s->seq);
	Py_END_ALLOW_THREADS
	if (ret) {
		s->seq = NULL;
		Py_DECREF(s);
		ctx_release(self);
		return raise_neg(ret, "accel_seq_create");
	}
	/* The call's hold on the context becomes the sequence's. */
	s->ended = 0;
	s->linked = 1;
	s->next = self->seqs;
	if (self->seqs)
		self->seqs->prev = s;
	self->seqs = s;
	return (PyObject *)s;
}

static PyObject *ctx_poll(CtxObject *self, PyObject *args, PyObject *kw)
{
	static char *kwl[] = { "max", NULL };
	struct accel_completion c[64];
	PyObject *maxo = NULL, *list;
	uint64_t max = 64;
	int n;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "|O", kwl, &maxo))
		return NULL;
	if (maxo && get_u64(maxo, "max", 64, &max))
		return NULL;
	if (max == 0) {
		PyErr_SetString(PyExc_ValueError, "max must be >= 1");
		return NULL;
	}
	if (ctx_enter(self))
		return NULL;
	n = accel_poll_completions(self->ctx, c, (unsigned int)max);
	if (n < 0) {
		ctx_release(self);
		return raise_neg(n, "accel_poll_completions");
	}
	list = PyList_New(n);
	for (int i = 0; list && i < n; i++) {
		uint64_t id = (uint64_t)(uintptr_t)c[i].user_data;
		PyObject *r = PyStructSequence_New(&ComplType);
		PyObject *seq = Py_None, *ud = Py_None;

		for (SeqObject *s = self->seqs; s; s = s->next) {
			if (s->id == id) {
				seq = (PyObject *)s;
				ud = s->user_data;
				break;
			}
		}
		if (!r) {
			Py_CLEAR(list);
			break;
		}
		Py_INCREF(seq);
		Py_INCREF(ud);
		PyStructSequence_SET_ITEM(r, 0, seq);
		PyStructSequence_SET_ITEM(r, 1, ud);
		PyStructSequence_SET_ITEM(r, 2, PyLong_FromUnsignedLong(c[i].op));
		PyStructSequence_SET_ITEM(r, 3, PyLong_FromLong(c[i].status));
		PyStructSequence_SET_ITEM(r, 4,
			PyLong_FromUnsignedLongLong(c[i].bytes_copied));
		PyStructSequence_SET_ITEM(r, 5,
			PyLong_FromUnsignedLongLong(c[i].bytes_reused));
		PyList_SET_ITEM(list, i, r);
	}
	ctx_release(self);
	if (list && PyErr_Occurred())
		Py_CLEAR(list);
	return list;
}

static PyObject *ctx_enter_cm(PyObject *self, PyObject *unused)
{
	(void)unused;
	Py_INCREF(self);
	return self;
}

static PyObject *ctx_exit_cm(CtxObject *self, PyObject *args)
{
	(void)args;
	return ctx_close(self, NULL);
}

static PyObject *ctx_get_closed(CtxObject *self, void *c)
{
	(void)c;
	return PyBool_FromLong(self->closed);
}

static PyObject *ctx_get_backend(CtxObject *self, void *c)
{
	(void)c;
	return PyLong_FromUnsignedLong(self->info.backend);
}

static PyObject *ctx_get_cuda_device(CtxObject *self, void *c)
{
	(void)c;
	return PyLong_FromLong(self->cuda_device);
}

static PyObject *ctx_get_nseqs(CtxObject *self, void *c)
{
	Py_ssize_t n = 0;

	(void)c;
	for (SeqObject *s = self->seqs; s; s = s->next)
		n++;
	return PyLong_FromSsize_t(n);
}

static PyMethodDef ctx_methods[] = {
	{ "close", (PyCFunction)ctx_close, METH_NOARGS,
	  "close()\n\nEnds the context and every sequence of it. Memory a "
	  "live view still reaches is freed (accel_close()) when the last "
	  "view goes. Idempotent." },
	{ "info", (PyCFunction)ctx_info, METH_NOARGS,
	  "info() -> Info\n\naccel_info(): backend, ABI version, features, "
	  "page size, pools, tiers, NUMA node. ctx-safe." },
	{ "pool", (PyCFunction)ctx_pool, METH_O,
	  "pool(index) -> Pool\n\naccel_pool_query(); IndexError for an "
	  "index >= npools. ctx-safe." },
	{ "stats", (PyCFunction)ctx_stats, METH_NOARGS,
	  "stats() -> Stats\n\naccel_stats(). ctx-safe." },
	{ "fileno", (PyCFunction)ctx_fileno, METH_NOARGS,
	  "fileno() -> int\n\naccel_fd(): readable while completions wait; "
	  "for selectors/asyncio. Never read or close it. ctx-safe." },
	{ "trim", (PyCFunction)ctx_trim, METH_NOARGS,
	  "trim() -> int\n\naccel_trim(): gives back every kept sequence; "
	  "returns the bytes. ctx-safe." },
	{ "seq_bytes", (PyCFunction)ctx_seq_bytes, METH_O,
	  "seq_bytes(geometry) -> int\n\naccel_seq_bytes(): virtual bytes "
	  "one sequence of this geometry takes." },
	{ "create", (PyCFunction)(void (*)(void))ctx_create,
	  METH_VARARGS | METH_KEYWORDS,
	  "create(geometry, *, hint_tokens=0, priority=None, user_data=None,"
	  " tenant=None) -> Sequence\n\naccel_seq_create(): a sequence with "
	  "0 tokens. priority, tenant None: the context's (a tenant must be "
	  "one this process may charge: PermissionError). ctx-safe." },
	{ "poll_completions", (PyCFunction)(void (*)(void))ctx_poll,
	  METH_VARARGS | METH_KEYWORDS,
	  "poll_completions(max=64) -> list[Completion]\n\n"
	  "accel_poll_completions(): takes up to max without blocking." },
	{ "__enter__", ctx_enter_cm, METH_NOARGS, NULL },
	{ "__exit__", (PyCFunction)ctx_exit_cm, METH_VARARGS, NULL },
	{ NULL, NULL, 0, NULL }
};

static PyGetSetDef ctx_getset[] = {
	{ "closed", (getter)ctx_get_closed, NULL, "close() was called", NULL },
	{ "backend", (getter)ctx_get_backend, NULL, "BACKEND_HOST or "
	  "BACKEND_CUDA", NULL },
	{ "cuda_device", (getter)ctx_get_cuda_device, NULL, NULL, NULL },
	{ "live_sequences", (getter)ctx_get_nseqs, NULL, "sequences whose "
	  "memory libaccel still holds for Python", NULL },
	{ NULL, NULL, NULL, NULL, NULL }
};

static PyTypeObject CtxType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "kvmem._accel.Context",
	.tp_basicsize = sizeof(CtxObject),
	.tp_dealloc = (destructor)ctx_dealloc,
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
	.tp_doc = "Context(*, backend=BACKEND_AUTO, device=None, "
		"cuda_device=0, tier=TIER_DEFAULT, swap_tier=TIER_DEFAULT, "
		"tenant=0, priority=0, wait_ms=0, step_ahead=0, "
		"tokens_per_step=0, cache_max_bytes=0, flags=0)\n\n"
		"accel_open() with struct accel_open_opts's fields, each "
		"defaulting to accel_open_opts_init()'s value. A context "
		"manager (close() at exit).",
	.tp_weaklistoffset = offsetof(CtxObject, weakrefs),
	.tp_methods = ctx_methods,
	.tp_getset = ctx_getset,
	.tp_init = (initproc)ctx_init,
	.tp_new = PyType_GenericNew,
};

/* --------------------------------------------------------------- Sequence */

static int seq_traverse(SeqObject *s, visitproc visit, void *arg)
{
	Py_VISIT(s->user_data);
	Py_VISIT(s->ctx);
	return 0;
}

static int seq_clear(SeqObject *s)
{
	Py_CLEAR(s->user_data);
	return 0;
}

static void seq_dealloc(SeqObject *s)
{
	PyObject_GC_UnTrack(s);
	if (s->weakrefs)
		PyObject_ClearWeakRefs((PyObject *)s);
	s->ended = 1;
	seq_really_destroy(s);
	Py_CLEAR(s->user_data);
	if (s->lock)
		PyThread_free_lock(s->lock);
	Py_CLEAR(s->ctx);
	PyObject_GC_Del(s);
}

static PyObject *seq_destroy(SeqObject *s, PyObject *unused)
{
	(void)unused;
	/* In a forked child too: it then frees nothing of the parent's. */
	if (!s->ended)
		seq_end(s);
	Py_RETURN_NONE;
}

static PyObject *seq_grow(SeqObject *s, PyObject *arg)
{
	uint64_t n;
	int ret;

	if (get_u64(arg, "tokens", s->geo.max_tokens, &n) || seq_enter(s))
		return NULL;
	seq_lock(s);
	if (n <= accel_seq_tokens(s->seq)) {
		ret = 0;	/* no-op: sequences do not shrink */
	} else {
		Py_BEGIN_ALLOW_THREADS
		ret = accel_seq_grow(s->seq, n);
		Py_END_ALLOW_THREADS
	}
	PyThread_release_lock(s->lock);
	seq_leave(s);
	if (ret < 0)
		return raise_neg(ret, "accel_seq_grow");
	return PyBool_FromLong(ret);
}

/* One call with the lock held and the GIL released; returns its value. */
#define SEQ_LOCKED_NOGIL(s, expr) ({			\
	int _r;						\
	seq_lock(s);					\
	Py_BEGIN_ALLOW_THREADS				\
	_r = (expr);					\
	Py_END_ALLOW_THREADS				\
	PyThread_release_lock((s)->lock);		\
	_r; })

static PyObject *seq_swap(SeqObject *s, int out)
{
	int ret;

	if (seq_enter(s))
		return NULL;
	ret = SEQ_LOCKED_NOGIL(s, out ? accel_seq_swap_out(s->seq) :
			       accel_seq_swap_in(s->seq));
	seq_leave(s);
	if (ret)
		return raise_neg(ret, out ? "accel_seq_swap_out" :
				 "accel_seq_swap_in");
	Py_RETURN_NONE;
}

static PyObject *seq_swap_out(SeqObject *s, PyObject *u)
{
	(void)u;
	return seq_swap(s, 1);
}

static PyObject *seq_swap_in(SeqObject *s, PyObject *u)
{
	(void)u;
	return seq_swap(s, 0);
}

static PyObject *seq_wait(SeqObject *s, PyObject *args, PyObject *kw)
{
	static char *kwl[] = { "timeout_ms", NULL };
	int timeout = -1, ret;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "|i", kwl, &timeout))
		return NULL;
	if (timeout < -1) {
		PyErr_SetString(PyExc_ValueError, "timeout_ms must be >= -1 "
				"(-1: no limit)");
		return NULL;
	}
	if (seq_enter(s))
		return NULL;
	ret = SEQ_LOCKED_NOGIL(s, accel_seq_wait(s->seq, timeout));
	seq_leave(s);
	if (ret)
		return raise_neg(ret, "accel_seq_wait");
	Py_RETURN_NONE;
}

static PyObject *seq_set(SeqObject *s, PyObject *arg, int which)
{
	static const char *calls[] = { "accel_seq_set_progress",
		"accel_seq_set_priority", "accel_seq_set_demand" };
	uint64_t v = 0;
	int32_t p = 0;
	int ret;

	if (which == 0 && get_u64(arg, "tokens_written", UINT64_MAX, &v))
		return NULL;
	if (which == 1 && get_i32(arg, "priority", &p))
		return NULL;
	if (which == 2) {
		if (get_u64(arg, "demand", UINT32_MAX, &v))
			return NULL;
		if (v > ACCEL_DEMAND_IDLE) {
			PyErr_SetString(PyExc_ValueError, "demand must be "
					"DEMAND_NONE, DEMAND_WAITING, "
					"DEMAND_RUNNING or DEMAND_IDLE");
			return NULL;
		}
	}
	if (seq_enter(s))
		return NULL;
	ret = SEQ_LOCKED_NOGIL(s, which == 0 ?
			       accel_seq_set_progress(s->seq, v) :
			       which == 1 ? accel_seq_set_priority(s->seq, p) :
			       accel_seq_set_demand(s->seq, (uint32_t)v));
	seq_leave(s);
	if (ret)
		return raise_neg(ret, calls[which]);
	Py_RETURN_NONE;
}

static PyObject *seq_set_progress(SeqObject *s, PyObject *a)
{
	return seq_set(s, a, 0);
}

static PyObject *seq_set_priority(SeqObject *s, PyObject *a)
{
	return seq_set(s, a, 1);
}

static PyObject *seq_set_demand(SeqObject *s, PyObject *a)
{
	return seq_set(s, a, 2);
}

static PyObject *seq_may_run(SeqObject *s, PyObject *u)
{
	bool r;

	(void)u;
	if (seq_enter(s))
		return NULL;
	r = accel_seq_may_run(s->seq);
	seq_leave(s);
	return PyBool_FromLong(r);
}

static PyObject *seq_get_state(SeqObject *s, void *c)
{
	int r;

	(void)c;
	if (seq_enter(s))
		return NULL;
	r = accel_seq_state(s->seq);
	seq_leave(s);
	if (r < 0)
		return raise_neg(r, "accel_seq_state");
	return PyLong_FromLong(r);
}

static PyObject *seq_get_tokens(SeqObject *s, void *c)
{
	uint64_t n;

	(void)c;
	if (seq_enter(s))
		return NULL;
	seq_lock(s);
	n = accel_seq_tokens(s->seq);
	PyThread_release_lock(s->lock);
	seq_leave(s);
	return PyLong_FromUnsignedLongLong(n);
}

static PyObject *seq_get_mapped(SeqObject *s, void *c)
{
	uint64_t n;

	(void)c;
	if (seq_enter(s))
		return NULL;
	n = accel_seq_mapped_tokens(s->seq);
	seq_leave(s);
	return PyLong_FromUnsignedLongLong(n);
}

static int layer_kv(SeqObject *s, PyObject *lo, PyObject *kvo, uint64_t *l,
		    uint64_t *kv)
{
	if (get_u64(lo, "layer", UINT32_MAX, l) || get_u64(kvo, "kv", 1, kv))
		return -1;
	if (*l >= s->geo.layers) {
		PyErr_Format(PyExc_IndexError, "layer %llu out of range "
			     "(%u layers)", (unsigned long long)*l,
			     s->geo.layers);
		return -1;
	}
	return 0;
}

static PyObject *seq_tensor_info(SeqObject *s, PyObject *args)
{
	PyObject *lo, *kvo;
	struct accel_tensor t;
	uint64_t l, kv, v[6];
	int ret;

	if (!PyArg_ParseTuple(args, "OO", &lo, &kvo) ||
	    layer_kv(s, lo, kvo, &l, &kv) || seq_enter(s))
		return NULL;
	ret = accel_seq_tensor(s->seq, (uint32_t)l, (uint32_t)kv, &t);
	seq_leave(s);
	if (ret)
		return raise_neg(ret, "accel_seq_tensor");
	v[0] = t.base;
	v[1] = t.token_stride;
	v[2] = t.head_stride;
	v[3] = t.dtype;
	v[4] = t.on_device;
	v[5] = t.max_tokens;
	return sseq_u64(&TinfoType, v, 6);
}

/* A Tensor of tokens [0, n) of one layer's K or V (n: now, or less). */
static PyObject *seq_tensor(SeqObject *s, PyObject *args, PyObject *kw)
{
	static char *kwl[] = { "layer", "kv", "tokens", NULL };
	PyObject *lo, *kvo, *no = Py_None;
	TensorObject *t;
	uint64_t l, kv, n, cur;
	int ret, state;
	size_t e;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|O", kwl, &lo, &kvo,
					 &no) ||
	    layer_kv(s, lo, kvo, &l, &kv) || seq_enter(s))
		return NULL;
	state = accel_seq_state(s->seq);
	if (state != ACCEL_SEQ_RESIDENT) {
		seq_leave(s);
		PyErr_Format(PyExc_BufferError, "the sequence is not resident "
			     "(state %d): swap_in() and wait() before making "
			     "views", state);
		return NULL;
	}
	seq_lock(s);
	cur = accel_seq_tokens(s->seq);
	PyThread_release_lock(s->lock);
	if (no == Py_None) {
		n = cur;
	} else if (get_u64(no, "tokens", cur, &n)) {
		seq_leave(s);
		if (PyErr_ExceptionMatches(PyExc_ValueError)) {
			PyErr_Clear();
			PyErr_Format(PyExc_ValueError, "tokens must be at most "
				     "the %llu tokens grown (grow() first)",
				     (unsigned long long)cur);
		}
		return NULL;
	}
	t = PyObject_New(TensorObject, &TensorType);
	if (!t) {
		seq_leave(s);
		return NULL;
	}
	ret = accel_seq_tensor(s->seq, (uint32_t)l, (uint32_t)kv, &t->t);
	if (ret) {
		t->seq = NULL;
		Py_DECREF(t);
		seq_leave(s);
		return raise_neg(ret, "accel_seq_tensor");
	}
	/* The call's hold becomes the Tensor's. */
	t->seq = s;
	Py_INCREF(s);
	t->layer = (uint32_t)l;
	t->kv = (uint32_t)kv;
	t->tokens = n;
	e = accel_dtype_size(t->t.dtype);
	t->shape[0] = (Py_ssize_t)n;
	t->shape[1] = s->geo.kv_heads;
	t->shape[2] = s->geo.head_dim;
	t->strides[0] = (Py_ssize_t)t->t.token_stride;
	t->strides[1] = (Py_ssize_t)t->t.head_stride;
	t->strides[2] = (Py_ssize_t)e;
	for (int i = 0; i < 3; i++) {
		t->dl_shape[i] = t->shape[i];
		t->dl_strides[i] = t->strides[i] / (Py_ssize_t)e;
	}
	return (PyObject *)t;
}

static PyObject *seq_k(SeqObject *s, PyObject *args, PyObject *kw)
{
	static char *kwl[] = { "layer", "tokens", NULL };
	PyObject *l, *n = Py_None, *a, *r;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "O|O", kwl, &l, &n))
		return NULL;
	a = Py_BuildValue("(OiO)", l, ACCEL_K, n);
	r = a ? seq_tensor(s, a, NULL) : NULL;
	Py_XDECREF(a);
	return r;
}

static PyObject *seq_v(SeqObject *s, PyObject *args, PyObject *kw)
{
	static char *kwl[] = { "layer", "tokens", NULL };
	PyObject *l, *n = Py_None, *a, *r;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "O|O", kwl, &l, &n))
		return NULL;
	a = Py_BuildValue("(OiO)", l, ACCEL_V, n);
	r = a ? seq_tensor(s, a, NULL) : NULL;
	Py_XDECREF(a);
	return r;
}

static PyObject *seq_exit_cm(SeqObject *s, PyObject *args)
{
	(void)args;
	return seq_destroy(s, NULL);
}

static PyObject *seq_get_geometry(SeqObject *s, void *c)
{
	(void)c;
	return Py_BuildValue("{sIsIsIsIsKsI}", "layers", s->geo.layers,
			     "kv_heads", s->geo.kv_heads, "head_dim",
			     s->geo.head_dim, "dtype", s->geo.dtype,
			     "max_tokens", (unsigned long long)s->geo.max_tokens,
			     "layout", s->geo.layout);
}

static PyObject *seq_get_destroyed(SeqObject *s, void *c)
{
	(void)c;
	return PyBool_FromLong(s->ended);
}

static PyObject *seq_get_freed(SeqObject *s, void *c)
{
	(void)c;
	return PyBool_FromLong(s->seq == NULL);
}

static PyObject *seq_get_views(SeqObject *s, void *c)
{
	(void)c;
	return PyLong_FromSsize_t(s->holds);
}

static PyObject *seq_get_context(SeqObject *s, void *c)
{
	(void)c;
	Py_INCREF(s->ctx);
	return (PyObject *)s->ctx;
}

static PyMethodDef seq_methods[] = {
	{ "destroy", (PyCFunction)seq_destroy, METH_NOARGS,
	  "destroy()\n\naccel_seq_destroy(), once no view (Tensor, numpy "
	  "array or torch tensor made from one) is alive: every later call "
	  "raises ValueError at once. Idempotent." },
	{ "grow", (PyCFunction)seq_grow, METH_O,
	  "grow(tokens) -> bool\n\naccel_seq_grow(): tokens [0, tokens) "
	  "usable; True if it blocked. ValueError past max_tokens, "
	  "OSError EBUSY while swapped out. seq-serial." },
	{ "tensor", (PyCFunction)(void (*)(void))seq_tensor,
	  METH_VARARGS | METH_KEYWORDS,
	  "tensor(layer, kv, tokens=None) -> Tensor\n\nA view of tokens "
	  "[0, tokens) (default: all grown) of layer's K (kv=0) or V "
	  "(kv=1): shape (tokens, kv_heads, head_dim). BufferError unless "
	  "the sequence is resident." },
	{ "k", (PyCFunction)(void (*)(void))seq_k, METH_VARARGS | METH_KEYWORDS,
	  "k(layer, tokens=None) -> Tensor: tensor(layer, K, tokens)" },
	{ "v", (PyCFunction)(void (*)(void))seq_v, METH_VARARGS | METH_KEYWORDS,
	  "v(layer, tokens=None) -> Tensor: tensor(layer, V, tokens)" },
	{ "tensor_info", (PyCFunction)seq_tensor_info, METH_VARARGS,
	  "tensor_info(layer, kv) -> TensorInfo\n\naccel_seq_tensor()'s "
	  "struct: base, strides, dtype, on_device, max_tokens." },
	{ "set_progress", (PyCFunction)seq_set_progress, METH_O,
	  "set_progress(tokens_written): accel_seq_set_progress()" },
	{ "set_priority", (PyCFunction)seq_set_priority, METH_O,
	  "set_priority(priority): accel_seq_set_priority()" },
	{ "set_demand", (PyCFunction)seq_set_demand, METH_O,
	  "set_demand(demand): accel_seq_set_demand(); DEMAND_*" },
	{ "may_run", (PyCFunction)seq_may_run, METH_NOARGS,
	  "may_run() -> bool: accel_seq_may_run(). Thread-safe." },
	{ "swap_out", (PyCFunction)seq_swap_out, METH_NOARGS,
	  "swap_out(): accel_seq_swap_out(); returns at once. Views must "
	  "not be touched until the swap-in that follows has ended." },
	{ "swap_in", (PyCFunction)seq_swap_in, METH_NOARGS,
	  "swap_in(): accel_seq_swap_in(); returns at once." },
	{ "wait", (PyCFunction)(void (*)(void))seq_wait,
	  METH_VARARGS | METH_KEYWORDS,
	  "wait(timeout_ms=-1)\n\naccel_seq_wait(): until no swap is in "
	  "flight; raises the failed swap's OSError, TimeoutError on "
	  "timeout. Takes no completion." },
	{ "__enter__", ctx_enter_cm, METH_NOARGS, NULL },
	{ "__exit__", (PyCFunction)seq_exit_cm, METH_VARARGS, NULL },
	{ NULL, NULL, 0, NULL }
};

static PyMemberDef seq_members[] = {
	{ "user_data", T_OBJECT, offsetof(SeqObject, user_data), READONLY,
	  "user_data given to create(), also in completions" },
	{ NULL, 0, 0, 0, NULL }
};

static PyGetSetDef seq_getset[] = {
	{ "tokens", (getter)seq_get_tokens, NULL, "accel_seq_tokens()", NULL },
	{ "mapped_tokens", (getter)seq_get_mapped, NULL,
	  "accel_seq_mapped_tokens()", NULL },
	{ "state", (getter)seq_get_state, NULL, "SEQ_RESIDENT, "
	  "SEQ_SWAPPING_OUT, SEQ_SWAPPED or SEQ_SWAPPING_IN", NULL },
	{ "geometry", (getter)seq_get_geometry, NULL, "the geometry, as a "
	  "dict", NULL },
	{ "destroyed", (getter)seq_get_destroyed, NULL, "destroy() was "
	  "called (or the context closed)", NULL },
	{ "freed", (getter)seq_get_freed, NULL, "libaccel freed it (no "
	  "view left)", NULL },
	{ "holds", (getter)seq_get_views, NULL, "live Tensors and calls in "
	  "flight", NULL },
	{ "context", (getter)seq_get_context, NULL, NULL, NULL },
	{ NULL, NULL, NULL, NULL, NULL }
};

static PyTypeObject SeqType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "kvmem._accel.Sequence",
	.tp_basicsize = sizeof(SeqObject),
	.tp_dealloc = (destructor)seq_dealloc,
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
	.tp_doc = "A sequence (accel_seq): made by Context.create(). A "
		"context manager (destroy() at exit).",
	.tp_traverse = (traverseproc)seq_traverse,
	.tp_clear = (inquiry)seq_clear,
	.tp_weaklistoffset = offsetof(SeqObject, weakrefs),
	.tp_methods = seq_methods,
	.tp_members = seq_members,
	.tp_getset = seq_getset,
};

/* ----------------------------------------------------------------- Tensor */

static void tensor_dealloc(TensorObject *t)
{
	SeqObject *s = t->seq;

	if (s) {
		t->seq = NULL;
		seq_leave(s);
		Py_DECREF(s);
	}
	PyObject_Free(t);
}

static const char *tensor_format(uint32_t dtype)
{
	switch (dtype) {
	case ACCEL_DTYPE_F16: return "e";
	case ACCEL_DTYPE_F32: return "f";
	case ACCEL_DTYPE_BF16: return "H";	/* raw bits: no bf16 format */
	default: return "B";			/* fp8: raw bytes */
	}
}

static int tensor_getbuffer(TensorObject *t, Py_buffer *v, int flags)
{
	if (t->t.on_device) {
		PyErr_SetString(PyExc_BufferError, "a device tensor (cuda "
				"backend) has no host buffer: use DLPack "
				"(torch.from_dlpack)");
		return -1;
	}
	if ((flags & PyBUF_STRIDES) != PyBUF_STRIDES &&
	    t->strides[0] != t->shape[1] * t->strides[1]) {
		PyErr_SetString(PyExc_BufferError, "the tensor is strided "
				"(per-seq layout): ask for PyBUF_STRIDES");
		return -1;
	}
	v->buf = (void *)(uintptr_t)t->t.base;
	v->obj = (PyObject *)t;
	Py_INCREF(t);
	v->len = t->shape[0] * t->shape[1] * t->shape[2] * t->strides[2];
	v->readonly = 0;
	v->itemsize = t->strides[2];
	v->format = (flags & PyBUF_FORMAT) ? (char *)tensor_format(t->t.dtype) :
		NULL;
	v->ndim = 3;
	v->shape = (flags & PyBUF_ND) ? t->shape : NULL;
	v->strides = (flags & PyBUF_STRIDES) ? t->strides : NULL;
	v->suboffsets = NULL;
	v->internal = NULL;
	return 0;
}

static PyBufferProcs tensor_as_buffer = {
	.bf_getbuffer = (getbufferproc)tensor_getbuffer,
};

static const char *tensor_typestr(uint32_t dtype)
{
	switch (dtype) {
	case ACCEL_DTYPE_F16: return "<f2";
	case ACCEL_DTYPE_F32: return "<f4";
	case ACCEL_DTYPE_BF16: return "<u2";
	default: return "|u1";
	}
}

static PyObject *tensor_array_interface(TensorObject *t, void *c)
{
	(void)c;
	if (t->t.on_device) {
		PyErr_SetString(PyExc_AttributeError, "a device tensor has "
				"no __array_interface__: use __dlpack__");
		return NULL;
	}
	return Py_BuildValue("{s(Kn)s(nnn)s(nnn)sssi}",
		"data", (unsigned long long)t->t.base, (Py_ssize_t)0,
		"shape", t->shape[0], t->shape[1], t->shape[2],
		"strides", t->strides[0], t->strides[1], t->strides[2],
		"typestr", tensor_typestr(t->t.dtype), "version", 3);
}

static void dl_deleter(DLManagedTensor *m)
{
	PyGILState_STATE g = PyGILState_Ensure();

	Py_XDECREF((PyObject *)m->manager_ctx);
	PyMem_RawFree(m);
	PyGILState_Release(g);
}

static void dl_capsule_destructor(PyObject *cap)
{
	DLManagedTensor *m;

	/* Consumed capsules are renamed "used_dltensor": theirs to free. */
	if (!PyCapsule_IsValid(cap, "dltensor"))
		return;
	m = PyCapsule_GetPointer(cap, "dltensor");
	if (m && m->deleter)
		m->deleter(m);
}

static PyObject *tensor_dlpack(TensorObject *t, PyObject *args, PyObject *kw)
{
	static char *kwl[] = { "stream", NULL };
	PyObject *stream = Py_None, *cap;
	DLManagedTensor *m;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "|$O", kwl, &stream))
		return NULL;
	/* libaccel's memory is ready when its calls return: no stream to
	 * wait on (the engine orders its own streams). */
	m = PyMem_RawCalloc(1, sizeof(*m));
	if (!m)
		return PyErr_NoMemory();
	m->dl_tensor.data = (void *)(uintptr_t)t->t.base;
	m->dl_tensor.device.device_type = t->t.on_device ? DL_CUDA : DL_CPU;
	m->dl_tensor.device.device_id = t->t.on_device ?
		t->seq->ctx->cuda_device : 0;
	m->dl_tensor.ndim = 3;
	switch (t->t.dtype) {
	case ACCEL_DTYPE_F16:
		m->dl_tensor.dtype = (DLDataType){ 2, 16, 1 };
		break;
	case ACCEL_DTYPE_BF16:
		m->dl_tensor.dtype = (DLDataType){ 4, 16, 1 };
		break;
	case ACCEL_DTYPE_F32:
		m->dl_tensor.dtype = (DLDataType){ 2, 32, 1 };
		break;
	default:
		m->dl_tensor.dtype = (DLDataType){ 1, 8, 1 };	/* fp8 bits */
		break;
	}
	m->dl_tensor.shape = t->dl_shape;
	m->dl_tensor.strides = t->dl_strides;
	m->dl_tensor.byte_offset = 0;
	m->manager_ctx = t;
	Py_INCREF(t);
	m->deleter = dl_deleter;
	cap = PyCapsule_New(m, "dltensor", dl_capsule_destructor);
	if (!cap) {
		Py_DECREF(t);
		PyMem_RawFree(m);
	}
	return cap;
}

static PyObject *tensor_dlpack_device(TensorObject *t, PyObject *u)
{
	(void)u;
	return Py_BuildValue("(ii)", t->t.on_device ? DL_CUDA : DL_CPU,
			     t->t.on_device ? t->seq->ctx->cuda_device : 0);
}

static PyObject *tensor_get(TensorObject *t, void *which)
{
	switch ((int)(intptr_t)which) {
	case 0: return PyLong_FromUnsignedLongLong(t->t.base);
	case 1: return Py_BuildValue("(nnn)", t->shape[0], t->shape[1],
				     t->shape[2]);
	case 2: return Py_BuildValue("(nnn)", t->strides[0], t->strides[1],
				     t->strides[2]);
	case 3: return PyLong_FromUnsignedLong(t->t.dtype);
	case 4: return PyBool_FromLong(t->t.on_device);
	case 5: return PyLong_FromUnsignedLong(t->layer);
	case 6: return PyLong_FromUnsignedLong(t->kv);
	case 7: return PyLong_FromUnsignedLongLong(t->tokens);
	case 8: Py_INCREF(t->seq); return (PyObject *)t->seq;
	default: return PyLong_FromUnsignedLongLong(t->t.max_tokens);
	}
}

#define TG(name, n, doc) \
	{ name, (getter)tensor_get, NULL, doc, (void *)(intptr_t)(n) }
static PyGetSetDef tensor_getset[] = {
	TG("base", 0, "address of token 0 (host pointer or CUdeviceptr)"),
	TG("shape", 1, "(tokens, kv_heads, head_dim)"),
	TG("strides", 2, "strides in bytes"),
	TG("dtype", 3, "DTYPE_*"),
	TG("on_device", 4, "device memory (cuda backend)"),
	TG("layer", 5, NULL), TG("kv", 6, "K (0) or V (1)"),
	TG("tokens", 7, "tokens the view covers"),
	TG("sequence", 8, NULL), TG("max_tokens", 9, NULL),
	{ "__array_interface__", (getter)tensor_array_interface, NULL, NULL,
	  NULL },
	{ NULL, NULL, NULL, NULL, NULL }
};

static PyMethodDef tensor_methods[] = {
	{ "__dlpack__", (PyCFunction)(void (*)(void))tensor_dlpack,
	  METH_VARARGS | METH_KEYWORDS,
	  "__dlpack__(*, stream=None): a DLPack capsule of the memory "
	  "(kDLCPU or kDLCUDA); bf16 as kDLBfloat, fp8 as uint8." },
	{ "__dlpack_device__", (PyCFunction)tensor_dlpack_device, METH_NOARGS,
	  "__dlpack_device__() -> (device_type, device_id)" },
	{ NULL, NULL, 0, NULL }
};

static PyTypeObject TensorType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "kvmem._accel.Tensor",
	.tp_basicsize = sizeof(TensorObject),
	.tp_dealloc = (destructor)tensor_dealloc,
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "A zero-copy view of one layer's K or V, tokens [0, "
		"tokens): buffer protocol and __array_interface__ (host), "
		"__dlpack__ (host and device). Keeps its sequence's memory "
		"alive.",
	.tp_as_buffer = &tensor_as_buffer,
	.tp_getset = tensor_getset,
	.tp_methods = tensor_methods,
};

/* ----------------------------------------------------------------- module */

/*
 * In a forked child: every context is the parent's. Views of host
 * sequences made before the fork point at ranges the child did not
 * inherit (MADV_DONTFORK): map zeros there, so that they read zeros
 * rather than fault.
 */
static PyObject *mod_after_fork(PyObject *m, PyObject *u)
{
	(void)m;
	(void)u;
	for (CtxObject *c = all_ctx; c; c = c->gnext) {
		c->forked = 1;
		if (!c->ctx || c->info.backend != ACCEL_BACKEND_HOST)
			continue;
		for (SeqObject *s = c->seqs; s; s = s->next) {
			uint32_t n = s->geo.layout == ACCEL_LAYOUT_PER_SEQ ?
				1 : 2 * s->geo.layers;

			for (uint32_t i = 0; s->seq && i < n; i++) {
				struct accel_tensor t;
				uint64_t len, ps = c->info.page_size;

				if (accel_seq_tensor(s->seq, i / 2, i % 2, &t))
					continue;
				len = (t.max_tokens * t.token_stride + ps - 1) /
					ps * ps;
				mmap((void *)(uintptr_t)(t.base & ~(ps - 1)),
				     len, PROT_READ | PROT_WRITE, MAP_PRIVATE |
				     MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
			}
		}
	}
	Py_RETURN_NONE;
}

static PyObject *mod_dtype_size(PyObject *m, PyObject *arg)
{
	uint64_t d;

	(void)m;
	if (get_u64(arg, "dtype", UINT32_MAX, &d))
		return NULL;
	return PyLong_FromSize_t(accel_dtype_size((uint32_t)d));
}

static PyObject *mod_backend_name(PyObject *m, PyObject *arg)
{
	uint64_t b;

	(void)m;
	if (get_u64(arg, "backend", UINT32_MAX, &b))
		return NULL;
	return PyUnicode_FromString(accel_backend_name((uint32_t)b));
}

static PyMethodDef mod_methods[] = {
	{ "_after_fork_child", mod_after_fork, METH_NOARGS, NULL },
	{ "dtype_size", mod_dtype_size, METH_O,
	  "dtype_size(dtype) -> int: accel_dtype_size(); 0 if unknown" },
	{ "backend_name", mod_backend_name, METH_O,
	  "backend_name(backend) -> str: accel_backend_name()" },
	{ NULL, NULL, 0, NULL }
};

static struct PyModuleDef moddef = {
	PyModuleDef_HEAD_INIT, "kvmem._accel",
	"The C binding of libaccel (accel.h); use the kvmem package.", -1,
	mod_methods, NULL, NULL, NULL, NULL
};

PyMODINIT_FUNC PyInit__accel(void);
PyMODINIT_FUNC PyInit__accel(void)
{
	static const struct { const char *n; long long v; } consts[] = {
		{ "BACKEND_AUTO", ACCEL_BACKEND_AUTO },
		{ "BACKEND_HOST", ACCEL_BACKEND_HOST },
		{ "BACKEND_CUDA", ACCEL_BACKEND_CUDA },
		{ "TIER_HBM", ACCEL_TIER_HBM }, { "TIER_DRAM", ACCEL_TIER_DRAM },
		{ "TIER_CXL", ACCEL_TIER_CXL },
		{ "TIER_DEFAULT", ACCEL_TIER_DEFAULT },
		{ "OPEN_NO_KEEP", (long long)ACCEL_OPEN_NO_KEEP },
		{ "OPEN_REQUIRE_MODULE", (long long)ACCEL_OPEN_REQUIRE_MODULE },
		{ "DTYPE_F16", ACCEL_DTYPE_F16 }, { "DTYPE_BF16", ACCEL_DTYPE_BF16 },
		{ "DTYPE_F32", ACCEL_DTYPE_F32 }, { "DTYPE_FP8", ACCEL_DTYPE_FP8 },
		{ "LAYOUT_PER_LAYER", ACCEL_LAYOUT_PER_LAYER },
		{ "LAYOUT_PER_SEQ", ACCEL_LAYOUT_PER_SEQ },
		{ "K", ACCEL_K }, { "V", ACCEL_V },
		{ "DEMAND_NONE", ACCEL_DEMAND_NONE },
		{ "DEMAND_WAITING", ACCEL_DEMAND_WAITING },
		{ "DEMAND_RUNNING", ACCEL_DEMAND_RUNNING },
		{ "DEMAND_IDLE", ACCEL_DEMAND_IDLE },
		{ "SEQ_RESIDENT", ACCEL_SEQ_RESIDENT },
		{ "SEQ_SWAPPING_OUT", ACCEL_SEQ_SWAPPING_OUT },
		{ "SEQ_SWAPPED", ACCEL_SEQ_SWAPPED },
		{ "SEQ_SWAPPING_IN", ACCEL_SEQ_SWAPPING_IN },
		{ "OP_SWAP_OUT", ACCEL_OP_SWAP_OUT }, { "OP_SWAP_IN", ACCEL_OP_SWAP_IN },
		{ "OP_PREEMPTED", ACCEL_OP_PREEMPTED },
		{ "OP_RUNNABLE", ACCEL_OP_RUNNABLE },
		{ "VERSION_MAJOR", ACCEL_VERSION_MAJOR },
		{ "VERSION_MINOR", ACCEL_VERSION_MINOR },
	};
	struct { PyTypeObject *t; PyStructSequence_Desc *d; } ss[] = {
		{ &InfoType, &info_desc }, { &PoolType, &pool_desc },
		{ &StatsType, &stats_desc }, { &ComplType, &compl_desc },
		{ &TinfoType, &tinfo_desc },
	};
	PyObject *m;

	if (PyType_Ready(&CtxType) || PyType_Ready(&SeqType) ||
	    PyType_Ready(&TensorType))
		return NULL;
	for (size_t i = 0; i < sizeof(ss) / sizeof(ss[0]); i++)
		if (PyStructSequence_InitType2(ss[i].t, ss[i].d))
			return NULL;
	m = PyModule_Create(&moddef);
	if (!m)
		return NULL;
	if (PyModule_AddObjectRef(m, "Context", (PyObject *)&CtxType) ||
	    PyModule_AddObjectRef(m, "Sequence", (PyObject *)&SeqType) ||
	    PyModule_AddObjectRef(m, "Tensor", (PyObject *)&TensorType) ||
	    PyModule_AddObjectRef(m, "Info", (PyObject *)&InfoType) ||
	    PyModule_AddObjectRef(m, "Pool", (PyObject *)&PoolType) ||
	    PyModule_AddObjectRef(m, "Stats", (PyObject *)&StatsType) ||
	    PyModule_AddObjectRef(m, "Completion", (PyObject *)&ComplType) ||
	    PyModule_AddObjectRef(m, "TensorInfo", (PyObject *)&TinfoType))
		goto fail;
	for (size_t i = 0; i < sizeof(consts) / sizeof(consts[0]); i++)
		if (PyModule_AddIntConstant(m, consts[i].n, (long)consts[i].v))
			goto fail;
	return m;
fail:
	Py_DECREF(m);
	return NULL;
}
