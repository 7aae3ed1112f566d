/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for uback-net's pure decoders: the input is taken as
 * TX ring slots (net_tx_decode), as a frame for the guest (net_rx_plan,
 * net_rx_build_rsps) and as a frame to checksum (frame.c). Invariant
 * violations abort. Built only with clang (-fsanitize=fuzzer):
 *   CC=clang meson setup build-fuzz -Db_sanitize=address
 *   ninja -C build-fuzz tests/fuzz_net && build-fuzz/tests/fuzz_net
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "netback.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void tx(const uint8_t *data, size_t size)
{
	static const struct net_tx_limits lim = {
		.max_slots = NET_TX_MAX_SLOTS, .fatal_slots = NET_TX_FATAL_SLOTS,
	};
	union net_tx_slot s[NET_TX_WINDOW];
	size_t n = size / sizeof(s[0]);
	struct net_tx_pkt p;
	uint32_t i, sum;

	if (!n)
		return;
	if (n > NET_TX_WINDOW)
		n = NET_TX_WINDOW;
	memcpy(s, data, n * sizeof(s[0]));
	if (net_tx_decode(s, (uint32_t)n, &lim, &p) == NET_TX_FATAL)
		return;
	if (p.nslots < 1 || p.nslots > n)
		abort();
	if (p.verdict != NET_TX_SEND)
		return;
	sum = p.first_len;
	if (p.first_len < NET_ETH_HLEN || s[0].req.offset + p.first_len > 4096)
		abort();
	for (i = 1 + p.nextras; i < p.nslots; i++) {
		if (s[i].req.offset + s[i].req.size > 4096)
			abort();
		sum += s[i].req.size;
	}
	if (sum != p.len)
		abort();
}

static void rx(const uint8_t *data, size_t size)
{
	static uint8_t buf[NET_FRAME_MAX + 1];
	struct netif_rx_request reqs[NET_RX_MAX_SLOTS];
	union net_rx_slot out[NET_RX_MAX_SLOTS];
	struct net_rx_guest g;
	struct net_rx_plan p;
	struct net_frame f;
	uint32_t i, total = 0;

	if (size < sizeof(f.vnet) + 2)
		return;
	memcpy(&f.vnet, data, sizeof(f.vnet));
	g = (struct net_rx_guest){ .sg = data[10] & 1, .gso4 = data[10] & 2,
				   .gso6 = data[10] & 4, .csum = data[10] & 8,
				   .csum6 = data[10] & 16 };
	data += sizeof(f.vnet);
	size -= sizeof(f.vnet);
	f.len = (uint32_t)(size > NET_FRAME_MAX ? NET_FRAME_MAX : size);
	memcpy(buf, data, f.len);
	f.data = buf;
	net_rx_plan(&f, &g, 0, 0, &p);
	if (p.err != NET_RX_OK)
		return;
	if (p.sw_csum)
		net_frame_csum_complete(buf, f.len, &f.vnet);
	for (i = 0; i < NET_RX_MAX_SLOTS; i++)
		reqs[i] = (struct netif_rx_request){ .id = (uint16_t)i };
	net_rx_build_rsps(&p, f.len, false, reqs, out);
	for (i = 0; i < p.nslots; i++)
		if (!(i >= 1 && i <= p.nslots - p.ndata))
			total += (uint32_t)out[i].rsp.status;
	if (total != f.len)
		abort();
	memset(&f.vnet, 0, sizeof(f.vnet));
	net_frame_csum_setup(buf, f.len, &f.vnet, true);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	tx(data, size);
	rx(data, size);
	return 0;
}
