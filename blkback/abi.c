/* SPDX-License-Identifier: MIT */
/* blkif ABI translation and request validation. */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include <xen/io/protocols.h>

#include "blkif_abi.h"

static const char *const reject_names[BLK_REJ_COUNT] = {
	[BLK_OK] = "ok",
	[BLK_REJ_BAD_OP] = "bad-op",
	[BLK_REJ_BAD_NSEGS] = "bad-nr-segments",
	[BLK_REJ_BAD_SEG] = "bad-segment",
	[BLK_REJ_RANGE] = "out-of-range",
	[BLK_REJ_READONLY] = "read-only",
	[BLK_REJ_BAD_INDIRECT] = "bad-indirect",
	[BLK_REJ_GRANT] = "grant",
	[BLK_REJ_IO] = "io",
};

const char *blk_reject_name(enum blk_reject why)
{
	if ((unsigned int)why >= BLK_REJ_COUNT)
		return "?";
	return reject_names[why];
}

int16_t blk_reject_status(enum blk_reject why)
{
	switch (why) {
	case BLK_OK:
		return BLKIF_RSP_OKAY;
	case BLK_REJ_BAD_OP:
		return BLKIF_RSP_EOPNOTSUPP;
	default:
		return BLKIF_RSP_ERROR;
	}
}

int blk_abi_from_protocol(const char *protocol, enum blk_abi *out)
{
	if (!protocol || !*protocol) {
		*out = BLK_ABI_X86_64;
		return 0;
	}
	if (!strcmp(protocol, XEN_IO_PROTO_ABI_X86_32)) {
		*out = BLK_ABI_X86_32;
		return 0;
	}
	if (!strcmp(protocol, XEN_IO_PROTO_ABI_X86_64)) {
		*out = BLK_ABI_X86_64;
		return 0;
	}
	return -EINVAL;
}

const char *blk_abi_name(enum blk_abi abi)
{
	return abi == BLK_ABI_X86_32 ? XEN_IO_PROTO_ABI_X86_32
				     : XEN_IO_PROTO_ABI_X86_64;
}

size_t blk_abi_slot_size(enum blk_abi abi)
{
	return abi == BLK_ABI_X86_32 ? BLK_SLOT_SIZE_X86_32
				     : BLK_SLOT_SIZE_X86_64;
}

static void copy_segs(struct blk_req *out, const struct blk_wire_seg *seg,
		      unsigned int n)
{
	unsigned int i;

	if (n > BLKIF_MAX_SEGMENTS_PER_REQUEST)
		n = BLKIF_MAX_SEGMENTS_PER_REQUEST;
	for (i = 0; i < n; i++) {
		out->seg[i].gref = seg[i].gref;
		out->seg[i].first_sect = seg[i].first_sect;
		out->seg[i].last_sect = seg[i].last_sect;
	}
}

/*
 * Decoding reads only the private copy @buf. Each union member is decoded
 * from that one snapshot, so the operation that picked the layout is the
 * operation whose fields we use.
 */
static void decode32(const uint8_t *buf, struct blk_req *out)
{
	const struct blk_wire32_req *rw = (const void *)buf;
	const struct blk_wire32_discard *d = (const void *)buf;
	const struct blk_wire32_indirect *in = (const void *)buf;

	out->operation = rw->operation;
	switch (rw->operation) {
	case BLKIF_OP_DISCARD:
		out->op = BLKIF_OP_DISCARD;
		out->discard_flag = d->flag;
		out->handle = d->handle;
		out->id = d->id;
		out->sector = d->sector_number;
		out->nr_sectors = d->nr_sectors;
		break;
	case BLKIF_OP_INDIRECT:
		out->indirect = true;
		out->op = in->indirect_op;
		out->nr_segments = in->nr_segments;
		out->id = in->id;
		out->sector = in->sector_number;
		out->handle = in->handle;
		memcpy(out->indirect_grefs, in->indirect_grefs,
		       sizeof(out->indirect_grefs));
		break;
	default:
		out->op = rw->operation;
		out->nr_segments = rw->nr_segments;
		out->handle = rw->handle;
		out->id = rw->id;
		out->sector = rw->sector_number;
		copy_segs(out, rw->seg, rw->nr_segments);
		break;
	}
}

