// SPDX-License-Identifier: GPL-2.0
/*
 * kvmem-vmtest: module lifecycle (unload while busy, module parameters),
 * sysfs attributes, and the final baseline check.
 *
 * Tests that unload the module always load it back with the default
 * parameters (/kvmem.params), on failure paths too; the supervisor in
 * vmtest.c is a second safety net.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/klog.h>
#include <unistd.h>

#include "vmtest.h"

/* ------------------------------------------------------------ helpers */

/* Sum of MemFree over nodes 0..63 (bytes). */
static uint64_t total_memfree(void)
{
	uint64_t sum = 0;

	for (int n = 0; n < 64; n++) {
		uint64_t m = node_memfree(n);

		if (m != UINT64_MAX)
			sum += m;
	}
	return sum;
}

/* Pool index of a node by POOL_QUERY, -1 if none. */
static int pool_of_node(int fd, int npools, int node)
{
	for (int i = 0; i < npools; i++) {
		struct kvmem_pool_info pi;

		if (!kv_pool_query(fd, (uint32_t)i, &pi) && pi.node == node)
			return i;
	}
	return -1;
}

/* Unload, expecting success (retrying briefly if just released). */
bool unload_ok(const char *why)
{
	int err = 0;

	for (int i = 0; i < 50; i++) {
		err = mod_unload();
		if (err != EAGAIN && err != EBUSY)
			break;
		sleep_ms(20);
	}
	return CHECK_ERR(err, 0, "unload (%s)", why) &&
	       CHECK(!mod_loaded(), "module gone after unload");
}

/* Load with default params + extra; returns errno. */
int load_with(const char *extra)
{
	char p[768];

	snprintf(p, sizeof(p), "%s%s%s", mod_default_params(),
		 *mod_default_params() && *extra ? " " : "", extra);
	return mod_load(p);
}

/* Unload, load with default params + extra, open and look up the pools;
 * false (nothing left open) on failure. */
bool reload_with(const char *extra, int *fd, struct kv_env *e)
{
	if (!unload_ok(extra))
		return false;
	if (!CHECK_ERR(load_with(extra), 0, "load with %s", extra))
		return false;
	return kv_setup(fd, e, false);
}

/*
 * A one-page FAIL space of `tier` (which must work) gets its page from
 * pool `pool` (any pool if -1).
 */
static void tier_lands_in(int fd, uint64_t ps, uint32_t tier, int pool)
{
	struct kvmem_space_create c;
	struct kvmem_residency r = { .pool = KVMEM_POOL_NONE };
	int err = kv_create(fd, ps, tier, KVMEM_POLICY_FAIL, 0, &c);

	if (!CHECK_ERR(err, 0, "SPACE_CREATE tier %s", tier_name(tier)))
		return;
	CHECK_ERR(kv_populate(fd, c.handle, 0, 1, NULL), 0,
		  "POPULATE its page");
	CHECK_ERR(kv_query(fd, c.handle, 0, 1, &r, NULL), 0, "QUERY it");
	if (pool >= 0)
		CHECK_EQ(r.pool, pool, "its page is in pool%d", pool);
	kv_destroy(fd, c.handle);
}

/* At the start of a test that unloads: a snapshot, module loaded and idle. */
bool mod_idle(struct kv_snap *s0)
{
	snap_take(s0);
	return CHECK(s0->loaded && s0->clients == 0,
		     "module loaded and idle (clients %llu)", U(s0->clients));
}

/* At its end: loaded again with the default parameters, as at the start. */
void mod_back(const struct kv_snap *s0)
{
	struct kv_snap s1;

	if (mod_loaded())
		unload_ok("back to defaults");
	mod_restore(false);
	snap_take(&s1);
	snap_same(s0, &s1, "after reloading the defaults");
}

/* MemFree of each pool's node. */
static void pools_memfree(const struct kv_env *e, uint64_t m[KV_MAX_POOLS])
{
	for (int i = 0; i < e->npools; i++)
		m[i] = node_memfree(e->pool[i].node);
}

/*
 * Each pool's node MemFree rose (unload) or fell (load) since before[] by
 * about the pool's size in s0.
 */
