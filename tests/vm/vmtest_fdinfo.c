// SPDX-License-Identifier: GPL-2.0
/*
 * kvmem-vmtest: per-client usage in /proc/<pid>/fdinfo/<fd>
 * (Documentation/fdinfo.md; admin-guide.md, "Per-client usage"): the
 * exact set, order and format of the kvmem-* keys; the client id against
 * the manager's reports; who may read it; every number against what the
 * test did (frames per pool, memory per tier, faults, bytes migrated into
 * and out of each tier, spaces), against LIST_CLIENTS and against the
 * tenant's sysfs counters; two files of one process counted apart; the
 * same numbers through a descriptor shared by fork() and dup(); frames and
 * memory back to zero after RELEASE and DESTROY.
 *
 * Pool P is the DRAM pool (node 0), Q the CXL pool (node 1). A write of
 * one byte to a frame that is not mapped faults exactly once and maps the
 * whole frame, so the tests know their fault counts exactly.
 */
#include <fcntl.h>
#include <grp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmtest.h"

#define NOBODY		65534	/* uid and gid of the unprivileged child */
#define LIST_N		64	/* entries of a LIST_CLIENTS report here */
#define FDI_BUF		8192	/* a kvmem fdinfo is well under 1 KiB */

/* ------------------------------------------------------------ parsing */

/* The kvmem numbers of one fdinfo; mem[] is what memory-<tier> said. */
struct fdi {
	uint64_t id, manager, spaces, faults;
	uint64_t runnable, preempted, prefetch;	/* spaces per run state */
	uint64_t frames[KV_MAX_POOLS];
	uint64_t mem_kib[KVMEM_NR_TIERS];
	uint64_t in[KVMEM_NR_TIERS], out[KVMEM_NR_TIERS];
};

/* The kvmem keys in the order Documentation/fdinfo.md gives. */
struct fdi_key {
	char name[40];
	uint64_t *dst;
	bool kib;		/* value ends in " KiB" */
};

static int fdi_keys(struct fdi *f, int npools, struct fdi_key *k)
{
	int n = 0;

#define KEY(field, kb, ...) do {					\
		snprintf(k[n].name, sizeof(k[n].name), __VA_ARGS__);	\
		k[n].dst = &(field);					\
		k[n].kib = (kb);					\
		n++;							\
	} while (0)
	KEY(f->id, false, "kvmem-client-id");
	KEY(f->manager, false, "kvmem-manager");
	KEY(f->spaces, false, "kvmem-spaces");
	KEY(f->runnable, false, "kvmem-spaces-runnable");
	KEY(f->preempted, false, "kvmem-spaces-preempted");
	KEY(f->prefetch, false, "kvmem-spaces-prefetch");
	for (int p = 0; p < npools; p++)
		KEY(f->frames[p], false, "kvmem-frames-pool%d", p);
	for (uint32_t t = 0; t < KVMEM_NR_TIERS; t++)
		KEY(f->mem_kib[t], true, "kvmem-memory-%s", tier_name(t));
	KEY(f->faults, false, "kvmem-faults");
	for (uint32_t t = 0; t < KVMEM_NR_TIERS; t++)
		KEY(f->in[t], false, "kvmem-migrated-in-%s", tier_name(t));
	for (uint32_t t = 0; t < KVMEM_NR_TIERS; t++)
		KEY(f->out[t], false, "kvmem-migrated-out-%s", tier_name(t));
#undef KEY
	return n;
}

/* A decimal number with no sign or leading zero, then `unit` (or
 * nothing) up to the end; false if not. */
static bool parse_num(const char *s, const char *unit, uint64_t *v)
{
	size_t d = strspn(s, "0123456789");
	char *end;

	if (!d || (d > 1 && s[0] == '0') || d > 19 || strcmp(s + d, unit))
		return false;
	*v = strtoull(s, &end, 10);
	return true;
}

/* Whole contents of a (proc) file into buf, NUL-terminated; errno. */
static int slurp(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t got = 0;
	ssize_t n = 0;

	if (fd < 0)
		return errno;
	while (got < len - 1 && (n = read(fd, buf + got, len - 1 - got)) > 0)
		got += (size_t)n;
	n = n < 0 ? errno : 0;
	close(fd);
	buf[got] = 0;
	return (int)n;
}

/*
 * Read and parse `path` (an fdinfo file): every line "key:\tvalue"; the
 * kernel's own lines first, then exactly the kvmem keys of fdi_keys(), in
 * order, and nothing after them. Reports what is wrong; false if anything.
 */
