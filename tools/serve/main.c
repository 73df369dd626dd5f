// SPDX-License-Identifier: GPL-2.0
/*
 * kvmem-serve: the serving benchmark (Documentation/serving-bench.md).
 * Runs the same trace through every policy under the same memory budget,
 * policies interleaved round after round (ABCD ABCD ...), and prints per
 * policy the median over the rounds and the spread (min, max), as one
 * BENCH-JSON line and a table. Exits 1 if the policies' output checksums
 * differ or a run did not finish.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve.h"

#define MAX_POL 4
#define MAX_ROUNDS 16

static const struct kv_ops *all_ops[MAX_POL] = {
	&kv_recompute_ops, &kv_vllm_ops, &kv_fastswitch_ops, &kv_kvmem_ops,
};

static void usage(FILE *f)
{
	fprintf(f,
"usage: kvmem-serve [options]\n"
"  --policies LIST    comma-separated: recompute,vllm_swap,fastswitch,kvmem\n"
"                     (default: all four; kvmem needs /dev/kvmem)\n"
"  --rounds N         rounds, policies interleaved in each (default 3)\n"
"  --conversations N  conversations (default 24)\n"
"  --seed S           trace seed (default 1)\n"
"  --rate R           conversation arrivals per second (default 4)\n"
"  --think S          mean think time between turns, s (default 0.5)\n"
"  --len-scale X      ShareGPT lengths times X (default 0.25)\n"
"  --max-turns N      cap on turns per conversation (default 12)\n"
"  --pattern P        priority updates: random or markov (default random)\n"
"  --freq F           priority update probability per step (default 0.04)\n"
"  --budget-units U   fast tier, in 32 KiB units (16 tokens of KV);\n"
"                     default: the working set / --too-small\n"
"  --too-small X      working set / fast tier (default 2.5)\n"
"  --step-ms MS       modelled step time: base (default 6)\n"
"  --tok-us US        modelled step time: per token (default 40)\n"
"  --max-run S        give up a run after S seconds (default 120)\n"
"  --samples DIR      write DIR/POLICY.ttft, .tbt, .service for plots\n"
"  --quiet            no table, only the BENCH-JSON line\n"
"  --corrupt POLICY   test of the checksums: zero one K of POLICY's KV\n"
"                     at step 100 (the run must then fail)\n");
}

struct agg {
	struct run_result r[MAX_ROUNDS];
	int n;
};

static int cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Median, min and max of one field over the rounds. */
#define FIELD(f) offsetof(struct run_result, f)
static void stat3(const struct agg *a, size_t off, int isu64, double *med,
		  double *mn, double *mx)
{
	double v[MAX_ROUNDS];

	for (int i = 0; i < a->n; i++)
		v[i] = isu64 ? (double)*(const uint64_t *)((const char *)&a->r[i] + off)
			     : *(const double *)((const char *)&a->r[i] + off);
	qsort(v, a->n, sizeof(double), cmpd);
	*mn = v[0];
	*mx = v[a->n - 1];
	*med = a->n % 2 ? v[a->n / 2] : (v[a->n / 2 - 1] + v[a->n / 2]) / 2;
}

static void write_samples(const char *dir, const char *name,
			  const struct run_result *r)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.ttft", dir, name);
	if ((f = fopen(path, "w"))) {
		for (uint64_t i = 0; i < r->nttft; i++)
			fprintf(f, "%.3f\n", r->ttft[i]);
		fclose(f);
	}
	snprintf(path, sizeof(path), "%s/%s.tbt", dir, name);
	if ((f = fopen(path, "w"))) {
		for (uint64_t i = 0; i < r->ntbt; i++)
			fprintf(f, "%.3f\n", r->tbt[i]);
		fclose(f);
	}
	snprintf(path, sizeof(path), "%s/%s.service", dir, name);
	if ((f = fopen(path, "w"))) {
		for (uint32_t w = 0; w < r->nwin; w++) {
			double tot = 0;

			for (uint32_t i = 0; i < r->ntenants; i++)
				tot += r->service[(size_t)w * r->ntenants + i];
			if (tot == 0)
				continue;
			fprintf(f, "%.1f", w * r->win_s);
			for (uint32_t i = 0; i < r->ntenants; i++)
				fprintf(f, " %.4f",
					r->service[(size_t)w * r->ntenants + i] / tot);
			fprintf(f, "\n");
		}
		fclose(f);
	}
}

