/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kvmem-vmtest: in-VM tests of the kvmem module (/dev/kvmem).
 *
 * Shared declarations of the test files: checks and reporting, the device,
 * sysfs, module (un)loading, SIGBUS probes, data patterns and timing.
 * Each test is a function `void test_NAME(void)`; the table in vmtest.c
 * names them. A test reports every check it makes with CHECK*() and fails
 * when any check failed.
 */
#ifndef KVMEM_VMTEST_H
#define KVMEM_VMTEST_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <linux/kvmem.h>

#define KV_DEV		"/dev/kvmem"
#define KV_SYSFS	"/sys/class/misc/kvmem"
#define KV_MODNAME	"kvmem"
#define KV_KO_DEFAULT	"/kvmem.ko"
#define KV_PARAMS_DEFAULT "/kvmem.params"
#define KV_MAX_POOLS	16
#define MiB		(1024ULL * 1024ULL)
#define CPU_PAGE	4096ULL

/* A value as unsigned long long, for %llu / %llx. */
#define U(x)		((unsigned long long)(x))
/* Number of elements of an array. */
#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* ---------------------------------------------------------------- checks */

/* Failed checks of the current process (a forked child has its own). */
extern int vt_failures;

__attribute__((format(printf, 4, 5)))
bool vt_check(bool ok, const char *file, int line, const char *fmt, ...);
__attribute__((format(printf, 6, 7)))
bool vt_check_u64(uint64_t got, uint64_t exp, const char *file, int line,
		  bool eq, const char *fmt, ...);
__attribute__((format(printf, 5, 6)))
bool vt_check_err(int got, int exp, const char *file, int line,
		  const char *fmt, ...);
__attribute__((format(printf, 1, 2)))
void vt_info(const char *fmt, ...);

/* CHECK(cond, fmt, ...): report; returns cond. */
#define CHECK(c, ...)	vt_check(!!(c), __FILE__, __LINE__, __VA_ARGS__)
/* CHECK_EQ(got, expected, fmt, ...): u64 equality, prints both. */
#define CHECK_EQ(g, e, ...) \
	vt_check_u64((uint64_t)(g), (uint64_t)(e), __FILE__, __LINE__, true, \
		     __VA_ARGS__)
/* CHECK_NE(got, forbidden, fmt, ...) */
#define CHECK_NE(g, e, ...) \
	vt_check_u64((uint64_t)(g), (uint64_t)(e), __FILE__, __LINE__, false, \
		     __VA_ARGS__)
/* CHECK_ERR(got_errno, expected_errno, fmt, ...): 0 means success. */
#define CHECK_ERR(g, e, ...) \
	vt_check_err((g), (e), __FILE__, __LINE__, __VA_ARGS__)
#define INFO(...)	vt_info(__VA_ARGS__)

/* Name of an errno value ("EINVAL"), "0" for 0. */
const char *errname(int e);

/* ------------------------------------------------------------ the device */

/* Open /dev/kvmem (creating the node from sysfs if devtmpfs lacks it). */
int kv_open(void);
/* ioctl() returning 0 or the errno. */
int kv_ioctl(int fd, unsigned long cmd, void *arg);
int kv_info(int fd, struct kvmem_info *info);
int kv_pool_query(int fd, uint32_t index, struct kvmem_pool_info *pi);
/* Create a space; returns errno, fills *out. */
int kv_create(int fd, uint64_t size, uint32_t tier, uint32_t policy,
	      uint32_t timeout_ms, struct kvmem_space_create *out);
/* SPACE_CREATE (timeout_ms 0) that must give errno exp, reported as fmt;
 * a space made is destroyed again. Returns the errno. */
__attribute__((format(printf, 6, 7)))
int kv_create_expect(int fd, uint64_t size, uint32_t tier, uint32_t policy,
		     int exp, const char *fmt, ...);
int kv_destroy(int fd, uint32_t handle);
int kv_populate(int fd, uint32_t handle, uint64_t first, uint64_t count,
		uint64_t *done);
int kv_release(int fd, uint32_t handle, uint64_t first, uint64_t count,
	       uint64_t *done);
/* QUERY; res may be NULL. */
int kv_query(int fd, uint32_t handle, uint64_t first, uint64_t count,
	     struct kvmem_residency *res, uint64_t *resident);
