/* SPDX-License-Identifier: MIT */
/*
 * xensim guest library: domains, memory, grants and event channels.
 * Toolstack and XenBus helpers (xenstore) are in guest_xs.c.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xensim/guest.h"
#include "uback/sim_ctl_proto.h"
#include "guest_priv.h"
#include "uback/sim_shm.h"

/* Refs 0..7 are reserved for the toolstack (console, xenstore), as in
 * Linux's grant table driver. */
#define GNT_FIRST_FREE 8u

struct xg_port {
	int recv_fd;                /* -1: not allocated by this dom */
	int send_fd;                /* peer's eventfd, -1 if unknown/none */
	uint32_t gen;               /* shm port_gen when send_fd was fetched */
};

struct xg_dom {
	struct xg_sim *sim;
	domid_t id;
	uint64_t instance;
	int memfd;
	char *mem;
	uint32_t mem_pages;
	struct sim_shm_hdr *shm;
	size_t shm_size;
	union sim_gnt_entry *gnt;
	uint32_t nr_grants;

	pthread_mutex_t lock;       /* everything below */
	uint8_t *page_used;
	uint32_t page_hint;
	uint8_t *gnt_used;
	uint32_t gnt_hint;
	int epfd;
	struct xg_port *ports;      /* [SIM_NR_PORTS] */
};

/* ---- connection ---------------------------------------------------------- */

int xg_sim_connect(const char *dir, struct xg_sim **out)
{
	struct xg_sim *sim;
	int n, err;

	if (!dir)
		dir = getenv("XENSIM_DIR");
	if (!dir || !*dir)
		return -ENOENT;
	sim = calloc(1, sizeof(*sim));
	if (!sim)
		return -ENOMEM;
	n = snprintf(sim->dir, sizeof(sim->dir), "%s", dir);
	if (n < 0 || (size_t)n >= sizeof(sim->dir)) {
		err = -ENAMETOOLONG;
		goto err_free;
	}
	err = ctl_connect(sim->dir, &sim->ctl_fd);
	if (err)
		goto err_free;
	pthread_mutex_init(&sim->lock, NULL);
	*out = sim;
	return 0;

err_free:
	free(sim);
	return err;
}

void xg_sim_disconnect(struct xg_sim *sim)
{
	if (!sim)
		return;
	close(sim->ctl_fd);
	pthread_mutex_destroy(&sim->lock);
	free(sim);
}

int xg_sim_call(struct xg_sim *sim, const struct ctl_req *req,
		struct ctl_rep *rep, int *fds)
{
	int err;

	pthread_mutex_lock(&sim->lock);
	err = ctl_call(sim->ctl_fd, req, rep, fds);
	pthread_mutex_unlock(&sim->lock);
	return err;
}

int xg_sim_xs_open(struct xg_sim *sim, struct xs_handle **out)
{
	return ctl_xs_open(sim->dir, 0, out);
}

/* ---- domains --------------------------------------------------------------- */

static void dom_unmap(struct xg_dom *dom)
{
	unsigned int p;

	if (dom->ports) {
		for (p = 0; p < SIM_NR_PORTS; p++) {
			if (dom->ports[p].recv_fd >= 0)
				close(dom->ports[p].recv_fd);
			if (dom->ports[p].send_fd >= 0)
				close(dom->ports[p].send_fd);
		}
	}
	free(dom->ports);
	if (dom->epfd >= 0)
		close(dom->epfd);
	free(dom->page_used);
	free(dom->gnt_used);
	if (dom->mem)
		munmap(dom->mem, (size_t)dom->mem_pages * SIM_PAGE_SIZE);
	if (dom->shm)
		munmap(dom->shm, dom->shm_size);
	if (dom->memfd >= 0)
		close(dom->memfd);
	pthread_mutex_destroy(&dom->lock);
	free(dom);
}

