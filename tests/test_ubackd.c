/* SPDX-License-Identifier: MIT */
/*
 * ubackd under a private xensim: it starts uback-blk for a device the
 * toolstack writes (InitWait well within libxl's 10 s), restarts a killed
 * data process within a second (also one the sandbox's seccomp filter
 * killed, whose successor adopts the rings), backs off a crash loop, adopts running
 * processes when it is itself restarted, forgets removed devices, exports
 * counters (control socket and Prometheus), and refuses to start while a
 * kernel backend is bound.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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
#define NBLOCKS 1024u
#define BLK 4096u

struct fx {
	struct sim_harness h;
	struct xg_sim *sim;
	struct xs_handle *xs;
	struct xg_dom *dom;
	char image[PATH_MAX];
	char run_dir[PATH_MAX + 32];
	char be_path[128];
	char name[64];
	pid_t ubackd;
	struct blkfront *bf;
	char buf[1 << 16];
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

static pid_t start_ubackd(const char *extra, ...)
{
	char *argv[32];
	int argc = 0;
	va_list ap;
	pid_t pid;

	argv[argc++] = UBACKD_BIN;
	argv[argc++] = "--hv";
	argv[argc++] = "sim";
	argv[argc++] = "--sim-dir";
	argv[argc++] = fx.h.dir;
	argv[argc++] = "--run-dir";
	argv[argc++] = fx.run_dir;
	argv[argc++] = "--blk-bin";
	argv[argc++] = UBACK_BLK_BIN;
	argv[argc++] = "--no-vif";
	argv[argc++] = "--sysfs";
	argv[argc++] = fx.h.dir;     /* no bus/xen-backend there */
	argv[argc++] = "--log";
	argv[argc++] = "warn";
	va_start(ap, extra);
	for (; extra && argc < 31; extra = va_arg(ap, const char *))
		argv[argc++] = (char *)extra;
	va_end(ap);
	argv[argc] = NULL;
	pid = fork();
	if (pid == 0) {
		execv(UBACKD_BIN, argv);
		_exit(127);
	}
	return pid;
}

/* Wait for the control socket to answer. */
static int wait_ping(void)
{
	uint64_t end = now_ms() + 10000;

	while (now_ms() < end) {
		if (ud_request(fx.run_dir, "ping", fx.buf, sizeof(fx.buf)) > 0 &&
		    strstr(fx.buf, "pong"))
			return 0;
		sleep_ms(20);
	}
	return -ETIMEDOUT;
}

static long status_of(const char *key)
{
	if (ud_request(fx.run_dir, "status", fx.buf, sizeof(fx.buf)) <= 0)
		return -2;
	return ud_status_value(fx.buf, fx.name, key);
}

/* Wait until the device's pid is running and differs from @old. */
static long wait_new_pid(long old, unsigned int ms)
{
	uint64_t end = now_ms() + ms;
	long pid;

	do {
		pid = status_of("pid");
		if (pid > 0 && pid != old && kill((pid_t)pid, 0) == 0)
			return pid;
		sleep_ms(5);
	} while (now_ms() < end);
	return -1;
}

static void stop_ubackd(void)
{
	int st;

	if (fx.ubackd > 0) {
		kill(fx.ubackd, SIGTERM);
		waitpid(fx.ubackd, &st, 0);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	fx.ubackd = 0;
}

static int group_setup(void **state)
{
	(void)state;
	if (sim_harness_start(&fx.h) || xg_sim_connect(fx.h.dir, &fx.sim) ||
	    xg_sim_xs_open(fx.sim, &fx.xs))
		return -1;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	xs_close(fx.xs);
	xg_sim_disconnect(fx.sim);
	return sim_harness_stop(&fx.h) ? -1 : 0;
}

static int setup(void **state)
{
	struct xg_dom_config dc = { .mem_pages = 4096, .nr_grants = 4096 };
	int fd;

	(void)state;
	fx.bf = NULL;
	fx.ubackd = 0;
	snprintf(fx.run_dir, sizeof(fx.run_dir), "%s/run-%d", fx.h.dir,
		 (int)getpid());
	snprintf(fx.image, sizeof(fx.image), "/dev/shm/uback-ud-%d.img",
		 (int)getpid());
	fd = open(fx.image, O_CREAT | O_RDWR | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, (off_t)NBLOCKS * BLK) < 0)
		return -1;
	close(fd);
	if (xg_dom_create(fx.sim, &dc, &fx.dom))
		return -1;
	snprintf(fx.be_path, sizeof(fx.be_path),
		 "/local/domain/0/backend/vbd/%u/%u", xg_dom_id(fx.dom), DEVID);
	snprintf(fx.name, sizeof(fx.name), "vbd-%u-%u", xg_dom_id(fx.dom),
		 DEVID);
	return 0;
}

