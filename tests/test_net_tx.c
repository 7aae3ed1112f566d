/* SPDX-License-Identifier: MIT */
/*
 * The TX decoder (net_tx_decode) and ring peek (net_tx_peek) on buffers,
 * with the hostile cases a frontend can produce: empty and short packets,
 * slot counts at and beyond the limits, sizes that do not add up,
 * segments crossing the page, chains running past the producer, GSO and
 * unknown extras, impossible producers; then a random stream checked
 * against invariants. Where a frame lands in the TX buffers
 * (net_tx_place). Also the checksum helpers of frame.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "netback.h"

#define M NETTXF_more_data
#define X NETTXF_extra_info

static const struct net_tx_limits lim = {
	.max_slots = NET_TX_MAX_SLOTS,
	.fatal_slots = NET_TX_FATAL_SLOTS,
};

static union net_tx_slot req(uint16_t off, uint16_t flags, uint16_t id,
			     uint16_t size)
{
	union net_tx_slot s;

	memset(&s, 0, sizeof(s));
	s.req.gref = 100u + id;
	s.req.offset = off;
	s.req.flags = flags;
	s.req.id = id;
	s.req.size = size;
	return s;
}

static union net_tx_slot extra(uint8_t type, uint8_t flags)
{
	union net_tx_slot s;

	memset(&s, 0, sizeof(s));
	s.extra.type = type;
	s.extra.flags = flags;
	return s;
}

static union net_tx_slot gso(uint8_t gtype, uint16_t size, uint8_t flags)
{
	union net_tx_slot s = extra(XEN_NETIF_EXTRA_TYPE_GSO, flags);

	s.extra.u.gso.type = gtype;
	s.extra.u.gso.size = size;
	return s;
}

/* A packet of @nslots data slots of @each bytes (the first one too). */
static uint32_t chain(union net_tx_slot *s, uint32_t nslots, uint16_t each)
{
	uint32_t i;

	s[0] = req(0, nslots > 1 ? M : 0, 0, (uint16_t)(each * nslots));
	for (i = 1; i < nslots; i++)
		s[i] = req(0, i + 1 < nslots ? M : 0, (uint16_t)i, each);
	return nslots;
}

struct tcase {
	const char *name;
	union net_tx_slot s[80];
	uint32_t n;
	enum net_tx_verdict verdict;
	enum net_tx_err err;
	uint32_t nslots;
};

static void check(const struct tcase *c)
{
	struct net_tx_pkt p;
	enum net_tx_verdict v = net_tx_decode(c->s, c->n, &lim, &p);

	print_message("case %s: verdict %d err %s nslots %u\n", c->name, v,
		      net_tx_err_name(p.err), p.nslots);
	assert_int_equal(v, c->verdict);
	assert_int_equal(p.verdict, c->verdict);
	assert_int_equal(p.err, c->err);
	if (v != NET_TX_FATAL)
		assert_int_equal(p.nslots, c->nslots);
	assert_true(p.nslots <= c->n);
}

static void test_basic_cases(void **state)
{
	struct tcase c;

	/* 0-byte packet. */
	memset(&c, 0, sizeof(c));
	c.name = "zero";
	c.s[0] = req(0, 0, 1, 0);
	c.n = 1;
	c.verdict = NET_TX_DROP; c.err = NET_TX_E_SHORT; c.nslots = 1;
	check(&c);

	/* 13 bytes: less than an Ethernet header. */
	c.name = "short";
	c.s[0] = req(0, 0, 1, 13);
	check(&c);

	/* One ordinary frame; a following packet is not consumed. */
	c.name = "one";
	c.s[0] = req(100, 0, 1, 60);
	c.s[1] = req(0, 0, 2, 60);
	c.n = 2;
	c.verdict = NET_TX_SEND; c.err = NET_TX_OK; c.nslots = 1;
	check(&c);

	/* Whole page, offset 0. */
	c.name = "page";
	c.s[0] = req(0, 0, 1, 4096);
	c.n = 1;
	check(&c);

	/* First slot crossing the page. */
	c.name = "first_cross";
	c.s[0] = req(4000, 0, 1, 200);
	c.verdict = NET_TX_DROP; c.err = NET_TX_E_PAGE;
	check(&c);
}

