// SPDX-License-Identifier: GPL-2.0
/* Unit tests of kvmem's argument checks and parsers, kmod/validate.c. */
#include <stdint.h>
#include <string.h>

#include "unit.h"
#include "validate.h"

#define PS 65536ULL

static struct kvmem_space_create good_create(void)
{
	struct kvmem_space_create c;

	memset(&c, 0, sizeof(c));
	c.size = 16 * PS;
	c.tier = KVMEM_TIER_DRAM;
	c.policy = KVMEM_POLICY_FAIL;
	return c;
}

static void page_sizes(void)
{
	uint64_t s;

	for (s = 4096; s <= 2097152; s *= 2)
		CHECK(kvmem_page_size_valid(s));
	CHECK(!kvmem_page_size_valid(0));
	CHECK(!kvmem_page_size_valid(2048));
	CHECK(!kvmem_page_size_valid(4194304));
	CHECK(!kvmem_page_size_valid(12288));
	CHECK(!kvmem_page_size_valid(65537));
	CHECK(!kvmem_page_size_valid(1ULL << 63));
	CHECK_EQ(KVMEM_PAGE_SIZES, 0x3ff000);
}

static void all_zero(void)
{
	uint64_t r[4] = { 0 };

	CHECK(kvmem_all_zero(r, sizeof(r)));
	CHECK(kvmem_all_zero(r, 0));
	r[3] = 1ULL << 63;
	CHECK(!kvmem_all_zero(r, sizeof(r)));
}

static void create_accepts_good(void)
{
	struct kvmem_space_create c = good_create();

	CHECK_EQ(kvmem_check_space_create(&c, PS, 4), 0);
	c.size = KVMEM_SPACE_MAX_BYTES;
	CHECK_EQ(kvmem_check_space_create(&c, PS, 4), 0);
	c.policy = KVMEM_POLICY_WAIT;
	c.timeout_ms = 1;
	CHECK_EQ(kvmem_check_space_create(&c, PS, 4), 0);
	c.timeout_ms = KVMEM_WAIT_MAX_MS;
	CHECK_EQ(kvmem_check_space_create(&c, PS, 4), 0);
	c.policy = KVMEM_POLICY_FALLBACK;
	c.timeout_ms = 0;
	c.tier = KVMEM_TIER_CXL;
	CHECK_EQ(kvmem_check_space_create(&c, PS, 4), 0);
}

/* Each case breaks exactly one field of a good request. */
static void create_rejects_each_field(void)
{
	struct kvmem_space_create c;
	int i;

	c = good_create(); c.flags = 2;
	CHECK_EQ(kvmem_check_space_create(&c, PS, 4), -EINVAL);
	c = good_create(); c.flags = 1U << 31;
	CHECK_EQ(kvmem_check_space_create(&c, PS, 4), -EINVAL);
	c = good_create(); c.pad = 1;
	CHECK_EQ(kvmem_check_space_create(&c, PS, 4), -EINVAL);
	c = good_create(); c.pad2 = 1;
	CHECK_EQ(kvmem_check_space_create(&c, PS, 4), -EINVAL);
	c = good_create(); c.pool = 1;	/* a pool without DEVICE */
	CHECK_EQ(kvmem_check_space_create(&c, PS, 4), -EINVAL);
	for (i = 0; i < 3; i++) {
		c = good_create(); c.reserved_in[i] = 1;
		CHECK_EQ(kvmem_check_space_create(&c, PS, 4), -EINVAL);
	}
	c = good_create(); c.size = 0;
	CHECK_EQ(kvmem_check_space_create(&c, PS, 4), -EINVAL);
	c = good_create(); c.size = PS + 4096;
	CHECK_EQ(kvmem_check_space_create(&c, PS, 4), -EINVAL);
	c = good_create(); c.size = KVMEM_SPACE_MAX_BYTES + PS;
	CHECK_EQ(kvmem_check_space_create(&c, PS, 4), -EINVAL);
	c = good_create(); c.size = UINT64_MAX - PS + 1;
	CHECK_EQ(kvmem_check_space_create(&c, PS, 4), -EINVAL);
	c = good_create(); c.tenant = 4;
	CHECK_EQ(kvmem_check_space_create(&c, PS, 4), -EINVAL);
	c = good_create(); c.tier = KVMEM_NR_TIERS;
	CHECK_EQ(kvmem_check_space_create(&c, PS, 4), -EINVAL);
	c = good_create(); c.tier = UINT32_MAX;
	CHECK_EQ(kvmem_check_space_create(&c, PS, 4), -EINVAL);
	c = good_create(); c.policy = KVMEM_NR_POLICIES;
	CHECK_EQ(kvmem_check_space_create(&c, PS, 4), -EINVAL);
	c = good_create(); c.policy = KVMEM_POLICY_WAIT; c.timeout_ms = 0;
	CHECK_EQ(kvmem_check_space_create(&c, PS, 4), -EINVAL);
	c = good_create(); c.policy = KVMEM_POLICY_WAIT;
	c.timeout_ms = KVMEM_WAIT_MAX_MS + 1;
	CHECK_EQ(kvmem_check_space_create(&c, PS, 4), -EINVAL);
	c = good_create(); c.timeout_ms = 5;
	CHECK_EQ(kvmem_check_space_create(&c, PS, 4), -EINVAL);
	c = good_create(); c.policy = KVMEM_POLICY_FALLBACK; c.timeout_ms = 5;
	CHECK_EQ(kvmem_check_space_create(&c, PS, 4), -EINVAL);
}