static int dom_map(struct xg_dom *dom, int shmfd)
{
	struct stat st;
	unsigned int p;

	if (fstat(shmfd, &st) < 0)
		return -errno;
	dom->shm_size = (size_t)st.st_size;
	dom->shm = mmap(NULL, dom->shm_size, PROT_READ | PROT_WRITE,
			MAP_SHARED, shmfd, 0);
	if (dom->shm == MAP_FAILED) {
		dom->shm = NULL;
		return -errno;
	}
	if (sim_shm_check(dom->shm, dom->shm_size))
		return -EPROTO;
	dom->mem_pages = dom->shm->mem_pages;
	dom->nr_grants = dom->shm->nr_grants;
	dom->gnt = sim_shm_grants(dom->shm);
	dom->mem = mmap(NULL, (size_t)dom->mem_pages * SIM_PAGE_SIZE,
			PROT_READ | PROT_WRITE, MAP_SHARED, dom->memfd, 0);
	if (dom->mem == MAP_FAILED) {
		dom->mem = NULL;
		return -errno;
	}
	dom->page_used = calloc(dom->mem_pages, 1);
	dom->gnt_used = calloc(dom->nr_grants ? dom->nr_grants : 1, 1);
	dom->ports = malloc(SIM_NR_PORTS * sizeof(*dom->ports));
	if (!dom->page_used || !dom->gnt_used || !dom->ports)
		return -ENOMEM;
	for (p = 0; p < SIM_NR_PORTS; p++) {
		dom->ports[p].recv_fd = -1;
		dom->ports[p].send_fd = -1;
		dom->ports[p].gen = 0;
	}
	dom->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (dom->epfd < 0)
		return -errno;
	dom->gnt_hint = GNT_FIRST_FREE;
	return 0;
}

int xg_dom_create(struct xg_sim *sim, const struct xg_dom_config *cfg,
		  struct xg_dom **out)
{
	struct ctl_req req = {
		.op = CTL_DOM_CREATE,
		.domid = cfg->domid,
		.mem_pages = cfg->mem_pages,
		.nr_grants = cfg->nr_grants,
	};
	struct ctl_req destroy = { .op = CTL_DOM_DESTROY };
	struct ctl_rep rep;
	struct xg_dom *dom;
	int fds[CTL_MAX_FDS], err;

	if (cfg->name) {
		if (strlen(cfg->name) >= sizeof(req.name))
			return -ENAMETOOLONG;
		strcpy(req.name, cfg->name);
	}
	dom = calloc(1, sizeof(*dom));
	if (!dom)
		return -ENOMEM;
	dom->memfd = -1;
	dom->epfd = -1;
	pthread_mutex_init(&dom->lock, NULL);
	err = xg_sim_call(sim, &req, &rep, fds);
	if (err)
		goto err_free;
	if (rep.nfds != 2) {
		while (rep.nfds--)
			close(fds[rep.nfds]);
		err = -EPROTO;
		goto err_destroy;
	}
	dom->sim = sim;
	dom->id = (domid_t)rep.domid;
	dom->instance = rep.instance;
	dom->memfd = fds[0];
	err = dom_map(dom, fds[1]);
	close(fds[1]);
	if (err)
		goto err_destroy;
	*out = dom;
	return 0;

err_destroy:
	destroy.domid = rep.domid;
	xg_sim_call(sim, &destroy, &rep, fds);
err_free:
	dom_unmap(dom);
	return err;
}

domid_t xg_dom_id(const struct xg_dom *dom)
{
	return dom->id;
}

int xg_dom_destroy(struct xg_dom *dom)
{
	struct ctl_req req = { .op = CTL_DOM_DESTROY, .domid = dom->id };
	struct ctl_rep rep;
	int fds[CTL_MAX_FDS], err;

	err = xg_sim_call(dom->sim, &req, &rep, fds);
	/* The daemon closed the domain's ports; ours are just descriptors. */
	dom_unmap(dom);
	return err;
}

