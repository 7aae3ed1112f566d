/* SPDX-License-Identifier: MIT */
/*
 * xensim xenstore server: the wire operations (docs/misc/xenstore.txt,
 * xen/io/xs_wire.h); transactions are in xs_tx.c.
 *
 * Every payload comes from a possibly hostile client: it is already copied
 * into the connection's buffer, NUL-terminated one byte past its length,
 * and each handler checks the argument layout before using it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uback/log.h>

#include "xs_internal.h"

/* ---- argument parsing ---- */

/* Split the payload into its NUL-terminated strings; bytes after the last
 * NUL are not a string. Returns how many were found (at most @max). */
static unsigned int get_strings(const struct xs_req *req, const char **v,
				unsigned int max)
{
	const char *p = req->payload, *end = req->payload + req->hdr.len;
	unsigned int n = 0;

	while (p < end && n < max) {
		const char *nul = memchr(p, '\0', (size_t)(end - p));

		if (!nul)
			break;
		v[n++] = p;
		p = nul + 1;
	}
	return n;
}

/* Exactly one NUL-terminated string, as xenstored's onearg(). */
const char *xs_req_one_arg(const struct xs_req *req)
{
	size_t len = req->hdr.len;

	if (len == 0 || req->payload[len - 1] != '\0' ||
	    memchr(req->payload, '\0', len) != req->payload + len - 1)
		return NULL;
	return req->payload;
}

