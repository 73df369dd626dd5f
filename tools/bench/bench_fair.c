// SPDX-License-Identifier: GPL-2.0
/*
 * Fairness benchmarks of kvmem-bench: tests/vm/fair_load.c's three tenants
 * (weights 1:2:4, two engine processes, every byte checked after each
 * resume) on a DRAM pool shrunk to FAIR_FAST frames, node 1 (cxl) the
 * slow tier. Rounds alternate: kvmemd deciding, then no daemon.
 *
 *  jain_weighted: Jain's index over weighted service (tokens / weight)
 *	with kvmemd, against jain_weighted_baseline: the same run with no
 *	daemon, each engine preempting by itself as vLLM does (a grow that
 *	finds no room swaps out the engine's newest sequence; swapped ones
 *	come back oldest first). Engines do not see each other, so weights
 *	across engines mean nothing to them. Limit 1 (service exactly in
 *	proportion to the weights).
 *  switch_wait_ratio: the time sequences waited for their swap-ins
 *	(kvmemd's resume_wait_s: from the later of the decision and the need
 *	to RUNNABLE), against the pure transfer time of the same bytes
 *	(resume_bytes) at the bandwidth the transfer path has alone, measured
 *	between the rounds: a lone MIGRATE of 8 MiB (a full sequence) from
 *	node 1 to node 0, nothing else running. What is above 1 is what
 *	switching costs beyond the copy: the victim's write-back when the
 *	fast tier is full, the daemon's reaction, queueing behind other
 *	switches. Limit 1 (prefetch can hide a transfer: then below 1). The
 *	engine's own reaction (its event thread) is not in it.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/kvmem.h>

#include "bench.h"
#include "fair_load.h"

#define FAIR_BIN	"/bin/kvmemd"
#define FAIR_SOCK	"/tmp/kvmemd-bench.sock"
#define FAIR_CONF	"/tmp/kvmemd-bench.conf"
/*
 * Sequences of up to 8 MiB (1 KiB a token, 8192 tokens), so that a switch
 * moves megabytes as on a GPU (where a sequence's KV is hundreds), and a
 * fast tier of 1.5 sequences.
 */
#define FAIR_HEADS	8
#define FAIR_FAST	"192"		/* frames of the fast (DRAM) pool */
#define FAIR_ROUND_MS	8000
#define FAIR_PAIRS	3
#define POOLS_SYSFS	"/sys/class/misc/kvmem/pools"

static int sysfs_write(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		r = -errno;
	close(fd);
	return r;
}

static long long sysfs_ll(const char *path)
{
	char buf[32] = "";
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 ? atoll(buf) : -1;
}

/* The index of the first pool of @tier, or -1. */
static int pool_of_tier(uint32_t tier)
{
	struct kvmem_info info;

	if (ioctl(kvmem_fd, KVMEM_IOC_GET_INFO, &info))
		return -1;
	for (uint32_t i = 0; i < info.npools; i++) {
		struct kvmem_pool_info p = { .index = i };

		if (!ioctl(kvmem_fd, KVMEM_IOC_POOL_QUERY, &p) &&
		    p.tier == tier)
			return (int)i;
	}
	return -1;
}

static void wait_exit0(pid_t pid, const char *what)
{
	int st;

	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
	    WEXITSTATUS(st)) {
		fprintf(stderr, "kvmem-bench: %s did not exit 0 (status 0x%x)\n",
			what, st);
		exit(1);
	}
}

/* kvmemd's status reply: swap-ins' bytes and the time they were waited. */
static int kvmemd_resumes(double *bytes, double *wait_s)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	char buf[4096];
	const char *b, *w;
	ssize_t n, got = 0;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", FAIR_SOCK);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) ||
	    write(fd, "{\"cmd\":\"status\"}\n", 17) != 17) {
		close(fd);
		return -EIO;
	}
	while (got < (ssize_t)sizeof(buf) - 1 &&
	       (n = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0) {
		got += n;
		if (memchr(buf, '\n', got))
			break;
	}
	close(fd);
	buf[got] = 0;
	printf("kvmemd: %s", buf);
	b = strstr(buf, "\"resume_bytes\":");
	w = strstr(buf, "\"resume_wait_s\":");
	if (!b || !w)
		return -EPROTO;
	*bytes = strtod(b + 15, NULL);
	*wait_s = strtod(w + 16, NULL);
	return 0;
}

