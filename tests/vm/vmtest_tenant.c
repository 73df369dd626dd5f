// SPDX-License-Identifier: GPL-2.0
/*
 * kvmem-vmtest: tenants (Documentation/admin-guide.md, "Tenants and
 * quotas"; Documentation/ABI/testing/sysfs-kvmem, tenants/...; ioctl.md,
 * SPACE_CREATE "Quotas", SPACE_SET and MIGRATE "Quotas"): the sysfs
 * directories and what writes they accept, the accounting of frames,
 * faults and migrated bytes per tenant, quotas under each exhaustion
 * policy and under migration, KVMEM_IOC_SPACE_SET, and the "tenants"
 * module parameter.
 *
 * Pool P is the DRAM pool (node 0), Q the CXL pool (node 1). Every test
 * puts back the quotas and weights it changed; the supervisor checks that
 * all tenants are back at the defaults ("max", weight 1).
 */
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmtest.h"

#define QUOTAS		3	/* quota_hbm, quota_dram, quota_cxl */
#define LATE_MS		3000	/* slack of a timed wait under TCG */

/* ------------------------------------------------------------ counters */

/* The read-only numbers of tenants/<t>/, in this order. */
static const char *const tattr[] = {
	"frames_hbm", "frames_dram", "frames_cxl",
	"migrated_in_hbm", "migrated_in_dram", "migrated_in_cxl",
	"migrated_out_hbm", "migrated_out_dram", "migrated_out_cxl",
	"faults",
};
#define TA_N		NELEM(tattr)
#define FR(tier)	(tier)		/* frames_<tier> */
#define IN(tier)	(3 + (tier))	/* migrated_in_<tier> */
#define OUT(tier)	(6 + (tier))	/* migrated_out_<tier> */
#define FAULTS		9

/* A tenant's counters; pool[] is frames_by_pool, npools its length. */
struct tstat {
	uint64_t a[TA_N];
	uint64_t pool[KV_MAX_POOLS];
	int npools;
};

static void tstat_read(uint32_t t, struct tstat *s)
{
	char buf[512], *p = buf, *end;

	memset(s, 0, sizeof(*s));
	for (size_t i = 0; i < TA_N; i++)
		s->a[i] = tenant_u64(t, tattr[i]);
	s->npools = -1;
	if (tenant_read(t, "frames_by_pool", buf, sizeof(buf)))
		return;
	for (s->npools = 0; *p && s->npools <= KV_MAX_POOLS; s->npools++) {
		unsigned long long v = strtoull(p, &end, 10);

		if (end == p || (*end && *end != ' ')) {
			s->npools = -1;	/* not numbers separated by spaces */
			return;
		}
		if (s->npools < KV_MAX_POOLS)
			s->pool[s->npools] = v;
		p = *end ? end + 1 : end;
	}
}

/* Reports each counter of tenant t that differs from exp (npools: the
 * module's); with loud, one line saying all matched. */
static bool tstat_diff(uint32_t t, const struct tstat *exp, int npools,
		       bool loud, const char *what)
{
	struct tstat now;
	bool same = true;

	tstat_read(t, &now);
	for (size_t i = 0; i < TA_N; i++)
		if (now.a[i] != exp->a[i])
			same = CHECK(0, "%s: tenants/%u/%s is %llu, expected "
				     "%llu", what, t, tattr[i], U(now.a[i]),
				     U(exp->a[i]));
	if (now.npools != npools)
		return CHECK(0, "%s: tenants/%u/frames_by_pool has %d numbers, "
			     "expected %d (npools)", what, t, now.npools,
			     npools);
	for (int i = 0; i < npools; i++)
		if (now.pool[i] != exp->pool[i])
			same = CHECK(0, "%s: tenants/%u/frames_by_pool pool%d "
				     "is %llu, expected %llu", what, t, i,
				     U(now.pool[i]), U(exp->pool[i]));
	if (same && loud)
		CHECK(1, "%s: tenant %u: frames hbm/dram/cxl %llu/%llu/%llu, "
		      "by pool %llu %llu, faults %llu, migrated in %llu/%llu/"
		      "%llu out %llu/%llu/%llu bytes", what, t,
		      U(now.a[0]), U(now.a[1]), U(now.a[2]), U(now.pool[0]),
		      U(now.pool[1]), U(now.a[FAULTS]), U(now.a[3]),
		      U(now.a[4]), U(now.a[5]), U(now.a[6]), U(now.a[7]),
		      U(now.a[8]));
	return same;
}

/* ------------------------------------------------------------ fixture */

/* A file, its pools P (dram) and Q (cxl), and the state before the test. */
struct tfx {
	int fd;
	struct kv_env e;
	struct kv_snap s0;
	uint64_t ps;
	int P, Q;
	uint32_t tp, tq;	/* tiers of P and Q */
};

static bool tfx_init(struct tfx *x)
{
	memset(x, 0, sizeof(*x));
	snap_take(&x->s0);
	if (!kv_setup(&x->fd, &x->e, true))
		return false;
	x->ps = x->e.ps;
	x->P = x->e.P;
	x->Q = x->e.Q;
	x->tp = x->e.pool[x->P].tier;
	x->tq = x->e.pool[x->Q].tier;
	return CHECK(x->e.info.ntenants > 12, "GET_INFO ntenants %u (the "
		     "tests use tenants up to 12)", x->e.info.ntenants);
}

/* Put tenant t's quotas and weight back to the defaults. */
static void ten_defaults(uint32_t t)
{
	static const char *const attr[] = { "quota_hbm", "quota_dram",
					    "quota_cxl", "weight" };

	for (size_t i = 0; i < NELEM(attr); i++)
		CHECK_ERR(tenant_write(t, attr[i], i < QUOTAS ? "max" : "1"),
			  0, "put back tenants/%u/%s", t, attr[i]);
}

/* Close the file; every frame must come back. With t >= 0, put tenant
 * t's settings back first. */
static void tfx_fini(struct tfx *x, int t)
{
	if (t >= 0)
		ten_defaults((uint32_t)t);
	if (x->fd >= 0)
		close(x->fd);
	x->fd = -1;
	snap_back(&x->s0, 5000, "after the test freed everything");
}

/* Tenant t holds p frames in pool P's tier and q in pool Q's. */
static void held(const struct tfx *x, uint32_t t, uint64_t p, uint64_t q,
		 const char *what)
{
	char a[32], b[32];

	snprintf(a, sizeof(a), "frames_%s", tier_name(x->tp));
	snprintf(b, sizeof(b), "frames_%s", tier_name(x->tq));
	CHECK_EQ(tenant_u64(t, a), p, "%s: tenants/%u/%s", what, t, a);
	CHECK_EQ(tenant_u64(t, b), q, "%s: tenants/%u/%s", what, t, b);
}

/* Write tenants/<t>/<attr>; must work. */
static bool tset(uint32_t t, const char *attr, const char *val)
{
	return CHECK_ERR(tenant_write(t, attr, val), 0, "tenants/%u/%s <- '%s'",
			 t, attr, val);
}

