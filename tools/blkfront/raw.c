/* SPDX-License-Identifier: MIT */
/* blkfront raw API (blkfront_raw.h): unchecked ring access for tests. */
#include <errno.h>
#include <string.h>

#include "blkfront_priv.h"

struct xg_dom *blkfront_raw_dom(struct blkfront *bf)
{
	return bf->dom;
}

domid_t blkfront_raw_backend_id(const struct blkfront *bf)
{
	return bf->backend_id;
}

static struct bf_queue *rq(struct blkfront *bf, unsigned int q)
{
	if (q >= bf->nr_queues || !bf->queues[q].ring_up)
		return NULL;
	return &bf->queues[q];
}

int blkfront_raw_ring(struct blkfront *bf, unsigned int q,
		      struct blkfront_raw_ring *out)
{
	struct bf_queue *r = rq(bf, q);
	unsigned int i;

	if (!r)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	out->nr_pages = r->nr_pages;
	for (i = 0; i < r->nr_pages; i++) {
		out->gfns[i] = r->ring_gfns[i];
		out->refs[i] = r->ring_refs[i];
	}
	out->port = r->port;
	out->nr_ents = r->nr_ents;
	out->slot_size = (uint32_t)bf->slot_size;
	out->abi = bf->abi;
	out->req_prod_pvt = r->req_prod_pvt;
	out->rsp_cons = r->rsp_cons;
	return 0;
}

int blkfront_raw_put_slot(struct blkfront *bf, unsigned int q, RING_IDX idx,
			  const void *bytes, size_t len)
{
	struct bf_queue *r = rq(bf, q);

	if (!r || len > bf->slot_size)
		return -EINVAL;
	bf_ring_write(r, bf_slot_off(r, idx), bytes, len);
	return 0;
}

int blkfront_raw_get_slot(struct blkfront *bf, unsigned int q, RING_IDX idx,
			  void *bytes, size_t len)
{
	struct bf_queue *r = rq(bf, q);

	if (!r || len > bf->slot_size)
		return -EINVAL;
	bf_ring_read(r, bf_slot_off(r, idx), bytes, len);
	return 0;
}

RING_IDX blkfront_raw_get_req_prod(struct blkfront *bf, unsigned int q)
{
	struct bf_queue *r = rq(bf, q);

	return r ? __atomic_load_n(&r->hdr->req_prod, __ATOMIC_ACQUIRE) : 0;
}

RING_IDX blkfront_raw_get_rsp_prod(struct blkfront *bf, unsigned int q)
{
	struct bf_queue *r = rq(bf, q);

	return r ? __atomic_load_n(&r->hdr->rsp_prod, __ATOMIC_ACQUIRE) : 0;
}

RING_IDX blkfront_raw_get_req_event(struct blkfront *bf, unsigned int q)
{
	struct bf_queue *r = rq(bf, q);

	return r ? __atomic_load_n(&r->hdr->req_event, __ATOMIC_ACQUIRE) : 0;
}

void blkfront_raw_set_req_prod(struct blkfront *bf, unsigned int q,
			       RING_IDX v)
{
	struct bf_queue *r = rq(bf, q);

	if (!r)
		return;
	xen_wmb();
	__atomic_store_n(&r->hdr->req_prod, v, __ATOMIC_RELAXED);
	xen_mb();
}

void blkfront_raw_set_rsp_event(struct blkfront *bf, unsigned int q,
				RING_IDX v)
{
	struct bf_queue *r = rq(bf, q);

	if (!r)
		return;
	xen_wmb();
	__atomic_store_n(&r->hdr->rsp_event, v, __ATOMIC_RELAXED);
	xen_mb();
}

void blkfront_raw_set_private(struct blkfront *bf, unsigned int q,
			      RING_IDX req_prod_pvt, RING_IDX rsp_cons)
{
	struct bf_queue *r = rq(bf, q);

	if (!r)
		return;
	r->req_prod_pvt = req_prod_pvt;
	r->rsp_cons = rsp_cons;
}

int blkfront_raw_notify(struct blkfront *bf, unsigned int q)
{
	struct bf_queue *r = rq(bf, q);

	if (!r)
		return -EINVAL;
	return xg_evtchn_notify(bf->dom, r->port);
}
