// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The context: the device, the backend, the pools, the threads, and the
 * calls that act on the whole context.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <linux/kvmem.h>

#include "internal.h"

#define ACCEL_DEFAULT_DEVICE	"/dev/kvmem"

ACCEL_EXPORT
void accel_open_opts_init(struct accel_open_opts *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->size = sizeof(*opts);
	opts->backend = ACCEL_BACKEND_AUTO;
	opts->tier = ACCEL_TIER_DEFAULT;
	opts->swap_tier = ACCEL_TIER_DEFAULT;
}

ACCEL_EXPORT
const char *accel_backend_name(uint32_t backend)
{
	switch (backend) {
	case ACCEL_BACKEND_AUTO:
		return "auto";
	case ACCEL_BACKEND_HOST:
		return "host";
	case ACCEL_BACKEND_CUDA:
		return "cuda";
	default:
		return "?";
	}
}

/* Explicit choice, else $ACCEL_BACKEND, else AUTO. -EINVAL if unknown. */
static int accel_pick_backend(uint32_t asked)
{
	const char *env = getenv("ACCEL_BACKEND");

	if (asked > ACCEL_BACKEND_CUDA)
		return -EINVAL;
	if (asked != ACCEL_BACKEND_AUTO || !env || !*env)
		return (int)asked;
	if (!strcmp(env, "host"))
		return ACCEL_BACKEND_HOST;
	if (!strcmp(env, "cuda"))
		return ACCEL_BACKEND_CUDA;
	if (!strcmp(env, "auto"))
		return ACCEL_BACKEND_AUTO;
	return -EINVAL;
}

static bool accel_tier_ok(uint32_t tier)
{
	return tier <= ACCEL_TIER_CXL || tier == ACCEL_TIER_DEFAULT;
}

/* Which tiers have a pool (bit per tier); the host node of the first pool
 * of @tier into *node. */
static int accel_scan_pools(struct accel_ctx *ctx, uint32_t tier,
			    uint32_t *tiers, int32_t *node)
{
	uint32_t i;

	*tiers = 0;
	*node = -1;
	for (i = 0; i < ctx->npools; i++) {
		struct kvmem_pool_info pi = { .index = i };
		int ret = accel_ioctl(ctx->fd, KVMEM_IOC_POOL_QUERY, &pi);

		if (ret)
			return ret;
		if (pi.tier <= ACCEL_TIER_CXL)
			*tiers |= 1U << pi.tier;
		if (pi.tier == tier && *node < 0)
			*node = pi.node;
	}
	return 0;
}

/*
 * The default swap tier: the slowest tier slower than @tier that has a
 * pool (tiers from fast to slow: hbm, dram, cxl), or DEFAULT (no swap).
 */
static uint32_t accel_default_swap_tier(uint32_t tiers, uint32_t tier)
{
	uint32_t t;

	for (t = ACCEL_TIER_CXL; t > tier; t--)
		if (tiers & (1U << t))
			return t;
	return ACCEL_TIER_DEFAULT;
}

static int accel_check_opts(const struct accel_open_opts *o)
{
	if (o->size && o->size != sizeof(*o))
		return -EINVAL;
	if ((o->flags & ~(ACCEL_OPEN_NO_KEEP | ACCEL_OPEN_REQUIRE_MODULE)) || !accel_tier_ok(o->tier) ||
	    !accel_tier_ok(o->swap_tier) ||
	    o->wait_ms > KVMEM_WAIT_MAX_MS)
		return -EINVAL;
	if (o->tier != ACCEL_TIER_DEFAULT && o->tier == o->swap_tier)
		return -EINVAL;
	return 0;
}

/**
 * accel_check_info() - whether the module's GET_INFO answer is usable
 * @info: the answer
 *
 * Return: 0, or -EPROTO for another ABI version or an answer that makes no
 * sense (no pool, a page size that is not a power of two).
 */
int accel_check_info(const struct kvmem_info *info)
{
	if (info->abi_version != KVMEM_ABI_VERSION)
		return -EPROTO;
	if (!info->npools || !info->page_size ||
	    (info->page_size & (info->page_size - 1)))
		return -EPROTO;
	return 0;
}

