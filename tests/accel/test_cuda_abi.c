// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libaccel declares the few CUDA Driver API types it uses itself
 * (libaccel/cuda_abi.h), to build without the toolkit. This checks each of
 * them against the toolkit's cuda.h: sizes, field offsets and values.
 */
#include <cuda.h>
#include <stddef.h>

#include "cuda_abi.h"
#include "../unit/unit.h"

#define SAME_SIZE(a, b)	CHECK_EQ(sizeof(a), sizeof(b))
#define SAME_OFF(a, fa, b, fb)	CHECK_EQ(offsetof(a, fa), offsetof(b, fb))

static void scalar_types(void)
{
	SAME_SIZE(acu_result, CUresult);
	SAME_SIZE(acu_device, CUdevice);
	SAME_SIZE(acu_context, CUcontext);
	SAME_SIZE(acu_stream, CUstream);
	SAME_SIZE(acu_deviceptr, CUdeviceptr);
	SAME_SIZE(acu_handle, CUmemGenericAllocationHandle);
}

static void structs(void)
{
	SAME_SIZE(struct acu_mem_location, CUmemLocation);
	SAME_OFF(struct acu_mem_location, type, CUmemLocation, type);
	SAME_OFF(struct acu_mem_location, id, CUmemLocation, id);
	SAME_SIZE(struct acu_mem_prop, CUmemAllocationProp);
	SAME_OFF(struct acu_mem_prop, type, CUmemAllocationProp, type);
	SAME_OFF(struct acu_mem_prop, requested_handle_types,
		 CUmemAllocationProp, requestedHandleTypes);
	SAME_OFF(struct acu_mem_prop, location, CUmemAllocationProp, location);
	SAME_OFF(struct acu_mem_prop, win32_handle_meta_data,
		 CUmemAllocationProp, win32HandleMetaData);
	SAME_OFF(struct acu_mem_prop, alloc_flags, CUmemAllocationProp,
		 allocFlags);
	SAME_SIZE(struct acu_access_desc, CUmemAccessDesc);
	SAME_OFF(struct acu_access_desc, location, CUmemAccessDesc, location);
	SAME_OFF(struct acu_access_desc, flags, CUmemAccessDesc, flags);
}

static void values(void)
{
	CHECK_EQ(ACU_SUCCESS, CUDA_SUCCESS);
	CHECK_EQ(ACU_ERROR_INVALID_VALUE, CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(ACU_ERROR_OUT_OF_MEMORY, CUDA_ERROR_OUT_OF_MEMORY);
	CHECK_EQ(ACU_ERROR_NOT_INITIALIZED, CUDA_ERROR_NOT_INITIALIZED);
	CHECK_EQ(ACU_ERROR_NO_DEVICE, CUDA_ERROR_NO_DEVICE);
	CHECK_EQ(ACU_ERROR_INVALID_DEVICE, CUDA_ERROR_INVALID_DEVICE);
	CHECK_EQ(ACU_ERROR_NOT_SUPPORTED, CUDA_ERROR_NOT_SUPPORTED);
	CHECK_EQ(ACU_DEVICE_ATTRIBUTE_VMM_SUPPORTED,
		 CU_DEVICE_ATTRIBUTE_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED);
	CHECK_EQ(ACU_MEM_ALLOCATION_TYPE_PINNED, CU_MEM_ALLOCATION_TYPE_PINNED);
	CHECK_EQ(ACU_MEM_LOCATION_TYPE_DEVICE, CU_MEM_LOCATION_TYPE_DEVICE);
	CHECK_EQ(ACU_MEM_HANDLE_TYPE_NONE, CU_MEM_HANDLE_TYPE_NONE);
	CHECK_EQ(ACU_MEM_ALLOC_GRANULARITY_RECOMMENDED,
		 CU_MEM_ALLOC_GRANULARITY_RECOMMENDED);
	CHECK_EQ(ACU_MEM_ACCESS_FLAGS_PROT_READWRITE,
		 CU_MEM_ACCESS_FLAGS_PROT_READWRITE);
	CHECK_EQ(ACU_STREAM_NON_BLOCKING, CU_STREAM_NON_BLOCKING);
}

static const struct unit_case cases[] = {
	UNIT_CASE(scalar_types),
	UNIT_CASE(structs),
	UNIT_CASE(values),
};

UNIT_MAIN("accel_cuda_abi", cases)
