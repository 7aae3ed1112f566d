/* SPDX-License-Identifier: MIT */
/*
 * Backend side of a Xen shared ring (xen/io/ring.h), ABI-neutral.
 *
 * xen/io/ring.h's macros are typed by one request/response union, so they
 * cannot serve a ring whose layout depends on the frontend's `protocol`
 * (x86_32-abi vs x86_64-abi). xb_back_ring keeps the same indices and
 * barrier discipline but addresses slots by byte size, so one consumer
 * serves every ABI; the kind code copies each request out of its slot
 * (then translates and validates the private copy).
 *
 * The shared page layout is ring.h's: req_prod, req_event, rsp_prod,
 * rsp_event, 48 bytes of padding, then the slot array. A ring may span
 * 2^order pages (blkif ring-page-order, ring-ref%u).
 *
 * Thread context: one thread owns a ring. Nothing logs.
 */
#ifndef UBACK_RING_H
#define UBACK_RING_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xen/xen.h>

#include <xen/io/ring.h>

/* Barriers for the code below. */
#define xb_mb()  __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define xb_rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define xb_wmb() __atomic_thread_fence(__ATOMIC_RELEASE)

/*
 * And for xen/io/ring.h's RING_* macros (frontends, tests). With the
 * default __XEN_INTERFACE_VERSION__ that header defines xen_mb() as the
 * kernel's mb(), which userspace lacks, and it does so whether or not
 * xen_mb() was defined before it: so override after including it.
 */
#undef xen_mb
#undef xen_rmb
#undef xen_wmb
#define xen_mb()  xb_mb()
#define xen_rmb() xb_rmb()
#define xen_wmb() xb_wmb()

#define XB_RING_HDR_SIZE 64u

/* Inside a spin loop polling a ring: lets the sibling hyperthread run and
 * tells the CPU this is a spin (no memory-order mis-speculation penalty). */
static inline void xb_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#else
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
#endif
}

struct xb_ring_hdr {
	RING_IDX req_prod, req_event;
	RING_IDX rsp_prod, rsp_event;
	uint8_t pad[XB_RING_HDR_SIZE - 16];
};

struct xb_back_ring {
	struct xb_ring_hdr *sring;
	uint8_t *slots;           /* sring + XB_RING_HDR_SIZE */
	uint32_t nr_ents;         /* power of two */
	uint32_t slot_size;       /* sizeof(union of request, response) */
	RING_IDX req_cons;        /* next request to consume */
	RING_IDX rsp_prod_pvt;    /* next response slot to fill */
};

/*
 * Number of slots in a ring of @ring_bytes holding @slot_size-byte slots:
 * the largest power of two that fits, as __CONST_RING_SIZE computes.
 * 0 if none fits.
 */
static inline uint32_t xb_ring_nr_ents(size_t ring_bytes, size_t slot_size)
{
	size_t n;
	uint32_t p = 1;

	if (ring_bytes <= XB_RING_HDR_SIZE || !slot_size)
		return 0;
	n = (ring_bytes - XB_RING_HDR_SIZE) / slot_size;
	if (!n)
		return 0;
	while ((size_t)p * 2 <= n)
		p *= 2;
	return p;
}

/*
 * Attach to a mapped shared ring where its responses end (the shared
 * rsp_prod), as Linux's BACK_RING_ATTACH does. A fresh ring (the frontend
 * zeroes both producers) starts at 0. A backend restarted on a live ring
 * (its predecessor crashed while the frontend kept the ring) resumes after
 * the last published response: it neither replays answered requests, which
 * could put old writes over newer acknowledged data, nor skips unanswered
 * ones. rsp_prod is the guest's to write; any value is safe because
 * xb_ring_get_req_prod bounds req_prod against it. -EINVAL if nothing fits.
 */
static inline int xb_back_ring_attach(struct xb_back_ring *r, void *sring,
				      size_t ring_bytes, size_t slot_size)
{
	uint32_t n = xb_ring_nr_ents(ring_bytes, slot_size);
	RING_IDX start;

	if (!n)
		return -EINVAL;
	r->sring = (struct xb_ring_hdr *)sring;
	r->slots = (uint8_t *)sring + XB_RING_HDR_SIZE;
	r->nr_ents = n;
	r->slot_size = (uint32_t)slot_size;
	start = __atomic_load_n(&r->sring->rsp_prod, __ATOMIC_RELAXED);
	r->req_cons = start;
	r->rsp_prod_pvt = start;
	return 0;
}