static bool fdi_parse(const char *path, int npools, struct fdi *f,
		      const char *what)
{
	static char buf[FDI_BUF];
	struct fdi_key k[11 + KV_MAX_POOLS + 4 * KVMEM_NR_TIERS];
	int nk, next = 0, err;
	bool ok = true;
	char *line, *save = NULL;

	memset(f, 0xA5, sizeof(*f));
	nk = fdi_keys(f, npools, k);
	err = slurp(path, buf, sizeof(buf));
	if (err)
		return CHECK_ERR(err, 0, "%s: read %s", what, path);
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *colon = strchr(line, ':');

		if (!colon || colon == line || colon[1] != '\t' ||
		    strcspn(line, " \t") < (size_t)(colon - line)) {
			ok = CHECK(0, "%s: line '%s' is not 'key:\\tvalue'",
				   what, line);
			continue;
		}
		*colon = 0;
		if (strncmp(line, "kvmem-", 6)) {
			if (next)
				ok = CHECK(0, "%s: key '%s' after the kvmem "
					   "keys", what, line);
			continue;
		}
		if (next == nk || strcmp(line, k[next].name)) {
			ok = CHECK(0, "%s: key '%s' where '%s' was expected",
				   what, line, next < nk ? k[next].name :
				   "(the end)");
			continue;
		}
		if (!parse_num(colon + 2, k[next].kib ? " KiB" : "",
			       k[next].dst))
			ok = CHECK(0, "%s: %s: '%s' is not a decimal number%s",
				   what, line, colon + 2,
				   k[next].kib ? " and ' KiB'" : "");
		next++;
	}
	if (next != nk)
		ok = CHECK(0, "%s: %d of the %d kvmem keys found (first "
			   "missing: %s)", what, next, nk, k[next].name);
	return ok;
}

/* ------------------------------------------------------------ fixture */

struct ffx {
	struct kv_env e;
	struct kv_snap s0;
	uint64_t ps;
	int P, Q;
	uint32_t tp, tq;		/* tiers of P and Q */
	uint32_t tier[KV_MAX_POOLS];	/* every pool's tier now */
};

static bool ffx_init(struct ffx *x, int *fd)
{
	memset(x, 0, sizeof(*x));
	snap_take(&x->s0);
	if (!kv_setup(fd, &x->e, true))
		return false;
	x->ps = x->e.ps;
	x->P = x->e.P;
	x->Q = x->e.Q;
	x->tp = x->e.pool[x->P].tier;
	x->tq = x->e.pool[x->Q].tier;
	for (int p = 0; p < x->e.npools; p++)
		x->tier[p] = x->e.pool[p].tier;
	return true;
}

/* What a file's fdinfo must say: id (KV_ANY: any), the rest exactly. */
static struct fdi fdi_zero(uint64_t id)
{
	struct fdi f;

	memset(&f, 0, sizeof(f));
	f.id = id;
	return f;
}

/* got must be exp: reports the key (a format) under `what` if not. */
__attribute__((format(printf, 4, 5)))
static bool same(uint64_t got, uint64_t exp, const char *what,
		 const char *fmt, ...)
{
	char key[64];
	va_list ap;

	if (got == exp)
		return true;
	va_start(ap, fmt);
	vsnprintf(key, sizeof(key), fmt, ap);
	va_end(ap);
	return CHECK(0, "%s: %s: got %llu, expected %llu", what, key, U(got),
		     U(exp));
}

/*
 * The fdinfo at `path` must equal ex; memory-<tier> must be the frames of
 * the pools that have that tier now times the page size, in KiB. Each
 * difference is reported; with loud, one line says all matched. *got (may
 * be NULL) returns what was read.
 */
