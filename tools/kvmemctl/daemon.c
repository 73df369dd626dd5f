// SPDX-License-Identifier: GPL-2.0
/*
 * kvmemctl's side of kvmemd's control socket (Documentation/kvmemd.md,
 * "Control socket"): one JSON request line, one reply line.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "kvmemctl.h"

#define REPLY_MAX (16 << 20)
#define TIMEOUT_MS 10000

static int connect_to(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int e = -errno;

		close(fd);
		return e;
	}
	return fd;
}

/* The reply line (malloc'd, NUL-terminated, no newline), or NULL. */
static char *read_line(int fd, int *e)
{
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);

	while (buf) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t r;
		char *nl;

		if (poll(&p, 1, TIMEOUT_MS) <= 0) {
			*e = -ETIMEDOUT;
			break;
		}
		if (n + 1 >= cap) {
			char *b = cap < REPLY_MAX ? realloc(buf, cap * 2) : NULL;

			if (!b) {
				*e = -E2BIG;
				break;
			}
			buf = b;
			cap *= 2;
		}
		r = read(fd, buf + n, cap - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			*e = r < 0 ? -errno : -EPIPE;
			break;
		}
		n += (size_t)r;
		buf[n] = 0;
		nl = memchr(buf, '\n', n);
		if (nl) {
			*nl = 0;
			return buf;
		}
	}
	free(buf);
	return NULL;
}

struct json_object *kd_ask(const char *req, int *e)
{
	struct json_object *o;
	char *line;
	int fd;

	*e = 0;
	if (opt.no_daemon) {
		*e = -ENOENT;
		return NULL;
	}
	fd = connect_to(opt.socket);
	if (fd < 0) {
		*e = fd;
		return NULL;
	}
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req) ||
	    write(fd, "\n", 1) != 1) {
		*e = -errno;
		close(fd);
		return NULL;
	}
	line = read_line(fd, e);
	close(fd);
	if (!line)
		return NULL;
	o = json_tokener_parse(line);
	/* A peer refused at accept gets one error line: still JSON. */
	if (!o || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		*e = -EPROTO;
	}
	free(line);
	return *e ? NULL : o;
}

struct json_object *kd_status(void)
{
	struct json_object *o, *ok;
	int e;

	o = kd_ask("{\"cmd\":\"status\"}", &e);
	if (o && (!json_object_object_get_ex(o, "ok", &ok) ||
		  !json_object_get_boolean(ok))) {
		int r = kd_refused("kvmemd status", o);

		json_object_put(o);
		o = NULL;
		if (r == EPERM || r == EACCES)
			err("(so kvmemd's view is left out)");
	}
	return o;
}

void kd_explain(const char *what, int e)
{
	if (opt.no_daemon)
		err("%s needs kvmemd, and --no-daemon was given", what);
	else if (e == -ENOENT || e == -ECONNREFUSED)
		err("%s: kvmemd is not running (no control socket at %s): "
		    "start it (systemctl start kvmemd), or give its socket "
		    "with --socket", what, opt.socket);
	else if (e == -EACCES || e == -EPERM)
		err("%s: permission denied on %s: run as root or as a member "
		    "of kvmemd's socket_group", what, opt.socket);
	else
		err("%s: kvmemd's socket %s: %s", what, opt.socket,
		    strerror(-e));
}

int kd_refused(const char *what, struct json_object *reply)
{
	struct json_object *v;
	const char *msg = "refused";
	int e = EIO;

	if (json_object_object_get_ex(reply, "error", &v))
		msg = json_object_get_string(v);
	if (json_object_object_get_ex(reply, "errno", &v))
		e = json_object_get_int(v);
	err("%s: kvmemd refused: %s", what, msg);
	return e;
}
