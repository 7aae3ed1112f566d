/* SPDX-License-Identifier: MIT */
/*
 * netfront wire helpers (netfront_raw.h), no simulator: TX flags and GSO
 * extras, slot counts, delimiting RX packets (more_data chains, extras,
 * every malformed case), checksum location and completion, and the
 * virtio_net_hdr <-> netif metadata mapping.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <linux/virtio_net.h>

#include <uback/ring.h>
#include "netfront_raw.h"

/* ---- TX encoding ---- */

static void test_tx_flags(void **state)
{
	struct netfront_meta m = { 0 };

	(void)state;
	assert_int_equal(netfront_wire_tx_flags(NULL), 0);
	assert_int_equal(netfront_wire_tx_flags(&m), 0);
	m.csum = NETFRONT_CSUM_PARTIAL;
	assert_int_equal(netfront_wire_tx_flags(&m),
			 NETTXF_csum_blank | NETTXF_data_validated);
	m.csum = NETFRONT_CSUM_VALIDATED;
	assert_int_equal(netfront_wire_tx_flags(&m), NETTXF_data_validated);
	m.gso_type = NETFRONT_GSO_TCPV6;
	m.gso_size = 1448;
	assert_int_equal(netfront_wire_tx_flags(&m),
			 NETTXF_data_validated | NETTXF_extra_info);
}

static void test_gso_extra_layout(void **state)
{
	struct netfront_meta m = { .gso_type = NETFRONT_GSO_TCPV4,
				   .gso_size = 0x05a8 };
	struct netif_extra_info e;
	uint8_t slot[NETFRONT_TX_SLOT_SIZE];

	(void)state;
	memset(slot, 0xee, sizeof(slot));
	assert_true(netfront_wire_gso_extra(&m, &e));
	netfront_wire_put_tx_extra(slot, &e);
	/* |type|flags|size LE|gso type|pad|features|padding(4)| */
	assert_int_equal(slot[0], XEN_NETIF_EXTRA_TYPE_GSO);
	assert_int_equal(slot[1], 0);
	assert_int_equal(slot[2], 0xa8);
	assert_int_equal(slot[3], 0x05);
	assert_int_equal(slot[4], XEN_NETIF_GSO_TYPE_TCPV4);
	assert_int_equal(slot[5], 0);
	assert_int_equal(slot[6], 0);
	assert_int_equal(slot[7], 0);
	assert_int_equal(slot[8] | slot[9] | slot[10] | slot[11], 0);
	m.gso_type = NETFRONT_GSO_NONE;
	assert_false(netfront_wire_gso_extra(&m, &e));
}

static void test_tx_request_layout(void **state)
{
	struct netif_tx_request r = { .gref = 0x01020304, .offset = 0x0506,
				      .flags = 0x0708, .id = 0x090a,
				      .size = 0x0b0c };
	const uint8_t want[12] = { 4, 3, 2, 1, 6, 5, 8, 7, 0xa, 9, 0xc, 0xb };
	uint8_t slot[12];

	(void)state;
	netfront_wire_put_tx(slot, &r);
	assert_memory_equal(slot, want, 12);
}

static void test_tx_slots(void **state)
{
	static const struct { uint32_t len, off; unsigned int n; } t[] = {
		{ 0, 0, 1 }, { 1, 0, 1 }, { 14, 0, 1 }, { 4096, 0, 1 },
		{ 4097, 0, 2 }, { 8192, 0, 2 }, { 65535, 0, 16 },
		{ 100, 4090, 2 }, { 6, 4090, 1 }, { 65535, 1, 16 },
		{ 65535, 2, 17 },
	};
	unsigned int i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		assert_int_equal(netfront_wire_tx_slots(t[i].len, t[i].off),
				 t[i].n);
}

/* ---- RX parsing ---- */

static uint8_t ring[64 * NETFRONT_RX_SLOT_SIZE];

static void put_rsp(unsigned int i, uint16_t off, uint16_t flags,
		    int16_t status)
{
	struct netif_rx_response r = { .id = (uint16_t)i, .offset = off,
				       .flags = flags, .status = status };

	memcpy(ring + i * NETFRONT_RX_SLOT_SIZE, &r, sizeof(r));
}

static void put_extra(unsigned int i, const struct netif_extra_info *e)
{
	memcpy(ring + i * NETFRONT_RX_SLOT_SIZE, e, sizeof(*e));
}

