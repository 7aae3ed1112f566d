/* SPDX-License-Identifier: MIT */
/*
 * The "xen" provider (common/hv_xen.c) against mocked Xen libraries: this
 * program links hv_xen.c with the xengnttab_*, xenevtchn_* and xs_open
 * definitions below, never with libxengnttab/libxenevtchn/libxenstore, so
 * it runs without Xen. access() is wrapped at link time (--wrap=access) so
 * the provider's /dev/xen checks can be steered.
 *
 * Checks: arguments reach the library unchanged (domid, count, refs, prot,
 * ports, copy segments), failures come back as -errno with out-parameters
 * untouched, and partial failure behaves as hv.h promises.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include <xenevtchn.h>
#include <xengnttab.h>
#include <xenstore.h>
#include <xentoollog.h>

#include "uback/hv.h"
#include "uback/log.h"

#define FAKE_XGT ((xengnttab_handle *)0x2000)
#define FAKE_XCE ((xenevtchn_handle *)0x3000)
#define FAKE_XS  ((struct xs_handle *)0x4000)
#define FAKE_MAP ((void *)0x7f0000000000ull)

/* Pages currently mapped through the mock gntdev (all-or-nothing check). */
static long mock_mapped_pages;
/* The logger the provider gave the libraries, to exercise it. */
static struct xentoollog_logger *mock_logger;

static bool fail_with(int err)
{
	if (err > 0) {
		errno = err;
		return true;
	}
	return err < 0;   /* fail without setting errno */
}
/* A macro: mock() keys its queue on the calling function's name. */
#define mock_fail() fail_with(mock_type(int))

/* ---- link-time wrap of access() ---------------------------------------- */

int __wrap_access(const char *path, int mode);
int __wrap_access(const char *path, int mode)
{
	check_expected_ptr(path);
	assert_int_equal(mode, F_OK);
	if (mock_fail())
		return -1;
	return 0;
}

/* ---- mocked libxengnttab ----------------------------------------------- */

xengnttab_handle *xengnttab_open(struct xentoollog_logger *logger,
				 unsigned open_flags)
{
	assert_non_null(logger);
	mock_logger = logger;
	check_expected(open_flags);
	if (mock_fail())
		return NULL;
	return FAKE_XGT;
}

int xengnttab_close(xengnttab_handle *xgt)
{
	check_expected_ptr(xgt);
	return 0;
}

void *xengnttab_map_domain_grant_refs(xengnttab_handle *xgt, uint32_t count,
				      uint32_t domid, uint32_t *refs,
				      int prot)
{
	assert_ptr_equal(xgt, FAKE_XGT);
	check_expected(count);
	check_expected(domid);
	check_expected_ptr(refs);
	check_expected(prot);
	/* Like the library: a failure leaves nothing mapped. */
	if (mock_fail())
		return NULL;
	mock_mapped_pages += count;
	return FAKE_MAP;
}

int xengnttab_unmap(xengnttab_handle *xgt, void *start_address,
		    uint32_t count)
{
	assert_ptr_equal(xgt, FAKE_XGT);
	check_expected_ptr(start_address);
	check_expected(count);
	if (mock_fail())
		return -1;
	mock_mapped_pages -= count;
	return 0;
}

/* What the last grant copy calls saw, segment by segment. */
#define MOCK_MAX_SEGS 1024
static xengnttab_grant_copy_segment_t mock_seen[MOCK_MAX_SEGS];
static uint32_t mock_seen_count;
static unsigned int mock_copy_calls;

int xengnttab_grant_copy(xengnttab_handle *xgt, uint32_t count,
			 xengnttab_grant_copy_segment_t *segs)
{
	uint32_t i;

	assert_ptr_equal(xgt, FAKE_XGT);
	check_expected(count);
	mock_copy_calls++;
	if (mock_fail())
		return -1;
	for (i = 0; i < count; i++) {
		assert_true(mock_seen_count < MOCK_MAX_SEGS);
		mock_seen[mock_seen_count] = segs[i];
		/* A per-segment status derived from the global position, so
		 * chunking mistakes show up as wrong statuses. */
		segs[i].status = (int16_t)-(int16_t)(mock_seen_count % 9);
		mock_seen_count++;
	}
	return 0;
}

/* ---- mocked libxenevtchn ----------------------------------------------- */

static int mock_evtchn_fd = -1;

xenevtchn_handle *xenevtchn_open(struct xentoollog_logger *logger,
				 unsigned int flags)
{
	assert_non_null(logger);
	check_expected(flags);
	if (mock_fail())
		return NULL;
	return FAKE_XCE;
}

int xenevtchn_close(xenevtchn_handle *xce)
{
	check_expected_ptr(xce);
	return 0;
}

