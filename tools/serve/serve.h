/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kvmem-serve: a small serving engine over real KV, and four ways to
 * switch context under one memory budget (Documentation/serving-bench.md).
 *
 * The engine (engine.c) runs a synthetic transformer: fixed random
 * weights, K and V of each token written for real into the KV store,
 * decode attention over the real KV (kernels/attention.c), the other
 * layers a modelled per-step cost (the step time of a GPU: the CPU waits
 * in clock_nanosleep, as a host thread waits for a GPU, so copy threads
 * run meanwhile). Continuous batching, chunked prefill, one scheduler for
 * every policy: VTC across tenants, per-request priorities within.
 *
 * A policy is a KV store (struct kv_ops): where a conversation's KV lives,
 * how it grows, and what a preemption does (drop it for recompute, or
 * swap it out, synchronously or not).
 */
#ifndef SERVE_SERVE_H
#define SERVE_SERVE_H

#include <stdbool.h>
#include <stdint.h>

#include "attention.h"
#include "trace.h"

/* The synthetic model (per token: 4 layers x K,V x 2 heads x 64 x f16 = 2 KiB). */
#define M_LAYERS	4
#define M_QHEADS	4
#define M_KVHEADS	2
#define M_HDIM		64
#define M_DMODEL	64		/* residual stream */
#define M_VOCAB		256
#define M_QDIM		(M_QHEADS * M_HDIM)
#define M_KVDIM		(M_KVHEADS * M_HDIM)
#define M_TOKEN_BYTES	(M_LAYERS * 2 * M_KVDIM * 2)

/* The unit of the memory budget: one 16-token block of every layer. */
#define UNIT_TOKENS	16
#define UNIT_BYTES	(UNIT_TOKENS * M_TOKEN_BYTES)

enum kv_state {
	KV_NONE = 0,		/* nothing anywhere (new, or dropped) */
	KV_RESIDENT,
	KV_SWAPPING_OUT,
	KV_SWAPPED,
	KV_SWAPPING_IN,
};

struct kv;
struct conv;

/**
 * struct kv_ops - one policy's KV store
 * @name: key in results.json
 * @swaps: preemption swaps (else it drops KV and recomputes)
 * @async: swaps run beside the steps (else inside them, stalling)
 * @open: budget in units (UNIT_BYTES); 0 or -errno
 * @close: frees everything
 * @grow: room for tokens tokens of a resident conversation (within the
 *	units the scheduler accounted for it); 0 or -errno
 * @write: K and V (M_KVDIM floats each) of token pos at layer l
 * @attend: decode attention at layer l for n conversations
 * @drop: frees the conversation's KV everywhere
 * @swap_out: starts (or, sync, does) a swap-out; 0 or -errno
 * @swap_in: the same, in
 * @poll: completes swaps that finished; returns how many
 * @state: enum kv_state of the conversation
 * @units: units of the budget the conversation holds now (in flight too)
 * @units_for: units tokens tokens take in this store (its granularity)
 */
struct kv_ops {
	const char *name;
	bool swaps;
	bool async;
	int (*open)(struct kv **kv, uint64_t units, uint32_t nconv);
	void (*close)(struct kv *kv);
	int (*grow)(struct kv *kv, struct conv *c, uint64_t tokens);
	void (*write)(struct kv *kv, struct conv *c, uint32_t l, uint64_t pos,
		      const float *k, const float *v);
	int (*attend)(struct kv *kv, uint32_t l, struct conv **cs, uint32_t n,
		      const float *q, float *out);
	void (*drop)(struct kv *kv, struct conv *c);
	int (*swap_out)(struct kv *kv, struct conv *c);
	int (*swap_in)(struct kv *kv, struct conv *c);
	int (*poll)(struct kv *kv);
	int (*state)(struct kv *kv, struct conv *c);
	uint64_t (*units)(struct kv *kv, struct conv *c);
	uint64_t (*units_for)(struct kv *kv, uint64_t tokens);
};

