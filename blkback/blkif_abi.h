/* SPDX-License-Identifier: MIT */
/*
 * blkif wire formats for both ring ABIs, and the private request struct
 * the data path works on.
 *
 * A frontend's `protocol` key picks the layout of the ring slots: the
 * x86_32 ABI aligns 64-bit fields to 4 bytes, the x86_64 ABI to 8. The
 * layouts below are spelled out with explicit padding and packed, so they
 * are the same whatever the compiler's native ABI is; static asserts in
 * abi.c pin every offset (derived from xen/io/blkif.h).
 *
 * The data path never reads a request in place: blk_abi_copy_req() copies
 * the whole slot once into private memory, then decodes the copy into a
 * struct blk_req, which the checks below validate. The guest may rewrite
 * the slot at any time; nothing read from it twice can disagree.
 */
#ifndef BLKBACK_BLKIF_ABI_H
#define BLKBACK_BLKIF_ABI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xen/xen.h>
#include <xen/grant_table.h>
/* First: it defines the ring barriers xen/io/ring.h (via blkif.h) would
 * otherwise define as the kernel's mb()/rmb()/wmb(). */
#include "uback/ring.h"
#include <xen/io/blkif.h>

#include "uback/blkif_wire.h"

enum blk_abi {
	BLK_ABI_X86_32 = 0,
	BLK_ABI_X86_64 = 1,
};
#define BLK_ABI_COUNT 2

/* Sectors in requests are always 512-byte units. */
#define BLK_SECTOR_SHIFT 9
#define BLK_SECTOR_SIZE  512u
#define BLK_SECTORS_PER_PAGE 8u   /* XB_PAGE_SIZE / BLK_SECTOR_SIZE */

/* Segments that fit in one indirect page (struct blkif_request_segment is
 * 8 bytes in both ABIs). */
#define BLK_SEGS_PER_INDIRECT_PAGE 512u
#define BLK_MAX_INDIRECT_PAGES BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST
/* Upper bound of feature-max-indirect-segments that we accept to offer. */
#define BLK_MAX_INDIRECT_SEGS_LIMIT 4096u

/* ---- private, ABI-neutral request ---- */

struct blk_seg {
	grant_ref_t gref;
	uint8_t first_sect, last_sect;
};

struct blk_req {
	uint64_t id;
	uint64_t sector;           /* start, 512-byte units */
	uint64_t nr_sectors;       /* DISCARD only */
	uint8_t operation;         /* as on the wire (INDIRECT for indirect) */
	uint8_t op;                /* effective op: READ/WRITE/BARRIER/FLUSH/
	                            * DISCARD, indirect_op for INDIRECT, or the
	                            * unknown wire value */
	uint8_t discard_flag;
	bool indirect;
	uint16_t nr_segments;      /* direct: <= 255 as sent; indirect: <= 65535 */
	uint16_t handle;
	grant_ref_t indirect_grefs[BLK_MAX_INDIRECT_PAGES];
	struct blk_seg seg[BLKIF_MAX_SEGMENTS_PER_REQUEST]; /* direct only */
};

/* What the device allows; built once per connection. */
struct blk_limits {
	uint64_t sectors;          /* device size, 512-byte units */
	uint32_t max_indirect_segs;/* 0: INDIRECT not offered */
	bool readonly;
	bool flush;                /* FLUSH_DISKCACHE offered */
	bool barrier;              /* WRITE_BARRIER offered */
	bool discard;              /* DISCARD offered (and enabled) */
	bool discard_secure;
};

/* Why a request was refused; indexes the per-queue error counters. */
enum blk_reject {
	BLK_OK = 0,
	BLK_REJ_BAD_OP,            /* unknown or not offered: EOPNOTSUPP */
	BLK_REJ_BAD_NSEGS,         /* 0 or too many segments */
	BLK_REJ_BAD_SEG,           /* first_sect > last_sect or past the page */
	BLK_REJ_RANGE,             /* sector range past the end / overflow */
	BLK_REJ_READONLY,          /* write/discard to a read-only device */
	BLK_REJ_BAD_INDIRECT,      /* bad indirect_op or > 8 indirect pages */
	BLK_REJ_GRANT,             /* grant map failed (bad/foreign/revoked) */
	BLK_REJ_IO,                /* the backing store failed the I/O */
	BLK_REJ_COUNT
};

