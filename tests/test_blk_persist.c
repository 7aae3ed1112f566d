/* SPDX-License-Identifier: MIT */
/* Persistent grant cache: hits, LRU eviction, full cache, map errors, idle
 * purge, no leaked mappings. Runs on the in-process fake grant table. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "blk_fakehv.h"
#include "persist.h"

struct fx {
	struct fake_hv *f;
	struct xb_gnt *gnt;
	grant_ref_t ref[16];
};

static int setup(void **state)
{
	struct fx *x = calloc(1, sizeof(*x));
	unsigned int i;

	assert_non_null(x);
	assert_int_equal(fake_hv_create(16, &x->f), 0);
	assert_int_equal(xb_gnt_open(fake_hv_base(x->f), &x->gnt), 0);
	for (i = 0; i < 16; i++)
		x->ref[i] = fake_grant(x->f, i, false);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fx *x = *state;

	assert_int_equal(fake_pages_mapped(x->f), 0);
	xb_gnt_close(x->gnt);
	fake_hv_destroy(x->f);
	free(x);
	return 0;
}

static void test_hit(void **state)
{
	struct fx *x = *state;
	struct blk_persist *p;
	struct blk_persist_stats st;
	uint32_t h1, h2;
	void *a1, *a2;

	assert_int_equal(blk_persist_create(x->gnt, FAKE_GUEST, 4, &p), 0);
	assert_int_equal(blk_persist_get(p, x->ref[3], 1, &a1, &h1), 0);
	assert_int_equal(blk_persist_get(p, x->ref[3], 2, &a2, &h2), 0);
	assert_ptr_equal(a1, a2);
	assert_int_equal(h1, h2);
	assert_int_equal(fake_map_calls(x->f), 1);
	/* The mapping is the guest's page. */
	memset(a1, 0x3c, 4096);
	assert_int_equal(((uint8_t *)fake_page(x->f, 3))[100], 0x3c);
	blk_persist_put(p, h1, 3);
	blk_persist_put(p, h2, 3);
	blk_persist_get_stats(p, &st);
	assert_int_equal(st.hits, 1);
	assert_int_equal(st.misses, 1);
	assert_int_equal(st.entries, 1);
	assert_int_equal(st.in_use, 0);
	/* Still mapped while idle. */
	assert_int_equal(fake_pages_mapped(x->f), 1);
	blk_persist_destroy(p);
}

static void test_lru_eviction(void **state)
{
	struct fx *x = *state;
	struct blk_persist *p;
	struct blk_persist_stats st;
	uint32_t h;
	void *a;
	unsigned int i;
	uint64_t calls;

	assert_int_equal(blk_persist_create(x->gnt, FAKE_GUEST, 4, &p), 0);
	for (i = 0; i < 4; i++) {
		assert_int_equal(blk_persist_get(p, x->ref[i], 10 + i, &a, &h), 0);
		blk_persist_put(p, h, 10 + i);
	}
	/* Touch ref0 so ref1 becomes least recently used. */
	assert_int_equal(blk_persist_get(p, x->ref[0], 20, &a, &h), 0);
	blk_persist_put(p, h, 20);
	assert_int_equal(blk_persist_get(p, x->ref[5], 21, &a, &h), 0);
	blk_persist_put(p, h, 21);
	assert_int_equal(fake_pages_mapped(x->f), 4);
	blk_persist_get_stats(p, &st);
	assert_int_equal(st.evictions, 1);

	/* ref0, ref2, ref3, ref5 are cached (hits); ref1 was evicted. */
	calls = fake_map_calls(x->f);
	assert_int_equal(blk_persist_get(p, x->ref[0], 22, &a, &h), 0);
	blk_persist_put(p, h, 22);
	assert_int_equal(blk_persist_get(p, x->ref[2], 22, &a, &h), 0);
	blk_persist_put(p, h, 22);
	assert_int_equal(blk_persist_get(p, x->ref[5], 22, &a, &h), 0);
	blk_persist_put(p, h, 22);
	assert_int_equal(fake_map_calls(x->f), calls);
	assert_int_equal(blk_persist_get(p, x->ref[1], 23, &a, &h), 0);
	blk_persist_put(p, h, 23);
	assert_int_equal(fake_map_calls(x->f), calls + 1);
	blk_persist_destroy(p);
}

