// SPDX-License-Identifier: GPL-2.0
/* Indexed binary heap; see heap.h. */
#include "heap.h"

#include <errno.h>
#include <stdlib.h>

void heap_init(struct heap *h, heap_less_fn less, uint64_t *ops)
{
	h->v = NULL;
	h->n = h->cap = 0;
	h->less = less;
	h->ops = ops;
}

void heap_free(struct heap *h)
{
	free(h->v);
	h->v = NULL;
	h->n = h->cap = 0;
}

static bool less_at(struct heap *h, size_t a, size_t b)
{
	if (h->ops)
		(*h->ops)++;
	return h->less(h->v[a], h->v[b]);
}

static void swap_at(struct heap *h, size_t a, size_t b)
{
	struct heap_node *t = h->v[a];

	h->v[a] = h->v[b];
	h->v[b] = t;
	h->v[a]->idx = a;
	h->v[b]->idx = b;
}

static size_t sift_up(struct heap *h, size_t i)
{
	while (i > 0 && less_at(h, i, (i - 1) / 2)) {
		swap_at(h, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
	return i;
}

static void sift_down(struct heap *h, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < h->n && less_at(h, l, m))
			m = l;
		if (r < h->n && less_at(h, r, m))
			m = r;
		if (m == i)
			return;
		swap_at(h, i, m);
		i = m;
	}
}

int heap_push(struct heap *h, struct heap_node *x)
{
	if (h->n == h->cap) {
		size_t cap = h->cap ? 2 * h->cap : 16;
		struct heap_node **v = realloc(h->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		h->v = v;
		h->cap = cap;
	}
	x->idx = h->n;
	h->v[h->n++] = x;
	sift_up(h, x->idx);
	return 0;
}

void heap_remove(struct heap *h, struct heap_node *x)
{
	size_t i = x->idx;

	if (i == HEAP_NONE || i >= h->n || h->v[i] != x)
		return;
	h->n--;
	if (i != h->n) {
		h->v[i] = h->v[h->n];
		h->v[i]->idx = i;
		heap_update(h, h->v[i]);
	}
	x->idx = HEAP_NONE;
}

void heap_update(struct heap *h, struct heap_node *x)
{
	size_t i = x->idx;

	if (i == HEAP_NONE)
		return;
	if (sift_up(h, i) == i)
		sift_down(h, i);
}

struct heap_node *heap_top(const struct heap *h)
{
	return h->n ? h->v[0] : NULL;
}

struct heap_node *heap_pop(struct heap *h)
{
	struct heap_node *x = heap_top(h);

	if (x)
		heap_remove(h, x);
	return x;
}
