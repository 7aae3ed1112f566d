/* SPDX-License-Identifier: MIT */
/* A dpdk-testpmd peer for DPDK port tests: see dpdk_peer.h. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dpdk_peer.h"

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

bool dpdk_peer_have_testpmd(void)
{
	return system("command -v " DPDK_PEER_TESTPMD " >/dev/null 2>&1") == 0;
}

int dpdk_peer_init(struct dpdk_peer *pe)
{
	memset(pe, 0, sizeof(*pe));
	pe->stdin_w = -1;
	snprintf(pe->dir, sizeof(pe->dir), "/tmp/uback-dpdk-XXXXXX");
	if (!mkdtemp(pe->dir))
		return -errno;
	snprintf(pe->sock, sizeof(pe->sock), "%s/peer.sock", pe->dir);
	snprintf(pe->sock_tmp, sizeof(pe->sock_tmp), "%s/starting.sock",
		 pe->dir);
	snprintf(pe->log, sizeof(pe->log), "%s/testpmd.log", pe->dir);
	return 0;
}

void dpdk_peer_fini(struct dpdk_peer *pe)
{
	if (!pe->dir[0])
		return;
	dpdk_peer_kill(pe, SIGTERM);
	unlink(pe->log);
	rmdir(pe->dir);
	pe->dir[0] = '\0';
}

static void rm_runtime(const struct dpdk_peer *pe)
{
	char cmd[256];

	/* testpmd's EAL runtime dir, named by its (our) unique prefix */
	snprintf(cmd, sizeof(cmd), "rm -rf /var/run/dpdk/%s /run/dpdk/%s",
		 pe->prefix, pe->prefix);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s runtime dir\n", pe->prefix);
}

long dpdk_peer_output_size(const struct dpdk_peer *pe)
{
	struct stat st;

	return stat(pe->log, &st) ? 0 : (long)st.st_size;
}

bool dpdk_peer_wait_output(struct dpdk_peer *pe, const char *what, long from,
			   unsigned int ms)
{
	uint64_t end = now_ns() + (uint64_t)ms * 1000000u;
	static char buf[65536];

	while (now_ns() < end) {
		FILE *f = fopen(pe->log, "r");
		size_t n = 0;

		if (f && fseek(f, from, SEEK_SET) == 0)
			n = fread(buf, 1, sizeof(buf) - 1, f);
		if (f)
			fclose(f);
		buf[n] = '\0';
		if (strstr(buf, what))
			return true;
		if (pe->pid <= 0 || waitpid(pe->pid, NULL, WNOHANG) == pe->pid)
			break;
		usleep(20000);
	}
	return false;
}

static void exec_testpmd(struct dpdk_peer *pe, const struct dpdk_peer_args *a,
			 int in_fd)
{
	char vdev[256], rxq[32], txq[32], fwd[64];
	const char *args[48];
	char extra[256], *save = NULL, *tok;
	unsigned int n = 0;
	int out = open(pe->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	dup2(in_fd, 0);
	if (out >= 0) {
		dup2(out, 1);
		dup2(out, 2);
	}
	if (getenv("TEST_TESTPMD_CORE")) {
		/* a core file in the temp dir, kept on a crash */
		struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };

		setrlimit(RLIMIT_CORE, &rl);
		if (chdir(pe->dir) != 0)
			_exit(126);
	}
	/* line-buffered, for dpdk_peer_wait_output to see it */
	setenv("_STDBUF_O", "L", 1);
	setenv("LD_PRELOAD", "/usr/libexec/coreutils/libstdbuf.so", 1);
	snprintf(vdev, sizeof(vdev), a->vdev,
		 a->publish ? pe->sock_tmp : pe->sock);
	snprintf(rxq, sizeof(rxq), "--rxq=%u", a->nr_queues);
	snprintf(txq, sizeof(txq), "--txq=%u", a->nr_queues);
	snprintf(fwd, sizeof(fwd), "--forward-mode=%s", a->fwd);
	if (getenv("TEST_TESTPMD_GDB")) {
		static const char *const gdb[] = {
			"gdb", "-q", "-batch", "-ex", "run", "-ex", "bt",
			"--args",
		};

		for (n = 0; n < 8; n++)
			args[n] = gdb[n];
	}
	args[n++] = DPDK_PEER_TESTPMD;
	args[n++] = "--no-huge";
	args[n++] = "--no-pci";
	args[n++] = "--file-prefix";
	args[n++] = pe->prefix;
	args[n++] = "-m";
	args[n++] = "128";
	args[n++] = "-l";
	args[n++] = "0,1";
	args[n++] = "--no-telemetry";
	args[n++] = "--log-level=*:warning";
	args[n++] = "--vdev";
	args[n++] = vdev;
	args[n++] = "--";
	args[n++] = "-i";
	args[n++] = fwd;
	args[n++] = "--total-num-mbufs=16384";
	args[n++] = "--rxd=1024";
	args[n++] = "--txd=1024";
	args[n++] = rxq;
	args[n++] = txq;
	if (a->extra) {
		snprintf(extra, sizeof(extra), "%s", a->extra);
		for (tok = strtok_r(extra, " ", &save); tok && n < 46;
		     tok = strtok_r(NULL, " ", &save))
			args[n++] = tok;
	}
	args[n] = NULL;
	execvp(args[0], (char *const *)args);
	_exit(127);
}

