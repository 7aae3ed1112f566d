/* SPDX-License-Identifier: MIT */
/* The netif control ring consumer: see ctrl.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "uback/log.h"

#include "ctrl.h"
#include "state.h"

#define NET_HASH_ALL_TYPES (XEN_NETIF_CTRL_HASH_TYPE_IPV4 |               \
			    XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP |           \
			    XEN_NETIF_CTRL_HASH_TYPE_IPV6 |               \
			    XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP)

/* A ctrl ring slot is the union DEFINE_RING_TYPES(xen_netif_ctrl) makes. */
#define NET_CTRL_SLOT_SIZE sizeof(union xen_netif_ctrl_sring_entry)

/* Bounded event channel drain, as a handle has one port here. */
#define NET_CTRL_DRAIN_MAX 16

struct net_ctrl {
	struct net_ctrl_config cfg;
	struct xb_gnt *gnt;
	void *ring_addr;
	struct xb_back_ring ring;
	struct xb_evtchn *evtchn;
	evtchn_port_t port;
	bool halted;
	struct net_state_ctrl own_state;   /* without cfg->state */
};

/*
 * Seqcount writer (readers in hash.c). One writer: the thread that calls
 * net_ctrl_handle. Shared fields are stored with relaxed atomics between
 * the odd store + release fence and the final release store of seq.
 */
static void hash_write_begin(struct net_hash *h)
{
	uint32_t seq = __atomic_load_n(&h->seq, __ATOMIC_RELAXED);

	__atomic_store_n(&h->seq, seq + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
}

static void hash_write_end(struct net_hash *h)
{
	uint32_t seq = __atomic_load_n(&h->seq, __ATOMIC_RELAXED);

	__atomic_store_n(&h->seq, seq + 1, __ATOMIC_RELEASE);
}

static void set_u32(uint32_t *p, uint32_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELAXED);
}

/* Copy @len bytes at offset 0 of the guest's granted page @ref into
 * @dst (private memory). The grant may be read-only: we only read it. */
static int copy_from_grant(struct xb_gnt *gnt, domid_t domid,
			   grant_ref_t ref, void *dst, uint16_t len)
{
	struct xb_gcopy_seg seg;
	int ret;

	if (!gnt)
		return -EINVAL;
	memset(&seg, 0, sizeof(seg));
	seg.source.foreign.ref = ref;
	seg.source.foreign.offset = 0;
	seg.source.foreign.domid = domid;
	seg.dest.virt = dst;
	seg.len = len;
	seg.flags = GNTCOPY_source_gref;
	ret = xb_gnt_copy(gnt, 1, &seg);
	if (ret)
		return ret;
	return seg.status == GNTST_okay ? 0 : -EFAULT;
}

static uint32_t set_alg(struct net_hash *h, uint32_t alg)
{
	if (alg != XEN_NETIF_CTRL_HASH_ALGORITHM_NONE &&
	    alg != XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ)
		return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
	hash_write_begin(h);
	set_u32(&h->alg, alg);
	hash_write_end(h);
	return XEN_NETIF_CTRL_STATUS_SUCCESS;
}

static uint32_t get_flags(const struct net_hash *h, uint32_t *data)
{
	if (h->alg == XEN_NETIF_CTRL_HASH_ALGORITHM_NONE)
		return XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED;
	*data = NET_HASH_ALL_TYPES;
	return XEN_NETIF_CTRL_STATUS_SUCCESS;
}

static uint32_t set_flags(struct net_hash *h, uint32_t flags)
{
	if ((flags & ~(uint32_t)NET_HASH_ALL_TYPES) ||
	    h->alg == XEN_NETIF_CTRL_HASH_ALGORITHM_NONE)
		return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
	hash_write_begin(h);
	set_u32(&h->flags, flags);
	hash_write_end(h);
	return XEN_NETIF_CTRL_STATUS_SUCCESS;
}

static uint32_t set_key(struct net_hash *h, struct xb_gnt *gnt, domid_t domid,
			grant_ref_t ref, uint32_t len)
{
	uint8_t key[NET_HASH_KEY_MAX];
	uint32_t i;

	/* netif.h names BUFFER_OVERFLOW for a key longer than we support
	 * (Linux answers INVALID_PARAMETER; frontends test for SUCCESS). */
	if (len > NET_HASH_KEY_MAX)
		return XEN_NETIF_CTRL_STATUS_BUFFER_OVERFLOW;
	/* Unspecified octets are zero; a zero-length key needs no grant. */
	memset(key, 0, sizeof(key));
	if (len && copy_from_grant(gnt, domid, ref, key, (uint16_t)len))
		return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
	hash_write_begin(h);
	for (i = 0; i < NET_HASH_KEY_MAX; i++)
		__atomic_store_n(&h->key[i], key[i], __ATOMIC_RELAXED);
	set_u32(&h->key_len, len);
	hash_write_end(h);
	return XEN_NETIF_CTRL_STATUS_SUCCESS;
}

