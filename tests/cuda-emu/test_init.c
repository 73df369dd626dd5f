// SPDX-License-Identifier: GPL-2.0
/*
 * test_cuemu: initialization, devices, contexts, strict mode, counters.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_cuemu.h"

/* The exact names are exported, the legacy unversioned ones are not. */
static void exports(void)
{
	static const char *const legacy[] = {
		"cuMemcpyHtoDAsync", "cuMemcpyDtoHAsync", "cuMemcpyDtoDAsync",
		"cuMemcpyHtoD", "cuMemcpyDtoH", "cuStreamDestroy",
		"cuEventDestroy", "cuMemHostRegister", "cuDeviceTotalMem",
		"cuMemGetInfo", "cuDevicePrimaryCtxRelease",
		"cuMemcpyHtoDAsync_v2_ptsz", "cuGetProcAddress",
	};
	size_t i;

	CHECK(dlsym(cu_lib, "cuMemcpyHtoDAsync_v2") ==
	      (void *)cu.cuMemcpyHtoDAsync);
	CHECK(dlsym(cu_lib, "cuMemHostRegister_v2") != NULL);
	CHECK(dlsym(cu_lib, "cuStreamDestroy_v2") != NULL);
	for (i = 0; i < sizeof(legacy) / sizeof(legacy[0]); i++)
		if (dlsym(cu_lib, legacy[i])) {
			fprintf(stderr, "  %s is exported\n", legacy[i]);
			CHECK(!"a legacy name is exported");
		}
	/* Internal helpers stay hidden. */
	CHECK(dlsym(cu_lib, "emu_misuse") == NULL);
}

/* Before cuInit everything fails with NOT_INITIALIZED but the exceptions. */
static void not_initialized(void)
{
	CUmemAllocationProp p = dev_prop(0);
	CUmemGenericAllocationHandle h;
	const char *s = NULL;
	CUdeviceptr va;
	CUcontext ctx;
	CUstream st;
	CUdevice d;
	int n = -1, v = 0;

	CHECK_OK(cu.cuDriverGetVersion(&v));
	CHECK_EMU_EQ(v, CUDA_VERSION);	/* the emulation's; a driver's is >= */
	CHECK_OK(cu.cuGetErrorName(CUDA_ERROR_INVALID_VALUE, &s));
	CHECK_MISUSE(cu.cuDeviceGetCount(&n), CUDA_ERROR_NOT_INITIALIZED);
	CHECK_EQ(n, -1);
	CHECK_MISUSE(cu.cuDeviceGet(&d, 0), CUDA_ERROR_NOT_INITIALIZED);
	CHECK_MISUSE(cu.cuDevicePrimaryCtxRetain(&ctx, 0),
		     CUDA_ERROR_NOT_INITIALIZED);
	CHECK_MISUSE(cu.cuMemAddressReserve(&va, 2 * MiB, 0, 0, 0),
		     CUDA_ERROR_NOT_INITIALIZED);
	CHECK_MISUSE(cu.cuMemCreate(&h, 2 * MiB, &p, 0),
		     CUDA_ERROR_NOT_INITIALIZED);
	CHECK_MISUSE(cu.cuStreamCreate(&st, 0), CUDA_ERROR_NOT_INITIALIZED);
	CHECK_MISUSE(cu.cuCtxSynchronize(), CUDA_ERROR_NOT_INITIALIZED);
	/* cuInit's flags must be 0. */
	CHECK_MISUSE(cu.cuInit(1), CUDA_ERROR_INVALID_VALUE);
	CHECK_MISUSE(cu.cuDeviceGetCount(&n), CUDA_ERROR_NOT_INITIALIZED);
	CHECK_OK(cu.cuInit(0));
	CHECK_OK(cu.cuInit(0));
	CHECK_OK(cu.cuDeviceGetCount(&n));
	CHECK_EMU_EQ(n, 1);	/* the emulation's default */
	CHECK_EMU_EQ(cuemu_snapshot().init, 3);
}

