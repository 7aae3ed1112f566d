/* SPDX-License-Identifier: MIT */
/* Test fixture for the blkif data path: see blk_testfe.h. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "blk_testfe.h"

void msleep(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

void fe_init(struct fe *fe, struct fake_hv *f, enum blk_abi abi,
	     uint32_t order)
{
	uint32_t i;

	memset(fe, 0, sizeof(*fe));
	fe->f = f;
	fe->abi = abi;
	fe->order = order;
	fe->slot_size = blk_abi_slot_size(abi);
	fe->sring = fake_page(f, RING_GFN);
	memset(fe->sring, 0, (size_t)4096 << order);
	fe->slots = (uint8_t *)fe->sring + XB_RING_HDR_SIZE;
	fe->nr_ents = xb_ring_nr_ents((size_t)4096 << order, fe->slot_size);
	fe->sring->req_event = 1;
	fe->sring->rsp_event = 1;
	for (i = 0; i < (1u << order); i++)
		fe->ring_refs[i] = fake_grant(f, RING_GFN + i, false);
	fe->port = fake_evtchn_alloc(f);
}

void *fe_slot(struct fe *fe, RING_IDX i)
{
	return fe->slots + (size_t)(i & (fe->nr_ents - 1)) * fe->slot_size;
}

/* Queue a read/write/barrier/flush with direct segments. */
void fe_rw(struct fe *fe, uint8_t op, uint64_t id, uint64_t sector,
	   unsigned int nsegs, const grant_ref_t *refs, uint8_t first,
	   uint8_t last)
{
	void *slot = fe_slot(fe, fe->req_prod_pvt++);
	unsigned int i;

	if (fe->abi == BLK_ABI_X86_32) {
		struct blk_wire32_req r = { .operation = op,
					    .nr_segments = (uint8_t)nsegs,
					    .id = id, .sector_number = sector };

		for (i = 0; i < nsegs && i < 11; i++)
			r.seg[i] = (struct blk_wire_seg){ refs[i], first, last, 0 };
		memcpy(slot, &r, sizeof(r));
	} else {
		struct blk_wire64_req r = { .operation = op,
					    .nr_segments = (uint8_t)nsegs,
					    .id = id, .sector_number = sector };

		for (i = 0; i < nsegs && i < 11; i++)
			r.seg[i] = (struct blk_wire_seg){ refs[i], first, last, 0 };
		memcpy(slot, &r, sizeof(r));
	}
}

void fe_discard(struct fe *fe, uint64_t id, uint64_t sector, uint64_t nr,
		uint8_t flag)
{
	void *slot = fe_slot(fe, fe->req_prod_pvt++);

	if (fe->abi == BLK_ABI_X86_32) {
		struct blk_wire32_discard r = { .operation = BLKIF_OP_DISCARD,
			.flag = flag, .id = id, .sector_number = sector,
			.nr_sectors = nr };
		memcpy(slot, &r, sizeof(r));
	} else {
		struct blk_wire64_discard r = { .operation = BLKIF_OP_DISCARD,
			.flag = flag, .id = id, .sector_number = sector,
			.nr_sectors = nr };
		memcpy(slot, &r, sizeof(r));
	}
}

void fe_indirect(struct fe *fe, uint8_t op, uint64_t id, uint64_t sector,
		 uint16_t nsegs, const grant_ref_t *ind_refs, unsigned int nind)
{
	void *slot = fe_slot(fe, fe->req_prod_pvt++);
	unsigned int i;

	if (fe->abi == BLK_ABI_X86_32) {
		struct blk_wire32_indirect r = { .operation = BLKIF_OP_INDIRECT,
			.indirect_op = op, .nr_segments = nsegs, .id = id,
			.sector_number = sector };

		for (i = 0; i < nind && i < 8; i++)
			r.indirect_grefs[i] = ind_refs[i];
		memcpy(slot, &r, sizeof(r));
	} else {
		struct blk_wire64_indirect r = { .operation = BLKIF_OP_INDIRECT,
			.indirect_op = op, .nr_segments = nsegs, .id = id,
			.sector_number = sector };

		for (i = 0; i < nind && i < 8; i++)
			r.indirect_grefs[i] = ind_refs[i];
		memcpy(slot, &r, sizeof(r));
	}
}

/* Publish requests; notify when the backend asked (RING_PUSH_REQUESTS_
 * AND_CHECK_NOTIFY), or always with @force. */
