/* SPDX-License-Identifier: MIT */
/* xensim control socket server. Clients are trusted test programs, but a
 * malformed message still only earns an error reply. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "uback/log.h"
#include "ctl.h"
#include "uback/sim_ctl_proto.h"
#include "dom.h"
#include "loop.h"

struct ctl_conn {
	struct ctl_srv *srv;
	int fd;
	struct sim_ledger *ledgers;  /* grant pins held through us */
	struct ctl_conn *next;
};

struct ctl_srv {
	struct sim_loop *loop;
	struct sim_doms *doms;
	int lfd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct ctl_conn *conns;
};

static void conn_drop(struct ctl_conn *c)
{
	struct ctl_srv *srv = c->srv;
	struct ctl_conn **pp;

	for (pp = &srv->conns; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	sim_evtchn_close_owned(srv->doms, c);
	/* The client is gone (or we gave up on it): release its grant pins,
	 * as closing gntdev does. */
	while (c->ledgers) {
		struct sim_ledger *l = c->ledgers;

		c->ledgers = l->next;
		sim_ledger_release(srv->doms, l);
	}
	sim_loop_del(srv->loop, c->fd);
	close(c->fd);
	free(c);
}

static int send_rep(int fd, struct ctl_rep *rep, const int *fds)
{
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int) * CTL_MAX_FDS)];
	} cbuf;
	struct iovec iov = { .iov_base = rep, .iov_len = sizeof(*rep) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	memset(&cbuf, 0, sizeof(cbuf));
	if (rep->nfds) {
		struct cmsghdr *c;

		msg.msg_control = cbuf.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * rep->nfds);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * rep->nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * rep->nfds);
	}
	do {
		n = sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == sizeof(*rep) ? 0 : -EIO;
}

/* This connection's ledger for the live instance of @domid, made on first
 * use. Ledgers of destroyed instances are freed on the way. */
static int conn_ledger(struct ctl_conn *c, domid_t domid,
		       struct sim_ledger **out)
{
	struct sim_doms *doms = c->srv->doms;
	struct sim_ledger **pp = &c->ledgers, *l;
	int err;

	while ((l = *pp)) {
		if (!sim_ledger_live(doms, l)) {
			*pp = l->next;
			sim_ledger_release(doms, l);
			continue;
		}
		if (l->domid == domid) {
			*out = l;
			return 0;
		}
		pp = &l->next;
	}
	err = sim_ledger_create(doms, domid, &l);
	if (err)
		return err;
	l->next = c->ledgers;
	c->ledgers = l;
	*out = l;
	return 0;
}

/* A domain's identity and its two shared memfds, for CREATE and OPEN. */
static void reply_dom(struct ctl_rep *rep, int *fds,
		      const struct sim_dom_info *di)
{
	rep->domid = di->domid;
	rep->instance = di->instance;
	fds[0] = di->memfd;
	fds[1] = di->shmfd;
	rep->nfds = 2;
}

static void handle(struct ctl_conn *c, const struct ctl_req *req,
		   struct ctl_rep *rep, int *fds)
{
	struct sim_doms *doms = c->srv->doms;
	struct sim_dom_info di;
	struct sim_port_info pi;
	struct sim_ledger *l;
	char name[CTL_NAME_MAX];
	int err;

	if (req->domid >= DOMID_FIRST_RESERVED ||
	    req->remote >= DOMID_FIRST_RESERVED) {
		rep->err = -EINVAL;
		return;
	}
	switch (req->op) {
	case CTL_DOM_CREATE:
		memcpy(name, req->name, sizeof(name));
		name[sizeof(name) - 1] = '\0';
		err = sim_dom_create(doms, (domid_t)req->domid, req->mem_pages,
				     req->nr_grants, name, &di);
		if (err)
			break;
		reply_dom(rep, fds, &di);
		break;
	case CTL_DOM_DESTROY:
		err = sim_dom_destroy(doms, (domid_t)req->domid);
		break;
	case CTL_DOM_OPEN:
		err = sim_dom_open(doms, (domid_t)req->domid, &di);
		if (err)
			break;
		reply_dom(rep, fds, &di);
		break;
	case CTL_EVTCHN_ALLOC_UNBOUND:
		err = sim_evtchn_alloc_unbound(doms, (domid_t)req->domid,
					       (domid_t)req->remote, &pi);
		if (err)
			break;
		rep->port = pi.port;
		rep->gen = pi.gen;
		fds[0] = pi.recv_fd;
		rep->nfds = 1;
		break;
	case CTL_EVTCHN_BIND:
		err = sim_evtchn_bind(doms, (domid_t)req->domid,
				      (domid_t)req->remote, req->port, c, &pi);
		if (err)
			break;
		rep->port = pi.port;
		rep->gen = pi.gen;
		fds[0] = pi.recv_fd;
		fds[1] = pi.send_fd;
		rep->nfds = 2;
		break;
	case CTL_EVTCHN_CLOSE:
		err = sim_evtchn_close(doms, (domid_t)req->domid, req->port);
		break;
	case CTL_EVTCHN_INFO:
		err = sim_evtchn_info(doms, (domid_t)req->domid, req->port,
				      &pi);
		if (err)
			break;
		rep->port = pi.port;
		rep->state = pi.state;
		rep->remote = pi.remote;
		rep->rport = pi.rport;
		rep->gen = pi.gen;
		if (pi.send_fd >= 0) {
			fds[0] = pi.send_fd;
			rep->nfds = 1;
		}
		break;
	case CTL_DOM_LEDGER:
		err = conn_ledger(c, (domid_t)req->domid, &l);
		if (err)
			break;
		rep->domid = l->domid;
		rep->instance = l->instance;
		fds[0] = l->fd;
		rep->nfds = 1;
		break;
	default:
		err = -EOPNOTSUPP;
		break;
	}
	rep->err = err;
	if (err)
		rep->nfds = 0;
}

