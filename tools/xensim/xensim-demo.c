/* SPDX-License-Identifier: MIT */
/*
 * xensim-demo: exercise a running xensim ($XENSIM_DIR) end to end, as a
 * guest (guest library) and as a dom0 backend (the "sim" provider): grant
 * maps and copies, event channels both ways, xenstore, and destroying the
 * guest under a live mapping. Prints a table; exits 1 on any mismatch.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <xenstore.h>

#include "uback/hv.h"
#include "xensim/guest.h"

#define NPAGES 8
#define WAIT_MS 10000
#define TIMING_ITERS 20000

static int failures;

static void row(const char *step, const char *detail, bool ok)
{
	printf("  %-28s %-44s %s\n", step, detail, ok ? "ok" : "FAIL");
	if (!ok)
		failures++;
}

static uint8_t pattern(unsigned int page, unsigned int i)
{
	return (uint8_t)(page * 31 + i * 7 + 1);
}

static bool page_has_pattern(const uint8_t *p, unsigned int page)
{
	unsigned int i;

	for (i = 0; i < XB_PAGE_SIZE; i++)
		if (p[i] != pattern(page, i))
			return false;
	return true;
}

static bool readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, WAIT_MS) == 1;
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(void)
{
	struct xg_dom_config cfg = { .mem_pages = 256, .name = "demo-guest" };
	struct xb_hv_config hcfg = { .provider = "sim" };
	struct xg_sim *sim = NULL;
	struct xg_dom *dom = NULL;
	struct xb_hv *hv = NULL;
	struct xb_gnt *gnt = NULL;
	struct xb_evtchn *evt = NULL;
	struct xs_handle *xs = NULL;
	xen_pfn_t gfns[NPAGES];
	grant_ref_t refs[NPAGES];
	struct xb_gcopy_seg segs[NPAGES];
	static uint8_t buf[NPAGES][XB_PAGE_SIZE];
	evtchn_port_t gport, bport, p;
	char detail[96], path[64], *name;
	void *single[NPAGES], *multi, *kept;
	unsigned int i, ok_pages, len;
	double t0, map_ns, copy_ns;
	domid_t id;
	int err;

	printf("xensim-demo: guest + dom0 backend against $XENSIM_DIR\n\n");
	err = xg_sim_connect(NULL, &sim);
	if (err) {
		fprintf(stderr, "xensim-demo: no xensim at $XENSIM_DIR: %s\n",
			strerror(-err));
		return 1;
	}
	if (xb_hv_open(&hcfg, &hv) || xb_gnt_open(hv, &gnt) ||
	    xb_evtchn_open(hv, &evt)) {
		fprintf(stderr, "xensim-demo: cannot open the sim provider\n");
		return 1;
	}

	/* Guest side: memory with a pattern, grants to dom0. */
	err = xg_dom_create(sim, &cfg, &dom);
	if (err) {
		fprintf(stderr, "xensim-demo: create guest: %s\n",
			strerror(-err));
		return 1;
	}
	id = xg_dom_id(dom);
	snprintf(detail, sizeof(detail), "domid %u, %u pages", id,
		 cfg.mem_pages);
	row("create guest", detail, true);
	err = xg_pages_alloc(dom, NPAGES, gfns);
	for (i = 0; !err && i < NPAGES; i++) {
		uint8_t *pg = xg_page_ptr(dom, gfns[i]);
		unsigned int j;

		for (j = 0; j < XB_PAGE_SIZE; j++)
			pg[j] = pattern(i, j);
		/* Pages 0-3 writable, 4-7 read-only grants. */
		err = xg_grant_access(dom, 0, gfns[i], i >= 4, &refs[i]);
	}
	snprintf(detail, sizeof(detail), "%u pages, refs %u..%u", NPAGES,
		 refs[0], refs[NPAGES - 1]);
	row("guest grants pages", detail, err == 0);

	/* xenstore as dom0. */
	err = xb_hv_xs_open(hv, &xs);
	name = NULL;
	if (!err) {
		snprintf(path, sizeof(path), "/local/domain/%u/name", id);
		name = xs_read(xs, XBT_NULL, path, &len);
	}
	snprintf(detail, sizeof(detail), "%s = %s", path,
		 name ? name : "(missing)");
	row("xenstore read as dom0", detail,
	    name && strcmp(name, "demo-guest") == 0);
	free(name);

	/* Backend maps each page and checks it. */
	ok_pages = 0;
	for (i = 0; i < NPAGES; i++) {
		if (xb_gnt_map(gnt, id, 1, &refs[i], i >= 4, &single[i]) == 0 &&
		    page_has_pattern(single[i], i))
			ok_pages++;
		else
			single[i] = NULL;
	}
	snprintf(detail, sizeof(detail), "%u/%u pages match", ok_pages,
		 NPAGES);
	row("map single pages", detail, ok_pages == NPAGES);
	{
		uint16_t flags = 0;
		int end;

		xg_grant_get_raw(dom, refs[0], &flags, NULL, NULL);
		end = xg_grant_end(dom, refs[0]);
		snprintf(detail, sizeof(detail), "flags 0x%x, end -> %s", flags,
			 strerror(-end));
		row("guest cannot end mapped", detail, end == -EBUSY &&
		    (flags & (GTF_reading | GTF_writing)) ==
		    (GTF_reading | GTF_writing));
	}
	for (i = 0; i < NPAGES; i++)
		if (single[i])
			xb_gnt_unmap(gnt, single[i], 1);

	/* A 4-page contiguous writable map (a ring). */
	err = xb_gnt_map(gnt, id, 4, refs, false, &multi);
	ok_pages = 0;
	if (!err) {
		for (i = 0; i < 4; i++)
			ok_pages += page_has_pattern((uint8_t *)multi +
						     i * XB_PAGE_SIZE, i);
		((uint8_t *)multi)[3 * XB_PAGE_SIZE + 10] = 0xee;
		ok_pages += ((uint8_t *)xg_page_ptr(dom, gfns[3]))[10] == 0xee;
		((uint8_t *)multi)[3 * XB_PAGE_SIZE + 10] = pattern(3, 10);
		xb_gnt_unmap(gnt, multi, 4);
	}
	row("map 4 pages contiguous", "contents + write seen by guest",
	    ok_pages == 5);
	err = xb_gnt_map(gnt, id, 1, &refs[5], false, &kept);
	row("writable map of ro grant", strerror(-err), err == -EINVAL);

	/* Grant copies: guest -> backend, then backend -> guest. */
	memset(segs, 0, sizeof(segs));
	for (i = 0; i < NPAGES; i++) {
		segs[i].source.foreign.ref = refs[i];
		segs[i].source.foreign.domid = id;
		segs[i].dest.virt = buf[i];
		segs[i].len = XB_PAGE_SIZE;
		segs[i].flags = GNTCOPY_source_gref;
	}
	err = xb_gnt_copy(gnt, NPAGES, segs);
	ok_pages = 0;
	for (i = 0; !err && i < NPAGES; i++)
		ok_pages += segs[i].status == GNTST_okay &&
			    page_has_pattern(buf[i], i);
	snprintf(detail, sizeof(detail), "%u/%u pages", ok_pages, NPAGES);
	row("grant copy guest->dom0", detail, ok_pages == NPAGES);
	for (i = 0; i < NPAGES; i++) {
		memset(buf[i], 0xa0 + i, XB_PAGE_SIZE);
		memset(&segs[i], 0, sizeof(segs[i]));
		segs[i].len = XB_PAGE_SIZE;
		segs[i].source.virt = buf[i];
		segs[i].dest.foreign.ref = refs[i];
		segs[i].dest.foreign.domid = id;
		segs[i].flags = GNTCOPY_dest_gref;
	}
	err = xb_gnt_copy(gnt, NPAGES, segs);
	ok_pages = 0;
	for (i = 0; !err && i < NPAGES; i++) {
		const uint8_t *g = xg_page_ptr(dom, gfns[i]);
		bool ro = i >= 4;

		if (ro)
			ok_pages += segs[i].status == GNTST_permission_denied &&
				    page_has_pattern(g, i);
		else
			ok_pages += segs[i].status == GNTST_okay &&
				    g[0] == 0xa0 + i && g[4095] == 0xa0 + i;
	}
	row("grant copy dom0->guest", "4 written, 4 ro refused",
	    ok_pages == NPAGES);

	/* Event channels both ways. */
	err = xg_evtchn_alloc_unbound(dom, 0, &gport);
	if (!err)
		err = xb_evtchn_bind(evt, id, gport, &bport);
	if (!err && readable(xb_evtchn_fd(evt)) &&
	    xb_evtchn_pending(evt, &p) == 0)
		xb_evtchn_unmask(evt, p);   /* bind-time event, as on Xen */
	snprintf(detail, sizeof(detail), "guest port %u <-> dom0 port %u",
		 gport, bport);
	row("bind event channel", detail, err == 0);
	err = xg_evtchn_notify(dom, gport);
	err = err ? err : !readable(xb_evtchn_fd(evt)) ? -ETIMEDOUT :
	      xb_evtchn_pending(evt, &p);
	row("notify guest->dom0", "poll + pending", !err && p == bport);
	xb_evtchn_unmask(evt, bport);
	err = xb_evtchn_notify(evt, bport);
	err = err ? err : !readable(xg_evtchn_fd(dom)) ? -ETIMEDOUT :
	      xg_evtchn_pending(dom, &p);
	row("notify dom0->guest", "poll + pending", !err && p == gport);
	xg_evtchn_unmask(dom, gport);

	/* Rough costs in this simulator (not Xen's; see docs/simulator.md). */
	t0 = now_ns();
	for (i = 0; i < TIMING_ITERS; i++) {
		void *a;

		if (xb_gnt_map(gnt, id, 1, &refs[0], false, &a) ||
		    xb_gnt_unmap(gnt, a, 1))
			break;
	}
	map_ns = (now_ns() - t0) / TIMING_ITERS;
	memset(&segs[0], 0, sizeof(segs[0]));
	segs[0].source.foreign.ref = refs[0];
	segs[0].source.foreign.domid = id;
	segs[0].dest.virt = buf[0];
	segs[0].len = XB_PAGE_SIZE;
	segs[0].flags = GNTCOPY_source_gref;
	t0 = now_ns();
	for (i = 0; i < TIMING_ITERS; i++)
		if (xb_gnt_copy(gnt, 1, segs) || segs[0].status)
			break;
	copy_ns = (now_ns() - t0) / TIMING_ITERS;
	snprintf(detail, sizeof(detail), "map+unmap %.0f ns, 4K copy %.0f ns",
		 map_ns, copy_ns);
	row("sim cost per op", detail, i == TIMING_ITERS);

	/* Destroy the guest under a live mapping. */
	err = xb_gnt_map(gnt, id, 1, &refs[1], false, &kept);
	if (!err)
		err = xg_dom_destroy(dom);
	dom = NULL;
	if (!err) {
		const uint8_t *k = kept;

		snprintf(detail, sizeof(detail), "mapping still reads 0x%x",
			 k[0]);
		row("destroy guest while mapped", detail, k[0] == 0xa1);
		err = xb_gnt_map(gnt, id, 1, &refs[2], false, &multi);
		row("map after destroy", strerror(-err), err == -ESRCH);
		row("unmap after destroy", "",
		    xb_gnt_unmap(gnt, kept, 1) == 0);
		row("notify dead peer", "harmless",
		    xb_evtchn_notify(evt, bport) == 0);
		row("unbind dead peer", "",
		    xb_evtchn_unbind(evt, bport) == 0);
	} else {
		row("destroy guest while mapped", strerror(-err), false);
	}

	if (xs)
		xs_close(xs);
	xb_evtchn_close(evt);
	xb_gnt_close(gnt);
	xb_hv_close(hv);
	if (dom)
		xg_dom_destroy(dom);
	xg_sim_disconnect(sim);
	printf("\nxensim-demo: %s (%d failure%s)\n",
	       failures ? "FAILED" : "all checks passed", failures,
	       failures == 1 ? "" : "s");
	return failures ? 1 : 0;
}
