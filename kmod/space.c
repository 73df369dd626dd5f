// SPDX-License-Identifier: GPL-2.0
/*
 * Spaces: contiguous ranges of logical pages, each backed on demand by a
 * frame of a node pool, and their mappings. A device space instead holds
 * grants of a device pool's frames (devpool.c), taken by POPULATE and
 * given back by RELEASE and DESTROY; it is never mapped nor migrated, so
 * the fault and migration paths never meet one.
 *
 * Every space owns a window of 2^KVMEM_SPACE_SHIFT bytes of mmap offsets,
 * selected by its global id, in the one address_space all kvmem files
 * share (kvmem_mapping). Offsets never overlap, so unmap_mapping_range()
 * on a space's window reaches every mapping of it, in every process, and
 * nothing else.
 */
#include <linux/file.h>
#include <linux/mm.h>
#include <linux/nospec.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/xarray.h>

#include "compat.h"
#include "kvmem.h"
#include "validate.h"

/* Largest space id whose window still ends below 2^62. */
#define KVMEM_MAX_SPACE_ID	((1U << (62 - KVMEM_SPACE_SHIFT)) - 1)

/* Space id -> space, for mmap. An entry lives as long as the struct. */
static DEFINE_XARRAY_ALLOC1(kvmem_space_ids);
static u32 kvmem_next_id;

static void kvmem_space_free(struct kref *ref)
{
	struct kvmem_space *space = container_of(ref, struct kvmem_space, ref);

	xa_erase(&kvmem_space_ids, space->id);
	WARN_ON(space->nr_resident);
	xa_destroy(&space->pages);
	xa_destroy(&space->grants);
	xa_destroy(&space->copies);
	mutex_destroy(&space->populate_lock);
	mutex_destroy(&space->lock);
	kfree(space);
}

/**
 * kvmem_space_put() - drop a reference to a space
 * @space: the space
 */
void kvmem_space_put(struct kvmem_space *space)
{
	kref_put(&space->ref, kvmem_space_free);
}

/**
 * kvmem_space_create() - make a space with no page backed
 * @client: owner
 * @args: the checked request of KVMEM_IOC_SPACE_CREATE
 * @devpool: the device pool of a device space, from kvmem_devpool_use(),
 *	or NULL; the space takes it over (on failure too)
 *
 * Return: the space with one reference, for the caller's handle table, or
 * ERR_PTR(-ENOMEM), ERR_PTR(-ENOSPC) when no id is left, or
 * ERR_PTR(-EMFILE) when @client has max_spaces live spaces already.
 */
struct kvmem_space *kvmem_space_create(struct kvmem_client *client,
				       const struct kvmem_space_create *args,
				       struct kvmem_pool *devpool)
{
	struct kvmem_space *space;
	int ret;

	/* Counted first, so that racing creates cannot pass the cap. */
	if (atomic_inc_return(&client->nr_spaces) >
	    READ_ONCE(kvmem_max_spaces)) {
		ret = -EMFILE;
		goto err_count;
	}
	space = kzalloc(sizeof(*space), GFP_KERNEL_ACCOUNT);
	if (!space) {
		ret = -ENOMEM;
		goto err_count;
	}
	kref_init(&space->ref);
	mutex_init(&space->populate_lock);
	mutex_init(&space->lock);
	xa_init(&space->pages);
	xa_init(&space->grants);
	xa_init(&space->copies);
	init_waitqueue_head(&space->wait);
	kvmem_migrate_init_space(space);
	space->client = client;
	space->devpool = devpool;
	space->npages = args->size >> (devpool ? ilog2(devpool->frame_size) :
				       PAGE_SHIFT + kvmem_frame_order);
	space->tier = args->tier;
	space->policy = args->policy;
	space->timeout_ms = args->timeout_ms;
	space->tenant = kvmem_tenants[array_index_nospec(args->tenant,
							 kvmem_nr_tenants)];
	space->priority = args->priority;

