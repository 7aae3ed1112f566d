/* SPDX-License-Identifier: MIT */
/*
 * ubackctl against ubackd under a private xensim, a guest doing I/O:
 * list (table and JSON: parsed by python3's json module), top (live
 * IOPS per queue while the guest runs I/O), metrics, upgrade (new
 * processes, the guest's I/O unharmed), and its exit status when ubackd
 * is not running.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
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

#include <xenstore.h>
#include <xensim/guest.h>

#include "blkfront.h"
#include "sim_harness.h"
#include "ubackd_client.h"

#define DEVID 51712u
#define BLK 4096u
#define NBLOCKS 1024u

struct fx {
	struct sim_harness h;
	struct xg_sim *sim;
	struct xg_dom *dom;
	char image[PATH_MAX];
	char run_dir[PATH_MAX + 32];
	char name[64];
	pid_t ubackd;
	struct blkfront *bf;
	pthread_t io;
	volatile bool io_stop;
	volatile unsigned long io_done, io_errors;
	char out[1 << 16];
};

static struct fx fx;

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* Run a shell command; its stdout in fx.out; returns the exit status. */
static int run(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	size_t n;
	FILE *f;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	f = popen(cmd, "r");
	assert_non_null(f);
	n = fread(fx.out, 1, sizeof(fx.out) - 1, f);
	fx.out[n] = '\0';
	st = pclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Verified writes and reads, on both queues, until told to stop. */
static void *io_thread(void *arg)
{
	static uint8_t w[BLK] __attribute__((aligned(4096)));
	static uint8_t r[BLK] __attribute__((aligned(4096)));
	uint32_t b = 0;

	(void)arg;
	while (!fx.io_stop) {
		struct iovec wi = { w, BLK }, ri = { r, BLK };
		struct blkfront_req req = { .op = BLKFRONT_OP_WRITE,
					    .iov = &wi, .iovcnt = 1,
					    .sector = (uint64_t)(b % NBLOCKS) *
						      8,
					    .queue = b % 2 };

		memset(w, (int)(b & 0xff), BLK);
		if (blkfront_sync(fx.bf, &req, 10000))
			fx.io_errors++;
		req.op = BLKFRONT_OP_READ;
		req.iov = &ri;
		if (blkfront_sync(fx.bf, &req, 10000) || memcmp(w, r, BLK))
			fx.io_errors++;
		fx.io_done += 2;
		b++;
	}
	return NULL;
}

static int group_setup(void **state)
{
	struct xg_dom_config dc = { .mem_pages = 4096, .nr_grants = 4096 };
	const char *be_kv[] = { "params", fx.image, "mode", "w",
				"type", "phy", "device-type", "disk", NULL };
	char *argv[] = { UBACKD_BIN, "--hv", "sim", "--sim-dir", fx.h.dir,
			 "--run-dir", fx.run_dir, "--blk-bin", UBACK_BLK_BIN,
			 "--no-vif", "--sysfs", fx.h.dir, "--log", "warn",
			 NULL };
	struct blkfront_config bc = { .devid = DEVID, .nr_queues = 2,
				      .persistent = true, .keep_keys = true,
				      .timeout_ms = 10000 };
	uint64_t end;
	int fd;

	(void)state;
	if (sim_harness_start(&fx.h) || xg_sim_connect(fx.h.dir, &fx.sim) ||
	    xg_dom_create(fx.sim, &dc, &fx.dom))
		return -1;
	snprintf(fx.run_dir, sizeof(fx.run_dir), "%s/run", fx.h.dir);
	snprintf(fx.image, sizeof(fx.image), "/dev/shm/uback-ctl-%d.img",
		 (int)getpid());
	snprintf(fx.name, sizeof(fx.name), "vbd-%u-%u", xg_dom_id(fx.dom),
		 DEVID);
	fd = open(fx.image, O_CREAT | O_RDWR | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, (off_t)NBLOCKS * BLK) < 0)
		return -1;
	close(fd);
	fx.ubackd = fork();
	if (fx.ubackd == 0) {
		execv(UBACKD_BIN, argv);
		_exit(127);
	}
	end = now_ms() + 10000;
	while (ud_request(fx.run_dir, "ping", fx.out, sizeof(fx.out)) <= 0) {
		if (now_ms() > end)
			return -1;
		sleep_ms(20);
	}
	if (xg_device_create(fx.sim, xg_dom_id(fx.dom), "vbd", "vbd", DEVID,
			     be_kv, NULL))
		return -1;
	bc.dom = fx.dom;
	if (blkfront_connect(&bc, &fx.bf))
		return -1;
	return pthread_create(&fx.io, NULL, io_thread, NULL) ? -1 : 0;
}