/* The BLKIF_RSP_* status that goes with a rejection reason. */
int16_t blk_reject_status(enum blk_reject why);
const char *blk_reject_name(enum blk_reject why);

/* "x86_32-abi" / "x86_64-abi"; NULL or "" means the backend's native ABI
 * (x86_64 on every host we build for). -EINVAL for anything else. */
int blk_abi_from_protocol(const char *protocol, enum blk_abi *out);
const char *blk_abi_name(enum blk_abi abi);
size_t blk_abi_slot_size(enum blk_abi abi);

/*
 * Copy the request in @slot (shared memory, may change under us) once
 * into private memory and decode it into @out. Never fails: validation
 * happens on @out.
 */
void blk_abi_copy_req(enum blk_abi abi, const void *slot, struct blk_req *out);
/*
 * Decode @copy, a private copy of a request slot that nothing else writes
 * (blk_abi_copy_req's, or the request journal's, which took the one read
 * of the shared slot), into @out. Never fails.
 */
void blk_abi_decode_req(enum blk_abi abi, const void *copy,
			struct blk_req *out);
/* Write a response into @slot. Inline: once per request. */
static inline void blk_abi_put_rsp(enum blk_abi abi, void *slot,
				   uint64_t id, uint8_t operation,
				   int16_t status)
{
	if (abi == BLK_ABI_X86_32) {
		struct blk_wire32_rsp r = {
			.id = id, .operation = operation, .status = status,
		};
		__builtin_memcpy(slot, &r, sizeof(r));
	} else {
		struct blk_wire64_rsp r = {
			.id = id, .operation = operation, .status = status,
		};
		__builtin_memcpy(slot, &r, sizeof(r));
	}
}

/*
 * Validate a decoded request header against @lim (op, segment count,
 * indirect pages, read-only, and for DISCARD the sector range). Segments
 * are checked separately (blk_seg_check), once they are in private
 * memory; the data range by blk_range_check once they are summed.
 */
enum blk_reject blk_req_check(const struct blk_req *req,
			      const struct blk_limits *lim);
/* Check one segment; adds its sectors to *@sectors. Inline, as the two
 * below: once or more per request. */
static inline enum blk_reject blk_seg_check(const struct blk_seg *seg,
					    uint64_t *sectors)
{
	if (seg->first_sect > seg->last_sect ||
	    seg->last_sect >= BLK_SECTORS_PER_PAGE)
		return BLK_REJ_BAD_SEG;
	*sectors += (uint64_t)(seg->last_sect - seg->first_sect + 1);
	return BLK_OK;
}

/* [sector, sector + count) within the device, without overflow. */
static inline enum blk_reject blk_range_check(uint64_t sector, uint64_t count,
					      const struct blk_limits *lim)
{
	if (sector > lim->sectors || count > lim->sectors - sector)
		return BLK_REJ_RANGE;
	return BLK_OK;
}
/*
 * Decode @n segments copied from indirect pages (private memory, already
 * bounded by blk_req_check) into @out.
 */
void blk_abi_indirect_segs(const struct blk_wire_seg *wire, uint32_t n,
			   struct blk_seg *out);
/*
 * Check @n private segments (blk_seg_check each) and, when they carry
 * data, the range [@sector, + their sectors) (blk_range_check). The
 * sectors they add up to come back in *@sectors (also on failure: the
 * sum so far).
 */
static inline enum blk_reject blk_segs_check(const struct blk_seg *segs,
					     uint32_t n, uint64_t sector,
					     const struct blk_limits *lim,
					     uint64_t *sectors)
{
	enum blk_reject why;
	uint32_t i;

	*sectors = 0;
	for (i = 0; i < n; i++) {
		why = blk_seg_check(&segs[i], sectors);
		if (why)
			return why;
	}
	return *sectors ? blk_range_check(sector, *sectors, lim) : BLK_OK;
}
/* Number of indirect pages a request with @nr_segments uses. */
static inline uint32_t blk_indirect_pages(uint32_t nr_segments)
{
	return (nr_segments + BLK_SEGS_PER_INDIRECT_PAGE - 1) /
	       BLK_SEGS_PER_INDIRECT_PAGE;
}

#endif /* BLKBACK_BLKIF_ABI_H */
