// SPDX-License-Identifier: GPL-2.0
/*
 * Migration: moving the resident pages of a space to another tier.
 *
 * KVMEM_IOC_MIGRATE queues a request on its space and returns. Each space
 * has one work item that runs its requests in order on kvmem's unbound
 * workqueue, so requests on one space never overlap (a move A->B followed
 * by B->A ends in A) while different spaces migrate in parallel.
 *
 * A request is done in batches of up to KVMEM_MIGRATE_BATCH pages:
 *  1. under the space lock: mark the batch's pages in flight
 *     (KVMEM_MARK_MIGRATING), zap their page table entries everywhere,
 *     decide per page whether a clean copy in the target tier can be reused
 *     and allocate destination frames for the others; if the target tier
 *     runs out, undo the batch (the source stays authoritative) and stop;
 *     (in runs of physically contiguous frames where the target's pools
 *     have them, see kvmem_pool_get_run());
 *  2. without the lock: copy, a physically contiguous run at a time, over
 *     up to one thread per online CPU;
 *  3. under the lock: commit (the destination becomes the page's frame,
 *     the source becomes the clean copy or goes back to its pool) and
 *     clear the marks, waking whoever waits for them.
 * A fault on a page in flight waits for step 3 and maps the new frame;
 * RELEASE and DESTROY wait likewise. Nothing can write a page in flight:
 * its entries are zapped and every fault waits, so the copy is exact.
 *
 * Clean copies: a write through a mapping sets the hardware dirty bit of
 * its page table entry; zapping the entry carries the bit into PageDirty,
 * and get_user_pages() users mark pages dirty when they let go. A frame
 * whose pages are not dirty after the zap of step 1, and that nobody else
 * holds (no pin that a device could write through), is unchanged since
 * the migration that made its copy: the copy is reused and nothing is
 * copied. Otherwise the copy is stale and is freed there.
 */
#include <linux/completion.h>
#include <linux/cpumask.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/workqueue.h>

#include "kvmem.h"

#define KVMEM_MIGRATE_BATCH	256

/* Frames a copy thread takes at least, so that a thread is worth it. */
#define KVMEM_COPY_CHUNK	32

/**
 * struct kvmem_move - one page of a batch
 * @index: logical page
 * @src: its frame when the batch started
 * @dst: its frame after the batch
 * @reuse: @dst is the page's clean copy: nothing to copy
 * @failed: the copy hit a memory error (or stopped before the page): the
 *	page stays where it is, and the request ends with -EIO
 */
struct kvmem_move {
	unsigned long index;
	struct page *src;
	struct page *dst;
	bool reuse;
	bool failed;
};

/**
 * struct kvmem_batch - a request worker's room for one batch
 * @mv: the batch's pages
 * @dst: destination frames, as allocated, before they are assigned to @mv
 */
struct kvmem_batch {
	struct kvmem_move mv[KVMEM_MIGRATE_BATCH];
	struct page *dst[KVMEM_MIGRATE_BATCH];
};

/**
 * struct kvmem_migrate_result - what a request achieved
 * @pages: pages of the range in the target tier when the request ended
 * @copied: bytes copied
 * @reused: bytes not copied thanks to a clean copy
 * @busy: pages left in place because someone else holds them
 */
struct kvmem_migrate_result {
	u64 pages;
	u64 copied;
	u64 reused;
	u64 busy;
};

static struct workqueue_struct *kvmem_wq;
/*
 * Copy threads have a workqueue of their own: a request's worker waits
 * for them, and must never wait for work queued behind it on its own
 * workqueue.
 */
static struct workqueue_struct *kvmem_copy_wq;

/**
 * struct kvmem_copy_job - a slice of a batch copied by one thread
 * @work: on kvmem_copy_wq
 * @space: the space, checked for death between frames
 * @mv: first page of the slice
 * @n: pages in the slice
 * @left: slices not yet done; the last one completes @done
 * @done: the request's worker waits on it
 */
struct kvmem_copy_job {
	struct work_struct work;
	struct kvmem_space *space;
	struct kvmem_move *mv;
	int n;
	atomic_t *left;
	struct completion *done;
};

/* Bytes copied at most between two checks for a dead space. */
#define KVMEM_COPY_RUN_MAX	SZ_2M

/* Whether @b's frame directly follows @a's in physical memory. */
static bool kvmem_frame_follows(struct page *a, struct page *b)
{
	return page_to_pfn(b) == page_to_pfn(a) + kvmem_frame_pages();
}

/*
 * Frames from @mv on whose sources are physically contiguous, and whose
 * destinations are too: one run for one memcpy() in the direct map.
 */
