// SPDX-License-Identifier: GPL-2.0
/*
 * The control socket's requests (Documentation/kvmemd.md, "Control
 * socket"): one JSON object per line in, one per line out, parsed and
 * built with json-c. Every field is checked; anything malformed gets
 * {"ok":false,"errno":N,"error":"..."} and changes nothing.
 */
#include <errno.h>
#include <json.h>
#include <limits.h>
#include <math.h>
#include <search.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <linux/kvmem.h>

#include "kvmemd.h"

#define CTL_MAX_REQUEST 4096

static char *reply_error(struct kvmemd *d, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static char *finish(struct json_object *o)
{
	char *s = strdup(json_object_to_json_string_ext(o,
						JSON_C_TO_STRING_PLAIN));

	json_object_put(o);
	return s;
}

static char *reply_error(struct kvmemd *d, int err, const char *fmt, ...)
{
	struct json_object *o = json_object_new_object();
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	d->m.ctl_errors++;
	json_object_object_add(o, "ok", json_object_new_boolean(0));
	json_object_object_add(o, "errno", json_object_new_int(err));
	json_object_object_add(o, "error", json_object_new_string(msg));
	return finish(o);
}

static struct json_object *ok_reply(void)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "ok", json_object_new_boolean(1));
	return o;
}

/* Only @allowed keys (NULL-terminated) may appear; returns the first other. */
static const char *unknown_key(struct json_object *req,
			       const char *const *allowed)
{
	json_object_object_foreach(req, key, val) {
		const char *const *a;

		(void)val;
		for (a = allowed; *a; a++)
			if (!strcmp(*a, key))
				break;
		if (!*a)
			return key;
	}
	return NULL;
}

/* An integer field in [lo, hi]; json-c's ints only, no strings or reals. */
static int get_int(struct json_object *req, const char *key, bool required,
		   int64_t lo, int64_t hi, int64_t *out)
{
	struct json_object *v;

	if (!json_object_object_get_ex(req, key, &v))
		return required ? -ENOENT : 1;
	if (!json_object_is_type(v, json_type_int))
		return -EINVAL;
	errno = 0;
	*out = json_object_get_int64(v);
	if (errno || *out < lo || *out > hi)
		return -ERANGE;
	return 0;
}

static const char *const tier_names[] = { "hbm", "dram", "cxl" };
static const char *const at_names[] = { "fast", "slow", "to_fast", "to_slow" };
static const char *const demand_names[] = { "none", "waiting", "running",
					    "idle" };
static const char *const run_names[] = { "runnable", "preempt", "prefetch" };

static char *do_status(struct kvmemd *d)
{
	struct json_object *o = ok_reply();
	struct pol *p = &d->pol;

	json_object_object_add(o, "device", json_object_new_boolean(d->fd >= 0));
	json_object_object_add(o, "run_state",
			       json_object_new_boolean(p->cfg.run_state));
	json_object_object_add(o, "paused", json_object_new_boolean(p->paused));
	json_object_object_add(o, "fast_tier", json_object_new_string(
		tier_names[d->fast_tier % 3]));
	json_object_object_add(o, "slow_tier", json_object_new_string(
		tier_names[d->slow_tier % 3]));
	json_object_object_add(o, "sequences", json_object_new_int64(
		(int64_t)p->nseqs));
	json_object_object_add(o, "tenants", json_object_new_int64(
		(int64_t)p->ntenants));
	json_object_object_add(o, "clients", json_object_new_int64(d->nclients));
	json_object_object_add(o, "inflight", json_object_new_int64(p->inflight));
	json_object_object_add(o, "capacity_bytes", json_object_new_int64(
		(int64_t)p->capacity));
	json_object_object_add(o, "used_bytes", json_object_new_int64(
		(int64_t)p->used));
	json_object_object_add(o, "preemptions", json_object_new_int64(
		(int64_t)p->st.preemptions));
	json_object_object_add(o, "switches_failed", json_object_new_int64(
		(int64_t)p->st.failed));
	json_object_object_add(o, "resumes", json_object_new_int64(
		(int64_t)p->st.resumes));
	json_object_object_add(o, "resume_bytes", json_object_new_int64(
		(int64_t)p->st.resume_bytes));
	json_object_object_add(o, "resume_wait_s", json_object_new_double(
		(double)p->st.resume_wait_ns / 1e9));
	return finish(o);
}

