// SPDX-License-Identifier: GPL-2.0
/* Unit tests of the pool slot allocator, kmod/frame_alloc.c. */
#include <stdint.h>
#include <string.h>

#include "frame_alloc.h"
#include "unit.h"

/* Grows @fa to @cap slots, as the kernel does with kvcalloc/kvfree. */
static void grow(struct kvmem_fa *fa, uint32_t cap)
{
	uint64_t *f = calloc(kvmem_fa_words(cap), sizeof(*f));
	uint64_t *p = calloc(kvmem_fa_words(cap), sizeof(*p));
	uint64_t *of, *op;

	kvmem_fa_grow(fa, f, p, cap, &of, &op);
	free(of);
	free(op);
}

static void done(struct kvmem_fa *fa)
{
	free(fa->free);
	free(fa->present);
}

static void empty_allocator_has_nothing(void)
{
	struct kvmem_fa fa;

	kvmem_fa_init(&fa);
	CHECK_EQ(kvmem_fa_alloc(&fa), -ENOMEM);
	CHECK_EQ(kvmem_fa_add(&fa), -ENOSPC);
	CHECK_EQ(kvmem_fa_take_free(&fa), -ENOMEM);
	CHECK_EQ(kvmem_fa_free(&fa, 0), -EINVAL);
	CHECK_EQ(kvmem_fa_remove(&fa, 0), -EINVAL);
	CHECK(!kvmem_fa_is_used(&fa, 0));
}

static void add_fills_lowest_slots(void)
{
	struct kvmem_fa fa;
	uint32_t i;

	kvmem_fa_init(&fa);
	grow(&fa, 128);
	for (i = 0; i < 128; i++)
		CHECK_EQ(kvmem_fa_add(&fa), i);
	CHECK_EQ(kvmem_fa_add(&fa), -ENOSPC);
	CHECK_EQ(fa.nr_present, 128);
	CHECK_EQ(fa.nr_free, 128);
	done(&fa);
}

static void alloc_free_counts(void)
{
	struct kvmem_fa fa;
	int64_t a, b;

	kvmem_fa_init(&fa);
	grow(&fa, 64);
	kvmem_fa_add(&fa);
	kvmem_fa_add(&fa);
	a = kvmem_fa_alloc(&fa);
	b = kvmem_fa_alloc(&fa);
	CHECK(a >= 0 && b >= 0 && a != b);
	CHECK_EQ(kvmem_fa_alloc(&fa), -ENOMEM);
	CHECK_EQ(fa.nr_free, 0);
	CHECK(kvmem_fa_is_used(&fa, (uint32_t)a));
	CHECK_EQ(kvmem_fa_free(&fa, (uint32_t)a), 0);
	CHECK_EQ(kvmem_fa_free(&fa, (uint32_t)a), -EINVAL);	/* double */
	CHECK_EQ(fa.nr_free, 1);
	CHECK_EQ(kvmem_fa_alloc(&fa), a);
	done(&fa);
}

static void free_rejects_bad_slots(void)
{
	struct kvmem_fa fa;

	kvmem_fa_init(&fa);
	grow(&fa, 64);
	kvmem_fa_add(&fa);
	CHECK_EQ(kvmem_fa_free(&fa, 0), -EINVAL);	/* free, not used */
	CHECK_EQ(kvmem_fa_free(&fa, 1), -EINVAL);	/* empty slot */
	CHECK_EQ(kvmem_fa_free(&fa, 64), -EINVAL);	/* past capacity */
	CHECK_EQ(kvmem_fa_free(&fa, UINT32_MAX), -EINVAL);
	CHECK_EQ(fa.nr_free, 1);
	done(&fa);
}

static void take_free_empties_highest(void)
{
	struct kvmem_fa fa;
	int i;

	kvmem_fa_init(&fa);
	grow(&fa, 192);
	for (i = 0; i < 130; i++)
		kvmem_fa_add(&fa);
	CHECK_EQ(kvmem_fa_take_free(&fa), 129);
	CHECK_EQ(kvmem_fa_take_free(&fa), 128);
	CHECK_EQ(kvmem_fa_take_free(&fa), 127);
	CHECK_EQ(fa.nr_present, 127);
	/* The emptied slots are filled again, lowest first. */
	CHECK_EQ(kvmem_fa_add(&fa), 127);
	done(&fa);
}