/* Counters a store keeps (engine reads them after a run). */
struct kv_counters {
	uint64_t bytes_out, bytes_in;	/* copied */
	uint64_t bytes_reused;		/* not copied: a valid host copy */
	uint64_t copies;		/* copy calls (memcpy / migrations) */
	uint64_t swaps_out, swaps_in;
	double copy_busy_s;		/* time some copy was in flight */
	double sync_copy_s;		/* of that, inside steps (sync) */
	uint64_t grows, grows_blocked;	/* kvmem: accel_seq_grow() calls */
};

/* Hints a store may use: host swap space (units), longest conversation. */
extern uint64_t serve_host_units, serve_max_tokens;
extern struct attn_pool *serve_pool;

/* A store's counters (every store's struct kv begins with them). */
struct kv_counters *kv_counters(struct kv *kv);

extern const struct kv_ops kv_recompute_ops;
extern const struct kv_ops kv_vllm_ops;
extern const struct kv_ops kv_fastswitch_ops;
extern const struct kv_ops kv_kvmem_ops;

/* Per conversation: the trace's, plus the engine's state. */
struct conv {
	const struct trace_conv *tc;
	uint32_t id, tenant;
	uint32_t turn;		/* current (or next) turn */
	bool active;		/* a request in flight (backlogged) */
	bool done;		/* every turn answered */
	double next_at;		/* arrival of the next turn */
	uint32_t *hist;		/* token ids, every position */
	uint64_t hlen;		/* tokens in hist */
	uint64_t kv_n;		/* positions whose KV is in the store */
	uint64_t prompt_new;	/* new prompt tokens of this turn, for VTC */
	uint32_t produced;	/* tokens of this turn's answer */
	uint32_t prio;
	uint32_t prio_cache[2];
	double turn_arrival, last_tok;
	uint64_t checksum;	/* of this conversation's outputs */
	uint64_t last_used;	/* step it last ran (LRU of idle victims) */
	void *kvp;		/* the store's */
};

/* What the engine is asked to do. */
struct engine_params {
	double step_base_ms;	/* modelled step time: base ... */
	double step_tok_us;	/* ... plus this per token in the step */
	uint32_t max_batch;	/* sequences a step */
	uint32_t chunk;		/* prefill tokens a step (chunked prefill) */
	uint64_t budget_units;	/* the fast tier, in UNIT_BYTES */
	double prio_tokens;	/* service a priority level is worth */
	double max_run_s;	/* give up after this long */
	uint32_t threads;	/* attention threads */
	uint64_t corrupt_step;	/* test: zero one K at this step (0: never) */
};

/* What one run measured. */
struct run_result {
	double p50_ttft_ms, p99_ttft_ms, p99_tbt_ms, p999_tbt_ms;
	double throughput_tok_s, jain, max_service_diff;
	uint64_t switches, bytes_moved, bytes_reused, recomputed_tokens;
	uint64_t swaps_out, swaps_in, grows, grows_blocked;
	uint64_t ws_peak_units;	/* peak KV of the live conversations */
	uint64_t copies;	/* copy calls (memcpy, or one migration a swap) */
	uint64_t fair_steps;	/* steps with every tenant backlogged */
	double stall_s, sync_copy_s, idle_stall_s, copy_busy_s;
	double copy_bw, copy_bw_ratio, memcpy_bw;
	double wall_s, cpu_over_model;	/* steps whose CPU work overran */
	uint64_t output_checksum, steps, tokens_out, requests;
	uint64_t incomplete;
	double *ttft, *tbt;		/* samples (ms), for the plots */
	uint64_t nttft, ntbt;
	/* service per tenant over time: nwin windows of win_s */
	double win_s;
	uint32_t nwin, ntenants;
	double *service;		/* [nwin][ntenants], weighted */
};

int engine_run(const struct trace *t, const struct kv_ops *ops,
	       const struct engine_params *ep, struct run_result *r);
void run_result_free(struct run_result *r);

/* memcpy bandwidth, bytes/s, of `bytes` buffers (the same run's limit). */
double measure_memcpy_bw(uint64_t bytes, double seconds);

double now_s(void);

#endif /* SERVE_SERVE_H */
