/* SPDX-License-Identifier: MIT */
/*
 * xensim's xenstore server: the xenstored wire protocol (xen/io/xs_wire.h)
 * over unix sockets, so that Debian's unmodified libxenstore and
 * xenstore-utils work against it with XENSTORED_PATH.
 *
 * Sockets: DIR/xenstore.sock is dom0 (privileged, as xenstored's own socket
 * is); each introduced domain gets DIR/xenstore-dom<N>.sock, whose
 * connections act as domain N (unprivileged, subject to permissions).
 *
 * Runs entirely on the simulator's event loop (one thread).
 */
#ifndef XENSIM_XS_SERVER_H
#define XENSIM_XS_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include <xen/xen.h>

struct sim_loop;
struct xs_srv;

/* Create the tree (/, /local, /local/domain, /tool owned by dom0) and
 * listen on @dir/xenstore.sock. */
int xs_srv_create(struct sim_loop *loop, const char *dir, struct xs_srv **out);
/* Close every connection and socket, unlink the socket files. */
void xs_srv_destroy(struct xs_srv *srv);

/* A domain exists: open its socket, create /local/domain/<id> (owner
 * @domid, dom0 may read; plus domid and name), fire @introduceDomain. */
int xs_srv_domain_introduce(struct xs_srv *srv, domid_t domid,
			    const char *name);
/* A domain is gone: close its connections (dropping its watches and
 * transactions), remove its socket and /local/domain/<id>, fire
 * @releaseDomain. */
int xs_srv_domain_release(struct xs_srv *srv, domid_t domid);
bool xs_srv_domain_exists(const struct xs_srv *srv, domid_t domid);

/*
 * Serve a connected stream socket @fd (non-blocking) as a client: dom0
 * (privileged) or, with !@priv, domain @domid. The server owns @fd from
 * then on (closes it when the client goes or misbehaves). For the
 * listeners, and for tests/fuzz/fuzz_xs_wire, which feeds it raw bytes.
 * -ENOMEM or the loop's error; @fd is not closed then.
 */
int xs_srv_attach_fd(struct xs_srv *srv, int fd, domid_t domid, bool priv);

#endif
