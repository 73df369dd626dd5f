// SPDX-License-Identifier: GPL-2.0
/*
 * Node pools: pinned frames taken from one NUMA node each, reserved ahead
 * of need so that a fault never waits for the page allocator's reclaim.
 *
 * Frames are allocated with __GFP_THISNODE (never from another node) and
 * without __GFP_MOVABLE (unmovable, hence pinned), in high-order blocks of
 * several frames that are split into order-0 pages so that each page can
 * be mapped and reference-counted on its own. A block's frames get
 * consecutive slots, and frames are handed out in runs of consecutive
 * slots, so that what a space gets at once is physically contiguous as far
 * as the blocks go.
 *
 * A frame that its space gives back while someone else still holds one of
 * its pages (a pipe it was vmspliced into, a get_user_pages() pin) is an
 * orphan: it keeps its slot, in use, and is not replaced, until a reaper
 * finds it held by kvmem alone and frees the slot again. So such frames
 * pin no more than the pool's reserve, and a client that makes orphans
 * runs out of frames (-ENOMEM) instead of pinning memory no one counts.
 *
 * A client opened in a memory cgroup other than the root gets frames that
 * are allocated for it, charged to its cgroup (__GFP_ACCOUNT under
 * set_active_memcg()), and freed when it gives them back: they have no
 * slot, and an orphan among them stays charged until its last holder lets
 * go. See "Memory cgroups" in Documentation/design.md.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/gfp.h>
#include <linux/highmem.h>
#include <linux/memcontrol.h>
#include <linux/mm.h>
#include <linux/nodemask.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/topology.h>

#include "compat.h"
#include "kvmem.h"
#include "validate.h"

/*
 * Order of the largest block a pool grows by: 2 MiB with 4 KiB pages, a
 * PMD's worth, which the page allocator usually has without compaction,
 * and long enough that a migration copies in long contiguous runs.
 */
#define KVMEM_CHUNK_ORDER	min(9, KVMEM_MAX_PAGE_ORDER)

/* page_private() of a frame charged to a memory cgroup: it has no slot. */
#define KVMEM_FRAME_CHARGED	BIT(BITS_PER_LONG - 1)

/* How often the reaper looks for orphans that no one else holds now. */
#define KVMEM_ORPHAN_POLL	(HZ / 10)

static void kvmem_orphans_reap(struct work_struct *work);
static DECLARE_DELAYED_WORK(kvmem_orphan_work, kvmem_orphans_reap);

struct kvmem_pool *kvmem_pools[KVMEM_MAX_POOLS];
unsigned int kvmem_nr_pools;
/* Node pools are pools 0 .. kvmem_nr_node_pools - 1, set at load. */
unsigned int kvmem_nr_node_pools;
DECLARE_WAIT_QUEUE_HEAD(kvmem_frame_wait);

/* Wakes KVMEM_POLICY_WAIT waiters, if any: a frame may be free now. */
static void kvmem_frame_wake(void)
{
	if (wq_has_sleeper(&kvmem_frame_wait))
		wake_up_all(&kvmem_frame_wait);
}

/* Pool of each node with memory, indexed by node id. */
static struct kvmem_pool **kvmem_node_pools;

/*
 * Allocates a physically contiguous block of up to @max frames on @node:
 * the largest power of two the node can give without reclaim, down to a
 * single frame. The block is split into order-0 pages so that each page
 * can be mapped and reference-counted on its own. @gfp adds flags, such as
 * __GFP_ACCOUNT.
 *
 * Return: the block's first page, its frame count in *@n; or NULL.
 */
static struct page *kvmem_chunk_alloc(int node, u32 max, u32 *n, gfp_t gfp)
{
	unsigned int top = max_t(unsigned int, KVMEM_CHUNK_ORDER,
				 kvmem_frame_order);
	unsigned int order = min(top, kvmem_frame_order + ilog2(max));
	struct page *chunk;

