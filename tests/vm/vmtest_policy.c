// SPDX-License-Identifier: GPL-2.0
/*
 * kvmem-vmtest: exhaustion policies (FAIL, FALLBACK, WAIT) on small pools.
 * Each test lowers pool reserves to a few frames through sysfs and puts
 * them back at the end.
 */
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmtest.h"

#define SMALL 8		/* frames left in a shrunk pool */

/* ------------------------------------------------- reserve save/restore */

struct resv {
	int pool;
	uint64_t old;
	bool set;
};

static bool resv_set(struct resv *r, int pool, uint64_t k)
{
	int err;

	r->pool = pool;
	r->old = pool_u64(pool, "reserve");
	r->set = false;
	if (!CHECK(r->old != UINT64_MAX, "read pool%d reserve", pool))
		return false;
	err = pool_set_reserve(pool, k);
	r->set = true;
	if (!CHECK_ERR(err, 0, "shrink pool%d reserve %llu -> %llu", pool,
		       U(r->old), U(k)))
		return false;
	return CHECK_EQ(pool_u64(pool, "frames_total"), k,
			"pool%d frames_total", pool) &
	       CHECK_EQ(pool_free(pool), k, "pool%d frames_free", pool);
}

static void resv_restore(struct resv *r)
{
	int err;

	if (!r->set)
		return;
	err = pool_set_reserve(r->pool, r->old);
	CHECK_ERR(err, 0, "restore pool%d reserve %llu", r->pool, U(r->old));
	CHECK_EQ(pool_u64(r->pool, "frames_total"), r->old,
		 "pool%d frames_total restored", r->pool);
	r->set = false;
}

/* ------------------------------------------------------------ fixture */

/*
 * The fixture of these tests: a file and its pools, pool P shrunk to a few
 * frames, a FAIL space `hog` that may hold some of them, and the space
 * under test `s`. pfx_fini() frees what is left of it, whatever failed.
 */
struct pfx {
	int fd;
	struct kv_env e;
	uint64_t frames;	/* pool P's frames (0: not shrunk) */
	struct resv r;
	struct kv_space hog, s;
};

/* Open; shrink pool P to `frames` frames (0: leave the pools alone). */
static bool pfx_init(struct pfx *x, bool needQ, uint64_t frames)
{
	memset(x, 0, sizeof(*x));
	if (!kv_setup(&x->fd, &x->e, needQ))
		return false;
	x->frames = frames;
	return !frames || resv_set(&x->r, x->e.P, frames);
}

/* The hog: a FAIL space of `pages` pages of the shrunk pool P, all
 * populated. */
static bool pfx_hog(struct pfx *x, uint64_t pages)
{
	if (!kv_space_new(&x->hog, x->fd, pages * x->e.ps,
			  x->e.pool[x->e.P].tier, KVMEM_POLICY_FAIL, 0))
		return false;
	return CHECK_ERR(kv_populate(x->fd, x->hog.c.handle, 0, pages, NULL),
			 0, "a FAIL space takes %llu frames", U(pages)) &
	       CHECK_EQ(pool_free(x->e.P), x->frames - pages,
			"pool%d: frames left free", x->e.P);
}

/* The space under test: `pages` pages of pool P's tier. */
static bool pfx_space(struct pfx *x, uint64_t pages, uint32_t policy,
		      uint32_t timeout_ms)
{
	return kv_space_new(&x->s, x->fd, pages * x->e.ps,
			    x->e.pool[x->e.P].tier, policy, timeout_ms);
}

static void pfx_fini(struct pfx *x)
{
	kv_space_free(&x->s);
	kv_space_free(&x->hog);
	resv_restore(&x->r);
	if (x->fd >= 0)
		close(x->fd);
}

/* POPULATE pages of s, timed (ms) if ms is not NULL. */
static int pop(struct pfx *x, uint64_t first, uint64_t count, uint64_t *done,
	       double *ms)
{
	double t0 = now_ms();
	int err = kv_populate(x->fd, x->s.c.handle, first, count, done);

	if (ms)
		*ms = now_ms() - t0;
	return err;
}

/* Read one byte of page `page` of s, timed. */
static int touch(struct pfx *x, uint64_t page, uint8_t *v, double *ms)
{
	double t0 = now_ms();
	int sig = probe_read(x->s.map + page * x->e.ps, v);

	*ms = now_ms() - t0;
	return sig;
}

/* Resident pages among the first n of s. */
static uint64_t resident(struct pfx *x, uint64_t n)
{
	return kv_resident(x->fd, x->s.c.handle, 0, n);
}

/*
 * A call that must fail with exp and change nothing: pool P keeps `free`
 * frames, s keeps `res` of its first n pages resident.
 */
