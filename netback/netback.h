/* SPDX-License-Identifier: MIT */
/*
 * uback-net internals: the per-queue data path (queue.c: one thread per
 * queue serving both rings; tx.c: guest TX ring -> frames; rx.c: frames ->
 * guest RX ring), frame helpers (frame.c: checksums), counters (stats.c),
 * the reference `loop` port (port.c) and the vif XenBus glue
 * (xenbus_net.c, vif.h).
 *
 * The ring decoders are pure functions over private copies of ring slots
 * (net_tx_decode, net_rx_plan, net_rx_build_rsps): unit-tested and
 * fuzzable without a hypervisor.
 *
 * Conventions as in common/: 0 or -errno, out-parameters, nothing logs
 * on the data path except rate-limited guest errors.
 */
#ifndef NETBACK_NETBACK_H
#define NETBACK_NETBACK_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <xen/xen.h>
#include <xen/io/netif.h>

#include "uback/hv.h"
#include "uback/ring.h"
#include "ctrl.h"
#include "port.h"
#include "steer.h"

/* ---- limits ---- */

#define NET_MAX_QUEUES NET_PORT_MAX_QUEUES     /* multi-queue-max-queues */
#define NET_DEFAULT_QUEUES 4u
#define NET_ETH_HLEN 14u
/* Data slots of one TX packet we accept (netif.h: at least 18), and the
 * count beyond which the frontend is malicious (xen-netback's
 * fatal_skb_slots, default 20): between the two, the packet is dropped
 * with error responses; beyond, the device is failed. */
#define NET_TX_MAX_SLOTS XEN_NETIF_NR_SLOTS_MIN
#define NET_TX_FATAL_SLOTS 20u
#define NET_TX_FATAL_SLOTS_MAX 64u
/* Extra-info segments of one packet: one per type at most is useful. */
#define NET_TX_MAX_EXTRAS (XEN_NETIF_EXTRA_TYPE_MAX - 1)
/* Ring slots one TX packet may span that the decoder looks at. */
#define NET_TX_WINDOW (1u + NET_TX_MAX_EXTRAS + NET_TX_FATAL_SLOTS_MAX)
#define NET_TX_BATCH 64u             /* packets per TX batch */
#define NET_RX_BATCH 64u             /* frames read from the port at once */
/* RX slots of one frame: data pages of a 64 KiB frame, GSO and hash. */
#define NET_RX_MAX_DATA ((NET_FRAME_MAX + XB_PAGE_SIZE - 1) / XB_PAGE_SIZE)
#define NET_RX_MAX_SLOTS (NET_RX_MAX_DATA + 2u)
#define NET_DEFAULT_RX_STALL_MS 500u
/*
 * Spinning for more work after a batch (net_queue_config.spin_us, off
 * by default) is gated: after NET_SPIN_MISSES spins in a row that found
 * nothing (or lost their CPU), no spinning for NET_SPIN_PAUSE_MS. A vif
 * whose guest sends in bursts spins between its packets; a quiet or
 * sparse one pays NET_SPIN_MISSES windows per pause at most.
 */
#define NET_SPIN_MISSES 4u
#define NET_SPIN_PAUSE_MS 100u
/*
 * A port without a fd (DPDK) is polled every poll_us (default
 * NET_DEFAULT_POLL_US) while the queue moves frames; each timed poll in a
 * row that finds the queue idle doubles the period, up to poll_max_us
 * (default NET_DEFAULT_POLL_MAX_US): an idle queue woke 900 times a
 * second instead of 8,200 (test_net_dpdk_e2e), and the first frame from
 * the host after a quiet spell waits up to poll_max_us. Any frame either
 * way restores the short period. The doublings are counted up to
 * NET_POLL_SHIFT_MAX (beyond any poll_max_us / poll_us).
 */
#define NET_DEFAULT_POLL_US 50u
#define NET_DEFAULT_POLL_MAX_US 1000u
#define NET_POLL_SHIFT_MAX 20u

/* ---- counters ---- */

