// SPDX-License-Identifier: GPL-2.0
/*
 * kvmem-vmtest: negative tests. Every check sends exactly one bad field
 * (everything else valid), expects the errno of Documentation/ioctl.md and
 * verifies that the failed call changed nothing (sysfs spaces, clients,
 * every pool's frame counts, reserve and tier).
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <termios.h>
#include <unistd.h>

#include "vmtest.h"

/*
 * ioctl expecting errno `exp`. When exp != 0 also check that the module
 * state did not change. Returns the errno got.
 */
int neg_ioctl(int fd, unsigned long cmd, void *arg, int exp,
	      const char *fmt, ...)
{
	struct kv_snap a;
	char what[256], w2[300];
	va_list ap;
	int err;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snap_take(&a);
	err = kv_ioctl(fd, cmd, arg);
	CHECK_ERR(err, exp, "%s", what);
	if (exp) {
		snprintf(w2, sizeof(w2), "%s: the failed call changed the "
			 "module state", what);
		snap_kept(&a, w2);
	}
	return err;
}

/* mmap expecting errno exp (0: success, then unmapped again). */
__attribute__((format(printf, 7, 8)))
static void neg_mmap1(int fd, uint64_t off, uint64_t len, int prot, int flags,
		      int exp, const char *fmt, ...)
{
	struct kv_snap a;
	char what[256];
	va_list ap;
	void *p;
	int err;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snap_take(&a);
	p = mmap(NULL, len, prot, flags, fd, (off_t)off);
	err = p == MAP_FAILED ? errno : 0;
	CHECK_ERR(err, exp, "mmap %s (offset 0x%llx, len 0x%llx)", what,
		  U(off), U(len));
	if (p != MAP_FAILED)
		munmap(p, len);
	snap_kept(&a, what);
}

/* ------------------------------------------------------ command table */

/* The structs of this header: version 1, or 2 for those that grew. */
#ifdef KVMEM_INFO_SIZE_VER1
_Static_assert(sizeof(struct kvmem_info) == KVMEM_INFO_SIZE_VER1, "info");
_Static_assert(sizeof(struct kvmem_pool_info) == KVMEM_POOL_INFO_SIZE_VER2,
	       "pool_info");
_Static_assert(sizeof(struct kvmem_space_create) ==
	       KVMEM_SPACE_CREATE_SIZE_VER2, "space_create");
_Static_assert(sizeof(struct kvmem_space_destroy) ==
	       KVMEM_SPACE_DESTROY_SIZE_VER1, "space_destroy");
_Static_assert(sizeof(struct kvmem_range) == KVMEM_RANGE_SIZE_VER1, "range");
_Static_assert(sizeof(struct kvmem_query) == KVMEM_QUERY_SIZE_VER1, "query");
#endif

/* v1: the smallest size the kernel takes; cur: this header's size. */
struct ncmd {
	const char *name;
	unsigned long cmd;
	size_t v1;
	size_t cur;
};

static const struct ncmd ncmds[] = {
	{ "GET_INFO", KVMEM_IOC_GET_INFO, KVMEM_INFO_SIZE_VER1,
	  sizeof(struct kvmem_info) },
	{ "POOL_QUERY", KVMEM_IOC_POOL_QUERY, KVMEM_POOL_INFO_SIZE_VER1,
	  sizeof(struct kvmem_pool_info) },
	{ "SPACE_CREATE", KVMEM_IOC_SPACE_CREATE, KVMEM_SPACE_CREATE_SIZE_VER1,
	  sizeof(struct kvmem_space_create) },
	{ "SPACE_DESTROY", KVMEM_IOC_SPACE_DESTROY,
	  KVMEM_SPACE_DESTROY_SIZE_VER1, sizeof(struct kvmem_space_destroy) },
	{ "POPULATE", KVMEM_IOC_POPULATE, KVMEM_RANGE_SIZE_VER1,
	  sizeof(struct kvmem_range) },
	{ "RELEASE", KVMEM_IOC_RELEASE, KVMEM_RANGE_SIZE_VER1,
	  sizeof(struct kvmem_range) },
	{ "QUERY", KVMEM_IOC_QUERY, KVMEM_QUERY_SIZE_VER1,
	  sizeof(struct kvmem_query) },
};
#define NCMDS NELEM(ncmds)
enum { C_INFO, C_POOL, C_CREATE, C_DESTROY, C_POPULATE, C_RELEASE, C_QUERY };

/* Fixture: a file, an 8-page space with pages 2..3 populated. */
struct nctx {
	int fd;
	struct kv_env e;
	struct kvmem_space_create c;
	uint32_t h;
	uint64_t n;
	struct kvmem_residency res[64];
	uint32_t tmp;		/* extra space made for a DESTROY argument */
};

