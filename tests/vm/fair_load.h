/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The three-tenant workload that kvmemd's fairness is judged by, shared by
 * the VM tests (vmtest_fair.c: it must hold) and make bench (bench_fair.c:
 * how fair, against engines that preempt on their own). Tenants
 * FAIR_T0 + 0..2 with weights 1:2:4 are served by engine processes that
 * grow their sequences FAIR_STEP tokens a step, write a pattern that
 * depends on (tenant, token) and check every byte each time a sequence
 * may run again. Only libaccel and libc: no test framework.
 */
#ifndef KVMEM_FAIR_LOAD_H
#define KVMEM_FAIR_LOAD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define FAIR_NT		3
#define FAIR_T0		21		/* tenants 21, 22, 23 */
#define FAIR_STEP	16		/* tokens a step */
#define FAIR_NWIN_MAX	16

extern const uint32_t fair_weight[FAIR_NT];

/* How an engine process decides what runs. */
enum fair_mode {
	/* Honours accel_seq_may_run() and reports demand: kvmemd decides. */
	FAIR_FOLLOW,
	/* Ignores the daemon; only the module's quotas hold it. */
	FAIR_IGNORE,
	/*
	 * No daemon: each engine preempts on its own, as vLLM does. A grow
	 * that finds no free frame (wait_ms 0) swaps out the engine's most
	 * recently started resident sequence (FIFO: the oldest keeps
	 * running), synchronously; swapped sequences come back oldest first
	 * when a swap-in finds room. Engines do not see each other.
	 */
	FAIR_LOCAL,
};

/* Counters the engines share with the harness (MAP_SHARED). */
struct fair_shared {
	volatile int stop;
	volatile int ready;
	double t0;			/* ms, CLOCK_MONOTONIC */
	uint32_t win_ms, nwin;		/* progress windows */
	uint32_t kv_heads;		/* KV bytes a token / 128; 0: 1 */
	uint64_t tokens[FAIR_NT];	/* service: tokens written */
	uint64_t win[FAIR_NT][FAIR_NWIN_MAX + 1];
	uint64_t preempts[FAIR_NT];
	uint64_t resumes[FAIR_NT];
	uint64_t checked[FAIR_NT];	/* bytes verified after resumes */
	uint64_t bad[FAIR_NT];		/* bytes found wrong */
	uint64_t errs[FAIR_NT];
	uint64_t turns[FAIR_NT];	/* sequences filled */
	int lasterr[FAIR_NT];
};

double fair_now_ms(void);

/*
 * Runs an engine process serving tenants [first, first + n) until
 * sh->stop, then checks everything and _exit()s: 0, or 2 if it could not
 * start. Call in a child.
 */
void fair_engine(struct fair_shared *sh, uint32_t first, uint32_t n,
		 enum fair_mode mode) __attribute__((noreturn));

/* Starts kvmemd (@bin) with the tenants' weights; its pid. */
pid_t fair_kvmemd(const char *bin, const char *sock, const char *conf);

/* Jain's index over weighted service (tokens / weight). */
double fair_jain(const uint64_t *tokens);

#endif /* KVMEM_FAIR_LOAD_H */
