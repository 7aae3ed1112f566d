/* SPDX-License-Identifier: MIT */
/*
 * The "sim" hypervisor provider: a client of the xensim simulator
 * (tools/xensim, docs/simulator.md). The control socket is used to find a
 * domain's shared state and to bind/unbind event channels; maps, copies
 * and notifications go straight to shared memory and eventfds.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "uback/sim_ctl_proto.h"
#include "hv_sim_priv.h"

/* ---- provider ---------------------------------------------------------- */

static int sim_open(const struct xb_hv_config *cfg, struct xb_hv **out)
{
	const char *dir = cfg->sim_dir ? cfg->sim_dir : getenv("XENSIM_DIR");
	struct sim_hv *hv;
	int n, err;

	if (!dir || !*dir)
		return -ENOENT;
	hv = calloc(1, sizeof(*hv));
	if (!hv)
		return -ENOMEM;
	hv->base.ops = &xb_hv_sim_ops;
	hv->self = cfg->sim_domid;
	n = snprintf(hv->dir, sizeof(hv->dir), "%s", dir);
	if (n < 0 || (size_t)n >= sizeof(hv->dir)) {
		err = -ENAMETOOLONG;
		goto err_free;
	}
	err = ctl_connect(hv->dir, &hv->ctl_fd);
	if (err)
		goto err_free;
	pthread_mutex_init(&hv->lock, NULL);
	*out = &hv->base;
	return 0;

err_free:
	free(hv);
	return err;
}

static void gdom_free(struct sim_gdom *d)
{
	size_t mem = (size_t)d->mem_pages * SIM_PAGE_SIZE;

	if (d->rw_base)
		munmap(d->rw_base, mem);
	if (d->ro_base)
		munmap(d->ro_base, mem);
	if (d->held)
		munmap(d->held, d->held_size);
	munmap(d->shm, d->shm_size);
	close(d->memfd);
	free(d);
}

static void sim_close(struct xb_hv *base)
{
	struct sim_hv *hv = to_sim_hv(base);
	struct sim_gdom *d, *next;

	/* Handles must be closed first; what is left is the cache. */
	for (d = hv->doms; d; d = next) {
		next = d->next;
		gdom_free(d);
	}
	close(hv->ctl_fd);
	pthread_mutex_destroy(&hv->lock);
	free(hv);
}

/* ---- domain cache ------------------------------------------------------ */

static void gdom_put_locked(struct sim_hv *hv, struct sim_gdom *d)
{
	struct sim_gdom **pp;

	if (--d->refs)
		return;
	for (pp = &hv->doms; *pp; pp = &(*pp)->next) {
		if (*pp == d) {
			*pp = d->next;
			break;
		}
	}
	gdom_free(d);
}

void sim_gdom_put(struct sim_hv *hv, struct sim_gdom *d)
{
	pthread_mutex_lock(&hv->lock);
	gdom_put_locked(hv, d);
	pthread_mutex_unlock(&hv->lock);
}

static int gdom_map(int memfd, int shmfd, struct sim_gdom **out)
{
	struct sim_gdom *d;
	struct stat st;
	size_t mem;
	int err;

	if (fstat(shmfd, &st) < 0)
		return -errno;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->memfd = memfd;
	d->shm_size = (size_t)st.st_size;
	d->shm = mmap(NULL, d->shm_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      shmfd, 0);
	if (d->shm == MAP_FAILED) {
		err = -errno;
		free(d);
		return err;
	}
	if (sim_shm_check(d->shm, d->shm_size)) {
		err = -EPROTO;
		goto err_shm;
	}
	d->domid = (domid_t)d->shm->domid;
	d->instance = d->shm->instance;
	d->nr_grants = d->shm->nr_grants;
	d->mem_pages = d->shm->mem_pages;
	d->gnt = sim_shm_grants(d->shm);
	d->pins = sim_shm_pins(d->shm);
	mem = (size_t)d->mem_pages * SIM_PAGE_SIZE;
	if (fstat(memfd, &st) < 0 || (size_t)st.st_size < mem) {
		err = -EPROTO;
		goto err_shm;
	}
	if (mem) {
		d->rw_base = mmap(NULL, mem, PROT_READ | PROT_WRITE,
				  MAP_SHARED, memfd, 0);
		if (d->rw_base == MAP_FAILED) {
			d->rw_base = NULL;
			err = -errno;
			goto err_shm;
		}
		d->ro_base = mmap(NULL, mem, PROT_READ, MAP_SHARED, memfd, 0);
		if (d->ro_base == MAP_FAILED) {
			d->ro_base = NULL;
			err = -errno;
			goto err_rw;
		}
	}
	*out = d;
	return 0;

err_rw:
	munmap(d->rw_base, mem);
err_shm:
	munmap(d->shm, d->shm_size);
	free(d);
	return err;
}