static void test_rx_single(void **state)
{
	struct netfront_rx_pkt p;

	(void)state;
	put_rsp(0, 10, NETRXF_data_validated, 60);
	assert_int_equal(netfront_wire_rx_parse(ring, 1, &p), 1);
	assert_int_equal(p.nr_slots, 1);
	assert_int_equal(p.nr_frags, 1);
	assert_int_equal(p.frag[0].slot, 0);
	assert_int_equal(p.frag[0].offset, 10);
	assert_int_equal(p.frag[0].size, 60);
	assert_int_equal(p.len, 60);
	assert_int_equal(p.meta.csum, NETFRONT_CSUM_VALIDATED);
	assert_int_equal(p.meta.gso_type, NETFRONT_GSO_NONE);
	assert_int_equal(netfront_wire_rx_parse(ring, 0, &p), 0);
}

static void test_rx_chain_with_extras(void **state)
{
	struct netif_extra_info gso = { .type = XEN_NETIF_EXTRA_TYPE_GSO,
					.flags = XEN_NETIF_EXTRA_FLAG_MORE };
	struct netif_extra_info hash = { .type = XEN_NETIF_EXTRA_TYPE_HASH };
	struct netfront_rx_pkt p;

	(void)state;
	gso.u.gso.size = 1448;
	gso.u.gso.type = XEN_NETIF_GSO_TYPE_TCPV6;
	hash.u.hash.type = _XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP;
	hash.u.hash.algorithm = XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ;
	hash.u.hash.value[0] = 0x78;
	hash.u.hash.value[1] = 0x56;
	hash.u.hash.value[2] = 0x34;
	hash.u.hash.value[3] = 0x12;
	put_rsp(0, 0, NETRXF_csum_blank | NETRXF_data_validated |
		NETRXF_extra_info | NETRXF_more_data, 4096);
	put_extra(1, &gso);
	put_extra(2, &hash);
	put_rsp(3, 0, NETRXF_more_data, 4096);
	put_rsp(4, 0, 0, 100);
	/* incomplete until every slot is there */
	assert_int_equal(netfront_wire_rx_parse(ring, 1, &p), 0);
	assert_int_equal(netfront_wire_rx_parse(ring, 3, &p), 0);
	assert_int_equal(netfront_wire_rx_parse(ring, 4, &p), 0);
	assert_int_equal(netfront_wire_rx_parse(ring, 5, &p), 1);
	assert_int_equal(p.nr_slots, 5);
	assert_int_equal(p.nr_frags, 3);
	assert_int_equal(p.frag[0].slot, 0);
	assert_int_equal(p.frag[1].slot, 3);
	assert_int_equal(p.frag[2].slot, 4);
	assert_int_equal(p.len, 4096 + 4096 + 100);
	assert_int_equal(p.meta.csum, NETFRONT_CSUM_PARTIAL);
	assert_int_equal(p.meta.gso_type, NETFRONT_GSO_TCPV6);
	assert_int_equal(p.meta.gso_size, 1448);
	assert_true(p.meta.hash_valid);
	assert_int_equal(p.meta.hash, 0x12345678);
	assert_int_equal(p.meta.hash_type, _XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP);
	assert_int_equal(p.meta.hash_alg,
			 XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ);
	/* trailing slots of another packet are not touched */
	assert_int_equal(netfront_wire_rx_parse(ring, 9, &p), 1);
	assert_int_equal(p.nr_slots, 5);
}

struct bad_case {
	const char *name;
	int want;
	unsigned int skip;
};

static void check_bad(const struct bad_case *c, unsigned int avail)
{
	struct netfront_rx_pkt p;
	int r = netfront_wire_rx_parse(ring, avail, &p);

	if (r != c->want || p.nr_slots != c->skip)
		fail_msg("%s: got %d skip %u, want %d skip %u", c->name, r,
			 p.nr_slots, c->want, c->skip);
}