static uint32_t set_mapping_size(struct net_hash *h, uint32_t size)
{
	uint32_t i;

	if (size > NET_HASH_MAPPING_MAX)
		return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
	/* A new table is zero filled; size 0 means modular arithmetic. */
	hash_write_begin(h);
	set_u32(&h->mapping_size, size);
	for (i = 0; i < NET_HASH_MAPPING_MAX; i++)
		set_u32(&h->mapping[i], 0);
	hash_write_end(h);
	return XEN_NETIF_CTRL_STATUS_SUCCESS;
}

static uint32_t set_mapping(struct net_hash *h, unsigned int nr_queues,
			    struct xb_gnt *gnt, domid_t domid,
			    grant_ref_t ref, uint32_t len, uint32_t off)
{
	uint32_t table[NET_HASH_MAPPING_MAX];
	uint32_t i;

	if (len > NET_HASH_MAPPING_MAX)
		return XEN_NETIF_CTRL_STATUS_BUFFER_OVERFLOW;
	/* off + len computed in 64 bits: a guest's huge offset must not
	 * wrap around into the table. */
	if ((uint64_t)off + len > h->mapping_size)
		return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
	if (!len)
		return XEN_NETIF_CTRL_STATUS_SUCCESS;
	/* The whole sub-table is validated in private memory before any of
	 * it is applied: a bad entry leaves the old table intact. */
	if (copy_from_grant(gnt, domid, ref, table,
			    (uint16_t)(len * sizeof(table[0]))))
		return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
	for (i = 0; i < len; i++)
		if (table[i] >= nr_queues)
			return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
	hash_write_begin(h);
	for (i = 0; i < len; i++)
		set_u32(&h->mapping[off + i], table[i]);
	hash_write_end(h);
	return XEN_NETIF_CTRL_STATUS_SUCCESS;
}

void net_ctrl_handle(struct net_hash *h, unsigned int nr_queues,
		     struct xb_gnt *gnt, domid_t domid,
		     const struct xen_netif_ctrl_request *req,
		     struct xen_netif_ctrl_response *rsp)
{
	uint32_t status = XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED;
	uint32_t data = 0;

	switch (req->type) {
	case XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM:
		status = set_alg(h, req->data[0]);
		break;
	case XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS:
		status = get_flags(h, &data);
		break;
	case XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS:
		status = set_flags(h, req->data[0]);
		break;
	case XEN_NETIF_CTRL_TYPE_SET_HASH_KEY:
		status = set_key(h, gnt, domid, req->data[0], req->data[1]);
		break;
	case XEN_NETIF_CTRL_TYPE_GET_HASH_MAPPING_SIZE:
		status = XEN_NETIF_CTRL_STATUS_SUCCESS;
		data = NET_HASH_MAPPING_MAX;
		break;
	case XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE:
		status = set_mapping_size(h, req->data[0]);
		break;
	case XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING:
		status = set_mapping(h, nr_queues, gnt, domid, req->data[0],
				     req->data[1], req->data[2]);
		break;
	default:
		/* INVALID, the static grant (gref mapping) ops, unknown. */
		break;
	}
	rsp->id = req->id;
	rsp->type = req->type;
	rsp->status = status;
	rsp->data = data;
}

/* Answer @req in the slot at rsp_prod_pvt; recorded once whole. */
static void respond(struct net_ctrl *c,
		    const struct xen_netif_ctrl_request *req)
{
	struct xen_netif_ctrl_response rsp;

	net_ctrl_handle(c->cfg.hash, c->cfg.nr_queues, c->gnt, c->cfg.domid,
			req, &rsp);
	memcpy(xb_ring_slot(&c->ring, c->ring.rsp_prod_pvt), &rsp,
	       sizeof(rsp));
	c->ring.rsp_prod_pvt++;
	net_state_store(&c->cfg.state->rsp_written, c->ring.rsp_prod_pvt);
}

/* Record where a fresh ring starts, or take the predecessor's indices
 * and answer the request it left half done (state.h "Recovery"). */
static int ctrl_state_start(struct net_ctrl *c)
{
	struct net_state_ctrl *s = c->cfg.state;
	RING_IDX cons = s->req_cons, written = s->rsp_written, pub;

	if (!c->cfg.adopt) {
		net_state_store(&s->req_cons, c->ring.req_cons);
		net_state_store(&s->rsp_written, c->ring.rsp_prod_pvt);
		return 0;
	}
	pub = __atomic_load_n(&c->ring.sring->rsp_prod, __ATOMIC_RELAXED);
	if ((RING_IDX)(cons - written) > 1 ||
	    (RING_IDX)(written - pub) > c->ring.nr_ents) {
		xb_err("dom%u ctrl ring: state indices do not match the ring",
		       c->cfg.domid);
		return -EUCLEAN;
	}
	c->ring.req_cons = cons;
	c->ring.rsp_prod_pvt = written;
	if (cons != written) {
		struct xen_netif_ctrl_request req = s->req;

		respond(c, &req);
	}
	xb_ring_push_rsps(&c->ring);
	return 0;
}