/* A mapped space of tenant `tenant`; false (reported) on failure. */
static bool ten_space(struct kv_space *s, int fd, uint64_t size,
		      uint32_t tier, uint32_t policy, uint32_t timeout_ms,
		      uint32_t tenant)
{
	memset(s, 0, sizeof(*s));
	s->fd = fd;
	s->size = size;
	s->c.size = size;
	s->c.tier = tier;
	s->c.policy = policy;
	s->c.timeout_ms = timeout_ms;
	s->c.tenant = tenant;
	if (!CHECK_ERR(kv_ioctl(fd, KVMEM_IOC_SPACE_CREATE, &s->c), 0,
		       "SPACE_CREATE %llu bytes, tier %s, policy %u, tenant "
		       "%u", U(size), tier_name(tier), policy, tenant)) {
		s->c.handle = 0;
		return false;
	}
	s->map = kv_map(fd, s->c.mmap_offset, size);
	if (CHECK(s->map != NULL, "mmap the space of tenant %u", tenant))
		return true;
	kv_space_free(s);
	return false;
}

/* SPACE_SET of one space; returns the errno. */
static int space_set(int fd, uint32_t h, uint32_t flags, uint32_t tenant,
		     int32_t prio, uint64_t tokens)
{
	struct kvmem_space_set s = {
		.handle = h, .flags = flags, .tenant = tenant,
		.priority = prio, .tokens = tokens,
	};

	return kv_ioctl(fd, KVMEM_IOC_SPACE_SET, &s);
}

/* MIGRATE pages first..first+count-1 of space h and wait for its event,
 * which must match ex (seq, id, cookie and handle are set here). */
static bool ten_migrate(int fd, uint32_t h, uint64_t first, uint64_t count,
			uint32_t tier, uint32_t flags, struct kv_evx ex,
			const char *what)
{
	struct kvmem_event ev;

	ex.seq = ex.id = ex.cookie = KV_ANY;
	ex.handle = h;
	INFO("%s: MIGRATE pages %llu..%llu to %s%s", what, U(first),
	     U(first + count - 1), tier_name(tier),
	     flags ? " with KEEP_COPY" : "");
	return kv_migrate_sync(fd, h, first, count, tier, flags, &ev) &&
	       kv_event_is(&ev, &ex, what);
}

/* ------------------------------------------------------ tenant_sysfs */

/*
 * What every tenant's attribute reads at the start: `exp` exactly, or
 * (exp NULL) a decimal number; with bytes, a multiple of the page size.
 */
static const struct {
	const char *name, *exp;
	bool bytes;
} tfile[] = {
	{ "quota_hbm", "max", false }, { "quota_dram", "max", false },
	{ "quota_cxl", "max", false }, { "weight", "1", false },
	{ "frames_hbm", "0", false }, { "frames_dram", "0", false },
	{ "frames_cxl", "0", false }, { "faults", NULL, false },
	{ "migrated_in_hbm", NULL, true }, { "migrated_in_dram", NULL, true },
	{ "migrated_in_cxl", NULL, true }, { "migrated_out_hbm", NULL, true },
	{ "migrated_out_dram", NULL, true },
	{ "migrated_out_cxl", NULL, true },
	{ "uid", "-1", false }, { "gid", "-1", false },
};

/* Tenant directories: exactly 0 .. n-1. */
static void tenant_dirs(uint32_t n)
{
	DIR *d = opendir(KV_SYSFS "/tenants");
	struct dirent *de;
	uint32_t found = 0, bad = 0;

	if (!CHECK(d != NULL, "%s/tenants exists", KV_SYSFS))
		return;
	while ((de = readdir(d))) {
		char *end;
		unsigned long id = strtoul(de->d_name, &end, 10);

		if (de->d_name[0] == '.')
			continue;
		if (*end || end == de->d_name || id >= n ||
		    (id && de->d_name[0] == '0'))
			bad += !CHECK(0, "tenants/%s: not a tenant id below %u",
				      de->d_name, n);
		else
			found++;
	}
	closedir(d);
	CHECK(found == n && !bad, "tenants/ holds %u directories 0..%u "
	      "(GET_INFO ntenants %u)", found, n - 1, n);
}

/* Every tenant's files read their load-time values. */
static void tenant_files(const struct tfx *x, uint32_t n)
{
	uint32_t bad[NELEM(tfile) + 1] = { 0 };
	char buf[512], zeros[512] = "0";

	for (int i = 1; i < x->e.npools; i++)
		strcat(zeros, " 0");
	for (uint32_t t = 0; t < n; t++) {
		for (size_t i = 0; i < NELEM(tfile); i++) {
			int err = tenant_read(t, tfile[i].name, buf,
					      sizeof(buf));
			char *end;
			uint64_t v = strtoull(buf, &end, 10);
			bool ok = !err && (tfile[i].exp ?
				  !strcmp(buf, tfile[i].exp) :
				  buf[0] >= '0' && buf[0] <= '9' && !*end &&
				  (!tfile[i].bytes || v % x->ps == 0));

			if (!ok && !bad[i]++)
				CHECK(0, "tenants/%u/%s reads '%s' (%s)", t,
				      tfile[i].name, buf, errname(err));
		}
		if ((tenant_read(t, "frames_by_pool", buf, sizeof(buf)) ||
		     strcmp(buf, zeros)) && !bad[NELEM(tfile)]++)
			CHECK(0, "tenants/%u/frames_by_pool reads '%s', "
			      "expected '%s'", t, buf, zeros);
	}
	for (size_t i = 0; i < NELEM(tfile); i++)
		CHECK_EQ(bad[i], 0, "tenants whose %s is not %s", tfile[i].name,
			 tfile[i].exp ? tfile[i].exp :
			 tfile[i].bytes ? "a number of bytes (multiple of "
			 "page_size)" : "a number");
	CHECK_EQ(bad[NELEM(tfile)], 0, "tenants whose frames_by_pool is not "
		 "'%s' (%d pools)", zeros, x->e.npools);
}

/* Tenant t's quotas and weight read q[0..2] and w. */
static bool settings_are(uint32_t t, const char *const q[QUOTAS],
			 const char *w, const char *what)
{
	static const char *const attr[] = { "quota_hbm", "quota_dram",
					    "quota_cxl", "weight" };
	bool ok = true;
	char buf[64];

	for (size_t i = 0; i < NELEM(attr); i++) {
		const char *exp = i < QUOTAS ? q[i] : w;

		if (tenant_read(t, attr[i], buf, sizeof(buf)) ||
		    strcmp(buf, exp))
			ok = CHECK(0, "%s: tenants/%u/%s reads '%s', expected "
				   "'%s'", what, t, attr[i], buf, exp);
	}
	return ok ? CHECK(1, "%s: tenant %u quotas %s/%s/%s weight %s", what,
			  t, q[0], q[1], q[2], w) : false;
}

