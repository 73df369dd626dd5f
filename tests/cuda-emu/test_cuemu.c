// SPDX-License-Identifier: GPL-2.0
/*
 * test_cuemu: the runner and the helpers the cases share.
 *
 * The parent loads the emulation once and never calls into the driver; it
 * forks one child per case (the child inherits the loaded library but not
 * its state, which nothing has touched yet) and judges the case by the
 * child's exit status. A case that hangs is killed after CASE_TIMEOUT_S.
 */
#include <dlfcn.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test_cuemu.h"

#define CASE_TIMEOUT_S	60
#define FAULT_EXIT	99

#define XSTR_(x) #x
#define XSTR(x) XSTR_(x)

int cuemu_case_failed;
int cuemu_real_driver;
const char *cuemu_case_name = "";
struct cu_api cu;
void *cu_lib;

/* ---- loading ------------------------------------------------------------- */

static int load(void)
{
	cu_lib = dlopen("libcuda.so.1", RTLD_NOW);
	if (!cu_lib) {
		fprintf(stderr, "dlopen(libcuda.so.1): %s\n", dlerror());
		return -1;
	}
	/* XSTR expands cuda.h's macros: "cuMemcpyHtoDAsync_v2", ... */
#define CU_LOAD_(name)							\
	do {								\
		*(void **)&cu.name = dlsym(cu_lib, XSTR(name));		\
		if (!cu.name) {						\
			fprintf(stderr, "dlsym(%s): missing\n", XSTR(name)); \
			return -1;					\
		}							\
	} while (0);
	CU_ENTRY_POINTS(CU_LOAD_)
#undef CU_LOAD_
	*(void **)&cu.counts = dlsym(cu_lib, "cuemu_counts");
	*(void **)&cu.reset_counts = dlsym(cu_lib, "cuemu_reset_counts");
	/* A real driver has no counters; nothing reads them then. */
	if (!cuemu_real_driver && (!cu.counts || !cu.reset_counts)) {
		fprintf(stderr, "not the emulation: no cuemu_counts\n");
		return -1;
	}
	return 0;
}

/* ---- helpers ------------------------------------------------------------- */

struct cuemu_counts cuemu_snapshot(void)
{
	struct cuemu_counts c;

	memset(&c, 0, sizeof(c));
	if (cu.counts)
		cu.counts(&c);
	return c;
}

uint64_t cuemu_misuses(void)
{
	return cuemu_snapshot().misuse;
}

CUcontext setup_dev(int dev)
{
	CUcontext ctx = NULL;
	CUdevice d = -1;

	CHECK_OK(cu.cuInit(0));
	CHECK_OK(cu.cuDeviceGet(&d, dev));
	CHECK_OK(cu.cuDevicePrimaryCtxRetain(&ctx, d));
	CHECK_OK(cu.cuCtxSetCurrent(ctx));
	return ctx;
}

CUcontext setup(void)
{
	return setup_dev(0);
}

CUmemAllocationProp dev_prop(int dev)
{
	CUmemAllocationProp p;

	memset(&p, 0, sizeof(p));
	p.type = CU_MEM_ALLOCATION_TYPE_PINNED;
	p.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
	p.location.id = dev;
	return p;
}

size_t granularity(void)
{
	CUmemAllocationProp p = dev_prop(0);
	size_t g = 0;

	CHECK_OK(cu.cuMemGetAllocationGranularity(&g, &p,
			CU_MEM_ALLOC_GRANULARITY_MINIMUM));
	return g;
}

CUdeviceptr reserve(size_t size)
{
	CUdeviceptr va = 0;

	CHECK_OK(cu.cuMemAddressReserve(&va, size, 0, 0, 0));
	CHECK(va != 0);
	return va;
}

CUmemGenericAllocationHandle create_on(int dev, size_t size)
{
	CUmemAllocationProp p = dev_prop(dev);
	CUmemGenericAllocationHandle h = 0;

	CHECK_OK(cu.cuMemCreate(&h, size, &p, 0));
	return h;
}

CUmemGenericAllocationHandle create(size_t size)
{
	return create_on(0, size);
}

void set_access(CUdeviceptr va, size_t size, int dev, CUmemAccess_flags flags)
{
	CUmemAccessDesc d;

	memset(&d, 0, sizeof(d));
	d.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
	d.location.id = dev;
	d.flags = flags;
	CHECK_OK(cu.cuMemSetAccess(va, size, &d, 1));
}

