/* SPDX-License-Identifier: MIT */
/*
 * Private to queue.c (thread, lifecycle) and ring.c (request consumer and
 * responder): the per-queue state.
 */
#ifndef BLKBACK_QUEUE_PRIV_H
#define BLKBACK_QUEUE_PRIV_H

#include <pthread.h>
#include <sys/uio.h>

#include "uback/log.h"
#include "uback/ring.h"
#include "blkback.h"
#include "journal.h"
#include "persist.h"

#define BLK_NIL UINT32_MAX

/* Engine tags: slot index in the low 32 bits, what completed above. */
#define BLK_TAG_RW      0ull
#define BLK_TAG_FLUSH   1ull
#define BLK_TAG_DISCARD 2ull
#define BLK_TAG_KIND_SHIFT 32
#define BLK_TAG_EVTCHN  (1ull << 62)
#define BLK_TAG_STOP    ((1ull << 62) + 1)

/* How one data page of a request is mapped. */
struct blk_segmap {
	void *page;
	uint32_t phandle;        /* persistent cache entry, or BLK_NIL */
	bool temp;               /* own single-page mapping to unmap */
};

struct blk_slot {
	uint64_t id;
	uint64_t sector;
	uint64_t nr_sectors;     /* data sectors, or discard length */
	uint64_t expect;         /* bytes the read/write must move */
	uint8_t operation;       /* echoed: see rsp_operation() */
	uint8_t op;              /* effective op */
	uint8_t pending;         /* engine completions outstanding */
	bool failed;
	bool secure;             /* discard */
	bool in_io;              /* counted in io_inflight */
	uint16_t nsegs;
	uint32_t niov;
	void *batch;             /* per-request mapping of all pages */
	uint32_t batch_count;
	uint32_t chunk;          /* bounce chunk (grant copy), or BLK_NIL */
	uint32_t next_free;
	uint32_t jent;           /* its journal entry */
	struct blk_seg *segs;    /* [max_segs] */
	struct blk_segmap *maps; /* [max_segs] */
	struct iovec *iov;       /* [max_segs] */
};

struct blk_queue {
	struct blk_queue_config cfg;
	struct xb_gnt *gnt;
	struct xb_evtchn *evtchn;
	evtchn_port_t port;
	int evtchn_fd;
	int stop_fd;
	int stop_flag;           /* atomic */
	void *ring_addr;
	uint32_t ring_pages;
	struct xb_back_ring ring;
	struct blk_engine *eng;
	struct blk_journal journal;
	uint32_t replay_pos;     /* next of journal.replay to start */
	struct blk_persist *persist;
	uint64_t persist_idle_ns;

	struct blk_slot *slots;
	uint32_t nslots;
	uint32_t max_segs;
	uint32_t free_head;
	uint32_t busy;           /* slots in use */
	uint32_t busy_max;       /* most slots ever in use at once */
	uint32_t io_inflight;    /* slots whose I/O was handed to the engine */
	uint32_t blocked;        /* flush/barrier waiting for a drain */
	bool halted;
	bool stopping;
	bool evtchn_armed;
	bool evtchn_dead;        /* its fd failed: poll the ring on a timer */
	bool rsp_dirty;          /* responses written, not yet pushed */
	bool prepped;            /* engine work not yet submitted */
	uint64_t now_ns;
	struct xb_ratelimit rl;   /* guest-caused messages */
	uint64_t last_purge_ns;
	uint64_t last_cpu_ns;     /* last BLK_ST_CPU_US update */
	/* Adaptive polling (queue.c): when the current idle period began
	 * (0: not idle), and the estimator it feeds. */
	uint64_t idle_start_ns;
	struct blk_poll poll;
	/* Coalesced wake-ups (queue.c): the batch estimator. */
	struct blk_coal coal;

	/*
	 * Grant copy bounce pool, two tiers in one mapping: one small chunk
	 * (11 pages: any direct request) per ring slot, then nlarge chunks
	 * of max_segs pages for indirect requests. Chunk indices below
	 * nsmall are small ones.
	 */
	uint8_t *pool;
	size_t pool_bytes;
	uint32_t nsmall, nlarge;
	uint32_t *small_free, *large_free;   /* stacks of free indices */
	uint32_t small_top, large_top;
	struct xb_gcopy_seg *gcopy;   /* [max_segs] */

	/* Scratch, [max_segs] each. */
	grant_ref_t *refs;
	struct blk_wire_seg *iseg;
	struct blk_seg *seg_store;
	struct blk_segmap *map_store;
	struct iovec *iov_store;

	pthread_t thread;
	bool thread_started;
	struct blk_stats stats;
};

/* ring.c */
/* Consume and start up to one ring's worth of requests; returns how many
 * were taken off the ring. */
uint32_t blk_ring_consume(struct blk_queue *q);
/* Adopting: start the journal's unanswered requests (in ring order) until
 * done or a flush has to wait; returns how many were started. */
uint32_t blk_ring_replay(struct blk_queue *q);
/* Hand a slot's I/O to the engine. */
void blk_slot_submit(struct blk_queue *q, uint32_t idx);
/* An engine completion for an I/O tag. */
void blk_ring_complete(struct blk_queue *q, uint64_t tag, int32_t res);
/* Publish written responses, notify once if the frontend asked. */
void blk_ring_flush_responses(struct blk_queue *q);

#endif /* BLKBACK_QUEUE_PRIV_H */
