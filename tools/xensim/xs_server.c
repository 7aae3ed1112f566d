/* SPDX-License-Identifier: MIT */
/*
 * xensim xenstore server: sockets, connections, domains, watch delivery.
 * The wire operations live in xs_ops.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <uback/log.h>

#include "loop.h"
#include "xs_internal.h"

#define HDR_LEN sizeof(struct xsd_sockmsg)

/* ---- connections ---- */

struct xs_dom *xs_dom_find(const struct xs_srv *srv, uint32_t domid)
{
	struct xs_dom *d;

	for (d = srv->doms; d; d = d->next)
		if (d->domid == domid)
			return d;
	return NULL;
}

struct xs_who xs_conn_who(const struct xs_conn *conn)
{
	struct xs_dom *d = conn->priv ? NULL : xs_dom_find(conn->srv,
							   conn->domid);
	struct xs_who who = {
		.domid = conn->domid,
		.priv = conn->priv,
		.target = d ? d->target : -1,
	};

	return who;
}

static void conn_kill(struct xs_conn *conn)
{
	conn->dead = true;
}

static void conn_pause_input(struct xs_conn *conn)
{
	if (conn->in_loop) {
		sim_loop_del(conn->srv->loop, conn->fd);
		conn->in_loop = false;
	}
}

static void conn_input(void *arg, int fd, uint32_t events);

static void conn_resume_input(struct xs_conn *conn)
{
	if (conn->in_loop || conn->dead)
		return;
	if (sim_loop_add(conn->srv->loop, conn->fd, conn_input, conn) < 0)
		conn_kill(conn);
	else
		conn->in_loop = true;
}

static void conn_arm_output(struct xs_conn *conn, bool on)
{
	struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = conn };

	if (conn->out_armed == on)
		return;
	if (epoll_ctl(conn->srv->out_epfd, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL,
		      conn->fd, &ev) < 0) {
		if (on)
			conn_kill(conn);
		return;
	}
	conn->out_armed = on;
}

static void conn_flush(struct xs_conn *conn)
{
	struct xs_out *o;

	while ((o = conn->out_head) && !conn->dead) {
		ssize_t r = send(conn->fd, o->buf + o->off, o->len - o->off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				conn_arm_output(conn, true);
				return;
			}
			conn_kill(conn);
			return;
		}
		o->off += (size_t)r;
		conn->out_bytes -= (size_t)r;
		if (o->off == o->len) {
			conn->out_head = o->next;
			if (!conn->out_head)
				conn->out_tail = &conn->out_head;
			free(o);
		}
	}
	if (conn->dead)
		return;
	conn_arm_output(conn, false);
	if (conn->out_bytes <= XS_OUT_SOFT)
		conn_resume_input(conn);
}

void xs_conn_send(struct xs_conn *conn, const struct xsd_sockmsg *req,
		  uint32_t type, const void *a, size_t alen,
		  const void *b, size_t blen)
{
	struct xsd_sockmsg hdr = {
		.type = type,
		.req_id = req ? req->req_id : 0,
		.tx_id = req ? req->tx_id : 0,
		.len = (uint32_t)(alen + blen),
	};
	struct xs_out *o;

	if (conn->dead)
		return;
	if (alen + blen > XENSTORE_PAYLOAD_MAX) {
		/* Callers bound their replies; an event that would not fit
		 * (long path plus long token) is dropped. */
		XB_LOG_RATELIMITED(XB_LOG_WARN,
				   "xensim xs: dropping oversized message");
		return;
	}
	if (conn->out_bytes + HDR_LEN + alen + blen > XS_OUT_HARD) {
		/* A client that never reads its events would make us buffer
		 * without bound: drop it, as xenstored drops stuck domains. */
		XB_LOG_RATELIMITED(XB_LOG_WARN,
				   "xensim xs: dom%u not reading, closed",
				   conn->domid);
		conn_kill(conn);
		return;
	}
	o = malloc(sizeof(*o) + HDR_LEN + alen + blen);
	if (!o) {
		conn_kill(conn);
		return;
	}
	o->next = NULL;
	o->off = 0;
	o->len = HDR_LEN + alen + blen;
	memcpy(o->buf, &hdr, HDR_LEN);
	if (alen)
		memcpy(o->buf + HDR_LEN, a, alen);
	if (blen)
		memcpy(o->buf + HDR_LEN + alen, b, blen);
	*conn->out_tail = o;
	conn->out_tail = &o->next;
	conn->out_bytes += o->len;
	if (!conn->out_armed)
		conn_flush(conn);
}

