// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * accel-backend-test: the same libaccel scenarios against either backend,
 * in the VM with the real module: `accel-backend-test host` and
 * `accel-backend-test cuda` (the latter with tests/cuda-emu's libcuda.so.1
 * on the library path, in strict mode); and without the module, on any
 * machine: `accel-backend-test cuda-nomodule` opens libaccel with a device
 * path that does not exist, as where kvmem is not loaded (make check runs
 * it on the build host), and runs the scenarios that need no module plus
 * the checks of what a context without the module reports and refuses.
 *
 * With --device-copies (cuda, cuda-nomodule) the scenarios write and read
 * the tensors through cuMemcpyHtoD_v2/cuMemcpyDtoH_v2 instead of the CPU,
 * so that they also run on a real GPU (tools/gpu-check.sh), where the
 * emulation's counters are absent and the checks on them are skipped.
 *
 * Each scenario prints "PASS backend-<name>/<case>" or "FAIL ..." lines
 * (backend-<name>-devcopy/<case> with --device-copies);
 * the exit status is 0 only if all passed. With the CUDA emulation the
 * tests also read its counters (cuemu_counts) to assert costs: no
 * cuMemCreate on the step path, one cuMemSetAccess per mapped range, no
 * misuse, no pageable async copy, and everything given back at close.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/kvmem.h>

#include "accel.h"
#include "../cuda-emu/cuemu.h"

static const char *backend;	/* "host" or "cuda" */
static bool no_module;		/* cuda-nomodule: no kvmem device */
/* What accel_open() finds where the module is not loaded. */
#define ABSENT_DEVICE	"/nonexistent/kvmem"
static int failed_checks, case_failed, cases_failed;
static cuemu_counts_fn emu_counts;

#define CHECK(cond, ...)						\
	do {								\
		if (!(cond)) {						\
			fprintf(stderr, "  %s:%d: ", __FILE__, __LINE__);\
			fprintf(stderr, __VA_ARGS__);			\
			fputc('\n', stderr);				\
			case_failed = 1;				\
			failed_checks++;				\
		}							\
	} while (0)

static const struct accel_geometry geo = {
	.layers = 4, .kv_heads = 4, .head_dim = 32,
	.dtype = ACCEL_DTYPE_F32, .max_tokens = 8192,
	.layout = ACCEL_LAYOUT_PER_SEQ,
};

static uint64_t pat(uint64_t seed, uint64_t i)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15ULL + i * 0xbf58476d1ce4e5b9ULL;

	x ^= x >> 31;
	return x * 0x94d049bb133111ebULL | 1;
}

/*
 * --device-copies: the scenarios reach the tensors through the driver's
 * synchronous copies instead of CPU loads and stores, which only the
 * emulation allows, so that they run on a real GPU too.
 */
typedef int (*cu_init_fn)(unsigned int);
typedef int (*cu_device_get_fn)(int *, int);
typedef int (*cu_ctx_retain_fn)(void **, int);
typedef int (*cu_ctx_release_fn)(int);
typedef int (*cu_ctx_set_fn)(void *);
typedef int (*cu_htod_fn)(unsigned long long, const void *, size_t);
typedef int (*cu_dtoh_fn)(void *, unsigned long long, size_t);
static struct {
	bool on;
	int dev;
	void *ctx;
	cu_ctx_release_fn release;
	cu_ctx_set_fn set_current;
	cu_htod_fn htod;
	cu_dtoh_fn dtoh;
} dc;

/* Loads the copies from @lib, retains device 0's primary context. */
static int device_copies_load(void *lib)
{
	cu_init_fn init = (cu_init_fn)dlsym(lib, "cuInit");
	cu_device_get_fn get = (cu_device_get_fn)dlsym(lib, "cuDeviceGet");
	cu_ctx_retain_fn retain = (cu_ctx_retain_fn)dlsym(lib,
		"cuDevicePrimaryCtxRetain");
	int rc;

	dc.release = (cu_ctx_release_fn)dlsym(lib,
		"cuDevicePrimaryCtxRelease_v2");
	dc.set_current = (cu_ctx_set_fn)dlsym(lib, "cuCtxSetCurrent");
	dc.htod = (cu_htod_fn)dlsym(lib, "cuMemcpyHtoD_v2");
	dc.dtoh = (cu_dtoh_fn)dlsym(lib, "cuMemcpyDtoH_v2");
	if (!init || !get || !retain || !dc.release || !dc.set_current ||
	    !dc.htod || !dc.dtoh)
		return -1;
	rc = init(0);
	if (!rc)
		rc = get(&dc.dev, 0);
	if (!rc)
		rc = retain(&dc.ctx, dc.dev);
	if (!rc)
		rc = dc.set_current(dc.ctx);
	return rc ? -rc : 0;
}

/*
 * Bytes [off, off + n) of a tensor into @buf (@to_dev false) or from it:
 * a CPU copy, or with --device-copies the driver's. False (reported) on
 * a failed copy.
 */
static bool tensor_io(const struct accel_tensor *t, uint64_t off, void *buf,
		      uint64_t n, bool to_dev)
{
	int rc;

	if (!dc.on) {
		void *p = (void *)(uintptr_t)(t->base + off);

		memcpy(to_dev ? p : buf, to_dev ? buf : p, n);
		return true;
	}
	/* libaccel may have made its own context current: same primary. */
	rc = dc.set_current(dc.ctx);
	if (!rc)
		rc = to_dev ? dc.htod(t->base + off, buf, n) :
			      dc.dtoh(buf, t->base + off, n);
	CHECK(!rc, "cuMemcpy%s_v2 of %llu bytes at +%llu: %d",
	      to_dev ? "HtoD" : "DtoH", (unsigned long long)n,
	      (unsigned long long)off, rc);
	return !rc;
}

/* Bytes of one token in one tensor, and of tokens [from, to). */
#define ROW_BYTES	((uint64_t)geo.kv_heads * geo.head_dim * 4)
static uint64_t span_bytes(const struct accel_tensor *t, uint64_t from,
			   uint64_t to)
{
	return (to - from - 1) * t->token_stride + ROW_BYTES;
}

