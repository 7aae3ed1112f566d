/* SPDX-License-Identifier: MIT */
/*
 * Grant tables under xensim: the "sim" provider against guests made with
 * the guest library, checking Xen's rules one by one.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "uback/hv.h"
#include "xensim/guest.h"
#include "sim_harness.h"

struct fx {
	struct sim_harness h;
	struct xg_sim *sim;
	struct xb_hv *hv;
	struct xb_gnt *gnt;
	struct xg_dom *dom;         /* a fresh guest per test */
};

static int group_setup(void **state)
{
	static struct fx fx;
	struct xb_hv_config cfg = { .provider = "sim" };

	if (sim_harness_start(&fx.h))
		return -1;
	if (xg_sim_connect(NULL, &fx.sim))
		return -1;
	cfg.sim_dir = fx.h.dir;
	if (xb_hv_open(&cfg, &fx.hv))
		return -1;
	if (xb_gnt_open(fx.hv, &fx.gnt))
		return -1;
	*state = &fx;
	return 0;
}

static int group_teardown(void **state)
{
	struct fx *fx = *state;

	xb_gnt_close(fx->gnt);
	xb_hv_close(fx->hv);
	xg_sim_disconnect(fx->sim);
	return sim_harness_stop(&fx->h) ? -1 : 0;
}

static int setup(void **state)
{
	struct fx *fx = *state;
	struct xg_dom_config cfg = { .mem_pages = 64, .nr_grants = 64 };

	return xg_dom_create(fx->sim, &cfg, &fx->dom) ? -1 : 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	if (fx->dom)
		xg_dom_destroy(fx->dom);
	fx->dom = NULL;
	return 0;
}

/* Allocate a guest page filled with @seed and grant it to dom0. */
static grant_ref_t grant_page(struct xg_dom *dom, uint8_t seed, bool ro,
			      xen_pfn_t *gfn_out)
{
	xen_pfn_t gfn;
	grant_ref_t ref;
	uint8_t *p;
	unsigned int i;

	assert_int_equal(xg_pages_alloc(dom, 1, &gfn), 0);
	p = xg_page_ptr(dom, gfn);
	assert_non_null(p);
	for (i = 0; i < XB_PAGE_SIZE; i++)
		p[i] = (uint8_t)(seed + i * 7);
	assert_int_equal(xg_grant_access(dom, 0, gfn, ro, &ref), 0);
	if (gfn_out)
		*gfn_out = gfn;
	return ref;
}

static uint16_t flags_of(struct xg_dom *dom, grant_ref_t ref)
{
	uint16_t flags;

	assert_int_equal(xg_grant_get_raw(dom, ref, &flags, NULL, NULL), 0);
	return flags;
}

static void check_pattern(const uint8_t *p, uint8_t seed)
{
	unsigned int i;

	for (i = 0; i < XB_PAGE_SIZE; i++)
		if (p[i] != (uint8_t)(seed + i * 7))
			fail_msg("byte %u: %u != %u", i, p[i],
				 (uint8_t)(seed + i * 7));
}

static void test_map_rw(void **state)
{
	struct fx *fx = *state;
	domid_t id = xg_dom_id(fx->dom);
	xen_pfn_t gfn;
	grant_ref_t ref = grant_page(fx->dom, 3, false, &gfn);
	uint8_t *p;
	void *addr;

	assert_int_equal(xb_gnt_map(fx->gnt, id, 1, &ref, false, &addr), 0);
	p = addr;
	check_pattern(p, 3);
	assert_int_equal(flags_of(fx->dom, ref),
			 GTF_permit_access | GTF_reading | GTF_writing);
	p[100] = 0xab;
	assert_int_equal(((uint8_t *)xg_page_ptr(fx->dom, gfn))[100], 0xab);
	assert_int_equal(xb_gnt_unmap(fx->gnt, addr, 1), 0);
	assert_int_equal(flags_of(fx->dom, ref), GTF_permit_access);
	assert_int_equal(xg_grant_end(fx->dom, ref), 0);
	assert_int_equal(flags_of(fx->dom, ref), 0);
}