	for (;;) {
		chunk = alloc_pages_node(node, GFP_HIGHUSER | __GFP_THISNODE |
					 __GFP_NORETRY | __GFP_NOWARN | gfp,
					 order);
		if (chunk)
			break;
		if (order == kvmem_frame_order)
			return NULL;
		order--;
	}
	if (order)
		split_page(chunk, order);
	*n = 1U << (order - kvmem_frame_order);
	return chunk;
}

/* Drops kvmem's reference on each page; frees them unless pinned elsewhere. */
static void kvmem_frame_free(struct page *frame)
{
	unsigned long i;

	set_page_private(frame, 0);
	kvmem_frame_clean(frame);
	for (i = 0; i < kvmem_frame_pages(); i++)
		put_page(frame + i);
}

/**
 * kvmem_frame_shared() - whether anyone but kvmem holds a page of a frame
 * @frame: first page of a frame that is mapped nowhere
 *
 * Such as a get_user_pages() pin taken through a mapping that has since
 * been zapped. Such a frame must never be handed to another space, nor
 * moved: its holder may still write to it.
 *
 * Return: true if a page of the frame has a reference besides kvmem's.
 */
bool kvmem_frame_shared(struct page *frame)
{
	unsigned long i;

	for (i = 0; i < kvmem_frame_pages(); i++)
		if (page_count(frame + i) != 1)
			return true;
	return false;
}

/* Whether the kernel found a memory error in a page of the frame. */
static bool kvmem_frame_poisoned(struct page *frame)
{
	unsigned long i;

	for (i = 0; i < kvmem_frame_pages(); i++)
		if (PageHWPoison(frame + i))
			return true;
	return false;
}

/**
 * kvmem_frame_zero() - zero every page of a frame
 * @frame: first page of a frame no one else can see yet
 */
void kvmem_frame_zero(struct page *frame)
{
	unsigned long i;

	for (i = 0; i < kvmem_frame_pages(); i++)
		clear_highpage(frame + i);
}

/**
 * kvmem_pool_report_low() - tell the manager a pool is low on free frames
 * @pool: a node or device pool whose free frames fell below its watermark
 * @free: its free frames now
 */
void kvmem_pool_report_low(struct kvmem_pool *pool, u32 free)
{
	struct kvmem_event ev = {
		.type = KVMEM_EVENT_POOL_LOW,
		.id = pool->index,
		.cookie = READ_ONCE(pool->low_watermark),
		.pages = free,
	};

	kvmem_manager_post(&ev);
}

/* Re-arms the low-watermark event once the pool has room again. */
static void kvmem_pool_rearm(struct kvmem_pool *pool)
{
	lockdep_assert_held(&pool->lock);
	if (pool->low && pool->fa.nr_free >= pool->low_watermark)
		pool->low = false;
}

/*
 * Gives the orphans of @pool that kvmem alone holds now their slots back:
 * free frames again, or back to the kernel if the pool is above its
 * reserve. Called with pool->lock held.
 *
 * Return: the orphans reaped.
 */
static u32 kvmem_pool_reap(struct kvmem_pool *pool)
{
	struct page *frame;
	unsigned long slot;
	u32 n = 0;

	lockdep_assert_held(&pool->lock);
	xa_for_each(&pool->orphans, slot, frame) {
		/* Unmapped and unpinned: no one can take a new reference. */
		if (kvmem_frame_shared(frame))
			continue;
		xa_erase(&pool->orphans, slot);
		pool->nr_orphans--;
		n++;
		if (pool->fa.nr_present > pool->reserve) {
			WARN_ON_ONCE(kvmem_fa_remove(&pool->fa, slot));
			pool->frames[slot] = NULL;
			kvmem_frame_free(frame);
		} else {
			WARN_ON_ONCE(kvmem_fa_free(&pool->fa, slot));
		}
	}
	if (n)
		kvmem_pool_rearm(pool);
	return n;
}

/* Reaps every node pool's orphans; runs again while any are left. */
static void kvmem_orphans_reap(struct work_struct *work)
{
	bool left = false;
	unsigned int i;
	u32 n = 0;

	for (i = 0; i < kvmem_nr_node_pools; i++) {
		struct kvmem_pool *pool = kvmem_pools[i];

		mutex_lock(&pool->lock);
		n += kvmem_pool_reap(pool);
		left |= pool->nr_orphans != 0;
		mutex_unlock(&pool->lock);
		cond_resched();
	}
	if (n)
		kvmem_frame_wake();
	if (left)
		schedule_delayed_work(&kvmem_orphan_work, KVMEM_ORPHAN_POLL);
}

