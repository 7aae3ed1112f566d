/* SPDX-License-Identifier: MIT */
/*
 * blkfront memory: the per-queue request slots and their bounce pools in
 * guest memory, persistent pool grants, and guest-memory buffers for
 * callers. Control plane only (connect, recovery, close): it may allocate.
 */
#include <errno.h>
#include <stdlib.h>

#include "blkfront_priv.h"

int bf_gfn_of(struct xg_dom *dom, const void *p, xen_pfn_t *gfn)
{
	uintptr_t base = (uintptr_t)xg_page_ptr(dom, 0);
	uintptr_t page = (uintptr_t)p & ~(uintptr_t)(BF_PAGE_SIZE - 1);
	xen_pfn_t g;

	if (!base || page < base)
		return -EINVAL;
	g = (xen_pfn_t)((page - base) / BF_PAGE_SIZE);
	if ((uintptr_t)xg_page_ptr(dom, g) != page)
		return -EINVAL;
	*gfn = g;
	return 0;
}

int bf_queue_pool_alloc(struct blkfront *bf, struct bf_queue *q)
{
	unsigned int depth = bf->depth, segs = bf->pool_segs;
	unsigned int nind = bf_ind_pages_for(segs);
	size_t nb = (size_t)depth * segs;
	xen_pfn_t *ind = NULL;
	int ret = -ENOMEM;
	unsigned int i, j;

	q->shadow = calloc(depth, sizeof(*q->shadow));
	q->seg_store = calloc(nb, sizeof(*q->seg_store));
	q->bounce_store = calloc(nb, sizeof(*q->bounce_store));
	q->bounce_ref_store = calloc(nb, sizeof(*q->bounce_ref_store));
	q->page_store = calloc(nb, sizeof(*q->page_store));
	if (!q->shadow || !q->seg_store || !q->bounce_store ||
	    !q->bounce_ref_store || !q->page_store)
		goto err_free;
	ret = xg_pages_alloc(bf->dom, (uint32_t)nb, q->bounce_store);
	if (ret)
		goto err_free;
	if (nind) {
		ind = calloc((size_t)depth * nind, sizeof(*ind));
		if (!ind) {
			ret = -ENOMEM;
			goto err_bounce;
		}
		ret = xg_pages_alloc(bf->dom, depth * nind, ind);
		if (ret)
			goto err_ind;
	}
	for (i = 0; i < depth; i++) {
		struct bf_shadow *sh = &q->shadow[i];

		sh->segs = q->seg_store + (size_t)i * segs;
		sh->bounce = q->bounce_store + (size_t)i * segs;
		sh->bounce_refs = q->bounce_ref_store + (size_t)i * segs;
		sh->pages = q->page_store + (size_t)i * segs;
		sh->nr_ind_pages = nind;
		for (j = 0; j < nind; j++)
			sh->ind_gfns[j] = ind[(size_t)i * nind + j];
		sh->next_free = (uint16_t)(i + 1 < depth ? i + 1 : BF_NO_ID);
	}
	q->free_head = 0;
	q->inflight = 0;
	free(ind);
	return 0;

err_ind:
	free(ind);
err_bounce:
	xg_pages_free(bf->dom, (uint32_t)nb, q->bounce_store);
err_free:
	free(q->shadow);
	free(q->seg_store);
	free(q->bounce_store);
	free(q->bounce_ref_store);
	free(q->page_store);
	q->page_store = NULL;
	q->shadow = NULL;
	q->seg_store = NULL;
	q->bounce_store = NULL;
	q->bounce_ref_store = NULL;
	return ret;
}

void bf_end_grant(struct blkfront *bf, grant_ref_t ref)
{
	if (xg_grant_end(bf->dom, ref))
		bf->info.grant_leaks++;
}

void bf_queue_pool_free(struct blkfront *bf, struct bf_queue *q)
{
	size_t nb = (size_t)bf->depth * bf->pool_segs;
	unsigned int i, j;

	if (!q->shadow)
		return;
	for (i = 0; i < bf->depth; i++) {
		struct bf_shadow *sh = &q->shadow[i];

		if (bf->pool_granted) {
			for (j = 0; j < bf->pool_segs; j++)
				bf_end_grant(bf, sh->bounce_refs[j]);
			for (j = 0; j < sh->nr_ind_pages; j++)
				bf_end_grant(bf, sh->ind_refs[j]);
		}
		if (sh->nr_ind_pages)
			xg_pages_free(bf->dom, sh->nr_ind_pages, sh->ind_gfns);
	}
	/* Pages whose grants leaked may still be mapped by a backend: they
	 * go back to the guest anyway; the simulator keeps them valid. */
	xg_pages_free(bf->dom, (uint32_t)nb, q->bounce_store);
	free(q->shadow);
	free(q->seg_store);
	free(q->bounce_store);
	free(q->bounce_ref_store);
	free(q->page_store);
	q->page_store = NULL;
	q->shadow = NULL;
	q->seg_store = NULL;
	q->bounce_store = NULL;
	q->bounce_ref_store = NULL;
}

