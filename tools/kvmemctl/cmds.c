// SPDX-License-Identifier: GPL-2.0
/*
 * kvmemctl's commands but top: status, pools, pool, tenants, tenant,
 * seqs, move, daemon.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <linux/kvmem.h>

#include "kvmemctl.h"

/* ---- shared ------------------------------------------------------------- */

static const char *src_module(void)
{
	static char buf[600];

	snprintf(buf, sizeof(buf), "module (sysfs %s)", opt.sysfs);
	return buf;
}

/* "kvmemd (PATH)" when @d, else the module. */
static void source_of(bool daemon, const char *module_part)
{
	char buf[800];

	if (daemon)
		snprintf(buf, sizeof(buf), "kvmemd (%s)%s%s", opt.socket,
			 module_part ? ", " : "", module_part ? module_part : "");
	else
		snprintf(buf, sizeof(buf), "%s", module_part);
	source_line(buf);
}

static json_object *jsource(bool daemon, bool module)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "daemon", daemon ? jstr(opt.socket) : NULL);
	json_object_object_add(o, "module", module ? jstr(opt.sysfs) : NULL);
	return o;
}

json_object *pool_json(const struct ctl_pool *p)
{
	json_object *o = json_object_new_object();
	char pci[32];

	json_object_object_add(o, "index", jint(p->index));
	json_object_object_add(o, "kind", jstr(p->device ? "device" : "node"));
	json_object_object_add(o, "node", p->device ? NULL : jint(p->node));
	snprintf(pci, sizeof(pci), "%04x:%02x:%02x.%x", p->devid >> 16,
		 (p->devid >> 8) & 0xff, (p->devid >> 3) & 0x1f, p->devid & 7);
	json_object_object_add(o, "device", p->device ? jint(p->devid) : NULL);
	json_object_object_add(o, "pci", p->device ? jstr(pci) : NULL);
	json_object_object_add(o, "tier", jstr(p->tier >= 0 ?
					       tier_names[p->tier] : "?"));
	json_object_object_add(o, "page_size", jint((int64_t)p->page_size));
	json_object_object_add(o, "frames_total", jint((int64_t)p->total));
	json_object_object_add(o, "frames_free", jint((int64_t)p->free));
	json_object_object_add(o, "frames_used", jint((int64_t)p->used));
	json_object_object_add(o, "reserve", p->reserve < 0 ? NULL :
			       jint(p->reserve));
	json_object_object_add(o, "low_watermark", jint((int64_t)p->low_watermark));
	return o;
}

void pools_table(const struct ctl_module *m)
{
	char b1[32], b2[32];

	printf("%-6s %-6s %-16s %-5s %8s %9s %9s %9s %9s %10s\n", "POOL",
	       "KIND", "NODE/DEVICE", "TIER", "PAGE", "FRAMES", "FREE", "USED",
	       "RESERVE", "SIZE");
	for (int i = 0; i < m->npools; i++) {
		const struct ctl_pool *p = &m->pools[i];
		char where[32], res[24];

		if (p->device)
			snprintf(where, sizeof(where), "%04x:%02x:%02x.%x",
				 p->devid >> 16, (p->devid >> 8) & 0xff,
				 (p->devid >> 3) & 0x1f, p->devid & 7);
		else
			snprintf(where, sizeof(where), "node %d", p->node);
		if (p->reserve < 0)
			snprintf(res, sizeof(res), "-");
		else
			snprintf(res, sizeof(res), "%lld", (long long)p->reserve);
		printf("pool%-2d %-6s %-16s %-5s %8s %9llu %9llu %9llu %9s %10s\n",
		       p->index, p->device ? "device" : "node", where,
		       p->tier >= 0 ? tier_names[p->tier] : "?",
		       human_bytes(p->page_size, b1, sizeof(b1)),
		       (unsigned long long)p->total, (unsigned long long)p->free,
		       (unsigned long long)p->used, res,
		       human_bytes(p->total * p->page_size, b2, sizeof(b2)));
	}
}

static json_object *tier_array(const int64_t *v)
{
	json_object *o = json_object_new_object();

	for (int i = 0; i < CTL_NR_TIERS; i++)
		json_object_object_add(o, tier_names[i], v[i] < 0 ? NULL :
				       jint(v[i]));
	return o;
}

json_object *tenant_json(const struct ctl_tenant *t)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "id", jint(t->id));
	json_object_object_add(o, "weight", jint((int64_t)t->weight));
	json_object_object_add(o, "quota", tier_array(t->quota));
	json_object_object_add(o, "frames", tier_array(t->frames));
	json_object_object_add(o, "faults", t->faults < 0 ? NULL : jint(t->faults));
	json_object_object_add(o, "preemptions", t->preemptions < 0 ? NULL :
			       jint(t->preemptions));
	json_object_object_add(o, "migrated_in", tier_array(t->migrated_in));
	json_object_object_add(o, "migrated_out", tier_array(t->migrated_out));
	json_object_object_add(o, "spaces_runnable", t->runnable < 0 ? NULL :
			       jint(t->runnable));
	json_object_object_add(o, "spaces_preempted", t->preempted < 0 ? NULL :
			       jint(t->preempted));
	json_object_object_add(o, "spaces_prefetch", t->prefetch < 0 ? NULL :
			       jint(t->prefetch));
	json_object_object_add(o, "uid", jint(t->uid));
	json_object_object_add(o, "gid", jint(t->gid));
	return o;
}

/* Worth a line in a table: not at the defaults, or holding something. */
bool tenant_used(const struct ctl_tenant *t)
{
	if (t->weight != 1 || t->uid != -1 || t->gid != -1 || t->id == 0)
		return true;
	for (int i = 0; i < CTL_NR_TIERS; i++)
		if (t->quota[i] != -1 || t->frames[i] > 0)
			return true;
	return t->runnable + t->preempted + t->prefetch > 0;
}

static const char *quota_str(int64_t q, char *buf, size_t len)
{
	if (q < 0)
		snprintf(buf, len, "max");
	else
		snprintf(buf, len, "%lld", (long long)q);
	return buf;
}

static const char *num_or_dash(int64_t v, char *buf, size_t len)
{
	if (v < 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%lld", (long long)v);
	return buf;
}

static void tenants_table(const struct ctl_module *m, json_object *dt)
{
	bool shown_all = true, unreadable = false;

	printf("%-6s %6s %-20s %-20s %8s %6s %8s %s\n", "TENANT", "WEIGHT",
	       "QUOTA hbm/dram/cxl", "FRAMES hbm/dram/cxl", "FAULTS", "PREEMP",
	       "SPACES", dt ? "KVMEMD counter/fast" : "");
	for (int i = 0; i < m->ntenants; i++) {
		const struct ctl_tenant *t = &m->tenants[i];
		char q[3][24], f[3][24], qs[72], fs[72], fa[24], pr[24], sp[24];
		char d[64] = "";

		if (!opt.all && !tenant_used(t)) {
			shown_all = false;
			continue;
		}
		for (int k = 0; k < 3; k++) {
			quota_str(t->quota[k], q[k], sizeof(q[k]));
			num_or_dash(t->frames[k], f[k], sizeof(f[k]));
		}
		unreadable |= t->frames[0] < 0;
		snprintf(qs, sizeof(qs), "%s/%s/%s", q[0], q[1], q[2]);
		snprintf(fs, sizeof(fs), "%s/%s/%s", f[0], f[1], f[2]);
		if (t->runnable < 0)
			snprintf(sp, sizeof(sp), "-");
		else
			snprintf(sp, sizeof(sp), "%lld",
				 (long long)(t->runnable + t->preempted +
					     t->prefetch));
		for (size_t k = 0; dt && k < json_object_array_length(dt); k++) {
			json_object *e = json_object_array_get_idx(dt, k), *v, *fb;
			char b[32];

			if (json_object_object_get_ex(e, "id", &v) &&
			    json_object_get_int(v) == t->id &&
			    json_object_object_get_ex(e, "counter", &v) &&
			    json_object_object_get_ex(e, "fast_bytes", &fb))
				snprintf(d, sizeof(d), "%.0f/%s",
					 json_object_get_double(v),
					 human_bytes((uint64_t)json_object_get_int64(fb),
						     b, sizeof(b)));
		}
		printf("%-6d %6llu %-20s %-20s %8s %6s %8s %s\n", t->id,
		       (unsigned long long)t->weight, qs, fs,
		       num_or_dash(t->faults, fa, sizeof(fa)),
		       num_or_dash(t->preemptions, pr, sizeof(pr)), sp, d);
	}
	if (!shown_all)
		printf("(tenants at their defaults and unused not shown: "
		       "--all shows them)\n");
	if (unreadable)
		printf("(usage counters are root's: '-' where not readable)\n");
}

static void clients_table(const struct ctl_module *m)
{
	printf("%-7s %-16s %6s %10s %10s %10s %8s %s\n", "CLIENT", "PIDS",
	       "SPACES", "HBM", "DRAM", "CXL", "FAULTS", "ROLE");
	for (int i = 0; i < m->nclients; i++) {
		const struct ctl_client *c = &m->cl[i];
		char pids[64] = "", b[3][32];
		size_t n = 0;

		for (int k = 0; k < c->npids && n < sizeof(pids) - 12; k++)
			n += (size_t)snprintf(pids + n, sizeof(pids) - n, "%s%d",
					      k ? "," : "", c->pids[k]);
		for (int k = 0; k < 3; k++)
			human_bytes(c->kib[k] * 1024, b[k], sizeof(b[k]));
		printf("%-7u %-16s %6llu %10s %10s %10s %8llu %s\n", c->id, pids,
		       (unsigned long long)c->spaces, b[0], b[1], b[2],
		       (unsigned long long)c->faults, c->manager ? "manager" : "");
	}
	if (m->clients_partial)
		printf("(some processes' fdinfo not readable: run as root to "
		       "see every client)\n");
	if ((uint64_t)m->nclients < m->clients)
		printf("(%llu clients in all: %llu not seen in /proc, such as "
		       "files only mapped or in another pid namespace)\n",
		       (unsigned long long)m->clients,
		       (unsigned long long)(m->clients - (uint64_t)m->nclients));
}

static json_object *client_json(const struct ctl_client *c)
{
	json_object *o = json_object_new_object(), *p = json_object_new_array();
	int64_t kib[3];

	for (int k = 0; k < c->npids; k++)
		json_object_array_add(p, jint(c->pids[k]));
	for (int k = 0; k < 3; k++)
		kib[k] = (int64_t)c->kib[k];
	json_object_object_add(o, "id", jint(c->id));
	json_object_object_add(o, "pids", p);
	json_object_object_add(o, "manager", json_object_new_boolean(c->manager));
	json_object_object_add(o, "spaces", jint((int64_t)c->spaces));
	json_object_object_add(o, "memory_kib", tier_array(kib));
	json_object_object_add(o, "faults", jint((int64_t)c->faults));
	json_object_object_add(o, "migrated_bytes", jint((int64_t)c->migrated));
	return o;
}

static bool jbool(json_object *o, const char *k)
{
	json_object *v;

	return json_object_object_get_ex(o, k, &v) && json_object_get_boolean(v);
}

static int64_t jget(json_object *o, const char *k)
{
	json_object *v;

	return json_object_object_get_ex(o, k, &v) ? json_object_get_int64(v) : 0;
}

static const char *jgets(json_object *o, const char *k)
{
	json_object *v;

	return json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) :
	       "?";
}

