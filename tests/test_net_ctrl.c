/* SPDX-License-Identifier: MIT */
/*
 * netback/ctrl.h: Toeplitz against the Microsoft RSS verification vectors,
 * frame parsing (truncated at every byte, VLAN, IPv4 options and
 * fragments, IPv6), queue selection, every control request with good and
 * bad parameters, the control ring end to end over the in-process fake
 * hypervisor (tests/blk_fakehv.h), the multicast filter and the rate
 * credit.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ctrl.h"
#include "state.h"
#include "blk_fakehv.h"

#define ALL_TYPES (XEN_NETIF_CTRL_HASH_TYPE_IPV4 |                         \
		   XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP |                     \
		   XEN_NETIF_CTRL_HASH_TYPE_IPV6 |                         \
		   XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP)
#define T_V4     XEN_NETIF_CTRL_HASH_TYPE_IPV4
#define T_V4TCP  XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP
#define T_V6     XEN_NETIF_CTRL_HASH_TYPE_IPV6
#define T_V6TCP  XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP

/* The key of the Microsoft RSS specification's verification suite. */
static const uint8_t ms_key[40] = {
	0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2,
	0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0,
	0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4,
	0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30, 0xf2, 0x0c,
	0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
};

struct rss_vec {
	int af;
	const char *dst, *src;
	uint16_t dport, sport;
	uint32_t h_ip, h_tcp;
};

/* "Verifying the RSS Hash Calculation" (Microsoft), IPv4 and IPv6. */
static const struct rss_vec rss_vecs[] = {
	{ AF_INET, "161.142.100.80", "66.9.149.187", 1766, 2794,
	  0x323e8fc2, 0x51ccc178 },
	{ AF_INET, "65.69.140.83", "199.92.111.2", 4739, 14230,
	  0xd718262a, 0xc626b0ea },
	{ AF_INET, "12.22.207.184", "24.19.198.95", 38024, 12898,
	  0xd2d0a5de, 0x5c2b394a },
	{ AF_INET, "209.142.163.6", "38.27.205.30", 2217, 48228,
	  0x82989176, 0xafc7327f },
	{ AF_INET, "202.188.127.2", "153.39.163.191", 1303, 44251,
	  0x5d1809c5, 0x10e828a2 },
	{ AF_INET6, "3ffe:2501:200:3::1", "3ffe:2501:200:1fff::7", 1766, 2794,
	  0x2cc18cd5, 0x40207d3d },
	{ AF_INET6, "ff02::1", "3ffe:501:8::260:97ff:fe40:efab", 4739, 14230,
	  0x0f0c461c, 0xdde51bbf },
	{ AF_INET6, "fe80::200:f8ff:fe21:67cf",
	  "3ffe:1900:4545:3:200:f8ff:fe21:67cf", 38024, 44251,
	  0x4b61e985, 0x02d1feef },
};
#define NR_VECS (sizeof(rss_vecs) / sizeof(rss_vecs[0]))

/* ---- frame building ---- */

struct frame_opts {
	bool vlan;
	uint8_t proto;          /* 6 TCP, 17 UDP */
	uint8_t ihl;            /* IPv4 header words (5 = no options) */
	uint16_t frag;          /* IPv4 flags + fragment offset field */
};

/* Build an Ethernet frame for @v; returns its length and the offsets of
 * the L3 and L4 headers. */
static uint32_t build_frame(const struct rss_vec *v, const struct frame_opts *o,
			    uint8_t *f, uint32_t *l3_out, uint32_t *l4_out)
{
	uint32_t l3 = 14, l4, i;
	uint8_t ihl = o->ihl ? o->ihl : 5;

	memset(f, 0, 256);
	memcpy(f, "\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02", 12);
	if (o->vlan) {
		f[12] = 0x81;
		f[13] = 0x00;
		f[14] = 0x00;
		f[15] = 0x2a;
		l3 = 18;
	}
	if (v->af == AF_INET) {
		f[l3 - 2] = 0x08;
		f[l3 - 1] = 0x00;
		f[l3] = (uint8_t)(0x40 | ihl);
		f[l3 + 2] = 0;
		f[l3 + 3] = (uint8_t)(ihl * 4 + 20);
		f[l3 + 6] = (uint8_t)(o->frag >> 8);
		f[l3 + 7] = (uint8_t)o->frag;
		f[l3 + 8] = 64;
		f[l3 + 9] = o->proto;
		assert_int_equal(inet_pton(AF_INET, v->src, f + l3 + 12), 1);
		assert_int_equal(inet_pton(AF_INET, v->dst, f + l3 + 16), 1);
		for (i = 20; i < ihl * 4u; i++)
			f[l3 + i] = 0x01;       /* NOP options */
		l4 = l3 + ihl * 4u;
	} else {
		f[l3 - 2] = 0x86;
		f[l3 - 1] = 0xdd;
		f[l3] = 0x60;
		f[l3 + 5] = 20;
		f[l3 + 6] = o->proto;
		f[l3 + 7] = 64;
		assert_int_equal(inet_pton(AF_INET6, v->src, f + l3 + 8), 1);
		assert_int_equal(inet_pton(AF_INET6, v->dst, f + l3 + 24), 1);
		l4 = l3 + 40;
	}
	f[l4] = (uint8_t)(v->sport >> 8);
	f[l4 + 1] = (uint8_t)v->sport;
	f[l4 + 2] = (uint8_t)(v->dport >> 8);
	f[l4 + 3] = (uint8_t)v->dport;
	f[l4 + 12] = 0x50;
	if (l3_out)
		*l3_out = l3;
	if (l4_out)
		*l4_out = l4;
	return l4 + 20;
}

/* The RSS input for @v, as the specification lays it out. */
static uint32_t rss_input(const struct rss_vec *v, bool ports, uint8_t *buf)
{
	uint32_t alen = v->af == AF_INET ? 4 : 16;

	assert_int_equal(inet_pton(v->af, v->src, buf), 1);
	assert_int_equal(inet_pton(v->af, v->dst, buf + alen), 1);
	if (!ports)
		return 2 * alen;
	buf[2 * alen] = (uint8_t)(v->sport >> 8);
	buf[2 * alen + 1] = (uint8_t)v->sport;
	buf[2 * alen + 2] = (uint8_t)(v->dport >> 8);
	buf[2 * alen + 3] = (uint8_t)v->dport;
	return 2 * alen + 4;
}

static void hash_on(struct net_hash *h, uint32_t flags)
{
	net_hash_init(h);
	h->alg = XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ;
	h->flags = flags;
	h->key_len = sizeof(ms_key);
	memcpy(h->key, ms_key, sizeof(ms_key));
}

/* net_hash_frame on an exact-size heap copy, so ASan sees any overread. */
static bool hash_exact(const struct net_hash *h, const uint8_t *f, uint32_t len,
		       uint32_t *hash, uint32_t *type)
{
	uint8_t *copy = malloc(len ? len : 1);
	bool ok;

	assert_non_null(copy);
	memcpy(copy, f, len);
	ok = net_hash_frame(h, copy, len, hash, type);
	free(copy);
	return ok;
}

/* ---- Toeplitz ---- */

static void test_toeplitz_vectors(void **state)
{
	uint8_t buf[36];
	unsigned int i;

	for (i = 0; i < NR_VECS; i++) {
		const struct rss_vec *v = &rss_vecs[i];
		uint32_t n;

		n = rss_input(v, false, buf);
		assert_int_equal(net_toeplitz(ms_key, 40, buf, n), v->h_ip);
		n = rss_input(v, true, buf);
		assert_int_equal(net_toeplitz(ms_key, 40, buf, n), v->h_tcp);
	}
}

static void test_toeplitz_short_key(void **state)
{
	uint8_t padded[40] = { 0 }, buf[36];
	uint32_t n = rss_input(&rss_vecs[5], true, buf);

	/* Octets past the key length read as zero. */
	memcpy(padded, ms_key, 16);
	assert_int_equal(net_toeplitz(ms_key, 16, buf, n),
			 net_toeplitz(padded, 40, buf, n));
	assert_int_not_equal(net_toeplitz(ms_key, 16, buf, n),
			     net_toeplitz(ms_key, 40, buf, n));
	/* An empty key hashes everything to zero (netif.h SET_HASH_KEY). */
	assert_int_equal(net_toeplitz(ms_key, 0, buf, n), 0);
	assert_int_equal(net_toeplitz(ms_key, 40, buf, 0), 0);
}

/* ---- net_hash_frame ---- */

static void test_frame_vectors(void **state)
{
	static const struct frame_opts plain = { .proto = 6 };
	static const struct frame_opts tagged = { .proto = 6, .vlan = true };
	static const struct frame_opts *opts[] = { &plain, &tagged };
	struct net_hash h;
	uint8_t f[256];
	unsigned int i, o;

	for (o = 0; o < 2; o++) {
		for (i = 0; i < NR_VECS; i++) {
			const struct rss_vec *v = &rss_vecs[i];
			bool v4 = v->af == AF_INET;
			uint32_t len = build_frame(v, opts[o], f, NULL, NULL);
			uint32_t hash = 0, type = 0;

			hash_on(&h, ALL_TYPES);
			assert_true(hash_exact(&h, f, len, &hash, &type));
			assert_int_equal(type, v4 ? T_V4TCP : T_V6TCP);
			assert_int_equal(hash, v->h_tcp);

			/* Without the TCP type: the address-only hash. */
			hash_on(&h, v4 ? T_V4 : T_V6);
			assert_true(hash_exact(&h, f, len, &hash, &type));
			assert_int_equal(type, v4 ? T_V4 : T_V6);
			assert_int_equal(hash, v->h_ip);

			/* Only the other family configured: no hash. */
			hash_on(&h, v4 ? T_V6 | T_V6TCP : T_V4 | T_V4TCP);
			assert_false(hash_exact(&h, f, len, &hash, &type));
		}
	}
}

