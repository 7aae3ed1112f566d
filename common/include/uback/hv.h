/* SPDX-License-Identifier: MIT */
/*
 * uback hypervisor interface.
 *
 * A backend reaches the hypervisor services it needs (grant tables, event
 * channels, xenstore) through one const ops table, chosen at run time by
 * name. Two providers exist:
 *
 *   "xen"  wraps libxengnttab, libxenevtchn and libxenstore (/dev/xen/...);
 *   "sim"  talks to the xensim simulator (tools/xensim) whose state lives in
 *          shared memory: grant maps, copies and notifications cost no
 *          round trip to the simulator daemon.
 *
 * Both providers use libxenstore for xenstore; the simulator serves the real
 * wire protocol on a unix socket.
 *
 * Conventions, for every function in this header and in the ops table:
 *   - returns 0 (or a count where stated) on success, -errno on failure;
 *     errno is never relied upon by callers and never set on purpose;
 *   - objects come back through out-parameters, untouched on failure;
 *   - nothing logs except where stated;
 *   - handles are not thread-safe: open one gnt/evtchn handle per thread.
 *     xenstore handles may be shared (libxenstore serialises requests).
 */
#ifndef UBACK_HV_H
#define UBACK_HV_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xen/xen.h>
#include <xen/grant_table.h>
#include <xen/event_channel.h>

