// SPDX-License-Identifier: GPL-2.0
/*
 * kvmem-vmtest: what the documentation tells a user to type works as it
 * says, against the real module. tools/doc-snippets.sh takes each snippet
 * out of its page at build time (run.sh must be given what it makes, as
 * tools/check.sh does):
 * - /bin/libaccel-minimal: Documentation/libaccel.md's minimal program,
 *   compiled with that page's pkg-config recipe against an installed
 *   libaccel (libaccel.so.1 from /usr/lib/kvmem, on LD_LIBRARY_PATH);
 * - /bin/admin-guide-fdinfo.sh: admin-guide.md's per-client memory
 *   one-liner, run by busybox sh and awk here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmtest.h"

#define MINIMAL_BIN	"/bin/libaccel-minimal"
#define FDINFO_SH	"/bin/admin-guide-fdinfo.sh"

/* The minimal program exits 0 on a module loaded as the test bed loads it
 * (reserve_mib=16), and gives back everything it took. */
void test_doc_libaccel_minimal(void)
{
	struct kv_snap s0;
	pid_t pid;

	snap_take(&s0);
	if (!CHECK(access(MINIMAL_BIN, X_OK) == 0, "%s is in the guest "
		   "(tools/doc-snippets.sh; give it to run.sh)", MINIMAL_BIN))
		return;
	pid = xfork();
	if (pid == 0) {
		execl(MINIMAL_BIN, "libaccel-minimal", (char *)NULL);
		_exit(127);
	}
	if (CHECK(pid > 0, "fork"))
		child_done(pid, 60000, "libaccel-minimal");
	snap_back(&s0, 5000, "after libaccel-minimal");
}

/* kvmem-client-id of our descriptor fd, 0 if not found. */
static unsigned long client_id(int fd)
{
	char path[64], line[128];
	unsigned long id = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "kvmem-client-id:\t%lu", &id) == 1)
			break;
	fclose(f);
	return id;
}

/*
 * One client, shared by this process and a forked child, with `pages`
 * pages of pool P written: the one-liner prints exactly its line, both
 * pids, the memory in P's tier. The shell's own descriptors (the one
 * that read /proc/PID/fdinfo while expanding the glob) are gone by the
 * time the files are read, as on any host.
 */
void test_doc_admin_fdinfo(void)
{
	enum { pages = 5 };
	struct kv_pipes pp;
	struct kv_space s;
	struct kv_env e;
	char want[160], out[1024] = "";
	unsigned long id;
	uint64_t kib[KVMEM_NR_TIERS] = { 0 };
	size_t n;
	pid_t child;
	FILE *p;
	char c;
	int fd;

	if (!CHECK(access(FDINFO_SH, R_OK) == 0, "%s is in the guest "
		   "(tools/doc-snippets.sh; give it to run.sh)", FDINFO_SH))
		return;
	if (!kv_setup_space(&fd, &e, &s, pages))
		return;
	for (int i = 0; i < pages; i++)
		s.map[(size_t)i * e.ps] = 1;
	id = client_id(fd);
	CHECK(id != 0, "kvmem-client-id of our own fdinfo");
	kib[e.pool[e.P].tier] = pages * e.ps / 1024;
	if (!CHECK(pipes_open(&pp), "pipes"))
		goto out;
	child = xfork();
	if (child == 0) {
		pipe_send(pp.c2p[1], 'r');
		pipe_recv(pp.p2c[0], &c, 30000);
		_exit(0);
	}
	if (!CHECK(child > 0, "fork") ||
	    !CHECK(pipe_recv(pp.c2p[0], &c, 5000), "child ready"))
		goto out_pipes;
	p = popen("sh " FDINFO_SH, "r");
	if (CHECK(p != NULL, "popen %s", FDINFO_SH)) {
		n = fread(out, 1, sizeof(out) - 1, p);
		out[n] = 0;
		CHECK(pclose(p) == 0, "%s exits 0", FDINFO_SH);
	}
	/* The pids in the order of /proc's names, which the shell sorts. */
	for (int swap = 0; swap < 2; swap++) {
		char a[16], b[16];

		snprintf(a, sizeof(a), "%d", (int)(swap ? child : getpid()));
		snprintf(b, sizeof(b), "%d", (int)(swap ? getpid() : child));
		if (strcmp(a, b) > 0)
			continue;
		snprintf(want, sizeof(want), "client %lu (pids %s %s): hbm "
			 "%llu dram %llu cxl %llu KiB\n", id, a, b,
			 (unsigned long long)kib[KVMEM_TIER_HBM],
			 (unsigned long long)kib[KVMEM_TIER_DRAM],
			 (unsigned long long)kib[KVMEM_TIER_CXL]);
	}
	CHECK(strcmp(out, want) == 0, "one-liner printed \"%s\", expected "
	      "\"%s\"", out, want);
	pipe_send(pp.p2c[1], 'x');
	child_done(child, 5000, "fd holder");
out_pipes:
	pipes_close(&pp);
out:
	kv_space_free(&s);
	close(fd);
}
