// SPDX-License-Identifier: GPL-2.0
/*
 * The ioctls of /dev/kvmem, dispatched through one table.
 *
 * The dispatcher copies the argument in before the handler runs and out
 * after it returns, so that no handler touches user memory while it holds
 * a lock (a user pointer may point into a kvmem mapping). Only QUERY's
 * residency array is copied by its handler, in chunks, between locks.
 */
#include <linux/build_bug.h>
#include <linux/fs.h>
#include <linux/nospec.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "client.h"
#include "kvmem.h"
#include "validate.h"

/* Largest argument struct, for the on-stack copy. */
#define KVMEM_IOCTL_MAX_SIZE	128

/* Residency entries copied out per chunk of a QUERY. */
#define KVMEM_QUERY_CHUNK	(PAGE_SIZE / sizeof(struct kvmem_residency))

typedef int (*kvmem_ioctl_fn)(struct kvmem_client *client, void *arg);
typedef void (*kvmem_ioctl_undo_fn)(struct kvmem_client *client, void *arg);

/**
 * struct kvmem_ioctl_desc - one ioctl
 * @cmd: the command, with the size this kernel knows
 * @min_size: size of the struct in ABI version 1; smaller is -EINVAL
 * @fn: handler, given the argument copied into kernel memory
 * @undo: for a handler that creates something, undoes it when its result
 *	cannot be copied back (the caller would never learn the handle)
 */
struct kvmem_ioctl_desc {
	unsigned int cmd;
	unsigned int min_size;
	kvmem_ioctl_fn fn;
	kvmem_ioctl_undo_fn undo;
};

static int kvmem_ioctl_get_info(struct kvmem_client *client, void *arg)
{
	struct kvmem_info *info = arg;

	info->abi_version = KVMEM_ABI_VERSION;
	info->npools = kvmem_pools_count();
	/* What a version-1 LIST caller sizes its pools array by. */
	WRITE_ONCE(client->info_npools, info->npools);
	info->features = KVMEM_FEATURE_NODE_POOLS | KVMEM_FEATURE_MIGRATE |
			 KVMEM_FEATURE_EVENTS | KVMEM_FEATURE_TENANTS |
			 KVMEM_FEATURE_MANAGER | KVMEM_FEATURE_DEVICE_POOLS |
			 KVMEM_FEATURE_RUN_STATE | KVMEM_FEATURE_LIST_SIZED |
			 KVMEM_FEATURE_MEMCG;
	info->page_sizes = KVMEM_PAGE_SIZES;
	info->page_size = kvmem_page_size();
	info->max_space_bytes = KVMEM_SPACE_MAX_BYTES;
	info->ntenants = kvmem_nr_tenants;
	return 0;
}

static int kvmem_ioctl_pool_query(struct kvmem_client *client, void *arg)
{
	struct kvmem_pool_info *info = arg;
	unsigned int n = kvmem_pools_count();
	struct kvmem_pool *pool;
	int ret = 0;

	if (info->flags || info->pad || info->pad2 ||
	    !kvmem_all_zero(info->reserved, sizeof(info->reserved)))
		return -EINVAL;
	if (info->index >= n)
		return -ENOENT;
	pool = kvmem_pools[array_index_nospec(info->index, n)];
	/* One snapshot of a device pool, which REMOVE and ADD change. */
	mutex_lock(&pool->lock);
	if (pool->kind == KVMEM_POOL_KIND_DEVICE) {
		if (pool->removed)
			ret = -ENOENT;
		info->device = pool->device;
		info->frames_total = pool->dev_total;
		info->frames_free = pool->dev_free;
	} else {
		info->device = 0;
		info->frames_total = pool->fa.nr_present;
		info->frames_free = pool->fa.nr_free;
	}
	info->kind = pool->kind;
	info->node = pool->node;
	info->tier = READ_ONCE(pool->tier);
	info->page_size = pool->frame_size;
	mutex_unlock(&pool->lock);
	return ret;
}