static int kvmem_copy_run_len(const struct kvmem_move *mv, int n)
{
	int len = 1, max = KVMEM_COPY_RUN_MAX / kvmem_page_size();

	if (IS_ENABLED(CONFIG_HIGHMEM))
		return 1;	/* highmem pages are mapped one at a time */
	while (len < n && len < max && !mv[len].reuse &&
	       kvmem_frame_follows(mv[len - 1].src, mv[len].src) &&
	       kvmem_frame_follows(mv[len - 1].dst, mv[len].dst))
		len++;
	return len;
}

/*
 * Copies @frames frames in one run. The machine-check-safe copy: a memory
 * error in a source frame (CXL and DRAM errors are real) ends the copy
 * there instead of panicking the kernel; the kernel marks the page
 * poisoned.
 *
 * Return: the frames copied, @frames unless a memory error stopped it.
 */
static int kvmem_run_copy(struct page *dst, struct page *src, int frames)
{
	unsigned long i, len = frames * kvmem_page_size(), left;

	if (!IS_ENABLED(CONFIG_HIGHMEM)) {
		left = copy_mc_to_kernel(page_address(dst), page_address(src),
					 len);
		return (len - left) / kvmem_page_size();
	}
	for (i = 0; i < frames * kvmem_frame_pages(); i++)
		copy_highpage(dst + i, src + i);
	return frames;
}

static void kvmem_copy_slice(struct kvmem_space *space,
			     struct kvmem_move *mv, int n)
{
	int i, k, len;

	for (i = 0; i < n && !READ_ONCE(space->dead); i += len) {
		len = 1;
		if (!mv[i].reuse) {
			len = kvmem_copy_run_len(mv + i, n - i);
			/* The rest of a run that stopped is not copied. */
			for (k = kvmem_run_copy(mv[i].dst, mv[i].src, len);
			     k < len; k++)
				mv[i + k].failed = true;
		}
		cond_resched();
	}
}

static void kvmem_copy_work(struct work_struct *work)
{
	struct kvmem_copy_job *job = container_of(work, struct kvmem_copy_job,
						  work);

	kvmem_copy_slice(job->space, job->mv, job->n);
	if (atomic_dec_and_test(job->left))
		complete(job->done);
}

/*
 * Step 2: copies a prepared batch, spread over up to one thread per
 * online CPU (the request's worker takes the first slice itself), each
 * copying whole frames in large runs.
 */
static void kvmem_migrate_copy(struct kvmem_space *space,
			       struct kvmem_move *mv, int n)
{
	int threads = min_t(int, num_online_cpus(), n / KVMEM_COPY_CHUNK);
	struct kvmem_copy_job *jobs;
	DECLARE_COMPLETION_ONSTACK(done);
	atomic_t left;
	int i, per;

	jobs = threads > 1 ? kcalloc(threads - 1, sizeof(*jobs), GFP_KERNEL) :
	       NULL;
	if (!jobs) {
		kvmem_copy_slice(space, mv, n);
		return;
	}
	per = DIV_ROUND_UP(n, threads);
	atomic_set(&left, threads - 1);
	for (i = 1; i < threads; i++) {
		struct kvmem_copy_job *job = &jobs[i - 1];

		INIT_WORK(&job->work, kvmem_copy_work);
		job->space = space;
		job->mv = mv + i * per;
		job->n = min(per, n - i * per);
		job->left = &left;
		job->done = &done;
		queue_work(kvmem_copy_wq, &job->work);
	}
	kvmem_copy_slice(space, mv, per);
	wait_for_completion(&done);
	kfree(jobs);
}

static bool kvmem_frame_in_tier(struct page *frame, u32 tier)
{
	return READ_ONCE(kvmem_frame_pool(frame)->tier) == tier;
}

/* Ends a batch that will not commit: the sources stay authoritative. */
static void kvmem_migrate_undo(struct kvmem_space *space,
			       struct kvmem_move *mv, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		if (mv[i].dst && !mv[i].reuse)
			kvmem_space_put_frame(space, mv[i].dst);
		xa_clear_mark(&space->pages, mv[i].index, KVMEM_MARK_MIGRATING);
	}
}

static void kvmem_migrate_commit(struct kvmem_space *space,
				 const struct kvmem_migration *m,
				 struct kvmem_move *mv)
{
	struct page *copy = xa_load(&space->copies, mv->index);

	kvmem_space_moved(space, READ_ONCE(kvmem_frame_pool(mv->src)->tier),
			  m->tier);
	kvmem_frame_clean(mv->dst);
	/* Replacing present entries allocates nothing: these cannot fail. */
	xa_store(&space->pages, mv->index, mv->dst, GFP_KERNEL);
	xa_clear_mark(&space->pages, mv->index, KVMEM_MARK_MIGRATING);

