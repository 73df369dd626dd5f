// SPDX-License-Identifier: GPL-2.0
/*
 * Tenants: who a space's frames are charged to. Each tenant has a quota of
 * frames per tier (set by the admin through sysfs), a weight for the
 * manager's fair scheduling, and counters the admin reads in sysfs:
 * frames held per pool and per tier, faults, bytes migrated into and out
 * of each tier.
 *
 * Tenant ids are 0 .. kvmem_nr_tenants - 1 (module parameter "tenants"),
 * all created at load, so that an admin can set quotas before a tenant's
 * first space exists and no user can make the kernel allocate per id.
 *
 * A frame is charged to the tenant of the space that holds it, in the pool
 * it came from: a space's page frames and its clean copies alike. A
 * tenant's use of a tier is the sum over the pools that have that tier
 * now. Taking a frame checks the quota and charges it under the tenant's
 * lock, so a tenant never holds more than its quota of a tier.
 */
#include <linux/device.h>
#include <linux/kobject.h>
#include <linux/nospec.h>
#include <linux/uidgid.h>
#include <linux/slab.h>
#include <linux/sysfs.h>

#include "kvmem.h"
#include "validate.h"

struct kvmem_tenant **kvmem_tenants;
u32 kvmem_nr_tenants;
static struct kobject *kvmem_tenants_kobj;

/**
 * kvmem_tenant_used() - frames a tenant holds in the pools of a tier
 * @t: the tenant
 * @tier: KVMEM_TIER_*
 *
 * Node and device pools alike. Exact under @t->lock; a lockless read is
 * a hint.
 *
 * Return: the frames.
 */
u64 kvmem_tenant_used(struct kvmem_tenant *t, u32 tier)
{
	unsigned int i, n = kvmem_pools_count();
	u64 used = 0;

	for (i = 0; i < n; i++)
		if (READ_ONCE(kvmem_pools[i]->tier) == tier)
			used += READ_ONCE(t->frames[i]);
	return used;
}

/**
 * kvmem_tenant_below_quota() - whether a tenant may take a frame of a tier
 * @t: the tenant
 * @tier: KVMEM_TIER_*
 *
 * Read without the tenant's lock: a hint for waiters, which then try for
 * real with kvmem_tenant_get_run().
 *
 * Return: true if @t holds fewer frames of @tier than its quota.
 */
bool kvmem_tenant_below_quota(struct kvmem_tenant *t, u32 tier)
{
	return kvmem_tenant_used(t, tier) < READ_ONCE(t->quota[tier]);
}

/**
 * kvmem_tenant_get_run() - take frames of a tier, charged to a tenant
 * @t: the tenant
 * @tier: KVMEM_TIER_*
 * @want: frames wanted, at least 1
 * @frames: returns the frames, all from one pool (kvmem_tier_get_run())
 * @memcg: the memory cgroup to charge them to, or NULL (kvmem_client.memcg)
 *
 * Takes no more than the tenant's quota of @tier leaves. The frames are
 * not zeroed: the caller zeroes or overwrites them before anyone can see
 * them, outside the tenant's lock.
 *
 * Return: frames taken, 0 .. @want; 0 if the tier has no free frame or
 * @t has used its quota of it.
 */
u32 kvmem_tenant_get_run(struct kvmem_tenant *t, u32 tier, u32 want,
			 struct page **frames, struct mem_cgroup *memcg)
{
	u64 used, quota;
	u32 n = 0;

	mutex_lock(&t->lock);
	used = kvmem_tenant_used(t, tier);
	quota = READ_ONCE(t->quota[tier]);
	if (used < quota) {
		n = kvmem_tier_get_run(tier, min_t(u64, want, quota - used),
				       frames, memcg);
		if (n) {
			unsigned int pool = kvmem_frame_pool(frames[0])->index;

			WRITE_ONCE(t->frames[pool], t->frames[pool] + n);
		}
	}
	mutex_unlock(&t->lock);
	return n;
}

/**
 * kvmem_tenant_put_frame() - give back a frame charged to a tenant
 * @t: the tenant
 * @frame: a frame from kvmem_tenant_get_run(), mapped nowhere
 */
