/* SPDX-License-Identifier: MIT */
/*
 * XenBus device helpers for kind code: key reads and writes relative to the
 * device dirs, validation of the toolstack-written paths, state names.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uback/xenbus.h"
#include "uback/xs.h"
#include "xenbus_priv.h"

const char *xb_xenbus_state_name(enum xenbus_state state)
{
	static const char *const names[] = {
		[XenbusStateUnknown] = "Unknown",
		[XenbusStateInitialising] = "Initialising",
		[XenbusStateInitWait] = "InitWait",
		[XenbusStateInitialised] = "Initialised",
		[XenbusStateConnected] = "Connected",
		[XenbusStateClosing] = "Closing",
		[XenbusStateClosed] = "Closed",
		[XenbusStateReconfiguring] = "Reconfiguring",
		[XenbusStateReconfigured] = "Reconfigured",
	};

	if ((unsigned int)state >= sizeof(names) / sizeof(names[0]))
		return "Invalid";
	return names[state];
}

int xb_join_path(char *buf, size_t size, const char *dir, const char *key)
{
	int n = snprintf(buf, size, "%s/%s", dir, key);

	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	return 0;
}

/* ---- parsing of toolstack-written paths -------------------------------- */

/* Parse a canonical decimal (no sign, no leading zero unless "0") of at
 * most @max from [*s, first '/' or NUL); advance *s past it. */
static int take_uint(const char **s, unsigned long max, unsigned long *out)
{
	const char *p = *s;
	unsigned long v = 0;

	if (*p < '0' || *p > '9')
		return -EINVAL;
	if (*p == '0' && p[1] >= '0' && p[1] <= '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (unsigned long)(*p - '0');
		if (v > max)
			return -EINVAL;
	}
	*s = p;
	*out = v;
	return 0;
}

static bool skip_prefix(const char **s, const char *prefix)
{
	size_t n = strlen(prefix);

	if (strncmp(*s, prefix, n) != 0)
		return false;
	*s += n;
	return true;
}

/* Characters libxl uses in a device path component. */
static bool safe_component(const char *s, size_t len)
{
	size_t i;

	if (len == 0)
		return false;
	for (i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return false;
	}
	return true;
}

/* /local/domain/<self>/backend/<kind>/<domid>/<devid> */
int xb_dev_parse_backend_path(const char *path, const char *kind,
			      domid_t *self, domid_t *domid,
			      unsigned int *devid)
{
	const char *p = path;
	unsigned long v_self, v_dom, v_dev;

	if (!skip_prefix(&p, "/local/domain/") ||
	    take_uint(&p, DOMID_FIRST_RESERVED - 1, &v_self) ||
	    !skip_prefix(&p, "/backend/") || !skip_prefix(&p, kind) ||
	    !skip_prefix(&p, "/") ||
	    take_uint(&p, DOMID_FIRST_RESERVED - 1, &v_dom) ||
	    !skip_prefix(&p, "/") || take_uint(&p, UINT_MAX, &v_dev) ||
	    *p != '\0')
		return -EINVAL;
	*self = (domid_t)v_self;
	*domid = (domid_t)v_dom;
	*devid = (unsigned int)v_dev;
	return 0;
}

/* /local/domain/<feid>/device/<type>/<n>: two safe components. */
int xb_dev_check_frontend_path(const char *path, domid_t feid)
{
	const char *p = path, *slash;
	unsigned long v;

	if (!skip_prefix(&p, "/local/domain/") ||
	    take_uint(&p, DOMID_FIRST_RESERVED - 1, &v) || v != feid ||
	    !skip_prefix(&p, "/device/"))
		return -EINVAL;
	slash = strchr(p, '/');
	if (!slash || !safe_component(p, (size_t)(slash - p)) ||
	    !safe_component(slash + 1, strlen(slash + 1)))
		return -EINVAL;
	return 0;
}

/* ---- xenstore helpers ---------------------------------------------------- */

/* Fails with -ENOENT, writing nothing, when the backend dir is gone. */
int xb_dev_be_write_fn(struct xs_handle *xs, xs_transaction_t t, void *arg)
{
	struct be_write *w = arg;
	char path[XB_DEV_PATH_MAX];
	char *v;
	size_t i;
	int ret;

	ret = xb_xs_read(xs, t, w->d->pub.backend_path, &v);
	if (ret)
		return ret;
	free(v);
	for (i = 0; i < w->count; i++) {
		ret = xb_join_path(path, sizeof(path), w->d->pub.backend_path,
				   w->kv[i].key);
		if (ret)
			return ret;
		ret = xb_xs_write(xs, t, path, w->kv[i].value);
		if (ret)
			return ret;
	}
	return 0;
}

int xb_dev_write_be_kv(struct xb_dev *dev, const struct xb_dev_kv *kv,
		       size_t count)
{
	struct be_write w = { .d = devi(dev), .kv = kv, .count = count };

	return xb_xs_transact(dev->xs, xb_dev_be_write_fn, &w, 0);
}

int xb_dev_printf_be(struct xb_dev *dev, const char *key, const char *fmt, ...)
{
	struct xb_dev_kv kv = { .key = key };
	va_list ap;
	char *value;
	int ret;

	va_start(ap, fmt);
	ret = vasprintf(&value, fmt, ap);
	va_end(ap);
	if (ret < 0)
		return -ENOMEM;
	kv.value = value;
	ret = xb_dev_write_be_kv(dev, &kv, 1);
	free(value);
	return ret;
}

int xb_dev_read_fe_u64(struct xb_dev *dev, const char *key, uint64_t max,
		       uint64_t *out)
{
	char path[XB_DEV_PATH_MAX];
	int ret = xb_join_path(path, sizeof(path), dev->frontend_path, key);

	return ret ? ret : xb_xs_read_u64(dev->xs, XBT_NULL, path, max, out);
}

int xb_dev_read_fe_str(struct xb_dev *dev, const char *key, char *buf,
		       size_t size)
{
	char path[XB_DEV_PATH_MAX];
	int ret = xb_join_path(path, sizeof(path), dev->frontend_path, key);

	return ret ? ret : xb_xs_read_buf(dev->xs, XBT_NULL, path, buf, size);
}

int xb_dev_read_fe_bytes(struct xb_dev *dev, const char *key, char *buf,
			 size_t size, size_t *len)
{
	char path[XB_DEV_PATH_MAX];
	int ret = xb_join_path(path, sizeof(path), dev->frontend_path, key);

	return ret ? ret : xb_xs_read_bytes(dev->xs, XBT_NULL, path, buf, size,
					    len);
}

int xb_dev_read_be_str(struct xb_dev *dev, const char *key, char *buf,
		       size_t size)
{
	char path[XB_DEV_PATH_MAX];
	int ret = xb_join_path(path, sizeof(path), dev->backend_path, key);

	return ret ? ret : xb_xs_read_buf(dev->xs, XBT_NULL, path, buf, size);
}

int xb_dev_read_be_u64(struct xb_dev *dev, const char *key, uint64_t max,
		       uint64_t *out)
{
	char path[XB_DEV_PATH_MAX];
	int ret = xb_join_path(path, sizeof(path), dev->backend_path, key);

	return ret ? ret : xb_xs_read_u64(dev->xs, XBT_NULL, path, max, out);
}

void xb_dev_get_stats(const struct xb_dev *dev, struct xb_dev_stats *out)
{
	*out = ((const struct xb_devi *)dev)->stats;
}