	if (m->flags & KVMEM_MIGRATE_KEEP_COPY) {
		/* The source becomes the copy; a copy elsewhere is redundant. */
		if (copy && !mv->reuse)
			kvmem_space_put_frame(space, copy);
		kvmem_frame_clean(mv->src);
		if (copy)
			xa_store(&space->copies, mv->index, mv->src, GFP_KERNEL);
		else if (xa_err(xa_store(&space->copies, mv->index, mv->src,
					 GFP_KERNEL_ACCOUNT)))
			kvmem_space_put_frame(space, mv->src);
		return;
	}
	kvmem_space_put_frame(space, mv->src);
	/* A clean copy in a third tier still equals the page: keep it. */
	if (mv->reuse)
		xa_erase(&space->copies, mv->index);
}

/*
 * Step 1 for the pages from *@next on: returns how many were marked and
 * prepared in @mv, 0 when the range is done, or a negative errno. @dst is
 * room for a batch of destination frames.
 */
static int kvmem_migrate_prepare(struct kvmem_space *space,
				 const struct kvmem_migration *m, u64 *next,
				 struct kvmem_move *mv, struct page **dst,
				 struct kvmem_migrate_result *res)
{
	u64 last = m->first + m->count - 1;
	unsigned long index;
	struct page *frame;
	int i, kept, n = 0;
	u32 k, got, need;

	/* A RELEASE or DESTROY waits for pages in flight: let it go first. */
	while (space->drop_waiters && !space->dead) {
		mutex_unlock(&space->lock);
		wait_event(space->wait, !READ_ONCE(space->drop_waiters));
		mutex_lock(&space->lock);
	}
	if (space->dead)
		return -ECANCELED;
	xa_for_each_range(&space->pages, index, frame, *next, last) {
		if (n == KVMEM_MIGRATE_BATCH)
			break;
		*next = index + 1;
		if (kvmem_frame_in_tier(frame, m->tier))
			continue;
		mv[n].index = index;
		mv[n].src = frame;
		mv[n].dst = NULL;
		mv[n].reuse = false;
		mv[n].failed = false;
		xa_set_mark(&space->pages, index, KVMEM_MARK_MIGRATING);
		n++;
	}
	if (n < KVMEM_MIGRATE_BATCH)
		*next = last + 1;
	if (!n)
		return 0;

	kvmem_space_zap(space, mv[0].index, mv[n - 1].index - mv[0].index + 1);
	for (i = 0, kept = 0; i < n; i++) {
		if (kvmem_frame_shared(mv[i].src)) {
			/*
			 * Someone else holds a page of it (a pin through
			 * which a device may write at any time): like the
			 * kernel's own page migration, leave it where it is.
			 */
			xa_clear_mark(&space->pages, mv[i].index,
				      KVMEM_MARK_MIGRATING);
			res->busy++;
			continue;
		}
		mv[kept++] = mv[i];
	}
	n = kept;
	for (i = 0, need = 0; i < n; i++) {
		struct page *copy = xa_load(&space->copies, mv[i].index);

		if (copy && kvmem_frame_dirty(mv[i].src)) {
			/* Written since the copy was made: the copy is stale. */
			xa_erase(&space->copies, mv[i].index);
			kvmem_space_put_frame(space, copy);
			copy = NULL;
		}
		if (copy && kvmem_frame_in_tier(copy, m->tier)) {
			mv[i].dst = copy;
			mv[i].reuse = true;
			continue;
		}
		need++;
	}
	/*
	 * Destinations in as few runs as the pools allow, assigned in page
	 * order. Not zeroed: the copy overwrites them before anyone sees them.
	 */
	for (i = 0, got = 0; need; need -= got) {
		got = kvmem_space_get_run(space, m->tier, need, dst);
		if (!got) {
			kvmem_migrate_undo(space, mv, n);
			return -ENOMEM;
		}
		for (k = 0; k < got; i++)
			if (!mv[i].reuse)
				mv[i].dst = dst[k++];
	}
	return n;
}

/* Pages of the request's range in its target tier now. */
static u64 kvmem_migrate_count(struct kvmem_space *space,
			       const struct kvmem_migration *m)
{
	unsigned long index;
	struct page *frame;
	u64 n = 0;

	mutex_lock(&space->lock);
	xa_for_each_range(&space->pages, index, frame, m->first,
			  m->first + m->count - 1) {
		n += kvmem_frame_in_tier(frame, m->tier);
		cond_resched();
	}
	mutex_unlock(&space->lock);
	return n;
}

/* Runs one request; returns 0 or why it stopped early. */
static int kvmem_migrate_run(struct kvmem_space *space,
			     const struct kvmem_migration *m,
			     struct kvmem_batch *b,
			     struct kvmem_migrate_result *res)
{
	struct kvmem_move *mv = b->mv;
	u64 next = m->first;
	int i, n, ret = 0;

