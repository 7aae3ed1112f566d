/* SPDX-License-Identifier: MIT */
/*
 * The "xen" provider when this build has no libxengnttab/libxenevtchn:
 * every entry point fails with -ENOTSUP, so callers need no #ifdef.
 */
#include <errno.h>

#include "uback/hv.h"

static int xen_unimp_open(const struct xb_hv_config *cfg, struct xb_hv **out)
{
	return -ENOTSUP;
}

const struct xb_hv_ops xb_hv_xen_ops = {
	.name = "xen",
	.open = xen_unimp_open,
};
