/* SPDX-License-Identifier: MIT */
/*
 * The tap port: one /dev/net/tun fd per queue, frames carried with a
 * virtio-net header (see port.h for the contract). Choices made here:
 *
 * - The header is exactly struct virtio_net_hdr (TUNSETVNETHDRSZ 10).
 * - The device is created with IFF_TUN_EXCL: a taken name is -EEXIST,
 *   never a silent attach as one more queue of someone else's tap. It is
 *   not persistent, so it disappears with our fds (also if we crash).
 * - Offloads: TUN_F_CSUM, TSO4/TSO6 only with it; never TSO_ECN or USO,
 *   which the netif protocol cannot carry: the kernel segments those.
 *   TUN_F_CSUM covers IPv6 too (the core completes checksums for a guest
 *   without IPv6 checksum offload).
 * - disable() discards frames queued for the guest before it.
 * - tx: a frame the kernel refuses (EINVAL) counts as tx_dropped, other
 *   write errors (EIO on a down link) as tx_errors; both are taken.
 * - Privileges: open needs CAP_NET_ADMIN (device, link flags, bridge);
 *   so do enable/disable/close unless carrier_only: then the link is
 *   brought up at open and only the carrier changes later. The bursts,
 *   TUNSETOFFLOAD, TUNSETQUEUE and TUNSETCARRIER work on the open fds
 *   without it (no owner or group is set on the device), and closing
 *   the last fd deletes the non-persistent device, bridge port and all.
 * - persist (uback-net --state-dir): the device is made persistent
 *   (TUNSETPERSIST) at open, so that it outlives a crashed or detached
 *   process with its bridge membership, MTU and addresses. A successor
 *   whose exclusive create finds the name taken attaches without
 *   IFF_TUN_EXCL and keeps the device only if TUNGETIFF says it is
 *   persistent (a live tap of someone else is refused: a single-queue
 *   one cannot be attached at all, a multi-queue one is left at once);
 *   it then changes nothing else on it. sysfs is not asked: it shows
 *   the netns that mounted it, not ours. close() clears
 *   the flag (TUNSETPERSIST 0 needs no capability on an attached fd; the
 *   sandbox allows that value only), so the last fd still deletes it.
 */
#include "port.h"
#include "nl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <linux/if.h>
#include <linux/if_ether.h>
#include <linux/if_tun.h>

#include <uback/log.h>

/* The header size the tap reads and writes in front of every frame: the
 * struct in net_frame, nothing more (no num_buffers: we never merge). */
#define TAP_VNET_HDR_SZ ((int)sizeof(struct virtio_net_hdr))

/* Oversize frames read and dropped per rx_burst beyond the @n asked for,
 * so that a flood of them cannot keep a queue thread in one burst. */
#define TAP_RX_DROP_BUDGET 64u

static const uint8_t tap_default_mac[6] = { 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff };

/* Counters have one writer (the queue's thread) and relaxed readers. */
struct tap_queue {
	int fd;
	bool attached;
	uint64_t rx_oversize;
	uint64_t rx_errors;
	uint64_t tx_dropped;
	uint64_t tx_errors;
	/* Where the kernel writes the tail of a frame over NET_FRAME_MAX. */
	uint8_t spill[64];
} __attribute__((aligned(64)));

struct net_port {
	char ifname[IFNAMSIZ];
	int ifindex;
	unsigned int nr_queues;     /* fds opened */
	unsigned int nr_active;     /* queues attached by enable() */
	bool multi_queue;
	bool enabled;
	bool carrier_only;
	bool persist;               /* TUNSETPERSIST set: clear at close */
	bool adopted;               /* a predecessor's persistent device */
	int bridge_ifindex;         /* 0: not on a bridge */
	struct nl_sock *nl;
	struct tap_queue q[NET_PORT_MAX_QUEUES];
};

static inline void stat_inc(uint64_t *c)
{
	__atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + 1,
			 __ATOMIC_RELAXED);
}

static int tap_check_name(const char *name)
{
	size_t len;

	if (!name)
		return -EINVAL;
	len = strlen(name);
	if (len == 0 || len >= IFNAMSIZ)
		return -EINVAL;
	/* '%' would make the kernel pick a name from a pattern; the others
	 * are refused by the kernel anyway, with a less clear error. */
	if (strpbrk(name, "%/: \t\n") || !strcmp(name, ".") ||
	    !strcmp(name, ".."))
		return -EINVAL;
	return 0;
}

