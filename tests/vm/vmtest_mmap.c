// SPDX-License-Identifier: GPL-2.0
/*
 * kvmem-vmtest: mappings. Data through mappings, isolation between files,
 * zeroed frames, fork, mremap, partial munmap, destroy and close while
 * mapped, concurrent faults and get_user_pages.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmtest.h"

/* --------------------------------------------------------- mmap_data */

void test_mmap_data(void)
{
	struct kv_env e;
	struct kv_space s;
	uint64_t n, size, f0, off;
	uint8_t *b, *c, v;
	int fd;

	if (!kv_setup(&fd, &e, false))
		return;
	f0 = pool_free(e.P);
	n = 8 * MiB / e.ps;
	if (n > f0 / 2)
		n = f0 / 2;
	if (n < 4)
		n = 4;
	size = n * e.ps;
	INFO("space of %llu pages of %llu bytes (%llu KiB)", U(n), U(e.ps),
	     U(size / 1024));
	if (!kv_space_fail(&s, fd, &e, n))
		goto out;
	pat_fill(s.map, size, 1, 0);
	off = pat_check(s.map, size, 1, 0);
	CHECK_EQ(off, UINT64_MAX, "pattern reads back through the mapping "
		 "(first bad offset)");
	CHECK_EQ(pool_free(e.P), f0 - n, "writing took one frame per page");
	CHECK_EQ(kv_resident(fd, s.c.handle, 0, n), n, "all pages resident");

	/* A second mapping of the same space. */
	b = kv_map(fd, s.c.mmap_offset, size);
	if (!CHECK(b != NULL, "second mmap of the same space: %s",
		   b ? "ok" : errname(errno)))
		goto unmap;
	CHECK(b != s.map, "second mapping at another address");
	CHECK_EQ(pat_check(b, size, 1, 0), UINT64_MAX,
		 "second mapping sees the same bytes (first bad offset)");
	pat_fill(b + size / 2, size / 2, 2, 0);
	CHECK_EQ(pat_check(s.map + size / 2, size / 2, 2, 0), UINT64_MAX,
		 "writes through the second mapping show in the first "
		 "(first bad offset)");
	/* Single bytes on both sides of every frame boundary. */
	{
		uint64_t bad = 0;

		for (uint64_t i = 1; i < n; i++) {
			s.map[i * e.ps - 1] = (uint8_t)(i * 3);
			s.map[i * e.ps] = (uint8_t)(i * 5);
		}
		for (uint64_t i = 1; i < n; i++)
			if (b[i * e.ps - 1] != (uint8_t)(i * 3) ||
			    b[i * e.ps] != (uint8_t)(i * 5))
				bad++;
		CHECK_EQ(bad, 0, "bytes around frame boundaries agree in both "
			 "mappings (frames with a mismatch)");
		for (uint64_t i = 1; i < n; i++) {
			s.map[i * e.ps - 1] = 0;
			s.map[i * e.ps] = 0;
		}
		/* put the patterns back */
		pat_fill(s.map, size / 2, 1, 0);
		pat_fill(s.map + size / 2, size / 2, 2, 0);
	}
	CHECK_EQ(pool_free(e.P), f0 - n, "second mapping took no frame");

	/* MADV_DONTNEED drops PTEs only; the data stays in the space. */
	CHECK(!madvise(b, size, MADV_DONTNEED), "madvise(MADV_DONTNEED)");
	CHECK_EQ(pat_check(b, size / 2, 1, 0), UINT64_MAX,
		 "after MADV_DONTNEED the data is still there (first bad "
		 "offset)");
	CHECK_EQ(pool_free(e.P), f0 - n, "MADV_DONTNEED freed no frame");

	/* mprotect read-only: writes fault; back to RW: writes work. */
	CHECK(!mprotect(b, size, PROT_READ), "mprotect(PROT_READ)");
	CHECK_EQ(probe_write(b + 3, 0x42), SIGSEGV,
		 "write to a read-only mapping: signal");
	CHECK(!mprotect(b, size, PROT_READ | PROT_WRITE),
	      "mprotect(PROT_READ|PROT_WRITE)");
	CHECK(probe_write(b + 3, 0x42) == 0 && s.map[3] == 0x42,
	      "write after mprotect back to RW shows in the other mapping");
	s.map[3] = 0;
	pat_fill(s.map, 8, 1, 0);

	munmap(b, size);
unmap:
	munmap(s.map, size);
	s.map = NULL;
	CHECK_EQ(pool_free(e.P), f0 - n,
		 "munmap of both mappings freed no frame");
	c = kv_map(fd, s.c.mmap_offset, size);
	if (CHECK(c != NULL, "re-mmap after munmap: %s",
		  c ? "ok" : errname(errno))) {
		CHECK_EQ(pat_check(c, size / 2, 1, 0), UINT64_MAX,
			 "first half still holds pattern 1 (first bad offset)");
		CHECK_EQ(pat_check(c + size / 2, size / 2, 2, 0), UINT64_MAX,
			 "second half still holds pattern 2 (first bad "
			 "offset)");
		CHECK(probe_read(c + size - 1, &v) == 0, "last byte readable");
		munmap(c, size);
	}
	kv_space_free(&s);
	CHECK_EQ(pool_free(e.P), f0, "destroy gave every frame back");
out:
	close(fd);
}

/* ----------------------------------------------------- mmap_suboffset */

