/* SPDX-License-Identifier: MIT */
/*
 * netfront memory: one-page shared rings (TX, RX, ctrl) and the per-queue
 * page pools, each granted once. Control plane only: it may allocate.
 */
#include <errno.h>
#include <string.h>

#include "netfront_priv.h"

int nf_ring_setup(struct netfront *nf, struct nf_ring *r, size_t slot_size)
{
	int ret;

	memset(r, 0, sizeof(*r));
	ret = xg_pages_alloc(nf->dom, 1, &r->gfn);
	if (ret)
		return ret;
	r->page = xg_page_ptr(nf->dom, r->gfn);
	if (!r->page) {
		ret = -EFAULT;
		goto err_page;
	}
	memset(r->page, 0, NF_PAGE_SIZE);
	r->hdr = (struct xb_ring_hdr *)r->page;
	/* SHARED_RING_INIT + FRONT_RING_INIT */
	r->hdr->req_event = 1;
	r->hdr->rsp_event = 1;
	r->slot_size = (uint32_t)slot_size;
	r->nr_ents = xb_ring_nr_ents(NF_PAGE_SIZE, slot_size);
	if (r->nr_ents > NF_RING_ENTS)
		r->nr_ents = NF_RING_ENTS;
	ret = xg_grant_access(nf->dom, nf->backend_id, r->gfn, false, &r->ref);
	if (ret)
		goto err_page;
	r->up = true;
	return 0;

err_page:
	xg_pages_free(nf->dom, 1, &r->gfn);
	r->page = NULL;
	r->hdr = NULL;
	return ret;
}

void nf_ring_teardown(struct netfront *nf, struct nf_ring *r)
{
	if (!r->up)
		return;
	if (xg_grant_end(nf->dom, r->ref)) {
		/* still mapped by the backend: never reuse the page */
		nf->grant_leaks++;
	} else {
		xg_pages_free(nf->dom, 1, &r->gfn);
	}
	r->up = false;
	r->page = NULL;
	r->hdr = NULL;
}

bool nf_ring_push(struct nf_ring *r)
{
	RING_IDX old = __atomic_load_n(&r->hdr->req_prod, __ATOMIC_RELAXED);
	RING_IDX new_prod = r->req_prod_pvt;

	if (old == new_prod)
		return false;
	xb_wmb();
	__atomic_store_n(&r->hdr->req_prod, new_prod, __ATOMIC_RELAXED);
	xb_mb();
	return (RING_IDX)(new_prod - __atomic_load_n(&r->hdr->req_event,
						     __ATOMIC_RELAXED)) <
	       (RING_IDX)(new_prod - old);
}

int nf_pool_setup(struct netfront *nf, struct nf_pool *p, bool readonly)
{
	unsigned int i;
	int ret;

	for (i = 0; i < NF_RING_ENTS; i++)
		p->ref[i] = NF_NO_REF;
	ret = xg_pages_alloc(nf->dom, NF_RING_ENTS, p->gfn);
	if (ret)
		return ret;
	p->allocated = true;
	for (i = 0; i < NF_RING_ENTS; i++) {
		p->page[i] = xg_page_ptr(nf->dom, p->gfn[i]);
		if (!p->page[i]) {
			ret = -EFAULT;
			goto err;
		}
		ret = xg_grant_access(nf->dom, nf->backend_id, p->gfn[i],
				      readonly, &p->ref[i]);
		if (ret)
			goto err;
	}
	return 0;

err:
	nf_pool_teardown(nf, p);
	return ret;
}

void nf_pool_teardown(struct netfront *nf, struct nf_pool *p)
{
	unsigned int i;

	if (!p->allocated)
		return;
	for (i = 0; i < NF_RING_ENTS; i++)
		nf_end_grant(nf, &p->ref[i]);
	/* Pages whose grant leaked go back anyway: the simulator keeps a
	 * mapped page valid until unmapped, as Xen does. */
	xg_pages_free(nf->dom, NF_RING_ENTS, p->gfn);
	p->allocated = false;
}
