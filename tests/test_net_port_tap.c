/* SPDX-License-Identifier: MIT */
/*
 * netback/port_tap.c, the tap port, against the real kernel: the program
 * moves itself into a network namespace of its own at start (so nothing it
 * creates is visible on the host and everything goes when it exits), then
 * opens ports and checks the device (name, MAC, MTU, bridge, flags),
 * frames both ways (kernel -> rx_burst through UDP sockets and an
 * AF_PACKET socket, tx_burst -> kernel sockets, including a hand-built
 * 60 KiB TCPv4 GSO super-frame the kernel must take whole), multi-queue,
 * oversize frames, and the errors (bad or taken names, unknown bridge).
 *
 * Needs root and /dev/net/tun: skips (77) otherwise. Addresses are from
 * 198.18.0.0/15 only.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/ioctl.h>
#include <sys/socket.h>

#include <linux/ethtool.h>
#include <linux/if.h>
#include <linux/if_arp.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/sockios.h>
#include <net/route.h>
#include <netinet/in.h>

#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>

#include <cmocka.h>

#include "port.h"

static const struct net_port_ops *ops = &net_port_tap_ops;
static int ctl_fd = -1;           /* AF_INET datagram socket for ioctls */
static struct nl_sock *nl;
static unsigned int name_seq;

#define NFRAMES 64
static uint8_t *bufs[NFRAMES];
static struct net_frame frames[NFRAMES];
/* rx_collect's own receive buffers: a burst must not overwrite the
 * frames a test sent and compares against (a stray IGMP report on the
 * bridge once did, under load). */
static struct net_frame rxframes[NFRAMES];
static uint8_t *rxbufs[NFRAMES];

static const uint8_t guest_mac[6] = { 0x02, 0, 0, 0, 0, 0x02 };
static const uint8_t dflt_mac[6] = { 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff };

/* ---- helpers: names, device queries ----------------------------------- */

static void new_name(char *out, size_t sz, const char *prefix)
{
	snprintf(out, sz, "%s%u.%u", prefix, (unsigned int)getpid() % 100000,
		 name_seq++);
}

static void cfg_init(struct net_port_config *c, const char *name,
		     unsigned int nq)
{
	memset(c, 0, sizeof(*c));
	c->ifname = name;
	c->nr_queues = nq;
}

static void ifreq_name(struct ifreq *ifr, const char *name)
{
	memset(ifr, 0, sizeof(*ifr));
	snprintf(ifr->ifr_name, sizeof(ifr->ifr_name), "%s", name);
}

static bool dev_exists(const char *name)
{
	struct ifreq ifr;

	ifreq_name(&ifr, name);
	return ioctl(ctl_fd, SIOCGIFINDEX, &ifr) == 0;
}

static int dev_ifindex(const char *name)
{
	struct ifreq ifr;

	ifreq_name(&ifr, name);
	assert_int_equal(ioctl(ctl_fd, SIOCGIFINDEX, &ifr), 0);
	return ifr.ifr_ifindex;
}

static unsigned int dev_flags(const char *name)
{
	struct ifreq ifr;

	ifreq_name(&ifr, name);
	assert_int_equal(ioctl(ctl_fd, SIOCGIFFLAGS, &ifr), 0);
	return (unsigned short)ifr.ifr_flags;
}

static void dev_mac(const char *name, uint8_t mac[6])
{
	struct ifreq ifr;

	ifreq_name(&ifr, name);
	assert_int_equal(ioctl(ctl_fd, SIOCGIFHWADDR, &ifr), 0);
	memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
}

static int dev_mtu(const char *name)
{
	struct ifreq ifr;

	ifreq_name(&ifr, name);
	assert_int_equal(ioctl(ctl_fd, SIOCGIFMTU, &ifr), 0);
	return ifr.ifr_mtu;
}

/* Fresh link object from the kernel (sysfs shows the host's namespace). */
static struct rtnl_link *dev_link(const char *name)
{
	struct rtnl_link *l = NULL;

	assert_int_equal(rtnl_link_get_kernel(nl, 0, name, &l), 0);
	return l;
}

static uint64_t dev_stat(const char *name, rtnl_link_stat_id_t id)
{
	struct rtnl_link *l = dev_link(name);
	uint64_t v = rtnl_link_get_stat(l, id);

	rtnl_link_put(l);
	return v;
}

static uint32_t ethtool_get(const char *name, uint32_t cmd)
{
	struct ethtool_value ev = { .cmd = cmd };
	struct ifreq ifr;

	ifreq_name(&ifr, name);
	ifr.ifr_data = (char *)&ev;
	assert_int_equal(ioctl(ctl_fd, SIOCETHTOOL, &ifr), 0);
	return ev.data;
}

static void dev_neigh(const char *name, unsigned int net);

/* 198.18.<net>.1/24 on @name, and 198.18.<net>.2 -> guest_mac statically,
 * so the kernel never ARPs into the test's frames. */
static void dev_addr(const char *name, unsigned int net)
{
	struct ifreq ifr;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
	char ip[32];

	ifreq_name(&ifr, name);
	sin->sin_family = AF_INET;
	snprintf(ip, sizeof(ip), "198.18.%u.1", net);
	inet_pton(AF_INET, ip, &sin->sin_addr);
	assert_int_equal(ioctl(ctl_fd, SIOCSIFADDR, &ifr), 0);
	inet_pton(AF_INET, "255.255.255.0", &sin->sin_addr);
	assert_int_equal(ioctl(ctl_fd, SIOCSIFNETMASK, &ifr), 0);
	dev_neigh(name, net);
}

/* The static neighbour entry: a link going down flushes it. */
static void dev_neigh(const char *name, unsigned int net)
{
	struct sockaddr_in *sin;
	struct arpreq arp;
	char ip[32];

	memset(&arp, 0, sizeof(arp));
	sin = (struct sockaddr_in *)&arp.arp_pa;
	sin->sin_family = AF_INET;
	snprintf(ip, sizeof(ip), "198.18.%u.2", net);
	inet_pton(AF_INET, ip, &sin->sin_addr);
	arp.arp_ha.sa_family = ARPHRD_ETHER;
	memcpy(arp.arp_ha.sa_data, guest_mac, 6);
	arp.arp_flags = ATF_PERM | ATF_COM;
	snprintf(arp.arp_dev, sizeof(arp.arp_dev), "%s", name);
	assert_int_equal(ioctl(ctl_fd, SIOCSARP, &arp), 0);
}

static uint32_t ip4(unsigned int net, unsigned int host)
{
	return htonl((198u << 24) | (18u << 16) | (net << 8) | host);
}

/* ---- helpers: frames -------------------------------------------------- */

