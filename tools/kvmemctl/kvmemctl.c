// SPDX-License-Identifier: GPL-2.0
/*
 * kvmemctl: look at and steer kvmem (man/kvmemctl.8,
 * Documentation/admin-guide.md "kvmemctl"). Options, the command table,
 * output helpers; the commands are in cmds.c, top in top.c.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "kvmemctl.h"

#define KVMEMCTL_VERSION "0.1.0"

struct ctl_opts opt = {
	.sysfs = "/sys/class/misc/kvmem",
	.device = "/dev/kvmem",
	.socket = "/run/kvmemd/control.sock",
	.proc = "/proc",
};

const char *const tier_names[CTL_NR_TIERS] = { "hbm", "dram", "cxl" };

int tier_parse(const char *s)
{
	for (int i = 0; i < CTL_NR_TIERS; i++)
		if (!strcmp(s, tier_names[i]))
			return i;
	return -1;
}

void err(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("kvmemctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void print_json(struct json_object *o)
{
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
						JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

void source_line(const char *src)
{
	if (!opt.json)
		printf("source: %s\n", src);
}

const char *human_bytes(uint64_t b, char *buf, size_t len)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)b;
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u == 0 || v >= 100 || v == (double)(uint64_t)v)
		snprintf(buf, len, "%.0f %s", v, unit[u]);
	else
		snprintf(buf, len, "%.1f %s", v, unit[u]);
	return buf;
}

json_object *jint(int64_t v)
{
	return json_object_new_int64(v);
}

json_object *jstr(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

int parse_u64(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end)
		return -EINVAL;
	*out = v;
	return 0;
}

int parse_i64(const char *s, int64_t *out)
{
	char *end;
	long long v;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end)
		return -EINVAL;
	*out = v;
	return 0;
}

/* Options every command takes, before or after its name. */
enum { O_SYSFS = 1000, O_NO_DAEMON, O_PROC, O_VERSION, O_ALL };
static const struct option common_opts[] = {
	{ "json", no_argument, NULL, 'j' },
	{ "help", no_argument, NULL, 'h' },
	{ "socket", required_argument, NULL, 's' },
	{ "device", required_argument, NULL, 'D' },
	{ "sysfs", required_argument, NULL, O_SYSFS },
	{ "proc", required_argument, NULL, O_PROC },
	{ "no-daemon", no_argument, NULL, O_NO_DAEMON },
};
#define N_COMMON (sizeof(common_opts) / sizeof(common_opts[0]))

static int common_opt(int c, const char *arg)
{
	switch (c) {
	case 'j': opt.json = true; return 1;
	case 's': opt.socket = arg; return 1;
	case 'D': opt.device = arg; return 1;
	case O_SYSFS: opt.sysfs = arg; return 1;
	case O_PROC: opt.proc = arg; return 1;
	case O_NO_DAEMON: opt.no_daemon = true; return 1;
	}
	return 0;
}

int parse_opts(int argc, char **argv, const char *usage,
	       const struct option *extra, const char *shortopts, opt_fn fn,
	       void *ctx)
{
	struct option all[64];
	char shorts[64];
	size_t n = 0;
	int c;

	memcpy(all, common_opts, sizeof(common_opts));
	n = N_COMMON;
	for (; extra && extra[n - N_COMMON].name && n < 63; n++)
		all[n] = extra[n - N_COMMON];
	memset(&all[n], 0, sizeof(all[n]));
	snprintf(shorts, sizeof(shorts), "+:jhs:D:%s", shortopts ? shortopts : "");
	/* Options may follow operands, except in a global position. */
	if (strcmp(argv[0], "kvmemctl"))
		shorts[0] = '-';
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, shorts, all, NULL)) != -1) {
		if (c == 'h') {
			fputs(usage, stdout);
			return -1;
		}
		if (c == '?' || c == ':') {
			const char *o = argv[optind - 1];

			err("%s: %s option %s (see kvmemctl %s --help)",
			    argv[0], c == ':' ? "missing the value of" :
			    "unknown", o, strcmp(argv[0], "kvmemctl") ?
			    argv[0] : "");
			return -2;
		}
		if (c == 1) {	/* an operand, in order ('-' mode) */
			if (!fn || fn(0, optarg, ctx) < 0)
				goto bad_operand;
			continue;
		}
		if (common_opt(c, optarg))
			continue;
		if (!fn || fn(c, optarg, ctx) < 0)
			return -2;
	}
	if (shorts[0] == '-' && fn && fn(-1, NULL, ctx) < 0)
		return -2;
	return optind;
