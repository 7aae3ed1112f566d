/* SPDX-License-Identifier: MIT */
/*
 * The blkif ring consumer and responder of one queue.
 *
 * For every request: copy the slot once (into the request journal),
 * decode and validate that copy, copy indirect segment pages once into
 * private memory and validate those, map the data pages (persistent cache
 * or one batch map), build an iovec straight over the mapped guest pages
 * and hand it to the engine.
 * A response is written only after the I/O completed and the request's
 * non-persistent grants were unmapped (so the frontend may end its grants
 * as soon as it sees the response). Responses are pushed and the frontend
 * notified once per batch. No allocation, no per-request logging: guest
 * errors are counted and logged rate-limited.
 */
#include <errno.h>
#include <string.h>

#include "uback/log.h"
#include "queue_priv.h"

static void respond(struct blk_queue *q, uint32_t je, uint64_t id,
		    uint8_t operation, int16_t status)
{
	void *slot = xb_ring_slot(&q->ring, q->ring.rsp_prod_pvt);

	/* Journal around the slot write: a successor must know whether
	 * this slot still holds the request or (part of) its answer. */
	blk_journal_respond_begin(&q->journal, je, q->ring.rsp_prod_pvt,
				  status, operation);
	blk_abi_put_rsp(q->cfg.abi, slot, id, operation, status);
	q->ring.rsp_prod_pvt++;
	blk_journal_respond_end(&q->journal, je, q->ring.rsp_prod_pvt);
	q->rsp_dirty = true;
	if (status == BLKIF_RSP_OKAY)
		blk_stat_add(&q->stats, BLK_ST_OK, 1);
	else if (status == BLKIF_RSP_EOPNOTSUPP)
		blk_stat_add(&q->stats, BLK_ST_EOPNOTSUPP, 1);
	else
		blk_stat_add(&q->stats, BLK_ST_ERROR, 1);
}

static void reject(struct blk_queue *q, uint32_t je, uint64_t id,
		   uint8_t operation, enum blk_reject why)
{
	blk_stat_add(&q->stats, (enum blk_stat)(BLK_ST_REJ_FIRST + why), 1);
	/* Rate limited per queue: one noisy guest cannot hide another's
	 * messages, and the state is never shared between threads. */
	if (xb_ratelimit_ok(&q->rl))
		xb_warn("dom%u queue %u: request op %u refused: %s",
			q->cfg.domid, q->cfg.index, operation,
			blk_reject_name(why));
	respond(q, je, id, operation, blk_reject_status(why));
}

void blk_ring_flush_responses(struct blk_queue *q)
{
	if (!q->rsp_dirty)
		return;
	q->rsp_dirty = false;
	blk_stat_add(&q->stats, BLK_ST_BATCHES, 1);
	if (xb_ring_push_rsps(&q->ring)) {
		blk_stat_add(&q->stats, BLK_ST_NOTIFIES, 1);
		if (xb_evtchn_notify(q->evtchn, q->port))
			blk_stat_add(&q->stats, BLK_ST_NOTIFY_ERRORS, 1);
	}
}

static uint32_t slot_alloc(struct blk_queue *q)
{
	uint32_t idx = q->free_head;

	if (idx == BLK_NIL)
		return BLK_NIL;
	q->free_head = q->slots[idx].next_free;
	q->busy++;
	/* The in-flight gauges are published once per loop (queue.c). */
	if (q->busy > q->busy_max)
		q->busy_max = q->busy;
	return idx;
}

static void slot_free(struct blk_queue *q, uint32_t idx)
{
	q->slots[idx].next_free = q->free_head;
	q->free_head = idx;
	q->busy--;
}

