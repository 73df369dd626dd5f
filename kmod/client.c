// SPDX-License-Identifier: GPL-2.0
/*
 * Clients: one per open file of /dev/kvmem. A client owns its spaces
 * through a table of handles that only its own file can use.
 */
#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/fs.h>
#include <linux/memcontrol.h>
#include <linux/pid.h>
#include <linux/sched.h>
#include <linux/seq_file.h>
#include <linux/slab.h>

#include "client.h"
#include "compat.h"
#include "kvmem.h"
#include "validate.h"

/* Client id -> client, for the manager's reports. */
static DEFINE_XARRAY_ALLOC1(kvmem_clients);
static u32 kvmem_next_client;

/*
 * The memory cgroup the opener's frames are charged to (with a reference),
 * or NULL: its frames then come from the pools' reserves, which the admin
 * sized. See "Memory cgroups" in Documentation/design.md.
 */
static struct mem_cgroup *kvmem_opener_memcg(void)
{
#ifdef CONFIG_MEMCG
	struct mem_cgroup *memcg;

	if (!READ_ONCE(kvmem_memcg_charge) || !current->mm ||
	    !kvmem_memcg_kmem_on())
		return NULL;
	memcg = get_mem_cgroup_from_mm(current->mm);
	if (memcg && !memcg->css.parent) {
		/* The root cgroup has no limit: the reserve serves it. */
		mem_cgroup_put(memcg);
		memcg = NULL;
	}
	return memcg;
#else
	return NULL;
#endif
}

static int kvmem_open(struct inode *inode, struct file *file)
{
	struct kvmem_client *client;

	if (!READ_ONCE(kvmem_ready))
		return -ENODEV;
	/* The event ring makes it a few pages: kvzalloc. */
	client = kvzalloc(sizeof(*client), GFP_KERNEL_ACCOUNT);
	if (!client)
		return -ENOMEM;
	mutex_init(&client->lock);
	xa_init_flags(&client->handles, XA_FLAGS_ALLOC1);
	atomic_set(&client->migrations, 0);
	atomic64_set(&client->next_id, 0);
	client->info_npools = U32_MAX;
	kvmem_events_init(&client->events);
	client->pid = get_pid(task_tgid(current));
	client->cred = get_current_cred();
	client->memcg = kvmem_opener_memcg();
	/* The role goes with the file: judge whoever opened it, now. */
	client->may_manage = ns_capable_noaudit(&init_user_ns, CAP_SYS_ADMIN) ||
			     (gid_valid(kvmem_manager_kgid) &&
			      in_group_p(kvmem_manager_kgid));
	if (xa_alloc_cyclic(&kvmem_clients, &client->id, client, xa_limit_31b,
			    &kvmem_next_client, GFP_KERNEL_ACCOUNT) < 0) {
		put_pid(client->pid);
		put_cred(client->cred);
		mem_cgroup_put(client->memcg);
		kvfree(client);
		return -ENOMEM;
	}
	file->private_data = client;
	/* All kvmem files share one address_space: see space.c. */
	file->f_mapping = kvmem_mapping;
	atomic_inc(&kvmem_nr_clients);
	return nonseekable_open(inode, file);
}

/*
 * Called when the last descriptor is closed and the last mapping is gone
 * (each mapping holds the file), so no page of the client is mapped.
 */
static int kvmem_release(struct inode *inode, struct file *file)
{
	struct kvmem_client *client = file->private_data;
	struct kvmem_space *space;
	unsigned long handle;

	/* No manager event reaches a client once this returns. */
	kvmem_manager_release(client);
	xa_for_each(&client->handles, handle, space) {
		xa_erase(&client->handles, handle);
		kvmem_space_kill(space);
		kvmem_space_put(space);
	}
	/*
	 * Requests on spaces destroyed earlier may still be queued; they end
	 * quickly (their space is dead) and post to this client's queue.
	 */
	wait_event(client->events.wait, !atomic_read(&client->migrations));
	/* kvmem_client_migration_done() may still hold the lock. */
	spin_lock_irq(&client->events.lock);
	spin_unlock_irq(&client->events.lock);
	/* Reports read clients under this xarray's lock: then it is gone. */
	xa_erase(&kvmem_clients, client->id);
	kvmem_manager_client_exit(client);
	put_pid(client->pid);
	put_cred(client->cred);
	mem_cgroup_put(client->memcg);
	xa_destroy(&client->handles);
	mutex_destroy(&client->events.read_lock);
	mutex_destroy(&client->lock);
	kvfree(client);
	atomic_dec(&kvmem_nr_clients);
	return 0;
}

/**
 * kvmem_client_moved() - count a page of a client's space migrated
 * @client: the space's owner (not necessarily who asked for the move)
 * @from: tier it left
 * @to: tier it entered
 */
