// SPDX-License-Identifier: GPL-2.0
/*
 * kvmem-vmtest: the normal path of every ioctl, and client accounting.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmtest.h"

/* frames_free of a pool by POOL_QUERY; UINT64_MAX on error. */
static uint64_t qfree(int fd, int pool)
{
	struct kvmem_pool_info pi;

	if (kv_pool_query(fd, (uint32_t)pool, &pi))
		return UINT64_MAX;
	return pi.frames_free;
}

/* Check a pool's free count, both by POOL_QUERY and sysfs. */
static void check_free(int fd, int pool, uint64_t exp, const char *what)
{
	CHECK_EQ(qfree(fd, pool), exp, "%s: pool%d frames_free (POOL_QUERY)",
		 what, pool);
	CHECK_EQ(pool_u64(pool, "frames_free"), exp,
		 "%s: pool%d frames_free (sysfs)", what, pool);
}

/*
 * POPULATE (or RELEASE) `count` pages from `first` of space h: it must work,
 * report `done` pages backed (or freed) and leave pool `pool` with `free`
 * frames.
 */
__attribute__((format(printf, 9, 10)))
static void range_ok(int fd, bool populate, uint32_t h, uint64_t first,
		     uint64_t count, uint64_t done, int pool, uint64_t free,
		     const char *fmt, ...)
{
	char what[128];
	uint64_t got = 0;
	va_list ap;
	int err;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	err = populate ? kv_populate(fd, h, first, count, &got) :
	      kv_release(fd, h, first, count, &got);
	CHECK_ERR(err, 0, "%s: %s pages %llu..%llu", what,
		  populate ? "POPULATE" : "RELEASE", U(first),
		  U(first + count - 1));
	CHECK_EQ(got, done, "%s: done", what);
	check_free(fd, pool, free, what);
}

void test_ioctl_get_info(void)
{
	struct kvmem_info info, info2;
	const char *params = mod_default_params();
	const char *ps_param;
	uint64_t exp_ps = 65536;
	int fd, fd2, err;

	fd = kv_open();
	if (fd < 0)
		return;
	/* Out-only struct: garbage on input must not matter. */
	memset(&info, 0xAA, sizeof(info));
	err = kv_ioctl(fd, KVMEM_IOC_GET_INFO, &info);
	if (!CHECK_ERR(err, 0, "GET_INFO (input pre-filled with 0xAA)"))
		goto out;
	CHECK_EQ(info.abi_version, KVMEM_ABI_VERSION, "abi_version");
	CHECK_EQ(sysfs_u64(KV_SYSFS "/abi_version"), KVMEM_ABI_VERSION,
		 "sysfs abi_version");
	CHECK_EQ(info.npools, kv_sys_npools(),
		 "npools equals the number of sysfs pools/pool<N>");
	CHECK(info.npools >= 1, "npools >= 1 (%u)", info.npools);
	CHECK(info.features & KVMEM_FEATURE_NODE_POOLS,
	      "features 0x%llx has KVMEM_FEATURE_NODE_POOLS", U(info.features));
	CHECK_EQ(info.page_sizes, 0x3FF000ULL,
		 "page_sizes has exactly bits 12..21 (4 KiB .. 2 MiB)");
	ps_param = strstr(params, "page_size=");
	if (ps_param)
		exp_ps = strtoull(ps_param + strlen("page_size="), NULL, 0);
	CHECK_EQ(info.page_size, exp_ps,
		 "page_size (module parameters '%s')", params);
	CHECK(info.page_size && !(info.page_size & (info.page_size - 1)) &&
	      (info.page_sizes & info.page_size),
	      "page_size %llu is a power of two listed in page_sizes",
	      U(info.page_size));
	for (uint32_t i = 0; i < info.npools; i++)
		CHECK_EQ(pool_u64((int)i, "page_size"), info.page_size,
			 "sysfs pool%u/page_size equals GET_INFO page_size", i);
	CHECK_EQ(info.max_space_bytes, KVMEM_SPACE_MAX_BYTES,
		 "max_space_bytes");
	for (int i = 0; i < (int)NELEM(info.reserved); i++)
		CHECK_EQ(info.reserved[i], 0, "reserved[%d] written as zero",
			 i);
	CHECK_EQ(info.reserved32, 0, "reserved32 written as zero");
	CHECK(info.ntenants >= 1 && info.ntenants <= 4096,
	      "ntenants %u in 1..4096", info.ntenants);
	CHECK(info.features & KVMEM_FEATURE_TENANTS,
	      "features 0x%llx has KVMEM_FEATURE_TENANTS", U(info.features));

	/* A second file sees the same. */
	fd2 = kv_open();
	if (fd2 >= 0) {
		err = kv_info(fd2, &info2);
		CHECK_ERR(err, 0, "GET_INFO on a second file");
		CHECK(!memcmp(&info, &info2, sizeof(info)),
		      "second file: same kvmem_info");
		close(fd2);
	}
out:
	close(fd);
}

