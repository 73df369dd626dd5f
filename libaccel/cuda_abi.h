/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The part of the CUDA Driver API's binary interface that libaccel's cuda
 * backend uses, declared here so that libaccel builds without the CUDA
 * toolkit and loads libcuda.so.1 only at run time. Values and layouts are
 * those of cuda.h (CUDA 12 and 13); tests/accel/test_cuda_abi.c checks
 * them against cuda.h wherever the toolkit is installed.
 */
#ifndef ACCEL_CUDA_ABI_H
#define ACCEL_CUDA_ABI_H

#include <stddef.h>

typedef int acu_result;				/* CUresult */
typedef int acu_device;				/* CUdevice */
typedef struct acu_ctx_st *acu_context;		/* CUcontext */
typedef struct acu_stream_st *acu_stream;	/* CUstream */
typedef unsigned long long acu_deviceptr;	/* CUdeviceptr */
typedef unsigned long long acu_handle;		/* CUmemGenericAllocationHandle */

#define ACU_SUCCESS			0
#define ACU_ERROR_INVALID_VALUE		1
#define ACU_ERROR_OUT_OF_MEMORY		2
#define ACU_ERROR_NOT_INITIALIZED	3
#define ACU_ERROR_NO_DEVICE		100
#define ACU_ERROR_INVALID_DEVICE	101
#define ACU_ERROR_NOT_SUPPORTED		801

/* CUdevice_attribute */
#define ACU_DEVICE_ATTRIBUTE_VMM_SUPPORTED	102

/* CUmemAllocationType, CUmemLocationType, CUmemAllocationHandleType */
#define ACU_MEM_ALLOCATION_TYPE_PINNED	1
#define ACU_MEM_LOCATION_TYPE_DEVICE	1
#define ACU_MEM_HANDLE_TYPE_NONE	0
/* CUmemAllocationGranularity_flags */
#define ACU_MEM_ALLOC_GRANULARITY_RECOMMENDED	1
/* CUmemAccess_flags */
#define ACU_MEM_ACCESS_FLAGS_PROT_READWRITE	3
/* CUstream_flags */
#define ACU_STREAM_NON_BLOCKING	1

/* CUmemLocation */
struct acu_mem_location {
	int type;
	int id;
};

/* CUmemAllocationProp */
struct acu_mem_prop {
	int type;
	int requested_handle_types;
	struct acu_mem_location location;
	void *win32_handle_meta_data;
	struct {
		unsigned char compression_type;
		unsigned char gpu_direct_rdma_capable;
		unsigned short usage;
		unsigned char reserved[4];
	} alloc_flags;
};

/* CUmemAccessDesc */
struct acu_access_desc {
	struct acu_mem_location location;
	int flags;
};

#endif /* ACCEL_CUDA_ABI_H */
