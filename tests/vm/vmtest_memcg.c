// SPDX-License-Identifier: GPL-2.0
/*
 * Pinned memory that container limits see (issue 11, finding 4).
 *
 * memcg_orphans: a frame that is still referenced elsewhere when it is
 * RELEASEd (here: vmspliced into a pipe) stays in its pool as an orphan,
 * counted in pools/pool<N>/frames_orphaned, and is not replaced: the loop
 * "fault, vmsplice, RELEASE" stops with ENOMEM once the pool's frames are
 * all orphans, instead of pinning unbounded memory. Closing the pipes
 * gives the frames back to the pool.
 *
 * memcg_charge: a client opened from a memory cgroup other than the root
 * gets frames charged to that cgroup (memory.current sees them), and the
 * same loop stops with ENOMEM at the cgroup's memory.max; orphans stay
 * charged until the pipe lets go of them.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmtest.h"

#define CG_ROOT		"/sys/fs/cgroup"
#define CG_DIR		CG_ROOT "/kvmem-memcg"
#define PIPE_BYTES	(1024 * 1024)
#define MAX_PIPES	256

/* Pipes that hold the vmspliced pages, each up to PIPE_BYTES. */
struct pins {
	int fd[MAX_PIPES][2];
	uint64_t used[MAX_PIPES];
	int n;
};

static void pins_close(struct pins *p)
{
	for (int i = 0; i < p->n; i++) {
		close(p->fd[i][0]);
		close(p->fd[i][1]);
	}
	p->n = 0;
}

/* vmsplice len bytes at addr into a pipe with room; 0 or errno. */
static int pins_add(struct pins *p, void *addr, uint64_t len)
{
	struct iovec iov = { .iov_base = addr, .iov_len = len };
	int i = p->n - 1;
	ssize_t got;

	if (i < 0 || p->used[i] + len > PIPE_BYTES) {
		if (p->n == MAX_PIPES)
			return EMFILE;
		i = p->n;
		if (pipe(p->fd[i]))
			return errno;
		p->n++;
		p->used[i] = 0;
		if (fcntl(p->fd[i][1], F_SETPIPE_SZ, PIPE_BYTES) < PIPE_BYTES)
			return errno ? errno : ENOSPC;
	}
	got = vmsplice(p->fd[i][1], &iov, 1, SPLICE_F_NONBLOCK);
	if (got < 0)
		return errno;
	if ((uint64_t)got != len)
		return EAGAIN;
	p->used[i] += len;
	return 0;
}

/*
 * Rounds of: POPULATE page 0, write it, vmsplice it into a pipe, RELEASE
 * it, at most max times. Returns the rounds that completed; *err gets
 * the errno that stopped it (0 if all ran).
 */
static uint64_t orphan_loop(struct kv_space *s, struct pins *p, uint64_t ps,
			    uint64_t max, int *err)
{
	uint64_t r, done;

	*err = 0;
	for (r = 0; r < max; r++) {
		*err = kv_populate(s->fd, s->c.handle, 0, 1, &done);
		if (*err)
			break;
		memset(s->map, (int)(r + 1), ps);
		*err = pins_add(p, s->map, ps);
		if (*err) {
			INFO("vmsplice in round %llu: %s", U(r), errname(*err));
			break;
		}
		*err = kv_release(s->fd, s->c.handle, 0, 1, &done);
		if (*err)
			break;
	}
	return r;
}

void test_memcg_orphans(void)
{
	struct kv_reserves rs = { 0 };
	static struct pins p;
	struct kv_space s = { 0 };
	struct kv_env e;
	uint64_t k = 16, r, orph;
	int fd, err;

	if (!kv_setup(&fd, &e, false))
		return;
	if (!reserve_set(&rs, e.P, k))
		goto out;
	if (!kv_space_fail(&s, fd, &e, 4))
		goto out;
	r = orphan_loop(&s, &p, e.ps, 4 * k, &err);
	INFO("%llu rounds of fault, vmsplice, RELEASE with a %llu-frame pool",
	     U(r), U(k));
	CHECK_ERR(err, ENOMEM, "the loop stops once the pool's frames are "
		  "all orphans (POPULATE ENOMEM), not after %llu rounds", U(r));
	CHECK(r <= k, "at most the pool's %llu frames pinned, %llu were",
	      U(k), U(r));
	orph = pool_u64(e.P, "frames_orphaned");
	CHECK_EQ(orph, r, "pool%d frames_orphaned counts every orphan", e.P);
	CHECK_EQ(pool_u64(e.P, "frames_total"), k,
		 "no frame replaced the orphans (frames_total)");
	/* What the pipe holds is what was written. */
	if (p.n) {
		uint8_t b = 0;
		ssize_t got = read(p.fd[0][0], &b, 1);

		CHECK(got == 1 && b == 1,
		      "the pipe reads the first round's data (%u)", b);
	}
	pins_close(&p);
	kv_space_free(&s);
	for (int i = 0; i < 300 && pool_free(e.P) != k; i++)
		sleep_ms(10);
	CHECK_EQ(pool_free(e.P), k, "the orphans are free frames again once "
		 "the pipes are closed");
	CHECK_EQ(pool_u64(e.P, "frames_orphaned"), 0, "frames_orphaned back "
		 "to 0");
out:
	pins_close(&p);
	kv_space_free(&s);
	reserve_undo(&rs);
	close(fd);
}

