/* SPDX-License-Identifier: MIT */
/* Client side of the xensim control protocol (see uback/sim_ctl_proto.h). */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <xenstore.h>

#include "uback/sim_ctl_proto.h"

int ctl_connect(const char *dir, int *fd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int s, n, err;

	n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", dir,
		     CTL_SOCK_NAME);
	if (n < 0 || (size_t)n >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = -errno;
		close(s);
		return err;
	}
	*fd = s;
	return 0;
}

static void close_fds(int *fds, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		close(fds[i]);
}

int ctl_call(int fd, const struct ctl_req *req, struct ctl_rep *rep,
	     int *fds)
{
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int) * (CTL_MAX_FDS + 4))];
	} cbuf;
	struct ctl_rep r;
	struct iovec iov = { .iov_base = &r, .iov_len = sizeof(r) };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf.buf, .msg_controllen = sizeof(cbuf.buf),
	};
	int got[CTL_MAX_FDS + 4];
	unsigned int ngot = 0, i;
	struct cmsghdr *c;
	ssize_t n;

	do {
		n = send(fd, req, sizeof(*req), MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if ((size_t)n != sizeof(*req))
		return -EIO;
	do {
		n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	for (c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		size_t len;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		len = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < len && ngot < CTL_MAX_FDS + 4; i++)
			memcpy(&got[ngot++], CMSG_DATA(c) + i * sizeof(int),
			       sizeof(int));
	}
	if (n == 0) {
		close_fds(got, ngot);
		return -ECONNRESET;
	}
	if ((size_t)n != sizeof(r) || (msg.msg_flags & MSG_CTRUNC) ||
	    r.nfds > CTL_MAX_FDS || r.nfds != ngot) {
		close_fds(got, ngot);
		return -EPROTO;
	}
	if (r.err) {
		close_fds(got, ngot);
		return r.err < 0 ? r.err : -EPROTO;
	}
	for (i = 0; i < ngot; i++)
		fds[i] = got[i];
	*rep = r;
	return 0;
}

static pthread_mutex_t xs_env_lock = PTHREAD_MUTEX_INITIALIZER;

int ctl_xs_open(const char *dir, domid_t domid, struct xs_handle **out)
{
	char path[PATH_MAX], *saved = NULL;
	const char *old;
	struct xs_handle *h;
	int n, err = 0;

	if (domid == 0)
		n = snprintf(path, sizeof(path), "%s/xenstore.sock", dir);
	else
		n = snprintf(path, sizeof(path), "%s/xenstore-dom%u.sock",
			     dir, domid);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	if (access(path, F_OK) < 0)
		return -errno;

	pthread_mutex_lock(&xs_env_lock);
	old = getenv("XENSTORED_PATH");
	if (old) {
		saved = strdup(old);
		if (!saved) {
			pthread_mutex_unlock(&xs_env_lock);
			return -ENOMEM;
		}
	}
	if (setenv("XENSTORED_PATH", path, 1) < 0) {
		err = -errno;
		goto out;
	}
	h = xs_open(XS_OPEN_SOCKETONLY);
	if (!h)
		err = errno ? -errno : -ECONNREFUSED;
	if (saved)
		setenv("XENSTORED_PATH", saved, 1);
	else
		unsetenv("XENSTORED_PATH");
	if (!err)
		*out = h;
out:
	pthread_mutex_unlock(&xs_env_lock);
	free(saved);
	return err;
}
