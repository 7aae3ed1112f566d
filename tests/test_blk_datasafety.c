/* SPDX-License-Identifier: MIT */
/*
 * Data safety of uback-blk across a SIGKILL.
 *
 * A guest (blkfront) writes known patterns to a tmpfs image through
 * uback-blk, with a flush after every few completions. The test records
 * which writes were acknowledged before a flush was submitted; once that
 * flush completes they must be durable. uback-blk is then SIGKILLed in
 * the middle of the workload (writes in flight), and the image is checked:
 * every write covered by a completed flush holds its pattern, and blocks
 * never written are still zero. Then uback-blk is started again on the
 * same backend path: the same blkfront recovers (reconnect, resubmission
 * of what was in flight), every write ends up acknowledged and readable,
 * and new I/O works.
 *
 * Each block is written once, so a write torn by the kill can only be one
 * that no completed flush covers.
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
#include <unistd.h>

#include <cmocka.h>

#include <xensim/guest.h>

#include "blkfront.h"
#include "blkfront_raw.h"
#include "sim_harness.h"

#define DEVID 51712u
#define BLK 4096u
#define NBLOCKS 4096u              /* 16 MiB image */
#define DEPTH 16u
#define FLUSH_EVERY 24u            /* completions between flushes */
#define KILL_AFTER 1500u           /* completed writes before the kill */
#define WAIT_MS 30000

struct wr {
	uint32_t block;
	bool submitted, acked, durable;
	uint64_t ack_seq;              /* order of acknowledgement */
};

struct fx {
	struct sim_harness h;
	struct xg_sim *sim;
	struct xg_dom *dom;
	char image[PATH_MAX + 32];
	char be_path[128];
	pid_t backend;
	struct blkfront *bf;
	struct wr w[NBLOCKS];
	uint8_t *bufs;                 /* DEPTH buffers */
	int slot_of_tag[NBLOCKS];
};

static struct fx fx;

static void pattern(uint8_t *p, uint32_t block)
{
	uint32_t i;

	for (i = 0; i < BLK; i += 4) {
		uint32_t v = block * 2654435761u ^ (i * 40503u) ^ 0xa5a5a5a5u;

		memcpy(p + i, &v, 4);
	}
	memcpy(p, &block, 4);          /* readable in a hexdump */
}

static pid_t spawn_backend(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		execl(UBACK_BLK_BIN, UBACK_BLK_BIN, "--hv", "sim", "--log",
		      "warn", fx.be_path, (char *)NULL);
		_exit(127);
	}
	return pid;
}

static int group_setup(void **state)
{
	(void)state;
	if (sim_harness_start(&fx.h) || xg_sim_connect(fx.h.dir, &fx.sim))
		return -1;
	fx.bufs = aligned_alloc(BLK, (size_t)DEPTH * BLK);
	return fx.bufs ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	xg_sim_disconnect(fx.sim);
	free(fx.bufs);
	return sim_harness_stop(&fx.h) ? -1 : 0;
}

/* A fresh guest, image and vbd per case. */
static int setup(void **state)
{
	struct xg_dom_config dc = { .mem_pages = 8192, .nr_grants = 8192 };
	const char *shm = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : NULL;
	const char *be_kv[] = { "params", fx.image, "mode", "w",
				"type", "phy", "device-type", "disk", NULL };
	int fd;

	(void)state;
	memset(fx.w, 0, sizeof(fx.w));
	fx.bf = NULL;
	fx.backend = 0;
	/* tmpfs: O_DIRECT works there; what matters is what the backend
	 * put in the file. */
	snprintf(fx.image, sizeof(fx.image), "%s/uback-ds-%d.img",
		 shm ? shm : fx.h.dir, (int)getpid());
	fd = open(fx.image, O_CREAT | O_RDWR | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, (off_t)NBLOCKS * BLK) < 0)
		return -1;
	close(fd);
	if (xg_dom_create(fx.sim, &dc, &fx.dom) ||
	    xg_device_create(fx.sim, xg_dom_id(fx.dom), "vbd", "vbd", DEVID,
			     be_kv, NULL))
		return -1;
	snprintf(fx.be_path, sizeof(fx.be_path),
		 "/local/domain/0/backend/vbd/%u/%u", xg_dom_id(fx.dom), DEVID);
	return 0;
}

static int teardown(void **state)
{
	int st;

	(void)state;
	blkfront_close(fx.bf);
	fx.bf = NULL;
	if (fx.backend > 0) {
		kill(fx.backend, SIGTERM);
		waitpid(fx.backend, &st, 0);
	}
	fx.backend = 0;
	xg_device_remove(fx.sim, xg_dom_id(fx.dom), "vbd", "vbd", DEVID);
	xg_dom_destroy(fx.dom);
	fx.dom = NULL;
	unlink(fx.image);
	return 0;
}

