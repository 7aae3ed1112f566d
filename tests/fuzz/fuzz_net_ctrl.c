/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness: uback-net's control ring (feature-ctrl-ring) and the
 * hash it configures.
 *
 * Input: byte 0 picks the queue count (1..16); the next 4096 bytes are
 * the control ring page as the guest wrote it (header with producer
 * indexes, request slots); the next 4096 bytes the guest page that
 * SET_HASH_KEY / SET_HASH_MAPPING requests may name (granted to us
 * writable; pages granted read-only and to another domain exist too);
 * the rest is a frame for the guest to hash.
 *
 * Real code reached, over the in-process fake hypervisor
 * (tests/blk_fakehv: grant table with Xen's rules, grant copy, event
 * channels): net_ctrl_open (maps the ring, binds the channel),
 * net_ctrl_process (producer checks, a private copy of each request,
 * net_ctrl_handle for every type, grant copies of keys and mapping
 * tables, responses, halting on an impossible producer), net_ctrl_close;
 * then net_hash_frame and net_hash_queue with the hash state the guest
 * configured. Traps when the state breaks what the RX path relies on
 * (key or table sizes over the maxima, a queue out of range, bytes past
 * key_len not zero) or a mapping leaks.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "blk_fakehv.h"
#include "ctrl.h"

#define PAGE 4096u
#define RING_GFN 0
#define DATA_GFN 1
#define RO_GFN 2
#define FOREIGN_GFN 3

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct fake_hv *hv;
static grant_ref_t ring_ref;
static evtchn_port_t port;

static int setup(void)
{
	if (hv)
		return 0;
	if (fake_hv_create(8, &hv))
		return -1;
	ring_ref = fake_grant(hv, RING_GFN, false);
	/* Refs the guest may name: the first ones are handed out in this
	 * order (ring 1, data 2, read-only 3, foreign 4). */
	fake_grant(hv, DATA_GFN, false);
	fake_grant(hv, RO_GFN, true);
	fake_grant_to(hv, FOREIGN_GFN, 42, true);
	port = fake_evtchn_alloc(hv);
	return 0;
}

static void check_hash(const struct net_hash *h, unsigned int nq)
{
	uint32_t i;

	if (h->key_len > NET_HASH_KEY_MAX ||
	    h->mapping_size > NET_HASH_MAPPING_MAX)
		__builtin_trap();
	for (i = h->key_len; i < NET_HASH_KEY_MAX; i++)
		if (h->key[i])
			__builtin_trap();
	for (i = 0; i < h->mapping_size; i++)
		if (h->mapping[i] >= nq)
			__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct net_ctrl_config cfg;
	struct net_ctrl *c;
	struct net_hash h;
	unsigned int nq;
	uint32_t hash, type;
	size_t n;

	if (size < 1 || setup())
		return 0;
	nq = 1 + data[0] % 16;
	data++;
	size--;
	n = size < PAGE ? size : PAGE;
	memset(fake_page(hv, RING_GFN), 0, PAGE);
	memcpy(fake_page(hv, RING_GFN), data, n);
	data += n;
	size -= n;
	n = size < PAGE ? size : PAGE;
	memset(fake_page(hv, DATA_GFN), 0, PAGE);
	memcpy(fake_page(hv, DATA_GFN), data, n);
	memcpy(fake_page(hv, RO_GFN), fake_page(hv, DATA_GFN), PAGE);
	data += n;
	size -= n;

	net_hash_init(&h);
	cfg = (struct net_ctrl_config){
		.hv = fake_hv_base(hv), .domid = FAKE_GUEST,
		.ring_ref = ring_ref, .remote_port = port, .nr_queues = nq,
		.hash = &h,
	};
	if (net_ctrl_open(&cfg, &c))
		__builtin_trap();
	if (net_ctrl_process(c) == -EIO && net_ctrl_process(c) != -EIO)
		__builtin_trap();    /* a halted ring stays halted */
	net_ctrl_close(c);
	if (fake_pages_mapped(hv) != 0)
		__builtin_trap();
	check_hash(&h, nq);

	if (net_hash_frame(&h, data, (uint32_t)(size > 0xFFFF ? 0xFFFF : size),
			   &hash, &type)) {
		if (!(type & h.flags) || net_hash_queue(&h, hash, nq) >= nq)
			__builtin_trap();
	}
	return 0;
}
