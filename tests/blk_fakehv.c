/* SPDX-License-Identifier: MIT */
/* In-process fake hypervisor for blkback unit tests: see blk_fakehv.h. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "blk_fakehv.h"

#define FAKE_NR_GRANTS 8192
#define FAKE_NR_PORTS 64

struct fake_evtchn {
	struct xb_evtchn base;
	struct fake_hv *f;
	int efd;
	uint64_t pending;      /* bit per port */
};

struct fake_gnt {
	struct xb_gnt base;
	struct fake_hv *f;
};

struct fake_port {
	bool allocated;
	struct fake_evtchn *be;   /* bound backend handle */
	uint64_t notifies;
};

struct fake_hv {
	struct xb_hv base;
	pthread_mutex_t lock;
	int memfd;
	uint8_t *mem;
	uint32_t pages;
	struct {
		uint16_t flags;
		domid_t domid;
		uint32_t frame;
	} gnt[FAKE_NR_GRANTS];
	uint32_t next_ref;
	bool dead;
	struct fake_port ports[FAKE_NR_PORTS];
	int64_t mapped;
	uint64_t map_calls;
	uint64_t copy_calls;
};

static const struct xb_hv_ops fake_ops;

static struct fake_hv *hv_of(struct xb_hv *hv)
{
	return (struct fake_hv *)hv;
}

int fake_hv_create(uint32_t pages, struct fake_hv **out)
{
	struct fake_hv *f = calloc(1, sizeof(*f));

	if (!f)
		return -ENOMEM;
	f->base.ops = &fake_ops;
	pthread_mutex_init(&f->lock, NULL);
	f->pages = pages;
	f->next_ref = 1;
	f->memfd = memfd_create("fake-guest", MFD_CLOEXEC);
	if (f->memfd < 0 || ftruncate(f->memfd, (off_t)pages * 4096) < 0)
		goto err;
	f->mem = mmap(NULL, (size_t)pages * 4096, PROT_READ | PROT_WRITE,
		      MAP_SHARED, f->memfd, 0);
	if (f->mem == MAP_FAILED)
		goto err;
	*out = f;
	return 0;
err:
	if (f->memfd >= 0)
		close(f->memfd);
	free(f);
	return -ENOMEM;
}

