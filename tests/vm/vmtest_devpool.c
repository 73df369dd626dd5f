// SPDX-License-Identifier: GPL-2.0
/*
 * kvmem-vmtest: device pools (DEVICE_POOL_ADD/REMOVE) and device spaces
 * (KVMEM_SPACE_DEVICE): registering, POOL_QUERY and sysfs, grants by
 * POPULATE/RELEASE/DESTROY/close/SIGKILL, FAIL and WAIT, tenant quotas,
 * fdinfo and the manager's lists, what device spaces refuse, permissions,
 * and each bad field. Every test removes the pools it adds.
 */
#include <grp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmtest.h"

#define DP_FS		(2 * MiB)	/* frame size of the test pools */
#define DP_DEVICE	0x4100		/* a PCI-like device id */
#define NOBODY		65534
#define KVMEM_MAX_POOLS_GUESS	64	/* the module's KVMEM_MAX_POOLS */

static int dp_add(int fd, uint64_t frames, uint32_t tier, uint32_t *index)
{
	struct kvmem_device_pool d = {
		.device = DP_DEVICE, .frame_size = DP_FS, .frames = frames,
		.tier = tier,
	};
	int err = kv_ioctl(fd, KVMEM_IOC_DEVICE_POOL_ADD, &d);

	*index = d.index;
	return err;
}

static int dp_remove(int fd, uint32_t index)
{
	struct kvmem_device_pool_remove r = { .index = index };

	return kv_ioctl(fd, KVMEM_IOC_DEVICE_POOL_REMOVE, &r);
}

static int dp_space(int fd, uint32_t pool, uint64_t frames, uint32_t policy,
		    uint32_t timeout_ms, uint32_t tenant,
		    struct kvmem_space_create *c)
{
	memset(c, 0, sizeof(*c));
	c->size = frames * DP_FS;
	c->tier = KVMEM_TIER_HBM;
	c->policy = policy;
	c->timeout_ms = timeout_ms;
	c->flags = KVMEM_SPACE_DEVICE;
	c->pool = pool;
	c->tenant = tenant;
	return kv_ioctl(fd, KVMEM_IOC_SPACE_CREATE, c);
}

/* ------------------------------------------------------ devpool_register */

