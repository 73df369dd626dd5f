// SPDX-License-Identifier: GPL-2.0
/*
 * sysfs: global attributes of /sys/class/misc/kvmem and one directory per
 * pool under pools/. Documentation/ABI/testing/sysfs-kvmem describes them.
 * Node and device pools have a ktype each: a device pool has no node and
 * no reserve, and its tier is the registrar's.
 */
#include <linux/device.h>
#include <linux/kobject.h>
#include <linux/sysfs.h>

#include "kvmem.h"
#include "validate.h"

static ssize_t abi_version_show(struct device *dev,
				struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", KVMEM_ABI_VERSION);
}
static DEVICE_ATTR_RO(abi_version);

static ssize_t clients_show(struct device *dev, struct device_attribute *attr,
			    char *buf)
{
	return sysfs_emit(buf, "%d\n", atomic_read(&kvmem_nr_clients));
}
static DEVICE_ATTR_RO(clients);

static ssize_t spaces_show(struct device *dev, struct device_attribute *attr,
			   char *buf)
{
	return sysfs_emit(buf, "%d\n", atomic_read(&kvmem_nr_spaces));
}
static DEVICE_ATTR_RO(spaces);

static struct attribute *kvmem_dev_attrs[] = {
	&dev_attr_abi_version.attr,
	&dev_attr_clients.attr,
	&dev_attr_spaces.attr,
	NULL,
};

static const struct attribute_group kvmem_dev_group = {
	.attrs = kvmem_dev_attrs,
};

const struct attribute_group *kvmem_dev_groups[] = {
	&kvmem_dev_group,
	NULL,
};

static struct kvmem_pool *to_pool(struct kobject *kobj)
{
	return container_of(kobj, struct kvmem_pool, kobj);
}

static ssize_t node_show(struct kobject *kobj, struct kobj_attribute *attr,
			 char *buf)
{
	return sysfs_emit(buf, "%d\n", to_pool(kobj)->node);
}
static struct kobj_attribute node_attr = __ATTR_RO(node);

static ssize_t kind_show(struct kobject *kobj, struct kobj_attribute *attr,
			 char *buf)
{
	return sysfs_emit(buf, "%s\n",
			  to_pool(kobj)->kind == KVMEM_POOL_KIND_DEVICE ?
			  "device" : "node");
}
static struct kobj_attribute kind_attr = __ATTR_RO(kind);

static ssize_t device_show(struct kobject *kobj, struct kobj_attribute *attr,
			   char *buf)
{
	return sysfs_emit(buf, "%u\n", to_pool(kobj)->device);
}
static struct kobj_attribute device_attr = __ATTR_RO(device);

static ssize_t tier_show(struct kobject *kobj, struct kobj_attribute *attr,
			 char *buf)
{
	return sysfs_emit(buf, "%s\n",
			  kvmem_tier_name(READ_ONCE(to_pool(kobj)->tier)));
}

/* A new tier applies to frames taken from now on. */
static ssize_t tier_store(struct kobject *kobj, struct kobj_attribute *attr,
			  const char *buf, size_t count)
{
	int tier = kvmem_tier_parse(buf, count);

	if (tier < 0)
		return tier;
	WRITE_ONCE(to_pool(kobj)->tier, tier);
	/* WAIT-policy waiters for this tier may find frames now. */
	wake_up_all(&kvmem_frame_wait);
	return count;
}
static struct kobj_attribute tier_attr = __ATTR_RW(tier);
static struct kobj_attribute dev_tier_attr = __ATTR_RO(tier);

static ssize_t page_size_show(struct kobject *kobj,
			      struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%llu\n", READ_ONCE(to_pool(kobj)->frame_size));
}
static struct kobj_attribute page_size_attr = __ATTR_RO(page_size);

enum kvmem_pool_count { POOL_TOTAL, POOL_FREE, POOL_USED };

static ssize_t pool_count_show(struct kobject *kobj, char *buf,
			       enum kvmem_pool_count which)
{
	u32 total, free;

	kvmem_pool_counts(to_pool(kobj), &total, &free);
	return sysfs_emit(buf, "%u\n", which == POOL_TOTAL ? total :
			  which == POOL_FREE ? free : total - free);
}

static ssize_t frames_total_show(struct kobject *kobj,
				 struct kobj_attribute *attr, char *buf)
{
	return pool_count_show(kobj, buf, POOL_TOTAL);
}
static struct kobj_attribute frames_total_attr = __ATTR_RO(frames_total);

static ssize_t frames_free_show(struct kobject *kobj,
				struct kobj_attribute *attr, char *buf)
{
	return pool_count_show(kobj, buf, POOL_FREE);
}
static struct kobj_attribute frames_free_attr = __ATTR_RO(frames_free);

static ssize_t frames_used_show(struct kobject *kobj,
				struct kobj_attribute *attr, char *buf)
{
	return pool_count_show(kobj, buf, POOL_USED);
}
static struct kobj_attribute frames_used_attr = __ATTR_RO(frames_used);

static ssize_t frames_orphaned_show(struct kobject *kobj,
				    struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", READ_ONCE(to_pool(kobj)->nr_orphans));
}
static struct kobj_attribute frames_orphaned_attr = __ATTR_RO(frames_orphaned);

static ssize_t frames_charged_show(struct kobject *kobj,
				   struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%d\n", atomic_read(&to_pool(kobj)->nr_charged));
}
static struct kobj_attribute frames_charged_attr = __ATTR_RO(frames_charged);