static uint32_t csum_add(uint32_t sum, const void *data, size_t len)
{
	const uint8_t *b = data;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)b[i] << 8 | b[i + 1];
	if (len & 1)
		sum += (uint32_t)b[len - 1] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

static uint32_t pseudo_sum(uint32_t saddr, uint32_t daddr, uint8_t proto,
			   uint32_t l4len)
{
	uint32_t s = 0;

	s = csum_add(s, &saddr, 4);
	s = csum_add(s, &daddr, 4);
	return s + proto + l4len;
}

static void put16(uint8_t *p, uint16_t v) { p[0] = v >> 8; p[1] = v & 0xff; }
static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
}
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

/* Ethernet + IPv4 header for @l4len bytes of @proto; returns the L4
 * offset (34). */
static size_t build_eth_ip(uint8_t *b, const uint8_t dst[6], uint32_t saddr,
			   uint32_t daddr, uint8_t proto, size_t l4len)
{
	uint8_t *ip = b + ETH_HLEN;

	memcpy(b, dst, 6);
	memcpy(b + 6, guest_mac, 6);
	put16(b + 12, ETH_P_IP);
	memset(ip, 0, 20);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(20 + l4len));
	put16(ip + 4, 0x1234);
	put16(ip + 6, 0x4000);   /* DF */
	ip[8] = 64;
	ip[9] = proto;
	memcpy(ip + 12, &saddr, 4);
	memcpy(ip + 16, &daddr, 4);
	put16(ip + 10, (uint16_t)~csum_fold(csum_add(0, ip, 20)));
	return ETH_HLEN + 20;
}

/* UDP datagram from the guest (198.18.net.2:sport) to @dport; with
 * @partial the checksum is left for the kernel (NEEDS_CSUM). */
static void build_udp(struct net_frame *f, unsigned int net, const uint8_t
		      dst[6], uint16_t sport, uint16_t dport, const void *pl,
		      size_t plen, bool partial)
{
	uint32_t sa = ip4(net, 2), da = ip4(net, 1);
	size_t off = build_eth_ip(f->data, dst, sa, da, IPPROTO_UDP, 8 + plen);
	uint8_t *u = f->data + off;
	uint32_t ps = pseudo_sum(sa, da, IPPROTO_UDP, (uint32_t)(8 + plen));

	put16(u, sport);
	put16(u + 2, dport);
	put16(u + 4, (uint16_t)(8 + plen));
	put16(u + 6, 0);
	memcpy(u + 8, pl, plen);
	memset(&f->vnet, 0, sizeof(f->vnet));
	if (partial) {
		put16(u + 6, csum_fold(ps));
		f->vnet.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		f->vnet.csum_start = (uint16_t)off;
		f->vnet.csum_offset = 6;
	} else {
		uint16_t c = (uint16_t)~csum_fold(csum_add(ps, u, 8 + plen));

		put16(u + 6, c ? c : 0xffff);
	}
	f->len = (uint32_t)(off + 8 + plen);
}

#define TCP_SYN 0x02
#define TCP_ACK 0x10
#define TCP_PSH 0x08

/* TCP segment from the guest; a SYN carries MSS 1460. @partial: checksum
 * left to the kernel. Data is @plen bytes of pattern starting at @pat0. */
static void build_tcp(struct net_frame *f, unsigned int net, const uint8_t
		      dst[6], uint16_t sport, uint16_t dport, uint32_t seq,
		      uint32_t ack, uint8_t flags, size_t plen, uint32_t pat0,
		      bool partial)
{
	uint32_t sa = ip4(net, 2), da = ip4(net, 1);
	size_t thl = (flags & TCP_SYN) ? 24 : 20;
	size_t off = build_eth_ip(f->data, dst, sa, da, IPPROTO_TCP,
				  thl + plen);
	uint8_t *t = f->data + off;
	uint32_t ps = pseudo_sum(sa, da, IPPROTO_TCP, (uint32_t)(thl + plen));

	memset(t, 0, thl);
	put16(t, sport);
	put16(t + 2, dport);
	put32(t + 4, seq);
	put32(t + 8, ack);
	t[12] = (uint8_t)((thl / 4) << 4);
	t[13] = flags;
	put16(t + 14, 65535);
	if (flags & TCP_SYN) {
		t[20] = 2;
		t[21] = 4;
		put16(t + 22, 1460);
	}
	for (size_t i = 0; i < plen; i++)
		t[thl + i] = (uint8_t)((pat0 + i) * 7 + 3);
	memset(&f->vnet, 0, sizeof(f->vnet));
	if (partial) {
		put16(t + 16, csum_fold(ps));
		f->vnet.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		f->vnet.csum_start = (uint16_t)off;
		f->vnet.csum_offset = 16;
	} else {
		put16(t + 16, (uint16_t)~csum_fold(csum_add(ps, t, thl + plen)));
	}
	f->len = (uint32_t)(off + thl + plen);
}

typedef bool (*frame_pred)(const struct net_frame *f, void *arg);

/* Collect frames matching @pred from queue @q into frames[] (others are
 * discarded) until @want arrived or @ms passed. Returns the count. */
static unsigned int rx_collect(struct net_port *p, unsigned int q,
			       unsigned int want, int ms, frame_pred pred,
			       void *arg, struct net_frame *out)
{
	struct timespec t0, t1;
	unsigned int got = 0;
	struct pollfd pfd = { .fd = ops->queue_fd(p, q), .events = POLLIN };

	assert_true(pfd.fd >= 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (got < want) {
		int n = ops->rx_burst(p, q, rxframes, NFRAMES);

		assert_true(n >= 0);
		for (int i = 0; i < n; i++) {
			if (got < want && (!pred || pred(&rxframes[i], arg))) {
				out[got] = rxframes[i];
				out[got].data = malloc(rxframes[i].len);
				assert_non_null(out[got].data);
				memcpy(out[got].data, rxframes[i].data,
				       rxframes[i].len);
				got++;
			}
		}
		if (n > 0)
			continue;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		long el = (t1.tv_sec - t0.tv_sec) * 1000 +
			  (t1.tv_nsec - t0.tv_nsec) / 1000000;
		if (el >= ms)
			break;
		poll(&pfd, 1, (int)(ms - el));
	}
	return got;
}

static void frames_free(struct net_frame *f, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		free(f[i].data);
}

/* IPv4 frame of protocol proto to 198.18.x.2 (the guest). */
static bool is_ip_proto(const struct net_frame *f, void *arg)
{
	return f->len >= 34 && get16(f->data + 12) == ETH_P_IP &&
	       f->data[23] == (uint8_t)(uintptr_t)arg;
}

static int udp_socket(unsigned int net, uint16_t *port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sin);
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(s >= 0);
	sin.sin_addr.s_addr = ip4(net, 1);
	assert_int_equal(bind(s, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&sin, &sl), 0);
	*port = ntohs(sin.sin_port);
	return s;
}

