/* SPDX-License-Identifier: MIT */
/* Domain lifecycle under xensim: ids, memory, destruction, provider open. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <xenstore.h>

#include "uback/hv.h"
#include "xensim/guest.h"
#include "sim_harness.h"
#include "uback/sim_ctl_proto.h"

struct fx {
	struct sim_harness h;
	struct xg_sim *sim;
	struct xb_hv *hv;
	struct xb_gnt *gnt;
};

static int group_setup(void **state)
{
	static struct fx fx;
	struct xb_hv_config cfg = { .provider = "sim" };

	if (sim_harness_start(&fx.h))
		return -1;
	if (xg_sim_connect(NULL, &fx.sim))
		return -1;
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

static void test_ids(void **state)
{
	struct fx *fx = *state;
	struct xg_dom_config cfg = { .mem_pages = 4, .nr_grants = 16 };
	struct xg_dom *a, *b, *c, *d;

	assert_int_equal(xg_dom_create(fx->sim, &cfg, &a), 0);
	assert_int_equal(xg_dom_create(fx->sim, &cfg, &b), 0);
	assert_int_not_equal(xg_dom_id(a), 0);
	assert_int_not_equal(xg_dom_id(a), xg_dom_id(b));
	cfg.domid = 500;
	assert_int_equal(xg_dom_create(fx->sim, &cfg, &c), 0);
	assert_int_equal(xg_dom_id(c), 500);
	assert_int_equal(xg_dom_create(fx->sim, &cfg, &d), -EEXIST);
	cfg.domid = DOMID_FIRST_RESERVED;
	assert_int_equal(xg_dom_create(fx->sim, &cfg, &d), -EINVAL);
	cfg.domid = 0;
	cfg.mem_pages = UINT32_MAX;
	assert_int_equal(xg_dom_create(fx->sim, &cfg, &d), -EINVAL);
	assert_int_equal(xg_dom_destroy(a), 0);
	assert_int_equal(xg_dom_destroy(b), 0);
	assert_int_equal(xg_dom_destroy(c), 0);
}

static void test_defaults(void **state)
{
	struct fx *fx = *state;
	struct xg_dom_config cfg = { 0 };
	struct xg_dom *a;
	xen_pfn_t gfn;

	assert_int_equal(xg_dom_create(fx->sim, &cfg, &a), 0);
	assert_int_equal(xg_grant_count(a), 32 * 512);
	assert_non_null(xg_page_ptr(a, 16383));
	assert_null(xg_page_ptr(a, 16384));
	assert_int_equal(xg_pages_alloc(a, 1, &gfn), 0);
	assert_true(gfn < 16384);
	assert_int_equal(xg_dom_destroy(a), 0);
}

static void test_pages(void **state)
{
	struct fx *fx = *state;
	struct xg_dom_config cfg = { .mem_pages = 8, .nr_grants = 16 };
	struct xg_dom *a;
	xen_pfn_t gfns[8], more;
	unsigned int i, j;

	assert_int_equal(xg_dom_create(fx->sim, &cfg, &a), 0);
	assert_int_equal(xg_pages_alloc(a, 8, gfns), 0);
	for (i = 0; i < 8; i++)
		for (j = 0; j < i; j++)
			assert_int_not_equal(gfns[i], gfns[j]);
	assert_int_equal(xg_pages_alloc(a, 1, &more), -ENOMEM);
	xg_pages_free(a, 1, &gfns[3]);
	assert_int_equal(xg_pages_alloc(a, 1, &more), 0);
	assert_int_equal(more, gfns[3]);
	/* Fresh guest memory is zeroed. */
	for (i = 0; i < XB_PAGE_SIZE; i++)
		assert_int_equal(((uint8_t *)xg_page_ptr(a, 5))[i], 0);
	assert_int_equal(xg_dom_destroy(a), 0);
}

