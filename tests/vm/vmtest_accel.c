// SPDX-License-Identifier: GPL-2.0
/*
 * kvmem-vmtest: libaccel's host backend on the real module
 * (Documentation/libaccel.md).
 */
#include <string.h>

#include "accel.h"
#include "vmtest.h"

static const struct accel_geometry small_geo = {
	.layers = 2, .kv_heads = 2, .head_dim = 64,
	.dtype = ACCEL_DTYPE_F16, .max_tokens = 4096,
	.layout = ACCEL_LAYOUT_PER_LAYER,
};

/* Fills tokens [from, to) of every tensor with the pattern of seed. */
static void fill_tokens(struct accel_seq *s, const struct accel_geometry *g,
			uint64_t from, uint64_t to, uint64_t seed)
{
	for (uint32_t l = 0; l < g->layers; l++) {
		for (uint32_t kv = 0; kv < 2; kv++) {
			struct accel_tensor t;
			uint64_t row = (uint64_t)g->kv_heads * g->head_dim *
				       accel_dtype_size(g->dtype);

			accel_seq_tensor(s, l, kv, &t);
			for (uint64_t i = from; i < to; i++)
				pat_fill((uint8_t *)(uintptr_t)t.base +
					 i * t.token_stride, row,
					 seed + 2 * l + kv, i * row / 8);
		}
	}
}

static uint64_t check_tokens(struct accel_seq *s,
			     const struct accel_geometry *g, uint64_t from,
			     uint64_t to, uint64_t seed)
{
	uint64_t bad = 0;

	for (uint32_t l = 0; l < g->layers; l++) {
		for (uint32_t kv = 0; kv < 2; kv++) {
			struct accel_tensor t;
			uint64_t row = (uint64_t)g->kv_heads * g->head_dim *
				       accel_dtype_size(g->dtype);

			accel_seq_tensor(s, l, kv, &t);
			for (uint64_t i = from; i < to; i++)
				bad += pat_check((uint8_t *)(uintptr_t)t.base +
						 i * t.token_stride, row,
						 seed + 2 * l + kv,
						 i * row / 8) != UINT64_MAX;
		}
	}
	return bad;
}

void test_accel_smoke(void)
{
	struct accel_open_opts o;
	struct accel_ctx *ctx = NULL;
	struct accel_seq *s = NULL;
	struct accel_completion c[4];
	struct accel_stats st;
	struct accel_info info;
	struct kv_snap s0;
	int ret, n;

	snap_take(&s0);
	accel_open_opts_init(&o);
	o.step_ahead = 4;
	o.tokens_per_step = 16;
	ret = accel_open(&o, &ctx);
	if (!CHECK_ERR(-ret, 0, "accel_open"))
		goto out;
	CHECK_ERR(-accel_info(ctx, &info), 0, "accel_info");
	CHECK_EQ(info.backend, ACCEL_BACKEND_HOST, "backend is host");
	CHECK_ERR(-accel_seq_create(ctx, &small_geo, NULL, &s), 0,
		  "accel_seq_create");
	if (!s)
		goto out;
	for (uint64_t t = 16; t <= 1024; t += 16) {
		ret = accel_seq_grow(s, t);
		if (!CHECK(ret >= 0, "grow to %llu: %d", U(t), ret))
			goto out;
		fill_tokens(s, &small_geo, t - 16, t, 77);
	}
	CHECK_EQ(check_tokens(s, &small_geo, 0, 1024, 77), 0, "tokens intact");
	CHECK_ERR(-accel_seq_swap_out(s), 0, "swap out");
	CHECK_ERR(-accel_seq_wait(s, 20000), 0, "swap out done");
	CHECK_EQ(accel_seq_state(s), ACCEL_SEQ_SWAPPED, "state swapped");
	CHECK_ERR(-accel_seq_swap_in(s), 0, "swap in");
	CHECK_ERR(-accel_seq_wait(s, 20000), 0, "swap in done");
	CHECK_EQ(accel_seq_state(s), ACCEL_SEQ_RESIDENT, "state resident");
	n = accel_poll_completions(ctx, c, 4);
	CHECK_EQ(n, 2, "two completions");
	CHECK_EQ(check_tokens(s, &small_geo, 0, 1024, 77), 0,
		 "tokens intact after the round trip");
	CHECK_ERR(-accel_seq_swap_out(s), 0, "swap out again");
	CHECK_ERR(-accel_seq_wait(s, 20000), 0, "swap out done");
	n = accel_poll_completions(ctx, c, 4);
	CHECK_EQ(n, 1, "one completion");
	CHECK_EQ(c[0].bytes_copied, 0, "second swap-out copies nothing");
	accel_stats(ctx, &st);
	INFO("grow calls %llu blocked %llu ahead pages %llu sync pages %llu",
	     U(st.grow_calls), U(st.grow_blocked), U(st.pages_mapped_ahead),
	     U(st.pages_mapped_sync));
out:
	accel_seq_destroy(s);
	accel_close(ctx);
	snap_back(&s0, 5000, "after accel_close");
}