void kvmem_client_moved(struct kvmem_client *client, u32 from, u32 to)
{
	atomic64_add(kvmem_page_size(), &client->migrated_out[from]);
	atomic64_add(kvmem_page_size(), &client->migrated_in[to]);
}

/* Bytes of the client's spaces that migrations moved, into any tier. */
static u64 kvmem_client_migrated(struct kvmem_client *client)
{
	u64 sum = 0;
	u32 tier;

	for (tier = 0; tier < KVMEM_NR_TIERS; tier++)
		sum += atomic64_read(&client->migrated_in[tier]);
	return sum;
}

/**
 * kvmem_clients_report() - fill the manager's report of clients
 * @cursor: in: smallest client id to report; out: where to go on, or 0
 * @max: entries @out holds
 * @out: the reports, @entry_size bytes each (zeroed by the caller)
 * @entry_size: the caller's entry size, at least the version-1 size
 * @pools: NULL, or @max * @stride zeroed counts of frames per pool
 * @stride: pool columns per entry of @pools, at least @npools
 * @npools: pools the module had when the request started
 *
 * Reads only counters, under the lock that release() takes to remove a
 * client, so no client is freed while it is read.
 *
 * Return: entries filled.
 */
u32 kvmem_clients_report(u64 *cursor, u32 max, void *out, size_t entry_size,
			 u64 *pools, unsigned int stride, unsigned int npools)
{
	struct kvmem_client_info info;
	struct kvmem_client *client;
	unsigned long id = *cursor;
	u32 n = 0, p;

	xa_lock(&kvmem_clients);
	xa_for_each_start(&kvmem_clients, id, client, *cursor) {
		if (n == max)
			break;
		memset(&info, 0, sizeof(info));
		info.id = client->id;
		info.pid = pid_vnr(client->pid);
		info.spaces = atomic_read(&client->nr_spaces);
		info.flags = kvmem_is_manager(client) ? KVMEM_CLIENT_MANAGER : 0;
		/* Every slot: a pool added since @npools was read too. */
		for (p = 0; p < KVMEM_MAX_POOLS; p++) {
			long f = atomic_long_read(&client->frames[p]);

			info.frames += f;
			if (pools && p < npools)
				pools[(size_t)n * stride + p] = f;
		}
		info.faults = atomic64_read(&client->faults);
		info.migrated = kvmem_client_migrated(client);
		memcpy(out + (size_t)n * entry_size, &info,
		       min(entry_size, sizeof(info)));
		n++;
	}
	xa_unlock(&kvmem_clients);
	*cursor = n == max && client ? id : 0;
	return n;
}

static ssize_t kvmem_read(struct file *file, char __user *buf, size_t count,
			  loff_t *ppos)
{
	struct kvmem_client *client = file->private_data;

	return kvmem_events_read(&client->events, buf, count,
				 file->f_flags & O_NONBLOCK);
}

static __poll_t kvmem_poll(struct file *file, poll_table *wait)
{
	struct kvmem_client *client = file->private_data;

	return kvmem_events_poll(&client->events, file, wait);
}

/**
 * kvmem_client_migration_done() - post the event that ends a migration
 * @client: the client that submitted it
 * @ev: the event
 *
 * The last use of @client by the migration: once its count of requests
 * drops to zero, release() may free it, which it does only after taking
 * the event lock held here.
 */
void kvmem_client_migration_done(struct kvmem_client *client,
				 const struct kvmem_event *ev)
{
	struct kvmem_events *q = &client->events;
	unsigned long flags;

	kvmem_events_post(q, ev);
	spin_lock_irqsave(&q->lock, flags);
	if (atomic_dec_and_test(&client->migrations))
		wake_up_all(&q->wait);
	spin_unlock_irqrestore(&q->lock, flags);
}

/*
 * /proc/<pid>/fdinfo/<fd>: the client's usage as "key:\tvalue" lines, in
 * the style of DRM's per-client statistics (drm-usage-stats.rst), so that
 * an admin finds every client's use with one grep and any process's
 * without being the manager. Documentation/fdinfo.md lists the keys: a
 * stable ABI, every pool and every tier always printed.
 *
 * The caller holds a reference to the file, which keeps the client (and
 * so the module and its pools) alive. Only atomics and READ_ONCE() values
 * are read: no lock that faults, migrations or RELEASE take, so reading
 * fdinfo never waits for them, and they never wait for a slow reader.
 * The lines are therefore not one snapshot: a migration may show between
 * two of them. Only ids and counts are printed, never a kernel pointer.
 */