/* A write that must fail with EINVAL and leave every setting as it was. */
static void write_rejected(uint32_t t, const char *attr, const char *val,
			   const char *const q[QUOTAS], const char *w)
{
	char what[96];

	snprintf(what, sizeof(what), "after tenants/%u/%s <- '%s'", t, attr,
		 val);
	CHECK_ERR(tenant_write(t, attr, val), EINVAL, "tenants/%u/%s <- '%s'",
		  t, attr, val);
	settings_are(t, q, w, what);
}

static void tenant_writes(uint32_t t)
{
	static const char *const bad_quota[] = {
		"-1", "abc", "\n", "0x10", "MAX", "12abc", "max\n\n",
	};
	static const char *const bad_weight[] = { "0", "10001", "x", "-1" };
	static const char *const ro[] = {
		"frames_dram", "frames_by_pool", "faults", "migrated_in_cxl",
	};
	/* Valid writes, each read back; the last two leave non-default
	 * values for the invalid writes to keep. */
	static const struct {
		const char *attr, *val, *reads;
	} good[] = {
		{ "quota_dram", "123", "123" }, { "quota_dram", "0", "0" },
		{ "quota_dram", "max", "max" },
		{ "quota_hbm", "7\n", "7" },	/* as echo writes it */
		{ "quota_cxl", "0", "0" }, { "weight", "10000", "10000" },
		{ "weight", "1", "1" }, { "quota_dram", "123", "123" },
		{ "weight", "77", "77" },
	};
	const char *q[QUOTAS] = { "max", "max", "max" }, *w = "1";
	char buf[64];
	int err;

	INFO("tenant %u", t);
	settings_are(t, q, w, "at the start");
	for (size_t i = 0; i < NELEM(good); i++) {
		char what[64];
		int tier = tier_from_name(good[i].attr + strlen("quota_"));

		tset(t, good[i].attr, good[i].val);
		if (tier >= 0)
			q[tier] = good[i].reads;
		else
			w = good[i].reads;
		snprintf(what, sizeof(what), "after %s <- '%s'", good[i].attr,
			 good[i].reads);
		settings_are(t, q, w, what);
	}
	/* Invalid writes change nothing. */
	for (size_t i = 0; i < NELEM(bad_quota); i++)
		write_rejected(t, "quota_dram", bad_quota[i], q, w);
	for (size_t i = 0; i < NELEM(bad_weight); i++)
		write_rejected(t, "weight", bad_weight[i], q, w);
	/* A write of zero bytes never reaches the module (sysfs returns 0). */
	err = tenant_write(t, "quota_dram", "");
	INFO("a zero-byte write to quota_dram returns %s",
	     err ? errname(err) : "0 (nothing written)");
	settings_are(t, q, w, "after a zero-byte write to quota_dram");
	/* Out of the number range: not specified, report what happens. */
	err = tenant_write(t, "quota_dram", "18446744073709551615");
	tenant_read(t, "quota_dram", buf, sizeof(buf));
	INFO("quota_dram <- 2^64-1 (20 digits): %s, reads '%s'",
	     err ? errname(err) : "accepted", buf);
	tset(t, "quota_dram", "123");
	/* Read-only files. */
	for (size_t i = 0; i < NELEM(ro); i++) {
		char before[256], after[256];

		tenant_read(t, ro[i], before, sizeof(before));
		err = tenant_write(t, ro[i], "5");
		tenant_read(t, ro[i], after, sizeof(after));
		CHECK(err && !strcmp(before, after), "tenants/%u/%s (read-only) "
		      "<- '5' fails (%s), still reads '%s'", t, ro[i],
		      errname(err), after);
	}
	settings_are(t, q, w, "after the writes to read-only files");
}

void test_tenant_sysfs(void)
{
	static const char *const dflt[QUOTAS] = { "max", "max", "max" };
	struct tfx x;
	uint32_t n;

	if (!tfx_init(&x))
		goto out;
	n = x.e.info.ntenants;
	CHECK(x.e.info.features & KVMEM_FEATURE_TENANTS, "GET_INFO features "
	      "has KVMEM_FEATURE_TENANTS (0x%llx)", U(x.e.info.features));
	CHECK_EQ(kv_sys_ntenants(), n, "tenants/ directories == GET_INFO "
		 "ntenants");
	tenant_dirs(n);
	tenant_files(&x, n);
	/* Writes, on a tenant in the middle and on the last one. */
	tenant_writes(3);
	ten_defaults(3);
	settings_are(3, dflt, "1", "tenant 3 put back");
	settings_are(4, dflt, "1", "tenant 4, a neighbour of the one written");
	settings_are(0, dflt, "1", "tenant 0");
	tenant_writes(n - 1);
	ten_defaults(n - 1);
	settings_are(n - 2, dflt, "1", "a neighbour of the last tenant");
out:
	tfx_fini(&x, -1);
}

/* ------------------------------------------------- tenant_accounting */

/* Counters of every tenant; NULL (reported) on failure. */
static struct tstat *tstat_all(uint32_t n)
{
	struct tstat *s = calloc(n, sizeof(*s));

	if (!CHECK(s != NULL, "calloc %u tenant counters", n))
		return NULL;
	for (uint32_t t = 0; t < n; t++)
		tstat_read(t, &s[t]);
	return s;
}

