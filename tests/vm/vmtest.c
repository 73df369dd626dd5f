// SPDX-License-Identifier: GPL-2.0
/*
 * kvmem-vmtest: in-VM tests of the kvmem module.
 *
 *   kvmem-vmtest --list    print every test name, one per line
 *   kvmem-vmtest NAME      run one test; exit 0 on pass, 1 on failure
 *   kvmem-vmtest --help    this text, and what each test checks
 *
 * Runs as root in the test VM (tests/vm/init), with kvmem.ko loaded as
 * `insmod /kvmem.ko $(cat /kvmem.params)`. Environment overrides for other
 * setups: KVMEM_KO (module file, default /kvmem.ko) and KVMEM_PARAMS (file
 * with the default parameters, default /kvmem.params).
 *
 * Each test runs in a child process under a supervisor that:
 *  - snapshots the module's sysfs state before the test,
 *  - kills the test after a timeout, kills and reaps any process the test
 *    left behind (it is a child subreaper),
 *  - makes sure the module is loaded again, and puts back pool reserves and
 *    tiers, and tenants' quotas and weights, that the test changed (that is
 *    a failure of the test too),
 *  - fails the test if the state afterwards differs from the state before
 *    (spaces, clients, every pool's frames, reserve and tier).
 * So a test that fails half way still leaves the VM usable for the next one.
 */
#include <dirent.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmtest.h"

#define TEST_TIMEOUT_MS	120000
/* python_pytest's cold `import torch` alone takes 25-70 s under TCG. */
#define PY_TIMEOUT_MS	170000

