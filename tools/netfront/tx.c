/* SPDX-License-Identifier: MIT */
/*
 * netfront TX: frames into the TX ring through the queue's pool of granted
 * pages (one per request id), multicast extras, reaping responses, and
 * publishing both rings. No malloc, no logging.
 */
#include <errno.h>
#include <string.h>

#include <linux/virtio_net.h>

#include "netfront_priv.h"

void nf_tx_init(struct nf_queue *q)
{
	unsigned int i;

	q->tx_nfree = 0;
	for (i = NF_RING_ENTS; i-- > 0;) {
		q->tx_free[q->tx_nfree++] = (uint16_t)i;
		q->tx_inuse[i] = false;
	}
}

static struct nf_queue *txq(struct netfront *nf, unsigned int q)
{
	if (!nf->connected || q >= nf->nr_queues)
		return NULL;
	return &nf->queues[q];
}

static unsigned int ring_free(const struct nf_ring *r)
{
	return r->nr_ents - (RING_IDX)(r->req_prod_pvt - r->rsp_cons);
}

unsigned int netfront_tx_space(const struct netfront *nf, unsigned int q)
{
	const struct nf_queue *tq;
	unsigned int f;

	if (q >= nf->nr_queues)
		return 0;
	tq = &nf->queues[q];
	f = ring_free(&tq->tx);
	return f < tq->tx_nfree + 1 ? f : tq->tx_nfree + 1;
}

static int check_meta(const struct netfront *nf,
		      const struct netfront_meta *m, size_t len)
{
	const struct netfront_info *i = &nf->info;

	if (!m)
		return 0;
	if (m->csum == NETFRONT_CSUM_PARTIAL && !i->tx_csum)
		return -EOPNOTSUPP;
	switch (m->gso_type) {
	case NETFRONT_GSO_NONE:
		return 0;
	case NETFRONT_GSO_TCPV4:
		if (!i->gso_tcpv4)
			return -EOPNOTSUPP;
		break;
	case NETFRONT_GSO_TCPV6:
		if (!i->gso_tcpv6)
			return -EOPNOTSUPP;
		break;
	default:
		return -EOPNOTSUPP;
	}
	if (!m->gso_size || len <= 14)
		return -EINVAL;
	return 0;
}

static void tx_post(struct nf_queue *q, const struct netfront_meta *meta,
		    size_t len, unsigned int nslots,
		    const struct netif_extra_info *ex);

int netfront_tx(struct netfront *nf, unsigned int qi,
		const struct netfront_meta *meta, const struct iovec *iov,
		unsigned int iovcnt)
{
	struct nf_queue *q = txq(nf, qi);
	struct netif_extra_info ex;
	unsigned int nslots, s, v = 0;
	size_t len = 0, voff = 0;
	bool gso;
	int ret;

	if (!q)
		return nf->connected ? -EINVAL : -ENOTCONN;
	for (s = 0; s < iovcnt; s++)
		len += iov[s].iov_len;
	if (len < 14)
		return -EINVAL;
	if (len > NETFRONT_MAX_FRAME)
		return -EMSGSIZE;
	ret = check_meta(nf, meta, len);
	if (ret)
		return ret;
	nslots = netfront_wire_tx_slots((uint32_t)len, 0);
	if (nslots > 1 && !nf->info.sg)
		return -EMSGSIZE;
	gso = netfront_wire_gso_extra(meta, &ex);
	if (ring_free(&q->tx) < nslots + (gso ? 1u : 0u) ||
	    q->tx_nfree < nslots) {
		q->st.tx_busy++;
		return -EAGAIN;
	}

	for (s = 0; s < nslots; s++) {
		uint16_t id = q->tx_free[q->tx_nfree - 1 - s];
		uint8_t *dst = q->tx_pool.page[id];
		size_t want = len - (size_t)s * NF_PAGE_SIZE, got = 0;

		if (want > NF_PAGE_SIZE)
			want = NF_PAGE_SIZE;
		while (got < want && v < iovcnt) {
			size_t n = iov[v].iov_len - voff;

			if (n > want - got)
				n = want - got;
			memcpy(dst + got, (const uint8_t *)iov[v].iov_base +
			       voff, n);
			got += n;
			voff += n;
			if (voff == iov[v].iov_len) {
				v++;
				voff = 0;
			}
		}
	}
	tx_post(q, meta, len, nslots, gso ? &ex : NULL);
	return 0;
}

