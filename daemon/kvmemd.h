/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kvmemd's shared state: configuration, the policy, the device, counters
 * for the metrics. One thread (the sd-event loop) owns all of it.
 */
#ifndef KVMEMD_H
#define KVMEMD_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "policy.h"

#define KD_MAX_TENANTS	256
#define KD_MAX_POOLS	64
#define KD_LAT_BUCKETS	12

struct kd_tenant_cfg {
	bool set;
	uint32_t weight;	/* 1 .. 10000, as the module takes it */
	uint64_t quota_bytes;	/* 0: none */
};

struct kd_config {
	char device[256];
	char socket[108];	/* sun_path */
	char socket_group[64];	/* "" : root only */
	char metrics_addr[64];	/* "127.0.0.1" */
	unsigned metrics_port;	/* 0: off */
	unsigned interval_ms;	/* the periodic sync and decision */
	bool no_device;		/* tests only: no /dev/kvmem */
	bool check_only;	/* --check-config */
	int verbose;
	struct pol_config pol;
	struct kd_tenant_cfg tenants[KD_MAX_TENANTS];
};

/* Exit statuses: usage and configuration errors are 2. */
#define KD_EXIT_USAGE 2

void kd_config_default(struct kd_config *c);
/* Reads an ini file into @c; on error writes "FILE:LINE: why" to @err. */
int kd_config_file(struct kd_config *c, const char *path, char *err,
		   size_t errlen);
/* Parses the command line (a --config file is read first, flags win).
 * Returns 0, 1 for --help/--version (printed), or -EINVAL with @err. */
int kd_config_args(struct kd_config *c, int argc, char **argv, char *err,
		   size_t errlen);
void kd_usage(FILE *f);

struct kd_pool {
	uint32_t tier;		/* KVMEM_TIER_* */
	uint32_t kind;
	uint64_t page_size, total, free;
};

struct kd_metrics {
	uint64_t lat_bucket[KD_LAT_BUCKETS + 1];	/* last: +Inf */
	double lat_sum;
	uint64_t lat_count;
	uint64_t events, overflows, ioctl_errors, resyncs;
	uint64_t ctl_requests, ctl_errors;
};

struct kvmemd {
	struct kd_config cfg;
	struct pol pol;
	int fd;			/* /dev/kvmem, -1 without */
	uint64_t features;
	uint32_t npools, ntenants;
	uint64_t page_size;
	struct kd_pool pools[KD_MAX_POOLS];
	uint32_t fast_tier, slow_tier;	/* KVMEM_TIER_* */
	bool fast_nodes;	/* some node pool has the fast tier */
	uint32_t nclients;
	gid_t socket_gid;	/* (gid_t)-1: root only */
	struct kd_metrics m;
	bool quit;
};

/* Upper bounds of the decision latency histogram, in seconds. */
extern const double kd_lat_bounds[KD_LAT_BUCKETS];
void kd_observe_latency(struct kvmemd *d, double seconds);

/* Monotonic time in ns. */
uint64_t kd_now(void);

/* device.c: everything that talks to /dev/kvmem. */
int kd_device_open(struct kvmemd *d);
int kd_device_rebuild(struct kvmemd *d);
int kd_device_events(struct kvmemd *d);
int kd_device_sync(struct kvmemd *d);
void kd_apply(struct kvmemd *d);
int kd_tenant_apply(struct kvmemd *d, uint32_t tenant);
/* Every space as LIST_SPACES shows it, with its pages and clean copies
 * per pool (@pools[0..npools), then [npools..2 npools)): the control
 * socket's "spaces". -ENODEV without a device. */
struct kvmem_space_info;
typedef void (*kd_space_fn)(void *arg, const struct kvmem_space_info *si,
			    const uint64_t *pools, uint32_t npools);
int kd_device_spaces(struct kvmemd *d, kd_space_fn fn, void *arg);

/* metrics.c: the text (malloc'd), and the endpoint (epoll fd to watch). */
char *kd_metrics_render(const struct kvmemd *d, size_t *len);
struct MHD_Daemon;
struct MHD_Daemon *kd_metrics_start(struct kvmemd *d, int *epoll_fd);

/* ctl.c: one request line in, one reply line out (malloc'd, no newline). */
char *kd_ctl_handle(struct kvmemd *d, const char *req, size_t len);
/* May the peer with these credentials use the control socket? */
bool kd_ctl_allowed(const struct kvmemd *d, uid_t uid, gid_t gid,
		    const gid_t *groups, int ngroups);

/* log.c: @lvl 0 error, 1 notice, 2 debug (shown with @verbose). */
void kd_logf(int verbose, int lvl, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif /* KVMEMD_H */
