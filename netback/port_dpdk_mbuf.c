/* SPDX-License-Identifier: MIT */
/*
 * Frames <-> mbuf chains for the DPDK port, with the vnet header mapped to
 * and from mbuf offload flags. See port_dpdk_priv.h.
 */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "port_dpdk_priv.h"

#define ETH_HLEN_ 14u
#define VLAN_HLEN_ 4u

static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

int net_dpdk_parse_hdrs(const uint8_t *d, uint32_t len,
			struct net_dpdk_hdrs *h)
{
	uint32_t off = ETH_HLEN_;
	uint16_t type;

	if (len < ETH_HLEN_)
		return -EINVAL;
	type = rd16(d + 12);
	if (type == RTE_ETHER_TYPE_VLAN) {
		if (len < ETH_HLEN_ + VLAN_HLEN_)
			return -EINVAL;
		type = rd16(d + 16);
		off += VLAN_HLEN_;
	}
	h->l2_len = (uint16_t)off;
	if (type == RTE_ETHER_TYPE_IPV4) {
		uint32_t ihl;

		if (len < off + 20 || (d[off] >> 4) != 4)
			return -EINVAL;
		ihl = (uint32_t)(d[off] & 0xf) * 4;
		if (ihl < 20 || len < off + ihl)
			return -EINVAL;
		h->ip_version = 4;
		h->l3_len = (uint16_t)ihl;
		h->l4_proto = d[off + 9];
	} else if (type == RTE_ETHER_TYPE_IPV6) {
		if (len < off + 40 || (d[off] >> 4) != 6)
			return -EINVAL;
		h->ip_version = 6;
		h->l3_len = 40;
		h->l4_proto = d[off + 6];
	} else {
		return -EINVAL;
	}
	off += h->l3_len;
	h->l4_len = 0;
	if (h->l4_proto == IPPROTO_TCP) {
		if (len < off + 20 || (d[off + 12] >> 4) < 5)
			return -EINVAL;
		h->l4_len = (uint16_t)((d[off + 12] >> 4) * 4);
		if (len < off + h->l4_len)
			return -EINVAL;
	} else if (h->l4_proto == IPPROTO_UDP) {
		if (len < off + 8)
			return -EINVAL;
		h->l4_len = 8;
	}
	return 0;
}

/* Write @n bytes at byte offset @off of the chain (the field may straddle
 * two segments). */
static void chain_write(struct rte_mbuf *m, uint32_t off, const uint8_t *src,
			uint32_t n)
{
	for (; m && n; m = m->next) {
		uint8_t *d = rte_pktmbuf_mtod(m, uint8_t *);

		while (off < m->data_len && n) {
			d[off++] = *src++;
			n--;
		}
		off = off >= m->data_len ? off - m->data_len : 0;
	}
}

/* The L4 checksum over [start, len) of a partial-checksum frame, whose
 * field already holds the pseudo-header sum, ready to store. */
static uint16_t finish_csum(const uint8_t *d, uint32_t start, uint32_t len)
{
	uint16_t c = (uint16_t)~rte_raw_cksum(d + start, len - start);

	return c ? c : 0xffff;
}

/* DPDK's TSO wants the pseudo-header sum without the length, Linux's
 * (and the vnet header's) includes it: recompute from the headers. */
static uint16_t tso_phdr_sum(const uint8_t *d, const struct net_dpdk_hdrs *h)
{
	const void *ip = d + h->l2_len;

	if (h->ip_version == 4)
		return rte_ipv4_phdr_cksum(ip, RTE_MBUF_F_TX_TCP_SEG);
	return rte_ipv6_phdr_cksum(ip, RTE_MBUF_F_TX_TCP_SEG);
}

/* Offset of the checksum field in an L4 header, 0 if not TCP/UDP. */
static uint16_t l4_csum_off(uint8_t proto)
{
	return proto == IPPROTO_TCP ? 16 : proto == IPPROTO_UDP ? 6 : 0;
}

/* A partial checksum the device completes: only for a plain TCP/UDP
 * header where the vnet header points (anything else is done here). The
 * field keeps the pseudo-header sum with the length, as DPDK wants for
 * checksum offload without TSO. */