static void test_grant_table_full(void **state)
{
	struct fx *fx = *state;
	struct xg_dom_config cfg = { .mem_pages = 4, .nr_grants = 12 };
	struct xg_dom *a;
	grant_ref_t refs[4], ref;
	unsigned int i;

	assert_int_equal(xg_dom_create(fx->sim, &cfg, &a), 0);
	/* Refs 0-7 are reserved, as in Linux guests: 4 usable. */
	for (i = 0; i < 4; i++) {
		assert_int_equal(xg_grant_access(a, 0, 0, true, &refs[i]), 0);
		assert_true(refs[i] >= 8 && refs[i] < 12);
	}
	assert_int_equal(xg_grant_access(a, 0, 0, true, &ref), -ENOSPC);
	assert_int_equal(xg_grant_access(a, 0, 4, true, &ref), -EINVAL);
	assert_int_equal(xg_grant_end(a, refs[1]), 0);
	assert_int_equal(xg_grant_access(a, 0, 1, true, &ref), 0);
	assert_int_equal(ref, refs[1]);
	assert_int_equal(xg_grant_end(a, 12), -EINVAL);
	assert_int_equal(xg_dom_destroy(a), 0);
}

static void test_memory_isolated(void **state)
{
	struct fx *fx = *state;
	struct xg_dom_config cfg = { .mem_pages = 4, .nr_grants = 16 };
	struct xg_dom *a, *b;

	assert_int_equal(xg_dom_create(fx->sim, &cfg, &a), 0);
	assert_int_equal(xg_dom_create(fx->sim, &cfg, &b), 0);
	memset(xg_page_ptr(a, 0), 0xaa, XB_PAGE_SIZE);
	assert_int_equal(((uint8_t *)xg_page_ptr(b, 0))[0], 0);
	assert_int_equal(xg_dom_destroy(a), 0);
	assert_int_equal(xg_dom_destroy(b), 0);
}

static void test_release_keeps_domain(void **state)
{
	struct fx *fx = *state;
	struct xg_dom_config cfg = { .domid = 77, .mem_pages = 4 };
	struct xg_dom *a, *again;

	assert_int_equal(xg_dom_create(fx->sim, &cfg, &a), 0);
	assert_int_equal(xg_dom_create(fx->sim, &cfg, &again), -EEXIST);
	/* Detach without destroying: the domain lives on. */
	xg_dom_release(a);
	assert_int_equal(xg_dom_create(fx->sim, &cfg, &again), -EEXIST);
}

static void test_reuse_id(void **state)
{
	struct fx *fx = *state;
	struct xg_dom_config cfg = { .domid = 88, .mem_pages = 4,
				     .nr_grants = 16 };
	struct xg_dom *a, *b;
	grant_ref_t ref;
	void *addr;

	assert_int_equal(xg_dom_create(fx->sim, &cfg, &a), 0);
	memset(xg_page_ptr(a, 1), 0x11, XB_PAGE_SIZE);
	assert_int_equal(xg_grant_access(a, 0, 1, false, &ref), 0);
	assert_int_equal(xb_gnt_map(fx->gnt, 88, 1, &ref, false, &addr), 0);
	assert_int_equal(xg_dom_destroy(a), 0);
	/* A new domain with the same id: the backend's cached view of the
	 * old one must not leak into it. */
	assert_int_equal(xg_dom_create(fx->sim, &cfg, &b), 0);
	assert_int_equal(((uint8_t *)addr)[0], 0x11);
	{
		void *a2;

		assert_int_equal(xb_gnt_map(fx->gnt, 88, 1, &ref, false, &a2),
				 -EINVAL);
		assert_int_equal(xg_grant_access(b, 0, 1, false, &ref), 0);
		assert_int_equal(xb_gnt_map(fx->gnt, 88, 1, &ref, false, &a2),
				 0);
		assert_int_equal(((uint8_t *)a2)[0], 0);
		assert_int_equal(xb_gnt_unmap(fx->gnt, a2, 1), 0);
	}
	assert_int_equal(xb_gnt_unmap(fx->gnt, addr, 1), 0);
	assert_int_equal(xg_dom_destroy(b), 0);
}

static void test_provider_open_errors(void **state)
{
	struct fx *fx = *state;
	struct xb_hv_config cfg = { .provider = "sim",
				    .sim_dir = "/nonexistent/xensim" };
	struct xb_hv *hv;

	(void)fx;
	assert_int_equal(xb_hv_open(&cfg, &hv), -ENOENT);
}

static char *xs_get(struct xs_handle *xs, const char *fmt, unsigned int id)
{
	char path[128];
	unsigned int len;

	snprintf(path, sizeof(path), fmt, id);
	return xs_read(xs, XBT_NULL, path, &len);
}

