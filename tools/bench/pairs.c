// SPDX-License-Identifier: GPL-2.0
/*
 * Figures that hold on a shared host: a benchmark runs kvmem's round and
 * its baseline's round back to back (ABAB..., or ABBA to cancel drift),
 * and the figure is the median of the per-pair ratios, with their spread.
 * A ratio of two medians measured minutes apart moves with the host's load
 * (issue 9: migration at 0.37-0.40 of memcpy with other VMs running, 1.20
 * on a quiet host); a pair's two sides share the host's state.
 */
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Quantile q of sorted v[n], by the nearest rank. */
static double rank(const double *v, int n, double q)
{
	int i = (int)(q * (n - 1) + 0.5);

	return v[i < 0 ? 0 : i >= n ? n - 1 : i];
}

void pair_stats(const double *k, const double *a, int n, struct pair_stats *s)
{
	double r[64], kk[64], aa[64];
	int i;

	if (n > 64)
		n = 64;
	for (i = 0; i < n; i++) {
		r[i] = k[i] / a[i];
		kk[i] = k[i];
		aa[i] = a[i];
	}
	qsort(r, n, sizeof(*r), cmp_d);
	qsort(kk, n, sizeof(*kk), cmp_d);
	qsort(aa, n, sizeof(*aa), cmp_d);
	s->kvmem = kk[n / 2];
	s->base = aa[n / 2];
	s->ratio = r[n / 2];
	s->min = r[0];
	s->p25 = rank(r, n, 0.25);
	s->p75 = rank(r, n, 0.75);
	s->max = r[n - 1];
	s->rounds = n;
}

void report_paired(const char *name, const char *unit, const double *k,
		   const double *a, int n, const char *base_name, double limit,
		   const char *limit_name, const char *better,
		   unsigned long size_mib)
{
	struct pair_stats s;

	pair_stats(k, a, n, &s);
	printf("%-18s kvmem %10.1f %s | %s %10.1f %s | paired ratio %.3f "
	       "[%.3f..%.3f, IQR %.3f..%.3f] (%s is better) | limit %.1f %s "
	       "(%s)\n", name, s.kvmem, unit, base_name, s.base, unit,
	       s.ratio, s.min, s.max, s.p25, s.p75, better, limit, unit,
	       limit_name);
	printf("BENCH-JSON {\"bench\":\"%s\",\"unit\":\"%s\",\"kvmem\":%.3f,"
	       "\"baseline\":%.3f,\"baseline_name\":\"%s\",\"ratio\":%.4f,"
	       "\"ratio_method\":\"median of paired rounds\","
	       "\"ratio_min\":%.4f,\"ratio_p25\":%.4f,\"ratio_p75\":%.4f,"
	       "\"ratio_max\":%.4f,\"ratio_of_medians\":%.4f,"
	       "\"better\":\"%s\",\"limit\":%.3f,\"limit_name\":\"%s\","
	       "\"size_mib\":%lu,\"rounds\":%d}\n", name, unit, s.kvmem,
	       s.base, base_name, s.ratio, s.min, s.p25, s.p75, s.max,
	       s.kvmem / s.base, better, limit, limit_name, size_mib,
	       s.rounds);
	fflush(stdout);
}
