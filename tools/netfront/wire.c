/* SPDX-License-Identifier: MIT */
/*
 * netif wire encoding and decoding (xen/io/netif.h): slot images, TX flags
 * and GSO extras, delimiting RX packets, and checksum plumbing between
 * netif's flags and virtio_net_hdr's csum_start/csum_offset. Pure
 * functions: no netfront, no simulator.
 */
#include <errno.h>
#include <string.h>

#include <linux/virtio_net.h>

#include "netfront_priv.h"

_Static_assert(sizeof(struct netif_tx_request) == NETFRONT_TX_SLOT_SIZE,
	       "tx slot");
_Static_assert(sizeof(struct netif_rx_response) == NETFRONT_RX_SLOT_SIZE,
	       "rx slot");
_Static_assert(sizeof(struct netif_extra_info) == 8, "extra");

void netfront_wire_put_tx(void *slot, const struct netif_tx_request *r)
{
	memcpy(slot, r, sizeof(*r));
}

void netfront_wire_put_tx_extra(void *slot, const struct netif_extra_info *e)
{
	/* An extra fills 8 of the 12 bytes; the rest is padding. */
	memset(slot, 0, NETFRONT_TX_SLOT_SIZE);
	memcpy(slot, e, sizeof(*e));
}

void netfront_wire_get_tx_rsp(const void *slot, struct netif_tx_response *r)
{
	memcpy(r, slot, sizeof(*r));
}

void netfront_wire_put_rx(void *slot, const struct netif_rx_request *r)
{
	memcpy(slot, r, sizeof(*r));
}

void netfront_wire_get_rx_rsp(const void *slot, struct netif_rx_response *r)
{
	memcpy(r, slot, sizeof(*r));
}

void netfront_wire_get_extra(const void *slot, struct netif_extra_info *e)
{
	memcpy(e, slot, sizeof(*e));
}

uint16_t netfront_wire_tx_flags(const struct netfront_meta *meta)
{
	uint16_t f = 0;

	if (!meta)
		return 0;
	/* Linux netfront marks a partial checksum as both blank and
	 * validated: the data itself is trusted. */
	if (meta->csum == NETFRONT_CSUM_PARTIAL)
		f |= NETTXF_csum_blank | NETTXF_data_validated;
	else if (meta->csum == NETFRONT_CSUM_VALIDATED)
		f |= NETTXF_data_validated;
	if (meta->gso_type != NETFRONT_GSO_NONE)
		f |= NETTXF_extra_info;
	return f;
}

bool netfront_wire_gso_extra(const struct netfront_meta *meta,
			     struct netif_extra_info *e)
{
	if (!meta || meta->gso_type == NETFRONT_GSO_NONE)
		return false;
	memset(e, 0, sizeof(*e));
	e->type = XEN_NETIF_EXTRA_TYPE_GSO;
	e->u.gso.size = meta->gso_size;
	e->u.gso.type = meta->gso_type;
	return true;
}

unsigned int netfront_wire_tx_slots(uint32_t len, uint32_t offset)
{
	uint32_t end = offset + len;

	if (!len)
		return 1;
	return (end + NF_PAGE_SIZE - 1) / NF_PAGE_SIZE -
	       offset / NF_PAGE_SIZE;
}

static int parse_extra(const struct netif_extra_info *e,
		       struct netfront_meta *m, uint32_t *seen)
{
	if (e->type == XEN_NETIF_EXTRA_TYPE_NONE ||
	    e->type >= XEN_NETIF_EXTRA_TYPE_MAX)
		return -EPROTO;
	if (*seen & (1u << e->type))
		return -EPROTO;
	*seen |= 1u << e->type;
	switch (e->type) {
	case XEN_NETIF_EXTRA_TYPE_GSO:
		if (!e->u.gso.size ||
		    (e->u.gso.type != XEN_NETIF_GSO_TYPE_TCPV4 &&
		     e->u.gso.type != XEN_NETIF_GSO_TYPE_TCPV6))
			return -EPROTO;
		m->gso_type = e->u.gso.type;
		m->gso_size = e->u.gso.size;
		break;
	case XEN_NETIF_EXTRA_TYPE_HASH:
		m->hash_valid = true;
		m->hash_type = e->u.hash.type;
		m->hash_alg = e->u.hash.algorithm;
		m->hash = (uint32_t)e->u.hash.value[0] |
			  (uint32_t)e->u.hash.value[1] << 8 |
			  (uint32_t)e->u.hash.value[2] << 16 |
			  (uint32_t)e->u.hash.value[3] << 24;
		break;
	default:
		/* multicast extras mean nothing on RX: ignored, as Linux */
		break;
	}
	return 0;
}