static int parse_domid(const char *s, uint32_t *out)
{
	unsigned long v;
	char *end;

	if (!s || s[0] < '0' || s[0] > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > XS_DOMID_MAX)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

static int req_path(const struct xs_req *req, const char *arg, char *out)
{
	if (!arg)
		return -EINVAL;
	return xs_path_canonical(arg, req->conn->domid, false, out);
}

/* ---- database operations ---- */

static int do_read(struct xs_req *req)
{
	char path[XENSTORE_ABS_PATH_MAX + 1];
	const struct xs_node *node;
	int err = req_path(req, xs_req_one_arg(req), path);

	if (!err)
		err = xs_tree_get(req->tree, &req->who, path, &node);
	if (err)
		return err;
	xs_conn_send(req->conn, &req->hdr, XS_READ, node->value, node->vlen,
		     NULL, 0);
	return 0;
}

static int do_write(struct xs_req *req, bool mkdir)
{
	char path[XENSTORE_ABS_PATH_MAX + 1];
	const char *arg = mkdir ? xs_req_one_arg(req) : NULL;
	const char *data = NULL;
	unsigned int len = 0;
	int err;

	if (!mkdir) {
		const char *v[1];

		if (get_strings(req, v, 1) != 1)
			return -EINVAL;
		arg = v[0];
		data = arg + strlen(arg) + 1;
		len = req->hdr.len - (unsigned int)(data - req->payload);
	}
	err = req_path(req, arg, path);
	if (!err)
		err = xs_tx_check_ops(req);
	if (!err)
		err = xs_tree_write(req->tree, &req->who, path,
				    mkdir ? NULL : data, len);
	if (err)
		return err;
	if (req->tx)
		xs_tx_record_op(req->tx, req->hdr.type, path, data, len, NULL,
				0);
	xs_conn_send_ok(req->conn, &req->hdr);
	return 0;
}

static int do_rm(struct xs_req *req)
{
	char path[XENSTORE_ABS_PATH_MAX + 1];
	int err = req_path(req, xs_req_one_arg(req), path);

	if (!err)
		err = xs_tx_check_ops(req);
	if (!err)
		err = xs_tree_rm(req->tree, &req->who, path);
	if (err)
		return err;
	if (req->tx)
		xs_tx_record_op(req->tx, XS_RM, path, NULL, 0, NULL, 0);
	xs_conn_send_ok(req->conn, &req->hdr);
	return 0;
}

/* Children names, each NUL-terminated, in @buf (malloc'd). */
static int list_children(const struct xs_node *node, char **buf, size_t *len)
{
	size_t total = 0, off = 0;
	unsigned int i;
	char *b;

	for (i = 0; i < node->nkids; i++)
		total += strlen(node->kids[i]->name) + 1;
	b = malloc(total + 1);
	if (!b)
		return -ENOMEM;
	for (i = 0; i < node->nkids; i++) {
		size_t l = strlen(node->kids[i]->name) + 1;

		memcpy(b + off, node->kids[i]->name, l);
		off += l;
	}
	*buf = b;
	*len = total;
	return 0;
}

static int do_directory(struct xs_req *req)
{
	char path[XENSTORE_ABS_PATH_MAX + 1];
	const struct xs_node *node;
	char *names;
	size_t len;
	int err = req_path(req, xs_req_one_arg(req), path);

	if (!err)
		err = xs_tree_get(req->tree, &req->who, path, &node);
	if (!err)
		err = list_children(node, &names, &len);
	if (err)
		return err;
	/* libxenstore falls back to DIRECTORY_PART on E2BIG. */
	if (len > XENSTORE_PAYLOAD_MAX)
		err = -E2BIG;
	else
		xs_conn_send(req->conn, &req->hdr, XS_DIRECTORY, names, len,
			     NULL, 0);
	free(names);
	return err;
}

/* Reply: "<gen>\0" then whole child names from byte @offset of the list, as
 * many as fit; the chunk that reaches the end carries an extra NUL, which
 * tells the client the list is complete (an offset past the end gets just
 * that NUL), as xenstored 4.17. */
static int do_directory_part(struct xs_req *req)
{
	char path[XENSTORE_ABS_PATH_MAX + 1], gen[24];
	const struct xs_node *node;
	const char *v[2];
	unsigned long off;
	char *names, *end;
	size_t total, glen, len = 0, max;
	int err;

	if (get_strings(req, v, 2) != 2)
		return -EINVAL;
	errno = 0;
	off = strtoul(v[1], &end, 10);
	if (errno || *end || v[1][0] < '0' || v[1][0] > '9')
		return -EINVAL;
	err = req_path(req, v[0], path);
	if (!err)
		err = xs_tree_get(req->tree, &req->who, path, &node);
	if (!err)
		err = list_children(node, &names, &total);
	if (err)
		return err;
	glen = (size_t)snprintf(gen, sizeof(gen), "%" PRIu64, node->gen) + 1;
	if (off >= total) {
		off = total;
	} else {
		max = XENSTORE_PAYLOAD_MAX - glen - 1;
		while (off + len < total) {
			size_t l = strlen(names + off + len) + 1;

			if (len + l > max)
				break;
			len += l;
		}
	}
	if (off + len == total)
		names[off + len++] = '\0';     /* list_children left room */
	xs_conn_send(req->conn, &req->hdr, XS_DIRECTORY_PART, gen, glen,
		     names + off, len);
	free(names);
	return 0;
}

static int do_get_perms(struct xs_req *req)
{
	char path[XENSTORE_ABS_PATH_MAX + 1];
	char buf[XENSTORE_PAYLOAD_MAX + 16];
	const struct xs_node *node;
	size_t len = 0;
	unsigned int i;
	int err = req_path(req, xs_req_one_arg(req), path);

	if (!err)
		err = xs_tree_get(req->tree, &req->who, path, &node);
	if (err)
		return err;
	for (i = 0; i < node->nperms; i++) {
		if (len + 12 > XENSTORE_PAYLOAD_MAX)
			return -E2BIG;
		len += xs_perm_format(&node->perms[i], buf + len);
	}
	xs_conn_send(req->conn, &req->hdr, XS_GET_PERMS, buf, len, NULL, 0);
	return 0;
}

/* Who hears @introduceDomain/@releaseDomain: the owner (dom0 unless it
 * gave them away) may change it, outside any transaction (as xenstored). */
static int set_perms_special(struct xs_req *req, const char *name,
			     const struct xs_perm *perms, unsigned int nperms)
{
	struct xs_special *sp = xs_special_find(req->conn->srv, name);
	const unsigned int need = XS_PERM_WRITE | XS_PERM_OWNER;
	struct xs_perm *copy;

	if (!sp)
		return -EINVAL;
	if ((xs_perm_for(&req->who, sp->perms, sp->nperms) & need) != need)
		return -EACCES;
	if (!req->who.priv && nperms > XS_QUOTA_PERMS)
		return -ENOSPC;
	copy = malloc(nperms * sizeof(*copy));
	if (!copy)
		return -ENOMEM;
	memcpy(copy, perms, nperms * sizeof(*copy));
	free(sp->perms);
	sp->perms = copy;
	sp->nperms = nperms;
	xs_conn_send_ok(req->conn, &req->hdr);
	return 0;
}

static int do_set_perms(struct xs_req *req)
{
	char path[XENSTORE_ABS_PATH_MAX + 1];
	/* At most one entry per 3 payload bytes ("r0\0"). */
	struct xs_perm perms[XENSTORE_PAYLOAD_MAX / 3];
	const char *v[XENSTORE_PAYLOAD_MAX / 3 + 1];
	unsigned int n, i;
	int err;

	/* Every argument NUL-terminated, at least one permission. */
	if (req->hdr.len == 0 || req->payload[req->hdr.len - 1] != '\0')
		return -EINVAL;
	n = get_strings(req, v, sizeof(v) / sizeof(v[0]));
	if (n < 2)
		return -EINVAL;
	for (i = 1; i < n; i++)
		if (xs_perm_parse(v[i], &perms[i - 1]) < 0)
			return -EINVAL;
	if (v[0][0] == '@')
		return set_perms_special(req, v[0], perms, n - 1);
	err = req_path(req, v[0], path);
	if (!err)
		err = xs_tx_check_ops(req);
	if (!err)
		err = xs_tree_set_perms(req->tree, &req->who, path, perms,
					n - 1);
	if (err)
		return err;
	if (req->tx)
		xs_tx_record_op(req->tx, XS_SET_PERMS, path, NULL, 0, perms,
			     n - 1);
	xs_conn_send_ok(req->conn, &req->hdr);
	return 0;
}

/* ---- watches ---- */

void xs_watch_free(struct xs_watch *watch)
{
	free(watch->path);
	free(watch->token);
	free(watch);
}

static struct xs_watch **watch_find(struct xs_conn *conn, const char *path,
				    const char *token)
{
	struct xs_watch **pp;

	for (pp = &conn->watches; *pp; pp = &(*pp)->next)
		if (strcmp((*pp)->path, path) == 0 &&
		    strcmp((*pp)->token, token) == 0)
			return pp;
	return NULL;
}

/* Guests' watches count per domain, over all its connections (as
 * xenstored); dom0's per connection. */
static unsigned int domain_watches(const struct xs_conn *conn)
{
	const struct xs_conn *c;
	unsigned int n = 0;

	if (conn->priv)
		return conn->nwatches;
	for (c = conn->srv->conns; c; c = c->next)
		if (!c->dead && !c->priv && c->domid == conn->domid)
			n += c->nwatches;
	return n;
}

static int do_watch(struct xs_req *req, bool add)
{
	struct xs_conn *conn = req->conn;
	char path[XENSTORE_ABS_PATH_MAX + 1];
	unsigned int max = conn->priv ? XS_MAX_WATCHES_DOM0
				      : XS_MAX_WATCHES_GUEST;
	struct xs_watch **pp, *w;
	const char *v[2];
	int err;

	if (get_strings(req, v, 2) != 2)
		return -EINVAL;
	err = xs_path_canonical(v[0], conn->domid, true, path);
	if (err)
		return err;
	pp = watch_find(conn, path, v[1]);
	if (!add) {
		if (!pp)
			return -ENOENT;
		w = *pp;
		*pp = w->next;
		conn->nwatches--;
		xs_watch_free(w);
		xs_conn_send_ok(conn, &req->hdr);
		return 0;
	}
	if (pp)
		return -EEXIST;
	if (domain_watches(conn) >= max)
		return -E2BIG;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->path = strdup(path);
	w->token = strdup(v[1]);
	if (!w->path || !w->token) {
		xs_watch_free(w);
		return -ENOMEM;
	}
	if (v[0][0] != '/' && v[0][0] != '@')
		w->rel_prefix = strlen(path) - strlen(v[0]);
	w->next = conn->watches;
	conn->watches = w;
	conn->nwatches++;
	xs_conn_send_ok(conn, &req->hdr);
	/* Fired once at registration, as xenstored does. */
	xs_watch_send(conn, w, path);
	return 0;
}

void xs_conn_reset(struct xs_conn *conn)
{
	struct xs_watch *w;
	struct xs_tx *tx;

	while ((w = conn->watches)) {
		conn->watches = w->next;
		xs_watch_free(w);
	}
	conn->nwatches = 0;
	while ((tx = conn->txs)) {
		conn->txs = tx->next;
		xs_tx_free(tx);
	}
	conn->ntxs = 0;
}

/* ---- domains ---- */

static int do_domain_path(struct xs_req *req)
{
	uint32_t domid;
	char path[32];
	int err = parse_domid(xs_req_one_arg(req), &domid);

	if (err)
		return err;
	snprintf(path, sizeof(path), "/local/domain/%" PRIu32, domid);
	xs_conn_send(req->conn, &req->hdr, XS_GET_DOMAIN_PATH, path,
		     strlen(path) + 1, NULL, 0);
	return 0;
}

static int do_is_introduced(struct xs_req *req)
{
	uint32_t domid;
	int err = parse_domid(xs_req_one_arg(req), &domid);
	bool yes;

	if (err)
		return err;
	yes = domid == 0 || xs_dom_find(req->conn->srv, domid);
	xs_conn_send(req->conn, &req->hdr, XS_IS_DOMAIN_INTRODUCED,
		     yes ? "T" : "F", 2, NULL, 0);
	return 0;
}

/* INTRODUCE / RELEASE / RESUME: the simulator creates and destroys domains
 * through xs_srv_domain_introduce/release (there is no ring page or event
 * channel to hand over), so on the wire they are validated no-ops. */
static int do_domain_op(struct xs_req *req)
{
	const char *v[3];
	unsigned int want = req->hdr.type == XS_INTRODUCE ? 3 : 1;
	uint32_t domid;
	int err;

	if (!req->who.priv)
		return -EACCES;
	if (get_strings(req, v, want) != want)
		return -EINVAL;
	err = parse_domid(v[0], &domid);
	if (err)
		return err;
	if (domid == 0)
		return -EINVAL;
	if (req->hdr.type != XS_INTRODUCE &&
	    !xs_dom_find(req->conn->srv, domid))
		return -ENOENT;
	xs_conn_send_ok(req->conn, &req->hdr);
	return 0;
}

static int do_set_target(struct xs_req *req)
{
	const char *v[2];
	uint32_t domid, target;
	struct xs_dom *d;

	if (!req->who.priv)
		return -EACCES;
	if (get_strings(req, v, 2) != 2 || parse_domid(v[0], &domid) ||
	    parse_domid(v[1], &target))
		return -EINVAL;
	d = xs_dom_find(req->conn->srv, domid);
	if (!d || !xs_dom_find(req->conn->srv, target))
		return -ENOENT;
	d->target = (int32_t)target;
	xs_conn_send_ok(req->conn, &req->hdr);
	return 0;
}

static int do_control(struct xs_req *req)
{
	static const char help[] = "check\nhelp\nprint\n";
	const char *v[2];
	unsigned int n;

	if (!req->who.priv)
		return -EACCES;
	n = get_strings(req, v, 2);
	if (n < 1)
		return -EINVAL;
	if (strcmp(v[0], "check") == 0) {
		xs_conn_send_ok(req->conn, &req->hdr);
	} else if (strcmp(v[0], "print") == 0 && n == 2) {
		xb_info("xensim xs: %s", v[1]);
		xs_conn_send_ok(req->conn, &req->hdr);
	} else if (strcmp(v[0], "help") == 0) {
		xs_conn_send(req->conn, &req->hdr, XS_CONTROL, help,
			     sizeof(help), NULL, 0);
	} else {
		return -EINVAL;
	}
	return 0;
}

static int do_reset_watches(struct xs_req *req)
{
	xs_conn_reset(req->conn);
	xs_conn_send_ok(req->conn, &req->hdr);
	return 0;
}

/* Operations that may run inside a transaction (others ignore tx_id). */
static bool uses_tx(uint32_t type)
{
	switch (type) {
	case XS_READ: case XS_WRITE: case XS_MKDIR: case XS_RM:
	case XS_DIRECTORY: case XS_DIRECTORY_PART:
	case XS_GET_PERMS: case XS_SET_PERMS:
	case XS_TRANSACTION_END:
		return true;
	default:
		return false;
	}
}

static int dispatch(struct xs_req *req)
{
	switch (req->hdr.type) {
	case XS_READ: return do_read(req);
	case XS_WRITE: return do_write(req, false);
	case XS_MKDIR: return do_write(req, true);
	case XS_RM: return do_rm(req);
	case XS_DIRECTORY: return do_directory(req);
	case XS_DIRECTORY_PART: return do_directory_part(req);
	case XS_GET_PERMS: return do_get_perms(req);
	case XS_SET_PERMS: return do_set_perms(req);
	case XS_WATCH: return do_watch(req, true);
	case XS_UNWATCH: return do_watch(req, false);
	case XS_RESET_WATCHES: return do_reset_watches(req);
	case XS_TRANSACTION_START: return xs_do_transaction_start(req);
	case XS_TRANSACTION_END: return xs_do_transaction_end(req);
	case XS_GET_DOMAIN_PATH: return do_domain_path(req);
	case XS_IS_DOMAIN_INTRODUCED: return do_is_introduced(req);
	case XS_INTRODUCE:
	case XS_RELEASE:
	case XS_RESUME: return do_domain_op(req);
	case XS_SET_TARGET: return do_set_target(req);
	case XS_CONTROL: return do_control(req);
	default: return -EINVAL;
	}
}

void xs_handle_msg(struct xs_conn *conn)
{
	struct xs_req req = { .conn = conn };
	int err;

	memcpy(&req.hdr, conn->in, sizeof(req.hdr));
	req.payload = (char *)conn->in + sizeof(req.hdr);
	req.who = xs_conn_who(conn);
	req.tree = &conn->srv->tree;
	if (req.hdr.tx_id && uses_tx(req.hdr.type)) {
		req.tx = xs_tx_find(conn, req.hdr.tx_id);
		if (!req.tx) {
			xs_conn_send_error(conn, &req.hdr, -ENOENT);
			return;
		}
		req.tree = &req.tx->tree;
	}
	err = dispatch(&req);
	if (err)
		xs_conn_send_error(conn, &req.hdr, err);
}