void fe_push(struct fe *fe, bool force)
{
	RING_IDX old = fe->sring->req_prod, new_prod = fe->req_prod_pvt;

	__atomic_thread_fence(__ATOMIC_RELEASE);
	__atomic_store_n(&fe->sring->req_prod, new_prod, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (force || (RING_IDX)(new_prod - fe->sring->req_event) <
		     (RING_IDX)(new_prod - old))
		fake_kick(fe->f, fe->port);
}

struct rsp fe_get_rsp(struct fe *fe, RING_IDX i)
{
	const uint8_t *p = fe_slot(fe, i);
	struct rsp r;

	memcpy(&r.id, p, 8);
	r.op = p[8];
	memcpy(&r.status, p + 10, 2);
	return r;
}

/* Wait (bounded) until @n responses are unconsumed; consume them. */
void fe_wait(struct fe *fe, unsigned int n, struct rsp *out)
{
	unsigned int waited = 0, i;

	while ((RING_IDX)(__atomic_load_n(&fe->sring->rsp_prod,
					  __ATOMIC_ACQUIRE) - fe->rsp_cons) < n) {
		if (waited++ > WAIT_MS)
			fail_msg("timed out waiting for %u responses (have %u)",
				 n, fe->sring->rsp_prod - fe->rsp_cons);
		msleep(1);
	}
	for (i = 0; i < n; i++) {
		struct rsp r = fe_get_rsp(fe, fe->rsp_cons++);

		if (out)
			out[i] = r;
	}
	fe->sring->rsp_event = fe->rsp_cons + 1;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

struct rsp fe_one(struct fe *fe)
{
	struct rsp r;

	fe_push(fe, false);
	fe_wait(fe, 1, &r);
	return r;
}

uint64_t stat_of(struct blk_queue *q, enum blk_stat k)
{
	struct blk_stats s;

	blk_stats_snapshot(blk_queue_stats(q), &s);
	return s.v[k];
}

void wait_stat(struct blk_queue *q, enum blk_stat k, uint64_t want)
{
	unsigned int waited = 0;

	while (stat_of(q, k) < want) {
		if (waited++ > WAIT_MS)
			fail_msg("timed out waiting for %s >= %lu",
				 blk_stat_name(k), (unsigned long)want);
		msleep(1);
	}
}

/* ---- fixture ---- */

void fx_create(struct fx **out)
{
	struct fx *x = calloc(1, sizeof(*x));
	unsigned int i;
	int fd;

	assert_non_null(x);
	assert_int_equal(fake_hv_create(GUEST_PAGES, &x->f), 0);
	snprintf(x->path, sizeof(x->path), "/dev/shm/test_blk_queue.XXXXXX");
	fd = mkstemp(x->path);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)IMG_SECTORS * 512), 0);
	close(fd);
	for (i = 0; i < 512; i++) {
		x->data_ref[i] = fake_grant(x->f, DATA_GFN + i, false);
		x->data_ro[i] = fake_grant(x->f, DATA_GFN + i, true);
	}
	for (i = 0; i < 16; i++)
		x->ind_ref[i] = fake_grant(x->f, IND_GFN + i, true);
	*out = x;
}

void fx_start(struct fx *x, const struct opts *o)
{
	struct blk_queue_config cfg;
	uint32_t i;

	assert_int_equal(blk_disk_open(x->path, o->readonly, true, &x->disk), 0);
	fe_init(&x->fe, x->f, o->abi, o->order);
	memset(&cfg, 0, sizeof(cfg));
	cfg.hv = fake_hv_base(x->f);
	cfg.domid = FAKE_GUEST;
	cfg.abi = o->abi;
	cfg.ring_order = o->order;
	for (i = 0; i < (1u << o->order); i++)
		cfg.ring_refs[i] = x->fe.ring_refs[i];
	cfg.remote_port = x->fe.port;
	cfg.fd = x->disk.fd;
	cfg.limits = (struct blk_limits){
		.sectors = x->disk.sectors,
		.max_indirect_segs = o->max_indirect ? o->max_indirect : 256,
		.readonly = o->readonly,
		.flush = !o->no_flush,
		.barrier = !o->no_flush,
		.discard = x->disk.discard,
		.discard_secure = false,
	};
	cfg.persistent = o->persistent;
	cfg.persist_max = o->persist_max;
	cfg.persist_idle_ns = o->idle_ns;
	cfg.poll_us = o->poll_us;
	cfg.poll_adaptive = o->poll_adaptive;
	cfg.coalesce = o->coalesce;
	cfg.inline_rw = o->inline_rw;
	cfg.copy_pool_kib = o->copy_kib;
	cfg.fixed_buffers = o->fixed;
	cfg.pin_cpu = o->cpu > 0;
	cfg.cpu = o->cpu > 0 ? (unsigned int)(o->cpu - 1) : 0;
	cfg.engine = o->engine;
	assert_int_equal(blk_queue_start(&cfg, &x->q), 0);
	assert_int_equal(fake_ports_bound(x->f), 1);
}

void fx_stop(struct fx *x)
{
	blk_queue_stop(x->q, NULL);
	x->q = NULL;
	assert_int_equal(fake_pages_mapped(x->f), 0);
	assert_int_equal(fake_ports_bound(x->f), 0);
	blk_disk_close(&x->disk);
}

void fx_destroy(struct fx *x)
{
	if (x->q)
		fx_stop(x);
	unlink(x->path);
	fake_hv_destroy(x->f);
	free(x);
}

