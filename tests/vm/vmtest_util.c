// SPDX-License-Identifier: GPL-2.0
/*
 * kvmem-vmtest helpers: device and ioctl wrappers, sysfs, snapshots of the
 * module state, module (un)loading, SIGBUS probes, patterns, processes.
 */
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vmtest.h"

/* ------------------------------------------------------------ the device */

int kv_open(void)
{
	int fd = open(KV_DEV, O_RDWR | O_CLOEXEC);

	if (fd < 0 && errno == ENOENT) {
		/* No devtmpfs node (yet): make one from sysfs. */
		char dev[32];
		unsigned int ma, mi;

		if (!sysfs_read(KV_SYSFS "/dev", dev, sizeof(dev)) &&
		    sscanf(dev, "%u:%u", &ma, &mi) == 2) {
			mknod(KV_DEV, S_IFCHR | 0600, makedev(ma, mi));
			fd = open(KV_DEV, O_RDWR | O_CLOEXEC);
		}
	}
	if (fd < 0)
		CHECK(0, "open(%s): %s", KV_DEV, errname(errno));
	return fd;
}

int kv_ioctl(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) ? errno : 0;
}

int kv_info(int fd, struct kvmem_info *info)
{
	memset(info, 0, sizeof(*info));
	return kv_ioctl(fd, KVMEM_IOC_GET_INFO, info);
}

int kv_pool_query(int fd, uint32_t index, struct kvmem_pool_info *pi)
{
	memset(pi, 0, sizeof(*pi));
	pi->index = index;
	return kv_ioctl(fd, KVMEM_IOC_POOL_QUERY, pi);
}

int kv_create(int fd, uint64_t size, uint32_t tier, uint32_t policy,
	      uint32_t timeout_ms, struct kvmem_space_create *out)
{
	memset(out, 0, sizeof(*out));
	out->size = size;
	out->tier = tier;
	out->policy = policy;
	out->timeout_ms = timeout_ms;
	return kv_ioctl(fd, KVMEM_IOC_SPACE_CREATE, out);
}

int kv_create_expect(int fd, uint64_t size, uint32_t tier, uint32_t policy,
		     int exp, const char *fmt, ...)
{
	struct kvmem_space_create c;
	char what[160];
	va_list ap;
	int err;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	err = kv_create(fd, size, tier, policy, 0, &c);
	CHECK_ERR(err, exp, "%s", what);
	if (!err)
		kv_destroy(fd, c.handle);
	return err;
}

int kv_destroy(int fd, uint32_t handle)
{
	struct kvmem_space_destroy d = { .handle = handle };

	return kv_ioctl(fd, KVMEM_IOC_SPACE_DESTROY, &d);
}

static int kv_range(int fd, unsigned long cmd, uint32_t handle,
		    uint64_t first, uint64_t count, uint64_t *done)
{
	struct kvmem_range r = {
		.handle = handle, .first = first, .count = count,
		.done = 0xdeadbeefULL,
	};
	int err = kv_ioctl(fd, cmd, &r);

	if (done)
		*done = r.done;
	return err;
}

int kv_populate(int fd, uint32_t handle, uint64_t first, uint64_t count,
		uint64_t *done)
{
	return kv_range(fd, KVMEM_IOC_POPULATE, handle, first, count, done);
}

int kv_release(int fd, uint32_t handle, uint64_t first, uint64_t count,
	       uint64_t *done)
{
	return kv_range(fd, KVMEM_IOC_RELEASE, handle, first, count, done);
}

int kv_query(int fd, uint32_t handle, uint64_t first, uint64_t count,
	     struct kvmem_residency *res, uint64_t *resident)
{
	struct kvmem_query q = {
		.handle = handle, .first = first, .count = count,
		.residency = (uint64_t)(uintptr_t)res,
		.resident = 0xdeadbeefULL,
	};
	int err = kv_ioctl(fd, KVMEM_IOC_QUERY, &q);

	if (resident)
		*resident = q.resident;
	return err;
}

uint64_t kv_resident(int fd, uint32_t handle, uint64_t first, uint64_t count)
{
	uint64_t r;

	if (kv_query(fd, handle, first, count, NULL, &r))
		return UINT64_MAX;
	return r;
}

void *kv_map(int fd, uint64_t offset, uint64_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		       (off_t)offset);

	return p == MAP_FAILED ? NULL : p;
}

