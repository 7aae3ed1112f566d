/* SPDX-License-Identifier: MIT */
/* Internals of the "sim" provider shared by hv_sim.c and hv_sim_gnt.c. */
#ifndef UBACK_HV_SIM_PRIV_H
#define UBACK_HV_SIM_PRIV_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "uback/hv.h"
#include "uback/sim_shm.h"

/*
 * One instance of a foreign domain mapped into this process: its state
 * memfd (grant table, pins) and its whole memory mapped twice, read-write
 * and read-only. Single-page grant maps point into these; multi-page maps
 * mmap the memfd again into a contiguous area. Reference counted: the cache
 * holds one reference while the domain is alive, every live map one more,
 * so a destroyed domain's pages stay valid until the last unmap.
 */
struct sim_gdom {
	domid_t domid;
	uint64_t instance;
	int memfd;
	struct sim_shm_hdr *shm;
	size_t shm_size;
	union sim_gnt_entry *gnt;
	struct sim_pin *pins;
	struct sim_pin_held *held;  /* our pin ledger (CTL_DOM_LEDGER) */
	size_t held_size;
	uint32_t nr_grants;
	uint32_t mem_pages;
	char *rw_base;
	char *ro_base;
	unsigned int refs;          /* under sim_hv.lock */
	bool cached;
	struct sim_gdom *next;
};

struct sim_hv {
	struct xb_hv base;
	char dir[PATH_MAX];
	domid_t self;
	int ctl_fd;
	pthread_mutex_t lock;       /* ctl_fd and the domain cache */
	struct sim_gdom *doms;
};

static inline struct sim_hv *to_sim_hv(struct xb_hv *hv)
{
	return (struct sim_hv *)hv;
}

static inline bool sim_gdom_dying(const struct sim_gdom *d)
{
	return __atomic_load_n(&d->shm->dying, __ATOMIC_ACQUIRE) != 0;
}

/* A reference on the live instance of @domid: -ESRCH if none. */
int sim_gdom_get(struct sim_hv *hv, domid_t domid, struct sim_gdom **out);
void sim_gdom_put(struct sim_hv *hv, struct sim_gdom *d);

/* Grant handles (hv_sim_gnt.c). */
int sim_gnt_open(struct xb_hv *hv, struct xb_gnt **out);
void sim_gnt_close(struct xb_gnt *g);
int sim_gnt_map(struct xb_gnt *g, domid_t domid, uint32_t count,
		const grant_ref_t *refs, bool readonly, void **addr);
int sim_gnt_unmap(struct xb_gnt *g, void *addr, uint32_t count);
int sim_gnt_copy(struct xb_gnt *g, uint32_t count, struct xb_gcopy_seg *segs);

#endif
