/* SPDX-License-Identifier: MIT */
/*
 * The "xen" provider: the ops table over libxengnttab, libxenevtchn and
 * libxenstore (/dev/xen/gntdev, /dev/xen/evtchn, xenstored). Every library
 * -1/NULL + errno is converted to -errno here, at the boundary.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <xenevtchn.h>
#include <xengnttab.h>
#include <xenstore.h>
#include <xentoollog.h>

#include "uback/hv.h"
#include "uback/log.h"

#define XEN_GNTDEV_PATH  "/dev/xen/gntdev"
#define XEN_EVTCHN_PATH  "/dev/xen/evtchn"

/*
 * Segments translated per xengnttab_grant_copy call. The scratch array is
 * preallocated per grant handle (handles are per thread), so a copy never
 * allocates; a larger batch is issued in chunks of this size.
 */
#define XEN_GCOPY_BATCH 256u

struct xen_gnt;
struct xen_evtchn;

struct xen_hv {
	struct xb_hv base;
	/* Handles opened ahead by xen_reserve (the sandbox takes away the
	 * right to open /dev/xen/ later); closes give them back here. */
	pthread_mutex_t lock;
	bool reserving;
	struct xen_gnt *free_gnt;
	struct xen_evtchn *free_evtchn;
};

struct xen_gnt {
	struct xb_gnt base;
	struct xen_gnt *next_free;
	xengnttab_handle *xgt;
	xengnttab_grant_copy_segment_t scratch[XEN_GCOPY_BATCH];
	uint32_t scratch_idx[XEN_GCOPY_BATCH];   /* scratch[i] is segs[idx] */
};

struct xen_evtchn {
	struct xb_evtchn base;
	struct xen_evtchn *next_free;
	xenevtchn_handle *xce;
	int fd;
};

static int lib_errno(void)
{
	return errno > 0 ? -errno : -EIO;
}

/*
 * The libraries log their own failures (a failed map, for one) through a
 * xentoollog logger, by default to stderr. A guest controls whether maps
 * fail, so their messages go to our debug level, rate limited.
 */
static void quiet_vmessage(struct xentoollog_logger *logger,
			   xentoollog_level level, int errnoval,
			   const char *context, const char *format,
			   va_list al) __attribute__((format(printf, 5, 0)));
static void quiet_vmessage(struct xentoollog_logger *logger,
			   xentoollog_level level, int errnoval,
			   const char *context, const char *format,
			   va_list al)
{
	static struct xb_ratelimit rl;
	char msg[256];

	if (xb_log_get_level() < XB_LOG_DEBUG || !xb_ratelimit_ok(&rl))
		return;
	vsnprintf(msg, sizeof(msg), format, al);
	xb_debug("%s: %s", context ? context : "libxen", msg);
}

static void quiet_destroy(struct xentoollog_logger *logger)
{
}

static struct xentoollog_logger quiet_logger = {
	.vmessage = quiet_vmessage,
	.destroy = quiet_destroy,
};

static int xen_open(const struct xb_hv_config *cfg, struct xb_hv **out)
{
	struct xen_hv *x;

	if (access(XEN_GNTDEV_PATH, F_OK) != 0 ||
	    access(XEN_EVTCHN_PATH, F_OK) != 0)
		return -ENOENT;
	x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->base.ops = &xb_hv_xen_ops;
	pthread_mutex_init(&x->lock, NULL);
	*out = &x->base;
	return 0;
}

static void gnt_destroy(struct xen_gnt *g);
static void evtchn_destroy(struct xen_evtchn *e);

static void xen_close(struct xb_hv *hv)
{
	struct xen_hv *x = (struct xen_hv *)hv;

	while (x->free_gnt) {
		struct xen_gnt *g = x->free_gnt;

		x->free_gnt = g->next_free;
		gnt_destroy(g);
	}
	while (x->free_evtchn) {
		struct xen_evtchn *e = x->free_evtchn;

		x->free_evtchn = e->next_free;
		evtchn_destroy(e);
	}
	pthread_mutex_destroy(&x->lock);
	free(hv);
}