static int kvmem_ioctl_space_create(struct kvmem_client *client, void *arg)
{
	struct kvmem_space_create *args = arg;
	struct kvmem_pool *devpool = NULL;
	u64 page_size = kvmem_page_size();
	struct kvmem_space *space;
	u32 handle;
	int ret;

	if (args->flags & KVMEM_SPACE_DEVICE) {
		/* Not removable until the space is destroyed. */
		devpool = kvmem_devpool_use(args->pool);
		if (!devpool)
			return -EINVAL;
		page_size = devpool->frame_size;
	}
	ret = kvmem_check_space_create(args, page_size, kvmem_nr_tenants);
	if (!ret)
		ret = kvmem_client_may_charge(client, args->tenant);
	if (!ret)
		ret = kvmem_client_may_prioritize(client, args->priority);
	if (!ret && devpool && args->tier != READ_ONCE(devpool->tier))
		ret = -EINVAL;
	if (!ret && !devpool && !kvmem_tier_has_pool(args->tier))
		ret = -ENODEV;
	if (ret) {
		if (devpool)
			kvmem_devpool_unuse(devpool);
		return ret;
	}

	space = kvmem_space_create(client, args, devpool);
	if (IS_ERR(space))
		return PTR_ERR(space);
	/* Once the handle exists, another thread may destroy the space. */
	args->mmap_offset = kvmem_space_offset(space);
	args->npages = space->npages;
	args->page_size = page_size;
	memset(args->reserved_out, 0, sizeof(args->reserved_out));
	ret = kvmem_client_add(client, space, &handle);
	if (ret) {
		kvmem_space_kill(space);
		kvmem_space_put(space);
		return ret == -EBUSY ? -ENOSPC : ret;
	}
	args->handle = handle;
	return 0;
}

static int kvmem_destroy_handle(struct kvmem_client *client, u32 handle,
				u64 mmap_offset)
{
	struct kvmem_space *space;

	space = kvmem_client_remove(client, handle,
				    mmap_offset >> KVMEM_SPACE_SHIFT);

	if (!space)
		return -ENOENT;
	kvmem_space_kill(space);
	kvmem_space_put(space);
	return 0;
}

static void kvmem_ioctl_space_create_undo(struct kvmem_client *client,
					  void *arg)
{
	struct kvmem_space_create *args = arg;

	/* Only if the handle still names the space this call made. */
	kvmem_destroy_handle(client, args->handle, args->mmap_offset);
}

static int kvmem_ioctl_space_destroy(struct kvmem_client *client, void *arg)
{
	struct kvmem_space_destroy *args = arg;

	if (args->flags)
		return -EINVAL;
	return kvmem_destroy_handle(client, args->handle, 0);
}

/*
 * Checks a range against a space just looked up (NULL: not found); on
 * failure drops the lookup's reference.
 */
static struct kvmem_space *kvmem_space_range(struct kvmem_space *space,
					     u64 first, u64 count)
{
	if (!space)
		return ERR_PTR(-ENOENT);
	if (kvmem_check_range(first, count, space->npages)) {
		kvmem_space_put(space);
		return ERR_PTR(-EINVAL);
	}
	return space;
}

/* Looks up the space of a range request and checks the range. */
static struct kvmem_space *kvmem_range_space(struct kvmem_client *client,
					     u32 handle, u32 flags,
					     const u64 *reserved, size_t rsize,
					     u64 first, u64 count)
{
	if (flags || !kvmem_all_zero(reserved, rsize))
		return ERR_PTR(-EINVAL);
	return kvmem_space_range(kvmem_client_get(client, handle), first,
				 count);
}

/* The manager names any space by its id. */
static struct kvmem_space *kvmem_id_space(struct kvmem_client *client, u32 id,
					  u64 first, u64 count)
{
	unsigned long found = id;
	struct kvmem_space *space;

	if (!kvmem_is_manager(client))
		return ERR_PTR(-EPERM);
	space = kvmem_space_get_by_id(&found);
	if (space && found != id) {
		kvmem_space_put(space);
		space = NULL;
	}
	return kvmem_space_range(space, first, count);
}

typedef int (*kvmem_range_fn)(struct kvmem_space *space, u64 first,
			      u64 count, u64 *done);

/* POPULATE and RELEASE differ only in what they do to the range. */
static int kvmem_ioctl_range(struct kvmem_client *client,
			     struct kvmem_range *r, kvmem_range_fn fn)
{
	struct kvmem_space *space;
	int ret;

	space = kvmem_range_space(client, r->handle, r->flags, r->reserved,
				  sizeof(r->reserved), r->first, r->count);
	if (IS_ERR(space))
		return PTR_ERR(space);
	ret = fn(space, r->first, r->count, &r->done);
	kvmem_space_put(space);
	return ret;
}

static int kvmem_ioctl_populate(struct kvmem_client *client, void *arg)
{
	return kvmem_ioctl_range(client, arg, kvmem_space_populate);
}

static int kvmem_ioctl_release(struct kvmem_client *client, void *arg)
{
	return kvmem_ioctl_range(client, arg, kvmem_space_release);
}

