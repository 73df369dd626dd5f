// SPDX-License-Identifier: GPL-2.0
/*
 * kvmem-vmtest: the manager role (Documentation/ioctl.md, "The manager";
 * admin-guide.md, "The manager"): who may take it and when
 * (KVMEM_IOC_MANAGER, module parameter manager_gid), the reports of every
 * space and client (KVMEM_IOC_LIST_SPACES, KVMEM_IOC_LIST_CLIENTS),
 * migrating another client's space (KVMEM_MIGRATE_BY_ID), the manager
 * events (spaces created and destroyed, clients gone, faults waiting for
 * room, pools below their low_watermark), KVMEM_IOC_TENANT_SET, and every
 * invalid argument of these calls.
 *
 * Pool P is the DRAM pool (node 0), Q the CXL pool (node 1). Every test
 * closes the manager's file before it ends, and puts back the sysfs
 * tunables (pool reserve and low_watermark, tenants' weights and quotas)
 * and the mode of /dev/kvmem that it changed.
 */
#include <fcntl.h>
#include <grp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmtest.h"

#define MGR_EV_MS	20000	/* wait for an event that must come */
#define MGR_QUIET_MS	100	/* wait for an event that must not come */
#define NOBODY		65534	/* uid and gid of the unprivileged children */
#define MGR_GID		4242	/* manager_gid of the reloaded module */
#define LIST_N		64	/* entries of a full report in these tests */

/* ------------------------------------------------------------ helpers */

/* KVMEM_IOC_MANAGER with a valid (all zero) argument; the errno. */
static int become_manager(int fd)
{
	struct kvmem_manager arg = { 0 };

	return kv_ioctl(fd, KVMEM_IOC_MANAGER, &arg);
}

