/* SPDX-License-Identifier: MIT */
/*
 * blkif ABI translation and request validation, table-driven:
 * ring order x ABI x feature bits. Requests are encoded here byte by byte
 * at the offsets xen/io/blkif.h gives each ABI (not with the backend's own
 * structs), so a layout mistake in blkif_abi.h fails these tests.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "uback/ring.h"
#include "blkif_abi.h"

struct layout {
	enum blk_abi abi;
	size_t id, sector, seg, nr_sectors, ind_handle, ind_grefs, slot;
};

static const struct layout layouts[] = {
	{ BLK_ABI_X86_32, 4, 12, 20, 20, 20, 24, 108 },
	{ BLK_ABI_X86_64, 8, 16, 24, 24, 24, 28, 112 },
};

static void put8(uint8_t *b, size_t off, uint8_t v) { b[off] = v; }
static void put16(uint8_t *b, size_t off, uint16_t v) { memcpy(b + off, &v, 2); }
static void put32(uint8_t *b, size_t off, uint32_t v) { memcpy(b + off, &v, 4); }
static void put64(uint8_t *b, size_t off, uint64_t v) { memcpy(b + off, &v, 8); }

static void test_protocol_names(void **state)
{
	enum blk_abi abi = BLK_ABI_X86_32;

	assert_int_equal(blk_abi_from_protocol("x86_32-abi", &abi), 0);
	assert_int_equal(abi, BLK_ABI_X86_32);
	assert_int_equal(blk_abi_from_protocol("x86_64-abi", &abi), 0);
	assert_int_equal(abi, BLK_ABI_X86_64);
	abi = BLK_ABI_X86_32;
	assert_int_equal(blk_abi_from_protocol(NULL, &abi), 0);
	assert_int_equal(abi, BLK_ABI_X86_64);
	assert_int_equal(blk_abi_from_protocol("arm-abi", &abi), -EINVAL);
	assert_int_equal(blk_abi_from_protocol("x86_64-abi ", &abi), -EINVAL);
	assert_string_equal(blk_abi_name(BLK_ABI_X86_32), "x86_32-abi");
}

/* Ring entries per order and ABI: 32 << order, as Xen's macros say. */
static void test_ring_sizes(void **state)
{
	unsigned int order, i;

	for (i = 0; i < 2; i++) {
		for (order = 0; order <= 4; order++) {
			size_t bytes = (size_t)4096 << order;

			assert_int_equal(blk_abi_slot_size(layouts[i].abi),
					 layouts[i].slot);
			assert_int_equal(xb_ring_nr_ents(bytes, layouts[i].slot),
					 32u << order);
#if defined(__x86_64__)
			if (layouts[i].abi == BLK_ABI_X86_64)
				assert_int_equal(
					xb_ring_nr_ents(bytes, layouts[i].slot),
					__CONST_RING_SIZE(blkif, bytes));
#endif
		}
	}
}

static void test_decode_rw(void **state)
{
	unsigned int i, s, nseg;

	for (i = 0; i < 2; i++) {
		const struct layout *L = &layouts[i];

		for (nseg = 0; nseg <= 12; nseg++) {
			uint8_t b[112];
			struct blk_req r;

			memset(b, 0xA5, sizeof(b));
			put8(b, 0, BLKIF_OP_WRITE);
			put8(b, 1, (uint8_t)nseg);
			put16(b, 2, 0x1234);
			put64(b, L->id, 0x1122334455667788ull);
			put64(b, L->sector, 0xdeadbeef01ull);
			for (s = 0; s < 11; s++) {
				put32(b, L->seg + 8 * s, 100 + s);
				put8(b, L->seg + 8 * s + 4, (uint8_t)s % 8);
				put8(b, L->seg + 8 * s + 5, 7);
			}
			memset(&r, 0xff, sizeof(r));
			blk_abi_copy_req(L->abi, b, &r);
			assert_int_equal(r.operation, BLKIF_OP_WRITE);
			assert_int_equal(r.op, BLKIF_OP_WRITE);
			assert_false(r.indirect);
			assert_int_equal(r.nr_segments, nseg);
			assert_int_equal(r.handle, 0x1234);
			assert_true(r.id == 0x1122334455667788ull);
			assert_true(r.sector == 0xdeadbeef01ull);
			for (s = 0; s < nseg && s < 11; s++) {
				assert_int_equal(r.seg[s].gref, 100 + s);
				assert_int_equal(r.seg[s].first_sect, s % 8);
				assert_int_equal(r.seg[s].last_sect, 7);
			}
		}
	}
}

