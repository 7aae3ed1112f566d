/* SPDX-License-Identifier: MIT */
/* Toeplitz hashing of guest-bound frames: see ctrl.h. */
#include <string.h>

#include "ctrl.h"

#define ETH_HLEN        14u
#define VLAN_HLEN       4u
#define ETHERTYPE_IPV4  0x0800u
#define ETHERTYPE_IPV6  0x86DDu
#define ETHERTYPE_VLAN  0x8100u
#define ETHERTYPE_QINQ  0x88A8u
#define IPPROTO_TCP_NR  6u
#define IPV6_HLEN       40u

/*
 * A reader meeting a writer retries; the writer is one thread doing a
 * short copy, so a few tries always suffice. The bound only matters if
 * something is badly wrong: then the frame goes unhashed, it never spins.
 */
#define NET_HASH_READ_TRIES 64

#define NET_HASH_ALL_TYPES (XEN_NETIF_CTRL_HASH_TYPE_IPV4 |               \
			    XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP |           \
			    XEN_NETIF_CTRL_HASH_TYPE_IPV6 |               \
			    XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP)

void net_hash_init(struct net_hash *h)
{
	memset(h, 0, sizeof(*h));
	h->alg = XEN_NETIF_CTRL_HASH_ALGORITHM_NONE;
}

uint32_t net_toeplitz(const uint8_t *key, uint32_t key_len,
		      const uint8_t *data, uint32_t len)
{
	uint32_t window = 0, result = 0, i;
	int bit;

	/* The key is a shift register: its left-most 32 bits are XORed in
	 * for every set input bit; bits past key_len read as zero. */
	for (i = 0; i < 4; i++)
		window = (window << 8) | (i < key_len ? key[i] : 0);
	for (i = 0; i < len; i++) {
		uint8_t next = (i + 4 < key_len) ? key[i + 4] : 0;

		for (bit = 7; bit >= 0; bit--) {
			if (data[i] & (1u << bit))
				result ^= window;
			window = (window << 1) | ((next >> bit) & 1u);
		}
	}
	return result;
}

struct hash_snap {
	uint32_t alg;
	uint32_t flags;
	uint32_t key_len;
	uint8_t key[NET_HASH_KEY_MAX];
};

/*
 * Seqcount reader (the writer is in ctrl.c): every shared field is read
 * with a relaxed atomic load between an acquire load of seq and an
 * acquire fence, so a torn snapshot is always detected by seq changing.
 */
static bool hash_snapshot(const struct net_hash *h, struct hash_snap *s)
{
	unsigned int tries, i;

	for (tries = 0; tries < NET_HASH_READ_TRIES; tries++) {
		uint32_t seq = __atomic_load_n(&h->seq, __ATOMIC_ACQUIRE);

		if (seq & 1u) {
			xb_cpu_relax();
			continue;
		}
		s->alg = __atomic_load_n(&h->alg, __ATOMIC_RELAXED);
		s->flags = __atomic_load_n(&h->flags, __ATOMIC_RELAXED);
		s->key_len = __atomic_load_n(&h->key_len, __ATOMIC_RELAXED);
		for (i = 0; i < NET_HASH_KEY_MAX; i++)
			s->key[i] = __atomic_load_n(&h->key[i],
						    __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&h->seq, __ATOMIC_RELAXED) == seq)
			return true;
	}
	return false;
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

/* What the frame offers for hashing: the Toeplitz input for the L3-only
 * and the L3+TCP type (the latter only when @has_tcp). */
struct hash_input {
	bool v6;
	bool has_tcp;
	uint32_t addr_len;        /* 8 (v4) or 32 (v6) */
	uint8_t buf[36];          /* src addr, dst addr, src port, dst port */
};

