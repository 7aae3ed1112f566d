/* SPDX-License-Identifier: MIT */
/*
 * Frames from the port -> the guest's RX ring.
 *
 * Frames are read from the port in bursts into a private stash. Each one
 * is planned (net_rx_plan: pages, GSO and hash extras, checksum flags),
 * filtered (multicast control), then given as many of the guest's posted
 * requests as it needs: each request is copied to private memory once,
 * its page filled by grant copy (the whole batch in one call), and its
 * response written in the same ring slot, echoing the guest's id (ids are
 * never used as indices here). Push and notify once per batch.
 *
 * A guest that posts no buffers: the stash waits (we stop reading the
 * port, whose own queue then drops and counts), armed on the RX event
 * channel; after rx_stall_ms the stash is dropped and counted. No spinning.
 */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "queue_priv.h"

_Static_assert(sizeof(union net_rx_slot) == sizeof(union netif_rx_sring_entry),
	       "RX slot copies must match the ring's slot size");

void net_rx_plan(const struct net_frame *f, const struct net_rx_guest *g,
		 uint32_t hash_type, uint32_t hash_value,
		 struct net_rx_plan *p)
{
	uint8_t gso = f->vnet.gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;

	memset(p, 0, sizeof(*p));
	if (!f->len) {
		p->err = NET_RX_E_EMPTY;
		return;
	}
	if (f->len > NET_FRAME_MAX || (!g->sg && f->len > XB_PAGE_SIZE)) {
		p->err = NET_RX_E_TOO_BIG;
		return;
	}
	p->ndata = (f->len + XB_PAGE_SIZE - 1) / XB_PAGE_SIZE;
	if (gso != VIRTIO_NET_HDR_GSO_NONE) {
		if (gso == VIRTIO_NET_HDR_GSO_TCPV4 && g->gso4 && g->sg)
			p->gso_type = XEN_NETIF_GSO_TYPE_TCPV4;
		else if (gso == VIRTIO_NET_HDR_GSO_TCPV6 && g->gso6 && g->sg)
			p->gso_type = XEN_NETIF_GSO_TYPE_TCPV6;
		else {
			p->err = NET_RX_E_GSO;
			return;
		}
		p->gso_size = le16toh(f->vnet.gso_size);
		if (!p->gso_size) {
			p->err = NET_RX_E_GSO;
			return;
		}
		p->gso = true;
	}
	if (f->vnet.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		bool v6 = net_frame_is_ipv6(f->data, f->len);

		if (g->csum && (!v6 || g->csum6))
			p->flags = NETRXF_csum_blank | NETRXF_data_validated;
		else if (p->gso)
			p->err = NET_RX_E_CSUM;   /* cannot complete a GSO sum */
		else
			p->sw_csum = true;
	} else if (f->vnet.flags & VIRTIO_NET_HDR_F_DATA_VALID) {
		p->flags = NETRXF_data_validated;
	}
	if (p->err)
		return;
	if (hash_type) {
		p->hash = true;
		p->hash_type = (uint8_t)__builtin_ctz(hash_type);
		p->hash_value = hash_value;
	}
	if (p->gso || p->hash)
		p->flags |= NETRXF_extra_info;
	if (p->sw_csum)
		p->flags |= NETRXF_data_validated;
	p->nslots = p->ndata + (p->gso ? 1u : 0u) + (p->hash ? 1u : 0u);
}

void net_rx_build_rsps(const struct net_rx_plan *p, uint32_t len,
		       bool failed, const struct netif_rx_request *reqs,
		       union net_rx_slot *out)
{
	uint32_t nextra = p->nslots - p->ndata, slot = 0, d;

