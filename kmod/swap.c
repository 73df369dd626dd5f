// SPDX-License-Identifier: GPL-2.0
/*
 * KVMEM_IOC_SWAP: the owner of a device space reports the swap it runs
 * with its own copy engine (kvmem never copies device memory), so that
 * the module's view of where each page lives stays true and a crash of any
 * party mid-swap loses nothing. The source is authoritative until COMMIT:
 * a swap-out keeps its device frames granted until COMMIT gives them back;
 * a swap-in takes its device frames at BEGIN and ABORT gives them back.
 * Destroying the space (its owner's close, a SIGKILL) aborts. The manager
 * hears of each end with a KVMEM_EVENT_SWAP.
 */
#include <linux/slab.h>

#include "client.h"
#include "kvmem.h"
#include "validate.h"

/**
 * struct kvmem_swap_rec - a swap begun and not ended (kvmem_space.swap)
 * @out: device -> host
 * @ready: BEGIN is done (a swap-in's frames are taken)
 * @first: first page of the device range
 * @count: pages of the range
 * @cookie: the owner's cookie, for the event
 * @host: the host space, with a reference
 */
struct kvmem_swap_rec {
	bool out;
	bool ready;
	u64 first;
	u64 count;
	u64 cookie;
	struct kvmem_space *host;
};

static void kvmem_swap_post(struct kvmem_space *space,
			    const struct kvmem_swap_rec *rec, int status,
			    u64 bytes)
{
	struct kvmem_event ev = {
		.type = KVMEM_EVENT_SWAP,
		.id = space->id,
		.handle = space->client->id,
		.cookie = rec->cookie,
		.status = status,
		.pages = status ? 0 : rec->count,
		.bytes_copied = status ? 0 : bytes,
	};

	kvmem_manager_post(&ev);
}

/**
 * kvmem_swap_kill() - end the swap of a space being destroyed
 * @space: the space, with @space->lock held, just marked dead
 *
 * Return: the swap record, for the caller to free with kvmem_swap_drop()
 * once it dropped the lock, or NULL.
 */
struct kvmem_swap_rec *kvmem_swap_kill(struct kvmem_space *space)
{
	struct kvmem_swap_rec *rec = space->swap;

	lockdep_assert_held(&space->lock);
	if (rec) {
		space->swap = NULL;
		kvmem_swap_post(space, rec, -EPIPE, 0);
	}
	return rec;
}

/**
 * kvmem_swap_drop() - free a swap record, with no space lock held
 * @rec: the record (as kvmem_swap_kill() returned it), or NULL
 */
void kvmem_swap_drop(struct kvmem_swap_rec *rec)
{
	if (rec) {
		kvmem_space_put(rec->host);
		kfree(rec);
	}
}

/* The host page range of a swap fits @host at @off, page-aligned. */
static bool kvmem_swap_host_fits(struct kvmem_space *space,
				 struct kvmem_space *host, u64 off, u64 count)
{
	u64 hps = PAGE_SIZE << kvmem_frame_order, len, size;

	size = host->npages * hps;
	if (check_mul_overflow(count, (u64)space->devpool->frame_size, &len))
		return false;
	return !(off % hps) && off <= size && len <= size - off;
}

static int kvmem_swap_begin(struct kvmem_client *client,
			    struct kvmem_space *space, const struct kvmem_swap *s)
{
	unsigned long index = s->first;
	struct kvmem_swap_rec *rec;
	struct kvmem_space *host;
	bool mine = false;
	u64 done;
	int ret;

	if (kvmem_check_range(s->first, s->count, space->npages))
		return -EINVAL;
	host = kvmem_client_get(client, s->host);
	if (!host)
		return -ENOENT;
	if (host->devpool ||
	    !kvmem_swap_host_fits(space, host, s->host_offset, s->count)) {
		kvmem_space_put(host);
		return -EINVAL;
	}
	rec = kzalloc(sizeof(*rec), GFP_KERNEL_ACCOUNT);
	if (!rec) {
		kvmem_space_put(host);
		return -ENOMEM;
	}
	rec->out = s->flags & KVMEM_SWAP_OUT;
	rec->first = s->first;
	rec->count = s->count;
	rec->cookie = s->cookie;
	rec->host = host;
	rec->ready = rec->out;