static int kvmem_ioctl_space_set(struct kvmem_client *client, void *arg)
{
	struct kvmem_space_set *args = arg;
	struct kvmem_space *space;
	int ret;

	ret = kvmem_check_space_set(args, kvmem_nr_tenants);
	if (!ret && (args->flags & KVMEM_SET_TENANT))
		ret = kvmem_client_may_charge(client, args->tenant);
	if (!ret && (args->flags & KVMEM_SET_PRIORITY))
		ret = kvmem_client_may_prioritize(client, args->priority);
	if (ret)
		return ret;
	space = kvmem_client_get(client, args->handle);
	if (!space)
		return -ENOENT;
	ret = kvmem_space_set(space, args);
	kvmem_space_put(space);
	return ret;
}

static int kvmem_ioctl_migrate(struct kvmem_client *client, void *arg)
{
	struct kvmem_migrate *args = arg;
	struct kvmem_migration *m;
	struct kvmem_space *space;
	int ret;

	ret = kvmem_check_migrate(args);
	if (ret)
		return ret;
	if (!kvmem_tier_has_pool(args->tier))
		return -ENODEV;
	if (args->flags & KVMEM_MIGRATE_BY_ID)
		space = kvmem_id_space(client, args->handle, args->first,
				       args->count);
	else
		space = kvmem_range_space(client, args->handle, 0,
					  args->reserved,
					  sizeof(args->reserved), args->first,
					  args->count);
	if (IS_ERR(space))
		return PTR_ERR(space);
	/* Device memory is copied by its owner, never by kvmem. */
	if (space->devpool) {
		kvmem_space_put(space);
		return -EOPNOTSUPP;
	}
	m = kzalloc(sizeof(*m), GFP_KERNEL_ACCOUNT);
	if (!m) {
		kvmem_space_put(space);
		return -ENOMEM;
	}
	m->client = client;
	m->id = atomic64_inc_return(&client->next_id);
	m->cookie = args->cookie;
	m->first = args->first;
	m->count = args->count;
	m->tier = args->tier;
	m->flags = args->flags;
	m->handle = args->handle;
	args->id = m->id;
	atomic_inc(&client->migrations);
	kvmem_migrate_submit(space, m);
	kvmem_space_put(space);
	return 0;
}

static int kvmem_ioctl_manager(struct kvmem_client *client, void *arg)
{
	struct kvmem_manager *args = arg;

	if (args->flags || args->pad ||
	    !kvmem_all_zero(args->reserved, sizeof(args->reserved)))
		return -EINVAL;
	return kvmem_manager_acquire(client);
}

static int kvmem_ioctl_list_spaces(struct kvmem_client *client, void *arg)
{
	return kvmem_manager_list(client, arg, true);
}

static int kvmem_ioctl_list_clients(struct kvmem_client *client, void *arg)
{
	return kvmem_manager_list(client, arg, false);
}

static int kvmem_ioctl_space_run(struct kvmem_client *client, void *arg)
{
	return kvmem_manager_space_run(client, arg);
}

static int kvmem_ioctl_swap(struct kvmem_client *client, void *arg)
{
	return kvmem_space_swap(client, arg);
}

static int kvmem_ioctl_tenant_set(struct kvmem_client *client, void *arg)
{
	return kvmem_manager_tenant_set(client, arg);
}

static int kvmem_ioctl_device_pool_add(struct kvmem_client *client,
				       void *arg)
{
	return kvmem_devpool_add(client, arg);
}

static void kvmem_ioctl_device_pool_add_undo(struct kvmem_client *client,
					     void *arg)
{
	struct kvmem_device_pool *args = arg;
	struct kvmem_device_pool_remove r = { .index = args->index };

	/* Unless another thread guessed the index and made a space on it. */
	kvmem_devpool_remove(client, &r);
}

static int kvmem_ioctl_device_pool_remove(struct kvmem_client *client,
					  void *arg)
{
	return kvmem_devpool_remove(client, arg);
}

