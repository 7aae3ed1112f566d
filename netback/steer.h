/* SPDX-License-Identifier: MIT */
/*
 * RX queue steering hand-off (steer.c): a frame that queue s read from
 * its port but that the frontend's hash mapping table
 * (XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING) sends to queue d is copied into
 * a bounded single-producer/single-consumer ring for the pair (s, d);
 * queue d's thread takes it from there as if it came from its own port.
 *
 * One ring per ordered pair of distinct queues, preallocated at connect
 * (NET_STEER_SLOTS slots, each with its own frame buffer, reserved
 * without being touched: pages are committed as frames use them). The
 * producer index is written only by thread s, the consumer index only by
 * thread d: no lock, one release store per side per batch. A full ring
 * refuses the frame (the caller drops and counts it). Each queue has an
 * eventfd that producers write once per batch that gave it frames; its
 * thread polls it next to its port.
 *
 * Conventions: 0 or -errno; nothing here logs or allocates after create.
 */
#ifndef NETBACK_STEER_H
#define NETBACK_STEER_H

#include <stdbool.h>
#include <stdint.h>

#include "port.h"

/* Per pair; a power of two. 64 holds a burst of two queues' worth of
 * 32 frames in flight all steered one way (test_net_dpdk_e2e's window);
 * 32 dropped frames of such bursts when the target thread was slow to
 * run, in CI. */
#define NET_STEER_SLOTS 64u

struct net_steer;

/* What travels with a frame besides its bytes: the hash the producer
 * computed (type 0: none), so the consumer does not hash it again. */
struct net_steer_meta {
	uint32_t hash_type;              /* XEN_NETIF_CTRL_HASH_TYPE_* bit */
	uint32_t hash_value;
};

/*
 * Rings for @nr_queues queues (2..NET_PORT_MAX_QUEUES) and one eventfd
 * per queue. -EINVAL for a bad count, -ENOMEM, or -errno from eventfd;
 * nothing is left allocated on failure. Main thread; logs nothing.
 */
int net_steer_create(unsigned int nr_queues, struct net_steer **out);
/* Free everything. Every queue thread using @s must have stopped. NULL
 * ok. */
void net_steer_destroy(struct net_steer *s);

/* Queue @q's wake-up eventfd (readable when a producer gave it frames
 * since the last net_steer_ack). */
int net_steer_fd(const struct net_steer *s, unsigned int q);

/*
 * Producer side, thread @src only: copy frame @f (its len bytes and vnet
 * header) with @meta into ring (@src, @dst). false if that ring is full
 * (nothing copied). The consumer sees it after net_steer_publish.
 */
bool net_steer_push(struct net_steer *s, unsigned int src, unsigned int dst,
		    const struct net_frame *f, const struct net_steer_meta *meta);
/* Producer side, thread @src: make what @src pushed visible and write
 * the eventfd of every queue that got frames since the last call (one
 * write per target). */
void net_steer_publish(struct net_steer *s, unsigned int src);

/*
 * Consumer side, thread @dst only: point up to @max frames at the oldest
 * unreleased frames in ring (@src, @dst) (f[i].data points into the
 * ring: valid until net_steer_release), with their metadata in @meta.
 * Returns the count (0: empty). The frames stay owned by the ring.
 */
unsigned int net_steer_peek(struct net_steer *s, unsigned int src,
			    unsigned int dst, struct net_frame *f,
			    struct net_steer_meta *meta, unsigned int max);
/* Consumer side: give the @n oldest peeked frames back to the producer. */
void net_steer_release(struct net_steer *s, unsigned int src,
		       unsigned int dst, unsigned int n);
/* Consumer side: true if any ring towards @dst holds frames. */
bool net_steer_pending(const struct net_steer *s, unsigned int dst);
/* Consumer side: reset @dst's eventfd (call before looking at the
 * rings, so that a push after the look wakes the next poll). */
void net_steer_ack(struct net_steer *s, unsigned int dst);

#endif /* NETBACK_STEER_H */
