/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * kvmem: KV-cache memory for LLM serving, managed like an OS manages memory.
 *
 * This is the ioctl ABI of /dev/kvmem, version 1. It is shared verbatim by
 * the kernel module and user space (libaccel, kvmemctl, tests).
 *
 * Rules every struct follows (Documentation/process/botching-up-ioctls.rst):
 *  - fixed-size types only, 64-bit aligned, explicit padding;
 *  - every flags, padding and reserved field must be zero (else -EINVAL);
 *  - structs grow by appending fields: the kernel accepts a shorter struct
 *    from an older user (missing fields read as zero) and a longer one from
 *    a newer user as long as the tail it does not know is zero (else -E2BIG);
 *  - unknown commands fail with -ENOTTY.
 *
 * Documentation/ioctl.md describes every field and every error.
 */
#ifndef _UAPI_LINUX_KVMEM_H
#define _UAPI_LINUX_KVMEM_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define KVMEM_ABI_VERSION	1

/* Feature bits reported by KVMEM_IOC_GET_INFO. */
#define KVMEM_FEATURE_NODE_POOLS	(1ULL << 0)	/* NUMA node pools */
#define KVMEM_FEATURE_MIGRATE		(1ULL << 1)	/* KVMEM_IOC_MIGRATE */
#define KVMEM_FEATURE_EVENTS		(1ULL << 2)	/* read() and poll() */
#define KVMEM_FEATURE_TENANTS		(1ULL << 3)	/* tenants, quotas, SPACE_SET */
#define KVMEM_FEATURE_MANAGER		(1ULL << 4)	/* the manager role */
#define KVMEM_FEATURE_DEVICE_POOLS	(1ULL << 5)	/* DEVICE_POOL_ADD/REMOVE */
#define KVMEM_FEATURE_RUN_STATE		(1ULL << 6)	/* SPACE_RUN, SWAP, demand */
#define KVMEM_FEATURE_LIST_SIZED	(1ULL << 7)	/* kvmem_list version 2 */
#define KVMEM_FEATURE_MEMCG		(1ULL << 10)	/* frames charged to memcg */

/* Memory tiers, fastest first. The fallback order follows this order. */
#define KVMEM_TIER_HBM		0
#define KVMEM_TIER_DRAM		1
#define KVMEM_TIER_CXL		2
#define KVMEM_NR_TIERS		3

/* What a space does when its tier has no free frame. */
#define KVMEM_POLICY_FALLBACK	0	/* try the other tiers, slower first */
#define KVMEM_POLICY_WAIT	1	/* wait up to timeout_ms for a frame */
#define KVMEM_POLICY_FAIL	2	/* SIGBUS on access, -ENOMEM on populate */
#define KVMEM_NR_POLICIES	3

/* Upper bound of kvmem_space_create.timeout_ms. */
#define KVMEM_WAIT_MAX_MS	60000

/*
 * Every space owns a window of 2^KVMEM_SPACE_SHIFT bytes of the device's
 * mmap offsets; a space is at most that large.
 */
#define KVMEM_SPACE_SHIFT	40
#define KVMEM_SPACE_MAX_BYTES	(1ULL << KVMEM_SPACE_SHIFT)

/* Pool index meaning "no pool" in residency reports. */
#define KVMEM_POOL_NONE		0xffff

/**
 * struct kvmem_info - KVMEM_IOC_GET_INFO output
 * @abi_version: KVMEM_ABI_VERSION of the running module
 * @npools: pool indices are 0..npools-1: the node pools first, then the
 *	device pools; a removed device pool below the highest index in use
 *	leaves a hole (POOL_QUERY: -ENOENT)
 * @features: KVMEM_FEATURE_* bits
 * @page_sizes: bit n set means 2^n bytes is a page size the module supports
 * @page_size: page (frame) size of the node pools, in bytes
 * @max_space_bytes: largest size accepted by KVMEM_IOC_SPACE_CREATE
 * @ntenants: tenant ids are 0..ntenants-1 (module parameter "tenants")
 * @reserved32: zero
 * @reserved: zero
 */