/*
 * Map this connection's pin ledger for @d: every pin we take is recorded
 * there so that the daemon can drop ours if we die. Under hv->lock.
 */
static int gdom_map_ledger(struct sim_hv *hv, struct sim_gdom *d)
{
	struct ctl_req req = { .op = CTL_DOM_LEDGER, .domid = d->domid };
	struct ctl_rep rep;
	struct stat st;
	int fds[CTL_MAX_FDS], err;
	void *p;

	err = ctl_call(hv->ctl_fd, &req, &rep, fds);
	if (err)
		return err == -EINVAL ? -ESRCH : err;
	if (rep.nfds != 1) {
		err = -EPROTO;
		goto out;
	}
	/* Destroyed and made again between the two calls. */
	if (rep.instance != d->instance) {
		err = -ESRCH;
		goto out;
	}
	d->held_size = sim_ledger_size(d->nr_grants);
	if (fstat(fds[0], &st) < 0) {
		err = -errno;
		goto out;
	}
	if ((size_t)st.st_size < d->held_size) {
		err = -EPROTO;
		goto out;
	}
	p = mmap(NULL, d->held_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		 fds[0], 0);
	if (p == MAP_FAILED) {
		err = -errno;
		goto out;
	}
	d->held = p;
	err = 0;
out:
	while (rep.nfds--)
		close(fds[rep.nfds]);
	return err;
}

int sim_gdom_get(struct sim_hv *hv, domid_t domid, struct sim_gdom **out)
{
	struct ctl_req req = { .op = CTL_DOM_OPEN, .domid = domid };
	struct ctl_rep rep;
	struct sim_gdom *d;
	int fds[CTL_MAX_FDS], err;

	pthread_mutex_lock(&hv->lock);
	for (d = hv->doms; d; d = d->next) {
		if (!d->cached || d->domid != domid)
			continue;
		if (!sim_gdom_dying(d)) {
			d->refs++;
			*out = d;
			pthread_mutex_unlock(&hv->lock);
			return 0;
		}
		/* Destroyed: drop it from the cache; maps keep it alive. */
		d->cached = false;
		gdom_put_locked(hv, d);
		break;
	}
	err = ctl_call(hv->ctl_fd, &req, &rep, fds);
	if (err) {
		pthread_mutex_unlock(&hv->lock);
		return err == -ESRCH || err == -EINVAL ? -ESRCH : err;
	}
	if (rep.nfds != 2) {
		err = -EPROTO;
		goto err_fds;
	}
	err = gdom_map(fds[0], fds[1], &d);
	if (err)
		goto err_fds;
	close(fds[1]);
	err = gdom_map_ledger(hv, d);
	if (err) {
		gdom_free(d);
		pthread_mutex_unlock(&hv->lock);
		return err;
	}
	d->cached = true;
	d->refs = 2;
	d->next = hv->doms;
	hv->doms = d;
	*out = d;
	pthread_mutex_unlock(&hv->lock);
	return 0;

err_fds:
	while (rep.nfds--)
		close(fds[rep.nfds]);
	pthread_mutex_unlock(&hv->lock);
	return err;
}

/* ---- event channels ---------------------------------------------------- */

/*
 * A port is masked by its epoll entry being disarmed: entries are
 * EPOLLONESHOT, so the epoll_wait that delivers a port masks it without a
 * system call of its own, and unmask re-arms it (level-triggered: what
 * came while masked is then reported). A delivery costs epoll_wait, read
 * and the unmask's epoll_ctl; evtchn_ack of a port pending never
 * delivered (the caller polled the epoll fd, which disarms nothing) only
 * the read.
 */
struct sim_port_slot {
	int recv_fd;               /* -1: not bound through this handle */
	int send_fd;
	bool masked;               /* delivered by pending, not unmasked */
};

struct sim_evtchn {
	struct xb_evtchn base;
	int epfd;
	struct sim_port_slot *ports;
	uint32_t nports;
};

