/* SPDX-License-Identifier: MIT */
/* The guest's multicast filter list: see ctrl.h. */
#include <errno.h>
#include <string.h>

#include "ctrl.h"

/*
 * One writer (the TX thread that sees the guest's MCAST_ADD/DEL extras),
 * readers on RX threads: every byte and the count are accessed with
 * relaxed atomics. A reader racing a change may judge one frame against
 * the old or a half-moved entry; that only passes or drops that frame,
 * which a filter change implies anyway.
 */

static bool is_multicast(const uint8_t a[6])
{
	return a[0] & 1u;
}

static bool is_broadcast(const uint8_t a[6])
{
	return (a[0] & a[1] & a[2] & a[3] & a[4] & a[5]) == 0xffu;
}

static void load_addr(const struct net_mcast *m, uint32_t i, uint8_t out[6])
{
	unsigned int b;

	for (b = 0; b < 6; b++)
		out[b] = __atomic_load_n(&m->addr[i][b], __ATOMIC_RELAXED);
}

static void store_addr(struct net_mcast *m, uint32_t i, const uint8_t a[6])
{
	unsigned int b;

	for (b = 0; b < 6; b++)
		__atomic_store_n(&m->addr[i][b], a[b], __ATOMIC_RELAXED);
}

/* Index of @a in the list, or -1. Any thread. */
static int find(const struct net_mcast *m, const uint8_t a[6])
{
	uint32_t n = __atomic_load_n(&m->count, __ATOMIC_ACQUIRE), i;
	uint8_t cur[6];

	if (n > NET_MCAST_MAX)
		n = NET_MCAST_MAX;
	for (i = 0; i < n; i++) {
		load_addr(m, i, cur);
		if (!memcmp(cur, a, 6))
			return (int)i;
	}
	return -1;
}

void net_mcast_init(struct net_mcast *m)
{
	memset(m, 0, sizeof(*m));
}

int net_mcast_add(struct net_mcast *m, const uint8_t addr[6])
{
	uint32_t n;

	if (!is_multicast(addr))
		return -EINVAL;
	/* A set, not a multiset: a repeated add takes no second slot. */
	if (find(m, addr) >= 0)
		return 0;
	n = __atomic_load_n(&m->count, __ATOMIC_RELAXED);
	if (n >= NET_MCAST_MAX) {
		/* The guest still gets the group's traffic (pass all), so
		 * its request is honoured: success. */
		__atomic_store_n(&m->overflow, true, __ATOMIC_RELAXED);
		return 0;
	}
	store_addr(m, n, addr);
	__atomic_store_n(&m->count, n + 1, __ATOMIC_RELEASE);
	return 0;
}

int net_mcast_del(struct net_mcast *m, const uint8_t addr[6])
{
	uint32_t n = __atomic_load_n(&m->count, __ATOMIC_RELAXED);
	uint8_t last[6];
	int i = find(m, addr);

	if (i < 0)
		/* After an overflow the address may be one we could not
		 * store: nothing to undo, and the guest did nothing wrong. */
		return __atomic_load_n(&m->overflow, __ATOMIC_RELAXED)
			       ? 0 : -ENOENT;
	/* Move the last entry into the hole, then shrink. */
	load_addr(m, n - 1, last);
	store_addr(m, (uint32_t)i, last);
	__atomic_store_n(&m->count, n - 1, __ATOMIC_RELEASE);
	return 0;
}

bool net_mcast_pass(const struct net_mcast *m, const uint8_t dst[6])
{
	if (!is_multicast(dst) || is_broadcast(dst))
		return true;
	if (__atomic_load_n(&m->overflow, __ATOMIC_RELAXED))
		return true;
	return find(m, dst) >= 0;
}
