/* SPDX-License-Identifier: MIT */
/*
 * uback-blk end to end under a private xensim, driven by the simulated
 * blkfront (tools/blkfront): the backend runs as its own process, as in
 * production (--hv sim PATH).
 *   - negotiation matrix: ABI x ring order x persistent x queues x
 *     indirect, each with a data round trip checked against the image,
 *     flush and discard, reconnecting to the same backend process;
 *   - read-only devices (mode r): VDISK_READONLY, writes refused;
 *     discard-enable=0 honoured; the counters file;
 *   - the hostile guest: malformed frontend keys (connect refused with an
 *     error node, the backend survives and serves a good frontend after),
 *     an impossible request producer (ring halted, backend alive, another
 *     guest's device unaffected), a guest destroyed with I/O in flight
 *     (the backend frees everything and exits cleanly on removal);
 *   - an idle connected guest costs the backend < 1% CPU (adaptive
 *     polling, the default).
 * A backend that crashes or exits non-zero (sanitizer builds: leaks) fails
 * the test.
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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <uback/xs.h>
#include <xensim/guest.h>

#include "blkfront.h"
#include "blkfront_raw.h"
#include "sim_harness.h"

#define DEVID 51712u
#define IMG_SECTORS 16384u        /* 8 MiB */
#define TIMEOUT_MS 20000

struct gfx {                      /* one guest with one vbd and a backend */
	struct xg_dom *dom;
	domid_t domid;
	char be_path[128];
	char img[64];
	char stats[80];
	pid_t pid;
	int img_fd;
};

static struct sim_harness harness;
static struct xg_sim *sim;
static struct xs_handle *xs0;

