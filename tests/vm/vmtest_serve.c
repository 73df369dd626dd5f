// SPDX-License-Identifier: GPL-2.0
/*
 * The serving benchmark's short run (tools/serve/, serving-bench.md):
 * kvmem-serve runs one small trace through all four policies (recompute,
 * vllm_swap, fastswitch, kvmem) under one fast-tier budget; every policy
 * must finish every conversation with the same output checksum (no KV lost
 * or corrupted by any switch), and the switching policies must switch.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmtest.h"

#define SERVE_BIN	"/bin/kvmem-serve"
#define SERVE_OUT	"/tmp/kvmem-serve.out"

void test_serve_policies(void)
{
	struct kv_snap s0;
	char buf[16384];
	ssize_t n;
	pid_t pid;
	int fd;

	snap_take(&s0);
	if (!CHECK(access(SERVE_BIN, X_OK) == 0, "%s is in the guest "
		   "(give it to run.sh)", SERVE_BIN))
		return;
	pid = xfork();
	if (pid == 0) {
		fd = open(SERVE_OUT, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0 || dup2(fd, 1) < 0)
			_exit(126);
		execl(SERVE_BIN, "kvmem-serve", "--rounds", "1",
		      "--conversations", "12", "--rate", "12", "--think", "0.3",
		      "--len-scale", "0.06", "--max-turns", "4", "--too-small",
		      "2", "--max-run", "25", (char *)NULL);
		_exit(127);
	}
	if (CHECK(pid > 0, "fork"))
		child_done(pid, 120000, "kvmem-serve (checksums match)");
	fd = open(SERVE_OUT, O_RDONLY);
	if (CHECK(fd >= 0, "open %s", SERVE_OUT)) {
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		buf[n > 0 ? n : 0] = 0;
		vt_info("%s", buf);
		CHECK(strstr(buf, "\"checksums_match\": true") != NULL,
		      "every policy's outputs identical");
		CHECK(strstr(buf, "\"kvmem\": {") != NULL, "kvmem ran");
	}
	unlink(SERVE_OUT);
	snap_back(&s0, 5000, "after kvmem-serve");
}
