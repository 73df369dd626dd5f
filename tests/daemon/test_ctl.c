// SPDX-License-Identifier: GPL-2.0
/*
 * The control socket's requests, straight into kd_ctl_handle(): every kind
 * with good and malformed input, and random bytes. Each reply must be one
 * JSON object; a refused request must say ok:false with an errno and
 * change nothing. The same requests go over the real socket in
 * tests/daemon/kvmemd-host.sh.
 */
#include <errno.h>
#include <json.h>
#include <string.h>

#include "../unit/unit.h"
#include "kvmemd.h"

static struct kvmemd d;

static void setup(void)
{
	struct pol_config c;

	memset(&d, 0, sizeof(d));
	d.fd = -1;
	d.socket_gid = (gid_t)-1;
	kd_config_default(&d.cfg);
	pol_config_default(&c);
	if (pol_init(&d.pol, &c))
		abort();
	pol_pool(&d.pol, 4 << 20, 0);
	pol_tenant_set(&d.pol, 1, 2, 0);
	pol_seq_add(&d.pol, 7, 1, 1 << 20, POL_FAST, false);
	pol_seq_add(&d.pol, 8, 1, 1 << 20, POL_SLOW, true);
}

/* Sends @req; returns the reply parsed (caller puts it), checks it is one
 * object with "ok". */
static struct json_object *ask(const char *req, size_t len)
{
	char *out = kd_ctl_handle(&d, req, len);
	struct json_object *o, *ok;

	CHECK(out != NULL);
	if (!out)
		return NULL;
	CHECK(strchr(out, '\n') == NULL);
	o = json_tokener_parse(out);
	CHECK(o && json_object_is_type(o, json_type_object));
	CHECK(o && json_object_object_get_ex(o, "ok", &ok) &&
	      json_object_is_type(ok, json_type_boolean));
	free(out);
	return o;
}

static bool is_ok(struct json_object *o)
{
	struct json_object *v;

	return o && json_object_object_get_ex(o, "ok", &v) &&
	       json_object_get_boolean(v);
}

static int err_of(struct json_object *o)
{
	struct json_object *v;

	return o && json_object_object_get_ex(o, "errno", &v) ?
		json_object_get_int(v) : 0;
}

static void good_requests(void)
{
	static const char *const good[] = {
		"{\"cmd\":\"status\"}", "{\"cmd\":\"tenants\"}",
		"{\"cmd\":\"sequences\"}",
		"{\"cmd\":\"set_tenant\",\"tenant\":1,\"weight\":5}",
		"{\"cmd\":\"set_tenant\",\"tenant\":2,\"quota_bytes\":1048576}",
		"{\"cmd\":\"move\",\"sequence\":7,\"tier\":\"slow\"}",
		"{\"cmd\":\"pause\"}", "{\"cmd\":\"resume\"}",
		"  {\"cmd\" : \"status\"}  ",
	};
	struct json_object *o, *a;

	setup();
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		o = ask(good[i], strlen(good[i]));
		if (!is_ok(o)) {
			fprintf(stderr, "  refused: %s\n", good[i]);
			unit_case_failed = 1;
		}
		json_object_put(o);
	}
	CHECK(pol_tenant_get(&d.pol, 1)->weight == 5);
	CHECK_EQ(pol_tenant_get(&d.pol, 2)->quota, 1048576);
	CHECK_EQ(pol_seq_get(&d.pol, 7)->at, POL_TO_SLOW);
	CHECK(!d.pol.paused);
	o = ask("{\"cmd\":\"sequences\"}", 19);
	CHECK(json_object_object_get_ex(o, "sequences", &a) &&
	      json_object_array_length(a) == 2);
	json_object_put(o);
	pol_destroy(&d.pol);
}