/* KVMEM_SPACE_DEVICE: any pool (the caller checks it), no FALLBACK. */
static void create_device(void)
{
	const uint64_t fs = 2 * 1024 * 1024;
	struct kvmem_space_create c = good_create();

	c.flags = KVMEM_SPACE_DEVICE;
	c.pool = 5;
	c.size = 3 * fs;
	CHECK_EQ(kvmem_check_space_create(&c, fs, 4), 0);
	c.policy = KVMEM_POLICY_WAIT;
	c.timeout_ms = 10;
	CHECK_EQ(kvmem_check_space_create(&c, fs, 4), 0);
	c.policy = KVMEM_POLICY_FALLBACK;
	c.timeout_ms = 0;
	CHECK_EQ(kvmem_check_space_create(&c, fs, 4), -EINVAL);
	c.policy = KVMEM_POLICY_FAIL;
	c.size = 3 * fs + PS;	/* a multiple of the node page, not the frame */
	CHECK_EQ(kvmem_check_space_create(&c, fs, 4), -EINVAL);
	c.size = 3 * fs;
	c.pad2 = 1;
	CHECK_EQ(kvmem_check_space_create(&c, fs, 4), -EINVAL);
	c.pad2 = 0;
	c.flags |= 2;
	CHECK_EQ(kvmem_check_space_create(&c, fs, 4), -EINVAL);
}

static struct kvmem_device_pool good_devpool(void)
{
	struct kvmem_device_pool d;

	memset(&d, 0, sizeof(d));
	d.device = 3;
	d.frame_size = 2 * 1024 * 1024;
	d.frames = 40960;
	d.tier = KVMEM_TIER_HBM;
	return d;
}

