// SPDX-License-Identifier: GPL-2.0
/*
 * kvmemd end to end: three tenants with weights 1:2:4 served by two
 * separate engine processes (one serves two tenants, one context each:
 * libaccel has no per-sequence tenant yet), on a DRAM tier shrunk so that
 * about one sequence fits. Each engine loop honours accel_seq_may_run(),
 * reports demand, grows its sequence and writes tokens with a pattern
 * that depends on (tenant, token), and checks every token of a sequence
 * each time it may run again after a preemption. kvmemd (the real daemon,
 * the manager) preempts and migrates. The test reports Jain's index over
 * weighted service, progress per window, switches and bytes checked.
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
#include "vmtest.h"

#define FAIR_BIN	"/bin/kvmemd"
#define FAIR_SOCK	"/tmp/kvmemd-fair.sock"
#define FAIR_NT		3
#define FAIR_T0		21		/* tenants 21, 22, 23 */
#define FAIR_RUN_MS	24000
#define FAIR_WIN_MS	6000		/* progress needed in every window */
#define FAIR_NWIN	(FAIR_RUN_MS / FAIR_WIN_MS)
#define FAIR_STEP	16		/* tokens a step */
#define FAIR_FAST	24		/* frames of the fast (DRAM) pool */

#define FAIR_QUOTA	16		/* ignore mode: tenant 23's DRAM quota */

static const uint32_t fair_weight[FAIR_NT] = { 1, 2, 4 };

enum fair_mode {
	FAIR_ON,		/* kvmemd runs throughout */
	FAIR_RESTART,		/* kvmemd killed (-9), started again */
	FAIR_KILL_ENGINE,	/* the engine of tenant 23 killed (-9) */
	FAIR_IGNORE,		/* tenant 23's engine ignores may_run */
};

/*
 * Per sequence, 128 bytes a token (512 a 64 KiB page), 16 pages at most:
 * under the fast tier (FAIR_FAST), which a sequence larger than it
 * would block (see the report); a full sequence ends its turn and a new
 * one starts (a new conversation).
 */
static const struct accel_geometry fair_geo = {
	.layers = 1, .kv_heads = 1, .head_dim = 32, .dtype = ACCEL_DTYPE_F16,
	.max_tokens = 512 * 16, .layout = ACCEL_LAYOUT_PER_SEQ,
};

struct fair_shared {
	volatile int stop;
	volatile int ready;
	uint64_t tokens[FAIR_NT];	/* service: tokens written */
	uint64_t win[FAIR_NT][FAIR_NWIN + 1];
	uint64_t preempts[FAIR_NT];
	uint64_t resumes[FAIR_NT];
	uint64_t checked[FAIR_NT];	/* bytes verified after resumes */
	uint64_t bad[FAIR_NT];		/* bytes found wrong */
	uint64_t errs[FAIR_NT];
	uint64_t turns[FAIR_NT];	/* sequences filled */
	int lasterr[FAIR_NT];
	double t0;
};

static uint64_t fair_word(uint32_t t, uint64_t token, uint64_t i)
{
	return ((uint64_t)t << 56) ^ (token * 0x9e3779b97f4a7c15ULL) ^ i;
}

struct fair_eng {
	struct accel_ctx *ctx;
	struct accel_seq *seq;
	uint8_t *base;
	uint64_t stride;
	uint32_t t;		/* index 0..2 */
	bool ran;		/* ran at the last look */
};

static void fair_write(struct fair_eng *e, uint64_t from, uint64_t to)
{
	for (uint64_t k = from; k < to; k++) {
		uint64_t *w = (uint64_t *)(e->base + k * e->stride);

		for (uint64_t i = 0; i < e->stride / 8; i++)
			w[i] = fair_word(e->t, k, i);
	}
}

static uint64_t fair_check(struct fair_eng *e, uint64_t n)
{
	uint64_t bad = 0;

	for (uint64_t k = 0; k < n; k++) {
		const uint64_t *w = (const uint64_t *)(e->base + k * e->stride);

		for (uint64_t i = 0; i < e->stride / 8; i++)
			if (w[i] != fair_word(e->t, k, i))
				bad += 8;
	}
	return bad;
}