/* Only key_len octets of the key count. */
static void test_frame_key_len(void **state)
{
	static const struct frame_opts o = { .proto = 6 };
	const struct rss_vec *v = &rss_vecs[3];
	struct net_hash h;
	uint8_t f[256], buf[36];
	uint32_t hash, type, len = build_frame(v, &o, f, NULL, NULL);
	uint32_t n = rss_input(v, true, buf);

	hash_on(&h, ALL_TYPES);
	h.key_len = 10;  /* v4+TCP uses 16 key octets */
	assert_true(net_hash_frame(&h, f, len, &hash, &type));
	assert_int_equal(hash, net_toeplitz(ms_key, 10, buf, n));
	assert_int_not_equal(hash, v->h_tcp);
	h.key_len = 0;
	assert_true(net_hash_frame(&h, f, len, &hash, &type));
	assert_int_equal(hash, 0);
	/* A corrupt length is capped at the key array. */
	h.key_len = 1000;
	assert_true(net_hash_frame(&h, f, len, &hash, &type));
	assert_int_equal(hash, v->h_tcp);
}

static void test_frame_disabled(void **state)
{
	static const struct frame_opts o = { .proto = 6 };
	struct net_hash h;
	uint8_t f[256];
	uint32_t len = build_frame(&rss_vecs[0], &o, f, NULL, NULL);
	uint32_t hash, type;

	net_hash_init(&h);
	assert_false(net_hash_frame(&h, f, len, &hash, &type));
	/* Flags without an algorithm (state a writer could leave). */
	h.flags = ALL_TYPES;
	assert_false(net_hash_frame(&h, f, len, &hash, &type));
	/* An algorithm without flags. */
	hash_on(&h, 0);
	assert_false(net_hash_frame(&h, f, len, &hash, &type));
	/* An unknown algorithm value. */
	hash_on(&h, ALL_TYPES);
	h.alg = 9;
	assert_false(net_hash_frame(&h, f, len, &hash, &type));
	hash_on(&h, ALL_TYPES);
	assert_false(net_hash_frame(&h, NULL, len, &hash, &type));
	assert_true(net_hash_frame(&h, f, len, &hash, &type));
}

static void test_frame_not_tcp(void **state)
{
	static const struct frame_opts udp = { .proto = 17 };
	struct net_hash h;
	uint8_t f[256];
	uint32_t hash, type;
	unsigned int i;

	for (i = 0; i < NR_VECS; i++) {
		const struct rss_vec *v = &rss_vecs[i];
		bool v4 = v->af == AF_INET;
		uint32_t len = build_frame(v, &udp, f, NULL, NULL);

		hash_on(&h, ALL_TYPES);
		assert_true(net_hash_frame(&h, f, len, &hash, &type));
		assert_int_equal(type, v4 ? T_V4 : T_V6);
		assert_int_equal(hash, v->h_ip);
		hash_on(&h, T_V4TCP | T_V6TCP);
		assert_false(net_hash_frame(&h, f, len, &hash, &type));
	}
}

static void test_frame_v4_fragments(void **state)
{
	/* MF on the first fragment, then a middle and a last fragment. */
	static const uint16_t frags[] = { 0x2000, 0x2010, 0x0010, 0x0001 };
	const struct rss_vec *v = &rss_vecs[1];
	struct net_hash h;
	uint8_t f[256];
	uint32_t hash, type;
	unsigned int i;

	for (i = 0; i < 4; i++) {
		struct frame_opts o = { .proto = 6, .frag = frags[i] };
		uint32_t len = build_frame(v, &o, f, NULL, NULL);

		hash_on(&h, ALL_TYPES);
		assert_true(net_hash_frame(&h, f, len, &hash, &type));
		assert_int_equal(type, T_V4);
		assert_int_equal(hash, v->h_ip);
		hash_on(&h, T_V4TCP);
		assert_false(net_hash_frame(&h, f, len, &hash, &type));
	}
	/* DF alone is not a fragment. */
	{
		struct frame_opts o = { .proto = 6, .frag = 0x4000 };
		uint32_t len = build_frame(v, &o, f, NULL, NULL);

		hash_on(&h, ALL_TYPES);
		assert_true(net_hash_frame(&h, f, len, &hash, &type));
		assert_int_equal(type, T_V4TCP);
		assert_int_equal(hash, v->h_tcp);
	}
}

static void test_frame_v4_options_and_bad_ihl(void **state)
{
	const struct rss_vec *v = &rss_vecs[2];
	struct frame_opts o = { .proto = 6, .ihl = 15 };
	struct net_hash h;
	uint8_t f[256];
	uint32_t hash, type, l3, l4, len, ihl;

	/* 40 bytes of options: the ports are found after them. */
	len = build_frame(v, &o, f, &l3, &l4);
	assert_int_equal(l4 - l3, 60);
	hash_on(&h, ALL_TYPES);
	assert_true(hash_exact(&h, f, len, &hash, &type));
	assert_int_equal(type, T_V4TCP);
	assert_int_equal(hash, v->h_tcp);

	/* IHL below 5 is malformed whatever follows. */
	for (ihl = 0; ihl < 5; ihl++) {
		f[l3] = (uint8_t)(0x40 | ihl);
		assert_false(hash_exact(&h, f, len, &hash, &type));
	}
	/* A wrong version nibble for the ethertype. */
	f[l3] = 0x65;
	assert_false(hash_exact(&h, f, len, &hash, &type));
	/* IPv6 ethertype with a version-4 header. */
	o.ihl = 5;
	o.proto = 6;
	len = build_frame(&rss_vecs[6], &o, f, &l3, NULL);
	f[l3] = 0x45;
	assert_false(hash_exact(&h, f, len, &hash, &type));
	/* Not IP at all (ARP). */
	len = build_frame(v, &o, f, &l3, NULL);
	f[l3 - 2] = 0x08;
	f[l3 - 1] = 0x06;
	assert_false(hash_exact(&h, f, len, &hash, &type));
}

static void test_frame_v6_ext_header(void **state)
{
	struct frame_opts o = { .proto = 0 };   /* hop-by-hop options */
	const struct rss_vec *v = &rss_vecs[7];
	struct net_hash h;
	uint8_t f[256];
	uint32_t hash, type, len = build_frame(v, &o, f, NULL, NULL);

	hash_on(&h, ALL_TYPES);
	assert_true(hash_exact(&h, f, len, &hash, &type));
	assert_int_equal(type, T_V6);
	assert_int_equal(hash, v->h_ip);
}

/*
 * Every prefix of every frame kind: nothing read past the end (ASan, on
 * an exact-size copy), and the answer is what the prefix allows: nothing
 * before the addresses are complete, the address hash until the ports
 * are, then the TCP hash.
 */
static void test_frame_truncated(void **state)
{
	struct net_hash h;
	uint8_t f[256];
	unsigned int i, vl, ihl;

	hash_on(&h, ALL_TYPES);
	for (i = 0; i < NR_VECS; i++) {
		const struct rss_vec *v = &rss_vecs[i];
		bool v4 = v->af == AF_INET;

		for (vl = 0; vl < 2; vl++) {
			for (ihl = 5; ihl <= (v4 ? 6u : 5u); ihl++) {
				struct frame_opts o = { .proto = 6,
							.vlan = vl,
							.ihl = (uint8_t)ihl };
				uint32_t l3, l4, len, cut;
				uint32_t ip_end;

				len = build_frame(v, &o, f, &l3, &l4);
				ip_end = v4 ? l3 + ihl * 4 : l3 + 40;
				for (cut = 0; cut <= len; cut++) {
					uint32_t hash = 0, type = 0;
					bool ok = hash_exact(&h, f, cut, &hash,
							     &type);

					if (cut < ip_end) {
						assert_false(ok);
					} else if (cut < l4 + 4) {
						assert_true(ok);
						assert_int_equal(type,
							v4 ? T_V4 : T_V6);
						assert_int_equal(hash, v->h_ip);
					} else {
						assert_true(ok);
						assert_int_equal(type,
							v4 ? T_V4TCP : T_V6TCP);
						assert_int_equal(hash,
								 v->h_tcp);
					}
				}
			}
		}
	}
}

/* A writer that never finishes (seq stays odd): readers give up. */
static void test_frame_seq_bounded(void **state)
{
	static const struct frame_opts o = { .proto = 6 };
	struct net_hash h;
	uint8_t f[256];
	uint32_t hash, type, len = build_frame(&rss_vecs[0], &o, f, NULL, NULL);

	hash_on(&h, ALL_TYPES);
	h.mapping_size = 2;
	h.mapping[0] = 1;
	h.mapping[1] = 1;
	h.seq = 5;
	assert_false(net_hash_frame(&h, f, len, &hash, &type));
	/* Falls back to modular arithmetic, still in range. */
	assert_int_equal(net_hash_queue(&h, 6, 4), 2);
	h.seq = 6;
	assert_true(net_hash_frame(&h, f, len, &hash, &type));
	assert_int_equal(net_hash_queue(&h, 6, 4), 1);
}

/* ---- net_hash_queue ---- */

