/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sim_harness.h"

#ifndef XENSIM_BIN
#error "XENSIM_BIN must name the xensim binary"
#endif

#define START_TIMEOUT_MS 10000
#define STOP_TIMEOUT_MS  10000

static int rm_entry(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	remove(path);
	return 0;
}

static void rm_tree(const char *dir)
{
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Wait for @pid to exit, up to @ms; 0 and *status, or -ETIMEDOUT. */
static int wait_exit(pid_t pid, int ms, int *status)
{
	const struct timespec tick = { .tv_nsec = 10 * 1000 * 1000 };
	int i;

	for (i = 0; i <= ms / 10; i++) {
		pid_t r = waitpid(pid, status, WNOHANG);

		if (r == pid)
			return 0;
		if (r < 0 && errno != EINTR)
			return -errno;
		nanosleep(&tick, NULL);
	}
	return -ETIMEDOUT;
}

int sim_harness_start(struct sim_harness *h)
{
	const char *tmp = getenv("TMPDIR");
	const char *bin = getenv("XENSIM_BIN");
	struct pollfd pfd;
	char fdarg[16], buf[16];
	int pipefd[2], n, err, status;
	pid_t pid;

	if (!tmp || !*tmp)
		tmp = "/tmp";
	if (!bin || !*bin)
		bin = XENSIM_BIN;
	n = snprintf(h->dir, sizeof(h->dir), "%s/xensim-test-XXXXXX", tmp);
	if (n < 0 || (size_t)n >= sizeof(h->dir))
		return -ENAMETOOLONG;
	if (!mkdtemp(h->dir))
		return -errno;
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		err = -errno;
		goto err_dir;
	}
	pid = fork();
	if (pid < 0) {
		err = -errno;
		goto err_pipe;
	}
	if (pid == 0) {
		/* The write end must survive exec: dup it without CLOEXEC. */
		int wfd = dup(pipefd[1]), nullfd;

		/* A test that crashes takes its daemon with it. */
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() == 1)
			_exit(127);
		if (wfd < 0)
			_exit(127);
		/* Keep the test's stdout for the test ("xensim: ready"). */
		nullfd = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (nullfd < 0 || dup2(nullfd, STDOUT_FILENO) < 0)
			_exit(127);
		snprintf(fdarg, sizeof(fdarg), "%d", wfd);
		execl(bin, bin, "--dir", h->dir, "--ready-fd", fdarg,
		      (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	pfd.fd = pipefd[0];
	pfd.events = POLLIN;
	do {
		n = poll(&pfd, 1, START_TIMEOUT_MS);
	} while (n < 0 && errno == EINTR);
	if (n <= 0 || read(pipefd[0], buf, sizeof(buf)) < 5 ||
	    memcmp(buf, "ready", 5) != 0) {
		err = n == 0 ? -ETIMEDOUT : -ECHILD;
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		close(pipefd[0]);
		goto err_dir;
	}
	close(pipefd[0]);
	h->pid = pid;
	setenv("XENSIM_DIR", h->dir, 1);
	return 0;

err_pipe:
	close(pipefd[0]);
	close(pipefd[1]);
err_dir:
	rm_tree(h->dir);
	return err;
}

int sim_harness_stop(struct sim_harness *h)
{
	int status = 0, err;

	if (!h->pid)
		return -ECHILD;
	kill(h->pid, SIGTERM);
	err = wait_exit(h->pid, STOP_TIMEOUT_MS, &status);
	if (err == -ETIMEDOUT) {
		kill(h->pid, SIGKILL);
		waitpid(h->pid, &status, 0);
	}
	h->pid = 0;
	rm_tree(h->dir);
	unsetenv("XENSIM_DIR");
	if (err)
		return err;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "sim_harness: xensim exited abnormally "
			"(status 0x%x)\n", status);
		return -ECHILD;
	}
	return 0;
}
