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
void copy_bytes(void *dst, const void *src, size_t len);
char *node_buf(size_t len, int node);
void bench_migrate(void);
void bench_accel(void);

#endif /* KVMEM_BENCH_H */
