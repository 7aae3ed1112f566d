/* SPDX-License-Identifier: MIT */
/*
 * blkfront against the reference test backend (test_blkfront_back.c) under
 * a private xensim: the negotiation matrix (ring order x ABI x persistent
 * x indirect x queues, and the frontend/backend that offer nothing), data
 * round trips through every data path (bounce, persistent, zero copy,
 * indirect), the optional ops, recovery after a backend crash and the raw
 * ring API.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <uback/xs.h>
#include <xensim/guest.h>

#include "blkfront.h"
#include "blkfront_raw.h"
#include "sim_harness.h"
#include "test_blkfront_back.h"

#define DEVID 51712u
#define DISK_SECTORS 16384u        /* 8 MiB */
#define WAIT_MS 20000

struct fx {
	struct sim_harness h;
	struct xg_sim *sim;
	struct xs_handle *xs;          /* dom0 */
	struct xg_dom *dom;
	uint8_t *disk;
	struct tb *tb;
	struct blkfront *bf;
};

static struct fx fx;

static int group_setup(void **state)
{
	if (sim_harness_start(&fx.h))
		return -1;
	if (xg_sim_connect(fx.h.dir, &fx.sim))
		return -1;
	if (xg_sim_xs_open(fx.sim, &fx.xs))
		return -1;
	fx.disk = calloc(DISK_SECTORS, 512);
	*state = &fx;
	return fx.disk ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	free(fx.disk);
	xs_close(fx.xs);
	xg_sim_disconnect(fx.sim);
	return sim_harness_stop(&fx.h) ? -1 : 0;
}

/* A fresh guest with one vbd, and a backend offering @bc. */
static void up(const struct tb_config *offer)
{
	struct xg_dom_config dc = { .mem_pages = 32768, .nr_grants = 65536 };
	struct tb_config c = *offer;

	assert_int_equal(xg_dom_create(fx.sim, &dc, &fx.dom), 0);
	assert_int_equal(xg_device_create(fx.sim, xg_dom_id(fx.dom), "vbd",
					  "vbd", DEVID, NULL, NULL), 0);
	memset(fx.disk, 0, (size_t)DISK_SECTORS * 512);
	c.domid = xg_dom_id(fx.dom);
	c.devid = DEVID;
	c.disk = fx.disk;
	c.sectors = DISK_SECTORS;
	assert_int_equal(tb_start(&c, &fx.tb), 0);
}

static void down(void)
{
	blkfront_close(fx.bf);
	fx.bf = NULL;
	tb_stop(fx.tb);
	fx.tb = NULL;
	assert_int_equal(xg_device_remove(fx.sim, xg_dom_id(fx.dom), "vbd",
					  "vbd", DEVID), 0);
	assert_int_equal(xg_dom_destroy(fx.dom), 0);
	fx.dom = NULL;
}

static void connect_bf(struct blkfront_config *c)
{
	c->dom = fx.dom;
	c->devid = DEVID;
	c->timeout_ms = WAIT_MS;
	assert_int_equal(blkfront_connect(c, &fx.bf), 0);
}

static void pattern(uint8_t *p, size_t len, uint64_t seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)((seed * 131 + i * 7 + (i >> 9)) ^ (seed >> 3));
}

static int rw(enum blkfront_op op, unsigned int queue, uint64_t sector,
	      void *buf, size_t len)
{
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct blkfront_req r = {
		.op = op, .queue = queue, .sector = sector,
		.iov = &iov, .iovcnt = 1, .tag = sector ^ 0x5a5a,
	};

	return blkfront_sync(fx.bf, &r, WAIT_MS);
}

/* Write, read back, and compare with the backend's disk. */
static void round_trip(unsigned int queue, uint64_t sector, size_t len,
		       uint8_t *wbuf, uint8_t *rbuf)
{
	pattern(wbuf, len, sector + len);
	assert_int_equal(rw(BLKFRONT_OP_WRITE, queue, sector, wbuf, len), 0);
	assert_memory_equal(fx.disk + sector * 512, wbuf, len);
	memset(rbuf, 0, len);
	assert_int_equal(rw(BLKFRONT_OP_READ, queue, sector, rbuf, len), 0);
	assert_memory_equal(rbuf, wbuf, len);
}

