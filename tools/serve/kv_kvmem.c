// SPDX-License-Identifier: GPL-2.0
/*
 * The kvmem policy's KV store (serving-bench.md): one libaccel sequence
 * per conversation (host backend, ACCEL_LAYOUT_PER_SEQ: each
 * conversation's KV one contiguous range), attention through
 * attn_decode() on the tensors libaccel returns, and preemption by
 * accel_seq_swap_out()/accel_seq_swap_in(): the kernel migrates the pages
 * to the swap tier with its own threads, in large runs, beside the steps,
 * and keeps the swap tier's frames as clean copies after a swap-in so
 * that the next swap-out copies only what was written since.
 *
 * A thread waits on accel_fd() and stamps each completion as it comes,
 * so that the copy time counted is the swaps', not the engine's polling.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "accel.h"
#include "serve.h"

struct kconv {
	struct accel_seq *seq;
	struct accel_tensor t[M_LAYERS][2];
	int state;
	uint64_t grown;
};

struct kdone {
	struct accel_completion c;
};

struct kv {
	struct kv_counters cnt;
	struct accel_ctx *ctx;
	struct accel_geometry g;
	uint64_t page;
	struct kconv *kc;
	uint32_t nconv;
	pthread_t thr;
	int thr_on, stop_pipe[2];
	pthread_mutex_t lock;
	int inflight;
	double busy_t0;
	struct accel_completion *done;
	uint32_t ndone, capdone;
};

static void *k_waiter(void *arg)
{
	struct kv *kv = arg;
	struct pollfd pf[2] = {
		{ .fd = accel_fd(kv->ctx), .events = POLLIN },
		{ .fd = kv->stop_pipe[0], .events = POLLIN },
	};

	for (;;) {
		struct accel_completion c[16];
		int n;

		if (poll(pf, 2, 100) < 0)
			continue;
		if (pf[1].revents)
			break;
		n = accel_poll_completions(kv->ctx, c, 16);
		if (n <= 0)
			continue;
		pthread_mutex_lock(&kv->lock);
		for (int i = 0; i < n; i++) {
			if (c[i].op != ACCEL_OP_SWAP_OUT && c[i].op != ACCEL_OP_SWAP_IN)
				continue;
			if (kv->ndone == kv->capdone) {
				uint32_t cap = kv->capdone ? 2 * kv->capdone : 64;
				struct accel_completion *d =
					realloc(kv->done, cap * sizeof(*d));

				if (!d)
					abort();
				kv->done = d;
				kv->capdone = cap;
			}
			kv->done[kv->ndone++] = c[i];
			if (--kv->inflight == 0)
				kv->cnt.copy_busy_s += now_s() - kv->busy_t0;
		}
		pthread_mutex_unlock(&kv->lock);
	}
	return NULL;
}

static int k_open(struct kv **out, uint64_t units, uint32_t nconv)
{
	struct kv *kv = calloc(1, sizeof(*kv));
	struct accel_open_opts o;
	struct accel_info info;
	int ret;

	(void)units;	/* the fast tier's reserve is the budget (main.c) */
	if (!kv)
		return -ENOMEM;
	*out = kv;
	pthread_mutex_init(&kv->lock, NULL);
	kv->nconv = nconv;
	kv->stop_pipe[0] = kv->stop_pipe[1] = -1;
	kv->kc = calloc(nconv, sizeof(*kv->kc));
	if (!kv->kc)
		return -ENOMEM;
	accel_open_opts_init(&o);
	o.backend = ACCEL_BACKEND_HOST;
	o.tier = ACCEL_TIER_DRAM;
	o.flags = ACCEL_OPEN_NO_KEEP;
	o.wait_ms = 0;
	ret = accel_open(&o, &kv->ctx);
	if (ret) {
		fprintf(stderr, "kvmem-serve: kvmem: accel_open: %s (is the "
			"kvmem module loaded?)\n", strerror(-ret));
		return ret;
	}
	ret = accel_info(kv->ctx, &info);
	if (ret)
		return ret;
	if (info.swap_tier == ACCEL_TIER_DEFAULT) {
		fprintf(stderr, "kvmem-serve: kvmem: no swap tier (a pool "
			"slower than dram is needed)\n");
		return -ENODEV;
	}
	kv->page = info.page_size;
	kv->g = (struct accel_geometry){
		.layers = M_LAYERS, .kv_heads = M_KVHEADS, .head_dim = M_HDIM,
		.dtype = ACCEL_DTYPE_F16, .max_tokens = serve_max_tokens + 16,
		.layout = ACCEL_LAYOUT_PER_SEQ,
	};
	if (pipe(kv->stop_pipe))
		return -errno;
	ret = -pthread_create(&kv->thr, NULL, k_waiter, kv);
	if (!ret)
		kv->thr_on = 1;
	return ret;
}

