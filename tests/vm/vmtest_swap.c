// SPDX-License-Identifier: GPL-2.0
/*
 * kvmem-vmtest: KVMEM_IOC_SWAP, the owner's report of a device-space swap.
 * The device frames of a swap-out stay granted until COMMIT; a swap-in's
 * are taken at BEGIN and given back by ABORT; the space shows SWAPPING
 * while begun; the manager gets one SWAP event per end; a SIGKILL or a
 * destroyed host space mid-swap loses no frame and leaks none. Each bad
 * field alone fails.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmtest.h"

#define SW_FS		(2 * MiB)	/* device frame size */
#define SW_FRAMES	16
#define SW_EV_MS	10000
#define SW_COOKIE	0xabcd0000ULL

struct swx {
	int fd, m;
	uint32_t pool, dev, host, dev_id;
	uint64_t ps;			/* host page size */
};

static int sw(int fd, uint32_t op, uint32_t handle, uint32_t flags,
	      uint32_t host, uint64_t first, uint64_t count, uint64_t bytes)
{
	struct kvmem_swap s = {
		.handle = handle, .op = op, .flags = flags, .host = host,
		.first = first, .count = count, .bytes = bytes,
	};

	if (op == KVMEM_SWAP_BEGIN)
		s.cookie = SW_COOKIE + first;
	return kv_ioctl(fd, KVMEM_IOC_SWAP, &s);
}

/* The device space's LIST_SPACES flags; UINT32_MAX if not listed. */
static uint32_t sw_flags(const struct swx *x)
{
	struct kvmem_space_info si;
	struct kvmem_list l = {
		.cursor = x->dev_id, .max = 1, .entries = (uintptr_t)&si,
		.entry_size = sizeof(si),
	};

	if (kv_ioctl(x->m, KVMEM_IOC_LIST_SPACES, &l) || l.count != 1 ||
	    si.id != x->dev_id)
		return UINT32_MAX;
	return si.flags;
}

/* The manager's next SWAP event; its checks. */
static bool sw_event(const struct swx *x, int status, uint64_t pages,
		     uint64_t bytes, uint64_t cookie, const char *what)
{
	struct kvmem_event ev;

	for (;;) {
		if (!CHECK_ERR(kv_event_wait(x->m, &ev, SW_EV_MS), 0,
			       "%s: an event", what))
			return false;
		if (ev.type == KVMEM_EVENT_SWAP)
			break;
	}
	return CHECK_EQ(ev.id, x->dev_id, "%s: SWAP id", what) &
	       CHECK_EQ((int64_t)ev.status, (int64_t)status, "%s: status",
			what) &
	       CHECK_EQ(ev.pages, pages, "%s: pages", what) &
	       CHECK_EQ(ev.bytes_copied, bytes, "%s: bytes_copied", what) &
	       CHECK_EQ(ev.cookie, cookie, "%s: cookie", what);
}

static bool swx_init(struct swx *x)
{
	struct kvmem_device_pool d = {
		.device = 0x4300, .frame_size = SW_FS, .frames = SW_FRAMES,
		.tier = KVMEM_TIER_HBM,
	};
	struct kvmem_space_create c = { 0 };
	struct kvmem_manager mg = { 0 };
	struct kvmem_info info;

	memset(x, 0, sizeof(*x));
	x->fd = kv_open();
	x->m = kv_open();
	if (x->fd < 0 || x->m < 0 ||
	    !CHECK_ERR(kv_ioctl(x->m, KVMEM_IOC_MANAGER, &mg), 0, "MANAGER") ||
	    !CHECK_ERR(kv_info(x->fd, &info), 0, "GET_INFO") ||
	    !CHECK_ERR(kv_ioctl(x->fd, KVMEM_IOC_DEVICE_POOL_ADD, &d), 0,
		       "DEVICE_POOL_ADD"))
		return false;
	x->pool = d.index;
	x->ps = info.page_size;
	c.size = 8 * SW_FS;
	c.tier = KVMEM_TIER_HBM;
	c.policy = KVMEM_POLICY_FAIL;
	c.flags = KVMEM_SPACE_DEVICE;
	c.pool = x->pool;
	if (!CHECK_ERR(kv_ioctl(x->fd, KVMEM_IOC_SPACE_CREATE, &c), 0,
		       "device space"))
		return false;
	x->dev = c.handle;
	x->dev_id = (uint32_t)(c.mmap_offset >> KVMEM_SPACE_SHIFT);
	memset(&c, 0, sizeof(c));
	c.size = 8 * SW_FS;
	c.tier = KVMEM_TIER_DRAM;
	c.policy = KVMEM_POLICY_FAIL;
	if (!CHECK_ERR(kv_ioctl(x->fd, KVMEM_IOC_SPACE_CREATE, &c), 0,
		       "host space"))
		return false;
	x->host = c.handle;
	return true;
}

