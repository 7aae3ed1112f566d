/* SPDX-License-Identifier: MIT */
/*
 * Guest TX ring -> frames for the port.
 *
 * Per batch: snapshot the producer (an impossible one fails the queue),
 * copy every published slot to private memory once, decode packets from
 * the copies only (net_tx_decode: the guest may rewrite the ring under
 * us), grant-copy the data of the whole batch in one call, check each
 * segment's status, build the virtio-net header, journal the frames
 * (state.h: they are in the state's buffers, so a successor can send
 * them), answer every slot (NETIF_RSP_NULL for extra-info slots, as
 * netif.h says), push and notify once, then hand the frames to the port.
 * Rate limit (`rate`) as xen-netback: a packet waits in the ring until
 * the credit allows it.
 *
 * Verdicts differ from xen-netback in one way: packet-level faults
 * (cross-page segment, bad GSO extra, unknown extra type) get error
 * responses instead of failing the device; only faults that leave the
 * ring's framing in doubt (a chain past the producer, too many slots or
 * extras) are fatal.
 */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "queue_priv.h"

_Static_assert(sizeof(union net_tx_slot) == sizeof(union netif_tx_sring_entry),
	       "TX slot copies must match the ring's slot size");

static enum net_tx_verdict decode_fatal(struct net_tx_pkt *p,
					enum net_tx_err why)
{
	p->verdict = NET_TX_FATAL;
	p->err = why;
	p->nslots = 0;
	return NET_TX_FATAL;
}

static void set_err(struct net_tx_pkt *p, enum net_tx_err e)
{
	if (p->err == NET_TX_OK)
		p->err = e;
}

static void decode_extra(const struct netif_extra_info *x,
			 struct net_tx_pkt *p)
{
	switch (x->type) {
	case XEN_NETIF_EXTRA_TYPE_GSO:
		if ((x->u.gso.type != XEN_NETIF_GSO_TYPE_TCPV4 &&
		     x->u.gso.type != XEN_NETIF_GSO_TYPE_TCPV6) ||
		    !x->u.gso.size) {
			set_err(p, NET_TX_E_GSO);
			break;
		}
		p->gso = true;
		p->gso_type = x->u.gso.type;
		p->gso_size = x->u.gso.size;
		break;
	case XEN_NETIF_EXTRA_TYPE_MCAST_ADD:
		p->mcast_add = true;
		memcpy(p->mcast_addr, x->u.mcast.addr, 6);
		break;
	case XEN_NETIF_EXTRA_TYPE_MCAST_DEL:
		p->mcast_del = true;
		memcpy(p->mcast_addr, x->u.mcast.addr, 6);
		break;
	case XEN_NETIF_EXTRA_TYPE_HASH:
		/* The guest's own hash of what it sends: the host side
		 * computes its own; accepted and ignored. */
		break;
	default:
		set_err(p, NET_TX_E_EXTRA);
		break;
	}
}

enum net_tx_verdict net_tx_decode(const union net_tx_slot *s, uint32_t n,
				  const struct net_tx_limits *lim,
				  struct net_tx_pkt *p)
{
	const struct netif_tx_request *first = &s[0].req;
	uint32_t max_slots = lim->max_slots, fatal_slots = lim->fatal_slots;
	uint32_t i = 1, ndata = 1, sum = 0;
	bool more;

	memset(p, 0, sizeof(*p));
	if (fatal_slots > NET_TX_FATAL_SLOTS_MAX)
		fatal_slots = NET_TX_FATAL_SLOTS_MAX;
	if (max_slots > fatal_slots)
		max_slots = fatal_slots;
	p->flags = first->flags;
	p->len = first->size;

	if (first->flags & NETTXF_extra_info) {
		bool emore = true;

		while (emore) {
			if (i >= n)
				return decode_fatal(p, NET_TX_F_CHAIN);
			if (p->nextras == NET_TX_MAX_EXTRAS)
				return decode_fatal(p, NET_TX_F_EXTRAS);
			decode_extra(&s[i].extra, p);
			emore = s[i].extra.flags & XEN_NETIF_EXTRA_FLAG_MORE;
			p->nextras++;
			i++;
		}
	}

