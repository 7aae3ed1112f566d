/* SPDX-License-Identifier: MIT */
/*
 * The guest's NIC: a tap device created inside the guest's network
 * namespace (setns first, so it never exists outside it), with a
 * virtio-net header on every frame so GSO and checksum metadata cross.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/if_tun.h>
#include <linux/virtio_net.h>

#include <uback/log.h>

#include "app.h"

static int enter_netns(const char *name)
{
	char path[256];
	int fd, ret = 0;

	if (strchr(name, '/'))
		snprintf(path, sizeof(path), "%s", name);
	else
		snprintf(path, sizeof(path), "/var/run/netns/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		xb_err("netns %s: %s", path, strerror(-ret));
		return ret;
	}
	if (setns(fd, CLONE_NEWNET) < 0) {
		ret = -errno;
		xb_err("setns %s: %s", path, strerror(-ret));
	}
	close(fd);
	return ret;
}

static int tap_fd(const struct nfa_tap_config *cfg)
{
	struct ifreq ifr;
	unsigned int off = 0;
	int fd, sz = sizeof(struct virtio_net_hdr), ret;

	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (cfg->nr_queues > 1)
		ifr.ifr_flags |= IFF_MULTI_QUEUE;
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", cfg->ifname);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0 ||
	    ioctl(fd, TUNSETVNETHDRSZ, &sz) < 0)
		goto err;
	if (cfg->offloads & NFA_OFF_CSUM) {
		off |= TUN_F_CSUM;
		if (cfg->offloads & NFA_OFF_TSO4)
			off |= TUN_F_TSO4;
		if (cfg->offloads & NFA_OFF_TSO6)
			off |= TUN_F_TSO6;
	}
	if (ioctl(fd, TUNSETOFFLOAD, off) < 0)
		goto err;
	return fd;
err:
	ret = -errno;
	close(fd);
	return ret;
}

static int link_setup(const struct nfa_tap_config *cfg)
{
	struct ifreq ifr;
	int s, ret = 0;

	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", cfg->ifname);
	ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
	memcpy(ifr.ifr_hwaddr.sa_data, cfg->mac, 6);
	if (ioctl(s, SIOCSIFHWADDR, &ifr) < 0)
		goto err;
	if (cfg->mtu) {
		ifr.ifr_mtu = (int)cfg->mtu;
		if (ioctl(s, SIOCSIFMTU, &ifr) < 0)
			goto err;
	}
	if (cfg->up) {
		if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
			goto err;
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
			goto err;
	}
	close(s);
	return 0;
err:
	ret = -errno;
	close(s);
	return ret;
}

int nfa_tap_open(const struct nfa_tap_config *cfg, int *fds)
{
	unsigned int i, n = cfg->nr_queues ? cfg->nr_queues : 1;
	int ret;

	if (cfg->netns) {
		ret = enter_netns(cfg->netns);
		if (ret)
			return ret;
	}
	for (i = 0; i < n; i++) {
		ret = tap_fd(cfg);
		if (ret < 0) {
			xb_err("tap %s queue %u: %s", cfg->ifname, i,
			       strerror(-ret));
			goto err_fds;
		}
		fds[i] = ret;
	}
	ret = link_setup(cfg);
	if (ret) {
		xb_err("tap %s: link setup: %s", cfg->ifname, strerror(-ret));
		goto err_fds;
	}
	return 0;

err_fds:
	while (i--)
		close(fds[i]);
	return ret;
}