void kvmem_tenant_put_frame(struct kvmem_tenant *t, struct page *frame)
{
	unsigned int pool = kvmem_frame_pool(frame)->index;

	mutex_lock(&t->lock);
	WARN_ON_ONCE(!t->frames[pool]);
	WRITE_ONCE(t->frames[pool], t->frames[pool] - 1);
	mutex_unlock(&t->lock);
	kvmem_pool_put_frame(frame);
}

/**
 * kvmem_tenant_moved() - count a page migrated between tiers
 * @t: the tenant
 * @from: tier it left
 * @to: tier it entered
 */
void kvmem_tenant_moved(struct kvmem_tenant *t, u32 from, u32 to)
{
	atomic64_add(kvmem_page_size(), &t->migrated_out[from]);
	atomic64_add(kvmem_page_size(), &t->migrated_in[to]);
}

/**
 * kvmem_tenant_set_quota() - set a tenant's quota of every tier
 * @t: the tenant
 * @quota: frames per tier, U64_MAX for no limit
 */
void kvmem_tenant_set_quota(struct kvmem_tenant *t,
			    const u64 quota[KVMEM_NR_TIERS])
{
	u32 tier;

	mutex_lock(&t->lock);
	for (tier = 0; tier < KVMEM_NR_TIERS; tier++)
		WRITE_ONCE(t->quota[tier], quota[tier]);
	mutex_unlock(&t->lock);
	/* A raised quota may let a waiter go on. */
	wake_up_all(&kvmem_frame_wait);
}

/* ---- sysfs: tenants/<id>/ ------------------------------------------- */

struct kvmem_tenant_attr {
	struct kobj_attribute attr;
	u32 tier;
};

static struct kvmem_tenant *to_tenant(struct kobject *kobj)
{
	return container_of(kobj, struct kvmem_tenant, kobj);
}

static u32 attr_tier(struct kobj_attribute *attr)
{
	return container_of(attr, struct kvmem_tenant_attr, attr)->tier;
}

static ssize_t quota_show(struct kobject *kobj, struct kobj_attribute *attr,
			  char *buf)
{
	u64 q = READ_ONCE(to_tenant(kobj)->quota[attr_tier(attr)]);

	return q == U64_MAX ? sysfs_emit(buf, "max\n") :
			      sysfs_emit(buf, "%llu\n", q);
}

/*
 * A lower quota does not take frames away: the tenant just cannot take
 * more of the tier until it is below the quota again.
 */
static ssize_t quota_store(struct kobject *kobj, struct kobj_attribute *attr,
			   const char *buf, size_t count)
{
	struct kvmem_tenant *t = to_tenant(kobj);
	u64 q;
	int ret;

	ret = kvmem_parse_quota(buf, count, &q);
	if (ret)
		return ret;
	mutex_lock(&t->lock);
	WRITE_ONCE(t->quota[attr_tier(attr)], q);
	mutex_unlock(&t->lock);
	/* A raised quota may let a waiter go on. */
	wake_up_all(&kvmem_frame_wait);
	return count;
}

static ssize_t frames_show(struct kobject *kobj, struct kobj_attribute *attr,
			   char *buf)
{
	return sysfs_emit(buf, "%llu\n",
			  kvmem_tenant_used(to_tenant(kobj), attr_tier(attr)));
}

static ssize_t migrated_in_show(struct kobject *kobj,
				struct kobj_attribute *attr, char *buf)
{
	struct kvmem_tenant *t = to_tenant(kobj);

	return sysfs_emit(buf, "%lld\n",
			  atomic64_read(&t->migrated_in[attr_tier(attr)]));
}

static ssize_t migrated_out_show(struct kobject *kobj,
				 struct kobj_attribute *attr, char *buf)
{
	struct kvmem_tenant *t = to_tenant(kobj);

	return sysfs_emit(buf, "%lld\n",
			  atomic64_read(&t->migrated_out[attr_tier(attr)]));
}

#define KVMEM_TIER_ATTR(_name, _file, _mode, _show, _store, _tier)	\
	static struct kvmem_tenant_attr _name##_attr = {		\
		.attr = __ATTR(_file, _mode, _show, _store),		\
		.tier = _tier,						\
	}

