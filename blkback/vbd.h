/* SPDX-License-Identifier: MIT */
/*
 * The vbd device kind for the XenBus state machine (common/xenbus.c):
 * probe publishes the features, connect reads and checks the frontend's
 * keys and starts one queue per negotiated queue, disconnect stops them.
 *
 *   struct blk_vbd *vbd;
 *   blk_vbd_create(&cfg, &vbd);
 *   xb_dev_open(hv, backend_path, &blk_vbd_ops, vbd, &dev);
 *   ... xb_dev_process(dev) on xb_dev_fd(dev) readable ...
 *   xb_dev_close(dev); blk_vbd_destroy(vbd);
 *
 * Thread context: the ops run on the thread calling xb_dev_process; the
 * queues run on their own threads. blk_vbd_print_stats may be called
 * from that same thread at any time.
 */
#ifndef BLKBACK_VBD_H
#define BLKBACK_VBD_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "uback/xenbus.h"
#include "blkback.h"

/* Operator settings (command line), shared by the device's queues. */
struct blk_vbd_config {
	const char *image;            /* NULL: the backend's `params` key */
	bool direct;                  /* O_DIRECT (falls back if refused) */
	bool force_readonly;          /* whatever `mode` says */
	bool discard;                 /* offer discard (and `discard-enable`) */
	bool persistent;              /* offer feature-persistent */
	uint32_t max_queues;          /* multi-queue-max-queues, 1..16 */
	uint32_t max_ring_order;      /* max-ring-page-order, 0..4 */
	uint32_t max_indirect_segs;   /* feature-max-indirect-segments; 0: off */
	uint32_t persist_max;         /* grants per queue (0: default) */
	uint32_t persist_idle_s;      /* idle purge (0: default) */
	uint32_t poll_us;             /* fixed spin before sleeping; 0: */
	bool poll_adaptive;           /* ... learned spin (default), or off */
	bool coalesce;                /* batched wake-ups (default on) */
	uint32_t copy_pool_kib;       /* grant copy pool without persistent
	                               * grants; 0: map per request */
	int fixed_buffers;            /* register the pool: 1 on, 0 off,
	                               * -1 auto (block devices, O_DIRECT) */
	unsigned int nr_cpus;         /* queue i runs on cpus[i % nr_cpus] */
	unsigned int cpus[BLK_MAX_QUEUES]; /* (and its io-wq workers) */
	const struct blk_engine_ops *engine;   /* NULL: io_uring */
	/* The queues' request journal files (blk_journal_file_open, opened
	 * before the sandbox): with them a successor process adopts a live
	 * device (ops->adopt). Without: private memory, no adoption. */
	bool journal;
	int journal_fd[BLK_MAX_QUEUES];
	int inline_io;                /* reads/writes as synchronous calls on
	                               * the queue thread: 1 on, 0 off, -1
	                               * auto (files on tmpfs/ramfs) */
};

/* Defaults: direct, discard, persistent, 4 queues, order 4, 256 segs,
 * adaptive polling. */
void blk_vbd_config_defaults(struct blk_vbd_config *cfg);

struct blk_vbd;

int blk_vbd_create(const struct blk_vbd_config *cfg, struct blk_vbd **out);
void blk_vbd_destroy(struct blk_vbd *vbd);

extern const struct xb_dev_ops blk_vbd_ops;    /* backend/vbd */
extern const struct xb_dev_ops blk_vbd3_ops;   /* backend/vbd3 */

/* Number of running queues (0 when not connected). */
unsigned int blk_vbd_nr_queues(const struct blk_vbd *vbd);
const struct blk_stats *blk_vbd_queue_stats(const struct blk_vbd *vbd,
					    unsigned int q);
/* Device summary and every queue's counters, "q<N>.<name>=<value>". */
void blk_vbd_print_stats(FILE *f, const struct blk_vbd *vbd);

#endif /* BLKBACK_VBD_H */