static inline struct sim_evtchn *to_sim_evtchn(struct xb_evtchn *e)
{
	return (struct sim_evtchn *)e;
}

static int sim_evtchn_open(struct xb_hv *hv, struct xb_evtchn **out)
{
	struct sim_evtchn *e = calloc(1, sizeof(*e));
	int err;

	if (!e)
		return -ENOMEM;
	e->base.ops = &xb_hv_sim_ops;
	e->base.hv = hv;
	e->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (e->epfd < 0) {
		err = -errno;
		free(e);
		return err;
	}
	*out = &e->base;
	return 0;
}

static struct sim_port_slot *slot_get(struct sim_evtchn *e,
				      evtchn_port_t port)
{
	if (port >= e->nports || e->ports[port].recv_fd < 0)
		return NULL;
	return &e->ports[port];
}

static int slots_grow(struct sim_evtchn *e, evtchn_port_t port)
{
	struct sim_port_slot *n;
	uint32_t i, want;

	if (port < e->nports)
		return 0;
	if (port >= SIM_NR_PORTS)
		return -EPROTO;
	want = e->nports ? e->nports : 64;
	while (want <= port)
		want *= 2;
	n = realloc(e->ports, want * sizeof(*n));
	if (!n)
		return -ENOMEM;
	for (i = e->nports; i < want; i++) {
		n[i].recv_fd = -1;
		n[i].send_fd = -1;
		n[i].masked = false;
	}
	e->ports = n;
	e->nports = want;
	return 0;
}

static int ctl_close_port(struct sim_hv *hv, evtchn_port_t port)
{
	struct ctl_req req = {
		.op = CTL_EVTCHN_CLOSE, .domid = hv->self, .port = port,
	};
	struct ctl_rep rep;
	int fds[CTL_MAX_FDS], err;

	pthread_mutex_lock(&hv->lock);
	err = ctl_call(hv->ctl_fd, &req, &rep, fds);
	pthread_mutex_unlock(&hv->lock);
	return err;
}

static int sim_evtchn_bind(struct xb_evtchn *base, domid_t domid,
			   evtchn_port_t remote_port, evtchn_port_t *local)
{
	struct sim_evtchn *e = to_sim_evtchn(base);
	struct sim_hv *hv = to_sim_hv(base->hv);
	struct ctl_req req = {
		.op = CTL_EVTCHN_BIND, .domid = hv->self, .remote = domid,
		.port = remote_port,
	};
	struct epoll_event ev = { .events = EPOLLIN | EPOLLONESHOT };
	struct ctl_rep rep;
	int fds[CTL_MAX_FDS], err;

	pthread_mutex_lock(&hv->lock);
	err = ctl_call(hv->ctl_fd, &req, &rep, fds);
	pthread_mutex_unlock(&hv->lock);
	if (err)
		return err;
	if (rep.nfds != 2) {
		err = -EPROTO;
		goto err_fds;
	}
	err = slots_grow(e, rep.port);
	if (err)
		goto err_fds;
	ev.data.u32 = rep.port;
	if (epoll_ctl(e->epfd, EPOLL_CTL_ADD, fds[0], &ev) < 0) {
		err = -errno;
		goto err_fds;
	}
	e->ports[rep.port].recv_fd = fds[0];
	e->ports[rep.port].send_fd = fds[1];
	e->ports[rep.port].masked = false;
	*local = rep.port;
	return 0;

err_fds:
	while (rep.nfds--)
		close(fds[rep.nfds]);
	ctl_close_port(hv, rep.port);
	return err;
}

static void slot_release(struct sim_evtchn *e, struct sim_port_slot *s)
{
	/* DEL before close: the daemon holds the same eventfd open, so
	 * closing ours would not drop the epoll registration. */
	epoll_ctl(e->epfd, EPOLL_CTL_DEL, s->recv_fd, NULL);
	close(s->recv_fd);
	close(s->send_fd);
	s->recv_fd = -1;
	s->send_fd = -1;
	s->masked = false;
}

static int sim_evtchn_unbind(struct xb_evtchn *base, evtchn_port_t port)
{
	struct sim_evtchn *e = to_sim_evtchn(base);
	struct sim_port_slot *s = slot_get(e, port);
	int err;

	if (!s)
		return -EINVAL;
	slot_release(e, s);
	err = ctl_close_port(to_sim_hv(base->hv), port);
	/* The daemon loses track only if our connection died. */
	return err == -EINVAL ? 0 : err;
}