__attribute__((format(printf, 7, 8)))
static void failed_alone(struct pfx *x, int err, int exp, uint64_t n,
			 uint64_t free, uint64_t res, const char *fmt, ...)
{
	char what[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	CHECK_ERR(err, exp, "%s", what);
	CHECK_EQ(pool_free(x->e.P), free,
		 "%s: all or nothing: pool%d frames_free unchanged", what,
		 x->e.P);
	CHECK_EQ(resident(x, n), res,
		 "%s: all or nothing: resident pages unchanged", what);
}

/* Pages of a space per pool (counts[npools], plus counts[KV_MAX_POOLS] for
 * absent pages). */
static bool residency_counts(int fd, uint32_t h, uint64_t n,
			     uint64_t counts[KV_MAX_POOLS + 1])
{
	struct kvmem_residency res[256];
	int err;

	memset(counts, 0, sizeof(uint64_t) * (KV_MAX_POOLS + 1));
	if (n > 256)
		return false;
	err = kv_query(fd, h, 0, n, res, NULL);
	if (!CHECK_ERR(err, 0, "QUERY residency"))
		return false;
	for (uint64_t i = 0; i < n; i++) {
		if (res[i].pool == KVMEM_POOL_NONE)
			counts[KV_MAX_POOLS]++;
		else if (res[i].pool < KV_MAX_POOLS)
			counts[res[i].pool]++;
		else
			CHECK(0, "page %llu: pool %u out of range", U(i),
			      res[i].pool);
	}
	return true;
}

/* Pool of one page, or -1 (KVMEM_POOL_NONE -> -1). */
static int page_pool(int fd, uint32_t h, uint64_t page)
{
	struct kvmem_residency r;

	if (kv_query(fd, h, page, 1, &r, NULL))
		return -2;
	return r.pool == KVMEM_POOL_NONE ? -1 : r.pool;
}

/* ------------------------------------------------------------- FAIL */

void test_policy_fail(void)
{
	struct pfx x;
	uint64_t done, q0 = 0;
	uint8_t v;
	int sig;

	if (!pfx_init(&x, false, SMALL))
		goto out;
	if (x.e.Q >= 0)
		q0 = pool_free(x.e.Q);
	if (!pfx_space(&x, 2 * SMALL, KVMEM_POLICY_FAIL, 0))
		goto out;

	failed_alone(&x, pop(&x, 0, 2 * SMALL, &done, NULL), ENOMEM,
		     2 * SMALL, SMALL, 0,
		     "POPULATE %d pages from a pool of %d", 2 * SMALL, SMALL);
	CHECK_ERR(pop(&x, 0, SMALL / 2, &done, NULL), 0, "POPULATE %d pages",
		  SMALL / 2);
	CHECK_EQ(done, SMALL / 2, "done");
	failed_alone(&x, pop(&x, 0, 2 * SMALL, &done, NULL), ENOMEM,
		     2 * SMALL, SMALL / 2, SMALL / 2,
		     "POPULATE all %d pages (needs %d more, %d free): the "
		     "pages backed before stay, no others", 2 * SMALL,
		     2 * SMALL - SMALL / 2, SMALL / 2);
	CHECK_ERR(pop(&x, SMALL / 2, SMALL / 2, &done, NULL), 0,
		  "POPULATE the rest of the pool");
	CHECK_EQ(pool_free(x.e.P), 0, "pool empty");
	CHECK_ERR(pop(&x, SMALL, 1, &done, NULL), ENOMEM,
		  "POPULATE one page from an empty pool");
	memset(x.s.map, 0x31, SMALL * x.e.ps);
	INFO("writing the %d backed pages worked", SMALL);
	sig = probe_read(x.s.map + SMALL * x.e.ps, &v);
	CHECK_EQ(sig, SIGBUS, "read of an unbacked page with the pool empty");
	if (sig == SIGBUS)
		CHECK(probe_addr == x.s.map + SMALL * x.e.ps,
		      "si_addr is the touched address");
	CHECK_EQ(probe_write(x.s.map + (2 * SMALL - 1) * x.e.ps + 5, 1),
		 SIGBUS, "write of an unbacked page with the pool empty");
	CHECK_EQ(pool_free(x.e.P), 0, "frames_free 0");
	if (x.e.Q >= 0)
		CHECK_EQ(pool_free(x.e.Q), q0, "no fallback: pool%d unchanged",
			 x.e.Q);
	CHECK_EQ(resident(&x, 2 * SMALL), SMALL, "resident");
	CHECK_ERR(kv_release(x.fd, x.s.c.handle, 0, 2, &done), 0, "RELEASE 2");
	CHECK(probe_read(x.s.map + SMALL * x.e.ps, &v) == 0 && v == 0,
	      "after RELEASE a touch of an unbacked page works");
	CHECK_EQ(pool_free(x.e.P), 1, "frames_free");
out:
	pfx_fini(&x);
}

/* -------------------------------------------------------- FALLBACK */

void test_policy_fallback(void)
{
	struct pfx x;
	struct kv_space s2, s3;
	uint64_t done, q0, cnt[KV_MAX_POOLS + 1];
	int P, Q;

	if (!pfx_init(&x, true, SMALL))
		goto out;
	P = x.e.P;
	Q = x.e.Q;
	q0 = pool_free(Q);
	if (!CHECK(q0 >= 2 * SMALL, "pool%d has >= %d free frames", Q,
		   2 * SMALL) ||
	    !pfx_space(&x, 2 * SMALL, KVMEM_POLICY_FALLBACK, 0))
		goto out;
	CHECK_ERR(pop(&x, 0, 2 * SMALL, &done, NULL), 0,
		  "POPULATE %d pages, %s pool has %d", 2 * SMALL,
		  tier_name(x.e.pool[P].tier), SMALL);
	CHECK_EQ(done, 2 * SMALL, "done");
	if (residency_counts(x.fd, x.s.c.handle, 2 * SMALL, cnt)) {
		CHECK_EQ(cnt[P], SMALL, "pages in pool%d (%s, preferred)",
			 P, tier_name(x.e.pool[P].tier));
		CHECK_EQ(cnt[Q], SMALL, "pages in pool%d (%s, fallback)",
			 Q, tier_name(x.e.pool[Q].tier));
	}
	CHECK_EQ(pool_free(P), 0, "pool%d empty", P);
	CHECK_EQ(pool_free(Q), q0 - SMALL, "pool%d gave %d", Q, SMALL);

	/* Faults fall back too. */
	if (kv_space_new(&s2, x.fd, 4 * x.e.ps, x.e.pool[P].tier,
			 KVMEM_POLICY_FALLBACK, 0)) {
		memset(s2.map, 0x12, 4 * x.e.ps);
		if (residency_counts(x.fd, s2.c.handle, 4, cnt))
			CHECK_EQ(cnt[Q], 4, "faulted pages came from pool%d",
				 Q);
		CHECK_EQ(pool_free(Q), q0 - SMALL - 4, "pool%d frames_free",
			 Q);
		kv_space_free(&s2);
	}
	/* With one preferred frame free again, it is taken first. */
	for (uint64_t p = 0; p < 2 * SMALL; p++)
		if (page_pool(x.fd, x.s.c.handle, p) == P) {
			kv_release(x.fd, x.s.c.handle, p, 1, NULL);
			break;
		}
	CHECK_EQ(pool_free(P), 1, "one preferred frame free");
	if (kv_space_new(&s3, x.fd, 2 * x.e.ps, x.e.pool[P].tier,
			 KVMEM_POLICY_FALLBACK, 0)) {
		s3.map[0] = 1;
		CHECK_EQ(page_pool(x.fd, s3.c.handle, 0), P,
			 "first touch takes the preferred pool's frame");
		s3.map[x.e.ps] = 1;
		CHECK_EQ(page_pool(x.fd, s3.c.handle, 1), Q,
			 "second touch falls back");
		kv_space_free(&s3);
	}
	kv_space_free(&x.s);
	CHECK_EQ(pool_free(Q), q0, "pool%d frames back", Q);
out:
	pfx_fini(&x);
}

void test_policy_fallback_all_empty(void)
{
	struct pfx x;
	struct resv r[KV_MAX_POOLS];
	uint64_t done, total, cnt[KV_MAX_POOLS + 1];
	const uint64_t k = 4;
	uint8_t v;

	memset(r, 0, sizeof(r));
	if (!pfx_init(&x, false, 0))
		goto out;
	for (int i = 0; i < x.e.npools; i++)
		if (!resv_set(&r[i], i, k))
			goto out;
	total = k * (uint64_t)x.e.npools;
	if (!pfx_space(&x, total + 4, KVMEM_POLICY_FALLBACK, 0))
		goto out;
	CHECK_ERR(pop(&x, 0, total + 1, &done, NULL), ENOMEM,
		  "POPULATE %llu pages, all pools together have %llu",
		  U(total + 1), U(total));
	for (int i = 0; i < x.e.npools; i++)
		CHECK_EQ(pool_free(i), k, "all or nothing: pool%d "
			 "frames_free unchanged", i);
	CHECK_EQ(resident(&x, total + 4), 0, "no page resident");
	CHECK_ERR(pop(&x, 0, total, &done, NULL), 0,
		  "POPULATE exactly what all pools have");
	if (residency_counts(x.fd, x.s.c.handle, total + 4, cnt))
		for (int i = 0; i < x.e.npools; i++)
			CHECK_EQ(cnt[i], k, "pages in pool%d", i);
	CHECK_EQ(probe_read(x.s.map + total * x.e.ps, &v), SIGBUS,
		 "touch with every pool empty: SIGBUS");
	CHECK_ERR(pop(&x, total, 1, &done, NULL), ENOMEM,
		  "POPULATE one more page: ENOMEM");
out:
	kv_space_free(&x.s);
	for (int i = x.e.npools - 1; i >= 0; i--)
		resv_restore(&r[i]);
	pfx_fini(&x);
}

void test_policy_fallback_from_cxl(void)
{
	struct pfx x;
	uint64_t done, p0, cnt[KV_MAX_POOLS + 1];
	int P, Q;

	if (!pfx_init(&x, true, 0))
		goto out;
	P = x.e.P;
	Q = x.e.Q;
	INFO("preferred pool%d (%s), the other pool%d (%s)", Q,
	     tier_name(x.e.pool[Q].tier), P, tier_name(x.e.pool[P].tier));
	if (!resv_set(&x.r, Q, 4))
		goto out;
	p0 = pool_free(P);
	if (!kv_space_new(&x.s, x.fd, 8 * x.e.ps, x.e.pool[Q].tier,
			  KVMEM_POLICY_FALLBACK, 0))
		goto out;
	CHECK_ERR(pop(&x, 0, 8, &done, NULL), 0,
		  "POPULATE 8 pages, preferred pool has 4");
	if (residency_counts(x.fd, x.s.c.handle, 8, cnt)) {
		CHECK_EQ(cnt[Q], 4, "pages in the preferred pool%d", Q);
		CHECK_EQ(cnt[P], 4, "pages in pool%d (fallback to a %s tier)",
			 P, x.e.pool[P].tier < x.e.pool[Q].tier ? "faster" :
			 "slower");
	}
	CHECK_EQ(pool_free(P), p0 - 4, "pool%d frames_free", P);
out:
	pfx_fini(&x);
}

/* ------------------------------------------------------------- WAIT */

/* Allowed lateness of a timed wait under TCG. */
#define LATE_MS 3000
#define EARLY_MS 20
/* timeout_ms of the WAIT spaces whose waits something else must end. */
#define WAIT_MS 5000

/* A wait of dt ms that should have lasted its timeout `to`. */
static bool check_waited(double dt, uint32_t to, const char *who)
{
	return CHECK(dt >= to - EARLY_MS && dt <= to + LATE_MS,
		     "%s waited %.0f ms (expected %u .. %u)", who, dt,
		     to - EARLY_MS, to + LATE_MS);
}

void test_policy_wait_timeout(void)
{
	struct pfx x;
	uint64_t q0 = 0;
	const uint32_t to = 300;
	double dt;
	uint8_t v;

	if (!pfx_init(&x, false, 4))
		goto out;
	if (x.e.Q >= 0)
		q0 = pool_free(x.e.Q);
	if (!pfx_hog(&x, 4) || !pfx_space(&x, 4, KVMEM_POLICY_WAIT, to))
		goto out;
	CHECK_ERR(pop(&x, 0, 1, NULL, &dt), ETIMEDOUT,
		  "POPULATE 1 page, WAIT %u ms, pool empty", to);
	check_waited(dt, to, "it");
	CHECK_ERR(pop(&x, 0, 3, NULL, &dt), ETIMEDOUT, "POPULATE 3 pages");
	check_waited(dt, to, "in total it");
	CHECK_EQ(resident(&x, 4), 0, "nothing resident");
	if (x.e.Q >= 0)
		CHECK_EQ(pool_free(x.e.Q), q0, "WAIT does not fall back: "
			 "pool%d unchanged", x.e.Q);
	CHECK_EQ(touch(&x, 1, &v, &dt), SIGBUS, "touch, WAIT %u ms, pool empty",
		 to);
	check_waited(dt, to, "the fault");
	CHECK_EQ(pool_free(x.e.P), 0, "pool still empty");
	/* A free frame is taken without waiting. */
	kv_release(x.fd, x.hog.c.handle, 0, 1, NULL);
	CHECK_ERR(pop(&x, 0, 1, NULL, &dt), 0, "POPULATE with a frame free");
	CHECK(dt < to, "no wait when a frame is free (%.0f ms)", dt);
out:
	pfx_fini(&x);
}

void test_policy_wait_success(void)
{
	struct pfx x;
	struct kv_pipes pp;
	double dt;
	pid_t pid;
	uint8_t v = 0xff;
	int sig;
	char ch;

	if (!pfx_init(&x, false, 4) || !pipes_open(&pp))
		goto out;
	pid = xfork();
	if (pid == 0) {
		struct kvmem_space_create c;
		int cfd = kv_open();

		close(x.fd);
		if (cfd < 0 || kv_create(cfd, 4 * x.e.ps, x.e.pool[x.e.P].tier,
					 KVMEM_POLICY_FAIL, 0, &c) ||
		    kv_populate(cfd, c.handle, 0, 4, NULL))
			_exit(2);
		pipe_send(pp.c2p[1], 'h');
		sleep_ms(200);
		kv_release(cfd, c.handle, 0, 1, NULL);
		sleep_ms(200);
		kv_release(cfd, c.handle, 1, 1, NULL);
		pipe_recv(pp.p2c[0], &ch, 30000);
		_exit(0);
	}
	if (!CHECK(pipe_recv(pp.c2p[0], &ch, 20000), "child holds all frames"))
		goto child;
	CHECK_EQ(pool_free(x.e.P), 0, "pool empty");
	if (!pfx_space(&x, 4, KVMEM_POLICY_WAIT, WAIT_MS))
		goto child;
	CHECK_ERR(pop(&x, 0, 1, NULL, &dt), 0,
		  "POPULATE, WAIT 5000 ms; the child frees a frame after "
		  "200 ms");
	CHECK(dt >= 100 && dt < 4000, "it waited %.0f ms (expected about "
	      "200)", dt);
	CHECK_EQ(page_pool(x.fd, x.s.c.handle, 0), x.e.P, "page 0 in pool%d",
		 x.e.P);
	sig = touch(&x, 1, &v, &dt);
	CHECK(sig == 0 && v == 0, "touch, WAIT; the child frees another "
	      "frame after 200 more ms: %s, reads %u",
	      sig ? "signal" : "ok", v);
	CHECK(dt >= 50 && dt < 4000, "the fault waited %.0f ms (expected "
	      "about 200)", dt);
	CHECK_EQ(page_pool(x.fd, x.s.c.handle, 1), x.e.P, "page 1 in pool%d",
		 x.e.P);
	kv_space_free(&x.s);
child:
	pipe_send(pp.p2c[1], 'x');
	child_done(pid, 30000, "frame-holding child");
	pipes_close(&pp);
out:
	pfx_fini(&x);
}

static void on_signal(int sig)
{
	(void)sig;
}

static void alarm_in(int ms, bool restart)
{
	struct sigaction sa;
	struct itimerval it = { { 0, 0 }, { ms / 1000, (ms % 1000) * 1000 } };

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = restart ? SA_RESTART : 0;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &it, NULL);
}