void test_mmap_suboffset(void)
{
	struct kv_env e;
	struct kv_space s;
	uint64_t f0, size, sub, dlen;
	uint8_t *b, *one;
	int fd;

	if (!kv_setup_space(&fd, &e, &s, 6))
		return;
	size = s.size;
	dlen = 4 * e.ps;			/* frames 0..3 get data */
	f0 = pool_free(e.P);
	pat_fill(s.map, dlen, 3, 0);
	sub = e.ps > 3 * CPU_PAGE ? 3 * CPU_PAGE : CPU_PAGE;
	b = kv_map(fd, s.c.mmap_offset + sub, size - sub);
	if (CHECK(b != NULL, "mmap at mmap_offset + %llu: %s", U(sub),
		  b ? "ok" : errname(errno))) {
		CHECK_EQ(pat_check(b, dlen - sub, 3, sub / 8), UINT64_MAX,
			 "it shows the space from byte %llu on (first bad "
			 "offset)", U(sub));
		b[0] = 0xEE;
		CHECK_EQ(s.map[sub], 0xEE, "a write through it shows at byte "
			 "%llu of the full mapping", U(sub));
		munmap(b, size - sub);
	}
	CHECK_EQ(pool_free(e.P), f0 - 4, "no frame taken by these mappings");

	/* One CPU page in the middle of frame 4 (untouched): a touch there
	 * takes the frame; the full mapping then sees it and takes no more. */
	if (e.ps > CPU_PAGE) {
		one = kv_map(fd, s.c.mmap_offset + 4 * e.ps + CPU_PAGE,
			     CPU_PAGE);
		if (CHECK(one != NULL, "mmap one CPU page inside frame 4: %s",
			  one ? "ok" : errname(errno))) {
			memset(one, 0x5D, CPU_PAGE);
			CHECK_EQ(pool_free(e.P), f0 - 5,
				 "touching it took one frame");
			CHECK_EQ(byte_check(s.map + 4 * e.ps + CPU_PAGE,
					    CPU_PAGE, 0x5D), UINT64_MAX,
				 "the full mapping sees it at frame 4 + 4096");
			CHECK_EQ(zero_check(s.map + 4 * e.ps, CPU_PAGE),
				 UINT64_MAX, "the rest of frame 4 reads zero");
			CHECK_EQ(pool_free(e.P), f0 - 5,
				 "touching other CPU pages of frame 4 took no "
				 "new frame");
			munmap(one, CPU_PAGE);
		}
	} else {
		INFO("page_size is the CPU page size: no sub-frame mapping");
	}
	kv_space_free(&s);
	CHECK_EQ(pool_free(e.P), f0, "frames back after destroy");
	close(fd);
}

/* ----------------------------------------------------------- isolation */

/* With a file that is not the space's owner: nothing works. */
static void foreign_checks(int fd, const struct kvmem_space_create *c,
			   const char *who)
{
	struct kvmem_residency res[4];
	uint64_t done, r;
	void *m;

	CHECK_ERR(kv_populate(fd, c->handle, 0, 1, &done), ENOENT,
		  "%s: POPULATE the other file's handle %u", who, c->handle);
	CHECK_ERR(kv_release(fd, c->handle, 0, 1, &done), ENOENT,
		  "%s: RELEASE the other file's handle", who);
	CHECK_ERR(kv_query(fd, c->handle, 0, 1, res, &r), ENOENT,
		  "%s: QUERY the other file's handle", who);
	CHECK_ERR(kv_query(fd, c->handle, 0, 1, NULL, &r), ENOENT,
		  "%s: QUERY (no array) the other file's handle", who);
	CHECK_ERR(kv_destroy(fd, c->handle), ENOENT,
		  "%s: SPACE_DESTROY the other file's handle", who);
	m = kv_map(fd, c->mmap_offset, c->npages * c->page_size);
	CHECK_ERR(m ? 0 : errno, EINVAL,
		  "%s: mmap the other file's mmap_offset 0x%llx", who,
		  U(c->mmap_offset));
	if (m)
		munmap(m, c->npages * c->page_size);
	m = kv_map(fd, c->mmap_offset, CPU_PAGE);
	CHECK_ERR(m ? 0 : errno, EINVAL,
		  "%s: mmap one page at the other file's mmap_offset", who);
	if (m)
		munmap(m, CPU_PAGE);
}

void test_isolation_fork(void)
{
	struct kv_env e;
	struct kv_space s;
	struct kv_snap a, b;
	pid_t pid;
	int fd;

	if (!kv_setup_space(&fd, &e, &s, 4))
		return;
	pat_fill(s.map, 4 * e.ps, 11, 0);
	snap_take(&a);
	pid = xfork();
	if (pid == 0) {
		struct kvmem_space_create own;
		int fd2 = kv_open();

		if (fd2 < 0)
			_exit(1);
		foreign_checks(fd2, &s.c, "child, new file");
		if (CHECK_ERR(kv_create(fd2, e.ps, e.pool[e.P].tier,
					KVMEM_POLICY_FAIL, 0, &own), 0,
			      "child: SPACE_CREATE its own space")) {
			CHECK(own.mmap_offset != s.c.mmap_offset,
			      "child's space has another mmap_offset (0x%llx "
			      "vs 0x%llx)", U(own.mmap_offset),
			      U(s.c.mmap_offset));
			kv_destroy(fd2, own.handle);
		}
		/* and with everything it has, the guess still fails */
		foreign_checks(fd2, &s.c, "child, after its own space");
		close(fd2);
		_exit(vt_failures ? 1 : 0);
	}
	child_done(pid, 30000, "child with its own file");
	snap_take(&b);
	snap_same(&a, &b, "parent's view after the child");
	CHECK_EQ(kv_resident(fd, s.c.handle, 0, 4), 4,
		 "parent's space still fully resident");
	CHECK_EQ(pat_check(s.map, 4 * e.ps, 11, 0), UINT64_MAX,
		 "parent's data intact (first bad offset)");
	kv_space_free(&s);
	close(fd);
}

