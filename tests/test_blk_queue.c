/* SPDX-License-Identifier: MIT */
/*
 * The blkif data path of one queue (ring consumer, grant mapping,
 * io_uring I/O, responses) against an in-process fake guest (blk_fakehv)
 * and a tmpfs image, without the simulator:
 *   - read/write round trips over ABI x ring order x persistent grants,
 *     indirect requests, flush/barrier, discard, polling mode;
 *   - the hostile guest: impossible producer (halt, no busy loop), unknown
 *     op, bad segment counts, bad segments, ranges past the end, writes to
 *     a read-only disk, bad/foreign/read-only grant refs, grants revoked
 *     while in flight, more than 8 indirect pages, duplicate ids, a
 *     frontend that never consumes responses, a guest destroyed with I/O
 *     in flight; a halted queue leaves another queue working.
 * Every test ends by checking that stop unmapped every page and unbound
 * every port.
 */
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

#include "uback/ring.h"
#include "blk_fakehv.h"
#include "blkback.h"

#define IMG_SECTORS 8192u          /* 4 MiB */
#define GUEST_PAGES 2048u
#define RING_GFN 0u                /* 16 pages */
#define IND_GFN 16u                /* 16 pages */
#define DATA_GFN 64u
#define WAIT_MS 20000

/* ---- a minimal frontend on the fake guest ---- */

struct fe {
	struct fake_hv *f;
	enum blk_abi abi;
	uint32_t order, nr_ents;
	size_t slot_size;
	struct xb_ring_hdr *sring;
	uint8_t *slots;
	grant_ref_t ring_refs[BLK_MAX_RING_PAGES];
	evtchn_port_t port;
	RING_IDX req_prod_pvt, rsp_cons;
};

struct fx {
	struct fake_hv *f;
	char path[64];
	struct blk_disk disk;
	struct fe fe;
	struct blk_queue *q;
	grant_ref_t data_ref[512];     /* data page i: gfn DATA_GFN + i */
	grant_ref_t data_ro[512];      /* same pages, read-only grants */
	grant_ref_t ind_ref[16];
};

