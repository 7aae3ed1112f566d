/* SPDX-License-Identifier: MIT */
/*
 * A backend crash the guest does not see (issue 8): ubackd runs uback-blk
 * for a device whose frontend (blkfront with keep_keys, as Linux keeps
 * its ring keys) runs verified I/O; the data process is SIGKILLed with
 * requests unanswered on the rings, twice, and then replaced by a live
 * upgrade (`upgrade` on ubackd's socket). Each time the new process
 * adopts the live rings from its predecessor's journal: every request
 * completes without error, every read returns what was last written, the
 * backend's XenBus state node is never written (no watch event after
 * the first), blkfront never runs its reconnect cycle, and the new
 * process reports the requests it replayed.
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
#include <dirent.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <xenstore.h>
#include <xensim/guest.h>

#include "blkfront.h"
#include "blkfront_raw.h"
#include "sim_harness.h"
#include "ubackd_client.h"
#include "uback/xs.h"
#include "journal.h"

#define DEVID 51712u
#define BLK 4096u
#define NBLOCKS 2048u
#define DEPTH 16u
#define PHASE 600u                 /* completions between disruptions */

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
	uint32_t gen[NBLOCKS];         /* last acknowledged write, 0: none */
	uint32_t pending_gen[NBLOCKS]; /* write in flight, 0: none */
	uint8_t *bufs;
	char buf[1 << 16];
};

static struct fx fx;

struct slot {
	bool busy;
	bool write;
	uint32_t block, gen;
};

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

static void pattern(uint8_t *p, uint32_t block, uint32_t gen)
{
	uint32_t i;

	for (i = 0; i < BLK; i += 4) {
		uint32_t v = (block * 2654435761u) ^ (i * 40503u) ^
			     (gen * 0x9e3779b9u);

		memcpy(p + i, &v, 4);
	}
}

static long status_of(const char *key)
{
	if (ud_request(fx.run_dir, "status", fx.buf, sizeof(fx.buf)) <= 0)
		return -2;
	return ud_status_value(fx.buf, fx.name, key);
}

/* A counter summed over the device's counters file ("total.<name>"). */
static long stat_total(const char *name)
{
	char pat[96];
	char *p;

	if (ud_request(fx.run_dir, "status", fx.buf, sizeof(fx.buf)) <= 0)
		return -1;
	snprintf(pat, sizeof(pat), "stat total.%s=", name);
	p = strstr(fx.buf, pat);
	return p ? strtol(p + strlen(pat), NULL, 10) : -1;
}

static int group_setup(void **state)
{
	(void)state;
	if (sim_harness_start(&fx.h) || xg_sim_connect(fx.h.dir, &fx.sim) ||
	    xg_sim_xs_open(fx.sim, &fx.xs))
		return -1;
	fx.bufs = aligned_alloc(BLK, (size_t)DEPTH * BLK);
	return fx.bufs ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	free(fx.bufs);
	xs_close(fx.xs);
	xg_sim_disconnect(fx.sim);
	return sim_harness_stop(&fx.h) ? -1 : 0;
}

static int setup(void **state)
{
	struct xg_dom_config dc = { .mem_pages = 8192, .nr_grants = 8192 };
	const char *be_kv[] = { "params", fx.image, "mode", "w",
				"type", "phy", "device-type", "disk", NULL };
	char *argv[] = { UBACKD_BIN, "--hv", "sim", "--sim-dir", fx.h.dir,
			 "--run-dir", fx.run_dir, "--blk-bin", UBACK_BLK_BIN,
			 "--no-vif", "--sysfs", fx.h.dir, "--log", "warn",
			 NULL };
	uint64_t end;
	int fd;

	(void)state;
	memset(fx.gen, 0, sizeof(fx.gen));
	memset(fx.pending_gen, 0, sizeof(fx.pending_gen));
	snprintf(fx.run_dir, sizeof(fx.run_dir), "%s/run-%d", fx.h.dir,
		 (int)getpid());
	snprintf(fx.image, sizeof(fx.image), "/dev/shm/uback-adopt-%d.img",
		 (int)getpid());
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
	while (ud_request(fx.run_dir, "ping", fx.buf, sizeof(fx.buf)) <= 0)
		if (now_ms() > end)
			return -1;
		else
			sleep_ms(20);
	if (xg_dom_create(fx.sim, &dc, &fx.dom) ||
	    xg_device_create(fx.sim, xg_dom_id(fx.dom), "vbd", "vbd", DEVID,
			     be_kv, NULL))
		return -1;
	snprintf(fx.be_path, sizeof(fx.be_path),
		 "/local/domain/0/backend/vbd/%u/%u", xg_dom_id(fx.dom), DEVID);
	snprintf(fx.name, sizeof(fx.name), "vbd-%u-%u", xg_dom_id(fx.dom),
		 DEVID);
	return 0;
}