static void test_queue_selection(void **state)
{
	static const struct {
		uint32_t size;
		uint32_t map[4];
		unsigned int nr_queues;
		uint32_t hash;
		unsigned int want;
	} cases[] = {
		{ 0, { 0 }, 4, 0x51ccc178, 0x51ccc178u % 4 },
		{ 0, { 0 }, 3, 0xffffffff, 0xffffffffu % 3 },
		{ 0, { 0 }, 1, 12345, 0 },
		{ 0, { 0 }, 0, 12345, 0 },
		{ 4, { 3, 1, 2, 0 }, 4, 0, 3 },
		{ 4, { 3, 1, 2, 0 }, 4, 5, 1 },
		{ 4, { 3, 1, 2, 0 }, 4, 0xfffffffe, 2 },
		{ 3, { 2, 0, 1, 0 }, 4, 7, 0 },
		/* An entry beyond the queues (table set for more queues
		 * than now exist): kept in range. */
		{ 4, { 7, 1, 2, 0 }, 4, 4, 3 },
		{ 4, { 3, 1, 2, 0 }, 2, 0, 1 },
		{ 4, { 3, 1, 2, 0 }, 0, 0, 0 },
	};
	struct net_hash h;
	unsigned int i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		hash_on(&h, ALL_TYPES);
		h.mapping_size = cases[i].size;
		memcpy(h.mapping, cases[i].map, sizeof(cases[i].map));
		assert_int_equal(net_hash_queue(&h, cases[i].hash,
						cases[i].nr_queues),
				 cases[i].want);
	}
	/* A corrupt size never indexes past the table. */
	hash_on(&h, ALL_TYPES);
	h.mapping_size = 100000;
	h.mapping[NET_HASH_MAPPING_MAX - 1] = 3;
	assert_int_equal(net_hash_queue(&h, NET_HASH_MAPPING_MAX - 1, 4), 3);
}

/* ---- net_ctrl_handle ---- */

struct ctrl_fx {
	struct fake_hv *f;
	struct xb_gnt *gnt;
	struct net_hash h;
};

static int ctrl_setup(void **state)
{
	struct ctrl_fx *x = calloc(1, sizeof(*x));

	if (!x || fake_hv_create(16, &x->f) ||
	    xb_gnt_open(fake_hv_base(x->f), &x->gnt))
		return -1;
	net_hash_init(&x->h);
	*state = x;
	return 0;
}

static int ctrl_teardown(void **state)
{
	struct ctrl_fx *x = *state;

	xb_gnt_close(x->gnt);
	assert_int_equal(fake_pages_mapped(x->f), 0);
	fake_hv_destroy(x->f);
	free(x);
	return 0;
}

static uint32_t req_full(struct ctrl_fx *x, struct xb_gnt *gnt,
			 unsigned int nr_queues, uint16_t type, uint32_t d0,
			 uint32_t d1, uint32_t d2, uint32_t *data)
{
	struct xen_netif_ctrl_request req = {
		.id = (uint16_t)(0x4000 | type), .type = type,
		.data = { d0, d1, d2 },
	};
	struct xen_netif_ctrl_response rsp;

	memset(&rsp, 0xa5, sizeof(rsp));
	net_ctrl_handle(&x->h, nr_queues, gnt, FAKE_GUEST, &req, &rsp);
	assert_int_equal(rsp.id, req.id);
	assert_int_equal(rsp.type, type);
	if (data)
		*data = rsp.data;
	else if (rsp.status != XEN_NETIF_CTRL_STATUS_SUCCESS)
		assert_int_equal(rsp.data, 0);
	return rsp.status;
}

static uint32_t req(struct ctrl_fx *x, uint16_t type, uint32_t d0,
		    uint32_t d1, uint32_t d2)
{
	return req_full(x, x->gnt, 4, type, d0, d1, d2, NULL);
}

#define OK     XEN_NETIF_CTRL_STATUS_SUCCESS
#define NOTSUP XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED
#define INVAL  XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER
#define OVERFL XEN_NETIF_CTRL_STATUS_BUFFER_OVERFLOW

static void test_handle_algorithm_and_flags(void **state)
{
	struct ctrl_fx *x = *state;
	uint32_t data = 0;

	assert_int_equal(req_full(x, x->gnt, 4,
				  XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS,
				  0, 0, 0, &data), NOTSUP);
	assert_int_equal(req(x, XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS, T_V4,
			     0, 0), INVAL);
	assert_int_equal(x->h.flags, 0);

	assert_int_equal(req(x, XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM, 2,
			     0, 0), INVAL);
	assert_int_equal(req(x, XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM,
			     0xffffffff, 0, 0), INVAL);
	assert_int_equal(x->h.alg, XEN_NETIF_CTRL_HASH_ALGORITHM_NONE);
	assert_int_equal(req(x, XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM,
			     XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ, 0, 0), OK);
	assert_int_equal(x->h.alg, XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ);

	assert_int_equal(req_full(x, x->gnt, 4,
				  XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS,
				  0, 0, 0, &data), OK);
	assert_int_equal(data, ALL_TYPES);

	assert_int_equal(req(x, XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS, 0x10,
			     0, 0), INVAL);
	assert_int_equal(req(x, XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS,
			     T_V4 | 0x80000000u, 0, 0), INVAL);
	assert_int_equal(x->h.flags, 0);
	assert_int_equal(req(x, XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS,
			     T_V4 | T_V6TCP, 0, 0), OK);
	assert_int_equal(x->h.flags, T_V4 | T_V6TCP);
	assert_int_equal(req(x, XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS, 0, 0, 0),
			 OK);
	assert_int_equal(x->h.flags, 0);

	assert_int_equal(req(x, XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM,
			     XEN_NETIF_CTRL_HASH_ALGORITHM_NONE, 0, 0), OK);
	assert_int_equal(x->h.alg, XEN_NETIF_CTRL_HASH_ALGORITHM_NONE);
	/* Every write bumped the seqcount by two and left it even. */
	assert_int_equal(x->h.seq, 2 * 4);
}

static void test_handle_key(void **state)
{
	struct ctrl_fx *x = *state;
	uint8_t *page = fake_page(x->f, 3);
	grant_ref_t ro = fake_grant(x->f, 3, true);
	grant_ref_t other = fake_grant_to(x->f, 3, 42, true);
	static const uint8_t zero[40];

	memcpy(page, ms_key, 40);
	memset(page + 40, 0xee, 64);

	/* Too long: refused before the grant is touched. */
	assert_int_equal(req(x, XEN_NETIF_CTRL_TYPE_SET_HASH_KEY, ro, 41, 0),
			 OVERFL);
	assert_int_equal(req(x, XEN_NETIF_CTRL_TYPE_SET_HASH_KEY, ro,
			     0xffffffff, 0), OVERFL);
	assert_int_equal(fake_copy_calls(x->f), 0);

	/* A read-only grant is enough. */
	assert_int_equal(req(x, XEN_NETIF_CTRL_TYPE_SET_HASH_KEY, ro, 40, 0),
			 OK);
	assert_memory_equal(x->h.key, ms_key, 40);
	assert_int_equal(x->h.key_len, 40);

	/* Copied, not mapped: the guest changing its page changes nothing. */
	page[0] ^= 0xff;
	assert_memory_equal(x->h.key, ms_key, 40);
	assert_int_equal(fake_pages_mapped(x->f), 0);

	/* A bad ref, someone else's grant, no grant handle: refused, the
	 * old key stays. */
	assert_int_equal(req(x, XEN_NETIF_CTRL_TYPE_SET_HASH_KEY, 7777, 40, 0),
			 INVAL);
	assert_int_equal(req(x, XEN_NETIF_CTRL_TYPE_SET_HASH_KEY, other, 40,
			     0), INVAL);
	assert_int_equal(req_full(x, NULL, 4, XEN_NETIF_CTRL_TYPE_SET_HASH_KEY,
				  ro, 40, 0, NULL), INVAL);
	assert_memory_equal(x->h.key, ms_key, 40);

	/* A short key: the rest is zero. */
	page[0] ^= 0xff;
	assert_int_equal(req(x, XEN_NETIF_CTRL_TYPE_SET_HASH_KEY, ro, 10, 0),
			 OK);
	assert_memory_equal(x->h.key, ms_key, 10);
	assert_memory_equal(x->h.key + 10, zero, 30);
	assert_int_equal(x->h.key_len, 10);

	/* Size 0 clears the key, and needs no grant. */
	assert_int_equal(req_full(x, NULL, 4, XEN_NETIF_CTRL_TYPE_SET_HASH_KEY,
				  0, 0, 0, NULL), OK);
	assert_memory_equal(x->h.key, zero, 40);
	assert_int_equal(x->h.key_len, 0);
	assert_int_equal(x->h.seq & 1, 0);
}

static void test_handle_mapping_size(void **state)
{
	struct ctrl_fx *x = *state;
	uint32_t data = 0;
	unsigned int i;

	assert_int_equal(req_full(x, x->gnt, 4,
				  XEN_NETIF_CTRL_TYPE_GET_HASH_MAPPING_SIZE,
				  0, 0, 0, &data), OK);
	assert_int_equal(data, NET_HASH_MAPPING_MAX);

	assert_int_equal(req(x, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE,
			     NET_HASH_MAPPING_MAX + 1, 0, 0), INVAL);
	assert_int_equal(req(x, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE,
			     0xffffffff, 0, 0), INVAL);
	assert_int_equal(x->h.mapping_size, 0);

	for (i = 0; i < NET_HASH_MAPPING_MAX; i++)
		x->h.mapping[i] = 3;
	assert_int_equal(req(x, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE,
			     NET_HASH_MAPPING_MAX, 0, 0), OK);
	assert_int_equal(x->h.mapping_size, NET_HASH_MAPPING_MAX);
	/* A new table is zero filled. */
	for (i = 0; i < NET_HASH_MAPPING_MAX; i++)
		assert_int_equal(x->h.mapping[i], 0);

	/* Size 0: back to modular arithmetic. */
	assert_int_equal(req(x, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE,
			     0, 0, 0), OK);
	assert_int_equal(x->h.mapping_size, 0);
	assert_int_equal(net_hash_queue(&x->h, 7, 4), 3);
}

