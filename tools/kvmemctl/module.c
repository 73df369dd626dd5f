// SPDX-License-Identifier: GPL-2.0
/*
 * kvmemctl's view of the module without kvmemd: sysfs
 * (Documentation/ABI/testing/sysfs-kvmem), per-client fdinfo
 * (Documentation/fdinfo.md) and the device itself.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/kvmem.h>

#include "kvmemctl.h"

const char *sys_path(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(buf, len, "%s/", opt.sysfs);

	va_start(ap, fmt);
	vsnprintf(buf + n, len - (size_t)n, fmt, ap);
	va_end(ap);
	return buf;
}

/* A small file, trailing newline dropped; 0 or -errno. */
static int read_str(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	if (n < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	close(fd);
	buf[n] = 0;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = 0;
	return 0;
}

/* A number, "max" as -1; @dflt if unreadable. */
static int64_t read_num(const char *path, int64_t dflt)
{
	char buf[64], *end;
	long long v;

	if (read_str(path, buf, sizeof(buf)))
		return dflt;
	if (!strcmp(buf, "max"))
		return -1;
	errno = 0;
	v = strtoll(buf, &end, 10);
	if (errno || end == buf)
		return dflt;
	return v;
}

int sys_write(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	ssize_t n;
	int e;

	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	e = n < 0 ? -errno : 0;
	close(fd);
	return e;
}

void mod_missing(void)
{
	err("the kvmem module is not loaded (%s missing): load it with "
	    "'modprobe kvmem' or 'insmod kvmem.ko' (see "
	    "Documentation/admin-guide.md)", opt.sysfs);
}

static void read_pool(struct ctl_pool *p, int index)
{
	char path[512], buf[64];

	memset(p, 0, sizeof(*p));
	p->index = index;
	p->device = !read_str(sys_path(path, sizeof(path),
			      "pools/pool%d/kind", index), buf, sizeof(buf)) &&
		    !strcmp(buf, "device");
	p->node = (int)read_num(sys_path(path, sizeof(path),
				"pools/pool%d/node", index), -1);
	p->devid = (uint32_t)read_num(sys_path(path, sizeof(path),
				      "pools/pool%d/device", index), 0);
	p->tier = -1;
	if (!read_str(sys_path(path, sizeof(path), "pools/pool%d/tier", index),
		      buf, sizeof(buf)))
		p->tier = tier_parse(buf);
#define P(field, name) p->field = (uint64_t)read_num(sys_path(path, \
		sizeof(path), "pools/pool%d/" name, index), 0)
	P(page_size, "page_size");
	P(total, "frames_total");
	P(free, "frames_free");
	P(used, "frames_used");
	P(low_watermark, "low_watermark");
#undef P
	p->reserve = p->device ? -1 : read_num(sys_path(path, sizeof(path),
					"pools/pool%d/reserve", index), -1);
}

static void read_tenant(struct ctl_tenant *t, int id)
{
	char path[512];

	memset(t, 0, sizeof(*t));
	t->id = id;
#define T(field, name, dflt) t->field = read_num(sys_path(path, \
		sizeof(path), "tenants/%d/%s", id, name), dflt)
	t->weight = (uint64_t)read_num(sys_path(path, sizeof(path),
				       "tenants/%d/weight", id), 1);
	for (int i = 0; i < CTL_NR_TIERS; i++) {
		char name[32];

		snprintf(name, sizeof(name), "quota_%s", tier_names[i]);
		T(quota[i], name, -1);
		snprintf(name, sizeof(name), "frames_%s", tier_names[i]);
		T(frames[i], name, -1);
		snprintf(name, sizeof(name), "migrated_in_%s", tier_names[i]);
		T(migrated_in[i], name, -1);
		snprintf(name, sizeof(name), "migrated_out_%s", tier_names[i]);
		T(migrated_out[i], name, -1);
	}
	T(faults, "faults", -1);
	T(preemptions, "preemptions", -1);
	T(runnable, "spaces_runnable", -1);
	T(preempted, "spaces_preempted", -1);
	T(prefetch, "spaces_prefetch", -1);
	T(uid, "uid", -1);
	T(gid, "gid", -1);
