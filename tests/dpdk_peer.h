/* SPDX-License-Identifier: MIT */
/*
 * Test helper: a dpdk-testpmd process as the far end of a DPDK port
 * (test_net_port_dpdk --memif, test_net_dpdk_e2e).
 *
 * testpmd runs interactive (-i), fed through a pipe, its output (made
 * line-buffered with coreutils' libstdbuf) in a log file the helper
 * searches. Why interactive: testpmd's memif server crashed (SIGSEGV in
 * its forwarding lcore, inside librte_net_memif) when a client connected
 * while it was already forwarding, or before its port was started. So
 * the socket the client uses is published (renamed from a private name)
 * only once testpmd's ports are up, and forwarding is started
 * (dpdk_peer_go) only once the client is connected.
 *
 *   struct dpdk_peer pe;
 *   dpdk_peer_init(&pe);                 // temp dir, socket/log names
 *   dpdk_peer_start(&pe, &args);         // testpmd up, socket published
 *   ... connect the port to pe.sock, dpdk_peer_wait_link(&pe, ...) ...
 *   dpdk_peer_go(&pe);                   // "start"
 *   dpdk_peer_kill(&pe, SIGTERM);        // may be restarted after
 *   dpdk_peer_fini(&pe);                 // kill, remove the temp dir
 *
 * Every testpmd gets a unique EAL --file-prefix and --no-huge --no-pci;
 * its runtime directory is removed when it is killed. Conventions: 0 or
 * -errno; failures print testpmd's output to stderr. One thread.
 */
#ifndef UBACK_TESTS_DPDK_PEER_H
#define UBACK_TESTS_DPDK_PEER_H

#include <stdbool.h>
#include <sys/types.h>

#define DPDK_PEER_TESTPMD "dpdk-testpmd"

struct dpdk_peer {
	char dir[64];        /* private temp dir: sockets, log */
	char sock[128];      /* the published socket (the port's path) */
	char sock_tmp[128];  /* where testpmd listens until it is ready */
	char prefix[64];     /* testpmd's EAL file prefix */
	char log[128];       /* testpmd's output */
	pid_t pid;           /* 0: not running */
	int stdin_w;         /* testpmd exits when this closes */
	unsigned int gen;    /* restarts (in the prefix) */
};

struct dpdk_peer_args {
	/* --vdev, with "%s" once for the socket path testpmd listens on */
	const char *vdev;
	const char *fwd;          /* --forward-mode: "io", "macswap" ... */
	unsigned int nr_queues;   /* --rxq/--txq */
	bool publish;             /* rename sock_tmp to sock once up (a
	                           * server socket); false: testpmd is
	                           * given sock itself */
	const char *extra;        /* more testpmd (not EAL) words, or NULL */
};

/* true if dpdk-testpmd is installed. */
bool dpdk_peer_have_testpmd(void);
/* Make the temp dir and names. -errno from mkdtemp. */
int dpdk_peer_init(struct dpdk_peer *pe);
/* Kill testpmd if running, remove its log and the dir. */
void dpdk_peer_fini(struct dpdk_peer *pe);

/*
 * Fork testpmd with @a and wait (60 s) until its ports are up; then
 * publish the socket. -ETIMEDOUT (log printed) if testpmd did not get
 * there (or died), -errno for fork/pipe/rename. TEST_TESTPMD_GDB=1 runs
 * it under gdb (a backtrace on a crash), TEST_TESTPMD_CORE=1 lets it
 * dump core in the temp dir.
 */
int dpdk_peer_start(struct dpdk_peer *pe, const struct dpdk_peer_args *a);
/* Wait up to @ms until testpmd's output past byte @from contains @what
 * (false also once testpmd exited). */
bool dpdk_peer_wait_output(struct dpdk_peer *pe, const char *what,
			   long from, unsigned int ms);
/* Bytes of output so far (a @from for dpdk_peer_wait_output). */
long dpdk_peer_output_size(const struct dpdk_peer *pe);
/* Send one command line to testpmd ("\n" added). -EPIPE if it is gone. */
int dpdk_peer_cmd(struct dpdk_peer *pe, const char *line);
/* Ask "show port info 0" until testpmd says its link is up, up to @ms.
 * -ETIMEDOUT (log printed). */
int dpdk_peer_wait_link(struct dpdk_peer *pe, unsigned int ms);
/* "start" and wait until forwarding runs. -ETIMEDOUT (log printed). */
int dpdk_peer_go(struct dpdk_peer *pe);
/* Signal testpmd, wait (5 s, then SIGKILL), reap, unlink the sockets,
 * remove its runtime dir. Reports on stderr if it had died by itself. */
void dpdk_peer_kill(struct dpdk_peer *pe, int sig);
/* Print testpmd's output to stderr. */
void dpdk_peer_dump_log(const struct dpdk_peer *pe);

#endif