void test_policy_wait_eintr(void)
{
	struct pfx x;
	double dt;
	int err;

	if (!pfx_init(&x, false, 2) || !pfx_hog(&x, 2) ||
	    !pfx_space(&x, 2, KVMEM_POLICY_WAIT, WAIT_MS))
		goto out;
	alarm_in(200, false);
	err = pop(&x, 0, 1, NULL, &dt);
	CHECK_ERR(err, EINTR, "POPULATE, WAIT 5000 ms, SIGALRM (handler "
		  "without SA_RESTART) after 200 ms");
	CHECK(dt >= 150 && dt < 4000, "it returned after %.0f ms (expected "
	      "about 200)", dt);
	CHECK_EQ(resident(&x, 2), 0, "nothing resident");
	CHECK_EQ(pool_free(x.e.P), 0, "pool still empty");

	/* With SA_RESTART: report what happens (the doc says EINTR). */
	alarm_in(200, true);
	err = pop(&x, 0, 1, NULL, &dt);
	INFO("with an SA_RESTART handler: POPULATE returned %s after %.0f ms",
	     err ? errname(err) : "success", dt);
	CHECK(err == EINTR || err == ETIMEDOUT,
	      "with SA_RESTART it still ends (EINTR, or ETIMEDOUT if "
	      "restarted): %s", errname(err));
	signal(SIGALRM, SIG_IGN);
out:
	pfx_fini(&x);
}

