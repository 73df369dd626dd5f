// SPDX-License-Identifier: GPL-2.0
/*
 * kvmemctl (tools/kvmemctl/) against the real module, without kvmemd
 * (sysfs, fdinfo, the manager ioctls) and with it (its control socket).
 * run.sh must be given build/kvmemctl (tools/check.sh does); it is
 * dynamically linked and its libraries go into the guest.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmtest.h"

#define KVMEMCTL_BIN	"/bin/kvmemctl"
#define CTL_SOCK	"/tmp/kvmemctl-test.sock"
#define FAKE_PCI	"0000:7f:1f.7"
#define FAKE_PCI_ID	((0x7fU << 8) | (0x1fU << 3) | 7U)

static char out[1 << 17];

/*
 * Runs kvmemctl with the NULL-terminated arguments, its stdout and stderr
 * (a pipe: not a terminal) into out[]; returns its exit status, or -1.
 */
static int ctl(const char *arg, ...)
{
	const char *argv[32] = { "kvmemctl" };
	size_t n = 0;
	int argc = 1, p[2], st;
	va_list ap;
	pid_t pid;

	va_start(ap, arg);
	for (const char *a = arg; a && argc < 31; a = va_arg(ap, const char *))
		argv[argc++] = a;
	va_end(ap);
	argv[argc] = NULL;
	out[0] = 0;
	if (pipe(p))
		return -1;
	pid = xfork();
	if (pid == 0) {
		dup2(p[1], 1);
		dup2(p[1], 2);
		close(p[0]);
		close(p[1]);
		execv(KVMEMCTL_BIN, (char *const *)argv);
		_exit(127);
	}
	close(p[1]);
	for (;;) {
		ssize_t r = read(p[0], out + n, sizeof(out) - 1 - n);

		if (r <= 0 || (n += (size_t)r) >= sizeof(out) - 1)
			break;
	}
	out[n] = 0;
	close(p[0]);
	st = xwait_timeout(pid, 30000);
	if (st == -1 || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

/* out[] holds the pool exactly as sysfs shows it (pools --json's form). */
static bool shows_pool(int i)
{
	char want[512], tier[16] = "";
	bool device = pool_u64(i, "node") == UINT64_MAX;

	pool_tier_str(i, tier, sizeof(tier));
	if (device)
		snprintf(want, sizeof(want), "{\"index\":%d,\"kind\":\"device\","
			 "\"node\":null,\"device\":%llu,", i,
			 U(pool_u64(i, "device")));
	else
		snprintf(want, sizeof(want), "{\"index\":%d,\"kind\":\"node\","
			 "\"node\":%llu,\"device\":null,\"pci\":null,\"tier\":"
			 "\"%s\",\"page_size\":%llu,\"frames_total\":%llu,"
			 "\"frames_free\":%llu,\"frames_used\":%llu,"
			 "\"reserve\":%llu,", i, U(pool_u64(i, "node")), tier,
			 U(pool_u64(i, "page_size")), U(pool_u64(i, "frames_total")),
			 U(pool_u64(i, "frames_free")), U(pool_u64(i, "frames_used")),
			 U(pool_u64(i, "reserve")));
	return CHECK(strstr(out, want), "kvmemctl shows pool%d as sysfs: %s "
		     "in %.600s", i, want, out);
}

static bool has(const char *s)
{
	return strstr(out, s) != NULL;
}

/* The usage errors: exit 2, each with a message. */
static void usage_errors(void)
{
	/* The host test (kvmemctl_host.py) has them all; a few here. */
	static const char *const bad[][5] = {
		{ "status", "--bogus" }, { "top", "-n", "0" },
		{ "move", "1", "warp" },
		{ "tenant", "set", "3", "--weight", "0" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = ctl(bad[i][0], bad[i][1], bad[i][2], bad[i][3], bad[i][4],
			    NULL);

		CHECK(r == 2 && has("kvmemctl: "), "kvmemctl %s %s %s: exit 2 "
		      "with a message (exit %d: %.200s)", bad[i][0],
		      bad[i][1] ? bad[i][1] : "", bad[i][2] ? bad[i][2] : "", r,
		      out);
	}
	CHECK(ctl("status", "--help", NULL) == 0 && has("usage: kvmemctl status"),
	      "status --help: exit 0 (%.200s)", out);
}

void test_kvmemctl_module(void)
{
	struct kv_space a = { 0 };
	struct kv_snap s0;
	struct kv_env e;
	char arg[64], want[256], path[128];
	uint64_t id, reserve, devidx = UINT64_MAX;
	int fd, r;

	snap_take(&s0);
	if (!CHECK(access(KVMEMCTL_BIN, X_OK) == 0, "%s is in the guest (give "
		   "build/kvmemctl to run.sh)", KVMEMCTL_BIN))
		return;
	usage_errors();

	/* status, pools: the module's sysfs, nothing else. */
	r = ctl("status", "--json", "--no-daemon", NULL);
	CHECK(r == 0 && has("\"source\":{\"daemon\":null,\"module\":"
			    "\"/sys/class/misc/kvmem\"}") &&
	      has("\"daemon\":{\"running\":false}"),
	      "status --json --no-daemon: exit 0, source the module (%d: %.300s)",
	      r, out);
	r = ctl("pools", "--json", NULL);
	CHECK(r == 0, "pools --json: exit 0 (%d)", r);
	for (int i = 0; i < kv_sys_npools(); i++)
		shows_pool(i);
	r = ctl("status", NULL);
	CHECK(r == 0 && has("source: module (sysfs") && has("POOL") &&
	      has("TENANT") && has("CLIENT") && has("kvmemd: not running"),
	      "status (table): exit 0, says its source (%d: %.400s)", r, out);
	CHECK(ctl("--device", "/dev/nonexistent", "seqs", "--no-daemon",
		  NULL) == 1 && has("/dev/nonexistent"),
	      "seqs on a missing device: exit 1 naming it (%.200s)", out);

	/* tenants, tenant set: sysfs. */
	r = ctl("tenants", "--json", "--all", NULL);
	CHECK(r == 0 && has("{\"id\":3,\"weight\":1,\"quota\":{\"hbm\":null,"
			    "\"dram\":null,\"cxl\":null}"),
	      "tenants --json --all: tenant 3 at its defaults (%d: %.300s)", r,
	      out);
	r = ctl("tenant", "set", "3", "--weight", "7", "--quota", "dram=100",
		"--no-daemon", NULL);
	CHECK(r == 0 && tenant_u64(3, "weight") == 7 &&
	      tenant_u64(3, "quota_dram") == 100,
	      "tenant set 3 --weight 7 --quota dram=100: exit %d, sysfs weight "
	      "%llu quota_dram %llu (%.200s)", r, U(tenant_u64(3, "weight")),
	      U(tenant_u64(3, "quota_dram")), out);
	r = ctl("tenant", "set", "3", "--weight", "1", "--quota", "dram=max",
		NULL);
	CHECK(r == 0 && tenant_u64(3, "weight") == 1 &&
	      tenant_u64(3, "quota_dram") == UINT64_MAX,
	      "tenant 3 back to weight 1, no quota (exit %d)", r);
	snprintf(arg, sizeof(arg), "%d", kv_sys_ntenants());
	r = ctl("tenant", "set", arg, "--weight", "2", NULL);
	CHECK(r == 1 && has("no tenant"), "tenant set %s: exit 1, no such "
	      "tenant (%d: %.200s)", arg, r, out);

	/* pool resize: the reserve, and back. */
	if (!kv_setup_space(&fd, &e, &a, 8))
		return;
	reserve = pool_u64(e.P, "reserve");
	snprintf(path, sizeof(path), "pool%d", e.P);
	snprintf(arg, sizeof(arg), "%llu", U(reserve + 4));
	r = ctl("pool", "resize", path, "--frames", arg, NULL);
	CHECK(r == 0 && pool_u64(e.P, "reserve") == reserve + 4,
	      "pool resize %s --frames %s: exit %d, reserve %llu (%.200s)",
	      path, arg, r, U(pool_u64(e.P, "reserve")), out);
	snprintf(arg, sizeof(arg), "%llu", U(reserve));
	r = ctl("pool", "resize", path, "--frames", arg, NULL);
	CHECK(r == 0 && pool_u64(e.P, "reserve") == reserve,
	      "pool %s back to %s frames (exit %d)", path, arg, r);

	/* add-device: a PCI address this machine has not: ENODEV, unless
	 * forced with a size; then remove-device. */
	r = ctl("pool", "add-device", FAKE_PCI, "--mib", "64", NULL);
	CHECK(r == 1 && has("no PCI device " FAKE_PCI) &&
	      has(strerror(ENODEV)), "add-device %s (absent): exit 1, "
	      "ENODEV's message (%d: %.300s)", FAKE_PCI, r, out);
	r = ctl("pool", "add-device", FAKE_PCI, "--mib", "64", "--tier", "hbm",
		"--force", "--json", NULL);
	if (CHECK(r == 0 && sscanf(strstr(out, "\"index\":") ? strstr(out,
			"\"index\":") : "", "\"index\":%llu", (unsigned long long *)
			&devidx) == 1, "add-device --force --mib 64: exit 0 "
		  "with the pool's index (%d: %.300s)", r, out)) {
		char kind[16] = "";

		snprintf(path, sizeof(path), "/sys/class/misc/kvmem/pools/"
			 "pool%llu/kind", U(devidx));
		sysfs_read(path, kind, sizeof(kind));
		CHECK(!strcmp(kind, "device") &&
		      pool_u64((int)devidx, "frames_total") == 32 &&
		      pool_u64((int)devidx, "device") == FAKE_PCI_ID,
		      "pool%llu: a device pool of 32 frames, device %u (kind %s, "
		      "frames %llu, device %llu)", U(devidx), FAKE_PCI_ID, kind,
		      U(pool_u64((int)devidx, "frames_total")),
		      U(pool_u64((int)devidx, "device")));
		r = ctl("pools", "--json", NULL);
		CHECK(r == 0 && has("\"pci\":\"" FAKE_PCI "\",\"tier\":\"hbm\""),
		      "pools shows it (%.400s)", out);
		r = ctl("pool", "remove-device", FAKE_PCI, NULL);
		CHECK(r == 0 && access(path, F_OK) != 0,
		      "remove-device %s: exit %d, pool%llu gone (%.200s)",
		      FAKE_PCI, r, U(devidx), out);
	}

	/* seqs and move by the manager ioctls (no kvmemd). */
	memset(a.map, 0x42, a.size);
	id = a.c.mmap_offset >> KVMEM_SPACE_SHIFT;
	r = ctl("seqs", "--json", NULL);
	snprintf(want, sizeof(want), "{\"id\":%llu,\"client\":%llu,\"pid\":%d,",
		 U(id), U(kv_fdinfo_u64(fd, "kvmem-client-id")), (int)getpid());
	CHECK(r == 0 && has(want) && has("\"npages\":8,") &&
	      has("\"source\":{\"daemon\":null,"),
	      "seqs --json: space %llu with its owner %s (%d: %.400s)", U(id),
	      want, r, out);
	if (e.Q >= 0) {
		const char *qt = tier_name(e.pool[e.Q].tier);

		snprintf(arg, sizeof(arg), "%llu", U(id));
		r = ctl("move", arg, qt, NULL);
		CHECK(r == 0 && kv_count_in(fd, a.c.handle, 0, 8,
					    (uint16_t)e.Q, false) == 8,
		      "move %s %s: exit %d, 8 pages in pool%d (%.200s)", arg, qt,
		      r, e.Q, out);
		CHECK(byte_check(a.map, a.size, 0x42) == UINT64_MAX,
		      "the space's bytes survive the move");
	}
	/* top, not a terminal: -n frames, then exit 0. */
	r = ctl("top", "-n", "2", "-d", "0.1", NULL);
	CHECK(r == 0 && strstr(out, "source: ") &&
	      strstr(strstr(out, "source: ") + 1, "source: ") &&
	      has("TENANT") && has("kvmemd: not running"),
	      "top -n 2 (a pipe): two frames, exit 0 (%d: %.400s)", r, out);

	kv_space_free(&a);
	close(fd);
	snap_back(&s0, 5000, "after kvmemctl");
}

void test_kvmemctl_daemon(void)
{
	static char buf[1 << 16];
	struct kv_space a = { 0 };
	struct kv_snap s0;
	struct kv_env e;
	char arg[32], want[128];
	uint64_t id;
	pid_t pid;
	int fd, r, st;

	snap_take(&s0);
	if (!CHECK(access(KVMEMCTL_BIN, X_OK) == 0 &&
		   access("/bin/kvmemd", X_OK) == 0, "kvmemctl and kvmemd are "
		   "in the guest") || !kv_setup_space(&fd, &e, &a, 8))
		return;
	memset(a.map, 0x24, a.size);
	id = a.c.mmap_offset >> KVMEM_SPACE_SHIFT;
	mkdir("/tmp", 01777);
	pid = kvmemd_start(CTL_SOCK);
	if (!CHECK(pid > 0 && kvmemd_ready(pid, CTL_SOCK, buf, sizeof(buf)),
		   "kvmemd answers its control socket"))
		goto out_kill;

	r = ctl("status", "--json", "--socket", CTL_SOCK, NULL);
	CHECK(r == 0 && has("\"source\":{\"daemon\":\"" CTL_SOCK "\"") &&
	      has("\"running\":true") && has("\"fast_tier\":") &&
	      has("\"manager\":true"),
	      "status --json: kvmemd's state too (%d: %.400s)", r, out);
	/* seqs through kvmemd (the manager role is its). */
	r = ctl("seqs", "--json", "--socket", CTL_SOCK, NULL);
	snprintf(want, sizeof(want), "{\"id\":%llu,\"client\":%llu,\"pid\":%d,",
		 U(id), U(kv_fdinfo_u64(fd, "kvmem-client-id")), (int)getpid());
	CHECK(r == 0 && has("\"daemon\":\"" CTL_SOCK "\"") && has(want),
	      "seqs --json through kvmemd lists space %llu: %s (%d: %.400s)",
	      U(id), want, r, out);
	CHECK(ctl("seqs", "--no-daemon", NULL) == 1 && has("manager role"),
	      "seqs --no-daemon while kvmemd is the manager: exit 1, says "
	      "why (%.300s)", out);

	/* move through kvmemd, to its slow tier, paused (else its policy
	 * brings the space back at once: the fast tier has room). */
	snprintf(arg, sizeof(arg), "%llu", U(id));
	r = ctl("daemon", "pause", "--socket", CTL_SOCK, NULL);
	CHECK(r == 0 && kvmemd_ask(CTL_SOCK, "{\"cmd\":\"status\"}", buf,
				   sizeof(buf)) && strstr(buf, "\"paused\":true"),
	      "daemon pause (%d: %.200s)", r, buf);
	if (e.Q >= 0) {
		r = ctl("move", arg, "slow", "--socket", CTL_SOCK, NULL);
		CHECK(r == 0 && has("moved to kvmemd's slow tier") &&
		      kv_count_in(fd, a.c.handle, 0, 8, (uint16_t)e.Q,
				  false) == 8,
		      "move %s slow: exit %d, the pages in pool%d: %llu (%.300s)",
		      arg, r, e.Q, U(kv_count_in(fd, a.c.handle, 0, 8,
						 (uint16_t)e.Q, false)), out);
		CHECK(byte_check(a.map, a.size, 0x24) == UINT64_MAX,
		      "the space's bytes survive the move");
	}
	r = ctl("move", arg, "hbm", "--socket", CTL_SOCK, NULL);
	CHECK(r == 2 && has("fast tier"), "move to a tier kvmemd does not use: "
	      "exit 2 (%d: %.300s)", r, out);

	/* tenant set through kvmemd: the module's weight follows. */
	r = ctl("tenant", "set", "5", "--weight", "3", "--socket", CTL_SOCK,
		NULL);
	CHECK(r == 0 && has("via kvmemd") && tenant_u64(5, "weight") == 3,
	      "tenant set 5 --weight 3 via kvmemd: exit %d, sysfs weight %llu "
	      "(%.200s)", r, U(tenant_u64(5, "weight")), out);
	r = ctl("tenant", "set", "5", "--quota", "dram=10", "--socket",
		CTL_SOCK, NULL);
	CHECK(r == 1 && has("owns the tenants' quotas") &&
	      tenant_u64(5, "quota_dram") == UINT64_MAX,
	      "per-tier quota while kvmemd runs: refused (%d: %.200s)", r, out);
	r = ctl("tenant", "set", "5", "--weight", "1", "--socket", CTL_SOCK,
		NULL);
	CHECK(r == 0 && tenant_u64(5, "weight") == 1, "tenant 5 back to 1");

	/* top with kvmemd's counters (paused), resume. */
	r = ctl("top", "-n", "2", "-d", "0.1", "--socket", CTL_SOCK, NULL);
	CHECK(r == 0 && has("kvmemd: PAUSED"), "top shows kvmemd paused (%d: "
	      "%.600s)", r, out);
	r = ctl("daemon", "resume", "--socket", CTL_SOCK, NULL);
	CHECK(r == 0 && kvmemd_ask(CTL_SOCK, "{\"cmd\":\"status\"}", buf,
				   sizeof(buf)) && strstr(buf, "\"paused\":false"),
	      "daemon resume (%d: %.200s)", r, buf);
	kill(pid, SIGTERM);
	st = xwait_timeout(pid, 30000);
	CHECK(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "SIGTERM: kvmemd exits 0 (status 0x%x)", st);
	pid = 0;
	r = ctl("daemon", "status", "--socket", CTL_SOCK, NULL);
	CHECK(r == 1 && has("kvmemd is not running"), "daemon status with "
	      "kvmemd gone: exit 1, says so (%d: %.200s)", r, out);
out_kill:
	if (pid > 0) {
		kill(pid, SIGKILL);
		xwait(pid);
	}
	kv_space_free(&a);
	close(fd);
	snap_back(&s0, 5000, "after kvmemctl with kvmemd");
}

/*
 * top on a terminal, as a person sees it: in tmux (the host's, in the
 * --hostfs chroot), captured with capture-pane; q ends it.
 */
void test_kvmemctl_top_tmux(void)
{
	static const char script[] =
		"chroot /host /bin/sh -c 'export TERM=xterm HOME=/tmp; "
		"S=\"tmux -S /tmp/kvmemctl-tmux.sock\"; "
		"$S new-session -d -x 110 -y 30 \"/tmp/kvmemctl top -d 0.2 "
		"--socket /tmp/none.sock\" || exit 1; sleep 1; "
		"$S capture-pane -p; echo CAPTURED; $S send-keys q; "
		"for i in 1 2 3 4 5 6 7 8 9 10; do $S has-session 2>/dev/null "
		"|| { echo GONE; break; }; sleep 0.3; done; $S kill-server "
		"2>/dev/null; $S has-session 2>/dev/null && "
		"echo STILL-RUNNING' 2>&1";
	struct kv_snap s0;
	size_t n = 0;
	FILE *p;

	snap_take(&s0);
	if (!CHECK(access("/host/repo/tests", F_OK) == 0, "the host's root is "
		   "at /host (run.sh --hostfs)") ||
	    !CHECK(access("/host/usr/bin/tmux", X_OK) == 0, "the host has tmux"))
		return;
	/* tmux needs ptys: the chroot's /dev is a plain bind of /dev. */
	mkdir("/host/dev/pts", 0755);
	if (mount("devpts", "/host/dev/pts", "devpts", 0, "ptmxmode=0666") &&
	    errno != EBUSY) {
		CHECK(0, "mount devpts on /host/dev/pts: %s", strerror(errno));
		return;
	}
	/* tmux's server daemonizes: its orphans come back to this process. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	if (!CHECK(system("cp /bin/kvmemctl /host/tmp/kvmemctl") == 0,
		   "kvmemctl copied into the chroot"))
		goto out;
	p = popen(script, "r");
	if (!CHECK(p != NULL, "popen tmux"))
		goto out;
	out[0] = 0;
	while (n < sizeof(out) - 1) {
		size_t r = fread(out + n, 1, sizeof(out) - 1 - n, p);

		if (!r)
			break;
		n += r;
	}
	out[n] = 0;
	pclose(p);
	/* The tmux server (ours, as subreaper) went with its session. */
	for (int i = 0; i < 60; i++) {
		pid_t z = waitpid(-1, NULL, WNOHANG);

		if (z < 0 && errno == ECHILD)
			break;
		if (z <= 0)
			sleep_ms(50);
	}
	CHECK(has("CAPTURED") && has("source: module (sysfs)") &&
	      has("POOL") && has("TENANT") && has("kvmemd: not running") &&
	      has("q quits"), "tmux shows top's screen: pools, tenants, "
	      "kvmemd, the q hint (%.1500s)", out);
	CHECK(has("GONE") && !has("STILL-RUNNING"), "q ends kvmemctl top (and "
	      "its tmux session): %.200s", strstr(out, "CAPTURED") ?
	      strstr(out, "CAPTURED") : out);
out:
	umount("/host/dev/pts");
	snap_back(&s0, 5000, "after kvmemctl top in tmux");
}