static void take_free_skips_used(void)
{
	struct kvmem_fa fa;

	kvmem_fa_init(&fa);
	grow(&fa, 64);
	kvmem_fa_add(&fa);
	kvmem_fa_add(&fa);
	CHECK_EQ(kvmem_fa_alloc(&fa), 0);
	CHECK_EQ(kvmem_fa_alloc(&fa), 1);
	CHECK_EQ(kvmem_fa_take_free(&fa), -ENOMEM);
	CHECK_EQ(fa.nr_present, 2);
	done(&fa);
}

static void remove_takes_used_only(void)
{
	struct kvmem_fa fa;

	kvmem_fa_init(&fa);
	grow(&fa, 64);
	kvmem_fa_add(&fa);
	CHECK_EQ(kvmem_fa_remove(&fa, 0), -EINVAL);	/* it is free */
	CHECK_EQ(kvmem_fa_alloc(&fa), 0);
	CHECK_EQ(kvmem_fa_remove(&fa, 0), 0);
	CHECK_EQ(fa.nr_present, 0);
	CHECK_EQ(fa.nr_free, 0);
	CHECK_EQ(kvmem_fa_remove(&fa, 0), -EINVAL);
	CHECK_EQ(kvmem_fa_add(&fa), 0);
	done(&fa);
}

static void grow_keeps_state(void)
{
	struct kvmem_fa fa;
	int i;

	kvmem_fa_init(&fa);
	grow(&fa, 64);
	for (i = 0; i < 64; i++)
		kvmem_fa_add(&fa);
	for (i = 0; i < 10; i++)
		kvmem_fa_alloc(&fa);
	grow(&fa, 256);
	CHECK_EQ(fa.cap, 256);
	CHECK_EQ(fa.nr_present, 64);
	CHECK_EQ(fa.nr_free, 54);
	for (i = 0; i < 10; i++)
		CHECK(kvmem_fa_is_used(&fa, (uint32_t)i));
	CHECK_EQ(kvmem_fa_add(&fa), 64);
	done(&fa);
}

static void alloc_next_fit_is_sequential(void)
{
	struct kvmem_fa fa;
	int i;

	kvmem_fa_init(&fa);
	grow(&fa, 256);
	for (i = 0; i < 256; i++)
		kvmem_fa_add(&fa);
	for (i = 0; i < 200; i++)
		CHECK_EQ(kvmem_fa_alloc(&fa), i);
	done(&fa);
}

