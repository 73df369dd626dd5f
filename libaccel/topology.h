/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Which NUMA node is near a GPU, and running a thread there: host frames
 * for a GPU's swaps are taken by a thread on that node, so that kvmem gives
 * them from the nearest pool, and the copies cross no extra link.
 */
#ifndef ACCEL_TOPOLOGY_H
#define ACCEL_TOPOLOGY_H

#include <stdbool.h>
#include <stddef.h>

/*
 * NUMA node of the PCI device bus_id ("dddd:bb:dd.f", any case), from
 * <sysfs>/bus/pci/devices/<bus_id>/numa_node; -1 if unknown.
 */
int accel_pci_numa_node(const char *sysfs, const char *bus_id);

/*
 * NUMA node near the GPU at bus_id: the DRM device that libdrm's
 * drmGetDevices2() lists at that PCI address, and its sysfs node. Without
 * libdrm or without such a DRM device (NVIDIA's driver registers DRM
 * devices only with nvidia-drm loaded), the PCI device's sysfs node; -1
 * when neither knows. *via_drm says whether libdrm found it.
 */
int accel_gpu_numa_node(const char *bus_id, bool *via_drm);

/* Runs the calling thread on the CPUs of node (libnuma); 0 or -errno. */
int accel_run_on_node(int node);

/*
 * Binds the pages of [p, p + len) to node (libnuma's numa_tonode_memory,
 * before they are faulted in); 0, -EINVAL for node < 0, -EOPNOTSUPP
 * without libnuma.
 */
int accel_bind_to_node(void *p, size_t len, int node);

#endif /* ACCEL_TOPOLOGY_H */
