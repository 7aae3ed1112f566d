/* SPDX-License-Identifier: MIT */
/*
 * hv_xen_smoke: the "xen" provider (common/hv_xen.c) against a real Xen, in
 * dom0, with no guest: dom0 grants pages and allocates event channel ports
 * to itself (libxengntshr over /dev/xen/gntalloc, libxenevtchn), and the
 * provider maps, copies, binds and notifies them. Checks what the provider
 * header promises, including the error codes of bad maps and the per
 * segment statuses of a mixed grant copy batch, which the unit tests can
 * only assert against mocks.
 *
 * Prints one "UBACK-XQ hvsmoke:" line per check; exit 0 when all pass, 77
 * without /dev/xen, 1 otherwise. Run by tests/xen-qemu/dom0-test.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xenevtchn.h>
#include <xengnttab.h>
#include <xenstore.h>

#include "uback/hv.h"
#include "uback/log.h"

#define NPAGES 4
#define NCOPY 300   /* more than one gntdev batch of the provider */

static int failures;

static void check(int ok, const char *what, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void check(int ok, const char *what, const char *fmt, ...)
{
	va_list ap;

	printf("UBACK-XQ hvsmoke: %s %s", ok ? "ok  " : "FAIL", what);
	if (fmt) {
		printf(": ");
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
	}
	printf("\n");
	fflush(stdout);
	if (!ok)
		failures++;
}

static void test_xs(struct xb_hv *hv)
{
	const char *path = "/local/domain/0/data/uback-smoke";
	struct xs_handle *xs;
	unsigned int len = 0;
	char *v;
	int ret;

	ret = xb_hv_xs_open(hv, &xs);
	check(ret == 0, "xs_open", "%d", ret);
	if (ret)
		return;
	check(xs_write(xs, XBT_NULL, path, "hello", 5), "xs write", NULL);
	v = xs_read(xs, XBT_NULL, path, &len);
	check(v && len == 5 && !memcmp(v, "hello", 5), "xs read back", NULL);
	free(v);
	xs_rm(xs, XBT_NULL, path);
	xs_close(xs);
}

static void test_grants(struct xb_hv *hv)
{
	xengntshr_handle *shr;
	struct xb_gnt *g;
	uint32_t refs[NPAGES], roref, badref = 0x7ffffff0u;
	struct xb_gcopy_seg segs[NCOPY];
	unsigned char *a, *ro, *m, local[XB_PAGE_SIZE], back[XB_PAGE_SIZE];
	void *mv;
	int ret, i, ok;

	ret = xb_gnt_open(hv, &g);
	check(ret == 0, "gnt_open", "%d", ret);
	if (ret)
		return;
	shr = xengntshr_open(NULL, 0);
	check(shr != NULL, "xengntshr_open (gntalloc)", "errno %d", errno);
	if (!shr)
		goto out_gnt;
	a = xengntshr_share_pages(shr, 0, NPAGES, refs, 1);
	ro = xengntshr_share_pages(shr, 0, 1, &roref, 0);
	check(a && ro, "share pages to self", "errno %d", errno);
	if (!a || !ro)
		goto out_shr;
	for (i = 0; i < NPAGES * (int)XB_PAGE_SIZE; i++)
		a[i] = (unsigned char)(i * 7 + 3);
	memset(ro, 0x5a, XB_PAGE_SIZE);

	/* map: contiguous, same bytes, writes visible to the granter */
	ret = xb_gnt_map(g, 0, NPAGES, refs, false, &mv);
	check(ret == 0, "gnt_map 4 pages rw", "%d", ret);
	if (ret == 0) {
		m = mv;
		check(!memcmp(m, a, NPAGES * XB_PAGE_SIZE), "mapped bytes match", NULL);
		m[XB_PAGE_SIZE * 3 + 17] = 0xee;
		check(a[XB_PAGE_SIZE * 3 + 17] == 0xee, "write through map", NULL);
		ret = xb_gnt_unmap(g, mv, NPAGES);
		check(ret == 0, "gnt_unmap", "%d", ret);
	}
	ret = xb_gnt_map(g, 0, 1, &roref, true, &mv);
	check(ret == 0, "gnt_map readonly grant readonly", "%d", ret);
	if (ret == 0)
		xb_gnt_unmap(g, mv, 1);
	ret = xb_gnt_map(g, 0, 1, &roref, false, &mv);
	check(ret == -EINVAL, "gnt_map readonly grant writable fails -EINVAL",
	      "got %d (%s)", ret, strerror(-ret));
	if (ret == 0)
		xb_gnt_unmap(g, mv, 1);
	ret = xb_gnt_map(g, 0, 1, &badref, false, &mv);
	check(ret == -EINVAL, "gnt_map bad ref fails -EINVAL", "got %d (%s)",
	      ret, strerror(-ret));
	if (ret == 0)
		xb_gnt_unmap(g, mv, 1);
	{
		uint32_t two[2] = { refs[0], badref };

		ret = xb_gnt_map(g, 0, 2, two, false, &mv);
		check(ret == -EINVAL, "gnt_map good+bad ref fails whole",
		      "got %d", ret);
		if (ret == 0)
			xb_gnt_unmap(g, mv, 2);
	}

	/* copy: a mixed batch, each segment with its own status */
	for (i = 0; i < (int)sizeof(local); i++)
		local[i] = (unsigned char)(255 - i);
	memset(back, 0, sizeof(back));
	memset(segs, 0, sizeof(segs));
	segs[0].source.virt = local;                 /* local -> grant */
	segs[0].dest.foreign.ref = refs[0];
	segs[0].dest.foreign.offset = 100;
	segs[0].dest.foreign.domid = 0;
	segs[0].len = 200;
	segs[0].flags = GNTCOPY_dest_gref;
	segs[1].source.foreign.ref = refs[1];        /* grant -> local */
	segs[1].source.foreign.domid = 0;
	segs[1].dest.virt = back;
	segs[1].len = XB_PAGE_SIZE;
	segs[1].flags = GNTCOPY_source_gref;
	segs[2] = segs[0];                           /* crosses a page */
	segs[2].dest.foreign.offset = 4000;
	segs[3] = segs[0];                           /* bad ref */
	segs[3].dest.foreign.ref = badref;
	segs[4] = segs[0];                           /* into a readonly grant */
	segs[4].dest.foreign.ref = roref;
	segs[5] = segs[1];                           /* out of it: allowed */
	segs[5].source.foreign.ref = roref;
	segs[5].source.foreign.offset = 8;
	segs[5].dest.virt = local + 2048;
	segs[5].len = 16;
	ret = xb_gnt_copy(g, 6, segs);
	check(ret == 0, "gnt_copy mixed batch issued", "%d", ret);
	check(segs[0].status == GNTST_okay && !memcmp(a + 100, local, 200),
	      "copy to grant", "status %d", segs[0].status);
	check(segs[1].status == GNTST_okay &&
	      !memcmp(back, a + XB_PAGE_SIZE, XB_PAGE_SIZE),
	      "copy from grant", "status %d", segs[1].status);
	check(segs[2].status == GNTST_bad_copy_arg, "page-crossing segment alone fails",
	      "status %d", segs[2].status);
	check(segs[3].status != GNTST_okay, "bad ref segment fails",
	      "status %d (GNTST_bad_gntref is %d)", segs[3].status, GNTST_bad_gntref);
	/* Xen 4.17 answers GNTST_general_error here, not permission_denied */
	check(segs[4].status != GNTST_okay && ro[100] == 0x5a,
	      "copy into readonly grant refused", "status %d", segs[4].status);
	check(segs[5].status == GNTST_okay && local[2048] == 0x5a,
	      "copy out of readonly grant", "status %d", segs[5].status);

	/* copy: more segments than one provider batch */
	for (i = 0; i < NCOPY; i++) {
		memset(&segs[i], 0, sizeof(segs[i]));
		segs[i].source.virt = local + (i % 256) * 16;
		segs[i].dest.foreign.ref = refs[i % NPAGES];
		segs[i].dest.foreign.offset = (uint16_t)((i / NPAGES) * 16);
		segs[i].dest.foreign.domid = 0;
		segs[i].len = 16;
		segs[i].flags = GNTCOPY_dest_gref;
	}
	ret = xb_gnt_copy(g, NCOPY, segs);
	ok = ret == 0;
	for (i = 0; ok && i < NCOPY; i++)
		ok = segs[i].status == GNTST_okay &&
		     !memcmp(a + (i % NPAGES) * XB_PAGE_SIZE + (i / NPAGES) * 16,
			     local + (i % 256) * 16, 16);
	check(ok, "gnt_copy 300 segments", "ret %d, first bad at %d", ret, i - 1);

	xengntshr_unshare(shr, ro, 1);
	xengntshr_unshare(shr, a, NPAGES);
out_shr:
	xengntshr_close(shr);
out_gnt:
	xb_gnt_close(g);
}

static int wait_fd(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 5000);
}

