/* SPDX-License-Identifier: MIT */
/*
 * Test helper: run a private xensim daemon for one test program.
 *
 *   struct sim_harness h;
 *   if (sim_harness_start(&h)) ...fail...;
 *   ... h.dir is the daemon's --dir; $XENSIM_DIR is set to it, so
 *       xg_sim_connect(NULL, ...) and the "sim" provider with
 *       sim_dir = NULL find it ...
 *   sim_harness_stop(&h);   // SIGTERM, wait, remove the directory
 *
 * start makes a fresh directory under $TMPDIR (or /tmp), spawns the xensim
 * binary built with this tree (or $XENSIM_BIN) with --ready-fd, and waits
 * up to 10 s for it to be ready. stop returns 0 only if the daemon exited
 * by itself with status 0 after SIGTERM (so a daemon that crashed, or that
 * a sanitizer made fail at exit, fails the test); it always cleans up.
 * The daemon gets SIGTERM if the thread that started it exits (so a
 * crashed test leaves no daemon behind): start it from a thread that
 * outlives it, normally the main thread. Not thread-safe; one harness per
 * daemon; several may run at once.
 */
#ifndef UBACK_TESTS_SIM_HARNESS_H
#define UBACK_TESTS_SIM_HARNESS_H

#include <limits.h>
#include <sys/types.h>

struct sim_harness {
	char dir[PATH_MAX];        /* the daemon's --dir */
	pid_t pid;                 /* the daemon, or 0 when stopped */
};

int sim_harness_start(struct sim_harness *h);
int sim_harness_stop(struct sim_harness *h);

#endif