	for (d = 0; d < p->ndata; d++) {
		struct netif_rx_response *r = &out[slot].rsp;
		uint32_t chunk = len - d * XB_PAGE_SIZE;

		if (chunk > XB_PAGE_SIZE)
			chunk = XB_PAGE_SIZE;
		memset(&out[slot], 0, sizeof(out[slot]));
		r->id = reqs[slot].id;
		r->offset = 0;
		r->flags = d == 0 ? p->flags : 0;
		if (d + 1 < p->ndata)
			r->flags |= NETRXF_more_data;
		r->status = failed ? NETIF_RSP_ERROR : (int16_t)chunk;
		slot++;
		/* Extras follow the first data slot. */
		if (d == 0 && nextra) {
			if (p->gso) {
				struct netif_extra_info *x = &out[slot].extra;

				memset(&out[slot], 0, sizeof(out[slot]));
				x->type = XEN_NETIF_EXTRA_TYPE_GSO;
				x->flags = p->hash ? XEN_NETIF_EXTRA_FLAG_MORE : 0;
				x->u.gso.size = p->gso_size;
				x->u.gso.type = p->gso_type;
				slot++;
			}
			if (p->hash) {
				struct netif_extra_info *x = &out[slot].extra;

				memset(&out[slot], 0, sizeof(out[slot]));
				x->type = XEN_NETIF_EXTRA_TYPE_HASH;
				x->u.hash.type = p->hash_type;
				x->u.hash.algorithm =
					XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ;
				memcpy(x->u.hash.value, &p->hash_value, 4);
				slot++;
			}
		}
	}
}

/* ---- the queue's RX path ---- */

static void rx_drop(struct net_queue *q, enum net_rx_err why)
{
	net_stat_add(&q->stats, (enum net_stat)(NET_ST_RX_ERR_FIRST + why), 1);
}

static bool rx_mcast_pass(struct net_queue *q, const struct net_frame *f)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	bool pass;

	if (!q->cfg.mcast_ctrl || f->len < 6 || !(f->data[0] & 1) ||
	    !memcmp(f->data, bcast, 6))
		return true;
	pthread_mutex_lock(q->cfg.mcast_lock);
	pass = net_mcast_pass(q->cfg.mcast, f->data);
	pthread_mutex_unlock(q->cfg.mcast_lock);
	return pass;
}

/* The hash of each fresh port frame, when the control ring turned
 * hashing on (the extra-info value and the steering key). */
static void rx_hash_batch(struct net_queue *q, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++) {
		struct net_steer_meta *m = &q->rx_meta[i];
		const struct net_frame *f = &q->rx_frames[i];

		m->hash_type = 0;
		m->hash_value = 0;
		if (q->cfg.hash && f->len &&
		    !net_hash_frame(q->cfg.hash, f->data, f->len,
				    &m->hash_value, &m->hash_type))
			m->hash_type = 0;
	}
}

/*
 * Frames the mapping table sends to another queue are copied to that
 * queue's hand-off ring (or dropped if it is full); the rest stay in the
 * stash, in order (frame structs are swapped, so every buffer stays
 * ours). Returns how many stay.
 */
static uint32_t rx_steer_out(struct net_queue *q, uint32_t n)
{
	uint32_t i, kept = 0;
	unsigned int t;

	for (i = 0; i < n; i++) {
		const struct net_steer_meta *m = &q->rx_meta[i];

		if (m->hash_type &&
		    net_hash_map(q->cfg.hash, m->hash_value, q->cfg.nr_queues,
				 &t) && t != q->cfg.index) {
			if (net_steer_push(q->cfg.steer, q->cfg.index, t,
					   &q->rx_frames[i], m))
				net_stat_add(&q->stats, NET_ST_RX_STEER_OUT, 1);
			else
				rx_drop(q, NET_RX_E_STEER_FULL);
			q->rx_moved++;
			continue;
		}
		if (kept != i) {
			struct net_frame tmp = q->rx_frames[kept];

			q->rx_frames[kept] = q->rx_frames[i];
			q->rx_frames[i] = tmp;
			q->rx_meta[kept] = *m;
		}
		kept++;
	}
	net_steer_publish(q->cfg.steer, q->cfg.index);
	return kept;
}

static uint32_t rx_from_port(struct net_queue *q)
{
	int n;

	if (q->port_broken)
		return 0;
	n = q->cfg.port_ops->rx_burst(q->cfg.port, q->cfg.index, q->rx_frames,
				      NET_RX_BATCH);
	if (n < 0) {
		/* Never spin on a broken port: stop reading it. */
		net_stat_add(&q->stats, NET_ST_RX_PORT_ERRORS, 1);
		if (xb_ratelimit_ok(&q->rl))
			xb_err("dom%u queue %u: port receive failed: %s",
			       q->cfg.domid, q->cfg.index, strerror(-n));
		q->port_broken = true;
		return 0;
	}
	rx_hash_batch(q, (uint32_t)n);
	if (q->cfg.steer && n)
		return rx_steer_out(q, (uint32_t)n);
	return (uint32_t)n;
}