static bool fdi_is(const struct ffx *x, const char *path,
		   const struct fdi *ex, bool loud, struct fdi *got,
		   const char *what)
{
	uint64_t kib[KVMEM_NR_TIERS] = { 0 };
	const int np = x->e.npools;
	struct fdi now;
	bool ok = true;

	if (!fdi_parse(path, np, &now, what))
		return false;
	if (got)
		*got = now;
	if (ex->id != KV_ANY)
		ok &= same(now.id, ex->id, what, "kvmem-client-id");
	ok &= same(now.manager, ex->manager, what, "kvmem-manager");
	ok &= same(now.spaces, ex->spaces, what, "kvmem-spaces");
	/* No manager sets run states here: every space is runnable. */
	ok &= same(now.runnable, ex->spaces, what, "kvmem-spaces-runnable");
	ok &= same(now.preempted, 0, what, "kvmem-spaces-preempted");
	ok &= same(now.prefetch, 0, what, "kvmem-spaces-prefetch");
	for (int p = 0; p < np; p++) {
		ok &= same(now.frames[p], ex->frames[p], what,
			   "kvmem-frames-pool%d", p);
		kib[x->tier[p]] += ex->frames[p] * (x->ps / 1024);
	}
	for (uint32_t t = 0; t < KVMEM_NR_TIERS; t++)
		ok &= same(now.mem_kib[t], kib[t], what, "kvmem-memory-%s (KiB)",
			   tier_name(t));
	ok &= same(now.faults, ex->faults, what, "kvmem-faults");
	for (uint32_t t = 0; t < KVMEM_NR_TIERS; t++) {
		ok &= same(now.in[t], ex->in[t], what, "kvmem-migrated-in-%s",
			   tier_name(t));
		ok &= same(now.out[t], ex->out[t], what,
			   "kvmem-migrated-out-%s", tier_name(t));
	}
	if (ok && loud)
		CHECK(1, "%s: client %llu manager %llu spaces %llu, frames "
		      "pool%d %llu pool%d %llu, memory %llu/%llu/%llu KiB, "
		      "faults %llu, in %llu/%llu/%llu out %llu/%llu/%llu",
		      what, U(now.id), U(now.manager), U(now.spaces), x->P,
		      U(now.frames[x->P]), x->Q, U(now.frames[x->Q]),
		      U(now.mem_kib[0]), U(now.mem_kib[1]), U(now.mem_kib[2]),
		      U(now.faults), U(now.in[0]), U(now.in[1]), U(now.in[2]),
		      U(now.out[0]), U(now.out[1]), U(now.out[2]));
	return ok;
}

/* fdi_is() of descriptor fd of this process. */
static bool fd_is(const struct ffx *x, int fd, const struct fdi *ex,
		  bool loud, const char *what)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	return fdi_is(x, path, ex, loud, NULL, what);
}

/* The client id fdinfo shows for fd; UINT64_MAX (reported) if none. */
static uint64_t fd_client_id(const struct ffx *x, int fd, const char *what)
{
	char path[64];
	struct fdi f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	return fdi_parse(path, x->e.npools, &f, what) ? f.id : UINT64_MAX;
}

/* One byte written to each page first..first+count-1 of a mapping. */
static void touch(uint8_t *map, uint64_t ps, uint64_t first, uint64_t count)
{
	for (uint64_t i = first; i < first + count; i++)
		((volatile uint8_t *)map)[i * ps] = (uint8_t)(i + 1);
}

/* A mapped FAIL space of `pages` pages of tier, charged to tenant. */
static bool fspace(struct kv_space *s, int fd, uint64_t pages, uint64_t ps,
		   uint32_t tier, uint32_t tenant)
{
	memset(s, 0, sizeof(*s));
	s->fd = fd;
	s->size = pages * ps;
	s->c.size = s->size;
	s->c.tier = tier;
	s->c.policy = KVMEM_POLICY_FAIL;
	s->c.tenant = tenant;
	if (!CHECK_ERR(kv_ioctl(fd, KVMEM_IOC_SPACE_CREATE, &s->c), 0,
		       "SPACE_CREATE %llu pages tier %s tenant %u", U(pages),
		       tier_name(tier), tenant)) {
		s->c.handle = 0;
		return false;
	}
	s->map = kv_map(fd, s->c.mmap_offset, s->size);
	if (CHECK(s->map != NULL, "mmap the space"))
		return true;
	kv_space_free(s);
	return false;
}

/* MIGRATE a range, wait for its event, which must say status 0 and the
 * given pages, bytes copied and bytes reused. */
static bool fmigrate(int fd, uint32_t h, uint64_t first, uint64_t count,
		     uint32_t tier, uint32_t flags, uint64_t pages,
		     uint64_t copied, uint64_t reused, const char *what)
{
	struct kv_evx ex = {
		.seq = KV_ANY, .id = KV_ANY, .cookie = KV_ANY, .handle = h,
		.status = 0, .pages = pages, .copied = copied,
		.reused = reused,
	};
	struct kvmem_event ev;

	INFO("%s: MIGRATE pages %llu..%llu to %s%s%s", what, U(first),
	     U(first + count - 1), tier_name(tier),
	     flags & KVMEM_MIGRATE_KEEP_COPY ? " with KEEP_COPY" : "",
	     flags & KVMEM_MIGRATE_BY_ID ? " by id" : "");
	return kv_migrate_sync(fd, h, first, count, tier, flags, &ev) &&
	       kv_event_is(&ev, &ex, what);
}

/* ------------------------------------------------------------ manager */

