/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness: xensim's xenstore server (tools/xensim/xs_server.c,
 * xs_ops.c, xs_tree.c, xs_tx.c) fed raw xs_wire bytes on a client
 * connection, as a hostile libxenstore client would send them.
 *
 * Input: byte 0 picks who the client is (dom0, privileged, or guest 1 or
 * 2, which exist); the rest is the byte stream it sends. Each input gets
 * a fresh server (tree, domains, sockets) on its own event loop; the
 * stream is written in pieces while the loop runs and the replies are
 * read and dropped, then the client half-closes and the loop runs until
 * the server is idle and has dropped the connection.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "uback/log.h"
#include "loop.h"
#include "xs_server.h"

#define CHUNK 4096u
#define MAX_ROUNDS 4096u

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];

static void cleanup_dir(void)
{
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	snprintf(dir, sizeof(dir), "/tmp/fuzz_xs_wire.XXXXXX");
	if (!mkdtemp(dir))
		abort();
	atexit(cleanup_dir);
	xb_log_set_level(XB_LOG_ERR);
	return 0;
}

static void drain(int fd)
{
	char buf[CHUNK];
	unsigned int i;

	for (i = 0; i < 64 && read(fd, buf, sizeof(buf)) > 0; i++)
		;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sim_loop *loop;
	struct xs_srv *srv;
	size_t off = 0;
	unsigned int rounds, idle = 0;
	domid_t domid;
	bool priv;
	int sv[2];

	if (size < 1)
		return 0;
	priv = (data[0] & 3) == 0 || (data[0] & 3) == 3;
	domid = priv ? 0 : (domid_t)(data[0] & 3);
	data++;
	size--;
	if (sim_loop_create(&loop))
		abort();
	if (xs_srv_create(loop, dir, &srv) ||
	    xs_srv_domain_introduce(srv, 1, "guest1") ||
	    xs_srv_domain_introduce(srv, 2, "guest2"))
		abort();
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
		       sv))
		abort();
	if (xs_srv_attach_fd(srv, sv[0], domid, priv))
		abort();

	for (rounds = 0; rounds < MAX_ROUNDS; rounds++) {
		int ran;

		if (off < size) {
			size_t n = size - off < CHUNK ? size - off : CHUNK;
			ssize_t w = write(sv[1], data + off, n);

			if (w > 0)
				off += (size_t)w;
			else if (w < 0 && errno != EAGAIN)
				off = size;   /* the server hung up on us */
			if (off == size)
				shutdown(sv[1], SHUT_WR);
		}
		ran = sim_loop_run_once(loop, 0);
		drain(sv[1]);
		idle = ran > 0 ? 0 : idle + 1;
		if (off == size && idle > 2)
			break;
	}
	close(sv[1]);
	sim_loop_run_once(loop, 0);
	xs_srv_destroy(srv);
	sim_loop_destroy(loop);
	return 0;
}
