/* SPDX-License-Identifier: MIT */
/*
 * xensim guest library: lets a test or benchmark act as the toolstack and
 * as a PV guest against a running xensim daemon.
 *
 *   toolstack role: create/destroy domains, write device trees the way libxl
 *                   does (both ends at state 1, permissions, backend keys).
 *   guest role:     allocate pages of the guest's memory, grant them to a
 *                   backend domain, allocate and signal event channels,
 *                   open a libxenstore handle *as that domain* (the daemon
 *                   gives every domain its own socket, so xensim enforces
 *                   per-domain permissions), and drive XenBus states.
 *
 * The data path does not go through the daemon: grant entries live in a
 * memfd shared with the daemon and the backends, and notifications are
 * eventfd writes.
 *
 * Conventions: 0 or -errno; out-parameters untouched on failure; nothing
 * logs. A struct xg_dom is not thread-safe, except xg_evtchn_notify and
 * the grant-entry calls, which may run concurrently with each other.
 */
#ifndef XENSIM_GUEST_H
#define XENSIM_GUEST_H

#include <stdbool.h>
#include <stdint.h>

#include <xen/xen.h>
#include <xen/grant_table.h>
#include <xen/event_channel.h>
#include <xen/io/xenbus.h>

struct xs_handle;
struct xg_sim;  /* a connection to xensim (toolstack role) */
struct xg_dom;  /* a simulated guest domain (guest role) */

/* Connect to the daemon serving @dir (NULL: $XENSIM_DIR). -ECONNREFUSED /
 * -ENOENT if no daemon runs there. */
int xg_sim_connect(const char *dir, struct xg_sim **out);
void xg_sim_disconnect(struct xg_sim *sim);
/* libxenstore handle as dom0 (the toolstack). Release with xs_close(). */
int xg_sim_xs_open(struct xg_sim *sim, struct xs_handle **out);

struct xg_dom_config {
	domid_t domid;          /* 0: the daemon picks the next free id */
	uint32_t mem_pages;     /* guest memory in 4 KiB pages (0: 16384) */
	uint32_t nr_grants;     /* grant table entries (0: 32 frames' worth,
	                         * 32 * 512 v1 entries, Xen's default) */
	const char *name;       /* written to /local/domain/<id>/name */
};

/*
 * Create a domain: memory, grant table, event channel table, and
 * /local/domain/<id> in xenstore (owned by the domain, readable by dom0),
 * then fires @introduceDomain. The caller holds the guest role for it.
 */
int xg_dom_create(struct xg_sim *sim, const struct xg_dom_config *cfg,
		  struct xg_dom **out);
domid_t xg_dom_id(const struct xg_dom *dom);
/*
 * Destroy the domain at once, as a crash: its event channels close (peers'
 * ports become unbound), new grant maps/copies of it fail with
 * GNTST_bad_domain / -ESRCH, /local/domain/<id> is removed and
 * @releaseDomain fires. Pages a backend still has mapped stay valid until
 * unmapped, as on Xen. Frees @dom.
 */
int xg_dom_destroy(struct xg_dom *dom);
/* Detach from a domain without destroying it (frees @dom only). */
void xg_dom_release(struct xg_dom *dom);

/* Guest memory. gfns are page indices of the guest's memory. */
int xg_pages_alloc(struct xg_dom *dom, uint32_t count, xen_pfn_t *gfns);
void xg_pages_free(struct xg_dom *dom, uint32_t count, const xen_pfn_t *gfns);
/* Pointer to the guest's view of page @gfn (NULL if out of range). */
void *xg_page_ptr(struct xg_dom *dom, xen_pfn_t gfn);

/*
 * Grant table (grant_entry_v1, Xen's rules). grant_access picks a free
 * entry, fills frame and domid, then publishes flags with a write barrier,
 * as a Linux guest does. grant_end revokes with a cmpxchg that fails with
 * -EBUSY while the entry is mapped or being copied (GTF_reading/writing).
 */
int xg_grant_access(struct xg_dom *dom, domid_t grantee, xen_pfn_t gfn,
		    bool readonly, grant_ref_t *ref);
int xg_grant_end(struct xg_dom *dom, grant_ref_t ref);
/* Raw access to an entry, for hostile-guest tests (no checks, no barriers
 * beyond a full fence after the write). */
int xg_grant_set_raw(struct xg_dom *dom, grant_ref_t ref, uint16_t flags,
		     domid_t domid, uint32_t frame);
int xg_grant_get_raw(struct xg_dom *dom, grant_ref_t ref, uint16_t *flags,
		     domid_t *domid, uint32_t *frame);
uint32_t xg_grant_count(const struct xg_dom *dom);

/*
 * Event channels, guest side. alloc_unbound makes a port that @remote may
 * bind to (EVTCHNOP_alloc_unbound). The fd is readable while one of the
 * domain's ports is pending; pending/unmask behave as in uback/hv.h.
 */
int xg_evtchn_alloc_unbound(struct xg_dom *dom, domid_t remote,
			    evtchn_port_t *port);
int xg_evtchn_close(struct xg_dom *dom, evtchn_port_t port);
int xg_evtchn_notify(struct xg_dom *dom, evtchn_port_t port);
int xg_evtchn_fd(struct xg_dom *dom);
int xg_evtchn_pending(struct xg_dom *dom, evtchn_port_t *port);
int xg_evtchn_unmask(struct xg_dom *dom, evtchn_port_t port);

/* libxenstore handle acting as this domain. Release with xs_close(). */
int xg_dom_xs_open(struct xg_dom *dom, struct xs_handle **out);

/*
 * Toolstack: create a device the way libxl does. Writes the frontend
 * directory /local/domain/<domid>/device/<fe_kind>/<devid> (owner: guest,
 * dom0 may read) with backend, backend-id, state=1 and @fe_kv; then the
 * backend directory /local/domain/0/backend/<kind>/<domid>/<devid>
 * (owner: dom0, guest may read) with frontend, frontend-id, online=1,
 * state=1 and @be_kv, in one transaction. @fe_kv/@be_kv are NULL-terminated
 * key, value, key, value, ... lists (may be NULL). fe_kind: "vbd" for
 * kind "vbd"/"vbd3"/"qdisk", "vif" for "vif".
 */
int xg_device_create(struct xg_sim *sim, domid_t domid, const char *kind,
		     const char *fe_kind, unsigned int devid,
		     const char *const *be_kv, const char *const *fe_kv);
/* Toolstack: set online=0 and remove both trees (after Closed), as libxl. */
int xg_device_remove(struct xg_sim *sim, domid_t domid, const char *kind,
		     const char *fe_kind, unsigned int devid);

/* XenBus helpers for frontends. */
int xg_xenbus_switch(struct xs_handle *xs, const char *dir,
		     enum xenbus_state state);
/* Read <dir>/state; -ENOENT if absent, -EINVAL if malformed. */
int xg_xenbus_read_state(struct xs_handle *xs, const char *dir,
			 enum xenbus_state *state);
/* Wait until <dir>/state is one of @mask (bit per state:
 * 1u << XenbusStateConnected ...), at most @timeout_ms. Re-reads the key
 * every 2 ms rather than watching it, so that no watch event queued on
 * @xs by the caller is consumed.
 * -ETIMEDOUT on time out; the last state seen is stored in @seen. */
int xg_xenbus_wait_state(struct xs_handle *xs, const char *dir,
			 uint32_t mask, int timeout_ms,
			 enum xenbus_state *seen);

#endif /* XENSIM_GUEST_H */