struct kvmem_info {
	__u32 abi_version;
	__u32 npools;
	__u64 features;
	__u64 page_sizes;
	__u64 page_size;
	__u64 max_space_bytes;
	__u32 ntenants;
	__u32 reserved32;
	__u64 reserved[2];
};

/* Kinds of pool. */
#define KVMEM_POOL_KIND_NODE	0	/* frames of a NUMA node, owned by kvmem */
#define KVMEM_POOL_KIND_DEVICE	1	/* frames of a GPU, accounted only */

/**
 * struct kvmem_pool_info - KVMEM_IOC_POOL_QUERY input and output
 * @index: in: pool index, below kvmem_info.npools
 * @flags: in: zero
 * @kind: out: KVMEM_POOL_KIND_*
 * @node: out: NUMA node of a node pool; -1 for a device pool
 * @tier: out: KVMEM_TIER_*
 * @pad: zero
 * @page_size: out: frame size in bytes
 * @frames_total: out: frames the pool owns
 * @frames_free: out: frames not held by any space
 * @reserved: zero
 * @device: out (version 2): a device pool's device id, as registered;
 *	0 for a node pool
 * @pad2: zero
 */
struct kvmem_pool_info {
	__u32 index;
	__u32 flags;
	__u32 kind;
	__s32 node;
	__u32 tier;
	__u32 pad;
	__u64 page_size;
	__u64 frames_total;
	__u64 frames_free;
	__u64 reserved[4];
	__u32 device;
	__u32 pad2;
};

/* kvmem_space_create.flags */
#define KVMEM_SPACE_DEVICE	(1U << 0)	/* frames of device pool @pool */
#define KVMEM_SPACE_FLAGS	KVMEM_SPACE_DEVICE

/**
 * struct kvmem_space_create - KVMEM_IOC_SPACE_CREATE input and output
 * @size: in: bytes, a non-zero multiple of the page size (a device
 *	space's: its pool's frame size), at most kvmem_info.max_space_bytes
 * @tier: in: preferred tier, KVMEM_TIER_*; some node pool must have this
 *	tier; for a device space, the device pool's tier
 * @policy: in: KVMEM_POLICY_*; not FALLBACK for a device space
 * @timeout_ms: in: for KVMEM_POLICY_WAIT, 1..KVMEM_WAIT_MAX_MS; else zero
 * @flags: in: KVMEM_SPACE_* bits
 * @tenant: in: tenant whose quotas and accounting the space's frames count
 *	in, below kvmem_info.ntenants; 0 is the default tenant
 * @priority: in: scheduling priority, for the manager (higher runs first)
 * @reserved_in: in: zero
 * @handle: out: the space's handle, valid only in the file that created it
 * @pad: zero
 * @mmap_offset: out: offset to pass to mmap() to map the space
 * @npages: out: size / page_size
 * @page_size: out: bytes per page of this space
 * @reserved_out: zero
 * @pool: in (version 2): with KVMEM_SPACE_DEVICE, the device pool whose
 *	frames the space is granted; else zero
 * @pad2: in: zero
 */
struct kvmem_space_create {
	__u64 size;
	__u32 tier;
	__u32 policy;
	__u32 timeout_ms;
	__u32 flags;
	__u32 tenant;
	__s32 priority;
	__u64 reserved_in[3];
	__u32 handle;
	__u32 pad;
	__u64 mmap_offset;
	__u64 npages;
	__u64 page_size;
	__u64 reserved_out[4];
	__u32 pool;
	__u32 pad2;
};

/**
 * struct kvmem_space_destroy - KVMEM_IOC_SPACE_DESTROY input
 * @handle: the space to destroy
 * @flags: zero
 */
struct kvmem_space_destroy {
	__u32 handle;
	__u32 flags;
};