bool kv_space_new(struct kv_space *s, int fd, uint64_t size, uint32_t tier,
		  uint32_t policy, uint32_t timeout_ms)
{
	int err;

	memset(s, 0, sizeof(*s));
	s->fd = fd;
	s->size = size;
	err = kv_create(fd, size, tier, policy, timeout_ms, &s->c);
	if (err) {
		CHECK_ERR(err, 0, "SPACE_CREATE size %llu tier %u policy %u "
			  "timeout %u", (unsigned long long)size, tier, policy,
			  timeout_ms);
		return false;
	}
	s->map = kv_map(fd, s->c.mmap_offset, size);
	if (!s->map) {
		CHECK_ERR(errno, 0, "mmap of the space (offset 0x%llx, %llu "
			  "bytes)", (unsigned long long)s->c.mmap_offset,
			  (unsigned long long)size);
		kv_destroy(fd, s->c.handle);
		s->c.handle = 0;
		return false;
	}
	return true;
}

void kv_space_free(struct kv_space *s)
{
	if (s->map) {
		if (munmap(s->map, s->size))
			CHECK(0, "munmap of the space: %s", errname(errno));
		s->map = NULL;
	}
	if (s->c.handle) {
		int err = kv_destroy(s->fd, s->c.handle);

		if (err)
			CHECK_ERR(err, 0, "SPACE_DESTROY handle %u",
				  s->c.handle);
		s->c.handle = 0;
	}
}

bool kv_setup(int *fd, struct kv_env *e, bool needQ)
{
	*fd = kv_open();
	if (*fd < 0)
		return false;
	if (!kv_env(*fd, e, needQ)) {
		close(*fd);
		*fd = -1;
		return false;
	}
	return true;
}

bool kv_space_fail(struct kv_space *s, int fd, const struct kv_env *e,
		   uint64_t pages)
{
	return kv_space_new(s, fd, pages * e->ps, e->pool[e->P].tier,
			    KVMEM_POLICY_FAIL, 0);
}

bool kv_setup_space(int *fd, struct kv_env *e, struct kv_space *s,
		    uint64_t pages)
{
	memset(s, 0, sizeof(*s));
	if (!kv_setup(fd, e, false))
		return false;
	if (!kv_space_fail(s, *fd, e, pages)) {
		close(*fd);
		*fd = -1;
		return false;
	}
	return true;
}

bool tier_has_pool(const struct kv_env *e, uint32_t tier, int except)
{
	for (int i = 0; i < e->npools; i++)
		if (i != except && e->pool[i].tier == tier)
			return true;
	return false;
}

/* ------------------------------------------------- migration, events */

int kv_migrate(int fd, uint32_t handle, uint64_t first, uint64_t count,
	       uint32_t tier, uint32_t flags, uint64_t cookie, uint64_t *id)
{
	struct kvmem_migrate m = {
		.handle = handle, .flags = flags, .first = first,
		.count = count, .tier = tier, .cookie = cookie,
	};
	int err = kv_ioctl(fd, KVMEM_IOC_MIGRATE, &m);

	if (id)
		*id = m.id;
	return err;
}

bool kv_event_ready(int fd, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	double end = now_ms() + timeout_ms;
	int r;

	for (;;) {
		r = poll(&pfd, 1, timeout_ms);
		if (r >= 0 || errno != EINTR)
			break;
		timeout_ms = (int)(end - now_ms());
		if (timeout_ms < 0)
			timeout_ms = 0;
	}
	return r == 1 && (pfd.revents & POLLIN);
}

int kv_event_wait(int fd, struct kvmem_event *ev, int timeout_ms)
{
	ssize_t n;

	memset(ev, 0xA5, sizeof(*ev));
	if (!kv_event_ready(fd, timeout_ms))
		return ETIMEDOUT;
	do
		n = read(fd, ev, sizeof(*ev));
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno;
	return n == (ssize_t)sizeof(*ev) ? 0 : EIO;
}

