// SPDX-License-Identifier: GPL-2.0
/*
 * kvmemd against the real module: it takes the manager role, sees the
 * spaces that exist, survives kill -9 and a restart with the same view,
 * refuses to be a second manager, and stops cleanly on SIGTERM with every
 * frame back. run.sh must be given build/kvmemd (tools/check.sh does);
 * it is dynamically linked and its libraries go into the guest.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmtest.h"

#define KVMEMD_BIN	"/bin/kvmemd"
#define KVMEMD_SOCK	"/tmp/kvmemd-test.sock"

pid_t kvmemd_start(const char *sock)
{
	pid_t pid = xfork();

	if (pid == 0) {
		execl(KVMEMD_BIN, "kvmemd", "-v", "-s", sock, "-m", "off", "-i", "10",
		      (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* One request, one reply line (into @buf); false on any failure. */
bool kvmemd_ask(const char *sock, const char *req, char *buf, size_t len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 20 };
	size_t n = 0;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok = false;

	if (fd < 0)
		return false;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    write(fd, req, strlen(req)) != (ssize_t)strlen(req) ||
	    write(fd, "\n", 1) != 1)
		goto out;
	while (n + 1 < len) {
		ssize_t r = read(fd, buf + n, len - n - 1);

		if (r <= 0)
			goto out;
		n += (size_t)r;
		if (memchr(buf, '\n', n))
			break;
	}
	buf[n] = 0;
	ok = strchr(buf, '\n') != NULL;
out:
	close(fd);
	return ok;
}

/* Waits until kvmemd answers "status" (TCG start-up is slow). */
bool kvmemd_ready(pid_t pid, const char *sock, char *buf, size_t len)
{
	for (int i = 0; i < 600; i++) {
		if (kvmemd_ask(sock, "{\"cmd\":\"status\"}", buf, len))
			return true;
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return false;
		sleep_ms(50);
	}
	return false;
}

static bool lists_space(const char *reply, uint64_t id)
{
	char want[48];

	snprintf(want, sizeof(want), "{\"id\":%llu,", (unsigned long long)id);
	return strstr(reply, want) != NULL;
}

