// SPDX-License-Identifier: GPL-2.0
/*
 * kvmem-vmtest: exhaustion policies (FAIL, FALLBACK, WAIT) on small pools.
 * Each test lowers pool reserves to a few frames through sysfs and puts
 * them back at the end.
 */
#include <signal.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmtest.h"

#define U(x) ((unsigned long long)(x))
#define SMALL 8		/* frames left in a shrunk pool */

static uint64_t pfree(int pool)
{
	return pool_u64(pool, "frames_free");
}

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
	       CHECK_EQ(pfree(pool), k, "pool%d frames_free", pool);
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

static bool setup(int *fd, struct kv_env *e, bool needQ)
{
	*fd = kv_open();
	if (*fd < 0)
		return false;
	if (!kv_env(*fd, e, needQ)) {
		close(*fd);
		return false;
	}
	return true;
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
	struct kv_env e;
	struct kv_space s;
	struct resv r = { 0 };
	uint64_t done, q0 = 0;
	uint8_t v;
	int fd, sig;

	if (!setup(&fd, &e, false))
		return;
	if (!resv_set(&r, e.P, SMALL))
		goto restore;
	if (e.Q >= 0)
		q0 = pfree(e.Q);
	if (!kv_space_new(&s, fd, 2 * SMALL * e.ps, e.pool[e.P].tier,
			  KVMEM_POLICY_FAIL, 0))
		goto restore;

	CHECK_ERR(kv_populate(fd, s.c.handle, 0, 2 * SMALL, &done), ENOMEM,
		  "POPULATE %d pages from a pool of %d", 2 * SMALL, SMALL);
	CHECK_EQ(pfree(e.P), SMALL, "all or nothing: frames_free unchanged");
	CHECK_EQ(kv_resident(fd, s.c.handle, 0, 2 * SMALL), 0,
		 "all or nothing: no page resident");
	CHECK_ERR(kv_populate(fd, s.c.handle, 0, SMALL / 2, &done), 0,
		  "POPULATE %d pages", SMALL / 2);
	CHECK_EQ(done, SMALL / 2, "done");
	CHECK_ERR(kv_populate(fd, s.c.handle, 0, 2 * SMALL, &done), ENOMEM,
		  "POPULATE all %d pages (needs %d more, %d free)",
		  2 * SMALL, 2 * SMALL - SMALL / 2, SMALL / 2);
	CHECK_EQ(pfree(e.P), SMALL / 2, "frames_free unchanged by the failed "
		 "call");
	CHECK_EQ(kv_resident(fd, s.c.handle, 0, 2 * SMALL), SMALL / 2,
		 "the pages backed before stay, no others");
	CHECK_ERR(kv_populate(fd, s.c.handle, SMALL / 2, SMALL / 2, &done), 0,
		  "POPULATE the rest of the pool");
	CHECK_EQ(pfree(e.P), 0, "pool empty");
	CHECK_ERR(kv_populate(fd, s.c.handle, SMALL, 1, &done), ENOMEM,
		  "POPULATE one page from an empty pool");
	memset(s.map, 0x31, SMALL * e.ps);
	INFO("writing the %d backed pages worked", SMALL);
	sig = probe_read(s.map + SMALL * e.ps, &v);
	CHECK_EQ(sig, SIGBUS, "read of an unbacked page with the pool empty");
	if (sig == SIGBUS)
		CHECK(probe_addr == s.map + SMALL * e.ps,
		      "si_addr is the touched address");
	CHECK_EQ(probe_write(s.map + (2 * SMALL - 1) * e.ps + 5, 1), SIGBUS,
		 "write of an unbacked page with the pool empty");
	CHECK_EQ(pfree(e.P), 0, "frames_free 0");
	if (e.Q >= 0)
		CHECK_EQ(pfree(e.Q), q0, "no fallback: pool%d unchanged", e.Q);
	CHECK_EQ(kv_resident(fd, s.c.handle, 0, 2 * SMALL), SMALL, "resident");
	CHECK_ERR(kv_release(fd, s.c.handle, 0, 2, &done), 0, "RELEASE 2");
	CHECK(probe_read(s.map + SMALL * e.ps, &v) == 0 && v == 0,
	      "after RELEASE a touch of an unbacked page works");
	CHECK_EQ(pfree(e.P), 1, "frames_free");
	kv_space_free(&s);
restore:
	resv_restore(&r);
	close(fd);
}

/* -------------------------------------------------------- FALLBACK */