/* Post a frame of @len bytes already in the pool pages on top of the
 * free stack (the next @nslots ids it would hand out), with its GSO
 * extra if @ex. The caller checked ring and pool space. */
static void tx_post(struct nf_queue *q, const struct netfront_meta *meta,
		    size_t len, unsigned int nslots,
		    const struct netif_extra_info *ex)
{
	uint16_t ids[NETFRONT_MAX_SLOTS] = { 0 };
	struct netif_tx_request r;
	unsigned int s;

	for (s = 0; s < nslots; s++) {
		ids[s] = q->tx_free[--q->tx_nfree];
		q->tx_inuse[ids[s]] = true;
	}

	/* First slot: the whole packet's size; the backend derives the
	 * first fragment's size by subtracting the others. */
	r.gref = q->tx_pool.ref[ids[0]];
	r.offset = 0;
	r.flags = netfront_wire_tx_flags(meta);
	if (nslots > 1)
		r.flags |= NETTXF_more_data;
	r.id = ids[0];
	r.size = (uint16_t)len;
	netfront_wire_put_tx(nf_ring_slot(&q->tx, q->tx.req_prod_pvt++), &r);
	if (ex) {
		netfront_wire_put_tx_extra(nf_ring_slot(&q->tx,
							q->tx.req_prod_pvt++),
					   ex);
		q->st.tx_gso++;
	}
	for (s = 1; s < nslots; s++) {
		size_t n = len - (size_t)s * NF_PAGE_SIZE;

		r.gref = q->tx_pool.ref[ids[s]];
		r.offset = 0;
		r.flags = s + 1 < nslots ? NETTXF_more_data : 0;
		r.id = ids[s];
		r.size = (uint16_t)(n > NF_PAGE_SIZE ? NF_PAGE_SIZE : n);
		netfront_wire_put_tx(nf_ring_slot(&q->tx,
						  q->tx.req_prod_pvt++), &r);
	}
	q->st.tx_frames++;
	q->st.tx_bytes += len;
	q->st.tx_slots += nslots;
}

int netfront_tx_buffers(struct netfront *nf, unsigned int qi, size_t max_len,
			struct iovec *iov, unsigned int *iovcnt)
{
	struct nf_queue *q = txq(nf, qi);
	unsigned int nslots, s;

	if (!q)
		return nf->connected ? -EINVAL : -ENOTCONN;
	if (max_len < 14 || max_len > NETFRONT_MAX_FRAME)
		return -EINVAL;
	nslots = netfront_wire_tx_slots((uint32_t)max_len, 0);
	if (nslots > 1 && !nf->info.sg)
		return -EMSGSIZE;
	if (ring_free(&q->tx) < nslots + 1u || q->tx_nfree < nslots) {
		q->st.tx_busy++;
		return -EAGAIN;
	}
	for (s = 0; s < nslots; s++) {
		size_t n = max_len - (size_t)s * NF_PAGE_SIZE;

		iov[s].iov_base = q->tx_pool.page[q->tx_free[q->tx_nfree - 1 - s]];
		iov[s].iov_len = n > NF_PAGE_SIZE ? NF_PAGE_SIZE : n;
	}
	*iovcnt = nslots;
	return 0;
}

