// SPDX-License-Identifier: GPL-2.0
/*
 * kvmem-vmtest: runs /bin/accel-backend-test (tests/accel/backend_test.c),
 * libaccel's scenarios against the host backend and against the cuda
 * backend on tests/cuda-emu's libcuda.so.1 in strict mode (a misuse of the
 * Driver API aborts), with the real module under both.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmtest.h"

#define BACKEND_TEST	"/bin/accel-backend-test"

/* Runs the scenarios of one backend; reports each of its lines. */
static void run_backend(const char *name)
{
	struct kv_snap s0;
	char line[512];
	int pfd[2], status;
	FILE *out;
	pid_t pid;

	snap_take(&s0);
	if (!CHECK(access(BACKEND_TEST, X_OK) == 0, "%s is in the image",
		   BACKEND_TEST) || !CHECK(pipe(pfd) == 0, "pipe"))
		return;
	pid = xfork();
	if (pid == 0) {
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		close(pfd[0]);
		setenv("CUEMU_STRICT", "1", 1);
		execl(BACKEND_TEST, "accel-backend-test", name, (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	out = fdopen(pfd[0], "r");
	while (out && fgets(line, sizeof(line), out)) {
		line[strcspn(line, "\n")] = 0;
		if (!strncmp(line, "FAIL ", 5))
			CHECK(0, "%s", line);
		else
			INFO("%s", line);
	}
	if (out)
		fclose(out);
	status = xwait_timeout(pid, 120000);
	CHECK(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "accel-backend-test %s exits 0 (status 0x%x)", name, status);
	snap_back(&s0, 5000, "after the backend scenarios");
}

void test_accel_backend_host(void)
{
	run_backend("host");
}

void test_accel_backend_cuda(void)
{
	run_backend("cuda");
}