static void test_handle_mapping(void **state)
{
	struct ctrl_fx *x = *state;
	uint32_t *page = fake_page(x->f, 4);
	grant_ref_t ro = fake_grant(x->f, 4, true);
	static const uint32_t good[4] = { 3, 2, 1, 0 };
	unsigned int i;

	assert_int_equal(req(x, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE,
			     8, 0, 0), OK);
	memcpy(page, good, sizeof(good));

	/* Sub-table at offset 4. */
	assert_int_equal(req(x, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, ro, 4,
			     4), OK);
	for (i = 0; i < 4; i++) {
		assert_int_equal(x->h.mapping[i], 0);
		assert_int_equal(x->h.mapping[4 + i], good[i]);
	}
	assert_int_equal(net_hash_queue(&x->h, 8 + 4, 4), 3);
	assert_int_equal(net_hash_queue(&x->h, 8 + 5, 4), 2);

	/* An entry >= the number of queues: the whole sub-table is
	 * refused, the table is unchanged. */
	page[0] = 0;
	page[1] = 4;
	assert_int_equal(req(x, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, ro, 2,
			     0), INVAL);
	assert_int_equal(x->h.mapping[0], 0);
	page[1] = 0xffffffff;
	assert_int_equal(req(x, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, ro, 2,
			     0), INVAL);
	/* The same entry is fine with more queues. */
	page[0] = 2;
	page[1] = 4;
	assert_int_equal(req_full(x, x->gnt, 5,
				  XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING,
				  ro, 2, 0, NULL), OK);
	assert_int_equal(x->h.mapping[0], 2);
	assert_int_equal(x->h.mapping[1], 4);

	/* Offset + size beyond the table, and wrapping (with entries that
	 * are valid, so only the range check can refuse them). */
	page[0] = 1;
	page[1] = 1;
	assert_int_equal(req(x, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, ro, 1,
			     0xffffffff), INVAL);
	assert_int_equal(req(x, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, ro, 2,
			     0xfffffffe), INVAL);
	assert_int_equal(req(x, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, ro, 8,
			     0xfffffff8), INVAL);
	assert_int_equal(req(x, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, ro, 4,
			     5), INVAL);
	assert_int_equal(req(x, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, ro, 1,
			     8), INVAL);
	assert_int_equal(req(x, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, ro, 2,
			     0xffffffff), INVAL);
	assert_int_equal(req(x, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, ro,
			     0xffffffff, 1), OVERFL);
	/* More than the backend's table: BUFFER_OVERFLOW (netif.h). */
	assert_int_equal(req(x, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, ro,
			     NET_HASH_MAPPING_MAX + 1, 0), OVERFL);
	/* Size 0 at a valid offset: nothing to do. */
	assert_int_equal(req_full(x, NULL, 4,
				  XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING,
				  0, 0, 8, NULL), OK);
	/* A grant is needed; a bad ref fails the same way. */
	assert_int_equal(req_full(x, NULL, 4,
				  XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING,
				  ro, 1, 0, NULL), INVAL);
	assert_int_equal(req(x, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, 9999, 1,
			     0), INVAL);
	assert_int_equal(x->h.mapping[0], 2);
	assert_int_equal(x->h.mapping[4], 3);

	/* No table at all: any non-empty sub-table is out of range. */
	assert_int_equal(req(x, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE,
			     0, 0, 0), OK);
	assert_int_equal(req(x, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, ro, 1,
			     0), INVAL);

	/* The full 128-entry table in one request. */
	for (i = 0; i < NET_HASH_MAPPING_MAX; i++)
		page[i] = i % 4;
	assert_int_equal(req(x, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE,
			     NET_HASH_MAPPING_MAX, 0, 0), OK);
	assert_int_equal(req(x, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, ro,
			     NET_HASH_MAPPING_MAX, 0), OK);
	for (i = 0; i < NET_HASH_MAPPING_MAX; i++)
		assert_int_equal(x->h.mapping[i], i % 4);
	assert_int_equal(x->h.seq & 1, 0);
}

static void test_handle_unsupported(void **state)
{
	static const uint16_t types[] = {
		XEN_NETIF_CTRL_TYPE_INVALID,
		XEN_NETIF_CTRL_TYPE_GET_GREF_MAPPING_SIZE,
		XEN_NETIF_CTRL_TYPE_ADD_GREF_MAPPING,
		XEN_NETIF_CTRL_TYPE_DEL_GREF_MAPPING,
		11, 0x7fff, 0xffff,
	};
	struct ctrl_fx *x = *state;
	struct net_hash before;
	unsigned int i;

	memcpy(&before, &x->h, sizeof(before));
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		assert_int_equal(req(x, types[i], 1, 2, 3), NOTSUP);
		assert_int_equal(req_full(x, NULL, 4, types[i], 1, 2, 3,
					  NULL), NOTSUP);
	}
	assert_memory_equal(&before, &x->h, sizeof(before));
}

/* ---- randomised: hostile request and frame streams ---- */

static uint64_t rng_state;

