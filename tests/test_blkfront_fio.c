/* SPDX-License-Identifier: MIT */
/*
 * Stock fio through the uback-blkfront external ioengine, under a private
 * xensim: verify=crc32c workloads over each negotiation family. The
 * backend command (the engine's backend_cmd template) is built in: the
 * reference test backend (test_blkfront_fio) or uback-blk
 * (test_blkfront_fio_uback); $UBF_BACKEND_CMD overrides it.
 */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "sim_harness.h"

static struct sim_harness h;
static char image[PATH_MAX + 16];
static char backend_cmd[1024];

static int group_setup(void **state)
{
	const char *env = getenv("UBF_BACKEND_CMD");
	int fd;

	(void)state;
	if (sim_harness_start(&h))
		return -1;
	snprintf(image, sizeof(image), "%s/disk.img", h.dir);
	fd = open(image, O_CREAT | O_RDWR | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, 64 << 20) < 0)
		return -1;
	close(fd);
	if (env && *env)
		snprintf(backend_cmd, sizeof(backend_cmd), "%s", env);
	else
		snprintf(backend_cmd, sizeof(backend_cmd), "%s",
			 UBF_BACKEND_CMD);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	unlink(image);
	return sim_harness_stop(&h) ? -1 : 0;
}

/* Run fio with the engine and @args (NULL-terminated); its exit status. */
static int run_fio(const char *const *args)
{
	char eng[PATH_MAX + 32], img[PATH_MAX + 32], dir[PATH_MAX + 32];
	char cmd[sizeof(backend_cmd) + 16];
	const char *argv[64];
	unsigned int n = 0;
	pid_t pid;
	int st;

	snprintf(eng, sizeof(eng), "--ioengine=external:%s", UBF_ENGINE);
	snprintf(img, sizeof(img), "--image=%s", image);
	snprintf(dir, sizeof(dir), "--xensim_dir=%s", h.dir);
	snprintf(cmd, sizeof(cmd), "--backend_cmd=%s", backend_cmd);
	argv[n++] = "fio";
	argv[n++] = "--name=ubf";
	argv[n++] = eng;
	argv[n++] = img;
	argv[n++] = dir;
	argv[n++] = cmd;
	argv[n++] = "--timeout_s=60";
	argv[n++] = "--verify_state_save=0";
	while (*args && n < 62)
		argv[n++] = *args++;
	argv[n] = NULL;
	pid = fork();
	if (pid == 0) {
		/* Whatever fio leaves behind goes with the harness dir. */
		if (chdir(h.dir) == 0)
			execvp("fio", (char *const *)argv);
		_exit(127);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void test_randwrite_verify_64m(void **state)
{
	static const char *const a[] = {
		"--rw=randwrite", "--verify=crc32c", "--size=64m",
		"--iodepth=16", NULL,
	};

	(void)state;
	assert_int_equal(run_fio(a), 0);
}

static void test_randread_qd32(void **state)
{
	static const char *const a[] = {
		"--rw=randread", "--iodepth=32", "--size=64m", NULL,
	};

	(void)state;
	assert_int_equal(run_fio(a), 0);
}

static void test_all_features_verify(void **state)
{
	static const char *const a[] = {
		"--rw=randwrite", "--verify=crc32c", "--size=32m",
		"--bs=128k", "--indirect=32", "--persistent=1", "--queues=4",
		"--ring_order=2", "--abi=x86_32", "--iodepth=8", NULL,
	};

	(void)state;
	assert_int_equal(run_fio(a), 0);
}

static void test_legacy_frontend_rw_fsync(void **state)
{
	static const char *const a[] = {
		"--rw=randrw", "--verify=crc32c", "--size=16m", "--bs=4k",
		"--abi=none", "--flush=0", "--fsync=4", "--iodepth=4", NULL,
	};

	(void)state;
	assert_int_equal(run_fio(a), 0);
}

static void test_two_jobs_trim(void **state)
{
	static const char *const a[] = {
		"--rw=randtrim", "--size=8m", "--bs=64k", "--numjobs=2",
		"--offset_increment=8m", NULL,
	};

	(void)state;
	assert_int_equal(run_fio(a), 0);
}

/* thread=1: three jobs, three guests and backends in one fio process. */
static void test_threads_verify(void **state)
{
	static const char *const a[] = {
		"--rw=randrw", "--verify=crc32c", "--size=8m", "--thread=1",
		"--numjobs=3", "--offset_increment=8m", "--iodepth=8",
		"--queues=2", NULL,
	};

	(void)state;
	assert_int_equal(run_fio(a), 0);
}

/* The engine refuses what the negotiation cannot carry. */
static void test_bs_too_big_fails(void **state)
{
	static const char *const a[] = {
		"--rw=write", "--size=1m", "--bs=64k", NULL,
	};

	(void)state;
	assert_int_not_equal(run_fio(a), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_randwrite_verify_64m),
		cmocka_unit_test(test_randread_qd32),
		cmocka_unit_test(test_all_features_verify),
		cmocka_unit_test(test_legacy_frontend_rw_fsync),
		cmocka_unit_test(test_two_jobs_trim),
		cmocka_unit_test(test_threads_verify),
		cmocka_unit_test(test_bs_too_big_fails),
	};

	if (system("fio --version >/dev/null 2>&1") != 0) {
		fprintf(stderr, "fio not installed: skip\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