void test_ioctl_pool_query(void)
{
	struct kvmem_info info;
	char tier[16], buf[64];
	uint64_t nodes_seen = 0;
	bool tiers_param = strstr(mod_default_params(), "tiers=") != NULL;
	int fd, err, nmem = 0;

	fd = kv_open();
	if (fd < 0)
		return;
	if (!CHECK_ERR(kv_info(fd, &info), 0, "GET_INFO"))
		goto out;
	for (uint32_t i = 0; i < info.npools; i++) {
		struct kvmem_pool_info pi;

		memset(&pi, 0, sizeof(pi));
		pi.index = i;
		/* out fields are ignored on input */
		pi.kind = 0x55;
		pi.node = 0x55;
		pi.tier = 0x55;
		pi.page_size = 0x55;
		pi.frames_total = 0x55;
		pi.frames_free = 0x55;
		err = kv_ioctl(fd, KVMEM_IOC_POOL_QUERY, &pi);
		if (!CHECK_ERR(err, 0, "POOL_QUERY index %u (out fields "
			       "pre-filled with garbage)", i))
			continue;
		CHECK_EQ(pi.index, i, "pool%u: index unchanged", i);
		CHECK_EQ(pi.kind, KVMEM_POOL_KIND_NODE, "pool%u: kind", i);
		CHECK_EQ((uint64_t)(int64_t)pi.node, pool_u64((int)i, "node"),
			 "pool%u: node equals sysfs node", i);
		if (!pool_tier_str((int)i, tier, sizeof(tier)))
			CHECK_EQ(pi.tier, (uint64_t)(int64_t)tier_from_name(tier),
				 "pool%u: tier equals sysfs tier '%s'", i, tier);
		else
			CHECK(0, "pool%u: sysfs tier unreadable", i);
		CHECK_EQ(pi.page_size, pool_u64((int)i, "page_size"),
			 "pool%u: page_size equals sysfs", i);
		CHECK_EQ(pi.page_size, info.page_size,
			 "pool%u: page_size equals GET_INFO", i);
		CHECK_EQ(pi.frames_total, pool_u64((int)i, "frames_total"),
			 "pool%u: frames_total equals sysfs", i);
		CHECK_EQ(pi.frames_free, pool_u64((int)i, "frames_free"),
			 "pool%u: frames_free equals sysfs", i);
		CHECK_EQ(pi.frames_total - pi.frames_free,
			 pool_u64((int)i, "frames_used"),
			 "pool%u: total - free equals sysfs frames_used", i);
		CHECK_EQ(pi.frames_total, pool_u64((int)i, "reserve"),
			 "pool%u: frames_total equals sysfs reserve (idle)", i);
		CHECK_EQ(pi.frames_total,
			 mod_default_reserve_mib() * MiB / pi.page_size,
			 "pool%u: frames_total = reserve_mib %llu MiB / "
			 "page_size", i, U(mod_default_reserve_mib()));
		CHECK_EQ(pi.flags, 0, "pool%u: flags", i);
		CHECK_EQ(pi.pad, 0, "pool%u: pad", i);
		for (int k = 0; k < 4; k++)
			CHECK_EQ(pi.reserved[k], 0, "pool%u: reserved[%d]", i,
				 k);
		if (pi.node >= 0 && pi.node < 64) {
			CHECK(!(nodes_seen & (1ULL << pi.node)),
			      "pool%u: node %d has no other pool", i, pi.node);
			nodes_seen |= 1ULL << pi.node;
			if (!tiers_param)
				CHECK_EQ(pi.tier, node_has_cpus(pi.node) ?
					 KVMEM_TIER_DRAM : KVMEM_TIER_CXL,
					 "pool%u: default tier of node %d "
					 "(%s CPUs)", i, pi.node,
					 node_has_cpus(pi.node) ? "with" :
					 "without");
		} else {
			CHECK(0, "pool%u: node %d out of range", i, pi.node);
		}
	}
	/* Every node with memory has a pool ("0-1" or "0,2" lists). */
	if (CHECK(!sysfs_read("/sys/devices/system/node/has_memory", buf,
			      sizeof(buf)), "read node/has_memory")) {
		char *p = buf;

		while (*p) {
			char *end;
			long a = strtol(p, &end, 10), b = a;

			if (end == p)
				break;
			if (*end == '-')
				b = strtol(end + 1, &end, 10);
			for (long n = a; n <= b && n < 64; n++) {
				nmem++;
				CHECK(nodes_seen & (1ULL << n),
				      "node %ld (has_memory '%s') has a pool",
				      n, buf);
			}
			p = *end == ',' ? end + 1 : end;
		}
		CHECK_EQ(info.npools, nmem, "one pool per node with memory");
	}
out:
	close(fd);
}