static uint32_t rnd(void)
{
	/* xorshift64*: deterministic, so a failure reproduces. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545F4914F6CDD1Dull) >> 32);
}

/* A value a hostile guest might send: small, boundary or anything. */
static uint32_t rnd_param(const grant_ref_t *refs, unsigned int nr_refs)
{
	static const uint32_t edges[] = {
		0, 1, 2, 3, 4, 7, 8, 39, 40, 41, 127, 128, 129, 1024,
		0x7fffffff, 0x80000000, 0xfffffff8, 0xfffffffe, 0xffffffff,
	};

	switch (rnd() % 4) {
	case 0:
		return refs[rnd() % nr_refs];
	case 1:
		return edges[rnd() % (sizeof(edges) / sizeof(edges[0]))];
	case 2:
		return rnd() % 160;
	default:
		return rnd();
	}
}

static void check_hash_invariants(const struct net_hash *h,
				  unsigned int nr_queues)
{
	uint32_t i;

	assert_int_equal(h->seq & 1, 0);
	assert_true(h->alg == XEN_NETIF_CTRL_HASH_ALGORITHM_NONE ||
		    h->alg == XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ);
	assert_int_equal(h->flags & ~(uint32_t)ALL_TYPES, 0);
	assert_true(h->key_len <= NET_HASH_KEY_MAX);
	for (i = h->key_len; i < NET_HASH_KEY_MAX; i++)
		assert_int_equal(h->key[i], 0);
	assert_true(h->mapping_size <= NET_HASH_MAPPING_MAX);
	for (i = 0; i < NET_HASH_MAPPING_MAX; i++) {
		if (i < h->mapping_size)
			assert_true(h->mapping[i] < nr_queues);
		else
			assert_int_equal(h->mapping[i], 0);
	}
}

/*
 * Random requests, parameters and page contents: every response is a
 * defined status with the id and type echoed, a refused or read-only
 * request leaves the state byte for byte as it was, and the state never
 * leaves its invariants (mapping entries < queues, key zero-padded...).
 */
static void test_handle_random(void **state)
{
	struct ctrl_fx *x = *state;
	const unsigned int nr_queues = 3;
	grant_ref_t refs[6];
	unsigned int i, counts[4] = { 0 };

	rng_state = 0x9e3779b97f4a7c15ull;
	for (i = 0; i < 4; i++)
		refs[i] = fake_grant(x->f, 8 + i, i & 1);
	refs[4] = fake_grant_to(x->f, 12, 99, true);     /* not ours */
	refs[5] = 5000;                                  /* never granted */

	for (i = 0; i < 20000; i++) {
		struct xen_netif_ctrl_request rq;
		struct xen_netif_ctrl_response rsp;
		struct net_hash before;
		uint32_t *pg;
		unsigned int j;

		/* Now and then, new page contents: mostly valid entries. */
		if (i % 64 == 0) {
			for (j = 0; j < 4; j++) {
				pg = fake_page(x->f, 8 + j);
				for (uint32_t k = 0; k < 1024; k++)
					pg[k] = rnd() % 8 ? rnd() % nr_queues
							  : rnd();
			}
		}
		rq.id = (uint16_t)rnd();
		rq.type = (uint16_t)(rnd() % 8 ? 1 + rnd() % 10 : rnd());
		rq.data[0] = rnd_param(refs, 6);
		rq.data[1] = rnd_param(refs, 6);
		rq.data[2] = rnd_param(refs, 6);
		memcpy(&before, &x->h, sizeof(before));
		net_ctrl_handle(&x->h, nr_queues, rnd() % 16 ? x->gnt : NULL,
				FAKE_GUEST, &rq, &rsp);
		assert_int_equal(rsp.id, rq.id);
		assert_int_equal(rsp.type, rq.type);
		assert_true(rsp.status <= OVERFL);
		counts[rsp.status]++;
		if (rsp.status != OK ||
		    rq.type == XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS ||
		    rq.type == XEN_NETIF_CTRL_TYPE_GET_HASH_MAPPING_SIZE)
			assert_memory_equal(&before, &x->h, sizeof(before));
		if (rsp.status != OK)
			assert_int_equal(rsp.data, 0);
		check_hash_invariants(&x->h, nr_queues);
		/* The data path keeps working on whatever was set. */
		assert_true(net_hash_queue(&x->h, rnd(), nr_queues) <
			    nr_queues);
	}
	/* The stream exercised every outcome. */
	for (i = 0; i < 4; i++)
		assert_true(counts[i] > 0);
	assert_int_equal(fake_pages_mapped(x->f), 0);
}

/* Random frames on exact-size buffers: no overread (ASan), and a hash
 * only of a configured type that matches the frame's ethertype. */
static void test_frame_random(void **state)
{
	static const uint16_t ethertypes[] = { 0x0800, 0x86dd, 0x8100,
					       0x88a8, 0x0806, 0x1234 };
	struct net_hash h;
	uint8_t f[160];
	unsigned int i, hashed = 0;

	rng_state = 0x0123456789abcdefull;
	for (i = 0; i < 50000; i++) {
		uint32_t len = rnd() % sizeof(f), j, hash, type, flags, l3;
		uint16_t et, inner;

		for (j = 0; j < sizeof(f); j++)
			f[j] = (uint8_t)rnd();
		et = ethertypes[rnd() % 6];
		inner = ethertypes[rnd() % 2];
		f[12] = (uint8_t)(et >> 8);
		f[13] = (uint8_t)et;
		l3 = 14;
		if (et == 0x8100 || et == 0x88a8) {
			f[16] = (uint8_t)(inner >> 8);
			f[17] = (uint8_t)inner;
			l3 = 18;
		} else {
			inner = et;
		}
		if (rnd() % 4) {
			/* Mostly a plausible version, IHL and protocol. */
			f[l3] = inner == 0x0800 ? (uint8_t)(0x40 | (rnd() % 16))
						: 0x60;
			f[l3 + 9] = rnd() % 2 ? 6 : 17;
			f[l3 + 6] = rnd() % 2 ? 6 : (uint8_t)rnd();
			if (rnd() % 2) {
				f[l3 + 6] &= 0x20;
				f[l3 + 7] = 0;
			}
		}
		flags = rnd() % 16;
		hash_on(&h, flags);
		if (!hash_exact(&h, f, len, &hash, &type))
			continue;
		hashed++;
		assert_true(type & flags);
		assert_int_equal(type & (type - 1), 0);
		if (inner == 0x0800)
			assert_true(type == T_V4 || type == T_V4TCP);
		else if (inner == 0x86dd)
			assert_true(type == T_V6 || type == T_V6TCP);
		else
			fail_msg("hashed a non-IP frame");
	}
	assert_true(hashed > 1000);
}

/* ---- the seqcount under a concurrent writer ---- */

struct race {
	struct ctrl_fx *x;
	grant_ref_t refs[2];
	volatile bool stop;
	unsigned long writes;
};

static void *race_writer(void *arg)
{
	struct race *r = arg;
	unsigned int i = 0;

	while (!__atomic_load_n(&r->stop, __ATOMIC_RELAXED)) {
		struct xen_netif_ctrl_request rq = {
			.type = XEN_NETIF_CTRL_TYPE_SET_HASH_KEY,
			.data = { r->refs[i++ & 1], 40, 0 },
		};
		struct xen_netif_ctrl_response rsp;

		net_ctrl_handle(&r->x->h, 4, r->x->gnt, FAKE_GUEST, &rq, &rsp);
		if (rsp.status != OK)
			break;
		r->writes++;
	}
	return NULL;
}

static void test_seqcount_race(void **state)
{
	struct ctrl_fx *x = *state;
	static const struct frame_opts o = { .proto = 6 };
	uint8_t key2[40], f[256], buf[36];
	uint32_t len = build_frame(&rss_vecs[5], &o, f, NULL, NULL);
	uint32_t want[2], n, hash, type;
	struct race r = { .x = x };
	unsigned long reads = 0, misses = 0, i;
	pthread_t t;

	for (i = 0; i < 40; i++)
		key2[i] = (uint8_t)~ms_key[i];
	memcpy(fake_page(x->f, 5), ms_key, 40);
	memcpy(fake_page(x->f, 6), key2, 40);
	r.refs[0] = fake_grant(x->f, 5, true);
	r.refs[1] = fake_grant(x->f, 6, true);
	n = rss_input(&rss_vecs[5], true, buf);
	want[0] = net_toeplitz(ms_key, 40, buf, n);
	want[1] = net_toeplitz(key2, 40, buf, n);
	assert_int_equal(want[0], rss_vecs[5].h_tcp);

	x->h.alg = XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ;
	x->h.flags = ALL_TYPES;
	assert_int_equal(req(x, XEN_NETIF_CTRL_TYPE_SET_HASH_KEY, r.refs[0],
			     40, 0), OK);
	assert_int_equal(pthread_create(&t, NULL, race_writer, &r), 0);
	for (i = 0; i < 200000; i++) {
		if (!net_hash_frame(&x->h, f, len, &hash, &type)) {
			misses++;
			continue;
		}
		reads++;
		/* A torn key would give neither hash. */
		if (hash != want[0] && hash != want[1])
			fail_msg("torn read: %08x", hash);
	}
	__atomic_store_n(&r.stop, true, __ATOMIC_RELAXED);
	pthread_join(t, NULL);
	assert_true(r.writes > 0);
	assert_true(reads > 0);
	print_message("seqcount: %lu reads, %lu gave up, %lu writes\n",
		      reads, misses, r.writes);
}

/* ---- the ring, over the fake hypervisor ---- */

struct ring_fx {
	struct fake_hv *f;
	struct net_hash h;
	struct xen_netif_ctrl_sring *sring;
	struct xen_netif_ctrl_front_ring front;
	grant_ref_t ring_ref;
	evtchn_port_t port;
	struct net_ctrl *c;
};

#define RING_GFN 0
#define KEY_GFN 1
#define MAP_GFN 2

static int ring_setup(void **state)
{
	struct ring_fx *x = calloc(1, sizeof(*x));
	struct net_ctrl_config cfg;

	if (!x || fake_hv_create(8, &x->f))
		return -1;
	net_hash_init(&x->h);
	x->sring = fake_page(x->f, RING_GFN);
	SHARED_RING_INIT(x->sring);
	FRONT_RING_INIT(&x->front, x->sring, XB_PAGE_SIZE);
	x->ring_ref = fake_grant(x->f, RING_GFN, false);
	x->port = fake_evtchn_alloc(x->f);
	cfg = (struct net_ctrl_config){
		.hv = fake_hv_base(x->f),
		.domid = FAKE_GUEST,
		.ring_ref = x->ring_ref,
		.remote_port = x->port,
		.nr_queues = 4,
		.hash = &x->h,
	};
	if (net_ctrl_open(&cfg, &x->c))
		return -1;
	*state = x;
	return 0;
}

static int ring_teardown(void **state)
{
	struct ring_fx *x = *state;

	net_ctrl_close(x->c);
	assert_int_equal(fake_pages_mapped(x->f), 0);
	assert_int_equal(fake_ports_bound(x->f), 0);
	fake_hv_destroy(x->f);
	free(x);
	return 0;
}

static void post(struct ring_fx *x, uint16_t id, uint16_t type, uint32_t d0,
		 uint32_t d1, uint32_t d2)
{
	struct xen_netif_ctrl_request *r =
		RING_GET_REQUEST(&x->front, x->front.req_prod_pvt);

	r->id = id;
	r->type = type;
	r->data[0] = d0;
	r->data[1] = d1;
	r->data[2] = d2;
	x->front.req_prod_pvt++;
}

/* Push and kick as a frontend would; true if it had to notify. */
static bool push(struct ring_fx *x)
{
	int notify;

	RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&x->front, notify);
	if (notify)
		fake_kick(x->f, x->port);
	return notify;
}

static struct xen_netif_ctrl_response take_rsp(struct ring_fx *x)
{
	struct xen_netif_ctrl_response r;

	assert_true(RING_HAS_UNCONSUMED_RESPONSES(&x->front));
	r = *RING_GET_RESPONSE(&x->front, x->front.rsp_cons);
	x->front.rsp_cons++;
	return r;
}

/* As a frontend does after consuming responses: ask to be notified of
 * the next one; there must be none pending now. */
static void rearm(struct ring_fx *x)
{
	int more;

	RING_FINAL_CHECK_FOR_RESPONSES(&x->front, more);
	assert_false(more);
}

static void test_ring_geometry(void **state)
{
	struct ring_fx *x = *state;

	/* The backend's slot count is the frontend macros' one. */
	assert_int_equal(RING_SIZE(&x->front), 128);
	assert_int_equal(sizeof(union xen_netif_ctrl_sring_entry), 16);
	assert_true(net_ctrl_fd(x->c) >= 0);
	assert_int_equal(fake_pages_mapped(x->f), 1);
	assert_int_equal(fake_ports_bound(x->f), 1);
	/* Nothing posted: nothing done, no notification. */
	assert_int_equal(net_ctrl_process(x->c), 0);
	assert_int_equal(fake_notifies(x->f, x->port), 0);
}

