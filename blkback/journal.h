/* SPDX-License-Identifier: MIT */
/*
 * The per-queue request journal: what lets a new uback-blk process take
 * over a live ring after the old one died (SIGKILL, crash, OOM) or
 * detached for an upgrade, without a XenBus renegotiation.
 *
 * Why it is needed: responses go into the ring slots of requests already
 * consumed, and a process can die after writing a response into a slot
 * but before publishing rsp_prod. A successor that re-read the slots from
 * rsp_prod would then take a response for a request (a READ's segments
 * could even be decoded as a WRITE over the disk). So every request is
 * copied, when it is consumed, into the journal, a file in the device's
 * state directory (tmpfs, /run/uback) mapped shared: it survives the
 * process. The successor replays the journal's unanswered requests from
 * those copies, never from the ring.
 *
 * Protocol (each step a release store, in this order):
 *   consume ring index r:  entry.raw = slot r; entry.idx = r;
 *                          entry.state = INFLIGHT; hdr.req_cons = r + 1
 *   respond at position p: entry.{status, rsp_op, rsp_pos = p};
 *                          entry.state = RESPONDING; write slot p;
 *                          hdr.rsp_written = p + 1; entry.state = FREE
 *   (rsp_prod is pushed later, any time after hdr.rsp_written)
 * Recovery (blk_journal_recover) from any point of a crash:
 *   - a RESPONDING entry with rsp_pos == hdr.rsp_written: its slot may be
 *     half written: write the response again, rsp_written + 1. With
 *     rsp_pos == rsp_written - 1 the response is whole (and may be
 *     pushed and its slot reused by the frontend): leave the slot alone.
 *   - responses [old rsp_prod, rsp_written) are whole: push them.
 *   - INFLIGHT entries are the unanswered requests: replay them in ring
 *     order; consuming resumes after the highest index taken.
 *   - requests consumed and unanswered == INFLIGHT entries, or the
 *     journal is refused (-EUCLEAN) and the device renegotiates.
 *
 * Thread context: the queue thread owns a journal once it runs; open and
 * recover run before it starts. Nothing logs except open (one line on a
 * refused journal).
 */
#ifndef BLKBACK_JOURNAL_H
#define BLKBACK_JOURNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "uback/ring.h"
#include "blkif_abi.h"

#define BLK_JOURNAL_RAW 128u
/* Ring slots at most: 16 pages of 108-byte slots round down to 512. */
#define BLK_JOURNAL_MAX_ENTS 512u

enum blk_jstate { BLK_JE_FREE = 0, BLK_JE_INFLIGHT = 1, BLK_JE_RESPONDING = 2 };

/* What the journal belongs to: a successor only adopts the same rings. */
struct blk_journal_id {
	uint32_t domid;
	uint32_t abi;
	uint32_t ring_order;
	uint32_t nr_ents;
	uint32_t slot_size;
	uint32_t remote_port;
	uint32_t ring_refs[16];
};

struct blk_journal_hdr {
	uint64_t magic;
	uint32_t version;
	uint32_t pad;
	struct blk_journal_id id;
	uint32_t req_cons;       /* next ring index to consume */
	uint32_t rsp_written;    /* responses whole in slots up to here */
};

struct blk_jent {
	uint32_t state;          /* enum blk_jstate */
	uint32_t idx;            /* ring index of the request */
	uint32_t rsp_pos;        /* RESPONDING: where its response goes */
	int16_t status;
	uint8_t rsp_op;
	uint8_t pad;
	uint8_t raw[BLK_JOURNAL_RAW];   /* the request as consumed */
};

struct blk_journal {
	struct blk_journal_hdr *hdr;
	struct blk_jent *ent;    /* [nents] */
	uint32_t nents;
	size_t map_bytes;
	uint32_t *free_stack;    /* private */
	uint32_t free_top;
	/* Filled by recover: INFLIGHT entries to replay, in ring order. */
	uint32_t *replay;
	uint32_t nreplay;
};

/*
 * Open (creating it) the journal file at @path and make it as large as
 * any queue's journal can be, keeping its contents: done before the
 * process enters its sandbox, which allows no open and no ftruncate.
 * 0 and *fd, or -errno.
 */
int blk_journal_file_open(const char *path, int *fd);

/*
 * Map the journal of one queue from @fd (blk_journal_file_open; -1:
 * private memory, nothing survives the process). Without @adopt it is
 * initialised for @id with both indices at @start. With @adopt it must
 * carry the same @id (-ESTALE otherwise, or for a file too small;
 * -ENOENT without a file); entries are kept for blk_journal_recover.
 * -EINVAL for a ring larger than BLK_JOURNAL_MAX_ENTS, -ENOMEM.
 */
int blk_journal_open(int fd, const struct blk_journal_id *id, bool adopt,
		     RING_IDX start, struct blk_journal *j);
void blk_journal_close(struct blk_journal *j);

/*
 * Adopting: rebuild the ring's private indices from the journal, repair
 * a half-written response and publish every whole response (rsp_prod),
 * and list the unanswered requests in j->replay. -EUCLEAN when the
 * journal does not add up (nothing is written to the ring then). Returns
 * with *notify true if responses were published.
 */
int blk_journal_recover(struct blk_journal *j, enum blk_abi abi,
			struct xb_back_ring *ring, bool *notify);

/* Consume: record ring index @idx copied from @slot; returns the entry
 * (never fails while at most nents requests are unanswered: the ring
 * consumer guarantees it) or UINT32_MAX. */
static inline uint32_t blk_journal_take(struct blk_journal *j, RING_IDX idx,
					const void *slot, size_t size)
{
	struct blk_jent *e;
	uint32_t n;

	if (!j->free_top)
		return UINT32_MAX;
	n = j->free_stack[--j->free_top];
	e = &j->ent[n];
	/* Constant sizes for the two ABIs: copied inline, no call. */
	if (size == BLK_SLOT_SIZE_X86_64)
		__builtin_memcpy(e->raw, slot, BLK_SLOT_SIZE_X86_64);
	else if (size == BLK_SLOT_SIZE_X86_32)
		__builtin_memcpy(e->raw, slot, BLK_SLOT_SIZE_X86_32);
	else
		__builtin_memcpy(e->raw, slot, size);
	/* Decoded from e->raw only, never from @slot again. */
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	e->idx = idx;
	__atomic_store_n(&e->state, BLK_JE_INFLIGHT, __ATOMIC_RELEASE);
	__atomic_store_n(&j->hdr->req_cons, idx + 1, __ATOMIC_RELEASE);
	return n;
}

/* Before writing a response for entry @n at ring position @pos. */
static inline void blk_journal_respond_begin(struct blk_journal *j,
					     uint32_t n, RING_IDX pos,
					     int16_t status, uint8_t op)
{
	struct blk_jent *e = &j->ent[n];

	e->status = status;
	e->rsp_op = op;
	e->rsp_pos = pos;
	__atomic_store_n(&e->state, BLK_JE_RESPONDING, __ATOMIC_RELEASE);
}

/* After the response slot was written; @written is rsp_prod_pvt now. */
static inline void blk_journal_respond_end(struct blk_journal *j, uint32_t n,
					   RING_IDX written)
{
	__atomic_store_n(&j->hdr->rsp_written, written, __ATOMIC_RELEASE);
	__atomic_store_n(&j->ent[n].state, BLK_JE_FREE, __ATOMIC_RELEASE);
	j->free_stack[j->free_top++] = n;
}

#endif /* BLKBACK_JOURNAL_H */
