/* SPDX-License-Identifier: MIT */
/* Frontend vif keys: strict parsing, every value bounded (fekeys.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "uback/xs.h"
#include "fekeys.h"

static int fail(struct net_fe_keys *out, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct net_fe_keys *out, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out->why, sizeof(out->why), fmt, ap);
	va_end(ap);
	return err;
}

/* A number up to @max. Absent: -ENOENT, left to the caller. */
static int read_u64(net_fe_read_fn read, void *arg, const char *key,
		    uint64_t max, uint64_t *v, struct net_fe_keys *out)
{
	char buf[NET_FE_VALUE_MAX];
	size_t len = 0;
	int ret = read(arg, key, buf, sizeof(buf), &len);

	if (ret == -ENOENT)
		return ret;
	if (ret == -E2BIG)
		return fail(out, -EINVAL, "bad frontend key %s", key);
	if (ret)
		return fail(out, ret, "cannot read frontend key %s", key);
	if (len >= sizeof(buf) || xb_parse_u64(buf, len, max, v))
		return fail(out, -EINVAL, "bad frontend key %s", key);
	return 0;
}

static int read_opt(net_fe_read_fn read, void *arg, const char *key,
		    uint64_t max, uint64_t def, uint64_t *v,
		    struct net_fe_keys *out)
{
	int ret = read_u64(read, arg, key, max, v, out);

	if (ret == -ENOENT) {
		*v = def;
		return 0;
	}
	return ret;
}

static int read_req(net_fe_read_fn read, void *arg, const char *key,
		    uint32_t *v, struct net_fe_keys *out)
{
	uint64_t x;
	int ret = read_u64(read, arg, key, UINT32_MAX, &x, out);

	if (ret == -ENOENT)
		return fail(out, -EINVAL, "missing frontend key %s", key);
	if (!ret)
		*v = (uint32_t)x;
	return ret;
}

static int read_queue(net_fe_read_fn read, void *arg, unsigned int q,
		      struct net_fe_keys *out)
{
	struct net_fe_queue_keys *k = &out->q[q];
	char dir[24] = "", key[64];
	uint64_t v;
	int ret;

	if (out->nr_queues > 1)
		snprintf(dir, sizeof(dir), "queue-%u/", q);
	snprintf(key, sizeof(key), "%stx-ring-ref", dir);
	ret = read_req(read, arg, key, &k->tx_ref, out);
	if (ret)
		return ret;
	snprintf(key, sizeof(key), "%srx-ring-ref", dir);
	ret = read_req(read, arg, key, &k->rx_ref, out);
	if (ret)
		return ret;
	/* As xen-netback: event-channel-tx and -rx (split) or
	 * event-channel (shared). */
	snprintf(key, sizeof(key), "%sevent-channel-tx", dir);
	ret = read_u64(read, arg, key, UINT32_MAX, &v, out);
	if (ret == -ENOENT) {
		k->split = false;
		snprintf(key, sizeof(key), "%sevent-channel", dir);
		ret = read_req(read, arg, key, &k->tx_evtchn, out);
		k->rx_evtchn = k->tx_evtchn;
		return ret;
	}
	if (ret)
		return ret;
	k->split = true;
	k->tx_evtchn = (evtchn_port_t)v;
	snprintf(key, sizeof(key), "%sevent-channel-rx", dir);
	ret = read_req(read, arg, key, &k->rx_evtchn, out);
	if (!ret && k->rx_evtchn == k->tx_evtchn)
		return fail(out, -EINVAL, "%sevent-channel-tx equals -rx",
			    dir);
	return ret;
}

int net_fe_keys_parse(uint32_t max_queues, net_fe_read_fn read, void *arg,
		      struct net_fe_keys *out)
{
	static const char *const features[] = {
		"feature-rx-notify", "feature-sg", "feature-gso-tcpv4",
		"feature-gso-tcpv6", "feature-no-csum-offload",
		"feature-ipv6-csum-offload", "request-multicast-control",
		"feature-gso-tcpv4-prefix", "feature-gso-tcpv6-prefix",
	};
	uint64_t v, f[sizeof(features) / sizeof(features[0])];
	unsigned int i;
	int ret;

	memset(out, 0, sizeof(*out));
	if (!max_queues || max_queues > NET_MAX_QUEUES)
		return fail(out, -EINVAL, "backend limit of %u queues",
			    max_queues);
	ret = read_u64(read, arg, "request-rx-copy", 1, &v, out);
	if (ret == -ENOENT || (!ret && !v))
		return fail(out, -EOPNOTSUPP, "frontend must set "
			    "request-rx-copy=1: receive by page flipping is "
			    "not supported");
	if (ret)
		return ret;
	ret = read_opt(read, arg, "multi-queue-num-queues", max_queues, 1, &v,
		       out);
	if (ret || !v)
		return fail(out, ret && ret != -EINVAL ? ret : -EINVAL,
			    "bad multi-queue-num-queues (1..%u)", max_queues);
	out->nr_queues = (uint32_t)v;
	for (i = 0; i < sizeof(features) / sizeof(features[0]); i++) {
		ret = read_opt(read, arg, features[i], 1, 0, &f[i], out);
		if (ret)
			return ret;
	}
	out->rx_notify = f[0];
	out->guest = (struct net_rx_guest){
		.sg = f[1], .gso4 = f[2], .gso6 = f[3], .csum = !f[4],
		.csum6 = !f[4] && f[5],
	};
	out->mcast_ctrl = f[6];
	/* The GSO prefix descriptor (old Windows frontends) is not
	 * offered: such a guest gets no GSO unless it also set the plain
	 * GSO feature. */
	out->gso_prefix = (f[7] || f[8]) && !(f[2] || f[3]);

	ret = read_u64(read, arg, "ctrl-ring-ref", UINT32_MAX, &v, out);
	if (!ret) {
		out->ctrl = true;
		out->ctrl_ref = (grant_ref_t)v;
		ret = read_u64(read, arg, "event-channel-ctrl", UINT32_MAX, &v,
			       out);
		if (ret)
			return fail(out, ret == -ENOENT ? -EINVAL : ret,
				    "ctrl-ring-ref without a usable "
				    "event-channel-ctrl");
		out->ctrl_evtchn = (evtchn_port_t)v;
	} else if (ret != -ENOENT) {
		return ret;
	}

	for (i = 0; i < out->nr_queues; i++) {
		ret = read_queue(read, arg, i, out);
		if (ret)
			return ret;
	}
	return 0;
}
