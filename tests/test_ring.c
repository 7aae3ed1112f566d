/* SPDX-License-Identifier: MIT */
/*
 * common/include/uback/ring.h, the ABI-neutral backend ring, checked
 * against xen/io/ring.h's own macros: slot counts against
 * __CONST_RING_SIZE for the native, x86_32 and x86_64 blkif layouts,
 * producer validation, request bounds, the response notify decision and
 * the final check, plus a round trip with a real front ring.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "uback/ring.h"
#include <xen/io/blkif.h>

/*
 * The two guest ABIs of blkif, written out from the protocol: x86_32
 * packs 64-bit fields on 4-byte boundaries, x86_64 aligns them naturally.
 */
struct t_seg {
	uint32_t gref;
	uint8_t first_sect, last_sect;
	uint16_t pad;
};

#pragma pack(push, 4)
struct t_req32 {
	uint8_t operation, nr_segments;
	uint16_t handle;
	uint64_t id;
	uint64_t sector_number;
	struct t_seg seg[BLKIF_MAX_SEGMENTS_PER_REQUEST];
};
struct t_rsp32 {
	uint64_t id;
	uint8_t operation;
	int16_t status;
};
#pragma pack(pop)

struct t_req64 {
	uint8_t operation, nr_segments;
	uint16_t handle;
	uint32_t pad;
	uint64_t id;
	uint64_t sector_number;
	struct t_seg seg[BLKIF_MAX_SEGMENTS_PER_REQUEST];
};
struct t_rsp64 {
	uint64_t id;
	uint8_t operation;
	int16_t status;
};

DEFINE_RING_TYPES(t32, struct t_req32, struct t_rsp32);
DEFINE_RING_TYPES(t64, struct t_req64, struct t_rsp64);

/* Slot sizes of a few other shapes, to cover the rounding. */
struct t_slot1 { uint8_t b; };
struct t_slot12 { uint32_t w[3]; };
struct t_slot64 { uint64_t w[8]; };
struct t_slot200 { uint8_t b[200]; };
DEFINE_RING_TYPES(t1, struct t_slot1, struct t_slot1);
DEFINE_RING_TYPES(t12, struct t_slot12, struct t_slot12);
DEFINE_RING_TYPES(t64b, struct t_slot64, struct t_slot64);
DEFINE_RING_TYPES(t200, struct t_slot200, struct t_slot200);

#define MAX_ORDER 4
#define T_PAGE_SIZE 4096u
#define RING_BYTES(order) ((size_t)T_PAGE_SIZE << (order))

static void test_layout(void **state)
{
	assert_int_equal(sizeof(struct xb_ring_hdr), XB_RING_HDR_SIZE);
	assert_int_equal(offsetof(struct blkif_sring, ring), XB_RING_HDR_SIZE);
	assert_int_equal(offsetof(struct xb_ring_hdr, req_prod),
			 offsetof(struct blkif_sring, req_prod));
	assert_int_equal(offsetof(struct xb_ring_hdr, req_event),
			 offsetof(struct blkif_sring, req_event));
	assert_int_equal(offsetof(struct xb_ring_hdr, rsp_prod),
			 offsetof(struct blkif_sring, rsp_prod));
	assert_int_equal(offsetof(struct xb_ring_hdr, rsp_event),
			 offsetof(struct blkif_sring, rsp_event));
	/* The ABI structs above match the protocol's sizes. */
	assert_int_equal(sizeof(union t32_sring_entry), 108);
	assert_int_equal(sizeof(union t64_sring_entry), 112);
#ifdef __x86_64__
	assert_int_equal(sizeof(union blkif_sring_entry),
			 sizeof(union t64_sring_entry));
#endif
}

struct nr_case {
	const char *name;
	size_t slot;
	uint32_t want[MAX_ORDER + 1];   /* __CONST_RING_SIZE per order */
};

#define NR_CASE(tag) {                                                     \
	#tag, sizeof(union tag##_sring_entry), {                           \
		__CONST_RING_SIZE(tag, RING_BYTES(0)),                     \
		__CONST_RING_SIZE(tag, RING_BYTES(1)),                     \
		__CONST_RING_SIZE(tag, RING_BYTES(2)),                     \
		__CONST_RING_SIZE(tag, RING_BYTES(3)),                     \
		__CONST_RING_SIZE(tag, RING_BYTES(4)),                     \
	} }