int net_ctrl_open(const struct net_ctrl_config *cfg, struct net_ctrl **out)
{
	struct net_ctrl *c;
	int ret;

	if (!cfg->hv || !cfg->hash || (cfg->adopt && !cfg->state))
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->cfg = *cfg;
	if (!c->cfg.state)
		c->cfg.state = &c->own_state;

	ret = xb_gnt_open(cfg->hv, &c->gnt);
	if (ret) {
		xb_err("dom%u ctrl ring: cannot open grant handle: %s",
		       cfg->domid, strerror(-ret));
		goto err_free;
	}
	ret = xb_gnt_map(c->gnt, cfg->domid, 1, &cfg->ring_ref, false,
			 &c->ring_addr);
	if (ret) {
		xb_err("dom%u ctrl ring: cannot map ctrl-ring-ref %u: %s",
		       cfg->domid, cfg->ring_ref, strerror(-ret));
		goto err_gnt;
	}
	ret = xb_back_ring_attach(&c->ring, c->ring_addr, XB_PAGE_SIZE,
				  NET_CTRL_SLOT_SIZE);
	if (ret) {
		xb_err("dom%u ctrl ring: cannot attach: %s", cfg->domid,
		       strerror(-ret));
		goto err_map;
	}
	ret = ctrl_state_start(c);
	if (ret)
		goto err_map;
	ret = xb_evtchn_open(cfg->hv, &c->evtchn);
	if (ret) {
		xb_err("dom%u ctrl ring: cannot open event channel handle: %s",
		       cfg->domid, strerror(-ret));
		goto err_map;
	}
	ret = xb_evtchn_bind(c->evtchn, cfg->domid, cfg->remote_port,
			     &c->port);
	if (ret) {
		xb_err("dom%u ctrl ring: cannot bind event-channel-ctrl %u: %s",
		       cfg->domid, cfg->remote_port, strerror(-ret));
		goto err_evtchn;
	}
	if (cfg->adopt)
		xb_evtchn_notify(c->evtchn, c->port);
	*out = c;
	return 0;

err_evtchn:
	xb_evtchn_close(c->evtchn);
err_map:
	xb_gnt_unmap(c->gnt, c->ring_addr, 1);
err_gnt:
	xb_gnt_close(c->gnt);
err_free:
	free(c);
	return ret;
}

void net_ctrl_close(struct net_ctrl *c)
{
	if (!c)
		return;
	xb_evtchn_unbind(c->evtchn, c->port);
	xb_evtchn_close(c->evtchn);
	xb_gnt_unmap(c->gnt, c->ring_addr, 1);
	xb_gnt_close(c->gnt);
	free(c);
}

int net_ctrl_fd(const struct net_ctrl *c)
{
	return xb_evtchn_fd(c->evtchn);
}

static void drain_evtchn(struct net_ctrl *c)
{
	evtchn_port_t port;
	unsigned int i;

	for (i = 0; i < NET_CTRL_DRAIN_MAX; i++) {
		if (xb_evtchn_pending(c->evtchn, &port))
			break;
		xb_evtchn_unmask(c->evtchn, port);
	}
}

static void answer(struct net_ctrl *c)
{
	struct xen_netif_ctrl_request req;

	/* The one read of the shared slot: the guest may rewrite it while
	 * we look, so the compiler must not re-read it for any field. The
	 * layout is the same for every guest ABI (u16/u32 fields only). */
	memcpy(&req, xb_ring_slot(&c->ring, c->ring.req_cons), sizeof(req));
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	c->ring.req_cons++;
	/* Journalled before it changes anything (state.h). */
	c->cfg.state->req = req;
	net_state_store(&c->cfg.state->req_cons, c->ring.req_cons);
	respond(c, &req);
}

static void publish(struct net_ctrl *c, uint32_t handled)
{
	if (handled && xb_ring_push_rsps(&c->ring))
		xb_evtchn_notify(c->evtchn, c->port);
}

int net_ctrl_process(struct net_ctrl *c)
{
	uint32_t handled = 0, n, i;
	RING_IDX prod;

	drain_evtchn(c);
	if (c->halted)
		return -EIO;
	for (;;) {
		if (xb_ring_get_req_prod(&c->ring, &prod))
			goto broken;
		n = prod - c->ring.req_cons;
		/*
		 * Responses are published once, at the end: until then the
		 * frontend can see no more free slots than at the start, so
		 * more than a ring's worth in one call is an impossible
		 * producer, not work. This also bounds the call.
		 */
		if (n > c->ring.nr_ents - handled)
			goto broken;
		for (i = 0; i < n; i++)
			answer(c);
		handled += n;
		if (!xb_ring_final_check(&c->ring))
			break;
	}
	publish(c, handled);
	return (int)handled;

broken:
	/* Answer what was valid, then never look at this ring again. */
	publish(c, handled);
	c->halted = true;
	return -EIO;
}
