/* SPDX-License-Identifier: MIT */
/*
 * xensim control protocol, spoken on DIR/control.sock (SOCK_SEQPACKET).
 *
 * Strictly request/reply: a client sends one struct ctl_req, the daemon
 * answers with one struct ctl_rep carrying up to CTL_MAX_FDS file
 * descriptors (SCM_RIGHTS). The daemon never sends unsolicited messages.
 * Control plane only: grant maps, copies and notifications never use it.
 *
 * Ports bound through a connection (CTL_EVTCHN_BIND) belong to it and are
 * closed when it goes away, as closing /dev/xen/evtchn does on Xen. Ports
 * made with CTL_EVTCHN_ALLOC_UNBOUND belong to their domain. Likewise the
 * grant pins recorded in a connection's pin ledgers (CTL_DOM_LEDGER) are
 * dropped when it goes away, as closing /dev/xen/gntdev does.
 */
#ifndef XENSIM_CTL_PROTO_H
#define XENSIM_CTL_PROTO_H

#include <stdint.h>

#include <xen/xen.h>

#define CTL_SOCK_NAME "control.sock"
#define CTL_MAX_FDS 2
#define CTL_NAME_MAX 64

enum ctl_op {
	/* in: domid (0: pick), mem_pages, nr_grants, name.
	 * out: domid, instance; fds: memory, state. */
	CTL_DOM_CREATE = 1,
	/* in: domid. -ESRCH if no such domain. */
	CTL_DOM_DESTROY,
	/* in: domid. out: instance; fds: memory, state. -ESRCH if none or
	 * dying. */
	CTL_DOM_OPEN,
	/* in: domid, remote (the domain allowed to bind).
	 * out: port; fds: the port's receive eventfd. */
	CTL_EVTCHN_ALLOC_UNBOUND,
	/* in: domid (the binder), remote, port (remote's unbound port).
	 * out: port (local); fds: receive eventfd, send eventfd.
	 * The new port starts pending, as on Xen. */
	CTL_EVTCHN_BIND,
	/* in: domid, port. */
	CTL_EVTCHN_CLOSE,
	/* in: domid, port. out: state, remote, rport, gen;
	 * fds: send eventfd when state is CTL_PORT_INTERDOMAIN. */
	CTL_EVTCHN_INFO,
	/* in: domid. out: instance; fds: this connection's pin ledger for the
	 * domain's current instance (struct sim_pin_held[nr_grants], see
	 * uback/sim_shm.h), made on first use, the same one on later calls. -ESRCH
	 * if no such domain or it has no grant table (dom0). */
	CTL_DOM_LEDGER,
};

enum ctl_port_state {
	CTL_PORT_FREE = 0,
	CTL_PORT_UNBOUND,
	CTL_PORT_INTERDOMAIN,
};

struct ctl_req {
	uint32_t op;
	uint32_t domid;
	uint32_t remote;
	uint32_t port;
	uint32_t mem_pages;
	uint32_t nr_grants;
	char name[CTL_NAME_MAX];   /* NUL-terminated */
};

struct ctl_rep {
	int32_t err;               /* 0 or -errno */
	uint32_t domid;
	uint32_t port;
	uint32_t state;
	uint32_t remote;
	uint32_t rport;
	uint32_t gen;
	uint32_t nfds;
	uint64_t instance;
};

/* Client side (common/sim_ctl_client.c), used by the guest library and
 * the sim provider. 0 or -errno; nothing logs. */

/* Connect to @dir/control.sock; the socket fd comes back in @fd. */
int ctl_connect(const char *dir, int *fd);
/*
 * Send @req and wait for the reply. On success @rep is filled and its
 * rep->nfds descriptors are stored in @fds (the caller owns them; at most
 * CTL_MAX_FDS); extra descriptors are closed. Returns -errno for a
 * transport failure, otherwise rep->err (descriptors are then closed).
 * Not thread-safe per fd: callers serialise.
 */
int ctl_call(int fd, const struct ctl_req *req, struct ctl_rep *rep,
	     int *fds);

struct xs_handle;
/*
 * A libxenstore handle on xensim's xenstore in @dir, acting as @domid
 * (0: DIR/xenstore.sock, else DIR/xenstore-dom<N>.sock). libxenstore only
 * takes the socket path from $XENSTORED_PATH, so this sets it around
 * xs_open(XS_OPEN_SOCKETONLY) under a process-wide mutex and restores it.
 */
int ctl_xs_open(const char *dir, domid_t domid, struct xs_handle **out);

#endif /* XENSIM_CTL_PROTO_H */
