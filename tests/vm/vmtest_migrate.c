// SPDX-License-Identifier: GPL-2.0
/*
 * kvmem-vmtest: KVMEM_IOC_MIGRATE (Documentation/ioctl.md, "KVMEM_IOC_MIGRATE"
 * and design.md, "Migration"): the completion event, residency and data
 * after a move, data integrity under concurrent access while a space moves
 * back and forth, clean copies (KEEP_COPY) and their reuse, ordering,
 * exhaustion of the target tier, and destroy, close, kill and RELEASE while
 * migrations run. Pool P is the DRAM pool (node 0), Q the CXL pool (node 1).
 */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmtest.h"

#define KEEP	KVMEM_MIGRATE_KEEP_COPY
#define EV_WAIT_MS	20000

/* ------------------------------------------------------------ fixture */

/*
 * A file, its pools, and a mapped FAIL space of pool P's tier whose first
 * `fill` pages are backed and hold pattern `seed`. s0 is the module state
 * before the test; mfx_fini() checks that it comes back.
 */
struct mfx {
	int fd;
	struct kv_env e;
	struct kv_space s;
	uint64_t ps;
	uint32_t h;
	uint32_t tp, tq;	/* tiers of pools P and Q */
	uint16_t P, Q;
	struct kv_reserves r;
	struct kv_snap s0;
};

static bool mfx_space(struct mfx *x, uint64_t pages, uint64_t fill,
		      uint64_t seed)
{
	if (!kv_space_fail(&x->s, x->fd, &x->e, pages))
		return false;
	x->h = x->s.c.handle;
	pat_fill(x->s.map, fill * x->ps, seed, 0);
	return true;
}

static bool mfx_init(struct mfx *x, uint64_t pages, uint64_t fill,
		     uint64_t seed)
{
	memset(x, 0, sizeof(*x));
	snap_take(&x->s0);
	if (!kv_setup(&x->fd, &x->e, true))
		return false;
	x->ps = x->e.ps;
	x->P = (uint16_t)x->e.P;
	x->Q = (uint16_t)x->e.Q;
	x->tp = x->e.pool[x->P].tier;
	x->tq = x->e.pool[x->Q].tier;
	if (!pages)
		return true;
	if (mfx_space(x, pages, fill, seed))
		return true;
	close(x->fd);
	x->fd = -1;
	return false;
}

static void mfx_fini(struct mfx *x)
{
	kv_space_free(&x->s);
	if (x->fd >= 0)
		close(x->fd);
	x->fd = -1;
	reserve_undo(&x->r);
	snap_back(&x->s0, 5000, "after the test freed everything");
}

/* Pages [first, first+count) of the space all in pool `pool`. */
static bool all_in(struct mfx *x, uint64_t first, uint64_t count,
		   uint16_t pool, const char *what)
{
	return CHECK_EQ(kv_count_in(x->fd, x->h, first, count, pool, false),
			count, "%s: pages %llu..%llu in pool %u (QUERY)", what,
			U(first), U(first + count - 1), pool);
}

/* Same for the clean copies of the pages. */
static bool copies_in(struct mfx *x, uint64_t first, uint64_t count,
		      uint16_t pool, const char *what)
{
	return CHECK_EQ(kv_count_in(x->fd, x->h, first, count, pool, true),
			count, "%s: QUERY copy of pages %llu..%llu is %s%u",
			what, U(first), U(first + count - 1),
			pool == KVMEM_POOL_NONE ? "NONE=" : "pool ", pool);
}

/* Pattern check of pages [first, first+count) through the mapping. */
static bool data_ok(struct mfx *x, uint64_t first, uint64_t count,
		    uint64_t seed, const char *what)
{
	return CHECK_EQ(pat_check(x->s.map + first * x->ps, count * x->ps,
				  seed, first * x->ps / 8), UINT64_MAX,
			"%s: data of pages %llu..%llu intact (first bad "
			"offset)", what, U(first), U(first + count - 1));
}

/* MIGRATE + its event: status, pages in the target, pages copied and
 * reused (KV_ANY: not checked). */
static bool move_ok(struct mfx *x, uint64_t first, uint64_t count,
		    uint32_t tier, uint32_t flags, int status, uint64_t pages,
		    uint64_t copied, uint64_t reused, const char *what)
{
	struct kvmem_event ev;
	struct kv_evx exp = {
		.seq = KV_ANY, .id = KV_ANY, .cookie = KV_ANY,
		.handle = x->h, .status = status, .pages = pages,
		.copied = copied == KV_ANY ? KV_ANY : copied * x->ps,
		.reused = reused == KV_ANY ? KV_ANY : reused * x->ps,
	};

	INFO("%s: MIGRATE pages %llu..%llu to %s%s", what, U(first),
	     U(first + count - 1), tier_name(tier),
	     flags & KEEP ? " with KEEP_COPY" : "");
	if (!kv_migrate_sync(x->fd, x->h, first, count, tier, flags, &ev))
		return false;
	return kv_event_is(&ev, &exp, what);
}

/* Frames in use in pools P and Q must be p and q. */
static void used_are(struct mfx *x, uint64_t p, uint64_t q, const char *what)
{
	CHECK_EQ(pool_u64(x->P, "frames_used"), p, "%s: pool%u frames used",
		 what, x->P);
	CHECK_EQ(pool_u64(x->Q, "frames_used"), q, "%s: pool%u frames used",
		 what, x->Q);
}

/* ------------------------------------------------------ migrate_basic */