void test_kvmemd_restart(void)
{
	static char buf[1 << 16];
	struct kv_space a = { 0 }, b = { 0 };
	struct kv_snap s0;
	struct kv_env e;
	uint64_t ida, idb;
	pid_t pid, second;
	int fd, st;

	snap_take(&s0);
	if (!CHECK(access(KVMEMD_BIN, X_OK) == 0, "%s is in the guest (give "
		   "build/kvmemd to run.sh)", KVMEMD_BIN))
		return;
	if (!kv_setup_space(&fd, &e, &a, 8))
		return;
	if (!kv_space_fail(&b, fd, &e, 4))
		goto out_a;
	memset(a.map, 0x5a, a.size);
	memset(b.map, 0xa5, b.size);
	ida = a.c.mmap_offset >> KVMEM_SPACE_SHIFT;
	idb = b.c.mmap_offset >> KVMEM_SPACE_SHIFT;
	mkdir("/tmp", 01777);

	pid = kvmemd_start(KVMEMD_SOCK);
	if (!CHECK(pid > 0 && kvmemd_ready(pid, KVMEMD_SOCK, buf, sizeof(buf)),
		   "kvmemd answers its control socket"))
		goto out_kill;
	CHECK(strstr(buf, "\"ok\":true") && strstr(buf, "\"device\":true"),
	      "status with the device: %s", buf);
	CHECK(kvmemd_ask(KVMEMD_SOCK, "{\"cmd\":\"sequences\"}", buf, sizeof(buf)) &&
	      lists_space(buf, ida) && lists_space(buf, idb),
	      "kvmemd lists both spaces (%llu, %llu): %.300s",
	      (unsigned long long)ida, (unsigned long long)idb, buf);

	/* A second manager is refused: exit 1, the first one unharmed. */
	second = kvmemd_start("/tmp/kvmemd-second.sock");
	st = xwait_timeout(second, 30000);
	CHECK(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 1,
	      "a second kvmemd exits 1 (status 0x%x)", st);

	/* kill -9, restart: the same view, rebuilt from the module. */
	kill(pid, SIGKILL);
	xwait(pid);
	pid = kvmemd_start(KVMEMD_SOCK);
	if (!CHECK(kvmemd_ready(pid, KVMEMD_SOCK, buf, sizeof(buf)),
		   "kvmemd restarts after kill -9 (stale socket replaced)"))
		goto out_kill;
	CHECK(kvmemd_ask(KVMEMD_SOCK, "{\"cmd\":\"sequences\"}", buf, sizeof(buf)) &&
	      lists_space(buf, ida) && lists_space(buf, idb),
	      "after the restart kvmemd lists both spaces: %.300s", buf);
	CHECK(kvmemd_ask(KVMEMD_SOCK, "{\"cmd\":\"bogus\"}", buf, sizeof(buf)) &&
	      strstr(buf, "\"ok\":false"), "a bad request is refused: %s", buf);

	/* The engine's data is untouched by all this. */
	for (uint64_t i = 0; i < a.size; i += 4096)
		if (a.map[i] != 0x5a) {
			CHECK(0, "space a byte %llu changed",
			      (unsigned long long)i);
			break;
		}
	for (uint64_t i = 0; i < b.size; i += 4096)
		if (b.map[i] != 0xa5) {
			CHECK(0, "space b byte %llu changed",
			      (unsigned long long)i);
			break;
		}

	kill(pid, SIGTERM);
	st = xwait_timeout(pid, 30000);
	CHECK(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "SIGTERM: kvmemd exits 0 (status 0x%x)", st);
	CHECK(access(KVMEMD_SOCK, F_OK) != 0, "the socket is removed");
	pid = 0;
out_kill:
	if (pid > 0) {
		kill(pid, SIGKILL);
		xwait(pid);
	}
	kv_space_free(&b);
out_a:
	kv_space_free(&a);
	close(fd);
	snap_back(&s0, 5000, "after kvmemd");
}

/* Polls "status" until its fast tier is @tier (a JSON string); false if not. */
static bool fast_tier_is(const char *sock, const char *tier, char *buf,
			 size_t len)
{
	char want[48];

	snprintf(want, sizeof(want), "\"fast_tier\":\"%s\"", tier);
	for (int i = 0; i < 400; i++) {
		if (kvmemd_ask(sock, "{\"cmd\":\"status\"}", buf, len) &&
		    strstr(buf, want))
			return true;
		sleep_ms(50);
	}
	return false;
}

/*
 * A GPU registered while kvmemd runs makes the device pool the fast tier:
 * kvmemd then schedules the device spaces (the cuda backend's grants) and
 * no longer the host spaces, which cannot move into a GPU; the GPU gone,
 * the node tiers and the host spaces come back.
 */