#ifdef __cplusplus
extern "C" {
#endif

#define XB_PAGE_SHIFT 12
#define XB_PAGE_SIZE  (1u << XB_PAGE_SHIFT)

struct xb_hv_ops;
struct xs_handle;   /* libxenstore handle; see uback/xs.h */

/*
 * Provider objects. Each provider embeds these as the first member of its
 * own structs, so the inline dispatchers below can find the ops table.
 */
struct xb_hv {                 /* an opened provider */
	const struct xb_hv_ops *ops;
};
struct xb_gnt {                /* grant handle (map/unmap/copy) */
	const struct xb_hv_ops *ops;
	struct xb_hv *hv;
};
struct xb_evtchn {             /* event channel handle (one pollable fd) */
	const struct xb_hv_ops *ops;
	struct xb_hv *hv;
};

/* One grant copy segment; mirrors xengnttab_grant_copy_segment_t. */
struct xb_gcopy_seg {
	union {
		void *virt;
		struct {
			grant_ref_t ref;
			uint16_t offset;
			domid_t domid;
		} foreign;
	} source, dest;
	uint16_t len;
	uint16_t flags;     /* GNTCOPY_source_gref and/or GNTCOPY_dest_gref */
	int16_t status;     /* out: GNTST_okay or a GNTST_* error */
};

struct xb_hv_config {
	const char *provider;  /* "xen", "sim", or NULL for the default */
	const char *sim_dir;   /* sim: the xensim --dir; NULL: $XENSIM_DIR */
	domid_t sim_domid;     /* sim: the domain this process acts as (0) */
};

struct xb_hv_ops {
	const char *name;

	/*
	 * Provider lifetime. Required. open validates that the provider can
	 * work (device nodes present, simulator reachable) and fails with
	 * -ENOENT / -ECONNREFUSED otherwise.
	 */
	int (*open)(const struct xb_hv_config *cfg, struct xb_hv **out);
	void (*close)(struct xb_hv *hv);

	/* Grant handles. Required. */
	int (*gnt_open)(struct xb_hv *hv, struct xb_gnt **out);
	void (*gnt_close)(struct xb_gnt *g);

	/*
	 * Map @count grant refs of domain @domid into one virtually contiguous
	 * area, writable unless @readonly. All-or-nothing: on failure no
	 * mapping is established and -EINVAL (bad ref, not granted to us,
	 * readonly grant mapped writable), -ESRCH (no such domain / dying) or
	 * -ENOMEM is returned. The refs array is read, never written.
	 */
	int (*gnt_map)(struct xb_gnt *g, domid_t domid, uint32_t count,
		       const grant_ref_t *refs, bool readonly, void **addr);
	/* Unmap an area returned by gnt_map with the same @count. */
	int (*gnt_unmap)(struct xb_gnt *g, void *addr, uint32_t count);

	/*
	 * Copy @count segments. Returns 0 when the batch was processed: each
	 * segment then has its own status (GNTST_okay or an error such as
	 * GNTST_bad_gntref, GNTST_permission_denied, GNTST_bad_domain,
	 * GNTST_bad_copy_arg). Returns -errno only when the batch as a whole
	 * could not be issued; statuses are then undefined.
	 * offset + len must not exceed XB_PAGE_SIZE on the granted side.
	 */
	int (*gnt_copy)(struct xb_gnt *g, uint32_t count,
			struct xb_gcopy_seg *segs);

	/* Event channel handles. Required. */
	int (*evtchn_open)(struct xb_hv *hv, struct xb_evtchn **out);
	void (*evtchn_close)(struct xb_evtchn *e);
	/* A fd readable while a bound port of this handle is pending:
	 * usable with poll/epoll and io_uring poll. Never fails. */
	int (*evtchn_fd)(struct xb_evtchn *e);
	/* Bind to @remote_port of @domid (an unbound port the remote domain
	 * allocated for us); the local port comes back in @local. */
	int (*evtchn_bind)(struct xb_evtchn *e, domid_t domid,
			   evtchn_port_t remote_port, evtchn_port_t *local);
	int (*evtchn_unbind)(struct xb_evtchn *e, evtchn_port_t port);
	int (*evtchn_notify)(struct xb_evtchn *e, evtchn_port_t port);
	/*
	 * Return one pending local port in @port, or -EAGAIN if none. A
	 * returned port stays masked (will not fire again) until unmasked.
	 */
	int (*evtchn_pending)(struct xb_evtchn *e, evtchn_port_t *port);
	int (*evtchn_unmask)(struct xb_evtchn *e, evtchn_port_t port);
	/*
	 * Optional. Take @port's notifications, as evtchn_pending returning
	 * @port and then evtchn_unmask(@port) would: those sent before the
	 * call are consumed (one event, however many), any sent after it
	 * make the fd readable again, and a port masked by evtchn_pending
	 * comes back unmasked. For a handle holding @port alone: without
	 * the op, xb_evtchn_ack does those two calls, and one that finds
	 * another port consumes its event too.
	 */
	int (*evtchn_ack)(struct xb_evtchn *e, evtchn_port_t port);

	/*
	 * A libxenstore handle connected to this provider's xenstore.
	 * Required. Release with xs_close().
	 */
	int (*xs_open)(struct xb_hv *hv, struct xs_handle **out);

	/*
	 * Optional (NULL: the provider opens nothing by path later). Open
	 * @count grant and @count event channel handles now, for a process
	 * about to lose the right to open them (uback/sandbox.h): from then
	 * on gnt_open/evtchn_open hand out reserved handles first, and
	 * gnt_close/evtchn_close give them back to the reserve (a closed
	 * handle has nothing mapped or bound). All or nothing.
	 */
	int (*reserve)(struct xb_hv *hv, unsigned int count);
};

extern const struct xb_hv_ops xb_hv_xen_ops;
extern const struct xb_hv_ops xb_hv_sim_ops;

/*
 * Look up a provider by name ("xen", "sim"). With @name NULL: "xen" when
 * /dev/xen/gntdev exists, otherwise -ENODEV (the caller should tell the
 * operator to pass --hv sim). -ENOENT for an unknown name; -ENOTSUP for a
 * provider compiled out of this build.
 */
int xb_hv_lookup(const char *name, const struct xb_hv_ops **out);

/*
 * Look up cfg->provider and open it. Logs one clear line on failure (which
 * provider, why, and what to pass instead, e.g. "--hv sim").
 */
int xb_hv_open(const struct xb_hv_config *cfg, struct xb_hv **hv);

/* Dispatchers: the calls backends make. Same contracts as the ops above. */
static inline void xb_hv_close(struct xb_hv *hv)
{ if (hv) hv->ops->close(hv); }
static inline int xb_gnt_open(struct xb_hv *hv, struct xb_gnt **out)
{ return hv->ops->gnt_open(hv, out); }
static inline void xb_gnt_close(struct xb_gnt *g)
{ if (g) g->ops->gnt_close(g); }
static inline int xb_gnt_map(struct xb_gnt *g, domid_t domid, uint32_t count,
			     const grant_ref_t *refs, bool readonly, void **addr)
{ return g->ops->gnt_map(g, domid, count, refs, readonly, addr); }
static inline int xb_gnt_unmap(struct xb_gnt *g, void *addr, uint32_t count)
{ return g->ops->gnt_unmap(g, addr, count); }
static inline int xb_gnt_copy(struct xb_gnt *g, uint32_t count,
			      struct xb_gcopy_seg *segs)
{ return g->ops->gnt_copy(g, count, segs); }
static inline int xb_evtchn_open(struct xb_hv *hv, struct xb_evtchn **out)
{ return hv->ops->evtchn_open(hv, out); }
static inline void xb_evtchn_close(struct xb_evtchn *e)
{ if (e) e->ops->evtchn_close(e); }
static inline int xb_evtchn_fd(struct xb_evtchn *e)
{ return e->ops->evtchn_fd(e); }
static inline int xb_evtchn_bind(struct xb_evtchn *e, domid_t domid,
				 evtchn_port_t remote, evtchn_port_t *local)
{ return e->ops->evtchn_bind(e, domid, remote, local); }
static inline int xb_evtchn_unbind(struct xb_evtchn *e, evtchn_port_t port)
{ return e->ops->evtchn_unbind(e, port); }
static inline int xb_evtchn_notify(struct xb_evtchn *e, evtchn_port_t port)
{ return e->ops->evtchn_notify(e, port); }
static inline int xb_evtchn_pending(struct xb_evtchn *e, evtchn_port_t *port)
{ return e->ops->evtchn_pending(e, port); }
static inline int xb_evtchn_unmask(struct xb_evtchn *e, evtchn_port_t port)
{ return e->ops->evtchn_unmask(e, port); }
/* evtchn_ack, or its equivalent by evtchn_pending and evtchn_unmask (at
 * most 64 rounds until @port is seen). 0, or the first error. */
static inline int xb_evtchn_ack(struct xb_evtchn *e, evtchn_port_t port)
{
	evtchn_port_t p;
	unsigned int i;
	int ret;

	if (e->ops->evtchn_ack)
		return e->ops->evtchn_ack(e, port);
	/* Bounded: a broken provider cannot spin us. */
	for (i = 0; i < 64; i++) {
		ret = e->ops->evtchn_pending(e, &p);
		if (ret)
			return ret == -EAGAIN ? 0 : ret;
		ret = e->ops->evtchn_unmask(e, p);
		if (ret || p == port)
			return ret;
	}
	return 0;
}
static inline int xb_hv_xs_open(struct xb_hv *hv, struct xs_handle **out)
{ return hv->ops->xs_open(hv, out); }
static inline int xb_hv_reserve(struct xb_hv *hv, unsigned int count)
{ return hv->ops->reserve ? hv->ops->reserve(hv, count) : 0; }

#ifdef __cplusplus
}
#endif
#endif /* UBACK_HV_H */