void xs_conn_send_error(struct xs_conn *conn, const struct xsd_sockmsg *req,
			int err)
{
	const char *name = "EINVAL";
	size_t i;

	for (i = 0; i < sizeof(xsd_errors) / sizeof(xsd_errors[0]); i++) {
		if (xsd_errors[i].errnum == -err) {
			name = xsd_errors[i].errstring;
			break;
		}
	}
	xs_conn_send(conn, req, XS_ERROR, name, strlen(name) + 1, NULL, 0);
}

void xs_conn_send_ok(struct xs_conn *conn, const struct xsd_sockmsg *req)
{
	xs_conn_send(conn, req, req->type, "OK", 3, NULL, 0);
}

static void conn_free(struct xs_conn *conn)
{
	struct xs_out *o;

	conn_pause_input(conn);
	if (conn->out_armed)
		epoll_ctl(conn->srv->out_epfd, EPOLL_CTL_DEL, conn->fd, NULL);
	close(conn->fd);
	xs_conn_reset(conn);
	while ((o = conn->out_head)) {
		conn->out_head = o->next;
		free(o);
	}
	free(conn);
}

/* Free the connections marked dead. Called only at the end of a loop
 * callback or a public call, never while a connection is in use. */
static void srv_reap(struct xs_srv *srv)
{
	struct xs_conn **pp = &srv->conns, *c;

	while ((c = *pp)) {
		if (c->dead) {
			*pp = c->next;
			conn_free(c);
		} else {
			pp = &c->next;
		}
	}
}

/* Read what is available, one message at a time; handle each complete one.
 * Bounded per wake-up so one client cannot starve the others. */
static void conn_read(struct xs_conn *conn)
{
	unsigned int i;

	for (i = 0; i < XS_READS_PER_WAKE && !conn->dead && conn->in_loop;
	     i++) {
		struct xsd_sockmsg hdr;
		size_t want;
		ssize_t r;

		if (conn->in_len < HDR_LEN) {
			want = HDR_LEN - conn->in_len;
		} else {
			memcpy(&hdr, conn->in, HDR_LEN);
			want = HDR_LEN + hdr.len - conn->in_len;
		}
		if (want) {
			r = recv(conn->fd, conn->in + conn->in_len, want,
				 MSG_DONTWAIT);
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				return;
			if (r <= 0) {
				conn_kill(conn);
				return;
			}
			conn->in_len += (size_t)r;
			if (conn->in_len < HDR_LEN)
				continue;
			memcpy(&hdr, conn->in, HDR_LEN);
			/* xenstored kills a client exceeding the payload
			 * limit: the stream cannot be resynchronised. */
			if (hdr.len > XENSTORE_PAYLOAD_MAX) {
				conn_kill(conn);
				return;
			}
			if (conn->in_len < HDR_LEN + hdr.len)
				continue;
		}
		conn->in[conn->in_len] = '\0';
		xs_handle_msg(conn);
		conn->in_len = 0;
		if (conn->out_bytes > XS_OUT_SOFT)
			conn_pause_input(conn);
	}
}

static void conn_input(void *arg, int fd, uint32_t events)
{
	struct xs_conn *conn = arg;
	struct xs_srv *srv = conn->srv;

	conn_read(conn);
	srv_reap(srv);
}

static void srv_output(void *arg, int fd, uint32_t events)
{
	struct xs_srv *srv = arg;
	struct epoll_event evs[64];
	int n, i;

	n = epoll_wait(srv->out_epfd, evs, 64, 0);
	for (i = 0; i < n; i++)
		conn_flush(evs[i].data.ptr);
	srv_reap(srv);
}

static unsigned int listener_conns(const struct xs_listener *lst)
{
	const struct xs_conn *c;
	unsigned int n = 0;

	for (c = lst->srv->conns; c; c = c->next)
		if (!c->dead && c->priv == lst->priv && c->domid == lst->domid)
			n++;
	return n;
}

static void listener_accept(void *arg, int lfd, uint32_t events)
{
	struct xs_listener *lst = arg;
	struct xs_srv *srv = lst->srv;
	unsigned int i;

	for (i = 0; i < 16; i++) {
		unsigned int max = lst->priv ? XS_MAX_CONNS_DOM0
					     : XS_MAX_CONNS_GUEST;
		int fd = accept4(lfd, NULL, NULL,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0)
			break;
		if (listener_conns(lst) >= max) {
			XB_LOG_RATELIMITED(XB_LOG_WARN,
					   "xensim xs: dom%u: too many conns",
					   lst->domid);
			close(fd);
			continue;
		}
		if (xs_srv_attach_fd(srv, fd, lst->domid, lst->priv))
			close(fd);
	}
	srv_reap(srv);
}

