// SPDX-License-Identifier: GPL-2.0
/*
 * kvmem-bench: runs inside the test VM (make bench). Each figure is
 * printed next to a baseline measured in the same run, their ratio, and
 * the physical limit, and emitted as one "BENCH-JSON {...}" line that the
 * host collects into build/bench/results.json. Where kvmem's round and
 * the baseline's run back to back (first_touch, populate, migrate_*,
 * round_trip_reuse, accel_swap_*, attn_*), "ratio" is the median of the
 * paired rounds' ratios, with ratio_min/p25/p75/max their spread: a ratio
 * of figures measured apart moves with the host's load.
 *
 *  first_touch: time to touch every 4 KiB page of a fresh kvmem space
 *	(one write per page), per MiB, against the same on anonymous private
 *	memory. Limit: writing zeroes over memory that is already mapped,
 *	which both must at least do.
 *  populate: KVMEM_IOC_POPULATE throughput against the kernel's own
 *	prefault of anonymous memory (MADV_POPULATE_WRITE). Same limit.
 *  migrate_*, round_trip_reuse: see bench_migrate.c.
 *  accel_*: libaccel's host backend, see bench_accel.c.
 *  attn_*: decode attention over libaccel's tensors, see bench_attn.c.
 *  jain_weighted, jain_weighted_baseline, switch_wait_ratio: kvmemd's
 *	fairness and switch cost, see bench_fair.c.
 */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/kvmem.h>

#include "bench.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

int kvmem_fd;
uint64_t page_size;

double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

void die(const char *what)
{
	fprintf(stderr, "kvmem-bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return v[n / 2];
}

static void touch(volatile char *p, size_t len)
{
	size_t off;

	for (off = 0; off < len; off += 4096)
		p[off] = 1;
}

/* A mapped kvmem space of @len bytes; returns its handle via @handle. */
char *kvmem_map(size_t len, uint32_t *handle)
{
	struct kvmem_space_create c = {
		.size = len, .tier = KVMEM_TIER_DRAM,
		.policy = KVMEM_POLICY_FAIL,
	};
	char *p;

	if (ioctl(kvmem_fd, KVMEM_IOC_SPACE_CREATE, &c))
		die("SPACE_CREATE");
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, kvmem_fd,
		 (off_t)c.mmap_offset);
	if (p == MAP_FAILED)
		die("mmap kvmem");
	*handle = c.handle;
	return p;
}

void kvmem_unmap(char *p, size_t len, uint32_t handle)
{
	struct kvmem_space_destroy d = { .handle = handle };

	munmap(p, len);
	if (ioctl(kvmem_fd, KVMEM_IOC_SPACE_DESTROY, &d))
		die("SPACE_DESTROY");
}

static char *anon_map(size_t len)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die("mmap anon");
	return p;
}

/* us per MiB to write zeroes over memory that is already mapped. */
static double zero_limit(size_t len)
{
	double t[ROUNDS];
	char *p = anon_map(len);
	int r;

	memset(p, 1, len);
	for (r = 0; r < ROUNDS; r++) {
		double t0 = now_us();

		memset(p, 0, len);
		__asm__ volatile("" ::: "memory");
		t[r] = (now_us() - t0) / (len / MIB);
	}
	munmap(p, len);
	return median(t, ROUNDS);
}

/*
 * Prints one figure: the human-readable line and its BENCH-JSON line.
 * @size_mib and @rounds say how much memory one round measures and how
 * many rounds the figure is the median (or percentile) of.
 */
void report_sized(const char *name, const char *unit, double kvmem,
		  const char *base_name, double base, double limit,
		  const char *limit_name, const char *better,
		  unsigned long size_mib, int rounds)
{
	double ratio = kvmem / base;

	printf("%-18s kvmem %10.1f %s | %s %10.1f %s | ratio %.2f (%s is better)"
	       " | limit %.1f %s (%s)\n", name, kvmem, unit, base_name, base,
	       unit, ratio, better, limit, unit, limit_name);
	printf("BENCH-JSON {\"bench\":\"%s\",\"unit\":\"%s\",\"kvmem\":%.3f,"
	       "\"baseline\":%.3f,\"baseline_name\":\"%s\",\"ratio\":%.4f,"
	       "\"better\":\"%s\",\"limit\":%.3f,\"limit_name\":\"%s\","
	       "\"size_mib\":%lu,\"rounds\":%d}\n", name, unit, kvmem, base,
	       base_name, ratio, better, limit, limit_name, size_mib, rounds);
	fflush(stdout);
}