static void test_slot_limits(void **state)
{
	struct tcase c;

	memset(&c, 0, sizeof(c));
	c.name = "18_slots";
	c.n = chain(c.s, 18, 1000);
	c.verdict = NET_TX_SEND; c.nslots = 18;
	check(&c);

	c.name = "19_slots";
	c.n = chain(c.s, 19, 1000);
	c.verdict = NET_TX_DROP; c.err = NET_TX_E_SLOTS; c.nslots = 19;
	check(&c);

	c.name = "20_slots";
	c.n = chain(c.s, 20, 1000);
	c.nslots = 20;
	check(&c);

	c.name = "21_slots_fatal";
	c.n = chain(c.s, 21, 1000);
	c.verdict = NET_TX_FATAL; c.err = NET_TX_F_SLOTS;
	check(&c);

	/* more_data never cleared before the producer. */
	c.name = "unterminated";
	c.n = chain(c.s, 5, 100);
	c.s[4].req.flags |= M;
	c.verdict = NET_TX_FATAL; c.err = NET_TX_F_CHAIN;
	check(&c);
	c.name = "unterminated_first";
	c.s[0] = req(0, M, 0, 100);
	c.n = 1;
	check(&c);
}

static void test_sizes(void **state)
{
	struct tcase c;

	memset(&c, 0, sizeof(c));
	/* Following slots larger than the packet. */
	c.name = "sum_exceeds_first";
	c.n = chain(c.s, 3, 1000);
	c.s[0].req.size = 1500;
	c.verdict = NET_TX_DROP; c.err = NET_TX_E_SIZE; c.nslots = 3;
	check(&c);

	/* A 70000-byte frame: the first size wrapped past 0xFFFF. */
	c.name = "over_64k";
	c.n = chain(c.s, 18, 3889);     /* 18 x 3889 = 70002 */
	c.s[0].req.size = (uint16_t)(70002u & 0xffff);
	c.nslots = 18;
	check(&c);

	/* The first slot itself must hold the Ethernet header. */
	c.name = "first_empty";
	c.n = chain(c.s, 2, 1000);
	c.s[0].req.size = 1000;         /* all of it in slot 1 */
	c.err = NET_TX_E_SHORT; c.nslots = 2;
	check(&c);

	/* Sizes adding up exactly: 0xFFFF bytes. */
	c.name = "max_frame";
	c.n = chain(c.s, 17, 3855);     /* 17 x 3855 = 65535 */
	c.verdict = NET_TX_SEND; c.err = NET_TX_OK; c.nslots = 17;
	check(&c);

	/* A following slot crossing its page. */
	c.name = "follow_cross";
	c.n = chain(c.s, 3, 1000);
	c.s[2].req.offset = 3500;
	c.verdict = NET_TX_DROP; c.err = NET_TX_E_PAGE; c.nslots = 3;
	check(&c);

	/* Zero-sized following slots are fine. */
	c.name = "zero_follow";
	c.n = chain(c.s, 3, 1000);
	c.s[0].req.size = 2000;
	c.s[2].req.size = 0;
	c.verdict = NET_TX_SEND; c.err = NET_TX_OK; c.nslots = 3;
	check(&c);
}