void test_policy_fallback(void)
{
	struct kv_env e;
	struct kv_space s1, s2, s3;
	struct resv r = { 0 };
	uint64_t done, q0, cnt[KV_MAX_POOLS + 1];
	int fd;

	if (!setup(&fd, &e, true))
		return;
	if (!resv_set(&r, e.P, SMALL))
		goto restore;
	q0 = pfree(e.Q);
	if (!CHECK(q0 >= 2 * SMALL, "pool%d has >= %d free frames", e.Q,
		   2 * SMALL))
		goto restore;
	if (!kv_space_new(&s1, fd, 2 * SMALL * e.ps, e.pool[e.P].tier,
			  KVMEM_POLICY_FALLBACK, 0))
		goto restore;
	CHECK_ERR(kv_populate(fd, s1.c.handle, 0, 2 * SMALL, &done), 0,
		  "POPULATE %d pages, %s pool has %d", 2 * SMALL,
		  tier_name(e.pool[e.P].tier), SMALL);
	CHECK_EQ(done, 2 * SMALL, "done");
	if (residency_counts(fd, s1.c.handle, 2 * SMALL, cnt)) {
		CHECK_EQ(cnt[e.P], SMALL, "pages in pool%d (%s, preferred)",
			 e.P, tier_name(e.pool[e.P].tier));
		CHECK_EQ(cnt[e.Q], SMALL, "pages in pool%d (%s, fallback)",
			 e.Q, tier_name(e.pool[e.Q].tier));
	}
	CHECK_EQ(pfree(e.P), 0, "pool%d empty", e.P);
	CHECK_EQ(pfree(e.Q), q0 - SMALL, "pool%d gave %d", e.Q, SMALL);

	/* Faults fall back too. */
	if (kv_space_new(&s2, fd, 4 * e.ps, e.pool[e.P].tier,
			 KVMEM_POLICY_FALLBACK, 0)) {
		memset(s2.map, 0x12, 4 * e.ps);
		if (residency_counts(fd, s2.c.handle, 4, cnt))
			CHECK_EQ(cnt[e.Q], 4, "faulted pages came from pool%d",
				 e.Q);
		CHECK_EQ(pfree(e.Q), q0 - SMALL - 4, "pool%d frames_free", e.Q);
		kv_space_free(&s2);
	}
	/* With one preferred frame free again, it is taken first. */
	for (uint64_t p = 0; p < 2 * SMALL; p++)
		if (page_pool(fd, s1.c.handle, p) == e.P) {
			kv_release(fd, s1.c.handle, p, 1, NULL);
			break;
		}
	CHECK_EQ(pfree(e.P), 1, "one preferred frame free");
	if (kv_space_new(&s3, fd, 2 * e.ps, e.pool[e.P].tier,
			 KVMEM_POLICY_FALLBACK, 0)) {
		s3.map[0] = 1;
		CHECK_EQ(page_pool(fd, s3.c.handle, 0), e.P,
			 "first touch takes the preferred pool's frame");
		s3.map[e.ps] = 1;
		CHECK_EQ(page_pool(fd, s3.c.handle, 1), e.Q,
			 "second touch falls back");
		kv_space_free(&s3);
	}
	kv_space_free(&s1);
	CHECK_EQ(pfree(e.Q), q0, "pool%d frames back", e.Q);
restore:
	resv_restore(&r);
	close(fd);
}

void test_policy_fallback_all_empty(void)
{
	struct kv_env e;
	struct kv_space s;
	struct resv r[KV_MAX_POOLS];
	uint64_t done, total, cnt[KV_MAX_POOLS + 1];
	uint8_t v;
	int fd, k = 4;

	memset(r, 0, sizeof(r));
	if (!setup(&fd, &e, false))
		return;
	for (int i = 0; i < e.npools; i++)
		if (!resv_set(&r[i], i, (uint64_t)k))
			goto restore;
	total = (uint64_t)k * (uint64_t)e.npools;
	if (!kv_space_new(&s, fd, (total + 4) * e.ps, e.pool[e.P].tier,
			  KVMEM_POLICY_FALLBACK, 0))
		goto restore;
	CHECK_ERR(kv_populate(fd, s.c.handle, 0, total + 1, &done), ENOMEM,
		  "POPULATE %llu pages, all pools together have %llu",
		  U(total + 1), U(total));
	for (int i = 0; i < e.npools; i++)
		CHECK_EQ(pfree(i), (uint64_t)k, "all or nothing: pool%d "
			 "frames_free unchanged", i);
	CHECK_EQ(kv_resident(fd, s.c.handle, 0, total + 4), 0,
		 "no page resident");
	CHECK_ERR(kv_populate(fd, s.c.handle, 0, total, &done), 0,
		  "POPULATE exactly what all pools have");
	if (residency_counts(fd, s.c.handle, total + 4, cnt))
		for (int i = 0; i < e.npools; i++)
			CHECK_EQ(cnt[i], (uint64_t)k, "pages in pool%d", i);
	CHECK_EQ(probe_read(s.map + total * e.ps, &v), SIGBUS,
		 "touch with every pool empty: SIGBUS");
	CHECK_ERR(kv_populate(fd, s.c.handle, total, 1, &done), ENOMEM,
		  "POPULATE one more page: ENOMEM");
	kv_space_free(&s);
restore:
	for (int i = e.npools - 1; i >= 0; i--)
		resv_restore(&r[i]);
	close(fd);
}

