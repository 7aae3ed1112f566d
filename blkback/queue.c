/* SPDX-License-Identifier: MIT */
/*
 * One blkif queue: its thread, its io_uring, its grant and event channel
 * handles. The thread sleeps in one place, the engine's reap, which also
 * completes when the event channel fd or the stop eventfd become readable
 * (one-shot polls queued on the engine).
 */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "uback/clock.h"
#include "uback/log.h"
#include "uback/spin.h"
#include "queue_priv.h"

#define CQE_BATCH 64

static void drain_evtchn(struct blk_queue *q)
{
	/* The handle is ours alone and holds one port: take its event in
	 * one step (one system call under xensim, where pending + unmask
	 * cost three). Errors leave the port as it was; the ring is looked
	 * at anyway. */
	xb_evtchn_ack(q->evtchn, q->port);
	blk_stat_add(&q->stats, BLK_ST_EVENTS, 1);
}

static bool handle_cqes(struct blk_queue *q, const struct blk_cqe *c,
			int n)
{
	bool progress = false;
	int i;

	for (i = 0; i < n; i++) {
		if (c[i].tag == BLK_TAG_EVTCHN) {
			q->evtchn_armed = false;
			if (c[i].res < 0 ||
			    (c[i].res & (POLLERR | POLLHUP | POLLNVAL))) {
				/* Never re-arm a broken fd (it would fire
				 * at once, forever): look at the ring on a
				 * timer instead until we are stopped. */
				if (!q->evtchn_dead)
					xb_err("dom%u queue %u: event channel"
					       " fd failed; polling the ring",
					       q->cfg.domid, q->cfg.index);
				q->evtchn_dead = true;
			} else {
				drain_evtchn(q);
			}
			progress = true;
		} else if (c[i].tag == BLK_TAG_STOP) {
			q->stopping = true;
			progress = true;
		} else {
			blk_ring_complete(q, c[i].tag, c[i].res);
			progress = true;
		}
	}
	return progress;
}

/* Requests we could take now (without looking at a halted ring). */
static bool ring_has_work(struct blk_queue *q)
{
	RING_IDX prod;

	if (q->halted || q->stopping || q->blocked != BLK_NIL)
		return false;
	if (q->ring.req_cons - q->ring.rsp_prod_pvt >= q->ring.nr_ents)
		return false;   /* all slots busy: wait for completions */
	prod = __atomic_load_n(&q->ring.sring->req_prod, __ATOMIC_ACQUIRE);
	return prod != q->ring.req_cons;
}

/*
 * Spin up to @ns for work (uback/spin.h); true if some came. A spin that
 * lost its CPU sets *preempted.
 */
static bool spin_for_work(struct blk_queue *q, uint64_t ns, bool *preempted)
{
	struct xb_spin sp;

	*preempted = false;
	xb_spin_start(&sp, ns);
	for (;;) {
		if (ring_has_work(q) || q->eng->ops->ready(q->eng) ||
		    __atomic_load_n(&q->stop_flag, __ATOMIC_RELAXED)) {
			blk_stat_add(&q->stats, BLK_ST_POLL_HITS, 1);
			return true;
		}
		switch (xb_spin_next(&sp)) {
		case XB_SPIN_GO:
			continue;
		case XB_SPIN_PREEMPTED:
			blk_stat_add(&q->stats, BLK_ST_POLL_PREEMPTED, 1);
			*preempted = true;
			return false;
		case XB_SPIN_TIMEOUT:
			return false;
		}
	}
}

/*
 * Adaptive polling. An idle period starts when the thread runs out of
 * work with nothing in flight and ends when a request is taken off the
 * ring (found spinning, or after sleeping on the event channel: then the
 * gap also holds the wake-up). The gaps are smoothed (1/8 per sample,
 * samples capped at twice the maximum window, so one long pause weighs
 * little but a few stop the spinning) and, while the typical gap is at
 * most BLK_POLL_ADAPTIVE_GAP_US, the window is the gap with room to
 * spare: 2 x gap + 2 us, up to BLK_POLL_ADAPTIVE_MAX_US. Longer gaps
 * (a guest that is quiet, or slow to come back, or wake-ups slowed by an
 * oversubscribed machine) mean no spinning at all: an idle guest costs no
 * CPU. Periods that end in a timeout or a stop teach nothing. A spin that
 * lost its CPU resets the estimate to quiet (spin_for_work).
 */
