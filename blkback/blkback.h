/* SPDX-License-Identifier: MIT */
/*
 * uback-blk internals: the backing store (disk.c), the per-queue data path
 * (queue.c: one thread, one io_uring, one grant and one event channel
 * handle per queue), counters (stats.c) and the vbd XenBus glue
 * (xenbus_blk.c).
 *
 * Conventions as in common/: 0 or -errno, out-parameters, nothing logs
 * on the data path except rate-limited guest errors.
 */
#ifndef BLKBACK_BLKBACK_H
#define BLKBACK_BLKBACK_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "uback/hv.h"
#include "blkif_abi.h"
#include "engine.h"

/* Limits we offer. */
#define BLK_MAX_RING_ORDER 4u                 /* max-ring-page-order */
#define BLK_MAX_RING_PAGES (1u << BLK_MAX_RING_ORDER)
#define BLK_MAX_QUEUES 16u
#define BLK_DEFAULT_INDIRECT_SEGS 256u
/* Persistent grants per queue by default: what the ring can have in
 * flight (slots x segments), at least Linux's 1056, at most 8192 (32 MiB
 * of guest pages). Fewer than in flight makes the cache thrash. */
#define BLK_PERSIST_MAX_MIN 1056u
#define BLK_PERSIST_MAX_CAP 8192u
#define BLK_DEFAULT_PERSIST_IDLE_S 60u
#define BLK_DEFAULT_COPY_POOL_KIB 16384u        /* per queue */
/* Adaptive polling never spins longer than this for one idle period,
 * and spins only while the typical gap between requests is at most
 * BLK_POLL_ADAPTIVE_GAP_US: a longer spin costs more CPU than the event
 * channel wake-up (~15 us) it saves. */
#define BLK_POLL_ADAPTIVE_MAX_US 50u
#define BLK_POLL_ADAPTIVE_GAP_US 25u
/* Coalesced wake-ups (blk_queue_config.coalesce): the longest a batched
 * sleep waits for its batch; requests that came meanwhile wait at most
 * this long. */
#define BLK_COALESCE_US 50u

/* ---- backing store ---- */

struct blk_disk {
	int fd;
	bool blockdev;
	bool readonly;
	bool direct;                 /* opened with O_DIRECT */
	bool memory;                 /* a file on tmpfs or ramfs */
	uint64_t sectors;            /* 512-byte units */
	uint32_t sector_size;        /* logical block size */
	uint32_t physical_sector_size;
	bool discard;                /* the store can deallocate */
	bool discard_secure;         /* BLKSECDISCARD works */
	uint32_t discard_granularity;
	uint32_t discard_alignment;
};

/*
 * Open @path (regular file or block device) read-only or read-write.
 * With @direct, O_DIRECT is tried first; if the file system refuses it
 * (EINVAL) the file is opened buffered and disk->direct says so (the
 * documented fallback: FLUSH still makes data durable with fdatasync).
 * Logs one line on failure or fallback.
 */
int blk_disk_open(const char *path, bool readonly, bool direct,
		  struct blk_disk *out);
void blk_disk_close(struct blk_disk *d);

/* ---- counters ---- */

enum blk_stat {
	BLK_ST_READ, BLK_ST_WRITE, BLK_ST_BARRIER, BLK_ST_FLUSH,
	BLK_ST_DISCARD, BLK_ST_INDIRECT, BLK_ST_UNKNOWN_OP,
	BLK_ST_OK, BLK_ST_ERROR, BLK_ST_EOPNOTSUPP,
	BLK_ST_REJ_FIRST,                              /* + enum blk_reject */
	BLK_ST_REJ_LAST = BLK_ST_REJ_FIRST + BLK_REJ_COUNT - 1,
	BLK_ST_BYTES_READ, BLK_ST_BYTES_WRITTEN, BLK_ST_BYTES_DISCARDED,
	BLK_ST_IN_FLIGHT, BLK_ST_IN_FLIGHT_MAX,
	BLK_ST_BATCHES, BLK_ST_NOTIFIES, BLK_ST_SLEEPS, BLK_ST_LOOPS,
	BLK_ST_POLL_HITS, BLK_ST_EVENTS,
	BLK_ST_RING_HALTED, BLK_ST_NOTIFY_ERRORS, BLK_ST_UNMAP_ERRORS,
	BLK_ST_ENGINE_ERRORS,
	BLK_ST_PERSIST_HITS, BLK_ST_PERSIST_MISSES, BLK_ST_PERSIST_EVICTIONS,
	BLK_ST_PERSIST_PURGED, BLK_ST_PERSIST_FULL, BLK_ST_PERSIST_ENTRIES,
	BLK_ST_COPY_REQS, BLK_ST_COPY_POOL_EMPTY, BLK_ST_MAP_REQS,
	BLK_ST_REPLAYED,         /* unanswered requests a successor redid */
	/* The queue thread's own CPU time (not its io_uring workers'):
	 * refreshed at most every 100 ms while it works, exact at exit. */
	BLK_ST_CPU_US,
	BLK_ST_POLL_WINDOW_NS,         /* adaptive polling's current window */
	BLK_ST_POLL_PREEMPTED,         /* spins that lost their CPU */
	BLK_ST_COALESCED,              /* sleeps asking for a batch */
	BLK_ST_COALESCE_TIMEOUTS,      /* ... that ended short of it */
	BLK_ST_COUNT
};

