// SPDX-License-Identifier: GPL-2.0
/*
 * Device pools: the memory of a discrete GPU, which user space creates
 * itself (CUDA's cuMemCreate), and whose frames kvmem hands out and
 * accounts like those of any pool. kvmem owns no memory for them: a
 * device pool is a count of frames, granted one at a time to the device
 * spaces made on it, charged to their tenants and clients, and given back
 * by RELEASE, DESTROY and close.
 *
 * The pool table: node pools are made at load, at indices 0 ..
 * kvmem_nr_node_pools - 1, and stay. Device pools take the slots after
 * them. kvmem_pools_lock serialises DEVICE_POOL_ADD, DEVICE_POOL_REMOVE
 * and the lookups that make device spaces. The struct of a device slot is
 * made by the first ADD that uses the slot and lives until unload; a
 * REMOVE only marks it removed (and the next ADD reuses it), so readers
 * that walk kvmem_pools[] below kvmem_nr_pools without a lock (quota
 * sums, fdinfo, the manager's reports) never see freed memory: at worst
 * a removed pool, which holds no frame.
 */
#include <linux/capability.h>
#include <linux/mm.h>
#include <linux/nospec.h>
#include <linux/slab.h>

#include "kvmem.h"
#include "validate.h"

DEFINE_MUTEX(kvmem_pools_lock);

static struct kvmem_pool *kvmem_devpool_alloc(unsigned int index)
{
	struct kvmem_pool *pool;

	pool = kzalloc(sizeof(*pool), GFP_KERNEL);
	if (!pool)
		return NULL;
	kobject_init(&pool->kobj, &kvmem_devpool_ktype);
	pool->index = index;
	pool->kind = KVMEM_POOL_KIND_DEVICE;
	pool->node = NUMA_NO_NODE;
	pool->removed = true;
	mutex_init(&pool->resize_lock);
	mutex_init(&pool->lock);
	kvmem_fa_init(&pool->fa);
	return pool;
}

/* Pool indices end after the highest pool in use. */
static void kvmem_pools_recount(void)
{
	unsigned int n = KVMEM_MAX_POOLS;

	lockdep_assert_held(&kvmem_pools_lock);
	while (n > kvmem_nr_node_pools &&
	       (!kvmem_pools[n - 1] || kvmem_pools[n - 1]->removed))
		n--;
	/* Pairs with kvmem_pools_count(): the slots below n are set. */
	smp_store_release(&kvmem_nr_pools, n);
}

/**
 * kvmem_devpool_add() - KVMEM_IOC_DEVICE_POOL_ADD
 * @client: the caller; its opener must have had the manager's privilege
 * @args: the request; @args->index gets the new pool's index
 *
 * The pool stays when @client's file is closed: it describes hardware,
 * not the registrar. It goes at DEVICE_POOL_REMOVE or unload.
 *
 * Return: 0, -EPERM, -EINVAL for a bad field, -ENOSPC when every pool
 * index is taken, -ENOMEM.
 */
int kvmem_devpool_add(struct kvmem_client *client,
		      struct kvmem_device_pool *args)
{
	struct kvmem_pool *pool;
	unsigned int i;
	int ret;

	if (!client->may_manage)
		return -EPERM;
	ret = kvmem_check_device_pool(args, PAGE_SIZE);
	if (ret)
		return ret;

	mutex_lock(&kvmem_pools_lock);
	for (i = kvmem_nr_node_pools; i < KVMEM_MAX_POOLS; i++)
		if (!kvmem_pools[i] || kvmem_pools[i]->removed)
			break;
	if (i == KVMEM_MAX_POOLS) {
		ret = -ENOSPC;
		goto out;
	}
	pool = kvmem_pools[i];
	if (!pool) {
		/* Not yet below kvmem_nr_pools: no reader looks at it. */
		pool = kvmem_devpool_alloc(i);
		if (!pool) {
			ret = -ENOMEM;
			goto out;
		}
		kvmem_pools[i] = pool;
	}
	mutex_lock(&pool->lock);
	pool->device = args->device;
	WRITE_ONCE(pool->tier, args->tier);
	WRITE_ONCE(pool->frame_size, args->frame_size);
	pool->dev_total = args->frames;
	WRITE_ONCE(pool->dev_free, args->frames);
	WRITE_ONCE(pool->low_watermark, 0);
	pool->low = false;
	WRITE_ONCE(pool->removed, false);
	mutex_unlock(&pool->lock);

	ret = kvmem_sysfs_pool_add(pool);
	if (ret) {
		WRITE_ONCE(pool->removed, true);
		goto out;
	}
	if (i >= kvmem_nr_pools)
		/* Pairs with kvmem_pools_count(): kvmem_pools[i] is set. */
		smp_store_release(&kvmem_nr_pools, i + 1);
	args->index = i;
out:
	mutex_unlock(&kvmem_pools_lock);
	return ret;
}

/**
 * kvmem_devpool_remove() - KVMEM_IOC_DEVICE_POOL_REMOVE
 * @client: the caller; its opener must have had the manager's privilege
 * @args: the request
 *
 * Return: 0, -EPERM, -EINVAL for a bad field or a node pool's index,
 * -ENOENT for an index with no pool, -EBUSY while a space is made on the
 * pool (a space holding frames of it included).
 */