static void test_map_ro(void **state)
{
	struct fx *fx = *state;
	domid_t id = xg_dom_id(fx->dom);
	grant_ref_t ref = grant_page(fx->dom, 9, true, NULL);
	void *addr;

	/* A read-only grant cannot be mapped writable... */
	assert_int_equal(xb_gnt_map(fx->gnt, id, 1, &ref, false, &addr),
			 -EINVAL);
	assert_int_equal(flags_of(fx->dom, ref),
			 GTF_permit_access | GTF_readonly);
	/* ...but can be mapped read-only, which sets only GTF_reading. */
	assert_int_equal(xb_gnt_map(fx->gnt, id, 1, &ref, true, &addr), 0);
	check_pattern(addr, 9);
	assert_int_equal(flags_of(fx->dom, ref),
			 GTF_permit_access | GTF_readonly | GTF_reading);
	assert_int_equal(xb_gnt_unmap(fx->gnt, addr, 1), 0);
	assert_int_equal(flags_of(fx->dom, ref),
			 GTF_permit_access | GTF_readonly);
}

static void test_two_maps_pin(void **state)
{
	struct fx *fx = *state;
	domid_t id = xg_dom_id(fx->dom);
	grant_ref_t ref = grant_page(fx->dom, 1, false, NULL);
	void *a, *b, *c;

	assert_int_equal(xb_gnt_map(fx->gnt, id, 1, &ref, false, &a), 0);
	assert_int_equal(xb_gnt_map(fx->gnt, id, 1, &ref, false, &b), 0);
	assert_int_equal(xb_gnt_map(fx->gnt, id, 1, &ref, true, &c), 0);
	assert_int_equal(xb_gnt_unmap(fx->gnt, a, 1), 0);
	/* One writable and one read-only map remain. */
	assert_int_equal(flags_of(fx->dom, ref),
			 GTF_permit_access | GTF_reading | GTF_writing);
	assert_int_equal(xg_grant_end(fx->dom, ref), -EBUSY);
	assert_int_equal(xb_gnt_unmap(fx->gnt, b, 1), 0);
	assert_int_equal(flags_of(fx->dom, ref),
			 GTF_permit_access | GTF_reading);
	assert_int_equal(xg_grant_end(fx->dom, ref), -EBUSY);
	assert_int_equal(xb_gnt_unmap(fx->gnt, c, 1), 0);
	assert_int_equal(flags_of(fx->dom, ref), GTF_permit_access);
	assert_int_equal(xg_grant_end(fx->dom, ref), 0);
	/* Unmapping again is an error, not a double unpin. */
	assert_int_equal(xb_gnt_unmap(fx->gnt, c, 1), -EINVAL);
}

static void test_foreign_ref(void **state)
{
	struct fx *fx = *state;
	domid_t id = xg_dom_id(fx->dom);
	xen_pfn_t gfn;
	grant_ref_t ref;
	struct xb_gcopy_seg seg = { 0 };
	char buf[16];
	void *addr;

	assert_int_equal(xg_pages_alloc(fx->dom, 1, &gfn), 0);
	assert_int_equal(xg_grant_access(fx->dom, 7, gfn, false, &ref), 0);
	assert_int_equal(xb_gnt_map(fx->gnt, id, 1, &ref, false, &addr),
			 -EINVAL);
	assert_int_equal(xb_gnt_map(fx->gnt, id, 1, &ref, true, &addr),
			 -EINVAL);
	seg.source.foreign.ref = ref;
	seg.source.foreign.domid = id;
	seg.dest.virt = buf;
	seg.len = sizeof(buf);
	seg.flags = GNTCOPY_source_gref;
	assert_int_equal(xb_gnt_copy(fx->gnt, 1, &seg), 0);
	assert_int_equal(seg.status, GNTST_permission_denied);
	assert_int_equal(flags_of(fx->dom, ref), GTF_permit_access);
}

static void test_bad_ref(void **state)
{
	struct fx *fx = *state;
	domid_t id = xg_dom_id(fx->dom);
	grant_ref_t ref = xg_grant_count(fx->dom);
	struct xb_gcopy_seg seg = { 0 };
	char buf[16];
	void *addr;

	assert_int_equal(xb_gnt_map(fx->gnt, id, 1, &ref, true, &addr),
			 -EINVAL);
	ref = UINT32_MAX;
	assert_int_equal(xb_gnt_map(fx->gnt, id, 1, &ref, true, &addr),
			 -EINVAL);
	seg.source.foreign.ref = xg_grant_count(fx->dom);
	seg.source.foreign.domid = id;
	seg.dest.virt = buf;
	seg.len = sizeof(buf);
	seg.flags = GNTCOPY_source_gref;
	assert_int_equal(xb_gnt_copy(fx->gnt, 1, &seg), 0);
	assert_int_equal(seg.status, GNTST_bad_gntref);
	/* A never-granted ref in range. */
	ref = 20;
	assert_int_equal(xb_gnt_map(fx->gnt, id, 1, &ref, true, &addr),
			 -EINVAL);
}

