/* SPDX-License-Identifier: GPL-2.0 */
/*
 * test_cuemu: tests of the CUDA Driver API emulation, loaded the way
 * libaccel's cuda backend loads a driver: dlopen("libcuda.so.1") found
 * through LD_LIBRARY_PATH, every entry point looked up with dlsym() under
 * the name cuda.h gives it.
 *
 * Each case runs in a child process of its own, so that it starts with an
 * uninitialized driver, may set CUEMU_* variables before cuInit, and a
 * crash or hang fails that case only. It prints "PASS cuemu/<case>" or
 * "FAIL cuemu/<case>", as tests/unit do. The CHECK macros behave as
 * tests/unit/unit.h's: a failed check reports its line and the case goes
 * on.
 */
#ifndef TEST_CUEMU_H
#define TEST_CUEMU_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cuda.h>

#include "cuemu.h"

/* ---- checks -------------------------------------------------------------- */

extern int cuemu_case_failed;
/*
 * --real-driver: the cases run against a real libcuda.so.1 (or, to prove
 * the mode, against the emulation): the checks of the emulation's own
 * counters, gauges, configuration and CPU view of device memory are left
 * out (CHECK_EMU_EQ, EMU_ONLY), and every failed check also prints a
 * "DIVERGE cuemu-real/<case> <file>:<line>: ..." line on stdout: a rule
 * of the emulation that the driver does not follow.
 */
extern int cuemu_real_driver;
extern const char *cuemu_case_name;

#define DIVERGE_(...)							\
	do {								\
		if (cuemu_real_driver) {				\
			printf("DIVERGE cuemu-real/%s %s:%d: ",		\
			       cuemu_case_name, __FILE__, __LINE__);	\
			printf(__VA_ARGS__);				\
			putchar('\n');					\
		}							\
	} while (0)