static void udp_send_to_guest(int s, unsigned int net, uint16_t dport,
			      const void *pl, size_t len)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_port = htons(dport) };

	sin.sin_addr.s_addr = ip4(net, 2);
	assert_int_equal(sendto(s, pl, len, 0, (struct sockaddr *)&sin,
				sizeof(sin)), (ssize_t)len);
}

static ssize_t recv_timeout(int s, void *buf, size_t len, int ms)
{
	struct pollfd pfd = { .fd = s, .events = POLLIN };

	if (poll(&pfd, 1, ms) <= 0)
		return -ETIMEDOUT;
	return recv(s, buf, len, MSG_DONTWAIT);
}

/* ---- open / close ----------------------------------------------------- */

static void test_open_defaults(void **state)
{
	struct net_port_config c;
	struct net_port *p = NULL;
	char name[IFNAMSIZ];
	uint8_t mac[6];

	new_name(name, sizeof(name), "vif");
	cfg_init(&c, name, 1);
	assert_false(dev_exists(name));
	assert_int_equal(ops->open(&c, &p), 0);
	assert_non_null(p);
	assert_true(dev_exists(name));
	dev_mac(name, mac);
	assert_memory_equal(mac, dflt_mac, 6);
	assert_int_equal(dev_mtu(name), 1500);
	assert_int_equal(dev_flags(name) & IFF_UP, 0);
	assert_true(ops->queue_fd(p, 0) >= 0);
	assert_true(ops->queue_fd(p, 1) < 0);
	ops->close(p);
	assert_false(dev_exists(name));
	ops->close(NULL);
}

static void test_open_mac_mtu(void **state)
{
	static const uint8_t want[6] = { 0x02, 0x11, 0x22, 0x33, 0x44, 0x55 };
	struct net_port_config c;
	struct net_port *p = NULL;
	char name[IFNAMSIZ];
	uint8_t mac[6];

	new_name(name, sizeof(name), "vif");
	cfg_init(&c, name, 1);
	memcpy(c.mac, want, 6);
	c.mtu = 9000;
	assert_int_equal(ops->open(&c, &p), 0);
	dev_mac(name, mac);
	assert_memory_equal(mac, want, 6);
	assert_int_equal(dev_mtu(name), 9000);
	ops->close(p);
	assert_false(dev_exists(name));

	/* An MTU the device refuses fails the open and leaves nothing. */
	c.mtu = 70000;
	p = NULL;
	assert_true(ops->open(&c, &p) < 0);
	assert_null(p);
	assert_false(dev_exists(name));
}

static void test_bad_config(void **state)
{
	static const char *bad[] = {
		"vif123456.12345",  /* 15: fits, checked below as good */
		"vif1234567.12345", /* 16 */
		"",
		"vif%d",
		"a/b",
		"a b",
	};
	struct net_port_config c;
	struct net_port *p = NULL;

	for (size_t i = 1; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cfg_init(&c, bad[i], 1);
		assert_int_equal(ops->open(&c, &p), -EINVAL);
		assert_null(p);
	}
	assert_false(dev_exists("vif1234567.1234"));
	cfg_init(&c, NULL, 1);
	assert_int_equal(ops->open(&c, &p), -EINVAL);

	cfg_init(&c, bad[0], 1);
	assert_int_equal(ops->open(&c, &p), 0);
	assert_true(dev_exists(bad[0]));
	ops->close(p);
	assert_false(dev_exists(bad[0]));

	p = NULL;
	cfg_init(&c, bad[0], 0);
	assert_int_equal(ops->open(&c, &p), -EINVAL);
	cfg_init(&c, bad[0], NET_PORT_MAX_QUEUES + 1);
	assert_int_equal(ops->open(&c, &p), -EINVAL);
	cfg_init(&c, bad[0], 1);
	c.args = "foo";
	assert_int_equal(ops->open(&c, &p), -EINVAL);
	assert_null(p);
	assert_false(dev_exists(bad[0]));
}

static void test_name_taken(void **state)
{
	struct net_port_config c;
	struct net_port *p = NULL, *p2 = NULL;
	char name[IFNAMSIZ], br[IFNAMSIZ];
	int idx;

	for (unsigned int nq = 1; nq <= 2; nq++) {
		new_name(name, sizeof(name), "vif");
		cfg_init(&c, name, nq);
		assert_int_equal(ops->open(&c, &p), 0);
		idx = dev_ifindex(name);
		/* Same flags as the holder: the kernel would attach us as
		 * one more queue of its device without IFF_TUN_EXCL. */
		assert_int_equal(ops->open(&c, &p2), -EEXIST);
		assert_null(p2);
		assert_int_equal(dev_ifindex(name), idx);
		assert_int_equal(ops->enable(p, nq, 0), 0);
		assert_true(dev_flags(name) & IFF_UP);
		ops->close(p);
		assert_false(dev_exists(name));
	}

	/* A device of another kind. */
	new_name(br, sizeof(br), "br");
	assert_int_equal(rtnl_link_bridge_add(nl, br), 0);
	cfg_init(&c, br, 1);
	assert_int_equal(ops->open(&c, &p2), -EEXIST);
	assert_null(p2);
	assert_true(dev_exists(br));
	struct rtnl_link *l = dev_link(br);
	assert_int_equal(rtnl_link_delete(nl, l), 0);
	rtnl_link_put(l);
}

static void test_bridge(void **state)
{
	struct net_port_config c;
	struct net_port *p = NULL;
	char name[IFNAMSIZ], br[IFNAMSIZ];
	struct rtnl_link *l;
	int bidx;

	new_name(br, sizeof(br), "br");
	assert_int_equal(rtnl_link_bridge_add(nl, br), 0);
	bidx = dev_ifindex(br);
	new_name(name, sizeof(name), "vif");
	cfg_init(&c, name, 1);
	c.bridge = br;
	c.mtu = 1400;
	assert_int_equal(ops->open(&c, &p), 0);
	l = dev_link(name);
	assert_int_equal(rtnl_link_get_master(l), bidx);
	rtnl_link_put(l);
	assert_int_equal(dev_mtu(name), 1400);
	assert_int_equal(ops->enable(p, 1, NET_OFF_CSUM), 0);
	ops->close(p);
	assert_false(dev_exists(name));
	assert_true(dev_exists(br));

	/* Unknown bridge, and a device that is not a bridge. */
	c.bridge = "nosuchbr0";
	p = NULL;
	assert_int_equal(ops->open(&c, &p), -ENODEV);
	assert_null(p);
	assert_false(dev_exists(name));
	c.bridge = "lo";
	assert_int_equal(ops->open(&c, &p), -EINVAL);
	assert_false(dev_exists(name));

	l = dev_link(br);
	assert_int_equal(rtnl_link_delete(nl, l), 0);
	rtnl_link_put(l);
}