static void check_memfree_moved(const struct kv_env *e,
				const struct kv_snap *s0,
				const uint64_t before[KV_MAX_POOLS], bool rose,
				const char *when)
{
	uint64_t now[KV_MAX_POOLS];

	pools_memfree(e, now);
	for (int i = 0; i < e->npools; i++) {
		uint64_t exp = s0->p[i].total * s0->p[i].page_size;
		uint64_t slack = exp / 16 > 2 * MiB ? exp / 16 : 2 * MiB;
		int64_t got = rose ? (int64_t)(now[i] - before[i]) :
			      (int64_t)(before[i] - now[i]);

		CHECK(got >= (int64_t)(exp - slack) &&
		      got <= (int64_t)(exp + 8 * MiB),
		      "node %d MemFree %s by %lld KiB on %s (pool%d had %llu "
		      "frames = %llu KiB)", e->pool[i].node,
		      rose ? "rose" : "fell", (long long)got / 1024, when, i,
		      U(s0->p[i].total), U(exp / 1024));
	}
}

/* --------------------------------------------------------- unload_busy */

/*
 * delete_module(2) with O_NONBLOCK of a module whose reference count is not
 * zero fails in try_stop_module() with EWOULDBLOCK (== EAGAIN on Linux);
 * that is what 6.1 and 6.12 return for an open /dev/kvmem or a live
 * mapping. EBUSY is what the kernel returns for a module that is still
 * coming or already going; both are accepted, and the one seen is printed.
 */

void test_unload_busy(void)
{
	struct kv_env e;
	struct kv_snap s0, s1;
	uint64_t before[KV_MAX_POOLS];
	uint8_t *m = NULL;
	uint64_t size = 0;
	int fd, err;

	if (!mod_idle(&s0))
		return;
	CHECK_EQ(s0.refcnt, 0, "module refcnt with no file open");
	if (!kv_setup(&fd, &e, false))
		return;
	err = mod_unload();
	CHECK(err == EAGAIN || err == EBUSY, "unload with an open file fails "
	      "EAGAIN/EWOULDBLOCK or EBUSY: %s", errname(err));
	INFO("delete_module(O_NONBLOCK) of a module in use returns %s",
	     errname(err));
	if (!err)
		goto reload;
	CHECK(mod_loaded(), "module still loaded");

	size = 4 * e.ps;
	{
		struct kvmem_space_create c;

		err = kv_create(fd, size, e.pool[e.P].tier, KVMEM_POLICY_FAIL,
				0, &c);
		CHECK_ERR(err, 0, "SPACE_CREATE");
		if (!err) {
			m = kv_map(fd, c.mmap_offset, size);
			CHECK(m != NULL, "mmap");
		}
	}
	if (m)
		memset(m, 0x66, size);
	close(fd);
	if (m) {
		err = mod_unload();
		CHECK(err == EAGAIN || err == EBUSY, "unload with the file "
		      "closed but a mapping alive fails: %s", errname(err));
		if (!err)
			goto reload;
		CHECK_EQ(byte_check(m, size, 0x66), UINT64_MAX,
			 "mapping still works");
		munmap(m, size);
	}
	pools_memfree(&e, before);
	if (!unload_ok("after munmap: nothing in use"))
		goto reload;
	check_memfree_moved(&e, &s0, before, true, "unload");
	CHECK(access(KV_SYSFS, F_OK) != 0, "%s gone", KV_SYSFS);
reload:
	if (!mod_loaded()) {
		pools_memfree(&e, before);
		err = mod_load(mod_default_params());
		CHECK_ERR(err, 0, "reload with '%s'", mod_default_params());
		check_memfree_moved(&e, &s0, before, false, "reload");
	}
	snap_take(&s1);
	snap_same(&s0, &s1, "after reload: pools as before");
	fd = kv_open();
	if (fd >= 0) {
		struct kvmem_info info;

		CHECK_ERR(kv_info(fd, &info), 0, "GET_INFO after reload");
		close(fd);
	}
}

/* -------------------------------------------------- modparam_page_size */

