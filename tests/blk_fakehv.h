/* SPDX-License-Identifier: MIT */
/*
 * An in-process stand-in for the hypervisor, for blkback unit tests that
 * need no simulator daemon: one fake guest (domid FAKE_GUEST) whose memory
 * is a memfd, a grant table with Xen's v1 rules (a read-only grant cannot
 * be mapped writable, only the grantee may map), mappings made with real
 * mmap of the memfd (so io_uring can do I/O into them), and event channels
 * on eventfds. Counts maps/unmaps so tests can check for leaks.
 *
 * The test thread plays the guest; the backend's queue thread calls the
 * ops. Thread-safe.
 */
#ifndef TESTS_BLK_FAKEHV_H
#define TESTS_BLK_FAKEHV_H

#include <stdbool.h>
#include <stdint.h>

#include "uback/hv.h"

#define FAKE_GUEST 7
#define FAKE_BACKEND 0

struct fake_hv;

int fake_hv_create(uint32_t pages, struct fake_hv **out);
void fake_hv_destroy(struct fake_hv *f);
struct xb_hv *fake_hv_base(struct fake_hv *f);

/* Guest side. */
void *fake_page(struct fake_hv *f, uint32_t gfn);
/* Grant @gfn to the backend; returns the ref (>= 1). */
grant_ref_t fake_grant(struct fake_hv *f, uint32_t gfn, bool readonly);
/* Grant to another domain (a foreign grant for the backend). */
grant_ref_t fake_grant_to(struct fake_hv *f, uint32_t gfn, domid_t grantee,
			  bool readonly);
/* Revoke a grant even if mapped (a hostile guest ignoring GTF_*ing). */
void fake_revoke(struct fake_hv *f, grant_ref_t ref);
/* The guest dies: new maps fail -ESRCH, notifies fail. */
void fake_kill(struct fake_hv *f);
/* Allocate an unbound port the backend will bind to. */
evtchn_port_t fake_evtchn_alloc(struct fake_hv *f);
/* Guest notifies the backend on @port. */
void fake_kick(struct fake_hv *f, evtchn_port_t port);
/* How many notifications the backend sent on @port. */
uint64_t fake_notifies(struct fake_hv *f, evtchn_port_t port);

/* Accounting. */
int64_t fake_pages_mapped(struct fake_hv *f);   /* now */
uint64_t fake_map_calls(struct fake_hv *f);
uint64_t fake_copy_calls(struct fake_hv *f);  /* gnt_copy batches */
uint32_t fake_ports_bound(struct fake_hv *f);

#endif