static int teardown(void **state)
{
	char cmd[PATH_MAX + 64];
	long pid;

	(void)state;
	blkfront_close(fx.bf);
	fx.bf = NULL;
	pid = fx.ubackd > 0 ? status_of("pid") : -1;
	if (fx.ubackd > 0)
		kill(fx.ubackd, SIGKILL), waitpid(fx.ubackd, NULL, 0);
	fx.ubackd = 0;
	xg_device_remove(fx.sim, xg_dom_id(fx.dom), "vbd", "vbd", DEVID);
	if (pid > 0)
		kill((pid_t)pid, SIGKILL);
	xg_dom_destroy(fx.dom);
	fx.dom = NULL;
	unlink(fx.image);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", fx.run_dir);
	if (system(cmd)) {
		/* best effort */
	}
	return 0;
}

static void create_device(const char *params)
{
	const char *be_kv[] = { "params", params ? params : fx.image,
				"mode", "w", "type", "phy",
				"device-type", "disk", "script", "block-uback",
				NULL };

	assert_int_equal(xg_device_create(fx.sim, xg_dom_id(fx.dom), "vbd",
					  "vbd", DEVID, be_kv, NULL), 0);
}

static void connect_frontend(bool keep_keys)
{
	struct blkfront_config bc = {
		.dom = fx.dom, .devid = DEVID, .nr_queues = 2,
		.ring_page_order = 1, .persistent = true, .use_flush = true,
		.queue_depth = 16, .timeout_ms = 10000, .keep_keys = keep_keys,
	};

	assert_int_equal(blkfront_connect(&bc, &fx.bf), 0);
}

static void pattern(uint8_t *p, uint32_t block, uint32_t gen)
{
	uint32_t i;

	for (i = 0; i < BLK; i += 4) {
		uint32_t v = (block * 2654435761u) ^ (i * 40503u) ^ gen;

		memcpy(p + i, &v, 4);
	}
}

static void write_read(uint32_t block, uint32_t gen)
{
	uint8_t w[BLK] __attribute__((aligned(4096)));
	uint8_t r[BLK] __attribute__((aligned(4096)));
	struct iovec wi = { w, BLK }, ri = { r, BLK };
	struct blkfront_req req = { .op = BLKFRONT_OP_WRITE, .iov = &wi,
				    .iovcnt = 1,
				    .sector = (uint64_t)block * 8 };

	pattern(w, block, gen);
	assert_int_equal(blkfront_sync(fx.bf, &req, 10000), 0);
	req.op = BLKFRONT_OP_READ;
	req.iov = &ri;
	assert_int_equal(blkfront_sync(fx.bf, &req, 10000), 0);
	assert_memory_equal(w, r, BLK);
}

/* ---- cases ---- */

static void refuses_kernel_backend(void **state)
{
	char sys[PATH_MAX + 32], out[PATH_MAX + 64], cmd[3 * PATH_MAX];
	FILE *f;
	int st, fd;
	pid_t pid;

	(void)state;
	snprintf(sys, sizeof(sys), "%s/sys-%d", fx.h.dir, (int)getpid());
	snprintf(cmd, sizeof(cmd), "mkdir -p %s/bus/xen-backend/drivers/vbd",
		 sys);
	assert_int_equal(system(cmd), 0);
	snprintf(out, sizeof(out), "%s/err", sys);
	pid = fork();
	if (pid == 0) {
		fd = open(out, O_CREAT | O_WRONLY | O_TRUNC, 0600);
		dup2(fd, 2);
		execl(UBACKD_BIN, UBACKD_BIN, "--hv", "sim", "--sim-dir",
		      fx.h.dir, "--run-dir", fx.run_dir, "--sysfs", sys,
		      (char *)NULL);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 1);
	f = fopen(out, "r");
	assert_non_null(f);
	memset(fx.buf, 0, sizeof(fx.buf));
	assert_true(fread(fx.buf, 1, sizeof(fx.buf) - 1, f) > 0);
	fclose(f);
	assert_non_null(strstr(fx.buf, "rmmod xen-blkback"));
	assert_non_null(strstr(fx.buf, "driver domain"));
	/* Nothing was started: no control socket. */
	assert_true(ud_request(fx.run_dir, "ping", fx.buf, sizeof(fx.buf)) < 0);

	/* The vif driver alone does not stop a vbd-only ubackd. */
	snprintf(cmd, sizeof(cmd), "rm -r %s/bus/xen-backend/drivers/vbd && "
		 "mkdir -p %s/bus/xen-backend/drivers/vif", sys, sys);
	assert_int_equal(system(cmd), 0);
	fx.ubackd = start_ubackd("--sysfs", sys, NULL);
	assert_int_equal(wait_ping(), 0);
	stop_ubackd();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", sys);
	assert_int_equal(system(cmd), 0);
}

