/* SPDX-License-Identifier: MIT */
/*
 * XenBus backend state machine, one device at a time.
 *
 * The device is described by its backend directory
 * (/local/domain/<self>/backend/<kind>/<domid>/<devid>) which the toolstack
 * wrote. xb_dev_open reads it (frontend, frontend-id), watches it, the
 * frontend's state node and @releaseDomain, and drives the backend side:
 *
 *   Initialising --probe()--> InitWait
 *   frontend Initialised/Connected --connect()--> Connected
 *   frontend Closing/Closed, or frontend vanished --disconnect()--> Closing
 *       --> Closed (and back to InitWait when the frontend reinitialises,
 *           i.e. goes to Initialising/InitWait again: reconnect)
 *   backend dir removed, or online=0 once Closed --> remove()
 *
 * The per-kind ops are called from xb_dev_process() on the caller's thread.
 * Frontend keys are hostile: kind code reads them with xb_xs_read_u64 /
 * xb_xs_read_buf and fails connect() with -EINVAL on anything malformed;
 * the core then writes <backend>/error, logs, and moves to Closing.
 */
#ifndef UBACK_XENBUS_H
#define UBACK_XENBUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xen/xen.h>
#include <xen/io/xenbus.h>

struct xb_hv;
struct xs_handle;
struct xb_dev;

struct xb_dev_ops {
	const char *kind;   /* "vbd", "vbd3", "vif" */
	/*
	 * Required. Backend dir read; publish features (feature-*, max-*)
	 * into dev->backend_path. Called once, from xb_dev_open (not again
	 * on a reconnect). Returning -errno fails xb_dev_open after the core
	 * wrote <backend>/error and Closing; probe must then have undone
	 * itself (remove() is not called).
	 */
	int (*probe)(struct xb_dev *dev);
	/*
	 * Required. The frontend published its rings: read its keys under
	 * dev->frontend_path, map rings, bind event channels, start the data
	 * path, publish device properties (sectors, ...). The core writes
	 * Connected after a 0 return. On -errno, the kind must have undone
	 * everything it did; the core reports the error and goes to Closing.
	 */
	int (*connect)(struct xb_dev *dev);
	/*
	 * Required. Stop the data path and release everything connect() set
	 * up (rings unmapped, ports unbound, in-flight I/O drained). Called
	 * only after a successful connect(); never twice in a row.
	 */
	void (*disconnect)(struct xb_dev *dev);
	/* Optional. The device is going away for good (after disconnect if
	 * connected). Free per-device state; dev is freed by the caller of
	 * xb_dev_close. */
	void (*remove)(struct xb_dev *dev);
	/*
	 * Optional. Called by xb_dev_open, after probe(), instead of moving
	 * to InitWait, when the device is live: backend state Connected,
	 * online, frontend Connected (a previous backend process died or
	 * detached, the frontend kept its rings). Attach to the live data
	 * path without a renegotiation, as connect() would but without
	 * disturbing the frontend. 0: the device is connected and its state
	 * stays Connected (nothing written). -errno: the kind undid
	 * everything; the core falls back to InitWait (a frontend that
	 * watches the state reconnects).
	 */
	int (*adopt)(struct xb_dev *dev);
};

struct xb_dev {
	/* Read-only for kind code. */
	struct xb_hv *hv;
	struct xs_handle *xs;          /* owned by the device */
	const struct xb_dev_ops *ops;
	char backend_path[128];
	char frontend_path[128];
	domid_t frontend_id;
	unsigned int devid;
	enum xenbus_state state;       /* backend state as last written */
	enum xenbus_state fe_state;    /* frontend state as last read */
	bool connected;                /* connect() succeeded, no disconnect yet */
	bool removed;                  /* remove() done: caller should close */
	void *priv;                    /* kind's per-device state */
};

/*
 * Open the device at @backend_path: open a xenstore handle from @hv, read
 * and validate frontend / frontend-id, set watches, call probe() and move
 * to InitWait. The first xb_dev_process() call evaluates the frontend's
 * current state (so a frontend already Initialised connects at once).
 * -ENOENT if the backend dir is missing, -EINVAL if its keys are malformed.
 */
int xb_dev_open(struct xb_hv *hv, const char *backend_path,
		const struct xb_dev_ops *ops, void *priv, struct xb_dev **out);