static void keep_first(int *err, int e)
{
	if (!*err)
		*err = e;
}

int netfront_wire_rx_parse(const uint8_t *slots, unsigned int avail,
			   struct netfront_rx_pkt *pkt)
{
	const unsigned int max = NETFRONT_RX_MAX_PKT_SLOTS;
	struct netif_rx_response rsp, first;
	struct netif_extra_info e;
	unsigned int i = 1, nextra = 0, at = 0;
	uint32_t seen = 0;
	int err = 0;

	if (!avail)
		return 0;
	if (avail > max)
		avail = max;
	memset(pkt, 0, sizeof(*pkt));
	netfront_wire_get_rx_rsp(slots, &first);

	if (first.flags & NETRXF_extra_info) {
		for (;;) {
			if (i >= avail)
				goto short_or_long;
			netfront_wire_get_extra(slots + (size_t)i *
						NETFRONT_RX_SLOT_SIZE, &e);
			i++;
			if (++nextra > NETFRONT_MAX_EXTRAS)
				keep_first(&err, -E2BIG);
			else if (parse_extra(&e, &pkt->meta, &seen))
				keep_first(&err, -EPROTO);
			if (!(e.flags & XEN_NETIF_EXTRA_FLAG_MORE))
				break;
		}
	}

	rsp = first;
	for (;;) {
		if (rsp.status < 0) {
			keep_first(&err, -EIO);
		} else if ((uint32_t)rsp.offset + (uint32_t)rsp.status >
			   NF_PAGE_SIZE) {
			keep_first(&err, -EPROTO);
		} else if (pkt->nr_frags >= NETFRONT_MAX_SLOTS) {
			keep_first(&err, -E2BIG);
		} else {
			pkt->frag[pkt->nr_frags].slot = at;
			pkt->frag[pkt->nr_frags].offset = rsp.offset;
			pkt->frag[pkt->nr_frags].size = (uint16_t)rsp.status;
			pkt->nr_frags++;
			pkt->len += (uint32_t)rsp.status;
		}
		if (!(rsp.flags & NETRXF_more_data))
			break;
		if (i >= avail)
			goto short_or_long;
		/* a response sits in the slot of the request it answers */
		at = i++;
		netfront_wire_get_rx_rsp(slots + (size_t)at *
					 NETFRONT_RX_SLOT_SIZE, &rsp);
	}
	pkt->nr_slots = i;
	if (!err && !pkt->len)
		err = -EPROTO;
	if (!err && pkt->len > NETFRONT_MAX_FRAME)
		err = -E2BIG;
	if (err)
		return err;
	if (first.flags & NETRXF_csum_blank)
		pkt->meta.csum = NETFRONT_CSUM_PARTIAL;
	else if (first.flags & NETRXF_data_validated)
		pkt->meta.csum = NETFRONT_CSUM_VALIDATED;
	return 1;

short_or_long:
	if (avail < max)
		return 0;
	/* A chain longer than any packet may be: skip what we saw. */
	pkt->nr_slots = i;
	return -E2BIG;
}

/* ---- checksums ---- */

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