static void serves_new_device(void **state)
{
	uint64_t t0;
	enum xenbus_state st;
	long pid;

	(void)state;
	fx.ubackd = start_ubackd(NULL);
	assert_int_equal(wait_ping(), 0);
	t0 = now_ms();
	create_device(NULL);
	assert_int_equal(xg_xenbus_wait_state(fx.xs, fx.be_path,
					      1u << XenbusStateInitWait, 10000,
					      &st), 0);
	/* libxl gives a backend 10 s; we should need a fraction. */
	fprintf(stderr, "InitWait after %llu ms\n",
		(unsigned long long)(now_ms() - t0));
	assert_true(now_ms() - t0 < 3000);
	pid = status_of("pid");
	assert_true(pid > 0);
	assert_int_equal(status_of("restarts"), 0);
	connect_frontend(false);
	write_read(7, 1);
	assert_int_equal(status_of("state"), XenbusStateConnected);
	/* The hotplug script's question. */
	{
		char req[200];

		snprintf(req, sizeof(req), "attach %s", fx.be_path);
		assert_true(ud_request(fx.run_dir, req, fx.buf,
				       sizeof(fx.buf)) > 0);
		assert_non_null(strstr(fx.buf, "ok "));
		/* As libxl sets XENBUS_PATH: relative to dom0's home. */
		snprintf(req, sizeof(req), "attach %s",
			 strstr(fx.be_path, "backend/"));
		assert_true(ud_request(fx.run_dir, req, fx.buf,
				       sizeof(fx.buf)) > 0);
		assert_non_null(strstr(fx.buf, "ok "));
		assert_int_equal(ud_request(fx.run_dir,
					    "attach /local/domain/0/backend/"
					    "vbd/77/1", fx.buf,
					    sizeof(fx.buf)) > 0, 1);
		assert_non_null(strstr(fx.buf, "error:"));
	}
	stop_ubackd();
	/* ubackd's exit leaves the data process serving. */
	assert_int_equal(kill((pid_t)pid, 0), 0);
	write_read(8, 2);
}

static void restarts_killed_process(void **state)
{
	struct blkfront_info info;
	long pid, pid2;
	uint64_t t0;

	(void)state;
	fx.ubackd = start_ubackd(NULL);
	assert_int_equal(wait_ping(), 0);
	create_device(NULL);
	connect_frontend(false);
	write_read(1, 1);
	pid = status_of("pid");
	assert_true(pid > 0);
	t0 = now_ms();
	assert_int_equal(kill((pid_t)pid, SIGKILL), 0);
	pid2 = wait_new_pid(pid, 5000);
	assert_true(pid2 > 0);
	fprintf(stderr, "restarted after %llu ms\n",
		(unsigned long long)(now_ms() - t0));
	assert_true(now_ms() - t0 < 1000);
	assert_int_equal(status_of("restarts"), 1);
	/* The frontend keeps working on the new process. */
	write_read(2, 2);
	write_read(1, 3);
	blkfront_get_info(fx.bf, &info);
	fprintf(stderr, "frontend recoveries: %llu\n",
		(unsigned long long)info.recoveries);
}

/* The restarts file ubackd keeps in the device's run directory. */
static long restarts_file(void)
{
	char path[PATH_MAX + 128];
	long n = -1;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s/restarts", fx.run_dir, fx.name);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%ld", &n) != 1)
		n = -1;
	fclose(f);
	return n;
}

