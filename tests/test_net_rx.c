/* SPDX-License-Identifier: MIT */
/*
 * The RX planner (net_rx_plan) and response builder (net_rx_build_rsps)
 * on buffers: slot counts for every frame size with and without sg, GSO
 * and hash extra-info placement, checksum flags, guests that cannot take
 * what the host hands over, duplicate and arbitrary guest ids (echoed,
 * never used as indices), error responses that keep the chain intact;
 * then random frames against invariants.
 */
#include <endian.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "netback.h"

static uint8_t buf[NET_FRAME_MAX + 1];

static const struct net_rx_guest full = {
	.sg = true, .gso4 = true, .gso6 = true, .csum = true, .csum6 = true,
};
static const struct net_rx_guest plain = { .csum = true };

static struct net_frame frame(uint32_t len)
{
	struct net_frame f;

	memset(&f, 0, sizeof(f));
	f.len = len;
	f.data = buf;
	/* IPv4 ethertype: partial checksums are IPv4 ones. */
	memset(buf, 0, 14);
	buf[12] = 0x08;
	return f;
}

static void reqs_ids(struct netif_rx_request *r, unsigned int n,
		     uint16_t base, uint16_t step)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		r[i].id = (uint16_t)(base + i * step);
		r[i].gref = 1000 + i;
	}
}

/* Data responses in ring order (extras skipped): check ids, statuses
 * and more_data; return the byte total. */
static uint32_t walk(const struct net_rx_plan *p,
		     const struct netif_rx_request *reqs,
		     const union net_rx_slot *out, bool failed)
{
	uint32_t total = 0, slot, d = 0;

	for (slot = 0; slot < p->nslots; slot++) {
		const struct netif_rx_response *r = &out[slot].rsp;

		if (slot >= 1 && slot <= p->nslots - p->ndata)
			continue;   /* extra-info */
		assert_int_equal(r->id, reqs[slot].id);
		assert_int_equal(r->offset, 0);
		assert_int_equal(!!(r->flags & NETRXF_more_data),
				 d + 1 < p->ndata);
		if (failed) {
			assert_int_equal(r->status, NETIF_RSP_ERROR);
		} else {
			assert_true(r->status > 0 && r->status <= 4096);
			total += (uint32_t)r->status;
		}
		d++;
	}
	assert_int_equal(d, p->ndata);
	return total;
}

static void test_sizes(void **state)
{
	static const uint32_t lens[] = { 1, 60, 1514, 4095, 4096, 4097, 9000,
					 32768, 65535 };
	struct netif_rx_request reqs[NET_RX_MAX_SLOTS];
	union net_rx_slot out[NET_RX_MAX_SLOTS];
	struct net_rx_plan p;
	unsigned int i;

	reqs_ids(reqs, NET_RX_MAX_SLOTS, 7, 3);
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		struct net_frame f = frame(lens[i]);
		uint32_t pages = (lens[i] + 4095) / 4096;

		net_rx_plan(&f, &full, 0, 0, &p);
		assert_int_equal(p.err, NET_RX_OK);
		assert_int_equal(p.ndata, pages);
		assert_int_equal(p.nslots, pages);
		net_rx_build_rsps(&p, f.len, false, reqs, out);
		assert_int_equal(walk(&p, reqs, out, false), lens[i]);

		/* Without sg: one page at most. */
		net_rx_plan(&f, &plain, 0, 0, &p);
		if (lens[i] <= 4096) {
			assert_int_equal(p.err, NET_RX_OK);
			assert_int_equal(p.nslots, 1);
		} else {
			assert_int_equal(p.err, NET_RX_E_TOO_BIG);
		}
	}
	{
		struct net_frame f = frame(0);

		net_rx_plan(&f, &full, 0, 0, &p);
		assert_int_equal(p.err, NET_RX_E_EMPTY);
		f.len = NET_FRAME_MAX + 1;
		net_rx_plan(&f, &full, 0, 0, &p);
		assert_int_equal(p.err, NET_RX_E_TOO_BIG);
	}
}

