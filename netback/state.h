/* SPDX-License-Identifier: MIT */
/*
 * The vif state file: what lets a new uback-net process take over a live
 * vif after the old one died (SIGKILL, crash, OOM) or detached for an
 * upgrade (SIGUSR1), without a XenBus renegotiation, as uback-blk's
 * request journal (blkback/journal.h) does for a vbd.
 *
 * What a successor cannot read back from xenstore lives here, in one
 * file per device in its state directory (--state-dir, tmpfs under
 * /run/uback), mapped shared so that every store survives the process:
 *   - an identity (frontend domain, queue count, ring refs, remote event
 *     channel ports, ctrl ring, negotiated features): a successor adopts
 *     only the very rings the file describes (-ESTALE otherwise);
 *   - per queue, the private ring indices of both rings and private
 *     copies of requests consumed and not yet answered;
 *   - per queue, the TX frame buffers (after the structure, one
 *     NET_STATE_TX_BUF_BYTES area per queue) and a journal of the
 *     frames answered and not yet taken by the port;
 *   - the control ring's indices and the one request being answered;
 *   - the hash configuration the guest set over the control ring
 *     (algorithm, flags, Toeplitz key, mapping table) and the multicast
 *     filter list: the data path uses them where they lie in the file.
 * Without --state-dir the same structure lives in private memory: one
 * data path, nothing survives.
 *
 * Why copies: netif responses go into the ring slots of requests already
 * consumed, and a process can die after writing a response into a slot
 * and before publishing rsp_prod. A successor that re-read slots from
 * rsp_prod as requests would take a response for a request (on RX its
 * id/status as a grant reference: a grant copy into a page the guest
 * meant for something else). So a successor never reads a ring slot
 * below the recorded req_cons: what was consumed is known from the
 * copies only.
 *
 * Protocol (each index a release store, in this order):
 *   TX batch (tx.c): peek slots [C, C+n) into tx_win[0..n) (the copies
 *       live in the file); decode; tx_req_cons = C + n; grant copy into
 *       the queue's TX buffers (in the file); the journal: tx_out[] =
 *       each frame's place, length and virtio-net header, tx_out_first
 *       = 0, tx_out_end = frames, tx_out_batch = C + n; responses into
 *       slots [W, C+n); tx_rsp_written = C + n; push rsp_prod (the
 *       guest may reuse its pages from here on); then the frames to the
 *       port, tx_out_first advanced past each burst the port took.
 *       A batch starts only once the previous one is answered and its
 *       frames all taken (tx_out_first == tx_out_end), so tx_win[0 ..
 *       C-W) always holds the copies of the unanswered slots [W, C), and
 *       the journal the last answered batch's frames.
 *       Answering before the port write is what xen-netback does (it
 *       answers once the data is copied): Linux's netfront and TCP small
 *       queues wait for TX responses, and the port write (a tap write
 *       runs the host's bridge and TCP receive) is the slow part.
 *   RX batch (rx.c): each request taken at ring index i is copied to
 *       private memory and to rx_mirror[i % ring size]; rx_req_cons = C
 *       after the batch's last take; grant copy into the guest's
 *       buffers; responses into slots [W, ...); rx_rsp_written; push.
 *   ctrl request (ctrl.c): ctrl.req = copy of slot C; ctrl.req_cons =
 *       C + 1; apply it to the hash; response into slot W;
 *       ctrl.rsp_written = W + 1; (rsp_prod pushed at the end of a call)
 * Recovery (adopting), from any point of a crash:
 *   - responses [published rsp_prod, W) are whole: publish them.
 *   - TX [W, C): consumed, unanswered: decoded again from tx_win and
 *     replayed as one batch (grant copy, journal, responses, frames to
 *     the port); the journal is ignored (its batch is not the one
 *     answered). Multicast add/del packets are applied again (an add is
 *     idempotent; a repeated del of a removed address answers
 *     NETIF_RSP_ERROR).
 *   - TX answered (W == C == tx_out_batch) with frames [tx_out_first,
 *     tx_out_end) not taken: sent from the file's buffers before any new
 *     slot is read (counter tx_resent). A frame whose burst the port
 *     took just before the death goes out twice: a duplicate frame is
 *     acceptable on Ethernet, a frame lost after its request was
 *     answered OK is not.
 *   - RX [W, C): buffers consumed, unanswered (their frames die with the
 *     process): reused, from rx_mirror, for the next frames before any
 *     new request is read from the ring. Their grants are the guest's
 *     until it sees a response, so reusing them is what it expects.
 *   - ctrl: C - W is 0 or 1; a 1 is replayed from ctrl.req (every
 *     control request is idempotent when applied again last). A hash
 *     seqcount left odd by a writer that died is made even first.
 *   - indices that do not add up (C - W beyond the ring, W more than a
 *     ring ahead of the published rsp_prod: other rings), or a journal
 *     whose frames do not fit the buffers, refuse the file (-EUCLEAN)
 *     and the device renegotiates.
 *
 * Thread context: a queue's section belongs to its thread once it runs;
 * the control section and the hash to the main thread (the hash's
 * readers are the queue threads, as ctrl.h says); the multicast list to
 * the TX threads under the vif's lock. Nothing here logs except
 * net_state_check (one line saying why a file is refused).
 */
#ifndef NETBACK_STATE_H
#define NETBACK_STATE_H

#include <stdbool.h>
#include <stdint.h>

#include "netback.h"

/* Slots of a one-page netif TX or RX ring (both 256). */
#define NET_STATE_RING_MAX 256u