void map_rw(CUdeviceptr va, size_t size, CUmemGenericAllocationHandle h)
{
	CHECK_OK(cu.cuMemMap(va, size, 0, h, 0));
	set_access(va, size, 0, CU_MEM_ACCESS_FLAGS_PROT_READWRITE);
}

static void fault_exit(int sig)
{
	(void)sig;
	_exit(FAULT_EXIT);
}

int touch_faults(volatile void *p, int write)
{
	struct sigaction sa;
	int status;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		/* Ours, not the sanitizer's: a fault is what we look for. */
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = fault_exit;
		sigaction(SIGSEGV, &sa, NULL);
		sigaction(SIGBUS, &sa, NULL);
		if (write)
			*(volatile char *)p = 1;
		else
			(void)*(volatile char *)p;
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid) {
		CHECK(!"fork/waitpid");
		return -1;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == FAULT_EXIT)
		return 1;
	if (WIFSIGNALED(status) && (WTERMSIG(status) == SIGSEGV ||
				    WTERMSIG(status) == SIGBUS))
		return 1;
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	return 0;
}

void fill(void *p, size_t n, uint32_t seed)
{
	uint32_t x = seed * 2654435761u + 1;
	unsigned char *c = p;
	size_t i;

	for (i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		c[i] = (unsigned char)x;
	}
}

uint64_t checksum(const void *p, size_t n)
{
	const unsigned char *c = p;
	uint64_t h = 14695981039346656037ull;	/* FNV-1a */
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ c[i]) * 1099511628211ull;
	return h;
}

void *host_alloc(size_t n)
{
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	return p;
}

void host_free(void *p, size_t n)
{
	munmap(p, n);
}

void env(const char *name, const char *value)
{
	if (setenv(name, value, 1)) {
		perror("setenv");
		exit(1);
	}
}

uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* ---- the runner ---------------------------------------------------------- */