static char *do_tenants(struct kvmemd *d)
{
	struct json_object *o = ok_reply(), *a = json_object_new_array();

	for (size_t i = 0; i < d->pol.ntenants; i++) {
		const struct pol_tenant *t = d->pol.tenants[i];
		struct json_object *e = json_object_new_object();

		json_object_object_add(e, "id", json_object_new_int64(t->id));
		json_object_object_add(e, "weight",
				       json_object_new_double(t->weight));
		json_object_object_add(e, "quota_bytes",
				       json_object_new_int64((int64_t)t->quota));
		json_object_object_add(e, "counter",
				       json_object_new_double(t->counter));
		json_object_object_add(e, "service",
				       json_object_new_double(t->service));
		json_object_object_add(e, "fast_bytes",
				       json_object_new_int64((int64_t)t->fast_bytes));
		json_object_object_add(e, "backlogged",
				       json_object_new_int64(t->nbacklog));
		json_object_object_add(e, "preemptions",
				       json_object_new_int64((int64_t)t->preemptions));
		json_object_array_add(a, e);
	}
	json_object_object_add(o, "tenants", a);
	return finish(o);
}

static void walk_seq(const void *node, VISIT v, void *closure)
{
	const struct pol_seq *s = *(const struct pol_seq *const *)node;
	struct json_object *e, *walk_out = closure;

	if (v != postorder && v != leaf)
		return;
	e = json_object_new_object();
	json_object_object_add(e, "id", json_object_new_int64((int64_t)s->id));
	json_object_object_add(e, "tenant", json_object_new_int64(s->t->id));
	json_object_object_add(e, "priority", json_object_new_int(s->prio));
	json_object_object_add(e, "demand",
			       json_object_new_string(demand_names[s->demand & 3]));
	json_object_object_add(e, "residency",
			       json_object_new_string(at_names[s->at & 3]));
	json_object_object_add(e, "run",
			       json_object_new_string(run_names[s->run % 3]));
	json_object_object_add(e, "bytes", json_object_new_int64((int64_t)s->bytes));
	json_object_object_add(e, "clean_bytes",
			       json_object_new_int64((int64_t)s->clean));
	json_object_object_add(e, "device", json_object_new_boolean(s->owner_moves));
	json_object_object_add(e, "switches",
			       json_object_new_int64((int64_t)s->switches));
	json_object_array_add(walk_out, e);
}

static char *do_sequences(struct kvmemd *d)
{
	struct json_object *o = ok_reply(), *a = json_object_new_array();

	twalk_r(d->pol.seq_tree, walk_seq, a);
	json_object_object_add(o, "sequences", a);
	return finish(o);
}

static void one_space(void *arg, const struct kvmem_space_info *si,
		      const uint64_t *pools, uint32_t npools)
{
	struct json_object *e = json_object_new_object(), *pp, *pc;

	json_object_object_add(e, "id", json_object_new_int64(si->id));
	json_object_object_add(e, "client", json_object_new_int64(si->client));
	json_object_object_add(e, "tenant", json_object_new_int64(si->tenant));
	json_object_object_add(e, "priority", json_object_new_int(si->priority));
	json_object_object_add(e, "tokens", json_object_new_int64(
		(int64_t)si->tokens));
	json_object_object_add(e, "npages", json_object_new_int64(
		(int64_t)si->npages));
	json_object_object_add(e, "tier", json_object_new_int64(si->tier));
	json_object_object_add(e, "policy", json_object_new_int64(si->policy));
	json_object_object_add(e, "resident", json_object_new_int64(
		(int64_t)si->resident));
	json_object_object_add(e, "copies", json_object_new_int64(
		(int64_t)si->copies));
	json_object_object_add(e, "run_state", json_object_new_int64(si->run_state));
	json_object_object_add(e, "run_tier", json_object_new_int64(si->run_tier));
	json_object_object_add(e, "demand", json_object_new_int64(si->demand));
	json_object_object_add(e, "flags", json_object_new_int64(si->flags));
	pp = json_object_new_array();
	pc = json_object_new_array();
	for (uint32_t i = 0; pools && i < npools; i++) {
		json_object_array_add(pp, json_object_new_int64((int64_t)pools[i]));
		json_object_array_add(pc, json_object_new_int64(
			(int64_t)pools[npools + i]));
	}
	json_object_object_add(e, "pool_pages", pp);
	json_object_object_add(e, "pool_copies", pc);
	json_object_array_add(arg, e);
}