/* Operands: only @max, none if 0; stored in ctx (char *[max]). */
struct operands {
	int n, max;
	const char *v[4];
	const char *cmd;
};

static int take_operand(struct operands *o, const char *arg)
{
	if (o->n >= o->max) {
		err("%s: unexpected argument \"%s\" (see kvmemctl %s --help)",
		    o->cmd, arg, o->cmd);
		return -1;
	}
	o->v[o->n++] = arg;
	return 0;
}

static int operands_only(int c, const char *arg, void *ctx)
{
	struct operands *o = ctx;

	if (c == 0)
		return take_operand(o, arg);
	if (c == -1)
		return 0;
	if (c == O_ALL_CMD) {
		opt.all = true;
		return 0;
	}
	return -1;
}

/* ---- status -------------------------------------------------------------- */

static const char status_usage[] =
"usage: kvmemctl status [--json] [--no-daemon]\n"
"The module's pools (tier, node or device, page size, frames), tenants,\n"
"clients (pids from /proc fdinfo, usage per tier) and kvmemd's state.\n"
"Sources: the module's sysfs and /proc always; kvmemd's socket when it\n"
"answers (its state; 'not running' otherwise).\n";

int cmd_status(int argc, char **argv)
{
	static const struct option extra[] = {
		{ "all", no_argument, NULL, O_ALL_CMD }, { 0 } };
	struct operands ops = { .max = 0, .cmd = "status" };
	struct ctl_module m;
	json_object *ds, *dt = NULL;
	int r = parse_opts(argc, argv, status_usage, extra, NULL,
			   operands_only, &ops);

	if (r < 0)
		return r == -1 ? EX_OK : EX_USAGE;
	ds = kd_status();
	if (ds) {
		int e;
		json_object *t = kd_ask("{\"cmd\":\"tenants\"}", &e), *a;

		if (t && json_object_object_get_ex(t, "tenants", &a))
			dt = json_object_get(a);
		json_object_put(t);
	}
	if (mod_read(&m, true)) {
		if (ds && !opt.json)
			printf("kvmemd: running, but the module is not loaded\n");
		json_object_put(ds);
		json_object_put(dt);
		return EX_FAIL;
	}
	if (opt.json) {
		json_object *o = json_object_new_object(), *a;

		json_object_object_add(o, "source", jsource(ds, true));
		a = json_object_new_object();
		json_object_object_add(a, "abi_version", jint((int64_t)m.abi));
		json_object_object_add(a, "spaces", jint((int64_t)m.spaces));
		json_object_object_add(a, "clients", jint((int64_t)m.clients));
		json_object_object_add(o, "module", a);
		a = json_object_new_array();
		for (int i = 0; i < m.npools; i++)
			json_object_array_add(a, pool_json(&m.pools[i]));
		json_object_object_add(o, "pools", a);
		a = json_object_new_array();
		for (int i = 0; i < m.ntenants; i++)
			if (opt.all || tenant_used(&m.tenants[i]))
				json_object_array_add(a, tenant_json(&m.tenants[i]));
		json_object_object_add(o, "tenants", a);
		a = json_object_new_array();
		for (int i = 0; i < m.nclients; i++)
			json_object_array_add(a, client_json(&m.cl[i]));
		json_object_object_add(o, "clients", a);
		if (ds) {
			json_object_object_del(ds, "ok");
			json_object_object_add(ds, "running",
					       json_object_new_boolean(1));
		} else {
			ds = json_object_new_object();
			json_object_object_add(ds, "running",
					       json_object_new_boolean(0));
		}
		json_object_object_add(o, "daemon", ds);
		print_json(o);
		json_object_put(dt);
		mod_free(&m);
		return EX_OK;
	}
	source_of(ds, "module (sysfs, /proc fdinfo)");
	printf("module: ABI %llu, %d pools, %d tenants, %llu spaces, %llu "
	       "clients\n\n", (unsigned long long)m.abi, m.npools, m.ntenants,
	       (unsigned long long)m.spaces, (unsigned long long)m.clients);
	pools_table(&m);
	putchar('\n');
	tenants_table(&m, dt);
	putchar('\n');
	clients_table(&m);
	putchar('\n');
	if (ds) {
		char b1[32], b2[32];

		printf("kvmemd: running%s, fast tier %s, slow tier %s, %lld "
		       "sequences, %lld in flight, fast tier %s of %s used, "
		       "%lld preemptions, %lld switches failed\n",
		       jbool(ds, "paused") ? " (paused: no decisions)" : "",
		       jgets(ds, "fast_tier"), jgets(ds, "slow_tier"),
		       (long long)jget(ds, "sequences"),
		       (long long)jget(ds, "inflight"),
		       human_bytes((uint64_t)jget(ds, "used_bytes"), b1, sizeof(b1)),
		       human_bytes((uint64_t)jget(ds, "capacity_bytes"), b2,
				   sizeof(b2)),
		       (long long)jget(ds, "preemptions"),
		       (long long)jget(ds, "switches_failed"));
	} else {
		printf("kvmemd: %s\n", opt.no_daemon ? "not asked (--no-daemon)" :
		       "not running (no answer on the control socket)");
	}
	json_object_put(ds);
	json_object_put(dt);
	mod_free(&m);
	return EX_OK;
}

/* ---- pools ----------------------------------------------------------------- */

static const char pools_usage[] =
"usage: kvmemctl pools [--json]\n"
"Every pool of the module (sysfs): kind, NUMA node or device (PCI\n"
"address), tier, page size, frames total/free/used, reserve.\n"
"Change them with 'kvmemctl pool resize|add-device|remove-device'.\n";

int cmd_pools(int argc, char **argv)
{
	struct operands ops = { .max = 0, .cmd = "pools" };
	struct ctl_module m;
	int r = parse_opts(argc, argv, pools_usage, NULL, NULL, operands_only,
			   &ops);

	if (r < 0)
		return r == -1 ? EX_OK : EX_USAGE;
	if (mod_read(&m, false))
		return EX_FAIL;
	if (opt.json) {
		json_object *o = json_object_new_object(), *a;

		json_object_object_add(o, "source", jsource(false, true));
		a = json_object_new_array();
		for (int i = 0; i < m.npools; i++)
			json_object_array_add(a, pool_json(&m.pools[i]));
		json_object_object_add(o, "pools", a);
		print_json(o);
	} else {
		source_line(src_module());
		pools_table(&m);
	}
	mod_free(&m);
	return EX_OK;
}

/* ---- pool resize / add-device / remove-device ------------------------------- */

/* "pool3", "3" -> 3; -1 if neither. */
static int pool_arg(const char *s)
{
	uint64_t v;

	if (!strncmp(s, "pool", 4))
		s += 4;
	if (parse_u64(s, &v) || v >= CTL_MAX_POOLS)
		return -1;
	return (int)v;
}

struct resize_ctx {
	struct operands ops;
	uint64_t frames, mib;
	bool have_frames, have_mib;
};

enum { O_FRAMES = 1100, O_MIB, O_TIER, O_FRAME_SIZE, O_FORCE, O_WEIGHT,
       O_QUOTA, O_QUOTA_MIB, O_UID, O_GID, O_KEEP, O_TIMEOUT, O_NOWAIT };

static int resize_opt(int c, const char *arg, void *ctx)
{
	struct resize_ctx *x = ctx;

	if (c == 0 || c == -1)
		return c ? 0 : take_operand(&x->ops, arg);
	if (c == O_FRAMES && !parse_u64(arg, &x->frames)) {
		x->have_frames = true;
		return 0;
	}
	if (c == O_MIB && !parse_u64(arg, &x->mib)) {
		x->have_mib = true;
		return 0;
	}
	err("pool resize: %s \"%s\": want a whole number", c == O_FRAMES ?
	    "--frames" : "--mib", arg);
	return -1;
}