bool kv_migrate_sync(int fd, uint32_t handle, uint64_t first, uint64_t count,
		     uint32_t tier, uint32_t flags, struct kvmem_event *ev)
{
	static uint64_t serial;
	uint64_t cookie = 0xC0DE000000000000ULL | ++serial, id = 0;
	int err;

	err = kv_migrate(fd, handle, first, count, tier, flags, cookie, &id);
	if (err)
		return CHECK_ERR(err, 0, "MIGRATE handle %u pages %llu+%llu to "
				 "%s flags %u", handle, U(first), U(count),
				 tier_name(tier), flags);
	err = kv_event_wait(fd, ev, 60000);
	if (err)
		return CHECK_ERR(err, 0, "the event of migration %llu",
				 U(id));
	if (ev->type == KVMEM_EVENT_MIGRATE && ev->id == id &&
	    ev->cookie == cookie && ev->handle == handle)
		return true;
	return CHECK(0, "migration %llu: the next event is type %u id %llu "
		     "cookie 0x%llx handle %u (expected MIGRATE, %llu, 0x%llx, "
		     "%u)", U(id), ev->type, U(ev->id), U(ev->cookie),
		     ev->handle, U(id), U(cookie), handle);
}

bool kv_event_is(const struct kvmem_event *ev, const struct kv_evx *x,
		 const char *what)
{
	const struct {
		const char *name;
		uint64_t got, exp;
	} f[] = {
		{ "type", ev->type, KVMEM_EVENT_MIGRATE },
		{ "seq", ev->seq, x->seq },
		{ "status", (uint64_t)(int64_t)ev->status,
		  (uint64_t)(int64_t)x->status },
		{ "id", ev->id, x->id },
		{ "cookie", ev->cookie, x->cookie },
		{ "handle", ev->handle, x->handle },
		{ "pad", ev->pad, 0 },
		{ "pages", ev->pages, x->pages },
		{ "bytes_copied", ev->bytes_copied, x->copied },
		{ "bytes_reused", ev->bytes_reused, x->reused },
	};
	bool ok = true;

	for (size_t i = 0; i < NELEM(f); i++) {
		if (f[i].exp == KV_ANY)
			continue;
		if (i == 2)	/* an errno reads better signed */
			ok &= CHECK(f[i].got == f[i].exp, "%s: status %d "
				    "(expected %d)", what, ev->status,
				    x->status);
		else
			ok &= CHECK_EQ(f[i].got, f[i].exp, "%s: %s", what,
				       f[i].name);
	}
	return ok;
}

uint64_t kv_count_in(int fd, uint32_t handle, uint64_t first, uint64_t count,
		     uint16_t pool, bool copy)
{
	struct kvmem_residency *res = calloc(count, sizeof(*res));
	uint64_t n = 0;

	if (!res || kv_query(fd, handle, first, count, res, NULL)) {
		free(res);
		return UINT64_MAX;
	}
	for (uint64_t i = 0; i < count; i++)
		n += (copy ? res[i].copy : res[i].pool) == pool;
	free(res);
	return n;
}

/* -------------------------------------------------------------- sysfs */

/*
 * Attribute files stay open (per process) and are re-read with pread() at
 * offset 0, which makes sysfs produce a fresh value: the tests take many
 * snapshots, and path lookups are slow under TCG. A file that fails (its
 * module was unloaded) is opened again by path.
 */
#define SYSFS_CACHE 64
static struct {
	char path[120];
	int fd;
} sysfs_cache[SYSFS_CACHE];
static int sysfs_ncache;

