/* SPDX-License-Identifier: MIT */
/* Internals shared by guest.c and guest_xs.c. */
#ifndef XENSIM_GUEST_PRIV_H
#define XENSIM_GUEST_PRIV_H

#include <limits.h>
#include <pthread.h>

#include "uback/sim_ctl_proto.h"

struct xg_sim {
	char dir[PATH_MAX];
	int ctl_fd;
	pthread_mutex_t lock;       /* one request/reply at a time */
};

/* ctl_call under sim->lock. */
int xg_sim_call(struct xg_sim *sim, const struct ctl_req *req,
		struct ctl_rep *rep, int *fds);

#endif
