/* SPDX-License-Identifier: MIT */
/*
 * blkfront against the real backend, uback-blk, under a private xensim:
 * the negotiation matrix (ring order x ABI x persistent x indirect x
 * queues) against a backend offering everything, a frontend using
 * everything against a backend offering nothing, the legacy frontend,
 * each with a verified data round trip (through the frontend and in the
 * image file); and a closed loop of reads at random depths with pauses,
 * where the frontend notifies only when req_event asks and sleeps on its
 * event channel (as Linux's blkfront), against uback-blk's defaults
 * (adaptive polling, coalesced wake-ups): no request is ever stranded.
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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <xensim/guest.h>

#include "blkfront.h"
#include "sim_harness.h"

#define DEVID 51712u
#define IMAGE_BYTES (8u << 20)
#define WAIT_MS 30000

static struct sim_harness h;
static struct xg_sim *sim;
static char image[PATH_MAX + 32];

static int group_setup(void **state)
{
	int fd;

	(void)state;
	if (sim_harness_start(&h) || xg_sim_connect(h.dir, &sim))
		return -1;
	snprintf(image, sizeof(image), "%s/disk.img", h.dir);
	fd = open(image, O_CREAT | O_RDWR | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, IMAGE_BYTES) < 0)
		return -1;
	close(fd);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	unlink(image);
	xg_sim_disconnect(sim);
	return sim_harness_stop(&h) ? -1 : 0;
}

/* What uback-blk is told to offer. */
struct offer {
	unsigned int queues, order, indirect;
	bool persistent, discard;
};

struct guest {
	struct xg_dom *dom;
	pid_t backend;
	struct blkfront *bf;
};

static void guest_up(struct guest *g, const struct offer *o)
{
	struct xg_dom_config dc = { .mem_pages = 16384, .nr_grants = 16384 };
	const char *be_kv[] = { "params", image, "mode", "w", NULL };
	char be_path[128], q[16], r[16], s[16];
	pid_t pid;

	assert_int_equal(xg_dom_create(sim, &dc, &g->dom), 0);
	assert_int_equal(xg_device_create(sim, xg_dom_id(g->dom), "vbd", "vbd",
					  DEVID, be_kv, NULL), 0);
	snprintf(be_path, sizeof(be_path), "/local/domain/0/backend/vbd/%u/%u",
		 xg_dom_id(g->dom), DEVID);
	snprintf(q, sizeof(q), "%u", o->queues);
	snprintf(r, sizeof(r), "%u", o->order);
	snprintf(s, sizeof(s), "%u", o->indirect);
	pid = fork();
	if (pid == 0) {
		const char *argv[24];
		unsigned int n = 0;

		argv[n++] = UBACK_BLK_BIN;
		argv[n++] = "--hv";
		argv[n++] = "sim";
		argv[n++] = "--log";
		argv[n++] = "warn";
		argv[n++] = "--queues";
		argv[n++] = q;
		argv[n++] = "--ring-order";
		argv[n++] = r;
		argv[n++] = "--indirect-segs";
		argv[n++] = s;
		if (!o->persistent)
			argv[n++] = "--no-persistent";
		if (!o->discard)
			argv[n++] = "--no-discard";
		argv[n++] = be_path;
		argv[n] = NULL;
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	assert_true(pid > 0);
	g->backend = pid;
}

static void guest_down(struct guest *g)
{
	int st;

	blkfront_close(g->bf);
	g->bf = NULL;
	assert_int_equal(xg_device_remove(sim, xg_dom_id(g->dom), "vbd", "vbd",
					  DEVID), 0);
	/* online=0 and the frontend Closed: uback-blk removes the device
	 * and exits on its own; SIGTERM if it has not yet. */
	kill(g->backend, SIGTERM);
	assert_int_equal(waitpid(g->backend, &st, 0), g->backend);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_int_equal(xg_dom_destroy(g->dom), 0);
}

static void fill(uint8_t *p, size_t len, uint64_t seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)(seed * 37 + i * 13 + (i >> 12));
}