void test_policy_fallback_from_cxl(void)
{
	struct kv_env e;
	struct kv_space s;
	struct resv r = { 0 };
	uint64_t done, p0, cnt[KV_MAX_POOLS + 1];
	int fd;

	if (!setup(&fd, &e, true))
		return;
	INFO("preferred pool%d (%s), the other pool%d (%s)", e.Q,
	     tier_name(e.pool[e.Q].tier), e.P, tier_name(e.pool[e.P].tier));
	if (!resv_set(&r, e.Q, 4))
		goto restore;
	p0 = pfree(e.P);
	if (!kv_space_new(&s, fd, 8 * e.ps, e.pool[e.Q].tier,
			  KVMEM_POLICY_FALLBACK, 0))
		goto restore;
	CHECK_ERR(kv_populate(fd, s.c.handle, 0, 8, &done), 0,
		  "POPULATE 8 pages, preferred pool has 4");
	if (residency_counts(fd, s.c.handle, 8, cnt)) {
		CHECK_EQ(cnt[e.Q], 4, "pages in the preferred pool%d", e.Q);
		CHECK_EQ(cnt[e.P], 4, "pages in pool%d (fallback to a %s tier)",
			 e.P, e.pool[e.P].tier < e.pool[e.Q].tier ? "faster" :
			 "slower");
	}
	CHECK_EQ(pfree(e.P), p0 - 4, "pool%d frames_free", e.P);
	kv_space_free(&s);
restore:
	resv_restore(&r);
	close(fd);
}

/* ------------------------------------------------------------- WAIT */

/* Allowed lateness of a timed wait under TCG. */
#define LATE_MS 3000
#define EARLY_MS 20

void test_policy_wait_timeout(void)
{
	struct kv_env e;
	struct kv_space hog, s;
	struct resv r = { 0 };
	uint64_t done, q0 = 0;
	const uint32_t to = 300;
	double t0, dt;
	uint8_t v;
	int fd, sig;

	if (!setup(&fd, &e, false))
		return;
	if (!resv_set(&r, e.P, 4))
		goto restore;
	if (e.Q >= 0)
		q0 = pfree(e.Q);
	if (!kv_space_new(&hog, fd, 4 * e.ps, e.pool[e.P].tier,
			  KVMEM_POLICY_FAIL, 0))
		goto restore;
	CHECK_ERR(kv_populate(fd, hog.c.handle, 0, 4, &done), 0,
		  "a FAIL space takes all 4 frames");
	if (!kv_space_new(&s, fd, 4 * e.ps, e.pool[e.P].tier,
			  KVMEM_POLICY_WAIT, to))
		goto hog;
	t0 = now_ms();
	CHECK_ERR(kv_populate(fd, s.c.handle, 0, 1, &done), ETIMEDOUT,
		  "POPULATE 1 page, WAIT %u ms, pool empty", to);
	dt = now_ms() - t0;
	CHECK(dt >= to - EARLY_MS && dt <= to + LATE_MS,
	      "it waited %.0f ms (expected %u .. %u)", dt, to - EARLY_MS,
	      to + LATE_MS);
	t0 = now_ms();
	CHECK_ERR(kv_populate(fd, s.c.handle, 0, 3, &done), ETIMEDOUT,
		  "POPULATE 3 pages");
	dt = now_ms() - t0;
	CHECK(dt >= to - EARLY_MS && dt <= to + LATE_MS,
	      "it waited %.0f ms in total (expected %u .. %u)", dt,
	      to - EARLY_MS, to + LATE_MS);
	CHECK_EQ(kv_resident(fd, s.c.handle, 0, 4), 0, "nothing resident");
	if (e.Q >= 0)
		CHECK_EQ(pfree(e.Q), q0, "WAIT does not fall back: pool%d "
			 "unchanged", e.Q);
	t0 = now_ms();
	sig = probe_read(s.map + e.ps, &v);
	dt = now_ms() - t0;
	CHECK_EQ(sig, SIGBUS, "touch, WAIT %u ms, pool empty", to);
	CHECK(dt >= to - EARLY_MS && dt <= to + LATE_MS,
	      "the fault waited %.0f ms (expected %u .. %u)", dt,
	      to - EARLY_MS, to + LATE_MS);
	CHECK_EQ(pfree(e.P), 0, "pool still empty");
	/* A free frame is taken without waiting. */
	kv_release(fd, hog.c.handle, 0, 1, NULL);
	t0 = now_ms();
	CHECK_ERR(kv_populate(fd, s.c.handle, 0, 1, &done), 0,
		  "POPULATE with a frame free");
	dt = now_ms() - t0;
	CHECK(dt < to, "no wait when a frame is free (%.0f ms)", dt);
	kv_space_free(&s);
hog:
	kv_space_free(&hog);
restore:
	resv_restore(&r);
	close(fd);
}