static void test_revoked(void **state)
{
	struct fx *fx = *state;
	domid_t id = xg_dom_id(fx->dom);
	grant_ref_t ref = grant_page(fx->dom, 5, false, NULL);
	struct xb_gcopy_seg seg = { 0 };
	char buf[16];
	void *addr;

	assert_int_equal(xg_grant_end(fx->dom, ref), 0);
	assert_int_equal(xb_gnt_map(fx->gnt, id, 1, &ref, true, &addr),
			 -EINVAL);
	seg.source.foreign.ref = ref;
	seg.source.foreign.domid = id;
	seg.dest.virt = buf;
	seg.len = sizeof(buf);
	seg.flags = GNTCOPY_source_gref;
	assert_int_equal(xb_gnt_copy(fx->gnt, 1, &seg), 0);
	assert_int_not_equal(seg.status, GNTST_okay);
	assert_int_equal(flags_of(fx->dom, ref), 0);
}

static void test_map_all_or_nothing(void **state)
{
	struct fx *fx = *state;
	domid_t id = xg_dom_id(fx->dom);
	grant_ref_t refs[4];
	xen_pfn_t gfn;
	void *addr = NULL;
	unsigned int i;

	for (i = 0; i < 4; i++)
		refs[i] = grant_page(fx->dom, (uint8_t)i, false, NULL);
	assert_int_equal(xg_pages_alloc(fx->dom, 1, &gfn), 0);
	/* Third ref granted to someone else. */
	assert_int_equal(xg_grant_end(fx->dom, refs[2]), 0);
	assert_int_equal(xg_grant_access(fx->dom, 9, gfn, false, &refs[2]), 0);
	assert_int_equal(xb_gnt_map(fx->gnt, id, 4, refs, false, &addr),
			 -EINVAL);
	assert_null(addr);
	for (i = 0; i < 4; i++) {
		assert_int_equal(flags_of(fx->dom, refs[i]) &
				 (GTF_reading | GTF_writing), 0);
		assert_int_equal(xg_grant_end(fx->dom, refs[i]), 0);
	}
}

static void test_map_multi(void **state)
{
	struct fx *fx = *state;
	domid_t id = xg_dom_id(fx->dom);
	grant_ref_t refs[4];
	xen_pfn_t gfns[4];
	uint8_t *p;
	void *addr;
	unsigned int i;

	/* Not contiguous in guest memory: refs in reverse page order. */
	for (i = 0; i < 4; i++)
		refs[3 - i] = grant_page(fx->dom, (uint8_t)(40 + 3 - i), false,
					 &gfns[3 - i]);
	assert_int_equal(xb_gnt_map(fx->gnt, id, 4, refs, false, &addr), 0);
	p = addr;
	for (i = 0; i < 4; i++) {
		check_pattern(p + i * XB_PAGE_SIZE, (uint8_t)(40 + i));
		assert_int_equal(flags_of(fx->dom, refs[i]),
				 GTF_permit_access | GTF_reading |
				 GTF_writing);
	}
	p[3 * XB_PAGE_SIZE + 5] = 0x5a;
	assert_int_equal(((uint8_t *)xg_page_ptr(fx->dom, gfns[3]))[5], 0x5a);
	assert_int_equal(xb_gnt_unmap(fx->gnt, addr, 3), -EINVAL);
	assert_int_equal(xb_gnt_unmap(fx->gnt, addr, 4), 0);
	for (i = 0; i < 4; i++)
		assert_int_equal(xg_grant_end(fx->dom, refs[i]), 0);
}

static void test_end_while_mapped(void **state)
{
	struct fx *fx = *state;
	domid_t id = xg_dom_id(fx->dom);
	grant_ref_t ref = grant_page(fx->dom, 2, true, NULL);
	void *addr;

	assert_int_equal(xb_gnt_map(fx->gnt, id, 1, &ref, true, &addr), 0);
	assert_int_equal(xg_grant_end(fx->dom, ref), -EBUSY);
	check_pattern(addr, 2);
	assert_int_equal(xb_gnt_unmap(fx->gnt, addr, 1), 0);
	assert_int_equal(xg_grant_end(fx->dom, ref), 0);
}