static const struct vt_test tests[] = {
#define E(n, w) { #n, test_##n, w }
	E(ioctl_get_info, "GET_INFO fields, against sysfs"),
	E(ioctl_pool_query, "POOL_QUERY of every pool equals its sysfs"),
	E(ioctl_space_create_destroy, "SPACE_CREATE out fields, DESTROY, sysfs spaces"),
	E(ioctl_populate, "POPULATE: done, frames_free, residency, idempotence"),
	E(ioctl_release, "RELEASE: done, frames back, absent pages skipped"),
	E(ioctl_query, "QUERY with and without residency array"),
	E(clients_count, "sysfs clients follows open/dup/close"),
	E(close_frees_all, "closing a client frees all its spaces and frames"),
	E(neg_common, "ENOTTY for foreign commands, EFAULT for bad arg"),
	E(neg_struct_size, "short struct EINVAL, long struct E2BIG / ok"),
	E(neg_efault, "read-only argument: EFAULT and nothing leaked"),
	E(neg_pool_query, "POOL_QUERY: each bad field alone"),
	E(neg_space_create, "SPACE_CREATE: each bad field alone"),
	E(neg_space_destroy, "SPACE_DESTROY: each bad field alone"),
	E(neg_populate, "POPULATE: each bad field alone"),
	E(neg_release, "RELEASE: each bad field alone"),
	E(neg_query, "QUERY: each bad field alone"),
	E(neg_mmap, "mmap: MAP_PRIVATE, no space, past end"),
	E(mmap_data, "data through one, two and re-made mappings"),
	E(mmap_suboffset, "mapping at an offset inside a frame"),
	E(isolation_fork, "another file (forked child) cannot use a space"),
	E(isolation_same_process, "another file of the same process cannot"),
	E(zero_after_reuse, "frames are zero when another client gets them"),
	E(zero_after_release, "a released page reads zero again"),
	E(policy_fail, "FAIL: ENOMEM all-or-nothing, SIGBUS, no fallback"),
	E(policy_fallback, "FALLBACK: frames from the other tier"),
	E(policy_fallback_all_empty, "FALLBACK: ENOMEM/SIGBUS when all empty"),
	E(policy_fallback_from_cxl, "FALLBACK from the slowest tier goes up"),
	E(policy_wait_timeout, "WAIT: ETIMEDOUT / SIGBUS after timeout_ms"),
	E(policy_wait_success, "WAIT: populate and fault get freed frames"),
	E(policy_wait_eintr, "WAIT: a signal ends a populate wait (EINTR)"),
	E(policy_wait_fault_kill, "WAIT: a fatal signal ends a fault wait"),
	E(policy_wait_release_same_space, "WAIT: a waiter does not block "
	  "RELEASE of its space"),
	E(policy_wait_destroy_waiter, "WAIT: DESTROY ends a waiter at "
	  "once (fault, populate)"),
	E(policy_wait_populate_undo, "WAIT: a failed POPULATE unmaps what a "
	  "fault mapped meanwhile"),
	E(policy_wait_fault_unlocked, "WAIT: a waiting fault does not hold "
	  "mmap_lock; counted once"),
	E(policy_wait_populate_madvise, "WAIT: MADV_POPULATE_WRITE fails "
	  "after one wait, never loops"),
	E(policy_wait_inflight_after_wait, "WAIT: a locked fault that waited "
	  "never maps a page in flight"),
	E(policy_wait_two_waiters, "WAIT: two faults of one page share one "
	  "frame"),
	E(fork_shared, "fork: shared data, same client, exit frees nothing"),
	E(mremap_move, "mremap move keeps the data"),
	E(mremap_shrink_grow, "mremap shrink works, grow fails"),
	E(munmap_partial, "partial munmap keeps the rest and the data"),
	E(destroy_mapped, "DESTROY while mapped: SIGBUS, frames back"),
	E(destroy_mapped_child, "DESTROY while a child maps it: SIGBUS there"),
	E(close_mapped, "close while mapped: client lives until munmap"),
	E(close_mapped_child, "a child's mapping keeps a closed client"),
	E(fault_race, "concurrent first touches take one frame per page"),
	E(gup_proc_mem, "get_user_pages (/proc/self/mem) on a mapping"),
	E(gup_pin_release, "a pinned frame released is given to nobody"),
	E(unload_busy, "unload refused while open or mapped; frames freed"),
	E(modparam_page_size, "page_size=4096 and 2 MiB work"),
	E(modparam_bad, "bad page_size / tiers make insmod fail EINVAL"),
	E(modparam_tiers, "tiers= sets the pools' tiers"),
	E(sysfs_reserve, "reserve grow and shrink"),
	E(sysfs_reserve_in_use, "reserve shrink below frames in use"),
	E(sysfs_reserve_enomem, "reserve beyond the node: ENOMEM, partial"),
	E(sysfs_tier, "tier write changes POOL_QUERY and SPACE_CREATE"),
	E(sysfs_invalid, "invalid sysfs writes fail, change nothing"),
	E(migrate_basic, "MIGRATE: event (read, poll), residency, data, ids"),
	E(migrate_integrity, "MIGRATE back and forth under checksummed "
	  "concurrent access"),
	E(migrate_reuse, "KEEP_COPY: clean copies reused, written pages "
	  "copied, pinned pages left in place"),
	E(migrate_order, "queued migrations run and report in order"),
	E(migrate_enomem, "MIGRATE into a full tier: -ENOMEM, whole batches"),
	E(migrate_destroy, "DESTROY and RELEASE while migrations run"),
	E(migrate_kill, "SIGKILL of a migrating process frees everything"),
	E(migrate_close, "close/munmap with migrations queued frees "
	  "everything"),
	E(migrate_contiguous, "MIGRATE takes physically contiguous runs; a "
	  "fragmented target still works"),
	E(neg_migrate, "MIGRATE: each bad field alone, struct sizes"),
	E(accel_smoke, "libaccel: grow, swap out and in, reuse of the copy"),
	E(accel_grow, "libaccel: grow across page boundaries, both layouts: "
	  "return value, mapped tokens, strides, frames charged"),
	E(accel_step_ahead, "libaccel: 4 threads x 2 sequences; step-ahead "
	  "keeps grows from blocking, data intact"),
	E(accel_reuse, "libaccel: finished sequences reused (best fit), "
	  "trimmed, bounded, given back when a pool runs out"),
	E(accel_swap, "libaccel: swap round trips with checksums, "
	  "completions, accel_fd, incremental copies, EBUSY"),
	E(accel_errors, "libaccel: bad geometry, quota, timeout, not kvmem, "
	  "bad tenant or tier, no swap tier"),
	E(accel_no_module, "libaccel: accel_open without the module: "
	  "ENOENT"),
	E(accel_close, "libaccel: close with sequences live, kept, swapped "
	  "and swapping gives everything back"),
	E(accel_example, "tools/accel-example: attention over libaccel "
	  "tensors matches a naive one, before and after a swap"),
	E(kvmemd_restart, "kvmemd: manager, sees the spaces, kill -9 and "
	  "restart with the same view, second manager refused, SIGTERM"),
	E(kvmemd_device_tier, "kvmemd: a GPU registered makes it the fast "
	  "tier, device spaces scheduled, host ones not; GPU gone, back"),
	E(kvmemctl_module, "kvmemctl without kvmemd: status/pools/tenants "
	  "--json match sysfs, tenant set, pool resize, add-device and "
	  "remove-device, seqs and move by the manager ioctls, top, usage"),
	E(kvmemctl_daemon, "kvmemctl with kvmemd: status, seqs and move "
	  "through its socket, tenant set through kvmemd, pause/resume, top"),
	E(kvmemctl_top_tmux, "kvmemctl top in tmux (the host's, --hostfs): "
	  "the screen captured with capture-pane, q quits"),
	E(doc_libaccel_minimal, "Documentation/libaccel.md's minimal "
	  "program, built with its pkg-config recipe, runs"),
	E(doc_admin_fdinfo, "admin-guide.md's per-client memory one-liner "
	  "prints the client under busybox"),
	E(kvmemd_fair_weighted, "kvmemd: weights 1:2:4, two engine "
	  "processes, a small fast tier: Jain's index, no starvation, "
	  "every token checked after each resume"),
	E(kvmemd_fair_restart, "kvmemd: the fair run with kvmemd killed "
	  "(-9) and restarted: engines keep running, nothing lost"),
	E(kvmemd_fair_kill_engine, "kvmemd: the fair run with one engine "
	  "killed (-9): frames back, the survivors keep running"),
	E(kvmemd_fair_ignore, "kvmemd: an engine that ignores directives "
	  "stays within its tenant's fast-tier quota"),
	E(fair_no_daemon, "the fair run with no daemon, engines swapping "
	  "by themselves (make bench's baseline): nothing lost"),
	E(serve_policies, "kvmem-serve: one trace through the four "
	  "policies, one budget: identical output checksums"),
	E(accel_backend_host, "libaccel scenarios, host backend (ASan)"),
	E(accel_backend_cuda, "libaccel scenarios, cuda backend on the "
	  "strict Driver API emulation (ASan)"),
	E(events_read, "read(): sizes, EAGAIN, EINTR, EFAULT, several"),
	E(events_overflow, "event queue overflow is counted, never silent"),
	E(tenant_bind, "an unprivileged client charges only tenants granted "
	  "to it; priority_max"),
	E(tenant_sysfs, "tenants/<id>/: directories, defaults, valid and "
	  "invalid writes"),
	E(tenant_accounting, "frames per tier and pool, faults, bytes "
	  "migrated, per tenant"),
	E(tenant_quota_policies, "a quota used up meets FAIL, FALLBACK and "
	  "WAIT; raising and lowering it"),
	E(tenant_quota_migrate, "MIGRATE beyond the target tier's quota: "
	  "-ENOMEM, clean copies count"),
	E(neg_space_set, "SPACE_SET: each bad field alone, EBUSY, sizes, "
	  "valid calls"),
	E(modparam_tenants, "tenants= 1 and 4096 work, 0 and 4097 fail"),
	E(manager_acquire, "MANAGER: root, idempotent, EBUSY, released on "
	  "close, EPERM unprivileged, manager_gid"),
	E(manager_list, "LIST_SPACES/LIST_CLIENTS: exact fields, per-pool "
	  "counts, cursor walk, destroyed spaces gone"),
	E(manager_migrate_any, "MIGRATE BY_ID of another client's space; "
	  "EPERM, ENOENT; manager closed mid-migration"),
	E(manager_events, "SPACE_CREATED/DESTROYED, CLIENT_EXIT, FAULT_WAIT, "
	  "POOL_LOW (once, re-armed); none elsewhere"),
	E(neg_manager, "MANAGER, LIST_*, TENANT_SET: each bad field alone, "
	  "EPERM; low_watermark writes"),
	E(fdinfo_format, "fdinfo: kvmem keys, format, client id, who may "
	  "read it"),
	E(fdinfo_accounting, "fdinfo: frames, memory, faults, bytes "
	  "migrated per tier, exactly; files apart; LIST_CLIENTS, tenant"),
	E(fdinfo_fork, "fdinfo: a file shared by fork and dup shows one "
	  "client's numbers"),
	E(devpool_register, "DEVICE_POOL_ADD/REMOVE: POOL_QUERY, sysfs, "
	  "holes reused, outlives its registrar"),
	E(devpool_grants, "device spaces: POPULATE/RELEASE/DESTROY/close/"
	  "SIGKILL grants, FAIL, mmap and MIGRATE refused, EBUSY"),
	E(devpool_wait, "device spaces: WAIT times out, or is woken by "
	  "another process's RELEASE"),
	E(devpool_accounting, "device frames in the tenant's hbm quota, "
	  "sysfs, fdinfo, LIST_SPACES/LIST_CLIENTS"),
	E(devpool_perm, "DEVICE_POOL_ADD/REMOVE: EPERM unprivileged"),
	E(neg_devpool, "DEVICE_POOL_ADD/REMOVE, device SPACE_CREATE: each "
	  "bad field alone; ENOSPC"),
	E(list_overrun, "LIST_*: a version-1 caller with a pool added since "
	  "GET_INFO gets EOVERFLOW, nothing past its arrays"),
	E(neg_list_sized, "LIST_* version 2: each bad entry_size and npools, "
	  "EOVERFLOW with npools out, zeroed tails and columns"),
	E(run_state, "SPACE_RUN reaches the owner process's file only; "
	  "LIST_SPACES v2, fdinfo, sysfs counts"),
	E(run_demand, "SET_DEMAND: one DEMAND event per change to the "
	  "manager, LIST shows it"),
	E(neg_space_run, "SPACE_RUN, SET_DEMAND: each bad field alone, EPERM, "
	  "ENOENT, sizes"),
	E(run_accel, "SPACE_RUN reaches libaccel: accel_seq_may_run, "
	  "PREEMPTED/RUNNABLE completions; accel_seq_set_demand"),
	E(run_manager_gone, "a gone manager's run states stay for "
	  "manager_grace_ms, then every stopped space is RUNNABLE again"),
	E(swap_protocol, "SWAP: out/in, COMMIT/ABORT move device frames only "
	  "when the source may go; SWAPPING; SWAP events; stale host"),
	E(swap_kill, "SWAP: a SIGKILLed owner mid-swap, every frame back, "
	  "the manager told"),
	E(neg_swap, "SWAP: each bad field alone, ENOENT, EBUSY, EEXIST, "
	  "sizes"),
	E(memcg_orphans, "fault, vmsplice, RELEASE: orphans counted, never "
	  "replaced, ENOMEM at the pool's size, free again after"),
	E(memcg_charge, "a client in a memory cgroup: frames charged "
	  "(memory.current), orphans too, ENOMEM at memory.max"),
	E(space_cap, "max_spaces: EMFILE past the cap in one file, others "
	  "still create, DESTROY makes room"),
	E(python_pytest, "the Python binding's pytest suite (tests/python) "
	  "on the module, host's python3 in a chroot; torch on 6.12"),
	E(final_baseline, "module state is the load-time state"),
#undef E
};
#define NTESTS NELEM(tests)

