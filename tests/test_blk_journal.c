/* SPDX-License-Identifier: MIT */
/*
 * blkback/journal.h: the request journal and the recovery a successor
 * process runs on it, at every point a predecessor can die. A ring of
 * 8 slots lives in private memory; requests are written as a frontend
 * would, and the journal is driven as ring.c drives it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "journal.h"
#include "uback/blkif_wire.h"

#define NENTS 8u

struct fx {
	uint8_t page[4096] __attribute__((aligned(4096)));
	struct xb_back_ring ring;
	struct blk_journal j;
	struct blk_journal_id id;
	char path[PATH_MAX];
	int fd;
};

static struct fx fx;

static void *slot(RING_IDX i)
{
	return xb_ring_slot(&fx.ring, i);
}

/* The frontend puts request @i (id 1000 + i) in its slot. */
static void fe_put(RING_IDX i)
{
	struct blk_wire64_req r = {
		.operation = BLKIF_OP_READ, .nr_segments = 1,
		.id = 1000 + (uint64_t)i, .sector_number = 8ull * i,
	};

	r.seg[0].gref = 77;
	r.seg[0].last_sect = 7;
	memcpy(slot(i), &r, sizeof(r));
	fx.ring.sring->req_prod = i + 1;
}

static uint64_t rsp_id(RING_IDX pos)
{
	struct blk_wire64_rsp r;

	memcpy(&r, slot(pos), sizeof(r));
	return r.id;
}

static int16_t rsp_status(RING_IDX pos)
{
	struct blk_wire64_rsp r;

	memcpy(&r, slot(pos), sizeof(r));
	return r.status;
}

/* What ring.c does: take, and later answer at rsp_prod_pvt. */
static uint32_t be_take(void)
{
	RING_IDX i = fx.ring.req_cons++;

	return blk_journal_take(&fx.j, i, slot(i), BLK_SLOT_SIZE_X86_64);
}

static void be_answer(uint32_t e, uint64_t id, int16_t status)
{
	RING_IDX pos = fx.ring.rsp_prod_pvt;

	blk_journal_respond_begin(&fx.j, e, pos, status, BLKIF_OP_READ);
	blk_abi_put_rsp(BLK_ABI_X86_64, slot(pos), id, BLKIF_OP_READ, status);
	fx.ring.rsp_prod_pvt++;
	blk_journal_respond_end(&fx.j, e, fx.ring.rsp_prod_pvt);
}

/* Start the ring at @start (as a long-running connection has). */
static void fresh(RING_IDX start)
{
	memset(fx.page, 0, sizeof(fx.page));
	fx.ring.sring = NULL;
	assert_int_equal(xb_back_ring_attach(&fx.ring, fx.page, 4096,
					     BLK_SLOT_SIZE_X86_64), 0);
	fx.ring.sring->req_prod = fx.ring.sring->rsp_prod = start;
	fx.ring.req_cons = fx.ring.rsp_prod_pvt = start;
	fx.id = (struct blk_journal_id){
		.domid = 3, .abi = BLK_ABI_X86_64, .ring_order = 0,
		.nr_ents = fx.ring.nr_ents, .slot_size = BLK_SLOT_SIZE_X86_64,
		.remote_port = 9, .ring_refs = { 42 },
	};
	assert_int_equal(fx.ring.nr_ents, 32);
	if (fx.fd >= 0)
		close(fx.fd);
	unlink(fx.path);
	assert_int_equal(blk_journal_file_open(fx.path, &fx.fd), 0);
	assert_int_equal(blk_journal_open(fx.fd, &fx.id, false, start,
					  &fx.j), 0);
}

/* The predecessor dies: its memory is gone, the file and the ring stay;
 * a successor attaches at rsp_prod and recovers. */
static int successor(bool *notify)
{
	int ret;

	blk_journal_close(&fx.j);
	assert_int_equal(xb_back_ring_attach(&fx.ring, fx.page, 4096,
					     BLK_SLOT_SIZE_X86_64), 0);
	ret = blk_journal_open(fx.fd, &fx.id, true, 0, &fx.j);
	if (ret)
		return ret;
	return blk_journal_recover(&fx.j, BLK_ABI_X86_64, &fx.ring, notify);
}

