/* SPDX-License-Identifier: MIT */
/*
 * blkfront control plane: the XenBus handshake as Linux xen-blkfront runs
 * it (talk_to_blkback, then connect on the backend's Connected), teardown,
 * and the reconnect cycle after a backend restart.
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

#include "blkfront_priv.h"

#define BF_WATCH_TOKEN "blkfront-be-state"
#define BF_DEFAULT_TIMEOUT_MS 30000
#define BF_DEFAULT_DEPTH 32u
#define ST(s) (1u << (s))

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int bf_timeout(const struct blkfront *bf)
{
	return bf->cfg.timeout_ms > 0 ? bf->cfg.timeout_ms
				      : BF_DEFAULT_TIMEOUT_MS;
}

/* Throw away queued watch events; true if one was for the backend state. */
bool bf_drain_watch(struct blkfront *bf)
{
	bool be = false;
	char **vec;

	while (xb_xs_read_watch(bf->xs, &vec) == 0) {
		if (!strcmp(vec[XS_WATCH_PATH], bf->be_state_path))
			be = true;
		free(vec);
	}
	return be;
}

/*
 * Wait for the backend state to be in @mask. -ECONNREFUSED if it enters
 * @fail first, -ETIMEDOUT after @timeout_ms. Re-reads the node at least
 * every 200 ms, so a lost watch event only costs latency.
 */