static int kvmem_ioctl_query(struct kvmem_client *client, void *arg)
{
	struct kvmem_query *q = arg;
	struct kvmem_residency __user *uout = u64_to_user_ptr(q->residency);
	struct kvmem_residency *buf = NULL;
	struct kvmem_space *space;
	u64 done = 0;
	int ret = 0;

	space = kvmem_range_space(client, q->handle, q->flags, q->reserved,
				  sizeof(q->reserved), q->first, q->count);
	if (IS_ERR(space))
		return PTR_ERR(space);
	if (!q->residency) {
		q->resident = kvmem_space_residency(space, q->first, q->count,
						    NULL);
		goto out;
	}

	buf = kmalloc_array(KVMEM_QUERY_CHUNK, sizeof(*buf), GFP_KERNEL);
	if (!buf) {
		ret = -ENOMEM;
		goto out;
	}
	q->resident = 0;
	while (done < q->count) {
		u64 n = min_t(u64, q->count - done, KVMEM_QUERY_CHUNK);

		q->resident += kvmem_space_residency(space, q->first + done,
						     n, buf);
		if (copy_to_user(uout + done, buf, n * sizeof(*buf))) {
			ret = -EFAULT;
			break;
		}
		done += n;
		cond_resched();
	}
	kfree(buf);
out:
	kvmem_space_put(space);
	return ret;
}

#define KVMEM_IOCTL_UNDO(_cmd, _ver1, _fn, _undo)			\
	[_IOC_NR(_cmd)] = { .cmd = _cmd, .min_size = _ver1,		\
			    .fn = _fn, .undo = _undo }
#define KVMEM_IOCTL(_cmd, _ver1, _fn) KVMEM_IOCTL_UNDO(_cmd, _ver1, _fn, NULL)

static_assert(sizeof(struct kvmem_info) == KVMEM_INFO_SIZE_VER1);
static_assert(sizeof(struct kvmem_pool_info) == KVMEM_POOL_INFO_SIZE_VER2);
static_assert(sizeof(struct kvmem_space_create) ==
	      KVMEM_SPACE_CREATE_SIZE_VER2);
static_assert(sizeof(struct kvmem_device_pool) == KVMEM_DEVICE_POOL_SIZE_VER1);
static_assert(sizeof(struct kvmem_device_pool_remove) ==
	      KVMEM_DEVICE_POOL_REMOVE_SIZE_VER1);
static_assert(sizeof(struct kvmem_space_destroy) ==
	      KVMEM_SPACE_DESTROY_SIZE_VER1);
static_assert(sizeof(struct kvmem_range) == KVMEM_RANGE_SIZE_VER1);
static_assert(sizeof(struct kvmem_query) == KVMEM_QUERY_SIZE_VER1);
static_assert(sizeof(struct kvmem_migrate) == KVMEM_MIGRATE_SIZE_VER1);
static_assert(sizeof(struct kvmem_space_set) == KVMEM_SPACE_SET_SIZE_VER2);
static_assert(sizeof(struct kvmem_manager) == KVMEM_MANAGER_SIZE_VER1);
static_assert(sizeof(struct kvmem_list) == KVMEM_LIST_SIZE_VER2);
static_assert(sizeof(struct kvmem_tenant_set) == KVMEM_TENANT_SET_SIZE_VER1);
static_assert(sizeof(struct kvmem_event) == 64);
static_assert(sizeof(struct kvmem_run) == KVMEM_RUN_SIZE_VER1);
static_assert(sizeof(struct kvmem_swap) == KVMEM_SWAP_SIZE_VER1);
static_assert(sizeof(struct kvmem_space_info) == KVMEM_SPACE_INFO_SIZE_VER2);
static_assert(sizeof(struct kvmem_client_info) == KVMEM_CLIENT_INFO_SIZE_VER1);
static_assert(KVMEM_SPACE_CREATE_SIZE_VER2 <= KVMEM_IOCTL_MAX_SIZE);