	/* Cyclic, so that a new space rarely gets the offset of a dead one. */
	ret = xa_alloc_cyclic(&kvmem_space_ids, &space->id, space,
			      XA_LIMIT(1, KVMEM_MAX_SPACE_ID), &kvmem_next_id,
			      GFP_KERNEL_ACCOUNT);
	if (ret < 0) {
		mutex_destroy(&space->populate_lock);
		mutex_destroy(&space->lock);
		kfree(space);
		ret = ret == -EBUSY ? -ENOSPC : ret;
		goto err_count;
	}
	atomic_inc(&kvmem_nr_spaces);
	/* RUNNABLE, demand NONE: zeroed. */
	kvmem_run_count(space, 1);
	/* Paired with SPACE_DESTROYED in kvmem_space_kill(), on every path. */
	kvmem_space_post(space, KVMEM_EVENT_SPACE_CREATED);
	return space;

err_count:
	atomic_dec(&client->nr_spaces);
	if (devpool)
		kvmem_devpool_unuse(devpool);
	return ERR_PTR(ret);
}

/**
 * kvmem_space_get_by_id() - the live space with the smallest id >= *@id
 * @id: in: where to start; out: the id found
 *
 * Return: the space with a new reference, or NULL if there is none.
 */
struct kvmem_space *kvmem_space_get_by_id(unsigned long *id)
{
	struct kvmem_space *space;

	xa_lock(&kvmem_space_ids);
	for (;;) {
		space = xa_find(&kvmem_space_ids, id, KVMEM_MAX_SPACE_ID,
				XA_PRESENT);
		if (!space || (!READ_ONCE(space->dead) &&
			       kref_get_unless_zero(&space->ref)))
			break;
		(*id)++;
	}
	xa_unlock(&kvmem_space_ids);
	return space;
}

/**
 * kvmem_space_post() - tell the manager about a space
 * @space: the space
 * @type: KVMEM_EVENT_SPACE_CREATED, _SPACE_DESTROYED or _FAULT_WAIT
 *
 * The event's id is the space's id, its handle the owner's client id, its
 * cookie the tenant and its pages the space's size; a FAULT_WAIT event
 * carries the tier waited for in its status.
 */
void kvmem_space_post(struct kvmem_space *space, u32 type)
{
	struct kvmem_event ev = {
		.type = type,
		.status = type == KVMEM_EVENT_FAULT_WAIT ? space->tier : 0,
		.id = space->id,
		.cookie = space->tenant->id,
		.handle = space->client->id,
		.pages = space->npages,
	};

	kvmem_manager_post(&ev);
}

/*
 * Whether a WAIT-policy waiter should look again: a frame it may take
 * (free, and within its tenant's quota), or the space's death.
 */
static bool kvmem_space_may_go_on(struct kvmem_space *space)
{
	return READ_ONCE(space->dead) ||
	       (kvmem_tier_has_free(space->tier) &&
		kvmem_tenant_below_quota(space->tenant, space->tier));
}

/*
 * Backs logical page @index with a zeroed frame under the space's
 * exhaustion policy, within its tenant's quotas: a tier whose quota the
 * tenant has used up counts as exhausted. Called with space->lock held.
 *
 * A KVMEM_POLICY_WAIT wait drops space->lock, so that RELEASE, DESTROY and
 * other faults on the space go on meanwhile (a release of this very space
 * may be what frees the frame), and runs until @deadline (jiffies). A
 * fault waits killably (the task may hold locks the killer needs); an
 * ioctl waits interruptibly. After a wait the page may have been backed by
 * someone else, or the space destroyed.
 *
 * Return: 0 with *@frame backing the page now, 1 with *@frame if another
 * thread backed it during a wait, -ENOSPC when the pools to try are empty
 * (or the client's memory cgroup is at its limit: no wait then),
 * -ETIMEDOUT or -EINTR when a wait ends, -ENOENT if the space was
 * destroyed during a wait, -ENOMEM if the page index cannot be stored.
 */
