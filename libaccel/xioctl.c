// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * System calls that are retried when they did nothing: EINTR (a signal
 * arrived before the call could finish; every kvmem ioctl that can return
 * it has changed nothing by then) and EAGAIN (a resource was busy for a
 * moment). EAGAIN is retried a bounded number of times with a short
 * growing sleep, so that a call can never spin forever.
 */
#include <errno.h>
#include <sys/ioctl.h>
#include <time.h>

#include "internal.h"

#define ACCEL_EAGAIN_TRIES	100

int accel_retry(int (*call)(void *arg), void *arg)
{
	unsigned int again = 0;

	for (;;) {
		int ret = call(arg);

		if (ret != -EINTR && ret != -EAGAIN)
			return ret;
		if (ret == -EAGAIN) {
			struct timespec ts = { 0, 1000L * (again + 1) };

			if (++again >= ACCEL_EAGAIN_TRIES)
				return ret;
			nanosleep(&ts, NULL);
		}
	}
}

struct ioctl_call {
	int fd;
	unsigned long req;
	void *arg;
};

static int ioctl_once(void *p)
{
	struct ioctl_call *c = p;

	return ioctl(c->fd, c->req, c->arg) ? -errno : 0;
}

int accel_ioctl(int fd, unsigned long req, void *arg)
{
	struct ioctl_call c = { fd, req, arg };

	return accel_retry(ioctl_once, &c);
}

/**
 * accel_ioctl_until() - accel_ioctl() that stops retrying at a deadline
 * @fd: the file
 * @req: the request
 * @arg: its argument
 * @deadline_ns: accel_now_ns() after which an interrupted call is not
 *	made again
 *
 * For the calls that wait in the kernel (a POPULATE under the WAIT
 * policy): each one made again waits afresh, so a thread that keeps
 * getting signals (a profiler's timer, say) would otherwise never time
 * out. Its wait is bounded by twice the kernel's timeout.
 *
 * Return: what the call returned, or -ETIMEDOUT when the deadline passed.
 */
int accel_ioctl_until(int fd, unsigned long req, void *arg,
		      uint64_t deadline_ns)
{
	for (;;) {
		int ret = ioctl(fd, req, arg) ? -errno : 0;

		if (ret != -EINTR && ret != -EAGAIN)
			return ret;
		if (accel_now_ns() >= deadline_ns)
			return -ETIMEDOUT;
	}
}

uint64_t accel_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}