static const char resize_usage[] =
"usage: kvmemctl pool resize POOL (--frames N | --mib M)\n"
"Sets node pool POOL's reserve (pool1 or 1): the frames it owns, taken\n"
"from its NUMA node now (larger) or given back (smaller; frames in use go\n"
"back when released). Writes /sys/class/misc/kvmem/pools/poolN/reserve.\n";

static int pool_resize(int argc, char **argv)
{
	static const struct option extra[] = {
		{ "frames", required_argument, NULL, O_FRAMES },
		{ "mib", required_argument, NULL, O_MIB }, { 0 } };
	struct resize_ctx x = { .ops = { .max = 1, .cmd = "pool resize" } };
	const struct ctl_pool *p;
	struct ctl_module m;
	char path[512], val[32], b[32];
	uint64_t frames;
	int r = parse_opts(argc, argv, resize_usage, extra, NULL, resize_opt, &x);
	int idx;

	if (r < 0)
		return r == -1 ? EX_OK : EX_USAGE;
	if (x.ops.n != 1 || x.have_frames == x.have_mib) {
		err("pool resize: give a POOL and one of --frames N or --mib M "
		    "(see kvmemctl pool resize --help)");
		return EX_USAGE;
	}
	idx = pool_arg(x.ops.v[0]);
	if (idx < 0) {
		err("pool resize: \"%s\" is not a pool: give poolN or N (see "
		    "kvmemctl pools)", x.ops.v[0]);
		return EX_USAGE;
	}
	if (mod_read(&m, false))
		return EX_FAIL;
	p = mod_pool(&m, idx);
	if (!p) {
		err("pool resize: no pool%d: the module has %d pools (see "
		    "kvmemctl pools)", idx, m.npools);
		goto fail;
	}
	if (p->device) {
		err("pool resize: %s is a device pool: its size is fixed when it "
		    "is registered; remove it (pool remove-device) and add it "
		    "again with another --mib", pool_label(p));
		goto fail;
	}
	frames = x.have_frames ? x.frames : (x.mib << 20) / p->page_size;
	if (frames > UINT32_MAX) {
		err("pool resize: %llu frames is more than a pool takes "
		    "(4294967295)", (unsigned long long)frames);
		goto fail;
	}
	snprintf(val, sizeof(val), "%llu", (unsigned long long)frames);
	r = sys_write(sys_path(path, sizeof(path), "pools/pool%d/reserve", idx),
		      val);
	if (r) {
		struct ctl_module now;
		int64_t got = -1;

		if (!mod_read(&now, false) && mod_pool(&now, idx))
			got = mod_pool(&now, idx)->reserve;
		if (r == -ENOMEM)
			err("pool resize: node %d could not give %s the %llu "
			    "frames asked for (reserve is now %lld): free memory "
			    "on node %d (numastat -m) or ask for less", p->node,
			    pool_label(p), (unsigned long long)frames,
			    (long long)got, p->node);
		else if (r == -EACCES || r == -EPERM)
			err("pool resize: %s: permission denied: run as root",
			    path);
		else
			err("pool resize: %s: %s", path, strerror(-r));
		mod_free(&now);
		goto fail;
	}
	if (!opt.json)
		printf("%s: reserve %llu frames (%s)\n", pool_label(p),
		       (unsigned long long)frames,
		       human_bytes(frames * p->page_size, b, sizeof(b)));
	else {
		struct ctl_module now;

		if (!mod_read(&now, false) && mod_pool(&now, idx))
			print_json(pool_json(mod_pool(&now, idx)));
		mod_free(&now);
	}
	mod_free(&m);
	return EX_OK;
fail:
	mod_free(&m);
	return EX_FAIL;
}

struct adddev_ctx {
	struct operands ops;
	uint64_t mib, frame_size;
	int tier;
	bool force;
};

static int adddev_opt(int c, const char *arg, void *ctx)
{
	struct adddev_ctx *x = ctx;

	if (c == 0 || c == -1)
		return c ? 0 : take_operand(&x->ops, arg);
	if (c == O_FORCE) {
		x->force = true;
		return 0;
	}
	if (c == O_TIER) {
		x->tier = tier_parse(arg);
		if (x->tier >= 0)
			return 0;
		err("pool add-device: --tier \"%s\": want hbm, dram or cxl", arg);
		return -1;
	}
	if (c == O_MIB && !parse_u64(arg, &x->mib) && x->mib)
		return 0;
	if (c == O_FRAME_SIZE && !parse_u64(arg, &x->frame_size) &&
	    x->frame_size && !(x->frame_size & (x->frame_size - 1)))
		return 0;
	err("pool add-device: %s \"%s\": want %s", c == O_MIB ? "--mib" :
	    "--frame-size", arg, c == O_MIB ? "a number of MiB > 0" :
	    "a power of two in bytes (2097152: 2 MiB)");
	return -1;
}

static const char adddev_usage[] =
"usage: kvmemctl pool add-device PCI [--mib M] [--tier T]\n"
"                                [--frame-size BYTES] [--force]\n"
"Registers a GPU's memory as a kvmem device pool (KVMEM_IOC_DEVICE_POOL_ADD),\n"
"by its PCI address (0000:3b:00.0, or 3b:00.0 in domain 0), so that\n"
"libaccel's cuda backend accounts its grants there. The device's NUMA node\n"
"and memory size are read from /sys/bus/pci/devices/PCI/ (mem_info_vram_total\n"
"of a DRM driver that has it, else its largest memory BAR).\n"
"  --mib M          register M MiB (leave room for weights and activations)\n"
"  --tier T         hbm (default), dram or cxl\n"
"  --frame-size B   bytes per frame: libaccel's mapping granularity (2 MiB)\n"
"  --force          register even if this host shows no such PCI device\n"
"                   (needs --mib): for tests, or a device sysfs hides\n"
"Needs root (CAP_SYS_ADMIN) or the module's manager_gid group.\n";

/* "0000:3b:00.0" or "3b:00.0" -> PCI id; -1 if malformed. */
static int64_t pci_parse(const char *s, char *canon, size_t len)
{
	unsigned dom = 0, bus, dev, fn;
	char tail;

	if (sscanf(s, "%x:%x:%x.%x%c", &dom, &bus, &dev, &fn, &tail) != 4) {
		dom = 0;
		if (sscanf(s, "%x:%x.%x%c", &bus, &dev, &fn, &tail) != 3)
			return -1;
	}
	if (dom > 0xffff || bus > 0xff || dev > 0x1f || fn > 7)
		return -1;
	snprintf(canon, len, "%04x:%02x:%02x.%x", dom, bus, dev, fn);
	return (int64_t)((dom << 16) | (bus << 8) | (dev << 3) | fn);
}

/* The device's memory from sysfs: amdgpu's VRAM, else its largest
 * memory BAR; 0 if none. @how says which. */
static uint64_t pci_memory(const char *dir, const char **how)
{
	char path[512];
	FILE *f;
	uint64_t best = 0;
	unsigned long long s, e, fl;

	snprintf(path, sizeof(path), "%s/mem_info_vram_total", dir);
	f = fopen(path, "re");
	if (f) {
		if (fscanf(f, "%llu", &s) == 1 && s) {
			fclose(f);
			*how = "mem_info_vram_total";
			return s;
		}
		fclose(f);
	}
	snprintf(path, sizeof(path), "%s/resource", dir);
	f = fopen(path, "re");
	if (!f)
		return 0;
	/* "start end flags" per BAR; IORESOURCE_MEM is 0x200. */
	while (fscanf(f, "%llx %llx %llx", &s, &e, &fl) == 3)
		if ((fl & 0x200) && e > s && e - s + 1 > best)
			best = e - s + 1;
	fclose(f);
	*how = "its largest memory BAR (a GPU's BAR can be smaller than its "
	       "memory: give --mib)";
	return best;
}