void test_devpool_register(void)
{
	struct kvmem_pool_info pi;
	struct kvmem_info info, info2;
	char buf[64], path[160];
	uint32_t idx, idx2;
	int fd, fd2, n0;

	fd = kv_open();
	if (!CHECK(fd >= 0, "open"))
		return;
	CHECK_ERR(kv_info(fd, &info), 0, "GET_INFO");
	CHECK(info.features & KVMEM_FEATURE_DEVICE_POOLS,
	      "features 0x%llx has KVMEM_FEATURE_DEVICE_POOLS",
	      U(info.features));
	n0 = kv_sys_npools();
	CHECK_EQ(n0, info.npools, "sysfs pools = GET_INFO npools");
	for (int i = 0; i < n0; i++) {
		snprintf(path, sizeof(path), KV_SYSFS "/pools/pool%d/kind", i);
		CHECK(!sysfs_read(path, buf, sizeof(buf)) &&
		      !strcmp(buf, "node"), "pool%d kind is 'node'", i);
	}

	if (!CHECK_ERR(dp_add(fd, 100, KVMEM_TIER_HBM, &idx), 0, "ADD"))
		goto out;
	CHECK_EQ(idx, info.npools, "new pool's index follows the node pools");
	kv_info(fd, &info2);
	CHECK_EQ(info2.npools, info.npools + 1, "GET_INFO npools + 1");
	CHECK_EQ(kv_sys_npools(), n0 + 1, "sysfs pool directories + 1");

	CHECK_ERR(kv_pool_query(fd, idx, &pi), 0, "POOL_QUERY device pool");
	CHECK_EQ(pi.kind, KVMEM_POOL_KIND_DEVICE, "kind");
	CHECK_EQ((uint32_t)pi.node, (uint32_t)-1, "node -1");
	CHECK_EQ(pi.tier, KVMEM_TIER_HBM, "tier");
	CHECK_EQ(pi.page_size, DP_FS, "page_size = frame_size");
	CHECK_EQ(pi.frames_total, 100, "frames_total");
	CHECK_EQ(pi.frames_free, 100, "frames_free");
	CHECK_EQ(pi.device, DP_DEVICE, "device");
	CHECK_ERR(kv_pool_query(fd, 0, &pi), 0, "POOL_QUERY pool0");
	CHECK_EQ(pi.device, 0, "a node pool's device is 0");

	snprintf(path, sizeof(path), KV_SYSFS "/pools/pool%u/kind", idx);
	CHECK(!sysfs_read(path, buf, sizeof(buf)) && !strcmp(buf, "device"),
	      "sysfs kind 'device'");
	CHECK_EQ(pool_u64((int)idx, "device"), DP_DEVICE, "sysfs device");
	CHECK(!pool_tier_str((int)idx, buf, sizeof(buf)) &&
	      !strcmp(buf, "hbm"), "sysfs tier hbm");
	CHECK_EQ(pool_u64((int)idx, "page_size"), DP_FS, "sysfs page_size");
	CHECK_EQ(pool_u64((int)idx, "frames_total"), 100, "sysfs frames_total");
	CHECK_EQ(pool_u64((int)idx, "frames_free"), 100, "sysfs frames_free");
	CHECK_EQ(pool_u64((int)idx, "frames_used"), 0, "sysfs frames_used");
	snprintf(path, sizeof(path), KV_SYSFS "/pools/pool%u/reserve", idx);
	CHECK(access(path, F_OK) != 0, "no reserve file");
	snprintf(path, sizeof(path), KV_SYSFS "/pools/pool%u/tier", idx);
	CHECK(sysfs_write(path, "cxl") != 0, "tier is read-only");

	/* The pool outlives the file that registered it. */
	close(fd);
	fd = kv_open();
	CHECK_ERR(kv_pool_query(fd, idx, &pi), 0,
		  "POOL_QUERY after the registrar closed");

	/* A second pool, removed first: indices shrink back. */
	CHECK_ERR(dp_add(fd, 1, KVMEM_TIER_DRAM, &idx2), 0, "second ADD");
	CHECK_EQ(idx2, idx + 1, "second index");
	fd2 = kv_open();
	CHECK_ERR(dp_remove(fd2, idx), 0, "REMOVE the first (from another file)");
	CHECK_ERR(kv_pool_query(fd, idx, &pi), ENOENT, "POOL_QUERY removed: hole");
	CHECK_ERR(dp_remove(fd, idx), ENOENT, "REMOVE again");
	kv_info(fd, &info2);
	CHECK_EQ(info2.npools, info.npools + 2, "npools keeps the hole");
	CHECK_ERR(dp_add(fd, 5, KVMEM_TIER_HBM, &idx), 0, "ADD into the hole");
	CHECK_EQ(idx, info.npools, "the hole is reused");
	CHECK_ERR(kv_pool_query(fd, idx, &pi), 0, "POOL_QUERY reused");
	CHECK_EQ(pi.frames_total, 5, "reused: new frames_total");
	CHECK_ERR(dp_remove(fd, idx2), 0, "REMOVE the second");
	CHECK_ERR(dp_remove(fd, idx), 0, "REMOVE the reused");
	close(fd2);
	kv_info(fd, &info2);
	CHECK_EQ(info2.npools, info.npools, "npools back");
	CHECK_EQ(kv_sys_npools(), n0, "sysfs pool directories back");
out:
	close(fd);
}

/* -------------------------------------------------------- devpool_grants */

