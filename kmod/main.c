// SPDX-License-Identifier: GPL-2.0
/*
 * kvmem: KV-cache memory for LLM serving. Module parameters, the misc
 * device /dev/kvmem, and the address_space that all its files share.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cred.h>
#include <linux/fs.h>
#include <linux/init.h>
#include <linux/log2.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mount.h>
#include <linux/nodemask.h>
#include <linux/pseudo_fs.h>
#include <linux/slab.h>
#include <linux/sizes.h>

#include "client.h"
#include "kvmem.h"
#include "validate.h"

#define KVMEM_FS_MAGIC	0x6b766d6d	/* "kvmm" */

/* Named so as not to clash with page_size() of linux/mm.h. */
static unsigned long frame_bytes = SZ_64K;
module_param_named(page_size, frame_bytes, ulong, 0444);
MODULE_PARM_DESC(page_size,
		 "Frame size in bytes of every pool: a power of two from 4096 to 2097152 (default 65536)");

static unsigned int reserve_mib = 64;
module_param(reserve_mib, uint, 0444);
MODULE_PARM_DESC(reserve_mib,
		 "MiB each node pool reserves at load (default 64); resize later through sysfs");

static int manager_gid = -1;
module_param(manager_gid, int, 0444);
MODULE_PARM_DESC(manager_gid,
		 "Group whose members may become the manager, besides CAP_SYS_ADMIN (default -1: none)");

static unsigned int tenants = 64;
module_param(tenants, uint, 0444);
MODULE_PARM_DESC(tenants,
		 "Number of tenants, ids 0..tenants-1 (default 64, at most 4096)");

static char *tiers = "";
module_param(tiers, charp, 0444);
MODULE_PARM_DESC(tiers,
		 "Tier of nodes, as <node>:<hbm|dram|cxl>[,...]; default: dram for nodes with CPUs, cxl for CPU-less ones");

unsigned int kvmem_locked_wait_ms = 100;
module_param_named(locked_wait_ms, kvmem_locked_wait_ms, uint, 0644);
MODULE_PARM_DESC(locked_wait_ms,
		 "Longest wait in ms of a WAIT-space fault that cannot drop mmap_lock (kernel-mode access, get_user_pages); a space's smaller timeout_ms wins (default 100)");

unsigned int kvmem_default_tenant;
module_param_named(default_tenant, kvmem_default_tenant, uint, 0444);
MODULE_PARM_DESC(default_tenant,
		 "Tenant every client may charge; others need the tenant's sysfs uid/gid or the manager role (default 0)");

unsigned int kvmem_max_spaces = 65536;
module_param_named(max_spaces, kvmem_max_spaces, uint, 0644);
MODULE_PARM_DESC(max_spaces,
		 "Most live spaces one open file may hold, so that no client takes the module's whole space-id range (about 4 million) (default 65536)");

bool kvmem_memcg_charge = true;
module_param_named(memcg, kvmem_memcg_charge, bool, 0644);
MODULE_PARM_DESC(memcg,
		 "Charge the frames of a client opened in a memory cgroup other than the root to that cgroup, allocated for it instead of taken from the reserve (default Y)");

unsigned int kvmem_manager_grace_ms = 5000;
module_param_named(manager_grace_ms, kvmem_manager_grace_ms, uint, 0644);
MODULE_PARM_DESC(manager_grace_ms,
		 "Milliseconds a gone manager's run states stay before every stopped space is set RUNNABLE (a restart within it changes nothing; default 5000)");

int kvmem_priority_max;
module_param_named(priority_max, kvmem_priority_max, int, 0644);
MODULE_PARM_DESC(priority_max,
		 "Highest space priority a client without the manager role may set (default 0)");

/* Set once init is complete: open() fails before, so no client can see a
 * failed init undo the pools.
 */
bool kvmem_ready;
kgid_t kvmem_manager_kgid = INVALID_GID;
unsigned int kvmem_frame_order;
struct address_space *kvmem_mapping;
atomic_t kvmem_nr_clients = ATOMIC_INIT(0);
atomic_t kvmem_nr_spaces = ATOMIC_INIT(0);

static struct vfsmount *kvmem_mnt;
static struct inode *kvmem_inode;

static int kvmem_fs_init_fs_context(struct fs_context *fc)
{
	return init_pseudo(fc, KVMEM_FS_MAGIC) ? 0 : -ENOMEM;
}

/*
 * Never registered: it exists only to give kvmem an inode of its own. No
 * .owner: the internal mount would hold a reference on this module for as
 * long as it is loaded, and so keep it from ever being unloaded.
 */
static struct file_system_type kvmem_fs_type = {
	.name = "kvmem",
	.init_fs_context = kvmem_fs_init_fs_context,
	.kill_sb = kill_anon_super,
};

static struct miscdevice kvmem_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "kvmem",
	.fops = &kvmem_fops,
	.groups = kvmem_dev_groups,
	.mode = 0660,
};

/*
 * Each device node of kvmem (devtmpfs, or one made by a container runtime)
 * has its own inode; mappings are tracked in one shared address_space of
 * kvmem's own so that a space can be unmapped everywhere at once.
 */