/**
 * kvmem_orphans_stop() - stop the orphan reaper, before the pools go
 */
void kvmem_orphans_stop(void)
{
	cancel_delayed_work_sync(&kvmem_orphan_work);
}

/*
 * Claims @n consecutive empty slots, enlarging the slot arrays when no
 * such run is left. Called with pool->lock held.
 *
 * Return: the first slot, or -ENOMEM / -ENOSPC.
 */
static int64_t kvmem_pool_add_slots(struct kvmem_pool *pool, u32 n)
{
	u64 *free, *present, *old_free, *old_present;
	int64_t slot = kvmem_fa_add_run(&pool->fa, n);
	struct page **frames;
	u32 cap, words;

	if (slot >= 0)
		return slot;
	/* The new top [old cap, cap) is empty and holds the run. */
	cap = pool->fa.cap ? pool->fa.cap : KVMEM_FA_BITS_PER_WORD;
	while (cap < pool->fa.cap + n && cap <= U32_MAX / 2)
		cap *= 2;
	if (cap < pool->fa.cap + n)
		return -ENOSPC;
	words = kvmem_fa_words(cap);
	free = kvcalloc(words, sizeof(*free), GFP_KERNEL);
	present = kvcalloc(words, sizeof(*present), GFP_KERNEL);
	frames = kvcalloc(cap, sizeof(*frames), GFP_KERNEL);
	if (!free || !present || !frames) {
		kvfree(free);
		kvfree(present);
		kvfree(frames);
		return -ENOMEM;
	}
	if (pool->fa.cap)
		memcpy(frames, pool->frames, pool->fa.cap * sizeof(*frames));
	kvmem_fa_grow(&pool->fa, free, present, cap, &old_free, &old_present);
	kvfree(old_free);
	kvfree(old_present);
	kvfree(pool->frames);
	pool->frames = frames;
	return kvmem_fa_add_run(&pool->fa, n);
}

/*
 * Adds frames until the pool owns pool->reserve of them, a contiguous
 * block at a time, in consecutive slots (see frame_alloc.h).
 */
static int kvmem_pool_grow(struct kvmem_pool *pool)
{
	for (;;) {
		u32 i, n, keep, want;
		struct page *chunk;
		int64_t slot = 0;

		mutex_lock(&pool->lock);
		want = pool->reserve - min(pool->reserve, pool->fa.nr_present);
		mutex_unlock(&pool->lock);
		if (!want)
			return 0;

		chunk = kvmem_chunk_alloc(pool->node, want, &n, 0);
		if (!chunk)
			return -ENOMEM;

		mutex_lock(&pool->lock);
		/* A put_frame() may have grown the pool meanwhile. */
		keep = min(n, pool->reserve -
			      min(pool->reserve, pool->fa.nr_present));
		if (keep)
			slot = kvmem_pool_add_slots(pool, keep);
		if (slot < 0)
			keep = 0;
		for (i = 0; i < keep; i++) {
			struct page *frame = chunk + i * kvmem_frame_pages();

			pool->frames[slot + i] = frame;
			set_page_private(frame, slot + i);
		}
		kvmem_pool_rearm(pool);
		mutex_unlock(&pool->lock);

		for (i = keep; i < n; i++)
			kvmem_frame_free(chunk + i * kvmem_frame_pages());
		if (slot < 0)
			return slot;
		if (!keep)
			return 0;
		kvmem_frame_wake();
		cond_resched();
	}
}