void test_ioctl_space_create_destroy(void)
{
	struct kv_env e;
	struct kv_snap s0, s1;
	struct kvmem_space_create c[3];
	uint32_t tier;
	int fd, err;

	if (!kv_setup(&fd, &e, false))
		return;
	tier = e.pool[e.P].tier;
	snap_take(&s0);

	/* One space per policy. */
	err = kv_create(fd, 4 * e.ps, tier, KVMEM_POLICY_FAIL, 0, &c[0]);
	CHECK_ERR(err, 0, "SPACE_CREATE 4 pages, tier %s, FAIL",
		  tier_name(tier));
	if (err)
		goto out;
	CHECK(c[0].handle != 0, "handle %u is non-zero", c[0].handle);
	CHECK_EQ(c[0].npages, 4, "npages");
	CHECK_EQ(c[0].page_size, e.ps, "page_size");
	CHECK_EQ(c[0].mmap_offset % CPU_PAGE, 0, "mmap_offset 0x%llx is "
		 "CPU-page aligned: offset %% 4096", U(c[0].mmap_offset));
	CHECK_EQ(c[0].pad, 0, "pad");
	for (int k = 0; k < 4; k++)
		CHECK_EQ(c[0].reserved_out[k], 0, "reserved_out[%d]", k);
	CHECK_EQ(c[0].size, 4 * e.ps, "size kept");
	CHECK_EQ(kv_sys_spaces(), s0.spaces + 1, "sysfs spaces +1");

	err = kv_create(fd, 8 * e.ps, tier, KVMEM_POLICY_FALLBACK, 0, &c[1]);
	CHECK_ERR(err, 0, "SPACE_CREATE 8 pages, FALLBACK");
	if (err)
		goto d0;
	err = kv_create(fd, e.ps, tier, KVMEM_POLICY_WAIT, 1000, &c[2]);
	CHECK_ERR(err, 0, "SPACE_CREATE 1 page, WAIT 1000 ms");
	if (err)
		goto d1;
	CHECK_EQ(c[1].npages, 8, "second space npages");
	CHECK_EQ(c[2].npages, 1, "third space npages");
	CHECK(c[0].handle != c[1].handle && c[1].handle != c[2].handle &&
	      c[0].handle != c[2].handle && c[1].handle && c[2].handle,
	      "handles distinct and non-zero: %u %u %u", c[0].handle,
	      c[1].handle, c[2].handle);
	for (int a = 0; a < 3; a++)
		for (int b = a + 1; b < 3; b++) {
			uint64_t d = c[a].mmap_offset > c[b].mmap_offset ?
				     c[a].mmap_offset - c[b].mmap_offset :
				     c[b].mmap_offset - c[a].mmap_offset;

			CHECK(d >= KVMEM_SPACE_MAX_BYTES,
			      "mmap windows of spaces %d and %d do not overlap "
			      "(0x%llx, 0x%llx)", a, b, U(c[a].mmap_offset),
			      U(c[b].mmap_offset));
		}
	CHECK_EQ(kv_sys_spaces(), s0.spaces + 3, "sysfs spaces +3");
	snap_take(&s1);
	for (int i = 0; i < s0.npools; i++)
		CHECK_EQ(s1.p[i].free, s0.p[i].free,
			 "pool%d frames_free unchanged by SPACE_CREATE", i);

	/* Each space maps at its offset. */
	for (int i = 0; i < 3; i++) {
		uint64_t len = c[i].npages * e.ps;
		void *m = kv_map(fd, c[i].mmap_offset, len);

		CHECK(m != NULL, "mmap space %d at its mmap_offset: %s", i,
		      m ? "ok" : errname(errno));
		if (m)
			munmap(m, len);
	}

	/* Destroy a populated space: frames come back. */
	{
		uint64_t done = 0, f0 = qfree(fd, e.P);

		err = kv_populate(fd, c[1].handle, 0, 8, &done);
		CHECK_ERR(err, 0, "POPULATE 8 pages of space 1");
		CHECK_EQ(qfree(fd, e.P), f0 - 8, "frames_free -8");
	}
	err = kv_destroy(fd, c[2].handle);
	CHECK_ERR(err, 0, "SPACE_DESTROY space 2");
	CHECK_EQ(kv_sys_spaces(), s0.spaces + 2, "sysfs spaces -1");
d1:
	err = kv_destroy(fd, c[1].handle);
	CHECK_ERR(err, 0, "SPACE_DESTROY populated space 1");
	check_free(fd, e.P, s0.p[e.P].free, "after destroying space 1");
d0:
	err = kv_destroy(fd, c[0].handle);
	CHECK_ERR(err, 0, "SPACE_DESTROY space 0");
	CHECK_EQ(kv_sys_spaces(), s0.spaces, "sysfs spaces back");
	err = kv_destroy(fd, c[0].handle);
	CHECK_ERR(err, ENOENT, "SPACE_DESTROY of a destroyed handle");
	err = kv_populate(fd, c[0].handle, 0, 1, NULL);
	CHECK_ERR(err, ENOENT, "POPULATE of a destroyed handle");
	/* Every tier that has a pool can be asked for. */
	for (uint32_t t = 0; t < KVMEM_NR_TIERS; t++) {
		bool has = tier_has_pool(&e, t, -1);

		kv_create_expect(fd, e.ps, t, KVMEM_POLICY_FALLBACK,
				 has ? 0 : ENODEV, "SPACE_CREATE tier %s (%s)",
				 tier_name(t), has ? "has a pool" : "no pool");
	}
out:
	close(fd);
}