static void k_close(struct kv *kv)
{
	if (kv->thr_on) {
		if (write(kv->stop_pipe[1], "x", 1) < 0) {
			/* the waiter times out of poll() anyway */
		}
		pthread_join(kv->thr, NULL);
	}
	for (uint32_t i = 0; kv->kc && i < kv->nconv; i++)
		accel_seq_destroy(kv->kc[i].seq);
	accel_close(kv->ctx);
	if (kv->stop_pipe[0] >= 0) {
		close(kv->stop_pipe[0]);
		close(kv->stop_pipe[1]);
	}
	free(kv->done);
	free(kv->kc);
	free(kv);
}

static struct kconv *kc_of(struct kv *kv, struct conv *c)
{
	c->kvp = &kv->kc[c->id];
	return c->kvp;
}

static uint64_t k_units_for(struct kv *kv, uint64_t tokens)
{
	uint64_t tpp = kv->page / M_TOKEN_BYTES;	/* tokens a page */
	uint64_t pages = (tokens + tpp - 1) / tpp;

	return pages * kv->page / UNIT_BYTES;
}

static int k_grow(struct kv *kv, struct conv *c, uint64_t tokens)
{
	struct kconv *k = kc_of(kv, c);
	int ret;

	if (!k->seq) {
		ret = accel_seq_create(kv->ctx, &kv->g, NULL, &k->seq);
		if (ret)
			return ret;
		for (int l = 0; l < M_LAYERS; l++)
			for (int x = 0; x < 2; x++) {
				ret = accel_seq_tensor(k->seq, l, x, &k->t[l][x]);
				if (ret)
					return ret;
			}
		k->state = KV_RESIDENT;
	}
	if (k->state != KV_RESIDENT)
		return -EBUSY;
	ret = accel_seq_grow(k->seq, tokens);
	if (ret < 0)
		return ret;
	kv->cnt.grows++;
	kv->cnt.grows_blocked += ret == 1;
	k->grown = accel_seq_tokens(k->seq);
	return 0;
}

static void k_write(struct kv *kv, struct conv *c, uint32_t l, uint64_t pos,
		    const float *kf, const float *vf)
{
	struct kconv *k = kc_of(kv, c);

	for (int x = 0; x < 2; x++) {
		const struct accel_tensor *t = &k->t[l][x];
		const float *src = x ? vf : kf;

		for (int h = 0; h < M_KVHEADS; h++) {
			uint16_t *d = (uint16_t *)(uintptr_t)(t->base +
				pos * t->token_stride + h * t->head_stride);

			for (int i = 0; i < M_HDIM; i++)
				d[i] = attn_f32_to_f16(src[h * M_HDIM + i]);
		}
	}
}