void test_policy_wait_success(void)
{
	struct kv_env e;
	struct kv_space s;
	struct resv r = { 0 };
	uint64_t done;
	int fd, c2p[2], p2c[2], st, sig;
	double t0, dt;
	pid_t pid;
	uint8_t v = 0xff;
	char ch;

	if (!setup(&fd, &e, false))
		return;
	if (!resv_set(&r, e.P, 4))
		goto restore;
	if (pipe(c2p) || pipe(p2c)) {
		CHECK(0, "pipe");
		goto restore;
	}
	pid = xfork();
	if (pid == 0) {
		struct kvmem_space_create c;
		int cfd = kv_open();

		close(fd);
		if (cfd < 0 || kv_create(cfd, 4 * e.ps, e.pool[e.P].tier,
					 KVMEM_POLICY_FAIL, 0, &c) ||
		    kv_populate(cfd, c.handle, 0, 4, NULL))
			_exit(2);
		pipe_send(c2p[1], 'h');
		sleep_ms(200);
		kv_release(cfd, c.handle, 0, 1, NULL);
		sleep_ms(200);
		kv_release(cfd, c.handle, 1, 1, NULL);
		pipe_recv(p2c[0], &ch, 30000);
		_exit(0);
	}
	if (!CHECK(pipe_recv(c2p[0], &ch, 20000), "child holds all frames"))
		goto child;
	CHECK_EQ(pfree(e.P), 0, "pool empty");
	if (!kv_space_new(&s, fd, 4 * e.ps, e.pool[e.P].tier,
			  KVMEM_POLICY_WAIT, 5000))
		goto child;
	t0 = now_ms();
	CHECK_ERR(kv_populate(fd, s.c.handle, 0, 1, &done), 0,
		  "POPULATE, WAIT 5000 ms; the child frees a frame after "
		  "200 ms");
	dt = now_ms() - t0;
	CHECK(dt >= 100 && dt < 4000, "it waited %.0f ms (expected about "
	      "200)", dt);
	CHECK_EQ(page_pool(fd, s.c.handle, 0), e.P, "page 0 in pool%d", e.P);
	t0 = now_ms();
	sig = probe_read(s.map + e.ps, &v);
	dt = now_ms() - t0;
	CHECK(sig == 0 && v == 0, "touch, WAIT; the child frees another "
	      "frame after 200 more ms: %s, reads %u",
	      sig ? "signal" : "ok", v);
	CHECK(dt >= 50 && dt < 4000, "the fault waited %.0f ms (expected "
	      "about 200)", dt);
	CHECK_EQ(page_pool(fd, s.c.handle, 1), e.P, "page 1 in pool%d", e.P);
	kv_space_free(&s);
child:
	pipe_send(p2c[1], 'x');
	st = xwait_timeout(pid, 30000);
	check_child_ok(st, "frame-holding child");
	close(c2p[0]); close(c2p[1]); close(p2c[0]); close(p2c[1]);
restore:
	resv_restore(&r);
	close(fd);
}

static void on_alarm(int sig)
{
	(void)sig;
}

static void alarm_in(int ms, bool restart)
{
	struct sigaction sa;
	struct itimerval it = { { 0, 0 }, { ms / 1000, (ms % 1000) * 1000 } };

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sa.sa_flags = restart ? SA_RESTART : 0;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &it, NULL);
}

