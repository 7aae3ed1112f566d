/* SPDX-License-Identifier: MIT */
/*
 * netfront control plane: the XenBus handshake as Linux xen-netfront runs
 * it (talk_to_netback on the backend's InitWait, then Connected), link
 * watching, and teardown.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include <uback/xs.h>
#include <xen/io/xenbus.h>

#include "netfront_priv.h"

#define NF_WATCH_TOKEN "netfront-be-state"
#define NF_DEFAULT_TIMEOUT_MS 30000
#define ST(s) (1u << (s))

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int nf_timeout(const struct netfront *nf)
{
	return nf->cfg.timeout_ms > 0 ? nf->cfg.timeout_ms
				      : NF_DEFAULT_TIMEOUT_MS;
}

void nf_end_grant(struct netfront *nf, grant_ref_t *ref)
{
	if (*ref == NF_NO_REF)
		return;
	if (xg_grant_end(nf->dom, *ref))
		nf->grant_leaks++;
	*ref = NF_NO_REF;
}

/* Drop queued watch events; true if one was for the backend state. */
static bool drain_watch(struct netfront *nf)
{
	bool be = false;
	char **vec;

	while (xb_xs_read_watch(nf->xs, &vec) == 0) {
		if (!strcmp(vec[XS_WATCH_PATH], nf->be_state_path))
			be = true;
		free(vec);
	}
	return be;
}

/* Wait for the backend state to be in @mask; -ECONNREFUSED if it enters
 * @fail first. Re-reads at least every 200 ms. */
static int wait_be(struct netfront *nf, uint32_t mask, uint32_t fail,
		   int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	struct pollfd pfd = { .fd = xb_xs_watch_fd(nf->xs), .events = POLLIN };

	for (;;) {
		enum xenbus_state st;
		int64_t left;

		drain_watch(nf);
		if (xg_xenbus_read_state(nf->xs, nf->be_path, &st) == 0) {
			if (mask & ST(st))
				return 0;
			if (fail & ST(st))
				return -ECONNREFUSED;
		}
		left = deadline - now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		poll(&pfd, 1, left < 200 ? (int)left : 200);
	}
}

static unsigned int read_uint(struct netfront *nf, const char *dir,
			      const char *key, unsigned int max,
			      unsigned int dflt)
{
	char path[200];
	uint64_t v;

	snprintf(path, sizeof(path), "%s/%s", dir, key);
	if (xb_xs_read_u64(nf->xs, XBT_NULL, path, max, &v))
		return dflt;
	return (unsigned int)v;
}

static void read_offers(struct netfront *nf)
{
	struct netfront_info *i = &nf->info;
	const char *b = nf->be_path;

	i->be_max_queues = read_uint(nf, b, "multi-queue-max-queues", 65536, 0);
	i->be_sg = read_uint(nf, b, "feature-sg", 1, 0);
	i->be_gso_tcpv4 = read_uint(nf, b, "feature-gso-tcpv4", 1, 0);
	i->be_gso_tcpv6 = read_uint(nf, b, "feature-gso-tcpv6", 1, 0);
	i->be_ipv6_csum = read_uint(nf, b, "feature-ipv6-csum-offload", 1, 0);
	i->be_rx_copy = read_uint(nf, b, "feature-rx-copy", 1, 0);
	i->be_split_evtchn = read_uint(nf, b, "feature-split-event-channels",
				       1, 0);
	i->be_ctrl_ring = read_uint(nf, b, "feature-ctrl-ring", 1, 0);
	i->be_multicast_control = read_uint(nf, b,
					    "feature-multicast-control", 1, 0);
	i->be_dynamic_multicast_control =
		read_uint(nf, b, "feature-dynamic-multicast-control", 1, 0);
}