static int k_attend(struct kv *kv, uint32_t l, struct conv **cs, uint32_t n,
		    const float *q, float *out)
{
	struct attn_shape sh = { M_QHEADS, M_KVHEADS, M_HDIM };
	struct attn_seq as[256];
	int ret = 0;

	for (uint32_t i = 0; i < n && !ret; i += 256) {
		uint32_t m = n - i < 256 ? n - i : 256;

		for (uint32_t j = 0; j < m; j++) {
			struct kconv *k = kc_of(kv, cs[i + j]);

			as[j].k = k->t[l][0];
			as[j].v = k->t[l][1];
			as[j].tokens = cs[i + j]->hlen;
			as[j].q = q + (size_t)(i + j) * M_QDIM;
			as[j].out = out + (size_t)(i + j) * M_QDIM;
		}
		ret = attn_decode(serve_pool, &sh, as, m);
	}
	return ret;
}

static void k_drop(struct kv *kv, struct conv *c)
{
	struct kconv *k = kc_of(kv, c);

	accel_seq_destroy(k->seq);
	memset(k, 0, sizeof(*k));
}

static int k_swap(struct kv *kv, struct conv *c, int in)
{
	struct kconv *k = kc_of(kv, c);
	int ret;

	if (k->state != (in ? KV_SWAPPED : KV_RESIDENT))
		return -EBUSY;
	pthread_mutex_lock(&kv->lock);
	if (kv->inflight++ == 0)
		kv->busy_t0 = now_s();
	pthread_mutex_unlock(&kv->lock);
	ret = in ? accel_seq_swap_in(k->seq) : accel_seq_swap_out(k->seq);
	if (ret) {
		pthread_mutex_lock(&kv->lock);
		kv->inflight--;
		pthread_mutex_unlock(&kv->lock);
		fprintf(stderr, "kvmem-serve: kvmem: swap %s of conversation "
			"%u: %s\n", in ? "in" : "out", c->id, strerror(-ret));
		return ret;
	}
	k->state = in ? KV_SWAPPING_IN : KV_SWAPPING_OUT;
	kv->cnt.copies++;
	return 0;
}

static int k_swap_out(struct kv *kv, struct conv *c)
{
	return k_swap(kv, c, 0);
}

static int k_swap_in(struct kv *kv, struct conv *c)
{
	return k_swap(kv, c, 1);
}

static int k_poll(struct kv *kv)
{
	uint32_t n;

	pthread_mutex_lock(&kv->lock);
	n = kv->ndone;
	for (uint32_t i = 0; i < n; i++) {
		struct accel_completion *d = &kv->done[i];

		for (uint32_t j = 0; j < kv->nconv; j++) {
			struct kconv *k = &kv->kc[j];

			if (k->seq != d->seq)
				continue;
			if (d->status) {
				fprintf(stderr, "kvmem-serve: kvmem: a swap of "
					"conversation %u failed: %s\n", j,
					strerror(-d->status));
				k->state = d->op == ACCEL_OP_SWAP_OUT ?
					   KV_RESIDENT : KV_SWAPPED;
			} else if (d->op == ACCEL_OP_SWAP_OUT) {
				k->state = KV_SWAPPED;
				kv->cnt.swaps_out++;
				kv->cnt.bytes_out += d->bytes_copied;
			} else {
				k->state = KV_RESIDENT;
				kv->cnt.swaps_in++;
				kv->cnt.bytes_in += d->bytes_copied;
			}
			kv->cnt.bytes_reused += d->bytes_reused;
			break;
		}
	}
	kv->ndone = 0;
	pthread_mutex_unlock(&kv->lock);
	return (int)n;
}

static int k_state(struct kv *kv, struct conv *c)
{
	return kc_of(kv, c)->state;
}

static uint64_t k_units(struct kv *kv, struct conv *c)
{
	struct kconv *k = kc_of(kv, c);

	if (!k->seq || k->state == KV_SWAPPED)
		return 0;
	return k_units_for(kv, k->grown);
}

const struct kv_ops kv_kvmem_ops = {
	.name = "kvmem", .swaps = true, .async = true, .open = k_open,
	.close = k_close, .grow = k_grow, .write = k_write,
	.attend = k_attend, .drop = k_drop, .swap_out = k_swap_out,
	.swap_in = k_swap_in, .poll = k_poll, .state = k_state,
	.units = k_units, .units_for = k_units_for,
};