static int kvmem_mapping_init(void)
{
	kvmem_mnt = kern_mount(&kvmem_fs_type);
	if (IS_ERR(kvmem_mnt))
		return PTR_ERR(kvmem_mnt);
	kvmem_inode = alloc_anon_inode(kvmem_mnt->mnt_sb);
	if (IS_ERR(kvmem_inode)) {
		kern_unmount(kvmem_mnt);
		return PTR_ERR(kvmem_inode);
	}
	kvmem_mapping = kvmem_inode->i_mapping;
	return 0;
}

static void kvmem_mapping_exit(void)
{
	iput(kvmem_inode);
	kern_unmount(kvmem_mnt);
}

/*
 * Tier of each node id from the "tiers" parameter; -1 = default. Parsed
 * for any node id the kernel could have, so that a node that does not
 * exist here is named as such, not taken for a syntax error.
 */
static int *kvmem_parse_tiers(void)
{
	int *map, node, ret;

	map = kmalloc_array(MAX_NUMNODES, sizeof(*map), GFP_KERNEL);
	if (!map)
		return ERR_PTR(-ENOMEM);
	for (node = 0; node < MAX_NUMNODES; node++)
		map[node] = -1;
	ret = kvmem_parse_tier_map(tiers, map, MAX_NUMNODES);
	if (ret) {
		pr_err("tiers=\"%s\": expected <node>:<hbm|dram|cxl>[,...]\n",
		       tiers);
		goto err;
	}
	for (node = 0; node < MAX_NUMNODES; node++) {
		if (map[node] < 0 ||
		    (node < nr_node_ids && node_state(node, N_MEMORY)))
			continue;
		pr_err("tiers=\"%s\": node %d %s; nodes with memory: %*pbl\n",
		       tiers, node,
		       node < nr_node_ids && node_online(node) ?
		       "has no memory" : "does not exist",
		       nodemask_pr_args(&node_states[N_MEMORY]));
		ret = -EINVAL;
		goto err;
	}
	return map;
err:
	kfree(map);
	return ERR_PTR(ret);
}

static int __init kvmem_init(void)
{
	u64 reserve_frames;
	int *tier_map;
	int ret;

	if (!kvmem_page_size_valid(frame_bytes) || frame_bytes < PAGE_SIZE) {
		pr_err("page_size=%lu: must be a power of two from 4096 to 2097152\n",
		       frame_bytes);
		return -EINVAL;
	}
	kvmem_frame_order = ilog2(frame_bytes) - PAGE_SHIFT;
	reserve_frames = ((u64)reserve_mib << 20) / frame_bytes;
	if (reserve_frames > U32_MAX) {
		pr_err("reserve_mib=%u: too large\n", reserve_mib);
		return -EINVAL;
	}

	/* A global gid: a user namespace cannot map itself into the group. */
	if (manager_gid >= 0) {
		kvmem_manager_kgid = make_kgid(&init_user_ns, manager_gid);
		if (!gid_valid(kvmem_manager_kgid)) {
			pr_err("manager_gid=%d: not a valid group\n", manager_gid);
			return -EINVAL;
		}
	}
	if (!tenants || tenants > KVMEM_MAX_TENANTS) {
		pr_err("tenants=%u: must be 1 to %u\n", tenants,
		       KVMEM_MAX_TENANTS);
		return -EINVAL;
	}
	if (kvmem_default_tenant >= tenants) {
		pr_err("default_tenant=%u: must be below tenants=%u\n",
		       kvmem_default_tenant, tenants);
		return -EINVAL;
	}

	tier_map = kvmem_parse_tiers();
	if (IS_ERR(tier_map))
		return PTR_ERR(tier_map);

	ret = kvmem_mapping_init();
	if (ret)
		goto err_tiers;
	ret = kvmem_migrate_init();
	if (ret)
		goto err_mapping;
	ret = kvmem_pools_init(reserve_frames, tier_map);
	if (ret)
		goto err_migrate;
	ret = misc_register(&kvmem_misc);
	if (ret)
		goto err_pools;
	ret = kvmem_sysfs_pools_add(&kvmem_misc.this_device->kobj);
	if (ret)
		goto err_misc;
	ret = kvmem_tenants_init(&kvmem_misc.this_device->kobj, tenants);
	if (ret)
		goto err_sysfs;
	kfree(tier_map);
	WRITE_ONCE(kvmem_ready, true);
	pr_info("ABI %u, %u pools of %lu-byte frames\n", KVMEM_ABI_VERSION,
		kvmem_nr_pools, frame_bytes);
	return 0;

err_sysfs:
	kvmem_sysfs_pools_del();
err_misc:
	misc_deregister(&kvmem_misc);
err_pools:
	kvmem_pools_exit();
err_migrate:
	kvmem_migrate_exit();
err_mapping:
	kvmem_mapping_exit();
err_tiers:
	kfree(tier_map);
	return ret;
}

/*
 * Every open file and every mapping holds a module reference (the file's
 * f_op->owner), so by now no client and no mapping is left.
 */
static void __exit kvmem_exit(void)
{
	/* A gone manager's reset walks spaces and tenants: it ends first. */
	kvmem_manager_exit();
	kvmem_tenants_exit();
	kvmem_sysfs_pools_del();
	misc_deregister(&kvmem_misc);
	kvmem_migrate_exit();
	kvmem_pools_exit();
	kvmem_mapping_exit();
}

module_init(kvmem_init);
module_exit(kvmem_exit);

MODULE_DESCRIPTION("kvmem: KV-cache memory for LLM serving");
MODULE_LICENSE("GPL");
