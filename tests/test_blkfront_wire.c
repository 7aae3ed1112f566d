/* SPDX-License-Identifier: MIT */
/* blkfront ring slot encoding of both blkif ABIs (no simulator). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "blkfront_raw.h"
#include <uback/ring.h>

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint16_t get16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static void test_slot_sizes(void **state)
{
	unsigned int order;

	(void)state;
	assert_int_equal(blkfront_abi_slot_size(BLKFRONT_ABI_X86_64),
			 sizeof(union blkif_sring_entry));
	assert_int_equal(blkfront_abi_slot_size(BLKFRONT_ABI_UNSET), 112);
	assert_int_equal(blkfront_abi_slot_size(BLKFRONT_ABI_X86_32), 108);
	/* 32 requests per page in both ABIs, doubling with each order. */
	for (order = 0; order <= BLKFRONT_MAX_RING_ORDER; order++) {
		assert_int_equal(xb_ring_nr_ents(4096u << order, 112),
				 32u << order);
		assert_int_equal(xb_ring_nr_ents(4096u << order, 108),
				 32u << order);
	}
	assert_int_equal(__CONST_RING_SIZE(blkif, 4096), 32);
}

static struct blkfront_wire_req rw_req(void)
{
	struct blkfront_wire_req r = {
		.operation = BLKIF_OP_WRITE,
		.nr_segments = 3,
		.handle = 0xabcd,
		.id = 0x1122334455667788ull,
		.sector_number = 0x0102030405060708ull,
	};
	unsigned int i;

	for (i = 0; i < 3; i++) {
		r.seg[i].gref = 100 + i;
		r.seg[i].first_sect = (uint8_t)i;
		r.seg[i].last_sect = 7;
	}
	return r;
}

static void test_rw_native_matches_blkif_h(void **state)
{
	struct blkfront_wire_req r = rw_req();
	uint8_t slot[BLKFRONT_SLOT_SIZE_MAX];
	struct blkif_request n;

	(void)state;
	blkfront_wire_encode(BLKFRONT_ABI_X86_64, &r, slot);
	memcpy(&n, slot, sizeof(n));
	assert_int_equal(n.operation, BLKIF_OP_WRITE);
	assert_int_equal(n.nr_segments, 3);
	assert_int_equal(n.handle, 0xabcd);
	assert_true(n.id == r.id);
	assert_true(n.sector_number == r.sector_number);
	assert_int_equal(n.seg[2].gref, 102);
	assert_int_equal(n.seg[2].first_sect, 2);
	assert_int_equal(n.seg[2].last_sect, 7);
}

static void test_rw_x86_32_layout(void **state)
{
	struct blkfront_wire_req r = rw_req();
	uint8_t slot[BLKFRONT_SLOT_SIZE_MAX];

	(void)state;
	memset(slot, 0xee, sizeof(slot));
	blkfront_wire_encode(BLKFRONT_ABI_X86_32, &r, slot);
	assert_int_equal(slot[0], BLKIF_OP_WRITE);
	assert_int_equal(slot[1], 3);
	assert_int_equal(get16(slot + 2), 0xabcd);
	assert_true(get64(slot + 4) == r.id);
	assert_true(get64(slot + 12) == r.sector_number);
	assert_int_equal(get32(slot + 20 + 2 * 8), 102);
	assert_int_equal(slot[20 + 2 * 8 + 4], 2);
	assert_int_equal(slot[20 + 2 * 8 + 5], 7);
	/* Encoding writes exactly one 108-byte slot. */
	assert_int_equal(slot[108], 0xee);
}

static void test_indirect_layouts(void **state)
{
	struct blkfront_wire_req r = {
		.operation = BLKIF_OP_INDIRECT,
		.indirect_op = BLKIF_OP_READ,
		.nr_segments = 300,
		.handle = 7,
		.id = 42,
		.sector_number = 1000,
		.indirect_grefs = { 11, 12 },
	};
	uint8_t slot[BLKFRONT_SLOT_SIZE_MAX];
	struct blkif_request_indirect n;

	(void)state;
	blkfront_wire_encode(BLKFRONT_ABI_X86_64, &r, slot);
	memcpy(&n, slot, sizeof(n));
	assert_int_equal(n.operation, BLKIF_OP_INDIRECT);
	assert_int_equal(n.indirect_op, BLKIF_OP_READ);
	assert_int_equal(n.nr_segments, 300);
	assert_true(n.id == 42);
	assert_true(n.sector_number == 1000);
	assert_int_equal(n.handle, 7);
	assert_int_equal(n.indirect_grefs[1], 12);

	blkfront_wire_encode(BLKFRONT_ABI_X86_32, &r, slot);
	assert_int_equal(slot[0], BLKIF_OP_INDIRECT);
	assert_int_equal(slot[1], BLKIF_OP_READ);
	assert_int_equal(get16(slot + 2), 300);
	assert_true(get64(slot + 4) == 42);
	assert_true(get64(slot + 12) == 1000);
	assert_int_equal(get16(slot + 20), 7);
	assert_int_equal(get32(slot + 24), 11);
	assert_int_equal(get32(slot + 28), 12);
}

static void test_discard_layouts(void **state)
{
	struct blkfront_wire_req r = {
		.operation = BLKIF_OP_DISCARD,
		.flag = BLKIF_DISCARD_SECURE,
		.id = 9,
		.sector_number = 77,
		.nr_sectors = 4096,
	};
	uint8_t slot[BLKFRONT_SLOT_SIZE_MAX];
	struct blkif_request_discard n;

	(void)state;
	blkfront_wire_encode(BLKFRONT_ABI_X86_64, &r, slot);
	memcpy(&n, slot, sizeof(n));
	assert_int_equal(n.flag, BLKIF_DISCARD_SECURE);
	assert_true(n.id == 9);
	assert_true(n.sector_number == 77);
	assert_true(n.nr_sectors == 4096);

	blkfront_wire_encode(BLKFRONT_ABI_X86_32, &r, slot);
	assert_int_equal(slot[1], BLKIF_DISCARD_SECURE);
	assert_true(get64(slot + 4) == 9);
	assert_true(get64(slot + 12) == 77);
	assert_true(get64(slot + 20) == 4096);
}

static void test_response_decode(void **state)
{
	struct blkif_response n = {
		.id = 0xdeadbeefcafeull,
		.operation = BLKIF_OP_FLUSH_DISKCACHE,
		.status = BLKIF_RSP_EOPNOTSUPP,
	};
	struct blkfront_wire_rsp r;
	uint8_t slot[BLKFRONT_SLOT_SIZE_MAX] = { 0 };

	(void)state;
	memcpy(slot, &n, sizeof(n));
	blkfront_wire_decode_rsp(BLKFRONT_ABI_X86_64, slot, &r);
	assert_true(r.id == n.id);
	assert_int_equal(r.operation, BLKIF_OP_FLUSH_DISKCACHE);
	assert_int_equal(r.status, BLKIF_RSP_EOPNOTSUPP);
	/* x86_32: same offsets (id 0, operation 8, status 10), 12 bytes. */
	blkfront_wire_decode_rsp(BLKFRONT_ABI_X86_32, slot, &r);
	assert_true(r.id == n.id);
	assert_int_equal(r.status, BLKIF_RSP_EOPNOTSUPP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slot_sizes),
		cmocka_unit_test(test_rw_native_matches_blkif_h),
		cmocka_unit_test(test_rw_x86_32_layout),
		cmocka_unit_test(test_indirect_layouts),
		cmocka_unit_test(test_discard_layouts),
		cmocka_unit_test(test_response_decode),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