KVMEM_TIER_ATTR(quota_hbm, quota_hbm, 0644, quota_show, quota_store,
		KVMEM_TIER_HBM);
KVMEM_TIER_ATTR(quota_dram, quota_dram, 0644, quota_show, quota_store,
		KVMEM_TIER_DRAM);
KVMEM_TIER_ATTR(quota_cxl, quota_cxl, 0644, quota_show, quota_store,
		KVMEM_TIER_CXL);
KVMEM_TIER_ATTR(frames_hbm, frames_hbm, 0400, frames_show, NULL,
		KVMEM_TIER_HBM);
KVMEM_TIER_ATTR(frames_dram, frames_dram, 0400, frames_show, NULL,
		KVMEM_TIER_DRAM);
KVMEM_TIER_ATTR(frames_cxl, frames_cxl, 0400, frames_show, NULL,
		KVMEM_TIER_CXL);
KVMEM_TIER_ATTR(in_hbm, migrated_in_hbm, 0400, migrated_in_show, NULL,
		KVMEM_TIER_HBM);
KVMEM_TIER_ATTR(in_dram, migrated_in_dram, 0400, migrated_in_show, NULL,
		KVMEM_TIER_DRAM);
KVMEM_TIER_ATTR(in_cxl, migrated_in_cxl, 0400, migrated_in_show, NULL,
		KVMEM_TIER_CXL);
KVMEM_TIER_ATTR(out_hbm, migrated_out_hbm, 0400, migrated_out_show, NULL,
		KVMEM_TIER_HBM);
KVMEM_TIER_ATTR(out_dram, migrated_out_dram, 0400, migrated_out_show, NULL,
		KVMEM_TIER_DRAM);
KVMEM_TIER_ATTR(out_cxl, migrated_out_cxl, 0400, migrated_out_show, NULL,
		KVMEM_TIER_CXL);

static ssize_t frames_by_pool_show(struct kobject *kobj,
				   struct kobj_attribute *attr, char *buf)
{
	struct kvmem_tenant *t = to_tenant(kobj);
	unsigned int i, n = kvmem_pools_count();
	int len = 0;

	for (i = 0; i < n; i++)
		len += sysfs_emit_at(buf, len, "%s%llu", i ? " " : "",
				     READ_ONCE(t->frames[i]));
	return len + sysfs_emit_at(buf, len, "\n");
}
/* Usage is the admin's and the manager's to read, not every tenant's. */
static struct kobj_attribute frames_by_pool_attr =
	__ATTR(frames_by_pool, 0400, frames_by_pool_show, NULL);

static ssize_t faults_show(struct kobject *kobj, struct kobj_attribute *attr,
			   char *buf)
{
	return sysfs_emit(buf, "%lld\n",
			  atomic64_read(&to_tenant(kobj)->faults));
}
static struct kobj_attribute faults_attr =
	__ATTR(faults, 0400, faults_show, NULL);

/* spaces_<state>: live spaces of the tenant in that run state. */
static ssize_t run_show(struct kobject *kobj, struct kobj_attribute *attr,
			char *buf)
{
	/* The attribute's "tier" is the run state here. */
	u32 s = attr_tier(attr);

	return sysfs_emit(buf, "%d\n", atomic_read(&to_tenant(kobj)->nr_run[s]));
}
KVMEM_TIER_ATTR(run_runnable, spaces_runnable, 0400, run_show, NULL,
		KVMEM_RUN_RUNNABLE);
KVMEM_TIER_ATTR(run_preempt, spaces_preempted, 0400, run_show, NULL,
		KVMEM_RUN_PREEMPT);
KVMEM_TIER_ATTR(run_prefetch, spaces_prefetch, 0400, run_show, NULL,
		KVMEM_RUN_PREFETCH);

static ssize_t preemptions_show(struct kobject *kobj,
				struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%lld\n",
			  atomic64_read(&to_tenant(kobj)->preemptions));
}
static struct kobj_attribute preemptions_attr =
	__ATTR(preemptions, 0400, preemptions_show, NULL);

static ssize_t weight_show(struct kobject *kobj, struct kobj_attribute *attr,
			   char *buf)
{
	return sysfs_emit(buf, "%u\n", READ_ONCE(to_tenant(kobj)->weight));
}