/* Gives free frames back to the kernel until the pool is at its reserve. */
static void kvmem_pool_shrink(struct kvmem_pool *pool)
{
	u32 left;

	mutex_lock(&pool->lock);
	kvmem_pool_reap(pool);
	while (pool->fa.nr_present > pool->reserve) {
		int64_t slot = kvmem_fa_take_free(&pool->fa);

		if (slot < 0)
			break;
		kvmem_frame_free(pool->frames[slot]);
		pool->frames[slot] = NULL;
	}
	left = pool->fa.nr_present - min(pool->fa.nr_present, pool->reserve);
	mutex_unlock(&pool->lock);

	if (left)
		pr_info("pool%u (node %d): %u frames above the reserve are in use; they go back to the kernel when released\n",
			pool->index, pool->node, left);
}

/**
 * kvmem_pool_resize() - set the number of frames a pool should own
 * @pool: the pool
 * @target: frames wanted
 *
 * Growing allocates frames from the pool's node now. Shrinking frees the
 * free frames now; frames in use beyond @target leave the pool when they
 * are released. Concurrent resizes are serialised.
 *
 * Return: 0, or -ENOMEM if the node could not give enough frames; the
 * reserve is then lowered to what the pool owns.
 */
int kvmem_pool_resize(struct kvmem_pool *pool, u32 target)
{
	int ret;

	mutex_lock(&pool->resize_lock);
	mutex_lock(&pool->lock);
	pool->reserve = target;
	mutex_unlock(&pool->lock);

	ret = kvmem_pool_grow(pool);
	if (ret) {
		mutex_lock(&pool->lock);
		pool->reserve = pool->fa.nr_present;
		mutex_unlock(&pool->lock);
	}
	kvmem_pool_shrink(pool);
	mutex_unlock(&pool->resize_lock);
	return ret;
}

/**
 * kvmem_pool_set_low_watermark() - set when the manager hears of a pool
 * @pool: the pool
 * @frames: free frames below which the pool counts as low; 0: never
 */
void kvmem_pool_set_low_watermark(struct kvmem_pool *pool, u32 frames)
{
	mutex_lock(&pool->lock);
	WRITE_ONCE(pool->low_watermark, frames);
	pool->low = false;
	mutex_unlock(&pool->lock);
}

/**
 * kvmem_frame_dirty() - whether a frame may differ from its clean copy
 * @frame: first page of a frame whose mappings have just been zapped
 *
 * Return: true if a page of the frame was written through a mapping since
 * the last kvmem_frame_clean() (the zap carried the PTE's dirty bit into
 * PageDirty; get_user_pages() users set it themselves), or if someone else
 * holds a page of it and might still write it, such as a device.
 */
bool kvmem_frame_dirty(struct page *frame)
{
	unsigned long i;

	if (kvmem_frame_shared(frame))
		return true;
	for (i = 0; i < kvmem_frame_pages(); i++)
		if (PageDirty(frame + i))
			return true;
	return false;
}

/**
 * kvmem_frame_clean() - start tracking writes to a frame afresh
 * @frame: first page of a frame that is mapped nowhere
 */
void kvmem_frame_clean(struct page *frame)
{
	unsigned long i;

	for (i = 0; i < kvmem_frame_pages(); i++)
		ClearPageDirty(frame + i);
}

/**
 * kvmem_pool_get_run() - take free frames of a pool, contiguous if it can
 * @pool: the pool
 * @want: frames wanted, at least 1
 * @frames: returns the frames taken, in slot order
 *
 * Takes the first run of @want free frames in consecutive slots, else the
 * longest run there is (see kvmem_fa_alloc_run()). The frames are not
 * zeroed: the caller zeroes or overwrites them before anyone can see them,
 * outside any lock, so that no client can read what a previous one left.
 *
 * Return: frames taken, 0 .. @want; 0 if the pool has no free frame.
 */
u32 kvmem_pool_get_run(struct kvmem_pool *pool, u32 want, struct page **frames)
{
	bool report = false;
	int64_t slot;
	u32 i, n = 0, free;

	mutex_lock(&pool->lock);
	if (pool->fa.nr_free < want && pool->nr_orphans)
		kvmem_pool_reap(pool);
	slot = kvmem_fa_alloc_run(&pool->fa, want, &n);
	if (slot < 0)
		n = 0;
	for (i = 0; i < n; i++)
		frames[i] = pool->frames[slot + i];
	free = pool->fa.nr_free;
	if (free < pool->low_watermark && !pool->low) {
		pool->low = true;
		report = true;
	}
	mutex_unlock(&pool->lock);
	if (report)
		kvmem_pool_report_low(pool, free);

	for (i = 0; i < n; i++)
		kvmem_frame_clean(frames[i]);
	return n;
}