int netfront_tx_commit(struct netfront *nf, unsigned int qi,
		       const struct netfront_meta *meta, size_t len)
{
	struct nf_queue *q = txq(nf, qi);
	struct netif_extra_info ex;
	unsigned int nslots;
	bool gso;
	int ret;

	if (!q)
		return nf->connected ? -EINVAL : -ENOTCONN;
	if (len < 14)
		return -EINVAL;
	if (len > NETFRONT_MAX_FRAME)
		return -EMSGSIZE;
	ret = check_meta(nf, meta, len);
	if (ret)
		return ret;
	nslots = netfront_wire_tx_slots((uint32_t)len, 0);
	if (nslots > 1 && !nf->info.sg)
		return -EMSGSIZE;
	gso = netfront_wire_gso_extra(meta, &ex);
	/* netfront_tx_buffers reserved for the largest frame: still true
	 * unless the caller skipped it. */
	if (ring_free(&q->tx) < nslots + (gso ? 1u : 0u) ||
	    q->tx_nfree < nslots) {
		q->st.tx_busy++;
		return -EAGAIN;
	}
	tx_post(q, meta, len, nslots, gso ? &ex : NULL);
	return 0;
}

static bool frame_is_ipv6(const uint8_t *f, size_t len)
{
	size_t off = 12;
	uint16_t t;

	if (len < 14)
		return false;
	t = (uint16_t)(f[off] << 8 | f[off + 1]);
	if ((t == 0x8100 || t == 0x88a8) && len >= 18)
		t = (uint16_t)(f[off + 4] << 8 | f[off + 5]);
	return t == 0x86dd;
}

int netfront_tx_vnet(struct netfront *nf, unsigned int q,
		     const struct virtio_net_hdr *vnet,
		     const struct iovec *iov, unsigned int iovcnt)
{
	struct netfront_meta m;
	int ret;

	ret = netfront_meta_from_vnet(vnet, &m);
	if (ret)
		return ret;
	if (m.csum == NETFRONT_CSUM_PARTIAL && !m.gso_type &&
	    (!nf->info.tx_csum ||
	     (!nf->info.ipv6_csum && iovcnt &&
	      frame_is_ipv6(iov[0].iov_base, iov[0].iov_len)))) {
		/* The backend may not take this blank checksum: fill it. */
		if (iovcnt != 1)
			return -EOPNOTSUPP;
		ret = netfront_csum_complete(iov[0].iov_base, iov[0].iov_len,
					     vnet->csum_start,
					     vnet->csum_offset);
		if (ret)
			return ret;
		m.csum = NETFRONT_CSUM_VALIDATED;
	}
	return netfront_tx(nf, q, &m, iov, iovcnt);
}

int netfront_mcast(struct netfront *nf, bool add, const uint8_t mac[6])
{
	struct nf_queue *q = txq(nf, 0);
	struct netif_extra_info ex = { 0 };
	struct netif_tx_request r;
	uint16_t id;

	if (!q)
		return -ENOTCONN;
	if (!nf->info.multicast_control)
		return -EOPNOTSUPP;
	if (!(mac[0] & 1))
		return -EINVAL;
	if (ring_free(&q->tx) < 2 || !q->tx_nfree)
		return -EAGAIN;
	id = q->tx_free[--q->tx_nfree];
	q->tx_inuse[id] = true;
	/* netback answers the dummy request before looking at its size */
	r.gref = q->tx_pool.ref[id];
	r.offset = 0;
	r.flags = NETTXF_extra_info;
	r.id = id;
	r.size = 0;
	netfront_wire_put_tx(nf_ring_slot(&q->tx, q->tx.req_prod_pvt++), &r);
	ex.type = add ? XEN_NETIF_EXTRA_TYPE_MCAST_ADD
		      : XEN_NETIF_EXTRA_TYPE_MCAST_DEL;
	memcpy(ex.u.mcast.addr, mac, 6);
	netfront_wire_put_tx_extra(nf_ring_slot(&q->tx, q->tx.req_prod_pvt++),
				   &ex);
	q->st.tx_mcast++;
	return 0;
}