int xs_srv_attach_fd(struct xs_srv *srv, int fd, domid_t domid, bool priv)
{
	struct xs_conn *conn = calloc(1, sizeof(*conn));
	int ret;

	if (!conn)
		return -ENOMEM;
	conn->srv = srv;
	conn->fd = fd;
	conn->domid = domid;
	conn->priv = priv;
	conn->out_tail = &conn->out_head;
	ret = sim_loop_add(srv->loop, fd, conn_input, conn);
	if (ret < 0) {
		free(conn);
		return ret;
	}
	conn->in_loop = true;
	conn->next = srv->conns;
	srv->conns = conn;
	return 0;
}

static int listener_open(struct xs_srv *srv, struct xs_listener *lst,
			 const char *name, uint32_t domid, bool priv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int err;

	lst->srv = srv;
	lst->domid = domid;
	lst->priv = priv;
	lst->fd = -1;
	if (asprintf(&lst->path, "%s/%s", srv->dir, name) < 0) {
		lst->path = NULL;
		return -ENOMEM;
	}
	if (strlen(lst->path) >= sizeof(sa.sun_path)) {
		err = -ENAMETOOLONG;
		goto err_path;
	}
	strcpy(sa.sun_path, lst->path);
	lst->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			 0);
	if (lst->fd < 0) {
		err = -errno;
		goto err_path;
	}
	unlink(lst->path);
	if (bind(lst->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(lst->fd, 64) < 0) {
		err = -errno;
		goto err_sock;
	}
	err = sim_loop_add(srv->loop, lst->fd, listener_accept, lst);
	if (err)
		goto err_unlink;
	return 0;

err_unlink:
	unlink(lst->path);
err_sock:
	close(lst->fd);
	lst->fd = -1;
err_path:
	free(lst->path);
	lst->path = NULL;
	return err;
}

static void listener_close(struct xs_listener *lst)
{
	if (lst->fd >= 0) {
		sim_loop_del(lst->srv->loop, lst->fd);
		close(lst->fd);
		unlink(lst->path);
		lst->fd = -1;
	}
	free(lst->path);
	lst->path = NULL;
}

/* ---- watches ---- */

void xs_watch_send(struct xs_conn *conn, const struct xs_watch *watch,
		   const char *path)
{
	/* A relative watch gets relative event paths (same base). */
	if (watch->rel_prefix && strlen(path) > watch->rel_prefix)
		path += watch->rel_prefix;
	xs_conn_send(conn, NULL, XS_WATCH_EVENT, path, strlen(path) + 1,
		     watch->token, strlen(watch->token) + 1);
}

/* The node at @rel (a path suffix starting with '/') below @node. */
static const struct xs_node *subtree_lookup(const struct xs_node *node,
					    const char *rel)
{
	while (node && *rel == '/') {
		const char *comp = rel + 1, *end = strchr(comp, '/');
		size_t len;
		unsigned int i;
		const struct xs_node *next = NULL;

		if (!end)
			end = comp + strlen(comp);
		len = (size_t)(end - comp);
		for (i = 0; i < node->nkids; i++) {
			if (strncmp(node->kids[i]->name, comp, len) == 0 &&
			    node->kids[i]->name[len] == '\0') {
				next = node->kids[i];
				break;
			}
		}
		node = next;
		rel = end;
	}
	return node;
}

/* As xenstored 4.17: a watcher hears of a change if it may read the node
 * or its parent, or could read the node before its permissions changed. */
static bool watch_permitted(const struct xs_who *who,
			    const struct xs_node *node,
			    const struct xs_perm *old, unsigned int nold)
{
	if (old && (xs_perm_for(who, old, nold) & XS_PERM_READ))
		return true;
	if (xs_tree_perm_for(who, node) & XS_PERM_READ)
		return true;
	return node->parent &&
	       (xs_tree_perm_for(who, node->parent) & XS_PERM_READ);
}