/* Wait for a watch event on @xs whose path is @path (bounded). */
static bool watch_fired(struct xs_handle *xs, const char *path)
{
	int i;

	for (i = 0; i < 100; i++) {
		struct pollfd p = { .fd = xs_fileno(xs), .events = POLLIN };
		char **vec;
		bool match;

		if (poll(&p, 1, 10000) != 1)
			return false;
		vec = xs_check_watch(xs);
		if (!vec)
			continue;
		match = strcmp(vec[XS_WATCH_PATH], path) == 0;
		free(vec);
		if (match)
			return true;
	}
	return false;
}

static void test_xenstore_lifecycle(void **state)
{
	struct fx *fx = *state;
	struct xg_dom_config cfg = { .mem_pages = 4, .name = "lifecycle" };
	struct xs_handle *xs0, *xsg;
	struct xg_dom *a;
	char *v, path[64];
	unsigned int id;

	assert_int_equal(xb_hv_xs_open(fx->hv, &xs0), 0);
	assert_true(xs_watch(xs0, "@introduceDomain", "in"));
	assert_true(xs_watch(xs0, "@releaseDomain", "out"));
	/* A new watch fires once at once; consume both. */
	assert_true(watch_fired(xs0, "@introduceDomain"));
	assert_true(watch_fired(xs0, "@releaseDomain"));

	assert_int_equal(xg_dom_create(fx->sim, &cfg, &a), 0);
	id = xg_dom_id(a);
	assert_true(watch_fired(xs0, "@introduceDomain"));
	v = xs_get(xs0, "/local/domain/%u/name", id);
	assert_non_null(v);
	assert_string_equal(v, "lifecycle");
	free(v);

	/* The guest's own handle: may write its tree, not dom0's. */
	assert_int_equal(xg_dom_xs_open(a, &xsg), 0);
	snprintf(path, sizeof(path), "/local/domain/%u/data/x", id);
	assert_true(xs_write(xsg, XBT_NULL, path, "1", 1));
	assert_false(xs_write(xsg, XBT_NULL, "/local/domain/0/x", "1", 1));
	assert_int_equal(errno, EACCES);

	assert_int_equal(xg_dom_destroy(a), 0);
	assert_true(watch_fired(xs0, "@releaseDomain"));
	v = xs_get(xs0, "/local/domain/%u", id);
	assert_null(v);
	/* The guest's connection is gone with it. */
	assert_false(xs_write(xsg, XBT_NULL, path, "2", 1));
	xs_close(xsg);
	xs_close(xs0);
}

static void test_device_create_remove(void **state)
{
	struct fx *fx = *state;
	struct xg_dom_config cfg = { .mem_pages = 4 };
	static const char *const be_kv[] = { "params", "/dev/null",
					     "mode", "w", NULL };
	static const char *const fe_kv[] = { "virtual-device", "51712", NULL };
	char fe[96], be[96];
	struct xs_handle *xs0, *xsg;
	struct xs_permissions *perms;
	enum xenbus_state st;
	struct xg_dom *a;
	unsigned int id, n;
	char *v;

	assert_int_equal(xg_dom_create(fx->sim, &cfg, &a), 0);
	id = xg_dom_id(a);
	assert_int_equal(xg_device_create(fx->sim, (domid_t)id, "vbd", "vbd",
					  51712, be_kv, fe_kv), 0);
	assert_int_equal(xg_sim_xs_open(fx->sim, &xs0), 0);
	assert_int_equal(xg_dom_xs_open(a, &xsg), 0);
	snprintf(fe, sizeof(fe), "/local/domain/%u/device/vbd/51712", id);
	snprintf(be, sizeof(be), "/local/domain/0/backend/vbd/%u/51712", id);

	assert_int_equal(xg_xenbus_read_state(xs0, be, &st), 0);
	assert_int_equal(st, XenbusStateInitialising);
	assert_int_equal(xg_xenbus_read_state(xsg, fe, &st), 0);
	assert_int_equal(st, XenbusStateInitialising);
	v = xs_get(xs0, "/local/domain/0/backend/vbd/%u/51712/params", id);
	assert_non_null(v);
	assert_string_equal(v, "/dev/null");
	free(v);
	/* The guest reads the backend dir but may not write it. */
	v = xs_get(xsg, "/local/domain/0/backend/vbd/%u/51712/frontend", id);
	assert_non_null(v);
	assert_string_equal(v, fe);
	free(v);
	assert_int_equal(xg_xenbus_switch(xsg, be, XenbusStateConnected),
			 -EACCES);
	perms = xs_get_permissions(xs0, XBT_NULL, fe, &n);
	assert_non_null(perms);
	assert_int_equal(n, 2);
	assert_int_equal(perms[0].id, id);
	assert_int_equal(perms[1].id, 0);
	assert_int_equal(perms[1].perms, XS_PERM_READ);
	free(perms);

	/* XenBus helpers. */
	assert_int_equal(xg_xenbus_switch(xsg, fe, XenbusStateInitialised), 0);
	assert_int_equal(xg_xenbus_wait_state(xs0, fe,
					      1u << XenbusStateInitialised,
					      10000, &st), 0);
	assert_int_equal(st, XenbusStateInitialised);
	assert_int_equal(xg_xenbus_wait_state(xs0, fe,
					      1u << XenbusStateConnected,
					      20, &st), -ETIMEDOUT);
	assert_int_equal(st, XenbusStateInitialised);
	assert_true(xs_write(xs0, XBT_NULL, "/local/domain/0/bad/state", "x",
			     1));
	assert_int_equal(xg_xenbus_read_state(xs0, "/local/domain/0/bad", &st),
			 -EINVAL);
	assert_int_equal(xg_xenbus_read_state(xs0, "/local/domain/0/none",
					      &st), -ENOENT);

	assert_int_equal(xg_device_remove(fx->sim, (domid_t)id, "vbd", "vbd",
					  51712), 0);
	assert_null(xs_get(xs0, "/local/domain/0/backend/vbd/%u/51712", id));
	assert_null(xs_get(xs0, "/local/domain/%u/device/vbd/51712", id));
	xs_close(xsg);
	xs_close(xs0);
	assert_int_equal(xg_dom_destroy(a), 0);
}