static void test_extras(void **state)
{
	struct net_tx_pkt p;
	struct tcase c;
	unsigned int i;

	memset(&c, 0, sizeof(c));
	c.name = "gso_ok";
	c.s[0] = req(0, X | M, 0, 3000);
	c.s[1] = gso(XEN_NETIF_GSO_TYPE_TCPV4, 1448, 0);
	c.s[2] = req(0, 0, 1, 1000);
	c.n = 3;
	c.verdict = NET_TX_SEND; c.nslots = 3;
	check(&c);
	assert_int_equal(net_tx_decode(c.s, c.n, &lim, &p), NET_TX_SEND);
	assert_true(p.gso);
	assert_int_equal(p.gso_type, XEN_NETIF_GSO_TYPE_TCPV4);
	assert_int_equal(p.gso_size, 1448);
	assert_int_equal(p.nextras, 1);
	assert_int_equal(p.first_len, 2000);

	c.name = "gso_bad_type";
	c.s[1] = gso(7, 1448, 0);
	c.verdict = NET_TX_DROP; c.err = NET_TX_E_GSO;
	check(&c);

	c.name = "gso_size_0";
	c.s[1] = gso(XEN_NETIF_GSO_TYPE_TCPV6, 0, 0);
	check(&c);

	c.name = "extra_unknown";
	c.s[1] = extra(9, 0);
	c.err = NET_TX_E_EXTRA;
	check(&c);
	c.name = "extra_none";
	c.s[1] = extra(XEN_NETIF_EXTRA_TYPE_NONE, 0);
	check(&c);

	/* The hash extra is accepted and ignored. */
	c.name = "extra_hash";
	c.s[1] = extra(XEN_NETIF_EXTRA_TYPE_HASH, 0);
	c.verdict = NET_TX_SEND; c.err = NET_TX_OK;
	check(&c);

	/* Extra-info chained past the producer. */
	c.name = "extra_past_prod";
	c.s[1] = gso(XEN_NETIF_GSO_TYPE_TCPV4, 1448,
		     XEN_NETIF_EXTRA_FLAG_MORE);
	c.n = 2;
	c.verdict = NET_TX_FATAL; c.err = NET_TX_F_CHAIN;
	check(&c);
	c.name = "extra_flag_alone";
	c.n = 1;
	check(&c);

	/* More extras than types. */
	c.name = "extra_chain_long";
	c.s[0] = req(0, X, 0, 100);
	for (i = 1; i <= NET_TX_MAX_EXTRAS + 1; i++)
		c.s[i] = extra(XEN_NETIF_EXTRA_TYPE_HASH,
			       XEN_NETIF_EXTRA_FLAG_MORE);
	c.s[i] = req(0, 0, 1, 100);
	c.n = i + 1;
	c.err = NET_TX_F_EXTRAS;
	check(&c);

	/* Multicast add: control, no frame; size checks do not apply. */
	memset(&c, 0, sizeof(c));
	c.name = "mcast_add";
	c.s[0] = req(0, X, 0, 0);
	c.s[1] = extra(XEN_NETIF_EXTRA_TYPE_MCAST_ADD, 0);
	memcpy(c.s[1].extra.u.mcast.addr, "\x01\x00\x5e\x00\x00\x01", 6);
	c.n = 2;
	c.verdict = NET_TX_CTRL; c.nslots = 2;
	check(&c);
	assert_int_equal(net_tx_decode(c.s, c.n, &lim, &p), NET_TX_CTRL);
	assert_true(p.mcast_add);
	assert_false(p.mcast_del);
	assert_memory_equal(p.mcast_addr, "\x01\x00\x5e\x00\x00\x01", 6);
}

/* Random slot streams: whatever the verdict, the decoder stays inside
 * what it was given and a SEND packet's geometry is sound. */
static void test_random(void **state)
{
	union net_tx_slot s[NET_TX_WINDOW];
	struct net_tx_pkt p;
	unsigned int iter, i, counts[4] = { 0 };

	srandom(12345);
	for (iter = 0; iter < 200000; iter++) {
		uint32_t n = 1 + (uint32_t)random() % NET_TX_WINDOW;
		enum net_tx_verdict v;

		for (i = 0; i < n; i++) {
			uint32_t r = (uint32_t)random();

			s[i].req.gref = r;
			s[i].req.offset = (uint16_t)(random() % 5000);
			/* Mostly small flags so chains occur. */
			s[i].req.flags = (uint16_t)(random() % 16);
			s[i].req.id = (uint16_t)i;
			s[i].req.size = (uint16_t)(random() % 3 ? random() % 4200
							    : random());
		}
		v = net_tx_decode(s, n, &lim, &p);
		counts[v]++;
		assert_int_equal(v, p.verdict);
		if (v == NET_TX_FATAL) {
			assert_true(p.err >= NET_TX_F_CHAIN &&
				    p.err < NET_TX_F_COUNT);
			continue;
		}
		assert_true(p.nslots >= 1 && p.nslots <= n);
		assert_true(p.nextras <= NET_TX_MAX_EXTRAS);
		if (v == NET_TX_SEND) {
			uint32_t sum = p.first_len;

			assert_int_equal(p.err, NET_TX_OK);
			assert_true(p.first_len >= NET_ETH_HLEN);
			assert_true(s[0].req.offset + p.first_len <= 4096);
			assert_true(p.nslots - p.nextras <= lim.max_slots);
			for (i = 1 + p.nextras; i < p.nslots; i++) {
				assert_true(s[i].req.offset + s[i].req.size <=
					    4096);
				sum += s[i].req.size;
			}
			assert_int_equal(sum, p.len);
		} else if (v == NET_TX_DROP) {
			assert_true(p.err > NET_TX_OK && p.err < NET_TX_E_COUNT);
		}
	}
	print_message("send %u ctrl %u drop %u fatal %u\n", counts[0],
		      counts[1], counts[2], counts[3]);
	/* The stream must exercise every verdict. */
	for (i = 0; i < 4; i++)
		assert_true(counts[i] > 0);
}