static int run_case(const struct cuemu_case *c)
{
	int status;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		alarm(CASE_TIMEOUT_S);
		cuemu_case_failed = 0;
		cuemu_case_name = c->name;
		c->fn();
		fflush(NULL);
		exit(cuemu_case_failed ? 1 : 0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid) {
		perror("fork/waitpid");
		return 1;
	}
	if (WIFSIGNALED(status)) {
		fprintf(stderr, "  case %s died of signal %d%s\n", c->name,
			WTERMSIG(status),
			WTERMSIG(status) == SIGALRM ? " (timeout)" : "");
		if (cuemu_real_driver)
			printf("DIVERGE cuemu-real/%s -: expected the case to "
			       "finish, got signal %d%s\n", c->name,
			       WTERMSIG(status), WTERMSIG(status) == SIGALRM ?
			       " (timeout)" : "");
	}
	else if (WEXITSTATUS(status) != 0 && WEXITSTATUS(status) != 1)
		fprintf(stderr, "  case %s exited with %d\n", c->name,
			WEXITSTATUS(status));
	return !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/*
 * The cases that do not apply to a real driver, and why; --real-driver
 * runs every other one. Each name must be a case (checked at start).
 */
static const struct {
	const char *name, *reason;
} not_real[] = {
	{ "exports", "the emulation's own export list (a driver exports "
	  "the legacy names too)" },
	{ "device_queries", "CUEMU_DEVICES/PCI_BUS_IDS/MEM_MIB/SM_COUNT "
	  "configure the emulated devices" },
	{ "config_errors", "bad CUEMU_* values: the emulation's configuration" },
	{ "strict_aborts", "CUEMU_STRICT: the emulation's strict mode" },
	{ "counters", "the emulation's call counters" },
	{ "happy_path", "reads and writes device memory from the CPU, and "
	  "counts calls" },
	{ "out_of_device_memory", "CUEMU_MEM_MIB: an 8 MiB emulated device" },
	{ "access_before_set_access", "CPU faults on device memory: a real "
	  "GPU's memory is never CPU-visible" },
	{ "release_while_mapped", "reads device memory from the CPU; the "
	  "released_while_mapped gauge" },
	{ "shared_pages", "reads device memory from the CPU" },
	{ "peer_access", "CUEMU_DEVICES=2: two emulated devices" },
	{ "stale_without_sync", "CUEMU_COPY_DELAY_US: the emulation's "
	  "injected copy delay" },
	{ "host_memory_kinds", "CUEMU_COPY_DELAY_US and the "
	  "pageable_async_copies counter" },
	{ "pageable_async_counted", "CUEMU_DEVICES=2 and the "
	  "pageable_async_copies counter" },
	{ "event_not_ready_then_ready", "CUEMU_COPY_DELAY_US: needs a copy "
	  "slow enough to be seen pending" },
	{ "stream_wait_event", "CUEMU_COPY_DELAY_US: needs pending copies" },
	{ "legacy_stream", "CUEMU_COPY_DELAY_US: needs pending copies" },
	{ "unmap_with_pending_copy", "CUEMU_COPY_DELAY_US: needs a pending "
	  "copy" },
	{ "access_lost_under_copy", "CUEMU_COPY_DELAY_US: needs a pending "
	  "copy" },
	{ "event_rules", "CUEMU_DEVICES=2: two emulated devices" },
};

#define NOT_REAL_N (sizeof(not_real) / sizeof(not_real[0]))

/* Why @name does not apply to a real driver, or NULL if it does. */
static const char *not_real_reason(const char *name)
{
	size_t i;

	for (i = 0; i < NOT_REAL_N; i++)
		if (!strcmp(not_real[i].name, name))
			return not_real[i].reason;
	return NULL;
}

static void usage(void)
{
	fprintf(stderr, "usage: test_cuemu [CASE...]\n"
		"       test_cuemu --real-driver [--list] [CASE...]\n"
		"  --real-driver  the cases that apply to a real driver, with "
		"DIVERGE lines\n"
		"                 for each rule it does not follow\n"
		"  --list         which cases run there, which not and why\n");
}

int main(int argc, char **argv)
{
	static const struct {
		const struct cuemu_case *cases;
		const size_t *n;
	} tables[] = {
		{ cases_init, &ncases_init },
		{ cases_vmm, &ncases_vmm },
		{ cases_stream, &ncases_stream },
		{ cases_host, &ncases_host },
	};
	const char *prefix = "cuemu";
	int failed = 0, i, a, first = 1, list = 0, known;
	size_t j, k;

	setvbuf(stdout, NULL, _IOLBF, 0);
	while (first < argc && !strncmp(argv[first], "--", 2)) {
		if (!strcmp(argv[first], "--real-driver")) {
			cuemu_real_driver = 1;
			prefix = "cuemu-real";
		} else if (!strcmp(argv[first], "--list")) {
			list = 1;
		} else {
			usage();
			return 2;
		}
		first++;
	}
	if (list && !cuemu_real_driver) {
		usage();
		return 2;
	}
	/* A skipped name that is no case is a list gone stale. */
	for (k = 0; k < NOT_REAL_N; k++) {
		known = 0;
		for (i = 0; i < (int)(sizeof(tables) / sizeof(tables[0])); i++)
			for (j = 0; j < *tables[i].n; j++)
				known |= !strcmp(tables[i].cases[j].name,
						 not_real[k].name);
		if (!known) {
			printf("FAIL %s/not-real-list (%s is no case)\n",
			       prefix, not_real[k].name);
			return EXIT_FAILURE;
		}
	}
	/* The cases set what they need; nothing may leak in from outside. */
	unsetenv("CUEMU_STRICT");
	unsetenv("CUEMU_DEVICES");
	unsetenv("CUEMU_GRANULARITY");
	unsetenv("CUEMU_MEM_MIB");
	unsetenv("CUEMU_PCI_BUS_IDS");
	unsetenv("CUEMU_COPY_DELAY_US");
	unsetenv("CUEMU_SM_COUNT");
	if (!list && load()) {
		printf("FAIL %s/load\n", prefix);
		return EXIT_FAILURE;
	}
	if (!list)
		printf("PASS %s/load\n", prefix);
	for (i = 0; i < (int)(sizeof(tables) / sizeof(tables[0])); i++)
		for (j = 0; j < *tables[i].n; j++) {
			const struct cuemu_case *c = &tables[i].cases[j];
			const char *why = cuemu_real_driver ?
					  not_real_reason(c->name) : NULL;
			int f;

			/* Optional arguments: run only the named cases. */
			for (a = first; a < argc; a++)
				if (!strcmp(argv[a], c->name))
					break;
			if (argc > first && a == argc)
				continue;
			if (list) {
				printf("%s %s%s%s\n", why ? "SKIP" : "RUN ",
				       c->name, why ? ": " : "", why ? why : "");
				continue;
			}
			if (why) {
				printf("SKIP %s/%s (%s)\n", prefix, c->name, why);
				continue;
			}
			f = run_case(c);
			printf("%s %s/%s\n", f ? "FAIL" : "PASS", prefix, c->name);
			/* Under the case's CHECK lines in the log. */
			if (f)
				fprintf(stderr, "-- FAIL %s/%s\n", prefix, c->name);
			failed |= f;
		}
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