bad_operand:
	return -2;
}

static const char main_usage[] =
"usage: kvmemctl [OPTION]... COMMAND [ARG]...\n"
"Look at and steer kvmem: the module (/dev/kvmem, sysfs) and kvmemd.\n"
"\n"
"Commands (each has --help):\n"
"  status                  pools, tenants, clients, kvmemd's state\n"
"  top                     live per-tenant and per-pool view (q quits)\n"
"  pools                   the pools\n"
"  pool resize POOL        change a node pool's reserve\n"
"  pool add-device PCI     register a GPU's memory as a device pool\n"
"  pool remove-device POOL remove a device pool\n"
"  tenants                 tenants: weights, quotas, usage\n"
"  tenant set ID           set a tenant's weight, quotas, grants\n"
"  seqs                    spaces (sequences): owner, tenant, residency\n"
"  move ID TIER            move a space to a tier now\n"
"  daemon status|pause|resume|tenants|sequences|request JSON\n"
"\n"
"Options (before or after the command):\n"
"  -j, --json              JSON for scripts instead of tables\n"
"  -s, --socket PATH       kvmemd's control socket (/run/kvmemd/control.sock)\n"
"  -D, --device PATH       the kvmem device (/dev/kvmem)\n"
"      --sysfs DIR         the module's sysfs (/sys/class/misc/kvmem)\n"
"      --no-daemon         never ask kvmemd; the module only\n"
"  -h, --help              this text\n"
"      --version           the version\n"
"\n"
"Exit status: 0 done, 1 failed, 2 usage error.\n";

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
} commands[] = {
	{ "status", cmd_status }, { "top", cmd_top }, { "pools", cmd_pools },
	{ "pool", cmd_pool }, { "tenants", cmd_tenants },
	{ "tenant", cmd_tenant }, { "seqs", cmd_seqs },
	{ "sequences", cmd_seqs }, { "move", cmd_move },
	{ "daemon", cmd_daemon },
};

static int main_opt(int c, const char *arg, void *ctx)
{
	(void)arg;
	(void)ctx;
	if (c == O_VERSION) {
		puts("kvmemctl " KVMEMCTL_VERSION);
		exit(EX_OK);
	}
	return -1;
}

int main(int argc, char **argv)
{
	static const struct option extra[] = {
		{ "version", no_argument, NULL, O_VERSION },
		{ 0 },
	};
	int i;

	argv[0] = "kvmemctl";
	i = parse_opts(argc, argv, main_usage, extra, NULL, main_opt, NULL);
	if (i == -1)
		return EX_OK;
	if (i < 0)
		return EX_USAGE;
	if (i >= argc) {
		err("no command given: status, top, pools, pool, tenants, "
		    "tenant, seqs, move or daemon (see kvmemctl --help)");
		return EX_USAGE;
	}
	for (size_t k = 0; k < sizeof(commands) / sizeof(commands[0]); k++)
		if (!strcmp(argv[i], commands[k].name))
			return commands[k].fn(argc - i, argv + i);
	err("unknown command \"%s\": status, top, pools, pool, tenants, "
	    "tenant, seqs, move or daemon (see kvmemctl --help)", argv[i]);
	return EX_USAGE;
}