static int sysfs_cached_fd(const char *path, bool fresh)
{
	int i, fd;

	for (i = 0; i < sysfs_ncache; i++)
		if (!strcmp(sysfs_cache[i].path, path))
			break;
	if (i < sysfs_ncache && !fresh && sysfs_cache[i].fd >= 0)
		return sysfs_cache[i].fd;
	if (i < sysfs_ncache && sysfs_cache[i].fd >= 0) {
		close(sysfs_cache[i].fd);
		sysfs_cache[i].fd = -1;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (i == sysfs_ncache) {
		if (sysfs_ncache == SYSFS_CACHE ||
		    strlen(path) >= sizeof(sysfs_cache[0].path))
			return fd | 0x40000000;	/* uncached: caller closes */
		strcpy(sysfs_cache[i].path, path);
		sysfs_ncache++;
	}
	sysfs_cache[i].fd = fd;
	return fd;
}

int sysfs_read(const char *path, char *buf, size_t len)
{
	ssize_t n = -1;
	int e = 0;

	buf[0] = 0;
	for (int attempt = 0; attempt < 2 && n < 0; attempt++) {
		int fd = sysfs_cached_fd(path, attempt > 0);

		if (fd < 0)
			return -fd;
		n = pread(fd & 0x3fffffff, buf, len - 1, 0);
		e = n < 0 ? errno : 0;
		if (fd & 0x40000000)
			close(fd & 0x3fffffff);
	}
	if (n < 0)
		return e;
	buf[n] = 0;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = 0;
	return 0;
}

uint64_t sysfs_u64(const char *fmt, ...)
{
	char path[256], buf[64], *end;
	unsigned long long v;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	if (sysfs_read(path, buf, sizeof(buf)) || !buf[0])
		return UINT64_MAX;
	errno = 0;
	v = strtoull(buf, &end, 0);
	if (errno || *end)
		return UINT64_MAX;
	return v;
}

int sysfs_write(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;
	int e;

	if (fd < 0)
		return errno;
	n = write(fd, val, strlen(val));
	e = n < 0 ? errno : ((size_t)n == strlen(val) ? 0 : EIO);
	close(fd);
	return e;
}

uint64_t kv_sys_spaces(void)
{
	return sysfs_u64(KV_SYSFS "/spaces");
}

uint64_t kv_sys_clients(void)
{
	return sysfs_u64(KV_SYSFS "/clients");
}

/* Entries of directory dir named prefix<decimal number>; -1 if no dir. */
static int count_numbered(const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	size_t len = strlen(prefix);
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d))) {
		const char *num = de->d_name + len;

		if (!strncmp(de->d_name, prefix, len) && *num &&
		    strspn(num, "0123456789") == strlen(num))
			n++;
	}
	closedir(d);
	return n;
}

/* A value of this process's fdinfo of fd, by key; UINT64_MAX if absent. */
uint64_t kv_fdinfo_u64(int fd, const char *key)
{
	char path[64], line[256];
	uint64_t v = UINT64_MAX;
	size_t kl = strlen(key);
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return v;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, kl) && line[kl] == ':')
			v = strtoull(line + kl + 1, NULL, 10);
	fclose(f);
	return v;
}

int kv_sys_npools(void)
{
	return count_numbered(KV_SYSFS "/pools", "pool");
}

uint64_t pool_u64(int pool, const char *attr)
{
	return sysfs_u64(KV_SYSFS "/pools/pool%d/%s", pool, attr);
}

uint64_t pool_free(int pool)
{
	return pool_u64(pool, "frames_free");
}

int pool_tier_str(int pool, char *buf, size_t len)
{
	char path[128];

	snprintf(path, sizeof(path), KV_SYSFS "/pools/pool%d/tier", pool);
	return sysfs_read(path, buf, len);
}

int tier_from_name(const char *s)
{
	if (!strcmp(s, "hbm"))
		return KVMEM_TIER_HBM;
	if (!strcmp(s, "dram"))
		return KVMEM_TIER_DRAM;
	if (!strcmp(s, "cxl"))
		return KVMEM_TIER_CXL;
	return -1;
}

const char *tier_name(uint32_t tier)
{
	switch (tier) {
	case KVMEM_TIER_HBM: return "hbm";
	case KVMEM_TIER_DRAM: return "dram";
	case KVMEM_TIER_CXL: return "cxl";
	default: return "?";
	}
}

int pool_set_reserve(int pool, uint64_t frames)
{
	char path[128], val[32];

	snprintf(path, sizeof(path), KV_SYSFS "/pools/pool%d/reserve", pool);
	snprintf(val, sizeof(val), "%llu", (unsigned long long)frames);
	return sysfs_write(path, val);
}

int pool_set_tier(int pool, const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), KV_SYSFS "/pools/pool%d/tier", pool);
	return sysfs_write(path, name);
}

static void tenant_path(char *path, size_t len, uint32_t t, const char *attr)
{
	snprintf(path, len, KV_SYSFS "/tenants/%u/%s", t, attr);
}

int tenant_read(uint32_t t, const char *attr, char *buf, size_t len)
{
	char path[128];

	tenant_path(path, sizeof(path), t, attr);
	return sysfs_read(path, buf, len);
}

uint64_t tenant_u64(uint32_t t, const char *attr)
{
	return sysfs_u64(KV_SYSFS "/tenants/%u/%s", t, attr);
}