/* A one-page ring in ordinary memory. */
static void test_peek_producer(void **state)
{
	union net_tx_slot out[256];
	struct xb_back_ring r;
	struct xb_ring_hdr *h;
	static uint8_t page[4096] __attribute__((aligned(4096)));
	uint32_t count = 99;
	unsigned int i;

	memset(page, 0, sizeof(page));
	h = (struct xb_ring_hdr *)page;
	assert_int_equal(xb_back_ring_attach(&r, page, 4096,
					     sizeof(union netif_tx_sring_entry)),
			 0);
	assert_int_equal(r.nr_ents, 256);
	for (i = 0; i < 256; i++) {
		union net_tx_slot s = req(0, 0, (uint16_t)i, 60);

		memcpy(xb_ring_slot(&r, i), &s, sizeof(s));
	}
	h->req_prod = 5;
	assert_int_equal(net_tx_peek(&r, out, 256, &count), 0);
	assert_int_equal(count, 5);
	for (i = 0; i < 5; i++)
		assert_int_equal(out[i].req.id, i);
	/* The window bound. */
	assert_int_equal(net_tx_peek(&r, out, 3, &count), 0);
	assert_int_equal(count, 3);

	/* A producer one beyond the ring size. */
	count = 99;
	h->req_prod = 257;
	assert_int_equal(net_tx_peek(&r, out, 256, &count), -EIO);
	assert_int_equal(count, 99);
	/* ... by 2^31. */
	h->req_prod = 0x80000000u;
	assert_int_equal(net_tx_peek(&r, out, 256, &count), -EIO);
	/* ... behind what was consumed. */
	r.req_cons = r.rsp_prod_pvt = 10;
	h->req_prod = 9;
	assert_int_equal(net_tx_peek(&r, out, 256, &count), -EIO);
	/* A full ring, wrapped around the index space, is fine. */
	r.req_cons = r.rsp_prod_pvt = 0xffffff80u;
	h->req_prod = 0xffffff80u + 256;
	assert_int_equal(net_tx_peek(&r, out, 256, &count), 0);
	assert_int_equal(count, 256);
}

/* An Ethernet/IPv4/TCP frame with a payload. */
static uint32_t make_tcp4(uint8_t *f, uint32_t payload)
{
	uint32_t len = 14 + 20 + 20 + payload, i;

	memset(f, 0, len);
	memcpy(f, "\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02\x08\x00",
	       14);
	f[14] = 0x45;
	f[16] = (uint8_t)((len - 14) >> 8);
	f[17] = (uint8_t)(len - 14);
	f[22] = 64;
	f[23] = 6;
	memcpy(f + 26, "\xc6\x12\x00\x01\xc6\x12\x00\x02", 8);
	f[34 + 12] = 5 << 4;
	for (i = 0; i < payload; i++)
		f[54 + i] = (uint8_t)(i * 7 + 3);
	return len;
}

