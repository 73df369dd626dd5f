// SPDX-License-Identifier: LGPL-2.1-or-later
/* Unit tests of libaccel's GPU topology lookups (libaccel/topology.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "topology.h"
#include "../unit/unit.h"

static char root[64];

/* Makes <root>/bus/pci/devices/<id>/numa_node holding text. */
static void fake_dev(const char *id, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "mkdir -p %s/bus/pci/devices/%s", root, id);
	CHECK_EQ(system(path), 0);
	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/numa_node", root,
		 id);
	f = fopen(path, "w");
	CHECK(f != NULL);
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static void sysfs_node_of_pci_device(void)
{
	snprintf(root, sizeof(root), "/tmp/accel-topo.%d", (int)getpid());
	fake_dev("0000:3b:00.0", "1\n");
	fake_dev("0000:3c:00.0", "-1\n");
	fake_dev("0000:3d:00.0", "junk\n");
	/* cuDeviceGetPCIBusId gives upper-case hex; sysfs has lower case. */
	CHECK_EQ(accel_pci_numa_node(root, "0000:3B:00.0"), 1);
	CHECK_EQ(accel_pci_numa_node(root, "0000:3b:00.0"), 1);
	CHECK_EQ(accel_pci_numa_node(root, "0000:3c:00.0"), -1);
	CHECK_EQ(accel_pci_numa_node(root, "0000:3d:00.0"), -1);
	CHECK_EQ(accel_pci_numa_node(root, "0000:99:00.0"), -1);
	CHECK_EQ(accel_pci_numa_node(root, NULL), -1);
	CHECK_EQ(accel_pci_numa_node(root, "0000:3b:00.0-this-is-far-too-long"),
		 -1);
	{
		char cmd[96];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
		CHECK_EQ(system(cmd), 0);
	}
}

static void gpu_node_bad_ids(void)
{
	bool drm = true;

	CHECK_EQ(accel_gpu_numa_node("not-a-bus-id", &drm), -1);
	CHECK(!drm);
	CHECK_EQ(accel_gpu_numa_node(NULL, &drm), -1);
	/* A well-formed id of no device: no DRM device, no sysfs node. */
	CHECK_EQ(accel_gpu_numa_node("00ff:ff:1f.7", &drm), -1);
	CHECK(!drm);
}

static void run_on_node(void)
{
	CHECK_EQ(accel_run_on_node(-1), -EINVAL);
	/* Node 0 always exists; without libnuma the call says so. */
	int r = accel_run_on_node(0);

	CHECK(r == 0 || r == -EOPNOTSUPP);
}

static const struct unit_case cases[] = {
	UNIT_CASE(sysfs_node_of_pci_device),
	UNIT_CASE(gpu_node_bad_ids),
	UNIT_CASE(run_on_node),
};

UNIT_MAIN("accel_topology", cases)
