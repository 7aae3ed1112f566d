/* SPDX-License-Identifier: MIT */
/*
 * Test fixture for the blkif data path (test_blk_queue, test_blk_hostile):
 * a minimal frontend writing raw ring slots of either ABI on the fake
 * guest (blk_fakehv), a tmpfs image, one queue started on them, and a
 * "gate" I/O engine that holds reads and writes until the test opens it
 * (to keep requests in flight deterministically).
 */
#ifndef TESTS_BLK_TESTFE_H
#define TESTS_BLK_TESTFE_H

#include <stdbool.h>
#include <stdint.h>

#include "uback/ring.h"
#include "blk_fakehv.h"
#include "blkback.h"

#define IMG_SECTORS 8192u          /* 4 MiB */
#define GUEST_PAGES 2048u
#define RING_GFN 0u                /* 16 pages */
#define IND_GFN 16u                /* 16 pages */
#define DATA_GFN 64u
#define WAIT_MS 20000

/* ---- a minimal frontend on the fake guest ---- */

struct fe {
	struct fake_hv *f;
	enum blk_abi abi;
	uint32_t order, nr_ents;
	size_t slot_size;
	struct xb_ring_hdr *sring;
	uint8_t *slots;
	grant_ref_t ring_refs[BLK_MAX_RING_PAGES];
	evtchn_port_t port;
	RING_IDX req_prod_pvt, rsp_cons;
};

struct fx {
	struct fake_hv *f;
	char path[64];
	struct blk_disk disk;
	struct fe fe;
	struct blk_queue *q;
	grant_ref_t data_ref[512];     /* data page i: gfn DATA_GFN + i */
	grant_ref_t data_ro[512];      /* same pages, read-only grants */
	grant_ref_t ind_ref[16];
};

struct rsp {
	uint64_t id;
	uint8_t op;
	int16_t status;
};

struct opts {
	enum blk_abi abi;
	uint32_t order;
	bool persistent;
	bool readonly;
	uint32_t poll_us;
	bool poll_adaptive;
	bool coalesce;             /* coalesced wake-ups */
	bool inline_rw;            /* engine: synchronous reads/writes */
	uint32_t max_indirect;
	uint32_t persist_max;
	uint32_t copy_kib;         /* grant copy pool (non-persistent) */
	bool fixed;                /* register the pool (fixed buffers) */
	int cpu;                   /* > 0: pin the queue to CPU cpu - 1 */
	uint64_t idle_ns;          /* persistent grants idle purge (0: 60 s) */
	bool no_flush;
	const struct blk_engine_ops *engine;
};

void msleep(unsigned int ms);
void fe_init(struct fe *fe, struct fake_hv *f, enum blk_abi abi,
	     uint32_t order);
void *fe_slot(struct fe *fe, RING_IDX i);
/* Queue requests (not yet published). */
void fe_rw(struct fe *fe, uint8_t op, uint64_t id, uint64_t sector,
	   unsigned int nsegs, const grant_ref_t *refs, uint8_t first,
	   uint8_t last);
void fe_discard(struct fe *fe, uint64_t id, uint64_t sector, uint64_t nr,
		uint8_t flag);
void fe_indirect(struct fe *fe, uint8_t op, uint64_t id, uint64_t sector,
		 uint16_t nsegs, const grant_ref_t *ind_refs, unsigned int nind);
/* Publish; notify when asked (or always with @force). */
void fe_push(struct fe *fe, bool force);
struct rsp fe_get_rsp(struct fe *fe, RING_IDX i);
/* Wait (bounded, fails the test) for @n responses and consume them. */
void fe_wait(struct fe *fe, unsigned int n, struct rsp *out);
/* Push and wait for one response. */
struct rsp fe_one(struct fe *fe);
uint64_t stat_of(struct blk_queue *q, enum blk_stat k);
/* Wait (bounded, fails the test) until counter @k >= @want. */
void wait_stat(struct blk_queue *q, enum blk_stat k, uint64_t want);

void fx_create(struct fx **out);
void fx_start(struct fx *x, const struct opts *o);
/* Stop the queue; checks nothing stays mapped or bound. */
void fx_stop(struct fx *x);
void fx_destroy(struct fx *x);
uint8_t *data_page(struct fx *x, unsigned int i);
void fill(uint8_t *p, size_t n, uint32_t seed);
void write_indirect_page(struct fx *x, unsigned int ind, unsigned int n,
			 unsigned int first_data, bool ro);

/* The gate engine: io_uring underneath, reads/writes held until
 * gate_open() (one gated queue at a time). */
extern const struct blk_engine_ops gate_ops;
void gate_open(void);

#endif