void test_isolation_same_process(void)
{
	struct kv_env e;
	struct kv_space s;
	struct kvmem_space_create c2;
	struct kv_snap a, b;
	int fd, fd2;

	if (!kv_setup_space(&fd, &e, &s, 4))
		return;
	pat_fill(s.map, 4 * e.ps, 12, 0);
	fd2 = kv_open();
	if (fd2 < 0)
		goto free;
	snap_take(&a);
	foreign_checks(fd2, &s.c, "second file of the same process");
	snap_take(&b);
	snap_same(&a, &b, "after the second file's attempts");
	if (CHECK_ERR(kv_create(fd2, 2 * e.ps, e.pool[e.P].tier,
				KVMEM_POLICY_FAIL, 0, &c2), 0,
		      "SPACE_CREATE in the second file")) {
		void *m = kv_map(fd, c2.mmap_offset, 2 * e.ps);

		CHECK_ERR(m ? 0 : errno, EINVAL,
			  "first file: mmap the second file's space");
		if (m)
			munmap(m, 2 * e.ps);
		if (c2.handle != s.c.handle)
			CHECK_ERR(kv_populate(fd, c2.handle, 0, 1, NULL),
				  ENOENT, "first file: POPULATE the second "
				  "file's handle %u", c2.handle);
		else
			INFO("both files gave handle %u (per-file handles)",
			     c2.handle);
		kv_destroy(fd2, c2.handle);
	}
	close(fd2);
	CHECK_EQ(kv_resident(fd, s.c.handle, 0, 4), 4, "space intact");
	CHECK_EQ(pat_check(s.map, 4 * e.ps, 12, 0), UINT64_MAX,
		 "data intact (first bad offset)");
free:
	kv_space_free(&s);
	close(fd);
}

/* ---------------------------------------------------------- zero tests */

void test_zero_after_reuse(void)
{
	struct kv_env e;
	struct kv_space s;
	uint64_t n, f0, size, bad;
	uint64_t done;
	int fda, fdb;

	if (!kv_setup(&fda, &e, false))
		return;
	f0 = pool_free(e.P);
	n = f0;
	if (n * e.ps > 32 * MiB)
		n = 32 * MiB / e.ps;
	size = n * e.ps;
	INFO("client A fills %llu frames (%llu KiB) of pool%d (%llu free) "
	     "with 0xA5", U(n), U(size / 1024), e.P, U(f0));
	if (!kv_space_fail(&s, fda, &e, n)) {
		close(fda);
		return;
	}
	CHECK_ERR(kv_populate(fda, s.c.handle, 0, n, &done), 0,
		  "A: POPULATE all");
	memset(s.map, 0xA5, size);
	CHECK_EQ(pool_free(e.P), f0 - n, "A holds the frames");
	munmap(s.map, size);
	s.map = NULL;
	close(fda);			/* the close destroys A's space */
	CHECK_EQ(pool_free(e.P), f0, "A's close gave the frames back");

	fdb = kv_open();
	if (fdb < 0)
		return;
	if (!kv_space_fail(&s, fdb, &e, n)) {
		close(fdb);
		return;
	}
	CHECK_ERR(kv_populate(fdb, s.c.handle, 0, n / 2, &done), 0,
		  "B: POPULATE the first half");
	bad = zero_check(s.map, size);	/* second half: faults */
	CHECK_EQ(bad, UINT64_MAX, "B reads only zeros (first non-zero byte)");
	if (bad != UINT64_MAX)
		INFO("byte at %llu is 0x%02x", U(bad), s.map[bad]);
	CHECK_EQ(pool_free(e.P), f0 - n, "B holds the same number of frames");

	/* Again with SPACE_DESTROY instead of close, in the same file. */
	memset(s.map, 0x5A, size);
	kv_space_free(&s);
	CHECK_EQ(pool_free(e.P), f0, "destroy gave the frames back");
	if (kv_space_fail(&s, fdb, &e, n)) {
		bad = zero_check(s.map, size);
		CHECK_EQ(bad, UINT64_MAX, "a new space after a destroyed one "
			 "reads only zeros (first non-zero byte)");
		kv_space_free(&s);
	}
	close(fdb);
}

void test_zero_after_release(void)
{
	struct kv_env e;
	struct kv_space s;
	struct kv_pipes pp;
	uint64_t f0, done, size;
	uint8_t *b;
	int fd;
	pid_t pid;
	char ch;

	if (!kv_setup_space(&fd, &e, &s, 8))
		return;
	size = s.size;
	f0 = pool_free(e.P);
	memset(s.map, 0xA5, size);
	b = kv_map(fd, s.c.mmap_offset, size);
	CHECK(b != NULL, "second mapping");
	if (!pipes_open(&pp))
		goto unmap;
	pid = xfork();
	if (pid == 0) {
		/* Child: sees A5, waits for the release, sees zeros. */
		CHECK_EQ(byte_check(s.map + 2 * e.ps, 4 * e.ps, 0xA5),
			 UINT64_MAX, "child: pages 2..5 hold 0xA5 before");
		pipe_send(pp.c2p[1], 'r');
		if (!pipe_recv(pp.p2c[0], &ch, 20000))
			_exit(3);
		CHECK_EQ(zero_check(s.map + 2 * e.ps, 4 * e.ps), UINT64_MAX,
			 "child: released pages 2..5 read zero (first "
			 "non-zero)");
		CHECK_EQ(byte_check(s.map, 2 * e.ps, 0xA5), UINT64_MAX,
			 "child: pages 0..1 keep 0xA5");
		_exit(vt_failures ? 1 : 0);
	}
	if (!pipe_recv(pp.c2p[0], &ch, 20000))
		CHECK(0, "child did not get ready");
	CHECK_ERR(kv_release(fd, s.c.handle, 2, 4, &done), 0,
		  "RELEASE pages 2..5 (mapped twice here and in a child)");
	CHECK_EQ(done, 4, "done");
	CHECK_EQ(pool_free(e.P), f0 - 4, "frames back in the pool");
	CHECK_EQ(zero_check(s.map + 2 * e.ps, 4 * e.ps), UINT64_MAX,
		 "first mapping: released pages read zero (first non-zero)");
	if (b)
		CHECK_EQ(zero_check(b + 2 * e.ps, 4 * e.ps), UINT64_MAX,
			 "second mapping: released pages read zero");
	CHECK_EQ(byte_check(s.map + 6 * e.ps, 2 * e.ps, 0xA5), UINT64_MAX,
		 "pages 6..7 keep 0xA5");
	CHECK_EQ(pool_free(e.P), f0 - 8, "reading them took 4 fresh frames");
	pipe_send(pp.p2c[1], 'd');
	child_done(pid, 30000, "child mapping");
	pipes_close(&pp);
unmap:
	if (b)
		munmap(b, size);
	kv_space_free(&s);
	CHECK_EQ(pool_free(e.P), f0, "frames back after destroy");
	close(fd);
}

