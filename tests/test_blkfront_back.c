/* SPDX-License-Identifier: MIT */
/* Reference blkif backend for blkfront tests: see test_blkfront_back.h. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <uback/hv.h>
#include <uback/ring.h>
#include <uback/xs.h>
#include <xen/io/blkif.h>
#include <xensim/guest.h>

#include "test_blkfront_back.h"

#define TB_MAX_QUEUES 16
#define TB_MAX_PAGES 16

struct tb_queue {
	void *addr;
	uint32_t nr_pages;
	struct xb_back_ring r;
	evtchn_port_t port;
	bool halted;
};

struct tb {
	struct tb_config cfg;
	char be_path[128];
	char fe_path[128];
	struct xb_hv *hv;
	struct xb_gnt *gnt;
	struct xb_evtchn *evt;
	struct xs_handle *xs;
	pthread_t thr;
	int stop_fd;
	int stop_mode;                 /* 1 graceful, 2 crash */
	enum xenbus_state state;
	bool connected;
	int abi;
	size_t slot_size;
	unsigned int nq;
	struct tb_queue q[TB_MAX_QUEUES];
	pthread_mutex_t lock;
	struct tb_stats st;
	bool hold;
	uint8_t ind[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST][4096]
		__attribute__((aligned(8)));
};

/* One request, ABI-neutral, decoded by byte offsets (independently of
 * blkfront's own encoder, so the two cross-check each other). */
struct tb_req {
	uint8_t op, indirect_op, flag;
	uint16_t nr_segs;
	uint64_t id, sector, nr_sectors;
	struct blkif_request_segment seg[BLKIF_MAX_SEGMENTS_PER_REQUEST];
	grant_ref_t ind[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST];
};

static uint64_t g64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

static void decode(int abi, const uint8_t *s, struct tb_req *r)
{
	unsigned int idoff = abi == 32 ? 4 : 8, i;

	memset(r, 0, sizeof(*r));
	r->op = s[0];
	r->id = g64(s + idoff);
	r->sector = g64(s + idoff + 8);
	if (r->op == BLKIF_OP_DISCARD) {
		r->flag = s[1];
		r->nr_sectors = g64(s + idoff + 16);
	} else if (r->op == BLKIF_OP_INDIRECT) {
		r->indirect_op = s[1];
		memcpy(&r->nr_segs, s + 2, 2);
		/* handle (2 bytes) + 2 of padding, then the grefs */
		memcpy(r->ind, s + idoff + 20, sizeof(r->ind));
	} else {
		r->nr_segs = s[1];
		for (i = 0; i < BLKIF_MAX_SEGMENTS_PER_REQUEST; i++)
			memcpy(&r->seg[i], s + idoff + 16 + i * 8, 8);
	}
}

static int do_segs(struct tb *tb, bool write, uint64_t sector,
		   const struct blkif_request_segment *segs, unsigned int n)
{
	struct xb_gcopy_seg c[64];
	uint64_t off = sector * 512;
	unsigned int i, k = 0;

	for (i = 0; i < n; i++) {
		const struct blkif_request_segment *s = &segs[i];
		uint32_t len;

		if (s->first_sect > s->last_sect || s->last_sect > 7)
			return -EINVAL;
		len = (uint32_t)(s->last_sect - s->first_sect + 1) * 512;
		if (off + len > tb->cfg.sectors * 512)
			return -EINVAL;
		memset(&c[k], 0, sizeof(c[k]));
		if (write) {
			c[k].source.foreign.ref = s->gref;
			c[k].source.foreign.offset = s->first_sect * 512;
			c[k].source.foreign.domid = tb->cfg.domid;
			c[k].dest.virt = tb->cfg.disk + off;
			c[k].flags = GNTCOPY_source_gref;
		} else {
			c[k].dest.foreign.ref = s->gref;
			c[k].dest.foreign.offset = s->first_sect * 512;
			c[k].dest.foreign.domid = tb->cfg.domid;
			c[k].source.virt = tb->cfg.disk + off;
			c[k].flags = GNTCOPY_dest_gref;
		}
		c[k].len = (uint16_t)len;
		off += len;
		if (++k == 64 || i + 1 == n) {
			unsigned int j;

			if (xb_gnt_copy(tb->gnt, k, c))
				return -EIO;
			for (j = 0; j < k; j++)
				if (c[j].status != GNTST_okay)
					return -EIO;
			k = 0;
		}
	}
	return 0;
}