static void swx_fini(struct swx *x)
{
	struct kvmem_device_pool_remove r = { .index = x->pool };

	if (x->fd >= 0)
		close(x->fd);
	/* The pool goes once no space uses it. */
	if (x->m >= 0) {
		CHECK_ERR(kv_ioctl(x->m, KVMEM_IOC_DEVICE_POOL_REMOVE, &r), 0,
			  "REMOVE the pool (no frame leaked)");
		close(x->m);
	}
}

static uint64_t dev_free(const struct swx *x)
{
	return pool_free((int)x->pool);
}

void test_swap_protocol(void)
{
	struct swx x;
	uint64_t done, f0;

	if (!swx_init(&x))
		goto out;
	CHECK_ERR(kv_populate(x.fd, x.dev, 0, 4, &done), 0, "POPULATE 4");
	f0 = dev_free(&x);
	CHECK_EQ(sw_flags(&x), KVMEM_SPACE_INFO_DEVICE, "flags: DEVICE");
	/* Swap-out, committed: the device frames go at COMMIT, not before. */
	CHECK_ERR(sw(x.fd, KVMEM_SWAP_BEGIN, x.dev, KVMEM_SWAP_OUT, x.host, 0,
		     4, 0), 0, "BEGIN out of pages 0..3");
	CHECK_EQ(sw_flags(&x), KVMEM_SPACE_INFO_DEVICE |
		 KVMEM_SPACE_INFO_SWAPPING, "flags: DEVICE | SWAPPING");
	CHECK_EQ(dev_free(&x), f0, "begun: the source frames stay");
	CHECK_ERR(sw(x.fd, KVMEM_SWAP_BEGIN, x.dev, KVMEM_SWAP_OUT, x.host, 4,
		     1, 0), EBUSY, "a second BEGIN");
	CHECK_ERR(sw(x.fd, KVMEM_SWAP_COMMIT, x.dev, 0, 0, 0, 0, 4 * SW_FS), 0,
		  "COMMIT");
	sw_event(&x, 0, 4, 4 * SW_FS, SW_COOKIE, "out committed");
	CHECK_EQ(dev_free(&x), f0 + 4, "COMMIT gave the 4 frames back");
	CHECK_EQ(kv_resident(x.fd, x.dev, 0, 8), 0, "none resident");
	CHECK_EQ(sw_flags(&x), KVMEM_SPACE_INFO_DEVICE, "not SWAPPING");
	CHECK_ERR(sw(x.fd, KVMEM_SWAP_COMMIT, x.dev, 0, 0, 0, 0, 0), ENOENT,
		  "COMMIT with none begun");
	/* Swap-in, aborted: BEGIN takes the frames, ABORT gives them back. */
	CHECK_ERR(sw(x.fd, KVMEM_SWAP_BEGIN, x.dev, 0, x.host, 2, 3, 0), 0,
		  "BEGIN in of pages 2..4");
	CHECK_EQ(dev_free(&x), f0 + 1, "swap-in BEGIN took 3 frames");
	CHECK_EQ(kv_resident(x.fd, x.dev, 0, 8), 3, "3 resident");
	CHECK_ERR(sw(x.fd, KVMEM_SWAP_ABORT, x.dev, 0, 0, 0, 0, 0), 0,
		  "ABORT");
	sw_event(&x, -ECANCELED, 0, 0, SW_COOKIE + 2, "in aborted");
	CHECK_EQ(dev_free(&x), f0 + 4, "ABORT gave them back");
	/* Swap-in, committed: the frames stay. */
	CHECK_ERR(sw(x.fd, KVMEM_SWAP_BEGIN, x.dev, 0, x.host, 0, 2, 0), 0,
		  "BEGIN in of pages 0..1");
	CHECK_ERR(sw(x.fd, KVMEM_SWAP_COMMIT, x.dev, 0, 0, 0, 0, 2 * SW_FS), 0,
		  "COMMIT in");
	sw_event(&x, 0, 2, 2 * SW_FS, SW_COOKIE, "in committed");
	CHECK_EQ(kv_resident(x.fd, x.dev, 0, 8), 2, "2 resident");
	CHECK_ERR(sw(x.fd, KVMEM_SWAP_BEGIN, x.dev, 0, x.host, 1, 2, 0),
		  EEXIST, "BEGIN in of a page with a frame");
	/* Swap-out aborted: nothing moves. */
	CHECK_ERR(sw(x.fd, KVMEM_SWAP_BEGIN, x.dev, KVMEM_SWAP_OUT, x.host, 0,
		     2, 0), 0, "BEGIN out");
	CHECK_ERR(sw(x.fd, KVMEM_SWAP_ABORT, x.dev, 0, 0, 0, 0, 0), 0,
		  "ABORT out");
	sw_event(&x, -ECANCELED, 0, 0, SW_COOKIE, "out aborted");
	CHECK_EQ(kv_resident(x.fd, x.dev, 0, 8), 2, "the source keeps 2");
	/* The host space destroyed mid swap-out: COMMIT aborts. */
	CHECK_ERR(sw(x.fd, KVMEM_SWAP_BEGIN, x.dev, KVMEM_SWAP_OUT, x.host, 0,
		     2, 0), 0, "BEGIN out");
	CHECK_ERR(kv_destroy(x.fd, x.host), 0, "destroy the host space");
	CHECK_ERR(sw(x.fd, KVMEM_SWAP_COMMIT, x.dev, 0, 0, 0, 0, 1), ESTALE,
		  "COMMIT after the host space went");
	sw_event(&x, -ESTALE, 0, 0, SW_COOKIE, "out stale");
	CHECK_EQ(kv_resident(x.fd, x.dev, 0, 8), 2, "the source keeps 2");
out:
	swx_fini(&x);
}