static void decode64(const uint8_t *buf, struct blk_req *out)
{
	const struct blk_wire64_req *rw = (const void *)buf;
	const struct blk_wire64_discard *d = (const void *)buf;
	const struct blk_wire64_indirect *in = (const void *)buf;

	out->operation = rw->operation;
	switch (rw->operation) {
	case BLKIF_OP_DISCARD:
		out->op = BLKIF_OP_DISCARD;
		out->discard_flag = d->flag;
		out->handle = d->handle;
		out->id = d->id;
		out->sector = d->sector_number;
		out->nr_sectors = d->nr_sectors;
		break;
	case BLKIF_OP_INDIRECT:
		out->indirect = true;
		out->op = in->indirect_op;
		out->nr_segments = in->nr_segments;
		out->id = in->id;
		out->sector = in->sector_number;
		out->handle = in->handle;
		memcpy(out->indirect_grefs, in->indirect_grefs,
		       sizeof(out->indirect_grefs));
		break;
	default:
		out->op = rw->operation;
		out->nr_segments = rw->nr_segments;
		out->handle = rw->handle;
		out->id = rw->id;
		out->sector = rw->sector_number;
		copy_segs(out, rw->seg, rw->nr_segments);
		break;
	}
}

void blk_abi_decode_req(enum blk_abi abi, const void *copy,
			struct blk_req *out)
{
	out->nr_sectors = 0;
	out->discard_flag = 0;
	out->indirect = false;
	out->nr_segments = 0;
	if (abi == BLK_ABI_X86_32)
		decode32(copy, out);
	else
		decode64(copy, out);
}

void blk_abi_copy_req(enum blk_abi abi, const void *slot, struct blk_req *out)
{
	/* The one read of shared memory for this request. */
	uint8_t buf[BLK_SLOT_SIZE_MAX] __attribute__((aligned(8)));

	memcpy(buf, slot, blk_abi_slot_size(abi));
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	blk_abi_decode_req(abi, buf, out);
}

void blk_abi_indirect_segs(const struct blk_wire_seg *wire, uint32_t n,
			   struct blk_seg *out)
{
	uint32_t i;

	for (i = 0; i < n; i++) {
		out[i].gref = wire[i].gref;
		out[i].first_sect = wire[i].first_sect;
		out[i].last_sect = wire[i].last_sect;
	}
}

enum blk_reject blk_req_check(const struct blk_req *req,
			      const struct blk_limits *lim)
{
	if (req->indirect) {
		if (!lim->max_indirect_segs)
			return BLK_REJ_BAD_OP;
		if (req->op != BLKIF_OP_READ && req->op != BLKIF_OP_WRITE)
			return BLK_REJ_BAD_INDIRECT;
		if (req->nr_segments == 0)
			return BLK_REJ_BAD_NSEGS;
		if (blk_indirect_pages(req->nr_segments) >
		    BLK_MAX_INDIRECT_PAGES)
			return BLK_REJ_BAD_INDIRECT;
		if (req->nr_segments > lim->max_indirect_segs)
			return BLK_REJ_BAD_NSEGS;
		if (req->op == BLKIF_OP_WRITE && lim->readonly)
			return BLK_REJ_READONLY;
		return BLK_OK;
	}

	switch (req->op) {
	case BLKIF_OP_READ:
	case BLKIF_OP_WRITE:
		if (req->nr_segments == 0 ||
		    req->nr_segments > BLKIF_MAX_SEGMENTS_PER_REQUEST)
			return BLK_REJ_BAD_NSEGS;
		if (req->op == BLKIF_OP_WRITE && lim->readonly)
			return BLK_REJ_READONLY;
		return BLK_OK;
	case BLKIF_OP_WRITE_BARRIER:
	case BLKIF_OP_FLUSH_DISKCACHE:
		if ((req->op == BLKIF_OP_WRITE_BARRIER && !lim->barrier) ||
		    (req->op == BLKIF_OP_FLUSH_DISKCACHE && !lim->flush))
			return BLK_REJ_BAD_OP;
		/* May carry write data (Linux blkfront sends FUA writes as
		 * flush requests with segments). */
		if (req->nr_segments > BLKIF_MAX_SEGMENTS_PER_REQUEST)
			return BLK_REJ_BAD_NSEGS;
		if (lim->readonly)
			return BLK_REJ_READONLY;
		return BLK_OK;
	case BLKIF_OP_DISCARD:
		if (!lim->discard)
			return BLK_REJ_BAD_OP;
		if (lim->readonly)
			return BLK_REJ_READONLY;
		return blk_range_check(req->sector, req->nr_sectors, lim);
	default:
		return BLK_REJ_BAD_OP;
	}
}