static void device_pool(void)
{
	struct kvmem_device_pool d;
	struct kvmem_device_pool_remove r;
	int i;

	d = good_devpool();
	CHECK_EQ(kvmem_check_device_pool(&d, 4096), 0);
	d.index = 9;		/* output only */
	d.device = UINT32_MAX;	/* the registrar's choice */
	CHECK_EQ(kvmem_check_device_pool(&d, 4096), 0);
	d = good_devpool(); d.frame_size = 4096; d.frames = 1;
	CHECK_EQ(kvmem_check_device_pool(&d, 4096), 0);
	d = good_devpool(); d.frame_size = KVMEM_DEVICE_FRAME_SIZE_MAX;
	d.frames = KVMEM_DEVICE_FRAMES_MAX; d.tier = KVMEM_TIER_CXL;
	CHECK_EQ(kvmem_check_device_pool(&d, 4096), 0);

	d = good_devpool(); d.flags = 1;
	CHECK_EQ(kvmem_check_device_pool(&d, 4096), -EINVAL);
	d = good_devpool(); d.pad = 1;
	CHECK_EQ(kvmem_check_device_pool(&d, 4096), -EINVAL);
	d = good_devpool(); d.pad2 = 1;
	CHECK_EQ(kvmem_check_device_pool(&d, 4096), -EINVAL);
	for (i = 0; i < 4; i++) {
		d = good_devpool(); d.reserved[i] = 1;
		CHECK_EQ(kvmem_check_device_pool(&d, 4096), -EINVAL);
	}
	d = good_devpool(); d.frame_size = 0;
	CHECK_EQ(kvmem_check_device_pool(&d, 4096), -EINVAL);
	d = good_devpool(); d.frame_size = 2048;
	CHECK_EQ(kvmem_check_device_pool(&d, 4096), -EINVAL);
	d = good_devpool(); d.frame_size = 8192;	/* below a 16K CPU page */
	CHECK_EQ(kvmem_check_device_pool(&d, 16384), -EINVAL);
	d = good_devpool(); d.frame_size = 3 * 65536;
	CHECK_EQ(kvmem_check_device_pool(&d, 4096), -EINVAL);
	d = good_devpool(); d.frame_size = 2 * KVMEM_DEVICE_FRAME_SIZE_MAX;
	CHECK_EQ(kvmem_check_device_pool(&d, 4096), -EINVAL);
	d = good_devpool(); d.frame_size = 1ULL << 63;
	CHECK_EQ(kvmem_check_device_pool(&d, 4096), -EINVAL);
	d = good_devpool(); d.frames = 0;
	CHECK_EQ(kvmem_check_device_pool(&d, 4096), -EINVAL);
	d = good_devpool(); d.frames = KVMEM_DEVICE_FRAMES_MAX + 1;
	CHECK_EQ(kvmem_check_device_pool(&d, 4096), -EINVAL);
	d = good_devpool(); d.tier = KVMEM_NR_TIERS;
	CHECK_EQ(kvmem_check_device_pool(&d, 4096), -EINVAL);

	memset(&r, 0, sizeof(r));
	r.index = 12345;	/* the caller's check */
	CHECK_EQ(kvmem_check_device_pool_remove(&r), 0);
	r.flags = 1;
	CHECK_EQ(kvmem_check_device_pool_remove(&r), -EINVAL);
	r.flags = 0;
	r.reserved[1] = 1;
	CHECK_EQ(kvmem_check_device_pool_remove(&r), -EINVAL);
}

static void create_ignores_out_fields(void)
{
	struct kvmem_space_create c = good_create();

	c.handle = 7;
	c.mmap_offset = 1;
	c.npages = 3;
	c.page_size = 5;
	c.reserved_out[0] = 9;
	CHECK_EQ(kvmem_check_space_create(&c, PS, 4), 0);
}

static void create_tenant_priority(void)
{
	struct kvmem_space_create c = good_create();

	c.tenant = 3;
	c.priority = -7;
	CHECK_EQ(kvmem_check_space_create(&c, PS, 4), 0);
	c.tenant = UINT32_MAX;
	CHECK_EQ(kvmem_check_space_create(&c, PS, 4), -EINVAL);
}