void test_policy_wait_fault_kill(void)
{
	struct pfx x;
	double t0, dt;
	int st;
	pid_t pid;

	if (!pfx_init(&x, false, 2) || !pfx_hog(&x, 2) ||
	    !pfx_space(&x, 2, KVMEM_POLICY_WAIT, 20000))
		goto out;

	/* A fatal signal ends a fault's wait. */
	pid = xfork();
	if (pid == 0) {
		signal(SIGBUS, SIG_DFL);
		(void)*(volatile uint8_t *)x.s.map;
		_exit(5);
	}
	child_waits(pid, 400, "child still waiting in its fault after 400 ms");
	t0 = now_ms();
	kill(pid, SIGKILL);
	st = xwait_timeout(pid, 5000);
	dt = now_ms() - t0;
	CHECK(st >= 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
	      "SIGKILL ended the child (status 0x%x)", st);
	CHECK(dt < 3000, "within %.0f ms (timeout_ms is 20000)", dt);
	CHECK_EQ(pool_free(x.e.P), 0, "pool: no frame leaked or freed");
	CHECK_EQ(resident(&x, 2), 0, "nothing resident");

	/* A caught signal does not end it: the access completes once a
	 * frame is freed. */
	pid = xfork();
	if (pid == 0) {
		volatile uint8_t *p = x.s.map + x.e.ps;

		signal(SIGUSR1, on_signal);
		signal(SIGBUS, SIG_DFL);
		p[7] = 0x99;
		_exit(p[7] == 0x99 && p[0] == 0 ? 0 : 6);
	}
	sleep_ms(300);
	kill(pid, SIGUSR1);
	child_waits(pid, 300, "after SIGUSR1 (caught) the child still waits");
	kv_release(x.fd, x.hog.c.handle, 0, 1, NULL);
	child_done(pid, 10000, "child whose fault got a frame after SIGUSR1");
	CHECK_EQ(page_pool(x.fd, x.s.c.handle, 1), x.e.P,
		 "its page is resident");
out:
	pfx_fini(&x);
}