int netfront_csum_offsets(const uint8_t *frame, size_t len,
			  uint16_t *csum_start, uint16_t *csum_offset)
{
	size_t off = 14;
	uint16_t type;
	uint8_t proto;
	unsigned int n;

	if (len < off)
		return -EPROTO;
	type = be16(frame + 12);
	for (n = 0; n < 2 && (type == 0x8100 || type == 0x88a8); n++) {
		if (len < off + 4)
			return -EPROTO;
		type = be16(frame + off + 2);
		off += 4;
	}
	if (type == 0x0800) {
		size_t ihl;

		if (len < off + 20 || (frame[off] >> 4) != 4)
			return -EPROTO;
		ihl = (size_t)(frame[off] & 0xf) * 4;
		if (ihl < 20 || len < off + ihl)
			return -EPROTO;
		proto = frame[off + 9];
		off += ihl;
	} else if (type == 0x86dd) {
		if (len < off + 40 || (frame[off] >> 4) != 6)
			return -EPROTO;
		proto = frame[off + 6];
		off += 40;
		/* Extension headers, bounded as any parser of guest data. */
		for (n = 0; n < 8; n++) {
			size_t hl;

			if (proto != 0 && proto != 43 && proto != 60 &&
			    proto != 44 && proto != 51)
				break;
			if (len < off + 8)
				return -EPROTO;
			if (proto == 44)
				hl = 8;
			else if (proto == 51)
				hl = ((size_t)frame[off + 1] + 2) * 4;
			else
				hl = ((size_t)frame[off + 1] + 1) * 8;
			proto = frame[off];
			off += hl;
		}
		if (n == 8)
			return -EPROTO;
	} else {
		return -EPROTO;
	}
	if (proto == 6)
		n = 16;
	else if (proto == 17)
		n = 6;
	else
		return -EPROTO;
	if (off > 0xffff || len < off + n + 2)
		return -EPROTO;
	*csum_start = (uint16_t)off;
	*csum_offset = (uint16_t)n;
	return 0;
}

int netfront_csum_complete(uint8_t *frame, size_t len, uint16_t csum_start,
			   uint16_t csum_offset)
{
	size_t field = (size_t)csum_start + csum_offset, i;
	uint64_t sum = 0;
	uint16_t c;

	if (field + 2 > len)
		return -EINVAL;
	for (i = csum_start; i + 1 < len; i += 2)
		sum += be16(frame + i);
	if (i < len)
		sum += (uint32_t)frame[i] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	c = (uint16_t)~sum;
	/* UDP's zero means "no checksum": send the equivalent all-ones. */
	if (!c && csum_offset == 6)
		c = 0xffff;
	frame[field] = (uint8_t)(c >> 8);
	frame[field + 1] = (uint8_t)c;
	return 0;
}

int netfront_meta_from_vnet(const struct virtio_net_hdr *vnet,
			    struct netfront_meta *meta)
{
	struct netfront_meta m = { 0 };

	switch (vnet->gso_type & ~VIRTIO_NET_HDR_GSO_ECN) {
	case VIRTIO_NET_HDR_GSO_NONE:
		break;
	case VIRTIO_NET_HDR_GSO_TCPV4:
		m.gso_type = NETFRONT_GSO_TCPV4;
		break;
	case VIRTIO_NET_HDR_GSO_TCPV6:
		m.gso_type = NETFRONT_GSO_TCPV6;
		break;
	default:
		return -EINVAL;
	}
	if (m.gso_type) {
		if (!vnet->gso_size)
			return -EINVAL;
		m.gso_size = vnet->gso_size;
	}
	if (vnet->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
		m.csum = NETFRONT_CSUM_PARTIAL;
	else if (vnet->flags & VIRTIO_NET_HDR_F_DATA_VALID)
		m.csum = NETFRONT_CSUM_VALIDATED;
	*meta = m;
	return 0;
}

int netfront_meta_to_vnet(const struct netfront_meta *meta,
			  const uint8_t *frame, size_t len,
			  struct virtio_net_hdr *vnet)
{
	struct virtio_net_hdr v = { 0 };
	uint16_t start, off;

	if (meta->csum == NETFRONT_CSUM_PARTIAL) {
		if (netfront_csum_offsets(frame, len, &start, &off))
			return -EPROTO;
		v.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		v.csum_start = start;
		v.csum_offset = off;
	} else if (meta->csum == NETFRONT_CSUM_VALIDATED) {
		v.flags = VIRTIO_NET_HDR_F_DATA_VALID;
	}
	if (meta->gso_type == NETFRONT_GSO_TCPV4 ||
	    meta->gso_type == NETFRONT_GSO_TCPV6) {
		v.gso_type = meta->gso_type == NETFRONT_GSO_TCPV4
			     ? VIRTIO_NET_HDR_GSO_TCPV4
			     : VIRTIO_NET_HDR_GSO_TCPV6;
		v.gso_size = meta->gso_size;
		if (netfront_csum_offsets(frame, len, &start, &off) == 0) {
			/* header length: up to the end of the TCP header */
			size_t th = start + 12u < len
				    ? (size_t)(frame[start + 12] >> 4) * 4 : 20;

			v.hdr_len = (uint16_t)(start + th);
		}
	}
	*vnet = v;
	return 0;
}