static bool nctx_init(struct nctx *x)
{
	uint64_t done;
	int err;

	memset(x, 0, sizeof(*x));
	x->fd = kv_open();
	if (x->fd < 0)
		return false;
	if (!kv_env(x->fd, &x->e, false))
		goto fail;
	err = kv_create(x->fd, 8 * x->e.ps, x->e.pool[x->e.P].tier,
			KVMEM_POLICY_FAIL, 0, &x->c);
	if (!CHECK_ERR(err, 0, "fixture: SPACE_CREATE 8 pages"))
		goto fail;
	x->h = x->c.handle;
	x->n = x->c.npages;
	err = kv_populate(x->fd, x->h, 2, 2, &done);
	if (!CHECK_ERR(err, 0, "fixture: POPULATE pages 2..3"))
		goto fail;
	return true;
fail:
	close(x->fd);
	return false;
}

static void nctx_fini(struct nctx *x)
{
	CHECK_ERR(kv_destroy(x->fd, x->h), 0, "fixture: SPACE_DESTROY");
	close(x->fd);
}

/* A valid argument of command k in buf (which is zeroed first). */
static void valid_arg(struct nctx *x, int k, void *buf, size_t len)
{
	memset(buf, 0, len);
	x->tmp = 0;
	switch (k) {
	case C_INFO:
		break;
	case C_POOL:
		((struct kvmem_pool_info *)buf)->index = 0;
		break;
	case C_CREATE: {
		struct kvmem_space_create *c = buf;

		c->size = 2 * x->e.ps;
		c->tier = x->e.pool[x->e.P].tier;
		c->policy = KVMEM_POLICY_FAIL;
		break;
	}
	case C_DESTROY: {
		struct kvmem_space_create c;

		if (!kv_create(x->fd, x->e.ps, x->e.pool[x->e.P].tier,
			       KVMEM_POLICY_FAIL, 0, &c))
			x->tmp = c.handle;
		((struct kvmem_space_destroy *)buf)->handle = x->tmp;
		break;
	}
	case C_POPULATE: {
		struct kvmem_range *r = buf;

		r->handle = x->h;
		r->first = 4;
		r->count = 2;
		break;
	}
	case C_RELEASE: {
		struct kvmem_range *r = buf;

		r->handle = x->h;
		r->first = 6;		/* absent: releasing changes nothing */
		r->count = 1;
		break;
	}
	case C_QUERY: {
		struct kvmem_query *q = buf;

		q->handle = x->h;
		q->first = 0;
		q->count = x->n;
		q->residency = (uint64_t)(uintptr_t)x->res;
		break;
	}
	}
}

/* Undo what a successful call with a valid_arg() argument did. */
static void undo_arg(struct nctx *x, int k, void *buf, int err)
{
	if (k == C_CREATE && !err)
		kv_destroy(x->fd, ((struct kvmem_space_create *)buf)->handle);
	if (k == C_POPULATE && !err)
		kv_release(x->fd, x->h, 4, 2, NULL);
	if (x->tmp && (k != C_DESTROY || err))
		kv_destroy(x->fd, x->tmp);
	x->tmp = 0;
}

static unsigned long resize_cmd(unsigned long cmd, size_t size)
{
	return _IOC(_IOC_DIR(cmd), _IOC_TYPE(cmd), _IOC_NR(cmd), size);
}

/* ---------------------------------------------------------- neg_common */