void test_devpool_grants(void)
{
	struct kvmem_residency res[4];
	struct kvmem_space_create c;
	struct kv_pipes pp;
	uint64_t done, resident, id;
	uint32_t idx;
	pid_t pid;
	char ch;
	void *p;
	int fd, fd2;

	fd = kv_open();
	if (!CHECK(fd >= 0, "open"))
		return;
	if (!CHECK_ERR(dp_add(fd, 8, KVMEM_TIER_HBM, &idx), 0, "ADD 8 frames")) {
		close(fd);
		return;
	}
	CHECK_ERR(dp_space(fd, idx, 4, KVMEM_POLICY_FAIL, 0, 0, &c), 0,
		  "SPACE_CREATE device space of 4 frames");
	CHECK_EQ(c.npages, 4, "npages");
	CHECK_EQ(c.page_size, DP_FS, "page_size");
	CHECK_EQ(pool_free((int)idx), 8, "nothing granted at create");

	CHECK_ERR(kv_populate(fd, c.handle, 0, 3, &done), 0, "POPULATE 0..2");
	CHECK_EQ(done, 3, "done");
	CHECK_EQ(pool_free((int)idx), 5, "3 frames granted");
	CHECK_ERR(kv_populate(fd, c.handle, 0, 3, &done), 0, "POPULATE again");
	CHECK_EQ(done, 0, "nothing more");
	CHECK_ERR(kv_query(fd, c.handle, 0, 4, res, &resident), 0, "QUERY");
	CHECK_EQ(resident, 3, "resident");
	CHECK_EQ(res[0].pool, idx, "page 0 in the device pool");
	CHECK_EQ(res[2].pool, idx, "page 2 in the device pool");
	CHECK_EQ(res[3].pool, KVMEM_POOL_NONE, "page 3 absent");
	CHECK_EQ(res[0].copy, KVMEM_POOL_NONE, "no copy");
	CHECK_ERR(kv_release(fd, c.handle, 1, 3, &done), 0, "RELEASE 1..3");
	CHECK_EQ(done, 2, "released 2");
	CHECK_EQ(pool_free((int)idx), 7, "2 frames back");

	/* Refused: mapping, migrating, removing the pool. */
	p = mmap(NULL, 4 * DP_FS, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		 (off_t)c.mmap_offset);
	CHECK(p == MAP_FAILED && errno == EINVAL, "mmap of a device space: EINVAL");
	if (p != MAP_FAILED)
		munmap(p, 4 * DP_FS);
	CHECK_ERR(kv_migrate(fd, c.handle, 0, 1, KVMEM_TIER_DRAM, 0, 0, &id),
		  EOPNOTSUPP, "MIGRATE of a device space");
	CHECK_ERR(dp_remove(fd, idx), EBUSY, "REMOVE with frames granted");

	/* FAIL: all or nothing. */
	{
		struct kvmem_space_create c2;

		CHECK_ERR(dp_space(fd, idx, 8, KVMEM_POLICY_FAIL, 0, 0, &c2),
			  0, "second space of 8 frames");
		CHECK_ERR(kv_populate(fd, c2.handle, 0, 8, &done), ENOMEM,
			  "POPULATE 8 with 7 free: ENOMEM");
		CHECK_EQ(pool_free((int)idx), 7, "all or nothing");
		CHECK_ERR(kv_populate(fd, c2.handle, 1, 7, &done), 0,
			  "POPULATE 7");
		CHECK_EQ(pool_free((int)idx), 0, "pool exhausted");
		CHECK_ERR(kv_populate(fd, c.handle, 1, 1, &done), ENOMEM,
			  "POPULATE of an exhausted pool: ENOMEM");
		CHECK_ERR(kv_destroy(fd, c2.handle), 0, "DESTROY");
		CHECK_EQ(pool_free((int)idx), 7, "DESTROY gives back");
	}
	CHECK_ERR(kv_destroy(fd, c.handle), 0, "DESTROY");
	CHECK_EQ(pool_free((int)idx), 8, "all back after DESTROY");
	CHECK_ERR(dp_remove(fd, idx), 0, "REMOVE: no space left");
	CHECK_ERR(dp_add(fd, 8, KVMEM_TIER_HBM, &idx), 0, "ADD again");

	/* close frees. */
	fd2 = kv_open();
	CHECK_ERR(dp_space(fd2, idx, 4, KVMEM_POLICY_FAIL, 0, 0, &c), 0,
		  "space in another file");
	CHECK_ERR(kv_populate(fd2, c.handle, 0, 4, &done), 0, "POPULATE 4");
	CHECK_ERR(dp_remove(fd, idx), EBUSY, "REMOVE while another file's "
		  "space holds frames");
	close(fd2);
	CHECK_EQ(pool_free((int)idx), 8, "all back after close");

	/* SIGKILL frees. */
	if (pipes_open(&pp)) {
		pid = xfork();
		if (pid == 0) {
			int cfd = kv_open();
			struct kvmem_space_create cc;

			if (cfd < 0 || dp_space(cfd, idx, 6, KVMEM_POLICY_FAIL,
						0, 0, &cc) ||
			    kv_populate(cfd, cc.handle, 0, 6, &done))
				_exit(1);
			pipe_send(pp.c2p[1], 'r');
			pause();
			_exit(0);
		}
		CHECK(pipe_recv(pp.c2p[0], &ch, 10000), "child populated");
		CHECK_EQ(pool_free((int)idx), 2, "the child holds 6");
		kill(pid, SIGKILL);
		xwait(pid);
		for (int i = 0; i < 200 && pool_free((int)idx) != 8; i++)
			sleep_ms(10);
		CHECK_EQ(pool_free((int)idx), 8, "all back after SIGKILL");
		pipes_close(&pp);
	}
	CHECK_ERR(dp_remove(fd, idx), 0, "REMOVE");
	close(fd);
}