static bool link_carrier(const char *name)
{
	struct rtnl_link *l = dev_link(name);
	bool c = rtnl_link_get_carrier(l);

	rtnl_link_put(l);
	return c;
}

static void test_enable_disable(void **state)
{
	struct net_port_config c;
	struct net_port *p = NULL;
	char name[IFNAMSIZ];

	new_name(name, sizeof(name), "vif");
	cfg_init(&c, name, 1);
	assert_int_equal(ops->open(&c, &p), 0);
	assert_int_equal(ops->enable(p, 2, 0), -EINVAL);
	assert_int_equal(ops->enable(p, 0, 0), -EINVAL);
	assert_int_equal(ops->enable(p, 1, 1u << 7), -EINVAL);
	assert_int_equal(dev_flags(name) & IFF_UP, 0);

	assert_int_equal(ops->enable(p, 1, NET_OFF_CSUM | NET_OFF_TSO4 |
				     NET_OFF_TSO6), 0);
	assert_true(dev_flags(name) & IFF_UP);
	assert_int_equal(ethtool_get(name, ETHTOOL_GTXCSUM), 1);
	assert_int_equal(ethtool_get(name, ETHTOOL_GTSO), 1);
	ops->disable(p);
	assert_int_equal(dev_flags(name) & IFF_UP, 0);

	/* TSO without CSUM is not a thing: neither is turned on. */
	assert_int_equal(ops->enable(p, 1, NET_OFF_TSO4), 0);
	assert_true(dev_flags(name) & IFF_UP);
	assert_int_equal(ethtool_get(name, ETHTOOL_GTXCSUM), 0);
	assert_int_equal(ethtool_get(name, ETHTOOL_GTSO), 0);

	assert_true(link_carrier(name));
	assert_int_equal(ops->set_carrier(p, false), 0);
	assert_false(link_carrier(name));
	assert_int_equal(ops->set_carrier(p, true), 0);
	assert_true(link_carrier(name));
	ops->disable(p);

	/* Bursts are not called while disabled; if one is, the kernel's
	 * refusal (EIO on a down tap) is counted and the frame taken, so a
	 * caller never retries forever. */
	struct net_port_stats st;
	build_udp(&frames[0], 1, dflt_mac, 1, 2, "x", 1, false);
	assert_int_equal(ops->tx_burst(p, 0, frames, 1), 1);
	ops->get_stats(p, 0, &st);
	assert_int_equal(st.tx_errors, 1);
	assert_int_equal(st.tx_dropped, 0);
	ops->close(p);
	assert_false(dev_exists(name));
}

/* ---- frames ----------------------------------------------------------- */

static unsigned int net_seq = 1;

struct rxudp_case {
	unsigned int offloads;
	bool want_partial;
};

static void rx_udp(unsigned int offloads, bool want_partial)
{
	struct net_port_config c;
	struct net_port *p = NULL;
	struct net_frame got[4];
	char name[IFNAMSIZ];
	unsigned int net = net_seq++;
	uint16_t sport;
	int s;

	new_name(name, sizeof(name), "vif");
	cfg_init(&c, name, 1);
	assert_int_equal(ops->open(&c, &p), 0);
	assert_int_equal(ops->enable(p, 1, offloads), 0);
	dev_addr(name, net);
	s = udp_socket(net, &sport);
	for (unsigned int i = 0; i < 3; i++) {
		char msg[64];

		snprintf(msg, sizeof(msg), "uback tap rx %u", i);
		udp_send_to_guest(s, net, (uint16_t)(7000 + i), msg,
				  strlen(msg));
	}
	assert_int_equal(rx_collect(p, 0, 3, 2000, is_ip_proto,
				    (void *)(uintptr_t)IPPROTO_UDP, got), 3);
	for (unsigned int i = 0; i < 3; i++) {
		const uint8_t *u = got[i].data + 34;
		char msg[64];

		snprintf(msg, sizeof(msg), "uback tap rx %u", i);
		assert_memory_equal(got[i].data, guest_mac, 6);
		assert_memory_equal(got[i].data + 6, dflt_mac, 6);
		assert_int_equal(get16(u), sport);
		assert_int_equal(get16(u + 2), 7000 + i);
		assert_int_equal(got[i].len, 34 + 8 + strlen(msg));
		assert_memory_equal(u + 8, msg, strlen(msg));
		assert_int_equal(got[i].vnet.gso_type,
				 VIRTIO_NET_HDR_GSO_NONE);
		assert_int_equal(!!(got[i].vnet.flags &
				    VIRTIO_NET_HDR_F_NEEDS_CSUM), want_partial);
		if (want_partial) {
			assert_int_equal(got[i].vnet.csum_start, 34);
			assert_int_equal(got[i].vnet.csum_offset, 6);
		} else {
			uint32_t ps = pseudo_sum(ip4(net, 1), ip4(net, 2),
						 IPPROTO_UDP,
						 got[i].len - 34);
			/* A full checksum sums to 0xffff. */
			assert_int_equal(csum_fold(csum_add(ps, u,
					 got[i].len - 34)), 0xffff);
		}
	}
	frames_free(got, 3);
	/* Nothing more: the burst says 0, not an error. */
	assert_int_equal(ops->rx_burst(p, 0, frames, NFRAMES), 0);
	close(s);
	ops->close(p);
}

static void test_rx_udp_plain(void **state)
{
	rx_udp(0, false);
}

static void test_rx_udp_csum(void **state)
{
	rx_udp(NET_OFF_CSUM, true);
}