/*
 * A data process the seccomp filter kills (a forbidden system call, made
 * on demand through the test build's FIFO hook, uback/testhook.h) is
 * restarted like any other death: at once, counted once, the death's
 * signal reported, and the successor adopts the live rings from the
 * journal: the frontend (keeping its keys, as Linux does) never runs its
 * reconnect cycle and its data verifies.
 */
static void restarts_after_sandbox_kill(void **state)
{
	char fifo[PATH_MAX + 32];
	struct blkfront_info info;
	long pid, pid2;
	uint64_t t0;
	int fd;

	(void)state;
	snprintf(fifo, sizeof(fifo), "%s/sigsys-%d", fx.h.dir, (int)getpid());
	unlink(fifo);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	/* ubackd passes its environment to the data processes. */
	assert_int_equal(setenv("UBACK_TEST_SIGSYS_FIFO", fifo, 1), 0);
	fx.ubackd = start_ubackd("--blk-bin", UBACK_BLK_TESTHOOKS_BIN, NULL);
	unsetenv("UBACK_TEST_SIGSYS_FIFO");
	assert_int_equal(wait_ping(), 0);
	create_device(NULL);
	connect_frontend(true);
	write_read(1, 1);
	write_read(2, 1);
	pid = status_of("pid");
	assert_true(pid > 0);
	assert_int_equal(status_of("restarts"), 0);
	assert_int_equal(status_of("last_signal"), 0);

	t0 = now_ms();
	fd = open(fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "x", 1), 1);
	close(fd);
	pid2 = wait_new_pid(pid, 5000);
	assert_true(pid2 > 0);
	fprintf(stderr, "killed by the filter and restarted after %llu ms\n",
		(unsigned long long)(now_ms() - t0));
	assert_true(now_ms() - t0 < 2000);
	assert_int_equal(status_of("last_signal"), SIGSYS);
	assert_int_equal(status_of("restarts"), 1);
	assert_int_equal(restarts_file(), 1);

	/* The device keeps working on the successor, without a reconnect:
	 * what was written before the death reads back. */
	write_read(3, 2);
	write_read(1, 3);
	{
		uint8_t r[BLK] __attribute__((aligned(4096)));
		uint8_t w[BLK];
		struct iovec ri = { r, BLK };
		struct blkfront_req req = { .op = BLKFRONT_OP_READ,
					    .iov = &ri, .iovcnt = 1,
					    .sector = 2 * 8 };

		assert_int_equal(blkfront_sync(fx.bf, &req, 10000), 0);
		pattern(w, 2, 1);
		assert_memory_equal(w, r, BLK);
	}
	blkfront_get_info(fx.bf, &info);
	fprintf(stderr, "frontend recoveries: %llu\n",
		(unsigned long long)info.recoveries);
	assert_int_equal(info.recoveries, 0);

	/* One byte, one death: the successor, which opened the same FIFO,
	 * keeps running, and the count stays at one. */
	sleep_ms(300);
	assert_int_equal(kill((pid_t)pid2, 0), 0);
	assert_int_equal(status_of("pid"), pid2);
	assert_int_equal(status_of("restarts"), 1);
	assert_int_equal(restarts_file(), 1);
	unlink(fifo);
}

static void crash_loop_backs_off(void **state)
{
	char bin[PATH_MAX + 16];
	long restarts;
	FILE *f;

	(void)state;
	/* A "data process" that dies at once. */
	snprintf(bin, sizeof(bin), "%s/crash-%d.sh", fx.h.dir, (int)getpid());
	f = fopen(bin, "w");
	assert_non_null(f);
	fprintf(f, "#!/bin/sh\nexit 1\n");
	fclose(f);
	assert_int_equal(chmod(bin, 0755), 0);
	fx.ubackd = start_ubackd("--blk-bin", bin, NULL);
	assert_int_equal(wait_ping(), 0);
	create_device(NULL);
	sleep_ms(3000);
	restarts = status_of("restarts");
	fprintf(stderr, "restarts in 3 s: %ld\n", restarts);
	/* 0, 200, 400, 800, 1600 ms: about 5; without a backoff it would
	 * be hundreds. */
	assert_true(restarts >= 3);
	assert_true(restarts <= 8);
	unlink(bin);
}