void test_migrate_basic(void)
{
	const uint64_t n = 8, res = 6;	/* pages 6 and 7 stay absent */
	const uint64_t ck1 = 0x8000000000000001ULL, ck2 = 0x1234;
	struct kv_evx exp = { .status = 0, .reused = 0 };
	struct kvmem_event ev;
	struct mfx x;
	struct pollfd pfd;
	uint64_t id, fp, fq, w;
	ssize_t k;
	int err, fd2;

	if (!mfx_init(&x, n, res, 31))
		return;
	exp.handle = x.h;
	CHECK((x.e.info.features & KVMEM_FEATURE_MIGRATE) &&
	      (x.e.info.features & KVMEM_FEATURE_EVENTS),
	      "GET_INFO features include MIGRATE and EVENTS (0x%llx)",
	      U(x.e.info.features));
	CHECK(!kv_event_ready(x.fd, 0), "no event before any migration "
	      "(poll: no POLLIN)");
	fp = pool_free(x.P);
	fq = pool_free(x.Q);

	/* 1: the whole space to CXL; the event by a blocking read(). */
	err = kv_migrate(x.fd, x.h, 0, n, x.tq, 0, ck1, &id);
	CHECK_ERR(err, 0, "MIGRATE pages 0..%llu (%llu resident) to %s",
		  U(n - 1), U(res), tier_name(x.tq));
	CHECK_EQ(id, 1, "the first migration of the file has id");
	alarm(60);
	k = read(x.fd, &ev, sizeof(ev));
	alarm(0);
	CHECK_EQ(k, KV_EV_SIZE, "a blocking read() returns one event");
	exp.seq = 1;
	exp.id = id;
	exp.cookie = ck1;
	exp.pages = res;
	exp.copied = res * x.ps;
	kv_event_is(&ev, &exp, "event 1");
	CHECK(!kv_event_ready(x.fd, 0), "the queue is empty after the read");
	all_in(&x, 0, res, x.Q, "after 1");
	CHECK_EQ(kv_count_in(x.fd, x.h, res, n - res, KVMEM_POOL_NONE, false),
		 n - res, "after 1: the absent pages stay absent");
	CHECK_EQ(kv_resident(x.fd, x.h, 0, n), res, "after 1: resident");
	copies_in(&x, 0, n, KVMEM_POOL_NONE, "after 1 (no KEEP_COPY)");
	CHECK_EQ(pool_free(x.P), fp + res, "pool%u got %llu frames back", x.P,
		 U(res));
	CHECK_EQ(pool_free(x.Q), fq - res, "pool%u gave %llu frames", x.Q,
		 U(res));
	data_ok(&x, 0, res, 31, "after 1, through the old mapping");
	/* New writes land in the new frames. */
	pat_fill(x.s.map + 2 * x.ps, x.ps, 77, 0);
	CHECK_EQ(pat_check(x.s.map + 2 * x.ps, x.ps, 77, 0), UINT64_MAX,
		 "page 2 rewritten after the move reads back");
	all_in(&x, 2, 1, x.Q, "a write does not move page 2");

	/* 2: pages 1..2 back to DRAM; the event through poll(). */
	err = kv_migrate(x.fd, x.h, 1, 2, x.tp, 0, ck2, &id);
	CHECK_ERR(err, 0, "MIGRATE pages 1..2 to %s", tier_name(x.tp));
	CHECK_EQ(id, 2, "the second migration has id");
	pfd.fd = x.fd;
	pfd.events = POLLIN;
	pfd.revents = 0;
	err = poll(&pfd, 1, EV_WAIT_MS);
	CHECK(err == 1 && (pfd.revents & POLLIN), "poll() reports POLLIN "
	      "(returned %d, revents 0x%x)", err, pfd.revents);
	CHECK_ERR(kv_event_wait(x.fd, &ev, 0), 0, "read the event");
	exp.seq = 2;
	exp.id = id;
	exp.cookie = ck2;
	exp.pages = 2;
	exp.copied = 2 * x.ps;
	kv_event_is(&ev, &exp, "event 2");
	all_in(&x, 1, 2, x.P, "after 2");

	/* 3: all again to CXL: pages 0, 3, 4, 5 are there already. */
	err = kv_migrate(x.fd, x.h, 0, n, x.tq, 0, ck1, &id);
	CHECK_ERR(err, 0, "MIGRATE pages 0..%llu to %s again", U(n - 1),
		  tier_name(x.tq));
	CHECK_EQ(id, 3, "the third migration has id");
	CHECK_ERR(kv_event_wait(x.fd, &ev, EV_WAIT_MS), 0, "read the event");
	exp.seq = 3;
	exp.id = id;
	exp.cookie = ck1;
	exp.pages = res;	/* counted, though only two moved */
	exp.copied = 2 * x.ps;	/* ... and only those were copied */
	kv_event_is(&ev, &exp, "event 3 (4 of 6 pages already in the "
		    "target)");
	all_in(&x, 0, res, x.Q, "after 3");
	CHECK_EQ(kv_resident(x.fd, x.h, 0, n), res, "after 3: resident");
	data_ok(&x, 0, 2, 31, "after 3");
	CHECK_EQ(pat_check(x.s.map + 2 * x.ps, x.ps, 77, 0), UINT64_MAX,
		 "after 3: page 2 has what was written after move 1");
	data_ok(&x, 3, res - 3, 31, "after 3");
	CHECK(!kv_event_ready(x.fd, 0), "no further event");

	/* Ids are per file: another file starts at 1 and sees only its own. */
	fd2 = kv_open();
	if (fd2 >= 0) {
		struct kvmem_space_create c;

		if (!CHECK_ERR(kv_create(fd2, x.ps, x.tp, KVMEM_POLICY_FAIL, 0,
					 &c), 0, "second file: SPACE_CREATE"))
			goto close2;
		kv_populate(fd2, c.handle, 0, 1, NULL);
		CHECK_ERR(kv_migrate(fd2, c.handle, 0, 1, x.tq, 0, 5, &id), 0,
			  "second file: MIGRATE");
		CHECK_EQ(id, 1, "second file: its first migration has id");
		CHECK_ERR(kv_event_wait(fd2, &ev, EV_WAIT_MS), 0,
			  "second file: read its event");
		CHECK(ev.seq == 1 && ev.id == 1 && ev.cookie == 5 &&
		      ev.handle == c.handle && ev.pages == 1,
		      "second file: event seq %llu id %llu cookie %llu "
		      "handle %u pages %llu (expected 1 1 5 %u 1)",
		      U(ev.seq), U(ev.id), U(ev.cookie), ev.handle,
		      U(ev.pages), c.handle);
		CHECK(!kv_event_ready(x.fd, 200), "the first file got no event "
		      "of the second's migration");
		kv_destroy(fd2, c.handle);
close2:
		close(fd2);
	}
	w = kv_count_in(x.fd, x.h, 0, n, x.Q, false);
	CHECK_EQ(w, res, "the first space is where it was");
	mfx_fini(&x);
}

/* -------------------------------------------------- migrate_integrity */

/*
 * The space: IG_PAGES pages of blocks of IG_BLOCK bytes. Word 0 of a
 * block is its sequence number as written before the payload, the last
 * word the same number written after it, and word i between holds
 * pat64(block << 32 | seq, i). Writer w owns the blocks b % 2 == w of the
 * first IG_WPAGES pages; no one writes the other pages (their copies stay
 * clean, so KEEP_COPY migrations reuse them).
 *
 * A writer checks its block holds what it wrote last before it writes it
 * again and right after (it is the only writer: anything else is a lost
 * or reverted write). A reader takes a block at random: reads the end
 * number, the payload, then the begin number; if the two numbers differ
 * it caught a write in progress and retries; otherwise the payload must
 * be that number's, and the number must not be lower than one it saw
 * before in that block. With a correct kvmem, none of this can fail.
 */
#define IG_PAGES	8
#define IG_WPAGES	4
#define IG_BLOCK	512
#define IG_WORDS	(IG_BLOCK / 8)
#define IG_MIGRATIONS	2000
#define IG_MAX_MS	90000

struct ig_shared {	/* in MAP_SHARED memory: the reader process sees it */
	int stop;
	int fails;
	uint64_t writes, reads, retries;
	char first[256];
};

struct ig {
	uint8_t *map;
	uint64_t nblocks, wblocks;
	struct ig_shared *sh;
};

struct ig_thread {
	struct ig *g;
	int id;
	pthread_t t;
};

static volatile uint64_t *ig_block(struct ig *g, uint64_t b)
{
	return (volatile uint64_t *)(g->map + b * IG_BLOCK);
}

static uint64_t ig_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

__attribute__((format(printf, 2, 3)))
static void ig_fail(struct ig *g, const char *fmt, ...)
{
	va_list ap;

	if (__atomic_fetch_add(&g->sh->fails, 1, __ATOMIC_SEQ_CST) == 0) {
		va_start(ap, fmt);
		vsnprintf(g->sh->first, sizeof(g->sh->first), fmt, ap);
		va_end(ap);
	}
	__atomic_store_n(&g->sh->stop, 1, __ATOMIC_SEQ_CST);
}