/* Write through blkfront, check the image file, read back. */
static void round_trip(struct blkfront *bf, unsigned int queue,
		       uint64_t sector, size_t len)
{
	uint8_t *w = malloc(len), *r = malloc(len), *f = malloc(len);
	struct iovec iov = { w, len };
	struct blkfront_req req = {
		.op = BLKFRONT_OP_WRITE, .queue = queue, .sector = sector,
		.iov = &iov, .iovcnt = 1, .tag = sector,
	};
	int fd;

	assert_non_null(w);
	assert_non_null(r);
	assert_non_null(f);
	fill(w, len, sector ^ len);
	assert_int_equal(blkfront_sync(bf, &req, WAIT_MS), 0);
	fd = open(image, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, f, len, (off_t)sector * 512), (ssize_t)len);
	close(fd);
	assert_memory_equal(f, w, len);
	iov.iov_base = r;
	req.op = BLKFRONT_OP_READ;
	memset(r, 0, len);
	assert_int_equal(blkfront_sync(bf, &req, WAIT_MS), 0);
	assert_memory_equal(r, w, len);
	free(w);
	free(r);
	free(f);
}

struct fe_case {
	unsigned int order, queues, indirect;
	enum blkfront_abi abi;
	bool persistent;
};

static unsigned int umin(unsigned int a, unsigned int b)
{
	return a < b ? a : b;
}

static void run_case(const struct fe_case *c, const struct offer *o)
{
	struct blkfront_config bc = {
		.ring_page_order = c->order, .nr_queues = c->queues,
		.abi = c->abi, .persistent = c->persistent,
		.max_indirect_segs = c->indirect, .use_flush = true,
		.use_discard = true, .devid = DEVID, .timeout_ms = WAIT_MS,
	};
	struct guest g = { 0 };
	struct blkfront_info i;
	unsigned int q, ind;

	guest_up(&g, o);
	bc.dom = g.dom;
	assert_int_equal(blkfront_connect(&bc, &g.bf), 0);
	blkfront_get_info(g.bf, &i);
	assert_int_equal(i.ring_page_order, umin(c->order, o->order));
	assert_int_equal(i.nr_queues,
			 umin(c->queues ? c->queues : 1,
			      o->queues ? o->queues : 1));
	assert_int_equal(i.persistent, c->persistent && o->persistent);
	ind = umin(c->indirect, o->indirect);
	assert_int_equal(i.max_indirect_segs, ind > 11 ? ind : 0);
	assert_int_equal(i.discard, o->discard);
	assert_true(i.flush);
	assert_true(i.sectors == IMAGE_BYTES / 512);
	for (q = 0; q < i.nr_queues; q++) {
		round_trip(g.bf, q, 8 + 2048 * q, 4096);
		round_trip(g.bf, q, 1 + 2048 * q, 1536);
		round_trip(g.bf, q, 64 + 2048 * q, (size_t)i.max_segs * 4096);
	}
	{
		struct blkfront_req f = { .op = BLKFRONT_OP_FLUSH, .tag = 1 };

		assert_int_equal(blkfront_sync(g.bf, &f, WAIT_MS), 0);
	}
	if (i.discard) {
		struct blkfront_req d = { .op = BLKFRONT_OP_DISCARD,
					  .sector = 8, .nr_sectors = 8 };

		assert_int_equal(blkfront_sync(g.bf, &d, WAIT_MS), 0);
	}
	guest_down(&g);
}

static const struct offer offer_all = {
	.queues = 4, .order = 4, .indirect = 256, .persistent = true,
	.discard = true,
};

static void test_matrix_full_backend(void **state)
{
	static const unsigned int orders[] = { 0, 2, 4 };
	static const enum blkfront_abi abis[] = {
		BLKFRONT_ABI_UNSET, BLKFRONT_ABI_X86_64, BLKFRONT_ABI_X86_32,
	};
	static const unsigned int indirect[] = { 0, 64 };
	static const unsigned int queues[] = { 1, 3 };
	unsigned int a, b, p, d, e;

	(void)state;
	for (a = 0; a < 3; a++)
		for (b = 0; b < 3; b++)
			for (p = 0; p < 2; p++)
				for (d = 0; d < 2; d++)
					for (e = 0; e < 2; e++) {
						struct fe_case c = {
							.order = orders[a],
							.abi = abis[b],
							.persistent = p,
							.indirect = indirect[d],
							.queues = queues[e],
						};

						run_case(&c, &offer_all);
					}
}

