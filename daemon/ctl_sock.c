// SPDX-License-Identifier: GPL-2.0
/*
 * The control socket's transport: a Unix stream socket, one JSON request
 * per line, each answered by one line (ctl.c does the rest). Peers are
 * checked with SO_PEERCRED and SO_PEERGROUPS: root or the socket group.
 * Connections are non-blocking sd-event sources; a reply that does not fit
 * the socket buffer waits for EPOLLOUT, and the connection reads nothing
 * more until it is out.
 */
#include <errno.h>
#include <grp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-event.h>
#include <unistd.h>

#include "ctl_sock.h"

#define CTL_LINE_MAX 4097	/* a request of 4096 bytes and its newline */
#define CTL_MAX_CONN 32

struct conn {
	struct kvmemd *d;
	sd_event_source *src;
	int fd;
	char in[CTL_LINE_MAX];
	size_t nin;
	char *out;
	size_t nout, off;
	bool closing;		/* reply, then drain */
	bool draining;		/* reply sent: discard input until EOF */
	size_t drained;
};

static unsigned nconn;

static void conn_free(struct conn *c)
{
	sd_event_source_unref(c->src);
	close(c->fd);
	free(c->out);
	free(c);
	nconn--;
}

static int conn_flush(struct conn *c)
{
	while (c->off < c->nout) {
		ssize_t n = send(c->fd, c->out + c->off, c->nout - c->off,
				 MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return sd_event_source_set_io_events(c->src, EPOLLOUT);
		if (n < 0)
			return -errno;
		c->off += (size_t)n;
	}
	free(c->out);
	c->out = NULL;
	c->nout = c->off = 0;
	if (c->closing) {
		/* Closing with unread input would reset the connection and
		 * could lose the reply: end our side, read theirs to EOF. */
		shutdown(c->fd, SHUT_WR);
		c->draining = true;
	}
	return sd_event_source_set_io_events(c->src, EPOLLIN);
}

static int conn_reply(struct conn *c, char *reply)
{
	size_t n;

	if (!reply)
		return -ENOMEM;
	n = strlen(reply);
	c->out = realloc(reply, n + 1);
	if (!c->out) {
		free(reply);
		return -ENOMEM;
	}
	c->out[n] = '\n';
	c->nout = n + 1;
	c->off = 0;
	return conn_flush(c);
}

/* Answers every whole line in the buffer, one at a time. */
static int conn_lines(struct conn *c)
{
	char *nl;

	while (!c->out && (nl = memchr(c->in, '\n', c->nin))) {
		size_t len = (size_t)(nl - c->in);
		int r;

		r = conn_reply(c, kd_ctl_handle(c->d, c->in, len));
		memmove(c->in, nl + 1, c->nin - len - 1);
		c->nin -= len + 1;
		if (r < 0)
			return r;
	}
	if (!c->out && c->nin == sizeof(c->in)) {
		/* No newline in a whole buffer: answer once, then close. */
		c->closing = true;
		return conn_reply(c, kd_ctl_handle(c->d, c->in, c->nin));
	}
	return 0;
}

static int on_conn(sd_event_source *s, int fd, uint32_t revents, void *user)
{
	struct conn *c = user;
	int r = 0;

	(void)s;
	if (c->draining) {
		char junk[4096];
		ssize_t n = recv(fd, junk, sizeof(junk), 0);

		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			return 0;
		c->drained += n > 0 ? (size_t)n : 0;
		if (n <= 0 || c->drained > (1u << 20))
			conn_free(c);
		return 0;
	}
	if (revents & EPOLLOUT)
		r = conn_flush(c);
	if (r >= 0 && !c->out && (revents & (EPOLLIN | EPOLLHUP))) {
		ssize_t n = recv(fd, c->in + c->nin, sizeof(c->in) - c->nin, 0);

		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			return 0;
		if (n <= 0)
			r = -ECONNRESET;
		else
			c->nin += (size_t)n;
		if (r >= 0)
			r = conn_lines(c);
	}
	if (r >= 0 && !c->out && !c->draining)
		r = conn_lines(c);
	if (r < 0)
		conn_free(c);
	return 0;
}

static int on_accept(sd_event_source *s, int lfd, uint32_t revents,
		     void *user)
{
	struct kvmemd *d = user;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	gid_t groups[256];
	socklen_t glen = sizeof(groups);
	int fd, ngroups = 0;
	struct conn *c;

	(void)s;
	(void)revents;
	fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return 0;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len)) {
		close(fd);
		return 0;
	}
	if (!getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &glen))
		ngroups = (int)(glen / sizeof(gid_t));
	if (!kd_ctl_allowed(d, cred.uid, cred.gid, groups, ngroups)) {
		static const char msg[] = "{\"ok\":false,\"errno\":1,\"error\":"
			"\"permission denied: root or the socket group only\"}\n";

		kd_logf(0, 1, "control: refused pid %d uid %u", (int)cred.pid,
			(unsigned)cred.uid);
		(void)!send(fd, msg, sizeof(msg) - 1, MSG_NOSIGNAL);
		close(fd);
		return 0;
	}
	if (nconn >= CTL_MAX_CONN) {
		static const char msg[] = "{\"ok\":false,\"errno\":16,\"error\":"
			"\"too many control connections\"}\n";

		(void)!send(fd, msg, sizeof(msg) - 1, MSG_NOSIGNAL);
		close(fd);
		return 0;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return 0;
	}
	c->d = d;
	c->fd = fd;
	nconn++;
	if (sd_event_add_io(sd_event_source_get_event(s), &c->src, fd, EPOLLIN,
			    on_conn, c) < 0)
		conn_free(c);
	return 0;
}

int kd_ctl_listen(struct kvmemd *d, sd_event *e, sd_event_source **src)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, r;

	if (strlen(d->cfg.socket) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, d->cfg.socket, strlen(d->cfg.socket) + 1);
	/* A socket left by a killed kvmemd: only a socket is removed. */
	if (!lstat(sa.sun_path, &st) && S_ISSOCK(st.st_mode))
		unlink(sa.sun_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    chmod(sa.sun_path, d->socket_gid == (gid_t)-1 ? 0600 : 0660) ||
	    (d->socket_gid != (gid_t)-1 &&
	     chown(sa.sun_path, (uid_t)-1, d->socket_gid)) ||
	    listen(fd, 16)) {
		r = -errno;
		close(fd);
		return r;
	}
	r = sd_event_add_io(e, src, fd, EPOLLIN, on_accept, d);
	if (r < 0) {
		close(fd);
		return r;
	}
	sd_event_source_set_io_fd_own(*src, 1);
	return 0;
}