static RING_IDX replay_idx(uint32_t k)
{
	return fx.j.ent[fx.j.replay[k]].idx;
}

static int setup(void **state)
{
	(void)state;
	snprintf(fx.path, sizeof(fx.path), "/tmp/uback-journal-%d",
		 (int)getpid());
	fx.fd = -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	blk_journal_close(&fx.j);
	if (fx.fd >= 0)
		close(fx.fd);
	fx.fd = -1;
	unlink(fx.path);
	return 0;
}

static void idle_ring_adopts_clean(void **state)
{
	uint32_t e;
	bool notify;

	(void)state;
	fresh(0);
	fe_put(0);
	fe_put(1);
	e = be_take();
	be_answer(e, 1000, BLKIF_RSP_OKAY);
	e = be_take();
	be_answer(e, 1001, BLKIF_RSP_OKAY);
	fx.ring.sring->rsp_prod = 2;   /* pushed */
	assert_int_equal(successor(&notify), 0);
	assert_int_equal(fx.j.nreplay, 0);
	assert_int_equal(fx.ring.req_cons, 2);
	assert_int_equal(fx.ring.rsp_prod_pvt, 2);
	assert_false(notify);
	/* The successor's journal works on: 32 entries free. */
	assert_int_equal(fx.j.free_top, fx.ring.nr_ents);
}

static void unanswered_are_replayed_in_order(void **state)
{
	uint32_t e[5];
	bool notify;
	unsigned int i;

	(void)state;
	fresh(0);
	for (i = 0; i < 5; i++) {
		fe_put(i);
		e[i] = be_take();
	}
	/* Completed out of order: 3 and 1 answered, not pushed. */
	be_answer(e[3], 1003, BLKIF_RSP_OKAY);
	be_answer(e[1], 1001, BLKIF_RSP_ERROR);
	/* The guest overwrites the slots of consumed requests: the
	 * successor must replay from its copies, not from the ring. */
	memset(slot(2), 0xff, BLK_SLOT_SIZE_X86_64);
	assert_int_equal(successor(&notify), 0);
	assert_true(notify);
	assert_int_equal(fx.ring.sring->rsp_prod, 2);     /* published */
	assert_int_equal(rsp_id(0), 1003);
	assert_int_equal(rsp_id(1), 1001);
	assert_int_equal(rsp_status(1), BLKIF_RSP_ERROR);
	assert_int_equal(fx.ring.req_cons, 5);
	assert_int_equal(fx.ring.rsp_prod_pvt, 2);
	assert_int_equal(fx.j.nreplay, 3);
	assert_int_equal(replay_idx(0), 0);
	assert_int_equal(replay_idx(1), 2);
	assert_int_equal(replay_idx(2), 4);
	{
		struct blk_req r;

		blk_abi_copy_req(BLK_ABI_X86_64, fx.j.ent[fx.j.replay[1]].raw,
				 &r);
		assert_int_equal(r.id, 1002);
		assert_int_equal(r.sector, 16);
		assert_int_equal(r.op, BLKIF_OP_READ);
	}
	/* Replayed entries are answered through the journal as usual. */
	assert_int_equal(fx.j.free_top, fx.ring.nr_ents - 3);
	be_answer(fx.j.replay[0], 1000, BLKIF_RSP_OKAY);
	assert_int_equal(fx.j.free_top, fx.ring.nr_ents - 2);
}

static void half_written_response_is_rewritten(void **state)
{
	uint32_t e0, e1;
	bool notify;

	(void)state;
	fresh(0);
	fe_put(0);
	fe_put(1);
	e0 = be_take();
	e1 = be_take();
	/* Died inside respond(): the slot half written. */
	blk_journal_respond_begin(&fx.j, e1, 0, BLKIF_RSP_OKAY,
				  BLKIF_OP_READ);
	memset(slot(0), 0x5a, 4);
	(void)e0;
	assert_int_equal(successor(&notify), 0);
	assert_int_equal(rsp_id(0), 1001);
	assert_int_equal(rsp_status(0), BLKIF_RSP_OKAY);
	assert_int_equal(fx.ring.sring->rsp_prod, 1);
	assert_int_equal(fx.ring.rsp_prod_pvt, 1);
	assert_int_equal(fx.ring.req_cons, 2);
	assert_int_equal(fx.j.nreplay, 1);
	assert_int_equal(replay_idx(0), 0);
}