void test_policy_wait_eintr(void)
{
	struct kv_env e;
	struct kv_space hog, s;
	struct resv r = { 0 };
	uint64_t done;
	double t0, dt;
	int fd, err;

	if (!setup(&fd, &e, false))
		return;
	if (!resv_set(&r, e.P, 2))
		goto restore;
	if (!kv_space_new(&hog, fd, 2 * e.ps, e.pool[e.P].tier,
			  KVMEM_POLICY_FAIL, 0))
		goto restore;
	kv_populate(fd, hog.c.handle, 0, 2, &done);
	CHECK_EQ(pfree(e.P), 0, "pool empty");
	if (!kv_space_new(&s, fd, 2 * e.ps, e.pool[e.P].tier,
			  KVMEM_POLICY_WAIT, 5000))
		goto hog;
	alarm_in(200, false);
	t0 = now_ms();
	err = kv_populate(fd, s.c.handle, 0, 1, &done);
	dt = now_ms() - t0;
	CHECK_ERR(err, EINTR, "POPULATE, WAIT 5000 ms, SIGALRM (handler "
		  "without SA_RESTART) after 200 ms");
	CHECK(dt >= 150 && dt < 4000, "it returned after %.0f ms (expected "
	      "about 200)", dt);
	CHECK_EQ(kv_resident(fd, s.c.handle, 0, 2), 0, "nothing resident");
	CHECK_EQ(pfree(e.P), 0, "pool still empty");

	/* With SA_RESTART: report what happens (the doc says EINTR). */
	alarm_in(200, true);
	t0 = now_ms();
	err = kv_populate(fd, s.c.handle, 0, 1, &done);
	dt = now_ms() - t0;
	INFO("with an SA_RESTART handler: POPULATE returned %s after %.0f ms",
	     err ? errname(err) : "success", dt);
	CHECK(err == EINTR || err == ETIMEDOUT,
	      "with SA_RESTART it still ends (EINTR, or ETIMEDOUT if "
	      "restarted): %s", errname(err));
	signal(SIGALRM, SIG_IGN);
	kv_space_free(&s);
hog:
	kv_space_free(&hog);
restore:
	resv_restore(&r);
	close(fd);
}

static void on_usr1(int sig)
{
	(void)sig;
}

void test_policy_wait_fault_kill(void)
{
	struct kv_env e;
	struct kv_space hog, s;
	struct resv r = { 0 };
	uint64_t done;
	double t0, dt;
	int fd, st;
	pid_t pid;

	if (!setup(&fd, &e, false))
		return;
	if (!resv_set(&r, e.P, 2))
		goto restore;
	if (!kv_space_new(&hog, fd, 2 * e.ps, e.pool[e.P].tier,
			  KVMEM_POLICY_FAIL, 0))
		goto restore;
	kv_populate(fd, hog.c.handle, 0, 2, &done);
	if (!kv_space_new(&s, fd, 2 * e.ps, e.pool[e.P].tier,
			  KVMEM_POLICY_WAIT, 20000))
		goto hog;

	/* A fatal signal ends a fault's wait. */
	pid = xfork();
	if (pid == 0) {
		signal(SIGBUS, SIG_DFL);
		(void)*(volatile uint8_t *)s.map;
		_exit(5);
	}
	sleep_ms(400);
	CHECK_EQ(waitpid(pid, &st, WNOHANG), 0,
		 "child still waiting in its fault after 400 ms");
	t0 = now_ms();
	kill(pid, SIGKILL);
	st = xwait_timeout(pid, 5000);
	dt = now_ms() - t0;
	CHECK(st >= 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
	      "SIGKILL ended the child (status 0x%x)", st);
	CHECK(dt < 3000, "within %.0f ms (timeout_ms is 20000)", dt);
	CHECK_EQ(pfree(e.P), 0, "pool: no frame leaked or freed");
	CHECK_EQ(kv_resident(fd, s.c.handle, 0, 2), 0, "nothing resident");

	/* A caught signal does not end it: the access completes once a
	 * frame is freed. */
	pid = xfork();
	if (pid == 0) {
		volatile uint8_t *p = s.map + e.ps;

		signal(SIGUSR1, on_usr1);
		signal(SIGBUS, SIG_DFL);
		p[7] = 0x99;
		_exit(p[7] == 0x99 && p[0] == 0 ? 0 : 6);
	}
	sleep_ms(300);
	kill(pid, SIGUSR1);
	sleep_ms(300);
	CHECK_EQ(waitpid(pid, &st, WNOHANG), 0,
		 "after SIGUSR1 (caught) the child still waits");
	kv_release(fd, hog.c.handle, 0, 1, NULL);
	st = xwait_timeout(pid, 10000);
	check_child_ok(st, "child whose fault got a frame after SIGUSR1");
	CHECK_EQ(page_pool(fd, s.c.handle, 1), e.P, "its page is resident");
	kv_space_free(&s);
hog:
	kv_space_free(&hog);
restore:
	resv_restore(&r);
	close(fd);
}

