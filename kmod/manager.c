// SPDX-License-Identifier: GPL-2.0
/*
 * The manager: one privileged client at a time (the scheduling daemon)
 * that sees the metadata and residency of every space and client, never
 * their contents; migrates any space; sets tenants' quotas and weights;
 * and receives the manager events (spaces created and destroyed, clients
 * gone, pools low, faults waiting for room).
 *
 * The role is held by a file and ends when the file is released; its
 * migrations complete or roll back first, like any client's.
 */
#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/mutex.h>
#include <linux/nospec.h>
#include <linux/pid_namespace.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/workqueue.h>

#include "client.h"
#include "kvmem.h"
#include "validate.h"

static DEFINE_SPINLOCK(kvmem_manager_lock);
static struct kvmem_client *kvmem_manager;
/*
 * Orders a new manager against the reset of a gone one's directives
 * (kvmem_manager_reset()); taken before the spinlock, never under a
 * space lock.
 */
static DEFINE_MUTEX(kvmem_manager_mutex);
static void kvmem_manager_reset(struct work_struct *work);
static DECLARE_DELAYED_WORK(kvmem_manager_reset_work, kvmem_manager_reset);
/* The manager's pid namespace: pids in its events are in it. */
static struct pid_namespace *kvmem_manager_ns;

/**
 * kvmem_is_manager() - whether a client holds the manager role
 * @client: the client
 *
 * Return: true if @client is the manager.
 */
bool kvmem_is_manager(struct kvmem_client *client)
{
	return READ_ONCE(kvmem_manager) == client;
}

/**
 * kvmem_manager_post() - give the manager an event, if there is one
 * @ev: the event
 *
 * May be called from any context that can take a spinlock.
 */
void kvmem_manager_post(const struct kvmem_event *ev)
{
	unsigned long flags;

	spin_lock_irqsave(&kvmem_manager_lock, flags);
	if (kvmem_manager)
		kvmem_events_post(&kvmem_manager->events, ev);
	spin_unlock_irqrestore(&kvmem_manager_lock, flags);
}

/**
 * kvmem_manager_acquire() - make a client the manager
 * @client: the client
 *
 * Allowed if whoever opened the file had CAP_SYS_ADMIN in the initial user
 * namespace or was a member of the manager_gid group; a descriptor passed
 * to another process keeps what its opener was.
 *
 * Return: 0 (also if @client already is), -EPERM if not allowed, -EBUSY if
 * another file is the manager.
 */
int kvmem_manager_acquire(struct kvmem_client *client)
{
	struct pid_namespace *ns;
	int ret = 0;

	if (!client->may_manage)
		return -EPERM;
	ns = get_pid_ns(task_active_pid_ns(current));
	mutex_lock(&kvmem_manager_mutex);
	spin_lock_irq(&kvmem_manager_lock);
	if (!kvmem_manager) {
		WRITE_ONCE(kvmem_manager, client);
		swap(kvmem_manager_ns, ns);
	} else if (kvmem_manager != client) {
		ret = -EBUSY;
	}
	spin_unlock_irq(&kvmem_manager_lock);
	mutex_unlock(&kvmem_manager_mutex);
	/* The namespace not kept: ours if we lost, NULL if we won. */
	if (ns)
		put_pid_ns(ns);
	return ret;
}

/* Sets one space RUNNABLE, if it is not, and tells its owner. */
static void kvmem_manager_reset_space(struct kvmem_space *space)
{
	struct kvmem_event ev = {
		.type = KVMEM_EVENT_RUN, .id = KVMEM_RUN_RUNNABLE,
	};

	mutex_lock(&space->lock);
	if (!space->dead && space->run_state != KVMEM_RUN_RUNNABLE) {
		kvmem_run_count(space, -1);
		space->run_state = KVMEM_RUN_RUNNABLE;
		space->run_cookie = 0;
		kvmem_run_count(space, 1);
		ev.handle = READ_ONCE(space->handle);
		ev.pages = space->run_tier;
		kvmem_events_post(&space->client->events, &ev);
	}
	mutex_unlock(&space->lock);
}

/*
 * The manager went and none came within manager_grace_ms: every space it
 * left stopped (PREEMPT, PREFETCH) becomes RUNNABLE and its owner is told,
 * so that engines run as with no daemon. A manager that comes back in time
 * (a restart) finds its directives as it left them.
 */
static void kvmem_manager_reset(struct work_struct *work)
{
	unsigned long id = 0;
	struct kvmem_space *space;
	unsigned int n = 0;

	mutex_lock(&kvmem_manager_mutex);
	if (READ_ONCE(kvmem_manager)) {
		mutex_unlock(&kvmem_manager_mutex);
		return;
	}
	while ((space = kvmem_space_get_by_id(&id))) {
		kvmem_manager_reset_space(space);
		kvmem_space_put(space);
		id++;
		if (!(++n % 64))
			cond_resched();
	}
	mutex_unlock(&kvmem_manager_mutex);
}

/**
 * kvmem_manager_release() - end a client's manager role, if it has it
 * @client: a client being released
 *
 * Its directives are reset after kvmem_manager_grace_ms unless a new
 * manager comes first (kvmem_manager_reset()).
 */