static void msleep(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

static void fe_init(struct fe *fe, struct fake_hv *f, enum blk_abi abi,
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

static void *fe_slot(struct fe *fe, RING_IDX i)
{
	return fe->slots + (size_t)(i & (fe->nr_ents - 1)) * fe->slot_size;
}

/* Queue a read/write/barrier/flush with direct segments. */
static void fe_rw(struct fe *fe, uint8_t op, uint64_t id, uint64_t sector,
		  unsigned int nsegs, const grant_ref_t *refs,
		  uint8_t first, uint8_t last)
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

static void fe_discard(struct fe *fe, uint64_t id, uint64_t sector,
		       uint64_t nr, uint8_t flag)
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

static void fe_indirect(struct fe *fe, uint8_t op, uint64_t id,
			uint64_t sector, uint16_t nsegs,
			const grant_ref_t *ind_refs, unsigned int nind)
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
static void fe_push(struct fe *fe, bool force)
{
	RING_IDX old = fe->sring->req_prod, new_prod = fe->req_prod_pvt;

	__atomic_thread_fence(__ATOMIC_RELEASE);
	__atomic_store_n(&fe->sring->req_prod, new_prod, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (force || (RING_IDX)(new_prod - fe->sring->req_event) <
		     (RING_IDX)(new_prod - old))
		fake_kick(fe->f, fe->port);
}

struct rsp {
	uint64_t id;
	uint8_t op;
	int16_t status;
};

static struct rsp fe_get_rsp(struct fe *fe, RING_IDX i)
{
	const uint8_t *p = fe_slot(fe, i);
	struct rsp r;

	memcpy(&r.id, p, 8);
	r.op = p[8];
	memcpy(&r.status, p + 10, 2);
	return r;
}

/* Wait (bounded) until @n responses are unconsumed; consume them. */
static void fe_wait(struct fe *fe, unsigned int n, struct rsp *out)
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

static struct rsp fe_one(struct fe *fe)
{
	struct rsp r;

	fe_push(fe, false);
	fe_wait(fe, 1, &r);
	return r;
}

static uint64_t stat_of(struct blk_queue *q, enum blk_stat k)
{
	struct blk_stats s;

	blk_stats_snapshot(blk_queue_stats(q), &s);
	return s.v[k];
}

static void wait_stat(struct blk_queue *q, enum blk_stat k, uint64_t want)
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

struct opts {
	enum blk_abi abi;
	uint32_t order;
	bool persistent;
	bool readonly;
	uint32_t poll_us;
	uint32_t max_indirect;
	uint32_t persist_max;
	uint32_t copy_kib;         /* grant copy pool (non-persistent) */
	bool no_flush;
	const struct blk_engine_ops *engine;
};

static void fx_create(struct fx **out)
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

static void fx_start(struct fx *x, const struct opts *o)
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
	cfg.poll_us = o->poll_us;
	cfg.copy_pool_kib = o->copy_kib;
	cfg.engine = o->engine;
	assert_int_equal(blk_queue_start(&cfg, &x->q), 0);
	assert_int_equal(fake_ports_bound(x->f), 1);
}

static void fx_stop(struct fx *x)
{
	blk_queue_stop(x->q);
	x->q = NULL;
	assert_int_equal(fake_pages_mapped(x->f), 0);
	assert_int_equal(fake_ports_bound(x->f), 0);
	blk_disk_close(&x->disk);
}

static void fx_destroy(struct fx *x)
{
	if (x->q)
		fx_stop(x);
	unlink(x->path);
	fake_hv_destroy(x->f);
	free(x);
}

static uint8_t *data_page(struct fx *x, unsigned int i)
{
	return fake_page(x->f, DATA_GFN + i);
}

static void fill(uint8_t *p, size_t n, uint32_t seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)((i * 131u) ^ seed ^ (i >> 8));
}

/* ---- data path ---- */

static void roundtrip(const struct opts *o)
{
	struct fx *x;
	struct rsp r[4];
	uint8_t file[11 * 4096];
	unsigned int i;

	fx_create(&x);
	fx_start(x, o);

	/* 11 full pages written at sector 64. */
	for (i = 0; i < 11; i++)
		fill(data_page(x, i), 4096, 0x10 + i);
	fe_rw(&x->fe, BLKIF_OP_WRITE, 0xabc, 64, 11, x->data_ro, 0, 7);
	r[0] = fe_one(&x->fe);
	assert_true(r[0].id == 0xabc);
	assert_int_equal(r[0].op, BLKIF_OP_WRITE);
	assert_int_equal(r[0].status, BLKIF_RSP_OKAY);
	assert_int_equal(pread(x->disk.fd, file, sizeof(file), 64 * 512),
			 sizeof(file));
	for (i = 0; i < 11; i++)
		assert_memory_equal(file + i * 4096, data_page(x, i), 4096);

	/* Read back into pages 20.., in partial segments (sectors 2..5 of
	 * each page): 4 sectors per segment. */
	for (i = 0; i < 11; i++)
		memset(data_page(x, 20 + i), 0xee, 4096);
	fe_rw(&x->fe, BLKIF_OP_READ, 0xdef, 64, 11, &x->data_ref[20], 2, 5);
	r[0] = fe_one(&x->fe);
	assert_true(r[0].id == 0xdef);
	assert_int_equal(r[0].status, BLKIF_RSP_OKAY);
	for (i = 0; i < 11; i++) {
		uint8_t *p = data_page(x, 20 + i);

		assert_memory_equal(p + 1024, file + i * 2048, 2048);
		assert_int_equal(p[1023], 0xee);
		assert_int_equal(p[3072], 0xee);
	}
	/* Several at once: one batch, all answered. */
	for (i = 0; i < 4; i++)
		fe_rw(&x->fe, BLKIF_OP_READ, 100 + i, 8 * i, 1,
		      &x->data_ref[40 + i], 0, 7);
	fe_push(&x->fe, false);
	fe_wait(&x->fe, 4, r);
	for (i = 0; i < 4; i++)
		assert_int_equal(r[i].status, BLKIF_RSP_OKAY);
	assert_int_equal(stat_of(x->q, BLK_ST_READ), 5);
	assert_int_equal(stat_of(x->q, BLK_ST_WRITE), 1);
	assert_true(stat_of(x->q, BLK_ST_BYTES_WRITTEN) == 11 * 4096);
	assert_true(stat_of(x->q, BLK_ST_BYTES_READ) == 11 * 2048 + 4 * 4096);
	if (o->persistent)
		wait_stat(x->q, BLK_ST_PERSIST_MISSES, 1);
	else
		assert_int_equal(fake_pages_mapped(x->f), 1 << o->order);
	if (o->copy_kib) {
		/* Everything went through the bounce pool, nothing mapped. */
		assert_int_equal(stat_of(x->q, BLK_ST_COPY_REQS), 6);
		assert_int_equal(stat_of(x->q, BLK_ST_MAP_REQS), 0);
		assert_true(fake_copy_calls(x->f) == 6);
		assert_int_equal(fake_map_calls(x->f), 1);   /* the ring */
	} else {
		assert_int_equal(stat_of(x->q, BLK_ST_COPY_REQS), 0);
	}
	fx_stop(x);
	fx_destroy(x);
}

static void test_roundtrip_matrix(void **state)
{
	static const uint32_t orders[] = { 0, 1, 4 };
	unsigned int a, oi, p;

	/* p: 0 map per request, 1 persistent, 2 grant copy */
	for (a = 0; a < 2; a++)
		for (oi = 0; oi < 3; oi++)
			for (p = 0; p < 3; p++) {
				struct opts o = {
					.abi = a ? BLK_ABI_X86_64 : BLK_ABI_X86_32,
					.order = orders[oi],
					.persistent = p == 1,
					.copy_kib = p == 2 ? 8192 : 0,
				};
				roundtrip(&o);
			}
}

static void test_polling_mode(void **state)
{
	struct opts o = { .abi = BLK_ABI_X86_64, .poll_us = 200 };

	roundtrip(&o);
	o.persistent = true;
	o.abi = BLK_ABI_X86_32;
	roundtrip(&o);
}

static void write_indirect_page(struct fx *x, unsigned int ind, unsigned int n,
				unsigned int first_data, bool ro)
{
	struct blk_wire_seg *s = fake_page(x->f, IND_GFN + ind);
	unsigned int i;

	for (i = 0; i < n; i++)
		s[i] = (struct blk_wire_seg){
			ro ? x->data_ro[first_data + i]
			   : x->data_ref[first_data + i], 0, 7, 0 };
}

static void indirect_case(enum blk_abi abi, bool persistent)
{
	struct opts o = { .abi = abi, .persistent = persistent };
	static uint8_t file[256 * 4096];
	struct fx *x;
	struct rsp r;
	unsigned int i;

	fx_create(&x);
	fx_start(x, &o);
	for (i = 0; i < 256; i++)
		fill(data_page(x, i), 4096, i);
	write_indirect_page(x, 0, 256, 0, true);
	fe_indirect(&x->fe, BLKIF_OP_WRITE, 7, 1024, 256, x->ind_ref, 1);
	r = fe_one(&x->fe);
	assert_int_equal(r.status, BLKIF_RSP_OKAY);
	assert_int_equal(r.op, BLKIF_OP_INDIRECT);
	assert_int_equal(pread(x->disk.fd, file, sizeof(file), 1024 * 512),
			 sizeof(file));
	for (i = 0; i < 256; i++)
		assert_memory_equal(file + i * 4096, data_page(x, i), 4096);
	/* Read it back into pages 256..511. */
	write_indirect_page(x, 1, 256, 256, false);
	fe_indirect(&x->fe, BLKIF_OP_READ, 8, 1024, 256, &x->ind_ref[1], 1);
	r = fe_one(&x->fe);
	assert_int_equal(r.status, BLKIF_RSP_OKAY);
	for (i = 0; i < 256; i++)
		assert_memory_equal(data_page(x, 256 + i), file + i * 4096, 4096);
	assert_int_equal(stat_of(x->q, BLK_ST_INDIRECT), 2);
	fx_stop(x);
	fx_destroy(x);
}

static void test_indirect(void **state)
{
	indirect_case(BLK_ABI_X86_64, false);
	indirect_case(BLK_ABI_X86_32, true);
}

static void test_flush_barrier_discard(void **state)
{
	struct opts o = { .abi = BLK_ABI_X86_64 };
	uint8_t buf[4096];
	struct fx *x;
	struct rsp r;
	unsigned int i;

	fx_create(&x);
	fx_start(x, &o);
	fill(data_page(x, 0), 4096, 1);
	fe_rw(&x->fe, BLKIF_OP_WRITE, 1, 0, 1, x->data_ref, 0, 7);
	fe_rw(&x->fe, BLKIF_OP_FLUSH_DISKCACHE, 2, 0, 0, NULL, 0, 0);
	fe_push(&x->fe, false);
	fe_wait(&x->fe, 2, NULL);
	fill(data_page(x, 1), 4096, 2);
	/* A flush carrying data (FUA write) and a barrier carrying data. */
	fe_rw(&x->fe, BLKIF_OP_FLUSH_DISKCACHE, 3, 8, 1, &x->data_ref[1], 0, 7);
	fe_rw(&x->fe, BLKIF_OP_WRITE_BARRIER, 4, 16, 1, &x->data_ref[1], 0, 7);
	fe_push(&x->fe, false);
	{
		struct rsp rr[2];

		fe_wait(&x->fe, 2, rr);
		assert_int_equal(rr[0].status, BLKIF_RSP_OKAY);
		assert_int_equal(rr[1].status, BLKIF_RSP_OKAY);
	}
	assert_int_equal(pread(x->disk.fd, buf, 4096, 8 * 512), 4096);
	assert_memory_equal(buf, data_page(x, 1), 4096);
	assert_int_equal(pread(x->disk.fd, buf, 4096, 16 * 512), 4096);
	assert_memory_equal(buf, data_page(x, 1), 4096);
	assert_int_equal(stat_of(x->q, BLK_ST_FLUSH), 2);
	assert_int_equal(stat_of(x->q, BLK_ST_BARRIER), 1);

	/* Discard sectors 8..15 (the secure flag is ignored: not offered). */
	fe_discard(&x->fe, 5, 8, 8, BLKIF_DISCARD_SECURE);
	r = fe_one(&x->fe);
	assert_int_equal(r.status, BLKIF_RSP_OKAY);
	assert_int_equal(r.op, BLKIF_OP_DISCARD);
	assert_int_equal(pread(x->disk.fd, buf, 4096, 8 * 512), 4096);
	for (i = 0; i < 4096; i++)
		assert_int_equal(buf[i], 0);
	fe_discard(&x->fe, 6, IMG_SECTORS - 8, 9, 0);
	r = fe_one(&x->fe);
	assert_int_equal(r.status, BLKIF_RSP_ERROR);
	fe_discard(&x->fe, 7, 0, 0, 0);   /* empty: nothing to do */
	r = fe_one(&x->fe);
	assert_int_equal(r.status, BLKIF_RSP_OKAY);
	fx_stop(x);
	fx_destroy(x);

	/* Flush/barrier not offered: EOPNOTSUPP. */
	o.no_flush = true;
	fx_create(&x);
	fx_start(x, &o);
	fe_rw(&x->fe, BLKIF_OP_FLUSH_DISKCACHE, 9, 0, 0, NULL, 0, 0);
	r = fe_one(&x->fe);
	assert_int_equal(r.status, BLKIF_RSP_EOPNOTSUPP);
	fe_rw(&x->fe, BLKIF_OP_WRITE_BARRIER, 10, 0, 0, NULL, 0, 0);
	r = fe_one(&x->fe);
	assert_int_equal(r.status, BLKIF_RSP_EOPNOTSUPP);
	fx_stop(x);
	fx_destroy(x);
}

static const struct blk_engine_ops gate_ops;
static void gate_open(void);

/* ---- hostile guest ---- */

static void test_bad_producer_halts(void **state)
{
	struct opts o = { .abi = BLK_ABI_X86_64 };
	struct fx *x;
	uint64_t loops;
	unsigned int i;

	fx_create(&x);
	fx_start(x, &o);
	/* Fill the ring with valid requests but claim one more than fits. */
	for (i = 0; i < x->fe.nr_ents; i++)
		fe_rw(&x->fe, BLKIF_OP_READ, i, 0, 1, x->data_ref, 0, 7);
	x->fe.req_prod_pvt = x->fe.nr_ents + 1;
	fe_push(&x->fe, true);
	wait_stat(x->q, BLK_ST_RING_HALTED, 1);
	/* Halted: nothing consumed, nothing answered, and it sleeps. */
	loops = stat_of(x->q, BLK_ST_LOOPS);
	for (i = 0; i < 5; i++) {
		fake_kick(x->f, x->fe.port);
		msleep(20);
	}
	msleep(100);
	assert_true(stat_of(x->q, BLK_ST_LOOPS) - loops < 100);
	assert_int_equal(x->fe.sring->rsp_prod, 0);
	assert_int_equal(stat_of(x->q, BLK_ST_READ), 0);
	assert_int_equal(stat_of(x->q, BLK_ST_RING_HALTED), 1);
	fx_stop(x);
	fx_destroy(x);
}

struct bad_case {
	const char *name;
	uint8_t op;
	unsigned int nsegs;
	uint64_t sector;
	uint8_t first, last;
	int grant;            /* 0 good, 1 bogus ref, 2 foreign, 3 ro for read */
	int16_t want;
	enum blk_reject why;
};

static const struct bad_case bad_cases[] = {
	{ "unknown op", 42, 1, 0, 0, 7, 0, BLKIF_RSP_EOPNOTSUPP,
	  BLK_REJ_BAD_OP },
	{ "reserved op", BLKIF_OP_RESERVED_1, 1, 0, 0, 7, 0,
	  BLKIF_RSP_EOPNOTSUPP, BLK_REJ_BAD_OP },
	{ "0 segments", BLKIF_OP_READ, 0, 0, 0, 7, 0, BLKIF_RSP_ERROR,
	  BLK_REJ_BAD_NSEGS },
	{ "12 segments", BLKIF_OP_WRITE, 12, 0, 0, 7, 0, BLKIF_RSP_ERROR,
	  BLK_REJ_BAD_NSEGS },
	{ "255 segments", BLKIF_OP_READ, 255, 0, 0, 7, 0, BLKIF_RSP_ERROR,
	  BLK_REJ_BAD_NSEGS },
	{ "first > last", BLKIF_OP_READ, 2, 0, 5, 4, 0, BLKIF_RSP_ERROR,
	  BLK_REJ_BAD_SEG },
	{ "past the page", BLKIF_OP_READ, 1, 0, 0, 8, 0, BLKIF_RSP_ERROR,
	  BLK_REJ_BAD_SEG },
	{ "last 255", BLKIF_OP_READ, 1, 0, 200, 255, 0, BLKIF_RSP_ERROR,
	  BLK_REJ_BAD_SEG },
	{ "past the end", BLKIF_OP_READ, 2, IMG_SECTORS - 8, 0, 7, 0,
	  BLKIF_RSP_ERROR, BLK_REJ_RANGE },
	{ "start past end", BLKIF_OP_WRITE, 1, IMG_SECTORS, 0, 0, 0,
	  BLKIF_RSP_ERROR, BLK_REJ_RANGE },
	{ "sector wraps", BLKIF_OP_READ, 1, UINT64_MAX - 3, 0, 7, 0,
	  BLKIF_RSP_ERROR, BLK_REJ_RANGE },
	{ "bogus gref", BLKIF_OP_READ, 3, 0, 0, 7, 1, BLKIF_RSP_ERROR,
	  BLK_REJ_GRANT },
	{ "foreign gref", BLKIF_OP_WRITE, 3, 0, 0, 7, 2, BLKIF_RSP_ERROR,
	  BLK_REJ_GRANT },
	{ "ro gref for read", BLKIF_OP_READ, 2, 0, 0, 7, 3, BLKIF_RSP_ERROR,
	  BLK_REJ_GRANT },
};

static void bad_requests(const struct opts *o)
{
	grant_ref_t foreign[11], bogus[11];
	struct fx *x;
	unsigned int i, k;

	fx_create(&x);
	fx_start(x, o);
	for (k = 0; k < 11; k++) {
		foreign[k] = fake_grant_to(x->f, DATA_GFN + k, 42, false);
		bogus[k] = k == 1 ? 0xfffff : x->data_ref[k];
	}
	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		const grant_ref_t *refs = c->grant == 1 ? bogus :
					  c->grant == 2 ? foreign :
					  c->grant == 3 ? x->data_ro :
					  x->data_ref;
		uint64_t before = stat_of(x->q, (enum blk_stat)
					  (BLK_ST_REJ_FIRST + c->why));
		struct rsp r;

		fe_rw(&x->fe, c->op, 1000 + i, c->sector, c->nsegs, refs,
		      c->first, c->last);
		r = fe_one(&x->fe);
		if (r.status != c->want || r.id != 1000 + i || r.op != c->op)
			fail_msg("%s: status %d id %lu op %u", c->name,
				 r.status, (unsigned long)r.id, r.op);
		if (stat_of(x->q, (enum blk_stat)(BLK_ST_REJ_FIRST + c->why)) !=
		    before + 1)
			fail_msg("%s: not counted as %s", c->name,
				 blk_reject_name(c->why));
		/* The queue still serves good requests. */
		fe_rw(&x->fe, BLKIF_OP_READ, 1, 0, 1, x->data_ref, 0, 7);
		r = fe_one(&x->fe);
		assert_int_equal(r.status, BLKIF_RSP_OKAY);
		/* Unmapped before the response: only the ring stays. */
		if (!o->persistent)
			assert_int_equal(fake_pages_mapped(x->f), 1 << o->order);
	}
	fx_stop(x);
	fx_destroy(x);
}