void test_neg_common(void)
{
	static uint64_t buf[2048];
	struct nctx x;
	struct termios tio;
	void *bad;

	if (!nctx_init(&x))
		return;

	/* Commands that are not kvmem's. */
	neg_ioctl(x.fd, _IOWR(KVMEM_IOC_MAGIC, 0x1f, struct kvmem_query), buf,
		  ENOTTY, "unknown number 0x1f (size of kvmem_query)");
	memset(buf, 0, sizeof(buf));
	neg_ioctl(x.fd, _IOC(_IOC_READ | _IOC_WRITE, KVMEM_IOC_MAGIC, 0xff, 64),
		  buf, ENOTTY, "unknown number 0xff");
	neg_ioctl(x.fd, _IO(KVMEM_IOC_MAGIC, 0x10), NULL, ENOTTY,
		  "unknown number 0x10, no argument");
	neg_ioctl(x.fd, _IOR(0xC6, 0x00, struct kvmem_info), buf, ENOTTY,
		  "wrong magic 0xC6 with GET_INFO's number and size");
	memset(buf, 0, sizeof(buf));
	valid_arg(&x, C_POOL, buf, sizeof(struct kvmem_pool_info));
	neg_ioctl(x.fd, _IOWR(0xC8, 0x01, struct kvmem_pool_info), buf, ENOTTY,
		  "wrong magic 0xC8 with POOL_QUERY's number and size");
	neg_ioctl(x.fd, TCGETS, &tio, ENOTTY, "TCGETS (a tty ioctl)");

	/* Wrong direction, right type, number and size. */
	memset(buf, 0, sizeof(buf));
	neg_ioctl(x.fd, _IOW(KVMEM_IOC_MAGIC, 0x00, struct kvmem_info), buf,
		  ENOTTY, "GET_INFO with direction _IOW");
	neg_ioctl(x.fd, _IOWR(KVMEM_IOC_MAGIC, 0x00, struct kvmem_info), buf,
		  ENOTTY, "GET_INFO with direction _IOWR");
	neg_ioctl(x.fd, _IOC(_IOC_NONE, KVMEM_IOC_MAGIC, 0x00,
			     sizeof(struct kvmem_info)), buf,
		  ENOTTY, "GET_INFO with direction _IOC_NONE");
	valid_arg(&x, C_POOL, buf, sizeof(struct kvmem_pool_info));
	neg_ioctl(x.fd, _IOR(KVMEM_IOC_MAGIC, 0x01, struct kvmem_pool_info),
		  buf, ENOTTY, "POOL_QUERY with direction _IOR");
	valid_arg(&x, C_DESTROY, buf, sizeof(struct kvmem_space_destroy));
	neg_ioctl(x.fd, _IOWR(KVMEM_IOC_MAGIC, 0x03,
			      struct kvmem_space_destroy), buf, ENOTTY,
		  "SPACE_DESTROY with direction _IOWR");
	undo_arg(&x, C_DESTROY, buf, ENOTTY);
	valid_arg(&x, C_POPULATE, buf, sizeof(struct kvmem_range));
	neg_ioctl(x.fd, _IOW(KVMEM_IOC_MAGIC, 0x04, struct kvmem_range), buf,
		  ENOTTY, "POPULATE with direction _IOW");
	valid_arg(&x, C_QUERY, buf, sizeof(struct kvmem_query));
	neg_ioctl(x.fd, _IOR(KVMEM_IOC_MAGIC, 0x06, struct kvmem_query), buf,
		  ENOTTY, "QUERY with direction _IOR");

	/* Inaccessible argument pointers. */
	bad = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	for (size_t k = 0; k < NCMDS; k++) {
		neg_ioctl(x.fd, ncmds[k].cmd, NULL, EFAULT, "%s with a NULL "
			  "argument", ncmds[k].name);
		if (bad != MAP_FAILED)
			neg_ioctl(x.fd, ncmds[k].cmd, bad, EFAULT,
				  "%s with an argument in a PROT_NONE page",
				  ncmds[k].name);
	}
	if (bad != MAP_FAILED)
		munmap(bad, 4096);
	nctx_fini(&x);
}

/* ----------------------------------------------------- neg_struct_size */

