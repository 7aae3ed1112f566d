/* SPDX-License-Identifier: MIT */
/*
 * tools/hotplug/block-uback, called as libxl calls it (XENBUS_PATH set,
 * `add` once the backend is in InitWait, `remove` at the end), with
 * Debian's xenstore-* commands pointed at a private xensim
 * (XENSTORED_PATH) and ubackd serving the devices: hotplug-status
 * connected for a good disk; hotplug-status error and a hotplug-error
 * saying why for a missing image, a bad mode, an option ubackd refuses
 * and a stopped ubackd; the xl line's knobs reach uback-blk.
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

#include "sim_harness.h"
#include "ubackd_client.h"
#include "uback/xs.h"

struct fx {
	struct sim_harness h;
	struct xg_sim *sim;
	struct xs_handle *xs;
	struct xg_dom *dom;
	char image[PATH_MAX];
	char run_dir[PATH_MAX + 32];
	char be_path[128];
	pid_t ubackd;
	unsigned int devid;
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

static bool have_xenstore_tools(void)
{
	return access("/usr/bin/xenstore-write", X_OK) == 0 &&
	       access("/usr/bin/xenstore-read", X_OK) == 0;
}

static void start_ubackd(void)
{
	char *argv[] = { UBACKD_BIN, "--hv", "sim", "--sim-dir", fx.h.dir,
			 "--run-dir", fx.run_dir, "--blk-bin", UBACK_BLK_BIN,
			 "--no-vif", "--sysfs", fx.h.dir, "--log", "err",
			 NULL };
	uint64_t end = now_ms() + 10000;

	fx.ubackd = fork();
	if (fx.ubackd == 0) {
		execv(UBACKD_BIN, argv);
		_exit(127);
	}
	while (ud_request(fx.run_dir, "ping", fx.buf, sizeof(fx.buf)) <= 0) {
		assert_true(now_ms() < end);
		sleep_ms(20);
	}
}

static void stop_ubackd(void)
{
	if (fx.ubackd > 0) {
		kill(fx.ubackd, SIGTERM);
		waitpid(fx.ubackd, NULL, 0);
	}
	fx.ubackd = 0;
}

/* Run block-uback as libxl does; returns its exit status. */
static int hotplug(const char *cmd)
{
	char xsp[PATH_MAX + 32], run[PATH_MAX + 64];
	int st;
	pid_t pid;

	snprintf(xsp, sizeof(xsp), "%s/xenstore.sock", fx.h.dir);
	snprintf(run, sizeof(run), "%s", fx.run_dir);
	pid = fork();
	if (pid == 0) {
		setenv("XENBUS_PATH", fx.be_path, 1);
		setenv("XENBUS_TYPE", "vbd", 1);
		setenv("XENBUS_BASE_PATH", "/local/domain/0/backend", 1);
		setenv("XENSTORED_PATH", xsp, 1);
		setenv("UBACKCTL", UBACKCTL_BIN, 1);
		setenv("UBACK_RUN_DIR", run, 1);
		setenv("UBACK_ATTACH_TIMEOUT", "2", 1);
		execl("/bin/sh", "sh", BLOCK_UBACK, cmd, (char *)NULL);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

static char *be_read(const char *key)
{
	char path[192];
	char *v = NULL;

	snprintf(path, sizeof(path), "%s/%s", fx.be_path, key);
	if (xb_xs_read(fx.xs, XBT_NULL, path, &v))
		return NULL;
	return v;
}

static void assert_be(const char *key, const char *want)
{
	char *v = be_read(key);

	assert_non_null(v);
	assert_string_equal(v, want);
	free(v);
}

static void assert_be_contains(const char *key, const char *want)
{
	char *v = be_read(key);

	if (!v || !strstr(v, want))
		fprintf(stderr, "%s = '%s', wanted '%s' in it\n", key,
			v ? v : "(none)", want);
	assert_non_null(v);
	assert_non_null(strstr(v, want));
	free(v);
}

/* The device as libxl writes it; waits for InitWait when @wait. */
static void create_device(const char *params, const char *mode, bool wait)
{
	const char *be_kv[] = { "params", params, "mode", mode,
				"type", "phy", "device-type", "disk",
				"script", "/etc/xen/scripts/block-uback", NULL };
	enum xenbus_state st;

	fx.devid++;
	snprintf(fx.be_path, sizeof(fx.be_path),
		 "/local/domain/0/backend/vbd/%u/%u", xg_dom_id(fx.dom),
		 fx.devid);
	assert_int_equal(xg_device_create(fx.sim, xg_dom_id(fx.dom), "vbd",
					  "vbd", fx.devid, be_kv, NULL), 0);
	if (wait)
		assert_int_equal(xg_xenbus_wait_state(fx.xs, fx.be_path,
					1u << XenbusStateInitWait, 10000, &st),
				 0);
}

static int group_setup(void **state)
{
	struct xg_dom_config dc = { .mem_pages = 1024, .nr_grants = 1024 };
	int fd;

	(void)state;
	if (!have_xenstore_tools()) {
		fprintf(stderr, "skip: xenstore-utils not installed\n");
		exit(77);
	}
	if (sim_harness_start(&fx.h) || xg_sim_connect(fx.h.dir, &fx.sim) ||
	    xg_sim_xs_open(fx.sim, &fx.xs) ||
	    xg_dom_create(fx.sim, &dc, &fx.dom))
		return -1;
	fx.devid = 51712;
	snprintf(fx.run_dir, sizeof(fx.run_dir), "%s/run", fx.h.dir);
	snprintf(fx.image, sizeof(fx.image), "/dev/shm/uback-hp-%d.img",
		 (int)getpid());
	fd = open(fx.image, O_CREAT | O_RDWR | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, 1 << 22) < 0)
		return -1;
	close(fd);
	start_ubackd();
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	stop_ubackd();
	unlink(fx.image);
	xg_dom_destroy(fx.dom);
	xs_close(fx.xs);
	xg_sim_disconnect(fx.sim);
	/* Data processes of devices left behind exit with the daemon. */
	return sim_harness_stop(&fx.h) ? -1 : 0;
}

static void add_and_remove(void **state)
{
	(void)state;
	create_device(fx.image, "w", true);
	assert_int_equal(hotplug("add"), 0);
	assert_be("hotplug-status", "connected");
	assert_null(be_read("hotplug-error"));
	assert_int_equal(hotplug("remove"), 0);
	assert_int_equal(xg_device_remove(fx.sim, xg_dom_id(fx.dom), "vbd",
					  "vbd", fx.devid), 0);
}

static void knobs_from_the_xl_line(void **state)
{
	char params[PATH_MAX + 64];

	(void)state;
	snprintf(params, sizeof(params),
		 "uback:queues=1,ring-order=2,no-persistent:%s", fx.image);
	create_device(params, "w", true);
	assert_int_equal(hotplug("add"), 0);
	assert_be("hotplug-status", "connected");
	/* uback-blk got the knobs: it published them. */
	assert_be("multi-queue-max-queues", "1");
	assert_be("max-ring-page-order", "2");
	assert_null(be_read("feature-persistent"));
	assert_int_equal(xg_device_remove(fx.sim, xg_dom_id(fx.dom), "vbd",
					  "vbd", fx.devid), 0);
}

static void read_only_mode(void **state)
{
	(void)state;
	create_device(fx.image, "r", true);
	assert_int_equal(hotplug("add"), 0);
	assert_be("hotplug-status", "connected");
	assert_null(be_read("feature-flush-cache"));   /* read-only */
	assert_int_equal(xg_device_remove(fx.sim, xg_dom_id(fx.dom), "vbd",
					  "vbd", fx.devid), 0);
}

static void missing_image(void **state)
{
	(void)state;
	create_device("/nonexistent/uback.img", "w", false);
	assert_int_equal(hotplug("add"), 1);
	assert_be("hotplug-status", "error");
	assert_be_contains("hotplug-error", "/nonexistent/uback.img does not "
			   "exist");
	assert_int_equal(xg_device_remove(fx.sim, xg_dom_id(fx.dom), "vbd",
					  "vbd", fx.devid), 0);
}

static void bad_mode(void **state)
{
	(void)state;
	create_device(fx.image, "x", false);
	assert_int_equal(hotplug("add"), 1);
	assert_be("hotplug-status", "error");
	assert_be_contains("hotplug-error", "bad mode 'x'");
	assert_int_equal(xg_device_remove(fx.sim, xg_dom_id(fx.dom), "vbd",
					  "vbd", fx.devid), 0);
}

static void image_is_a_directory(void **state)
{
	(void)state;
	create_device("/tmp", "w", false);
	assert_int_equal(hotplug("add"), 1);
	assert_be_contains("hotplug-error", "is a directory");
	assert_int_equal(xg_device_remove(fx.sim, xg_dom_id(fx.dom), "vbd",
					  "vbd", fx.devid), 0);
}

static void knob_ubackd_refuses(void **state)
{
	char params[PATH_MAX + 64];

	(void)state;
	snprintf(params, sizeof(params), "uback:bogus=1:%s", fx.image);
	create_device(params, "w", false);
	assert_int_equal(hotplug("add"), 1);
	assert_be("hotplug-status", "error");
	assert_be_contains("hotplug-error", "ubackd does not serve");
	assert_be_contains("hotplug-error", "bad device options");
	assert_int_equal(xg_device_remove(fx.sim, xg_dom_id(fx.dom), "vbd",
					  "vbd", fx.devid), 0);
}

static void daemon_not_running(void **state)
{
	(void)state;
	stop_ubackd();
	create_device(fx.image, "w", false);
	assert_int_equal(hotplug("add"), 1);
	assert_be("hotplug-status", "error");
	assert_be_contains("hotplug-error", "ubackd is not running");
	/* Once ubackd runs, it serves the device and the script succeeds
	 * (a second `xl block-attach` after `systemctl start ubackd`). */
	start_ubackd();
	{
		enum xenbus_state st;

		assert_int_equal(xg_xenbus_wait_state(fx.xs, fx.be_path,
					1u << XenbusStateInitWait, 10000, &st),
				 0);
	}
	assert_int_equal(hotplug("add"), 0);
	assert_be("hotplug-status", "connected");
	assert_int_equal(xg_device_remove(fx.sim, xg_dom_id(fx.dom), "vbd",
					  "vbd", fx.devid), 0);
}

static void bad_invocation(void **state)
{
	(void)state;
	assert_int_equal(hotplug("frobnicate"), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(add_and_remove),
		cmocka_unit_test(knobs_from_the_xl_line),
		cmocka_unit_test(read_only_mode),
		cmocka_unit_test(missing_image),
		cmocka_unit_test(bad_mode),
		cmocka_unit_test(image_is_a_directory),
		cmocka_unit_test(knob_ubackd_refuses),
		cmocka_unit_test(daemon_not_running),
		cmocka_unit_test(bad_invocation),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