/**
 * struct kvmem_range - KVMEM_IOC_POPULATE and KVMEM_IOC_RELEASE
 * @handle: in: the space
 * @flags: in: zero
 * @first: in: first page of the range
 * @count: in: number of pages, non-zero; first + count <= npages
 * @done: out: pages this call backed (POPULATE) or gave back (RELEASE)
 * @reserved: zero
 */
struct kvmem_range {
	__u32 handle;
	__u32 flags;
	__u64 first;
	__u64 count;
	__u64 done;
	__u64 reserved[2];
};

/**
 * struct kvmem_residency - one page of a KVMEM_IOC_QUERY report
 * @pool: index of the pool whose frame holds the page, or KVMEM_POOL_NONE
 * @copy: pool of a clean copy of the page kept by a KEEP_COPY migration,
 *	or KVMEM_POOL_NONE. A write to the page makes the copy stale; kvmem
 *	notices, and frees it, at the page's next migration or release.
 */
struct kvmem_residency {
	__u16 pool;
	__u16 copy;
};

/**
 * struct kvmem_query - KVMEM_IOC_QUERY input and output
 * @handle: in: the space
 * @flags: in: zero
 * @first: in: first page of the range
 * @count: in: number of pages, non-zero; first + count <= npages
 * @residency: in: user pointer to @count struct kvmem_residency, or 0 to
 *	count resident pages only
 * @resident: out: pages of the range that are backed by a frame
 * @reserved: zero
 */
struct kvmem_query {
	__u32 handle;
	__u32 flags;
	__u64 first;
	__u64 count;
	__u64 residency;
	__u64 resident;
	__u64 reserved[2];
};

/*
 * Sizes of the structs in ABI version 1, the smallest the kernel accepts.
 * Later versions append fields; these numbers never change.
 */
#define KVMEM_INFO_SIZE_VER1		64
#define KVMEM_POOL_INFO_SIZE_VER1	80
#define KVMEM_SPACE_CREATE_SIZE_VER1	120
#define KVMEM_SPACE_DESTROY_SIZE_VER1	8
#define KVMEM_RANGE_SIZE_VER1		48
#define KVMEM_QUERY_SIZE_VER1		56

/* Sizes of the structs that grew in later versions. */
#define KVMEM_POOL_INFO_SIZE_VER2	88
#define KVMEM_SPACE_CREATE_SIZE_VER2	128

/* kvmem_space_set.flags: which fields to set */
#define KVMEM_SET_PRIORITY	(1U << 0)
#define KVMEM_SET_TOKENS	(1U << 1)
#define KVMEM_SET_TENANT	(1U << 2)
#define KVMEM_SET_DEMAND	(1U << 3)	/* version 2 */
#define KVMEM_SET_FLAGS		(KVMEM_SET_PRIORITY | KVMEM_SET_TOKENS | \
				 KVMEM_SET_TENANT | KVMEM_SET_DEMAND)

/*
 * What the owner says of a space's work (kvmem_space_set.demand), for the
 * manager's scheduler. NONE until the owner first reports.
 */
#define KVMEM_DEMAND_NONE	0	/* not reported */
#define KVMEM_DEMAND_WAITING	1	/* has work queued, waits to run */
#define KVMEM_DEMAND_RUNNING	2	/* being stepped now */
#define KVMEM_DEMAND_IDLE	3	/* between turns of a conversation */
#define KVMEM_NR_DEMANDS	4

/**
 * struct kvmem_space_set - KVMEM_IOC_SPACE_SET input
 * @handle: the space
 * @flags: KVMEM_SET_* bits naming the fields to set; at least one
 * @tenant: with KVMEM_SET_TENANT: new tenant; only while the space holds
 *	no frame
 * @priority: with KVMEM_SET_PRIORITY: new priority
 * @tokens: with KVMEM_SET_TOKENS: tokens written into the space so far
 * @reserved: zero
 * @demand: (version 2) with KVMEM_SET_DEMAND: KVMEM_DEMAND_*
 * @pad: zero
 */
