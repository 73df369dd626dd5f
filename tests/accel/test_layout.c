// SPDX-License-Identifier: LGPL-2.1-or-later
/* Unit tests of libaccel's layouts and best fit (libaccel/layout.c). */
#include <errno.h>
#include <stdint.h>

#include "layout.h"
#include "../unit/unit.h"

static struct accel_geometry geo(uint32_t layout)
{
	struct accel_geometry g = {
		.layers = 4, .kv_heads = 8, .head_dim = 128,
		.dtype = ACCEL_DTYPE_F16, .max_tokens = 1000, .layout = layout,
	};

	return g;
}

static void per_layer_is_vattention(void)
{
	struct accel_geometry g = geo(ACCEL_LAYOUT_PER_LAYER);
	struct accel_plan l;
	uint64_t off;
	uint32_t sp;

	CHECK_EQ(accel_layout_make(&g, 65536, &l), 0);
	CHECK_EQ(l.nspaces, 8);
	CHECK_EQ(l.tensor_bytes, 8 * 128 * 2);
	CHECK_EQ(l.token_bytes, 2048);
	/* 1000 tokens * 2 KiB = 2,048,000 B -> 32 pages of 64 KiB */
	CHECK_EQ(l.space_bytes, 32 * 65536);
	accel_layout_tensor(&l, 3, ACCEL_V, &sp, &off);
	CHECK_EQ(sp, 7);
	CHECK_EQ(off, 0);
	accel_layout_tensor(&l, 0, ACCEL_K, &sp, &off);
	CHECK_EQ(sp, 0);
}

static void per_seq_is_token_major(void)
{
	struct accel_geometry g = geo(ACCEL_LAYOUT_PER_SEQ);
	struct accel_plan l;
	uint64_t off;
	uint32_t sp;

	CHECK_EQ(accel_layout_make(&g, 65536, &l), 0);
	CHECK_EQ(l.nspaces, 1);
	CHECK_EQ(l.token_bytes, 2 * 4 * 2048);
	CHECK_EQ(l.space_bytes, 250 * 65536);	/* 16,384,000 B */
	accel_layout_tensor(&l, 2, ACCEL_V, &sp, &off);
	CHECK_EQ(sp, 0);
	CHECK_EQ(off, (2 * 2 + 1) * 2048);
}

static void pages_and_tokens_round_trip(void)
{
	struct accel_geometry g = geo(ACCEL_LAYOUT_PER_LAYER);
	struct accel_plan l;
	uint64_t t;

	CHECK_EQ(accel_layout_make(&g, 65536, &l), 0);
	CHECK_EQ(accel_layout_pages(&l, 0), 0);
	CHECK_EQ(accel_layout_pages(&l, 1), 1);
	CHECK_EQ(accel_layout_pages(&l, 32), 1);	/* 32 * 2 KiB = 64 KiB */
	CHECK_EQ(accel_layout_pages(&l, 33), 2);
	CHECK_EQ(accel_layout_pages(&l, 1000), 32);
	CHECK_EQ(accel_layout_tokens(&l, 1), 32);
	CHECK_EQ(accel_layout_tokens(&l, 32), 1000);	/* capped */
	CHECK_EQ(accel_layout_tokens(&l, 99), 1000);
	for (t = 0; t <= 1000; t++)
		CHECK(accel_layout_tokens(&l, accel_layout_pages(&l, t)) >= t);
}

static void bad_geometry_is_einval(void)
{
	struct accel_geometry g;
	struct accel_plan l;

	g = geo(0); g.layers = 0;
	CHECK_EQ(accel_layout_make(&g, 65536, &l), -EINVAL);
	g = geo(0); g.kv_heads = 0;
	CHECK_EQ(accel_layout_make(&g, 65536, &l), -EINVAL);
	g = geo(0); g.head_dim = 0;
	CHECK_EQ(accel_layout_make(&g, 65536, &l), -EINVAL);
	g = geo(0); g.dtype = 99;
	CHECK_EQ(accel_layout_make(&g, 65536, &l), -EINVAL);
	g = geo(0); g.max_tokens = 0;
	CHECK_EQ(accel_layout_make(&g, 65536, &l), -EINVAL);
	g = geo(0); g.layout = 2;
	CHECK_EQ(accel_layout_make(&g, 65536, &l), -EINVAL);
	g = geo(0); g.reserved = 1;
	CHECK_EQ(accel_layout_make(&g, 65536, &l), -EINVAL);
	g = geo(0);
	CHECK_EQ(accel_layout_make(&g, 65535, &l), -EINVAL);
	CHECK_EQ(accel_layout_make(&g, 0, &l), -EINVAL);
	CHECK_EQ(accel_layout_make(NULL, 65536, &l), -EINVAL);
	g = geo(ACCEL_LAYOUT_PER_SEQ); g.max_tokens = UINT64_MAX / 2;
	CHECK_EQ(accel_layout_make(&g, 65536, &l), -EOVERFLOW);
	g = geo(0); g.head_dim = UINT32_MAX; g.kv_heads = UINT32_MAX;
	g.dtype = ACCEL_DTYPE_F32;
	CHECK_EQ(accel_layout_make(&g, 65536, &l), -EOVERFLOW);
}

static void best_fit_picks_smallest_enough(void)
{
	const uint64_t m[] = { 8, 3, 5, 12, 5 };

	CHECK_EQ(accel_best_fit(m, 5, 4), 2);	/* 5: first of the two */
	CHECK_EQ(accel_best_fit(m, 5, 6), 0);	/* 8 */
	CHECK_EQ(accel_best_fit(m, 5, 0), 1);	/* 3 */
	CHECK_EQ(accel_best_fit(m, 5, 13), 3);	/* none fits: largest */
	CHECK_EQ(accel_best_fit(m, 0, 1), 0);	/* none at all */
}

static void dtype_sizes(void)
{
	CHECK_EQ(accel_dtype_size(ACCEL_DTYPE_F16), 2);
	CHECK_EQ(accel_dtype_size(ACCEL_DTYPE_BF16), 2);
	CHECK_EQ(accel_dtype_size(ACCEL_DTYPE_F32), 4);
	CHECK_EQ(accel_dtype_size(ACCEL_DTYPE_FP8), 1);
	CHECK_EQ(accel_dtype_size(0), 0);
}

static const struct unit_case cases[] = {
	UNIT_CASE(per_layer_is_vattention),
	UNIT_CASE(per_seq_is_token_major),
	UNIT_CASE(pages_and_tokens_round_trip),
	UNIT_CASE(bad_geometry_is_einval),
	UNIT_CASE(best_fit_picks_smallest_enough),
	UNIT_CASE(dtype_sizes),
};

UNIT_MAIN("accel_layout", cases)