/* Opens the device and learns what the module offers. */
static int accel_open_device(struct accel_ctx *ctx,
			     const struct accel_open_opts *o)
{
	const char *dev = o->device ? o->device : getenv("ACCEL_DEVICE");
	struct kvmem_info info = { 0 };
	uint32_t tiers;
	int ret;

	if (!dev || !*dev)
		dev = ACCEL_DEFAULT_DEVICE;
	/* Non-blocking: the event thread reads only after poll() says so. */
	ctx->fd = open(dev, O_RDWR | O_CLOEXEC | O_NONBLOCK);
	/*
	 * A node left behind by an unloaded module (a static /dev, a node
	 * made by hand) opens with ENODEV (misc major, minor gone) or ENXIO
	 * (no driver for the major): no kvmem device, as for a missing node.
	 */
	if (ctx->fd < 0 && (errno == ENODEV || errno == ENXIO))
		return -ENOENT;
	if (ctx->fd < 0)
		return -errno;
	ret = accel_ioctl(ctx->fd, KVMEM_IOC_GET_INFO, &info);
	if (ret == -ENOTTY)
		return -EPROTO;		/* not kvmem, or not this ABI */
	if (ret)
		return ret;
	ret = accel_check_info(&info);
	if (ret)
		return ret;
	ctx->abi_version = info.abi_version;
	ctx->features = info.features;
	ctx->npools = info.npools;
	ctx->kv_page_size = info.page_size;
	if (o->tenant >= info.ntenants)
		return -EINVAL;
	ctx->ntenants = info.ntenants;

	ctx->tier = o->tier == ACCEL_TIER_DEFAULT ? ACCEL_TIER_DRAM : o->tier;
	ret = accel_scan_pools(ctx, ctx->tier, &tiers, &ctx->numa_node);
	if (ret)
		return ret;
	/* No pool of a tier: -ENODEV, as the module says for a space. */
	if (!(tiers & (1U << ctx->tier)))
		return -ENODEV;
	if (o->swap_tier == ACCEL_TIER_DEFAULT)
		ctx->swap_tier = accel_default_swap_tier(tiers, ctx->tier);
	else if (o->swap_tier == ctx->tier)
		return -EINVAL;
	else if (tiers & (1U << o->swap_tier))
		ctx->swap_tier = o->swap_tier;
	else
		return -ENODEV;
	/* Swapping needs the module's migrations and their events. */
	if ((ctx->features & (KVMEM_FEATURE_MIGRATE | KVMEM_FEATURE_EVENTS)) !=
	    (KVMEM_FEATURE_MIGRATE | KVMEM_FEATURE_EVENTS))
		ctx->swap_tier = ACCEL_TIER_DEFAULT;
	return 0;
}

/*
 * No kvmem module: only the cuda backend can run, on CUDA alone (the host
 * backend's init refuses). The
 * tiers and the tenant are the module's: only their defaults make sense.
 */
static int accel_open_no_module(struct accel_ctx *ctx,
				const struct accel_open_opts *o)
{
	long page = sysconf(_SC_PAGESIZE);

	if (o->flags & ACCEL_OPEN_REQUIRE_MODULE)
		return -ENOENT;
	if ((o->tier != ACCEL_TIER_DEFAULT && o->tier != ACCEL_TIER_DRAM) ||
	    (o->swap_tier != ACCEL_TIER_DEFAULT &&
	     o->swap_tier != ACCEL_TIER_DRAM) || o->tenant)
		return -EINVAL;
	ctx->no_module = true;
	ctx->fd = -1;
	ctx->kv_page_size = page > 0 ? (uint64_t)page : 4096;
	ctx->tier = ACCEL_TIER_DRAM;
	ctx->swap_tier = ACCEL_TIER_DEFAULT;
	ctx->ntenants = 1;
	return 0;
}

static int accel_start_backend(struct accel_ctx *ctx, int which)
{
	int ret;

	if (which == ACCEL_BACKEND_CUDA || which == ACCEL_BACKEND_AUTO) {
		ctx->be = &accel_cuda_backend;
		ret = ctx->be->init(ctx);
		if (!ret || which == ACCEL_BACKEND_CUDA)
			return ret;
	}
	ctx->be = &accel_host_backend;
	return ctx->be->init(ctx);
}