static ssize_t weight_store(struct kobject *kobj, struct kobj_attribute *attr,
			    const char *buf, size_t count)
{
	u32 w;
	int ret;

	ret = kstrtou32(buf, 10, &w);
	if (ret)
		return ret;
	if (!w || w > KVMEM_WEIGHT_MAX)
		return -EINVAL;
	WRITE_ONCE(to_tenant(kobj)->weight, w);
	return count;
}
static struct kobj_attribute weight_attr = __ATTR_RW(weight);

/* uid and gid: -1 (none) or an id of the initial user namespace. */
static int kvmem_id_parse(const char *buf, int *v)
{
	int ret = kstrtoint(buf, 10, v);

	if (ret)
		return ret;
	return *v < -1 ? -EINVAL : 0;
}

static ssize_t uid_show(struct kobject *kobj, struct kobj_attribute *attr,
			char *buf)
{
	kuid_t uid = KUIDT_INIT(READ_ONCE(to_tenant(kobj)->uid.val));

	return sysfs_emit(buf, "%d\n", uid_valid(uid) ?
			  (int)from_kuid(&init_user_ns, uid) : -1);
}

static ssize_t uid_store(struct kobject *kobj, struct kobj_attribute *attr,
			 const char *buf, size_t count)
{
	kuid_t uid = INVALID_UID;
	int v, ret;

	ret = kvmem_id_parse(buf, &v);
	if (ret)
		return ret;
	if (v != -1) {
		uid = make_kuid(&init_user_ns, v);
		if (!uid_valid(uid))
			return -EINVAL;
	}
	WRITE_ONCE(to_tenant(kobj)->uid.val, uid.val);
	return count;
}
static struct kobj_attribute uid_attr = __ATTR_RW(uid);

static ssize_t gid_show(struct kobject *kobj, struct kobj_attribute *attr,
			char *buf)
{
	kgid_t gid = KGIDT_INIT(READ_ONCE(to_tenant(kobj)->gid.val));

	return sysfs_emit(buf, "%d\n", gid_valid(gid) ?
			  (int)from_kgid(&init_user_ns, gid) : -1);
}

static ssize_t gid_store(struct kobject *kobj, struct kobj_attribute *attr,
			 const char *buf, size_t count)
{
	kgid_t gid = INVALID_GID;
	int v, ret;

	ret = kvmem_id_parse(buf, &v);
	if (ret)
		return ret;
	if (v != -1) {
		gid = make_kgid(&init_user_ns, v);
		if (!gid_valid(gid))
			return -EINVAL;
	}
	WRITE_ONCE(to_tenant(kobj)->gid.val, gid.val);
	return count;
}
static struct kobj_attribute gid_attr = __ATTR_RW(gid);

/* Whether @cred has @gid as its effective or a supplementary group. */
static bool kvmem_cred_in_group(const struct cred *cred, kgid_t gid)
{
	const struct group_info *gi = cred->group_info;
	int i;

	if (gid_eq(cred->egid, gid))
		return true;
	for (i = 0; gi && i < gi->ngroups; i++)
		if (gid_eq(gi->gid[i], gid))
			return true;
	return false;
}

/**
 * kvmem_client_may_charge() - whether a client may name a tenant
 * @client: the client; judged by its opener's credentials
 * @tenant: a valid tenant id
 *
 * A manager-capable client (CAP_SYS_ADMIN or manager_gid at open) may
 * charge any tenant. Any other may charge the module's default_tenant,
 * and a tenant whose sysfs uid is its opener's effective uid or whose gid
 * is one of its opener's groups.
 *
 * Return: 0, or -EACCES.
 */
int kvmem_client_may_charge(const struct kvmem_client *client, u32 tenant)
{
	struct kvmem_tenant *t;
	kuid_t uid;
	kgid_t gid;

	if (client->may_manage || tenant == READ_ONCE(kvmem_default_tenant))
		return 0;
	t = kvmem_tenants[array_index_nospec(tenant, kvmem_nr_tenants)];
	uid = KUIDT_INIT(READ_ONCE(t->uid.val));
	gid = KGIDT_INIT(READ_ONCE(t->gid.val));
	if (uid_valid(uid) && uid_eq(client->cred->euid, uid))
		return 0;
	if (gid_valid(gid) && kvmem_cred_in_group(client->cred, gid))
		return 0;
	return -EACCES;
}