/* --------------------------------------------------------------- fork */

void test_fork_shared(void)
{
	struct kv_env e;
	struct kv_space s;
	struct kv_snap a;
	uint64_t f0;
	int fd;
	pid_t pid;

	if (!kv_setup_space(&fd, &e, &s, 16))
		return;
	pat_fill(s.map, 8 * e.ps, 1, 0);
	f0 = pool_free(e.P);
	snap_take(&a);
	pid = xfork();
	if (pid == 0) {
		uint64_t done = 0;

		CHECK_EQ(pat_check(s.map, 8 * e.ps, 1, 0), UINT64_MAX,
			 "child reads the parent's data (first bad offset)");
		pat_fill(s.map, 8 * e.ps, 2, 0);
		CHECK_EQ(kv_resident(fd, s.c.handle, 0, 16), 8,
			 "child: QUERY with the inherited fd and handle");
		CHECK_ERR(kv_populate(fd, s.c.handle, 8, 4, &done), 0,
			  "child: POPULATE pages 8..11 with the inherited fd");
		CHECK_EQ(done, 4, "child: done");
		pat_fill(s.map + 8 * e.ps, 4 * e.ps, 3, 0);
		s.map[12 * e.ps] = 0x77;	/* a fault in the child */
		_exit(vt_failures ? 1 : 0);
	}
	child_done(pid, 30000, "child");
	CHECK_EQ(pat_check(s.map, 8 * e.ps, 2, 0), UINT64_MAX,
		 "parent sees the child's writes (first bad offset)");
	CHECK_EQ(pat_check(s.map + 8 * e.ps, 4 * e.ps, 3, 0), UINT64_MAX,
		 "parent sees data in the pages the child populated");
	CHECK_EQ(s.map[12 * e.ps], 0x77,
		 "parent sees the page the child faulted in");
	CHECK_EQ(kv_resident(fd, s.c.handle, 0, 16), 13,
		 "resident (8 + 4 populated + 1 faulted by the child)");
	CHECK_EQ(pool_free(e.P), f0 - 5, "the child's exit released nothing: "
		 "frames_free = before - child's 5 new pages");
	CHECK_EQ(kv_sys_clients(), a.clients, "clients unchanged (fork does "
		 "not make a client)");
	CHECK_EQ(kv_sys_spaces(), a.spaces, "spaces unchanged");
	kv_space_free(&s);
	close(fd);
}

/* ------------------------------------------------------------- mremap */

void test_mremap_move(void)
{
	struct kv_env e;
	struct kv_space s;
	uint64_t f0, size;
	uint8_t *target, *moved, *m2, *old, v;
	int fd;

	if (!kv_setup_space(&fd, &e, &s, 8))
		return;
	size = s.size;
	old = s.map;
	pat_fill(s.map, 7 * e.ps, 4, 0);	/* page 7 untouched */
	f0 = pool_free(e.P);
	target = mmap(NULL, size + 2 * e.ps, PROT_NONE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!CHECK(target != MAP_FAILED, "reserve a target range"))
		goto free;
	target += e.ps;
	moved = mremap(s.map, size, size, MREMAP_MAYMOVE | MREMAP_FIXED,
		       target);
	if (!CHECK(moved == target, "mremap MAYMOVE|FIXED to a new address: "
		   "%s", moved == MAP_FAILED ? errname(errno) : "ok")) {
		munmap(target - e.ps, size + 2 * e.ps);
		goto free;
	}
	CHECK_EQ(probe_read(s.map, &v), SIGSEGV, "old address is unmapped");
	s.map = moved;
	CHECK_EQ(pat_check(moved, 7 * e.ps, 4, 0), UINT64_MAX,
		 "data at the new address (first bad offset)");
	CHECK_EQ(pool_free(e.P), f0, "moving took or freed no frame");
	memset(moved + 7 * e.ps, 0x6B, e.ps);	/* fault after the move */
	CHECK_EQ(pool_free(e.P), f0 - 1, "touching page 7 took one frame");
	pat_fill(moved, 8, 5, 0);
	m2 = kv_map(fd, s.c.mmap_offset, size);
	if (CHECK(m2 != NULL, "a fresh mapping of the space")) {
		CHECK_EQ(pat_check(m2, 8, 5, 0), UINT64_MAX,
			 "it sees writes made through the moved mapping");
		CHECK_EQ(byte_check(m2 + 7 * e.ps, e.ps, 0x6B), UINT64_MAX,
			 "and the page faulted after the move, at page 7");
		munmap(m2, size);
	}
	/* Back to where it was (a free range now), by the kernel's rules. */
	moved = mremap(s.map, size, size, MREMAP_MAYMOVE | MREMAP_FIXED,
		       old);
	CHECK(moved == old, "mremap back to the old address: %s",
	      moved == MAP_FAILED ? errname(errno) : "ok");
	if (moved != MAP_FAILED)
		s.map = moved;
	CHECK_EQ(pat_check(s.map + 8, 7 * e.ps - 8, 4, 1), UINT64_MAX,
		 "data still there after the second move");
	CHECK_EQ(pool_free(e.P), f0 - 1,
		 "no frame taken or freed by the moves");
	munmap(target - e.ps, e.ps);
	munmap(target + size, e.ps);
free:
	kv_space_free(&s);
	close(fd);
}

