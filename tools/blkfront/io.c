/* SPDX-License-Identifier: MIT */
/*
 * blkfront data path: request slots, bounce pools, ring slots, submission
 * and completion. No malloc and no logging here except in pool setup.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "blkfront_priv.h"

static inline RING_IDX load_idx(const RING_IDX *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static inline void store_idx(RING_IDX *p, RING_IDX v)
{
	__atomic_store_n(p, v, __ATOMIC_RELAXED);
}


/* Ring bytes are addressed through per-page pointers: guest pages need not
 * be virtually contiguous on our side, and slots straddle page ends. */
size_t bf_slot_off(const struct bf_queue *q, RING_IDX idx)
{
	return XB_RING_HDR_SIZE +
	       (size_t)(idx & (q->nr_ents - 1)) * q->bf->slot_size;
}

void bf_ring_write(struct bf_queue *q, size_t off, const void *src,
		   size_t len)
{
	const uint8_t *s = src;

	while (len) {
		size_t pg = off / BF_PAGE_SIZE, po = off % BF_PAGE_SIZE;
		size_t n = BF_PAGE_SIZE - po;

		if (n > len)
			n = len;
		if (pg >= q->nr_pages)
			return;
		memcpy(q->ring_ptr[pg] + po, s, n);
		s += n;
		off += n;
		len -= n;
	}
}

void bf_ring_read(const struct bf_queue *q, size_t off, void *dst, size_t len)
{
	uint8_t *d = dst;

	while (len) {
		size_t pg = off / BF_PAGE_SIZE, po = off % BF_PAGE_SIZE;
		size_t n = BF_PAGE_SIZE - po;

		if (n > len)
			n = len;
		if (pg >= q->nr_pages)
			return;
		memcpy(d, q->ring_ptr[pg] + po, n);
		d += n;
		off += n;
		len -= n;
	}
}

static uint8_t blkif_op(enum blkfront_op op)
{
	switch (op) {
	case BLKFRONT_OP_READ:
		return BLKIF_OP_READ;
	case BLKFRONT_OP_WRITE:
		return BLKIF_OP_WRITE;
	case BLKFRONT_OP_FLUSH:
		return BLKIF_OP_FLUSH_DISKCACHE;
	case BLKFRONT_OP_BARRIER:
		return BLKIF_OP_WRITE_BARRIER;
	case BLKFRONT_OP_DISCARD:
		return BLKIF_OP_DISCARD;
	}
	return BLKIF_OP_READ;
}

/* Write shadow @id as a request into the next free slot. */
int bf_queue_encode(struct blkfront *bf, struct bf_queue *q, uint16_t id)
{
	struct bf_shadow *sh = &q->shadow[id];
	struct blkfront_wire_req w = {
		.operation = blkif_op(sh->op),
		.handle = (uint16_t)bf->cfg.devid,
		.id = id,
		.sector_number = sh->sector,
	};
	uint8_t slot[BLKFRONT_SLOT_SIZE_MAX];
	unsigned int i;

	if ((RING_IDX)(q->req_prod_pvt - q->rsp_cons) >= q->nr_ents)
		return -EBUSY;
	if (sh->op == BLKFRONT_OP_DISCARD) {
		w.nr_sectors = sh->nr_sectors;
		w.flag = sh->secure ? BLKIF_DISCARD_SECURE : 0;
	} else if (sh->nr_ind_pages && sh->nr_segs >
		   BLKIF_MAX_SEGMENTS_PER_REQUEST) {
		w.indirect_op = w.operation;
		w.operation = BLKIF_OP_INDIRECT;
		w.nr_segments = (uint16_t)sh->nr_segs;
		for (i = 0; i < bf_ind_pages_for(sh->nr_segs); i++)
			w.indirect_grefs[i] = sh->ind_refs[i];
	} else {
		w.nr_segments = (uint16_t)sh->nr_segs;
		for (i = 0; i < sh->nr_segs; i++)
			w.seg[i] = sh->segs[i];
	}
	blkfront_wire_encode(bf->abi, &w, slot);
	bf_ring_write(q, bf_slot_off(q, q->req_prod_pvt), slot, bf->slot_size);
	q->req_prod_pvt++;
	return 0;
}