/* memory.current of the test cgroup, or UINT64_MAX. */
static uint64_t cg_current(void)
{
	return sysfs_u64(CG_DIR "/memory.current");
}

/* A cgroup v2 with the memory controller at CG_DIR; errno. */
static int cg_setup(uint64_t max)
{
	char v[32];

	if (access(CG_ROOT "/cgroup.controllers", F_OK) &&
	    mount("cgroup2", CG_ROOT, "cgroup2", 0, NULL))
		return errno;
	if (sysfs_write(CG_ROOT "/cgroup.subtree_control", "+memory"))
		return errno ? errno : EIO;
	if (mkdir(CG_DIR, 0755) && errno != EEXIST)
		return errno;
	snprintf(v, sizeof(v), "%llu", U(max));
	return sysfs_write(CG_DIR "/memory.max", v);
}

static void cg_remove(void)
{
	for (int i = 0; i < 200 && rmdir(CG_DIR) && errno == EBUSY; i++)
		sleep_ms(10);
}

/* The child in the cgroup: the checks of memcg_charge. */
static void charge_child(uint64_t max)
{
	static struct pins p;
	struct kv_space s = { 0 };
	struct kvmem_info info;
	struct kv_env e;
	uint64_t n = 64, c0, c1, c2, free0, r, done;
	int fd, err;

	if (!kv_setup(&fd, &e, false))
		exit(1);
	CHECK_ERR(kv_info(fd, &info), 0, "GET_INFO");
	CHECK(info.features & KVMEM_FEATURE_MEMCG, "GET_INFO reports "
	      "KVMEM_FEATURE_MEMCG");
	if (!kv_space_fail(&s, fd, &e, 1024))
		exit(1);
	free0 = pool_free(e.P);
	c0 = cg_current();
	CHECK_ERR(kv_populate(fd, s.c.handle, 0, n, &done), 0,
		  "POPULATE %llu pages in the cgroup", U(n));
	c1 = cg_current();
	INFO("memory.current %llu -> %llu after %llu frames of %llu bytes",
	     U(c0), U(c1), U(n), U(e.ps));
	CHECK(c1 >= c0 + n * e.ps, "memory.current sees the %llu frames "
	      "(grew by %lld bytes)", U(n), (long long)(c1 - c0));
	CHECK_EQ(pool_free(e.P), free0, "the frames are not the pool's "
		 "reserve");
	CHECK_ERR(kv_release(fd, s.c.handle, 0, n, &done), 0, "RELEASE them");
	c2 = cg_current();
	CHECK(c2 + n * e.ps * 3 / 4 <= c1, "memory.current gives them back "
	      "(%llu -> %llu)", U(c1), U(c2));

	r = orphan_loop(&s, &p, e.ps, 2 * max / e.ps, &err);
	c1 = cg_current();
	INFO("%llu rounds of fault, vmsplice, RELEASE; memory.current %llu of "
	     "memory.max %llu", U(r), U(c1), U(max));
	CHECK_ERR(err, ENOMEM, "the loop stops at memory.max with ENOMEM");
	CHECK(r * e.ps <= max, "no more than memory.max pinned (%llu bytes)",
	      U(r * e.ps));
	CHECK(c1 >= max / 2 && r * e.ps >= max / 2, "the orphans stay charged "
	      "(%llu bytes current)", U(c1));
	pins_close(&p);
	c2 = cg_current();
	CHECK(c2 + r * e.ps * 3 / 4 <= c1, "closing the pipes uncharges the "
	      "orphans (%llu -> %llu)", U(c1), U(c2));
	kv_space_free(&s);
	close(fd);
	exit(vt_failures ? 1 : 0);
}

void test_memcg_charge(void)
{
	const uint64_t max = 16 * MiB;
	char v[32];
	pid_t pid;
	int err;

	err = cg_setup(max);
	if (!CHECK_ERR(err, 0, "cgroup v2 memory controller at %s", CG_DIR))
		goto out;
	pid = xfork();
	if (pid == 0) {
		snprintf(v, sizeof(v), "%d", (int)getpid());
		if (!CHECK_ERR(sysfs_write(CG_DIR "/cgroup.procs", v), 0,
			       "join %s", CG_DIR))
			exit(1);
		charge_child(max);
	}
	child_done(pid, 60000, "the client in the memory cgroup");
out:
	cg_remove();
}
