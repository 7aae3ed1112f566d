/* SPDX-License-Identifier: MIT */
/*
 * Encoding requests into, and decoding responses from, ring slots of both
 * ABIs. The layouts themselves are uback/blkif_wire.h, shared with blkback.
 */
#include <string.h>

#include "uback/blkif_wire.h"
#include "blkfront_priv.h"

_Static_assert(BLKFRONT_SLOT_SIZE_X86_32 == BLK_SLOT_SIZE_X86_32, "slot");
_Static_assert(BLKFRONT_SLOT_SIZE_X86_64 == BLK_SLOT_SIZE_X86_64, "slot");
_Static_assert(sizeof(struct blkif_request_segment) ==
	       sizeof(struct blk_wire_seg), "segment");

size_t blkfront_abi_slot_size(enum blkfront_abi abi)
{
	return abi == BLKFRONT_ABI_X86_32 ? BLKFRONT_SLOT_SIZE_X86_32
					  : BLKFRONT_SLOT_SIZE_X86_64;
}

const char *blkfront_abi_name(enum blkfront_abi abi)
{
	switch (abi) {
	case BLKFRONT_ABI_X86_64:
		return "x86_64-abi";
	case BLKFRONT_ABI_X86_32:
		return "x86_32-abi";
	case BLKFRONT_ABI_UNSET:
		break;
	}
	return NULL;
}

static void encode64(const struct blkfront_wire_req *r, void *slot)
{
	switch (r->operation) {
	case BLKIF_OP_DISCARD: {
		struct blk_wire64_discard d = {
			.operation = r->operation, .flag = r->flag,
			.handle = r->handle, .id = r->id,
			.sector_number = r->sector_number,
			.nr_sectors = r->nr_sectors,
		};
		memcpy(slot, &d, sizeof(d));
		break;
	}
	case BLKIF_OP_INDIRECT: {
		struct blk_wire64_indirect d = {
			.operation = r->operation,
			.indirect_op = r->indirect_op,
			.nr_segments = r->nr_segments, .id = r->id,
			.sector_number = r->sector_number,
			.handle = r->handle,
		};
		memcpy(d.indirect_grefs, r->indirect_grefs,
		       sizeof(d.indirect_grefs));
		memcpy(slot, &d, sizeof(d));
		break;
	}
	default: {
		struct blk_wire64_req d = {
			.operation = r->operation,
			.nr_segments = (uint8_t)r->nr_segments,
			.handle = r->handle, .id = r->id,
			.sector_number = r->sector_number,
		};
		memcpy(d.seg, r->seg, sizeof(d.seg));
		memcpy(slot, &d, sizeof(d));
		break;
	}
	}
}

static void encode32(const struct blkfront_wire_req *r, void *slot)
{
	switch (r->operation) {
	case BLKIF_OP_DISCARD: {
		struct blk_wire32_discard d = {
			.operation = r->operation, .flag = r->flag,
			.handle = r->handle, .id = r->id,
			.sector_number = r->sector_number,
			.nr_sectors = r->nr_sectors,
		};
		memcpy(slot, &d, sizeof(d));
		break;
	}
	case BLKIF_OP_INDIRECT: {
		struct blk_wire32_indirect d = {
			.operation = r->operation,
			.indirect_op = r->indirect_op,
			.nr_segments = r->nr_segments, .id = r->id,
			.sector_number = r->sector_number,
			.handle = r->handle,
		};
		memcpy(d.indirect_grefs, r->indirect_grefs,
		       sizeof(d.indirect_grefs));
		memcpy(slot, &d, sizeof(d));
		break;
	}
	default: {
		struct blk_wire32_req d = {
			.operation = r->operation,
			.nr_segments = (uint8_t)r->nr_segments,
			.handle = r->handle, .id = r->id,
			.sector_number = r->sector_number,
		};
		memcpy(d.seg, r->seg, sizeof(d.seg));
		memcpy(slot, &d, sizeof(d));
		break;
	}
	}
}

void blkfront_wire_encode(enum blkfront_abi abi,
			  const struct blkfront_wire_req *req, void *slot)
{
	memset(slot, 0, blkfront_abi_slot_size(abi));
	if (abi == BLKFRONT_ABI_X86_32)
		encode32(req, slot);
	else
		encode64(req, slot);
}

void blkfront_wire_decode_rsp(enum blkfront_abi abi, const void *slot,
			      struct blkfront_wire_rsp *rsp)
{
	/* id, operation and status sit at the same offsets in both ABIs; only
	 * the trailing padding differs. */
	struct blk_wire32_rsp w;

	(void)abi;
	memcpy(&w, slot, sizeof(w));
	rsp->id = w.id;
	rsp->operation = w.operation;
	rsp->status = w.status;
}