/*
 * Allocates up to @want frames on @pool's node, charged to @memcg, for
 * kvmem_tier_get_run(). Not zeroed, as kvmem_pool_get_run().
 */
static u32 kvmem_pool_get_charged(struct kvmem_pool *pool, u32 want,
				  struct page **frames,
				  struct mem_cgroup *memcg)
{
	struct mem_cgroup *old = set_active_memcg(memcg);
	struct page *chunk;
	u32 i, n;

	chunk = kvmem_chunk_alloc(pool->node, want, &n, __GFP_ACCOUNT);
	set_active_memcg(old);
	if (!chunk)
		return 0;
	for (i = 0; i < n; i++) {
		frames[i] = chunk + i * kvmem_frame_pages();
		set_page_private(frames[i], KVMEM_FRAME_CHARGED);
	}
	atomic_add(n, &pool->nr_charged);
	return n;
}

/**
 * kvmem_frame_pool() - pool a frame belongs to
 * @frame: first page of a frame taken with kvmem_pool_get_run()
 *
 * Return: the pool of the frame's node.
 */
struct kvmem_pool *kvmem_frame_pool(struct page *frame)
{
	return kvmem_node_pools[page_to_nid(frame)];
}

/**
 * kvmem_pool_put_frame() - give a frame back to its pool
 * @frame: first page of a frame taken with kvmem_pool_get_run(), no
 *	longer mapped anywhere
 *
 * The frame goes back to the pool's free frames, unless the pool is above
 * its reserve (the frame then goes back to the kernel) or someone else
 * still holds one of its pages (the frame is then an orphan: it keeps its
 * slot, and is not replaced, until the last holder lets go). A frame
 * charged to a memory cgroup goes back to the kernel, which uncharges it
 * once no one else holds it. A frame with a memory error (PageHWPoison)
 * leaves the pool, and the pool takes a good one in its place.
 */
void kvmem_pool_put_frame(struct page *frame)
{
	struct kvmem_pool *pool = kvmem_frame_pool(frame);
	unsigned long slot = page_private(frame);
	bool shared = kvmem_frame_shared(frame);
	bool poisoned = kvmem_frame_poisoned(frame);
	bool leave;

	if (slot & KVMEM_FRAME_CHARGED) {
		atomic_dec(&pool->nr_charged);
		kvmem_frame_free(frame);
		kvmem_frame_wake();
		return;
	}
	mutex_lock(&pool->lock);
	if (shared && !poisoned &&
	    !xa_err(xa_store(&pool->orphans, slot, frame, GFP_KERNEL))) {
		pool->nr_orphans++;
		mutex_unlock(&pool->lock);
		schedule_delayed_work(&kvmem_orphan_work, KVMEM_ORPHAN_POLL);
		return;
	}
	/* An orphan that cannot be tracked leaves the pool, not replaced. */
	leave = shared || poisoned || pool->fa.nr_present > pool->reserve;
	if (leave) {
		WARN_ON_ONCE(kvmem_fa_remove(&pool->fa, slot));
		pool->frames[slot] = NULL;
	} else {
		WARN_ON_ONCE(kvmem_fa_free(&pool->fa, slot));
		kvmem_pool_rearm(pool);
	}
	mutex_unlock(&pool->lock);

	if (leave)
		kvmem_frame_free(frame);
	if (poisoned) {
		/* The kernel keeps the poisoned page; a good one replaces it. */
		pr_warn_ratelimited("pool%u (node %d): a frame with a memory error leaves the pool\n",
				    pool->index, pool->node);
		if (kvmem_pool_grow(pool))
			pr_notice_ratelimited("pool%u (node %d): no memory to replace it\n",
					      pool->index, pool->node);
	} else if (shared)
		pr_notice_ratelimited("pool%u (node %d): no memory to track a frame still referenced elsewhere; the pool is a frame short until its reserve is set again\n",
				      pool->index, pool->node);
	kvmem_frame_wake();
}