static int kvmem_space_back(struct kvmem_space *space, u64 index, bool fault,
			    unsigned long deadline, struct page **frame)
{
	u32 order[KVMEM_NR_TIERS];
	int i, n = kvmem_tier_order(space->tier, space->policy, order);
	long left;

	lockdep_assert_held(&space->lock);
	for (;;) {
		for (i = 0; i < n; i++) {
			*frame = kvmem_space_get_frame(space, order[i]);
			if (*frame) {
				kvmem_frame_zero(*frame);
				goto store;
			}
		}
		/*
		 * A client in a memory cgroup does not wait: its frames come
		 * from the page allocator, which has reclaimed what it could,
		 * and a pool's free frames are none of its.
		 */
		if (space->policy != KVMEM_POLICY_WAIT || space->client->memcg)
			return -ENOSPC;
		left = (long)(deadline - jiffies);
		if (left <= 0)
			return -ETIMEDOUT;

		kvmem_space_post(space, KVMEM_EVENT_FAULT_WAIT);
		mutex_unlock(&space->lock);
		if (fault)
			left = wait_event_killable_timeout(kvmem_frame_wait,
					kvmem_space_may_go_on(space), left);
		else
			left = wait_event_interruptible_timeout(kvmem_frame_wait,
					kvmem_space_may_go_on(space), left);
		mutex_lock(&space->lock);

		if (left < 0)
			return -EINTR;
		if (space->dead)
			return -ENOENT;
		*frame = xa_load(&space->pages, index);
		if (*frame)
			return 1;
	}

store:
	i = xa_err(xa_store(&space->pages, index, *frame, GFP_KERNEL_ACCOUNT));
	if (i) {
		kvmem_space_put_frame(space, *frame);
		return i;
	}
	space->nr_resident++;
	return 0;
}

/* Deadline of a KVMEM_POLICY_WAIT wait that starts now. */
static unsigned long kvmem_space_deadline(const struct kvmem_space *space)
{
	return jiffies + msecs_to_jiffies(space->timeout_ms);
}

/**
 * kvmem_space_zap() - remove pages from every mapping of a space
 * @space: the space
 * @first: first page
 * @count: pages
 *
 * The next access to them faults. Called with space->lock held, which
 * keeps the fault handler from mapping them again meanwhile.
 */
void kvmem_space_zap(struct kvmem_space *space, u64 first, u64 count)
{
	unmap_mapping_range(kvmem_mapping,
			    kvmem_space_offset(space) + first * kvmem_page_size(),
			    count * kvmem_page_size(), 0);
}

static bool kvmem_page_in_flight(struct kvmem_space *space, u64 index)
{
	return xa_get_mark(&space->pages, index, KVMEM_MARK_MIGRATING);
}

/*
 * Waits until no page of the range is being migrated. Drops space->lock
 * while it waits: the migration needs it to commit.
 */
static void kvmem_space_wait_range(struct kvmem_space *space, u64 first,
				   u64 count)
{
	unsigned long index = first;

	if (!xa_find(&space->pages, &index, first + count - 1,
		     KVMEM_MARK_MIGRATING))
		return;
	/* Hold off new batches, so that this waits for one at most. */
	space->drop_waiters++;
	do {
		mutex_unlock(&space->lock);
		wait_event(space->wait, !kvmem_page_in_flight(space, index));
		mutex_lock(&space->lock);
		index = first;
	} while (xa_find(&space->pages, &index, first + count - 1,
			 KVMEM_MARK_MIGRATING));
	if (!--space->drop_waiters)
		wake_up_all(&space->wait);
}

/*
 * Removes the frames of pages first..first+count-1 from every mapping and
 * gives them back to their pools. Called with space->lock, which keeps
 * faults from mapping them again in between.
 */
static u64 kvmem_space_drop(struct kvmem_space *space, u64 first, u64 count)
{
	struct page *frame;
	void *entry;
	unsigned long index;
	u64 done = 0;

	lockdep_assert_held(&space->lock);
	kvmem_space_wait_range(space, first, count);
	kvmem_space_zap(space, first, count);
	xa_for_each_range(&space->pages, index, frame, first, first + count - 1) {
		xa_erase(&space->pages, index);
		kvmem_space_put_frame(space, frame);
		done++;
		cond_resched();
	}
	xa_for_each_range(&space->copies, index, frame, first, first + count - 1) {
		xa_erase(&space->copies, index);
		kvmem_space_put_frame(space, frame);
	}
	xa_for_each_range(&space->grants, index, entry, first, first + count - 1) {
		xa_erase(&space->grants, index);
		kvmem_devpool_ungrant(space->devpool, space->tenant,
				      space->client);
		done++;
		cond_resched();
	}
	space->nr_resident -= done;
	return done;
}

/**
 * kvmem_space_kill() - destroy a space's contents; its struct may live on
 * @space: the space, whose handle the caller has removed
 *
 * Zaps every mapping of the space and frees its frames. Mappings that
 * remain get SIGBUS on access; they keep the struct until they go.
 */