static void adopts_after_own_restart(void **state)
{
	char pidfile[PATH_MAX + 160];
	long pid;
	int restarts_before;

	(void)state;
	fx.ubackd = start_ubackd(NULL);
	assert_int_equal(wait_ping(), 0);
	create_device(NULL);
	connect_frontend(false);
	write_read(3, 1);
	pid = status_of("pid");
	restarts_before = (int)status_of("restarts");
	assert_int_equal(status_of("adopted"), 0);
	stop_ubackd();
	fx.ubackd = start_ubackd(NULL);
	assert_int_equal(wait_ping(), 0);
	/* Same process, adopted, not restarted. */
	assert_int_equal(status_of("pid"), pid);
	assert_int_equal(status_of("adopted"), 1);
	assert_int_equal(status_of("restarts"), restarts_before);
	assert_int_equal(status_of("state"), XenbusStateConnected);
	write_read(3, 2);
	/* An adopted process is still supervised. */
	assert_int_equal(kill((pid_t)pid, SIGKILL), 0);
	assert_true(wait_new_pid(pid, 2000) > 0);
	write_read(4, 3);

	/* A pid file naming a dead process (or a recycled pid) is not
	 * adopted: ubackd starts a new process for the device. */
	pid = status_of("pid");
	stop_ubackd();
	assert_int_equal(kill((pid_t)pid, SIGKILL), 0);
	waitpid((pid_t)pid, NULL, 0);
	sleep_ms(100);
	snprintf(pidfile, sizeof(pidfile), "%s/%s/pid", fx.run_dir, fx.name);
	{
		FILE *f = fopen(pidfile, "w");

		assert_non_null(f);
		fprintf(f, "%d 1\n", (int)getpid());   /* alive, wrong start */
		fclose(f);
	}
	fx.ubackd = start_ubackd(NULL);
	assert_int_equal(wait_ping(), 0);
	pid = wait_new_pid(getpid(), 3000);
	assert_true(pid > 0 && pid != getpid());
	assert_int_equal(status_of("adopted"), 0);
	write_read(5, 4);
}

static void forgets_removed_device(void **state)
{
	char dir[PATH_MAX + 128];
	struct stat sb;
	uint64_t end;
	long pid;

	(void)state;
	fx.ubackd = start_ubackd(NULL);
	assert_int_equal(wait_ping(), 0);
	create_device(NULL);
	connect_frontend(false);
	write_read(6, 1);
	pid = status_of("pid");
	snprintf(dir, sizeof(dir), "%s/%s", fx.run_dir, fx.name);
	assert_int_equal(stat(dir, &sb), 0);
	blkfront_close(fx.bf);
	fx.bf = NULL;
	assert_int_equal(xg_device_remove(fx.sim, xg_dom_id(fx.dom), "vbd",
					  "vbd", DEVID), 0);
	end = now_ms() + 5000;
	while (now_ms() < end && status_of("pid") != -1)
		sleep_ms(10);
	assert_int_equal(status_of("pid"), -1);     /* no device line */
	assert_int_equal(kill((pid_t)pid, 0), -1);  /* exited, reaped */
	assert_int_equal(stat(dir, &sb), -1);       /* state removed */
}

static void exports_metrics(void **state)
{
	char req[64], sh[256], *p;
	uint64_t end;
	long v = -1;
	int port = 20000 + (int)(getpid() % 20000);
	unsigned int i;

	(void)state;
	snprintf(req, sizeof(req), "%d", port);
	fx.ubackd = start_ubackd("--metrics-port", req, NULL);
	assert_int_equal(wait_ping(), 0);
	create_device(NULL);
	connect_frontend(false);
	for (i = 0; i < 10; i++)
		write_read(i, 1);
	/* uback-blk writes its counters file once a second. */
	end = now_ms() + 3000;
	do {
		sleep_ms(100);
		assert_true(ud_request(fx.run_dir, "metrics", fx.buf,
				       sizeof(fx.buf)) > 0);
		v = -1;
		p = strstr(fx.buf, "uback_vbd_req_read_total{");
		if (p)
			v = strtol(strchr(p, '}') + 1, NULL, 10);
	} while (v < 10 && now_ms() < end);
	assert_int_equal(v, 10);
	assert_non_null(strstr(fx.buf, "# TYPE uback_vbd_queue_req_write_total "
				       "counter\n"));
	assert_non_null(strstr(fx.buf, "queue=\"1\""));
	assert_non_null(strstr(fx.buf, "uback_device_up{kind=\"vbd\""));
	/* Exactly one TYPE line per metric. */
	p = strstr(fx.buf, "# TYPE uback_vbd_req_read_total ");
	assert_non_null(p);
	assert_null(strstr(p + 1, "# TYPE uback_vbd_req_read_total "));

	/* The same over HTTP on 127.0.0.1. */
	snprintf(sh, sizeof(sh),
		 "exec 3<>/dev/tcp/127.0.0.1/%d; printf 'GET /metrics "
		 "HTTP/1.0\\r\\n\\r\\n' >&3; cat <&3", port);
	{
		char cmd[320];
		FILE *f;
		size_t n;

		snprintf(cmd, sizeof(cmd), "bash -c \"%s\"", sh);
		f = popen(cmd, "r");
		assert_non_null(f);
		n = fread(fx.buf, 1, sizeof(fx.buf) - 1, f);
		fx.buf[n] = '\0';
		pclose(f);
	}
	assert_non_null(strstr(fx.buf, "HTTP/1.0 200 OK"));
	assert_non_null(strstr(fx.buf, "uback_vbd_req_read_total{"));
}

