/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The serving benchmark's workload (Documentation/serving-bench.md):
 * seeded, reproducible multi-turn conversations modelled on FastSwitch's
 * evaluation (arXiv 2411.18424): ShareGPT-like prompt and answer lengths,
 * about 5.5 turns per conversation, Poisson conversation arrivals, think
 * time between turns, tenants with weights, and per-request priorities
 * re-drawn at a per-step frequency with a Random or a Markov pattern.
 *
 * Every random number is drawn from a counter-based generator keyed by
 * (seed, what, index), so one conversation's lengths do not depend on how
 * many others there are, and the priority of a conversation at update
 * epoch e is a pure function of (seed, conversation, e). Plain C, no I/O.
 */
#ifndef SERVE_TRACE_H
#define SERVE_TRACE_H

#include <stdint.h>

#define TRACE_MAX_TENANTS 8
#define TRACE_MAX_TURNS 64

enum trace_prio_pattern {
	TRACE_PRIO_RANDOM = 0,	/* each update: a uniform level */
	TRACE_PRIO_MARKOV = 1,	/* each update: stay, one up or one down */
};

/**
 * struct trace_params - what to generate (trace_params_default() fills in
 * FastSwitch's scale; see serving-bench.md for where each figure is from)
 * @seed: the seed
 * @conversations: conversations
 * @rate: conversation arrivals per second (Poisson)
 * @mean_turns: mean turns per conversation (1 + geometric), >= 1
 * @max_turns: cap on turns, <= TRACE_MAX_TURNS
 * @prompt_mean: mean tokens of one turn's prompt (lognormal, before clip)
 * @prompt_sigma: its lognormal shape (sigma of the log)
 * @output_mean: mean tokens of one turn's answer (lognormal, before clip)
 * @output_sigma: its shape
 * @len_scale: lengths are multiplied by this (the VM's scaled-down trace)
 * @prompt_max: clip of a prompt, after scaling, >= 1
 * @output_max: clip of an answer, after scaling, >= 1
 * @think_mean_s: mean think time between an answer and the next prompt
 *	(exponential)
 * @tenants: tenants, 1..TRACE_MAX_TENANTS
 * @weight: fairness weight of each tenant
 * @share: relative share of conversations each tenant sends
 * @prio_pattern: enum trace_prio_pattern
 * @prio_levels: priority levels (0 lowest), >= 1
 * @prio_freq: probability that a step re-draws the priorities (0.02-0.04)
 * @step_s: nominal step time: update epochs are on this time grid, so that
 *	every policy sees the same priorities at the same time
 */
struct trace_params {
	uint64_t seed;
	uint32_t conversations;
	double rate;
	double mean_turns;
	uint32_t max_turns;
	double prompt_mean, prompt_sigma;
	double output_mean, output_sigma;
	double len_scale;
	uint32_t prompt_max, output_max;
	double think_mean_s;
	uint32_t tenants;
	double weight[TRACE_MAX_TENANTS];
	double share[TRACE_MAX_TENANTS];
	uint32_t prio_pattern;
	uint32_t prio_levels;
	double prio_freq;
	double step_s;
};

struct trace_turn {
	uint32_t prompt;	/* new tokens the user sends */
	uint32_t output;	/* tokens of the answer */
	double think_s;		/* think time before this turn (0 for turn 0) */
};

struct trace_conv {
	uint32_t id;
	uint32_t tenant;
	double arrival_s;	/* first prompt's arrival */
	uint32_t nturns;
	struct trace_turn turn[TRACE_MAX_TURNS];
	uint64_t total_tokens;	/* context after the last turn */
};

struct trace {
	struct trace_params p;
	struct trace_conv *conv;	/* p.conversations, by arrival */
	double *update_s;		/* priority update times, ascending */
	uint32_t nupdates;
	double horizon_s;		/* updates are generated up to here */
};

/* FastSwitch's scale: 1,000 conversations, 1/s, 5.5 turns, ShareGPT. */
void trace_params_default(struct trace_params *p);

/*
 * Generates the trace; priority updates up to horizon_s. Returns 0,
 * -EINVAL for bad parameters, -ENOMEM.
 */
int trace_generate(const struct trace_params *p, double horizon_s,
		   struct trace *t);
void trace_free(struct trace *t);

/*
 * Priority of conversation conv after update epoch e (epoch 0: before
 * the first update). cache: per-conversation memo for the Markov chain
 * (two uint32_t: epoch, level; zero-initialised), may be NULL.
 */
uint32_t trace_priority(const struct trace *t, uint32_t conv, uint32_t epoch,
			uint32_t cache[2]);

/* Epochs passed at time s: updates with update_s <= s. */
uint32_t trace_epoch_at(const struct trace *t, double s);

/* The generator: counter-based, keyed by (seed, stream, index). */
uint64_t trace_rand64(uint64_t seed, uint64_t stream, uint64_t index);
/* Uniform in (0, 1). */
double trace_rand01(uint64_t seed, uint64_t stream, uint64_t index);

/* Streams. */
enum {
	TRACE_S_ARRIVAL = 1,
	TRACE_S_TURNS,
	TRACE_S_PROMPT,
	TRACE_S_OUTPUT,
	TRACE_S_THINK,
	TRACE_S_TENANT,
	TRACE_S_UPDATE,
	TRACE_S_PRIO,
	TRACE_S_TOKEN,
};

#endif /* SERVE_TRACE_H */