void kvmem_space_kill(struct kvmem_space *space)
{
	struct kvmem_swap_rec *swap = NULL;

	mutex_lock(&space->lock);
	if (!space->dead) {
		WRITE_ONCE(space->dead, true);
		/* A swap begun ends: aborted, the space's frames go anyway. */
		swap = kvmem_swap_kill(space);
		kvmem_space_drop(space, 0, space->npages);
		/* Not looked at again: the space is dead. */
		if (space->devpool)
			kvmem_devpool_unuse(space->devpool);
		atomic_dec(&kvmem_nr_spaces);
		atomic_dec(&space->client->nr_spaces);
		kvmem_run_count(space, -1);
		kvmem_space_post(space, KVMEM_EVENT_SPACE_DESTROYED);
	}
	mutex_unlock(&space->lock);
	/* Its host space's reference goes with no lock held. */
	kvmem_swap_drop(swap);
	/* End the waits of this space's faults and populates. */
	wake_up_all(&kvmem_frame_wait);
}

/**
 * kvmem_space_set() - set a space's scheduling metadata
 * @space: the space
 * @args: the checked request of KVMEM_IOC_SPACE_SET
 *
 * Return: 0, -ENOENT if the space was destroyed, -EBUSY if a new tenant
 * is asked for while the space holds frames (they are charged to the old
 * one), or -EINTR.
 */
int kvmem_space_set(struct kvmem_space *space,
		    const struct kvmem_space_set *args)
{
	int ret = 0;

	if (mutex_lock_interruptible(&space->lock))
		return -EINTR;
	if (space->dead) {
		ret = -ENOENT;
		goto out;
	}
	if ((args->flags & KVMEM_SET_TENANT) &&
	    (space->nr_resident || !xa_empty(&space->copies))) {
		ret = -EBUSY;
		goto out;
	}
	if (args->flags & KVMEM_SET_TENANT) {
		kvmem_run_count(space, -1);
		space->tenant = kvmem_tenants[array_index_nospec(args->tenant,
							 kvmem_nr_tenants)];
		kvmem_run_count(space, 1);
	}
	if (args->flags & KVMEM_SET_DEMAND)
		kvmem_space_set_demand(space, args->demand);
	if (args->flags & KVMEM_SET_PRIORITY)
		WRITE_ONCE(space->priority, args->priority);
	if (args->flags & KVMEM_SET_TOKENS)
		WRITE_ONCE(space->tokens, args->tokens);
out:
	mutex_unlock(&space->lock);
	return ret;
}

/*
 * Whether a waiter for a device frame should look again: a frame it may
 * take, or the space's death.
 */
static bool kvmem_devspace_may_go_on(struct kvmem_space *space)
{
	return READ_ONCE(space->dead) ||
	       kvmem_devpool_may_grant(space->devpool, space->tenant);
}

/*
 * Grants logical page @index of a device space a frame of its pool, under
 * the space's exhaustion policy (FAIL or WAIT, until @deadline) and within
 * its tenant's quota. Called with space->lock held, which a wait drops,
 * as kvmem_space_back() does.
 *
 * Return: 0 if granted, 1 if another thread granted it during a wait,
 * -ENOSPC, -ETIMEDOUT, -EINTR, -ENOENT (destroyed during a wait), -ENOMEM.
 */
static int kvmem_devspace_grant(struct kvmem_space *space, u64 index,
				unsigned long deadline)
{
	struct kvmem_pool *pool = space->devpool;
	long left;
	int ret;

	lockdep_assert_held(&space->lock);
	while (!kvmem_devpool_grant(pool, space->tenant, space->client)) {
		if (space->policy != KVMEM_POLICY_WAIT)
			return -ENOSPC;
		left = (long)(deadline - jiffies);
		if (left <= 0)
			return -ETIMEDOUT;
		kvmem_space_post(space, KVMEM_EVENT_FAULT_WAIT);
		mutex_unlock(&space->lock);
		left = wait_event_interruptible_timeout(kvmem_frame_wait,
				kvmem_devspace_may_go_on(space), left);
		mutex_lock(&space->lock);
		if (left < 0)
			return -EINTR;
		if (space->dead)
			return -ENOENT;
		if (xa_load(&space->grants, index))
			return 1;
	}
	ret = xa_err(xa_store(&space->grants, index, xa_mk_value(pool->index),
			      GFP_KERNEL_ACCOUNT));
	if (ret) {
		kvmem_devpool_ungrant(pool, space->tenant, space->client);
		return ret;
	}
	space->nr_resident++;
	return 0;
}

