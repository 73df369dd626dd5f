// SPDX-License-Identifier: GPL-2.0
/*
 * kvmemctl top: per-pool and per-tenant usage, fault and migration rates,
 * preemptions and kvmemd's decisions, refreshed in place with ncurses on
 * a terminal (q quits), printed as plain frames otherwise.
 */
#include <curses.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kvmemctl.h"

struct snap {
	struct ctl_module m;
	json_object *ds;	/* kvmemd's status, or NULL */
	double t;		/* seconds, monotonic */
};

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int take(struct snap *s)
{
	int r = mod_read(&s->m, false);

	s->ds = r ? NULL : kd_status();
	s->t = mono();
	return r;
}

static void drop(struct snap *s)
{
	mod_free(&s->m);
	json_object_put(s->ds);
	s->ds = NULL;
}

static int64_t dget(json_object *o, const char *k)
{
	json_object *v;

	return o && json_object_object_get_ex(o, k, &v) ?
	       json_object_get_int64(v) : 0;
}

static const struct ctl_tenant *tenant_of(const struct ctl_module *m, int id)
{
	for (int i = 0; i < m->ntenants; i++)
		if (m->tenants[i].id == id)
			return &m->tenants[i];
	return NULL;
}

static double rate(int64_t now, int64_t before, double dt)
{
	if (now < 0 || before < 0 || now < before || dt <= 0)
		return 0;
	return (double)(now - before) / dt;
}

static int64_t sum3(const int64_t *v)
{
	int64_t s = 0;

	for (int i = 0; i < CTL_NR_TIERS; i++)
		s += v[i] > 0 ? v[i] : 0;
	return s;
}

/* A bar of @w cells for @frac (0..1) into @buf. */
static const char *bar(double frac, int w, char *buf)
{
	int n = (int)lround(frac * w);

	if (n < 0)
		n = 0;
	if (n > w)
		n = w;
	memset(buf, '#', (size_t)n);
	memset(buf + n, '.', (size_t)(w - n));
	buf[w] = 0;
	return buf;
}