static void test_tx_udp(void **state)
{
	struct net_port_config c;
	struct net_port *p = NULL;
	struct net_port_stats st;
	char name[IFNAMSIZ], buf[128];
	unsigned int net = net_seq++;
	uint16_t port;
	int s;

	new_name(name, sizeof(name), "vif");
	cfg_init(&c, name, 1);
	assert_int_equal(ops->open(&c, &p), 0);
	assert_int_equal(ops->enable(p, 1, NET_OFF_CSUM), 0);
	dev_addr(name, net);
	s = udp_socket(net, &port);
	uint64_t rx0 = dev_stat(name, RTNL_LINK_RX_PACKETS);

	build_udp(&frames[0], net, dflt_mac, 5555, port, "full csum", 9,
		  false);
	build_udp(&frames[1], net, dflt_mac, 5556, port, "partial csum", 12,
		  true);
	/* Refused by the kernel (unknown GSO type), and too short for
	 * Ethernet: both taken and counted, the burst goes on. */
	build_udp(&frames[2], net, dflt_mac, 5557, port, "bad gso", 7, false);
	frames[2].vnet.gso_type = 0x42;
	frames[2].vnet.gso_size = 100;
	build_udp(&frames[3], net, dflt_mac, 5558, port, "short", 5, false);
	frames[3].len = 10;
	build_udp(&frames[4], net, dflt_mac, 5559, port, "last", 4, true);
	assert_int_equal(ops->tx_burst(p, 0, frames, 5), 5);

	assert_int_equal(recv_timeout(s, buf, sizeof(buf), 2000), 9);
	assert_memory_equal(buf, "full csum", 9);
	assert_int_equal(recv_timeout(s, buf, sizeof(buf), 2000), 12);
	assert_memory_equal(buf, "partial csum", 12);
	assert_int_equal(recv_timeout(s, buf, sizeof(buf), 2000), 4);
	assert_memory_equal(buf, "last", 4);
	assert_int_equal(recv_timeout(s, buf, sizeof(buf), 100), -ETIMEDOUT);
	assert_int_equal(dev_stat(name, RTNL_LINK_RX_PACKETS) - rx0, 3);

	ops->get_stats(p, 0, &st);
	assert_int_equal(st.tx_dropped, 2);
	assert_int_equal(st.tx_errors, 0);
	assert_int_equal(st.rx_oversize, 0);

	/* A wrong full checksum: the kernel takes the frame, the socket
	 * never sees it. */
	build_udp(&frames[0], net, dflt_mac, 5560, port, "bad sum", 7, false);
	frames[0].data[34 + 6] ^= 0x55;
	assert_int_equal(ops->tx_burst(p, 0, frames, 1), 1);
	assert_int_equal(recv_timeout(s, buf, sizeof(buf), 200), -ETIMEDOUT);
	close(s);
	ops->close(p);
}

/* ---- TCP: the guest's 60 KiB GSO super-frame, the kernel's GSO ------- */

struct tcp_pred {
	uint16_t sport, dport;
	uint8_t flags;
};

static bool is_tcp_to(const struct net_frame *f, void *arg)
{
	const struct tcp_pred *tp = arg;

	if (!is_ip_proto(f, (void *)(uintptr_t)IPPROTO_TCP) || f->len < 54)
		return false;
	return get16(f->data + 34) == tp->sport &&
	       get16(f->data + 36) == tp->dport &&
	       (f->data[34 + 13] & tp->flags) == tp->flags;
}

static void test_tcp_gso(void **state)
{
	const size_t big = 60 * 1024;
	struct net_port_config c;
	struct net_port *p = NULL;
	struct net_port_stats st;
	struct net_frame got[NFRAMES];
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sin);
	char name[IFNAMSIZ];
	unsigned int net = net_seq++;
	uint16_t lport, gport = 40000;
	uint32_t gseq = 1000, kseq;
	uint8_t *rbuf;
	int ls, cs;

	new_name(name, sizeof(name), "vif");
	cfg_init(&c, name, 1);
	assert_int_equal(ops->open(&c, &p), 0);
	assert_int_equal(ops->enable(p, 1, NET_OFF_CSUM | NET_OFF_TSO4 |
				     NET_OFF_TSO6), 0);
	dev_addr(name, net);

	ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(ls >= 0);
	sin.sin_addr.s_addr = ip4(net, 1);
	assert_int_equal(bind(ls, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(ls, 1), 0);
	assert_int_equal(getsockname(ls, (struct sockaddr *)&sin, &sl), 0);
	lport = ntohs(sin.sin_port);

	/* Handshake from the guest side. */
	build_tcp(&frames[0], net, dflt_mac, gport, lport, gseq, 0, TCP_SYN,
		  0, 0, false);
	assert_int_equal(ops->tx_burst(p, 0, frames, 1), 1);
	struct tcp_pred synack = { lport, gport, TCP_SYN | TCP_ACK };
	assert_int_equal(rx_collect(p, 0, 1, 2000, is_tcp_to, &synack, got),
			 1);
	assert_int_equal(get32(got[0].data + 34 + 8), gseq + 1);
	kseq = get32(got[0].data + 34 + 4) + 1;
	/* Linux offers 44 * 1460 = 64240 here: room for the super-frame. */
	assert_true(get16(got[0].data + 34 + 14) >= big);
	frames_free(got, 1);
	gseq++;
	build_tcp(&frames[0], net, dflt_mac, gport, lport, gseq, kseq,
		  TCP_ACK, 0, 0, false);
	assert_int_equal(ops->tx_burst(p, 0, frames, 1), 1);
	cs = accept(ls, NULL, NULL);
	assert_true(cs >= 0);

	/* One 60 KiB TCPv4 GSO frame, checksum left to the kernel. */
	build_tcp(&frames[0], net, dflt_mac, gport, lport, gseq, kseq,
		  TCP_ACK | TCP_PSH, big, 0, true);
	frames[0].vnet.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	frames[0].vnet.gso_size = 1448;
	frames[0].vnet.hdr_len = 54;
	assert_int_equal(frames[0].len, 54 + big);
	uint64_t rxb0 = dev_stat(name, RTNL_LINK_RX_BYTES);
	assert_int_equal(ops->tx_burst(p, 0, frames, 1), 1);
	ops->get_stats(p, 0, &st);
	assert_int_equal(st.tx_dropped + st.tx_errors, 0);

	rbuf = malloc(big);
	assert_non_null(rbuf);
	size_t have = 0;
	while (have < big) {
		ssize_t r = recv_timeout(cs, rbuf + have, big - have, 2000);

		assert_true(r > 0);
		have += (size_t)r;
	}
	for (size_t i = 0; i < big; i++)
		if (rbuf[i] != (uint8_t)(i * 7 + 3))
			fail_msg("byte %zu of the GSO frame differs", i);
	/* The device took it as one frame of its full size. */
	assert_true(dev_stat(name, RTNL_LINK_RX_BYTES) - rxb0 >= 54 + big);
	gseq += (uint32_t)big;

	/* The kernel's direction: its data to the guest comes as GSO
	 * super-frames (TSO4 on), which we never ACK, so only the first
	 * flight: more than one MSS in a frame is what we look for. */
	memset(rbuf, 0x5a, big);
	assert_true(send(cs, rbuf, big, MSG_DONTWAIT) > 0);
	struct tcp_pred data = { lport, gport, TCP_ACK };
	unsigned int n = rx_collect(p, 0, NFRAMES, 500, is_tcp_to, &data, got);
	bool saw_gso = false;
	for (unsigned int i = 0; i < n; i++) {
		if (got[i].vnet.gso_type != VIRTIO_NET_HDR_GSO_TCPV4)
			continue;
		saw_gso = true;
		assert_true(got[i].len > 1514);
		assert_true(got[i].vnet.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM);
		assert_int_equal(got[i].vnet.csum_start, 34);
		assert_int_equal(got[i].vnet.csum_offset, 16);
		assert_int_equal(got[i].vnet.gso_size, 1460);
		assert_int_equal(got[i].vnet.hdr_len > 0 ?
				 got[i].vnet.hdr_len : 54, 54);
	}
	assert_true(saw_gso);
	frames_free(got, n);
	ops->get_stats(p, 0, &st);
	assert_int_equal(st.rx_errors + st.rx_oversize, 0);

	free(rbuf);
	close(cs);
	close(ls);
	ops->close(p);
}