void test_neg_struct_size(void)
{
	static uint8_t buf[16384 + 64] __attribute__((aligned(64)));
	struct nctx x;
	int err;

	if (!nctx_init(&x))
		return;
	for (size_t k = 0; k < NCMDS; k++) {
		const struct ncmd *c = &ncmds[k];
		size_t big[] = { c->cur + 8, c->cur + 64, _IOC_SIZEMASK };

		/* Shorter than version 1. */
		valid_arg(&x, (int)k, buf, sizeof(buf));
		neg_ioctl(x.fd, resize_cmd(c->cmd, c->v1 - 4), buf, EINVAL,
			  "%s: struct of %zu bytes (v1 is %zu)", c->name,
			  c->v1 - 4, c->v1);
		undo_arg(&x, (int)k, buf, EINVAL);
		if (c->v1 > 8) {
			valid_arg(&x, (int)k, buf, sizeof(buf));
			neg_ioctl(x.fd, resize_cmd(c->cmd, c->v1 - 8), buf,
				  EINVAL, "%s: struct of %zu bytes", c->name,
				  c->v1 - 8);
			undo_arg(&x, (int)k, buf, EINVAL);
		}
		valid_arg(&x, (int)k, buf, sizeof(buf));
		neg_ioctl(x.fd, resize_cmd(c->cmd, 0), buf, EINVAL,
			  "%s: struct of 0 bytes", c->name);
		undo_arg(&x, (int)k, buf, EINVAL);
		if (c->v1 < c->cur) {
			/* An older user's struct: nothing written past it. */
			valid_arg(&x, (int)k, buf, sizeof(buf));
			memset(buf + c->v1, 0x5A, c->cur - c->v1 + 8);
			err = neg_ioctl(x.fd, resize_cmd(c->cmd, c->v1), buf,
					0, "%s: version-1 struct of %zu bytes",
					c->name, c->v1);
			CHECK(byte_check(buf + c->v1, c->cur - c->v1 + 8,
					 0x5A) == UINT64_MAX,
			      "%s: version-1 struct: nothing written past "
			      "its %zu bytes", c->name, c->v1);
			undo_arg(&x, (int)k, buf, err);
		}

		for (size_t b = 0; b < NELEM(big); b++) {
			size_t sz = big[b];
			/*
			 * A command that reads its argument rejects a
			 * non-zero tail; GET_INFO (_IOR) never reads it.
			 */
			int exp_tail = k == C_INFO ? 0 : E2BIG;

			/* Longer, non-zero first tail byte. */
			valid_arg(&x, (int)k, buf, sizeof(buf));
			buf[c->cur] = 1;
			err = neg_ioctl(x.fd, resize_cmd(c->cmd, sz), buf,
					exp_tail, "%s: %zu bytes, tail byte %zu "
					"non-zero", c->name, sz, c->cur);
			undo_arg(&x, (int)k, buf, err);
			/* Longer, non-zero last tail byte. */
			valid_arg(&x, (int)k, buf, sizeof(buf));
			buf[sz - 1] = 0x80;
			err = neg_ioctl(x.fd, resize_cmd(c->cmd, sz), buf,
					exp_tail, "%s: %zu bytes, last tail byte "
					"non-zero", c->name, sz);
			undo_arg(&x, (int)k, buf, err);
			/* Longer, zero tail (GET_INFO: garbage tail): works
			 * like the v1 struct, and the tail comes back zero. */
			valid_arg(&x, (int)k, buf, sizeof(buf));
			if (k == C_INFO)
				memset(buf + c->cur, 0xAB, sz - c->cur);
			err = neg_ioctl(x.fd, resize_cmd(c->cmd, sz), buf, 0,
					"%s: %zu bytes, %s tail", c->name, sz,
					k == C_INFO ? "0xAB" : "zero");
			if (!err) {
				bool tail0 = true;

				for (size_t i = c->cur; i < sz; i++)
					tail0 &= buf[i] == 0;
				CHECK(tail0, "%s: %zu bytes: the tail comes "
				      "back zeroed", c->name, sz);
				CHECK(buf[sz] == 0, "%s: %zu bytes: nothing "
				      "written past the struct", c->name, sz);
				if (k == C_INFO)
					CHECK_EQ(((struct kvmem_info *)buf)->
						 abi_version, KVMEM_ABI_VERSION,
						 "GET_INFO %zu bytes: "
						 "abi_version", sz);
				if (k == C_CREATE)
					CHECK_EQ(((struct kvmem_space_create *)
						  buf)->npages, 2,
						 "SPACE_CREATE %zu bytes: "
						 "npages", sz);
				if (k == C_POPULATE)
					CHECK_EQ(((struct kvmem_range *)buf)->
						 done, 2, "POPULATE %zu bytes: "
						 "done", sz);
				if (k == C_QUERY)
					CHECK_EQ(((struct kvmem_query *)buf)->
						 resident, 2, "QUERY %zu bytes: "
						 "resident", sz);
			}
			undo_arg(&x, (int)k, buf, err);
		}
	}
	nctx_fini(&x);
}

/* ---------------------------------------------------------- neg_efault */