static void try_page_size(uint64_t ps)
{
	char extra[64];
	struct kv_env e;
	struct kv_space s;
	uint64_t n, size, exp_frames;
	uint8_t *sub;
	int fd;

	snprintf(extra, sizeof(extra), "page_size=%llu", U(ps));
	if (!reload_with(extra, &fd, &e))
		return;
	CHECK_EQ(e.info.page_size, ps, "GET_INFO page_size");
	exp_frames = mod_default_reserve_mib() * MiB / ps;
	for (int i = 0; i < e.npools; i++) {
		CHECK_EQ(e.pool[i].page_size, ps, "pool%d page_size", i);
		CHECK_EQ(pool_u64(i, "page_size"), ps,
			 "pool%d sysfs page_size", i);
		CHECK_EQ(e.pool[i].frames_total, exp_frames,
			 "pool%d frames_total = %llu MiB / page_size", i,
			 U(mod_default_reserve_mib()));
	}
	n = ps >= MiB ? 4 : 64;
	if (n > e.pool[e.P].frames_free)
		n = e.pool[e.P].frames_free;
	size = n * ps;
	if (!kv_space_fail(&s, fd, &e, n))
		goto close;
	CHECK_EQ(s.c.page_size, ps, "space page_size");
	CHECK_EQ(s.c.npages, n, "space npages");
	pat_fill(s.map, size, ps, 0);
	CHECK_EQ(pat_check(s.map, size, ps, 0), UINT64_MAX,
		 "%llu pages of %llu bytes: data reads back", U(n), U(ps));
	CHECK_EQ(kv_resident(fd, s.c.handle, 0, n), n, "resident");
	CHECK_EQ(pool_u64(e.P, "frames_free"), e.pool[e.P].frames_free - n,
		 "one frame per page");
	sub = kv_map(fd, s.c.mmap_offset + 5 * CPU_PAGE, size - 5 * CPU_PAGE);
	if (CHECK(sub != NULL, "mmap at offset + 5 CPU pages")) {
		CHECK_EQ(pat_check(sub, size - 5 * CPU_PAGE, ps,
				   5 * CPU_PAGE / 8), UINT64_MAX,
			 "it sees the same data");
		munmap(sub, size - 5 * CPU_PAGE);
	}
	CHECK_ERR(kv_release(fd, s.c.handle, 1, 1, NULL), 0, "RELEASE page 1");
	CHECK_EQ(zero_check(s.map + ps, ps), UINT64_MAX,
		 "page 1 reads zero again");
	kv_create_expect(fd, ps + CPU_PAGE, e.pool[e.P].tier,
			 KVMEM_POLICY_FAIL, ps == CPU_PAGE ? 0 : EINVAL,
			 "SPACE_CREATE of page_size + 4096 bytes (%s a "
			 "multiple)", ps == CPU_PAGE ? "is" : "not");
	kv_space_free(&s);
close:
	close(fd);
}

void test_modparam_page_size(void)
{
	struct kv_snap s0;
	static const uint64_t sizes[] = { 4096, 8192, 2097152 };

	if (!mod_idle(&s0))
		return;
	for (size_t i = 0; i < NELEM(sizes); i++) {
		INFO("page_size=%llu", U(sizes[i]));
		try_page_size(sizes[i]);
	}
	mod_back(&s0);
}

/* -------------------------------------------------------- modparam_bad */

/* The kernel's log buffer holds `what`. */
static bool klog_has(const char *what)
{
	int len = klogctl(10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0);
	bool found = false;
	char *buf;

	if (len <= 0)
		return false;
	buf = malloc((size_t)len + 1);
	if (!buf)
		return false;
	len = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf, len);
	if (len >= 0) {
		buf[len] = 0;
		found = strstr(buf, what) != NULL;
	}
	free(buf);
	return found;
}

void test_modparam_bad(void)
{
	static const char *const bad[] = {
		"page_size=12345", "page_size=4194304", "page_size=2048",
		"page_size=0", "page_size=65537", "page_size=abc",
		"tiers=1:foo", "tiers=1hbm", "tiers=x:hbm", "tiers=:hbm",
		"tiers=1:", "tiers=0:hbm,1:bogus",
	};
	struct kv_snap s0;
	uint64_t m0, m1;
	int err;

	if (!mod_idle(&s0))
		return;
	if (!unload_ok("before the bad loads"))
		goto restore;
	m0 = total_memfree();
	for (size_t i = 0; i < NELEM(bad); i++) {
		err = load_with(bad[i]);
		CHECK_ERR(err, EINVAL, "insmod with %s", bad[i]);
		if (!err)
			unload_ok("it loaded");
		CHECK(!mod_loaded() && access(KV_SYSFS, F_OK) != 0,
		      "no module and no %s left after the failed load",
		      KV_SYSFS);
	}
	/* A node that does not exist: EINVAL, and the log says so. */
	err = load_with("tiers=7:hbm");
	CHECK_ERR(err, EINVAL, "insmod with tiers=7:hbm (no node 7)");
	if (!err)
		unload_ok("tiers=7:hbm loaded");
	CHECK(klog_has("tiers=\"7:hbm\": node 7 does not exist; nodes with "
		       "memory: "), "the kernel log names node 7 as missing");
	m1 = total_memfree();
	CHECK(m1 + 4 * MiB >= m0, "failed loads leaked no memory: MemFree "
	      "%llu KiB before, %llu KiB after", U(m0 / 1024), U(m1 / 1024));
restore:
	mod_back(&s0);
}

