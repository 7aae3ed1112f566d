/* SPDX-License-Identifier: MIT */
/*
 * Persistent grant cache (feature-persistent), one per queue.
 *
 * The frontend reuses a fixed set of granted pages; we keep each one mapped
 * (one page per mapping, so entries can go individually) up to @max
 * entries. Entries not used by any in-flight request sit on an LRU list;
 * when the cache is full the least recently used idle entry is unmapped to
 * make room, and entries idle longer than a limit are purged. When every
 * entry is in use, get() says -ENOSPC and the caller maps that page for the
 * request only, as without feature-persistent.
 *
 * All storage is allocated by create; get/put/purge never allocate.
 * Thread context: the owning queue thread. Nothing logs.
 */
#ifndef BLKBACK_PERSIST_H
#define BLKBACK_PERSIST_H

#include <stdbool.h>
#include <stdint.h>

#include "uback/hv.h"

struct blk_persist;

struct blk_persist_stats {
	uint64_t hits, misses, evictions, purged, map_errors, full;
	uint32_t entries, in_use;
};

/* @max entries (>= 1), mapping grants of @domid through @gnt. */
int blk_persist_create(struct xb_gnt *gnt, domid_t domid, uint32_t max,
		       struct blk_persist **out);
/* Unmaps every entry. Entries still in use are unmapped too (the caller
 * must have drained its I/O). */
void blk_persist_destroy(struct blk_persist *p);

/*
 * Find or map @ref (writable) and take a reference. @now_ns is the
 * caller's clock (for idle purge). On success *addr is the page and
 * *handle identifies the entry for put(). -ENOSPC: cache full of in-use
 * entries (nothing mapped); other -errno: the map failed (nothing cached).
 */
int blk_persist_get(struct blk_persist *p, grant_ref_t ref, uint64_t now_ns,
		    void **addr, uint32_t *handle);
/* Drop the reference taken by get(). */
void blk_persist_put(struct blk_persist *p, uint32_t handle, uint64_t now_ns);
/* Unmap idle entries last used before @now_ns - @idle_ns. Returns how
 * many went. */
uint32_t blk_persist_purge(struct blk_persist *p, uint64_t now_ns,
			   uint64_t idle_ns);
void blk_persist_get_stats(const struct blk_persist *p,
			   struct blk_persist_stats *st);

#endif /* BLKBACK_PERSIST_H */