/* Devices as configured: count, ids, names, attributes, memory. */
static void device_queries(void)
{
	char name[64], bus[16], small[5];
	CUdevice d;
	size_t total;
	int n, v;

	env("CUEMU_DEVICES", "2");
	env("CUEMU_PCI_BUS_IDS", "0000:3b:00.0,0001:af:1f.7");
	env("CUEMU_MEM_MIB", "64");
	env("CUEMU_SM_COUNT", "7");
	CHECK_OK(cu.cuInit(0));
	CHECK_OK(cu.cuDeviceGetCount(&n));
	CHECK_EQ(n, 2);
	CHECK_OK(cu.cuDeviceGet(&d, 1));
	CHECK_EQ(d, 1);
	CHECK_OK(cu.cuDeviceGetPCIBusId(bus, sizeof(bus), 0));
	CHECK(!strcmp(bus, "0000:3b:00.0"));
	CHECK_OK(cu.cuDeviceGetPCIBusId(bus, sizeof(bus), 1));
	CHECK(!strcmp(bus, "0001:af:1f.7"));
	CHECK_OK(cu.cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_PCI_BUS_ID,
					 1));
	CHECK_EQ(v, 0xaf);
	CHECK_OK(cu.cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID,
					 1));
	CHECK_EQ(v, 0x1f);
	CHECK_OK(cu.cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID,
					 1));
	CHECK_EQ(v, 1);
	CHECK_OK(cu.cuDeviceGetAttribute(&v,
			CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, 0));
	CHECK_EQ(v, 7);
	CHECK_OK(cu.cuDeviceGetAttribute(&v,
			CU_DEVICE_ATTRIBUTE_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED, 0));
	CHECK_EQ(v, 1);
	/* Not emulated: an error, counted as unsupported, not as misuse. */
	CHECK_EQ(cu.cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_WARP_SIZE, 0),
		 CUDA_ERROR_INVALID_VALUE);
	CHECK_EMU_EQ(cuemu_snapshot().unsupported, 1);
	CHECK_EMU_EQ(cuemu_misuses(), 0);
	CHECK_OK(cu.cuDeviceGetName(name, sizeof(name), 1));
	CHECK(strlen(name) > 0);
	/* Shortened to len, NUL included. */
	CHECK_OK(cu.cuDeviceGetName(small, sizeof(small), 1));
	CHECK_EQ(strlen(small), 4);
	CHECK_MISUSE(cu.cuDeviceGetName(name, 0, 1), CUDA_ERROR_INVALID_VALUE);
	CHECK_MISUSE(cu.cuDeviceGetPCIBusId(bus, -1, 1),
		     CUDA_ERROR_INVALID_VALUE);
	CHECK_OK(cu.cuDeviceTotalMem(&total, 1));
	CHECK_EQ(total, 64 * MiB);
	CHECK_MISUSE(cu.cuDeviceTotalMem(NULL, 0), CUDA_ERROR_INVALID_VALUE);
}

/* Default PCI ids, and the error strings. */
static void defaults_and_errors(void)
{
	const char *s;
	char bus[16];
	size_t total;

	CHECK_OK(cu.cuInit(0));
	CHECK_OK(cu.cuDeviceGetPCIBusId(bus, sizeof(bus), 0));
	EMU_ONLY(CHECK(!strcmp(bus, "0000:01:00.0")));
	CHECK_OK(cu.cuDeviceTotalMem(&total, 0));
	/* The emulation's defaults; a driver's are its GPU's. */
	CHECK_EMU_EQ(total, 1024 * MiB);
	CHECK_EMU_EQ(granularity(), 2 * MiB);
	CHECK_OK(cu.cuGetErrorName(CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED,
				   &s));
	CHECK(s && !strcmp(s, "CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED"));
	CHECK_OK(cu.cuGetErrorName(CUDA_ERROR_UNKNOWN, &s));
	CHECK(s && !strcmp(s, "CUDA_ERROR_UNKNOWN"));
	CHECK_OK(cu.cuGetErrorString(CUDA_ERROR_INVALID_VALUE, &s));
	CHECK(s && strlen(s) > 0);
	/* Unknown codes: INVALID_VALUE and NULL, as documented. */
	s = "x";
	CHECK_EQ(cu.cuGetErrorName((CUresult)12345, &s),
		 CUDA_ERROR_INVALID_VALUE);
	CHECK(s == NULL);
	s = "x";
	CHECK_EQ(cu.cuGetErrorString((CUresult)12345, &s),
		 CUDA_ERROR_INVALID_VALUE);
	CHECK(s == NULL);
}

/* Bad CUEMU_* values make cuInit fail; fixed, it succeeds. */
static void config_errors(void)
{
	env("CUEMU_DEVICES", "0");
	CHECK_EQ(cu.cuInit(0), CUDA_ERROR_NO_DEVICE);
	env("CUEMU_DEVICES", "1");
	env("CUEMU_GRANULARITY", "12288");
	CHECK_EQ(cu.cuInit(0), CUDA_ERROR_INVALID_VALUE);
	env("CUEMU_GRANULARITY", "65536");
	env("CUEMU_PCI_BUS_IDS", "0000:01:00.0,0000:02:00.0");
	CHECK_EQ(cu.cuInit(0), CUDA_ERROR_INVALID_VALUE);
	env("CUEMU_PCI_BUS_IDS", "0000:01:00.0");
	env("CUEMU_COPY_DELAY_US", "-1");
	CHECK_EQ(cu.cuInit(0), CUDA_ERROR_INVALID_VALUE);
	env("CUEMU_COPY_DELAY_US", "0");
	CHECK_OK(cu.cuInit(0));
	CHECK_EQ(granularity(), 65536);
	CHECK_EMU_EQ(cuemu_misuses(), 0);
}

