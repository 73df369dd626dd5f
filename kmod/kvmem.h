/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kvmem internals: the objects of the module and the calls between its
 * files. Documentation/design.md explains them, their lifetimes and the
 * locking order, which is:
 *
 *   kvmem_pools_lock (pool table: DEVICE_POOL_ADD/REMOVE, device spaces'
 *     creation; never held with the others below but kvmem_pool.lock)
 *   mmap_lock (fault, mmap)
 *     -> kvmem_client.lock (handle table; never held across the others)
 *     -> kvmem_space.populate_lock (POPULATE only)
 *     -> kvmem_space.lock
 *       -> i_mmap_rwsem, page table locks (zap, insert)
 *       -> kvmem_tenant.lock -> kvmem_pool.lock
 *       -> kvmem_pool.resize_lock -> kvmem_pool.lock
 *       -> kvmem_manager_lock -> kvmem_events.lock (spinlocks, leaves)
 *
 * No lock of this list is held across copy_{to,from}_user(): a user
 * pointer may point into a kvmem mapping, and faulting it would take
 * kvmem_space.lock again.
 */
#ifndef KVMEM_H
#define KVMEM_H

#include <linux/cred.h>
#include <linux/kobject.h>
#include <linux/kref.h>
#include <linux/mm_types.h>
#include <linux/mutex.h>
#include <linux/types.h>
#include <linux/wait.h>
#include <linux/xarray.h>
#include <linux/kvmem.h>

#include "event.h"
#include "frame_alloc.h"

struct mem_cgroup;

#define KVMEM_MAX_POOLS		64

#define KVMEM_MAX_TENANTS	4096
#define KVMEM_WEIGHT_MAX	10000

/* Mark of kvmem_space.pages entries whose page is being migrated. */
#define KVMEM_MARK_MIGRATING	XA_MARK_1

/**
 * struct kvmem_pool - the frames of one NUMA node, or of one device
 * @kobj: sysfs directory pools/pool<index>, owns the struct
 * @index: pool index in the ioctl ABI
 * @kind: KVMEM_POOL_KIND_NODE or KVMEM_POOL_KIND_DEVICE, for good
 * @node: NUMA node all frames come from; -1 for a device pool
 * @tier: KVMEM_TIER_*, read without lock (READ_ONCE), set by the admin
 *	(node pools) or the registrar (device pools)
 * @frame_size: bytes per frame
 * @device: device pools: the registrar's device id
 * @removed: device pools: the slot holds no pool (never added, or
 *	removed); written under both kvmem_pools_lock and @lock
 * @users: device pools: live spaces on the pool; REMOVE refuses while
 *	there are any
 * @dev_total: device pools: frames the device has (under @lock)
 * @dev_free: device pools: frames not granted (under @lock)
 * @resize_lock: serialises resizes (sysfs reserve writes, load, unload)
 * @lock: protects @fa, @frames, @reserve, @dev_total and @dev_free
 * @fa: which slots hold frames, which of those are free
 * @frames: first struct page of the frame in each slot, or NULL
 * @reserve: frames the admin wants the pool to own
 * @low_watermark: the manager hears when free frames drop below this
 * @low: below @low_watermark and reported; re-armed once back above
 * @orphans: slot -> frame released by its space while someone else (a
 *	pipe, a get_user_pages() pin) still held a page of it; such a frame
 *	keeps its slot, used, until the last holder lets go (under @lock)
 * @nr_orphans: entries in @orphans (under @lock)
 * @nr_charged: frames in use that were allocated for a client in a memory
 *	cgroup and charged to it; they have no slot
 *
 * A node pool's frame is 2^kvmem_frame_order physically contiguous pages,
 * split into order-0 pages so that each can be mapped on its own. The slot
 * of a frame is kept in page_private() of its first page.
 *
 * A device pool owns no memory: its frames are a count that spaces are
 * granted from (devpool.c). Its struct, once made, lives until unload,
 * and its slot is reused by the next DEVICE_POOL_ADD after a REMOVE: so
 * a lockless reader of kvmem_pools[] below kvmem_nr_pools always finds a
 * valid struct.
 */
struct kvmem_pool {
	struct kobject kobj;
	unsigned int index;
	u32 kind;
	int node;
	unsigned int tier;
	u64 frame_size;
	u32 device;
	bool removed;
	atomic_t users;
	u32 dev_total;
	u32 dev_free;
	struct mutex resize_lock;
	struct mutex lock;
	struct kvmem_fa fa;
	struct page **frames;
	u32 reserve;
	u32 low_watermark;
	bool low;
	struct xarray orphans;
	u32 nr_orphans;
	atomic_t nr_charged;
};