void test_tenant_accounting(void)
{
	const uint32_t T = 5;
	const uint64_t n = 8, k = 6;
	struct tstat *before = NULL, ex;
	struct kv_space s = { 0 };
	struct tfx x;
	uint32_t nt, others = 0;
	uint64_t ps = 0, df, mv;
	uint32_t h;

	if (!tfx_init(&x))
		goto out;
	ps = x.ps;
	mv = n * ps;
	nt = x.e.info.ntenants;
	before = tstat_all(nt);
	if (!before || !ten_space(&s, x.fd, n * ps, x.tp, KVMEM_POLICY_FAIL, 0,
				  T))
		goto out;
	h = s.c.handle;
	ex = before[T];
	tstat_diff(T, &ex, x.e.npools, true, "a new space, nothing backed");

	CHECK_ERR(kv_populate(x.fd, h, 0, k, NULL), 0, "POPULATE pages 0..%llu",
		  U(k - 1));
	ex.a[FR(x.tp)] += k;
	ex.pool[x.P] += k;
	tstat_diff(T, &ex, x.e.npools, true, "POPULATE of 6 pages in dram "
		   "(POPULATE is no fault)");

	/* First touches: pages 0..5 are backed but unmapped, 6..7 new. */
	pat_fill(s.map, n * ps, T, 0);
	df = tenant_u64(T, "faults") - ex.a[FAULTS];
	CHECK(df >= n && df <= n * (ps / CPU_PAGE), "writing the 8 pages "
	      "faulted %llu times (expected %llu .. %llu)", U(df), U(n),
	      U(n * (ps / CPU_PAGE)));
	ex.a[FAULTS] += df;
	ex.a[FR(x.tp)] += n - k;
	ex.pool[x.P] += n - k;
	tstat_diff(T, &ex, x.e.npools, true, "first touch of 8 pages, 2 new");

	/* A move: the frames change tier, the bytes are counted. */
	if (!ten_migrate(x.fd, h, 0, n, x.tq, 0, (struct kv_evx){
			 .pages = n, .copied = mv, .reused = 0 }, "to cxl"))
		goto out;
	ex.a[FR(x.tp)] -= n;
	ex.a[FR(x.tq)] += n;
	ex.pool[x.P] -= n;
	ex.pool[x.Q] += n;
	ex.a[OUT(x.tp)] += mv;
	ex.a[IN(x.tq)] += mv;
	tstat_diff(T, &ex, x.e.npools, true, "after the move to cxl");

	/* Frames count in the tier their pool has now. */
	if (CHECK_ERR(pool_set_tier(x.Q, "hbm"), 0, "pool%d tier <- hbm", x.Q)) {
		struct tstat hbm = ex;

		hbm.a[FR(KVMEM_TIER_HBM)] += n;
		hbm.a[FR(x.tq)] -= n;
		tstat_diff(T, &hbm, x.e.npools, true, "the cxl pool is hbm now");
		CHECK_ERR(pool_set_tier(x.Q, tier_name(x.tq)), 0, "pool%d tier "
			  "back to %s", x.Q, tier_name(x.tq));
		tstat_diff(T, &ex, x.e.npools, true, "its tier put back");
	}

	/* With KEEP_COPY the source frames stay, as clean copies. */
	if (!ten_migrate(x.fd, h, 0, n, x.tp, KVMEM_MIGRATE_KEEP_COPY,
			 (struct kv_evx){ .pages = n, .copied = mv,
			 .reused = 0 }, "back to dram"))
		goto out;
	CHECK_EQ(kv_count_in(x.fd, h, 0, n, (uint16_t)x.Q, true), n,
		 "QUERY: the 8 pages have their clean copy in pool%d", x.Q);
	ex.a[FR(x.tp)] += n;
	ex.pool[x.P] += n;
	ex.a[OUT(x.tq)] += mv;
	ex.a[IN(x.tp)] += mv;
	tstat_diff(T, &ex, x.e.npools, true, "after the KEEP_COPY move to "
		   "dram: both tiers hold 8");

	/* A move that reuses the copies counts its bytes too. */
	if (!ten_migrate(x.fd, h, 0, n, x.tq, KVMEM_MIGRATE_KEEP_COPY,
			 (struct kv_evx){ .pages = n, .copied = 0,
			 .reused = mv }, "to cxl again, unwritten"))
		goto out;
	ex.a[OUT(x.tp)] += mv;
	ex.a[IN(x.tq)] += mv;
	tstat_diff(T, &ex, x.e.npools, true, "after the KEEP_COPY move that "
		   "reused the copies");
	CHECK_EQ(pat_check(s.map, n * ps, T, 0), UINT64_MAX, "the data of the "
		 "8 pages is intact (first bad offset)");
	ex.a[FAULTS] = tenant_u64(T, "faults");

	/* RELEASE gives back the pages' frames and their copies. */
	CHECK_ERR(kv_release(x.fd, h, 0, 2, NULL), 0, "RELEASE pages 0..1");
	ex.a[FR(x.tp)] -= 2;
	ex.a[FR(x.tq)] -= 2;
	ex.pool[x.P] -= 2;
	ex.pool[x.Q] -= 2;
	tstat_diff(T, &ex, x.e.npools, true, "after RELEASE of 2 pages");

	kv_space_free(&s);
	for (uint32_t i = 0; i < KVMEM_NR_TIERS; i++)
		ex.a[FR(i)] = 0;
	memset(ex.pool, 0, sizeof(ex.pool));
	tstat_diff(T, &ex, x.e.npools, true, "after SPACE_DESTROY: no frame, "
		   "the faults and bytes moved stay");
out:
	kv_space_free(&s);
	for (uint32_t t = 0; before && t < nt; t++)
		if (t != T)
			others += !tstat_diff(t, &before[t], x.e.npools, false,
					      "another tenant");
	if (before)
		CHECK_EQ(others, 0, "tenants other than %u whose counters "
			 "changed", T);
	free(before);
	tfx_fini(&x, -1);
}

/* --------------------------------------------- tenant_quota_policies */

/*
 * A child that populates page `page` of WAIT space h (same file) and must
 * get it after waiting at least 150 ms: the parent frees room meanwhile.
 */
static pid_t waiter(int fd, uint32_t h, uint64_t page, const char *who)
{
	pid_t pid = xfork();

	if (pid == 0) {
		double t0 = now_ms();
		int err = kv_populate(fd, h, page, 1, NULL);
		double dt = now_ms() - t0;
		bool ok = CHECK_ERR(err, 0, "%s: POPULATE page %llu of the "
				    "WAIT space", who, U(page));

		ok &= CHECK(dt >= 150 && dt < 8000, "%s: it waited %.0f ms "
			    "(expected from ~400 until the parent acts)", who,
			    dt);
		_exit(ok ? 0 : 1);
	}
	CHECK(pid > 0, "fork %s", who);
	return pid;
}

/* POPULATE that must give exp after waiting about `to` ms. */
static void timed_populate(int fd, uint32_t h, uint64_t first,
			   uint64_t count, int exp, uint32_t to,
			   const char *what)
{
	double t0 = now_ms(), dt;

	CHECK_ERR(kv_populate(fd, h, first, count, NULL), exp, "%s", what);
	dt = now_ms() - t0;
	CHECK(dt >= to - 20 && dt <= to + LATE_MS, "%s: it took %.0f ms "
	      "(expected %u .. %u)", what, dt, to - 20, to + LATE_MS);
}