static void test_decode_discard_indirect(void **state)
{
	unsigned int i, p;

	for (i = 0; i < 2; i++) {
		const struct layout *L = &layouts[i];
		uint8_t b[112];
		struct blk_req r;

		memset(b, 0x5A, sizeof(b));
		put8(b, 0, BLKIF_OP_DISCARD);
		put8(b, 1, BLKIF_DISCARD_SECURE);
		put64(b, L->id, 77);
		put64(b, L->sector, 4096);
		put64(b, L->nr_sectors, 8192);
		blk_abi_copy_req(L->abi, b, &r);
		assert_int_equal(r.op, BLKIF_OP_DISCARD);
		assert_int_equal(r.discard_flag, BLKIF_DISCARD_SECURE);
		assert_true(r.id == 77 && r.sector == 4096);
		assert_true(r.nr_sectors == 8192);
		assert_int_equal(r.nr_segments, 0);

		memset(b, 0x5A, sizeof(b));
		put8(b, 0, BLKIF_OP_INDIRECT);
		put8(b, 1, BLKIF_OP_READ);
		put16(b, 2, 300);
		put64(b, L->id, 99);
		put64(b, L->sector, 12345);
		put16(b, L->ind_handle, 51712);
		for (p = 0; p < 8; p++)
			put32(b, L->ind_grefs + 4 * p, 1000 + p);
		blk_abi_copy_req(L->abi, b, &r);
		assert_true(r.indirect);
		assert_int_equal(r.operation, BLKIF_OP_INDIRECT);
		assert_int_equal(r.op, BLKIF_OP_READ);
		assert_int_equal(r.nr_segments, 300);
		assert_true(r.id == 99 && r.sector == 12345);
		assert_int_equal(r.handle, 51712);
		for (p = 0; p < 8; p++)
			assert_int_equal(r.indirect_grefs[p], 1000 + p);
	}
}

/* Decoding a private copy (the journal's) reads what copying and decoding
 * the slot reads: the same request, field for field, for every layout. */
static void test_decode_copy(void **state)
{
	static const uint8_t ops[] = { BLKIF_OP_READ, BLKIF_OP_WRITE,
				       BLKIF_OP_DISCARD, BLKIF_OP_INDIRECT,
				       BLKIF_OP_FLUSH_DISKCACHE, 200 };
	unsigned int i, k, b;

	(void)state;
	for (i = 0; i < 2; i++) {
		for (k = 0; k < sizeof(ops); k++) {
			uint8_t slot[112];
			struct blk_req a, d;

			for (b = 0; b < sizeof(slot); b++)
				slot[b] = (uint8_t)(b * 13 + k);
			put8(slot, 0, ops[k]);
			put8(slot, 1, 3);
			memset(&a, 0x77, sizeof(a));
			memset(&d, 0x77, sizeof(d));
			blk_abi_copy_req(layouts[i].abi, slot, &a);
			blk_abi_decode_req(layouts[i].abi, slot, &d);
			assert_memory_equal(&a, &d, sizeof(a));
			assert_int_equal(d.operation, ops[k]);
		}
	}
}

static void test_put_rsp(void **state)
{
	unsigned int i;

	for (i = 0; i < 2; i++) {
		const struct layout *L = &layouts[i];
		uint8_t b[112];
		size_t rsp_size = L->abi == BLK_ABI_X86_32 ? 12 : 16, k;
		uint64_t id;
		int16_t st;

		memset(b, 0xEE, sizeof(b));
		blk_abi_put_rsp(L->abi, b, 0x0102030405060708ull,
				BLKIF_OP_INDIRECT, BLKIF_RSP_EOPNOTSUPP);
		memcpy(&id, b, 8);
		memcpy(&st, b + 10, 2);
		assert_true(id == 0x0102030405060708ull);
		assert_int_equal(b[8], BLKIF_OP_INDIRECT);
		assert_int_equal(st, BLKIF_RSP_EOPNOTSUPP);
		for (k = rsp_size; k < sizeof(b); k++)
			assert_int_equal(b[k], 0xEE);
	}
}

/* ---- validation matrix ---- */

enum feat {
	F_FLUSH = 1, F_BARRIER = 2, F_DISCARD = 4, F_SECURE = 8,
	F_INDIRECT = 16, F_RO = 32,
};