static void shadow_end_grants(struct blkfront *bf, struct bf_shadow *sh)
{
	unsigned int i;

	if (!sh->granted)
		return;
	for (i = 0; i < sh->nr_segs; i++)
		bf_end_grant(bf, sh->segs[i].gref);
	if (sh->nr_segs > BLKIF_MAX_SEGMENTS_PER_REQUEST)
		for (i = 0; i < bf_ind_pages_for(sh->nr_segs); i++)
			bf_end_grant(bf, sh->ind_refs[i]);
	sh->granted = false;
}

static void copy_to_iov(const struct bf_shadow *sh, struct xg_dom *dom)
{
	uint32_t done = 0;
	unsigned int v = 0;
	size_t voff = 0;

	while (done < sh->len && v < sh->iovcnt) {
		uint32_t pg = done / BF_PAGE_SIZE, po = done % BF_PAGE_SIZE;
		const uint8_t *src = xg_page_ptr(dom, sh->bounce[pg]);
		size_t n = BF_PAGE_SIZE - po;

		if (n > sh->iov[v].iov_len - voff)
			n = sh->iov[v].iov_len - voff;
		if (n > sh->len - done)
			n = sh->len - done;
		if (src)
			memcpy((uint8_t *)sh->iov[v].iov_base + voff, src + po,
			       n);
		done += (uint32_t)n;
		voff += n;
		if (voff == sh->iov[v].iov_len) {
			v++;
			voff = 0;
		}
	}
}

static void copy_from_iov(const struct bf_shadow *sh, struct xg_dom *dom)
{
	uint32_t done = 0;
	unsigned int v = 0;
	size_t voff = 0;

	while (done < sh->len && v < sh->iovcnt) {
		uint32_t pg = done / BF_PAGE_SIZE, po = done % BF_PAGE_SIZE;
		uint8_t *dst = xg_page_ptr(dom, sh->bounce[pg]);
		size_t n = BF_PAGE_SIZE - po;

		if (n > sh->iov[v].iov_len - voff)
			n = sh->iov[v].iov_len - voff;
		if (n > sh->len - done)
			n = sh->len - done;
		if (dst)
			memcpy(dst + po,
			       (const uint8_t *)sh->iov[v].iov_base + voff, n);
		done += (uint32_t)n;
		voff += n;
		if (voff == sh->iov[v].iov_len) {
			v++;
			voff = 0;
		}
	}
}

void bf_complete_shadow(struct blkfront *bf, struct bf_queue *q, uint16_t id,
			int status, struct blkfront_completion *c)
{
	struct bf_shadow *sh = &q->shadow[id];

	if (!status && sh->op == BLKFRONT_OP_READ && !sh->direct)
		copy_to_iov(sh, bf->dom);
	shadow_end_grants(bf, sh);
	if (status == -EOPNOTSUPP) {
		/* As Linux: the backend refused the op; stop using it. */
		if (sh->op == BLKFRONT_OP_FLUSH)
			bf->info.flush = false;
		else if (sh->op == BLKFRONT_OP_BARRIER)
			bf->info.barrier = false;
		else if (sh->op == BLKFRONT_OP_DISCARD)
			bf->info.discard = false;
	}
	c->tag = sh->tag;
	c->op = (enum blkfront_op)sh->op;
	c->status = status;
	sh->inflight = false;
	sh->next_free = q->free_head;
	q->free_head = id;
	q->inflight--;
}

static int rsp_status(int16_t st)
{
	if (st == BLKIF_RSP_OKAY)
		return 0;
	if (st == BLKIF_RSP_EOPNOTSUPP)
		return -EOPNOTSUPP;
	return -EIO;
}

/* Consume up to @max responses of @q; re-arm rsp_event once empty. */
unsigned int bf_harvest(struct blkfront *bf, struct bf_queue *q,
			struct blkfront_completion *comps, unsigned int max)
{
	unsigned int n = 0;
	RING_IDX rp;