/* Pseudo-random permutation of the blocks: block of write i. */
static uint32_t block_of(uint32_t i)
{
	return (i * 2477u + 101u) % NBLOCKS;   /* 2477 is prime to 4096 */
}

static void check_image(uint32_t nsub, bool after_kill)
{
	uint8_t want[BLK], got[BLK], zero[BLK] = { 0 };
	uint32_t i, durable = 0;
	int fd = open(fx.image, O_RDONLY);

	assert_true(fd >= 0);
	for (i = 0; i < NBLOCKS; i++) {
		const struct wr *w = &fx.w[i];

		assert_int_equal(pread(fd, got, BLK, (off_t)block_of(i) * BLK),
				 BLK);
		if (w->durable) {
			pattern(want, block_of(i));
			assert_memory_equal(got, want, BLK);
			durable++;
		} else if (!w->submitted) {
			assert_memory_equal(got, zero, BLK);
		}
	}
	close(fd);
	fprintf(stderr, "image: %u writes submitted, %u covered by a flush\n",
		nsub, durable);
	/* The kill really came after flushes, with writes in flight. */
	assert_true(durable >= KILL_AFTER - 2 * FLUSH_EVERY - DEPTH);
	if (after_kill)
		assert_true(nsub > durable);
	else
		assert_int_equal(nsub, durable);
}

/* Requests pushed on the rings that the backend has not answered. */
static unsigned int unanswered(unsigned int nq)
{
	unsigned int q, n = 0;

	for (q = 0; q < nq; q++)
		n += (RING_IDX)(blkfront_raw_get_req_prod(fx.bf, q) -
				blkfront_raw_get_rsp_prod(fx.bf, q));
	return n;
}