/* Writes tokens [from, to) of every layer's K and V. */
static void put_tokens(struct accel_seq *s, uint64_t from, uint64_t to,
		       uint64_t seed)
{
	uint64_t words = ROW_BYTES / 8;

	if (to <= from)
		return;
	for (uint32_t l = 0; l < geo.layers; l++)
		for (uint32_t kv = 0; kv < 2; kv++) {
			struct accel_tensor t;
			uint64_t n, *buf;

			accel_seq_tensor(s, l, kv, &t);
			n = span_bytes(&t, from, to);
			buf = malloc(n);
			CHECK(buf, "no memory for %llu bytes",
			      (unsigned long long)n);
			if (!buf)
				return;
			/* Between the rows: what is there stays. */
			if (t.token_stride != ROW_BYTES &&
			    !tensor_io(&t, from * t.token_stride, buf, n,
				       false)) {
				free(buf);
				return;
			}
			for (uint64_t i = from; i < to; i++) {
				uint64_t *p = (uint64_t *)((char *)buf +
					      (i - from) * t.token_stride);

				for (uint64_t w = 0; w < words; w++)
					p[w] = pat(seed + l * 2 + kv,
						   i * words + w);
			}
			tensor_io(&t, from * t.token_stride, buf, n, true);
			free(buf);
		}
}

/* Tokens' words in [0, to) that are not what put_tokens wrote. */
static uint64_t bad_tokens(struct accel_seq *s, uint64_t to, uint64_t seed)
{
	uint64_t words = ROW_BYTES / 8, bad = 0;

	if (!to)
		return 0;
	for (uint32_t l = 0; l < geo.layers; l++)
		for (uint32_t kv = 0; kv < 2; kv++) {
			struct accel_tensor t;
			uint64_t n = 0, *buf;

			accel_seq_tensor(s, l, kv, &t);
			n = span_bytes(&t, 0, to);
			buf = malloc(n);
			if (!buf || !tensor_io(&t, 0, buf, n, false)) {
				free(buf);
				return UINT64_MAX;
			}
			for (uint64_t i = 0; i < to; i++) {
				const uint64_t *p = (const uint64_t *)
					((char *)buf + i * t.token_stride);

				for (uint64_t w = 0; w < words; w++)
					bad += p[w] != pat(seed + l * 2 + kv,
							   i * words + w);
			}
			free(buf);
		}
	return bad;
}

static struct accel_ctx *open_tenant(uint32_t step_ahead, uint32_t tenant)
{
	struct accel_open_opts o;
	struct accel_ctx *ctx = NULL;
	int ret;

	accel_open_opts_init(&o);
	o.tenant = tenant;
	o.backend = !strcmp(backend, "cuda") ? ACCEL_BACKEND_CUDA :
					       ACCEL_BACKEND_HOST;
	o.step_ahead = step_ahead;
	o.tokens_per_step = 16;
	if (no_module)
		o.device = ABSENT_DEVICE;
	ret = accel_open(&o, &ctx);
	CHECK(ret == 0, "accel_open(%s): %d", backend, ret);
	return ctx;
}

static struct accel_ctx *open_ctx(uint32_t step_ahead)
{
	return open_tenant(step_ahead, 0);
}

/* Writes a sysfs file of the module; 0 or -1. */
static int sysfs_put(const char *path, const char *val)
{
	FILE *f = fopen(path, "w");
	int ret;

	if (!f)
		return -1;
	ret = fputs(val, f) < 0 ? -1 : 0;
	return fclose(f) || ret ? -1 : 0;
}

/* Swaps out and back in, waiting for each; false (reported) on failure. */
static bool round_trip(struct accel_ctx *ctx, struct accel_seq *s)
{
	struct accel_completion c[2];
	bool ok = !accel_seq_swap_out(s) && !accel_seq_wait(s, 30000) &&
		  !accel_seq_swap_in(s) && !accel_seq_wait(s, 30000);

	CHECK(ok, "swap round trip");
	accel_poll_completions(ctx, c, 2);
	return ok;
}

static void emu(struct cuemu_counts *c)
{
	memset(c, 0, sizeof(*c));
	if (emu_counts)
		emu_counts(c);
}

