/* SPDX-License-Identifier: MIT */
/*
 * Header parsing and checksums on private frame copies. Every offset is
 * checked against the frame length: the bytes came from the guest (TX) or
 * from the host side (RX).
 */
#include <errno.h>
#include <string.h>

#include "netback.h"

#define ETH_P_IPV4 0x0800
#define ETH_P_IPV6 0x86DD
#define ETH_P_VLAN 0x8100
#define PROTO_TCP 6
#define PROTO_UDP 17

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Offset of the L3 header and its ethertype. */
static int l3_offset(const uint8_t *d, uint32_t len, uint32_t *off,
		     uint16_t *type)
{
	uint32_t o = 12;
	uint16_t t;

	if (len < NET_ETH_HLEN)
		return -EPROTONOSUPPORT;
	t = get16(d + o);
	o += 2;
	if (t == ETH_P_VLAN) {
		if (len < o + 4)
			return -EPROTONOSUPPORT;
		t = get16(d + o + 2);
		o += 4;
	}
	*off = o;
	*type = t;
	return 0;
}

bool net_frame_is_ipv6(const uint8_t *data, uint32_t len)
{
	uint32_t off;
	uint16_t type;

	return !l3_offset(data, len, &off, &type) && type == ETH_P_IPV6;
}

static uint32_t sum16(const uint8_t *p, uint32_t n, uint32_t sum)
{
	uint32_t i;

	for (i = 0; i + 1 < n; i += 2)
		sum += get16(p + i);
	if (n & 1)
		sum += (uint32_t)p[n - 1] << 8;
	return sum;
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

int net_frame_csum_setup(uint8_t *data, uint32_t len,
			 struct virtio_net_hdr *vnet, bool recalc)
{
	uint32_t l3, l4, l4len, sum;
	uint16_t type, csum_off;
	uint8_t proto;

	if (l3_offset(data, len, &l3, &type))
		return -EPROTONOSUPPORT;
	if (type == ETH_P_IPV4) {
		uint32_t ihl;

		if (len < l3 + 20 || (data[l3] >> 4) != 4)
			return -EPROTONOSUPPORT;
		ihl = (uint32_t)(data[l3] & 0xf) * 4;
		if (ihl < 20 || len < l3 + ihl)
			return -EPROTONOSUPPORT;
		/* A fragment has no L4 header to checksum here. */
		if (get16(data + l3 + 6) & 0x3fff)
			return -EPROTONOSUPPORT;
		proto = data[l3 + 9];
		l4 = l3 + ihl;
		sum = sum16(data + l3 + 12, 8, 0);
	} else if (type == ETH_P_IPV6) {
		if (len < l3 + 40 || (data[l3] >> 4) != 6)
			return -EPROTONOSUPPORT;
		proto = data[l3 + 6];
		l4 = l3 + 40;
		sum = sum16(data + l3 + 8, 32, 0);
	} else {
		return -EPROTONOSUPPORT;
	}
	if (proto == PROTO_TCP) {
		uint32_t doff;

		if (len < l4 + 20)
			return -EPROTONOSUPPORT;
		doff = (uint32_t)(data[l4 + 12] >> 4) * 4;
		if (doff < 20 || len < l4 + doff)
			return -EPROTONOSUPPORT;
		csum_off = 16;
		vnet->hdr_len = (uint16_t)(l4 + doff);
	} else if (proto == PROTO_UDP) {
		if (len < l4 + 8)
			return -EPROTONOSUPPORT;
		csum_off = 6;
		vnet->hdr_len = (uint16_t)(l4 + 8);
	} else {
		return -EPROTONOSUPPORT;
	}
	if (recalc) {
		l4len = len - l4;
		sum += proto + (l4len & 0xffff) + (l4len >> 16);
		sum = fold(sum);
		data[l4 + csum_off] = (uint8_t)(sum >> 8);
		data[l4 + csum_off + 1] = (uint8_t)sum;
	}
	vnet->flags |= VIRTIO_NET_HDR_F_NEEDS_CSUM;
	vnet->flags &= (uint8_t)~VIRTIO_NET_HDR_F_DATA_VALID;
	vnet->csum_start = (uint16_t)l4;
	vnet->csum_offset = csum_off;
	return 0;
}

int net_frame_csum_complete(uint8_t *data, uint32_t len,
			    struct virtio_net_hdr *vnet)
{
	uint32_t start = vnet->csum_start, at = start + vnet->csum_offset;
	uint16_t c;

	if (!(vnet->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM))
		return 0;
	if (start >= len || at + 2 > len)
		return -EINVAL;
	/* The field holds the pseudo-header sum: summing over it adds it. */
	c = (uint16_t)~fold(sum16(data + start, len - start, 0));
	/* UDP sends a computed zero as all ones; harmless for TCP. */
	if (!c && vnet->csum_offset == 6)
		c = 0xffff;
	data[at] = (uint8_t)(c >> 8);
	data[at + 1] = (uint8_t)c;
	vnet->flags &= (uint8_t)~VIRTIO_NET_HDR_F_NEEDS_CSUM;
	vnet->flags |= VIRTIO_NET_HDR_F_DATA_VALID;
	return 0;
}