static void test_copy(void **state)
{
	struct fx *fx = *state;
	domid_t id = xg_dom_id(fx->dom);
	xen_pfn_t gfn_rw, gfn_ro;
	grant_ref_t rw = grant_page(fx->dom, 11, false, &gfn_rw);
	grant_ref_t ro = grant_page(fx->dom, 12, true, &gfn_ro);
	struct xb_gcopy_seg segs[5];
	uint8_t buf[XB_PAGE_SIZE], out[64];
	uint8_t *g;

	memset(segs, 0, sizeof(segs));
	/* 0: whole read-only page into buf. */
	segs[0].source.foreign.ref = ro;
	segs[0].source.foreign.domid = id;
	segs[0].dest.virt = buf;
	segs[0].len = XB_PAGE_SIZE;
	segs[0].flags = GNTCOPY_source_gref;
	/* 1: 64 bytes into the writable page at offset 4000. */
	memset(out, 0xee, sizeof(out));
	segs[1].source.virt = out;
	segs[1].dest.foreign.ref = rw;
	segs[1].dest.foreign.domid = id;
	segs[1].dest.foreign.offset = 4000;
	segs[1].len = 64;
	segs[1].flags = GNTCOPY_dest_gref;
	/* 2: crossing the page end. */
	segs[2] = segs[1];
	segs[2].dest.foreign.offset = 4033;
	/* 3: into the read-only grant. */
	segs[3] = segs[1];
	segs[3].dest.foreign.ref = ro;
	/* 4: grant to grant, ro page offset 0 -> rw page offset 8. */
	segs[4].source.foreign.ref = ro;
	segs[4].source.foreign.domid = id;
	segs[4].dest.foreign.ref = rw;
	segs[4].dest.foreign.domid = id;
	segs[4].dest.foreign.offset = 8;
	segs[4].len = 16;
	segs[4].flags = GNTCOPY_source_gref | GNTCOPY_dest_gref;

	assert_int_equal(xb_gnt_copy(fx->gnt, 5, segs), 0);
	assert_int_equal(segs[0].status, GNTST_okay);
	check_pattern(buf, 12);
	assert_int_equal(segs[1].status, GNTST_okay);
	g = xg_page_ptr(fx->dom, gfn_rw);
	assert_memory_equal(g + 4000, out, 64);
	assert_int_equal(segs[2].status, GNTST_bad_copy_arg);
	assert_int_equal(segs[3].status, GNTST_permission_denied);
	check_pattern(xg_page_ptr(fx->dom, gfn_ro), 12);
	assert_int_equal(segs[4].status, GNTST_okay);
	assert_memory_equal(g + 8, xg_page_ptr(fx->dom, gfn_ro), 16);
	/* Copies pin only while they run. */
	assert_int_equal(flags_of(fx->dom, rw), GTF_permit_access);
	assert_int_equal(flags_of(fx->dom, ro),
			 GTF_permit_access | GTF_readonly);
	assert_int_equal(xg_grant_end(fx->dom, rw), 0);
	assert_int_equal(xg_grant_end(fx->dom, ro), 0);
}

static void test_bad_frame(void **state)
{
	struct fx *fx = *state;
	domid_t id = xg_dom_id(fx->dom);
	struct xb_gcopy_seg seg = { 0 };
	grant_ref_t ref = 30;
	char buf[8];
	void *addr;

	/* A hostile guest grants a frame beyond its memory. */
	assert_int_equal(xg_grant_set_raw(fx->dom, ref, GTF_permit_access, 0,
					  1u << 30), 0);
	assert_int_equal(xb_gnt_map(fx->gnt, id, 1, &ref, false, &addr),
			 -EINVAL);
	seg.source.foreign.ref = ref;
	seg.source.foreign.domid = id;
	seg.dest.virt = buf;
	seg.len = sizeof(buf);
	seg.flags = GNTCOPY_source_gref;
	assert_int_equal(xb_gnt_copy(fx->gnt, 1, &seg), 0);
	assert_int_equal(seg.status, GNTST_bad_page);
	assert_int_equal(flags_of(fx->dom, ref), GTF_permit_access);
}

static void test_same_frame_two_refs(void **state)
{
	struct fx *fx = *state;
	domid_t id = xg_dom_id(fx->dom);
	xen_pfn_t gfn;
	grant_ref_t r1 = grant_page(fx->dom, 21, false, &gfn), r2;
	void *a1, *a2;

	assert_int_equal(xg_grant_access(fx->dom, 0, gfn, false, &r2), 0);
	assert_int_equal(xb_gnt_map(fx->gnt, id, 1, &r1, false, &a1), 0);
	assert_int_equal(xb_gnt_map(fx->gnt, id, 1, &r2, false, &a2), 0);
	check_pattern(a1, 21);
	check_pattern(a2, 21);
	assert_int_equal(xb_gnt_unmap(fx->gnt, a2, 1), 0);
	/* r2's pin went, r1's stayed. */
	assert_int_equal(xg_grant_end(fx->dom, r2), 0);
	assert_int_equal(xg_grant_end(fx->dom, r1), -EBUSY);
	assert_int_equal(xb_gnt_unmap(fx->gnt, a1, 1), 0);
	assert_int_equal(xg_grant_end(fx->dom, r1), 0);
}

