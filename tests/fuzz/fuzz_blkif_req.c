/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness: the blkif request decoder of uback-blk, both ABIs,
 * direct and indirect requests, over a shared ring whose every byte
 * (producer indexes included) is the input's.
 *
 * Input: byte 0 picks the ABI and the device limits (read-only, flush,
 * barrier, discard, indirect segments), byte 1 the device size; then one
 * ring page (header and slots); the rest stands for the guest's pages,
 * which indirect grant refs select (ref modulo the pages given, zero
 * filled when absent). The loop is blk_ring_consume's: snapshot and
 * bound the producer, copy each slot once (blk_abi_copy_req), validate
 * (blk_req_check), for indirect requests copy the segment pages once and
 * decode them (blk_abi_indirect_segs), check the segments and range
 * (blk_segs_check), write the response (blk_abi_put_rsp) and publish.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "blkif_abi.h"

#define PAGE 4096u

static uint8_t ring_page[PAGE] __attribute__((aligned(PAGE)));
static struct blk_wire_seg iseg[BLK_MAX_INDIRECT_PAGES *
				BLK_SEGS_PER_INDIRECT_PAGE];
static struct blk_seg segs[BLK_MAX_INDIRECT_PAGES *
			   BLK_SEGS_PER_INDIRECT_PAGE];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The guest page an indirect ref names, copied once (load_indirect). */
static void copy_page(const uint8_t *pages, size_t npages, grant_ref_t ref,
		      void *dst, size_t len)
{
	if (!npages) {
		memset(dst, 0, len);
		return;
	}
	memcpy(dst, pages + (size_t)(ref % npages) * PAGE, len);
}

static void one_request(const struct blk_req *req,
			const struct blk_limits *lim, const uint8_t *pages,
			size_t npages)
{
	const struct blk_seg *s = req->seg;
	uint64_t sectors = 0;
	uint32_t p, n;

	if (blk_req_check(req, lim) || req->op == BLKIF_OP_DISCARD)
		return;
	if (req->indirect) {
		for (p = 0; p < blk_indirect_pages(req->nr_segments); p++) {
			n = req->nr_segments - p * BLK_SEGS_PER_INDIRECT_PAGE;
			if (n > BLK_SEGS_PER_INDIRECT_PAGE)
				n = BLK_SEGS_PER_INDIRECT_PAGE;
			copy_page(pages, npages, req->indirect_grefs[p],
				  &iseg[p * BLK_SEGS_PER_INDIRECT_PAGE],
				  n * sizeof(struct blk_wire_seg));
		}
		blk_abi_indirect_segs(iseg, req->nr_segments, segs);
		s = segs;
	}
	if (blk_segs_check(s, req->nr_segments, req->sector, lim, &sectors))
		return;
	/* What the data path relies on once a request passed. */
	if (sectors > (uint64_t)req->nr_segments * BLK_SECTORS_PER_PAGE ||
	    (sectors && req->sector + sectors > lim->sectors))
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t indirect[4] = { 0, 32, 256, 4096 };
	struct blk_limits lim;
	struct xb_back_ring ring;
	struct blk_req req;
	enum blk_abi abi;
	const uint8_t *pages;
	size_t npages;
	uint32_t n, i;
	RING_IDX prod;

	if (size < 2)
		return 0;
	abi = data[0] & 1 ? BLK_ABI_X86_32 : BLK_ABI_X86_64;
	lim = (struct blk_limits){
		.sectors = data[1] ? (uint64_t)1 << (data[1] % 64) : 0,
		.readonly = data[0] & 2,
		.flush = data[0] & 4,
		.barrier = data[0] & 4,
		.discard = data[0] & 8,
		.discard_secure = data[0] & 16,
		.max_indirect_segs = indirect[(data[0] >> 5) & 3],
	};
	data += 2;
	size -= 2;
	memset(ring_page, 0, sizeof(ring_page));
	memcpy(ring_page, data, size < PAGE ? size : PAGE);
	pages = size > PAGE ? data + PAGE : NULL;
	npages = size > PAGE ? (size - PAGE) / PAGE : 0;

	if (xb_back_ring_attach(&ring, ring_page, PAGE,
				blk_abi_slot_size(abi)))
		__builtin_trap();
	if (xb_ring_get_req_prod(&ring, &prod))
		return 0;   /* impossible producer: the ring halts */
	n = xb_ring_reqs_avail(&ring, prod);
	if (n > ring.nr_ents)
		__builtin_trap();
	for (i = 0; i < n; i++) {
		blk_abi_copy_req(abi, xb_ring_slot(&ring, ring.req_cons), &req);
		ring.req_cons++;
		one_request(&req, &lim, pages, npages);
		blk_abi_put_rsp(abi, xb_ring_slot(&ring, ring.rsp_prod_pvt),
				req.id, req.operation, BLKIF_RSP_ERROR);
		ring.rsp_prod_pvt++;
	}
	xb_ring_push_rsps(&ring);
	return 0;
}