static int exec(struct tb *tb, struct tb_req *r)
{
	unsigned int npages, i;
	struct xb_gcopy_seg c[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST];

	switch (r->op) {
	case BLKIF_OP_READ:
	case BLKIF_OP_WRITE:
	case BLKIF_OP_WRITE_BARRIER:
		if (r->op == BLKIF_OP_WRITE_BARRIER && !tb->cfg.barrier)
			return -EOPNOTSUPP;
		if (r->nr_segs > BLKIF_MAX_SEGMENTS_PER_REQUEST ||
		    (!r->nr_segs && r->op != BLKIF_OP_WRITE_BARRIER))
			return -EINVAL;
		return do_segs(tb, r->op != BLKIF_OP_READ, r->sector, r->seg,
			       r->nr_segs);
	case BLKIF_OP_FLUSH_DISKCACHE:
		return tb->cfg.flush ? 0 : -EOPNOTSUPP;
	case BLKIF_OP_DISCARD:
		if (!tb->cfg.discard)
			return -EOPNOTSUPP;
		if (r->sector + r->nr_sectors > tb->cfg.sectors ||
		    r->sector + r->nr_sectors < r->sector)
			return -EINVAL;
		memset(tb->cfg.disk + r->sector * 512, 0, r->nr_sectors * 512);
		return 0;
	case BLKIF_OP_INDIRECT:
		if (!tb->cfg.max_indirect || !r->nr_segs ||
		    r->nr_segs > tb->cfg.max_indirect ||
		    (r->indirect_op != BLKIF_OP_READ &&
		     r->indirect_op != BLKIF_OP_WRITE))
			return -EINVAL;
		npages = (r->nr_segs + 511u) / 512u;
		if (npages > BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST)
			return -EINVAL;
		memset(c, 0, sizeof(c));
		for (i = 0; i < npages; i++) {
			c[i].source.foreign.ref = r->ind[i];
			c[i].source.foreign.domid = tb->cfg.domid;
			c[i].dest.virt = tb->ind[i];
			c[i].len = 4096;
			c[i].flags = GNTCOPY_source_gref;
		}
		if (xb_gnt_copy(tb->gnt, npages, c))
			return -EIO;
		for (i = 0; i < npages; i++)
			if (c[i].status != GNTST_okay)
				return -EIO;
		return do_segs(tb, r->indirect_op == BLKIF_OP_WRITE, r->sector,
			       (const struct blkif_request_segment *)tb->ind,
			       r->nr_segs);
	}
	return -EOPNOTSUPP;
}

static void process(struct tb *tb, struct tb_queue *q)
{
	unsigned int rounds;

	for (rounds = 0; rounds < 64 && !q->halted; rounds++) {
		RING_IDX prod;
		uint32_t n;

		if (__atomic_load_n(&tb->hold, __ATOMIC_ACQUIRE))
			return;
		if (xb_ring_get_req_prod(&q->r, &prod)) {
			q->halted = true;
			return;
		}
		for (n = xb_ring_reqs_avail(&q->r, prod); n; n--) {
			uint8_t slot[112], rsp[16] = { 0 };
			struct tb_req r;
			int16_t status;
			int ret;

			memcpy(slot, xb_ring_slot(&q->r, q->r.req_cons),
			       tb->slot_size);
			q->r.req_cons++;
			decode(tb->abi, slot, &r);
			ret = exec(tb, &r);
			status = ret == 0 ? BLKIF_RSP_OKAY
				 : ret == -EOPNOTSUPP ? BLKIF_RSP_EOPNOTSUPP
				 : BLKIF_RSP_ERROR;
			pthread_mutex_lock(&tb->lock);
			tb->st.ops[r.op & 7]++;
			if (r.op == BLKIF_OP_INDIRECT)
				tb->st.indirect++;
			if (status == BLKIF_RSP_ERROR)
				tb->st.errors++;
			pthread_mutex_unlock(&tb->lock);
			memcpy(rsp, &r.id, 8);
			rsp[8] = r.op;
			memcpy(rsp + 10, &status, 2);
			memcpy(xb_ring_slot(&q->r, q->r.rsp_prod_pvt), rsp,
			       tb->abi == 32 ? 12 : 16);
			q->r.rsp_prod_pvt++;
		}
		if (xb_ring_push_rsps(&q->r))
			xb_evtchn_notify(tb->evt, q->port);
		if (!xb_ring_final_check(&q->r))
			return;
	}
}