/* ---------------------------------------------------------- devpool_wait */

void test_devpool_wait(void)
{
	struct kvmem_space_create c, w;
	struct kv_pipes pp;
	uint64_t done;
	uint32_t idx;
	double t0;
	pid_t pid;
	char ch;
	int fd;

	fd = kv_open();
	if (!CHECK(fd >= 0, "open"))
		return;
	if (!CHECK_ERR(dp_add(fd, 2, KVMEM_TIER_HBM, &idx), 0, "ADD 2 frames")) {
		close(fd);
		return;
	}
	CHECK_ERR(dp_space(fd, idx, 2, KVMEM_POLICY_FAIL, 0, 0, &c), 0,
		  "space A");
	CHECK_ERR(kv_populate(fd, c.handle, 0, 2, &done), 0, "A takes both");

	/* WAIT that times out. */
	CHECK_ERR(dp_space(fd, idx, 1, KVMEM_POLICY_WAIT, 200, 0, &w), 0,
		  "WAIT space, 200 ms");
	t0 = now_ms();
	CHECK_ERR(kv_populate(fd, w.handle, 0, 1, &done), ETIMEDOUT,
		  "WAIT POPULATE of an exhausted pool: ETIMEDOUT");
	CHECK(now_ms() - t0 >= 150, "it waited (%.0f ms)", now_ms() - t0);
	kv_destroy(fd, w.handle);

	/* WAIT woken by a RELEASE of another process. */
	if (pipes_open(&pp)) {
		pid = xfork();
		if (pid == 0) {
			int cfd = kv_open();
			struct kvmem_space_create cw;
			int err;

			if (cfd < 0 || dp_space(cfd, idx, 1, KVMEM_POLICY_WAIT,
						20000, 0, &cw))
				_exit(1);
			pipe_send(pp.c2p[1], 'w');
			err = kv_populate(cfd, cw.handle, 0, 1, &done);
			_exit(err == 0 && done == 1 ? 0 : 2);
		}
		CHECK(pipe_recv(pp.c2p[0], &ch, 10000), "child about to wait");
		child_waits(pid, 300, "the child waits for a frame");
		CHECK_ERR(kv_release(fd, c.handle, 1, 1, &done), 0,
			  "RELEASE one frame");
		child_done(pid, 10000, "the waiter got the frame");
		pipes_close(&pp);
	}
	CHECK_ERR(kv_destroy(fd, c.handle), 0, "DESTROY A");
	CHECK_EQ(pool_free((int)idx), 2, "all back");
	CHECK_ERR(dp_remove(fd, idx), 0, "REMOVE");
	close(fd);
}

/* ---------------------------------------------------- devpool_accounting */