/* Grows a sequence step by step, writing every token; checks it all. */
static void grow_and_check(void)
{
	struct accel_ctx *ctx = open_ctx(8);
	struct accel_seq *s = NULL;
	struct accel_stats st;
	struct accel_info info;
	struct cuemu_counts c0, c1;
	uint64_t t;
	int ret;

	if (!ctx)
		return;
	accel_info(ctx, &info);
	CHECK(info.backend == (uint32_t)(!strcmp(backend, "cuda") ?
		ACCEL_BACKEND_CUDA : ACCEL_BACKEND_HOST), "backend %u",
	      info.backend);
	ret = accel_seq_create(ctx, &geo, NULL, &s);
	CHECK(!ret, "create: %d", ret);
	emu(&c0);
	/* 2048 tokens of 4 KiB: 8 MiB, within the guest's 16 MiB pools. */
	for (t = 16; s && t <= 2048; t += 16) {
		ret = accel_seq_grow(s, t);
		CHECK(ret >= 0, "grow to %llu: %d", (unsigned long long)t, ret);
		if (ret < 0)
			break;
		put_tokens(s, t - 16, t, 5);
		/* The model's compute, which step-ahead mapping overlaps. */
		usleep(1000);
	}
	emu(&c1);
	CHECK(t > 2048 && !bad_tokens(s, 2048, 5), "all 2048 tokens read "
	      "back");
	if (emu_counts) {
		struct cuemu_counts c2;

		/* --device-copies: the data went through the driver. */
		emu(&c2);
		CHECK(!dc.on || (c1.memcpy_htod - c0.memcpy_htod ==
				 2048 / 16 * 2 * geo.layers &&
				 c2.memcpy_dtoh - c1.memcpy_dtoh ==
				 2 * geo.layers), "device copies: %llu HtoD, "
		      "%llu DtoH", (unsigned long long)(c1.memcpy_htod -
							c0.memcpy_htod),
		      (unsigned long long)(c2.memcpy_dtoh - c1.memcpy_dtoh));
		CHECK(dc.on || c2.memcpy_htod == c0.memcpy_htod,
		      "CPU stores: no HtoD copy");
	}
	accel_stats(ctx, &st);
	CHECK(st.step_device_allocs == 0, "no physical allocation on the "
	      "step path (%llu)", (unsigned long long)st.step_device_allocs);
	/* The first grow maps for itself; later ones find their pages. */
	CHECK(st.grow_blocked <= 1 + st.grow_calls / 20, "step-ahead: %llu of "
	      "%llu grows blocked", (unsigned long long)st.grow_blocked,
	      (unsigned long long)st.grow_calls);
	if (emu_counts) {
		uint64_t pages = st.pages_mapped_sync + st.pages_mapped_ahead;

		CHECK(c1.mem_map - c0.mem_map == pages, "one cuMemMap per "
		      "page: %llu maps, %llu pages",
		      (unsigned long long)(c1.mem_map - c0.mem_map),
		      (unsigned long long)pages);
		CHECK(c1.mem_set_access - c0.mem_set_access <= pages,
		      "at most one cuMemSetAccess per page: %llu for %llu",
		      (unsigned long long)(c1.mem_set_access -
					   c0.mem_set_access),
		      (unsigned long long)pages);
		printf("  driver calls for 2048 tokens: %llu cuMemMap, %llu "
		       "cuMemSetAccess, %llu cuMemCreate\n",
		       (unsigned long long)(c1.mem_map - c0.mem_map),
		       (unsigned long long)(c1.mem_set_access -
					    c0.mem_set_access),
		       (unsigned long long)(c1.mem_create - c0.mem_create));
	}
	accel_seq_destroy(s);
	accel_close(ctx);
}

/* One grow over many pages: one cuMemMap per page, one cuMemSetAccess. */
static void one_grow_one_set_access(void)
{
	struct accel_ctx *ctx = open_ctx(0);
	struct accel_seq *s = NULL;
	struct cuemu_counts c0, c1;
	struct accel_info info;
	uint64_t pages;
	int ret;

	if (!ctx)
		return;
	accel_info(ctx, &info);
	ret = accel_seq_create(ctx, &geo, NULL, &s);
	CHECK(!ret, "create: %d", ret);
	emu(&c0);
	ret = s ? accel_seq_grow(s, 2000) : -1;
	emu(&c1);
	CHECK(ret == 1, "a grow of 2000 tokens maps (returns 1): %d", ret);
	pages = (2000ULL * 4 * 2 * geo.kv_heads * geo.head_dim * 4 +
		 info.page_size - 1) / info.page_size;
	CHECK(accel_seq_mapped_tokens(s) >= 2000, "2000 tokens mapped");
	if (emu_counts) {
		CHECK(c1.mem_map - c0.mem_map == pages, "%llu cuMemMap for "
		      "%llu pages", (unsigned long long)(c1.mem_map -
							 c0.mem_map),
		      (unsigned long long)pages);
		CHECK(c1.mem_set_access - c0.mem_set_access == 1, "one "
		      "cuMemSetAccess for the range: %llu",
		      (unsigned long long)(c1.mem_set_access -
					   c0.mem_set_access));
	}
	put_tokens(s, 0, 2000, 3);
	CHECK(!bad_tokens(s, 2000, 3), "2000 tokens read back");
	accel_seq_destroy(s);
	accel_close(ctx);
}

static int next_completion(struct accel_ctx *ctx, struct accel_completion *c)
{
	struct pollfd pfd = { .fd = accel_fd(ctx), .events = POLLIN };

	if (poll(&pfd, 1, 30000) != 1)
		return -ETIMEDOUT;
	return accel_poll_completions(ctx, c, 1) == 1 ? 0 : -EIO;
}