static int fe_uint(struct tb *tb, const char *dir, const char *key,
		   uint64_t max, uint64_t dflt, uint64_t *v)
{
	char path[256];
	int ret;

	snprintf(path, sizeof(path), "%s/%s", dir, key);
	ret = xb_xs_read_u64(tb->xs, XBT_NULL, path, max, v);
	if (ret == -ENOENT) {
		*v = dflt;
		return dflt == UINT64_MAX ? -ENOENT : 0;
	}
	return ret;
}

static void disconnect(struct tb *tb)
{
	unsigned int i;

	for (i = 0; i < tb->nq; i++) {
		xb_evtchn_unbind(tb->evt, tb->q[i].port);
		xb_gnt_unmap(tb->gnt, tb->q[i].addr, tb->q[i].nr_pages);
	}
	tb->nq = 0;
	tb->connected = false;
}

static int connect_fe(struct tb *tb)
{
	char proto[32] = "", path[256];
	uint64_t order, nq, v;
	unsigned int i, p;
	int ret;

	snprintf(path, sizeof(path), "%s/protocol", tb->fe_path);
	ret = xb_xs_read_buf(tb->xs, XBT_NULL, path, proto, sizeof(proto));
	if (ret && ret != -ENOENT)
		return ret;
	if (!ret && !strcmp(proto, "x86_32-abi"))
		tb->abi = 32;
	else if (ret == -ENOENT || !strcmp(proto, "x86_64-abi"))
		tb->abi = 64;
	else
		return -EINVAL;
	tb->slot_size = tb->abi == 32 ? 108 : 112;
	ret = fe_uint(tb, tb->fe_path, "ring-page-order",
		      tb->cfg.max_ring_order, 0, &order);
	if (!ret)
		ret = fe_uint(tb, tb->fe_path, "multi-queue-num-queues",
			      tb->cfg.max_queues > 1 ? tb->cfg.max_queues : 1,
			      1, &nq);
	if (ret)
		return ret;
	if (!nq)
		return -EINVAL;
	for (i = 0; i < nq; i++) {
		struct tb_queue *q = &tb->q[i];
		grant_ref_t refs[TB_MAX_PAGES];
		char dir[200];

		if (nq > 1)
			snprintf(dir, sizeof(dir), "%s/queue-%u",
				 tb->fe_path, i);
		else
			snprintf(dir, sizeof(dir), "%s", tb->fe_path);
		q->nr_pages = 1u << order;
		for (p = 0; p < q->nr_pages; p++) {
			char key[32];

			if (order)
				snprintf(key, sizeof(key), "ring-ref%u", p);
			else
				snprintf(key, sizeof(key), "ring-ref");
			ret = fe_uint(tb, dir, key, UINT32_MAX, UINT64_MAX, &v);
			if (ret)
				goto err;
			refs[p] = (grant_ref_t)v;
		}
		ret = fe_uint(tb, dir, "event-channel", UINT32_MAX, UINT64_MAX,
			      &v);
		if (ret)
			goto err;
		ret = xb_gnt_map(tb->gnt, tb->cfg.domid, q->nr_pages, refs,
				 false, &q->addr);
		if (ret)
			goto err;
		xb_back_ring_attach(&q->r, q->addr, q->nr_pages * 4096ul,
				    tb->slot_size);
		q->halted = false;
		ret = xb_evtchn_bind(tb->evt, tb->cfg.domid, (evtchn_port_t)v,
				     &q->port);
		if (ret) {
			xb_gnt_unmap(tb->gnt, q->addr, q->nr_pages);
			goto err;
		}
		tb->nq = i + 1;
	}
	fe_uint(tb, tb->fe_path, "feature-persistent", 1, 0, &v);
	pthread_mutex_lock(&tb->lock);
	tb->st.fe_persistent = v && tb->cfg.persistent;
	tb->st.connects++;
	tb->st.ring_order = (unsigned int)order;
	tb->st.nr_queues = (unsigned int)nq;
	tb->st.abi = tb->abi;
	pthread_mutex_unlock(&tb->lock);
	snprintf(path, sizeof(path), "%s/sectors", tb->be_path);
	xb_xs_printf(tb->xs, XBT_NULL, path, "%llu",
		     (unsigned long long)tb->cfg.sectors);
	snprintf(path, sizeof(path), "%s/sector-size", tb->be_path);
	xb_xs_write(tb->xs, XBT_NULL, path, "512");
	snprintf(path, sizeof(path), "%s/info", tb->be_path);
	xb_xs_write(tb->xs, XBT_NULL, path, "0");
	tb->connected = true;
	return 0;
err:
	disconnect(tb);
	return ret;
}