static void test_ring_requests(void **state)
{
	struct ring_fx *x = *state;
	struct xen_netif_ctrl_response r;
	struct pollfd pfd;
	uint32_t *map = fake_page(x->f, MAP_GFN);
	grant_ref_t kref, mref;

	memcpy(fake_page(x->f, KEY_GFN), ms_key, 40);
	kref = fake_grant(x->f, KEY_GFN, true);
	map[0] = 1;
	map[1] = 3;
	mref = fake_grant(x->f, MAP_GFN, true);

	post(x, 1, XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM,
	     XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ, 0, 0);
	post(x, 2, XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS, 0, 0, 0);
	post(x, 3, XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS, ALL_TYPES, 0, 0);
	post(x, 4, XEN_NETIF_CTRL_TYPE_SET_HASH_KEY, kref, 40, 0);
	post(x, 5, XEN_NETIF_CTRL_TYPE_GET_HASH_MAPPING_SIZE, 0, 0, 0);
	post(x, 6, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE, 2, 0, 0);
	post(x, 7, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, mref, 2, 0);
	post(x, 8, XEN_NETIF_CTRL_TYPE_SET_HASH_KEY, kref, 41, 0);
	post(x, 9, XEN_NETIF_CTRL_TYPE_ADD_GREF_MAPPING, 0, kref, 1);
	assert_true(push(x));

	pfd = (struct pollfd){ .fd = net_ctrl_fd(x->c), .events = POLLIN };
	assert_int_equal(poll(&pfd, 1, 1000), 1);
	assert_int_equal(net_ctrl_process(x->c), 9);
	/* The event was consumed. */
	assert_int_equal(poll(&pfd, 1, 0), 0);
	assert_int_equal(fake_notifies(x->f, x->port), 1);

	{
		static const struct { uint16_t id; uint32_t st, data; } want[] = {
			{ 1, OK, 0 }, { 2, OK, ALL_TYPES }, { 3, OK, 0 },
			{ 4, OK, 0 }, { 5, OK, NET_HASH_MAPPING_MAX },
			{ 6, OK, 0 }, { 7, OK, 0 }, { 8, OVERFL, 0 },
			{ 9, NOTSUP, 0 },
		};
		unsigned int i;

		for (i = 0; i < 9; i++) {
			r = take_rsp(x);
			assert_int_equal(r.id, want[i].id);
			assert_int_equal(r.status, want[i].st);
			assert_int_equal(r.data, want[i].data);
		}
		rearm(x);
	}
	/* The key arrived by grant copy; the guest's page is not mapped. */
	assert_memory_equal(x->h.key, ms_key, 40);
	assert_int_equal(fake_pages_mapped(x->f), 1);
	assert_true(fake_copy_calls(x->f) >= 2);
	assert_int_equal(x->h.mapping_size, 2);
	assert_int_equal(net_hash_queue(&x->h, 0x51ccc178, 4),
			 map[0x51ccc178u % 2]);

	/* The hash is now live for the data path. */
	{
		static const struct frame_opts o = { .proto = 6 };
		uint8_t f[256];
		uint32_t hash, type, len;

		len = build_frame(&rss_vecs[0], &o, f, NULL, NULL);
		assert_true(net_hash_frame(&x->h, f, len, &hash, &type));
		assert_int_equal(hash, rss_vecs[0].h_tcp);
		assert_int_equal(type, T_V4TCP);
	}

	/* req_event was re-armed: the next request notifies again. */
	post(x, 10, XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS, 0x100, 0, 0);
	assert_true(push(x));
	assert_int_equal(net_ctrl_process(x->c), 1);
	r = take_rsp(x);
	assert_int_equal(r.id, 10);
	assert_int_equal(r.type, XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS);
	assert_int_equal(r.status, INVAL);
	assert_int_equal(fake_notifies(x->f, x->port), 2);
}

/* Full rings, many times round: indices wrap, nothing lost. */
static void test_ring_full_and_wrap(void **state)
{
	struct ring_fx *x = *state;
	unsigned int round, i, size = RING_SIZE(&x->front);

	for (round = 0; round < 5; round++) {
		for (i = 0; i < size; i++)
			post(x, (uint16_t)(round * size + i),
			     XEN_NETIF_CTRL_TYPE_GET_HASH_MAPPING_SIZE, 0, 0, 0);
		assert_true(RING_FULL(&x->front));
		push(x);
		assert_int_equal(net_ctrl_process(x->c), (int)size);
		for (i = 0; i < size; i++) {
			struct xen_netif_ctrl_response r = take_rsp(x);

			assert_int_equal(r.id, (uint16_t)(round * size + i));
			assert_int_equal(r.status, OK);
			assert_int_equal(r.data, NET_HASH_MAPPING_MAX);
		}
		rearm(x);
	}
	assert_int_equal(fake_notifies(x->f, x->port), 5);
}

static void test_ring_impossible_producer(void **state)
{
	struct ring_fx *x = *state;
	struct xen_netif_ctrl_response r;

	post(x, 1, XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM,
	     XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ, 0, 0);
	push(x);
	assert_int_equal(net_ctrl_process(x->c), 1);
	r = take_rsp(x);
	assert_int_equal(r.status, OK);

	/* More requests than slots. */
	x->sring->req_prod += RING_SIZE(&x->front) + 1;
	fake_kick(x->f, x->port);
	assert_int_equal(net_ctrl_process(x->c), -EIO);
	/* Halted for good, even if the producer looks sane again. */
	x->sring->req_prod -= RING_SIZE(&x->front) + 1;
	assert_int_equal(net_ctrl_process(x->c), -EIO);
	assert_int_equal(x->h.alg, XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ);
	assert_false(RING_HAS_UNCONSUMED_RESPONSES(&x->front));
}

static void test_ring_producer_behind(void **state)
{
	struct ring_fx *x = *state;

	post(x, 1, XEN_NETIF_CTRL_TYPE_GET_HASH_MAPPING_SIZE, 0, 0, 0);
	post(x, 2, XEN_NETIF_CTRL_TYPE_GET_HASH_MAPPING_SIZE, 0, 0, 0);
	push(x);
	assert_int_equal(net_ctrl_process(x->c), 2);
	/* The producer moves back behind what was consumed. */
	x->sring->req_prod -= 1;
	fake_kick(x->f, x->port);
	assert_int_equal(net_ctrl_process(x->c), -EIO);
}

/*
 * The guest keeps producing while we answer (it ignores the responses it
 * cannot see yet): more than a ring's worth in one call is an impossible
 * producer. The guest's grant copy hook posts one more request for each
 * one answered, so without the bound the call would never end.
 */
static struct {
	struct xb_hv base;          /* what net_ctrl_open sees */
	struct xb_hv *real;         /* the fake hypervisor */
	struct xb_hv_ops ops;       /* its ops, gnt_copy intercepted */
	struct ring_fx *x;
	unsigned int left;
} sneaky;

static int sneaky_gnt_open(struct xb_hv *hv, struct xb_gnt **out)
{
	int ret = sneaky.real->ops->gnt_open(sneaky.real, out);

	if (!ret)
		(*out)->ops = &sneaky.ops;
	return ret;
}

static int sneaky_evtchn_open(struct xb_hv *hv, struct xb_evtchn **out)
{
	return sneaky.real->ops->evtchn_open(sneaky.real, out);
}

static int sneaky_copy(struct xb_gnt *g, uint32_t count,
		       struct xb_gcopy_seg *segs)
{
	uint32_t i;

	if (sneaky.left) {
		post(sneaky.x, 0x77, XEN_NETIF_CTRL_TYPE_SET_HASH_KEY, 1, 1, 0);
		RING_PUSH_REQUESTS(&sneaky.x->front);
		sneaky.left--;
	}
	for (i = 0; i < count; i++)
		segs[i].status = GNTST_okay;
	return 0;
}

static void test_ring_overrun_in_one_call(void **state)
{
	struct ring_fx *x = *state, *y;
	struct net_hash h2;
	struct net_ctrl *c2;
	struct net_ctrl_config cfg;
	struct xen_netif_ctrl_sring *s2 = fake_page(x->f, 3);
	unsigned int size, answered;

	y = calloc(1, sizeof(*y));
	assert_non_null(y);
	sneaky.real = fake_hv_base(x->f);
	sneaky.ops = *sneaky.real->ops;
	sneaky.ops.gnt_open = sneaky_gnt_open;
	sneaky.ops.evtchn_open = sneaky_evtchn_open;
	sneaky.ops.gnt_copy = sneaky_copy;
	sneaky.base.ops = &sneaky.ops;
	sneaky.x = y;

	y->f = x->f;
	y->port = fake_evtchn_alloc(x->f);
	SHARED_RING_INIT(s2);
	FRONT_RING_INIT(&y->front, s2, XB_PAGE_SIZE);
	size = RING_SIZE(&y->front);
	net_hash_init(&h2);
	cfg = (struct net_ctrl_config){
		.hv = &sneaky.base, .domid = FAKE_GUEST,
		.ring_ref = fake_grant(x->f, 3, false),
		.remote_port = y->port, .nr_queues = 4, .hash = &h2,
	};
	assert_int_equal(net_ctrl_open(&cfg, &c2), 0);

	sneaky.left = 10 * size;
	post(y, 0x77, XEN_NETIF_CTRL_TYPE_SET_HASH_KEY, 1, 1, 0);
	push(y);
	assert_int_equal(net_ctrl_process(c2), -EIO);
	/* Exactly a ring's worth was answered (each answer posted one). */
	answered = 10 * size - sneaky.left;
	assert_int_equal(answered, size);
	/* ... and published, so the guest sees them. */
	assert_int_equal(s2->rsp_prod, size);

	net_ctrl_close(c2);
	free(y);
}

/* Requests posted before the backend attached are answered by the first
 * net_ctrl_process, without any event. */
