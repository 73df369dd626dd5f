// SPDX-License-Identifier: GPL-2.0
/*
 * kvmemd's configuration: an ini file (libinih) and flags (getopt_long).
 * Every value is checked here, before anything is opened, so a bad file
 * or flag stops the daemon with a message naming the line and exit 2.
 */
#include <errno.h>
#include <getopt.h>
#include <ini.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kvmemd.h"

void kd_config_default(struct kd_config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->device, sizeof(c->device), "/dev/kvmem");
	snprintf(c->socket, sizeof(c->socket), "/run/kvmemd/control.sock");
	snprintf(c->metrics_addr, sizeof(c->metrics_addr), "127.0.0.1");
	c->metrics_port = 9464;
	c->interval_ms = 20;
	pol_config_default(&c->pol);
}

static int parse_double(const char *v, double lo, double hi, double *out)
{
	char *end;
	double x;

	errno = 0;
	x = strtod(v, &end);
	if (errno || end == v || *end || !isfinite(x) || x < lo || x > hi)
		return -EINVAL;
	*out = x;
	return 0;
}

static int parse_u64(const char *v, uint64_t lo, uint64_t hi, uint64_t *out)
{
	char *end;
	unsigned long long x;

	if (!*v || *v == '-' || *v == '+')
		return -EINVAL;
	errno = 0;
	x = strtoull(v, &end, 10);
	if (errno || *end || x < lo || x > hi)
		return -EINVAL;
	*out = x;
	return 0;
}

static int copy_str(char *dst, size_t n, const char *v)
{
	if (!*v || strlen(v) >= n)
		return -EINVAL;
	memcpy(dst, v, strlen(v) + 1);
	return 0;
}

/* "ADDR:PORT", "PORT" or "off"; only IPv4 literal addresses. */
static int parse_listen(struct kd_config *c, const char *v)
{
	const char *colon = strrchr(v, ':');
	uint64_t port;
	char addr[64];
	unsigned a, b, cc, dd;
	char tail;

	if (!strcmp(v, "off")) {
		c->metrics_port = 0;
		return 0;
	}
	if (colon) {
		size_t n = (size_t)(colon - v);

		if (n == 0 || n >= sizeof(addr))
			return -EINVAL;
		memcpy(addr, v, n);
		addr[n] = 0;
		if (sscanf(addr, "%u.%u.%u.%u%c", &a, &b, &cc, &dd, &tail) != 4 ||
		    a > 255 || b > 255 || cc > 255 || dd > 255)
			return -EINVAL;
		v = colon + 1;
	} else {
		snprintf(addr, sizeof(addr), "127.0.0.1");
	}
	if (parse_u64(v, 1, 65535, &port))
		return -EINVAL;
	snprintf(c->metrics_addr, sizeof(c->metrics_addr), "%s", addr);
	c->metrics_port = (unsigned)port;
	return 0;
}