/* A new file that is the manager; -1 (reported) on failure. */
static int mgr_open(void)
{
	int fd = kv_open();

	if (fd >= 0 && !CHECK_ERR(become_manager(fd), 0, "a new file becomes "
				  "the manager")) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* LIST_SPACES or LIST_CLIENTS (cmd) from `cursor`, up to `max` entries;
 * the errno. *l returns count and cursor. */
static int list(int fd, unsigned long cmd, struct kvmem_list *l,
		uint64_t cursor, uint32_t max, void *entries, uint64_t *pools)
{
	*l = (struct kvmem_list){
		.cursor = cursor, .max = max,
		.entries = (uint64_t)(uintptr_t)entries,
		.pools = (uint64_t)(uintptr_t)pools,
		.npools = pools ? (uint32_t)kv_sys_npools() : 0,
		.entry_size = cmd == KVMEM_IOC_LIST_SPACES ?
			      sizeof(struct kvmem_space_info) :
			      sizeof(struct kvmem_client_info),
	};
	return kv_ioctl(fd, cmd, l);
}

/* The report of live space `id` (and its 2 * npools counts when pools is
 * not NULL); false if LIST_SPACES does not show it (not reported). */
static bool get_space(int m, uint32_t id, struct kvmem_space_info *out,
		      uint64_t *pools)
{
	struct kvmem_list l;

	return !list(m, KVMEM_IOC_LIST_SPACES, &l, id, 1, out, pools) &&
	       l.count == 1 && out->id == id;
}

/* The report of client `id`, or (id 0) of the client flagged as the
 * manager, with its npools counts when pools is not NULL; false if
 * LIST_CLIENTS does not show it (not reported). */
static bool get_client(int m, uint32_t id, struct kvmem_client_info *out,
		       uint64_t *pools, int npools)
{
	static struct kvmem_client_info ci[LIST_N];
	static uint64_t cp[LIST_N * KV_MAX_POOLS];
	struct kvmem_list l;

	if (list(m, KVMEM_IOC_LIST_CLIENTS, &l, 0, LIST_N, ci, cp))
		return false;
	for (uint32_t i = 0; i < l.count; i++) {
		if (id ? ci[i].id != id :
		    !(ci[i].flags & KVMEM_CLIENT_MANAGER))
			continue;
		*out = ci[i];
		if (pools)
			memcpy(pools, cp + i * npools, npools * sizeof(*pools));
		return true;
	}
	return false;
}

/* SPACE_CREATE with a tenant and a priority; reported, false on failure. */
static bool new_space(int fd, struct kvmem_space_create *c, uint64_t bytes,
		      uint32_t tier, uint32_t policy, uint32_t timeout_ms,
		      uint32_t tenant, int32_t prio)
{
	*c = (struct kvmem_space_create){
		.size = bytes, .tier = tier, .policy = policy,
		.timeout_ms = timeout_ms, .tenant = tenant, .priority = prio,
	};
	return CHECK_ERR(kv_ioctl(fd, KVMEM_IOC_SPACE_CREATE, c), 0,
			 "SPACE_CREATE %llu bytes tier %s policy %u tenant %u "
			 "priority %d", U(bytes), tier_name(tier), policy,
			 tenant, prio);
}

static uint32_t space_id(const struct kvmem_space_create *c)
{
	return (uint32_t)(c->mmap_offset >> KVMEM_SPACE_SHIFT);
}

/*
 * A file of /dev/kvmem opened by a child process, which exits once this
 * process holds the file too (pidfd_getfd): a client whose pid is not
 * ours. Returns the descriptor, or -1 (reported); *pid gets the child's.
 */
static int open_by_child(pid_t *pid)
{
	struct kv_pipes pp;
	int cfd = -1, fd = -1, pidfd;

	if (!pipes_open(&pp))
		return -1;
	*pid = xfork();
	if (*pid == 0) {
		char c;

		cfd = open(KV_DEV, O_RDWR);
		if (write(pp.c2p[1], &cfd, sizeof(cfd)) == sizeof(cfd))
			pipe_recv(pp.p2c[0], &c, 30000);
		_exit(0);
	}
	close(pp.c2p[1]);
	pp.c2p[1] = -1;
	if (*pid > 0 && read(pp.c2p[0], &cfd, sizeof(cfd)) == sizeof(cfd) &&
	    cfd >= 0) {
		pidfd = (int)syscall(SYS_pidfd_open, *pid, 0);
		if (pidfd >= 0) {
			fd = (int)syscall(SYS_pidfd_getfd, pidfd, cfd, 0);
			close(pidfd);
		}
	}
	CHECK(fd >= 0, "a file opened by child %d, taken over with "
	      "pidfd_getfd: %s", (int)*pid, fd >= 0 ? "ok" : errname(errno));
	pipe_send(pp.p2c[1], 'x');
	if (*pid > 0)
		child_done(*pid, 10000, "the child that opened the file");
	pipes_close(&pp);
	return fd;
}

/* Frames pages and clean copies of a space hold in a pool (QUERY). */
static uint64_t frames_in(int fd, const struct kvmem_space_create *c,
			  int pool)
{
	return kv_count_in(fd, c->handle, 0, c->npages, (uint16_t)pool,
			   false) +
	       kv_count_in(fd, c->handle, 0, c->npages, (uint16_t)pool, true);
}

/* ---------------------------------------------------- manager events */

/* The manager's file and the seq of the last event read from it. */
struct mq {
	int fd;
	uint64_t seq;
};

/* What a manager event must say; KV_ANY: not checked. */
struct mev {
	uint32_t type;
	uint64_t id, handle, cookie, pages;
	int status;
};

/*
 * The manager's next event must be x, with the next seq (nothing lost),
 * and pad, bytes_copied and bytes_reused zero. Reported.
 */
static bool mev_next(struct mq *q, const struct mev *x, const char *what)
{
	struct kvmem_event ev;
	int err = kv_event_wait(q->fd, &ev, MGR_EV_MS);
	bool ok;

	if (err)
		return CHECK_ERR(err, 0, "%s: the manager's next event", what);
	ok = ev.type == x->type && ev.seq == q->seq + 1 && !ev.pad &&
	     !ev.bytes_copied && !ev.bytes_reused && ev.status == x->status &&
	     (x->id == KV_ANY || ev.id == x->id) &&
	     (x->handle == KV_ANY || ev.handle == x->handle) &&
	     (x->cookie == KV_ANY || ev.cookie == x->cookie) &&
	     (x->pages == KV_ANY || ev.pages == x->pages);
	CHECK(ok, "%s: event type %u seq %llu id %llu handle %u cookie %llu "
	      "pages %llu status %d", what, ev.type, U(ev.seq), U(ev.id),
	      ev.handle, U(ev.cookie), U(ev.pages), ev.status);
	if (!ok)
		INFO("expected type %u seq %llu id %lld handle %lld cookie "
		     "%lld pages %lld status %d (-1: any), pad %u and bytes "
		     "%llu/%llu 0", x->type, U(q->seq + 1), (long long)x->id,
		     (long long)x->handle, (long long)x->cookie,
		     (long long)x->pages, x->status, ev.pad,
		     U(ev.bytes_copied), U(ev.bytes_reused));
	q->seq = ev.seq;
	return ok;
}

/* The file must have no event within ms (the one it has is shown). */
static bool no_event(int fd, int ms, const char *what)
{
	struct kvmem_event ev;

	if (kv_event_wait(fd, &ev, ms) == ETIMEDOUT)
		return CHECK(1, "%s: no event", what);
	return CHECK(0, "%s: no event, but got type %u seq %llu id %llu "
		     "handle %u cookie %llu pages %llu", what, ev.type,
		     U(ev.seq), U(ev.id), ev.handle, U(ev.cookie),
		     U(ev.pages));
}

/* Event of a space: created, destroyed or waiting for room. */
static bool space_ev(struct mq *q, uint32_t type, uint32_t sid,
		     uint32_t client, uint32_t tenant, uint64_t npages,
		     int status, const char *what)
{
	const struct mev x = { type, sid, client, tenant, npages, status };

	return mev_next(q, &x, what);
}

/* --------------------------------------------------- manager_acquire */

/* Exit codes of manager_as() children besides an errno of MANAGER. */
#define CH_SETID	201	/* setgroups, setgid or setuid failed */
#define CH_OPEN		202	/* open(/dev/kvmem) failed */
#define CH_ROLE		203	/* MANAGER worked, LIST_CLIENTS disagrees */

/*
 * In a child that drops root (uid NOBODY, group gid, supplementary groups
 * g[0..ng)): KVMEM_IOC_MANAGER on a file it opens. Returns the child's exit
 * status: the errno of MANAGER, or a CH_* code; -1 if it did not exit.
 */
static int manager_as(gid_t gid, const gid_t *g, int ng)
{
	pid_t pid = xfork();
	int st;

	if (pid == 0) {
		struct kvmem_client_info ci;
		int fd, err;

		if (setgroups((size_t)ng, g) || setgid(gid) || setuid(NOBODY) ||
		    geteuid() != NOBODY)
			_exit(CH_SETID);
		fd = open(KV_DEV, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			_exit(CH_OPEN);
		err = become_manager(fd);
		if (!err && (!get_client(fd, 0, &ci, NULL, 0) ||
			     ci.pid != (uint32_t)getpid()))
			_exit(CH_ROLE);
		_exit(err);
	}
	if (pid < 0)
		return -1;
	st = xwait_timeout(pid, 20000);
	return st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Let everyone open /dev/kvmem; the old mode, or -1 (reported). */
static int dev_for_all(void)
{
	struct stat st;

	if (!CHECK(!stat(KV_DEV, &st) && !chmod(KV_DEV, 0666),
		   "chmod 0666 %s", KV_DEV))
		return -1;
	return (int)(st.st_mode & 07777);
}

static void dev_mode_back(int mode)
{
	if (mode >= 0)
		CHECK(!chmod(KV_DEV, (mode_t)mode), "chmod %s back to %04o",
		      KV_DEV, mode);
}

/* manager_as() must give `exp`. */
static void child_manager(gid_t gid, const gid_t *g, int ng, int exp,
			  const char *who)
{
	int got = manager_as(gid, g, ng);

	CHECK_ERR(got, exp, "%s: MANAGER in a child (exit status; %d setid "
		  "failed, %d open failed, %d LIST_CLIENTS disagrees)", who,
		  CH_SETID, CH_OPEN, CH_ROLE);
}

void test_manager_acquire(void)
{
	const gid_t grp = MGR_GID;
	struct kvmem_client_info ci;
	struct kvmem_list l;
	struct kv_snap s0;
	struct kv_env e;
	int f1, f2, dup1, mode, fd;

	if (!mod_idle(&s0))
		return;
	f1 = kv_open();
	f2 = kv_open();
	if (f1 < 0 || f2 < 0)
		goto out;
	CHECK_ERR(become_manager(f1), 0, "root: the first file becomes the "
		  "manager");
	CHECK_ERR(become_manager(f1), 0, "MANAGER again on the same file");
	CHECK_ERR(become_manager(f2), EBUSY, "a second file");
	CHECK(get_client(f1, 0, &ci, NULL, 0) &&
	      ci.pid == (uint32_t)getpid() && ci.spaces == 0,
	      "LIST_CLIENTS from the manager works and flags one client");
	CHECK_ERR(list(f2, KVMEM_IOC_LIST_CLIENTS, &l, 0, 1, &ci, NULL), EPERM,
		  "LIST_CLIENTS from the second file");
	dup1 = dup(f1);
	close(f1);
	CHECK_ERR(become_manager(f2), EBUSY, "second file, after closing one "
		  "of two descriptors of the manager's file");
	close(dup1);
	CHECK_ERR(become_manager(f2), 0, "second file, once the manager's "
		  "file is released");
	close(f2);

	/* Unprivileged, no manager_gid: refused, and the role stays free. */
	mode = dev_for_all();
	child_manager(NOBODY, NULL, 0, EPERM, "uid/gid 65534, no groups, "
		      "manager_gid -1");
	dev_mode_back(mode);
	fd = mgr_open();
	if (fd >= 0)
		close(fd);

	/* manager_gid: its members may, others still may not. */
	if (!reload_with("manager_gid=4242", &fd, &e))
		goto back;
	close(fd);
	CHECK_EQ(sysfs_u64("/sys/module/" KV_MODNAME "/parameters/manager_gid"),
		 MGR_GID, "parameters/manager_gid");
	mode = dev_for_all();
	child_manager(NOBODY, &grp, 1, 0, "uid/gid 65534, supplementary "
		      "group 4242");
	child_manager(MGR_GID, NULL, 0, 0, "uid 65534, gid 4242");
	child_manager(NOBODY, NULL, 0, EPERM, "uid/gid 65534, no groups");
	fd = mgr_open();
	if (fd >= 0) {
		child_manager(NOBODY, &grp, 1, EBUSY, "group 4242 while root "
			      "is the manager");
		close(fd);
	}
	dev_mode_back(mode);
back:
	mod_back(&s0);
	return;
out:
	if (f1 >= 0)
		close(f1);
	if (f2 >= 0)
		close(f2);
}

/* ------------------------------------------------------ manager_list */

/* A report entry as text: a struct kvmem_space_info (space) or a struct
 * kvmem_client_info. */
static void entry_str(char *b, size_t n, const void *e, bool space)
{
	const struct kvmem_space_info *s = e;
	const struct kvmem_client_info *c = e;

	if (space)
		snprintf(b, n, "id %u client %u tenant %u priority %d tokens "
			 "%llu npages %llu tier %u policy %u resident %llu "
			 "copies %llu reserved %llx %llx", s->id, s->client,
			 s->tenant, s->priority, U(s->tokens), U(s->npages),
			 s->tier, s->policy, U(s->resident), U(s->copies),
			 U(s->reserved[0]), U(s->reserved[1]));
	else
		snprintf(b, n, "id %u pid %u spaces %u flags %u frames %llu "
			 "faults %llu migrated %llu reserved %llx %llx", c->id,
			 c->pid, c->spaces, c->flags, U(c->frames),
			 U(c->faults), U(c->migrated), U(c->reserved[0]),
			 U(c->reserved[1]));
}

/* got == exp, n bytes, shown as strings gs and xs. */
static bool same(const void *got, const void *exp, size_t n, const char *gs,
		 const char *xs, const char *what)
{
	bool ok = !memcmp(got, exp, n);

	CHECK(ok, "%s: %s", what, gs);
	if (!ok)
		INFO("%s: expected %s", what, xs);
	return ok;
}

/* A report entry (as for entry_str()) equals the one expected. */
static bool same_entry(const void *got, const void *exp, bool space,
		       const char *what)
{
	char g[320], x[320];

	entry_str(g, sizeof(g), got, space);
	entry_str(x, sizeof(x), exp, space);
	return same(got, exp, space ? sizeof(struct kvmem_space_info) :
		    sizeof(struct kvmem_client_info), g, x, what);
}

static bool same_counts(const uint64_t *got, const uint64_t *exp, int n,
			const char *what)
{
	char g[256] = "", x[256] = "";

	for (int i = 0; i < n; i++) {
		snprintf(g + strlen(g), sizeof(g) - strlen(g), " %llu",
			 U(got[i]));
		snprintf(x + strlen(x), sizeof(x) - strlen(x), " %llu",
			 U(exp[i]));
	}
	return same(got, exp, n * sizeof(*got), g, x, what);
}

/*
 * Walk a whole report one entry per call (max 1): ids[] gets the ids in
 * order; returns how many. Each call that reports nothing, or fewer than
 * max, must end the walk (cursor 0); each other cursor lies past the id
 * just reported.
 */
static int walk_by_one(int m, unsigned long cmd, const char *name,
		       uint32_t *ids, int nids)
{
	uint8_t one[128];
	struct kvmem_list l;
	uint64_t cursor = 0;
	int n = 0, calls = 0, err;

	do {
		memset(one, 0, sizeof(one));
		err = list(m, cmd, &l, cursor, 1, one, NULL);
		if (err)
			return CHECK_ERR(err, 0, "%s max 1 cursor %llu", name,
					 U(cursor)), n;
		if (!l.count) {
			CHECK_EQ(l.cursor, 0, "%s max 1 from %llu: nothing "
				 "left, cursor", name, U(cursor));
			INFO("%s: the call reporting the last id returned "
			     "cursor %llu; one more call reported nothing",
			     name, U(cursor));
			cursor = l.cursor;
			break;
		}
		memcpy(&ids[n], one, sizeof(*ids));	/* id comes first */
		if (l.cursor && l.cursor <= ids[n])
			CHECK(0, "%s max 1: cursor %llu after id %u", name,
			      U(l.cursor), ids[n]);
		if (!l.cursor)
			INFO("%s: the call reporting the last id %u returns "
			     "cursor 0", name, ids[n]);
		cursor = l.cursor;
		n++;
	} while (cursor && ++calls < nids);
	CHECK_EQ(cursor, 0, "%s max 1: the walk ends with cursor 0 (%d "
		 "entries)", name, n);
	return n;
}

/* The walk one by one gives the same ids as the full report. */
static void walk_matches(int m, unsigned long cmd, const char *name,
			 const uint32_t *full, int nfull)
{
	uint32_t ids[LIST_N];
	int n = walk_by_one(m, cmd, name, ids, LIST_N);

	CHECK(n == nfull && !memcmp(ids, full, n * sizeof(*ids)),
	      "%s max 1: the walk reports the same %d ids as one call", name,
	      nfull);
}

/* The ids of a full report, which must be in increasing order. */
static void ids_of(const void *entries, size_t esize, uint32_t count,
		   uint32_t *ids, const char *name)
{
	for (uint32_t i = 0; i < count; i++) {
		memcpy(&ids[i], (const uint8_t *)entries + i * esize,
		       sizeof(*ids));
		if (i && ids[i] <= ids[i - 1])
			CHECK(0, "%s: id %u after id %u (not increasing)",
			      name, ids[i], ids[i - 1]);
	}
}

/* The expected report of space c of client `client`; its counts per pool
 * are filled by the caller. */
static struct kvmem_space_info space_exp(const struct kvmem_space_create *c,
					 uint32_t client, int32_t prio,
					 uint64_t tokens, uint64_t resident,
					 uint64_t copies)
{
	return (struct kvmem_space_info){
		.id = space_id(c), .client = client, .tenant = c->tenant,
		.priority = prio, .tokens = tokens, .npages = c->npages,
		.tier = c->tier, .policy = c->policy, .resident = resident,
		.copies = copies,
	};
}

void test_manager_list(void)
{
	static struct kvmem_space_info sp[LIST_N];
	static struct kvmem_client_info cl[LIST_N];
	static uint64_t pools[LIST_N * 2 * KV_MAX_POOLS];
	uint64_t xp[3][2 * KV_MAX_POOLS] = { { 0 } };
	uint64_t xc[3][KV_MAX_POOLS] = { { 0 } };
	struct kvmem_space_create a1, a2, b1, b2;
	struct kvmem_space_info xs[3];
	struct kvmem_client_info xcl[3];
	struct kvmem_space_set set;
	struct kvmem_event ev;
	struct kvmem_list l;
	uint32_t ids[LIST_N], ca = 0, cb = 0, cm = 0;
	struct kv_snap s0;
	struct kv_env e;
	int m, a = -1, b = -1, found[3] = { 0 };
	pid_t pa = 0, pb = 0;
	uint8_t *map;

	snap_take(&s0);
	if (!kv_setup(&m, &e, true))
		return;
	const int P = e.P, Q = e.Q, np = e.npools;
	const uint64_t ps = e.ps;

	if (!CHECK_ERR(become_manager(m), 0, "the manager"))
		goto out;
	a = open_by_child(&pa);
	b = open_by_child(&pb);
	if (a < 0 || b < 0 ||
	    !new_space(a, &a1, 4 * ps, e.pool[P].tier, KVMEM_POLICY_FAIL, 0,
		       3, 5) ||
	    !new_space(a, &a2, 2 * ps, e.pool[Q].tier, KVMEM_POLICY_FALLBACK,
		       0, 7, -2) ||
	    !new_space(b, &b1, 3 * ps, e.pool[P].tier, KVMEM_POLICY_WAIT,
		       1000, 0, 100) ||
	    !new_space(b, &b2, ps, e.pool[P].tier, KVMEM_POLICY_FAIL, 0, 9, 9))
		goto out;

	/* A1: priority and tokens set later, pages 0..2 touched (3 faults);
	 * A2: page 0 populated in Q; B1: populated, pages 0..1 moved to Q
	 * with clean copies left in P; B2: destroyed. */
	set = (struct kvmem_space_set){ .handle = a1.handle,
		.flags = KVMEM_SET_PRIORITY | KVMEM_SET_TOKENS,
		.priority = -7, .tokens = 1234 };
	CHECK_ERR(kv_ioctl(a, KVMEM_IOC_SPACE_SET, &set), 0, "SPACE_SET A1 "
		  "priority -7 tokens 1234");
	set = (struct kvmem_space_set){ .handle = b1.handle,
		.flags = KVMEM_SET_TOKENS, .tokens = 1ULL << 40 };
	CHECK_ERR(kv_ioctl(b, KVMEM_IOC_SPACE_SET, &set), 0, "SPACE_SET B1 "
		  "tokens 2^40");
	map = kv_map(a, a1.mmap_offset, 4 * ps);
	if (!CHECK(map != NULL, "mmap A1"))
		goto out;
	for (int i = 0; i < 3; i++)
		map[i * ps] = 1;
	munmap(map, 4 * ps);
	CHECK_ERR(kv_populate(a, a2.handle, 0, 1, NULL), 0, "POPULATE A2 0");
	CHECK_ERR(kv_populate(b, b1.handle, 0, 3, NULL), 0, "POPULATE B1");
	if (kv_migrate_sync(b, b1.handle, 0, 2, e.pool[Q].tier,
			    KVMEM_MIGRATE_KEEP_COPY, &ev))
		CHECK(ev.status == 0 && ev.pages == 2, "B1 pages 0..1 moved "
		      "to pool%d with KEEP_COPY: status %d pages %llu", Q,
		      ev.status, U(ev.pages));
	CHECK_ERR(kv_destroy(b, b2.handle), 0, "DESTROY B2");

	/* Client ids, from the reports of the spaces. */
	if (!CHECK(get_space(m, space_id(&a1), &xs[0], NULL) &&
		   get_space(m, space_id(&b1), &xs[2], NULL),
		   "LIST_SPACES from the id of A1, of B1: that space first"))
		goto out;
	ca = xs[0].client;
	cb = xs[2].client;
	CHECK(get_client(m, 0, &xcl[2], NULL, 0), "LIST_CLIENTS shows the "
	      "manager");
	cm = xcl[2].id;
	CHECK(ca != cb && ca != cm && cb != cm, "client ids A %u B %u "
	      "manager %u differ", ca, cb, cm);

	xs[0] = space_exp(&a1, ca, -7, 1234, 3, 0);
	xs[1] = space_exp(&a2, ca, -2, 0, 1, 0);
	xs[2] = space_exp(&b1, cb, 100, 1ULL << 40, 3, 2);
	xp[0][P] = 3;
	xp[1][Q] = 1;
	xp[2][P] = 1;
	xp[2][Q] = 2;
	xp[2][np + P] = 2;
	xcl[0] = (struct kvmem_client_info){ .id = ca, .pid = (uint32_t)pa,
		.spaces = 2, .frames = 4, .faults = 3 };
	xcl[1] = (struct kvmem_client_info){ .id = cb, .pid = (uint32_t)pb,
		.spaces = 1, .frames = 5, .migrated = 2 * ps };
	xcl[2] = (struct kvmem_client_info){ .id = cm,
		.pid = (uint32_t)getpid(), .flags = KVMEM_CLIENT_MANAGER };
	xc[0][P] = 3;
	xc[0][Q] = 1;
	xc[1][P] = 3;
	xc[1][Q] = 2;

	/* Every space in one call. */
	memset(sp, 0xA5, sizeof(sp));
	if (!CHECK_ERR(list(m, KVMEM_IOC_LIST_SPACES, &l, 0, LIST_N, sp,
			    pools), 0, "LIST_SPACES max %d with counts", LIST_N))
		goto out;
	CHECK_EQ(l.count, kv_sys_spaces(), "LIST_SPACES count = sysfs spaces");
	CHECK_EQ(l.cursor, 0, "LIST_SPACES: all reported, cursor");
	CHECK(l.count < LIST_N && sp[l.count].id == 0xA5A5A5A5,
	      "nothing written past entry count-1");
	ids_of(sp, sizeof(*sp), l.count, ids, "LIST_SPACES");
	for (uint32_t i = 0; i < l.count && i < LIST_N; i++) {
		const char *name[] = { "A1", "A2", "B1" };

		if (sp[i].id == space_id(&b2))
			CHECK(0, "destroyed B2 (id %u) is listed", sp[i].id);
		for (int k = 0; k < 3; k++) {
			char what[64];

			if (sp[i].id != xs[k].id)
				continue;
			found[k]++;
			snprintf(what, sizeof(what), "LIST_SPACES %s", name[k]);
			same_entry(&sp[i], &xs[k], true, what);
			snprintf(what, sizeof(what), "%s per pool: pages, "
				 "then copies", name[k]);
			same_counts(pools + 2 * i * np, xp[k], 2 * np, what);
		}
	}
	CHECK(found[0] == 1 && found[1] == 1 && found[2] == 1, "A1, A2, B1 "
	      "listed once each: %d %d %d", found[0], found[1], found[2]);
	walk_matches(m, KVMEM_IOC_LIST_SPACES, "LIST_SPACES", ids, l.count);
	CHECK_ERR(list(m, KVMEM_IOC_LIST_SPACES, &l, ids[l.count - 1] + 1000,
		       LIST_N, sp, NULL), 0, "LIST_SPACES from past the last "
		  "id");
	CHECK(l.count == 0 && l.cursor == 0, "... reports nothing, cursor 0 "
	      "(count %u cursor %llu)", l.count, U(l.cursor));
	for (int k = 0; k < 2; k++) {
		CHECK_ERR(list(m, k ? KVMEM_IOC_LIST_CLIENTS :
			       KVMEM_IOC_LIST_SPACES, &l, 1ULL << 63, LIST_N,
			       sp, pools), 0, "LIST_%s from cursor 2^63",
			  k ? "CLIENTS" : "SPACES");
		CHECK(l.count == 0 && l.cursor == 0, "... reports nothing, "
		      "cursor 0 (count %u cursor %llu)", l.count,
		      U(l.cursor));
	}
	if (get_space(m, space_id(&a2), &sp[0], NULL))
		same_entry(&sp[0], &xs[1], true, "LIST_SPACES from A2's id, "
			   "no counts (pools 0)");

	/* Every client in one call. */
	memset(cl, 0xA5, sizeof(cl));
	if (!CHECK_ERR(list(m, KVMEM_IOC_LIST_CLIENTS, &l, 0, LIST_N, cl,
			    pools), 0, "LIST_CLIENTS max %d with counts",
		       LIST_N))
		goto out;
	CHECK_EQ(l.count, kv_sys_clients(), "LIST_CLIENTS count = sysfs "
		 "clients");
	CHECK_EQ(l.cursor, 0, "LIST_CLIENTS: all reported, cursor");
	CHECK(l.count < LIST_N && cl[l.count].id == 0xA5A5A5A5,
	      "nothing written past entry count-1");
	ids_of(cl, sizeof(*cl), l.count, ids, "LIST_CLIENTS");
	memset(found, 0, sizeof(found));
	for (uint32_t i = 0; i < l.count && i < LIST_N; i++) {
		const char *name[] = { "A", "B", "the manager" };

		if (cl[i].flags && cl[i].id != cm)
			CHECK(0, "client %u has flags %u", cl[i].id,
			      cl[i].flags);
		for (int k = 0; k < 3; k++) {
			char what[64];

			if (cl[i].id != xcl[k].id)
				continue;
			found[k]++;
			snprintf(what, sizeof(what), "LIST_CLIENTS %s",
				 name[k]);
			same_entry(&cl[i], &xcl[k], false, what);
			snprintf(what, sizeof(what), "%s frames per pool",
				 name[k]);
			same_counts(pools + i * np, xc[k], np, what);
		}
	}
	CHECK(found[0] == 1 && found[1] == 1 && found[2] == 1, "A, B and the "
	      "manager listed once each");
	walk_matches(m, KVMEM_IOC_LIST_CLIENTS, "LIST_CLIENTS", ids, l.count);

	/* A destroyed space leaves both reports. */
	CHECK_ERR(kv_destroy(a, a2.handle), 0, "DESTROY A2");
	CHECK(!get_space(m, space_id(&a2), &sp[0], NULL) ||
	      sp[0].id != space_id(&a2), "A2 no longer listed");
	xcl[0].spaces = 1;
	xcl[0].frames = 3;
	xc[0][Q] = 0;
	if (CHECK(get_client(m, ca, &cl[0], pools, np), "A still listed")) {
		same_entry(&cl[0], &xcl[0], false, "LIST_CLIENTS A after "
			   "DESTROY A2");
		same_counts(pools, xc[0], np, "A frames per pool");
	}
out:
	if (a >= 0)
		close(a);
	if (b >= 0)
		close(b);
	close(m);
	snap_back(&s0, 5000, "after the test");
}

/* ----------------------------------------------- manager_migrate_any */

void test_manager_migrate_any(void)
{
	struct kvmem_space_create dead;
	struct kvmem_client_info co, cm;
	struct kvmem_space_info si;
	struct kvmem_event ev;
	struct kv_space s = { 0 }, big = { 0 };
	struct kv_snap s0;
	struct kv_env e;
	int o, n = -1, m = -1;
	uint64_t inq, used;
	uint32_t sid;
	double t0;

	snap_take(&s0);
	if (!kv_setup(&o, &e, true))
		return;
	const int P = e.P, Q = e.Q;
	const uint32_t tp = e.pool[P].tier, tq = e.pool[Q].tier;
	const uint64_t ps = e.ps;

	n = kv_open();
	/* The owner's spaces, all made before there is a manager (no
	 * SPACE_CREATED event before the MIGRATE events below). */
	if (n < 0 || !kv_space_fail(&s, o, &e, 16) ||
	    !kv_space_fail(&big, o, &e, 128) ||
	    !CHECK_ERR(kv_create(o, ps, tp, KVMEM_POLICY_FAIL, 0, &dead), 0,
		       "SPACE_CREATE (to destroy)") ||
	    !CHECK_ERR(kv_destroy(o, dead.handle), 0, "DESTROY it"))
		goto out;
	pat_fill(s.map, 16 * ps, 31, 0);
	pat_fill(big.map, 128 * ps, 32, 0);
	sid = space_id(&s.c);
	m = mgr_open();
	if (m < 0)
		goto out;

	CHECK_ERR(kv_migrate(o, sid, 0, 16, tq, KVMEM_MIGRATE_BY_ID, 1, NULL),
		  EPERM, "BY_ID from the owner, not the manager");
	CHECK_ERR(kv_migrate(n, sid, 0, 16, tq, KVMEM_MIGRATE_BY_ID, 1, NULL),
		  EPERM, "BY_ID from a third file, not the manager");
	CHECK_ERR(kv_migrate(m, s.c.handle, 0, 16, tq, 0, 1, NULL), ENOENT,
		  "the manager without BY_ID: the owner's handle is no "
		  "handle of its file");
	CHECK_ERR(kv_migrate(m, space_id(&dead), 0, 1, tq, KVMEM_MIGRATE_BY_ID,
			     1, NULL), ENOENT, "BY_ID of a destroyed space's "
		  "id");
	CHECK_ERR(kv_migrate(m, sid + 1000, 0, 1, tq, KVMEM_MIGRATE_BY_ID, 1,
			     NULL), ENOENT, "BY_ID of an id never used");
	CHECK_ERR(kv_migrate(m, 0, 0, 1, tq, KVMEM_MIGRATE_BY_ID, 1, NULL),
		  ENOENT, "BY_ID of id 0");
	CHECK_ERR(kv_migrate(m, sid, 0, 17, tq, KVMEM_MIGRATE_BY_ID, 1, NULL),
		  EINVAL, "BY_ID, range past the end of the space");
	/* Metadata only, never contents: no mapping, no QUERY. */
	errno = 0;
	CHECK(kv_map(m, s.c.mmap_offset, ps) == NULL && errno == EINVAL,
	      "the manager cannot mmap the owner's space: %s", errname(errno));
	CHECK_ERR(kv_query(m, s.c.handle, 0, 1, NULL, NULL), ENOENT, "the "
		  "manager's QUERY of the owner's handle");
	no_event(m, 0, "the manager, after the failed calls");
	no_event(o, 0, "the owner, after the failed calls");

	/* The manager moves the owner's space to Q, then back with copies. */
	if (kv_migrate_sync(m, sid, 0, 16, tq, KVMEM_MIGRATE_BY_ID, &ev))
		kv_event_is(&ev, &(struct kv_evx){ .seq = 1, .id = 1,
			    .cookie = KV_ANY, .pages = 16, .copied = 16 * ps,
			    .reused = 0, .status = 0, .handle = sid },
			    "BY_ID to Q: the event, on the manager's file");
	no_event(o, MGR_QUIET_MS, "the owner's file");
	CHECK_EQ(kv_count_in(o, s.c.handle, 0, 16, (uint16_t)Q, false), 16,
		 "owner's QUERY: its 16 pages in pool%d", Q);
	CHECK_EQ(pat_check(s.map, 16 * ps, 31, 0), UINT64_MAX, "owner's data "
		 "intact (first bad offset)");
	if (CHECK(get_space(m, sid, &si, NULL) &&
		  get_client(m, si.client, &co, NULL, 0) &&
		  get_client(m, 0, &cm, NULL, 0), "LIST: owner and manager")) {
		CHECK_EQ(co.migrated + cm.migrated, 16 * ps, "bytes migrated "
			 "of the owner + of the manager");
		INFO("LIST_CLIENTS migrated: owner %llu, manager %llu",
		     U(co.migrated), U(cm.migrated));
	}
	if (kv_migrate_sync(m, sid, 0, 16, tp,
			    KVMEM_MIGRATE_BY_ID | KVMEM_MIGRATE_KEEP_COPY, &ev))
		kv_event_is(&ev, &(struct kv_evx){ .seq = 2, .id = 2,
			    .cookie = KV_ANY, .pages = 16, .copied = 16 * ps,
			    .reused = 0, .status = 0, .handle = sid },
			    "BY_ID | KEEP_COPY back to P");
	CHECK_EQ(kv_count_in(o, s.c.handle, 0, 16, (uint16_t)P, false), 16,
		 "owner's QUERY: pages in pool%d", P);
	CHECK_EQ(kv_count_in(o, s.c.handle, 0, 16, (uint16_t)Q, true), 16,
		 "owner's QUERY: clean copies in pool%d", Q);

	/* The manager's file is released while its requests run: 128 pages
	 * to Q, back to P, to Q again. */
	for (int i = 0; i < 3; i++)
		CHECK_ERR(kv_migrate(m, space_id(&big.c), 0, 128,
				     i & 1 ? tp : tq, KVMEM_MIGRATE_BY_ID, 7,
				     NULL), 0, "BY_ID: 128 pages to %s",
			  tier_name(i & 1 ? tp : tq));
	inq = kv_count_in(o, big.c.handle, 0, 128, (uint16_t)Q, false);
	t0 = now_ms();
	close(m);
	m = -1;
	INFO("close of the manager's file took %.0f ms (pages in Q before: "
	     "%llu)", now_ms() - t0, U(inq));
	inq = kv_count_in(o, big.c.handle, 0, 128, (uint16_t)Q, false);
	CHECK(inq == 0 || inq == 128, "the 128 pages all in Q or all in P "
	      "(each request done or undone): %llu in Q", U(inq));
	CHECK_EQ(kv_resident(o, big.c.handle, 0, 128), 128, "128 resident");
	CHECK_EQ(kv_count_in(o, big.c.handle, 0, 128, KVMEM_POOL_NONE, true),
		 128, "no clean copy of them");
	CHECK_EQ(pat_check(big.map, 128 * ps, 32, 0), UINT64_MAX, "their "
		 "data intact (first bad offset)");
	for (int p = 0; p < e.npools; p++) {
		used = frames_in(o, &s.c, p) + frames_in(o, &big.c, p);
		CHECK_EQ(pool_u64(p, "frames_used"), used, "pool%d frames used "
			 "= pages and copies of the owner's spaces", p);
	}
	no_event(o, 0, "the owner's file, at the end");
	CHECK_ERR(become_manager(n), 0, "another file becomes the manager "
		  "once the first is released");
out:
	if (m >= 0)
		close(m);
	kv_space_free(&big);
	kv_space_free(&s);
	if (n >= 0)
		close(n);
	close(o);
	snap_back(&s0, 5000, "after the test");
}

/* --------------------------------------------------- manager_events */

/* Child of events_client(): creates, destroys, exits (see below). */
static void events_child(const struct kv_pipes *pp, uint32_t tier,
			 uint64_t ps)
{
	struct kvmem_space_create c;
	int fd = open(KV_DEV, O_RDWR | O_CLOEXEC);
	char go;

	if (fd < 0 || !new_space(fd, &c, 3 * ps, tier, KVMEM_POLICY_FAIL, 0,
				 5, 1) ||
	    write(pp->c2p[1], &c.mmap_offset, 8) != 8 ||
	    !pipe_recv(pp->p2c[0], &go, 30000) || kv_destroy(fd, c.handle) ||
	    !new_space(fd, &c, 2 * ps, tier, KVMEM_POLICY_FAIL, 0, 6, 1) ||
	    write(pp->c2p[1], &c.mmap_offset, 8) != 8 ||
	    !pipe_recv(pp->p2c[0], &go, 30000))
		_exit(1);
	/* A client that is not the manager hears nothing of all this. */
	_exit(kv_event_ready(fd, 0) ? 2 : 0);
}

/*
 * Another process's client: creates space S1 (tenant 5, 3 pages), destroys
 * it, creates S2 (tenant 6, 2 pages) and exits with S2 alive. The manager
 * hears of each, then of S2's end and of the client's exit.
 */
static void events_client(struct mq *q, const struct kv_env *e)
{
	struct kvmem_space_info si;
	struct kvmem_client_info ci;
	uint64_t off1 = 0, off2 = 0;
	uint32_t s1, s2, cid = 0;
	struct kv_pipes pp;
	pid_t pid;

	if (!pipes_open(&pp))
		return;
	pid = xfork();
	if (pid == 0)
		events_child(&pp, e->pool[e->P].tier, e->ps);
	close(pp.c2p[1]);
	pp.c2p[1] = -1;
	if (!CHECK(pid > 0 && read(pp.c2p[0], &off1, 8) == 8, "child: S1"))
		goto out;
	s1 = (uint32_t)(off1 >> KVMEM_SPACE_SHIFT);
	if (CHECK(get_space(q->fd, s1, &si, NULL) &&
		  get_client(q->fd, si.client, &ci, NULL, 0) &&
		  ci.pid == (uint32_t)pid, "LIST: S1 %u, its client's pid is "
		  "the child's", s1))
		cid = si.client;
	space_ev(q, KVMEM_EVENT_SPACE_CREATED, s1, cid, 5, 3, 0, "S1 created");
	pipe_send(pp.p2c[1], 'd');
	if (!CHECK(read(pp.c2p[0], &off2, 8) == 8, "child: S2"))
		goto out;
	s2 = (uint32_t)(off2 >> KVMEM_SPACE_SHIFT);
	space_ev(q, KVMEM_EVENT_SPACE_DESTROYED, s1, cid, 5, 3, 0,
		 "S1 destroyed");
	space_ev(q, KVMEM_EVENT_SPACE_CREATED, s2, cid, 6, 2, 0, "S2 created");
	pipe_send(pp.p2c[1], 'x');
	child_done(pid, 20000, "the child client (exit 2: it got an event)");
	space_ev(q, KVMEM_EVENT_SPACE_DESTROYED, s2, cid, 6, 2, 0,
		 "S2 destroyed by the release of its client");
	mev_next(q, &(struct mev){ KVMEM_EVENT_CLIENT_EXIT, cid, KV_ANY,
		 (uint64_t)pid, KV_ANY, 0 }, "client exit: id, cookie = pid");
	CHECK(!get_client(q->fd, cid, &ci, NULL, 0), "LIST_CLIENTS no longer "
	      "shows client %u", cid);
	pid = 0;
out:
	if (pid > 0)
		xwait_timeout(pid, 1000);
	pipes_close(&pp);
}

/*
 * With pool P cut to 4 frames, all held by a hog space: a WAIT populate
 * and a WAIT fault of space W (tenant 2) each wait, and time out; each
 * wait is one FAULT_WAIT event (status: the tier waited for).
 */
static void events_fault_wait(struct mq *q, const struct kv_env *e, int n,
			      uint32_t nid, struct kv_reserves *r)
{
	const uint32_t tp = e->pool[e->P].tier;
	struct kvmem_space_create hog, w;
	uint8_t *map;

	if (!reserve_set(r, e->P, 4) ||
	    !CHECK_ERR(kv_create(n, 4 * e->ps, tp, KVMEM_POLICY_FAIL, 0, &hog),
		       0, "SPACE_CREATE the hog"))
		return;
	space_ev(q, KVMEM_EVENT_SPACE_CREATED, space_id(&hog), nid, 0, 4, 0,
		 "hog created");
	CHECK_ERR(kv_populate(n, hog.handle, 0, 4, NULL), 0, "the hog takes "
		  "all 4 frames");
	if (!new_space(n, &w, 2 * e->ps, tp, KVMEM_POLICY_WAIT, 200, 2, 0))
		goto hog;
	space_ev(q, KVMEM_EVENT_SPACE_CREATED, space_id(&w), nid, 2, 2, 0,
		 "W created");
	CHECK_ERR(kv_populate(n, w.handle, 0, 1, NULL), ETIMEDOUT,
		  "POPULATE of WAIT space W, pool empty");
	space_ev(q, KVMEM_EVENT_FAULT_WAIT, space_id(&w), nid, 2, 2, (int)tp,
		 "the populate waited");
	no_event(q->fd, MGR_QUIET_MS, "one event per wait");
	map = kv_map(n, w.mmap_offset, 2 * e->ps);
	if (CHECK(map != NULL, "mmap W")) {
		CHECK_EQ(probe_write(map + e->ps, 1), SIGBUS, "a write to W's "
			 "page 1 waits, then SIGBUS");
		munmap(map, 2 * e->ps);
		space_ev(q, KVMEM_EVENT_FAULT_WAIT, space_id(&w), nid, 2, 2,
			 (int)tp, "the fault waited");
		no_event(q->fd, MGR_QUIET_MS, "one event per wait");
	}
	CHECK_ERR(kv_destroy(n, w.handle), 0, "DESTROY W");
	space_ev(q, KVMEM_EVENT_SPACE_DESTROYED, space_id(&w), nid, 2, 2, 0,
		 "W destroyed");
hog:
	CHECK_ERR(kv_destroy(n, hog.handle), 0, "DESTROY the hog");
	space_ev(q, KVMEM_EVENT_SPACE_DESTROYED, space_id(&hog), nid, 0, 4, 0,
		 "hog destroyed");
}

/* Write pools/pool<p>/low_watermark; the errno. */
static int set_low(int p, const char *val)
{
	char path[128];

	snprintf(path, sizeof(path), KV_SYSFS "/pools/pool%d/low_watermark",
		 p);
	return sysfs_write(path, val);
}

/* POPULATE (pop) or RELEASE pages first..first+count-1 of space h, which
 * leaves `left` frames free in pool p; then the manager's next event must
 * be POOL_LOW with that count (low_ev), or there must be none. */
static void low_step(struct mq *q, int n, uint32_t h, bool pop,
		     uint64_t first, uint64_t count, int p, uint64_t left,
		     uint64_t wm, bool low_ev)
{
	char what[128];
	int err = pop ? kv_populate(n, h, first, count, NULL) :
		  kv_release(n, h, first, count, NULL);

	snprintf(what, sizeof(what), "%s pages %llu..%llu (pool%d: %llu free, "
		 "low_watermark %llu)", pop ? "POPULATE" : "RELEASE", U(first),
		 U(first + count - 1), p, U(left), U(wm));
	CHECK_ERR(err, 0, "%s", what);
	CHECK_EQ(pool_free(p), left, "%s: frames_free", what);
	if (low_ev)
		mev_next(q, &(struct mev){ KVMEM_EVENT_POOL_LOW, (uint64_t)p,
			 KV_ANY, wm, left, 0 }, what);
	else
		no_event(q->fd, 0, what);
}

/*
 * Pool Q (pool1 in the test VM: an id that is not 0) cut to 8 frames,
 * space L of 8 pages: POOL_LOW when the free frames drop below the
 * watermark, once until they are back at it or the tunable is written;
 * never with watermark 0.
 */
static void events_pool_low(struct mq *q, const struct kv_env *e, int n,
			    uint32_t nid, struct kv_reserves *r)
{
	const int lp = e->Q;
	struct kvmem_space_create c;
	uint64_t wm0 = pool_u64(lp, "low_watermark");
	char old[32];
	uint32_t h;

	if (!CHECK(wm0 != UINT64_MAX, "read pool%d/low_watermark", lp) ||
	    !reserve_set(r, lp, 8) ||
	    !CHECK_ERR(kv_create(n, 8 * e->ps, e->pool[lp].tier,
				 KVMEM_POLICY_FAIL, 0, &c), 0,
		       "SPACE_CREATE L, 8 pages"))
		return;
	h = c.handle;
	space_ev(q, KVMEM_EVENT_SPACE_CREATED, space_id(&c), nid, 0, 8, 0,
		 "L created");
	CHECK_ERR(set_low(lp, "3"), 0, "pool%d low_watermark <- 3", lp);
	low_step(q, n, h, true, 0, 5, lp, 3, 3, false);
	low_step(q, n, h, true, 5, 1, lp, 2, 3, true);
	low_step(q, n, h, true, 6, 1, lp, 1, 3, false);
	low_step(q, n, h, false, 6, 1, lp, 2, 3, false);
	low_step(q, n, h, true, 6, 1, lp, 1, 3, false);
	INFO("back at the watermark: re-armed");
	low_step(q, n, h, false, 5, 2, lp, 3, 3, false);
	low_step(q, n, h, true, 5, 1, lp, 2, 3, true);
	CHECK_ERR(set_low(lp, "3"), 0, "pool%d low_watermark <- 3 again (2 "
		  "free): re-armed", lp);
	no_event(q->fd, 0, "the write itself");
	low_step(q, n, h, true, 6, 1, lp, 1, 3, true);
	CHECK_ERR(set_low(lp, "0"), 0, "pool%d low_watermark <- 0", lp);
	low_step(q, n, h, false, 0, 8, lp, 8, 0, false);
	low_step(q, n, h, true, 0, 8, lp, 0, 0, false);
	CHECK_ERR(kv_destroy(n, h), 0, "DESTROY L");
	space_ev(q, KVMEM_EVENT_SPACE_DESTROYED, space_id(&c), nid, 0, 8, 0,
		 "L destroyed");
	snprintf(old, sizeof(old), "%llu", U(wm0));
	CHECK_ERR(set_low(lp, old), 0, "put pool%d low_watermark back to %s",
		  lp, old);
}

void test_manager_events(void)
{
	struct kvmem_space_create c;
	struct kvmem_space_info si;
	struct kv_reserves r = { 0 };
	struct mq q = { -1, 0 };
	struct kv_snap s0;
	struct kv_env e;
	uint32_t nid;
	int n;

	snap_take(&s0);
	if (!kv_setup(&n, &e, true))
		return;
	q.fd = mgr_open();
	if (q.fd < 0)
		goto out;
	/* The client id of file n, from a space of its own. */
	if (!CHECK_ERR(kv_create(n, e.ps, e.pool[e.P].tier, KVMEM_POLICY_FAIL,
				 0, &c), 0, "SPACE_CREATE on the other file") ||
	    !CHECK(get_space(q.fd, space_id(&c), &si, NULL), "LIST it"))
		goto out;
	nid = si.client;
	space_ev(&q, KVMEM_EVENT_SPACE_CREATED, space_id(&c), nid, 0, 1, 0,
		 "a space of the other file created");
	CHECK_ERR(kv_destroy(n, c.handle), 0, "DESTROY it");
	space_ev(&q, KVMEM_EVENT_SPACE_DESTROYED, space_id(&c), nid, 0, 1, 0,
		 "... destroyed");

	events_client(&q, &e);
	no_event(q.fd, MGR_QUIET_MS, "the manager, after the client's exit");
	events_fault_wait(&q, &e, n, nid, &r);
	events_pool_low(&q, &e, n, nid, &r);
	no_event(q.fd, MGR_QUIET_MS, "the manager, at the end");
	no_event(n, 0, "the file that is not the manager, at the end");
out:
	reserve_undo(&r);
	if (q.fd >= 0)
		close(q.fd);
	close(n);
	snap_back(&s0, 5000, "after the test");
}

/* ------------------------------------------------------- neg_manager */

/* tenants/<t>: weight w, quotas q[tier] (~0: "max"). */
static bool tenant_is(uint32_t t, uint32_t w, const uint64_t q[KVMEM_NR_TIERS],
		      const char *what)
{
	static const char *const qa[] = { "quota_hbm", "quota_dram",
					  "quota_cxl" };
	char got[128] = "", exp[128] = "", buf[32];

	tenant_read(t, "weight", buf, sizeof(buf));
	snprintf(got, sizeof(got), "weight %s", buf);
	snprintf(exp, sizeof(exp), "weight %u", w);
	for (int i = 0; i < KVMEM_NR_TIERS; i++) {
		tenant_read(t, qa[i], buf, sizeof(buf));
		snprintf(got + strlen(got), sizeof(got) - strlen(got),
			 " %s %s", qa[i], buf);
		if (q[i] == ~0ULL)
			snprintf(buf, sizeof(buf), "max");
		else
			snprintf(buf, sizeof(buf), "%llu", U(q[i]));
		snprintf(exp + strlen(exp), sizeof(exp) - strlen(exp),
			 " %s %s", qa[i], buf);
	}
	return same(got, exp, sizeof(got), got, exp, what);
}

/* MANAGER with one bad field, from file x while no file is the manager. */
static void neg_become(int x)
{
	const struct {
		const char *what;
		struct kvmem_manager arg;
	} cs[] = {
		{ "flags 1", { .flags = 1 } },
		{ "flags 1<<31", { .flags = 1u << 31 } },
		{ "pad 1", { .pad = 1 } },
		{ "reserved[0] 1", { .reserved = { 1, 0 } } },
		{ "reserved[1] 1<<63", { .reserved = { 0, 1ULL << 63 } } },
	};
	struct kvmem_client_info ci;
	struct kvmem_list l;

	for (size_t i = 0; i < NELEM(cs); i++) {
		struct kvmem_manager arg = cs[i].arg;

		neg_ioctl(x, KVMEM_IOC_MANAGER, &arg, EINVAL, "MANAGER %s",
			  cs[i].what);
		CHECK_ERR(list(x, KVMEM_IOC_LIST_CLIENTS, &l, 0, 1, &ci, NULL),
			  EPERM, "... the file did not become the manager");
	}
}

/* One call of a table of argument checks: field f set to a (and b), the
 * errno expected. */
struct ncase { int f, exp; uint64_t a, b; const char *what; };

enum { L_OK, L_MAXALL, L_COUNT, L_FLAGS, L_PAD, L_RES, L_MAX, L_ENT,
       L_POOLS };

/* LIST_SPACES and LIST_CLIENTS with one bad field each, from manager m. */
static void neg_lists(int m, uint8_t *ro)
{
	static uint8_t ent[KVMEM_LIST_MAX * sizeof(struct kvmem_space_info)];
	static uint64_t pools[KVMEM_LIST_MAX * 2 * KV_MAX_POOLS];
	const struct ncase cs[] = {
		{ L_OK, 0, 0, 0, "valid" },
		{ L_MAXALL, 0, 0, 0, "max KVMEM_LIST_MAX (valid)" },
		{ L_COUNT, 0, 7, 0, "count 7 on input (valid: out only)" },
		{ L_FLAGS, EINVAL, 1, 0, "flags 1" },
		{ L_FLAGS, EINVAL, 1u << 31, 0, "flags 1<<31" },
		{ L_PAD, EINVAL, 1, 0, "pad 1" },
		{ L_RES, EINVAL, 0, 1, "reserved[0] 1" },
		{ L_RES, EINVAL, 1, 1ULL << 63, "reserved[1] 1<<63" },
		{ L_MAX, EINVAL, 0, 0, "max 0" },
		{ L_MAX, EINVAL, KVMEM_LIST_MAX + 1, 0,
		  "max KVMEM_LIST_MAX + 1" },
		{ L_MAX, EINVAL, 0xffffffffu, 0, "max 0xffffffff" },
		{ L_ENT, EINVAL, 0, 0, "entries 0" },
		{ L_ENT, EFAULT, 1, 0, "entries in a read-only page" },
		{ L_ENT, EFAULT, 16, 0, "entries at address 16" },
		{ L_POOLS, EFAULT, 1, 0, "pools in a read-only page" },
	};
	const struct {
		const char *name;
		unsigned long cmd;
	} cmd[] = {
		{ "LIST_SPACES", KVMEM_IOC_LIST_SPACES },
		{ "LIST_CLIENTS", KVMEM_IOC_LIST_CLIENTS },
	};

	for (size_t k = 0; k < NELEM(cmd); k++) {
		for (size_t i = 0; i < NELEM(cs); i++) {
			struct kvmem_list l = {
				.max = 1, .entries = (uintptr_t)ent,
				.pools = (uintptr_t)pools,
				.npools = KV_MAX_POOLS,
			};
			uint64_t a = cs[i].a;

			switch (cs[i].f) {
			case L_MAXALL: l.max = KVMEM_LIST_MAX; break;
			case L_COUNT: l.count = (uint32_t)a; break;
			case L_FLAGS: l.flags = (uint32_t)a; break;
			case L_PAD: l.pad = (uint32_t)a; break;
			case L_RES: l.reserved[a] = cs[i].b; break;
			case L_MAX: l.max = (uint32_t)a; break;
			case L_ENT: l.entries = a == 1 ? (uintptr_t)ro : a;
				break;
			case L_POOLS: l.pools = (uintptr_t)ro; break;
			}
			neg_ioctl(m, cmd[k].cmd, &l, cs[i].exp, "%s %s",
				  cmd[k].name, cs[i].what);
			if (!cs[i].exp)
				CHECK(l.count >= 1, "%s %s: reports %u (at "
				      "least one)", cmd[k].name, cs[i].what,
				      l.count);
		}
	}
}

enum { T_FLAGS, T_PAD, T_RES, T_TENANT, T_WEIGHT };

/* TENANT_SET of tenant t with one bad field each, from manager m; the
 * tenant's settings (weight 5, quotas 100 200 300) must stay. */
static void neg_tenant_set(int m, uint32_t t, uint32_t ntenants)
{
	const uint64_t q[KVMEM_NR_TIERS] = { 100, 200, 300 };
	const struct ncase cs[] = {
		{ T_FLAGS, EINVAL, 0, 0, "flags 0" },
		{ T_FLAGS, EINVAL, KVMEM_TENANT_SET_WEIGHT | 4, 0,
		  "flags WEIGHT | 1<<2 (unknown bit)" },
		{ T_FLAGS, EINVAL, 1u << 31, 0, "flags 1<<31" },
		{ T_PAD, EINVAL, 1, 0, "pad 1" },
		{ T_RES, EINVAL, 0, 1, "reserved[0] 1" },
		{ T_RES, EINVAL, 1, 1ULL << 63, "reserved[1] 1<<63" },
		{ T_TENANT, EINVAL, ntenants, 0, "tenant = ntenants" },
		{ T_TENANT, EINVAL, 0xffffffffu, 0, "tenant 0xffffffff" },
		{ T_WEIGHT, EINVAL, 0, 0, "weight 0" },
		{ T_WEIGHT, EINVAL, 10001, 0, "weight 10001" },
		{ T_WEIGHT, EINVAL, 0xffffffffu, 0, "weight 0xffffffff" },
	};

	for (size_t i = 0; i < NELEM(cs); i++) {
		struct kvmem_tenant_set ts = {
			.tenant = t, .weight = 77, .quota = { 1, 2, 3 },
			.flags = KVMEM_TENANT_SET_WEIGHT |
				 KVMEM_TENANT_SET_QUOTA,
		};
		uint64_t a = cs[i].a;

		switch (cs[i].f) {
		case T_FLAGS: ts.flags = (uint32_t)a; break;
		case T_PAD: ts.pad = (uint32_t)a; break;
		case T_RES: ts.reserved[a] = cs[i].b; break;
		case T_TENANT: ts.tenant = (uint32_t)a; break;
		case T_WEIGHT: ts.weight = (uint32_t)a; break;
		}
		neg_ioctl(m, KVMEM_IOC_TENANT_SET, &ts, cs[i].exp,
			  "TENANT_SET %s", cs[i].what);
		tenant_is(t, 5, q, "... the tenant's settings stay");
	}
}

/* TENANT_SET that must work, and what sysfs then shows of tenant t. */
static void tenant_set_ok(int m, uint32_t t, uint32_t flags, uint32_t w,
			  uint64_t q0, uint64_t q1, uint64_t q2, uint32_t sw,
			  const uint64_t sq[KVMEM_NR_TIERS], const char *what)
{
	struct kvmem_tenant_set ts = {
		.tenant = t, .flags = flags, .weight = w, .quota = { q0, q1, q2 },
	};

	CHECK_ERR(kv_ioctl(m, KVMEM_IOC_TENANT_SET, &ts), 0, "TENANT_SET %s",
		  what);
	tenant_is(t, sw, sq, "... sysfs");
}

/* low_watermark writes that are no number fail; nothing changes. */
static void neg_low_watermark(int p)
{
	static const char *const bad[] = { "abc", "12abc", "-1", "0x", " " };
	uint64_t wm = pool_u64(p, "low_watermark");
	char old[32];

	CHECK_ERR(set_low(p, "7\n"), 0, "pool%d low_watermark <- '7\\n'", p);
	CHECK_EQ(pool_u64(p, "low_watermark"), 7, "... reads 7");
	for (size_t i = 0; i < NELEM(bad); i++) {
		CHECK_ERR(set_low(p, bad[i]), EINVAL, "pool%d low_watermark <- "
			  "'%s'", p, bad[i]);
		CHECK_EQ(pool_u64(p, "low_watermark"), 7, "... unchanged");
	}
	snprintf(old, sizeof(old), "%llu", U(wm));
	CHECK_ERR(set_low(p, old), 0, "put it back to %s", old);
}

/* Valid LIST_SPACES, LIST_CLIENTS and TENANT_SET from a file that is
 * not the manager: EPERM, and tenant 1 keeps its defaults. */
static void not_manager(int fd, const char *when)
{
	static const uint64_t max3[KVMEM_NR_TIERS] = { ~0ULL, ~0ULL, ~0ULL };
	static const unsigned long cmd[] = { KVMEM_IOC_LIST_SPACES,
					     KVMEM_IOC_LIST_CLIENTS };
	struct kvmem_tenant_set ts = {
		.tenant = 1, .flags = KVMEM_TENANT_SET_WEIGHT, .weight = 2,
	};
	struct kvmem_space_info si;

	for (size_t i = 0; i < NELEM(cmd); i++) {
		struct kvmem_list l = { .max = 1, .entries = (uintptr_t)&si };

		neg_ioctl(fd, cmd[i], &l, EPERM, "LIST_%s from a file that is "
			  "not the manager (%s)", i ? "CLIENTS" : "SPACES",
			  when);
	}
	neg_ioctl(fd, KVMEM_IOC_TENANT_SET, &ts, EPERM, "TENANT_SET from a "
		  "file that is not the manager (%s)", when);
	tenant_is(1, 1, max3, "... tenant 1 unchanged");
}

void test_neg_manager(void)
{
	const uint64_t max3[KVMEM_NR_TIERS] = { ~0ULL, ~0ULL, ~0ULL };
	const uint64_t q123[KVMEM_NR_TIERS] = { 100, 200, 300 };
	const uint64_t q0[KVMEM_NR_TIERS] = { 0, 5, ~0ULL };
	const uint32_t W = KVMEM_TENANT_SET_WEIGHT, Qf = KVMEM_TENANT_SET_QUOTA;
	struct kvmem_space_info si;
	struct kvmem_space_create c;
	struct kvmem_list l;
	struct kv_snap s0;
	struct kv_env e;
	uint32_t t;
	uint8_t *ro;
	int x, n;

	snap_take(&s0);
	if (!kv_setup(&x, &e, false))
		return;
	t = e.info.ntenants - 1;
	n = kv_open();
	ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (n < 0 || !CHECK(ro != MAP_FAILED, "mmap a read-only page") ||
	    !CHECK_ERR(kv_create(n, e.ps, e.pool[e.P].tier, KVMEM_POLICY_FAIL,
				 0, &c), 0, "a space, for LIST_SPACES to show"))
		goto out;

	not_manager(x, "no file is the manager");
	neg_become(x);
	if (!CHECK_ERR(become_manager(x), 0, "MANAGER, valid"))
		goto out;
	not_manager(n, "another file is the manager");

	neg_lists(x, ro);

	tenant_set_ok(x, t, W | Qf, 5, 100, 200, 300, 5, q123, "tenant "
		      "ntenants-1, weight 5, quotas 100 200 300");
	neg_tenant_set(x, t, e.info.ntenants);
	tenant_set_ok(x, t, W, 10000, 1, 2, 3, 10000, q123, "WEIGHT 10000 "
		      "(quotas given, not flagged: ignored)");
	tenant_set_ok(x, t, Qf, 0, 0, 5, ~0ULL, 10000, q0, "QUOTA 0 5 ~0 "
		      "(weight 0, not flagged: ignored)");
	tenant_set_ok(x, t, W | Qf, 1, ~0ULL, ~0ULL, ~0ULL, 1, max3, "back to "
		      "weight 1, no quotas");
	CHECK_ERR(list(x, KVMEM_IOC_LIST_SPACES, &l, 0, 1, &si, NULL), 0,
		  "the manager still lists");

	neg_low_watermark(e.P);
out:
	if (ro != MAP_FAILED)
		munmap(ro, 4096);
	if (n >= 0)
		close(n);
	close(x);
	snap_back(&s0, 5000, "after the test");
}