static int pool_add_device(int argc, char **argv)
{
	static const struct option extra[] = {
		{ "mib", required_argument, NULL, O_MIB },
		{ "tier", required_argument, NULL, O_TIER },
		{ "frame-size", required_argument, NULL, O_FRAME_SIZE },
		{ "force", no_argument, NULL, O_FORCE }, { 0 } };
	struct adddev_ctx x = { .ops = { .max = 1, .cmd = "pool add-device" },
				.tier = KVMEM_TIER_HBM, .frame_size = 2 << 20 };
	struct kvmem_device_pool dp = { 0 };
	char canon[32], dir[256], path[300], b[32];
	const char *how = "--mib";
	uint64_t bytes;
	int64_t id, node = -1;
	int fd, r = parse_opts(argc, argv, adddev_usage, extra, NULL, adddev_opt,
			       &x);

	if (r < 0)
		return r == -1 ? EX_OK : EX_USAGE;
	if (x.ops.n != 1) {
		err("pool add-device: give the GPU's PCI address, such as "
		    "0000:3b:00.0 (lspci -D, nvidia-smi --query-gpu=pci.bus_id)");
		return EX_USAGE;
	}
	id = pci_parse(x.ops.v[0], canon, sizeof(canon));
	if (id < 0) {
		err("pool add-device: \"%s\" is not a PCI address: want "
		    "DOMAIN:BUS:DEV.FN such as 0000:3b:00.0", x.ops.v[0]);
		return EX_USAGE;
	}
	if (x.force && !x.mib) {
		err("pool add-device: --force needs --mib: without the device "
		    "nothing tells its size");
		return EX_USAGE;
	}
	snprintf(dir, sizeof(dir), "/sys/bus/pci/devices/%s", canon);
	if (access(dir, F_OK)) {
		if (!x.force) {
			err("pool add-device: no PCI device %s (%s: %s): check "
			    "the address with lspci -D; --force --mib M "
			    "registers it anyway", canon, dir,
			    strerror(ENODEV));
			return EX_FAIL;
		}
	} else {
		FILE *f;

		snprintf(path, sizeof(path), "%s/numa_node", dir);
		f = fopen(path, "re");
		if (f) {
			long long v;

			if (fscanf(f, "%lld", &v) == 1)
				node = v;
			fclose(f);
		}
	}
	bytes = x.mib ? x.mib << 20 : pci_memory(dir, &how);
	if (!bytes) {
		err("pool add-device: %s: no memory size found in %s "
		    "(mem_info_vram_total, resource): give --mib", canon, dir);
		return EX_FAIL;
	}
	if (bytes < x.frame_size) {
		err("pool add-device: %s is less than one %s frame: give a "
		    "larger --mib or a smaller --frame-size",
		    human_bytes(bytes, b, sizeof(b)), human_bytes(x.frame_size,
		    path, sizeof(path)));
		return EX_USAGE;
	}
	dp.device = (uint32_t)id;
	dp.frame_size = x.frame_size;
	dp.frames = bytes / x.frame_size;
	dp.tier = (uint32_t)x.tier;
	fd = dev_open(false);
	if (fd < 0)
		return EX_FAIL;
	if (ioctl(fd, KVMEM_IOC_DEVICE_POOL_ADD, &dp)) {
		int e = errno;

		if (e == EPERM)
			err("pool add-device %s: permission denied: registering "
			    "a GPU needs root (CAP_SYS_ADMIN) or the module's "
			    "manager_gid group", canon);
		else if (e == ENOSPC)
			err("pool add-device %s: the module has 64 pools "
			    "already: remove one first", canon);
		else if (e == EINVAL)
			err("pool add-device %s: the module refused %llu frames "
			    "of %llu bytes (frame size: a power of two from 4 KiB "
			    "to 1 GiB; frames: 1 to 4294967295)", canon,
			    (unsigned long long)dp.frames,
			    (unsigned long long)dp.frame_size);
		else if (e == ENOTTY)
			err("pool add-device %s: this module has no device "
			    "pools (too old)", canon);
		else
			err("pool add-device %s: %s", canon, strerror(e));
		close(fd);
		return EX_FAIL;
	}
	close(fd);
	if (opt.json) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "index", jint(dp.index));
		json_object_object_add(o, "pci", jstr(canon));
		json_object_object_add(o, "device", jint(dp.device));
		json_object_object_add(o, "numa_node", node >= 0 ? jint(node) : NULL);
		json_object_object_add(o, "tier", jstr(tier_names[x.tier]));
		json_object_object_add(o, "frame_size", jint((int64_t)dp.frame_size));
		json_object_object_add(o, "frames", jint((int64_t)dp.frames));
		json_object_object_add(o, "size_from", jstr(how));
		print_json(o);
	} else {
		printf("pool%u: device %s (NUMA node %s), %s tier, %llu frames "
		       "of %s (%s, from %s)\n", dp.index, canon,
		       node >= 0 ? (snprintf(path, sizeof(path), "%lld",
					     (long long)node), path) : "unknown",
		       tier_names[x.tier], (unsigned long long)dp.frames,
		       human_bytes(dp.frame_size, dir, sizeof(dir)),
		       human_bytes(dp.frames * dp.frame_size, b, sizeof(b)), how);
	}
	return EX_OK;
}

static const char rmdev_usage[] =
"usage: kvmemctl pool remove-device POOL|PCI\n"
"Removes a device pool (KVMEM_IOC_DEVICE_POOL_REMOVE), named by its pool\n"
"(pool3 or 3) or its GPU's PCI address. Refused while a device space\n"
"uses it: stop the engines on that GPU first.\n";

static int pool_remove_device(int argc, char **argv)
{
	struct operands ops = { .max = 1, .cmd = "pool remove-device" };
	struct kvmem_device_pool_remove rm = { 0 };
	const struct ctl_pool *p = NULL;
	struct ctl_module m;
	char canon[32];
	int64_t id;
	int fd, idx, r = parse_opts(argc, argv, rmdev_usage, NULL, NULL,
				    operands_only, &ops);

	if (r < 0)
		return r == -1 ? EX_OK : EX_USAGE;
	if (ops.n != 1) {
		err("pool remove-device: give the pool (poolN) or the GPU's PCI "
		    "address (see kvmemctl pools)");
		return EX_USAGE;
	}
	idx = pool_arg(ops.v[0]);
	id = idx < 0 ? pci_parse(ops.v[0], canon, sizeof(canon)) : -1;
	if (idx < 0 && id < 0) {
		err("pool remove-device: \"%s\" is neither a pool (poolN) nor "
		    "a PCI address", ops.v[0]);
		return EX_USAGE;
	}
	if (mod_read(&m, false))
		return EX_FAIL;
	for (int i = 0; i < m.npools && !p; i++)
		if (idx >= 0 ? m.pools[i].index == idx :
		    (m.pools[i].device && m.pools[i].devid == (uint32_t)id))
			p = &m.pools[i];
	if (!p) {
		err("pool remove-device: no %s %s (see kvmemctl pools)",
		    idx >= 0 ? "pool" : "device pool of", ops.v[0]);
		goto fail;
	}
	if (!p->device) {
		err("pool remove-device: %s is a node pool: node pools stay "
		    "while the module is loaded (shrink it with pool resize)",
		    pool_label(p));
		goto fail;
	}
	fd = dev_open(false);
	if (fd < 0)
		goto fail;
	rm.index = (uint32_t)p->index;
	if (ioctl(fd, KVMEM_IOC_DEVICE_POOL_REMOVE, &rm)) {
		int e = errno;

		if (e == EBUSY)
			err("pool remove-device: %s is in use: device spaces "
			    "exist on it; stop the engines using that GPU (see "
			    "kvmemctl status for the clients) and try again",
			    pool_label(p));
		else if (e == EPERM)
			err("pool remove-device: permission denied: needs root "
			    "(CAP_SYS_ADMIN) or the module's manager_gid group");
		else
			err("pool remove-device: %s: %s", pool_label(p),
			    strerror(e));
		close(fd);
		goto fail;
	}
	close(fd);
	if (opt.json) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "removed", jint(p->index));
		print_json(o);
	} else {
		printf("%s removed\n", pool_label(p));
	}
	mod_free(&m);
	return EX_OK;
fail:
	mod_free(&m);
	return EX_FAIL;
}

static const char pool_usage[] =
"usage: kvmemctl pool resize POOL (--frames N | --mib M)\n"
"       kvmemctl pool add-device PCI [--mib M] [--tier T] [--force]\n"
"       kvmemctl pool remove-device POOL|PCI\n"
"Each has --help. 'kvmemctl pools' lists the pools.\n";

int cmd_pool(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		if (argc < 2)
			err("pool: give resize, add-device or remove-device "
			    "(see kvmemctl pool --help)");
		else
			fputs(pool_usage, stdout);
		return argc < 2 ? EX_USAGE : EX_OK;
	}
	argv[1] = !strcmp(argv[1], "resize") ? "pool resize" :
		  !strcmp(argv[1], "add-device") ? "pool add-device" :
		  !strcmp(argv[1], "remove-device") ? "pool remove-device" :
		  argv[1];
	if (!strcmp(argv[1], "pool resize"))
		return pool_resize(argc - 1, argv + 1);
	if (!strcmp(argv[1], "pool add-device"))
		return pool_add_device(argc - 1, argv + 1);
	if (!strcmp(argv[1], "pool remove-device"))
		return pool_remove_device(argc - 1, argv + 1);
	err("pool: unknown subcommand \"%s\": resize, add-device or "
	    "remove-device", argv[1]);
	return EX_USAGE;
}

/* ---- tenants / tenant set ------------------------------------------------ */

static const char tenants_usage[] =
"usage: kvmemctl tenants [--json] [--all]\n"
"Tenants: weight, quotas and frames per tier (hbm/dram/cxl), faults,\n"
"preemptions, spaces; with kvmemd, its virtual counter and fast-tier\n"
"bytes. Tenants at their defaults and unused are left out unless --all.\n"
"Usage counters are readable by root only.\n";