/**
 * struct kvmem_tenant - whom frames are charged to
 * @kobj: sysfs directory tenants/<id>, owns the struct
 * @id: tenant id
 * @lock: serialises quota checks with the charges they allow
 * @quota: frames the tenant may hold per tier; U64_MAX: no limit
 * @weight: share for the manager's fair scheduling, 1 .. KVMEM_WEIGHT_MAX
 * @frames: frames charged per pool index (written under @lock)
 * @faults: page faults on the tenant's spaces
 * @migrated_in: bytes migrated into each tier
 * @migrated_out: bytes migrated out of each tier
 * @nr_run: live spaces per run state (KVMEM_RUN_*)
 * @preemptions: KVMEM_RUN_PREEMPT directives given to its spaces
 * @uid: a user whose clients may charge the tenant (sysfs uid; invalid: none)
 * @gid: a group whose members' clients may charge it (sysfs gid)
 */
struct kvmem_tenant {
	struct kobject kobj;
	u32 id;
	struct mutex lock;
	u64 quota[KVMEM_NR_TIERS];
	u32 weight;
	u64 frames[KVMEM_MAX_POOLS];
	atomic64_t faults;
	atomic64_t migrated_in[KVMEM_NR_TIERS];
	atomic64_t migrated_out[KVMEM_NR_TIERS];
	atomic_t nr_run[KVMEM_NR_RUN_STATES];
	atomic64_t preemptions;
	kuid_t uid;
	kgid_t gid;
};

/**
 * struct kvmem_client - one open file of /dev/kvmem
 * @lock: protects @handles
 * @handles: handle -> struct kvmem_space, one reference each
 * @migrations: requests submitted and not yet ended; release waits for 0
 * @next_id: last migration id handed out
 * @id: client id, for the manager's reports
 * @pid: thread group of the opener, reported in the reader's namespace
 * @cred: the opener's credentials, which judge the tenants it may charge
 * @may_manage: the opener had CAP_SYS_ADMIN or was in manager_gid
 * @memcg: the opener's memory cgroup, which its frames are charged to
 *	(a reference); NULL: the root cgroup, and frames of the pools' reserves
 * @nr_spaces: live spaces
 * @frames: frames its spaces hold, per pool index
 * @faults: page faults on its spaces
 * @migrated_in: bytes of its spaces migrated into each tier
 * @migrated_out: bytes of its spaces migrated out of each tier
 * @events: what read() returns
 * @nr_run: live spaces per run state (KVMEM_RUN_*)
 * @info_npools: npools its last KVMEM_IOC_GET_INFO returned, U32_MAX if it
 *	never asked: how a version-1 LIST caller sized its pools array
 *
 * The counters are atomics, read with no lock by the manager's reports
 * and by fdinfo. The bytes a client's spaces moved in all are the sum of
 * @migrated_in (which equals that of @migrated_out): no third counter
 * that could disagree with them.
 */
struct kvmem_client {
	struct mutex lock;
	struct xarray handles;
	atomic_t migrations;
	atomic64_t next_id;
	u32 id;
	struct pid *pid;
	const struct cred *cred;
	bool may_manage;
	struct mem_cgroup *memcg;
	atomic_t nr_spaces;
	atomic_long_t frames[KVMEM_MAX_POOLS];
	atomic64_t faults;
	atomic64_t migrated_in[KVMEM_NR_TIERS];
	atomic64_t migrated_out[KVMEM_NR_TIERS];
	struct kvmem_events events;
	atomic_t nr_run[KVMEM_NR_RUN_STATES];
	u32 info_npools;
};

/**
 * struct kvmem_migration - a queued KVMEM_IOC_MIGRATE request
 * @node: in kvmem_space.mq
 * @client: who asked; gets the completion event
 * @id: id returned to @client
 * @cookie: the caller's value, returned in the event
 * @first: first page of the range
 * @count: pages in the range
 * @tier: target tier
 * @flags: KVMEM_MIGRATE_* flags
 * @handle: the space's handle in @client, for the event
 */
struct kvmem_migration {
	struct list_head node;
	struct kvmem_client *client;
	u64 id;
	u64 cookie;
	u64 first;
	u64 count;
	u32 tier;
	u32 flags;
	u32 handle;
};

