/* SPDX-License-Identifier: MIT */
/*
 * vif XenBus glue: what we publish (probe), how we read the frontend's
 * keys (hostile: strict integer parsing, every value bounded, anything
 * malformed fails connect with -EINVAL after xb_dev_fatal put the reason,
 * naming the key, in the backend's `error` node), and the
 * main-thread side of the queues (alerts) and of the control ring.
 */
#include <errno.h>
#include <inttypes.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "uback/log.h"
#include "fekeys.h"
#include "state.h"
#include "vif.h"

struct net_vif {
	struct net_vif_config cfg;
	char ifname[IF_NAMESIZE];
	char bridge[64];
	uint8_t guest_mac[6];
	uint64_t credit_bytes, credit_usec;
	struct net_port *port;
	bool port_enabled;
	int alert_fd;
	unsigned int nr_queues;
	struct net_queue *queues[NET_MAX_QUEUES];
	struct net_ctrl *ctrl;
	struct net_steer *steer;       /* with a ctrl ring and 2+ queues */
	/* Indices, copies, hash and multicast list (state.h): in the state
	 * file with --state-dir, else in private memory. */
	struct net_state *st;
	bool detaching;               /* SIGUSR1: leave it all to a successor */
	pthread_mutex_t mcast_lock;
	/* What the current connection negotiated. */
	struct net_rx_guest guest;
	bool split, mcast_ctrl;
	/* Counters of queues already stopped (earlier connections). */
	struct net_stats retired;
};

void net_vif_config_defaults(struct net_vif_config *cfg)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	memset(cfg, 0, sizeof(*cfg));
	cfg->port_ops = &net_port_tap_ops;
	cfg->max_queues = n > 0 && n < NET_DEFAULT_QUEUES ? (uint32_t)n
							  : NET_DEFAULT_QUEUES;
	cfg->tx_limits.max_slots = NET_TX_MAX_SLOTS;
	cfg->tx_limits.fatal_slots = NET_TX_FATAL_SLOTS;
	cfg->state_fd = -1;
}

int net_vif_create(const struct net_vif_config *cfg, struct net_vif **out)
{
	struct net_vif *vif;

	if (!cfg->max_queues || cfg->max_queues > NET_MAX_QUEUES ||
	    cfg->tx_limits.max_slots < XEN_NETIF_NR_SLOTS_MIN ||
	    cfg->tx_limits.fatal_slots < cfg->tx_limits.max_slots ||
	    cfg->tx_limits.fatal_slots > NET_TX_FATAL_SLOTS_MAX)
		return -EINVAL;
	vif = calloc(1, sizeof(*vif));
	if (!vif)
		return -ENOMEM;
	vif->cfg = *cfg;
	if (!vif->cfg.port_ops)
		vif->cfg.port_ops = &net_port_tap_ops;
	if (net_state_map(cfg->state_fd, &vif->st)) {
		free(vif);
		return -ENOMEM;
	}
	vif->alert_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vif->alert_fd < 0) {
		net_state_unmap(vif->st);
		free(vif);
		return -ENOMEM;
	}
	pthread_mutex_init(&vif->mcast_lock, NULL);
	*out = vif;
	return 0;
}

void net_vif_destroy(struct net_vif *vif)
{
	if (!vif)
		return;
	/* xb_dev_close ran remove(): queues stopped, port closed. After
	 * xb_dev_detach the port is still open: left to the successor. */
	if (vif->port) {
		if (vif->detaching && vif->cfg.port_ops->detach)
			vif->cfg.port_ops->detach(vif->port);
		else
			vif->cfg.port_ops->close(vif->port);
	}
	close(vif->alert_fd);
	pthread_mutex_destroy(&vif->mcast_lock);
	net_state_unmap(vif->st);
	free(vif);
}

void net_vif_set_detach(struct net_vif *vif)
{
	vif->detaching = true;
}

unsigned int net_vif_nr_queues(const struct net_vif *vif)
{
	return vif->nr_queues;
}

int net_vif_port_fd(const struct net_vif *vif, unsigned int q)
{
	return vif->port ? vif->cfg.port_ops->queue_fd(vif->port, q) : -1;
}

const struct net_stats *net_vif_queue_stats(const struct net_vif *vif,
					    unsigned int q)
{
	return q < vif->nr_queues ? net_queue_stats(vif->queues[q]) : NULL;
}