static bool tx_csum_offload(const struct net_frame *f, struct rte_mbuf *m)
{
	const struct virtio_net_hdr *v = &f->vnet;
	struct net_dpdk_hdrs h;
	uint16_t off;

	if (net_dpdk_parse_hdrs(f->data, f->len, &h) < 0)
		return false;
	off = l4_csum_off(h.l4_proto);
	if (!off || v->csum_start != h.l2_len + h.l3_len ||
	    v->csum_offset != off)
		return false;
	m->l2_len = h.l2_len;
	m->l3_len = h.l3_len;
	m->ol_flags |= (h.l4_proto == IPPROTO_TCP ? RTE_MBUF_F_TX_TCP_CKSUM
						  : RTE_MBUF_F_TX_UDP_CKSUM) |
		       (h.ip_version == 4 ? RTE_MBUF_F_TX_IPV4
					  : RTE_MBUF_F_TX_IPV6);
	return true;
}

static int tx_offload(const struct net_frame *f, unsigned int dev_off,
		      struct rte_mbuf *m, uint16_t *csum, uint32_t *csum_at)
{
	const struct virtio_net_hdr *v = &f->vnet;
	uint8_t gso = v->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
	unsigned int need;
	struct net_dpdk_hdrs h;

	*csum_at = 0;
	if (gso == VIRTIO_NET_HDR_GSO_NONE) {
		uint32_t start = v->csum_start;
		uint32_t at = start + v->csum_offset;

		if (!(v->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM))
			return 0;
		if (start >= f->len || at + 2 > f->len)
			return -EINVAL;
		if ((dev_off & NET_OFF_CSUM) && tx_csum_offload(f, m))
			return 0;
		*csum = finish_csum(f->data, start, f->len);
		*csum_at = at;
		return 0;
	}
	need = gso == VIRTIO_NET_HDR_GSO_TCPV4 ? NET_OFF_TSO4 :
	       gso == VIRTIO_NET_HDR_GSO_TCPV6 ? NET_OFF_TSO6 : 0;
	if (!need || !(dev_off & need))
		return -EOPNOTSUPP;
	if (v->gso_size == 0 || net_dpdk_parse_hdrs(f->data, f->len, &h) < 0 ||
	    h.l4_proto != IPPROTO_TCP ||
	    h.ip_version != (need == NET_OFF_TSO4 ? 4 : 6))
		return -EINVAL;
	m->l2_len = h.l2_len;
	m->l3_len = h.l3_len;
	m->l4_len = h.l4_len;
	m->tso_segsz = v->gso_size;
	m->ol_flags |= RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_TCP_CKSUM |
		       (h.ip_version == 4 ? RTE_MBUF_F_TX_IPV4
					  : RTE_MBUF_F_TX_IPV6);
	*csum = tso_phdr_sum(f->data, &h);
	*csum_at = (uint32_t)h.l2_len + h.l3_len + 16;
	return 0;
}

int net_dpdk_frame_to_mbuf(struct rte_mempool *pool, const struct net_frame *f,
			   unsigned int dev_off, struct rte_mbuf **out)
{
	struct rte_mbuf *head;
	struct rte_mbuf *seg;
	uint32_t done = 0;
	uint32_t csum_at;
	uint16_t csum = 0;
	int ret;

	if (f->len < ETH_HLEN_ || f->len > NET_FRAME_MAX)
		return -EINVAL;
	head = rte_pktmbuf_alloc(pool);
	if (!head)
		return -ENOBUFS;
	ret = tx_offload(f, dev_off, head, &csum, &csum_at);
	if (ret < 0)
		goto err_free_chain;

	seg = head;
	for (;;) {
		uint32_t room = rte_pktmbuf_tailroom(seg);
		uint32_t chunk = f->len - done < room ? f->len - done : room;

		memcpy(rte_pktmbuf_mtod(seg, uint8_t *), f->data + done,
		       chunk);
		seg->data_len = (uint16_t)chunk;
		done += chunk;
		if (done == f->len)
			break;
		seg->next = rte_pktmbuf_alloc(pool);
		if (!seg->next) {
			ret = -ENOBUFS;
			goto err_free_chain;
		}
		seg = seg->next;
		head->nb_segs++;
	}
	head->pkt_len = f->len;
	if (csum_at) {
		/* Both sums are in the frame's byte order as a native
		 * uint16_t (DPDK's convention): store them as they are. */
		uint8_t raw[2];

		memcpy(raw, &csum, 2);
		chain_write(head, csum_at, raw, 2);
	}
	*out = head;
	return 0;

err_free_chain:
	rte_pktmbuf_free(head);
	return ret;
}