	if (!q->ring_up)
		return 0;
	for (;;) {
		rp = load_idx(&q->hdr->rsp_prod);
		xen_rmb();
		/* A producer beyond what we asked for is nonsense: consume
		 * nothing rather than read garbage slots. */
		if ((RING_IDX)(rp - q->rsp_cons) >
		    (RING_IDX)(q->req_prod_pvt - q->rsp_cons)) {
			bf->info.bad_responses++;
			return n;
		}
		while (q->rsp_cons != rp && n < max) {
			uint8_t slot[BLKFRONT_SLOT_SIZE_MAX];
			struct blkfront_wire_rsp r;

			bf_ring_read(q, bf_slot_off(q, q->rsp_cons), slot,
				     bf->slot_size);
			q->rsp_cons++;
			blkfront_wire_decode_rsp(bf->abi, slot, &r);
			if (r.id >= bf->depth || !q->shadow[r.id].inflight) {
				bf->info.bad_responses++;
				continue;
			}
			bf_complete_shadow(bf, q, (uint16_t)r.id,
					   rsp_status(r.status), &comps[n++]);
		}
		if (q->rsp_cons != rp)
			return n;   /* caller's array is full */
		store_idx(&q->hdr->rsp_event, q->rsp_cons + 1);
		bf->info.rsp_rearms++;
		xen_mb();
		if (load_idx(&q->hdr->rsp_prod) == q->rsp_cons || n == max)
			return n;
	}
}

static void put_id(struct bf_queue *q, uint16_t id)
{
	q->shadow[id].next_free = q->free_head;
	q->free_head = id;
}

/*
 * Fill the shadow's segments from the caller's guest pages. false if the
 * buffers are not guest memory or not sector aligned (then we bounce).
 */
static bool map_direct(struct blkfront *bf, struct bf_shadow *sh,
		       const struct blkfront_req *req)
{
	unsigned int v, n = 0;

	for (v = 0; v < req->iovcnt; v++) {
		uintptr_t p = (uintptr_t)req->iov[v].iov_base;
		size_t left = req->iov[v].iov_len;

		while (left) {
			size_t off = p % BF_PAGE_SIZE;
			size_t chunk = BF_PAGE_SIZE - off;
			xen_pfn_t gfn;

			if (chunk > left)
				chunk = left;
			if (off % 512 || chunk % 512 || n >= bf->max_segs ||
			    bf_gfn_of(bf->dom, (void *)p, &gfn))
				return false;
			sh->pages[n] = gfn;
			sh->segs[n].first_sect = (uint8_t)(off / 512);
			sh->segs[n].last_sect =
				(uint8_t)((off + chunk) / 512 - 1);
			n++;
			p += chunk;
			left -= chunk;
		}
	}
	sh->nr_segs = n;
	return true;
}

static int submit_check(struct blkfront *bf, const struct blkfront_req *req,
			uint64_t *len)
{
	uint64_t total = 0;
	unsigned int v;

	if (bf->broken || !bf->connected)
		return -ENOTCONN;
	if (req->queue >= bf->nr_queues || req->iovcnt > BLKFRONT_MAX_IOV ||
	    (req->iovcnt && !req->iov))
		return -EINVAL;
	switch (req->op) {
	case BLKFRONT_OP_READ:
	case BLKFRONT_OP_WRITE:
		break;
	case BLKFRONT_OP_FLUSH:
		if (!bf->info.flush)
			return -EOPNOTSUPP;
		*len = 0;
		return 0;
	case BLKFRONT_OP_BARRIER:
		if (!bf->info.barrier)
			return -EOPNOTSUPP;
		break;
	case BLKFRONT_OP_DISCARD:
		if (!bf->info.discard)
			return -EOPNOTSUPP;
		if (!req->nr_sectors || (req->secure &&
					 !bf->info.discard_secure))
			return -EINVAL;
		*len = 0;
		return 0;
	default:
		return -EINVAL;
	}
	for (v = 0; v < req->iovcnt; v++)
		total += req->iov[v].iov_len;
	if (total % 512)
		return -EINVAL;
	if (!total && req->op != BLKFRONT_OP_BARRIER)
		return -EINVAL;
	if (total > (uint64_t)bf->max_segs * BF_PAGE_SIZE)
		return -E2BIG;
	*len = total;
	return 0;
}