void net_vif_print_stats(FILE *f, const struct net_vif *vif)
{
	struct net_stats total = vif->retired, snap;
	char prefix[16];
	unsigned int q, k;

	fprintf(f, "ifname=%s\nport=%s\nqueues=%u\nsplit_evtchn=%d\n"
		"sg=%d\ngso_tcpv4=%d\ngso_tcpv6=%d\ncsum=%d\ncsum_ipv6=%d\n"
		"mcast_ctrl=%d\nctrl_ring=%d\n",
		vif->ifname, vif->cfg.port_ops->name, vif->nr_queues,
		vif->split, vif->guest.sg, vif->guest.gso4, vif->guest.gso6,
		vif->guest.csum, vif->guest.csum6, vif->mcast_ctrl,
		vif->ctrl != NULL);
	for (q = 0; q < vif->nr_queues; q++) {
		const struct net_stats *s = net_queue_stats(vif->queues[q]);

		snprintf(prefix, sizeof(prefix), "q%u.", q);
		net_stats_print(f, prefix, s);
		net_stats_add_totals(&total, s);
		net_stats_snapshot(s, &snap);
		for (k = NET_ST_PORT_RX_OVERSIZE; k < NET_ST_COUNT; k++)
			total.v[k] += snap.v[k];
	}
	net_stats_print(f, "total.", &total);
}

unsigned int net_vif_fds(const struct net_vif *vif, struct pollfd *pfd,
			 unsigned int max)
{
	unsigned int n = 0;

	if (n < max)
		pfd[n++] = (struct pollfd){ .fd = vif->alert_fd,
					    .events = POLLIN };
	if (vif->ctrl && n < max)
		pfd[n++] = (struct pollfd){ .fd = net_ctrl_fd(vif->ctrl),
					    .events = POLLIN };
	return n;
}

void net_vif_process(struct xb_dev *dev)
{
	struct net_vif *vif = dev->priv;
	const char *why = NULL;
	unsigned int q;
	uint64_t v;
	int ret;

	if (read(vif->alert_fd, &v, sizeof(v)) < 0) {
		/* Nothing pending: the queues are looked at anyway. */
	}
	for (q = 0; q < vif->nr_queues; q++) {
		if (net_queue_failed(vif->queues[q], &why)) {
			xb_dev_fatal(dev, -EIO, "queue %u: %s", q, why);
			return;   /* disconnected: the queues are gone */
		}
	}
	if (vif->ctrl) {
		struct pollfd p = { .fd = net_ctrl_fd(vif->ctrl),
				    .events = POLLIN };

		if (poll(&p, 1, 0) <= 0)
			return;
		ret = net_ctrl_process(vif->ctrl);
		if (ret < 0)
			xb_dev_fatal(dev, ret, "control ring: impossible "
				     "request producer");
	}
}

/* "aa:bb:cc:dd:ee:ff" (the toolstack's). */
static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned int b[6], i;
	char end;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3],
		   &b[4], &b[5], &end) != 6)
		return -EINVAL;
	for (i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	return 0;
}

