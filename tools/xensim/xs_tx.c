/* SPDX-License-Identifier: MIT */
/*
 * xensim xenstore server: transactions. TRANSACTION_START copies the whole
 * database (as docs/misc/xenstore.txt describes); operations run on the
 * copy and record what they read or changed; commit checks that nothing
 * recorded changed since, then replays the changes on the live tree.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xs_internal.h"

struct xs_tx *xs_tx_find(const struct xs_conn *conn, uint32_t id)
{
	struct xs_tx *tx;

	for (tx = conn->txs; tx; tx = tx->next)
		if (tx->id == id)
			return tx;
	return NULL;
}

static void tx_record_access(void *arg, const char *path, size_t len,
			     const struct xs_node *node)
{
	struct xs_tx *tx = arg;
	struct xs_access *a;

	/* Newer than the snapshot: this transaction created or changed it,
	 * and recorded it (or the ancestor it was created under) before. */
	if (node->gen > tx->start_gen)
		return;
	for (a = tx->accessed; a; a = a->next)
		if (strlen(a->path) == len && memcmp(a->path, path, len) == 0)
			return;       /* first access decides */
	a = calloc(1, sizeof(*a));
	if (!a || !(a->path = strndup(path, len))) {
		free(a);
		tx->error = -ENOMEM;
		return;
	}
	a->gen = node->gen;
	a->next = tx->accessed;
	tx->accessed = a;
}

static void op_free(struct xs_op *op)
{
	free(op->path);
	free(op->data);
	free(op->perms);
	free(op);
}

void xs_tx_free(struct xs_tx *tx)
{
	struct xs_access *a;
	struct xs_op *op;

	while ((a = tx->accessed)) {
		tx->accessed = a->next;
		free(a->path);
		free(a);
	}
	while ((op = tx->ops)) {
		tx->ops = op->next;
		op_free(op);
	}
	xs_tree_fini(&tx->tree);
	free(tx);
}

/* Remember a change made in @tx for replay at commit. */
void xs_tx_record_op(struct xs_tx *tx, uint32_t type, const char *path,
			 const void *data, unsigned int len,
			 const struct xs_perm *perms, unsigned int nperms)
{
	struct xs_op *op = calloc(1, sizeof(*op));

	if (!op)
		goto err;
	op->type = type;
	op->path = strdup(path);
	if (!op->path)
		goto err_op;
	if (data) {
		op->data = malloc(len ? len : 1);
		if (!op->data)
			goto err_op;
		memcpy(op->data, data, len);
		op->len = len;
	}
	if (nperms) {
		op->perms = malloc(nperms * sizeof(*perms));
		if (!op->perms)
			goto err_op;
		memcpy(op->perms, perms, nperms * sizeof(*perms));
		op->nperms = nperms;
	}
	*tx->ops_tail = op;
	tx->ops_tail = &op->next;
	tx->nops++;
	return;

err_op:
	op_free(op);
err:
	tx->error = -ENOMEM;
}

int xs_tx_check_ops(const struct xs_req *req)
{
	unsigned int max = req->who.priv ? XS_MAX_TX_OPS_DOM0
					 : XS_MAX_TX_OPS_GUEST;

	if (req->tx && req->tx->nops >= max)
		return -ENOSPC;
	return 0;
}

/* Each transaction holds a copy of the database: a guest's are bounded
 * over all its connections (xenstored: per connection, but a real guest
 * has only one); dom0's per connection. */
static unsigned int domain_txs(const struct xs_conn *conn)
{
	const struct xs_conn *c;
	unsigned int n = 0;

	if (conn->priv)
		return conn->ntxs;
	for (c = conn->srv->conns; c; c = c->next)
		if (!c->dead && !c->priv && c->domid == conn->domid)
			n += c->ntxs;
	return n;
}

int xs_do_transaction_start(struct xs_req *req)
{
	struct xs_conn *conn = req->conn;
	unsigned int max = conn->priv ? XS_MAX_TX_DOM0 : XS_MAX_TX_GUEST;
	struct xs_tx *tx;
	char id[16];
	int err;

	if (req->hdr.tx_id)
		return -EBUSY;
	if (domain_txs(conn) >= max)
		return -ENOSPC;
	tx = calloc(1, sizeof(*tx));
	if (!tx)
		return -ENOMEM;
	err = xs_tree_clone(&conn->srv->tree, &tx->tree);
	if (err) {
		free(tx);
		return err;
	}
	tx->start_gen = conn->srv->gen;
	tx->tree.hooks.access = tx_record_access;
	tx->tree.hooks.arg = tx;
	tx->ops_tail = &tx->ops;
	/* Ids are global and never 0; skip any still in use on this conn. */
	do {
		tx->id = conn->srv->next_txid++;
	} while (tx->id == 0 || xs_tx_find(conn, tx->id));
	tx->next = conn->txs;
	conn->txs = tx;
	conn->ntxs++;
	snprintf(id, sizeof(id), "%" PRIu32, tx->id);
	xs_conn_send(conn, &req->hdr, XS_TRANSACTION_START, id,
		     strlen(id) + 1, NULL, 0);
	return 0;
}

/* Everything the transaction read or changed must be as it found it. */
static bool tx_conflicts(const struct xs_srv *srv, const struct xs_tx *tx)
{
	const struct xs_access *a;

	for (a = tx->accessed; a; a = a->next) {
		const struct xs_node *n = xs_tree_lookup(&srv->tree, a->path);

		if (!n || n->gen != a->gen)
			return true;
	}
	return false;
}

static void tx_replay(struct xs_srv *srv, const struct xs_conn *conn,
		      const struct xs_tx *tx)
{
	struct xs_who who = xs_conn_who(conn);
	const struct xs_op *op;

	/* Permissions and quotas were checked against the same nodes when
	 * the transaction ran; replay only re-applies the changes (and so
	 * fires the watches, at commit as xenstored does). */
	who.replay = true;
	for (op = tx->ops; op; op = op->next) {
		switch (op->type) {
		case XS_WRITE:
		case XS_MKDIR:
			xs_tree_write(&srv->tree, &who, op->path,
				      op->type == XS_WRITE ? op->data : NULL,
				      op->len);
			break;
		case XS_RM:
			xs_tree_rm(&srv->tree, &who, op->path);
			break;
		case XS_SET_PERMS:
			xs_tree_set_perms(&srv->tree, &who, op->path,
					  op->perms, op->nperms);
			break;
		}
	}
}

int xs_do_transaction_end(struct xs_req *req)
{
	struct xs_conn *conn = req->conn;
	const char *arg = xs_req_one_arg(req);
	struct xs_tx **pp, *tx = req->tx;
	bool commit;
	int err = 0;

	if (!tx)
		return -ENOENT;
	if (!arg || (strcmp(arg, "T") && strcmp(arg, "F")))
		return -EINVAL;
	commit = arg[0] == 'T';
	for (pp = &conn->txs; *pp != tx; pp = &(*pp)->next)
		;
	*pp = tx->next;
	conn->ntxs--;
	if (commit) {
		if (tx->error)
			err = tx->error;
		else if (tx_conflicts(conn->srv, tx))
			err = -EAGAIN;
		else
			tx_replay(conn->srv, conn, tx);
	}
	xs_tx_free(tx);
	if (err)
		return err;
	xs_conn_send_ok(conn, &req->hdr);
	return 0;
}