struct kvmem_space_set {
	__u32 handle;
	__u32 flags;
	__u32 tenant;
	__s32 priority;
	__u64 tokens;
	__u64 reserved[2];
	__u32 demand;
	__u32 pad;
};

/* kvmem_migrate.flags */
#define KVMEM_MIGRATE_KEEP_COPY	(1U << 0)	/* keep the source as a clean copy */
#define KVMEM_MIGRATE_BY_ID	(1U << 1)	/* manager: handle is a space id */
#define KVMEM_MIGRATE_FLAGS	(KVMEM_MIGRATE_KEEP_COPY | KVMEM_MIGRATE_BY_ID)

/**
 * struct kvmem_migrate - KVMEM_IOC_MIGRATE input and output
 * @handle: in: the space
 * @flags: in: KVMEM_MIGRATE_* bits
 * @first: in: first page of the range
 * @count: in: number of pages, non-zero; first + count <= npages
 * @tier: in: target tier, KVMEM_TIER_*; some pool must have it
 * @pad: in: zero
 * @cookie: in: any value; comes back in the completion event
 * @id: out: the migration's id in this file, from 1; also in the event
 * @reserved: in: zero
 *
 * Starts moving the resident pages of the range to the target tier and
 * returns at once. Completion, failure or cancellation arrives as one
 * KVMEM_EVENT_MIGRATE event, read() from the same file.
 */
struct kvmem_migrate {
	__u32 handle;
	__u32 flags;
	__u64 first;
	__u64 count;
	__u32 tier;
	__u32 pad;
	__u64 cookie;
	__u64 id;
	__u64 reserved[4];
};

/* kvmem_event.type; the manager's events are described in ioctl.md */
#define KVMEM_EVENT_MIGRATE		1	/* a migration of this file ended */
#define KVMEM_EVENT_OVERFLOW		2	/* events were lost: see @pages */
#define KVMEM_EVENT_SPACE_CREATED	3	/* manager: a space was created */
#define KVMEM_EVENT_SPACE_DESTROYED	4	/* manager: a space was destroyed */
#define KVMEM_EVENT_CLIENT_EXIT		5	/* manager: a client went away */
#define KVMEM_EVENT_POOL_LOW		6	/* manager: pool below low_watermark */
#define KVMEM_EVENT_FAULT_WAIT		7	/* manager: a fault waits for room */
#define KVMEM_EVENT_RUN			8	/* owner: the manager set a run state */
#define KVMEM_EVENT_DEMAND		9	/* manager: an owner reported demand */
#define KVMEM_EVENT_SWAP		10	/* manager: an owner's swap ended */

/**
 * struct kvmem_event - what read() on /dev/kvmem returns, 64 bytes each
 * @seq: sequence number, from 1, one per event generated in this file;
 *	a lost event leaves a gap and is counted by an OVERFLOW event
 * @type: KVMEM_EVENT_*
 * @status: MIGRATE: 0, or a negative errno (-ENOMEM: the target tier ran
 *	out of frames; -ECANCELED: the space was destroyed; -EBUSY: some
 *	pages were left in place because something else holds them)
 * @id: MIGRATE: the id KVMEM_IOC_MIGRATE returned
 * @cookie: MIGRATE: the cookie given to KVMEM_IOC_MIGRATE
 * @handle: MIGRATE: the space's handle
 * @pad: zero
 * @pages: MIGRATE: pages of the range in the target tier when it ended;
 *	OVERFLOW: number of events lost
 * @bytes_copied: MIGRATE: bytes copied between frames
 * @bytes_reused: MIGRATE: bytes not copied because a clean copy was there
 *
 * RUN (to the owner): @handle the space's handle, @id the new KVMEM_RUN_*
 * state, @pages its tier, @cookie the manager's cookie. DEMAND (to the
 * manager): @id the space id, @handle the owner's client id, @cookie the
 * tenant, @pages the new KVMEM_DEMAND_*. SWAP (to the manager): @id the
 * space id, @handle the owner's client id, @cookie the swap's cookie,
 * @status 0 (committed) or a negative errno (aborted), @pages pages moved,
 * @bytes_copied bytes the owner copied. Documentation/ioctl.md has them all.
 */