int xenevtchn_fd(xenevtchn_handle *xce)
{
	assert_ptr_equal(xce, FAKE_XCE);
	return mock_evtchn_fd;
}

xenevtchn_port_or_error_t
xenevtchn_bind_interdomain(xenevtchn_handle *xce, uint32_t domid,
			   evtchn_port_t remote_port)
{
	assert_ptr_equal(xce, FAKE_XCE);
	check_expected(domid);
	check_expected(remote_port);
	if (mock_fail())
		return -1;
	return mock_type(int);
}

int xenevtchn_unbind(xenevtchn_handle *xce, evtchn_port_t port)
{
	assert_ptr_equal(xce, FAKE_XCE);
	check_expected(port);
	return mock_fail() ? -1 : 0;
}

int xenevtchn_notify(xenevtchn_handle *xce, evtchn_port_t port)
{
	assert_ptr_equal(xce, FAKE_XCE);
	check_expected(port);
	return mock_fail() ? -1 : 0;
}

xenevtchn_port_or_error_t xenevtchn_pending(xenevtchn_handle *xce)
{
	assert_ptr_equal(xce, FAKE_XCE);
	if (mock_fail())
		return -1;
	return mock_type(int);
}

int xenevtchn_unmask(xenevtchn_handle *xce, evtchn_port_t port)
{
	assert_ptr_equal(xce, FAKE_XCE);
	check_expected(port);
	return mock_fail() ? -1 : 0;
}

/* ---- mocked libxenstore ------------------------------------------------ */

struct xs_handle *xs_open(unsigned long flags)
{
	check_expected(flags);
	if (mock_fail())
		return NULL;
	return FAKE_XS;
}

/* ---- fixtures ---------------------------------------------------------- */

struct fix {
	struct xb_hv *hv;
	struct xb_gnt *gnt;
	struct xb_evtchn *evt;
	int pipe[2];
};

static void expect_access_ok(void)
{
	expect_string(__wrap_access, path, "/dev/xen/gntdev");
	will_return(__wrap_access, 0);
	expect_string(__wrap_access, path, "/dev/xen/evtchn");
	will_return(__wrap_access, 0);
}

