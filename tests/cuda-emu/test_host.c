// SPDX-License-Identifier: GPL-2.0
/*
 * test_cuemu: host memory registration.
 */
#include "test_cuemu.h"

#define N (64 * 1024)

static void host_register_rules(void)
{
	CUdeviceptr va;
	char *p, *gone;

	setup();
	p = host_alloc(4 * N);
	CHECK_OK(cu.cuMemHostRegister(p + N, N, CU_MEMHOSTREGISTER_PORTABLE |
				      CU_MEMHOSTREGISTER_DEVICEMAP));
	CHECK_EMU_EQ(cuemu_snapshot().live_host_registrations, 1);
	/* The same range again, or any overlap of it. */
	CHECK_MISUSE(cu.cuMemHostRegister(p + N, N, 0),
		     CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED);
	CHECK_MISUSE(cu.cuMemHostRegister(p, N + 1, 0),
		     CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED);
	CHECK_MISUSE(cu.cuMemHostRegister(p + 2 * N - 1, N, 0),
		     CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED);
	/* Next to it is fine. */
	CHECK_OK(cu.cuMemHostRegister(p, N, 0));
	CHECK_OK(cu.cuMemHostRegister(p + 2 * N, N, 0));
	/* Arguments. */
	CHECK_MISUSE(cu.cuMemHostRegister(p + 3 * N, N, 0x10),
		     CUDA_ERROR_INVALID_VALUE);
	CHECK_MISUSE(cu.cuMemHostRegister(NULL, N, 0),
		     CUDA_ERROR_INVALID_VALUE);
	CHECK_MISUSE(cu.cuMemHostRegister(p + 3 * N, 0, 0),
		     CUDA_ERROR_INVALID_VALUE);
	/* Device memory is not host memory; unmapped memory is nothing. */
	va = reserve(granularity());
	CHECK_MISUSE(cu.cuMemHostRegister((void *)va, N, 0),
		     CUDA_ERROR_INVALID_VALUE);
	gone = host_alloc(N);
	host_free(gone, N);
	CHECK_MISUSE(cu.cuMemHostRegister(gone, N, 0),
		     CUDA_ERROR_INVALID_VALUE);
	/* Unregister takes the base address, once. */
	CHECK_MISUSE(cu.cuMemHostUnregister(p + N + 8),
		     CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED);
	CHECK_MISUSE(cu.cuMemHostUnregister(p + 3 * N),
		     CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED);
	CHECK_OK(cu.cuMemHostUnregister(p + N));
	CHECK_MISUSE(cu.cuMemHostUnregister(p + N),
		     CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED);
	CHECK_OK(cu.cuMemHostUnregister(p));
	CHECK_OK(cu.cuMemHostUnregister(p + 2 * N));
	CHECK_EMU_EQ(cuemu_snapshot().live_host_registrations, 0);
	CHECK_EMU_EQ(cuemu_snapshot().host_register, 11);
	CHECK_EMU_EQ(cuemu_snapshot().host_unregister, 6);
}

const struct cuemu_case cases_host[] = {
	CUEMU_CASE(host_register_rules),
};
const size_t ncases_host = sizeof(cases_host) / sizeof(cases_host[0]);