void test_ioctl_populate(void)
{
	struct kv_env e;
	struct kv_space s;
	struct kvmem_residency res[16];
	uint64_t f0, fq0, r;
	int fd, err;

	if (!kv_setup(&fd, &e, false))
		return;
	f0 = qfree(fd, e.P);
	fq0 = e.Q >= 0 ? qfree(fd, e.Q) : 0;
	if (!CHECK(f0 >= 16, "pool%d has >= 16 free frames (%llu)", e.P,
		   U(f0)) || !kv_space_fail(&s, fd, &e, 16))
		goto out;

	range_ok(fd, true, s.c.handle, 2, 5, 5, e.P, f0 - 5,
		 "populating 5");
	if (e.Q >= 0)
		CHECK_EQ(qfree(fd, e.Q), fq0, "pool%d (other tier) unchanged",
			 e.Q);
	CHECK_EQ(pool_u64(e.P, "frames_used"), pool_u64(e.P, "frames_total") -
		 (f0 - 5), "sysfs frames_used follows");
	memset(res, 0x77, sizeof(res));
	err = kv_query(fd, s.c.handle, 0, 16, res, &r);
	CHECK_ERR(err, 0, "QUERY all 16 pages");
	CHECK_EQ(r, 5, "resident");
	for (int i = 0; i < 16; i++) {
		uint16_t exp = (i >= 2 && i < 7) ? (uint16_t)e.P :
			       KVMEM_POOL_NONE;

		CHECK_EQ(res[i].pool, exp, "page %d pool", i);
		CHECK_EQ(res[i].copy, KVMEM_POOL_NONE, "page %d copy", i);
	}

	range_ok(fd, true, s.c.handle, 2, 5, 0, e.P, f0 - 5,
		 "populating again (already backed)");
	range_ok(fd, true, s.c.handle, 0, 8, 3, e.P, f0 - 8,
		 "overlapping populate (new pages 0, 1, 7 only)");

	/* A populated page is what the mapping sees: no new frame. */
	{
		uint8_t v = 1;

		CHECK_EQ(byte_check(s.map, 8 * e.ps, 0), UINT64_MAX,
			 "populated pages read zero (first bad offset)");
		memset(s.map, 0x3C, 8 * e.ps);
		CHECK_EQ(qfree(fd, e.P), f0 - 8,
			 "touching populated pages takes no frame");
		CHECK(probe_read(s.map + 10 * e.ps, &v) == 0 && v == 0,
		      "touching unpopulated page 10 works, reads %u", v);
		CHECK_EQ(qfree(fd, e.P), f0 - 9,
			 "touching page 10 took one frame");
		CHECK_EQ(kv_resident(fd, s.c.handle, 0, 16), 9, "resident");
	}
	range_ok(fd, true, s.c.handle, 0, 16, 7, e.P, f0 - 16,
		 "all populated");
	CHECK_EQ(byte_check(s.map, 8 * e.ps, 0x3C), UINT64_MAX,
		 "data written before is intact (first bad offset)");
	kv_space_free(&s);
	check_free(fd, e.P, f0, "after destroy");

	/* Same with the other policies. */
	for (uint32_t pol = 0; pol < KVMEM_NR_POLICIES; pol++) {
		if (!kv_space_new(&s, fd, 4 * e.ps, e.pool[e.P].tier, pol,
				  pol == KVMEM_POLICY_WAIT ? 100 : 0))
			continue;
		range_ok(fd, true, s.c.handle, 1, 3, 3, e.P, f0 - 3,
			 "policy %u", pol);
		kv_space_free(&s);
	}
	check_free(fd, e.P, f0, "at the end");
out:
	close(fd);
}