/* Swap out, in, then out again after appending: the copy is reused. */
static void swap_round_trip(void)
{
	struct accel_ctx *ctx = open_ctx(0);
	struct accel_seq *s = NULL;
	struct accel_completion c;
	struct accel_info info;
	struct cuemu_counts e;
	uint64_t page, tok_bytes = geo.layers * 2ULL * geo.kv_heads *
				   geo.head_dim * 4;
	int ret;

	if (!ctx)
		return;
	accel_info(ctx, &info);
	page = info.page_size;
	ret = accel_seq_create(ctx, &geo, NULL, &s);
	CHECK(!ret, "create: %d", ret);
	if (!s)
		goto out;
	CHECK(accel_seq_grow(s, 1000) >= 0, "grow to 1000");
	put_tokens(s, 0, 1000, 9);
	CHECK(accel_seq_swap_in(s) == -EBUSY, "swap in of a resident sequence: "
	      "EBUSY");
	CHECK(!accel_seq_swap_out(s), "swap out");
	CHECK(!next_completion(ctx, &c), "completion of the swap-out");
	CHECK(c.op == ACCEL_OP_SWAP_OUT && c.status == 0 && c.seq == s,
	      "swap-out completion: op %u status %d", c.op, c.status);
	CHECK(accel_seq_state(s) == ACCEL_SEQ_SWAPPED, "swapped");
	CHECK(accel_seq_grow(s, 1001) == -EBUSY, "grow while swapped: EBUSY");
	CHECK(!accel_seq_swap_in(s), "swap in");
	CHECK(!accel_seq_wait(s, 30000), "wait for the swap-in");
	CHECK(accel_poll_completions(ctx, &c, 1) == 1 &&
	      c.op == ACCEL_OP_SWAP_IN && !c.status, "swap-in completion");
	CHECK(!bad_tokens(s, 1000, 9), "tokens intact after the round trip");

	/* Append 500 tokens: only pages holding tokens >= the last full
	 * page before the swap-out are copied again. */
	CHECK(accel_seq_grow(s, 1500) >= 0, "grow to 1500");
	put_tokens(s, 1000, 1500, 9);
	CHECK(!accel_seq_swap_out(s), "swap out again");
	CHECK(!accel_seq_wait(s, 30000), "wait");
	CHECK(accel_poll_completions(ctx, &c, 1) == 1, "completion");
	{
		uint64_t used = (1500 * tok_bytes + page - 1) / page;
		uint64_t kept_full = 1000 * tok_bytes / page;
		uint64_t want_copied = (used - kept_full) * page;

		CHECK(c.bytes_copied == want_copied, "second swap-out copied "
		      "%llu bytes, want %llu (pages %llu..%llu)",
		      (unsigned long long)c.bytes_copied,
		      (unsigned long long)want_copied,
		      (unsigned long long)kept_full,
		      (unsigned long long)used - 1);
		CHECK(c.bytes_reused == kept_full * page, "reused %llu, want "
		      "%llu", (unsigned long long)c.bytes_reused,
		      (unsigned long long)(kept_full * page));
	}
	CHECK(!accel_seq_swap_in(s) && !accel_seq_wait(s, 30000),
	      "swap in again");
	accel_poll_completions(ctx, &c, 1);
	CHECK(!bad_tokens(s, 1500, 9), "1500 tokens intact");
out:
	accel_seq_destroy(s);
	accel_close(ctx);
	if (emu_counts) {
		emu(&e);
		CHECK(!e.misuse, "no Driver API misuse (%llu)",
		      (unsigned long long)e.misuse);
		CHECK(!e.pageable_async_copies, "async copies only from "
		      "registered host memory (%llu)",
		      (unsigned long long)e.pageable_async_copies);
		CHECK(!e.released_while_mapped, "allocations released only "
		      "once unmapped (%llu)",
		      (unsigned long long)e.released_while_mapped);
		CHECK(!e.live_reservations && !e.live_handles &&
		      !e.live_mappings && !e.live_host_registrations &&
		      !e.live_streams && !e.device_bytes_used,
		      "everything given back at close: reservations %llu "
		      "handles %llu mappings %llu registrations %llu streams "
		      "%llu device bytes %llu",
		      (unsigned long long)e.live_reservations,
		      (unsigned long long)e.live_handles,
		      (unsigned long long)e.live_mappings,
		      (unsigned long long)e.live_host_registrations,
		      (unsigned long long)e.live_streams,
		      (unsigned long long)e.device_bytes_used);
	}
}

/*
 * A finished sequence that was swapped is reused by a new one: the old
 * host copy must not pass for the new sequence's data.
 */
static void reuse_after_swap(void)
{
	struct accel_ctx *ctx = open_ctx(0);
	struct accel_seq *a = NULL, *b = NULL;
	struct accel_stats st;

	if (!ctx)
		return;
	CHECK(!accel_seq_create(ctx, &geo, NULL, &a), "create A");
	if (!a || accel_seq_grow(a, 1000) < 0)
		goto out;
	put_tokens(a, 0, 1000, 21);
	round_trip(ctx, a);
	accel_seq_destroy(a);
	CHECK(!accel_seq_create(ctx, &geo, NULL, &b), "create B");
	accel_stats(ctx, &st);
	CHECK(st.seqs_reused == 1, "B reuses A's spaces (%llu)",
	      (unsigned long long)st.seqs_reused);
	if (!b || accel_seq_grow(b, 1000) < 0)
		goto out;
	put_tokens(b, 0, 1000, 22);
	round_trip(ctx, b);
	CHECK(!bad_tokens(b, 1000, 22), "B's tokens survive B's round trip "
	      "(not A's host copy)");
out:
	accel_seq_destroy(b);
	accel_close(ctx);
}

/* Frames tenant t holds in all tiers (tenants/<t>/frames_*); -1: unknown. */
static long long tenant_frames(uint32_t t)
{
	static const char *const tier[] = { "hbm", "dram", "cxl" };
	long long sum = 0;

	for (int i = 0; i < 3; i++) {
		char path[96];
		long long v = -1;
		FILE *f;

		snprintf(path, sizeof(path),
			 "/sys/class/misc/kvmem/tenants/%u/frames_%s", t,
			 tier[i]);
		f = fopen(path, "r");
		if (f) {
			if (fscanf(f, "%lld", &v) != 1)
				v = -1;
			fclose(f);
		}
		if (v < 0)
			return -1;
		sum += v;
	}
	return sum;
}

