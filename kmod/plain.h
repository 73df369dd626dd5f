/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Types and errno values for the parts of kvmem that use no kernel API.
 * Those files build both into kvmem.ko and into the user-space unit tests,
 * which run them under AddressSanitizer and UndefinedBehaviorSanitizer.
 */
#ifndef KVMEM_PLAIN_H
#define KVMEM_PLAIN_H

#ifdef __KERNEL__
#include <linux/errno.h>
#include <linux/limits.h>
#include <linux/types.h>
#define UINT64_MAX	U64_MAX
#else
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>
#endif

#endif /* KVMEM_PLAIN_H */