static void test_unknown_domain(void **state)
{
	struct fx *fx = *state;
	struct xb_gcopy_seg seg = { 0 };
	grant_ref_t ref = 8;
	char buf[8];
	void *addr;

	assert_int_equal(xb_gnt_map(fx->gnt, 4321, 1, &ref, false, &addr),
			 -ESRCH);
	seg.source.foreign.ref = ref;
	seg.source.foreign.domid = 4321;
	seg.dest.virt = buf;
	seg.len = sizeof(buf);
	seg.flags = GNTCOPY_source_gref;
	assert_int_equal(xb_gnt_copy(fx->gnt, 1, &seg), 0);
	assert_int_equal(seg.status, GNTST_bad_domain);
}

static void test_destroy_while_mapped(void **state)
{
	struct fx *fx = *state;
	domid_t id = xg_dom_id(fx->dom);
	grant_ref_t ref = grant_page(fx->dom, 77, false, NULL);
	grant_ref_t refs[2] = { ref, grant_page(fx->dom, 78, false, NULL) };
	struct xb_gcopy_seg seg = { 0 };
	uint8_t *p, *q;
	void *addr, *multi;
	char buf[8];

	assert_int_equal(xb_gnt_map(fx->gnt, id, 1, &ref, false, &addr), 0);
	assert_int_equal(xb_gnt_map(fx->gnt, id, 2, refs, false, &multi), 0);
	assert_int_equal(xg_dom_destroy(fx->dom), 0);
	fx->dom = NULL;
	/* The mappings stay valid, readable and writable. */
	p = addr;
	q = multi;
	check_pattern(p, 77);
	check_pattern(q + XB_PAGE_SIZE, 78);
	p[1] = 1;
	q[2] = 2;
	/* New maps and copies of the dead domain fail. */
	assert_int_equal(xb_gnt_map(fx->gnt, id, 1, &ref, false, &addr),
			 -ESRCH);
	seg.source.foreign.ref = ref;
	seg.source.foreign.domid = id;
	seg.dest.virt = buf;
	seg.len = sizeof(buf);
	seg.flags = GNTCOPY_source_gref;
	assert_int_equal(xb_gnt_copy(fx->gnt, 1, &seg), 0);
	assert_int_equal(seg.status, GNTST_bad_domain);
	assert_int_equal(xb_gnt_unmap(fx->gnt, p, 1), 0);
	assert_int_equal(xb_gnt_unmap(fx->gnt, multi, 2), 0);
}

static void test_two_guests_isolated(void **state)
{
	struct fx *fx = *state;
	struct xg_dom_config cfg = { .mem_pages = 16, .nr_grants = 64 };
	struct xg_dom *b;
	grant_ref_t ref = grant_page(fx->dom, 61, false, NULL), rb;
	struct xb_gcopy_seg seg = { 0 };
	char buf[8];
	void *addr;

	assert_int_equal(xg_dom_create(fx->sim, &cfg, &b), 0);
	assert_int_not_equal(xg_dom_id(b), xg_dom_id(fx->dom));
	/* Same ref number in B is not granted: B's id with A's ref fails. */
	assert_int_equal(xb_gnt_map(fx->gnt, xg_dom_id(b), 1, &ref, false,
				    &addr), -EINVAL);
	seg.source.foreign.ref = ref;
	seg.source.foreign.domid = xg_dom_id(b);
	seg.dest.virt = buf;
	seg.len = sizeof(buf);
	seg.flags = GNTCOPY_source_gref;
	assert_int_equal(xb_gnt_copy(fx->gnt, 1, &seg), 0);
	assert_int_not_equal(seg.status, GNTST_okay);
	/* B's own grant maps B's memory, not A's. */
	rb = grant_page(b, 62, false, NULL);
	assert_int_equal(xb_gnt_map(fx->gnt, xg_dom_id(b), 1, &rb, false,
				    &addr), 0);
	check_pattern(addr, 62);
	assert_int_equal(xb_gnt_unmap(fx->gnt, addr, 1), 0);
	assert_int_equal(xg_dom_destroy(b), 0);
}

