// SPDX-License-Identifier: GPL-2.0
/*
 * Node pools: pinned frames taken from one NUMA node each, reserved ahead
 * of need so that a fault never waits for the page allocator's reclaim.
 *
 * Frames are allocated with __GFP_THISNODE (never from another node) and
 * without __GFP_MOVABLE (unmovable, hence pinned), as one high-order block
 * that is split into order-0 pages so that each page can be mapped and
 * reference-counted on its own.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/gfp.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/nodemask.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/topology.h>

#include "kvmem.h"
#include "validate.h"

struct kvmem_pool *kvmem_pools[KVMEM_MAX_POOLS];
unsigned int kvmem_nr_pools;
DECLARE_WAIT_QUEUE_HEAD(kvmem_frame_wait);

/* Wakes KVMEM_POLICY_WAIT waiters, if any: a frame may be free now. */
static void kvmem_frame_wake(void)
{
	if (wq_has_sleeper(&kvmem_frame_wait))
		wake_up_all(&kvmem_frame_wait);
}

/* Pool of each node with memory, indexed by node id. */
static struct kvmem_pool **kvmem_node_pools;

static struct page *kvmem_frame_alloc(int node)
{
	struct page *frame;

	frame = alloc_pages_node(node, GFP_HIGHUSER | __GFP_THISNODE |
				 __GFP_NORETRY | __GFP_NOWARN,
				 kvmem_frame_order);
	if (frame && kvmem_frame_order)
		split_page(frame, kvmem_frame_order);
	return frame;
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

/* Tells the manager that a pool's free frames fell below its watermark. */
static void kvmem_pool_report_low(struct kvmem_pool *pool, u32 free)
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

/* Makes room for one more slot. Called with pool->lock held. */
static int kvmem_pool_make_room(struct kvmem_pool *pool)
{
	u32 cap = pool->fa.cap ? pool->fa.cap * 2 : KVMEM_FA_BITS_PER_WORD;
	u32 words = kvmem_fa_words(cap);
	u64 *free, *present, *old_free, *old_present;
	struct page **frames;

	if (pool->fa.nr_present < pool->fa.cap)
		return 0;
	if (cap <= pool->fa.cap)
		return -ENOSPC;
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
	return 0;
}

/* Adds frames until the pool owns pool->reserve of them. */
static int kvmem_pool_grow(struct kvmem_pool *pool)
{
	for (;;) {
		struct page *frame;
		int64_t slot;
		int ret;

		mutex_lock(&pool->lock);
		ret = pool->fa.nr_present < pool->reserve;
		mutex_unlock(&pool->lock);
		if (!ret)
			return 0;

		frame = kvmem_frame_alloc(pool->node);
		if (!frame)
			return -ENOMEM;

		mutex_lock(&pool->lock);
		if (pool->fa.nr_present >= pool->reserve) {
			mutex_unlock(&pool->lock);
			kvmem_frame_free(frame);
			return 0;
		}
		ret = kvmem_pool_make_room(pool);
		if (ret) {
			mutex_unlock(&pool->lock);
			kvmem_frame_free(frame);
			return ret;
		}
		slot = kvmem_fa_add(&pool->fa);
		pool->frames[slot] = frame;
		set_page_private(frame, slot);
		kvmem_pool_rearm(pool);
		mutex_unlock(&pool->lock);

		kvmem_frame_wake();
		cond_resched();
	}
}

/* Gives free frames back to the kernel until the pool is at its reserve. */
static void kvmem_pool_shrink(struct kvmem_pool *pool)
{
	u32 left;

	mutex_lock(&pool->lock);
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
 * kvmem_pool_get_frame() - take a free frame of a pool
 * @pool: the pool
 * @zero: zero it; only a caller that overwrites all of it at once, before
 *	anyone can see it, passes false
 *
 * A frame is zeroed here, before any space can see it, so no client can
 * read what a previous one left.
 *
 * Return: the frame's first page, or NULL if the pool has no free frame.
 */
struct page *kvmem_pool_get_frame(struct kvmem_pool *pool, bool zero)
{
	struct page *frame = NULL;
	bool report = false;
	u32 free;
	int64_t slot;

	mutex_lock(&pool->lock);
	slot = kvmem_fa_alloc(&pool->fa);
	if (slot >= 0)
		frame = pool->frames[slot];
	free = pool->fa.nr_free;
	if (free < pool->low_watermark && !pool->low) {
		pool->low = true;
		report = true;
	}
	mutex_unlock(&pool->lock);
	if (report)
		kvmem_pool_report_low(pool, free);

	if (frame) {
		kvmem_frame_clean(frame);
		if (zero)
			kvmem_frame_zero(frame);
	}
	return frame;
}

/**
 * kvmem_frame_pool() - pool a frame belongs to
 * @frame: first page of a frame taken with kvmem_pool_get_frame()
 *
 * Return: the pool of the frame's node.
 */
struct kvmem_pool *kvmem_frame_pool(struct page *frame)
{
	return kvmem_node_pools[page_to_nid(frame)];
}

/**
 * kvmem_pool_put_frame() - give a frame back to its pool
 * @frame: first page of a frame taken with kvmem_pool_get_frame(), no
 *	longer mapped anywhere
 *
 * The frame goes back to the pool's free frames, unless the pool is above
 * its reserve (the frame then goes back to the kernel) or someone else
 * still holds one of its pages (the frame then leaves the pool for good,
 * freed by the kernel when the last holder lets go, and the pool takes a
 * fresh frame in its place).
 */
void kvmem_pool_put_frame(struct page *frame)
{
	struct kvmem_pool *pool = kvmem_frame_pool(frame);
	u32 slot = page_private(frame);
	bool shared = kvmem_frame_shared(frame);
	bool leave;

	mutex_lock(&pool->lock);
	leave = shared || pool->fa.nr_present > pool->reserve;
	if (leave) {
		WARN_ON_ONCE(kvmem_fa_remove(&pool->fa, slot));
		pool->frames[slot] = NULL;
	} else {
		WARN_ON_ONCE(kvmem_fa_free(&pool->fa, slot));
		kvmem_pool_rearm(pool);
	}
	mutex_unlock(&pool->lock);

	if (leave) {
		kvmem_frame_free(frame);
		if (shared && kvmem_pool_grow(pool))
			pr_notice("pool%u (node %d): no memory to replace a frame still referenced elsewhere\n",
				  pool->index, pool->node);
	}
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
	*total = pool->fa.nr_present;
	*free = pool->fa.nr_free;
	mutex_unlock(&pool->lock);
}

/**
 * kvmem_tier_has_pool() - whether some pool has a tier
 * @tier: KVMEM_TIER_*
 *
 * Return: true if a pool is of @tier now.
 */
bool kvmem_tier_has_pool(u32 tier)
{
	unsigned int i;

	for (i = 0; i < kvmem_nr_pools; i++)
		if (READ_ONCE(kvmem_pools[i]->tier) == tier)
			return true;
	return false;
}

/**
 * kvmem_tier_has_free() - whether a pool of a tier has a free frame
 * @tier: KVMEM_TIER_*
 *
 * A hint for waiters, read without the pools' locks.
 *
 * Return: true if some pool of @tier seems to have a free frame.
 */
bool kvmem_tier_has_free(u32 tier)
{
	unsigned int i;

	for (i = 0; i < kvmem_nr_pools; i++) {
		struct kvmem_pool *pool = kvmem_pools[i];

		if (READ_ONCE(pool->tier) == tier && READ_ONCE(pool->fa.nr_free))
			return true;
	}
	return false;
}

/**
 * kvmem_tier_get_frame() - take a frame from a pool of a tier
 * @tier: KVMEM_TIER_*
 * @zero: as for kvmem_pool_get_frame()
 *
 * Tries the tier's pools nearest to the current CPU's node first.
 *
 * Return: the frame's first page, or NULL if no pool of @tier has one.
 */
struct page *kvmem_tier_get_frame(u32 tier, bool zero)
{
	int here = numa_node_id();
	u64 tried = 0;

	for (;;) {
		struct kvmem_pool *best = NULL;
		struct page *frame;
		int best_dist = 0;
		unsigned int i;

		for (i = 0; i < kvmem_nr_pools; i++) {
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
			return NULL;
		tried |= BIT_ULL(best->index);
		frame = kvmem_pool_get_frame(best, zero);
		if (frame)
			return frame;
	}
}

static void kvmem_pool_destroy(struct kvmem_pool *pool)
{
	int64_t slot;

	mutex_lock(&pool->lock);
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
	pool->node = node;
	pool->tier = tier;
	mutex_init(&pool->resize_lock);
	mutex_init(&pool->lock);
	kvmem_fa_init(&pool->fa);
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
	return 0;

err_pools:
	kvmem_pools_exit();
	return -ENOMEM;
}

/**
 * kvmem_pools_exit() - give every frame back to the kernel, free the pools
 */
void kvmem_pools_exit(void)
{
	while (kvmem_nr_pools)
		kvmem_pool_destroy(kvmem_pools[--kvmem_nr_pools]);
	kfree(kvmem_node_pools);
	kvmem_node_pools = NULL;
}
