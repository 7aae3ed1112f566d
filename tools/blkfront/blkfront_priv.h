/* SPDX-License-Identifier: MIT */
/* blkfront internals shared by its files (xenbus.c, io.c, raw.c). */
#ifndef BLKFRONT_PRIV_H
#define BLKFRONT_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include <uback/ring.h>
#include <xensim/guest.h>

#include "blkfront.h"
#include "blkfront_raw.h"

#define BF_PAGE_SIZE 4096u
#define BF_SECT_PER_PAGE (BF_PAGE_SIZE / 512u)
#define BF_SEGS_PER_INDIRECT_PAGE (BF_PAGE_SIZE / \
				   sizeof(struct blkif_request_segment))
#define BF_MAX_RING_PAGES (1u << BLKFRONT_MAX_RING_ORDER)
#define BF_NO_ID 0xffffu

/* One request slot: what we need to complete it, or resubmit it. */
struct bf_shadow {
	bool inflight;
	bool direct;                 /* segments are the caller's pages */
	bool granted;                /* per-request grants to end */
	uint8_t op;                  /* enum blkfront_op */
	uint16_t next_free;
	uint32_t nr_segs;
	uint32_t nr_ind_pages;
	uint32_t len;                /* data bytes */
	uint64_t tag;
	uint64_t seq;                /* submission order, for resubmission */
	uint64_t sector;
	uint64_t nr_sectors;
	bool secure;
	unsigned int iovcnt;
	struct iovec iov[BLKFRONT_MAX_IOV];
	/* max_segs entries each, into the queue's arrays */
	struct blkif_request_segment *segs;
	xen_pfn_t *bounce;           /* bounce pages (gfns) */
	xen_pfn_t *pages;            /* pages of this request's segments */
	grant_ref_t *bounce_refs;    /* persistent: their grants */
	xen_pfn_t ind_gfns[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST];
	grant_ref_t ind_refs[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST];
};

struct bf_queue {
	struct blkfront *bf;
	unsigned int idx;
	/* ring */
	unsigned int nr_pages;
	xen_pfn_t ring_gfns[BF_MAX_RING_PAGES];
	grant_ref_t ring_refs[BF_MAX_RING_PAGES];
	uint8_t *ring_ptr[BF_MAX_RING_PAGES];
	struct xb_ring_hdr *hdr;     /* in page 0 */
	bool ring_up;
	evtchn_port_t port;
	bool port_up;
	uint32_t nr_ents;
	RING_IDX req_prod_pvt;
	RING_IDX rsp_cons;
	/* requests */
	struct bf_shadow *shadow;    /* depth entries */
	uint16_t free_head;
	unsigned int inflight;
	/* storage behind the shadows */
	struct blkif_request_segment *seg_store;
	xen_pfn_t *bounce_store;
	xen_pfn_t *page_store;
	grant_ref_t *bounce_ref_store;
};

struct blkfront {
	struct blkfront_config cfg;
	struct xg_dom *dom;
	domid_t domid;
	domid_t backend_id;
	struct xs_handle *xs;
	char fe_path[128];
	char be_path[128];
	char be_state_path[160];
	int epfd;
	bool watch_armed;            /* initial watch event swallowed */
	bool connected;
	bool broken;                 /* recovery failed */
	bool pool_granted;           /* bounce pages persistently granted */
	enum blkfront_abi abi;
	size_t slot_size;
	unsigned int depth;          /* per queue */
	unsigned int max_segs;       /* pool geometry per slot */
	unsigned int pool_segs;      /* max_segs the pool was built for */
	unsigned int nr_queues;      /* negotiated */
	unsigned int pool_queues;    /* queues with pools allocated */
	uint64_t seq;
	struct blkfront_completion *deferred;  /* made by a recovery */
	unsigned int nr_deferred;
	unsigned int deferred_cap;
	struct bf_queue queues[BLKFRONT_MAX_QUEUES];
	struct blkfront_info info;
};

static inline unsigned int bf_ind_pages_for(unsigned int segs)
{
	if (segs <= BLKIF_MAX_SEGMENTS_PER_REQUEST)
		return 0;
	return (segs + BF_SEGS_PER_INDIRECT_PAGE - 1) /
	       BF_SEGS_PER_INDIRECT_PAGE;
}

/* pool.c */
int bf_queue_pool_alloc(struct blkfront *bf, struct bf_queue *q);
void bf_queue_pool_free(struct blkfront *bf, struct bf_queue *q);
int bf_pool_grant(struct blkfront *bf);
/* End a grant; one the backend still holds is leaked and counted. */
void bf_end_grant(struct blkfront *bf, grant_ref_t ref);
int bf_gfn_of(struct xg_dom *dom, const void *p, xen_pfn_t *gfn);

/* io.c */
void bf_ring_write(struct bf_queue *q, size_t off, const void *src,
		   size_t len);
void bf_ring_read(const struct bf_queue *q, size_t off, void *dst,
		  size_t len);
size_t bf_slot_off(const struct bf_queue *q, RING_IDX idx);
int bf_queue_encode(struct blkfront *bf, struct bf_queue *q, uint16_t id);
void bf_complete_shadow(struct blkfront *bf, struct bf_queue *q, uint16_t id,
			int status, struct blkfront_completion *c);
unsigned int bf_harvest(struct blkfront *bf, struct bf_queue *q,
			struct blkfront_completion *comps, unsigned int max);

/* xenbus.c */
int bf_timeout(const struct blkfront *bf);
/* Drop queued watch events; true if one was for the backend state. */
bool bf_drain_watch(struct blkfront *bf);
/* Wait until the backend state is in @mask (bit per state): 0, or
 * -ECONNREFUSED if it entered @fail first, -ETIMEDOUT. */
int bf_wait_be(struct blkfront *bf, uint32_t mask, uint32_t fail,
	       int timeout_ms, enum xenbus_state *seen);
void bf_ring_teardown(struct blkfront *bf, struct bf_queue *q);
/* Backend at InitWait: rings, keys, Initialised, wait Connected, read
 * properties, Connected. @first also builds the pools. */
int bf_handshake(struct blkfront *bf, bool first);

/* recover.c */
int bf_handle_watch(struct blkfront *bf);
int bf_do_recover(struct blkfront *bf);

#endif /* BLKFRONT_PRIV_H */