/* One round; its Jain index. With kvmemd, also its swap-ins. */
static double fair_round(bool daemon, double *bytes, double *wait_s)
{
	struct fair_shared *sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
				      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	uint64_t sw = 0;
	pid_t d = -1, eng[2];
	double j;

	if (sh == MAP_FAILED)
		die("mmap shared counters");
	memset(sh, 0, sizeof(*sh));
	sh->win_ms = FAIR_ROUND_MS;
	sh->nwin = 1;
	sh->kv_heads = FAIR_HEADS;
	if (daemon) {
		d = fair_kvmemd(FAIR_BIN, FAIR_SOCK, FAIR_CONF);
		if (d < 0)
			die("fork kvmemd");
		usleep(1000 * 1000);
	}
	sh->t0 = fair_now_ms();
	for (int i = 0; i < 2; i++) {
		eng[i] = fork();
		if (eng[i] < 0)
			die("fork engine");
		if (eng[i] == 0)
			fair_engine(sh, i ? 2 : 0, i ? 1 : 2,
				    daemon ? FAIR_FOLLOW : FAIR_LOCAL);
	}
	usleep(FAIR_ROUND_MS * 1000);
	if (daemon && kvmemd_resumes(bytes, wait_s)) {
		fprintf(stderr, "kvmem-bench: kvmemd's status has no "
			"resume_bytes/resume_wait_s\n");
		exit(1);
	}
	sh->stop = 1;
	wait_exit0(eng[0], "engine 0");
	wait_exit0(eng[1], "engine 1");
	if (daemon) {
		kill(d, SIGTERM);
		wait_exit0(d, "kvmemd");
	}
	for (int i = 0; i < FAIR_NT; i++) {
		if (sh->bad[i] || sh->errs[i]) {
			fprintf(stderr, "kvmem-bench: fair round (%s): tenant "
				"%d lost %llu bytes, %llu errors (last %d)\n",
				daemon ? "kvmemd" : "no daemon", FAIR_T0 + i,
				(unsigned long long)sh->bad[i],
				(unsigned long long)sh->errs[i],
				sh->lasterr[i]);
			exit(1);
		}
		sw += sh->preempts[i];
	}
	j = fair_jain(sh->tokens);
	printf("fair round (%s): %llu %llu %llu tokens, %llu switches, "
	       "Jain %.4f\n", daemon ? "kvmemd" : "no daemon",
	       (unsigned long long)sh->tokens[0],
	       (unsigned long long)sh->tokens[1],
	       (unsigned long long)sh->tokens[2], (unsigned long long)sw, j);
	munmap(sh, sizeof(*sh));
	return j;
}

/*
 * Microseconds the transfer path alone takes to bring @len bytes from node
 * 1 (cxl) to node 0 (dram): a lone MIGRATE of a space that size, with
 * nothing else running (the median of ROUNDS).
 */
static double transfer_us(size_t len)
{
	uint64_t pages = len / page_size;
	struct kvmem_range rg = { .count = pages };
	struct kvmem_event ev;
	double t[ROUNDS];
	uint32_t h;
	char *p = kvmem_map(len, &h);

	rg.handle = h;
	if (ioctl(kvmem_fd, KVMEM_IOC_POPULATE, &rg))
		die("POPULATE");
	memset(p, 0x3c, len);
	for (int r = 0; r < ROUNDS; r++) {
		migrate(h, pages, KVMEM_TIER_CXL, 0, &ev);
		t[r] = migrate(h, pages, KVMEM_TIER_DRAM, 0, &ev);
	}
	kvmem_unmap(p, len, h);
	return median(t, ROUNDS);
}

void bench_fair(void)
{
	double jk[FAIR_PAIRS], jb[FAIR_PAIRS], wr[FAIR_PAIRS], one[FAIR_PAIRS];
	char path[128], was[32];
	size_t len = 8 * MIB;		/* a full sequence */
	int P = pool_of_tier(KVMEM_TIER_DRAM), f;
	long long reserve;

	if (access(FAIR_BIN, X_OK) || P < 0 || pool_of_tier(KVMEM_TIER_CXL) < 0) {
		printf("fair: skipped (needs %s, a dram and a cxl pool)\n",
		       FAIR_BIN);
		return;
	}
	snprintf(path, sizeof(path), POOLS_SYSFS "/pool%d/reserve", P);
	reserve = sysfs_ll(path);
	snprintf(was, sizeof(was), "%lld", reserve);
	if (reserve < 0 || sysfs_write(path, FAIR_FAST))
		die("shrink the dram pool's reserve");
	mkdir("/tmp", 01777);
	f = open(FAIR_CONF, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (f < 0)
		die("write " FAIR_CONF);
	close(f);
	for (int r = 0; r < FAIR_PAIRS; r++) {
		double bytes = 0, wait_s = 0, us;

		jk[r] = fair_round(true, &bytes, &wait_s);
		us = transfer_us(len);
		jb[r] = fair_round(false, NULL, NULL);
		/* The pure transfer of what the swap-ins moved. */
		one[r] = bytes / len * us / 1e6;
		wr[r] = one[r] > 0 ? wait_s / one[r] : 0;
		printf("fair round %d: swap-ins moved %.1f MiB, waited %.1f ms, "
		       "pure transfer %.1f ms (%.0f MiB/s)\n", r, bytes / MIB,
		       wait_s * 1e3, one[r] * 1e3, len / MIB / (us / 1e6));
	}
	unlink(FAIR_CONF);
	if (sysfs_write(path, was))
		die("put the dram pool's reserve back");
	/* kvmemd set the weights (TENANT_SET); put them back. */
	for (int i = 0; i < FAIR_NT; i++) {
		snprintf(path, sizeof(path),
			 "/sys/class/misc/kvmem/tenants/%d/weight", FAIR_T0 + i);
		sysfs_write(path, "1");
	}
	report_paired("jain_weighted", "index", jk, jb, FAIR_PAIRS,
		      "no daemon: engine-local FIFO preemption", 1.0,
		      "service in proportion to the weights", "higher", 0);
	/* The baseline on its own, under the name releases follow. */
	printf("BENCH-JSON {\"bench\":\"jain_weighted_baseline\","
	       "\"unit\":\"index\",\"value\":%.4f,\"what\":\"no daemon: "
	       "engine-local FIFO preemption\",\"limit\":1.0,"
	       "\"better\":\"higher\",\"rounds\":%d}\n",
	       median(jb, FAIR_PAIRS), FAIR_PAIRS);
	report_sized("switch_wait_ratio", "ratio", median(wr, FAIR_PAIRS),
		     "the pure transfer of the same bytes", 1.0, 1.0,
		     "the transfer itself (goal <= 1.1)", "lower", 8,
		     FAIR_PAIRS);
}