/* Open one queue fd of the tap @name. @first creates the device and must
 * not find an existing one (IFF_TUN_EXCL), later queues attach to it. */
static int tap_open_queue(const char *name, bool multi_queue, bool first,
			  int *out)
{
	struct ifreq ifr;
	int fd, sz = TAP_VNET_HDR_SZ, err;

	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, name, strlen(name));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (multi_queue)
		ifr.ifr_flags |= IFF_MULTI_QUEUE;
	if (first)
		ifr.ifr_flags |= IFF_TUN_EXCL;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		err = -errno;
		goto close_fd;
	}
	if (ioctl(fd, TUNSETVNETHDRSZ, &sz) < 0) {
		err = -errno;
		goto close_fd;
	}
	*out = fd;
	return 0;

close_fd:
	close(fd);
	return err;
}

/* A tun fd answers only tun ioctls: ask through a socket. */
static int tap_ifindex(const char *name, int *out)
{
	struct ifreq ifr;
	int s, err = 0;

	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, name, strlen(name));
	if (ioctl(s, SIOCGIFINDEX, &ifr) < 0)
		err = -errno;
	else
		*out = ifr.ifr_ifindex;
	close(s);
	return err;
}

static int tap_set_carrier(struct net_port *p, bool up);

/* @fd is attached to a persistent tap (a predecessor's). */
static bool tap_fd_persistent(int fd)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	if (ioctl(fd, TUNGETIFF, &ifr) < 0)
		return false;
	return (ifr.ifr_flags & IFF_PERSIST) && (ifr.ifr_flags & IFF_TAP);
}

static void tap_unpersist(struct net_port *p)
{
	if (!p->persist || p->q[0].fd < 0)
		return;
	if (ioctl(p->q[0].fd, TUNSETPERSIST, 0) < 0)
		xb_warn("tap %s: clearing persist: %s", p->ifname,
			strerror(errno));
	p->persist = false;
}

static void tap_close_fds(struct net_port *p)
{
	for (unsigned int i = 0; i < p->nr_queues; i++) {
		if (p->q[i].fd >= 0)
			close(p->q[i].fd);
		p->q[i].fd = -1;
	}
}

