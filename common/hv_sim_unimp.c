/* SPDX-License-Identifier: MIT */
/*
 * The "sim" provider until the simulator client lands:
 * every entry point fails with -ENOTSUP, so callers need no #ifdef.
 */
#include <errno.h>

#include "uback/hv.h"

static int sim_unimp_open(const struct xb_hv_config *cfg, struct xb_hv **out)
{
	return -ENOTSUP;
}

const struct xb_hv_ops xb_hv_sim_ops = {
	.name = "sim",
	.open = sim_unimp_open,
};