static void test_hostile_rewrite_while_mapped(void **state)
{
	struct fx *fx = *state;
	domid_t id = xg_dom_id(fx->dom);
	xen_pfn_t gfn;
	grant_ref_t ref = grant_page(fx->dom, 90, false, &gfn);
	void *a, *b;

	assert_int_equal(xb_gnt_map(fx->gnt, id, 1, &ref, true, &a), 0);
	/* The guest points the entry elsewhere behind our back: the pinned
	 * frame is kept for maps while pinned. */
	assert_int_equal(xg_grant_set_raw(fx->dom, ref, GTF_permit_access |
					  GTF_reading, 0, 63), 0);
	assert_int_equal(xb_gnt_map(fx->gnt, id, 1, &ref, true, &b), 0);
	assert_ptr_equal(a, b);
	check_pattern(b, 90);
	assert_int_equal(xb_gnt_unmap(fx->gnt, b, 1), 0);
	/* The guest clears the entry entirely: new maps fail, unmap works. */
	assert_int_equal(xg_grant_set_raw(fx->dom, ref, 0, 0, 0), 0);
	assert_int_equal(xb_gnt_map(fx->gnt, id, 1, &ref, true, &b), -EINVAL);
	assert_int_equal(xb_gnt_unmap(fx->gnt, a, 1), 0);
	assert_int_equal(flags_of(fx->dom, ref), 0);
}

/* A mapper thread and a revoking guest race: a successful map must always
 * find the entry still granted and marked in use, and after the guest's
 * grant_end succeeds no map may succeed. */
struct race {
	struct fx *fx;
	grant_ref_t ref;
	domid_t id;
	bool revoked;               /* set by the guest after grant_end */
	int maps_ok, maps_after_revoke, bad_flags;
};

static void *race_mapper(void *arg)
{
	struct race *r = arg;
	struct xb_gnt *g;
	int i;

	if (xb_gnt_open(r->fx->hv, &g))
		return NULL;
	for (i = 0; i < 20000; i++) {
		bool revoked = __atomic_load_n(&r->revoked, __ATOMIC_ACQUIRE);
		void *a;
		uint16_t flags;

		if (xb_gnt_map(g, r->id, 1, &r->ref, i & 1, &a))
			continue;
		__atomic_fetch_add(&r->maps_ok, 1, __ATOMIC_RELEASE);
		if (revoked)
			__atomic_fetch_add(&r->maps_after_revoke, 1,
					   __ATOMIC_RELAXED);
		xg_grant_get_raw(r->fx->dom, r->ref, &flags, NULL, NULL);
		if (!(flags & GTF_permit_access) || !(flags & GTF_reading))
			__atomic_fetch_add(&r->bad_flags, 1, __ATOMIC_RELAXED);
		xb_gnt_unmap(g, a, 1);
	}
	xb_gnt_close(g);
	return NULL;
}

static void test_race_map_vs_end(void **state)
{
	struct fx *fx = *state;
	struct race r = { .fx = fx, .id = xg_dom_id(fx->dom) };
	pthread_t t[2];
	int i, ended = -1;

	r.ref = grant_page(fx->dom, 33, false, NULL);
	assert_int_equal(pthread_create(&t[0], NULL, race_mapper, &r), 0);
	assert_int_equal(pthread_create(&t[1], NULL, race_mapper, &r), 0);
	/* Let the mappers get going, then try to revoke (bounded). */
	for (i = 0; i < 1000000 &&
	     __atomic_load_n(&r.maps_ok, __ATOMIC_ACQUIRE) < 100; i++)
		sched_yield();
	for (i = 0; i < 2000000 && ended; i++) {
		ended = xg_grant_end(fx->dom, r.ref);
		assert_true(ended == 0 || ended == -EBUSY);
	}
	if (ended == 0)
		__atomic_store_n(&r.revoked, true, __ATOMIC_RELEASE);
	pthread_join(t[0], NULL);
	pthread_join(t[1], NULL);
	assert_int_equal(r.bad_flags, 0);
	assert_int_equal(r.maps_after_revoke, 0);
	assert_true(r.maps_ok > 0);
	/* Whatever happened, nothing is left pinned. */
	assert_int_equal(flags_of(fx->dom, r.ref) &
			 (GTF_reading | GTF_writing), 0);
	if (ended)
		assert_int_equal(xg_grant_end(fx->dom, r.ref), 0);
}

/* Consecutive frames map without a system call (a pointer into the
 * whole-memory mapping); a second identical map gets its own area; both
 * see and make the same writes; each unmap releases only its pins. */
