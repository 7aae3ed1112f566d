/* SPDX-License-Identifier: MIT */
/* Provider lookup: the one place that knows which providers exist. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "uback/hv.h"
#include "uback/log.h"

static const struct xb_hv_ops *const providers[] = {
	&xb_hv_xen_ops,
	&xb_hv_sim_ops,
};

int xb_hv_lookup(const char *name, const struct xb_hv_ops **out)
{
	size_t i;

	if (!name) {
		if (access("/dev/xen/gntdev", F_OK) != 0)
			return -ENODEV;
		name = "xen";
	}
	for (i = 0; i < sizeof(providers) / sizeof(providers[0]); i++) {
		if (strcmp(providers[i]->name, name) == 0) {
			*out = providers[i];
			return 0;
		}
	}
	return -ENOENT;
}

int xb_hv_open(const struct xb_hv_config *cfg, struct xb_hv **hv)
{
	const struct xb_hv_ops *ops;
	int ret;

	ret = xb_hv_lookup(cfg->provider, &ops);
	if (ret == -ENODEV) {
		xb_err("no Xen here (/dev/xen/gntdev missing): run under Xen, "
		       "or pass --hv sim to use the xensim simulator");
		return ret;
	}
	if (ret) {
		xb_err("unknown hypervisor provider '%s' (known: xen, sim)",
		       cfg->provider);
		return ret;
	}
	ret = ops->open(cfg, hv);
	if (ret == -ENOTSUP)
		xb_err("hypervisor provider '%s' is not compiled into this build",
		       ops->name);
	else if (ret && !strcmp(ops->name, "sim"))
		xb_err("cannot reach the xensim simulator at %s: %s (start "
		       "`xensim --dir DIR`, then pass --sim-dir DIR or set XENSIM_DIR)",
		       cfg->sim_dir ? cfg->sim_dir :
		       getenv("XENSIM_DIR") ? getenv("XENSIM_DIR") :
		       "(no directory: XENSIM_DIR unset)", strerror(-ret));
	else if (ret)
		xb_err("cannot open hypervisor provider '%s': %s", ops->name,
		       strerror(-ret));
	return ret;
}
