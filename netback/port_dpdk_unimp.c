/* SPDX-License-Identifier: MIT */
/*
 * The DPDK port when this build has no libdpdk: every open fails with
 * -ENOTSUP and says why; the other calls are never reached.
 */
#include <errno.h>
#include <stddef.h>

#include <uback/log.h>

#include "port.h"

static int dpdk_unimp_open(const struct net_port_config *cfg,
			   struct net_port **out)
{
	xb_err("dpdk: port '%s' unavailable: uback was built without DPDK "
	       "(libdpdk-dev missing or -Ddpdk=disabled)",
	       cfg && cfg->args ? cfg->args : "");
	return -ENOTSUP;
}

static void dpdk_unimp_close(struct net_port *p)
{
}

static int dpdk_unimp_enable(struct net_port *p, unsigned int nr_queues,
			     unsigned int offloads)
{
	return -ENOTSUP;
}

static void dpdk_unimp_disable(struct net_port *p)
{
}

static int dpdk_unimp_queue_fd(struct net_port *p, unsigned int q)
{
	return -1;
}

static int dpdk_unimp_burst(struct net_port *p, unsigned int q,
			    struct net_frame *f, unsigned int n)
{
	return -ENOTSUP;
}

static void dpdk_unimp_get_stats(struct net_port *p, unsigned int q,
				 struct net_port_stats *out)
{
	*out = (struct net_port_stats){ 0 };
}

const struct net_port_ops net_port_dpdk_ops = {
	.name = "dpdk",
	.open = dpdk_unimp_open,
	.close = dpdk_unimp_close,
	.enable = dpdk_unimp_enable,
	.disable = dpdk_unimp_disable,
	.queue_fd = dpdk_unimp_queue_fd,
	.rx_burst = dpdk_unimp_burst,
	.tx_burst = dpdk_unimp_burst,
	.get_stats = dpdk_unimp_get_stats,
};