/* Drop every mapping a slot holds (the pages' I/O is over). */
static void slot_unmap(struct blk_queue *q, struct blk_slot *s)
{
	uint32_t i;

	if (s->batch) {
		if (xb_gnt_unmap(q->gnt, s->batch, s->batch_count))
			blk_stat_add(&q->stats, BLK_ST_UNMAP_ERRORS, 1);
		s->batch = NULL;
	}
	if (s->chunk != BLK_NIL) {
		if (s->chunk < q->nsmall)
			q->small_free[q->small_top++] = s->chunk;
		else
			q->large_free[q->large_top++] = s->chunk;
		s->chunk = BLK_NIL;
	}
	for (i = 0; i < s->nsegs; i++) {
		struct blk_segmap *m = &s->maps[i];

		if (m->phandle != BLK_NIL)
			blk_persist_put(q->persist, m->phandle, q->now_ns);
		else if (m->temp && xb_gnt_unmap(q->gnt, m->page, 1))
			blk_stat_add(&q->stats, BLK_ST_UNMAP_ERRORS, 1);
		m->phandle = BLK_NIL;
		m->temp = false;
		m->page = NULL;
	}
}

static void slot_fail(struct blk_queue *q, uint32_t idx, enum blk_reject why)
{
	struct blk_slot *s = &q->slots[idx];

	slot_unmap(q, s);
	reject(q, s->jent, s->id, s->operation, why);
	slot_free(q, idx);
}

static bool op_writes(uint8_t op)
{
	return op != BLKIF_OP_READ;
}

/* Persistent mode: the cache, or a mapping for this request only. @m
 * comes clear (no cache entry, no mapping of its own). */
static int map_one(struct blk_queue *q, grant_ref_t ref, bool ro,
		   struct blk_segmap *m)
{
	int ret;

	ret = blk_persist_get(q->persist, ref, q->now_ns, &m->page,
			      &m->phandle);
	if (!ret)
		return 0;
	m->phandle = BLK_NIL;
	/* Cache full of busy entries, or the frontend granted this page
	 * read-only (the cache maps writable): map it for this use only. */
	ret = xb_gnt_map(q->gnt, q->cfg.domid, 1, &ref, ro, &m->page);
	if (ret)
		return ret;
	m->temp = true;
	return 0;
}

/*
 * Grant copy between the slot's bounce chunk and the guest's pages, all
 * segments in one call. Each segment sits at the same offset in its
 * bounce page as in the guest's page, so build_iov serves both paths.
 */
static int copy_data(struct blk_queue *q, struct blk_slot *s, bool to_guest)
{
	uint32_t i;
	int ret;

	for (i = 0; i < s->nsegs; i++) {
		struct xb_gcopy_seg *c = &q->gcopy[i];
		uint16_t off = (uint16_t)(s->segs[i].first_sect * BLK_SECTOR_SIZE);
		uint8_t *local = (uint8_t *)s->maps[i].page + off;

		memset(c, 0, sizeof(*c));
		if (to_guest) {
			c->source.virt = local;
			c->dest.foreign.ref = s->segs[i].gref;
			c->dest.foreign.offset = off;
			c->dest.foreign.domid = q->cfg.domid;
			c->flags = GNTCOPY_dest_gref;
		} else {
			c->source.foreign.ref = s->segs[i].gref;
			c->source.foreign.offset = off;
			c->source.foreign.domid = q->cfg.domid;
			c->dest.virt = local;
			c->flags = GNTCOPY_source_gref;
		}
		c->len = (uint16_t)((s->segs[i].last_sect -
				     s->segs[i].first_sect + 1) *
				    BLK_SECTOR_SIZE);
	}
	ret = xb_gnt_copy(q->gnt, s->nsegs, q->gcopy);
	if (ret)
		return ret;
	for (i = 0; i < s->nsegs; i++)
		if (q->gcopy[i].status != GNTST_okay)
			return -EINVAL;
	return 0;
}