static char *be_read(const char *key)
{
	char path[192];
	char *v = NULL;
	unsigned int len;

	snprintf(path, sizeof(path), "%s/%s", fx.be_path, key);
	v = xs_read(fx.xs, XBT_NULL, path, &len);
	return v;
}

static void config_file_rules(void **state)
{
	char conf[PATH_MAX + 64];
	enum xenbus_state st;
	char *v;
	FILE *f;

	(void)state;
	snprintf(conf, sizeof(conf), "%s/ubackd-%d.conf", fx.h.dir,
		 (int)getpid());
	f = fopen(conf, "w");
	assert_non_null(f);
	fprintf(f, "# every vbd\n"
		"vbd-args --queues 3 --indirect-segs 64\n"
		"domain guest%u vbd --ring-order 1\n"
		"domain someone-else vbd --ring-order 3\n"
		"image %s --indirect-segs 32\n"
		"vif-args --whatever\n", xg_dom_id(fx.dom), fx.image);
	fclose(f);
	fx.ubackd = start_ubackd("--config", conf, NULL);
	assert_int_equal(wait_ping(), 0);
	create_device(NULL);
	assert_int_equal(xg_xenbus_wait_state(fx.xs, fx.be_path,
					      1u << XenbusStateInitWait, 10000,
					      &st), 0);
	v = be_read("multi-queue-max-queues");
	assert_non_null(v);
	assert_string_equal(v, "3");            /* vbd-args */
	free(v);
	v = be_read("max-ring-page-order");
	assert_non_null(v);
	assert_string_equal(v, "1");            /* this domain's rule only */
	free(v);
	v = be_read("feature-max-indirect-segments");
	assert_non_null(v);
	assert_string_equal(v, "32");           /* image rule wins */
	free(v);
	stop_ubackd();

	/* A malformed config file stops ubackd at start, with the line. */
	f = fopen(conf, "w");
	assert_non_null(f);
	fprintf(f, "vbd-args --queues 2\nfrobnicate all the things\n");
	fclose(f);
	{
		int st2;
		pid_t pid = start_ubackd("--config", conf, NULL);

		assert_int_equal(waitpid(pid, &st2, 0), pid);
		assert_true(WIFEXITED(st2) && WEXITSTATUS(st2) == 1);
	}
	unlink(conf);
}

/* vif devices get uback-net (not tested here beyond its command line:
 * the vif half comes with uback-net's own tests). */