struct kvmem_event {
	__u64 seq;
	__u32 type;
	__s32 status;
	__u64 id;
	__u64 cookie;
	__u32 handle;
	__u32 pad;
	__u64 pages;
	__u64 bytes_copied;
	__u64 bytes_reused;
};

/**
 * struct kvmem_manager - KVMEM_IOC_MANAGER input
 * @flags: zero
 * @pad: zero
 * @reserved: zero
 *
 * Makes this file the manager: the one privileged client (CAP_SYS_ADMIN,
 * or the group of module parameter manager_gid) that sees every space and
 * client, migrates any space, sets tenants' quotas and weights, and gets
 * the manager events. The role ends when the file is released.
 */
struct kvmem_manager {
	__u32 flags;
	__u32 pad;
	__u64 reserved[2];
};

/**
 * struct kvmem_space_info - one space in a KVMEM_IOC_LIST_SPACES report
 * @id: the space's id (its mmap_offset >> KVMEM_SPACE_SHIFT)
 * @client: id of the owning client
 * @tenant: its tenant
 * @priority: its priority
 * @tokens: tokens written, as its owner last reported
 * @npages: pages in the space
 * @tier: preferred tier
 * @policy: exhaustion policy
 * @resident: pages backed by a frame
 * @copies: clean copies held
 * @reserved: zero
 * @run_state: (version 2) KVMEM_RUN_*, as the manager last set it
 * @run_tier: (version 2) the tier named with @run_state
 * @demand: (version 2) KVMEM_DEMAND_*, as the owner last reported it
 * @flags: (version 2) KVMEM_SPACE_INFO_* bits
 * @run_cookie: (version 2) the cookie of the last KVMEM_IOC_SPACE_RUN
 */
struct kvmem_space_info {
	__u32 id;
	__u32 client;
	__u32 tenant;
	__s32 priority;
	__u64 tokens;
	__u64 npages;
	__u32 tier;
	__u32 policy;
	__u64 resident;
	__u64 copies;
	__u64 reserved[2];
	__u32 run_state;
	__u32 run_tier;
	__u32 demand;
	__u32 flags;
	__u64 run_cookie;
};

/* kvmem_space_info.flags */
#define KVMEM_SPACE_INFO_DEVICE	(1U << 0)	/* a device space */
#define KVMEM_SPACE_INFO_SWAPPING	(1U << 1)	/* owner's swap begun, not ended */

/**
 * struct kvmem_client_info - one client in a KVMEM_IOC_LIST_CLIENTS report
 * @id: the client's id
 * @pid: thread group id of the process that opened the file, in the
 *	caller's pid namespace (0 if not visible there)
 * @spaces: its live spaces
 * @flags: KVMEM_CLIENT_MANAGER if it is the manager
 * @frames: frames its spaces hold, clean copies included
 * @faults: page faults on its spaces
 * @migrated: bytes of its spaces that migrations moved, whoever asked;
 *	the sum over tiers of its fdinfo's kvmem-migrated-in-<tier>
 * @reserved: zero
 */
struct kvmem_client_info {
	__u32 id;
	__u32 pid;
	__u32 spaces;
	__u32 flags;
	__u64 frames;
	__u64 faults;
	__u64 migrated;
	__u64 reserved[2];
};

#define KVMEM_CLIENT_MANAGER	(1U << 0)