int netfront_queue_reap(struct netfront *nf, unsigned int qi)
{
	struct nf_queue *q = txq(nf, qi);
	struct netif_tx_response rsp;
	RING_IDX prod;
	int done = 0;

	if (!q)
		return -EINVAL;
	do {
		prod = __atomic_load_n(&q->tx.hdr->rsp_prod, __ATOMIC_RELAXED);
		xb_rmb();
		/* More responses than requests outstanding: a broken
		 * backend. Take nothing rather than free ids in flight. */
		if ((RING_IDX)(prod - q->tx.rsp_cons) >
		    (RING_IDX)(q->tx.req_prod_pvt - q->tx.rsp_cons)) {
			q->st.bad_tx_responses++;
			return -EIO;
		}
		for (; q->tx.rsp_cons != prod; q->tx.rsp_cons++) {
			netfront_wire_get_tx_rsp(nf_ring_slot(&q->tx,
							       q->tx.rsp_cons),
						 &rsp);
			if (rsp.status == NETIF_RSP_NULL)
				continue;
			if (rsp.id >= NF_RING_ENTS || !q->tx_inuse[rsp.id]) {
				q->st.bad_tx_responses++;
				continue;
			}
			q->tx_inuse[rsp.id] = false;
			q->tx_free[q->tx_nfree++] = rsp.id;
			if (rsp.status != NETIF_RSP_OKAY)
				q->st.tx_errors++;
			done++;
		}
		/* As Linux netfront: ask to be woken when half of what is
		 * outstanding has completed, not on every response; then
		 * the RING_FINAL_CHECK_FOR_RESPONSES re-check. A poller
		 * asks for nothing (NF_RSP_EVENT_AWAY). */
		if (nf->cfg.tx_poll)
			q->tx.hdr->rsp_event = q->tx.rsp_cons +
					       NF_RSP_EVENT_AWAY;
		else
			q->tx.hdr->rsp_event = q->tx.rsp_cons +
				((RING_IDX)(q->tx.req_prod_pvt -
					    q->tx.rsp_cons) >> 1) + 1;
		xb_mb();
	} while (__atomic_load_n(&q->tx.hdr->rsp_prod, __ATOMIC_RELAXED) !=
		 q->tx.rsp_cons);
	return done;
}

bool netfront_queue_tx_arm(struct netfront *nf, unsigned int qi)
{
	struct nf_queue *q = txq(nf, qi);
	RING_IDX out;

	if (!q)
		return false;
	out = q->tx.req_prod_pvt - q->tx.rsp_cons;
	q->tx.hdr->rsp_event = q->tx.rsp_cons + (out ? out : 1);
	xb_mb();
	return __atomic_load_n(&q->tx.hdr->rsp_prod, __ATOMIC_RELAXED) !=
	       q->tx.rsp_cons;
}

int netfront_queue_kick(struct netfront *nf, unsigned int qi)
{
	struct nf_queue *q = txq(nf, qi);
	bool ntx, nrx;
	int ret = 0;

	if (!q)
		return -EINVAL;
	ntx = nf_ring_push(&q->tx);
	nrx = nf_ring_push(&q->rx);
	if (ntx || (nrx && q->rx_port == q->tx_port)) {
		ret = xg_evtchn_notify(nf->dom, q->tx_port);
		q->st.notifies_sent++;
	}
	if (nrx && q->rx_port != q->tx_port) {
		int r = xg_evtchn_notify(nf->dom, q->rx_port);

		q->st.notifies_sent++;
		if (!ret)
			ret = r;
	}
	return ret;
}

int netfront_kick(struct netfront *nf)
{
	unsigned int i;
	int ret = 0;

	if (!nf->connected)
		return -ENOTCONN;
	for (i = 0; i < nf->nr_queues; i++) {
		int r = netfront_queue_kick(nf, i);

		if (!ret)
			ret = r;
	}
	return ret;
}