void test_neg_efault(void)
{
	struct nctx x;
	uint8_t *pg;
	uint64_t sp;
	int err;

	if (!nctx_init(&x))
		return;
	/* Two pages: a read-only one, then a PROT_NONE one. */
	pg = mmap(NULL, 8192, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!CHECK(pg != MAP_FAILED, "mmap scratch pages"))
		goto out;

	/* in/out and out structs in read-only memory: EFAULT. */
	for (int k = 0; k < (int)NCMDS; k++) {
		if (k == C_DESTROY)
			continue;
		mprotect(pg, 4096, PROT_READ | PROT_WRITE);
		valid_arg(&x, k, pg, 4096);
		mprotect(pg, 4096, PROT_READ);
		sp = kv_sys_spaces();
		if (k == C_POPULATE || k == C_CREATE) {
			/* These act before they copy out; see below. */
			err = kv_ioctl(x.fd, ncmds[k].cmd, pg);
			CHECK_ERR(err, EFAULT, "%s with the struct in "
				  "read-only memory", ncmds[k].name);
		} else {
			err = neg_ioctl(x.fd, ncmds[k].cmd, pg, EFAULT,
					"%s with the struct in read-only "
					"memory", ncmds[k].name);
		}
		if (k == C_CREATE)
			CHECK_EQ(kv_sys_spaces(), sp, "SPACE_CREATE that "
				 "failed with EFAULT leaves no space behind "
				 "(sysfs spaces)");
		if (k == C_POPULATE) {
			CHECK_EQ(kv_resident(x.fd, x.h, 4, 2), 2,
				 "POPULATE whose result could not be copied "
				 "out keeps its effect (pages backed)");
			kv_release(x.fd, x.h, 4, 2, NULL);
		}
		mprotect(pg, 4096, PROT_READ | PROT_WRITE);
		undo_arg(&x, k, pg, err);
	}
	/* SPACE_DESTROY only reads its argument: read-only is fine. */
	valid_arg(&x, C_DESTROY, pg, 4096);
	mprotect(pg, 4096, PROT_READ);
	sp = kv_sys_spaces();
	err = kv_ioctl(x.fd, KVMEM_IOC_SPACE_DESTROY, pg);
	CHECK_ERR(err, 0, "SPACE_DESTROY with the struct in read-only memory");
	CHECK_EQ(kv_sys_spaces(), sp - (err ? 0 : 1), "it destroyed the space");
	mprotect(pg, 4096, PROT_READ | PROT_WRITE);
	undo_arg(&x, C_DESTROY, pg, err);

	/* QUERY residency array not writable. */
	{
		struct kvmem_query q;

		mprotect(pg + 4096, 4096, PROT_NONE);
		mprotect(pg, 4096, PROT_READ);
		valid_arg(&x, C_QUERY, &q, sizeof(q));
		q.residency = (uint64_t)(uintptr_t)pg;
		neg_ioctl(x.fd, KVMEM_IOC_QUERY, &q, EFAULT,
			  "QUERY residency in a read-only page");
		mprotect(pg, 4096, PROT_READ | PROT_WRITE);
		valid_arg(&x, C_QUERY, &q, sizeof(q));
		q.residency = (uint64_t)(uintptr_t)(pg + 4096);
		neg_ioctl(x.fd, KVMEM_IOC_QUERY, &q, EFAULT,
			  "QUERY residency in a PROT_NONE page");
		valid_arg(&x, C_QUERY, &q, sizeof(q));
		/* the last entry crosses into the PROT_NONE page */
		q.residency = (uint64_t)(uintptr_t)(pg + 4096 -
			(q.count - 1) * sizeof(struct kvmem_residency) - 2);
		neg_ioctl(x.fd, KVMEM_IOC_QUERY, &q, EFAULT,
			  "QUERY residency whose last entry straddles into a "
			  "PROT_NONE page");
		valid_arg(&x, C_QUERY, &q, sizeof(q));
		q.residency = (uint64_t)(uintptr_t)(pg + 4096 -
			q.count * sizeof(struct kvmem_residency));
		neg_ioctl(x.fd, KVMEM_IOC_QUERY, &q, 0,
			  "QUERY residency ending exactly at the PROT_NONE page");
		CHECK_EQ(q.resident, 2, "resident");
		valid_arg(&x, C_QUERY, &q, sizeof(q));
		q.residency = 0xffff800000000000ULL;	/* kernel address */
		neg_ioctl(x.fd, KVMEM_IOC_QUERY, &q, EFAULT,
			  "QUERY residency pointing into the kernel half");
		valid_arg(&x, C_QUERY, &q, sizeof(q));
		q.residency = 16;
		neg_ioctl(x.fd, KVMEM_IOC_QUERY, &q, EFAULT,
			  "QUERY residency = 16 (unmapped)");
	}
	munmap(pg, 8192);
out:
	nctx_fini(&x);
}

/* ------------------------------------------------------ neg_pool_query */

void test_neg_pool_query(void)
{
	struct nctx x;
	struct kvmem_pool_info p;

	if (!nctx_init(&x))
		return;
#define PQ(field, val, exp, desc) do { \
		valid_arg(&x, C_POOL, &p, sizeof(p)); \
		p.field = val; \
		neg_ioctl(x.fd, KVMEM_IOC_POOL_QUERY, &p, exp, \
			  "POOL_QUERY " desc); \
	} while (0)
	PQ(flags, 1, EINVAL, "flags = 1");
	PQ(flags, 0x80000000u, EINVAL, "flags = 0x80000000");
	PQ(pad, 1, EINVAL, "pad = 1");
	PQ(reserved[0], 1, EINVAL, "reserved[0] = 1");
	PQ(reserved[1], 1, EINVAL, "reserved[1] = 1");
	PQ(reserved[2], 1, EINVAL, "reserved[2] = 1");
	PQ(reserved[3], 1ULL << 63, EINVAL, "reserved[3] = 1<<63");
	PQ(index, x.e.info.npools, ENOENT, "index = npools");
	PQ(index, x.e.info.npools + 1, ENOENT, "index = npools + 1");
	PQ(index, 0xffffffffu, ENOENT, "index = 0xffffffff");
	PQ(index, x.e.info.npools - 1, 0, "index = npools - 1 (valid)");