/**
 * struct kvmem_space - a contiguous range of logical pages backed on demand
 * @ref: held by the client's handle table, each VMA and each ioctl in flight
 * @client: owner; outlives the space's handle and every VMA (a VMA holds
 *	the file, and the file the client)
 * @id: global id, selects the mmap offset window; freed with the struct
 * @npages: logical pages
 * @tier: preferred tier
 * @policy: KVMEM_POLICY_*
 * @timeout_ms: bound of a KVMEM_POLICY_WAIT wait
 * @tenant: charged for the space's frames; changes only while it has none
 * @priority: scheduling priority, for the manager
 * @tokens: tokens written so far, as the owner last reported
 * @drop_waiters: RELEASE, DESTROY or an undo waiting for pages in flight;
 *	while there are any, the migration worker starts no new batch
 * @populate_lock: serialises POPULATEs, whose undo needs to know which
 *	pages it added while @lock may be dropped for a wait
 * @lock: protects @pages, @copies, @dead and @nr_resident
 * @devpool: the device pool of a device space (KVMEM_SPACE_DEVICE), whose
 *	frames are granted into @grants; NULL for a node space
 * @pages: logical page -> struct page of the frame's first page; entries
 *	marked KVMEM_MARK_MIGRATING are in flight. Always empty in a device
 *	space.
 * @grants: logical page -> xa_mk_value(pool index) of a device frame
 *	granted to it; always empty in a node space
 * @copies: logical page -> a clean copy of it in another frame
 * @nr_resident: entries in @pages and @grants
 * @dead: destroyed: faults raise SIGBUS, the handle is gone
 * @handle: its handle in @client (0 until it has one), for RUN events
 * @run_state: KVMEM_RUN_*, as the manager last set it (under @lock)
 * @run_tier: the tier named with @run_state
 * @run_cookie: the cookie of the last KVMEM_IOC_SPACE_RUN
 * @demand: KVMEM_DEMAND_*, as the owner last reported it (under @lock)
 * @swap: the owner's swap begun and not ended (KVMEM_IOC_SWAP), or NULL
 * @wait: faults, RELEASE and DESTROY wait here for pages in flight
 * @mq_lock: protects @mq and @mq_active
 * @mq: queued migration requests, run in order by @migrate_work
 * @mq_active: @migrate_work is queued or running (and holds a reference)
 * @migrate_work: runs the requests of @mq
 */
struct kvmem_space {
	struct kref ref;
	struct kvmem_client *client;
	u32 id;
	u64 npages;
	u32 tier;
	u32 policy;
	u32 timeout_ms;
	struct kvmem_tenant *tenant;
	s32 priority;
	u64 tokens;
	unsigned int drop_waiters;
	struct mutex populate_lock;
	struct mutex lock;
	struct kvmem_pool *devpool;
	struct xarray pages;
	struct xarray grants;
	struct xarray copies;
	u64 nr_resident;
	bool dead;
	u32 handle;
	u32 run_state;
	u32 run_tier;
	u64 run_cookie;
	u32 demand;
	struct kvmem_swap_rec *swap;
	wait_queue_head_t wait;
	spinlock_t mq_lock;
	struct list_head mq;
	bool mq_active;
	struct work_struct migrate_work;
};

/* run.c */
void kvmem_run_count(struct kvmem_space *space, int delta);
int kvmem_manager_space_run(struct kvmem_client *client,
			    const struct kvmem_run *r);
void kvmem_space_set_demand(struct kvmem_space *space, u32 demand);

/* swap.c */
struct kvmem_swap_rec;
int kvmem_space_swap(struct kvmem_client *client, const struct kvmem_swap *s);
struct kvmem_swap_rec *kvmem_swap_kill(struct kvmem_space *space);
void kvmem_swap_drop(struct kvmem_swap_rec *rec);

/* main.c */
extern bool kvmem_ready;
extern bool kvmem_memcg_charge;
extern unsigned int kvmem_max_spaces;
extern unsigned int kvmem_locked_wait_ms;
extern unsigned int kvmem_default_tenant;
extern int kvmem_priority_max;
extern kgid_t kvmem_manager_kgid;
extern unsigned int kvmem_frame_order;
extern struct address_space *kvmem_mapping;
extern atomic_t kvmem_nr_clients;
extern atomic_t kvmem_nr_spaces;