static void negotiate(struct netfront *nf)
{
	const struct netfront_config *c = &nf->cfg;
	struct netfront_info *i = &nf->info;
	unsigned int nq = c->nr_queues ? c->nr_queues : 1;

	if (nq > (i->be_max_queues ? i->be_max_queues : 1))
		nq = i->be_max_queues ? i->be_max_queues : 1;
	i->nr_queues = nq;
	i->split_evtchn = c->split_evtchn && i->be_split_evtchn;
	i->sg = c->sg && i->be_sg;
	i->tx_csum = !c->no_csum_offload;
	i->rx_csum = !c->no_csum_offload;
	i->ipv6_csum = c->ipv6_csum && i->be_ipv6_csum && i->tx_csum;
	/* As Linux: TSO needs SG and checksum offload of its family. */
	i->gso_tcpv4 = c->gso_tcpv4 && i->be_gso_tcpv4 && i->sg && i->tx_csum;
	i->gso_tcpv6 = c->gso_tcpv6 && i->be_gso_tcpv6 && i->sg &&
		       i->ipv6_csum;
	i->multicast_control = c->multicast_control &&
			       i->be_multicast_control;
	i->ctrl_ring = c->ctrl_ring && i->be_ctrl_ring;
}

static int queue_setup(struct netfront *nf, struct nf_queue *q)
{
	int ret;

	ret = nf_ring_setup(nf, &q->tx, NETFRONT_TX_SLOT_SIZE);
	if (ret)
		return ret;
	if (nf->cfg.tx_poll)   /* as netfront_queue_reap keeps it */
		q->tx.hdr->rsp_event = NF_RSP_EVENT_AWAY;
	ret = nf_ring_setup(nf, &q->rx, NETFRONT_RX_SLOT_SIZE);
	if (ret)
		return ret;
	/* TX pages are only read by the backend; RX pages are written. */
	ret = nf_pool_setup(nf, &q->tx_pool, true);
	if (ret)
		return ret;
	ret = nf_pool_setup(nf, &q->rx_pool, false);
	if (ret)
		return ret;
	ret = xg_evtchn_alloc_unbound(nf->dom, nf->backend_id, &q->tx_port);
	if (ret)
		return ret;
	q->tx_port_up = true;
	q->rx_port = q->tx_port;
	if (nf->info.split_evtchn) {
		ret = xg_evtchn_alloc_unbound(nf->dom, nf->backend_id,
					      &q->rx_port);
		if (ret)
			return ret;
		q->rx_port_up = true;
	}
	nf_tx_init(q);
	q->rx_fill = nf->cfg.rx_fill && nf->cfg.rx_fill < q->rx.nr_ents
		     ? nf->cfg.rx_fill : q->rx.nr_ents;
	q->rx_released = 0;
	nf_rx_refill(q);
	nf_ring_push(&q->rx);
	return 0;
}

static void queue_teardown(struct netfront *nf, struct nf_queue *q)
{
	if (q->rx_port_up)
		xg_evtchn_close(nf->dom, q->rx_port);
	if (q->tx_port_up)
		xg_evtchn_close(nf->dom, q->tx_port);
	q->rx_port_up = q->tx_port_up = false;
	nf_ring_teardown(nf, &q->tx);
	nf_ring_teardown(nf, &q->rx);
	nf_pool_teardown(nf, &q->tx_pool);
	nf_pool_teardown(nf, &q->rx_pool);
}

static int put(struct netfront *nf, xs_transaction_t t, const char *dir,
	       const char *key, unsigned int v)
{
	char path[200];

	snprintf(path, sizeof(path), "%s/%s", dir, key);
	return xb_xs_printf(nf->xs, t, path, "%u", v);
}

static int write_queue_keys(struct netfront *nf, xs_transaction_t t,
			    const char *dir, const struct nf_queue *q)
{
	int ret;

	ret = put(nf, t, dir, "tx-ring-ref", q->tx.ref);
	if (!ret)
		ret = put(nf, t, dir, "rx-ring-ref", q->rx.ref);
	if (ret)
		return ret;
	if (!nf->info.split_evtchn)
		return put(nf, t, dir, "event-channel", q->tx_port);
	ret = put(nf, t, dir, "event-channel-tx", q->tx_port);
	return ret ? ret : put(nf, t, dir, "event-channel-rx", q->rx_port);
}

