/* SPDX-License-Identifier: MIT */
/* xensim domains: memory, grant table and lifecycle. Event channels are in
 * dom_evtchn.c. */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "uback/log.h"
#include "dom_priv.h"
#include "xs_server.h"

int sim_doms_create(struct xs_srv *xs, struct sim_doms **out)
{
	struct sim_doms *doms = calloc(1, sizeof(*doms));
	struct sim_dom *d0;

	if (!doms)
		return -ENOMEM;
	d0 = calloc(1, sizeof(*d0));
	if (!d0)
		goto err_doms;
	d0->ports = calloc(SIM_NR_PORTS, sizeof(*d0->ports));
	if (!d0->ports)
		goto err_d0;
	d0->id = 0;
	d0->memfd = -1;
	d0->shmfd = -1;
	snprintf(d0->name, sizeof(d0->name), "Domain-0");
	doms->xs = xs;
	doms->by_id[0] = d0;
	doms->next_id = 1;
	*out = doms;
	return 0;

err_d0:
	free(d0);
err_doms:
	free(doms);
	return -ENOMEM;
}

static void dom_free(struct sim_dom *d)
{
	if (d->shm)
		munmap(d->shm, d->shm->size);
	if (d->memfd >= 0)
		close(d->memfd);
	if (d->shmfd >= 0)
		close(d->shmfd);
	free(d->ports);
	free(d);
}

void sim_doms_destroy(struct sim_doms *doms)
{
	unsigned int i;

	if (!doms)
		return;
	for (i = 1; i < DOMID_FIRST_RESERVED; i++)
		if (doms->by_id[i])
			sim_dom_destroy(doms, (domid_t)i);
	sim_dom_close_ports(doms, doms->by_id[0]);
	dom_free(doms->by_id[0]);
	free(doms);
}

struct sim_dom *sim_dom_get(struct sim_doms *doms, uint32_t domid)
{
	if (domid >= DOMID_FIRST_RESERVED)
		return NULL;
	return doms->by_id[domid];
}

static int pick_id(struct sim_doms *doms, domid_t *id)
{
	unsigned int i, cand;

	/* Like Xen, do not reuse an id at once: keeps stale handles stale. */
	for (i = 0; i < DOMID_FIRST_RESERVED - 1; i++) {
		cand = doms->next_id + i;
		if (cand >= DOMID_FIRST_RESERVED)
			cand -= DOMID_FIRST_RESERVED - 1;
		if (!doms->by_id[cand]) {
			*id = (domid_t)cand;
			doms->next_id = cand + 1 >= DOMID_FIRST_RESERVED ?
					1 : cand + 1;
			return 0;
		}
	}
	return -ENOSPC;
}

