// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * GPU topology (see topology.h). libdrm and libnuma are loaded at run time,
 * like libcuda, so that libaccel depends on neither: without them the
 * answers fall back as documented, never fail.
 */
#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xf86drm.h>

#include "topology.h"

int accel_pci_numa_node(const char *sysfs, const char *bus_id)
{
	char path[256], id[32];
	int node = -1;
	size_t i;
	FILE *f;

	if (!bus_id || strlen(bus_id) >= sizeof(id))
		return -1;
	for (i = 0; bus_id[i]; i++)
		id[i] = (char)tolower((unsigned char)bus_id[i]);
	id[i] = 0;
	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/numa_node", sysfs,
		 id);
	f = fopen(path, "re");
	if (!f)
		return -1;
	if (fscanf(f, "%d", &node) != 1)
		node = -1;
	fclose(f);
	return node < 0 ? -1 : node;
}

typedef int (*get_devices_fn)(uint32_t, drmDevicePtr *, int);
typedef void (*free_devices_fn)(drmDevicePtr *, int);

/* Whether libdrm lists a PCI DRM device at domain:bus:dev.func. */
static bool accel_drm_has(unsigned int dom, unsigned int bus, unsigned int dev,
			  unsigned int fn)
{
#ifdef ACCEL_NO_DLOPEN
	void *lib = NULL;	/* a fully static program loads nothing */
#else
	void *lib = dlopen("libdrm.so.2", RTLD_NOW | RTLD_LOCAL);
#endif
	drmDevicePtr devs[64];
	get_devices_fn get;
	free_devices_fn put;
	bool found = false;
	int i, n;

	if (!lib)
		return false;
	get = (get_devices_fn)dlsym(lib, "drmGetDevices2");
	put = (free_devices_fn)dlsym(lib, "drmFreeDevices");
	n = get && put ? get(0, devs, 64) : -1;
	for (i = 0; i < n; i++) {
		drmPciBusInfoPtr pci = devs[i]->businfo.pci;

		if (devs[i]->bustype == DRM_BUS_PCI && pci &&
		    pci->domain == dom && pci->bus == bus && pci->dev == dev &&
		    pci->func == fn)
			found = true;
	}
	if (n > 0)
		put(devs, n);
	dlclose(lib);
	return found;
}

int accel_gpu_numa_node(const char *bus_id, bool *via_drm)
{
	unsigned int dom, bus, dev, fn;

	*via_drm = false;
	if (!bus_id || sscanf(bus_id, "%x:%x:%x.%x", &dom, &bus, &dev, &fn) != 4)
		return -1;
	*via_drm = accel_drm_has(dom, bus, dev, fn);
	return accel_pci_numa_node("/sys", bus_id);
}

typedef int (*numa_available_fn)(void);
typedef int (*numa_run_on_node_fn)(int);
typedef void (*numa_tonode_memory_fn)(void *, size_t, int);

/*
 * libnuma, loaded once it is usable (numa_available() >= 0), else NULL.
 * It stays loaded: the policies it set outlive the calls anyway.
 */
static void *accel_libnuma(void)
{
	void *lib;
	numa_available_fn avail;

#ifdef ACCEL_NO_DLOPEN
	lib = NULL;
#else
	lib = dlopen("libnuma.so.1", RTLD_NOW | RTLD_LOCAL);
#endif
	if (!lib)
		return NULL;
	avail = (numa_available_fn)dlsym(lib, "numa_available");
	if (!avail || avail() < 0)
		return NULL;
	return lib;
}

int accel_run_on_node(int node)
{
	numa_run_on_node_fn run;
	void *lib;

	if (node < 0)
		return -EINVAL;
	lib = accel_libnuma();
	run = lib ? (numa_run_on_node_fn)dlsym(lib, "numa_run_on_node") : NULL;
	if (!run)
		return -EOPNOTSUPP;
	return run(node) ? -errno : 0;
}

int accel_bind_to_node(void *p, size_t len, int node)
{
	numa_tonode_memory_fn bind;
	void *lib;

	if (node < 0)
		return -EINVAL;
	lib = accel_libnuma();
	bind = lib ? (numa_tonode_memory_fn)dlsym(lib, "numa_tonode_memory") :
		     NULL;
	if (!bind)
		return -EOPNOTSUPP;
	bind(p, len, node);	/* libnuma reports a failure itself */
	return 0;
}