int kvmem_devpool_remove(struct kvmem_client *client,
			 const struct kvmem_device_pool_remove *args)
{
	struct kvmem_pool *pool;
	unsigned int n;
	int ret;

	if (!client->may_manage)
		return -EPERM;
	ret = kvmem_check_device_pool_remove(args);
	if (ret)
		return ret;

	mutex_lock(&kvmem_pools_lock);
	n = kvmem_nr_pools;
	if (args->index >= n) {
		ret = -ENOENT;
		goto out;
	}
	pool = kvmem_pools[array_index_nospec(args->index, n)];
	if (pool->kind != KVMEM_POOL_KIND_DEVICE) {
		ret = -EINVAL;
		goto out;
	}
	if (pool->removed) {
		ret = -ENOENT;
		goto out;
	}
	/* Spaces are made under kvmem_pools_lock: none can appear now. */
	if (atomic_read(&pool->users)) {
		ret = -EBUSY;
		goto out;
	}
	mutex_lock(&pool->lock);
	/* A space gives its frames back before it stops using the pool. */
	if (WARN_ON_ONCE(pool->dev_free != pool->dev_total))
		ret = -EBUSY;
	else
		WRITE_ONCE(pool->removed, true);
	mutex_unlock(&pool->lock);
	if (!ret) {
		kvmem_sysfs_pool_del(pool);
		kvmem_pools_recount();
	}
out:
	mutex_unlock(&kvmem_pools_lock);
	return ret;
}

/**
 * kvmem_devpool_use() - the device pool a new device space is made on
 * @index: pool index from user space
 *
 * The pool cannot be removed until kvmem_devpool_unuse().
 *
 * Return: the pool, or NULL if @index names no device pool.
 */
struct kvmem_pool *kvmem_devpool_use(u32 index)
{
	struct kvmem_pool *pool = NULL;
	unsigned int n;

	mutex_lock(&kvmem_pools_lock);
	n = kvmem_nr_pools;
	if (index < n) {
		pool = kvmem_pools[array_index_nospec(index, n)];
		if (pool->kind != KVMEM_POOL_KIND_DEVICE || pool->removed)
			pool = NULL;
		else
			atomic_inc(&pool->users);
	}
	mutex_unlock(&kvmem_pools_lock);
	return pool;
}

/**
 * kvmem_devpool_unuse() - a device space no longer uses its pool
 * @pool: the pool from kvmem_devpool_use()
 *
 * The space holds no frame of @pool any more, and never looks at it again.
 */
void kvmem_devpool_unuse(struct kvmem_pool *pool)
{
	atomic_dec(&pool->users);
}

/**
 * kvmem_devpool_may_grant() - whether a grant would seem to succeed now
 * @pool: a device pool
 * @t: the tenant to charge
 *
 * A hint for waiters, read without locks.
 *
 * Return: true if @pool has a free frame and @t is below its quota.
 */
bool kvmem_devpool_may_grant(struct kvmem_pool *pool, struct kvmem_tenant *t)
{
	return READ_ONCE(pool->dev_free) &&
	       kvmem_tenant_below_quota(t, READ_ONCE(pool->tier));
}

/**
 * kvmem_devpool_grant() - grant one frame of a device pool
 * @pool: a device pool in use by the space the frame is for
 * @t: the space's tenant, charged within its quota of the pool's tier
 * @client: the space's owner, charged too
 *
 * Return: true if a frame was granted; false if the pool has no free
 * frame or @t has used up its quota of the pool's tier.
 */
bool kvmem_devpool_grant(struct kvmem_pool *pool, struct kvmem_tenant *t,
			 struct kvmem_client *client)
{
	u32 tier = READ_ONCE(pool->tier), free = 0;
	bool ok = false, report = false;

	mutex_lock(&t->lock);
	if (kvmem_tenant_used(t, tier) < READ_ONCE(t->quota[tier])) {
		mutex_lock(&pool->lock);
		if (pool->dev_free) {
			free = pool->dev_free - 1;
			WRITE_ONCE(pool->dev_free, free);
			ok = true;
			if (free < pool->low_watermark && !pool->low) {
				pool->low = true;
				report = true;
			}
		}
		mutex_unlock(&pool->lock);
		if (ok)
			WRITE_ONCE(t->frames[pool->index],
				   t->frames[pool->index] + 1);
	}
	mutex_unlock(&t->lock);
	if (ok)
		atomic_long_inc(&client->frames[pool->index]);
	if (report)
		kvmem_pool_report_low(pool, free);
	return ok;
}

/**
 * kvmem_devpool_ungrant() - give back a frame kvmem_devpool_grant() gave
 * @pool: the device pool
 * @t: the tenant charged for it
 * @client: the client charged for it
 */
void kvmem_devpool_ungrant(struct kvmem_pool *pool, struct kvmem_tenant *t,
			   struct kvmem_client *client)
{
	atomic_long_dec(&client->frames[pool->index]);
	mutex_lock(&t->lock);
	WARN_ON_ONCE(!t->frames[pool->index]);
	WRITE_ONCE(t->frames[pool->index], t->frames[pool->index] - 1);
	mutex_unlock(&t->lock);

	mutex_lock(&pool->lock);
	if (!WARN_ON_ONCE(pool->dev_free >= pool->dev_total))
		WRITE_ONCE(pool->dev_free, pool->dev_free + 1);
	if (pool->low && pool->dev_free >= pool->low_watermark)
		pool->low = false;
	mutex_unlock(&pool->lock);
	if (wq_has_sleeper(&kvmem_frame_wait))
		wake_up_all(&kvmem_frame_wait);
}

/**
 * kvmem_devpools_exit() - free every device pool slot, at unload
 *
 * No client is left, so no space uses a device pool. Their sysfs
 * directories are gone already (kvmem_sysfs_pools_del()).
 */
void kvmem_devpools_exit(void)
{
	unsigned int i;

	for (i = kvmem_nr_node_pools; i < KVMEM_MAX_POOLS; i++) {
		struct kvmem_pool *pool = kvmem_pools[i];

		if (!pool)
			continue;
		WARN_ON(atomic_read(&pool->users));
		kvmem_pools[i] = NULL;
		kobject_put(&pool->kobj);
	}
}
