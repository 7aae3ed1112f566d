/* SPDX-License-Identifier: MIT */
/* netfront internals shared by its files. */
#ifndef NETFRONT_PRIV_H
#define NETFRONT_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include <uback/ring.h>
#include <xensim/guest.h>

#include "netfront.h"
#include "netfront_raw.h"

#define NF_PAGE_SIZE NETFRONT_PAGE_SIZE
/* One page per ring: 256 TX slots (12 B) and 256 RX slots (8 B). */
#define NF_RING_ENTS 256u
#define NF_NO_REF UINT32_MAX

struct nf_ring {
	xen_pfn_t gfn;
	grant_ref_t ref;
	uint8_t *page;
	struct xb_ring_hdr *hdr;
	uint32_t nr_ents;
	uint32_t slot_size;
	RING_IDX req_prod_pvt;
	RING_IDX rsp_cons;
	bool up;
};

struct nf_pool {
	xen_pfn_t gfn[NF_RING_ENTS];
	grant_ref_t ref[NF_RING_ENTS];   /* NF_NO_REF: not granted */
	uint8_t *page[NF_RING_ENTS];
	bool allocated;
};

struct nf_queue {
	struct netfront *nf;
	unsigned int idx;
	struct nf_ring tx, rx;
	evtchn_port_t tx_port, rx_port;  /* equal unless split */
	bool tx_port_up, rx_port_up;
	struct nf_pool tx_pool, rx_pool;
	/* TX ids: a free stack; inuse catches duplicate/unknown responses */
	uint16_t tx_free[NF_RING_ENTS];
	unsigned int tx_nfree;
	bool tx_inuse[NF_RING_ENTS];
	/* RX: rx.rsp_cons is the parse position; slots before it down to
	 * rx_released belong to the frame the caller holds. */
	RING_IDX rx_released;
	unsigned int rx_fill;
	struct netfront_stats st;
};

struct nf_ctrl {
	struct nf_ring ring;
	evtchn_port_t port;
	bool port_up;
	xen_pfn_t data_gfn;               /* key / mapping page */
	grant_ref_t data_ref;
	uint8_t *data;
	bool data_up;
	uint16_t next_id;
};

struct netfront {
	struct netfront_config cfg;
	struct xg_dom *dom;
	domid_t domid;
	domid_t backend_id;
	struct xs_handle *xs;
	char fe_path[128];
	char be_path[128];
	char be_state_path[160];
	int epfd;
	bool connected;
	bool broken;
	unsigned int nr_queues;
	struct nf_queue *queues;          /* nr_queues */
	struct nf_ctrl ctrl;
	bool ctrl_up;
	struct netfront_info info;
	uint64_t grant_leaks;
};

/* rsp_event of a tx_poll queue: half the index space ahead of rsp_cons,
 * which no response producer reaches before the next reap. */
#define NF_RSP_EVENT_AWAY 0x80000000u

/* xenbus.c */
int nf_timeout(const struct netfront *nf);
void nf_end_grant(struct netfront *nf, grant_ref_t *ref);

/* ring.c (shared ring plumbing for tx, rx, ctrl) */
int nf_ring_setup(struct netfront *nf, struct nf_ring *r, size_t slot_size);
void nf_ring_teardown(struct netfront *nf, struct nf_ring *r);
static inline uint8_t *nf_ring_slot(const struct nf_ring *r, RING_IDX idx)
{
	return r->page + XB_RING_HDR_SIZE +
	       (size_t)(idx & (r->nr_ents - 1)) * r->slot_size;
}
/* Publish req_prod_pvt; true if the backend asked to be notified. */
bool nf_ring_push(struct nf_ring *r);
int nf_pool_setup(struct netfront *nf, struct nf_pool *p, bool readonly);
void nf_pool_teardown(struct netfront *nf, struct nf_pool *p);

/* tx.c */
void nf_tx_init(struct nf_queue *q);

/* rx.c */
/* Post RX requests up to the fill level (not published). */
void nf_rx_refill(struct nf_queue *q);

/* ctrl.c */
int nf_ctrl_setup(struct netfront *nf);
void nf_ctrl_teardown(struct netfront *nf);

#endif /* NETFRONT_PRIV_H */
