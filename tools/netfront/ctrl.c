/* SPDX-License-Identifier: MIT */
/*
 * netfront control ring (feature-ctrl-ring): synchronous requests and the
 * Toeplitz hash configuration sequence. Control thread only; a request
 * waits for its response, so at most one is ever outstanding.
 */
#include <errno.h>
#include <stdint.h>
#include <poll.h>
#include <string.h>
#include <time.h>


#include "netfront_priv.h"

#define NF_CTRL_SLOT_SIZE sizeof(union xen_netif_ctrl_sring_entry)

int nf_ctrl_setup(struct netfront *nf)
{
	struct nf_ctrl *c = &nf->ctrl;
	int ret;

	memset(c, 0, sizeof(*c));
	ret = nf_ring_setup(nf, &c->ring, NF_CTRL_SLOT_SIZE);
	if (ret)
		return ret;
	ret = xg_evtchn_alloc_unbound(nf->dom, nf->backend_id, &c->port);
	if (ret)
		goto err_ring;
	c->port_up = true;
	ret = xg_pages_alloc(nf->dom, 1, &c->data_gfn);
	if (ret)
		goto err_port;
	c->data = xg_page_ptr(nf->dom, c->data_gfn);
	if (!c->data) {
		ret = -EFAULT;
		goto err_page;
	}
	ret = xg_grant_access(nf->dom, nf->backend_id, c->data_gfn, true,
			      &c->data_ref);
	if (ret)
		goto err_page;
	c->data_up = true;
	nf->ctrl_up = true;
	return 0;

err_page:
	xg_pages_free(nf->dom, 1, &c->data_gfn);
err_port:
	xg_evtchn_close(nf->dom, c->port);
	c->port_up = false;
err_ring:
	nf_ring_teardown(nf, &c->ring);
	return ret;
}

void nf_ctrl_teardown(struct netfront *nf)
{
	struct nf_ctrl *c = &nf->ctrl;

	if (c->port_up)
		xg_evtchn_close(nf->dom, c->port);
	c->port_up = false;
	if (c->data_up) {
		if (xg_grant_end(nf->dom, c->data_ref))
			nf->grant_leaks++;
		else
			xg_pages_free(nf->dom, 1, &c->data_gfn);
		c->data_up = false;
	}
	nf_ring_teardown(nf, &c->ring);
	nf->ctrl_up = false;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int netfront_ctrl(struct netfront *nf, uint16_t type, uint32_t d0,
		  uint32_t d1, uint32_t d2, uint32_t *status, uint32_t *data)
{
	struct nf_ctrl *c = &nf->ctrl;
	struct xen_netif_ctrl_request req = { 0 };
	struct xen_netif_ctrl_response rsp;
	struct pollfd pfd;
	int64_t deadline;
	evtchn_port_t p;

	if (!nf->ctrl_up)
		return -EOPNOTSUPP;
	req.id = c->next_id++;
	req.type = type;
	req.data[0] = d0;
	req.data[1] = d1;
	req.data[2] = d2;
	memcpy(nf_ring_slot(&c->ring, c->ring.req_prod_pvt++), &req,
	       sizeof(req));
	if (nf_ring_push(&c->ring))
		xg_evtchn_notify(nf->dom, c->port);

	pfd.fd = xg_evtchn_fd(nf->dom);
	pfd.events = POLLIN;
	deadline = now_ms() + nf_timeout(nf);
	for (;;) {
		RING_IDX prod;
		int64_t left;

		prod = __atomic_load_n(&c->ring.hdr->rsp_prod,
				       __ATOMIC_RELAXED);
		xb_rmb();
		if (prod != c->ring.rsp_cons)
			break;
		c->ring.hdr->rsp_event = c->ring.rsp_cons + 1;
		xb_mb();
		if (__atomic_load_n(&c->ring.hdr->rsp_prod, __ATOMIC_RELAXED) !=
		    c->ring.rsp_cons)
			continue;
		left = deadline - now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		/* Data queues' notifications are consumed here too: their
		 * owners look at the rings after any netfront_poll anyway. */
		poll(&pfd, 1, left < 10 ? (int)left : 10);
		while (xg_evtchn_pending(nf->dom, &p) == 0)
			xg_evtchn_unmask(nf->dom, p);
	}
	memcpy(&rsp, nf_ring_slot(&c->ring, c->ring.rsp_cons), sizeof(rsp));
	c->ring.rsp_cons++;
	c->ring.hdr->rsp_event = c->ring.rsp_cons + 1;
	if (rsp.id != req.id || rsp.type != req.type)
		return -EIO;
	*status = rsp.status;
	if (data)
		*data = rsp.data;
	return 0;
}

static int call(struct netfront *nf, uint16_t type, uint32_t d0, uint32_t d1,
		uint32_t d2, uint32_t *data, uint16_t *failed_type)
{
	uint32_t st;
	int ret;

	ret = netfront_ctrl(nf, type, d0, d1, d2, &st, data);
	if (!ret && st != XEN_NETIF_CTRL_STATUS_SUCCESS)
		ret = -EPROTO;
	if (ret && failed_type)
		*failed_type = type;
	return ret;
}

int netfront_set_hash(struct netfront *nf,
		      const struct netfront_hash_config *h,
		      uint16_t *failed_type)
{
	uint32_t supported = 0, max = 0, i;
	int ret;

	if (h->key_len > NETFRONT_HASH_KEY_MAX ||
	    h->mapping_size > NETFRONT_HASH_MAP_MAX)
		return -EINVAL;
	if (!nf->ctrl_up)
		return -EOPNOTSUPP;
	ret = call(nf, XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM,
		   XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ, 0, 0, NULL,
		   failed_type);
	if (ret)
		return ret;
	ret = call(nf, XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS, 0, 0, 0,
		   &supported, failed_type);
	if (ret)
		return ret;
	if (h->flags & ~supported) {
		if (failed_type)
			*failed_type = XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS;
		return -EPROTO;
	}
	ret = call(nf, XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS, h->flags, 0, 0,
		   NULL, failed_type);
	if (ret)
		return ret;
	memset(nf->ctrl.data, 0, NF_PAGE_SIZE);
	memcpy(nf->ctrl.data, h->key, h->key_len);
	ret = call(nf, XEN_NETIF_CTRL_TYPE_SET_HASH_KEY, nf->ctrl.data_ref,
		   h->key_len, 0, NULL, failed_type);
	if (ret || !h->mapping_size)
		return ret;
	ret = call(nf, XEN_NETIF_CTRL_TYPE_GET_HASH_MAPPING_SIZE, 0, 0, 0,
		   &max, failed_type);
	if (ret)
		return ret;
	if (h->mapping_size > max) {
		if (failed_type)
			*failed_type =
				XEN_NETIF_CTRL_TYPE_GET_HASH_MAPPING_SIZE;
		return -EPROTO;
	}
	ret = call(nf, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE,
		   h->mapping_size, 0, 0, NULL, failed_type);
	if (ret)
		return ret;
	for (i = 0; i < h->mapping_size; i++)
		memcpy(nf->ctrl.data + 4 * i, &h->mapping[i], 4);
	return call(nf, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING,
		    nf->ctrl.data_ref, h->mapping_size, 0, NULL, failed_type);
}
