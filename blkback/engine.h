/* SPDX-License-Identifier: MIT */
/*
 * blkback I/O engines: a const ops table per engine, one engine instance
 * per queue thread (not thread-safe). The engine owns the submission side
 * for one backing fd and also polls fds for the queue (its event channel
 * and stop eventfd), so a queue thread sleeps in exactly one place.
 *
 * Conventions: 0 or -errno; prep_* only queue work (-EBUSY when the
 * submission queue is full: call submit and retry); submit hands queued
 * work to the kernel; reap returns completions. Nothing logs except
 * create (one line on failure). No allocation after create.
 *
 * Completions carry the caller's 64-bit tag and a result: bytes moved
 * (>= 0) or -errno. A chain (BLK_IO_LINK) runs in order; a failed member
 * completes the rest with -ECANCELED.
 */
#ifndef BLKBACK_ENGINE_H
#define BLKBACK_ENGINE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

struct blk_engine_ops;

struct blk_engine {
	const struct blk_engine_ops *ops;
};

struct blk_engine_config {
	int fd;                 /* backing file or block device */
	bool blockdev;          /* discard via BLKDISCARD/BLKSECDISCARD */
	uint32_t depth;         /* max I/Os in flight (submission entries) */
	/* Optional memory to register for BLK_IO_FIXED I/O (saves pinning
	 * the pages on every O_DIRECT I/O); NULL: none. */
	void *fixed_buf;
	size_t fixed_len;
	/* Run the engine's kernel workers (io-wq) on @cpu. */
	bool pin_cpu;
	unsigned int cpu;
	bool sqpoll;            /* reserved; engines may ignore */
	/*
	 * Do reads and writes at once, as synchronous preadv/pwritev on the
	 * calling thread, completing locally (io_uring engine). For backings
	 * that never wait for a device but that io_uring cannot serve
	 * without handing every request to an io-wq worker (tmpfs has no
	 * non-blocking read or write): saves the hand-off, the worker's
	 * wake-up and the completion's task work. Flush and discard still
	 * go through the kernel ring. Engines may ignore it.
	 */
	bool inline_rw;
};

struct blk_cqe {
	uint64_t tag;
	int32_t res;
};

/* Flags for prep_*. */
#define BLK_IO_LINK 1u          /* the next prepared I/O waits for this one */
#define BLK_IO_FIXED 2u         /* one iovec inside cfg.fixed_buf */

struct blk_engine_ops {
	const char *name;
	int (*create)(const struct blk_engine_config *cfg,
		      struct blk_engine **out);
	void (*destroy)(struct blk_engine *e);
	/* Optional. Called once on the thread that will use the engine,
	 * before any other op but create/destroy (io_uring's single-issuer
	 * rings bind to the thread that enables them). */
	int (*start)(struct blk_engine *e);
	/* Read/write @iovcnt vectors at byte @offset. */
	int (*prep_rw)(struct blk_engine *e, bool write, const struct iovec *iov,
		       unsigned int iovcnt, uint64_t offset, uint64_t tag,
		       unsigned int flags);
	/* fdatasync: completes once everything completed before is durable. */
	int (*prep_flush)(struct blk_engine *e, uint64_t tag, unsigned int flags);
	/* Deallocate [offset, offset+len): punch a hole in a file,
	 * BLKDISCARD (BLKSECDISCARD if @secure) on a device. */
	int (*prep_discard)(struct blk_engine *e, uint64_t offset, uint64_t len,
			    bool secure, uint64_t tag);
	/* One-shot readiness poll (POLLIN) of @fd; completes with the revents. */
	int (*prep_poll)(struct blk_engine *e, int fd, uint64_t tag);
	/* Hand prepared work to the kernel. Returns 0 or -errno. */
	int (*submit)(struct blk_engine *e);
	/*
	 * Return up to @max completions in @cqes (count >= 0). With @wait and
	 * nothing ready, first submit and sleep until a completion arrives or
	 * @timeout_us microseconds pass (-1: no limit); then 0 may come back.
	 */
	int (*reap)(struct blk_engine *e, struct blk_cqe *cqes, unsigned int max,
		    bool wait, int64_t timeout_us);
	/* Non-zero if a completion is ready now (cheap; for polling loops). */
	bool (*ready)(struct blk_engine *e);
};

extern const struct blk_engine_ops blk_engine_uring_ops;
/* Completes every I/O at once without touching storage or data pages
 * (engine_null.c): the protocol path alone, for measurements. */
extern const struct blk_engine_ops blk_engine_null_ops;

/* Look up an engine by name ("uring", "null"); -ENOENT if unknown. */
int blk_engine_lookup(const char *name, const struct blk_engine_ops **out);

#endif /* BLKBACK_ENGINE_H */