static void test_full_of_busy(void **state)
{
	struct fx *x = *state;
	struct blk_persist *p;
	struct blk_persist_stats st;
	uint32_t h[3], hx;
	void *a;
	unsigned int i;

	assert_int_equal(blk_persist_create(x->gnt, FAKE_GUEST, 3, &p), 0);
	for (i = 0; i < 3; i++)
		assert_int_equal(blk_persist_get(p, x->ref[i], 1, &a, &h[i]), 0);
	assert_int_equal(blk_persist_get(p, x->ref[9], 1, &a, &hx), -ENOSPC);
	assert_int_equal(fake_pages_mapped(x->f), 3);
	blk_persist_get_stats(p, &st);
	assert_int_equal(st.full, 1);
	assert_int_equal(st.in_use, 3);
	/* One released: the next miss evicts it. */
	blk_persist_put(p, h[1], 2);
	assert_int_equal(blk_persist_get(p, x->ref[9], 3, &a, &hx), 0);
	assert_int_equal(fake_pages_mapped(x->f), 3);
	blk_persist_put(p, hx, 3);
	blk_persist_put(p, h[0], 3);
	blk_persist_put(p, h[2], 3);
	/* A bogus handle is ignored. */
	blk_persist_put(p, 12345, 3);
	blk_persist_put(p, h[1], 3);
	blk_persist_destroy(p);
}

static void test_map_errors(void **state)
{
	struct fx *x = *state;
	struct blk_persist *p;
	struct blk_persist_stats st;
	grant_ref_t ro = fake_grant(x->f, 12, true);
	grant_ref_t foreign = fake_grant_to(x->f, 13, 42, false);
	uint32_t h;
	void *a;

	assert_int_equal(blk_persist_create(x->gnt, FAKE_GUEST, 4, &p), 0);
	fake_revoke(x->f, x->ref[4]);
	assert_int_equal(blk_persist_get(p, x->ref[4], 1, &a, &h), -EINVAL);
	assert_int_equal(blk_persist_get(p, 7777, 1, &a, &h), -EINVAL);
	assert_int_equal(blk_persist_get(p, ro, 1, &a, &h), -EINVAL);
	assert_int_equal(blk_persist_get(p, foreign, 1, &a, &h), -EINVAL);
	blk_persist_get_stats(p, &st);
	assert_int_equal(st.map_errors, 4);
	assert_int_equal(st.entries, 0);
	assert_int_equal(fake_pages_mapped(x->f), 0);
	blk_persist_destroy(p);
}

static void test_idle_purge(void **state)
{
	struct fx *x = *state;
	struct blk_persist *p;
	struct blk_persist_stats st;
	uint32_t h, hbusy;
	void *a;

	assert_int_equal(blk_persist_create(x->gnt, FAKE_GUEST, 8, &p), 0);
	assert_int_equal(blk_persist_get(p, x->ref[0], 100, &a, &h), 0);
	blk_persist_put(p, h, 100);
	assert_int_equal(blk_persist_get(p, x->ref[1], 200, &a, &h), 0);
	blk_persist_put(p, h, 200);
	/* In use: never purged, however old. */
	assert_int_equal(blk_persist_get(p, x->ref[2], 50, &a, &hbusy), 0);
	assert_int_equal(blk_persist_purge(p, 1000, 850), 1);
	assert_int_equal(fake_pages_mapped(x->f), 2);
	assert_int_equal(blk_persist_purge(p, 1000, 850), 0);
	assert_int_equal(blk_persist_purge(p, 100, 850), 0);  /* clock < idle */
	assert_int_equal(blk_persist_purge(p, 5000, 850), 1);
	blk_persist_get_stats(p, &st);
	assert_int_equal(st.purged, 2);
	assert_int_equal(st.entries, 1);
	blk_persist_put(p, hbusy, 5000);
	assert_int_equal(blk_persist_purge(p, 10000, 850), 1);
	assert_int_equal(fake_pages_mapped(x->f), 0);
	blk_persist_destroy(p);
}

static void test_destroy_unmaps_busy(void **state)
{
	struct fx *x = *state;
	struct blk_persist *p;
	uint32_t h;
	void *a;
	unsigned int i;

	assert_int_equal(blk_persist_create(x->gnt, FAKE_GUEST, 16, &p), 0);
	for (i = 0; i < 10; i++)
		assert_int_equal(blk_persist_get(p, x->ref[i], 1, &a, &h), 0);
	assert_int_equal(fake_pages_mapped(x->f), 10);
	blk_persist_destroy(p);
	assert_int_equal(fake_pages_mapped(x->f), 0);
	assert_int_equal(blk_persist_create(x->gnt, FAKE_GUEST, 0, &p), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_hit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lru_eviction, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_of_busy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_map_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idle_purge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_destroy_unmaps_busy, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