/* ------------------------------------------------------------ reporting */

int vt_failures;
static pid_t vt_main_pid;

static void vprefix(void)
{
	if (vt_main_pid && getpid() != vt_main_pid)
		printf("[pid %d] ", (int)getpid());
}

void vt_info(const char *fmt, ...)
{
	va_list ap;

	printf("  ..   ");
	vprefix();
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static void report(bool ok, const char *file, int line, const char *extra,
		   const char *fmt, va_list ap)
{
	printf(ok ? "  ok   " : "  FAIL ");
	vprefix();
	vprintf(fmt, ap);
	if (extra)
		printf("%s", extra);
	if (!ok)
		printf("  [%s:%d]", file, line);
	printf("\n");
	fflush(stdout);
	if (!ok)
		vt_failures++;
}

bool vt_check(bool ok, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report(ok, file, line, NULL, fmt, ap);
	va_end(ap);
	return ok;
}

bool vt_check_u64(uint64_t got, uint64_t exp, const char *file, int line,
		  bool eq, const char *fmt, ...)
{
	char extra[160];
	bool ok = eq ? got == exp : got != exp;
	va_list ap;

	if (eq && ok && got == UINT64_MAX)
		snprintf(extra, sizeof(extra), ": none");
	else if (eq && ok)
		snprintf(extra, sizeof(extra), ": %llu",
			 (unsigned long long)got);
	else if (eq)
		snprintf(extra, sizeof(extra),
			 ": got %llu (0x%llx), expected %llu (0x%llx)",
			 (unsigned long long)got, (unsigned long long)got,
			 (unsigned long long)exp, (unsigned long long)exp);
	else
		snprintf(extra, sizeof(extra), ": got %llu, must not be %llu",
			 (unsigned long long)got, (unsigned long long)exp);
	va_start(ap, fmt);
	report(ok, file, line, extra, fmt, ap);
	va_end(ap);
	return ok;
}

bool vt_check_err(int got, int exp, const char *file, int line,
		  const char *fmt, ...)
{
	char extra[96];
	bool ok = got == exp;
	va_list ap;

	if (ok)
		snprintf(extra, sizeof(extra), ": %s",
			 exp ? errname(exp) : "success");
	else
		snprintf(extra, sizeof(extra), ": got %s, expected %s",
			 got ? errname(got) : "success",
			 exp ? errname(exp) : "success");
	va_start(ap, fmt);
	report(ok, file, line, extra, fmt, ap);
	va_end(ap);
	return ok;
}

const char *errname(int e)
{
	static char buf[32];

	switch (e) {
	case 0: return "0";
#define N(x) case x: return #x
	N(EPERM); N(ENOENT); N(ESRCH); N(EINTR); N(EIO); N(ENXIO); N(E2BIG);
	N(ENOEXEC); N(EBADF); N(ECHILD); N(EAGAIN); N(ENOMEM); N(EACCES);
	N(EFAULT); N(EBUSY); N(EEXIST); N(EXDEV); N(ENODEV); N(ENOTDIR);
	N(EISDIR); N(EINVAL); N(ENFILE); N(EMFILE); N(ENOTTY); N(EFBIG);
	N(ENOSPC); N(ESPIPE); N(EROFS); N(ERANGE); N(ENOSYS); N(EOVERFLOW);
	N(ETIMEDOUT); N(EOPNOTSUPP); N(ENOKEY); N(EKEYREJECTED);
	N(ERESTART); N(EBADMSG); N(EDOM);
#undef N
	case 512: return "ERESTARTSYS(512)";
	case 516: return "ERESTART_RESTARTBLOCK(516)";
	case 524: return "ENOTSUPP(524)";
	default:
		snprintf(buf, sizeof(buf), "errno %d", e);
		return buf;
	}
}

/* ------------------------------------------------------------ supervisor */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: kvmem-vmtest --list | NAME | --help\n"
		"  --list  print every test name, one per line\n"
		"  NAME    run one test (exit 0 pass, 1 fail)\n"
		"tests:\n");
	for (size_t i = 0; i < NTESTS; i++)
		fprintf(f, "  %-28s %s\n", tests[i].name, tests[i].what);
}

