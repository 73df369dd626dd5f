// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Unit tests of libaccel that need no kvmem module: option checks, the
 * errors of accel_open() without a device or with a device that is not
 * kvmem, the module's GET_INFO answer check, and the retry wrapper.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <linux/kvmem.h>

#include "internal.h"
#include "../unit/unit.h"

static int open_with(const char *dev, uint32_t backend)
{
	struct accel_open_opts o;
	struct accel_ctx *ctx = (struct accel_ctx *)1;
	int ret;

	accel_open_opts_init(&o);
	o.device = dev;
	o.backend = backend;
	ret = accel_open(&o, &ctx);
	CHECK(ctx == NULL);
	return ret;
}

static void no_device_is_enoent(void)
{
	CHECK_EQ(open_with("/nonexistent/kvmem", ACCEL_BACKEND_HOST), -ENOENT);
	setenv("ACCEL_DEVICE", "/nonexistent/kvmem2", 1);
	CHECK_EQ(open_with(NULL, ACCEL_BACKEND_HOST), -ENOENT);
	unsetenv("ACCEL_DEVICE");
}

/*
 * No module: the caller that demands it gets ENOENT before any backend is
 * tried; without the demand the cuda backend is tried (here, with no
 * libcuda.so.1 on the path, EOPNOTSUPP). tests/accel/backend_test.c's
 * cuda-nomodule runs a context without the module on the emulation.
 */
static void require_module(void)
{
	struct accel_open_opts o;
	struct accel_ctx *ctx = (struct accel_ctx *)1;

	accel_open_opts_init(&o);
	o.device = "/nonexistent/kvmem";
	o.backend = ACCEL_BACKEND_CUDA;
	o.flags = ACCEL_OPEN_REQUIRE_MODULE;
	CHECK_EQ(accel_open(&o, &ctx), -ENOENT);
	CHECK(ctx == NULL);
	/* Only where there is no libcuda.so.1 (a GPU machine has one). */
	if (!dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL))
		CHECK_EQ(open_with("/nonexistent/kvmem", ACCEL_BACKEND_CUDA),
			 -EOPNOTSUPP);
}

static void not_kvmem_is_eproto(void)
{
	CHECK_EQ(open_with("/dev/null", ACCEL_BACKEND_HOST), -EPROTO);
}

static void bad_options_are_einval(void)
{
	struct accel_open_opts o;
	struct accel_ctx *ctx;

	CHECK_EQ(accel_open(NULL, NULL), -EINVAL);
	accel_open_opts_init(&o);
	o.size = 8;
	CHECK_EQ(accel_open(&o, &ctx), -EINVAL);
	accel_open_opts_init(&o);
	o.flags = 4;	/* not a known ACCEL_OPEN_* bit */
	CHECK_EQ(accel_open(&o, &ctx), -EINVAL);
	accel_open_opts_init(&o);
	o.tier = 7;
	CHECK_EQ(accel_open(&o, &ctx), -EINVAL);
	accel_open_opts_init(&o);
	o.swap_tier = 3;
	CHECK_EQ(accel_open(&o, &ctx), -EINVAL);
	accel_open_opts_init(&o);
	o.tier = o.swap_tier = ACCEL_TIER_CXL;
	CHECK_EQ(accel_open(&o, &ctx), -EINVAL);
	accel_open_opts_init(&o);
	o.wait_ms = KVMEM_WAIT_MAX_MS + 1;
	CHECK_EQ(accel_open(&o, &ctx), -EINVAL);
	accel_open_opts_init(&o);
	o.backend = 3;
	CHECK_EQ(accel_open(&o, &ctx), -EINVAL);
}

static void backend_env(void)
{
	setenv("ACCEL_BACKEND", "gpu", 1);
	CHECK_EQ(open_with("/nonexistent", ACCEL_BACKEND_AUTO), -EINVAL);
	/* An explicit backend wins over the variable. */
	CHECK_EQ(open_with("/nonexistent", ACCEL_BACKEND_HOST), -ENOENT);
	setenv("ACCEL_BACKEND", "host", 1);
	CHECK_EQ(open_with("/nonexistent", ACCEL_BACKEND_AUTO), -ENOENT);
	unsetenv("ACCEL_BACKEND");
	CHECK(!strcmp(accel_backend_name(ACCEL_BACKEND_HOST), "host"));
	CHECK(!strcmp(accel_backend_name(ACCEL_BACKEND_CUDA), "cuda"));
	CHECK(!strcmp(accel_backend_name(9), "?"));
}

static void info_check(void)
{
	struct kvmem_info i = {
		.abi_version = KVMEM_ABI_VERSION, .npools = 2,
		.page_size = 65536,
	};

	CHECK_EQ(accel_check_info(&i), 0);
	i.abi_version = KVMEM_ABI_VERSION + 1;
	CHECK_EQ(accel_check_info(&i), -EPROTO);
	i.abi_version = 0;
	CHECK_EQ(accel_check_info(&i), -EPROTO);
	i.abi_version = KVMEM_ABI_VERSION;
	i.page_size = 3 << 12;
	CHECK_EQ(accel_check_info(&i), -EPROTO);
	i.page_size = 4096;
	i.npools = 0;
	CHECK_EQ(accel_check_info(&i), -EPROTO);
}

static int calls, fail_first, fail_with;

static int flaky(void *arg)
{
	(void)arg;
	return ++calls <= fail_first ? fail_with : 7;
}

static void retry_eintr_eagain(void)
{
	calls = 0, fail_first = 5, fail_with = -EINTR;
	CHECK_EQ(accel_retry(flaky, NULL), 7);
	CHECK_EQ(calls, 6);
	calls = 0, fail_first = 3, fail_with = -EAGAIN;
	CHECK_EQ(accel_retry(flaky, NULL), 7);
	CHECK_EQ(calls, 4);
	/* EAGAIN forever: bounded. */
	calls = 0, fail_first = 1000000, fail_with = -EAGAIN;
	CHECK_EQ(accel_retry(flaky, NULL), -EAGAIN);
	CHECK(calls < 1000);
	calls = 0, fail_first = 1, fail_with = -EIO;
	CHECK_EQ(accel_retry(flaky, NULL), -EIO);
	CHECK_EQ(calls, 1);
}

static void null_handles(void)
{
	struct accel_stats st;

	accel_close(NULL);
	accel_seq_destroy(NULL);
	CHECK_EQ(accel_info(NULL, NULL), -EINVAL);
	CHECK_EQ(accel_stats(NULL, &st), -EINVAL);
	CHECK_EQ(accel_fd(NULL), -EINVAL);
	CHECK_EQ(accel_trim(NULL), -EINVAL);
	CHECK_EQ(accel_seq_grow(NULL, 1), -EINVAL);
	CHECK_EQ(accel_seq_swap_out(NULL), -EINVAL);
	CHECK_EQ(accel_seq_state(NULL), -EINVAL);
	CHECK_EQ(accel_seq_wait(NULL, 0), -EINVAL);
	CHECK_EQ(accel_poll_completions(NULL, NULL, 0), -EINVAL);
}

static const struct unit_case cases[] = {
	UNIT_CASE(no_device_is_enoent),
	UNIT_CASE(require_module),
	UNIT_CASE(not_kvmem_is_eproto),
	UNIT_CASE(bad_options_are_einval),
	UNIT_CASE(backend_env),
	UNIT_CASE(info_check),
	UNIT_CASE(retry_eintr_eagain),
	UNIT_CASE(null_handles),
};

UNIT_MAIN("accel_open", cases)
