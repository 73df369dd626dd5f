// SPDX-License-Identifier: GPL-2.0
/*
 * kvmem-vmtest: the per-file event queue (Documentation/ioctl.md, "Events:
 * read() and poll()"): read sizes, O_NONBLOCK, EINTR, EFAULT that loses
 * nothing, several events per read, and overflow that is never silent.
 *
 * Events come from migrations of a 2-page space: page 1 is never backed,
 * so a migration of it moves nothing and ends at once; page 0 is, and the
 * last request of each burst moves it to the other tier, so that once
 * QUERY shows it there every request of the burst has ended (requests on
 * a space run in order).
 */
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <unistd.h>

#include "vmtest.h"

struct ectx {
	int fd;
	struct kv_env e;
	struct kv_space s;
	uint16_t pool[2];	/* pools P and Q */
	int at;			/* page 0 is in pool[at] */
	uint64_t made;		/* requests made so far */
	struct kv_snap s0;
};

static bool ectx_init(struct ectx *c)
{
	memset(c, 0, sizeof(*c));
	snap_take(&c->s0);
	if (!kv_setup_space(&c->fd, &c->e, &c->s, 2))
		return false;
	c->pool[0] = (uint16_t)c->e.P;
	c->pool[1] = (uint16_t)c->e.Q;
	if (c->e.Q >= 0 &&
	    CHECK_ERR(kv_populate(c->fd, c->s.c.handle, 0, 1, NULL), 0,
		      "fixture: POPULATE page 0"))
		return true;
	CHECK(c->e.Q >= 0, "a pool of a second tier");
	kv_space_free(&c->s);
	close(c->fd);
	return false;
}

static void ectx_fini(struct ectx *c)
{
	kv_space_free(&c->s);
	close(c->fd);
	snap_back(&c->s0, 5000, "after the test");
}

/*
 * Make k requests (ids made+1 .. made+k, cookie = id) and wait until all
 * have ended, so that their k events are posted (or counted as lost).
 */
static bool post_events(struct ectx *c, int k)
{
	uint32_t h = c->s.c.handle;
	double end;
	int err = 0;

	for (int i = 1; i < k && !err; i++, c->made++)
		err = kv_migrate(c->fd, h, 1, 1, c->e.pool[c->pool[1]].tier, 0,
				 c->made + 1, NULL);
	c->at ^= 1;
	if (!err)
		err = kv_migrate(c->fd, h, 0, 1,
				 c->e.pool[c->pool[c->at]].tier, 0,
				 c->made + 1, NULL);
	c->made++;
	if (err)
		return CHECK_ERR(err, 0, "MIGRATE request %llu", U(c->made));
	end = now_ms() + 30000;
	while (kv_count_in(c->fd, h, 0, 1, c->pool[c->at], false) != 1) {
		if (now_ms() > end)
			return CHECK(0, "the last of %d requests did not end "
				     "within 30 s", k);
		sleep_ms(5);
	}
	sleep_ms(200);	/* it posts its event right after the move */
	return true;
}

static void on_alarm(int sig)
{
	(void)sig;
}

/* read() with a 10 s guard (a SIGALRM without SA_RESTART ends a read
 * that should not have blocked, with EINTR): bytes, or -errno. */
static ssize_t rd(int fd, void *buf, size_t n, int guard_ms)
{
	struct itimerval it = { .it_value = {
		guard_ms / 1000, (guard_ms % 1000) * 1000 } };
	struct itimerval off = { 0 };
	ssize_t r;
	int e;

	setitimer(ITIMER_REAL, &it, NULL);
	r = read(fd, buf, n);
	e = errno;
	setitimer(ITIMER_REAL, &off, NULL);
	return r < 0 ? -e : r;
}

/* read() of n bytes must give exp (bytes, or -errno); reported. */
#define RD_IS(fd, buf, n, exp, ...) do { \
		ssize_t r_ = rd(fd, buf, n, 10000); \
		CHECK(r_ == (exp), __VA_ARGS__); \
		if (r_ != (exp)) \
			INFO("read returned %zd, expected %zd", r_, \
			     (ssize_t)(exp)); \
	} while (0)

/* Check events ev[0..n) are MIGRATE events of requests *seq, *seq+1, ...
 * (each request's id and cookie equal its seq here); advances *seq. */
