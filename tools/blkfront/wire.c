/* SPDX-License-Identifier: MIT */
/*
 * blkif ring slot layouts of both ABIs.
 *
 * blkif.h describes the native (x86_64) layout only. An x86_32 guest lays
 * the same fields out with 4-byte alignment of 64-bit members, so `id`
 * moves from offset 8 to 4 and every later field shifts; its slots are
 * 108 bytes instead of 112. The structs below spell both layouts out
 * field by field; the static asserts pin them.
 */
#include <string.h>

#include "blkfront_priv.h"

struct w64_rw {
	uint8_t operation;
	uint8_t nr_segments;
	uint16_t handle;
	uint32_t pad;
	uint64_t id;
	uint64_t sector_number;
	struct blkif_request_segment seg[BLKIF_MAX_SEGMENTS_PER_REQUEST];
} __attribute__((packed));

struct w64_discard {
	uint8_t operation;
	uint8_t flag;
	uint16_t handle;
	uint32_t pad;
	uint64_t id;
	uint64_t sector_number;
	uint64_t nr_sectors;
} __attribute__((packed));

struct w64_indirect {
	uint8_t operation;
	uint8_t indirect_op;
	uint16_t nr_segments;
	uint32_t pad1;
	uint64_t id;
	uint64_t sector_number;
	uint16_t handle;
	uint16_t pad2;
	grant_ref_t indirect_grefs[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST];
	uint32_t pad3;
} __attribute__((packed));

struct w32_rw {
	uint8_t operation;
	uint8_t nr_segments;
	uint16_t handle;
	uint64_t id;
	uint64_t sector_number;
	struct blkif_request_segment seg[BLKIF_MAX_SEGMENTS_PER_REQUEST];
} __attribute__((packed));

struct w32_discard {
	uint8_t operation;
	uint8_t flag;
	uint16_t handle;
	uint64_t id;
	uint64_t sector_number;
	uint64_t nr_sectors;
} __attribute__((packed));

struct w32_indirect {
	uint8_t operation;
	uint8_t indirect_op;
	uint16_t nr_segments;
	uint64_t id;
	uint64_t sector_number;
	uint16_t handle;
	uint16_t pad1;
	grant_ref_t indirect_grefs[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST];
	uint64_t pad2;
} __attribute__((packed));

/* Responses: id at 0, operation at 8, status at 10 in both ABIs; only the
 * trailing padding (and so the slot size) differs. */
struct w_rsp {
	uint64_t id;
	uint8_t operation;
	uint8_t pad;
	int16_t status;
} __attribute__((packed));

_Static_assert(sizeof(struct w64_rw) == 112, "x86_64 rw request");
_Static_assert(sizeof(struct w64_discard) == 32, "x86_64 discard");
_Static_assert(sizeof(struct w64_indirect) == 64, "x86_64 indirect");
_Static_assert(sizeof(struct w32_rw) == 108, "x86_32 rw request");
_Static_assert(sizeof(struct w32_discard) == 28, "x86_32 discard");
_Static_assert(sizeof(struct w32_indirect) == 64, "x86_32 indirect");
_Static_assert(sizeof(struct blkif_request_segment) == 8, "segment");
_Static_assert(offsetof(struct w64_rw, id) ==
	       offsetof(struct blkif_request, id), "native rw id");
_Static_assert(offsetof(struct w64_rw, seg) ==
	       offsetof(struct blkif_request, seg), "native rw seg");
_Static_assert(offsetof(struct w64_indirect, indirect_grefs) ==
	       offsetof(struct blkif_request_indirect, indirect_grefs),
	       "native indirect grefs");
_Static_assert(offsetof(struct w64_discard, nr_sectors) ==
	       offsetof(struct blkif_request_discard, nr_sectors),
	       "native discard");

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
		struct w64_discard d = {
			.operation = r->operation, .flag = r->flag,
			.handle = r->handle, .id = r->id,
			.sector_number = r->sector_number,
			.nr_sectors = r->nr_sectors,
		};
		memcpy(slot, &d, sizeof(d));
		break;
	}
	case BLKIF_OP_INDIRECT: {
		struct w64_indirect d = {
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
		struct w64_rw d = {
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
		struct w32_discard d = {
			.operation = r->operation, .flag = r->flag,
			.handle = r->handle, .id = r->id,
			.sector_number = r->sector_number,
			.nr_sectors = r->nr_sectors,
		};
		memcpy(slot, &d, sizeof(d));
		break;
	}
	case BLKIF_OP_INDIRECT: {
		struct w32_indirect d = {
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
		struct w32_rw d = {
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
	struct w_rsp w;

	(void)abi;
	memcpy(&w, slot, sizeof(w));
	rsp->id = w.id;
	rsp->operation = w.operation;
	rsp->status = w.status;
}
