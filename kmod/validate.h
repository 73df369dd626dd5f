/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Argument checks and small parsers of kvmem that use no kernel API, so
 * that the unit tests can run every branch of them in user space.
 */
#ifndef KVMEM_VALIDATE_H
#define KVMEM_VALIDATE_H

#include "plain.h"
#include <linux/kvmem.h>

#define KVMEM_PAGE_SHIFT_MIN	12	/* 4 KiB */
#define KVMEM_PAGE_SHIFT_MAX	21	/* 2 MiB */

/* Bit n set: 2^n bytes is a supported page size. */
#define KVMEM_PAGE_SIZES \
	(((1ULL << (KVMEM_PAGE_SHIFT_MAX + 1)) - 1) & \
	 ~((1ULL << KVMEM_PAGE_SHIFT_MIN) - 1))

bool kvmem_page_size_valid(uint64_t size);
bool kvmem_all_zero(const void *p, size_t len);
int kvmem_check_space_create(const struct kvmem_space_create *c,
			     uint64_t page_size, uint32_t ntenants);
int kvmem_check_device_pool(const struct kvmem_device_pool *d,
			    uint64_t cpu_page_size);
int kvmem_check_device_pool_remove(const struct kvmem_device_pool_remove *r);
int kvmem_check_space_set(const struct kvmem_space_set *s, uint32_t ntenants);
int kvmem_check_run(const struct kvmem_run *r);
int kvmem_check_swap(const struct kvmem_swap *s);
int kvmem_check_range(uint64_t first, uint64_t count, uint64_t npages);
int kvmem_check_migrate(const struct kvmem_migrate *m);
int kvmem_check_map(uint64_t first, uint64_t count, uint64_t total);
int kvmem_tier_order(uint32_t preferred, uint32_t policy,
		     uint32_t order[KVMEM_NR_TIERS]);
int kvmem_tier_parse(const char *s, size_t len);
const char *kvmem_tier_name(uint32_t tier);
int kvmem_parse_tier_map(const char *spec, int *tiers, unsigned int nnodes);
int kvmem_parse_quota(const char *s, size_t len, uint64_t *quota);

#endif /* KVMEM_VALIDATE_H */