#undef PQ
	nctx_fini(&x);
}

/* ---------------------------------------------------- neg_space_create */

void test_neg_space_create(void)
{
	struct nctx x;
	struct kvmem_space_create c;
	uint64_t ps, max;
	int err;
	int notier = -1;

	if (!nctx_init(&x))
		return;
	ps = x.e.ps;
	max = x.e.info.max_space_bytes;
#define SC(stmt, exp, ...) do { \
		valid_arg(&x, C_CREATE, &c, sizeof(c)); \
		stmt; \
		err = neg_ioctl(x.fd, KVMEM_IOC_SPACE_CREATE, &c, exp, \
				"SPACE_CREATE " __VA_ARGS__); \
		if (!err) \
			kv_destroy(x.fd, c.handle); \
	} while (0)
	SC((void)0, 0, "valid base (2 pages, FAIL)");
	SC(c.flags = 1, EINVAL, "flags = 1");
	SC(c.flags = 0x80000000u, EINVAL, "flags = 0x80000000");
	SC(c.reserved_in[0] = 1, EINVAL, "reserved_in[0] = 1");
	SC(c.reserved_in[1] = 1, EINVAL, "reserved_in[1] = 1");
	SC(c.reserved_in[2] = 1ULL << 63, EINVAL, "reserved_in[2] = 1<<63");
	SC(c.tenant = x.e.info.ntenants, EINVAL, "tenant = ntenants");
	SC(c.tenant = 0xffffffffu, EINVAL, "tenant = 0xffffffff");
	SC(c.pad = 1, EINVAL, "pad = 1");
	SC(c.size = 0, EINVAL, "size = 0");
	SC(c.size = ps + 1, EINVAL, "size = page_size + 1");
	SC(c.size = ps - 1, EINVAL, "size = page_size - 1");
	if (ps > CPU_PAGE)
		SC(c.size = ps + CPU_PAGE, EINVAL,
		   "size = page_size + 4096 (not a multiple)");
	SC(c.size = max + ps, EINVAL, "size = max_space_bytes + page_size");
	SC(c.size = max * 2, EINVAL, "size = 2 * max_space_bytes");
	SC(c.size = ~(ps - 1), EINVAL, "size = 2^64 - page_size");
	SC(c.size = max, 0, "size = max_space_bytes (valid)");
	SC(c.size = ps, 0, "size = page_size (valid)");
	SC(c.tier = KVMEM_NR_TIERS, EINVAL, "tier = KVMEM_NR_TIERS");
	SC(c.tier = 0xffffffffu, EINVAL, "tier = 0xffffffff");
	SC(c.policy = KVMEM_NR_POLICIES, EINVAL, "policy = KVMEM_NR_POLICIES");
	SC(c.policy = 0xffffffffu, EINVAL, "policy = 0xffffffff");
	SC(c.policy = KVMEM_POLICY_WAIT, EINVAL, "WAIT with timeout_ms 0");
	SC((c.policy = KVMEM_POLICY_WAIT, c.timeout_ms = KVMEM_WAIT_MAX_MS + 1),
	   EINVAL, "WAIT with timeout_ms 60001");
	SC((c.policy = KVMEM_POLICY_WAIT, c.timeout_ms = 0xffffffffu),
	   EINVAL, "WAIT with timeout_ms 0xffffffff");
	SC((c.policy = KVMEM_POLICY_WAIT, c.timeout_ms = 1), 0,
	   "WAIT with timeout_ms 1 (valid)");
	SC((c.policy = KVMEM_POLICY_WAIT, c.timeout_ms = KVMEM_WAIT_MAX_MS), 0,
	   "WAIT with timeout_ms 60000 (valid)");
	SC(c.timeout_ms = 1, EINVAL, "FAIL with timeout_ms 1");
	SC((c.policy = KVMEM_POLICY_FALLBACK, c.timeout_ms = 1), EINVAL,
	   "FALLBACK with timeout_ms 1");
	SC((c.policy = KVMEM_POLICY_FALLBACK, c.timeout_ms = 60000), EINVAL,
	   "FALLBACK with timeout_ms 60000");
	/* Out fields are ignored on input. */
	SC((c.handle = 1234, c.mmap_offset = 1ULL << 50, c.npages = 99,
	    c.page_size = 3), 0,
	   "with garbage in handle, mmap_offset, npages, page_size (ignored)");
	SC((c.reserved_out[0] = 5, c.reserved_out[3] = 7), 0,
	   "with non-zero reserved_out (an out field: ignored)");
	if (!err)
		CHECK(c.reserved_out[0] == 0 && c.reserved_out[3] == 0,
		      "reserved_out written back as zero (%llu, %llu)",
		      U(c.reserved_out[0]), U(c.reserved_out[3]));
	/* A tier no pool has. */
	for (int t = 0; t < KVMEM_NR_TIERS && notier < 0; t++) {
		bool has = false;

		for (int i = 0; i < x.e.npools; i++)
			has |= x.e.pool[i].tier == (uint32_t)t;
		if (!has)
			notier = t;
	}
	if (CHECK(notier >= 0, "some tier has no pool (%s)",
		  notier >= 0 ? tier_name((uint32_t)notier) : "none"))
		SC(c.tier = (uint32_t)notier, ENODEV, "tier %s (no such pool)",
		   tier_name((uint32_t)notier));
