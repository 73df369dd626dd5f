// SPDX-License-Identifier: GPL-2.0
/*
 * Argument checks and small parsers. See validate.h.
 */
#include "validate.h"

static const char * const kvmem_tier_names[KVMEM_NR_TIERS] = {
	[KVMEM_TIER_HBM] = "hbm",
	[KVMEM_TIER_DRAM] = "dram",
	[KVMEM_TIER_CXL] = "cxl",
};

/**
 * kvmem_page_size_valid() - whether kvmem can use frames of @size bytes
 * @size: bytes
 *
 * Return: true for a power of two from 4 KiB to 2 MiB.
 */
bool kvmem_page_size_valid(uint64_t size)
{
	return size && !(size & (size - 1)) && (size & KVMEM_PAGE_SIZES);
}

/**
 * kvmem_all_zero() - whether @len bytes at @p are all zero
 * @p: memory
 * @len: bytes
 *
 * Return: true if every byte is zero.
 */
bool kvmem_all_zero(const void *p, size_t len)
{
	const unsigned char *b = p;

	while (len--)
		if (*b++)
			return false;
	return true;
}

/**
 * kvmem_check_space_create() - check the input of KVMEM_IOC_SPACE_CREATE
 * @c: the request, as copied from user space
 * @page_size: page size of the node pools, or of the device pool of a
 *	KVMEM_SPACE_DEVICE request
 * @ntenants: number of tenants
 *
 * Checks every input field that needs no knowledge of the pools. Whether a
 * node pool has the preferred tier is the caller's check (-ENODEV), and so
 * are a device space's pool and its tier (-EINVAL).
 *
 * Return: 0 or -EINVAL.
 */
int kvmem_check_space_create(const struct kvmem_space_create *c,
			     uint64_t page_size, uint32_t ntenants)
{
	if ((c->flags & ~KVMEM_SPACE_FLAGS) || c->pad || c->pad2 ||
	    !kvmem_all_zero(c->reserved_in, sizeof(c->reserved_in)))
		return -EINVAL;
	/* A device space has nothing to fall back to. */
	if ((c->flags & KVMEM_SPACE_DEVICE) ?
	    c->policy == KVMEM_POLICY_FALLBACK : c->pool != 0)
		return -EINVAL;
	if (!c->size || c->size % page_size || c->size > KVMEM_SPACE_MAX_BYTES)
		return -EINVAL;
	if (c->tier >= KVMEM_NR_TIERS || c->policy >= KVMEM_NR_POLICIES ||
	    c->tenant >= ntenants)
		return -EINVAL;
	if (c->policy == KVMEM_POLICY_WAIT)
		return c->timeout_ms && c->timeout_ms <= KVMEM_WAIT_MAX_MS ?
		       0 : -EINVAL;
	return c->timeout_ms ? -EINVAL : 0;
}

/**
 * kvmem_check_device_pool() - check the input of KVMEM_IOC_DEVICE_POOL_ADD
 * @d: the request, as copied from user space
 * @cpu_page_size: the CPU's page size, the smallest frame size
 *
 * @d->index is output only and not looked at.
 *
 * Return: 0 or -EINVAL.
 */
int kvmem_check_device_pool(const struct kvmem_device_pool *d,
			    uint64_t cpu_page_size)
{
	if (d->flags || d->pad || d->pad2 ||
	    !kvmem_all_zero(d->reserved, sizeof(d->reserved)))
		return -EINVAL;
	if (!d->frame_size || (d->frame_size & (d->frame_size - 1)) ||
	    d->frame_size < cpu_page_size ||
	    d->frame_size > KVMEM_DEVICE_FRAME_SIZE_MAX)
		return -EINVAL;
	if (!d->frames || d->frames > KVMEM_DEVICE_FRAMES_MAX)
		return -EINVAL;
	return d->tier < KVMEM_NR_TIERS ? 0 : -EINVAL;
}

/**
 * kvmem_check_device_pool_remove() - check KVMEM_IOC_DEVICE_POOL_REMOVE
 * @r: the request, as copied from user space
 *
 * The index is the caller's check.
 *
 * Return: 0 or -EINVAL.
 */
int kvmem_check_device_pool_remove(const struct kvmem_device_pool_remove *r)
{
	if (r->flags || !kvmem_all_zero(r->reserved, sizeof(r->reserved)))
		return -EINVAL;
	return 0;
}