/* Why a TX packet was refused (error responses), or the ring failed. */
enum net_tx_err {
	NET_TX_OK,
	NET_TX_E_SHORT,       /* first slot holds less than an Ethernet header */
	NET_TX_E_SIZE,        /* following slots larger than the packet */
	NET_TX_E_SLOTS,       /* more than max_slots data slots */
	NET_TX_E_PAGE,        /* offset + size crosses the page */
	NET_TX_E_GSO,         /* GSO extra: bad type or size 0 */
	NET_TX_E_EXTRA,       /* unknown extra-info type */
	NET_TX_E_MCAST,       /* multicast add/del refused */
	NET_TX_E_GRANT,       /* grant copy of a segment failed */
	NET_TX_E_CSUM,        /* csum_blank/GSO frame whose headers we cannot
	                       * parse */
	NET_TX_E_COUNT,
	/* Fatal: the device is failed. */
	NET_TX_F_CHAIN = NET_TX_E_COUNT, /* chain runs past the producer */
	NET_TX_F_SLOTS,       /* more than fatal_slots data slots */
	NET_TX_F_EXTRAS,      /* more than NET_TX_MAX_EXTRAS extras */
	NET_TX_F_COUNT,
};

/* Why a frame for the guest was dropped. */
enum net_rx_err {
	NET_RX_OK,
	NET_RX_E_EMPTY,       /* 0-byte frame from the port */
	NET_RX_E_TOO_BIG,     /* needs sg the guest did not negotiate */
	NET_RX_E_GSO,         /* GSO type the guest cannot take */
	NET_RX_E_CSUM,        /* partial checksum we could not complete */
	NET_RX_E_MCAST,       /* multicast not in the guest's filter */
	NET_RX_E_STALLED,     /* guest posted no buffers for rx_stall_ms */
	NET_RX_E_GRANT,       /* grant copy to the guest failed (error rsp) */
	NET_RX_E_STEER_FULL,  /* the hash mapping sent it to a queue whose
	                       * hand-off ring was full (counted on the
	                       * queue that read it from the port) */
	NET_RX_E_COUNT,
};

enum net_stat {
	NET_ST_TX_PACKETS, NET_ST_TX_BYTES, NET_ST_TX_SLOTS, NET_ST_TX_GSO,
	NET_ST_TX_CSUM_BLANK, NET_ST_TX_CSUM_FIXUP, NET_ST_TX_MCAST_OPS,
	NET_ST_TX_ERR_RSPS,
	NET_ST_TX_ERR_FIRST,                             /* + enum net_tx_err */
	NET_ST_TX_ERR_LAST = NET_ST_TX_ERR_FIRST + NET_TX_F_COUNT - 1,
	NET_ST_TX_CREDIT_WAITS, NET_ST_TX_PORT_BUSY, NET_ST_TX_PORT_DROPS,
	NET_ST_TX_RESENT,
	NET_ST_RX_PACKETS, NET_ST_RX_BYTES, NET_ST_RX_SLOTS, NET_ST_RX_GSO,
	NET_ST_RX_HASH, NET_ST_RX_CSUM_SW, NET_ST_RX_ERR_RSPS,
	NET_ST_RX_ERR_FIRST,                             /* + enum net_rx_err */
	NET_ST_RX_ERR_LAST = NET_ST_RX_ERR_FIRST + NET_RX_E_COUNT - 1,
	NET_ST_RX_WAIT_SLOTS, NET_ST_RX_PORT_ERRORS,
	NET_ST_RX_STEER_OUT, NET_ST_RX_STEER_IN,
	NET_ST_BATCHES, NET_ST_NOTIFIES, NET_ST_GCOPY_CALLS, NET_ST_GCOPY_SEGS,
	NET_ST_GCOPY_ERRORS, NET_ST_SLEEPS, NET_ST_LOOPS, NET_ST_EVENTS,
	NET_ST_RING_HALTED, NET_ST_NOTIFY_ERRORS, NET_ST_SPIN_HITS,
	NET_ST_SPIN_PAUSES,
	/* The port's own counters (struct net_port_stats), copied in. */
	NET_ST_PORT_RX_OVERSIZE, NET_ST_PORT_RX_ERRORS, NET_ST_PORT_TX_DROPPED,
	NET_ST_PORT_TX_ERRORS,
	NET_ST_COUNT
};