#undef T
}

static int numeric_suffix(const char *name, const char *prefix)
{
	size_t n = strlen(prefix);
	char *end;
	long v;

	if (strncmp(name, prefix, n) || !name[n])
		return -1;
	v = strtol(name + n, &end, 10);
	return *end || v < 0 || v > 1 << 20 ? -1 : (int)v;
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* The numbered entries of a directory ("poolN", "N"), sorted. */
static int list_dir(const char *dir, const char *prefix, int *out, int max)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d)) && n < max) {
		int v = numeric_suffix(de->d_name, prefix);

		if (v >= 0)
			out[n++] = v;
	}
	closedir(d);
	qsort(out, (size_t)n, sizeof(*out), cmp_int);
	return n;
}

static struct ctl_client *client_get(struct ctl_module *m, uint32_t id)
{
	struct ctl_client *c;

	for (int i = 0; i < m->nclients; i++)
		if (m->cl[i].id == id)
			return &m->cl[i];
	c = realloc(m->cl, sizeof(*c) * (size_t)(m->nclients + 1));
	if (!c)
		return NULL;
	m->cl = c;
	c = &m->cl[m->nclients++];
	memset(c, 0, sizeof(*c));
	c->id = id;
	return c;
}

/* One fdinfo file: a kvmem client's keys (Documentation/fdinfo.md). */
static void read_fdinfo(struct ctl_module *m, const char *path, int pid)
{
	FILE *f = fopen(path, "re");
	char line[256];
	struct ctl_client c = { 0 }, *to;
	bool kvmem = false;

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *tab = strchr(line, '\t');
		unsigned long long v;

		if (strncmp(line, "kvmem-", 6) || !tab)
			continue;
		*tab = 0;
		v = strtoull(tab + 1, NULL, 10);
		if (!strcmp(line, "kvmem-client-id:")) {
			c.id = (uint32_t)v;
			kvmem = true;
		} else if (!strcmp(line, "kvmem-manager:")) {
			c.manager = v;
		} else if (!strcmp(line, "kvmem-spaces:")) {
			c.spaces = v;
		} else if (!strcmp(line, "kvmem-faults:")) {
			c.faults = v;
		} else if (!strncmp(line, "kvmem-migrated-in-", 18)) {
			c.migrated += v;
		} else if (!strncmp(line, "kvmem-memory-", 13)) {
			int t;

			line[strlen(line) - 1] = 0;	/* the colon */
			t = tier_parse(line + 13);
			if (t >= 0)
				c.kib[t] = v;
		}
	}
	fclose(f);
	if (!kvmem || !(to = client_get(m, c.id)))
		return;
	c.npids = to->npids;
	memcpy(c.pids, to->pids, sizeof(c.pids));
	*to = c;
	for (int i = 0; i < to->npids; i++)
		if (to->pids[i] == pid)
			return;
	if (to->npids < (int)(sizeof(to->pids) / sizeof(to->pids[0])))
		to->pids[to->npids++] = pid;
}

/* Every process's fdinfo of a kvmem file (readable: root sees all). */
static void read_clients(struct ctl_module *m)
{
	DIR *proc = opendir(opt.proc);
	struct dirent *de;

	if (!proc)
		return;
	while ((de = readdir(proc))) {
		char dir[300], path[600];
		struct dirent *fe;
		int pid = numeric_suffix(de->d_name, "");
		DIR *fd;

		if (pid <= 0)
			continue;
		snprintf(dir, sizeof(dir), "%s/%d/fd", opt.proc, pid);
		fd = opendir(dir);
		if (!fd) {
			if (errno == EACCES)
				m->clients_partial = true;
			continue;
		}
		while ((fe = readdir(fd))) {
			char target[256];
			ssize_t n;

			if (fe->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, fe->d_name);
			n = readlink(path, target, sizeof(target) - 1);
			if (n <= 0)
				continue;
			target[n] = 0;
			if (strcmp(target, opt.device) && !strstr(target, "kvmem"))
				continue;
			snprintf(path, sizeof(path), "%s/%d/fdinfo/%s", opt.proc,
				 pid, fe->d_name);
			read_fdinfo(m, path, pid);
		}
		closedir(fd);
	}
	closedir(proc);
}

