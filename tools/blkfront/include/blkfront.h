/* SPDX-License-Identifier: MIT */
/*
 * blkfront: a simulated Xen block frontend on the xensim guest library.
 *
 * It plays a PV guest's xen-blkfront against a real backend (uback-blk):
 * the XenBus handshake, shared rings in granted guest pages, event
 * channels, and the blkif request protocol in either ring ABI. Every
 * feature is switchable so tests can walk each negotiation path; a
 * zero-initialised config (apart from dom/devid) is the legacy frontend:
 * one single-page ring, `ring-ref` + `event-channel`, no `protocol` key,
 * no feature used.
 *
 * Data movement: the library copies between the caller's buffers and
 * guest pages it granted (a per-slot bounce area, granted once and kept
 * when feature-persistent is negotiated, as Linux blkfront does), except
 * when the caller's buffers already are guest memory (blkfront_mem_alloc)
 * and persistent grants are off: then the caller's pages are granted
 * directly (zero copy). Nothing is cached: a completion means the backend
 * answered.
 *
 * Recovery: when the backend's state changes after the connection is up
 * (a restarted backend on the same path writes InitWait, or the backend
 * goes Closing/Closed), blkfront_poll runs the reconnect cycle (Closing ->
 * Closed, each waiting for the backend's answer; answers left on the old
 * rings harvested; -> Initialising -> new rings, new event channels ->
 * Initialised -> Connected) and resubmits,
 * in submission order, every request that was in flight and not answered.
 * A backend writing `state` again while Connected is taken as a restart
 * too. Unlike Linux blkfront, the ring references are removed from
 * xenstore once connected (cfg.keep_keys keeps them), so a restarted
 * backend cannot attach to live rings with indices it does not know.
 *
 * Conventions: 0 or -errno; out-parameters untouched on failure; nothing
 * logs. A struct blkfront is owned by one thread (no locking inside).
 */
#ifndef BLKFRONT_H
#define BLKFRONT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <xen/xen.h>

