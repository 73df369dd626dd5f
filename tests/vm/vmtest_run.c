// SPDX-License-Identifier: GPL-2.0
/*
 * kvmem-vmtest: run states and demand (KVMEM_FEATURE_RUN_STATE). The
 * manager's KVMEM_IOC_SPACE_RUN reaches the owning process's file as one
 * KVMEM_EVENT_RUN and nobody else's; the state shows in LIST_SPACES
 * (version-2 entries), the owner's fdinfo and the tenant's sysfs counts;
 * an owner's demand report reaches the manager once per change; each bad
 * field alone fails.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <poll.h>
#include <unistd.h>

#include "accel.h"
#include "vmtest.h"

#define RUN_EV_MS	10000	/* an event that must come */
#define RUN_QUIET_MS	100	/* an event that must not come */
#define RUN_TENANT	5
#define RUN_COOKIE	0x5eed00000000c0deULL

/* A file that is the manager; -1 (reported) if not. */
static int run_mgr(void)
{
	struct kvmem_manager mg = { 0 };
	int fd = kv_open();

	if (fd >= 0 && !CHECK_ERR(kv_ioctl(fd, KVMEM_IOC_MANAGER, &mg), 0,
				  "MANAGER")) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* A 4-page DRAM space of RUN_TENANT in fd; its id, 0 (reported) if none. */
static uint32_t run_space(int fd, struct kvmem_space_create *c)
{
	struct kvmem_info info;

	memset(c, 0, sizeof(*c));
	if (!CHECK_ERR(kv_info(fd, &info), 0, "GET_INFO"))
		return 0;
	c->size = 4 * info.page_size;
	c->tier = KVMEM_TIER_DRAM;
	c->policy = KVMEM_POLICY_FAIL;
	c->tenant = RUN_TENANT;
	if (!CHECK_ERR(kv_ioctl(fd, KVMEM_IOC_SPACE_CREATE, c), 0,
		       "SPACE_CREATE"))
		return 0;
	return (uint32_t)(c->mmap_offset >> KVMEM_SPACE_SHIFT);
}

static int space_run(int m, uint32_t id, uint32_t state, uint32_t tier,
		     uint64_t cookie)
{
	struct kvmem_run r = {
		.id = id, .state = state, .tier = tier, .cookie = cookie,
	};

	return kv_ioctl(m, KVMEM_IOC_SPACE_RUN, &r);
}

static int set_demand(int fd, uint32_t handle, uint32_t demand)
{
	struct kvmem_space_set s = {
		.handle = handle, .flags = KVMEM_SET_DEMAND, .demand = demand,
	};

	return kv_ioctl(fd, KVMEM_IOC_SPACE_SET, &s);
}

/* The version-2 LIST_SPACES entry of space id; false if not listed. */
static bool run_entry(int m, uint32_t id, struct kvmem_space_info *si)
{
	struct kvmem_list l = {
		.cursor = id, .max = 1, .entries = (uintptr_t)si,
		.entry_size = sizeof(*si),
	};

	return !kv_ioctl(m, KVMEM_IOC_LIST_SPACES, &l) && l.count == 1 &&
	       si->id == id;
}

/* The next event of type `type` on fd within ms (others skipped). */
static bool next_of(int fd, uint32_t type, int ms, struct kvmem_event *ev)
{
	double end = now_ms() + ms;

	for (;;) {
		int left = (int)(end - now_ms());

		if (left < 0 || kv_event_wait(fd, ev, left))
			return false;
		if (ev->type == type)
			return true;
	}
}

/* Check a RUN event's fields. */
static bool run_ev_is(const struct kvmem_event *ev, uint32_t handle,
		      uint32_t state, uint32_t tier, uint64_t cookie,
		      const char *what)
{
	bool ok = CHECK_EQ(ev->type, KVMEM_EVENT_RUN, "%s: type", what);

	ok &= CHECK_EQ(ev->handle, handle, "%s: handle", what);
	ok &= CHECK_EQ(ev->id, state, "%s: id (state)", what);
	ok &= CHECK_EQ(ev->pages, tier, "%s: pages (tier)", what);
	ok &= CHECK_EQ(ev->cookie, cookie, "%s: cookie", what);
	ok &= CHECK_EQ(ev->status, 0, "%s: status", what);
	return ok;
}

static uint64_t ten(const char *attr)
{
	return tenant_u64(RUN_TENANT, attr);
}

/*
 * The owner, a child process: makes a space, says its id, then must see
 * PREEMPT and RUNNABLE on its own file, with its fdinfo counting them.
 */
static void run_owner(int wr, int rd)
{
	struct kvmem_space_create c;
	struct kvmem_event ev;
	uint32_t id;
	char go;
	int fd = kv_open();

	if (fd < 0)
		_exit(1);
	id = run_space(fd, &c);
	CHECK_EQ(kv_fdinfo_u64(fd, "kvmem-spaces-runnable"), 1,
		 "owner fdinfo: a new space is runnable");
	CHECK_EQ(kv_fdinfo_u64(fd, "kvmem-spaces-preempted"), 0,
		 "owner fdinfo: none preempted");
	if (write(wr, &id, sizeof(id)) != sizeof(id) || !id)
		_exit(1);
	if (CHECK(next_of(fd, KVMEM_EVENT_RUN, RUN_EV_MS, &ev),
		  "owner: a RUN event on its file"))
		run_ev_is(&ev, c.handle, KVMEM_RUN_PREEMPT, KVMEM_TIER_CXL,
			  RUN_COOKIE, "owner: PREEMPT");
	CHECK_EQ(kv_fdinfo_u64(fd, "kvmem-spaces-preempted"), 1,
		 "owner fdinfo kvmem-spaces-preempted");
	CHECK_EQ(kv_fdinfo_u64(fd, "kvmem-spaces-runnable"), 0,
		 "owner fdinfo kvmem-spaces-runnable");
	CHECK(!kv_event_ready(fd, RUN_QUIET_MS), "owner: one event per "
	      "SPACE_RUN");
	if (write(wr, &id, sizeof(id)) != sizeof(id) ||
	    read(rd, &go, 1) != 1)
		_exit(1);
	if (CHECK(next_of(fd, KVMEM_EVENT_RUN, RUN_EV_MS, &ev),
		  "owner: the second RUN event"))
		run_ev_is(&ev, c.handle, KVMEM_RUN_PREFETCH, KVMEM_TIER_HBM,
			  RUN_COOKIE + 1, "owner: PREFETCH");
	CHECK_EQ(kv_fdinfo_u64(fd, "kvmem-spaces-prefetch"), 1,
		 "owner fdinfo kvmem-spaces-prefetch");
	_exit(vt_failures ? 1 : 0);
}

void test_run_state(void)
{
	struct kvmem_space_info si;
	struct kvmem_event ev;
	int up[2], down[2], m = -1, b = -1;
	uint64_t r0, p0, pre0;
	uint32_t id = 0;
	pid_t pid;

	if (!CHECK(pipe(up) == 0 && pipe(down) == 0, "pipes"))
		return;
	m = run_mgr();
	b = kv_open();
	if (m < 0 || b < 0)
		goto out;
	r0 = ten("spaces_runnable");
	p0 = ten("spaces_preempted");
	pre0 = ten("preemptions");
	pid = xfork();
	if (!pid)
		run_owner(up[1], down[0]);
	if (!CHECK(read(up[0], &id, sizeof(id)) == sizeof(id) && id,
		   "the owner's space id")) {
		child_done(pid, RUN_EV_MS, "owner");
		goto out;
	}
	if (CHECK(run_entry(m, id, &si), "LIST_SPACES v2 lists it")) {
		CHECK_EQ(si.run_state, KVMEM_RUN_RUNNABLE, "new: RUNNABLE");
		CHECK_EQ(si.demand, KVMEM_DEMAND_NONE, "new: demand NONE");
		CHECK_EQ(si.flags, 0, "new: flags");
		CHECK_EQ(si.run_cookie, 0, "new: run_cookie");
		CHECK_EQ(si.run_tier, 0, "new: run_tier");
	}
	CHECK_EQ(ten("spaces_runnable"), r0 + 1, "sysfs spaces_runnable");
	CHECK_ERR(space_run(m, id, KVMEM_RUN_PREEMPT, KVMEM_TIER_CXL,
			    RUN_COOKIE), 0, "SPACE_RUN PREEMPT");
	if (CHECK(run_entry(m, id, &si), "listed")) {
		CHECK_EQ(si.run_state, KVMEM_RUN_PREEMPT, "LIST run_state");
		CHECK_EQ(si.run_tier, KVMEM_TIER_CXL, "LIST run_tier");
		CHECK_EQ(si.run_cookie, RUN_COOKIE, "LIST run_cookie");
	}
	CHECK_EQ(ten("spaces_runnable"), r0, "sysfs spaces_runnable");
	CHECK_EQ(ten("spaces_preempted"), p0 + 1, "sysfs spaces_preempted");
	CHECK_EQ(ten("preemptions"), pre0 + 1, "sysfs preemptions");
	/* The owner saw it; then neither the manager nor a bystander does. */
	CHECK(read(up[0], &id, sizeof(id)) == sizeof(id), "owner went on");
	CHECK(!next_of(m, KVMEM_EVENT_RUN, RUN_QUIET_MS, &ev),
	      "no RUN event on the manager's file");
	CHECK(!kv_event_ready(b, RUN_QUIET_MS), "no event on another file");
	CHECK_ERR(space_run(m, id, KVMEM_RUN_PREFETCH, KVMEM_TIER_HBM,
			    RUN_COOKIE + 1), 0, "SPACE_RUN PREFETCH");
	CHECK_EQ(ten("preemptions"), pre0 + 1, "PREFETCH is no preemption");
	CHECK_EQ(ten("spaces_prefetch"), 1, "sysfs spaces_prefetch");
	CHECK_EQ(ten("spaces_preempted"), p0, "sysfs spaces_preempted");
	CHECK(write(down[1], "g", 1) == 1, "go");
	child_done(pid, RUN_EV_MS, "owner");
	/* Its close destroyed the space: the counts are back. */
	CHECK_EQ(ten("spaces_runnable"), r0, "after exit: spaces_runnable");
	CHECK_EQ(ten("spaces_preempted"), p0, "after exit: spaces_preempted");
	CHECK_EQ(ten("spaces_prefetch"), 0, "after exit: spaces_prefetch");
	CHECK_EQ(ten("preemptions"), pre0 + 1, "preemptions is a total");
	CHECK_ERR(space_run(m, id, KVMEM_RUN_RUNNABLE, 0, 0), ENOENT,
		  "SPACE_RUN of the destroyed space");
out:
	if (m >= 0)
		close(m);
	if (b >= 0)
		close(b);
	close(up[0]);
	close(up[1]);
	close(down[0]);
	close(down[1]);
}

void test_run_demand(void)
{
	struct kvmem_space_create c;
	struct kvmem_space_info si;
	struct kvmem_event ev;
	uint64_t cid;
	uint32_t id;
	int o = kv_open(), m;

	if (o < 0)
		return;
	id = run_space(o, &c);
	CHECK_ERR(set_demand(o, c.handle, KVMEM_DEMAND_WAITING), 0,
		  "SET_DEMAND with no manager");
	m = run_mgr();
	if (!id || m < 0)
		goto out;
	cid = kv_fdinfo_u64(o, "kvmem-client-id");
	CHECK_ERR(set_demand(o, c.handle, KVMEM_DEMAND_RUNNING), 0,
		  "SET_DEMAND RUNNING");
	if (CHECK(next_of(m, KVMEM_EVENT_DEMAND, RUN_EV_MS, &ev),
		  "the manager gets DEMAND")) {
		CHECK_EQ(ev.id, id, "DEMAND id: the space id");
		CHECK_EQ(ev.handle, cid, "DEMAND handle: the owner's client");
		CHECK_EQ(ev.cookie, RUN_TENANT, "DEMAND cookie: the tenant");
		CHECK_EQ(ev.pages, KVMEM_DEMAND_RUNNING, "DEMAND pages");
		CHECK_EQ(ev.status, 0, "DEMAND status");
	}
	CHECK_ERR(set_demand(o, c.handle, KVMEM_DEMAND_RUNNING), 0,
		  "SET_DEMAND RUNNING again");
	CHECK(!next_of(m, KVMEM_EVENT_DEMAND, RUN_QUIET_MS, &ev),
	      "no event for an unchanged demand");
	if (CHECK(run_entry(m, id, &si), "listed"))
		CHECK_EQ(si.demand, KVMEM_DEMAND_RUNNING, "LIST demand");
	CHECK_ERR(set_demand(o, c.handle, KVMEM_DEMAND_IDLE), 0,
		  "SET_DEMAND IDLE");
	CHECK(next_of(m, KVMEM_EVENT_DEMAND, RUN_EV_MS, &ev) &&
	      ev.pages == KVMEM_DEMAND_IDLE, "DEMAND IDLE reaches the manager");
	CHECK(!kv_event_ready(o, RUN_QUIET_MS), "the owner gets no event");
	close(m);
out:
	close(o);
}

enum { R_FLAGS, R_STATE, R_TIER, R_RES };

void test_neg_space_run(void)
{
	static uint8_t buf[256];
	const struct {
		int f;
		uint64_t v, i;
		const char *what;
	} cs[] = {
		{ R_FLAGS, 1, 0, "flags 1" },
		{ R_FLAGS, 1U << 31, 0, "flags 1<<31" },
		{ R_STATE, KVMEM_NR_RUN_STATES, 0, "state KVMEM_NR_RUN_STATES" },
		{ R_STATE, UINT32_MAX, 0, "state 0xffffffff" },
		{ R_TIER, KVMEM_NR_TIERS, 0, "tier KVMEM_NR_TIERS" },
		{ R_TIER, UINT32_MAX, 0, "tier 0xffffffff" },
		{ R_RES, 1, 0, "reserved[0] 1" },
		{ R_RES, 1ULL << 63, 1, "reserved[1] 1<<63" },
	};
 	struct kvmem_space_create c, c2;
	struct kvmem_space_info si;
	struct kvmem_space_set ss;
	struct kvmem_run r;
	uint32_t id, gone;
	int o = kv_open(), m = -1;

	if (o < 0)
		return;
	id = run_space(o, &c);
	gone = run_space(o, &c2);
	if (gone)
		CHECK_ERR(kv_destroy(o, c2.handle), 0, "destroy the second");
	r = (struct kvmem_run){ .id = id, .state = KVMEM_RUN_PREEMPT };
	neg_ioctl(o, KVMEM_IOC_SPACE_RUN, &r, EPERM, "SPACE_RUN from a file "
		  "that is not the manager");
	m = run_mgr();
	if (!id || !gone || m < 0)
		goto out;
	CHECK_ERR(space_run(m, id, KVMEM_RUN_PREEMPT, KVMEM_TIER_DRAM, 7), 0,
		  "SPACE_RUN (valid base)");
	for (size_t i = 0; i < NELEM(cs); i++) {
		r = (struct kvmem_run){ .id = id, .state = KVMEM_RUN_RUNNABLE };
		switch (cs[i].f) {
		case R_FLAGS: r.flags = (uint32_t)cs[i].v; break;
		case R_STATE: r.state = (uint32_t)cs[i].v; break;
		case R_TIER: r.tier = (uint32_t)cs[i].v; break;
		case R_RES: r.reserved[cs[i].i] = cs[i].v; break;
		}
		neg_ioctl(m, KVMEM_IOC_SPACE_RUN, &r, EINVAL, "SPACE_RUN %s",
			  cs[i].what);
	}
	CHECK_ERR(space_run(m, 0, KVMEM_RUN_RUNNABLE, 0, 0), ENOENT,
		  "SPACE_RUN id 0");
	CHECK_ERR(space_run(m, gone, KVMEM_RUN_RUNNABLE, 0, 0), ENOENT,
		  "SPACE_RUN of a destroyed space's id");
	CHECK_ERR(space_run(m, UINT32_MAX, KVMEM_RUN_RUNNABLE, 0, 0), ENOENT,
		  "SPACE_RUN id 0xffffffff");
	if (CHECK(run_entry(m, id, &si), "listed")) {
		CHECK_EQ(si.run_state, KVMEM_RUN_PREEMPT, "failed calls left "
			 "the state");
		CHECK_EQ(si.run_cookie, 7, "... and the cookie");
	}
	/* Sizes: shorter than version 1, a non-zero tail, a zero tail. */
	memset(buf, 0, sizeof(buf));
	memcpy(buf, &(struct kvmem_run){ .id = id }, sizeof(r));
	neg_ioctl(m, _IOC(_IOC_WRITE, KVMEM_IOC_MAGIC,
			  _IOC_NR(KVMEM_IOC_SPACE_RUN), KVMEM_RUN_SIZE_VER1 - 8),
		  buf, EINVAL, "SPACE_RUN struct of %d bytes",
		  KVMEM_RUN_SIZE_VER1 - 8);
	buf[KVMEM_RUN_SIZE_VER1] = 1;
	neg_ioctl(m, _IOC(_IOC_WRITE, KVMEM_IOC_MAGIC,
			  _IOC_NR(KVMEM_IOC_SPACE_RUN), KVMEM_RUN_SIZE_VER1 + 8),
		  buf, E2BIG, "SPACE_RUN struct of %d bytes, tail non-zero",
		  KVMEM_RUN_SIZE_VER1 + 8);
	buf[KVMEM_RUN_SIZE_VER1] = 0;
	CHECK_ERR(kv_ioctl(m, _IOC(_IOC_WRITE, KVMEM_IOC_MAGIC,
				   _IOC_NR(KVMEM_IOC_SPACE_RUN),
				   KVMEM_RUN_SIZE_VER1 + 8), buf), 0,
		  "SPACE_RUN struct of %d bytes, zero tail",
		  KVMEM_RUN_SIZE_VER1 + 8);
	neg_ioctl(m, _IOWR(KVMEM_IOC_MAGIC, _IOC_NR(KVMEM_IOC_SPACE_RUN),
			   struct kvmem_run), buf, ENOTTY,
		  "SPACE_RUN as _IOWR");
	/* SET_DEMAND's field. */
	ss = (struct kvmem_space_set){ .handle = c.handle,
				       .flags = KVMEM_SET_DEMAND,
				       .demand = KVMEM_NR_DEMANDS };
	neg_ioctl(o, KVMEM_IOC_SPACE_SET, &ss, EINVAL, "SET_DEMAND demand %d",
		  KVMEM_NR_DEMANDS);
	ss.demand = UINT32_MAX;
	neg_ioctl(o, KVMEM_IOC_SPACE_SET, &ss, EINVAL, "SET_DEMAND demand "
		  "0xffffffff");
	ss.demand = KVMEM_DEMAND_IDLE;
	ss.pad = 1;
	neg_ioctl(o, KVMEM_IOC_SPACE_SET, &ss, EINVAL, "SET_DEMAND pad 1");
	ss.pad = 0;
	CHECK_ERR(kv_ioctl(o, KVMEM_IOC_SPACE_SET, &ss), 0, "SET_DEMAND IDLE "
		  "(valid, after the failures)");
	if (CHECK(run_entry(m, id, &si), "listed"))
		CHECK_EQ(si.demand, KVMEM_DEMAND_IDLE, "demand IDLE");
out:
	if (m >= 0)
		close(m);
	close(o);
}

/* Ids of live spaces (up to max) from LIST_SPACES; how many. */
static uint32_t space_ids(int m, uint32_t *ids, uint32_t max)
{
	static struct kvmem_space_info si[64];
	struct kvmem_list l = {
		.max = 64, .entries = (uintptr_t)si, .entry_size = sizeof(si[0]),
	};
	uint32_t n = 0;

	if (kv_ioctl(m, KVMEM_IOC_LIST_SPACES, &l))
		return 0;
	for (uint32_t i = 0; i < l.count && n < max; i++)
		ids[n++] = si[i].id;
	return n;
}

/* The next completion of ctx within ms, through accel_fd(); false if none. */
static bool next_completion(struct accel_ctx *ctx, int ms,
			    struct accel_completion *c)
{
	struct pollfd p = { .fd = accel_fd(ctx), .events = POLLIN };

	if (accel_poll_completions(ctx, c, 1) == 1)
		return true;
	return poll(&p, 1, ms) == 1 && accel_poll_completions(ctx, c, 1) == 1;
}

/* A SPACE_RUN reaches libaccel: may_run, completions; demand goes out. */
void test_run_accel(void)
{
	const struct accel_geometry g = {
		.layers = 2, .kv_heads = 2, .head_dim = 64,
		.dtype = ACCEL_DTYPE_F16, .max_tokens = 512,
		.layout = ACCEL_LAYOUT_PER_SEQ,
	};
	uint32_t before[64], after[64], nb, na, id = 0;
	struct accel_open_opts o;
	struct accel_completion c;
	struct accel_ctx *ctx = NULL;
	struct accel_seq *seq = NULL;
	struct kvmem_event ev;
	int m = run_mgr();

	if (m < 0)
		return;
	nb = space_ids(m, before, 64);
	accel_open_opts_init(&o);
	o.backend = ACCEL_BACKEND_HOST;
	if (!CHECK_ERR(-accel_open(&o, &ctx), 0, "accel_open") ||
	    !CHECK_ERR(-accel_seq_create(ctx, &g, NULL, &seq), 0,
		       "accel_seq_create"))
		goto out;
	CHECK(accel_seq_may_run(seq), "a new sequence may run");
	CHECK(accel_seq_may_run(NULL), "NULL: may run");
	na = space_ids(m, after, 64);
	for (uint32_t i = 0; i < na && !id; i++) {
		bool old = false;

		for (uint32_t j = 0; j < nb; j++)
			old |= after[i] == before[j];
		if (!old)
			id = after[i];
	}
	if (!CHECK(id, "the sequence's space in LIST_SPACES"))
		goto out;
	CHECK_ERR(space_run(m, id, KVMEM_RUN_PREEMPT, KVMEM_TIER_CXL, 1), 0,
		  "SPACE_RUN PREEMPT of the sequence's space");
	if (CHECK(next_completion(ctx, RUN_EV_MS, &c), "a completion")) {
		CHECK_EQ(c.op, ACCEL_OP_PREEMPTED, "op PREEMPTED");
		CHECK(c.seq == seq, "of the sequence");
		CHECK_EQ(c.status, 0, "status");
	}
	CHECK(!accel_seq_may_run(seq), "a preempted sequence may not run");
	CHECK_ERR(space_run(m, id, KVMEM_RUN_PREFETCH, KVMEM_TIER_DRAM, 2), 0,
		  "SPACE_RUN PREFETCH");
	CHECK_ERR(space_run(m, id, KVMEM_RUN_RUNNABLE, KVMEM_TIER_DRAM, 3), 0,
		  "SPACE_RUN RUNNABLE");
	if (CHECK(next_completion(ctx, RUN_EV_MS, &c), "a completion"))
		CHECK_EQ(c.op, ACCEL_OP_RUNNABLE, "op RUNNABLE (PREFETCH in "
			 "between is no change)");
	CHECK(accel_seq_may_run(seq), "runnable again");
	CHECK(!next_completion(ctx, RUN_QUIET_MS, &c), "no more completions");
	CHECK_ERR(-accel_seq_set_demand(seq, ACCEL_DEMAND_WAITING), 0,
		  "accel_seq_set_demand WAITING");
	CHECK(next_of(m, KVMEM_EVENT_DEMAND, RUN_EV_MS, &ev) && ev.id == id &&
	      ev.pages == KVMEM_DEMAND_WAITING, "the manager gets DEMAND "
	      "WAITING of the space");
	CHECK_ERR(-accel_seq_set_demand(seq, 4), EINVAL,
		  "accel_seq_set_demand 4");
	CHECK_ERR(-accel_seq_set_demand(NULL, 1), EINVAL,
		  "accel_seq_set_demand NULL");
out:
	accel_seq_destroy(seq);
	accel_close(ctx);
	close(m);
}

#define GRACE_PARAM "/sys/module/kvmem/parameters/manager_grace_ms"

/*
 * A manager's directives outlive it for manager_grace_ms: a manager back
 * within it (a daemon's restart) finds them as they were and the owner
 * hears nothing; once it has passed with no manager, every stopped space is
 * RUNNABLE again and its owner told, so that engines run as with no daemon.
 */
void test_run_manager_gone(void)
{
	struct kvmem_space_create c;
	struct kvmem_space_info si;
	struct kvmem_event ev;
	char grace0[32] = "";
	int m = -1, fd = kv_open();
	uint32_t id = 0;

	if (fd < 0 ||
	    !CHECK_ERR(sysfs_read(GRACE_PARAM, grace0, sizeof(grace0)), 0,
		       "read manager_grace_ms"))
		goto out;
	grace0[strcspn(grace0, "\n")] = 0;
	CHECK_EQ(strtoul(grace0, NULL, 10), 5000, "manager_grace_ms default");
	m = run_mgr();
	id = run_space(fd, &c);
	if (m < 0 || !id)
		goto out;

	CHECK_ERR(sysfs_write(GRACE_PARAM, "300"), 0, "manager_grace_ms 300");
	CHECK_ERR(space_run(m, id, KVMEM_RUN_PREEMPT, KVMEM_TIER_CXL,
			    RUN_COOKIE), 0, "PREEMPT");
	if (CHECK(next_of(fd, KVMEM_EVENT_RUN, RUN_EV_MS, &ev), "PREEMPT event"))
		run_ev_is(&ev, c.handle, KVMEM_RUN_PREEMPT, KVMEM_TIER_CXL,
			  RUN_COOKIE, "PREEMPT");
	close(m);
	m = -1;
	CHECK(!kv_event_ready(fd, 100), "nothing within the grace");
	if (CHECK(next_of(fd, KVMEM_EVENT_RUN, RUN_EV_MS, &ev),
		  "the manager gone for 300 ms: a RUN event"))
		run_ev_is(&ev, c.handle, KVMEM_RUN_RUNNABLE, KVMEM_TIER_CXL, 0,
			  "reset to RUNNABLE");
	CHECK_EQ(kv_fdinfo_u64(fd, "kvmem-spaces-runnable"), 1,
		 "owner fdinfo: runnable again");
	m = run_mgr();
	if (m < 0)
		goto out;
	if (CHECK(run_entry(m, id, &si), "LIST_SPACES lists it")) {
		CHECK_EQ(si.run_state, KVMEM_RUN_RUNNABLE, "LIST: RUNNABLE");
		CHECK_EQ(si.run_cookie, 0, "LIST: no cookie");
	}

	/* A manager back within the grace: nothing changes. */
	CHECK_ERR(sysfs_write(GRACE_PARAM, "1000"), 0, "manager_grace_ms 1000");
	CHECK_ERR(space_run(m, id, KVMEM_RUN_PREEMPT, KVMEM_TIER_CXL,
			    RUN_COOKIE + 1), 0, "PREEMPT again");
	CHECK(next_of(fd, KVMEM_EVENT_RUN, RUN_EV_MS, &ev), "PREEMPT event");
	close(m);
	m = run_mgr();
	CHECK(!kv_event_ready(fd, 1500), "a manager came back in time: no "
	      "reset");
	if (m >= 0 && CHECK(run_entry(m, id, &si), "LIST_SPACES lists it")) {
		CHECK_EQ(si.run_state, KVMEM_RUN_PREEMPT, "LIST: still PREEMPT");
		CHECK_EQ(si.run_cookie, RUN_COOKIE + 1, "LIST: its cookie");
	}
	if (m >= 0)
		CHECK_ERR(space_run(m, id, KVMEM_RUN_RUNNABLE, KVMEM_TIER_DRAM,
				    0), 0, "RUNNABLE");
out:
	if (grace0[0])
		CHECK_ERR(sysfs_write(GRACE_PARAM, grace0), 0,
			  "manager_grace_ms back to %s", grace0);
	if (m >= 0)
		close(m);
	if (fd >= 0)
		close(fd);
}