/* Resident page count of a whole range, or UINT64_MAX on error. */
uint64_t kv_resident(int fd, uint32_t handle, uint64_t first, uint64_t count);
/* ioctl expecting errno `exp` (0: success); a call that must fail must
 * also leave the module state (kv_snap) as it was. Returns the errno got.
 * (vmtest_neg.c) */
__attribute__((format(printf, 5, 6)))
int neg_ioctl(int fd, unsigned long cmd, void *arg, int exp,
	      const char *fmt, ...);
/* mmap a space range MAP_SHARED RW; NULL and errno set on failure. */
void *kv_map(int fd, uint64_t offset, uint64_t len);

/* A space with its mapping, the usual fixture. */
struct kv_space {
	int fd;
	struct kvmem_space_create c;
	uint8_t *map;		/* NULL when not mapped */
	uint64_t size;
};
/* Create + mmap the whole space; returns false (and reports) on failure. */
bool kv_space_new(struct kv_space *s, int fd, uint64_t size, uint32_t tier,
		  uint32_t policy, uint32_t timeout_ms);
/* munmap (if mapped) + destroy; reports failures. A zeroed kv_space (or
 * one kv_space_new() failed to make) is nothing to free. */
void kv_space_free(struct kv_space *s);

/* ------------------------------------------------- migration, events */

/* Bytes of one event record. */
#define KV_EV_SIZE	sizeof(struct kvmem_event)
/* MIGRATE; returns the errno, *id (may be NULL) gets the id out. */
int kv_migrate(int fd, uint32_t handle, uint64_t first, uint64_t count,
	       uint32_t tier, uint32_t flags, uint64_t cookie, uint64_t *id);
/* poll() the file for up to timeout_ms (0: no wait); whether POLLIN. */
bool kv_event_ready(int fd, int timeout_ms);
/* Wait up to timeout_ms for an event, then read() exactly one; returns
 * 0, ETIMEDOUT, read()'s errno, or EIO for a read of another size. */
int kv_event_wait(int fd, struct kvmem_event *ev, int timeout_ms);
/* MIGRATE, then wait for the next event and check that it is this
 * request's MIGRATE event (id, cookie, handle). Silent when all is well;
 * reports what went wrong and returns false otherwise. */
bool kv_migrate_sync(int fd, uint32_t handle, uint64_t first, uint64_t count,
		     uint32_t tier, uint32_t flags, struct kvmem_event *ev);
/* What a MIGRATE event must say; a field set to KV_ANY is not checked. */
#define KV_ANY	UINT64_MAX
struct kv_evx {
	uint64_t seq, id, cookie, pages, copied, reused;
	int status;
	uint32_t handle;
};
/* Check each field of ev (type MIGRATE, pad 0 included), reporting each
 * under `what`; returns whether all matched. */
bool kv_event_is(const struct kvmem_event *ev, const struct kv_evx *x,
		 const char *what);
/* Pages of a range whose frame (copy false) or clean copy (copy true) is
 * in pool `pool` (KVMEM_POOL_NONE: absent / no copy); UINT64_MAX when
 * QUERY fails. */
uint64_t kv_count_in(int fd, uint32_t handle, uint64_t first, uint64_t count,
		     uint16_t pool, bool copy);

/* -------------------------------------------------------------- sysfs */