void test_tenant_quota_policies(void)
{
	const uint32_t T = 7;
	struct kv_space a = { 0 }, b = { 0 }, c = { 0 }, d = { 0 };
	struct tfx x;
	uint64_t ps, p0 = 0, q0 = 0;
	double t0, dt;
	uint8_t v;
	pid_t pid;

	if (!tfx_init(&x) || !tset(T, "quota_dram", "4"))
		goto out;
	ps = x.ps;
	p0 = pool_free(x.P);
	q0 = pool_free(x.Q);
	CHECK(p0 >= 16 && q0 >= 16, "pools %d and %d have %llu and %llu free "
	      "frames: the quota, not the pool, runs out", x.P, x.Q, U(p0),
	      U(q0));

	/* FALLBACK: beyond the dram quota, frames come from cxl. */
	if (!ten_space(&c, x.fd, 6 * ps, x.tp, KVMEM_POLICY_FALLBACK, 0, T))
		goto out;
	CHECK_ERR(kv_populate(x.fd, c.c.handle, 0, 5, NULL), 0, "FALLBACK: "
		  "POPULATE 5 pages, quota_dram 4");
	CHECK_EQ(kv_count_in(x.fd, c.c.handle, 0, 5, (uint16_t)x.P, false), 4,
		 "4 of them in pool%d (dram)", x.P);
	CHECK_EQ(kv_count_in(x.fd, c.c.handle, 0, 5, (uint16_t)x.Q, false), 1,
		 "1 in pool%d (cxl)", x.Q);
	CHECK_EQ(probe_write(c.map + 5 * ps, 1), 0, "FALLBACK: touch page 5");
	CHECK_EQ(kv_count_in(x.fd, c.c.handle, 5, 1, (uint16_t)x.Q, false), 1,
		 "page 5 in pool%d (cxl)", x.Q);
	held(&x, T, 4, 2, "FALLBACK space");
	kv_space_free(&c);
	held(&x, T, 0, 0, "FALLBACK space destroyed");

	/* FAIL: ENOMEM, all or nothing; SIGBUS. */
	if (!ten_space(&a, x.fd, 8 * ps, x.tp, KVMEM_POLICY_FAIL, 0, T))
		goto out;
	CHECK_ERR(kv_populate(x.fd, a.c.handle, 0, 8, NULL), ENOMEM, "FAIL: "
		  "POPULATE 8 pages, quota_dram 4");
	CHECK_EQ(kv_resident(x.fd, a.c.handle, 0, 8), 0, "nothing kept");
	CHECK_EQ(pool_free(x.P), p0, "pool%d frames_free as before", x.P);
	held(&x, T, 0, 0, "the failed POPULATE");
	CHECK_ERR(kv_populate(x.fd, a.c.handle, 0, 4, NULL), 0, "FAIL: "
		  "POPULATE pages 0..3");
	pat_fill(a.map, 4 * ps, T, 0);
	CHECK_EQ(probe_write(a.map + 5 * ps, 1), SIGBUS, "FAIL: touching page "
		 "5 at the quota raises SIGBUS");
	CHECK_EQ(kv_resident(x.fd, a.c.handle, 4, 4), 0, "pages 4..7 absent");
	CHECK_EQ(pool_free(x.P), p0 - 4, "pool%d gave 4 frames", x.P);
	CHECK_EQ(pool_free(x.Q), q0, "FAIL does not fall back: pool%d as "
		 "before", x.Q);
	held(&x, T, 4, 0, "FAIL space at the quota");

	/* WAIT: the wait ends at the timeout. */
	if (!ten_space(&b, x.fd, 2 * ps, x.tp, KVMEM_POLICY_WAIT, 300, T))
		goto out;
	timed_populate(x.fd, b.c.handle, 0, 1, ETIMEDOUT, 300, "WAIT 300 ms: "
		       "POPULATE at the quota");
	t0 = now_ms();
	CHECK_EQ(probe_read(b.map + ps, &v), SIGBUS, "WAIT 300 ms: a touch at "
		 "the quota raises SIGBUS");
	dt = now_ms() - t0;
	CHECK(dt >= 280 && dt <= 300 + LATE_MS, "the fault waited %.0f ms",
	      dt);
	CHECK_EQ(kv_resident(x.fd, b.c.handle, 0, 2), 0, "nothing resident");
	held(&x, T, 4, 0, "after the timeouts");

	/* WAIT: a release by another space of the tenant ends the wait. */
	if (!ten_space(&d, x.fd, 2 * ps, x.tp, KVMEM_POLICY_WAIT, 10000, T))
		goto out;
	pid = waiter(x.fd, d.c.handle, 0, "waiter 1");
	if (pid > 0 && child_waits(pid, 400, "the child's POPULATE waits "
				   "(tenant at its dram quota)"))
		CHECK_ERR(kv_release(x.fd, a.c.handle, 3, 1, NULL), 0,
			  "RELEASE page 3 of the FAIL space (same tenant)");
	if (pid > 0)
		child_done(pid, 15000, "waiter 1, woken by the release");
	CHECK_EQ(kv_count_in(x.fd, d.c.handle, 0, 1, (uint16_t)x.P, false), 1,
		 "page 0 of the WAIT space in pool%d", x.P);
	held(&x, T, 4, 0, "after waiter 1");

	/* WAIT: so does the admin raising the quota. */
	pid = waiter(x.fd, d.c.handle, 1, "waiter 2");
	if (pid > 0 && child_waits(pid, 400, "the child's POPULATE waits "
				   "(tenant at its dram quota)"))
		tset(T, "quota_dram", "5");
	if (pid > 0)
		child_done(pid, 15000, "waiter 2, woken by the quota write");
	held(&x, T, 5, 0, "after waiter 2");

	/* A quota lowered below use takes nothing away. */
	tset(T, "quota_dram", "2");
	held(&x, T, 5, 0, "quota_dram lowered to 2");
	CHECK_EQ(kv_resident(x.fd, a.c.handle, 0, 8), 3, "FAIL space keeps "
		 "3 pages");
	CHECK_EQ(kv_resident(x.fd, d.c.handle, 0, 2), 2, "WAIT space keeps "
		 "2 pages");
	CHECK_EQ(pat_check(a.map, 3 * ps, T, 0), UINT64_MAX, "data of pages "
		 "0..2 intact (first bad offset)");
	CHECK_ERR(kv_populate(x.fd, a.c.handle, 3, 1, NULL), ENOMEM,
		  "POPULATE 1 page, 5 held, quota 2");
	CHECK_ERR(kv_release(x.fd, a.c.handle, 0, 3, NULL), 0, "RELEASE 3");
	CHECK_ERR(kv_populate(x.fd, a.c.handle, 3, 1, NULL), ENOMEM,
		  "POPULATE 1 page, 2 held, quota 2");
	CHECK_ERR(kv_release(x.fd, d.c.handle, 1, 1, NULL), 0, "RELEASE 1");
	CHECK_ERR(kv_populate(x.fd, a.c.handle, 3, 1, NULL), 0,
		  "POPULATE 1 page, 1 held, quota 2");
	held(&x, T, 2, 0, "at the lowered quota");
out:
	kv_space_free(&d);
	kv_space_free(&b);
	kv_space_free(&a);
	kv_space_free(&c);
	held(&x, T, 0, 0, "every space destroyed");
	tfx_fini(&x, (int)T);
}

/* ---------------------------------------------- tenant_quota_migrate */