/**
 * struct kvmem_list - KVMEM_IOC_LIST_SPACES and KVMEM_IOC_LIST_CLIENTS
 * @cursor: in: smallest id to report; out: where the next call starts,
 *	or 0 when everything from @cursor on was reported
 * @max: in: entries the arrays hold, 1 .. KVMEM_LIST_MAX
 * @count: out: entries written
 * @entries: in: user pointer to @max struct kvmem_space_info or
 *	struct kvmem_client_info
 * @pools: in: 0, or a user pointer to per-pool counts: for LIST_SPACES
 *	@max * 2 * npools __u64 (entry i's pages per pool at [2 * i * npools],
 *	then its clean copies per pool); for LIST_CLIENTS @max * npools __u64
 *	(entry i's frames per pool at [i * npools])
 * @flags: in: zero
 * @pad: in: zero
 * @reserved: in: zero
 * @npools: (version 2) in: pool columns per entry that @pools holds, up
 *	to KVMEM_LIST_NPOOLS_MAX (the kernel fails with -EOVERFLOW, writing
 *	nothing, if the module has more pools; out: the module's npools
 *	then); columns past the module's pools are zeroed; 0 with @pools 0
 * @entry_size: (version 2) in: bytes per entry of @entries, at least the
 *	version-1 entry size, a multiple of 8, at most KVMEM_LIST_ENTRY_MAX;
 *	the kernel fills what it knows and zeroes the rest. 0 means the
 *	version-1 size.
 *
 * A version-1 caller (56 bytes) that passes @pools gets -EOVERFLOW unless
 * the module has exactly the pools it had when the caller last asked
 * KVMEM_IOC_GET_INFO; see Documentation/ioctl.md.
 */
struct kvmem_list {
	__u64 cursor;
	__u32 max;
	__u32 count;
	__u64 entries;
	__u64 pools;
	__u32 flags;
	__u32 pad;
	__u64 reserved[2];
	__u32 npools;
	__u32 entry_size;
};

#define KVMEM_LIST_MAX		1024
/* kvmem_list.entry_size bound, and .npools bound (pool columns) */
#define KVMEM_LIST_ENTRY_MAX	512
#define KVMEM_LIST_NPOOLS_MAX	64

/* kvmem_tenant_set.flags */
#define KVMEM_TENANT_SET_WEIGHT	(1U << 0)
#define KVMEM_TENANT_SET_QUOTA	(1U << 1)

/**
 * struct kvmem_tenant_set - KVMEM_IOC_TENANT_SET input (manager only)
 * @tenant: the tenant
 * @flags: KVMEM_TENANT_SET_* bits naming what to set; at least one
 * @weight: with KVMEM_TENANT_SET_WEIGHT: 1 .. 10000
 * @pad: zero
 * @quota: with KVMEM_TENANT_SET_QUOTA: frames per tier, ~0ULL for none
 * @reserved: zero
 */
struct kvmem_tenant_set {
	__u32 tenant;
	__u32 flags;
	__u32 weight;
	__u32 pad;
	__u64 quota[KVMEM_NR_TIERS];
	__u64 reserved[2];
};

/* Largest kvmem_device_pool.frame_size and .frames. */
#define KVMEM_DEVICE_FRAME_SIZE_MAX	(1ULL << 30)
#define KVMEM_DEVICE_FRAMES_MAX		0xffffffffULL

/**
 * struct kvmem_device_pool - KVMEM_IOC_DEVICE_POOL_ADD input and output
 * @device: in: the device's id, the registrar's choice (such as the CUDA
 *	ordinal, or PCI domain << 16 | bus << 8 | devfn); reported back as is
 * @flags: in: zero
 * @frame_size: in: bytes per frame, a power of two from the CPU page size
 *	to KVMEM_DEVICE_FRAME_SIZE_MAX
 * @frames: in: frames the pool has, 1 .. KVMEM_DEVICE_FRAMES_MAX
 * @tier: in: KVMEM_TIER_*, normally KVMEM_TIER_HBM
 * @pad: in: zero
 * @reserved: in: zero
 * @index: out: the new pool's index
 * @pad2: in: zero
 *
 * Registers the memory of a device (a discrete GPU's HBM, which user
 * space allocates itself) as a pool whose frames kvmem hands out and
 * accounts, and owns none of. Needs the manager's privilege.
 */