static void conn_readable(void *arg, int fd, uint32_t events)
{
	struct ctl_conn *c = arg;
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int) * 8)];
	} cbuf;
	struct ctl_req req;
	struct iovec iov = { .iov_base = &req, .iov_len = sizeof(req) };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf.buf, .msg_controllen = sizeof(cbuf.buf),
	};
	struct ctl_rep rep = { 0 };
	int fds[CTL_MAX_FDS] = { -1, -1 };
	struct cmsghdr *cm;
	ssize_t n;

	n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_drop(c);
		return;
	}
	/* Requests carry no descriptors: close any we were sent. */
	for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
		size_t i, len;

		if (cm->cmsg_level != SOL_SOCKET ||
		    cm->cmsg_type != SCM_RIGHTS)
			continue;
		len = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < len; i++) {
			int stray;

			memcpy(&stray, CMSG_DATA(cm) + i * sizeof(int),
			       sizeof(int));
			close(stray);
		}
	}
	if ((size_t)n != sizeof(req) || (msg.msg_flags & MSG_TRUNC))
		rep.err = -EINVAL;
	else
		handle(c, &req, &rep, fds);
	if (send_rep(fd, &rep, fds) < 0)
		conn_drop(c);
}

static void listen_readable(void *arg, int fd, uint32_t events)
{
	struct ctl_srv *srv = arg;
	struct ctl_conn *c;
	int cfd, err;

	cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (cfd < 0)
		return;
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(cfd);
		return;
	}
	c->srv = srv;
	c->fd = cfd;
	err = sim_loop_add(srv->loop, cfd, conn_readable, c);
	if (err) {
		xb_warn("control: cannot watch a connection: %s",
			strerror(-err));
		close(cfd);
		free(c);
		return;
	}
	c->next = srv->conns;
	srv->conns = c;
}

int ctl_srv_create(struct sim_loop *loop, struct sim_doms *doms,
		   const char *dir, struct ctl_srv **out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct ctl_srv *srv;
	int n, err;

	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	srv->loop = loop;
	srv->doms = doms;
	n = snprintf(srv->path, sizeof(srv->path), "%s/%s", dir,
		     CTL_SOCK_NAME);
	if (n < 0 || (size_t)n >= sizeof(srv->path)) {
		err = -ENAMETOOLONG;
		goto err_free;
	}
	memcpy(sa.sun_path, srv->path, sizeof(sa.sun_path));
	srv->lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC |
			  SOCK_NONBLOCK, 0);
	if (srv->lfd < 0) {
		err = -errno;
		goto err_free;
	}
	unlink(srv->path);
	if (bind(srv->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(srv->lfd, 64) < 0) {
		err = -errno;
		goto err_sock;
	}
	err = sim_loop_add(loop, srv->lfd, listen_readable, srv);
	if (err)
		goto err_unlink;
	*out = srv;
	return 0;

err_unlink:
	unlink(srv->path);
err_sock:
	close(srv->lfd);
err_free:
	free(srv);
	return err;
}

void ctl_srv_destroy(struct ctl_srv *srv)
{
	if (!srv)
		return;
	while (srv->conns)
		conn_drop(srv->conns);
	sim_loop_del(srv->loop, srv->lfd);
	close(srv->lfd);
	unlink(srv->path);
	free(srv);
}