void test_tenant_quota_migrate(void)
{
	const uint32_t T = 9;
	const int nomem = -ENOMEM;
	struct kv_space s = { 0 };
	struct tstat st;
	struct tfx x;
	uint64_t ps, n = 8, up = 0, uq = 0;
	uint32_t h;

	if (!tfx_init(&x) || !tset(T, "quota_cxl", "2"))
		goto out;
	ps = x.ps;
	if (!ten_space(&s, x.fd, n * ps, x.tp, KVMEM_POLICY_FAIL, 0, T))
		goto out;
	h = s.c.handle;
	pat_fill(s.map, n * ps, T, 0);
	up = pool_u64(x.P, "frames_used");
	uq = pool_u64(x.Q, "frames_used");
	tstat_read(T, &st);
	held(&x, T, n, 0, "8 pages written");

	/* One batch: it fails whole, nothing moves. */
	for (uint32_t keep = 0; keep <= KVMEM_MIGRATE_KEEP_COPY; keep++) {
		ten_migrate(x.fd, h, 0, n, x.tq, keep, (struct kv_evx){
			    .status = nomem, .pages = 0, .copied = 0,
			    .reused = 0 }, "8 pages, quota_cxl 2");
		tstat_diff(T, &st, x.e.npools, true, "the failed migration "
			   "changed no counter");
		CHECK_EQ(pool_u64(x.Q, "frames_used"), uq, "pool%d frames "
			 "used as before: no frame leaked", x.Q);
		CHECK_EQ(pool_u64(x.P, "frames_used"), up, "pool%d frames "
			 "used as before", x.P);
		CHECK_EQ(kv_count_in(x.fd, h, 0, n, (uint16_t)x.P, false), n,
			 "all 8 pages still in pool%d", x.P);
		CHECK_EQ(kv_count_in(x.fd, h, 0, n, KVMEM_POOL_NONE, true), n,
			 "no clean copy made");
		CHECK_EQ(pat_check(s.map, n * ps, T, 0), UINT64_MAX, "data "
			 "intact (first bad offset)");
		st.a[FAULTS] = tenant_u64(T, "faults");
	}

	/* Up to the quota, pages move; beyond it, the batch fails. */
	ten_migrate(x.fd, h, 0, 2, x.tq, 0, (struct kv_evx){ .pages = 2,
		    .copied = 2 * ps, .reused = 0 }, "2 pages, quota_cxl 2");
	held(&x, T, n - 2, 2, "2 pages moved");
	ten_migrate(x.fd, h, 0, n, x.tq, 0, (struct kv_evx){ .status = nomem,
		    .pages = 2, .copied = 0, .reused = 0 }, "8 pages, 2 of "
		    "them in cxl already, quota_cxl 2");
	held(&x, T, n - 2, 2, "the failed migration");
	CHECK_EQ(pool_u64(x.Q, "frames_used"), uq + 2, "pool%d frames used",
		 x.Q);

	/* Clean copies count in their tier's quota. */
	tset(T, "quota_cxl", "max");
	ten_migrate(x.fd, h, 2, n - 2, x.tq, KVMEM_MIGRATE_KEEP_COPY,
		    (struct kv_evx){ .pages = n - 2, .copied = (n - 2) * ps,
		    .reused = 0 }, "pages 2..7, quota_cxl max");
	held(&x, T, n - 2, n, "6 clean copies in dram, 8 pages in cxl");
	tset(T, "quota_dram", "6");
	ten_migrate(x.fd, h, 0, 2, x.tp, 0, (struct kv_evx){ .status = nomem,
		    .pages = 0, .copied = 0, .reused = 0 }, "pages 0..1 "
		    "(no copy), quota_dram 6 held by copies");
	held(&x, T, n - 2, n, "the failed migration");
	/* Reusing a copy takes no new frame: it works at the quota. */
	ten_migrate(x.fd, h, 2, n - 2, x.tp, 0, (struct kv_evx){ .pages = n - 2,
		    .copied = 0, .reused = (n - 2) * ps }, "pages 2..7 back "
		    "onto their copies, quota_dram 6");
	held(&x, T, n - 2, 2, "pages 2..7 back in dram");
	CHECK_EQ(pat_check(s.map, n * ps, T, 0), UINT64_MAX, "data intact "
		 "(first bad offset)");
	kv_space_free(&s);
	held(&x, T, 0, 0, "space destroyed");
	CHECK_EQ(pool_u64(x.Q, "frames_used"), uq, "pool%d frames used as "
		 "before the test moved pages there", x.Q);
out:
	kv_space_free(&s);
	tfx_fini(&x, (int)T);
}

/* ---------------------------------------------------- neg_space_set */

void test_neg_space_set(void)
{
	static uint8_t buf[256] __attribute__((aligned(64)));
	struct kvmem_space_set *s = (void *)buf;
	const size_t v1 = KVMEM_SPACE_SET_SIZE_VER1;
	const uint32_t T0 = 11, T1 = 12;
	struct kv_space full = { 0 }, empty = { 0 };
	struct tfx x;
	uint32_t nt, hf, he;

	const size_t v2 = KVMEM_SPACE_SET_SIZE_VER2;

	_Static_assert(sizeof(struct kvmem_space_set) ==
		       KVMEM_SPACE_SET_SIZE_VER2, "space_set v2");
	if (!tfx_init(&x) ||
	    !ten_space(&full, x.fd, 8 * x.ps, x.tp, KVMEM_POLICY_FAIL, 0, T0) ||
	    !ten_space(&empty, x.fd, 8 * x.ps, x.tp, KVMEM_POLICY_FAIL, 0, T0))
		goto out;
	nt = x.e.info.ntenants;
	hf = full.c.handle;
	he = empty.c.handle;
	if (!CHECK_ERR(kv_populate(x.fd, hf, 2, 2, NULL), 0, "fixture: "
		       "POPULATE pages 2..3 of space %u (tenant %u)", hf, T0))
		goto out;

	/* A struct of `size` bytes, PRIORITY of space h; stmt changes one
	 * field. */
#define SSZ(size, h, stmt, exp, ...) do { \
		memset(buf, 0, sizeof(buf)); \
		s->handle = (h); \
		s->flags = KVMEM_SET_PRIORITY; \
		stmt; \
		neg_ioctl(x.fd, _IOC(_IOC_WRITE, KVMEM_IOC_MAGIC, \
				     _IOC_NR(KVMEM_IOC_SPACE_SET), (size)), \
			  buf, exp, "SPACE_SET " __VA_ARGS__); \
	} while (0)