ACCEL_EXPORT
int accel_open(const struct accel_open_opts *opts, struct accel_ctx **out)
{
	struct accel_open_opts def;
	struct accel_ctx *ctx;
	pthread_condattr_t ca;
	int which, ret;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!opts) {
		accel_open_opts_init(&def);
		opts = &def;
	}
	ret = accel_check_opts(opts);
	if (ret)
		return ret;
	which = accel_pick_backend(opts->backend);
	if (which < 0)
		return which;

	ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return -ENOMEM;
	ctx->fd = ctx->cq_fd = ctx->stop_fd = -1;
	pthread_mutex_init(&ctx->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ctx->ahead_cond, &ca);
	pthread_condattr_destroy(&ca);
	ctx->tenant = opts->tenant;
	ctx->priority = opts->priority;
	ctx->wait_ms = opts->wait_ms;
	ctx->step_ahead = opts->step_ahead;
	ctx->tokens_per_step = opts->tokens_per_step ? opts->tokens_per_step : 1;
	ctx->cache_max_bytes = opts->cache_max_bytes;
	ctx->no_keep = opts->flags & ACCEL_OPEN_NO_KEEP;
	ctx->pid = getpid();
	ctx->cuda_device = opts->cuda_device;

	ret = accel_open_device(ctx, opts);
	if (ret == -ENOENT)
		ret = accel_open_no_module(ctx, opts);
	if (ret)
		goto fail;
	ctx->cq_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ctx->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (ctx->cq_fd < 0 || ctx->stop_fd < 0) {
		ret = -errno;
		goto fail;
	}
	ret = accel_start_backend(ctx, which);
	if (ret) {
		ctx->be = NULL;
		goto fail;
	}
	ret = accel_events_start(ctx);
	if (!ret && ctx->step_ahead)
		ret = accel_ahead_start(ctx);
	if (ret)
		goto fail;
	*out = ctx;
	return 0;
fail:
	accel_close(ctx);
	return ret;
}

/* Frees a forked child's copy of a context, with no call to the module. */
static void accel_close_in_child(struct accel_ctx *ctx)
{
	struct accel_seq *lists[2] = { ctx->live, ctx->kept }, *seq, *next;
	unsigned int i;

	for (i = 0; i < 2; i++) {
		for (seq = lists[i]; seq; seq = next) {
			next = seq->next;
			free(seq->spaces);
			free(seq);
		}
	}
	close(ctx->fd);
	close(ctx->cq_fd);
	close(ctx->stop_fd);
	free(ctx->cq.c);
	free(ctx);
}

ACCEL_EXPORT
void accel_close(struct accel_ctx *ctx)
{
	if (!ctx)
		return;
	if (getpid() != ctx->pid) {
		/*
		 * A forked child: the threads are the parent's, and so are
		 * the spaces behind the shared file. Give back this copy of
		 * the memory, touch nothing of the parent's.
		 */
		accel_close_in_child(ctx);
		return;
	}
	pthread_mutex_lock(&ctx->lock);
	ctx->stopping = true;	/* sequences ended from now on are not kept */
	pthread_mutex_unlock(&ctx->lock);
	accel_ahead_stop(ctx);
	while (ctx->live)
		accel_seq_destroy(ctx->live);
	accel_trim(ctx);
	accel_events_stop(ctx);
	if (ctx->be)
		ctx->be->fini(ctx);
	if (ctx->fd >= 0)
		close(ctx->fd);
	if (ctx->cq_fd >= 0)
		close(ctx->cq_fd);
	if (ctx->stop_fd >= 0)
		close(ctx->stop_fd);
	free(ctx->cq.c);
	pthread_cond_destroy(&ctx->ahead_cond);
	pthread_mutex_destroy(&ctx->lock);
	free(ctx);
}

ACCEL_EXPORT
int accel_info(struct accel_ctx *ctx, struct accel_info *info)
{
	if (!ctx || !info)
		return -EINVAL;
	memset(info, 0, sizeof(*info));
	info->backend = ctx->be->id;
	info->abi_version = ctx->abi_version;
	info->features = ctx->features;
	info->page_size = ctx->page_size;
	info->npools = ctx->npools;
	info->tier = ctx->tier;
	info->swap_tier = ctx->swap_tier;
	info->numa_node = ctx->numa_node;	/* abi_version 0: no module */
	return 0;
}

ACCEL_EXPORT
int accel_pool_query(struct accel_ctx *ctx, uint32_t index,
		     struct accel_pool *pool)
{
	struct kvmem_pool_info pi = { .index = index };
	int ret;

	if (!ctx || !pool || ctx->no_module)
		return -EINVAL;	/* without the module, there is no pool */
	/* Pools come and go (device pools): ask, not ctx->npools. */
	ret = accel_ioctl(ctx->fd, KVMEM_IOC_POOL_QUERY, &pi);
	if (ret == -ENOENT)
		return -EINVAL;	/* no such pool, as accel.h says */
	if (ret)
		return ret;
	pool->index = pi.index;
	pool->node = pi.node;
	pool->tier = pi.tier;
	pool->page_size = pi.page_size;
	pool->frames_total = pi.frames_total;
	pool->frames_free = pi.frames_free;
	return 0;
}

