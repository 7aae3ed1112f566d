/* SPDX-License-Identifier: MIT */
/*
 * netfront: a simulated Xen network frontend on the xensim guest library.
 *
 * It plays a PV guest's xen-netfront against a real backend (uback-net):
 * the XenBus handshake, TX and RX rings in granted guest pages per queue,
 * event channels (one per queue or split tx/rx), the optional control ring
 * with Toeplitz hash configuration, and the netif packet protocol
 * (xen/io/netif.h): multi-slot packets (NETTXF/NETRXF_more_data), GSO and
 * hash extra-info slots, checksum flags, multicast add/del extras.
 *
 * Every feature is switchable in struct netfront_config. A zero config
 * (apart from dom/devid) is the legacy frontend: one queue, flat keys
 * (tx-ring-ref, rx-ring-ref, event-channel), request-rx-copy=1 and
 * feature-rx-notify=1 (both mandatory for current backends), no SG, no
 * GSO, checksum offload in its netif default (the backend may hand us
 * blank checksums and we may send them for IPv4), no ctrl ring.
 *
 * Memory: each queue owns a TX pool (one page per TX request id, granted
 * read-only once) and an RX pool (one page per RX ring slot, granted
 * writable once); the pages are reused for every frame and their grants
 * are only ended at close. The data path neither allocates nor logs.
 *
 * Link: the backend's Connected state is waited for at connect. A later
 * backend state change (Closing, Closed, a restart's InitWait) is seen by
 * netfront_poll, which then reports -ENOTCONN; this library does not
 * reconnect (unlike blkfront): a network frontend may drop frames.
 *
 * Conventions: 0 or -errno; out-parameters untouched on failure; nothing
 * logs. A struct netfront is owned by one thread (no locking inside),
 * except that different queues' TX and RX calls (netfront_tx*, _rx*,
 * _queue_* with distinct q) may run on different threads, as long as the
 * control calls (connect, poll, ctrl, close) run on none of them then.
 */
#ifndef NETFRONT_H
#define NETFRONT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <xen/xen.h>

