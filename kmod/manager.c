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
#include <linux/nospec.h>
#include <linux/pid_namespace.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "client.h"
#include "kvmem.h"
#include "validate.h"

static DEFINE_SPINLOCK(kvmem_manager_lock);
static struct kvmem_client *kvmem_manager;
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
	spin_lock_irq(&kvmem_manager_lock);
	if (!kvmem_manager) {
		WRITE_ONCE(kvmem_manager, client);
		swap(kvmem_manager_ns, ns);
	} else if (kvmem_manager != client) {
		ret = -EBUSY;
	}
	spin_unlock_irq(&kvmem_manager_lock);
	/* The namespace not kept: ours if we lost, NULL if we won. */
	if (ns)
		put_pid_ns(ns);
	return ret;
}

/**
 * kvmem_manager_release() - end a client's manager role, if it has it
 * @client: a client being released
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
	if (ns)
		put_pid_ns(ns);
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
 * frames, then clean copies); returns false if it is dead.
 */
static bool kvmem_space_report(struct kvmem_space *space,
			       struct kvmem_space_info *info, u64 *pools,
			       unsigned int npools)
{
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
	xa_for_each(&space->pages, index, frame) {
		if (pools)
			pools[kvmem_frame_pool(frame)->index]++;
	}
	xa_for_each(&space->copies, index, frame) {
		info->copies++;
		if (pools)
			pools[npools + kvmem_frame_pool(frame)->index]++;
	}
	/* A device pool added after @npools was read is left out. */
	xa_for_each(&space->grants, index, entry) {
		if (pools && xa_to_value(entry) < npools)
			pools[xa_to_value(entry)]++;
	}
	mutex_unlock(&space->lock);
	return true;
}

/* Collects up to @max live spaces from id *@cursor on. */
static u32 kvmem_list_spaces(u64 *cursor, u32 max,
			     struct kvmem_space_info *out, u64 *pools,
			     unsigned int npools)
{
	struct kvmem_space *space;
	unsigned long id = *cursor;
	u32 n = 0;

	while (n < max) {
		space = kvmem_space_get_by_id(&id);
		if (!space) {
			*cursor = 0;
			return n;
		}
		if (kvmem_space_report(space, &out[n],
				       pools ? pools + 2 * n * npools : NULL,
				       npools))
			n++;
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

/* The reports are built in kernel memory, then copied with no lock held. */
static int kvmem_list(struct kvmem_list *l, bool spaces)
{
	size_t esize = spaces ? sizeof(struct kvmem_space_info) :
				sizeof(struct kvmem_client_info);
	/* Read once: the buffer and the reports must agree on it. */
	unsigned int npools = kvmem_pools_count();
	size_t per = spaces ? 2 * npools : npools;
	u64 *pools = NULL;
	void *out;
	int ret = 0;

	if (l->flags || l->pad || l->npools || l->entry_size ||
	    !kvmem_all_zero(l->reserved, sizeof(l->reserved)))
		return -EINVAL;
	if (!l->max || l->max > KVMEM_LIST_MAX || !l->entries)
		return -EINVAL;
	out = kvcalloc(l->max, esize, GFP_KERNEL);
	if (l->pools)
		pools = kvcalloc(l->max * per, sizeof(*pools), GFP_KERNEL);
	if (!out || (l->pools && !pools)) {
		ret = -ENOMEM;
		goto out;
	}
	if (spaces)
		l->count = kvmem_list_spaces(&l->cursor, l->max, out, pools,
					     npools);
	else
		l->count = kvmem_clients_report(&l->cursor, l->max, out, pools,
						npools);
	/*
	 * FIXME(run-state work): entries go out at this kernel's stride, so a
	 * caller built against version 1 is overrun; entry_size and npools
	 * (kvmem_list version 2) fix that.
	 */
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
 * Return: 0, -EPERM if @client is not the manager, -EINVAL, -ENOMEM or
 * -EFAULT.
 */
int kvmem_manager_list(struct kvmem_client *client, struct kvmem_list *l,
		       bool spaces)
{
	if (!kvmem_is_manager(client))
		return -EPERM;
	return kvmem_list(l, spaces);
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