int dpdk_peer_start(struct dpdk_peer *pe, const struct dpdk_peer_args *a)
{
	int pfd[2];

	snprintf(pe->prefix, sizeof(pe->prefix), "uback-tpmd-%d-%u",
		 (int)getpid(), pe->gen++);
	unlink(pe->log);   /* not to read the previous one as ready */
	unlink(pe->sock);
	unlink(pe->sock_tmp);
	if (pipe(pfd))
		return -errno;
	pe->pid = fork();
	if (pe->pid < 0) {
		pe->pid = 0;
		close(pfd[0]);
		close(pfd[1]);
		return -EAGAIN;
	}
	if (pe->pid == 0) {
		close(pfd[1]);
		exec_testpmd(pe, a, pfd[0]);
	}
	close(pfd[0]);
	pe->stdin_w = pfd[1];
	if (!dpdk_peer_wait_output(pe, "Checking link statuses...\nDone", 0,
				   60000)) {
		fprintf(stderr, "testpmd did not start\n");
		dpdk_peer_dump_log(pe);
		return -ETIMEDOUT;
	}
	if (a->publish && rename(pe->sock_tmp, pe->sock))
		return -errno;
	return 0;
}

int dpdk_peer_cmd(struct dpdk_peer *pe, const char *line)
{
	char buf[256];
	int n = snprintf(buf, sizeof(buf), "%s\n", line);

	if (pe->stdin_w < 0 || n < 0 || (size_t)n >= sizeof(buf))
		return -EINVAL;
	return write(pe->stdin_w, buf, (size_t)n) == n ? 0 : -EPIPE;
}

int dpdk_peer_wait_link(struct dpdk_peer *pe, unsigned int ms)
{
	uint64_t end = now_ns() + (uint64_t)ms * 1000000u;

	while (now_ns() < end) {
		long from = dpdk_peer_output_size(pe);

		if (dpdk_peer_cmd(pe, "show port info 0"))
			break;
		if (dpdk_peer_wait_output(pe, "Link status: up", from, 300))
			return 0;
		if (pe->pid <= 0 || waitpid(pe->pid, NULL, WNOHANG) == pe->pid)
			break;
	}
	fprintf(stderr, "testpmd's link did not come up\n");
	dpdk_peer_dump_log(pe);
	return -ETIMEDOUT;
}

int dpdk_peer_go(struct dpdk_peer *pe)
{
	long from = dpdk_peer_output_size(pe);

	if (dpdk_peer_cmd(pe, "start"))
		return -EPIPE;
	if (!dpdk_peer_wait_output(pe, "packet forwarding", from, 30000)) {
		fprintf(stderr, "testpmd did not start forwarding\n");
		dpdk_peer_dump_log(pe);
		return -ETIMEDOUT;
	}
	return 0;
}

void dpdk_peer_kill(struct dpdk_peer *pe, int sig)
{
	uint64_t end = now_ns() + 5000000000ull;
	int status;

	if (pe->pid <= 0)
		return;
	if (waitpid(pe->pid, &status, WNOHANG) == pe->pid) {
		/* it died on its own: say how (a memif server is known to
		 * crash at times when its client leaves) */
		fprintf(stderr, "testpmd %d had exited: %s %d\n", (int)pe->pid,
			WIFSIGNALED(status) ? "signal" : "status",
			WIFSIGNALED(status) ? WTERMSIG(status)
					    : WEXITSTATUS(status));
		goto out_reaped;
	}
	kill(pe->pid, sig);
	while (waitpid(pe->pid, &status, WNOHANG) == 0) {
		if (now_ns() > end) {
			kill(pe->pid, SIGKILL);
			waitpid(pe->pid, &status, 0);
			break;
		}
		usleep(10000);
	}
out_reaped:
	pe->pid = 0;
	if (pe->stdin_w >= 0)
		close(pe->stdin_w);
	pe->stdin_w = -1;
	unlink(pe->sock);
	unlink(pe->sock_tmp);
	rm_runtime(pe);
}

void dpdk_peer_dump_log(const struct dpdk_peer *pe)
{
	char line[512];
	FILE *f = fopen(pe->log, "r");

	fprintf(stderr, "---- testpmd (pid %d) output:\n", (int)pe->pid);
	while (f && fgets(line, sizeof(line), f))
		fputs(line, stderr);
	if (f)
		fclose(f);
	fprintf(stderr, "----\n");
}