int tenant_write(uint32_t t, const char *attr, const char *val)
{
	char path[128];

	tenant_path(path, sizeof(path), t, attr);
	return sysfs_write(path, val);
}

int kv_sys_ntenants(void)
{
	return count_numbered(KV_SYSFS "/tenants", "");
}

int tenants_restore(const char *what)
{
	static const char *const attr[] = { "quota_hbm", "quota_dram",
					    "quota_cxl", "weight" };
	int n = kv_sys_ntenants(), bad = 0;
	char buf[32];

	for (uint32_t t = 0; n > 0 && t < (uint32_t)n; t++) {
		for (size_t i = 0; i < NELEM(attr); i++) {
			const char *def = i < 3 ? "max" : "1";

			if (!tenant_read(t, attr[i], buf, sizeof(buf)) &&
			    !strcmp(buf, def))
				continue;
			bad++;
			CHECK(0, "%s: tenants/%u/%s left at '%s'; restoring "
			      "'%s'", what, t, attr[i], buf, def);
			tenant_write(t, attr[i], def);
		}
	}
	return bad;
}

/*
 * Free memory of a node: the buddy allocator's free pages plus the pages
 * sitting on the per-CPU free lists (which MemFree does not count, and
 * which a burst of frees fills), after folding the per-CPU vmstat deltas.
 * From /proc/zoneinfo; falls back to the node's MemFree.
 */
uint64_t node_memfree(int node)
{
	char path[96], line[256];
	uint64_t kb = UINT64_MAX, pages = 0;
	bool found = false;
	int cur = -1;
	FILE *f;

	sysfs_write("/proc/sys/vm/stat_refresh", "1");
	f = fopen("/proc/zoneinfo", "r");
	if (f) {
		while (fgets(line, sizeof(line), f)) {
			unsigned long long v;
			int n;

			if (sscanf(line, "Node %d, zone", &n) == 1) {
				cur = n;
				continue;
			}
			if (cur != node)
				continue;
			if (sscanf(line, " pages free %llu", &v) == 1 ||
			    sscanf(line, " count: %llu", &v) == 1) {
				pages += v;
				found = true;
			}
		}
		fclose(f);
		if (found)
			return pages * CPU_PAGE;
	}
	snprintf(path, sizeof(path), "/sys/devices/system/node/node%d/meminfo",
		 node);
	f = fopen(path, "r");
	if (!f)
		return UINT64_MAX;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long v;
		int n;

		if (sscanf(line, "Node %d MemFree: %llu kB", &n, &v) == 2) {
			kb = v;
			break;
		}
	}
	fclose(f);
	return kb == UINT64_MAX ? kb : kb * 1024;
}

bool node_has_cpus(int node)
{
	char path[96], buf[256];

	snprintf(path, sizeof(path), "/sys/devices/system/node/node%d/cpulist",
		 node);
	if (sysfs_read(path, buf, sizeof(buf)))
		return false;
	return buf[0] != 0;
}

void snap_take(struct kv_snap *s)
{
	memset(s, 0, sizeof(*s));
	s->loaded = access(KV_SYSFS "/abi_version", F_OK) == 0;
	if (!s->loaded)
		return;
	s->spaces = kv_sys_spaces();
	s->clients = kv_sys_clients();
	s->refcnt = sysfs_u64("/sys/module/" KV_MODNAME "/refcnt");
	s->npools = kv_sys_npools();
	for (int i = 0; i < s->npools && i < KV_MAX_POOLS; i++) {
		struct kv_pool_snap *p = &s->p[i];

		p->node = pool_u64(i, "node");
		p->page_size = pool_u64(i, "page_size");
		p->total = pool_u64(i, "frames_total");
		p->free = pool_u64(i, "frames_free");
		p->used = pool_u64(i, "frames_used");
		p->reserve = pool_u64(i, "reserve");
		if (pool_tier_str(i, p->tier, sizeof(p->tier)))
			strcpy(p->tier, "?");
	}
}

