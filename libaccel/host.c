// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The host backend: each space of a sequence is a kvmem space mapped into
 * the process. Contiguity and demand paging come from the module; mapping
 * pages is POPULATE (frames from the preferred tier's pools) followed by
 * MADV_POPULATE_WRITE, which installs the page table entries too, so that
 * the engine's first touch of a step's pages takes no page fault. A swap
 * is a KVMEM_IOC_MIGRATE of each space to the swap tier and back; the way
 * back keeps the swap tier's frames as clean copies so that the next
 * swap-out copies only the pages written since, while a swap-out gives
 * the preferred tier's frames back.
 */
#include <errno.h>
#include <stdio.h>
#include <sys/mman.h>

#include <linux/kvmem.h>

#include "internal.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE	23	/* Linux 5.14 */
#endif

static int host_init(struct accel_ctx *ctx)
{
	if (ctx->no_module) {
		/* accel.h documents this -ENOENT and the message. */
		fprintf(stderr, "libaccel: the host backend needs the kvmem "
			"module, and /dev/kvmem is missing: load it (modprobe "
			"kvmem) or use the cuda backend, which runs without "
			"it\n");
		return -ENOENT;
	}
	ctx->page_size = ctx->kv_page_size;
	return 0;
}

static void host_fini(struct accel_ctx *ctx)
{
	(void)ctx;
}

/**
 * accel_kv_space_new() - create a kvmem space and map it into the process
 * @ctx: the context, whose tier and policy the space gets
 * @bytes: size, a multiple of kvmem's page size
 * @tenant: the tenant charged for its frames
 * @handle: returns the space's handle
 * @host: returns its mapping
 *
 * Return: 0 or a negative errno; nothing is left behind on failure.
 */
int accel_kv_space_new(struct accel_ctx *ctx, uint64_t bytes, uint32_t tenant,
		       uint32_t *handle, void **host)
{
	struct kvmem_space_create c = {
		.size = bytes,
		.tier = ctx->tier,
		.policy = ctx->wait_ms ? KVMEM_POLICY_WAIT : KVMEM_POLICY_FAIL,
		.timeout_ms = ctx->wait_ms,
		.tenant = tenant,
		.priority = ctx->priority,
	};
	void *p;
	int ret;

	ret = accel_ioctl(ctx->fd, KVMEM_IOC_SPACE_CREATE, &c);
	if (ret)
		return ret;
	p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, ctx->fd,
		 (off_t)c.mmap_offset);
	if (p == MAP_FAILED) {
		ret = -errno;
		accel_kv_space_free(ctx, c.handle, NULL, 0);
		return ret;
	}
	/* A forked child must not reach a sequence's memory (accel.h). */
	madvise(p, bytes, MADV_DONTFORK);
	*handle = c.handle;
	*host = p;
	return 0;
}

/**
 * accel_kv_space_free() - unmap and destroy a space of accel_kv_space_new()
 * @ctx: the context
 * @handle: the space's handle
 * @host: its mapping, or NULL
 * @bytes: the mapping's size
 */
void accel_kv_space_free(struct accel_ctx *ctx, uint32_t handle, void *host,
			 uint64_t bytes)
{
	struct kvmem_space_destroy d = { .handle = handle };

	if (host)
		munmap(host, bytes);
	accel_ioctl(ctx->fd, KVMEM_IOC_SPACE_DESTROY, &d);
}

static int host_space_create(struct accel_ctx *ctx, struct accel_space *sp,
			     uint64_t bytes)
{
	int ret = accel_kv_space_new(ctx, bytes, sp->tenant, &sp->handle,
				     &sp->host);

	if (ret)
		return ret;
	sp->base = (uint64_t)(uintptr_t)sp->host;
	sp->bytes = bytes;
	sp->mapped = 0;
	return 0;
}

static void host_space_destroy(struct accel_ctx *ctx, struct accel_space *sp)
{
	accel_kv_space_free(ctx, sp->handle, sp->host, sp->bytes);
	sp->bytes = 0;
}

/**
 * accel_kv_range() - back (POPULATE) or give back (RELEASE) pages of a
 *	kvmem space
 * @ctx: the context
 * @handle: the space
 * @first: first page
 * @count: pages; 0 does nothing
 * @populate: back them, under the context's policy; else give them back
 *
 * A POPULATE interrupted by signals is made again only until wait_ms has
 * passed (accel_ioctl_until()).
 *
 * Return: 0 or a negative errno.
 */
int accel_kv_range(struct accel_ctx *ctx, uint32_t handle, uint64_t first,
		   uint64_t count, bool populate)
{
	struct kvmem_range r = {
		.handle = handle,
		.first = first,
		.count = count,
	};

	if (!count)
		return 0;
	if (!populate)
		return accel_ioctl(ctx->fd, KVMEM_IOC_RELEASE, &r);
	if (ctx->wait_ms)
		return accel_ioctl_until(ctx->fd, KVMEM_IOC_POPULATE, &r,
					 accel_now_ns() +
					 ctx->wait_ms * 1000000ULL);
	return accel_ioctl(ctx->fd, KVMEM_IOC_POPULATE, &r);
}

static int host_map(struct accel_ctx *ctx, struct accel_space *sp,
		    uint64_t first, uint64_t count, bool step)
{
	int ret;

	(void)step;	/* the module's pools are reserved ahead already */
	ret = accel_kv_range(ctx, sp->handle, first, count, true);
	if (ret || !count)
		return ret;
	/* Only a shortcut: a page not mapped here faults in on first touch. */
	madvise((char *)sp->host + first * ctx->page_size,
		count * ctx->page_size, MADV_POPULATE_WRITE);
	return 0;
}

static int host_unmap(struct accel_ctx *ctx, struct accel_space *sp,
		      uint64_t first, uint64_t count)
{
	return accel_kv_range(ctx, sp->handle, first, count, false);
}

static int host_swap(struct accel_ctx *ctx, struct accel_seq *seq, uint32_t op,
		     uint64_t pages)
{
	uint32_t i;

	if (!pages) {
		/* Nothing to move: done at once. */
		for (i = 0; i < seq->nspaces; i++)
			accel_swap_part_done(seq, 0, 0, 0);
		return 0;
	}
	return accel_migrate_queue(ctx, seq, pages,
				   op == ACCEL_OP_SWAP_OUT ? ctx->swap_tier :
							     ctx->tier);
}

const struct accel_be accel_host_backend = {
	.id = ACCEL_BACKEND_HOST,
	.init = host_init,
	.fini = host_fini,
	.space_create = host_space_create,
	.space_destroy = host_space_destroy,
	.map = host_map,
	.unmap = host_unmap,
	.swap = host_swap,
};