static int write_keys(struct xs_handle *xs, xs_transaction_t t, void *arg)
{
	struct netfront *nf = arg;
	const struct netfront_config *c = &nf->cfg;
	const struct netfront_info *i = &nf->info;
	const char *fe = nf->fe_path;
	const char *const *kv;
	unsigned int qi;
	char dir[200];
	int ret = 0;

	(void)xs;
	if (c->nr_queues && i->be_max_queues)
		ret = put(nf, t, fe, "multi-queue-num-queues", nf->nr_queues);
	if (ret)
		return ret;
	if (nf->nr_queues == 1) {
		ret = write_queue_keys(nf, t, fe, &nf->queues[0]);
	} else {
		for (qi = 0; !ret && qi < nf->nr_queues; qi++) {
			snprintf(dir, sizeof(dir), "%s/queue-%u", fe, qi);
			ret = write_queue_keys(nf, t, dir, &nf->queues[qi]);
		}
	}
	if (!ret && !c->no_rx_copy)
		ret = put(nf, t, fe, "request-rx-copy", 1);
	if (!ret && !c->no_rx_notify)
		ret = put(nf, t, fe, "feature-rx-notify", 1);
	if (!ret && c->sg)
		ret = put(nf, t, fe, "feature-sg", 1);
	/* What we accept on RX: GSO needs SG (64 KiB over many slots) and
	 * blank checksums. */
	if (!ret && c->gso_tcpv4 && c->sg && !c->no_csum_offload)
		ret = put(nf, t, fe, "feature-gso-tcpv4", 1);
	if (!ret && c->gso_tcpv6 && c->sg && c->ipv6_csum &&
	    !c->no_csum_offload)
		ret = put(nf, t, fe, "feature-gso-tcpv6", 1);
	if (!ret && c->no_csum_offload)
		ret = put(nf, t, fe, "feature-no-csum-offload", 1);
	if (!ret && c->ipv6_csum && !c->no_csum_offload)
		ret = put(nf, t, fe, "feature-ipv6-csum-offload", 1);
	if (!ret && i->multicast_control)
		ret = put(nf, t, fe, "request-multicast-control", 1);
	if (!ret && nf->ctrl_up) {
		ret = put(nf, t, fe, "ctrl-ring-ref", nf->ctrl.ring.ref);
		if (!ret)
			ret = put(nf, t, fe, "event-channel-ctrl",
				  nf->ctrl.port);
	}
	for (kv = c->extra_kv; !ret && kv && kv[0]; kv += 2) {
		char path[200];

		snprintf(path, sizeof(path), "%s/%s", fe, kv[0]);
		ret = kv[1] ? xb_xs_write(nf->xs, t, path, kv[1])
			    : xb_xs_rm(nf->xs, t, path);
	}
	return ret;
}

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned int b[6], i;
	char tail;

	if (sscanf(s, "%x:%x:%x:%x:%x:%x%c", &b[0], &b[1], &b[2], &b[3],
		   &b[4], &b[5], &tail) != 6)
		return -EINVAL;
	for (i = 0; i < 6; i++) {
		if (b[i] > 0xff)
			return -EINVAL;
		mac[i] = (uint8_t)b[i];
	}
	return 0;
}