static bool parse_frame(const uint8_t *f, uint32_t len, struct hash_input *in)
{
	uint32_t l3 = ETH_HLEN, l4;
	uint16_t type;

	if (len < ETH_HLEN)
		return false;
	type = rd16(f + 12);
	if (type == ETHERTYPE_VLAN || type == ETHERTYPE_QINQ) {
		if (len < ETH_HLEN + VLAN_HLEN)
			return false;
		type = rd16(f + 16);
		l3 += VLAN_HLEN;
	}

	if (type == ETHERTYPE_IPV4) {
		uint32_t ihl;
		uint16_t frag;

		if (len - l3 < 20 || (f[l3] >> 4) != 4)
			return false;
		ihl = (f[l3] & 0x0fu) * 4u;
		if (ihl < 20 || len - l3 < ihl)
			return false;
		in->v6 = false;
		in->addr_len = 8;
		memcpy(in->buf, f + l3 + 12, 8);
		/* Any fragment, the first included, hashes as plain IPv4:
		 * later fragments have no ports, and all fragments of one
		 * datagram must reach the same queue. */
		frag = rd16(f + l3 + 6);
		l4 = l3 + ihl;
		in->has_tcp = f[l3 + 9] == IPPROTO_TCP_NR &&
			      !(frag & 0x3fffu) && len - l4 >= 4;
	} else if (type == ETHERTYPE_IPV6) {
		if (len - l3 < IPV6_HLEN || (f[l3] >> 4) != 6)
			return false;
		in->v6 = true;
		in->addr_len = 32;
		memcpy(in->buf, f + l3 + 8, 32);
		/* Only a TCP header right after the fixed header: walking
		 * extension headers is not needed to pick a queue. */
		l4 = l3 + IPV6_HLEN;
		in->has_tcp = f[l3 + 6] == IPPROTO_TCP_NR && len - l4 >= 4;
	} else {
		return false;
	}
	if (in->has_tcp)
		memcpy(in->buf + in->addr_len, f + l4, 4);
	return true;
}

bool net_hash_frame(const struct net_hash *h, const uint8_t *frame,
		    uint32_t len, uint32_t *hash, uint32_t *type)
{
	struct hash_snap s;
	struct hash_input in;
	uint32_t l3_type, l4_type, use, n;

	if (!hash_snapshot(h, &s) ||
	    s.alg != XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ ||
	    !(s.flags & NET_HASH_ALL_TYPES) || !frame ||
	    !parse_frame(frame, len, &in))
		return false;

	l3_type = in.v6 ? XEN_NETIF_CTRL_HASH_TYPE_IPV6
			: XEN_NETIF_CTRL_HASH_TYPE_IPV4;
	l4_type = in.v6 ? XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP
			: XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP;
	/* The maximal configured type wins (netif.h SET_HASH_FLAGS). */
	if (in.has_tcp && (s.flags & l4_type)) {
		use = l4_type;
		n = in.addr_len + 4;
	} else if (s.flags & l3_type) {
		use = l3_type;
		n = in.addr_len;
	} else {
		return false;
	}
	*hash = net_toeplitz(s.key, s.key_len < NET_HASH_KEY_MAX
					   ? s.key_len : NET_HASH_KEY_MAX,
			     in.buf, n);
	*type = use;
	return true;
}

/* mapping[hash % size] (a stable seqcount snapshot); *@size 0 if no
 * table. false if no stable snapshot was seen. */
static bool map_lookup(const struct net_hash *h, uint32_t hash, uint32_t *q,
		       uint32_t *size)
{
	unsigned int tries;

	for (tries = 0; tries < NET_HASH_READ_TRIES; tries++) {
		uint32_t seq = __atomic_load_n(&h->seq, __ATOMIC_ACQUIRE);

		if (seq & 1u) {
			xb_cpu_relax();
			continue;
		}
		*size = __atomic_load_n(&h->mapping_size, __ATOMIC_RELAXED);
		if (*size > NET_HASH_MAPPING_MAX)
			*size = NET_HASH_MAPPING_MAX;
		*q = *size ? __atomic_load_n(&h->mapping[hash % *size],
					     __ATOMIC_RELAXED)
			   : hash;
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&h->seq, __ATOMIC_RELAXED) == seq)
			return true;
	}
	return false;
}

unsigned int net_hash_queue(const struct net_hash *h, uint32_t hash,
			    unsigned int nr_queues)
{
	uint32_t q, size;

	if (!nr_queues)
		return 0;
	/* Never seen a stable table: any valid queue will do. */
	if (!map_lookup(h, hash, &q, &size))
		return hash % nr_queues;
	return q % nr_queues;
}

bool net_hash_map(const struct net_hash *h, uint32_t hash,
		  unsigned int nr_queues, unsigned int *q)
{
	uint32_t m, size;

	if (!nr_queues || !map_lookup(h, hash, &m, &size) || !size)
		return false;
	*q = m % nr_queues;
	return true;
}