static void test_rx_malformed(void **state)
{
	struct netif_extra_info e = { 0 };
	unsigned int i;

	(void)state;
	put_rsp(0, 4000, 0, 200);
	check_bad(&(struct bad_case){ "offset+size > page", -EPROTO, 1 }, 4);
	put_rsp(0, 0, NETRXF_more_data, -1);
	put_rsp(1, 0, 0, 10);
	check_bad(&(struct bad_case){ "negative status", -EIO, 2 }, 4);
	put_rsp(0, 0, 0, 0);
	check_bad(&(struct bad_case){ "empty frame", -EPROTO, 1 }, 4);

	put_rsp(0, 0, NETRXF_extra_info, 60);
	e.type = XEN_NETIF_EXTRA_TYPE_MAX;
	put_extra(1, &e);
	check_bad(&(struct bad_case){ "unknown extra", -EPROTO, 2 }, 4);
	e.type = XEN_NETIF_EXTRA_TYPE_NONE;
	put_extra(1, &e);
	check_bad(&(struct bad_case){ "extra type none", -EPROTO, 2 }, 4);
	e.type = XEN_NETIF_EXTRA_TYPE_GSO;
	e.flags = XEN_NETIF_EXTRA_FLAG_MORE;
	e.u.gso.size = 1000;
	e.u.gso.type = XEN_NETIF_GSO_TYPE_TCPV4;
	put_extra(1, &e);
	e.flags = 0;
	put_extra(2, &e);
	check_bad(&(struct bad_case){ "duplicate extra", -EPROTO, 3 }, 4);
	e.u.gso.size = 0;
	put_extra(1, &e);
	check_bad(&(struct bad_case){ "gso size 0", -EPROTO, 2 }, 4);
	e.u.gso.size = 100;
	e.u.gso.type = 7;
	put_extra(1, &e);
	check_bad(&(struct bad_case){ "gso type", -EPROTO, 2 }, 4);

	/* an endless more_data chain: cut at the packet maximum */
	for (i = 0; i < 64; i++)
		put_rsp(i, 0, NETRXF_more_data, 100);
	check_bad(&(struct bad_case){ "endless chain", -E2BIG,
				      NETFRONT_RX_MAX_PKT_SLOTS }, 64);
	/* 18 full slots: over 0xFFFF bytes and over the frag limit */
	put_rsp(NETFRONT_MAX_SLOTS, 0, 0, 100);
	check_bad(&(struct bad_case){ "too many frags", -E2BIG,
				      NETFRONT_MAX_SLOTS + 1 }, 64);
	/* 17 slots of 4000 = 68000 bytes */
	for (i = 0; i < 16; i++)
		put_rsp(i, 0, NETRXF_more_data, 4000);
	put_rsp(16, 0, 0, 4000);
	check_bad(&(struct bad_case){ "over 64 KiB", -E2BIG, 17 }, 64);
}

/* ---- checksums ---- */

static uint8_t frame[256];

static size_t build_eth(uint16_t type, bool vlan)
{
	size_t off = 12;

	memset(frame, 0, sizeof(frame));
	if (vlan) {
		frame[off++] = 0x81;
		frame[off++] = 0x00;
		off += 2;
	}
	frame[off++] = (uint8_t)(type >> 8);
	frame[off++] = (uint8_t)type;
	return off;
}

static void test_csum_offsets(void **state)
{
	uint16_t start = 0, off = 0;
	size_t l3;

	(void)state;
	l3 = build_eth(0x0800, false);
	frame[l3] = 0x46;                /* IPv4, 24-byte header */
	frame[l3 + 9] = 6;
	assert_int_equal(netfront_csum_offsets(frame, 100, &start, &off), 0);
	assert_int_equal(start, 14 + 24);
	assert_int_equal(off, 16);
	frame[l3 + 9] = 17;
	assert_int_equal(netfront_csum_offsets(frame, 100, &start, &off), 0);
	assert_int_equal(off, 6);
	/* truncated before the checksum field */
	assert_int_equal(netfront_csum_offsets(frame, 14 + 24 + 7, &start,
					       &off), -EPROTO);
	frame[l3 + 9] = 1;               /* ICMP has no offloadable csum */
	assert_int_equal(netfront_csum_offsets(frame, 100, &start, &off),
			 -EPROTO);
	frame[l3] = 0x44;                /* ihl 16 bytes: invalid */
	frame[l3 + 9] = 6;
	assert_int_equal(netfront_csum_offsets(frame, 100, &start, &off),
			 -EPROTO);

	l3 = build_eth(0x86dd, true);
	frame[l3] = 0x60;
	frame[l3 + 6] = 0;               /* hop-by-hop, 8 bytes */
	frame[l3 + 40] = 6;
	frame[l3 + 41] = 0;
	assert_int_equal(netfront_csum_offsets(frame, 200, &start, &off), 0);
	assert_int_equal(start, 18 + 40 + 8);
	assert_int_equal(off, 16);

	build_eth(0x0806, false);        /* ARP */
	assert_int_equal(netfront_csum_offsets(frame, 60, &start, &off),
			 -EPROTO);
	assert_int_equal(netfront_csum_offsets(frame, 10, &start, &off),
			 -EPROTO);
}

static uint32_t sum16(const uint8_t *p, size_t n, uint32_t s)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

/* An IPv4 UDP frame; the reference checksum is computed from scratch
 * (pseudo header + UDP with a zero field), the library's from the
 * partial form (pseudo-header sum in the field). */