/* Written by one queue thread with relaxed atomic stores, read by anyone
 * with relaxed loads (net_stats_snapshot): no locks on the data path. */
struct net_stats {
	uint64_t v[NET_ST_COUNT];
};

static inline void net_stat_add(struct net_stats *s, enum net_stat k,
				uint64_t n)
{
	__atomic_store_n(&s->v[k], __atomic_load_n(&s->v[k], __ATOMIC_RELAXED)
			 + n, __ATOMIC_RELAXED);
}
static inline void net_stat_set(struct net_stats *s, enum net_stat k,
				uint64_t n)
{
	__atomic_store_n(&s->v[k], n, __ATOMIC_RELAXED);
}

const char *net_stat_name(enum net_stat k);
const char *net_tx_err_name(enum net_tx_err e);
const char *net_rx_err_name(enum net_rx_err e);
void net_stats_snapshot(const struct net_stats *s, struct net_stats *out);
/* Add @s's counters into @sum (a private, unshared struct), except the
 * port's (NET_ST_PORT_*: cumulative per port queue across connections). */
void net_stats_add_totals(struct net_stats *sum, const struct net_stats *s);
/* Print "<prefix><name>=<value>\n" for every counter. */
void net_stats_print(FILE *f, const char *prefix, const struct net_stats *s);

/* ---- frames (frame.c) ---- */

/*
 * A guest TX frame with NETTXF_csum_blank (or GSO): find the L4 header of
 * the private copy @data (Ethernet, one optional VLAN tag, IPv4 or IPv6
 * with no extension headers, TCP or UDP) and set vnet's NEEDS_CSUM,
 * csum_start, csum_offset (and hdr_len for TCP). With @recalc, also write
 * the pseudo-header checksum into the L4 checksum field (a GSO frame
 * whose frontend did not mark it partial, as xen-netback fixes it up).
 * -EPROTONOSUPPORT if the headers are not of those kinds or truncated.
 * Reads and writes within @len only.
 */
int net_frame_csum_setup(uint8_t *data, uint32_t len,
			 struct virtio_net_hdr *vnet, bool recalc);
/* Complete a NEEDS_CSUM frame's checksum in software (for a guest that
 * cannot take partial checksums) and clear the flag. -EINVAL if
 * csum_start/csum_offset point outside @len. */
int net_frame_csum_complete(uint8_t *data, uint32_t len,
			    struct virtio_net_hdr *vnet);
/* true if the frame's ethertype (after one VLAN tag) is IPv6. */
bool net_frame_is_ipv6(const uint8_t *data, uint32_t len);

/* ---- TX decoding (tx.c) ---- */

/* One TX ring slot: a request or an extra-info segment. */
union net_tx_slot {
	struct netif_tx_request req;
	struct netif_extra_info extra;
};

struct net_tx_limits {
	uint32_t max_slots;     /* data slots accepted (NET_TX_MAX_SLOTS) */
	uint32_t fatal_slots;   /* beyond: fatal (NET_TX_FATAL_SLOTS), at
	                         * least max_slots, at most
	                         * NET_TX_FATAL_SLOTS_MAX */
};

enum net_tx_verdict {
	NET_TX_SEND,    /* a frame: copy its data slots and send it */
	NET_TX_CTRL,    /* a multicast add/del: no frame, OKAY or ERROR */
	NET_TX_DROP,    /* error responses for its nslots slots */
	NET_TX_FATAL,   /* broken ring protocol: fail the device */
};

/* One decoded packet. Slots: [0] first request, [1 .. nextras] extras,
 * then data slots [1 + nextras .. nslots - 1]. */
