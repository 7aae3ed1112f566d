/* SPDX-License-Identifier: MIT */
/*
 * A minimal raw netif frontend on the simulator guest library
 * (xensim/guest.h), for tests of uback-net: it connects the XenBus way
 * (rings, event channels, feature keys, any extra or malformed key the
 * test asks for), then lets the test write any TX slot and RX request,
 * publish any producer, and read responses. It validates nothing.
 *
 * Pages: per queue NFE_TX_PAGES pages the guest transmits from and
 * NFE_RX_PAGES pages it receives into, granted to the backend (writable)
 * at connect; their refs are in the queue struct.
 *
 * Conventions: 0 or -errno; nothing logs. One thread.
 */
#ifndef TESTS_NET_TESTFE_H
#define TESTS_NET_TESTFE_H

#include <stdbool.h>
#include <stdint.h>

#include "uback/ring.h"
#include <xen/io/netif.h>
#include <xensim/guest.h>

#define NFE_MAX_QUEUES 4u
#define NFE_TX_PAGES 40u
#define NFE_RX_PAGES 80u

struct nfe_config {
	unsigned int nr_queues;        /* 0/1: top-level keys */
	bool split;                    /* event-channel-tx / -rx */
	bool sg, gso4, gso6, no_csum, csum6, rx_notify;
	bool no_rx_copy;               /* omit request-rx-copy */
	bool ctrl;                     /* ctrl-ring-ref, event-channel-ctrl */
	bool mcast_ctrl;               /* request-multicast-control */
	/* More frontend keys: key, value, ..., NULL (relative to the
	 * frontend dir; written last, so they may override ours). */
	const char *const *extra_kv;
};

struct nfe_queue {
	xen_pfn_t tx_ring_gfn, rx_ring_gfn;
	grant_ref_t tx_ring_ref, rx_ring_ref;
	netif_tx_front_ring_t tx;
	netif_rx_front_ring_t rx;
	evtchn_port_t tx_port, rx_port;   /* equal unless split */
	xen_pfn_t tx_gfn[NFE_TX_PAGES], rx_gfn[NFE_RX_PAGES];
	grant_ref_t tx_ref[NFE_TX_PAGES], rx_ref[NFE_RX_PAGES];
	uint16_t rx_slot_id[256];          /* id posted in each RX slot */
};

struct nfe {
	struct xg_dom *dom;
	domid_t backend_id;
	struct xs_handle *xs;
	char fe_path[128];
	char be_path[128];
	unsigned int nr_queues;
	bool split;
	struct nfe_queue q[NFE_MAX_QUEUES];
	bool has_ctrl;
	xen_pfn_t ctrl_gfn;
	grant_ref_t ctrl_ref;
	xen_netif_ctrl_front_ring_t ctrl;
	evtchn_port_t ctrl_port;
};

/* Set up for device @devid of @dom (its xenstore handle, the paths). */
int nfe_init(struct nfe *fe, struct xg_dom *dom, unsigned int devid);
/*
 * Allocate and grant rings and pages, allocate event channels, write the
 * keys, go Initialised and wait (bounded) for the backend: 0 once it is
 * Connected (then we go Connected), -ECONNREFUSED if it went Closing or
 * Closed instead, -ETIMEDOUT.
 */
int nfe_connect(struct nfe *fe, const struct nfe_config *cfg,
		int timeout_ms);
/* Closing, Closed (waiting for the backend, bounded), then end grants
 * and close event channels. */
void nfe_disconnect(struct nfe *fe, int timeout_ms);
void nfe_fini(struct nfe *fe);

/* Guest view of a queue's TX page @i / RX page @i. */
uint8_t *nfe_tx_page(struct nfe *fe, unsigned int q, unsigned int i);
uint8_t *nfe_rx_page(struct nfe *fe, unsigned int q, unsigned int i);

/* Write @n raw TX slots at req_prod_pvt (not yet published). */
void nfe_tx_put(struct nfe *fe, unsigned int q, const void *slots,
		unsigned int n);
/* Publish TX requests and notify (when asked, or always with @force). */
void nfe_tx_push(struct nfe *fe, unsigned int q, bool force);
/* Set the shared TX req_prod to anything (hostile). */
void nfe_tx_set_prod(struct nfe *fe, unsigned int q, RING_IDX prod);
/* Wait for and consume @n TX responses. -ETIMEDOUT. */
int nfe_tx_wait(struct nfe *fe, unsigned int q, unsigned int n,
		struct netif_tx_response *out, int timeout_ms);

/* Post @n RX requests (id, gref) and publish them, notifying if asked. */
void nfe_rx_post(struct nfe *fe, unsigned int q, unsigned int n,
		 const uint16_t *ids, const grant_ref_t *refs);
/* Wait for and consume @n RX response slots (raw: responses or extras).
 * -ETIMEDOUT. */
int nfe_rx_wait(struct nfe *fe, unsigned int q, unsigned int n,
		union netif_rx_sring_entry *out, int timeout_ms);
/* RX response slots published and not consumed. */
unsigned int nfe_rx_ready(struct nfe *fe, unsigned int q);

/*
 * Queue one frame (not pushed): 4 KiB per slot from TX pages id0, id0+1,
 * ... (modulo NFE_TX_PAGES), ids id0 + k, @flags (NETTXF_csum_blank /
 * data_validated) on the first slot and a GSO extra if @gso_type.
 * Returns the slots used (responses to expect).
 */
unsigned int nfe_send(struct nfe *fe, unsigned int q, const uint8_t *frame,
		      uint32_t len, uint16_t flags, uint8_t gso_type,
		      uint16_t gso_size, uint16_t id0);

/* One control request (type, data[3]) and its response, waited for
 * (bounded). -ETIMEDOUT. */
int nfe_ctrl(struct nfe *fe, uint16_t type, uint32_t d0, uint32_t d1,
	     uint32_t d2, struct xen_netif_ctrl_response *rsp,
	     int timeout_ms);

/* One received frame, reassembled from its response slots. */
struct nfe_rx_frame {
	uint32_t len;
	uint16_t flags;            /* first response's */
	int16_t status;            /* first negative status, or 0 */
	bool gso;
	uint8_t gso_type;
	uint16_t gso_size;
	bool hash;
	uint8_t hash_type;         /* _XEN_NETIF_CTRL_HASH_TYPE_* */
	uint32_t hash_value;
	unsigned int slots;        /* ring slots it used */
	unsigned int nids;         /* request ids it used (data and extra) */
	uint16_t ids[24];
};
/*
 * Take one frame's responses off the RX ring (waiting, bounded) and copy
 * its bytes to @buf (65535 bytes). Requests must have been posted with
 * id = RX page index (nfe_rx_post_pages). -ETIMEDOUT, -EPROTO if the
 * responses are malformed (unknown id, offset + size past the page,
 * chain longer than 24 slots).
 */
int nfe_recv(struct nfe *fe, unsigned int q, uint8_t *buf,
	     struct nfe_rx_frame *out, int timeout_ms);
/* Post RX pages by index (request id = index). */
void nfe_rx_post_pages(struct nfe *fe, unsigned int q, unsigned int n,
		       const uint16_t *idx);

#endif /* TESTS_NET_TESTFE_H */
