// SPDX-License-Identifier: GPL-2.0
/*
 * cuemu: cuGetErrorName and cuGetErrorString. Neither needs cuInit.
 *
 * The names come from cuda.h itself: the build extracts the CUresult
 * enumerators into emu_errnames.h as EMU_ERR(name) lines, so that every
 * code the header knows has its name. Descriptions are the emulation's own
 * words for the codes it returns; other known codes are described by
 * their name.
 */
#include <stddef.h>

#include "emu_internal.h"

struct emu_errname {
	CUresult code;
	const char *name;
};

static const struct emu_errname emu_errnames[] = {
#define EMU_ERR(name) { name, #name },
#include "emu_errnames.h"
#undef EMU_ERR
};

static const struct emu_errname emu_errdescs[] = {
	{ CUDA_SUCCESS, "no error" },
	{ CUDA_ERROR_INVALID_VALUE, "invalid argument" },
	{ CUDA_ERROR_OUT_OF_MEMORY, "out of memory" },
	{ CUDA_ERROR_NOT_INITIALIZED, "initialization error" },
	{ CUDA_ERROR_NO_DEVICE, "no CUDA-capable device is detected" },
	{ CUDA_ERROR_INVALID_DEVICE, "invalid device ordinal" },
	{ CUDA_ERROR_INVALID_CONTEXT, "invalid device context" },
	{ CUDA_ERROR_CONTEXT_IS_DESTROYED, "context is destroyed" },
	{ CUDA_ERROR_INVALID_HANDLE, "invalid resource handle" },
	{ CUDA_ERROR_NOT_READY, "device not ready" },
	{ CUDA_ERROR_ILLEGAL_ADDRESS,
	  "an illegal memory access was encountered" },
	{ CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED,
	  "part or all of the requested memory range is already mapped" },
	{ CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED,
	  "pointer does not correspond to a registered memory region" },
	{ CUDA_ERROR_NOT_SUPPORTED, "operation not supported" },
	{ CUDA_ERROR_NOT_PERMITTED, "operation not permitted" },
};

static const char *lookup(const struct emu_errname *t, size_t n, CUresult e)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (t[i].code == e)
			return t[i].name;
	return NULL;
}

#define LOOKUP(t, e) lookup(t, sizeof(t) / sizeof(t[0]), e)

CUresult cuGetErrorName(CUresult error, const char **pStr)
{
	emu_count(EMU_C_get_error_name);
	if (!pStr)
		return RULE("arg.null", 1, CUDA_ERROR_INVALID_VALUE,
			    "pStr is NULL");
	*pStr = LOOKUP(emu_errnames, error);
	return *pStr ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

CUresult cuGetErrorString(CUresult error, const char **pStr)
{
	const char *name;

	emu_count(EMU_C_get_error_string);
	if (!pStr)
		return RULE("arg.null", 1, CUDA_ERROR_INVALID_VALUE,
			    "pStr is NULL");
	name = LOOKUP(emu_errnames, error);
	*pStr = NULL;
	if (!name)
		return CUDA_ERROR_INVALID_VALUE;
	*pStr = LOOKUP(emu_errdescs, error);
	if (!*pStr)
		*pStr = name;
	return CUDA_SUCCESS;
}