static void test_bad_requests(void **state)
{
	struct opts o = { .abi = BLK_ABI_X86_64 };

	bad_requests(&o);
	o.abi = BLK_ABI_X86_32;
	o.persistent = true;
	o.order = 2;
	bad_requests(&o);
	/* Grant copy: bad refs fail the copy in (writes) or out (reads). */
	o.persistent = false;
	o.copy_kib = 4096;
	bad_requests(&o);
}

/* A one-chunk bounce pool with several requests in flight: the others
 * map their pages, every request completes, data is right. */
static void test_copy_pool_exhausted(void **state)
{
	struct opts o = { .abi = BLK_ABI_X86_64, .copy_kib = 4,
			  .engine = &gate_ops };
	struct rsp r[8];
	uint8_t buf[4096];
	struct fx *x;
	unsigned int i;

	fx_create(&x);
	fx_start(x, &o);
	for (i = 0; i < 8; i++) {
		fill(data_page(x, i), 4096, 50 + i);
		fe_rw(&x->fe, BLKIF_OP_WRITE, i, 8 * i, 1, &x->data_ref[i], 0, 7);
	}
	fe_push(&x->fe, false);
	wait_stat(x->q, BLK_ST_IN_FLIGHT, 8);
	gate_open();
	fe_wait(&x->fe, 8, r);
	for (i = 0; i < 8; i++) {
		assert_int_equal(r[i].status, BLKIF_RSP_OKAY);
		assert_int_equal(pread(x->disk.fd, buf, 4096, 8 * i * 512), 4096);
		assert_memory_equal(buf, data_page(x, i), 4096);
	}
	assert_int_equal(stat_of(x->q, BLK_ST_COPY_REQS), 1);
	assert_int_equal(stat_of(x->q, BLK_ST_COPY_POOL_EMPTY), 7);
	assert_int_equal(stat_of(x->q, BLK_ST_MAP_REQS), 7);
	/* The chunk came back: the next request copies again. */
	fe_rw(&x->fe, BLKIF_OP_READ, 9, 0, 1, &x->data_ref[20], 0, 7);
	r[0] = fe_one(&x->fe);
	assert_int_equal(r[0].status, BLKIF_RSP_OKAY);
	assert_memory_equal(data_page(x, 20), data_page(x, 0), 4096);
	assert_int_equal(stat_of(x->q, BLK_ST_COPY_REQS), 2);
	fx_stop(x);
	fx_destroy(x);
}