/**
 * kvmem_pool_counts() - frames a pool owns and how many are free
 * @pool: the pool
 * @total: returns the frames owned
 * @free: returns the free frames
 */
void kvmem_pool_counts(struct kvmem_pool *pool, u32 *total, u32 *free)
{
	mutex_lock(&pool->lock);
	if (pool->kind == KVMEM_POOL_KIND_DEVICE) {
		*total = pool->dev_total;
		*free = pool->dev_free;
	} else {
		*total = pool->fa.nr_present;
		*free = pool->fa.nr_free;
	}
	mutex_unlock(&pool->lock);
}

/**
 * kvmem_tier_has_pool() - whether some node pool has a tier
 * @tier: KVMEM_TIER_*
 *
 * Device pools do not count: their frames are granted only to the device
 * spaces made on them.
 *
 * Return: true if a node pool is of @tier now.
 */
bool kvmem_tier_has_pool(u32 tier)
{
	unsigned int i;

	for (i = 0; i < kvmem_nr_node_pools; i++)
		if (READ_ONCE(kvmem_pools[i]->tier) == tier)
			return true;
	return false;
}

/**
 * kvmem_tier_has_free() - whether a node pool of a tier has a free frame
 * @tier: KVMEM_TIER_*
 *
 * A hint for waiters, read without the pools' locks.
 *
 * Return: true if some node pool of @tier seems to have a free frame.
 */
bool kvmem_tier_has_free(u32 tier)
{
	unsigned int i;

	for (i = 0; i < kvmem_nr_node_pools; i++) {
		struct kvmem_pool *pool = kvmem_pools[i];

		if (READ_ONCE(pool->tier) == tier && READ_ONCE(pool->fa.nr_free))
			return true;
	}
	return false;
}

/**
 * kvmem_tier_get_run() - take free frames from one node pool of a tier
 * @tier: KVMEM_TIER_*
 * @want: frames wanted, at least 1
 * @frames: returns the frames taken
 * @memcg: a memory cgroup to charge the frames to, or NULL
 *
 * Tries the tier's pools nearest to the current CPU's node first, and
 * takes from the first that has a free frame, as kvmem_pool_get_run()
 * does; all frames returned come from that one pool. With @memcg, the
 * frames are allocated from the pool's node and charged to @memcg
 * instead, with no reclaim beyond one attempt and no OOM kill: none when
 * @memcg is at its memory.max.
 *
 * Return: frames taken, 0 .. @want; 0 if no pool of @tier has one.
 */
u32 kvmem_tier_get_run(u32 tier, u32 want, struct page **frames,
		       struct mem_cgroup *memcg)
{
	int here = numa_node_id();
	u64 tried = 0;

	for (;;) {
		struct kvmem_pool *best = NULL;
		int best_dist = 0;
		unsigned int i;
		u32 n;

		for (i = 0; i < kvmem_nr_node_pools; i++) {
			struct kvmem_pool *pool = kvmem_pools[i];
			int dist;

			if ((tried & BIT_ULL(i)) || READ_ONCE(pool->tier) != tier)
				continue;
			dist = node_distance(here, pool->node);
			if (!best || dist < best_dist) {
				best = pool;
				best_dist = dist;
			}
		}
		if (!best)
			return 0;
		tried |= BIT_ULL(best->index);
		n = memcg ? kvmem_pool_get_charged(best, want, frames, memcg) :
			    kvmem_pool_get_run(best, want, frames);
		if (n)
			return n;
	}
}