void test_devpool_accounting(void)
{
	const uint32_t tenant = 3;
	struct kvmem_space_info si[64];
	struct kvmem_client_info ci[64];
	struct kvmem_space_create c;
	struct kvmem_list l;
	struct kvmem_manager mg = { 0 };
	uint64_t done, pools[64 * 2 * KV_MAX_POOLS], hbm0, cid;
	char key[64], buf[256];
	uint32_t idx, np;
	int fd, mfd;
	bool found;

	fd = kv_open();
	mfd = kv_open();
	if (!CHECK(fd >= 0 && mfd >= 0, "open"))
		return;
	if (!CHECK_ERR(dp_add(fd, 16, KVMEM_TIER_HBM, &idx), 0, "ADD")) {
		close(fd);
		close(mfd);
		return;
	}
	np = idx + 1;
	hbm0 = tenant_u64(tenant, "frames_hbm");
	CHECK_ERR(tenant_write(tenant, "quota_hbm", "3"), 0,
		  "tenant %u quota_hbm 3", tenant);
	CHECK_ERR(dp_space(fd, idx, 8, KVMEM_POLICY_FAIL, 0, tenant, &c), 0,
		  "device space of tenant %u", tenant);
	CHECK_ERR(kv_populate(fd, c.handle, 0, 4, &done), ENOMEM,
		  "POPULATE 4 beyond the hbm quota of 3: ENOMEM");
	CHECK_EQ(pool_free((int)idx), 16, "nothing kept");
	CHECK_ERR(kv_populate(fd, c.handle, 0, 3, &done), 0, "POPULATE 3");
	CHECK_EQ(tenant_u64(tenant, "frames_hbm"), hbm0 + 3,
		 "tenants/%u/frames_hbm counts device frames", tenant);
	CHECK_ERR(tenant_read(tenant, "frames_by_pool", buf, sizeof(buf)), 0,
		  "frames_by_pool");
	{
		char *s = buf;
		unsigned int i;

		for (i = 0; i < idx && s; i++) {
			s = strchr(s, ' ');
			if (s)
				s++;
		}
		CHECK(s && strtoull(s, NULL, 10) == 3,
		      "frames_by_pool '%s': 3 at pool%u", buf, idx);
	}

	snprintf(key, sizeof(key), "kvmem-frames-pool%u", idx);
	CHECK_EQ(kv_fdinfo_u64(fd, key), 3, "fdinfo %s", key);
	CHECK_EQ(kv_fdinfo_u64(fd, "kvmem-memory-hbm"), 3 * DP_FS / 1024,
		 "fdinfo kvmem-memory-hbm (KiB)");
	cid = kv_fdinfo_u64(fd, "kvmem-client-id");

	/* The manager's lists. */
	if (CHECK_ERR(kv_ioctl(mfd, KVMEM_IOC_MANAGER, &mg), 0, "MANAGER")) {
		memset(&l, 0, sizeof(l));
		l.max = 64;
		l.entries = (uintptr_t)si;
		l.entry_size = sizeof(si[0]);
		l.pools = (uintptr_t)pools;
		l.npools = np;
		CHECK_ERR(kv_ioctl(mfd, KVMEM_IOC_LIST_SPACES, &l), 0,
			  "LIST_SPACES");
		found = false;
		for (uint32_t i = 0; i < l.count; i++) {
			if (si[i].id != c.mmap_offset >> KVMEM_SPACE_SHIFT)
				continue;
			found = true;
			CHECK_EQ(si[i].resident, 3, "LIST_SPACES resident");
			CHECK_EQ(pools[2 * i * np + idx], 3,
				 "LIST_SPACES pages in pool%u", idx);
			CHECK_EQ(pools[2 * i * np], 0, "none in pool0");
		}
		CHECK(found, "LIST_SPACES has the space");
		memset(&l, 0, sizeof(l));
		l.max = 64;
		l.entries = (uintptr_t)ci;
		l.entry_size = sizeof(ci[0]);
		l.pools = (uintptr_t)pools;
		l.npools = np;
		CHECK_ERR(kv_ioctl(mfd, KVMEM_IOC_LIST_CLIENTS, &l), 0,
			  "LIST_CLIENTS");
		found = false;
		for (uint32_t i = 0; i < l.count; i++) {
			if (ci[i].id != cid)
				continue;
			found = true;
			CHECK_EQ(ci[i].frames, 3, "LIST_CLIENTS frames");
			CHECK_EQ(pools[i * np + idx], 3,
				 "LIST_CLIENTS frames in pool%u", idx);
		}
		CHECK(found, "LIST_CLIENTS has the client");
	}
	CHECK_ERR(kv_destroy(fd, c.handle), 0, "DESTROY");
	CHECK_EQ(tenant_u64(tenant, "frames_hbm"), hbm0, "tenant uncharged");
	CHECK_EQ(kv_fdinfo_u64(fd, key), 0, "fdinfo uncharged");
	CHECK_ERR(tenant_write(tenant, "quota_hbm", "max"), 0, "quota back");
	CHECK_ERR(dp_remove(fd, idx), 0, "REMOVE");
	close(mfd);
	close(fd);
}