static void test_ring_posted_before_open(void **state)
{
	struct fake_hv *f;
	struct ring_fx x;
	struct net_ctrl_config cfg;
	struct xen_netif_ctrl_response r;

	memset(&x, 0, sizeof(x));
	assert_int_equal(fake_hv_create(2, &f), 0);
	x.f = f;
	net_hash_init(&x.h);
	x.sring = fake_page(f, 0);
	SHARED_RING_INIT(x.sring);
	FRONT_RING_INIT(&x.front, x.sring, XB_PAGE_SIZE);
	x.port = fake_evtchn_alloc(f);
	post(&x, 11, XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM,
	     XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ, 0, 0);
	post(&x, 12, XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS, T_V6, 0, 0);
	RING_PUSH_REQUESTS(&x.front);

	cfg = (struct net_ctrl_config){
		.hv = fake_hv_base(f), .domid = FAKE_GUEST,
		.ring_ref = fake_grant(f, 0, false), .remote_port = x.port,
		.nr_queues = 2, .hash = &x.h,
	};
	assert_int_equal(net_ctrl_open(&cfg, &x.c), 0);
	assert_int_equal(net_ctrl_process(x.c), 2);
	r = take_rsp(&x);
	assert_int_equal(r.id, 11);
	assert_int_equal(r.status, OK);
	r = take_rsp(&x);
	assert_int_equal(r.id, 12);
	assert_int_equal(r.status, OK);
	assert_int_equal(x.h.flags, T_V6);
	net_ctrl_close(x.c);
	assert_int_equal(fake_pages_mapped(f), 0);
	fake_hv_destroy(f);
}

/*
 * Adopting a ctrl ring (state.h): the predecessor consumed request 11
 * (its copy in the state) and died before answering; its slot holds
 * garbage, as a response being written would leave. The successor
 * answers 11 from the copy, publishes, and goes on with 12 from the
 * ring; indices that do not fit the ring are refused with nothing
 * written.
 */
static void test_ring_adopt_replays_from_state(void **state)
{
	struct net_state_ctrl st;
	struct xen_netif_ctrl_request *slot;
	struct xen_netif_ctrl_response r;
	struct net_ctrl_config cfg;
	struct fake_hv *f;
	struct ring_fx x;

	(void)state;
	memset(&x, 0, sizeof(x));
	assert_int_equal(fake_hv_create(2, &f), 0);
	x.f = f;
	net_hash_init(&x.h);
	x.sring = fake_page(f, 0);
	SHARED_RING_INIT(x.sring);
	FRONT_RING_INIT(&x.front, x.sring, XB_PAGE_SIZE);
	x.port = fake_evtchn_alloc(f);
	post(&x, 11, XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM,
	     XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ, 0, 0);
	post(&x, 12, XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS, T_V6, 0, 0);
	RING_PUSH_REQUESTS(&x.front);
	slot = RING_GET_REQUEST(&x.front, 0);
	memset(&st, 0, sizeof(st));
	st.req = *slot;
	st.req_cons = 1;
	st.rsp_written = 0;
	memset(slot, 0xa5, sizeof(*slot));

	cfg = (struct net_ctrl_config){
		.hv = fake_hv_base(f), .domid = FAKE_GUEST,
		.ring_ref = fake_grant(f, 0, false), .remote_port = x.port,
		.nr_queues = 2, .hash = &x.h, .state = &st, .adopt = true,
	};
	/* Two requests consumed and unanswered: not a state we write. */
	st.req_cons = 2;
	assert_int_equal(net_ctrl_open(&cfg, &x.c), -EUCLEAN);
	assert_int_equal(x.sring->rsp_prod, 0);
	assert_int_equal(x.h.alg, XEN_NETIF_CTRL_HASH_ALGORITHM_NONE);
	st.req_cons = 1;

	assert_int_equal(net_ctrl_open(&cfg, &x.c), 0);
	assert_int_equal(x.sring->rsp_prod, 1);
	assert_int_equal(st.rsp_written, 1);
	r = take_rsp(&x);
	assert_int_equal(r.id, 11);
	assert_int_equal(r.status, OK);
	assert_int_equal(x.h.alg, XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ);
	assert_int_equal(net_ctrl_process(x.c), 1);
	r = take_rsp(&x);
	assert_int_equal(r.id, 12);
	assert_int_equal(r.status, OK);
	assert_int_equal(x.h.flags, T_V6);
	assert_int_equal(st.req_cons, 2);
	assert_int_equal(st.rsp_written, 2);
	net_ctrl_close(x.c);
	assert_int_equal(fake_pages_mapped(f), 0);
	fake_hv_destroy(f);
}

static void test_ring_open_failures(void **state)
{
	struct fake_hv *f;
	struct net_hash h;
	struct net_ctrl *c = NULL;
	struct net_ctrl_config cfg;
	grant_ref_t ro;

	assert_int_equal(fake_hv_create(4, &f), 0);
	net_hash_init(&h);
	cfg = (struct net_ctrl_config){
		.hv = fake_hv_base(f), .domid = FAKE_GUEST,
		.ring_ref = 999, .remote_port = fake_evtchn_alloc(f),
		.nr_queues = 1, .hash = &h,
	};
	/* Bad ring ref. */
	assert_int_equal(net_ctrl_open(&cfg, &c), -EINVAL);
	assert_null(c);
	/* A read-only grant cannot back a ring we write responses to. */
	ro = fake_grant(f, 0, true);
	cfg.ring_ref = ro;
	assert_int_equal(net_ctrl_open(&cfg, &c), -EINVAL);
	/* Good ring, bad port: the mapping is undone. */
	cfg.ring_ref = fake_grant(f, 0, false);
	cfg.remote_port = 60;
	assert_int_equal(net_ctrl_open(&cfg, &c), -EINVAL);
	assert_null(c);
	assert_int_equal(fake_pages_mapped(f), 0);
	assert_int_equal(fake_ports_bound(f), 0);
	/* Wrong domain. */
	cfg.remote_port = fake_evtchn_alloc(f);
	cfg.domid = FAKE_GUEST + 1;
	assert_int_equal(net_ctrl_open(&cfg, &c), -ESRCH);
	/* Missing hash state. */
	cfg.domid = FAKE_GUEST;
	cfg.hash = NULL;
	assert_int_equal(net_ctrl_open(&cfg, &c), -EINVAL);
	assert_int_equal(fake_pages_mapped(f), 0);
	assert_int_equal(fake_ports_bound(f), 0);
	/* And it works once everything is right. */
	cfg.hash = &h;
	assert_int_equal(net_ctrl_open(&cfg, &c), 0);
	assert_int_equal(fake_pages_mapped(f), 1);
	net_ctrl_close(c);
	net_ctrl_close(NULL);
	assert_int_equal(fake_pages_mapped(f), 0);
	assert_int_equal(fake_ports_bound(f), 0);
	fake_hv_destroy(f);
}

/* ---- multicast ---- */

static const uint8_t mc_a[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 };
static const uint8_t mc_b[6] = { 0x33, 0x33, 0x00, 0x00, 0x00, 0x02 };
static const uint8_t uc[6] = { 0x00, 0x16, 0x3e, 0x11, 0x22, 0x33 };
static const uint8_t bc[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

static void test_mcast_add_del(void **state)
{
	struct net_mcast m;

	net_mcast_init(&m);
	assert_true(net_mcast_pass(&m, uc));
	assert_true(net_mcast_pass(&m, bc));
	assert_false(net_mcast_pass(&m, mc_a));

	assert_int_equal(net_mcast_add(&m, uc), -EINVAL);
	assert_int_equal(m.count, 0);
	assert_int_equal(net_mcast_add(&m, mc_a), 0);
	assert_true(net_mcast_pass(&m, mc_a));
	assert_false(net_mcast_pass(&m, mc_b));
	assert_int_equal(net_mcast_add(&m, mc_a), 0);
	assert_int_equal(m.count, 1);
	assert_int_equal(net_mcast_add(&m, mc_b), 0);
	assert_int_equal(m.count, 2);
	assert_true(net_mcast_pass(&m, mc_b));

	assert_int_equal(net_mcast_del(&m, mc_a), 0);
	assert_false(net_mcast_pass(&m, mc_a));
	assert_true(net_mcast_pass(&m, mc_b));
	assert_int_equal(net_mcast_del(&m, mc_a), -ENOENT);
	assert_int_equal(net_mcast_del(&m, uc), -ENOENT);
	assert_int_equal(net_mcast_del(&m, mc_b), 0);
	assert_int_equal(m.count, 0);
	assert_false(net_mcast_pass(&m, mc_b));
	assert_true(net_mcast_pass(&m, uc));
	assert_false(m.overflow);
}

static void test_mcast_overflow(void **state)
{
	struct net_mcast m;
	uint8_t a[6] = { 0x01, 0x00, 0x5e, 0x7f, 0x00, 0x00 };
	unsigned int i;

	net_mcast_init(&m);
	for (i = 0; i < NET_MCAST_MAX; i++) {
		a[5] = (uint8_t)i;
		assert_int_equal(net_mcast_add(&m, a), 0);
	}
	assert_int_equal(m.count, NET_MCAST_MAX);
	assert_false(m.overflow);
	for (i = 0; i < NET_MCAST_MAX; i++) {
		a[5] = (uint8_t)i;
		assert_true(net_mcast_pass(&m, a));
	}
	a[5] = 200;
	assert_false(net_mcast_pass(&m, a));
	/* The 65th: kept as "pass all multicast". */
	assert_int_equal(net_mcast_add(&m, a), 0);
	assert_true(m.overflow);
	assert_int_equal(m.count, NET_MCAST_MAX);
	assert_true(net_mcast_pass(&m, a));
	assert_true(net_mcast_pass(&m, mc_b));
	/* Deleting the one that did not fit is not an error. */
	assert_int_equal(net_mcast_del(&m, a), 0);
	a[5] = 3;
	assert_int_equal(net_mcast_del(&m, a), 0);
	assert_int_equal(m.count, NET_MCAST_MAX - 1);
	/* Still a non-multicast address is refused. */
	assert_int_equal(net_mcast_add(&m, uc), -EINVAL);
	net_mcast_init(&m);
	assert_false(net_mcast_pass(&m, mc_b));
}

/* Deleting from the middle keeps every other entry. */
static void test_mcast_del_middle(void **state)
{
	struct net_mcast m;
	uint8_t a[6] = { 0x01, 0x00, 0x5e, 0x01, 0x02, 0x00 };
	unsigned int i;

	net_mcast_init(&m);
	for (i = 0; i < 10; i++) {
		a[5] = (uint8_t)i;
		assert_int_equal(net_mcast_add(&m, a), 0);
	}
	for (i = 0; i < 10; i += 3) {
		a[5] = (uint8_t)i;
		assert_int_equal(net_mcast_del(&m, a), 0);
	}
	for (i = 0; i < 10; i++) {
		a[5] = (uint8_t)i;
		assert_int_equal(net_mcast_pass(&m, a), i % 3 != 0);
	}
	assert_int_equal(m.count, 6);
}

/* ---- rate credit ---- */

static void test_credit_parse(void **state)
{
	static const struct {
		const char *s;
		int ret;
		uint64_t bytes, usec;
	} cases[] = {
		{ "1000,500", 0, 1000, 500 },
		{ "1,1", 0, 1, 1 },
		{ "125000,50000", 0, 125000, 50000 },
		{ "18446744073709551615,1", 0, UINT64_MAX, 1 },
		{ "5,4294967296", 0, 5, 4294967296ull },
		{ "5,4294967295", 0, 5, 4294967295ull },
		{ "18446744073709551616,1", -EINVAL, 0, 0 },
		{ "99999999999999999999,1", -EINVAL, 0, 0 },
		{ "5,4294967297", -EINVAL, 0, 0 },
		{ "5,18446744073709551616", -EINVAL, 0, 0 },
		{ "0,100", -EINVAL, 0, 0 },
		{ "100,0", -EINVAL, 0, 0 },
		{ "", -EINVAL, 0, 0 },
		{ ",", -EINVAL, 0, 0 },
		{ "100", -EINVAL, 0, 0 },
		{ "100,", -EINVAL, 0, 0 },
		{ ",100", -EINVAL, 0, 0 },
		{ "-1,5", -EINVAL, 0, 0 },
		{ "+1,5", -EINVAL, 0, 0 },
		{ " 1,2", -EINVAL, 0, 0 },
		{ "1,2 ", -EINVAL, 0, 0 },
		{ "1 ,2", -EINVAL, 0, 0 },
		{ "1,2,3", -EINVAL, 0, 0 },
		{ "1x,2", -EINVAL, 0, 0 },
		{ "0x10,5", -EINVAL, 0, 0 },
		{ "1,2\n", -EINVAL, 0, 0 },
	};
	unsigned int i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t b = 7, u = 7;
		int ret = net_credit_parse(cases[i].s, &b, &u);

		if (ret != cases[i].ret)
			fail_msg("\"%s\": %d, want %d", cases[i].s, ret,
				 cases[i].ret);
		if (!ret) {
			assert_int_equal(b, cases[i].bytes);
			assert_int_equal(u, cases[i].usec);
		} else {
			/* Untouched on failure. */
			assert_int_equal(b, 7);
			assert_int_equal(u, 7);
		}
	}
	{
		uint64_t b = 7, u = 7;

		assert_int_equal(net_credit_parse(NULL, &b, &u), -EINVAL);
	}
}

