/* SPDX-License-Identifier: MIT */
/*
 * XenBus backend state machine. See docs/xenbus.md for the transitions.
 *
 * Watch events only mark what changed (backend dir, frontend state,
 * @releaseDomain); xb_dev_process then re-reads the current values and runs
 * one level-triggered step. xenstore coalesces nothing but we may still see
 * a frontend skip states (Closing -> Closed -> Initialising between two
 * reads), so every step is decided from current values, never from the
 * event sequence, and every step is idempotent: our own writes fire the
 * backend watch again and must lead to no further write.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uback/hv.h"
#include "uback/log.h"
#include "uback/xenbus.h"
#include "uback/xs.h"
#include "xenbus_priv.h"

#define TOKEN_BE  "xb-be"
#define TOKEN_FE  "xb-fe"
#define TOKEN_REL "xb-rel"

/* Watch events taken per xb_dev_process call. libxenstore keeps its watch
 * fd readable while events remain queued, so a hostile frontend flooding
 * its state node cannot hold the caller here, nor lose a wake-up. */
#define MAX_EVENTS_PER_PROCESS 4096
/* Re-evaluations per call: a step that fails to write its state re-reads
 * the backend once more; more than this means something keeps changing. */
#define MAX_STEPS 8


/* ---- state writes ------------------------------------------------------- */

struct state_write {
	struct xb_devi *d;
	enum xenbus_state state;
	bool changed;
};

static int state_write_fn(struct xs_handle *xs, xs_transaction_t t, void *arg)
{
	struct state_write *w = arg;
	char path[XB_DEV_PATH_MAX];
	uint64_t cur;
	int ret;

	w->changed = false;
	ret = xb_join_path(path, sizeof(path), w->d->pub.backend_path, "state");
	if (ret)
		return ret;
	/* As Linux's xenbus_switch_state: re-read inside the transaction, so
	 * a removed device is never recreated and an equal value is not
	 * rewritten (which would fire every watcher again). */
	ret = xb_xs_read_u64(xs, t, path, XenbusStateReconfigured, &cur);
	if (ret == -ENOENT)
		return ret;
	if (ret == 0 && cur == (uint64_t)w->state)
		return 0;
	/* The toolstack closes a device by writing Closing (libxl's device
	 * remove): do not overwrite that with a livelier state. */
	if (ret == 0 && cur != (uint64_t)w->d->pub.state &&
	    (cur == XenbusStateClosing || cur == XenbusStateClosed) &&
	    w->state < XenbusStateClosing)
		return -ECANCELED;
	ret = xb_xs_printf(xs, t, path, "%u", (unsigned int)w->state);
	if (ret)
		return ret;
	w->changed = true;
	return 0;
}

int xb_dev_switch_state(struct xb_dev *dev, enum xenbus_state state)
{
	struct state_write w = { .d = devi(dev), .state = state };
	enum xenbus_state old = dev->state;
	int ret;

	ret = xb_xs_transact(dev->xs, state_write_fn, &w, 0);
	if (ret)
		return ret;
	dev->state = state;
	if (w.changed || old != state)
		xb_debug("%s: backend %s -> %s", dev->backend_path,
			 xb_xenbus_state_name(old),
			 xb_xenbus_state_name(state));
	return 0;
}

/*
 * Switch, and sort out why it failed: a missing node or a toolstack
 * Closing means "re-read the backend" (the next step removes or adopts),
 * anything else is a xenstore failure.
 */
static int dev_switch(struct xb_devi *d, enum xenbus_state state)
{
	int ret = xb_dev_switch_state(&d->pub, state);

	if (ret == -ENOENT || ret == -ECANCELED) {
		d->be_dirty = true;
		return 0;
	}
	if (ret)
		xb_err("%s: cannot write state %s: %s", d->pub.backend_path,
		       xb_xenbus_state_name(state), strerror(-ret));
	return ret;
}

/* ---- ops ----------------------------------------------------------------- */

static void dev_disconnect(struct xb_devi *d)
{
	if (!d->pub.connected)
		return;
	d->in_op = true;
	d->pub.ops->disconnect(&d->pub);
	d->in_op = false;
	d->pub.connected = false;
	d->stats.disconnects++;
}