int cmd_tenants(int argc, char **argv)
{
	static const struct option extra[] = {
		{ "all", no_argument, NULL, O_ALL_CMD }, { 0 } };
	struct operands ops = { .max = 0, .cmd = "tenants" };
	struct ctl_module m;
	json_object *dt = NULL, *t;
	int e, r = parse_opts(argc, argv, tenants_usage, extra, NULL,
			      operands_only, &ops);

	if (r < 0)
		return r == -1 ? EX_OK : EX_USAGE;
	t = kd_ask("{\"cmd\":\"tenants\"}", &e);
	if (t && jbool(t, "ok")) {
		json_object *a;

		if (json_object_object_get_ex(t, "tenants", &a))
			dt = json_object_get(a);
	}
	json_object_put(t);
	if (mod_read(&m, false)) {
		json_object_put(dt);
		return EX_FAIL;
	}
	if (opt.json) {
		json_object *o = json_object_new_object(), *a;

		json_object_object_add(o, "source", jsource(dt, true));
		a = json_object_new_array();
		for (int i = 0; i < m.ntenants; i++) {
			json_object *te;

			if (!opt.all && !tenant_used(&m.tenants[i]))
				continue;
			te = tenant_json(&m.tenants[i]);
			for (size_t k = 0; dt && k < json_object_array_length(dt);
			     k++) {
				json_object *d = json_object_array_get_idx(dt, k);

				if (jget(d, "id") == m.tenants[i].id)
					json_object_object_add(te, "kvmemd",
							json_object_get(d));
			}
			json_object_array_add(a, te);
		}
		json_object_object_add(o, "tenants", a);
		print_json(o);
	} else {
		source_of(dt, src_module());
		tenants_table(&m, dt);
	}
	json_object_put(dt);
	mod_free(&m);
	return EX_OK;
}

struct tset_ctx {
	struct operands ops;
	int64_t weight, uid, gid;
	uint64_t quota_mib;
	int64_t quota[CTL_NR_TIERS];
	bool have_weight, have_uid, have_gid, have_quota_mib;
	bool have_quota[CTL_NR_TIERS];
};

static int tset_opt(int c, const char *arg, void *ctx)
{
	struct tset_ctx *x = ctx;
	const char *eq;
	uint64_t v;

	if (c == 0 || c == -1)
		return c ? 0 : take_operand(&x->ops, arg);
	switch (c) {
	case O_WEIGHT:
		if (parse_i64(arg, &x->weight) || x->weight < 1 ||
		    x->weight > 10000) {
			err("tenant set: --weight \"%s\": want 1 to 10000", arg);
			return -1;
		}
		x->have_weight = true;
		return 0;
	case O_UID:
	case O_GID:
		if (parse_i64(arg, c == O_UID ? &x->uid : &x->gid) ||
		    (c == O_UID ? x->uid : x->gid) < -1 ||
		    (c == O_UID ? x->uid : x->gid) > UINT32_MAX - 1) {
			err("tenant set: %s \"%s\": want a numeric id, or -1 to "
			    "take the grant back", c == O_UID ? "--uid" : "--gid",
			    arg);
			return -1;
		}
		*(c == O_UID ? &x->have_uid : &x->have_gid) = true;
		return 0;
	case O_QUOTA_MIB:
		if (parse_u64(arg, &x->quota_mib)) {
			err("tenant set: --quota-mib \"%s\": want MiB (0: none)",
			    arg);
			return -1;
		}
		x->have_quota_mib = true;
		return 0;
	case O_QUOTA:
		eq = strchr(arg, '=');
		if (eq) {
			char tier[8] = "";
			int t;

			snprintf(tier, sizeof(tier), "%.*s", (int)(eq - arg), arg);
			t = tier_parse(tier);
			if (t >= 0 && !strcmp(eq + 1, "max")) {
				x->quota[t] = -1;
				x->have_quota[t] = true;
				return 0;
			}
			if (t >= 0 && !parse_u64(eq + 1, &v) && v < INT64_MAX) {
				x->quota[t] = (int64_t)v;
				x->have_quota[t] = true;
				return 0;
			}
		}
		err("tenant set: --quota \"%s\": want TIER=FRAMES or TIER=max, "
		    "TIER one of hbm, dram, cxl", arg);
		return -1;
	}
	return -1;
}

static const char tset_usage[] =
"usage: kvmemctl tenant set ID [--weight W] [--quota TIER=FRAMES|max]...\n"
"                             [--quota-mib MIB] [--uid UID] [--gid GID]\n"
"Sets tenant ID's share and limits.\n"
"  --weight W              fair-scheduling weight, 1 to 10000\n"
"  --quota TIER=N|max      frames the tenant may hold in TIER (module; not\n"
"                          while kvmemd runs: it owns the quotas)\n"
"  --quota-mib MIB         kvmemd's fast-tier quota in MiB, 0: none (needs\n"
"                          kvmemd)\n"
"  --uid UID, --gid GID    user/group whose clients may charge the tenant\n"
"                          (-1: grant taken back)\n"
"With kvmemd running the weight goes through kvmemd (set_tenant), which\n"
"sets the module's too; else the module's sysfs is written.\n";

static int tenant_sysfs(int id, const char *attr, const char *val)
{
	char path[512];
	int r = sys_write(sys_path(path, sizeof(path), "tenants/%d/%s", id,
				   attr), val);

	if (r == -EACCES || r == -EPERM)
		err("tenant set: %s: permission denied: run as root", path);
	else if (r == -EINVAL)
		err("tenant set: %s: the module refused \"%s\"", path, val);
	else if (r)
		err("tenant set: %s: %s", path, strerror(-r));
	return r;
}

int cmd_tenant(int argc, char **argv)
{
	static const struct option extra[] = {
		{ "weight", required_argument, NULL, O_WEIGHT },
		{ "quota", required_argument, NULL, O_QUOTA },
		{ "quota-mib", required_argument, NULL, O_QUOTA_MIB },
		{ "uid", required_argument, NULL, O_UID },
		{ "gid", required_argument, NULL, O_GID }, { 0 } };
	struct tset_ctx x = { .ops = { .max = 1, .cmd = "tenant set" } };
	struct ctl_module m;
	json_object *ds = NULL;
	bool any_quota = false, via_daemon;
	uint64_t id;
	int r, e;
	char val[32];

	if (argc < 2 || strcmp(argv[1], "set")) {
		if (argc >= 2 && (!strcmp(argv[1], "--help") ||
				  !strcmp(argv[1], "-h"))) {
			fputs(tset_usage, stdout);
			return EX_OK;
		}
		err("tenant: the subcommand is set (see kvmemctl tenant set "
		    "--help; kvmemctl tenants lists them)");
		return EX_USAGE;
	}
	argv[1] = "tenant set";
	r = parse_opts(argc - 1, argv + 1, tset_usage, extra, NULL, tset_opt, &x);
	if (r < 0)
		return r == -1 ? EX_OK : EX_USAGE;
	for (int i = 0; i < CTL_NR_TIERS; i++)
		any_quota |= x.have_quota[i];
	if (x.ops.n != 1 || parse_u64(x.ops.v[0], &id) || id >= CTL_MAX_TENANTS) {
		err("tenant set: give the tenant's id (a number; see kvmemctl "
		    "tenants --all)");
		return EX_USAGE;
	}
	if (!x.have_weight && !any_quota && !x.have_quota_mib && !x.have_uid &&
	    !x.have_gid) {
		err("tenant set: nothing to set: give --weight, --quota, "
		    "--quota-mib, --uid or --gid");
		return EX_USAGE;
	}
	if (mod_read(&m, false))
		return EX_FAIL;
	if (id >= (uint64_t)m.ntenants) {
		err("tenant set: no tenant %llu: the module has tenants 0..%d "
		    "(module parameter tenants)", (unsigned long long)id,
		    m.ntenants - 1);
		goto fail;
	}
	ds = kd_status();
	via_daemon = ds != NULL;
	json_object_put(ds);
	if (via_daemon && any_quota) {
		err("tenant set: kvmemd runs and owns the tenants' quotas (it "
		    "sets them again on every change of tiers): give "
		    "--quota-mib for its fast-tier quota, or stop kvmemd");
		goto fail;
	}
	if (!via_daemon && x.have_quota_mib) {
		err("tenant set: --quota-mib is kvmemd's fast-tier quota and "
		    "kvmemd is not running: give --quota TIER=FRAMES");
		goto fail;
	}
	if (via_daemon && (x.have_weight || x.have_quota_mib)) {
		char req[160];
		json_object *rep;
		int n = snprintf(req, sizeof(req),
				 "{\"cmd\":\"set_tenant\",\"tenant\":%llu",
				 (unsigned long long)id);

		if (x.have_weight)
			n += snprintf(req + n, sizeof(req) - (size_t)n,
				      ",\"weight\":%lld", (long long)x.weight);
		if (x.have_quota_mib)
			n += snprintf(req + n, sizeof(req) - (size_t)n,
				      ",\"quota_bytes\":%llu",
				      (unsigned long long)(x.quota_mib << 20));
		snprintf(req + n, sizeof(req) - (size_t)n, "}");
		rep = kd_ask(req, &e);
		if (!rep) {
			kd_explain("tenant set", e);
			goto fail;
		}
		if (!jbool(rep, "ok")) {
			kd_refused("tenant set", rep);
			json_object_put(rep);
			goto fail;
		}
		json_object_put(rep);
	} else if (x.have_weight) {
		snprintf(val, sizeof(val), "%lld", (long long)x.weight);
		if (tenant_sysfs((int)id, "weight", val))
			goto fail;
	}
	for (int i = 0; i < CTL_NR_TIERS; i++) {
		char attr[16];

		if (!x.have_quota[i])
			continue;
		snprintf(attr, sizeof(attr), "quota_%s", tier_names[i]);
		if (x.quota[i] < 0)
			snprintf(val, sizeof(val), "max");
		else
			snprintf(val, sizeof(val), "%lld", (long long)x.quota[i]);
		if (tenant_sysfs((int)id, attr, val))
			goto fail;
	}
	if (x.have_uid) {
		snprintf(val, sizeof(val), "%lld", (long long)x.uid);
		if (tenant_sysfs((int)id, "uid", val))
			goto fail;
	}
	if (x.have_gid) {
		snprintf(val, sizeof(val), "%lld", (long long)x.gid);
		if (tenant_sysfs((int)id, "gid", val))
			goto fail;
	}
	mod_free(&m);
	if (mod_read(&m, false))
		return EX_FAIL;
	for (int i = 0; i < m.ntenants; i++) {
		const struct ctl_tenant *t = &m.tenants[i];

		if (t->id != (int)id)
			continue;
		if (opt.json) {
			json_object *o = tenant_json(t);

			json_object_object_add(o, "via", jstr(via_daemon ?
						"kvmemd" : "module"));
			print_json(o);
		} else {
			char q[3][24];

			printf("tenant %d: weight %llu, quota hbm %s dram %s cxl "
			       "%s, uid %lld, gid %lld (via %s)\n", t->id,
			       (unsigned long long)t->weight,
			       quota_str(t->quota[0], q[0], sizeof(q[0])),
			       quota_str(t->quota[1], q[1], sizeof(q[1])),
			       quota_str(t->quota[2], q[2], sizeof(q[2])),
			       (long long)t->uid, (long long)t->gid,
			       via_daemon ? "kvmemd" : "the module's sysfs");
		}
	}
	mod_free(&m);
	return EX_OK;
fail:
	mod_free(&m);
	return EX_FAIL;
}