#define MS 1000000ull

static void test_credit_take(void **state)
{
	struct net_credit c;
	uint64_t t0 = 5000 * MS, wait = 0;

	/* 1000 bytes per millisecond. */
	net_credit_init(&c, 1000, 1000);
	assert_true(net_credit_take(&c, t0, 600, &wait));
	assert_true(net_credit_take(&c, t0 + 10, 400, &wait));
	assert_false(net_credit_take(&c, t0 + 100, 1, &wait));
	assert_int_equal(wait, MS - 100);
	assert_false(net_credit_take(&c, t0 + MS - 1, 1, &wait));
	assert_int_equal(wait, 1);
	/* The next interval refills, to the full credit only. */
	assert_true(net_credit_take(&c, t0 + MS, 1000, &wait));
	assert_false(net_credit_take(&c, t0 + MS, 1, &wait));
	/* A long idle period does not bank credit. */
	assert_true(net_credit_take(&c, t0 + 100 * MS, 1000, &wait));
	assert_false(net_credit_take(&c, t0 + 100 * MS + 5, 1, &wait));
	assert_int_equal(wait, MS - 5);
	/* A NULL wait pointer is allowed. */
	assert_false(net_credit_take(&c, t0 + 100 * MS + 5, 1, NULL));
}

static void test_credit_oversize(void **state)
{
	struct net_credit c;
	uint64_t t0 = MS, wait = 0;

	net_credit_init(&c, 1000, 1000);
	/* Larger than a whole interval's credit, with the credit full:
	 * let through, using the interval up. */
	assert_true(net_credit_take(&c, t0, 1500, &wait));
	assert_false(net_credit_take(&c, t0 + 1, 1, &wait));
	assert_int_equal(wait, MS - 1);
	/* With the credit partly used it must wait for a fresh interval. */
	assert_true(net_credit_take(&c, t0 + MS, 10, &wait));
	assert_false(net_credit_take(&c, t0 + MS + 1, 1500, &wait));
	assert_int_equal(wait, MS - 1);
	assert_true(net_credit_take(&c, t0 + 2 * MS, 65535, &wait));
	/* Exactly the credit is not oversize: it just fits. */
	assert_true(net_credit_take(&c, t0 + 3 * MS, 1000, &wait));
	assert_false(net_credit_take(&c, t0 + 3 * MS, 1, &wait));
}

static void test_credit_unlimited_and_limits(void **state)
{
	struct net_credit c;
	uint64_t wait = 12345;
	unsigned int i;

	net_credit_init(&c, 0, 0);
	for (i = 0; i < 1000; i++)
		assert_true(net_credit_take(&c, i, 65535, &wait));
	assert_int_equal(wait, 12345);

	/* The longest interval libxl can write: no overflow. */
	net_credit_init(&c, 100, 1ull << 32);
	assert_true(net_credit_take(&c, 1, 100, &wait));
	assert_false(net_credit_take(&c, 2, 1, &wait));
	assert_int_equal(wait, (1ull << 32) * 1000 - 1);
	assert_true(net_credit_take(&c, 1 + (1ull << 32) * 1000, 1, &wait));

	/* The largest credit. */
	net_credit_init(&c, UINT64_MAX, 1);
	assert_true(net_credit_take(&c, 0, 0xffffffffu, &wait));
	assert_true(net_credit_take(&c, 0, 0xffffffffu, &wait));
	/* A zero-length packet always fits. */
	net_credit_init(&c, 1, 1);
	assert_true(net_credit_take(&c, 0, 1, &wait));
	assert_true(net_credit_take(&c, 0, 0, &wait));
	assert_false(net_credit_take(&c, 0, 1, &wait));
	assert_int_equal(wait, 1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_toeplitz_vectors),
		cmocka_unit_test(test_toeplitz_short_key),
		cmocka_unit_test(test_frame_vectors),
		cmocka_unit_test(test_frame_key_len),
		cmocka_unit_test(test_frame_disabled),
		cmocka_unit_test(test_frame_not_tcp),
		cmocka_unit_test(test_frame_v4_fragments),
		cmocka_unit_test(test_frame_v4_options_and_bad_ihl),
		cmocka_unit_test(test_frame_v6_ext_header),
		cmocka_unit_test(test_frame_truncated),
		cmocka_unit_test(test_frame_seq_bounded),
		cmocka_unit_test(test_queue_selection),
		cmocka_unit_test_setup_teardown(test_handle_algorithm_and_flags,
						ctrl_setup, ctrl_teardown),
		cmocka_unit_test_setup_teardown(test_handle_key,
						ctrl_setup, ctrl_teardown),
		cmocka_unit_test_setup_teardown(test_handle_mapping_size,
						ctrl_setup, ctrl_teardown),
		cmocka_unit_test_setup_teardown(test_handle_mapping,
						ctrl_setup, ctrl_teardown),
		cmocka_unit_test_setup_teardown(test_handle_unsupported,
						ctrl_setup, ctrl_teardown),
		cmocka_unit_test_setup_teardown(test_handle_random,
						ctrl_setup, ctrl_teardown),
		cmocka_unit_test(test_frame_random),
		cmocka_unit_test_setup_teardown(test_seqcount_race,
						ctrl_setup, ctrl_teardown),
		cmocka_unit_test_setup_teardown(test_ring_geometry,
						ring_setup, ring_teardown),
		cmocka_unit_test_setup_teardown(test_ring_requests,
						ring_setup, ring_teardown),
		cmocka_unit_test_setup_teardown(test_ring_full_and_wrap,
						ring_setup, ring_teardown),
		cmocka_unit_test_setup_teardown(test_ring_impossible_producer,
						ring_setup, ring_teardown),
		cmocka_unit_test_setup_teardown(test_ring_producer_behind,
						ring_setup, ring_teardown),
		cmocka_unit_test_setup_teardown(test_ring_overrun_in_one_call,
						ring_setup, ring_teardown),
		cmocka_unit_test(test_ring_posted_before_open),
		cmocka_unit_test(test_ring_adopt_replays_from_state),
		cmocka_unit_test(test_ring_open_failures),
		cmocka_unit_test(test_mcast_add_del),
		cmocka_unit_test(test_mcast_overflow),
		cmocka_unit_test(test_mcast_del_middle),
		cmocka_unit_test(test_credit_parse),
		cmocka_unit_test(test_credit_take),
		cmocka_unit_test(test_credit_oversize),
		cmocka_unit_test(test_credit_unlimited_and_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