#define BF_NO_REF UINT32_MAX

static void pool_end_all(struct blkfront *bf)
{
	unsigned int qi, i, j;

	for (qi = 0; qi < bf->pool_queues; qi++) {
		struct bf_queue *q = &bf->queues[qi];

		for (i = 0; i < bf->depth; i++) {
			struct bf_shadow *sh = &q->shadow[i];

			for (j = 0; j < bf->pool_segs; j++) {
				if (sh->bounce_refs[j] != BF_NO_REF)
					bf_end_grant(bf, sh->bounce_refs[j]);
				sh->bounce_refs[j] = BF_NO_REF;
			}
			for (j = 0; j < sh->nr_ind_pages; j++) {
				if (sh->ind_refs[j] != BF_NO_REF)
					bf_end_grant(bf, sh->ind_refs[j]);
				sh->ind_refs[j] = BF_NO_REF;
			}
		}
	}
}

/* feature-persistent negotiated: grant every bounce and indirect page once
 * (writable: reads land in them) and keep the grants until close. On
 * failure no pool grant is left. */
int bf_pool_grant(struct blkfront *bf)
{
	unsigned int qi, i, j;
	int ret;

	for (qi = 0; qi < bf->pool_queues; qi++)
		for (i = 0; i < bf->depth; i++) {
			struct bf_shadow *sh = &bf->queues[qi].shadow[i];

			for (j = 0; j < bf->pool_segs; j++)
				sh->bounce_refs[j] = BF_NO_REF;
			for (j = 0; j < sh->nr_ind_pages; j++)
				sh->ind_refs[j] = BF_NO_REF;
		}
	for (qi = 0; qi < bf->pool_queues; qi++) {
		for (i = 0; i < bf->depth; i++) {
			struct bf_shadow *sh = &bf->queues[qi].shadow[i];

			for (j = 0; j < bf->pool_segs; j++) {
				ret = xg_grant_access(bf->dom, bf->backend_id,
						      sh->bounce[j], false,
						      &sh->bounce_refs[j]);
				if (ret)
					goto err;
			}
			for (j = 0; j < sh->nr_ind_pages; j++) {
				ret = xg_grant_access(bf->dom, bf->backend_id,
						      sh->ind_gfns[j], false,
						      &sh->ind_refs[j]);
				if (ret)
					goto err;
			}
		}
	}
	bf->pool_granted = true;
	return 0;

err:
	pool_end_all(bf);
	return ret;
}

int blkfront_dom_mem_alloc(struct xg_dom *dom, size_t bytes, void **ptr)
{
	uint32_t n = (uint32_t)((bytes + BF_PAGE_SIZE - 1) / BF_PAGE_SIZE);
	xen_pfn_t *gfns;
	uint8_t *base;
	uint32_t i;
	int ret;

	if (!n || bytes > (size_t)UINT32_MAX * BF_PAGE_SIZE)
		return -EINVAL;
	gfns = calloc(n, sizeof(*gfns));
	if (!gfns)
		return -ENOMEM;
	ret = xg_pages_alloc(dom, n, gfns);
	if (ret)
		goto out;
	base = xg_page_ptr(dom, gfns[0]);
	for (i = 0; i < n; i++)
		if (!base || xg_page_ptr(dom, gfns[i]) !=
			     base + (size_t)i * BF_PAGE_SIZE)
			break;
	if (i != n) {
		xg_pages_free(dom, n, gfns);
		ret = -ENOMEM;
		goto out;
	}
	*ptr = base;
out:
	free(gfns);
	return ret;
}

void blkfront_dom_mem_free(struct xg_dom *dom, void *ptr, size_t bytes)
{
	uint32_t n = (uint32_t)((bytes + BF_PAGE_SIZE - 1) / BF_PAGE_SIZE);
	xen_pfn_t gfn;
	uint32_t i;

	if (!ptr || bf_gfn_of(dom, ptr, &gfn))
		return;
	for (i = 0; i < n; i++) {
		xen_pfn_t g = gfn + i;

		xg_pages_free(dom, 1, &g);
	}
}

int blkfront_mem_alloc(struct blkfront *bf, size_t bytes, void **ptr)
{
	return blkfront_dom_mem_alloc(bf->dom, bytes, ptr);
}

void blkfront_mem_free(struct blkfront *bf, void *ptr, size_t bytes)
{
	blkfront_dom_mem_free(bf->dom, ptr, bytes);
}
