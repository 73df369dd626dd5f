// SPDX-License-Identifier: GPL-2.0
/*
 * kvmemd's configuration: good files and flags set what they say; every
 * bad value, key, section and syntax error is refused with its line.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "../unit/unit.h"
#include "kvmemd.h"

static struct kd_config c;
static char err[512];
static char path[] = "/tmp/kvmemd-test-XXXXXX";

static const char *write_file(const char *text)
{
	int fd;

	strcpy(path, "/tmp/kvmemd-test-XXXXXX");
	fd = mkstemp(path);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		abort();
	close(fd);
	return path;
}

static int load(const char *text)
{
	int r;

	kd_config_default(&c);
	r = kd_config_file(&c, write_file(text), err, sizeof(err));
	unlink(path);
	return r;
}

static void good_file(void)
{
	CHECK_EQ(load("; kvmemd.conf\n"
		      "[daemon]\n"
		      "device = /dev/kvmem1\n"
		      "socket = /tmp/k.sock\n"
		      "metrics = 127.0.0.1:9999\n"
		      "interval_ms = 5\n"
		      "\n"
		      "[policy]\n"
		      "price_in = 1.5\n"
		      "price_out = 3\n"
		      "price_mem = 0.25\n"
		      "hysteresis = 128\n"
		      "min_resident_ms = 10\n"
		      "prefetch_margin_ms = 2\n"
		      "bandwidth_gbps = 25\n"
		      "bandwidth_alpha = 0.5\n"
		      "watermark = 0.05\n"
		      "max_inflight = 8\n"
		      "[tenant.3]\n"
		      "weight = 4\n"
		      "quota_mib = 512\n"), 0);
	CHECK(!strcmp(c.device, "/dev/kvmem1"));
	CHECK(!strcmp(c.socket, "/tmp/k.sock"));
	CHECK_EQ(c.metrics_port, 9999);
	CHECK_EQ(c.interval_ms, 5);
	CHECK(c.pol.price_in == 1.5 && c.pol.price_out == 3);
	CHECK(c.pol.price_mem == 0.25 && c.pol.hysteresis == 128);
	CHECK_EQ(c.pol.min_resident_ns, 10000000);
	CHECK_EQ(c.pol.prefetch_margin_ns, 2000000);
	CHECK(c.pol.bw_default == 25e9 && c.pol.bw_alpha == 0.5);
	CHECK_EQ(c.pol.max_inflight, 8);
	CHECK(c.pol.watermark == 0.05);
	CHECK(c.tenants[3].set && c.tenants[3].weight == 4);
	CHECK_EQ(c.tenants[3].quota_bytes, 512ULL << 20);
	CHECK(!c.tenants[2].set);
	CHECK_EQ(load("[daemon]\nmetrics = off\n"), 0);
	CHECK_EQ(c.metrics_port, 0);
}

/* The example in the tree is valid and says the defaults. */
static void example_file(void)
{
	struct kd_config def;

	kd_config_default(&def);
	kd_config_default(&c);
	CHECK_EQ(kd_config_file(&c, "daemon/kvmemd.conf.example", err,
				sizeof(err)), 0);
	CHECK(!memcmp(&c, &def, sizeof(c)));
}