#ifdef __cplusplus
extern "C" {
#endif

struct xg_dom;
struct blkfront;

/* Ring ABI (frontend key `protocol`). UNSET writes no key: the backend
 * then uses its native layout, x86_64 on this platform. */
enum blkfront_abi {
	BLKFRONT_ABI_UNSET = 0,
	BLKFRONT_ABI_X86_64,
	BLKFRONT_ABI_X86_32,
};

enum blkfront_op {
	BLKFRONT_OP_READ = 0,
	BLKFRONT_OP_WRITE,
	BLKFRONT_OP_FLUSH,      /* BLKIF_OP_FLUSH_DISKCACHE, no data */
	BLKFRONT_OP_BARRIER,    /* BLKIF_OP_WRITE_BARRIER, data optional */
	BLKFRONT_OP_DISCARD,    /* BLKIF_OP_DISCARD: sector + nr_sectors */
};

/* Upper bounds of this implementation. */
#define BLKFRONT_MAX_RING_ORDER 4
#define BLKFRONT_MAX_QUEUES     16
#define BLKFRONT_MAX_IOV        16     /* iovecs per request */
#define BLKFRONT_MAX_INDIRECT   4096   /* 8 indirect pages x 512 */

struct blkfront_config {
	struct xg_dom *dom;             /* the guest; must outlive blkfront */
	unsigned int devid;             /* device/vbd/<devid> of the guest */

	unsigned int ring_page_order;   /* wanted; min(this, backend's max) */
	unsigned int nr_queues;         /* wanted (0: 1); min(this, backend) */
	enum blkfront_abi abi;
	bool persistent;                /* write feature-persistent=1 */
	unsigned int max_indirect_segs; /* 0: never use BLKIF_OP_INDIRECT */
	bool use_flush;                 /* use feature-flush-cache if offered */
	bool use_barrier;               /* use feature-barrier if offered */
	bool use_discard;               /* use feature-discard if offered */

	unsigned int queue_depth;       /* requests in flight per queue
	                                 * (0: min(ring slots, 32)) */
	int timeout_ms;                 /* each XenBus wait (0: 30000) */
	/*
	 * Leave ring-ref* / event-channel in xenstore once connected. By
	 * default they are removed then (see the recovery note above): a
	 * backend only reads them to connect.
	 */
	bool keep_keys;
	/*
	 * Hostile-guest tests: key, value, ... (NULL-terminated) written
	 * under the frontend directory in the same transaction as the
	 * protocol keys, after them (so they override). A NULL value
	 * removes the key. Leave NULL for a well-behaved frontend.
	 */
	const char *const *extra_kv;
};

/* What was negotiated, and what the backend offered. */
struct blkfront_info {
	uint64_t sectors;               /* 512-byte units */
	uint32_t sector_size;
	uint32_t physical_sector_size;
	uint32_t vdisk_info;            /* VDISK_* */
	domid_t backend_id;

	unsigned int ring_page_order;
	unsigned int nr_queues;
	unsigned int nr_ents;           /* slots per ring */
	unsigned int queue_depth;
	enum blkfront_abi abi;
	bool persistent;                /* both sides: grants kept */
	unsigned int max_indirect_segs; /* used: 0 if indirect is off */
	unsigned int max_segs;          /* per request: 11 or indirect */
	bool flush, barrier, discard, discard_secure;
	uint32_t discard_granularity, discard_alignment;

	/* Backend offers (as read from its directory). */
	unsigned int be_max_ring_page_order;
	unsigned int be_max_queues;
	unsigned int be_max_indirect_segs;
	bool be_persistent, be_flush, be_barrier, be_discard;

	/* Counters. */
	uint64_t recoveries;            /* reconnect cycles completed */
	uint64_t resubmitted;           /* requests resubmitted by them */
	uint64_t bad_responses;         /* unknown id / not in flight */
	uint64_t grant_leaks;           /* grants that could not be ended */
	/* Notification counters (what a backend's req_event/rsp_event
	 * handling costs this frontend): request producer publications,
	 * event channel notifications sent to the backend (only when its
	 * req_event asked), rsp_event re-arms, and blocking waits. */
	uint64_t pushes;
	uint64_t kicks;
	uint64_t rsp_rearms;
	uint64_t waits;
};

struct blkfront_req {
	enum blkfront_op op;
	unsigned int queue;             /* < nr_queues */
	uint64_t sector;                /* 512-byte units */
	uint64_t nr_sectors;            /* DISCARD only */
	bool secure;                    /* DISCARD: BLKIF_DISCARD_SECURE */
	/*
	 * READ/WRITE/BARRIER data: total length a multiple of 512 and at
	 * most max_segs pages. The iovecs are copied; the buffers must stay
	 * valid until the completion (reads land there then).
	 */
	const struct iovec *iov;
	unsigned int iovcnt;            /* <= BLKFRONT_MAX_IOV */
	uint64_t tag;                   /* echoed in the completion */
};

struct blkfront_completion {
	uint64_t tag;
	enum blkfront_op op;
	int status;                     /* 0, -EIO, -EOPNOTSUPP */
};

/*
 * Connect device @cfg->devid of @cfg->dom: the frontend directory must
 * exist (xg_device_create) with its `backend` key. Waits (cfg->timeout_ms
 * each step) for the backend's InitWait, then negotiates, publishes rings
 * and event channels, goes Initialised, waits for Connected, reads the
 * device properties and goes Connected. On failure everything is undone
 * (frontend state left Closed) and -ETIMEDOUT, -ECONNREFUSED (backend went
 * Closing/Closed), -ENOMEM/-ENOSPC (guest memory or grants), -EINVAL
 * (config) or an xenstore error is returned.
 */
int blkfront_connect(const struct blkfront_config *cfg, struct blkfront **out);

/*
 * Disconnect (Closing, wait for the backend to close, Closed) and free.
 * Requests still in flight are dropped without completion; grants the
 * backend still holds are leaked rather than freed under it. Never fails.
 */
void blkfront_close(struct blkfront *bf);

void blkfront_get_info(const struct blkfront *bf, struct blkfront_info *info);

/*
 * Queue one request on its ring (not yet visible to the backend: call
 * blkfront_kick). -EBUSY when the queue has queue_depth requests in
 * flight; -EOPNOTSUPP for an op not negotiated; -EINVAL for a malformed
 * request; -E2BIG beyond max_segs pages; -ENOSPC when out of grants;
 * -ENOTCONN when the device is not connected (a recovery failed). On
 * failure nothing was queued.
 */
int blkfront_submit(struct blkfront *bf, const struct blkfront_req *req);

/* Publish queued requests on every queue and notify the backend where
 * its req_event asks for it. */
int blkfront_kick(struct blkfront *bf);

/*
 * Harvest up to @max completions without blocking; returns how many
 * (0..max) or -errno. Also watches the backend's state and runs the
 * recovery cycle when it changed (that blocks up to the config timeouts;
 * -ENOTCONN if it failed: in-flight requests then complete with -EIO).
 */
int blkfront_poll(struct blkfront *bf, struct blkfront_completion *comps,
		  unsigned int max);

/* true if a response (or a completion made by a recovery) is waiting:
 * reads shared memory only, no system call, so a caller may spin on it
 * before sleeping in blkfront_wait (low latency at queue depth 1). */
bool blkfront_has_responses(const struct blkfront *bf);
/* A fd readable when blkfront_poll may have work (event channel or
 * xenstore watch): for poll/epoll in the caller's loop. */
int blkfront_fd(const struct blkfront *bf);

/* Wait until blkfront_fd is readable, at most @timeout_ms (-1: forever).
 * 0 or -ETIMEDOUT. */
int blkfront_wait(struct blkfront *bf, int timeout_ms);

/* Requests in flight on all queues. */
unsigned int blkfront_inflight(const struct blkfront *bf);

/*
 * Synchronous helper for tests: submit one request, kick, and poll until
 * it completes (other completions arriving meanwhile are dropped, so use
 * it only with nothing else in flight). Returns the completion status, or
 * -errno from submit, or -ETIMEDOUT after @timeout_ms.
 */
int blkfront_sync(struct blkfront *bf, const struct blkfront_req *req,
		  int timeout_ms);

/*
 * Guest-memory buffers: @bytes rounded up to pages, virtually contiguous,
 * page aligned. Reads and writes from such buffers are zero-copy unless
 * persistent grants are in use. -ENOMEM when the guest has no contiguous
 * run of that size.
 */
int blkfront_mem_alloc(struct blkfront *bf, size_t bytes, void **ptr);
void blkfront_mem_free(struct blkfront *bf, void *ptr, size_t bytes);

/* Same on a bare domain (before blkfront_connect, e.g. fio iomem_alloc). */
int blkfront_dom_mem_alloc(struct xg_dom *dom, size_t bytes, void **ptr);
void blkfront_dom_mem_free(struct xg_dom *dom, void *ptr, size_t bytes);

/*
 * Force the recovery cycle now (as if the backend had restarted): for a
 * caller that knows the backend died. Same results as blkfront_poll's.
 */
int blkfront_recover(struct blkfront *bf);

const char *blkfront_abi_name(enum blkfront_abi abi);

#ifdef __cplusplus
}
#endif
#endif /* BLKFRONT_H */