/* Device ordinals out of range: INVALID_DEVICE everywhere. */
static void bad_device_ordinal(void)
{
	CUmemAllocationProp p = dev_prop(1);
	CUmemGenericAllocationHandle h;
	CUmemAccessDesc ad;
	CUcontext ctx;
	CUdevice d;
	size_t g;
	int v;

	CHECK_OK(cu.cuInit(0));
	CHECK_MISUSE(cu.cuDeviceGet(&d, 1), CUDA_ERROR_INVALID_DEVICE);
	CHECK_MISUSE(cu.cuDeviceGet(&d, -1), CUDA_ERROR_INVALID_DEVICE);
	CHECK_MISUSE(cu.cuDeviceGetAttribute(&v,
			CU_DEVICE_ATTRIBUTE_PCI_BUS_ID, 1),
		     CUDA_ERROR_INVALID_DEVICE);
	CHECK_MISUSE(cu.cuDevicePrimaryCtxRetain(&ctx, 3),
		     CUDA_ERROR_INVALID_DEVICE);
	CHECK_MISUSE(cu.cuDevicePrimaryCtxRelease(3),
		     CUDA_ERROR_INVALID_DEVICE);
	CHECK_MISUSE(cu.cuMemCreate(&h, 2 * MiB, &p, 0),
		     CUDA_ERROR_INVALID_DEVICE);
	CHECK_MISUSE(cu.cuMemGetAllocationGranularity(&g, &p,
			CU_MEM_ALLOC_GRANULARITY_MINIMUM),
		     CUDA_ERROR_INVALID_DEVICE);
	memset(&ad, 0, sizeof(ad));
	ad.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
	ad.location.id = 7;
	ad.flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
	CHECK_MISUSE(cu.cuMemSetAccess(reserve(2 * MiB), 2 * MiB, &ad, 1),
		     CUDA_ERROR_INVALID_DEVICE);
}

/* Calls that need a current context fail without one; VMM calls do not. */
static void no_context(void)
{
	size_t g, fr, tot;
	CUdeviceptr va;
	CUmemGenericAllocationHandle h;
	char buf[64];
	CUcontext ctx;
	CUstream st;
	CUevent ev;

	CHECK_OK(cu.cuInit(0));
	CHECK_OK(cu.cuCtxGetCurrent(&ctx));
	CHECK(ctx == NULL);
	CHECK_MISUSE(cu.cuStreamCreate(&st, 0), CUDA_ERROR_INVALID_CONTEXT);
	CHECK_MISUSE(cu.cuEventCreate(&ev, 0), CUDA_ERROR_INVALID_CONTEXT);
	CHECK_MISUSE(cu.cuCtxSynchronize(), CUDA_ERROR_INVALID_CONTEXT);
	CHECK_MISUSE(cu.cuMemGetInfo(&fr, &tot), CUDA_ERROR_INVALID_CONTEXT);
	CHECK_MISUSE(cu.cuMemHostRegister(buf, sizeof(buf), 0),
		     CUDA_ERROR_INVALID_CONTEXT);
	CHECK_MISUSE(cu.cuStreamSynchronize(NULL), CUDA_ERROR_INVALID_CONTEXT);
	/* The virtual memory calls document no context error. */
	g = granularity();
	va = reserve(g);
	h = create(g);
	map_rw(va, g, h);
	CHECK_MISUSE(cu.cuMemcpyHtoDAsync(va, buf, sizeof(buf), NULL),
		     CUDA_ERROR_INVALID_CONTEXT);
	CHECK_MISUSE(cu.cuMemcpyDtoH(buf, va, sizeof(buf)),
		     CUDA_ERROR_INVALID_CONTEXT);
	CHECK_OK(cu.cuMemUnmap(va, g));
	CHECK_OK(cu.cuMemRelease(h));
	CHECK_OK(cu.cuMemAddressFree(va, g));
	/* Set and unset: NULL unbinds. */
	setup();
	CHECK_OK(cu.cuMemGetInfo(&fr, &tot));
	CHECK_OK(cu.cuCtxSetCurrent(NULL));
	CHECK_MISUSE(cu.cuMemGetInfo(&fr, &tot), CUDA_ERROR_INVALID_CONTEXT);
	CHECK_MISUSE(cu.cuCtxSetCurrent((CUcontext)buf),
		     CUDA_ERROR_INVALID_CONTEXT);
}

