// SPDX-License-Identifier: GPL-2.0
/*
 * The metrics text, checked against the Prometheus text format (0.0.4)
 * strictly: HELP and TYPE once per family, before its samples; names and
 * labels well formed; values numbers; histogram buckets cumulative, "le"
 * rising to +Inf, _count equal to the +Inf bucket. And the figures are
 * the policy's.
 */
#include <math.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/unit.h"
#include "kvmemd.h"

static struct kvmemd d;

#define NAME "[a-zA-Z_:][a-zA-Z0-9_:]*"
#define LABEL "[a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\\\\n]|\\\\[\\\\\"n])*\""
#define VALUE "(-?[0-9]+(\\.[0-9]+)?([eE][-+]?[0-9]+)?|[-+]Inf|NaN)"

/* Checks @text; returns the number of problems (printed). */
static int check_text(const char *text)
{
	regex_t help, type, sample;
	char fam[64][128], cur[128] = "", curtype[16] = "";
	int nfam = 0, bad = 0, lineno = 0;
	double last_le = -INFINITY, last_bucket = -1, inf_bucket = -1;
	char *copy = strdup(text), *save = NULL, *line;

	if (regcomp(&help, "^# HELP (" NAME ") [^\n]+$", REG_EXTENDED) ||
	    regcomp(&type, "^# TYPE (" NAME ") (counter|gauge|histogram)$",
		    REG_EXTENDED) ||
	    regcomp(&sample, "^(" NAME ")(\\{(" LABEL ")(," LABEL ")*\\})? "
		    VALUE "$", REG_EXTENDED))
		abort();
	CHECK(text[strlen(text) - 1] == '\n');
	for (line = strtok_r(copy, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		regmatch_t m[3];
		char name[128];

		lineno++;
		if (!regexec(&type, line, 3, m, 0)) {
			snprintf(cur, sizeof(cur), "%.*s",
				 (int)(m[1].rm_eo - m[1].rm_so), line + m[1].rm_so);
			snprintf(curtype, sizeof(curtype), "%.*s",
				 (int)(m[2].rm_eo - m[2].rm_so), line + m[2].rm_so);
			for (int i = 0; i < nfam; i++)
				if (!strcmp(fam[i], cur)) {
					fprintf(stderr, "  %d: %s twice\n",
						lineno, cur);
					bad++;
				}
			if (strncmp(cur, "kvmem_", 6)) {
				fprintf(stderr, "  %d: %s: no kvmem_ prefix\n",
					lineno, cur);
				bad++;
			}
			if (nfam < 64)
				snprintf(fam[nfam++], sizeof(fam[0]), "%s", cur);
			last_le = -INFINITY;
			last_bucket = inf_bucket = -1;
			continue;
		}
		if (!regexec(&help, line, 0, NULL, 0))
			continue;
		if (regexec(&sample, line, 2, m, 0)) {
			fprintf(stderr, "  %d: not a sample: %s\n", lineno, line);
			bad++;
			continue;
		}
		snprintf(name, sizeof(name), "%.*s",
			 (int)(m[1].rm_eo - m[1].rm_so), line + m[1].rm_so);
		if (!strcmp(curtype, "histogram")) {
			size_t n = strlen(cur);
			double v = strtod(strrchr(line, ' ') + 1, NULL);

			if (strncmp(name, cur, n) ||
			    (strcmp(name + n, "_bucket") &&
			     strcmp(name + n, "_sum") &&
			     strcmp(name + n, "_count"))) {
				fprintf(stderr, "  %d: %s not of %s\n", lineno,
					name, cur);
				bad++;
			} else if (!strcmp(name + n, "_bucket")) {
				const char *le = strstr(line, "le=\"");
				double x = le && !strncmp(le + 4, "+Inf", 4) ?
					INFINITY : le ? strtod(le + 4, NULL) : NAN;

				if (!(x > last_le) || v < last_bucket) {
					fprintf(stderr, "  %d: bucket out of "
						"order\n", lineno);
					bad++;
				}
				last_le = x;
				last_bucket = v;
				if (isinf(x))
					inf_bucket = v;
			} else if (!strcmp(name + n, "_count") && v != inf_bucket) {
				fprintf(stderr, "  %d: _count %g, +Inf bucket "
					"%g\n", lineno, v, inf_bucket);
				bad++;
			}
		} else if (strcmp(name, cur)) {
			fprintf(stderr, "  %d: sample %s under TYPE %s\n",
				lineno, name, cur);
			bad++;
		}
	}
	regfree(&help);
	regfree(&type);
	regfree(&sample);
	free(copy);
	return bad;
}

static void setup(void)
{
	struct pol_config c;

	memset(&d, 0, sizeof(d));
	d.fd = -1;
	pol_config_default(&c);
	pol_init(&d.pol, &c);
	pol_pool(&d.pol, 4 << 20, 0);
	pol_tenant_set(&d.pol, 0, 1, 0);
	pol_tenant_set(&d.pol, 3, 4, 1 << 20);
	pol_seq_add(&d.pol, 1, 3, 1 << 20, POL_FAST, false);
	pol_seq_tokens(&d.pol, 1, 10, 5, 1 << 20);
	d.npools = 2;
	d.pools[0] = (struct kd_pool){ .tier = 1, .total = 100, .free = 25 };
	d.pools[1] = (struct kd_pool){ .tier = 2, .total = 10, .free = 10 };
	kd_observe_latency(&d, 3e-6);
	kd_observe_latency(&d, 2e-6);
	kd_observe_latency(&d, 7.0);
}

static void format_is_strict(void)
{
	size_t len = 0;
	char *t;

	setup();
	t = kd_metrics_render(&d, &len);
	CHECK(t && len == strlen(t));
	CHECK_EQ(check_text(t), 0);
	CHECK(strstr(t, "kvmem_kv_cache_usage_perc{tier=\"dram\"} 0.75") != NULL);
	CHECK(strstr(t, "kvmem_kv_cache_usage_perc{tier=\"cxl\"} 0.000000\n"));
	CHECK(strstr(t, "kvmem_tenant_service_total{tenant=\"3\"} 20.000\n"));
	CHECK(strstr(t, "kvmem_tenant_weight{tenant=\"3\"} 4\n"));
	CHECK(strstr(t, "kvmem_fast_tier_usage_perc 0.250000\n"));
	CHECK(strstr(t, "kvmem_decision_latency_seconds_bucket{le=\"5e-06\"} 2\n"));
	CHECK(strstr(t, "kvmem_decision_latency_seconds_bucket{le=\"+Inf\"} 3\n"));
	CHECK(strstr(t, "kvmem_decision_latency_seconds_count 3\n"));
	free(t);
	pol_destroy(&d.pol);
}

/* The checker itself finds what it must (else the test above proves
 * nothing). */
static void checker_catches_errors(void)
{
	static const char *const bad[] = {
		"# TYPE kvmem_a counter\nkvmem_a 1\n# TYPE kvmem_a counter\n",
		"# TYPE kvmem_a counter\nkvmem_b 1\n",
		"# TYPE kvmem_a counter\nkvmem_a one\n",
		"# TYPE kvmem_a counter\nkvmem_a{x=1} 1\n",
		"# TYPE a counter\na 1\n",
		"# TYPE kvmem_h histogram\nkvmem_h_bucket{le=\"1\"} 2\n"
		"kvmem_h_bucket{le=\"+Inf\"} 1\nkvmem_h_count 1\n",
		"# TYPE kvmem_h histogram\nkvmem_h_bucket{le=\"+Inf\"} 2\n"
		"kvmem_h_count 3\n",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (!check_text(bad[i])) {
			fprintf(stderr, "  checker passed bad text %zu\n", i);
			unit_case_failed = 1;
		}
	}
}

static const struct unit_case cases[] = {
	UNIT_CASE(format_is_strict),
	UNIT_CASE(checker_catches_errors),
};

UNIT_MAIN("daemon_metrics", cases)