/* ---- negotiation matrix ---- */

struct neg_case {
	unsigned int order, queues, indirect;
	enum blkfront_abi abi;
	bool persistent;
};

static bool key_exists(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
static bool key_exists(const char *fmt, ...)
{
	char path[256], *v = NULL;
	va_list ap;
	int ret;

	va_start(ap, fmt);
	vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	ret = xb_xs_read(fx.xs, XBT_NULL, path, &v);
	free(v);
	return ret == 0;
}

static void check_keys(const struct neg_case *c, const struct blkfront_info *i)
{
	char fe[128];
	unsigned int q;

	snprintf(fe, sizeof(fe), "/local/domain/%u/device/vbd/%u",
		 xg_dom_id(fx.dom), DEVID);
	assert_int_equal(key_exists("%s/ring-page-order", fe),
			 i->ring_page_order > 0);
	assert_int_equal(key_exists("%s/multi-queue-num-queues", fe),
			 i->nr_queues > 1);
	assert_int_equal(key_exists("%s/protocol", fe),
			 c->abi != BLKFRONT_ABI_UNSET);
	assert_int_equal(key_exists("%s/feature-persistent", fe),
			 c->persistent);
	for (q = 0; q < i->nr_queues; q++) {
		char dir[160];

		if (i->nr_queues > 1)
			snprintf(dir, sizeof(dir), "%s/queue-%u", fe, q);
		else
			snprintf(dir, sizeof(dir), "%s", fe);
		assert_true(key_exists("%s/event-channel", dir));
		assert_int_equal(key_exists("%s/ring-ref", dir),
				 i->ring_page_order == 0);
		assert_int_equal(key_exists("%s/ring-ref0", dir),
				 i->ring_page_order > 0);
		assert_int_equal(key_exists("%s/ring-ref%u", dir,
					    (1u << i->ring_page_order) - 1),
				 i->ring_page_order > 0);
		assert_false(key_exists("%s/ring-ref%u", dir,
					1u << i->ring_page_order));
	}
	if (i->nr_queues > 1)
		assert_false(key_exists("%s/ring-ref", fe) ||
			     key_exists("%s/event-channel", fe));
}

static void run_neg_case(const struct neg_case *c, const struct tb_config *o)
{
	struct blkfront_config bc = {
		.ring_page_order = c->order, .nr_queues = c->queues,
		.abi = c->abi, .persistent = c->persistent,
		.max_indirect_segs = c->indirect, .keep_keys = true,
		.use_flush = true,
	};
	size_t big = 44 * 1024;
	uint8_t *w, *r;
	struct blkfront_info i;
	struct tb_stats st;
	unsigned int q, want;

	up(o);
	connect_bf(&bc);
	blkfront_get_info(fx.bf, &i);

	want = c->order < o->max_ring_order ? c->order : o->max_ring_order;
	assert_int_equal(i.ring_page_order, want);
	want = c->queues ? c->queues : 1;
	if (want > (o->max_queues ? o->max_queues : 1))
		want = o->max_queues ? o->max_queues : 1;
	assert_int_equal(i.nr_queues, want);
	assert_int_equal(i.nr_ents, 32u << i.ring_page_order);
	assert_int_equal(i.persistent, c->persistent && o->persistent);
	want = c->indirect < o->max_indirect ? c->indirect : o->max_indirect;
	assert_int_equal(i.max_indirect_segs, want > 11 ? want : 0);
	assert_int_equal(i.max_segs, want > 11 ? want : 11);
	assert_int_equal(i.flush, o->flush);
	assert_true(i.sectors == DISK_SECTORS);
	check_keys(c, &i);

	tb_get_stats(fx.tb, &st);
	assert_int_equal(st.ring_order, i.ring_page_order);
	assert_int_equal(st.nr_queues, i.nr_queues);
	assert_int_equal(st.abi, c->abi == BLKFRONT_ABI_X86_32 ? 32 : 64);
	assert_int_equal(st.fe_persistent, i.persistent);

	if (i.max_segs * 4096u > big)
		big = i.max_segs * 4096u;
	w = malloc(big);
	r = malloc(big);
	assert_non_null(w);
	assert_non_null(r);
	for (q = 0; q < i.nr_queues; q++) {
		round_trip(q, 8 + q * 1000, 4096, w, r);
		round_trip(q, 100 + q * 1000, 512, w, r);
		round_trip(q, 300 + q * 1000, big, w, r);
	}
	if (i.flush) {
		struct blkfront_req f = { .op = BLKFRONT_OP_FLUSH, .tag = 1 };

		assert_int_equal(blkfront_sync(fx.bf, &f, WAIT_MS), 0);
	}
	tb_get_stats(fx.tb, &st);
	assert_int_equal(st.indirect > 0, i.max_indirect_segs > 0);
	assert_int_equal(st.errors, 0);
	free(w);
	free(r);
	down();
}

static const struct tb_config offer_all = {
	.max_ring_order = 4, .max_queues = 4, .max_indirect = 256,
	.persistent = true, .flush = true, .barrier = true, .discard = true,
};
static const struct tb_config offer_none = { 0 };

static void test_negotiation_matrix(void **state)
{
	static const unsigned int orders[] = { 0, 1, 4 };
	static const enum blkfront_abi abis[] = {
		BLKFRONT_ABI_UNSET, BLKFRONT_ABI_X86_64, BLKFRONT_ABI_X86_32,
	};
	static const unsigned int indirect[] = { 0, 64 };
	static const unsigned int queues[] = { 1, 3 };
	unsigned int a, b, c, d, e;

	(void)state;
	for (a = 0; a < 3; a++)
		for (b = 0; b < 3; b++)
			for (c = 0; c < 2; c++)
				for (d = 0; d < 2; d++)
					for (e = 0; e < 2; e++) {
						struct neg_case nc = {
							.order = orders[a],
							.abi = abis[b],
							.persistent = c,
							.indirect = indirect[d],
							.queues = queues[e],
						};

						run_neg_case(&nc, &offer_all);
					}
}

/* Frontend with every feature against a backend that offers none. */
static void test_backend_offers_nothing(void **state)
{
	static const struct neg_case cases[] = {
		{ .order = 4, .queues = 4, .indirect = 256, .persistent = true,
		  .abi = BLKFRONT_ABI_X86_32 },
		{ .order = 2, .queues = 2, .indirect = 512, .persistent = true,
		  .abi = BLKFRONT_ABI_X86_64 },
	};
	unsigned int i;

	(void)state;
	for (i = 0; i < 2; i++)
		run_neg_case(&cases[i], &offer_none);
}

/* Legacy frontend (zeroed config) against the full backend. */
static void test_frontend_uses_nothing(void **state)
{
	struct neg_case nc = { 0 };
	struct blkfront_config bc = { 0 };
	struct blkfront_req f = { .op = BLKFRONT_OP_FLUSH };
	struct blkfront_req d = { .op = BLKFRONT_OP_DISCARD, .nr_sectors = 8 };
	struct blkfront_info i;

	(void)state;
	run_neg_case(&nc, &offer_all);
	up(&offer_all);
	connect_bf(&bc);
	blkfront_get_info(fx.bf, &i);
	assert_false(i.flush || i.barrier || i.discard || i.persistent);
	assert_true(i.be_flush && i.be_barrier && i.be_discard &&
		    i.be_persistent);
	assert_int_equal(i.be_max_ring_page_order, 4);
	assert_int_equal(i.be_max_queues, 4);
	assert_int_equal(i.be_max_indirect_segs, 256);
	assert_int_equal(blkfront_submit(fx.bf, &f), -EOPNOTSUPP);
	assert_int_equal(blkfront_submit(fx.bf, &d), -EOPNOTSUPP);
	down();
}

/* ---- ops and data paths ---- */

static void test_optional_ops(void **state)
{
	struct blkfront_config bc = {
		.use_flush = true, .use_barrier = true, .use_discard = true,
	};
	uint8_t w[8192], r[8192];
	struct iovec iov = { .iov_base = w, .iov_len = sizeof(w) };
	struct blkfront_req req = { .tag = 7 };
	struct tb_stats st;

	(void)state;
	up(&offer_all);
	connect_bf(&bc);
	req.op = BLKFRONT_OP_FLUSH;
	assert_int_equal(blkfront_sync(fx.bf, &req, WAIT_MS), 0);
	pattern(w, sizeof(w), 99);
	req.op = BLKFRONT_OP_BARRIER;
	req.sector = 64;
	req.iov = &iov;
	req.iovcnt = 1;
	assert_int_equal(blkfront_sync(fx.bf, &req, WAIT_MS), 0);
	assert_memory_equal(fx.disk + 64 * 512, w, sizeof(w));
	/* Empty barrier: a pure ordering point. */
	req.iovcnt = 0;
	req.iov = NULL;
	assert_int_equal(blkfront_sync(fx.bf, &req, WAIT_MS), 0);
	req.op = BLKFRONT_OP_DISCARD;
	req.sector = 64;
	req.nr_sectors = 8;
	assert_int_equal(blkfront_sync(fx.bf, &req, WAIT_MS), 0);
	memset(r, 0, 4096);
	assert_memory_equal(fx.disk + 64 * 512, r, 4096);
	assert_memory_equal(fx.disk + 72 * 512, w + 4096, 4096);
	/* Out of the disk: the backend's error comes back as -EIO. */
	req.op = BLKFRONT_OP_READ;
	req.sector = DISK_SECTORS - 1;
	iov.iov_base = r;
	iov.iov_len = 4096;
	req.iov = &iov;
	req.iovcnt = 1;
	assert_int_equal(blkfront_sync(fx.bf, &req, WAIT_MS), -EIO);
	tb_get_stats(fx.tb, &st);
	assert_int_equal(st.ops[BLKIF_OP_FLUSH_DISKCACHE], 1);
	assert_int_equal(st.ops[BLKIF_OP_WRITE_BARRIER], 2);
	assert_int_equal(st.ops[BLKIF_OP_DISCARD], 1);
	down();
}

static void test_bad_requests(void **state)
{
	struct blkfront_config bc = { 0 };
	uint8_t buf[64 * 1024];
	struct iovec iov = { .iov_base = buf, .iov_len = 1000 };
	struct blkfront_req r = { .op = BLKFRONT_OP_WRITE, .iov = &iov,
				  .iovcnt = 1 };

	(void)state;
	up(&offer_all);
	connect_bf(&bc);
	assert_int_equal(blkfront_submit(fx.bf, &r), -EINVAL);
	iov.iov_len = 0;
	assert_int_equal(blkfront_submit(fx.bf, &r), -EINVAL);
	iov.iov_len = 12 * 4096;             /* > 11 segments, no indirect */
	assert_int_equal(blkfront_submit(fx.bf, &r), -E2BIG);
	iov.iov_len = 4096;
	r.queue = 1;
	assert_int_equal(blkfront_submit(fx.bf, &r), -EINVAL);
	r.queue = 0;
	r.iovcnt = BLKFRONT_MAX_IOV + 1;
	assert_int_equal(blkfront_submit(fx.bf, &r), -EINVAL);
	/* Regression: a FLUSH with a bogus iovec count overflowed the
	 * request slot's iovec copy. */
	r.op = BLKFRONT_OP_FLUSH;
	assert_int_equal(blkfront_submit(fx.bf, &r), -EINVAL);
	r.iovcnt = 1;
	r.iov = NULL;
	assert_int_equal(blkfront_submit(fx.bf, &r), -EINVAL);
	assert_int_equal(blkfront_inflight(fx.bf), 0);
	down();
}

/*
 * Many requests in flight, random sizes and offsets, scattered iovecs,
 * against a model; then everything read back.
 */
static void async_workload(struct blkfront *bf, unsigned int nq, bool guest_mem,
			   unsigned int max_pages)
{
	enum { SLOTS = 24 };
	static uint8_t model[DISK_SECTORS * 512ul];
	uint8_t *bufs[SLOTS];
	size_t lens[SLOTS];
	bool busy[SLOTS] = { false };
	unsigned int i, done = 0, issued = 0, total = 600;
	uint64_t rng = 12345;
	int waits = 0;

	memset(model, 0, sizeof(model));
	for (i = 0; i < SLOTS; i++) {
		size_t sz = (size_t)max_pages * 4096;

		if (guest_mem)
			assert_int_equal(blkfront_mem_alloc(bf, sz,
							    (void **)&bufs[i]),
					 0);
		else
			bufs[i] = malloc(sz);
		assert_non_null(bufs[i]);
	}
	/* Writes to disjoint slots of the disk per buffer so overlapping
	 * in-flight writes cannot race: buffer i owns a region. */
	while (done < total) {
		struct blkfront_completion c[SLOTS];
		int n, k;

		for (i = 0; i < SLOTS && issued < total; i++) {
			struct iovec iov[3];
			struct blkfront_req r = { .op = BLKFRONT_OP_WRITE };
			uint64_t region = (uint64_t)i * (DISK_SECTORS / SLOTS);
			size_t sectors, a, b;
			int ret;

			if (busy[i])
				continue;
			rng = rng * 6364136223846793005ull +
			      1442695040888963407ull;
			sectors = 1 + (rng >> 33) % (max_pages * 8);
			lens[i] = sectors * 512;
			r.sector = region + (rng >> 20) %
				   (DISK_SECTORS / SLOTS - sectors);
			pattern(bufs[i], lens[i], rng);
			/* Split in up to three sector-aligned pieces. */
			a = ((rng >> 8) % sectors) * 512;
			b = a + ((rng >> 16) % (sectors - a / 512 + 1)) * 512;
			iov[0] = (struct iovec){ bufs[i], a };
			iov[1] = (struct iovec){ bufs[i] + a, b - a };
			iov[2] = (struct iovec){ bufs[i] + b, lens[i] - b };
			r.iov = iov;
			r.iovcnt = 3;
			r.queue = issued % nq;
			r.tag = i;
			ret = blkfront_submit(bf, &r);
			if (ret == -EBUSY)
				break;
			assert_int_equal(ret, 0);
			memcpy(model + r.sector * 512, bufs[i], lens[i]);
			busy[i] = true;
			issued++;
		}
		blkfront_kick(bf);
		n = blkfront_poll(bf, c, SLOTS);
		assert_true(n >= 0);
		for (k = 0; k < n; k++) {
			assert_int_equal(c[k].status, 0);
			assert_true(c[k].tag < SLOTS && busy[c[k].tag]);
			busy[c[k].tag] = false;
			done++;
		}
		if (!n) {
			assert_true(waits++ < 10000);
			blkfront_wait(bf, 100);
		}
	}
	assert_memory_equal(fx.disk, model, sizeof(model));
	/* Read everything back through the frontend. */
	for (i = 0; i < DISK_SECTORS / (max_pages * 8); i++) {
		struct iovec iov = { bufs[0], (size_t)max_pages * 4096 };
		struct blkfront_req r = {
			.op = BLKFRONT_OP_READ, .iov = &iov, .iovcnt = 1,
			.sector = (uint64_t)i * max_pages * 8, .tag = 999,
			.queue = i % nq,
		};

		assert_int_equal(blkfront_sync(bf, &r, WAIT_MS), 0);
		assert_memory_equal(bufs[0], model + r.sector * 512,
				    iov.iov_len);
	}
	for (i = 0; i < SLOTS; i++) {
		if (guest_mem)
			blkfront_mem_free(bf, bufs[i],
					  (size_t)max_pages * 4096);
		else
			free(bufs[i]);
	}
}

/* blkfront_has_responses: false while nothing is answered, true once a
 * response sits on the ring (before any poll), false again after. */
static void test_has_responses(void **state)
{
	struct blkfront_config bc = { .queue_depth = 4 };
	static uint8_t buf[4096];
	struct iovec iov = { buf, sizeof(buf) };
	struct blkfront_req r = {
		.op = BLKFRONT_OP_READ, .iov = &iov, .iovcnt = 1,
		.sector = 8, .tag = 7,
	};
	struct blkfront_completion c[2];
	unsigned int spins = 0;

	(void)state;
	up(&offer_all);
	connect_bf(&bc);
	assert_false(blkfront_has_responses(fx.bf));
	assert_int_equal(blkfront_submit(fx.bf, &r), 0);
	blkfront_kick(fx.bf);
	while (!blkfront_has_responses(fx.bf)) {
		assert_true(spins++ < WAIT_MS * 10);
		usleep(100);
	}
	assert_int_equal(blkfront_poll(fx.bf, c, 2), 1);
	assert_int_equal(c[0].tag, 7);
	assert_int_equal(c[0].status, 0);
	assert_false(blkfront_has_responses(fx.bf));
	down();
}

static void test_async_bounce(void **state)
{
	struct blkfront_config bc = { .queue_depth = 16 };

	(void)state;
	up(&offer_all);
	connect_bf(&bc);
	async_workload(fx.bf, 1, false, 11);
	down();
}

static void test_async_zero_copy_multiqueue(void **state)
{
	struct blkfront_config bc = { .nr_queues = 4, .ring_page_order = 2,
				      .abi = BLKFRONT_ABI_X86_32 };

	(void)state;
	up(&offer_all);
	connect_bf(&bc);
	async_workload(fx.bf, 4, true, 8);
	down();
}

static void test_async_persistent_indirect(void **state)
{
	struct blkfront_config bc = { .persistent = true,
				      .max_indirect_segs = 128,
				      .ring_page_order = 1 };
	struct blkfront_info i;

	(void)state;
	up(&offer_all);
	connect_bf(&bc);
	blkfront_get_info(fx.bf, &i);
	assert_true(i.persistent);
	assert_int_equal(i.max_segs, 128);
	async_workload(fx.bf, 1, false, 64);
	down();
}

/* ---- recovery ---- */

static void test_recovery_after_crash(void **state)
{
	struct blkfront_config bc = { .use_flush = true, .nr_queues = 2,
				      .persistent = true };
	struct tb_config o = offer_all;
	enum { N = 12 };
	uint8_t w[N][4096], r[8192];
	struct iovec iov[N];
	struct blkfront_completion c[N];
	bool seen[N] = { false };
	struct blkfront_info i;
	unsigned int k, got = 0;
	int waits = 0;

	(void)state;
	up(&o);
	connect_bf(&bc);
	round_trip(0, 0, 4096, w[0], r);
	/* Requests sit on the ring, unanswered, when the backend dies. */
	tb_hold_responses(fx.tb, true);
	for (k = 0; k < N; k++) {
		struct blkfront_req q = { .op = BLKFRONT_OP_WRITE,
					  .sector = 8 * (k + 1), .tag = k,
					  .queue = k % 2, .iov = &iov[k],
					  .iovcnt = 1 };

		pattern(w[k], 4096, 1000 + k);
		iov[k] = (struct iovec){ w[k], 4096 };
		assert_int_equal(blkfront_submit(fx.bf, &q), 0);
	}
	blkfront_kick(fx.bf);
	assert_int_equal(blkfront_poll(fx.bf, c, N), 0);
	tb_crash(fx.tb);
	fx.tb = NULL;
	assert_int_equal(blkfront_inflight(fx.bf), N);
	/* A new backend instance on the same path. */
	o.domid = xg_dom_id(fx.dom);
	assert_int_equal(tb_start(&(struct tb_config){
		.domid = xg_dom_id(fx.dom), .devid = DEVID, .disk = fx.disk,
		.sectors = DISK_SECTORS, .max_ring_order = 4,
		.max_queues = 4, .max_indirect = 256, .persistent = true,
		.flush = true, .barrier = true, .discard = true }, &fx.tb), 0);
	while (got < N) {
		int n = blkfront_poll(fx.bf, c, N);

		assert_true(n >= 0);
		for (k = 0; k < (unsigned int)n; k++) {
			assert_int_equal(c[k].status, 0);
			assert_false(seen[c[k].tag]);
			seen[c[k].tag] = true;
			got++;
		}
		if (!n) {
			assert_true(waits++ < 600);
			blkfront_wait(fx.bf, 100);
		}
	}
	blkfront_get_info(fx.bf, &i);
	assert_int_equal(i.recoveries, 1);
	assert_int_equal(i.resubmitted, N);
	assert_int_equal(i.nr_queues, 2);
	for (k = 0; k < N; k++)
		assert_memory_equal(fx.disk + 8 * (k + 1) * 512, w[k], 4096);
	/* The same blkfront keeps working. */
	round_trip(1, 4000, 8192, w[0], r);
	{
		struct blkfront_req f = { .op = BLKFRONT_OP_FLUSH };

		assert_int_equal(blkfront_sync(fx.bf, &f, WAIT_MS), 0);
	}
	down();
}

/* A backend that closes (not a restart) and comes back to InitWait. */
static void test_recovery_forced(void **state)
{
	struct blkfront_config bc = { .ring_page_order = 3 };
	uint8_t w[4096], r[4096];
	struct blkfront_info i;

	(void)state;
	up(&offer_all);
	connect_bf(&bc);
	round_trip(0, 16, 4096, w, r);
	assert_int_equal(blkfront_recover(fx.bf), 0);
	blkfront_get_info(fx.bf, &i);
	assert_int_equal(i.recoveries, 1);
	assert_int_equal(i.ring_page_order, 3);
	round_trip(0, 32, 4096, w, r);
	down();
}

/* ---- raw API ---- */

static void test_raw_push(void **state)
{
	struct blkfront_config bc = { .abi = BLKFRONT_ABI_X86_32 };
	struct blkfront_raw_ring rr;
	struct blkfront_wire_req w = { .operation = BLKIF_OP_FLUSH_DISKCACHE,
				       .id = 0xabcdef };
	struct blkfront_wire_rsp rsp;
	uint8_t slot[BLKFRONT_SLOT_SIZE_MAX];
	struct blkfront_completion c[4];
	struct blkfront_info i;
	int waits = 0;

	(void)state;
	up(&offer_all);
	bc.use_flush = true;
	connect_bf(&bc);
	assert_int_equal(blkfront_raw_ring(fx.bf, 0, &rr), 0);
	assert_int_equal(rr.slot_size, 108);
	assert_int_equal(rr.nr_ents, 32);
	assert_int_equal(rr.req_prod_pvt, 0);
	blkfront_wire_encode(rr.abi, &w, slot);
	assert_int_equal(blkfront_raw_put_slot(fx.bf, 0, 0, slot, rr.slot_size),
			 0);
	blkfront_raw_set_req_prod(fx.bf, 0, 1);
	assert_int_equal(blkfront_raw_notify(fx.bf, 0), 0);
	while (blkfront_raw_get_rsp_prod(fx.bf, 0) != 1) {
		assert_true(waits++ < 2000);
		blkfront_wait(fx.bf, 10);
	}
	assert_int_equal(blkfront_raw_get_slot(fx.bf, 0, 0, slot, 12), 0);
	blkfront_wire_decode_rsp(rr.abi, slot, &rsp);
	assert_true(rsp.id == 0xabcdef);
	assert_int_equal(rsp.operation, BLKIF_OP_FLUSH_DISKCACHE);
	assert_int_equal(rsp.status, BLKIF_RSP_OKAY);
	/* The library skips the id it never issued, once its indices agree. */
	blkfront_raw_set_private(fx.bf, 0, 1, 0);
	assert_int_equal(blkfront_poll(fx.bf, c, 4), 0);
	blkfront_get_info(fx.bf, &i);
	assert_int_equal(i.bad_responses, 1);
	down();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_negotiation_matrix),
		cmocka_unit_test(test_backend_offers_nothing),
		cmocka_unit_test(test_frontend_uses_nothing),
		cmocka_unit_test(test_optional_ops),
		cmocka_unit_test(test_bad_requests),
		cmocka_unit_test(test_has_responses),
		cmocka_unit_test(test_async_bounce),
		cmocka_unit_test(test_async_zero_copy_multiqueue),
		cmocka_unit_test(test_async_persistent_indirect),
		cmocka_unit_test(test_recovery_after_crash),
		cmocka_unit_test(test_recovery_forced),
		cmocka_unit_test(test_raw_push),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