/* A new file that is the manager; -1 (reported) on failure. */
static int mgr_open(void)
{
	struct kvmem_manager arg = { 0 };
	int fd = kv_open();

	if (fd >= 0 && !CHECK_ERR(kv_ioctl(fd, KVMEM_IOC_MANAGER, &arg), 0,
				  "a new file becomes the manager")) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* LIST_CLIENTS entry of client id (and its frames per pool); false if
 * not listed (not reported). */
static bool list_client(int m, uint64_t id, struct kvmem_client_info *out,
			uint64_t *pools, int npools)
{
	static struct kvmem_client_info ci[LIST_N];
	static uint64_t cp[LIST_N * KV_MAX_POOLS];
	struct kvmem_list l = {
		.max = LIST_N, .entries = (uint64_t)(uintptr_t)ci,
		.pools = (uint64_t)(uintptr_t)cp, .npools = (uint32_t)npools,
		.entry_size = sizeof(ci[0]),
	};

	if (kv_ioctl(m, KVMEM_IOC_LIST_CLIENTS, &l))
		return false;
	for (uint32_t i = 0; i < l.count; i++) {
		if (ci[i].id != id)
			continue;
		*out = ci[i];
		memcpy(pools, cp + (size_t)i * npools,
		       (size_t)npools * sizeof(*pools));
		return true;
	}
	return false;
}

/* The owner's client id in the LIST_SPACES report of space c. */
static uint64_t list_space_client(int m, const struct kvmem_space_create *c)
{
	struct kvmem_space_info si;
	uint32_t id = (uint32_t)(c->mmap_offset >> KVMEM_SPACE_SHIFT);
	struct kvmem_list l = {
		.cursor = id, .max = 1,
		.entries = (uint64_t)(uintptr_t)&si, .entry_size = sizeof(si),
	};

	if (kv_ioctl(m, KVMEM_IOC_LIST_SPACES, &l) || l.count != 1 ||
	    si.id != id)
		return UINT64_MAX;
	return si.client;
}

/* LIST_CLIENTS must report what fdinfo says of client ex (this process's,
 * not the manager): the same frames, faults, spaces, and bytes migrated
 * equal to the sum of the bytes in and to the sum of the bytes out. */
static void list_agrees(const struct ffx *x, int m, const struct fdi *ex,
			const char *what)
{
	uint64_t pools[KV_MAX_POOLS] = { 0 }, frames = 0, in = 0, out = 0;
	struct kvmem_client_info ci = { 0 };
	bool ok = true;

	if (!CHECK(list_client(m, ex->id, &ci, pools, x->e.npools),
		   "%s: LIST_CLIENTS lists client %llu", what, U(ex->id)))
		return;
	for (int p = 0; p < x->e.npools; p++) {
		frames += ex->frames[p];
		if (pools[p] != ex->frames[p])
			ok = CHECK(0, "%s: LIST_CLIENTS frames of pool%d: %llu, "
				   "fdinfo %llu", what, p, U(pools[p]),
				   U(ex->frames[p]));
	}
	for (uint32_t t = 0; t < KVMEM_NR_TIERS; t++) {
		in += ex->in[t];
		out += ex->out[t];
	}
	ok &= CHECK_EQ(in, out, "%s: bytes migrated in = bytes migrated out",
		       what);
	ok &= CHECK_EQ(ci.migrated, in, "%s: LIST_CLIENTS migrated = the sum "
		       "of kvmem-migrated-in-*", what);
	ok &= CHECK_EQ(ci.frames, frames, "%s: LIST_CLIENTS frames", what);
	ok &= CHECK_EQ(ci.faults, ex->faults, "%s: LIST_CLIENTS faults", what);
	ok &= CHECK_EQ(ci.spaces, ex->spaces, "%s: LIST_CLIENTS spaces", what);
	ok &= CHECK_EQ(ci.pid, getpid(), "%s: LIST_CLIENTS pid", what);
	ok &= CHECK_EQ(ci.flags, ex->manager ? KVMEM_CLIENT_MANAGER : 0,
		       "%s: LIST_CLIENTS flags", what);
	CHECK(ok, "%s: LIST_CLIENTS agrees with fdinfo for client %llu", what,
	      U(ex->id));
}

/* ----------------------------------------------------- fdinfo_format */

/*
 * A child that reads /proc/<parent>/fdinfo/<fd>, as root or (drop) as
 * uid and gid NOBODY. Exit status: 0 if it read it and the client id was
 * `id`; the errno of open() if that failed; 200 for anything else.
 */
static int read_as(const struct ffx *x, int fd, uint64_t id, bool drop)
{
	pid_t parent = getpid(), pid = xfork();
	int st;

	if (pid == 0) {
		char path[64], buf[FDI_BUF];
		struct fdi f;
		int err;

		if (drop && (setgroups(0, NULL) || setgid(NOBODY) ||
			     setuid(NOBODY) || geteuid() != NOBODY))
			_exit(200);
		snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", (int)parent,
			 fd);
		err = slurp(path, buf, sizeof(buf));
		if (err)
			_exit(err);
		_exit(fdi_parse(path, x->e.npools, &f, "the child") &&
		      f.id == id ? 0 : 200);
	}
	if (pid < 0)
		return -1;
	st = xwait_timeout(pid, 20000);
	return st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

void test_fdinfo_format(void)
{
	int fd = -1, fd2 = -1, dupfd = -1, m = -1, null = -1, st;
	uint64_t id, id2, idm;
	struct kv_space s = { 0 };
	struct fdi ex, mex;
	char buf[FDI_BUF], path[64];
	struct ffx x;

	if (!ffx_init(&x, &fd))
		return;
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	if (CHECK_ERR(slurp(path, buf, sizeof(buf)), 0, "read %s", path))
		INFO("fdinfo of a new file:\n%s", buf);
	CHECK(!strncmp(buf, "pos:\t", 5), "it starts with the kernel's own "
	      "lines (pos:)");
	id = fd_client_id(&x, fd, "a new file");
	CHECK_NE(id, UINT64_MAX, "kvmem-client-id of the new file");
	ex = fdi_zero(id);
	fd_is(&x, fd, &ex, true, "a new file: every pool and every tier, all "
	      "zero");

	/* Another file is another client; a dup is the same file. */
	fd2 = kv_open();
	dupfd = dup(fd);
	if (!CHECK(fd2 >= 0 && dupfd >= 0, "a second open and a dup"))
		goto out;
	id2 = fd_client_id(&x, fd2, "a second file");
	CHECK(id2 != id && id2 != UINT64_MAX, "the second file has another "
	      "client id: %llu and %llu", U(id), U(id2));
	fd_is(&x, dupfd, &ex, true, "the dup shows the first file's client");

	/* The id is the one the manager's reports use. */
	m = mgr_open();
	if (m < 0)
		goto out;
	idm = fd_client_id(&x, m, "the manager's file");
	mex = fdi_zero(idm);
	mex.manager = 1;
	fd_is(&x, m, &mex, true, "the manager's file says kvmem-manager 1");
	fd_is(&x, fd, &ex, false, "... and the first file still 0");
	if (fspace(&s, fd, 1, x.ps, x.tp, 0)) {
		CHECK_EQ(list_space_client(m, &s.c), id, "LIST_SPACES: the "
			 "owner of the first file's space is its fdinfo id");
		ex.spaces = 1;
		fd_is(&x, fd, &ex, true, "the first file has a space");
		list_agrees(&x, m, &ex, "a space created");
		mex.spaces = 0;
		list_agrees(&x, m, &mex, "the manager");
		kv_space_free(&s);
		ex.spaces = 0;
	}

	/* Readable by whoever may ptrace-read the process, as any fdinfo. */
	st = read_as(&x, fd, id, false);
	CHECK_EQ(st, 0, "a root child reads /proc/<parent>/fdinfo/%d: the "
		 "parent's client id (exit status)", fd);
	st = read_as(&x, fd, id, true);
	CHECK(st == EACCES, "a child with uid %d cannot read /proc/<parent>/"
	      "fdinfo/%d: exit status %d (%s), expected EACCES", NOBODY, fd,
	      st, st > 0 && st < 200 ? errname(st) : "-");

	/* Other files show no kvmem key. */
	null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", null);
	if (CHECK(null >= 0 && !slurp(path, buf, sizeof(buf)), "read the "
		  "fdinfo of /dev/null"))
		CHECK(!strstr(buf, "kvmem-"), "no kvmem key in the fdinfo of "
		      "/dev/null");
out:
	kv_space_free(&s);
	if (null >= 0)
		close(null);
	if (m >= 0)
		close(m);
	if (dupfd >= 0)
		close(dupfd);
	if (fd2 >= 0)
		close(fd2);
	close(fd);
	snap_back(&x.s0, 5000, "after the test freed everything");
}

/* ------------------------------------------------- fdinfo_accounting */

/* The tenant counters this test compares with the client's. */
struct tcount {
	uint64_t faults, in[KVMEM_NR_TIERS], out[KVMEM_NR_TIERS];
};

static void tcount_read(uint32_t t, struct tcount *c)
{
	char a[32];

	c->faults = tenant_u64(t, "faults");
	for (uint32_t i = 0; i < KVMEM_NR_TIERS; i++) {
		snprintf(a, sizeof(a), "migrated_in_%s", tier_name(i));
		c->in[i] = tenant_u64(t, a);
		snprintf(a, sizeof(a), "migrated_out_%s", tier_name(i));
		c->out[i] = tenant_u64(t, a);
	}
}

void test_fdinfo_accounting(void)
{
	const uint32_t T = 10;		/* the tenant of A's spaces */
	struct kv_space s1 = { 0 }, s2 = { 0 }, sb = { 0 };
	int a = -1, b = -1, m = -1;
	struct tcount t0, t1;
	struct kvmem_event ev;
	struct fdi ea, eb, em;
	uint64_t ps, done;
	char buf[512], want[512];
	struct ffx x;
	int len = 0;

	if (!ffx_init(&x, &a))
		return;
	ps = x.ps;
	b = kv_open();
	m = mgr_open();
	if (b < 0 || m < 0 ||
	    !CHECK(x.e.info.ntenants > T, "GET_INFO ntenants %u > %u",
		   x.e.info.ntenants, T))
		goto out;
	tcount_read(T, &t0);
	ea = fdi_zero(fd_client_id(&x, a, "file A"));
	eb = fdi_zero(fd_client_id(&x, b, "file B"));
	em = fdi_zero(fd_client_id(&x, m, "the manager's file"));
	em.manager = 1;

	/* A: S1, 8 pages of P's tier, and S2, 4 pages of Q's. */
	if (!fspace(&s1, a, 8, ps, x.tp, T) || !fspace(&s2, a, 4, ps, x.tq, T))
		goto out;
	ea.spaces = 2;
	CHECK_EQ(list_space_client(m, &s1.c), ea.id, "LIST_SPACES: S1's "
		 "owner is A's kvmem-client-id");
	fd_is(&x, a, &ea, true, "A: two spaces, nothing backed");

	CHECK_ERR(kv_populate(a, s1.c.handle, 0, 3, &done), 0, "POPULATE S1 "
		  "pages 0..2");
	ea.frames[x.P] += 3;
	fd_is(&x, a, &ea, true, "A: 3 frames populated, no fault");

	touch(s1.map, ps, 0, 8);
	ea.frames[x.P] += 5;
	ea.faults += 8;
	fd_is(&x, a, &ea, true, "A: S1's 8 pages written (3 populated): 8 "
	      "faults, 8 frames");
	if (ps > CPU_PAGE) {
		touch(s1.map + CPU_PAGE, ps, 0, 8);
		fd_is(&x, a, &ea, true, "A: other CPU pages of the same frames "
		      "written: no fault");
	}
	touch(s2.map, ps, 0, 2);
	ea.frames[x.Q] += 2;
	ea.faults += 2;
	fd_is(&x, a, &ea, true, "A: S2 pages 0..1 written");

	/* Moves: out of the source tier, into the target tier. */
	if (!fmigrate(a, s1.c.handle, 0, 4, x.tq, 0, 4, 4 * ps, 0,
		      "S1 0..3 to Q"))
		goto out;
	ea.frames[x.P] -= 4;
	ea.frames[x.Q] += 4;
	ea.out[x.tp] += 4 * ps;
	ea.in[x.tq] += 4 * ps;
	fd_is(&x, a, &ea, true, "A: after S1 0..3 moved to Q");

	touch(s1.map, ps, 0, 8);
	ea.faults += 4;
	fd_is(&x, a, &ea, true, "A: S1 written again: only the 4 moved pages "
	      "fault");

	if (!fmigrate(a, s2.c.handle, 0, 4, x.tp, KVMEM_MIGRATE_KEEP_COPY, 2,
		      2 * ps, 0, "S2 to P, KEEP_COPY"))
		goto out;
	ea.frames[x.P] += 2;
	ea.in[x.tp] += 2 * ps;
	ea.out[x.tq] += 2 * ps;
	fd_is(&x, a, &ea, true, "A: S2 moved to P, its clean copies stay in "
	      "Q (frames of both)");

	if (!fmigrate(a, s2.c.handle, 0, 4, x.tq, KVMEM_MIGRATE_KEEP_COPY, 2,
		      0, 2 * ps, "S2 back to Q, copies reused"))
		goto out;
	ea.in[x.tq] += 2 * ps;
	ea.out[x.tp] += 2 * ps;
	fd_is(&x, a, &ea, true, "A: S2 back in Q by its copies: bytes counted, "
	      "frames as they were");

	/* Memory per tier follows the tier the pool has now. */
	if (CHECK_ERR(pool_set_tier(x.Q, "hbm"), 0, "pool%d tier <- hbm",
		      x.Q)) {
		x.tier[x.Q] = KVMEM_TIER_HBM;
		fd_is(&x, a, &ea, true, "A: pool Q is hbm now: its frames "
		      "count in kvmem-memory-hbm");
		CHECK_ERR(pool_set_tier(x.Q, tier_name(x.tq)), 0, "pool%d tier "
			  "back to %s", x.Q, tier_name(x.tq));
		x.tier[x.Q] = x.tq;
		fd_is(&x, a, &ea, false, "A: pool Q's tier put back");
	}

	/* The manager moves A's pages: they count for A, the owner. Its
	 * queue holds the events of the spaces created so far: drop them. */
	while (kv_event_ready(m, 0) && !kv_event_wait(m, &ev, 0))
		;
	if (fmigrate(m, (uint32_t)(s1.c.mmap_offset >> KVMEM_SPACE_SHIFT), 4,
		     4, x.tq, KVMEM_MIGRATE_BY_ID, 4, 4 * ps, 0,
		     "the manager: S1 4..7 to Q")) {
		ea.frames[x.P] -= 4;
		ea.frames[x.Q] += 4;
		ea.out[x.tp] += 4 * ps;
		ea.in[x.tq] += 4 * ps;
	}
	fd_is(&x, a, &ea, true, "A: after the manager moved S1 4..7 to Q");
	fd_is(&x, m, &em, true, "the manager's file: the move is not its own");

	/* B is another client: counted apart, both ways. */
	fd_is(&x, b, &eb, true, "B: untouched by A's work");
	if (!fspace(&sb, b, 2, ps, x.tp, 0))
		goto out;
	touch(sb.map, ps, 0, 1);
	eb.spaces = 1;
	eb.frames[x.P] = 1;
	eb.faults = 1;
	if (fmigrate(b, sb.c.handle, 0, 2, x.tq, 0, 1, ps, 0, "SB to Q")) {
		eb.frames[x.P] = 0;
		eb.frames[x.Q] = 1;
		eb.out[x.tp] = ps;
		eb.in[x.tq] = ps;
	}
	fd_is(&x, b, &eb, true, "B: its space, fault and move");
	fd_is(&x, a, &ea, true, "A: unchanged by B's work");
	fd_is(&x, m, &em, true, "the manager's file: nothing but the role");

	/* The manager's report and the tenant's sysfs say the same. */
	list_agrees(&x, m, &ea, "A");
	list_agrees(&x, m, &eb, "B");
	tcount_read(T, &t1);
	CHECK_EQ(t1.faults - t0.faults, ea.faults, "tenants/%u/faults grew by "
		 "A's kvmem-faults", T);
	for (uint32_t t = 0; t < KVMEM_NR_TIERS; t++) {
		CHECK_EQ(t1.in[t] - t0.in[t], ea.in[t], "tenants/%u/migrated_"
			 "in_%s grew by A's kvmem-migrated-in-%s", T,
			 tier_name(t), tier_name(t));
		CHECK_EQ(t1.out[t] - t0.out[t], ea.out[t], "tenants/%u/"
			 "migrated_out_%s grew by A's kvmem-migrated-out-%s",
			 T, tier_name(t), tier_name(t));
	}
	for (int p = 0; p < x.e.npools; p++)
		len += snprintf(want + len, sizeof(want) - len, "%s%llu",
				p ? " " : "", U(ea.frames[p]));
	CHECK(!tenant_read(T, "frames_by_pool", buf, sizeof(buf)) &&
	      !strcmp(buf, want), "tenants/%u/frames_by_pool '%s' = A's "
	      "kvmem-frames-pool* '%s'", T, buf, want);

	/* RELEASE and DESTROY give the frames back; the totals stay. */
	CHECK_ERR(kv_release(a, s1.c.handle, 0, 8, &done), 0, "RELEASE S1");
	CHECK_EQ(done, 8, "RELEASE S1 gave back");
	ea.frames[x.Q] -= 8;
	fd_is(&x, a, &ea, true, "A: S1 released");
	CHECK(kv_count_in(a, s2.c.handle, 0, 4, (uint16_t)x.Q, false) == 2 &&
	      kv_count_in(a, s2.c.handle, 0, 4, (uint16_t)x.P, true) == 2,
	      "QUERY: A's last frames are S2's 2 pages in pool%d and their "
	      "2 clean copies in pool%d", x.Q, x.P);
	kv_space_free(&s2);
	ea.frames[x.P] = 0;
	ea.frames[x.Q] = 0;
	ea.spaces = 1;
	fd_is(&x, a, &ea, true, "A: S2 destroyed with its copies: no frame, "
	      "no memory");
	kv_space_free(&s1);
	ea.spaces = 0;
	fd_is(&x, a, &ea, true, "A: both spaces destroyed: kvmem-spaces 0; "
	      "faults and bytes migrated stay");
	kv_space_free(&sb);
	eb.spaces = 0;
	eb.frames[x.Q] = 0;
	fd_is(&x, b, &eb, true, "B: its space destroyed");
	list_agrees(&x, m, &ea, "A at the end");
out:
	kv_space_free(&s1);
	kv_space_free(&s2);
	kv_space_free(&sb);
	if (m >= 0)
		close(m);
	if (b >= 0)
		close(b);
	if (a >= 0)
		close(a);
	snap_back(&x.s0, 5000, "after the test freed everything");
}

/* ----------------------------------------------------- fdinfo_fork */

/*
 * The child: its own /proc/self/fdinfo of the inherited descriptor must
 * be what the parent's said; then it faults page 1 and moves pages 0..1
 * to Q through the shared file, checks its view again, and tells the
 * parent, which reads the child's fdinfo too before letting it exit.
 */
static void fork_child(const struct ffx *x, int fd, struct kv_space *s,
		       struct fdi ex, struct kv_pipes *pp)
{
	char c;

	fd_is(x, fd, &ex, true, "child: its own fdinfo of the inherited "
	      "file equals the parent's");
	touch(s->map, x->ps, 1, 1);
	ex.frames[x->P] += 1;
	ex.faults += 1;
	if (fmigrate(fd, s->c.handle, 0, 2, x->tq, 0, 2, 2 * x->ps, 0,
		     "child: pages 0..1 to Q")) {
		ex.frames[x->P] -= 2;
		ex.frames[x->Q] += 2;
		ex.out[x->tp] += 2 * x->ps;
		ex.in[x->tq] += 2 * x->ps;
	}
	fd_is(x, fd, &ex, true, "child: after its fault and move");
	pipe_send(pp->c2p[1], 'd');
	pipe_recv(pp->p2c[0], &c, 30000);
}

void test_fdinfo_fork(void)
{
	struct kv_space s = { 0 };
	struct kv_pipes pp;
	struct fdi ex;
	char path[64], c;
	bool pipes = false;
	struct ffx x;
	pid_t pid;
	int fd = -1, dupfd = -1;

	if (!ffx_init(&x, &fd))
		return;
	ex = fdi_zero(fd_client_id(&x, fd, "the file"));
	if (!fspace(&s, fd, 4, x.ps, x.tp, 0))
		goto out;
	touch(s.map, x.ps, 0, 1);
	ex.spaces = 1;
	ex.frames[x.P] = 1;
	ex.faults = 1;
	fd_is(&x, fd, &ex, true, "parent: one space, one page written");
	pipes = pipes_open(&pp);
	if (!pipes)
		goto out;
	pid = xfork();
	if (pid == 0) {
		fork_child(&x, fd, &s, ex, &pp);
		_exit(vt_failures ? 1 : 0);
	}
	if (!CHECK(pid > 0, "fork"))
		goto out;
	CHECK(pipe_recv(pp.c2p[0], &c, 60000), "the child did its work");
	ex.frames[x.P] -= 1;
	ex.frames[x.Q] += 2;
	ex.faults += 1;
	ex.out[x.tp] += 2 * x.ps;
	ex.in[x.tq] += 2 * x.ps;
	fd_is(&x, fd, &ex, true, "parent: sees the child's fault and move "
	      "(one file, one client)");
	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", (int)pid, fd);
	fdi_is(&x, path, &ex, true, NULL, "/proc/<child>/fdinfo: the same");
	pipe_send(pp.p2c[1], 'x');
	child_done(pid, 30000, "the child");
	fd_is(&x, fd, &ex, false, "parent: the same after the child exited");

	/* A dup is the same file too. */
	dupfd = dup(fd);
	if (CHECK(dupfd >= 0, "dup"))
		fd_is(&x, dupfd, &ex, true, "a dup shows the same numbers");

	kv_space_free(&s);
	ex.spaces = 0;
	ex.frames[x.Q] = 0;
	fd_is(&x, fd, &ex, true, "DESTROY: no space, no frame, no memory");
out:
	if (pipes)
		pipes_close(&pp);
	kv_space_free(&s);
	if (dupfd >= 0)
		close(dupfd);
	if (fd >= 0)
		close(fd);
	snap_back(&x.s0, 5000, "after the test freed everything");
}
