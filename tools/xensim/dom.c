/* SPDX-License-Identifier: MIT */
/* xensim domains: memory, grant table and lifecycle. Event channels are in
 * dom_evtchn.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
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