struct kvmem_device_pool {
	__u32 device;
	__u32 flags;
	__u64 frame_size;
	__u64 frames;
	__u32 tier;
	__u32 pad;
	__u64 reserved[4];
	__u32 index;
	__u32 pad2;
};

/**
 * struct kvmem_device_pool_remove - KVMEM_IOC_DEVICE_POOL_REMOVE input
 * @index: the device pool
 * @flags: zero
 * @reserved: zero
 */
struct kvmem_device_pool_remove {
	__u32 index;
	__u32 flags;
	__u64 reserved[2];
};

/* Run states (kvmem_run.state), set by the manager; a new space is RUNNABLE. */
#define KVMEM_RUN_RUNNABLE	0	/* may run (also: "may run again") */
#define KVMEM_RUN_PREEMPT	1	/* stop running it: being switched out to @tier */
#define KVMEM_RUN_PREFETCH	2	/* needed soon: bring it into @tier, not run yet */
#define KVMEM_NR_RUN_STATES	3

/**
 * struct kvmem_run - KVMEM_IOC_SPACE_RUN input (manager only)
 * @id: the space's id (as in LIST_SPACES)
 * @flags: zero
 * @state: KVMEM_RUN_*
 * @tier: PREEMPT: the tier it is switched out to; PREFETCH and RUNNABLE:
 *	the tier it should be in to run (KVMEM_TIER_*)
 * @cookie: any value (the scheduler's decision id); comes back in the
 *	owner's KVMEM_EVENT_RUN and, for a device space, in the SWAP event
 * @reserved: zero
 *
 * Records the state in the space and sends the owning client one
 * KVMEM_EVENT_RUN. Host spaces the manager then moves itself (MIGRATE);
 * a device space's owner moves it and reports with KVMEM_IOC_SWAP.
 */
struct kvmem_run {
	__u32 id;
	__u32 flags;
	__u32 state;
	__u32 tier;
	__u64 cookie;
	__u64 reserved[2];
};

/* kvmem_swap.op */
#define KVMEM_SWAP_BEGIN	0	/* a swap of the range starts */
#define KVMEM_SWAP_COMMIT	1	/* the copy is complete: the target holds it */
#define KVMEM_SWAP_ABORT	2	/* the swap ends, the source keeps it */
#define KVMEM_NR_SWAP_OPS	3

/* kvmem_swap.flags (BEGIN only) */
#define KVMEM_SWAP_OUT		(1U << 0)	/* device -> host; else host -> device */

/**
 * struct kvmem_swap - KVMEM_IOC_SWAP input (the owner of a device space)
 * @handle: the device space (KVMEM_SPACE_DEVICE) in the caller's file
 * @op: KVMEM_SWAP_BEGIN, _COMMIT or _ABORT; one swap at a time per space
 * @flags: BEGIN: KVMEM_SWAP_OUT (device -> host) or 0 (host -> device,
 *	a swap-in: BEGIN takes device frames for the range); else zero
 * @host: BEGIN: handle of a host (node) space of the caller's file that
 *	holds, or will hold, the range's bytes; else zero
 * @first: BEGIN: first page of the device range; else zero
 * @count: BEGIN: pages of the device range; else zero
 * @host_offset: BEGIN: byte offset in @host of the range's copy, a
 *	multiple of the host page size; the range's bytes must fit; else zero
 * @cookie: BEGIN: any value (the RUN cookie); comes back in the manager's
 *	KVMEM_EVENT_SWAP; else zero
 * @bytes: COMMIT: bytes the owner copied (for the event); else zero
 * @reserved: zero
 *
 * The source is authoritative until COMMIT: a swap-out's device frames
 * stay granted until COMMIT gives them back; a swap-in's frames, taken at
 * BEGIN, are given back by ABORT. Destroying the device space or closing
 * its file aborts; a COMMIT after @host was destroyed aborts (-ESTALE).
 */