static int map_data(struct blk_queue *q, struct blk_slot *s)
{
	bool ro = op_writes(s->op);
	uint32_t i;
	int ret;

	if (!s->nsegs)
		return 0;
	if (q->pool) {
		uint8_t *base = NULL;

		if (s->nsegs <= BLKIF_MAX_SEGMENTS_PER_REQUEST && q->small_top) {
			s->chunk = q->small_free[--q->small_top];
			base = q->pool + (size_t)s->chunk *
				BLKIF_MAX_SEGMENTS_PER_REQUEST * XB_PAGE_SIZE;
		} else if (q->large_top) {
			s->chunk = q->large_free[--q->large_top];
			base = q->pool + (size_t)q->nsmall *
				BLKIF_MAX_SEGMENTS_PER_REQUEST * XB_PAGE_SIZE +
				(size_t)(s->chunk - q->nsmall) * q->max_segs *
				XB_PAGE_SIZE;
		}
		if (base) {
			for (i = 0; i < s->nsegs; i++)
				s->maps[i].page = base + (size_t)i * XB_PAGE_SIZE;
			blk_stat_add(&q->stats, BLK_ST_COPY_REQS, 1);
			/* Write data comes in now; read data goes out once
			 * the read completed (blk_ring_complete). */
			return ro ? copy_data(q, s, false) : 0;
		}
		blk_stat_add(&q->stats, BLK_ST_COPY_POOL_EMPTY, 1);
	}
	blk_stat_add(&q->stats, BLK_ST_MAP_REQS, 1);
	if (q->persist) {
		for (i = 0; i < s->nsegs; i++) {
			ret = map_one(q, s->segs[i].gref, ro, &s->maps[i]);
			if (ret)
				return ret;   /* slot_unmap undoes the rest */
		}
		return 0;
	}
	for (i = 0; i < s->nsegs; i++)
		q->refs[i] = s->segs[i].gref;
	ret = xb_gnt_map(q->gnt, q->cfg.domid, s->nsegs, q->refs, ro,
			 &s->batch);
	if (ret) {
		s->batch = NULL;
		return ret;
	}
	s->batch_count = s->nsegs;
	for (i = 0; i < s->nsegs; i++)
		s->maps[i].page = (uint8_t *)s->batch + (size_t)i * XB_PAGE_SIZE;
	return 0;
}

/* Copy the indirect segment pages once into q->iseg and decode them. */
static enum blk_reject load_indirect(struct blk_queue *q, struct blk_slot *s,
				     const struct blk_req *req)
{
	uint32_t npages = blk_indirect_pages(req->nr_segments), p;
	struct blk_segmap pm[BLK_MAX_INDIRECT_PAGES];
	void *batch = NULL;
	enum blk_reject why = BLK_OK;
	int ret = 0;

	for (p = 0; p < npages; p++) {
		pm[p].phandle = BLK_NIL;
		pm[p].temp = false;
	}
	if (q->persist) {
		for (p = 0; p < npages && !ret; p++)
			ret = map_one(q, req->indirect_grefs[p], true, &pm[p]);
	} else {
		ret = xb_gnt_map(q->gnt, q->cfg.domid, npages,
				 req->indirect_grefs, true, &batch);
		for (p = 0; p < npages && !ret; p++)
			pm[p].page = (uint8_t *)batch + (size_t)p * XB_PAGE_SIZE;
	}
	if (ret) {
		why = BLK_REJ_GRANT;
	} else {
		for (p = 0; p < npages; p++) {
			uint32_t first = p * BLK_SEGS_PER_INDIRECT_PAGE;
			uint32_t n = req->nr_segments - first;

			if (n > BLK_SEGS_PER_INDIRECT_PAGE)
				n = BLK_SEGS_PER_INDIRECT_PAGE;
			memcpy(&q->iseg[first], pm[p].page,
			       n * sizeof(struct blk_wire_seg));
		}
	}
	/* Release the indirect pages at once: only the copy is used. */
	if (batch && xb_gnt_unmap(q->gnt, batch, npages))
		blk_stat_add(&q->stats, BLK_ST_UNMAP_ERRORS, 1);
	for (p = 0; p < npages; p++) {
		if (pm[p].phandle != BLK_NIL)
			blk_persist_put(q->persist, pm[p].phandle, q->now_ns);
		else if (pm[p].temp)
			xb_gnt_unmap(q->gnt, pm[p].page, 1);
	}
	if (why)
		return why;
	blk_abi_indirect_segs(q->iseg, req->nr_segments, s->segs);
	return BLK_OK;
}