int mod_read(struct ctl_module *m, bool clients)
{
	char path[512];
	int idx[CTL_MAX_POOLS], n, *tids;

	memset(m, 0, sizeof(*m));
	if (access(opt.sysfs, F_OK)) {
		mod_missing();
		return -ENOENT;
	}
	m->loaded = true;
	m->abi = (uint64_t)read_num(sys_path(path, sizeof(path), "abi_version"), 0);
	m->spaces = (uint64_t)read_num(sys_path(path, sizeof(path), "spaces"), 0);
	m->clients = (uint64_t)read_num(sys_path(path, sizeof(path), "clients"), 0);
	n = list_dir(sys_path(path, sizeof(path), "pools"), "pool", idx,
		     CTL_MAX_POOLS);
	for (int i = 0; i < n; i++)
		read_pool(&m->pools[m->npools++], idx[i]);
	tids = calloc(CTL_MAX_TENANTS, sizeof(*tids));
	n = tids ? list_dir(sys_path(path, sizeof(path), "tenants"), "", tids,
			    CTL_MAX_TENANTS) : -ENOMEM;
	if (n > 0 && (m->tenants = calloc((size_t)n, sizeof(*m->tenants))))
		for (int i = 0; i < n; i++)
			read_tenant(&m->tenants[m->ntenants++], tids[i]);
	free(tids);
	if (clients)
		read_clients(m);
	return 0;
}

void mod_free(struct ctl_module *m)
{
	free(m->tenants);
	free(m->cl);
	memset(m, 0, sizeof(*m));
}

const struct ctl_pool *mod_pool(const struct ctl_module *m, int index)
{
	for (int i = 0; i < m->npools; i++)
		if (m->pools[i].index == index)
			return &m->pools[i];
	return NULL;
}

const char *pool_label(const struct ctl_pool *p)
{
	static char buf[96];
	const char *t = p->tier >= 0 ? tier_names[p->tier] : "?";

	if (p->device)
		snprintf(buf, sizeof(buf), "pool%d (device %04x:%02x:%02x.%x, %s)",
			 p->index, p->devid >> 16, (p->devid >> 8) & 0xff,
			 (p->devid >> 3) & 0x1f, p->devid & 7, t);
	else
		snprintf(buf, sizeof(buf), "pool%d (node %d, %s)", p->index,
			 p->node, t);
	return buf;
}

int dev_open(bool manager)
{
	struct kvmem_manager mgr = { 0 };
	int fd = open(opt.device, O_RDWR | O_CLOEXEC);
	int e;

	if (fd < 0) {
		e = -errno;
		if (e == -ENOENT || e == -ENODEV || e == -ENXIO)
			err("%s: %s: the kvmem module is not loaded (modprobe "
			    "kvmem)", opt.device, strerror(-e));
		else if (e == -EACCES)
			err("%s: permission denied: run as root, or as a member "
			    "of the device's group (see the udev rule in "
			    "Documentation/admin-guide.md)", opt.device);
		else
			err("%s: %s", opt.device, strerror(-e));
		return e;
	}
	if (manager && ioctl(fd, KVMEM_IOC_MANAGER, &mgr)) {
		e = -errno;
		dev_explain("taking the manager role", e);
		close(fd);
		return e;
	}
	return fd;
}

void dev_explain(const char *what, int e)
{
	switch (-e) {
	case EPERM:
		err("%s: permission denied: needs root (CAP_SYS_ADMIN) or "
		    "membership of the module's manager_gid group", what);
		break;
	case EBUSY:
		err("%s: another process holds the manager role (kvmemd?) but "
		    "its control socket %s does not answer: give kvmemd's "
		    "socket with --socket, or stop that manager", what,
		    opt.socket);
		break;
	default:
		err("%s: %s", what, strerror(-e));
	}
}