void test_mremap_shrink_grow(void)
{
	struct kv_env e;
	struct kv_space s;
	uint64_t f0, size, half;
	uint8_t *p, *m2, v;
	int fd, err;

	if (!kv_setup_space(&fd, &e, &s, 8))
		return;
	size = s.size;
	half = size / 2;
	pat_fill(s.map, size, 6, 0);
	f0 = pool_free(e.P);
	p = mremap(s.map, size, half, 0);
	if (!CHECK(p == s.map, "mremap shrink to half in place: %s",
		   p == MAP_FAILED ? errname(errno) : "ok"))
		goto free;
	s.size = half;
	CHECK_EQ(pat_check(p, half, 6, 0), UINT64_MAX,
		 "first half keeps its data (first bad offset)");
	CHECK_EQ(probe_read(p + half, &v), SIGSEGV,
		 "the cut-off half is unmapped");
	CHECK_EQ(pool_free(e.P), f0, "shrinking freed no frame");

	p = mremap(s.map, half, size, 0);
	err = p == MAP_FAILED ? errno : 0;
	CHECK_ERR(err, EFAULT, "mremap grow in place (VM_DONTEXPAND)");
	if (!err)
		s.size = size;
	if (!err)
		goto free;
	p = mremap(s.map, half, size, MREMAP_MAYMOVE);
	err = p == MAP_FAILED ? errno : 0;
	CHECK_ERR(err, EFAULT, "mremap grow with MREMAP_MAYMOVE");
	if (!err) {
		s.map = p;
		s.size = size;
		goto free;
	}
	CHECK_EQ(pat_check(s.map, half, 6, 0), UINT64_MAX,
		 "after the failed grows the mapping still works");
	m2 = kv_map(fd, s.c.mmap_offset, size);
	if (CHECK(m2 != NULL, "a fresh full mapping")) {
		CHECK_EQ(pat_check(m2, size, 6, 0), UINT64_MAX,
			 "the whole space keeps its data, the second half too");
		munmap(m2, size);
	}
free:
	kv_space_free(&s);
	close(fd);
}

/* ----------------------------------------------------- partial munmap */

void test_munmap_partial(void)
{
	struct kv_env e;
	struct kv_space s;
	uint64_t f0, ps;
	uint8_t *m, *mid, v;
	int fd;

	if (!kv_setup_space(&fd, &e, &s, 16))
		return;
	ps = e.ps;
	m = s.map;
	pat_fill(m, 12 * ps, 7, 0);		/* pages 12..15 untouched */
	f0 = pool_free(e.P);
	if (!CHECK(!munmap(m + 6 * ps, 4 * ps), "munmap pages 6..9 (middle)"))
		goto free;
	CHECK_EQ(pool_free(e.P), f0, "partial munmap freed no frame");
	CHECK_EQ(probe_read(m + 7 * ps, &v), SIGSEGV, "the middle is unmapped");
	CHECK_EQ(pat_check(m, 6 * ps, 7, 0), UINT64_MAX,
		 "head keeps its data (first bad offset)");
	CHECK_EQ(pat_check(m + 10 * ps, 2 * ps, 7, 10 * ps / 8), UINT64_MAX,
		 "tail keeps its data (first bad offset)");
	pat_fill(m, 6 * ps, 8, 0);
	memset(m + 12 * ps, 0x3E, 4 * ps);	/* faults in the tail */
	CHECK_EQ(pat_check(m, 6 * ps, 8, 0), UINT64_MAX,
		 "head takes new writes");
	CHECK_EQ(byte_check(m + 12 * ps, 4 * ps, 0x3E), UINT64_MAX,
		 "tail takes new writes and faults");
	CHECK_EQ(pool_free(e.P), f0 - 4, "faults in the tail took 4 frames");
	mid = kv_map(fd, s.c.mmap_offset + 6 * ps, 4 * ps);
	if (CHECK(mid != NULL, "re-mmap the middle at offset + 6 pages: %s",
		  mid ? "ok" : errname(errno))) {
		CHECK_EQ(pat_check(mid, 4 * ps, 7, 6 * ps / 8), UINT64_MAX,
			 "the middle's data is still in the space");
		munmap(mid, 4 * ps);
	}
	CHECK_EQ(kv_resident(fd, s.c.handle, 0, 16), 16, "all resident");

	/* A hole of one CPU page inside an untouched frame. */
	if (ps > CPU_PAGE) {
		uint8_t *fr;

		kv_release(fd, s.c.handle, 13, 1, NULL);
		fr = m + 13 * ps;
		if (CHECK(!munmap(fr + CPU_PAGE, CPU_PAGE),
			  "munmap one CPU page inside frame 13")) {
			uint64_t f1 = pool_free(e.P);

			fr[0] = 1;
			CHECK_EQ(pool_free(e.P), f1 - 1,
				 "touching frame 13 before the hole: 1 frame");
			fr[2 * CPU_PAGE] = 2;
			fr[ps - 1] = 3;
			CHECK_EQ(pool_free(e.P), f1 - 1,
				 "touching it after the hole: no new frame");
			CHECK_EQ(probe_read(fr + CPU_PAGE, &v), SIGSEGV,
				 "the hole is unmapped");
			mid = kv_map(fd, s.c.mmap_offset + 13 * ps, ps);
			if (CHECK(mid != NULL, "map frame 13 alone")) {
				CHECK(mid[0] == 1 && mid[2 * CPU_PAGE] == 2 &&
				      mid[ps - 1] == 3 &&
				      zero_check(mid + CPU_PAGE, CPU_PAGE) ==
				      UINT64_MAX,
				      "frame 13 holds what both sides wrote, "
				      "zeros in the hole");
				munmap(mid, ps);
			}
		}
	}
	munmap(m, 6 * ps);
	munmap(m + 10 * ps, 6 * ps);	/* the hole inside is fine too */
	s.map = NULL;
free:
	kv_space_free(&s);
	CHECK_EQ(pool_free(e.P), f0 + 12, "all frames back after destroy");
	close(fd);
}

/* ------------------------------------------------ destroy while mapped */