/* ------------------------------------------------------ modparam_tiers */

static void try_tiers(const char *spec, int node0_tier, int node1_tier)
{
	struct kv_env e;
	int fd, p0, p1;
	char extra[64], buf[16];
	const int want[2] = { node0_tier, node1_tier };

	snprintf(extra, sizeof(extra), "tiers=%s", spec);
	if (!reload_with(extra, &fd, &e))
		return;
	p0 = pool_of_node(fd, e.npools, 0);
	p1 = pool_of_node(fd, e.npools, 1);
	if (!CHECK(p0 >= 0 && p1 >= 0, "pools of nodes 0 and 1: %d, %d", p0,
		   p1))
		goto out;
	for (int n = 0; n < 2; n++) {
		int p = n ? p1 : p0;

		CHECK_EQ(e.pool[p].tier, want[n], "%s: node %d (pool%d) tier "
			 "%s", extra, n, p, tier_name((uint32_t)want[n]));
		pool_tier_str(p, buf, sizeof(buf));
		CHECK(!strcmp(buf, tier_name((uint32_t)want[n])),
		      "%s: sysfs pool%d/tier '%s'", extra, p, buf);
	}
	/* A space of node 1's tier lands there. */
	tier_lands_in(fd, e.ps, (uint32_t)node1_tier,
		      node0_tier != node1_tier ? p1 : -1);
	for (uint32_t t = 0; t < KVMEM_NR_TIERS; t++)
		if ((int)t != node0_tier && (int)t != node1_tier)
			kv_create_expect(fd, e.ps, t, KVMEM_POLICY_FAIL,
					 ENODEV, "SPACE_CREATE tier %s (no "
					 "pool)", tier_name(t));
out:
	close(fd);
}

void test_modparam_tiers(void)
{
	struct kv_snap s0;

	if (!mod_idle(&s0))
		return;
	try_tiers("1:hbm", KVMEM_TIER_DRAM, KVMEM_TIER_HBM);
	try_tiers("1:hbm,0:cxl", KVMEM_TIER_CXL, KVMEM_TIER_HBM);
	try_tiers("0:hbm", KVMEM_TIER_HBM, KVMEM_TIER_CXL);
	try_tiers("0:cxl,1:dram", KVMEM_TIER_CXL, KVMEM_TIER_DRAM);
	mod_back(&s0);
}

/* --------------------------------------------------------------- sysfs */

static void check_pool_counts(int fd, int pool, uint64_t total, uint64_t free,
			      const char *what)
{
	struct kvmem_pool_info pi;

	CHECK_EQ(pool_u64(pool, "frames_total"), total,
		 "%s: pool%d sysfs frames_total", what, pool);
	CHECK_EQ(pool_u64(pool, "frames_free"), free,
		 "%s: pool%d sysfs frames_free", what, pool);
	CHECK_EQ(pool_u64(pool, "frames_used"), total - free,
		 "%s: pool%d sysfs frames_used", what, pool);
	if (!kv_pool_query(fd, (uint32_t)pool, &pi)) {
		CHECK_EQ(pi.frames_total, total, "%s: POOL_QUERY frames_total",
			 what);
		CHECK_EQ(pi.frames_free, free, "%s: POOL_QUERY frames_free",
			 what);
	} else {
		CHECK(0, "%s: POOL_QUERY failed", what);
	}
}

