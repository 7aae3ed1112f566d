/* SPDX-License-Identifier: MIT */
/*
 * uback-netfront internals: the guest NIC as a tap device (tap.c) and the
 * frame pump between it and netfront (pump.c). main.c plays the toolstack
 * and the guest. Functions return 0 or -errno and log one line on failure.
 */
#ifndef UBACK_NETFRONT_APP_H
#define UBACK_NETFRONT_APP_H

#include <stdbool.h>
#include <stdint.h>

#include "netfront.h"

/* Offloads for TUNSETOFFLOAD, from what netfront negotiated. */
#define NFA_OFF_CSUM 1u
#define NFA_OFF_TSO4 2u
#define NFA_OFF_TSO6 4u

struct nfa_tap_config {
	const char *netns;        /* enter /var/run/netns/<netns> first; NULL:
	                           * stay in the current namespace */
	const char *ifname;       /* e.g. "eth0" */
	unsigned int nr_queues;   /* > 1: IFF_MULTI_QUEUE, one fd each */
	unsigned int offloads;    /* NFA_OFF_* */
	uint8_t mac[6];
	unsigned int mtu;         /* 0: leave the default */
	bool up;                  /* bring the link up */
};

/*
 * Switch the calling thread into @cfg->netns (it stays there), create the
 * tap with IFF_VNET_HDR (non-blocking fds in @fds[0..nr_queues-1]), set
 * offloads, MAC, MTU and up. On failure every fd is closed.
 */
int nfa_tap_open(const struct nfa_tap_config *cfg, int *fds);

struct nfa_pump_config {
	struct netfront *nf;
	const int *tap_fds;       /* nr_queues of netfront */
	int stop_fd;              /* readable: stop (a signalfd) */
	const char *stats_path;   /* JSON counters, rewritten every second
	                           * and at exit; NULL: none */
	unsigned int spin_us;     /* poll this long before sleeping (0) */
	const char *ifname;       /* the tap: with multicast control, its
	                           * multicast list is mirrored to the
	                           * backend (MCAST_ADD/DEL extras) */
};

/* Tap-side counters (the netfront ones come from netfront_get_stats). */
struct nfa_tap_stats {
	uint64_t tap_rx_frames;       /* read from the tap (guest TX) */
	uint64_t tap_rx_dropped;      /* refused by netfront_tx (not busy) */
	uint64_t tap_tx_frames;       /* written to the tap (guest RX) */
	uint64_t tap_tx_errors;       /* write errors, bad checksum layout */
};

/*
 * Pump frames both ways on one epoll loop until @stop_fd is readable (0)
 * or the backend leaves Connected (-ENOTCONN). Logs why it stopped.
 */
int nfa_pump_run(const struct nfa_pump_config *cfg);

#endif /* UBACK_NETFRONT_APP_H */