static void test_readonly_disk(void **state)
{
	struct opts o = { .abi = BLK_ABI_X86_64, .readonly = true };
	struct fx *x;
	struct rsp r;

	fx_create(&x);
	fx_start(x, &o);
	fe_rw(&x->fe, BLKIF_OP_WRITE, 1, 0, 1, x->data_ro, 0, 7);
	r = fe_one(&x->fe);
	assert_int_equal(r.status, BLKIF_RSP_ERROR);
	fe_indirect(&x->fe, BLKIF_OP_WRITE, 2, 0, 1, x->ind_ref, 1);
	r = fe_one(&x->fe);
	assert_int_equal(r.status, BLKIF_RSP_ERROR);
	fe_rw(&x->fe, BLKIF_OP_FLUSH_DISKCACHE, 3, 0, 0, NULL, 0, 0);
	r = fe_one(&x->fe);
	assert_int_equal(r.status, BLKIF_RSP_ERROR);
	fe_discard(&x->fe, 4, 0, 8, 0);
	r = fe_one(&x->fe);
	assert_int_equal(r.status, BLKIF_RSP_EOPNOTSUPP); /* not offered */
	fe_rw(&x->fe, BLKIF_OP_READ, 5, 0, 1, x->data_ref, 0, 7);
	r = fe_one(&x->fe);
	assert_int_equal(r.status, BLKIF_RSP_OKAY);
	assert_int_equal(stat_of(x->q, BLK_ST_REJ_FIRST + BLK_REJ_READONLY), 3);
	fx_stop(x);
	fx_destroy(x);
}