static void *thread_without_context(void *arg)
{
	CUstream st;
	CUcontext c = (CUcontext)1;

	(void)arg;
	CHECK_OK(cu.cuCtxGetCurrent(&c));
	CHECK(c == NULL);
	CHECK_MISUSE(cu.cuStreamCreate(&st, 0), CUDA_ERROR_INVALID_CONTEXT);
	return NULL;
}

/* The current context belongs to the thread that set it. */
static void context_per_thread(void)
{
	CUcontext ctx = setup(), c;
	pthread_t t;
	CUstream st;

	CHECK(pthread_create(&t, NULL, thread_without_context, NULL) == 0);
	pthread_join(t, NULL);
	CHECK_OK(cu.cuCtxGetCurrent(&c));
	CHECK(c == ctx);
	CHECK_OK(cu.cuStreamCreate(&st, 0));
	CHECK_OK(cu.cuStreamDestroy(st));
}

/* The last release resets the primary context and its objects. */
static void context_release(void)
{
	CUcontext ctx = setup(), again;
	size_t fr, tot;
	CUstream st;
	CUevent ev;

	CHECK_OK(cu.cuStreamCreate(&st, 0));
	CHECK_OK(cu.cuEventCreate(&ev, 0));
	CHECK_EMU_EQ(cuemu_snapshot().live_streams, 1);
	/* Retained twice, released once: still active. */
	CHECK_OK(cu.cuDevicePrimaryCtxRetain(&again, 0));
	CHECK(again == ctx);
	CHECK_OK(cu.cuDevicePrimaryCtxRelease(0));
	CHECK_OK(cu.cuMemGetInfo(&fr, &tot));
	CHECK_OK(cu.cuDevicePrimaryCtxRelease(0));
	CHECK_EMU_EQ(cuemu_snapshot().live_streams, 0);
	CHECK_EMU_EQ(cuemu_snapshot().live_events, 0);
	/* Still current, but reset. */
	CHECK_MISUSE(cu.cuMemGetInfo(&fr, &tot),
		     CUDA_ERROR_CONTEXT_IS_DESTROYED);
	CHECK_MISUSE(cu.cuDevicePrimaryCtxRelease(0),
		     CUDA_ERROR_INVALID_CONTEXT);
	/* Active again, same handle; the old stream and event are gone. */
	CHECK_OK(cu.cuDevicePrimaryCtxRetain(&again, 0));
	CHECK(again == ctx);
	CHECK_MISUSE(cu.cuStreamSynchronize(st), CUDA_ERROR_INVALID_HANDLE);
	CHECK_MISUSE(cu.cuEventQuery(ev), CUDA_ERROR_INVALID_HANDLE);
}

/* CUEMU_STRICT=1: the first misuse aborts the process. */
static void strict_aborts(void)
{
	int status, n;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		env("CUEMU_STRICT", "1");
		cu.cuInit(0);
		cu.cuDeviceGet(&n, 5);
		_exit(0);
	}
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
	/* Without misuse, strict mode changes nothing. */
	env("CUEMU_STRICT", "1");
	CHECK_OK(cu.cuInit(0));
	CHECK_OK(cu.cuDeviceGetCount(&n));
}

/* Every call is counted; a reset zeroes counters, not gauges. */
static void counters(void)
{
	struct cuemu_counts c;
	CUdeviceptr va;
	size_t g;

	setup();
	g = granularity();
	va = reserve(g);
	c = cuemu_snapshot();
	CHECK_EQ(c.init, 1);
	CHECK_EQ(c.device_get, 1);
	CHECK_EQ(c.primary_ctx_retain, 1);
	CHECK_EQ(c.ctx_set_current, 1);
	CHECK_EQ(c.mem_get_allocation_granularity, 1);
	CHECK_EQ(c.address_reserve, 1);
	CHECK_EQ(c.live_reservations, 1);
	cu.reset_counts();
	c = cuemu_snapshot();
	CHECK_EQ(c.init, 0);
	CHECK_EQ(c.address_reserve, 0);
	CHECK_EQ(c.live_reservations, 1);
	CHECK_OK(cu.cuMemAddressFree(va, g));
	c = cuemu_snapshot();
	CHECK_EQ(c.address_free, 1);
	CHECK_EQ(c.live_reservations, 0);
}

const struct cuemu_case cases_init[] = {
	CUEMU_CASE(exports),
	CUEMU_CASE(not_initialized),
	CUEMU_CASE(device_queries),
	CUEMU_CASE(defaults_and_errors),
	CUEMU_CASE(config_errors),
	CUEMU_CASE(bad_device_ordinal),
	CUEMU_CASE(no_context),
	CUEMU_CASE(context_per_thread),
	CUEMU_CASE(context_release),
	CUEMU_CASE(strict_aborts),
	CUEMU_CASE(counters),
};
const size_t ncases_init = sizeof(cases_init) / sizeof(cases_init[0]);