/* -------------------------------------- WAIT waiters and the same space */

/*
 * A child waits for a frame of s (a WAIT_MS space): a fault (a read) of
 * page `page`, or a POPULATE of `count` pages from `page`. Meanwhile the
 * parent RELEASEs page `freed` of s, or destroys s. That must return at
 * once, and end the child's wait at once (not at its timeout): the fault
 * with signal `exp` (0: it got a zeroed frame), the POPULATE with errno
 * `exp`.
 */
struct waiter {
	bool populate;
	uint64_t page, count;
	int exp;
	bool destroy;
	uint64_t freed;
};

static void waiter_run(struct pfx *x, const struct waiter *w)
{
	const char *act = w->destroy ? "SPACE_DESTROY" : "RELEASE";
	const char *waits = w->populate ? "POPULATE" : "fault";
	double t0, dt;
	pid_t pid;
	int err;

	pid = xfork();
	if (pid == 0) {
		uint8_t v = 0xff;
		double cdt;
		int got = w->populate ? pop(x, w->page, w->count, NULL, &cdt) :
			  touch(x, w->page, &v, &cdt);

		if (w->populate)
			CHECK_ERR(got, w->exp, "child: the waiting POPULATE of "
				  "%llu page(s) from page %llu ended after "
				  "%.0f ms", U(w->count), U(w->page), cdt);
		else if (w->exp)
			CHECK_EQ(got, w->exp, "child: the waiting fault on "
				 "page %llu ended with a signal after %.0f ms",
				 U(w->page), cdt);
		else
			CHECK(got == 0 && v == 0, "child: the fault on page "
			      "%llu got a frame (%s, reads %u) after %.0f ms",
			      U(w->page), got ? "signal" : "ok", v, cdt);
		CHECK(cdt < 2500, "child: it ended at the %s, not at its "
		      "timeout (%.0f ms, timeout %d)", act, cdt, WAIT_MS);
		_exit(vt_failures ? 1 : 0);
	}
	child_waits(pid, 300, w->populate ? "child waits in POPULATE" :
		    "child waits in its fault");
	t0 = now_ms();
	if (w->destroy)
		err = kv_destroy(x->fd, x->s.c.handle);
	else
		err = kv_release(x->fd, x->s.c.handle, w->freed, 1, NULL);
	dt = now_ms() - t0;
	if (w->destroy)
		CHECK_ERR(err, 0, "SPACE_DESTROY while a %s of it waits",
			  waits);
	else
		CHECK_ERR(err, 0, "RELEASE page %llu of the same space",
			  U(w->freed));
	if (w->destroy && !err)
		x->s.c.handle = 0;
	CHECK(dt < 1000, "%s returned in %.0f ms (must not wait for the "
	      "%s's %d ms)", act, dt, waits, WAIT_MS);
	child_done(pid, 10000, w->populate ? "populating child" :
		   "faulting child");
}