/* POPULATE of a device space: as kvmem_space_populate(), with grants. */
static int kvmem_devspace_populate(struct kvmem_space *space, u64 first,
				   u64 count, u64 *done)
{
	unsigned long index, deadline = kvmem_space_deadline(space);
	void *entry;
	u64 i, n = 0;
	int ret = 0;

	if (mutex_lock_interruptible(&space->populate_lock))
		return -EINTR;
	mutex_lock(&space->lock);
	for (i = first; i < first + count && !space->dead; i++) {
		if (xa_load(&space->grants, i))
			continue;
		ret = kvmem_devspace_grant(space, i, deadline);
		if (ret < 0)
			break;
		if (ret == 0) {
			xa_set_mark(&space->grants, i, XA_MARK_0);
			n++;
		}
		ret = 0;
		cond_resched();
	}
	if (space->dead)
		ret = -ENOENT;
	/* A RELEASE during a wait may have given some of them back. */
	xa_for_each_marked(&space->grants, index, entry, XA_MARK_0) {
		if (ret)
			kvmem_space_drop(space, index, 1);
		else
			xa_clear_mark(&space->grants, index, XA_MARK_0);
	}
	mutex_unlock(&space->lock);
	mutex_unlock(&space->populate_lock);
	*done = ret ? 0 : n;
	return ret == -ENOSPC ? -ENOMEM : ret;
}

/**
 * kvmem_space_populate() - back a range of pages ahead of their first touch
 * @space: the space
 * @first: first page, checked by the caller
 * @count: pages, checked by the caller
 * @done: returns the number of pages this call backed
 *
 * All or nothing: on failure the pages this call backed are given back.
 * The space's lock is held throughout, except while a KVMEM_POLICY_WAIT
 * space waits for a frame; a page this call backed may then have been
 * mapped by a fault, so the undo unmaps before it frees.
 *
 * Return: 0, -ENOENT if the space was destroyed, or the policy's error
 * (-ENOMEM, -ETIMEDOUT, -EINTR).
 */
int kvmem_space_populate(struct kvmem_space *space, u64 first, u64 count,
			 u64 *done)
{
	unsigned long index, deadline = kvmem_space_deadline(space);
	struct page *frame;
	u64 i, n = 0;
	int ret = 0;

	if (space->devpool)
		return kvmem_devspace_populate(space, first, count, done);
	/* One populate at a time: XA_MARK_0 says what *this* call added. */
	if (mutex_lock_interruptible(&space->populate_lock))
		return -EINTR;
	mutex_lock(&space->lock);
	for (i = first; i < first + count && !space->dead; i++) {
		if (xa_load(&space->pages, i))
			continue;
		ret = kvmem_space_back(space, i, false, deadline, &frame);
		if (ret < 0)
			break;
		if (ret == 0) {
			/* Mark what this call added, to undo it on failure. */
			xa_set_mark(&space->pages, i, XA_MARK_0);
			n++;
		}
		ret = 0;
		cond_resched();
	}
	if (space->dead)
		ret = -ENOENT;
	/* A migration may have taken what this call added meanwhile. */
	if (ret)
		kvmem_space_wait_range(space, first, count);
	xa_for_each_marked(&space->pages, index, frame, XA_MARK_0) {
		if (ret)
			kvmem_space_drop(space, index, 1);
		else
			xa_clear_mark(&space->pages, index, XA_MARK_0);
	}
	mutex_unlock(&space->lock);
	mutex_unlock(&space->populate_lock);
	*done = ret ? 0 : n;
	return ret == -ENOSPC ? -ENOMEM : ret;
}

/**
 * kvmem_space_release() - give the frames of a range back
 * @space: the space
 * @first: first page, checked by the caller
 * @count: pages, checked by the caller
 * @done: returns the number of frames given back
 *
 * Return: 0, or -ENOENT if the space was destroyed.
 */