static void test_nr_ents_table(void **state)
{
	const struct nr_case cases[] = {
		NR_CASE(blkif), NR_CASE(t32), NR_CASE(t64),
		NR_CASE(t1), NR_CASE(t12), NR_CASE(t64b), NR_CASE(t200),
	};
	size_t i;
	unsigned int order;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (order = 0; order <= MAX_ORDER; order++) {
			uint32_t got = xb_ring_nr_ents(RING_BYTES(order),
						       cases[i].slot);

			if (got != cases[i].want[order])
				fail_msg("%s order %u slot %zu: %u != %u",
					 cases[i].name, order, cases[i].slot,
					 got, cases[i].want[order]);
		}
	}
	/* Well-known values: 32 requests per page for every blkif ABI. */
	assert_int_equal(xb_ring_nr_ents(RING_BYTES(0), 108), 32);
	assert_int_equal(xb_ring_nr_ents(RING_BYTES(0), 112), 32);
	assert_int_equal(xb_ring_nr_ents(RING_BYTES(4), 108), 512);
	assert_int_equal(xb_ring_nr_ents(RING_BYTES(4), 112), 512);
}

static void test_nr_ents_degenerate(void **state)
{
	struct xb_back_ring r;
	uint8_t page[128] = { 0 };

	assert_int_equal(xb_ring_nr_ents(0, 8), 0);
	assert_int_equal(xb_ring_nr_ents(XB_RING_HDR_SIZE, 8), 0);
	assert_int_equal(xb_ring_nr_ents(XB_RING_HDR_SIZE + 7, 8), 0);
	assert_int_equal(xb_ring_nr_ents(XB_RING_HDR_SIZE + 8, 8), 1);
	assert_int_equal(xb_ring_nr_ents(4096, 0), 0);
	assert_int_equal(xb_ring_nr_ents(4096, 4096), 0);
	assert_int_equal(xb_ring_nr_ents(4096, 4032), 1);
	assert_int_equal(xb_back_ring_attach(&r, page, sizeof(page), 65),
			 -EINVAL);
	assert_int_equal(xb_back_ring_attach(&r, page, sizeof(page), 64), 0);
	assert_int_equal(r.nr_ents, 1);
}

/* ---- a back ring over a real front ring -------------------------------- */

struct pair {
	void *mem;
	size_t bytes;
	struct blkif_sring *sring;
	struct blkif_front_ring front;
	struct blkif_back_ring ref;     /* xen/io/ring.h's back ring, as oracle */
	struct xb_back_ring back;
};

static void pair_init(struct pair *p, unsigned int order)
{
	p->bytes = RING_BYTES(order);
	p->mem = aligned_alloc(T_PAGE_SIZE, p->bytes);
	assert_non_null(p->mem);
	memset(p->mem, 0xcc, p->bytes);
	p->sring = p->mem;
	XEN_FRONT_RING_INIT(&p->front, p->sring, p->bytes);
	BACK_RING_INIT(&p->ref, p->sring, p->bytes);
	assert_int_equal(xb_back_ring_attach(&p->back, p->mem, p->bytes,
					     sizeof(union blkif_sring_entry)),
			 0);
	assert_int_equal(p->back.nr_ents, RING_SIZE(&p->front));
}

static void pair_fini(struct pair *p)
{
	free(p->mem);
}

/* Put both back rings at the same private indices. */
static void pair_set_back(struct pair *p, RING_IDX req_cons,
			  RING_IDX rsp_prod_pvt)
{
	p->back.req_cons = p->ref.req_cons = req_cons;
	p->back.rsp_prod_pvt = p->ref.rsp_prod_pvt = rsp_prod_pvt;
}

/*
 * Regression (backend restart replay): a backend attaching to a live ring
 * resumes after the last published response, as BACK_RING_ATTACH does.
 * Attaching at 0 made a restarted uback-blk re-execute answered writes.
 */