#define SS(h, stmt, exp, ...) SSZ(v1, h, stmt, exp, __VA_ARGS__)
	SS(hf, (void)0, 0, "PRIORITY (valid base)");
	SS(hf, s->flags = 0, EINVAL, "flags 0");
	SS(hf, s->flags = 1U << 4, EINVAL, "flags 1<<4 (unknown)");
	SS(hf, s->flags = 1U << 31, EINVAL, "flags 1<<31 (unknown)");
	SS(hf, s->flags |= 1U << 4, EINVAL, "flags PRIORITY | 1<<4");
	SS(hf, s->reserved[0] = 1, EINVAL, "reserved[0] = 1");
	SS(hf, s->reserved[1] = 1ULL << 63, EINVAL, "reserved[1] = 1<<63");
	SS(he, (s->flags = KVMEM_SET_TENANT, s->tenant = nt), EINVAL,
	   "TENANT, tenant = ntenants (%u), empty space", nt);
	SS(he, (s->flags = KVMEM_SET_TENANT, s->tenant = 0xffffffffu), EINVAL,
	   "TENANT, tenant 0xffffffff, empty space");
	SS(0, (void)0, ENOENT, "handle 0");
	SS(hf + 1000, (void)0, ENOENT, "handle %u (unknown)", hf + 1000);
	SS(0xffffffffu, (void)0, ENOENT, "handle 0xffffffff");
	SS(hf, (s->flags = KVMEM_SET_TENANT, s->tenant = T1), EBUSY,
	   "TENANT %u of a space holding 2 frames", T1);
	SSZ(0, hf, (void)0, EINVAL, "struct of 0 bytes");
	SSZ(v1 - 8, hf, (void)0, EINVAL, "struct of %zu bytes", v1 - 8);
	SSZ(v1 - 1, hf, (void)0, EINVAL, "struct of %zu bytes", v1 - 1);
	SSZ(v2 + 8, hf, buf[v2] = 1, E2BIG, "struct of %zu bytes, tail byte "
	    "%zu non-zero", v2 + 8, v2);
	SSZ(v2 + 64, hf, buf[v2 + 63] = 0x80, E2BIG, "struct of %zu bytes, "
	    "last tail byte non-zero", v2 + 64);
	SS(hf, (void)0, 0, "valid, after the failures");
	neg_ioctl(x.fd, _IOWR(KVMEM_IOC_MAGIC, _IOC_NR(KVMEM_IOC_SPACE_SET),
			      struct kvmem_space_set), buf, ENOTTY,
		  "SPACE_SET as _IOWR (wrong direction)");
	neg_ioctl(x.fd, KVMEM_IOC_SPACE_SET, NULL, EFAULT,
		  "SPACE_SET with a NULL argument");
	held(&x, T0, 2, 0, "the failed calls: the frames still charged to the "
	     "first tenant");
	held(&x, T1, 0, 0, "and none to the other");
	/* The failed TENANT calls left the empty space's tenant alone. */
	CHECK_ERR(kv_populate(x.fd, he, 0, 1, NULL), 0, "POPULATE 1 page of "
		  "the empty space");
	held(&x, T0, 3, 0, "it is charged to its tenant of SPACE_CREATE");
	CHECK_ERR(kv_release(x.fd, he, 0, 1, NULL), 0, "RELEASE it");

	/* Valid calls. Fields not named in flags are not looked at. */
	SSZ(v1 + 8, hf, (void)0, 0, "struct of %zu bytes, zero tail", v1 + 8);
	SSZ(sizeof(buf), hf, (void)0, 0, "struct of %zu bytes, zero tail",
	    sizeof(buf));
	SS(hf, s->tenant = 0xffffffffu, 0, "PRIORITY, tenant 0xffffffff (not "
	   "named in flags)");
	SS(hf, s->priority = INT32_MIN, 0, "PRIORITY INT32_MIN");
	SS(hf, s->priority = INT32_MAX, 0, "PRIORITY INT32_MAX");
	SS(hf, (s->flags = KVMEM_SET_TOKENS, s->tokens = ~0ULL), 0,
	   "TOKENS 2^64-1");
	SS(hf, (s->flags = KVMEM_SET_TOKENS | KVMEM_SET_PRIORITY,
		s->tokens = 4096, s->priority = -3), 0, "PRIORITY | TOKENS");
	held(&x, T0, 2, 0, "the valid calls without TENANT");

	/* TENANT of an empty space: its frames go to the new tenant. */
	SS(he, (s->flags = KVMEM_SET_TENANT, s->tenant = T1), 0,
	   "TENANT %u of the empty space", T1);
	CHECK_ERR(kv_populate(x.fd, he, 0, 3, NULL), 0, "POPULATE 3 pages");
	held(&x, T1, 3, 0, "charged to the new tenant");
	held(&x, T0, 2, 0, "not to the old one");
	SS(he, (s->flags = KVMEM_SET_TENANT, s->tenant = T0), EBUSY,
	   "TENANT back to %u while it holds 3 frames", T0);
	CHECK_ERR(kv_release(x.fd, he, 0, 8, NULL), 0, "RELEASE them all");
	held(&x, T1, 0, 0, "the released frames are uncharged");
	SS(he, (s->flags = KVMEM_SET_FLAGS, s->tenant = T0, s->tokens = 1,
		s->priority = 1), 0, "PRIORITY | TOKENS | TENANT %u of the "
	   "emptied space", T0);
	CHECK_ERR(kv_populate(x.fd, he, 0, 1, NULL), 0, "POPULATE 1 page");
	held(&x, T0, 3, 0, "charged to the first tenant again");
	held(&x, T1, 0, 0, "not to the other");
	kv_space_free(&empty);
	SS(he, (void)0, ENOENT, "handle of a destroyed space");
#undef SS
#undef SSZ
out:
	kv_space_free(&empty);
	kv_space_free(&full);
	held(&x, T0, 0, 0, "every space destroyed");
	tfx_fini(&x, -1);
}

/* --------------------------------------------------- modparam_tenants */

/* Loaded with tenants=n: the ids 0 .. n-1 and no other. */
static void try_tenants(uint32_t n)
{
	struct kvmem_space_create c;
	struct kv_space sp;
	struct kv_env e;
	char extra[32];
	int fd;

	snprintf(extra, sizeof(extra), "tenants=%u", n);
	if (!reload_with(extra, &fd, &e))
		return;
	CHECK_EQ(e.info.ntenants, n, "%s: GET_INFO ntenants", extra);
	CHECK_EQ(kv_sys_ntenants(), n, "%s: tenants/ directories", extra);
	CHECK_EQ(sysfs_u64("/sys/module/" KV_MODNAME "/parameters/tenants"), n,
		 "%s: /sys/module/%s/parameters/tenants", extra, KV_MODNAME);
	memset(&c, 0, sizeof(c));
	c.size = e.ps;
	c.tier = e.pool[e.P].tier;
	c.policy = KVMEM_POLICY_FAIL;
	c.tenant = n;
	CHECK_ERR(kv_ioctl(fd, KVMEM_IOC_SPACE_CREATE, &c), EINVAL,
		  "%s: SPACE_CREATE with tenant %u", extra, n);
	if (ten_space(&sp, fd, 2 * e.ps, e.pool[e.P].tier, KVMEM_POLICY_FAIL,
		      0, n - 1)) {
		char attr[32];

		CHECK_ERR(space_set(fd, sp.c.handle, KVMEM_SET_TENANT, n, 0, 0),
			  EINVAL, "%s: SPACE_SET TENANT %u", extra, n);
		CHECK_ERR(kv_populate(fd, sp.c.handle, 0, 2, NULL), 0,
			  "%s: POPULATE 2 pages of tenant %u", extra, n - 1);
		snprintf(attr, sizeof(attr), "frames_%s",
			 tier_name(e.pool[e.P].tier));
		CHECK_EQ(tenant_u64(n - 1, attr), 2, "%s: tenants/%u/%s",
			 extra, n - 1, attr);
		kv_space_free(&sp);
	}
	close(fd);
}