/*
 * A fault of a WAIT space waits for a frame. Meanwhile other users of the
 * same space must not be stuck behind it: RELEASE of one of its pages
 * (which frees the frame the waiter needs) returns at once and the waiter
 * proceeds; POPULATE waiting likewise.
 */
void test_policy_wait_release_same_space(void)
{
	static const struct waiter fault = { .page = 4, .freed = 0 };
	static const struct waiter populate = {
		.populate = true, .page = 5, .count = 1, .freed = 1,
	};
	struct pfx x;

	if (!pfx_init(&x, false, 4) ||
	    !pfx_space(&x, 8, KVMEM_POLICY_WAIT, WAIT_MS))
		goto out;
	CHECK_ERR(pop(&x, 0, 4, NULL, NULL), 0,
		  "POPULATE pages 0..3: the space holds the whole pool");
	CHECK_EQ(pool_free(x.e.P), 0, "pool empty");

	/* 1. A fault waits; RELEASE of another page of the space. */
	waiter_run(&x, &fault);
	CHECK_EQ(page_pool(x.fd, x.s.c.handle, 4), x.e.P, "page 4 resident");

	/* 2. A POPULATE waits; RELEASE of another page of the space. */
	pop(&x, 4, 1, NULL, NULL);	/* if 1. failed */
	CHECK_EQ(pool_free(x.e.P), 0, "pool empty again");
	waiter_run(&x, &populate);
out:
	pfx_fini(&x);
}

/*
 * SPACE_DESTROY while a fault (or a POPULATE) of the space waits for a
 * frame: the destroy acts at once and the waiter ends at once (SIGBUS,
 * ENOENT), not at its timeout.
 */
void test_policy_wait_destroy_waiter(void)
{
	static const struct waiter ws[] = {
		{ .page = 0, .exp = SIGBUS, .destroy = true },
		{ .populate = true, .page = 0, .count = 2, .exp = ENOENT,
		  .destroy = true },
	};
	struct pfx x;
	uint64_t f0;

	if (!pfx_init(&x, false, 2) || !pfx_hog(&x, 2))
		goto out;
	f0 = pool_free(x.e.P);
	for (size_t i = 0; i < NELEM(ws); i++) {
		if (!pfx_space(&x, 4, KVMEM_POLICY_WAIT, WAIT_MS))
			break;
		waiter_run(&x, &ws[i]);
		CHECK_EQ(pool_free(x.e.P), f0, "no frame changed hands");
		kv_space_free(&x.s);
	}
out:
	pfx_fini(&x);
}

/*
 * A WAIT POPULATE that backed page 0, then waits for page 1 and times out,
 * gives page 0 back (all or nothing) even though a fault mapped page 0
 * meanwhile: the mapping must be zapped, so that it never again reaches
 * the frame now back in the pool.
 */
void test_policy_wait_populate_undo(void)
{
	struct pfx x;
	struct kv_pipes pp;
	pid_t pid;
	char ch;

	if (!pfx_init(&x, false, 2) || !pfx_hog(&x, 1) ||
	    !pfx_space(&x, 4, KVMEM_POLICY_WAIT, 800) || !pipes_open(&pp))
		goto out;
	pid = xfork();
	if (pid == 0) {
		uint8_t v = 0xff;
		int sig;

		sleep_ms(300);		/* the parent's POPULATE waits now */
		sig = probe_write(x.s.map + 8, 0x77);
		CHECK_EQ(sig, 0, "child: write to page 0 (backed by the "
			 "waiting POPULATE)");
		pipe_send(pp.c2p[1], 'w');
		if (!pipe_recv(pp.p2c[0], &ch, 20000))
			_exit(3);
		sig = probe_read(x.s.map + 8, &v);
		CHECK(sig == 0 && v == 0, "child: after the POPULATE failed, "
		      "page 0 reads %u (%s): a fresh zeroed frame, not the "
		      "freed one", v, sig ? "signal" : "ok");
		_exit(vt_failures ? 1 : 0);
	}
	CHECK_ERR(pop(&x, 0, 2, NULL, NULL), ETIMEDOUT,
		  "POPULATE pages 0..1 with one free frame, WAIT 800 ms");
	CHECK(pipe_recv(pp.c2p[0], &ch, 5000),
	      "the child wrote during the wait");
	CHECK_EQ(resident(&x, 4), 0, "all or nothing: page 0 given back");
	CHECK_EQ(pool_free(x.e.P), 1, "its frame is free again");
	pipe_send(pp.p2c[1], 'r');
	child_done(pid, 10000, "child");
	CHECK_EQ(page_pool(x.fd, x.s.c.handle, 0), x.e.P,
		 "the child's read backed page 0 again");
	pipes_close(&pp);
out:
	pfx_fini(&x);
}

/*
 * Two faults of the same page wait; two frames are freed at once. Both
 * faults must end up on one frame (both writes visible), and the other
 * frame stays free: no frame lost, none leaked.
 */