static bool events_follow(const struct kvmem_event *ev, size_t n,
			  uint64_t *seq, const char *what)
{
	for (size_t i = 0; i < n; i++, (*seq)++) {
		if (ev[i].type == KVMEM_EVENT_MIGRATE && ev[i].seq == *seq &&
		    ev[i].id == *seq && ev[i].cookie == *seq && !ev[i].status)
			continue;
		return CHECK(0, "%s: event %zu: type %u seq %llu id %llu cookie "
			     "%llu status %d (expected MIGRATE, seq = id = "
			     "cookie = %llu, status 0)", what, i, ev[i].type,
			     U(ev[i].seq), U(ev[i].id), U(ev[i].cookie),
			     ev[i].status, U(*seq));
	}
	return CHECK(1, "%s: %zu events in order, seq up to %llu", what, n,
		     U(*seq - 1));
}

/* ---------------------------------------------------------- events_read */

void test_events_read(void)
{
	static struct kvmem_event ev[32];
	struct sigaction sa = { .sa_handler = on_alarm };
	const size_t small[] = { 0, 1, KV_EV_SIZE - 1 };
	struct ectx c;
	uint64_t seq = 1;
	uint8_t *pg;
	ssize_t r;
	double t0;
	int fl;

	if (!ectx_init(&c))
		return;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);	/* no SA_RESTART */
	pg = mmap(NULL, 8192, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!CHECK(pg != MAP_FAILED, "mmap scratch pages"))
		goto out;
	mprotect(pg + 4096, 4096, PROT_NONE);

	/* Empty queue. */
	CHECK(!kv_event_ready(c.fd, 0), "poll: no POLLIN on an empty queue");
	for (size_t i = 0; i < NELEM(small); i++)
		RD_IS(c.fd, ev, small[i], -EINVAL, "read of %zu "
			 "bytes (less than one event) on an empty queue: "
			 "-EINVAL at once", small[i]);
	fl = fcntl(c.fd, F_GETFL);
	fcntl(c.fd, F_SETFL, fl | O_NONBLOCK);
	RD_IS(c.fd, ev, sizeof(ev), -EAGAIN, "O_NONBLOCK read "
		 "of an empty queue: -EAGAIN");
	fcntl(c.fd, F_SETFL, fl);
	t0 = now_ms();
	r = rd(c.fd, ev, sizeof(ev), 300);
	CHECK(r == -EINTR && now_ms() - t0 >= 250, "a blocking read waits "
	      "until a signal ends it: %zd (-EINTR expected) after %.0f ms",
	      r, now_ms() - t0);

	/* One event: bad reads leave it queued. */
	if (!post_events(&c, 1))
		goto out;
	CHECK(kv_event_ready(c.fd, 0), "poll: POLLIN with an event queued");
	for (size_t i = 0; i < NELEM(small); i++)
		RD_IS(c.fd, ev, small[i], -EINVAL, "read of %zu "
			 "bytes with an event queued: -EINVAL", small[i]);
	mprotect(pg, 4096, PROT_READ);
	RD_IS(c.fd, pg, KV_EV_SIZE, -EFAULT, "read into a "
		 "read-only page: -EFAULT");
	mprotect(pg, 4096, PROT_READ | PROT_WRITE);
	RD_IS(c.fd, NULL, KV_EV_SIZE, -EFAULT, "read into NULL: "
		 "-EFAULT");
	RD_IS(c.fd, pg + 4096, KV_EV_SIZE, -EFAULT, "read into "
		 "a PROT_NONE page: -EFAULT");
	CHECK(kv_event_ready(c.fd, 0), "the event is still queued");
	CHECK_EQ(rd(c.fd, ev, KV_EV_SIZE, 10000), KV_EV_SIZE, "read it");
	events_follow(ev, 1, &seq, "after the failed reads");
	CHECK(!kv_event_ready(c.fd, 0), "the queue is empty again");

	/* Two events, room for one before a PROT_NONE page. */
	if (!post_events(&c, 2))
		goto out;
	r = rd(c.fd, pg + 4096 - KV_EV_SIZE, 2 * KV_EV_SIZE, 10000);
	CHECK(r == -EFAULT || r == (ssize_t)KV_EV_SIZE, "read of 2 events "
	      "into a buffer whose second half faults: %zd (-EFAULT, or 64 "
	      "for the one that fits)", r);
	if (r == (ssize_t)KV_EV_SIZE)
		events_follow((void *)(pg + 4096 - KV_EV_SIZE), 1, &seq,
			      "the event that fit");
	r = rd(c.fd, ev, sizeof(ev), 10000);
	CHECK_EQ(r, (uint64_t)(4 - seq) * KV_EV_SIZE, "the rest is still "
		 "queued: bytes read");
	if (r > 0)
		events_follow(ev, (size_t)r / KV_EV_SIZE, &seq, "nothing lost");

	/* Several per read, never more than asked, no waiting for more. */
	if (!post_events(&c, 20))
		goto out;
	{
		const struct {
			size_t n;
			ssize_t got;
		} rs[] = {
			{ 3 * KV_EV_SIZE, 3 * KV_EV_SIZE },
			{ 3 * KV_EV_SIZE - 1, 2 * KV_EV_SIZE },
			{ 100, KV_EV_SIZE },
			{ 9 * KV_EV_SIZE, 9 * KV_EV_SIZE },	/* > 8 at once */
			{ sizeof(ev), 5 * KV_EV_SIZE },		/* the rest */
		};

		for (size_t i = 0; i < NELEM(rs); i++) {
			r = rd(c.fd, ev, rs[i].n, 10000);
			CHECK_EQ(r, rs[i].got, "read of %zu bytes with %llu "
				 "events queued", rs[i].n, U(24 - seq));
			if (r > 0)
				events_follow(ev, (size_t)r / KV_EV_SIZE, &seq,
					      "in order");
		}
	}
	fcntl(c.fd, F_SETFL, fl | O_NONBLOCK);
	RD_IS(c.fd, ev, sizeof(ev), -EAGAIN, "O_NONBLOCK: "
		 "-EAGAIN once all are read");
	fcntl(c.fd, F_SETFL, fl);
	munmap(pg, 8192);