static void kvmem_pool_destroy(struct kvmem_pool *pool)
{
	struct page *frame;
	unsigned long i;
	int64_t slot;

	mutex_lock(&pool->lock);
	/* What pipes still hold of orphans, the kernel frees after them. */
	xa_for_each(&pool->orphans, i, frame) {
		WARN_ON_ONCE(kvmem_fa_remove(&pool->fa, i));
		pool->frames[i] = NULL;
		kvmem_frame_free(frame);
	}
	xa_destroy(&pool->orphans);
	pool->nr_orphans = 0;
	while ((slot = kvmem_fa_take_free(&pool->fa)) >= 0) {
		kvmem_frame_free(pool->frames[slot]);
		pool->frames[slot] = NULL;
	}
	/* No client is left, so no frame can be in use. */
	WARN_ON(pool->fa.nr_present);
	mutex_unlock(&pool->lock);
	kobject_put(&pool->kobj);
}

/**
 * kvmem_pool_free() - free a pool's memory once its kobject is gone
 * @pool: a pool that owns no frame
 */
void kvmem_pool_free(struct kvmem_pool *pool)
{
	kvfree(pool->fa.free);
	kvfree(pool->fa.present);
	kvfree(pool->frames);
	mutex_destroy(&pool->lock);
	mutex_destroy(&pool->resize_lock);
	kfree(pool);
}

static struct kvmem_pool *kvmem_pool_create(unsigned int index, int node,
					    unsigned int tier)
{
	struct kvmem_pool *pool;

	pool = kzalloc_node(sizeof(*pool), GFP_KERNEL, node);
	if (!pool)
		return NULL;
	kobject_init(&pool->kobj, &kvmem_pool_ktype);
	pool->index = index;
	pool->kind = KVMEM_POOL_KIND_NODE;
	pool->node = node;
	pool->tier = tier;
	pool->frame_size = kvmem_page_size();
	mutex_init(&pool->resize_lock);
	mutex_init(&pool->lock);
	kvmem_fa_init(&pool->fa);
	xa_init(&pool->orphans);
	return pool;
}

/**
 * kvmem_pools_init() - make a pool for every node with memory
 * @reserve_frames: frames to reserve in each pool now
 * @tiers: tier of each node id, or -1 for the default: dram for a node
 *	with CPUs, cxl for a CPU-less one
 *
 * A node that cannot give @reserve_frames keeps what it gave; its reserve
 * says how much that was.
 *
 * Return: 0 or -ENOMEM.
 */
int kvmem_pools_init(unsigned int reserve_frames, const int *tiers)
{
	int node;

	kvmem_node_pools = kcalloc(nr_node_ids, sizeof(*kvmem_node_pools),
				   GFP_KERNEL);
	if (!kvmem_node_pools)
		return -ENOMEM;

	for_each_node_state(node, N_MEMORY) {
		unsigned int tier = tiers[node] >= 0 ? tiers[node] :
				    node_state(node, N_CPU) ? KVMEM_TIER_DRAM :
				    KVMEM_TIER_CXL;
		struct kvmem_pool *pool;

		if (kvmem_nr_pools == KVMEM_MAX_POOLS) {
			pr_notice("more than %u nodes with memory; node %d and above get no pool\n",
				  KVMEM_MAX_POOLS, node);
			break;
		}
		pool = kvmem_pool_create(kvmem_nr_pools, node, tier);
		if (!pool)
			goto err_pools;
		kvmem_pools[kvmem_nr_pools++] = pool;
		kvmem_node_pools[node] = pool;
		if (kvmem_pool_resize(pool, reserve_frames))
			pr_notice("pool%u (node %d): reserved %u of %u frames\n",
				  pool->index, node, pool->reserve,
				  reserve_frames);
	}
	kvmem_nr_node_pools = kvmem_nr_pools;
	return 0;

err_pools:
	kvmem_nr_node_pools = kvmem_nr_pools;
	kvmem_pools_exit();
	return -ENOMEM;
}

/**
 * kvmem_pools_exit() - give every frame back to the kernel, free the pools
 */
void kvmem_pools_exit(void)
{
	kvmem_orphans_stop();
	kvmem_devpools_exit();
	kvmem_nr_pools = kvmem_nr_node_pools;
	while (kvmem_nr_pools)
		kvmem_pool_destroy(kvmem_pools[--kvmem_nr_pools]);
	kvmem_nr_node_pools = 0;
	kfree(kvmem_node_pools);
	kvmem_node_pools = NULL;
}