void test_policy_wait_two_waiters(void)
{
	struct pfx x;
	pid_t pid[2];

	if (!pfx_init(&x, false, 2) || !pfx_hog(&x, 2) ||
	    !pfx_space(&x, 2, KVMEM_POLICY_WAIT, WAIT_MS))
		goto out;
	for (int i = 0; i < 2; i++) {
		pid[i] = xfork();
		if (pid[i] == 0) {
			int sig = probe_write(x.s.map + 64 + 8 * i,
					      (uint8_t)(0x50 + i));

			CHECK_EQ(sig, 0, "child %d: write to page 0 after "
				 "waiting", i);
			_exit(vt_failures ? 1 : 0);
		}
	}
	sleep_ms(300);
	CHECK_ERR(kv_release(x.fd, x.hog.c.handle, 0, 2, NULL), 0,
		  "free two frames at once");
	for (int i = 0; i < 2; i++)
		child_done(pid[i], 10000, "waiting child");
	CHECK_EQ(resident(&x, 2), 1, "one page resident");
	CHECK(x.s.map[64] == 0x50 && x.s.map[72] == 0x51,
	      "both children's writes are in the one frame (0x%02x 0x%02x)",
	      x.s.map[64], x.s.map[72]);
	CHECK_EQ(pool_free(x.e.P), 1, "the other frame is still free");
	kv_space_free(&x.s);
	CHECK_EQ(pool_free(x.e.P), 2, "both frames back after destroy");
out:
	pfx_fini(&x);
}

/* ------------------------------------------- WAIT without mmap_lock */

struct toucher {
	volatile uint8_t *p;
	volatile int done;
	uint8_t v;
};

static void *toucher_run(void *arg)
{
	struct toucher *t = arg;

	t->v = *t->p;
	t->done = 1;
	return NULL;
}

/*
 * A fault that waits for a frame drops mmap_lock (VM_FAULT_RETRY): the
 * other threads of the process can mmap() and munmap() meanwhile, which
 * take mmap_lock for writing. The fault counts once, though it runs twice.
 */