struct net_tx_pkt {
	enum net_tx_verdict verdict;
	enum net_tx_err err;        /* DROP and FATAL: why */
	uint32_t nslots;            /* ring slots used (not for FATAL) */
	uint32_t nextras;
	uint32_t len;               /* frame bytes (the first slot's size) */
	uint32_t first_len;         /* bytes in the first slot's page */
	uint16_t flags;             /* the first slot's NETTXF_* */
	bool gso;
	uint8_t gso_type;           /* XEN_NETIF_GSO_TYPE_TCPV4/6 */
	uint16_t gso_size;
	bool mcast_add, mcast_del;
	uint8_t mcast_addr[6];
};

/*
 * Decode the packet starting at @s[0] from @n private copies of ring
 * slots: all the frontend published, or NET_TX_WINDOW of them. A chain
 * (more_data or extra-info) running past @n is FATAL. Validates sizes,
 * offsets, slot counts, extras (GSO type/size, multicast, hash ignored,
 * others refused). Pure: any thread, no side effects. @n >= 1.
 */
enum net_tx_verdict net_tx_decode(const union net_tx_slot *s, uint32_t n,
				  const struct net_tx_limits *lim,
				  struct net_tx_pkt *p);

/*
 * Where a SEND packet's frame (@p, decoded from @s) starts in a queue's
 * TX buffers, at or after @used bytes: the grant copy of a data slot into
 * a range that straddles two of our pages is split in two by gntdev, each
 * half pinning a page and costing Xen a copy operation. With data slots
 * after the first, the first of them lands at its own in-page offset, so
 * that a run of page-contiguous slots (a frag of a GSO frame) lands page
 * by page; the start moves less than a page. A frame of one slot starts
 * at @used. Pure.
 */
uint32_t net_tx_place(uint32_t used, const union net_tx_slot *s,
		      const struct net_tx_pkt *p);

/*
 * Snapshot @r's request producer and copy up to @max unconsumed slots
 * (from req_cons, not consuming them) into @out; *count says how many.
 * -EIO for an impossible producer (the ring must be halted).
 */
int net_tx_peek(struct xb_back_ring *r, union net_tx_slot *out, uint32_t max,
		uint32_t *count);

/* ---- RX building (rx.c) ---- */

/* What the guest negotiated for what it receives. */
struct net_rx_guest {
	bool sg;          /* feature-sg: frames over several pages */
	bool gso4, gso6;  /* feature-gso-tcpv4 / -tcpv6 */
	bool csum;        /* partial checksums (no feature-no-csum-offload) */
	bool csum6;       /* feature-ipv6-csum-offload */
};

union net_rx_slot {
	struct netif_rx_request req;
	struct netif_rx_response rsp;
	struct netif_extra_info extra;
};

/* How one frame goes into the RX ring. */
struct net_rx_plan {
	enum net_rx_err err;    /* NET_RX_OK or why it is dropped */
	uint32_t nslots;        /* ring requests it takes */
	uint32_t ndata;         /* of which data pages */
	uint16_t flags;         /* first response's NETRXF_* */
	bool sw_csum;           /* complete the checksum before copying */
	bool gso;
	uint8_t gso_type;       /* XEN_NETIF_GSO_TYPE_* */
	uint16_t gso_size;
	bool hash;
	uint8_t hash_type;      /* _XEN_NETIF_CTRL_HASH_TYPE_* (bit number) */
	uint32_t hash_value;
};

/*
 * Plan frame @f for guest @g: pages needed, flags from the vnet header,
 * GSO extra (if the guest takes that type), hash extra (if @hash_type
 * is not 0: the XEN_NETIF_CTRL_HASH_TYPE_* mask bit used). Pure.
 */
void net_rx_plan(const struct net_frame *f, const struct net_rx_guest *g,
		 uint32_t hash_type, uint32_t hash_value,
		 struct net_rx_plan *p);

/*
 * Write the @p->nslots responses of one frame of @len bytes into @out,
 * given the private copies of the requests they answer (@reqs, same
 * order: a response goes in its request's slot and echoes its id). Data
 * slot i holds bytes [i * page, ...); with @failed, every data response
 * carries NETIF_RSP_ERROR (flags kept so the guest can skip the chain).
 * Pure.
 */