static void test_attach_live_ring(void **state)
{
	struct pair p;
	RING_IDX prod = 0;
	unsigned int i;

	pair_init(&p, 0);
	/* The frontend issued 40 requests; a first backend answered 37. */
	for (i = 0; i < 40; i++) {
		RING_GET_REQUEST(&p.front, p.front.req_prod_pvt)->id = i;
		p.front.req_prod_pvt++;
	}
	RING_PUSH_REQUESTS(&p.front);
	p.sring->rsp_prod = 37;
	/* A restarted backend attaches. */
	assert_int_equal(xb_back_ring_attach(&p.back, p.mem, p.bytes,
					     sizeof(union blkif_sring_entry)),
			 0);
	assert_int_equal(p.back.req_cons, 37);
	assert_int_equal(p.back.rsp_prod_pvt, 37);
	assert_int_equal(xb_ring_get_req_prod(&p.back, &prod), 0);
	assert_int_equal(xb_ring_reqs_avail(&p.back, prod), 3);
	for (i = 37; i < 40; i++) {
		struct blkif_request req;

		memcpy(&req, xb_ring_slot(&p.back, p.back.req_cons++),
		       sizeof(req));
		assert_int_equal(req.id, i);
	}
	/* A hostile rsp_prod far from req_prod: the producer check halts. */
	p.sring->rsp_prod = 1000;
	assert_int_equal(xb_back_ring_attach(&p.back, p.mem, p.bytes,
					     sizeof(union blkif_sring_entry)),
			 0);
	assert_int_equal(xb_ring_get_req_prod(&p.back, &prod), -EIO);
	pair_fini(&p);
}

static void test_round_trip(void **state)
{
	unsigned int order;

	for (order = 0; order <= MAX_ORDER; order++) {
		struct pair p;
		uint32_t n, i, round;
		RING_IDX prod = 0;

		pair_init(&p, order);
		n = p.back.nr_ents;
		/* Three laps so the indices wrap the slot array. */
		for (round = 0; round < 3; round++) {
			bool notify;
			uint32_t want = round == 1 ? n : n / 2 + 1;

			for (i = 0; i < want; i++) {
				struct blkif_request *rq = RING_GET_REQUEST(
					&p.front, p.front.req_prod_pvt);

				memset(rq, 0, sizeof(*rq));
				rq->operation = BLKIF_OP_READ;
				rq->id = ((uint64_t)round << 32) | i;
				p.front.req_prod_pvt++;
			}
			RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&p.front, notify);
			assert_true(notify);   /* backend asked for it */

			assert_int_equal(xb_ring_get_req_prod(&p.back, &prod),
					 0);
			assert_int_equal(xb_ring_reqs_avail(&p.back, prod),
					 want);
			for (i = 0; i < want; i++) {
				struct blkif_request rq;
				struct blkif_response rs = { 0 };

				memcpy(&rq, xb_ring_slot(&p.back,
							 p.back.req_cons++),
				       sizeof(rq));
				assert_int_equal(rq.id,
						 ((uint64_t)round << 32) | i);
				rs.id = rq.id;
				rs.operation = rq.operation;
				rs.status = BLKIF_RSP_OKAY;
				memcpy(xb_ring_slot(&p.back,
						    p.back.rsp_prod_pvt++),
				       &rs, sizeof(rs));
			}
			assert_int_equal(xb_ring_reqs_avail(&p.back, prod), 0);
			/* Front set rsp_event = rsp_cons + 1 at init/check. */
			assert_true(xb_ring_push_rsps(&p.back));
			assert_false(xb_ring_final_check(&p.back));
			assert_int_equal(p.sring->req_event,
					 p.back.req_cons + 1);

			for (i = 0; i < want; i++) {
				struct blkif_response *rs = RING_GET_RESPONSE(
					&p.front, p.front.rsp_cons);

				assert_int_equal(rs->id,
						 ((uint64_t)round << 32) | i);
				assert_int_equal(rs->status, BLKIF_RSP_OKAY);
				p.front.rsp_cons++;
			}
			assert_int_equal(p.front.rsp_cons, p.sring->rsp_prod);
			{
				int more;

				RING_FINAL_CHECK_FOR_RESPONSES(&p.front, more);
				assert_false(more);
			}
		}
		pair_fini(&p);
	}
}

/* ---- producer validation ----------------------------------------------- */

struct prod_case {
	RING_IDX req_cons, rsp_prod_pvt;
	int64_t prod_off;       /* req_prod = rsp_prod_pvt + prod_off */
	int ret;
};