/* In a child as uid/gid nobody: accel_seq_create in tenant t; -ret. */
static int create_as_nobody(uint32_t t)
{
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		struct accel_seq_opts so = { .flags = ACCEL_SEQ_TENANT,
					     .tenant = t };
		struct accel_ctx *ctx;
		struct accel_seq *s;
		gid_t g = 65534;

		if (setgroups(1, &g) || setgid(65534) || setuid(65534))
			_exit(200);
		ctx = open_ctx(0);
		if (!ctx)
			_exit(201);
		_exit(-accel_seq_create(ctx, &geo, &so, &s));
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

/*
 * One context, sequences of several tenants (ACCEL_SEQ_TENANT): each
 * sequence's frames (host backend: its KV; cuda: its host copies) are
 * charged to its own tenant, kept sequences are reused only within their
 * tenant, a bad tenant is refused, and one the process may not charge is
 * the module's EACCES.
 */
static void seq_tenant(void)
{
	struct accel_seq_opts t2 = { .flags = ACCEL_SEQ_TENANT, .tenant = 2 };
	struct accel_seq_opts t3 = { .flags = ACCEL_SEQ_TENANT, .tenant = 3 };
	struct accel_seq_opts bad = t2;
	struct accel_ctx *ctx = open_ctx(0);
	struct accel_seq *a = NULL, *b = NULL, *x = NULL;
	long long f0 = tenant_frames(0), f2 = tenant_frames(2);
	struct kvmem_info info = { 0 };
	struct accel_stats st0, st;
	struct stat dev;
	int fd = open("/dev/kvmem", O_RDWR);

	CHECK(fd >= 0 && !ioctl(fd, KVMEM_IOC_GET_INFO, &info), "GET_INFO");
	if (fd >= 0)
		close(fd);
	if (!ctx)
		return;
	CHECK(f0 >= 0 && f2 >= 0, "tenants/0 and 2 frames_* readable");
	CHECK(!accel_seq_create(ctx, &geo, &t2, &a), "create in tenant 2");
	if (!a || accel_seq_grow(a, 1000) < 0)
		goto out;
	put_tokens(a, 0, 1000, 31);
	/* Swapped out, both backends hold the sequence in kvmem frames. */
	CHECK(!accel_seq_swap_out(a) && !accel_seq_wait(a, 30000), "swap out");
	CHECK(tenant_frames(2) > f2, "tenant 2 holds the frames (%lld > %lld)",
	      tenant_frames(2), f2);
	CHECK(tenant_frames(0) == f0, "the context's tenant 0 holds none more "
	      "(%lld, was %lld)", tenant_frames(0), f0);
	CHECK(!accel_seq_swap_in(a) && !accel_seq_wait(a, 30000), "swap in");
	CHECK(!bad_tokens(a, 1000, 31), "tokens intact");
	{
		struct accel_completion c[2];

		accel_poll_completions(ctx, c, 2);
	}
	accel_seq_destroy(a);
	accel_stats(ctx, &st0);
	CHECK(!accel_seq_create(ctx, &geo, &t3, &b), "create in tenant 3");
	accel_stats(ctx, &st);
	CHECK(st.seqs_reused == st0.seqs_reused, "tenant 3 does not reuse "
	      "tenant 2's kept sequence");
	CHECK(!accel_seq_create(ctx, &geo, &t2, &x), "create in tenant 2");
	accel_stats(ctx, &st);
	CHECK(st.seqs_reused == st0.seqs_reused + 1, "tenant 2 reuses its own "
	      "kept sequence (%llu)", (unsigned long long)st.seqs_reused);

	bad.tenant = info.ntenants;
	CHECK(accel_seq_create(ctx, &geo, &bad, &a) == -EINVAL && !a,
	      "tenant = ntenants (%u): EINVAL", info.ntenants);
	bad.tenant = 2;
	bad.reserved = 1;
	CHECK(accel_seq_create(ctx, &geo, &bad, &a) == -EINVAL, "reserved "
	      "not 0: EINVAL");
	bad.reserved = 0;
	bad.flags = 1U << 7;
	CHECK(accel_seq_create(ctx, &geo, &bad, &a) == -EINVAL,
	      "unknown flag: EINVAL");
	/* A forked child of the emulation is not a CUDA process: host only. */
	if (!strcmp(backend, "host") && !stat("/dev/kvmem", &dev) &&
	    !chmod("/dev/kvmem", 0666)) {
		CHECK(create_as_nobody(5) == EACCES, "nobody, tenant 5 not "
		      "granted: EACCES");
		CHECK(create_as_nobody(0) == 0, "nobody, the default tenant: 0");
		chmod("/dev/kvmem", dev.st_mode & 07777);
	}
out:
	accel_seq_destroy(x);
	accel_seq_destroy(b);
	accel_close(ctx);
	CHECK(tenant_frames(2) == f2 && tenant_frames(0) == f0, "every frame back "
	      "(tenant 0 %lld, 2 %lld)", tenant_frames(0), tenant_frames(2));
}

/*
 * A swap-out that cannot finish (the host tier runs out under the
 * tenant's quota half way through the spaces) fails as a whole: the
 * sequence stays resident and whole.
 */
static void swap_out_fails_whole(void)
{
	bool cuda = !strcmp(backend, "cuda");
	/* Where the swap-out puts the tokens: cxl frames (host backend),
	 * the host copies' dram frames (cuda backend). */
	const char *quota = cuda ?
		"/sys/class/misc/kvmem/tenants/1/quota_dram" :
		"/sys/class/misc/kvmem/tenants/1/quota_cxl";
	struct accel_geometry g = geo;
	struct accel_ctx *ctx;
	struct accel_seq *s = NULL;
	struct accel_completion c;
	struct accel_info info;
	uint64_t per_space;
	char val[32];

	g.layout = ACCEL_LAYOUT_PER_LAYER;	/* 8 spaces */
	ctx = open_tenant(0, 1);
	if (!ctx)
		return;
	accel_info(ctx, &info);
	CHECK(!accel_seq_create(ctx, &g, NULL, &s), "create");
	if (!s || accel_seq_grow(s, 600) < 0)
		goto out;
	put_tokens(s, 0, 600, 31);
	/*
	 * Room for three spaces' worth only. 600 tokens of 512 bytes take
	 * one page per space: 5 frames of 64 KiB on the host; with cuda one
	 * device page, whose host copy is page_size / 64 KiB frames.
	 */
	per_space = cuda ? info.page_size / 65536 : (600 * 512 + 65535) / 65536;
	snprintf(val, sizeof(val), "%llu", (unsigned long long)(3 * per_space));
	CHECK(!sysfs_put(quota, val), "tenant 1 quota %s frames", val);
	CHECK(!accel_seq_swap_out(s), "swap out (starts)");
	CHECK(accel_seq_wait(s, 30000) == -ENOMEM, "the swap-out fails with "
	      "ENOMEM");
	CHECK(accel_poll_completions(ctx, &c, 1) == 1 && c.status == -ENOMEM,
	      "its completion says ENOMEM");
	/* Host: the spaces that moved stay in cxl, all still reachable. */
	CHECK(accel_seq_state(s) == ACCEL_SEQ_RESIDENT, "still resident");
	CHECK(!sysfs_put(quota, "max"), "quota back to max");
	CHECK(!bad_tokens(s, 600, 31), "every token still there");
	CHECK(accel_seq_grow(s, 700) >= 0, "and it grows on");
out:
	sysfs_put(quota, "max");
	accel_seq_destroy(s);
	accel_close(ctx);
}

/* Free frames of kvmem pool @index, or UINT64_MAX. */
static uint64_t pool_free_frames(int fd, uint32_t index)
{
	struct kvmem_pool_info pi = { .index = index };

	return ioctl(fd, KVMEM_IOC_POOL_QUERY, &pi) ? UINT64_MAX :
						      pi.frames_free;
}

/*
 * Cuda backend with a kvmem device pool for the GPU: the module grants
 * each device page before it is mapped and gets it back when unmapped,
 * so the GPU's memory is counted, and bounded, by kvmem.
 */
static void device_pool_grants(void)
{
	struct kvmem_device_pool dp = {
		.device = 0x100,	/* 0000:01:00.0, the emulation's GPU 0 */
		.frame_size = 2 << 20,	/* the emulation's granularity */
		.frames = 8,
		.tier = KVMEM_TIER_HBM,
	};
	struct kvmem_device_pool_remove rm = { 0 };
	struct accel_ctx *ctx = NULL;
	struct accel_seq *s = NULL;
	struct accel_completion c;
	int fd = open("/dev/kvmem", O_RDWR);

	CHECK(fd >= 0, "open /dev/kvmem");
	CHECK(!ioctl(fd, KVMEM_IOC_DEVICE_POOL_ADD, &dp), "DEVICE_POOL_ADD: %s",
	      strerror(errno));
	rm.index = dp.index;
	ctx = open_ctx(0);
	if (!ctx)
		goto out;
	CHECK(!accel_seq_create(ctx, &geo, NULL, &s), "create");
	if (!s)
		goto out;
	/* 4 KiB a token: 512 tokens a 2 MiB page. */
	CHECK(accel_seq_grow(s, 2000) == 1, "grow to 2000 tokens");
	CHECK(pool_free_frames(fd, dp.index) == 4, "4 of 8 device frames "
	      "granted (%llu free)",
	      (unsigned long long)pool_free_frames(fd, dp.index));
	CHECK(accel_seq_grow(s, 4096) == 1, "grow to 4096 tokens");
	put_tokens(s, 0, 4096, 41);
	CHECK(pool_free_frames(fd, dp.index) == 0, "all 8 granted");
	CHECK(accel_seq_grow(s, 4200) == -ENOMEM, "a grow past the device "
	      "pool: ENOMEM");
	CHECK(accel_seq_tokens(s) == 4096 && !bad_tokens(s, 4096, 41),
	      "the sequence keeps its 4096 tokens");
	CHECK(!accel_seq_swap_out(s) && !accel_seq_wait(s, 30000),
	      "swap out");
	accel_poll_completions(ctx, &c, 1);
	CHECK(pool_free_frames(fd, dp.index) == 8, "a swapped-out sequence "
	      "holds no device frame");
	CHECK(!accel_seq_swap_in(s) && !accel_seq_wait(s, 30000), "swap in");
	accel_poll_completions(ctx, &c, 1);
	CHECK(pool_free_frames(fd, dp.index) == 0, "swapped in: 8 granted");
	CHECK(!bad_tokens(s, 4096, 41), "4096 tokens intact");
out:
	accel_seq_destroy(s);
	accel_close(ctx);
	if (fd >= 0) {
		CHECK(pool_free_frames(fd, dp.index) == 8, "all frames back "
		      "after close");
		CHECK(!ioctl(fd, KVMEM_IOC_DEVICE_POOL_REMOVE, &rm),
		      "DEVICE_POOL_REMOVE: %s", strerror(errno));
		close(fd);
	}
}

/* Waits up to 30 s for the manager's SWAP event with @cookie; its status. */
static int swap_event(int m, uint64_t cookie, struct kvmem_event *got)
{
	for (int ms = 0; ms < 30000; ms += 10) {
		struct pollfd pfd = { .fd = m, .events = POLLIN };
		struct kvmem_event ev;

		if (poll(&pfd, 1, 10) == 1 &&
		    read(m, &ev, sizeof(ev)) == (ssize_t)sizeof(ev) &&
		    ev.type == KVMEM_EVENT_SWAP && ev.cookie == cookie) {
			*got = ev;
			return ev.status;
		}
	}
	return -ETIMEDOUT;
}

/* Waits up to 10 s for accel_seq_may_run() to say @want. */
static bool may_run_becomes(struct accel_seq *s, bool want)
{
	for (int ms = 0; ms < 10000; ms += 5) {
		if (accel_seq_may_run(s) == want)
			return true;
		usleep(5000);
	}
	return false;
}

static int space_run(int m, uint32_t id, uint32_t state, uint32_t tier,
		     uint64_t cookie)
{
	struct kvmem_run r = {
		.id = id, .state = state, .tier = tier, .cookie = cookie,
	};

	return ioctl(m, KVMEM_IOC_SPACE_RUN, &r) ? -errno : 0;
}

/* The id of the only device space in the module; 0 if not exactly one. */
static uint32_t device_space_id(int m)
{
	struct kvmem_space_info si[64];
	struct kvmem_list l = {
		.max = 64, .entries = (uintptr_t)si, .entry_size = sizeof(si[0]),
	};
	uint32_t id = 0, n = 0;

	if (ioctl(m, KVMEM_IOC_LIST_SPACES, &l))
		return 0;
	for (uint32_t i = 0; i < l.count; i++)
		if (si[i].flags & KVMEM_SPACE_INFO_DEVICE) {
			id = si[i].id;
			n++;
		}
	return n == 1 ? id : 0;
}

/*
 * A daemon's directives for a device sequence (the test is the manager):
 * PREEMPT stops it; the swap-out (device -> host, with the backend's copy
 * engine) starts only when the engine reports it waiting, and the module
 * hears BEGIN and COMMIT (the manager's SWAP event, with the directive's
 * cookie); PREFETCH brings it back but does not let it run; RUNNABLE does.
 * A RUNNABLE straight after a swap-out brings it back too, and the
 * sequence may run only once its data is there. Every token survives.
 */
static void daemon_directs_device_swap(void)
{
	struct kvmem_device_pool dp = {
		.device = 0x100, .frame_size = 2 << 20, .frames = 8,
		.tier = KVMEM_TIER_HBM,
	};
	struct kvmem_device_pool_remove rm = { 0 };
	struct kvmem_manager mg = { 0 };
	struct accel_ctx *ctx = NULL;
	struct accel_seq *s = NULL;
	struct accel_completion c;
	struct kvmem_event ev;
	int fd = open("/dev/kvmem", O_RDWR);
	int m = open("/dev/kvmem", O_RDWR | O_NONBLOCK);
	uint32_t id;

	CHECK(fd >= 0 && m >= 0, "open /dev/kvmem");
	CHECK(!ioctl(fd, KVMEM_IOC_DEVICE_POOL_ADD, &dp), "DEVICE_POOL_ADD: %s",
	      strerror(errno));
	rm.index = dp.index;
	CHECK(!ioctl(m, KVMEM_IOC_MANAGER, &mg), "MANAGER: %s",
	      strerror(errno));
	ctx = open_ctx(0);
	if (!ctx)
		goto out;
	CHECK(!accel_seq_create(ctx, &geo, NULL, &s), "create");
	if (!s)
		goto out;
	CHECK(accel_seq_grow(s, 4096) == 1, "grow to 4096 tokens");
	put_tokens(s, 0, 4096, 43);
	id = device_space_id(m);
	CHECK(id, "LIST_SPACES shows one device space");
	CHECK(pool_free_frames(fd, dp.index) == 0, "8 device frames granted");

	CHECK(!space_run(m, id, KVMEM_RUN_PREEMPT, KVMEM_TIER_DRAM, 0xc1),
	      "PREEMPT");
	CHECK(may_run_becomes(s, false), "preempted: may not run");
	CHECK(!next_completion(ctx, &c) && c.op == ACCEL_OP_PREEMPTED,
	      "a PREEMPTED completion");
	usleep(200 * 1000);
	CHECK(accel_seq_state(s) == ACCEL_SEQ_RESIDENT &&
	      pool_free_frames(fd, dp.index) == 0,
	      "no swap before the engine says nothing of it is in flight");
	CHECK(!accel_seq_set_demand(s, ACCEL_DEMAND_WAITING), "WAITING");
	CHECK(swap_event(m, 0xc1, &ev) == 0 && ev.pages == 8,
	      "the module saw the swap-out committed (8 pages, cookie 0xc1)");
	CHECK(!accel_seq_wait(s, 30000) &&
	      accel_seq_state(s) == ACCEL_SEQ_SWAPPED, "swapped out");
	CHECK(pool_free_frames(fd, dp.index) == 8, "its device frames back");
	CHECK(accel_poll_completions(ctx, &c, 1) == 0,
	      "no swap completion: the engine asked for none");

	CHECK(!space_run(m, id, KVMEM_RUN_PREFETCH, KVMEM_TIER_HBM, 0xc2),
	      "PREFETCH");
	CHECK(swap_event(m, 0xc2, &ev) == 0 && ev.pages == 8,
	      "the module saw the swap-in committed (cookie 0xc2)");
	CHECK(!accel_seq_wait(s, 30000) &&
	      accel_seq_state(s) == ACCEL_SEQ_RESIDENT, "swapped in");
	CHECK(pool_free_frames(fd, dp.index) == 0, "8 frames granted again");
	CHECK(!accel_seq_may_run(s), "PREFETCH: in, not running yet");
	CHECK(!space_run(m, id, KVMEM_RUN_RUNNABLE, KVMEM_TIER_HBM, 0xc3),
	      "RUNNABLE");
	CHECK(may_run_becomes(s, true), "runnable");
	CHECK(!next_completion(ctx, &c) && c.op == ACCEL_OP_RUNNABLE,
	      "a RUNNABLE completion");
	CHECK(!bad_tokens(s, 4096, 43), "4096 tokens intact");

	/* Out again, then straight to RUNNABLE: it runs once it is back. */
	CHECK(!space_run(m, id, KVMEM_RUN_PREEMPT, KVMEM_TIER_DRAM, 0xc4) &&
	      may_run_becomes(s, false), "PREEMPT again");
	CHECK(!accel_seq_set_demand(s, ACCEL_DEMAND_IDLE), "IDLE");
	CHECK(swap_event(m, 0xc4, &ev) == 0, "swapped out again");
	accel_seq_wait(s, 30000);
	CHECK(!space_run(m, id, KVMEM_RUN_RUNNABLE, KVMEM_TIER_HBM, 0xc5),
	      "RUNNABLE");
	CHECK(swap_event(m, 0xc5, &ev) == 0, "swapped in on RUNNABLE");
	CHECK(may_run_becomes(s, true), "runnable once back");
	CHECK(accel_seq_state(s) == ACCEL_SEQ_RESIDENT &&
	      pool_free_frames(fd, dp.index) == 0, "resident, 8 granted");
	CHECK(!bad_tokens(s, 4096, 43), "4096 tokens intact");
out:
	accel_seq_destroy(s);
	accel_close(ctx);
	if (m >= 0)
		close(m);
	if (fd >= 0) {
		CHECK(pool_free_frames(fd, dp.index) == 8, "all frames back");
		CHECK(!ioctl(fd, KVMEM_IOC_DEVICE_POOL_REMOVE, &rm),
		      "DEVICE_POOL_REMOVE: %s", strerror(errno));
		close(fd);
	}
}

/* Opens with @o and the absent device; accel_open()'s result. */
static int open_absent(struct accel_open_opts *o, struct accel_ctx **ctx)
{
	o->device = ABSENT_DEVICE;
	return accel_open(o, ctx);
}

/* A cuda open (unless @o says host) without the module fails with @want. */
static void refused(struct accel_open_opts *o, int want, const char *what)
{
	struct accel_ctx *ctx = NULL;
	int ret;

	if (o->backend == ACCEL_BACKEND_AUTO)
		o->backend = ACCEL_BACKEND_CUDA;
	ret = open_absent(o, &ctx);
	CHECK(ret == want && !ctx, "%s without the module: %d, want %d", what,
	      ret, want);
	accel_close(ctx);
}

/*
 * Without the module: the cuda context says so and has no pool; the
 * caller that demands the module, the host backend and the module's
 * options are refused with the errnos accel.h documents.
 */
static void no_module_open(void)
{
	struct accel_open_opts o;
	struct accel_ctx *ctx = NULL;
	struct accel_seq *s = NULL;
	struct accel_info info;
	struct accel_pool pool;
	int ret;

	ctx = open_ctx(0);
	if (!ctx)
		return;
	CHECK(!accel_info(ctx, &info), "accel_info");
	CHECK(ACCEL_INFO_NO_MODULE(&info), "ACCEL_INFO_NO_MODULE (abi %u)",
	      info.abi_version);
	CHECK(info.backend == ACCEL_BACKEND_CUDA && !info.abi_version &&
	      !info.features && !info.npools, "cuda, no ABI, no feature, no "
	      "pool (backend %u abi %u features 0x%llx npools %u)",
	      info.backend, info.abi_version,
	      (unsigned long long)info.features, info.npools);
	CHECK(info.swap_tier == ACCEL_TIER_DRAM, "host copies in dram (swap "
	      "tier %u)", info.swap_tier);
	CHECK(accel_pool_query(ctx, 0, &pool) == -EINVAL, "no pool 0");
	/* Scheduling metadata has no module to reach: kept, not refused. */
	CHECK(!accel_seq_create(ctx, &geo, NULL, &s) && s &&
	      accel_seq_grow(s, 100) >= 0, "create and grow");
	CHECK(s && !accel_seq_set_progress(s, 100) &&
	      !accel_seq_set_priority(s, 3), "progress and priority: 0");
	accel_seq_destroy(s);
	accel_close(ctx);

	accel_open_opts_init(&o);
	o.flags = ACCEL_OPEN_REQUIRE_MODULE;
	refused(&o, -ENOENT, "ACCEL_OPEN_REQUIRE_MODULE");
	accel_open_opts_init(&o);
	o.backend = ACCEL_BACKEND_HOST;
	refused(&o, -ENOENT, "the host backend");

	accel_open_opts_init(&o);
	o.backend = ACCEL_BACKEND_AUTO;
	ctx = NULL;
	ret = open_absent(&o, &ctx);
	CHECK(ret == 0 && ctx, "AUTO picks cuda without the module (%d)", ret);
	if (ctx) {
		accel_info(ctx, &info);
		CHECK(info.backend == ACCEL_BACKEND_CUDA &&
		      ACCEL_INFO_NO_MODULE(&info), "AUTO: cuda, no "
		      "module");
	}
	accel_close(ctx);

	/* Tenants and tiers other than dram are the module's. */
	accel_open_opts_init(&o);
	o.tenant = 1;
	refused(&o, -EINVAL, "tenant 1");
	accel_open_opts_init(&o);
	o.tier = ACCEL_TIER_CXL;
	refused(&o, -EINVAL, "tier cxl");
	accel_open_opts_init(&o);
	o.swap_tier = ACCEL_TIER_CXL;
	refused(&o, -EINVAL, "swap tier cxl");
}

static const struct {
	const char *name;
	void (*fn)(void);
	bool cuda_only;		/* device memory: nothing to test on the host */
	bool module;		/* needs the module (quotas, pools) */
	bool no_module_only;	/* only where the module is absent */
} cases[] = {
	{ "grow_and_check", grow_and_check, false, false, false },
	{ "one_grow_one_set_access", one_grow_one_set_access, false, false,
	  false },
	{ "swap_round_trip", swap_round_trip, false, false, false },
	{ "reuse_after_swap", reuse_after_swap, false, false, false },
	{ "swap_out_fails_whole", swap_out_fails_whole, false, true, false },
	{ "seq_tenant", seq_tenant, false, true, false },
	{ "device_pool_grants", device_pool_grants, true, true, false },
	{ "daemon_directs_device_swap", daemon_directs_device_swap, true, true,
	  false },
	{ "no_module_open", no_module_open, true, false, true },
};

int main(int argc, char **argv)
{
	void *emu_lib = NULL;
	const char *name;
	bool usage;

	usage = argc < 2 || argc > 3 ||
		(strcmp(argv[1], "host") && strcmp(argv[1], "cuda") &&
		 strcmp(argv[1], "cuda-nomodule")) ||
		(argc == 3 && (strcmp(argv[2], "--device-copies") ||
			       !strcmp(argv[1], "host")));
	if (usage) {
		fprintf(stderr, "usage: accel-backend-test "
			"host|cuda|cuda-nomodule\n"
			"       accel-backend-test cuda|cuda-nomodule "
			"--device-copies\n");
		return 2;
	}
	name = argv[1];
	no_module = !strcmp(name, "cuda-nomodule");
	backend = no_module ? "cuda" : name;
	dc.on = argc == 3;
	if (!strcmp(backend, "cuda")) {
		emu_lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
		if (emu_lib)
			emu_counts = (cuemu_counts_fn)dlsym(emu_lib,
							    "cuemu_counts");
		/* Only the device copies run on a real driver. */
		if (!emu_counts && !dc.on) {
			printf("FAIL backend-%s/emulation (libcuda.so.1 "
			       "with cuemu_counts not found; on a real "
			       "driver use --device-copies)\n", name);
			return 1;
		}
		if (dc.on && (!emu_lib || device_copies_load(emu_lib))) {
			printf("FAIL backend-%s/device-copies (libcuda.so.1 "
			       "%s)\n", name, emu_lib ? "has no device 0 "
			       "context or lacks a copy" : "not found");
			return 1;
		}
	}
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if ((cases[i].cuda_only && !emu_counts) ||
		    (cases[i].module && no_module) ||
		    (cases[i].no_module_only && !no_module))
			continue;
		case_failed = 0;
		cases[i].fn();
		printf("%s backend-%s%s/%s\n", case_failed ? "FAIL" : "PASS",
		       name, dc.on ? "-devcopy" : "", cases[i].name);
		cases_failed += case_failed;
	}
	if (dc.ctx)
		dc.release(dc.dev);
	return cases_failed ? 1 : 0;
}