static inline unsigned long kvmem_frame_pages(void)
{
	return 1UL << kvmem_frame_order;
}

static inline u64 kvmem_page_size(void)
{
	return PAGE_SIZE << kvmem_frame_order;
}

/* tenant.c */
extern struct kvmem_tenant **kvmem_tenants;
extern u32 kvmem_nr_tenants;

int kvmem_tenants_init(struct kobject *parent, u32 n);
void kvmem_tenants_exit(void);
u64 kvmem_tenant_used(struct kvmem_tenant *t, u32 tier);
bool kvmem_tenant_below_quota(struct kvmem_tenant *t, u32 tier);
int kvmem_client_may_charge(const struct kvmem_client *client, u32 tenant);
int kvmem_client_may_prioritize(const struct kvmem_client *client, s32 prio);
u32 kvmem_tenant_get_run(struct kvmem_tenant *t, u32 tier, u32 want,
			 struct page **frames, struct mem_cgroup *memcg);
void kvmem_tenant_put_frame(struct kvmem_tenant *t, struct page *frame);
void kvmem_tenant_moved(struct kvmem_tenant *t, u32 from, u32 to);
void kvmem_tenant_set_quota(struct kvmem_tenant *t,
			    const u64 quota[KVMEM_NR_TIERS]);

/* manager.c */
bool kvmem_is_manager(struct kvmem_client *client);
void kvmem_manager_post(const struct kvmem_event *ev);
int kvmem_manager_acquire(struct kvmem_client *client);
void kvmem_manager_release(struct kvmem_client *client);
void kvmem_manager_exit(void);
extern unsigned int kvmem_manager_grace_ms;
void kvmem_manager_client_exit(struct kvmem_client *client);
int kvmem_manager_list(struct kvmem_client *client, struct kvmem_list *l,
		       bool spaces);
int kvmem_manager_tenant_set(struct kvmem_client *client,
			     const struct kvmem_tenant_set *ts);

/* pool.c */
extern struct kvmem_pool *kvmem_pools[KVMEM_MAX_POOLS];
extern unsigned int kvmem_nr_pools;
extern unsigned int kvmem_nr_node_pools;
extern wait_queue_head_t kvmem_frame_wait;

/*
 * Pool indices are below this; pools[i] below it is a valid struct (a
 * device slot may be removed). It changes under kvmem_pools_lock; a
 * lockless reader that sizes something by it reads it once.
 */
static inline unsigned int kvmem_pools_count(void)
{
	/* Pairs with the release in devpool.c that publishes a slot. */
	return smp_load_acquire(&kvmem_nr_pools);
}

void kvmem_pool_report_low(struct kvmem_pool *pool, u32 free);

int kvmem_pools_init(unsigned int reserve_frames, const int *tiers);
void kvmem_pools_exit(void);
int kvmem_pool_resize(struct kvmem_pool *pool, u32 target);
void kvmem_pool_free(struct kvmem_pool *pool);
u32 kvmem_pool_get_run(struct kvmem_pool *pool, u32 want, struct page **frames);
u32 kvmem_tier_get_run(u32 tier, u32 want, struct page **frames,
		       struct mem_cgroup *memcg);
void kvmem_orphans_stop(void);
bool kvmem_frame_shared(struct page *frame);
bool kvmem_frame_dirty(struct page *frame);
void kvmem_frame_zero(struct page *frame);
void kvmem_frame_clean(struct page *frame);
void kvmem_pool_put_frame(struct page *frame);
struct kvmem_pool *kvmem_frame_pool(struct page *frame);
bool kvmem_tier_has_pool(u32 tier);
bool kvmem_tier_has_free(u32 tier);
void kvmem_pool_counts(struct kvmem_pool *pool, u32 *total, u32 *free);
void kvmem_pool_set_low_watermark(struct kvmem_pool *pool, u32 frames);

/* devpool.c */
extern struct mutex kvmem_pools_lock;
int kvmem_devpool_add(struct kvmem_client *client,
		      struct kvmem_device_pool *args);
int kvmem_devpool_remove(struct kvmem_client *client,
			 const struct kvmem_device_pool_remove *args);
struct kvmem_pool *kvmem_devpool_use(u32 index);
void kvmem_devpool_unuse(struct kvmem_pool *pool);
bool kvmem_devpool_grant(struct kvmem_pool *pool, struct kvmem_tenant *t,
			 struct kvmem_client *client);