	while (next < m->first + m->count) {
		u64 busy = res->busy;

		mutex_lock(&space->lock);
		n = kvmem_migrate_prepare(space, m, &next, mv, b->dst, res);
		mutex_unlock(&space->lock);
		if (n < 0 || res->busy != busy)
			wake_up_all(&space->wait);	/* marks cleared */
		if (n < 0) {
			ret = n;
			break;
		}
		if (!n)
			continue;	/* range done, or the batch all pinned */

		kvmem_migrate_copy(space, mv, n);

		mutex_lock(&space->lock);
		if (space->dead) {
			kvmem_migrate_undo(space, mv, n);
			ret = -ECANCELED;
		} else {
			for (i = 0; i < n; i++) {
				if (mv[i].failed) {
					/* The source stays, as if never begun. */
					kvmem_migrate_undo(space, &mv[i], 1);
					ret = -EIO;
					continue;
				}
				if (mv[i].reuse)
					res->reused += kvmem_page_size();
				else
					res->copied += kvmem_page_size();
				kvmem_migrate_commit(space, m, &mv[i]);
			}
		}
		mutex_unlock(&space->lock);
		wake_up_all(&space->wait);
		if (ret)
			break;
	}
	return ret;
}

static void kvmem_migrate_finish(struct kvmem_migration *m, int status,
				 const struct kvmem_migrate_result *res)
{
	struct kvmem_event ev = {
		.type = KVMEM_EVENT_MIGRATE,
		.status = status,
		.id = m->id,
		.cookie = m->cookie,
		.handle = m->handle,
		.pages = res->pages,
		.bytes_copied = res->copied,
		.bytes_reused = res->reused,
	};

	kvmem_client_migration_done(m->client, &ev);
	kfree(m);
}

static void kvmem_migrate_work(struct work_struct *work)
{
	struct kvmem_space *space = container_of(work, struct kvmem_space,
						 migrate_work);
	struct kvmem_batch *b = kvmalloc(sizeof(*b), GFP_KERNEL);

	for (;;) {
		struct kvmem_migrate_result res = {};
		struct kvmem_migration *m;
		int status = -ENOMEM;

		spin_lock(&space->mq_lock);
		m = list_first_entry_or_null(&space->mq,
					     struct kvmem_migration, node);
		if (m)
			list_del(&m->node);
		else
			space->mq_active = false;
		spin_unlock(&space->mq_lock);
		if (!m)
			break;
		if (b)
			status = kvmem_migrate_run(space, m, b, &res);
		res.pages = kvmem_migrate_count(space, m);
		if (!status && res.busy)
			status = -EBUSY;
		kvmem_migrate_finish(m, status, &res);
	}
	kvfree(b);
	/* The queue's reference; it may be the last one. */
	kvmem_space_put(space);
}

/**
 * kvmem_migrate_init_space() - set up a space's migration queue
 * @space: a new space
 */
void kvmem_migrate_init_space(struct kvmem_space *space)
{
	spin_lock_init(&space->mq_lock);
	INIT_LIST_HEAD(&space->mq);
	INIT_WORK(&space->migrate_work, kvmem_migrate_work);
}

/**
 * kvmem_migrate_submit() - queue a migration request on its space
 * @space: the space; the queue takes its own reference while it runs
 * @m: the request, filled in; owned by the queue from now on
 *
 * Every request submitted ends in exactly one KVMEM_EVENT_MIGRATE event
 * in its client's queue, even if the space is destroyed first.
 */
void kvmem_migrate_submit(struct kvmem_space *space, struct kvmem_migration *m)
{
	spin_lock(&space->mq_lock);
	list_add_tail(&m->node, &space->mq);
	if (!space->mq_active) {
		space->mq_active = true;
		kref_get(&space->ref);
		queue_work(kvmem_wq, &space->migrate_work);
	}
	spin_unlock(&space->mq_lock);
}

/**
 * kvmem_migrate_init() - create kvmem's migration workqueue
 *
 * Return: 0 or -ENOMEM.
 */
int kvmem_migrate_init(void)
{
	kvmem_wq = alloc_workqueue("kvmem_migrate", WQ_UNBOUND, 0);
	if (!kvmem_wq)
		return -ENOMEM;
	kvmem_copy_wq = alloc_workqueue("kvmem_copy", WQ_UNBOUND, 0);
	if (!kvmem_copy_wq) {
		destroy_workqueue(kvmem_wq);
		return -ENOMEM;
	}
	return 0;
}

/**
 * kvmem_migrate_exit() - destroy the workqueue; no request is left by now
 */
void kvmem_migrate_exit(void)
{
	destroy_workqueue(kvmem_wq);
	destroy_workqueue(kvmem_copy_wq);
}