static int read_frontend(struct netfront *nf)
{
	char path[200], mac[32];
	uint64_t v;
	int ret;

	snprintf(nf->fe_path, sizeof(nf->fe_path),
		 "/local/domain/%u/device/vif/%u", nf->domid, nf->cfg.devid);
	snprintf(path, sizeof(path), "%s/backend", nf->fe_path);
	ret = xb_xs_read_buf(nf->xs, XBT_NULL, path, nf->be_path,
			     sizeof(nf->be_path));
	if (ret)
		return ret;
	snprintf(path, sizeof(path), "%s/backend-id", nf->fe_path);
	ret = xb_xs_read_u64(nf->xs, XBT_NULL, path, DOMID_FIRST_RESERVED - 1,
			     &v);
	if (ret)
		return ret;
	nf->backend_id = (domid_t)v;
	nf->info.backend_id = nf->backend_id;
	snprintf(nf->be_state_path, sizeof(nf->be_state_path), "%s/state",
		 nf->be_path);
	snprintf(path, sizeof(path), "%s/mac", nf->fe_path);
	if (xb_xs_read_buf(nf->xs, XBT_NULL, path, mac, sizeof(mac)) == 0)
		parse_mac(mac, nf->info.mac);
	nf->info.mtu = read_uint(nf, nf->fe_path, "mtu", 65535, 0);
	return 0;
}

/* Frees @nf; *leaks (if not NULL) gets the final grant leak count. */
static void free_all(struct netfront *nf, uint64_t *leaks)
{
	unsigned int qi;

	if (nf->ctrl_up)
		nf_ctrl_teardown(nf);
	for (qi = 0; nf->queues && qi < nf->nr_queues; qi++)
		queue_teardown(nf, &nf->queues[qi]);
	free(nf->queues);
	if (nf->xs) {
		xb_xs_unwatch(nf->xs, nf->be_state_path, NF_WATCH_TOKEN);
		xs_close(nf->xs);
	}
	if (nf->epfd >= 0)
		close(nf->epfd);
	if (leaks)
		*leaks = nf->grant_leaks;
	free(nf);
}

static int setup_epoll(struct netfront *nf)
{
	struct epoll_event ev = { .events = EPOLLIN };

	nf->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (nf->epfd < 0)
		return -errno;
	ev.data.fd = xg_evtchn_fd(nf->dom);
	if (epoll_ctl(nf->epfd, EPOLL_CTL_ADD, ev.data.fd, &ev) < 0)
		return -errno;
	ev.data.fd = xb_xs_watch_fd(nf->xs);
	if (epoll_ctl(nf->epfd, EPOLL_CTL_ADD, ev.data.fd, &ev) < 0)
		return -errno;
	return 0;
}

int netfront_connect(const struct netfront_config *cfg, struct netfront **out)
{
	struct netfront *nf;
	unsigned int qi;
	int ret;

	if (!cfg || !cfg->dom || cfg->nr_queues > NETFRONT_MAX_QUEUES ||
	    cfg->rx_fill > NF_RING_ENTS || (cfg->hash && !cfg->ctrl_ring))
		return -EINVAL;
	nf = calloc(1, sizeof(*nf));
	if (!nf)
		return -ENOMEM;
	nf->epfd = -1;
	nf->cfg = *cfg;
	nf->dom = cfg->dom;
	nf->domid = xg_dom_id(cfg->dom);

	ret = xg_dom_xs_open(nf->dom, &nf->xs);
	if (ret)
		goto err;
	ret = read_frontend(nf);
	if (ret)
		goto err;
	ret = setup_epoll(nf);
	if (ret)
		goto err;
	ret = xb_xs_watch(nf->xs, nf->be_state_path, NF_WATCH_TOKEN);
	if (ret)
		goto err;
	ret = wait_be(nf, ST(XenbusStateInitWait), 0, nf_timeout(nf));
	if (ret)
		goto err;
	read_offers(nf);
	negotiate(nf);

	nf->queues = calloc(nf->info.nr_queues, sizeof(*nf->queues));
	if (!nf->queues) {
		ret = -ENOMEM;
		goto err_closed;
	}
	nf->nr_queues = nf->info.nr_queues;
	for (qi = 0; qi < nf->nr_queues; qi++) {
		nf->queues[qi].nf = nf;
		nf->queues[qi].idx = qi;
		ret = queue_setup(nf, &nf->queues[qi]);
		if (ret)
			goto err_closed;
	}
	if (nf->info.ctrl_ring) {
		ret = nf_ctrl_setup(nf);
		if (ret)
			goto err_closed;
	}
	ret = xb_xs_transact(nf->xs, write_keys, nf, 0);
	if (ret)
		goto err_closed;
	ret = xg_xenbus_switch(nf->xs, nf->fe_path, XenbusStateConnected);
	if (ret)
		goto err_closed;
	ret = wait_be(nf, ST(XenbusStateConnected),
		      ST(XenbusStateClosing) | ST(XenbusStateClosed),
		      nf_timeout(nf));
	if (ret)
		goto err_closed;
	nf->info.tx_ents = nf->queues[0].tx.nr_ents;
	nf->info.rx_ents = nf->queues[0].rx.nr_ents;
	nf->connected = true;
	drain_watch(nf);
	/* The RX requests were published before the backend looked. */
	for (qi = 0; qi < nf->nr_queues; qi++)
		xg_evtchn_notify(nf->dom, nf->queues[qi].rx_port);
	if (cfg->hash) {
		ret = netfront_set_hash(nf, cfg->hash, NULL);
		if (ret)
			goto err_closed;
		nf->info.hash = true;
	}
	*out = nf;
	return 0;

err_closed:
	nf->connected = false;
	xg_xenbus_switch(nf->xs, nf->fe_path, XenbusStateClosed);
err:
	free_all(nf, NULL);
	return ret;
}