/* Each bad line is named: FILE:LINE and what a good value is. */
static void bad_files(void)
{
	static const struct {
		const char *text;
		int line;
		const char *want;
	} bad[] = {
		{ "[daemon]\ninterval_ms = 0\n", 2, "1..10000" },
		{ "[daemon]\ninterval_ms = 10x\n", 2, "1..10000" },
		{ "[daemon]\ninterval_ms = -1\n", 2, "1..10000" },
		{ "[daemon]\ninterval_ms = 99999999999999999999\n", 2, "1..10000" },
		{ "[daemon]\nmetrics = 0\n", 2, "PORT" },
		{ "[daemon]\nmetrics = 1.2.3:80\n", 2, "PORT" },
		{ "[daemon]\nmetrics = 127.0.0.1:70000\n", 2, "PORT" },
		{ "[daemon]\ncolour = blue\n", 2, "known key" },
		{ "\n\n[daemon]\ndevice =\n", 4, "path" },
		{ "[policy]\nprice_out = -1\n", 2, "number" },
		{ "[policy]\nprice_out = nan\n", 2, "number" },
		{ "[policy]\nhysteresis = inf\n", 2, "number" },
		{ "[policy]\nbandwidth_alpha = 2\n", 2, "number" },
		{ "[policy]\nwatermark = 0.6\n", 2, "0..0.5" },
		{ "[policy]\nwatermark = -0.1\n", 2, "0..0.5" },
		{ "[policy]\nmax_inflight = 0\n", 2, "1..4096" },
		{ "[policy]\nmin_resident_ms = 1e3\n", 2, "0..3600000" },
		{ "[policy]\nspeed = 1\n", 2, "known key" },
		{ "[tenant.x]\nweight = 1\n", 2, "tenant.N" },
		{ "[tenant.256]\nweight = 1\n", 2, "tenant.N" },
		{ "[tenant.1]\nweight = 0\n", 2, "1..10000" },
		{ "[tenant.1]\nweight = 10001\n", 2, "1..10000" },
		{ "[tenant.1]\nshare = 1\n", 2, "known key" },
		{ "[nonsense]\nx = 1\n", 2, "known section" },
		{ "x = 1\n", 1, "known section" },
		{ "[daemon]\n\njust words\n", 3, "key = value" },
		{ "[daemon\n", 1, "key = value" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char at[64];

		CHECK_EQ(load(bad[i].text), -EINVAL);
		snprintf(at, sizeof(at), "%s:%d:", path, bad[i].line);
		if (strncmp(err, at, strlen(at)) || !strstr(err, bad[i].want)) {
			fprintf(stderr, "  case %zu: \"%s\", want %s ... %s\n",
				i, err, at, bad[i].want);
			unit_case_failed = 1;
		}
	}
	kd_config_default(&c);
	CHECK_EQ(kd_config_file(&c, "/nonexistent/kvmemd.conf", err,
				sizeof(err)), -ENOENT);
	CHECK(strstr(err, "/nonexistent/kvmemd.conf") != NULL);
}

static int args(int argc, const char **argv)
{
	kd_config_default(&c);
	return kd_config_args(&c, argc, (char **)argv, err, sizeof(err));
}

static void flags(void)
{
	const char *good[] = { "kvmemd", "-d", "/dev/x", "--socket", "/tmp/s",
			       "--metrics", "9000", "-i", "7", "--weight",
			       "2=9", "--no-device", "-v", NULL };
	const char *file_then_flag[] = { "kvmemd", "-i", "3", "--config",
					 NULL, NULL };
	const char *badv[][4] = {
		{ "kvmemd", "--interval-ms", "0", NULL },
		{ "kvmemd", "--metrics", "localhost:1", NULL },
		{ "kvmemd", "--weight", "2", NULL },
		{ "kvmemd", "--weight", "x=2", NULL },
		{ "kvmemd", "--weight", "1=0", NULL },
		{ "kvmemd", "--bogus", NULL, NULL },
		{ "kvmemd", "extra", NULL, NULL },
		{ "kvmemd", "--device", NULL, NULL },
		{ "kvmemd", "--config", "/nonexistent", NULL },
	};

	CHECK_EQ(args(13, good), 0);
	CHECK(!strcmp(c.device, "/dev/x") && !strcmp(c.socket, "/tmp/s"));
	CHECK_EQ(c.metrics_port, 9000);
	CHECK(!strcmp(c.metrics_addr, "127.0.0.1"));
	CHECK_EQ(c.interval_ms, 7);
	CHECK(c.tenants[2].set && c.tenants[2].weight == 9);
	CHECK(c.no_device && c.verbose == 1);

	/* The file is read first, wherever --config is: flags win. */
	file_then_flag[4] = write_file("[daemon]\ninterval_ms = 9\n"
				       "socket = /tmp/f\n");
	CHECK_EQ(args(5, file_then_flag), 0);
	unlink(path);
	CHECK_EQ(c.interval_ms, 3);
	CHECK(!strcmp(c.socket, "/tmp/f"));

	for (size_t i = 0; i < sizeof(badv) / sizeof(badv[0]); i++) {
		int n = 0;

		while (badv[i][n])
			n++;
		if (args(n, badv[i]) != -EINVAL || !err[0]) {
			fprintf(stderr, "  flags case %zu accepted\n", i);
			unit_case_failed = 1;
		}
	}
	CHECK(strstr(err, "/nonexistent") != NULL);
	args(2, badv[7]);
	CHECK(strstr(err, "--device: needs a value") != NULL);
	args(2, badv[5]);
	CHECK(strstr(err, "--bogus: unknown option") != NULL);
	args(3, badv[0]);
	CHECK(strstr(err, "--interval-ms 0") != NULL);
}

static const struct unit_case cases[] = {
	UNIT_CASE(good_file),
	UNIT_CASE(example_file),
	UNIT_CASE(bad_files),
	UNIT_CASE(flags),
};

UNIT_MAIN("daemon_config", cases)