static int make_memfd(const char *what, domid_t id, size_t size, int *out)
{
	char name[64];
	int fd, err;

	snprintf(name, sizeof(name), "xensim-dom%u-%s", id, what);
	fd = memfd_create(name, MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	*out = fd;
	return 0;
}

int sim_dom_create(struct sim_doms *doms, domid_t domid, uint32_t mem_pages,
		   uint32_t nr_grants, const char *name,
		   struct sim_dom_info *info)
{
	struct sim_shm_hdr layout = { 0 };
	struct sim_dom *d;
	int err;

	if (!mem_pages)
		mem_pages = SIM_DEFAULT_MEM_PAGES;
	if (!nr_grants)
		nr_grants = SIM_DEFAULT_GRANTS;
	if (mem_pages > SIM_MAX_MEM_PAGES || nr_grants > SIM_MAX_GRANTS ||
	    domid >= DOMID_FIRST_RESERVED)
		return -EINVAL;
	if (domid == 0) {
		err = pick_id(doms, &domid);
		if (err)
			return err;
	} else if (doms->by_id[domid]) {
		return -EEXIST;
	}

	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->memfd = -1;
	d->shmfd = -1;
	d->id = domid;
	d->instance = ++doms->instances;
	snprintf(d->name, sizeof(d->name), "%s", name && *name ? name : "");
	if (!d->name[0])
		snprintf(d->name, sizeof(d->name), "guest%u", domid);
	d->ports = calloc(SIM_NR_PORTS, sizeof(*d->ports));
	if (!d->ports) {
		err = -ENOMEM;
		goto err_free;
	}
	err = make_memfd("mem", domid, (size_t)mem_pages * SIM_PAGE_SIZE,
			 &d->memfd);
	if (err)
		goto err_free;
	sim_shm_layout(&layout, nr_grants);
	err = make_memfd("state", domid, layout.size, &d->shmfd);
	if (err)
		goto err_free;
	d->shm = mmap(NULL, layout.size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      d->shmfd, 0);
	if (d->shm == MAP_FAILED) {
		d->shm = NULL;
		err = -errno;
		goto err_free;
	}
	/* The memfd is zero-filled: grant entries start GTF_invalid. */
	d->shm->domid = domid;
	d->shm->instance = d->instance;
	d->shm->mem_pages = mem_pages;
	sim_shm_layout(d->shm, nr_grants);
	d->nr_grants = nr_grants;
	d->shm->version = SIM_SHM_VERSION;
	__atomic_store_n(&d->shm->magic, SIM_SHM_MAGIC, __ATOMIC_RELEASE);

	if (doms->xs) {
		err = xs_srv_domain_introduce(doms->xs, domid, d->name);
		if (err)
			goto err_free;
	}
	doms->by_id[domid] = d;
	xb_info("domain %u (%s) created: %u pages, %u grants", domid,
		d->name, mem_pages, nr_grants);
	info->domid = domid;
	info->instance = d->instance;
	info->memfd = d->memfd;
	info->shmfd = d->shmfd;
	return 0;

err_free:
	dom_free(d);
	return err;
}

int sim_dom_destroy(struct sim_doms *doms, domid_t domid)
{
	struct sim_dom *d = sim_dom_get(doms, domid);
	int err;

	if (!d)
		return -ESRCH;
	if (domid == 0)
		return -EPERM;
	/* Mappers check this before every map and copy. Pages already mapped
	 * stay valid: they hold their own references to the memfd. */
	__atomic_store_n(&d->shm->dying, 1, __ATOMIC_SEQ_CST);
	sim_dom_close_ports(doms, d);
	doms->by_id[domid] = NULL;
	if (doms->xs) {
		err = xs_srv_domain_release(doms->xs, domid);
		if (err)
			xb_warn("domain %u: xenstore release failed: %s",
				domid, strerror(-err));
	}
	xb_info("domain %u (%s) destroyed", domid, d->name);
	dom_free(d);
	return 0;
}

int sim_dom_open(struct sim_doms *doms, domid_t domid,
		 struct sim_dom_info *info)
{
	struct sim_dom *d = sim_dom_get(doms, domid);

	if (!d || !d->shm)
		return -ESRCH;
	info->domid = domid;
	info->instance = d->instance;
	info->memfd = d->memfd;
	info->shmfd = d->shmfd;
	return 0;
}

/* ---- pin ledgers ------------------------------------------------------- */

int sim_ledger_create(struct sim_doms *doms, domid_t domid,
		      struct sim_ledger **out)
{
	struct sim_dom *d = sim_dom_get(doms, domid);
	struct sim_ledger *l;
	int err;

	if (!d || !d->shm)
		return -ESRCH;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->domid = domid;
	l->instance = d->instance;
	l->nr_grants = d->nr_grants;
	l->size = sim_ledger_size(l->nr_grants);
	err = make_memfd("pins", domid, l->size, &l->fd);
	if (err)
		goto err_free;
	l->held = mmap(NULL, l->size, PROT_READ | PROT_WRITE, MAP_SHARED,
		       l->fd, 0);
	if (l->held == MAP_FAILED) {
		err = -errno;
		goto err_fd;
	}
	*out = l;
	return 0;

err_fd:
	close(l->fd);
err_free:
	free(l);
	return err;
}

/*
 * The per-grant lock, but given up after about 2 s: a client killed inside
 * its critical section leaves the lock held for good, and the daemon's
 * loop must not hang on it. A live holder keeps it a few instructions.
 */
static bool ledger_pin_lock(struct sim_pin *p)
{
	struct timespec ts = { .tv_nsec = 100 * 1000 };
	unsigned int tries;

	for (tries = 0; tries < 20000; tries++) {
		if (!__atomic_exchange_n(&p->lock, 1, __ATOMIC_ACQUIRE))
			return true;
		if (tries < 100)
			sched_yield();
		else
			nanosleep(&ts, NULL);
	}
	return false;
}

bool sim_ledger_live(struct sim_doms *doms, const struct sim_ledger *l)
{
	struct sim_dom *d = sim_dom_get(doms, l->domid);

	return d && d->shm && d->instance == l->instance;
}

void sim_ledger_release(struct sim_doms *doms, struct sim_ledger *l)
{
	struct sim_dom *d = sim_dom_get(doms, l->domid);
	struct sim_shm_hdr layout = { 0 };
	union sim_gnt_entry *gnt;
	struct sim_pin *pins;
	unsigned long dropped = 0, stuck = 0;
	uint32_t ref;

	if (!sim_ledger_live(doms, l))
		goto out;
	/* Our own layout, not the header's: clients can write the header. */
	sim_shm_layout(&layout, d->nr_grants);
	gnt = (union sim_gnt_entry *)((char *)d->shm + layout.gnt_off);
	pins = (struct sim_pin *)((char *)d->shm + layout.pin_off);
	for (ref = 0; ref < l->nr_grants; ref++) {
		struct sim_pin_held *h = &l->held[ref];
		struct sim_pin *p = &pins[ref];
		uint16_t rd, wr;

		if (!__atomic_load_n(&h->rd, __ATOMIC_RELAXED) &&
		    !__atomic_load_n(&h->wr, __ATOMIC_RELAXED))
			continue;
		if (!ledger_pin_lock(p)) {
			stuck++;
			continue;
		}
		/* The client wrote the ledger: never drop more than the
		 * global counts hold. */
		rd = h->rd < p->rd ? h->rd : p->rd;
		wr = h->wr < p->wr ? h->wr : p->wr;
		p->rd -= rd;
		p->wr -= wr;
		h->rd = 0;
		h->wr = 0;
		sim_pin_clear_unused(&gnt[ref], p);
		sim_pin_unlock(p);
		dropped += (unsigned long)rd + wr;
	}
	if (dropped)
		xb_info("domain %u: dropped %lu grant pins of a closed "
			"connection", l->domid, dropped);
	if (stuck)
		xb_warn("domain %u: %lu grants of a closed connection stay "
			"pinned: their lock is held", l->domid, stuck);
out:
	munmap(l->held, l->size);
	close(l->fd);
	free(l);
}