static void space_set(void)
{
	struct kvmem_space_set s;
	int i;

	memset(&s, 0, sizeof(s));
	CHECK_EQ(kvmem_check_space_set(&s, 4), -EINVAL);	/* no flag */
	s.flags = KVMEM_SET_PRIORITY;
	s.tenant = 99;		/* ignored without KVMEM_SET_TENANT */
	CHECK_EQ(kvmem_check_space_set(&s, 4), 0);
	s.flags = KVMEM_SET_TOKENS | KVMEM_SET_PRIORITY;
	CHECK_EQ(kvmem_check_space_set(&s, 4), 0);
	s.flags = KVMEM_SET_TENANT;
	CHECK_EQ(kvmem_check_space_set(&s, 4), -EINVAL);
	s.tenant = 3;
	CHECK_EQ(kvmem_check_space_set(&s, 4), 0);
	s.flags = KVMEM_SET_FLAGS + 1;
	CHECK_EQ(kvmem_check_space_set(&s, 4), -EINVAL);
	s.flags = 1U << 31;
	CHECK_EQ(kvmem_check_space_set(&s, 4), -EINVAL);
	for (i = 0; i < 2; i++) {
		s.flags = KVMEM_SET_TOKENS;
		s.reserved[i] = 1;
		CHECK_EQ(kvmem_check_space_set(&s, 4), -EINVAL);
		s.reserved[i] = 0;
	}
	s.flags = KVMEM_SET_DEMAND;
	for (i = 0; i < KVMEM_NR_DEMANDS; i++) {
		s.demand = i;
		CHECK_EQ(kvmem_check_space_set(&s, 4), 0);
	}
	s.demand = KVMEM_NR_DEMANDS;
	CHECK_EQ(kvmem_check_space_set(&s, 4), -EINVAL);
	s.demand = UINT32_MAX;
	CHECK_EQ(kvmem_check_space_set(&s, 4), -EINVAL);
	s.flags = KVMEM_SET_PRIORITY;	/* ignored without KVMEM_SET_DEMAND */
	CHECK_EQ(kvmem_check_space_set(&s, 4), 0);
	s.demand = 0;
	s.pad = 1;
	CHECK_EQ(kvmem_check_space_set(&s, 4), -EINVAL);
}

static void run(void)
{
	struct kvmem_run r;
	int i;

	memset(&r, 0, sizeof(r));
	CHECK_EQ(kvmem_check_run(&r), 0);
	r.state = KVMEM_RUN_PREFETCH;
	r.tier = KVMEM_TIER_CXL;
	r.cookie = UINT64_MAX;
	CHECK_EQ(kvmem_check_run(&r), 0);
	r.state = KVMEM_NR_RUN_STATES;
	CHECK_EQ(kvmem_check_run(&r), -EINVAL);
	r.state = 0;
	r.tier = KVMEM_NR_TIERS;
	CHECK_EQ(kvmem_check_run(&r), -EINVAL);
	r.tier = 0;
	r.flags = 1;
	CHECK_EQ(kvmem_check_run(&r), -EINVAL);
	r.flags = 0;
	for (i = 0; i < 2; i++) {
		r.reserved[i] = 1;
		CHECK_EQ(kvmem_check_run(&r), -EINVAL);
		r.reserved[i] = 0;
	}
}

static void swap(void)
{
	struct kvmem_swap s;

	memset(&s, 0, sizeof(s));
	CHECK_EQ(kvmem_check_swap(&s), -EINVAL);	/* BEGIN, count 0 */
	s.count = 1;
	s.flags = KVMEM_SWAP_OUT;
	s.cookie = 5;
	CHECK_EQ(kvmem_check_swap(&s), 0);
	s.flags = 2;
	CHECK_EQ(kvmem_check_swap(&s), -EINVAL);
	s.flags = 0;
	s.bytes = 1;
	CHECK_EQ(kvmem_check_swap(&s), -EINVAL);
	memset(&s, 0, sizeof(s));
	s.op = KVMEM_SWAP_COMMIT;
	s.bytes = 1;
	CHECK_EQ(kvmem_check_swap(&s), 0);
	s.count = 1;
	CHECK_EQ(kvmem_check_swap(&s), -EINVAL);
	s.count = 0;
	s.op = KVMEM_SWAP_ABORT;
	CHECK_EQ(kvmem_check_swap(&s), -EINVAL);
	s.bytes = 0;
	CHECK_EQ(kvmem_check_swap(&s), 0);
	s.reserved[1] = 1;
	CHECK_EQ(kvmem_check_swap(&s), -EINVAL);
	s.reserved[1] = 0;
	s.op = KVMEM_NR_SWAP_OPS;
	CHECK_EQ(kvmem_check_swap(&s), -EINVAL);
}

