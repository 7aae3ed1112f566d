/* SPDX-License-Identifier: MIT */
/*
 * xensim control socket server (protocol in uback/sim_ctl_proto.h): listens on
 * DIR/control.sock and serves requests on the simulator loop.
 */
#ifndef XENSIM_CTL_H
#define XENSIM_CTL_H

struct sim_loop;
struct sim_doms;
struct ctl_srv;

int ctl_srv_create(struct sim_loop *loop, struct sim_doms *doms,
		   const char *dir, struct ctl_srv **out);
/* Close every connection (closing the ports they own) and unlink the
 * socket. */
void ctl_srv_destroy(struct ctl_srv *srv);

#endif