static void fair_err(struct fair_shared *sh, uint32_t t, int err)
{
	__atomic_add_fetch(&sh->errs[t], 1, __ATOMIC_RELAXED);
	sh->lasterr[t] = err;
}

/* A new sequence for x (the old one, if any, destroyed). */
static int fair_seq(struct fair_eng *x)
{
	struct accel_tensor ten;
	int r;

	accel_seq_destroy(x->seq);
	x->seq = NULL;
	r = accel_seq_create(x->ctx, &fair_geo, NULL, &x->seq);
	if (!r)
		r = accel_seq_tensor(x->seq, 0, ACCEL_K, &ten);
	if (r)
		return r;
	x->base = (uint8_t *)(uintptr_t)ten.base;
	x->stride = ten.token_stride;
	return 0;
}

/* One engine process serving tenants [first, first + n). */
static void fair_engine(struct fair_shared *sh, uint32_t first, uint32_t n,
			bool ignore)
{
	struct fair_eng e[FAIR_NT];

	for (uint32_t i = 0; i < n; i++) {
		struct accel_open_opts o;

		accel_open_opts_init(&o);
		o.backend = ACCEL_BACKEND_HOST;
		o.tenant = FAIR_T0 + first + i;
		o.wait_ms = 200;
		o.flags = ACCEL_OPEN_NO_KEEP;
		e[i].t = first + i;
		e[i].ran = true;
		e[i].seq = NULL;
		if (accel_open(&o, &e[i].ctx) || fair_seq(&e[i]))
			_exit(2);
	}
	__atomic_add_fetch(&sh->ready, 1, __ATOMIC_SEQ_CST);
	while (!sh->stop) {
		for (uint32_t i = 0; i < n; i++) {
			struct fair_eng *x = &e[i];
			uint64_t have = accel_seq_tokens(x->seq), to;
			int r;

			if (!ignore && !accel_seq_may_run(x->seq)) {
				if (x->ran)
					sh->preempts[x->t]++;
				x->ran = false;
				accel_seq_set_demand(x->seq,
						     ACCEL_DEMAND_WAITING);
				continue;
			}
			if (!x->ran) {
				uint64_t bad = fair_check(x, have);

				sh->resumes[x->t]++;
				sh->checked[x->t] += have * x->stride;
				sh->bad[x->t] += bad;
				x->ran = true;
			}
			accel_seq_set_demand(x->seq, ACCEL_DEMAND_RUNNING);
			to = have + FAIR_STEP;
			if (to > fair_geo.max_tokens) {
				/* Full: check it, end the turn, start anew. */
				sh->checked[x->t] += have * x->stride;
				sh->bad[x->t] += fair_check(x, have);
				if (fair_seq(x))
					fair_err(sh, x->t, -EIO);
				sh->turns[x->t]++;
				continue;
			}
			r = accel_seq_grow(x->seq, to);
			if (r < 0) {
				if (r != -ETIMEDOUT && r != -ENOMEM &&
				    r != -EBUSY)
					fair_err(sh, x->t, r);
				accel_seq_set_demand(x->seq,
						     ACCEL_DEMAND_WAITING);
				continue;
			}
			fair_write(x, have, to);
			r = accel_seq_set_progress(x->seq, to);
			if (r)
				fair_err(sh, x->t, r);
			sh->tokens[x->t] += FAIR_STEP;
			{
				int w = (int)((now_ms() - sh->t0) / FAIR_WIN_MS);

				if (w >= 0 && w <= FAIR_NWIN)
					sh->win[x->t][w] += FAIR_STEP;
			}
		}
		sleep_ms(2);
	}
	/* A last check of everything, wherever it is now. */
	for (uint32_t i = 0; i < n; i++) {
		uint64_t have = accel_seq_tokens(e[i].seq);

		sh->checked[e[i].t] += have * e[i].stride;
		sh->bad[e[i].t] += fair_check(&e[i], have);
		accel_seq_destroy(e[i].seq);
		accel_close(e[i].ctx);
	}
	_exit(0);
}

static pid_t fair_kvmemd(const char *sock, const char *conf)
{
	pid_t pid = xfork();

	if (pid == 0) {
		execl(FAIR_BIN, "kvmemd", "-s", sock, "-m", "off", "-i", "10",
		      "--weight", "21=1", "--weight", "22=2", "--weight",
		      "23=4", "-c", conf, (char *)NULL);
		_exit(127);
	}
	return pid;
}

