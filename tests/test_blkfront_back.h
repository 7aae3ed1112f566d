/* SPDX-License-Identifier: MIT */
/*
 * A small reference blkif backend for blkfront's own tests: one thread,
 * the "sim" provider, a RAM disk, grant copies, both ABIs, multi-page and
 * multi-queue rings, indirect requests, flush/barrier/discard. Feature
 * offers are switchable so each negotiation path of blkfront can be
 * walked without uback-blk. It follows docs/xenbus.md's level-triggered
 * rules in miniature. Not a product: tests only.
 *
 * tb_crash() stops it as a SIGKILL would look from xenstore: nothing
 * written, state left as it was; a new tb_start() on the same path then
 * plays a restarted backend.
 */
#ifndef TEST_BLKFRONT_BACK_H
#define TEST_BLKFRONT_BACK_H

#include <stdbool.h>
#include <stdint.h>

#include <xen/xen.h>

struct tb;

struct tb_config {
	domid_t domid;                 /* frontend domain */
	unsigned int devid;
	uint8_t *disk;                 /* caller's RAM disk */
	uint64_t sectors;              /* its size in 512-byte sectors */
	unsigned int max_ring_order;   /* offered; 0: key not written */
	unsigned int max_queues;       /* offered; 0/1: key not written */
	unsigned int max_indirect;     /* offered; 0: key not written */
	bool persistent, flush, barrier, discard;
};

struct tb_stats {
	uint64_t ops[8];               /* by BLKIF_OP_* */
	uint64_t indirect;             /* BLKIF_OP_INDIRECT requests */
	uint64_t errors;               /* answered BLKIF_RSP_ERROR */
	uint64_t connects;
	unsigned int ring_order;       /* as connected */
	unsigned int nr_queues;
	int abi;                       /* 64 or 32 */
	bool fe_persistent;
};

int tb_start(const struct tb_config *cfg, struct tb **out);
/* Graceful: Closing/Closed as the frontend asks are handled until then. */
void tb_stop(struct tb *tb);
/* Die without touching xenstore. */
void tb_crash(struct tb *tb);
void tb_get_stats(struct tb *tb, struct tb_stats *st);
/* Hold back responses (requests are read and executed, not answered)
 * while @hold: lets a test crash the backend with requests in flight. */
void tb_hold_responses(struct tb *tb, bool hold);

#endif
