/* SPDX-License-Identifier: MIT */
/*
 * xensim: simulator of the Xen services a PV backend uses (grant tables,
 * event channels, xenstore). Runs in the foreground on one thread.
 *
 *   xensim --dir DIR [--ready-fd N]
 *
 * Serves DIR/xenstore.sock (+ DIR/xenstore-dom<N>.sock per domain) and
 * DIR/control.sock. Prints "xensim: ready" on stdout once listening (and
 * writes "ready\n" to fd N, then closes it). SIGINT/SIGTERM: clean exit,
 * sockets removed. See docs/simulator.md.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "uback/log.h"
#include "ctl.h"
#include "dom.h"
#include "loop.h"
#include "xs_server.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: xensim --dir DIR [--ready-fd N]\n"
		"  --dir DIR       directory for the sockets (created if missing)\n"
		"  --ready-fd N    write \"ready\\n\" to fd N once listening\n");
}

static void on_signal(void *arg, int fd, uint32_t events)
{
	struct sim_loop *loop = arg;
	struct signalfd_siginfo si;

	if (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		xb_info("signal %u: shutting down", si.ssi_signo);
	sim_loop_stop(loop);
}

static int parse_fd(const char *s, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < 0 || v > 65535)
		return -EINVAL;
	*out = (int)v;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "ready-fd", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = NULL;
	int ready_fd = -1, sfd, c, err, status = 1;
	struct sim_loop *loop;
	struct xs_srv *xs;
	struct sim_doms *doms;
	struct ctl_srv *ctl;
	sigset_t mask;

	while ((c = getopt_long(argc, argv, "d:r:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			dir = optarg;
			break;
		case 'r':
			if (parse_fd(optarg, &ready_fd)) {
				usage(stderr);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!dir || optind != argc) {
		usage(stderr);
		return 2;
	}
	xb_log_set_ident("xensim");
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		xb_err("cannot create %s: %s", dir, strerror(errno));
		return 1;
	}

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		xb_err("signalfd: %s", strerror(errno));
		return 1;
	}

	err = sim_loop_create(&loop);
	if (err) {
		xb_err("event loop: %s", strerror(-err));
		goto out_sfd;
	}
	err = sim_loop_add(loop, sfd, on_signal, loop);
	if (err)
		goto out_loop;
	err = xs_srv_create(loop, dir, &xs);
	if (err) {
		xb_err("xenstore server in %s: %s", dir, strerror(-err));
		goto out_loop;
	}
	err = sim_doms_create(xs, &doms);
	if (err) {
		xb_err("domain table: %s", strerror(-err));
		goto out_xs;
	}
	err = ctl_srv_create(loop, doms, dir, &ctl);
	if (err) {
		xb_err("control socket in %s: %s", dir, strerror(-err));
		goto out_doms;
	}

	printf("xensim: ready\n");
	fflush(stdout);
	if (ready_fd >= 0) {
		if (write(ready_fd, "ready\n", 6) != 6)
			xb_warn("--ready-fd %d: %s", ready_fd, strerror(errno));
		close(ready_fd);
	}

	err = sim_loop_run(loop);
	if (err)
		xb_err("event loop: %s", strerror(-err));
	else
		status = 0;

	ctl_srv_destroy(ctl);
out_doms:
	sim_doms_destroy(doms);
out_xs:
	xs_srv_destroy(xs);
out_loop:
	sim_loop_destroy(loop);
out_sfd:
	close(sfd);
	return status;
}
