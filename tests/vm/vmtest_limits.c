// SPDX-License-Identifier: GPL-2.0
/*
 * Per-client limits (issue 11, low findings).
 *
 * space_cap: one client cannot take the global space-id range for
 * everyone: SPACE_CREATE beyond the module parameter max_spaces of live
 * spaces in one file fails with EMFILE, while another client still
 * creates; a DESTROY makes room again.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmtest.h"

#define MAX_SPACES_PARAM "/sys/module/kvmem/parameters/max_spaces"

void test_space_cap(void)
{
	struct kvmem_space_create c[9], o;
	char was[32] = "";
	struct kv_env e;
	int fd, fd2 = -1, err;
	unsigned int i, made = 0;

	if (!kv_setup(&fd, &e, false))
		return;
	if (!CHECK_ERR(sysfs_read(MAX_SPACES_PARAM, was, sizeof(was)), 0,
		       "read %s", MAX_SPACES_PARAM))
		goto out;
	INFO("max_spaces is %s by default", was);
	CHECK(strtoull(was, NULL, 10) > 0 && strtoull(was, NULL, 10) < 4000000,
	      "the default cap is below the id range (%s)", was);
	if (!CHECK_ERR(sysfs_write(MAX_SPACES_PARAM, "8"), 0, "max_spaces=8"))
		goto out;
	for (i = 0; i < 8; i++) {
		err = kv_create(fd, e.ps, e.pool[e.P].tier, KVMEM_POLICY_FAIL,
				0, &c[i]);
		if (!CHECK_ERR(err, 0, "space %u of 8", i))
			goto undo;
		made++;
	}
	err = kv_create(fd, e.ps, e.pool[e.P].tier, KVMEM_POLICY_FAIL, 0,
			&c[8]);
	if (!err)
		made++;
	CHECK_ERR(err, EMFILE, "a ninth space in the same file");
	fd2 = kv_open();
	if (CHECK(fd2 >= 0, "another client opens")) {
		err = kv_create(fd2, e.ps, e.pool[e.P].tier, KVMEM_POLICY_FAIL,
				0, &o);
		CHECK_ERR(err, 0, "another client still creates a space");
		if (!err)
			CHECK_ERR(kv_destroy(fd2, o.handle), 0, "destroy it");
	}
	CHECK_ERR(kv_destroy(fd, c[--made].handle), 0, "DESTROY one");
	err = kv_create(fd, e.ps, e.pool[e.P].tier, KVMEM_POLICY_FAIL, 0,
			&c[made]);
	if (CHECK_ERR(err, 0, "then a space fits again"))
		made++;
undo:
	while (made)
		kv_destroy(fd, c[--made].handle);
	CHECK_ERR(sysfs_write(MAX_SPACES_PARAM, was), 0, "max_spaces back "
		  "to %s", was);
out:
	if (fd2 >= 0)
		close(fd2);
	close(fd);
}
