// SPDX-License-Identifier: GPL-2.0
/*
 * kvmemd: the kvmem scheduling daemon. Takes the manager role, rebuilds
 * its state from the module, then runs one sd-event loop: module events,
 * a periodic sync and decision, the control socket, the metrics endpoint,
 * signals and the systemd watchdog. Documentation/kvmemd.md.
 */
#include <errno.h>
#include <grp.h>
#include <microhttpd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>
#include <unistd.h>

#include "ctl_sock.h"
#include "kvmemd.h"

struct loop {
	struct kvmemd *d;
	struct MHD_Daemon *mhd;
	sd_event_source *timer;
};

/* Policy decision, timed for the histogram, and its decisions carried out. */
static void decide(struct kvmemd *d)
{
	uint64_t t0 = kd_now();

	pol_tick(&d->pol, t0);
	pol_decide(&d->pol, t0);
	kd_observe_latency(d, (double)(kd_now() - t0) / 1e9);
	kd_apply(d);
}

static int on_device(sd_event_source *s, int fd, uint32_t revents, void *user)
{
	struct kvmemd *d = user;
	int r;

	(void)fd;
	(void)revents;
	r = kd_device_events(d);
	if (r) {
		kd_logf(0, 0, "reading events: %s", strerror(-r));
		return sd_event_exit(sd_event_source_get_event(s), 1);
	}
	decide(d);
	return 0;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *user)
{
	struct loop *l = user;
	struct kvmemd *d = l->d;

	if (d->fd >= 0) {
		int r = kd_device_sync(d);

		if (r)
			kd_logf(0, 1, "sync: %s", strerror(-r));
	}
	decide(d);
	if (l->mhd)
		MHD_run(l->mhd);
	return sd_event_source_set_time(s, usec + d->cfg.interval_ms * 1000ULL);
}

static int on_mhd(sd_event_source *s, int fd, uint32_t revents, void *user)
{
	(void)s;
	(void)fd;
	(void)revents;
	MHD_run(user);
	return 0;
}

static int resolve_group(struct kvmemd *d, char *err, size_t n)
{
	struct group *g;

	d->socket_gid = (gid_t)-1;
	if (!d->cfg.socket_group[0])
		return 0;
	g = getgrnam(d->cfg.socket_group);
	if (!g) {
		snprintf(err, n, "socket_group %s: no such group",
			 d->cfg.socket_group);
		return -EINVAL;
	}
	d->socket_gid = g->gr_gid;
	return 0;
}

static int run(struct kvmemd *d)
{
	struct loop l = { .d = d };
	sd_event *e = NULL;
	sd_event_source *dev_src = NULL, *ctl_src = NULL, *mhd_src = NULL;
	uint64_t now;
	sigset_t ss;
	int r, mfd = -1;

	sigemptyset(&ss);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGINT);
	sigprocmask(SIG_BLOCK, &ss, NULL);
	signal(SIGPIPE, SIG_IGN);
	r = sd_event_default(&e);
	if (r < 0)
		goto fail;
	sd_event_add_signal(e, NULL, SIGTERM, NULL, NULL);
	sd_event_add_signal(e, NULL, SIGINT, NULL, NULL);
	if (d->fd >= 0) {
		r = sd_event_add_io(e, &dev_src, d->fd, EPOLLIN, on_device, d);
		if (r < 0)
			goto fail;
	}
	r = kd_ctl_listen(d, e, &ctl_src);
	if (r < 0) {
		kd_logf(0, 0, "control socket %s: %s", d->cfg.socket,
			strerror(-r));
		goto out;
	}
	if (d->cfg.metrics_port) {
		l.mhd = kd_metrics_start(d, &mfd);
		if (!l.mhd) {
			kd_logf(0, 0, "metrics on %s:%u: cannot listen",
				d->cfg.metrics_addr, d->cfg.metrics_port);
			r = -EADDRINUSE;
			goto out;
		}
		r = sd_event_add_io(e, &mhd_src, mfd, EPOLLIN, on_mhd, l.mhd);
		if (r < 0)
			goto fail;
	}
	sd_event_now(e, CLOCK_MONOTONIC, &now);
	r = sd_event_add_time(e, &l.timer, CLOCK_MONOTONIC, now, 1000,
			      on_timer, &l);
	if (r < 0)
		goto fail;
	sd_event_source_set_enabled(l.timer, SD_EVENT_ON);
	/* Pings WATCHDOG=1 at half of WATCHDOG_USEC, when systemd set one. */
	sd_event_set_watchdog(e, 1);
	decide(d);	/* finishes what a previous daemon left in flight */
	kd_logf(0, 1, "running: %llu sequences, %zu tenants, fast tier %u, "
		"slow tier %u%s", (unsigned long long)d->pol.nseqs,
		d->pol.ntenants, d->fast_tier, d->slow_tier,
		d->fd < 0 ? " (--no-device)" : "");
	sd_notifyf(0, "READY=1\nSTATUS=managing %llu sequences",
		   (unsigned long long)d->pol.nseqs);
	r = sd_event_loop(e);
	sd_notify(0, "STOPPING=1");
	goto out;
fail:
	kd_logf(0, 0, "event loop: %s", strerror(-r));
out:
	sd_event_source_unref(l.timer);
	sd_event_source_unref(dev_src);
	sd_event_source_unref(mhd_src);
	sd_event_source_unref(ctl_src);
	if (l.mhd)
		MHD_stop_daemon(l.mhd);
	if (!r || r == 1)
		unlink(d->cfg.socket);
	sd_event_unref(e);
	return r < 0 ? 1 : r;
}

int main(int argc, char **argv)
{
	static struct kvmemd d;
	char err[512];
	int r;

	d.fd = -1;
	kd_config_default(&d.cfg);
	r = kd_config_args(&d.cfg, argc, argv, err, sizeof(err));
	if (r == 1)
		return 0;
	if (!r)
		r = resolve_group(&d, err, sizeof(err));
	if (r) {
		fprintf(stderr, "kvmemd: %s\n", err);
		return KD_EXIT_USAGE;
	}
	if (d.cfg.check_only) {
		printf("kvmemd: configuration is valid\n");
		return 0;
	}
	if (pol_init(&d.pol, &d.cfg.pol)) {
		fprintf(stderr, "kvmemd: [policy]: values out of range\n");
		return KD_EXIT_USAGE;
	}
	for (uint32_t t = 0; t < KD_MAX_TENANTS && d.cfg.no_device; t++)
		if (d.cfg.tenants[t].set)
			pol_tenant_set(&d.pol, t, d.cfg.tenants[t].weight,
				       d.cfg.tenants[t].quota_bytes);
	if (!d.cfg.no_device) {
		if (kd_device_open(&d) || kd_device_rebuild(&d))
			return 1;
	}
	r = run(&d);
	pol_destroy(&d.pol);
	if (d.fd >= 0)
		close(d.fd);
	return r;
}