/* Every kind, malformed: refused with the errno named, nothing changed. */
static void malformed_requests(void)
{
	static const struct {
		const char *req;
		int err;
	} bad[] = {
		{ "", EINVAL }, { "   ", EINVAL }, { "{", EINVAL },
		{ "nul", EINVAL }, { "\"status\"", EINVAL }, { "[]", EINVAL },
		{ "42", EINVAL }, { "null", EINVAL }, { "{}", EINVAL },
		{ "{\"cmd\":1}", EINVAL }, { "{\"cmd\":null}", EINVAL },
		{ "{\"cmd\":\"STATUS\"}", EINVAL },
		{ "{\"cmd\":\"reboot\"}", EINVAL },
		{ "{\"cmd\":\"status\"} x", EINVAL },
		{ "{\"cmd\":\"status\"}{\"cmd\":\"status\"}", EINVAL },
		{ "{\"cmd\":\"status\",\"verbose\":true}", EINVAL },
		{ "{\"cmd\":\"tenants\",\"id\":1}", EINVAL },
		{ "{\"cmd\":\"sequences\",\"all\":1}", EINVAL },
		{ "{\"cmd\":\"spaces\",\"all\":1}", EINVAL },
		/* The module's list needs the device. */
		{ "{\"cmd\":\"spaces\"}", ENODEV },
		{ "{\"cmd\":\"pause\",\"for\":3}", EINVAL },
		{ "{\"cmd\":\"resume\",\"x\":null}", EINVAL },
		{ "{\"cmd\":\"set_tenant\"}", EINVAL },
		{ "{\"cmd\":\"set_tenant\",\"tenant\":1}", EINVAL },
		{ "{\"cmd\":\"set_tenant\",\"tenant\":-1,\"weight\":2}", EINVAL },
		{ "{\"cmd\":\"set_tenant\",\"tenant\":256,\"weight\":2}", EINVAL },
		{ "{\"cmd\":\"set_tenant\",\"tenant\":\"1\",\"weight\":2}", EINVAL },
		{ "{\"cmd\":\"set_tenant\",\"tenant\":1.5,\"weight\":2}", EINVAL },
		{ "{\"cmd\":\"set_tenant\",\"tenant\":1,\"weight\":0}", EINVAL },
		{ "{\"cmd\":\"set_tenant\",\"tenant\":1,\"weight\":10001}", EINVAL },
		{ "{\"cmd\":\"set_tenant\",\"tenant\":1,\"weight\":2.5}", EINVAL },
		{ "{\"cmd\":\"set_tenant\",\"tenant\":1,\"weight\":[2]}", EINVAL },
		{ "{\"cmd\":\"set_tenant\",\"tenant\":1,\"quota_bytes\":-1}", EINVAL },
		{ "{\"cmd\":\"set_tenant\",\"tenant\":1,\"weight\":2,\"x\":0}", EINVAL },
		{ "{\"cmd\":\"set_tenant\",\"tenant\":1,\"weight\":"
		  "99999999999999999999999}", EINVAL },
		{ "{\"cmd\":\"move\"}", EINVAL },
		{ "{\"cmd\":\"move\",\"sequence\":7}", EINVAL },
		{ "{\"cmd\":\"move\",\"sequence\":7,\"tier\":\"hbm\"}", EINVAL },
		{ "{\"cmd\":\"move\",\"sequence\":7,\"tier\":1}", EINVAL },
		{ "{\"cmd\":\"move\",\"sequence\":-7,\"tier\":\"slow\"}", EINVAL },
		{ "{\"cmd\":\"move\",\"sequence\":\"7\",\"tier\":\"slow\"}", EINVAL },
		{ "{\"cmd\":\"move\",\"sequence\":4294967296,\"tier\":\"slow\"}",
		  EINVAL },
		{ "{\"cmd\":\"move\",\"sequence\":7,\"tier\":\"slow\",\"now\":1}",
		  EINVAL },
		{ "{\"cmd\":\"move\",\"sequence\":9,\"tier\":\"slow\"}", ENOENT },
		{ "{\"cmd\":\"move\",\"sequence\":7,\"tier\":\"fast\"}", EALREADY },
		{ "{\"cmd\":\"move\",\"sequence\":8,\"tier\":\"slow\"}", EALREADY },
		{ "{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{\"g\":{\"h\":{}}}}}}}}}",
		  EINVAL },
	};
	char big[5000];

	setup();
	d.pol.paused = false;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct json_object *o = ask(bad[i].req, strlen(bad[i].req));

		if (is_ok(o) || err_of(o) != bad[i].err) {
			fprintf(stderr, "  %s: ok %d errno %d, want errno %d\n",
				bad[i].req, is_ok(o), err_of(o), bad[i].err);
			unit_case_failed = 1;
		}
		json_object_put(o);
	}
	/* Too long, and a NUL inside. */
	memset(big, ' ', sizeof(big));
	{
		struct json_object *o = ask(big, sizeof(big));

		CHECK(!is_ok(o) && err_of(o) == E2BIG);
		json_object_put(o);
		o = ask("{\"cmd\":\"st\0atus\"}", 17);
		CHECK(!is_ok(o) && err_of(o) == EINVAL);
		json_object_put(o);
	}
	/* Nothing changed. */
	CHECK(pol_tenant_get(&d.pol, 1)->weight == 2);
	CHECK(pol_tenant_get(&d.pol, 2) == NULL);
	CHECK_EQ(pol_seq_get(&d.pol, 7)->at, POL_AT_FAST);
	CHECK(!d.pol.paused);
	CHECK_EQ(d.pol.nout, 0);
	pol_destroy(&d.pol);
}

/* Random bytes and mutations of good requests: always one JSON reply. */
static void random_requests(void)
{
	static const char seed[] = "{\"cmd\":\"set_tenant\",\"tenant\":1,"
				   "\"weight\":5}";
	static const char alphabet[] = "{}[]\":,0123456789.-eE tnfalsru\\\x01\xff";
	uint64_t x = 0x2545F4914F6CDD1DULL;
	char buf[128];

	setup();
	for (int i = 0; i < 20000; i++) {
		size_t n = sizeof(seed) - 1;
		struct json_object *o;

		memcpy(buf, seed, n);
		for (int k = 0; k < 1 + i % 4; k++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			buf[x % n] = alphabet[(x >> 20) % (sizeof(alphabet) - 1)];
		}
		if (i % 2) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			n = x % n;
		}
		o = ask(buf, n);
		json_object_put(o);
		if (unit_case_failed)
			break;
	}
	pol_destroy(&d.pol);
}

static void peer_credentials(void)
{
	gid_t groups[] = { 5, 1000 };

	setup();
	CHECK(kd_ctl_allowed(&d, 0, 0, NULL, 0));
	CHECK(!kd_ctl_allowed(&d, 1000, 1000, groups, 2));
	d.socket_gid = 1000;
	CHECK(kd_ctl_allowed(&d, 1000, 100, groups, 2));
	CHECK(kd_ctl_allowed(&d, 1001, 1000, NULL, 0));
	CHECK(!kd_ctl_allowed(&d, 1001, 100, groups, 1));
	pol_destroy(&d.pol);
}

static const struct unit_case cases[] = {
	UNIT_CASE(good_requests),
	UNIT_CASE(malformed_requests),
	UNIT_CASE(random_requests),
	UNIT_CASE(peer_credentials),
};

UNIT_MAIN("daemon_ctl", cases)
