/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness: uback-net's guest TX ring (slots, extra-info
 * segments: GSO, multicast add/del, hash, unknown types) and the frame
 * helpers the TX and RX paths run on guest-controlled bytes.
 *
 * Input: byte 0 picks the TX limits (max and fatal data slots per
 * packet), byte 1 the guest's RX features; then one TX ring page
 * (producer indexes included: every byte is the guest's), then "guest
 * data": the bytes a SEND packet's grant copies would fetch, and a frame
 * for the guest (virtio-net header + Ethernet frame).
 *
 * The TX loop is net_tx_run's without the grant copy and the port:
 * xb_ring_get_req_prod (impossible producers), net_tx_peek (private
 * copies of every published slot), net_tx_decode packet after packet
 * until the window ends or the ring is fatal, net_mcast_add/_del for
 * multicast control packets, net_frame_csum_setup for SEND packets with
 * a blank checksum or GSO (as tx_build_frame). Then the RX side on the
 * data: net_rx_plan, net_frame_csum_complete, net_rx_build_rsps.
 * Traps when a verdict breaks what net_tx_run relies on.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "netback.h"

#define PAGE 4096u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t ring_page[PAGE] __attribute__((aligned(PAGE)));
static uint8_t frame_buf[NET_FRAME_MAX + 1];

/* What net_tx_run relies on for a decoded packet. */
static void check_pkt(const union net_tx_slot *s, uint32_t n,
		      const struct net_tx_pkt *p)
{
	uint32_t i, sum;

	if (p->nslots < 1 || p->nslots > n || p->nextras > NET_TX_MAX_EXTRAS ||
	    1 + p->nextras > p->nslots)
		__builtin_trap();
	if (p->verdict == NET_TX_DROP && p->err == NET_TX_OK)
		__builtin_trap();
	if (p->verdict != NET_TX_SEND)
		return;
	if (p->err != NET_TX_OK || p->first_len < NET_ETH_HLEN ||
	    s[0].req.offset + p->first_len > PAGE ||
	    p->nslots - p->nextras > NET_TX_FATAL_SLOTS_MAX)
		__builtin_trap();
	sum = p->first_len;
	for (i = 1 + p->nextras; i < p->nslots; i++) {
		if (s[i].req.offset + s[i].req.size > PAGE)
			__builtin_trap();
		sum += s[i].req.size;
	}
	if (sum != p->len || p->len > NET_FRAME_MAX)
		__builtin_trap();
	if (p->gso && p->gso_type != XEN_NETIF_GSO_TYPE_TCPV4 &&
	    p->gso_type != XEN_NETIF_GSO_TYPE_TCPV6)
		__builtin_trap();
}

/* A SEND packet's frame from the guest data, as tx_build_frame. */
static void tx_frame(const struct net_tx_pkt *p, const uint8_t *gd,
		     size_t gsize)
{
	struct virtio_net_hdr vnet;
	bool blank = p->flags & NETTXF_csum_blank;
	uint32_t i;

	if (!(blank || p->gso))
		return;
	for (i = 0; i < p->len; i++)
		frame_buf[i] = gsize ? gd[i % gsize] : 0;
	memset(&vnet, 0, sizeof(vnet));
	if (net_frame_csum_setup(frame_buf, p->len, &vnet, !blank))
		return;
	if (!(vnet.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) ||
	    (uint32_t)vnet.csum_start + vnet.csum_offset + 2 > p->len)
		__builtin_trap();
}

static void tx(const struct net_tx_limits *lim, const uint8_t *gd,
	       size_t gsize)
{
	static union net_tx_slot win[256];
	struct xb_back_ring ring;
	struct net_mcast mc;
	struct net_tx_pkt p;
	uint32_t count, off = 0;

	if (xb_back_ring_attach(&ring, ring_page, PAGE,
				sizeof(union net_tx_slot)))
		__builtin_trap();
	if (net_tx_peek(&ring, win, ring.nr_ents, &count))
		return;   /* impossible producer: the queue fails */
	if (count > ring.nr_ents)
		__builtin_trap();
	net_mcast_init(&mc);
	while (off < count) {
		enum net_tx_verdict v = net_tx_decode(win + off, count - off,
						      lim, &p);

		if (v != p.verdict)
			__builtin_trap();
		if (v == NET_TX_FATAL) {
			if (p.err < NET_TX_F_CHAIN || p.err >= NET_TX_F_COUNT)
				__builtin_trap();
			break;
		}
		check_pkt(win + off, count - off, &p);
		if (v == NET_TX_CTRL) {
			if (p.mcast_add)
				net_mcast_add(&mc, p.mcast_addr);
			if (p.mcast_del)
				net_mcast_del(&mc, p.mcast_addr);
			if (mc.count > NET_MCAST_MAX)
				__builtin_trap();
		} else if (v == NET_TX_SEND) {
			tx_frame(&p, gd, gsize);
		}
		off += p.nslots;
		ring.req_cons += p.nslots;
	}
	if (off > count)
		__builtin_trap();
}

static void rx(uint8_t gflags, const uint8_t *data, size_t size)
{
	static uint8_t buf[NET_FRAME_MAX + 1];
	struct netif_rx_request reqs[NET_RX_MAX_SLOTS];
	union net_rx_slot out[NET_RX_MAX_SLOTS];
	struct net_rx_guest g;
	struct net_rx_plan p;
	struct net_frame f;
	uint32_t i, total = 0;

	if (size < sizeof(f.vnet) + 1)
		return;
	memcpy(&f.vnet, data, sizeof(f.vnet));
	g = (struct net_rx_guest){ .sg = gflags & 1, .gso4 = gflags & 2,
				   .gso6 = gflags & 4, .csum = gflags & 8,
				   .csum6 = gflags & 16 };
	data += sizeof(f.vnet);
	size -= sizeof(f.vnet);
	f.len = (uint32_t)(size > NET_FRAME_MAX ? NET_FRAME_MAX : size);
	memcpy(buf, data, f.len);
	f.data = buf;
	net_rx_plan(&f, &g, gflags & 32 ? XEN_NETIF_CTRL_HASH_TYPE_IPV4 : 0,
		    0x12345678, &p);
	if (p.err != NET_RX_OK)
		return;
	if (p.nslots > NET_RX_MAX_SLOTS || p.ndata > p.nslots || !p.ndata)
		__builtin_trap();
	if (p.sw_csum)
		net_frame_csum_complete(buf, f.len, &f.vnet);
	for (i = 0; i < NET_RX_MAX_SLOTS; i++)
		reqs[i] = (struct netif_rx_request){ .id = (uint16_t)i };
	net_rx_build_rsps(&p, f.len, false, reqs, out);
	/* Data responses (slot 0 and those after the extras) add up to
	 * the frame. */
	for (i = 0; i < p.nslots; i++)
		if (!(i >= 1 && i <= p.nslots - p.ndata))
			total += (uint32_t)out[i].rsp.status;
	if (total != f.len)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct net_tx_limits lim;
	const uint8_t *gd = NULL;
	size_t gsize = 0;

	if (size < 2)
		return 0;
	lim.max_slots = NET_TX_MAX_SLOTS + data[0] % 8;
	lim.fatal_slots = lim.max_slots + (data[0] >> 3) % 8;
	memset(ring_page, 0, sizeof(ring_page));
	memcpy(ring_page, data + 2, size - 2 < PAGE ? size - 2 : PAGE);
	if (size > 2 + PAGE) {
		gd = data + 2 + PAGE;
		gsize = size - 2 - PAGE;
	}
	tx(&lim, gd, gsize);
	if (gd)
		rx(data[1], gd, gsize);
	return 0;
}
