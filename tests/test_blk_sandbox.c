/* SPDX-License-Identifier: MIT */
/*
 * uback-blk's sandbox (common/sandbox.c), as a process under a private
 * xensim serving one guest:
 *   - once its device is open it runs unprivileged (uid != 0, no
 *     capabilities), with no_new_privs and a seccomp filter, and exits
 *     cleanly when the device is removed;
 *   - a forbidden system call (execve) kills it with SIGSYS, and the same
 *     call succeeds with --no-sandbox (the test can fail);
 *   - it cannot open another guest's image (mode 0600, root), not even
 *     through io_uring, which the system call filter does not see: the
 *     privilege drop is what stops it. With --no-sandbox the open works;
 *   - --sandbox-user picks the user; a user that does not exist is an
 *     error, not a fallback.
 * That the data path works sandboxed is shown by every other sim test:
 * the sandbox is on by default.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <xensim/guest.h>

#include "sim_harness.h"

#define DEVID 51712u
#define TIMEOUT_MS 20000

struct gfx {
	struct xg_dom *dom;
	domid_t domid;
	char be_path[128];
	char img[64];
	pid_t pid;
};

static struct sim_harness harness;
static struct xg_sim *sim;

static void msleep(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

static int group_setup(void **state)
{
	if (sim_harness_start(&harness))
		return -1;
	return xg_sim_connect(harness.dir, &sim) ? -1 : 0;
}

static int group_teardown(void **state)
{
	xg_sim_disconnect(sim);
	return sim_harness_stop(&harness) ? -1 : 0;
}

/* An image (root, 0600) named @img. */
static void make_image(char *img, size_t size)
{
	int fd;

	snprintf(img, size, "/dev/shm/test_blk_sandbox.XXXXXX");
	fd = mkstemp(img);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 1 << 20), 0);
	assert_int_equal(fchmod(fd, 0600), 0);
	close(fd);
}

/* A guest with one vbd, and uback-blk serving it with @args. */
static void guest_up(struct gfx *g, const char *const *args)
{
	struct xg_dom_config dc = { .mem_pages = 4096, .nr_grants = 1024 };
	const char *be_kv[] = { "params", NULL, "type", "phy", "mode", "w",
				"device-type", "disk", NULL };
	const char *argv[16];
	unsigned int n = 0, i;

	memset(g, 0, sizeof(*g));
	make_image(g->img, sizeof(g->img));
	be_kv[1] = g->img;
	assert_int_equal(xg_dom_create(sim, &dc, &g->dom), 0);
	g->domid = xg_dom_id(g->dom);
	assert_int_equal(xg_device_create(sim, g->domid, "vbd", "vbd", DEVID,
					  be_kv, NULL), 0);
	snprintf(g->be_path, sizeof(g->be_path),
		 "/local/domain/0/backend/vbd/%u/%u", g->domid, DEVID);
	argv[n++] = UBACK_BLK_BIN;
	argv[n++] = "--hv";
	argv[n++] = "sim";
	argv[n++] = "--log";
	argv[n++] = "info";
	for (i = 0; args && args[i] && n < 14; i++)
		argv[n++] = args[i];
	argv[n++] = g->be_path;
	argv[n] = NULL;
	g->pid = fork();
	assert_true(g->pid >= 0);
	if (g->pid == 0) {
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
}

/* Exit status, or 128 + signal; -ETIMEDOUT (after SIGKILL). */
static int backend_wait(struct gfx *g, unsigned int timeout_ms)
{
	unsigned int waited;
	int status;

	for (waited = 0; waited < timeout_ms; waited += 5) {
		if (waitpid(g->pid, &status, WNOHANG) == g->pid) {
			g->pid = 0;
			if (WIFEXITED(status))
				return WEXITSTATUS(status);
			return 128 + WTERMSIG(status);
		}
		msleep(5);
	}
	kill(g->pid, SIGKILL);
	waitpid(g->pid, &status, 0);
	g->pid = 0;
	return -ETIMEDOUT;
}

static void guest_down(struct gfx *g)
{
	if (g->pid) {
		xg_device_remove(sim, g->domid, "vbd", "vbd", DEVID);
		backend_wait(g, TIMEOUT_MS);
	}
	assert_int_equal(xg_dom_destroy(g->dom), 0);
	unlink(g->img);
}

/* The value after "@key:" in /proc/@pid/status, or "" . */
static void proc_status(pid_t pid, const char *key, char *out, size_t size)
{
	char path[64], line[256];
	size_t klen = strlen(key);
	FILE *f;

	out[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, klen) && line[klen] == ':') {
			char *v = line + klen + 1;

			v += strspn(v, " \t");
			v[strcspn(v, "\n")] = '\0';
			snprintf(out, size, "%s", v);
			break;
		}
	}
	fclose(f);
}

