/* SPDX-License-Identifier: MIT */
/*
 * xensim event channels. The daemon only keeps the table and hands out
 * eventfds; notification never passes through it. A port's recv_fd is the
 * eventfd its owner polls; the peer's notify writes it.
 */
#include <errno.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "dom_priv.h"

static void bump_gen(struct sim_dom *d, evtchn_port_t port)
{
	if (d->shm)
		__atomic_fetch_add(&d->shm->port_gen[port], 1,
				   __ATOMIC_RELEASE);
}

static uint32_t port_gen(const struct sim_dom *d, evtchn_port_t port)
{
	return d->shm ? __atomic_load_n(&d->shm->port_gen[port],
					__ATOMIC_ACQUIRE) : 0;
}

/* Lowest free port >= 1, with a fresh eventfd. */
static int port_alloc(struct sim_dom *d, evtchn_port_t *out)
{
	evtchn_port_t p;
	int fd;

	for (p = 1; p < SIM_NR_PORTS; p++)
		if (d->ports[p].state == CTL_PORT_FREE)
			break;
	if (p == SIM_NR_PORTS)
		return -ENOSPC;
	fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fd < 0)
		return -errno;
	d->ports[p].recv_fd = fd;
	d->ports[p].owner = NULL;
	*out = p;
	return 0;
}

static void fill_info(const struct sim_dom *d, evtchn_port_t p,
		      struct sim_port_info *info, int send_fd)
{
	const struct sim_port *sp = &d->ports[p];

	info->port = p;
	info->state = sp->state;
	info->remote = sp->remote;
	info->rport = sp->rport;
	info->gen = port_gen(d, p);
	info->recv_fd = sp->state == CTL_PORT_FREE ? -1 : sp->recv_fd;
	info->send_fd = send_fd;
}

int sim_evtchn_alloc_unbound(struct sim_doms *doms, domid_t domid,
			     domid_t remote, struct sim_port_info *info)
{
	struct sim_dom *d = sim_dom_get(doms, domid);
	evtchn_port_t p;
	int err;

	if (!d)
		return -ESRCH;
	if (remote >= DOMID_FIRST_RESERVED)
		return -EINVAL;
	err = port_alloc(d, &p);
	if (err)
		return err;
	d->ports[p].state = CTL_PORT_UNBOUND;
	d->ports[p].remote = remote;
	d->ports[p].rport = 0;
	bump_gen(d, p);
	fill_info(d, p, info, -1);
	return 0;
}

int sim_evtchn_bind(struct sim_doms *doms, domid_t domid, domid_t remote,
		    evtchn_port_t rport, const void *owner,
		    struct sim_port_info *info)
{
	struct sim_dom *ld = sim_dom_get(doms, domid);
	struct sim_dom *rd = sim_dom_get(doms, remote);
	struct sim_port *rp;
	evtchn_port_t p;
	uint64_t one = 1;
	int err;

	if (!ld || !rd)
		return -ESRCH;
	if (rport == 0 || rport >= SIM_NR_PORTS)
		return -EINVAL;
	rp = &rd->ports[rport];
	/* Xen: only the domain named at alloc_unbound may bind. */
	if (rp->state != CTL_PORT_UNBOUND || rp->remote != domid)
		return -EINVAL;
	err = port_alloc(ld, &p);
	if (err)
		return err;
	ld->ports[p].state = CTL_PORT_INTERDOMAIN;
	ld->ports[p].remote = remote;
	ld->ports[p].rport = rport;
	ld->ports[p].owner = owner;
	rp->state = CTL_PORT_INTERDOMAIN;
	rp->remote = domid;
	rp->rport = p;
	bump_gen(ld, p);
	bump_gen(rd, rport);
	/* Xen marks the new local port pending: notifications sent to the
	 * unbound port may have been lost. */
	if (write(ld->ports[p].recv_fd, &one, sizeof(one)) < 0) {
		/* counter saturated: it is pending anyway */
	}
	fill_info(ld, p, info, rp->recv_fd);
	return 0;
}

static void port_close(struct sim_doms *doms, struct sim_dom *d,
		       evtchn_port_t p)
{
	struct sim_port *sp = &d->ports[p];

	if (sp->state == CTL_PORT_INTERDOMAIN) {
		struct sim_dom *rd = sim_dom_get(doms, sp->remote);

		if (rd && sp->rport < SIM_NR_PORTS &&
		    rd->ports[sp->rport].state == CTL_PORT_INTERDOMAIN &&
		    rd->ports[sp->rport].remote == d->id &&
		    rd->ports[sp->rport].rport == p) {
			/* As Xen: the peer stays allocated, unbound, and may
			 * be bound again by this domain. */
			rd->ports[sp->rport].state = CTL_PORT_UNBOUND;
			rd->ports[sp->rport].rport = 0;
			bump_gen(rd, sp->rport);
		}
	}
	close(sp->recv_fd);
	sp->recv_fd = -1;
	sp->state = CTL_PORT_FREE;
	sp->remote = 0;
	sp->rport = 0;
	sp->owner = NULL;
	bump_gen(d, p);
}

int sim_evtchn_close(struct sim_doms *doms, domid_t domid, evtchn_port_t port)
{
	struct sim_dom *d = sim_dom_get(doms, domid);

	if (!d)
		return -ESRCH;
	if (port == 0 || port >= SIM_NR_PORTS ||
	    d->ports[port].state == CTL_PORT_FREE)
		return -EINVAL;
	port_close(doms, d, port);
	return 0;
}

int sim_evtchn_info(struct sim_doms *doms, domid_t domid, evtchn_port_t port,
		    struct sim_port_info *info)
{
	struct sim_dom *d = sim_dom_get(doms, domid);
	const struct sim_port *sp;
	int send_fd = -1;

	if (!d)
		return -ESRCH;
	if (port == 0 || port >= SIM_NR_PORTS)
		return -EINVAL;
	sp = &d->ports[port];
	if (sp->state == CTL_PORT_INTERDOMAIN) {
		struct sim_dom *rd = sim_dom_get(doms, sp->remote);

		if (rd)
			send_fd = rd->ports[sp->rport].recv_fd;
	}
	fill_info(d, port, info, send_fd);
	return 0;
}

void sim_dom_close_ports(struct sim_doms *doms, struct sim_dom *d)
{
	evtchn_port_t p;

	for (p = 1; p < SIM_NR_PORTS; p++)
		if (d->ports[p].state != CTL_PORT_FREE)
			port_close(doms, d, p);
}

void sim_evtchn_close_owned(struct sim_doms *doms, const void *owner)
{
	unsigned int i;
	evtchn_port_t p;

	for (i = 0; i < DOMID_FIRST_RESERVED; i++) {
		struct sim_dom *d = doms->by_id[i];

		if (!d)
			continue;
		for (p = 1; p < SIM_NR_PORTS; p++)
			if (d->ports[p].state != CTL_PORT_FREE &&
			    d->ports[p].owner == owner)
				port_close(doms, d, p);
	}
}