struct kvmem_swap {
	__u32 handle;
	__u32 op;
	__u32 flags;
	__u32 host;
	__u64 first;
	__u64 count;
	__u64 host_offset;
	__u64 cookie;
	__u64 bytes;
	__u64 reserved[2];
};

#define KVMEM_MIGRATE_SIZE_VER1		80
#define KVMEM_MANAGER_SIZE_VER1		24
#define KVMEM_LIST_SIZE_VER1		56
#define KVMEM_TENANT_SET_SIZE_VER1	56
#define KVMEM_SPACE_SET_SIZE_VER1	40
#define KVMEM_DEVICE_POOL_SIZE_VER1	72
#define KVMEM_DEVICE_POOL_REMOVE_SIZE_VER1	24
#define KVMEM_SPACE_SET_SIZE_VER2	48
#define KVMEM_LIST_SIZE_VER2		64
#define KVMEM_SPACE_INFO_SIZE_VER1	72
#define KVMEM_SPACE_INFO_SIZE_VER2	96
#define KVMEM_RUN_SIZE_VER1		40
#define KVMEM_CLIENT_INFO_SIZE_VER1	56
#define KVMEM_SWAP_SIZE_VER1		72

#define KVMEM_IOC_MAGIC		0xC7

#define KVMEM_IOC_GET_INFO	_IOR(KVMEM_IOC_MAGIC, 0x00, struct kvmem_info)
#define KVMEM_IOC_POOL_QUERY	_IOWR(KVMEM_IOC_MAGIC, 0x01, struct kvmem_pool_info)
#define KVMEM_IOC_SPACE_CREATE	_IOWR(KVMEM_IOC_MAGIC, 0x02, struct kvmem_space_create)
#define KVMEM_IOC_SPACE_DESTROY	_IOW(KVMEM_IOC_MAGIC, 0x03, struct kvmem_space_destroy)
#define KVMEM_IOC_POPULATE	_IOWR(KVMEM_IOC_MAGIC, 0x04, struct kvmem_range)
#define KVMEM_IOC_RELEASE	_IOWR(KVMEM_IOC_MAGIC, 0x05, struct kvmem_range)
#define KVMEM_IOC_QUERY		_IOWR(KVMEM_IOC_MAGIC, 0x06, struct kvmem_query)
#define KVMEM_IOC_MIGRATE	_IOWR(KVMEM_IOC_MAGIC, 0x07, struct kvmem_migrate)
#define KVMEM_IOC_SPACE_SET	_IOW(KVMEM_IOC_MAGIC, 0x08, struct kvmem_space_set)
#define KVMEM_IOC_MANAGER	_IOW(KVMEM_IOC_MAGIC, 0x09, struct kvmem_manager)
#define KVMEM_IOC_LIST_SPACES	_IOWR(KVMEM_IOC_MAGIC, 0x0a, struct kvmem_list)
#define KVMEM_IOC_LIST_CLIENTS	_IOWR(KVMEM_IOC_MAGIC, 0x0b, struct kvmem_list)
#define KVMEM_IOC_TENANT_SET	_IOW(KVMEM_IOC_MAGIC, 0x0c, struct kvmem_tenant_set)
#define KVMEM_IOC_DEVICE_POOL_ADD	_IOWR(KVMEM_IOC_MAGIC, 0x0d, struct kvmem_device_pool)
#define KVMEM_IOC_DEVICE_POOL_REMOVE	_IOW(KVMEM_IOC_MAGIC, 0x0e, struct kvmem_device_pool_remove)
#define KVMEM_IOC_SPACE_RUN	_IOW(KVMEM_IOC_MAGIC, 0x0f, struct kvmem_run)
#define KVMEM_IOC_SWAP		_IOW(KVMEM_IOC_MAGIC, 0x10, struct kvmem_swap)

#endif /* _UAPI_LINUX_KVMEM_H */
