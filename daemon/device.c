// SPDX-License-Identifier: GPL-2.0
/*
 * kvmemd's side of /dev/kvmem: the manager role, the state read back from
 * the module (LIST_SPACES, LIST_CLIENTS, POOL_QUERY), its events, and the
 * decisions carried out (SPACE_RUN, MIGRATE, TENANT_SET). The module is the
 * source of truth: kvmemd keeps nothing it could not read back, so a
 * restart (or kill -9 and restart) rebuilds the same state.
 */
#include <errno.h>
#include <fcntl.h>
#include <search.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <linux/kvmem.h>

#include "kvmemd.h"

#define LIST_BATCH 256
/* The module's cookie: the policy's switch cookie and the space id. */
#define KCOOKIE(pc, id) (((uint64_t)(pc) << 32) | (uint32_t)(id))
/* Per-sequence fields kept in pol_seq.user[]. */
#define U_NPAGES 0
#define U_TOKENS 1
#define U_SEEN 2

uint64_t kd_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int xioctl(int fd, unsigned long cmd, void *arg)
{
	int r;

	do
		r = ioctl(fd, cmd, arg);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : 0;
}

/* The same ioctl number with another struct size (an older module's). */
#define SIZED(cmd, size) (((cmd) & ~((unsigned long)_IOC_SIZEMASK << \
	_IOC_SIZESHIFT)) | ((unsigned long)(size) << _IOC_SIZESHIFT))

static uint32_t k_tier(const struct kvmemd *d, uint32_t ptier)
{
	return ptier == POL_FAST ? d->fast_tier : d->slow_tier;
}

static int read_pools(struct kvmemd *d)
{
	uint64_t cap = 0;

	for (uint32_t i = 0; i < d->npools && i < KD_MAX_POOLS; i++) {
		struct kvmem_pool_info pi = { .index = i };
		int r = xioctl(d->fd, KVMEM_IOC_POOL_QUERY, &pi);

		if (r == -ENOTTY)
			r = xioctl(d->fd, SIZED(KVMEM_IOC_POOL_QUERY,
				   KVMEM_POOL_INFO_SIZE_VER1), &pi);
		if (r)
			return r;
		d->pools[i] = (struct kd_pool){ pi.tier, pi.kind, pi.page_size,
						pi.frames_total, pi.frames_free };
	}
	d->fast_nodes = false;
	for (uint32_t i = 0; i < d->npools && i < KD_MAX_POOLS; i++) {
		if (d->pools[i].tier != d->fast_tier)
			continue;
		cap += d->pools[i].total * d->pools[i].page_size;
		if (d->pools[i].kind == KVMEM_POOL_KIND_NODE)
			d->fast_nodes = true;
	}
	/* One tier only: nothing to switch between, everything fits. */
	pol_pool(&d->pol, d->fast_tier == d->slow_tier ? UINT64_MAX : cap,
		 d->pol.reclaim);
	return 0;
}

static void pick_tiers(struct kvmemd *d)
{
	uint32_t lo = KVMEM_NR_TIERS, next = KVMEM_NR_TIERS;

	for (uint32_t i = 0; i < d->npools && i < KD_MAX_POOLS; i++)
		if (d->pools[i].tier < lo)
			lo = d->pools[i].tier;
	for (uint32_t i = 0; i < d->npools && i < KD_MAX_POOLS; i++)
		if (d->pools[i].tier > lo && d->pools[i].tier < next)
			next = d->pools[i].tier;
	d->fast_tier = lo < KVMEM_NR_TIERS ? lo : KVMEM_TIER_DRAM;
	d->slow_tier = next < KVMEM_NR_TIERS ? next : d->fast_tier;
}

int kd_tenant_apply(struct kvmemd *d, uint32_t tenant)
{
	const struct kd_tenant_cfg *t = &d->cfg.tenants[tenant];
	struct kvmem_tenant_set ts = { .tenant = tenant };
	uint64_t ps = d->page_size ? d->page_size : 4096;

	if (d->fd < 0 || !t->set)
		return 0;
	ts.flags = KVMEM_TENANT_SET_WEIGHT | KVMEM_TENANT_SET_QUOTA;
	ts.weight = t->weight ? t->weight : 1;
	for (int i = 0; i < KVMEM_NR_TIERS; i++)
		ts.quota[i] = ~0ULL;
	if (t->quota_bytes)
		ts.quota[d->fast_tier] = (t->quota_bytes + ps - 1) / ps;
	return xioctl(d->fd, KVMEM_IOC_TENANT_SET, &ts);
}