/* Random operations against a plain array model of the slot states. */
static void random_ops_match_model(void)
{
	enum { EMPTY, FREE, USED };
	static unsigned char model[1024];
	struct kvmem_fa fa;
	uint32_t seed = 12345, cap = 64;
	uint32_t i, n_present = 0, n_free = 0;
	int op;

	memset(model, EMPTY, sizeof(model));
	kvmem_fa_init(&fa);
	grow(&fa, cap);
	for (op = 0; op < 200000; op++) {
		uint32_t r, slot;
		int64_t got;

		seed = seed * 1103515245 + 12345;
		r = (seed >> 16) % 8;
		slot = (seed >> 4) % 1024;
		switch (r) {
		case 6: {
			uint32_t n = slot % 40 + 1, run;

			got = kvmem_fa_add_run(&fa, n);
			for (run = 0, i = 0; i < cap && run < n; i++)
				run = model[i] == EMPTY ? run + 1 : 0;
			CHECK_EQ(got, run < n ? -ENOSPC : (int64_t)(i - n));
			if (got < 0)
				break;
			for (i = 0; i < n; i++) {
				CHECK_EQ(model[got + i], EMPTY);
				model[got + i] = FREE;
			}
			n_present += n;
			n_free += n;
			break;
		}
		case 7: {
			uint32_t want = slot % 40 + 1, n = 0;

			got = kvmem_fa_alloc_run(&fa, want, &n);
			if (got < 0) {
				CHECK_EQ(n_free, 0);
				break;
			}
			CHECK(n >= 1 && n <= want);
			for (i = 0; i < n; i++) {
				CHECK_EQ(model[got + i], FREE);
				model[got + i] = USED;
			}
			/* Short only if no run of @want free slots exists. */
			if (n < want) {
				uint32_t run = 0, longest = 0;

				for (i = 0; i < cap; i++) {
					run = model[i] == FREE ? run + 1 : 0;
					longest = run > longest ? run : longest;
				}
				CHECK(longest <= n);
			}
			n_free -= n;
			break;
		}
		case 0:
			got = kvmem_fa_add(&fa);
			if (got == -ENOSPC && cap < 1024) {
				cap *= 2;
				grow(&fa, cap);
				got = kvmem_fa_add(&fa);
			}
			if (got >= 0) {
				CHECK_EQ(model[got], EMPTY);
				model[got] = FREE;
				n_present++;
				n_free++;
			} else {
				CHECK_EQ(n_present, cap);
			}
			break;
		case 1:
		case 2:
			got = kvmem_fa_alloc(&fa);
			if (got >= 0) {
				CHECK_EQ(model[got], FREE);
				model[got] = USED;
				n_free--;
			} else {
				CHECK_EQ(n_free, 0);
			}
			break;
		case 3:
			CHECK_EQ(kvmem_fa_free(&fa, slot),
				 model[slot] == USED ? 0 : -EINVAL);
			if (model[slot] == USED) {
				model[slot] = FREE;
				n_free++;
			}
			break;
		case 4:
			got = kvmem_fa_take_free(&fa);
			if (got >= 0) {
				CHECK_EQ(model[got], FREE);
				for (i = (uint32_t)got + 1; i < cap; i++)
					CHECK(model[i] != FREE);
				model[got] = EMPTY;
				n_free--;
				n_present--;
			} else {
				CHECK_EQ(n_free, 0);
			}
			break;
		default:
			CHECK_EQ(kvmem_fa_remove(&fa, slot),
				 model[slot] == USED ? 0 : -EINVAL);
			if (model[slot] == USED) {
				model[slot] = EMPTY;
				n_present--;
			}
		}
		CHECK_EQ(fa.nr_present, n_present);
		CHECK_EQ(fa.nr_free, n_free);
		if (unit_case_failed)
			break;
	}
	for (i = 0; i < cap; i++)
		CHECK_EQ(kvmem_fa_is_used(&fa, i), model[i] == USED);
	done(&fa);
}

/*
 * Makes slots [0, @cap) present and used, then frees those marked '.' in
 * @map (slots past its end stay used).
 */
static void layout(struct kvmem_fa *fa, uint32_t cap, const char *map)
{
	uint32_t i, n, len = strlen(map);

	kvmem_fa_init(fa);
	grow(fa, cap);
	CHECK_EQ(kvmem_fa_add_run(fa, cap), 0);
	CHECK_EQ(kvmem_fa_alloc_run(fa, cap, &n), 0);
	CHECK_EQ(n, cap);
	for (i = 0; i < cap; i++)
		if (i < len && map[i] == '.')
			CHECK_EQ(kvmem_fa_free(fa, i), 0);
	fa->hint = 0;
}