static bool snap_cmp(const struct kv_snap *a, const struct kv_snap *b,
		     const char *what, bool loud)
{
	bool same = true;

#define D(cond, ...) do { \
		if (cond) { \
			same = false; \
			if (loud) \
				CHECK(0, __VA_ARGS__); \
		} \
	} while (0)
	D(a->loaded != b->loaded, "%s: module loaded %d -> %d", what,
	  a->loaded, b->loaded);
	if (!a->loaded || !b->loaded)
		return same;
	D(a->spaces != b->spaces, "%s: sysfs spaces %llu -> %llu", what,
	  U(a->spaces), U(b->spaces));
	D(a->clients != b->clients, "%s: sysfs clients %llu -> %llu", what,
	  U(a->clients), U(b->clients));
	D(a->refcnt != b->refcnt, "%s: module refcnt %llu -> %llu", what,
	  U(a->refcnt), U(b->refcnt));
	D(a->npools != b->npools, "%s: pools %d -> %d", what, a->npools,
	  b->npools);
	for (int i = 0; i < a->npools && i < b->npools && i < KV_MAX_POOLS;
	     i++) {
		const struct kv_pool_snap *p = &a->p[i], *q = &b->p[i];

		D(p->node != q->node, "%s: pool%d node %llu -> %llu", what, i,
		  U(p->node), U(q->node));
		D(p->page_size != q->page_size,
		  "%s: pool%d page_size %llu -> %llu", what, i,
		  U(p->page_size), U(q->page_size));
		D(p->total != q->total, "%s: pool%d frames_total %llu -> %llu",
		  what, i, U(p->total), U(q->total));
		D(p->free != q->free, "%s: pool%d frames_free %llu -> %llu",
		  what, i, U(p->free), U(q->free));
		D(p->used != q->used, "%s: pool%d frames_used %llu -> %llu",
		  what, i, U(p->used), U(q->used));
		D(p->reserve != q->reserve, "%s: pool%d reserve %llu -> %llu",
		  what, i, U(p->reserve), U(q->reserve));
		D(strcmp(p->tier, q->tier), "%s: pool%d tier %s -> %s", what,
		  i, p->tier, q->tier);
	}
#undef D
	return same;
}

bool snap_same(const struct kv_snap *a, const struct kv_snap *b,
	       const char *what)
{
	bool same = snap_cmp(a, b, what, true);

	if (same)
		CHECK(1, "%s: module state unchanged", what);
	return same;
}

bool snap_equal(const struct kv_snap *a, const struct kv_snap *b)
{
	return snap_cmp(a, b, "", false);
}

bool snap_kept(const struct kv_snap *a, const char *what)
{
	struct kv_snap b;

	snap_take(&b);
	if (snap_equal(a, &b))
		return true;
	return snap_same(a, &b, what);
}

bool snap_back(const struct kv_snap *a, int ms, const char *what)
{
	double end = now_ms() + ms;
	struct kv_snap b;

	for (;;) {
		snap_take(&b);
		if (snap_equal(a, &b) || now_ms() > end)
			break;
		sleep_ms(10);
	}
	return snap_same(a, &b, what);
}

bool reserve_set(struct kv_reserves *r, int pool, uint64_t frames)
{
	uint64_t was = pool_u64(pool, "reserve");

	if (!CHECK(was != UINT64_MAX, "read pool%d/reserve", pool))
		return false;
	if (!r->changed[pool]) {
		r->old[pool] = was;
		r->changed[pool] = true;
	}
	return CHECK_ERR(pool_set_reserve(pool, frames), 0,
			 "pool%d reserve %llu -> %llu", pool, U(was),
			 U(frames)) &&
	       CHECK_EQ(pool_u64(pool, "frames_total"), frames,
			"pool%d owns the frames of its reserve", pool);
}

void reserve_undo(struct kv_reserves *r)
{
	for (int i = 0; i < KV_MAX_POOLS; i++) {
		if (!r->changed[i])
			continue;
		CHECK_ERR(pool_set_reserve(i, r->old[i]), 0, "put pool%d "
			  "reserve back to %llu", i, U(r->old[i]));
		r->changed[i] = false;
	}
}