static void test_map_contiguous_twice(void **state)
{
	struct fx *fx = *state;
	domid_t id = xg_dom_id(fx->dom);
	grant_ref_t refs[3];
	xen_pfn_t gfns[3];
	uint8_t *a, *b;
	void *va, *vb;
	unsigned int i;

	assert_int_equal(xg_pages_alloc(fx->dom, 3, gfns), 0);
	for (i = 0; i < 3; i++) {
		assert_int_equal(gfns[i], gfns[0] + i);
		memset(xg_page_ptr(fx->dom, gfns[i]), 0x30 + i, XB_PAGE_SIZE);
		assert_int_equal(xg_grant_access(fx->dom, 0, gfns[i], false,
						 &refs[i]), 0);
	}
	assert_int_equal(xb_gnt_map(fx->gnt, id, 3, refs, false, &va), 0);
	assert_int_equal(xb_gnt_map(fx->gnt, id, 3, refs, false, &vb), 0);
	assert_ptr_not_equal(va, vb);
	a = va;
	b = vb;
	for (i = 0; i < 3; i++) {
		assert_int_equal(a[i * XB_PAGE_SIZE + 9], 0x30 + i);
		assert_int_equal(b[i * XB_PAGE_SIZE + 9], 0x30 + i);
	}
	a[2 * XB_PAGE_SIZE + 1] = 0x77;
	assert_int_equal(b[2 * XB_PAGE_SIZE + 1], 0x77);
	assert_int_equal(((uint8_t *)xg_page_ptr(fx->dom, gfns[2]))[1], 0x77);
	assert_int_equal(xb_gnt_unmap(fx->gnt, va, 3), 0);
	/* Still mapped once: the guest cannot end access yet. */
	assert_int_equal(xg_grant_end(fx->dom, refs[1]), -EBUSY);
	assert_int_equal(b[XB_PAGE_SIZE], 0x31);
	assert_int_equal(xb_gnt_unmap(fx->gnt, vb, 3), 0);
	assert_int_equal(xb_gnt_unmap(fx->gnt, vb, 3), -EINVAL);
	for (i = 0; i < 3; i++)
		assert_int_equal(xg_grant_end(fx->dom, refs[i]), 0);
}

static void test_map_many_pages(void **state)
{
	struct fx *fx = *state;
	domid_t id = xg_dom_id(fx->dom);
	grant_ref_t refs[20];
	uint8_t *p;
	void *addr;
	unsigned int i;

	for (i = 0; i < 20; i++)
		refs[i] = grant_page(fx->dom, (uint8_t)(100 + i), true, NULL);
	assert_int_equal(xb_gnt_map(fx->gnt, id, 20, refs, true, &addr), 0);
	/* The caller's array is not needed after the call. */
	memset(refs, 0xff, sizeof(refs));
	p = addr;
	for (i = 0; i < 20; i++)
		check_pattern(p + i * XB_PAGE_SIZE, (uint8_t)(100 + i));
	assert_int_equal(xb_gnt_unmap(fx->gnt, addr, 20), 0);
	for (i = 8; i < 28; i++)
		assert_int_equal(flags_of(fx->dom, i),
				 GTF_permit_access | GTF_readonly);
}

/*
 * Regression: a backend killed with grants mapped left its pins behind, so
 * the guest could never end those grants. Its pins must go when the daemon
 * sees its control connection close, and only its pins.
 */
enum { KILL_RW, KILL_RO, KILL_MRW0, KILL_MRW1, KILL_MRW2, KILL_MRO0,
       KILL_MRO1, KILL_SHARED, KILL_NREFS };

/* The doomed backend: map, report, wait for SIGKILL. Never returns. */
static void pins_child(const char *dir, domid_t id, const grant_ref_t *r,
		       int wfd)
{
	struct xb_hv_config cfg = { .provider = "sim", .sim_dir = dir };
	struct xb_hv *hv;
	struct xb_gnt *g;
	void *a;
	char ok = 1;

	if (xb_hv_open(&cfg, &hv) || xb_gnt_open(hv, &g) ||
	    xb_gnt_map(g, id, 1, &r[KILL_RW], false, &a) ||
	    xb_gnt_map(g, id, 1, &r[KILL_RO], true, &a) ||
	    xb_gnt_map(g, id, 3, &r[KILL_MRW0], false, &a) ||
	    xb_gnt_map(g, id, 2, &r[KILL_MRO0], true, &a) ||
	    xb_gnt_map(g, id, 1, &r[KILL_SHARED], false, &a) ||
	    xb_gnt_map(g, id, 1, &r[KILL_SHARED], false, &a))
		ok = 0;
	if (write(wfd, &ok, 1) != 1)
		_exit(1);
	for (;;)
		pause();
}

