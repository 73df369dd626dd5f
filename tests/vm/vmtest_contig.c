// SPDX-License-Identifier: GPL-2.0
/*
 * kvmem-vmtest: physical contiguity of migration destinations
 * (design.md, "Frames and pools"): a pool grows in physically contiguous
 * blocks, hands out runs of them, and a migration into a pool with room
 * gets long physically contiguous runs, and prefers a run to single free
 * frames; into a fragmented pool it still succeeds, one frame at a time,
 * with the data intact. Physical frame
 * numbers come from /proc/self/pagemap (the tests run as root).
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmtest.h"

/* Largest block a pool grows by (KVMEM_CHUNK_ORDER in kmod/pool.c). */
#define CHUNK_BYTES	(2 * MiB)

/* PFN of the page mapped at p, 0 if absent or unreadable. */
static uint64_t pfn_of(int pagemap, const void *p)
{
	uint64_t e = 0;
	off_t off = (off_t)((uintptr_t)p / CPU_PAGE * sizeof(e));

	if (pread(pagemap, &e, sizeof(e), off) != sizeof(e))
		return 0;
	if (!(e >> 63))		/* not present */
		return 0;
	return e & ((1ULL << 55) - 1);
}

/*
 * Faults in pages [0, n) of map (reading), then counts the places where
 * page i+1's frame does not directly follow page i's in physical memory.
 * Returns UINT64_MAX (reported) if a PFN cannot be read.
 */
static uint64_t breaks_of(const uint8_t *map, uint64_t n, uint64_t ps)
{
	int pm = open("/proc/self/pagemap", O_RDONLY);
	uint64_t i, prev = 0, breaks = 0;

	if (!CHECK(pm >= 0, "open /proc/self/pagemap"))
		return UINT64_MAX;
	for (i = 0; i < n; i++) {
		volatile uint8_t b = map[i * ps];
		uint64_t pfn;

		(void)b;
		pfn = pfn_of(pm, map + i * ps);
		if (!CHECK(pfn, "pagemap gives the PFN of page %llu", U(i))) {
			close(pm);
			return UINT64_MAX;
		}
		if (i && pfn != prev + ps / CPU_PAGE)
			breaks++;
		prev = pfn;
	}
	close(pm);
	return breaks;
}

void test_migrate_contiguous(void)
{
	struct kv_snap s0;
	struct kv_env e;
	struct kv_space s = { 0 }, hog = { 0 };
	struct kvmem_event ev;
	uint64_t n, ps, qfree, i, breaks, bound, done;
	int fd;

	snap_take(&s0);
	if (!kv_setup(&fd, &e, true))
		return;
	ps = e.ps;
	qfree = pool_free(e.Q);
	/* 4 MiB, or what pool Q has free, whichever is less. */
	n = 4 * MiB / ps;
	if (n > qfree / 2)
		n = qfree / 2;
	if (!CHECK(n >= 4, "pool%d has room for the test (%llu free)", e.Q,
		   U(qfree)))
		goto out;

	/* 1: a pool with room gives long runs. */
	if (!kv_space_fail(&s, fd, &e, n))
		goto out;
	pat_fill(s.map, n * ps, 51, 0);
	if (!kv_migrate_sync(fd, s.c.handle, 0, n, e.pool[e.Q].tier, 0, &ev))
		goto out;
	CHECK_EQ(ev.status, 0, "MIGRATE of %llu pages to pool%d: status",
		 U(n), e.Q);
	CHECK_EQ(kv_count_in(fd, s.c.handle, 0, n, (uint16_t)e.Q, false), n,
		 "all %llu pages in pool%d", U(n), e.Q);
	breaks = breaks_of(s.map, n, ps);
	/* A run ends at most once per block, plus once where it starts. */
	bound = n * ps / CHUNK_BYTES + 1;
	CHECK(breaks <= bound, "the %llu destination frames are physically "
	      "contiguous but for %llu breaks (at most %llu: one per %llu KiB "
	      "block)", U(n), U(breaks), U(bound), U(CHUNK_BYTES / 1024));
	CHECK_EQ(pat_check(s.map, n * ps, 51, 0), UINT64_MAX,
		 "data intact after the move (first bad offset)");
	kv_space_free(&s);

	/*
	 * 2: a fragmented pool: a hog takes every free frame of Q, then
	 * gives back every other one. The move takes single frames.
	 */
	qfree = pool_free(e.Q);
	if (!CHECK(kv_space_new(&hog, fd, qfree * ps, e.pool[e.Q].tier,
				KVMEM_POLICY_FAIL, 0), "hog space of %llu pages",
		   U(qfree)))
		goto out;
	CHECK_ERR(kv_populate(fd, hog.c.handle, 0, qfree, &done), 0,
		  "POPULATE the hog (%llu pages)", U(qfree));
	CHECK_EQ(pool_free(e.Q), 0, "pool%d is full", e.Q);
	for (i = 0; i < qfree; i += 2)
		CHECK_ERR(kv_release(fd, hog.c.handle, i, 1, &done), 0,
			  "RELEASE hog page %llu", U(i));
	n = qfree / 2 < 16 ? qfree / 2 : 16;
	if (!kv_space_fail(&s, fd, &e, n))
		goto out;
	pat_fill(s.map, n * ps, 52, 0);
	if (!kv_migrate_sync(fd, s.c.handle, 0, n, e.pool[e.Q].tier, 0, &ev))
		goto out;
	CHECK_EQ(ev.status, 0, "MIGRATE into the fragmented pool: status");
	CHECK_EQ(ev.pages, n, "MIGRATE into the fragmented pool: pages");
	CHECK_EQ(ev.bytes_copied, n * ps, "MIGRATE into the fragmented pool: "
		 "bytes copied");
	breaks = breaks_of(s.map, n, ps);
	CHECK_EQ(breaks, n - 1, "no two destination frames are adjacent in "
		 "a pool whose free frames alternate with used ones");
	CHECK_EQ(pat_check(s.map, n * ps, 52, 0), UINT64_MAX,
		 "data intact after the fragmented move (first bad offset)");
	kv_space_free(&s);

	/*
	 * 3: single free frames, and further on a run: the move takes the
	 * run, where taking the next free frame each time would take singles.
	 */
	for (i = qfree / 2 + 1; i < qfree / 2 + 2 * n; i += 2)
		CHECK_ERR(kv_release(fd, hog.c.handle, i, 1, &done), 0,
			  "RELEASE hog page %llu", U(i));
	if (!kv_space_fail(&s, fd, &e, n))
		goto out;
	pat_fill(s.map, n * ps, 53, 0);
	if (!kv_migrate_sync(fd, s.c.handle, 0, n, e.pool[e.Q].tier, 0, &ev))
		goto out;
	CHECK_EQ(ev.status, 0, "MIGRATE with singles and a run free: status");
	breaks = breaks_of(s.map, n, ps);
	bound = n * ps / CHUNK_BYTES + 1;
	CHECK(breaks <= bound, "the move took the run of %llu free frames "
	      "rather than single ones: %llu breaks (at most %llu)",
	      U(2 * n), U(breaks), U(bound));
	CHECK_EQ(pat_check(s.map, n * ps, 53, 0), UINT64_MAX,
		 "data intact after the move (first bad offset)");
out:
	kv_space_free(&s);
	kv_space_free(&hog);
	close(fd);
	snap_back(&s0, 5000, "after the test freed everything");
}