static void test_gso_hash(void **state)
{
	struct netif_rx_request reqs[NET_RX_MAX_SLOTS];
	union net_rx_slot out[NET_RX_MAX_SLOTS];
	struct net_frame f = frame(65000);
	struct net_rx_plan p;
	uint32_t hv;

	reqs_ids(reqs, NET_RX_MAX_SLOTS, 100, 1);
	f.vnet.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	f.vnet.gso_type = VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN;
	f.vnet.gso_size = htole16(1448);
	net_rx_plan(&f, &full, XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP, 0xdeadbeef,
		    &p);
	assert_int_equal(p.err, NET_RX_OK);
	assert_int_equal(p.ndata, 16);
	assert_int_equal(p.nslots, 18);
	assert_int_equal(p.flags, NETRXF_csum_blank | NETRXF_data_validated |
				  NETRXF_extra_info);
	net_rx_build_rsps(&p, f.len, false, reqs, out);
	assert_int_equal(walk(&p, reqs, out, false), 65000);
	/* GSO in slot 1 (more follows), hash in slot 2. */
	assert_int_equal(out[1].extra.type, XEN_NETIF_EXTRA_TYPE_GSO);
	assert_int_equal(out[1].extra.flags, XEN_NETIF_EXTRA_FLAG_MORE);
	assert_int_equal(out[1].extra.u.gso.type, XEN_NETIF_GSO_TYPE_TCPV4);
	assert_int_equal(out[1].extra.u.gso.size, 1448);
	assert_int_equal(out[2].extra.type, XEN_NETIF_EXTRA_TYPE_HASH);
	assert_int_equal(out[2].extra.flags, 0);
	assert_int_equal(out[2].extra.u.hash.type,
			 _XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP);
	assert_int_equal(out[2].extra.u.hash.algorithm,
			 XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ);
	memcpy(&hv, out[2].extra.u.hash.value, 4);
	assert_int_equal(hv, 0xdeadbeef);
	/* Only the first data response carries the checksum flags. */
	assert_int_equal(out[3].rsp.flags, NETRXF_more_data);

	/* Hash only: extra in slot 1, no MORE. */
	f.vnet.gso_type = 0;
	net_rx_plan(&f, &full, XEN_NETIF_CTRL_HASH_TYPE_IPV4, 5, &p);
	assert_int_equal(p.nslots, 17);
	net_rx_build_rsps(&p, f.len, false, reqs, out);
	assert_int_equal(out[1].extra.type, XEN_NETIF_EXTRA_TYPE_HASH);
	assert_int_equal(out[1].extra.flags, 0);
	assert_int_equal(walk(&p, reqs, out, false), 65000);

	/* GSO types the guest did not negotiate, or nonsense. */
	f.vnet.gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
	net_rx_plan(&f, &(struct net_rx_guest){ .sg = true, .gso4 = true,
						.csum = true }, 0, 0, &p);
	assert_int_equal(p.err, NET_RX_E_GSO);
	f.vnet.gso_type = VIRTIO_NET_HDR_GSO_UDP;
	net_rx_plan(&f, &full, 0, 0, &p);
	assert_int_equal(p.err, NET_RX_E_GSO);
	f.vnet.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	f.vnet.gso_size = 0;
	net_rx_plan(&f, &full, 0, 0, &p);
	assert_int_equal(p.err, NET_RX_E_GSO);
	/* GSO needs sg. */
	f.vnet.gso_size = htole16(1448);
	f.len = 3000;
	net_rx_plan(&f, &(struct net_rx_guest){ .gso4 = true, .csum = true },
		    0, 0, &p);
	assert_int_equal(p.err, NET_RX_E_GSO);
	/* A GSO frame to a guest that cannot take partial sums. */
	net_rx_plan(&f, &(struct net_rx_guest){ .sg = true, .gso4 = true },
		    0, 0, &p);
	assert_int_equal(p.err, NET_RX_E_CSUM);
}