static void dev_remove(struct xb_devi *d)
{
	dev_disconnect(d);
	if (d->pub.removed)
		return;
	if (d->pub.ops->remove) {
		d->in_op = true;
		d->pub.ops->remove(&d->pub);
		d->in_op = false;
	}
	d->pub.removed = true;
	xb_info("%s: removed", d->pub.backend_path);
}

struct error_write {
	struct xb_devi *d;
	char value[200];
};

static int error_write_fn(struct xs_handle *xs, xs_transaction_t t, void *arg)
{
	struct error_write *w = arg;
	struct xb_dev_kv kv = { .key = "error", .value = w->value };
	struct be_write bw = { .d = w->d, .kv = &kv, .count = 1 };

	return xb_dev_be_write_fn(xs, t, &bw);
}

static void dev_fatal_apply(struct xb_devi *d, int err, const char *msg)
{
	struct error_write w = { .d = d };
	int ret;

	snprintf(w.value, sizeof(w.value), "%d %s", -err, msg);
	ret = xb_xs_transact(d->pub.xs, error_write_fn, &w, 0);
	if (ret && ret != -ENOENT)
		xb_warn("%s: cannot write error node: %s",
			d->pub.backend_path, strerror(-ret));
	dev_disconnect(d);
	if (d->pub.state != XenbusStateClosing &&
	    d->pub.state != XenbusStateClosed)
		dev_switch(d, XenbusStateClosing);
}