static inline void *xb_ring_slot(const struct xb_back_ring *r, RING_IDX idx)
{
	return r->slots + (size_t)(idx & (r->nr_ents - 1)) * r->slot_size;
}

/*
 * Snapshot the request producer (then a read barrier, so slot reads are
 * not hoisted above it). -EIO if the producer is impossible: more requests
 * than slots outstanding, or moved back behind requests already consumed.
 * The ring must then be halted, not retried.
 */
static inline int xb_ring_get_req_prod(struct xb_back_ring *r, RING_IDX *prod)
{
	RING_IDX rp = __atomic_load_n(&r->sring->req_prod, __ATOMIC_RELAXED);
	RING_IDX ahead = rp - r->rsp_prod_pvt;

	xb_rmb();
	/* A producer behind req_cons would make prod - req_cons wrap and
	 * the backend consume slots the frontend never filled, forever. */
	if (ahead > r->nr_ents ||
	    ahead < (RING_IDX)(r->req_cons - r->rsp_prod_pvt))
		return -EIO;
	*prod = rp;
	return 0;
}

/* Requests available at @prod that we may consume now: bounded by the
 * free response slots, so a frontend that never reads responses cannot
 * make us overwrite unread ones. */
static inline uint32_t xb_ring_reqs_avail(const struct xb_back_ring *r,
					  RING_IDX prod)
{
	RING_IDX unconsumed = prod - r->req_cons;
	RING_IDX room = r->nr_ents - (r->req_cons - r->rsp_prod_pvt);

	return unconsumed < room ? unconsumed : room;
}

/* Publish queued responses; true if the frontend asked to be notified. */
static inline bool xb_ring_push_rsps(struct xb_back_ring *r)
{
	RING_IDX old = r->sring->rsp_prod;
	RING_IDX new_prod = r->rsp_prod_pvt;

	xb_wmb();
	__atomic_store_n(&r->sring->rsp_prod, new_prod, __ATOMIC_RELAXED);
	xb_mb();
	return (RING_IDX)(new_prod - r->sring->rsp_event) <
	       (RING_IDX)(new_prod - old);
}

/*
 * Before sleeping, and only then (while the consumer is awake, a stale
 * req_event spares the frontend its notifications): ask to be notified
 * once the frontend has published @batch requests beyond req_cons
 * (xen/io/ring.h's "customised FINAL_CHECK" for batches; 1 is
 * RING_FINAL_CHECK_FOR_REQUESTS) and look once more. true if any request
 * is there (do not sleep). Any producer other than req_cons reads as work,
 * an impossible one included, so the caller's next xb_ring_get_req_prod
 * reports it instead of the ring going to sleep on it. With @batch > 1
 * the caller must bound its sleep: a frontend with fewer requests to send
 * never notifies.
 */
static inline bool xb_ring_final_check_batch(struct xb_back_ring *r,
					     uint32_t batch)
{
	RING_IDX prod;

	if (__atomic_load_n(&r->sring->req_prod, __ATOMIC_RELAXED) != r->req_cons)
		return true;
	r->sring->req_event = r->req_cons + (batch ? batch : 1);
	xb_mb();
	prod = __atomic_load_n(&r->sring->req_prod, __ATOMIC_RELAXED);
	return prod != r->req_cons;
}

static inline bool xb_ring_final_check(struct xb_back_ring *r)
{
	return xb_ring_final_check_batch(r, 1);
}

/*
 * Responses the frontend had not consumed when it last re-armed rsp_event
 * (it sets rsp_event = rsp_cons + 1 before it sleeps, as Linux's blkfront
 * does after each interrupt): a hint of how far behind it is, hence of
 * how many requests a closed-loop frontend is about to send. Guest
 * controlled: 0 when rsp_event is stale or nonsense (beyond the ring).
 */
static inline uint32_t xb_ring_rsps_unseen(const struct xb_back_ring *r)
{
	RING_IDX ev = __atomic_load_n(&r->sring->rsp_event, __ATOMIC_RELAXED);
	RING_IDX unseen = r->rsp_prod_pvt - (ev - 1);

	return unseen <= r->nr_ents ? unseen : 0;
}

#endif /* UBACK_RING_H */