	more = first->flags & NETTXF_more_data;
	while (more) {
		const struct netif_tx_request *t;

		if (i >= n)
			return decode_fatal(p, NET_TX_F_CHAIN);
		if (ndata >= fatal_slots)
			return decode_fatal(p, NET_TX_F_SLOTS);
		if (ndata >= max_slots)
			set_err(p, NET_TX_E_SLOTS);
		t = &s[i].req;
		/* A frame over 64 KiB overflowed the first slot's size:
		 * the rest then looks larger than the packet (buggy
		 * frontends do this: drop, not fatal). */
		if (sum + t->size > first->size)
			set_err(p, NET_TX_E_SIZE);
		sum += t->size;
		if ((uint32_t)t->offset + t->size > XB_PAGE_SIZE)
			set_err(p, NET_TX_E_PAGE);
		more = t->flags & NETTXF_more_data;
		ndata++;
		i++;
	}
	p->nslots = i;
	if (sum <= first->size) {
		p->first_len = first->size - sum;
		if ((uint32_t)first->offset + p->first_len > XB_PAGE_SIZE)
			set_err(p, NET_TX_E_PAGE);
	}

	/* Multicast control packets carry no frame (xen-netback answers
	 * them before looking at the data). */
	if ((p->mcast_add || p->mcast_del) &&
	    (p->err == NET_TX_OK || p->err == NET_TX_E_SIZE ||
	     p->err == NET_TX_E_PAGE)) {
		p->err = NET_TX_OK;
		p->verdict = NET_TX_CTRL;
		return NET_TX_CTRL;
	}
	if (p->err == NET_TX_OK && p->first_len < NET_ETH_HLEN)
		p->err = NET_TX_E_SHORT;
	p->verdict = p->err == NET_TX_OK ? NET_TX_SEND : NET_TX_DROP;
	return p->verdict;
}

uint32_t net_tx_place(uint32_t used, const union net_tx_slot *s,
		      const struct net_tx_pkt *p)
{
	uint32_t i = 1 + p->nextras, want;

	if (i >= p->nslots)
		return used;
	want = (s[i].req.offset - p->first_len) & (XB_PAGE_SIZE - 1);
	return used + ((want - used) & (XB_PAGE_SIZE - 1));
}

int net_tx_peek(struct xb_back_ring *r, union net_tx_slot *out, uint32_t max,
		uint32_t *count)
{
	RING_IDX prod;
	uint32_t n, i;
	int ret;

	ret = xb_ring_get_req_prod(r, &prod);
	if (ret)
		return ret;
	n = xb_ring_reqs_avail(r, prod);
	if (n > max)
		n = max;
	for (i = 0; i < n; i++)
		memcpy(&out[i], xb_ring_slot(r, r->req_cons + i), sizeof(out[i]));
	*count = n;
	return 0;
}

/* ---- the queue's TX path ---- */

bool net_tx_backlogged(const struct net_queue *q)
{
	return q->tx_pend_count != 0;
}

static void tx_flush_port(struct net_queue *q)
{
	int r;

	if (!q->tx_pend_count)
		return;
	r = q->cfg.port_ops->tx_burst(q->cfg.port, q->cfg.index,
				      q->tx_frames + q->tx_pend_first,
				      q->tx_pend_count);
	if (r < 0) {
		/* A broken port: what it cannot take is lost. */
		net_stat_add(&q->stats, NET_ST_TX_PORT_DROPS, q->tx_pend_count);
		r = (int)q->tx_pend_count;
	}
	if ((uint32_t)r < q->tx_pend_count)
		net_stat_add(&q->stats, NET_ST_TX_PORT_BUSY, 1);
	q->tx_pend_first += (uint32_t)r;
	q->tx_pend_count -= (uint32_t)r;
	net_state_store(&q->cfg.state->tx_out_first, q->tx_pend_first);
}

/* The frames about to be answered, for a successor (state.h). */
static void tx_journal(struct net_queue *q, uint32_t nframes)
{
	struct net_state_queue *s = q->cfg.state;
	uint32_t i;

	for (i = 0; i < nframes; i++) {
		const struct net_frame *f = &q->tx_frames[i];

		s->tx_out[i] = (struct net_state_frame){
			.off = (uint32_t)(f->data - q->tx_bufs),
			.len = f->len,
			.vnet = f->vnet,
		};
	}
	net_state_store(&s->tx_out_first, 0);
	net_state_store(&s->tx_out_end, nframes);
	net_state_store(&s->tx_out_batch, q->tx.req_cons);
}