bool kv_env(int fd, struct kv_env *e, bool needQ)
{
	int err;

	memset(e, 0, sizeof(*e));
	e->P = e->Q = -1;
	err = kv_info(fd, &e->info);
	if (err) {
		CHECK_ERR(err, 0, "GET_INFO");
		return false;
	}
	e->ps = e->info.page_size;
	e->npools = (int)e->info.npools;
	if (e->npools < 1 || e->npools > KV_MAX_POOLS || !e->ps) {
		CHECK(0, "GET_INFO: npools %d page_size %llu unusable",
		      e->npools, (unsigned long long)e->ps);
		return false;
	}
	for (int i = 0; i < e->npools; i++) {
		err = kv_pool_query(fd, (uint32_t)i, &e->pool[i]);
		if (err) {
			CHECK_ERR(err, 0, "POOL_QUERY %d", i);
			return false;
		}
	}
	for (int i = 0; i < e->npools && e->P < 0; i++)
		if (e->pool[i].tier == KVMEM_TIER_DRAM)
			e->P = i;
	for (int i = 0; i < e->npools && e->P < 0; i++)
		if (node_has_cpus(e->pool[i].node))
			e->P = i;
	if (e->P < 0)
		e->P = 0;
	/* Prefer a CXL pool as Q, else any pool of another tier. */
	for (int i = 0; i < e->npools && e->Q < 0; i++)
		if (i != e->P && e->pool[i].tier == KVMEM_TIER_CXL &&
		    e->pool[i].tier != e->pool[e->P].tier)
			e->Q = i;
	for (int i = 0; i < e->npools && e->Q < 0; i++)
		if (i != e->P && e->pool[i].tier != e->pool[e->P].tier)
			e->Q = i;
	if (needQ && e->Q < 0) {
		CHECK(0, "need two pools of different tiers; pools: %d, P=pool%d "
		      "tier %s", e->npools, e->P,
		      tier_name(e->pool[e->P].tier));
		return false;
	}
	return true;
}

/* ----------------------------------------------------- module (un)load */

bool mod_loaded(void)
{
	return access("/sys/module/" KV_MODNAME, F_OK) == 0;
}

const char *mod_default_params(void)
{
	static char buf[512];
	static bool done;
	const char *path;
	size_t n;

	if (done)
		return buf;
	done = true;
	path = getenv("KVMEM_PARAMS");
	if (!path)
		path = KV_PARAMS_DEFAULT;
	if (sysfs_read(path, buf, sizeof(buf)))
		buf[0] = 0;
	for (char *p = buf; *p; p++)
		if (*p == '\n' || *p == '\t' || *p == '\r')
			*p = ' ';
	n = strlen(buf);
	while (n && buf[n - 1] == ' ')
		buf[--n] = 0;
	return buf;
}

uint64_t mod_default_reserve_mib(void)
{
	const char *p = mod_default_params(), *hit = NULL;
	uint64_t v = 64;

	for (const char *q = p; (q = strstr(q, "reserve_mib=")); q++)
		if (q == p || q[-1] == ' ')
			hit = q;
	if (hit)
		v = strtoull(hit + strlen("reserve_mib="), NULL, 0);
	return v;
}

int mod_unload(void)
{
	return syscall(SYS_delete_module, KV_MODNAME, O_NONBLOCK) ? errno : 0;
}

int mod_load(const char *params)
{
	const char *ko = getenv("KVMEM_KO");
	int fd, err;

	if (!ko)
		ko = KV_KO_DEFAULT;
	fd = open(ko, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = errno;
		CHECK(0, "open(%s): %s", ko, errname(err));
		return err;
	}
	err = syscall(SYS_finit_module, fd, params, 0) ? errno : 0;
	close(fd);
	return err;
}

bool mod_restore(bool nondefault)
{
	int err;

	if (mod_loaded() && nondefault) {
		for (int i = 0; i < 100; i++) {
			err = mod_unload();
			if (err != EAGAIN && err != EBUSY)
				break;
			sleep_ms(20);
		}
		if (err) {
			CHECK_ERR(err, 0, "restore: unload the module");
			return false;
		}
	}
	if (!mod_loaded()) {
		err = mod_load(mod_default_params());
		if (err) {
			CHECK_ERR(err, 0, "restore: load the module with '%s'",
				  mod_default_params());
			return false;
		}
	}
	return true;
}

/* ---------------------------------------------------------- SIGBUS probe */

static sigjmp_buf probe_jb;
static volatile sig_atomic_t probe_armed;
static volatile sig_atomic_t probe_sig;
void *volatile probe_addr;

static void probe_handler(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	if (probe_armed) {
		probe_armed = 0;
		probe_sig = sig;
		probe_addr = si->si_addr;
		siglongjmp(probe_jb, 1);
	}
	/* Not ours: die of it as usual. */
	signal(sig, SIG_DFL);
	raise(sig);
}

void probe_init(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = probe_handler;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);
}