/* Read a whole small file into buf (trailing newline stripped); errno. */
int sysfs_read(const char *path, char *buf, size_t len);
/* Read an unsigned integer; UINT64_MAX if unreadable. */
uint64_t sysfs_u64(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Write a string (as given, no newline added); returns 0 or errno. */
int sysfs_write(const char *path, const char *val);

uint64_t kv_sys_spaces(void);
uint64_t kv_sys_clients(void);
/* Number of pools/pool<N> directories; -1 if none. */
int kv_sys_npools(void);
/* A value of this process's fdinfo of fd, by key; UINT64_MAX if absent. */
uint64_t kv_fdinfo_u64(int fd, const char *key);
uint64_t pool_u64(int pool, const char *attr);
/* sysfs frames_free of a pool. */
uint64_t pool_free(int pool);
/* Tier name of pool ("dram"...) into buf; errno. */
int pool_tier_str(int pool, char *buf, size_t len);
/* KVMEM_TIER_* of a tier name, -1 if unknown. */
int tier_from_name(const char *s);
const char *tier_name(uint32_t tier);
int pool_set_reserve(int pool, uint64_t frames);
int pool_set_tier(int pool, const char *name);
/* Attribute of tenants/<t>/: read (errno), as a number (UINT64_MAX if
 * unreadable or not a number, "max" included), write (errno). */
int tenant_read(uint32_t t, const char *attr, char *buf, size_t len);
uint64_t tenant_u64(uint32_t t, const char *attr);
int tenant_write(uint32_t t, const char *attr, const char *val);
/* Number of tenants/<id> directories; -1 if none. */
int kv_sys_ntenants(void);
/* Every tenant's quotas and weight must be the load-time defaults ("max",
 * 1): each that is not is reported under `what` and put back. Returns how
 * many were not. */
int tenants_restore(const char *what);

/* NUMA node MemFree in bytes (from /sys/devices/system/node). */
uint64_t node_memfree(int node);
/* true if the node has CPUs. */
bool node_has_cpus(int node);

/* State of the module as sysfs shows it. */
struct kv_pool_snap {
	uint64_t node, page_size, total, free, used, reserve;
	char tier[16];
};
struct kv_snap {
	bool loaded;
	int npools;
	uint64_t refcnt;	/* /sys/module/kvmem/refcnt */
	uint64_t spaces, clients;
	struct kv_pool_snap p[KV_MAX_POOLS];
};
void snap_take(struct kv_snap *s);
/* Compare two snapshots; reports each difference under `what`. */
bool snap_same(const struct kv_snap *a, const struct kv_snap *b,
	       const char *what);
/* Same, quietly. */
bool snap_equal(const struct kv_snap *a, const struct kv_snap *b);
/* Take a snapshot now and compare it with a: silent when equal, else every
 * difference is reported under `what`. Returns whether equal. */
bool snap_kept(const struct kv_snap *a, const char *what);
/* Poll for up to ms until the state equals a again (work that ends
 * asynchronously, like a file released by an exiting process); then
 * report as snap_same() does. */
bool snap_back(const struct kv_snap *a, int ms, const char *what);
/* Pool reserves changed by a test, and put back by reserve_undo(). */
struct kv_reserves {
	uint64_t old[KV_MAX_POOLS];
	bool changed[KV_MAX_POOLS];
};
/* Set pool's reserve to frames (reporting); the first change of a pool
 * records its old reserve in r. Returns whether it worked and the pool
 * now owns `frames` frames. */
bool reserve_set(struct kv_reserves *r, int pool, uint64_t frames);
/* Put back every reserve r changed; reports. */
void reserve_undo(struct kv_reserves *r);

/*
 * Pools for the tests: P is a DRAM pool (the preferred tier of most tests),
 * Q a pool of another tier. Found with POOL_QUERY.
 */
struct kv_env {
	struct kvmem_info info;
	uint64_t ps;			/* page size */
	int npools;
	struct kvmem_pool_info pool[KV_MAX_POOLS];
	int P, Q;			/* -1 if absent */
};
/* Fill env from fd; reports and returns false on failure. needQ: Q needed. */
bool kv_env(int fd, struct kv_env *e, bool needQ);
/* The usual start of a test: kv_open() + kv_env(). On failure (reported)
 * returns false with no file left open and *fd = -1. */
bool kv_setup(int *fd, struct kv_env *e, bool needQ);
/* kv_space_new() of `pages` pages of pool P's tier with policy FAIL. */
bool kv_space_fail(struct kv_space *s, int fd, const struct kv_env *e,
		   uint64_t pages);
/* kv_setup() + a mapped FAIL space of `pages` pages of pool P's tier. On
 * failure no file is left open and *s is zeroed. */
bool kv_setup_space(int *fd, struct kv_env *e, struct kv_space *s,
		    uint64_t pages);
/* Some pool other than pool `except` (-1: none) has tier `tier`. */
bool tier_has_pool(const struct kv_env *e, uint32_t tier, int except);

/* ----------------------------------------------------- module (un)load */

bool mod_loaded(void);
/* Default parameter string (from /kvmem.params, trimmed). */
const char *mod_default_params(void);
/* reserve_mib of the default parameters (64 if not given). */
uint64_t mod_default_reserve_mib(void);
/* delete_module(kvmem, O_NONBLOCK): 0 or errno. */
int mod_unload(void);
/* finit_module(/kvmem.ko, params): 0 or errno. */
int mod_load(const char *params);
/*
 * Make sure the module is loaded with the default parameters: if it is
 * loaded with others (we loaded it), unload and reload. `nondefault` says
 * whether the currently loaded instance has non-default parameters.
 * Returns true on success.
 */
bool mod_restore(bool nondefault);
/* Helpers of the tests that reload the module (vmtest_lifecycle.c). */
/* Unload, expecting success (retrying briefly if just released). */
bool unload_ok(const char *why);
/* Load with the default parameters + extra; returns errno. */
int load_with(const char *extra);
/* Unload, load with the default parameters + extra, open and look up the
 * pools; false (nothing left open) on failure. */
bool reload_with(const char *extra, int *fd, struct kv_env *e);
/* At the start of a test that unloads: a snapshot, module loaded and idle. */
bool mod_idle(struct kv_snap *s0);
/* At its end: loaded again with the default parameters, as at the start. */
void mod_back(const struct kv_snap *s0);

/* ---------------------------------------------------------- SIGBUS probe */

/* Install the SIGBUS/SIGSEGV handlers used by probe_*(). */
void probe_init(void);
/* Read one byte at p; returns 0 (ok, *out set), SIGBUS or SIGSEGV. */
int probe_read(const volatile uint8_t *p, uint8_t *out);
/* Write one byte at p; returns 0, SIGBUS or SIGSEGV. */
int probe_write(volatile uint8_t *p, uint8_t v);
/* Address reported by the last caught signal. */
extern void *volatile probe_addr;

/* ------------------------------------------------------- data patterns */

static inline uint64_t pat64(uint64_t seed, uint64_t i)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15ULL + i * 0xbf58476d1ce4e5b9ULL;

	x ^= x >> 31;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 29;
	return x | 1;	/* never zero: zero must mean "not written" */
}
/* Fill len bytes (multiple of 8) at p with the pattern of seed, word index
 * counted from base_word. */