static int gnt_create(struct xb_hv *hv, struct xen_gnt **out)
{
	struct xen_gnt *g;
	int ret;

	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	/*
	 * No xengnttab_set_max_grants: Linux gntdev's per-handle default is
	 * already its global limit (and recent kernels dropped the ioctl),
	 * so setting it could only lower what a backend may map.
	 */
	errno = 0;
	g->xgt = xengnttab_open(&quiet_logger, 0);
	if (!g->xgt) {
		ret = lib_errno();
		goto err_free;
	}
	g->base.ops = &xb_hv_xen_ops;
	g->base.hv = hv;
	*out = g;
	return 0;

err_free:
	free(g);
	return ret;
}

static void gnt_destroy(struct xen_gnt *g)
{
	xengnttab_close(g->xgt);
	free(g);
}

static int xen_gnt_open(struct xb_hv *hv, struct xb_gnt **out)
{
	struct xen_hv *x = (struct xen_hv *)hv;
	struct xen_gnt *g;
	int ret;

	pthread_mutex_lock(&x->lock);
	g = x->free_gnt;
	if (g)
		x->free_gnt = g->next_free;
	pthread_mutex_unlock(&x->lock);
	if (!g) {
		ret = gnt_create(hv, &g);
		if (ret)
			return ret;
	}
	g->next_free = NULL;
	*out = &g->base;
	return 0;
}

static void xen_gnt_close(struct xb_gnt *gnt)
{
	struct xen_gnt *g = (struct xen_gnt *)gnt;
	struct xen_hv *x = (struct xen_hv *)gnt->hv;

	pthread_mutex_lock(&x->lock);
	if (x->reserving) {
		g->next_free = x->free_gnt;
		x->free_gnt = g;
		g = NULL;
	}
	pthread_mutex_unlock(&x->lock);
	if (g)
		gnt_destroy(g);
}

static int xen_gnt_map(struct xb_gnt *gnt, domid_t domid, uint32_t count,
		       const grant_ref_t *refs, bool readonly, void **addr)
{
	struct xen_gnt *g = (struct xen_gnt *)gnt;
	int prot = readonly ? PROT_READ : PROT_READ | PROT_WRITE;
	void *a;

	if (!count)
		return -EINVAL;
	/*
	 * libxengnttab maps all refs or none: on failure it has already
	 * undone any partial gntdev reservation. Its prototype lacks const
	 * but it only reads the refs.
	 */
	errno = 0;
	a = xengnttab_map_domain_grant_refs(g->xgt, count, domid,
					    (uint32_t *)refs, prot);
	if (!a)
		return lib_errno();
	*addr = a;
	return 0;
}

static int xen_gnt_unmap(struct xb_gnt *gnt, void *addr, uint32_t count)
{
	struct xen_gnt *g = (struct xen_gnt *)gnt;

	errno = 0;
	if (xengnttab_unmap(g->xgt, addr, count) != 0)
		return lib_errno();
	return 0;
}

static void seg_to_lib(const struct xb_gcopy_seg *s,
		       xengnttab_grant_copy_segment_t *d)
{
	memset(d, 0, sizeof(*d));
	if (s->flags & GNTCOPY_source_gref) {
		d->source.foreign.ref = s->source.foreign.ref;
		d->source.foreign.offset = s->source.foreign.offset;
		d->source.foreign.domid = s->source.foreign.domid;
	} else {
		d->source.virt = s->source.virt;
	}
	if (s->flags & GNTCOPY_dest_gref) {
		d->dest.foreign.ref = s->dest.foreign.ref;
		d->dest.foreign.offset = s->dest.foreign.offset;
		d->dest.foreign.domid = s->dest.foreign.domid;
	} else {
		d->dest.virt = s->dest.virt;
	}
	d->len = s->len;
	d->flags = s->flags;
	d->status = GNTST_general_error;
}