static void sigkill_during_writes(struct blkfront_config bc)
{
	struct blkfront_completion c[DEPTH + 1];
	struct blkfront_info info;
	bool slot_busy[DEPTH] = { false };
	bool flush_inflight = false, killed = false;
	uint64_t ack_seq = 0, flush_covers = 0, durable_seq = 0;
	uint32_t nsub = 0, nack = 0, since_flush = 0, i, nend;
	unsigned int spins = 0, nq;
	int st;

	bc.dom = fx.dom;
	bc.devid = DEVID;
	bc.use_flush = true;
	bc.queue_depth = DEPTH;
	bc.timeout_ms = WAIT_MS;
	fx.backend = spawn_backend();
	assert_true(fx.backend > 0);
	assert_int_equal(blkfront_connect(&bc, &fx.bf), 0);
	blkfront_get_info(fx.bf, &info);
	nq = info.nr_queues;
	blkfront_get_info(fx.bf, &info);
	assert_true(info.flush);

	while (!killed) {
		int n, k;

		/* Keep DEPTH-1 writes in flight, one slot for the flush. */
		for (k = 0; k < (int)DEPTH && nsub < NBLOCKS; k++) {
			struct iovec iov;
			struct blkfront_req r = { .op = BLKFRONT_OP_WRITE };

			if (slot_busy[k] ||
			    blkfront_inflight(fx.bf) >= DEPTH - 1)
				continue;
			pattern(fx.bufs + (size_t)k * BLK, block_of(nsub));
			iov = (struct iovec){ fx.bufs + (size_t)k * BLK, BLK };
			r.iov = &iov;
			r.iovcnt = 1;
			r.sector = (uint64_t)block_of(nsub) * (BLK / 512);
			r.tag = nsub;
			r.queue = nsub % nq;
			assert_int_equal(blkfront_submit(fx.bf, &r), 0);
			fx.w[nsub].submitted = true;
			fx.slot_of_tag[nsub] = k;
			slot_busy[k] = true;
			nsub++;
		}
		if (!flush_inflight && since_flush >= FLUSH_EVERY) {
			struct blkfront_req f = { .op = BLKFRONT_OP_FLUSH,
						  .tag = UINT64_MAX,
						  .queue = nsub % nq };

			/* Covers every write acknowledged so far. */
			if (blkfront_submit(fx.bf, &f) == 0) {
				flush_covers = ack_seq;
				flush_inflight = true;
				since_flush = 0;
			}
		}
		blkfront_kick(fx.bf);
		n = blkfront_poll(fx.bf, c, DEPTH + 1);
		assert_true(n >= 0);
		for (k = 0; k < n; k++) {
			assert_int_equal(c[k].status, 0);
			if (c[k].tag == UINT64_MAX) {
				for (i = 0; i < nsub; i++)
					if (fx.w[i].acked &&
					    fx.w[i].ack_seq <= flush_covers)
						fx.w[i].durable = true;
				durable_seq = flush_covers;
				flush_inflight = false;
				continue;
			}
			assert_true(c[k].tag < nsub);
			fx.w[c[k].tag].acked = true;
			fx.w[c[k].tag].ack_seq = ++ack_seq;
			slot_busy[fx.slot_of_tag[c[k].tag]] = false;
			nack++;
			since_flush++;
		}
		/* Kill only once a completed flush covers nearly all of the
		 * first KILL_AFTER writes: on a loaded machine a flush can
		 * lag many completions behind, and the check below wants
		 * the kill to come after flushes, not before them. */
		if (!killed && nack >= KILL_AFTER &&
		    durable_seq >= KILL_AFTER - 2 * FLUSH_EVERY - DEPTH &&
		    blkfront_inflight(fx.bf) >= 4) {
			/* Freeze the backend, then kill it only if some
			 * requests are still unanswered on the rings (an
			 * answered-but-unharvested request needs no
			 * recovery, which made this test racy). */
			assert_int_equal(kill(fx.backend, SIGSTOP), 0);
			assert_int_equal(waitpid(fx.backend, &st, WUNTRACED),
					 fx.backend);
			if (unanswered(nq) > 0) {
				assert_int_equal(kill(fx.backend, SIGKILL), 0);
				assert_int_equal(waitpid(fx.backend, &st, 0),
						 fx.backend);
				assert_true(WIFSIGNALED(st));
				fx.backend = 0;
				killed = true;
			} else {
				assert_int_equal(kill(fx.backend, SIGCONT), 0);
			}
		}
		if (!n)
			blkfront_wait(fx.bf, 100);
		assert_true(++spins < 200000);
	}

	/* 1. Everything a completed flush covered is in the image. */
	check_image(nsub, true);

	/* 2. A new uback-blk on the same path serves the same blkfront. */
	fx.backend = spawn_backend();
	assert_true(fx.backend > 0);
	spins = 0;
	while (blkfront_inflight(fx.bf)) {
		int n = blkfront_poll(fx.bf, c, DEPTH + 1), k;

		assert_true(n >= 0);
		for (k = 0; k < n; k++) {
			assert_int_equal(c[k].status, 0);
			if (c[k].tag != UINT64_MAX)
				fx.w[c[k].tag].acked = true;
		}
		if (!n)
			blkfront_wait(fx.bf, 100);
		assert_true(++spins < 600);   /* ~60 s */
	}
	blkfront_get_info(fx.bf, &info);
	assert_int_equal(info.recoveries, 1);
	assert_true(info.resubmitted > 0);
	fprintf(stderr, "recovered: %llu resubmitted, %llu grants leaked\n",
		(unsigned long long)info.resubmitted,
		(unsigned long long)info.grant_leaks);
	for (i = 0; i < nsub; i++)
		assert_true(fx.w[i].acked);

	/* Every write reads back through the recovered frontend... */
	for (i = 0; i < nsub; i++) {
		uint8_t want[BLK];
		struct iovec iov = { fx.bufs, BLK };
		struct blkfront_req r = {
			.op = BLKFRONT_OP_READ, .iov = &iov, .iovcnt = 1,
			.sector = (uint64_t)block_of(i) * (BLK / 512),
			.tag = i, .queue = i % nq,
		};

		assert_int_equal(blkfront_sync(fx.bf, &r, WAIT_MS), 0);
		pattern(want, block_of(i));
		assert_memory_equal(fx.bufs, want, BLK);
	}
	/* ... and it still writes and flushes. */
	for (i = nsub; i < NBLOCKS && i < nsub + 64; i++) {
		struct iovec iov = { fx.bufs, BLK };
		struct blkfront_req r = {
			.op = BLKFRONT_OP_WRITE, .iov = &iov, .iovcnt = 1,
			.sector = (uint64_t)block_of(i) * (BLK / 512),
			.tag = i, .queue = i % nq,
		};

		pattern(fx.bufs, block_of(i));
		assert_int_equal(blkfront_sync(fx.bf, &r, WAIT_MS), 0);
		fx.w[i].submitted = fx.w[i].acked = true;
	}
	{
		struct blkfront_req f = { .op = BLKFRONT_OP_FLUSH };

		assert_int_equal(blkfront_sync(fx.bf, &f, WAIT_MS), 0);
	}
	nend = i;
	for (i = 0; i < NBLOCKS; i++)
		fx.w[i].durable = fx.w[i].acked;
	check_image(nend, false);
}

/* Legacy frontend: one single-page ring, bounce buffers. */
static void test_sigkill_legacy_frontend(void **state)
{
	(void)state;
	sigkill_during_writes((struct blkfront_config){ 0 });
}

/* Multi-queue, multi-page rings, persistent grants kept across the kill
 * (the dead backend's mappings of them stay busy: leaked, not reused). */
static void test_sigkill_multiqueue_persistent(void **state)
{
	(void)state;
	sigkill_during_writes((struct blkfront_config){
		.nr_queues = 2, .ring_page_order = 1, .persistent = true,
		.abi = BLKFRONT_ABI_X86_32 });
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sigkill_legacy_frontend,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_sigkill_multiqueue_persistent, setup, teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
