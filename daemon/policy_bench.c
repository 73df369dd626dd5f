// SPDX-License-Identifier: GPL-2.0
/*
 * sched_decision_us: the policy's cost per event and decision at 10, 100,
 * 1,000 and 10,000 active sequences (8 tenants weighted 1 to 8, half the
 * sequences resident; a resident one serves 8 tokens per round; no margin
 * and no price, so that most decisions preempt). Runs on the host, no module. Prints a
 * line per figure and a BENCH-JSON line as tools/bench/ does; with -o FILE
 * also writes the JSON lines (the records of build/bench/results.json).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "policy.h"

#define MIB (1ULL << 20)
#define GOAL_US 5.0

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t xorshift(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Median over @reps batches of @rounds (event + decision + completions). */
static double measure(unsigned n, int rounds, int reps, double *switches)
{
	struct pol_config c;
	struct pol p;
	struct pol_decision d[64];
	double *t = calloc(reps, sizeof(*t)), med;
	uint64_t rnd = 0x9e3779b97f4a7c15ULL, clock_ns = 0, sw0;

	pol_config_default(&c);
	c.hysteresis = 0;
	c.tokens_per_s = 0;
	c.min_resident_ns = 0;
	if (!t || pol_init(&p, &c))
		exit(1);
	pol_pool(&p, (uint64_t)(n / 2 ? n / 2 : 1) * MIB, 0);
	for (unsigned k = 1; k <= 8; k++)
		pol_tenant_set(&p, k, k, 0);
	for (unsigned i = 0; i < n; i++)
		pol_seq_add(&p, i, 1 + i % 8, MIB,
			    i < n / 2 ? POL_FAST : POL_SLOW, false);
	sw0 = p.st.swap_ins;
	for (int r = 0; r < reps; r++) {
		double t0 = now_s();

		for (int i = 0; i < rounds; i++) {
			struct pol_seq *s;
			size_t k;

			do	/* a resident sequence serves */
				s = pol_seq_get(&p, xorshift(&rnd) % n);
			while (s->at != POL_AT_FAST);
			pol_seq_tokens(&p, s->id, 0, 8, MIB);
			clock_ns += 1000;
			pol_decide(&p, clock_ns);
			while ((k = pol_take(&p, d, 64)) > 0)
				for (size_t j = 0; j < k; j++)
					if (d[j].kind == POL_MIGRATE)
						pol_switch_done(&p, d[j].seq,
							d[j].cookie, true,
							MIB, 100000);
		}
		t[r] = (now_s() - t0) * 1e6 / rounds;
	}
	*switches = (double)(p.st.swap_ins - sw0) / ((double)rounds * reps);
	qsort(t, reps, sizeof(*t), cmp_double);
	med = t[reps / 2];
	free(t);
	pol_destroy(&p);
	return med;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: policy-bench [-o FILE] [-r ROUNDS]\n"
		"  Measures kvmemd's policy decision cost (sched_decision_us_N)\n"
		"  at 10, 100, 1000 and 10000 sequences; -o appends the JSON\n"
		"  lines to FILE; -r rounds per batch (default 20000).\n");
}

int main(int argc, char **argv)
{
	static const unsigned sizes[] = { 10, 100, 1000, 10000 };
	const char *outpath = NULL;
	FILE *out = NULL;
	int rounds = 20000, opt;

	while ((opt = getopt(argc, argv, "o:r:h")) != -1) {
		switch (opt) {
		case 'o':
			outpath = optarg;
			break;
		case 'r':
			rounds = atoi(optarg);
			if (rounds < 1 || rounds > 10000000) {
				fprintf(stderr, "policy-bench: -r %s: want 1 to "
					"10000000 rounds\n", optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (outpath && !(out = fopen(outpath, "a"))) {
		perror(outpath);
		return 1;
	}
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		double sw, us = measure(sizes[i], rounds, 9, &sw);
		char line[512];

		snprintf(line, sizeof(line),
			 "{\"bench\":\"sched_decision_us_%u\",\"unit\":\"us\","
			 "\"kvmem\":%.4f,\"better\":\"lower\",\"limit\":%.1f,"
			 "\"limit_name\":\"goal\",\"sequences\":%u,"
			 "\"switches_per_decision\":%.3f,\"rounds\":%d,"
			 "\"where\":\"host\"}", sizes[i], us, GOAL_US,
			 sizes[i], sw, rounds * 9);
		printf("sched_decision_us_%-6u %8.3f us (goal < %.0f us at "
		       "10000; %.2f switches per decision)\n", sizes[i], us,
		       GOAL_US, sw);
		printf("BENCH-JSON %s\n", line);
		if (out)
			fprintf(out, "%s\n", line);
	}
	if (out && fclose(out)) {
		perror(outpath);
		return 1;
	}
	return 0;
}