#undef SC
	nctx_fini(&x);
}

/* --------------------------------------------------- neg_space_destroy */

void test_neg_space_destroy(void)
{
	struct nctx x;
	struct kvmem_space_destroy d;
	int err;

	if (!nctx_init(&x))
		return;
#define SD(stmt, exp, desc) do { \
		valid_arg(&x, C_DESTROY, &d, sizeof(d)); \
		stmt; \
		err = neg_ioctl(x.fd, KVMEM_IOC_SPACE_DESTROY, &d, exp, \
				"SPACE_DESTROY " desc); \
		undo_arg(&x, C_DESTROY, &d, err); \
	} while (0)
	SD(d.flags = 1, EINVAL, "flags = 1");
	SD(d.flags = 0x80000000u, EINVAL, "flags = 0x80000000");
	SD(d.handle = 0, ENOENT, "handle 0");
	SD(d.handle = x.h + 1000, ENOENT, "handle + 1000 (unknown)");
	SD(d.handle = 0xffffffffu, ENOENT, "handle 0xffffffff");
	SD((void)0, 0, "valid");
#undef SD
	CHECK_EQ(kv_resident(x.fd, x.h, 0, x.n), 2,
		 "the fixture space survived (resident)");
	nctx_fini(&x);
}

/* -------------------------------------------- POPULATE/RELEASE/QUERY */

static void neg_range(int k)
{
	const char *nm = ncmds[k].name;
	unsigned long cmd = ncmds[k].cmd;
	struct nctx x;
	uint8_t buf[sizeof(struct kvmem_query) + sizeof(struct kvmem_range)];
	struct kvmem_range *r = (void *)buf;
	struct kvmem_query *q = (void *)buf;
	int err;

	if (!nctx_init(&x))
		return;
	/* Set a field of either struct: both have handle, flags, first,
	 * count at the same offsets; reserved differ. */
#define RG(stmt, exp, ...) do { \
		valid_arg(&x, k, buf, sizeof(buf)); \
		stmt; \
		err = neg_ioctl(x.fd, cmd, buf, exp, __VA_ARGS__); \
		undo_arg(&x, k, buf, err); \
	} while (0)
	RG((void)0, 0, "%s valid", nm);
	RG(r->flags = 1, EINVAL, "%s flags = 1", nm);
	RG(r->flags = 0x80000000u, EINVAL, "%s flags = 0x80000000", nm);
	if (k == C_QUERY) {
		RG(q->reserved[0] = 1, EINVAL, "%s reserved[0] = 1", nm);
		RG(q->reserved[1] = 1ULL << 63, EINVAL, "%s reserved[1] = 1<<63",
		   nm);
	} else {
		RG(r->reserved[0] = 1, EINVAL, "%s reserved[0] = 1", nm);
		RG(r->reserved[1] = 1ULL << 63, EINVAL, "%s reserved[1] = 1<<63",
		   nm);
	}
	RG(r->handle = 0, ENOENT, "%s handle 0", nm);
	RG(r->handle = x.h + 1000, ENOENT, "%s handle + 1000 (unknown)", nm);
	RG(r->handle = 0xffffffffu, ENOENT, "%s handle 0xffffffff", nm);
	RG((r->first = 0, r->count = 0), EINVAL, "%s count 0", nm);
	RG((r->first = 0, r->count = x.n + 1), EINVAL,
	   "%s first 0 count npages+1", nm);
	RG((r->first = x.n, r->count = 1), EINVAL, "%s first npages count 1",
	   nm);
	RG((r->first = x.n - 1, r->count = 2), EINVAL,
	   "%s first npages-1 count 2", nm);
	RG((r->first = ~0ULL, r->count = 2), EINVAL,
	   "%s first 2^64-1 count 2 (first + count wraps to 1)", nm);
	RG((r->first = 2, r->count = ~0ULL), EINVAL,
	   "%s first 2 count 2^64-1 (wraps to 1)", nm);
	RG((r->first = 1ULL << 63, r->count = 1ULL << 63), EINVAL,
	   "%s first 2^63 count 2^63 (wraps to 0)", nm);
	RG((r->first = 1ULL << 32, r->count = 1), EINVAL,
	   "%s first 2^32 count 1", nm);
	RG((r->first = x.n - 1, r->count = 1), 0,
	   "%s first npages-1 count 1 (valid)", nm);
	RG((r->first = 0, r->count = x.n), 0, "%s the whole space (valid)", nm);
	if (k == C_POPULATE) {
		kv_release(x.fd, x.h, 0, 2, NULL);
		kv_release(x.fd, x.h, 4, x.n - 4, NULL);
	}
	if (k == C_RELEASE)	/* the valid whole-space release took 2..3 */
		kv_populate(x.fd, x.h, 2, 2, NULL);