out:
	ectx_fini(&c);
}

/* ------------------------------------------------------ events_overflow */

/*
 * Read everything queued (O_NONBLOCK) into ev (room for max); returns the
 * number of events.
 */
static size_t drain(struct ectx *c, struct kvmem_event *ev, size_t max)
{
	int fl = fcntl(c->fd, F_GETFL);
	size_t n = 0;
	ssize_t r;

	fcntl(c->fd, F_SETFL, fl | O_NONBLOCK);
	while (n < max && (r = read(c->fd, ev + n, (max - n) * KV_EV_SIZE)) > 0)
		n += (size_t)r / KV_EV_SIZE;
	fcntl(c->fd, F_SETFL, fl);
	return n;
}

/* post_events(k), then drain() up to max events, which must give
 * `expect` events; reported under `what`. */
static bool burst(struct ectx *c, int k, struct kvmem_event *ev, size_t max,
		  size_t expect, const char *what)
{
	return post_events(c, k) &&
	       CHECK_EQ(drain(c, ev, max), expect, "%s", what);
}

/* Check that ev[at] is an OVERFLOW event with this seq and count. */
static void overflow_is(const struct kvmem_event *ev, uint64_t seq,
			uint64_t lost, const char *what)
{
	CHECK(ev->type == KVMEM_EVENT_OVERFLOW && ev->seq == seq &&
	      ev->pages == lost && !ev->status && !ev->id && !ev->cookie &&
	      !ev->handle && !ev->bytes_copied && !ev->bytes_reused,
	      "%s: OVERFLOW seq %llu pages (lost) %llu, other fields zero "
	      "(got type %u seq %llu pages %llu status %d id %llu)", what,
	      U(seq), U(lost), ev->type, U(ev->seq), U(ev->pages), ev->status,
	      U(ev->id));
}

void test_events_overflow(void)
{
	static struct kvmem_event ev[512];
	struct ectx c;
	uint64_t seq = 1;

	if (!ectx_init(&c))
		return;

	/* 300 events, none read: 255 fit, the 256th slot counts 45 lost. */
	if (!burst(&c, 300, ev, NELEM(ev), 256, "events queued after 300 "
		   "without reading"))
		goto out;
	events_follow(ev, 255, &seq, "the first 255");
	overflow_is(&ev[255], 256, 45, "then");
	seq = 256 + 45;
	if (!burst(&c, 1, ev, NELEM(ev), 1, "one more event, after the queue "
		   "was read"))
		goto out;
	events_follow(ev, 1, &seq, "seq resumes after the gap of 45");

	/*
	 * Fill again (260: 255 + an OVERFLOW that counts 5), read 10, then
	 * make 3 more: they fit after the OVERFLOW and their seq continues
	 * past its gap.
	 */
	if (!burst(&c, 260, ev, 10, 10, "read 10 of a full queue"))
		goto out;
	events_follow(ev, 10, &seq, "the oldest 10");
	if (!burst(&c, 3, ev, NELEM(ev), 249, "3 more; then the queue holds "
		   "245 + OVERFLOW + 3 newer events"))
		goto out;
	events_follow(ev, 245, &seq, "the rest of the first 255");
	overflow_is(&ev[245], seq, 5, "then");
	seq += 5;
	events_follow(ev + 246, 3, &seq, "the 3 newer ones, after the gap");
	CHECK_EQ(seq - 1, c.made, "every request is accounted for: the last "
		 "seq is the number of requests made");
out:
	ectx_fini(&c);
}