void xs_srv_on_change(void *arg, const char *path, const struct xs_node *node,
		      enum xs_change what, const struct xs_perm *old,
		      unsigned int nold)
{
	struct xs_srv *srv = arg;
	struct xs_conn *c;
	struct xs_watch *w;
	size_t plen = strlen(path);

	for (c = srv->conns; c; c = c->next) {
		struct xs_who who;

		if (c->dead)
			continue;
		who = xs_conn_who(c);
		for (w = c->watches; w && !c->dead; w = w->next) {
			const struct xs_node *perm_node = node;
			const char *ev;

			if (w->path[0] != '/')
				continue;
			if (xs_path_is_child(path, w->path)) {
				ev = path;
			} else if (what == XS_CHANGE_RM &&
				   xs_path_is_child(w->path, path)) {
				/* Recursive removal of a parent of the
				 * watched path: the event names the watch. */
				const struct xs_node *sub = subtree_lookup(
					node, w->path + (plen > 1 ? plen : 0));

				if (sub)
					perm_node = sub;
				ev = w->path;
			} else {
				continue;
			}
			if (!watch_permitted(&who, perm_node, old, nold))
				continue;
			xs_watch_send(c, w, ev);
		}
	}
}

struct xs_special *xs_special_find(struct xs_srv *srv, const char *name)
{
	unsigned int i;

	for (i = 0; i < XS_NR_SPECIAL; i++)
		if (strcmp(srv->special[i].name, name) == 0)
			return &srv->special[i];
	return NULL;
}

void xs_fire_special(struct xs_srv *srv, const char *name)
{
	const struct xs_special *sp = xs_special_find(srv, name);
	struct xs_conn *c;
	struct xs_watch *w;

	for (c = srv->conns; c; c = c->next) {
		struct xs_who who;

		if (c->dead)
			continue;
		who = xs_conn_who(c);
		if (!(xs_perm_for(&who, sp->perms, sp->nperms) & XS_PERM_READ))
			continue;
		for (w = c->watches; w; w = w->next)
			if (strcmp(w->path, name) == 0)
				xs_watch_send(c, w, name);
	}
}

/* The release of @domid also drops it from the specials' permissions. */
static void special_forget(struct xs_srv *srv, uint32_t domid)
{
	unsigned int i, j, k;

	for (i = 0; i < XS_NR_SPECIAL; i++) {
		struct xs_special *sp = &srv->special[i];

		if (sp->perms[0].id == domid)
			sp->perms[0].id = 0;
		for (j = k = 1; j < sp->nperms; j++)
			if (sp->perms[j].id != domid)
				sp->perms[k++] = sp->perms[j];
		sp->nperms = k;
	}
}

/* ---- public API ---- */

static int setup_node(struct xs_srv *srv, const char *path,
		      const struct xs_perm *perms, unsigned int nperms)
{
	const struct xs_who dom0 = { .domid = 0, .priv = true, .target = -1 };
	int err = xs_tree_write(&srv->tree, &dom0, path, NULL, 0);

	if (err)
		return err;
	return xs_tree_set_perms(&srv->tree, &dom0, path, perms, nperms);
}

int xs_srv_create(struct sim_loop *loop, const char *dir, struct xs_srv **out)
{
	static const struct xs_perm none0 = { 0, XS_PERM_NONE };
	static const struct xs_perm read0 = { 0, XS_PERM_READ };
	struct xs_srv *srv = calloc(1, sizeof(*srv));
	unsigned int i;
	int err;

	if (!srv)
		return -ENOMEM;
	srv->loop = loop;
	srv->lst.fd = -1;
	srv->next_txid = 1;
	srv->dir = strdup(dir);
	if (!srv->dir) {
		err = -ENOMEM;
		goto err_free;
	}
	srv->special[0].name = "@introduceDomain";
	srv->special[1].name = "@releaseDomain";
	for (i = 0; i < XS_NR_SPECIAL; i++) {
		srv->special[i].perms = malloc(sizeof(none0));
		if (!srv->special[i].perms) {
			err = -ENOMEM;
			goto err_special;
		}
		srv->special[i].perms[0] = none0;
		srv->special[i].nperms = 1;
	}
	err = xs_tree_init(&srv->tree, &srv->gen);
	if (err)
		goto err_special;
	if ((err = setup_node(srv, "/local", &read0, 1)) ||
	    (err = setup_node(srv, "/local/domain", &read0, 1)) ||
	    (err = setup_node(srv, "/tool", &none0, 1)))
		goto err_tree;
	srv->tree.hooks.change = xs_srv_on_change;
	srv->tree.hooks.arg = srv;
	srv->out_epfd = epoll_create1(EPOLL_CLOEXEC);
	if (srv->out_epfd < 0) {
		err = -errno;
		goto err_tree;
	}
	err = sim_loop_add(loop, srv->out_epfd, srv_output, srv);
	if (err)
		goto err_epfd;
	err = listener_open(srv, &srv->lst, "xenstore.sock", 0, true);
	if (err)
		goto err_loop;
	*out = srv;
	return 0;

err_loop:
	sim_loop_del(loop, srv->out_epfd);
err_epfd:
	close(srv->out_epfd);
err_tree:
	xs_tree_fini(&srv->tree);
err_special:
	for (i = 0; i < XS_NR_SPECIAL; i++)
		free(srv->special[i].perms);
	free(srv->dir);
err_free:
	free(srv);
	return err;
}