/* ---- seqs ------------------------------------------------------------------ */

static const char *const run_names[] = { "runnable", "preempt", "prefetch" };
static const char *const demand_names[] = { "none", "waiting", "running",
					    "idle" };
static const char *const policy_names[] = { "fallback", "wait", "fail" };

/* One space, from LIST_SPACES or kvmemd's "spaces". */
struct ctl_space {
	uint32_t id, client, tenant;
	int32_t priority;
	uint64_t tokens, npages, resident, copies;
	uint32_t tier, policy, run_state, run_tier, demand, flags;
	uint64_t pages[CTL_NR_TIERS], copies_t[CTL_NR_TIERS];
	uint64_t bytes[CTL_NR_TIERS];
};

struct space_list {
	size_t n;
	struct ctl_space *s;
};

static void add_by_pool(struct ctl_space *s, const struct ctl_module *m,
			int pool, uint64_t pages, uint64_t copies)
{
	const struct ctl_pool *p = mod_pool(m, pool);

	if (!p || p->tier < 0)
		return;
	s->pages[p->tier] += pages;
	s->copies_t[p->tier] += copies;
	s->bytes[p->tier] += pages * p->page_size;
}

/* From the module: the manager role, LIST_SPACES version 2. */
static int spaces_from_module(struct space_list *l, const struct ctl_module *m)
{
	struct kvmem_info info = { 0 };
	struct kvmem_space_info ent[64];
	uint64_t *cols;
	struct kvmem_list req = { .cursor = 0 };
	int fd = dev_open(true), e = 0;

	if (fd < 0)
		return fd;
	if (ioctl(fd, KVMEM_IOC_GET_INFO, &info) ||
	    !(info.features & KVMEM_FEATURE_LIST_SIZED)) {
		err("seqs: this module has no sized lists (too old for kvmemctl)");
		close(fd);
		return -EOPNOTSUPP;
	}
	cols = calloc(64 * 2 * KVMEM_LIST_NPOOLS_MAX, sizeof(*cols));
	if (!cols) {
		close(fd);
		return -ENOMEM;
	}
	do {
		memset(ent, 0, sizeof(ent));
		req.max = 64;
		req.entries = (uintptr_t)ent;
		req.pools = (uintptr_t)cols;
		req.npools = KVMEM_LIST_NPOOLS_MAX;
		req.entry_size = sizeof(ent[0]);
		req.count = 0;
		if (ioctl(fd, KVMEM_IOC_LIST_SPACES, &req)) {
			e = -errno;
			dev_explain("seqs: LIST_SPACES", e);
			break;
		}
		for (uint32_t i = 0; i < req.count; i++) {
			struct ctl_space *s = realloc(l->s, sizeof(*s) * (l->n + 1));
			const uint64_t *c = cols + (size_t)i * 2 * req.npools;

			if (!s) {
				e = -ENOMEM;
				break;
			}
			l->s = s;
			s = &l->s[l->n++];
			memset(s, 0, sizeof(*s));
			s->id = ent[i].id;
			s->client = ent[i].client;
			s->tenant = ent[i].tenant;
			s->priority = ent[i].priority;
			s->tokens = ent[i].tokens;
			s->npages = ent[i].npages;
			s->resident = ent[i].resident;
			s->copies = ent[i].copies;
			s->tier = ent[i].tier;
			s->policy = ent[i].policy;
			s->run_state = ent[i].run_state;
			s->run_tier = ent[i].run_tier;
			s->demand = ent[i].demand;
			s->flags = ent[i].flags;
			for (uint32_t p = 0; p < req.npools; p++)
				add_by_pool(s, m, (int)p, c[p], c[req.npools + p]);
		}
	} while (!e && req.cursor);
	free(cols);
	close(fd);
	return e;
}

/* From kvmemd's "spaces" (the same LIST_SPACES, through its manager file). */
static int spaces_from_daemon(struct space_list *l, const struct ctl_module *m,
			      json_object *rep)
{
	json_object *a;

	if (!json_object_object_get_ex(rep, "spaces", &a))
		return -EPROTO;
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		json_object *e = json_object_array_get_idx(a, i), *pp, *pc;
		struct ctl_space *s = realloc(l->s, sizeof(*s) * (l->n + 1));

		if (!s)
			return -ENOMEM;
		l->s = s;
		s = &l->s[l->n++];
		memset(s, 0, sizeof(*s));
		s->id = (uint32_t)jget(e, "id");
		s->client = (uint32_t)jget(e, "client");
		s->tenant = (uint32_t)jget(e, "tenant");
		s->priority = (int32_t)jget(e, "priority");
		s->tokens = (uint64_t)jget(e, "tokens");
		s->npages = (uint64_t)jget(e, "npages");
		s->resident = (uint64_t)jget(e, "resident");
		s->copies = (uint64_t)jget(e, "copies");
		s->tier = (uint32_t)jget(e, "tier");
		s->policy = (uint32_t)jget(e, "policy");
		s->run_state = (uint32_t)jget(e, "run_state");
		s->run_tier = (uint32_t)jget(e, "run_tier");
		s->demand = (uint32_t)jget(e, "demand");
		s->flags = (uint32_t)jget(e, "flags");
		if (json_object_object_get_ex(e, "pool_pages", &pp) &&
		    json_object_object_get_ex(e, "pool_copies", &pc))
			for (size_t p = 0; p < json_object_array_length(pp); p++)
				add_by_pool(s, m, (int)p,
					    (uint64_t)json_object_get_int64(
						json_object_array_get_idx(pp, p)),
					    (uint64_t)json_object_get_int64(
						json_object_array_get_idx(pc, p)));
	}
	return 0;
}

static int client_pid(const struct ctl_module *m, uint32_t id)
{
	for (int i = 0; i < m->nclients; i++)
		if (m->cl[i].id == id && m->cl[i].npids)
			return m->cl[i].pids[0];
	return 0;
}

static json_object *space_json(const struct ctl_space *s,
			       const struct ctl_module *m)
{
	json_object *o = json_object_new_object(), *p, *c, *b;
	int pid = client_pid(m, s->client);

	json_object_object_add(o, "id", jint(s->id));
	json_object_object_add(o, "client", jint(s->client));
	json_object_object_add(o, "pid", pid ? jint(pid) : NULL);
	json_object_object_add(o, "tenant", jint(s->tenant));
	json_object_object_add(o, "priority", jint(s->priority));
	json_object_object_add(o, "tokens", jint((int64_t)s->tokens));
	json_object_object_add(o, "npages", jint((int64_t)s->npages));
	json_object_object_add(o, "device", json_object_new_boolean(
		s->flags & KVMEM_SPACE_INFO_DEVICE));
	json_object_object_add(o, "tier", jstr(s->tier < 3 ?
					       tier_names[s->tier] : "?"));
	json_object_object_add(o, "policy", jstr(s->policy < 3 ?
						 policy_names[s->policy] : "?"));
	json_object_object_add(o, "run", jstr(s->run_state < 3 ?
					      run_names[s->run_state] : "?"));
	json_object_object_add(o, "run_tier", jstr(s->run_tier < 3 ?
						   tier_names[s->run_tier] : "?"));
	json_object_object_add(o, "demand", jstr(s->demand < 4 ?
						 demand_names[s->demand] : "?"));
	json_object_object_add(o, "swapping", json_object_new_boolean(
		s->flags & KVMEM_SPACE_INFO_SWAPPING));
	json_object_object_add(o, "resident", jint((int64_t)s->resident));
	json_object_object_add(o, "copies", jint((int64_t)s->copies));
	p = json_object_new_object();
	c = json_object_new_object();
	b = json_object_new_object();
	for (int t = 0; t < CTL_NR_TIERS; t++) {
		json_object_object_add(p, tier_names[t], jint((int64_t)s->pages[t]));
		json_object_object_add(c, tier_names[t],
				       jint((int64_t)s->copies_t[t]));
		json_object_object_add(b, tier_names[t], jint((int64_t)s->bytes[t]));
	}
	json_object_object_add(o, "pages", p);
	json_object_object_add(o, "clean_copies", c);
	json_object_object_add(o, "bytes", b);
	return o;
}