static void sim_evtchn_close(struct xb_evtchn *base)
{
	struct sim_evtchn *e = to_sim_evtchn(base);
	evtchn_port_t p;

	for (p = 0; p < e->nports; p++)
		if (e->ports[p].recv_fd >= 0)
			sim_evtchn_unbind(base, p);
	close(e->epfd);
	free(e->ports);
	free(e);
}

static int sim_evtchn_fd(struct xb_evtchn *base)
{
	return to_sim_evtchn(base)->epfd;
}

static int sim_evtchn_notify(struct xb_evtchn *base, evtchn_port_t port)
{
	struct sim_port_slot *s = slot_get(to_sim_evtchn(base), port);
	uint64_t one = 1;

	if (!s)
		return -EINVAL;
	/* If the peer closed, this eventfd has no reader left: harmless, as
	 * a send on an unbound port is on Xen. */
	if (write(s->send_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		return -errno;
	return 0;
}

static int sim_evtchn_pending(struct xb_evtchn *base, evtchn_port_t *port)
{
	struct sim_evtchn *e = to_sim_evtchn(base);
	struct epoll_event ev;
	struct sim_port_slot *s;
	uint64_t v;
	int n;

	do {
		n = epoll_wait(e->epfd, &ev, 1, 0);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0)
		return -EAGAIN;
	/* Delivered, hence masked (one-shot entry). */
	s = slot_get(e, ev.data.u32);
	if (!s)
		return -EAGAIN;
	s->masked = true;
	/* Drain: all notifications so far are one pending bit; one from
	 * now on stays in the counter until unmask. */
	if (read(s->recv_fd, &v, sizeof(v)) < 0) {
		/* EAGAIN: raced with nothing; still report the port */
	}
	*port = ev.data.u32;
	return 0;
}

static int sim_evtchn_unmask(struct xb_evtchn *base, evtchn_port_t port)
{
	struct sim_evtchn *e = to_sim_evtchn(base);
	struct sim_port_slot *s = slot_get(e, port);
	struct epoll_event ev = { .events = EPOLLIN | EPOLLONESHOT };

	if (!s)
		return -EINVAL;
	ev.data.u32 = port;
	if (epoll_ctl(e->epfd, EPOLL_CTL_MOD, s->recv_fd, &ev) < 0)
		return -errno;
	s->masked = false;
	return 0;
}

static int sim_evtchn_ack(struct xb_evtchn *base, evtchn_port_t port)
{
	struct sim_port_slot *s = slot_get(to_sim_evtchn(base), port);
	uint64_t v;

	if (!s)
		return -EINVAL;
	/* What was sent so far is one event, consumed here. A sender after
	 * this read finds the entry armed (or re-armed just below) and the
	 * fd fires; a stale entry on the epoll ready list is dropped by the
	 * next look at the epoll fd, which polls the eventfd again. */
	if (read(s->recv_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return -errno;
	if (s->masked)
		return sim_evtchn_unmask(base, port);
	return 0;
}

/* ---- xenstore ---------------------------------------------------------- */

static int sim_xs_open(struct xb_hv *base, struct xs_handle **out)
{
	struct sim_hv *hv = to_sim_hv(base);

	return ctl_xs_open(hv->dir, hv->self, out);
}

const struct xb_hv_ops xb_hv_sim_ops = {
	.name = "sim",
	.open = sim_open,
	.close = sim_close,
	.gnt_open = sim_gnt_open,
	.gnt_close = sim_gnt_close,
	.gnt_map = sim_gnt_map,
	.gnt_unmap = sim_gnt_unmap,
	.gnt_copy = sim_gnt_copy,
	.evtchn_open = sim_evtchn_open,
	.evtchn_close = sim_evtchn_close,
	.evtchn_fd = sim_evtchn_fd,
	.evtchn_bind = sim_evtchn_bind,
	.evtchn_unbind = sim_evtchn_unbind,
	.evtchn_notify = sim_evtchn_notify,
	.evtchn_pending = sim_evtchn_pending,
	.evtchn_unmask = sim_evtchn_unmask,
	.evtchn_ack = sim_evtchn_ack,
	.xs_open = sim_xs_open,
};