/*
 * Disconnect if connected (and then write Closed, so the frontend sees the
 * data path gone; never recreating a removed dir), remove() unless done,
 * unwatch, close the xenstore handle, free. NULL is a no-op.
 */
void xb_dev_close(struct xb_dev *dev);
/*
 * Leave the device to a successor process: disconnect() if connected
 * (the kind drains its data path) but write nothing to xenstore (the
 * state stays as it is, Connected included), unwatch, close, free. For a
 * live upgrade: the next process adopts the device (ops->adopt).
 */
void xb_dev_detach(struct xb_dev *dev);
/* The fd to poll for xenstore events on this device. */
int xb_dev_fd(const struct xb_dev *dev);
/*
 * Handle all queued watch events without blocking, running state
 * transitions and ops. Returns 0, or 1 once the device has been removed
 * (the caller should xb_dev_close and exit), or -errno on a xenstore
 * failure that leaves the device unusable. The ops run only inside
 * xb_dev_open (probe), this call and xb_dev_close, on the caller's thread.
 * The transitions are in docs/xenbus.md. Logs state changes (info) and
 * hostile frontend values (warning, rate-limited).
 */
int xb_dev_process(struct xb_dev *dev);
/*
 * Write <backend>/state in a transaction that re-reads it first, as
 * Linux's xenbus_switch_state: an equal value is not rewritten; -ENOENT
 * (nothing written) if the node is gone; -ECANCELED if someone else (the
 * toolstack removing the device) wrote Closing/Closed and @state is an
 * earlier one. dev->state is updated on success only.
 */
int xb_dev_switch_state(struct xb_dev *dev, enum xenbus_state state);
/*
 * Something went wrong that the frontend must see: write <backend>/error
 * ("<-err> <message>", unless the dir is gone), log it, disconnect if
 * connected, go to Closing (unless Closing/Closed already). Called from
 * inside an op, it takes effect when the op returns (first call wins), so
 * no op is re-entered; a connect() that calls it should still fail.
 */
void xb_dev_fatal(struct xb_dev *dev, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Helpers for kind code: read a frontend / write a backend key relative to
 * the device dirs. Same conventions as uback/xs.h; frontend values are
 * hostile, the u64 read is strict. xb_dev_printf_be writes in a
 * transaction and fails with -ENOENT, writing nothing, once the backend
 * dir is gone. -ENAMETOOLONG if dir/key does not fit. */
int xb_dev_read_fe_u64(struct xb_dev *dev, const char *key, uint64_t max,
		       uint64_t *out);
int xb_dev_read_fe_str(struct xb_dev *dev, const char *key, char *buf,
		       size_t size);
/* xb_dev_read_fe_str, and the value's length (it may hold NULs). */
int xb_dev_read_fe_bytes(struct xb_dev *dev, const char *key, char *buf,
			 size_t size, size_t *len);
int xb_dev_read_be_str(struct xb_dev *dev, const char *key, char *buf,
		       size_t size);
int xb_dev_read_be_u64(struct xb_dev *dev, const char *key, uint64_t max,
		       uint64_t *out);
int xb_dev_printf_be(struct xb_dev *dev, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Write several backend keys in one transaction: all or none. -ENOENT if
 * the backend dir is gone (nothing is written: a removed device is never
 * recreated by a late write). Use it to publish features in probe() and
 * device properties in connect().
 */
struct xb_dev_kv {
	const char *key;    /* relative to dev->backend_path */
	const char *value;
};
int xb_dev_write_be_kv(struct xb_dev *dev, const struct xb_dev_kv *kv,
		       size_t count);

/* Counters of what the device has seen; for tests and diagnostics. */
struct xb_dev_stats {
	uint64_t watch_events;      /* xenstore watch events consumed */
	uint64_t fe_bad_states;     /* malformed frontend state values */
	uint64_t connects;          /* successful connect() calls */
	uint64_t connect_failures;  /* connect() returned -errno */
	uint64_t disconnects;       /* disconnect() calls */
	uint64_t fe_vanished;       /* frontend state node seen missing */
	uint64_t fe_domain_gone;    /* frontend domain released (@releaseDomain
	                             * and no longer introduced) */
};
void xb_dev_get_stats(const struct xb_dev *dev, struct xb_dev_stats *out);

const char *xb_xenbus_state_name(enum xenbus_state state);

#endif /* UBACK_XENBUS_H */
