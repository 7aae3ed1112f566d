/* SPDX-License-Identifier: MIT */
/* Per-queue counters: names, snapshots, text output. */
#include <inttypes.h>
#include <stdio.h>

#include "blkback.h"

static const char *const stat_names[BLK_ST_COUNT] = {
	[BLK_ST_READ] = "req_read",
	[BLK_ST_WRITE] = "req_write",
	[BLK_ST_BARRIER] = "req_barrier",
	[BLK_ST_FLUSH] = "req_flush",
	[BLK_ST_DISCARD] = "req_discard",
	[BLK_ST_INDIRECT] = "req_indirect",
	[BLK_ST_UNKNOWN_OP] = "req_unknown_op",
	[BLK_ST_OK] = "rsp_okay",
	[BLK_ST_ERROR] = "rsp_error",
	[BLK_ST_EOPNOTSUPP] = "rsp_eopnotsupp",
	[BLK_ST_REJ_FIRST + BLK_OK] = "rej_none",
	[BLK_ST_REJ_FIRST + BLK_REJ_BAD_OP] = "rej_bad_op",
	[BLK_ST_REJ_FIRST + BLK_REJ_BAD_NSEGS] = "rej_bad_nr_segments",
	[BLK_ST_REJ_FIRST + BLK_REJ_BAD_SEG] = "rej_bad_segment",
	[BLK_ST_REJ_FIRST + BLK_REJ_RANGE] = "rej_out_of_range",
	[BLK_ST_REJ_FIRST + BLK_REJ_READONLY] = "rej_read_only",
	[BLK_ST_REJ_FIRST + BLK_REJ_BAD_INDIRECT] = "rej_bad_indirect",
	[BLK_ST_REJ_FIRST + BLK_REJ_GRANT] = "rej_grant",
	[BLK_ST_REJ_FIRST + BLK_REJ_IO] = "rej_io",
	[BLK_ST_BYTES_READ] = "bytes_read",
	[BLK_ST_BYTES_WRITTEN] = "bytes_written",
	[BLK_ST_BYTES_DISCARDED] = "bytes_discarded",
	[BLK_ST_IN_FLIGHT] = "in_flight",
	[BLK_ST_IN_FLIGHT_MAX] = "in_flight_max",
	[BLK_ST_BATCHES] = "batches",
	[BLK_ST_NOTIFIES] = "notifies",
	[BLK_ST_SLEEPS] = "sleeps",
	[BLK_ST_LOOPS] = "loops",
	[BLK_ST_POLL_HITS] = "poll_hits",
	[BLK_ST_EVENTS] = "events",
	[BLK_ST_RING_HALTED] = "ring_halted",
	[BLK_ST_NOTIFY_ERRORS] = "notify_errors",
	[BLK_ST_UNMAP_ERRORS] = "unmap_errors",
	[BLK_ST_ENGINE_ERRORS] = "engine_errors",
	[BLK_ST_PERSIST_HITS] = "persist_hits",
	[BLK_ST_PERSIST_MISSES] = "persist_misses",
	[BLK_ST_PERSIST_EVICTIONS] = "persist_evictions",
	[BLK_ST_PERSIST_PURGED] = "persist_purged",
	[BLK_ST_PERSIST_FULL] = "persist_full",
	[BLK_ST_PERSIST_ENTRIES] = "persist_entries",
	[BLK_ST_COPY_REQS] = "copy_reqs",
	[BLK_ST_COPY_POOL_EMPTY] = "copy_pool_empty",
	[BLK_ST_MAP_REQS] = "map_reqs",
	[BLK_ST_REPLAYED] = "replayed",
	[BLK_ST_CPU_US] = "cpu_queue_us",
	[BLK_ST_POLL_WINDOW_NS] = "poll_window_ns",
	[BLK_ST_POLL_PREEMPTED] = "poll_preempted",
	[BLK_ST_COALESCED] = "coalesced_sleeps",
	[BLK_ST_COALESCE_TIMEOUTS] = "coalesce_timeouts",
};

const char *blk_stat_name(enum blk_stat k)
{
	if ((unsigned int)k >= BLK_ST_COUNT || !stat_names[k])
		return "?";
	return stat_names[k];
}

void blk_stats_snapshot(const struct blk_stats *s, struct blk_stats *out)
{
	unsigned int i;

	for (i = 0; i < BLK_ST_COUNT; i++)
		out->v[i] = __atomic_load_n(&s->v[i], __ATOMIC_RELAXED);
}

void blk_stats_print(FILE *f, const char *prefix, const struct blk_stats *s)
{
	struct blk_stats snap;
	unsigned int i;

	blk_stats_snapshot(s, &snap);
	for (i = 0; i < BLK_ST_COUNT; i++)
		fprintf(f, "%s%s=%" PRIu64 "\n", prefix,
			blk_stat_name((enum blk_stat)i), snap.v[i]);
}

void blk_stats_add_totals(struct blk_stats *sum, const struct blk_stats *s)
{
	struct blk_stats snap;
	unsigned int k;

	blk_stats_snapshot(s, &snap);
	for (k = 0; k < BLK_ST_COUNT; k++) {
		if (k == BLK_ST_IN_FLIGHT || k == BLK_ST_IN_FLIGHT_MAX ||
		    k == BLK_ST_PERSIST_ENTRIES || k == BLK_ST_POLL_WINDOW_NS)
			continue;
		sum->v[k] += snap.v[k];
	}
}
