// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The cuda backend. Not available in this version: accel_open() with
 * ACCEL_BACKEND_CUDA fails with -EOPNOTSUPP, and AUTO picks the host
 * backend.
 */
#include <errno.h>

#include "internal.h"

static int cuda_init(struct accel_ctx *ctx)
{
	(void)ctx;
	return -EOPNOTSUPP;
}

const struct accel_be accel_cuda_backend = {
	.id = ACCEL_BACKEND_CUDA,
	.init = cuda_init,
};