struct check_case {
	const char *name;
	uint8_t op;
	bool indirect;
	uint16_t nsegs;
	uint64_t sector, nr_sectors;
	unsigned int feats;
	enum blk_reject want;
};

#define ALLF (F_FLUSH | F_BARRIER | F_DISCARD | F_SECURE | F_INDIRECT)

static const struct check_case check_cases[] = {
	{ "read", BLKIF_OP_READ, false, 1, 0, 0, 0, BLK_OK },
	{ "read 11 segs", BLKIF_OP_READ, false, 11, 0, 0, 0, BLK_OK },
	{ "read 0 segs", BLKIF_OP_READ, false, 0, 0, 0, 0, BLK_REJ_BAD_NSEGS },
	{ "read 12 segs", BLKIF_OP_READ, false, 12, 0, 0, 0,
	  BLK_REJ_BAD_NSEGS },
	{ "write ro", BLKIF_OP_WRITE, false, 1, 0, 0, F_RO, BLK_REJ_READONLY },
	{ "read ro", BLKIF_OP_READ, false, 1, 0, 0, F_RO, BLK_OK },
	{ "unknown op", 9, false, 1, 0, 0, ALLF, BLK_REJ_BAD_OP },
	{ "reserved op", BLKIF_OP_RESERVED_1, false, 1, 0, 0, ALLF,
	  BLK_REJ_BAD_OP },
	{ "flush off", BLKIF_OP_FLUSH_DISKCACHE, false, 0, 0, 0, 0,
	  BLK_REJ_BAD_OP },
	{ "flush on", BLKIF_OP_FLUSH_DISKCACHE, false, 0, 0, 0, F_FLUSH,
	  BLK_OK },
	{ "flush with data", BLKIF_OP_FLUSH_DISKCACHE, false, 3, 0, 0,
	  F_FLUSH, BLK_OK },
	{ "flush 12 segs", BLKIF_OP_FLUSH_DISKCACHE, false, 12, 0, 0,
	  F_FLUSH, BLK_REJ_BAD_NSEGS },
	{ "flush ro", BLKIF_OP_FLUSH_DISKCACHE, false, 0, 0, 0,
	  F_FLUSH | F_RO, BLK_REJ_READONLY },
	{ "barrier off", BLKIF_OP_WRITE_BARRIER, false, 0, 0, 0, F_FLUSH,
	  BLK_REJ_BAD_OP },
	{ "barrier on", BLKIF_OP_WRITE_BARRIER, false, 2, 0, 0, F_BARRIER,
	  BLK_OK },
	{ "discard off", BLKIF_OP_DISCARD, false, 0, 0, 8, 0, BLK_REJ_BAD_OP },
	{ "discard on", BLKIF_OP_DISCARD, false, 0, 0, 8, F_DISCARD, BLK_OK },
	{ "discard to end", BLKIF_OP_DISCARD, false, 0, 1000, 24, F_DISCARD,
	  BLK_OK },
	{ "discard past end", BLKIF_OP_DISCARD, false, 0, 1000, 25, F_DISCARD,
	  BLK_REJ_RANGE },
	{ "discard wraps", BLKIF_OP_DISCARD, false, 0, 8, UINT64_MAX - 4,
	  F_DISCARD, BLK_REJ_RANGE },
	{ "discard ro", BLKIF_OP_DISCARD, false, 0, 0, 8, F_DISCARD | F_RO,
	  BLK_REJ_READONLY },
	{ "indirect off", BLKIF_OP_READ, true, 20, 0, 0, 0, BLK_REJ_BAD_OP },
	{ "indirect read", BLKIF_OP_READ, true, 256, 0, 0, F_INDIRECT, BLK_OK },
	{ "indirect 257", BLKIF_OP_READ, true, 257, 0, 0, F_INDIRECT,
	  BLK_REJ_BAD_NSEGS },
	{ "indirect 0", BLKIF_OP_WRITE, true, 0, 0, 0, F_INDIRECT,
	  BLK_REJ_BAD_NSEGS },
	{ "indirect 9 pages", BLKIF_OP_READ, true, 8 * 512 + 1, 0, 0,
	  F_INDIRECT, BLK_REJ_BAD_INDIRECT },
	{ "indirect flush", BLKIF_OP_FLUSH_DISKCACHE, true, 4, 0, 0, ALLF,
	  BLK_REJ_BAD_INDIRECT },
	{ "indirect nested", BLKIF_OP_INDIRECT, true, 4, 0, 0, ALLF,
	  BLK_REJ_BAD_INDIRECT },
	{ "indirect write ro", BLKIF_OP_WRITE, true, 4, 0, 0, F_INDIRECT | F_RO,
	  BLK_REJ_READONLY },
};

