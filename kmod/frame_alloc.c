// SPDX-License-Identifier: GPL-2.0
/*
 * Frame slot allocator of a pool. See frame_alloc.h.
 */
#include "frame_alloc.h"

#define WORD(slot)	((slot) / KVMEM_FA_BITS_PER_WORD)
#define BIT_OF(slot)	(1ULL << ((slot) % KVMEM_FA_BITS_PER_WORD))

static bool fa_test(const uint64_t *map, uint32_t slot)
{
	return map[WORD(slot)] & BIT_OF(slot);
}

/*
 * First slot in [@from, @cap) whose bit in @map equals @set, or @cap.
 * Skips whole words, so that scanning a large, mostly full pool is cheap.
 */
static uint32_t fa_next(const uint64_t *map, uint32_t from, uint32_t cap,
			bool set)
{
	while (from < cap) {
		uint64_t bits = map[WORD(from)];

		if (!set)
			bits = ~bits;
		bits &= ~0ULL << (from % KVMEM_FA_BITS_PER_WORD);
		if (bits) {
			from = WORD(from) * KVMEM_FA_BITS_PER_WORD +
			       __builtin_ctzll(bits);
			return from < cap ? from : cap;
		}
		from = (WORD(from) + 1) * KVMEM_FA_BITS_PER_WORD;
	}
	return cap;
}

static void fa_set_range(uint64_t *map, uint32_t first, uint32_t n, bool set)
{
	uint32_t slot;

	for (slot = first; slot < first + n; slot++) {
		if (set)
			map[WORD(slot)] |= BIT_OF(slot);
		else
			map[WORD(slot)] &= ~BIT_OF(slot);
	}
}

/**
 * kvmem_fa_init() - make an allocator with no slots
 * @fa: allocator to initialise
 */
void kvmem_fa_init(struct kvmem_fa *fa)
{
	fa->free = NULL;
	fa->present = NULL;
	fa->cap = 0;
	fa->nr_present = 0;
	fa->nr_free = 0;
	fa->hint = 0;
}

/**
 * kvmem_fa_grow() - move the allocator onto larger bitmaps
 * @fa: allocator
 * @free: zeroed bitmap of kvmem_fa_words(@cap) words
 * @present: zeroed bitmap of kvmem_fa_words(@cap) words
 * @cap: new number of slots, a multiple of 64 and >= the current one
 * @old_free: returns the previous free bitmap, for the caller to free
 * @old_present: returns the previous present bitmap, for the caller to free
 *
 * The caller allocates and frees bitmap memory, so that this file needs no
 * allocator of its own.
 */
void kvmem_fa_grow(struct kvmem_fa *fa, uint64_t *free, uint64_t *present,
		   uint32_t cap, uint64_t **old_free, uint64_t **old_present)
{
	uint32_t i, words = kvmem_fa_words(fa->cap);

	for (i = 0; i < words; i++) {
		free[i] = fa->free[i];
		present[i] = fa->present[i];
	}
	*old_free = fa->free;
	*old_present = fa->present;
	fa->free = free;
	fa->present = present;
	fa->cap = cap;
}

/**
 * kvmem_fa_add() - claim the lowest empty slot for a new, free frame
 * @fa: allocator
 *
 * Return: the slot, or -ENOSPC when every slot holds a frame (grow first).
 */
int64_t kvmem_fa_add(struct kvmem_fa *fa)
{
	uint32_t w, words = kvmem_fa_words(fa->cap);

	for (w = 0; w < words; w++) {
		uint64_t empty = ~fa->present[w];
		uint32_t slot;

		if (!empty)
			continue;
		slot = w * KVMEM_FA_BITS_PER_WORD + __builtin_ctzll(empty);
		if (slot >= fa->cap)
			break;
		fa->present[w] |= BIT_OF(slot);
		fa->free[w] |= BIT_OF(slot);
		fa->nr_present++;
		fa->nr_free++;
		return slot;
	}
	return -ENOSPC;
}

/**
 * kvmem_fa_add_run() - claim @n consecutive empty slots for new, free frames
 * @fa: allocator
 * @n: slots wanted, at least 1
 *
 * The pool gives the frames of one physically contiguous block consecutive
 * slots, so that a run of free slots is, as far as the blocks go, a run of
 * physically contiguous frames (see kvmem_fa_alloc_run()).
 *
 * Return: the first slot of the lowest such run, or -ENOSPC when there is
 * none (grow first).
 */
int64_t kvmem_fa_add_run(struct kvmem_fa *fa, uint32_t n)
{
	uint32_t first = 0;

	if (!n)
		return -ENOSPC;
	for (;;) {
		uint32_t end;

		first = fa_next(fa->present, first, fa->cap, false);
		if (fa->cap - first < n)
			return -ENOSPC;
		end = fa_next(fa->present, first, first + n, true);
		if (end == first + n)
			break;
		first = end;
	}
	fa_set_range(fa->present, first, n, true);
	fa_set_range(fa->free, first, n, true);
	fa->nr_present += n;
	fa->nr_free += n;
	return first;
}

