/* SPDX-License-Identifier: MIT */
/*
 * netfront raw API: wire helpers and unchecked ring access, for unit tests
 * of the encoding and for hostile-guest tests of a backend.
 *
 * The wire helpers are pure functions over ring slot bytes (no netfront,
 * no simulator). The ring calls bypass a connected netfront's bookkeeping:
 * write any bytes into any TX/RX slot, publish any producer, revoke the
 * pool grants, notify at will. After raw pushes the library may see
 * responses it did not expect: it counts them (bad_tx_responses,
 * rx_errors) and skips them. Nothing here validates anything or logs.
 */
#ifndef NETFRONT_RAW_H
#define NETFRONT_RAW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xen/xen.h>
#include <xen/grant_table.h>
#include <xen/event_channel.h>
#include <xen/io/netif.h>

#include "netfront.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NETFRONT_TX_SLOT_SIZE 12u   /* sizeof(union netif_tx_sring_entry) */
#define NETFRONT_RX_SLOT_SIZE 8u    /* sizeof(union netif_rx_sring_entry) */
#define NETFRONT_PAGE_SIZE    4096u
/* Extras that may follow one packet's first slot (GSO, hash, mcast ...). */
#define NETFRONT_MAX_EXTRAS   (XEN_NETIF_EXTRA_TYPE_MAX - 1)

/* ---- wire helpers ---- */

/* Slot images (little-endian as on x86; the structs are the header's). */
void netfront_wire_put_tx(void *slot, const struct netif_tx_request *r);
void netfront_wire_put_tx_extra(void *slot, const struct netif_extra_info *e);
void netfront_wire_get_tx_rsp(const void *slot, struct netif_tx_response *r);
void netfront_wire_put_rx(void *slot, const struct netif_rx_request *r);
void netfront_wire_get_rx_rsp(const void *slot, struct netif_rx_response *r);
void netfront_wire_get_extra(const void *slot, struct netif_extra_info *e);

/* NETTXF_* flags of a packet's first slot for @meta (csum and extra_info;
 * more_data is the caller's). */
uint16_t netfront_wire_tx_flags(const struct netfront_meta *meta);
/* The GSO extra for @meta; false when @meta has no GSO. */
bool netfront_wire_gso_extra(const struct netfront_meta *meta,
			     struct netif_extra_info *e);
/* Data slots for a frame of @len bytes starting at @offset in its first
 * page (pages of NETFRONT_PAGE_SIZE). */
unsigned int netfront_wire_tx_slots(uint32_t len, uint32_t offset);

/* One received packet as delimited by netfront_wire_rx_parse. */
struct netfront_rx_pkt {
	unsigned int nr_slots;        /* ring slots it used (data + extras) */
	unsigned int nr_frags;
	struct {
		unsigned int slot;    /* index from the first slot (0-based) */
		uint16_t offset;
		uint16_t size;
	} frag[NETFRONT_MAX_SLOTS];
	uint32_t len;
	struct netfront_meta meta;
};

/*
 * Delimit and decode the packet starting at @slots[0] (RX response slot
 * images, NETFRONT_RX_SLOT_SIZE bytes each, @avail of them available).
 * Returns 1 with @pkt filled for a well-formed packet; 0 if the packet
 * continues beyond @avail (wait for more, unless @avail is already the
 * most a packet may take); -EPROTO for a malformed packet (negative
 * status, offset + size beyond the page, empty frame, unknown or
 * duplicate extra, bad GSO), -E2BIG for too many slots or over 0xFFFF
 * bytes, -EIO for a negative (backend error) status: pkt->nr_slots then
 * says how many slots to skip (at least 1). Reads only @slots[0..avail).
 */
int netfront_wire_rx_parse(const uint8_t *slots, unsigned int avail,
			   struct netfront_rx_pkt *pkt);
/* Most ring slots a packet may take before it is malformed. */
#define NETFRONT_RX_MAX_PKT_SLOTS (NETFRONT_MAX_SLOTS + NETFRONT_MAX_EXTRAS)

/* virtio_net_hdr for received metadata @meta of @frame (csum_start/offset
 * by parsing). 0, or -EPROTO when a blank checksum cannot be located. */
int netfront_meta_to_vnet(const struct netfront_meta *meta,
			  const uint8_t *frame, size_t len,
			  struct virtio_net_hdr *vnet);

/* ---- raw ring access on a connected netfront ---- */

struct xg_dom *netfront_raw_dom(struct netfront *nf);
domid_t netfront_raw_backend_id(const struct netfront *nf);

enum netfront_raw_ring_kind { NETFRONT_RAW_TX = 0, NETFRONT_RAW_RX = 1 };

struct netfront_raw_ring {
	grant_ref_t ring_ref;
	evtchn_port_t port;           /* tx port, or rx port when split */
	uint32_t nr_ents;
	uint32_t slot_size;
	RING_IDX req_prod_pvt;        /* the library's private producer */
	RING_IDX rsp_cons;            /* the library's response consumer */
};

int netfront_raw_ring(struct netfront *nf, unsigned int q,
		      enum netfront_raw_ring_kind k,
		      struct netfront_raw_ring *out);
/* Copy bytes into / out of slot @idx (modulo nr_ents), at most the slot
 * size. -EINVAL for a bad queue/kind/length. */
int netfront_raw_put_slot(struct netfront *nf, unsigned int q,
			  enum netfront_raw_ring_kind k, RING_IDX idx,
			  const void *bytes, size_t len);
int netfront_raw_get_slot(struct netfront *nf, unsigned int q,
			  enum netfront_raw_ring_kind k, RING_IDX idx,
			  void *bytes, size_t len);
/* Shared header: set req_prod to anything (barriers around), read
 * rsp_prod. */
void netfront_raw_set_req_prod(struct netfront *nf, unsigned int q,
			       enum netfront_raw_ring_kind k, RING_IDX v);
RING_IDX netfront_raw_get_rsp_prod(struct netfront *nf, unsigned int q,
				   enum netfront_raw_ring_kind k);
/* Move the library's private indices. */
void netfront_raw_set_private(struct netfront *nf, unsigned int q,
			      enum netfront_raw_ring_kind k,
			      RING_IDX req_prod_pvt, RING_IDX rsp_cons);
/* The pool grant of TX request id @id / RX slot @idx, and its page. */
int netfront_raw_pool_ref(struct netfront *nf, unsigned int q,
			  enum netfront_raw_ring_kind k, unsigned int idx,
			  grant_ref_t *ref, void **page);
/* End (revoke) that grant now: the backend's next map/copy of it fails.
 * The library then never ends it again. -EBUSY while the backend has it
 * mapped. */
int netfront_raw_revoke(struct netfront *nf, unsigned int q,
			enum netfront_raw_ring_kind k, unsigned int idx);
/* Notify the queue's TX (or RX, when split) event channel. */
int netfront_raw_notify(struct netfront *nf, unsigned int q,
			enum netfront_raw_ring_kind k);

/* Control ring (ctrl_ring negotiated): publish req_prod = the library's
 * private producer + @ahead (an impossible producer when @ahead exceeds
 * the ring) without writing any slot, and notify the control event
 * channel. The library's private producer is left alone. -EOPNOTSUPP
 * without a control ring. */
int netfront_raw_ctrl_producer(struct netfront *nf, RING_IDX ahead);

/* netfront_close(), returning the grants that could not be ended
 * because the backend still held them (a grant leak: the pages are then
 * leaked, not freed under the backend). NULL ok (0). */
uint64_t netfront_raw_close(struct netfront *nf);

#ifdef __cplusplus
}
#endif
#endif /* NETFRONT_RAW_H */