/* One key; returns NULL or what a good value looks like. */
static const char *set_key(struct kd_config *c, const char *sec,
			   const char *name, const char *v)
{
	struct pol_config *p = &c->pol;
	uint64_t u;
	double x;

	if (!strcmp(sec, "daemon")) {
		if (!strcmp(name, "device"))
			return copy_str(c->device, sizeof(c->device), v) ?
				"a path of 1..255 bytes" : NULL;
		if (!strcmp(name, "socket"))
			return copy_str(c->socket, sizeof(c->socket), v) ?
				"a path of 1..107 bytes" : NULL;
		if (!strcmp(name, "socket_group"))
			return copy_str(c->socket_group,
					sizeof(c->socket_group), v) ?
				"a group name of 1..63 bytes" : NULL;
		if (!strcmp(name, "metrics"))
			return parse_listen(c, v) ?
				"ADDR:PORT, PORT (1..65535) or off" : NULL;
		if (!strcmp(name, "interval_ms")) {
			if (parse_u64(v, 1, 10000, &u))
				return "an integer 1..10000";
			c->interval_ms = (unsigned)u;
			return NULL;
		}
		return "a known key (device, socket, socket_group, metrics, "
		       "interval_ms)";
	}
	if (!strcmp(sec, "policy")) {
		static const struct {
			const char *name;
			double lo, hi, scale;
			size_t off;
		} dk[] = {
#define D(n, f, lo, hi, sc) { n, lo, hi, sc, offsetof(struct pol_config, f) }
			D("price_in", price_in, 0, 1e9, 1),
			D("price_out", price_out, 0, 1e9, 1),
			D("price_mem", price_mem, 0, 1e9, 1),
			D("tokens_per_s", tokens_per_s, 0, 1e12, 1),
			D("hysteresis", hysteresis, 0, 1e15, 1),
			D("bandwidth_gbps", bw_default, 0.001, 1e6, 1e9),
			D("bandwidth_alpha", bw_alpha, 0.001, 1, 1),
			D("watermark", watermark, 0, 0.5, 1),
#undef D
		};

		for (size_t i = 0; i < sizeof(dk) / sizeof(dk[0]); i++) {
			if (strcmp(name, dk[i].name))
				continue;
			if (parse_double(v, dk[i].lo, dk[i].hi, &x))
				return dk[i].lo == 0.001 ?
					"a number 0.001..(see kvmemd.md)" :
				       dk[i].hi == 0.5 ?
					"a number 0..0.5 (see kvmemd.md)" :
					"a number >= 0 (see kvmemd.md)";
			*(double *)((char *)p + dk[i].off) = x * dk[i].scale;
			return NULL;
		}
		if (!strcmp(name, "min_resident_ms") ||
		    !strcmp(name, "prefetch_margin_ms")) {
			if (parse_u64(v, 0, 3600000, &u))
				return "an integer 0..3600000";
			*(name[0] == 'm' ? &p->min_resident_ns :
			  &p->prefetch_margin_ns) = u * 1000000ULL;
			return NULL;
		}
		if (!strcmp(name, "max_inflight")) {
			if (parse_u64(v, 1, 4096, &u))
				return "an integer 1..4096";
			p->max_inflight = (unsigned)u;
			return NULL;
		}
		return "a known key (price_in, price_out, price_mem, "
		       "tokens_per_s, hysteresis, min_resident_ms, "
		       "prefetch_margin_ms, bandwidth_gbps, bandwidth_alpha, "
		       "watermark, max_inflight)";
	}
	if (!strncmp(sec, "tenant.", 7)) {
		uint64_t id;
		struct kd_tenant_cfg *t;

		if (parse_u64(sec + 7, 0, KD_MAX_TENANTS - 1, &id))
			return "a section [tenant.N], N 0..255";
		t = &c->tenants[id];
		t->set = true;
		if (!t->weight)
			t->weight = 1;
		if (!strcmp(name, "weight")) {
			if (parse_u64(v, 1, 10000, &u))
				return "an integer 1..10000";
			t->weight = (uint32_t)u;
			return NULL;
		}
		if (!strcmp(name, "quota_mib")) {
			if (parse_u64(v, 0, 1ULL << 30, &u))
				return "an integer 0..2^30 (0: none)";
			t->quota_bytes = u << 20;
			return NULL;
		}
		return "a known key (weight, quota_mib)";
	}
	return "a known section ([daemon], [policy], [tenant.N])";
}

struct ini_ctx {
	struct kd_config *c;
	char *err;
	size_t errlen;
	const char *path;
	int line;
};

static int on_key(void *user, const char *sec, const char *name,
		  const char *v)
{
	struct ini_ctx *x = user;
	const char *want = set_key(x->c, sec, name, v);

	if (!want)
		return 1;
	snprintf(x->err, x->errlen, "%s:%d: [%s] %s = \"%s\": want %s",
		 x->path, x->line, sec, name, v, want);
	return 0;
}

/*
 * Debian's libinih is built without INI_HANDLER_LINENO: the reader counts
 * lines itself (inih reads one line, then calls the handler for it).
 */
struct line_reader {
	FILE *f;
	struct ini_ctx *x;
};

static char *read_line(char *buf, int n, void *stream)
{
	struct line_reader *r = stream;
	char *s = fgets(buf, n, r->f);

	if (s)
		r->x->line++;
	return s;
}

int kd_config_file(struct kd_config *c, const char *path, char *err,
		   size_t errlen)
{
	struct ini_ctx x = { c, err, errlen, path, 0 };
	FILE *f = fopen(path, "re");
	int r;

	err[0] = 0;
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -errno;
	}
	struct line_reader rd = { f, &x };

	r = ini_parse_stream(read_line, &rd, on_key, &x);
	fclose(f);
	if (r == 0)
		return 0;
	if (!err[0])	/* a syntax error: inih names only the line */
		snprintf(err, errlen, "%s:%d: not \"key = value\", "
			 "\"[section]\" or a comment", path, r);
	return -EINVAL;
}