static void msleep(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

static int group_setup(void **state)
{
	if (sim_harness_start(&harness))
		return -1;
	if (xg_sim_connect(harness.dir, &sim))
		return -1;
	return xg_sim_xs_open(sim, &xs0) ? -1 : 0;
}

static int group_teardown(void **state)
{
	xs_close(xs0);
	xg_sim_disconnect(sim);
	return sim_harness_stop(&harness) ? -1 : 0;
}

/*
 * A guest, its vbd (backend keys as libxl writes them, plus @be_extra),
 * an image file, and a uback-blk process serving it with @args.
 */
static void guest_up(struct gfx *g, const char *const *be_extra,
		     const char *const *args)
{
	struct xg_dom_config dc = { .mem_pages = 131072, .nr_grants = 65536 };
	const char *be_kv[32];
	const char *argv[40];
	unsigned int n = 0, i;

	memset(g, 0, sizeof(*g));
	snprintf(g->img, sizeof(g->img), "/dev/shm/test_blk_sim.XXXXXX");
	g->img_fd = mkstemp(g->img);
	assert_true(g->img_fd >= 0);
	assert_int_equal(ftruncate(g->img_fd, (off_t)IMG_SECTORS * 512), 0);
	snprintf(g->stats, sizeof(g->stats), "%s.stats", g->img);

	assert_int_equal(xg_dom_create(sim, &dc, &g->dom), 0);
	g->domid = xg_dom_id(g->dom);
	be_kv[n++] = "params";
	be_kv[n++] = g->img;
	be_kv[n++] = "type";
	be_kv[n++] = "phy";
	be_kv[n++] = "device-type";
	be_kv[n++] = "disk";
	for (i = 0; be_extra && be_extra[i] && n < 28; i++)
		be_kv[n++] = be_extra[i];
	if (!be_extra || !be_extra[0] || strcmp(be_extra[0], "mode")) {
		be_kv[n++] = "mode";
		be_kv[n++] = "w";
	}
	be_kv[n] = NULL;
	assert_int_equal(xg_device_create(sim, g->domid, "vbd", "vbd", DEVID,
					  be_kv, NULL), 0);
	snprintf(g->be_path, sizeof(g->be_path),
		 "/local/domain/0/backend/vbd/%u/%u", g->domid, DEVID);

	n = 0;
	argv[n++] = UBACK_BLK_BIN;
	argv[n++] = "--hv";
	argv[n++] = "sim";
	argv[n++] = "--stats";
	argv[n++] = g->stats;
	argv[n++] = "--stats-interval";
	argv[n++] = "50";
	argv[n++] = "--log";
	argv[n++] = "warn";
	for (i = 0; args && args[i] && n < 36; i++)
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

/* The backend's exit status once the toolstack removed the device. */
static int backend_wait(struct gfx *g, unsigned int timeout_ms)
{
	unsigned int waited;
	int status;

	for (waited = 0; waited < timeout_ms; waited += 5) {
		pid_t r = waitpid(g->pid, &status, WNOHANG);

		if (r == g->pid) {
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

static bool backend_alive(struct gfx *g)
{
	int status;

	return waitpid(g->pid, &status, WNOHANG) == 0;
}

/* Remove the device as libxl does; the backend must exit 0. With the
 * guest already destroyed, @dom_gone. */
static void guest_down(struct gfx *g, bool dom_gone)
{
	assert_true(backend_alive(g));
	assert_int_equal(xg_device_remove(sim, g->domid, "vbd", "vbd", DEVID),
			 0);
	assert_int_equal(backend_wait(g, TIMEOUT_MS), 0);
	if (!dom_gone)
		assert_int_equal(xg_dom_destroy(g->dom), 0);
	else
		xg_dom_release(g->dom);   /* our copy of a dead guest */
	close(g->img_fd);
	unlink(g->img);
	unlink(g->stats);
}

/* A frontend (re)starting writes Initialising first, as Linux's does on
 * probe; blkfront_connect starts from whatever state is there. */
static void fe_reinit(struct gfx *g)
{
	struct xs_handle *xs;
	char fe[128];

	snprintf(fe, sizeof(fe), "/local/domain/%u/device/vbd/%u", g->domid,
		 DEVID);
	assert_int_equal(xg_dom_xs_open(g->dom, &xs), 0);
	assert_int_equal(xg_xenbus_switch(xs, fe, XenbusStateInitialising), 0);
	xs_close(xs);
}

static struct blkfront *fe_connect(struct gfx *g,
				   const struct blkfront_config *tmpl)
{
	struct blkfront_config c = *tmpl;
	struct blkfront *bf;
	int ret;

	fe_reinit(g);
	c.dom = g->dom;
	c.devid = DEVID;
	c.timeout_ms = TIMEOUT_MS;
	ret = blkfront_connect(&c, &bf);
	if (ret)
		fail_msg("connect (abi %d order %u persistent %d queues %u "
			 "indirect %u): %s", c.abi, c.ring_page_order,
			 c.persistent, c.nr_queues, c.max_indirect_segs,
			 strerror(-ret));
	return bf;
}

static void fill(uint8_t *p, size_t n, uint32_t seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)((i * 151u) ^ seed ^ (i >> 9));
}

/* Write, read back and compare (with the image), flush, discard. */
static void exercise(struct gfx *g, struct blkfront *bf, uint32_t seed)
{
	struct blkfront_info info;
	size_t len = 64 * 1024, i;
	uint8_t *w = malloc(len), *r = malloc(len), *f = malloc(len);
	struct blkfront_req req;
	struct iovec iov;
	unsigned int q;

	assert_non_null(w);
	assert_non_null(r);
	assert_non_null(f);
	blkfront_get_info(bf, &info);
	for (q = 0; q < info.nr_queues; q++) {
		uint64_t sector = 1024 + 256 * q + seed % 64;
		size_t chunk = info.max_segs * 4096 < len ? info.max_segs * 4096
							  : len;

		fill(w, len, seed + q);
		memset(&req, 0, sizeof(req));
		req.queue = q;
		for (i = 0; i < len; i += chunk) {
			iov = (struct iovec){ w + i, len - i < chunk ? len - i
								   : chunk };
			req.op = BLKFRONT_OP_WRITE;
			req.sector = sector + i / 512;
			req.iov = &iov;
			req.iovcnt = 1;
			assert_int_equal(blkfront_sync(bf, &req, TIMEOUT_MS), 0);
		}
		memset(r, 0, len);
		for (i = 0; i < len; i += chunk) {
			iov = (struct iovec){ r + i, len - i < chunk ? len - i
								   : chunk };
			req.op = BLKFRONT_OP_READ;
			req.sector = sector + i / 512;
			req.iov = &iov;
			req.iovcnt = 1;
			assert_int_equal(blkfront_sync(bf, &req, TIMEOUT_MS), 0);
		}
		assert_memory_equal(r, w, len);
		assert_int_equal(pread(g->img_fd, f, len, (off_t)sector * 512),
				 (ssize_t)len);
		assert_memory_equal(f, w, len);
		if (info.flush) {
			memset(&req, 0, sizeof(req));
			req.queue = q;
			req.op = BLKFRONT_OP_FLUSH;
			assert_int_equal(blkfront_sync(bf, &req, TIMEOUT_MS), 0);
		}
		if (info.discard) {
			memset(&req, 0, sizeof(req));
			req.queue = q;
			req.op = BLKFRONT_OP_DISCARD;
			req.sector = sector;
			req.nr_sectors = 16;
			assert_int_equal(blkfront_sync(bf, &req, TIMEOUT_MS), 0);
			assert_int_equal(pread(g->img_fd, f, 8192,
					       (off_t)sector * 512), 8192);
			for (i = 0; i < 8192; i++)
				assert_int_equal(f[i], 0);
		}
	}
	free(w);
	free(r);
	free(f);
}

/* One counter from the backend's --stats file; -1 if absent. */
static long long stat_value(struct gfx *g, const char *key)
{
	char line[160];
	size_t n = strlen(key);
	long long v = -1;
	FILE *f = fopen(g->stats, "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, n) && line[n] == '=')
			v = strtoll(line + n + 1, NULL, 10);
	if (f)
		fclose(f);
	return v;
}

static void test_matrix(void **state)
{
	static const enum blkfront_abi abis[] = {
		BLKFRONT_ABI_UNSET, BLKFRONT_ABI_X86_32, BLKFRONT_ABI_X86_64,
	};
	static const unsigned int orders[] = { 0, 2, 4 };
	const char *const args[] = { "--queues", "2", NULL };
	struct blkfront *last = NULL;
	struct gfx g;
	unsigned int a, o, p, k = 0;

	guest_up(&g, NULL, args);
	for (a = 0; a < 3; a++)
		for (o = 0; o < 3; o++)
			for (p = 0; p < 2; p++) {
				struct blkfront_config c = {
					.abi = abis[a],
					.ring_page_order = orders[o],
					.persistent = p,
					.nr_queues = 1 + (k & 1),
					.max_indirect_segs = (k & 2) ? 256 : 0,
					.use_flush = true,
					.use_discard = true,
				};
				struct blkfront_info info;
				struct blkfront *bf = fe_connect(&g, &c);

				blkfront_get_info(bf, &info);
				assert_int_equal(info.ring_page_order, orders[o]);
				assert_int_equal(info.nr_queues, 1 + (k & 1));
				assert_int_equal(info.persistent, p);
				assert_int_equal(info.nr_ents, 32u << orders[o]);
				assert_true(info.sectors == IMG_SECTORS);
				assert_true(info.be_max_queues == 2);
				assert_true(info.be_max_indirect_segs == 256);
				assert_true(info.be_max_ring_page_order == 4);
				assert_true(info.flush && info.discard);
				assert_int_equal(info.vdisk_info, 0);
				exercise(&g, bf, k);
				if (k + 1 < 18)
					blkfront_close(bf);
				else
					last = bf;
				k++;
			}
	/* Regression: the device totals outlive each connection's queues
	 * (they were lost at every disconnect). The last connection is still
	 * up: the totals must exceed what its live queues count. */
	{
		long long total = -1, live = 0;
		unsigned int tries;

		for (tries = 0; tries < 400; tries++) {
			total = stat_value(&g, "total.req_write");
			live = stat_value(&g, "q0.req_write") +
			       (stat_value(&g, "q1.req_write") > 0 ?
				stat_value(&g, "q1.req_write") : 0);
			if (total >= 18 && live > 0 && total > live)
				break;
			msleep(10);
		}
		assert_true(total >= 18);
		assert_true(live > 0);
		assert_true(total > live);
		assert_int_equal(stat_value(&g, "total.rsp_error"), 0);
	}
	blkfront_close(last);
	guest_down(&g, false);
}

static void test_readonly_and_options(void **state)
{
	const char *const ro_kv[] = { "mode", "r", NULL };
	const char *const nodiscard_kv[] = { "discard-enable", "0", NULL };
	const char *const poll_args[] = { "--poll-us", "100", "--no-persistent",
					  "--indirect-segs", "0", NULL };
	struct blkfront_config c = { .use_flush = true, .use_discard = true,
				     .persistent = true,
				     .max_indirect_segs = 256 };
	struct blkfront_info info;
	struct blkfront_req req;
	struct blkfront *bf;
	uint8_t buf[4096];
	struct iovec iov = { buf, sizeof(buf) };
	struct gfx g;
	char line[256];
	FILE *f;
	bool seen = false;
	unsigned int tries;

	guest_up(&g, ro_kv, NULL);
	bf = fe_connect(&g, &c);
	blkfront_get_info(bf, &info);
	assert_true(info.vdisk_info & VDISK_READONLY);
	assert_false(info.be_flush);
	assert_false(info.be_discard);
	memset(&req, 0, sizeof(req));
	req.iov = &iov;
	req.iovcnt = 1;
	req.op = BLKFRONT_OP_READ;
	assert_int_equal(blkfront_sync(bf, &req, TIMEOUT_MS), 0);
	req.op = BLKFRONT_OP_WRITE;
	assert_int_equal(blkfront_sync(bf, &req, TIMEOUT_MS), -EIO);
	/* The counters file shows the refusal. */
	for (tries = 0; tries < 400 && !seen; tries++) {
		f = fopen(g.stats, "r");
		while (f && fgets(line, sizeof(line), f))
			if (!strcmp(line, "q0.rej_read_only=1\n"))
				seen = true;
		if (f)
			fclose(f);
		if (!seen)
			msleep(10);
	}
	assert_true(seen);
	blkfront_close(bf);
	guest_down(&g, false);

	guest_up(&g, nodiscard_kv, poll_args);
	bf = fe_connect(&g, &c);
	blkfront_get_info(bf, &info);
	assert_false(info.be_discard);
	assert_false(info.be_persistent);
	assert_false(info.persistent);
	assert_int_equal(info.be_max_indirect_segs, 0);
	assert_true(info.be_flush);
	exercise(&g, bf, 7);
	blkfront_close(bf);
	guest_down(&g, false);
}

/* utime + stime of process @pid, in clock ticks (/proc/<pid>/stat). */
static long long proc_cpu_ticks(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	assert_true(n > 0);
	buf[n] = '\0';
	/* Fields after the command name, which may hold spaces: state is
	 * field 3, utime 14, stime 15. */
	p = strrchr(buf, ')');
	assert_non_null(p);
	assert_int_equal(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u "
				"%*u %*u %llu %llu", &ut, &st), 2);
	return (long long)(ut + st);
}

/* Adaptive polling is on by default: after a burst of I/O (which teaches
 * the queues to spin), a connected but idle guest costs the backend
 * process under 1% of a CPU over 5 seconds. (Checked to fail with a
 * fixed 0.9 s spin, --poll 900000: 88%.) */
static void test_idle_cpu(void **state)
{
	const char *const args[] = { "--queues", "2", "--stats-interval",
				     "1000", NULL };
	struct blkfront_config c = { .use_flush = true, .use_discard = true,
				     .persistent = true, .nr_queues = 2,
				     .max_indirect_segs = 256 };
	long long t0, t1, hz = sysconf(_SC_CLK_TCK);
	struct blkfront *bf;
	struct gfx g;
	unsigned int i;

	guest_up(&g, NULL, args);
	bf = fe_connect(&g, &c);
	for (i = 0; i < 20; i++)
		exercise(&g, bf, i);
	msleep(200);
	t0 = proc_cpu_ticks(g.pid);
	msleep(5000);
	t1 = proc_cpu_ticks(g.pid);
	print_message("idle backend: %lld ticks of %lld in 5 s\n", t1 - t0,
		      5 * hz);
	/* < 1%: under 5 s * hz / 100 ticks. */
	assert_true((t1 - t0) * 100 < 5 * hz);
	assert_true(backend_alive(&g));
	blkfront_close(bf);
	guest_down(&g, false);
}

/* A frontend key a hostile guest wrote: connect is refused (error node,
 * Closing), the backend lives on and serves the next, good, frontend. */
static void test_hostile_keys(void **state)
{
	static const char *const bad[][5] = {
		{ "ring-page-order", "5", NULL },
		{ "ring-page-order", "-1", NULL },
		{ "multi-queue-num-queues", "17", NULL },
		{ "multi-queue-num-queues", "0", NULL },
		{ "protocol", "arm-abi", NULL },
		{ "ring-ref", "12abc", NULL },
		{ "ring-ref", "99999999999", NULL },
		{ "ring-ref", "4000000", NULL },    /* no such grant */
		{ "event-channel", NULL, NULL },    /* missing */
		{ "event-channel", "100000", NULL },
		{ "feature-persistent", "2", NULL },
	};
	struct blkfront_config good = { .use_flush = true };
	struct gfx g;
	unsigned int i;

	guest_up(&g, NULL, NULL);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct blkfront_config c = { .extra_kv = bad[i] };
		struct blkfront *bf;
		char *err = NULL;
		char path[160];

		fe_reinit(&g);
		c.dom = g.dom;
		c.devid = DEVID;
		c.timeout_ms = TIMEOUT_MS;
		if (blkfront_connect(&c, &bf) == 0)
			fail_msg("frontend key %s=%s accepted", bad[i][0],
				 bad[i][1] ? bad[i][1] : "(none)");
		snprintf(path, sizeof(path), "%s/error", g.be_path);
		assert_int_equal(xb_xs_read(xs0, XBT_NULL, path, &err), 0);
		free(err);
		assert_true(backend_alive(&g));
		/* A good frontend still gets served. */
		{
			struct blkfront *ok = fe_connect(&g, &good);

			exercise(&g, ok, i);
			blkfront_close(ok);
		}
	}
	guest_down(&g, false);
}

/* An impossible request producer: that ring halts (no answer, no spin),
 * the backend lives, another guest's device works throughout. */
static void test_hostile_producer(void **state)
{
	struct blkfront_config c = { .use_flush = true };
	struct blkfront_raw_ring rr;
	struct blkfront *bad, *good;
	struct gfx gb, gg;
	char line[256];
	bool halted = false;
	unsigned int tries;
	FILE *f;

	guest_up(&gb, NULL, NULL);
	guest_up(&gg, NULL, NULL);
	bad = fe_connect(&gb, &c);
	good = fe_connect(&gg, &c);
	assert_int_equal(blkfront_raw_ring(bad, 0, &rr), 0);
	blkfront_raw_set_req_prod(bad, 0, rr.req_prod_pvt + rr.nr_ents + 5);
	assert_int_equal(blkfront_raw_notify(bad, 0), 0);
	for (tries = 0; tries < 1000 && !halted; tries++) {
		exercise(&gg, good, tries);
		f = fopen(gb.stats, "r");
		while (f && fgets(line, sizeof(line), f))
			if (!strcmp(line, "q0.ring_halted=1\n"))
				halted = true;
		if (f)
			fclose(f);
	}
	assert_true(halted);
	assert_int_equal(blkfront_raw_get_rsp_prod(bad, 0), rr.rsp_cons);
	assert_true(backend_alive(&gb));
	exercise(&gg, good, 99);
	blkfront_close(bad);
	blkfront_close(good);
	guest_down(&gb, false);
	guest_down(&gg, false);
}

/* The guest's side of test_guest_destroyed_in_flight, in a child process
 * (so that nothing of the dead guest is touched or leaked afterwards):
 * connect, put 32 requests in flight, destroy the domain, _exit. */
static int guest_child(struct gfx *g, bool persistent)
{
	struct blkfront_config c = { .queue_depth = 32, .persistent = persistent,
				     .max_indirect_segs = 256,
				     .ring_page_order = 1,
				     .timeout_ms = TIMEOUT_MS };
	struct blkfront_req req;
	struct blkfront *bf;
	struct iovec iov;
	unsigned int i;
	void *buf;

	c.dom = g->dom;
	c.devid = DEVID;
	if (blkfront_connect(&c, &bf))
		return 1;
	if (blkfront_mem_alloc(bf, 32 * 65536, &buf))
		return 2;
	memset(&req, 0, sizeof(req));
	for (i = 0; i < 32; i++) {
		iov = (struct iovec){ (uint8_t *)buf + i * 65536, 65536 };
		req.op = i & 1 ? BLKFRONT_OP_WRITE : BLKFRONT_OP_READ;
		req.sector = i * 128;
		req.iov = &iov;
		req.iovcnt = 1;
		req.tag = i;
		if (blkfront_submit(bf, &req))
			return 3;
	}
	if (blkfront_kick(bf))
		return 4;
	/* No waiting: destroy the domain under the backend. */
	return xg_dom_destroy(g->dom) ? 5 : 0;
}

/* The guest dies with requests in flight: the backend drains, unmaps,
 * unbinds, stays up, and exits 0 (leak-free under ASan) on removal. */
static void test_guest_destroyed_in_flight(void **state)
{
	unsigned int rounds;

	for (rounds = 0; rounds < 2; rounds++) {
		struct gfx g;
		pid_t child;
		int status;

		guest_up(&g, NULL, NULL);
		child = fork();
		assert_true(child >= 0);
		if (child == 0)
			_exit(guest_child(&g, rounds));
		assert_int_equal(waitpid(child, &status, 0), child);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
		msleep(50);
		assert_true(backend_alive(&g));
		guest_down(&g, true);
	}
}

/* Exit status of uback-blk run with @args (stderr silenced). */
static int run_cli(const char *const *args)
{
	const char *argv[24];
	unsigned int n = 0;
	int status;
	pid_t pid;

	argv[n++] = UBACK_BLK_BIN;
	while (*args && n < 23)
		argv[n++] = *args++;
	argv[n] = NULL;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);

		dup2(fd, 1);
		dup2(fd, 2);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/* Command line: bad values are refused (2) before anything starts; a
 * device that does not exist fails (1); --help succeeds. */
static void test_cli(void **state)
{
	static const char *const bad[][8] = {
		{ "--queues", "0", "/local/domain/0/backend/vbd/1/1", NULL },
		{ "--queues", "17", "/local/domain/0/backend/vbd/1/1", NULL },
		{ "--ring-order", "5", "/local/domain/0/backend/vbd/1/1", NULL },
		{ "--indirect-segs", "5", "/local/domain/0/backend/vbd/1/1",
		  NULL },
		{ "--poll-us", "-1", "/local/domain/0/backend/vbd/1/1", NULL },
		{ "--poll", "sometimes", "/local/domain/0/backend/vbd/1/1",
		  NULL },
		{ "--engine", "aio", "/local/domain/0/backend/vbd/1/1", NULL },
		{ "--cpus", "1,,x", "/local/domain/0/backend/vbd/1/1", NULL },
		{ "--fixed-buffers", "maybe", "/local/domain/0/backend/vbd/1/1",
		  NULL },
		{ "--domid", "1", NULL },                   /* no --devid */
		{ "--domid", "1", "--devid", "2", "/local/x", NULL },
		{ "--kind", "vif", "--domid", "1", "--devid", "2" },
		{ NULL },                                   /* nothing */
	};
	const char *const help[] = { "--help", NULL };
	const char *const missing[] = { "--hv", "sim", "--domid", "999",
					"--devid", "5", NULL };
	unsigned int i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (run_cli(bad[i]) != 2)
			fail_msg("case %u (%s %s) not refused", i,
				 bad[i][0] ? bad[i][0] : "-",
				 bad[i][0] && bad[i][1] ? bad[i][1] : "-");
	assert_int_equal(run_cli(help), 0);
	assert_int_equal(run_cli(missing), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cli),
		cmocka_unit_test(test_matrix),
		cmocka_unit_test(test_readonly_and_options),
		cmocka_unit_test(test_idle_cpu),
		cmocka_unit_test(test_hostile_keys),
		cmocka_unit_test(test_hostile_producer),
		cmocka_unit_test(test_guest_destroyed_in_flight),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
