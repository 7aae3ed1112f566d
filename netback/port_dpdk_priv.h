/* SPDX-License-Identifier: MIT */
/*
 * Internals of the DPDK port (port_dpdk.c, port_dpdk_mbuf.c), exposed for
 * tests/test_net_port_dpdk.c. Data-path helpers: no allocation other than
 * from the given mempool, no logging, callable from any queue thread.
 */
#ifndef NETBACK_PORT_DPDK_PRIV_H
#define NETBACK_PORT_DPDK_PRIV_H

#include <stddef.h>
#include <stdint.h>

#include "port.h"

struct rte_mbuf;
struct rte_mempool;

/* Headers of an Ethernet frame (one 802.1Q tag at most) up to L4. */
struct net_dpdk_hdrs {
	uint16_t l2_len;
	uint16_t l3_len;
	uint16_t l4_len;     /* TCP data offset or 8 (UDP); 0 otherwise */
	uint8_t ip_version;  /* 4 or 6 */
	uint8_t l4_proto;    /* IPPROTO_TCP, IPPROTO_UDP or other */
};

/* Parse IPv4/IPv6 over Ethernet. -EINVAL if truncated or not IP (IPv6
 * extension headers are not walked: the next header is the L4 proto). */
int net_dpdk_parse_hdrs(const uint8_t *d, uint32_t len,
			struct net_dpdk_hdrs *h);

/*
 * Copy @f into a new mbuf chain from @pool. @dev_off: NET_OFF_* the device
 * takes (NET_OFF_CSUM: TCP and UDP checksum offload). A NEEDS_CSUM frame
 * gets checksum offload flags if the device takes them and the headers
 * are plain TCP/UDP, else its checksum is completed in software; a TCP
 * GSO frame gets TSO metadata if the device takes that TSO, else is
 * refused. Returns 0 and *out, -ENOBUFS if the pool is empty (nothing
 * allocated stays), -EOPNOTSUPP for GSO the device cannot take,
 * -EINVAL for a bad length or vnet header.
 */
int net_dpdk_frame_to_mbuf(struct rte_mempool *pool, const struct net_frame *f,
			   unsigned int dev_off, struct rte_mbuf **out);

/*
 * Copy mbuf chain @m into @f (data and len; vnet from the mbuf's rx
 * offload flags: a good L4 checksum is DATA_VALID, a partial one
 * NEEDS_CSUM if @offloads has NET_OFF_CSUM else completed here, an LRO
 * frame GSO only if @offloads has the matching NET_OFF_TSO*).
 * Does not free @m. -EMSGSIZE over NET_FRAME_MAX, -EOPNOTSUPP for an LRO
 * frame the guest cannot take, -EINVAL for a runt or malformed chain.
 */
int net_dpdk_mbuf_to_frame(struct rte_mbuf *m, unsigned int offloads,
			   struct net_frame *f);

/* NET_OFF_* that port @p takes from the guest: NET_OFF_CSUM always (done
 * in software where the device cannot), NET_OFF_TSO4/6 only where the
 * device has TSO. For netback to offer feature-gso-tcpv4/6 accordingly;
 * proposed as an optional net_port_ops member (host_offloads). Any
 * thread, after open. */
unsigned int net_dpdk_host_offloads(const struct net_port *p);

/* Split the EAL arguments (fixed ones, then @extra) into @argv, backed by
 * @buf. -E2BIG if they do not fit. */
int net_dpdk_eal_argv(const char *extra, char *buf, size_t bufsz,
		      char **argv, int max_argc, int *argc_out);

#endif /* NETBACK_PORT_DPDK_PRIV_H */