void kvmem_manager_release(struct kvmem_client *client)
{
	struct pid_namespace *ns = NULL;

	spin_lock_irq(&kvmem_manager_lock);
	if (kvmem_manager == client) {
		WRITE_ONCE(kvmem_manager, NULL);
		swap(kvmem_manager_ns, ns);
	}
	spin_unlock_irq(&kvmem_manager_lock);
	if (ns) {
		put_pid_ns(ns);
		mod_delayed_work(system_wq, &kvmem_manager_reset_work,
				 msecs_to_jiffies(READ_ONCE(kvmem_manager_grace_ms)));
	}
}

/**
 * kvmem_manager_exit() - at module unload: no reset left pending
 */
void kvmem_manager_exit(void)
{
	cancel_delayed_work_sync(&kvmem_manager_reset_work);
}

/**
 * kvmem_manager_client_exit() - tell the manager a client is gone
 * @client: the client being released
 *
 * The event's cookie is the client's pid as the manager sees it (0 if
 * the client's process is not visible in the manager's pid namespace).
 */
void kvmem_manager_client_exit(struct kvmem_client *client)
{
	struct kvmem_event ev = {
		.type = KVMEM_EVENT_CLIENT_EXIT,
		.id = client->id,
	};
	unsigned long flags;

	spin_lock_irqsave(&kvmem_manager_lock, flags);
	if (kvmem_manager) {
		ev.cookie = pid_nr_ns(client->pid, kvmem_manager_ns);
		kvmem_events_post(&kvmem_manager->events, &ev);
	}
	spin_unlock_irqrestore(&kvmem_manager_lock, flags);
}

/*
 * Fills one space's report, and its counts per pool below @npools (page
 * frames at [p], then clean copies at [@stride + p]); returns false if it
 * is dead.
 */
static bool kvmem_space_report(struct kvmem_space *space,
			       struct kvmem_space_info *info, u64 *pools,
			       unsigned int stride, unsigned int npools)
{
	unsigned int idx;
	struct page *frame;
	unsigned long index;
	void *entry;

	mutex_lock(&space->lock);
	if (space->dead) {
		mutex_unlock(&space->lock);
		return false;
	}
	memset(info, 0, sizeof(*info));
	info->id = space->id;
	info->client = space->client->id;
	info->tenant = space->tenant->id;
	info->priority = READ_ONCE(space->priority);
	info->tokens = READ_ONCE(space->tokens);
	info->npages = space->npages;
	info->tier = space->tier;
	info->policy = space->policy;
	info->resident = space->nr_resident;
	info->run_state = space->run_state;
	info->run_tier = space->run_tier;
	info->run_cookie = space->run_cookie;
	info->demand = space->demand;
	info->flags = (space->devpool ? KVMEM_SPACE_INFO_DEVICE : 0) |
		      (space->swap ? KVMEM_SPACE_INFO_SWAPPING : 0);
	xa_for_each(&space->pages, index, frame) {
		idx = kvmem_frame_pool(frame)->index;
		if (pools && idx < npools)
			pools[idx]++;
	}
	xa_for_each(&space->copies, index, frame) {
		info->copies++;
		idx = kvmem_frame_pool(frame)->index;
		if (pools && idx < npools)
			pools[stride + idx]++;
	}
	/* A device pool added after @npools was read is left out. */
	xa_for_each(&space->grants, index, entry) {
		if (pools && xa_to_value(entry) < npools)
			pools[xa_to_value(entry)]++;
	}
	mutex_unlock(&space->lock);
	return true;
}

/*
 * Collects up to @max live spaces from id *@cursor on, @entry_size bytes
 * each into @out, 2 * @stride counts each into @pools.
 */
static u32 kvmem_list_spaces(u64 *cursor, u32 max, void *out,
			     size_t entry_size, u64 *pools,
			     unsigned int stride, unsigned int npools)
{
	struct kvmem_space_info info;
	struct kvmem_space *space;
	unsigned long id = *cursor;
	u32 n = 0;

	while (n < max) {
		space = kvmem_space_get_by_id(&id);
		if (!space) {
			*cursor = 0;
			return n;
		}
		if (kvmem_space_report(space, &info,
				       pools ? pools + 2 * (size_t)n * stride :
					       NULL, stride, npools)) {
			memcpy(out + (size_t)n * entry_size, &info,
			       min(entry_size, sizeof(info)));
			n++;
		}
		kvmem_space_put(space);
		id++;
	}
	/* Full: say where to go on, or 0 if nothing is left there. */
	*cursor = 0;
	space = kvmem_space_get_by_id(&id);
	if (space) {
		*cursor = id;
		kvmem_space_put(space);
	}
	return n;
}

/*
 * The caller's pool columns per entry: its npools, or for a version-1
 * caller (npools 0) the module's npools if that is what its last GET_INFO
 * said. -EOVERFLOW (l->npools = the module's) if the module has more.
 */