void test_modparam_tenants(void)
{
	static const char *const bad[] = { "tenants=0", "tenants=4097" };
	struct kv_snap s0;

	if (!mod_idle(&s0))
		return;
	try_tenants(1);
	try_tenants(4096);
	if (!unload_ok("before the bad loads"))
		goto out;
	for (size_t i = 0; i < NELEM(bad); i++) {
		int err = load_with(bad[i]);

		if (!err)
			unload_ok(bad[i]);
		CHECK_ERR(err, EINVAL, "insmod with %s", bad[i]);
		CHECK(access(KV_SYSFS, F_OK) != 0, "%s: no %s left", bad[i],
		      KV_SYSFS);
	}
out:
	mod_back(&s0);
}

/* ------------------------------------------- tenants a client may charge */

#define NOBODY		65534
#define BIND_T		7	/* a tenant nobody is granted at first */

/*
 * In a child that dropped root: SPACE_CREATE in tenant t with priority
 * prio, then (if that worked and set_t >= 0) SPACE_SET of its tenant to
 * set_t. Exit status: CREATE's errno, or 100 + SPACE_SET's errno, 200 for
 * a setup failure; -1 if the child did not exit.
 */
static int bind_as(gid_t gid, uint32_t t, int32_t prio, int set_t)
{
	pid_t pid = xfork();
	int st;

	if (pid == 0) {
		struct kvmem_space_create c = {
			.tier = KVMEM_TIER_DRAM,
			.policy = KVMEM_POLICY_FALLBACK, .tenant = t,
			.priority = prio,
		};
		struct kvmem_info info;
		int fd, err;

		if (setgroups(1, &gid) || setgid(NOBODY) || setuid(NOBODY))
			_exit(200);
		fd = open(KV_DEV, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			_exit(200);
		if (kv_info(fd, &info))
			_exit(200);
		c.size = info.page_size;
		err = kv_ioctl(fd, KVMEM_IOC_SPACE_CREATE, &c);
		if (err || set_t < 0)
			_exit(err);
		err = space_set(fd, c.handle, KVMEM_SET_TENANT, (uint32_t)set_t,
				0, 0);
		_exit(err ? 100 + err : 0);
	}
	if (pid < 0)
		return -1;
	st = xwait_timeout(pid, 20000);
	return st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/*
 * Issue 11, finding 2: a client without the manager role may charge only
 * the default tenant and the tenants whose sysfs uid or gid grants its
 * opener; priorities above priority_max are the manager's. Root (the
 * manager-capable opener of the other tests) may name any tenant.
 */
void test_tenant_bind(void)
{
	struct stat st;
	mode_t old;
	char path[128];

	if (!CHECK(!stat(KV_DEV, &st) && !chmod(KV_DEV, 0666),
		   "chmod 0666 %s", KV_DEV))
		return;
	old = st.st_mode & 07777;
	CHECK_EQ(sysfs_u64("/sys/module/kvmem/parameters/default_tenant"), 0,
		 "default_tenant is 0");
	CHECK_EQ(sysfs_u64("/sys/module/kvmem/parameters/priority_max"), 0,
		 "priority_max is 0");
	CHECK_EQ(bind_as(NOBODY, 0, 0, -1), 0, "nobody: SPACE_CREATE in "
		 "the default tenant 0");
	CHECK_EQ(bind_as(NOBODY, BIND_T, 0, -1), EACCES, "nobody: "
		 "SPACE_CREATE in tenant %u, not granted: EACCES", BIND_T);
	CHECK_EQ(bind_as(NOBODY, 0, 0, BIND_T), 100 + EACCES, "nobody: "
		 "SPACE_SET to tenant %u, not granted: EACCES", BIND_T);
	CHECK_EQ(bind_as(NOBODY, 0, 1, -1), EPERM, "nobody: priority 1 "
		 "above priority_max 0: EPERM");
	CHECK_EQ(bind_as(NOBODY, 0, -5, -1), 0, "nobody: priority -5 is "
		 "allowed");
	CHECK(tset(BIND_T, "uid", "65534"), "grant tenant %u to uid 65534",
	      BIND_T);
	CHECK_EQ(bind_as(NOBODY, BIND_T, 0, -1), 0, "nobody: SPACE_CREATE "
		 "in tenant %u, granted by uid", BIND_T);
	CHECK_EQ(bind_as(NOBODY, 0, 0, BIND_T), 0, "nobody: SPACE_SET to "
		 "tenant %u, granted by uid", BIND_T);
	CHECK_EQ(bind_as(NOBODY, BIND_T + 1, 0, -1), EACCES, "nobody: "
		 "tenant %u still not granted", BIND_T + 1);
	tset(BIND_T, "uid", "-1");
	tset(BIND_T, "gid", "4243");
	CHECK_EQ(bind_as(NOBODY, BIND_T, 0, -1), EACCES, "nobody, not in "
		 "group 4243: EACCES");
	CHECK_EQ(bind_as(4243, BIND_T, 0, -1), 0, "nobody with supplementary "
		 "group 4243: granted by gid");
	tset(BIND_T, "gid", "-1");
	CHECK_EQ(bind_as(4243, BIND_T, 0, -1), EACCES, "grant taken back");
	CHECK_ERR(tenant_write(BIND_T, "uid", "abc"), EINVAL, "uid 'abc' "
		  "rejected");
	CHECK_ERR(tenant_write(BIND_T, "gid", "-2"), EINVAL, "gid -2 "
		  "rejected");
	snprintf(path, sizeof(path), "/sys/module/kvmem/parameters/"
		 "priority_max");
	if (CHECK_ERR(sysfs_write(path, "10"), 0, "priority_max <- 10")) {
		CHECK_EQ(bind_as(NOBODY, 0, 10, -1), 0, "nobody: priority 10 "
			 "up to priority_max 10");
		CHECK_EQ(bind_as(NOBODY, 0, 11, -1), EPERM, "nobody: priority "
			 "11: EPERM");
		sysfs_write(path, "0");
	}
	chmod(KV_DEV, old);
	{
		/* Per-tenant usage is not for every user to read. */
		pid_t pid = xfork();
		int st2;

		if (pid == 0) {
			int fd;

			if (setgroups(0, NULL) || setgid(NOBODY) ||
			    setuid(NOBODY))
				_exit(200);
			fd = open(KV_SYSFS "/tenants/0/frames_dram", O_RDONLY);
			_exit(fd < 0 ? errno : 0);
		}
		st2 = pid > 0 ? xwait_timeout(pid, 20000) : -1;
		CHECK_EQ(st2 >= 0 && WIFEXITED(st2) ? WEXITSTATUS(st2) : -1,
			 EACCES, "nobody cannot open tenants/0/frames_dram");
	}
}