/* iovecs over the mapped pages, merging neighbours that touch. */
static void build_iov(struct blk_slot *s)
{
	uint32_t i, n = 0;

	for (i = 0; i < s->nsegs; i++) {
		uint8_t *base = (uint8_t *)s->maps[i].page +
				(size_t)s->segs[i].first_sect * BLK_SECTOR_SIZE;
		size_t len = (size_t)(s->segs[i].last_sect -
				      s->segs[i].first_sect + 1) *
			     BLK_SECTOR_SIZE;

		if (n && (uint8_t *)s->iov[n - 1].iov_base +
				 s->iov[n - 1].iov_len == base) {
			s->iov[n - 1].iov_len += len;
			continue;
		}
		s->iov[n].iov_base = base;
		s->iov[n].iov_len = len;
		n++;
	}
	s->niov = n;
}

static int prep_retry(struct blk_queue *q, int ret)
{
	if (ret != -EBUSY)
		return ret;
	q->eng->ops->submit(q->eng);
	return 1;
}

void blk_slot_submit(struct blk_queue *q, uint32_t idx)
{
	const struct blk_engine_ops *ops = q->eng->ops;
	struct blk_slot *s = &q->slots[idx];
	uint64_t off = s->sector << BLK_SECTOR_SHIFT;
	uint64_t tag_rw = idx | (BLK_TAG_RW << BLK_TAG_KIND_SHIFT);
	uint64_t tag_fl = idx | (BLK_TAG_FLUSH << BLK_TAG_KIND_SHIFT);
	uint64_t tag_dc = idx | (BLK_TAG_DISCARD << BLK_TAG_KIND_SHIFT);
	/* A bounced request in one piece can use the registered pool. */
	unsigned int fixed = s->chunk != BLK_NIL && s->niov == 1 ?
			     BLK_IO_FIXED : 0;
	int ret, tries;

	s->pending = 0;
	s->in_io = true;
	q->io_inflight++;
	q->prepped = true;

	switch (s->op) {
	case BLKIF_OP_READ:
	case BLKIF_OP_WRITE:
		for (tries = 0; tries < 2; tries++) {
			ret = ops->prep_rw(q->eng, s->op == BLKIF_OP_WRITE,
					   s->iov, s->niov, off, tag_rw,
					   fixed);
			if (prep_retry(q, ret) <= 0)
				break;
		}
		if (!ret)
			s->pending = 1;
		break;
	case BLKIF_OP_DISCARD:
		for (tries = 0; tries < 2; tries++) {
			ret = ops->prep_discard(q->eng, off,
						s->nr_sectors << BLK_SECTOR_SHIFT,
						s->secure, tag_dc);
			if (prep_retry(q, ret) <= 0)
				break;
		}
		if (!ret)
			s->pending = 1;
		break;
	default: /* FLUSH_DISKCACHE, WRITE_BARRIER: (write data), fdatasync */
		ret = 0;
		if (s->nsegs) {
			for (tries = 0; tries < 2; tries++) {
				ret = ops->prep_rw(q->eng, true, s->iov,
						   s->niov, off, tag_rw,
						   BLK_IO_LINK | fixed);
				if (prep_retry(q, ret) <= 0)
					break;
			}
			if (!ret)
				s->pending++;
		}
		if (!ret) {
			for (tries = 0; tries < 2; tries++) {
				ret = ops->prep_flush(q->eng, tag_fl, 0);
				if (prep_retry(q, ret) <= 0)
					break;
			}
			if (!ret)
				s->pending++;
		}
		break;
	}
	if (ret) {
		/* Cannot happen with the engine sized for the ring; if it
		 * does, whatever was queued still completes first. */
		s->failed = true;
		if (!s->pending) {
			s->in_io = false;
			q->io_inflight--;
			slot_fail(q, idx, BLK_REJ_IO);
		}
	}
}

/*
 * The operation a response carries: the request's, and for INDIRECT the
 * inner one (indirect_op), as Linux blkback answers. Linux blkfront
 * checks it and disables the disk on a mismatch ("response has wrong
 * operation (6 instead of 1)"), found running under real Xen.
 */
static uint8_t rsp_operation(const struct blk_req *req)
{
	return req->indirect ? req->op : req->operation;
}