/**
 * kvmem_client_may_prioritize() - whether a client may set a priority
 * @client: the client
 * @prio: the priority asked for
 *
 * Priorities above the module's priority_max are the manager's to give.
 *
 * Return: 0, or -EPERM.
 */
int kvmem_client_may_prioritize(const struct kvmem_client *client, s32 prio)
{
	return client->may_manage || prio <= READ_ONCE(kvmem_priority_max) ?
	       0 : -EPERM;
}

static struct attribute *kvmem_tenant_attrs[] = {
	&quota_hbm_attr.attr.attr,
	&quota_dram_attr.attr.attr,
	&quota_cxl_attr.attr.attr,
	&frames_hbm_attr.attr.attr,
	&frames_dram_attr.attr.attr,
	&frames_cxl_attr.attr.attr,
	&in_hbm_attr.attr.attr,
	&in_dram_attr.attr.attr,
	&in_cxl_attr.attr.attr,
	&out_hbm_attr.attr.attr,
	&out_dram_attr.attr.attr,
	&out_cxl_attr.attr.attr,
	&frames_by_pool_attr.attr,
	&faults_attr.attr,
	&weight_attr.attr,
	&run_runnable_attr.attr.attr,
	&run_preempt_attr.attr.attr,
	&run_prefetch_attr.attr.attr,
	&preemptions_attr.attr,
	&uid_attr.attr,
	&gid_attr.attr,
	NULL,
};
ATTRIBUTE_GROUPS(kvmem_tenant);

static void kvmem_tenant_release(struct kobject *kobj)
{
	struct kvmem_tenant *t = to_tenant(kobj);

	mutex_destroy(&t->lock);
	kfree(t);
}

static const struct kobj_type kvmem_tenant_ktype = {
	.release = kvmem_tenant_release,
	.sysfs_ops = &kobj_sysfs_ops,
	.default_groups = kvmem_tenant_groups,
};

/**
 * kvmem_tenants_init() - create the tenants and their sysfs directories
 * @parent: the misc device's kobject
 * @n: number of tenants, 1 .. KVMEM_MAX_TENANTS
 *
 * Return: 0 or -ENOMEM.
 */
int kvmem_tenants_init(struct kobject *parent, u32 n)
{
	u32 i, tier;
	int ret;

	kvmem_tenants = kcalloc(n, sizeof(*kvmem_tenants), GFP_KERNEL);
	kvmem_tenants_kobj = kobject_create_and_add("tenants", parent);
	if (!kvmem_tenants || !kvmem_tenants_kobj) {
		ret = -ENOMEM;
		goto err;
	}
	for (i = 0; i < n; i++) {
		struct kvmem_tenant *t = kzalloc(sizeof(*t), GFP_KERNEL);

		if (!t) {
			ret = -ENOMEM;
			goto err;
		}
		t->id = i;
		mutex_init(&t->lock);
		t->weight = 1;
		t->uid = INVALID_UID;
		t->gid = INVALID_GID;
		for (tier = 0; tier < KVMEM_NR_TIERS; tier++)
			t->quota[tier] = U64_MAX;
		kobject_init(&t->kobj, &kvmem_tenant_ktype);
		kvmem_tenants[i] = t;
		kvmem_nr_tenants = i + 1;
		ret = kobject_add(&t->kobj, kvmem_tenants_kobj, "%u", i);
		if (ret)
			goto err;
	}
	return 0;
err:
	kvmem_tenants_exit();
	return ret;
}

/**
 * kvmem_tenants_exit() - remove the tenants; no frame is charged by now
 */
void kvmem_tenants_exit(void)
{
	while (kvmem_nr_tenants) {
		struct kvmem_tenant *t = kvmem_tenants[--kvmem_nr_tenants];

		kobject_put(&t->kobj);
	}
	kfree(kvmem_tenants);
	kvmem_tenants = NULL;
	kobject_put(kvmem_tenants_kobj);
	kvmem_tenants_kobj = NULL;
}