/* Does @s stay inside one page on every granted side? */
static bool seg_in_page(const struct xb_gcopy_seg *s)
{
	if ((s->flags & GNTCOPY_source_gref) &&
	    (uint32_t)s->source.foreign.offset + s->len > XB_PAGE_SIZE)
		return false;
	if ((s->flags & GNTCOPY_dest_gref) &&
	    (uint32_t)s->dest.foreign.offset + s->len > XB_PAGE_SIZE)
		return false;
	return true;
}

static int xen_gnt_copy(struct xb_gnt *gnt, uint32_t count,
			struct xb_gcopy_seg *segs)
{
	struct xen_gnt *g = (struct xen_gnt *)gnt;
	uint32_t next = 0;

	while (next < count) {
		uint32_t n = 0, i;

		/*
		 * Linux gntdev fails the whole ioctl with EINVAL for one
		 * segment that crosses a page: keep such a segment out of
		 * the batch and fail only it, so one bad value (from a
		 * guest, say) cannot fail its neighbours.
		 */
		for (; next < count && n < XEN_GCOPY_BATCH; next++) {
			if (!seg_in_page(&segs[next])) {
				segs[next].status = GNTST_bad_copy_arg;
				continue;
			}
			seg_to_lib(&segs[next], &g->scratch[n]);
			g->scratch_idx[n++] = next;
		}
		if (!n)
			break;
		errno = 0;
		if (xengnttab_grant_copy(g->xgt, n, g->scratch) != 0)
			return lib_errno();
		for (i = 0; i < n; i++)
			segs[g->scratch_idx[i]].status = g->scratch[i].status;
	}
	return 0;
}