void test_destroy_mapped(void)
{
	struct kv_env e;
	struct kv_space s;
	uint64_t f0, f1, size, sp;
	uint8_t *b, v;
	uint32_t h;
	void *m;
	int fd, sig;

	if (!kv_setup_space(&fd, &e, &s, 8))
		return;
	size = s.size;
	f0 = pool_free(e.P);
	memset(s.map, 0x21, 6 * e.ps);		/* pages 6, 7 untouched */
	b = kv_map(fd, s.c.mmap_offset, size);
	CHECK(b != NULL, "second mapping");
	f1 = pool_free(e.P);
	sp = kv_sys_spaces();
	CHECK_EQ(f1, f0 - 6, "6 frames in use");
	if (!CHECK_ERR(kv_destroy(fd, s.c.handle), 0,
		       "SPACE_DESTROY while mapped twice"))
		goto unmap;
	h = s.c.handle;
	s.c.handle = 0;
	CHECK_EQ(pool_free(e.P), f0, "frames back in the pool at once");
	CHECK_EQ(kv_sys_spaces(), sp - 1, "sysfs spaces -1 at once");
	sig = probe_read(s.map, &v);
	CHECK_EQ(sig, SIGBUS, "read of a formerly backed page: signal");
	if (sig == SIGBUS)
		CHECK(probe_addr == s.map, "SIGBUS si_addr %p is the touched "
		      "address %p", probe_addr, (void *)s.map);
	CHECK_EQ(probe_write(s.map + 3 * e.ps + 17, 1), SIGBUS,
		 "write to a formerly backed page: signal");
	CHECK_EQ(probe_read(s.map + 7 * e.ps, &v), SIGBUS,
		 "read of a never backed page: signal");
	if (b)
		CHECK_EQ(probe_read(b + e.ps, &v), SIGBUS,
			 "read through the second mapping: signal");
	CHECK_EQ(pool_free(e.P), f0, "the touches took no frame");
	m = kv_map(fd, s.c.mmap_offset, size);
	CHECK_ERR(m ? 0 : errno, EINVAL, "mmap of the destroyed space");
	if (m)
		munmap(m, size);
	CHECK_ERR(kv_query(fd, h, 0, 1, NULL, NULL), ENOENT,
		  "QUERY of the destroyed handle");
unmap:
	CHECK(!munmap(s.map, size), "munmap after destroy");
	s.map = NULL;
	if (b)
		CHECK(!munmap(b, size), "munmap of the second mapping");
	kv_space_free(&s);
	CHECK_EQ(pool_free(e.P), f0, "frames_free at the end");
	close(fd);
}

void test_destroy_mapped_child(void)
{
	struct kv_env e;
	struct kv_space s;
	struct kv_pipes pp;
	uint64_t f0, size;
	int fd, st2;
	pid_t c1, c2;
	char ch;

	if (!kv_setup_space(&fd, &e, &s, 4))
		return;
	size = s.size;
	f0 = pool_free(e.P);
	pat_fill(s.map, size, 9, 0);
	if (!pipes_open(&pp))
		goto free;
	/* Child 1 catches the SIGBUS; child 2 dies of it. */
	c1 = xfork();
	if (c1 == 0) {
		uint8_t v;

		close(fd);	/* its mapping alone */
		CHECK_EQ(pat_check(s.map, size, 9, 0), UINT64_MAX,
			 "child 1: data before the destroy");
		pipe_send(pp.c2p[1], '1');
		if (!pipe_recv(pp.p2c[0], &ch, 20000))
			_exit(3);
		CHECK_EQ(probe_read(s.map + e.ps, &v), SIGBUS,
			 "child 1: read after the parent's destroy: signal");
		CHECK_EQ(probe_write(s.map, 1), SIGBUS,
			 "child 1: write after the destroy: signal");
		CHECK(!munmap(s.map, size), "child 1: munmap");
		_exit(vt_failures ? 1 : 0);
	}
	c2 = xfork();
	if (c2 == 0) {
		volatile uint8_t *p = s.map;

		signal(SIGBUS, SIG_DFL);
		signal(SIGSEGV, SIG_DFL);
		close(fd);
		pipe_send(pp.c2p[1], '2');
		if (!pipe_recv(pp.p2c[0], &ch, 20000))
			_exit(3);
		(void)p[2 * e.ps];	/* must die of SIGBUS here */
		_exit(4);
	}
	pipe_recv(pp.c2p[0], &ch, 20000);
	pipe_recv(pp.c2p[0], &ch, 20000);
	CHECK_ERR(kv_destroy(fd, s.c.handle), 0,
		  "SPACE_DESTROY while two children map the space");
	s.c.handle = 0;
	CHECK_EQ(pool_free(e.P), f0, "frames back at once");
	pipe_send(pp.p2c[1], 'd');
	pipe_send(pp.p2c[1], 'd');
	child_done(c1, 30000, "child 1 (handler)");
	st2 = xwait_timeout(c2, 30000);
	CHECK(st2 >= 0 && WIFSIGNALED(st2) && WTERMSIG(st2) == SIGBUS,
	      "child 2 killed by SIGBUS (status 0x%x: %s %d)", st2,
	      st2 >= 0 && WIFSIGNALED(st2) ? "signal" : "exit",
	      st2 < 0 ? -1 : WIFSIGNALED(st2) ? WTERMSIG(st2) :
	      WEXITSTATUS(st2));
	pipes_close(&pp);
free:
	kv_space_free(&s);
	close(fd);
}

/* -------------------------------------------------- close while mapped */