static void test_impossible_producer(void **state)
{
	/* Offsets relative to nr_ents are filled in per order below. */
	unsigned int order;

	for (order = 0; order <= MAX_ORDER; order++) {
		struct pair p;
		uint32_t n;
		size_t i;

		pair_init(&p, order);
		n = p.back.nr_ents;
		{
			const RING_IDX hi = 0xfffffff0u;
			const struct prod_case cases[] = {
				{ 0, 0, 0, 0 },
				{ 0, 0, 1, 0 },
				{ 0, 0, n, 0 },             /* full */
				{ 0, 0, (int64_t)n + 1, -EIO },
				{ 0, 0, (int64_t)n * 2, -EIO },
				{ 0, 0, -1, -EIO },         /* 0xffffffff */
				{ 5, 2, 3, 0 },             /* == req_cons */
				{ 5, 2, 2, -EIO },          /* behind cons */
				{ 5, 2, 0, -EIO },
				{ 5, 2, n, 0 },
				{ 5, 2, (int64_t)n + 1, -EIO },
				/* Around the 2^32 wrap of the indices. */
				{ hi + 4, hi, 4, 0 },
				{ hi + 4, hi, n, 0 },
				{ hi + 4, hi, (int64_t)n + 1, -EIO },
				{ hi + 4, hi, 3, -EIO },
				{ hi + n, hi, n, 0 },
				{ hi + n, hi, (int64_t)n - 1, -EIO },
			};

			for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
				const struct prod_case *c = &cases[i];
				RING_IDX prod = 0x5a5a5a5a;
				RING_IDX rp = c->rsp_prod_pvt +
					      (RING_IDX)c->prod_off;
				int ret;

				pair_set_back(&p, c->req_cons, c->rsp_prod_pvt);
				p.sring->req_prod = rp;
				ret = xb_ring_get_req_prod(&p.back, &prod);
				if (ret != c->ret)
					fail_msg("order %u case %zu: ret %d want %d",
						 order, i, ret, c->ret);
				if (ret)
					assert_int_equal(prod, 0x5a5a5a5a);
				else
					assert_int_equal(prod, rp);
				/* Where xen/io/ring.h calls it an overflow,
				 * so do we (we are stricter, never laxer). */
				if (RING_REQUEST_PROD_OVERFLOW(&p.ref, rp))
					assert_int_equal(ret, -EIO);
			}
		}
		pair_fini(&p);
	}
}

/* ---- requests available ------------------------------------------------ */

struct avail_case {
	RING_IDX req_cons, rsp_prod_pvt, prod_off;  /* prod = req_cons + off */
	uint32_t room_less;   /* want = min(off, nr_ents - room_less) */
};

static void test_reqs_avail_bounded(void **state)
{
	unsigned int order;

	for (order = 0; order <= MAX_ORDER; order++) {
		struct pair p;
		uint32_t n;
		size_t i;

		pair_init(&p, order);
		n = p.back.nr_ents;
		{
			const struct avail_case cases[] = {
				{ 0, 0, 0, 0 },
				{ 0, 0, 1, 0 },
				{ 0, 0, n, 0 },
				/* Requests consumed but not answered take
				 * response slots away. */
				{ 3, 0, n - 3, 3 },
				{ n - 2, 0, 2, n - 2 },
				{ n, 0, 0, n },
				{ 10, 7, n - 3, 3 },
				{ 0xfffffffeu, 0xfffffff0u, n - 14, 14 },
				{ 0xfffffffeu, 0xfffffffeu, n, 0 },
			};

			for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
				const struct avail_case *c = &cases[i];
				RING_IDX prod = c->req_cons + c->prod_off;
				uint32_t room = n - c->room_less;
				uint32_t want = c->prod_off < room ?
						c->prod_off : room;
				uint32_t got;

				pair_set_back(&p, c->req_cons, c->rsp_prod_pvt);
				p.sring->req_prod = prod;
				assert_int_equal(xb_ring_get_req_prod(&p.back,
								      &prod), 0);
				got = xb_ring_reqs_avail(&p.back, prod);
				if (got != want)
					fail_msg("order %u case %zu: %u != %u",
						 order, i, got, want);
				/* Agrees with the header's own count. */
				assert_int_equal(got,
					XEN_RING_NR_UNCONSUMED_REQUESTS(&p.ref));
			}
		}
		/* A frontend that never reads responses: with the ring
		 * full of unanswered requests there is nothing to take. */
		pair_set_back(&p, n, 0);
		p.sring->req_prod = n;
		{
			RING_IDX prod;

			assert_int_equal(xb_ring_get_req_prod(&p.back, &prod),
					 0);
			assert_int_equal(xb_ring_reqs_avail(&p.back, prod), 0);
			p.sring->req_prod = n + 1;
			assert_int_equal(xb_ring_get_req_prod(&p.back, &prod),
					 -EIO);
		}
		pair_fini(&p);
	}
}

/* ---- response notification --------------------------------------------- */

struct notify_case {
	RING_IDX old, new_prod, rsp_event;
	bool notify;
};

