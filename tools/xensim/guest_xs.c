/* SPDX-License-Identifier: MIT */
/* xensim guest library: toolstack device creation and XenBus helpers, over
 * libxenstore (the same client code a backend uses). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <xenstore.h>

#include "xensim/guest.h"
#include "guest_priv.h"

#define XG_PATH_MAX 256
#define XG_TRIES 16

static int xs_err(void)
{
	return errno ? -errno : -EIO;
}

static int write_str(struct xs_handle *xs, xs_transaction_t t,
		     const char *path, const char *val)
{
	if (!xs_write(xs, t, path, val, strlen(val)))
		return xs_err();
	return 0;
}

static int write_kv(struct xs_handle *xs, xs_transaction_t t,
		    const char *dir, const char *key, const char *val)
{
	char path[XG_PATH_MAX];
	int n = snprintf(path, sizeof(path), "%s/%s", dir, key);

	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	return write_str(xs, t, path, val);
}

static int write_list(struct xs_handle *xs, xs_transaction_t t,
		      const char *dir, const char *const *kv)
{
	int err;

	for (; kv && kv[0]; kv += 2) {
		if (!kv[1])
			return -EINVAL;
		err = write_kv(xs, t, dir, kv[0], kv[1]);
		if (err)
			return err;
	}
	return 0;
}

/* Create @dir owned by @owner with read access for @reader. */
static int make_dir(struct xs_handle *xs, xs_transaction_t t, const char *dir,
		    domid_t owner, domid_t reader)
{
	struct xs_permissions perms[2] = {
		{ .id = owner, .perms = XS_PERM_NONE },
		{ .id = reader, .perms = XS_PERM_READ },
	};

	if (!xs_mkdir(xs, t, dir))
		return xs_err();
	if (!xs_set_permissions(xs, t, dir, perms, 2))
		return xs_err();
	return 0;
}

static int dev_paths(domid_t domid, const char *kind, const char *fe_kind,
		     unsigned int devid, char *fe, char *be)
{
	int n1 = snprintf(fe, XG_PATH_MAX, "/local/domain/%u/device/%s/%u",
			  domid, fe_kind, devid);
	int n2 = snprintf(be, XG_PATH_MAX,
			  "/local/domain/0/backend/%s/%u/%u", kind, domid,
			  devid);

	if (n1 < 0 || n1 >= XG_PATH_MAX || n2 < 0 || n2 >= XG_PATH_MAX)
		return -ENAMETOOLONG;
	return 0;
}

static int device_write(struct xs_handle *xs, xs_transaction_t t,
			domid_t domid, const char *fe, const char *be,
			const char *const *be_kv, const char *const *fe_kv)
{
	char id[16];
	int err;

	snprintf(id, sizeof(id), "%u", domid);
	err = make_dir(xs, t, fe, domid, 0);
	if (!err)
		err = write_kv(xs, t, fe, "backend", be);
	if (!err)
		err = write_kv(xs, t, fe, "backend-id", "0");
	if (!err)
		err = write_kv(xs, t, fe, "state", "1");
	if (!err)
		err = write_list(xs, t, fe, fe_kv);
	if (!err)
		err = make_dir(xs, t, be, 0, domid);
	if (!err)
		err = write_kv(xs, t, be, "frontend", fe);
	if (!err)
		err = write_kv(xs, t, be, "frontend-id", id);
	if (!err)
		err = write_kv(xs, t, be, "online", "1");
	if (!err)
		err = write_kv(xs, t, be, "state", "1");
	if (!err)
		err = write_list(xs, t, be, be_kv);
	return err;
}

int xg_device_create(struct xg_sim *sim, domid_t domid, const char *kind,
		     const char *fe_kind, unsigned int devid,
		     const char *const *be_kv, const char *const *fe_kv)
{
	char fe[XG_PATH_MAX], be[XG_PATH_MAX];
	struct xs_handle *xs;
	xs_transaction_t t;
	int err, tries;

	err = dev_paths(domid, kind, fe_kind, devid, fe, be);
	if (err)
		return err;
	err = xg_sim_xs_open(sim, &xs);
	if (err)
		return err;
	for (tries = 0; tries < XG_TRIES; tries++) {
		t = xs_transaction_start(xs);
		if (t == XBT_NULL) {
			err = xs_err();
			break;
		}
		err = device_write(xs, t, domid, fe, be, be_kv, fe_kv);
		if (!xs_transaction_end(xs, t, err ? true : false) && !err)
			err = xs_err();
		if (err != -EAGAIN)
			break;
	}
	xs_close(xs);
	return err;
}

int xg_device_remove(struct xg_sim *sim, domid_t domid, const char *kind,
		     const char *fe_kind, unsigned int devid)
{
	char fe[XG_PATH_MAX], be[XG_PATH_MAX], path[XG_PATH_MAX + 16];
	struct xs_handle *xs;
	int err;

	err = dev_paths(domid, kind, fe_kind, devid, fe, be);
	if (err)
		return err;
	err = xg_sim_xs_open(sim, &xs);
	if (err)
		return err;
	snprintf(path, sizeof(path), "%s/online", be);
	err = write_str(xs, XBT_NULL, path, "0");
	if (err == -ENOENT)
		err = 0;
	if (!xs_rm(xs, XBT_NULL, fe) && errno != ENOENT && !err)
		err = xs_err();
	if (!xs_rm(xs, XBT_NULL, be) && errno != ENOENT && !err)
		err = xs_err();
	xs_close(xs);
	return err;
}

int xg_xenbus_switch(struct xs_handle *xs, const char *dir,
		     enum xenbus_state state)
{
	char path[XG_PATH_MAX], val[8];
	int n = snprintf(path, sizeof(path), "%s/state", dir);

	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	snprintf(val, sizeof(val), "%d", (int)state);
	return write_str(xs, XBT_NULL, path, val);
}

int xg_xenbus_read_state(struct xs_handle *xs, const char *dir,
			 enum xenbus_state *state)
{
	char path[XG_PATH_MAX], *val, *end;
	unsigned int len;
	long v;
	int n = snprintf(path, sizeof(path), "%s/state", dir);

	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	val = xs_read(xs, XBT_NULL, path, &len);
	if (!val)
		return xs_err();
	errno = 0;
	v = strtol(val, &end, 10);
	if (len == 0 || *end || errno || v < XenbusStateUnknown ||
	    v > XenbusStateReconfigured) {
		free(val);
		return -EINVAL;
	}
	free(val);
	*state = (enum xenbus_state)v;
	return 0;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int xg_xenbus_wait_state(struct xs_handle *xs, const char *dir,
			 uint32_t mask, int timeout_ms,
			 enum xenbus_state *seen)
{
	/* Polls instead of watching: a watch on the caller's handle would
	 * consume watch events the caller queued for itself. */
	const struct timespec pause = { .tv_nsec = 2 * 1000 * 1000 };
	long long deadline = now_ms() + (timeout_ms < 0 ? 0 : timeout_ms);
	enum xenbus_state st = XenbusStateUnknown;
	int err;

	for (;;) {
		err = xg_xenbus_read_state(xs, dir, &st);
		if (err && err != -ENOENT && err != -EINVAL)
			break;
		if (!err && (mask & (1u << st)))
			break;
		if (now_ms() >= deadline) {
			err = -ETIMEDOUT;
			break;
		}
		nanosleep(&pause, NULL);
	}
	if (seen)
		*seen = st;
	return err;
}