static void whole_response_is_left_alone(void **state)
{
	uint32_t e0, e1;
	bool notify;

	(void)state;
	fresh(0);
	fe_put(0);
	fe_put(1);
	e0 = be_take();
	e1 = be_take();
	/* Died after rsp_written moved, before the entry was freed; the
	 * response was even pushed, and the frontend reused its slot. */
	blk_journal_respond_begin(&fx.j, e1, 0, BLKIF_RSP_OKAY,
				  BLKIF_OP_READ);
	blk_abi_put_rsp(BLK_ABI_X86_64, slot(0), 1001, BLKIF_OP_READ, 0);
	fx.ring.rsp_prod_pvt = 1;
	__atomic_store_n(&fx.j.hdr->rsp_written, 1, __ATOMIC_RELEASE);
	fx.ring.sring->rsp_prod = 1;
	memset(slot(0), 0x77, BLK_SLOT_SIZE_X86_64);   /* a new request */
	(void)e0;
	assert_int_equal(successor(&notify), 0);
	assert_int_equal(*(uint8_t *)slot(0), 0x77);  /* untouched */
	assert_int_equal(fx.ring.rsp_prod_pvt, 1);
	assert_int_equal(fx.j.nreplay, 1);
	assert_int_equal(replay_idx(0), 0);
	assert_false(notify);
}

static void taken_before_header_moved(void **state)
{
	bool notify;

	(void)state;
	fresh(0);
	fe_put(0);
	be_take();
	/* Died between the entry's INFLIGHT and the header's req_cons. */
	__atomic_store_n(&fx.j.hdr->req_cons, 0, __ATOMIC_RELEASE);
	assert_int_equal(successor(&notify), 0);
	assert_int_equal(fx.ring.req_cons, 1);   /* not consumed twice */
	assert_int_equal(fx.j.nreplay, 1);
}

static void indices_wrap(void **state)
{
	RING_IDX start = UINT32_MAX - 2;
	uint32_t e[5];
	bool notify;
	unsigned int i;

	(void)state;
	fresh(start);
	for (i = 0; i < 5; i++) {
		fe_put(start + i);
		e[i] = be_take();
	}
	be_answer(e[0], 0, BLKIF_RSP_OKAY);
	assert_int_equal(successor(&notify), 0);
	assert_int_equal(fx.ring.req_cons, start + 5);
	assert_int_equal(fx.ring.rsp_prod_pvt, start + 1);
	assert_int_equal(fx.j.nreplay, 4);
	for (i = 0; i < 4; i++)
		assert_int_equal(replay_idx(i), start + 1 + i);
}