#define POLL_MAX_NS ((uint64_t)BLK_POLL_ADAPTIVE_MAX_US * 1000u)
#define POLL_GAP_NS ((uint64_t)BLK_POLL_ADAPTIVE_GAP_US * 1000u)

void blk_poll_init(struct blk_poll *p)
{
	p->gap_ns = 2 * POLL_MAX_NS;
	p->window_ns = 0;
}

void blk_poll_sample(struct blk_poll *p, uint64_t gap)
{
	if (gap > 2 * POLL_MAX_NS)
		gap = 2 * POLL_MAX_NS;
	p->gap_ns = p->gap_ns - p->gap_ns / 8 + gap / 8;
	if (p->gap_ns > POLL_GAP_NS)
		p->window_ns = 0;
	else if (2 * p->gap_ns + 2000 > POLL_MAX_NS)
		p->window_ns = POLL_MAX_NS;
	else
		p->window_ns = 2 * p->gap_ns + 2000;
}

void blk_poll_preempted(struct blk_poll *p)
{
	/* Back to quiet: spinning resumes only once gaps measured through
	 * sleeping and waking are short again, i.e. when wake-ups are
	 * prompt, i.e. the CPUs are not oversubscribed. */
	blk_poll_init(p);
}

static void poll_learn(struct blk_queue *q)
{
	blk_poll_sample(&q->poll, xb_now_ns() - q->idle_start_ns);
	q->idle_start_ns = 0;
	blk_stat_set(&q->stats, BLK_ST_POLL_WINDOW_NS, q->poll.window_ns);
}

/* Idle with nothing in flight: spin (fixed or learned) before sleeping.
 * true if work came. */
static bool poll_idle(struct blk_queue *q)
{
	bool preempted, hit;

	if (q->cfg.poll_us)
		return spin_for_work(q, (uint64_t)q->cfg.poll_us * 1000,
				     &preempted);
	if (!q->cfg.poll_adaptive)
		return false;
	if (!q->idle_start_ns)
		q->idle_start_ns = xb_now_ns();
	if (!q->poll.window_ns)
		return false;
	hit = spin_for_work(q, q->poll.window_ns, &preempted);
	if (preempted) {
		blk_poll_preempted(&q->poll);
		blk_stat_set(&q->stats, BLK_ST_POLL_WINDOW_NS, 0);
	}
	return hit;
}

/*
 * Coalesced wake-ups (blk_queue_config.coalesce). With a frontend that
 * publishes one request at a time, a backend that sleeps pays a wake-up
 * (and the frontend a notification) every few requests, and one that
 * spins pays for the frontend's whole pace. When the frontend is behind
 * on our responses it will send requests for a while: ask to be woken
 * only once that many came (at most three quarters of the ring, so that
 * it keeps working while we do), and bound the sleep. The estimator is
 * plain arithmetic (blkback.h); the queue's state decides whether to use
 * it at all.
 */
#define COALESCE_MAX_SHIFT 10u

void blk_coal_init(struct blk_coal *c)
{
	c->shift = 0;
	c->found = 0;
}

uint32_t blk_coal_batch(const struct blk_coal *c, uint32_t unseen,
			uint32_t cap)
{
	uint32_t b = unseen;

	/* Or as many as a wake-up found: a frontend that keeps publishing
	 * while we wake keeps doing so while we sleep. */
	if (b < c->found)
		b = c->found;
	if (b > cap)
		b = cap;
	b >>= c->shift;
	return b >= 2 ? b : 1;
}