/* -------------------------------------- WAIT waiters and the same space */

/*
 * A fault of a WAIT space waits for a frame. Meanwhile other users of the
 * same space must not be stuck behind it: RELEASE of one of its pages
 * (which frees the frame the waiter needs) returns at once and the waiter
 * proceeds; POPULATE waiting likewise.
 */
void test_policy_wait_release_same_space(void)
{
	struct kv_env e;
	struct kv_space s;
	struct resv r = { 0 };
	uint64_t done;
	double t0, dt;
	int fd, st, err;
	pid_t pid;

	if (!setup(&fd, &e, false))
		return;
	if (!resv_set(&r, e.P, 4))
		goto restore;
	if (!kv_space_new(&s, fd, 8 * e.ps, e.pool[e.P].tier,
			  KVMEM_POLICY_WAIT, 5000))
		goto restore;
	CHECK_ERR(kv_populate(fd, s.c.handle, 0, 4, &done), 0,
		  "POPULATE pages 0..3: the space holds the whole pool");
	CHECK_EQ(pfree(e.P), 0, "pool empty");

	/* 1. A fault waits; RELEASE of another page of the space. */
	pid = xfork();
	if (pid == 0) {
		uint8_t v = 0xff;
		double c0 = now_ms();
		int sig = probe_read(s.map + 4 * e.ps, &v);
		double cdt = now_ms() - c0;

		CHECK(sig == 0 && v == 0, "child: the fault on page 4 got a "
		      "frame (%s) after %.0f ms", sig ? "signal" : "ok", cdt);
		CHECK(cdt < 2500, "child: it did not wait for its timeout "
		      "(%.0f ms, timeout 5000)", cdt);
		_exit(vt_failures ? 1 : 0);
	}
	sleep_ms(300);
	CHECK_EQ(waitpid(pid, &st, WNOHANG), 0, "child waits in its fault");
	t0 = now_ms();
	err = kv_release(fd, s.c.handle, 0, 1, &done);
	dt = now_ms() - t0;
	CHECK_ERR(err, 0, "RELEASE page 0 of the same space");
	CHECK(dt < 1000, "RELEASE returned in %.0f ms (must not wait for "
	      "the fault's 5000 ms)", dt);
	st = xwait_timeout(pid, 10000);
	check_child_ok(st, "faulting child");
	CHECK_EQ(page_pool(fd, s.c.handle, 4), e.P, "page 4 resident");

	/* 2. A POPULATE waits; RELEASE of another page of the space. */
	kv_populate(fd, s.c.handle, 4, 1, NULL);	/* if 1. failed */
	CHECK_EQ(pfree(e.P), 0, "pool empty again");
	pid = xfork();
	if (pid == 0) {
		double c0 = now_ms();
		int e2 = kv_populate(fd, s.c.handle, 5, 1, NULL);
		double cdt = now_ms() - c0;

		CHECK_ERR(e2, 0, "child: POPULATE page 5 (waits for a frame) "
			  "after %.0f ms", cdt);
		CHECK(cdt < 2500, "child: it did not wait for its timeout "
		      "(%.0f ms)", cdt);
		_exit(vt_failures ? 1 : 0);
	}
	sleep_ms(300);
	CHECK_EQ(waitpid(pid, &st, WNOHANG), 0, "child waits in POPULATE");
	t0 = now_ms();
	err = kv_release(fd, s.c.handle, 1, 1, &done);
	dt = now_ms() - t0;
	CHECK_ERR(err, 0, "RELEASE page 1 of the same space");
	CHECK(dt < 1000, "RELEASE returned in %.0f ms", dt);
	st = xwait_timeout(pid, 10000);
	check_child_ok(st, "populating child");
	kv_space_free(&s);
restore:
	resv_restore(&r);
	close(fd);
}