void test_close_mapped(void)
{
	struct kv_env e;
	struct kv_space s;
	struct kv_snap s0, s1;
	uint64_t size, f1;
	uint8_t *b;
	int fd;

	snap_take(&s0);
	if (!kv_setup_space(&fd, &e, &s, 8))
		return;
	size = s.size;
	pat_fill(s.map, 6 * e.ps, 13, 0);
	b = kv_map(fd, s.c.mmap_offset, size);
	CHECK(b != NULL, "second mapping");
	f1 = pool_free(e.P);
	CHECK(!close(fd), "close(fd) while mapped");
	CHECK_EQ(kv_sys_clients(), s0.clients + 1,
		 "sysfs clients unchanged by the close (mapping alive)");
	CHECK_EQ(kv_sys_spaces(), s0.spaces + 1, "the space is alive");
	CHECK_EQ(pool_free(e.P), f1, "no frame returned yet");
	CHECK_EQ(pat_check(s.map, 6 * e.ps, 13, 0), UINT64_MAX,
		 "data readable after close (first bad offset)");
	memset(s.map + 6 * e.ps, 0x4F, 2 * e.ps);	/* new faults */
	CHECK_EQ(pool_free(e.P), f1 - 2,
		 "faults after close still take frames");
	CHECK_EQ(byte_check(b + 6 * e.ps, 2 * e.ps, 0x4F), UINT64_MAX,
		 "writes after close show in the other mapping");
	CHECK(!munmap(s.map, size), "munmap the first mapping");
	s.map = NULL;
	CHECK_EQ(kv_sys_clients(), s0.clients + 1,
		 "client alive while the second mapping is");
	CHECK_EQ(pat_check(b, 6 * e.ps, 13, 0), UINT64_MAX,
		 "second mapping still has the data");
	if (b)
		CHECK(!munmap(b, size), "munmap the last mapping");
	snap_take(&s1);
	snap_same(&s0, &s1, "after the last munmap: client, space and frames "
		  "gone");
}

void test_close_mapped_child(void)
{
	struct kv_env e;
	struct kv_space s;
	struct kv_snap s0, s1;
	struct kv_pipes pp;
	uint64_t size;
	int fd;
	pid_t pid;
	char ch;

	snap_take(&s0);
	if (!kv_setup_space(&fd, &e, &s, 4))
		return;
	size = s.size;
	pat_fill(s.map, size, 14, 0);
	if (!pipes_open(&pp)) {
		kv_space_free(&s);
		close(fd);
		return;
	}
	pid = xfork();
	if (pid == 0) {
		close(fd);
		pipe_send(pp.c2p[1], 'c');		/* closed my fd */
		if (!pipe_recv(pp.p2c[0], &ch, 20000))	/* parent let go */
			_exit(3);
		CHECK_EQ(pat_check(s.map, size, 14, 0), UINT64_MAX,
			 "child: data there after everyone closed");
		pat_fill(s.map, size, 15, 0);
		CHECK_EQ(pat_check(s.map, size, 15, 0), UINT64_MAX,
			 "child: can still write");
		_exit(vt_failures ? 1 : 0);	/* exit unmaps */
	}
	pipe_recv(pp.c2p[0], &ch, 20000);
	munmap(s.map, size);
	s.map = NULL;
	close(fd);
	CHECK_EQ(kv_sys_clients(), s0.clients + 1,
		 "parent closed and unmapped: the child's mapping keeps the "
		 "client");
	CHECK_EQ(kv_sys_spaces(), s0.spaces + 1, "and its space");
	pipe_send(pp.p2c[1], 'g');
	child_done(pid, 30000, "child");
	pipes_close(&pp);
	snap_take(&s1);
	snap_same(&s0, &s1, "after the child's exit: everything freed");
}

/* ---------------------------------------------------------- fault_race */

/*
 * Two children (two CPUs) race on first touches (and populate/release) of
 * the same pages through inherited mappings. Whatever the interleaving:
 * one frame per resident page, frames_free = before - resident, and both
 * children's writes are in the page.
 */
static void race_round(int fd, struct kv_env *e, struct kv_space *s,
		       uint64_t n, int mode, uint64_t f0)
{
	int go[2];
	pid_t pid[2];
	uint64_t r;

	if (pipe(go)) {
		CHECK(0, "pipe");
		return;
	}
	for (int i = 0; i < 2; i++) {
		pid[i] = xfork();
		if (pid[i] == 0) {
			char ch;

			close(go[1]);
			(void)!read(go[0], &ch, 1);	/* EOF = go */
			if (mode == 1 && i == 0) {
				kv_populate(fd, s->c.handle, 0, n, NULL);
			} else if (mode == 2 && i == 0) {
				for (uint64_t p = 0; p < n; p++)
					kv_release(fd, s->c.handle, p, 1, NULL);
			} else {
				for (uint64_t p = 0; p < n; p++)
					s->map[p * e->ps + 8 * (uint64_t)i + 64] =
						(uint8_t)(0x10 + i);
			}
			_exit(0);
		}
	}
	close(go[0]);
	sleep_ms(20);
	close(go[1]);
	for (int i = 0; i < 2; i++)
		child_done(pid[i], 60000, "race child");
	r = kv_resident(fd, s->c.handle, 0, n);
	CHECK_EQ(pool_free(e->P), f0 - r, "mode %d: frames_free = before - "
		 "resident (%llu)", mode, U(r));
	if (mode != 2) {
		uint64_t bad = 0;

		CHECK_EQ(r, n, "mode %d: every page resident", mode);
		for (uint64_t p = 0; p < n; p++) {
			if (mode == 0 && s->map[p * e->ps + 64] != 0x10)
				bad++;
			if (s->map[p * e->ps + 72] != 0x11)
				bad++;
		}
		CHECK_EQ(bad, 0, "mode %d: racing writers' bytes all landed "
			 "(missing bytes)", mode);
	}
	kv_release(fd, s->c.handle, 0, n, NULL);
	CHECK_EQ(pool_free(e->P), f0, "mode %d: all back after RELEASE", mode);
}

void test_fault_race(void)
{
	struct kv_env e;
	struct kv_space s;
	uint64_t n, f0;
	int fd;

	if (!kv_setup(&fd, &e, false))
		return;
	f0 = pool_free(e.P);
	n = 4 * MiB / e.ps;
	if (n > f0)
		n = f0;
	if (n < 2)
		n = 2;
	if (!kv_space_fail(&s, fd, &e, n))
		goto out;
	for (int round = 0; round < 3; round++) {
		INFO("round %d: two children touch the same %llu pages",
		     round, U(n));
		race_round(fd, &e, &s, n, 0, f0);
	}
	INFO("one child populates while the other touches");
	race_round(fd, &e, &s, n, 1, f0);
	INFO("one child releases page by page while the other touches");
	race_round(fd, &e, &s, n, 2, f0);
	kv_space_free(&s);
	CHECK_EQ(pool_free(e.P), f0, "frames back after destroy");
out:
	close(fd);
}