static int net_probe(struct xb_dev *dev)
{
	struct net_vif *vif = dev->priv;
	struct net_port_config pc;
	char buf[64], num[24];
	struct xb_dev_kv kv[16];
	unsigned int host_off;
	uint64_t mtu = 0;
	size_t n = 0;
	int ret;

	/* Toolstack keys: trusted-ish, still checked. */
	if (!xb_dev_read_be_str(dev, "mac", buf, sizeof(buf)) &&
	    parse_mac(buf, vif->guest_mac))
		xb_warn("%s: ignoring malformed mac '%s'", dev->backend_path,
			buf);
	vif->bridge[0] = '\0';
	ret = xb_dev_read_be_str(dev, "bridge", vif->bridge,
				 sizeof(vif->bridge));
	if (ret && ret != -ENOENT)
		xb_warn("%s: ignoring unusable bridge key", dev->backend_path);
	ret = xb_dev_read_be_u64(dev, "mtu", 65535, &mtu);
	if (ret && ret != -ENOENT)
		xb_warn("%s: ignoring malformed mtu", dev->backend_path);
	vif->credit_bytes = vif->credit_usec = 0;
	if (!xb_dev_read_be_str(dev, "rate", buf, sizeof(buf)) &&
	    net_credit_parse(buf, &vif->credit_bytes, &vif->credit_usec)) {
		/* As xen-netback: a malformed rate means unlimited. */
		xb_warn("%s: malformed rate '%s': unlimited",
			dev->backend_path, buf);
		vif->credit_bytes = vif->credit_usec = 0;
	}
	if (vif->cfg.ifname) {
		ret = snprintf(vif->ifname, sizeof(vif->ifname), "%s",
			       vif->cfg.ifname) >= (int)sizeof(vif->ifname)
			      ? -ENAMETOOLONG : 0;
	} else {
		ret = xb_dev_read_be_str(dev, "vifname", vif->ifname,
					 sizeof(vif->ifname));
		if (ret == -ENOENT)
			ret = snprintf(vif->ifname, sizeof(vif->ifname),
				       "vif%u.%u", dev->frontend_id,
				       dev->devid) >= (int)sizeof(vif->ifname)
				      ? -ENAMETOOLONG : 0;
	}
	if (ret) {
		xb_err("%s: no usable interface name: %s", dev->backend_path,
		       strerror(-ret));
		return ret;
	}

	/* The host device exists before InitWait: the hotplug script that
	 * libxl runs then (vif-bridge) needs it. */
	pc = (struct net_port_config){
		.ifname = vif->ifname,
		.args = vif->cfg.port_args,
		.nr_queues = vif->cfg.max_queues,
		.mtu = (unsigned int)mtu,
		.bridge = vif->bridge[0] ? vif->bridge : NULL,
		.carrier_only = vif->cfg.carrier_only,
		.persist = vif->cfg.state_fd >= 0,
	};
	ret = vif->cfg.port_ops->open(&pc, &vif->port);
	if (ret) {
		xb_err("%s: cannot open %s port %s: %s", dev->backend_path,
		       vif->cfg.port_ops->name, vif->ifname, strerror(-ret));
		return ret;
	}

	/* A guest GSO frame crosses the port whole: offer GSO only where
	 * the host side can take it (a DPDK device without TSO cannot). */
	host_off = vif->cfg.port_ops->host_offloads ?
		   vif->cfg.port_ops->host_offloads(vif->port) : NET_OFF_ALL;
	kv[n++] = (struct xb_dev_kv){ "feature-sg", "1" };
	if (host_off & NET_OFF_TSO4)
		kv[n++] = (struct xb_dev_kv){ "feature-gso-tcpv4", "1" };
	if (host_off & NET_OFF_TSO6)
		kv[n++] = (struct xb_dev_kv){ "feature-gso-tcpv6", "1" };
	kv[n++] = (struct xb_dev_kv){ "feature-ipv6-csum-offload", "1" };
	kv[n++] = (struct xb_dev_kv){ "feature-rx-copy", "1" };
	kv[n++] = (struct xb_dev_kv){ "feature-rx-flip", "0" };
	kv[n++] = (struct xb_dev_kv){ "feature-split-event-channels", "1" };
	kv[n++] = (struct xb_dev_kv){ "feature-ctrl-ring", "1" };
	kv[n++] = (struct xb_dev_kv){ "feature-multicast-control", "1" };
	kv[n++] = (struct xb_dev_kv){ "feature-dynamic-multicast-control",
				      "1" };
	snprintf(num, sizeof(num), "%u", vif->cfg.max_queues);
	kv[n++] = (struct xb_dev_kv){ "multi-queue-max-queues", num };
	ret = xb_dev_write_be_kv(dev, kv, n);
	if (ret) {
		vif->cfg.port_ops->close(vif->port);
		vif->port = NULL;
	}
	return ret;
}

static int fe_read(void *arg, const char *key, char *buf, size_t size,
		   size_t *len)
{
	return xb_dev_read_fe_bytes(arg, key, buf, size, len);
}

static void stop_queues(struct net_vif *vif)
{
	while (vif->nr_queues)
		net_queue_stop(vif->queues[--vif->nr_queues], &vif->retired);
	/* No thread uses the hand-off rings any more. */
	net_steer_destroy(vif->steer);
	vif->steer = NULL;
}

static int open_ctrl(struct xb_dev *dev, struct net_vif *vif,
		     const struct net_fe_keys *fk, bool adopt)
{
	struct net_ctrl_config cc;
	int ret;

	if (!fk->ctrl)
		return 0;
	cc = (struct net_ctrl_config){
		.hv = dev->hv,
		.domid = dev->frontend_id,
		.ring_ref = fk->ctrl_ref,
		.remote_port = fk->ctrl_evtchn,
		.nr_queues = fk->nr_queues,
		.hash = &vif->st->hash,
		.state = &vif->st->ctrl,
		.adopt = adopt,
	};
	ret = net_ctrl_open(&cc, &vif->ctrl);
	if (ret && !adopt)
		xb_dev_fatal(dev, ret, "cannot map the control ring or bind "
			     "event-channel-ctrl");
	return ret;
}

