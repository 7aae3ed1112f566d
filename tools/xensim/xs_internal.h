/* SPDX-License-Identifier: MIT */
/*
 * xensim xenstore server internals shared by xs_server.c (sockets,
 * connections, domains, watch delivery) and xs_ops.c (the wire operations
 * and transactions).
 */
#ifndef XENSIM_XS_INTERNAL_H
#define XENSIM_XS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xen/io/xs_wire.h>

#include "xs_server.h"
#include "xs_tree.h"

/* Bounds against hostile clients (xenstored defaults where it has one). */
#define XS_MAX_WATCHES_GUEST   128     /* per domain: quota_nb_watch_... */
#define XS_MAX_WATCHES_DOM0    4096
#define XS_MAX_TX_GUEST        10      /* per domain: quota_max_transaction */
#define XS_MAX_TX_DOM0         256
#define XS_MAX_TX_OPS_GUEST    1024    /* changes inside one transaction */
#define XS_MAX_TX_OPS_DOM0     65536
#define XS_MAX_CONNS_GUEST     16      /* per domain socket */
#define XS_MAX_CONNS_DOM0      256
#define XS_OUT_SOFT            (64u * 1024)   /* stop reading requests */
#define XS_OUT_HARD            (1024u * 1024) /* drop the connection */
#define XS_READS_PER_WAKE      64

struct xs_watch {
	struct xs_watch *next;
	char *path;                  /* absolute, or @special */
	char *token;
	size_t rel_prefix;           /* strip from event paths (relative) */
};

/* A node a transaction read or changed, with its generation then. */
struct xs_access {
	struct xs_access *next;
	char *path;
	uint64_t gen;
};

/* A change made in a transaction, replayed on the main tree at commit. */
struct xs_op {
	struct xs_op *next;
	uint32_t type;               /* XS_WRITE, MKDIR, RM, SET_PERMS */
	char *path;
	char *data;
	unsigned int len;
	struct xs_perm *perms;
	unsigned int nperms;
};

struct xs_tx {
	struct xs_tx *next;
	uint32_t id;
	struct xs_tree tree;         /* whole-database copy taken at start */
	uint64_t start_gen;          /* generation counter at start */
	struct xs_access *accessed;
	struct xs_op *ops, **ops_tail;
	unsigned int nops;
	int error;                   /* -ENOMEM while recording: commit fails */
};

struct xs_out {
	struct xs_out *next;
	size_t len, off;
	unsigned char buf[];
};

struct xs_listener {
	struct xs_srv *srv;
	int fd;
	uint32_t domid;
	bool priv;
	char *path;
};

struct xs_conn {
	struct xs_conn *next;
	struct xs_srv *srv;
	int fd;
	uint32_t domid;
	bool priv;
	bool in_loop;                /* registered for input */
	bool out_armed;              /* registered for EPOLLOUT */
	bool dead;                   /* closed at the next reap */
	size_t in_len;
	unsigned char in[sizeof(struct xsd_sockmsg) + XENSTORE_PAYLOAD_MAX + 1];
	struct xs_out *out_head, **out_tail;
	size_t out_bytes;
	struct xs_watch *watches;
	unsigned int nwatches;
	struct xs_tx *txs;
	unsigned int ntxs;
};

struct xs_dom {
	struct xs_dom *next;
	uint32_t domid;
	int32_t target;              /* SET_TARGET, -1 if none */
	struct xs_listener lst;
};

/* @introduceDomain / @releaseDomain: not nodes, but with permissions that
 * decide who gets their events (xenstored 4.17); default dom0 only. */
struct xs_special {
	const char *name;
	struct xs_perm *perms;
	unsigned int nperms;
};

#define XS_NR_SPECIAL 2

struct xs_srv {
	struct sim_loop *loop;
	char *dir;
	struct xs_listener lst;      /* dom0 */
	int out_epfd;                /* connections waiting to write */
	struct xs_conn *conns;
	struct xs_dom *doms;
	struct xs_tree tree;
	uint64_t gen;
	uint32_t next_txid;
	struct xs_special special[XS_NR_SPECIAL];
};

/* One request being handled. */
struct xs_req {
	struct xs_conn *conn;
	struct xsd_sockmsg hdr;
	char *payload;               /* hdr.len bytes, plus a NUL */
	struct xs_who who;
	struct xs_tx *tx;            /* hdr.tx_id's transaction, or NULL */
	struct xs_tree *tree;        /* the main tree or tx->tree */
};

/* xs_server.c */
struct xs_who xs_conn_who(const struct xs_conn *conn);
struct xs_dom *xs_dom_find(const struct xs_srv *srv, uint32_t domid);
/* Queue a message (header from @req with @type, payload @a then @b). */
void xs_conn_send(struct xs_conn *conn, const struct xsd_sockmsg *req,
		  uint32_t type, const void *a, size_t alen,
		  const void *b, size_t blen);
void xs_conn_send_error(struct xs_conn *conn, const struct xsd_sockmsg *req,
			int err);
void xs_conn_send_ok(struct xs_conn *conn, const struct xsd_sockmsg *req);
/* Queue a WATCH_EVENT for @path (absolute) to @watch of @conn. */
void xs_watch_send(struct xs_conn *conn, const struct xs_watch *watch,
		   const char *path);
void xs_fire_special(struct xs_srv *srv, const char *name);
struct xs_special *xs_special_find(struct xs_srv *srv, const char *name);
/* Main tree change hook (watch firing). */
void xs_srv_on_change(void *arg, const char *path, const struct xs_node *node,
		      enum xs_change what, const struct xs_perm *old,
		      unsigned int nold);

/* xs_ops.c */
void xs_handle_msg(struct xs_conn *conn);
void xs_watch_free(struct xs_watch *watch);
void xs_conn_reset(struct xs_conn *conn);
/* The payload if it is exactly one NUL-terminated string, else NULL. */
const char *xs_req_one_arg(const struct xs_req *req);

/* xs_tx.c */
struct xs_tx *xs_tx_find(const struct xs_conn *conn, uint32_t id);
void xs_tx_free(struct xs_tx *tx);
/* -ENOSPC if @req's transaction may not make another change. */
int xs_tx_check_ops(const struct xs_req *req);
/* Remember a change for replay at commit (on -ENOMEM the commit fails). */
void xs_tx_record_op(struct xs_tx *tx, uint32_t type, const char *path,
		     const void *data, unsigned int len,
		     const struct xs_perm *perms, unsigned int nperms);
int xs_do_transaction_start(struct xs_req *req);
int xs_do_transaction_end(struct xs_req *req);

#endif
