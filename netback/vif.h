/* SPDX-License-Identifier: MIT */
/*
 * The vif device kind for the XenBus state machine (common/xenbus.c):
 * probe reads the toolstack's keys, opens the host-side port and
 * publishes the features; connect reads and checks the frontend's keys,
 * maps the control ring, enables the port and starts one queue per
 * negotiated queue; disconnect stops them; remove closes the port.
 *
 *   struct net_vif *vif;
 *   net_vif_create(&cfg, &vif);
 *   xb_dev_open(hv, backend_path, &net_vif_ops, vif, &dev);
 *   loop: poll xb_dev_fd(dev) and net_vif_fds(vif, ...);
 *         xb_dev_process(dev); net_vif_process(dev);
 *   xb_dev_close(dev); net_vif_destroy(vif);
 *
 * Thread context: the ops, net_vif_process and the control ring run on
 * the thread calling xb_dev_process (the main thread); the queues run on
 * their own threads and report a broken ring through an eventfd that
 * net_vif_process turns into xb_dev_fatal.
 */
#ifndef NETBACK_VIF_H
#define NETBACK_VIF_H

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "uback/xenbus.h"
#include "netback.h"

/* Operator settings (command line). */
struct net_vif_config {
	const struct net_port_ops *port_ops;   /* NULL: loop */
	const char *port_args;        /* after "<name>:", or NULL */
	const char *ifname;           /* NULL: vifname key or vif<D>.<N> */
	uint32_t max_queues;          /* multi-queue-max-queues, 1..16 */
	struct net_tx_limits tx_limits;
	uint32_t rx_stall_ms;         /* 0: NET_DEFAULT_RX_STALL_MS */
	uint32_t poll_us;             /* ports without fd (dpdk) */
	uint32_t poll_max_us;         /* their period when idle */
	uint32_t spin_us;             /* spin for work before sleeping; 0: off */
	bool carrier_only;            /* net_port_config.carrier_only */
	/* The state file (state.h, --state-dir), opened before the sandbox;
	 * -1: nothing survives the process and nothing is adopted. With it
	 * the port is persistent (net_port_config.persist). Not closed by
	 * the vif. */
	int state_fd;
};

/* Defaults: loop port, min(4, CPUs) queues, 18/20 TX slots, no state
 * file. */
void net_vif_config_defaults(struct net_vif_config *cfg);

struct net_vif;

/* -EINVAL for bad limits, -ENOMEM. */
int net_vif_create(const struct net_vif_config *cfg, struct net_vif **out);
/* After xb_dev_close (the port is closed by remove). NULL ok. */
void net_vif_destroy(struct net_vif *vif);

/*
 * backend/vif. Its adopt op (uback/xenbus.h) takes over a live vif from
 * the state file when it matches the frontend's current keys (state.h);
 * otherwise it logs why and the core renegotiates.
 */
extern const struct xb_dev_ops net_vif_ops;

/*
 * A live upgrade (SIGUSR1) is under way: call before xb_dev_detach. The
 * disconnect then keeps the state file valid and the host side's
 * carrier, and the port is left to the successor (port.h detach: a
 * persistent tap stays) instead of closed.
 */
void net_vif_set_detach(struct net_vif *vif);

/* Fds the main loop must poll (queue alerts, control ring): fills up to
 * @max entries of @pfd, returns how many. They change across connects:
 * call before every poll. */
unsigned int net_vif_fds(const struct net_vif *vif, struct pollfd *pfd,
			 unsigned int max);
/* After poll: a failed queue fails the device (xb_dev_fatal, with the
 * reason in the backend's `error` key); pending control requests are
 * answered. Main thread. */
void net_vif_process(struct xb_dev *dev);

unsigned int net_vif_nr_queues(const struct net_vif *vif);
/* The port's fd for queue @q (port.h queue_fd), -1 without an open port
 * or fd: for tests of the sandbox. */
int net_vif_port_fd(const struct net_vif *vif, unsigned int q);
const struct net_stats *net_vif_queue_stats(const struct net_vif *vif,
					    unsigned int q);
/* Device summary and every queue's counters, "q<N>.<name>=<value>", and
 * totals since start, "total.<name>=<value>". */
void net_vif_print_stats(FILE *f, const struct net_vif *vif);

#endif /* NETBACK_VIF_H */
