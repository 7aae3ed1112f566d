/* SPDX-License-Identifier: MIT */
/*
 * netfront RX: keep the RX ring filled with the queue's granted pages,
 * and reassemble responses (more_data chains, GSO and hash extras) into
 * frames. A response sits in the slot of the request it answers, so slot
 * i's data is always in pool page i mod ring size. No malloc, no logging.
 */
#include <errno.h>
#include <string.h>

#include <linux/virtio_net.h>

#include "netfront_priv.h"

void nf_rx_refill(struct nf_queue *q)
{
	struct netif_rx_request r = { 0 };

	while ((RING_IDX)(q->rx.req_prod_pvt - q->rx_released) < q->rx_fill) {
		unsigned int slot = q->rx.req_prod_pvt & (q->rx.nr_ents - 1);

		r.id = (uint16_t)slot;
		r.gref = q->rx_pool.ref[slot];
		netfront_wire_put_rx(nf_ring_slot(&q->rx, q->rx.req_prod_pvt),
				     &r);
		q->rx.req_prod_pvt++;
	}
}

/* Give the previous frame's slots back to the backend; publish once a
 * quarter of the fill level waits, so a busy queue batches its pushes. */
static void rx_release(struct netfront *nf, struct nf_queue *q)
{
	RING_IDX pub;

	if (q->rx_released == q->rx.rsp_cons)
		return;
	q->rx_released = q->rx.rsp_cons;
	nf_rx_refill(q);
	pub = __atomic_load_n(&q->rx.hdr->req_prod, __ATOMIC_RELAXED);
	if ((RING_IDX)(q->rx.req_prod_pvt - pub) >= q->rx_fill / 4 &&
	    nf_ring_push(&q->rx)) {
		xg_evtchn_notify(nf->dom, q->rx_port);
		q->st.notifies_sent++;
	}
}

static void count_error(struct nf_queue *q, int err)
{
	if (err == -EIO)
		q->st.rx_backend_errors++;
	else
		q->st.rx_errors++;
}

int netfront_rx(struct netfront *nf, unsigned int qi,
		struct netfront_rx_frame *f)
{
	uint8_t slots[NETFRONT_RX_MAX_PKT_SLOTS * NETFRONT_RX_SLOT_SIZE];
	struct netfront_rx_pkt pkt;
	struct nf_queue *q;
	unsigned int i, avail;
	RING_IDX prod;
	int r;

	if (!nf->connected)
		return -ENOTCONN;
	if (qi >= nf->nr_queues)
		return -EINVAL;
	q = &nf->queues[qi];
	rx_release(nf, q);
	for (;;) {
		prod = __atomic_load_n(&q->rx.hdr->rsp_prod, __ATOMIC_RELAXED);
		xb_rmb();
		if ((RING_IDX)(prod - q->rx.rsp_cons) >
		    (RING_IDX)(q->rx.req_prod_pvt - q->rx.rsp_cons)) {
			/* responses for requests never posted */
			q->st.rx_errors++;
			return -EIO;
		}
		avail = (unsigned int)(prod - q->rx.rsp_cons);
		if (!avail) {
			/* RING_FINAL_CHECK_FOR_RESPONSES */
			q->rx.hdr->rsp_event = q->rx.rsp_cons + 1;
			xb_mb();
			if (__atomic_load_n(&q->rx.hdr->rsp_prod,
					    __ATOMIC_RELAXED) == q->rx.rsp_cons)
				return -EAGAIN;
			continue;
		}
		if (avail > NETFRONT_RX_MAX_PKT_SLOTS)
			avail = NETFRONT_RX_MAX_PKT_SLOTS;
		/* Private copy first: the backend may rewrite the slots. */
		for (i = 0; i < avail; i++)
			memcpy(slots + (size_t)i * NETFRONT_RX_SLOT_SIZE,
			       nf_ring_slot(&q->rx, q->rx.rsp_cons + i),
			       NETFRONT_RX_SLOT_SIZE);
		r = netfront_wire_rx_parse(slots, avail, &pkt);
		if (r == 0) {
			/* The rest of the packet is not published yet. */
			q->rx.hdr->rsp_event = prod + 1;
			xb_mb();
			if (__atomic_load_n(&q->rx.hdr->rsp_prod,
					    __ATOMIC_RELAXED) == prod)
				return -EAGAIN;
			continue;
		}
		if (r < 0) {
			count_error(q, r);
			q->rx.rsp_cons += pkt.nr_slots;
			q->st.rx_slots += pkt.nr_slots;
			rx_release(nf, q);
			continue;
		}
		break;
	}
	f->meta = pkt.meta;
	f->len = pkt.len;
	f->iovcnt = pkt.nr_frags;
	for (i = 0; i < pkt.nr_frags; i++) {
		unsigned int slot = (q->rx.rsp_cons + pkt.frag[i].slot) &
				    (q->rx.nr_ents - 1);

		f->iov[i].iov_base = q->rx_pool.page[slot] +
				     pkt.frag[i].offset;
		f->iov[i].iov_len = pkt.frag[i].size;
	}
	q->rx.rsp_cons += pkt.nr_slots;
	q->st.rx_frames++;
	q->st.rx_bytes += pkt.len;
	q->st.rx_slots += pkt.nr_slots;
	if (pkt.meta.gso_type)
		q->st.rx_gso++;
	if (pkt.meta.hash_valid)
		q->st.rx_hash++;
	if (pkt.meta.csum == NETFRONT_CSUM_PARTIAL)
		q->st.rx_csum_blank++;
	else if (pkt.meta.csum == NETFRONT_CSUM_VALIDATED)
		q->st.rx_data_valid++;
	return 0;
}

size_t netfront_rx_copy(const struct netfront_rx_frame *f, void *buf,
			size_t cap)
{
	size_t done = 0;
	unsigned int i;

	for (i = 0; i < f->iovcnt && done < cap; i++) {
		size_t n = f->iov[i].iov_len;

		if (n > cap - done)
			n = cap - done;
		memcpy((uint8_t *)buf + done, f->iov[i].iov_base, n);
		done += n;
	}
	return done;
}

int netfront_rx_vnet(const struct netfront_rx_frame *f,
		     struct virtio_net_hdr *vnet)
{
	uint8_t hdr[256];
	size_t n = netfront_rx_copy(f, hdr, sizeof(hdr));

	return netfront_meta_to_vnet(&f->meta, hdr, n, vnet);
}

bool netfront_queue_has_work(const struct netfront *nf, unsigned int qi)
{
	const struct nf_queue *q;

	if (!nf->connected || qi >= nf->nr_queues)
		return false;
	q = &nf->queues[qi];
	return __atomic_load_n(&q->rx.hdr->rsp_prod, __ATOMIC_RELAXED) !=
		       q->rx.rsp_cons ||
	       __atomic_load_n(&q->tx.hdr->rsp_prod, __ATOMIC_RELAXED) !=
		       q->tx.rsp_cons;
}