/* Kill and reap every child of ours (we are a subreaper); count them. */
static int reap_leftovers(void)
{
	int n = 0;

	for (int round = 0; round < 50; round++) {
		DIR *d = opendir("/proc");
		struct dirent *de;
		int found = 0;

		if (!d)
			break;
		while ((de = readdir(d))) {
			char path[64], buf[512], *p;
			FILE *f;
			int pid, ppid;

			pid = atoi(de->d_name);
			if (pid <= 0)
				continue;
			snprintf(path, sizeof(path), "/proc/%d/stat", pid);
			f = fopen(path, "r");
			if (!f)
				continue;
			if (!fgets(buf, sizeof(buf), f)) {
				fclose(f);
				continue;
			}
			fclose(f);
			p = strrchr(buf, ')');
			if (!p || sscanf(p + 2, "%*c %d", &ppid) != 1)
				continue;
			if (ppid != getpid())
				continue;
			found++;
			kill(pid, SIGKILL);
		}
		closedir(d);
		while (waitpid(-1, NULL, WNOHANG) > 0)
			n++;
		if (!found)
			break;
		sleep_ms(20);
	}
	while (waitpid(-1, NULL, WNOHANG) > 0)
		n++;
	return n;
}

/* After a test: put the module back as it was before; report changes. */
static bool restore_state(const struct kv_snap *pre)
{
	struct kv_snap post;
	bool ok = true;

	if (pre->loaded && !mod_loaded()) {
		ok = CHECK(0, "supervisor: the test left the module unloaded; "
			   "reloading it");
		if (mod_load(mod_default_params()))
			CHECK(0, "supervisor: reloading the module failed");
	}
	snap_take(&post);
	if (pre->loaded && post.loaded &&
	    (post.npools != pre->npools ||
	     (post.npools > 0 && post.p[0].page_size != pre->p[0].page_size))) {
		ok = CHECK(0, "supervisor: the module is loaded with other "
			   "parameters (npools %d->%d); reloading defaults",
			   pre->npools, post.npools);
		mod_restore(true);
		snap_take(&post);
	}
	if (!pre->loaded || !post.loaded || post.npools != pre->npools)
		return ok;
	if (tenants_restore("supervisor"))
		ok = false;
	for (int i = 0; i < pre->npools; i++) {
		if (strcmp(pre->p[i].tier, post.p[i].tier)) {
			ok = CHECK(0, "supervisor: pool%d tier left at '%s' "
				   "(was '%s'); restoring", i, post.p[i].tier,
				   pre->p[i].tier);
			pool_set_tier(i, pre->p[i].tier);
		}
		if (pre->p[i].reserve != post.p[i].reserve) {
			ok = CHECK(0, "supervisor: pool%d reserve left at %llu "
				   "(was %llu); restoring", i,
				   (unsigned long long)post.p[i].reserve,
				   (unsigned long long)pre->p[i].reserve);
			pool_set_reserve(i, pre->p[i].reserve);
		}
	}
	return ok;
}