static void test_csum_flags(void **state)
{
	struct net_frame f = frame(1000);
	struct net_rx_plan p;

	f.vnet.flags = VIRTIO_NET_HDR_F_DATA_VALID;
	net_rx_plan(&f, &full, 0, 0, &p);
	assert_int_equal(p.flags, NETRXF_data_validated);
	f.vnet.flags = 0;
	net_rx_plan(&f, &full, 0, 0, &p);
	assert_int_equal(p.flags, 0);
	/* Partial sum to a guest without checksum offload: completed in
	 * software, delivered as validated. */
	f.vnet.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	net_rx_plan(&f, &(struct net_rx_guest){ .sg = true }, 0, 0, &p);
	assert_int_equal(p.err, NET_RX_OK);
	assert_true(p.sw_csum);
	assert_int_equal(p.flags, NETRXF_data_validated);
	/* IPv6 partial sum: only with feature-ipv6-csum-offload. */
	buf[12] = 0x86;
	buf[13] = 0xdd;
	net_rx_plan(&f, &plain, 0, 0, &p);
	assert_true(p.sw_csum);
	net_rx_plan(&f, &full, 0, 0, &p);
	assert_false(p.sw_csum);
	assert_int_equal(p.flags, NETRXF_csum_blank | NETRXF_data_validated);
}

static void test_ids_and_errors(void **state)
{
	struct netif_rx_request reqs[NET_RX_MAX_SLOTS];
	union net_rx_slot out[NET_RX_MAX_SLOTS];
	struct net_frame f = frame(20000);
	struct net_rx_plan p;
	unsigned int i;

	/* Every request with the same id, and ids far beyond the ring. */
	for (i = 0; i < NET_RX_MAX_SLOTS; i++) {
		reqs[i].id = 0xffff;
		reqs[i].gref = 1;
	}
	net_rx_plan(&f, &full, 0, 0, &p);
	net_rx_build_rsps(&p, f.len, false, reqs, out);
	assert_int_equal(walk(&p, reqs, out, false), 20000);
	/* A failed copy: error statuses, the chain still walkable. */
	net_rx_build_rsps(&p, f.len, true, reqs, out);
	walk(&p, reqs, out, true);
}

static void test_random(void **state)
{
	struct netif_rx_request reqs[NET_RX_MAX_SLOTS];
	union net_rx_slot out[NET_RX_MAX_SLOTS];
	struct net_rx_plan p;
	unsigned int iter, ok = 0;

	srandom(777);
	for (iter = 0; iter < 100000; iter++) {
		struct net_frame f = frame((uint32_t)random() % 70000);
		struct net_rx_guest g = {
			.sg = random() & 1, .gso4 = random() & 1,
			.gso6 = random() & 1, .csum = random() & 1,
			.csum6 = random() & 1,
		};
		uint32_t ht = random() & 1 ? 1u << (random() % 4) : 0;

		f.vnet.flags = (uint8_t)(random() % 4);
		f.vnet.gso_type = (uint8_t)(random() % 8 == 0
					    ? random() : random() % 5);
		f.vnet.gso_size = (uint16_t)(random() % 3000);
		reqs_ids(reqs, NET_RX_MAX_SLOTS, (uint16_t)random(), 1);
		net_rx_plan(&f, &g, ht, 1, &p);
		if (p.err != NET_RX_OK)
			continue;
		ok++;
		assert_true(p.nslots <= NET_RX_MAX_SLOTS);
		assert_int_equal(p.nslots, p.ndata + p.gso + p.hash);
		assert_true(g.sg || p.ndata == 1);
		net_rx_build_rsps(&p, f.len, false, reqs, out);
		assert_int_equal(walk(&p, reqs, out, false), f.len);
	}
	assert_true(ok > 1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_gso_hash),
		cmocka_unit_test(test_csum_flags),
		cmocka_unit_test(test_ids_and_errors),
		cmocka_unit_test(test_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