/* ---------------------------------------------------------- devpool_perm */

void test_devpool_perm(void)
{
	struct stat st;
	uint32_t idx;
	pid_t pid;
	int fd;

	fd = kv_open();
	if (!CHECK(fd >= 0, "open"))
		return;
	if (!CHECK(!stat(KV_DEV, &st) && !chmod(KV_DEV, 0666),
		   "chmod 0666 " KV_DEV)) {
		close(fd);
		return;
	}
	if (!CHECK_ERR(dp_add(fd, 4, KVMEM_TIER_HBM, &idx), 0, "root ADD")) {
		chmod(KV_DEV, st.st_mode & 07777);
		close(fd);
		return;
	}
	pid = xfork();
	if (pid == 0) {
		uint32_t i2;
		int cfd;

		if (setgroups(0, NULL) || setgid(NOBODY) || setuid(NOBODY))
			_exit(3);
		cfd = kv_open();
		if (cfd < 0)
			_exit(4);
		vt_failures = 0;
		CHECK_ERR(dp_add(cfd, 4, KVMEM_TIER_HBM, &i2), EPERM,
			  "unprivileged ADD");
		CHECK_ERR(dp_remove(cfd, idx), EPERM, "unprivileged REMOVE");
		_exit(vt_failures ? 1 : 0);
	}
	child_done(pid, 10000, "unprivileged child");
	chmod(KV_DEV, st.st_mode & 07777);
	CHECK_ERR(dp_remove(fd, idx), 0, "root REMOVE");
	close(fd);
}

/* ----------------------------------------------------------- neg_devpool */

void test_neg_devpool(void)
{
	struct kvmem_device_pool d, g = {
		.device = 1, .frame_size = DP_FS, .frames = 4,
		.tier = KVMEM_TIER_HBM,
	};
	struct kvmem_device_pool_remove r;
	struct kvmem_space_create c;
	struct kvmem_info info;
	uint32_t idx, added[KVMEM_MAX_POOLS_GUESS];
	int fd, n = 0, err;

	fd = kv_open();
	if (!CHECK(fd >= 0, "open"))
		return;
	kv_info(fd, &info);

#define ADD_BAD(stmt, exp, what) do { \
		d = g; stmt; \
		neg_ioctl(fd, KVMEM_IOC_DEVICE_POOL_ADD, &d, exp, "ADD: %s", what); \
	} while (0)
	ADD_BAD(d.flags = 1, EINVAL, "flags 1");
	ADD_BAD(d.pad = 1, EINVAL, "pad 1");
	ADD_BAD(d.pad2 = 1, EINVAL, "pad2 1");
	ADD_BAD(d.reserved[0] = 1, EINVAL, "reserved[0]");
	ADD_BAD(d.reserved[3] = 1ULL << 63, EINVAL, "reserved[3]");
	ADD_BAD(d.frame_size = 0, EINVAL, "frame_size 0");
	ADD_BAD(d.frame_size = 2048, EINVAL, "frame_size 2048");
	ADD_BAD(d.frame_size = 3 * 65536, EINVAL, "frame_size not a power of 2");
	ADD_BAD(d.frame_size = 2ULL << 30, EINVAL, "frame_size 2 GiB");
	ADD_BAD(d.frames = 0, EINVAL, "frames 0");
	ADD_BAD(d.frames = 1ULL << 32, EINVAL, "frames 2^32");
	ADD_BAD(d.tier = KVMEM_NR_TIERS, EINVAL, "tier 3");
	d = g;
	d.frame_size = 1ULL << 30;
	d.frames = 0xffffffffULL;
	err = kv_ioctl(fd, KVMEM_IOC_DEVICE_POOL_ADD, &d);
	CHECK_ERR(err, 0, "ADD: largest frame size and count");
	if (!err)
		CHECK_ERR(dp_remove(fd, d.index), 0, "REMOVE it");