static void ig_write(volatile uint64_t *w, uint64_t b, uint64_t seq)
{
	__atomic_store_n(&w[0], seq, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	for (uint64_t i = 1; i < IG_WORDS - 1; i++)
		__atomic_store_n(&w[i], pat64(b << 32 | seq, i),
				 __ATOMIC_RELAXED);
	__atomic_store_n(&w[IG_WORDS - 1], seq, __ATOMIC_RELEASE);
}

/* Index of the first word of block b that does not hold seq, or -1. */
static int ig_bad_word(volatile uint64_t *w, uint64_t b, uint64_t seq)
{
	if (w[0] != seq)
		return 0;
	for (uint64_t i = 1; i < IG_WORDS - 1; i++)
		if (w[i] != pat64(b << 32 | seq, i))
			return (int)i;
	return w[IG_WORDS - 1] == seq ? -1 : IG_WORDS - 1;
}

/*
 * The accessing threads run at nice 10: they still run whenever a CPU is
 * free, so they keep touching pages while migrations run, but they do
 * not starve the kernel's migration workers (under TCG, with two vCPUs).
 */
static void ig_nice(void)
{
	setpriority(PRIO_PROCESS, (id_t)gettid(), 10);
}

static void *ig_writer(void *arg)
{
	struct ig_thread *t = arg;
	struct ig *g = t->g;
	uint64_t n = g->wblocks / 2, rnd = 0x9e3779b97f4a7c15ULL + t->id;
	uint64_t *seq = calloc(n, sizeof(*seq)), writes = 0;

	ig_nice();
	for (uint64_t j = 0; seq && j < n; j++)
		seq[j] = 1;
	while (seq && !__atomic_load_n(&g->sh->stop, __ATOMIC_RELAXED)) {
		uint64_t j = ig_rand(&rnd) % n, b = 2 * j + (uint64_t)t->id;
		volatile uint64_t *w = ig_block(g, b);
		int bad = ig_bad_word(w, b, seq[j]);

		if (bad >= 0) {
			ig_fail(g, "writer %d: block %llu word %d reads 0x%llx "
				"before rewrite %llu: what it wrote last was "
				"lost", t->id, U(b), bad, U(w[bad]),
				U(seq[j]));
			break;
		}
		ig_write(w, b, ++seq[j]);
		bad = ig_bad_word(w, b, seq[j]);
		if (bad >= 0) {
			ig_fail(g, "writer %d: block %llu word %d reads 0x%llx "
				"right after write %llu", t->id, U(b), bad,
				U(w[bad]), U(seq[j]));
			break;
		}
		if (++writes % 256 == 0)
			usleep(200);	/* leave some trips without writes, and
					 * the CPUs to the migration */
	}
	/* Last look at every block it owns. */
	for (uint64_t j = 0; seq && j < n && !g->sh->fails; j++) {
		uint64_t b = 2 * j + (uint64_t)t->id;

		if (ig_bad_word(ig_block(g, b), b, seq[j]) >= 0)
			ig_fail(g, "writer %d: block %llu does not hold its "
				"last write %llu at the end", t->id, U(b),
				U(seq[j]));
	}
	if (!seq)
		ig_fail(g, "writer %d: out of memory", t->id);
	__atomic_fetch_add(&g->sh->writes, writes, __ATOMIC_RELAXED);
	free(seq);
	return NULL;
}

static void *ig_reader(void *arg)
{
	struct ig_thread *t = arg;
	struct ig *g = t->g;
	uint64_t rnd = 0xbf58476d1ce4e5b9ULL * (uint64_t)(t->id + 3);
	uint64_t *last = calloc(g->nblocks, sizeof(*last));
	uint64_t buf[IG_WORDS], reads = 0, retries = 0;

	ig_nice();
	while (last && !__atomic_load_n(&g->sh->stop, __ATOMIC_RELAXED)) {
		uint64_t b = ig_rand(&rnd) % g->nblocks, end, begin;
		volatile uint64_t *w = ig_block(g, b);

		end = __atomic_load_n(&w[IG_WORDS - 1], __ATOMIC_ACQUIRE);
		for (uint64_t i = 1; i < IG_WORDS - 1; i++)
			buf[i] = __atomic_load_n(&w[i], __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		begin = __atomic_load_n(&w[0], __ATOMIC_RELAXED);
		if (begin != end) {
			retries++;
			continue;
		}
		if (++reads % 1024 == 0)
			usleep(100);
		for (uint64_t i = 1; i < IG_WORDS - 1; i++) {
			if (buf[i] == pat64(b << 32 | end, i))
				continue;
			ig_fail(g, "reader %d: block %llu seq %llu: word %llu "
				"is 0x%llx, expected 0x%llx", t->id, U(b),
				U(end), U(i), U(buf[i]),
				U(pat64(b << 32 | end, i)));
			break;
		}
		if (end < last[b])
			ig_fail(g, "reader %d: block %llu went back from seq "
				"%llu to %llu", t->id, U(b), U(last[b]),
				U(end));
		last[b] = end;
	}
	if (!last)
		ig_fail(g, "reader %d: out of memory", t->id);
	free(last);
	__atomic_fetch_add(&g->sh->reads, reads, __ATOMIC_RELAXED);
	__atomic_fetch_add(&g->sh->retries, retries, __ATOMIC_RELAXED);
	return NULL;
}

/* The migrating thread (the test's main thread); returns trips done. */
static int ig_migrate(struct mfx *x, struct ig *g, uint64_t *copied,
		      uint64_t *reused, int *kept)
{
	uint64_t rnd = 12345;
	double t0 = now_ms();
	struct kvmem_event ev;
	int i;

	for (i = 0; i < IG_MIGRATIONS && !g->sh->fails; i++) {
		uint32_t tier = i % 2 ? x->tp : x->tq;
		uint32_t flags = ig_rand(&rnd) % 3 ? KEEP : 0;

		if (now_ms() - t0 > IG_MAX_MS) {
			CHECK(0, "only %d migrations in %d ms", i, IG_MAX_MS);
			break;
		}
		if (!kv_migrate_sync(x->fd, x->h, 0, IG_PAGES, tier, flags,
				     &ev))
			break;
		if (ev.status || ev.pages != IG_PAGES ||
		    ev.bytes_copied + ev.bytes_reused != IG_PAGES * x->ps) {
			CHECK(0, "migration %d to %s: status %d pages %llu "
			      "copied %llu reused %llu (expected 0, %d, and "
			      "%llu bytes in all)", i, tier_name(tier),
			      ev.status, U(ev.pages), U(ev.bytes_copied),
			      U(ev.bytes_reused), IG_PAGES, U(IG_PAGES * x->ps));
			break;
		}
		*copied += ev.bytes_copied;
		*reused += ev.bytes_reused;
		*kept += !!flags;
	}
	return i;
}

void test_migrate_integrity(void)
{
	struct ig_thread th[3];
	struct ig g;
	struct mfx x;
	uint64_t copied = 0, reused = 0, used;
	int trips = 0, kept = 0, nth = 0;
	double t0;
	pid_t child = -1;

	if (!mfx_init(&x, IG_PAGES, 0, 0))
		return;
	g.map = x.s.map;
	g.nblocks = IG_PAGES * x.ps / IG_BLOCK;
	g.wblocks = IG_WPAGES * x.ps / IG_BLOCK;
	g.sh = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (!CHECK(g.sh != MAP_FAILED, "mmap the shared control page"))
		goto out;
	memset(g.sh, 0, sizeof(*g.sh));
	for (uint64_t b = 0; b < g.nblocks; b++)
		ig_write(ig_block(&g, b), b, 1);
	INFO("%d pages of %llu blocks; blocks of the first %d pages written "
	     "by 2 writer threads; readers: a thread and a process; %d "
	     "migrations between %s and %s, about 2 in 3 with KEEP_COPY",
	     IG_PAGES, U(x.ps / IG_BLOCK), IG_WPAGES, IG_MIGRATIONS,
	     tier_name(x.tp), tier_name(x.tq));

	/* The reader process shares the mapping (forked: same file). */
	child = xfork();
	if (child == 0) {
		struct ig_thread r = { .g = &g, .id = 2 };

		ig_reader(&r);
		_exit(0);
	}
	CHECK(child > 0, "fork the reader process");
	for (int i = 0; i < 3; i++) {
		th[i].g = &g;
		th[i].id = i;
		if (pthread_create(&th[i].t, NULL, i < 2 ? ig_writer : ig_reader,
				   &th[i]))
			break;
		nth++;
	}
	CHECK_EQ(nth, 3, "threads started (2 writers, 1 reader)");
	if (child > 0 && nth == 3) {
		t0 = now_ms();
		trips = ig_migrate(&x, &g, &copied, &reused, &kept);
		INFO("%d migrations (%d with KEEP_COPY) in %.0f ms: %llu MiB "
		     "copied, %llu MiB reused", trips, kept, now_ms() - t0,
		     U(copied / MiB), U(reused / MiB));
	}
	__atomic_store_n(&g.sh->stop, 1, __ATOMIC_SEQ_CST);
	for (int i = 0; i < nth; i++)
		pthread_join(th[i].t, NULL);
	if (child > 0)
		child_done(child, 30000, "reader process");
	INFO("%llu block writes, %llu consistent block reads, %llu reads "
	     "retried (a write was in progress)", U(g.sh->writes),
	     U(g.sh->reads), U(g.sh->retries));
	CHECK_EQ(trips, IG_MIGRATIONS, "migrations done, each status 0 with "
		 "every page moved");
	CHECK_EQ(g.sh->fails, 0, "mismatches seen by writers and readers%s%s",
		 g.sh->fails ? "; first: " : "", g.sh->first);
	CHECK(g.sh->writes > 0 && g.sh->reads > 0, "writers wrote and "
	      "readers read during the migrations");
	CHECK(reused > 0, "some bytes were reused (unwritten pages with a "
	      "clean copy)");
	CHECK(copied >= (uint64_t)trips * IG_WPAGES * x.ps / 4,
	      "written pages were copied (%llu MiB)", U(copied / MiB));
	/* Every block once more, from the main thread. */
	for (uint64_t b = 0; b < g.nblocks; b++) {
		volatile uint64_t *w = ig_block(&g, b);

		if (ig_bad_word(w, b, w[0]) >= 0) {
			CHECK(0, "block %llu is not consistent at the end", U(b));
			break;
		}
	}
	/* Each page holds its frame, plus a copy after a KEEP_COPY trip. */
	used = pool_u64(x.P, "frames_used") + pool_u64(x.Q, "frames_used");
	CHECK_EQ(used, IG_PAGES + kv_count_in(x.fd, x.h, 0, IG_PAGES, x.P,
					      true) +
		 kv_count_in(x.fd, x.h, 0, IG_PAGES, x.Q, true),
		 "frames in use = pages + clean copies");
	munmap(g.sh, 4096);
out:
	mfx_fini(&x);
}

/* ----------------------------------------------------- migrate_reuse */

void test_migrate_reuse(void)
{
	const uint64_t n = 8;
	static uint8_t pbuf[CPU_PAGE];
	struct mfx x;
	struct iovec iov;
	int pfd[2] = { -1, -1 };
	volatile uint8_t *vb;
	ssize_t k;

	if (!mfx_init(&x, n, n, 41))
		return;
	vb = x.s.map + 6 * x.ps + x.ps / 2 + 3;
	used_are(&x, n, 0, "start");

	move_ok(&x, 0, n, x.tq, KEEP, 0, n, n, 0, "A, first trip");
	all_in(&x, 0, n, x.Q, "A");
	copies_in(&x, 0, n, x.P, "A (the sources stay as copies)");
	used_are(&x, n, n, "A: a frame and a copy for each page");

	move_ok(&x, 0, n, x.tp, KEEP, 0, n, 0, n, "B, back, nothing written");
	all_in(&x, 0, n, x.P, "B");
	copies_in(&x, 0, n, x.Q, "B");
	used_are(&x, n, n, "B");

	data_ok(&x, 0, n, 41, "before C (reading does not dirty)");
	move_ok(&x, 0, n, x.tq, KEEP, 0, n, 0, n, "C, after reads only");
	copies_in(&x, 0, n, x.P, "C");

	/* D: write k = 3 distinct pages, in different CPU pages of them. */
	x.s.map[1 * x.ps] ^= 0xFF;			/* first CPU page */
	((uint64_t *)(x.s.map + 5 * x.ps))[x.ps / 8 - 1] ^= 1;	/* last */
	*vb = *vb;		/* page 6, middle: the byte it held */
	copies_in(&x, 0, n, x.P, "after the writes, QUERY still names the "
		  "copies made (stale ones are noticed at the next move)");
	move_ok(&x, 0, n, x.tp, KEEP, 0, n, 3, n - 3, "D, 3 pages written "
		"(one with the byte it held)");
	all_in(&x, 0, n, x.P, "D");
	copies_in(&x, 0, n, x.Q, "D");
	used_are(&x, n, n, "D: stale copies freed, new ones kept");
	x.s.map[1 * x.ps] ^= 0xFF;
	((uint64_t *)(x.s.map + 5 * x.ps))[x.ps / 8 - 1] ^= 1;
	data_ok(&x, 0, n, 41, "D (the two changes undone through the "
		"mapping)");

	/* E: the undoing writes dirtied pages 1 and 5 again. */
	move_ok(&x, 0, n, x.tq, 0, 0, n, 2, n - 2, "E, 2 pages written, no "
		"KEEP_COPY");
	all_in(&x, 0, n, x.Q, "E");
	copies_in(&x, 0, n, KVMEM_POOL_NONE, "E (without KEEP_COPY)");
	used_are(&x, 0, n, "E: one frame per page");

	move_ok(&x, 0, n, x.tp, 0, 0, n, n, 0, "F, no copies left");
	copies_in(&x, 0, n, KVMEM_POOL_NONE, "F");
	data_ok(&x, 0, n, 41, "F");

	/*
	 * G: a page whose frame someone else holds (vmsplice() into a pipe,
	 * unread, keeps a reference to its CPU page; a device could write
	 * through such a pin) is left where it is: the request moves the
	 * others and ends with -EBUSY.
	 */
	move_ok(&x, 0, n, x.tq, KEEP, 0, n, n, 0, "G1, copies made");
	if (!CHECK(!pipe(pfd), "pipe"))
		goto out;
	iov.iov_base = x.s.map + 2 * x.ps;
	iov.iov_len = CPU_PAGE;
	k = vmsplice(pfd[1], &iov, 1, 0);
	CHECK_EQ(k, CPU_PAGE, "vmsplice the first CPU page of page 2 into a "
		 "pipe (its frame is now held by the pipe)");
	INFO("G2: page 2 is held by the pipe: it must stay where it is, the "
	     "others reuse their copies, the request ends with -EBUSY");
	move_ok(&x, 0, n, x.tp, KEEP, -EBUSY, n - 1, 0, n - 1, "G2");
	all_in(&x, 2, 1, x.Q, "G2: page 2 stayed");
	copies_in(&x, 2, 1, x.P, "G2: page 2 kept its copy");
	all_in(&x, 0, 2, x.P, "G2");
	all_in(&x, 3, n - 3, x.P, "G2");
	used_are(&x, n, n, "G2");
	data_ok(&x, 0, n, 41, "G2");
	k = read(pfd[0], pbuf, sizeof(pbuf));
	CHECK(k == CPU_PAGE && pat_check(pbuf, CPU_PAGE, 41,
					 2 * x.ps / 8) == UINT64_MAX,
	      "the pipe reads the page's bytes (%zd bytes) and lets go", k);
	INFO("G3: page 2 is no longer held, and was never written: it moves, "
	     "reusing its copy");
	move_ok(&x, 0, n, x.tp, KEEP, 0, n, 0, 1, "G3");
	all_in(&x, 0, n, x.P, "G3");
	data_ok(&x, 0, n, 41, "G3");
out:
	if (pfd[0] >= 0) {
		close(pfd[0]);
		close(pfd[1]);
	}
	mfx_fini(&x);
}

/* ----------------------------------------------------- migrate_order */

void test_migrate_order(void)
{
	enum { M = 41, N = 4 };
	uint64_t ids[M];
	struct kvmem_event ev;
	struct mfx x;
	int sent, got, bad = 0;

	if (!mfx_init(&x, N, N, 51))
		return;
	for (sent = 0; sent < M; sent++) {
		int err = kv_migrate(x.fd, x.h, 0, N, sent % 2 ? x.tp : x.tq,
				     sent % 3 ? 0 : KEEP, 1000 + (uint64_t)sent,
				     &ids[sent]);

		if (err || ids[sent] != (uint64_t)sent + 1) {
			CHECK(0, "MIGRATE %d: %s, id %llu (expected %d)", sent,
			      errname(err), U(ids[sent]), sent + 1);
			break;
		}
	}
	CHECK_EQ(sent, M, "migrations submitted without waiting, alternately "
		 "to %s and %s, every third with KEEP_COPY; ids 1..%d",
		 tier_name(x.tq), tier_name(x.tp), M);
	for (got = 0; got < sent; got++) {
		int err = kv_event_wait(x.fd, &ev, EV_WAIT_MS);

		if (err) {
			CHECK_ERR(err, 0, "event %d", got + 1);
			break;
		}
		if (ev.type != KVMEM_EVENT_MIGRATE ||
		    ev.seq != (uint64_t)got + 1 || ev.id != ids[got] ||
		    ev.cookie != 1000 + (uint64_t)got || ev.status ||
		    ev.pages != N ||
		    ev.bytes_copied + ev.bytes_reused != N * x.ps) {
			bad++;
			CHECK(0, "event %d: type %u seq %llu id %llu cookie "
			      "%llu status %d pages %llu copied+reused %llu",
			      got + 1, ev.type, U(ev.seq), U(ev.id),
			      U(ev.cookie), ev.status, U(ev.pages),
			      U(ev.bytes_copied + ev.bytes_reused));
		}
	}
	CHECK_EQ(got, M, "events read");
	CHECK_EQ(bad, 0, "events out of submission order or wrong (event i "
		 "must have seq i, the id and cookie of request i, status 0, "
		 "%d pages, all bytes copied or reused)", N);
	all_in(&x, 0, N, x.Q, "the last request's target wins");
	data_ok(&x, 0, N, 51, "after the moves");
	CHECK(!kv_event_ready(x.fd, 0), "no event left");
	mfx_fini(&x);
}

/* ---------------------------------------------------- migrate_enomem */

/* First page of [first, first+n) whose first CPU page does not hold
 * pattern seed + its index. */
static uint64_t first_bad_page(struct mfx *x, uint64_t first, uint64_t n,
			       uint64_t seed)
{
	for (uint64_t i = first; i < first + n; i++)
		if (pat_check(x->s.map + i * x->ps, CPU_PAGE, seed + i, 0) !=
		    UINT64_MAX)
			return i;
	return UINT64_MAX;
}

void test_migrate_enomem(void)
{
	const uint64_t n = 8, big = 520, qbig = 300;
	struct mfx x;
	uint64_t fp;

	if (!mfx_init(&x, n, n, 61))
		return;
	if (!CHECK_EQ(pool_u64(x.Q, "frames_used"), 0, "pool%u is unused",
		      x.Q) ||
	    !reserve_set(&x.r, x.Q, 5))
		goto out;

	/* A small range: its one batch cannot get its frames. */
	fp = pool_free(x.P);
	INFO("8 pages to a pool with 5 free frames: -ENOMEM, nothing moves");
	move_ok(&x, 0, n, x.tq, 0, -ENOMEM, 0, 0, 0, "8 into 5");
	all_in(&x, 0, n, x.P, "after ENOMEM: every page still in DRAM");
	CHECK_EQ(pool_free(x.Q), 5, "pool%u: the batch's frames went back",
		 x.Q);
	CHECK_EQ(pool_free(x.P), fp, "pool%u: unchanged", x.P);
	data_ok(&x, 0, n, 61, "after ENOMEM");
	move_ok(&x, 7, 1, x.tq, 0, 0, 1, 1, 0, "page 7 alone fits");
	INFO("8 pages with KEEP_COPY, page 7 already in %s, 4 frames free: "
	     "-ENOMEM, pages 1 (page 7)", tier_name(x.tq));
	move_ok(&x, 0, n, x.tq, KEEP, -ENOMEM, 1, 0, 0, "7 into 4");
	all_in(&x, 0, n - 1, x.P, "pages 0..6 still in DRAM");
	copies_in(&x, 0, n, KVMEM_POOL_NONE, "no copy was made");
	data_ok(&x, 0, n, 61, "after the second ENOMEM");
	kv_space_free(&x.s);
	CHECK_EQ(pool_free(x.Q), 5, "pool%u: all free after destroy", x.Q);

	/*
	 * More than a batch: 520 pages, 299 frames free in CXL once page
	 * 519 is there. The first batch (256) moves, the second cannot.
	 */
	if (!reserve_set(&x.r, x.P, 600) || !reserve_set(&x.r, x.Q, qbig) ||
	    !mfx_space(&x, big, 0, 0))
		goto out;
	CHECK_ERR(kv_populate(x.fd, x.h, 0, big, NULL), 0, "POPULATE %llu "
		  "pages", U(big));
	for (uint64_t i = 0; i < big; i++)
		pat_fill(x.s.map + i * x.ps, CPU_PAGE, 62 + i, 0);
	move_ok(&x, big - 1, 1, x.tq, 0, 0, 1, 1, 0, "page 519 first");
	INFO("520 pages, page 519 already in %s, 299 frames free: the first "
	     "batch of 256 moves, the second cannot; the event's pages are "
	     "the pages of the range in the target tier at the end: 256 + "
	     "page 519 = 257", tier_name(x.tq));
	move_ok(&x, 0, big, x.tq, 0, -ENOMEM, 257, 256, 0, "519 into 299");
	all_in(&x, 0, 256, x.Q, "the first batch moved");
	all_in(&x, 256, big - 257, x.P, "the rest stayed");
	all_in(&x, big - 1, 1, x.Q, "page 519");
	CHECK_EQ(pool_free(x.Q), qbig - 257, "pool%u: the frames of the "
		 "failed batch went back", x.Q);
	CHECK_EQ(first_bad_page(&x, 0, big, 62), UINT64_MAX, "data of all %llu "
		 "pages intact (first bad page)", U(big));
out:
	mfx_fini(&x);
}

/* --------------------------------------------------- migrate_destroy */

/*
 * Read the events of requests ids[0..n) of a space destroyed meanwhile:
 * each ends with 0 or -ECANCELED, none with 0 after a cancelled one (they
 * run in order), and request 0 (all pages from DRAM) copied whole batches
 * or everything. Returns the number of bad events; counts cancellations.
 */
static int destroy_events(struct mfx *x, const uint64_t *ids, int n,
			  uint64_t pages, int *cancelled)
{
	struct kvmem_event ev;
	char seen[128] = "";
	bool dead = false;
	int bad = 0;

	for (int i = 0; i < n; i++) {
		int err = kv_event_wait(x->fd, &ev, EV_WAIT_MS);
		bool ok;

		if (err) {
			CHECK_ERR(err, 0, "the event of request %llu",
				  U(ids[i]));
			return bad + 1;
		}
		if (ev.status == -ECANCELED)
			dead = true;
		ok = ev.id == ids[i] && ev.bytes_reused == 0 &&
		     (ev.status == -ECANCELED || (!dead && ev.status == 0)) &&
		     ev.pages <= pages && ev.bytes_copied <= pages * x->ps;
		/*
		 * Request 0 moves all pages from DRAM: whole batches of 256
		 * until cancelled, and no more of them are in the target
		 * at the end than were copied (after destroy: none).
		 */
		if (i == 0)
			ok &= ev.status ?
			      ev.bytes_copied % (256 * x->ps) == 0 &&
			      ev.pages <= ev.bytes_copied / x->ps :
			      ev.pages == pages &&
			      ev.bytes_copied == pages * x->ps;
		*cancelled += ev.status != 0;
		snprintf(seen + strlen(seen), sizeof(seen) - strlen(seen),
			 " [%s, %llu pages]", ev.status ? "-ECANCELED" : "0",
			 U(ev.pages));
		if (!ok) {
			bad++;
			CHECK(0, "request %llu: event id %llu status %d pages "
			      "%llu copied %llu", U(ids[i]), U(ev.id),
			      ev.status, U(ev.pages), U(ev.bytes_copied));
		}
	}
	INFO("events:%s", seen);
	return bad;
}

/* A space of n backed pages, the first CPU page of page i holding
 * pattern seed + i. */
static bool big_space(struct mfx *x, uint64_t n, uint64_t seed)
{
	if (!mfx_space(x, n, 0, 0))
		return false;
	if (!CHECK_ERR(kv_populate(x->fd, x->h, 0, n, NULL), 0, "POPULATE "
		       "%llu pages", U(n)))
		return false;
	for (uint64_t i = 0; i < n; i++)
		pat_fill(x->s.map + i * x->ps, CPU_PAGE, seed + i, 0);
	return true;
}

void test_migrate_destroy(void)
{
	const uint64_t n = 700, rel = 350;
	const int delays[] = { 0, 3, 10, 25, 50 };
	struct kvmem_event ev;
	struct kv_snap base;
	struct mfx x;
	uint64_t ids[3], done = 0;
	int cancelled = 0, bad = 0;

	if (!mfx_init(&x, 0, 0, 0))
		return;
	if (!reserve_set(&x.r, x.P, 768) || !reserve_set(&x.r, x.Q, 768))
		goto out;
	snap_take(&base);
	for (size_t r = 0; r < NELEM(delays); r++) {
		if (!big_space(&x, n, 0))
			goto out;
		for (int i = 0; i < 3; i++)
			kv_migrate(x.fd, x.h, 0, n, i % 2 ? x.tp : x.tq, 0, 0,
				   &ids[i]);
		sleep_ms(delays[r]);
		CHECK_ERR(kv_destroy(x.fd, x.h), 0, "DESTROY %d ms after 3 "
			  "requests of %llu pages (to %s, %s, %s)", delays[r],
			  U(n), tier_name(x.tq), tier_name(x.tp),
			  tier_name(x.tq));
		x.s.c.handle = 0;
		kv_space_free(&x.s);
		bad += destroy_events(&x, ids, 3, n, &cancelled);
		snap_back(&base, 2000, "after destroy, every frame is back");
	}
	CHECK_EQ(bad, 0, "events after destroy: 0 or -ECANCELED, never 0 "
		 "after -ECANCELED, whole batches");
	INFO("%d of %zu requests were cancelled", cancelled,
	     3 * NELEM(delays));
	CHECK(cancelled > 0, "destroy cancelled requests");

	/* RELEASE of a range while it migrates. */
	if (!big_space(&x, n, 70))
		goto out;
	CHECK_ERR(kv_migrate(x.fd, x.h, 0, n, x.tq, 0, 9, &ids[0]), 0,
		  "MIGRATE %llu pages to %s", U(n), tier_name(x.tq));
	sleep_ms(5);
	CHECK_ERR(kv_release(x.fd, x.h, 0, rel, &done), 0, "RELEASE pages "
		  "0..%llu while they migrate", U(rel - 1));
	CHECK_EQ(done, rel, "RELEASE done (it waits for pages in flight)");
	if (CHECK_ERR(kv_event_wait(x.fd, &ev, EV_WAIT_MS), 0, "the event")) {
		CHECK(ev.id == ids[0] && ev.status == 0 &&
		      ev.pages >= n - rel && ev.pages <= n,
		      "event id %llu status %d pages %llu (expected id %llu, "
		      "0, %llu..%llu)", U(ev.id), ev.status, U(ev.pages),
		      U(ids[0]), U(n - rel), U(n));
	}
	CHECK_EQ(kv_count_in(x.fd, x.h, 0, rel, KVMEM_POOL_NONE, false), rel,
		 "the released pages are absent");
	all_in(&x, rel, n - rel, x.Q, "the others moved");
	CHECK_EQ(first_bad_page(&x, rel, n - rel, 70), UINT64_MAX,
		 "the pages not released hold their data (first bad page)");
	CHECK_EQ(zero_check(x.s.map, x.ps), UINT64_MAX,
		 "a released page reads zero (first non-zero offset)");
	kv_space_free(&x.s);
	snap_back(&base, 2000, "after the last destroy");
out:
	mfx_fini(&x);
}

/* ------------------------------------------------------ migrate_kill */

#define KILL_PAGES	200

/* The victim: its own file and space, migrating and writing until killed. */
static void kill_victim(int tell, uint32_t tp, uint32_t tq)
{
	struct kvmem_event ev;
	struct kv_space s;
	struct kv_env e;
	int fd;

	if (!kv_setup(&fd, &e, true) || !kv_space_fail(&s, fd, &e, KILL_PAGES) ||
	    kv_populate(fd, s.c.handle, 0, KILL_PAGES, NULL))
		_exit(1);
	pipe_send(tell, 'r');
	for (uint64_t round = 0;; round++) {
		for (int i = 0; i < 4; i++)
			kv_migrate(fd, s.c.handle, 0, KILL_PAGES,
				   i % 2 ? tp : tq, i == 1 ? KEEP : 0, round,
				   NULL);
		/* These faults wait for pages in flight. */
		for (uint64_t p = round % 7; p < KILL_PAGES; p += 7)
			s.map[p * e.ps + round % e.ps]++;
		for (int i = 0; i < 4; i++)
			kv_event_wait(fd, &ev, EV_WAIT_MS);
	}
}

void test_migrate_kill(void)
{
	const int delays[] = { 10, 40, 100, 250 };
	struct kv_snap s0;
	struct kv_env e;
	int fd;

	snap_take(&s0);
	if (!kv_setup(&fd, &e, true))
		return;
	close(fd);
	INFO("a child with its own file migrates a mapped %d-page space "
	     "between %s and %s (4 requests queued at a time, writing while "
	     "they run) and is killed with SIGKILL", KILL_PAGES,
	     tier_name(e.pool[e.P].tier), tier_name(e.pool[e.Q].tier));
	for (size_t r = 0; r < NELEM(delays); r++) {
		struct kv_pipes p;
		pid_t pid;
		char c = 0;
		int st;

		if (!pipes_open(&p))
			return;
		pid = xfork();
		if (pid == 0)
			kill_victim(p.c2p[1], e.pool[e.P].tier,
				    e.pool[e.Q].tier);
		CHECK(pipe_recv(p.c2p[0], &c, 30000) && c == 'r',
		      "child %zu is migrating", r);
		sleep_ms(delays[r]);
		kill(pid, SIGKILL);
		st = xwait(pid);
		CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "child %zu "
		      "killed by SIGKILL after %d ms", r, delays[r]);
		pipes_close(&p);
		snap_back(&s0, 10000, "after the killed child's file is gone: "
			  "clients, spaces and frames as before");
	}
	CHECK_EQ(kv_sys_clients(), s0.clients, "sysfs clients");
}

/* ----------------------------------------------------- migrate_close */

enum { CLOSE_THEN_UNMAP, UNMAP_THEN_CLOSE, NEVER_MAPPED };

static void close_round(int how)
{
	static const char *const names[] = {
		"close, then munmap", "munmap, then close",
		"close, never mapped",
	};
	const uint64_t n = 200, fill = 8;
	struct mfx x;
	uint64_t clients;
	double t0;

	INFO("%s, with 6 migrations of %llu pages queued or running",
	     names[how], U(n));
	if (!mfx_init(&x, n, fill, 81))
		return;
	if (!CHECK_ERR(kv_populate(x.fd, x.h, 0, n, NULL), 0, "POPULATE"))
		goto out;
	if (how == NEVER_MAPPED) {
		munmap(x.s.map, x.s.size);
		x.s.map = NULL;
	}
	for (int i = 0; i < 6; i++)
		kv_migrate(x.fd, x.h, 0, n, i % 2 ? x.tp : x.tq,
			   i % 3 ? 0 : KEEP, 0, NULL);
	if (how == UNMAP_THEN_CLOSE) {
		munmap(x.s.map, x.s.size);
		x.s.map = NULL;
	}
	clients = kv_sys_clients();
	t0 = now_ms();
	close(x.fd);
	x.fd = -1;
	x.s.c.handle = 0;
	INFO("close() returned after %.0f ms", now_ms() - t0);
	if (how == CLOSE_THEN_UNMAP) {
		CHECK_EQ(kv_sys_clients(), clients, "the mapping keeps the "
			 "client alive");
		data_ok(&x, 0, fill, 81, "the mapping after close (a fault "
			"waits for its page in flight)");
		t0 = now_ms();
		munmap(x.s.map, x.s.size);
		x.s.map = NULL;
		INFO("munmap() returned after %.0f ms", now_ms() - t0);
	}
out:
	mfx_fini(&x);
}

void test_migrate_close(void)
{
	close_round(CLOSE_THEN_UNMAP);
	close_round(UNMAP_THEN_CLOSE);
	close_round(NEVER_MAPPED);
}

/* ------------------------------------------------------- neg_migrate */

/*
 * MIGRATE with the argument at `arg` and struct size `size`, expecting
 * errno `exp`. A failed call must change nothing: no event, no id used
 * (checked by the ids of the valid calls), the same module state and
 * residency. A successful one must return id *next and post its event.
 */
static void neg_mig(struct mfx *x, void *arg, size_t size, int exp,
		    uint64_t *next, const char *what)
{
	unsigned long cmd = _IOC(_IOC_READ | _IOC_WRITE, KVMEM_IOC_MAGIC,
				 _IOC_NR(KVMEM_IOC_MIGRATE), size);
	struct kvmem_migrate *m = arg;
	struct kvmem_event ev;
	struct kv_snap a;
	int err;

	snap_take(&a);
	err = kv_ioctl(x->fd, cmd, arg);
	CHECK_ERR(err, exp, "MIGRATE %s", what);
	if (err) {
		if (kv_event_ready(x->fd, 0))
			CHECK(0, "%s: the failed call queued an event", what);
		snap_kept(&a, what);
		if (kv_count_in(x->fd, x->h, 2, 2, x->P, false) != 2 ||
		    kv_resident(x->fd, x->h, 0, x->s.c.npages) != 2)
			CHECK(0, "%s: the failed call changed the residency",
			      what);
		return;
	}
	if (m->id != *next)
		CHECK(0, "%s: id %llu, expected %llu", what, U(m->id),
		      U(*next));
	err = kv_event_wait(x->fd, &ev, EV_WAIT_MS);
	if (err || ev.id != m->id || ev.status || ev.cookie != m->cookie)
		CHECK(0, "%s: event %s, id %llu status %d cookie 0x%llx", what,
		      errname(err), U(ev.id), ev.status, U(ev.cookie));
	*next = m->id + 1;
}

enum { F_NONE, F_FLAGS, F_PAD, F_RES, F_TIER, F_HANDLE, F_RANGE, F_COOKIE,
       F_ID };

void test_neg_migrate(void)
{
	static uint8_t buf[4096] __attribute__((aligned(4096)));
	struct kvmem_migrate *m = (void *)buf;
	const size_t v1 = KVMEM_MIGRATE_SIZE_VER1;
	/* The lowest bit that KVMEM_MIGRATE_FLAGS lacks. */
	const uint32_t unknown = ~KVMEM_MIGRATE_FLAGS & (KVMEM_MIGRATE_FLAGS + 1);
	struct mfx x;
	uint64_t n, next = 1;
	uint8_t *pg;

	_Static_assert(sizeof(struct kvmem_migrate) == KVMEM_MIGRATE_SIZE_VER1,
		       "migrate v1");
	_Static_assert(sizeof(struct kvmem_event) == 64, "event");
	if (!mfx_init(&x, 8, 0, 0))
		return;
	n = x.s.c.npages;
	if (!CHECK_ERR(kv_populate(x.fd, x.h, 2, 2, NULL), 0, "fixture: "
		       "POPULATE pages 2..3 (in %s)", tier_name(x.tp)) ||
	    !CHECK(!tier_has_pool(&x.e, KVMEM_TIER_HBM, -1), "no pool has "
		   "tier hbm"))
		goto out;
	const struct {
		const char *what;
		int f;
		uint64_t a, b;
		int exp;
	} cs[] = {
		{ "valid (to the tier its pages are in)", F_NONE, 0, 0, 0 },
		{ "flags = the lowest unknown bit", F_FLAGS, unknown, 0,
		  EINVAL },
		{ "flags = KEEP_COPY | 1<<31", F_FLAGS, KEEP | 0x80000000u, 0,
		  EINVAL },
#ifdef KVMEM_MIGRATE_BY_ID
		{ "flags = BY_ID from a file that is not the manager",
		  F_FLAGS, KVMEM_MIGRATE_BY_ID, 0, EPERM },
#endif
		{ "pad = 1", F_PAD, 1, 0, EINVAL },
		{ "reserved[0] = 1", F_RES, 0, 1, EINVAL },
		{ "reserved[1] = 1", F_RES, 1, 1, EINVAL },
		{ "reserved[2] = 1<<63", F_RES, 2, 1ULL << 63, EINVAL },
		{ "reserved[3] = 1", F_RES, 3, 1, EINVAL },
		{ "tier = KVMEM_NR_TIERS", F_TIER, KVMEM_NR_TIERS, 0, EINVAL },
		{ "tier = 0xffffffff", F_TIER, 0xffffffffu, 0, EINVAL },
		{ "tier = hbm (no pool)", F_TIER, KVMEM_TIER_HBM, 0, ENODEV },
		{ "handle 0", F_HANDLE, 0, 0, ENOENT },
		{ "handle + 1000 (unknown)", F_HANDLE, x.h + 1000, 0, ENOENT },
		{ "handle 0xffffffff", F_HANDLE, 0xffffffffu, 0, ENOENT },
		{ "count 0", F_RANGE, 0, 0, EINVAL },
		{ "first 0 count npages+1", F_RANGE, 0, n + 1, EINVAL },
		{ "first npages count 1", F_RANGE, n, 1, EINVAL },
		{ "first npages-1 count 2", F_RANGE, n - 1, 2, EINVAL },
		{ "first 2^64-1 count 2 (first+count wraps to 1)", F_RANGE,
		  ~0ULL, 2, EINVAL },
		{ "first 2 count 2^64-1 (wraps to 1)", F_RANGE, 2, ~0ULL,
		  EINVAL },
		{ "first 2^63 count 2^63 (wraps to 0)", F_RANGE, 1ULL << 63,
		  1ULL << 63, EINVAL },
		{ "first npages-1 count 1 (valid)", F_RANGE, n - 1, 1, 0 },
		{ "flags KEEP_COPY (valid)", F_FLAGS, KEEP, 0, 0 },
		{ "cookie 2^64-1 (valid: any value)", F_COOKIE, ~0ULL, 0, 0 },
		{ "id 12345 on input (valid: out only)", F_ID, 12345, 0, 0 },
	};

	for (size_t i = 0; i < NELEM(cs); i++) {
		memset(buf, 0, sizeof(buf));
		m->handle = x.h;
		m->count = n;
		m->tier = x.tp;
		m->cookie = 0xC00C1E;
		switch (cs[i].f) {
		case F_FLAGS: m->flags = (uint32_t)cs[i].a; break;
		case F_PAD: m->pad = (uint32_t)cs[i].a; break;
		case F_RES: m->reserved[cs[i].a] = cs[i].b; break;
		case F_TIER: m->tier = (uint32_t)cs[i].a; break;
		case F_HANDLE: m->handle = (uint32_t)cs[i].a; break;
		case F_RANGE: m->first = cs[i].a; m->count = cs[i].b; break;
		case F_COOKIE: m->cookie = cs[i].a; break;
		case F_ID: m->id = cs[i].a; break;
		}
		neg_mig(&x, buf, v1, cs[i].exp, &next, cs[i].what);
	}

	/* Sizes: shorter than version 1; longer with a tail. */
	const struct {
		size_t size, nonzero;	/* nonzero: offset of a tail byte set */
		int exp;
	} sz[] = {
		{ 0, 0, EINVAL }, { v1 - 8, 0, EINVAL }, { v1 - 1, 0, EINVAL },
		{ v1 + 8, v1, E2BIG }, { v1 + 64, v1 + 63, E2BIG },
		{ v1 + 8, 0, 0 }, { 1024, 0, 0 },
	};
	for (size_t i = 0; i < NELEM(sz); i++) {
		char what[96];

		memset(buf, 0, sizeof(buf));
		m->handle = x.h;
		m->count = n;
		m->tier = x.tp;
		if (sz[i].nonzero)
			buf[sz[i].nonzero] = 0x80;
		snprintf(what, sizeof(what), "struct of %zu bytes%s", sz[i].size,
			 sz[i].nonzero ? ", a tail byte non-zero" :
			 sz[i].size > v1 ? ", zero tail" : "");
		neg_mig(&x, buf, sz[i].size, sz[i].exp, &next, what);
		if (!sz[i].exp)
			CHECK(buf[sz[i].size - 1] == 0 && buf[v1] == 0,
			      "%s: the tail comes back zero", what);
	}

	/* Bad argument pointers. */
	neg_mig(&x, NULL, v1, EFAULT, &next, "NULL argument");
	pg = mmap(NULL, 8192, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (CHECK(pg != MAP_FAILED, "mmap scratch pages")) {
		mprotect(pg + 4096, 4096, PROT_NONE);
		neg_mig(&x, pg + 4096, v1, EFAULT, &next, "argument in a "
			"PROT_NONE page");
		neg_mig(&x, pg + 4096 - v1 / 2, v1, EFAULT, &next, "argument "
			"running into a PROT_NONE page");
		/* Read-only: the request is made, only its id cannot be
		 * written back ("other calls keep their effect"). */
		memset(pg, 0, 4096);
		m = (void *)pg;
		m->handle = x.h;
		m->count = n;
		m->tier = x.tp;
		mprotect(pg, 4096, PROT_READ);
		CHECK_ERR(kv_ioctl(x.fd, KVMEM_IOC_MIGRATE, pg), EFAULT,
			  "MIGRATE with the struct in read-only memory");
		{
			struct kvmem_event ev;
			int err = kv_event_wait(x.fd, &ev, 5000);

			CHECK(!err && ev.id == next && ev.status == 0,
			      "its request still ran: event %s id %llu status "
			      "%d (expected id %llu)", errname(err), U(ev.id),
			      ev.status, U(next));
			next++;
		}
		munmap(pg, 8192);
	}

	/* Nothing was lost or left over. */
	memset(buf, 0, sizeof(buf));
	m = (void *)buf;
	m->handle = x.h;
	m->count = n;
	m->tier = x.tp;
	neg_mig(&x, buf, v1, 0, &next, "valid, at the end: the next id");
	CHECK(!kv_event_ready(x.fd, 200), "no stray event");
	CHECK_EQ(kv_count_in(x.fd, x.h, 2, 2, x.P, false), 2, "pages 2..3 "
		 "still in pool%u", x.P);
	CHECK_EQ(kv_resident(x.fd, x.h, 0, n), 2, "resident pages");
out:
	mfx_fini(&x);
}