static void test_check_matrix(void **state)
{
	unsigned int i;

	for (i = 0; i < sizeof(check_cases) / sizeof(check_cases[0]); i++) {
		const struct check_case *c = &check_cases[i];
		struct blk_limits lim = {
			.sectors = 1024,
			.max_indirect_segs = (c->feats & F_INDIRECT) ? 256 : 0,
			.readonly = c->feats & F_RO,
			.flush = c->feats & F_FLUSH,
			.barrier = c->feats & F_BARRIER,
			.discard = c->feats & F_DISCARD,
			.discard_secure = c->feats & F_SECURE,
		};
		struct blk_req r;

		memset(&r, 0, sizeof(r));
		r.operation = c->indirect ? BLKIF_OP_INDIRECT : c->op;
		r.op = c->op;
		r.indirect = c->indirect;
		r.nr_segments = c->nsegs;
		r.sector = c->sector;
		r.nr_sectors = c->nr_sectors;
		if (blk_req_check(&r, &lim) != c->want)
			fail_msg("case '%s': got %s, want %s", c->name,
				 blk_reject_name(blk_req_check(&r, &lim)),
				 blk_reject_name(c->want));
	}
	/* The 9-page case with a backend that would allow 4096+ segments. */
	{
		struct blk_limits lim = { .sectors = 8,
					  .max_indirect_segs = 4096 };
		struct blk_req r = { .indirect = true, .op = BLKIF_OP_READ,
				     .nr_segments = 4097 };

		assert_int_equal(blk_req_check(&r, &lim), BLK_REJ_BAD_INDIRECT);
		r.nr_segments = 4096;
		assert_int_equal(blk_req_check(&r, &lim), BLK_OK);
	}
	assert_int_equal(blk_reject_status(BLK_REJ_BAD_OP), BLKIF_RSP_EOPNOTSUPP);
	assert_int_equal(blk_reject_status(BLK_REJ_RANGE), BLKIF_RSP_ERROR);
	assert_int_equal(blk_reject_status(BLK_OK), BLKIF_RSP_OKAY);
}

static void test_seg_and_range(void **state)
{
	struct blk_limits lim = { .sectors = 100 };
	struct blk_seg s;
	uint64_t n = 0;
	unsigned int f, l;

	for (f = 0; f < 10; f++) {
		for (l = 0; l < 10; l++) {
			uint64_t before = n;
			enum blk_reject want = (f <= l && l < 8) ? BLK_OK
							  : BLK_REJ_BAD_SEG;

			s.gref = 1;
			s.first_sect = (uint8_t)f;
			s.last_sect = (uint8_t)l;
			assert_int_equal(blk_seg_check(&s, &n), want);
			if (want == BLK_OK)
				assert_true(n == before + (l - f + 1));
			else
				assert_true(n == before);
		}
	}
	s.first_sect = 255;
	s.last_sect = 255;
	assert_int_equal(blk_seg_check(&s, &n), BLK_REJ_BAD_SEG);
	assert_int_equal(blk_range_check(0, 100, &lim), BLK_OK);
	assert_int_equal(blk_range_check(99, 1, &lim), BLK_OK);
	assert_int_equal(blk_range_check(99, 2, &lim), BLK_REJ_RANGE);
	assert_int_equal(blk_range_check(101, 0, &lim), BLK_REJ_RANGE);
	assert_int_equal(blk_range_check(UINT64_MAX, 2, &lim), BLK_REJ_RANGE);
	assert_int_equal(blk_indirect_pages(1), 1);
	assert_int_equal(blk_indirect_pages(512), 1);
	assert_int_equal(blk_indirect_pages(513), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_protocol_names),
		cmocka_unit_test(test_ring_sizes),
		cmocka_unit_test(test_decode_rw),
		cmocka_unit_test(test_decode_discard_indirect),
		cmocka_unit_test(test_decode_copy),
		cmocka_unit_test(test_put_rsp),
		cmocka_unit_test(test_check_matrix),
		cmocka_unit_test(test_seg_and_range),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