/* The module's own list, through kvmemd's manager file (kvmemctl seqs). */
static char *do_spaces(struct kvmemd *d)
{
	struct json_object *o, *a = json_object_new_array();
	int r = kd_device_spaces(d, one_space, a);

	if (r) {
		json_object_put(a);
		return reply_error(d, -r, "spaces: %s", r == -ENODEV ?
				   "no device (--no-device)" : strerror(-r));
	}
	o = ok_reply();
	json_object_object_add(o, "spaces", a);
	return finish(o);
}

static char *do_set_tenant(struct kvmemd *d, struct json_object *req)
{
	static const char *const keys[] = { "cmd", "tenant", "weight",
					    "quota_bytes", NULL };
	const char *bad = unknown_key(req, keys);
	int64_t id, weight = 0, quota = 0;
	struct pol_tenant *t;
	int rw, rq, r;

	if (bad)
		return reply_error(d, EINVAL, "set_tenant: unknown field \"%s\"",
				   bad);
	r = get_int(req, "tenant", true, 0, KD_MAX_TENANTS - 1, &id);
	if (r)
		return reply_error(d, EINVAL, "set_tenant: \"tenant\" must be "
				   "an integer 0..%d", KD_MAX_TENANTS - 1);
	if (d->fd >= 0 && (uint64_t)id >= d->ntenants)
		return reply_error(d, ENOENT, "set_tenant: tenant %lld: the "
				   "module has tenants 0..%u", (long long)id,
				   d->ntenants - 1);
	rw = get_int(req, "weight", false, 1, 10000, &weight);
	rq = get_int(req, "quota_bytes", false, 0, INT64_MAX, &quota);
	if (rw < 0)
		return reply_error(d, EINVAL, "set_tenant: \"weight\" must be "
				   "an integer 1..10000");
	if (rq < 0)
		return reply_error(d, EINVAL, "set_tenant: \"quota_bytes\" must "
				   "be an integer >= 0 (0: none)");
	if (rw && rq)
		return reply_error(d, EINVAL, "set_tenant: give \"weight\", "
				   "\"quota_bytes\" or both");
	t = pol_tenant_get(&d->pol, (uint32_t)id);
	r = pol_tenant_set(&d->pol, (uint32_t)id,
			   rw ? (t ? t->weight : 1) : (double)weight,
			   rq ? (t ? t->quota : 0) : (uint64_t)quota);
	if (r)
		return reply_error(d, -r, "set_tenant: %s", strerror(-r));
	t = pol_tenant_get(&d->pol, (uint32_t)id);
	d->cfg.tenants[id].set = true;
	d->cfg.tenants[id].weight = (uint32_t)t->weight;
	d->cfg.tenants[id].quota_bytes = t->quota;
	r = kd_tenant_apply(d, (uint32_t)id);
	if (r)
		return reply_error(d, -r, "set_tenant: the module refused: %s",
				   strerror(-r));
	return finish(ok_reply());
}

static char *do_move(struct kvmemd *d, struct json_object *req)
{
	static const char *const keys[] = { "cmd", "sequence", "tier", NULL };
	const char *bad = unknown_key(req, keys), *tier;
	struct json_object *v;
	int64_t id;
	int r, to;

	if (bad)
		return reply_error(d, EINVAL, "move: unknown field \"%s\"", bad);
	if (get_int(req, "sequence", true, 0, UINT32_MAX, &id))
		return reply_error(d, EINVAL, "move: \"sequence\" must be a "
				   "space id (an integer 0..4294967295)");
	if (!json_object_object_get_ex(req, "tier", &v) ||
	    !json_object_is_type(v, json_type_string))
		return reply_error(d, EINVAL, "move: \"tier\" must be \"fast\" "
				   "or \"slow\"");
	tier = json_object_get_string(v);
	if (!strcmp(tier, "fast"))
		to = POL_FAST;
	else if (!strcmp(tier, "slow"))
		to = POL_SLOW;
	else
		return reply_error(d, EINVAL, "move: \"tier\" must be \"fast\" "
				   "or \"slow\"");
	r = pol_seq_move(&d->pol, (uint64_t)id, to);
	if (r == -ENOENT)
		return reply_error(d, ENOENT, "move: no sequence %lld",
				   (long long)id);
	if (r == -EBUSY)
		return reply_error(d, EBUSY, "move: sequence %lld is being "
				   "switched; try again", (long long)id);
	if (r == -EALREADY)
		return reply_error(d, EALREADY, "move: sequence %lld is in the "
				   "%s tier already", (long long)id, tier);
	if (r == -EOPNOTSUPP)
		return reply_error(d, EOPNOTSUPP, "move: sequence %lld is a "
				   "device space and the module has no run "
				   "states", (long long)id);
	if (r)
		return reply_error(d, -r, "move: %s", strerror(-r));
	kd_apply(d);
	return finish(ok_reply());
}