static void test_killed_backend_pins_released(void **state)
{
	struct fx *fx = *state;
	domid_t id = xg_dom_id(fx->dom);
	grant_ref_t r[KILL_NREFS], own;
	uint16_t rw = GTF_permit_access, ro = GTF_permit_access | GTF_readonly;
	const uint16_t want[KILL_NREFS] = {
		rw, ro, rw, rw, rw, ro, ro, rw,
	};
	struct timespec ts = { .tv_nsec = 10 * 1000 * 1000 };
	void *own_addr, *shared_addr;
	unsigned int i, spins;
	int pfd[2], st;
	pid_t pid;
	char ok = 0;

	for (i = 0; i < KILL_NREFS; i++)
		r[i] = grant_page(fx->dom, (uint8_t)(20 + i),
				  want[i] & GTF_readonly, NULL);
	own = grant_page(fx->dom, 40, false, NULL);
	/* The surviving backend (this process): a writable pin on a ref of
	 * its own, a read-only pin on the one it shares with the child. */
	assert_int_equal(xb_gnt_map(fx->gnt, id, 1, &own, false, &own_addr),
			 0);
	assert_int_equal(xb_gnt_map(fx->gnt, id, 1, &r[KILL_SHARED], true,
				    &shared_addr), 0);

	assert_int_equal(pipe(pfd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(pfd[0]);
		pins_child(fx->h.dir, id, r, pfd[1]);
	}
	close(pfd[1]);
	st = (int)read(pfd[0], &ok, 1);
	close(pfd[0]);
	if (st != 1 || !ok) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		fail_msg("the child backend could not map its grants");
	}
	/* Pinned: the guest cannot end any of them. */
	for (i = 0; i < KILL_NREFS; i++) {
		assert_int_equal(flags_of(fx->dom, r[i]), want[i] |
				 GTF_reading |
				 (want[i] & GTF_readonly ? 0 : GTF_writing));
		assert_int_equal(xg_grant_end(fx->dom, r[i]), -EBUSY);
	}

	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);

	/* The daemon notices the closed connection soon; allow 20 s. */
	for (spins = 0; spins < 2000; spins++) {
		if (flags_of(fx->dom, r[KILL_RW]) == rw &&
		    flags_of(fx->dom, r[KILL_MRO1]) == ro &&
		    flags_of(fx->dom, r[KILL_SHARED]) ==
		    (rw | GTF_reading))
			break;
		nanosleep(&ts, NULL);
	}
	/* The child's pins are gone; ours (shared ref included) stay. */
	for (i = 0; i < KILL_SHARED; i++) {
		assert_int_equal(flags_of(fx->dom, r[i]), want[i]);
		assert_int_equal(xg_grant_end(fx->dom, r[i]), 0);
		assert_int_equal(flags_of(fx->dom, r[i]), 0);
	}
	assert_int_equal(flags_of(fx->dom, r[KILL_SHARED]), rw | GTF_reading);
	assert_int_equal(xg_grant_end(fx->dom, r[KILL_SHARED]), -EBUSY);
	assert_int_equal(flags_of(fx->dom, own),
			 rw | GTF_reading | GTF_writing);
	assert_int_equal(xg_grant_end(fx->dom, own), -EBUSY);

	/* Our own pins were counted right: one unmap each releases them. */
	assert_int_equal(xb_gnt_unmap(fx->gnt, shared_addr, 1), 0);
	assert_int_equal(flags_of(fx->dom, r[KILL_SHARED]), rw);
	assert_int_equal(xg_grant_end(fx->dom, r[KILL_SHARED]), 0);
	assert_int_equal(xb_gnt_unmap(fx->gnt, own_addr, 1), 0);
	assert_int_equal(flags_of(fx->dom, own), rw);
	assert_int_equal(xg_grant_end(fx->dom, own), 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_map_rw),
		T(test_map_ro),
		T(test_two_maps_pin),
		T(test_foreign_ref),
		T(test_bad_ref),
		T(test_revoked),
		T(test_map_all_or_nothing),
		T(test_map_multi),
		T(test_map_contiguous_twice),
		T(test_map_many_pages),
		T(test_end_while_mapped),
		T(test_copy),
		T(test_bad_frame),
		T(test_same_frame_two_refs),
		T(test_unknown_domain),
		T(test_destroy_while_mapped),
		T(test_two_guests_isolated),
		T(test_hostile_rewrite_while_mapped),
		T(test_race_map_vs_end),
		T(test_killed_backend_pins_released),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