void fake_hv_destroy(struct fake_hv *f)
{
	if (!f)
		return;
	munmap(f->mem, (size_t)f->pages * 4096);
	close(f->memfd);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

struct xb_hv *fake_hv_base(struct fake_hv *f)
{
	return &f->base;
}

void *fake_page(struct fake_hv *f, uint32_t gfn)
{
	return gfn < f->pages ? f->mem + (size_t)gfn * 4096 : NULL;
}

grant_ref_t fake_grant_to(struct fake_hv *f, uint32_t gfn, domid_t grantee,
			  bool readonly)
{
	grant_ref_t ref;

	pthread_mutex_lock(&f->lock);
	ref = f->next_ref++;
	if (ref < FAKE_NR_GRANTS) {
		f->gnt[ref].frame = gfn;
		f->gnt[ref].domid = grantee;
		f->gnt[ref].flags = GTF_permit_access |
				    (readonly ? GTF_readonly : 0);
	}
	pthread_mutex_unlock(&f->lock);
	return ref;
}

grant_ref_t fake_grant(struct fake_hv *f, uint32_t gfn, bool readonly)
{
	return fake_grant_to(f, gfn, FAKE_BACKEND, readonly);
}

void fake_revoke(struct fake_hv *f, grant_ref_t ref)
{
	pthread_mutex_lock(&f->lock);
	if (ref < FAKE_NR_GRANTS)
		f->gnt[ref].flags = 0;
	pthread_mutex_unlock(&f->lock);
}

void fake_kill(struct fake_hv *f)
{
	pthread_mutex_lock(&f->lock);
	f->dead = true;
	pthread_mutex_unlock(&f->lock);
}

evtchn_port_t fake_evtchn_alloc(struct fake_hv *f)
{
	evtchn_port_t p;

	pthread_mutex_lock(&f->lock);
	for (p = 1; p < FAKE_NR_PORTS; p++)
		if (!f->ports[p].allocated)
			break;
	if (p < FAKE_NR_PORTS)
		f->ports[p].allocated = true;
	pthread_mutex_unlock(&f->lock);
	return p;
}

void fake_kick(struct fake_hv *f, evtchn_port_t port)
{
	uint64_t one = 1;
	int fd = -1;

	pthread_mutex_lock(&f->lock);
	if (port < FAKE_NR_PORTS && f->ports[port].be) {
		f->ports[port].be->pending |= 1ull << port;
		fd = f->ports[port].be->efd;
	}
	if (fd >= 0 && write(fd, &one, sizeof(one)) < 0) {
		/* counter saturated: still readable */
	}
	pthread_mutex_unlock(&f->lock);
}

uint64_t fake_notifies(struct fake_hv *f, evtchn_port_t port)
{
	uint64_t n;

	pthread_mutex_lock(&f->lock);
	n = port < FAKE_NR_PORTS ? f->ports[port].notifies : 0;
	pthread_mutex_unlock(&f->lock);
	return n;
}

int64_t fake_pages_mapped(struct fake_hv *f)
{
	int64_t n;

	pthread_mutex_lock(&f->lock);
	n = f->mapped;
	pthread_mutex_unlock(&f->lock);
	return n;
}

uint64_t fake_map_calls(struct fake_hv *f)
{
	uint64_t n;

	pthread_mutex_lock(&f->lock);
	n = f->map_calls;
	pthread_mutex_unlock(&f->lock);
	return n;
}

uint32_t fake_ports_bound(struct fake_hv *f)
{
	uint32_t p, n = 0;

	pthread_mutex_lock(&f->lock);
	for (p = 0; p < FAKE_NR_PORTS; p++)
		n += f->ports[p].be != NULL;
	pthread_mutex_unlock(&f->lock);
	return n;
}

/* ---- ops ---- */

static int f_open(const struct xb_hv_config *cfg, struct xb_hv **out)
{
	return -ENOTSUP;
}

static void f_close(struct xb_hv *hv)
{
}

static int f_gnt_open(struct xb_hv *hv, struct xb_gnt **out)
{
	struct fake_gnt *g = calloc(1, sizeof(*g));

	if (!g)
		return -ENOMEM;
	g->base.ops = &fake_ops;
	g->base.hv = hv;
	g->f = hv_of(hv);
	*out = &g->base;
	return 0;
}

static void f_gnt_close(struct xb_gnt *g)
{
	free(g);
}

static int f_gnt_map(struct xb_gnt *xg, domid_t domid, uint32_t count,
		     const grant_ref_t *refs, bool readonly, void **addr)
{
	struct fake_hv *f = ((struct fake_gnt *)xg)->f;
	uint8_t *area;
	uint32_t i;
	int ret = 0;

	if (!count || count > 4096)
		return -EINVAL;
	area = mmap(NULL, (size_t)count * 4096, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED)
		return -ENOMEM;
	pthread_mutex_lock(&f->lock);
	f->map_calls++;
	if (f->dead || domid != FAKE_GUEST) {
		ret = -ESRCH;
		goto out;
	}
	for (i = 0; i < count; i++) {
		grant_ref_t r = refs[i];
		void *p;

		if (r >= FAKE_NR_GRANTS ||
		    !(f->gnt[r].flags & GTF_permit_access) ||
		    f->gnt[r].domid != FAKE_BACKEND ||
		    f->gnt[r].frame >= f->pages ||
		    (!readonly && (f->gnt[r].flags & GTF_readonly))) {
			ret = -EINVAL;
			goto out;
		}
		p = mmap(area + (size_t)i * 4096, 4096,
			 PROT_READ | (readonly ? 0 : PROT_WRITE),
			 MAP_SHARED | MAP_FIXED, f->memfd,
			 (off_t)f->gnt[r].frame * 4096);
		if (p == MAP_FAILED) {
			ret = -ENOMEM;
			goto out;
		}
	}
	f->mapped += count;
out:
	pthread_mutex_unlock(&f->lock);
	if (ret) {
		munmap(area, (size_t)count * 4096);
		return ret;
	}
	*addr = area;
	return 0;
}

static int f_gnt_unmap(struct xb_gnt *xg, void *addr, uint32_t count)
{
	struct fake_hv *f = ((struct fake_gnt *)xg)->f;

	if (munmap(addr, (size_t)count * 4096) < 0)
		return -errno;
	pthread_mutex_lock(&f->lock);
	f->mapped -= count;
	pthread_mutex_unlock(&f->lock);
	return 0;
}

/* The guest page behind @ref if the backend may access it (@write: and
 * write it); NULL with a GNTST_* in *st otherwise. Locked by the caller. */
static uint8_t *copy_page(struct fake_hv *f, grant_ref_t ref, domid_t domid,
			  bool write, int16_t *st)
{
	if (f->dead || domid != FAKE_GUEST) {
		*st = GNTST_bad_domain;
		return NULL;
	}
	if (ref >= FAKE_NR_GRANTS || !(f->gnt[ref].flags & GTF_permit_access) ||
	    f->gnt[ref].domid != FAKE_BACKEND || f->gnt[ref].frame >= f->pages) {
		*st = GNTST_bad_gntref;
		return NULL;
	}
	if (write && (f->gnt[ref].flags & GTF_readonly)) {
		*st = GNTST_permission_denied;
		return NULL;
	}
	return f->mem + (size_t)f->gnt[ref].frame * 4096;
}

static int f_gnt_copy(struct xb_gnt *xg, uint32_t count,
		      struct xb_gcopy_seg *segs)
{
	struct fake_hv *f = ((struct fake_gnt *)xg)->f;
	uint32_t i;

	pthread_mutex_lock(&f->lock);
	f->copy_calls++;
	for (i = 0; i < count; i++) {
		struct xb_gcopy_seg *c = &segs[i];
		uint8_t *src, *dst;
		int16_t st = GNTST_okay;

		if (c->flags & GNTCOPY_source_gref) {
			src = copy_page(f, c->source.foreign.ref,
					c->source.foreign.domid, false, &st);
			if (src)
				src += c->source.foreign.offset;
			if (c->source.foreign.offset + c->len > 4096)
				st = GNTST_bad_copy_arg;
		} else {
			src = c->source.virt;
		}
		if (c->flags & GNTCOPY_dest_gref) {
			dst = copy_page(f, c->dest.foreign.ref,
					c->dest.foreign.domid, true, &st);
			if (dst)
				dst += c->dest.foreign.offset;
			if (c->dest.foreign.offset + c->len > 4096)
				st = GNTST_bad_copy_arg;
		} else {
			dst = c->dest.virt;
		}
		if (st == GNTST_okay && src && dst)
			memcpy(dst, src, c->len);
		c->status = st;
	}
	pthread_mutex_unlock(&f->lock);
	return 0;
}

uint64_t fake_copy_calls(struct fake_hv *f)
{
	uint64_t n;

	pthread_mutex_lock(&f->lock);
	n = f->copy_calls;
	pthread_mutex_unlock(&f->lock);
	return n;
}

static int f_evtchn_open(struct xb_hv *hv, struct xb_evtchn **out)
{
	struct fake_evtchn *e = calloc(1, sizeof(*e));

	if (!e)
		return -ENOMEM;
	e->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (e->efd < 0) {
		free(e);
		return -EMFILE;
	}
	e->base.ops = &fake_ops;
	e->base.hv = hv;
	e->f = hv_of(hv);
	*out = &e->base;
	return 0;
}

static void f_evtchn_close(struct xb_evtchn *xe)
{
	struct fake_evtchn *e = (struct fake_evtchn *)xe;
	evtchn_port_t p;

	pthread_mutex_lock(&e->f->lock);
	for (p = 0; p < FAKE_NR_PORTS; p++)
		if (e->f->ports[p].be == e)
			e->f->ports[p].be = NULL;
	pthread_mutex_unlock(&e->f->lock);
	close(e->efd);
	free(e);
}

static int f_evtchn_fd(struct xb_evtchn *xe)
{
	return ((struct fake_evtchn *)xe)->efd;
}

static int f_evtchn_bind(struct xb_evtchn *xe, domid_t domid,
			 evtchn_port_t remote, evtchn_port_t *local)
{
	struct fake_evtchn *e = (struct fake_evtchn *)xe;
	int ret = 0;

	pthread_mutex_lock(&e->f->lock);
	if (domid != FAKE_GUEST || e->f->dead)
		ret = -ESRCH;
	else if (remote >= FAKE_NR_PORTS || !e->f->ports[remote].allocated ||
		 e->f->ports[remote].be)
		ret = -EINVAL;
	else
		e->f->ports[remote].be = e;
	pthread_mutex_unlock(&e->f->lock);
	if (!ret)
		*local = remote;
	return ret;
}

static int f_evtchn_unbind(struct xb_evtchn *xe, evtchn_port_t port)
{
	struct fake_evtchn *e = (struct fake_evtchn *)xe;
	int ret = -EINVAL;

	pthread_mutex_lock(&e->f->lock);
	if (port < FAKE_NR_PORTS && e->f->ports[port].be == e) {
		e->f->ports[port].be = NULL;
		ret = 0;
	}
	pthread_mutex_unlock(&e->f->lock);
	return ret;
}

static int f_evtchn_notify(struct xb_evtchn *xe, evtchn_port_t port)
{
	struct fake_evtchn *e = (struct fake_evtchn *)xe;
	int ret = -EINVAL;

	pthread_mutex_lock(&e->f->lock);
	if (port < FAKE_NR_PORTS && e->f->ports[port].be == e && !e->f->dead) {
		e->f->ports[port].notifies++;
		ret = 0;
	}
	pthread_mutex_unlock(&e->f->lock);
	return ret;
}

static int f_evtchn_pending(struct xb_evtchn *xe, evtchn_port_t *port)
{
	struct fake_evtchn *e = (struct fake_evtchn *)xe;
	uint64_t v;
	int ret = -EAGAIN;

	if (read(e->efd, &v, sizeof(v)) < 0) {
		/* nothing queued: look at the bits anyway */
	}
	pthread_mutex_lock(&e->f->lock);
	if (e->pending) {
		*port = (evtchn_port_t)__builtin_ctzll(e->pending);
		e->pending &= e->pending - 1;
		ret = 0;
	}
	pthread_mutex_unlock(&e->f->lock);
	return ret;
}

static int f_evtchn_unmask(struct xb_evtchn *e, evtchn_port_t port)
{
	return 0;
}

static int f_xs_open(struct xb_hv *hv, struct xs_handle **out)
{
	return -ENOTSUP;
}

static const struct xb_hv_ops fake_ops = {
	.name = "fake",
	.open = f_open,
	.close = f_close,
	.gnt_open = f_gnt_open,
	.gnt_close = f_gnt_close,
	.gnt_map = f_gnt_map,
	.gnt_unmap = f_gnt_unmap,
	.gnt_copy = f_gnt_copy,
	.evtchn_open = f_evtchn_open,
	.evtchn_close = f_evtchn_close,
	.evtchn_fd = f_evtchn_fd,
	.evtchn_bind = f_evtchn_bind,
	.evtchn_unbind = f_evtchn_unbind,
	.evtchn_notify = f_evtchn_notify,
	.evtchn_pending = f_evtchn_pending,
	.evtchn_unmask = f_evtchn_unmask,
	.xs_open = f_xs_open,
};