void net_rx_build_rsps(const struct net_rx_plan *p, uint32_t len,
		       bool failed, const struct netif_rx_request *reqs,
		       union net_rx_slot *out);

/* ---- one queue (queue.c) ---- */

struct net_state_queue;

struct net_queue_config {
	struct xb_hv *hv;
	domid_t domid;                 /* the frontend's domain */
	unsigned int index;            /* queue number */
	grant_ref_t tx_ref, rx_ref;
	evtchn_port_t tx_evtchn, rx_evtchn; /* equal: one shared channel */
	bool rx_notify;                /* feature-rx-notify (informational) */
	const struct net_port_ops *port_ops;
	struct net_port *port;         /* enabled; we use queue @index */
	struct net_rx_guest guest;
	bool mcast_ctrl;               /* filter RX multicast with @mcast */
	struct net_tx_limits tx_limits;
	uint64_t credit_bytes;         /* rate: 0 unlimited */
	uint64_t credit_usec;
	struct net_hash *hash;         /* RX hash extra; NULL: none */
	struct net_steer *steer;       /* RX steering by the hash mapping
	                                * between the vif's queues; NULL:
	                                * none (one queue, no ctrl ring) */
	unsigned int nr_queues;        /* the vif's queues (with @steer) */
	struct net_mcast *mcast;       /* shared by the vif's queues ... */
	pthread_mutex_t *mcast_lock;   /* ... under this lock */
	int alert_fd;                  /* eventfd written when the queue fails */
	uint32_t rx_stall_ms;          /* 0: NET_DEFAULT_RX_STALL_MS */
	uint32_t poll_us;              /* ports without fd: poll period */
	uint32_t poll_max_us;          /* ... backed off to this when idle */
	uint32_t spin_us;              /* after work, look for more this long
	                                * before sleeping (0: sleep at once),
	                                * gated (NET_SPIN_MISSES) */
	/* Ring indices, request copies and the TX frame journal (state.h):
	 * required, with the queue's NET_STATE_TX_BUF_BYTES of TX buffers
	 * (net_state_tx_bufs). */
	struct net_state_queue *state;
	uint8_t *tx_bufs;
	/* Take over the rings from @state (a predecessor's) instead of
	 * starting afresh. */
	bool adopt;
};

struct net_queue;

/*
 * Map both rings, bind the event channel(s), allocate the frame buffers
 * and start the queue thread. Fresh, the state records the rings' start
 * indices. Adopting, the rings' private indices come from the state
 * (state.h "Recovery"): whole responses are published, the TX slots
 * consumed and unanswered are replayed, the TX frames answered and not
 * sent are sent, and the RX buffers consumed and unanswered reused by
 * the thread's first batches, and both event channels are kicked once. On failure everything is undone: -EINVAL
 * (bad grant), -ESRCH, -ENOMEM, -EUCLEAN (adopting: indices or a frame
 * journal that do not add up; nothing written to the rings). Logs one line on failure.
 */
int net_queue_start(const struct net_queue_config *cfg,
		    struct net_queue **out);
/*
 * Stop the thread, unmap the rings, unbind the ports, free. Safe when the
 * frontend is gone. With @totals, the final counters are added to it.
 */
void net_queue_stop(struct net_queue *q, struct net_stats *totals);
const struct net_stats *net_queue_stats(const struct net_queue *q);
/* If the queue failed (frontend broke the ring protocol): true, and a
 * static string saying why. Any thread. */
bool net_queue_failed(const struct net_queue *q, const char **why);

/* ---- the reference port (port.c) ---- */

/*
 * `loop`: what the guest transmits on queue q comes back to it on queue
 * q's RX, metadata included (the port's SPDK-null-bdev: a fixture for
 * tests and for measuring the data path alone). 256 frames per queue; a
 * frame arriving at a full queue is dropped (tx_dropped).
 */
extern const struct net_port_ops net_port_loop_ops;

#endif /* NETBACK_NETBACK_H */