static int run_test(const struct vt_test *t)
{
	struct kv_snap pre, post;
	int status, left;
	double t0 = now_ms();
	int limit_ms = strcmp(t->name, "python_pytest") ? TEST_TIMEOUT_MS :
		PY_TIMEOUT_MS;
	pid_t pid;
	bool ok = true;

	printf("== %s: %s\n", t->name, t->what);
	fflush(stdout);
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	snap_take(&pre);
	if (!pre.loaded)
		INFO("the module is not loaded at the start of the test");

	pid = xfork();
	if (pid < 0) {
		perror("fork");
		return 1;
	}
	if (pid == 0) {
		vt_main_pid = getpid();
		probe_init();
		t->fn();
		fflush(stdout);
		_exit(vt_failures ? 1 : 0);
	}
	status = xwait_timeout(pid, limit_ms);
	if (status == -1) {
		ok = CHECK(0, "test timed out after %d ms (killed)", limit_ms);
	} else if (WIFSIGNALED(status)) {
		ok = CHECK(0, "test process killed by signal %d (%s)",
			   WTERMSIG(status), strsignal(WTERMSIG(status)));
	} else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		ok = false;
	}
	left = reap_leftovers();
	if (left)
		ok = CHECK(0, "supervisor: the test left %d process(es) "
			   "behind (killed and reaped)", left);
	if (!restore_state(&pre))
		ok = false;
	snap_take(&post);
	if (pre.loaded && !snap_same(&pre, &post,
				     "supervisor: state after the test"))
		ok = CHECK(0, "supervisor: the test did not leave the module "
			   "as it found it");
	printf("== %s: %s (%.0f ms)\n", ok ? "PASS" : "FAIL", t->name,
	       now_ms() - t0);
	fflush(stdout);
	return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc != 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--list")) {
		for (size_t i = 0; i < NTESTS; i++)
			printf("%s\n", tests[i].name);
		return 0;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < NTESTS; i++)
		if (!strcmp(argv[1], tests[i].name))
			return run_test(&tests[i]);
	fprintf(stderr, "kvmem-vmtest: no test named '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