static void add_run_takes_lowest_gap_that_fits(void)
{
	struct kvmem_fa fa;
	uint32_t i;

	kvmem_fa_init(&fa);
	grow(&fa, 128);
	CHECK_EQ(kvmem_fa_add_run(&fa, 0), -ENOSPC);
	for (i = 0; i < 10; i++)
		CHECK_EQ(kvmem_fa_add(&fa), i);
	/* Holes of 1 (slot 2) and 3 (slots 5..7). */
	for (i = 0; i < 10; i++)
		CHECK_EQ(kvmem_fa_alloc(&fa), i);
	CHECK_EQ(kvmem_fa_remove(&fa, 2), 0);
	for (i = 5; i < 8; i++)
		CHECK_EQ(kvmem_fa_remove(&fa, i), 0);
	CHECK_EQ(kvmem_fa_add_run(&fa, 2), 5);
	CHECK_EQ(kvmem_fa_add_run(&fa, 2), 10);	/* slot 7 alone is too short */
	CHECK_EQ(kvmem_fa_add_run(&fa, 1), 2);
	/* Runs cross bitmap words. */
	CHECK_EQ(kvmem_fa_add_run(&fa, 100), 12);
	CHECK_EQ(kvmem_fa_add_run(&fa, 17), -ENOSPC);
	CHECK_EQ(kvmem_fa_add_run(&fa, 16), 112);
	CHECK_EQ(kvmem_fa_add_run(&fa, 1), 7);
	CHECK_EQ(kvmem_fa_add_run(&fa, 1), -ENOSPC);
	CHECK_EQ(fa.nr_present, 128);
	CHECK_EQ(fa.nr_free, 128 - 6);
	done(&fa);
}

static void alloc_run_takes_first_run_long_enough(void)
{
	struct kvmem_fa fa;
	uint32_t n = 0;

	/* Free runs: 2 at 1, 5 at 4, 10 at 10 (then used to slot 63). */
	layout(&fa, 64, "u..u.....u..........");
	CHECK_EQ(kvmem_fa_alloc_run(&fa, 4, &n), 4);
	CHECK_EQ(n, 4);
	CHECK_EQ(kvmem_fa_alloc_run(&fa, 0, &n), -ENOMEM);
	/* Searching on from the last run's end, past the short runs. */
	CHECK_EQ(kvmem_fa_alloc_run(&fa, 10, &n), 10);
	CHECK_EQ(n, 10);
	CHECK_EQ(fa.nr_free, 3);
	done(&fa);
}

static void alloc_run_falls_back_to_longest(void)
{
	struct kvmem_fa fa;
	uint32_t n = 0;

	/* Free: slot 1, slots 3..5, slots 7..8 and slot 127. */
	layout(&fa, 128, "u.u...u..");
	CHECK_EQ(kvmem_fa_free(&fa, 127), 0);
	CHECK_EQ(kvmem_fa_alloc_run(&fa, 8, &n), 3);
	CHECK_EQ(n, 3);
	CHECK_EQ(kvmem_fa_alloc_run(&fa, 8, &n), 7);
	CHECK_EQ(n, 2);
	/* Equally long runs: the first one found, from the hint's word on. */
	CHECK_EQ(kvmem_fa_alloc_run(&fa, 8, &n), 1);
	CHECK_EQ(n, 1);
	CHECK_EQ(kvmem_fa_alloc_run(&fa, 8, &n), 127);
	CHECK_EQ(n, 1);
	/* The hint is in the last word now: the search wraps to slot 0. */
	CHECK_EQ(kvmem_fa_free(&fa, 4), 0);
	CHECK_EQ(kvmem_fa_alloc_run(&fa, 2, &n), 4);
	CHECK_EQ(n, 1);
	CHECK_EQ(kvmem_fa_alloc_run(&fa, 1, &n), -ENOMEM);
	done(&fa);
}

static const struct unit_case cases[] = {
	UNIT_CASE(empty_allocator_has_nothing),
	UNIT_CASE(add_fills_lowest_slots),
	UNIT_CASE(alloc_free_counts),
	UNIT_CASE(free_rejects_bad_slots),
	UNIT_CASE(take_free_empties_highest),
	UNIT_CASE(take_free_skips_used),
	UNIT_CASE(remove_takes_used_only),
	UNIT_CASE(grow_keeps_state),
	UNIT_CASE(alloc_next_fit_is_sequential),
	UNIT_CASE(random_ops_match_model),
	UNIT_CASE(add_run_takes_lowest_gap_that_fits),
	UNIT_CASE(alloc_run_takes_first_run_long_enough),
	UNIT_CASE(alloc_run_falls_back_to_longest),
};

UNIT_MAIN("frame_alloc", cases)