static int evtchn_create(struct xb_hv *hv, struct xen_evtchn **out)
{
	struct xen_evtchn *e;
	int ret, fl;

	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	errno = 0;
	e->xce = xenevtchn_open(&quiet_logger, 0);
	if (!e->xce) {
		ret = lib_errno();
		goto err_free;
	}
	e->fd = xenevtchn_fd(e->xce);
	/*
	 * evtchn_pending must not block: with O_NONBLOCK the Linux evtchn
	 * driver's read fails with EAGAIN when nothing is pending. (Kernels
	 * before ~3.13 could still block; callers poll the fd first anyway.)
	 */
	fl = fcntl(e->fd, F_GETFL);
	if (fl < 0 || fcntl(e->fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		ret = -errno;
		goto err_close;
	}
	e->base.ops = &xb_hv_xen_ops;
	e->base.hv = hv;
	*out = e;
	return 0;

err_close:
	xenevtchn_close(e->xce);
err_free:
	free(e);
	return ret;
}

static void evtchn_destroy(struct xen_evtchn *e)
{
	xenevtchn_close(e->xce);
	free(e);
}

static int xen_evtchn_open(struct xb_hv *hv, struct xb_evtchn **out)
{
	struct xen_hv *x = (struct xen_hv *)hv;
	struct xen_evtchn *e;
	int ret;

	pthread_mutex_lock(&x->lock);
	e = x->free_evtchn;
	if (e)
		x->free_evtchn = e->next_free;
	pthread_mutex_unlock(&x->lock);
	if (!e) {
		ret = evtchn_create(hv, &e);
		if (ret)
			return ret;
	}
	e->next_free = NULL;
	*out = &e->base;
	return 0;
}

static void xen_evtchn_close(struct xb_evtchn *evt)
{
	struct xen_evtchn *e = (struct xen_evtchn *)evt;
	struct xen_hv *x = (struct xen_hv *)evt->hv;
	unsigned int i;

	pthread_mutex_lock(&x->lock);
	if (x->reserving) {
		/* Its ports are unbound; drop what they left pending so
		 * the next user's fd is not readable at once (bounded). */
		for (i = 0; i < 1024 && xenevtchn_pending(e->xce) >= 0; i++)
			;
		e->next_free = x->free_evtchn;
		x->free_evtchn = e;
		e = NULL;
	}
	pthread_mutex_unlock(&x->lock);
	if (e)
		evtchn_destroy(e);
}

static int xen_evtchn_fd(struct xb_evtchn *evt)
{
	return ((struct xen_evtchn *)evt)->fd;
}

static int xen_evtchn_bind(struct xb_evtchn *evt, domid_t domid,
			   evtchn_port_t remote_port, evtchn_port_t *local)
{
	struct xen_evtchn *e = (struct xen_evtchn *)evt;
	xenevtchn_port_or_error_t p;

	errno = 0;
	p = xenevtchn_bind_interdomain(e->xce, domid, remote_port);
	if (p < 0)
		return lib_errno();
	*local = (evtchn_port_t)p;
	return 0;
}

static int xen_evtchn_unbind(struct xb_evtchn *evt, evtchn_port_t port)
{
	struct xen_evtchn *e = (struct xen_evtchn *)evt;

	errno = 0;
	if (xenevtchn_unbind(e->xce, port) != 0)
		return lib_errno();
	return 0;
}

static int xen_evtchn_notify(struct xb_evtchn *evt, evtchn_port_t port)
{
	struct xen_evtchn *e = (struct xen_evtchn *)evt;

	errno = 0;
	if (xenevtchn_notify(e->xce, port) != 0)
		return lib_errno();
	return 0;
}

static int xen_evtchn_pending(struct xb_evtchn *evt, evtchn_port_t *port)
{
	struct xen_evtchn *e = (struct xen_evtchn *)evt;
	xenevtchn_port_or_error_t p;

	errno = 0;
	p = xenevtchn_pending(e->xce);
	if (p < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : lib_errno();
	*port = (evtchn_port_t)p;
	return 0;
}

static int xen_evtchn_unmask(struct xb_evtchn *evt, evtchn_port_t port)
{
	struct xen_evtchn *e = (struct xen_evtchn *)evt;

	errno = 0;
	if (xenevtchn_unmask(e->xce, port) != 0)
		return lib_errno();
	return 0;
}

static int xen_xs_open(struct xb_hv *hv, struct xs_handle **out)
{
	struct xs_handle *xs;

	errno = 0;
	xs = xs_open(0);
	if (!xs)
		return lib_errno();
	*out = xs;
	return 0;
}

static int xen_reserve(struct xb_hv *hv, unsigned int count)
{
	struct xen_hv *x = (struct xen_hv *)hv;
	struct xen_gnt *gl = NULL, *g;
	struct xen_evtchn *el = NULL, *e;
	unsigned int i;
	int ret = 0;

	for (i = 0; i < count && !ret; i++) {
		ret = gnt_create(hv, &g);
		if (ret)
			break;
		g->next_free = gl;
		gl = g;
		ret = evtchn_create(hv, &e);
		if (ret)
			break;
		e->next_free = el;
		el = e;
	}
	if (ret) {
		while ((g = gl)) {
			gl = g->next_free;
			gnt_destroy(g);
		}
		while ((e = el)) {
			el = e->next_free;
			evtchn_destroy(e);
		}
		return ret;
	}
	pthread_mutex_lock(&x->lock);
	while ((g = gl)) {
		gl = g->next_free;
		g->next_free = x->free_gnt;
		x->free_gnt = g;
	}
	while ((e = el)) {
		el = e->next_free;
		e->next_free = x->free_evtchn;
		x->free_evtchn = e;
	}
	x->reserving = true;
	pthread_mutex_unlock(&x->lock);
	return 0;
}

const struct xb_hv_ops xb_hv_xen_ops = {
	.name = "xen",
	.open = xen_open,
	.close = xen_close,
	.gnt_open = xen_gnt_open,
	.gnt_close = xen_gnt_close,
	.gnt_map = xen_gnt_map,
	.gnt_unmap = xen_gnt_unmap,
	.gnt_copy = xen_gnt_copy,
	.evtchn_open = xen_evtchn_open,
	.evtchn_close = xen_evtchn_close,
	.evtchn_fd = xen_evtchn_fd,
	.evtchn_bind = xen_evtchn_bind,
	.evtchn_unbind = xen_evtchn_unbind,
	.evtchn_notify = xen_evtchn_notify,
	.evtchn_pending = xen_evtchn_pending,
	.evtchn_unmask = xen_evtchn_unmask,
	.xs_open = xen_xs_open,
	.reserve = xen_reserve,
};