void pat_fill(void *p, uint64_t len, uint64_t seed, uint64_t base_word);
/* Verify; returns the byte offset of the first mismatch or UINT64_MAX. */
uint64_t pat_check(const void *p, uint64_t len, uint64_t seed,
		   uint64_t base_word);
/* Offset of the first non-zero byte or UINT64_MAX. */
uint64_t zero_check(const void *p, uint64_t len);
/* Offset of the first byte != v or UINT64_MAX. */
uint64_t byte_check(const void *p, uint64_t len, uint8_t v);

/* ---------------------------------------------------- processes, time */

/* fork() after flushing stdio. */
pid_t xfork(void);
/* waitpid; returns the raw status, or -1. */
int xwait(pid_t pid);
/* Wait for a child with a timeout (ms); -1 on timeout (child killed and
 * reaped), else the raw status. */
int xwait_timeout(pid_t pid, int ms);
/* Check a child exited 0; reports. */
bool check_child_ok(int status, const char *what);
/* xwait_timeout() + check_child_ok(). */
bool child_done(pid_t pid, int timeout_ms, const char *what);
/* Sleep ms, then check that the child is still running (waiting): `what`. */
bool child_waits(pid_t pid, int ms, const char *what);
/* Monotonic time in ms. */
double now_ms(void);
void sleep_ms(int ms);
/* Read/write one byte over a pipe (synchronisation); true on success. */
bool pipe_send(int fd, char c);
bool pipe_recv(int fd, char *c, int timeout_ms);
/* A pipe each way between a parent and its child. */
struct kv_pipes {
	int c2p[2];	/* child to parent */
	int p2c[2];	/* parent to child */
};
/* Make both pipes; reports and returns false on failure (none left open). */
bool pipes_open(struct kv_pipes *p);
void pipes_close(struct kv_pipes *p);

/* kvmemd in the guest (vmtest_kvmemd.c): started on @sock with metrics
 * off; one control request and its reply line; waits until it answers. */
pid_t kvmemd_start(const char *sock);
bool kvmemd_ask(const char *sock, const char *req, char *buf, size_t len);
bool kvmemd_ready(pid_t pid, const char *sock, char *buf, size_t len);

/* ------------------------------------------------------------- tests */

struct vt_test {
	const char *name;
	void (*fn)(void);
	const char *what;
};