void test_ioctl_release(void)
{
	struct kv_env e;
	struct kv_space s;
	struct kvmem_residency res[16];
	uint64_t f0;
	int fd, err;

	if (!kv_setup_space(&fd, &e, &s, 16))
		return;
	f0 = qfree(fd, e.P);
	range_ok(fd, true, s.c.handle, 0, 16, 16, e.P, f0 - 16,
		 "populating all");
	pat_fill(s.map, 16 * e.ps, 7, 0);

	range_ok(fd, false, s.c.handle, 4, 4, 4, e.P, f0 - 12,
		 "release of 4");
	CHECK_EQ(kv_resident(fd, s.c.handle, 0, 16), 12, "resident");
	err = kv_query(fd, s.c.handle, 0, 16, res, NULL);
	CHECK_ERR(err, 0, "QUERY");
	for (int i = 0; i < 16; i++)
		CHECK_EQ(res[i].pool, (i >= 4 && i < 8) ? KVMEM_POOL_NONE :
			 (uint16_t)e.P, "page %d pool", i);

	range_ok(fd, false, s.c.handle, 4, 4, 0, e.P, f0 - 12,
		 "releasing again (absent pages skipped)");

	CHECK_EQ(pat_check(s.map, 4 * e.ps, 7, 0), UINT64_MAX,
		 "pages 0..3 keep their data (first bad offset)");
	CHECK_EQ(pat_check(s.map + 8 * e.ps, 8 * e.ps, 7, e.ps),
		 UINT64_MAX, "pages 8..15 keep their data (first bad offset)");
	CHECK_EQ(zero_check(s.map + 4 * e.ps, 4 * e.ps), UINT64_MAX,
		 "released pages read zero (first non-zero offset)");
	CHECK_EQ(qfree(fd, e.P), f0 - 16, "reading them took 4 new frames");

	range_ok(fd, false, s.c.handle, 0, 16, 16, e.P, f0,
		 "releasing all");
	CHECK_EQ(kv_resident(fd, s.c.handle, 0, 16), 0, "resident");
	range_ok(fd, false, s.c.handle, 15, 1, 0, e.P, f0,
		 "releasing the last page (absent)");
	kv_space_free(&s);
	check_free(fd, e.P, f0, "after destroy");
	close(fd);
}