/* Grant what this request needs (nothing persistent). On failure no
 * grant of this request is left. */
static int grant_request(struct blkfront *bf, struct bf_shadow *sh,
			 bool readonly)
{
	unsigned int i, nind = bf_ind_pages_for(sh->nr_segs);
	int ret = 0;

	for (i = 0; i < sh->nr_segs; i++) {
		ret = xg_grant_access(bf->dom, bf->backend_id, sh->pages[i],
				      readonly, &sh->segs[i].gref);
		if (ret)
			goto err_segs;
	}
	for (i = 0; i < nind; i++) {
		ret = xg_grant_access(bf->dom, bf->backend_id, sh->ind_gfns[i],
				      true, &sh->ind_refs[i]);
		if (ret)
			goto err_ind;
	}
	sh->granted = true;
	return 0;

err_ind:
	while (i--)
		bf_end_grant(bf, sh->ind_refs[i]);
	i = sh->nr_segs;
err_segs:
	while (i--)
		bf_end_grant(bf, sh->segs[i].gref);
	return ret;
}

static void fill_indirect(struct blkfront *bf, struct bf_shadow *sh)
{
	unsigned int i;

	for (i = 0; i < bf_ind_pages_for(sh->nr_segs); i++) {
		struct blkif_request_segment *page =
			xg_page_ptr(bf->dom, sh->ind_gfns[i]);
		unsigned int first = i * BF_SEGS_PER_INDIRECT_PAGE;
		unsigned int n = sh->nr_segs - first;

		if (n > BF_SEGS_PER_INDIRECT_PAGE)
			n = BF_SEGS_PER_INDIRECT_PAGE;
		if (page)
			memcpy(page, &sh->segs[first], n * sizeof(*page));
	}
}

int blkfront_submit(struct blkfront *bf, const struct blkfront_req *req)
{
	struct bf_queue *q;
	struct bf_shadow *sh;
	uint64_t len = 0;
	bool is_write;
	uint16_t id;
	unsigned int i;
	int ret;

	ret = submit_check(bf, req, &len);
	if (ret)
		return ret;
	q = &bf->queues[req->queue];
	id = q->free_head;
	if (id == BF_NO_ID)
		return -EBUSY;
	sh = &q->shadow[id];
	q->free_head = sh->next_free;

	is_write = req->op == BLKFRONT_OP_WRITE ||
		   req->op == BLKFRONT_OP_BARRIER;
	sh->op = (uint8_t)req->op;
	sh->tag = req->tag;
	sh->sector = req->sector;
	sh->nr_sectors = req->nr_sectors;
	sh->secure = req->secure;
	sh->len = (uint32_t)len;
	/* FLUSH and DISCARD carry no data whatever the iovecs say. */
	sh->iovcnt = len ? req->iovcnt : 0;
	for (i = 0; i < sh->iovcnt; i++)
		sh->iov[i] = req->iov[i];
	sh->nr_segs = 0;
	sh->direct = false;
	sh->granted = false;

	if (len) {
		if (!bf->pool_granted && map_direct(bf, sh, req)) {
			sh->direct = true;
		} else {
			sh->nr_segs = (uint32_t)((len + BF_PAGE_SIZE - 1) /
						 BF_PAGE_SIZE);
			for (i = 0; i < sh->nr_segs; i++) {
				uint32_t n = sh->len - i * BF_PAGE_SIZE;

				if (n > BF_PAGE_SIZE)
					n = BF_PAGE_SIZE;
				sh->pages[i] = sh->bounce[i];
				sh->segs[i].first_sect = 0;
				sh->segs[i].last_sect = (uint8_t)(n / 512 - 1);
			}
			if (is_write)
				copy_from_iov(sh, bf->dom);
		}
		if (sh->nr_segs > BLKIF_MAX_SEGMENTS_PER_REQUEST &&
		    !bf->info.max_indirect_segs) {
			ret = -E2BIG;
			goto err_put;
		}
		if (sh->direct || !bf->pool_granted) {
			ret = grant_request(bf, sh, is_write);
			if (ret)
				goto err_put;
		} else {
			for (i = 0; i < sh->nr_segs; i++)
				sh->segs[i].gref = sh->bounce_refs[i];
		}
		if (sh->nr_segs > BLKIF_MAX_SEGMENTS_PER_REQUEST)
			fill_indirect(bf, sh);
	}
	ret = bf_queue_encode(bf, q, id);
	if (ret)
		goto err_grants;
	sh->seq = bf->seq++;
	sh->inflight = true;
	q->inflight++;
	return 0;

err_grants:
	shadow_end_grants(bf, sh);
err_put:
	put_id(q, id);
	return ret;
}