static const char seqs_usage[] =
"usage: kvmemctl seqs [--json]\n"
"Every space (one sequence's KV): id, owner (client and pid), tenant,\n"
"priority, tokens, pages, run state and demand, pages resident per tier\n"
"and clean copies. With kvmemd running it is asked (it holds the manager\n"
"role that lists spaces); else kvmemctl takes the role for the listing,\n"
"which needs root (CAP_SYS_ADMIN) or the module's manager_gid group.\n";

/* The spaces, from kvmemd if it answers, else the module; *daemon says. */
static int get_spaces(struct space_list *l, const struct ctl_module *m,
		      bool *daemon, const char *what)
{
	json_object *rep;
	int e;

	*daemon = false;
	rep = kd_ask("{\"cmd\":\"spaces\"}", &e);
	if (rep) {
		*daemon = true;
		if (!jbool(rep, "ok")) {
			e = kd_refused(what, rep);
			json_object_put(rep);
			return -e;
		}
		e = spaces_from_daemon(l, m, rep);
		json_object_put(rep);
		return e;
	}
	return spaces_from_module(l, m);
}

int cmd_seqs(int argc, char **argv)
{
	struct operands ops = { .max = 0, .cmd = "seqs" };
	struct space_list l = { 0 };
	struct ctl_module m;
	bool daemon;
	int r = parse_opts(argc, argv, seqs_usage, NULL, NULL, operands_only,
			   &ops);

	if (r < 0)
		return r == -1 ? EX_OK : EX_USAGE;
	if (mod_read(&m, true))
		return EX_FAIL;
	r = get_spaces(&l, &m, &daemon, "seqs");
	if (r) {
		free(l.s);
		mod_free(&m);
		return EX_FAIL;
	}
	if (opt.json) {
		json_object *o = json_object_new_object(), *a;

		json_object_object_add(o, "source", jsource(daemon, true));
		a = json_object_new_array();
		for (size_t i = 0; i < l.n; i++)
			json_object_array_add(a, space_json(&l.s[i], &m));
		json_object_object_add(o, "spaces", a);
		print_json(o);
	} else {
		source_of(daemon, daemon ? "module (sysfs, /proc fdinfo)" :
			  "module (manager ioctls, sysfs, /proc fdinfo)");
		printf("%-6s %-6s %-7s %-6s %5s %8s %7s %-5s %-9s %-8s %8s %8s "
		       "%8s %7s\n", "SPACE", "CLIENT", "PID", "TENANT", "PRIO",
		       "TOKENS", "PAGES", "TIER", "RUN", "DEMAND", "HBM",
		       "DRAM", "CXL", "COPIES");
		for (size_t i = 0; i < l.n; i++) {
			const struct ctl_space *s = &l.s[i];
			char b[3][32], pid[16];
			int p = client_pid(&m, s->client);

			for (int t = 0; t < 3; t++)
				human_bytes(s->bytes[t], b[t], sizeof(b[t]));
			snprintf(pid, sizeof(pid), p ? "%d" : "-", p);
			printf("%-6u %-6u %-7s %-6u %5d %8llu %7llu %-5s %-9s "
			       "%-8s %8s %8s %8s %7llu%s\n", s->id, s->client, pid,
			       s->tenant, s->priority,
			       (unsigned long long)s->tokens,
			       (unsigned long long)s->npages,
			       s->tier < 3 ? tier_names[s->tier] : "?",
			       s->run_state < 3 ? run_names[s->run_state] : "?",
			       s->demand < 4 ? demand_names[s->demand] : "?",
			       b[0], b[1], b[2], (unsigned long long)s->copies,
			       s->flags & KVMEM_SPACE_INFO_DEVICE ? " device" : "");
		}
		if (!l.n)
			printf("(no spaces)\n");
	}
	free(l.s);
	mod_free(&m);
	return EX_OK;
}

/* ---- move ------------------------------------------------------------------ */

struct move_ctx {
	struct operands ops;
	bool keep, nowait;
	uint64_t timeout;
};

static int move_opt(int c, const char *arg, void *ctx)
{
	struct move_ctx *x = ctx;

	if (c == 0 || c == -1)
		return c ? 0 : take_operand(&x->ops, arg);
	if (c == O_KEEP)
		x->keep = true;
	else if (c == O_NOWAIT)
		x->nowait = true;
	else if (c == O_TIMEOUT && !parse_u64(arg, &x->timeout) && x->timeout)
		return 0;
	else {
		err("move: --timeout \"%s\": want seconds > 0", arg ? arg : "");
		return -1;
	}
	return 0;
}

static const char move_usage[] =
"usage: kvmemctl move ID TIER [--keep-copy] [--timeout S] [--no-wait]\n"
"Moves space ID (see kvmemctl seqs) to TIER now: hbm, dram, cxl, or\n"
"kvmemd's fast or slow. With kvmemd running it asks kvmemd (move), which\n"
"may move it back later by its rules; TIER must then be its fast or slow\n"
"tier. Else kvmemctl takes the manager role and migrates the space itself\n"
"(MIGRATE by id; --keep-copy keeps the source as a clean copy). Waits up\n"
"to --timeout seconds (10) for the move to end unless --no-wait.\n";

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* kvmemd's sequence @id ("sequences"), its switches and residency; false
 * if kvmemd does not list it. */
static bool kd_seq(uint64_t id, int64_t *switches, char *at, size_t len)
{
	json_object *rep, *a;
	bool found = false;
	int e;

	rep = kd_ask("{\"cmd\":\"sequences\"}", &e);
	if (rep && json_object_object_get_ex(rep, "sequences", &a))
		for (size_t i = 0; !found && i < json_object_array_length(a); i++) {
			json_object *s = json_object_array_get_idx(a, i);

			if ((uint64_t)jget(s, "id") != id)
				continue;
			found = true;
			*switches = jget(s, "switches");
			snprintf(at, len, "%s", jgets(s, "residency"));
		}
	json_object_put(rep);
	return found;
}

static int move_daemon(struct move_ctx *x, uint64_t id, const char *tier,
		       json_object *ds)
{
	const char *fast = jgets(ds, "fast_tier"), *slow = jgets(ds, "slow_tier");
	const char *to = NULL;
	int64_t sw0 = 0, sw = 0;
	json_object *rep;
	char req[128], at[16] = "";
	bool done = false;
	int e;

	if (!strcmp(tier, "fast") || !strcmp(tier, fast))
		to = "fast";
	else if (!strcmp(tier, "slow") || !strcmp(tier, slow))
		to = "slow";
	if (!to) {
		err("move: kvmemd moves between its fast tier (%s) and its slow "
		    "tier (%s), not %s: give one of them, or --no-daemon to "
		    "migrate by hand (stop kvmemd first, it holds the manager "
		    "role)", fast, slow, tier);
		return EX_USAGE;
	}
	kd_seq(id, &sw0, at, sizeof(at));
	snprintf(req, sizeof(req), "{\"cmd\":\"move\",\"sequence\":%llu,"
		 "\"tier\":\"%s\"}", (unsigned long long)id, to);
	rep = kd_ask(req, &e);
	if (!rep) {
		kd_explain("move", e);
		return EX_FAIL;
	}
	if (!jbool(rep, "ok")) {
		e = kd_refused("move", rep);
		json_object_put(rep);
		if (e == ENOENT)
			err("(kvmemd schedules only the spaces of its tiers: "
			    "see kvmemctl daemon sequences)");
		return EX_FAIL;
	}
	json_object_put(rep);
	/* Done when the switch has ended: one more switch, not in flight. */
	if (!x->nowait) {
		uint64_t end = now_ms() + x->timeout * 1000;

		while (!done && now_ms() < end) {
			done = kd_seq(id, &sw, at, sizeof(at)) && sw > sw0 &&
			       strncmp(at, "to_", 3);
			if (!done)
				usleep(10000);
		}
		if (!done) {
			err("move: kvmemd took the move of space %llu to its %s "
			    "tier but it had not ended after %llu s (kvmemctl "
			    "seqs shows where it is)", (unsigned long long)id,
			    to, (unsigned long long)x->timeout);
			return EX_FAIL;
		}
	}
	if (opt.json) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "source", jsource(true, false));
		json_object_object_add(o, "id", jint((int64_t)id));
		json_object_object_add(o, "tier", jstr(!strcmp(to, "fast") ?
						       fast : slow));
		json_object_object_add(o, "done", json_object_new_boolean(done));
		json_object_object_add(o, "now", done ? jstr(at) : NULL);
		print_json(o);
	} else {
		source_of(true, NULL);
		printf("space %llu: %s to kvmemd's %s tier (%s)\n",
		       (unsigned long long)id, done ? "moved" : "moving", to,
		       !strcmp(to, "fast") ? fast : slow);
		if (done && strcmp(at, to))
			printf("(kvmemd has moved it back to its %s tier since, "
			       "by its rules: 'kvmemctl daemon pause' first keeps "
			       "it where it is put)\n", at);
	}
	return EX_OK;
}