void test_ioctl_query(void)
{
	struct kv_env e;
	struct kv_space s;
	struct kvmem_residency res[12];
	struct kv_snap a, b;
	uint64_t r;
	uint8_t v;
	int fd, err;

	if (!kv_setup_space(&fd, &e, &s, 8))
		return;
	memset(res, 0x55, sizeof(res));
	err = kv_query(fd, s.c.handle, 0, 8, res, &r);
	CHECK_ERR(err, 0, "QUERY fresh space with residency array");
	CHECK_EQ(r, 0, "resident");
	for (int i = 0; i < 8; i++) {
		CHECK_EQ(res[i].pool, KVMEM_POOL_NONE, "page %d pool", i);
		CHECK_EQ(res[i].copy, KVMEM_POOL_NONE, "page %d copy", i);
	}
	CHECK_EQ(res[8].pool, 0x5555, "entry past count untouched");

	kv_populate(fd, s.c.handle, 1, 1, NULL);
	kv_populate(fd, s.c.handle, 3, 1, NULL);
	CHECK(probe_write(s.map + 5 * e.ps + 100, 9) == 0, "touch page 5");
	snap_take(&a);
	memset(res, 0x55, sizeof(res));
	err = kv_query(fd, s.c.handle, 0, 8, res, &r);
	CHECK_ERR(err, 0, "QUERY after populating 1, 3 and touching 5");
	CHECK_EQ(r, 3, "resident");
	for (int i = 0; i < 8; i++)
		CHECK_EQ(res[i].pool, (i == 1 || i == 3 || i == 5) ?
			 (uint16_t)e.P : KVMEM_POOL_NONE, "page %d pool", i);

	memset(res, 0x55, sizeof(res));
	err = kv_query(fd, s.c.handle, 3, 3, res, &r);
	CHECK_ERR(err, 0, "QUERY pages 3..5");
	CHECK_EQ(r, 2, "resident");
	CHECK_EQ(res[0].pool, e.P, "entry 0 (page 3)");
	CHECK_EQ(res[1].pool, KVMEM_POOL_NONE, "entry 1 (page 4)");
	CHECK_EQ(res[2].pool, e.P, "entry 2 (page 5)");
	CHECK_EQ(res[3].pool, 0x5555, "entry 3 (past count) untouched");

	r = 77;
	err = kv_query(fd, s.c.handle, 0, 8, NULL, &r);
	CHECK_ERR(err, 0, "QUERY without residency array");
	CHECK_EQ(r, 3, "resident");
	err = kv_query(fd, s.c.handle, 7, 1, NULL, &r);
	CHECK_ERR(err, 0, "QUERY last page only");
	CHECK_EQ(r, 0, "resident");
	err = kv_query(fd, s.c.handle, 5, 1, res, &r);
	CHECK_ERR(err, 0, "QUERY page 5 only");
	CHECK_EQ(r, 1, "resident");
	snap_take(&b);
	snap_same(&a, &b, "QUERY changes nothing");
	CHECK(probe_read(s.map + 5 * e.ps + 100, &v) == 0 && v == 9,
	      "page 5 data intact after QUERY (%u)", v);
	kv_space_free(&s);
	close(fd);
}