/* Written by one queue thread with relaxed atomic stores, read by anyone
 * with relaxed loads (blk_stats_snapshot): no locks on the data path. */
struct blk_stats {
	uint64_t v[BLK_ST_COUNT];
};

/* Add @s's counters into @sum (a private, unshared struct), leaving out
 * the gauges that only describe a live queue (in-flight, cache entries). */
void blk_stats_add_totals(struct blk_stats *sum, const struct blk_stats *s);

static inline void blk_stat_add(struct blk_stats *s, enum blk_stat k,
				 uint64_t n)
{
	__atomic_store_n(&s->v[k], __atomic_load_n(&s->v[k], __ATOMIC_RELAXED)
			 + n, __ATOMIC_RELAXED);
}
static inline void blk_stat_set(struct blk_stats *s, enum blk_stat k,
				 uint64_t n)
{
	__atomic_store_n(&s->v[k], n, __ATOMIC_RELAXED);
}

const char *blk_stat_name(enum blk_stat k);
void blk_stats_snapshot(const struct blk_stats *s, struct blk_stats *out);
/* Print "<prefix><name>=<value>\n" for every counter. */
void blk_stats_print(FILE *f, const char *prefix, const struct blk_stats *s);

/* ---- adaptive polling's estimator (queue.c) ---- */

/*
 * Learns how long a queue thread should spin for the next request: feed
 * it the gap of every idle period that ended with a request (from
 * running out of work to taking the next request, wake-up included when
 * it slept), and blk_poll_preempted when a spin lost its CPU. The window
 * is 2 x the smoothed gap + 2 us, at most BLK_POLL_ADAPTIVE_MAX_US, and 0
 * while the smoothed gap exceeds BLK_POLL_ADAPTIVE_GAP_US. Starts quiet
 * (window 0). Plain arithmetic: no clock, no thread context.
 */
struct blk_poll {
	uint64_t gap_ns;        /* smoothed, 1/8 per sample */
	uint64_t window_ns;     /* how long to spin; 0: do not */
};

void blk_poll_init(struct blk_poll *p);
void blk_poll_sample(struct blk_poll *p, uint64_t gap_ns);
void blk_poll_preempted(struct blk_poll *p);

/*
 * Coalesced wake-ups' estimator (queue.c, blk_queue_config.coalesce): how
 * many requests a queue that ran out of work sleeps for. blk_coal_batch:
 * the frontend's unseen responses (xb_ring_rsps_unseen) or the most
 * requests a wake-up was seen to bring, whichever is more, at most @cap,
 * halved once per recent timeout; 1: no batch. blk_coal_learn, after a
 * sleep that asked for @batch and found @avail requests (more than
 * @nr_ents: nonsense, counted as none): a batch that did not come (a
 * timeout: returns true) halves the next ones and what was found is the
 * new estimate; one that came doubles them back, and the estimate only
 * grows then (a frontend our wake-up stopped right at req_event sent no
 * more than asked, but could have). Starts with no estimate (init).
 * Plain arithmetic: no clock, no thread context.
 */
struct blk_coal {
	uint32_t shift;         /* batches are halved this many times */
	uint32_t found;         /* requests a wake-up was seen to bring */
};

void blk_coal_init(struct blk_coal *c);
uint32_t blk_coal_batch(const struct blk_coal *c, uint32_t unseen,
			uint32_t cap);