static char *no_fields(struct kvmemd *d, struct json_object *req,
		       const char *cmd)
{
	static const char *const keys[] = { "cmd", NULL };
	const char *bad = unknown_key(req, keys);

	if (bad)
		return reply_error(d, EINVAL, "%s: unknown field \"%s\"", cmd,
				   bad);
	return NULL;
}

char *kd_ctl_handle(struct kvmemd *d, const char *line, size_t len)
{
	struct json_tokener *tok;
	struct json_object *req, *cmdv;
	const char *cmd;
	char *out;

	d->m.ctl_requests++;
	if (len > CTL_MAX_REQUEST)
		return reply_error(d, E2BIG, "request longer than %d bytes",
				   CTL_MAX_REQUEST);
	if (memchr(line, 0, len))
		return reply_error(d, EINVAL, "request holds a NUL byte");
	tok = json_tokener_new_ex(8);	/* depth: requests are flat */
	if (!tok)
		return reply_error(d, ENOMEM, "out of memory");
	req = json_tokener_parse_ex(tok, line, (int)len);
	if (!req || json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != len) {
		const char *why = json_tokener_error_desc(
			json_tokener_get_error(tok));
		bool trailing = req && json_tokener_get_parse_end(tok) != len;

		json_object_put(req);
		json_tokener_free(tok);
		if (trailing)
			return reply_error(d, EINVAL, "not one JSON object: "
					   "text after it");
		return reply_error(d, EINVAL, "not JSON: %s",
				   req ? "incomplete" : why);
	}
	json_tokener_free(tok);
	if (!json_object_is_type(req, json_type_object)) {
		json_object_put(req);
		return reply_error(d, EINVAL, "a request is a JSON object "
				   "with a \"cmd\"");
	}
	if (!json_object_object_get_ex(req, "cmd", &cmdv) ||
	    !json_object_is_type(cmdv, json_type_string)) {
		json_object_put(req);
		return reply_error(d, EINVAL, "\"cmd\" must be a string: "
				   "status, tenants, sequences, spaces, "
				   "set_tenant, move, pause or resume");
	}
	cmd = json_object_get_string(cmdv);
	if (!strcmp(cmd, "set_tenant"))
		out = do_set_tenant(d, req);
	else if (!strcmp(cmd, "move"))
		out = do_move(d, req);
	else if (strcmp(cmd, "status") && strcmp(cmd, "tenants") &&
		 strcmp(cmd, "sequences") && strcmp(cmd, "spaces") &&
		 strcmp(cmd, "pause") &&
		 strcmp(cmd, "resume"))
		out = reply_error(d, EINVAL, "unknown cmd \"%.32s\": status, "
				  "tenants, sequences, spaces, set_tenant, "
				  "move, pause or resume", cmd);
	else if ((out = no_fields(d, req, cmd)))
		;
	else if (!strcmp(cmd, "status"))
		out = do_status(d);
	else if (!strcmp(cmd, "tenants"))
		out = do_tenants(d);
	else if (!strcmp(cmd, "sequences"))
		out = do_sequences(d);
	else if (!strcmp(cmd, "spaces"))
		out = do_spaces(d);
	else {
		d->pol.paused = !strcmp(cmd, "pause");
		out = finish(ok_reply());
	}
	json_object_put(req);
	return out;
}

bool kd_ctl_allowed(const struct kvmemd *d, uid_t uid, gid_t gid,
		    const gid_t *groups, int ngroups)
{
	if (uid == 0)
		return true;
	if (d->socket_gid == (gid_t)-1)
		return false;
	if (gid == d->socket_gid)
		return true;
	for (int i = 0; i < ngroups; i++)
		if (groups[i] == d->socket_gid)
			return true;
	return false;
}