/*
 * SPACE_DESTROY while a fault (or a POPULATE) of the space waits for a
 * frame: the destroy acts at once and the waiter ends at once (SIGBUS,
 * ENOENT), not at its timeout.
 */
void test_policy_wait_destroy_waiter(void)
{
	struct kv_env e;
	struct kv_space hog, s;
	struct resv r = { 0 };
	uint64_t done, f0;
	double t0, dt;
	int fd, st, err;
	pid_t pid;

	if (!setup(&fd, &e, false))
		return;
	if (!resv_set(&r, e.P, 2))
		goto restore;
	if (!kv_space_new(&hog, fd, 2 * e.ps, e.pool[e.P].tier,
			  KVMEM_POLICY_FAIL, 0))
		goto restore;
	kv_populate(fd, hog.c.handle, 0, 2, &done);
	if (!kv_space_new(&s, fd, 4 * e.ps, e.pool[e.P].tier,
			  KVMEM_POLICY_WAIT, 5000))
		goto hog;
	f0 = pfree(e.P);
	pid = xfork();
	if (pid == 0) {
		uint8_t v;
		double c0 = now_ms();
		int sig = probe_read(s.map, &v);
		double cdt = now_ms() - c0;

		CHECK_EQ(sig, SIGBUS, "child: the waiting fault ended with a "
			 "signal after %.0f ms", cdt);
		CHECK(cdt < 2500, "child: at the destroy, not at the timeout "
		      "(%.0f ms, timeout 5000)", cdt);
		_exit(vt_failures ? 1 : 0);
	}
	sleep_ms(300);
	CHECK_EQ(waitpid(pid, &st, WNOHANG), 0, "child waits in its fault");
	t0 = now_ms();
	err = kv_destroy(fd, s.c.handle);
	dt = now_ms() - t0;
	CHECK_ERR(err, 0, "SPACE_DESTROY while a fault of it waits");
	if (!err)
		s.c.handle = 0;
	CHECK(dt < 1000, "SPACE_DESTROY returned in %.0f ms", dt);
	st = xwait_timeout(pid, 10000);
	check_child_ok(st, "faulting child");
	CHECK_EQ(pfree(e.P), f0, "no frame changed hands");
	kv_space_free(&s);

	/* The same with a POPULATE waiting: it ends with ENOENT. */
	if (!kv_space_new(&s, fd, 4 * e.ps, e.pool[e.P].tier,
			  KVMEM_POLICY_WAIT, 5000))
		goto hog;
	pid = xfork();
	if (pid == 0) {
		double c0 = now_ms();
		int e2 = kv_populate(fd, s.c.handle, 0, 2, NULL);
		double cdt = now_ms() - c0;

		CHECK_ERR(e2, ENOENT, "child: the waiting POPULATE ended "
			  "after %.0f ms", cdt);
		CHECK(cdt < 2500, "child: at the destroy, not at the timeout "
		      "(%.0f ms, timeout 5000)", cdt);
		_exit(vt_failures ? 1 : 0);
	}
	sleep_ms(300);
	CHECK_EQ(waitpid(pid, &st, WNOHANG), 0, "child waits in POPULATE");
	t0 = now_ms();
	err = kv_destroy(fd, s.c.handle);
	dt = now_ms() - t0;
	CHECK_ERR(err, 0, "SPACE_DESTROY while a POPULATE of it waits");
	if (!err)
		s.c.handle = 0;
	CHECK(dt < 1000, "SPACE_DESTROY returned in %.0f ms", dt);
	st = xwait_timeout(pid, 10000);
	check_child_ok(st, "populating child");
	CHECK_EQ(pfree(e.P), f0, "no frame changed hands");
	kv_space_free(&s);
hog:
	kv_space_free(&hog);
restore:
	resv_restore(&r);
	close(fd);
}

/*
 * A WAIT POPULATE that backed page 0, then waits for page 1 and times out,
 * gives page 0 back (all or nothing) even though a fault mapped page 0
 * meanwhile: the mapping must be zapped, so that it never again reaches
 * the frame now back in the pool.
 */