void xs_srv_destroy(struct xs_srv *srv)
{
	struct xs_conn *c;
	struct xs_dom *d;
	unsigned int i;

	if (!srv)
		return;
	for (c = srv->conns; c; c = c->next)
		c->dead = true;
	srv_reap(srv);
	while ((d = srv->doms)) {
		srv->doms = d->next;
		listener_close(&d->lst);
		free(d);
	}
	listener_close(&srv->lst);
	sim_loop_del(srv->loop, srv->out_epfd);
	close(srv->out_epfd);
	xs_tree_fini(&srv->tree);
	for (i = 0; i < XS_NR_SPECIAL; i++)
		free(srv->special[i].perms);
	free(srv->dir);
	free(srv);
}

bool xs_srv_domain_exists(const struct xs_srv *srv, domid_t domid)
{
	return xs_dom_find(srv, domid) != NULL;
}

int xs_srv_domain_introduce(struct xs_srv *srv, domid_t domid,
			    const char *name)
{
	const struct xs_who dom0 = { .domid = 0, .priv = true, .target = -1 };
	struct xs_perm perms[2] = {
		{ domid, XS_PERM_NONE }, { 0, XS_PERM_READ },
	};
	char path[64], sock[64], val[16];
	struct xs_dom *d;
	int err;

	if (domid == 0 || domid >= DOMID_FIRST_RESERVED)
		return -EINVAL;
	if (xs_dom_find(srv, domid))
		return -EEXIST;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->domid = domid;
	d->target = -1;
	snprintf(sock, sizeof(sock), "xenstore-dom%u.sock", domid);
	err = listener_open(srv, &d->lst, sock, domid, false);
	if (err)
		goto err_free;

	snprintf(path, sizeof(path), "/local/domain/%u", domid);
	err = xs_tree_write(&srv->tree, &dom0, path, NULL, 0);
	if (!err)
		err = xs_tree_set_perms(&srv->tree, &dom0, path, perms, 2);
	if (!err) {
		snprintf(path, sizeof(path), "/local/domain/%u/domid", domid);
		snprintf(val, sizeof(val), "%u", domid);
		err = xs_tree_write(&srv->tree, &dom0, path, val,
				    (unsigned int)strlen(val));
	}
	if (!err && name) {
		snprintf(path, sizeof(path), "/local/domain/%u/name", domid);
		err = xs_tree_write(&srv->tree, &dom0, path, name,
				    (unsigned int)strlen(name));
	}
	if (err)
		goto err_tree;
	d->next = srv->doms;
	srv->doms = d;
	xs_fire_special(srv, "@introduceDomain");
	srv_reap(srv);
	return 0;

err_tree:
	snprintf(path, sizeof(path), "/local/domain/%u", domid);
	xs_tree_rm(&srv->tree, &dom0, path);
	listener_close(&d->lst);
err_free:
	free(d);
	srv_reap(srv);
	return err;
}

int xs_srv_domain_release(struct xs_srv *srv, domid_t domid)
{
	const struct xs_who dom0 = { .domid = 0, .priv = true, .target = -1 };
	struct xs_dom **pp, *d;
	struct xs_conn *c;
	char path[64];

	for (pp = &srv->doms; (d = *pp); pp = &d->next)
		if (d->domid == domid)
			break;
	if (!d)
		return -ENOENT;
	*pp = d->next;
	for (c = srv->conns; c; c = c->next)
		if (!c->priv && c->domid == domid)
			c->dead = true;
	srv_reap(srv);
	listener_close(&d->lst);
	free(d);
	for (d = srv->doms; d; d = d->next)
		if (d->target == domid)
			d->target = -1;

	snprintf(path, sizeof(path), "/local/domain/%u", domid);
	xs_tree_rm(&srv->tree, &dom0, path);
	xs_tree_forget_domain(&srv->tree, domid);
	special_forget(srv, domid);
	xs_fire_special(srv, "@releaseDomain");
	srv_reap(srv);
	return 0;
}