void kd_usage(FILE *f)
{
	fprintf(f,
"usage: kvmemd [OPTION]...\n"
"The kvmem scheduling daemon: takes the manager role of /dev/kvmem and\n"
"decides which sequences hold the fast tier (Documentation/kvmemd.md).\n"
"Runs in the foreground, logs to stderr; under systemd, Type=notify.\n"
"\n"
"  -c, --config FILE     read FILE (ini; default: none) before the flags\n"
"  -d, --device PATH     the kvmem device (default /dev/kvmem)\n"
"  -s, --socket PATH     the control socket (default /run/kvmemd/control.sock)\n"
"  -g, --socket-group G  group allowed on the control socket, besides root\n"
"  -m, --metrics ADDR:PORT|PORT|off\n"
"                        Prometheus endpoint (default 127.0.0.1:9464)\n"
"  -i, --interval-ms N   sync and decision period, 1..10000 (default 20)\n"
"      --weight T=W      tenant T's weight, 1..10000 (repeatable)\n"
"      --check-config    check the configuration and flags, then exit\n"
"      --no-device       for tests only: run without /dev/kvmem (control\n"
"                        socket and metrics, an empty policy)\n"
"  -v, --verbose         log each decision\n"
"  -h, --help            this text\n"
"      --version         the version\n"
"\n"
"Exit status: 0 stopped by SIGTERM/SIGINT, 1 run-time failure, 2 bad\n"
"configuration or flag (nothing was touched).\n");
}

int kd_config_args(struct kd_config *c, int argc, char **argv, char *err,
		   size_t errlen)
{
	enum { O_CHECK = 256, O_NODEV, O_VERSION, O_WEIGHT };
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "device", required_argument, NULL, 'd' },
		{ "socket", required_argument, NULL, 's' },
		{ "socket-group", required_argument, NULL, 'g' },
		{ "metrics", required_argument, NULL, 'm' },
		{ "interval-ms", required_argument, NULL, 'i' },
		{ "weight", required_argument, NULL, O_WEIGHT },
		{ "check-config", no_argument, NULL, O_CHECK },
		{ "no-device", no_argument, NULL, O_NODEV },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, O_VERSION },
		{ 0 }
	};
	const char *short_opts = "+:c:d:s:g:m:i:vh";
	int o, r;

	err[0] = 0;
	opterr = 0;
	/* The file first, wherever --config is, so that flags win. */
	optind = 1;
	while ((o = getopt_long(argc, argv, short_opts, opts, NULL)) != -1) {
		if (o == 'c') {
			r = kd_config_file(c, optarg, err, errlen);
			if (r)
				return -EINVAL;
		}
	}
	optind = 1;
	while ((o = getopt_long(argc, argv, short_opts, opts, NULL)) != -1) {
		const char *want = NULL, *key = NULL;
		char sec[32], name[32];

		switch (o) {
		case 'c':
			continue;
		case 'd': key = "device"; break;
		case 's': key = "socket"; break;
		case 'g': key = "socket_group"; break;
		case 'm': key = "metrics"; break;
		case 'i': key = "interval_ms"; break;
		case O_WEIGHT: {
			const char *eq = strchr(optarg, '=');
			size_t n = eq ? (size_t)(eq - optarg) : 0;

			if (!eq || n == 0 || n > 8) {
				snprintf(err, errlen, "--weight %s: want "
					 "TENANT=WEIGHT", optarg);
				return -EINVAL;
			}
			snprintf(sec, sizeof(sec), "tenant.%.*s", (int)n,
				 optarg);
			snprintf(name, sizeof(name), "weight");
			want = set_key(c, sec, name, eq + 1);
			if (want) {
				snprintf(err, errlen, "--weight %s: want %s",
					 optarg, want);
				return -EINVAL;
			}
			continue;
		}
		case O_CHECK: c->check_only = true; continue;
		case O_NODEV: c->no_device = true; continue;
		case 'v': c->verbose++; continue;
		case 'h': kd_usage(stdout); return 1;
		case O_VERSION: printf("kvmemd 1.0\n"); return 1;
		case ':':
			snprintf(err, errlen, "%s: needs a value",
				 argv[optind - 1]);
			return -EINVAL;
		default:
			snprintf(err, errlen, "%s: unknown option (see --help)",
				 argv[optind - 1]);
			return -EINVAL;
		}
		want = set_key(c, "daemon", key, optarg);
		if (want) {
			snprintf(err, errlen, "--%s %s: want %s", key, optarg,
				 want);
			for (char *q = err + 2; *q && *q != ' '; q++)
				if (*q == '_')
					*q = '-';
			return -EINVAL;
		}
	}
	if (optind < argc) {
		snprintf(err, errlen, "%s: unexpected argument (see --help)",
			 argv[optind]);
		return -EINVAL;
	}
	/* The policy's own check: the combination must make sense too. */
	{
		struct pol p;

		if (pol_init(&p, &c->pol)) {
			snprintf(err, errlen, "[policy]: values out of range");
			return -EINVAL;
		}
		pol_destroy(&p);
	}
	return 0;
}