bool blk_coal_learn(struct blk_coal *c, uint32_t batch, uint32_t avail,
		    uint32_t nr_ents);

/* ---- one queue ---- */

struct blk_queue_config {
	struct xb_hv *hv;
	domid_t domid;                  /* the frontend's domain */
	unsigned int index;             /* queue number (names, logs) */
	enum blk_abi abi;
	uint32_t ring_order;            /* <= BLK_MAX_RING_ORDER */
	grant_ref_t ring_refs[BLK_MAX_RING_PAGES];
	evtchn_port_t remote_port;
	int fd;                         /* backing store */
	bool blockdev;
	struct blk_limits limits;
	bool persistent;                /* frontend and backend agreed */
	uint32_t persist_max;           /* 0: default (see above) */
	uint64_t persist_idle_ns;       /* 0: default */
	/*
	 * Polling for new requests before sleeping on the event channel:
	 * poll_us > 0 spins that long, always; else poll_adaptive spins for
	 * a learned period (up to BLK_POLL_ADAPTIVE_MAX_US: long enough for
	 * the gaps between requests seen lately, nothing once they exceed
	 * BLK_POLL_ADAPTIVE_GAP_US or the guest goes quiet); else never.
	 */
	uint32_t poll_us;
	bool poll_adaptive;
	/*
	 * Coalesced wake-ups: when the thread runs out of work with nothing
	 * in flight while the frontend has not yet consumed several of our
	 * responses (it is behind, and a closed-loop frontend turns each of
	 * them into a new request), sleep with req_event that many requests
	 * ahead (at most 3/4 of the ring), for at most BLK_COALESCE_US, instead
	 * of spinning or waking for every request: one wake-up and one
	 * frontend notification per batch. A batch that does not come in
	 * time halves the next ones (down to none); batches that come, or
	 * wake-ups that find several requests waiting, double them back.
	 */
	bool coalesce;
	/*
	 * Without persistent grants: move data by grant copy through a
	 * bounce pool instead of mapping the pages per request (0: always
	 * map). The pool has one 11-page chunk per ring slot for direct
	 * requests, plus this many KiB in request-sized chunks for indirect
	 * ones (at least one). Requests that find no chunk map.
	 */
	uint32_t copy_pool_kib;
	/* Register the bounce pool with the engine (fixed buffers): pins
	 * it, saves pinning pages per I/O. Pays with O_DIRECT on devices. */
	bool fixed_buffers;
	/* Pin the queue thread and its engine workers to @cpu (else leave
	 * them to the scheduler). */
	bool pin_cpu;
	unsigned int cpu;
	const struct blk_engine_ops *engine;   /* NULL: io_uring */
	/* The request journal (journal.h): the fd of a file that outlives
	 * the process (blk_journal_file_open), or NULL for private memory. */
	const int *journal_fd;
	/* Take over a live ring whose previous backend process is gone:
	 * recover from the journal instead of starting at rsp_prod. */
	bool adopt;
	/* Engine: reads and writes as synchronous system calls on the
	 * queue thread (see blk_engine_config.inline_rw). */
	bool inline_rw;
};

struct blk_queue;

/*
 * Map the ring, bind the event channel, set up the engine and start the
 * queue thread. On failure everything is undone and -errno returned:
 * -EINVAL (bad order/ref count), -ESRCH/-EINVAL from the grant map,
 * -ENOMEM. Logs one line on failure. With cfg->adopt: -ENOENT/-ESTALE
 * (no journal for these rings) or -EUCLEAN (journal inconsistent), the
 * shared ring untouched; on success the predecessor's unpublished whole
 * responses are published, its unanswered requests replayed first.
 */
int blk_queue_start(const struct blk_queue_config *cfg,
		    struct blk_queue **out);
/*
 * Stop the thread: stop consuming, wait for every in-flight I/O to
 * complete (their responses are still written), then unmap every grant,
 * unbind the port, free. Safe when the frontend is gone. With @totals,
 * the queue's final counters are added to it (blk_stats_add_totals).
 */
void blk_queue_stop(struct blk_queue *q, struct blk_stats *totals);
/* The queue's live counters (read them with blk_stats_snapshot). */
const struct blk_stats *blk_queue_stats(const struct blk_queue *q);

#endif /* BLKBACK_BLKBACK_H */
