/* SPDX-License-Identifier: MIT */
/*
 * uback-net control plane helpers that the data path consults:
 *
 *   net_hash   Toeplitz hashing as configured over the control ring
 *              (feature-ctrl-ring, xen/io/netif.h "Control ring"): flags,
 *              key, mapping table. RX threads read it; the ctrl thread
 *              writes it. Readers take a consistent snapshot (seqcount),
 *              never a lock.
 *   net_ctrl   the control ring consumer: copies each request, validates
 *              it, updates a net_hash, answers with XEN_NETIF_CTRL_STATUS_*.
 *   net_mcast  the multicast filter list (XEN_NETIF_EXTRA_TYPE_MCAST_ADD /
 *              _DEL from the guest's TX ring, feature-multicast-control).
 *   net_credit the toolstack's `rate` limit ("<bytes>,<usec>": credit of
 *              <bytes> every <usec>), as xen-netback applies it to TX.
 *
 * Conventions: 0 or -errno; nothing here logs or allocates after init.
 * Guest-controlled values (ctrl requests, mcast addresses) are validated;
 * bad ones give an error status / -EINVAL, never a crash.
 */
#ifndef NETBACK_CTRL_H
#define NETBACK_CTRL_H

#include <stdbool.h>
#include <stdint.h>

#include <xen/xen.h>
#include <xen/io/netif.h>

#include "uback/hv.h"
#include "uback/ring.h"

/* ---- Toeplitz hash state ---- */

#define NET_HASH_KEY_MAX       40u     /* XEN_NETBK_MAX_HASH_KEY_SIZE */
#define NET_HASH_MAPPING_MAX   128u    /* XEN_NETBK_MAX_HASH_MAPPING_SIZE */

struct net_hash {
	uint32_t seq;                  /* seqcount: odd while being written */
	uint32_t alg;                  /* XEN_NETIF_CTRL_HASH_ALGORITHM_* */
	uint32_t flags;                /* XEN_NETIF_CTRL_HASH_TYPE_* enabled */
	uint32_t key_len;
	uint8_t key[NET_HASH_KEY_MAX];
	uint32_t mapping_size;         /* 0: no mapping, queue = hash % n */
	uint32_t mapping[NET_HASH_MAPPING_MAX];
};

/* All off: algorithm NONE, no flags, zero key, no mapping. Before any
 * reader runs. After that, only net_ctrl_handle writes a net_hash (from
 * one thread at a time); key octets past key_len are always zero. */
void net_hash_init(struct net_hash *h);

/* Toeplitz over @data with @key (as the Microsoft RSS specification). */
uint32_t net_toeplitz(const uint8_t *key, uint32_t key_len,
		      const uint8_t *data, uint32_t len);

/*
 * Hash an Ethernet frame as configured: IPv4/IPv6 addresses, plus TCP
 * ports where the flags ask for them. Returns true with @hash and @type
 * (XEN_NETIF_CTRL_HASH_TYPE_*, the one used) when hashing is on and the
 * frame is of a configured type; false otherwise. Reads at most @len
 * bytes. Any thread (seqcount snapshot; if a writer stays mid-update for
 * a bounded number of retries, false rather than a spin).
 * Parsed: Ethernet, at most one 802.1Q/802.1ad tag, IPv4 (IHL checked;
 * any fragment hashes as plain IPv4) or IPv6 (TCP only directly after
 * the fixed header). Unconfigured TCP falls back to the address type.
 */
bool net_hash_frame(const struct net_hash *h, const uint8_t *frame,
		    uint32_t len, uint32_t *hash, uint32_t *type);

/* The queue for @hash among @nr_queues: mapping[hash % mapping_size]
 * (bounded by nr_queues: an entry beyond it is taken modulo nr_queues)
 * or hash % nr_queues without a mapping; 0 if nr_queues is 0. Any
 * thread (seqcount snapshot). */
unsigned int net_hash_queue(const struct net_hash *h, uint32_t hash,
			    unsigned int nr_queues);
/* The RX steering lookup: true with *@q = mapping[hash % mapping_size]
 * (modulo nr_queues) when the frontend set a mapping table; false when
 * it did not (mapping_size 0), for nr_queues 0, or if no stable snapshot
 * was seen (bounded retries, never a spin). Any thread. */
bool net_hash_map(const struct net_hash *h, uint32_t hash,
		  unsigned int nr_queues, unsigned int *q);

/* ---- control ring ---- */

struct net_ctrl;
struct net_state_ctrl;

struct net_ctrl_config {
	struct xb_hv *hv;
	domid_t domid;                 /* the frontend */
	grant_ref_t ring_ref;          /* ctrl-ring-ref */
	evtchn_port_t remote_port;     /* event-channel-ctrl */
	unsigned int nr_queues;        /* bounds mapping table entries */
	struct net_hash *hash;         /* state the requests update */
	/* Indices and the request being answered (state.h); NULL: private
	 * (nothing to adopt from later). Required with @adopt. */
	struct net_state_ctrl *state;
	/* Take over the ring from @state (a predecessor's). */
	bool adopt;
};

/*
 * Map the ctrl ring, bind its event channel. -EINVAL/-ESRCH from the map
 * or bind; everything undone on failure. Logs one line on failure.
 * Requests the frontend posted before the bind raised no event: call
 * net_ctrl_process once after opening. Adopting (cfg->adopt), the ring's
 * indices come from cfg->state: whole responses are published, a request
 * the predecessor consumed and did not answer is applied again and
 * answered (state.h), the frontend is notified; -EUCLEAN (nothing
 * written) if the indices do not fit the ring.
 */
