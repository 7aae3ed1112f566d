/* SPDX-License-Identifier: MIT */
/* A minimal raw netif frontend for uback-net tests (net_testfe.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <xenstore.h>

#include "uback/xs.h"
#include "net_testfe.h"

static void nap(void)
{
	struct timespec ts = { 0, 200000 };

	nanosleep(&ts, NULL);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int nfe_init(struct nfe *fe, struct xg_dom *dom, unsigned int devid)
{
	char path[160], buf[32];
	int ret;

	memset(fe, 0, sizeof(*fe));
	fe->dom = dom;
	snprintf(fe->fe_path, sizeof(fe->fe_path),
		 "/local/domain/%u/device/vif/%u", xg_dom_id(dom), devid);
	ret = xg_dom_xs_open(dom, &fe->xs);
	if (ret)
		return ret;
	snprintf(path, sizeof(path), "%s/backend", fe->fe_path);
	ret = xb_xs_read_buf(fe->xs, XBT_NULL, path, fe->be_path,
			     sizeof(fe->be_path));
	if (!ret) {
		snprintf(path, sizeof(path), "%s/backend-id", fe->fe_path);
		ret = xb_xs_read_buf(fe->xs, XBT_NULL, path, buf, sizeof(buf));
	}
	if (ret) {
		xs_close(fe->xs);
		fe->xs = NULL;
		return ret;
	}
	fe->backend_id = (domid_t)atoi(buf);
	return 0;
}

void nfe_fini(struct nfe *fe)
{
	if (fe->xs)
		xs_close(fe->xs);
	fe->xs = NULL;
}

static int grant_pages(struct nfe *fe, unsigned int n, xen_pfn_t *gfns,
		       grant_ref_t *refs)
{
	unsigned int i;
	int ret;

	ret = xg_pages_alloc(fe->dom, n, gfns);
	if (ret)
		return ret;
	for (i = 0; i < n; i++) {
		memset(xg_page_ptr(fe->dom, gfns[i]), 0, 4096);
		ret = xg_grant_access(fe->dom, fe->backend_id, gfns[i], false,
				      &refs[i]);
		if (ret)
			return ret;
	}
	return 0;
}

static int setup_queue(struct nfe *fe, struct nfe_queue *q, bool split)
{
	netif_tx_sring_t *txs;
	netif_rx_sring_t *rxs;
	int ret;

	ret = grant_pages(fe, 1, &q->tx_ring_gfn, &q->tx_ring_ref);
	ret = ret ? ret : grant_pages(fe, 1, &q->rx_ring_gfn, &q->rx_ring_ref);
	ret = ret ? ret : grant_pages(fe, NFE_TX_PAGES, q->tx_gfn, q->tx_ref);
	ret = ret ? ret : grant_pages(fe, NFE_RX_PAGES, q->rx_gfn, q->rx_ref);
	if (ret)
		return ret;
	txs = xg_page_ptr(fe->dom, q->tx_ring_gfn);
	rxs = xg_page_ptr(fe->dom, q->rx_ring_gfn);
	SHARED_RING_INIT(txs);
	SHARED_RING_INIT(rxs);
	FRONT_RING_INIT(&q->tx, txs, 4096);
	FRONT_RING_INIT(&q->rx, rxs, 4096);
	ret = xg_evtchn_alloc_unbound(fe->dom, fe->backend_id, &q->tx_port);
	if (ret)
		return ret;
	q->rx_port = q->tx_port;
	if (split)
		ret = xg_evtchn_alloc_unbound(fe->dom, fe->backend_id,
					      &q->rx_port);
	return ret;
}

static int put(struct nfe *fe, xs_transaction_t t, const char *dir,
	       const char *key, unsigned int v)
{
	char path[192];

	snprintf(path, sizeof(path), "%s/%s%s", fe->fe_path, dir, key);
	return xb_xs_printf(fe->xs, t, path, "%u", v);
}

static int write_keys(struct nfe *fe, const struct nfe_config *cfg,
		      xs_transaction_t t)
{
	char dir[32], path[192];
	unsigned int i;
	int ret = 0;

	for (i = 0; i < fe->nr_queues && !ret; i++) {
		struct nfe_queue *q = &fe->q[i];

		if (fe->nr_queues == 1)
			dir[0] = '\0';
		else
			snprintf(dir, sizeof(dir), "queue-%u/", i);
		ret = put(fe, t, dir, "tx-ring-ref", q->tx_ring_ref);
		ret = ret ? ret : put(fe, t, dir, "rx-ring-ref", q->rx_ring_ref);
		if (ret)
			break;
		if (fe->split) {
			ret = put(fe, t, dir, "event-channel-tx", q->tx_port);
			ret = ret ? ret : put(fe, t, dir, "event-channel-rx",
					      q->rx_port);
		} else {
			ret = put(fe, t, dir, "event-channel", q->tx_port);
		}
	}
	if (!ret && fe->nr_queues > 1)
		ret = put(fe, t, "", "multi-queue-num-queues", fe->nr_queues);
	if (!ret && !cfg->no_rx_copy)
		ret = put(fe, t, "", "request-rx-copy", 1);
	ret = ret ? ret : put(fe, t, "", "feature-rx-notify", cfg->rx_notify);
	ret = ret ? ret : put(fe, t, "", "feature-sg", cfg->sg);
	ret = ret ? ret : put(fe, t, "", "feature-gso-tcpv4", cfg->gso4);
	ret = ret ? ret : put(fe, t, "", "feature-gso-tcpv6", cfg->gso6);
	ret = ret ? ret : put(fe, t, "", "feature-no-csum-offload",
			      cfg->no_csum);
	ret = ret ? ret : put(fe, t, "", "feature-ipv6-csum-offload",
			      cfg->csum6);
	if (!ret && cfg->mcast_ctrl)
		ret = put(fe, t, "", "request-multicast-control", 1);
	if (!ret && fe->has_ctrl) {
		ret = put(fe, t, "", "ctrl-ring-ref", fe->ctrl_ref);
		ret = ret ? ret : put(fe, t, "", "event-channel-ctrl",
				      fe->ctrl_port);
	}
	for (i = 0; !ret && cfg->extra_kv && cfg->extra_kv[i]; i += 2) {
		snprintf(path, sizeof(path), "%s/%s", fe->fe_path,
			 cfg->extra_kv[i]);
		ret = xb_xs_write(fe->xs, t, path, cfg->extra_kv[i + 1]);
	}
	return ret;
}

int nfe_connect(struct nfe *fe, const struct nfe_config *cfg, int timeout_ms)
{
	enum xenbus_state seen;
	xs_transaction_t t;
	unsigned int i, tries;
	int ret;

	fe->nr_queues = cfg->nr_queues ? cfg->nr_queues : 1;
	fe->split = cfg->split;
	if (fe->nr_queues > NFE_MAX_QUEUES)
		return -EINVAL;
	for (i = 0; i < fe->nr_queues; i++) {
		ret = setup_queue(fe, &fe->q[i], cfg->split);
		if (ret)
			return ret;
	}
	fe->has_ctrl = cfg->ctrl;
	if (cfg->ctrl) {
		xen_netif_ctrl_sring_t *cs;

		ret = grant_pages(fe, 1, &fe->ctrl_gfn, &fe->ctrl_ref);
		if (ret)
			return ret;
		cs = xg_page_ptr(fe->dom, fe->ctrl_gfn);
		SHARED_RING_INIT(cs);
		FRONT_RING_INIT(&fe->ctrl, cs, 4096);
		ret = xg_evtchn_alloc_unbound(fe->dom, fe->backend_id,
					      &fe->ctrl_port);
		if (ret)
			return ret;
	}
	ret = xg_xenbus_wait_state(fe->xs, fe->be_path,
				   1u << XenbusStateInitWait, timeout_ms,
				   &seen);
	if (ret)
		return ret;
	for (tries = 0; tries < 16; tries++) {
		t = xs_transaction_start(fe->xs);
		if (!t)
			return -EIO;
		ret = write_keys(fe, cfg, t);
		if (ret) {
			xs_transaction_end(fe->xs, t, true);
			return ret;
		}
		if (xs_transaction_end(fe->xs, t, false))
			break;
		if (errno != EAGAIN)
			return -EIO;
	}
	ret = xg_xenbus_switch(fe->xs, fe->fe_path, XenbusStateInitialised);
	if (ret)
		return ret;
	ret = xg_xenbus_wait_state(fe->xs, fe->be_path,
				   1u << XenbusStateConnected |
				   1u << XenbusStateClosing |
				   1u << XenbusStateClosed, timeout_ms, &seen);
	if (ret)
		return ret;
	if (seen != XenbusStateConnected)
		return -ECONNREFUSED;
	return xg_xenbus_switch(fe->xs, fe->fe_path, XenbusStateConnected);
}

static void end_grants(struct nfe *fe, unsigned int n, xen_pfn_t *gfns,
		       grant_ref_t *refs)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		xg_grant_end(fe->dom, refs[i]);
	xg_pages_free(fe->dom, n, gfns);
}

void nfe_disconnect(struct nfe *fe, int timeout_ms)
{
	enum xenbus_state seen;
	unsigned int i;

	xg_xenbus_switch(fe->xs, fe->fe_path, XenbusStateClosing);
	xg_xenbus_wait_state(fe->xs, fe->be_path,
			     1u << XenbusStateClosing | 1u << XenbusStateClosed,
			     timeout_ms, &seen);
	xg_xenbus_switch(fe->xs, fe->fe_path, XenbusStateClosed);
	xg_xenbus_wait_state(fe->xs, fe->be_path, 1u << XenbusStateClosed |
			     1u << XenbusStateInitWait, timeout_ms, &seen);
	for (i = 0; i < fe->nr_queues; i++) {
		struct nfe_queue *q = &fe->q[i];

		end_grants(fe, 1, &q->tx_ring_gfn, &q->tx_ring_ref);
		end_grants(fe, 1, &q->rx_ring_gfn, &q->rx_ring_ref);
		end_grants(fe, NFE_TX_PAGES, q->tx_gfn, q->tx_ref);
		end_grants(fe, NFE_RX_PAGES, q->rx_gfn, q->rx_ref);
		xg_evtchn_close(fe->dom, q->tx_port);
		if (q->rx_port != q->tx_port)
			xg_evtchn_close(fe->dom, q->rx_port);
	}
	fe->nr_queues = 0;
	if (fe->has_ctrl) {
		end_grants(fe, 1, &fe->ctrl_gfn, &fe->ctrl_ref);
		xg_evtchn_close(fe->dom, fe->ctrl_port);
		fe->has_ctrl = false;
	}
}

int nfe_ctrl(struct nfe *fe, uint16_t type, uint32_t d0, uint32_t d1,
	     uint32_t d2, struct xen_netif_ctrl_response *rsp,
	     int timeout_ms)
{
	uint64_t end = now_ms() + (uint64_t)timeout_ms;
	struct xen_netif_ctrl_request *r;
	int notify;

	r = RING_GET_REQUEST(&fe->ctrl, fe->ctrl.req_prod_pvt);
	r->id = (uint16_t)fe->ctrl.req_prod_pvt;
	r->type = type;
	r->data[0] = d0;
	r->data[1] = d1;
	r->data[2] = d2;
	fe->ctrl.req_prod_pvt++;
	RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&fe->ctrl, notify);
	if (notify)
		xg_evtchn_notify(fe->dom, fe->ctrl_port);
	while (fe->ctrl.sring->rsp_prod == fe->ctrl.rsp_cons) {
		if (now_ms() > end)
			return -ETIMEDOUT;
		nap();
	}
	xb_rmb();
	*rsp = *RING_GET_RESPONSE(&fe->ctrl, fe->ctrl.rsp_cons);
	fe->ctrl.rsp_cons++;
	return 0;
}

uint8_t *nfe_tx_page(struct nfe *fe, unsigned int q, unsigned int i)
{
	return xg_page_ptr(fe->dom, fe->q[q].tx_gfn[i % NFE_TX_PAGES]);
}

uint8_t *nfe_rx_page(struct nfe *fe, unsigned int q, unsigned int i)
{
	return xg_page_ptr(fe->dom, fe->q[q].rx_gfn[i % NFE_RX_PAGES]);
}

void nfe_tx_put(struct nfe *fe, unsigned int q, const void *slots,
		unsigned int n)
{
	struct nfe_queue *nq = &fe->q[q];
	const uint8_t *p = slots;
	unsigned int i;

	for (i = 0; i < n; i++) {
		memcpy(RING_GET_REQUEST(&nq->tx, nq->tx.req_prod_pvt), p,
		       sizeof(union netif_tx_sring_entry));
		nq->tx.req_prod_pvt++;
		p += sizeof(union netif_tx_sring_entry);
	}
}

void nfe_tx_push(struct nfe *fe, unsigned int q, bool force)
{
	struct nfe_queue *nq = &fe->q[q];
	int notify;

	RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&nq->tx, notify);
	if (notify || force)
		xg_evtchn_notify(fe->dom, nq->tx_port);
}

void nfe_tx_set_prod(struct nfe *fe, unsigned int q, RING_IDX prod)
{
	struct nfe_queue *nq = &fe->q[q];

	xb_wmb();
	nq->tx.sring->req_prod = prod;
	xb_mb();
	xg_evtchn_notify(fe->dom, nq->tx_port);
}

int nfe_tx_wait(struct nfe *fe, unsigned int q, unsigned int n,
		struct netif_tx_response *out, int timeout_ms)
{
	struct nfe_queue *nq = &fe->q[q];
	uint64_t end = now_ms() + (uint64_t)timeout_ms;
	unsigned int got = 0;

	while (got < n) {
		RING_IDX prod = nq->tx.sring->rsp_prod;

		xb_rmb();
		while (nq->tx.rsp_cons != prod && got < n) {
			if (out)
				out[got] = *RING_GET_RESPONSE(&nq->tx,
							      nq->tx.rsp_cons);
			nq->tx.rsp_cons++;
			got++;
		}
		if (got == n)
			break;
		if (now_ms() > end)
			return -ETIMEDOUT;
		nq->tx.sring->rsp_event = nq->tx.rsp_cons + 1;
		nap();
	}
	return 0;
}

void nfe_rx_post(struct nfe *fe, unsigned int q, unsigned int n,
		 const uint16_t *ids, const grant_ref_t *refs)
{
	struct nfe_queue *nq = &fe->q[q];
	unsigned int i;
	int notify;

	for (i = 0; i < n; i++) {
		netif_rx_request_t *r = RING_GET_REQUEST(&nq->rx,
							 nq->rx.req_prod_pvt);

		r->id = ids[i];
		r->gref = refs[i];
		nq->rx_slot_id[nq->rx.req_prod_pvt % 256] = ids[i];
		nq->rx.req_prod_pvt++;
	}
	RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&nq->rx, notify);
	if (notify)
		xg_evtchn_notify(fe->dom, nq->rx_port);
}

void nfe_rx_post_pages(struct nfe *fe, unsigned int q, unsigned int n,
		       const uint16_t *idx)
{
	grant_ref_t refs[NFE_RX_PAGES];
	unsigned int i;

	for (i = 0; i < n && i < NFE_RX_PAGES; i++)
		refs[i] = fe->q[q].rx_ref[idx[i] % NFE_RX_PAGES];
	nfe_rx_post(fe, q, i, idx, refs);
}

unsigned int nfe_rx_ready(struct nfe *fe, unsigned int q)
{
	struct nfe_queue *nq = &fe->q[q];

	return nq->rx.sring->rsp_prod - nq->rx.rsp_cons;
}

int nfe_rx_wait(struct nfe *fe, unsigned int q, unsigned int n,
		union netif_rx_sring_entry *out, int timeout_ms)
{
	struct nfe_queue *nq = &fe->q[q];
	uint64_t end = now_ms() + (uint64_t)timeout_ms;
	unsigned int got = 0;

	while (got < n) {
		RING_IDX prod = nq->rx.sring->rsp_prod;

		xb_rmb();
		while (nq->rx.rsp_cons != prod && got < n) {
			memcpy(&out[got], RING_GET_RESPONSE(&nq->rx,
							    nq->rx.rsp_cons),
			       sizeof(out[got]));
			nq->rx.rsp_cons++;
			got++;
		}
		if (got == n)
			break;
		if (now_ms() > end)
			return -ETIMEDOUT;
		nq->rx.sring->rsp_event = nq->rx.rsp_cons + 1;
		nap();
	}
	return 0;
}

unsigned int nfe_send(struct nfe *fe, unsigned int q, const uint8_t *frame,
		      uint32_t len, uint16_t flags, uint8_t gso_type,
		      uint16_t gso_size, uint16_t id0)
{
	union netif_tx_sring_entry s[24];
	uint32_t nchunks = len ? (len + 4095) / 4096 : 1, k;
	unsigned int base = gso_type ? 2 : 1;

	memset(s, 0, sizeof(s));
	if (nchunks > 24 - base)
		nchunks = 24 - base;
	if (gso_type) {
		netif_extra_info_t *x = (netif_extra_info_t *)&s[1];

		x->type = XEN_NETIF_EXTRA_TYPE_GSO;
		x->u.gso.type = gso_type;
		x->u.gso.size = gso_size;
	}
	for (k = 0; k < nchunks; k++) {
		netif_tx_request_t *r = &s[k ? base + k - 1 : 0].req;
		uint32_t chunk = len - k * 4096 > 4096 ? 4096 : len - k * 4096;
		unsigned int page = (id0 + k) % NFE_TX_PAGES;

		memcpy(nfe_tx_page(fe, q, page), frame + k * 4096, chunk);
		r->gref = fe->q[q].tx_ref[page];
		r->offset = 0;
		r->id = (uint16_t)(id0 + k);
		r->size = (uint16_t)(k ? chunk : len);
		r->flags = k ? 0 : flags;
		if (!k && gso_type)
			r->flags |= NETTXF_extra_info;
		if (k + 1 < nchunks)
			r->flags |= NETTXF_more_data;
	}
	nfe_tx_put(fe, q, s, base + nchunks - 1);
	return base + nchunks - 1;
}

int nfe_recv(struct nfe *fe, unsigned int q, uint8_t *buf,
	     struct nfe_rx_frame *out, int timeout_ms)
{
	union netif_rx_sring_entry e;
	bool more = true, extras;
	RING_IDX idx;
	int ret;

	memset(out, 0, sizeof(*out));
	ret = nfe_rx_wait(fe, q, 1, &e, timeout_ms);
	if (ret)
		return ret;
	out->slots = 1;
	out->flags = e.rsp.flags;
	extras = e.rsp.flags & NETRXF_extra_info;
	for (;;) {
		const struct netif_rx_response *r = &e.rsp;

		if (r->id >= NFE_RX_PAGES || out->nids == 24)
			return -EPROTO;
		out->ids[out->nids++] = r->id;
		if (r->status < 0) {
			if (!out->status)
				out->status = r->status;
		} else {
			if (r->offset + r->status > 4096 ||
			    out->len + (uint32_t)r->status > 65535)
				return -EPROTO;
			memcpy(buf + out->len,
			       nfe_rx_page(fe, q, r->id) + r->offset,
			       (size_t)r->status);
			out->len += (uint32_t)r->status;
		}
		more = r->flags & NETRXF_more_data;
		/* Extra-info slots come right after the first response. */
		while (extras) {
			netif_extra_info_t *x;

			/* An extra uses a request too: its id is the one
			 * we posted in that slot. */
			idx = fe->q[q].rx.rsp_cons;
			ret = nfe_rx_wait(fe, q, 1, &e, timeout_ms);
			if (ret)
				return ret;
			out->slots++;
			if (out->nids == 24)
				return -EPROTO;
			out->ids[out->nids++] = fe->q[q].rx_slot_id[idx % 256];
			x = (netif_extra_info_t *)&e;
			if (x->type == XEN_NETIF_EXTRA_TYPE_GSO) {
				out->gso = true;
				out->gso_type = x->u.gso.type;
				out->gso_size = x->u.gso.size;
			} else if (x->type == XEN_NETIF_EXTRA_TYPE_HASH) {
				out->hash = true;
				out->hash_type = x->u.hash.type;
				memcpy(&out->hash_value, x->u.hash.value, 4);
			} else {
				return -EPROTO;
			}
			extras = x->flags & XEN_NETIF_EXTRA_FLAG_MORE;
		}
		if (!more)
			break;
		ret = nfe_rx_wait(fe, q, 1, &e, timeout_ms);
		if (ret)
			return ret;
		out->slots++;
	}
	return 0;
}