/* Take one request off the ring (already copied into @req). */
static void start_request(struct blk_queue *q, const struct blk_req *req,
			  uint32_t je)
{
	const struct blk_limits *lim = &q->cfg.limits;
	enum blk_reject why;
	struct blk_slot *s;
	uint64_t sectors = 0;
	uint32_t idx, i;

	switch (req->indirect ? BLKIF_OP_INDIRECT : req->op) {
	case BLKIF_OP_READ: blk_stat_add(&q->stats, BLK_ST_READ, 1); break;
	case BLKIF_OP_WRITE: blk_stat_add(&q->stats, BLK_ST_WRITE, 1); break;
	case BLKIF_OP_WRITE_BARRIER:
		blk_stat_add(&q->stats, BLK_ST_BARRIER, 1);
		break;
	case BLKIF_OP_FLUSH_DISKCACHE:
		blk_stat_add(&q->stats, BLK_ST_FLUSH, 1);
		break;
	case BLKIF_OP_DISCARD: blk_stat_add(&q->stats, BLK_ST_DISCARD, 1); break;
	case BLKIF_OP_INDIRECT:
		blk_stat_add(&q->stats, BLK_ST_INDIRECT, 1);
		blk_stat_add(&q->stats, req->op == BLKIF_OP_WRITE ?
			     BLK_ST_WRITE : BLK_ST_READ, 1);
		break;
	default: blk_stat_add(&q->stats, BLK_ST_UNKNOWN_OP, 1); break;
	}

	why = blk_req_check(req, lim);
	if (why) {
		reject(q, je, req->id, rsp_operation(req), why);
		return;
	}
	idx = slot_alloc(q);
	if (idx == BLK_NIL) {   /* bounded by xb_ring_reqs_avail: never */
		reject(q, je, req->id, rsp_operation(req), BLK_REJ_IO);
		return;
	}
	s = &q->slots[idx];
	s->jent = je;
	s->id = req->id;
	s->operation = rsp_operation(req);
	s->op = req->op;
	s->sector = req->sector;
	s->failed = false;
	s->in_io = false;
	s->batch = NULL;
	s->chunk = BLK_NIL;
	s->nsegs = 0;
	s->niov = 0;
	s->expect = 0;

	if (req->op == BLKIF_OP_DISCARD) {
		s->nr_sectors = req->nr_sectors;
		s->secure = (req->discard_flag & BLKIF_DISCARD_SECURE) &&
			    lim->discard_secure;
		if (!s->nr_sectors) {   /* nothing to do */
			respond(q, je, s->id, s->operation, BLKIF_RSP_OKAY);
			slot_free(q, idx);
			return;
		}
		blk_slot_submit(q, idx);
		return;
	}

	if (req->indirect) {
		why = load_indirect(q, s, req);
		if (why) {
			slot_fail(q, idx, why);
			return;
		}
	} else {
		for (i = 0; i < req->nr_segments; i++)
			s->segs[i] = req->seg[i];
	}
	/* nsegs only once segs are private and checked: slot_unmap walks
	 * maps[nsegs]. */
	why = blk_segs_check(s->segs, req->nr_segments, req->sector, lim,
			     &sectors);
	if (why) {
		slot_fail(q, idx, why);
		return;
	}
	for (i = 0; i < req->nr_segments; i++) {
		s->maps[i].phandle = BLK_NIL;
		s->maps[i].temp = false;
		s->maps[i].page = NULL;
	}
	s->nsegs = req->nr_segments;
	s->nr_sectors = sectors;
	s->expect = sectors << BLK_SECTOR_SHIFT;
	if (map_data(q, s)) {
		slot_fail(q, idx, BLK_REJ_GRANT);
		return;
	}
	build_iov(s);

	if ((s->op == BLKIF_OP_FLUSH_DISKCACHE ||
	     s->op == BLKIF_OP_WRITE_BARRIER) && q->io_inflight) {
		/* Drain: the flush must cover every write submitted before
		 * it, so wait until they completed; consume nothing more
		 * meanwhile (kept in order, as Linux blkback does). */
		q->blocked = idx;
		return;
	}
	blk_slot_submit(q, idx);
}