#define RM_BAD(stmt, exp, what) do { \
		memset(&r, 0, sizeof(r)); stmt; \
		neg_ioctl(fd, KVMEM_IOC_DEVICE_POOL_REMOVE, &r, exp, \
			  "REMOVE: %s", what); \
	} while (0)
	RM_BAD(r.index = 0, EINVAL, "a node pool");
	RM_BAD(r.index = info.npools, ENOENT, "index npools");
	RM_BAD(r.index = UINT32_MAX, ENOENT, "index 2^32-1");

	if (!CHECK_ERR(dp_add(fd, 4, KVMEM_TIER_HBM, &idx), 0, "ADD"))
		goto out;
	RM_BAD(r.index = idx; r.flags = 1, EINVAL, "flags 1");
	RM_BAD(r.index = idx; r.reserved[1] = 1, EINVAL, "reserved[1]");

#define SC_BAD(stmt, exp, what) do { \
		memset(&c, 0, sizeof(c)); \
		c.size = DP_FS; c.tier = KVMEM_TIER_HBM; \
		c.policy = KVMEM_POLICY_FAIL; c.flags = KVMEM_SPACE_DEVICE; \
		c.pool = idx; stmt; \
		err = neg_ioctl(fd, KVMEM_IOC_SPACE_CREATE, &c, exp, \
				"SPACE_CREATE device: %s", what); \
		if (!err) \
			kv_destroy(fd, c.handle); \
	} while (0)
	SC_BAD((void)0, 0, "valid");
	SC_BAD(c.pool = idx + 1, EINVAL, "unknown pool");
	SC_BAD(c.pool = 0, EINVAL, "a node pool");
	SC_BAD(c.pool = UINT32_MAX, EINVAL, "pool 2^32-1");
	SC_BAD(c.policy = KVMEM_POLICY_FALLBACK, EINVAL, "FALLBACK");
	SC_BAD(c.size = DP_FS + 65536, EINVAL, "size not a frame multiple");
	SC_BAD(c.tier = KVMEM_TIER_DRAM, EINVAL, "tier not the pool's");
	SC_BAD(c.pad2 = 1, EINVAL, "pad2 1");
	SC_BAD(c.flags = KVMEM_SPACE_DEVICE | 2, EINVAL, "unknown flag");
	SC_BAD(c.flags = 0; c.tier = KVMEM_TIER_DRAM, EINVAL,
	       "pool set without KVMEM_SPACE_DEVICE");
	/* A removed pool. */
	CHECK_ERR(dp_remove(fd, idx), 0, "REMOVE");
	SC_BAD((void)0, EINVAL, "removed pool");

	/* Too many pools. */
	for (n = 0; n < KVMEM_MAX_POOLS_GUESS; n++) {
		err = dp_add(fd, 1, KVMEM_TIER_HBM, &added[n]);
		if (err)
			break;
	}
	CHECK_ERR(err, ENOSPC, "ADD until full: ENOSPC (after %d)", n);
	CHECK_EQ(n + info.npools, 64, "64 pools in all");
	while (n--)
		CHECK_ERR(dp_remove(fd, added[n]), 0, "REMOVE pool%u",
			  added[n]);
out:
	close(fd);
}