void test_policy_wait_populate_undo(void)
{
	struct kv_env e;
	struct kv_space hog, s;
	struct resv r = { 0 };
	uint64_t done;
	int fd, st, err, c2p[2], p2c[2];
	pid_t pid;
	char ch;

	if (!setup(&fd, &e, false))
		return;
	if (!resv_set(&r, e.P, 2))
		goto restore;
	if (!kv_space_new(&hog, fd, e.ps, e.pool[e.P].tier, KVMEM_POLICY_FAIL,
			  0))
		goto restore;
	kv_populate(fd, hog.c.handle, 0, 1, &done);
	CHECK_EQ(pfree(e.P), 1, "one frame free");
	if (!kv_space_new(&s, fd, 4 * e.ps, e.pool[e.P].tier,
			  KVMEM_POLICY_WAIT, 800))
		goto hog;
	if (pipe(c2p) || pipe(p2c)) {
		CHECK(0, "pipe");
		goto free;
	}
	pid = xfork();
	if (pid == 0) {
		uint8_t v = 0xff;
		int sig;

		sleep_ms(300);		/* the parent's POPULATE waits now */
		sig = probe_write(s.map + 8, 0x77);
		CHECK_EQ(sig, 0, "child: write to page 0 (backed by the "
			 "waiting POPULATE)");
		pipe_send(c2p[1], 'w');
		if (!pipe_recv(p2c[0], &ch, 20000))
			_exit(3);
		sig = probe_read(s.map + 8, &v);
		CHECK(sig == 0 && v == 0, "child: after the POPULATE failed, "
		      "page 0 reads %u (%s): a fresh zeroed frame, not the "
		      "freed one", v, sig ? "signal" : "ok");
		_exit(vt_failures ? 1 : 0);
	}
	err = kv_populate(fd, s.c.handle, 0, 2, &done);
	CHECK_ERR(err, ETIMEDOUT, "POPULATE pages 0..1 with one free frame, "
		  "WAIT 800 ms");
	CHECK(pipe_recv(c2p[0], &ch, 5000), "the child wrote during the wait");
	CHECK_EQ(kv_resident(fd, s.c.handle, 0, 4), 0,
		 "all or nothing: page 0 given back");
	CHECK_EQ(pfree(e.P), 1, "its frame is free again");
	pipe_send(p2c[1], 'r');
	st = xwait_timeout(pid, 10000);
	check_child_ok(st, "child");
	CHECK_EQ(page_pool(fd, s.c.handle, 0), e.P,
		 "the child's read backed page 0 again");
	close(c2p[0]); close(c2p[1]); close(p2c[0]); close(p2c[1]);
free:
	kv_space_free(&s);
hog:
	kv_space_free(&hog);
restore:
	resv_restore(&r);
	close(fd);
}

/*
 * Two faults of the same page wait; two frames are freed at once. Both
 * faults must end up on one frame (both writes visible), and the other
 * frame stays free: no frame lost, none leaked.
 */
void test_policy_wait_two_waiters(void)
{
	struct kv_env e;
	struct kv_space hog, s;
	struct resv r = { 0 };
	uint64_t done;
	int fd, st[2];
	pid_t pid[2];

	if (!setup(&fd, &e, false))
		return;
	if (!resv_set(&r, e.P, 2))
		goto restore;
	if (!kv_space_new(&hog, fd, 2 * e.ps, e.pool[e.P].tier,
			  KVMEM_POLICY_FAIL, 0))
		goto restore;
	kv_populate(fd, hog.c.handle, 0, 2, &done);
	if (!kv_space_new(&s, fd, 2 * e.ps, e.pool[e.P].tier,
			  KVMEM_POLICY_WAIT, 5000))
		goto hog;
	for (int i = 0; i < 2; i++) {
		pid[i] = xfork();
		if (pid[i] == 0) {
			int sig = probe_write(s.map + 64 + 8 * i,
					      (uint8_t)(0x50 + i));

			CHECK_EQ(sig, 0, "child %d: write to page 0 after "
				 "waiting", i);
			_exit(vt_failures ? 1 : 0);
		}
	}
	sleep_ms(300);
	CHECK_ERR(kv_release(fd, hog.c.handle, 0, 2, &done), 0,
		  "free two frames at once");
	for (int i = 0; i < 2; i++) {
		st[i] = xwait_timeout(pid[i], 10000);
		check_child_ok(st[i], "waiting child");
	}
	CHECK_EQ(kv_resident(fd, s.c.handle, 0, 2), 1, "one page resident");
	CHECK(s.map[64] == 0x50 && s.map[72] == 0x51,
	      "both children's writes are in the one frame (0x%02x 0x%02x)",
	      s.map[64], s.map[72]);
	CHECK_EQ(pfree(e.P), 1, "the other frame is still free");
	kv_space_free(&s);
	CHECK_EQ(pfree(e.P), 2, "both frames back after destroy");
hog:
	kv_space_free(&hog);
restore:
	resv_restore(&r);
	close(fd);
}
