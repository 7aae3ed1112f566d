/* SPDX-License-Identifier: MIT */
/*
 * Placeholder xenstore server until the real one (xs_server.c) is merged:
 * serves nothing. Removed by that merge.
 */
#include <errno.h>
#include <stdlib.h>

#include "xs_server.h"

struct xs_srv {
	int unused;
};

int xs_srv_create(struct sim_loop *loop, const char *dir, struct xs_srv **out)
{
	*out = NULL;
	return 0;
}

void xs_srv_destroy(struct xs_srv *srv)
{
}

int xs_srv_domain_introduce(struct xs_srv *srv, domid_t domid,
			    const char *name)
{
	return 0;
}

int xs_srv_domain_release(struct xs_srv *srv, domid_t domid)
{
	return 0;
}

bool xs_srv_domain_exists(const struct xs_srv *srv, domid_t domid)
{
	return false;
}