static int group_teardown(void **state)
{
	long pid;

	(void)state;
	fx.io_stop = true;
	pthread_join(fx.io, NULL);
	blkfront_close(fx.bf);
	pid = ud_request(fx.run_dir, "status", fx.out, sizeof(fx.out)) > 0
		      ? ud_status_value(fx.out, fx.name, "pid") : -1;
	kill(fx.ubackd, SIGTERM);
	waitpid(fx.ubackd, NULL, 0);
	xg_device_remove(fx.sim, xg_dom_id(fx.dom), "vbd", "vbd", DEVID);
	if (pid > 0)
		kill((pid_t)pid, SIGKILL);
	xg_dom_destroy(fx.dom);
	xg_sim_disconnect(fx.sim);
	unlink(fx.image);
	return sim_harness_stop(&fx.h) ? -1 : 0;
}

static void list_table(void **state)
{
	char want[128];

	(void)state;
	sleep_ms(1200);   /* a counters file written after some I/O */
	assert_int_equal(run("%s --run-dir %s list", UBACKCTL_BIN,
			     fx.run_dir), 0);
	fprintf(stderr, "%s", fx.out);
	assert_non_null(strstr(fx.out, "DOMAIN DEVICE"));
	snprintf(want, sizeof(want), "%-6u %-8u vbd  Connected ",
		 xg_dom_id(fx.dom), DEVID);
	assert_non_null(strstr(fx.out, want));
	assert_non_null(strstr(fx.out, "x86_64-abi,order0,persistent"));
	assert_non_null(strstr(fx.out, "    q0  ios "));
	assert_non_null(strstr(fx.out, "    q1  ios "));
}

static void list_json(void **state)
{
	(void)state;
	assert_int_equal(run("%s list --run-dir %s --json | python3 -c '"
			     "import json, sys\n"
			     "d = json.load(sys.stdin)\n"
			     "assert len(d) == 1, d\n"
			     "x = d[0]\n"
			     "assert x[\"kind\"] == \"vbd\" and x[\"devid\"] == %u\n"
			     "assert x[\"state\"] == 4 and x[\"state_name\"] == \"Connected\"\n"
			     "assert x[\"running\"] is True and x[\"pid\"] > 0\n"
			     "assert x[\"features\"][\"protocol\"] == \"x86_64-abi\"\n"
			     "assert x[\"features\"][\"persistent\"] == 1\n"
			     "assert len(x[\"queues\"]) == 2\n"
			     "assert x[\"queues\"][1][\"queue\"] == 1\n"
			     "assert x[\"queues\"][0][\"rsp_okay\"] > 0\n"
			     "assert x[\"queues\"][1][\"req_write\"] > 0\n"
			     "assert x[\"totals\"][\"rsp_okay\"] >= x[\"queues\"][0][\"rsp_okay\"]\n"
			     "print(\"json ok\")'", UBACKCTL_BIN, fx.run_dir,
			     DEVID), 0);
	assert_non_null(strstr(fx.out, "json ok"));
}