bool blk_coal_learn(struct blk_coal *c, uint32_t batch, uint32_t avail,
		    uint32_t nr_ents)
{
	if (avail > nr_ents)
		avail = 0;   /* the guest's producer makes no sense: forget */
	if (avail >= batch) {
		/* The batch came (or, after an ordinary sleep, requests
		 * piled up while we woke): batches grow back. A batched
		 * sleep sees no more than it asked for when our wake-up
		 * stops the frontend right at req_event (it took the
		 * frontend's CPU): the frontend may well have sent more,
		 * so what it was seen to send before still holds. */
		if (batch <= 1 || avail > c->found)
			c->found = avail;
		if (avail >= 2 && c->shift)
			c->shift--;
		return false;
	}
	c->found = avail;
	if (batch <= 1)
		return false;
	if (c->shift < COALESCE_MAX_SHIFT)
		c->shift++;
	return true;
}

static uint32_t coalesce_batch(struct blk_queue *q)
{
	if (!q->cfg.coalesce || q->io_inflight || q->stopping || q->halted ||
	    q->evtchn_dead || q->blocked != BLK_NIL)
		return 1;
	return blk_coal_batch(&q->coal, xb_ring_rsps_unseen(&q->ring),
			      q->ring.nr_ents - q->ring.nr_ents / 4);
}

/* After a sleep that asked for @batch requests: learn from what came. */
static void coalesce_learn(struct blk_queue *q, uint32_t batch)
{
	RING_IDX avail = __atomic_load_n(&q->ring.sring->req_prod,
					 __ATOMIC_RELAXED) - q->ring.req_cons;

	if (!q->cfg.coalesce)
		return;
	if (blk_coal_learn(&q->coal, batch, avail, q->ring.nr_ents))
		blk_stat_add(&q->stats, BLK_ST_COALESCE_TIMEOUTS, 1);
}

/* The in-flight gauges, once per loop rather than per request. */
static void publish_gauges(struct blk_queue *q)
{
	blk_stat_set(&q->stats, BLK_ST_IN_FLIGHT, q->busy);
	blk_stat_set(&q->stats, BLK_ST_IN_FLIGHT_MAX, q->busy_max);
}

/* CPU accounting off the per-request path: one clock read per 100 ms
 * of (coarse) wall time at most. */
static void cpu_tick(struct blk_queue *q, bool force)
{
	if (!force && q->now_ns - q->last_cpu_ns < 100000000ull)
		return;
	q->last_cpu_ns = q->now_ns;
	blk_stat_set(&q->stats, BLK_ST_CPU_US,
		     xb_clock_ns(CLOCK_THREAD_CPUTIME_ID) / 1000);
}

static void persist_tick(struct blk_queue *q)
{
	struct blk_persist_stats ps;

	if (!q->persist)
		return;
	if (q->now_ns - q->last_purge_ns >= 1000000000ull) {
		blk_persist_purge(q->persist, q->now_ns, q->persist_idle_ns);
		q->last_purge_ns = q->now_ns;
	}
	blk_persist_get_stats(q->persist, &ps);
	blk_stat_set(&q->stats, BLK_ST_PERSIST_HITS, ps.hits);
	blk_stat_set(&q->stats, BLK_ST_PERSIST_MISSES, ps.misses);
	blk_stat_set(&q->stats, BLK_ST_PERSIST_EVICTIONS, ps.evictions);
	blk_stat_set(&q->stats, BLK_ST_PERSIST_PURGED, ps.purged);
	blk_stat_set(&q->stats, BLK_ST_PERSIST_FULL, ps.full);
	blk_stat_set(&q->stats, BLK_ST_PERSIST_ENTRIES, ps.entries);
}

