/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kvmemctl: the kvmem admin tool. Its sources of truth are the module
 * (sysfs, /proc fdinfo and, when no manager runs, the manager ioctls)
 * and kvmemd's control socket (Documentation/kvmemd.md); every command
 * says which it used.
 */
#ifndef KVMEMCTL_H
#define KVMEMCTL_H

#include <json.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* Exit statuses. */
#define EX_OK		0
#define EX_FAIL		1
#define EX_USAGE	2

#define CTL_MAX_POOLS	64
#define CTL_MAX_TENANTS	4096
#define CTL_NR_TIERS	3

struct ctl_opts {
	const char *sysfs;	/* /sys/class/misc/kvmem */
	const char *device;	/* /dev/kvmem */
	const char *socket;	/* kvmemd's control socket */
	const char *proc;	/* /proc */
	bool json;
	bool no_daemon;		/* never ask kvmemd */
	bool all;		/* tenants: every one, not just the used */
};

extern struct ctl_opts opt;
extern const char *const tier_names[CTL_NR_TIERS];
int tier_parse(const char *s);	/* -1 if not a tier name */

/* Messages: "kvmemctl: ..." on stderr. */
void err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- the module: sysfs and /proc (module.c) ---------------------------- */

struct ctl_pool {
	int index;
	bool device;		/* kind "device" */
	int node;		/* -1 for a device pool */
	uint32_t devid;		/* a device pool's id */
	int tier;
	uint64_t page_size, total, free, used;
	int64_t reserve;	/* -1: none (device pool) */
	uint64_t low_watermark;
};

struct ctl_tenant {
	int id;
	uint64_t weight;
	int64_t quota[CTL_NR_TIERS];	/* -1: max */
	int64_t frames[CTL_NR_TIERS];	/* -1: unreadable (not root) */
	int64_t faults, preemptions;
	int64_t migrated_in[CTL_NR_TIERS], migrated_out[CTL_NR_TIERS];
	int64_t runnable, preempted, prefetch;
	int64_t uid, gid;
};

struct ctl_client {
	uint32_t id;
	int npids;
	int pids[8];
	bool manager;
	uint64_t spaces, faults;
	uint64_t kib[CTL_NR_TIERS];
	uint64_t migrated;	/* bytes in, all tiers */
};

struct ctl_module {
	bool loaded;
	uint64_t abi, spaces, clients;
	int npools;
	struct ctl_pool pools[CTL_MAX_POOLS];
	int ntenants;
	struct ctl_tenant *tenants;
	int nclients;
	struct ctl_client *cl;
	bool clients_partial;	/* some fdinfo unreadable (not root) */
};

/* Reads the module's sysfs; -ENOENT (reported) if it is not loaded. */
int mod_read(struct ctl_module *m, bool clients);
void mod_free(struct ctl_module *m);
const struct ctl_pool *mod_pool(const struct ctl_module *m, int index);
/* "pool1 (node 1, dram)" */
const char *pool_label(const struct ctl_pool *p);
/* sysfs file of the module: path into buf. */
const char *sys_path(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int sys_write(const char *path, const char *val);	/* 0 or -errno */
/* Says why the module cannot be read and how to fix it. */
void mod_missing(void);

/* The device (for the ioctls); -errno, reported. */
int dev_open(bool manager);
/* The reply to a manager ioctl refused, in admin words. */
void dev_explain(const char *what, int e);

/* ---- kvmemd's control socket (daemon.c) -------------------------------- */

/* One request; the parsed reply (caller puts it), or NULL with *e set:
 * -ENOENT/-ECONNREFUSED (not running), -EACCES, -EIO... */
struct json_object *kd_ask(const char *req, int *e);
/* kvmemd's status, or NULL when it does not answer (or opt.no_daemon). */
struct json_object *kd_status(void);
/* Explains a failed kd_ask (daemon down, permission) for @what. */
void kd_explain(const char *what, int e);
/* A reply with "ok": false: its "error", and errno. */
int kd_refused(const char *what, struct json_object *reply);

/* ---- output helpers (kvmemctl.c) --------------------------------------- */

void print_json(struct json_object *o);	/* and puts it */
void source_line(const char *src);
const char *human_bytes(uint64_t b, char *buf, size_t len);
json_object *jint(int64_t v);
json_object *jstr(const char *s);

/* ---- commands ---------------------------------------------------------- */

int cmd_status(int argc, char **argv);
int cmd_pools(int argc, char **argv);
int cmd_pool(int argc, char **argv);
int cmd_tenants(int argc, char **argv);
int cmd_tenant(int argc, char **argv);
int cmd_seqs(int argc, char **argv);
int cmd_move(int argc, char **argv);
int cmd_daemon(int argc, char **argv);
int cmd_top(int argc, char **argv);

#define O_ALL_CMD 1200

/* Shared: tenants' JSON; pool JSON; the module's pools table. */
json_object *pool_json(const struct ctl_pool *p);
json_object *tenant_json(const struct ctl_tenant *t);
void pools_table(const struct ctl_module *m);
bool tenant_used(const struct ctl_tenant *t);

/* Option parsing shared by every command: --json, --help. Returns the
 * index of the first operand, -1 after --help (printed), -2 on a usage
 * error (printed). @extra: more long options, handled by @fn. */
struct option;
typedef int (*opt_fn)(int c, const char *arg, void *ctx);
int parse_opts(int argc, char **argv, const char *usage,
	       const struct option *extra, const char *shortopts, opt_fn fn,
	       void *ctx);
/* Strict numbers: 0 or -EINVAL. */
int parse_u64(const char *s, uint64_t *out);
int parse_i64(const char *s, int64_t *out);

#endif /* KVMEMCTL_H */