/* What a state file must carry to be adopted for these keys. */
static void state_id(const struct xb_dev *dev, const struct net_fe_keys *fk,
		     struct net_state_id *id)
{
	unsigned int q;

	memset(id, 0, sizeof(*id));
	id->domid = dev->frontend_id;
	id->nr_queues = fk->nr_queues;
	id->features = (fk->guest.sg ? NET_STATE_F_SG : 0) |
		       (fk->guest.gso4 ? NET_STATE_F_GSO4 : 0) |
		       (fk->guest.gso6 ? NET_STATE_F_GSO6 : 0) |
		       (fk->guest.csum ? NET_STATE_F_CSUM : 0) |
		       (fk->guest.csum6 ? NET_STATE_F_CSUM6 : 0) |
		       (fk->mcast_ctrl ? NET_STATE_F_MCAST : 0) |
		       (fk->ctrl ? NET_STATE_F_CTRL : 0);
	if (fk->ctrl) {
		id->ctrl_ref = fk->ctrl_ref;
		id->ctrl_port = fk->ctrl_evtchn;
	}
	for (q = 0; q < fk->nr_queues; q++) {
		id->q[q].tx_ref = fk->q[q].tx_ref;
		id->q[q].rx_ref = fk->q[q].rx_ref;
		id->q[q].tx_port = fk->q[q].tx_evtchn;
		id->q[q].rx_port = fk->q[q].rx_evtchn;
	}
}

/*
 * connect() and adopt(): the same data path, started afresh or from the
 * state file. Adopting, nothing is reported to xenstore: a failure is
 * returned for the core to renegotiate.
 */
static int connect_vif(struct xb_dev *dev, bool adopt)
{
	struct net_vif *vif = dev->priv;
	struct net_queue_config qc;
	struct net_state_id id;
	struct net_fe_keys fk;
	unsigned int q, offloads = 0;
	int ret;

	if (!vif->port)
		return -ENODEV;
	ret = net_fe_keys_parse(vif->cfg.max_queues, fe_read, dev, &fk);
	if (ret) {
		if (adopt) {
			xb_warn("%s: frontend keys unusable (%s): not adopted",
				dev->backend_path, fk.why);
			return -EINVAL;
		}
		xb_dev_fatal(dev, ret, "%s", fk.why);
		return ret == -EOPNOTSUPP ? ret : -EINVAL;
	}
	state_id(dev, &fk, &id);
	if (adopt) {
		ret = net_state_check(vif->st, &id);
		if (ret)
			return ret;
	} else {
		net_state_begin(vif->st, &id);
	}
	vif->guest = fk.guest;
	vif->mcast_ctrl = fk.mcast_ctrl;
	if (fk.gso_prefix && !adopt)
		xb_info("%s: frontend asks for GSO prefix descriptors; not "
			"supported, no GSO to the guest", dev->backend_path);

	ret = open_ctrl(dev, vif, &fk, adopt);
	if (ret)
		return ret;

	if (vif->guest.csum)
		offloads |= NET_OFF_CSUM;
	if (vif->guest.csum && vif->guest.sg && vif->guest.gso4)
		offloads |= NET_OFF_TSO4;
	if (vif->guest.csum6 && vif->guest.sg && vif->guest.gso6)
		offloads |= NET_OFF_TSO6;
	ret = vif->cfg.port_ops->enable(vif->port, fk.nr_queues, offloads);
	if (ret) {
		xb_err("%s: cannot enable port %s: %s", dev->backend_path,
		       vif->ifname, strerror(-ret));
		goto err_ctrl;
	}
	vif->port_enabled = true;

	/* A mapping table can only come over the control ring, and only
	 * matters with several queues. */
	if (vif->ctrl && fk.nr_queues > 1) {
		ret = net_steer_create(fk.nr_queues, &vif->steer);
		if (ret) {
			xb_dev_fatal(dev, ret, "cannot allocate the RX "
				     "steering rings");
			goto err_stop;
		}
	}
	for (q = 0; q < fk.nr_queues; q++) {
		memset(&qc, 0, sizeof(qc));
		qc.tx_ref = fk.q[q].tx_ref;
		qc.rx_ref = fk.q[q].rx_ref;
		qc.tx_evtchn = fk.q[q].tx_evtchn;
		qc.rx_evtchn = fk.q[q].rx_evtchn;
		qc.hv = dev->hv;
		qc.domid = dev->frontend_id;
		qc.index = q;
		qc.rx_notify = fk.rx_notify;
		qc.port_ops = vif->cfg.port_ops;
		qc.port = vif->port;
		qc.guest = vif->guest;
		qc.mcast_ctrl = vif->mcast_ctrl;
		qc.tx_limits = vif->cfg.tx_limits;
		qc.credit_bytes = vif->credit_bytes;
		qc.credit_usec = vif->credit_usec;
		qc.hash = vif->ctrl ? &vif->st->hash : NULL;
		qc.steer = vif->steer;
		qc.nr_queues = fk.nr_queues;
		qc.mcast = &vif->st->mcast;
		qc.mcast_lock = &vif->mcast_lock;
		qc.alert_fd = vif->alert_fd;
		qc.rx_stall_ms = vif->cfg.rx_stall_ms;
		qc.poll_us = vif->cfg.poll_us;
		qc.poll_max_us = vif->cfg.poll_max_us;
		qc.spin_us = vif->cfg.spin_us;
		qc.state = &vif->st->q[q];
		qc.tx_bufs = net_state_tx_bufs(vif->st, q);
		qc.adopt = adopt;
		ret = net_queue_start(&qc, &vif->queues[q]);
		if (ret) {
			if (!adopt)
				xb_dev_fatal(dev, ret, "queue %u: cannot map "
					     "the rings or bind the event "
					     "channels", q);
			goto err_stop;
		}
		vif->nr_queues = q + 1;
	}
	vif->split = fk.q[0].split;
	if (vif->cfg.port_ops->set_carrier)
		vif->cfg.port_ops->set_carrier(vif->port, true);
	xb_info("%s: %s dom%u: %s, %u queue(s), %s event channels, "
		"sg %d, gso v4 %d v6 %d, csum %d, ctrl ring %s",
		dev->backend_path, adopt ? "adopted" : "connected",
		dev->frontend_id, vif->ifname,
		vif->nr_queues, vif->split ? "split" : "shared", vif->guest.sg,
		vif->guest.gso4, vif->guest.gso6, vif->guest.csum,
		vif->ctrl ? "on" : "off");
	return 0;

err_stop:
	stop_queues(vif);
	vif->cfg.port_ops->disable(vif->port);
	vif->port_enabled = false;
err_ctrl:
	net_ctrl_close(vif->ctrl);
	vif->ctrl = NULL;
	return ret;
}