void test_kvmemd_device_tier(void)
{
	static char buf[1 << 16];
	struct kvmem_device_pool dp = {
		.device = 0x4200, .frame_size = 2 * MiB, .frames = 64,
		.tier = KVMEM_TIER_HBM,
	};
	struct kvmem_device_pool_remove rm = { 0 };
	struct kvmem_space_create dc = { 0 };
	struct kvmem_space_destroy ds = { 0 };
	struct kv_space a = { 0 };
	struct kv_snap s0;
	struct kv_env e;
	uint64_t ida, idd = 0;
	bool added = false;
	pid_t pid;
	int fd, st;

	snap_take(&s0);
	if (!CHECK(access(KVMEMD_BIN, X_OK) == 0, "%s is in the guest",
		   KVMEMD_BIN) || !kv_setup_space(&fd, &e, &a, 8))
		return;
	memset(a.map, 0x3c, a.size);
	ida = a.c.mmap_offset >> KVMEM_SPACE_SHIFT;
	mkdir("/tmp", 01777);

	pid = kvmemd_start(KVMEMD_SOCK);
	if (!CHECK(pid > 0 && kvmemd_ready(pid, KVMEMD_SOCK, buf, sizeof(buf)),
		   "kvmemd answers its control socket"))
		goto out_kill;
	CHECK(!strstr(buf, "\"fast_tier\":\"hbm\""),
	      "no GPU: the fast tier is a node tier: %.300s", buf);

	if (!CHECK_ERR(kv_ioctl(fd, KVMEM_IOC_DEVICE_POOL_ADD, &dp), 0,
		       "DEVICE_POOL_ADD (hbm)"))
		goto out_kill;
	added = true;
	dc.size = 4 * dp.frame_size;
	dc.tier = KVMEM_TIER_HBM;
	dc.policy = KVMEM_POLICY_FAIL;
	dc.flags = KVMEM_SPACE_DEVICE;
	dc.pool = dp.index;
	if (!CHECK_ERR(kv_ioctl(fd, KVMEM_IOC_SPACE_CREATE, &dc), 0,
		       "a device space in the new pool"))
		goto out_kill;
	idd = dc.mmap_offset >> KVMEM_SPACE_SHIFT;
	CHECK(fast_tier_is(KVMEMD_SOCK, "hbm", buf, sizeof(buf)),
	      "the GPU registered: kvmemd's fast tier is hbm: %.300s", buf);
	CHECK(kvmemd_ask(KVMEMD_SOCK, "{\"cmd\":\"sequences\"}", buf, sizeof(buf)) &&
	      lists_space(buf, idd) && !lists_space(buf, ida),
	      "kvmemd schedules the device space %llu, not the host space "
	      "%llu: %.300s", U(idd), U(ida), buf);

	ds.handle = dc.handle;
	CHECK_ERR(kv_ioctl(fd, KVMEM_IOC_SPACE_DESTROY, &ds), 0,
		  "destroy the device space");
	rm.index = dp.index;
	if (CHECK_ERR(kv_ioctl(fd, KVMEM_IOC_DEVICE_POOL_REMOVE, &rm), 0,
		      "DEVICE_POOL_REMOVE"))
		added = false;
	CHECK(kvmemd_ask(KVMEMD_SOCK, "{\"cmd\":\"status\"}", buf, sizeof(buf)), "status");
	for (int i = 0; i < 400 && strstr(buf, "\"fast_tier\":\"hbm\""); i++) {
		sleep_ms(50);
		kvmemd_ask(KVMEMD_SOCK, "{\"cmd\":\"status\"}", buf, sizeof(buf));
	}
	CHECK(!strstr(buf, "\"fast_tier\":\"hbm\""),
	      "the GPU gone: a node tier is fast again: %.300s", buf);
	for (int i = 0; i < 400; i++) {
		if (kvmemd_ask(KVMEMD_SOCK, "{\"cmd\":\"sequences\"}", buf,
			sizeof(buf)) && lists_space(buf, ida))
			break;
		sleep_ms(50);
	}
	CHECK(lists_space(buf, ida) && !lists_space(buf, idd),
	      "the host space is scheduled again: %.300s", buf);
	for (uint64_t i = 0; i < a.size; i += 4096)
		if (a.map[i] != 0x3c) {
			CHECK(0, "host space byte %llu changed", U(i));
			break;
		}

	kill(pid, SIGTERM);
	st = xwait_timeout(pid, 30000);
	CHECK(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "SIGTERM: kvmemd exits 0 (status 0x%x)", st);
	pid = 0;
out_kill:
	if (pid > 0) {
		kill(pid, SIGKILL);
		xwait(pid);
	}
	if (added) {
		rm.index = dp.index;
		ds.handle = dc.handle;
		if (ds.handle)
			kv_ioctl(fd, KVMEM_IOC_SPACE_DESTROY, &ds);
		kv_ioctl(fd, KVMEM_IOC_DEVICE_POOL_REMOVE, &rm);
	}
	kv_space_free(&a);
	close(fd);
	snap_back(&s0, 5000, "after kvmemd with a GPU");
}