/* ---------------------------------------------------------- gup_proc_mem */

void test_gup_proc_mem(void)
{
	struct kv_env e;
	struct kv_space s;
	uint64_t f0;
	uint8_t buf[256];
	int fd, mfd, pfd[2];
	ssize_t n;

	if (!kv_setup_space(&fd, &e, &s, 4))
		return;
	f0 = pool_free(e.P);
	pat_fill(s.map, e.ps, 16, 0);
	mfd = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
	if (CHECK(mfd >= 0, "open /proc/self/mem")) {
		n = pread(mfd, buf, sizeof(buf),
			  (off_t)(uintptr_t)(s.map + 512));
		CHECK_EQ(n, sizeof(buf), "pread /proc/self/mem of a backed "
			 "page (get_user_pages)");
		if (n == sizeof(buf))
			CHECK(!memcmp(buf, s.map + 512, sizeof(buf)),
			      "it returns the mapping's bytes");
		memset(buf, 0xC3, sizeof(buf));
		n = pwrite(mfd, buf, sizeof(buf),
			   (off_t)(uintptr_t)(s.map + 2 * e.ps + 100));
		CHECK_EQ(n, sizeof(buf), "pwrite /proc/self/mem into an "
			 "unbacked page (get_user_pages faults it in)");
		CHECK_EQ(byte_check(s.map + 2 * e.ps + 100, sizeof(buf),
				    0xC3), UINT64_MAX,
			 "the mapping sees the bytes");
		CHECK_EQ(pool_free(e.P), f0 - 2, "that took one frame");
		close(mfd);
	}
	/* Kernel copies to and from the mapping (copy_{to,from}_user). */
	if (CHECK(!pipe(pfd), "pipe")) {
		n = write(pfd[1], s.map + 1000, 300);
		CHECK_EQ(n, 300, "write() from the mapping into a pipe");
		n = read(pfd[0], s.map + 3 * e.ps + 10, 300);
		CHECK_EQ(n, 300, "read() from the pipe into an unbacked page");
		CHECK(!memcmp(s.map + 1000, s.map + 3 * e.ps + 10, 300),
		      "the bytes arrived");
		CHECK_EQ(pool_free(e.P), f0 - 3, "that took one frame");
		close(pfd[0]);
		close(pfd[1]);
	}
	kv_space_free(&s);
	close(fd);
}

/* ------------------------------------------------------ gup_pin_release */

/*
 * A page pinned by someone else (here: vmsplice() into a pipe, which keeps
 * references to the pages) when its space lets it go must never be handed
 * to another space: the pipe must keep reading the old bytes even after
 * another client took and overwrote every free frame of the pool. It stays
 * an orphan in its slot, and is a free frame again once the pipe is gone.
 */
void test_gup_pin_release(void)
{
	struct kv_env e;
	struct kv_space s, o;
	struct kv_snap s0;
	static uint8_t buf[CPU_PAGE];
	struct iovec iov;
	uint64_t done, f1, t1, n;
	ssize_t k;
	int fd, fd2, pfd[2];

	snap_take(&s0);
	if (!kv_setup_space(&fd, &e, &s, 2))
		goto out;
	pat_fill(s.map, e.ps, 21, 0);
	if (!CHECK(!pipe(pfd), "pipe"))
		goto free;
	iov.iov_base = s.map;
	iov.iov_len = CPU_PAGE;
	k = vmsplice(pfd[1], &iov, 1, 0);
	if (!CHECK_EQ(k, CPU_PAGE, "vmsplice the first CPU page into a pipe "
		      "(the pipe holds a page reference)"))
		goto pipe;
	f1 = pool_free(e.P);
	t1 = pool_u64(e.P, "frames_total");
	CHECK_ERR(kv_release(fd, s.c.handle, 0, 1, &done), 0,
		  "RELEASE the page while the pipe holds it");
	CHECK_EQ(done, 1, "done");
	CHECK_EQ(pool_u64(e.P, "frames_total"), t1, "the pool still owns "
		 "%llu frames (the pinned one is an orphan, not replaced)",
		 U(t1));
	CHECK_EQ(pool_free(e.P), f1, "no more free frames: the orphan keeps "
		 "its slot");
	CHECK_EQ(pool_u64(e.P, "frames_orphaned"), 1, "frames_orphaned");
	CHECK_EQ(zero_check(s.map, e.ps), UINT64_MAX,
		 "the space's page reads zero again");

	/* Another client takes every free frame and overwrites it. */
	fd2 = kv_open();
	n = pool_free(e.P);
	if (fd2 >= 0 && kv_space_fail(&o, fd2, &e, n)) {
		CHECK_ERR(kv_populate(fd2, o.c.handle, 0, n, &done), 0,
			  "another client takes all %llu free frames", U(n));
		memset(o.map, 0xEE, n * e.ps);
		k = read(pfd[0], buf, sizeof(buf));
		CHECK_EQ(k, CPU_PAGE, "read the pipe");
		CHECK_EQ(pat_check(buf, CPU_PAGE, 21, 0), UINT64_MAX,
			 "the pipe still has the old bytes: the pinned frame "
			 "went to nobody (first bad offset)");
		if (pat_check(buf, CPU_PAGE, 21, 0) != UINT64_MAX)
			INFO("pipe byte 0 is 0x%02x", buf[0]);
		kv_space_free(&o);
	}
	if (fd2 >= 0)
		close(fd2);
pipe:
	close(pfd[0]);
	close(pfd[1]);
free:
	kv_space_free(&s);
	close(fd);
out:
	{
		/* The reaper finds the orphan free within a poll or two. */
		snap_back(&s0, 3000, "after the pipe is gone");
	}
}