static double fair_jain(const uint64_t *tok)
{
	double s = 0, s2 = 0;

	for (int i = 0; i < FAIR_NT; i++) {
		double x = (double)tok[i] / fair_weight[i];

		s += x;
		s2 += x * x;
	}
	return s2 > 0 ? s * s / (FAIR_NT * s2) : 0;
}

/*
 * One run. restart: kill -9 kvmemd a third of the way in, start it again
 * at half way: the engines keep running (nothing lost, no error) and the
 * new daemon switches again.
 */
static void fair_run(enum fair_mode mode)
{
	bool restart = mode == FAIR_RESTART;
	const char *conf = "/tmp/kvmemd-fair.conf";
	char quota0[32] = "";
	uint64_t maxq = 0;
	bool killed = false;
	FILE *f;
	struct fair_shared *sh;
	struct kv_reserves rs = { 0 };
	struct kv_snap s0;
	struct kv_env env;
	pid_t d, eng[2];
	uint64_t switches = 0, checked = 0, at_restart = 0;
	int phase = 0;
	double j;
	int fd;

	snap_take(&s0);
	if (!CHECK(access(FAIR_BIN, X_OK) == 0, "%s is in the guest", FAIR_BIN))
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
	mkdir("/tmp", 01777);
	f = fopen(conf, "w");
	if (!CHECK(f != NULL, "write %s", conf))
		goto out_rs;
	if (mode == FAIR_IGNORE)
		fprintf(f, "[tenant.23]\nquota_mib = %llu\n",
			U(FAIR_QUOTA * env.ps >> 20));
	fclose(f);
	tenant_read(FAIR_T0 + 2, "quota_dram", quota0, sizeof(quota0));
	quota0[strcspn(quota0, "\n")] = 0;
	d = fair_kvmemd(FAIR_SOCK, conf);
	sleep_ms(1000);
	CHECK(waitpid(d, NULL, WNOHANG) == 0, "kvmemd runs");
	sh->t0 = now_ms();
	eng[0] = xfork();
	if (eng[0] == 0)
		fair_engine(sh, 0, 2, false);
	eng[1] = xfork();
	if (eng[1] == 0)
		fair_engine(sh, 2, 1, mode == FAIR_IGNORE);
	while (now_ms() - sh->t0 < FAIR_RUN_MS) {
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
			d = fair_kvmemd(FAIR_SOCK, conf);
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
		if (mode == FAIR_IGNORE) {
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
	kill(d, SIGTERM);
	xwait_timeout(d, 30000);
	/* kvmemd set the weights in the module (TENANT_SET); put them back. */
	for (int i = 0; i < FAIR_NT; i++)
		CHECK_ERR(tenant_write(FAIR_T0 + i, "weight", "1"), 0,
			  "tenant %d weight back to 1", FAIR_T0 + i);
	if (mode == FAIR_IGNORE)
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
		for (int w = 0; w < (killed && i == 2 ? 1 : FAIR_NWIN); w++)
			CHECK(sh->win[i][w] > 0, "tenant %d progressed in "
			      "window %d (%d s)", FAIR_T0 + i, w,
			      FAIR_WIN_MS / 1000);
	}
	j = fair_jain(sh->tokens);
	vt_info("jain_weighted %.4f over %d s, %llu switches, %llu bytes "
		"checked", j, FAIR_RUN_MS / 1000, U(switches), U(checked));
	if (mode == FAIR_IGNORE)
		CHECK(maxq <= FAIR_QUOTA, "tenant 23 ignoring directives "
		      "held at most %llu DRAM frames (quota %d)", U(maxq),
		      FAIR_QUOTA);
	if (mode == FAIR_IGNORE || mode == FAIR_KILL_ENGINE)
		vt_info("jain (not asserted here) %.4f", j);
	else if (restart)
		CHECK(switches > at_restart + 10, "the restarted kvmemd "
		      "switches again (%llu after, %llu before)",
		      U(switches - at_restart), U(at_restart));
	else
		CHECK(j >= 0.95, "Jain's index over weighted service %.4f "
		      ">= 0.95", j);
	CHECK(switches >= 50, "switches happened (%llu)", U(switches));
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
	fair_run(FAIR_IGNORE);
}