static const struct kvmem_ioctl_desc kvmem_ioctls[] = {
	KVMEM_IOCTL(KVMEM_IOC_GET_INFO, KVMEM_INFO_SIZE_VER1,
		    kvmem_ioctl_get_info),
	KVMEM_IOCTL(KVMEM_IOC_POOL_QUERY, KVMEM_POOL_INFO_SIZE_VER1,
		    kvmem_ioctl_pool_query),
	KVMEM_IOCTL_UNDO(KVMEM_IOC_SPACE_CREATE, KVMEM_SPACE_CREATE_SIZE_VER1,
			 kvmem_ioctl_space_create,
			 kvmem_ioctl_space_create_undo),
	KVMEM_IOCTL(KVMEM_IOC_SPACE_DESTROY, KVMEM_SPACE_DESTROY_SIZE_VER1,
		    kvmem_ioctl_space_destroy),
	KVMEM_IOCTL(KVMEM_IOC_POPULATE, KVMEM_RANGE_SIZE_VER1,
		    kvmem_ioctl_populate),
	KVMEM_IOCTL(KVMEM_IOC_RELEASE, KVMEM_RANGE_SIZE_VER1,
		    kvmem_ioctl_release),
	KVMEM_IOCTL(KVMEM_IOC_QUERY, KVMEM_QUERY_SIZE_VER1, kvmem_ioctl_query),
	KVMEM_IOCTL(KVMEM_IOC_MIGRATE, KVMEM_MIGRATE_SIZE_VER1,
		    kvmem_ioctl_migrate),
	KVMEM_IOCTL(KVMEM_IOC_SPACE_SET, KVMEM_SPACE_SET_SIZE_VER1,
		    kvmem_ioctl_space_set),
	KVMEM_IOCTL(KVMEM_IOC_MANAGER, KVMEM_MANAGER_SIZE_VER1,
		    kvmem_ioctl_manager),
	KVMEM_IOCTL(KVMEM_IOC_LIST_SPACES, KVMEM_LIST_SIZE_VER1,
		    kvmem_ioctl_list_spaces),
	KVMEM_IOCTL(KVMEM_IOC_LIST_CLIENTS, KVMEM_LIST_SIZE_VER1,
		    kvmem_ioctl_list_clients),
	KVMEM_IOCTL(KVMEM_IOC_TENANT_SET, KVMEM_TENANT_SET_SIZE_VER1,
		    kvmem_ioctl_tenant_set),
	KVMEM_IOCTL_UNDO(KVMEM_IOC_DEVICE_POOL_ADD, KVMEM_DEVICE_POOL_SIZE_VER1,
			 kvmem_ioctl_device_pool_add,
			 kvmem_ioctl_device_pool_add_undo),
	KVMEM_IOCTL(KVMEM_IOC_DEVICE_POOL_REMOVE,
		    KVMEM_DEVICE_POOL_REMOVE_SIZE_VER1,
		    kvmem_ioctl_device_pool_remove),
	KVMEM_IOCTL(KVMEM_IOC_SPACE_RUN, KVMEM_RUN_SIZE_VER1,
		    kvmem_ioctl_space_run),
	KVMEM_IOCTL(KVMEM_IOC_SWAP, KVMEM_SWAP_SIZE_VER1, kvmem_ioctl_swap),
};

/**
 * kvmem_ioctl() - dispatch an ioctl of /dev/kvmem
 * @file: the client's file
 * @cmd: the command; its size field may differ from this kernel's struct
 * @arg: user pointer to the argument
 *
 * Return: the handler's result, -ENOTTY for an unknown command, -EINVAL
 * for a struct smaller than its version-1 size, -E2BIG for a larger one
 * with a non-zero tail, -EFAULT for a bad pointer. A handler's -EOVERFLOW
 * copies the struct back (its out fields say what would have fitted).
 */
long kvmem_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	void __user *uarg = (void __user *)arg;
	const struct kvmem_ioctl_desc *desc;
	unsigned int nr = _IOC_NR(cmd);
	size_t usize = _IOC_SIZE(cmd), ksize;
	char kbuf[KVMEM_IOCTL_MAX_SIZE];
	int ret;

	if (_IOC_TYPE(cmd) != KVMEM_IOC_MAGIC || nr >= ARRAY_SIZE(kvmem_ioctls))
		return -ENOTTY;
	desc = &kvmem_ioctls[array_index_nospec(nr, ARRAY_SIZE(kvmem_ioctls))];
	if (!desc->fn || _IOC_DIR(cmd) != _IOC_DIR(desc->cmd))
		return -ENOTTY;
	if (usize < desc->min_size)
		return -EINVAL;
	ksize = _IOC_SIZE(desc->cmd);
	if (WARN_ON_ONCE(ksize > sizeof(kbuf)))
		return -ENOTTY;

	if (_IOC_DIR(cmd) & _IOC_WRITE) {
		ret = copy_struct_from_user(kbuf, ksize, uarg, usize);
		if (ret)
			return ret;
	} else {
		memset(kbuf, 0, ksize);
	}

	ret = desc->fn(file->private_data, kbuf);
	/* -EOVERFLOW: the out fields say what would have fitted. */
	if (ret && ret != -EOVERFLOW)
		return ret;

	if (_IOC_DIR(cmd) & _IOC_READ) {
		/*
		 * An older user's struct is shorter: only what it has. A
		 * newer user's tail: fields this kernel does not have.
		 */
		if (copy_to_user(uarg, kbuf, min(usize, ksize)) ||
		    (usize > ksize && clear_user(uarg + ksize, usize - ksize))) {
			if (desc->undo && !ret)
				desc->undo(file->private_data, kbuf);
			return -EFAULT;
		}
	}
	return ret;
}