void test_clients_count(void)
{
	uint64_t c0 = kv_sys_clients();
	int fd1, fd2, fd3;
	pid_t pid;

	CHECK(c0 != UINT64_MAX, "sysfs clients readable (%llu)", U(c0));
	fd1 = kv_open();
	if (fd1 < 0)
		return;
	CHECK_EQ(kv_sys_clients(), c0 + 1, "clients after one open");
	fd2 = kv_open();
	CHECK_EQ(kv_sys_clients(), c0 + 2, "clients after a second open");
	fd3 = dup(fd1);
	CHECK_EQ(kv_sys_clients(), c0 + 2, "dup() is the same client");
	pid = xfork();
	if (pid == 0) {
		close(fd1);
		_exit(0);
	}
	xwait(pid);
	CHECK_EQ(kv_sys_clients(), c0 + 2,
		 "a forked child closing the inherited fd changes nothing");
	close(fd1);
	CHECK_EQ(kv_sys_clients(), c0 + 2, "closing one of two descriptors");
	close(fd3);
	CHECK_EQ(kv_sys_clients(), c0 + 1, "closing the last descriptor");
	close(fd2);
	CHECK_EQ(kv_sys_clients(), c0, "all closed");
}

void test_close_frees_all(void)
{
	struct kv_env e;
	struct kv_snap s0, s1;
	struct kvmem_space_create c;
	uint64_t done, total = 0;
	int fd, err, n = 0, nsp;

	snap_take(&s0);
	if (!kv_setup(&fd, &e, false))
		return;
	nsp = s0.p[e.P].free / 4;	/* each space uses at most 4 frames */
	if (nsp > 20)
		nsp = 20;
	for (int i = 0; i < nsp; i++) {
		err = kv_create(fd, 4 * e.ps, e.pool[e.P].tier,
				i % 2 ? KVMEM_POLICY_FALLBACK :
				KVMEM_POLICY_FAIL, 0, &c);
		if (err) {
			CHECK_ERR(err, 0, "SPACE_CREATE %d", i);
			break;
		}
		n++;
		err = kv_populate(fd, c.handle, i % 3, 2, &done);
		CHECK_ERR(err, 0, "POPULATE 2 pages of space %d", i);
		total += done;
		if (i % 4 == 0) {
			/* a mapping made and unmapped before the close */
			void *m = kv_map(fd, c.mmap_offset, 4 * e.ps);

			if (CHECK(m != NULL, "mmap space %d", i)) {
				memset(m, 0x11, 4 * e.ps);
				munmap(m, 4 * e.ps);
				total += 2;
			}
		}
	}
	CHECK_EQ(kv_sys_spaces(), s0.spaces + (uint64_t)n, "sysfs spaces");
	CHECK_EQ(pool_u64(e.P, "frames_free"), s0.p[e.P].free - total,
		 "pool%d frames_free", e.P);
	close(fd);
	snap_take(&s1);
	snap_same(&s0, &s1, "after close of a client with its spaces");
}