uint32_t blk_ring_consume(struct blk_queue *q)
{
	struct blk_req req;
	uint32_t n, taken = 0;
	RING_IDX prod;

	if (xb_ring_get_req_prod(&q->ring, &prod)) {
		RING_IDX prod_seen = __atomic_load_n(&q->ring.sring->req_prod,
						     __ATOMIC_RELAXED);

		/* More requests than slots: the frontend is broken or
		 * hostile. Stop here for good; no retry, no busy loop. */
		q->halted = true;
		blk_stat_add(&q->stats, BLK_ST_RING_HALTED, 1);
		/* Once per queue: a halted ring is never looked at again. */
		xb_err("dom%u queue %u: impossible request producer %u "
		       "(consumer %u, ring %u): ring halted", q->cfg.domid,
		       q->cfg.index, prod_seen, q->ring.req_cons,
		       q->ring.nr_ents);
		return 0;
	}
	n = xb_ring_reqs_avail(&q->ring, prod);
	while (taken < n && q->blocked == BLK_NIL) {
		RING_IDX idx = q->ring.req_cons;
		/* The one read of the shared slot goes to the journal; the
		 * request is decoded from that private copy. */
		uint32_t je = blk_journal_take(&q->journal, idx,
					       xb_ring_slot(&q->ring, idx),
					       q->ring.slot_size);

		if (je == UINT32_MAX) {   /* bounded by reqs_avail: never */
			q->halted = true;
			blk_stat_add(&q->stats, BLK_ST_RING_HALTED, 1);
			break;
		}
		blk_abi_decode_req(q->cfg.abi, q->journal.ent[je].raw, &req);
		q->ring.req_cons++;
		taken++;
		start_request(q, &req, je);
	}
	return taken;
}

uint32_t blk_ring_replay(struct blk_queue *q)
{
	struct blk_journal *j = &q->journal;
	struct blk_req req;
	uint32_t taken = 0;

	while (q->replay_pos < j->nreplay && q->blocked == BLK_NIL) {
		uint32_t je = j->replay[q->replay_pos++];

		/* Validated again like any request: the copy was the
		 * guest's, and the limits may have changed (upgrade). */
		blk_abi_decode_req(q->cfg.abi, j->ent[je].raw, &req);
		blk_stat_add(&q->stats, BLK_ST_REPLAYED, 1);
		taken++;
		start_request(q, &req, je);
	}
	return taken;
}

void blk_ring_complete(struct blk_queue *q, uint64_t tag, int32_t res)
{
	uint32_t idx = (uint32_t)tag;
	uint64_t kind = tag >> BLK_TAG_KIND_SHIFT;
	struct blk_slot *s;

	if (idx >= q->nslots)
		return;
	s = &q->slots[idx];
	if (!s->pending)
		return;
	if (res < 0 || (kind == BLK_TAG_RW && (uint64_t)res != s->expect)) {
		/* The backing store failed (or came up short): the guest
		 * gets BLKIF_RSP_ERROR; the operator gets why. */
		if (!s->failed && xb_ratelimit_ok(&q->rl))
			xb_warn("dom%u queue %u: op %u at sector %llu: %s",
				q->cfg.domid, q->cfg.index, s->op,
				(unsigned long long)s->sector,
				res < 0 ? strerror(-res) : "short transfer");
		s->failed = true;
	}
	if (--s->pending)
		return;

	s->in_io = false;
	q->io_inflight--;
	if (s->failed) {
		slot_fail(q, idx, BLK_REJ_IO);
		return;
	}
	if (s->chunk != BLK_NIL && s->op == BLKIF_OP_READ &&
	    copy_data(q, s, true)) {
		slot_fail(q, idx, BLK_REJ_GRANT);
		return;
	}
	if (s->op == BLKIF_OP_READ)
		blk_stat_add(&q->stats, BLK_ST_BYTES_READ, s->expect);
	else if (s->op == BLKIF_OP_DISCARD)
		blk_stat_add(&q->stats, BLK_ST_BYTES_DISCARDED,
			     s->nr_sectors << BLK_SECTOR_SHIFT);
	else
		blk_stat_add(&q->stats, BLK_ST_BYTES_WRITTEN, s->expect);
	slot_unmap(q, s);
	respond(q, s->jent, s->id, s->operation, BLKIF_RSP_OKAY);
	slot_free(q, idx);
}