/*
 * The working set, estimated from the trace alone: a conversation lives
 * from its arrival for its think times plus its tokens at the modelled
 * step rate, and its context grows linearly to its final length over
 * that time; the peak over time of the sum over live conversations.
 */
static uint64_t working_set(const struct trace *t, const struct engine_params *ep)
{
	double step = ep->step_base_ms * 1e-3 + ep->step_tok_us * 1e-6 * 8;
	uint64_t peak = 0;

	for (double at = 0; at < t->conv[t->p.conversations - 1].arrival_s + 60;
	     at += 0.1) {
		double sum = 0;

		for (uint32_t j = 0; j < t->p.conversations; j++) {
			const struct trace_conv *c = &t->conv[j];
			double life = 0;

			for (uint32_t k = 0; k < c->nturns; k++)
				life += c->turn[k].think_s + c->turn[k].output * step;
			if (at < c->arrival_s || at > c->arrival_s + life)
				continue;
			sum += (double)c->total_tokens * (at - c->arrival_s) / life;
		}
		if (sum / UNIT_TOKENS > peak)
			peak = (uint64_t)(sum / UNIT_TOKENS);
	}
	return peak;
}

#define KV_POOLS "/sys/class/misc/kvmem/pools"

static int sysfs_read(const char *path, char *buf, size_t n)
{
	FILE *f = fopen(path, "r");
	int ok;

	if (!f)
		return -errno;
	ok = fgets(buf, (int)n, f) != NULL;
	fclose(f);
	buf[strcspn(buf, "\n")] = 0;
	return ok ? 0 : -EIO;
}

static int sysfs_write_u64(const char *path, uint64_t v)
{
	FILE *f = fopen(path, "w");
	int ret;

	if (!f)
		return -errno;
	ret = fprintf(f, "%llu", (unsigned long long)v) < 0 ? -EIO : 0;
	if (fclose(f) && !ret)
		ret = -errno;
	return ret;
}

/*
 * The kvmem policy's fast tier is the first dram pool, its reserve set to
 * the budget (the paged policies' "device" pools are that size too).
 * Returns the pool index, its old reserve in *old; -errno.
 */
static int fast_reserve(uint64_t bytes, uint64_t *old)
{
	for (int i = 0; i < 8; i++) {
		char path[128], buf[64];
		uint64_t ps;
		int ret;

		snprintf(path, sizeof(path), KV_POOLS "/pool%d/tier", i);
		if (sysfs_read(path, buf, sizeof(buf)))
			break;
		if (strcmp(buf, "dram"))
			continue;
		snprintf(path, sizeof(path), KV_POOLS "/pool%d/page_size", i);
		if ((ret = sysfs_read(path, buf, sizeof(buf))))
			return ret;
		ps = strtoull(buf, NULL, 0);
		snprintf(path, sizeof(path), KV_POOLS "/pool%d/reserve", i);
		if ((ret = sysfs_read(path, buf, sizeof(buf))))
			return ret;
		*old = strtoull(buf, NULL, 0);
		ret = sysfs_write_u64(path, (bytes + ps - 1) / ps);
		if (ret) {
			fprintf(stderr, "kvmem-serve: %s: %s (run as root)\n",
				path, strerror(-ret));
			return ret;
		}
		return i;
	}
	fprintf(stderr, "kvmem-serve: kvmem: no dram pool under " KV_POOLS
		" (is the kvmem module loaded?)\n");
	return -ENOENT;
}

