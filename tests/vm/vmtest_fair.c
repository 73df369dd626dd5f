// SPDX-License-Identifier: GPL-2.0
/*
 * kvmemd end to end: three tenants with weights 1:2:4 served by two
 * separate engine processes (one serves two tenants, one context each), on
 * a DRAM tier shrunk so that about one sequence fits; the engines are
 * fair_load.c's (shared with make bench). kvmemd (the real daemon, the
 * manager) preempts and migrates; every token of a sequence is checked
 * each time it may run again. The runs: kvmemd throughout, killed and
 * restarted, an engine killed, an engine that ignores directives, and no
 * daemon at all with engines that swap by themselves (the bench's
 * baseline). Each reports Jain's index over weighted service, progress per
 * window, switches and bytes checked.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "accel.h"
#include "fair_load.h"
#include "vmtest.h"

#define FAIR_BIN	"/bin/kvmemd"
#define FAIR_SOCK	"/tmp/kvmemd-fair.sock"
#define FAIR_RUN_MS	24000
#define FAIR_FAST	24		/* frames of the fast (DRAM) pool */

#define FAIR_QUOTA	16		/* ignore mode: tenant 23's DRAM quota */

enum fair_test {
	FAIR_ON,		/* kvmemd runs throughout */
	FAIR_RESTART,		/* kvmemd killed (-9), started again */
	FAIR_KILL_ENGINE,	/* the engine of tenant 23 killed (-9) */
	FAIR_IGNORE_T23,	/* tenant 23's engine ignores may_run */
	FAIR_NO_DAEMON,		/* engines preempt by themselves */
};

/*
 * One run. restart: kill -9 kvmemd a third of the way in, start it again
 * at half way: the engines keep running (nothing lost, no error) and the
 * new daemon switches again.
 */