/* Offloads off: the same kernel data arrives segmented and checksummed. */
static void test_tcp_no_offload(void **state)
{
	struct net_port_config c;
	struct net_port *p = NULL;
	struct net_frame got[NFRAMES];
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sin);
	char name[IFNAMSIZ];
	unsigned int net = net_seq++;
	uint16_t lport, gport = 40001;
	uint32_t kseq;
	static uint8_t sbuf[8192];
	int ls, cs;

	new_name(name, sizeof(name), "vif");
	cfg_init(&c, name, 1);
	assert_int_equal(ops->open(&c, &p), 0);
	assert_int_equal(ops->enable(p, 1, 0), 0);
	dev_addr(name, net);
	ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	sin.sin_addr.s_addr = ip4(net, 1);
	assert_int_equal(bind(ls, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(ls, 1), 0);
	assert_int_equal(getsockname(ls, (struct sockaddr *)&sin, &sl), 0);
	lport = ntohs(sin.sin_port);

	build_tcp(&frames[0], net, dflt_mac, gport, lport, 5000, 0, TCP_SYN,
		  0, 0, false);
	assert_int_equal(ops->tx_burst(p, 0, frames, 1), 1);
	struct tcp_pred synack = { lport, gport, TCP_SYN | TCP_ACK };
	assert_int_equal(rx_collect(p, 0, 1, 2000, is_tcp_to, &synack, got),
			 1);
	kseq = get32(got[0].data + 34 + 4) + 1;
	frames_free(got, 1);
	build_tcp(&frames[0], net, dflt_mac, gport, lport, 5001, kseq,
		  TCP_ACK, 0, 0, false);
	assert_int_equal(ops->tx_burst(p, 0, frames, 1), 1);
	cs = accept(ls, NULL, NULL);
	assert_true(cs >= 0);

	assert_int_equal(send(cs, sbuf, sizeof(sbuf), MSG_DONTWAIT),
			 (ssize_t)sizeof(sbuf));
	struct tcp_pred data = { lport, gport, TCP_ACK };
	unsigned int n = rx_collect(p, 0, NFRAMES, 500, is_tcp_to, &data, got);
	uint32_t end = kseq;
	/* 8 KiB in 1460-byte segments, perhaps some retransmitted (we
	 * never ACK): count up to the highest sequence seen. */
	assert_true(n >= 6);
	for (unsigned int i = 0; i < n; i++) {
		uint32_t ps = pseudo_sum(ip4(net, 1), ip4(net, 2),
					 IPPROTO_TCP, got[i].len - 34);

		assert_int_equal(got[i].vnet.gso_type,
				 VIRTIO_NET_HDR_GSO_NONE);
		assert_false(got[i].vnet.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM);
		assert_true(got[i].len <= 1514);
		assert_int_equal(csum_fold(csum_add(ps, got[i].data + 34,
				 got[i].len - 34)), 0xffff);
		uint32_t e = get32(got[i].data + 34 + 4) + got[i].len - 54;
		if ((int32_t)(e - end) > 0)
			end = e;
	}
	assert_int_equal(end - kseq, sizeof(sbuf));
	frames_free(got, n);
	close(cs);
	close(ls);
	ops->close(p);
}

/* ---- multi-queue ------------------------------------------------------ */

static void test_multiqueue(void **state)
{
	struct net_port_config c;
	struct net_port *p = NULL;
	struct net_frame got[NFRAMES];
	char name[IFNAMSIZ], buf[64];
	unsigned int net = net_seq++, n0, n1;
	uint16_t port;
	int s, socks[32];

	new_name(name, sizeof(name), "vif");
	cfg_init(&c, name, 2);
	assert_int_equal(ops->open(&c, &p), 0);
	assert_true(ops->queue_fd(p, 0) >= 0);
	assert_true(ops->queue_fd(p, 1) >= 0);
	assert_int_not_equal(ops->queue_fd(p, 0), ops->queue_fd(p, 1));
	assert_int_equal(ops->enable(p, 2, NET_OFF_CSUM), 0);
	dev_addr(name, net);

	/* 32 flows: the kernel spreads them by hash over both queues. */
	for (unsigned int i = 0; i < 32; i++) {
		uint16_t sp;

		socks[i] = udp_socket(net, &sp);
		udp_send_to_guest(socks[i], net, 9000, "mq", 2);
	}
	n0 = rx_collect(p, 0, 32, 300, is_ip_proto,
			(void *)(uintptr_t)IPPROTO_UDP, got);
	frames_free(got, n0);
	n1 = rx_collect(p, 1, 32, 300, is_ip_proto,
			(void *)(uintptr_t)IPPROTO_UDP, got);
	frames_free(got, n1);
	assert_int_equal(n0 + n1, 32);
	assert_true(n0 > 0);
	assert_true(n1 > 0);

	/* Both queues write into the kernel. */
	s = udp_socket(net, &port);
	build_udp(&frames[0], net, dflt_mac, 6000, port, "q0", 2, true);
	assert_int_equal(ops->tx_burst(p, 0, frames, 1), 1);
	build_udp(&frames[0], net, dflt_mac, 6001, port, "q1", 2, true);
	assert_int_equal(ops->tx_burst(p, 1, frames, 1), 1);
	assert_int_equal(recv_timeout(s, buf, sizeof(buf), 2000), 2);
	assert_memory_equal(buf, "q0", 2);
	assert_int_equal(recv_timeout(s, buf, sizeof(buf), 2000), 2);
	assert_memory_equal(buf, "q1", 2);

	/* Reconnect with one queue: queue 1 is detached, all on queue 0. */
	ops->disable(p);
	assert_int_equal(ops->enable(p, 1, NET_OFF_CSUM), 0);
	dev_neigh(name, net);
	assert_int_equal(ops->rx_burst(p, 1, frames, 1), -EINVAL);
	assert_int_equal(ops->tx_burst(p, 1, frames, 1), -EINVAL);
	for (unsigned int i = 0; i < 32; i++)
		udp_send_to_guest(socks[i], net, 9001, "mq1", 3);
	n0 = rx_collect(p, 0, 32, 1000, is_ip_proto,
			(void *)(uintptr_t)IPPROTO_UDP, got);
	frames_free(got, n0);
	assert_int_equal(n0, 32);

	/* And back to two. */
	ops->disable(p);
	assert_int_equal(ops->enable(p, 2, NET_OFF_CSUM), 0);
	dev_neigh(name, net);
	for (unsigned int i = 0; i < 32; i++)
		udp_send_to_guest(socks[i], net, 9002, "mq2", 3);
	n0 = rx_collect(p, 0, 32, 300, is_ip_proto,
			(void *)(uintptr_t)IPPROTO_UDP, got);
	frames_free(got, n0);
	n1 = rx_collect(p, 1, 32, 300, is_ip_proto,
			(void *)(uintptr_t)IPPROTO_UDP, got);
	frames_free(got, n1);
	assert_int_equal(n0 + n1, 32);
	assert_true(n1 > 0);

	for (unsigned int i = 0; i < 32; i++)
		close(socks[i]);
	close(s);
	ops->close(p);
	assert_false(dev_exists(name));
}

