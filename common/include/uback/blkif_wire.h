/* SPDX-License-Identifier: MIT */
/*
 * blkif ring slot layouts of both ring ABIs, shared by the backend
 * (blkback: decoding hostile slots) and the simulated frontend (blkfront:
 * encoding them).
 *
 * A frontend's `protocol` key picks the layout of the ring slots: the
 * x86_32 ABI aligns 64-bit fields to 4 bytes, the x86_64 ABI to 8, so `id`
 * sits at offset 4 or 8 and every later field shifts (108- vs 112-byte
 * slots). xen/io/blkif.h describes only the compiler's native layout; the
 * structs below spell both out with explicit padding, packed, so they are
 * the same whatever the compiler's ABI. The static asserts pin every
 * offset (derived from xen/io/blkif.h for i386 and x86_64 compilers).
 */
#ifndef UBACK_BLKIF_WIRE_H
#define UBACK_BLKIF_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include <xen/xen.h>
#include <xen/grant_table.h>
/* Before blkif.h: uback/ring.h defines the barriers xen/io/ring.h needs. */
#include "uback/ring.h"
#include <xen/io/blkif.h>

/* ---- wire layouts (packed, explicit padding) ---- */

struct blk_wire_seg {
	grant_ref_t gref;
	uint8_t first_sect, last_sect;
	uint16_t pad;
} __attribute__((packed));

struct blk_wire32_req {                /* x86_32: 108 bytes */
	uint8_t operation;
	uint8_t nr_segments;
	uint16_t handle;
	uint64_t id;                   /* offset 4 */
	uint64_t sector_number;        /* offset 12 */
	struct blk_wire_seg seg[BLKIF_MAX_SEGMENTS_PER_REQUEST]; /* 20 */
} __attribute__((packed));

struct blk_wire32_discard {
	uint8_t operation;
	uint8_t flag;
	uint16_t handle;
	uint64_t id;                   /* 4 */
	uint64_t sector_number;        /* 12 */
	uint64_t nr_sectors;           /* 20 */
} __attribute__((packed));

struct blk_wire32_indirect {
	uint8_t operation;
	uint8_t indirect_op;
	uint16_t nr_segments;
	uint64_t id;                   /* 4 */
	uint64_t sector_number;        /* 12 */
	uint16_t handle;               /* 20 */
	uint16_t pad1;
	grant_ref_t indirect_grefs[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST]; /* 24 */
	uint64_t pad2;                 /* 56: 64 bytes in all */
} __attribute__((packed));

struct blk_wire32_rsp {                /* 12 bytes */
	uint64_t id;
	uint8_t operation;
	uint8_t pad;
	int16_t status;                /* 10 */
} __attribute__((packed));

struct blk_wire64_req {                /* x86_64: 112 bytes */
	uint8_t operation;
	uint8_t nr_segments;
	uint16_t handle;
	uint32_t pad;
	uint64_t id;                   /* 8 */
	uint64_t sector_number;        /* 16 */
	struct blk_wire_seg seg[BLKIF_MAX_SEGMENTS_PER_REQUEST]; /* 24 */
} __attribute__((packed));

struct blk_wire64_discard {
	uint8_t operation;
	uint8_t flag;
	uint16_t handle;
	uint32_t pad;
	uint64_t id;                   /* 8 */
	uint64_t sector_number;        /* 16 */
	uint64_t nr_sectors;           /* 24 */
} __attribute__((packed));

struct blk_wire64_indirect {
	uint8_t operation;
	uint8_t indirect_op;
	uint16_t nr_segments;
	uint32_t pad1;
	uint64_t id;                   /* 8 */
	uint64_t sector_number;        /* 16 */
	uint16_t handle;               /* 24 */
	uint16_t pad2;
	grant_ref_t indirect_grefs[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST]; /* 28 */
	uint32_t pad3;                 /* 60: 64 bytes in all */
} __attribute__((packed));

struct blk_wire64_rsp {                /* 16 bytes */
	uint64_t id;
	uint8_t operation;
	uint8_t pad;
	int16_t status;                /* 10 */
	uint32_t pad2;
} __attribute__((packed));

/* Slot sizes: sizeof(union { request; response; }) in each ABI. */
#define BLK_SLOT_SIZE_X86_32 108u
#define BLK_SLOT_SIZE_X86_64 112u
#define BLK_SLOT_SIZE_MAX    112u

_Static_assert(sizeof(struct blk_wire_seg) == 8, "segment");
_Static_assert(sizeof(struct blk_wire32_req) == 108, "x86_32 request");
_Static_assert(offsetof(struct blk_wire32_req, id) == 4, "x86_32 id");
_Static_assert(offsetof(struct blk_wire32_req, sector_number) == 12, "x86_32");
_Static_assert(offsetof(struct blk_wire32_req, seg) == 20, "x86_32 seg");
_Static_assert(offsetof(struct blk_wire32_discard, nr_sectors) == 20, "x86_32");
_Static_assert(offsetof(struct blk_wire32_indirect, handle) == 20, "x86_32");
_Static_assert(offsetof(struct blk_wire32_indirect, indirect_grefs) == 24,
	       "x86_32 indirect grefs");
_Static_assert(sizeof(struct blk_wire32_indirect) == 64, "x86_32 indirect");
_Static_assert(sizeof(struct blk_wire32_rsp) == 12, "x86_32 response");
_Static_assert(offsetof(struct blk_wire32_rsp, status) == 10, "x86_32");
_Static_assert(sizeof(struct blk_wire64_req) == 112, "x86_64 request");
_Static_assert(offsetof(struct blk_wire64_req, id) == 8, "x86_64 id");
_Static_assert(offsetof(struct blk_wire64_req, seg) == 24, "x86_64 seg");
_Static_assert(offsetof(struct blk_wire64_discard, nr_sectors) == 24, "x86_64");
_Static_assert(offsetof(struct blk_wire64_indirect, handle) == 24, "x86_64");
_Static_assert(offsetof(struct blk_wire64_indirect, indirect_grefs) == 28,
	       "x86_64 indirect grefs");
_Static_assert(sizeof(struct blk_wire64_indirect) == 64, "x86_64 indirect");
_Static_assert(sizeof(struct blk_wire64_rsp) == 16, "x86_64 response");
_Static_assert(BLK_SLOT_SIZE_X86_32 == sizeof(struct blk_wire32_req), "slot");
_Static_assert(BLK_SLOT_SIZE_X86_64 == sizeof(struct blk_wire64_req), "slot");
#if defined(__x86_64__)
/* On x86_64 the public header's native layout must agree with ours. */
_Static_assert(sizeof(struct blkif_request) == 112, "native request");
_Static_assert(offsetof(struct blkif_request_indirect, indirect_grefs) == 28,
	       "native indirect");
_Static_assert(sizeof(struct blkif_response) == 16, "native response");
#endif

#endif /* UBACK_BLKIF_WIRE_H */