/* LRO super-frame -> GSO frame: partial checksum in Linux's convention
 * (pseudo-header sum including the L4 length). */
static int rx_gso(struct rte_mbuf *m, unsigned int offloads,
		  struct net_frame *f)
{
	struct net_dpdk_hdrs h;
	uint32_t l4 = 0;
	uint16_t sum;
	uint8_t *field;

	if (net_dpdk_parse_hdrs(f->data, f->len, &h) < 0 ||
	    h.l4_proto != IPPROTO_TCP)
		return -EINVAL;
	if (!(offloads & (h.ip_version == 4 ? NET_OFF_TSO4 : NET_OFF_TSO6)))
		return -EOPNOTSUPP;
	l4 = (uint32_t)h.l2_len + h.l3_len;
	if (h.ip_version == 4)
		sum = rte_ipv4_phdr_cksum((const void *)(f->data + h.l2_len), 0);
	else
		sum = rte_ipv6_phdr_cksum((const void *)(f->data + h.l2_len), 0);
	field = f->data + l4 + 16;
	memcpy(field, &sum, 2);
	f->vnet.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	f->vnet.gso_type = h.ip_version == 4 ? VIRTIO_NET_HDR_GSO_TCPV4
					     : VIRTIO_NET_HDR_GSO_TCPV6;
	f->vnet.gso_size = m->tso_segsz;
	f->vnet.hdr_len = (uint16_t)(l4 + h.l4_len);
	f->vnet.csum_start = (uint16_t)l4;
	f->vnet.csum_offset = 16;
	return 0;
}

/* A partial checksum from the device (L4_CKSUM_NONE): handed on as
 * NEEDS_CSUM to a guest that takes it, else completed here. */
static int rx_partial(unsigned int offloads, struct net_frame *f)
{
	struct net_dpdk_hdrs h;
	uint32_t start;
	uint16_t off;
	uint16_t sum;

	if (net_dpdk_parse_hdrs(f->data, f->len, &h) < 0)
		return -EINVAL;
	off = l4_csum_off(h.l4_proto);
	if (!off)
		return -EINVAL;
	start = (uint32_t)h.l2_len + h.l3_len;
	if (offloads & NET_OFF_CSUM) {
		f->vnet.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		f->vnet.csum_start = (uint16_t)start;
		f->vnet.csum_offset = off;
		return 0;
	}
	sum = finish_csum(f->data, start, f->len);
	memcpy(f->data + start + off, &sum, 2);
	f->vnet.flags = VIRTIO_NET_HDR_F_DATA_VALID;
	return 0;
}

int net_dpdk_mbuf_to_frame(struct rte_mbuf *m, unsigned int offloads,
			   struct net_frame *f)
{
	const struct rte_mbuf *seg;
	uint32_t len = m->pkt_len;
	uint32_t done = 0;
	unsigned int nsegs = 0;

	if (len > NET_FRAME_MAX)
		return -EMSGSIZE;
	if (len < ETH_HLEN_)
		return -EINVAL;
	for (seg = m; seg && done < len; seg = seg->next) {
		uint32_t chunk = seg->data_len;

		if (++nsegs > m->nb_segs || chunk > len - done)
			return -EINVAL;
		memcpy(f->data + done, rte_pktmbuf_mtod(seg, const uint8_t *),
		       chunk);
		done += chunk;
	}
	if (done != len)
		return -EINVAL;
	f->len = len;
	memset(&f->vnet, 0, sizeof(f->vnet));
	if ((m->ol_flags & RTE_MBUF_F_RX_LRO) && m->tso_segsz)
		return rx_gso(m, offloads, f);
	switch (m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) {
	case RTE_MBUF_F_RX_L4_CKSUM_GOOD:
		f->vnet.flags = VIRTIO_NET_HDR_F_DATA_VALID;
		break;
	case RTE_MBUF_F_RX_L4_CKSUM_NONE:
		return rx_partial(offloads, f);
	default:
		break;
	}
	return 0;
}