int bf_wait_be(struct blkfront *bf, uint32_t mask, uint32_t fail,
	       int timeout_ms, enum xenbus_state *seen)
{
	int64_t deadline = now_ms() + timeout_ms;
	struct pollfd pfd = { .fd = xb_xs_watch_fd(bf->xs), .events = POLLIN };

	for (;;) {
		enum xenbus_state st;
		int64_t left;

		bf_drain_watch(bf);
		if (xg_xenbus_read_state(bf->xs, bf->be_path, &st) == 0) {
			if (seen)
				*seen = st;
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

/*
 * Every watch event generated before this call is delivered before the
 * initial event of a watch registered now (one connection, in order). So
 * after our own handshake, consuming up to a fresh watch's first event
 * drops the backend-state events our handshake caused; a later event
 * then means the backend really changed.
 */
static void sync_watch(struct blkfront *bf)
{
	char token[64];
	int64_t deadline = now_ms() + 5000;
	struct pollfd pfd = { .fd = xb_xs_watch_fd(bf->xs), .events = POLLIN };
	char **vec;

	snprintf(token, sizeof(token), "blkfront-sync-%llu",
		 (unsigned long long)bf->seq);
	if (xb_xs_watch(bf->xs, bf->fe_path, token))
		return;
	while (now_ms() < deadline) {
		bool hit = false;

		while (!hit && xb_xs_read_watch(bf->xs, &vec) == 0) {
			hit = !strcmp(vec[XS_WATCH_TOKEN], token);
			free(vec);
		}
		if (hit)
			break;
		poll(&pfd, 1, 100);
	}
	xb_xs_unwatch(bf->xs, bf->fe_path, token);
}

static unsigned int read_uint(struct blkfront *bf, const char *key,
			      unsigned int max, unsigned int dflt)
{
	char path[200];
	uint64_t v;

	snprintf(path, sizeof(path), "%s/%s", bf->be_path, key);
	if (xb_xs_read_u64(bf->xs, XBT_NULL, path, max, &v))
		return dflt;
	return (unsigned int)v;
}

static void read_offers(struct blkfront *bf)
{
	struct blkfront_info *i = &bf->info;

	i->be_max_ring_page_order = read_uint(bf, "max-ring-page-order",
					      64, 0);
	i->be_max_queues = read_uint(bf, "multi-queue-max-queues", 65536, 1);
	i->be_max_indirect_segs =
		read_uint(bf, "feature-max-indirect-segments", 1u << 20, 0);
	i->be_persistent = read_uint(bf, "feature-persistent", 1, 0);
	i->be_flush = read_uint(bf, "feature-flush-cache", 1, 0);
	i->be_barrier = read_uint(bf, "feature-barrier", 1, 0);
	i->be_discard = read_uint(bf, "feature-discard", 1, 0);
}

void bf_ring_teardown(struct blkfront *bf, struct bf_queue *q)
{
	unsigned int i;

	if (q->port_up)
		xg_evtchn_close(bf->dom, q->port);
	q->port_up = false;
	if (!q->ring_up)
		return;
	for (i = 0; i < q->nr_pages; i++) {
		/* A backend still mapping the page: leak it, never reuse. */
		if (xg_grant_end(bf->dom, q->ring_refs[i])) {
			bf->info.grant_leaks++;
			continue;
		}
		xg_pages_free(bf->dom, 1, &q->ring_gfns[i]);
	}
	q->ring_up = false;
	q->hdr = NULL;
}

static int ring_setup(struct blkfront *bf, struct bf_queue *q,
		      unsigned int order)
{
	unsigned int i, n = 1u << order;
	int ret;

	q->nr_pages = n;
	ret = xg_pages_alloc(bf->dom, n, q->ring_gfns);
	if (ret)
		return ret;
	for (i = 0; i < n; i++) {
		q->ring_ptr[i] = xg_page_ptr(bf->dom, q->ring_gfns[i]);
		if (!q->ring_ptr[i]) {
			ret = -EFAULT;
			goto err_pages;
		}
		memset(q->ring_ptr[i], 0, BF_PAGE_SIZE);
	}
	q->hdr = (struct xb_ring_hdr *)q->ring_ptr[0];
	/* SHARED_RING_INIT + FRONT_RING_INIT */
	q->hdr->req_prod = 0;
	q->hdr->rsp_prod = 0;
	q->hdr->req_event = 1;
	q->hdr->rsp_event = 1;
	q->req_prod_pvt = 0;
	q->rsp_cons = 0;
	q->nr_ents = xb_ring_nr_ents((size_t)n * BF_PAGE_SIZE, bf->slot_size);
	for (i = 0; i < n; i++) {
		ret = xg_grant_access(bf->dom, bf->backend_id, q->ring_gfns[i],
				      false, &q->ring_refs[i]);
		if (ret)
			goto err_grants;
	}
	ret = xg_evtchn_alloc_unbound(bf->dom, bf->backend_id, &q->port);
	if (ret)
		goto err_grants;
	q->port_up = true;
	q->ring_up = true;
	return 0;

err_grants:
	while (i--)
		xg_grant_end(bf->dom, q->ring_refs[i]);
err_pages:
	xg_pages_free(bf->dom, n, q->ring_gfns);
	q->hdr = NULL;
	return ret;
}

struct keys_arg {
	struct blkfront *bf;
	unsigned int order;
};

static int write_ring_keys(struct blkfront *bf, xs_transaction_t t,
			   const char *dir, struct bf_queue *q,
			   unsigned int order)
{
	char path[200];
	unsigned int i;
	int ret;

	if (!order) {
		snprintf(path, sizeof(path), "%s/ring-ref", dir);
		ret = xb_xs_printf(bf->xs, t, path, "%u", q->ring_refs[0]);
		if (ret)
			return ret;
	} else {
		for (i = 0; i < q->nr_pages; i++) {
			snprintf(path, sizeof(path), "%s/ring-ref%u", dir, i);
			ret = xb_xs_printf(bf->xs, t, path, "%u",
					   q->ring_refs[i]);
			if (ret)
				return ret;
		}
	}
	snprintf(path, sizeof(path), "%s/event-channel", dir);
	return xb_xs_printf(bf->xs, t, path, "%u", q->port);
}

/* Remove what an earlier connection published (its layout may differ). */
static int clear_keys(struct blkfront *bf, xs_transaction_t t)
{
	static const char *const keys[] = {
		"ring-ref", "event-channel", "ring-page-order",
		"multi-queue-num-queues", "protocol", "feature-persistent",
	};
	char path[200];
	unsigned int i;
	int ret;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", bf->fe_path, keys[i]);
		ret = xb_xs_rm(bf->xs, t, path);
		if (ret)
			return ret;
	}
	for (i = 0; i < BF_MAX_RING_PAGES; i++) {
		snprintf(path, sizeof(path), "%s/ring-ref%u", bf->fe_path, i);
		ret = xb_xs_rm(bf->xs, t, path);
		if (ret)
			return ret;
	}
	for (i = 0; i < BLKFRONT_MAX_QUEUES; i++) {
		snprintf(path, sizeof(path), "%s/queue-%u", bf->fe_path, i);
		ret = xb_xs_rm(bf->xs, t, path);
		if (ret)
			return ret;
	}
	return 0;
}

static int write_keys(struct xs_handle *xs, xs_transaction_t t, void *arg)
{
	struct keys_arg *a = arg;
	struct blkfront *bf = a->bf;
	const char *const *kv;
	char path[200];
	unsigned int qi;
	int ret;

	(void)xs;
	ret = clear_keys(bf, t);
	if (ret)
		return ret;
	if (bf->nr_queues == 1) {
		ret = write_ring_keys(bf, t, bf->fe_path, &bf->queues[0],
				      a->order);
		if (ret)
			return ret;
	} else {
		snprintf(path, sizeof(path), "%s/multi-queue-num-queues",
			 bf->fe_path);
		ret = xb_xs_printf(bf->xs, t, path, "%u", bf->nr_queues);
		if (ret)
			return ret;
		for (qi = 0; qi < bf->nr_queues; qi++) {
			snprintf(path, sizeof(path), "%s/queue-%u",
				 bf->fe_path, qi);
			ret = write_ring_keys(bf, t, path, &bf->queues[qi],
					      a->order);
			if (ret)
				return ret;
		}
	}
	if (a->order) {
		snprintf(path, sizeof(path), "%s/ring-page-order",
			 bf->fe_path);
		ret = xb_xs_printf(bf->xs, t, path, "%u", a->order);
		if (ret)
			return ret;
	}
	if (blkfront_abi_name(bf->abi)) {
		snprintf(path, sizeof(path), "%s/protocol", bf->fe_path);
		ret = xb_xs_write(bf->xs, t, path, blkfront_abi_name(bf->abi));
		if (ret)
			return ret;
	}
	if (bf->cfg.persistent) {
		snprintf(path, sizeof(path), "%s/feature-persistent",
			 bf->fe_path);
		ret = xb_xs_write(bf->xs, t, path, "1");
		if (ret)
			return ret;
	}
	for (kv = bf->cfg.extra_kv; kv && kv[0]; kv += 2) {
		snprintf(path, sizeof(path), "%s/%s", bf->fe_path, kv[0]);
		ret = kv[1] ? xb_xs_write(bf->xs, t, path, kv[1])
			    : xb_xs_rm(bf->xs, t, path);
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * Once the backend is connected, take the ring references and event
 * channels out of xenstore (unless cfg.keep_keys). A backend reads them
 * only to connect; a restarted backend that found them would attach to
 * rings whose indices it does not know and could replay old requests
 * over newer data. Without them its connect fails and the recovery cycle
 * hands it fresh rings.
 */
static int hide_keys(struct xs_handle *xs, xs_transaction_t t, void *arg)
{
	struct blkfront *bf = arg;
	char path[200];
	unsigned int qi, i;
	int ret;

	(void)xs;
	for (qi = 0; qi <= bf->nr_queues; qi++) {
		char dir[160];

		if (qi == bf->nr_queues)
			snprintf(dir, sizeof(dir), "%s", bf->fe_path);
		else
			snprintf(dir, sizeof(dir), "%s/queue-%u", bf->fe_path,
				 qi);
		snprintf(path, sizeof(path), "%s/ring-ref", dir);
		ret = xb_xs_rm(bf->xs, t, path);
		for (i = 0; !ret && i < BF_MAX_RING_PAGES; i++) {
			snprintf(path, sizeof(path), "%s/ring-ref%u", dir, i);
			ret = xb_xs_rm(bf->xs, t, path);
		}
		snprintf(path, sizeof(path), "%s/event-channel", dir);
		if (!ret)
			ret = xb_xs_rm(bf->xs, t, path);
		if (ret)
			return ret;
	}
	return 0;
}

/* Backend Connected: device properties and the features we will use. */
static int read_connected(struct blkfront *bf)
{
	struct blkfront_info *i = &bf->info;
	char path[200];
	uint64_t v;
	unsigned int ind;
	int ret;

	snprintf(path, sizeof(path), "%s/sectors", bf->be_path);
	ret = xb_xs_read_u64(bf->xs, XBT_NULL, path, UINT64_MAX, &v);
	if (ret)
		return ret;
	i->sectors = v;
	i->sector_size = read_uint(bf, "sector-size", 1u << 20, 512);
	i->physical_sector_size = read_uint(bf, "physical-sector-size",
					    1u << 20, i->sector_size);
	i->vdisk_info = read_uint(bf, "info", UINT32_MAX, 0);
	read_offers(bf);
	i->flush = bf->cfg.use_flush && i->be_flush;
	i->barrier = bf->cfg.use_barrier && i->be_barrier;
	i->discard = bf->cfg.use_discard && i->be_discard;
	i->discard_secure = i->discard &&
			    read_uint(bf, "discard-secure", 1, 0);
	i->discard_granularity = read_uint(bf, "discard-granularity",
					   UINT32_MAX, 0);
	i->discard_alignment = read_uint(bf, "discard-alignment",
					 UINT32_MAX, 0);
	i->persistent = bf->cfg.persistent && i->be_persistent;

	ind = bf->cfg.max_indirect_segs;
	if (ind > i->be_max_indirect_segs)
		ind = i->be_max_indirect_segs;
	if (ind > bf->pool_segs)
		ind = bf->pool_segs;
	if (ind <= BLKIF_MAX_SEGMENTS_PER_REQUEST)
		ind = 0;
	i->max_indirect_segs = ind;
	bf->max_segs = ind ? ind : BLKIF_MAX_SEGMENTS_PER_REQUEST;
	if (bf->max_segs > bf->pool_segs)
		bf->max_segs = bf->pool_segs;
	i->max_segs = bf->max_segs;

	if (i->persistent && !bf->pool_granted) {
		ret = bf_pool_grant(bf);
		if (ret)
			return ret;
	}
	return 0;
}

static unsigned int pool_segs_for(const struct blkfront *bf)
{
	unsigned int s = bf->cfg.max_indirect_segs;

	if (s > bf->info.be_max_indirect_segs)
		s = bf->info.be_max_indirect_segs;
	if (s > BLKFRONT_MAX_INDIRECT)
		s = BLKFRONT_MAX_INDIRECT;
	return s > BLKIF_MAX_SEGMENTS_PER_REQUEST ? s
		: BLKIF_MAX_SEGMENTS_PER_REQUEST;
}

/*
 * talk_to_blkback + connect. The backend is at InitWait. On failure the
 * rings set up here are torn down (pools stay: the caller owns them).
 */
int bf_handshake(struct blkfront *bf, bool first)
{
	struct blkfront_info *i = &bf->info;
	struct keys_arg ka = { .bf = bf };
	unsigned int order, nq, qi;
	int ret;

	read_offers(bf);
	order = bf->cfg.ring_page_order;
	if (order > i->be_max_ring_page_order)
		order = i->be_max_ring_page_order;
	if (order > BLKFRONT_MAX_RING_ORDER)
		order = BLKFRONT_MAX_RING_ORDER;
	nq = bf->cfg.nr_queues ? bf->cfg.nr_queues : 1;
	if (nq > i->be_max_queues)
		nq = i->be_max_queues;
	if (nq > BLKFRONT_MAX_QUEUES)
		nq = BLKFRONT_MAX_QUEUES;
	if (!nq)
		nq = 1;

	if (first) {
		uint32_t ents = xb_ring_nr_ents((size_t)BF_PAGE_SIZE << order,
						bf->slot_size);

		bf->depth = bf->cfg.queue_depth ? bf->cfg.queue_depth
						: BF_DEFAULT_DEPTH;
		if (bf->depth > ents)
			bf->depth = ents;
		bf->pool_segs = pool_segs_for(bf);
		for (qi = 0; qi < nq; qi++) {
			bf->queues[qi].bf = bf;
			bf->queues[qi].idx = qi;
			ret = bf_queue_pool_alloc(bf, &bf->queues[qi]);
			if (ret)
				return ret;
			bf->pool_queues = qi + 1;
		}
		/* Completions made by recoveries wait here until polled;
		 * their slots are free meanwhile, so a second recovery
		 * before the caller polls can add as many again. */
		bf->deferred_cap = 2u * nq * bf->depth;
		bf->deferred = calloc(bf->deferred_cap,
				      sizeof(*bf->deferred));
		if (!bf->deferred)
			return -ENOMEM;
	} else if (nq > bf->pool_queues) {
		nq = bf->pool_queues;
	}
	bf->nr_queues = nq;

	for (qi = 0; qi < nq; qi++) {
		ret = ring_setup(bf, &bf->queues[qi], order);
		if (ret)
			goto err_rings;
	}
	ka.order = order;
	ret = xb_xs_transact(bf->xs, write_keys, &ka, 0);
	if (ret)
		goto err_rings;
	ret = xg_xenbus_switch(bf->xs, bf->fe_path, XenbusStateInitialised);
	if (ret)
		goto err_rings;
	ret = bf_wait_be(bf, ST(XenbusStateConnected),
		      ST(XenbusStateClosing) | ST(XenbusStateClosed),
		      bf_timeout(bf), NULL);
	if (ret)
		goto err_rings;
	ret = read_connected(bf);
	if (ret)
		goto err_rings;
	if (!bf->cfg.keep_keys) {
		ret = xb_xs_transact(bf->xs, hide_keys, bf, 0);
		if (ret)
			goto err_rings;
	}
	ret = xg_xenbus_switch(bf->xs, bf->fe_path, XenbusStateConnected);
	if (ret)
		goto err_rings;
	i->ring_page_order = order;
	i->nr_queues = nq;
	i->nr_ents = bf->queues[0].nr_ents;
	i->queue_depth = bf->depth;
	i->abi = bf->abi;
	i->backend_id = bf->backend_id;
	bf->connected = true;
	sync_watch(bf);
	return 0;

err_rings:
	for (qi = 0; qi < nq; qi++)
		bf_ring_teardown(bf, &bf->queues[qi]);
	return ret;
}

static int read_frontend(struct blkfront *bf)
{
	char path[200];
	uint64_t v;
	int ret;

	snprintf(bf->fe_path, sizeof(bf->fe_path),
		 "/local/domain/%u/device/vbd/%u", bf->domid, bf->cfg.devid);
	snprintf(path, sizeof(path), "%s/backend", bf->fe_path);
	ret = xb_xs_read_buf(bf->xs, XBT_NULL, path, bf->be_path,
			     sizeof(bf->be_path));
	if (ret)
		return ret;
	snprintf(path, sizeof(path), "%s/backend-id", bf->fe_path);
	ret = xb_xs_read_u64(bf->xs, XBT_NULL, path, DOMID_FIRST_RESERVED - 1,
			     &v);
	if (ret)
		return ret;
	bf->backend_id = (domid_t)v;
	snprintf(bf->be_state_path, sizeof(bf->be_state_path), "%s/state",
		 bf->be_path);
	return 0;
}

static void free_all(struct blkfront *bf)
{
	unsigned int qi;

	for (qi = 0; qi < BLKFRONT_MAX_QUEUES; qi++)
		bf_ring_teardown(bf, &bf->queues[qi]);
	for (qi = 0; qi < bf->pool_queues; qi++)
		bf_queue_pool_free(bf, &bf->queues[qi]);
	free(bf->deferred);
	if (bf->xs) {
		xb_xs_unwatch(bf->xs, bf->be_state_path, BF_WATCH_TOKEN);
		xs_close(bf->xs);
	}
	if (bf->epfd >= 0)
		close(bf->epfd);
	free(bf);
}

int blkfront_connect(const struct blkfront_config *cfg, struct blkfront **out)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct blkfront *bf;
	int ret;

	if (!cfg || !cfg->dom ||
	    cfg->ring_page_order > BLKFRONT_MAX_RING_ORDER ||
	    cfg->nr_queues > BLKFRONT_MAX_QUEUES ||
	    cfg->abi > BLKFRONT_ABI_X86_32 ||
	    cfg->max_indirect_segs > BLKFRONT_MAX_INDIRECT ||
	    cfg->queue_depth > 0xfff0)
		return -EINVAL;
	bf = calloc(1, sizeof(*bf));
	if (!bf)
		return -ENOMEM;
	bf->epfd = -1;
	bf->cfg = *cfg;
	bf->cfg.extra_kv = cfg->extra_kv;
	bf->dom = cfg->dom;
	bf->domid = xg_dom_id(cfg->dom);
	bf->abi = cfg->abi;
	bf->slot_size = blkfront_abi_slot_size(cfg->abi);

	ret = xg_dom_xs_open(bf->dom, &bf->xs);
	if (ret)
		goto err;
	ret = read_frontend(bf);
	if (ret)
		goto err;
	bf->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (bf->epfd < 0) {
		ret = -errno;
		goto err;
	}
	ev.data.fd = xg_evtchn_fd(bf->dom);
	if (epoll_ctl(bf->epfd, EPOLL_CTL_ADD, ev.data.fd, &ev) < 0) {
		ret = -errno;
		goto err;
	}
	ev.data.fd = xb_xs_watch_fd(bf->xs);
	if (epoll_ctl(bf->epfd, EPOLL_CTL_ADD, ev.data.fd, &ev) < 0) {
		ret = -errno;
		goto err;
	}
	ret = xb_xs_watch(bf->xs, bf->be_state_path, BF_WATCH_TOKEN);
	if (ret)
		goto err;
	ret = bf_wait_be(bf, ST(XenbusStateInitWait), 0, bf_timeout(bf), NULL);
	if (ret)
		goto err;
	ret = bf_handshake(bf, true);
	if (ret)
		goto err_closed;
	*out = bf;
	return 0;

err_closed:
	xg_xenbus_switch(bf->xs, bf->fe_path, XenbusStateClosed);
err:
	free_all(bf);
	return ret;
}

void blkfront_close(struct blkfront *bf)
{
	int t;

	if (!bf)
		return;
	t = bf_timeout(bf) < 5000 ? bf_timeout(bf) : 5000;
	if (bf->xs) {
		xg_xenbus_switch(bf->xs, bf->fe_path, XenbusStateClosing);
		bf_wait_be(bf, ST(XenbusStateClosing) | ST(XenbusStateClosed) |
			    ST(XenbusStateInitWait), 0, t, NULL);
		xg_xenbus_switch(bf->xs, bf->fe_path, XenbusStateClosed);
		bf_wait_be(bf, ST(XenbusStateClosed) | ST(XenbusStateInitWait),
			0, t, NULL);
	}
	bf->connected = false;
	free_all(bf);
}

void blkfront_get_info(const struct blkfront *bf, struct blkfront_info *info)
{
	*info = bf->info;
}