/* One frame as lines of text through @out (printf-like). */
typedef void (*out_fn)(void *ctx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void frame(const struct snap *now, const struct snap *prev, out_fn out,
		  void *ctx, json_object **js)
{
	const struct ctl_module *m = &now->m;
	double dt = prev ? now->t - prev->t : 0;
	uint64_t tier_frames[CTL_NR_TIERS] = { 0 };
	json_object *jp = NULL, *jt = NULL;
	char b[64], b2[32], b3[32];

	if (js) {
		*js = json_object_new_object();
		jp = json_object_new_array();
		jt = json_object_new_array();
	}
	out(ctx, "source: %s%s%s\n", now->ds ? "kvmemd (" : "",
	    now->ds ? opt.socket : "", now->ds ? "), module (sysfs)" :
	    "module (sysfs)");
	out(ctx, "%-8s %-24s %-5s %10s %10s  %s\n", "POOL", "NODE/DEVICE",
	    "TIER", "USED", "TOTAL", "USAGE");
	for (int i = 0; i < m->npools; i++) {
		const struct ctl_pool *p = &m->pools[i];
		double f = p->total ? (double)p->used / (double)p->total : 0;

		if (p->tier >= 0)
			tier_frames[p->tier] += p->total;
		char where[32];

		if (p->device)
			snprintf(where, sizeof(where), "device %04x:%02x:%02x.%x",
				 p->devid >> 16, (p->devid >> 8) & 0xff,
				 (p->devid >> 3) & 0x1f, p->devid & 7);
		else
			snprintf(where, sizeof(where), "node %d", p->node);
		out(ctx, "pool%-4d %-24s %-5s %10s %10s  [%s] %3.0f%%\n",
		    p->index, where,
		    p->tier >= 0 ? tier_names[p->tier] : "?",
		    human_bytes(p->used * p->page_size, b2, sizeof(b2)),
		    human_bytes(p->total * p->page_size, b3, sizeof(b3)),
		    bar(f, 20, b), f * 100);
		if (jp)
			json_object_array_add(jp, pool_json(p));
	}
	out(ctx, "\n%-6s %6s %-22s %9s %11s %9s %s\n", "TENANT", "WEIGHT",
	    "FRAMES hbm/dram/cxl", "FAULTS/s", "MIGRATED/s", "PREEMPT/s",
	    "USAGE (of its tiers)");
	for (int i = 0; i < m->ntenants; i++) {
		const struct ctl_tenant *t = &m->tenants[i];
		const struct ctl_tenant *o = prev ? tenant_of(&prev->m, t->id) : NULL;
		double fr = 0, mr = 0, pr = 0, cap = 0, held = 0;
		char fs[64];

		if (!opt.all && !tenant_used(t))
			continue;
		if (o) {
			fr = rate(t->faults, o->faults, dt);
			mr = rate(sum3(t->migrated_in) + sum3(t->migrated_out),
				  sum3(o->migrated_in) + sum3(o->migrated_out), dt);
			pr = rate(t->preemptions, o->preemptions, dt);
		}
		for (int k = 0; k < CTL_NR_TIERS; k++)
			if (t->frames[k] > 0) {
				held += (double)t->frames[k];
				cap += (double)tier_frames[k];
			}
		snprintf(fs, sizeof(fs), "%lld/%lld/%lld",
			 (long long)t->frames[0], (long long)t->frames[1],
			 (long long)t->frames[2]);
		out(ctx, "%-6d %6llu %-22s %9.1f %11s %9.1f [%s]\n", t->id,
		    (unsigned long long)t->weight, fs, fr,
		    human_bytes((uint64_t)mr, b2, sizeof(b2)), pr,
		    bar(cap ? held / cap : 0, 16, b));
		if (jt) {
			json_object *e = tenant_json(t);

			json_object_object_add(e, "faults_per_s",
					       json_object_new_double(fr));
			json_object_object_add(e, "migrated_bytes_per_s",
					       json_object_new_double(mr));
			json_object_object_add(e, "preemptions_per_s",
					       json_object_new_double(pr));
			json_object_array_add(jt, e);
		}
	}
	if (now->ds) {
		json_object *o = prev ? prev->ds : NULL;
		double pre = o ? rate(dget(now->ds, "preemptions"),
				      dget(o, "preemptions"), dt) : 0;
		double res = o ? rate(dget(now->ds, "resumes"),
				      dget(o, "resumes"), dt) : 0;
		json_object *pv;
		bool paused = json_object_object_get_ex(now->ds, "paused", &pv) &&
			      json_object_get_boolean(pv);

		out(ctx, "\nkvmemd: %s, %lld sequences, %lld switches in flight, "
		    "preemptions %.1f/s (%lld), swap-ins %.1f/s (%lld), failed "
		    "%lld\n", paused ? "PAUSED" : "deciding",
		    (long long)dget(now->ds, "sequences"),
		    (long long)dget(now->ds, "inflight"), pre,
		    (long long)dget(now->ds, "preemptions"), res,
		    (long long)dget(now->ds, "resumes"),
		    (long long)dget(now->ds, "switches_failed"));
	} else {
		out(ctx, "\nkvmemd: not running\n");
	}
	if (js) {
		json_object_object_add(*js, "source", json_object_new_string(
			now->ds ? "kvmemd+module" : "module"));
		json_object_object_add(*js, "interval_s",
				       json_object_new_double(dt));
		json_object_object_add(*js, "pools", jp);
		json_object_object_add(*js, "tenants", jt);
		json_object_object_add(*js, "daemon", now->ds ?
				       json_object_get(now->ds) : NULL);
	}
}

static void out_stdout(void *ctx, const char *fmt, ...)
{
	va_list ap;

	(void)ctx;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
}

static void out_null(void *ctx, const char *fmt, ...)
{
	(void)ctx;
	(void)fmt;
}

static void out_curses(void *ctx, const char *fmt, ...)
{
	va_list ap;

	(void)ctx;
	va_start(ap, fmt);
	vw_printw(stdscr, fmt, ap);
	va_end(ap);
}

struct top_ctx {
	uint64_t count;
	double delay;
	bool plain;
};

enum { O_COUNT = 1300, O_DELAY, O_PLAIN };

static int top_opt(int c, const char *arg, void *ctx)
{
	struct top_ctx *x = ctx;
	char *end;

	switch (c) {
	case 0:
		err("top: unexpected argument \"%s\" (see kvmemctl top --help)",
		    arg);
		return -1;
	case -1:
		return 0;
	case 'n':
		if (parse_u64(arg, &x->count) || !x->count) {
			err("top: -n \"%s\": want a number of frames > 0", arg);
			return -1;
		}
		return 0;
	case 'd':
		errno = 0;
		x->delay = strtod(arg, &end);
		if (errno || *end || end == arg || !(x->delay >= 0.05) ||
		    x->delay > 3600) {
			err("top: -d \"%s\": want seconds, 0.05 to 3600", arg);
			return -1;
		}
		return 0;
	case O_PLAIN:
		x->plain = true;
		return 0;
	case O_ALL_CMD:
		opt.all = true;
		return 0;
	}
	return -1;
}

static const char top_usage[] =
"usage: kvmemctl top [-d SECONDS] [-n COUNT] [--plain] [--all] [--json]\n"
"Live view: each pool's usage, each tenant's frames, fault, migration and\n"
"preemption rates, and kvmemd's decisions (preemptions, swap-ins, switches\n"
"in flight). On a terminal it redraws in place (q quits); otherwise, or\n"
"with --plain, it prints one frame every -d seconds (1), -n times (until\n"
"interrupted if not given); --json prints one JSON object per frame.\n";

int cmd_top(int argc, char **argv)
{
	static const struct option extra[] = {
		{ "count", required_argument, NULL, 'n' },
		{ "delay", required_argument, NULL, 'd' },
		{ "plain", no_argument, NULL, O_PLAIN },
		{ "all", no_argument, NULL, O_ALL_CMD }, { 0 } };
	struct top_ctx x = { .delay = 1 };
	struct snap a = { 0 }, b = { 0 }, *now = &a, *prev = NULL;
	int r = parse_opts(argc, argv, top_usage, extra, "n:d:", top_opt, &x);

	if (r < 0)
		return r == -1 ? EX_OK : EX_USAGE;
	if (take(now))
		return EX_FAIL;
	if (opt.json || x.plain || !isatty(STDOUT_FILENO)) {
		for (uint64_t i = 0; !x.count || i < x.count; i++) {
			if (i) {
				usleep((useconds_t)(x.delay * 1e6));
				prev = now;
				now = now == &a ? &b : &a;
				if (take(now)) {
					drop(prev);
					return EX_FAIL;
				}
			}
			if (opt.json) {
				json_object *o;

				frame(now, prev, out_null, NULL, &o);
				print_json(o);
			} else {
				if (i)
					putchar('\n');
				frame(now, prev, out_stdout, NULL, NULL);
			}
			fflush(stdout);
			if (prev)
				drop(prev);
		}
		drop(now);
		return EX_OK;
	}
	if (!initscr()) {
		err("top: cannot use the terminal (TERM=%s): try --plain",
		    getenv("TERM") ? getenv("TERM") : "");
		drop(now);
		return EX_FAIL;
	}
	cbreak();
	noecho();
	curs_set(0);
	timeout((int)(x.delay * 1000));
	for (uint64_t i = 0; !x.count || i < x.count; i++) {
		int ch;

		erase();
		frame(now, prev, out_curses, NULL, NULL);
		mvprintw(LINES - 1, 0, "kvmemctl top: every %.1f s; q quits",
			 x.delay);
		refresh();
		ch = getch();
		if (ch == 'q' || ch == 'Q')
			break;
		if (prev)
			drop(prev);
		prev = now;
		now = now == &a ? &b : &a;
		if (take(now)) {
			endwin();
			drop(prev);
			return EX_FAIL;
		}
	}
	endwin();
	if (prev)
		drop(prev);
	drop(now);
	return EX_OK;
}