/* A SIGKILLed owner mid-swap: the swap ends, every frame comes back. */
void test_swap_kill(void)
{
	struct swx x;
	int go[2];
	pid_t pid;
	char c;

	if (!swx_init(&x) || !CHECK(pipe(go) == 0, "pipe"))
		goto out;
	pid = xfork();
	if (!pid) {
		uint64_t done;
		/* The child's copy of the file: the same client. */
		int ok = !kv_populate(x.fd, x.dev, 0, 6, &done) &&
			 !sw(x.fd, KVMEM_SWAP_BEGIN, x.dev, KVMEM_SWAP_OUT,
			     x.host, 0, 6, 0);

		if (write(go[1], ok ? "y" : "n", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	CHECK(read(go[0], &c, 1) == 1 && c == 'y', "the child began a "
	      "swap-out of 6 frames");
	CHECK_EQ(dev_free(&x), SW_FRAMES - 6, "6 frames granted");
	CHECK_EQ(sw_flags(&x), KVMEM_SPACE_INFO_DEVICE |
		 KVMEM_SPACE_INFO_SWAPPING, "SWAPPING");
	kill(pid, SIGKILL);
	xwait(pid);
	/* The parent still holds the file: the close is ours. */
	close(x.fd);
	x.fd = -1;
	sw_event(&x, -EPIPE, 0, 0, SW_COOKIE, "the owner's close");
	CHECK_EQ(dev_free(&x), SW_FRAMES, "every frame back in the pool");
	close(go[0]);
	close(go[1]);
out:
	swx_fini(&x);
}

enum { S_OP, S_FLAGS, S_HOST, S_FIRST, S_COUNT, S_OFF, S_COOKIE, S_BYTES,
       S_RES, S_HANDLE };

void test_neg_swap(void)
{
	const struct {
		uint32_t op;
		int f, exp;
		uint64_t v;
		const char *what;
	} cs[] = {
		{ 3, S_OP, EINVAL, 0, "op 3" },
		{ UINT32_MAX, S_OP, EINVAL, 0, "op 0xffffffff" },
		{ KVMEM_SWAP_BEGIN, S_FLAGS, EINVAL, 2, "BEGIN flags 2" },
		{ KVMEM_SWAP_BEGIN, S_FLAGS, EINVAL, 1U << 31, "BEGIN flags 1<<31" },
		{ KVMEM_SWAP_BEGIN, S_BYTES, EINVAL, 1, "BEGIN bytes 1" },
		{ KVMEM_SWAP_BEGIN, S_COUNT, EINVAL, 0, "BEGIN count 0" },
		{ KVMEM_SWAP_BEGIN, S_COUNT, EINVAL, 9, "BEGIN count 9 (> 8)" },
		{ KVMEM_SWAP_BEGIN, S_FIRST, EINVAL, 8, "BEGIN first 8" },
		{ KVMEM_SWAP_BEGIN, S_FIRST, EINVAL, UINT64_MAX,
		  "BEGIN first ~0" },
		{ KVMEM_SWAP_BEGIN, S_OFF, EINVAL, 1, "BEGIN host_offset 1" },
		{ KVMEM_SWAP_BEGIN, S_OFF, EINVAL, SW_FS,
		  "BEGIN host_offset past what fits" },
		{ KVMEM_SWAP_BEGIN, S_OFF, EINVAL, UINT64_MAX & ~(uint64_t)0xfffff,
		  "BEGIN host_offset huge" },
		{ KVMEM_SWAP_BEGIN, S_HOST, ENOENT, 999, "BEGIN host 999" },
		{ KVMEM_SWAP_BEGIN, S_HOST, EINVAL, 0, "BEGIN host: the device "
		  "space itself" },
		{ KVMEM_SWAP_BEGIN, S_HANDLE, EINVAL, 0, "BEGIN of a host space" },
		{ KVMEM_SWAP_BEGIN, S_HANDLE, ENOENT, 999, "BEGIN handle 999" },
		{ KVMEM_SWAP_BEGIN, S_RES, EINVAL, 0, "BEGIN reserved[0] 1" },
		{ KVMEM_SWAP_COMMIT, S_FLAGS, EINVAL, 1, "COMMIT flags 1" },
		{ KVMEM_SWAP_COMMIT, S_HOST, EINVAL, 1, "COMMIT host 1" },
		{ KVMEM_SWAP_COMMIT, S_FIRST, EINVAL, 1, "COMMIT first 1" },
		{ KVMEM_SWAP_COMMIT, S_COUNT, EINVAL, 1, "COMMIT count 1" },
		{ KVMEM_SWAP_COMMIT, S_OFF, EINVAL, 1, "COMMIT host_offset 1" },
		{ KVMEM_SWAP_COMMIT, S_COOKIE, EINVAL, 1, "COMMIT cookie 1" },
		{ KVMEM_SWAP_COMMIT, S_RES, EINVAL, 1, "COMMIT reserved[1] 1" },
		{ KVMEM_SWAP_ABORT, S_BYTES, EINVAL, 1, "ABORT bytes 1" },
		{ KVMEM_SWAP_ABORT, S_FLAGS, EINVAL, 1, "ABORT flags 1" },
	};
	struct kvmem_swap s;
	struct swx x;

	if (!swx_init(&x))
		goto out;
	/* Host page size: the host space is 8 device frames long. */
	for (size_t i = 0; i < NELEM(cs); i++) {
		memset(&s, 0, sizeof(s));
		s.op = cs[i].op;
		s.handle = x.dev;
		if (s.op == KVMEM_SWAP_BEGIN) {
			s.flags = KVMEM_SWAP_OUT;
			s.host = x.host;
			s.count = 1;
		}
		switch (cs[i].f) {
		case S_OP: s.op = (uint32_t)cs[i].v ? (uint32_t)cs[i].v :
						      cs[i].op; break;
		case S_FLAGS: s.flags = (uint32_t)cs[i].v; break;
		case S_HOST: s.host = cs[i].v ? (uint32_t)cs[i].v : x.dev; break;
		case S_FIRST: s.first = cs[i].v; break;
		case S_COUNT: s.count = cs[i].v; break;
		case S_OFF: s.host_offset = cs[i].v == SW_FS ? 8 * SW_FS :
					    cs[i].v; break;
		case S_COOKIE: s.cookie = cs[i].v; break;
		case S_BYTES: s.bytes = cs[i].v; break;
		case S_RES: s.reserved[cs[i].v] = 1; break;
		case S_HANDLE: s.handle = cs[i].v ? (uint32_t)cs[i].v : x.host;
			break;
		}
		neg_ioctl(x.fd, KVMEM_IOC_SWAP, &s, cs[i].exp, "SWAP %s",
			  cs[i].what);
	}
	CHECK_EQ(sw_flags(&x), KVMEM_SPACE_INFO_DEVICE, "nothing begun");
	CHECK_ERR(sw(x.fd, KVMEM_SWAP_ABORT, x.dev, 0, 0, 0, 0, 0), ENOENT,
		  "ABORT with none begun");
	CHECK_ERR(sw(x.m, KVMEM_SWAP_BEGIN, x.dev, KVMEM_SWAP_OUT, x.host, 0,
		     1, 0), ENOENT, "BEGIN from another file (the manager)");
	neg_ioctl(x.fd, _IOWR(KVMEM_IOC_MAGIC, _IOC_NR(KVMEM_IOC_SWAP),
			      struct kvmem_swap), &s, ENOTTY, "SWAP as _IOWR");
	CHECK_ERR(sw(x.fd, KVMEM_SWAP_BEGIN, x.dev, KVMEM_SWAP_OUT, x.host, 7,
		     1, 0), 0, "BEGIN (valid, after the failures)");
	CHECK_ERR(sw(x.fd, KVMEM_SWAP_ABORT, x.dev, 0, 0, 0, 0, 0), 0, "ABORT");
out:
	swx_fini(&x);
}