int net_ctrl_open(const struct net_ctrl_config *cfg, struct net_ctrl **out);
/* Unmap, unbind, free. NULL ok. */
void net_ctrl_close(struct net_ctrl *c);
/* The event channel fd to poll. */
int net_ctrl_fd(const struct net_ctrl *c);
/*
 * Consume the event, answer every pending request, publish the
 * responses and notify once. Returns the number handled, or -EIO when
 * the frontend broke the ring protocol (impossible producer, including
 * more than a ring's worth of requests in one call, which it could only
 * post by overwriting slots it never saw answered): the requests before
 * the fault are answered, the ring is halted and every later call
 * returns -EIO; the caller then fails the device (xb_dev_fatal).
 * Caller's thread (the main thread), the one writer of cfg->hash.
 */
int net_ctrl_process(struct net_ctrl *c);

/*
 * One request, without a ring: validate @req, apply it to @h (and, for
 * SET_HASH_KEY / SET_HASH_MAPPING, read the guest's granted page with
 * @gnt from @domid), fill @rsp. Exposed for tests and fuzzing; @gnt may
 * be NULL, then requests that need a grant fail with
 * XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER. Everything from the guest is
 * copied (grant copy, never a mapping) and validated in private memory
 * before @h changes, so a refused request leaves @h as it was.
 * Statuses, as netif.h and Linux xen-netback:
 *   SET_HASH_ALGORITHM  NONE or TOEPLITZ, else INVALID_PARAMETER
 *   GET_HASH_FLAGS      NOT_SUPPORTED while the algorithm is NONE
 *   SET_HASH_FLAGS      INVALID_PARAMETER for unknown bits or alg NONE
 *   SET_HASH_KEY        BUFFER_OVERFLOW over NET_HASH_KEY_MAX (netif.h;
 *                       Linux says INVALID_PARAMETER), INVALID_PARAMETER
 *                       if the copy fails; size 0 clears the key
 *   GET_HASH_MAPPING_SIZE  data = NET_HASH_MAPPING_MAX
 *   SET_HASH_MAPPING_SIZE  INVALID_PARAMETER over the max; 0 = modular;
 *                       the new table is zero filled
 *   SET_HASH_MAPPING    BUFFER_OVERFLOW for a sub-table over the max,
 *                       INVALID_PARAMETER if offset + size (no wrap)
 *                       exceeds the table size, the copy fails or an
 *                       entry >= @nr_queues; size 0 is a no-op
 *   gref mapping ops, INVALID and unknown types: NOT_SUPPORTED.
 * id and type are echoed; data is 0 unless stated. Called from the one
 * thread that writes @h.
 */
void net_ctrl_handle(struct net_hash *h, unsigned int nr_queues,
		     struct xb_gnt *gnt, domid_t domid,
		     const struct xen_netif_ctrl_request *req,
		     struct xen_netif_ctrl_response *rsp);

/* ---- multicast filter ----
 * One writer thread (the TX path: add/del); net_mcast_pass from any
 * thread (relaxed atomics: a frame racing a change is judged against the
 * old or the new list).
 */

#define NET_MCAST_MAX 64u              /* as xen-netback's XEN_NETBK_MCAST_MAX */

struct net_mcast {
	uint32_t count;
	uint8_t addr[NET_MCAST_MAX][6];
	bool overflow;                 /* more adds than fit: pass all */
};

void net_mcast_init(struct net_mcast *m);
/* -EINVAL for a non-multicast address. Adding a listed address is a
 * no-op; adding to a full list sets overflow and succeeds (the guest
 * does get the group's frames). */
int net_mcast_add(struct net_mcast *m, const uint8_t addr[6]);
/* -ENOENT if absent, unless the list overflowed (the address may be one
 * that did not fit): then 0. overflow stays set until net_mcast_init. */
int net_mcast_del(struct net_mcast *m, const uint8_t addr[6]);
/* true if a frame to @dst may go to the guest: unicast and broadcast
 * always; multicast if listed or the list overflowed. */
bool net_mcast_pass(const struct net_mcast *m, const uint8_t dst[6]);

/* ---- rate limit (toolstack `rate` key) ---- */

struct net_credit {
	uint64_t bytes;        /* credit per interval; 0: unlimited */
	uint64_t usec;         /* interval */
	uint64_t remaining;    /* credit left in this interval */
	uint64_t next_ns;      /* when the next interval starts */
};

/* Parse "<bytes>,<usec>" as libxl writes it (bytes >= 1, usec >= 1,
 * both within u64 and usec <= 2^32). Strict: decimal digits and one
 * comma only. -EINVAL if malformed (libxl writes "0,<usec>" for a rate
 * below one byte per interval: also -EINVAL); outputs untouched then. */
int net_credit_parse(const char *s, uint64_t *bytes, uint64_t *usec);
void net_credit_init(struct net_credit *c, uint64_t bytes, uint64_t usec);
/*
 * May a packet of @len bytes go now? Refills at interval boundaries. As
 * xen-netback, a packet larger than the whole credit is let through once
 * the interval's credit is full, so it cannot wedge the queue. On false,
 * @wait_ns says how long until it may (@wait_ns may be NULL).
 * The first call opens an interval; after an idle period the next one
 * opens at the first packet (as xen-netback's credit window). Credit
 * does not accumulate across intervals. bytes 0: always true. One
 * thread (the TX queue's); @now_ns from a monotonic clock.
 */
bool net_credit_take(struct net_credit *c, uint64_t now_ns, uint32_t len,
		     uint64_t *wait_ns);

#endif /* NETBACK_CTRL_H */