/* Write a pool's reserve (must work); then it has total frames, free free. */
static void set_reserve(int fd, int pool, uint64_t frames, uint64_t total,
			uint64_t free, const char *what)
{
	CHECK_ERR(pool_set_reserve(pool, frames), 0, "%s: pool%d reserve <- "
		  "%llu", what, pool, U(frames));
	check_pool_counts(fd, pool, total, free, what);
}

/* Write a pool's tier (must work); then it reads `reads`. */
static void set_tier(int pool, const char *val, const char *reads)
{
	char buf[16];

	CHECK_ERR(pool_set_tier(pool, val), 0, "write '%s' to pool%d/tier",
		  val, pool);
	pool_tier_str(pool, buf, sizeof(buf));
	CHECK(!strcmp(buf, reads), "sysfs pool%d/tier reads '%s' (expected "
	      "'%s')", pool, buf, reads);
}

void test_sysfs_reserve(void)
{
	struct kv_env e;
	char path[128], val[32];
	int fd, err;

	if (!kv_setup(&fd, &e, false))
		return;
	for (int i = 0; i < e.npools; i++) {
		uint64_t R = pool_u64(i, "reserve");
		uint64_t m0, m1, exp = 16 * e.ps;
		int node = e.pool[i].node;

		m0 = node_memfree(node);
		set_reserve(fd, i, R + 16, R + 16, R + 16, "grown");
		CHECK_EQ(pool_u64(i, "reserve"), R + 16, "pool%d reserve", i);
		m1 = node_memfree(node);
		CHECK(m0 - m1 + MiB >= exp && m0 - m1 <= exp + 8 * MiB,
		      "node %d MemFree fell by %lld KiB (expected %llu KiB)",
		      node, (long long)(m0 - m1) / 1024, U(exp / 1024));
		set_reserve(fd, i, R, R, R, "shrunk back");
		m1 = node_memfree(node);
		CHECK(m1 + 2 * MiB >= m0, "node %d MemFree back (%lld KiB "
		      "difference)", node, (long long)(m0 - m1) / 1024);
		/* echo-style write with a newline */
		snprintf(path, sizeof(path), KV_SYSFS "/pools/pool%d/reserve",
			 i);
		snprintf(val, sizeof(val), "%llu\n", U(R + 1));
		err = sysfs_write(path, val);
		CHECK_ERR(err, 0, "pool%d: write \"%llu\\n\"", i, U(R + 1));
		CHECK_EQ(pool_u64(i, "frames_total"), R + 1,
			 "pool%d frames_total", i);
		/* Empty pool: still a pool of its tier. */
		set_reserve(fd, i, 0, 0, 0, "reserve 0");
		if (i == e.P) {
			struct kvmem_space_create c;

			err = kv_create(fd, e.ps, e.pool[i].tier,
					KVMEM_POLICY_FAIL, 0, &c);
			CHECK_ERR(err, 0, "SPACE_CREATE on the empty pool's "
				  "tier");
			if (!err) {
				CHECK_ERR(kv_populate(fd, c.handle, 0, 1,
						      NULL), ENOMEM,
					  "POPULATE from the empty pool");
				kv_destroy(fd, c.handle);
			}
		}
		set_reserve(fd, i, R, R, R, "restored");
	}
	close(fd);
}

void test_sysfs_reserve_in_use(void)
{
	struct kv_env e;
	struct kv_space s;
	uint64_t R, done;
	int fd, P;

	if (!kv_setup(&fd, &e, false))
		return;
	P = e.P;
	R = pool_u64(P, "reserve");
	if (!CHECK(R >= 24, "pool%d reserve %llu >= 24", P, U(R)) ||
	    !kv_space_fail(&s, fd, &e, 24))
		goto out;
	CHECK_ERR(kv_populate(fd, s.c.handle, 0, 20, &done), 0,
		  "POPULATE 20 pages");
	check_pool_counts(fd, P, R, R - 20, "20 in use");

	set_reserve(fd, P, 8, 20, 0, "reserve 8 with 20 frames in use: free "
		    "frames freed, used ones kept");
	CHECK_EQ(pool_u64(P, "reserve"), 8, "reserve reads 8");
	CHECK_EQ(kv_resident(fd, s.c.handle, 0, 24), 20, "space untouched");

	CHECK_ERR(kv_release(fd, s.c.handle, 0, 6, &done), 0,
		  "RELEASE 6 pages");
	check_pool_counts(fd, P, 14, 0, "released frames above the target "
			  "went back to the kernel");
	CHECK_ERR(kv_release(fd, s.c.handle, 6, 10, &done), 0,
		  "RELEASE 10 more (4 left in use)");
	check_pool_counts(fd, P, 8, 4, "at the target: 8 total, 4 free");
	CHECK_ERR(kv_populate(fd, s.c.handle, 0, 4, &done), 0,
		  "POPULATE 4 (the free ones)");
	CHECK_ERR(kv_populate(fd, s.c.handle, 4, 1, &done), ENOMEM,
		  "POPULATE 1 more from the shrunk pool");
	kv_space_free(&s);
	check_pool_counts(fd, P, 8, 8, "after destroy");
	set_reserve(fd, P, R, R, R, "restored");
out:
	close(fd);
}

