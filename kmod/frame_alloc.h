/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Frame slot allocator of a pool: which slots hold a frame, and which of
 * those are free. Plain C, no locking: the pool serialises all calls.
 *
 * A pool owns up to @cap slots. A slot is empty (no frame), free (holds a
 * frame no space uses) or used. Slot numbers are stable while the slot
 * holds a frame, so a frame can be named by (pool, slot). Growing a pool
 * fills empty slots lowest first; shrinking empties free slots highest
 * first, so that a pool that shrinks and grows again stays dense.
 *
 * A pool grows a physically contiguous block at a time and gives its
 * frames consecutive slots (kvmem_fa_add_run()); kvmem_fa_alloc_run() then
 * hands out runs of consecutive free slots, long runs first, so that the
 * destination of a migration is as contiguous as the pool allows.
 */
#ifndef KVMEM_FRAME_ALLOC_H
#define KVMEM_FRAME_ALLOC_H

#include "plain.h"

#define KVMEM_FA_BITS_PER_WORD	64U

/**
 * struct kvmem_fa - slot allocator state
 * @free: bitmap, bit set when the slot holds a free frame
 * @present: bitmap, bit set when the slot holds a frame
 * @cap: number of slots, a multiple of 64
 * @nr_present: slots holding a frame
 * @nr_free: slots holding a free frame
 * @hint: word where the next free-frame search starts (next fit)
 */
struct kvmem_fa {
	uint64_t *free;
	uint64_t *present;
	uint32_t cap;
	uint32_t nr_present;
	uint32_t nr_free;
	uint32_t hint;
};

/* Words of bitmap needed for @cap slots. */
static inline uint32_t kvmem_fa_words(uint32_t cap)
{
	return (cap + KVMEM_FA_BITS_PER_WORD - 1) / KVMEM_FA_BITS_PER_WORD;
}

void kvmem_fa_init(struct kvmem_fa *fa);
void kvmem_fa_grow(struct kvmem_fa *fa, uint64_t *free, uint64_t *present,
		   uint32_t cap, uint64_t **old_free, uint64_t **old_present);
int64_t kvmem_fa_add(struct kvmem_fa *fa);
int64_t kvmem_fa_add_run(struct kvmem_fa *fa, uint32_t n);
int64_t kvmem_fa_alloc(struct kvmem_fa *fa);
int64_t kvmem_fa_alloc_run(struct kvmem_fa *fa, uint32_t want, uint32_t *got);
int kvmem_fa_free(struct kvmem_fa *fa, uint32_t slot);
int64_t kvmem_fa_take_free(struct kvmem_fa *fa);
int kvmem_fa_remove(struct kvmem_fa *fa, uint32_t slot);
bool kvmem_fa_is_used(const struct kvmem_fa *fa, uint32_t slot);

#endif /* KVMEM_FRAME_ALLOC_H */