void kvmem_devpool_ungrant(struct kvmem_pool *pool, struct kvmem_tenant *t,
			   struct kvmem_client *client);
bool kvmem_devpool_may_grant(struct kvmem_pool *pool, struct kvmem_tenant *t);
void kvmem_devpools_exit(void);

/* space.c */
struct kvmem_space *kvmem_space_create(struct kvmem_client *client,
				       const struct kvmem_space_create *args,
				       struct kvmem_pool *devpool);
void kvmem_space_kill(struct kvmem_space *space);
int kvmem_space_set(struct kvmem_space *space,
		    const struct kvmem_space_set *args);
void kvmem_space_put(struct kvmem_space *space);
int kvmem_space_populate(struct kvmem_space *space, u64 first, u64 count,
			 u64 *done);
int kvmem_space_release(struct kvmem_space *space, u64 first, u64 count,
			u64 *done);
u64 kvmem_space_residency(struct kvmem_space *space, u64 first, u64 count,
			  struct kvmem_residency *out);
int kvmem_space_mmap(struct kvmem_client *client, struct vm_area_struct *vma);
void kvmem_space_zap(struct kvmem_space *space, u64 first, u64 count);

/* migrate.c */
int kvmem_migrate_init(void);
void kvmem_migrate_exit(void);
void kvmem_migrate_init_space(struct kvmem_space *space);
void kvmem_migrate_submit(struct kvmem_space *space, struct kvmem_migration *m);

/* client.c */
void kvmem_client_migration_done(struct kvmem_client *client,
				 const struct kvmem_event *ev);
u32 kvmem_clients_report(u64 *cursor, u32 max, void *out, size_t entry_size,
			 u64 *pools, unsigned int stride, unsigned int npools);
void kvmem_client_moved(struct kvmem_client *client, u32 from, u32 to);

static inline u64 kvmem_space_offset(const struct kvmem_space *space)
{
	return (u64)space->id << KVMEM_SPACE_SHIFT;
}

/*
 * Takes up to @want frames of @tier for @space, contiguous where the pool
 * allows, charged to its tenant and client. Not zeroed. Returns how many.
 */
static inline u32 kvmem_space_get_run(struct kvmem_space *space, u32 tier,
				      u32 want, struct page **frames)
{
	u32 n = kvmem_tenant_get_run(space->tenant, tier, want, frames,
				     space->client->memcg);

	if (n)
		atomic_long_add(n, &space->client->frames[kvmem_frame_pool(frames[0])->index]);
	return n;
}

/* Takes one frame of @tier for @space, as kvmem_space_get_run(); or NULL. */
static inline struct page *kvmem_space_get_frame(struct kvmem_space *space,
						 u32 tier)
{
	struct page *frame;

	return kvmem_space_get_run(space, tier, 1, &frame) ? frame : NULL;
}

/* Gives back a frame the space held, uncharging its tenant and client. */
static inline void kvmem_space_put_frame(struct kvmem_space *space,
					 struct page *frame)
{
	atomic_long_dec(&space->client->frames[kvmem_frame_pool(frame)->index]);
	kvmem_tenant_put_frame(space->tenant, frame);
}

/*
 * Counts a page of @space that a migration moved from tier @from to tier
 * @to, for its tenant and its client alike. The caller reads @from once,
 * so that both count the same tier even if the admin retiers the source
 * pool meanwhile.
 */
static inline void kvmem_space_moved(struct kvmem_space *space, u32 from,
				     u32 to)
{
	kvmem_tenant_moved(space->tenant, from, to);
	kvmem_client_moved(space->client, from, to);
}

struct kvmem_space *kvmem_space_get_by_id(unsigned long *id);
void kvmem_space_post(struct kvmem_space *space, u32 type);

/* ioctl.c */
long kvmem_ioctl(struct file *file, unsigned int cmd, unsigned long arg);

/* sysfs.c */
extern const struct attribute_group *kvmem_dev_groups[];
extern const struct kobj_type kvmem_pool_ktype;
extern const struct kobj_type kvmem_devpool_ktype;
int kvmem_sysfs_pools_add(struct kobject *parent);
void kvmem_sysfs_pools_del(void);
int kvmem_sysfs_pool_add(struct kvmem_pool *pool);
void kvmem_sysfs_pool_del(struct kvmem_pool *pool);

#endif /* KVMEM_H */
