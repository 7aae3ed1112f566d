/* SPDX-License-Identifier: MIT */
/*
 * blkfront recovery: the reconnect cycle after a backend restart or close,
 * and resubmission of what was in flight (see blkfront.h).
 */
#include <errno.h>
#include <stdlib.h>

#include <xen/io/xenbus.h>

#include "blkfront_priv.h"

#define ST(s) (1u << (s))

static void defer(struct blkfront *bf, struct bf_queue *q, uint16_t id,
		  int status)
{
	struct blkfront_completion c;

	bf_complete_shadow(bf, q, id, status, &c);
	if (bf->nr_deferred < bf->deferred_cap)
		bf->deferred[bf->nr_deferred++] = c;
	else
		bf->info.bad_responses++;   /* cannot happen: see cap */
}

static void fail_inflight(struct blkfront *bf)
{
	unsigned int qi, id;

	for (qi = 0; qi < bf->pool_queues; qi++) {
		struct bf_queue *q = &bf->queues[qi];

		for (id = 0; id < bf->depth; id++)
			if (q->shadow[id].inflight)
				defer(bf, q, (uint16_t)id, -EIO);
	}
}

static int cmp_seq(const void *a, const void *b, void *arg)
{
	const struct bf_queue *q = arg;
	uint64_t sa = q->shadow[*(const uint16_t *)a].seq;
	uint64_t sb = q->shadow[*(const uint16_t *)b].seq;

	return sa < sb ? -1 : sa > sb;
}

/* Put what was in flight on the new rings, oldest first per queue. */
static void resubmit(struct blkfront *bf)
{
	uint16_t *ids = calloc(bf->depth, sizeof(*ids));
	unsigned int qi, id, n, k;

	for (qi = 0; qi < bf->pool_queues; qi++) {
		struct bf_queue *q = &bf->queues[qi];

		for (n = 0, id = 0; id < bf->depth; id++)
			if (q->shadow[id].inflight) {
				if (!ids || qi >= bf->nr_queues)
					defer(bf, q, (uint16_t)id, -EIO);
				else
					ids[n++] = (uint16_t)id;
			}
		if (!n)
			continue;
		qsort_r(ids, n, sizeof(*ids), cmp_seq, q);
		for (k = 0; k < n; k++) {
			struct bf_shadow *sh = &q->shadow[ids[k]];

			if ((sh->nr_segs > BLKIF_MAX_SEGMENTS_PER_REQUEST &&
			     !bf->info.max_indirect_segs) ||
			    (sh->op == BLKFRONT_OP_FLUSH && !bf->info.flush) ||
			    (sh->op == BLKFRONT_OP_BARRIER &&
			     !bf->info.barrier) ||
			    (sh->op == BLKFRONT_OP_DISCARD &&
			     !bf->info.discard) ||
			    bf_queue_encode(bf, q, ids[k])) {
				defer(bf, q, ids[k], -EIO);
				continue;
			}
			bf->info.resubmitted++;
		}
	}
	free(ids);
}

/*
 * Walk the backend through Closing and Closed and back to InitWait, each
 * step waiting for the backend's answer to *our* state (a backend answers
 * fe Closing with Closing, fe Closed with Closed, fe Initialising with
 * InitWait), so that a late reaction of a restarted backend to the old
 * state (a connect attempt that fails and writes Closing) is absorbed
 * here instead of breaking the handshake that follows.
 */
static int cycle_to_initwait(struct blkfront *bf, bool *rings_down)
{
	unsigned int qi;
	int ret, t = bf_timeout(bf);

	ret = xg_xenbus_switch(bf->xs, bf->fe_path, XenbusStateClosing);
	if (!ret)
		ret = bf_wait_be(bf, ST(XenbusStateClosing) |
				 ST(XenbusStateClosed), 0, t, NULL);
	if (!ret)
		ret = xg_xenbus_switch(bf->xs, bf->fe_path,
				       XenbusStateClosed);
	if (!ret)
		ret = bf_wait_be(bf, ST(XenbusStateClosed), 0, t, NULL);
	if (ret)
		return ret;
	if (!*rings_down) {
		/* No backend serves the rings now: the answers on them are
		 * final and real completions; the rest is resubmitted. */
		for (qi = 0; qi < bf->nr_queues; qi++) {
			unsigned int room = bf->deferred_cap - bf->nr_deferred;

			bf->nr_deferred +=
				bf_harvest(bf, &bf->queues[qi],
					   bf->deferred + bf->nr_deferred,
					   room);
		}
		for (qi = 0; qi < BLKFRONT_MAX_QUEUES; qi++)
			bf_ring_teardown(bf, &bf->queues[qi]);
		*rings_down = true;
	}
	ret = xg_xenbus_switch(bf->xs, bf->fe_path, XenbusStateInitialising);
	if (!ret)
		ret = bf_wait_be(bf, ST(XenbusStateInitWait), 0, t, NULL);
	return ret;
}

int bf_do_recover(struct blkfront *bf)
{
	bool rings_down = false;
	unsigned int tries;
	int ret = -ECONNREFUSED;

	bf->connected = false;
	/* A backend that closes on us while we reconnect (it reacted to an
	 * older state) gets another cycle; a few at most. */
	for (tries = 0; tries < 3 && ret == -ECONNREFUSED; tries++) {
		ret = cycle_to_initwait(bf, &rings_down);
		if (!ret)
			ret = bf_handshake(bf, false);
	}
	if (ret)
		goto err;
	resubmit(bf);
	bf->info.recoveries++;
	blkfront_kick(bf);
	return 0;

err:
	bf->broken = true;
	fail_inflight(bf);
	return -ENOTCONN;
}

int bf_handle_watch(struct blkfront *bf)
{
	if (bf->broken)
		return -ENOTCONN;
	if (!bf_drain_watch(bf))
		return 0;
	/* After sync_watch, any backend-state event is the backend's own
	 * doing: a restart (Initialising/InitWait, or Connected rewritten)
	 * or a close. Either way the ring we have is no longer served. */
	return bf_do_recover(bf);
}

int blkfront_recover(struct blkfront *bf)
{
	if (bf->broken)
		return -ENOTCONN;
	bf_drain_watch(bf);
	return bf_do_recover(bf);
}
