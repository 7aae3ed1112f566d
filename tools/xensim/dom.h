/* SPDX-License-Identifier: MIT */
/*
 * xensim domains: memory and grant table memfds, event channel tables, and
 * the hook into the xenstore server (introduce / release).
 *
 * Runs on the daemon's loop thread only. Descriptors returned by these
 * calls are the daemon's own (borrowed): the caller passes them on with
 * SCM_RIGHTS and must not close them. Nothing here logs except domain
 * creation and destruction (one info line each).
 */
#ifndef XENSIM_DOM_H
#define XENSIM_DOM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xen/xen.h>
#include <xen/event_channel.h>

struct xs_srv;
struct sim_doms;
struct sim_pin_held;

/* The domain table, with dom0 already present (dom0 has event channels but
 * no simulated memory or grant table). @xs may be NULL (no xenstore). */
int sim_doms_create(struct xs_srv *xs, struct sim_doms **out);
/* Destroy every domain (as xg_dom_destroy would) and free the table. */
void sim_doms_destroy(struct sim_doms *doms);

struct sim_dom_info {
	domid_t domid;
	uint64_t instance;
	int memfd;                /* borrowed */
	int shmfd;                /* borrowed */
};

/* @domid 0: the next free id. -EEXIST if taken, -EINVAL for bad sizes or
 * ids, -ENOSPC when no id is free. @mem_pages / @nr_grants 0: defaults. */
int sim_dom_create(struct sim_doms *doms, domid_t domid, uint32_t mem_pages,
		   uint32_t nr_grants, const char *name,
		   struct sim_dom_info *info);
/* -ESRCH if no such domain, -EPERM for dom0. */
int sim_dom_destroy(struct sim_doms *doms, domid_t domid);
/* -ESRCH if no such domain or it has no memory (dom0). */
int sim_dom_open(struct sim_doms *doms, domid_t domid,
		 struct sim_dom_info *info);

/*
 * A pin ledger: the grant pins one control connection holds on one domain
 * instance, in a memfd the client maps and updates (layout in uback/sim_shm.h).
 */
struct sim_ledger {
	domid_t domid;
	uint64_t instance;
	uint32_t nr_grants;
	int fd;                   /* owned; handed out borrowed */
	struct sim_pin_held *held;
	size_t size;
	struct sim_ledger *next;  /* the owner's list */
};

/* A new, empty ledger for the current instance of @domid. -ESRCH if no
 * such domain or it has no grant table (dom0). */
int sim_ledger_create(struct sim_doms *doms, domid_t domid,
		      struct sim_ledger **out);
/* Whether @l is for the live instance of its domain. */
bool sim_ledger_live(struct sim_doms *doms, const struct sim_ledger *l);
/* Drop the pins @l still records from its domain's grant table if that
 * instance is alive (clearing GTF_reading/GTF_writing where no pin is
 * left), then free @l. A grant whose lock stays held for about 2 s (its
 * holder died inside it) is skipped and stays pinned. Logs one info line
 * if it dropped any pins, one warning if it skipped any grant. */
void sim_ledger_release(struct sim_doms *doms, struct sim_ledger *l);

struct sim_port_info {
	evtchn_port_t port;
	uint32_t state;           /* enum ctl_port_state */
	domid_t remote;
	evtchn_port_t rport;
	uint32_t gen;
	int recv_fd;              /* borrowed; -1 if none */
	int send_fd;              /* borrowed; -1 unless interdomain */
};

/* EVTCHNOP_alloc_unbound: a port of @domid that only @remote may bind. */
int sim_evtchn_alloc_unbound(struct sim_doms *doms, domid_t domid,
			     domid_t remote, struct sim_port_info *info);
/* EVTCHNOP_bind_interdomain on behalf of @domid. The new port belongs to
 * @owner (closed by sim_evtchn_close_owned). -ESRCH: no such domain;
 * -EINVAL: the remote port is not unbound for @domid; -ENOSPC: full. */
int sim_evtchn_bind(struct sim_doms *doms, domid_t domid, domid_t remote,
		    evtchn_port_t rport, const void *owner,
		    struct sim_port_info *info);
/* EVTCHNOP_close: the peer (if any) becomes unbound. -EINVAL if @port is
 * not in use. */
int sim_evtchn_close(struct sim_doms *doms, domid_t domid,
		     evtchn_port_t port);
int sim_evtchn_info(struct sim_doms *doms, domid_t domid, evtchn_port_t port,
		    struct sim_port_info *info);
/* Close every port bound through @owner (its connection went away). */
void sim_evtchn_close_owned(struct sim_doms *doms, const void *owner);

#endif