#define CHECK(cond)							\
	do {								\
		if (!(cond)) {						\
			fprintf(stderr, "  %s:%d: CHECK(%s) failed\n",	\
				__FILE__, __LINE__, #cond);		\
			DIVERGE_("CHECK(%s): expected true, got false",	\
				 #cond);				\
			cuemu_case_failed = 1;				\
		}							\
	} while (0)

#define CHECK_EQ(a, b)							\
	do {								\
		long long _a = (long long)(a), _b = (long long)(b);	\
		if (_a != _b) {						\
			fprintf(stderr, "  %s:%d: %s == %lld, want %s == %lld\n", \
				__FILE__, __LINE__, #a, _a, #b, _b);	\
			DIVERGE_("%s: expected %s (%lld), got %lld",	\
				 #a, #b, _b, _a);			\
			cuemu_case_failed = 1;				\
		}							\
	} while (0)

/* A check of the emulation itself (counters, configuration): not run
 * against a real driver. */
#define CHECK_EMU_EQ(a, b)						\
	do {								\
		if (!cuemu_real_driver)					\
			CHECK_EQ(a, b);					\
	} while (0)
/* A statement only the emulation allows (the CPU touching device memory). */
#define EMU_ONLY(stmt)							\
	do {								\
		if (!cuemu_real_driver) {				\
			stmt;						\
		}							\
	} while (0)

/* `call` returns CUDA_SUCCESS and reports no misuse. */
#define CHECK_OK(call)							\
	do {								\
		uint64_t _m = cuemu_misuses();				\
		CHECK_EQ((call), CUDA_SUCCESS);				\
		CHECK_EMU_EQ(cuemu_misuses() - _m, 0);			\
	} while (0)

/* `call` returns `code` and reports exactly one misuse. */
#define CHECK_MISUSE(call, code)					\
	do {								\
		uint64_t _m = cuemu_misuses();				\
		CHECK_EQ((call), (code));				\
		CHECK_EMU_EQ(cuemu_misuses() - _m, 1);			\
	} while (0)

/* ---- the driver, as dlsym() finds it ------------------------------------- */

/*
 * X(name): the entry points libaccel uses. `name` is cuda.h's: where it is
 * a macro (cuMemcpyHtoDAsync -> cuMemcpyHtoDAsync_v2) the member and the
 * looked-up symbol get the versioned name, as in any caller.
 */
#define CU_ENTRY_POINTS(X)						\
	X(cuInit) X(cuDriverGetVersion) X(cuGetErrorString)		\
	X(cuGetErrorName) X(cuDeviceGetCount) X(cuDeviceGet)		\
	X(cuDeviceGetAttribute) X(cuDeviceGetName)			\
	X(cuDeviceGetPCIBusId) X(cuDeviceTotalMem)			\
	X(cuDevicePrimaryCtxRetain) X(cuDevicePrimaryCtxRelease)	\
	X(cuCtxSetCurrent) X(cuCtxGetCurrent) X(cuCtxSynchronize)	\
	X(cuMemGetAllocationGranularity) X(cuMemAddressReserve)	\
	X(cuMemAddressFree) X(cuMemCreate) X(cuMemRelease) X(cuMemMap)	\
	X(cuMemUnmap) X(cuMemSetAccess) X(cuMemGetInfo)			\
	X(cuStreamCreate) X(cuStreamDestroy) X(cuStreamSynchronize)	\
	X(cuStreamQuery) X(cuMemcpyHtoDAsync) X(cuMemcpyDtoHAsync)	\
	X(cuMemcpyDtoDAsync) X(cuMemcpyHtoD) X(cuMemcpyDtoH)		\
	X(cuMemHostRegister) X(cuMemHostUnregister) X(cuEventCreate)	\
	X(cuEventRecord) X(cuEventQuery) X(cuEventSynchronize)		\
	X(cuEventDestroy) X(cuStreamWaitEvent)

struct cu_api {
#define CU_MEMBER_(name) __typeof__(name) *name;
	CU_ENTRY_POINTS(CU_MEMBER_)
#undef CU_MEMBER_
	cuemu_counts_fn counts;
	cuemu_reset_counts_fn reset_counts;
};

extern struct cu_api cu;
extern void *cu_lib;		/* the dlopen() handle */

/* ---- helpers (test_cuemu.c) ---------------------------------------------- */

#define MiB (1024UL * 1024UL)

struct cuemu_counts cuemu_snapshot(void);
uint64_t cuemu_misuses(void);

/* cuInit, device `dev`'s primary context retained and current. */
CUcontext setup_dev(int dev);
/* setup_dev(0) */
CUcontext setup(void);
/* The allocation properties of pinned memory on device `dev`. */
CUmemAllocationProp dev_prop(int dev);
/* The granularity the emulation reports. */
size_t granularity(void);
/* cuMemAddressReserve, cuMemCreate on `dev`, which must succeed. */
CUdeviceptr reserve(size_t size);
CUmemGenericAllocationHandle create_on(int dev, size_t size);
CUmemGenericAllocationHandle create(size_t size);
/* Map and give `dev` read-write access, which must succeed. */
void map_rw(CUdeviceptr va, size_t size, CUmemGenericAllocationHandle h);
void set_access(CUdeviceptr va, size_t size, int dev,
		CUmemAccess_flags flags);
/*
 * Touch p in a child process: returns 1 if the access faulted (SIGSEGV or
 * SIGBUS), 0 if it did not.
 */
int touch_faults(volatile void *p, int write);
/* Fill with a pattern that depends on seed; a checksum of a buffer. */
void fill(void *p, size_t n, uint32_t seed);
uint64_t checksum(const void *p, size_t n);
/* Host memory from mmap, page-aligned. */
void *host_alloc(size_t n);
void host_free(void *p, size_t n);
/* setenv() that must succeed. */
void env(const char *name, const char *value);
/* Microseconds of CLOCK_MONOTONIC. */
uint64_t now_us(void);

/* ---- cases --------------------------------------------------------------- */

struct cuemu_case {
	const char *name;
	void (*fn)(void);
};

#define CUEMU_CASE(fn) { #fn, fn }

/* Each file's table, and its length. */
extern const struct cuemu_case cases_init[], cases_vmm[], cases_stream[],
	cases_host[];
extern const size_t ncases_init, ncases_vmm, ncases_stream, ncases_host;

#endif /* TEST_CUEMU_H */
