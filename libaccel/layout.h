/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Where a sequence's tensors live in its spaces, and how many pages a
 * number of tokens needs. Plain arithmetic, unit-tested on its own.
 */
#ifndef ACCEL_LAYOUT_H
#define ACCEL_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#include "accel.h"

/**
 * struct accel_plan - a geometry laid out on pages of one size
 * @nspaces: spaces per sequence: 2 * layers (PER_LAYER) or 1 (PER_SEQ)
 * @space_bytes: bytes of each space, a multiple of @page_size
 * @token_bytes: bytes one token takes in each space: the token stride
 * @tensor_bytes: bytes one token takes in one layer's K or V
 * @page_size: bytes per page
 * @max_tokens: tokens a sequence may hold
 */
struct accel_plan {
	uint32_t nspaces;
	uint64_t space_bytes;
	uint64_t token_bytes;
	uint64_t tensor_bytes;
	uint64_t page_size;
	uint64_t max_tokens;
};

/* Checks g and lays it out; 0, -EINVAL (bad geometry or page size) or
 * -EOVERFLOW. */
int accel_layout_make(const struct accel_geometry *g, uint64_t page_size,
		      struct accel_plan *l);

/* Pages each space needs for tokens [0, tokens) (tokens <= max_tokens). */
uint64_t accel_layout_pages(const struct accel_plan *l, uint64_t tokens);

/* Tokens that pages [0, pages) of each space hold entirely. */
uint64_t accel_layout_tokens(const struct accel_plan *l, uint64_t pages);

/* Space and byte offset of token 0 of a layer's K or V. */
void accel_layout_tensor(const struct accel_plan *l, uint32_t layer,
			 uint32_t kv, uint32_t *space, uint64_t *offset);

/*
 * Best fit among n kept sequences with mapped[i] pages each, for one that
 * needs want pages: the smallest that has at least want, else the largest
 * (it needs the fewest new pages). Returns its index; n if n is 0.
 */
size_t accel_best_fit(const uint64_t *mapped, size_t n, uint64_t want);

#endif /* ACCEL_LAYOUT_H */
