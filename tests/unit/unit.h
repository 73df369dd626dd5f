/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A minimal unit-test harness: a table of cases per suite; each case
 * prints one line "PASS suite/case" or "FAIL suite/case", which `make
 * check` counts. A failed CHECK() reports its line and the case goes on,
 * so one run shows every broken expectation.
 */
#ifndef KVMEM_UNIT_H
#define KVMEM_UNIT_H

#include <stdio.h>
#include <stdlib.h>

static int unit_case_failed;

#define CHECK(cond)							\
	do {								\
		if (!(cond)) {						\
			fprintf(stderr, "  %s:%d: CHECK(%s) failed\n",	\
				__FILE__, __LINE__, #cond);		\
			unit_case_failed = 1;				\
		}							\
	} while (0)

#define CHECK_EQ(a, b)							\
	do {								\
		long long _a = (long long)(a), _b = (long long)(b);	\
		if (_a != _b) {						\
			fprintf(stderr, "  %s:%d: %s == %lld, want %s == %lld\n", \
				__FILE__, __LINE__, #a, _a, #b, _b);	\
			unit_case_failed = 1;				\
		}							\
	} while (0)

struct unit_case {
	const char *name;
	void (*fn)(void);
};

#define UNIT_CASE(fn) { #fn, fn }

static inline int unit_run(const char *suite, const struct unit_case *cases,
			   size_t n)
{
	int failed = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		unit_case_failed = 0;
		cases[i].fn();
		printf("%s %s/%s\n", unit_case_failed ? "FAIL" : "PASS", suite,
		       cases[i].name);
		failed |= unit_case_failed;
	}
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#define UNIT_MAIN(suite, table)						\
	int main(void)							\
	{								\
		return unit_run(suite, table,				\
				sizeof(table) / sizeof(table[0]));	\
	}

#endif /* KVMEM_UNIT_H */