static int tap_open(const struct net_port_config *cfg, struct net_port **out)
{
	static const uint8_t zero_mac[6];
	struct net_port *p;
	const uint8_t *mac;
	int err;

	err = tap_check_name(cfg->ifname);
	if (err) {
		xb_err("tap: bad interface name '%s' (1 to %d characters, "
		       "no '%%', '/', ':' or spaces)",
		       cfg->ifname ? cfg->ifname : "(null)", IFNAMSIZ - 1);
		return err;
	}
	if (cfg->nr_queues < 1 || cfg->nr_queues > NET_PORT_MAX_QUEUES) {
		xb_err("tap %s: %u queues (1 to %u)", cfg->ifname,
		       cfg->nr_queues, NET_PORT_MAX_QUEUES);
		return -EINVAL;
	}
	if (cfg->args && cfg->args[0]) {
		xb_err("tap %s: the tap port takes no arguments ('%s')",
		       cfg->ifname, cfg->args);
		return -EINVAL;
	}

	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	strcpy(p->ifname, cfg->ifname);
	p->carrier_only = cfg->carrier_only;
	p->multi_queue = cfg->nr_queues > 1;
	for (unsigned int i = 0; i < NET_PORT_MAX_QUEUES; i++)
		p->q[i].fd = -1;

	for (unsigned int i = 0; i < cfg->nr_queues; i++) {
		err = tap_open_queue(p->ifname, p->multi_queue,
				     i == 0 && !p->adopted, &p->q[i].fd);
		if (i == 0 && err == -EBUSY && cfg->persist) {
			err = tap_open_queue(p->ifname, p->multi_queue, false,
					     &p->q[0].fd);
			if (!err && !tap_fd_persistent(p->q[0].fd)) {
				close(p->q[0].fd);
				p->q[0].fd = -1;
				err = -EBUSY;
			}
			p->adopted = !err;
		}
		if (err) {
			if (i == 0 && err == -EBUSY) {
				err = -EEXIST;
				xb_err("tap %s: a network device of that name "
				       "already exists", p->ifname);
			} else {
				xb_err("tap %s: opening queue %u: %s",
				       p->ifname, i, strerror(-err));
			}
			goto close_fds;
		}
		p->q[i].attached = true;
		p->nr_queues = i + 1;
	}
	p->nr_active = p->nr_queues;
	if (cfg->persist && !p->adopted) {
		if (ioctl(p->q[0].fd, TUNSETPERSIST, 1) < 0) {
			err = -errno;
			xb_err("tap %s: TUNSETPERSIST: %s", p->ifname,
			       strerror(-err));
			goto close_fds;
		}
	}
	p->persist = cfg->persist;

	err = tap_ifindex(p->ifname, &p->ifindex);
	if (err) {
		xb_err("tap %s: no ifindex: %s", p->ifname, strerror(-err));
		goto close_fds;
	}
	err = net_nl_open(&p->nl);
	if (err) {
		xb_err("tap %s: netlink socket: %s", p->ifname, strerror(-err));
		goto close_fds;
	}
	if (p->adopted) {
		/* As the host side configured it: bridge, MTU, addresses. */
		xb_info("tap %s: attached to the persistent device left by "
			"the previous process", p->ifname);
		*out = p;
		return 0;
	}
	mac = memcmp(cfg->mac, zero_mac, 6) ? cfg->mac : tap_default_mac;
	err = net_nl_link_set_addr_mtu(p->nl, p->ifindex, mac, cfg->mtu);
	if (err) {
		xb_err("tap %s: setting MAC %02x:%02x:%02x:%02x:%02x:%02x "
		       "and MTU %u: %s", p->ifname, mac[0], mac[1], mac[2],
		       mac[3], mac[4], mac[5], cfg->mtu, strerror(-err));
		goto close_nl;
	}
	if (cfg->bridge) {
		err = net_nl_bridge_join(p->nl, p->ifindex, cfg->bridge,
					 &p->bridge_ifindex);
		if (err) {
			xb_err("tap %s: joining bridge %s: %s", p->ifname,
			       cfg->bridge,
			       err == -EINVAL ? "not a bridge" : strerror(-err));
			goto close_nl;
		}
	}
	if (p->carrier_only) {
		/* No carrier until a frontend connects: the host side sees
		 * an up link with no carrier, as a vif of xen-netback. */
		err = tap_set_carrier(p, false);
		if (!err)
			err = net_nl_link_set_up(p->nl, p->ifindex, true);
		if (err) {
			xb_err("tap %s: link up: %s", p->ifname, strerror(-err));
			goto close_nl;
		}
	}
	*out = p;
	return 0;

close_nl:
	net_nl_close(p->nl);
close_fds:
	/* The device goes with its last fd: nothing else to undo (a
	 * predecessor's device is left as it was found). */
	if (!p->adopted)
		tap_unpersist(p);
	tap_close_fds(p);
	free(p);
	return err;
}

static void tap_close(struct net_port *p)
{
	int err;

	if (!p)
		return;
	if (p->bridge_ifindex && !p->carrier_only) {
		/* Closing would remove it from the bridge too; leaving first
		 * keeps the bridge's view consistent if the close is slow. */
		err = net_nl_bridge_leave(p->nl, p->ifindex);
		if (err)
			xb_warn("tap %s: leaving bridge: %s", p->ifname,
				strerror(-err));
	}
	net_nl_close(p->nl);
	tap_unpersist(p);
	tap_close_fds(p);
	free(p);
}

static void tap_detach(struct net_port *p)
{
	if (!p)
		return;
	if (!p->persist) {
		tap_close(p);
		return;
	}
	net_nl_close(p->nl);
	tap_close_fds(p);
	free(p);
}

static int tap_set_queue(struct net_port *p, unsigned int q, bool attach)
{
	struct ifreq ifr;

	if (p->q[q].attached == attach)
		return 0;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = attach ? IFF_ATTACH_QUEUE : IFF_DETACH_QUEUE;
	if (ioctl(p->q[q].fd, TUNSETQUEUE, &ifr) < 0)
		return -errno;
	p->q[q].attached = attach;
	return 0;
}

/* Discard what the kernel queued for the guest: frames from before a
 * disable must not reach the next connection. Bounded by the tap's queue
 * length (txqueuelen, 1000 by default) with room to spare. */