static void vif_gets_uback_net(void **state)
{
	char bin[PATH_MAX + 32], args[PATH_MAX + 32], want[160];
	const char *be_kv[] = { "mac", "00:16:3e:00:00:01", "bridge", "xenbr0",
				"script", "vif-uback", "handle", "0", NULL };
	uint64_t end;
	FILE *f;
	size_t n;

	(void)state;
	snprintf(bin, sizeof(bin), "%s/net-%d.sh", fx.h.dir, (int)getpid());
	snprintf(args, sizeof(args), "%s/net-%d.args", fx.h.dir,
		 (int)getpid());
	f = fopen(bin, "w");
	assert_non_null(f);
	/* Written aside, then renamed: the test polls for the file and
	 * must never read it half written. */
	fprintf(f, "#!/bin/sh\necho \"$@\" > %s.tmp && mv %s.tmp %s\n"
		"exec sleep 30\n", args, args, args);
	fclose(f);
	assert_int_equal(chmod(bin, 0755), 0);
	unlink(args);
	/* vif only (start_ubackd serves vbd only). */
	fx.ubackd = fork();
	if (fx.ubackd == 0) {
		execl(UBACKD_BIN, UBACKD_BIN, "--hv", "sim", "--sim-dir",
		      fx.h.dir, "--run-dir", fx.run_dir, "--net-bin", bin,
		      "--no-vbd", "--sysfs", fx.h.dir, "--log", "warn",
		      (char *)NULL);
		_exit(127);
	}
	assert_int_equal(wait_ping(), 0);
	assert_int_equal(xg_device_create(fx.sim, xg_dom_id(fx.dom), "vif",
					  "vif", 0, be_kv, NULL), 0);
	end = now_ms() + 5000;
	while (access(args, R_OK) && now_ms() < end)
		sleep_ms(20);
	f = fopen(args, "r");
	assert_non_null(f);
	n = fread(fx.buf, 1, sizeof(fx.buf) - 1, f);
	fx.buf[n] = '\0';
	fclose(f);
	fprintf(stderr, "uback-net args: %s", fx.buf);
	assert_non_null(strstr(fx.buf, "--port tap"));
	assert_non_null(strstr(fx.buf, "--stats "));
	snprintf(want, sizeof(want), "/local/domain/0/backend/vif/%u/0\n",
		 xg_dom_id(fx.dom));
	assert_non_null(strstr(fx.buf, want));
	/* Its state dir: a successor adopts the live vif from it. */
	{
		char sd[sizeof(fx.run_dir) + 64];

		snprintf(sd, sizeof(sd), "--state-dir %s/vif-%u-0 ",
			 fx.run_dir, xg_dom_id(fx.dom));
		assert_non_null(strstr(fx.buf, sd));
	}
	snprintf(want, sizeof(want), "vif-%u-0", xg_dom_id(fx.dom));
	assert_true(ud_request(fx.run_dir, "status", fx.buf,
			       sizeof(fx.buf)) > 0);
	assert_true(ud_status_value(fx.buf, want, "pid") > 0);
	/* A live upgrade of a vif: SIGUSR1 (which ends the fake), then a
	 * new process. */
	{
		char req[sizeof(want) + 16];
		long old = ud_status_value(fx.buf, want, "pid"), now = old;

		snprintf(req, sizeof(req), "upgrade %s", want);
		assert_true(ud_request(fx.run_dir, req, fx.buf,
				       sizeof(fx.buf)) > 0);
		assert_non_null(strstr(fx.buf, "upgrading"));
		end = now_ms() + 5000;
		while ((now == old || now <= 0) && now_ms() < end) {
			sleep_ms(20);
			if (ud_request(fx.run_dir, "status", fx.buf,
				       sizeof(fx.buf)) > 0)
				now = ud_status_value(fx.buf, want, "pid");
		}
		assert_true(now > 0 && now != old);
	}
	kill((pid_t)ud_status_value(fx.buf, want, "pid"), SIGKILL);
	kill(fx.ubackd, SIGKILL);
	waitpid(fx.ubackd, NULL, 0);
	fx.ubackd = 0;
	xg_device_remove(fx.sim, xg_dom_id(fx.dom), "vif", "vif", 0);
	unlink(bin);
	unlink(args);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(refuses_kernel_backend, setup,
						teardown),
		cmocka_unit_test_setup_teardown(serves_new_device, setup,
						teardown),
		cmocka_unit_test_setup_teardown(restarts_killed_process, setup,
						teardown),
		cmocka_unit_test_setup_teardown(restarts_after_sandbox_kill,
						setup, teardown),
		cmocka_unit_test_setup_teardown(crash_loop_backs_off, setup,
						teardown),
		cmocka_unit_test_setup_teardown(adopts_after_own_restart, setup,
						teardown),
		cmocka_unit_test_setup_teardown(forgets_removed_device, setup,
						teardown),
		cmocka_unit_test_setup_teardown(exports_metrics, setup,
						teardown),
		cmocka_unit_test_setup_teardown(config_file_rules, setup,
						teardown),
		cmocka_unit_test_setup_teardown(vif_gets_uback_net, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