static int teardown(void **state)
{
	long pid = status_of("pid");
	char cmd[PATH_MAX + 64];

	(void)state;
	blkfront_close(fx.bf);
	fx.bf = NULL;
	kill(fx.ubackd, SIGTERM);
	waitpid(fx.ubackd, NULL, 0);
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

/* Requests on the rings the backend has not answered. */
static unsigned int unanswered(unsigned int nq)
{
	unsigned int q, n = 0;

	for (q = 0; q < nq; q++)
		n += (RING_IDX)(blkfront_raw_get_req_prod(fx.bf, q) -
				blkfront_raw_get_rsp_prod(fx.bf, q));
	return n;
}

/* Wait until every thread of @pid is stopped (it is not our child). */
static void wait_stopped(pid_t pid)
{
	uint64_t end = now_ms() + 2000;
	char path[64], buf[512];

	for (;;) {
		bool all = true;
		DIR *d;
		struct dirent *de;

		snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
		d = opendir(path);
		assert_non_null(d);
		while ((de = readdir(d))) {
			char sp[400], *p;
			FILE *f;
			size_t n;

			if (de->d_name[0] == '.')
				continue;
			snprintf(sp, sizeof(sp), "%s/%s/stat", path,
				 de->d_name);
			f = fopen(sp, "r");
			if (!f)
				continue;
			n = fread(buf, 1, sizeof(buf) - 1, f);
			fclose(f);
			buf[n] = '\0';
			p = strrchr(buf, ')');
			if (p && p[1] == ' ' && p[2] != 'T' && p[2] != 't')
				all = false;
		}
		closedir(d);
		if (all)
			return;
		assert_true(now_ms() < end);
	}
}

/* Requests the (stopped) data process consumed and did not answer, as
 * its request journals say. */
static unsigned int journal_inflight(unsigned int nq)
{
	struct blk_journal_hdr h;
	char path[PATH_MAX + 128];
	unsigned int q, n = 0;
	int fd;

	for (q = 0; q < nq; q++) {
		snprintf(path, sizeof(path), "%s/%s/q%u.journal", fx.run_dir,
			 fx.name, q);
		fd = open(path, O_RDONLY);
		assert_true(fd >= 0);
		assert_int_equal(pread(fd, &h, sizeof(h), 0), (ssize_t)sizeof(h));
		close(fd);
		n += (RING_IDX)(h.req_cons - h.rsp_written);
	}
	return n;
}

enum disrupt { KILL, UPGRADE };

/* Upgrade now, or freeze the data process for a SIGKILL once the
 * frontend has put requests on the rings it cannot have answered;
 * returns the old pid. */
static long disrupt(enum disrupt how, pid_t *frozen)
{
	long pid = status_of("pid");
	int ret;

	assert_true(pid > 0);
	if (how == UPGRADE) {
		ret = ud_request(fx.run_dir, "upgrade all", fx.buf,
				 sizeof(fx.buf));
		assert_true(ret > 0);
		assert_non_null(strstr(fx.buf, "upgrading "));
		return pid;
	}
	*frozen = (pid_t)pid;   /* stopped right after the next kick */
	return pid;
}

/*
 * Verified I/O with disruptions: two SIGKILLs and an upgrade, or with
 * @until_replay one SIGKILL at an instant the process's journals show
 * requests consumed and not answered (it is frozen right after a kick
 * until that happens), which its successor must replay.
 */
static void run_workload(struct blkfront_config bc, bool until_replay)
{
	struct blkfront_completion c[DEPTH];
	struct slot slots[DEPTH] = { { 0 } };
	struct blkfront_info info;
	enum xenbus_state st;
	uint32_t done = 0, next_block = 0, gen = 1, phase = 0, errors = 0;
	uint64_t deadline = now_ms() + 120000;
	const enum disrupt plan[] = { KILL, KILL, UPGRADE };
	const unsigned int nplan = until_replay ? 1 : 3;
	const uint32_t plen = until_replay ? 150 : PHASE;
	bool check_pending = false, replay_seen = false;
	uint64_t check_at = 0;
	long replayed = 0;
	long old_pid = 0;
	pid_t frozen = 0;
	bool stopped = false;
	unsigned int freeze_attempts = 0, consumed_at_kill = 0;
	unsigned int nq, k, state_events = 0, kills_with_unanswered = 0;
	char **vec;
	uint64_t rng = 12345;

	bc.dom = fx.dom;
	bc.devid = DEVID;
	bc.queue_depth = DEPTH;
	bc.timeout_ms = 10000;
	bc.keep_keys = true;    /* as Linux blkfront */
	assert_int_equal(blkfront_connect(&bc, &fx.bf), 0);
	blkfront_get_info(fx.bf, &info);
	nq = info.nr_queues;
	assert_int_equal(xg_xenbus_wait_state(fx.xs, fx.be_path,
					      1u << XenbusStateConnected, 5000,
					      &st), 0);
	/* From here on, any write of the backend state is a failure. */
	{
		char path[160];

		snprintf(path, sizeof(path), "%s/state", fx.be_path);
		assert_int_equal(xb_xs_watch(fx.xs, path, "be-state"), 0);
		sleep_ms(100);
		while (xb_xs_read_watch(fx.xs, &vec) == 0)
			free(vec);   /* the watch's initial event */
	}

	while (!((phase >= nplan || replay_seen) && !frozen && !old_pid &&
		 !check_pending && done >= (phase + 1) * plen)) {
		int n;

		assert_true(now_ms() < deadline);
		for (k = 0; k < DEPTH; k++) {
			struct iovec iov = { fx.bufs + (size_t)k * BLK, BLK };
			struct blkfront_req r = { .iov = &iov, .iovcnt = 1 };
			struct slot *s = &slots[k];
			uint32_t b;

			if (s->busy)
				continue;
			rng = rng * 6364136223846793005ull + 1442695040888963407ull;
			b = (uint32_t)(rng >> 33) % NBLOCKS;
			/* One request per block at a time; reads of blocks
			 * written, writes otherwise (with a new pattern). */
			if (fx.pending_gen[b])
				continue;
			s->block = b;
			s->write = !fx.gen[b] || ((rng >> 20) & 1);
			if (s->write) {
				s->gen = gen++;
				pattern(iov.iov_base, b, s->gen);
				fx.pending_gen[b] = s->gen;
				r.op = BLKFRONT_OP_WRITE;
			} else {
				s->gen = fx.gen[b];
				fx.pending_gen[b] = UINT32_MAX;
				memset(iov.iov_base, 0xee, BLK);
				r.op = BLKFRONT_OP_READ;
			}
			r.sector = (uint64_t)b * (BLK / 512);
			r.tag = k;
			r.queue = k % nq;
			assert_int_equal(blkfront_submit(fx.bf, &r), 0);
			s->busy = true;
			(void)next_block;
		}
		blkfront_kick(fx.bf);
		if (frozen && !stopped) {
			/* Catch it while it works on what was just kicked:
			 * requests consumed but not answered are what the
			 * successor must replay from the journal. */
			for (volatile int spin = 0; spin < (int)(rng % 20000);
			     spin++)
				;
			assert_int_equal(kill(frozen, SIGSTOP), 0);
			wait_stopped(frozen);
			stopped = true;
		}
		if (frozen && stopped && until_replay &&
		    !journal_inflight(nq)) {
			/* Nothing consumed-but-unanswered at this instant:
			 * let it run and catch it again after a kick. */
			assert_int_equal(kill(frozen, SIGCONT), 0);
			stopped = false;
			assert_true(++freeze_attempts < 20000);
		} else if (frozen && unanswered(nq) > 0) {
			consumed_at_kill = journal_inflight(nq);
			fprintf(stderr, "SIGKILL pid %d with %u request(s) "
				"unanswered (%u consumed), after %u freezes\n",
				(int)frozen, unanswered(nq), consumed_at_kill,
				freeze_attempts);
			assert_int_equal(kill(frozen, SIGKILL), 0);
			frozen = 0;
			stopped = false;
			kills_with_unanswered++;
		}
		n = blkfront_poll(fx.bf, c, DEPTH);
		assert_true(n >= 0);
		for (int i = 0; i < n; i++) {
			struct slot *s = &slots[c[i].tag];
			uint8_t want[BLK];

			if (c[i].status)
				errors++;
			assert_int_equal(c[i].status, 0);
			if (s->write) {
				fx.gen[s->block] = s->gen;
			} else {
				pattern(want, s->block, s->gen);
				assert_memory_equal(fx.bufs +
						    (size_t)c[i].tag * BLK,
						    want, BLK);
			}
			fx.pending_gen[s->block] = 0;
			s->busy = false;
			done++;
		}
		if (phase < nplan && !replay_seen && !frozen && !old_pid &&
		    !check_pending && done >= (phase + 1) * plen) {
			old_pid = disrupt(until_replay ? KILL : plan[phase],
					  &frozen);
			phase++;
		}
		if (old_pid) {
			long pid = status_of("pid");

			if (pid > 0 && pid != old_pid) {
				fprintf(stderr, "new pid %ld after %u "
					"completions\n", pid, done);
				old_pid = 0;
				/* Its counters file is rewritten each second. */
				check_pending = until_replay;
				check_at = now_ms() + 1300;
			}
		}
		if (check_pending && now_ms() >= check_at) {
			long r = stat_total("replayed");

			check_pending = false;
			if (r > 0) {
				replayed = r;
				replay_seen = true;
			}
		}
		if (!n)
			blkfront_wait(fx.bf, 20);
	}
	/* Drain. */
	while (blkfront_inflight(fx.bf)) {
		int n = blkfront_poll(fx.bf, c, DEPTH);

		assert_true(n >= 0);
		assert_true(now_ms() < deadline);
		for (int i = 0; i < n; i++) {
			struct slot *s = &slots[c[i].tag];

			assert_int_equal(c[i].status, 0);
			if (s->write)
				fx.gen[s->block] = s->gen;
			fx.pending_gen[s->block] = 0;
			s->busy = false;
		}
		if (!n)
			blkfront_wait(fx.bf, 20);
	}
	/* Every block reads back as last acknowledged. */
	for (uint32_t b = 0; b < NBLOCKS; b++) {
		uint8_t got[BLK] __attribute__((aligned(4096))), want[BLK];
		struct iovec iov = { got, BLK };
		struct blkfront_req r = { .op = BLKFRONT_OP_READ, .iov = &iov,
					  .iovcnt = 1,
					  .sector = (uint64_t)b * (BLK / 512) };

		if (!fx.gen[b])
			continue;
		assert_int_equal(blkfront_sync(fx.bf, &r, 10000), 0);
		pattern(want, b, fx.gen[b]);
		assert_memory_equal(got, want, BLK);
	}

	blkfront_get_info(fx.bf, &info);
	while (xb_xs_read_watch(fx.xs, &vec) == 0) {
		state_events++;
		free(vec);
	}
	{
		char path[160];

		snprintf(path, sizeof(path), "%s/state", fx.be_path);
		xb_xs_unwatch(fx.xs, path, "be-state");
	}
	fprintf(stderr, "%u completions, recoveries %llu, backend state "
		"writes %u, restarts %ld, replayed (last process) %ld\n",
		done, (unsigned long long)info.recoveries, state_events,
		status_of("restarts"), stat_total("replayed"));
	assert_int_equal(errors, 0);
	assert_int_equal(kills_with_unanswered, until_replay ? phase : 2);
	assert_int_equal(info.recoveries, 0);
	assert_int_equal(state_events, 0);
	assert_int_equal(status_of("restarts"), phase);
	if (until_replay) {
		fprintf(stderr, "replayed %ld request(s) after %u kill(s)\n",
			replayed, phase);
		assert_true(replay_seen);
		assert_true(replayed > 0);
		/* Exactly what the journal held: each replayed once. */
		assert_int_equal(replayed, consumed_at_kill);
	}
	assert_int_equal(status_of("state"), XenbusStateConnected);
}

static void persistent_two_queues(void **state)
{
	struct blkfront_config bc = { .nr_queues = 2, .ring_page_order = 1,
				      .persistent = true,
				      .max_indirect_segs = 32,
				      .use_flush = true };

	(void)state;
	run_workload(bc, false);
}

/* The journal path proper: a successor that replays. */
static void replays_consumed_requests(void **state)
{
	struct blkfront_config bc = { .nr_queues = 2, .persistent = true,
				      .max_indirect_segs = 32,
				      .use_flush = true };

	(void)state;
	run_workload(bc, true);
}

static void grant_copy_x86_32(void **state)
{
	struct blkfront_config bc = { .nr_queues = 1,
				      .abi = BLKFRONT_ABI_X86_32 };

	(void)state;
	run_workload(bc, false);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(persistent_two_queues, setup,
						teardown),
		cmocka_unit_test_setup_teardown(grant_copy_x86_32, setup,
						teardown),
		cmocka_unit_test_setup_teardown(replays_consumed_requests,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