void xg_dom_release(struct xg_dom *dom)
{
	if (dom)
		dom_unmap(dom);
}

int xg_dom_xs_open(struct xg_dom *dom, struct xs_handle **out)
{
	return ctl_xs_open(dom->sim->dir, dom->id, out);
}

/* ---- memory ------------------------------------------------------------------ */

int xg_pages_alloc(struct xg_dom *dom, uint32_t count, xen_pfn_t *gfns)
{
	uint32_t got = 0, i, g;

	pthread_mutex_lock(&dom->lock);
	for (i = 0; i < dom->mem_pages && got < count; i++) {
		g = (dom->page_hint + i) % dom->mem_pages;
		if (!dom->page_used[g]) {
			dom->page_used[g] = 1;
			gfns[got++] = g;
		}
	}
	if (got < count) {
		for (i = 0; i < got; i++)
			dom->page_used[gfns[i]] = 0;
		pthread_mutex_unlock(&dom->lock);
		return -ENOMEM;
	}
	if (count)
		dom->page_hint = (uint32_t)((gfns[count - 1] + 1) %
					    dom->mem_pages);
	pthread_mutex_unlock(&dom->lock);
	return 0;
}

void xg_pages_free(struct xg_dom *dom, uint32_t count, const xen_pfn_t *gfns)
{
	uint32_t i;

	pthread_mutex_lock(&dom->lock);
	for (i = 0; i < count; i++)
		if (gfns[i] < dom->mem_pages)
			dom->page_used[gfns[i]] = 0;
	pthread_mutex_unlock(&dom->lock);
}

void *xg_page_ptr(struct xg_dom *dom, xen_pfn_t gfn)
{
	if (gfn >= dom->mem_pages)
		return NULL;
	return dom->mem + (size_t)gfn * SIM_PAGE_SIZE;
}

/* ---- grants -------------------------------------------------------------------- */

int xg_grant_access(struct xg_dom *dom, domid_t grantee, xen_pfn_t gfn,
		    bool readonly, grant_ref_t *ref)
{
	union sim_gnt_entry *e;
	uint32_t i, r = 0, span;

	if (gfn >= dom->mem_pages)
		return -EINVAL;
	span = dom->nr_grants > GNT_FIRST_FREE ?
	       dom->nr_grants - GNT_FIRST_FREE : 0;
	pthread_mutex_lock(&dom->lock);
	for (i = 0; i < span; i++) {
		r = GNT_FIRST_FREE + (dom->gnt_hint - GNT_FIRST_FREE + i) % span;
		if (!dom->gnt_used[r])
			break;
	}
	if (i == span) {
		pthread_mutex_unlock(&dom->lock);
		return -ENOSPC;
	}
	dom->gnt_used[r] = 1;
	dom->gnt_hint = r + 1 < dom->nr_grants ? r + 1 : GNT_FIRST_FREE;
	pthread_mutex_unlock(&dom->lock);

	e = &dom->gnt[r];
	/* As a Linux guest: frame and domid first, flags last. */
	__atomic_store_n(&e->w.frame, (uint32_t)gfn, __ATOMIC_RELAXED);
	__atomic_store_n(&e->e.domid, grantee, __ATOMIC_RELAXED);
	__atomic_store_n(&e->e.flags,
			 (uint16_t)(GTF_permit_access |
				    (readonly ? GTF_readonly : 0)),
			 __ATOMIC_RELEASE);
	*ref = r;
	return 0;
}

int xg_grant_end(struct xg_dom *dom, grant_ref_t ref)
{
	union sim_gnt_entry *e;
	uint16_t flags;

	if (ref >= dom->nr_grants)
		return -EINVAL;
	e = &dom->gnt[ref];
	flags = __atomic_load_n(&e->e.flags, __ATOMIC_ACQUIRE);
	do {
		if (flags & (GTF_reading | GTF_writing))
			return -EBUSY;
	} while (!__atomic_compare_exchange_n(&e->e.flags, &flags, 0, false,
					      __ATOMIC_SEQ_CST,
					      __ATOMIC_ACQUIRE));
	pthread_mutex_lock(&dom->lock);
	dom->gnt_used[ref] = 0;
	pthread_mutex_unlock(&dom->lock);
	return 0;
}

