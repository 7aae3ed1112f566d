/* SPDX-License-Identifier: MIT */
/* Internals shared by dom.c and dom_evtchn.c. */
#ifndef XENSIM_DOM_PRIV_H
#define XENSIM_DOM_PRIV_H

#include <stdint.h>

#include "uback/sim_ctl_proto.h"
#include "dom.h"
#include "uback/sim_shm.h"

struct sim_port {
	uint8_t state;            /* enum ctl_port_state */
	domid_t remote;
	evtchn_port_t rport;
	int recv_fd;              /* eventfd written to signal this port */
	const void *owner;        /* connection that bound it, or NULL */
};

struct sim_dom {
	domid_t id;
	uint64_t instance;
	int memfd;                /* -1 for dom0 */
	int shmfd;
	struct sim_shm_hdr *shm;  /* NULL for dom0 */
	uint32_t nr_grants;       /* our copy: clients can write the header */
	struct sim_port *ports;   /* [SIM_NR_PORTS] */
	char name[CTL_NAME_MAX];
};

struct sim_doms {
	struct xs_srv *xs;
	uint64_t instances;
	unsigned int next_id;
	struct sim_dom *by_id[DOMID_FIRST_RESERVED];
};

struct sim_dom *sim_dom_get(struct sim_doms *doms, uint32_t domid);
/* Close every port of @d (peers become unbound). */
void sim_dom_close_ports(struct sim_doms *doms, struct sim_dom *d);

#endif