/* The daemon answers malformed control messages with errors and keeps
 * serving. */
static void test_control_malformed(void **state)
{
	struct fx *fx = *state;
	struct ctl_req req;
	struct ctl_rep rep;
	int fd, fds[CTL_MAX_FDS];
	char junk[3] = { 1, 2, 3 };
	ssize_t n;

	assert_int_equal(ctl_connect(fx->h.dir, &fd), 0);
	assert_int_equal(send(fd, junk, sizeof(junk), 0), 3);
	n = recv(fd, &rep, sizeof(rep), 0);
	assert_int_equal(n, sizeof(rep));
	assert_int_equal(rep.err, -EINVAL);

	memset(&req, 0, sizeof(req));
	req.op = 999;
	assert_int_equal(ctl_call(fd, &req, &rep, fds), -EOPNOTSUPP);
	req.op = CTL_DOM_OPEN;
	req.domid = 0xffff;
	assert_int_equal(ctl_call(fd, &req, &rep, fds), -EINVAL);
	req.domid = 0;              /* dom0 has no memory to open */
	assert_int_equal(ctl_call(fd, &req, &rep, fds), -ESRCH);
	req.op = CTL_DOM_DESTROY;
	assert_int_equal(ctl_call(fd, &req, &rep, fds), -EPERM);
	req.domid = 4000;
	assert_int_equal(ctl_call(fd, &req, &rep, fds), -ESRCH);
	req.op = CTL_EVTCHN_CLOSE;
	req.domid = 0;
	req.port = 5000;
	assert_int_equal(ctl_call(fd, &req, &rep, fds), -EINVAL);
	req.op = CTL_DOM_CREATE;
	memset(req.name, 'x', sizeof(req.name));   /* no NUL: truncated */
	req.domid = 0;
	req.mem_pages = 1;
	req.nr_grants = 8;
	assert_int_equal(ctl_call(fd, &req, &rep, fds), 0);
	assert_int_equal(rep.nfds, 2);
	close(fds[0]);
	close(fds[1]);
	req.op = CTL_DOM_DESTROY;
	req.domid = rep.domid;
	assert_int_equal(ctl_call(fd, &req, &rep, fds), 0);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ids),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_pages),
		cmocka_unit_test(test_grant_table_full),
		cmocka_unit_test(test_memory_isolated),
		cmocka_unit_test(test_release_keeps_domain),
		cmocka_unit_test(test_reuse_id),
		cmocka_unit_test(test_provider_open_errors),
		cmocka_unit_test(test_xenstore_lifecycle),
		cmocka_unit_test(test_control_malformed),
		cmocka_unit_test(test_device_create_remove),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