#ifdef __cplusplus
extern "C" {
#endif

struct xg_dom;
struct netfront;
struct virtio_net_hdr;

/* Upper bounds of this implementation. */
#define NETFRONT_MAX_QUEUES    16u
#define NETFRONT_MAX_FRAME     0xFFFFu   /* XEN_NETIF_MAX_TX_SIZE */
/* Data slots of one packet: 64 KiB over 4 KiB pages plus one for an
 * unaligned start; XEN_NETIF_NR_SLOTS_MIN is 18 including extras. */
#define NETFRONT_MAX_SLOTS     17u
#define NETFRONT_HASH_KEY_MAX  40u
#define NETFRONT_HASH_MAP_MAX  128u

/* GSO type of a frame (XEN_NETIF_GSO_TYPE_* values). */
enum netfront_gso {
	NETFRONT_GSO_NONE = 0,
	NETFRONT_GSO_TCPV4 = 1,
	NETFRONT_GSO_TCPV6 = 2,
};

/* Checksum state of a frame. */
enum netfront_csum {
	NETFRONT_CSUM_NONE = 0,      /* checksums complete, not verified */
	NETFRONT_CSUM_PARTIAL,       /* L4 checksum blank: pseudo-header sum
	                              * only (NETTXF/NETRXF_csum_blank) */
	NETFRONT_CSUM_VALIDATED,     /* checksums verified (data_validated) */
};

/* Metadata of a frame, the netif equivalent of a virtio_net_hdr. */
struct netfront_meta {
	uint8_t gso_type;            /* enum netfront_gso */
	uint16_t gso_size;           /* MSS when gso_type is set */
	uint8_t csum;                /* enum netfront_csum */
	/* RX only: a XEN_NETIF_EXTRA_TYPE_HASH extra came with the frame. */
	bool hash_valid;
	uint8_t hash_type;           /* _XEN_NETIF_CTRL_HASH_TYPE_* bit no. */
	uint8_t hash_alg;            /* XEN_NETIF_CTRL_HASH_ALGORITHM_* */
	uint32_t hash;
};

/* Toeplitz hash configuration sent over the control ring. */
struct netfront_hash_config {
	uint32_t flags;              /* XEN_NETIF_CTRL_HASH_TYPE_* */
	uint32_t key_len;            /* <= NETFRONT_HASH_KEY_MAX */
	uint8_t key[NETFRONT_HASH_KEY_MAX];
	uint32_t mapping_size;       /* 0: no table (hash % queues) */
	uint32_t mapping[NETFRONT_HASH_MAP_MAX];
};

struct netfront_config {
	struct xg_dom *dom;          /* the guest; must outlive netfront */
	unsigned int devid;          /* device/vif/<devid> of the guest */

	/* Queues wanted (0: 1 and no multi-queue-num-queues key; >= 1:
	 * write the key when the backend offers multi-queue). */
	unsigned int nr_queues;
	bool split_evtchn;           /* event-channel-tx/-rx if offered */
	bool sg;                     /* feature-sg (needed for frames over
	                              * one page and for GSO) */
	bool gso_tcpv4;              /* feature-gso-tcpv4 */
	bool gso_tcpv6;              /* feature-gso-tcpv6 */
	bool ipv6_csum;              /* feature-ipv6-csum-offload */
	bool no_csum_offload;        /* feature-no-csum-offload=1: RX frames
	                              * must carry complete checksums; TX
	                              * never sends blank ones either */
	bool multicast_control;      /* request-multicast-control if offered */
	bool ctrl_ring;              /* ctrl-ring-ref + event-channel-ctrl
	                              * if feature-ctrl-ring is offered */
	/* With ctrl_ring: configure Toeplitz hashing after connecting
	 * (errors make connect fail with -EPROTO). NULL: leave it off. */
	const struct netfront_hash_config *hash;

	/* Hostile/legacy knobs: leave false for a Linux-like frontend. */
	bool no_rx_notify;           /* omit feature-rx-notify */
	bool no_rx_copy;             /* omit request-rx-copy */

	/* The caller reaps TX completions by polling (netfront_queue_reap
	 * in a loop, as the frame generator does): rsp_event is kept out
	 * of reach, so the backend never notifies for TX responses. */
	bool tx_poll;

	unsigned int rx_fill;        /* RX requests kept posted per queue
	                              * (0: the ring size, 256) */
	int timeout_ms;              /* each XenBus wait (0: 30000) */
	/* key, value, ... (NULL-terminated) written under the frontend
	 * directory after the protocol keys, in the same transaction; a
	 * NULL value removes the key. Hostile tests only. */
	const char *const *extra_kv;
};

/* What was negotiated and what the backend offered. */
struct netfront_info {
	domid_t backend_id;
	uint8_t mac[6];              /* frontend dir `mac` (0 if absent) */
	unsigned int mtu;            /* frontend dir `mtu` (0 if absent) */
	unsigned int nr_queues;
	unsigned int tx_ents, rx_ents;   /* slots per ring */
	bool split_evtchn, sg, gso_tcpv4, gso_tcpv6, ipv6_csum;
	bool tx_csum;                /* we may send blank checksums */
	bool rx_csum;                /* backend may send blank checksums */
	bool multicast_control, ctrl_ring, hash;

	/* Backend offers. */
	unsigned int be_max_queues;
	bool be_sg, be_gso_tcpv4, be_gso_tcpv6, be_ipv6_csum, be_rx_copy;
	bool be_split_evtchn, be_ctrl_ring, be_multicast_control;
	bool be_dynamic_multicast_control;
};

/* Per-queue counters (cumulative). */
struct netfront_stats {
	uint64_t tx_frames, tx_bytes, tx_slots;
	uint64_t tx_gso;             /* frames sent with a GSO extra */
	uint64_t tx_errors;          /* responses with ERROR/DROPPED */
	uint64_t tx_busy;            /* netfront_tx refused: ring/pool full */
	uint64_t tx_mcast;           /* multicast extras sent */
	uint64_t rx_frames, rx_bytes, rx_slots;
	uint64_t rx_gso;             /* frames with a GSO extra */
	uint64_t rx_hash;            /* frames with a hash extra */
	uint64_t rx_csum_blank, rx_data_valid;
	uint64_t rx_errors;          /* malformed responses: frame dropped */
	uint64_t rx_backend_errors;  /* responses with a negative status */
	uint64_t bad_tx_responses;   /* unknown id, impossible producer */
	uint64_t notifies_sent, events;
	uint64_t tx_events;          /* of events: on this queue's split TX
	                              * channel (counted on its queue) */
};

/*
 * Connect device @cfg->devid of @cfg->dom: the frontend directory must
 * exist (xg_device_create) with `backend` and `backend-id`. Waits
 * (cfg->timeout_ms each step) for the backend's InitWait, reads its
 * offers, negotiates, sets up rings, pools and event channels, publishes
 * the keys in one transaction, goes Connected (as Linux xen-netfront does:
 * no Initialised step), waits for the backend's Connected, fills the RX
 * rings, then configures hashing when asked. On failure everything is
 * undone (frontend state Closed): -ETIMEDOUT, -ECONNREFUSED (backend went
 * Closing/Closed), -ENOMEM/-ENOSPC (guest memory or grants), -EINVAL
 * (config), -EPROTO (backend refused the hash configuration), or an
 * xenstore error.
 */
int netfront_connect(const struct netfront_config *cfg,
		     struct netfront **out);

/*
 * Disconnect (Closing, wait for the backend's Closing/Closed, Closed,
 * wait for Closed, at most 5 s each), then end every grant, close every
 * event channel and free the guest pages. A grant the backend still holds
 * is leaked (counted in netfront_grant_leaks before the free) rather than
 * freed under it. Never fails. NULL ok.
 */
void netfront_close(struct netfront *nf);

void netfront_get_info(const struct netfront *nf, struct netfront_info *info);
void netfront_get_stats(const struct netfront *nf, unsigned int q,
			struct netfront_stats *out);

/*
 * Queue one frame on queue @q's TX ring (not visible to the backend until
 * netfront_kick / netfront_queue_kick). The frame (Ethernet header first,
 * 14..NETFRONT_MAX_FRAME bytes) is copied into the queue's granted TX
 * pages; with SG it spans as many slots as needed (more_data chain), and
 * a GSO frame is preceded by its GSO extra-info slot. @meta may be NULL
 * (no offload). Errors (nothing queued): -EAGAIN ring or TX pool full
 * (reap with netfront_poll/netfront_queue_reap), -EMSGSIZE (over one page
 * without SG, or over 0xFFFF bytes), -EOPNOTSUPP (GSO type or blank
 * checksum not negotiated), -EINVAL (bad queue, too short, gso_size 0),
 * -ENOTCONN.
 */
int netfront_tx(struct netfront *nf, unsigned int q,
		const struct netfront_meta *meta, const struct iovec *iov,
		unsigned int iovcnt);
/* Same, taking a virtio_net_hdr as the tap driver gives it. A blank IPv6
 * checksum without ipv6 offload, or any blank checksum without TX
 * checksum offload, is completed in software first (csum_start/offset
 * must lie within the first iovec). */
int netfront_tx_vnet(struct netfront *nf, unsigned int q,
		     const struct virtio_net_hdr *vnet,
		     const struct iovec *iov, unsigned int iovcnt);
/*
 * Zero-copy TX, as Linux netfront grants the skb's own pages instead of
 * copying: netfront_tx_buffers() points @iov (NETFRONT_MAX_SLOTS entries)
 * at the granted pool pages a frame of up to @max_len bytes would use,
 * *iovcnt of them, without taking them; the caller writes the frame
 * there (e.g. readv from a tap) and queues it with netfront_tx_commit()
 * and its real length, or simply drops it (nothing to undo). No other
 * TX call on queue @q in between. Errors as netfront_tx: -EAGAIN ring or
 * pool cannot hold a frame of @max_len (and its GSO extra), -EMSGSIZE,
 * -EINVAL, -ENOTCONN; commit also -EOPNOTSUPP (GSO or blank checksum not
 * negotiated: the caller completes nothing here, as the bytes are split
 * over pages). Same thread rules as netfront_tx.
 */
int netfront_tx_buffers(struct netfront *nf, unsigned int q, size_t max_len,
			struct iovec *iov, unsigned int *iovcnt);
int netfront_tx_commit(struct netfront *nf, unsigned int q,
		       const struct netfront_meta *meta, size_t len);
/* Free TX slots of queue @q: a frame of n data slots fits when n + 1
 * (the GSO extra) <= this. */
unsigned int netfront_tx_space(const struct netfront *nf, unsigned int q);

/*
 * Multicast filter (request-multicast-control negotiated): queue a
 * XEN_NETIF_EXTRA_TYPE_MCAST_ADD/_DEL extra on queue 0 behind a dummy
 * zero-length request, as netback expects. -EOPNOTSUPP if not
 * negotiated, -EINVAL for a unicast address, -EAGAIN ring full.
 */
int netfront_mcast(struct netfront *nf, bool add, const uint8_t mac[6]);

/* Publish queued TX requests (and RX refills) on every queue / queue @q;
 * notify the backend where its req_event asks for it. */
int netfront_kick(struct netfront *nf);
int netfront_queue_kick(struct netfront *nf, unsigned int q);

/*
 * Consume queue @q's TX responses (freeing their slots and pool pages)
 * and re-arm rsp_event. Returns how many frames completed.
 */
int netfront_queue_reap(struct netfront *nf, unsigned int q);
/*
 * For a tx_poll caller about to sleep: ask for one notification when all
 * that is outstanding on queue @q's TX ring has completed (the next reap
 * withdraws it). Not half, as netfront_queue_reap asks: a poller sleeps
 * only when its ring is full, and on a CPU it shares with the backend, a
 * wake-up at half preempts the backend mid-ring. true if responses
 * arrived meanwhile: reap instead of sleeping.
 */
bool netfront_queue_tx_arm(struct netfront *nf, unsigned int q);

/* A received frame. iov[] points into the queue's RX pages: valid until
 * the next netfront_rx on that queue (the pages are reposted then). */
struct netfront_rx_frame {
	struct netfront_meta meta;
	uint32_t len;
	unsigned int iovcnt;
	struct iovec iov[NETFRONT_MAX_SLOTS];
};

/*
 * Take the next complete frame of queue @q: 0 with @f filled, -EAGAIN
 * when none is complete. Malformed packets (bad status, offset + size
 * beyond the page, too many slots, unknown extra, a frame over 0xFFFF
 * bytes) are consumed, counted in rx_errors and skipped. The slots of the
 * previous frame are reposted to the backend first (published at the
 * next kick or when a quarter of the ring is waiting).
 */
int netfront_rx(struct netfront *nf, unsigned int q,
		struct netfront_rx_frame *f);
/* Copy a frame's data into @buf (at most @cap bytes); returns the bytes
 * copied. */
size_t netfront_rx_copy(const struct netfront_rx_frame *f, void *buf,
			size_t cap);
/* Fill a virtio_net_hdr for @f (csum_start/offset found by parsing the
 * frame; 0 or -EPROTO if a blank checksum's headers cannot be parsed). */
int netfront_rx_vnet(const struct netfront_rx_frame *f,
		     struct virtio_net_hdr *vnet);

/*
 * Control: drain event channel notifications (unmask them), reap TX on
 * every queue, and look at the backend state. Returns 0, or -ENOTCONN
 * once the backend left Connected (then the caller should close). Does
 * not consume RX frames (netfront_rx does).
 */
int netfront_poll(struct netfront *nf);

/* true when queue @q has RX responses or TX responses unconsumed: shared
 * memory only, no system call (for a brief spin before sleeping). */
bool netfront_queue_has_work(const struct netfront *nf, unsigned int q);
/* A fd readable when netfront_poll / the queues may have work (event
 * channels and the xenstore watch): for poll/epoll. */
int netfront_fd(const struct netfront *nf);
/* Wait until netfront_fd is readable, at most @timeout_ms (-1: forever).
 * 0 or -ETIMEDOUT. */
int netfront_wait(struct netfront *nf, int timeout_ms);

/*
 * Control ring (ctrl_ring negotiated). netfront_ctrl sends one request
 * and waits for its response (cfg timeout): 0 with @status
 * (XEN_NETIF_CTRL_STATUS_*) and @data, -EOPNOTSUPP without a ctrl ring,
 * -ETIMEDOUT, -EIO for a response with another id. Control thread only.
 */
int netfront_ctrl(struct netfront *nf, uint16_t type, uint32_t d0,
		  uint32_t d1, uint32_t d2, uint32_t *status, uint32_t *data);
/*
 * Configure Toeplitz hashing: SET_HASH_ALGORITHM(TOEPLITZ), GET_HASH_FLAGS
 * (the requested flags must be supported), SET_HASH_FLAGS, SET_HASH_KEY
 * (from a granted page), and when mapping_size > 0:
 * GET_HASH_MAPPING_SIZE, SET_HASH_MAPPING_SIZE, SET_HASH_MAPPING. Stops
 * at the first failure: -EPROTO (a non-success status; @failed_type, if
 * not NULL, names the request), or the error of netfront_ctrl. -EINVAL
 * for key_len/mapping_size beyond the maxima.
 */
int netfront_set_hash(struct netfront *nf,
		      const struct netfront_hash_config *h,
		      uint16_t *failed_type);

/* Grants that could not be ended (a backend still had them mapped). */
uint64_t netfront_grant_leaks(const struct netfront *nf);

/*
 * Wire helpers (no netfront needed; unit-tested):
 * netfront_meta_from_vnet: virtio_net_hdr -> meta (-EINVAL for an
 * unknown GSO type or gso_size 0 with GSO).
 * netfront_csum_offsets: parse Ethernet (+802.1Q), IPv4/IPv6 (extension
 * headers), TCP/UDP of @frame; csum_start = L4 header offset, csum_offset
 * = checksum field offset within it. -EPROTO if unparsable or not
 * TCP/UDP. Reads at most @len bytes.
 * netfront_csum_complete: compute the L4 checksum over
 * frame[csum_start..len) (the field must hold the pseudo-header sum, as
 * in a partial-checksum frame) and store it. -EINVAL if out of bounds.
 */
int netfront_meta_from_vnet(const struct virtio_net_hdr *vnet,
			    struct netfront_meta *meta);
int netfront_csum_offsets(const uint8_t *frame, size_t len,
			  uint16_t *csum_start, uint16_t *csum_offset);
int netfront_csum_complete(uint8_t *frame, size_t len, uint16_t csum_start,
			   uint16_t csum_offset);

#ifdef __cplusplus
}
#endif
#endif /* NETFRONT_H */