int net_tx_adopt_frames(struct net_queue *q)
{
	const struct net_state_queue *s = q->cfg.state;
	uint32_t first = s->tx_out_first, end = s->tx_out_end, i;

	/* The journal of an older batch, or one whose frames all went. */
	if (s->tx_out_batch != q->tx.req_cons || first == end)
		return 0;
	/* The predecessor's writes: trusted to stay in bounds by nobody. */
	if (first > end || end > NET_TX_BATCH)
		return -EUCLEAN;
	for (i = first; i < end; i++) {
		const struct net_state_frame *j = &s->tx_out[i];
		struct net_frame *f = &q->tx_frames[i];

		if (j->len < NET_ETH_HLEN || j->len > NET_FRAME_MAX ||
		    j->off > NET_STATE_TX_BUF_BYTES - j->len)
			return -EUCLEAN;
		f->data = q->tx_bufs + j->off;
		f->len = j->len;
		f->vnet = j->vnet;
	}
	q->tx_pend_first = first;
	q->tx_pend_count = end - first;
	net_stat_add(&q->stats, NET_ST_TX_RESENT, end - first);
	return 0;
}

static void tx_respond(struct net_queue *q, uint16_t id, int16_t status)
{
	struct netif_tx_response rsp = { .id = id, .status = status };

	memcpy(xb_ring_slot(&q->tx, q->tx.rsp_prod_pvt), &rsp, sizeof(rsp));
	q->tx.rsp_prod_pvt++;
	q->tx_dirty = true;
}

/* Every slot of a packet gets a response: data slots the packet's status
 * under their own id, extra-info slots NETIF_RSP_NULL. */
static void tx_respond_pkt(struct net_queue *q, const struct net_tx_ent *e,
			   int16_t status)
{
	const union net_tx_slot *s = q->tx_win + e->slot0;
	uint32_t i;

	for (i = 0; i < e->pkt.nslots; i++) {
		if (i >= 1 && i <= e->pkt.nextras)
			tx_respond(q, 0, NETIF_RSP_NULL);
		else
			tx_respond(q, s[i].req.id, status);
	}
	if (status != NETIF_RSP_OKAY)
		net_stat_add(&q->stats, NET_ST_TX_ERR_RSPS, 1);
	net_stat_add(&q->stats, NET_ST_TX_SLOTS, e->pkt.nslots);
}

static void tx_reject(struct net_queue *q, const struct net_tx_ent *e,
		      enum net_tx_err why)
{
	net_stat_add(&q->stats, (enum net_stat)(NET_ST_TX_ERR_FIRST + why), 1);
	if (xb_ratelimit_ok(&q->rl))
		xb_warn("dom%u queue %u: TX packet refused: %s", q->cfg.domid,
			q->cfg.index, net_tx_err_name(why));
	tx_respond_pkt(q, e, NETIF_RSP_ERROR);
}

static int16_t tx_mcast(struct net_queue *q, const struct net_tx_pkt *p)
{
	int ret = 0;

	net_stat_add(&q->stats, NET_ST_TX_MCAST_OPS, 1);
	pthread_mutex_lock(q->cfg.mcast_lock);
	if (p->mcast_add)
		ret = net_mcast_add(q->cfg.mcast, p->mcast_addr);
	if (!ret && p->mcast_del)
		ret = net_mcast_del(q->cfg.mcast, p->mcast_addr);
	pthread_mutex_unlock(q->cfg.mcast_lock);
	return ret ? NETIF_RSP_ERROR : NETIF_RSP_OKAY;
}

static uint32_t tx_add_seg(struct net_queue *q, uint32_t seg,
			   const struct netif_tx_request *t, uint16_t len,
			   uint8_t *dst)
{
	struct xb_gcopy_seg *c = &q->gcopy[seg];

	memset(c, 0, sizeof(*c));
	c->source.foreign.ref = t->gref;
	c->source.foreign.offset = t->offset;
	c->source.foreign.domid = q->cfg.domid;
	c->dest.virt = dst;
	c->len = len;
	c->flags = GNTCOPY_source_gref;
	return seg + 1;
}

/* Queue the grant copies of a SEND packet's data into its frame, which
 * starts at @start in the TX buffers (net_tx_place; net_tx_run checked
 * the room). The next frame starts after it, 64-byte aligned. */