static int move_module(struct move_ctx *x, uint64_t id, int tier)
{
	struct kvmem_space_info si[1];
	struct kvmem_list l = { .cursor = id, .max = 1 };
	struct kvmem_migrate mg = { 0 };
	int fd = dev_open(true), e;

	if (fd < 0)
		return EX_FAIL;
	memset(si, 0, sizeof(si));
	l.entries = (uintptr_t)si;
	l.entry_size = sizeof(si[0]);
	if (ioctl(fd, KVMEM_IOC_LIST_SPACES, &l)) {
		dev_explain("move: LIST_SPACES", -errno);
		close(fd);
		return EX_FAIL;
	}
	if (l.count != 1 || si[0].id != id) {
		err("move: no space %llu (see kvmemctl seqs)",
		    (unsigned long long)id);
		close(fd);
		return EX_FAIL;
	}
	if (si[0].flags & KVMEM_SPACE_INFO_DEVICE) {
		err("move: space %llu is a device space: only its owner can "
		    "move GPU memory (kvmemd asks it through run states)",
		    (unsigned long long)id);
		close(fd);
		return EX_FAIL;
	}
	mg.handle = (uint32_t)id;
	mg.flags = KVMEM_MIGRATE_BY_ID | (x->keep ? KVMEM_MIGRATE_KEEP_COPY : 0);
	mg.first = 0;
	mg.count = si[0].npages;
	mg.tier = (uint32_t)tier;
	mg.cookie = 0x6b766d656d63746cULL;	/* "kvmemctl" */
	if (ioctl(fd, KVMEM_IOC_MIGRATE, &mg)) {
		e = errno;
		if (e == ENODEV || e == EINVAL)
			err("move: the module refused to move space %llu to %s: "
			    "%s (is there a pool of tier %s? see kvmemctl pools)",
			    (unsigned long long)id, tier_names[tier],
			    strerror(e), tier_names[tier]);
		else
			err("move: space %llu to %s: %s", (unsigned long long)id,
			    tier_names[tier], strerror(e));
		close(fd);
		return EX_FAIL;
	}
	if (!x->nowait) {
		uint64_t end = now_ms() + x->timeout * 1000;

		for (;;) {
			struct kvmem_event ev;
			struct pollfd p = { .fd = fd, .events = POLLIN };
			int64_t left = (int64_t)(end - now_ms());
			ssize_t n;

			if (left <= 0 || poll(&p, 1, (int)left) <= 0) {
				/* Closing the file waits for the migration. */
				err("move: space %llu: no completion after %llu s; "
				    "it finishes when kvmemctl exits",
				    (unsigned long long)id,
				    (unsigned long long)x->timeout);
				close(fd);
				return EX_FAIL;
			}
			n = read(fd, &ev, sizeof(ev));
			if (n != (ssize_t)sizeof(ev))
				continue;
			if (ev.type != KVMEM_EVENT_MIGRATE || ev.id != mg.id)
				continue;
			if (ev.status) {
				err("move: space %llu to %s ended with %s after "
				    "%llu pages%s", (unsigned long long)id,
				    tier_names[tier], strerror(-ev.status),
				    (unsigned long long)ev.pages,
				    ev.status == -ENOMEM ? ": the target tier "
				    "ran out of frames (raise its pool's reserve: "
				    "kvmemctl pool resize)" : "");
				close(fd);
				return EX_FAIL;
			}
			if (opt.json) {
				json_object *o = json_object_new_object();

				json_object_object_add(o, "source",
						       jsource(false, true));
				json_object_object_add(o, "id", jint((int64_t)id));
				json_object_object_add(o, "tier",
						       jstr(tier_names[tier]));
				json_object_object_add(o, "pages",
						       jint((int64_t)ev.pages));
				json_object_object_add(o, "bytes_copied",
						       jint((int64_t)ev.bytes_copied));
				json_object_object_add(o, "bytes_reused",
						       jint((int64_t)ev.bytes_reused));
				print_json(o);
			} else {
				char b1[32], b2[32];

				source_line("module (manager ioctls)");
				printf("space %llu: moved to %s: %llu pages in "
				       "%s, %s copied, %s reused from clean "
				       "copies\n", (unsigned long long)id,
				       tier_names[tier],
				       (unsigned long long)ev.pages,
				       tier_names[tier],
				       human_bytes(ev.bytes_copied, b1, sizeof(b1)),
				       human_bytes(ev.bytes_reused, b2, sizeof(b2)));
			}
			break;
		}
	} else if (!opt.json) {
		printf("space %llu: moving to %s\n", (unsigned long long)id,
		       tier_names[tier]);
	}
	close(fd);
	return EX_OK;
}

int cmd_move(int argc, char **argv)
{
	static const struct option extra[] = {
		{ "keep-copy", no_argument, NULL, O_KEEP },
		{ "no-wait", no_argument, NULL, O_NOWAIT },
		{ "timeout", required_argument, NULL, O_TIMEOUT }, { 0 } };
	struct move_ctx x = { .ops = { .max = 2, .cmd = "move" }, .timeout = 10 };
	json_object *ds;
	uint64_t id;
	int tier, r = parse_opts(argc, argv, move_usage, extra, NULL, move_opt, &x);

	if (r < 0)
		return r == -1 ? EX_OK : EX_USAGE;
	if (x.ops.n != 2 || parse_u64(x.ops.v[0], &id) || id > UINT32_MAX) {
		err("move: give a space id and a tier: kvmemctl move ID TIER "
		    "(see kvmemctl seqs)");
		return EX_USAGE;
	}
	tier = tier_parse(x.ops.v[1]);
	if (tier < 0 && strcmp(x.ops.v[1], "fast") && strcmp(x.ops.v[1], "slow")) {
		err("move: tier \"%s\": want hbm, dram, cxl, fast or slow",
		    x.ops.v[1]);
		return EX_USAGE;
	}
	ds = kd_status();
	if (ds) {
		r = move_daemon(&x, id, x.ops.v[1], ds);
		json_object_put(ds);
		return r;
	}
	if (tier < 0) {
		err("move: \"%s\" is kvmemd's word and kvmemd is not running: "
		    "give hbm, dram or cxl", x.ops.v[1]);
		return EX_USAGE;
	}
	return move_module(&x, id, tier);
}

/* ---- daemon ------------------------------------------------------------------ */

static const char daemon_usage[] =
"usage: kvmemctl daemon status|pause|resume|tenants|sequences [--json]\n"
"       kvmemctl daemon request JSON\n"
"Talks to kvmemd's control socket (--socket, /run/kvmemd/control.sock):\n"
"  status     its state: tiers, sequences, switches in flight, counters\n"
"  pause      stop making decisions (switches in flight still end)\n"
"  resume     make decisions again\n"
"  tenants    its view of the tenants: weight, counter, service\n"
"  sequences  the sequences it schedules\n"
"  request    send one raw JSON request, print the reply\n"
"(Documentation/kvmemd.md, \"Control socket\").\n";

int cmd_daemon(int argc, char **argv)
{
	struct operands ops = { .max = 2, .cmd = "daemon" };
	json_object *rep;
	const char *sub;
	char req[4200], what[32];
	int e, r = parse_opts(argc, argv, daemon_usage, NULL, NULL, operands_only,
			      &ops);

	if (r < 0)
		return r == -1 ? EX_OK : EX_USAGE;
	if (ops.n < 1) {
		err("daemon: give status, pause, resume, tenants, sequences or "
		    "request (see kvmemctl daemon --help)");
		return EX_USAGE;
	}
	sub = ops.v[0];
	if (!strcmp(sub, "request")) {
		if (ops.n != 2) {
			err("daemon request: give one JSON object, such as "
			    "'{\"cmd\":\"status\"}'");
			return EX_USAGE;
		}
		snprintf(req, sizeof(req), "%s", ops.v[1]);
	} else if (ops.n == 1 && (!strcmp(sub, "status") || !strcmp(sub, "pause") ||
				  !strcmp(sub, "resume") ||
				  !strcmp(sub, "tenants") ||
				  !strcmp(sub, "sequences"))) {
		snprintf(req, sizeof(req), "{\"cmd\":\"%s\"}", sub);
	} else {
		err("daemon: unknown request \"%s\": status, pause, resume, "
		    "tenants, sequences or request JSON", sub);
		return EX_USAGE;
	}
	if (opt.no_daemon) {
		err("daemon %s: talks to kvmemd, and --no-daemon was given", sub);
		return EX_USAGE;
	}
	rep = kd_ask(req, &e);
	snprintf(what, sizeof(what), "daemon %s", sub);
	if (!rep) {
		kd_explain(what, e);
		return EX_FAIL;
	}
	if (!jbool(rep, "ok")) {
		if (opt.json || !strcmp(sub, "request"))
			print_json(json_object_get(rep));
		else
			kd_refused(what, rep);
		json_object_put(rep);
		return EX_FAIL;
	}
	if (opt.json || !strcmp(sub, "request")) {
		print_json(rep);
		return EX_OK;
	}
	source_of(true, NULL);
	if (!strcmp(sub, "pause") || !strcmp(sub, "resume")) {
		printf("kvmemd: %s\n", !strcmp(sub, "pause") ? "paused: no "
		       "decisions until 'kvmemctl daemon resume'" :
		       "making decisions again");
	} else if (!strcmp(sub, "status")) {
		json_object_object_del(rep, "ok");
		json_object_object_foreach(rep, k, v)
			printf("%-16s %s\n", k, json_object_get_string(v));
	} else {
		json_object *a;
		bool first = true;

		if (json_object_object_get_ex(rep, sub, &a))
			for (size_t i = 0; i < json_object_array_length(a); i++) {
				json_object *en = json_object_array_get_idx(a, i);

				if (first) {
					json_object_object_foreach(en, k, v) {
						(void)v;
						printf("%-12s ", k);
					}
					putchar('\n');
					first = false;
				}
				json_object_object_foreach(en, k, v) {
					(void)k;
					printf("%-12s ", json_object_get_string(v));
				}
				putchar('\n');
			}
		if (first)
			printf("(none)\n");
	}
	json_object_put(rep);
	return EX_OK;
}
