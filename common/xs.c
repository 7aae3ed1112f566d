/* SPDX-License-Identifier: MIT */
/*
 * -errno wrappers over libxenstore. libxenstore reports failure as NULL or
 * false with errno set; this file is the one place that reads that errno.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uback/xs.h"

#define XB_XS_DEFAULT_TRIES 16u

/* errno after a failed libxenstore call. A library path that fails without
 * setting errno must still read as a failure, never as success. */
static int xs_errno(void)
{
	return errno > 0 ? -errno : -EIO;
}

int xb_xs_read(struct xs_handle *xs, xs_transaction_t t, const char *path,
	       char **value)
{
	unsigned int len;
	char *v;

	errno = 0;
	v = xs_read(xs, t, path, &len);
	if (!v)
		return xs_errno();
	*value = v;
	return 0;
}

int xb_xs_read_buf(struct xs_handle *xs, xs_transaction_t t,
		   const char *path, char *buf, size_t size)
{
	size_t len;

	return xb_xs_read_bytes(xs, t, path, buf, size, &len);
}

int xb_xs_read_bytes(struct xs_handle *xs, xs_transaction_t t,
		     const char *path, char *buf, size_t size, size_t *out_len)
{
	unsigned int len = 0;
	char *v;

	errno = 0;
	v = xs_read(xs, t, path, &len);
	if (!v)
		return xs_errno();
	if ((size_t)len >= size) {
		free(v);
		return -E2BIG;
	}
	/* libxenstore NUL-terminates; copy the terminator with the value. */
	memcpy(buf, v, len);
	buf[len] = '\0';
	*out_len = len;
	free(v);
	return 0;
}

/* Strict decimal parse of exactly @len bytes: no sign, no blanks, no
 * embedded NUL, nothing after the digits, no overflow. */
int xb_parse_u64(const char *s, size_t len, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (len == 0)
		return -EINVAL;
	for (i = 0; i < len; i++) {
		unsigned int d;

		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		d = (unsigned int)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -EINVAL;
		v = v * 10 + d;
	}
	if (v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

int xb_xs_read_u64(struct xs_handle *xs, xs_transaction_t t,
		   const char *path, uint64_t max, uint64_t *out)
{
	unsigned int len = 0;
	char *v;
	int ret;

	errno = 0;
	v = xs_read(xs, t, path, &len);
	if (!v)
		return xs_errno();
	/* The value is guest-controlled: parse exactly the bytes xenstore
	 * returned, so an embedded NUL counts as trailing garbage. */
	ret = xb_parse_u64(v, len, max, out);
	free(v);
	return ret;
}

int xb_xs_write(struct xs_handle *xs, xs_transaction_t t, const char *path,
		const char *value)
{
	size_t len = strlen(value);

	if (len > XENSTORE_PAYLOAD_MAX)
		return -E2BIG;
	errno = 0;
	if (!xs_write(xs, t, path, value, (unsigned int)len))
		return xs_errno();
	return 0;
}

int xb_xs_printf(struct xs_handle *xs, xs_transaction_t t, const char *path,
		 const char *fmt, ...)
{
	va_list ap;
	char *value;
	int n, ret;

	va_start(ap, fmt);
	n = vasprintf(&value, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	ret = xb_xs_write(xs, t, path, value);
	free(value);
	return ret;
}

int xb_xs_mkdir(struct xs_handle *xs, xs_transaction_t t, const char *path)
{
	errno = 0;
	if (!xs_mkdir(xs, t, path))
		return xs_errno();
	return 0;
}

int xb_xs_rm(struct xs_handle *xs, xs_transaction_t t, const char *path)
{
	errno = 0;
	if (!xs_rm(xs, t, path)) {
		if (errno == ENOENT)
			return 0;
		return xs_errno();
	}
	return 0;
}

int xb_xs_directory(struct xs_handle *xs, xs_transaction_t t,
		    const char *path, char ***names, unsigned int *count)
{
	unsigned int n = 0;
	char **v;

	errno = 0;
	v = xs_directory(xs, t, path, &n);
	if (!v)
		return xs_errno();
	*names = v;
	*count = n;
	return 0;
}

int xb_xs_get_perms(struct xs_handle *xs, xs_transaction_t t,
		    const char *path, struct xs_permissions **perms,
		    unsigned int *count)
{
	struct xs_permissions *p;
	unsigned int n = 0;

	errno = 0;
	p = xs_get_permissions(xs, t, path, &n);
	if (!p)
		return xs_errno();
	*perms = p;
	*count = n;
	return 0;
}

int xb_xs_set_perms(struct xs_handle *xs, xs_transaction_t t,
		    const char *path, const struct xs_permissions *perms,
		    unsigned int count)
{
	errno = 0;
	/* libxenstore's prototype lacks const but only reads the array. */
	if (!xs_set_permissions(xs, t, path, (struct xs_permissions *)perms,
				count))
		return xs_errno();
	return 0;
}

int xb_xs_transact(struct xs_handle *xs,
		   int (*fn)(struct xs_handle *xs, xs_transaction_t t,
			     void *arg),
		   void *arg, unsigned int max_tries)
{
	unsigned int i;

	if (!max_tries)
		max_tries = XB_XS_DEFAULT_TRIES;
	for (i = 0; i < max_tries; i++) {
		xs_transaction_t t;
		int ret;

		errno = 0;
		t = xs_transaction_start(xs);
		if (t == XBT_NULL)
			return xs_errno();
		ret = fn(xs, t, arg);
		if (ret) {
			/* Abort; the abort's own failure changes nothing. */
			xs_transaction_end(xs, t, true);
			return ret;
		}
		errno = 0;
		if (xs_transaction_end(xs, t, false))
			return 0;
		if (errno != EAGAIN)
			return xs_errno();
	}
	return -EAGAIN;
}

int xb_xs_watch(struct xs_handle *xs, const char *path, const char *token)
{
	errno = 0;
	if (!xs_watch(xs, path, token))
		return xs_errno();
	return 0;
}

int xb_xs_unwatch(struct xs_handle *xs, const char *path, const char *token)
{
	errno = 0;
	if (!xs_unwatch(xs, path, token))
		return xs_errno();
	return 0;
}

int xb_xs_watch_fd(struct xs_handle *xs)
{
	return xs_fileno(xs);
}

int xb_xs_read_watch(struct xs_handle *xs, char ***vec)
{
	char **v;

	errno = 0;
	v = xs_check_watch(xs);
	if (!v)
		return xs_errno();
	*vec = v;
	return 0;
}