int kvmem_space_release(struct kvmem_space *space, u64 first, u64 count,
			u64 *done)
{
	int ret = 0;

	if (mutex_lock_interruptible(&space->lock))
		return -EINTR;
	if (space->dead)
		ret = -ENOENT;
	else
		*done = kvmem_space_drop(space, first, count);
	mutex_unlock(&space->lock);
	return ret;
}

/**
 * kvmem_space_residency() - which pool holds each page of a range
 * @space: the space
 * @first: first page, checked by the caller
 * @count: pages, checked by the caller
 * @out: @count entries to fill, or NULL
 *
 * Return: the number of resident pages in the range.
 */
u64 kvmem_space_residency(struct kvmem_space *space, u64 first, u64 count,
			  struct kvmem_residency *out)
{
	struct page *frame;
	void *entry;
	unsigned long index;
	u64 i, resident = 0;

	if (out) {
		for (i = 0; i < count; i++) {
			out[i].pool = KVMEM_POOL_NONE;
			out[i].copy = KVMEM_POOL_NONE;
		}
	}
	mutex_lock(&space->lock);
	/*
	 * A range may hold millions of pages: let others run (the xarray
	 * walk holds no spinlock between entries, only space->lock).
	 */
	xa_for_each_range(&space->pages, index, frame, first, first + count - 1) {
		if (out)
			out[index - first].pool = kvmem_frame_pool(frame)->index;
		resident++;
		cond_resched();
	}
	if (out) {
		xa_for_each_range(&space->copies, index, frame, first,
				  first + count - 1) {
			out[index - first].copy = kvmem_frame_pool(frame)->index;
			cond_resched();
		}
	}
	xa_for_each_range(&space->grants, index, entry, first, first + count - 1) {
		if (out)
			out[index - first].pool = xa_to_value(entry);
		resident++;
		cond_resched();
	}
	mutex_unlock(&space->lock);
	return resident;
}

/*
 * Maps every CPU page of a frame that @vma covers. Mapping the whole frame
 * on the first touch is what makes a kvmem first touch cheaper per byte
 * than an anonymous one: one fault per frame instead of one per CPU page.
 */
static vm_fault_t kvmem_map_frame(struct vm_area_struct *vma, pgoff_t pgoff,
				  struct page *frame)
{
	pgoff_t end = vma->vm_pgoff + vma_pages(vma);
	unsigned long i;

	for (i = 0; i < kvmem_frame_pages(); i++, pgoff++) {
		unsigned long addr;
		vm_fault_t ret;

		if (pgoff < vma->vm_pgoff || pgoff >= end)
			continue;
		addr = vma->vm_start + ((pgoff - vma->vm_pgoff) << PAGE_SHIFT);
		/* A page that is already mapped here reports NOPAGE too. */
		ret = vmf_insert_page(vma, addr, frame + i);
		if (ret != VM_FAULT_NOPAGE)
			return ret;
	}
	return VM_FAULT_NOPAGE;
}

/*
 * Whether a fault may drop its mmap (or VMA) lock to wait and return
 * VM_FAULT_RETRY: only a user-mode access, on its first attempt, as
 * filemap does, so that the retry always makes progress. The arch fault
 * handler marks its retry FAULT_FLAG_TRIED; get_user_pages() callers such
 * as mlock() and MADV_POPULATE_* may fault again without that mark, and
 * would wait again and again: they wait holding the lock, once.
 */
static bool kvmem_fault_may_drop(const struct vm_fault *vmf)
{
	return (vmf->flags & FAULT_FLAG_USER) &&
	       fault_flag_allow_retry_first(vmf->flags) &&
	       !(vmf->flags & FAULT_FLAG_RETRY_NOWAIT);
}

/*
 * Whether a fault asks not to wait at all (FAULT_FLAG_RETRY_NOWAIT, as
 * KVM's async page faults and FOLL_NOWAIT do): it is answered
 * VM_FAULT_RETRY with its lock still held wherever it would wait.
 */
static bool kvmem_fault_nowait(const struct vm_fault *vmf)
{
	return fault_flag_allow_retry_first(vmf->flags) &&
	       (vmf->flags & FAULT_FLAG_RETRY_NOWAIT);
}