static void quotas(void)
{
	uint64_t q = 0;

	CHECK_EQ(kvmem_parse_quota("max", 3, &q), 0);
	CHECK(q == UINT64_MAX);
	CHECK_EQ(kvmem_parse_quota("max\n", 4, &q), 0);
	CHECK_EQ(kvmem_parse_quota("0\n", 2, &q), 0);
	CHECK_EQ(q, 0);
	CHECK_EQ(kvmem_parse_quota("4096", 4, &q), 0);
	CHECK_EQ(q, 4096);
	CHECK_EQ(kvmem_parse_quota("", 0, &q), -EINVAL);
	CHECK_EQ(kvmem_parse_quota("\n", 1, &q), -EINVAL);
	CHECK_EQ(kvmem_parse_quota("-1", 2, &q), -EINVAL);
	CHECK_EQ(kvmem_parse_quota("12a", 3, &q), -EINVAL);
	CHECK_EQ(kvmem_parse_quota("MAX", 3, &q), -EINVAL);
	CHECK_EQ(kvmem_parse_quota("0x10", 4, &q), -EINVAL);
	CHECK_EQ(kvmem_parse_quota("12345678901234567890", 20, &q), -EINVAL);
}

static void ranges(void)
{
	CHECK_EQ(kvmem_check_range(0, 1, 1), 0);
	CHECK_EQ(kvmem_check_range(0, 10, 10), 0);
	CHECK_EQ(kvmem_check_range(9, 1, 10), 0);
	CHECK_EQ(kvmem_check_range(0, 0, 10), -EINVAL);
	CHECK_EQ(kvmem_check_range(10, 1, 10), -EINVAL);
	CHECK_EQ(kvmem_check_range(9, 2, 10), -EINVAL);
	CHECK_EQ(kvmem_check_range(0, 11, 10), -EINVAL);
	CHECK_EQ(kvmem_check_range(UINT64_MAX, 2, 10), -EINVAL);
	CHECK_EQ(kvmem_check_range(5, UINT64_MAX, 10), -EINVAL);
	CHECK_EQ(kvmem_check_range(UINT64_MAX - 1, 2, UINT64_MAX), -EINVAL);
	CHECK_EQ(kvmem_check_range(UINT64_MAX - 1, 1, UINT64_MAX), 0);
	CHECK_EQ(kvmem_check_range(0, 1, 0), -EINVAL);
	CHECK_EQ(kvmem_check_map(16, 16, 32), 0);
	CHECK_EQ(kvmem_check_map(16, 17, 32), -EINVAL);
}

static void tier_orders(void)
{
	uint32_t o[KVMEM_NR_TIERS];

	CHECK_EQ(kvmem_tier_order(KVMEM_TIER_DRAM, KVMEM_POLICY_FAIL, o), 1);
	CHECK_EQ(o[0], KVMEM_TIER_DRAM);
	CHECK_EQ(kvmem_tier_order(KVMEM_TIER_CXL, KVMEM_POLICY_WAIT, o), 1);
	CHECK_EQ(o[0], KVMEM_TIER_CXL);

	CHECK_EQ(kvmem_tier_order(KVMEM_TIER_HBM, KVMEM_POLICY_FALLBACK, o), 3);
	CHECK_EQ(o[0], KVMEM_TIER_HBM);
	CHECK_EQ(o[1], KVMEM_TIER_DRAM);
	CHECK_EQ(o[2], KVMEM_TIER_CXL);
	CHECK_EQ(kvmem_tier_order(KVMEM_TIER_DRAM, KVMEM_POLICY_FALLBACK, o), 3);
	CHECK_EQ(o[0], KVMEM_TIER_DRAM);
	CHECK_EQ(o[1], KVMEM_TIER_CXL);
	CHECK_EQ(o[2], KVMEM_TIER_HBM);
	CHECK_EQ(kvmem_tier_order(KVMEM_TIER_CXL, KVMEM_POLICY_FALLBACK, o), 3);
	CHECK_EQ(o[0], KVMEM_TIER_CXL);
	CHECK_EQ(o[1], KVMEM_TIER_DRAM);
	CHECK_EQ(o[2], KVMEM_TIER_HBM);
}