static ssize_t reserve_show(struct kobject *kobj, struct kobj_attribute *attr,
			    char *buf)
{
	return sysfs_emit(buf, "%u\n", READ_ONCE(to_pool(kobj)->reserve));
}

static ssize_t reserve_store(struct kobject *kobj, struct kobj_attribute *attr,
			     const char *buf, size_t count)
{
	u32 target;
	int ret;

	ret = kstrtou32(buf, 0, &target);
	if (ret)
		return ret;
	ret = kvmem_pool_resize(to_pool(kobj), target);
	return ret ? ret : count;
}
static struct kobj_attribute reserve_attr = __ATTR_RW(reserve);

static ssize_t low_watermark_show(struct kobject *kobj,
				  struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", READ_ONCE(to_pool(kobj)->low_watermark));
}

static ssize_t low_watermark_store(struct kobject *kobj,
				   struct kobj_attribute *attr,
				   const char *buf, size_t count)
{
	u32 frames;
	int ret;

	ret = kstrtou32(buf, 0, &frames);
	if (ret)
		return ret;
	kvmem_pool_set_low_watermark(to_pool(kobj), frames);
	return count;
}
static struct kobj_attribute low_watermark_attr = __ATTR_RW(low_watermark);

static struct attribute *kvmem_pool_attrs[] = {
	&kind_attr.attr,
	&node_attr.attr,
	&tier_attr.attr,
	&page_size_attr.attr,
	&frames_total_attr.attr,
	&frames_free_attr.attr,
	&frames_used_attr.attr,
	&frames_orphaned_attr.attr,
	&frames_charged_attr.attr,
	&reserve_attr.attr,
	&low_watermark_attr.attr,
	NULL,
};
ATTRIBUTE_GROUPS(kvmem_pool);

static void kvmem_pool_kobj_release(struct kobject *kobj)
{
	kvmem_pool_free(to_pool(kobj));
}

const struct kobj_type kvmem_pool_ktype = {
	.release = kvmem_pool_kobj_release,
	.sysfs_ops = &kobj_sysfs_ops,
	.default_groups = kvmem_pool_groups,
};

static struct attribute *kvmem_devpool_attrs[] = {
	&kind_attr.attr,
	&device_attr.attr,
	&dev_tier_attr.attr,
	&page_size_attr.attr,
	&frames_total_attr.attr,
	&frames_free_attr.attr,
	&frames_used_attr.attr,
	&low_watermark_attr.attr,
	NULL,
};
ATTRIBUTE_GROUPS(kvmem_devpool);

const struct kobj_type kvmem_devpool_ktype = {
	.release = kvmem_pool_kobj_release,
	.sysfs_ops = &kobj_sysfs_ops,
	.default_groups = kvmem_devpool_groups,
};

static struct kobject *kvmem_pools_kobj;

/**
 * kvmem_sysfs_pools_add() - make pools/pool<N> for every pool
 * @parent: the misc device's kobject
 *
 * Return: 0 or -ENOMEM.
 */
int kvmem_sysfs_pools_add(struct kobject *parent)
{
	unsigned int i;
	int ret;

	kvmem_pools_kobj = kobject_create_and_add("pools", parent);
	if (!kvmem_pools_kobj)
		return -ENOMEM;
	for (i = 0; i < kvmem_nr_pools; i++) {
		ret = kobject_add(&kvmem_pools[i]->kobj, kvmem_pools_kobj,
				  "pool%u", i);
		if (ret)
			goto err;
		kobject_uevent(&kvmem_pools[i]->kobj, KOBJ_ADD);
	}
	return 0;
err:
	while (i--)
		kobject_del(&kvmem_pools[i]->kobj);
	kobject_put(kvmem_pools_kobj);
	return ret;
}

/**
 * kvmem_sysfs_pools_del() - remove the pools directory
 *
 * The pools themselves are freed by kvmem_pools_exit().
 */
void kvmem_sysfs_pools_del(void)
{
	unsigned int i;

	for (i = 0; i < kvmem_nr_pools; i++)
		if (kvmem_pools[i]->kobj.state_in_sysfs)
			kobject_del(&kvmem_pools[i]->kobj);
	kobject_put(kvmem_pools_kobj);
}

/**
 * kvmem_sysfs_pool_add() - make pools/pool<N> for a new device pool
 * @pool: the pool; its kobject may have been in sysfs before, and removed
 *	with kvmem_sysfs_pool_del()
 *
 * Called under kvmem_pools_lock.
 *
 * Return: 0 or the error of kobject_add().
 */
int kvmem_sysfs_pool_add(struct kvmem_pool *pool)
{
	int ret;

	ret = kobject_add(&pool->kobj, kvmem_pools_kobj, "pool%u", pool->index);
	if (!ret)
		kobject_uevent(&pool->kobj, KOBJ_ADD);
	return ret;
}

/**
 * kvmem_sysfs_pool_del() - remove a device pool's directory
 * @pool: the pool; its struct stays, for a later kvmem_sysfs_pool_add()
 *
 * Waits for the reads and writes of its files in progress. Called under
 * kvmem_pools_lock.
 */
void kvmem_sysfs_pool_del(struct kvmem_pool *pool)
{
	kobject_uevent(&pool->kobj, KOBJ_REMOVE);
	kobject_del(&pool->kobj);
}