ACCEL_EXPORT
int64_t accel_seq_bytes(struct accel_ctx *ctx, const struct accel_geometry *g)
{
	struct accel_plan l;
	uint64_t bytes;
	int ret;

	if (!ctx)
		return -EINVAL;
	ret = accel_layout_make(g, ctx->page_size, &l);
	if (ret)
		return ret;
	if (__builtin_mul_overflow(l.space_bytes, l.nspaces, &bytes) ||
	    bytes > INT64_MAX)
		return -EOVERFLOW;
	return (int64_t)bytes;
}

/* Mapped bytes of a sequence. */
static uint64_t accel_seq_mapped_bytes(const struct accel_seq *seq)
{
	return seq->mapped_pages * seq->lay.page_size * seq->nspaces;
}

/**
 * accel_trim_some() - give back kept sequences, oldest first
 * @ctx: the context
 * @keep: stop when no more than @keep bytes stay kept
 *
 * Return: mapped bytes given back.
 */
int64_t accel_trim_some(struct accel_ctx *ctx, uint64_t keep)
{
	struct accel_seq *victims = NULL, **pp;
	int64_t freed = 0;

	pthread_mutex_lock(&ctx->lock);
	while (ctx->kept && ctx->stats.kept_bytes > keep) {
		/* The oldest is at the end of the list. */
		for (pp = &ctx->kept; (*pp)->next; pp = &(*pp)->next)
			;
		ctx->stats.kept_seqs--;
		ctx->stats.kept_bytes -= accel_seq_mapped_bytes(*pp);
		ctx->stats.trimmed_bytes += accel_seq_mapped_bytes(*pp);
		freed += (int64_t)accel_seq_mapped_bytes(*pp);
		(*pp)->next = victims;
		victims = *pp;
		*pp = NULL;
	}
	pthread_mutex_unlock(&ctx->lock);
	while (victims) {
		struct accel_seq *next = victims->next;

		accel_seq_free(victims);
		victims = next;
	}
	return freed;
}

/* Whether sequences are kept now. */
static bool accel_has_kept(struct accel_ctx *ctx)
{
	bool kept;

	pthread_mutex_lock(&ctx->lock);
	kept = ctx->kept != NULL;
	pthread_mutex_unlock(&ctx->lock);
	return kept;
}

/**
 * accel_trim_if_short() - give back kept sequences if frames are short
 * @ctx: the context
 * @frames: frames of the preferred tier about to be taken
 *
 * For the calls that would not meet -ENOMEM at once when the preferred
 * tier's pools have fewer than @frames free frames, and so would never
 * give back kept sequences by themselves: a POPULATE of a WAIT space
 * waits, a swap-in's migration fails later, asynchronously. The pools'
 * count cannot see a tenant's quota; the callers' own retry covers that.
 *
 * Return: whether kept sequences were given back.
 */
bool accel_trim_if_short(struct accel_ctx *ctx, uint64_t frames)
{
	uint64_t free = 0;
	uint32_t i;

	if (!frames || !accel_has_kept(ctx))
		return false;
	for (i = 0; i < ctx->npools; i++) {
		struct kvmem_pool_info pi = { .index = i };

		if (!accel_ioctl(ctx->fd, KVMEM_IOC_POOL_QUERY, &pi) &&
		    pi.tier == ctx->tier)
			free += pi.frames_free;
	}
	if (free >= frames)
		return false;
	accel_trim_some(ctx, 0);
	return true;
}

ACCEL_EXPORT
int64_t accel_trim(struct accel_ctx *ctx)
{
	if (!ctx)
		return -EINVAL;
	return accel_trim_some(ctx, 0);
}

ACCEL_EXPORT
int accel_stats(struct accel_ctx *ctx, struct accel_stats *stats)
{
	if (!ctx || !stats)
		return -EINVAL;
	pthread_mutex_lock(&ctx->lock);
	*stats = ctx->stats;
	pthread_mutex_unlock(&ctx->lock);
	return 0;
}

ACCEL_EXPORT
int accel_fd(struct accel_ctx *ctx)
{
	return ctx ? ctx->cq_fd : -EINVAL;
}