static void test_bad_indirect(void **state)
{
	struct opts o = { .abi = BLK_ABI_X86_64, .max_indirect = 4096 };
	struct fx *x;
	struct rsp r;
	grant_ref_t foreign = 0;

	fx_create(&x);
	fx_start(x, &o);
	/* More than 8 indirect pages. */
	fe_indirect(&x->fe, BLKIF_OP_READ, 1, 0, 8 * 512 + 1, x->ind_ref, 8);
	r = fe_one(&x->fe);
	assert_int_equal(r.status, BLKIF_RSP_ERROR);
	assert_int_equal(stat_of(x->q, BLK_ST_REJ_FIRST + BLK_REJ_BAD_INDIRECT),
			 1);
	/* Indirect op that is not read/write. */
	fe_indirect(&x->fe, BLKIF_OP_DISCARD, 2, 0, 1, x->ind_ref, 1);
	r = fe_one(&x->fe);
	assert_int_equal(r.status, BLKIF_RSP_ERROR);
	/* Zero segments. */
	fe_indirect(&x->fe, BLKIF_OP_READ, 3, 0, 0, x->ind_ref, 1);
	r = fe_one(&x->fe);
	assert_int_equal(r.status, BLKIF_RSP_ERROR);
	/* Bad indirect page ref. */
	foreign = fake_grant_to(x->f, IND_GFN + 5, 42, true);
	fe_indirect(&x->fe, BLKIF_OP_READ, 4, 0, 4, &foreign, 1);
	r = fe_one(&x->fe);
	assert_int_equal(r.status, BLKIF_RSP_ERROR);
	/* Bad segment inside the indirect page. */
	write_indirect_page(x, 2, 4, 0, false);
	((struct blk_wire_seg *)fake_page(x->f, IND_GFN + 2))[3].last_sect = 9;
	fe_indirect(&x->fe, BLKIF_OP_READ, 5, 0, 4, &x->ind_ref[2], 1);
	r = fe_one(&x->fe);
	assert_int_equal(r.status, BLKIF_RSP_ERROR);
	/* Range past the end, counted from the indirect segments. */
	write_indirect_page(x, 2, 4, 0, false);
	fe_indirect(&x->fe, BLKIF_OP_READ, 6, IMG_SECTORS - 31, 4,
		    &x->ind_ref[2], 1);
	r = fe_one(&x->fe);
	assert_int_equal(r.status, BLKIF_RSP_ERROR);
	fe_indirect(&x->fe, BLKIF_OP_READ, 7, IMG_SECTORS - 32, 4,
		    &x->ind_ref[2], 1);
	r = fe_one(&x->fe);
	assert_int_equal(r.status, BLKIF_RSP_OKAY);
	fx_stop(x);
	fx_destroy(x);
}