static uint32_t tx_plan_copy(struct net_queue *q, struct net_tx_ent *e,
			     uint32_t seg, uint32_t frame, uint32_t start)
{
	const union net_tx_slot *s = q->tx_win + e->slot0;
	uint8_t *buf = q->tx_bufs + start;
	uint32_t i, pos;

	q->tx_buf_used = (start + e->pkt.len + NET_STATE_FRAME_ALIGN - 1) &
			 ~(NET_STATE_FRAME_ALIGN - 1);
	q->tx_frames[frame].data = buf;
	e->frame = frame;
	e->seg0 = seg;
	seg = tx_add_seg(q, seg, &s[0].req, (uint16_t)e->pkt.first_len, buf);
	pos = e->pkt.first_len;
	for (i = 1 + e->pkt.nextras; i < e->pkt.nslots; i++) {
		if (!s[i].req.size)
			continue;
		seg = tx_add_seg(q, seg, &s[i].req, s[i].req.size, buf + pos);
		pos += s[i].req.size;
	}
	e->nsegs = seg - e->seg0;
	return seg;
}

/* The copied packet as a frame; -errno (a NET_TX_E_* reason in *why). */
static int tx_build_frame(struct net_queue *q, const struct net_tx_ent *e,
			  enum net_tx_err *why)
{
	const struct net_tx_pkt *p = &e->pkt;
	struct net_frame *f = &q->tx_frames[e->frame];
	bool blank = p->flags & NETTXF_csum_blank;
	uint32_t i;

	for (i = 0; i < e->nsegs; i++) {
		if (q->gcopy[e->seg0 + i].status != GNTST_okay) {
			*why = NET_TX_E_GRANT;
			return -EFAULT;
		}
	}
	memset(&f->vnet, 0, sizeof(f->vnet));
	f->len = p->len;
	if (blank || p->gso) {
		/* A GSO frame must be partial; some frontends forget the
		 * flag, so the pseudo-header sum is recomputed then. */
		if (net_frame_csum_setup(f->data, f->len, &f->vnet,
					 !blank)) {
			*why = NET_TX_E_CSUM;
			return -EPROTO;
		}
		if (!blank)
			net_stat_add(&q->stats, NET_ST_TX_CSUM_FIXUP, 1);
		else
			net_stat_add(&q->stats, NET_ST_TX_CSUM_BLANK, 1);
		f->vnet.csum_start = htole16(f->vnet.csum_start);
		f->vnet.csum_offset = htole16(f->vnet.csum_offset);
		f->vnet.hdr_len = htole16(f->vnet.hdr_len);
	} else if (p->flags & NETTXF_data_validated) {
		f->vnet.flags = VIRTIO_NET_HDR_F_DATA_VALID;
	}
	if (p->gso) {
		f->vnet.gso_type = p->gso_type == XEN_NETIF_GSO_TYPE_TCPV4
					   ? VIRTIO_NET_HDR_GSO_TCPV4
					   : VIRTIO_NET_HDR_GSO_TCPV6;
		f->vnet.gso_size = htole16(p->gso_size);
		net_stat_add(&q->stats, NET_ST_TX_GSO, 1);
	}
	return 0;
}

/* Per packet, once its data is copied: the status it is answered with
 * (e->status) and, for a frame that goes out, its place among the frames
 * handed to the port. Returns the frames to send. */
static uint32_t tx_build_frames(struct net_queue *q, uint32_t npk)
{
	uint32_t i, nframes = 0;

	for (i = 0; i < npk; i++) {
		struct net_tx_ent *e = &q->tx_ents[i];
		enum net_tx_err why = NET_TX_OK;

		if (e->pkt.verdict == NET_TX_CTRL) {
			if (e->status != NETIF_RSP_OKAY)
				e->pkt.err = NET_TX_E_MCAST;
			continue;
		}
		if (e->pkt.verdict != NET_TX_SEND)
			continue;
		if (tx_build_frame(q, e, &why)) {
			e->pkt.err = why;
			e->status = NETIF_RSP_ERROR;
			continue;
		}
		e->status = NETIF_RSP_OKAY;
		/* Frames are packed in order: a rejected one leaves no hole
		 * for the port. */
		if (e->frame != nframes)
			q->tx_frames[nframes] = q->tx_frames[e->frame];
		nframes++;
		net_stat_add(&q->stats, NET_ST_TX_PACKETS, 1);
		net_stat_add(&q->stats, NET_ST_TX_BYTES, e->pkt.len);
	}
	return nframes;
}

static void tx_respond_all(struct net_queue *q, uint32_t npk)
{
	uint32_t i;

	for (i = 0; i < npk; i++) {
		struct net_tx_ent *e = &q->tx_ents[i];

		switch (e->pkt.verdict) {
		case NET_TX_DROP:
			tx_reject(q, e, e->pkt.err);
			break;
		case NET_TX_CTRL:
		case NET_TX_SEND:
			if (e->status != NETIF_RSP_OKAY)
				tx_reject(q, e, e->pkt.err);
			else
				tx_respond_pkt(q, e, NETIF_RSP_OKAY);
			break;
		case NET_TX_FATAL:
			break;
		}
	}
}