/*
 * Deadline of the wait of a fault that holds its mmap (or VMA) lock while
 * it waits: every mmap() and munmap() of the process, and then its other
 * faults, wait behind it, so it waits at most locked_wait_ms. POPULATE,
 * which holds no mmap_lock, is the interface that waits the space's
 * whole timeout_ms.
 */
static unsigned long kvmem_locked_deadline(const struct kvmem_space *space)
{
	u32 ms = min(space->timeout_ms, READ_ONCE(kvmem_locked_wait_ms));

	return jiffies + msecs_to_jiffies(ms);
}

/*
 * Drops the fault's lock, keeping the file (hence the module) and the
 * space alive, so that a long wait blocks neither the other threads'
 * mmap() and munmap() nor their faults elsewhere in the process.
 */
static struct file *kvmem_fault_unlock(struct vm_fault *vmf,
				       struct kvmem_space *space)
{
	struct file *fpin = get_file(vmf->vma->vm_file);

	kref_get(&space->ref);
	release_fault_lock(vmf);
	return fpin;
}

/* Ends a wait begun by kvmem_fault_unlock(): the fault is to be retried. */
static vm_fault_t kvmem_fault_retry(struct kvmem_space *space,
				    struct file *fpin)
{
	kvmem_space_put(space);
	fput(fpin);
	/* MAJOR: the fault waited, as one that reads a disk would. */
	return VM_FAULT_RETRY | VM_FAULT_MAJOR;
}

/*
 * What a fault returns when a fatal signal ended its wait with nothing
 * mapped. A user-mode access returns to user space, where the signal
 * kills the task: NOPAGE. A kernel-mode access (copy_to_user, GUP) would
 * re-execute the access and fault again and again, since the signal is
 * only acted on at the return to user space: SIGBUS makes the access
 * fail (-EFAULT) at once.
 */
static vm_fault_t kvmem_fault_dying(const struct vm_fault *vmf)
{
	return vmf->flags & FAULT_FLAG_USER ? VM_FAULT_NOPAGE : VM_FAULT_SIGBUS;
}

static vm_fault_t kvmem_vm_fault(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;
	struct kvmem_space *space = vma->vm_private_data;
	pgoff_t base = kvmem_space_offset(space) >> PAGE_SHIFT;
	u64 index = (vmf->pgoff - base) >> kvmem_frame_order;
	bool drop = kvmem_fault_may_drop(vmf);
	bool nowait = kvmem_fault_nowait(vmf);
	unsigned long deadline;
	struct page *frame;
	struct file *fpin;
	vm_fault_t ret;
	int err;

	if (!(vmf->flags & FAULT_FLAG_TRIED)) {
		atomic64_inc(&space->tenant->faults);
		atomic64_inc(&space->client->faults);
	}
	if (mutex_lock_killable(&space->lock))
		return kvmem_fault_dying(vmf);
again:
	if (!space->dead && kvmem_page_in_flight(space, index) && nowait) {
		/* The caller retries later, the lock still held: no wait. */
		mutex_unlock(&space->lock);
		return VM_FAULT_RETRY;
	}
	if (!space->dead && kvmem_page_in_flight(space, index) && drop) {
		/* Wait for the migration to commit; the retry maps the frame. */
		fpin = kvmem_fault_unlock(vmf, space);
		mutex_unlock(&space->lock);
		wait_event_killable(space->wait,
				    !kvmem_page_in_flight(space, index));
		return kvmem_fault_retry(space, fpin);
	}
	while (!space->dead && kvmem_page_in_flight(space, index)) {
		/* Not to be retried: wait holding the fault's lock. */
		mutex_unlock(&space->lock);
		if (wait_event_killable(space->wait,
					!kvmem_page_in_flight(space, index)) ||
		    mutex_lock_killable(&space->lock))
			return kvmem_fault_dying(vmf);
	}
	if (space->dead || index >= space->npages) {
		ret = VM_FAULT_SIGBUS;
		goto out;
	}
	frame = xa_load(&space->pages, index);
	if (!frame) {
		/*
		 * Without waiting first if the wait can drop the lock; and
		 * not at all on a retry, whose first attempt did wait.
		 */
		deadline = drop || nowait || (vmf->flags & FAULT_FLAG_TRIED) ?
			   jiffies : kvmem_locked_deadline(space);
		err = kvmem_space_back(space, index, true, deadline, &frame);
		if (err == -ETIMEDOUT && nowait &&
		    space->policy == KVMEM_POLICY_WAIT) {
			mutex_unlock(&space->lock);
			return VM_FAULT_RETRY;
		}
		if (err == -ETIMEDOUT && drop &&
		    space->policy == KVMEM_POLICY_WAIT) {
			/*
			 * Back the page without the fault's lock, as
			 * POPULATE would; the retry maps it, or finds it
			 * absent after the timeout and fails.
			 */
			fpin = kvmem_fault_unlock(vmf, space);
			kvmem_space_back(space, index, true,
					 kvmem_space_deadline(space), &frame);
			mutex_unlock(&space->lock);
			return kvmem_fault_retry(space, fpin);
		}
		if (err == -EINTR) {
			mutex_unlock(&space->lock);
			return kvmem_fault_dying(vmf);
		}
		if (err < 0) {
			/* Out of kernel memory, or out of frames. */
			ret = err == -ENOMEM ? VM_FAULT_OOM : VM_FAULT_SIGBUS;
			goto out;
		}
		/*
		 * A wait dropped space->lock: a migration of the page may
		 * have begun meanwhile (its frame another thread backed), and
		 * its source frame must not be mapped. Wait for it as above.
		 */
		if (err == 1 && kvmem_page_in_flight(space, index))
			goto again;
	}
	/* A frame marked in flight is never mapped (the copy would race). */
	if (WARN_ON_ONCE(kvmem_page_in_flight(space, index))) {
		ret = VM_FAULT_SIGBUS;
		goto out;
	}
	ret = kvmem_map_frame(vma, base + (index << kvmem_frame_order), frame);
out:
	mutex_unlock(&space->lock);
	return ret;
}

