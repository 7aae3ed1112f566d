/* SPDX-License-Identifier: MIT */
/* The tap port in a build without libnl-route-3: open() says so. */
#include "port.h"

#include <errno.h>
#include <stddef.h>

#include <uback/log.h>

static int tap_unimp_open(const struct net_port_config *cfg,
			  struct net_port **out)
{
	xb_err("tap port: not built (needs libnl-3 and libnl-route-3)");
	return -ENOTSUP;
}

static void tap_unimp_close(struct net_port *p)
{
}

static int tap_unimp_enable(struct net_port *p, unsigned int nr_queues,
			    unsigned int offloads)
{
	return -ENOTSUP;
}

static void tap_unimp_disable(struct net_port *p)
{
}

static int tap_unimp_queue_fd(struct net_port *p, unsigned int q)
{
	return -ENOTSUP;
}

static int tap_unimp_burst(struct net_port *p, unsigned int q,
			   struct net_frame *f, unsigned int n)
{
	return -ENOTSUP;
}

static void tap_unimp_get_stats(struct net_port *p, unsigned int q,
				struct net_port_stats *out)
{
	*out = (struct net_port_stats){ 0 };
}

const struct net_port_ops net_port_tap_ops = {
	.name = "tap",
	.open = tap_unimp_open,
	.close = tap_unimp_close,
	.enable = tap_unimp_enable,
	.disable = tap_unimp_disable,
	.queue_fd = tap_unimp_queue_fd,
	.rx_burst = tap_unimp_burst,
	.tx_burst = tap_unimp_burst,
	.get_stats = tap_unimp_get_stats,
};
