/* SPDX-License-Identifier: MIT */
/*
 * Internal to netback: the few rtnetlink link operations the tap port
 * needs, wrapped over libnl-route-3 so that callers see 0 / -errno and
 * never libnl's NLE_* codes.
 *
 * Every call runs on the control (main) thread with a socket from
 * net_nl_open(); one socket must not be used by two threads at once.
 * Calls change one attribute set each: on failure nothing of that call is
 * applied (the kernel applies an RTM_NEWLINK message all or nothing). They
 * do not log: the port logs one line with context.
 */
#ifndef NETBACK_NL_H
#define NETBACK_NL_H

#include <stdbool.h>
#include <stdint.h>

struct nl_sock;

/* A connected NETLINK_ROUTE socket in *out. -ENOMEM or the connect error. */
int net_nl_open(struct nl_sock **out);
/* Close and free; NULL ok. */
void net_nl_close(struct nl_sock *sk);

/* libnl error (negative NLE_* or positive) -> -errno (best match, -EIO). */
int net_nl_errno(int nlerr);

/* Set the link's MAC (@mac may be NULL: unchanged) and MTU (0: unchanged)
 * in one request. */
int net_nl_link_set_addr_mtu(struct nl_sock *sk, int ifindex,
			     const uint8_t *mac, unsigned int mtu);
/* Set or clear IFF_UP. */
int net_nl_link_set_up(struct nl_sock *sk, int ifindex, bool up);
/* Set the carrier through IFLA_CARRIER (drivers with ndo_change_carrier). */
int net_nl_link_set_carrier(struct nl_sock *sk, int ifindex, bool up);

/* Make @ifindex a port of the bridge named @bridge. -ENODEV if no such
 * link, -EINVAL if it is not a bridge, else the kernel's error. *master
 * gets the bridge's ifindex on success. */
int net_nl_bridge_join(struct nl_sock *sk, int ifindex, const char *bridge,
		       int *master);
/* Remove @ifindex from its master (no-op error if it has none). */
int net_nl_bridge_leave(struct nl_sock *sk, int ifindex);

#endif /* NETBACK_NL_H */