static void test_runs_sandboxed(void **state)
{
	char seccomp[32], nnp[32], uid[64], capeff[64];
	unsigned int waited;
	struct gfx g;

	guest_up(&g, NULL);
	/* The filter goes on once the device is open (probe). */
	for (waited = 0; waited < TIMEOUT_MS; waited += 10) {
		proc_status(g.pid, "Seccomp", seccomp, sizeof(seccomp));
		if (!strcmp(seccomp, "2"))
			break;
		msleep(10);
	}
	assert_string_equal(seccomp, "2");
	proc_status(g.pid, "NoNewPrivs", nnp, sizeof(nnp));
	assert_string_equal(nnp, "1");
	proc_status(g.pid, "Uid", uid, sizeof(uid));
	assert_true(uid[0] != '\0');
	assert_true(strtoul(uid, NULL, 10) != 0);
	proc_status(g.pid, "CapEff", capeff, sizeof(capeff));
	assert_string_equal(capeff, "0000000000000000");
	/* Removal: it tears down and exits 0 under the filter. */
	assert_int_equal(xg_device_remove(sim, g.domid, "vbd", "vbd", DEVID),
			 0);
	assert_int_equal(backend_wait(&g, TIMEOUT_MS), 0);
	guest_down(&g);
}

static void test_no_sandbox_stays_root(void **state)
{
	char seccomp[32], uid[64];
	struct gfx g;

	guest_up(&g, (const char *const[]){ "--no-sandbox", NULL });
	msleep(300);
	proc_status(g.pid, "Seccomp", seccomp, sizeof(seccomp));
	proc_status(g.pid, "Uid", uid, sizeof(uid));
	assert_string_equal(seccomp, "0");
	assert_true(strtoul(uid, NULL, 10) == 0);
	guest_down(&g);
}

static void test_forbidden_syscall_kills(void **state)
{
	struct gfx g;

	guest_up(&g, (const char *const[]){ "--debug-forbidden-syscall",
					    NULL });
	assert_int_equal(backend_wait(&g, TIMEOUT_MS), 128 + SIGSYS);
	guest_down(&g);

	/* Unsandboxed the same execve works (it runs /bin/true). */
	guest_up(&g, (const char *const[]){ "--no-sandbox",
					    "--debug-forbidden-syscall",
					    NULL });
	assert_int_equal(backend_wait(&g, TIMEOUT_MS), 0);
	guest_down(&g);
}

static void test_cannot_open_other_guest_image(void **state)
{
	const char *args[4] = { "--debug-try-open", NULL, NULL, NULL };
	char other[64];
	struct gfx g;

	make_image(other, sizeof(other));   /* guest B's image */
	args[1] = other;
	guest_up(&g, args);
	/* 3: EACCES from an io_uring openat, past the system call filter. */
	assert_int_equal(backend_wait(&g, TIMEOUT_MS), 3);
	guest_down(&g);

	args[2] = "--no-sandbox";
	guest_up(&g, args);
	assert_int_equal(backend_wait(&g, TIMEOUT_MS), 0);
	guest_down(&g);
	unlink(other);
}

/* --sandbox-user: a given user is used; one that does not exist is an
 * error (exit 1), never a silent fallback. */
static void test_sandbox_user(void **state)
{
	char seccomp[32], uid[64];
	unsigned int waited;
	struct gfx g;

	guest_up(&g, (const char *const[]){ "--sandbox-user", "nobody",
					    NULL });
	for (waited = 0; waited < TIMEOUT_MS; waited += 10) {
		proc_status(g.pid, "Seccomp", seccomp, sizeof(seccomp));
		if (!strcmp(seccomp, "2"))
			break;
		msleep(10);
	}
	assert_string_equal(seccomp, "2");
	proc_status(g.pid, "Uid", uid, sizeof(uid));
	assert_int_equal(strtoul(uid, NULL, 10), 65534);
	guest_down(&g);

	guest_up(&g, (const char *const[]){ "--sandbox-user",
					    "no-such-user-for-uback", NULL });
	assert_int_equal(backend_wait(&g, TIMEOUT_MS), 1);
	guest_down(&g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_runs_sandboxed),
		cmocka_unit_test(test_no_sandbox_stays_root),
		cmocka_unit_test(test_forbidden_syscall_kills),
		cmocka_unit_test(test_cannot_open_other_guest_image),
		cmocka_unit_test(test_sandbox_user),
	};

	if (getuid() != 0) {
		fprintf(stderr, "SKIP: the sandbox tests need root\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
