/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What differs between the kernels kvmem supports (6.1 and 6.12).
 */
#ifndef KVMEM_COMPAT_H
#define KVMEM_COMPAT_H

#include <linux/mm.h>
#include <linux/version.h>

#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 3, 0)
/* vm_flags became read-only in 6.3; this is its setter. */
static inline void vm_flags_set(struct vm_area_struct *vma, vm_flags_t flags)
{
	vma->vm_flags |= flags;
}
#endif

#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 5, 0)
/* Faults of file mappings hold mmap_lock, never a VMA lock, before 6.5. */
static inline void release_fault_lock(struct vm_fault *vmf)
{
	mmap_read_unlock(vmf->vma->vm_mm);
}
#endif

/* Largest order the page allocator gives: MAX_ORDER became inclusive in 6.4. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 8, 0)
#define KVMEM_MAX_PAGE_ORDER	MAX_PAGE_ORDER
#elif LINUX_VERSION_CODE >= KERNEL_VERSION(6, 4, 0)
#define KVMEM_MAX_PAGE_ORDER	MAX_ORDER
#else
#define KVMEM_MAX_PAGE_ORDER	(MAX_ORDER - 1)
#endif

/* Whether __GFP_ACCOUNT charges pages to a memory cgroup: renamed in 6.3. */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 3, 0)
#define kvmem_memcg_kmem_on()	memcg_kmem_enabled()
#else
#define kvmem_memcg_kmem_on()	memcg_kmem_online()
#endif

#endif /* KVMEM_COMPAT_H */