static uint16_t l4_sum_ok(const uint8_t *f, uint32_t len)
{
	/* Pseudo header + segment must sum to 0xffff. */
	uint32_t sum = 0, i, l4len = len - 34;

	for (i = 26; i < 34; i += 2)
		sum += (uint32_t)(f[i] << 8 | f[i + 1]);
	sum += 6 + l4len;
	for (i = 34; i + 1 < len; i += 2)
		sum += (uint32_t)(f[i] << 8 | f[i + 1]);
	if (len & 1)
		sum += (uint32_t)f[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

static void test_csum(void **state)
{
	static uint8_t f[2000];
	struct virtio_net_hdr v;
	uint32_t len = make_tcp4(f, 1001);

	memset(&v, 0, sizeof(v));
	/* A partial frame as a frontend sends it after setup with the
	 * pseudo-header sum (recalc), completed in software. */
	assert_int_equal(net_frame_csum_setup(f, len, &v, true), 0);
	assert_true(v.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM);
	assert_int_equal(v.csum_start, 34);
	assert_int_equal(v.csum_offset, 16);
	assert_int_equal(v.hdr_len, 54);
	assert_int_equal(net_frame_csum_complete(f, len, &v), 0);
	assert_false(v.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM);
	assert_int_equal(l4_sum_ok(f, len), 0xffff);

	/* Truncated headers, unknown ethertype, bad csum_start. */
	memset(&v, 0, sizeof(v));
	assert_int_equal(net_frame_csum_setup(f, 40, &v, false),
			 -EPROTONOSUPPORT);
	f[12] = 0x88;
	assert_int_equal(net_frame_csum_setup(f, len, &v, false),
			 -EPROTONOSUPPORT);
	assert_int_equal(v.flags, 0);
	v.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	v.csum_start = (uint16_t)len;
	assert_int_equal(net_frame_csum_complete(f, len, &v), -EINVAL);
	v.csum_start = (uint16_t)(len - 10);
	v.csum_offset = 9;
	assert_int_equal(net_frame_csum_complete(f, len, &v), -EINVAL);
}

/* Our pages a copy of @len bytes to @dst touches. */
static uint32_t pages_touched(uint32_t dst, uint32_t len)
{
	return (dst + len - 1) / XB_PAGE_SIZE - dst / XB_PAGE_SIZE + 1;
}

/*
 * net_tx_place: a GSO frame as Linux's netfront sends it (a header in the
 * first slot at some offset, then a frag's page-contiguous slots, the
 * first at an offset of its own) is placed so that no data slot's copy
 * straddles two of our pages, wherever the previous frame ended; the
 * start moves less than a page; a one-slot frame stays where it is.
 */
static void test_place(void **state)
{
	static const uint32_t useds[] = { 0, 64, 4032, 4096, 70016, 123456 };
	static const uint16_t hdr_offs[] = { 0, 66, 2048, 3968 };
	static const uint16_t frag_offs[] = { 0, 1, 100, 2000, 4095 };
	union net_tx_slot s[24];
	struct net_tx_pkt p;
	uint32_t a, b, c, i, n, start, pos, straddles;

	(void)state;
	for (a = 0; a < sizeof(useds) / sizeof(useds[0]); a++)
	for (b = 0; b < sizeof(hdr_offs) / sizeof(hdr_offs[0]); b++)
	for (c = 0; c < sizeof(frag_offs) / sizeof(frag_offs[0]); c++) {
		uint16_t hlen = 128, foff = frag_offs[c];
		uint32_t left = 40000, total = hlen + left;

		n = 0;
		s[n++] = req(hdr_offs[b], M | X, 0, (uint16_t)total);
		s[n++] = gso(XEN_NETIF_GSO_TYPE_TCPV4, 1448, 0);
		while (left) {
			uint16_t off = n == 2 ? foff : 0;
			uint16_t sz = (uint16_t)(XB_PAGE_SIZE - off < left ?
						 XB_PAGE_SIZE - off : left);

			left -= sz;
			s[n] = req(off, left ? M : 0, (uint16_t)n, sz);
			n++;
		}
		assert_int_equal(net_tx_decode(s, n, &lim, &p), NET_TX_SEND);
		assert_int_equal(p.first_len, hlen);
		start = net_tx_place(useds[a], s, &p);
		assert_true(start >= useds[a]);
		assert_true(start - useds[a] < XB_PAGE_SIZE);
		pos = start + p.first_len;
		straddles = 0;
		for (i = 2; i < n; i++) {
			straddles += pages_touched(pos, s[i].req.size) > 1;
			pos += s[i].req.size;
		}
		assert_int_equal(straddles, 0);
		assert_int_equal(pos - start, total);
	}
	/* One slot: packed where the last frame ended. */
	s[0] = req(100, 0, 0, 1500);
	assert_int_equal(net_tx_decode(s, 1, &lim, &p), NET_TX_SEND);
	assert_int_equal(net_tx_place(4160, s, &p), 4160);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic_cases),
		cmocka_unit_test(test_slot_limits),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_extras),
		cmocka_unit_test(test_random),
		cmocka_unit_test(test_place),
		cmocka_unit_test(test_peek_producer),
		cmocka_unit_test(test_csum),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