static void set_state(struct tb *tb, enum xenbus_state s)
{
	if (tb->state == s)
		return;
	if (xg_xenbus_switch(tb->xs, tb->be_path, s) == 0)
		tb->state = s;
}

static void step(struct tb *tb)
{
	enum xenbus_state fe;

	if (xg_xenbus_read_state(tb->xs, tb->fe_path, &fe))
		return;
	switch (fe) {
	case XenbusStateInitialising:
	case XenbusStateInitWait:
		if (tb->connected)
			disconnect(tb);
		set_state(tb, XenbusStateInitWait);
		break;
	case XenbusStateInitialised:
	case XenbusStateConnected:
		if (tb->state != XenbusStateInitWait || tb->connected)
			break;
		if (connect_fe(tb) == 0)
			set_state(tb, XenbusStateConnected);
		else
			set_state(tb, XenbusStateClosing);
		break;
	case XenbusStateClosing:
		if (tb->connected)
			disconnect(tb);
		if (tb->state != XenbusStateClosed)
			set_state(tb, XenbusStateClosing);
		break;
	default:
		if (tb->connected)
			disconnect(tb);
		set_state(tb, XenbusStateClosed);
		break;
	}
}

static void *tb_thread(void *arg)
{
	struct tb *tb = arg;
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = { .events = EPOLLIN };
	int xfd = xb_xs_watch_fd(tb->xs), efd = xb_evtchn_fd(tb->evt);

	ev.data.fd = xfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, xfd, &ev);
	ev.data.fd = efd;
	epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev);
	ev.data.fd = tb->stop_fd;
	epoll_ctl(ep, EPOLL_CTL_ADD, tb->stop_fd, &ev);
	step(tb);
	for (;;) {
		struct epoll_event evs[4];
		evtchn_port_t port;
		char **vec;
		bool ev_xs = false;
		unsigned int i;

		epoll_wait(ep, evs, 4, 50);
		if (__atomic_load_n(&tb->stop_mode, __ATOMIC_ACQUIRE))
			break;
		while (xb_xs_read_watch(tb->xs, &vec) == 0) {
			free(vec);
			ev_xs = true;
		}
		if (ev_xs)
			step(tb);
		while (xb_evtchn_pending(tb->evt, &port) == 0)
			xb_evtchn_unmask(tb->evt, port);
		for (i = 0; tb->connected && i < tb->nq; i++)
			process(tb, &tb->q[i]);
	}
	if (tb->stop_mode == 1 && tb->connected) {
		disconnect(tb);
		set_state(tb, XenbusStateClosed);
	} else if (tb->connected) {
		disconnect(tb);
	}
	close(ep);
	return NULL;
}

