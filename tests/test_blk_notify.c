/* SPDX-License-Identifier: MIT */
/*
 * Notification hold-off between a blkif frontend and one queue
 * (xen/io/ring.h's req_event/rsp_event), against the in-process fake
 * guest (blk_fakehv, blk_testfe). The frontend here behaves as Linux's
 * blkfront: it publishes each request with the check of
 * RING_PUSH_REQUESTS_AND_CHECK_NOTIFY and notifies only when req_event
 * asks; it consumes responses and re-arms rsp_event as
 * RING_FINAL_CHECK_FOR_RESPONSES does, and otherwise sleeps until the
 * backend notifies it (it never looks at rsp_prod on its own).
 *
 *  - suppression: a queue that is awake (spinning) leaves req_event
 *    behind, so such a frontend does not notify it: notifications are
 *    bounded by the queue's sleeps, not by the requests;
 *  - no request is ever stranded: under a random load (random depths,
 *    bursts, pauses long enough for the queue to fall asleep), every
 *    request is answered and every answer notified, within a timeout,
 *    for the null and io_uring engines, with and without polling, with
 *    and without coalesced wake-ups (req_event set a batch ahead);
 *  - coalesced wake-ups fall back to ordinary ones when the batch does
 *    not come (a frontend that stopped), and an idle queue then sleeps.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "blk_testfe.h"

#define STRAND_NS 5000000000ull     /* an answer later than this: stranded */

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The Linux-like frontend's bookkeeping on top of struct fe. */
struct lfe {
	struct fx *x;
	uint64_t kicks, pushes, req_event_moves;
	RING_IDX last_req_event;
	uint64_t answered;
	uint32_t inflight;
	uint8_t *seen;              /* [nids]: answered once */
	uint64_t nids;
};

/* RING_PUSH_REQUESTS_AND_CHECK_NOTIFY, counting notifications and the
 * moves of req_event it saw. */