void xb_dev_fatal(struct xb_dev *dev, int err, const char *fmt, ...)
{
	struct xb_devi *d = devi(dev);
	char msg[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	xb_err("%s: %s (%s)", dev->backend_path, msg,
	       strerror(err < 0 ? -err : err));
	if (err > 0)
		err = -err;
	if (d->in_op) {
		/* Called from inside an op: apply once the op returned, so
		 * that no op runs re-entrantly. The first error wins. */
		if (!d->deferred_err) {
			d->deferred_err = err ? err : -EIO;
			snprintf(d->deferred_msg, sizeof(d->deferred_msg),
				 "%s", msg);
		}
		return;
	}
	dev_fatal_apply(d, err ? err : -EIO, msg);
}

static void dev_apply_deferred(struct xb_devi *d)
{
	int err = d->deferred_err;

	if (!err)
		return;
	d->deferred_err = 0;
	if (d->pub.removed)
		return;
	dev_fatal_apply(d, err, d->deferred_msg);
}

static int dev_connect(struct xb_devi *d)
{
	int ret;

	d->in_op = true;
	ret = d->pub.ops->connect(&d->pub);
	d->in_op = false;
	if (ret) {
		d->stats.connect_failures++;
		/* A deferred fatal from inside connect() says it better. */
		if (d->deferred_err) {
			dev_apply_deferred(d);
			return 0;
		}
		xb_dev_fatal(&d->pub, ret, "connecting to frontend %u failed",
			     (unsigned int)d->pub.frontend_id);
		return 0;
	}
	d->pub.connected = true;
	d->stats.connects++;
	if (d->deferred_err) {
		dev_apply_deferred(d);
		return 0;
	}
	xb_info("%s: connected to frontend %u", d->pub.backend_path,
		(unsigned int)d->pub.frontend_id);
	return dev_switch(d, XenbusStateConnected);
}

/* ---- reading current values ---------------------------------------------- */

static int refresh_backend(struct xb_devi *d)
{
	char path[XB_DEV_PATH_MAX];
	uint64_t v;
	char *dir;
	int ret;

	ret = xb_xs_read(d->pub.xs, XBT_NULL, d->pub.backend_path, &dir);
	if (ret == -ENOENT) {
		d->be_gone = true;
		return 0;
	}
	if (ret)
		return ret;
	free(dir);

	/* online: written by the toolstack; missing or malformed reads as 0,
	 * as Linux's xenbus_dev_is_online. */
	ret = xb_join_path(path, sizeof(path), d->pub.backend_path, "online");
	if (ret)
		return ret;
	ret = xb_xs_read_u64(d->pub.xs, XBT_NULL, path, 1, &v);
	if (ret && ret != -ENOENT && ret != -EINVAL)
		return ret;
	d->online = ret == 0 && v == 1;

	/* state: someone else (libxl's device remove) may have written
	 * Closing/Closed; adopt that, ignore anything else. */
	ret = xb_join_path(path, sizeof(path), d->pub.backend_path, "state");
	if (ret)
		return ret;
	ret = xb_xs_read_u64(d->pub.xs, XBT_NULL, path, XenbusStateReconfigured,
			     &v);
	if (ret && ret != -ENOENT && ret != -EINVAL)
		return ret;
	if (ret == 0 && v != (uint64_t)d->pub.state &&
	    (v == XenbusStateClosing || v == XenbusStateClosed)) {
		xb_info("%s: toolstack set state %s", d->pub.backend_path,
			xb_xenbus_state_name((enum xenbus_state)v));
		d->pub.state = (enum xenbus_state)v;
	}
	return 0;
}

/* Make a guest string safe to log. */
static void printable(char *s)
{
	for (; *s; s++)
		if (*s < 0x20 || *s > 0x7e)
			*s = '?';
}

static int refresh_frontend(struct xb_devi *d)
{
	char path[XB_DEV_PATH_MAX], buf[16];
	int ret;

	ret = xb_join_path(path, sizeof(path), d->pub.frontend_path, "state");
	if (ret)
		return ret;
	ret = xb_xs_read_buf(d->pub.xs, XBT_NULL, path, buf, sizeof(buf));
	if (ret == -ENOENT) {
		if (!d->fe_node_missing)
			d->stats.fe_vanished++;
		d->fe_node_missing = true;
		d->fe_bad = false;
		return 0;
	}
	d->fe_node_missing = false;
	/* Hostile value: exactly one digit, a state a frontend may write.
	 * Unknown (0) is never written by a frontend. */
	if (ret == 0 && buf[0] >= '1' && buf[0] <= '8' && buf[1] == '\0') {
		d->fe_bad = false;
		d->pub.fe_state = (enum xenbus_state)(buf[0] - '0');
		return 0;
	}
	if (ret && ret != -E2BIG)
		return ret;
	d->fe_bad = true;
	d->stats.fe_bad_states++;
	if (ret)
		snprintf(buf, sizeof(buf), "<too long>");
	else
		printable(buf);
	XB_LOG_RATELIMITED(XB_LOG_WARN,
			   "%s: frontend %u wrote a malformed state '%s'",
			   d->pub.backend_path,
			   (unsigned int)d->pub.frontend_id, buf);
	if (d->pub.state != XenbusStateClosing &&
	    d->pub.state != XenbusStateClosed)
		xb_dev_fatal(&d->pub, -EINVAL, "frontend state malformed");
	return 0;
}

/* XS_IS_DOMAIN_INTRODUCED. libxenstore returns false both for "F" and on
 * error; errno tells them apart. An error (a server without the request)
 * means "do not know": the frontend state node still tells us. */
static bool frontend_domain_gone(struct xb_devi *d)
{
	bool in;

	errno = 0;
	in = xs_is_domain_introduced(d->pub.xs, d->pub.frontend_id);
	return !in && errno == 0;
}

/* ---- the step ----------------------------------------------------------- */

static bool fe_vanished(const struct xb_devi *d)
{
	return d->fe_dead || d->fe_node_missing;
}

/* Returns 1 once removed, 0, or -errno. */
static int dev_step(struct xb_devi *d)
{
	struct xb_dev *dev = &d->pub;
	int ret = 0;

	if (d->be_gone) {
		dev_remove(d);
		return 1;
	}

	if (fe_vanished(d)) {
		dev_disconnect(d);
		if (dev->state != XenbusStateClosed)
			ret = dev_switch(d, XenbusStateClosed);
	} else if (!d->fe_bad) {
		switch (dev->fe_state) {
		case XenbusStateInitialising:
		case XenbusStateInitWait:
			/* The frontend (re)starts: from any later state the
			 * backend offers itself again. probe() is not
			 * repeated: the features are still published. */
			dev_disconnect(d);
			if (d->online && dev->state != XenbusStateInitWait)
				ret = dev_switch(d, XenbusStateInitWait);
			break;
		case XenbusStateInitialised:
		case XenbusStateConnected:
			/* Only from InitWait: after a failure (Closing) the
			 * frontend must restart first, or a broken frontend
			 * would make us retry on every event. */
			if (dev->state != XenbusStateInitWait ||
			    dev->connected)
				break;
			/* Connecting is costly and its watch event may not
			 * be here yet: re-read online and the dir first. */
			ret = refresh_backend(d);
			if (ret)
				return ret;
			if (d->be_gone) {
				dev_remove(d);
				return 1;
			}
			if (d->online && dev->state == XenbusStateInitWait)
				ret = dev_connect(d);
			break;
		case XenbusStateClosing:
			dev_disconnect(d);
			if (dev->state != XenbusStateClosing &&
			    dev->state != XenbusStateClosed)
				ret = dev_switch(d, XenbusStateClosing);
			break;
		case XenbusStateClosed:
			dev_disconnect(d);
			if (dev->state != XenbusStateClosed)
				ret = dev_switch(d, XenbusStateClosed);
			break;
		default:
			/* Reconfiguring/Reconfigured: not used by vbd/vif. */
			break;
		}
	}
	if (ret)
		return ret;
	if (d->be_dirty)
		return 0;   /* re-read before deciding on removal */

	if (!d->online && !dev->connected) {
		/* The toolstack wants the device gone and no frontend is
		 * using it (closed, gone, or never started): close, remove. */
		bool idle = fe_vanished(d) || d->fe_bad ||
			    dev->fe_state == XenbusStateInitialising ||
			    dev->fe_state == XenbusStateInitWait ||
			    dev->fe_state == XenbusStateClosed;

		if (!idle && dev->state == XenbusStateInitWait) {
			/* A frontend half-way through connecting: ask it to
			 * close; its Closed then lets us remove. */
			return dev_switch(d, XenbusStateClosing);
		}
		if (idle || dev->state == XenbusStateClosed) {
			if (dev->state != XenbusStateClosed) {
				ret = dev_switch(d, XenbusStateClosed);
				if (ret)
					return ret;
			}
			dev_remove(d);
			return 1;
		}
	}
	return 0;
}

int xb_dev_process(struct xb_dev *dev)
{
	struct xb_devi *d = devi(dev);
	unsigned int i;
	int ret;

	if (dev->removed)
		return 1;
	for (i = 0; i < MAX_EVENTS_PER_PROCESS; i++) {
		char **vec;

		ret = xb_xs_read_watch(dev->xs, &vec);
		if (ret == -EAGAIN)
			break;
		if (ret) {
			xb_err("%s: xenstore watch read failed: %s",
			       dev->backend_path, strerror(-ret));
			return ret;
		}
		d->stats.watch_events++;
		if (!strcmp(vec[XS_WATCH_TOKEN], TOKEN_BE))
			d->be_dirty = true;
		else if (!strcmp(vec[XS_WATCH_TOKEN], TOKEN_FE))
			d->fe_dirty = true;
		else if (!strcmp(vec[XS_WATCH_TOKEN], TOKEN_REL))
			d->rel_dirty = true;
		free(vec);
	}

	for (i = 0; i < MAX_STEPS; i++) {
		if (d->be_dirty) {
			d->be_dirty = false;
			ret = refresh_backend(d);
			if (ret)
				goto fail;
		}
		if (d->rel_dirty) {
			d->rel_dirty = false;
			if (!d->fe_dead && frontend_domain_gone(d)) {
				xb_info("%s: frontend domain %u is gone",
					dev->backend_path,
					(unsigned int)dev->frontend_id);
				d->fe_dead = true;
				d->stats.fe_domain_gone++;
			}
		}
		if (d->fe_dirty) {
			d->fe_dirty = false;
			ret = refresh_frontend(d);
			if (ret)
				goto fail;
		}
		ret = dev_step(d);
		if (ret)
			return ret;
		/* xb_dev_fatal called from inside disconnect()/remove(). */
		dev_apply_deferred(d);
		if (!d->be_dirty && !d->fe_dirty && !d->rel_dirty)
			return 0;
	}
	return 0;

fail:
	xb_err("%s: xenstore read failed: %s", dev->backend_path,
	       strerror(-ret));
	return ret;
}

int xb_dev_fd(const struct xb_dev *dev)
{
	return xb_xs_watch_fd(dev->xs);
}

/* ---- open / close -------------------------------------------------------- */

static void dev_unwatch(struct xb_devi *d)
{
	char path[XB_DEV_PATH_MAX];

	if (d->watch_rel)
		xb_xs_unwatch(d->pub.xs, "@releaseDomain", TOKEN_REL);
	if (d->watch_fe &&
	    !xb_join_path(path, sizeof(path), d->pub.frontend_path, "state"))
		xb_xs_unwatch(d->pub.xs, path, TOKEN_FE);
	if (d->watch_be)
		xb_xs_unwatch(d->pub.xs, d->pub.backend_path, TOKEN_BE);
	d->watch_be = d->watch_fe = d->watch_rel = false;
}

static int dev_read_keys(struct xb_devi *d)
{
	struct xb_dev *dev = &d->pub;
	domid_t path_domid;
	uint64_t feid, v;
	char *dir;
	int ret;

	ret = xb_dev_parse_backend_path(dev->backend_path, dev->ops->kind,
					&d->self, &path_domid, &dev->devid);
	if (ret) {
		xb_err("%s: not a %s backend path", dev->backend_path,
		       dev->ops->kind);
		return ret;
	}
	ret = xb_xs_read(dev->xs, XBT_NULL, dev->backend_path, &dir);
	if (ret)
		return ret;
	free(dir);

	ret = xb_dev_read_be_u64(dev, "frontend-id", DOMID_FIRST_RESERVED - 1,
				 &feid);
	if (ret == 0 && (feid == d->self || feid != path_domid))
		ret = -EINVAL;
	if (ret) {
		xb_err("%s: bad frontend-id: %s", dev->backend_path,
		       strerror(-ret));
		return ret == -ENOENT ? -EINVAL : ret;
	}
	dev->frontend_id = (domid_t)feid;

	/* Leave room for "/state" and a key under the frontend dir. */
	ret = xb_dev_read_be_str(dev, "frontend", dev->frontend_path,
				 sizeof(dev->frontend_path) - 32);
	if (ret == 0)
		ret = xb_dev_check_frontend_path(dev->frontend_path,
						 dev->frontend_id);
	if (ret) {
		xb_err("%s: bad frontend path: %s", dev->backend_path,
		       strerror(-ret));
		dev->frontend_path[0] = '\0';
		return ret == -ENOENT || ret == -E2BIG ? -EINVAL : ret;
	}

	ret = xb_dev_read_be_u64(dev, "online", 1, &v);
	d->online = ret == 0 && v == 1;
	ret = xb_dev_read_be_u64(dev, "state", XenbusStateReconfigured, &v);
	dev->state = ret == 0 ? (enum xenbus_state)v : XenbusStateInitialising;
	dev->fe_state = XenbusStateUnknown;
	return 0;
}

static int dev_watch(struct xb_devi *d)
{
	char path[XB_DEV_PATH_MAX];
	int ret;

	ret = xb_xs_watch(d->pub.xs, d->pub.backend_path, TOKEN_BE);
	if (ret)
		return ret;
	d->watch_be = true;
	ret = xb_join_path(path, sizeof(path), d->pub.frontend_path, "state");
	if (ret)
		return ret;
	ret = xb_xs_watch(d->pub.xs, path, TOKEN_FE);
	if (ret)
		return ret;
	d->watch_fe = true;
	/* Only catches a crashed frontend faster: its state node's removal
	 * (by the toolstack or the simulator) is caught without it. */
	ret = xb_xs_watch(d->pub.xs, "@releaseDomain", TOKEN_REL);
	if (ret)
		xb_warn("%s: cannot watch @releaseDomain: %s",
			d->pub.backend_path, strerror(-ret));
	else
		d->watch_rel = true;
	return 0;
}

/* The frontend's state is exactly Connected now (adoption check). */
static bool frontend_connected(struct xb_devi *d)
{
	char path[XB_DEV_PATH_MAX], buf[4];

	if (xb_join_path(path, sizeof(path), d->pub.frontend_path, "state") ||
	    xb_xs_read_buf(d->pub.xs, XBT_NULL, path, buf, sizeof(buf)))
		return false;
	return buf[0] == '0' + XenbusStateConnected && buf[1] == '\0';
}

int xb_dev_open(struct xb_hv *hv, const char *backend_path,
		const struct xb_dev_ops *ops, void *priv, struct xb_dev **out)
{
	struct xb_devi *d;
	bool live;
	int ret;

	if (!ops || !ops->kind || !ops->probe || !ops->connect ||
	    !ops->disconnect || !backend_path ||
	    strlen(backend_path) >= sizeof(d->pub.backend_path) - 32)
		return -EINVAL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->pub.hv = hv;
	d->pub.ops = ops;
	d->pub.priv = priv;
	strcpy(d->pub.backend_path, backend_path);

	ret = xb_hv_xs_open(hv, &d->pub.xs);
	if (ret)
		goto err_free;
	ret = dev_read_keys(d);
	if (ret)
		goto err_xs;
	ret = dev_watch(d);
	if (ret)
		goto err_watch;

	live = ops->adopt && d->pub.state == XenbusStateConnected &&
	       d->online && frontend_connected(d);
	d->in_op = true;
	ret = ops->probe(&d->pub);
	d->in_op = false;
	if (ret) {
		if (d->deferred_err)
			dev_apply_deferred(d);
		else
			xb_dev_fatal(&d->pub, ret, "probe failed");
		goto err_watch;
	}
	if (d->deferred_err) {
		ret = d->deferred_err;
		dev_apply_deferred(d);
		goto err_remove;
	}
	if (live) {
		d->in_op = true;
		ret = ops->adopt(&d->pub);
		d->in_op = false;
		if (ret == 0 && !d->deferred_err) {
			d->pub.connected = true;
			d->stats.connects++;
			xb_info("%s: adopted the live connection to frontend "
				"%u (state stays Connected)", backend_path,
				(unsigned int)d->pub.frontend_id);
			d->be_dirty = d->fe_dirty = d->rel_dirty = true;
			*out = &d->pub;
			return 0;
		}
		if (ret == 0) {
			/* It connected, then reported an error. */
			d->pub.connected = true;
			dev_apply_deferred(d);
			d->be_dirty = d->fe_dirty = d->rel_dirty = true;
			*out = &d->pub;
			return 0;
		}
		xb_warn("%s: cannot adopt the live connection (%s): "
			"renegotiating", backend_path, strerror(-ret));
	}
	ret = xb_dev_switch_state(&d->pub, XenbusStateInitWait);
	if (ret == -ECANCELED) {
		/* The toolstack is closing it already: let process decide. */
		ret = 0;
	}
	if (ret)
		goto err_remove;
	xb_info("%s: frontend %s (domain %u), InitWait", backend_path,
		d->pub.frontend_path, (unsigned int)d->pub.frontend_id);
	/* The first process() evaluates everything, watch events or not. */
	d->be_dirty = d->fe_dirty = d->rel_dirty = true;
	*out = &d->pub;
	return 0;

err_remove:
	if (ops->remove)
		ops->remove(&d->pub);
err_watch:
	dev_unwatch(d);
err_xs:
	xs_close(d->pub.xs);
err_free:
	free(d);
	return ret;
}

void xb_dev_close(struct xb_dev *dev)
{
	struct xb_devi *d;

	if (!dev)
		return;
	d = devi(dev);
	if (dev->connected) {
		/* The data path stops: tell the frontend, unless the toolstack
		 * removed the device (the transaction never recreates it). */
		dev_disconnect(d);
		xb_dev_switch_state(dev, XenbusStateClosed);
	}
	dev_remove(d);
	dev_unwatch(d);
	xs_close(dev->xs);
	free(d);
}

void xb_dev_detach(struct xb_dev *dev)
{
	struct xb_devi *d;

	if (!dev)
		return;
	d = devi(dev);
	/* No state write: the successor finds the device as we left it. */
	dev_disconnect(d);
	dev_unwatch(d);
	xs_close(dev->xs);
	free(d);
}