/* Negotiated features in the identity. */
#define NET_STATE_F_SG      (1u << 0)
#define NET_STATE_F_GSO4    (1u << 1)
#define NET_STATE_F_GSO6    (1u << 2)
#define NET_STATE_F_CSUM    (1u << 3)
#define NET_STATE_F_CSUM6   (1u << 4)
#define NET_STATE_F_MCAST   (1u << 5)
#define NET_STATE_F_CTRL    (1u << 6)

/* What the file belongs to. Compared whole (memcmp): zero it first. */
struct net_state_id {
	uint32_t domid;
	uint32_t nr_queues;
	uint32_t features;            /* NET_STATE_F_* */
	uint32_t ctrl_ref, ctrl_port;
	struct {
		uint32_t tx_ref, rx_ref;
		uint32_t tx_port, rx_port;   /* the frontend's, equal when
		                              * shared */
	} q[NET_MAX_QUEUES];
};

/*
 * A queue's TX buffers: one batch's frames, in order, each at
 * NET_STATE_FRAME_ALIGN or where its data slots land on our pages as on
 * the guest's (net_tx_place: less than a page further). A batch that
 * would not fit ends before the frame that does not (the rest waits for
 * the next batch); any one frame fits.
 */
#define NET_STATE_FRAME_ALIGN 64u
#define NET_STATE_TX_BUF_BYTES \
	((size_t)NET_STATE_RING_MAX * XB_PAGE_SIZE + \
	 (size_t)NET_TX_BATCH * NET_STATE_FRAME_ALIGN)

/* A TX frame answered and not yet taken by the port. */
struct net_state_frame {
	uint32_t off;                 /* in the queue's TX buffers */
	uint32_t len;
	struct virtio_net_hdr vnet;
	uint16_t pad;
};

struct net_state_queue {
	uint32_t tx_req_cons;         /* next TX slot to consume */
	uint32_t tx_rsp_written;      /* TX responses whole up to here */
	uint32_t rx_req_cons;
	uint32_t rx_rsp_written;
	union net_tx_slot tx_win[NET_STATE_RING_MAX];
	struct netif_rx_request rx_mirror[NET_STATE_RING_MAX];
	/* The journal of the last answered TX batch (protocol above). */
	uint32_t tx_out_batch;        /* its tx_req_cons */
	uint32_t tx_out_first;        /* frames before it taken by the port */
	uint32_t tx_out_end;          /* its frames */
	uint32_t pad;
	struct net_state_frame tx_out[NET_TX_BATCH];
};

struct net_state_ctrl {
	uint32_t req_cons;
	uint32_t rsp_written;
	struct xen_netif_ctrl_request req;   /* the one being answered */
};

struct net_state {
	uint64_t magic;               /* 0 while (re)initialised or after a
	                               * clean disconnect */
	uint32_t version;
	uint32_t pad;
	struct net_state_id id;
	struct net_state_ctrl ctrl;
	struct net_hash hash;
	struct net_mcast mcast;
	struct net_state_queue q[NET_MAX_QUEUES];
};

/* Where the TX buffers start: on a page of their own. */
#define NET_STATE_BUFS_OFF \
	(((sizeof(struct net_state) + XB_PAGE_SIZE - 1) / XB_PAGE_SIZE) * \
	 XB_PAGE_SIZE)

/* The structure and the TX buffers of @nr_queues queues. */
static inline size_t net_state_used_size(unsigned int nr_queues)
{
	return NET_STATE_BUFS_OFF + (size_t)nr_queues * NET_STATE_TX_BUF_BYTES;
}

/* Bytes of a state file: room for NET_MAX_QUEUES queues (sparse beyond
 * what net_state_file_open allocates). */
static inline size_t net_state_size(void)
{
	return net_state_used_size(NET_MAX_QUEUES);
}

/* Queue @q's NET_STATE_TX_BUF_BYTES of TX buffers. */
static inline uint8_t *net_state_tx_bufs(struct net_state *st,
					 unsigned int q)
{
	return (uint8_t *)st + NET_STATE_BUFS_OFF +
	       (size_t)q * NET_STATE_TX_BUF_BYTES;
}

/*
 * Open (creating it) the state file at @path and make it
 * net_state_size(), keeping its contents, with the structure and the TX
 * buffers of @max_queues queues allocated (fallocate): a full file
 * system fails here, not as a SIGBUS when a frame first touches a page.
 * Before the process enters its sandbox, which allows no open, no
 * ftruncate and no fallocate. 0 and *fd, or -errno (-ENOSPC).
 */
int net_state_file_open(const char *path, unsigned int max_queues, int *fd);

/*
 * Map the state from @fd (net_state_file_open), or private zeroed memory
 * with @fd -1. The contents are left as they are. 0, -EINVAL for a file
 * too small, -ENOMEM.
 */
int net_state_map(int fd, struct net_state **out);
void net_state_unmap(struct net_state *st);

/*
 * A fresh connection for @id: invalidate, write the identity, zero every
 * index and copy, reset the hash (net_hash_init) and the multicast list,
 * validate again. Main thread, before any queue or ctrl ring starts.
 * The queues and the ctrl ring then record their starting indices.
 */
void net_state_begin(struct net_state *st, const struct net_state_id *id);

/* A clean disconnect: no successor may adopt from this file. */
void net_state_invalidate(struct net_state *st);

/*
 * Adopting: is the file valid and for exactly @id? 0; -ENOENT (never
 * connected, or cleanly disconnected), -ESTALE (other rings or another
 * version), -EUCLEAN (hash or multicast state out of bounds). Repairs a
 * hash seqcount left odd. Logs one line when refusing.
 */
int net_state_check(struct net_state *st, const struct net_state_id *id);

static inline void net_state_store(uint32_t *p, uint32_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

#endif /* NETBACK_STATE_H */
