/* SPDX-License-Identifier: GPL-2.0 */
/* Shared helpers of kvmem-bench (tools/bench/). */
#ifndef KVMEM_BENCH_H
#define KVMEM_BENCH_H

#include <stddef.h>
#include <stdint.h>

#define MIB		(1024UL * 1024UL)
#define SIZE_MIB	64UL
#define ROUNDS		7

extern int kvmem_fd;
extern uint64_t page_size;

double now_us(void);
void die(const char *what);
double median(double *v, int n);
char *kvmem_map(size_t len, uint32_t *handle);
void kvmem_unmap(char *p, size_t len, uint32_t handle);
void report(const char *name, const char *unit, double kvmem,
	    const char *base_name, double base, double limit,
	    const char *limit_name, const char *better);
void report_sized(const char *name, const char *unit, double kvmem,
		  const char *base_name, double base, double limit,
		  const char *limit_name, const char *better,
		  unsigned long size_mib, int rounds);
/**
 * struct pair_stats - interleaved rounds of kvmem (k) and a baseline (a)
 * @kvmem: median of k; @base: median of a
 * @ratio: median of k[i] / a[i]; @min, @p25, @p75, @max: their spread
 * @rounds: pairs
 */
struct pair_stats {
	double kvmem, base, ratio, min, p25, p75, max;
	int rounds;
};

/* pairs.c: the statistics of n <= 64 pairs, and their report lines (ratio:
 * the median paired ratio; ratio_min/p25/p75/max; ratio_of_medians). */
void pair_stats(const double *k, const double *a, int n, struct pair_stats *s);
void report_paired(const char *name, const char *unit, const double *k,
		   const double *a, int n, const char *base_name, double limit,
		   const char *limit_name, const char *better,
		   unsigned long size_mib);
void copy_bytes(void *dst, const void *src, size_t len);
char *node_buf(size_t len, int node);
struct kvmem_event;
/* bench_migrate.c: MIGRATE all @pages of a space to @tier, wait for its
 * event (in @ev); the microseconds it took. */
double migrate(uint32_t handle, uint64_t pages, uint32_t tier, uint32_t flags,
	       struct kvmem_event *ev);
void bench_migrate(void);
void bench_accel(void);
void bench_attn(void);
void bench_fair(void);

#endif /* KVMEM_BENCH_H */