uint8_t *data_page(struct fx *x, unsigned int i)
{
	return fake_page(x->f, DATA_GFN + i);
}

void fill(uint8_t *p, size_t n, uint32_t seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)((i * 131u) ^ seed ^ (i >> 8));
}

void write_indirect_page(struct fx *x, unsigned int ind, unsigned int n,
			 unsigned int first_data, bool ro)
{
	struct blk_wire_seg *s = fake_page(x->f, IND_GFN + ind);
	unsigned int i;

	for (i = 0; i < n; i++)
		s[i] = (struct blk_wire_seg){
			ro ? x->data_ro[first_data + i]
			   : x->data_ref[first_data + i], 0, 7, 0 };
}

/* ---- a gated engine: holds I/O until the test opens the gate ---- */

struct gate {
	struct blk_engine base;
	struct blk_engine *inner;
	int open;                       /* atomic */
	unsigned int held;
	struct { bool write; const struct iovec *iov; unsigned int cnt;
		 uint64_t off, tag; } q[1024];
};

static struct gate *the_gate;

static int g_create(const struct blk_engine_config *cfg,
		    struct blk_engine **out);
static void g_destroy(struct blk_engine *e)
{
	struct gate *g = (struct gate *)e;

	g->inner->ops->destroy(g->inner);
	the_gate = NULL;
	free(g);
}

static void g_release(struct gate *g)
{
	unsigned int i;

	if (!__atomic_load_n(&g->open, __ATOMIC_ACQUIRE))
		return;
	for (i = 0; i < g->held; i++)
		g->inner->ops->prep_rw(g->inner, g->q[i].write, g->q[i].iov,
				       g->q[i].cnt, g->q[i].off, g->q[i].tag, 0);
	if (g->held)
		g->inner->ops->submit(g->inner);
	g->held = 0;
}

static int g_prep_rw(struct blk_engine *e, bool write, const struct iovec *iov,
		     unsigned int iovcnt, uint64_t offset, uint64_t tag,
		     unsigned int flags)
{
	struct gate *g = (struct gate *)e;

	if (g->held == 1024)
		return -EBUSY;
	g->q[g->held].write = write;
	g->q[g->held].iov = iov;
	g->q[g->held].cnt = iovcnt;
	g->q[g->held].off = offset;
	g->q[g->held].tag = tag;
	g->held++;
	return 0;
}

static int g_prep_flush(struct blk_engine *e, uint64_t tag, unsigned int f)
{
	return ((struct gate *)e)->inner->ops->prep_flush(
		((struct gate *)e)->inner, tag, f);
}

static int g_prep_discard(struct blk_engine *e, uint64_t off, uint64_t len,
			  bool secure, uint64_t tag)
{
	return ((struct gate *)e)->inner->ops->prep_discard(
		((struct gate *)e)->inner, off, len, secure, tag);
}

static int g_prep_poll(struct blk_engine *e, int fd, uint64_t tag)
{
	return ((struct gate *)e)->inner->ops->prep_poll(
		((struct gate *)e)->inner, fd, tag);
}

static int g_submit(struct blk_engine *e)
{
	struct gate *g = (struct gate *)e;

	g_release(g);
	return g->inner->ops->submit(g->inner);
}

static int g_reap(struct blk_engine *e, struct blk_cqe *c, unsigned int max,
		  bool wait, int64_t timeout_us)
{
	struct gate *g = (struct gate *)e;

	g_release(g);
	/* While holding I/O, wake up often to look at the gate. */
	if (g->held && (timeout_us < 0 || timeout_us > 5000))
		timeout_us = 5000;
	return g->inner->ops->reap(g->inner, c, max, wait, timeout_us);
}

static bool g_ready(struct blk_engine *e)
{
	struct gate *g = (struct gate *)e;

	return g->inner->ops->ready(g->inner) ||
	       (g->held && __atomic_load_n(&g->open, __ATOMIC_ACQUIRE));
}

static int g_start(struct blk_engine *e)
{
	struct gate *g = (struct gate *)e;

	return g->inner->ops->start(g->inner);
}

const struct blk_engine_ops gate_ops = {
	.name = "gate",
	.create = g_create,
	.destroy = g_destroy,
	.start = g_start,
	.prep_rw = g_prep_rw,
	.prep_flush = g_prep_flush,
	.prep_discard = g_prep_discard,
	.prep_poll = g_prep_poll,
	.submit = g_submit,
	.reap = g_reap,
	.ready = g_ready,
};

static int g_create(const struct blk_engine_config *cfg,
		    struct blk_engine **out)
{
	struct gate *g = calloc(1, sizeof(*g));
	int ret;

	if (!g)
		return -ENOMEM;
	ret = blk_engine_uring_ops.create(cfg, &g->inner);
	if (ret) {
		free(g);
		return ret;
	}
	g->base.ops = &gate_ops;
	the_gate = g;
	*out = &g->base;
	return 0;
}

void gate_open(void)
{
	__atomic_store_n(&the_gate->open, 1, __ATOMIC_RELEASE);
}