static void test_evtchn(struct xb_hv *hv)
{
	struct xb_evtchn *e;
	xenevtchn_handle *xa;
	xenevtchn_port_or_error_t rp, got;
	evtchn_port_t lp = 0, pend = 0;
	int ret;

	ret = xb_evtchn_open(hv, &e);
	check(ret == 0, "evtchn_open", "%d", ret);
	if (ret)
		return;
	xa = xenevtchn_open(NULL, 0);
	check(xa != NULL, "xenevtchn_open (peer)", NULL);
	if (!xa)
		goto out_e;
	rp = xenevtchn_bind_unbound_port(xa, 0);
	check(rp >= 0, "peer allocates unbound port", "errno %d", errno);
	if (rp < 0)
		goto out_xa;
	ret = xb_evtchn_bind(e, 0, (evtchn_port_t)rp, &lp);
	check(ret == 0, "evtchn_bind interdomain", "%d", ret);
	if (ret)
		goto out_xa;
	/*
	 * Xen sets the new local port pending when it binds an interdomain
	 * channel (notifications sent to the unbound port may have been
	 * lost): one event arrives right after bind, and the Linux evtchn
	 * driver then keeps the port masked until it is unmasked.
	 */
	ret = wait_fd(xb_evtchn_fd(e));
	check(ret == 1, "bind leaves one event pending", "poll %d", ret);
	ret = xb_evtchn_pending(e, &pend);
	check(ret == 0 && pend == lp, "pending returns it",
	      "ret %d port %u want %u", ret, pend, lp);
	ret = xb_evtchn_pending(e, &pend);
	check(ret == -EAGAIN, "pending with nothing pending is -EAGAIN", "%d", ret);
	ret = xb_evtchn_unmask(e, lp);
	check(ret == 0, "evtchn_unmask", "%d", ret);
	xenevtchn_notify(xa, (evtchn_port_t)rp);
	ret = wait_fd(xb_evtchn_fd(e));
	check(ret == 1, "peer notify makes our fd readable", "poll %d", ret);
	ret = xb_evtchn_pending(e, &pend);
	check(ret == 0 && pend == lp, "pending returns our port",
	      "ret %d port %u want %u", ret, pend, lp);
	xb_evtchn_unmask(e, lp);
	ret = xb_evtchn_notify(e, lp);
	check(ret == 0, "evtchn_notify", "%d", ret);
	ret = wait_fd(xenevtchn_fd(xa));
	got = ret == 1 ? xenevtchn_pending(xa) : -1;
	check(got == rp, "our notify reaches the peer", "poll %d port %d", ret, got);
	if (got >= 0)
		xenevtchn_unmask(xa, (evtchn_port_t)got);
	ret = xb_evtchn_unbind(e, lp);
	check(ret == 0, "evtchn_unbind", "%d", ret);
out_xa:
	xenevtchn_close(xa);
out_e:
	xb_evtchn_close(e);
}

int main(void)
{
	struct xb_hv_config cfg = { .provider = "xen" };
	struct xb_hv *hv;
	int ret;

	if (access("/dev/xen/gntdev", F_OK) != 0) {
		printf("UBACK-XQ hvsmoke: skip: no /dev/xen/gntdev\n");
		return 77;
	}
	ret = xb_hv_open(&cfg, &hv);
	check(ret == 0, "hv_open xen", "%d", ret);
	if (ret)
		return 1;
	test_xs(hv);
	test_grants(hv);
	test_evtchn(hv);
	xb_hv_close(hv);
	printf("UBACK-XQ hvsmoke: %s (%d failed)\n", failures ? "FAIL" : "PASS",
	       failures);
	return failures ? 1 : 0;
}