#undef RG
	CHECK_EQ(kv_resident(x.fd, x.h, 0, x.n), 2,
		 "the fixture space still has its 2 pages (resident)");
	nctx_fini(&x);
}

void test_neg_populate(void)
{
	neg_range(C_POPULATE);
}

void test_neg_release(void)
{
	neg_range(C_RELEASE);
}

void test_neg_query(void)
{
	neg_range(C_QUERY);
}

/* ------------------------------------------------------------ neg_mmap */

void test_neg_mmap(void)
{
	struct nctx x;
	struct kvmem_space_create dead;
	uint64_t off, sz;
	int rw = PROT_READ | PROT_WRITE;

	if (!nctx_init(&x))
		return;
	off = x.c.mmap_offset;
	sz = x.n * x.e.ps;

	neg_mmap1(x.fd, off, sz, rw, MAP_SHARED, 0, "the whole space (valid)");
	neg_mmap1(x.fd, off, sz, PROT_READ, MAP_SHARED, 0,
		  "read-only MAP_SHARED (valid)");
	neg_mmap1(x.fd, off, sz, rw, MAP_SHARED_VALIDATE, 0,
		  "MAP_SHARED_VALIDATE (valid)");
	neg_mmap1(x.fd, off + sz - CPU_PAGE, CPU_PAGE, rw, MAP_SHARED, 0,
		  "the last CPU page (valid)");
	neg_mmap1(x.fd, off, sz, rw, MAP_PRIVATE, EINVAL, "MAP_PRIVATE");
	neg_mmap1(x.fd, off, sz, PROT_READ, MAP_PRIVATE, EINVAL,
		  "MAP_PRIVATE read-only");
	neg_mmap1(x.fd, off + sz, CPU_PAGE, rw, MAP_SHARED, EINVAL,
		  "offset = end of the space");
	neg_mmap1(x.fd, off, sz + CPU_PAGE, rw, MAP_SHARED, EINVAL,
		  "len = size + 4096");
	neg_mmap1(x.fd, off + sz - CPU_PAGE, 2 * CPU_PAGE, rw, MAP_SHARED,
		  EINVAL, "last page + one more");
	neg_mmap1(x.fd, off + KVMEM_SPACE_MAX_BYTES / 2, CPU_PAGE, rw,
		  MAP_SHARED, EINVAL, "middle of the space's offset window");
	neg_mmap1(x.fd, off + KVMEM_SPACE_MAX_BYTES - CPU_PAGE, CPU_PAGE, rw,
		  MAP_SHARED, EINVAL, "last page of the space's offset window");
	if (off >= CPU_PAGE)
		neg_mmap1(x.fd, off - CPU_PAGE, 2 * CPU_PAGE, rw, MAP_SHARED,
			  EINVAL, "starting one page before the space");
	if (off < (1ULL << 62) - 1000 * KVMEM_SPACE_MAX_BYTES)
		neg_mmap1(x.fd, off + 1000 * KVMEM_SPACE_MAX_BYTES, CPU_PAGE,
			  rw, MAP_SHARED, EINVAL,
			  "offset of a space id that does not exist");
	/* A destroyed space's offset. */
	if (!kv_create(x.fd, 2 * x.e.ps, x.e.pool[x.e.P].tier,
		       KVMEM_POLICY_FAIL, 0, &dead)) {
		kv_destroy(x.fd, dead.handle);
		neg_mmap1(x.fd, dead.mmap_offset, 2 * x.e.ps, rw, MAP_SHARED,
			  EINVAL, "offset of a destroyed space");
	} else {
		CHECK(0, "SPACE_CREATE for the destroyed-space case");
	}
	nctx_fini(&x);
}
