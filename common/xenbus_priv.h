/* SPDX-License-Identifier: MIT */
/* Internal to common/xenbus*.c: the device behind struct xb_dev. */
#ifndef UBACK_XENBUS_PRIV_H
#define UBACK_XENBUS_PRIV_H

#include <stdbool.h>

#include "uback/xenbus.h"
#include "uback/xs.h"

/* Room for "<backend or frontend dir>/<key>". */
#define XB_DEV_PATH_MAX 192

struct xb_devi {
	struct xb_dev pub;
	domid_t self;
	bool online;
	bool be_gone;          /* backend dir removed by the toolstack */
	bool fe_node_missing;  /* <frontend>/state absent */
	bool fe_dead;          /* domain released (sticky) */
	bool fe_bad;           /* last frontend state value was malformed */
	bool be_dirty, fe_dirty, rel_dirty;
	bool watch_be, watch_fe, watch_rel;
	bool in_op;            /* inside an op: xb_dev_fatal is deferred */
	int deferred_err;
	char deferred_msg[160];
	struct xb_dev_stats stats;
};

static inline struct xb_devi *devi(struct xb_dev *dev)
{
	return (struct xb_devi *)dev;
}

/* "<dir>/<key>" into @buf; -ENAMETOOLONG if it does not fit. */
int xb_join_path(char *buf, size_t size, const char *dir, const char *key);
/* /local/domain/<self>/backend/<kind>/<domid>/<devid>, canonical numbers. */
int xb_dev_parse_backend_path(const char *path, const char *kind,
			      domid_t *self, domid_t *domid,
			      unsigned int *devid);
/* /local/domain/<feid>/device/<type>/<n>, safe components. */
int xb_dev_check_frontend_path(const char *path, domid_t feid);

/* A transaction that writes under the backend dir only if the dir still
 * exists: a plain write would recreate a device the toolstack removed. */
struct be_write {
	struct xb_devi *d;
	const struct xb_dev_kv *kv;
	size_t count;
};

int xb_dev_be_write_fn(struct xs_handle *xs, xs_transaction_t t, void *arg);

#endif