/*
 * Refill the empty stash from one source: with steering, the sources
 * (the port and each other queue's hand-off ring) take turns, so that
 * neither a busy port nor a busy neighbour starves the other. Frames
 * from a ring are used in place and given back at the next refill.
 */
static void rx_fill(struct net_queue *q)
{
	unsigned int nr = q->cfg.steer ? q->cfg.nr_queues : 1, k, src;
	uint32_t n;

	if (q->rx_count)
		return;
	if (q->rx_in_n) {
		net_steer_release(q->cfg.steer, q->rx_in_src, q->cfg.index,
				  q->rx_in_n);
		q->rx_in_n = 0;
	}
	q->rx_stash = q->rx_frames;
	for (k = 0; k < nr; k++) {
		src = (q->rx_next_src + k) % nr;
		if (q->cfg.steer && src != q->cfg.index) {
			n = net_steer_peek(q->cfg.steer, src, q->cfg.index,
					   q->rx_in_frames, q->rx_meta,
					   NET_RX_BATCH);
			if (!n)
				continue;
			q->rx_stash = q->rx_in_frames;
			q->rx_in_src = src;
			q->rx_in_n = n;
			net_stat_add(&q->stats, NET_ST_RX_STEER_IN, n);
		} else {
			n = rx_from_port(q);
			if (!n)
				continue;
		}
		q->rx_next_src = src + 1;
		q->rx_head = 0;
		q->rx_count = n;
		return;
	}
}

bool net_rx_ready(struct net_queue *q)
{
	rx_fill(q);
	return q->rx_count != 0;
}

static void rx_plan_copy(struct net_queue *q, struct net_rx_ent *e,
			 struct net_frame *f, uint32_t seg)
{
	const struct netif_rx_request *reqs = q->rx_reqs + e->req0;
	uint32_t d, slot = 0;

	e->seg0 = seg;
	for (d = 0; d < e->plan.ndata; d++) {
		struct xb_gcopy_seg *c = &q->gcopy[seg++];
		uint32_t chunk = f->len - d * XB_PAGE_SIZE;

		if (chunk > XB_PAGE_SIZE)
			chunk = XB_PAGE_SIZE;
		memset(c, 0, sizeof(*c));
		c->source.virt = f->data + (size_t)d * XB_PAGE_SIZE;
		c->dest.foreign.ref = reqs[slot].gref;
		c->dest.foreign.offset = 0;
		c->dest.foreign.domid = q->cfg.domid;
		c->len = (uint16_t)chunk;
		c->flags = GNTCOPY_dest_gref;
		slot += d == 0 ? 1 + (e->plan.nslots - e->plan.ndata) : 1;
	}
	e->nsegs = seg - e->seg0;
}

/*
 * The next request a frame may use: a buffer the predecessor consumed
 * and never answered (adopted, from the mirror: its ring slot may hold
 * a response by now), else the next ring slot, copied once to private
 * memory and to the mirror (state.h).
 */
static void rx_take_req(struct net_queue *q, struct netif_rx_request *dst)
{
	struct netif_rx_request *m = q->cfg.state->rx_mirror;
	uint32_t mask = q->rx.nr_ents - 1;

	if (q->rx_reuse_next != q->rx_reuse_end) {
		*dst = m[q->rx_reuse_next++ & mask];
		return;
	}
	memcpy(dst, xb_ring_slot(&q->rx, q->rx.req_cons), sizeof(*dst));
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	m[q->rx.req_cons & mask] = *dst;
	q->rx.req_cons++;
}