void test_policy_wait_fault_unlocked(void)
{
	const uint32_t to = 4000;
	struct toucher t = { 0 };
	struct pfx x;
	pthread_t th;
	uint64_t f0;
	double t0, dt;
	void *m;

	if (!pfx_init(&x, false, 2) || !pfx_hog(&x, 2) ||
	    !pfx_space(&x, 2, KVMEM_POLICY_WAIT, to))
		goto out;
	f0 = tenant_u64(0, "faults");
	t.p = x.s.map;
	if (!CHECK(!pthread_create(&th, NULL, toucher_run, &t),
		   "start a thread that touches page 0 (pool empty)"))
		goto out;
	sleep_ms(300);
	CHECK(!t.done, "the touch waits for a frame");
	t0 = now_ms();
	m = mmap(NULL, CPU_PAGE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(m != MAP_FAILED, "mmap() while the fault waits");
	if (m != MAP_FAILED)
		CHECK(!munmap(m, CPU_PAGE), "munmap() while the fault waits");
	dt = now_ms() - t0;
	CHECK(dt < 1000, "mmap() + munmap() took %.0f ms: the waiting fault "
	      "does not hold mmap_lock", dt);
	CHECK(!t.done, "the touch still waits");
	CHECK_ERR(kv_release(x.fd, x.hog.c.handle, 0, 1, NULL), 0,
		  "free a frame");
	pthread_join(th, NULL);
	CHECK(t.done && t.v == 0, "the touch completes, reading a zeroed "
	      "frame (%u)", t.v);
	CHECK_EQ(page_pool(x.fd, x.s.c.handle, 0), x.e.P, "page 0 in pool%d",
		 x.e.P);
	CHECK_EQ(tenant_u64(0, "faults") - f0, 1, "tenant 0 counts one fault "
		 "for the touch, retry included");
out:
	pfx_fini(&x);
}

/* mmap()s and munmap()s in a loop, timing the slowest round (ms). */
struct mapper {
	volatile int stop;
	double worst;
};

static void *mapper_run(void *arg)
{
	struct mapper *m = arg;

	while (!m->stop) {
		double t0 = now_ms(), dt;
		void *p = mmap(NULL, CPU_PAGE, PROT_READ,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p != MAP_FAILED)
			munmap(p, CPU_PAGE);
		dt = now_ms() - t0;
		if (dt > m->worst)
			m->worst = dt;
		sleep_ms(5);
	}
	return NULL;
}

/*
 * MADV_POPULATE_WRITE (like mlock) faults through get_user_pages(), which
 * may fault again without marking the retry and cannot drop mmap_lock:
 * on a WAIT space with no frame it must fail after one wait of at most
 * locked_wait_ms (issue 11, finding 5), not wait again and again, nor
 * the space's whole timeout_ms: mmap() and munmap() of another thread
 * wait behind it meanwhile.
 */
void test_policy_wait_populate_madvise(void)
{
	const uint32_t to = 3000;
	uint64_t lw = sysfs_u64("/sys/module/kvmem/parameters/locked_wait_ms");
	struct mapper mp = { 0 };
	pthread_t th;
	struct pfx x;
	double t0, dt;
	int ret, err;

	if (!CHECK(lw != UINT64_MAX && lw < to, "locked_wait_ms (%llu) below "
		   "the space's timeout_ms %u", U(lw), to))
		return;
	if (!pfx_init(&x, false, 2) || !pfx_hog(&x, 2) ||
	    !pfx_space(&x, 2, KVMEM_POLICY_WAIT, to))
		goto out;
	if (!CHECK(!pthread_create(&th, NULL, mapper_run, &mp),
		   "start a thread that mmap()s and munmap()s"))
		goto out;
	t0 = now_ms();
	ret = madvise(x.s.map, 2 * x.e.ps, 23 /* MADV_POPULATE_WRITE */);
	err = errno;
	dt = now_ms() - t0;
	CHECK(ret == -1, "MADV_POPULATE_WRITE of a WAIT space, pool empty, "
	      "fails (returned %d, %s)", ret, errname(err));
	mp.stop = 1;
	pthread_join(th, NULL);
	CHECK(dt >= lw - EARLY_MS && dt < lw + 1000, "after one wait of "
	      "about locked_wait_ms = %llu ms, not timeout_ms %u: %.0f ms",
	      U(lw), to, dt);
	CHECK(mp.worst < lw + 1000, "another thread's mmap() + munmap() "
	      "waited at most about that long: %.0f ms", mp.worst);
	CHECK_EQ(resident(&x, 2), 0, "nothing resident");
out:
	pfx_fini(&x);
}

/* ------------------------------- a wait that ends with a page in flight */

struct inflight {
	struct pfx *x;
	int pipe_rd;
	uint8_t *dst;
	ssize_t got;
	int err;
	volatile int stop;
	uint32_t qtier;
};

/* A kernel-mode access: read() copies into an unbacked page of s. */
static void *inflight_reader(void *arg)
{
	struct inflight *f = arg;

	f->got = read(f->pipe_rd, f->dst, f->x->e.ps);
	f->err = errno;
	return NULL;
}

static void *inflight_populater(void *arg)
{
	struct inflight *f = arg;

	pop(f->x, 0, 1, NULL, NULL);
	return NULL;
}

/* Migrates page 0 with KEEP_COPY again and again: one starts as soon as
 * someone backs it. */
static void *inflight_migrater(void *arg)
{
	struct inflight *f = arg;
	struct kvmem_event ev;

	while (!f->stop)
		if (!kv_migrate_sync(f->x->fd, f->x->s.c.handle, 0, 1,
				     f->qtier, KVMEM_MIGRATE_KEEP_COPY, &ev))
			break;
	return NULL;
}

/*
 * Issue 11, finding 1: a fault that cannot drop mmap_lock (here the
 * kernel-mode copy of read()) waits for a frame with the space's lock
 * dropped; a POPULATE backs the page meanwhile and a migration of it
 * starts. The fault must then wait for the migration, not map its source
 * frame: what read() wrote must be what a fresh mapping reads. Looped, as
 * the window is small.
 */
void test_policy_wait_inflight_after_wait(void)
{
	const int rounds = 150;
	struct inflight f = { 0 };
	int bad = 0, raced = 0, waited = 0, short_err = 0;
	uint8_t pat[256];
	struct pfx x;
	int p[2] = { -1, -1 };

	if (!pfx_init(&x, true, 2) || !pfx_hog(&x, 2))
		goto out;
	if (!CHECK(!pipe(p), "pipe"))
		goto out;
	f.x = &x;
	f.pipe_rd = p[0];
	f.qtier = x.e.pool[x.e.Q].tier;
	for (int r = 0; r < rounds && !bad; r++) {
		pthread_t rd, po, mg;
		uint8_t *fresh;

		memset(pat, 0x40 + r % 64, sizeof(pat));
		if (!pfx_space(&x, 1, KVMEM_POLICY_WAIT, 3000))
			break;
		f.dst = x.s.map;
		f.stop = 0;
		if (write(p[1], pat, sizeof(pat)) != (ssize_t)sizeof(pat))
			break;
		pthread_create(&rd, NULL, inflight_reader, &f);
		pthread_create(&po, NULL, inflight_populater, &f);
		sleep_ms(20);
		pthread_create(&mg, NULL, inflight_migrater, &f);
		/* Two frames: one the POPULATE takes, one that wakes read(). */
		kv_release(x.fd, x.hog.c.handle, 0, 2, NULL);
		pthread_join(rd, NULL);
		pthread_join(po, NULL);
		f.stop = 1;
		pthread_join(mg, NULL);
		if (f.got != (ssize_t)sizeof(pat)) {
			/* The bounded locked wait may end first: no data. */
			waited++;
			short_err = f.got < 0 ? f.err : 0;
		} else {
			fresh = kv_map(x.fd, x.s.c.mmap_offset, x.e.ps);
			if (!CHECK(fresh, "map page 0 again"))
				break;
			if (memcmp(fresh, pat, sizeof(pat)) ||
			    memcmp(x.s.map, pat, sizeof(pat)))
				bad++;
			if (page_pool(x.fd, x.s.c.handle, 0) == x.e.Q)
				raced++;
			munmap(fresh, x.e.ps);
		}
		kv_space_free(&x.s);
		if (!CHECK_ERR(kv_populate(x.fd, x.hog.c.handle, 0, 2, NULL),
			       0, "hog takes both frames again"))
			break;
	}
	INFO("%d rounds: %d migrated during the read, %d read()s came short "
	     "(the last with %s)", rounds, raced, waited,
	     errname(short_err));
	CHECK_EQ(bad, 0, "rounds whose read() data a fresh mapping (or "
		 "the reader's) does not see");
out:
	if (p[0] >= 0)
		close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
	pfx_fini(&x);
}