static void *queue_thread(void *arg)
{
	struct blk_queue *q = arg;
	const struct blk_engine_ops *ops = q->eng->ops;
	struct blk_cqe cqes[CQE_BATCH];
	char name[16];
	int n;

	/* Named by itself: naming another thread opens /proc, which the
	 * sandbox forbids. */
	snprintf(name, sizeof(name), "blk%u.%u", q->cfg.domid, q->cfg.index);
	pthread_setname_np(pthread_self(), name);
	q->now_ns = xb_clock_ns(CLOCK_MONOTONIC_COARSE);
	q->last_purge_ns = q->now_ns;
	/* Start as if the guest were quiet: no spinning until requests
	 * show they come close together. */
	blk_poll_init(&q->poll);
	blk_coal_init(&q->coal);
	if (q->cfg.pin_cpu && q->cfg.cpu < CPU_SETSIZE) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(q->cfg.cpu, &set);
		if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set))
			xb_warn("queue %u: cannot run on CPU %d", q->cfg.index,
				q->cfg.cpu);
	}
	if (ops->start && ops->start(q->eng)) {
		/* Cannot do I/O: answer nothing, wait to be stopped. */
		xb_err("dom%u queue %u: engine start failed", q->cfg.domid,
		       q->cfg.index);
		q->halted = true;
	}
	ops->prep_poll(q->eng, q->stop_fd, BLK_TAG_STOP);
	q->prepped = true;

	for (;;) {
		bool progress = false;
		uint32_t batch;
		int64_t timeout_us;

		blk_stat_add(&q->stats, BLK_ST_LOOPS, 1);
		q->now_ns = xb_clock_ns(CLOCK_MONOTONIC_COARSE);
		cpu_tick(q, false);
		if (__atomic_load_n(&q->stop_flag, __ATOMIC_RELAXED))
			q->stopping = true;
		/* A successor first redoes what its predecessor left
		 * unanswered, then takes new requests. */
		if (!q->halted && !q->stopping && q->blocked == BLK_NIL &&
		    q->replay_pos < q->journal.nreplay)
			progress |= blk_ring_replay(q) > 0;
		if (!q->halted && !q->stopping && q->blocked == BLK_NIL &&
		    q->replay_pos >= q->journal.nreplay &&
		    blk_ring_consume(q) > 0) {
			progress = true;
			if (q->idle_start_ns)
				poll_learn(q);
		}
		if (q->blocked != BLK_NIL && !q->io_inflight) {
			uint32_t idx = q->blocked;

			q->blocked = BLK_NIL;
			blk_slot_submit(q, idx);
			progress = true;
		}
		if (q->prepped) {
			q->prepped = false;
			ops->submit(q->eng);
		}
		n = ops->reap(q->eng, cqes, CQE_BATCH, false, 0);
		if (n > 0)
			progress |= handle_cqes(q, cqes, n);
		blk_ring_flush_responses(q);
		publish_gauges(q);

		if (q->stopping && !q->busy)
			break;
		if (progress)
			continue;

		/* Spin only for new requests: with I/O in flight, sleep in
		 * the engine, so that the kernel's worker (io-wq, e.g. for
		 * tmpfs, which cannot do non-blocking reads) gets the CPU
		 * instead of our spinning. No spinning either while a batch
		 * is coming: sleeping through it is the point. req_event is
		 * left alone until here, so a frontend does not notify a
		 * thread that is awake. */
		batch = coalesce_batch(q);
		if (batch == 1 && !q->stopping && !q->io_inflight &&
		    poll_idle(q))
			continue;
		/* Re-arm req_event and look once more (lost wake-up race). */
		if (!q->halted && !q->stopping && q->blocked == BLK_NIL &&
		    q->ring.req_cons - q->ring.rsp_prod_pvt < q->ring.nr_ents &&
		    xb_ring_final_check_batch(&q->ring, batch))
			continue;
		if (!q->evtchn_armed && !q->stopping && !q->evtchn_dead) {
			if (!ops->prep_poll(q->eng, q->evtchn_fd,
					    BLK_TAG_EVTCHN))
				q->evtchn_armed = true;
		}
		persist_tick(q);
		blk_stat_add(&q->stats, BLK_ST_SLEEPS, 1);
		timeout_us = q->evtchn_dead ? 100000 : q->persist ? 1000000 : -1;
		if (batch > 1) {
			blk_stat_add(&q->stats, BLK_ST_COALESCED, 1);
			timeout_us = BLK_COALESCE_US;
		}
		n = ops->reap(q->eng, cqes, CQE_BATCH, true, timeout_us);
		coalesce_learn(q, batch);
		if (n > 0) {
			handle_cqes(q, cqes, n);
		} else if (n < 0) {
			/* Never spin on a broken engine. */
			blk_stat_add(&q->stats, BLK_ST_ENGINE_ERRORS, 1);
			if (xb_ratelimit_ok(&q->rl))
				xb_err("queue %u: engine wait: %s",
				       q->cfg.index, strerror(-n));
			nanosleep(&(struct timespec){ 0, 10000000 }, NULL);
		}
		q->now_ns = xb_clock_ns(CLOCK_MONOTONIC_COARSE);
		persist_tick(q);
	}
	persist_tick(q);
	cpu_tick(q, true);
	return NULL;
}