static void push_queue(struct blkfront *bf, struct bf_queue *q)
{
	RING_IDX old, new_prod = q->req_prod_pvt;

	if (!q->ring_up)
		return;
	old = load_idx(&q->hdr->req_prod);
	if (old == new_prod)
		return;
	xen_wmb();
	store_idx(&q->hdr->req_prod, new_prod);
	xen_mb();
	bf->info.pushes++;
	if ((RING_IDX)(new_prod - load_idx(&q->hdr->req_event)) <
	    (RING_IDX)(new_prod - old)) {
		bf->info.kicks++;
		xg_evtchn_notify(bf->dom, q->port);
	}
}

int blkfront_kick(struct blkfront *bf)
{
	unsigned int i;

	if (bf->broken)
		return -ENOTCONN;
	for (i = 0; i < bf->nr_queues; i++)
		push_queue(bf, &bf->queues[i]);
	return 0;
}

int blkfront_poll(struct blkfront *bf, struct blkfront_completion *comps,
		  unsigned int max)
{
	unsigned int i, n = 0;
	evtchn_port_t port;
	int ret;

	ret = bf_handle_watch(bf);
	if (ret < 0 && ret != -ENOTCONN)
		return ret;
	/* Deferred completions (made by a recovery) first. */
	while (n < max && bf->nr_deferred)
		comps[n++] = bf->deferred[--bf->nr_deferred];
	while (xg_evtchn_pending(bf->dom, &port) == 0)
		xg_evtchn_unmask(bf->dom, port);
	for (i = 0; i < bf->nr_queues && n < max; i++)
		n += bf_harvest(bf, &bf->queues[i], comps + n, max - n);
	if (!n && bf->broken)
		return -ENOTCONN;
	return (int)n;
}

bool blkfront_has_responses(const struct blkfront *bf)
{
	unsigned int i;

	if (bf->nr_deferred)
		return true;
	for (i = 0; i < bf->nr_queues; i++) {
		const struct bf_queue *q = &bf->queues[i];

		if (q->ring_up && load_idx(&q->hdr->rsp_prod) != q->rsp_cons)
			return true;
	}
	return false;
}

int blkfront_fd(const struct blkfront *bf)
{
	return bf->epfd;
}

int blkfront_wait(struct blkfront *bf, int timeout_ms)
{
	struct pollfd pfd = { .fd = bf->epfd, .events = POLLIN };
	int r;

	bf->info.waits++;
	do {
		r = poll(&pfd, 1, timeout_ms);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	return r ? 0 : -ETIMEDOUT;
}

unsigned int blkfront_inflight(const struct blkfront *bf)
{
	unsigned int i, n = 0;

	for (i = 0; i < bf->pool_queues; i++)
		n += bf->queues[i].inflight;
	return n;
}





int blkfront_sync(struct blkfront *bf, const struct blkfront_req *req,
		  int timeout_ms)
{
	struct blkfront_completion c[16];
	int ret, n, i, waited = 0;

	ret = blkfront_submit(bf, req);
	if (ret)
		return ret;
	blkfront_kick(bf);
	for (;;) {
		n = blkfront_poll(bf, c, 16);
		if (n < 0)
			return n;
		for (i = 0; i < n; i++)
			if (c[i].tag == req->tag)
				return c[i].status;
		if (timeout_ms >= 0 && waited >= timeout_ms)
			return -ETIMEDOUT;
		/* Short slices: a recovery may need the watch serviced. */
		if (blkfront_wait(bf, 100) == -ETIMEDOUT)
			waited += 100;
	}
}
