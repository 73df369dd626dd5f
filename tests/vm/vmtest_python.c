// SPDX-License-Identifier: GPL-2.0
/*
 * kvmem-vmtest: the Python binding's tests (tests/python/) on the real
 * module: chroot into /host (run.sh --hostfs: the host's /usr and /etc,
 * the repository at /repo) and run Debian's /usr/bin/python3 -m pytest
 * once, with the built extension (/repo/build/python) on the path and the
 * CUDA emulation (/repo/build/cuda-emu) on the library path. torch is
 * imported on 6.12 only (a cold import costs 25-60 s under TCG); 6.1 runs
 * the numpy tests. Each pytest failure is reported as a failed check.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmtest.h"

#define PY_CMD \
	"cd /repo/tests/python && PYTHONDONTWRITEBYTECODE=1 " \
	"KVMEM_PY_VM=1 KVMEM_PY_CUDA=1 KVMEM_PY_TORCH=%d CUEMU_STRICT=1 " \
	"LD_LIBRARY_PATH=/repo/build/cuda-emu HOME=/tmp " \
	"exec /usr/bin/python3 -m pytest -p no:cacheprovider -q -rfE " \
	"--durations=5 -o console_output_style=classic . 2>&1"

void test_python_pytest(void)
{
	struct kv_snap s0;
	struct utsname u;
	char cmd[512], line[1024];
	int pfd[2], status, torch;
	double t0 = now_ms();
	FILE *out;
	pid_t pid;

	snap_take(&s0);
	if (!CHECK(access("/host/repo/build/python/kvmem/__init__.py", R_OK) == 0,
		   "the binding is built and /host is mounted (run.sh --hostfs)"))
		return;
	uname(&u);
	torch = strncmp(u.release, "6.1.", 4) != 0;
	snprintf(cmd, sizeof(cmd), PY_CMD, torch);
	if (!CHECK(pipe(pfd) == 0, "pipe"))
		return;
	pid = xfork();
	if (pid == 0) {
		dup2(pfd[1], 1);
		close(pfd[0]);
		if (chroot("/host") || chdir("/"))
			_exit(126);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	out = fdopen(pfd[0], "r");
	while (out && fgets(line, sizeof(line), out)) {
		line[strcspn(line, "\n")] = 0;
		if (!strncmp(line, "FAILED ", 7) || !strncmp(line, "ERROR ", 6))
			CHECK(0, "pytest: %s", line);
		else
			INFO("%s", line);
	}
	if (out)
		fclose(out);
	status = xwait_timeout(pid, 165000);
	CHECK(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "python3 -m pytest (torch %s) exits 0 (status 0x%x)",
	      torch ? "on" : "off", status);
	INFO("python_pytest: %.1f s in the VM (torch %s)",
	     (now_ms() - t0) / 1000, torch ? "on" : "off");
	snap_back(&s0, 5000, "after the Python tests");
}