static int publish(struct tb *tb)
{
	const struct tb_config *c = &tb->cfg;
	char path[256];
	int ret = 0;

#define W(key, fmt, val) do {                                           \
		snprintf(path, sizeof(path), "%s/" key, tb->be_path);   \
		if (!ret)                                               \
			ret = xb_xs_printf(tb->xs, XBT_NULL, path, fmt, val); \
	} while (0)
	if (c->max_ring_order)
		W("max-ring-page-order", "%u", c->max_ring_order);
	if (c->max_queues > 1)
		W("multi-queue-max-queues", "%u", c->max_queues);
	if (c->max_indirect)
		W("feature-max-indirect-segments", "%u", c->max_indirect);
	if (c->persistent)
		W("feature-persistent", "%u", 1);
	if (c->flush)
		W("feature-flush-cache", "%u", 1);
	if (c->barrier)
		W("feature-barrier", "%u", 1);
	if (c->discard) {
		W("feature-discard", "%u", 1);
		W("discard-granularity", "%u", 512);
		W("discard-alignment", "%u", 0);
	}
#undef W
	return ret;
}

int tb_start(const struct tb_config *cfg, struct tb **out)
{
	struct xb_hv_config hc = { .provider = "sim" };
	struct tb *tb = calloc(1, sizeof(*tb));
	char path[256];
	int ret;

	if (!tb)
		return -ENOMEM;
	tb->cfg = *cfg;
	tb->stop_fd = -1;
	pthread_mutex_init(&tb->lock, NULL);
	snprintf(tb->be_path, sizeof(tb->be_path),
		 "/local/domain/0/backend/vbd/%u/%u", cfg->domid, cfg->devid);
	snprintf(tb->fe_path, sizeof(tb->fe_path),
		 "/local/domain/%u/device/vbd/%u", cfg->domid, cfg->devid);
	ret = xb_hv_open(&hc, &tb->hv);
	if (ret)
		goto err;
	ret = xb_gnt_open(tb->hv, &tb->gnt);
	if (!ret)
		ret = xb_evtchn_open(tb->hv, &tb->evt);
	if (!ret)
		ret = xb_hv_xs_open(tb->hv, &tb->xs);
	if (ret)
		goto err;
	tb->stop_fd = eventfd(0, EFD_CLOEXEC);
	tb->state = XenbusStateUnknown;
	ret = publish(tb);
	if (ret)
		goto err;
	set_state(tb, XenbusStateInitWait);
	snprintf(path, sizeof(path), "%s/state", tb->fe_path);
	ret = xb_xs_watch(tb->xs, path, "fe");
	if (ret)
		goto err;
	ret = -pthread_create(&tb->thr, NULL, tb_thread, tb);
	if (ret)
		goto err;
	*out = tb;
	return 0;
err:
	if (tb->xs)
		xs_close(tb->xs);
	xb_evtchn_close(tb->evt);
	xb_gnt_close(tb->gnt);
	xb_hv_close(tb->hv);
	if (tb->stop_fd >= 0)
		close(tb->stop_fd);
	free(tb);
	return ret;
}

static void tb_end(struct tb *tb, int mode)
{
	uint64_t one = 1;

	if (!tb)
		return;
	__atomic_store_n(&tb->stop_mode, mode, __ATOMIC_RELEASE);
	if (write(tb->stop_fd, &one, sizeof(one)) < 0) {
		/* the thread also polls stop_mode every 50 ms */
	}
	pthread_join(tb->thr, NULL);
	xs_close(tb->xs);
	xb_evtchn_close(tb->evt);
	xb_gnt_close(tb->gnt);
	xb_hv_close(tb->hv);
	close(tb->stop_fd);
	pthread_mutex_destroy(&tb->lock);
	free(tb);
}

void tb_stop(struct tb *tb)
{
	tb_end(tb, 1);
}

void tb_crash(struct tb *tb)
{
	tb_end(tb, 2);
}

void tb_get_stats(struct tb *tb, struct tb_stats *st)
{
	pthread_mutex_lock(&tb->lock);
	*st = tb->st;
	pthread_mutex_unlock(&tb->lock);
}

void tb_hold_responses(struct tb *tb, bool hold)
{
	__atomic_store_n(&tb->hold, hold, __ATOMIC_RELEASE);
}
