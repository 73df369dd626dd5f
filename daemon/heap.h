/* SPDX-License-Identifier: GPL-2.0 */
/*
 * An indexed binary heap of intrusive nodes: insert, remove and re-key any
 * member in O(log n), peek at the top in O(1). Each node remembers its slot,
 * so a member whose key changed is moved without a search. The policy keeps
 * every ordered set it needs in one of these, never rescanning members.
 *
 * Not thread-safe: the owner (one policy instance) serialises all calls.
 */
#ifndef KVMEMD_HEAP_H
#define KVMEMD_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Embedded in each member; idx is HEAP_NONE while not in a heap. */
struct heap_node {
	size_t idx;
};

#define HEAP_NONE ((size_t)-1)

/* True if @a must come out before @b. */
typedef bool (*heap_less_fn)(const struct heap_node *a,
			     const struct heap_node *b);

struct heap {
	struct heap_node **v;
	size_t n, cap;
	heap_less_fn less;
	uint64_t *ops;	/* comparisons, counted for the O(log n) tests */
};

void heap_init(struct heap *h, heap_less_fn less, uint64_t *ops);
void heap_free(struct heap *h);
/* Returns -ENOMEM if the array cannot grow; @x is then not in the heap. */
int heap_push(struct heap *h, struct heap_node *x);
void heap_remove(struct heap *h, struct heap_node *x);
/* Restores order after @x's key changed either way. */
void heap_update(struct heap *h, struct heap_node *x);
struct heap_node *heap_top(const struct heap *h);
struct heap_node *heap_pop(struct heap *h);

static inline bool heap_in(const struct heap_node *x)
{
	return x->idx != HEAP_NONE;
}

#endif /* KVMEMD_HEAP_H */