/* ---- disable drops what was queued ------------------------------------- */

static void test_disable_drains(void **state)
{
	struct net_port_config c;
	struct net_port *p = NULL;
	struct net_frame got[4];
	char name[IFNAMSIZ];
	unsigned int net = net_seq++;
	uint16_t port;
	int s;

	new_name(name, sizeof(name), "vif");
	cfg_init(&c, name, 1);
	assert_int_equal(ops->open(&c, &p), 0);
	assert_int_equal(ops->enable(p, 1, 0), 0);
	dev_addr(name, net);
	s = udp_socket(net, &port);
	for (unsigned int i = 0; i < 3; i++)
		udp_send_to_guest(s, net, 7100, "old", 3);
	struct pollfd pfd = { .fd = ops->queue_fd(p, 0), .events = POLLIN };
	assert_int_equal(poll(&pfd, 1, 2000), 1);

	ops->disable(p);
	assert_int_equal(ops->enable(p, 1, 0), 0);
	dev_neigh(name, net);
	assert_int_equal(rx_collect(p, 0, 1, 200, is_ip_proto,
				    (void *)(uintptr_t)IPPROTO_UDP, got), 0);
	udp_send_to_guest(s, net, 7101, "new", 3);
	assert_int_equal(rx_collect(p, 0, 1, 2000, is_ip_proto,
				    (void *)(uintptr_t)IPPROTO_UDP, got), 1);
	assert_int_equal(get16(got[0].data + 36), 7101);
	frames_free(got, 1);
	close(s);
	ops->close(p);
}

/* ---- a guest GSO frame through a bridge to two other ports ------------ */

static void dev_set_up(const char *name)
{
	struct ifreq ifr;

	ifreq_name(&ifr, name);
	assert_int_equal(ioctl(ctl_fd, SIOCGIFFLAGS, &ifr), 0);
	ifr.ifr_flags |= IFF_UP;
	assert_int_equal(ioctl(ctl_fd, SIOCSIFFLAGS, &ifr), 0);
}

static int seq_cmp(const void *a, const void *b)
{
	const struct net_frame *fa = a, *fb = b;
	int32_t d = (int32_t)(get32(fa->data + 38) - get32(fb->data + 38));

	return d < 0 ? -1 : d > 0;
}

/*
 * Port A sends one 60 KiB TCPv4 GSO frame to an unknown MAC; the bridge
 * floods it: port B (TSO on) reads it whole as a GSO frame, port C
 * (offloads off) reads the kernel's own segmentation, each segment with a
 * full checksum, together exactly the data.
 */