static void queue_free(struct blk_queue *q)
{
	if (q->pool)
		munmap(q->pool, q->pool_bytes);
	free(q->small_free);
	free(q->large_free);
	free(q->gcopy);
	free(q->slots);
	free(q->refs);
	free(q->iseg);
	free(q->seg_store);
	free(q->map_store);
	free(q->iov_store);
	free(q);
}

static int alloc_slots(struct blk_queue *q)
{
	size_t total = (size_t)q->nslots * q->max_segs;
	uint32_t i;

	q->slots = calloc(q->nslots, sizeof(*q->slots));
	q->refs = calloc(q->max_segs, sizeof(*q->refs));
	q->iseg = calloc(q->max_segs, sizeof(*q->iseg));
	q->seg_store = calloc(total, sizeof(*q->seg_store));
	q->map_store = calloc(total, sizeof(*q->map_store));
	q->iov_store = calloc(total, sizeof(*q->iov_store));
	if (!q->slots || !q->refs || !q->iseg || !q->seg_store ||
	    !q->map_store || !q->iov_store)
		return -ENOMEM;
	for (i = 0; i < q->nslots; i++) {
		struct blk_slot *s = &q->slots[i];

		s->segs = &q->seg_store[(size_t)i * q->max_segs];
		s->maps = &q->map_store[(size_t)i * q->max_segs];
		s->iov = &q->iov_store[(size_t)i * q->max_segs];
		s->next_free = i + 1 < q->nslots ? i + 1 : BLK_NIL;
	}
	q->free_head = 0;
	return 0;
}

/* The grant copy bounce pool (see queue_priv.h). Reserved only: pages
 * are touched as requests use them. */
