/* SPDX-License-Identifier: MIT */
/*
 * blkfront raw API: for hostile-guest tests of a backend.
 *
 * A connected blkfront (blkfront.h) owns well-formed rings. These calls
 * let a test bypass it: write any bytes into any ring slot, publish any
 * request producer, read responses without consuming them, notify at
 * will, and encode requests of either ABI with any field values. The
 * library's own bookkeeping is not updated: after raw pushes, responses
 * with ids it does not know are counted in bad_responses by
 * blkfront_poll and skipped. Do not mix raw pushes with blkfront_submit
 * on the same queue unless the test means to.
 *
 * Nothing here validates anything. Nothing logs.
 */
#ifndef BLKFRONT_RAW_H
#define BLKFRONT_RAW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xen/xen.h>
#include <xen/grant_table.h>
#include <xen/event_channel.h>
#include <xen/io/blkif.h>

#include "blkfront.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Slot sizes: the union of request and response of each ABI. */
#define BLKFRONT_SLOT_SIZE_X86_64 112u
#define BLKFRONT_SLOT_SIZE_X86_32 108u
#define BLKFRONT_SLOT_SIZE_MAX    112u

size_t blkfront_abi_slot_size(enum blkfront_abi abi);

/*
 * One request in ABI-neutral form. Which fields are encoded depends on
 * @operation: READ/WRITE/WRITE_BARRIER/FLUSH_DISKCACHE use nr_segments
 * (truncated to 8 bits) and seg[]; DISCARD uses flag and nr_sectors;
 * INDIRECT uses indirect_op, nr_segments (16 bits) and indirect_grefs[].
 * Any other operation is encoded like READ. Values are not checked.
 */
struct blkfront_wire_req {
	uint8_t operation;
	uint8_t indirect_op;
	uint8_t flag;
	uint16_t nr_segments;
	uint16_t handle;
	uint64_t id;
	uint64_t sector_number;
	uint64_t nr_sectors;
	struct blkif_request_segment seg[BLKIF_MAX_SEGMENTS_PER_REQUEST];
	grant_ref_t indirect_grefs[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST];
};

struct blkfront_wire_rsp {
	uint64_t id;
	uint8_t operation;
	int16_t status;
};

/* Encode @req into @slot (slot size bytes, zero-filled first) for @abi
 * (UNSET means x86_64). */
void blkfront_wire_encode(enum blkfront_abi abi,
			  const struct blkfront_wire_req *req, void *slot);
void blkfront_wire_decode_rsp(enum blkfront_abi abi, const void *slot,
			      struct blkfront_wire_rsp *rsp);

/* The guest domain and the backend domain of a connected blkfront. */
struct xg_dom *blkfront_raw_dom(struct blkfront *bf);
domid_t blkfront_raw_backend_id(const struct blkfront *bf);

struct blkfront_raw_ring {
	unsigned int nr_pages;
	xen_pfn_t gfns[1u << BLKFRONT_MAX_RING_ORDER];
	grant_ref_t refs[1u << BLKFRONT_MAX_RING_ORDER];
	evtchn_port_t port;
	uint32_t nr_ents;
	uint32_t slot_size;
	enum blkfront_abi abi;
	RING_IDX req_prod_pvt;          /* the library's private producer */
	RING_IDX rsp_cons;              /* the library's response consumer */
};

/* Describe queue @q's ring. -EINVAL for a bad queue. */
int blkfront_raw_ring(struct blkfront *bf, unsigned int q,
		      struct blkfront_raw_ring *out);

/* Copy @len bytes into / out of slot @idx (taken modulo nr_ents; a slot
 * may straddle ring pages). @len at most the slot size. */
int blkfront_raw_put_slot(struct blkfront *bf, unsigned int q, RING_IDX idx,
			  const void *bytes, size_t len);
int blkfront_raw_get_slot(struct blkfront *bf, unsigned int q, RING_IDX idx,
			  void *bytes, size_t len);

/* Shared header fields: read any, write any (a write is preceded by a
 * write barrier and followed by a full one). */
RING_IDX blkfront_raw_get_req_prod(struct blkfront *bf, unsigned int q);
RING_IDX blkfront_raw_get_rsp_prod(struct blkfront *bf, unsigned int q);
RING_IDX blkfront_raw_get_req_event(struct blkfront *bf, unsigned int q);
void blkfront_raw_set_req_prod(struct blkfront *bf, unsigned int q,
			       RING_IDX v);
void blkfront_raw_set_rsp_event(struct blkfront *bf, unsigned int q,
				RING_IDX v);

/*
 * Move the library's private indices (after raw pushes, so that later
 * blkfront_submit calls go after them, or to make it skip responses).
 */
void blkfront_raw_set_private(struct blkfront *bf, unsigned int q,
			      RING_IDX req_prod_pvt, RING_IDX rsp_cons);

/* Signal queue @q's event channel. */
int blkfront_raw_notify(struct blkfront *bf, unsigned int q);

#ifdef __cplusplus
}
#endif
#endif /* BLKFRONT_RAW_H */