static void tap_drain(struct net_port *p)
{
	static uint8_t sink[128];
	struct iovec iov = { .iov_base = sink, .iov_len = sizeof(sink) };

	for (unsigned int q = 0; q < p->nr_queues; q++) {
		for (unsigned int i = 0; i < 4096; i++)
			if (readv(p->q[q].fd, &iov, 1) < 0)
				break;
	}
}

static int tap_enable(struct net_port *p, unsigned int nr_queues,
		      unsigned int offloads)
{
	unsigned int off = 0;
	int err;

	if (nr_queues < 1 || nr_queues > p->nr_queues) {
		xb_err("tap %s: enable with %u queues (opened %u)", p->ifname,
		       nr_queues, p->nr_queues);
		return -EINVAL;
	}
	if (offloads & ~(NET_OFF_CSUM | NET_OFF_TSO4 | NET_OFF_TSO6)) {
		xb_err("tap %s: unknown offload bits %#x", p->ifname, offloads);
		return -EINVAL;
	}
	/* GSO needs partial checksums; no TSO_ECN: the netif protocol has no
	 * ECN GSO type, so the kernel segments CWR super-frames itself. */
	if (offloads & NET_OFF_CSUM) {
		off |= TUN_F_CSUM;
		if (offloads & NET_OFF_TSO4)
			off |= TUN_F_TSO4;
		if (offloads & NET_OFF_TSO6)
			off |= TUN_F_TSO6;
	}
	if (ioctl(p->q[0].fd, TUNSETOFFLOAD, off) < 0) {
		err = -errno;
		xb_err("tap %s: TUNSETOFFLOAD %#x: %s", p->ifname, off,
		       strerror(-err));
		return err;
	}
	/* Attach before detaching: the kernel refuses to detach the last
	 * attached queue. */
	for (unsigned int q = 0; q < p->nr_queues; q++) {
		if (q >= nr_queues)
			continue;
		err = tap_set_queue(p, q, true);
		if (err) {
			xb_err("tap %s: attaching queue %u: %s", p->ifname, q,
			       strerror(-err));
			return err;
		}
	}
	for (unsigned int q = nr_queues; q < p->nr_queues; q++) {
		err = tap_set_queue(p, q, false);
		if (err) {
			xb_err("tap %s: detaching queue %u: %s", p->ifname, q,
			       strerror(-err));
			return err;
		}
	}
	p->nr_active = nr_queues;
	if (p->carrier_only) {
		/* The carrier went off asynchronously (linkwatch): frames
		 * the host queued meanwhile belong to the last connection. */
		tap_drain(p);
		p->enabled = true;
		return 0;
	}
	err = net_nl_link_set_up(p->nl, p->ifindex, true);
	if (err) {
		xb_err("tap %s: link up: %s", p->ifname, strerror(-err));
		return err;
	}
	p->enabled = true;
	return 0;
}

static void tap_disable(struct net_port *p)
{
	int err;

	if (p->carrier_only)
		err = tap_set_carrier(p, false);   /* logs on failure */
	else
		err = net_nl_link_set_up(p->nl, p->ifindex, false);
	if (err && !p->carrier_only)
		xb_warn("tap %s: link down: %s", p->ifname, strerror(-err));
	p->enabled = false;
	tap_drain(p);
}

static int tap_set_carrier(struct net_port *p, bool up)
{
	int on = up ? 1 : 0, err;

	if (ioctl(p->q[0].fd, TUNSETCARRIER, &on) == 0)
		return 0;
	err = -errno;
	if (err == -EINVAL || err == -ENOTTY) {
		/* Older kernels: the same through IFLA_CARRIER. */
		err = net_nl_link_set_carrier(p->nl, p->ifindex, up);
		if (!err)
			return 0;
	}
	xb_err("tap %s: carrier %s: %s", p->ifname, up ? "on" : "off",
	       strerror(-err));
	return err;
}

static int tap_queue_fd(struct net_port *p, unsigned int q)
{
	if (q >= p->nr_queues)
		return -EINVAL;
	return p->q[q].fd;
}

/* What the kernel can hand us after TUNSETOFFLOAD without ECN and UFO/USO;
 * anything else means the header is not what we configured. */
