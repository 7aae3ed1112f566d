/* SPDX-License-Identifier: MIT */
/*
 * xenstore access for backends: -errno wrappers over libxenstore.
 *
 * Both hypervisor providers hand out a libxenstore handle (xb_hv_xs_open):
 * on Xen it talks to xenstored, under the simulator to xensim's socket. So
 * there is one xenstore client path, and every simulator test exercises it.
 *
 * All functions: 0 or -errno (libxenstore's -1/errno converted here).
 * @t is a transaction or XBT_NULL. Paths are absolute. Nothing logs.
 * Thread context: any; libxenstore serialises requests on a handle.
 */
#ifndef UBACK_XS_H
#define UBACK_XS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xenstore.h>

/* Read @path into a NUL-terminated malloc'd string (free() it). -ENOENT if
 * the node does not exist. Values longer than XENSTORE_PAYLOAD_MAX cannot
 * exist. */
int xb_xs_read(struct xs_handle *xs, xs_transaction_t t, const char *path,
	       char **value);
/* Read into a caller buffer; -E2BIG if it does not fit (with the NUL). */
int xb_xs_read_buf(struct xs_handle *xs, xs_transaction_t t,
		   const char *path, char *buf, size_t size);
/* The same, and the value's length in *@len (it may hold NULs). */
int xb_xs_read_bytes(struct xs_handle *xs, xs_transaction_t t,
		     const char *path, char *buf, size_t size, size_t *len);
/*
 * The strict parse xb_xs_read_u64 applies, on @len bytes of @s (no NUL
 * needed): decimal digits only, no overflow, <= @max; else -EINVAL.
 */
int xb_parse_u64(const char *s, size_t len, uint64_t max, uint64_t *out);
/*
 * Read an unsigned integer. Strict: decimal digits only (no sign, no
 * spaces, no trailing garbage), must fit in 64 bits and be <= @max.
 * -ENOENT if missing, -EINVAL if malformed or out of range. Frontend keys
 * are hostile: always read them with this or xb_xs_read_buf.
 */
int xb_xs_read_u64(struct xs_handle *xs, xs_transaction_t t,
		   const char *path, uint64_t max, uint64_t *out);
int xb_xs_write(struct xs_handle *xs, xs_transaction_t t, const char *path,
		const char *value);
int xb_xs_printf(struct xs_handle *xs, xs_transaction_t t, const char *path,
		 const char *fmt, ...) __attribute__((format(printf, 4, 5)));
int xb_xs_mkdir(struct xs_handle *xs, xs_transaction_t t, const char *path);
/* Remove @path and its children; a missing node is not an error. */
int xb_xs_rm(struct xs_handle *xs, xs_transaction_t t, const char *path);
/* List children: *names is a malloc'd array of *count strings (free() the
 * array only; the strings live inside it). */
int xb_xs_directory(struct xs_handle *xs, xs_transaction_t t,
		    const char *path, char ***names, unsigned int *count);
int xb_xs_get_perms(struct xs_handle *xs, xs_transaction_t t,
		    const char *path, struct xs_permissions **perms,
		    unsigned int *count);
int xb_xs_set_perms(struct xs_handle *xs, xs_transaction_t t,
		    const char *path, const struct xs_permissions *perms,
		    unsigned int count);

/*
 * Run @fn inside a transaction, retrying the whole transaction when the
 * commit reports a conflict (EAGAIN), up to @max_tries times (0: 16).
 * @fn returns 0 to commit or -errno to abort (the error is returned).
 * Returns -EAGAIN if every try conflicted.
 */
int xb_xs_transact(struct xs_handle *xs,
		   int (*fn)(struct xs_handle *xs, xs_transaction_t t,
			     void *arg),
		   void *arg, unsigned int max_tries);

/* Watches. The handle's watch fd (xs_fileno) becomes readable when events
 * are queued; xb_xs_watch_fd never fails on an open handle. A new watch
 * fires once immediately, as on Xen. */
int xb_xs_watch(struct xs_handle *xs, const char *path, const char *token);
int xb_xs_unwatch(struct xs_handle *xs, const char *path, const char *token);
int xb_xs_watch_fd(struct xs_handle *xs);
/*
 * Take one queued watch event without blocking: -EAGAIN when none.
 * *vec is malloc'd (free() it): (*vec)[XS_WATCH_PATH], (*vec)[XS_WATCH_TOKEN].
 */
int xb_xs_read_watch(struct xs_handle *xs, char ***vec);

#endif /* UBACK_XS_H */
