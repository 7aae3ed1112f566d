/* SPDX-License-Identifier: MIT */
/*
 * xensim's event loop: one thread, epoll, a callback per fd. The daemon's
 * control plane (xenstore server, domain and event channel control) runs on
 * it; the data path never does.
 */
#ifndef XENSIM_LOOP_H
#define XENSIM_LOOP_H

#include <stdint.h>

struct sim_loop;

/* Called when @fd is readable (or hung up / in error). */
typedef void (*sim_loop_cb)(void *arg, int fd, uint32_t events);

int sim_loop_create(struct sim_loop **out);
void sim_loop_destroy(struct sim_loop *loop);
/* Watch @fd for input (EPOLLIN); -EEXIST if already watched. */
int sim_loop_add(struct sim_loop *loop, int fd, sim_loop_cb cb, void *arg);
/* Stop watching @fd (does not close it). Safe from inside a callback,
 * including for an fd whose event is still queued in this iteration. */
void sim_loop_del(struct sim_loop *loop, int fd);
/* Run one iteration: wait up to @timeout_ms (-1: forever) and dispatch.
 * Returns the number of callbacks run, or -errno. */
int sim_loop_run_once(struct sim_loop *loop, int timeout_ms);
/* Run until sim_loop_stop() (callable from a callback or a signal-safe
 * context: it writes an eventfd). */
int sim_loop_run(struct sim_loop *loop);
void sim_loop_stop(struct sim_loop *loop);

#endif