/**
 * kvmem_fa_alloc_run() - take free frames in consecutive slots
 * @fa: allocator
 * @want: frames wanted, at least 1
 * @got: returns how many were taken, 1 .. @want
 *
 * Takes the first run of at least @want free slots, searching from where
 * the last allocation ended; if no run is that long, the longest run
 * there is. The caller asks again for the rest.
 *
 * Return: the first slot of the run, now used, or -ENOMEM when no frame is
 * free.
 */
int64_t kvmem_fa_alloc_run(struct kvmem_fa *fa, uint32_t want, uint32_t *got)
{
	uint32_t start = fa->hint * KVMEM_FA_BITS_PER_WORD;
	uint32_t best = 0, best_len = 0, pass;

	if (!fa->nr_free || !want)
		return -ENOMEM;
	if (start >= fa->cap)
		start = 0;
	/* Pass 0 searches [start, cap), pass 1 wraps to [0, start). */
	for (pass = 0; pass < 2 && best_len < want; pass++) {
		uint32_t from = pass ? 0 : start;
		uint32_t to = pass ? start : fa->cap;

		while (from < to && best_len < want) {
			uint32_t first = fa_next(fa->free, from, to, true);
			uint32_t end = fa_next(fa->free, first, to, false);

			if (end - first > best_len) {
				best = first;
				best_len = end - first;
			}
			from = end;
		}
	}
	if (!best_len)
		return -ENOMEM;	/* nr_free out of step with the bitmap: cannot be */
	if (best_len > want)
		best_len = want;
	fa_set_range(fa->free, best, best_len, false);
	fa->nr_free -= best_len;
	fa->hint = WORD(best + best_len - 1);
	*got = best_len;
	return best;
}

/**
 * kvmem_fa_alloc() - take a free frame
 * @fa: allocator
 *
 * Searches from where the last allocation succeeded, so that consecutive
 * allocations tend to get consecutive slots.
 *
 * Return: the slot, now used, or -ENOMEM when no frame is free.
 */
int64_t kvmem_fa_alloc(struct kvmem_fa *fa)
{
	uint32_t n, words = kvmem_fa_words(fa->cap);

	if (!fa->nr_free)
		return -ENOMEM;
	for (n = 0; n < words; n++) {
		uint32_t w = (fa->hint + n) % words;
		uint64_t bits = fa->free[w];
		uint32_t slot;

		if (!bits)
			continue;
		slot = w * KVMEM_FA_BITS_PER_WORD + __builtin_ctzll(bits);
		fa->free[w] &= ~BIT_OF(slot);
		fa->nr_free--;
		fa->hint = w;
		return slot;
	}
	return -ENOMEM;	/* nr_free out of step with the bitmap: cannot be */
}

/**
 * kvmem_fa_is_used() - whether a slot holds a frame that is in use
 * @fa: allocator
 * @slot: slot number
 *
 * Return: true if @slot is below the capacity, present and not free.
 */
bool kvmem_fa_is_used(const struct kvmem_fa *fa, uint32_t slot)
{
	return slot < fa->cap && fa_test(fa->present, slot) &&
	       !fa_test(fa->free, slot);
}

/**
 * kvmem_fa_free() - give a used frame back
 * @fa: allocator
 * @slot: a slot returned by kvmem_fa_alloc()
 *
 * Return: 0, or -EINVAL if @slot is not a used frame (double free).
 */
int kvmem_fa_free(struct kvmem_fa *fa, uint32_t slot)
{
	if (!kvmem_fa_is_used(fa, slot))
		return -EINVAL;
	fa->free[WORD(slot)] |= BIT_OF(slot);
	fa->nr_free++;
	return 0;
}

/**
 * kvmem_fa_take_free() - empty the highest free slot, to shrink the pool
 * @fa: allocator
 *
 * Return: the slot, now empty (the caller frees its frame), or -ENOMEM
 * when no frame is free.
 */
int64_t kvmem_fa_take_free(struct kvmem_fa *fa)
{
	uint32_t w = kvmem_fa_words(fa->cap);

	while (w--) {
		uint64_t bits = fa->free[w];
		uint32_t slot;

		if (!bits)
			continue;
		slot = w * KVMEM_FA_BITS_PER_WORD + 63 - __builtin_clzll(bits);
		fa->free[w] &= ~BIT_OF(slot);
		fa->present[w] &= ~BIT_OF(slot);
		fa->nr_free--;
		fa->nr_present--;
		return slot;
	}
	return -ENOMEM;
}

/**
 * kvmem_fa_remove() - empty a used slot whose frame leaves the pool
 * @fa: allocator
 * @slot: a used slot
 *
 * Used when a frame in use is not to be recycled: the pool is above its
 * target size, or someone else still holds a reference to the frame.
 *
 * Return: 0, or -EINVAL if @slot is not a used frame.
 */
int kvmem_fa_remove(struct kvmem_fa *fa, uint32_t slot)
{
	if (!kvmem_fa_is_used(fa, slot))
		return -EINVAL;
	fa->present[WORD(slot)] &= ~BIT_OF(slot);
	fa->nr_present--;
	return 0;
}