/* One access at p: a write of v, or a read into *out. */
static int probe_access(volatile uint8_t *p, bool write, uint8_t v,
			uint8_t *out)
{
	probe_sig = 0;
	probe_addr = NULL;
	if (sigsetjmp(probe_jb, 1) == 0) {
		probe_armed = 1;
		if (write)
			*p = v;
		else
			*out = *p;
		probe_armed = 0;
		return 0;
	}
	return probe_sig;
}

int probe_read(const volatile uint8_t *p, uint8_t *out)
{
	return probe_access((volatile uint8_t *)p, false, 0, out);
}

int probe_write(volatile uint8_t *p, uint8_t v)
{
	return probe_access(p, true, v, NULL);
}

/* ------------------------------------------------------- data patterns */

void pat_fill(void *p, uint64_t len, uint64_t seed, uint64_t base_word)
{
	uint64_t *w = p;

	for (uint64_t i = 0; i < len / 8; i++)
		w[i] = pat64(seed, base_word + i);
}

uint64_t pat_check(const void *p, uint64_t len, uint64_t seed,
		   uint64_t base_word)
{
	const uint64_t *w = p;

	for (uint64_t i = 0; i < len / 8; i++)
		if (w[i] != pat64(seed, base_word + i))
			return i * 8;
	return UINT64_MAX;
}

uint64_t zero_check(const void *p, uint64_t len)
{
	const uint64_t *w = p;
	uint64_t i;

	for (i = 0; i < len / 8; i++)
		if (w[i])
			break;
	for (i *= 8; i < len; i++)
		if (((const uint8_t *)p)[i])
			return i;
	return UINT64_MAX;
}

uint64_t byte_check(const void *p, uint64_t len, uint8_t v)
{
	const uint8_t *b = p;

	for (uint64_t i = 0; i < len; i++)
		if (b[i] != v)
			return i;
	return UINT64_MAX;
}

/* ---------------------------------------------------- processes, time */

pid_t xfork(void)
{
	fflush(NULL);
	return fork();
}

int xwait(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return status;
}

int xwait_timeout(pid_t pid, int ms)
{
	double end = now_ms() + ms;
	int status;

	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return status;
		if (r < 0 && errno != EINTR)
			return -2;
		if (now_ms() > end)
			break;
		sleep_ms(5);
	}
	kill(pid, SIGKILL);
	xwait(pid);
	return -1;
}

bool check_child_ok(int status, const char *what)
{
	if (status == -1)
		return CHECK(0, "%s: child timed out (killed)", what);
	if (status < 0)
		return CHECK(0, "%s: waitpid failed", what);
	if (WIFSIGNALED(status))
		return CHECK(0, "%s: child killed by signal %d (%s)", what,
			     WTERMSIG(status), strsignal(WTERMSIG(status)));
	return CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		     "%s: child exit status %d", what,
		     WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

bool child_done(pid_t pid, int timeout_ms, const char *what)
{
	return check_child_ok(xwait_timeout(pid, timeout_ms), what);
}

bool child_waits(pid_t pid, int ms, const char *what)
{
	int st;

	sleep_ms(ms);
	return CHECK_EQ(waitpid(pid, &st, WNOHANG), 0, "%s", what);
}

double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

bool pipe_send(int fd, char c)
{
	ssize_t n;

	do
		n = write(fd, &c, 1);
	while (n < 0 && errno == EINTR);
	return n == 1;
}

bool pipes_open(struct kv_pipes *p)
{
	if (pipe(p->c2p))
		return CHECK(0, "pipe: %s", errname(errno));
	if (pipe(p->p2c)) {
		CHECK(0, "pipe: %s", errname(errno));
		close(p->c2p[0]);
		close(p->c2p[1]);
		return false;
	}
	return true;
}

void pipes_close(struct kv_pipes *p)
{
	close(p->c2p[0]);
	close(p->c2p[1]);
	close(p->p2c[0]);
	close(p->p2c[1]);
}

bool pipe_recv(int fd, char *c, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	double end = now_ms() + timeout_ms;
	ssize_t n;

	for (;;) {
		int left = (int)(end - now_ms());
		int r;

		if (left < 0)
			return false;
		r = poll(&pfd, 1, left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return false;
		break;
	}
	do
		n = read(fd, c, 1);
	while (n < 0 && errno == EINTR);
	return n == 1;
}