static bool tap_rx_hdr_ok(const struct virtio_net_hdr *h, uint32_t len)
{
	uint8_t gso = h->gso_type;

	if (len < ETH_HLEN)
		return false;
	if (gso != VIRTIO_NET_HDR_GSO_NONE && gso != VIRTIO_NET_HDR_GSO_TCPV4 &&
	    gso != VIRTIO_NET_HDR_GSO_TCPV6)
		return false;
	if (gso != VIRTIO_NET_HDR_GSO_NONE && h->gso_size == 0)
		return false;
	if ((h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
	    (uint32_t)h->csum_start + h->csum_offset + 2 > len)
		return false;
	return true;
}

static int tap_rx_burst(struct net_port *p, unsigned int q,
			struct net_frame *f, unsigned int n)
{
	struct tap_queue *tq;
	unsigned int got = 0, reads = 0;

	if (q >= p->nr_active)
		return -EINVAL;
	tq = &p->q[q];
	while (got < n && reads < n + TAP_RX_DROP_BUDGET) {
		struct net_frame *fr = &f[got];
		struct iovec iov[3] = {
			{ .iov_base = &fr->vnet, .iov_len = TAP_VNET_HDR_SZ },
			{ .iov_base = fr->data, .iov_len = NET_FRAME_MAX },
			{ .iov_base = tq->spill, .iov_len = sizeof(tq->spill) },
		};
		ssize_t r = readv(tq->fd, iov, 3);

		reads++;
		if (r < 0) {
			int err = errno;

			if (err == EAGAIN || err == EWOULDBLOCK)
				break;
			if (err == EINTR)
				continue;
			stat_inc(&tq->rx_errors);
			/* EBADFD & co: the queue itself is gone. */
			if (got == 0)
				return -err;
			break;
		}
		/* The kernel reports the full length of a frame it had to
		 * truncate into our iovecs; either way the spill tells. */
		if ((size_t)r > TAP_VNET_HDR_SZ + (size_t)NET_FRAME_MAX) {
			stat_inc(&tq->rx_oversize);
			continue;
		}
		if ((size_t)r < TAP_VNET_HDR_SZ) {
			stat_inc(&tq->rx_errors);
			continue;
		}
		fr->len = (uint32_t)r - TAP_VNET_HDR_SZ;
		if (!tap_rx_hdr_ok(&fr->vnet, fr->len)) {
			stat_inc(&tq->rx_errors);
			continue;
		}
		got++;
	}
	return (int)got;
}

static int tap_tx_burst(struct net_port *p, unsigned int q,
			struct net_frame *f, unsigned int n)
{
	struct tap_queue *tq;
	unsigned int i;

	if (q >= p->nr_active)
		return -EINVAL;
	tq = &p->q[q];
	for (i = 0; i < n; i++) {
		struct iovec iov[2] = {
			{ .iov_base = &f[i].vnet, .iov_len = TAP_VNET_HDR_SZ },
			{ .iov_base = f[i].data, .iov_len = f[i].len },
		};
		ssize_t r;

		if (f[i].len < ETH_HLEN || f[i].len > NET_FRAME_MAX) {
			stat_inc(&tq->tx_dropped);
			continue;
		}
		do {
			r = writev(tq->fd, iov, 2);
		} while (r < 0 && errno == EINTR);
		if (r >= 0)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			break;
		/* EINVAL: the kernel refused the vnet header or frame
		 * (the guest's doing); anything else is the tap's. */
		if (errno == EINVAL)
			stat_inc(&tq->tx_dropped);
		else
			stat_inc(&tq->tx_errors);
	}
	return (int)i;
}

static void tap_get_stats(struct net_port *p, unsigned int q,
			  struct net_port_stats *out)
{
	const struct tap_queue *tq;

	memset(out, 0, sizeof(*out));
	if (q >= p->nr_queues)
		return;
	tq = &p->q[q];
	out->rx_oversize = __atomic_load_n(&tq->rx_oversize, __ATOMIC_RELAXED);
	out->rx_errors = __atomic_load_n(&tq->rx_errors, __ATOMIC_RELAXED);
	out->tx_dropped = __atomic_load_n(&tq->tx_dropped, __ATOMIC_RELAXED);
	out->tx_errors = __atomic_load_n(&tq->tx_errors, __ATOMIC_RELAXED);
}

const struct net_port_ops net_port_tap_ops = {
	.name = "tap",
	.open = tap_open,
	.close = tap_close,
	.detach = tap_detach,
	.enable = tap_enable,
	.disable = tap_disable,
	.set_carrier = tap_set_carrier,
	.queue_fd = tap_queue_fd,
	.rx_burst = tap_rx_burst,
	.tx_burst = tap_tx_burst,
	.get_stats = tap_get_stats,
};