#define T(name) void test_##name(void)
/* vmtest_ioctl.c */
T(ioctl_get_info); T(ioctl_pool_query); T(ioctl_space_create_destroy);
T(ioctl_populate); T(ioctl_release); T(ioctl_query); T(clients_count);
T(close_frees_all);
/* vmtest_neg.c */
T(neg_common); T(neg_struct_size); T(neg_efault); T(neg_pool_query);
T(neg_space_create); T(neg_space_destroy); T(neg_populate);
T(neg_release); T(neg_query); T(neg_mmap);
/* vmtest_mmap.c */
T(mmap_data); T(mmap_suboffset); T(isolation_fork);
T(isolation_same_process); T(zero_after_reuse); T(zero_after_release);
T(fork_shared); T(mremap_move); T(mremap_shrink_grow); T(munmap_partial);
T(destroy_mapped); T(destroy_mapped_child); T(close_mapped);
T(close_mapped_child); T(fault_race); T(gup_proc_mem); T(gup_pin_release);
/* vmtest_policy.c */
T(policy_fail); T(policy_fallback); T(policy_fallback_all_empty);
T(policy_fallback_from_cxl); T(policy_wait_timeout);
T(policy_wait_success); T(policy_wait_eintr); T(policy_wait_fault_kill);
T(policy_wait_release_same_space); T(policy_wait_destroy_waiter);
T(policy_wait_populate_undo); T(policy_wait_two_waiters);
T(policy_wait_fault_unlocked); T(policy_wait_populate_madvise);
T(policy_wait_inflight_after_wait);
/* vmtest_lifecycle.c */
T(unload_busy); T(modparam_page_size); T(modparam_bad); T(modparam_tiers);
T(sysfs_reserve); T(sysfs_reserve_in_use); T(sysfs_reserve_enomem);
T(sysfs_tier); T(sysfs_invalid); T(final_baseline);
/* vmtest_migrate.c */
T(migrate_basic); T(migrate_integrity); T(migrate_reuse); T(migrate_order);
T(migrate_enomem); T(migrate_destroy); T(migrate_kill); T(migrate_close);
T(migrate_contiguous);
T(accel_backend_host); T(accel_backend_cuda);
T(neg_migrate);
/* vmtest_accel.c */
T(accel_smoke); T(accel_grow); T(accel_step_ahead); T(accel_reuse);
T(accel_swap); T(accel_errors); T(accel_no_module); T(accel_close);
T(accel_example);
T(kvmemd_restart);
T(kvmemctl_module);
T(kvmemctl_daemon);
T(kvmemctl_top_tmux);
T(kvmemd_device_tier);
T(kvmemd_fair_weighted);
T(kvmemd_fair_restart);
T(kvmemd_fair_kill_engine);
T(kvmemd_fair_ignore);
T(fair_no_daemon);
/* vmtest_serve.c */
T(serve_policies);
/* vmtest_events.c */
T(events_read); T(events_overflow);
/* vmtest_tenant.c */
T(tenant_sysfs); T(tenant_bind); T(tenant_accounting); T(tenant_quota_policies);
T(tenant_quota_migrate); T(neg_space_set); T(modparam_tenants);
/* vmtest_manager.c */
T(manager_acquire); T(manager_list); T(manager_migrate_any);
T(manager_events); T(neg_manager);
/* vmtest_fdinfo.c */
T(fdinfo_format); T(fdinfo_accounting); T(fdinfo_fork);
/* vmtest_devpool.c */
T(devpool_register); T(devpool_grants); T(devpool_wait);
T(devpool_accounting); T(devpool_perm); T(neg_devpool);
/* vmtest_list.c */
T(list_overrun); T(neg_list_sized);
/* vmtest_memcg.c */
T(memcg_orphans); T(memcg_charge);
/* vmtest_limits.c */
T(space_cap);
/* vmtest_run.c */
T(run_state); T(run_demand); T(neg_space_run); T(run_accel);
T(run_manager_gone);
/* vmtest_swap.c */
T(swap_protocol); T(swap_kill); T(neg_swap);
/* vmtest_docs.c */
T(doc_libaccel_minimal); T(doc_admin_fdinfo);
/* vmtest_python.c */
T(python_pytest);
#undef T

#endif /* KVMEM_VMTEST_H */