static void tier_names(void)
{
	CHECK_EQ(kvmem_tier_parse("hbm", 3), KVMEM_TIER_HBM);
	CHECK_EQ(kvmem_tier_parse("dram\n", 5), KVMEM_TIER_DRAM);
	CHECK_EQ(kvmem_tier_parse("cxl", 3), KVMEM_TIER_CXL);
	CHECK_EQ(kvmem_tier_parse("cxlx", 4), -EINVAL);
	CHECK_EQ(kvmem_tier_parse("cx", 2), -EINVAL);
	CHECK_EQ(kvmem_tier_parse("", 0), -EINVAL);
	CHECK_EQ(kvmem_tier_parse("\n", 1), -EINVAL);
	CHECK_EQ(kvmem_tier_parse("dram\n\n", 6), -EINVAL);
	CHECK_EQ(kvmem_tier_parse("DRAM", 4), -EINVAL);
	CHECK_EQ(kvmem_tier_parse("hbm", 2), -EINVAL);
	CHECK(!strcmp(kvmem_tier_name(KVMEM_TIER_HBM), "hbm"));
	CHECK(!strcmp(kvmem_tier_name(KVMEM_TIER_CXL), "cxl"));
	CHECK(!strcmp(kvmem_tier_name(KVMEM_NR_TIERS), "?"));
}

static void tier_maps(void)
{
	int t[4] = { -1, -1, -1, -1 };

	CHECK_EQ(kvmem_parse_tier_map("", t, 4), 0);
	CHECK_EQ(t[0], -1);
	CHECK_EQ(kvmem_parse_tier_map("1:hbm", t, 4), 0);
	CHECK_EQ(t[1], KVMEM_TIER_HBM);
	CHECK_EQ(kvmem_parse_tier_map("0:cxl,3:dram\n", t, 4), 0);
	CHECK_EQ(t[0], KVMEM_TIER_CXL);
	CHECK_EQ(t[3], KVMEM_TIER_DRAM);
	CHECK_EQ(t[2], -1);

	CHECK_EQ(kvmem_parse_tier_map("4:hbm", t, 4), -EINVAL);
	CHECK_EQ(kvmem_parse_tier_map("1:fast", t, 4), -EINVAL);
	CHECK_EQ(kvmem_parse_tier_map("1hbm", t, 4), -EINVAL);
	CHECK_EQ(kvmem_parse_tier_map(":hbm", t, 4), -EINVAL);
	CHECK_EQ(kvmem_parse_tier_map("1:", t, 4), -EINVAL);
	CHECK_EQ(kvmem_parse_tier_map("1:hbm,", t, 4), -EINVAL);
	CHECK_EQ(kvmem_parse_tier_map("1:hbm,,2:cxl", t, 4), -EINVAL);
	CHECK_EQ(kvmem_parse_tier_map("-1:hbm", t, 4), -EINVAL);
	CHECK_EQ(kvmem_parse_tier_map("99999999:hbm", t, 4), -EINVAL);
	CHECK_EQ(kvmem_parse_tier_map("1:hbm\n2:cxl", t, 4), -EINVAL);
}

static const struct unit_case cases[] = {
	UNIT_CASE(page_sizes),
	UNIT_CASE(all_zero),
	UNIT_CASE(create_accepts_good),
	UNIT_CASE(create_rejects_each_field),
	UNIT_CASE(create_device),
	UNIT_CASE(device_pool),
	UNIT_CASE(create_ignores_out_fields),
	UNIT_CASE(create_tenant_priority),
	UNIT_CASE(space_set),
	UNIT_CASE(run),
	UNIT_CASE(swap),
	UNIT_CASE(quotas),
	UNIT_CASE(ranges),
	UNIT_CASE(tier_orders),
	UNIT_CASE(tier_names),
	UNIT_CASE(tier_maps),
};

UNIT_MAIN("validate", cases)