uint32_t net_rx_run(struct net_queue *q)
{
	union net_rx_slot out[NET_RX_MAX_SLOTS];
	uint32_t avail, nf = 0, nseg = 0, nreq = 0, handled, i, j;
	RING_IDX prod;
	int ret;

	q->rx_moved = 0;
	rx_fill(q);
	handled = q->rx_moved;
	if (!q->rx_count)
		return handled;
	if (xb_ring_get_req_prod(&q->rx, &prod)) {
		net_queue_fail(q, "impossible RX request producer");
		return 0;
	}
	/* Adopted buffers first: xb_ring_reqs_avail counts them as
	 * consumed, so the two never exceed the ring. */
	avail = xb_ring_reqs_avail(&q->rx, prod) +
		(q->rx_reuse_end - q->rx_reuse_next);
	q->rx_blocked = false;

	while (q->rx_count && nf < NET_RX_BATCH) {
		struct net_frame *f = &q->rx_stash[q->rx_head];
		const struct net_steer_meta *m = &q->rx_meta[q->rx_head];
		struct net_rx_ent *e = &q->rx_ents[nf];

		net_rx_plan(f, &q->cfg.guest, m->hash_type, m->hash_value,
			    &e->plan);
		if (e->plan.err == NET_RX_OK && !rx_mcast_pass(q, f))
			e->plan.err = NET_RX_E_MCAST;
		if (e->plan.err == NET_RX_OK && e->plan.sw_csum &&
		    net_frame_csum_complete(f->data, f->len, &f->vnet))
			e->plan.err = NET_RX_E_CSUM;
		if (e->plan.err != NET_RX_OK) {
			rx_drop(q, e->plan.err);
			q->rx_head++;
			q->rx_count--;
			handled++;
			continue;
		}
		if (e->plan.nslots > avail) {
			q->rx_blocked = true;
			break;
		}
		if (e->plan.sw_csum)
			net_stat_add(&q->stats, NET_ST_RX_CSUM_SW, 1);
		e->frame = q->rx_head;
		e->req0 = nreq;
		for (j = 0; j < e->plan.nslots; j++)
			rx_take_req(q, &q->rx_reqs[nreq + j]);
		nreq += e->plan.nslots;
		avail -= e->plan.nslots;
		rx_plan_copy(q, e, f, nseg);
		nseg += e->nsegs;
		q->rx_head++;
		q->rx_count--;
		nf++;
		handled++;
	}

	/* From here on slots [W, req_cons) may take responses: the copies
	 * in rx_mirror are what a successor reuses. */
	net_state_store(&q->cfg.state->rx_req_cons, q->rx.req_cons);
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
	for (i = 0; i < nf; i++) {
		struct net_rx_ent *e = &q->rx_ents[i];
		struct net_frame *f = &q->rx_stash[e->frame];
		bool failed = false;

		for (j = 0; j < e->nsegs; j++)
			if (q->gcopy[e->seg0 + j].status != GNTST_okay)
				failed = true;
		net_rx_build_rsps(&e->plan, f->len, failed, q->rx_reqs + e->req0,
				  out);
		for (j = 0; j < e->plan.nslots; j++) {
			memcpy(xb_ring_slot(&q->rx, q->rx.rsp_prod_pvt), &out[j],
			       sizeof(out[j]));
			q->rx.rsp_prod_pvt++;
		}
		q->rx_dirty = true;
		net_stat_add(&q->stats, NET_ST_RX_SLOTS, e->plan.nslots);
		if (failed) {
			rx_drop(q, NET_RX_E_GRANT);
			net_stat_add(&q->stats, NET_ST_RX_ERR_RSPS, 1);
			if (xb_ratelimit_ok(&q->rl))
				xb_warn("dom%u queue %u: RX buffer refused "
					"(bad grant)", q->cfg.domid,
					q->cfg.index);
			continue;
		}
		net_stat_add(&q->stats, NET_ST_RX_PACKETS, 1);
		net_stat_add(&q->stats, NET_ST_RX_BYTES, f->len);
		if (e->plan.gso)
			net_stat_add(&q->stats, NET_ST_RX_GSO, 1);
		if (e->plan.hash)
			net_stat_add(&q->stats, NET_ST_RX_HASH, 1);
	}
	net_state_store(&q->cfg.state->rx_rsp_written, q->rx.rsp_prod_pvt);
	net_queue_push(q, &q->rx, q->rx_port);

	/* The stall clock runs from the last frame the guest took. */
	if (q->rx_blocked) {
		if (nf || !q->rx_blocked_ns)
			q->rx_blocked_ns = q->now_ns;
		net_stat_add(&q->stats, NET_ST_RX_WAIT_SLOTS, 1);
	} else {
		q->rx_blocked_ns = 0;
	}
	if (q->rx_blocked && !nf) {
		uint64_t stall = (uint64_t)(q->cfg.rx_stall_ms
					    ? q->cfg.rx_stall_ms
					    : NET_DEFAULT_RX_STALL_MS) * 1000000;

		if (q->now_ns - q->rx_blocked_ns >= stall) {
			net_stat_add(&q->stats, NET_ST_RX_ERR_FIRST +
				     NET_RX_E_STALLED, q->rx_count);
			handled += q->rx_count;
			q->rx_count = 0;
			q->rx_blocked = false;
			q->rx_blocked_ns = 0;
		}
	}
	return handled;
}
