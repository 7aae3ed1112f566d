/* SPDX-License-Identifier: MIT */
/* netfront raw API (netfront_raw.h): unchecked ring access for tests. */
#include <errno.h>
#include <string.h>

#include "netfront_priv.h"

struct xg_dom *netfront_raw_dom(struct netfront *nf)
{
	return nf->dom;
}

domid_t netfront_raw_backend_id(const struct netfront *nf)
{
	return nf->backend_id;
}

static struct nf_queue *rq(struct netfront *nf, unsigned int q)
{
	return q < nf->nr_queues ? &nf->queues[q] : NULL;
}

static struct nf_ring *rring(struct netfront *nf, unsigned int q,
			     enum netfront_raw_ring_kind k)
{
	struct nf_queue *r = rq(nf, q);

	if (!r)
		return NULL;
	if (k == NETFRONT_RAW_TX)
		return r->tx.up ? &r->tx : NULL;
	if (k == NETFRONT_RAW_RX)
		return r->rx.up ? &r->rx : NULL;
	return NULL;
}

int netfront_raw_ring(struct netfront *nf, unsigned int q,
		      enum netfront_raw_ring_kind k,
		      struct netfront_raw_ring *out)
{
	struct nf_ring *r = rring(nf, q, k);

	if (!r)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	out->ring_ref = r->ref;
	out->port = k == NETFRONT_RAW_TX ? nf->queues[q].tx_port
					 : nf->queues[q].rx_port;
	out->nr_ents = r->nr_ents;
	out->slot_size = r->slot_size;
	out->req_prod_pvt = r->req_prod_pvt;
	out->rsp_cons = r->rsp_cons;
	return 0;
}

int netfront_raw_put_slot(struct netfront *nf, unsigned int q,
			  enum netfront_raw_ring_kind k, RING_IDX idx,
			  const void *bytes, size_t len)
{
	struct nf_ring *r = rring(nf, q, k);

	if (!r || len > r->slot_size)
		return -EINVAL;
	memcpy(nf_ring_slot(r, idx), bytes, len);
	return 0;
}

int netfront_raw_get_slot(struct netfront *nf, unsigned int q,
			  enum netfront_raw_ring_kind k, RING_IDX idx,
			  void *bytes, size_t len)
{
	struct nf_ring *r = rring(nf, q, k);

	if (!r || len > r->slot_size)
		return -EINVAL;
	memcpy(bytes, nf_ring_slot(r, idx), len);
	return 0;
}

void netfront_raw_set_req_prod(struct netfront *nf, unsigned int q,
			       enum netfront_raw_ring_kind k, RING_IDX v)
{
	struct nf_ring *r = rring(nf, q, k);

	if (!r)
		return;
	xb_wmb();
	__atomic_store_n(&r->hdr->req_prod, v, __ATOMIC_RELAXED);
	xb_mb();
}

RING_IDX netfront_raw_get_rsp_prod(struct netfront *nf, unsigned int q,
				   enum netfront_raw_ring_kind k)
{
	struct nf_ring *r = rring(nf, q, k);

	return r ? __atomic_load_n(&r->hdr->rsp_prod, __ATOMIC_ACQUIRE) : 0;
}

void netfront_raw_set_private(struct netfront *nf, unsigned int q,
			      enum netfront_raw_ring_kind k,
			      RING_IDX req_prod_pvt, RING_IDX rsp_cons)
{
	struct nf_ring *r = rring(nf, q, k);

	if (!r)
		return;
	r->req_prod_pvt = req_prod_pvt;
	r->rsp_cons = rsp_cons;
	if (k == NETFRONT_RAW_RX)
		nf->queues[q].rx_released = rsp_cons;
}

static struct nf_pool *rpool(struct netfront *nf, unsigned int q,
			     enum netfront_raw_ring_kind k, unsigned int idx)
{
	struct nf_queue *r = rq(nf, q);

	if (!r || idx >= NF_RING_ENTS)
		return NULL;
	return k == NETFRONT_RAW_TX ? &r->tx_pool : &r->rx_pool;
}

int netfront_raw_pool_ref(struct netfront *nf, unsigned int q,
			  enum netfront_raw_ring_kind k, unsigned int idx,
			  grant_ref_t *ref, void **page)
{
	struct nf_pool *p = rpool(nf, q, k, idx);

	if (!p || !p->allocated)
		return -EINVAL;
	if (ref)
		*ref = p->ref[idx];
	if (page)
		*page = p->page[idx];
	return 0;
}

int netfront_raw_revoke(struct netfront *nf, unsigned int q,
			enum netfront_raw_ring_kind k, unsigned int idx)
{
	struct nf_pool *p = rpool(nf, q, k, idx);
	int ret;

	if (!p || !p->allocated || p->ref[idx] == NF_NO_REF)
		return -EINVAL;
	ret = xg_grant_end(nf->dom, p->ref[idx]);
	if (ret)
		return ret;
	p->ref[idx] = NF_NO_REF;
	return 0;
}

int netfront_raw_notify(struct netfront *nf, unsigned int q,
			enum netfront_raw_ring_kind k)
{
	struct nf_queue *r = rq(nf, q);

	if (!r)
		return -EINVAL;
	return xg_evtchn_notify(nf->dom, k == NETFRONT_RAW_TX ? r->tx_port
							       : r->rx_port);
}

int netfront_raw_ctrl_producer(struct netfront *nf, RING_IDX ahead)
{
	struct nf_ctrl *c = &nf->ctrl;

	if (!nf->ctrl_up || !c->port_up)
		return -EOPNOTSUPP;
	xb_wmb();
	__atomic_store_n(&c->ring.hdr->req_prod, c->ring.req_prod_pvt + ahead,
			 __ATOMIC_RELAXED);
	xb_mb();
	return xg_evtchn_notify(nf->dom, c->port);
}