/**
 * kvmem_check_space_set() - check the input of KVMEM_IOC_SPACE_SET
 * @s: the request, as copied from user space
 * @ntenants: number of tenants
 *
 * Return: 0 or -EINVAL: no or an unknown flag, a reserved field or @pad
 * set, a tenant out of range when the tenant is to be set, or a demand
 * that is not a KVMEM_DEMAND_* when it is.
 */
int kvmem_check_space_set(const struct kvmem_space_set *s, uint32_t ntenants)
{
	if (!s->flags || (s->flags & ~KVMEM_SET_FLAGS) || s->pad ||
	    !kvmem_all_zero(s->reserved, sizeof(s->reserved)))
		return -EINVAL;
	if ((s->flags & KVMEM_SET_TENANT) && s->tenant >= ntenants)
		return -EINVAL;
	if ((s->flags & KVMEM_SET_DEMAND) && s->demand >= KVMEM_NR_DEMANDS)
		return -EINVAL;
	return 0;
}

/**
 * kvmem_check_run() - check the input of KVMEM_IOC_SPACE_RUN
 * @r: the request, as copied from user space
 *
 * Return: 0 or -EINVAL: @flags or @reserved set, a state that is not a
 * KVMEM_RUN_*, or a tier that is not a KVMEM_TIER_*.
 */
int kvmem_check_run(const struct kvmem_run *r)
{
	if (r->flags || !kvmem_all_zero(r->reserved, sizeof(r->reserved)))
		return -EINVAL;
	if (r->state >= KVMEM_NR_RUN_STATES || r->tier >= KVMEM_NR_TIERS)
		return -EINVAL;
	return 0;
}

/**
 * kvmem_check_range() - check a page range of a space
 * @first: first page
 * @count: pages
 * @npages: pages in the space
 *
 * Return: 0 if the range is non-empty and inside the space, else -EINVAL.
 * No sum is formed, so no overflow can let a bad range through.
 */
int kvmem_check_range(uint64_t first, uint64_t count, uint64_t npages)
{
	if (!count || first >= npages || count > npages - first)
		return -EINVAL;
	return 0;
}

/**
 * kvmem_check_migrate() - check the input of KVMEM_IOC_MIGRATE
 * @m: the request, as copied from user space
 *
 * Checks every field that needs no knowledge of the space or the pools;
 * the range is the caller's check.
 *
 * Return: 0 or -EINVAL.
 */
int kvmem_check_migrate(const struct kvmem_migrate *m)
{
	if ((m->flags & ~KVMEM_MIGRATE_FLAGS) || m->pad ||
	    !kvmem_all_zero(m->reserved, sizeof(m->reserved)))
		return -EINVAL;
	return m->tier < KVMEM_NR_TIERS ? 0 : -EINVAL;
}

/**
 * kvmem_check_map() - check a mapping of part of a space
 * @first: first CPU page of the space that the mapping covers
 * @count: CPU pages the mapping covers
 * @total: CPU pages in the space
 *
 * Return: 0 if the mapping lies inside the space, else -EINVAL.
 */
int kvmem_check_map(uint64_t first, uint64_t count, uint64_t total)
{
	return kvmem_check_range(first, count, total);
}

/**
 * kvmem_tier_order() - tiers to try, in order, for a space
 * @preferred: the space's preferred tier
 * @policy: the space's exhaustion policy
 * @order: returns the tiers to try
 *
 * Only %KVMEM_POLICY_FALLBACK looks beyond the preferred tier: first at
 * the slower tiers, nearest first, then at the faster ones, nearest first.
 * Running from a slower tier is better than not running at all, and a
 * faster tier is the scarcest, so it is taken last.
 *
 * Return: the number of tiers written to @order.
 */
int kvmem_tier_order(uint32_t preferred, uint32_t policy,
		     uint32_t order[KVMEM_NR_TIERS])
{
	int n = 0;
	uint32_t t;

	order[n++] = preferred;
	if (policy != KVMEM_POLICY_FALLBACK)
		return n;
	for (t = preferred + 1; t < KVMEM_NR_TIERS; t++)
		order[n++] = t;
	for (t = preferred; t-- > 0;)
		order[n++] = t;
	return n;
}