int xg_grant_set_raw(struct xg_dom *dom, grant_ref_t ref, uint16_t flags,
		     domid_t domid, uint32_t frame)
{
	union sim_gnt_entry *e;

	if (ref >= dom->nr_grants)
		return -EINVAL;
	e = &dom->gnt[ref];
	__atomic_store_n(&e->w.frame, frame, __ATOMIC_RELAXED);
	__atomic_store_n(&e->w.word, (uint32_t)flags | ((uint32_t)domid << 16),
			 __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return 0;
}

int xg_grant_get_raw(struct xg_dom *dom, grant_ref_t ref, uint16_t *flags,
		     domid_t *domid, uint32_t *frame)
{
	union sim_gnt_entry *e;
	uint32_t w;

	if (ref >= dom->nr_grants)
		return -EINVAL;
	e = &dom->gnt[ref];
	w = __atomic_load_n(&e->w.word, __ATOMIC_ACQUIRE);
	if (flags)
		*flags = sim_gnt_word_flags(w);
	if (domid)
		*domid = sim_gnt_word_domid(w);
	if (frame)
		*frame = __atomic_load_n(&e->w.frame, __ATOMIC_ACQUIRE);
	return 0;
}

uint32_t xg_grant_count(const struct xg_dom *dom)
{
	return dom->nr_grants;
}

/* ---- event channels -------------------------------------------------------------- */

int xg_evtchn_alloc_unbound(struct xg_dom *dom, domid_t remote,
			    evtchn_port_t *port)
{
	struct ctl_req req = {
		.op = CTL_EVTCHN_ALLOC_UNBOUND, .domid = dom->id,
		.remote = remote,
	};
	struct ctl_req close_req = { .op = CTL_EVTCHN_CLOSE, .domid = dom->id };
	struct epoll_event ev = { .events = EPOLLIN };
	struct ctl_rep rep;
	int fds[CTL_MAX_FDS], err;

	pthread_mutex_lock(&dom->lock);
	err = xg_sim_call(dom->sim, &req, &rep, fds);
	if (err)
		goto out;
	if (rep.nfds != 1 || rep.port == 0 || rep.port >= SIM_NR_PORTS ||
	    dom->ports[rep.port].recv_fd >= 0) {
		while (rep.nfds--)
			close(fds[rep.nfds]);
		err = -EPROTO;
		goto err_close;
	}
	ev.data.u32 = rep.port;
	if (epoll_ctl(dom->epfd, EPOLL_CTL_ADD, fds[0], &ev) < 0) {
		err = -errno;
		close(fds[0]);
		goto err_close;
	}
	dom->ports[rep.port].recv_fd = fds[0];
	dom->ports[rep.port].send_fd = -1;
	dom->ports[rep.port].gen = rep.gen;
	*port = rep.port;
	goto out;

err_close:
	close_req.port = rep.port;
	xg_sim_call(dom->sim, &close_req, &rep, fds);
out:
	pthread_mutex_unlock(&dom->lock);
	return err;
}

static struct xg_port *port_get(struct xg_dom *dom, evtchn_port_t port)
{
	if (port == 0 || port >= SIM_NR_PORTS ||
	    dom->ports[port].recv_fd < 0)
		return NULL;
	return &dom->ports[port];
}

int xg_evtchn_close(struct xg_dom *dom, evtchn_port_t port)
{
	struct ctl_req req = {
		.op = CTL_EVTCHN_CLOSE, .domid = dom->id, .port = port,
	};
	struct ctl_rep rep;
	struct xg_port *p;
	int fds[CTL_MAX_FDS], err;

	pthread_mutex_lock(&dom->lock);
	p = port_get(dom, port);
	if (!p) {
		err = -EINVAL;
		goto out;
	}
	epoll_ctl(dom->epfd, EPOLL_CTL_DEL, p->recv_fd, NULL);
	close(p->recv_fd);
	if (p->send_fd >= 0)
		close(p->send_fd);
	p->recv_fd = -1;
	p->send_fd = -1;
	err = xg_sim_call(dom->sim, &req, &rep, fds);
out:
	pthread_mutex_unlock(&dom->lock);
	return err;
}

/* Refresh the peer eventfd of @p if the daemon changed the binding. */
static int port_refresh(struct xg_dom *dom, evtchn_port_t port,
			struct xg_port *p)
{
	struct ctl_req req = {
		.op = CTL_EVTCHN_INFO, .domid = dom->id, .port = port,
	};
	struct ctl_rep rep;
	int fds[CTL_MAX_FDS], err;

	if (__atomic_load_n(&dom->shm->port_gen[port], __ATOMIC_ACQUIRE) ==
	    p->gen)
		return 0;
	err = xg_sim_call(dom->sim, &req, &rep, fds);
	if (err)
		return err;
	if (p->send_fd >= 0)
		close(p->send_fd);
	p->send_fd = rep.nfds == 1 ? fds[0] : -1;
	if (rep.nfds > 1) {
		while (rep.nfds-- > 1)
			close(fds[rep.nfds]);
	}
	p->gen = rep.gen;
	return 0;
}

int xg_evtchn_notify(struct xg_dom *dom, evtchn_port_t port)
{
	struct xg_port *p;
	uint64_t one = 1;
	int err;

	pthread_mutex_lock(&dom->lock);
	p = port_get(dom, port);
	if (!p) {
		err = -EINVAL;
		goto out;
	}
	err = port_refresh(dom, port, p);
	/* Unbound: dropped silently, as EVTCHNOP_send does. */
	if (!err && p->send_fd >= 0 &&
	    write(p->send_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		err = -errno;
out:
	pthread_mutex_unlock(&dom->lock);
	return err;
}

int xg_evtchn_fd(struct xg_dom *dom)
{
	return dom->epfd;
}

int xg_evtchn_pending(struct xg_dom *dom, evtchn_port_t *port)
{
	struct epoll_event ev, off = { .events = 0 };
	struct xg_port *p;
	uint64_t v;
	int n, err = 0;

	pthread_mutex_lock(&dom->lock);
	do {
		n = epoll_wait(dom->epfd, &ev, 1, 0);
	} while (n < 0 && errno == EINTR);
	if (n <= 0) {
		err = n < 0 ? -errno : -EAGAIN;
		goto out;
	}
	p = port_get(dom, ev.data.u32);
	if (!p) {
		err = -EAGAIN;
		goto out;
	}
	if (read(p->recv_fd, &v, sizeof(v)) < 0) {
		/* already drained: still one pending event */
	}
	off.data.u32 = ev.data.u32;
	epoll_ctl(dom->epfd, EPOLL_CTL_MOD, p->recv_fd, &off);
	*port = ev.data.u32;
out:
	pthread_mutex_unlock(&dom->lock);
	return err;
}

int xg_evtchn_unmask(struct xg_dom *dom, evtchn_port_t port)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct xg_port *p;
	int err = 0;

	pthread_mutex_lock(&dom->lock);
	p = port_get(dom, port);
	if (!p) {
		err = -EINVAL;
		goto out;
	}
	ev.data.u32 = port;
	if (epoll_ctl(dom->epfd, EPOLL_CTL_MOD, p->recv_fd, &ev) < 0)
		err = -errno;
out:
	pthread_mutex_unlock(&dom->lock);
	return err;
}