uint64_t netfront_raw_close(struct netfront *nf)
{
	uint64_t leaks;
	int t;

	if (!nf)
		return 0;
	t = nf_timeout(nf) < 5000 ? nf_timeout(nf) : 5000;
	if (nf->xs) {
		xg_xenbus_switch(nf->xs, nf->fe_path, XenbusStateClosing);
		wait_be(nf, ST(XenbusStateClosing) | ST(XenbusStateClosed) |
			ST(XenbusStateInitWait), 0, t);
		xg_xenbus_switch(nf->xs, nf->fe_path, XenbusStateClosed);
		wait_be(nf, ST(XenbusStateClosed) | ST(XenbusStateInitWait),
			0, t);
	}
	nf->connected = false;
	/* free_all ends the grants: count what it could not end. */
	free_all(nf, &leaks);
	return leaks;
}

void netfront_close(struct netfront *nf)
{
	netfront_raw_close(nf);
}

void netfront_get_info(const struct netfront *nf, struct netfront_info *info)
{
	*info = nf->info;
}

void netfront_get_stats(const struct netfront *nf, unsigned int q,
			struct netfront_stats *out)
{
	if (q < nf->nr_queues)
		*out = nf->queues[q].st;
	else
		memset(out, 0, sizeof(*out));
}

uint64_t netfront_grant_leaks(const struct netfront *nf)
{
	return nf->grant_leaks;
}

int netfront_poll(struct netfront *nf)
{
	enum xenbus_state st;
	evtchn_port_t port;
	unsigned int qi;

	if (drain_watch(nf) && nf->connected &&
	    (xg_xenbus_read_state(nf->xs, nf->be_path, &st) ||
	     st != XenbusStateConnected))
		nf->broken = true;
	while (xg_evtchn_pending(nf->dom, &port) == 0) {
		xg_evtchn_unmask(nf->dom, port);
		if (nf->nr_queues)
			nf->queues[0].st.events++;
		for (qi = 0; qi < nf->nr_queues; qi++)
			if (nf->queues[qi].tx_port == port &&
			    nf->queues[qi].rx_port != port)
				nf->queues[qi].st.tx_events++;
	}
	for (qi = 0; nf->connected && qi < nf->nr_queues; qi++)
		netfront_queue_reap(nf, qi);
	return nf->broken ? -ENOTCONN : 0;
}

int netfront_fd(const struct netfront *nf)
{
	return nf->epfd;
}

int netfront_wait(struct netfront *nf, int timeout_ms)
{
	struct pollfd pfd = { .fd = nf->epfd, .events = POLLIN };
	int r;

	do {
		r = poll(&pfd, 1, timeout_ms);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	return r ? 0 : -ETIMEDOUT;
}
