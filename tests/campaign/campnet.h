/* SPDX-License-Identifier: MIT */
/*
 * campaign_net's guests (netgood.c). Conventions as camp.h: 0 or -errno,
 * reports on stdout, one thread per guest.
 */
#ifndef TESTS_CAMPAIGN_CAMPNET_H
#define TESTS_CAMPAIGN_CAMPNET_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <xen/xen.h>

#include "camp.h"

#define DEVID 0u
#define TIMEOUT_MS 20000

struct xg_sim;
struct xg_dom;
struct xs_handle;
struct netfront;

/* A guest with one vif (devid DEVID) served by its own uback-net
 * (loop port, one queue, sandboxed) and, once connected, a netfront. */
struct guest {
	struct xg_sim *sim;
	struct xg_dom *dom;
	struct xs_handle *xs;
	domid_t domid;
	char be_path[128], fe_path[128];
	pid_t pid;
	struct netfront *nf;
};

/* Create the domain (on its own connection to the xensim at @sim_dir),
 * the vif (through @tool), start @uback_net for it, open a xenstore
 * handle. On failure the caller still owns what was made. */
int cn_guest_create(struct guest *g, struct xg_sim *tool, const char *sim_dir,
		    const char *uback_net);
/* Connect g->nf: SG; @hostile adds the control ring, multicast control,
 * split event channels and a small RX fill (the attacker's set). */
int cn_fe_connect(struct guest *g, bool hostile);

/* One measured phase of the good guest. */
struct good_res {
	uint64_t bytes, us;
	/* data mode: batches done; iperf mode: TCP retransmits */
	unsigned long batches, mismatches, tx_errors, rx_errors;
	int err;
};

/*
 * The good guest, either real traffic (iperf: tests/campaign/goodnet.py
 * joins our xensim with scripts/netlab.py's namespaces, uback-netfront
 * gives a guest kernel its eth0, uback-net --port tap serves it; iperf3
 * measures, a sha256-checked TCP transfer verifies) or netfront's data
 * API over the loop port (data).
 */
struct good {
	bool iperf;
	struct guest g;                 /* data mode */
	struct camp_coproc helper;      /* iperf mode */
	pid_t backend;
	uint64_t gen;
};

/* Set the good guest up: iperf mode (gd->iperf) runs @script (goodnet.py)
 * with @netfront against the xensim at @sim_dir, else a cn_guest.
 * gd->backend is then its uback-net's pid. */
int good_up(struct good *gd, struct xg_sim *tool, const char *sim_dir,
	    const char *uback_net, const char *script, const char *netfront);
/* Traffic for @seconds, measured; with @verify (iperf mode) a 64 MiB
 * sha256-checked transfer follows, a failure counted as a mismatch. */
void good_phase(struct good *gd, unsigned int seconds, bool verify,
		struct good_res *res);
/* Disconnect (grants the backend kept added to *@leaks in data mode) and
 * stop; the good backend's exit status (iperf mode: uback-netfront's if
 * it failed, else uback-net's). */
int good_down(struct good *gd, struct xg_sim *tool, unsigned long *leaks);
/* Free the data mode's guest (after good_down). */
void good_fini(struct good *gd);

#endif