static void test_push_rsps_notify(void **state)
{
	const RING_IDX w = 0xfffffffeu;
	const struct notify_case cases[] = {
		{ 0, 1, 1, true },          /* frontend waits for the next */
		{ 0, 3, 1, true },
		{ 0, 3, 3, true },          /* event at the last one pushed */
		{ 0, 3, 4, false },         /* wants a later one */
		{ 5, 8, 5, false },         /* stale event, already passed */
		{ 5, 8, 6, true },
		{ 5, 5, 6, false },         /* nothing new */
		{ 5, 5, 5, false },
		{ w, w + 4, w + 1, true },  /* across the 2^32 wrap */
		{ w, w + 4, w + 2, true },
		{ w, w + 4, w + 5, false },
		{ w, w + 4, w, false },
	};
	struct pair p;
	size_t i;

	pair_init(&p, 0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct notify_case *c = &cases[i];
		int ref_notify;
		bool got;

		/* Oracle: the header's macro on the same state. */
		p.sring->rsp_prod = c->old;
		p.sring->rsp_event = c->rsp_event;
		p.ref.rsp_prod_pvt = c->new_prod;
		RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&p.ref, ref_notify);
		assert_int_equal(p.sring->rsp_prod, c->new_prod);

		p.sring->rsp_prod = c->old;
		p.sring->rsp_event = c->rsp_event;
		p.back.rsp_prod_pvt = c->new_prod;
		got = xb_ring_push_rsps(&p.back);
		assert_int_equal(p.sring->rsp_prod, c->new_prod);
		if (got != c->notify || got != !!ref_notify)
			fail_msg("case %zu: notify %d, want %d (ring.h %d)", i,
				 got, c->notify, ref_notify);
	}
	pair_fini(&p);
}

/* ---- final check ------------------------------------------------------- */

struct final_case {
	RING_IDX req_cons, req_prod, req_event_before;
	bool work;
	RING_IDX req_event_after;
};

static void test_final_check(void **state)
{
	const struct final_case cases[] = {
		/* Idle: re-arm for the very next request. */
		{ 0, 0, 1, false, 1 },
		{ 7, 7, 3, false, 8 },
		{ 0xffffffffu, 0xffffffffu, 0, false, 0 },
		/* Work pending: req_event left alone. */
		{ 7, 8, 3, true, 3 },
		{ 7, 39, 3, true, 3 },
		{ 0xffffffffu, 0, 9, true, 9 },
	};
	struct pair p;
	size_t i;

	pair_init(&p, 0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct final_case *c = &cases[i];
		int ref_work;
		bool got;

		pair_set_back(&p, c->req_cons, c->req_cons);
		p.sring->req_prod = c->req_prod;
		p.sring->req_event = c->req_event_before;
		got = xb_ring_final_check(&p.back);
		assert_int_equal(got, c->work);
		assert_int_equal(p.sring->req_event, c->req_event_after);

		/* Oracle: the header's macro from the same state. */
		p.sring->req_event = c->req_event_before;
		RING_FINAL_CHECK_FOR_REQUESTS(&p.ref, ref_work);
		assert_int_equal(!!ref_work, c->work);
		assert_int_equal(p.sring->req_event, c->req_event_after);
	}

	/* An impossible producer reads as work, so the caller goes on to
	 * xb_ring_get_req_prod and halts instead of sleeping. */
	pair_set_back(&p, 4, 4);
	p.sring->req_prod = 4 + p.back.nr_ents + 1;
	assert_true(xb_ring_final_check(&p.back));
	{
		RING_IDX prod;

		assert_int_equal(xb_ring_get_req_prod(&p.back, &prod), -EIO);
	}
	pair_fini(&p);
}

/* Regression: a producer moved back behind req_cons used to pass the
 * check, and reqs_avail then offered slots the frontend never filled. */
static void test_producer_moved_back(void **state)
{
	struct pair p;
	RING_IDX prod;

	pair_init(&p, 0);
	pair_set_back(&p, 10, 8);
	p.sring->req_prod = 9;
	assert_int_equal(xb_ring_get_req_prod(&p.back, &prod), -EIO);
	pair_fini(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layout),
		cmocka_unit_test(test_nr_ents_table),
		cmocka_unit_test(test_nr_ents_degenerate),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_attach_live_ring),
		cmocka_unit_test(test_impossible_producer),
		cmocka_unit_test(test_reqs_avail_bounded),
		cmocka_unit_test(test_push_rsps_notify),
		cmocka_unit_test(test_final_check),
		cmocka_unit_test(test_producer_moved_back),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