static void test_csum_complete(void **state)
{
	size_t l3 = build_eth(0x0800, false), l4, len, i;
	uint8_t pseudo[12];
	uint16_t ref, plen, ps;

	(void)state;
	l4 = l3 + 20;
	len = l4 + 8 + 37;
	plen = (uint16_t)(len - l4);
	frame[l3] = 0x45;
	frame[l3 + 9] = 17;
	memcpy(frame + l3 + 12, (uint8_t[]){ 198, 18, 0, 1 }, 4);
	memcpy(frame + l3 + 16, (uint8_t[]){ 198, 18, 0, 2 }, 4);
	frame[l4] = 0x30; frame[l4 + 1] = 0x39;
	frame[l4 + 2] = 0x01; frame[l4 + 3] = 0xbb;
	frame[l4 + 4] = (uint8_t)(plen >> 8);
	frame[l4 + 5] = (uint8_t)plen;
	for (i = l4 + 8; i < len; i++)
		frame[i] = (uint8_t)(i * 7 + 3);
	memcpy(pseudo, frame + l3 + 12, 8);
	pseudo[8] = 0;
	pseudo[9] = 17;
	pseudo[10] = (uint8_t)(plen >> 8);
	pseudo[11] = (uint8_t)plen;
	ref = (uint16_t)~fold(sum16(frame + l4, plen, sum16(pseudo, 12, 0)));
	ps = fold(sum16(pseudo, 12, 0));
	frame[l4 + 6] = (uint8_t)(ps >> 8);
	frame[l4 + 7] = (uint8_t)ps;
	assert_int_equal(netfront_csum_complete(frame, len, (uint16_t)l4, 6),
			 0);
	assert_int_equal(frame[l4 + 6] << 8 | frame[l4 + 7], ref);
	/* field beyond the frame */
	assert_int_equal(netfront_csum_complete(frame, l4 + 7, (uint16_t)l4,
						6), -EINVAL);
}

/* ---- metadata ---- */

static void test_meta_vnet(void **state)
{
	struct virtio_net_hdr v = { 0 }, out;
	struct netfront_meta m;
	size_t l3;

	(void)state;
	v.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	v.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	v.gso_size = 1448;
	assert_int_equal(netfront_meta_from_vnet(&v, &m), 0);
	assert_int_equal(m.csum, NETFRONT_CSUM_PARTIAL);
	assert_int_equal(m.gso_type, NETFRONT_GSO_TCPV4);
	assert_int_equal(m.gso_size, 1448);
	v.gso_size = 0;
	assert_int_equal(netfront_meta_from_vnet(&v, &m), -EINVAL);
	v.gso_type = VIRTIO_NET_HDR_GSO_UDP;
	v.gso_size = 1000;
	assert_int_equal(netfront_meta_from_vnet(&v, &m), -EINVAL);
	v.gso_type = VIRTIO_NET_HDR_GSO_NONE;
	v.flags = VIRTIO_NET_HDR_F_DATA_VALID;
	assert_int_equal(netfront_meta_from_vnet(&v, &m), 0);
	assert_int_equal(m.csum, NETFRONT_CSUM_VALIDATED);
	assert_int_equal(m.gso_type, NETFRONT_GSO_NONE);

	/* back: a TCPv4 GSO frame with a 32-byte TCP header */
	l3 = build_eth(0x0800, false);
	frame[l3] = 0x45;
	frame[l3 + 9] = 6;
	frame[l3 + 20 + 12] = 8 << 4;
	m = (struct netfront_meta){ .csum = NETFRONT_CSUM_PARTIAL,
				    .gso_type = NETFRONT_GSO_TCPV4,
				    .gso_size = 1448 };
	assert_int_equal(netfront_meta_to_vnet(&m, frame, 200, &out), 0);
	assert_int_equal(out.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	assert_int_equal(out.csum_start, 34);
	assert_int_equal(out.csum_offset, 16);
	assert_int_equal(out.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
	assert_int_equal(out.gso_size, 1448);
	assert_int_equal(out.hdr_len, 34 + 32);
	/* a blank checksum in a frame we cannot parse */
	build_eth(0x0806, false);
	assert_int_equal(netfront_meta_to_vnet(&m, frame, 60, &out), -EPROTO);
	m = (struct netfront_meta){ .csum = NETFRONT_CSUM_VALIDATED };
	assert_int_equal(netfront_meta_to_vnet(&m, frame, 60, &out), 0);
	assert_int_equal(out.flags, VIRTIO_NET_HDR_F_DATA_VALID);
	assert_int_equal(out.gso_type, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tx_flags),
		cmocka_unit_test(test_gso_extra_layout),
		cmocka_unit_test(test_tx_request_layout),
		cmocka_unit_test(test_tx_slots),
		cmocka_unit_test(test_rx_single),
		cmocka_unit_test(test_rx_chain_with_extras),
		cmocka_unit_test(test_rx_malformed),
		cmocka_unit_test(test_csum_offsets),
		cmocka_unit_test(test_csum_complete),
		cmocka_unit_test(test_meta_vnet),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