uint32_t net_tx_run(struct net_queue *q)
{
	uint32_t count, off = 0, npk = 0, nseg = 0, nframes = 0, i;
	bool replay = q->tx_replay != 0;
	uint64_t wait_ns;
	int ret;

	if (q->tx_pend_count) {
		tx_flush_port(q);
		if (q->tx_pend_count)
			return 0;
	}
	if (!replay && q->tx_resume_ns && q->now_ns < q->tx_resume_ns)
		return 0;
	q->tx_resume_ns = 0;
	q->tx_buf_used = 0;
	if (replay) {
		/* Adopted: the predecessor's last batch, consumed and not
		 * answered, is in tx_win already (state.h). */
		count = q->tx_replay;
	} else {
		ret = net_tx_peek(&q->tx, q->tx_win, q->tx.nr_ents, &count);
		if (ret) {
			net_queue_fail(q, "impossible TX request producer");
			return 0;
		}
	}

	while (off < count && npk < NET_TX_BATCH) {
		struct net_tx_ent *e = &q->tx_ents[npk];
		enum net_tx_verdict v;
		uint32_t start = 0;

		v = net_tx_decode(q->tx_win + off, count - off,
				  &q->cfg.tx_limits, &e->pkt);
		if (v == NET_TX_FATAL) {
			net_stat_add(&q->stats, (enum net_stat)
				     (NET_ST_TX_ERR_FIRST + e->pkt.err), 1);
			net_queue_fail(q, net_tx_err_name(e->pkt.err));
			break;
		}
		if (v == NET_TX_SEND) {
			start = net_tx_place(q->tx_buf_used, q->tx_win + off,
					     &e->pkt);
			if (nseg + e->pkt.nslots > NET_GCOPY_MAX ||
			    (size_t)start + e->pkt.len > NET_STATE_TX_BUF_BYTES)
				break;
			if (!replay && q->credit.bytes &&
			    !net_credit_take(&q->credit, q->now_ns, e->pkt.len,
					     &wait_ns)) {
				q->tx_resume_ns = q->now_ns + (wait_ns ? wait_ns
								       : 1000000);
				net_stat_add(&q->stats, NET_ST_TX_CREDIT_WAITS, 1);
				break;
			}
		}
		e->slot0 = off;
		e->nsegs = 0;
		e->status = NETIF_RSP_OKAY;
		if (v == NET_TX_SEND)
			nseg = tx_plan_copy(q, e, nseg, nframes++, start);
		else if (v == NET_TX_CTRL)
			e->status = tx_mcast(q, &e->pkt);
		off += e->pkt.nslots;
		npk++;
	}
	if (replay) {
		/* The same slots decode into the same packets, which fitted
		 * one batch before: anything else is not our journal. */
		q->tx_replay = 0;
		if (off != count) {
			net_queue_fail(q, "adopted TX batch does not decode "
				       "as it did");
			return 0;
		}
	} else {
		q->tx.req_cons += off;
		/* From here on slots [W, req_cons) may take responses: the
		 * copies in tx_win are what a successor replays. */
		net_state_store(&q->cfg.state->tx_req_cons, q->tx.req_cons);
	}
	if (!npk)
		return 0;

	if (nseg) {
		net_stat_add(&q->stats, NET_ST_GCOPY_CALLS, 1);
		net_stat_add(&q->stats, NET_ST_GCOPY_SEGS, nseg);
		ret = xb_gnt_copy(q->gnt, nseg, q->gcopy);
		if (ret) {
			net_stat_add(&q->stats, NET_ST_GCOPY_ERRORS, 1);
			for (i = 0; i < nseg; i++)
				q->gcopy[i].status = GNTST_general_error;
		}
	}

	/* Answered before the port write, once the frames are journaled in
	 * the state: a successor sends what the port had not taken
	 * (state.h). */
	q->tx_pend_first = 0;
	q->tx_pend_count = tx_build_frames(q, npk);
	tx_journal(q, q->tx_pend_count);
	tx_respond_all(q, npk);
	net_state_store(&q->cfg.state->tx_rsp_written, q->tx.rsp_prod_pvt);
	net_queue_push(q, &q->tx, q->tx_port);
	tx_flush_port(q);
	return npk;
}