	mutex_lock(&space->lock);
	if (space->dead)
		ret = -ENOENT;
	else if (space->swap)
		ret = -EBUSY;
	else if (!rec->out && xa_find(&space->grants, &index,
				      s->first + s->count - 1, XA_PRESENT))
		ret = -EEXIST;	/* a swap-in goes to pages with no frame */
	else
		ret = 0;
	if (!ret)
		space->swap = rec;
	mutex_unlock(&space->lock);
	if (ret) {
		kvmem_swap_drop(rec);
		return ret;
	}
	if (rec->out)
		return 0;

	/* A swap-in takes its device frames now, all or nothing. */
	ret = kvmem_space_populate(space, s->first, s->count, &done);
	mutex_lock(&space->lock);
	if (space->swap == rec) {
		if (ret) {
			space->swap = NULL;
			mine = true;
		} else {
			rec->ready = true;
		}
	}
	mutex_unlock(&space->lock);
	/* Else the space died meanwhile and its kill took the record. */
	if (mine)
		kvmem_swap_drop(rec);
	return ret;
}

static int kvmem_swap_end(struct kvmem_space *space,
			  const struct kvmem_swap *s)
{
	bool commit = s->op == KVMEM_SWAP_COMMIT;
	struct kvmem_swap_rec *rec;
	int status;
	u64 done;

	mutex_lock(&space->lock);
	rec = space->swap;
	if (space->dead || !rec) {
		mutex_unlock(&space->lock);
		return -ENOENT;
	}
	if (!rec->ready) {
		mutex_unlock(&space->lock);
		return -EBUSY;
	}
	/* The copy's target is gone: the source keeps the pages. */
	status = !commit ? -ECANCELED :
		 READ_ONCE(rec->host->dead) ? -ESTALE : 0;
	space->swap = NULL;
	kvmem_swap_post(space, rec, status, s->bytes);
	mutex_unlock(&space->lock);
	/*
	 * The source's frames go only now: a committed swap-out's, or an
	 * aborted swap-in's (taken at BEGIN).
	 */
	if (rec->out == !status)
		kvmem_space_release(space, rec->first, rec->count, &done);
	kvmem_swap_drop(rec);
	return status == -ECANCELED ? 0 : status;
}

/**
 * kvmem_space_swap() - KVMEM_IOC_SWAP
 * @client: the caller, who must own the device space
 * @s: the request
 *
 * Return: 0; -EINVAL for a bad field, a space that is not a device space,
 * a host space that is one, or a range or host offset that does not fit;
 * -ENOENT if a handle names no space of @client, or (COMMIT, ABORT) no
 * swap is begun; -EBUSY if one is begun (BEGIN), or its BEGIN has not
 * returned (COMMIT, ABORT); -EEXIST for a swap-in of pages that have
 * frames; -ESTALE for a COMMIT after the host space was destroyed (the
 * swap is aborted); a swap-in BEGIN's -ENOMEM, -ETIMEDOUT or -EINTR.
 */
int kvmem_space_swap(struct kvmem_client *client, const struct kvmem_swap *s)
{
	struct kvmem_space *space;
	int ret;

	ret = kvmem_check_swap(s);
	if (ret)
		return ret;
	space = kvmem_client_get(client, s->handle);
	if (!space)
		return -ENOENT;
	if (!space->devpool)
		ret = -EINVAL;
	else if (s->op == KVMEM_SWAP_BEGIN)
		ret = kvmem_swap_begin(client, space, s);
	else
		ret = kvmem_swap_end(space, s);
	kvmem_space_put(space);
	return ret;
}