static void fair_run(enum fair_test mode)
{
	bool restart = mode == FAIR_RESTART;
	bool daemon = mode != FAIR_NO_DAEMON;
	enum fair_mode em = daemon ? FAIR_FOLLOW : FAIR_LOCAL;
	int run_ms = daemon ? FAIR_RUN_MS : FAIR_RUN_MS / 3;
	const char *conf = "/tmp/kvmemd-fair.conf";
	char quota0[32] = "";
	uint64_t maxq = 0;
	bool killed = false;
	FILE *f;
	struct fair_shared *sh;
	struct kv_reserves rs = { 0 };
	struct kv_snap s0;
	struct kv_env env;
	pid_t d = -1, eng[2];
	uint64_t switches = 0, checked = 0, at_restart = 0;
	int phase = 0;
	double j;
	int fd;

	snap_take(&s0);
	if (daemon && !CHECK(access(FAIR_BIN, X_OK) == 0, "%s is in the guest",
			     FAIR_BIN))
		return;
	if (!kv_setup(&fd, &env, true))
		return;
	close(fd);
	if (!reserve_set(&rs, env.P, FAIR_FAST))
		goto out_rs;
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (!CHECK(sh != MAP_FAILED, "shared counters"))
		goto out_rs;
	memset(sh, 0, sizeof(*sh));
	sh->win_ms = run_ms / 4;
	sh->nwin = 4;
	mkdir("/tmp", 01777);
	f = fopen(conf, "w");
	if (!CHECK(f != NULL, "write %s", conf))
		goto out_rs;
	if (mode == FAIR_IGNORE_T23)
		fprintf(f, "[tenant.23]\nquota_mib = %llu\n",
			U(FAIR_QUOTA * env.ps >> 20));
	fclose(f);
	tenant_read(FAIR_T0 + 2, "quota_dram", quota0, sizeof(quota0));
	quota0[strcspn(quota0, "\n")] = 0;
	if (daemon) {
		d = fair_kvmemd(FAIR_BIN, FAIR_SOCK, conf);
		sleep_ms(1000);
		CHECK(waitpid(d, NULL, WNOHANG) == 0, "kvmemd runs");
	}
	sh->t0 = now_ms();
	eng[0] = xfork();
	if (eng[0] == 0)
		fair_engine(sh, 0, 2, em);
	eng[1] = xfork();
	if (eng[1] == 0)
		fair_engine(sh, 2, 1, mode == FAIR_IGNORE_T23 ? FAIR_IGNORE : em);
	while (now_ms() - sh->t0 < run_ms) {
		double t = now_ms() - sh->t0;

		sleep_ms(100);
		if (restart && phase == 0 && t > FAIR_RUN_MS / 3) {
			kill(d, SIGKILL);
			xwait(d);
			vt_info("kvmemd killed (-9) at %.1f s", t / 1000);
			phase = 1;
		} else if (restart && phase == 1 && t > FAIR_RUN_MS / 2) {
			for (int i = 0; i < FAIR_NT; i++)
				at_restart += sh->preempts[i];
			d = fair_kvmemd(FAIR_BIN, FAIR_SOCK, conf);
			vt_info("kvmemd started again at %.1f s", t / 1000);
			phase = 2;
		}
		if (mode == FAIR_KILL_ENGINE && !killed &&
		    t > FAIR_RUN_MS / 3) {
			kill(eng[1], SIGKILL);
			xwait(eng[1]);
			vt_info("engine of tenant 23 killed (-9) at %.1f s",
				t / 1000);
			killed = true;
		}
		if (mode == FAIR_IGNORE_T23) {
			uint64_t q = tenant_u64(FAIR_T0 + 2, "frames_dram");

			if (q != UINT64_MAX && q > maxq)
				maxq = q;
		}
	}
	sh->stop = 1;
	for (int i = 0; i < (killed ? 1 : 2); i++) {
		int st = xwait_timeout(eng[i], 30000);

		CHECK(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
		      "engine %d exits 0 (status 0x%x)", i, st);
	}
	if (daemon) {
		kill(d, SIGTERM);
		xwait_timeout(d, 30000);
	}
	/* kvmemd set the weights in the module (TENANT_SET); put them back. */
	for (int i = 0; daemon && i < FAIR_NT; i++)
		CHECK_ERR(tenant_write(FAIR_T0 + i, "weight", "1"), 0,
			  "tenant %d weight back to 1", FAIR_T0 + i);
	if (mode == FAIR_IGNORE_T23)
		CHECK_ERR(tenant_write(FAIR_T0 + 2, "quota_dram", quota0), 0,
			  "tenant 23 quota_dram back to %s", quota0);
	unlink(conf);

	for (int i = 0; i < FAIR_NT; i++) {
		vt_info("tenant %d weight %u: %llu tokens, %llu preempted, "
			"%llu resumed, %llu turns, %llu bytes checked, %llu bad, %llu "
			"errors (last %d), windows %llu %llu %llu %llu",
			FAIR_T0 + i, fair_weight[i], U(sh->tokens[i]),
			U(sh->preempts[i]), U(sh->resumes[i]), U(sh->turns[i]),
			U(sh->checked[i]), U(sh->bad[i]), U(sh->errs[i]),
			sh->lasterr[i], U(sh->win[i][0]), U(sh->win[i][1]),
			U(sh->win[i][2]), U(sh->win[i][3]));
		switches += sh->preempts[i];
		checked += sh->checked[i];
		CHECK_EQ(sh->bad[i], 0, "tenant %d: no byte lost", FAIR_T0 + i);
		CHECK_EQ(sh->errs[i], 0, "tenant %d: no engine error",
			 FAIR_T0 + i);
		for (int w = 0; w < (killed && i == 2 ? 1 : (int)sh->nwin); w++)
			CHECK(sh->win[i][w] > 0, "tenant %d progressed in "
			      "window %d (%.1f s)", FAIR_T0 + i, w,
			      sh->win_ms / 1000.0);
	}
	j = fair_jain(sh->tokens);
	vt_info("jain_weighted %.4f over %d s, %llu switches, %llu bytes "
		"checked", j, run_ms / 1000, U(switches), U(checked));
	if (mode == FAIR_IGNORE_T23)
		CHECK(maxq <= FAIR_QUOTA, "tenant 23 ignoring directives "
		      "held at most %llu DRAM frames (quota %d)", U(maxq),
		      FAIR_QUOTA);
	if (mode == FAIR_IGNORE_T23 || mode == FAIR_KILL_ENGINE || !daemon)
		vt_info("jain (not asserted here) %.4f", j);
	else if (restart)
		CHECK(switches > at_restart + 10, "the restarted kvmemd "
		      "switches again (%llu after, %llu before)",
		      U(switches - at_restart), U(at_restart));
	else
		CHECK(j >= 0.95, "Jain's index over weighted service %.4f "
		      ">= 0.95", j);
	CHECK(switches >= (daemon ? 50 : 10), "switches happened (%llu)",
	      U(switches));
	munmap(sh, sizeof(*sh));
out_rs:
	reserve_undo(&rs);
	snap_back(&s0, 5000, "after the fair run");
}

void test_kvmemd_fair_weighted(void)
{
	fair_run(FAIR_ON);
}

void test_kvmemd_fair_restart(void)
{
	fair_run(FAIR_RESTART);
}

void test_kvmemd_fair_kill_engine(void)
{
	fair_run(FAIR_KILL_ENGINE);
}

void test_kvmemd_fair_ignore(void)
{
	fair_run(FAIR_IGNORE_T23);
}

/* make bench's baseline (engines preempting by themselves) loses nothing. */
void test_fair_no_daemon(void)
{
	fair_run(FAIR_NO_DAEMON);
}