int kd_device_open(struct kvmemd *d)
{
	struct kvmem_info info = { 0 };
	struct kvmem_manager mgr = { 0 };
	int r;

	d->fd = open(d->cfg.device, O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (d->fd < 0) {
		r = -errno;
		kd_logf(0, 0, "%s: %s (is kvmem.ko loaded? see "
			"Documentation/admin-guide.md)", d->cfg.device,
			strerror(errno));
		return r;
	}
	r = xioctl(d->fd, KVMEM_IOC_GET_INFO, &info);
	if (r) {
		kd_logf(0, 0, "%s: GET_INFO: %s", d->cfg.device, strerror(-r));
		return r;
	}
	if ((info.features & (KVMEM_FEATURE_MANAGER | KVMEM_FEATURE_EVENTS |
			      KVMEM_FEATURE_MIGRATE)) !=
	    (KVMEM_FEATURE_MANAGER | KVMEM_FEATURE_EVENTS | KVMEM_FEATURE_MIGRATE)) {
		kd_logf(0, 0, "%s: the module has no manager role, events or "
			"migration (features 0x%llx): too old for kvmemd",
			d->cfg.device, (unsigned long long)info.features);
		return -EOPNOTSUPP;
	}
	d->features = info.features;
	if (info.npools > KD_MAX_POOLS) {
		kd_logf(0, 0, "%s: %u pools; kvmemd handles %d at most",
			d->cfg.device, info.npools, KD_MAX_POOLS);
		return -EOVERFLOW;
	}
	d->npools = info.npools;
	d->ntenants = info.ntenants;
	d->page_size = info.page_size;
	d->pol.cfg.run_state = info.features & KVMEM_FEATURE_RUN_STATE;
	if (!d->pol.cfg.run_state)
		kd_logf(0, 1, "the module has no run states: moving host "
			"spaces and setting quotas only");
	r = xioctl(d->fd, KVMEM_IOC_MANAGER, &mgr);
	if (r) {
		kd_logf(0, 0, "%s: MANAGER: %s%s", d->cfg.device, strerror(-r),
			r == -EBUSY ? " (another manager is running)" :
			r == -EPERM ? " (needs CAP_SYS_ADMIN or the "
				      "module's manager_gid group)" : "");
		return r;
	}
	r = read_pools(d);
	if (r)
		return r;
	pick_tiers(d);
	r = read_pools(d);
	if (r)
		return r;
	for (uint32_t t = 0; t < d->ntenants && t < KD_MAX_TENANTS; t++) {
		const struct kd_tenant_cfg *tc = &d->cfg.tenants[t];

		r = pol_tenant_set(&d->pol, t, tc->set ? tc->weight : 1,
				   tc->set ? tc->quota_bytes : 0);
		if (!r)
			r = kd_tenant_apply(d, t);
		if (r) {
			kd_logf(0, 0, "tenant %u: TENANT_SET: %s", t,
				strerror(-r));
			return r;
		}
	}
	return 0;
}

/* One LIST call with whichever struct size the module takes. */
static int list(struct kvmemd *d, unsigned long cmd, struct kvmem_list *l)
{
	if (d->features & KVMEM_FEATURE_LIST_SIZED)
		return xioctl(d->fd, cmd, l);
	return xioctl(d->fd, SIZED(cmd, KVMEM_LIST_SIZE_VER1), l);
}

/* Version-2 fields only for a module that reads them (else -EINVAL). */
static void set_sized(const struct kvmemd *d, struct kvmem_list *l,
		      size_t esz)
{
	bool sized = d->features & KVMEM_FEATURE_LIST_SIZED;

	l->npools = sized && l->pools ? d->npools : 0;
	l->entry_size = sized ? (uint32_t)esz : 0;
}

static size_t info_size(const struct kvmemd *d)
{
	return d->features & KVMEM_FEATURE_LIST_SIZED ?
		sizeof(struct kvmem_space_info) : KVMEM_SPACE_INFO_SIZE_VER1;
}

/* A space as LIST_SPACES shows it: add it, or bring the policy up to date. */
static void space_seen(struct kvmemd *d, const struct kvmem_space_info *si,
		       const uint64_t *pools, uint64_t gen, bool restore)
{
	uint64_t fast = 0, slow = 0, clean = 0, bytes;
	bool device = si->flags & KVMEM_SPACE_INFO_DEVICE;
	struct pol_seq *s = pol_seq_get(&d->pol, si->id);

	/*
	 * A fast tier of device pools only (a GPU): host spaces cannot be
	 * moved into it (they are the cuda backend's host copies, or host
	 * engines' KV that no switch concerns); their device spaces are the
	 * sequences.
	 */
	if (!device && !d->fast_nodes) {
		if (s)
			pol_seq_del(&d->pol, si->id);
		return;
	}
	for (uint32_t i = 0; i < d->npools; i++) {
		uint64_t b = pools[i] * d->pools[i].page_size;

		if (d->pools[i].tier == d->fast_tier)
			fast += b;
		else
			slow += b;
		if (d->pools[i].tier != d->fast_tier)
			clean += pools[d->npools + i] * d->pools[i].page_size;
	}
	bytes = fast + slow;
	if (!bytes)	/* nothing backed yet: its size when it runs */
		bytes = si->npages * d->page_size;
	if (!s) {
		int tier = fast * 2 >= bytes ? POL_FAST : POL_SLOW;

		kd_logf(d->cfg.verbose, 2, "space %u: client %u tenant %u "
			"npages %llu fast %llu slow %llu run %u demand %u",
			si->id, si->client, si->tenant,
			(unsigned long long)si->npages,
			(unsigned long long)fast, (unsigned long long)slow,
			si->run_state, si->demand);
		if (pol_seq_add(&d->pol, si->id, si->tenant, bytes, tier,
				device))
			return;
		s = pol_seq_get(&d->pol, si->id);
		s->clean = tier == POL_FAST ? (clean < bytes ? clean : bytes) :
			   bytes;
		s->user[U_NPAGES] = si->npages;
		s->user[U_TOKENS] = si->tokens;	/* history is not charged */
		pol_seq_prio(&d->pol, si->id, si->priority);
		if (restore && d->pol.cfg.run_state) {
			uint64_t pc = (uint32_t)si->run_cookie == si->id ?
				      si->run_cookie >> 32 : 0;

			pol_seq_restore(&d->pol, si->id, (int)si->run_state,
					(int)si->demand, pc);
		} else if (si->demand < KVMEM_NR_DEMANDS) {
			pol_seq_demand(&d->pol, si->id, (int)si->demand);
		}
	} else {
		uint64_t last = s->user[U_TOKENS], in = 0, out = 0;

		/* The prompt arrives as the first report, then decode. */
		if (si->tokens > last) {
			if (last == 0)
				in = si->tokens;
			else
				out = si->tokens - last;
		}
		s->user[U_TOKENS] = si->tokens;
		pol_seq_tokens(&d->pol, si->id, in, out, fast + slow ?
			       fast + slow : s->bytes);
		if (s->prio != si->priority)
			pol_seq_prio(&d->pol, si->id, si->priority);
		if (si->demand < KVMEM_NR_DEMANDS && (int)si->demand != s->demand)
			pol_seq_demand(&d->pol, si->id, (int)si->demand);
	}
	s->user[U_SEEN] = gen;
}

static uint64_t generation;

/* Sequences not seen in this listing, collected by twalk_r(3). */
struct stale {
	uint64_t ids[4096];
	size_t n;
};

static void find_stale(const void *node, VISIT v, void *closure)
{
	const struct pol_seq *s = *(const struct pol_seq *const *)node;
	struct stale *st = closure;

	if ((v == postorder || v == leaf) && s->user[U_SEEN] != generation &&
	    st->n < sizeof(st->ids) / sizeof(st->ids[0]))
		st->ids[st->n++] = s->id;
}

/*
 * Entries per LIST call. A module without KVMEM_FEATURE_LIST_SIZED writes
 * entries at its own struct size, which need not be the version-1 size
 * (it ignores entry_size): one entry per call is then read right whatever
 * the stride. The buffer has room for a larger entry than ours.
 */
static uint32_t list_batch(const struct kvmemd *d)
{
	return d->features & KVMEM_FEATURE_LIST_SIZED ? LIST_BATCH : 1;
}

#define ENTRY_ROOM 512

/* Reads every space; adds the new, updates the known, drops the gone. */
static int list_spaces(struct kvmemd *d, bool restore)
{
	size_t esz = info_size(d);
	uint32_t batch = list_batch(d);
	char *ent = calloc(batch, esz > ENTRY_ROOM ? esz : ENTRY_ROOM);
	/* Room for KD_MAX_POOLS columns: a pool added since GET_INFO (a
	 * device pool) must not make the module write past the buffer. */
	uint64_t *pools = calloc((size_t)batch * 2 * KD_MAX_POOLS,
				 sizeof(*pools));
	struct kvmem_list l = { .cursor = 0 };
	int r = 0;

	if (!ent || !pools) {
		free(ent);
		free(pools);
		return -ENOMEM;
	}
	generation++;
	do {
		l.max = batch;
		l.entries = (uintptr_t)ent;
		l.pools = (uintptr_t)pools;
		set_sized(d, &l, esz);
		l.count = 0;
		r = list(d, KVMEM_IOC_LIST_SPACES, &l);
		if (r)
			break;
		for (uint32_t i = 0; i < l.count && i < batch; i++) {
			struct kvmem_space_info si = { 0 };

			memcpy(&si, ent + i * esz, esz < sizeof(si) ? esz :
			       sizeof(si));
			space_seen(d, &si, pools + (size_t)i * 2 * d->npools,
				   generation, restore);
		}
	} while (l.cursor);
	free(ent);
	free(pools);
	if (r)
		return r;
	struct stale *st = malloc(sizeof(*st));

	if (!st)
		return -ENOMEM;
	do {
		st->n = 0;
		twalk_r(d->pol.seq_tree, find_stale, st);
		for (size_t i = 0; i < st->n; i++)
			pol_seq_del(&d->pol, st->ids[i]);
	} while (st->n == sizeof(st->ids) / sizeof(st->ids[0]));
	free(st);
	return 0;
}

static int count_clients(struct kvmemd *d)
{
	struct kvmem_client_info ci[64];
	struct kvmem_list l = { .cursor = 0 };
	uint32_t n = 0;
	int r;

	do {
		/* Only counted: any stride will do, as long as it fits. */
		l.max = list_batch(d) == 1 ? 16 : 64;
		l.entries = (uintptr_t)ci;
		l.pools = 0;
		set_sized(d, &l, sizeof(ci[0]));
		r = list(d, KVMEM_IOC_LIST_CLIENTS, &l);
		if (r)
			return r;
		n += l.count;
	} while (l.cursor);
	d->nclients = n;
	return 0;
}

/* One space, just created: read back whole (device flag, tier, tenant). */
static int list_one(struct kvmemd *d, uint32_t id)
{
	size_t esz = info_size(d);
	char *ent = calloc(1, esz > ENTRY_ROOM ? esz : ENTRY_ROOM);
	uint64_t *pools = calloc(2 * (size_t)KD_MAX_POOLS, sizeof(*pools));
	struct kvmem_list l = { .cursor = id, .max = 1 };
	struct kvmem_space_info si = { 0 };
	int r = -ENOMEM;

	if (ent && pools) {
		l.entries = (uintptr_t)ent;
		l.pools = (uintptr_t)pools;
		set_sized(d, &l, esz);
		r = list(d, KVMEM_IOC_LIST_SPACES, &l);
		if (!r && l.count == 1) {
			memcpy(&si, ent, esz < sizeof(si) ? esz : sizeof(si));
			if (si.id == id)
				space_seen(d, &si, pools, generation, false);
		}
	}
	free(ent);
	free(pools);
	return r;
}

int kd_device_spaces(struct kvmemd *d, kd_space_fn fn, void *arg)
{
	size_t esz = info_size(d);
	uint32_t batch = list_batch(d);
	char *ent = calloc(batch, esz > ENTRY_ROOM ? esz : ENTRY_ROOM);
	uint64_t *pools = calloc((size_t)batch * 2 * KD_MAX_POOLS,
				 sizeof(*pools));
	struct kvmem_list l = { .cursor = 0 };
	int r = d->fd < 0 ? -ENODEV : 0;

	while (!r && ent && pools) {
		l.max = batch;
		l.entries = (uintptr_t)ent;
		l.pools = (uintptr_t)pools;
		set_sized(d, &l, esz);
		l.count = 0;
		r = list(d, KVMEM_IOC_LIST_SPACES, &l);
		for (uint32_t i = 0; !r && i < l.count && i < batch; i++) {
			struct kvmem_space_info si = { 0 };

			memcpy(&si, ent + i * esz, esz < sizeof(si) ? esz :
			       sizeof(si));
			fn(arg, &si, pools + (size_t)i * 2 * d->npools,
			   d->npools);
		}
		if (!l.cursor)
			break;
	}
	if (!r && (!ent || !pools))
		r = -ENOMEM;
	free(ent);
	free(pools);
	return r;
}

int kd_device_rebuild(struct kvmemd *d)
{
	int r = list_spaces(d, true);

	if (!r)
		r = count_clients(d);
	if (r)
		kd_logf(0, 0, "reading the module's state: %s", strerror(-r));
	return r;
}

int kd_device_sync(struct kvmemd *d)
{
	struct kvmem_info info = { 0 };
	int r = xioctl(d->fd, KVMEM_IOC_GET_INFO, &info);

	/* Device pools come and go: the pool table is read again. */
	if (!r && info.npools <= KD_MAX_POOLS)
		d->npools = info.npools;
	else if (!r)
		kd_logf(0, 1, "%u pools; only %d watched", info.npools,
			KD_MAX_POOLS);
	r = read_pools(d);
	if (!r) {
		uint32_t fast = d->fast_tier, slow = d->slow_tier;

		/* A GPU registered (or gone) may change the tiers. */
		pick_tiers(d);
		if (fast != d->fast_tier || slow != d->slow_tier) {
			kd_logf(0, 1, "fast tier now %u, slow tier %u",
				d->fast_tier, d->slow_tier);
			r = read_pools(d);
			/* Tenants' quotas bind the fast tier: move them. */
			for (uint32_t t = 0; !r && t < d->ntenants &&
			     t < KD_MAX_TENANTS; t++)
				r = kd_tenant_apply(d, t);
		}
	}
	if (!r)
		r = list_spaces(d, false);
	if (!r)
		r = count_clients(d);
	return r;
}

/* A switch ended (MIGRATE of a host space, SWAP of a device space). */
static void switch_ended(struct kvmemd *d, uint64_t kcookie, int status,
			 uint64_t bytes)
{
	uint32_t id = (uint32_t)kcookie;
	struct pol_seq *s = pol_seq_get(&d->pol, id);

	if (!s || (uint32_t)s->cookie != (uint32_t)(kcookie >> 32))
		return;
	/* -EBUSY: pages something else holds stayed; the rest moved. */
	pol_switch_done(&d->pol, id, s->cookie, status == 0 || status == -EBUSY,
			bytes, d->pol.now - s->issued_ns);
}

static void fault_pressure(struct kvmemd *d, uint64_t bytes)
{
	if (d->pol.reclaim < bytes)
		pol_pool(&d->pol, d->pol.capacity, bytes);
}

int kd_device_events(struct kvmemd *d)
{
	struct kvmem_event ev[64];

	pol_tick(&d->pol, kd_now());
	for (;;) {
		ssize_t n = read(d->fd, ev, sizeof(ev));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		for (size_t i = 0; i < (size_t)n / sizeof(ev[0]); i++) {
			const struct kvmem_event *e = &ev[i];

			d->m.events++;
			switch (e->type) {
			case KVMEM_EVENT_MIGRATE:
				switch_ended(d, e->cookie, e->status,
					     e->bytes_copied + e->bytes_reused);
				break;
			case KVMEM_EVENT_SWAP:
				switch_ended(d, e->cookie, e->status,
					     e->bytes_copied);
				break;
			case KVMEM_EVENT_SPACE_CREATED:
				d->m.ioctl_errors += list_one(d, (uint32_t)e->id)
						     != 0;
				break;
			case KVMEM_EVENT_CLIENT_EXIT:
				/* Its spaces' DESTROYED events came first. */
				if (d->nclients)
					d->nclients--;
				break;
			case KVMEM_EVENT_SPACE_DESTROYED:
				pol_seq_del(&d->pol, e->id);
				break;
			case KVMEM_EVENT_DEMAND:
				if (e->pages < KVMEM_NR_DEMANDS)
					pol_seq_demand(&d->pol, e->id,
						       (int)e->pages);
				break;
			case KVMEM_EVENT_POOL_LOW:
				if (e->id < d->npools &&
				    d->pools[e->id].tier == d->fast_tier &&
				    e->cookie > e->pages)
					fault_pressure(d, (e->cookie - e->pages) *
						       d->pools[e->id].page_size);
				break;
			case KVMEM_EVENT_FAULT_WAIT:
				if ((uint32_t)e->status == d->fast_tier)
					fault_pressure(d, 256 * d->page_size);
				break;
			case KVMEM_EVENT_OVERFLOW:
				d->m.overflows++;
				kd_device_sync(d);
				break;
			}
		}
	}
}

void kd_apply(struct kvmemd *d)
{
	struct pol_decision dec[64];
	size_t n;

	while ((n = pol_take(&d->pol, dec, 64)) > 0) {
		for (size_t i = 0; i < n; i++) {
			const struct pol_decision *x = &dec[i];
			struct pol_seq *s = pol_seq_get(&d->pol, x->seq);
			bool start = x->kind == POL_MIGRATE ||
				     x->run != POL_RUN_RUNNABLE;
			int r;

			if (!s || (start && (s->cookie != x->cookie ||
			    (s->at != POL_TO_FAST && s->at != POL_TO_SLOW))))
				continue;	/* gone, or failed already */
			if (d->cfg.verbose)
				kd_logf(1, 1, "seq %llu tenant %u: %s %s to %s",
					(unsigned long long)x->seq, x->tenant,
					x->kind == POL_MIGRATE ? "migrate" : "run",
					x->kind == POL_MIGRATE ? "" :
					x->run == POL_RUN_PREEMPT ? "preempt" :
					x->run == POL_RUN_PREFETCH ? "prefetch" :
					"runnable", x->tier == POL_FAST ?
					"fast" : "slow");
			if (d->fd < 0)
				continue;	/* --no-device */
			if (x->kind == POL_SET_RUN) {
				struct kvmem_run run = {
					.id = (uint32_t)x->seq,
					.state = x->run,
					.tier = k_tier(d, x->tier),
					.cookie = KCOOKIE(x->cookie, x->seq),
				};

				r = xioctl(d->fd, KVMEM_IOC_SPACE_RUN, &run);
			} else {
				struct kvmem_migrate m = {
					.handle = (uint32_t)x->seq,
					.flags = KVMEM_MIGRATE_BY_ID |
						 (x->tier == POL_FAST ?
						  KVMEM_MIGRATE_KEEP_COPY : 0),
					.first = 0,
					.count = s->user[U_NPAGES],
					.tier = k_tier(d, x->tier),
					.cookie = KCOOKIE(x->cookie, x->seq),
				};

				r = m.count ? xioctl(d->fd, KVMEM_IOC_MIGRATE,
						     &m) : -EINVAL;
			}
			if (r) {
				d->m.ioctl_errors++;
				kd_logf(0, 1, "seq %llu: %s: %s",
					(unsigned long long)x->seq,
					x->kind == POL_MIGRATE ? "MIGRATE" :
					"SPACE_RUN", strerror(-r));
				if (start)
					pol_switch_done(&d->pol, x->seq,
							x->cookie, false, 0, 0);
			}
		}
	}
}