static int kvmem_list_stride(struct kvmem_client *client,
			     struct kvmem_list *l, unsigned int npools,
			     unsigned int *stride)
{
	if (!l->pools) {
		*stride = 0;
		return l->npools ? -EINVAL : 0;
	}
	if (l->npools > KVMEM_LIST_NPOOLS_MAX)
		return -EINVAL;
	if (!l->npools) {
		if (READ_ONCE(client->info_npools) != npools)
			return -EOVERFLOW;
		*stride = npools;
		return 0;
	}
	if (l->npools < npools) {
		l->npools = npools;
		return -EOVERFLOW;
	}
	*stride = l->npools;
	return 0;
}

/* The caller's bytes per entry; 0 if it is not a valid entry_size. */
static size_t kvmem_list_entry_size(const struct kvmem_list *l, bool spaces)
{
	size_t v1 = spaces ? KVMEM_SPACE_INFO_SIZE_VER1 :
			     KVMEM_CLIENT_INFO_SIZE_VER1;

	if (!l->entry_size)
		return v1;
	if (l->entry_size < v1 || l->entry_size % 8 ||
	    l->entry_size > KVMEM_LIST_ENTRY_MAX)
		return 0;
	return l->entry_size;
}

/*
 * The reports are built in kernel memory at the caller's entry size and
 * pool stride, then copied out once, with no lock held: nothing past what
 * the caller said its arrays hold is written.
 */
static int kvmem_list(struct kvmem_client *client, struct kvmem_list *l,
		      bool spaces)
{
	size_t esize = kvmem_list_entry_size(l, spaces);
	/* Read once: the buffer and the reports must agree on it. */
	unsigned int npools = kvmem_pools_count();
	unsigned int stride;
	size_t per;
	u64 *pools = NULL;
	void *out;
	int ret;

	if (l->flags || l->pad || !esize ||
	    !kvmem_all_zero(l->reserved, sizeof(l->reserved)))
		return -EINVAL;
	if (!l->max || l->max > KVMEM_LIST_MAX || !l->entries)
		return -EINVAL;
	ret = kvmem_list_stride(client, l, npools, &stride);
	if (ret)
		return ret;
	per = spaces ? 2 * (size_t)stride : stride;
	out = kvcalloc(l->max, esize, GFP_KERNEL_ACCOUNT);
	if (l->pools)
		pools = kvcalloc(l->max * per, sizeof(*pools),
				 GFP_KERNEL_ACCOUNT);
	if (!out || (l->pools && !pools)) {
		ret = -ENOMEM;
		goto out;
	}
	if (spaces)
		l->count = kvmem_list_spaces(&l->cursor, l->max, out, esize,
					     pools, stride, npools);
	else
		l->count = kvmem_clients_report(&l->cursor, l->max, out, esize,
						pools, stride, npools);
	if (copy_to_user(u64_to_user_ptr(l->entries), out, l->count * esize) ||
	    (pools && copy_to_user(u64_to_user_ptr(l->pools), pools,
				   l->count * per * sizeof(*pools))))
		ret = -EFAULT;
out:
	kvfree(pools);
	kvfree(out);
	return ret;
}

/**
 * kvmem_manager_list() - KVMEM_IOC_LIST_SPACES and KVMEM_IOC_LIST_CLIENTS
 * @client: the caller
 * @l: the request
 * @spaces: list spaces, else clients
 *
 * Return: 0, -EPERM if @client is not the manager, -EINVAL, -EOVERFLOW
 * if the caller's pool columns are fewer than the module's pools, -ENOMEM
 * or -EFAULT.
 */
int kvmem_manager_list(struct kvmem_client *client, struct kvmem_list *l,
		       bool spaces)
{
	if (!kvmem_is_manager(client))
		return -EPERM;
	return kvmem_list(client, l, spaces);
}

/**
 * kvmem_manager_tenant_set() - KVMEM_IOC_TENANT_SET
 * @client: the caller
 * @ts: the request
 *
 * Return: 0, -EPERM if @client is not the manager, or -EINVAL.
 */
int kvmem_manager_tenant_set(struct kvmem_client *client,
			     const struct kvmem_tenant_set *ts)
{
	const u32 known = KVMEM_TENANT_SET_WEIGHT | KVMEM_TENANT_SET_QUOTA;
	struct kvmem_tenant *t;

	if (!kvmem_is_manager(client))
		return -EPERM;
	if (!ts->flags || (ts->flags & ~known) || ts->pad ||
	    !kvmem_all_zero(ts->reserved, sizeof(ts->reserved)) ||
	    ts->tenant >= kvmem_nr_tenants)
		return -EINVAL;
	if ((ts->flags & KVMEM_TENANT_SET_WEIGHT) &&
	    (!ts->weight || ts->weight > KVMEM_WEIGHT_MAX))
		return -EINVAL;
	t = kvmem_tenants[array_index_nospec(ts->tenant, kvmem_nr_tenants)];
	if (ts->flags & KVMEM_TENANT_SET_WEIGHT)
		WRITE_ONCE(t->weight, ts->weight);
	if (ts->flags & KVMEM_TENANT_SET_QUOTA)
		kvmem_tenant_set_quota(t, ts->quota);
	return 0;
}
