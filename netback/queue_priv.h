/* SPDX-License-Identifier: MIT */
/*
 * Private to queue.c (thread, lifecycle), tx.c (guest TX ring) and rx.c
 * (guest RX ring): the per-queue state. One thread owns all of it.
 */
#ifndef NETBACK_QUEUE_PRIV_H
#define NETBACK_QUEUE_PRIV_H

#include <pthread.h>

#include "uback/log.h"
#include "uback/ring.h"
#include "netback.h"
#include "state.h"

/* Grant copy segments one batch may need: the larger of a TX batch of
 * fatal-sized packets and an RX batch of 64 KiB frames. */
#define NET_GCOPY_MAX (NET_TX_BATCH * NET_TX_FATAL_SLOTS_MAX > \
		       NET_RX_BATCH * NET_RX_MAX_DATA ? \
		       NET_TX_BATCH * NET_TX_FATAL_SLOTS_MAX : \
		       NET_RX_BATCH * NET_RX_MAX_DATA)

/* A TX packet taken off the ring in the current batch. */
struct net_tx_ent {
	struct net_tx_pkt pkt;
	uint32_t slot0;          /* its slots in tx_win */
	uint32_t frame;          /* SEND: its buffer in tx_frames */
	uint32_t seg0, nsegs;    /* its grant copy segments */
	int16_t status;          /* CTRL: the response status */
};

/* An RX frame placed in the current batch. */
struct net_rx_ent {
	uint32_t frame;          /* index in rx_frames */
	uint32_t req0;           /* its request copies in rx_reqs */
	uint32_t seg0, nsegs;
	struct net_rx_plan plan;
};

struct net_queue {
	struct net_queue_config cfg;
	struct xb_gnt *gnt;
	struct xb_evtchn *evtchn;
	evtchn_port_t tx_port, rx_port;   /* local; equal when shared */
	bool split;
	int evtchn_fd;
	int stop_fd;
	int stop_flag;                    /* atomic */
	unsigned int spin_misses;         /* spins in a row that found nothing */
	unsigned int poll_shift;          /* idle port polls in a row (the
	                                   * period doubles with each) */
	bool poll_timed_out;              /* the last sleep ended by its timer */
	uint64_t spin_pause_until;        /* no spinning before (ns) */
	int port_fd;                      /* -1: poll the port */
	void *tx_addr, *rx_addr;
	struct xb_back_ring tx, rx;
	int failed;                       /* atomic: 1 once fail_why is set */
	const char *fail_why;
	bool tx_dirty, rx_dirty;          /* responses not yet pushed */
	uint64_t now_ns;
	struct xb_ratelimit rl;           /* guest-caused messages */
	struct net_credit credit;
	uint64_t tx_resume_ns;            /* credit: no TX before this */
	bool port_broken;

	/* TX */
	union net_tx_slot *tx_win;        /* [ring entries]: this batch's
	                                   * private copies of the ring, in
	                                   * the state (state.h) */
	uint32_t tx_replay;               /* adopted: slots of tx_win to
	                                   * replay before peeking again */
	struct net_tx_ent *tx_ents;       /* [NET_TX_BATCH] */
	struct net_frame *tx_frames;      /* [NET_TX_BATCH] */
	uint8_t *tx_bufs;                 /* NET_STATE_TX_BUF_BYTES in the
	                                   * state: this batch's frames */
	uint32_t tx_buf_used;             /* bytes of them planned */
	uint32_t tx_pend_first, tx_pend_count; /* frames the port has yet
	                                        * to take */

	/* RX */
	struct net_frame *rx_frames;      /* [NET_RX_BATCH]: port frames */
	struct net_frame *rx_in_frames;   /* [NET_RX_BATCH]: views of frames
	                                   * other queues steered to us */
	struct net_frame *rx_stash;       /* rx_frames or rx_in_frames */
	struct net_steer_meta *rx_meta;   /* [NET_RX_BATCH]: stash hashes */
	uint8_t *rx_bufs;
	uint32_t rx_head, rx_count;
	uint32_t rx_in_n;                 /* stash frames owned by the ring
	                                   * from queue rx_in_src */
	unsigned int rx_in_src, rx_next_src;
	uint32_t rx_moved;                /* frames steered away by the last
	                                   * fill (progress) */
	int steer_fd;                     /* -1 without steering */
	uint64_t rx_blocked_ns;           /* stash waiting for buffers since */
	bool rx_blocked;
	struct net_rx_ent *rx_ents;       /* [NET_RX_BATCH] */
	RING_IDX rx_reuse_next, rx_reuse_end; /* adopted: consumed buffers
	                                   * to reuse (state rx_mirror) */
	struct netif_rx_request *rx_reqs; /* [NET_RX_BATCH * NET_RX_MAX_SLOTS] */

	struct xb_gcopy_seg *gcopy;       /* [NET_GCOPY_MAX] */
	size_t bufs_bytes;                /* of rx_bufs */

	pthread_t thread;
	bool thread_started;
	struct net_stats stats;
};

/* queue.c: fail the queue (first reason wins): halt both rings and tell
 * the main thread through alert_fd. */
void net_queue_fail(struct net_queue *q, const char *why);
/* Push responses of @r; notify @port once if the frontend asked. */
void net_queue_push(struct net_queue *q, struct xb_back_ring *r,
		    evtchn_port_t port);

/* tx.c: one TX batch; returns packets taken off the ring. */
uint32_t net_tx_run(struct net_queue *q);
/* tx.c: true while frames wait for the port to take them. */
bool net_tx_backlogged(const struct net_queue *q);
/* tx.c, adopting with every consumed TX slot answered: the frames the
 * state's journal says were answered and not taken by the port are
 * sent first. 0, or -EUCLEAN for a journal outside the buffers. */
int net_tx_adopt_frames(struct net_queue *q);

/* rx.c: one RX batch; returns frames handled (delivered or dropped). */
uint32_t net_rx_run(struct net_queue *q);
/* rx.c: read a burst from the port into the stash if it is empty; true
 * if frames wait there. */
bool net_rx_ready(struct net_queue *q);

#endif /* NETBACK_QUEUE_PRIV_H */