static int net_connect(struct xb_dev *dev)
{
	return connect_vif(dev, false);
}

/* A live vif whose previous process is gone: the state file says where
 * it stopped (state.h). Without a state dir there is nothing to adopt
 * from. */
static int net_adopt(struct xb_dev *dev)
{
	struct net_vif *vif = dev->priv;

	if (vif->cfg.state_fd < 0) {
		xb_warn("%s: live vif but no --state-dir: not adopted",
			dev->backend_path);
		return -ENOENT;
	}
	return connect_vif(dev, true);
}

static void net_disconnect(struct xb_dev *dev)
{
	struct net_vif *vif = dev->priv;

	if (vif->detaching) {
		/* The queue threads finish their batch: every index is
		 * recorded, the host side keeps its carrier and the
		 * successor adopts from the state file. */
		stop_queues(vif);
		net_ctrl_close(vif->ctrl);
		vif->ctrl = NULL;
		vif->port_enabled = false;
		xb_info("%s: detached for a successor", dev->backend_path);
		return;
	}
	if (vif->port && vif->cfg.port_ops->set_carrier)
		vif->cfg.port_ops->set_carrier(vif->port, false);
	stop_queues(vif);
	net_state_invalidate(vif->st);
	net_ctrl_close(vif->ctrl);
	vif->ctrl = NULL;
	if (vif->port_enabled)
		vif->cfg.port_ops->disable(vif->port);
	vif->port_enabled = false;
	xb_info("%s: disconnected", dev->backend_path);
}

static void net_remove(struct xb_dev *dev)
{
	struct net_vif *vif = dev->priv;

	stop_queues(vif);
	net_ctrl_close(vif->ctrl);
	vif->ctrl = NULL;
	if (vif->port_enabled)
		vif->cfg.port_ops->disable(vif->port);
	vif->port_enabled = false;
	if (vif->port) {
		if (vif->detaching && vif->cfg.port_ops->detach)
			vif->cfg.port_ops->detach(vif->port);
		else
			vif->cfg.port_ops->close(vif->port);
	}
	vif->port = NULL;
}

const struct xb_dev_ops net_vif_ops = {
	.kind = "vif",
	.probe = net_probe,
	.connect = net_connect,
	.disconnect = net_disconnect,
	.remove = net_remove,
	.adopt = net_adopt,
};