void test_sysfs_reserve_enomem(void)
{
	struct kv_env e;
	uint64_t R, M, want, got, total, m1;
	double t0, dt;
	int fd, err, pool = -1, node;

	if (!kv_setup(&fd, &e, false))
		return;
	/* The pool of the node with the least free memory (CPU-less). */
	for (int i = 0; i < e.npools; i++)
		if (pool < 0 || node_memfree(e.pool[i].node) <
		    node_memfree(e.pool[pool].node))
			pool = i;
	node = e.pool[pool].node;
	R = pool_u64(pool, "reserve");
	M = node_memfree(node);
	want = R + 2 * (M / e.ps);
	INFO("pool%d (node %d, %llu MiB free): reserve %llu -> %llu frames",
	     pool, node, U(M / MiB), U(R), U(want));
	t0 = now_ms();
	err = pool_set_reserve(pool, want);
	dt = now_ms() - t0;
	CHECK_ERR(err, ENOMEM, "reserve of twice the node's free memory");
	got = pool_u64(pool, "reserve");
	total = pool_u64(pool, "frames_total");
	INFO("the pool reached %llu frames (%llu MiB) in %.0f ms", U(got),
	     U(got * e.ps / MiB), dt);
	CHECK_EQ(got, total, "reserve reads back what was reached "
		 "(frames_total)");
	CHECK(got > R && got < want, "it grew, but not to the target (%llu)",
	      U(got));
	CHECK_EQ(pool_free(pool), total, "all of them free");
	m1 = node_memfree(node);
	CHECK(m1 < M / 4, "the node is nearly full now (MemFree %llu MiB)",
	      U(m1 / MiB));
	set_reserve(fd, pool, R, R, R, "restored");
	m1 = node_memfree(node);
	CHECK(m1 + 4 * MiB >= M, "node %d MemFree back (%llu MiB, was %llu)",
	      node, U(m1 / MiB), U(M / MiB));
	close(fd);
}

void test_sysfs_tier(void)
{
	struct kv_env e;
	struct kvmem_pool_info pi;
	char orig[16];
	int fd, Q;

	if (!kv_setup(&fd, &e, true))
		return;
	Q = e.Q;
	if (!CHECK(!pool_tier_str(Q, orig, sizeof(orig)), "read pool%d tier",
		   Q))
		goto out;
	INFO("pool%d (node %d) tier '%s'", Q, e.pool[Q].node, orig);
	for (uint32_t t = 0; t < KVMEM_NR_TIERS; t++) {
		set_tier(Q, tier_name(t), tier_name(t));
		if (!kv_pool_query(fd, (uint32_t)Q, &pi))
			CHECK_EQ(pi.tier, t, "POOL_QUERY tier");
		tier_lands_in(fd, e.ps, t, tier_has_pool(&e, t, Q) ? -1 : Q);
		/* The tier the pool had before has no pool now, unless
		 * another pool has it. */
		for (uint32_t u = 0; u < KVMEM_NR_TIERS; u++) {
			bool has = u == t || tier_has_pool(&e, u, Q);

			kv_create_expect(fd, e.ps, u, KVMEM_POLICY_FAIL,
					 has ? 0 : ENODEV, "with pool%d %s: "
					 "SPACE_CREATE tier %s", Q,
					 tier_name(t), tier_name(u));
		}
	}
	set_tier(Q, "hbm\n", "hbm");		/* as echo writes it */
	set_tier(Q, orig, orig);		/* restore */
out:
	close(fd);
}