void report(const char *name, const char *unit, double kvmem,
	    const char *base_name, double base, double limit,
	    const char *limit_name, const char *better)
{
	report_sized(name, unit, kvmem, base_name, base, limit, limit_name,
		     better, SIZE_MIB, ROUNDS);
}

/* One timed round of a benchmark on @len bytes; returns microseconds. */
typedef double (*round_fn)(size_t len);

static double kvmem_touch_round(size_t len)
{
	uint32_t h;
	char *p = kvmem_map(len, &h);
	double t0 = now_us(), t;

	touch(p, len);
	t = now_us() - t0;
	kvmem_unmap(p, len, h);
	return t;
}

static double anon_touch_round(size_t len)
{
	char *p = anon_map(len);
	double t0 = now_us(), t;

	touch(p, len);
	t = now_us() - t0;
	munmap(p, len);
	return t;
}

static double kvmem_populate_round(size_t len)
{
	uint32_t h;
	char *p = kvmem_map(len, &h);
	struct kvmem_range rg = { .handle = h, .count = len / page_size };
	double t0 = now_us(), t;

	if (ioctl(kvmem_fd, KVMEM_IOC_POPULATE, &rg))
		die("POPULATE");
	t = now_us() - t0;
	kvmem_unmap(p, len, h);
	return t;
}

static double anon_populate_round(size_t len)
{
	char *p = anon_map(len);
	double t0 = now_us(), t;

	if (madvise(p, len, MADV_POPULATE_WRITE))
		die("MADV_POPULATE_WRITE");
	t = now_us() - t0;
	munmap(p, len);
	return t;
}

/*
 * Runs kvmem's and the baseline's rounds alternately (so that both see the
 * same machine state) and reports the median of the paired ratios and
 * their spread (pairs.c), and the medians, as time per MiB or, for a
 * throughput, MiB per second.
 */
static void bench_pair(const char *name, round_fn kvmem, round_fn base,
		       const char *base_name, double limit_us_per_mib,
		       bool throughput)
{
	size_t len = SIZE_MIB * MIB;
	double k[ROUNDS], a[ROUNDS];
	int r;

	for (r = 0; r < ROUNDS; r++) {
		k[r] = kvmem(len) / SIZE_MIB;
		a[r] = base(len) / SIZE_MIB;
		if (throughput) {
			k[r] = 1e6 / k[r];
			a[r] = 1e6 / a[r];
		}
	}
	report_paired(name, throughput ? "MiB/s" : "us/MiB", k, a, ROUNDS,
		      base_name,
		      throughput ? 1e6 / limit_us_per_mib : limit_us_per_mib,
		      "memset of mapped memory",
		      throughput ? "higher" : "lower", SIZE_MIB);
}

/* Whether group @g runs: every group without arguments, else the named. */
static bool wanted(int argc, char **argv, const char *g)
{
	if (argc < 2)
		return true;
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], g))
			return true;
	return false;
}

int main(int argc, char **argv)
{
	static const char *const groups[] = {
		"first_touch", "populate", "migrate", "accel", "attn", "fair",
	};
	struct kvmem_info info;
	double limit;

	for (int i = 1; i < argc; i++) {
		size_t g = 0;

		while (g < sizeof(groups) / sizeof(groups[0]) &&
		       strcmp(argv[i], groups[g]))
			g++;
		if (g == sizeof(groups) / sizeof(groups[0])) {
			fprintf(stderr, "usage: kvmem-bench [GROUP...]: no group "
				"\"%s\"; groups: first_touch populate migrate "
				"accel attn fair\n", argv[i]);
			return 2;
		}
	}
	kvmem_fd = open("/dev/kvmem", O_RDWR | O_CLOEXEC);
	if (kvmem_fd < 0)
		die("open /dev/kvmem");
	if (ioctl(kvmem_fd, KVMEM_IOC_GET_INFO, &info))
		die("GET_INFO");
	page_size = info.page_size;
	limit = zero_limit(SIZE_MIB * MIB);
	if (wanted(argc, argv, "first_touch"))
		bench_pair("first_touch", kvmem_touch_round, anon_touch_round,
			   "anonymous private memory", limit, false);
	if (wanted(argc, argv, "populate"))
		bench_pair("populate", kvmem_populate_round,
			   anon_populate_round,
			   "MADV_POPULATE_WRITE of anonymous memory", limit,
			   true);
	if (wanted(argc, argv, "migrate"))
		bench_migrate();
	if (wanted(argc, argv, "accel"))
		bench_accel();
	if (wanted(argc, argv, "attn"))
		bench_attn();
	if (wanted(argc, argv, "fair"))
		bench_fair();
	close(kvmem_fd);
	return 0;
}