static void lfe_push(struct lfe *l)
{
	struct fe *fe = &l->x->fe;
	RING_IDX old = fe->sring->req_prod, new_prod = fe->req_prod_pvt;
	RING_IDX ev;

	__atomic_thread_fence(__ATOMIC_RELEASE);
	__atomic_store_n(&fe->sring->req_prod, new_prod, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	ev = __atomic_load_n(&fe->sring->req_event, __ATOMIC_RELAXED);
	l->pushes++;
	if (ev != l->last_req_event) {
		l->req_event_moves++;
		l->last_req_event = ev;
	}
	if ((RING_IDX)(new_prod - ev) < (RING_IDX)(new_prod - old)) {
		l->kicks++;
		fake_kick(l->x->f, fe->port);
	}
}

static void lfe_queue_read(struct lfe *l, uint64_t id)
{
	fe_rw(&l->x->fe, BLKIF_OP_READ, id, (id % 512) * 8, 1,
	      &l->x->data_ref[id % 64], 0, 7);
	l->inflight++;
}

/* Consume what is there, then RING_FINAL_CHECK_FOR_RESPONSES. */
static unsigned int lfe_harvest(struct lfe *l)
{
	struct fe *fe = &l->x->fe;
	unsigned int n = 0;

	for (;;) {
		RING_IDX rp = __atomic_load_n(&fe->sring->rsp_prod,
					      __ATOMIC_ACQUIRE);

		while (fe->rsp_cons != rp) {
			struct rsp r = fe_get_rsp(fe, fe->rsp_cons++);

			assert_true(r.id < l->nids);
			assert_int_equal(l->seen[r.id], 0);
			assert_int_equal(r.status, BLKIF_RSP_OKAY);
			l->seen[r.id] = 1;
			l->answered++;
			l->inflight--;
			n++;
		}
		fe->sring->rsp_event = fe->rsp_cons + 1;
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (__atomic_load_n(&fe->sring->rsp_prod, __ATOMIC_ACQUIRE) ==
		    fe->rsp_cons)
			return n;
	}
}

/*
 * Wait until at least one response came, as a sleeping frontend does:
 * only a notification from the backend ends the wait (the notification
 * count is read before the final check, so one sent after the re-arm is
 * never missed). A request unanswered for STRAND_NS fails the test.
 */
static void lfe_wait_some(struct lfe *l)
{
	uint64_t end = mono_ns() + STRAND_NS;

	for (;;) {
		uint64_t n0 = fake_notifies(l->x->f, l->x->fe.port);

		if (lfe_harvest(l))
			return;
		while (fake_notifies(l->x->f, l->x->fe.port) == n0) {
			if (mono_ns() > end)
				fail_msg("stranded: %u request(s) in flight, "
					 "req_prod %u req_event %u rsp_prod %u "
					 "rsp_event %u, no notification for "
					 "5 s", l->inflight,
					 l->x->fe.sring->req_prod,
					 l->x->fe.sring->req_event,
					 l->x->fe.sring->rsp_prod,
					 l->x->fe.sring->rsp_event);
			usleep(20);
		}
	}
}

static void lfe_init(struct lfe *l, struct fx *x, uint64_t nids)
{
	memset(l, 0, sizeof(*l));
	l->x = x;
	l->nids = nids;
	l->seen = calloc(nids, 1);
	assert_non_null(l->seen);
	l->last_req_event = x->fe.sring->req_event;
}

/*
 * A queue spinning for work must not need notifications: with a fixed
 * spin of 100 ms (which ends early only when the thread loses its CPU),
 * a frontend sending one request at a time notifies at most once per
 * time the queue went to sleep (plus the rare re-arm that finds the next
 * request already there), and sees req_event move no more often. A queue
 * that re-armed req_event while awake would be notified for nearly every
 * request. Where the machine is so loaded that most spins lose their CPU
 * (sleeps >= half the requests) nothing can be concluded: skipped.
 */
static void test_awake_queue_not_notified(void **state)
{
	struct opts o = { .abi = BLK_ABI_X86_64, .poll_us = 100000,
			  .engine = &blk_engine_null_ops };
	const uint64_t n = 4000;
	uint64_t sleeps0, sleeps, i, slack;
	struct lfe l;
	struct fx *x;

	(void)state;
	fx_create(&x);
	fx_start(x, &o);
	lfe_init(&l, x, n);
	/* The first request wakes the queue (fresh ring: req_event 1). */
	lfe_queue_read(&l, 0);
	lfe_push(&l);
	while (!lfe_harvest(&l))
		usleep(10);
	sleeps0 = stat_of(x->q, BLK_ST_SLEEPS);
	l.kicks = 0;
	l.req_event_moves = 0;
	for (i = 1; i < n; i++) {
		uint64_t end = mono_ns() + STRAND_NS;

		lfe_queue_read(&l, i);
		lfe_push(&l);
		/* Poll for the answer (the frontend spins here, so that the
		 * only sleeps are the queue's). */
		while (!lfe_harvest(&l))
			if (mono_ns() > end)
				fail_msg("no answer to request %llu",
					 (unsigned long long)i);
	}
	sleeps = stat_of(x->q, BLK_ST_SLEEPS) - sleeps0;
	slack = 2 + n / 100;
	print_message("%llu requests: %llu notifications, req_event moved "
		      "%llu times, queue slept %llu times\n",
		      (unsigned long long)(n - 1),
		      (unsigned long long)l.kicks,
		      (unsigned long long)l.req_event_moves,
		      (unsigned long long)sleeps);
	assert_true(l.answered == n);
	fx_stop(x);
	fx_destroy(x);
	free(l.seen);
	if (sleeps >= n / 2) {
		print_message("the queue slept for half the requests: spins "
			      "lost their CPU, suppression unchecked\n");
		skip();
	}
	assert_true(l.kicks <= sleeps + slack);
	assert_true(l.req_event_moves <= sleeps + slack);
	assert_true(l.kicks < n / 4);
}

/* A random closed-loop load; every wait bounded (lfe_wait_some). */
static void random_load(struct lfe *l, uint64_t n, unsigned int seed)
{
	uint32_t ring = l->x->fe.nr_ents;
	uint32_t depth = 1;
	uint64_t id = 0;

	srand(seed);
	while (l->answered < n) {
		unsigned int r = (unsigned int)rand();

		if (r % 97 == 0)
			depth = 1 + (uint32_t)rand() % ring;
		if (id < n && l->inflight < depth) {
			/* A burst of 1..room requests, published in pieces
			 * of random size. */
			uint32_t room = depth - l->inflight, k, chunk;

			k = 1 + (uint32_t)rand() % room;
			while (k && id < n) {
				chunk = 1 + (uint32_t)rand() % k;
				k -= chunk;
				while (chunk-- && id < n)
					lfe_queue_read(l, id++);
				lfe_push(l);
				if (rand() % 8 == 0)
					usleep((useconds_t)(rand() % 30));
			}
		} else {
			lfe_wait_some(l);
		}
		/* Now and then go quiet long enough for the queue to give up
		 * spinning and coalescing and fall asleep. */
		if (r % 211 == 0) {
			while (l->inflight)
				lfe_wait_some(l);
			usleep(1000 + (useconds_t)(rand() % 2000));
		}
	}
}

static void stranding_case(const struct opts *o, uint64_t n)
{
	struct lfe l;
	struct fx *x;
	uint64_t i;

	fx_create(&x);
	fx_start(x, o);
	lfe_init(&l, x, n);
	random_load(&l, n, (unsigned int)(n + o->poll_us +
					 (o->coalesce ? 7 : 0)));
	for (i = 0; i < n; i++)
		assert_int_equal(l.seen[i], 1);
	print_message("%s poll %s%s: %llu requests, %llu notifications, "
		      "%llu sleeps (%llu coalesced, %llu short)\n",
		      o->engine == &blk_engine_null_ops ? "null" :
		      o->inline_rw ? "inline" : "io_uring",
		      o->poll_adaptive ? "adaptive" : o->poll_us ? "fixed" :
		      "off", o->coalesce ? ", coalescing" : "",
		      (unsigned long long)n, (unsigned long long)l.kicks,
		      (unsigned long long)stat_of(x->q, BLK_ST_SLEEPS),
		      (unsigned long long)stat_of(x->q, BLK_ST_COALESCED),
		      (unsigned long long)stat_of(x->q,
						  BLK_ST_COALESCE_TIMEOUTS));
	fx_stop(x);
	fx_destroy(x);
	free(l.seen);
}

/*
 * The property that must never break: a frontend that notifies only
 * when req_event asks, and sleeps until notified, gets every answer.
 * Without persistent grants: with them the queue also wakes every second
 * to purge idle grants, which would hide a lost notification.
 */
static void test_never_stranded(void **state)
{
	static const struct {
		const struct blk_engine_ops *engine;
		bool inline_rw;
	} eng[] = {
		{ &blk_engine_null_ops, false },
		{ NULL, false },          /* io_uring: tmpfs through io-wq */
		{ NULL, true },           /* io_uring engine, inline I/O */
	};
	unsigned int e, p, c;

	(void)state;
	for (e = 0; e < 3; e++) {
		for (p = 0; p < 3; p++) {
			for (c = 0; c < 2; c++) {
				struct opts o = {
					.abi = BLK_ABI_X86_64,
					.engine = eng[e].engine,
					.inline_rw = eng[e].inline_rw,
					.poll_adaptive = p == 1,
					.poll_us = p == 2 ? 20 : 0,
					.coalesce = c == 1,
				};

				stranding_case(&o, 2000);
			}
		}
	}
}

/*
 * Coalescing: a frontend that leaves 8 answers unconsumed (it is behind)
 * gets a queue that sleeps asking for a batch (req_event more than one
 * ahead); when the frontend sends nothing, the batches shrink to nothing
 * within a bounded number of short sleeps and the queue sleeps with
 * req_event at req_cons + 1, so that one request wakes it again.
 */
static void test_coalesce_falls_back(void **state)
{
	struct opts o = { .abi = BLK_ABI_X86_64, .coalesce = true,
			  .engine = &blk_engine_null_ops };
	uint64_t i, end, co, to;
	struct lfe l;
	struct fx *x;

	(void)state;
	fx_create(&x);
	fx_start(x, &o);
	lfe_init(&l, x, 16);
	for (i = 0; i < 8; i++)
		lfe_queue_read(&l, i);
	lfe_push(&l);
	/* All 8 answered, none consumed: rsp_event is still 1. */
	end = mono_ns() + STRAND_NS;
	while ((RING_IDX)(__atomic_load_n(&x->fe.sring->rsp_prod,
					  __ATOMIC_ACQUIRE) -
			  x->fe.rsp_cons) < 8)
		if (mono_ns() > end)
			fail_msg("8 requests not answered");
	wait_stat(x->q, BLK_ST_COALESCED, 1);
	/* Nothing more comes: every batched sleep ends short, halving the
	 * next, until the queue sleeps the ordinary way. */
	end = mono_ns() + STRAND_NS;
	while (__atomic_load_n(&x->fe.sring->req_event, __ATOMIC_ACQUIRE) !=
	       x->fe.req_prod_pvt + 1)
		if (mono_ns() > end)
			fail_msg("req_event stays at %u, requests at %u",
				 x->fe.sring->req_event, x->fe.req_prod_pvt);
	co = stat_of(x->q, BLK_ST_COALESCED);
	to = stat_of(x->q, BLK_ST_COALESCE_TIMEOUTS);
	usleep(100000);
	assert_true(stat_of(x->q, BLK_ST_COALESCED) == co);
	/* 8 -> 4 -> 2 -> (1: ordinary), and the batched sleeps that got
	 * requests in between do not count: a few at most. */
	assert_true(co <= 8);
	assert_true(to >= 1 && to <= co);
	/* One request, notified because req_event asks, is answered. */
	lfe_harvest(&l);
	lfe_queue_read(&l, 8);
	lfe_push(&l);
	assert_true(l.kicks >= 2);
	lfe_wait_some(&l);
	assert_true(l.answered == 9);
	fx_stop(x);
	fx_destroy(x);
	free(l.seen);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_awake_queue_not_notified),
		cmocka_unit_test(test_never_stranded),
		cmocka_unit_test(test_coalesce_falls_back),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