static int alloc_pool(struct blk_queue *q, uint32_t kib)
{
	size_t small = (size_t)BLKIF_MAX_SEGMENTS_PER_REQUEST * XB_PAGE_SIZE;
	size_t large = (size_t)q->max_segs * XB_PAGE_SIZE;
	uint32_t i;

	q->nsmall = q->nslots;
	if (q->max_segs > BLKIF_MAX_SEGMENTS_PER_REQUEST) {
		q->nlarge = (uint32_t)(((size_t)kib * 1024) / large);
		if (!q->nlarge)
			q->nlarge = 1;
		if (q->nlarge > q->nslots)
			q->nlarge = q->nslots;
	}
	q->pool_bytes = (size_t)q->nsmall * small + (size_t)q->nlarge * large;
	q->pool = mmap(NULL, q->pool_bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (q->pool == MAP_FAILED) {
		q->pool = NULL;
		return -ENOMEM;
	}
	q->small_free = calloc(q->nsmall, sizeof(*q->small_free));
	q->large_free = calloc(q->nlarge + 1, sizeof(*q->large_free));
	q->gcopy = calloc(q->max_segs, sizeof(*q->gcopy));
	if (!q->small_free || !q->large_free || !q->gcopy)
		return -ENOMEM;
	for (i = 0; i < q->nsmall; i++)
		q->small_free[i] = q->nsmall - 1 - i;
	for (i = 0; i < q->nlarge; i++)
		q->large_free[i] = q->nsmall + q->nlarge - 1 - i;
	q->small_top = q->nsmall;
	q->large_top = q->nlarge;
	return 0;
}

static int open_journal(struct blk_queue *q,
			const struct blk_queue_config *cfg)
{
	struct blk_journal_id id = {
		.domid = cfg->domid,
		.abi = (uint32_t)cfg->abi,
		.ring_order = cfg->ring_order,
		.nr_ents = q->ring.nr_ents,
		.slot_size = q->ring.slot_size,
		.remote_port = cfg->remote_port,
	};
	bool notify;
	uint32_t i;
	int ret;

	for (i = 0; i < q->ring_pages; i++)
		id.ring_refs[i] = cfg->ring_refs[i];
	ret = blk_journal_open(cfg->journal_fd ? *cfg->journal_fd : -1, &id,
			       cfg->adopt, q->ring.req_cons, &q->journal);
	if (ret) {
		if (!cfg->adopt)
			xb_err("dom%u queue %u: request journal: %s",
			       cfg->domid, cfg->index, strerror(-ret));
		return ret;
	}
	if (!cfg->adopt)
		return 0;
	ret = blk_journal_recover(&q->journal, cfg->abi, &q->ring, &notify);
	if (ret) {
		xb_warn("dom%u queue %u: journal does not add up: not adopted",
			cfg->domid, cfg->index);
		blk_journal_close(&q->journal);
		return ret;
	}
	xb_info("dom%u queue %u: adopted the live ring at %u, %u request(s)"
		" to replay", cfg->domid, cfg->index, q->ring.rsp_prod_pvt,
		q->journal.nreplay);
	return 0;
}

int blk_queue_start(const struct blk_queue_config *cfg,
		    struct blk_queue **out)
{
	struct blk_engine_config ecfg;
	struct blk_queue *q;
	int ret;

	if (cfg->ring_order > BLK_MAX_RING_ORDER ||
	    cfg->limits.max_indirect_segs > BLK_MAX_INDIRECT_SEGS_LIMIT)
		return -EINVAL;
	q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->cfg = *cfg;
	if (!q->cfg.engine)
		q->cfg.engine = &blk_engine_uring_ops;
	q->blocked = BLK_NIL;
	q->stop_fd = -1;
	q->ring_pages = 1u << cfg->ring_order;
	q->max_segs = cfg->limits.max_indirect_segs > BLKIF_MAX_SEGMENTS_PER_REQUEST
			      ? cfg->limits.max_indirect_segs
			      : BLKIF_MAX_SEGMENTS_PER_REQUEST;
	q->persist_idle_ns = cfg->persist_idle_ns
		? cfg->persist_idle_ns
		: BLK_DEFAULT_PERSIST_IDLE_S * 1000000000ull;

	ret = xb_gnt_open(cfg->hv, &q->gnt);
	if (ret)
		goto err_free;
	ret = xb_gnt_map(q->gnt, cfg->domid, q->ring_pages, cfg->ring_refs,
			 false, &q->ring_addr);
	if (ret) {
		xb_err("dom%u queue %u: cannot map %u ring page(s): %s",
		       cfg->domid, cfg->index, q->ring_pages, strerror(-ret));
		goto err_gnt;
	}
	ret = xb_back_ring_attach(&q->ring, q->ring_addr,
				  (size_t)q->ring_pages * XB_PAGE_SIZE,
				  blk_abi_slot_size(cfg->abi));
	if (ret)
		goto err_ring;
	ret = open_journal(q, cfg);
	if (ret)
		goto err_ring;
	q->nslots = q->ring.nr_ents;
	ret = alloc_slots(q);
	if (!ret && !cfg->persistent && cfg->copy_pool_kib)
		ret = alloc_pool(q, cfg->copy_pool_kib);
	if (ret)
		goto err_ring;

	ret = xb_evtchn_open(cfg->hv, &q->evtchn);
	if (ret)
		goto err_ring;
	ret = xb_evtchn_bind(q->evtchn, cfg->domid, cfg->remote_port, &q->port);
	if (ret) {
		xb_err("dom%u queue %u: cannot bind event channel %u: %s",
		       cfg->domid, cfg->index, cfg->remote_port,
		       strerror(-ret));
		goto err_evtchn;
	}
	q->evtchn_fd = xb_evtchn_fd(q->evtchn);
	/* Adopted: responses may have been published just now, and the
	 * frontend's notifications to the dead process were lost. */
	if (cfg->adopt)
		xb_evtchn_notify(q->evtchn, q->port);

	if (cfg->persistent) {
		uint64_t pmax = cfg->persist_max;

		if (!pmax) {
			pmax = (uint64_t)q->nslots * q->max_segs;
			if (pmax > BLK_PERSIST_MAX_CAP)
				pmax = BLK_PERSIST_MAX_CAP;
			if (pmax < BLK_PERSIST_MAX_MIN)
				pmax = BLK_PERSIST_MAX_MIN;
		}
		ret = blk_persist_create(q->gnt, cfg->domid, (uint32_t)pmax,
					 &q->persist);
		if (ret)
			goto err_bind;
	}
	q->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (q->stop_fd < 0) {
		ret = -errno;
		goto err_persist;
	}
	ecfg = (struct blk_engine_config){
		.fd = cfg->fd,
		.blockdev = cfg->blockdev,
		.depth = q->nslots,
		.fixed_buf = cfg->fixed_buffers ? q->pool : NULL,
		.fixed_len = cfg->fixed_buffers && q->pool ? q->pool_bytes : 0,
		.pin_cpu = cfg->pin_cpu,
		.cpu = cfg->cpu,
		.inline_rw = cfg->inline_rw,
	};
	ret = q->cfg.engine->create(&ecfg, &q->eng);
	if (ret)
		goto err_stopfd;
	ret = -pthread_create(&q->thread, NULL, queue_thread, q);
	if (ret) {
		xb_err("queue %u: cannot start thread: %s", cfg->index,
		       strerror(-ret));
		goto err_engine;
	}
	q->thread_started = true;
	*out = q;
	return 0;

err_engine:
	q->eng->ops->destroy(q->eng);
err_stopfd:
	close(q->stop_fd);
err_persist:
	blk_persist_destroy(q->persist);
err_bind:
	xb_evtchn_unbind(q->evtchn, q->port);
err_evtchn:
	xb_evtchn_close(q->evtchn);
err_ring:
	blk_journal_close(&q->journal);
	xb_gnt_unmap(q->gnt, q->ring_addr, q->ring_pages);
err_gnt:
	xb_gnt_close(q->gnt);
err_free:
	queue_free(q);
	return ret;
}

void blk_queue_stop(struct blk_queue *q, struct blk_stats *totals)
{
	uint64_t one = 1;

	if (!q)
		return;
	if (q->thread_started) {
		__atomic_store_n(&q->stop_flag, 1, __ATOMIC_RELAXED);
		if (write(q->stop_fd, &one, sizeof(one)) < 0) {
			/* The flag alone is seen at the next wake-up. */
		}
		pthread_join(q->thread, NULL);
	}
	/* The thread left with no slot busy: every I/O completed and every
	 * per-request mapping is gone. Now the long-lived ones. */
	q->eng->ops->destroy(q->eng);
	close(q->stop_fd);
	blk_persist_destroy(q->persist);
	xb_evtchn_unbind(q->evtchn, q->port);
	xb_evtchn_close(q->evtchn);
	blk_journal_close(&q->journal);
	xb_gnt_unmap(q->gnt, q->ring_addr, q->ring_pages);
	xb_gnt_close(q->gnt);
	if (totals)
		blk_stats_add_totals(totals, &q->stats);
	queue_free(q);
}

const struct blk_stats *blk_queue_stats(const struct blk_queue *q)
{
	return &q->stats;
}