static void test_full_frontend_minimal_backend(void **state)
{
	static const struct offer none = { .queues = 1 };
	static const struct fe_case all[] = {
		{ .order = 4, .queues = 4, .indirect = 256, .persistent = true,
		  .abi = BLKFRONT_ABI_X86_32 },
		{ .order = 3, .queues = 2, .indirect = 64, .persistent = true,
		  .abi = BLKFRONT_ABI_X86_64 },
	};

	(void)state;
	run_case(&all[0], &none);
	run_case(&all[1], &none);
}

static void test_legacy_frontend(void **state)
{
	static const struct fe_case legacy = { 0 };
	static const struct offer some = { .queues = 2, .order = 1,
					   .indirect = 32 };

	(void)state;
	run_case(&legacy, &offer_all);
	run_case(&legacy, &some);
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/*
 * 6000 4-KiB reads, up to a random depth (1..32, changing now and then)
 * in flight, published in bursts (one kick check per burst, as blk-mq
 * publishes each request), with now and then a pause long enough for the
 * backend to stop spinning and fall asleep. The frontend waits only on
 * its event channel; a request unanswered for 5 s fails the test.
 */
static void test_closed_loop_never_stranded(void **state)
{
	static const struct offer o = { .queues = 1, .order = 0,
					.indirect = 256, .persistent = true,
					.discard = true };
	struct blkfront_config bc = {
		.nr_queues = 1, .persistent = true, .max_indirect_segs = 256,
		.use_flush = true, .devid = DEVID, .timeout_ms = WAIT_MS,
	};
	const unsigned int n = 6000;
	struct blkfront_completion comps[32];
	unsigned int sent = 0, done = 0, inflight = 0, depth = 32, i;
	uint8_t *buf = malloc(32 * 4096);
	struct guest g = { 0 };
	struct blkfront_info info;
	bool busy[32] = { false };

	(void)state;
	assert_non_null(buf);
	srand(12345);
	guest_up(&g, &o);
	bc.dom = g.dom;
	assert_int_equal(blkfront_connect(&bc, &g.bf), 0);
	while (done < n) {
		uint64_t end;
		int r;

		if (depth && rand() % 64 == 0)
			depth = 1 + (unsigned int)rand() % 32;
		while (sent < n && inflight < depth) {
			struct iovec iov;
			struct blkfront_req req = { .op = BLKFRONT_OP_READ };
			unsigned int slot = 0;

			while (busy[slot])
				slot++;
			iov = (struct iovec){ buf + slot * 4096, 4096 };
			req.tag = slot;
			req.sector = (uint64_t)(rand() % 2048) * 8;
			req.iov = &iov;
			req.iovcnt = 1;
			assert_int_equal(blkfront_submit(g.bf, &req), 0);
			busy[slot] = true;
			sent++;
			inflight++;
			if (rand() % 4 == 0)
				assert_int_equal(blkfront_kick(g.bf), 0);
		}
		assert_int_equal(blkfront_kick(g.bf), 0);
		end = mono_ms() + 5000;
		while ((r = blkfront_poll(g.bf, comps, 32)) == 0) {
			if (mono_ms() > end)
				fail_msg("stranded: %u request(s) in flight, "
					 "%u answered, no notification for "
					 "5 s", inflight, done);
			blkfront_wait(g.bf, 100);
		}
		assert_true(r > 0);
		for (i = 0; i < (unsigned int)r; i++) {
			assert_int_equal(comps[i].status, 0);
			assert_true(comps[i].tag < 32 && busy[comps[i].tag]);
			busy[comps[i].tag] = false;
		}
		done += (unsigned int)r;
		inflight -= (unsigned int)r;
		/* Go quiet now and then (drain, pause): the next burst
		 * finds the backend asleep (or in a batched sleep). */
		if (rand() % 100 == 0)
			depth = 0;
		if (!depth && !inflight) {
			usleep(2000);
			depth = 1 + (unsigned int)rand() % 32;
		}
	}
	blkfront_get_info(g.bf, &info);
	print_message("%u reads: %llu publications, %llu notifications to "
		      "the backend, %llu waits\n", n,
		      (unsigned long long)info.pushes,
		      (unsigned long long)info.kicks,
		      (unsigned long long)info.waits);
	assert_true(info.kicks <= info.pushes);
	guest_down(&g);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_matrix_full_backend),
		cmocka_unit_test(test_full_frontend_minimal_backend),
		cmocka_unit_test(test_legacy_frontend),
		cmocka_unit_test(test_closed_loop_never_stranded),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