static void fast_reserve_undo(int pool, uint64_t old)
{
	char path[128];

	snprintf(path, sizeof(path), KV_POOLS "/pool%d/reserve", pool);
	if (sysfs_write_u64(path, old))
		fprintf(stderr, "kvmem-serve: could not put %s back to %llu\n",
			path, (unsigned long long)old);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "policies", 1, 0, 'p' }, { "rounds", 1, 0, 'r' },
		{ "conversations", 1, 0, 'n' }, { "seed", 1, 0, 's' },
		{ "rate", 1, 0, 'a' }, { "think", 1, 0, 't' },
		{ "len-scale", 1, 0, 'l' }, { "pattern", 1, 0, 'P' },
		{ "freq", 1, 0, 'f' }, { "budget-units", 1, 0, 'b' },
		{ "step-ms", 1, 0, 'S' }, { "tok-us", 1, 0, 'T' },
		{ "max-run", 1, 0, 'm' }, { "samples", 1, 0, 'd' },
		{ "max-turns", 1, 0, 'x' }, { "corrupt", 1, 0, 'C' }, { "too-small", 1, 0, 'R' }, { "quiet", 0, 0, 'q' }, { "help", 0, 0, 'h' }, { 0 }
	};
	struct trace_params tp;
	struct engine_params ep = {
		.step_base_ms = 6, .step_tok_us = 40, .max_batch = 16,
		.chunk = 128, .prio_tokens = 64, .max_run_s = 120, .threads = 2,
	};
	const struct kv_ops *pol[MAX_POL];
	static struct agg agg[MAX_POL];
	const char *policies = "recompute,vllm_swap,fastswitch,kvmem";
	const char *samples = NULL;
	int npol = 0, rounds = 3, quiet = 0, opt, bad = 0;
	uint64_t ws, maxtok = 0, hostu = 0, fold = 0;
	int fpool = -1;
	double ratio = 2.5;
	const char *corrupt = NULL;
	struct trace t;
	double mbw;

	trace_params_default(&tp);
	tp.conversations = 24;
	tp.rate = 4;
	tp.think_mean_s = 0.5;
	tp.len_scale = 0.25;
	tp.prompt_max = 512;
	tp.output_max = 256;
	tp.max_turns = 12;
	tp.step_s = 0.008;
	while ((opt = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (opt) {
		case 'p': policies = optarg; break;
		case 'r': rounds = atoi(optarg); break;
		case 'n': tp.conversations = (uint32_t)atoi(optarg); break;
		case 's': tp.seed = strtoull(optarg, NULL, 0); break;
		case 'a': tp.rate = atof(optarg); break;
		case 't': tp.think_mean_s = atof(optarg); break;
		case 'l': tp.len_scale = atof(optarg); break;
		case 'P':
			if (!strcmp(optarg, "random"))
				tp.prio_pattern = TRACE_PRIO_RANDOM;
			else if (!strcmp(optarg, "markov"))
				tp.prio_pattern = TRACE_PRIO_MARKOV;
			else {
				fprintf(stderr, "kvmem-serve: --pattern %s: "
					"random or markov\n", optarg);
				return 2;
			}
			break;
		case 'f': tp.prio_freq = atof(optarg); break;
		case 'b': ep.budget_units = strtoull(optarg, NULL, 0); break;
		case 'S': ep.step_base_ms = atof(optarg); break;
		case 'T': ep.step_tok_us = atof(optarg); break;
		case 'm': ep.max_run_s = atof(optarg); break;
		case 'd': samples = optarg; break;
		case 'C': corrupt = optarg; break;
		case 'R': ratio = atof(optarg); break;
		case 'x': tp.max_turns = (uint32_t)atoi(optarg); break;
		case 'q': quiet = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (rounds < 1 || rounds > MAX_ROUNDS) {
		fprintf(stderr, "kvmem-serve: --rounds %d: 1 to %d\n", rounds,
			MAX_ROUNDS);
		return 2;
	}
	for (char *dup = strdup(policies), *sv = NULL,
	     *tok = strtok_r(dup, ",", &sv); tok || (free(dup), 0);
	     tok = strtok_r(NULL, ",", &sv)) {
		int found = 0;

		for (int i = 0; i < MAX_POL; i++)
			if (!strcmp(tok, all_ops[i]->name) && npol < MAX_POL) {
				pol[npol++] = all_ops[i];
				found = 1;
			}
		if (!found) {
			fprintf(stderr, "kvmem-serve: --policies: no policy "
				"'%s' (recompute, vllm_swap, fastswitch, kvmem)\n",
				tok);
			return 2;
		}
	}
	if (trace_generate(&tp, ep.max_run_s + 1, &t)) {
		fprintf(stderr, "kvmem-serve: bad trace parameters\n");
		return 2;
	}
	for (uint32_t i = 0; i < t.p.conversations; i++) {
		if (t.conv[i].total_tokens > maxtok)
			maxtok = t.conv[i].total_tokens;
		hostu += t.conv[i].total_tokens / UNIT_TOKENS + 2;
	}
	serve_max_tokens = maxtok + 1;
	serve_host_units = hostu;
	ws = working_set(&t, &ep);
	if (!ep.budget_units)
		ep.budget_units = (uint64_t)(ws / (ratio > 1 ? ratio : 1));
	if (ep.budget_units < (maxtok + UNIT_TOKENS) / UNIT_TOKENS + 2) {
		fprintf(stderr, "kvmem-serve: a budget of %llu units does not "
			"hold the longest conversation (%llu tokens); "
			"raise --budget-units or lower --len-scale\n",
			(unsigned long long)ep.budget_units,
			(unsigned long long)maxtok);
		return 2;
	}
	if (attn_pool_create(ep.threads, &serve_pool)) {
		fprintf(stderr, "kvmem-serve: no attention threads\n");
		return 1;
	}
	for (int k = 0; k < npol; k++)
		if (pol[k] == &kv_kvmem_ops) {
			fpool = fast_reserve(ep.budget_units * UNIT_BYTES, &fold);
			if (fpool < 0)
				return 1;
		}
	mbw = measure_memcpy_bw(8 << 20, 0.2);
	if (!quiet)
		fprintf(stderr, "kvmem-serve: %u conversations, "
			"working set %llu units (%.1f MiB), budget %llu units "
			"(%.1f MiB, %.2fx too small), %d rounds, memcpy %.2f GB/s\n",
			t.p.conversations, (unsigned long long)ws,
			ws * UNIT_BYTES / 1048576.0,
			(unsigned long long)ep.budget_units,
			ep.budget_units * UNIT_BYTES / 1048576.0,
			(double)ws / ep.budget_units, rounds, mbw / 1e9);
	for (int rd = 0; rd < rounds; rd++)
		for (int pi = 0; pi < npol; pi++) {
			/* ABCD, then BCDA, ...: no policy always first. */
			int k = (pi + rd) % npol;
			struct run_result *r = &agg[k].r[agg[k].n];
			int ret;

			double before = measure_memcpy_bw(8 << 20, 0.05);

			ep.corrupt_step = corrupt && !strcmp(corrupt, pol[k]->name) ?
					  100 : 0;
			/* engine_run() clears *r: the limit is set after it. */
			ret = engine_run(&t, pol[k], &ep, r);
			r->memcpy_bw = fmax(before, measure_memcpy_bw(8 << 20, 0.05));
			if (ret) {
				fprintf(stderr, "kvmem-serve: %s: run failed: %s\n",
					pol[k]->name, strerror(-ret));
				if (fpool >= 0)
					fast_reserve_undo(fpool, fold);
				return 1;
			}
			r->copy_bw_ratio = r->memcpy_bw > 0 ? r->copy_bw / r->memcpy_bw : 0;
			agg[k].n++;
			if (!quiet)
				fprintf(stderr, "  round %d %-10s %6.2f s  p99 ttft %8.1f ms  "
					"p99.9 tbt %7.1f ms  jain %.3f  switches %llu  "
					"ws %llu checksum %016llx%s\n", rd, pol[k]->name,
					r->wall_s, r->p99_ttft_ms, r->p999_tbt_ms, r->jain,
					(unsigned long long)r->switches,
					(unsigned long long)r->ws_peak_units,
					(unsigned long long)r->output_checksum,
					r->incomplete ? "  INCOMPLETE" : "");
			if (samples && rd == 0)
				write_samples(samples, pol[k]->name, r);
			if (r->incomplete)
				bad = 1;
		}
	/* One JSON line: per policy, medians and spreads. */
	printf("BENCH-JSON {\"bench\": \"serving\", \"conversations\": %u, "
	       "\"rounds\": %d, \"seed\": %llu, \"pattern\": \"%s\", "
	       "\"prio_freq\": %.3f, \"weights\": [%g, %g, %g], \"working_set_units\": %llu, "
	       "\"budget_units\": %llu, \"unit_bytes\": %d, \"memcpy_GBps\": %.3f, "
	       "\"policies\": {",
	       t.p.conversations, rounds, (unsigned long long)t.p.seed,
	       t.p.prio_pattern ? "markov" : "random", t.p.prio_freq,
	       t.p.weight[0], t.p.weight[1], t.p.weight[2],
	       (unsigned long long)ws, (unsigned long long)ep.budget_units,
	       UNIT_BYTES, mbw / 1e9);
	for (int k = 0; k < npol; k++) {
		static const struct { const char *n; size_t off; int u; } f[] = {
			{ "p50_ttft_ms", FIELD(p50_ttft_ms), 0 },
			{ "p99_ttft_ms", FIELD(p99_ttft_ms), 0 },
			{ "p99_tbt_ms", FIELD(p99_tbt_ms), 0 },
			{ "p999_tbt_ms", FIELD(p999_tbt_ms), 0 },
			{ "throughput_tok_s", FIELD(throughput_tok_s), 0 },
			{ "jain", FIELD(jain), 0 },
			{ "max_service_diff", FIELD(max_service_diff), 0 },
			{ "switches", FIELD(switches), 1 },
			{ "bytes_moved", FIELD(bytes_moved), 1 },
			{ "bytes_reused", FIELD(bytes_reused), 1 },
			{ "copies", FIELD(copies), 1 },
			{ "stall_s", FIELD(stall_s), 0 },
			{ "sync_copy_s", FIELD(sync_copy_s), 0 },
			{ "idle_stall_s", FIELD(idle_stall_s), 0 },
			{ "copy_busy_s", FIELD(copy_busy_s), 0 },
			{ "copy_bw_ratio", FIELD(copy_bw_ratio), 0 },
			{ "recomputed_tokens", FIELD(recomputed_tokens), 1 },
			{ "wall_s", FIELD(wall_s), 0 },
			{ "steps", FIELD(steps), 1 },
			{ "cpu_over_model", FIELD(cpu_over_model), 0 },
			{ "grows", FIELD(grows), 1 },
			{ "grows_blocked", FIELD(grows_blocked), 1 },
			{ "working_set_peak_units", FIELD(ws_peak_units), 1 },
		};
		struct agg *a = &agg[k];
		uint64_t ck = a->r[0].output_checksum;
		double fw = 0;

		for (int i = 0; i < a->n; i++) {
			if (a->r[i].output_checksum != ck)
				ck = 0;	/* differs between rounds */
			fw += (double)a->r[i].fair_steps;
		}
		printf("%s\"%s\": {", k ? ", " : "", pol[k]->name);
		for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
			double med, mn, mx;

			stat3(a, f[i].off, f[i].u, &med, &mn, &mx);
			printf("\"%s\": %.6g, \"%s_spread\": [%.6g, %.6g], ",
			       f[i].n, med, f[i].n, mn, mx);
		}
		/* Round 0's distributions, for the plots: percentiles 0..100
		 * (and 99.5, 99.9) of TTFT and TBT, the tenants' service share
		 * per window. */
		{
			static const double extra[] = { 99.5, 99.9 };
			const struct run_result *r0 = &a->r[0];

			for (int w = 0; w < 2; w++) {
				const double *v = w ? r0->tbt : r0->ttft;
				uint64_t n = w ? r0->ntbt : r0->nttft;

				printf("\"%s_pct\": [", w ? "tbt" : "ttft");
				for (int i = 0; i <= 102; i++) {
					double p = i <= 100 ? i : extra[i - 101];
					double x = n ? v[(uint64_t)(p / 100 * (double)(n - 1))] : 0;

					printf("%s%.3f", i ? ", " : "", x);
				}
				printf("], ");
			}
			printf("\"service_win_s\": %.2f, \"service_share\": [", r0->win_s);
			for (uint32_t w = 0, first = 1; w < r0->nwin; w++) {
				double tot = 0;

				for (uint32_t i = 0; i < r0->ntenants; i++)
					tot += r0->service[(size_t)w * r0->ntenants + i];
				if (tot == 0)
					continue;
				printf("%s[%.1f", first ? "" : ", ", w * r0->win_s);
				first = 0;
				for (uint32_t i = 0; i < r0->ntenants; i++)
					printf(", %.4f", r0->service[(size_t)w * r0->ntenants + i] / tot);
				printf("]");
			}
			printf("], ");
		}
		printf("\"fair_steps\": %.0f, \"output_checksum\": \"%016llx\", "
		       "\"incomplete\": %llu}", fw / a->n,
		       (unsigned long long)ck,
		       (unsigned long long)a->r[0].incomplete);
		if (ck != agg[0].r[0].output_checksum || !ck)
			bad = 1;
	}
	printf("}, \"checksums_match\": %s}\n", bad ? "false" : "true");
	fflush(stdout);
	for (int k = 0; k < npol; k++)
		for (int i = 0; i < agg[k].n; i++)
			run_result_free(&agg[k].r[i]);
	if (fpool >= 0)
		fast_reserve_undo(fpool, fold);
	attn_pool_destroy(serve_pool);
	trace_free(&t);
	if (bad)
		fprintf(stderr, "kvmem-serve: FAIL: output checksums differ "
			"between policies or rounds, or a run did not finish\n");
	return bad;
}