/*
 * Write val to a pool's attribute (pool -1: a top-level one): it must fail
 * with exp (with any errno if exp is 0) and change nothing. Returns the
 * errno.
 */
static int write_fails(int pool, const char *attr, const char *val, int exp)
{
	char what[64], path[160], after[128];
	struct kv_snap a;
	int err;

	if (pool >= 0)
		snprintf(what, sizeof(what), "pools/pool%d/%s", pool, attr);
	else
		snprintf(what, sizeof(what), "%s", attr);
	snprintf(path, sizeof(path), KV_SYSFS "/%s", what);
	snap_take(&a);
	err = sysfs_write(path, val);
	if (exp)
		CHECK_ERR(err, exp, "%s <- '%s'", what, val);
	else
		CHECK(err != 0, "%s <- '%s' fails (%s)", what, val,
		      errname(err));
	snprintf(after, sizeof(after), "after %s <- '%s'", what, val);
	snap_kept(&a, after);
	return err;
}

void test_sysfs_invalid(void)
{
	static const char *const bad_tier[] = {
		"foo", "hbmx", "hb", "dram dram", "2", "-",
	};
	static const char *const bad_res[] = {
		"abc", "-1", "12abc", "1.5", "x10",
	};
	static const char *const ro[] = {
		"node", "page_size", "frames_total", "frames_free",
		"frames_used",
	};
	static const char *const ro_top[] = { "abi_version", "clients",
					      "spaces" };
	int err, np = kv_sys_npools();

	for (int i = 0; i < np; i++) {
		for (size_t k = 0; k < NELEM(bad_tier); k++)
			write_fails(i, "tier", bad_tier[k], EINVAL);
		for (size_t k = 0; k < NELEM(bad_res); k++)
			write_fails(i, "reserve", bad_res[k], EINVAL);
		/* Out of range for the module: report what happens. */
		err = write_fails(i, "reserve", "99999999999999999999999", 0);
		INFO("pool%d/reserve <- 10^23: %s", i, errname(err));
		/* Read-only attributes. */
		for (size_t k = 0; k < NELEM(ro); k++)
			write_fails(i, ro[k], "1", 0);
	}
	for (size_t k = 0; k < NELEM(ro_top); k++)
		write_fails(-1, ro_top[k], "5", 0);
	CHECK_EQ(sysfs_u64(KV_SYSFS "/abi_version"), KVMEM_ABI_VERSION,
		 "abi_version unchanged");
}

/* ------------------------------------------------------ final_baseline */

void test_final_baseline(void)
{
	struct kv_snap s;
	bool tiers_param = strstr(mod_default_params(), "tiers=") != NULL;
	uint64_t exp_frames = UINT64_MAX;

	snap_take(&s);
	if (!CHECK(s.loaded, "module loaded"))
		return;
	CHECK_EQ(sysfs_u64(KV_SYSFS "/abi_version"), KVMEM_ABI_VERSION,
		 "abi_version");
	CHECK_EQ(s.spaces, 0, "sysfs spaces");
	CHECK_EQ(s.clients, 0, "sysfs clients (this test opens no file)");
	CHECK_EQ(s.refcnt, 0, "module refcnt: nothing holds the module");
	CHECK(s.npools >= 1, "pools: %d", s.npools);
	if (s.npools >= 1 && s.p[0].page_size && s.p[0].page_size != UINT64_MAX)
		exp_frames = mod_default_reserve_mib() * MiB / s.p[0].page_size;
	for (int i = 0; i < s.npools; i++) {
		CHECK_EQ(s.p[i].free, s.p[i].total,
			 "pool%d frames_free == frames_total", i);
		CHECK_EQ(s.p[i].total, s.p[i].reserve,
			 "pool%d frames_total == reserve", i);
		CHECK_EQ(s.p[i].used, 0, "pool%d frames_used", i);
		CHECK_EQ(s.p[i].reserve, exp_frames,
			 "pool%d reserve is the load-time reserve_mib %llu",
			 i, U(mod_default_reserve_mib()));
		if (!tiers_param)
			CHECK(!strcmp(s.p[i].tier,
				      node_has_cpus((int)s.p[i].node) ?
				      "dram" : "cxl"),
			      "pool%d tier '%s' is the default of node %llu",
			      i, s.p[i].tier, U(s.p[i].node));
	}
}