/* A VMA was split or copied by fork: it holds its own reference. */
static void kvmem_vm_open(struct vm_area_struct *vma)
{
	struct kvmem_space *space = vma->vm_private_data;

	kref_get(&space->ref);
}

static void kvmem_vm_close(struct vm_area_struct *vma)
{
	kvmem_space_put(vma->vm_private_data);
}

static const struct vm_operations_struct kvmem_vm_ops = {
	.open = kvmem_vm_open,
	.close = kvmem_vm_close,
	.fault = kvmem_vm_fault,
};

/**
 * kvmem_space_mmap() - set up a mapping of (part of) a space
 * @client: the file's client
 * @vma: the new mapping; vm_pgoff selects the space and the first page
 *
 * Maps nothing: pages are mapped by the fault handler on first touch.
 * VM_MIXEDMAP keeps ordinary struct pages in the page tables, so that
 * get_user_pages() (and with it cuMemHostRegister) works on the mapping;
 * VM_DONTEXPAND makes mremap() refuse to grow it past the space.
 *
 * Return: 0, or -EINVAL for a private mapping, an offset outside any live
 * space of @client, a device space, or a mapping that runs past the end
 * of the space.
 */
int kvmem_space_mmap(struct kvmem_client *client, struct vm_area_struct *vma)
{
	const unsigned int window = KVMEM_SPACE_SHIFT - PAGE_SHIFT;
	unsigned long id = vma->vm_pgoff >> window;
	u64 first = vma->vm_pgoff & ((1UL << window) - 1);
	struct kvmem_space *space;

	if (!(vma->vm_flags & VM_MAYSHARE))
		return -EINVAL;

	xa_lock(&kvmem_space_ids);
	space = xa_load(&kvmem_space_ids, id);
	if (space && !kref_get_unless_zero(&space->ref))
		space = NULL;
	xa_unlock(&kvmem_space_ids);
	if (!space)
		return -EINVAL;

	/* A device space's frames are no memory of the kernel's. */
	if (space->client != client || READ_ONCE(space->dead) ||
	    space->devpool ||
	    kvmem_check_map(first, vma_pages(vma),
			    space->npages << kvmem_frame_order)) {
		kvmem_space_put(space);
		return -EINVAL;
	}
	vm_flags_set(vma, VM_MIXEDMAP | VM_DONTEXPAND | VM_DONTDUMP);
	vma->vm_ops = &kvmem_vm_ops;
	vma->vm_private_data = space;
	return 0;
}