static void kvmem_show_fdinfo(struct seq_file *m, struct file *file)
{
	struct kvmem_client *client = file->private_data;
	unsigned int p, npools = kvmem_pools_count();
	u64 kib[KVMEM_NR_TIERS] = {};
	u32 tier;

	seq_printf(m, "kvmem-client-id:\t%u\n", client->id);
	seq_printf(m, "kvmem-manager:\t%d\n", kvmem_is_manager(client));
	seq_printf(m, "kvmem-spaces:\t%d\n", atomic_read(&client->nr_spaces));
	seq_printf(m, "kvmem-spaces-runnable:\t%d\n",
		   atomic_read(&client->nr_run[KVMEM_RUN_RUNNABLE]));
	seq_printf(m, "kvmem-spaces-preempted:\t%d\n",
		   atomic_read(&client->nr_run[KVMEM_RUN_PREEMPT]));
	seq_printf(m, "kvmem-spaces-prefetch:\t%d\n",
		   atomic_read(&client->nr_run[KVMEM_RUN_PREFETCH]));
	for (p = 0; p < npools; p++) {
		struct kvmem_pool *pool = kvmem_pools[p];
		long f = atomic_long_read(&client->frames[p]);

		/* A removed device pool's slot holds no frame of anyone's. */
		seq_printf(m, "kvmem-frames-pool%u:\t%ld\n", p, f);
		/* The tier a pool has now, as tenants count it in sysfs. */
		kib[READ_ONCE(pool->tier)] += f * (READ_ONCE(pool->frame_size) >> 10);
	}
	/* In KiB, as drm-memory-<region>: a frame is at least 4 KiB. */
	for (tier = 0; tier < KVMEM_NR_TIERS; tier++)
		seq_printf(m, "kvmem-memory-%s:\t%llu KiB\n",
			   kvmem_tier_name(tier), kib[tier]);
	seq_printf(m, "kvmem-faults:\t%lld\n", atomic64_read(&client->faults));
	for (tier = 0; tier < KVMEM_NR_TIERS; tier++)
		seq_printf(m, "kvmem-migrated-in-%s:\t%lld\n",
			   kvmem_tier_name(tier),
			   atomic64_read(&client->migrated_in[tier]));
	for (tier = 0; tier < KVMEM_NR_TIERS; tier++)
		seq_printf(m, "kvmem-migrated-out-%s:\t%lld\n",
			   kvmem_tier_name(tier),
			   atomic64_read(&client->migrated_out[tier]));
}

static int kvmem_mmap(struct file *file, struct vm_area_struct *vma)
{
	return kvmem_space_mmap(file->private_data, vma);
}

/**
 * kvmem_client_add() - give a new space a handle in its client
 * @client: the client
 * @space: the space; the handle table takes over the caller's reference
 * @handle: returns the handle
 *
 * Return: 0, or -ENOMEM or -EBUSY (no handle left) from the table.
 */
int kvmem_client_add(struct kvmem_client *client, struct kvmem_space *space,
		     u32 *handle)
{
	int ret;

	mutex_lock(&client->lock);
	ret = xa_alloc(&client->handles, handle, space, xa_limit_31b,
		       GFP_KERNEL_ACCOUNT);
	if (!ret)
		WRITE_ONCE(space->handle, *handle);
	mutex_unlock(&client->lock);
	return ret;
}

/**
 * kvmem_client_get() - look up a handle of a client
 * @client: the client
 * @handle: the handle
 *
 * Return: the space with a new reference, or NULL if @handle does not name
 * a space of @client.
 */
struct kvmem_space *kvmem_client_get(struct kvmem_client *client, u32 handle)
{
	struct kvmem_space *space;

	mutex_lock(&client->lock);
	space = xa_load(&client->handles, handle);
	if (space)
		kref_get(&space->ref);
	mutex_unlock(&client->lock);
	return space;
}

/**
 * kvmem_client_remove() - take a handle out of a client's table
 * @client: the client
 * @handle: the handle
 * @id: if not 0, remove the handle only if it names the space with this id
 *
 * Return: the space with the table's reference, now the caller's, or NULL
 * if @handle does not name a space of @client (with id @id).
 */
struct kvmem_space *kvmem_client_remove(struct kvmem_client *client,
					u32 handle, u32 id)
{
	struct kvmem_space *space;

	mutex_lock(&client->lock);
	space = xa_load(&client->handles, handle);
	if (space && (!id || space->id == id))
		xa_erase(&client->handles, handle);
	else
		space = NULL;
	mutex_unlock(&client->lock);
	return space;
}

const struct file_operations kvmem_fops = {
	.owner = THIS_MODULE,
	.open = kvmem_open,
	.release = kvmem_release,
	.read = kvmem_read,
	.poll = kvmem_poll,
	.mmap = kvmem_mmap,
	.unlocked_ioctl = kvmem_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.show_fdinfo = kvmem_show_fdinfo,
};