static int setup_hv(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));
	struct xb_hv_config cfg = { .provider = "xen" };

	if (!f)
		return -1;
	f->pipe[0] = f->pipe[1] = -1;
	mock_mapped_pages = 0;
	mock_seen_count = 0;
	mock_copy_calls = 0;
	expect_access_ok();
	if (xb_hv_xen_ops.open(&cfg, &f->hv) != 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown_hv(void **state)
{
	struct fix *f = *state;

	if (f->evt) {
		expect_value(xenevtchn_close, xce, FAKE_XCE);
		xb_evtchn_close(f->evt);
	}
	if (f->gnt) {
		expect_value(xengnttab_close, xgt, FAKE_XGT);
		xb_gnt_close(f->gnt);
	}
	xb_hv_close(f->hv);
	if (f->pipe[0] >= 0)
		close(f->pipe[0]);
	if (f->pipe[1] >= 0)
		close(f->pipe[1]);
	free(f);
	return 0;
}

static int setup_gnt(void **state)
{
	struct fix *f;

	if (setup_hv(state))
		return -1;
	f = *state;
	expect_value(xengnttab_open, open_flags, 0);
	will_return(xengnttab_open, 0);
	return xb_gnt_open(f->hv, &f->gnt) == 0 ? 0 : -1;
}

static int setup_evt(void **state)
{
	struct fix *f;

	if (setup_hv(state))
		return -1;
	f = *state;
	if (pipe(f->pipe))
		return -1;
	mock_evtchn_fd = f->pipe[0];
	expect_value(xenevtchn_open, flags, 0);
	will_return(xenevtchn_open, 0);
	return xb_evtchn_open(f->hv, &f->evt) == 0 ? 0 : -1;
}

/* ---- provider open ----------------------------------------------------- */

static void test_open_ok(void **state)
{
	struct xb_hv_config cfg = { .provider = "xen" };
	struct xb_hv *hv = NULL;

	assert_string_equal(xb_hv_xen_ops.name, "xen");
	expect_access_ok();
	assert_int_equal(xb_hv_xen_ops.open(&cfg, &hv), 0);
	assert_non_null(hv);
	assert_ptr_equal(hv->ops, &xb_hv_xen_ops);
	xb_hv_close(hv);
}

static void test_open_no_gntdev(void **state)
{
	struct xb_hv_config cfg = { .provider = "xen" };
	struct xb_hv *hv = (struct xb_hv *)0x1;

	expect_string(__wrap_access, path, "/dev/xen/gntdev");
	will_return(__wrap_access, ENOENT);
	assert_int_equal(xb_hv_xen_ops.open(&cfg, &hv), -ENOENT);
	assert_ptr_equal(hv, (struct xb_hv *)0x1);
}

static void test_open_no_evtchn(void **state)
{
	struct xb_hv_config cfg = { .provider = "xen" };
	struct xb_hv *hv = (struct xb_hv *)0x1;

	expect_string(__wrap_access, path, "/dev/xen/gntdev");
	will_return(__wrap_access, 0);
	expect_string(__wrap_access, path, "/dev/xen/evtchn");
	will_return(__wrap_access, ENOENT);
	assert_int_equal(xb_hv_xen_ops.open(&cfg, &hv), -ENOENT);
	assert_ptr_equal(hv, (struct xb_hv *)0x1);
}

static void test_ops_complete(void **state)
{
	const struct xb_hv_ops *o = &xb_hv_xen_ops;

	assert_non_null(o->open);
	assert_non_null(o->close);
	assert_non_null(o->gnt_open);
	assert_non_null(o->gnt_close);
	assert_non_null(o->gnt_map);
	assert_non_null(o->gnt_unmap);
	assert_non_null(o->gnt_copy);
	assert_non_null(o->evtchn_open);
	assert_non_null(o->evtchn_close);
	assert_non_null(o->evtchn_fd);
	assert_non_null(o->evtchn_bind);
	assert_non_null(o->evtchn_unbind);
	assert_non_null(o->evtchn_notify);
	assert_non_null(o->evtchn_pending);
	assert_non_null(o->evtchn_unmask);
	assert_non_null(o->xs_open);
}

/* ---- xenstore ---------------------------------------------------------- */

static void test_xs_open(void **state)
{
	struct fix *f = *state;
	struct xs_handle *xs = NULL;

	expect_value(xs_open, flags, 0);
	will_return(xs_open, 0);
	assert_int_equal(xb_hv_xs_open(f->hv, &xs), 0);
	assert_ptr_equal(xs, FAKE_XS);

	xs = NULL;
	expect_value(xs_open, flags, 0);
	will_return(xs_open, ECONNREFUSED);
	assert_int_equal(xb_hv_xs_open(f->hv, &xs), -ECONNREFUSED);
	assert_null(xs);
	expect_value(xs_open, flags, 0);
	will_return(xs_open, -1);
	assert_int_equal(xb_hv_xs_open(f->hv, &xs), -EIO);
	assert_null(xs);
}

/* ---- grant handles ----------------------------------------------------- */

static void test_gnt_open_fails(void **state)
{
	struct fix *f = *state;
	struct xb_gnt *g = (struct xb_gnt *)0x1;

	expect_value(xengnttab_open, open_flags, 0);
	will_return(xengnttab_open, EACCES);
	assert_int_equal(xb_gnt_open(f->hv, &g), -EACCES);
	assert_ptr_equal(g, (struct xb_gnt *)0x1);
}

static void test_gnt_handle_fields(void **state)
{
	struct fix *f = *state;

	assert_ptr_equal(f->gnt->ops, &xb_hv_xen_ops);
	assert_ptr_equal(f->gnt->hv, f->hv);
}

static void expect_map(uint32_t count, uint32_t domid,
		       const grant_ref_t *refs, int prot, int err)
{
	expect_value(xengnttab_map_domain_grant_refs, count, count);
	expect_value(xengnttab_map_domain_grant_refs, domid, domid);
	expect_memory(xengnttab_map_domain_grant_refs, refs, refs,
		      count * sizeof(*refs));
	expect_value(xengnttab_map_domain_grant_refs, prot, prot);
	will_return(xengnttab_map_domain_grant_refs, err);
}

static void test_gnt_map_rw_ro(void **state)
{
	struct fix *f = *state;
	const grant_ref_t refs[4] = { 8, 9, 1000, 0xfffffff0u };
	grant_ref_t copy[4];
	void *addr = NULL;

	memcpy(copy, refs, sizeof(refs));
	expect_map(4, 7, refs, PROT_READ | PROT_WRITE, 0);
	assert_int_equal(xb_gnt_map(f->gnt, 7, 4, copy, false, &addr), 0);
	assert_ptr_equal(addr, FAKE_MAP);
	assert_int_equal(mock_mapped_pages, 4);
	assert_memory_equal(copy, refs, sizeof(refs));   /* refs not written */

	expect_value(xengnttab_unmap, start_address, FAKE_MAP);
	expect_value(xengnttab_unmap, count, 4);
	will_return(xengnttab_unmap, 0);
	assert_int_equal(xb_gnt_unmap(f->gnt, addr, 4), 0);
	assert_int_equal(mock_mapped_pages, 0);

	addr = NULL;
	expect_map(1, DOMID_FIRST_RESERVED - 1, refs, PROT_READ, 0);
	assert_int_equal(xb_gnt_map(f->gnt, DOMID_FIRST_RESERVED - 1, 1, refs,
				    true, &addr), 0);
	assert_ptr_equal(addr, FAKE_MAP);
	expect_value(xengnttab_unmap, start_address, FAKE_MAP);
	expect_value(xengnttab_unmap, count, 1);
	will_return(xengnttab_unmap, 0);
	assert_int_equal(xb_gnt_unmap(f->gnt, addr, 1), 0);
	assert_int_equal(mock_mapped_pages, 0);
}

static void test_gnt_map_failure(void **state)
{
	static const int errs[] = { EINVAL, ESRCH, ENOMEM, EFAULT };
	struct fix *f = *state;
	const grant_ref_t refs[3] = { 10, 11, 12 };
	void *addr = (void *)0x1;
	size_t i;

	for (i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
		expect_map(3, 2, refs, PROT_READ | PROT_WRITE, errs[i]);
		assert_int_equal(xb_gnt_map(f->gnt, 2, 3, refs, false, &addr),
				 -errs[i]);
		/* All-or-nothing: no mapping, no address handed out. */
		assert_ptr_equal(addr, (void *)0x1);
		assert_int_equal(mock_mapped_pages, 0);
	}
	expect_map(3, 2, refs, PROT_READ, -1);
	assert_int_equal(xb_gnt_map(f->gnt, 2, 3, refs, true, &addr), -EIO);
	assert_ptr_equal(addr, (void *)0x1);
}

static void test_gnt_map_zero(void **state)
{
	struct fix *f = *state;
	grant_ref_t ref = 1;
	void *addr = (void *)0x1;

	/* No library call expected. */
	assert_int_equal(xb_gnt_map(f->gnt, 1, 0, &ref, false, &addr),
			 -EINVAL);
	assert_ptr_equal(addr, (void *)0x1);
}

static void test_gnt_unmap_failure(void **state)
{
	struct fix *f = *state;

	expect_value(xengnttab_unmap, start_address, FAKE_MAP);
	expect_value(xengnttab_unmap, count, 2);
	will_return(xengnttab_unmap, EINVAL);
	assert_int_equal(xb_gnt_unmap(f->gnt, FAKE_MAP, 2), -EINVAL);
}

static void test_gnt_copy_translation(void **state)
{
	struct fix *f = *state;
	char local[64];
	struct xb_gcopy_seg segs[3];
	uint32_t i;

	memset(segs, 0xa5, sizeof(segs));
	/* guest -> local */
	segs[0].source.foreign.ref = 100;
	segs[0].source.foreign.offset = 512;
	segs[0].source.foreign.domid = 3;
	segs[0].dest.virt = local;
	segs[0].len = 16;
	segs[0].flags = GNTCOPY_source_gref;
	/* local -> guest */
	segs[1].source.virt = local + 16;
	segs[1].dest.foreign.ref = 200;
	segs[1].dest.foreign.offset = 4000;
	segs[1].dest.foreign.domid = 4;
	segs[1].len = 96;
	segs[1].flags = GNTCOPY_dest_gref;
	/* guest -> guest */
	segs[2].source.foreign.ref = 300;
	segs[2].source.foreign.offset = 0;
	segs[2].source.foreign.domid = 5;
	segs[2].dest.foreign.ref = 301;
	segs[2].dest.foreign.offset = 8;
	segs[2].dest.foreign.domid = 6;
	segs[2].len = 4096 - 8;
	segs[2].flags = GNTCOPY_source_gref | GNTCOPY_dest_gref;

	expect_value(xengnttab_grant_copy, count, 3);
	will_return(xengnttab_grant_copy, 0);
	assert_int_equal(xb_gnt_copy(f->gnt, 3, segs), 0);
	assert_int_equal(mock_seen_count, 3);

	assert_int_equal(mock_seen[0].source.foreign.ref, 100);
	assert_int_equal(mock_seen[0].source.foreign.offset, 512);
	assert_int_equal(mock_seen[0].source.foreign.domid, 3);
	assert_ptr_equal(mock_seen[0].dest.virt, local);
	assert_int_equal(mock_seen[0].len, 16);
	assert_int_equal(mock_seen[0].flags, GNTCOPY_source_gref);

	assert_ptr_equal(mock_seen[1].source.virt, local + 16);
	assert_int_equal(mock_seen[1].dest.foreign.ref, 200);
	assert_int_equal(mock_seen[1].dest.foreign.offset, 4000);
	assert_int_equal(mock_seen[1].dest.foreign.domid, 4);
	assert_int_equal(mock_seen[1].len, 96);
	assert_int_equal(mock_seen[1].flags, GNTCOPY_dest_gref);

	assert_int_equal(mock_seen[2].source.foreign.ref, 300);
	assert_int_equal(mock_seen[2].source.foreign.domid, 5);
	assert_int_equal(mock_seen[2].dest.foreign.ref, 301);
	assert_int_equal(mock_seen[2].dest.foreign.offset, 8);
	assert_int_equal(mock_seen[2].dest.foreign.domid, 6);
	assert_int_equal(mock_seen[2].len, 4096 - 8);
	assert_int_equal(mock_seen[2].flags,
			 GNTCOPY_source_gref | GNTCOPY_dest_gref);

	/* Mixed per-segment statuses come back unchanged: 0, -1, -2. */
	for (i = 0; i < 3; i++)
		assert_int_equal(segs[i].status, -(int)(i % 9));
	assert_int_equal(segs[0].status, GNTST_okay);
	assert_int_equal(segs[1].status, GNTST_general_error);
	assert_int_equal(segs[2].status, GNTST_bad_domain);
}

static void test_gnt_copy_chunks(void **state)
{
	struct fix *f = *state;
	const uint32_t n = 600;
	struct xb_gcopy_seg *segs = calloc(n, sizeof(*segs));
	uint32_t i, done = 0;

	assert_non_null(segs);
	for (i = 0; i < n; i++) {
		segs[i].source.foreign.ref = i;
		segs[i].source.foreign.domid = 1;
		segs[i].dest.virt = &segs[i];
		segs[i].len = 8;
		segs[i].flags = GNTCOPY_source_gref;
		segs[i].status = 123;
	}
	/* Issued in chunks, in order, none larger than the scratch array. */
	while (done < n) {
		uint32_t c = n - done > 256 ? 256 : n - done;

		expect_value(xengnttab_grant_copy, count, c);
		will_return(xengnttab_grant_copy, 0);
		done += c;
	}
	assert_int_equal(xb_gnt_copy(f->gnt, n, segs), 0);
	assert_int_equal(mock_seen_count, n);
	assert_int_equal(mock_copy_calls, 3);
	for (i = 0; i < n; i++) {
		assert_int_equal(mock_seen[i].source.foreign.ref, i);
		assert_ptr_equal(mock_seen[i].dest.virt, &segs[i]);
		assert_int_equal(segs[i].status, -(int)(i % 9));
	}
	free(segs);
}

static void test_gnt_copy_page_crossing(void **state)
{
	struct fix *f = *state;
	const uint32_t n = 300;
	struct xb_gcopy_seg *segs = calloc(n, sizeof(*segs));
	uint32_t i, good = 0, seen = 0;

	assert_non_null(segs);
	for (i = 0; i < n; i++) {
		bool bad = i % 7 == 0;

		segs[i].len = 512;
		segs[i].status = 123;
		if (i % 2) {
			segs[i].source.foreign.ref = i;
			segs[i].source.foreign.offset = bad ? 3585 : 3584;
			segs[i].dest.virt = &segs[i];
			segs[i].flags = GNTCOPY_source_gref;
		} else {
			segs[i].source.virt = &segs[i];
			segs[i].dest.foreign.ref = i;
			segs[i].dest.foreign.offset = bad ? 4095 : 0;
			segs[i].flags = GNTCOPY_dest_gref;
		}
		good += !bad;
	}
	assert_int_equal(good, 257);
	/* 257 good segments: a full chunk, then one. */
	expect_value(xengnttab_grant_copy, count, 256);
	will_return(xengnttab_grant_copy, 0);
	expect_value(xengnttab_grant_copy, count, 1);
	will_return(xengnttab_grant_copy, 0);
	assert_int_equal(xb_gnt_copy(f->gnt, n, segs), 0);
	assert_int_equal(mock_seen_count, good);
	for (i = 0; i < n; i++) {
		if (i % 7 == 0) {
			assert_int_equal(segs[i].status, GNTST_bad_copy_arg);
			continue;
		}
		/* Good ones reach the library in order, statuses mapped
		 * back to their own segment. */
		if (i % 2)
			assert_int_equal(mock_seen[seen].source.foreign.ref, i);
		else
			assert_int_equal(mock_seen[seen].dest.foreign.ref, i);
		assert_int_equal(segs[i].status, -(int)(seen % 9));
		seen++;
	}

	/* Nothing valid: no library call at all. */
	mock_copy_calls = 0;
	for (i = 0; i < 3; i++) {
		segs[i].flags = GNTCOPY_source_gref;
		segs[i].source.foreign.offset = 4000;
		segs[i].len = 97;
	}
	assert_int_equal(xb_gnt_copy(f->gnt, 3, segs), 0);
	assert_int_equal(mock_copy_calls, 0);
	for (i = 0; i < 3; i++)
		assert_int_equal(segs[i].status, GNTST_bad_copy_arg);
	free(segs);
}

static void test_gnt_copy_failure(void **state)
{
	struct fix *f = *state;
	struct xb_gcopy_seg seg = {
		.source.foreign = { .ref = 1, .domid = 1 },
		.len = 4,
		.flags = GNTCOPY_source_gref,
	};
	char buf[4];

	seg.dest.virt = buf;
	expect_value(xengnttab_grant_copy, count, 1);
	will_return(xengnttab_grant_copy, EINVAL);
	assert_int_equal(xb_gnt_copy(f->gnt, 1, &seg), -EINVAL);
	expect_value(xengnttab_grant_copy, count, 1);
	will_return(xengnttab_grant_copy, -1);
	assert_int_equal(xb_gnt_copy(f->gnt, 1, &seg), -EIO);
}

static void test_gnt_copy_zero(void **state)
{
	struct fix *f = *state;

	assert_int_equal(xb_gnt_copy(f->gnt, 0, NULL), 0);
	assert_int_equal(mock_copy_calls, 0);
}

static void call_logger(struct xentoollog_logger *l, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void call_logger(struct xentoollog_logger *l, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	l->vmessage(l, XTL_ERROR, EINVAL, "gnttab", fmt, ap);
	va_end(ap);
}

/* Run fn with stderr sent to a temporary file; return what it wrote. */
static size_t stderr_bytes_during(void (*fn)(void))
{
	FILE *tmp = tmpfile();
	int saved;
	long n;

	assert_non_null(tmp);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	assert_true(saved >= 0);
	assert_true(dup2(fileno(tmp), STDERR_FILENO) >= 0);
	fn();
	fflush(stderr);
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	n = ftell(tmp);
	fclose(tmp);
	assert_true(n >= 0);
	return (size_t)n;
}

static void emit_library_message(void)
{
	call_logger(mock_logger, "mmap failed for %u pages", 3u);
}

static void test_library_logger(void **state)
{
	enum xb_log_level saved = xb_log_get_level();

	assert_non_null(mock_logger);
	assert_non_null(mock_logger->vmessage);
	/* Library messages a guest can provoke: silent by default... */
	xb_log_set_level(XB_LOG_INFO);
	assert_int_equal(stderr_bytes_during(emit_library_message), 0);
	/* ...and visible at debug level. */
	xb_log_set_level(XB_LOG_DEBUG);
	assert_true(stderr_bytes_during(emit_library_message) > 0);
	xb_log_set_level(saved);
	mock_logger->destroy(mock_logger);
}

/* ---- event channels ---------------------------------------------------- */

static void test_evtchn_open_nonblocking(void **state)
{
	struct fix *f = *state;
	int fl;

	assert_int_equal(xb_evtchn_fd(f->evt), f->pipe[0]);
	assert_ptr_equal(f->evt->ops, &xb_hv_xen_ops);
	assert_ptr_equal(f->evt->hv, f->hv);
	fl = fcntl(f->pipe[0], F_GETFL);
	assert_true(fl >= 0);
	assert_true(fl & O_NONBLOCK);
}

static void test_evtchn_open_fails(void **state)
{
	struct fix *f = *state;
	struct xb_evtchn *e = (struct xb_evtchn *)0x1;

	expect_value(xenevtchn_open, flags, 0);
	will_return(xenevtchn_open, ENOENT);
	assert_int_equal(xb_evtchn_open(f->hv, &e), -ENOENT);
	assert_ptr_equal(e, (struct xb_evtchn *)0x1);

	/* A library fd that cannot be made non-blocking: handle released. */
	mock_evtchn_fd = -1;
	expect_value(xenevtchn_open, flags, 0);
	will_return(xenevtchn_open, 0);
	expect_value(xenevtchn_close, xce, FAKE_XCE);
	assert_int_equal(xb_evtchn_open(f->hv, &e), -EBADF);
	assert_ptr_equal(e, (struct xb_evtchn *)0x1);
}

static void test_evtchn_bind(void **state)
{
	struct fix *f = *state;
	evtchn_port_t local = 0;

	expect_value(xenevtchn_bind_interdomain, domid, 9);
	expect_value(xenevtchn_bind_interdomain, remote_port, 33);
	will_return(xenevtchn_bind_interdomain, 0);
	will_return(xenevtchn_bind_interdomain, 61);
	assert_int_equal(xb_evtchn_bind(f->evt, 9, 33, &local), 0);
	assert_int_equal(local, 61);

	local = 5;
	expect_value(xenevtchn_bind_interdomain, domid, 9);
	expect_value(xenevtchn_bind_interdomain, remote_port, 34);
	will_return(xenevtchn_bind_interdomain, EINVAL);
	assert_int_equal(xb_evtchn_bind(f->evt, 9, 34, &local), -EINVAL);
	assert_int_equal(local, 5);
	expect_value(xenevtchn_bind_interdomain, domid, 10);
	expect_value(xenevtchn_bind_interdomain, remote_port, 1);
	will_return(xenevtchn_bind_interdomain, ESRCH);
	assert_int_equal(xb_evtchn_bind(f->evt, 10, 1, &local), -ESRCH);
	assert_int_equal(local, 5);
}

static void test_evtchn_unbind_notify_unmask(void **state)
{
	struct fix *f = *state;

	expect_value(xenevtchn_unbind, port, 61);
	will_return(xenevtchn_unbind, 0);
	assert_int_equal(xb_evtchn_unbind(f->evt, 61), 0);
	expect_value(xenevtchn_unbind, port, 62);
	will_return(xenevtchn_unbind, ENOTCONN);
	assert_int_equal(xb_evtchn_unbind(f->evt, 62), -ENOTCONN);

	expect_value(xenevtchn_notify, port, 61);
	will_return(xenevtchn_notify, 0);
	assert_int_equal(xb_evtchn_notify(f->evt, 61), 0);
	expect_value(xenevtchn_notify, port, 63);
	will_return(xenevtchn_notify, EINVAL);
	assert_int_equal(xb_evtchn_notify(f->evt, 63), -EINVAL);

	expect_value(xenevtchn_unmask, port, 61);
	will_return(xenevtchn_unmask, 0);
	assert_int_equal(xb_evtchn_unmask(f->evt, 61), 0);
	expect_value(xenevtchn_unmask, port, 64);
	will_return(xenevtchn_unmask, EIO);
	assert_int_equal(xb_evtchn_unmask(f->evt, 64), -EIO);
	expect_value(xenevtchn_unmask, port, 65);
	will_return(xenevtchn_unmask, -1);
	assert_int_equal(xb_evtchn_unmask(f->evt, 65), -EIO);
}

static void test_evtchn_pending(void **state)
{
	struct fix *f = *state;
	evtchn_port_t port = 0;

	will_return(xenevtchn_pending, 0);
	will_return(xenevtchn_pending, 61);
	assert_int_equal(xb_evtchn_pending(f->evt, &port), 0);
	assert_int_equal(port, 61);

	port = 7;
	will_return(xenevtchn_pending, EAGAIN);
	assert_int_equal(xb_evtchn_pending(f->evt, &port), -EAGAIN);
	assert_int_equal(port, 7);
	will_return(xenevtchn_pending, EINTR);
	assert_int_equal(xb_evtchn_pending(f->evt, &port), -EINTR);
	assert_int_equal(port, 7);
	will_return(xenevtchn_pending, -1);
	assert_int_equal(xb_evtchn_pending(f->evt, &port), -EIO);
	assert_int_equal(port, 7);
}

/* ---- handle reserve (for the sandbox) -------------------------------- */

static void expect_reserve_opens(unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		expect_value(xengnttab_open, open_flags, 0);
		will_return(xengnttab_open, 0);
		expect_value(xenevtchn_open, flags, 0);
		will_return(xenevtchn_open, 0);
	}
}

static void test_reserve(void **state)
{
	struct fix *f = *state;
	struct xb_gnt *g1, *g2, *g3 = (struct xb_gnt *)0x1;
	struct xb_evtchn *e1, *e2;
	unsigned int i;

	assert_int_equal(pipe(f->pipe), 0);
	mock_evtchn_fd = f->pipe[0];
	expect_reserve_opens(2);
	assert_int_equal(xb_hv_reserve(f->hv, 2), 0);
	/* Handed out from the reserve: the mocks see no open. */
	assert_int_equal(xb_gnt_open(f->hv, &g1), 0);
	assert_int_equal(xb_gnt_open(f->hv, &g2), 0);
	assert_ptr_not_equal(g1, g2);
	/* Reserve empty: a real open, refused as in the sandbox. */
	expect_value(xengnttab_open, open_flags, 0);
	will_return(xengnttab_open, EACCES);
	assert_int_equal(xb_gnt_open(f->hv, &g3), -EACCES);
	assert_ptr_equal(g3, (struct xb_gnt *)0x1);
	/* A close gives the handle back (no xengnttab_close). */
	xb_gnt_close(g1);
	assert_int_equal(xb_gnt_open(f->hv, &g3), 0);
	assert_ptr_equal(g3, g1);
	xb_gnt_close(g2);
	xb_gnt_close(g3);

	assert_int_equal(xb_evtchn_open(f->hv, &e1), 0);
	assert_int_equal(xb_evtchn_open(f->hv, &e2), 0);
	assert_int_equal(xb_evtchn_fd(e1), f->pipe[0]);
	/* Back to the reserve, stale pending ports drained first. */
	will_return(xenevtchn_pending, 0);
	will_return(xenevtchn_pending, 61);
	will_return(xenevtchn_pending, EAGAIN);
	xb_evtchn_close(e1);
	will_return(xenevtchn_pending, EAGAIN);
	xb_evtchn_close(e2);
	assert_int_equal(xb_evtchn_open(f->hv, &e1), 0);
	will_return(xenevtchn_pending, EAGAIN);
	xb_evtchn_close(e1);

	/* The provider closes what the reserve holds. */
	for (i = 0; i < 2; i++) {
		expect_value(xengnttab_close, xgt, FAKE_XGT);
		expect_value(xenevtchn_close, xce, FAKE_XCE);
	}
	xb_hv_close(f->hv);
	f->hv = NULL;
}

static void test_reserve_all_or_nothing(void **state)
{
	struct fix *f = *state;
	struct xb_gnt *g = (struct xb_gnt *)0x1;

	assert_int_equal(pipe(f->pipe), 0);
	mock_evtchn_fd = f->pipe[0];
	expect_reserve_opens(1);
	expect_value(xengnttab_open, open_flags, 0);
	will_return(xengnttab_open, EMFILE);
	/* The pair opened first is closed again. */
	expect_value(xengnttab_close, xgt, FAKE_XGT);
	expect_value(xenevtchn_close, xce, FAKE_XCE);
	assert_int_equal(xb_hv_reserve(f->hv, 3), -EMFILE);
	/* Nothing reserved, and closes still close. */
	expect_value(xengnttab_open, open_flags, 0);
	will_return(xengnttab_open, 0);
	assert_int_equal(xb_gnt_open(f->hv, &g), 0);
	expect_value(xengnttab_close, xgt, FAKE_XGT);
	xb_gnt_close(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_ok),
		cmocka_unit_test(test_open_no_gntdev),
		cmocka_unit_test(test_open_no_evtchn),
		cmocka_unit_test(test_ops_complete),
		cmocka_unit_test_setup_teardown(test_reserve, setup_hv,
						teardown_hv),
		cmocka_unit_test_setup_teardown(test_reserve_all_or_nothing,
						setup_hv, teardown_hv),
		cmocka_unit_test_setup_teardown(test_xs_open, setup_hv,
						teardown_hv),
		cmocka_unit_test_setup_teardown(test_gnt_open_fails, setup_hv,
						teardown_hv),
		cmocka_unit_test_setup_teardown(test_gnt_handle_fields,
						setup_gnt, teardown_hv),
		cmocka_unit_test_setup_teardown(test_gnt_map_rw_ro, setup_gnt,
						teardown_hv),
		cmocka_unit_test_setup_teardown(test_gnt_map_failure,
						setup_gnt, teardown_hv),
		cmocka_unit_test_setup_teardown(test_gnt_map_zero, setup_gnt,
						teardown_hv),
		cmocka_unit_test_setup_teardown(test_gnt_unmap_failure,
						setup_gnt, teardown_hv),
		cmocka_unit_test_setup_teardown(test_gnt_copy_translation,
						setup_gnt, teardown_hv),
		cmocka_unit_test_setup_teardown(test_gnt_copy_chunks,
						setup_gnt, teardown_hv),
		cmocka_unit_test_setup_teardown(test_gnt_copy_page_crossing,
						setup_gnt, teardown_hv),
		cmocka_unit_test_setup_teardown(test_gnt_copy_failure,
						setup_gnt, teardown_hv),
		cmocka_unit_test_setup_teardown(test_gnt_copy_zero, setup_gnt,
						teardown_hv),
		cmocka_unit_test_setup_teardown(test_library_logger, setup_gnt,
						teardown_hv),
		cmocka_unit_test_setup_teardown(test_evtchn_open_nonblocking,
						setup_evt, teardown_hv),
		cmocka_unit_test_setup_teardown(test_evtchn_open_fails,
						setup_hv, teardown_hv),
		cmocka_unit_test_setup_teardown(test_evtchn_bind, setup_evt,
						teardown_hv),
		cmocka_unit_test_setup_teardown(test_evtchn_unbind_notify_unmask,
						setup_evt, teardown_hv),
		cmocka_unit_test_setup_teardown(test_evtchn_pending, setup_evt,
						teardown_hv),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