static void top_shows_live_rates(void **state)
{
	char *line, *save = NULL;
	unsigned int rows = 0;
	double iops_sum = 0;

	(void)state;
	assert_int_equal(run("%s --run-dir %s top --interval 1.1 --count 2",
			     UBACKCTL_BIN, fx.run_dir), 0);
	fprintf(stderr, "%s", fx.out);
	for (line = strtok_r(fx.out, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char dev[64];
		unsigned int q;
		long pid;
		double iops, rd, wr;

		if (sscanf(line, "%63s %u %ld %lf %lf %lf", dev, &q, &pid,
			   &iops, &rd, &wr) == 6 && !strcmp(dev, fx.name)) {
			rows++;
			iops_sum += iops;
			assert_true(rd >= 0 && wr >= 0);
		}
	}
	assert_int_equal(rows, 4);   /* 2 queues x 2 refreshes */
	assert_true(iops_sum > 0);
}

static void metrics_command(void **state)
{
	(void)state;
	assert_int_equal(run("%s --run-dir %s metrics", UBACKCTL_BIN,
			     fx.run_dir), 0);
	assert_non_null(strstr(fx.out, "# TYPE uback_vbd_queue_rsp_okay_total "
				       "counter"));
	assert_non_null(strstr(fx.out, "uback_device_up{kind=\"vbd\""));
	assert_null(strstr(fx.out, "\n.\n"));   /* protocol end stripped */
}

static void upgrade_under_io(void **state)
{
	unsigned long before;
	long pid;

	(void)state;
	assert_true(ud_request(fx.run_dir, "status", fx.out,
			       sizeof(fx.out)) > 0);
	pid = ud_status_value(fx.out, fx.name, "pid");
	before = fx.io_done;
	assert_int_equal(run("%s --run-dir %s upgrade %s --binary %s",
			     UBACKCTL_BIN, fx.run_dir, fx.name, UBACK_BLK_BIN),
			 0);
	assert_non_null(strstr(fx.out, "upgraded"));
	assert_true(ud_request(fx.run_dir, "status", fx.out,
			       sizeof(fx.out)) > 0);
	assert_true(ud_status_value(fx.out, fx.name, "pid") > 0);
	assert_true(ud_status_value(fx.out, fx.name, "pid") != pid);
	assert_int_equal(ud_status_value(fx.out, fx.name, "state"), 4);
	sleep_ms(300);
	assert_true(fx.io_done > before);   /* the guest goes on */
	assert_int_equal(fx.io_errors, 0);
	/* Named by the backend path as libxl gives it to hotplug scripts
	 * (relative to dom0's home). */
	pid = ud_status_value(fx.out, fx.name, "pid");
	before = fx.io_done;
	assert_int_equal(run("%s --run-dir %s upgrade backend/vbd/%u/%u "
			     "--binary %s", UBACKCTL_BIN, fx.run_dir,
			     xg_dom_id(fx.dom), DEVID, UBACK_BLK_BIN), 0);
	assert_non_null(strstr(fx.out, "upgraded"));
	assert_true(ud_request(fx.run_dir, "status", fx.out,
			       sizeof(fx.out)) > 0);
	assert_true(ud_status_value(fx.out, fx.name, "pid") > 0);
	assert_true(ud_status_value(fx.out, fx.name, "pid") != pid);
	sleep_ms(300);
	assert_true(fx.io_done > before);
	assert_int_equal(fx.io_errors, 0);
	/* Unknown device: an error, exit 1. */
	assert_int_equal(run("%s --run-dir %s upgrade vbd-999-1 2>&1",
			     UBACKCTL_BIN, fx.run_dir), 1);
	assert_non_null(strstr(fx.out, "no device"));
}

static void no_daemon(void **state)
{
	(void)state;
	assert_int_equal(run("%s --run-dir %s/nowhere list 2>&1", UBACKCTL_BIN,
			     fx.h.dir), 3);
	assert_non_null(strstr(fx.out, "is ubackd running"));
	assert_int_equal(run("%s bogus 2>/dev/null", UBACKCTL_BIN), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(list_table),
		cmocka_unit_test(list_json),
		cmocka_unit_test(top_shows_live_rates),
		cmocka_unit_test(metrics_command),
		cmocka_unit_test(upgrade_under_io),
		cmocka_unit_test(no_daemon),
	};

	if (access("/usr/bin/python3", X_OK)) {
		fprintf(stderr, "skip: python3 (for the JSON check) missing\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