static void test_duplicate_ids(void **state)
{
	struct opts o = { .abi = BLK_ABI_X86_64, .persistent = true };
	struct fx *x;
	struct rsp r[8];
	unsigned int i;

	fx_create(&x);
	fx_start(x, &o);
	for (i = 0; i < 8; i++)   /* same id, same grant, same sectors */
		fe_rw(&x->fe, i & 1 ? BLKIF_OP_WRITE : BLKIF_OP_READ, 5, 0, 2,
		      x->data_ref, 0, 7);
	fe_push(&x->fe, false);
	fe_wait(&x->fe, 8, r);
	for (i = 0; i < 8; i++) {
		assert_true(r[i].id == 5);
		assert_int_equal(r[i].status, BLKIF_RSP_OKAY);
	}
	fx_stop(x);
	fx_destroy(x);
}

static void test_never_consumes_responses(void **state)
{
	struct opts o = { .abi = BLK_ABI_X86_32 };
	struct fx *x;
	uint32_t n, i;

	fx_create(&x);
	fx_start(x, &o);
	n = x->fe.nr_ents;
	for (i = 0; i < n; i++)
		fe_rw(&x->fe, BLKIF_OP_READ, i, i, 1, x->data_ref, 0, 0);
	fe_push(&x->fe, true);
	wait_stat(x->q, BLK_ST_OK, n);
	assert_int_equal(x->fe.sring->rsp_prod, n);
	/* The frontend ignores its responses and keeps producing: as long
	 * as the producer is possible the backend answers (over the unread
	 * responses, the frontend's loss), never more than it was asked. */
	for (i = 0; i < n; i++)
		fe_rw(&x->fe, BLKIF_OP_READ, n + i, i, 1, x->data_ref, 0, 0);
	fe_push(&x->fe, true);
	wait_stat(x->q, BLK_ST_OK, 2 * n);
	assert_int_equal(x->fe.sring->rsp_prod, 2 * n);
	/* One past what the ring can hold: halted. */
	x->fe.req_prod_pvt += n + 1;
	fe_push(&x->fe, true);
	wait_stat(x->q, BLK_ST_RING_HALTED, 1);
	assert_int_equal(x->fe.sring->rsp_prod, 2 * n);
	fx_stop(x);
	fx_destroy(x);
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
		  bool wait, int timeout_ms)
{
	struct gate *g = (struct gate *)e;

	g_release(g);
	/* While holding I/O, wake up often to look at the gate. */
	if (g->held && (timeout_ms < 0 || timeout_ms > 5))
		timeout_ms = 5;
	return g->inner->ops->reap(g->inner, c, max, wait, timeout_ms);
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

static const struct blk_engine_ops gate_ops = {
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

static void gate_open(void)
{
	__atomic_store_n(&the_gate->open, 1, __ATOMIC_RELEASE);
}

static void test_guest_destroyed_in_flight(void **state)
{
	struct opts o = { .abi = BLK_ABI_X86_64, .engine = &gate_ops };
	unsigned int i, p;

	for (p = 0; p < 2; p++) {
		struct fx *x;

		o.persistent = p;
		fx_create(&x);
		fx_start(x, &o);
		for (i = 0; i < 16; i++)
			fe_rw(&x->fe, i & 1 ? BLKIF_OP_WRITE : BLKIF_OP_READ,
			      i, 88 * i, 11, &x->data_ref[11 * i], 0, 7);
		fe_push(&x->fe, false);
		wait_stat(x->q, BLK_ST_IN_FLIGHT, 16);
		/* in_flight counts from slot allocation: wait for the maps. */
		for (i = 0; i < WAIT_MS &&
			    fake_pages_mapped(x->f) < 1 + 16 * 11; i++)
			msleep(1);
		assert_true(fake_pages_mapped(x->f) >= 1 + 16 * 11);
		/* The guest dies with 16 requests mapped and in flight. */
		fake_kill(x->f);
		gate_open();
		fx_stop(x);    /* drains, unmaps everything, unbinds */
		fx_destroy(x);
	}
}

static void test_grants_revoked_in_flight(void **state)
{
	struct opts o = { .abi = BLK_ABI_X86_32, .engine = &gate_ops };
	struct rsp r[8];
	unsigned int i, p;

	for (p = 0; p < 2; p++) {
		struct fx *x;

		o.persistent = p;
		fx_create(&x);
		fx_start(x, &o);
		for (i = 0; i < 8; i++) {
			fill(data_page(x, 100 + i), 4096, i);
			fe_rw(&x->fe, BLKIF_OP_WRITE, i, 8 * i, 1,
			      &x->data_ref[100 + i], 0, 7);
		}
		fe_push(&x->fe, false);
		wait_stat(x->q, BLK_ST_IN_FLIGHT, 8);
		for (i = 0; i < WAIT_MS && fake_pages_mapped(x->f) < 1 + 8; i++)
			msleep(1);
		assert_true(fake_pages_mapped(x->f) >= 1 + 8);
		/* The guest pulls its grants while they are mapped: the
		 * mapped pages stay valid (as on Xen), the I/O completes. */
		for (i = 0; i < 8; i++)
			fake_revoke(x->f, x->data_ref[100 + i]);
		gate_open();
		fe_wait(&x->fe, 8, r);
		for (i = 0; i < 8; i++)
			assert_int_equal(r[i].status, BLKIF_RSP_OKAY);
		/* Reusing a revoked grant: refused if it must be mapped
		 * again, served from the cache if still mapped. */
		fe_rw(&x->fe, BLKIF_OP_READ, 99, 0, 1, &x->data_ref[100], 0, 7);
		r[0] = fe_one(&x->fe);
		assert_int_equal(r[0].status,
				 p ? BLKIF_RSP_OKAY : BLKIF_RSP_ERROR);
		fx_stop(x);
		fx_destroy(x);
	}
}

/* Grant copy: a read whose grant is revoked while the read is in flight
 * cannot deliver its data: BLKIF_RSP_ERROR, nothing written to the page. */
static void test_copy_revoked_read(void **state)
{
	struct opts o = { .abi = BLK_ABI_X86_64, .copy_kib = 1024,
			  .engine = &gate_ops };
	struct rsp r;
	struct fx *x;

	fx_create(&x);
	fx_start(x, &o);
	memset(data_page(x, 30), 0x77, 4096);
	fe_rw(&x->fe, BLKIF_OP_READ, 1, 0, 1, &x->data_ref[30], 0, 7);
	fe_push(&x->fe, false);
	wait_stat(x->q, BLK_ST_IN_FLIGHT, 1);
	fake_revoke(x->f, x->data_ref[30]);
	gate_open();
	fe_wait(&x->fe, 1, &r);
	assert_int_equal(r.status, BLKIF_RSP_ERROR);
	assert_int_equal(data_page(x, 30)[0], 0x77);
	assert_int_equal(stat_of(x->q, BLK_ST_REJ_FIRST + BLK_REJ_GRANT), 1);
	fx_stop(x);
	fx_destroy(x);
}

static void test_other_queue_unaffected(void **state)
{
	struct opts o = { .abi = BLK_ABI_X86_64 };
	struct fx *bad, *good;
	struct rsp r;
	unsigned int i;

	fx_create(&bad);
	fx_create(&good);
	fx_start(bad, &o);
	fx_start(good, &o);
	bad->fe.req_prod_pvt = 1000;
	fe_push(&bad->fe, true);
	wait_stat(bad->q, BLK_ST_RING_HALTED, 1);
	for (i = 0; i < 3; i++) {
		fe_rw(&good->fe, BLKIF_OP_WRITE, i, 0, 1, good->data_ref, 0, 7);
		r = fe_one(&good->fe);
		assert_int_equal(r.status, BLKIF_RSP_OKAY);
	}
	fx_stop(bad);
	fx_destroy(bad);
	fx_stop(good);
	fx_destroy(good);
}

static void test_persist_cache_bounded(void **state)
{
	struct opts o = { .abi = BLK_ABI_X86_64, .persistent = true,
			  .persist_max = 8 };
	struct fx *x;
	struct rsp r;
	unsigned int i;

	fx_create(&x);
	fx_start(x, &o);
	/* 11 segments with an 8-entry cache: 3 mapped per request only. */
	for (i = 0; i < 5; i++) {
		fe_rw(&x->fe, BLKIF_OP_READ, i, 0, 11, &x->data_ref[11 * i], 0, 7);
		r = fe_one(&x->fe);
		assert_int_equal(r.status, BLKIF_RSP_OKAY);
		assert_true(fake_pages_mapped(x->f) <= 1 + 8);
	}
	wait_stat(x->q, BLK_ST_PERSIST_ENTRIES, 8);
	wait_stat(x->q, BLK_ST_PERSIST_EVICTIONS, 1);
	wait_stat(x->q, BLK_ST_PERSIST_FULL, 1);
	assert_int_equal(stat_of(x->q, BLK_ST_PERSIST_ENTRIES), 8);
	fx_stop(x);
	fx_destroy(x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_matrix),
		cmocka_unit_test(test_polling_mode),
		cmocka_unit_test(test_indirect),
		cmocka_unit_test(test_flush_barrier_discard),
		cmocka_unit_test(test_bad_producer_halts),
		cmocka_unit_test(test_bad_requests),
		cmocka_unit_test(test_readonly_disk),
		cmocka_unit_test(test_bad_indirect),
		cmocka_unit_test(test_duplicate_ids),
		cmocka_unit_test(test_never_consumes_responses),
		cmocka_unit_test(test_guest_destroyed_in_flight),
		cmocka_unit_test(test_grants_revoked_in_flight),
		cmocka_unit_test(test_other_queue_unaffected),
		cmocka_unit_test(test_persist_cache_bounded),
		cmocka_unit_test(test_copy_pool_exhausted),
		cmocka_unit_test(test_copy_revoked_read),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