static void refuses_what_does_not_add_up(void **state)
{
	uint32_t e0, e1;
	bool notify;
	uint8_t before[4096];

	(void)state;
	/* Two responses in progress: impossible. */
	fresh(0);
	fe_put(0);
	fe_put(1);
	e0 = be_take();
	e1 = be_take();
	blk_journal_respond_begin(&fx.j, e0, 0, 0, BLKIF_OP_READ);
	blk_journal_respond_begin(&fx.j, e1, 1, 0, BLKIF_OP_READ);
	memcpy(before, fx.page, sizeof(before));
	assert_int_equal(successor(&notify), -EUCLEAN);
	assert_memory_equal(before, fx.page, sizeof(before));
	blk_journal_close(&fx.j);

	/* Consumed count and entries disagree. */
	fresh(0);
	fe_put(0);
	be_take();
	__atomic_store_n(&fx.j.hdr->req_cons, 5, __ATOMIC_RELEASE);
	assert_int_equal(successor(&notify), -EUCLEAN);
	blk_journal_close(&fx.j);

	/* A ring that is not the journal's (restarted at 0). */
	fresh(100);
	fe_put(100);
	be_take();
	fx.ring.sring->rsp_prod = 0;
	fx.ring.sring->req_prod = 1;
	assert_int_equal(successor(&notify), -EUCLEAN);
	blk_journal_close(&fx.j);

	/* An entry state that was never written by us. */
	fresh(0);
	fx.j.ent[3].state = 9;
	assert_int_equal(successor(&notify), -EUCLEAN);
	blk_journal_close(&fx.j);

	/* Other rings (the frontend reconnected meanwhile). */
	fresh(0);
	fx.id.ring_refs[0] = 43;
	assert_int_equal(successor(&notify), -ESTALE);
	fx.id.ring_refs[0] = 42;
	fx.id.remote_port = 10;
	assert_int_equal(successor(&notify), -ESTALE);

	/* No file, a file too small for the ring. */
	close(fx.fd);
	fx.fd = -1;
	unlink(fx.path);
	assert_int_equal(successor(&notify), -ENOENT);
	fx.fd = open(fx.path, O_CREAT | O_RDWR, 0600);
	assert_true(fx.fd >= 0);
	assert_int_equal(write(fx.fd, "x", 1), 1);
	assert_int_equal(successor(&notify), -ESTALE);
	/* A fresh journal over a file too small is refused too. */
	assert_int_equal(blk_journal_open(fx.fd, &fx.id, false, 0, &fx.j),
			 -EINVAL);
	/* blk_journal_file_open grows it, keeping what is there. */
	close(fx.fd);
	assert_int_equal(blk_journal_file_open(fx.path, &fx.fd), 0);
	{
		char c = 0;

		assert_int_equal(pread(fx.fd, &c, 1, 0), 1);
		assert_int_equal(c, 'x');
	}
	/* Without a file there is never anything to adopt. */
	assert_int_equal(blk_journal_open(-1, &fx.id, true, 0, &fx.j),
			 -ENOENT);
}

/* A take copies the slot, exactly its ABI's size, into the entry (the
 * copy the request is decoded from): not a byte of the next slot. */
static void take_copies_the_slot_only(void **state)
{
	static const uint32_t sizes[] = { BLK_SLOT_SIZE_X86_32,
					  BLK_SLOT_SIZE_X86_64, 64 };
	uint8_t src[2 * BLK_JOURNAL_RAW];
	unsigned int k, b;

	(void)state;
	fresh(0);
	for (b = 0; b < sizeof(src); b++)
		src[b] = (uint8_t)(b * 7 + 1);
	for (k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		uint32_t e;

		memset(fx.j.ent, 0xEE, fx.j.nents * sizeof(*fx.j.ent));
		e = blk_journal_take(&fx.j, k, src, sizes[k]);
		assert_true(e < fx.j.nents);
		assert_memory_equal(fx.j.ent[e].raw, src, sizes[k]);
		for (b = sizes[k]; b < BLK_JOURNAL_RAW; b++)
			assert_int_equal(fx.j.ent[e].raw[b], 0xEE);
		assert_int_equal(fx.j.ent[e].state, BLK_JE_INFLIGHT);
		assert_int_equal(fx.j.hdr->req_cons, k + 1);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(idle_ring_adopts_clean, setup,
						teardown),
		cmocka_unit_test_setup_teardown(unanswered_are_replayed_in_order,
						setup, teardown),
		cmocka_unit_test_setup_teardown(half_written_response_is_rewritten,
						setup, teardown),
		cmocka_unit_test_setup_teardown(whole_response_is_left_alone,
						setup, teardown),
		cmocka_unit_test_setup_teardown(taken_before_header_moved,
						setup, teardown),
		cmocka_unit_test_setup_teardown(indices_wrap, setup, teardown),
		cmocka_unit_test_setup_teardown(refuses_what_does_not_add_up,
						setup, teardown),
		cmocka_unit_test_setup_teardown(take_copies_the_slot_only,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
