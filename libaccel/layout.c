// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Tensor layouts of a sequence (see accel.h, enum accel_layout).
 */
#include <errno.h>

#include "layout.h"

__attribute__((visibility("default")))
size_t accel_dtype_size(uint32_t dtype)
{
	switch (dtype) {
	case ACCEL_DTYPE_F16:
	case ACCEL_DTYPE_BF16:
		return 2;
	case ACCEL_DTYPE_F32:
		return 4;
	case ACCEL_DTYPE_FP8:
		return 1;
	default:
		return 0;
	}
}

int accel_layout_make(const struct accel_geometry *g, uint64_t page_size,
		      struct accel_plan *l)
{
	uint64_t tensor, token, bytes;

	if (!g || !g->layers || !g->kv_heads || !g->head_dim ||
	    !accel_dtype_size(g->dtype) || !g->max_tokens || g->reserved ||
	    (g->layout != ACCEL_LAYOUT_PER_LAYER &&
	     g->layout != ACCEL_LAYOUT_PER_SEQ))
		return -EINVAL;
	if (!page_size || (page_size & (page_size - 1)))
		return -EINVAL;
	if (__builtin_mul_overflow((uint64_t)g->kv_heads, g->head_dim,
				   &tensor) ||
	    __builtin_mul_overflow(tensor, accel_dtype_size(g->dtype),
				   &tensor))
		return -EOVERFLOW;
	token = tensor;
	if (g->layout == ACCEL_LAYOUT_PER_SEQ &&
	    __builtin_mul_overflow(tensor, 2 * (uint64_t)g->layers, &token))
		return -EOVERFLOW;
	if (__builtin_mul_overflow(token, g->max_tokens, &bytes) ||
	    __builtin_add_overflow(bytes, page_size - 1, &bytes))
		return -EOVERFLOW;
	l->nspaces = g->layout == ACCEL_LAYOUT_PER_SEQ ? 1 : 2 * g->layers;
	if (g->layout == ACCEL_LAYOUT_PER_LAYER && l->nspaces < g->layers)
		return -EOVERFLOW;
	l->space_bytes = bytes & ~(page_size - 1);
	l->token_bytes = token;
	l->tensor_bytes = tensor;
	l->page_size = page_size;
	l->max_tokens = g->max_tokens;
	return 0;
}

uint64_t accel_layout_pages(const struct accel_plan *l, uint64_t tokens)
{
	/* tokens <= max_tokens: cannot overflow, checked by _make(). */
	return (tokens * l->token_bytes + l->page_size - 1) / l->page_size;
}

uint64_t accel_layout_tokens(const struct accel_plan *l, uint64_t pages)
{
	uint64_t max_pages = l->space_bytes / l->page_size;

	if (pages >= max_pages)
		return l->max_tokens;
	return pages * l->page_size / l->token_bytes;
}

void accel_layout_tensor(const struct accel_plan *l, uint32_t layer,
			 uint32_t kv, uint32_t *space, uint64_t *offset)
{
	if (l->nspaces == 1) {
		*space = 0;
		*offset = (2 * (uint64_t)layer + kv) * l->tensor_bytes;
	} else {
		*space = 2 * layer + kv;
		*offset = 0;
	}
}

size_t accel_best_fit(const uint64_t *mapped, size_t n, uint64_t want)
{
	size_t i, fit = n, big = n;

	for (i = 0; i < n; i++) {
		if (mapped[i] >= want && (fit == n || mapped[i] < mapped[fit]))
			fit = i;
		if (big == n || mapped[i] > mapped[big])
			big = i;
	}
	return fit != n ? fit : big;
}
