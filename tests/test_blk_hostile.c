/* SPDX-License-Identifier: MIT */
/*
 * The blkif data path against a hostile guest (in-process fake guest,
 * blk_testfe): impossible producer (halt, no busy loop), unknown op, bad
 * segment counts, bad segments, ranges past the end, writes to a
 * read-only disk, bad/foreign/read-only grant refs (map, persistent and
 * copy modes), grants revoked while in flight, more than 8 indirect
 * pages, duplicate ids, a frontend that never consumes responses, a guest
 * destroyed with I/O in flight; a halted queue leaves another working.
 * Each case checks the status, the counter and that the queue still
 * serves; every test ends by checking nothing stays mapped or bound.
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

#include "blk_testfe.h"

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

/* xorshift64*: deterministic, seeded per run. */
static uint64_t rnd(uint64_t *st)
{
	*st ^= *st >> 12;
	*st ^= *st << 25;
	*st ^= *st >> 27;
	return *st * 0x2545F4914F6CDD1Dull;
}

/*
 * Random slots: random bytes with a random (often valid) operation,
 * segment count, grant refs (ours, foreign, bogus), sectors near the end
 * and indirect pages with random segments. Every request must be
 * answered exactly once with a known status and its own id, in both ABIs
 * and all data modes; nothing may stay mapped. (Sanitizer builds check
 * the memory accesses.)
 */
static void fuzz_case(const struct opts *o, uint64_t seed)
{
	static const uint8_t ops[] = {
		BLKIF_OP_READ, BLKIF_OP_WRITE, BLKIF_OP_WRITE_BARRIER,
		BLKIF_OP_FLUSH_DISKCACHE, BLKIF_OP_DISCARD, BLKIF_OP_INDIRECT,
		BLKIF_OP_RESERVED_1, 7, 255,
	};
	uint64_t st = seed, answered = 0, id_sum = 0, want_sum = 0;
	uint64_t by_status[3] = { 0, 0, 0 };
	grant_ref_t foreign = 0;
	struct fx *x;
	unsigned int round, i, k;

	fx_create(&x);
	fx_start(x, o);
	foreign = fake_grant_to(x->f, DATA_GFN + 1, 42, false);
	for (round = 0; round < 40; round++) {
		unsigned int n = 1 + (unsigned int)(rnd(&st) % x->fe.nr_ents);
		struct rsp r[512];

		/* Random indirect pages for this round. */
		for (k = 0; k < 4; k++) {
			struct blk_wire_seg *sg = fake_page(x->f, IND_GFN + k);

			for (i = 0; i < 512; i++) {
				uint64_t v = rnd(&st);

				sg[i].gref = (v & 7) == 0 ? (grant_ref_t)(v >> 32)
					   : (v & 7) == 1 ? foreign
					   : x->data_ref[(v >> 8) % 512];
				sg[i].first_sect = (uint8_t)((v >> 20) % 9);
				sg[i].last_sect = (uint8_t)((v >> 24) % 9);
			}
		}
		for (i = 0; i < n; i++) {
			uint8_t slot[BLK_SLOT_SIZE_MAX];
			uint64_t id = ((uint64_t)round << 32) | i;
			uint64_t v = rnd(&st);

			for (k = 0; k < sizeof(slot); k++)
				slot[k] = (uint8_t)rnd(&st);
			if (v & 1) {
				/* Mostly well-formed headers. */
				uint8_t op = ops[(v >> 1) % sizeof(ops)];
				uint16_t ns = (uint16_t)((v >> 8) % 14);
				uint64_t sec = (v >> 16) & 1 ? (v >> 20) % IMG_SECTORS
							     : UINT64_MAX - (v >> 40);

				if (op == BLKIF_OP_INDIRECT) {
					fe_indirect(&x->fe, (uint8_t)((v >> 5) & 1),
						    id, sec % IMG_SECTORS,
						    (uint16_t)((v >> 24) % 600),
						    x->ind_ref, 4);
				} else if (op == BLKIF_OP_DISCARD) {
					fe_discard(&x->fe, id, sec, (v >> 30) % 64,
						   (uint8_t)(v >> 50));
				} else {
					fe_rw(&x->fe, op, id, sec, ns,
					      &x->data_ref[(v >> 33) % 500],
					      (uint8_t)((v >> 45) % 9),
					      (uint8_t)((v >> 49) % 9));
				}
			} else {
				/* Raw garbage, with only the id made ours. */
				if (x->fe.abi == BLK_ABI_X86_32)
					memcpy(slot + 4, &id, 8);
				else
					memcpy(slot + 8, &id, 8);
				memcpy(fe_slot(&x->fe, x->fe.req_prod_pvt++),
				       slot, blk_abi_slot_size(x->fe.abi));
			}
			want_sum += id;
		}
		fe_push(&x->fe, (rnd(&st) & 3) == 0);
		if (rnd(&st) & 1)
			fake_kick(x->f, x->fe.port);
		fe_wait(&x->fe, n, r);
		for (i = 0; i < n; i++) {
			if (r[i].status != BLKIF_RSP_OKAY &&
			    r[i].status != BLKIF_RSP_ERROR &&
			    r[i].status != BLKIF_RSP_EOPNOTSUPP)
				fail_msg("status %d", r[i].status);
			if ((r[i].id >> 32) != round)
				fail_msg("response id %#lx in round %u",
					 (unsigned long)r[i].id, round);
			id_sum += r[i].id;
			answered++;
			by_status[-r[i].status]++;
		}
	}
	assert_true(id_sum == want_sum);
	assert_int_equal(stat_of(x->q, BLK_ST_RING_HALTED), 0);
	/* The mix reaches every outcome. */
	assert_true(by_status[0] > 20 && by_status[1] > 20 &&
		    by_status[2] > 20);
	assert_true(answered == stat_of(x->q, BLK_ST_OK) +
		    stat_of(x->q, BLK_ST_ERROR) +
		    stat_of(x->q, BLK_ST_EOPNOTSUPP));
	fx_stop(x);      /* checks nothing stays mapped or bound */
	fx_destroy(x);
}

static void test_fuzz(void **state)
{
	struct opts o = { .max_indirect = 512 };
	unsigned int a, p;

	for (a = 0; a < 2; a++)
		for (p = 0; p < 3; p++) {
			o.abi = a ? BLK_ABI_X86_64 : BLK_ABI_X86_32;
			o.persistent = p == 1;
			o.copy_kib = p == 2 ? 4096 : 0;
			o.order = p;
			fuzz_case(&o, 0x9e3779b97f4a7c15ull + a * 7 + p);
		}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_producer_halts),
		cmocka_unit_test(test_bad_requests),
		cmocka_unit_test(test_readonly_disk),
		cmocka_unit_test(test_bad_indirect),
		cmocka_unit_test(test_duplicate_ids),
		cmocka_unit_test(test_never_consumes_responses),
		cmocka_unit_test(test_guest_destroyed_in_flight),
		cmocka_unit_test(test_grants_revoked_in_flight),
		cmocka_unit_test(test_copy_revoked_read),
		cmocka_unit_test(test_other_queue_unaffected),
		cmocka_unit_test(test_fuzz),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
