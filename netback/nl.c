/* SPDX-License-Identifier: MIT */
/* rtnetlink link helpers for the tap port (see nl.h). */
#include "nl.h"

#include <errno.h>
#include <stdlib.h>

#include <sys/socket.h>

#include <linux/if.h>

#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>

int net_nl_errno(int nlerr)
{
	switch (nlerr < 0 ? -nlerr : nlerr) {
	case 0:                     return 0;
	case NLE_INTR:              return -EINTR;
	case NLE_BAD_SOCK:          return -EBADF;
	case NLE_AGAIN:             return -EAGAIN;
	case NLE_NOMEM:             return -ENOMEM;
	case NLE_EXIST:             return -EEXIST;
	case NLE_INVAL:             return -EINVAL;
	case NLE_RANGE:             return -ERANGE;
	case NLE_MSGSIZE:           return -EMSGSIZE;
	case NLE_OPNOTSUPP:         return -EOPNOTSUPP;
	case NLE_AF_NOSUPPORT:      return -EAFNOSUPPORT;
	case NLE_OBJ_NOTFOUND:      return -ENOENT;
	case NLE_NODEV:             return -ENODEV;
	case NLE_BUSY:              return -EBUSY;
	case NLE_NOACCESS:          return -EACCES;
	case NLE_PERM:              return -EPERM;
	default:                    return -EIO;
	}
}

int net_nl_open(struct nl_sock **out)
{
	struct nl_sock *sk = nl_socket_alloc();
	int err;

	if (!sk)
		return -ENOMEM;
	err = nl_connect(sk, NETLINK_ROUTE);
	if (err < 0) {
		nl_socket_free(sk);
		return net_nl_errno(err);
	}
	*out = sk;
	return 0;
}

void net_nl_close(struct nl_sock *sk)
{
	if (sk)
		nl_socket_free(sk);
}

/* A fresh object naming the link by index serves as both "orig" and
 * "changes" of rtnl_link_change: only what we set is sent, and nothing
 * fetched from the kernel is modified (environment.md: changing fetched
 * objects can trip libnl assertions). */
static int link_new(int ifindex, struct rtnl_link **out)
{
	struct rtnl_link *l = rtnl_link_alloc();

	if (!l)
		return -ENOMEM;
	rtnl_link_set_ifindex(l, ifindex);
	*out = l;
	return 0;
}

static int link_commit(struct nl_sock *sk, struct rtnl_link *l)
{
	int err = rtnl_link_change(sk, l, l, 0);

	rtnl_link_put(l);
	return net_nl_errno(err);
}

int net_nl_link_set_addr_mtu(struct nl_sock *sk, int ifindex,
			     const uint8_t *mac, unsigned int mtu)
{
	struct rtnl_link *l;
	int err;

	if (!mac && !mtu)
		return 0;
	err = link_new(ifindex, &l);
	if (err)
		return err;
	if (mac) {
		struct nl_addr *a = nl_addr_build(AF_LLC, mac, 6);

		if (!a) {
			rtnl_link_put(l);
			return -ENOMEM;
		}
		rtnl_link_set_addr(l, a);
		nl_addr_put(a);
	}
	if (mtu)
		rtnl_link_set_mtu(l, mtu);
	return link_commit(sk, l);
}

int net_nl_link_set_up(struct nl_sock *sk, int ifindex, bool up)
{
	struct rtnl_link *l;
	int err = link_new(ifindex, &l);

	if (err)
		return err;
	if (up)
		rtnl_link_set_flags(l, IFF_UP);
	else
		rtnl_link_unset_flags(l, IFF_UP);
	return link_commit(sk, l);
}

int net_nl_link_set_carrier(struct nl_sock *sk, int ifindex, bool up)
{
	struct rtnl_link *l;
	int err = link_new(ifindex, &l);

	if (err)
		return err;
	rtnl_link_set_carrier(l, up ? 1 : 0);
	return link_commit(sk, l);
}

int net_nl_bridge_join(struct nl_sock *sk, int ifindex, const char *bridge,
		       int *master)
{
	struct rtnl_link *br = NULL;
	int err, idx;

	err = rtnl_link_get_kernel(sk, 0, bridge, &br);
	if (err < 0) {
		err = net_nl_errno(err);
		/* The kernel answers ENODEV for an unknown name. */
		return err == -ENOENT ? -ENODEV : err;
	}
	if (!rtnl_link_is_bridge(br)) {
		rtnl_link_put(br);
		return -EINVAL;
	}
	idx = rtnl_link_get_ifindex(br);
	rtnl_link_put(br);
	/* Checks afterwards that the master really changed. */
	err = rtnl_link_enslave_ifindex(sk, idx, ifindex);
	if (err < 0)
		return net_nl_errno(err);
	*master = idx;
	return 0;
}

int net_nl_bridge_leave(struct nl_sock *sk, int ifindex)
{
	return net_nl_errno(rtnl_link_release_ifindex(sk, ifindex));
}