static void test_bridge_gso_forward(void **state)
{
	static const uint8_t unknown[6] = { 0x02, 0, 0, 0, 0, 0x0b };
	const size_t big = 60 * 1024;
	const unsigned int all = NET_OFF_CSUM | NET_OFF_TSO4 | NET_OFF_TSO6;
	struct net_port_config c;
	struct net_port *pa = NULL, *pb = NULL, *pc = NULL;
	struct net_frame got[NFRAMES];
	char br[IFNAMSIZ], na[IFNAMSIZ], nb[IFNAMSIZ], nc[IFNAMSIZ];
	unsigned int net = net_seq++, n;
	uint32_t seq = 77777;
	struct rtnl_link *l;

	new_name(br, sizeof(br), "br");
	assert_int_equal(rtnl_link_bridge_add(nl, br), 0);
	dev_set_up(br);
	new_name(na, sizeof(na), "vif");
	new_name(nb, sizeof(nb), "vif");
	new_name(nc, sizeof(nc), "vif");
	cfg_init(&c, na, 1);
	c.bridge = br;
	assert_int_equal(ops->open(&c, &pa), 0);
	c.ifname = nb;
	assert_int_equal(ops->open(&c, &pb), 0);
	c.ifname = nc;
	assert_int_equal(ops->open(&c, &pc), 0);
	assert_int_equal(ops->enable(pa, 1, all), 0);
	assert_int_equal(ops->enable(pb, 1, all), 0);
	assert_int_equal(ops->enable(pc, 1, 0), 0);

	build_tcp(&frames[0], net, unknown, 40002, 80, seq, 1, TCP_ACK, big,
		  0, true);
	frames[0].vnet.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	frames[0].vnet.gso_size = 1448;
	frames[0].vnet.hdr_len = 54;
	assert_int_equal(ops->tx_burst(pa, 0, frames, 1), 1);

	struct tcp_pred tp = { 40002, 80, TCP_ACK };
	assert_int_equal(rx_collect(pb, 0, 1, 2000, is_tcp_to, &tp, got), 1);
	assert_int_equal(got[0].len, 54 + big);
	assert_int_equal(got[0].vnet.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
	assert_int_equal(got[0].vnet.gso_size, 1448);
	assert_true(got[0].vnet.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM);
	assert_memory_equal(got[0].data, frames[0].data, 34);
	assert_memory_equal(got[0].data + 54, frames[0].data + 54, big);
	frames_free(got, 1);

	n = rx_collect(pc, 0, NFRAMES, 1000, is_tcp_to, &tp, got);
	assert_int_equal(n, (big + 1447) / 1448);
	qsort(got, n, sizeof(got[0]), seq_cmp);
	size_t off = 0;
	for (unsigned int i = 0; i < n; i++) {
		const uint8_t *ip = got[i].data + ETH_HLEN;
		size_t pl = got[i].len - 54;
		uint32_t ps = pseudo_sum(ip4(net, 2), ip4(net, 1),
					 IPPROTO_TCP, got[i].len - 34);

		assert_int_equal(got[i].vnet.gso_type,
				 VIRTIO_NET_HDR_GSO_NONE);
		assert_false(got[i].vnet.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM);
		assert_true(pl <= 1448);
		assert_int_equal(get16(ip + 2), got[i].len - ETH_HLEN);
		assert_int_equal(csum_fold(csum_add(0, ip, 20)), 0xffff);
		assert_int_equal(csum_fold(csum_add(ps, got[i].data + 34,
				 got[i].len - 34)), 0xffff);
		assert_int_equal(get32(got[i].data + 38), seq + off);
		assert_memory_equal(got[i].data + 54, frames[0].data + 54 + off,
				    pl);
		off += pl;
	}
	assert_int_equal(off, big);
	frames_free(got, n);

	ops->close(pa);
	ops->close(pb);
	ops->close(pc);
	l = dev_link(br);
	assert_int_equal(rtnl_link_delete(nl, l), 0);
	rtnl_link_put(l);
}

/* ---- oversize ---------------------------------------------------------- */

static bool is_experimental(const struct net_frame *f, void *arg)
{
	return f->len >= 14 && get16(f->data + 12) == 0x88b5;
}

static void test_rx_oversize(void **state)
{
	struct net_port_config c;
	struct net_port *p = NULL;
	struct net_port_stats st;
	struct net_frame got[2];
	struct sockaddr_ll sll = { .sll_family = AF_PACKET };
	char name[IFNAMSIZ];
	/* The tap's largest MTU is 65535 - 14; a VLAN tag is the 4 bytes
	 * AF_PACKET allows beyond it: 65539 > NET_FRAME_MAX. */
	const size_t big = 65535 + 4;
	uint8_t *b;
	int ps;

	new_name(name, sizeof(name), "vif");
	cfg_init(&c, name, 1);
	c.mtu = 65535 - ETH_HLEN;
	assert_int_equal(ops->open(&c, &p), 0);
	assert_int_equal(ops->enable(p, 1, NET_OFF_CSUM), 0);

	ps = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	assert_true(ps >= 0);
	sll.sll_ifindex = dev_ifindex(name);
	sll.sll_protocol = htons(ETH_P_ALL);
	assert_int_equal(bind(ps, (struct sockaddr *)&sll, sizeof(sll)), 0);
	b = calloc(1, big);
	assert_non_null(b);
	memcpy(b, guest_mac, 6);
	memcpy(b + 6, dflt_mac, 6);
	put16(b + 12, ETH_P_8021Q);
	put16(b + 14, 5);
	put16(b + 16, 0x88b5);
	assert_int_equal(send(ps, b, big, 0), (ssize_t)big);
	/* A frame of exactly NET_FRAME_MAX passes. */
	put16(b + 12, 0x88b5);
	assert_int_equal(send(ps, b, NET_FRAME_MAX, 0), NET_FRAME_MAX);
	memset(b + 14, 0xab, 50);
	assert_int_equal(send(ps, b, 64, 0), 64);

	assert_int_equal(rx_collect(p, 0, 2, 2000, is_experimental, NULL,
				    got), 2);
	assert_int_equal(got[0].len, NET_FRAME_MAX);
	assert_int_equal(got[1].len, 64);
	assert_int_equal(got[1].data[20], 0xab);
	frames_free(got, 2);
	ops->get_stats(p, 0, &st);
	assert_int_equal(st.rx_oversize, 1);
	assert_int_equal(st.rx_errors, 0);
	free(b);
	close(ps);
	ops->close(p);
}

/* ---- setup ------------------------------------------------------------ */

static int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t r;

	if (fd < 0)
		return -errno;
	r = write(fd, s, strlen(s));
	close(fd);
	return r < 0 ? -errno : 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_defaults),
		cmocka_unit_test(test_open_mac_mtu),
		cmocka_unit_test(test_bad_config),
		cmocka_unit_test(test_name_taken),
		cmocka_unit_test(test_bridge),
		cmocka_unit_test(test_enable_disable),
		cmocka_unit_test(test_rx_udp_plain),
		cmocka_unit_test(test_rx_udp_csum),
		cmocka_unit_test(test_tx_udp),
		cmocka_unit_test(test_tcp_gso),
		cmocka_unit_test(test_tcp_no_offload),
		cmocka_unit_test(test_multiqueue),
		cmocka_unit_test(test_disable_drains),
		cmocka_unit_test(test_bridge_gso_forward),
		cmocka_unit_test(test_rx_oversize),
	};
	struct ifreq ifr;

	if (geteuid() != 0) {
		fprintf(stderr, "skip: needs root (tap devices, netns)\n");
		return 77;
	}
	if (access("/dev/net/tun", R_OK | W_OK) != 0) {
		fprintf(stderr, "skip: no /dev/net/tun\n");
		return 77;
	}
	/* Our own network namespace: everything the tests create dies with
	 * the process, whatever path it takes out. */
	if (unshare(CLONE_NEWNET) != 0) {
		fprintf(stderr, "skip: unshare(CLONE_NEWNET): %s\n",
			strerror(errno));
		return 77;
	}
	/* No IPv6 autoconfiguration chatter on the taps. */
	write_file("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
	write_file("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");

	ctl_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (ctl_fd < 0) {
		perror("socket");
		return 1;
	}
	ifreq_name(&ifr, "lo");
	if (ioctl(ctl_fd, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP;
		ioctl(ctl_fd, SIOCSIFFLAGS, &ifr);
	}
	nl = nl_socket_alloc();
	if (!nl || nl_connect(nl, NETLINK_ROUTE) < 0) {
		fprintf(stderr, "netlink socket failed\n");
		return 1;
	}
	for (unsigned int i = 0; i < NFRAMES; i++) {
		bufs[i] = malloc(NET_FRAME_MAX);
		if (!bufs[i])
			return 1;
		frames[i].data = bufs[i];
		rxbufs[i] = malloc(NET_FRAME_MAX);
		if (!rxbufs[i])
			return 1;
		rxframes[i].data = rxbufs[i];
	}
	int rc = cmocka_run_group_tests(tests, NULL, NULL);

	for (unsigned int i = 0; i < NFRAMES; i++) {
		free(bufs[i]);
		free(rxbufs[i]);
	}
	nl_socket_free(nl);
	close(ctl_fd);
	return rc;
}