/**
 * kvmem_tier_parse() - tier named by a string
 * @s: the name, "hbm", "dram" or "cxl"; not necessarily NUL-terminated
 * @len: its length; one trailing newline is ignored (sysfs writes)
 *
 * Return: the KVMEM_TIER_* value, or -EINVAL.
 */
int kvmem_tier_parse(const char *s, size_t len)
{
	int t;

	if (len && s[len - 1] == '\n')
		len--;
	for (t = 0; t < KVMEM_NR_TIERS; t++) {
		const char *name = kvmem_tier_names[t];
		size_t i = 0;

		while (i < len && name[i] && name[i] == s[i])
			i++;
		if (i == len && !name[i])
			return t;
	}
	return -EINVAL;
}

/**
 * kvmem_tier_name() - name of a tier
 * @tier: KVMEM_TIER_* value
 *
 * Return: "hbm", "dram", "cxl", or "?" for an unknown value.
 */
const char *kvmem_tier_name(uint32_t tier)
{
	return tier < KVMEM_NR_TIERS ? kvmem_tier_names[tier] : "?";
}

/**
 * kvmem_parse_tier_map() - parse the "tiers" module parameter
 * @spec: "<node>:<tier>[,<node>:<tier>...]", or empty
 * @tiers: array of @nnodes entries; entry n gets the tier named for node n,
 *	entries not named are left as they are
 * @nnodes: number of entries in @tiers
 *
 * Return: 0, or -EINVAL if @spec is malformed, names an unknown tier or a
 * node >= @nnodes. On error, @tiers may be partly written.
 */
int kvmem_parse_tier_map(const char *spec, int *tiers, unsigned int nnodes)
{
	const char *p = spec;

	while (*p) {
		unsigned long node = 0;
		const char *name;
		int digits = 0, tier;

		while (*p >= '0' && *p <= '9' && digits < 6) {
			node = node * 10 + (unsigned long)(*p++ - '0');
			digits++;
		}
		if (!digits || *p++ != ':' || node >= nnodes)
			return -EINVAL;
		name = p;
		while (*p && *p != ',' && *p != '\n')
			p++;
		tier = kvmem_tier_parse(name, (size_t)(p - name));
		if (tier < 0)
			return tier;
		tiers[node] = tier;
		if (*p == '\n' && !p[1])
			break;
		if (*p == ',' && !*++p)
			return -EINVAL;	/* trailing comma */
	}
	return 0;
}

/**
 * kvmem_parse_quota() - parse a quota written to sysfs
 * @s: "max" or a number of frames (decimal); not necessarily NUL-terminated
 * @len: its length; one trailing newline is ignored
 * @quota: returns the number, or UINT64_MAX for "max"
 *
 * Return: 0, or -EINVAL if @s is neither.
 */
int kvmem_parse_quota(const char *s, size_t len, uint64_t *quota)
{
	uint64_t v = 0;
	size_t i;

	if (len && s[len - 1] == '\n')
		len--;
	if (len == 3 && s[0] == 'm' && s[1] == 'a' && s[2] == 'x') {
		*quota = UINT64_MAX;
		return 0;
	}
	if (!len || len > 19)
		return -EINVAL;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*quota = v;
	return 0;
}

/**
 * kvmem_check_swap() - check the fields of KVMEM_IOC_SWAP that need no space
 * @s: the request, as copied from user space
 *
 * BEGIN's range and host offset are checked against the spaces by the
 * caller; COMMIT and ABORT carry nothing but the handle (and COMMIT's
 * @bytes).
 *
 * Return: 0 or -EINVAL.
 */
int kvmem_check_swap(const struct kvmem_swap *s)
{
	if (s->op >= KVMEM_NR_SWAP_OPS ||
	    !kvmem_all_zero(s->reserved, sizeof(s->reserved)))
		return -EINVAL;
	if (s->op == KVMEM_SWAP_BEGIN)
		return (s->flags & ~KVMEM_SWAP_OUT) || s->bytes || !s->count ?
		       -EINVAL : 0;
	if (s->flags || s->host || s->first || s->count || s->host_offset ||
	    s->cookie || (s->op == KVMEM_SWAP_ABORT && s->bytes))
		return -EINVAL;
	return 0;
}
